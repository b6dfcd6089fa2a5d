import ArgumentParser
import CaseVault
import Foundation

struct StaffListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List staff members and their roles (no passphrase needed)."
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let members = try vaultOptions.openVault().staff()
        if json {
            struct Row: Encodable {
                var id, name, role, createdAt: String
                var createdBy: String?
                var boxPublicKey, signingPublicKey: String
                var leftAt, leftBy, leftReason: String?
            }
            let rows = members.map {
                Row(id: $0.id, name: $0.name, role: $0.role.rawValue, createdAt: $0.createdAt.formatted(.iso8601),
                    createdBy: $0.createdBy, boxPublicKey: $0.boxPublicKeyHex, signingPublicKey: $0.signingPublicKeyHex,
                    leftAt: $0.left?.at.formatted(.iso8601), leftBy: $0.left?.by, leftReason: $0.left?.reason)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        guard !members.isEmpty else {
            print("No staff yet. Add the first admin with 'casevault staff add --role admin'.")
            return
        }
        print(Table.render(header: ["ID", "NAME", "ROLE", "ADDED", "LEFT"],
                           rows: members.map { [$0.id, $0.name, $0.role.rawValue, $0.createdAt.formatted(.iso8601),
                                                $0.left.map { $0.at.formatted(.iso8601) } ?? ""] }))
    }
}
