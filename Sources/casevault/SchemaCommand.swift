import ArgumentParser
import CaseVault
import Foundation

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "List, show and add the form schemas forms are validated against.",
        subcommands: [SchemaListCommand.self, SchemaShowCommand.self, SchemaAddCommand.self]
    )
}

struct SchemaListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List form schemas: built-in and added to the vault.")

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Print JSON (Schemas/cli/schema-list.schema.json) instead of a table.")
    var json = false

    func run() throws {
        let schemas = try vaultOptions.openVault().formSchemas()
        if json {
            print(try JSONText.render(schemas.map {
                ["type": $0.type, "version": $0.version as Any, "source": $0.version == nil ? "built-in" : "vault", "title": $0.title,
                 "id": $0.id] as [String: Any]
            }))
            return
        }
        print(Table.render(header: ["TYPE", "SOURCE", "TITLE (REPORT NAME)", "$ID"],
                           rows: schemas.map { [$0.type, $0.source, $0.title, $0.id] }))
    }
}

struct SchemaShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a form schema (the newest, or the version given).")

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The form type, e.g. intake.", valueName: "type"))
    var type: String

    @Argument(help: ArgumentHelp("The schema's version in this vault: 2 or v2 (default: the newest).", valueName: "version"))
    var versionNumber: VersionNumber?

    var version: Int? { versionNumber?.number }

    func run() throws {
        let schema = try vaultOptions.openVault().formSchema(type: type, version: version)
        print(schema.text, terminator: schema.text.hasSuffix("\n") ? "" : "\n")
    }
}

struct SchemaAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a programme's own form schema to the vault (admins and project directors).",
        discussion: """
            FILE is a JSON Schema (draft 2020-12) for a form: an object with $id and a title (the report \
            name printed in stamps), using only the keywords listed in the README. It becomes the next \
            version of its form type (by default the last segment of its $id, e.g. .../intake.schema.json \
            is 'intake'); filing uses the newest version unless told otherwise. Adding is a signed event.
            """
    )

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The schema file.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("The form type (default: from the schema's $id).", valueName: "type"))
    var type: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CommandFailure(message: "cannot read \(file)", hint: nil, code: .notFound)
        }
        try vaultOptions.withUnlocked { vault, actor in
            let schema = try vault.addSchema(Array(data), type: type, by: actor)
            print("Added schema '\(schema.type)' version \(schema.version ?? 0): \(schema.title) (\(schema.id)).")
        }
    }
}
