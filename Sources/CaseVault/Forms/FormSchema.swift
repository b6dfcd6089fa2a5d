internal import Foundation

/// A form schema: built into casevault (Schemas/forms/) or added to a vault
/// by the programme (`casevault schema add`), versioned per form type.
public struct FormSchema: Sendable {
    /// The form type, e.g. "intake", "care-plan".
    public let type: String
    /// The schema's `title`: the report name printed in stamps.
    public let title: String
    /// The schema's `$id`.
    public let id: String
    /// 1, 2, … for schemas added to the vault; nil for the built-in one.
    public let version: Int?
    public let json: JSONValue
    /// The same schema with its members in written order, for rendering.
    public let ordered: OrderedJSON
    /// The schema as written.
    public let text: String
    /// Built once, when the schema is loaded (it compiles every pattern).
    public let validator: SchemaValidator

    public var source: String { version.map { "vault v\($0)" } ?? "built-in" }

    /// Parses and checks a schema document: JSON, an object with `$id`,
    /// `title` and `"type": "object"`, only keywords the validator supports.
    /// `stored`: a schema the vault already holds (added under the rules of
    /// its day): its keywords' kinds are not checked again.
    public init(type: String, version: Int?, bytes: [UInt8], stored: Bool = false) throws {
        guard let ordered = try? OrderedJSON(parsing: bytes) else {
            throw VaultError.invalidInput("the schema is not valid JSON")
        }
        let json = ordered.value
        guard let id = json["$id"]?.stringValue, !id.isEmpty else {
            throw VaultError.invalidInput("the schema has no $id")
        }
        guard let title = json["title"]?.stringValue, !title.isEmpty else {
            throw VaultError.invalidInput("the schema has no title (the report name printed in stamps)")
        }
        guard json["type"]?.stringValue == "object" else {
            throw VaultError.invalidInput("a form schema must describe an object (\"type\": \"object\")")
        }
        if let dialect = json["$schema"]?.stringValue, dialect != "https://json-schema.org/draft/2020-12/schema" {
            throw VaultError.invalidInput("the schema is for \(dialect); casevault validates draft 2020-12")
        }
        let validator = try SchemaValidator(schema: json, checkingKeywords: !stored)
        try Vault.validate(documentType: type)
        try Vault.validate(documentName: title)
        self.type = type
        self.title = title
        self.id = id
        self.version = version
        self.json = json
        self.ordered = ordered
        self.text = String(decoding: bytes, as: UTF8.self)
        self.validator = validator
    }

    /// The form type a schema's `$id` names: its last path segment without
    /// ".schema.json" or ".json".
    public static func type(fromID id: String) -> String? {
        guard let last = id.split(separator: "/").last else { return nil }
        var name = String(last)
        for suffix in [".schema.json", ".json"] where name.hasSuffix(suffix) {
            name.removeLast(suffix.count)
        }
        return (try? Vault.validate(documentType: name)) == nil ? nil : name
    }

    /// The schemas that ship with casevault, one per form type.
    public static let builtIn: [FormSchema] = BuiltInSchemas.all.map { type, text in
        try! FormSchema(type: type, version: nil, bytes: Array(text.utf8), stored: true)
    }.sorted { $0.type < $1.type }

    /// One built-in schema, compiled alone: filing a form need not compile
    /// every pattern of every other form (most of a small filing's time).
    /// Compiled once per process and kept: a bulk filing of 2,000 forms
    /// spent 13 % of its time compiling the same schema again per form.
    public static func builtIn(type: String) -> FormSchema? {
        BuiltInCache.shared.schema(type)
    }

    /// The built-in schema with this `$id`, compiled alone.
    static func builtIn(id: String) -> FormSchema? {
        BuiltInSchemas.all.lazy.compactMap { type, text in
            text.contains("\"\(id)\"") ? try? FormSchema(type: type, version: nil, bytes: Array(text.utf8), stored: true) : nil
        }.first { $0.id == id }
    }
}

/// The built-in schemas compiled so far in this process (they never change).
private final class BuiltInCache: @unchecked Sendable {
    static let shared = BuiltInCache()
    private let lock = NSLock()
    private var compiled: [String: FormSchema] = [:]

    func schema(_ type: String) -> FormSchema? {
        lock.lock()
        defer { lock.unlock() }
        if let schema = compiled[type] { return schema }
        guard let text = BuiltInSchemas.all.first(where: { $0.0 == type })?.1 else { return nil }
        let schema = try! FormSchema(type: type, version: nil, bytes: Array(text.utf8), stored: true)
        compiled[type] = schema
        return schema
    }
}

extension FormSchema {
    /// Throws `invalidForm`, naming this schema's report and every
    /// violation, unless `form` is valid against it.
    func requireValid(_ form: JSONValue) throws {
        let violations = validator.validate(form)
        guard violations.isEmpty else { throw VaultError.invalidForm(report: title, violations: violations) }
    }
}
