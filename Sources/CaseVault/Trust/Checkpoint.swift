internal import CaseVaultCrypto
public import Foundation

/// A signed tree head in the C2SP tlog-checkpoint form (SECURITY.md §12b):
/// a signed note whose text is the origin `casevault/<vault id>`, the tree
/// size in decimal and the base64 RFC 9162 root, each on its own line,
/// followed by a blank line and one signature line per signer:
/// `— casevault/<vault id>/<staff id> base64(key ID || Ed25519 signature)`,
/// the key ID being the first four bytes of
/// `SHA-256(key name || 0x0A || 0x01 || Ed25519 public key)`, the signature
/// being over the note text (with its final line feed) alone.
public struct Checkpoint: Sendable, Equatable {
    public struct Signature: Sendable, Equatable {
        public let keyName: String
        public let keyID: [UInt8]
        public let signature: [UInt8]
    }

    public let origin: String
    public let size: Int64
    public let root: [UInt8]
    public let signatures: [Signature]

    public static func origin(vaultID: String) -> String { "casevault/" + vaultID }
    static func keyName(vaultID: String, staffID: String) -> String { origin(vaultID: vaultID) + "/" + staffID }

    static func keyID(name: String, key: SigningPublicKey) -> [UInt8] {
        Array(SHA256.hash(Array(name.utf8) + [0x0a, 0x01] + key.bytes).prefix(4))
    }

    /// The note text: what is signed.
    public var text: String { "\(origin)\n\(size)\n\(Data(root).base64EncodedString())\n" }

    /// The whole note, as written to a file.
    public var note: String {
        text + "\n" + signatures.map { "— \($0.keyName) \(Data($0.keyID + $0.signature).base64EncodedString())\n" }.joined()
    }

    init(origin: String, size: Int64, root: [UInt8], signatures: [Signature]) {
        self.origin = origin
        self.size = size
        self.root = root
        self.signatures = signatures
    }

    /// Signs a tree head as one member.
    static func signed(vaultID: String, size: Int64, root: [UInt8], by identity: StaffIdentity) throws -> Checkpoint {
        let unsigned = Checkpoint(origin: origin(vaultID: vaultID), size: size, root: root, signatures: [])
        let name = keyName(vaultID: vaultID, staffID: identity.id)
        let signature = try identity.keys.sign(Array(unsigned.text.utf8))
        return Checkpoint(origin: unsigned.origin, size: size, root: root,
                          signatures: [Signature(keyName: name, keyID: keyID(name: name, key: identity.keys.signingPublicKey),
                                                 signature: signature)])
    }

    /// Parses a note strictly: exactly the three lines casevault writes,
    /// then at least one well-formed signature line.
    public init(parsing note: String) throws {
        func bad(_ why: String) -> VaultError { .invalidInput("not a casevault checkpoint: \(why)") }
        guard note.utf8.count <= 16_384, !note.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) else {
            throw bad("too long or has control characters")
        }
        guard let separator = note.range(of: "\n\n", options: .backwards) else { throw bad("no blank line before the signatures") }
        let text = String(note[..<separator.lowerBound]) + "\n"
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard lines.count == 3 else { throw bad("the text must be origin, size and root") }
        let origin = String(lines[0])
        guard origin.hasPrefix("casevault/"), !origin.contains(" "), !origin.contains("+") else { throw bad("unknown origin") }
        guard let size = Int64(lines[1]), size >= 0, String(size) == lines[1] else { throw bad("bad tree size") }
        guard let root = Data(base64Encoded: String(lines[2])), root.count == 32, root.base64EncodedString() == lines[2] else {
            throw bad("bad root hash")
        }
        var signatures: [Signature] = []
        for line in note[separator.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "—", !parts[1].isEmpty, !parts[1].contains("+"),
                  let raw = Data(base64Encoded: String(parts[2])), raw.count == 4 + SigningPublicKey.signatureLength else {
                throw bad("malformed signature line")
            }
            signatures.append(Signature(keyName: String(parts[1]), keyID: Array(raw.prefix(4)), signature: Array(raw.dropFirst(4))))
        }
        guard !signatures.isEmpty, note.hasSuffix("\n") else { throw bad("no signature") }
        self.init(origin: origin, size: size, root: Array(root), signatures: signatures)
    }

    /// The staff ids of the vault's members who signed, by key name.
    func signers(vaultID: String) -> [String] {
        let prefix = Self.origin(vaultID: vaultID) + "/"
        return signatures.compactMap { $0.keyName.hasPrefix(prefix) ? String($0.keyName.dropFirst(prefix.count)) : nil }
    }

    /// True when a signature by `staffID`'s key verifies over the text.
    func isSigned(by staffID: String, key: SigningPublicKey, vaultID: String) -> Bool {
        let name = Self.keyName(vaultID: vaultID, staffID: staffID)
        let id = Self.keyID(name: name, key: key)
        return signatures.contains { $0.keyName == name && $0.keyID == id && key.isValidSignature($0.signature, for: Array(text.utf8)) }
    }
}

/// Where a user's casevault keeps, outside every vault, the newest
/// checkpoint it has seen of each (SECURITY.md §12b): `$CASEVAULT_STATE_DIR`,
/// else `$XDG_STATE_HOME/casevault`, else `~/.local/state/casevault`; a
/// folder of mode 0700 owned by the user, one file `<vault id>.checkpoint`
/// per vault.
public struct CheckpointStore: Sendable {
    public let folder: String

    public init(folder: String) {
        self.folder = folder
    }

    /// The user's folder, from the environment; nil when there is no home.
    public static func userDefault(environment: [String: String] = ProcessInfo.processInfo.environment) -> CheckpointStore? {
        if let dir = environment["CASEVAULT_STATE_DIR"], !dir.isEmpty { return CheckpointStore(folder: dir) }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return CheckpointStore(folder: xdg + "/casevault") }
        if let home = environment["HOME"], home.hasPrefix("/") { return CheckpointStore(folder: home + "/.local/state/casevault") }
        return nil
    }

    func path(vaultID: String) -> String { folder + "/" + vaultID + ".checkpoint" }

    /// Refuses a folder others could write to: whoever can replace a
    /// checkpoint can make a rolled-back vault look current.
    func checkFolder(create: Bool) throws -> Bool {
        if !FileSystem.isDirectory(folder) {
            guard create else { return false }
            try FileSystem.makeDirectories(folder, mode: 0o700)
        }
        guard FileSystem.isPrivateFolder(folder) else {
            throw VaultError.io("the checkpoint folder \(folder) is not private to you (it must be yours and mode 0700)")
        }
        return true
    }

    public func load(vaultID: String) throws -> Checkpoint? {
        guard try checkFolder(create: false) else { return nil }
        let file = path(vaultID: vaultID)
        guard FileSystem.exists(file) else { return nil }
        let bytes = try FileSystem.openForReading(file).readAll(limit: 16_384)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw VaultError.integrityFailure("your checkpoint file \(file) is damaged")
        }
        do { return try Checkpoint(parsing: text) } catch {
            throw VaultError.integrityFailure("your checkpoint file \(file) is damaged")
        }
    }

    /// Keeps `checkpoint` unless the stored one is at least as new. Writers
    /// of the same user take a lock, so a slower process never replaces a
    /// newer checkpoint with an older one.
    public func save(_ checkpoint: Checkpoint, vaultID: String) throws {
        _ = try checkFolder(create: true)
        try FileSystem.withExclusiveLock(folder + "/" + vaultID + ".lock") {
            if let stored = try? load(vaultID: vaultID), stored.size >= checkpoint.size { return }
            try AtomicFile.write(to: path(vaultID: vaultID), replacing: true, mode: 0o600) {
                try $0.write(Array(checkpoint.note.utf8))
            }
        }
    }
}
