import ArgumentParser

struct StaffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "staff",
        abstract: "Add and list staff members, change your passphrase, record a departure.",
        subcommands: [StaffAddCommand.self, StaffListCommand.self, StaffPasswdCommand.self, StaffLeaveCommand.self]
    )
}
