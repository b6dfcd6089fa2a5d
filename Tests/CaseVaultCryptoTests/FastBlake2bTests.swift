@testable import CaseVaultCrypto
import Testing

/// `FastBlake2b` names every object, so it must agree with libsodium's
/// BLAKE2b (and so with `b2sum`) on every input; libsodium is the oracle.
@Suite struct FastBlake2bTests {
    @Test func matchesRFC7693AppendixA() {
        // BLAKE2b-512("abc"), RFC 7693 Appendix A.
        let expected = "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            + "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        #expect(FastBlake2b.hash(Array("abc".utf8), length: 64).hexString == expected)
    }

    @Test func matchesPyNaClVectors() {
        for v in Vectors.shared.blake2b256 {
            #expect(FastBlake2b.hash(pattern(v.length, seed: v.seed)).hexString == v.digest)
        }
    }

    /// Every length across the block boundaries at 0, 128, 256, … 1024, and
    /// every output length class: the counter, the padding of the last
    /// block and the "keep a full block until more comes" rule all meet here.
    @Test func matchesLibsodiumForEveryLengthUpTo1100() {
        let data = randomBytes(count: 1100)
        for length in [16, 20, 32, 48, 64] {
            for count in 0...data.count {
                let input = Array(data.prefix(count))
                #expect(FastBlake2b.hash(input, length: length) == Blake2b.hash(input, length: length),
                        "input length \(count), digest length \(length)")
            }
        }
    }

    @Test func streamingAtArbitrarySplitsMatchesOneShot() {
        let data = randomBytes(count: 3 * 1024 * 1024 + 77)
        var generator = SplitMix(seed: 0xB1A4E2B)
        for round in 0..<8 {
            let length = round % 2 == 0 ? 32 : 64
            let expected = Blake2b.hash(data, length: length)
            let hasher = FastBlake2b(length: length)
            var offset = 0
            while offset < data.count {
                // Steps of 0, 1, 127, 128, 129 and up to 200 000 bytes.
                let step = [0, 1, 127, 128, 129, Int(generator.next() % 200_000)][Int(generator.next() % 6)]
                let end = min(data.count, offset + step)
                hasher.update(data[offset..<end])
                offset = end
            }
            #expect(hasher.finalize() == expected)
        }
    }

    /// The 128-bit byte counter carries into its high word: no input here
    /// can reach 2^64 bytes, so the state is set just below it.
    @Test func theByteCounterCarriesIntoItsHighWord() {
        var state = FastBlake2b.State(length: 32)
        state.t0 = UInt64.max - 127
        let block = [UInt8](repeating: 7, count: 128)
        block.withUnsafeBytes { state.compress($0.baseAddress!, byteCount: 128, last: false) }
        #expect(state.t0 == 0 && state.t1 == 1)
        block.withUnsafeBytes { state.compress($0.baseAddress!, byteCount: 128, last: false) }
        #expect(state.t0 == 128 && state.t1 == 1)
    }

    @Test func differsOnAnyFlippedBit() {
        var data = randomBytes(count: 4096)
        let original = FastBlake2b.hash(data)
        for bit in [0, 7, 1023 * 8 + 3, 4095 * 8 + 7] {
            data[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(FastBlake2b.hash(data) != original)
            #expect(FastBlake2b.hash(data) == Blake2b.hash(data))
            data[bit / 8] ^= UInt8(1 << (bit % 8))
        }
    }
}

/// A small deterministic generator, so a failing split sequence can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
