public import Foundation
internal import CaseVaultCrypto

extension Vault {
    /// Withdraws a version as a correction (issue 9; manual §5.5 keeps
    /// every version): it stays in the history and its holders can still
    /// read it, with the withdrawal shown, but it is no longer the
    /// document's current version. Only the case's manager or supervisor
    /// withdraws; the reason is kept in the signed event. Nothing is
    /// deleted.
    @discardableResult
    public func withdraw(caseNumber: String, document: String, version: Int, reason: String,
                         by actor: StaffIdentity, now: Date = Date()) throws -> VersionInfo {
        let number = try CaseNumber.parse(caseNumber).description
        let name = try storedDocumentName(number, document)
        try Self.check(Lifecycle.refusal(reason: reason))
        try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.keptCase(number)
            guard actor.id == state.case.manager || actor.id == state.case.supervisor else {
                throw VaultError.accessDenied("only the case's manager (\(state.case.manager)) or supervisor (\(state.case.supervisor)) withdraws a version of \(number)")
            }
            guard try signed.document(number, name) != nil else {
                throw VaultError.notFound("case \(number) has no document named '\(name)'")
            }
            guard try signed.version(number, name, version) != nil else {
                throw VaultError.notFound("'\(name)' of \(number) has no version \(version)")
            }
            if let earlier = try signed.withdrawals(number, name).first(where: { $0.version == version }) {
                throw VaultError.alreadyExists("version \(version) of '\(name)' was already withdrawn on \(earlier.at) by \(earlier.by)")
            }
            try Ledger.append([.versionWithdrawn(VersionWithdrawn(case: number, document: name, version: version, reason: reason))],
                              by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
        }
        guard let info = try versions(caseNumber: number, document: name).first(where: { $0.version == version }) else {
            throw VaultError.integrityFailure("version \(version) of '\(name)' of \(number) vanished")
        }
        return info
    }

    /// Moves a misfiled document, every version, to another case (issue 9):
    /// each version's file key is unsealed with the actor's tier key of the
    /// source and sealed to the target case's tier key of the same tier;
    /// the old sealed keys are erased, so holders of the source who do not
    /// hold the target can no longer open it (copies taken before, such as
    /// backups, still can: SECURITY.md). The objects stay as they are; each
    /// moved version names its origin, which its object's associated data
    /// binds, and keeps its stamp as filed. The source keeps a signed
    /// tombstone saying where the document went. Only the source case's
    /// manager or supervisor moves.
    @discardableResult
    public func moveDocument(caseNumber: String, document: String, to target: String, name newName: String? = nil,
                             reason: String, by actor: StaffIdentity, now: Date = Date()) throws -> [VersionInfo] {
        let number = try CaseNumber.parse(caseNumber).description
        let targetNumber = try CaseNumber.parse(target).description
        let name = try storedDocumentName(number, document)
        let toName = Self.documentName(newName ?? name)
        try Self.validate(newDocumentName: toName)
        try Self.check(Lifecycle.refusal(reason: reason))
        guard targetNumber != number else { throw VaultError.invalidInput("'\(name)' is already in \(number)") }
        try write { writer, head in
            let signed = head.signedState(writer)
            let source = try signed.keptCase(number)
            guard actor.id == source.case.manager || actor.id == source.case.supervisor else {
                throw VaultError.accessDenied("only the case's manager (\(source.case.manager)) or supervisor (\(source.case.supervisor)) moves a document of \(number)")
            }
            let destination = try signed.keptCase(targetNumber)
            if let hold = try signed.hold(number) {
                throw VaultError.accessDenied("\(number) is on legal hold since \(hold.at) (\(hold.by)): nothing leaves it until the hold is released")
            }
            if source.case.status == CaseStatus.closed.rawValue {
                throw VaultError.invalidInput("\(number) is closed: nothing leaves a closed case (its keeping counts from what it holds); reopen it first")
            }
            if destination.case.status == CaseStatus.closed.rawValue {
                throw VaultError.invalidInput("\(targetNumber) is closed: nothing is moved into a closed case (it would be disposed of with it); reopen it first")
            }
            if let held = try RetentionSchedule(signed, asOf: now)?.policyHold(of: source.case) {
                throw VaultError.accessDenied("\(number) is on legal hold: \(held); nothing leaves it until the policy lifts it")
            }
            guard let record = try signed.document(number, name) else {
                throw VaultError.notFound("case \(number) has no document named '\(name)'")
            }
            guard try signed.document(targetNumber, toName) == nil else {
                throw VaultError.alreadyExists("\(targetNumber) already has a document named '\(toName)'; give it another name with --name")
            }
            // The actor's tier keys of the source, checked against the case's.
            var tierKeys: [String: BoxKeyPair] = [:]
            func tierKey(_ tier: Tier, _ generation: Int) throws -> BoxKeyPair {
                if let keys = tierKeys["\(tier.rawValue) \(generation)"] { return keys }
                let keys = try self.tierKeys(of: source, tier: tier, generation: generation, actor: actor, signed: signed)
                tierKeys["\(tier.rawValue) \(generation)"] = keys
                return keys
            }
            var resealed: [DocumentMoved.Resealed] = []
            for version in try signed.versions(of: record) {
                guard let tier = Tier(rawValue: version.tier) else { throw VaultError.integrityFailure("a version record of \(number) is damaged") }
                if let (id, left) = try Self.departedHolder(of: destination, tier: tier, signed: signed) {
                    throw VaultError.accessDenied("the \(tier.rawValue) tier of \(targetNumber) is still sealed to '\(id)', who left the staff on \(left.at); nothing is moved into it until it rotates")
                }
                if let (id, left) = try Self.departedKeyMaker(of: destination, tier: tier, signed: signed) {
                    throw VaultError.accessDenied("the \(tier.rawValue) tier key of \(targetNumber) was made by '\(id)', who left the staff on \(left.at); nothing is moved into it until it rotates")
                }
                let sealed = try signed.blob(version.sealedFileKeyHash, what: "the sealed file key of \(number) '\(name)' v\(version.version)")
                let fileKey: SecureBytes
                do { fileKey = try SealedBox.open(sealed, with: try tierKey(tier, version.keyGeneration)) } catch let error as VaultError { throw error } catch {
                    throw VaultError.integrityFailure("the sealed file key of \(number) '\(name)' v\(version.version) failed authentication")
                }
                guard fileKey.count == SecretStream.keyLength else {
                    throw VaultError.integrityFailure("the file key of \(number) '\(name)' v\(version.version) is malformed")
                }
                // The key must be this version's own: its object's first chunk
                // authenticates under it with the version's associated data. A
                // version signed by hand naming another document's sealed key
                // would otherwise carry that key into the target case.
                try authenticateFirstChunk(of: version, key: fileKey, in: number, name)
                let again = SealedBox.seal(fileKey, to: try destination.case.publicKey(for: tier))
                resealed.append(DocumentMoved.Resealed(version: version.version, sealedFileKeyHash: try Ledger.putBlob(again, in: writer)))
            }
            try Ledger.append([.documentMoved(DocumentMoved(case: number, document: name, to: targetNumber, toDocument: toName,
                                                            reason: reason, versions: resealed))],
                              by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
        }
        return try versions(caseNumber: targetNumber, document: toName)
    }

    /// Decrypts (and drops) only the first chunk of a version's object,
    /// which authenticates the key and the associated data together.
    private func authenticateFirstChunk(of version: VersionRecord, key: SecureBytes, in number: String, _ name: String) throws {
        struct Enough: Error {}
        guard let id = ObjectID(hex: version.objectId), let tier = Tier(rawValue: version.tier) else {
            throw VaultError.integrityFailure("a version record of \(number) is damaged")
        }
        let origin = version.origin ?? VersionOrigin(case: version.caseNumber, document: version.document)
        let ad = objectAssociatedData(caseNumber: origin.case, document: origin.document, version: version.version, type: version.type,
                                      tier: tier, stamp: version.stamp, vault: origin.vault)
        let reader = try objects.open(id)
        do {
            try SecretStream.decrypt(key: key, associatedData: ad, read: reader.read(into:), write: { _ in throw Enough() })
        } catch is Enough {
            return
        } catch CryptoError.authenticationFailed {
            throw VaultError.integrityFailure("\(number) '\(name)' version \(version.version) does not open with its own sealed key; it was not filed by casevault (run 'casevault verify')")
        }
    }

    /// Where the documents a case moved away went (for `case show`).
    public func movedDocuments(of caseNumber: String) throws -> [DocumentMove] {
        let number = try CaseNumber.parse(caseNumber).description
        return try read { reader, head in
            guard head.size > 0 else { throw VaultError.notFound("no case \(number)") }
            return try head.signedState(reader).movesOut(number).map(DocumentMove.init)
        }
    }
}

/// A document a case moved to another (its tombstone).
public struct DocumentMove: Sendable, Equatable {
    public let document: String
    public let toCase: String
    public let toDocument: String
    public let at: Date
    public let by: String
    public let versions: Int
    public let reason: String

    init(_ record: MoveRecord) throws {
        guard let at = Timestamp.date(from: record.at) else {
            throw VaultError.integrityFailure("the move of \(record.caseNumber) '\(record.document)' is damaged")
        }
        self.init(document: record.document, toCase: record.toCase, toDocument: record.toDocument, at: at, by: record.by,
                  versions: record.versions, reason: record.reason)
    }

    init(document: String, toCase: String, toDocument: String, at: Date, by: String, versions: Int, reason: String) {
        self.document = document
        self.toCase = toCase
        self.toDocument = toDocument
        self.at = at
        self.by = by
        self.versions = versions
        self.reason = reason
    }
}
