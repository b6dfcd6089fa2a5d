import CaseVaultCrypto
import Foundation

/// The PyNaCl vectors (scripts/make-crypto-vectors.py).
struct Vectors: Decodable {
    struct Stream: Decodable { var key, associatedData: String; var plaintextLength, plaintextSeed: Int; var plaintextSHA256, ciphertext: String }
    struct Sealed: Decodable { var secretKey, publicKey, message, sealed: String }
    struct Box: Decodable { var key, nonce, message, ciphertext: String }
    struct Argon: Decodable { var passphrase, salt: String; var opsLimit, memLimit: UInt64; var key: String }
    struct Ed: Decodable { var secretKey, publicKey, message, signature: String }
    struct X: Decodable { var secretKey, publicKey: String }
    struct Digest: Decodable { var length, seed: Int; var digest: String }
    struct Wrapped: Decodable { var passphrase, secret, blob: String }
    struct Foreign: Decodable { var tag, key, associatedData, ciphertext: String }

    var secretstream: [Stream]
    var sealedBox: [Sealed]
    var secretBox: [Box]
    var argon2id: [Argon]
    var ed25519: [Ed]
    var x25519: [X]
    var blake2b256: [Digest]
    var sha256: [Digest]
    var wrappedSecret: [Wrapped]
    var foreignTags: [Foreign]

    static let shared: Vectors = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Vectors/crypto-vectors.json")
        return try! JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }()
}

func hex(_ text: String) -> [UInt8] { [UInt8](hexString: text)! }

/// The same deterministic bytes as `pattern` in the vector script.
func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8((($0 * 31) + seed) % 251) }
}

/// A reader over an in-memory array that hands out at most `step` bytes a
/// call, to exercise short reads.
final class ArrayReader {
    let bytes: [UInt8]
    var offset = 0
    let step: Int
    init(_ bytes: [UInt8], step: Int = .max) { self.bytes = bytes; self.step = step }
    func read(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(buffer.count, bytes.count - offset, step)
        if n > 0 {
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
        }
        offset += n
        return n
    }
}

func encryptStream(_ plaintext: [UInt8], key: SecureBytes, ad: [UInt8], step: Int = .max) throws -> [UInt8] {
    let reader = ArrayReader(plaintext, step: step)
    var out: [UInt8] = []
    try SecretStream.encrypt(key: key, associatedData: ad, read: reader.read) { out.append(contentsOf: $0) }
    return out
}

func decryptStream(_ ciphertext: [UInt8], key: SecureBytes, ad: [UInt8], step: Int = .max) throws -> [UInt8] {
    let reader = ArrayReader(ciphertext, step: step)
    var out: [UInt8] = []
    try SecretStream.decrypt(key: key, associatedData: ad, read: reader.read) { out.append(contentsOf: $0) }
    return out
}

extension SecureBytes {
    var bytesForTesting: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// The CPU's feature flags as /proc/cpuinfo lists them (empty off Linux).
func cpuFlags() throws -> Set<String> {
    let info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
    return info.split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
}
