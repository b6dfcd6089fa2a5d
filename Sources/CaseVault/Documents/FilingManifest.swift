public import Foundation

/// A bulk filing's manifest: a CSV file (RFC 4180: commas, fields in double
/// quotes where they hold a comma, quote or line break, `""` for a quote;
/// LF or CRLF line ends; UTF-8, a leading byte-order mark ignored) whose
/// first line names the columns, in any order:
///
/// - `case` (required): the case number;
/// - `path` (required): the file, relative to the manifest's folder unless absolute;
/// - `type` or `form` (one per row): a document's type, or a JSON form's type;
/// - `name` (optional): the report name (default: from the file, or the form's title);
/// - `confidential` (optional): `yes`/`no` (also `true`/`false`, `1`/`0`; empty is no);
/// - `schema-version` (optional, forms only): the vault schema version to validate against.
///
/// Blank lines are skipped. A row is named by the line it starts on.
public enum FilingManifest {
    public static let columns = ["case", "path", "type", "form", "name", "confidential", "schema-version"]
    /// More rows than any day's intake; a manifest larger is refused whole.
    public static let maximumRows = 100_000

    /// Reads the manifest at `path`.
    public static func read(_ path: String) throws -> [FilingRequest] {
        guard FileSystem.exists(path) else { throw VaultError.notFound("no such manifest: \(path)") }
        guard FileSystem.isRegularFile(path) else { throw VaultError.invalidInput("\(path) is not a regular file") }
        let bytes = try FileSystem.openForReading(path).readAll(limit: 64 << 20)
        let folder = AtomicFile.parentFolder(of: FileSystem.absolutePath(path))
        let label = path.split(separator: "/").last.map(String.init) ?? path
        return try parse(bytes, folder: folder, label: label)
    }

    /// Parses manifest bytes; `folder` resolves relative paths, `label`
    /// names the manifest in messages.
    public static func parse(_ bytes: [UInt8], folder: String, label: String) throws -> [FilingRequest] {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        guard let text = String(validating: body, as: UTF8.self) else {
            throw VaultError.invalidInput("\(label) is not UTF-8 text; save it as CSV UTF-8")
        }
        let records = try csvRecords(text, label: label)
        guard let (headerLine, header) = records.first else {
            throw VaultError.invalidInput("\(label) is empty; its first line names the columns: case,path,type or form[,name,confidential,schema-version]")
        }
        var index: [String: Int] = [:]
        for (position, raw) in header.enumerated() {
            let column = raw.trimmingCharacters(in: .whitespaces).lowercased()
            guard columns.contains(column) else {
                throw VaultError.invalidInput("\(label) line \(headerLine): unknown column '\(raw)'; the columns are \(columns.joined(separator: ", "))")
            }
            guard index[column] == nil else { throw VaultError.invalidInput("\(label) line \(headerLine): column '\(column)' is named twice") }
            index[column] = position
        }
        for required in ["case", "path"] where index[required] == nil {
            throw VaultError.invalidInput("\(label) line \(headerLine): no '\(required)' column; the first line names the columns, e.g. case,path,type,name,confidential")
        }
        guard index["type"] != nil || index["form"] != nil else {
            throw VaultError.invalidInput("\(label) line \(headerLine): no 'type' or 'form' column; each row is a document of a type or a form of a type")
        }
        let rows = records.dropFirst()
        guard rows.count <= maximumRows else {
            throw VaultError.invalidInput("\(label) has \(rows.count) rows; at most \(maximumRows) are filed in one batch")
        }
        return try rows.map { line, fields in
            let origin = "\(label) line \(line)"
            guard fields.count == header.count else {
                throw VaultError.invalidInput("\(origin) has \(fields.count) field\(fields.count == 1 ? "" : "s"); the header names \(header.count)")
            }
            func value(_ column: String) -> String? {
                guard let position = index[column] else { return nil }
                let field = fields[position].trimmingCharacters(in: .whitespaces)
                return field.isEmpty ? nil : field
            }
            guard let number = value("case") else { throw VaultError.invalidInput("\(origin): no case number") }
            guard let file = value("path") else { throw VaultError.invalidInput("\(origin): no path") }
            let kind: FilingRequest.Kind
            switch (value("type"), value("form")) {
            case (let type?, nil):
                guard value("schema-version") == nil else { throw VaultError.invalidInput("\(origin): a schema-version goes with a form") }
                kind = .document(type: type)
            case (nil, let form?):
                var version: Int?
                if let text = value("schema-version") {
                    guard let number = Int(text), number >= 1 else {
                        throw VaultError.invalidInput("\(origin): schema-version '\(text)' is not a version number")
                    }
                    version = number
                }
                kind = .form(type: form, schemaVersion: version)
            case (nil, nil): throw VaultError.invalidInput("\(origin): give a type (a document) or a form (a JSON form)")
            case (_?, _?): throw VaultError.invalidInput("\(origin): a row has a type or a form, not both (a form's type is its form type)")
            }
            let confidential: Bool
            switch value("confidential")?.lowercased() {
            case nil, "no", "false", "0", "n": confidential = false
            case "yes", "true", "1", "y": confidential = true
            case let other?: throw VaultError.invalidInput("\(origin): confidential is '\(other)'; write yes or no")
            }
            // The name is kept as written (spaces inside included), apart
            // from the cell's surrounding spaces.
            return FilingRequest(caseNumber: number, name: value("name"), kind: kind, confidential: confidential,
                                 path: file.hasPrefix("/") ? file : folder + "/" + file, origin: origin)
        }
    }

    /// RFC 4180 records, each with the line it starts on.
    static func csvRecords(_ text: String, label: String) throws -> [(line: Int, fields: [String])] {
        var records: [(Int, [String])] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var recordLine = 1
        var quoted = false
        var afterQuote = false
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func endRecord() {
            fields.append(field)
            field = ""
            // A blank line is no record.
            if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields)) }
            fields = []
        }
        while let scalar = pending ?? scalars.next() {
            pending = nil
            if quoted {
                if scalar == "\"" {
                    if let next = scalars.next() {
                        if next == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; afterQuote = true; pending = next }
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case ",":
                fields.append(field)
                field = ""
                afterQuote = false
            case "\r":
                let next = scalars.next()
                guard next == "\n" || next == nil else {
                    throw VaultError.invalidInput("\(label) line \(line): a carriage return inside a field; quote the field")
                }
                endRecord()
                afterQuote = false
                line += 1
                recordLine = line
            case "\n":
                endRecord()
                afterQuote = false
                line += 1
                recordLine = line
            case "\"":
                guard field.isEmpty, !afterQuote else {
                    throw VaultError.invalidInput("\(label) line \(line): a quote inside an unquoted field; quote the whole field and double the quote (\"\")")
                }
                quoted = true
            default:
                guard !afterQuote else {
                    throw VaultError.invalidInput("\(label) line \(line): text after a closing quote; a quoted field ends at its comma")
                }
                field.unicodeScalars.append(scalar)
            }
        }
        if quoted { throw VaultError.invalidInput("\(label) line \(recordLine): a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || afterQuote { endRecord() }
        return records
    }
}
