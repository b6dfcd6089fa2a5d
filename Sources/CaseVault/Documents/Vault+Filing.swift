public import Foundation
internal import CaseVaultCrypto
internal import GRDB

struct DocumentRow: Codable, FetchableRecord, MutablePersistableRecord, Sendable {
    static let databaseTableName = "documents"
    var id: Int64?
    var case_number: String
    var name: String

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

struct VersionRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "versions"
    var document_id: Int64
    var version: Int
    var type: String
    var tier: String
    var object_id: String
    var plaintext_size: Int64
    var ciphertext_size: Int64
    var sealed_file_key: Data
    var stamp: Data
    var event_seq: Int64
    var schema_id: String?
    var schema_version: Int?
}

/// Where the bytes of a filing come from.
public enum FilingInput: Sendable {
    case file(path: String)
    case standardInput
}

extension Vault {
    /// Roles that may file. Auditors change nothing; admins manage staff,
    /// not case content.
    static let filingRoles: Set<Role> = [.recordsOfficer, .caseManager, .caseSupervisor, .projectDirector]

    public static func validate(documentName name: String) throws {
        guard !name.isEmpty, name.count <= 120, name.trimmingCharacters(in: .whitespaces) == name,
              !name.contains("/"), !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw VaultError.invalidInput("document name must be 1 to 120 printable characters, without '/' or leading or trailing spaces")
        }
    }

    public static func validate(documentType type: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        guard (1...32).contains(type.count), type.allSatisfy({ allowed.contains($0) }) else {
            throw VaultError.invalidInput("document type '\(type)' is not valid: use 1 to 32 characters of a-z, 0-9 and '-'")
        }
    }

    /// Files a new immutable version of `name` in a case, streaming the
    /// input through secretstream into a new object (SECURITY.md §9–10).
    ///
    /// Needs only public keys: the file key is sealed to the tier's public
    /// key, so the filer cannot read back what they filed. The whole filing
    /// runs inside one IMMEDIATE transaction — version number, object,
    /// rows and event — so concurrent filers queue rather than collide; the
    /// object is durable before the rows that name it are committed, and a
    /// failure removes the object it had written.
    @discardableResult
    public func file(caseNumber: String, name: String, type: String, confidential: Bool = false,
                     from input: FilingInput, by actor: StaffIdentity,
                     now: Date? = nil, timeZone: TimeZone = .current) throws -> VersionInfo {
        guard Self.filingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("a \(actor.role.displayName) cannot file documents")
        }
        try Self.validate(documentName: name)
        try Self.validate(documentType: type)
        let number = try CaseNumber.parse(caseNumber).description

        let source = try Self.open(input)
        return try fileStream(caseNumber: number, name: name, type: type, confidential: confidential, schema: nil,
                              by: actor, now: now, timeZone: timeZone, read: source.read(into:))
    }

    static func open(_ input: FilingInput) throws -> FileDescriptor {
        switch input {
        case .file(let path):
            guard FileSystem.exists(path) else { throw VaultError.notFound("no such file: \(path)") }
            guard FileSystem.isRegularFile(path) else { throw VaultError.invalidInput("\(path) is not a regular file") }
            return try FileSystem.openForReading(path)
        case .standardInput:
            return FileDescriptor(0, path: "standard input", closesOnRelease: false)
        }
    }

    /// The filing itself, from any reader; `schema` is recorded for forms.
    func fileStream(caseNumber number: String, name: String, type: String, confidential: Bool, schema: FormSchema?,
                    by actor: StaffIdentity, now fixedNow: Date?, timeZone: TimeZone,
                    read readSource: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) throws -> VersionInfo {
        // The first chunk is read before anything else, to recognise images.
        let head = SecureBytes(count: SecretStream.chunkSize)
        let headCount = try head.withUnsafeMutableBytes { try SecretStream.fillRaw($0, using: readSource) }
        let looksLikeImage = head.withUnsafeBytes {
            ContentKind.isImage(UnsafeRawBufferPointer(rebasing: $0[0..<Swift.min(headCount, ContentKind.sniffLength)]))
        }
        var headOffset = 0
        let read: (UnsafeMutableRawBufferPointer) throws -> Int = { buffer in
            if headOffset < headCount {
                let n = Swift.min(buffer.count, headCount - headOffset)
                head.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + headOffset, byteCount: n) }
                headOffset += n
                return n
            }
            return try readSource(buffer)
        }

        var written: ObjectID?
        do {
            return try catalog.write { db in
                // The time is read once the write lock is held, so stamp dates
                // and event times never run backwards against sequence numbers.
                let now = fixedNow ?? Date()
                let row = try caseRow(number, in: db)
                guard let status = CaseStatus(rawValue: row.status) else {
                    throw VaultError.integrityFailure("case record \(number) is damaged")
                }
                var document = try DocumentRow.filter(Column("case_number") == number && Column("name") == name).fetchOne(db)
                    ?? DocumentRow(id: nil, case_number: number, name: name)
                let previous = try document.id.map { id in
                    try VersionRow.filter(Column("document_id") == id).order(Column("version").desc).fetchAll(db)
                } ?? []
                // A document keeps one type across versions: a form stays a
                // form of its type, a document never becomes a form.
                if let last = previous.first, last.type != type || (last.schema_id == nil) != (schema == nil) {
                    let how = last.schema_id != nil ? "--form \(last.type)" : "--type \(last.type)"
                    throw VaultError.invalidInput("'\(name)' of \(number) is a \(last.schema_id != nil ? "form" : "document") of type \(last.type); file its next version with \(how)")
                }
                // Confidentiality is sticky: once any version of a document
                // is confidential, later ones are too.
                let tier: Tier = confidential || looksLikeImage || ContentKind.photoTypes.contains(type)
                    || previous.contains { $0.tier == Tier.confidential.rawValue } ? .confidential : .team
                let version = (previous.first?.version ?? 0) + 1
                let stamp = Stamp(
                    date: Stamp.dateString(now, in: timeZone), caseNumber: number, caseStatus: status, report: name,
                    caseManager: try StaffRow.fetchOne(db, key: row.manager_id)?.name ?? row.manager_id,
                    caseSupervisor: try StaffRow.fetchOne(db, key: row.supervisor_id)?.name ?? row.supervisor_id,
                    version: version, filedBy: actor.id, filedByName: actor.member.name)
                let associatedData = objectAssociatedData(caseNumber: number, document: name, version: version,
                                                          type: type, tier: tier, stamp: stamp)
                let fileKey = SecretStream.generateKey()
                var plaintextSize: Int64 = 0
                let object = try objects.write { sink in
                    try SecretStream.encrypt(key: fileKey, associatedData: associatedData, read: { buffer in
                        let n = try read(buffer)
                        plaintextSize += Int64(n)
                        return n
                    }, write: sink)
                }
                written = object.id
                let sealedFileKey = SealedBox.seal(fileKey, to: try trustedCaseKey(row, tier: tier, in: db))
                if document.id == nil { try document.insert(db) }
                var data: [String: JSONValue] = [
                    "case": .string(number), "document": .string(name), "version": .integer(Int64(version)),
                    "type": .string(type), "tier": .string(tier.rawValue), "object": .string(object.id.hex),
                    "size": .integer(plaintextSize), "ciphertextSize": .integer(object.size),
                    "sealedFileKeyHash": blobHash(sealedFileKey), "stamp": stamp.json,
                ]
                if let schema {
                    // The body hash pins the exact schema text, also for a built-in
                    // schema that a later release might change under the same $id.
                    data["schema"] = .object(["id": .string(schema.id),
                                              "version": schema.version.map { .integer(Int64($0)) } ?? .null,
                                              "bodyHash": blobHash(Array(schema.text.utf8))])
                }
                let seq = try EventLog.append(.versionFiled, data: data, actor: actor, vaultID: config.vaultId, at: now, in: db)
                try VersionRow(document_id: document.id!, version: version, type: type, tier: tier.rawValue,
                               object_id: object.id.hex, plaintext_size: plaintextSize, ciphertext_size: object.size,
                               sealed_file_key: Data(sealedFileKey), stamp: Data(stamp.json.canonicalBytes),
                               event_seq: seq, schema_id: schema?.id, schema_version: schema?.version).insert(db)
                return VersionInfo(caseNumber: number, document: name, version: version, type: type, tier: tier,
                                   stamp: stamp, size: plaintextSize, objectID: object.id.hex,
                                   schemaID: schema?.id, schemaVersion: schema?.version)
            }
        } catch {
            // Nothing refers to the object we wrote (the transaction rolled
            // back), and its random file key makes it unique: remove it.
            if let written { objects.remove(written) }
            switch error {
            case CryptoError.inputFailed: throw VaultError.io("cannot read the document being filed")
            case let error as CryptoError: throw VaultError.integrityFailure("a stored key is damaged (\(error))")
            default: throw error
            }
        }
    }

    /// The associated data binding an object to its identity and stamp
    /// (SECURITY.md §11): `"casevault-object-v1\n"` followed by the
    /// canonical JSON of vault, case, document, version, type, tier, stamp.
    func objectAssociatedData(caseNumber: String, document: String, version: Int, type: String,
                              tier: Tier, stamp: Stamp) -> [UInt8] {
        Array("casevault-object-v1\n".utf8) + JSONValue.object([
            "vault": .string(config.vaultId), "case": .string(caseNumber), "document": .string(document),
            "version": .integer(Int64(version)), "type": .string(type), "tier": .string(tier.rawValue),
            "stamp": stamp.json,
        ]).canonicalBytes
    }
}
