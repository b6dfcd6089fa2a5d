import ArgumentParser
import CaseVault
import Foundation

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show the field changes between two versions of a form.",
        discussion: """
            Compares versions V1 and V2 of a form (default: the last two) and lists each field that was \
            added, removed or changed, by JSON Pointer. Reading each version is a read event.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The case number.", valueName: "number"), completion: Completions.caseNumbers)
    var number: String

    @Argument(help: ArgumentHelp("The form's name.", valueName: "name"), completion: Completions.documentNames)
    var name: String

    @Argument(help: ArgumentHelp("The older version: 1 or v1.", valueName: "version1"))
    var fromNumber: VersionNumber?

    @Argument(help: ArgumentHelp("The newer version: 2 or v2.", valueName: "version2"))
    var toNumber: VersionNumber?

    var from: Int? { fromNumber?.number }
    var to: Int? { toNumber?.number }

    @Flag(help: "Print JSON (Schemas/cli/diff.schema.json) instead of text.")
    var json = false

    func validate() throws {
        if (from == nil) != (to == nil) { throw ValidationError("give both versions, or neither for the last two") }
    }

    func run() throws {
        try vaultOptions.withUnlocked { vault, actor in
            let (old, new, changes) = try vault.diffForm(caseNumber: number, document: name, from: from, to: to, by: actor)
            if json {
                func side(_ v: VersionInfo) -> [String: Any] {
                    ["version": v.version, "date": v.stamp.date, "filedBy": v.stamp.filedBy, "filedByName": v.stamp.filedByName]
                }
                func value(_ v: JSONValue?) throws -> Any? {
                    try v.map { try JSONSerialization.jsonObject(with: Data($0.canonicalBytes), options: .fragmentsAllowed) }
                }
                print(try JSONText.render([
                    "case": old.stamp.caseNumber, "document": old.document, "from": side(old), "to": side(new),
                    "changes": try changes.map { change -> [String: Any] in
                        var object: [String: Any] = ["kind": change.kind.rawValue, "pointer": change.pointer]
                        if let old = try value(change.old) { object["old"] = old }
                        if let new = try value(change.new) { object["new"] = new }
                        return object
                    },
                ] as [String: Any]))
                return
            }
            // Stamps of an imported case came from another vault: shown escaped, as the values are.
            print(TerminalText.escape("--- \(old.document) version \(old.version) (\(old.stamp.date), \(old.stamp.filedByName))"))
            print(TerminalText.escape("+++ \(new.document) version \(new.version) (\(new.stamp.date), \(new.stamp.filedByName))"))
            if changes.isEmpty { print("No field changed.") }
            for change in changes {
                switch change.kind {
                case .added: print(TerminalText.escape("added   \(change.pointer): \(show(change.new!))"))
                case .removed: print(TerminalText.escape("removed \(change.pointer): \(show(change.old!))"))
                case .changed: print(TerminalText.escape("changed \(change.pointer): \(show(change.old!)) → \(show(change.new!))"))
                }
            }
        }
    }

    private func show(_ value: JSONValue) -> String {
        String(decoding: value.canonicalBytes, as: UTF8.self)
    }
}
