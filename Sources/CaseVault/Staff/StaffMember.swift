public import Foundation
internal import CaseVaultCrypto

/// A staff member as the catalog knows them: public facts only.
public struct StaffMember: Sendable, Equatable {
    public let id: String
    public let name: String
    public let role: Role
    public let createdAt: Date
    /// Who added them; nil for the first admin, created with the vault.
    public let createdBy: String?
    /// Hex fingerprints of the public keys, for display and audit.
    public let boxPublicKeyHex: String
    public let signingPublicKeyHex: String
    /// Set once the member left the staff (`staff.left`).
    public let left: Departure?

    public struct Departure: Sendable, Equatable {
        public let at: Date
        public let by: String
        public let reason: String
    }

    init(id: String, name: String, role: Role, createdAt: Date, createdBy: String?, boxPublicKeyHex: String,
         signingPublicKeyHex: String, left: Departure? = nil) {
        self.id = id
        self.name = name
        self.role = role
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.boxPublicKeyHex = boxPublicKeyHex
        self.signingPublicKeyHex = signingPublicKeyHex
        self.left = left
    }

    /// Staff identifiers: 2–64 characters of a–z, 0–9, '.', '_' and '-',
    /// starting with a letter or digit. They appear in event logs, exports
    /// and file names, so they are kept plain.
    public static func validate(id: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-")
        guard (2...64).contains(id.count), id.allSatisfy({ allowed.contains($0) }),
              let first = id.first, first.isLetter || first.isNumber else {
            throw VaultError.invalidInput("staff id '\(id)' is not valid: use 2 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
        }
    }

    public static func validate(name: String) throws {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed == name, name.count <= 200,
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw VaultError.invalidInput("staff name must be 1 to 200 printable characters without leading or trailing spaces")
        }
    }
}

/// A staff member whose secret keys are unlocked for this process. The keys
/// live in wiped memory and are dropped with this object.
public final class StaffIdentity {
    public let member: StaffMember
    let keys: any SecretKeys
    /// False for keys wrapped before format 2 (CVW1): they seal no anchor,
    /// so only a saved checkpoint pins the log for this member until they
    /// next set their passphrase.
    public let isAnchored: Bool
    /// What the wrapped keys sealed besides them (SECURITY.md §4), once
    /// checked: handed to the agent, which hands it to its clients.
    var anchor: KeyAnchor?

    init(member: StaffMember, keys: any SecretKeys, isAnchored: Bool) {
        self.member = member
        self.keys = keys
        self.isAnchored = isAnchored
    }

    convenience init(member: StaffMember, boxKeys: BoxKeyPair, signingKeys: SigningKeyPair, isAnchored: Bool) {
        self.init(member: member, keys: LocalKeys(box: boxKeys, signing: signingKeys), isAnchored: isAnchored)
    }

    public var id: String { member.id }
    public var role: Role { member.role }
    /// True when the keys are held by the casevault agent (`casevault unlock`).
    public var isFromAgent: Bool { !(keys is LocalKeys) }

    /// The secret-key plaintext that gets wrapped: X25519 secret (32 bytes)
    /// then Ed25519 secret (64 bytes) (SECURITY.md §4). Only keys unwrapped
    /// in this process have it: the agent never hands its keys out.
    func secretKeyMaterial() throws -> SecureBytes {
        guard let local = keys as? LocalKeys else {
            throw VaultError.invalidInput("the agent holds '\(id)'s keys and never hands them out; give your passphrase for this command")
        }
        let material = SecureBytes(count: BoxKeyPair.secretKeyLength + SigningKeyPair.secretKeyLength)
        material.withUnsafeMutableBytes { out in
            local.box.secretKey.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            local.signing.secretKey.withUnsafeBytes {
                (out.baseAddress! + BoxKeyPair.secretKeyLength).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
            }
        }
        return material
    }
}
