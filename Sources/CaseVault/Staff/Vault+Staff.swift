public import Foundation
internal import CaseVaultCrypto

extension StaffMember {
    init(_ record: StaffRecord) throws {
        guard let role = Role(rawValue: record.role), let added = Timestamp.date(from: record.addedAt) else {
            throw VaultError.integrityFailure("staff record '\(record.id)' is damaged")
        }
        self.init(id: record.id, name: record.name, role: role, createdAt: added, createdBy: record.addedBy,
                  boxPublicKeyHex: record.boxPublicKey, signingPublicKeyHex: record.signingPublicKey,
                  left: record.left.map { Departure(at: Timestamp.date(from: $0.at) ?? added, by: $0.by, reason: $0.reason) })
    }
}

/// What a member's wrapped keys seal besides the keys (SECURITY.md §4):
/// the vault's id, the leaf hash of the log's first event (which carries the
/// recovery key and the policy) and the log's tree head before the member
/// joined or last set their passphrase. Unlock checks that today's log still
/// holds that prefix, so a log rewritten from its root is refused for every
/// existing member instead of being believed.
struct KeyAnchor: Equatable {
    static let length = 16 + 32 + 8 + 32
    let vaultID: [UInt8]
    let firstEvent: [UInt8]
    let size: Int64
    let root: [UInt8]

    init(vaultID: String, firstEvent: [UInt8], size: Int64, root: [UInt8]) {
        self.vaultID = Self.uuidBytes(vaultID)
        self.firstEvent = firstEvent
        self.size = size
        self.root = root
    }

    init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.length else { return nil }
        let all = Array(bytes)
        vaultID = Array(all[0..<16])
        firstEvent = Array(all[16..<48])
        size = Int64(bitPattern: all[48..<56].reversed().reduce(0) { ($0 << 8) | UInt64($1) })
        root = Array(all[56..<88])
    }

    var bytes: [UInt8] {
        vaultID + firstEvent + (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: size) >> (8 * UInt64($0))) } + root
    }

    static func uuidBytes(_ text: String) -> [UInt8] {
        guard let uuid = UUID(uuidString: text) else { return [UInt8](repeating: 0, count: 16) }
        return withUnsafeBytes(of: uuid.uuid) { Array($0) }
    }
}

extension Vault {
    /// Every staff member, ordered by id.
    public func staff() throws -> [StaffMember] {
        try read { reader, head in
            head.size == 0 ? [] : try head.signedState(reader).allStaff().map(StaffMember.init)
        }
    }

    public func staffMember(id: String) throws -> StaffMember {
        try read { reader, head in try StaffMember(try staffRecord(id, reader: reader, head: head)) }
    }

    func staffRecord(_ id: String, reader: any CatalogReader, head: TrustedHead) throws -> StaffRecord {
        guard head.size > 0, let record = try head.signedState(reader).staff(id) else {
            if head.size > 0 { throw try head.signedState(reader).missingStaff(id) }
            throw VaultError.notFound("no staff member with id '\(id)'")
        }
        return record
    }

    /// Unlocks a member's secret keys with their passphrase. The wrapped
    /// blob must be the one their signed record names (a stale blob put
    /// back after a passphrase change is refused); the public keys are
    /// re-derived from the secrets and must equal the signed ones; and the
    /// anchor sealed with the keys must be a prefix of today's log.
    public func unlock(staffID: String, passphrase: Passphrase) throws -> StaffIdentity {
        let (record, blob, firstLeaf) = try read { reader, head -> (StaffRecord, [UInt8], [UInt8]) in
            let record = try staffRecord(staffID, reader: reader, head: head)
            if let left = record.left {
                throw VaultError.accessDenied("'\(staffID)' left the staff on \(left.at) (recorded by \(left.by)): their keys no longer unlock this vault")
            }
            let blob = try head.signedState(reader).blob(record.wrappedKeysHash, what: "the wrapped keys of '\(staffID)'")
            guard let first = try reader.event(seq: 1) else { throw VaultError.integrityFailure("the log has no first event") }
            return (record, blob, LogTree.leafHash(body: first.body, signature: first.signature))
        }
        let member = try StaffMember(record)
        let material: SecureBytes
        do {
            material = try WrappedSecret.unwrap(blob, passphrase: passphrase.bytes)
        } catch CryptoError.authenticationFailed {
            throw VaultError.wrongPassphrase(staffID: staffID)
        } catch CryptoError.outOfMemory {
            throw VaultError.io("not enough memory to derive the key for '\(staffID)'")
        } catch {
            throw VaultError.integrityFailure("the wrapped keys of '\(staffID)' are damaged")
        }
        let keyLength = BoxKeyPair.secretKeyLength + SigningKeyPair.secretKeyLength
        let anchored = (try? WrappedSecret.format(of: blob)) == WrappedSecret.anchoredMagic
        guard material.count == keyLength + (anchored ? KeyAnchor.length : 0) else {
            throw VaultError.integrityFailure("the wrapped keys of '\(staffID)' have the wrong length")
        }
        let identity: StaffIdentity
        do {
            let box = try BoxKeyPair(secretKey: material.slice(0..<BoxKeyPair.secretKeyLength))
            let signing = try SigningKeyPair(secretKey: material.slice(BoxKeyPair.secretKeyLength..<keyLength))
            guard box.publicKey.bytes.hexString == record.boxPublicKey, signing.publicKey.bytes.hexString == record.signingPublicKey else {
                throw VaultError.integrityFailure("the keys of '\(staffID)' do not match their signed public keys")
            }
            identity = StaffIdentity(member: member, boxKeys: box, signingKeys: signing, isAnchored: anchored)
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError.integrityFailure("the wrapped keys of '\(staffID)' are damaged")
        }
        if anchored {
            let anchor = material.withUnsafeBytes { KeyAnchor(bytes: UnsafeRawBufferPointer(rebasing: $0[keyLength...])) }!
            try check(anchor, of: staffID, firstLeaf: firstLeaf)
            identity.anchor = anchor
        }
        return identity
    }

    /// The anchor a member's keys sealed must be this vault's, start at
    /// today's first event, and be a prefix of today's log (adopted as a
    /// trust anchor, which checks that).
    func check(_ anchor: KeyAnchor, of staffID: String, firstLeaf: [UInt8]) throws {
        guard anchor.vaultID == KeyAnchor.uuidBytes(config.vaultId) else {
            throw VaultError.integrityFailure("the wrapped keys of '\(staffID)' belong to another vault")
        }
        guard anchor.firstEvent == firstLeaf else {
            throw VaultError.integrityFailure("the log's first event is not the one '\(staffID)' joined: the vault's log was rewritten from its root")
        }
        try adopt(TrustAnchor(size: anchor.size, root: anchor.root, source: "the log as '\(staffID)' last saw it when setting their passphrase"))
    }

    /// Adds a staff member with fresh key pairs wrapped under `passphrase`.
    /// Only an admin may add staff; the first member of a vault made without
    /// one is added with `addFirstAdmin`.
    @discardableResult
    public func addStaff(id: String, name: String, role: Role, passphrase: Passphrase,
                         by actor: StaffIdentity, now: Date = Date()) throws -> StaffMember {
        try StaffMember.validate(id: id)
        try StaffMember.validate(name: name)
        guard Policy.staffManagingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("only an admin may add staff; '\(actor.id)' is \(actor.role.withArticle)")
        }
        try passphrase.validateAsNew()
        let identity = StaffIdentity(
            member: StaffMember(id: id, name: name, role: role, createdAt: now, createdBy: actor.id, boxPublicKeyHex: "", signingPublicKeyHex: ""),
            boxKeys: BoxKeyPair(), signingKeys: SigningKeyPair(), isAnchored: true)
        // Argon2id runs before the write lock is taken, against the head as
        // it stands now: any later head extends it, so the anchor holds.
        let anchor = try read { reader, head -> KeyAnchor in
            guard try head.signedState(reader).staff(id) == nil else {
                throw VaultError.alreadyExists("staff member '\(id)' already exists")
            }
            return try currentAnchor(reader: reader, head: head)
        }
        let wrapped = try wrap(identity, passphrase: passphrase, anchor: anchor)
        try write { writer, head in
            let signed = head.signedState(writer)
            guard let current = try signed.staff(actor.id), current.role == Role.admin.rawValue else {
                throw VaultError.accessDenied("'\(actor.id)' is no longer an admin")
            }
            guard try signed.staff(id) == nil else { throw VaultError.alreadyExists("staff member '\(id)' already exists") }
            let hash = try Ledger.putBlob(wrapped, in: writer)
            try Ledger.append([.staffAdded(StaffAdded(id: id, name: name, role: role.rawValue,
                                                      boxPublicKey: identity.keys.boxPublicKey.bytes.hexString,
                                                      signingPublicKey: identity.keys.signingPublicKey.bytes.hexString,
                                                      wrappedKeysHash: hash))],
                              by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            // A member who searches by client name gets the vault's search key now (SECURITY.md §12e).
            try shareSearchKey(with: id, by: actor, now: now, head: &head, writer: writer)
        }
        return try staffMember(id: id)
    }

    /// The first admin of a vault made without one: they sign the vault's
    /// settings as `casevault.json` holds them, so they must first check
    /// those are the settings `init` wrote, by the fingerprint `init`
    /// printed (an edited config changes it).
    @discardableResult
    public func addFirstAdmin(id: String, name: String, passphrase: Passphrase, settingsFingerprint: String,
                              now: Date = Date()) throws -> StaffMember {
        guard settingsFingerprint.lowercased() == config.settingsFingerprint else {
            throw VaultError.integrityFailure("this vault's settings (casevault.json) do not have the fingerprint you gave: they were changed since 'casevault init' printed it")
        }
        return try addFirstAdmin(id: id, name: name, passphrase: passphrase, now: now)
    }

    /// The vault's first two events: `vault.created` with the settings of
    /// `casevault.json`, and the first admin adding themselves, both signed
    /// by the new admin's key.
    func addFirstAdmin(id: String, name: String, passphrase: Passphrase, now: Date) throws -> StaffMember {
        try StaffMember.validate(id: id)
        try StaffMember.validate(name: name)
        try passphrase.validateAsNew()
        let identity = StaffIdentity(
            member: StaffMember(id: id, name: name, role: .admin, createdAt: now, createdBy: nil, boxPublicKeyHex: "", signingPublicKeyHex: ""),
            boxKeys: BoxKeyPair(), signingKeys: SigningKeyPair(), isAnchored: true)
        // The anchor is the log after event 1, which is fully determined
        // here (Ed25519 signatures are deterministic), so it is computed in a
        // scratch catalog before the (slow) wrapping and checked after.
        let created = EventData.vaultCreated(config.vaultCreated)
        var scratchHead = TrustedHead.empty
        scratchHead.eventFormat = eventFormat
        _ = try MemoryCatalogStore().write { writer in
            try Ledger.append([created], by: identity, at: now, vaultID: config.vaultId, head: &scratchHead, in: writer)
        }
        let firstLeaf = scratchHead.logRoot
        let wrapped = try wrap(identity, passphrase: passphrase,
                               anchor: KeyAnchor(vaultID: config.vaultId, firstEvent: firstLeaf, size: 1, root: firstLeaf))
        try write { writer, head in
            guard head.size == 0, try writer.lastEventSeq() == 0 else {
                throw VaultError.accessDenied("this vault already has staff; act as an admin (--as ID) to add more")
            }
            let hash = try Ledger.putBlob(wrapped, in: writer)
            try Ledger.append([created, .staffAdded(StaffAdded(id: id, name: name, role: Role.admin.rawValue,
                                                               boxPublicKey: identity.keys.boxPublicKey.bytes.hexString,
                                                               signingPublicKey: identity.keys.signingPublicKey.bytes.hexString,
                                                               wrappedKeysHash: hash))],
                              by: identity, at: now, vaultID: config.vaultId, head: &head, in: writer)
            guard try writer.event(seq: 1)?.leafHash == firstLeaf else {
                throw VaultError.integrityFailure("the vault's first event differs from the one sealed into the admin's keys")
            }
        }
        return try staffMember(id: id)
    }

    /// Re-wraps the acting member's keys under a new passphrase, with the
    /// vault's current Argon2id parameters and a fresh anchor. The key
    /// pairs stay the same (SECURITY.md §4).
    public func changePassphrase(of identity: StaffIdentity, to newPassphrase: Passphrase, now: Date = Date()) throws {
        try newPassphrase.validateAsNew()
        let anchor = try read { reader, head in try currentAnchor(reader: reader, head: head) }
        let wrapped = try wrap(identity, passphrase: newPassphrase, anchor: anchor)
        try write { writer, head in
            let record = try staffRecord(identity.id, reader: writer, head: head)
            guard record.boxPublicKey == identity.keys.boxPublicKey.bytes.hexString,
                  record.signingPublicKey == identity.keys.signingPublicKey.bytes.hexString else {
                throw VaultError.integrityFailure("the keys of '\(identity.id)' changed while the passphrase was being set")
            }
            let hash = try Ledger.putBlob(wrapped, in: writer)
            try Ledger.append([.passphraseChanged(PassphraseChanged(id: identity.id, wrappedKeysHash: hash))],
                              by: identity, at: now, vaultID: config.vaultId, head: &head, in: writer)
            // The old wrapping opens with the old passphrase: erase it
            // (copies made before, in backups, remain: SECURITY.md §4).
            if record.wrappedKeysHash != hash { try writer.deleteBlob(hash: record.wrappedKeysHash) }
        }
    }

    /// The anchor a key wrapped now seals: this vault, its first event, and
    /// the trusted head.
    private func currentAnchor(reader: any CatalogReader, head: TrustedHead) throws -> KeyAnchor {
        let first = try Trust.trustedRecord(1, range: head.range, reader: reader)
        return KeyAnchor(vaultID: config.vaultId, firstEvent: first.leaf, size: head.size, root: head.logRoot)
    }

    private func wrap(_ identity: StaffIdentity, passphrase: Passphrase, anchor: KeyAnchor) throws -> [UInt8] {
        let keys = try identity.secretKeyMaterial()
        let anchorBytes = anchor.bytes
        let material = SecureBytes(count: keys.count + anchorBytes.count)
        material.withUnsafeMutableBytes { out in
            keys.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            anchorBytes.withUnsafeBytes { (out.baseAddress! + keys.count).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        do {
            return try WrappedSecret.wrap(material, passphrase: passphrase.bytes, parameters: config.passwordHashParameters,
                                          magic: WrappedSecret.anchoredMagic)
        } catch CryptoError.outOfMemory {
            throw VaultError.io("not enough memory for the vault's key-derivation parameters")
        } catch {
            throw VaultError.integrityFailure("the vault's key-derivation parameters are not usable")
        }
    }
}
