@testable import CaseVaultCrypto
import CSecretStream
import CSodium
import Testing

/// casevault's Poly1305 (CSecretStream's poly1305.c) authenticates every
/// secretstream chunk where the CPU has AVX-512: its tags must be
/// libsodium's for every length, split and value, on the sixteen-lane code
/// and on the plain C it uses for short runs and tails.
struct Poly1305Tests {
    init() { Sodium.ensureInitialized() }

    func ours(_ message: [UInt8], key: [UInt8], vectors: Bool, splits: [Int] = []) -> [UInt8] {
        var state = casevault_poly1305_state()
        casevault_poly1305_init(&state, key, vectors ? 1 : 0)
        var at = 0
        message.withUnsafeBufferPointer { bytes in
            for length in splits + [message.count] where at < message.count {
                let take = min(length, message.count - at)
                casevault_poly1305_update(&state, bytes.baseAddress! + at, take)
                at += take
            }
            casevault_poly1305_update(&state, bytes.baseAddress, 0)
        }
        var tag = [UInt8](repeating: 0, count: 16)
        casevault_poly1305_final(&state, &tag)
        #expect(withUnsafeBytes(of: state) { $0.allSatisfy { $0 == 0 } }, "the state is wiped")
        return tag
    }

    func libsodiums(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: 16)
        crypto_onetimeauth_poly1305(&tag, message, UInt64(message.count), key)
        return tag
    }

    /// Random splits: mostly small near the 16-byte blocks, some long
    /// enough to reach the vector code from a partial block.
    func randomSplits(total: Int) -> [Int] {
        var splits: [Int] = [], sum = 0
        while sum < total {
            let next = Bool.random() ? Int.random(in: 0...40) : Int.random(in: 0...3_000)
            splits.append(next)
            sum += next
        }
        return splits
    }

    /// RFC 8439 §2.5.2.
    @Test func theRFCExample() {
        let key = hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
        let message = Array("Cryptographic Forum Research Group".utf8)
        for vectors in [true, false] {
            #expect(ours(message, key: key, vectors: vectors) == hex("a8061dc1305136c6c22b8baf0c0127a9"))
        }
    }

    /// Every length from 0 to 4 200 bytes (the vector code starts at 512),
    /// in one piece and split at random: random bytes under random keys,
    /// and all-ones bytes under random keys and under all-ones keys, whose
    /// limbs are the largest the carries ever see.
    @Test func everyLengthIsLibsodiums() {
        var failures: [String] = []
        for length in 0...4_200 {
            let cases: [(String, [UInt8], [UInt8])] = [
                ("random", randomBytes(count: length), randomBytes(count: 32)),
                ("ones, random key", [UInt8](repeating: 0xff, count: length), randomBytes(count: 32)),
                ("ones, ones key", [UInt8](repeating: 0xff, count: length), [UInt8](repeating: 0xff, count: 32)),
            ]
            for (name, message, key) in cases {
                let expected = libsodiums(message, key: key)
                for vectors in [true, false] {
                    if ours(message, key: key, vectors: vectors) != expected { failures.append("\(name), \(length) bytes, vectors \(vectors)") }
                    if ours(message, key: key, vectors: vectors, splits: randomSplits(total: length)) != expected {
                        failures.append("\(name), \(length) bytes split, vectors \(vectors)")
                    }
                }
            }
        }
        #expect(failures.isEmpty, "differs from libsodium: \(failures.prefix(5)) (\(failures.count) in all)")
    }

    /// Long messages, as whole 64 KiB chunks and more are.
    @Test func longMessagesAreLibsodiums() {
        var failures: [String] = []
        for length in [65_536 + 64 + 16, 65_536 * 3 + 5, 1 << 20] + (0..<12).map({ _ in Int.random(in: 4_200...(1 << 20)) }) {
            for ones in [false, true] {
                let message = ones ? [UInt8](repeating: 0xff, count: length) : randomBytes(count: length)
                let key = ones ? [UInt8](repeating: 0xff, count: 16) + randomBytes(count: 16) : randomBytes(count: 32)
                let expected = libsodiums(message, key: key)
                if ours(message, key: key, vectors: true) != expected { failures.append("\(length) bytes, ones \(ones)") }
                if ours(message, key: key, vectors: true, splits: randomSplits(total: length)) != expected {
                    failures.append("\(length) bytes split, ones \(ones)")
                }
            }
        }
        #expect(failures.isEmpty, "differs from libsodium: \(failures.prefix(5)) (\(failures.count) in all)")
    }

    /// A tag is not a checksum: one flipped bit anywhere changes it.
    @Test func aFlippedBitChangesTheTag() {
        let key = randomBytes(count: 32), message = randomBytes(count: 2_048)
        let tag = ours(message, key: key, vectors: true)
        for bit in stride(from: 0, to: message.count * 8, by: 61) {
            var flipped = message
            flipped[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(ours(flipped, key: key, vectors: true) != tag, "bit \(bit)")
        }
    }
}
