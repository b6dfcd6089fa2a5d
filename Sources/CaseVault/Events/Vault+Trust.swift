internal import CaseVaultCrypto
internal import Foundation
internal import GRDB

/// Public keys are sealed to only after checking them against the signed
/// log (SECURITY.md §14): someone who can write to the
/// vault folder could otherwise put their own key in a staff or case row
/// and receive every key sealed to it afterwards.
///
/// A staff member's keys are trusted when their row equals their
/// `staff.added` event and that event's signature verifies under the
/// signing key of its signer, an admin, trusted the same way; the chain
/// ends at the first admin, whose `staff.added` (event 2, after
/// `vault.created`) is self-signed. A case's keys are trusted when its row
/// equals its `case.opened` event, signed by a trusted member whose role
/// may open cases. Someone who rewrites the whole log with a root of their
/// own defeats this until checkpoints pin the root (planned).
extension Vault {
    struct TrustedStaff {
        let box: BoxPublicKey
        let signing: SigningPublicKey
        let role: Role
    }

    private func signedEvent(type: EventType, key: String, value: String, in db: Database) throws -> EventRow {
        let rows = try EventRow.fetchAll(db, sql: """
            SELECT * FROM events WHERE type = ? AND json_extract(CAST(body AS TEXT), '$.data.\(key)') = ?
            """, arguments: [type.rawValue, value])
        guard rows.count == 1, let row = rows.first else {
            throw VaultError.integrityFailure("the log has \(rows.count) \(type.rawValue) events for \(value), not one")
        }
        return row
    }

    func trustedStaff(_ id: String, in db: Database, depth: Int = 0) throws -> TrustedStaff {
        guard depth < 64 else { throw VaultError.integrityFailure("the chain of admins who added '\(id)' does not end") }
        guard let row = try StaffRow.fetchOne(db, key: id), let role = Role(rawValue: row.role) else {
            throw VaultError.notFound("no staff member with id '\(id)'")
        }
        let event = try signedEvent(type: .staffAdded, key: "id", value: id, in: db)
        let data = try JSONValue(parsing: Array(event.body))["data"]
        guard data?["boxPublicKey"]?.stringValue == Array(row.box_public_key).hexString,
              data?["signingPublicKey"]?.stringValue == Array(row.signing_public_key).hexString,
              data?["role"]?.stringValue == row.role else {
            throw VaultError.integrityFailure("the keys or role of '\(id)' differ from their signed staff.added event")
        }
        let box = try BoxPublicKey(bytes: Array(row.box_public_key))
        let signing = try SigningPublicKey(bytes: Array(row.signing_public_key))
        let signer: SigningPublicKey
        if event.actor == id {
            // Only the first admin signs their own addition, right after vault.created.
            let first = try EventRow.fetchOne(db, key: 1)
            guard event.seq == 2, role == .admin, first?.actor == id, first?.type == EventType.vaultCreated.rawValue else {
                throw VaultError.integrityFailure("'\(id)' was added by no one but themselves")
            }
            signer = signing
        } else {
            let adder = try trustedStaff(event.actor, in: db, depth: depth + 1)
            guard adder.role == .admin else {
                throw VaultError.integrityFailure("'\(id)' was added by '\(event.actor)', who is not an admin")
            }
            signer = adder.signing
        }
        guard signer.isValidSignature(Array(event.signature), for: EventLog.signingContext + Array(event.body)) else {
            throw VaultError.integrityFailure("the staff.added event of '\(id)' has a bad signature")
        }
        return TrustedStaff(box: box, signing: signing, role: role)
    }

    func trustedCaseKey(_ row: CaseRow, tier: Tier, in db: Database) throws -> BoxPublicKey {
        let event = try signedEvent(type: .caseOpened, key: "case", value: row.number, in: db)
        let data = try JSONValue(parsing: Array(event.body))["data"]
        guard data?["teamPublicKey"]?.stringValue == Array(row.team_public_key).hexString,
              data?["confidentialPublicKey"]?.stringValue == Array(row.confidential_public_key).hexString else {
            throw VaultError.integrityFailure("the keys of case \(row.number) differ from its signed case.opened event")
        }
        let opener = try trustedStaff(event.actor, in: db)
        guard Self.caseOpeningRoles.contains(opener.role),
              opener.signing.isValidSignature(Array(event.signature), for: EventLog.signingContext + Array(event.body)) else {
            throw VaultError.integrityFailure("the case.opened event of \(row.number) is not validly signed")
        }
        return try row.publicKey(for: tier)
    }
}
