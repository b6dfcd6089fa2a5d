public import Foundation
internal import CaseVaultCrypto

/// One field-level change between two versions of a form.
public struct FormChange: Sendable, Equatable {
    public enum Kind: String, Sendable { case added, removed, changed }
    public let kind: Kind
    /// RFC 6901 pointer into the form.
    public let pointer: String
    public let old: JSONValue?
    public let new: JSONValue?
}

extension Vault {
    /// The largest form casevault parses (forms are small; documents stream).
    public static let maximumFormSize = 16 << 20

    /// Every schema: the built-in ones, then every version added to the vault.
    public func formSchemas() throws -> [FormSchema] {
        try read { reader, head in try formSchemas(signed: head.size > 0 ? head.signedState(reader) : nil) }
    }

    /// The same, read in the caller's snapshot (nil: the log is empty).
    func formSchemas(signed: SignedState?) throws -> [FormSchema] {
        guard let signed else { return FormSchema.builtIn }
        return try FormSchema.builtIn + signed.formTypes().flatMap { type in try signed.schemas(type).map { try loadSchema($0, signed: signed) } }
    }

    func loadSchema(_ record: SchemaRecord, signed: SignedState) throws -> FormSchema {
        let body = try signed.blob(record.bodyHash, what: "the body of schema \(record.formType) v\(record.version)")
        return try FormSchema(type: record.formType, version: record.version, bytes: body, stored: true)
    }

    /// The schema for a form type: a given vault version, or by default the
    /// newest version added to the vault, else the built-in one.
    public func formSchema(type: String, version: Int? = nil) throws -> FormSchema {
        try read { reader, head in try formSchema(type: type, version: version, signed: head.size > 0 ? head.signedState(reader) : nil) }
    }

    /// The same, read in the caller's snapshot (nil: the log is empty).
    func formSchema(type: String, version: Int?, signed: SignedState?) throws -> FormSchema {
        let added = try signed.flatMap { signed -> FormSchema? in
            let versions = try signed.schemas(type)
            let record = version.map { wanted in versions.first { $0.version == wanted } } ?? versions.last
            return try record.map { try loadSchema($0, signed: signed) }
        }
        if let added { return added }
        if let version { throw VaultError.notFound("form type '\(type)' has no version \(version) in this vault") }
        guard let builtIn = FormSchema.builtIn(type: type) else {
            let known = Set(try formSchemas(signed: signed).map(\.type)).sorted().joined(separator: ", ")
            throw VaultError.notFound("no form type '\(type)'; known types: \(known)")
        }
        return builtIn
    }

    /// Stores a programme's own form schema as the next version of its form
    /// type (the type defaults to the last segment of the schema's `$id`).
    @discardableResult
    public func addSchema(_ bytes: [UInt8], type: String? = nil, by actor: StaffIdentity, now: Date = Date()) throws -> FormSchema {
        guard Policy.schemaManagingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("only an admin or a project director adds form schemas; '\(actor.id)' is \(actor.role.withArticle)")
        }
        let probe = try FormSchema(type: type ?? "form", version: nil, bytes: bytes)
        guard let formType = type ?? FormSchema.type(fromID: probe.id) else {
            throw VaultError.invalidInput("cannot tell the form type from $id \(probe.id); give --type")
        }
        // A form type is the type of the documents its forms are filed as.
        try Self.validate(documentType: formType)
        return try write { writer, head in
            let version = (try head.signedState(writer).schemas(formType).last?.version ?? 0) + 1
            let schema = try FormSchema(type: formType, version: version, bytes: bytes)
            let bodyHash = try Ledger.putBlob(bytes, in: writer)
            try Ledger.append([.schemaAdded(SchemaAdded(type: formType, version: version, id: schema.id, title: schema.title,
                                                        bodyHash: bodyHash))],
                              by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            return schema
        }
    }

    /// Validates a form against its schema and files it only when valid.
    /// The report name defaults to the schema's title and the document type
    /// is the form type. The form is read whole (at most 16 MiB) into wiped
    /// memory; while it is parsed and validated its values live in ordinary
    /// heap memory for the length of the call (SECURITY.md §7).
    @discardableResult
    public func fileForm(caseNumber: String, type: String, name: String? = nil, schemaVersion: Int? = nil,
                         confidential: Bool = false, from input: FilingInput, by actor: StaffIdentity,
                         now: Date? = nil, timeZone: TimeZone = .current) throws -> VersionInfo {
        guard Policy.filingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("\(actor.role.withArticle) cannot file documents")
        }
        let number = try CaseNumber.parse(caseNumber).description
        let schema = try formSchema(type: type, version: schemaVersion)
        let reportName = try nameForFiling(name ?? schema.title, into: number)
        let (form, size) = try Self.readForm(from: try Self.open(input))
        let parsed = try Self.parseForm(form, count: size)
        return try fileForm(parsed, bytes: form, count: size, originalPath: input.path, caseNumber: number, name: reportName, schema: schema,
                            confidential: confidential, by: actor, now: now, timeZone: timeZone)
    }

    /// Files a form already in memory (a handover form casevault completed
    /// from its draft), as its canonical JSON, in wiped memory.
    func fileForm(_ form: JSONValue, caseNumber number: String, name reportName: String, schema: FormSchema, by actor: StaffIdentity,
                  now: Date?) throws -> VersionInfo {
        var bytes = form.canonicalBytes
        defer { for index in bytes.indices { bytes[index] = 0 } }
        let buffer = SecureBytes(count: bytes.count)
        buffer.withUnsafeMutableBytes { out in bytes.withUnsafeBytes { out.copyMemory(from: $0) } }
        return try fileForm(form, bytes: buffer, count: bytes.count, caseNumber: number, name: reportName, schema: schema,
                            confidential: false, by: actor, now: now, timeZone: .current)
    }

    func fileForm(_ parsed: JSONValue, bytes form: SecureBytes, count size: Int, originalPath: String? = nil, caseNumber number: String, name reportName: String,
                          schema: FormSchema, confidential: Bool, by actor: StaffIdentity, now: Date?,
                          timeZone: TimeZone, beforeCommit: ((_ version: Int, _ object: String) throws -> Void)? = nil) throws -> VersionInfo {
        try schema.requireValid(parsed)
        let source = FilingSource.memory(form, count: size, originalPath: originalPath)
        return try fileStream(caseNumber: number, name: reportName, type: schema.type, confidential: confidential, schema: schema,
                              by: actor, now: now, timeZone: timeZone, source: source, beforeCommit: beforeCommit)
    }

    /// A form's bytes, into wiped memory sized to the file when the input is
    /// one (one byte more, to notice growth), at most `maximumFormSize`.
    /// `limit`: the most bytes read (a grouped form's, which must not have
    /// grown past what grouped it).
    static func readForm(from file: FileDescriptor, limit: Int = maximumFormSize) throws -> (bytes: SecureBytes, count: Int) {
        let limit = min(limit, Self.maximumFormSize)
        let form = SecureBytes(count: min(limit, file.regularFileSize.map(Int.init) ?? limit) + 1)
        let size = try form.withUnsafeMutableBytes { try SecretStream.fillRaw($0, using: file.read(into:)) }
        // A full buffer means more input than expected: too large, or a file
        // that grew while it was read.
        guard size < form.count else {
            guard form.count > limit else { throw VaultError.invalidInput("the form changed while it was being read; file it again") }
            guard limit == Self.maximumFormSize else { throw VaultError.invalidInput("the form grew since it was checked") }
            throw VaultError.invalidInput("the form is larger than \(Self.maximumFormSize >> 20) MiB; file it as a document instead")
        }
        return (form, size)
    }

    /// A form's value. `filing`: a number the value cannot hold exactly as
    /// written is refused, so the form checked and rendered says what its
    /// bytes say (a form filed before this rule still reads).
    static func parseForm(_ bytes: SecureBytes, count: Int, filing: Bool = true) throws -> JSONValue {
        // A UTF-8 byte-order mark (Windows Notepad writes one) is passed over, here when filed and
        // when read back (the bytes are kept as given); UTF-16 is named, not "not valid JSON".
        let (start, utf16) = bytes.withUnsafeBytes { raw -> (Int, Bool) in
            if count >= 3, raw[0] == 0xef, raw[1] == 0xbb, raw[2] == 0xbf { return (3, false) }
            return (0, count >= 2 && ((raw[0] == 0xff && raw[1] == 0xfe) || (raw[0] == 0xfe && raw[1] == 0xff)))
        }
        if utf16 { throw VaultError.invalidInput("the form is UTF-16 text: save it as UTF-8, which JSON is") }
        do {
            return try bytes.withUnsafeBytes { try JSONValue(parsing: UnsafeRawBufferPointer(rebasing: $0[start..<count]), exactNumbers: filing) }
        } catch is JSONParser.Imprecise {
            throw VaultError.invalidInput("the form holds a number with more digits than casevault keeps exactly, or too near zero to tell from zero (as 25.000000000000001 or 1e-400): write it as the value it stands for")
        } catch {
            throw VaultError.invalidInput("the form is not valid JSON")
        }
    }

    /// Reads a form version into memory (a read event like any other).
    func readForm(caseNumber: String, document: String, version: Int?, by actor: StaffIdentity, now: Date)
        throws -> (VersionInfo, JSONValue) {
        try readForm(try prepareRead(caseNumber: caseNumber, document: document, version: version, by: actor, now: now),
                     by: actor, now: now)
    }

    func readForm(_ prepared: PreparedRead, by actor: StaffIdentity, now: Date) throws -> (VersionInfo, JSONValue) {
        let document = prepared.info.document
        guard prepared.info.isForm else {
            throw VaultError.invalidInput("'\(document)' was filed as a document, not a form (no schema); read it with 'casevault get'")
        }
        guard prepared.info.size <= Int64(Self.maximumFormSize) else {
            throw VaultError.invalidInput("'\(document)' is too large to show as a form")
        }
        let buffer = SecureBytes(count: Int(prepared.info.size))
        var offset = 0
        try stream(prepared, by: actor, now: now) { chunk in
            guard offset + chunk.count <= buffer.count else { throw VaultError.integrityFailure("'\(document)' is longer than recorded") }
            buffer.withUnsafeMutableBytes { ($0.baseAddress! + offset).copyMemory(from: chunk.baseAddress!, byteCount: chunk.count) }
            offset += chunk.count
        }
        return (prepared.info, try Self.parseForm(buffer, count: offset, filing: false))
    }

    /// The schema a form version was validated against.
    func schema(of info: VersionInfo) throws -> FormSchema {
        if let version = info.schemaVersion { return try formSchema(type: info.type, version: version) }
        if let id = info.schemaID, let builtIn = FormSchema.builtIn(id: id) { return builtIn }
        throw VaultError.notFound("the schema \(info.schemaID ?? "?") of this form is not known to this casevault")
    }

    /// The form as text for printing: the stamped header the manual asks
    /// for, then every field labelled with its schema title, nested
    /// sections indented.
    public func renderForm(caseNumber: String, document: String, version: Int? = nil, by actor: StaffIdentity,
                           now: Date = Date()) throws -> String {
        let (info, form) = try readForm(caseNumber: caseNumber, document: document, version: version, by: actor, now: now)
        return try renderedForm(form, info: info)
    }

    /// A form's text under its stamped header, from a form in memory.
    func renderedForm(_ form: JSONValue, info: VersionInfo) throws -> String {
        let schema = try schema(of: info)
        let stamp = info.stamp
        var lines = [
            stamp.report,
            "Case \(stamp.caseNumber) [\(stamp.caseStatus.rawValue)] · version \(stamp.version)",
            "Date:            \(stamp.date)",
            "Case Manager:    \(stamp.caseManager)",
            "Case Supervisor: \(stamp.caseSupervisor)",
            "Filed by:        \(stamp.filedByName) (\(stamp.filedBy)) · form: \(schema.title) (\(schema.source))",
            String(repeating: "─", count: 60),
        ]
        FormRenderer(root: schema.ordered).render(form, schema: schema.ordered, indent: 0, into: &lines)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Field changes between two versions of a form (default: the last two
    /// not withdrawn). Reading each version is a read event.
    public func diffForm(caseNumber: String, document: String, from old: Int? = nil, to new: Int? = nil,
                         by actor: StaffIdentity, now: Date = Date()) throws -> (old: VersionInfo, new: VersionInfo, changes: [FormChange]) {
        let versions = try versions(caseNumber: caseNumber, document: document).filter { $0.withdrawal == nil }.map(\.version)
        guard let newVersion = new ?? versions.last else {
            throw VaultError.notFound("every version of '\(document)' is withdrawn; give the two versions to compare")
        }
        guard let oldVersion = old ?? versions.last(where: { $0 < newVersion }) else {
            throw VaultError.invalidInput("'\(document)' has only one version; there is nothing to compare")
        }
        // Both must be forms the reader may read before either is read.
        let first = try prepareRead(caseNumber: caseNumber, document: document, version: oldVersion, by: actor, now: now)
        let second = try prepareRead(caseNumber: caseNumber, document: document, version: newVersion, by: actor, now: now)
        guard first.info.isForm, second.info.isForm else {
            throw VaultError.invalidInput("'\(document)' was filed as a document, not a form (no schema); there are no fields to compare")
        }
        let (oldInfo, oldForm) = try readForm(first, by: actor, now: now)
        let (newInfo, newForm) = try readForm(second, by: actor, now: now)
        var changes: [FormChange] = []
        Self.compare(oldForm, newForm, at: "", into: &changes)
        return (oldInfo, newInfo, changes)
    }

    static func compare(_ old: JSONValue, _ new: JSONValue, at pointer: String, into changes: inout [FormChange]) {
        func child(_ key: String) -> String {
            pointer + "/" + key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
        }
        switch (old, new) {
        case (.object(let a), .object(let b)):
            for key in Set(a.keys).union(b.keys).sorted() {
                switch (a[key], b[key]) {
                case (let x?, let y?): compare(x, y, at: child(key), into: &changes)
                case (let x?, nil): changes.append(FormChange(kind: .removed, pointer: child(key), old: x, new: nil))
                case (nil, let y?): changes.append(FormChange(kind: .added, pointer: child(key), old: nil, new: y))
                default: break
                }
            }
        case (.array(let a), .array(let b)):
            for index in 0..<max(a.count, b.count) {
                if index < a.count && index < b.count {
                    compare(a[index], b[index], at: child(String(index)), into: &changes)
                } else if index < a.count {
                    changes.append(FormChange(kind: .removed, pointer: child(String(index)), old: a[index], new: nil))
                } else {
                    changes.append(FormChange(kind: .added, pointer: child(String(index)), old: nil, new: b[index]))
                }
            }
        default:
            // JSON equality: strings by code point (an NFC→NFD edit is a
            // change), numbers by value (1 and 1.0 are the same).
            if old.normalized.canonicalBytes != new.normalized.canonicalBytes {
                changes.append(FormChange(kind: .changed, pointer: pointer, old: old, new: new))
            }
        }
    }
}

/// Lays a form out as indented, labelled lines, in the order of its schema.
struct FormRenderer {
    let root: OrderedJSON

    /// A subschema with local $refs followed, for its title and properties.
    func resolve(_ schema: OrderedJSON?) -> OrderedJSON? {
        var current = schema
        var hops = 0
        while let node = current, case .scalar(.string(let ref))? = node["$ref"], ref.hasPrefix("#/"), hops < 16 {
            var target: OrderedJSON? = root
            for token in ref.dropFirst(2).split(separator: "/") {
                target = target?[token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
            }
            // Keep a title given beside the $ref; take the rest from the target.
            if case .scalar(.string)? = node["title"], case .object(var members)? = target {
                members.removeAll { $0.0 == "title" }
                members.insert(("title", node["title"]!), at: 0)
                target = .object(members)
            }
            current = target
            hops += 1
        }
        return current
    }

    func title(_ schema: OrderedJSON?, fallback: String) -> String {
        if case .scalar(.string(let title))? = resolve(schema)?["title"] { return title }
        // camelCase → "Camel case"
        var words = ""
        for character in fallback {
            if character.isUppercase { words += " " + character.lowercased() } else { words.append(character) }
        }
        return words.prefix(1).uppercased() + words.dropFirst()
    }

    func scalarText(_ value: JSONValue, indent: String) -> String {
        switch value {
        // Escaped for the terminal; continuation lines keep the indentation.
        case .string(let text): Self.shortenedBlanks(TerminalText.escape(text, keepingNewlines: true))
            .replacingOccurrences(of: "\n", with: "\n" + indent + "  ")
        case .bool(let flag): flag ? "yes" : "no"
        case .null: "—"
        default: String(decoding: value.canonicalBytes, as: UTF8.self)
        }
    }

    /// A character that shows as an empty cell: a space of any kind, a tab,
    /// the Braille blank (U+2800, a letter to Unicode, not a space).
    static func looksBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator || scalar == "\u{2800}"
    }

    /// A run of more than 8 blanks (spaces, tabs, any Unicode space) shown
    /// as `[N blanks]`: padded to the terminal's width, a value's text would
    /// wrap to the start of a line and pass for a field of its own
    /// ("Initial risk level: low" above the real one).
    static func shortenedBlanks(_ text: String) -> String {
        var out = String.UnicodeScalarView(), run = String.UnicodeScalarView()
        func flush() {
            if run.count > 8 { out.append(contentsOf: " [\(run.count) blanks] ".unicodeScalars) } else { out.append(contentsOf: run) }
            run = String.UnicodeScalarView()
        }
        for scalar in text.unicodeScalars {
            if Self.looksBlank(scalar) { run.append(scalar) } else { flush(); out.append(scalar) }
        }
        flush()
        return String(out)
    }

    func render(_ value: JSONValue, schema: OrderedJSON?, indent: Int, into lines: inout [String]) {
        let pad = String(repeating: "  ", count: indent)
        let schema = resolve(schema)
        guard case .object(let members) = value else { return }
        var order: [String] = []
        if case .object(let properties)? = schema?["properties"] { order = properties.map(\.0) }
        order += members.keys.sorted().filter { !order.contains($0) }
        for key in order {
            guard let field = members[key], key != "form" else { continue }
            let fieldSchema = schema?["properties"]?[key]
            let label = title(fieldSchema, fallback: key)
            switch field {
            case .object:
                lines.append(pad + label + ":")
                render(field, schema: fieldSchema, indent: indent + 1, into: &lines)
            case .array(let items):
                lines.append(pad + label + ":")
                let itemSchema = resolve(fieldSchema)?["items"]
                for (index, item) in items.enumerated() {
                    if case .object = item {
                        lines.append(pad + "  \(index + 1). " + title(itemSchema, fallback: "item"))
                        render(item, schema: itemSchema, indent: indent + 2, into: &lines)
                    } else {
                        lines.append(pad + "  \(index + 1). " + scalarText(item, indent: pad + "   "))
                    }
                }
                if items.isEmpty { lines.append(pad + "  (none)") }
            default:
                lines.append(pad + label + ": " + scalarText(field, indent: pad))
            }
        }
    }
}
