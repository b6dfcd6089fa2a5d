public import Foundation
internal import CaseVaultCrypto
internal import GRDB

/// One row of the `staff` table.
struct StaffRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "staff"
    var id: String
    var name: String
    var role: String
    // Data, not [UInt8]: GRDB stores Data as a BLOB but encodes arrays as JSON text.
    var box_public_key: Data
    var signing_public_key: Data
    var wrapped_secret_keys: Data
    var created_at: String
    var created_by: String?

    func member() throws -> StaffMember {
        guard let role = Role(rawValue: role), let createdAt = Timestamp.date(from: created_at) else {
            throw VaultError.integrityFailure("staff record '\(id)' is damaged")
        }
        return StaffMember(id: id, name: name, role: role, createdAt: createdAt, createdBy: created_by,
                           boxPublicKeyHex: Array(box_public_key).hexString,
                           signingPublicKeyHex: Array(signing_public_key).hexString)
    }
}

extension Vault {
    /// Every staff member, ordered by id.
    public func staff() throws -> [StaffMember] {
        try catalog.read { db in try StaffRow.order(Column("id")).fetchAll(db) }.map { try $0.member() }
    }

    public func staffMember(id: String) throws -> StaffMember {
        try staffRow(id: id).member()
    }

    func staffRow(id: String) throws -> StaffRow {
        guard let row = try catalog.read({ db in try StaffRow.fetchOne(db, key: id) }) else {
            throw VaultError.notFound("no staff member with id '\(id)'")
        }
        return row
    }

    /// Unlocks a member's secret keys with their passphrase. The public keys
    /// are re-derived from the unwrapped secrets and must equal those in the
    /// catalog, so a wrapped-key blob swapped between members is caught.
    public func unlock(staffID: String, passphrase: Passphrase) throws -> StaffIdentity {
        let row = try staffRow(id: staffID)
        let member = try row.member()
        let material: SecureBytes
        do {
            material = try WrappedSecret.unwrap(Array(row.wrapped_secret_keys), passphrase: passphrase.bytes)
        } catch CryptoError.authenticationFailed {
            throw VaultError.wrongPassphrase(staffID: staffID)
        } catch CryptoError.outOfMemory {
            throw VaultError.io("not enough memory to derive the key for '\(staffID)'")
        } catch {
            throw VaultError.integrityFailure("the wrapped keys of '\(staffID)' are damaged")
        }
        guard material.count == BoxKeyPair.secretKeyLength + SigningKeyPair.secretKeyLength else {
            throw VaultError.integrityFailure("the wrapped keys of '\(staffID)' have the wrong length")
        }
        do {
            let box = try BoxKeyPair(secretKey: material.slice(0..<BoxKeyPair.secretKeyLength))
            let signing = try SigningKeyPair(secretKey: material.slice(BoxKeyPair.secretKeyLength..<material.count))
            guard box.publicKey.bytes == Array(row.box_public_key), signing.publicKey.bytes == Array(row.signing_public_key) else {
                throw VaultError.integrityFailure("the keys of '\(staffID)' do not match their public keys in the catalog")
            }
            return StaffIdentity(member: member, boxKeys: box, signingKeys: signing)
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError.integrityFailure("the wrapped keys of '\(staffID)' are damaged")
        }
    }

    /// Adds a staff member with fresh key pairs wrapped under `passphrase`.
    ///
    /// Only an admin may add staff. The one exception is the first member of
    /// an empty vault, who must be an admin and is added with no actor
    /// (`casevault init --admin-id`, or `staff add` on a vault made without
    /// one); the check runs inside the write transaction, so two processes
    /// cannot both bootstrap.
    @discardableResult
    public func addStaff(id: String, name: String, role: Role, passphrase: Passphrase,
                         by actor: StaffIdentity?, now: Date = Date()) throws -> StaffMember {
        try StaffMember.validate(id: id)
        try StaffMember.validate(name: name)
        if let actor {
            guard actor.role == .admin else {
                throw VaultError.accessDenied("only an admin may add staff; '\(actor.id)' is a \(actor.role.displayName)")
            }
        }
        try passphrase.validateAsNew()
        let identity = StaffIdentity(
            member: StaffMember(id: id, name: name, role: role, createdAt: now, createdBy: actor?.id,
                                boxPublicKeyHex: "", signingPublicKeyHex: ""),
            boxKeys: BoxKeyPair(), signingKeys: SigningKeyPair())
        let wrapped = try wrap(identity, passphrase: passphrase)
        let row = StaffRow(id: id, name: name, role: role.rawValue,
                           box_public_key: Data(identity.boxKeys.publicKey.bytes),
                           signing_public_key: Data(identity.signingKeys.publicKey.bytes),
                           wrapped_secret_keys: Data(wrapped),
                           created_at: Timestamp.string(from: now), created_by: actor?.id)
        try catalog.write { db in
            let signer = actor ?? identity
            if actor == nil {
                guard try StaffRow.fetchCount(db) == 0 else {
                    throw VaultError.accessDenied("this vault already has staff; act as an admin (--as ID) to add more")
                }
                guard role == .admin else {
                    throw VaultError.invalidInput("the first staff member of a vault must be an admin")
                }
            } else if let actor, try StaffRow.fetchOne(db, key: actor.id)?.role != Role.admin.rawValue {
                throw VaultError.accessDenied("'\(actor.id)' is no longer an admin")
            }
            guard try StaffRow.fetchOne(db, key: id) == nil else {
                throw VaultError.alreadyExists("staff member '\(id)' already exists")
            }
            if actor == nil {
                // The first admin opens the log: the vault's settings, signed.
                try EventLog.append(.vaultCreated, data: config.eventData, actor: signer,
                                    vaultID: config.vaultId, at: now, in: db)
            }
            try row.insert(db)
            try EventLog.append(.staffAdded, data: [
                "id": .string(id), "name": .string(name), "role": .string(role.rawValue),
                "boxPublicKey": hexValue(identity.boxKeys.publicKey.bytes),
                "signingPublicKey": hexValue(identity.signingKeys.publicKey.bytes),
                "wrappedKeysHash": blobHash(wrapped),
            ], actor: signer, vaultID: config.vaultId, at: now, in: db)
        }
        return try row.member()
    }

    /// Re-wraps the acting member's keys under a new passphrase, with the
    /// vault's current Argon2id parameters.
    public func changePassphrase(of identity: StaffIdentity, to newPassphrase: Passphrase, now: Date = Date()) throws {
        try newPassphrase.validateAsNew()
        let wrapped = try wrap(identity, passphrase: newPassphrase)
        try catalog.write { db in
            guard var row = try StaffRow.fetchOne(db, key: identity.id) else {
                throw VaultError.notFound("no staff member with id '\(identity.id)'")
            }
            guard Array(row.box_public_key) == identity.boxKeys.publicKey.bytes,
                  Array(row.signing_public_key) == identity.signingKeys.publicKey.bytes else {
                throw VaultError.integrityFailure("the keys of '\(identity.id)' changed while the passphrase was being set")
            }
            row.wrapped_secret_keys = Data(wrapped)
            try row.update(db)
            try EventLog.append(.passphraseChanged, data: ["id": .string(identity.id), "wrappedKeysHash": blobHash(wrapped)],
                                actor: identity, vaultID: config.vaultId, at: now, in: db)
        }
    }

    private func wrap(_ identity: StaffIdentity, passphrase: Passphrase) throws -> [UInt8] {
        do {
            return try WrappedSecret.wrap(identity.secretKeyMaterial(), passphrase: passphrase.bytes,
                                          parameters: config.passwordHashParameters)
        } catch CryptoError.outOfMemory {
            throw VaultError.io("not enough memory for the vault's key-derivation parameters")
        } catch {
            throw VaultError.integrityFailure("the vault's key-derivation parameters are not usable")
        }
    }
}
