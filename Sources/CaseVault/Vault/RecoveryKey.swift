internal import Foundation
internal import CaseVaultCrypto

/// The offline recovery key (design §3): an X25519 key pair whose public
/// half is in the vault config and to which every case's tier keys are
/// also sealed, so cases stay openable when all their holders have left.
///
/// File format (SECURITY.md §6), UTF-8 text:
///
///     # casevault recovery key … (comment lines, ignored)
///     CASEVAULT-RECOVERY-KEY-1
///     vault <vault id>
///     key <64 hex digits of the X25519 secret key, in 8 groups of 8 joined by '-'>
///     check <first 8 hex digits of BLAKE2b-256("casevault recovery key" || vault id || secret key)>
///
/// The check line catches a mistyped key when it is entered from paper.
enum RecoveryKey {
    static let header = "CASEVAULT-RECOVERY-KEY-1"

    /// Refuses an existing file and any place inside the vault folder: the
    /// point of the key is to be kept apart from the vault.
    static func checkDestination(_ path: String, vaultPath: String) throws {
        if FileSystem.exists(path) {
            throw VaultError.alreadyExists("\(path) already exists; the recovery key is never written over another file")
        }
        let folder = AtomicFile.parentFolder(of: path)
        guard FileSystem.isDirectory(folder) else {
            throw VaultError.notFound("folder \(folder) does not exist")
        }
        if FileSystem.isInside(folder, vaultPath) {
            throw VaultError.invalidInput("the recovery key must not be written inside the vault folder")
        }
    }

    static func write(_ keys: BoxKeyPair, vaultID: String, createdAt: Date, to path: String) throws {
        let checksum = Blake2b()
        checksum.update(Array("casevault recovery key".utf8))
        checksum.update(Array(vaultID.utf8))
        checksum.update(keys.secretKey)
        let check = Array(checksum.finalize().prefix(4)).hexString
        let preamble = """
            # casevault recovery key
            # Vault \(vaultID), created \(Timestamp.string(from: createdAt)).
            # Anyone holding this key and a copy of the vault can open every case in it.
            # Print it or keep it on removable media in a locked place, away from the vault.
            # It cannot be made again: if it is lost, cases whose holders have all left stay closed.
            \(header)
            vault \(vaultID)
            key 
            """
        // The secret's hex form is built in wiped memory, never in a String.
        let keyLine = SecureBytes(count: 64 + 7)
        let digits = Array("0123456789abcdef".utf8)
        keys.secretKey.withUnsafeBytes { secret in
            keyLine.withUnsafeMutableBytes { out in
                var o = 0
                for (i, byte) in secret.enumerated() {
                    if i > 0 && i % 4 == 0 { out[o] = UInt8(ascii: "-"); o += 1 }
                    out[o] = digits[Int(byte >> 4)]; out[o + 1] = digits[Int(byte & 0x0f)]; o += 2
                }
            }
        }
        try AtomicFile.write(to: path, replacing: false, mode: 0o400) { fd in
            try fd.write(Array(preamble.utf8))
            try keyLine.withUnsafeBytes { try fd.write($0) }
            try fd.write(Array("\ncheck \(check)\n".utf8))
        }
    }
}
