public import Foundation
internal import CaseVaultCrypto
internal import GRDB

extension Vault {
    /// Roles that can hold case keys. Records officers file without reading;
    /// auditors and admins read no content at all (SECURITY.md §"Threat model").
    static let readingRoles: Set<Role> = [.caseManager, .caseSupervisor, .projectDirector]

    /// Versions of one document, or of every document of a case, oldest first.
    public func versions(caseNumber: String, document: String? = nil) throws -> [VersionInfo] {
        let number = try CaseNumber.parse(caseNumber).description
        return try catalog.read { db in
            _ = try caseRow(number, in: db)
            var sql = """
                SELECT d.name, v.* FROM versions v JOIN documents d ON d.id = v.document_id
                WHERE d.case_number = ?
                """
            var arguments: [any DatabaseValueConvertible] = [number]
            if let document {
                sql += " AND d.name = ?"
                arguments.append(document)
            }
            sql += " ORDER BY d.name, v.version"
            let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments))
            if let document, rows.isEmpty {
                throw VaultError.notFound("case \(number) has no document named '\(document)'")
            }
            return try rows.map { row in try versionInfo(number: number, name: row["name"], row: VersionRow(row: row)) }
        }
    }

    /// The latest version of each document in a case, by name.
    public func latestVersions(caseNumber: String) throws -> [VersionInfo] {
        var latest: [String: VersionInfo] = [:]
        for info in try versions(caseNumber: caseNumber) { latest[info.document] = info }
        return latest.values.sorted { $0.document < $1.document }
    }

    func versionInfo(number: String, name: String, row: VersionRow) throws -> VersionInfo {
        guard let tier = Tier(rawValue: row.tier) else { throw VaultError.integrityFailure("a version record of \(number) is damaged") }
        return VersionInfo(caseNumber: number, document: name, version: row.version, type: row.type, tier: tier,
                           stamp: try Stamp(stored: row.stamp), size: row.plaintext_size, objectID: row.object_id)
    }

    /// Decrypts one version, handing authenticated plaintext to `write`
    /// chunk by chunk. The read is logged as a signed `content.read` event
    /// before any byte is released; a version that fails authentication
    /// (object moved, swapped or altered; stamp or sealed key edited) throws
    /// `integrityFailure`. Callers writing a file must publish it only if
    /// this returns (see `AtomicFile`).
    @discardableResult
    public func read(caseNumber: String, document: String, version: Int? = nil, by actor: StaffIdentity,
                     now: Date = Date(), into write: (UnsafeRawBufferPointer) throws -> Void) throws -> VersionInfo {
        guard Self.readingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("a \(actor.role.displayName) cannot read case content")
        }
        let number = try CaseNumber.parse(caseNumber).description
        let (caseRow, versionRow, grant) = try catalog.read { db -> (CaseRow, VersionRow, GrantRow?) in
            let caseRow = try self.caseRow(number, in: db)
            guard let documentRow = try DocumentRow.filter(Column("case_number") == number && Column("name") == document).fetchOne(db) else {
                throw VaultError.notFound("case \(number) has no document named '\(document)'")
            }
            var request = VersionRow.filter(Column("document_id") == documentRow.id!)
            if let version { request = request.filter(Column("version") == version) }
            guard let versionRow = try request.order(Column("version").desc).fetchOne(db) else {
                throw VaultError.notFound("'\(document)' of \(number) has no version \(version ?? 0)")
            }
            let grant = try GrantRow.filter(Column("case_number") == number && Column("tier") == versionRow.tier
                                            && Column("holder") == GrantRow.staffHolder(actor.id)).fetchOne(db)
            return (caseRow, versionRow, grant)
        }
        let info = try versionInfo(number: number, name: document, row: versionRow)
        guard let grant else {
            throw VaultError.accessDenied("'\(actor.id)' holds no grant for the \(info.tier.rawValue) tier of \(number)")
        }
        let fileKey = try unsealFileKey(case: caseRow, version: versionRow, tier: info.tier, grant: grant, actor: actor)
        guard let objectID = ObjectID(hex: versionRow.object_id) else {
            throw VaultError.integrityFailure("the object name of \(number) '\(document)' v\(info.version) is damaged")
        }
        try catalog.write { db in
            try EventLog.append(.contentRead, data: [
                "case": .string(number), "document": .string(document), "version": .integer(Int64(info.version)),
                "tier": .string(info.tier.rawValue), "object": .string(objectID.hex),
            ], actor: actor, vaultID: config.vaultId, at: now, in: db)
        }
        let associatedData = objectAssociatedData(caseNumber: number, document: document, version: info.version,
                                                  type: info.type, tier: info.tier, stamp: info.stamp)
        let reader = try objects.open(objectID)
        do {
            try SecretStream.decrypt(key: fileKey, associatedData: associatedData, read: reader.read(into:), write: write)
        } catch CryptoError.authenticationFailed {
            throw VaultError.integrityFailure("\(number) '\(document)' version \(info.version) failed authentication: its object, stamp or key was altered")
        }
        return info
    }

    /// Tier secret key from the holder's grant, checked against the case's
    /// public key, then the file key sealed to it.
    private func unsealFileKey(case caseRow: CaseRow, version: VersionRow, tier: Tier, grant: GrantRow,
                               actor: StaffIdentity) throws -> SecureBytes {
        do {
            let tierSecret = try SealedBox.open(Array(grant.sealed_secret_key), with: actor.boxKeys)
            let tierKeys = try BoxKeyPair(secretKey: tierSecret)
            guard tierKeys.publicKey == (try caseRow.publicKey(for: tier)) else {
                throw VaultError.integrityFailure("the \(tier.rawValue)-tier key granted to '\(actor.id)' for \(caseRow.number) does not match the case")
            }
            let fileKey = try SealedBox.open(Array(version.sealed_file_key), with: tierKeys)
            guard fileKey.count == SecretStream.keyLength else { throw CryptoError.authenticationFailed }
            return fileKey
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError.integrityFailure("a sealed key of \(caseRow.number) failed authentication")
        }
    }
}

/// Where `retrieve` puts plaintext.
public enum RetrievalDestination: Sendable {
    /// Streamed to standard output as each chunk authenticates.
    case standardOutput
    /// A new file, published only after the last chunk authenticated; never
    /// over an existing file. On failure nothing is left at `path`.
    case file(path: String)
}

extension Vault {
    @discardableResult
    public func retrieve(caseNumber: String, document: String, version: Int? = nil, by actor: StaffIdentity,
                         to destination: RetrievalDestination, now: Date = Date()) throws -> VersionInfo {
        switch destination {
        case .standardOutput:
            let out = FileDescriptor(1, path: "standard output", closesOnRelease: false)
            return try read(caseNumber: caseNumber, document: document, version: version, by: actor, now: now, into: out.write)
        case .file(let path):
            let path = FileSystem.absolutePath(path)
            guard FileSystem.isDirectory(AtomicFile.parentFolder(of: path)) else {
                throw VaultError.notFound("folder \(AtomicFile.parentFolder(of: path)) does not exist")
            }
            var info: VersionInfo?
            try AtomicFile.write(to: path, replacing: false, mode: 0o600) { fd in
                // Decrypting and writing overlap on two cores (see Pipeline).
                let pipeline = Pipeline(consumer: PlainWriter(fd: fd))
                do {
                    info = try read(caseNumber: caseNumber, document: document, version: version, by: actor, now: now,
                                    into: pipeline.write)
                    try pipeline.finish()
                } catch {
                    pipeline.cancel()
                    throw error
                }
            }
            return info!
        }
    }
}

/// Writes a pipeline's bytes to a file descriptor.
final class PlainWriter: ChunkConsumer, @unchecked Sendable {
    let fd: FileDescriptor
    init(fd: FileDescriptor) { self.fd = fd }
    func consume(_ bytes: UnsafeRawBufferPointer) throws { try fd.write(bytes) }
}
