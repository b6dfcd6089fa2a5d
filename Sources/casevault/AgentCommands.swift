import ArgumentParser
import CaseVault
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct UnlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Unlock your keys once, for the commands that follow (like ssh-agent).",
        discussion: """
            Asks for your passphrase once (or takes --passphrase-file / --passphrase-command) and starts \
            an agent that holds your keys in locked memory that is never written to disk. Until it \
            ends, casevault commands you run in this vault ask it to sign and to open what is sealed to \
            you, instead of asking for your passphrase; your own secret keys never leave it (what it opens \
            for a command, such as a case's tier key, does). Only your own user can \
            reach it (a Unix socket in a folder private to you, each connection's user checked). It ends \
            after --idle without a request (default 15m; 0 keeps it until the session ends), when your \
            login session ends, or with 'casevault lock'. A passphrase given on a command line \
            (--passphrase-file, --passphrase-command) is used instead of the agent.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("End after this long without a request: 90s, 15m, 2h, or 0 for never (default: 15m).", valueName: "duration"))
    var idle: String = "15m"

    func validate() throws {
        guard IdleDuration.seconds(idle) != nil else { throw ValidationError("--idle takes a duration such as 90s, 15m or 2h, or 0") }
    }

    func run() throws {
        let seconds = IdleDuration.seconds(idle)!
        let vault = try vaultOptions.openVault()
        let id = try vaultOptions.actingStaffID()
        let socket = Agent.socketPath(vaultID: vault.config.vaultId, staffID: id)
        if try vault.unlock(staffID: id, agent: socket) != nil {
            print("'\(id)' is already unlocked in this vault; 'casevault lock' ends it.")
            return
        }
        try vaultOptions.withUnlocked(vault, agent: false) { vault, identity in
            // The agent lives as long as the login session: its leader is
            // the session's first process (the login shell), unless this
            // process leads a session of its own (run from a service, or
            // under setsid), when only --idle and 'lock' end it.
            let session = getsid(0)
            let leader: Int32? = session == getpid() ? nil : session
            if leader == nil { Output.warning("not run from a login session: the agent ends only when idle or locked") }
            var arguments = ["agent", "--socket", socket, "--idle", String(Int(seconds))]
            if let leader { arguments += ["--session", String(leader)] }
            try Agent.start(identity, vaultID: vault.config.vaultId, executable: Self.executable, arguments: arguments)
            let until = seconds > 0 ? "it has had no request for \(IdleDuration.text(seconds))" : "your login session ends"
            print("Unlocked '\(identity.id)' (\(identity.member.name)) in this vault: the agent holds the keys until \(until), or 'casevault lock'.")
        }
    }

    /// This program's own file, to start the agent from.
    static var executable: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }
}

struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "End your agent: the keys 'casevault unlock' holds are wiped.",
        discussion: "With --all, every casevault agent of yours ends, whatever the vault or member."
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "End every agent of yours, in every vault.")
    var all = false

    func run() throws {
        if all {
            let folder = Agent.folder()
            let sockets = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".sock") }
            var ended = 0
            for name in sockets where (try? Vault.lockAgent(at: folder + "/" + name)) == true { ended += 1 }
            print(ended == 0 ? "No agent was running." : "Locked \(ended) agent\(ended == 1 ? "" : "s").")
            return
        }
        let vault = try vaultOptions.openVault()
        let id = try vaultOptions.actingStaffID()
        if try Vault.lockAgent(at: Agent.socketPath(vaultID: vault.config.vaultId, staffID: id)) {
            print("Locked: the agent holding '\(id)'s keys has ended.")
        } else {
            print("No agent was holding '\(id)'s keys for this vault.")
        }
    }
}

/// The agent itself, started by `unlock` (not for people to run).
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "The agent 'casevault unlock' starts.",
                                                    shouldDisplay: false)

    @Option var socket: String
    @Option var idle: Int
    @Option var session: Int32?

    func run() throws {
        // Its own process group, out of the shell's job control; the working
        // folder is let go, so it keeps no file system busy.
        setpgid(0, 0)
        chdir("/")
        let ending = Agent.serve(handoff: 0, status: 1, socketPath: socket,
                                 options: AgentServer.Options(idle: TimeInterval(idle), session: session))
        if ending == nil { throw ExitCode(1) }
    }
}

/// Durations as `--idle` takes them.
enum IdleDuration {
    static func seconds(_ text: String) -> Double? {
        if text == "0" { return 0 }
        guard let unit = text.last, let value = Double(text.dropLast()), value > 0, value <= 1e7 else { return nil }
        switch unit {
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3600
        default: return nil
        }
    }

    static func text(_ seconds: Double) -> String {
        seconds.truncatingRemainder(dividingBy: 3600) == 0 ? "\(Int(seconds / 3600)) h"
            : seconds.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(seconds / 60)) min" : "\(Int(seconds)) s"
    }
}
