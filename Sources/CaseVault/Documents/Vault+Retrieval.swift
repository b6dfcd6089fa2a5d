public import Foundation
internal import CaseVaultCrypto
internal import GRDB

extension Vault {
    /// Roles that can hold case keys. Records officers file without reading;
    /// auditors and admins read no content at all (SECURITY.md §1).
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
                           stamp: try Stamp(stored: row.stamp), size: row.plaintext_size, objectID: row.object_id,
                           schemaID: row.schema_id, schemaVersion: row.schema_version)
    }

    /// A read that has passed every check and holds its file key, ready to
    /// stream. Built by `prepareRead`, consumed by `stream`.
    struct PreparedRead {
        let info: VersionInfo
        let fileKey: SecureBytes
        let objectID: ObjectID
        let associatedData: [UInt8]
    }

    /// Checks role and grant and unseals the file key, without releasing
    /// anything. A refusal by role or grant is itself a signed
    /// `content.refused` event, so an auditor sees who tried.
    func prepareRead(caseNumber: String, document: String, version: Int?, by actor: StaffIdentity,
                     now: Date) throws -> PreparedRead {
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
        func refuse(_ reason: String, _ message: String) throws -> Never {
            _ = try catalog.write { db in
                try EventLog.append(.contentRefused, data: [
                    "case": .string(number), "document": .string(document), "version": .integer(Int64(info.version)),
                    "tier": .string(info.tier.rawValue), "reason": .string(reason),
                ], actor: actor, vaultID: config.vaultId, at: now, in: db)
            }
            throw VaultError.accessDenied(message)
        }
        guard Self.readingRoles.contains(actor.role) else {
            try refuse("role", "a \(actor.role.displayName) cannot read case content")
        }
        guard let grant else {
            try refuse("no-grant", "'\(actor.id)' holds no grant for the \(info.tier.rawValue) tier of \(number)")
        }
        let fileKey = try unsealFileKey(case: caseRow, version: versionRow, tier: info.tier, grant: grant, actor: actor)
        guard let objectID = ObjectID(hex: versionRow.object_id) else {
            throw VaultError.integrityFailure("the object name of \(number) '\(document)' v\(info.version) is damaged")
        }
        return PreparedRead(info: info, fileKey: fileKey, objectID: objectID,
                            associatedData: objectAssociatedData(caseNumber: number, document: document, version: info.version,
                                                                 type: info.type, tier: info.tier, stamp: info.stamp))
    }

    /// Logs the signed `content.read` event, then decrypts, handing each
    /// authenticated chunk to `write`.
    func stream(_ prepared: PreparedRead, by actor: StaffIdentity, now: Date,
                into write: (UnsafeRawBufferPointer) throws -> Void) throws {
        let info = prepared.info
        _ = try catalog.write { db in
            try EventLog.append(.contentRead, data: [
                "case": .string(info.caseNumber), "document": .string(info.document), "version": .integer(Int64(info.version)),
                "tier": .string(info.tier.rawValue), "object": .string(prepared.objectID.hex),
            ], actor: actor, vaultID: config.vaultId, at: now, in: db)
        }
        let reader = try objects.open(prepared.objectID)
        do {
            try SecretStream.decrypt(key: prepared.fileKey, associatedData: prepared.associatedData,
                                     read: reader.read(into:), write: write)
        } catch CryptoError.authenticationFailed {
            throw VaultError.integrityFailure("\(info.caseNumber) '\(info.document)' version \(info.version) failed authentication: its object, stamp or key was altered")
        }
    }

    /// Decrypts one version, handing authenticated plaintext to `write`
    /// chunk by chunk. The read is logged as a signed `content.read` event
    /// before any byte is released; a refusal is logged as `content.refused`;
    /// a version that fails authentication (object moved, swapped or
    /// altered; stamp or sealed key edited) throws `integrityFailure`.
    /// Callers writing a file must publish it only if this returns.
    @discardableResult
    public func read(caseNumber: String, document: String, version: Int? = nil, by actor: StaffIdentity,
                     now: Date = Date(), into write: (UnsafeRawBufferPointer) throws -> Void) throws -> VersionInfo {
        let prepared = try prepareRead(caseNumber: caseNumber, document: document, version: version, by: actor, now: now)
        try stream(prepared, by: actor, now: now, into: write)
        return prepared.info
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
            // Authorise before touching the destination.
            let prepared = try prepareRead(caseNumber: caseNumber, document: document, version: version, by: actor, now: now)
            let path = FileSystem.absolutePath(path)
            let folder = AtomicFile.parentFolder(of: path)
            guard FileSystem.isDirectory(folder) else { throw VaultError.notFound("folder \(folder) does not exist") }
            // Plaintext must never land inside the vault (or its backups).
            guard !FileSystem.isInside(folder, self.path) else {
                throw VaultError.invalidInput("refusing to write plaintext inside the vault folder")
            }
            try AtomicFile.write(to: path, replacing: false, mode: 0o600) { fd in
                // Decrypting and writing overlap on two cores (see Pipeline);
                // the writes go straight to the device where the file system
                // allows (FileWriter).
                let pipeline = Pipeline(consumer: FileWriter(fd: fd, direct: true), buffers: 4,
                                        bufferSize: DirectIO.blockSize)
                do {
                    try stream(prepared, by: actor, now: now, into: pipeline.write)
                    try pipeline.finish()
                } catch {
                    pipeline.cancel()
                    throw error
                }
            }
            return prepared.info
        }
    }
}
