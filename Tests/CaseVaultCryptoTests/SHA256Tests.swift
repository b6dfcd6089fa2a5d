@testable import CaseVaultCrypto
import Foundation
import Testing

/// casevault's SHA-256 (CSHA256) hashes the log, the state map and every
/// file of a package or bag, so both of its forms, the CPU's SHA extensions
/// and portable C, must agree with libsodium's on every input. Serialized:
/// forcing the portable code is process-wide, and a test running beside
/// another's portable half would not be testing the extensions.
@Suite(.serialized) struct SHA256Tests {
    /// On Linux on a CPU whose flags list `sha_ni`, the extensions must be
    /// in use, or the tests below would hold only the portable code to
    /// libsodium.
    @Test func theExtensionsAreUsedWhereTheCPUHasThem() throws {
        #if arch(x86_64) && os(Linux)
        let flags = try cpuFlags()
        #expect(SHA256.isAccelerated == flags.contains("sha_ni"))
        SHA256.withPortableCode { #expect(!SHA256.isAccelerated) }
        #expect(SHA256.isAccelerated == flags.contains("sha_ni"))
        #endif
    }

    /// Each check runs once on the code the CPU chose and once on the
    /// portable code (the same code twice on a CPU without the extensions).
    func inBothForms(_ body: () -> Void) {
        body()
        SHA256.withPortableCode(body)
    }

    @Test func matchesFIPS180Examples() {
        inBothForms {
            #expect(SHA256.hash([UInt8]()).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            #expect(SHA256.hash(Array("abc".utf8)).hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            #expect(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hexString
                    == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
            #expect(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)).hexString
                    == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        }
    }

    /// Every length across the block boundaries at 0, 64, … 1088, where the
    /// padding takes one block or two (55, 56 and 63 bytes into a block).
    @Test func matchesLibsodiumForEveryLengthUpTo1100() {
        let data = randomBytes(count: 1100)
        inBothForms {
            for count in 0...data.count {
                let input = Array(data.prefix(count))
                #expect(SHA256.hash(input) == SHA256.libsodiumHash(input), "input length \(count)")
            }
        }
    }

    @Test func streamingAtArbitrarySplitsMatchesLibsodium() {
        let data = randomBytes(count: 3 * 1024 * 1024 + 77)
        let expected = SHA256.libsodiumHash(data)
        var generator = SplitMix(seed: 0x5A256)
        inBothForms {
            for _ in 0..<4 {
                let hasher = SHA256.Hasher()
                var offset = 0
                while offset < data.count {
                    // Steps of 0, 1, 63, 64, 65 and up to 200 000 bytes.
                    let step = [0, 1, 63, 64, 65, Int(generator.next() % 200_000)][Int(generator.next() % 6)]
                    let end = min(data.count, offset + step)
                    data[offset..<end].withUnsafeBytes { hasher.update($0) }
                    offset = end
                }
                #expect(hasher.finalize() == expected)
            }
        }
    }

    @Test func taggedNodeHashIsTheHashOfTheConcatenation() {
        let first = randomBytes(count: 32), second = randomBytes(count: 32)
        inBothForms {
            for tag: UInt8 in [0, 1] {
                #expect(SHA256.hash(tag: tag, first, second) == SHA256.libsodiumHash([tag] + first + second))
            }
            #expect(SHA256.hash(tag: 7, [], []) == SHA256.libsodiumHash([7]))
        }
    }

    @Test func differsOnAnyFlippedBit() {
        var data = randomBytes(count: 4096)
        let original = SHA256.hash(data)
        for bit in [0, 7, 1023 * 8 + 3, 4095 * 8 + 7] {
            data[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(SHA256.hash(data) != original)
            #expect(SHA256.hash(data) == SHA256.libsodiumHash(data))
            data[bit / 8] ^= UInt8(1 << (bit % 8))
        }
    }
}

extension SHA256Tests {
    /// Two messages at once (the export's file digests): each state ends as
    /// two separate updates leave it, on SHA-NI and on plain C, from every
    /// offset into a block and at every length near the blocks.
    @Test func twoMessagesAtOnceAreEachItsOwn() {
        for portable in [false, true] {
            let run = {
                var failures: [String] = []
                for round in 0..<600 {
                    let (leadA, leadB) = (Int.random(in: 0...130), Int.random(in: 0...130))
                    let length = round < 300 ? round : Int.random(in: 300...300_000)
                    let a = randomBytes(count: leadA + length), b = randomBytes(count: leadB + length)
                    let pairedA = SHA256.Hasher(), pairedB = SHA256.Hasher()
                    a.withUnsafeBytes { pa in
                        b.withUnsafeBytes { pb in
                            pairedA.update(UnsafeRawBufferPointer(rebasing: pa[0..<leadA]))
                            pairedB.update(UnsafeRawBufferPointer(rebasing: pb[0..<leadB]))
                            pairedA.update(UnsafeRawBufferPointer(rebasing: pa[leadA...]), alongside: pairedB,
                                           UnsafeRawBufferPointer(rebasing: pb[leadB...]))
                        }
                    }
                    if pairedA.finalize() != SHA256.libsodiumHash(a) || pairedB.finalize() != SHA256.libsodiumHash(b) {
                        failures.append("leads \(leadA), \(leadB), length \(length)")
                    }
                }
                #expect(failures.isEmpty, "portable \(portable): \(failures.prefix(5)) (\(failures.count) in all)")
            }
            if portable { SHA256.withPortableCode(run) } else { run() }
        }
    }
}
