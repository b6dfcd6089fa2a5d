public import Foundation
internal import CaseVaultCrypto

extension VersionInfo {
    init(_ record: VersionRecord, withdrawal: WithdrawalRecord? = nil) throws {
        guard let tier = Tier(rawValue: record.tier) else {
            throw VaultError.integrityFailure("a version record of \(record.caseNumber) is damaged")
        }
        self.init(caseNumber: record.caseNumber, document: record.document, version: record.version, type: record.type, tier: tier,
                  stamp: record.stamp, size: record.size, objectID: record.objectId, schemaID: record.schemaId,
                  schemaVersion: record.schemaVersion, withdrawal: try withdrawal.map(Withdrawal.init))
    }
}

extension Withdrawal {
    init(_ record: WithdrawalRecord) throws {
        guard let at = Timestamp.date(from: record.at) else {
            throw VaultError.integrityFailure("the withdrawal of \(record.caseNumber) '\(record.document)' v\(record.version) is damaged")
        }
        self.init(seq: record.seq, at: at, by: record.by, reason: record.reason)
    }
}

extension Vault {
    /// Versions of one document, or of every document of a case, oldest
    /// first; every one checked against the signed state, and none missing.
    public func versions(caseNumber: String, document: String? = nil) throws -> [VersionInfo] {
        let number = try CaseNumber.parse(caseNumber).description
        let document = try document.map { try storedDocumentName(number, $0) }
        return try read { reader, head in
            guard head.size > 0 else { throw VaultError.notFound("no case \(number)") }
            let signed = head.signedState(reader)
            guard try signed.caseState(number) != nil else { throw try signed.missingCase(number) }
            let documents: [DocumentRecord]
            if let document {
                guard let record = try signed.document(number, document) else {
                    throw try Self.missingDocument(number, document, signed: signed)
                }
                documents = [record]
            } else {
                documents = try signed.documents(number)
            }
            return try documents.flatMap { document in
                let withdrawn = try signed.withdrawals(number, document.name)
                return try signed.versions(of: document).map { record in
                    try VersionInfo(record, withdrawal: withdrawn.first { $0.version == record.version })
                }
            }
        }
    }

    /// The current version of each document in a case, by name: its newest
    /// not withdrawn, or, when every version is, its newest (with its
    /// `withdrawal`).
    public func latestVersions(caseNumber: String) throws -> [VersionInfo] {
        let number = try CaseNumber.parse(caseNumber).description
        return try read { reader, head in
            guard head.size > 0 else { throw VaultError.notFound("no case \(number)") }
            let signed = head.signedState(reader)
            guard try signed.caseState(number) != nil else { throw try signed.missingCase(number) }
            return try signed.documents(number).map { document in
                let withdrawn = try signed.withdrawals(number, document.name)
                let shown = SignedState.currentVersion(of: document, withdrawn: withdrawn) ?? document.latestVersion
                guard let latest = try signed.version(number, document.name, shown) else {
                    throw VaultError.integrityFailure("version \(shown) of '\(document.name)' of \(number) is missing from the catalog")
                }
                return try VersionInfo(latest, withdrawal: withdrawn.first { $0.version == shown })
            }
        }
    }

    /// A read that has passed every check and holds its file key, ready to
    /// stream. Built by `prepareRead`, consumed by `stream`.
    struct PreparedRead {
        var info: VersionInfo
        let fileKey: SecureBytes
        let objectID: ObjectID
        let associatedData: [UInt8]
    }

    /// Checks role and grant and unseals the file key, without releasing
    /// anything. Every fact used — the reader's role and keys, the case's
    /// tier key and grants, the document's latest version, the version's
    /// object, stamp, tier and sealed key — is read through the signed
    /// state. A refusal by role or grant is itself a signed
    /// `content.refused` event, so an auditor sees who tried.
    func prepareRead(caseNumber: String, document: String, version: Int?, by actor: StaffIdentity,
                     now: Date) throws -> PreparedRead {
        let number = try CaseNumber.parse(caseNumber).description
        let document = try storedDocumentName(number, document)
        struct Facts {
            let record: VersionRecord
            let withdrawal: WithdrawalRecord?
            let role: Role
            let tierKey: BoxPublicKey
            let sealedTierKey: [UInt8]?
            let sealedFileKey: [UInt8]
            let sealedFileInfo: [UInt8]?
        }
        let facts = try read { reader, head -> Facts in
            guard head.size > 0 else { throw VaultError.notFound("no case \(number)") }
            let signed = head.signedState(reader)
            let state = try signed.existingCase(number)
            guard let documentRecord = try signed.document(number, document) else {
                throw try Self.missingDocument(number, document, signed: signed)
            }
            // By default the current version: a withdrawn one only when asked for.
            let withdrawn = try signed.withdrawals(number, document)
            guard let wanted = version ?? SignedState.currentVersion(of: documentRecord, withdrawn: withdrawn) else {
                throw VaultError.notFound("every version of '\(document)' of \(number) is withdrawn; read one by its number: get \(number) '\(document)' VERSION")
            }
            guard (1...documentRecord.latestVersion).contains(wanted) else {
                // A row for a version the log never recorded is a forgery, not a miss.
                _ = try signed.version(number, document, wanted)
                throw VaultError.notFound("'\(document)' of \(number) has no version \(wanted)")
            }
            guard let record = try signed.version(number, document, wanted) else {
                throw VaultError.integrityFailure("version \(wanted) of '\(document)' of \(number) is missing from the catalog")
            }
            guard let reader = try signed.staff(actor.id), let role = Role(rawValue: reader.role),
                  reader.boxPublicKey == actor.keys.boxPublicKey.bytes.hexString else {
                throw VaultError.accessDenied("'\(actor.id)' is not on the staff with these keys")
            }
            guard let tier = Tier(rawValue: record.tier) else { throw VaultError.integrityFailure("a version record of \(number) is damaged") }
            let grant = state.grant(record.tier, heldBy: GrantHolder.staff(actor.id), generation: record.keyGeneration)
            let withdrawal = withdrawn.first { $0.version == wanted }
            return Facts(record: record, withdrawal: withdrawal, role: role,
                         tierKey: try state.case.publicKey(for: tier, generation: record.keyGeneration),
                         sealedTierKey: try grant.map { try signed.blob($0.sealedKeyHash, what: "the sealed \(record.tier)-tier key of \(number)") },
                         sealedFileKey: try signed.blob(record.sealedFileKeyHash, what: "the sealed file key of \(number) '\(document)' v\(wanted)"),
                         sealedFileInfo: try record.fileInfoHash.map { try signed.blob($0, what: "the sealed file name of \(number) '\(document)' v\(wanted)") })
        }
        var info = try VersionInfo(facts.record, withdrawal: facts.withdrawal)
        func refuse(_ reason: String, _ message: String) throws -> Never {
            _ = try write { writer, head in
                try Ledger.append([.contentRefused(ContentRefused(case: number, document: document, version: info.version,
                                                                  tier: info.tier.rawValue, reason: reason))],
                                  by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            }
            throw VaultError.accessDenied(message)
        }
        guard Policy.readingRoles.contains(facts.role) else {
            try refuse("role", "\(facts.role.withArticle) cannot read case content")
        }
        guard let sealedTierKey = facts.sealedTierKey else {
            try refuse("no-grant", "'\(actor.id)' holds no grant for the \(info.tier.rawValue) tier of \(number)")
        }
        let fileKey: SecureBytes
        do {
            let tierKeys = try BoxKeyPair(secretKey: try actor.keys.unseal(sealedTierKey))
            guard tierKeys.publicKey == facts.tierKey else {
                throw VaultError.integrityFailure("the \(info.tier.rawValue)-tier key granted to '\(actor.id)' for \(number) does not match the case")
            }
            fileKey = try SealedBox.open(facts.sealedFileKey, with: tierKeys)
            guard fileKey.count == SecretStream.keyLength else { throw CryptoError.authenticationFailed }
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError.integrityFailure("a sealed key of \(number) failed authentication")
        }
        guard let objectID = ObjectID(hex: facts.record.objectId) else {
            throw VaultError.integrityFailure("the object name of \(number) '\(document)' v\(info.version) is damaged")
        }
        if let sealed = facts.sealedFileInfo {
            do { info.fileInfo = try FileInfo.open(sealed, fileKey: fileKey, objectID: objectID.hex) } catch {
                throw VaultError.integrityFailure("the sealed file name of \(number) '\(document)' v\(info.version) failed authentication")
            }
        }
        // A moved version's object names the case and document it was filed in.
        let origin = facts.record.origin ?? VersionOrigin(case: number, document: document)
        return PreparedRead(info: info, fileKey: fileKey, objectID: objectID,
                            associatedData: objectAssociatedData(caseNumber: origin.case, document: origin.document, version: info.version,
                                                                 type: info.type, tier: info.tier, stamp: info.stamp, vault: origin.vault))
    }

    /// Not found, or moved away: the tombstone says where.
    static func missingDocument(_ number: String, _ name: String, signed: SignedState) throws -> VaultError {
        if let move = try signed.moves(number, name).last {
            return .notFound("'\(name)' was moved from \(number) to \(move.toCase) as '\(move.toDocument)' on \(move.at) by \(move.by): \(move.reason)")
        }
        let names = try signed.documents(number).map(\.name)
        return .notFound("case \(number) has no document named '\(name)'" + Suggestion.clause(name, among: names))
    }

    /// Logs the signed `content.read` event, then decrypts, handing each
    /// authenticated chunk to `write`.
    func stream(_ prepared: PreparedRead, by actor: StaffIdentity, now: Date, recorded: Bool = false,
                into write: (UnsafeRawBufferPointer) throws -> Void) throws {
        let info = prepared.info
        if !recorded { try recordRead(prepared, by: actor, now: now) }
        let reader = try objects.open(prepared.objectID)
        var released: Int64 = 0
        do {
            try SecretStream.decrypt(key: prepared.fileKey, associatedData: prepared.associatedData,
                                     read: reader.read(into:), write: { chunk in
                                         released += Int64(chunk.count)
                                         try write(chunk)
                                     })
        } catch CryptoError.authenticationFailed {
            throw VaultError.integrityFailure("\(info.caseNumber) '\(info.document)' version \(info.version) failed authentication: its object, stamp or key was altered")
        }
        // Authentication proves the object was sealed under this file key
        // and stamp; the signed size must also hold.
        guard released == info.size else {
            throw VaultError.integrityFailure("\(info.caseNumber) '\(info.document)' version \(info.version) is not the \(info.size) bytes that were filed")
        }
    }

    /// The signed `content.read` of a prepared read.
    func recordRead(_ prepared: PreparedRead, by actor: StaffIdentity, now: Date) throws {
        try recordReads([prepared], by: actor, now: now)
    }

    /// The signed `content.read` of each prepared read, in one transaction
    /// (one commit, and one request to an agent to sign them all): an export
    /// records a group of reads before it streams the first of them.
    func recordReads(_ prepared: [PreparedRead], by actor: StaffIdentity, now: Date) throws {
        guard !prepared.isEmpty else { return }
        _ = try self.write { writer, head in
            try Ledger.append(prepared.map { read in
                .contentRead(ContentRead(case: read.info.caseNumber, document: read.info.document, version: read.info.version,
                                         tier: read.info.tier.rawValue, object: read.objectID.hex))
            }, by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
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
}

/// Where `retrieve` puts plaintext.
public enum RetrievalDestination: Sendable {
    /// Streamed to standard output as each chunk authenticates.
    case standardOutput
    /// Standard output that is a terminal: content that is not plain text
    /// (a NUL, an escape or another control byte, or not UTF-8) is refused:
    /// before any of it is written when the first chunk shows it, else
    /// from the chunk that does, as age refuses binary
    /// output to a terminal: a photo would fill the screen with bytes, and
    /// escape sequences in a document could drive the terminal. The read is
    /// still recorded: it was authorised and decrypted.
    case terminal
    /// A new file, published only after the last chunk authenticated; never
    /// over an existing file. On failure nothing is left at `path`.
    case file(path: String)
    /// A new file in this folder, under the version's original file name
    /// (§11a), or its document name and version when none was kept.
    case folder(path: String)
}

extension Vault {
    @discardableResult
    public func retrieve(caseNumber: String, document: String, version: Int? = nil, by actor: StaffIdentity,
                         to destination: RetrievalDestination, now: Date = Date()) throws -> VersionInfo {
        switch destination {
        case .standardOutput:
            let out = FileDescriptor(1, path: "standard output", closesOnRelease: false)
            return try read(caseNumber: caseNumber, document: document, version: version, by: actor, now: now, into: out.write)
        case .terminal:
            let out = FileDescriptor(1, path: "standard output", closesOnRelease: false)
            var first = true
            return try read(caseNumber: caseNumber, document: document, version: version, by: actor, now: now) { chunk in
                if TerminalText.looksBinary(chunk, continuing: !first) {
                    throw VaultError.invalidInput("'\(document)' is not plain text; refusing to write \(first ? "it" : "the rest of it") "
                                                  + "to the terminal (write it to a file with -o PATH, or pass --force to print it anyway)")
                }
                first = false
                try out.write(chunk)
            }
        case .file, .folder:
            // Authorise before touching the destination.
            let prepared = try prepareRead(caseNumber: caseNumber, document: document, version: version, by: actor, now: now)
            var path: String
            var recorded = false
            switch destination {
            case .folder(let folder):
                guard FileSystem.isDirectory(folder) else {
                    throw FileSystem.exists(folder) ? VaultError.invalidInput("\(folder) is not a folder") : VaultError.notFound("folder \(folder) does not exist")
                }
                // The original name is content (it often names the child): its
                // read is recorded before the name can appear in any message.
                try recordRead(prepared, by: actor, now: now)
                recorded = true
                let name = FileInfo.fileName(for: prepared.info.fileInfo, document: prepared.info.document, version: prepared.info.version)
                path = FileSystem.absolutePath(folder) + "/" + name
            case .file(let given): path = FileSystem.absolutePath(given)
            default: preconditionFailure("a file destination")
            }
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
                    try stream(prepared, by: actor, now: now, recorded: recorded, into: pipeline.write)
                    try pipeline.finish()
                } catch {
                    pipeline.cancel()
                    throw error
                }
            }
            var info = prepared.info
            info.writtenTo = path
            return info
        }
    }
}
