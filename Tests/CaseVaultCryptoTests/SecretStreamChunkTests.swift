@testable import CaseVaultCrypto
import CSecretStream
import CSodium
import Foundation
import Testing

/// casevault's secretstream push and pull (CSecretStream) must be
/// libsodium's, byte for byte and state for state: every stored object
/// and package was sealed by libsodium's, and SECURITY.md §9 names
/// libsodium's construction. Each check runs on the AVX-512 ChaCha20 and
/// on libsodium's (forced), against libsodium's own functions. Serialized:
/// forcing libsodium's ChaCha20 is process-wide.
@Suite(.serialized) struct SecretStreamChunkTests {
    typealias State = crypto_secretstream_xchacha20poly1305_state
    static let tags: [UInt8] = [
        crypto_secretstream_xchacha20poly1305_tag_message(), crypto_secretstream_xchacha20poly1305_tag_push(),
        crypto_secretstream_xchacha20poly1305_tag_rekey(), crypto_secretstream_xchacha20poly1305_tag_final(),
    ]

    init() { Sodium.ensureInitialized() }

    /// On Linux on a CPU whose flags list `avx512f`, the AVX-512 code must be
    /// in use, or the checks below would hold only libsodium to itself.
    @Test func theAVX512CodeIsUsedWhereTheCPUHasIt() throws {
        #if arch(x86_64) && os(Linux)
        let flags = try cpuFlags()
        #expect(SecretStream.isAccelerated == flags.contains("avx512f"))
        SecretStream.withPortableCode { #expect(!SecretStream.isAccelerated) }
        #expect(SecretStream.isAccelerated == flags.contains("avx512f"))
        #endif
    }

    func inBothForms(_ body: () throws -> Void) rethrows {
        try body()
        try SecretStream.withPortableCode(body)
    }

    func bytes(of state: State) -> [UInt8] { withUnsafeBytes(of: state) { Array($0) } }

    /// The key stream from every starting block, at every length around
    /// the sixteen-block groups, up to the last block before the 32-bit
    /// counter wraps, and in place.
    @Test func keyStreamIsLibsodiums() {
        inBothForms {
            var failures: [String] = []
            let key = randomBytes(count: 32), nonce = randomBytes(count: 12)
            let lengths = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2047, 2048, 2049, 4096 + 17, 65_536, 65_536 + 64 + 3]
            for length in lengths {
                for counter: UInt32 in [0, 1, 2, 7, 0xffff_ff00] where UInt64(counter) + UInt64((length + 63) / 64) <= 1 << 32 {
                    let input = randomBytes(count: length)
                    var ours = [UInt8](repeating: 0, count: length), theirs = ours
                    casevault_chacha20_ietf_xor_ic(&ours, input, UInt64(length), nonce, counter, key)
                    crypto_stream_chacha20_ietf_xor_ic(&theirs, input, UInt64(length), nonce, counter, key)
                    if ours != theirs { failures.append("length \(length) from block \(counter)") }
                    var inPlace = input
                    inPlace.withUnsafeMutableBufferPointer { casevault_chacha20_ietf_xor_ic($0.baseAddress, $0.baseAddress, UInt64(length), nonce, counter, key) }
                    if inPlace != theirs { failures.append("in place, length \(length) from block \(counter)") }
                }
            }
            // The last sixteen blocks a 32-bit counter has.
            let input = randomBytes(count: 1024)
            var ours = [UInt8](repeating: 0, count: 1024), theirs = ours
            casevault_chacha20_ietf_xor_ic(&ours, input, 1024, nonce, 0xffff_fff0, key)
            crypto_stream_chacha20_ietf_xor_ic(&theirs, input, 1024, nonce, 0xffff_fff0, key)
            if ours != theirs { failures.append("the last sixteen blocks") }
            // Named, not printed: a failing comparison of the arrays would print megabytes.
            #expect(failures.isEmpty, "key stream differs: \(failures.prefix(5)) (\(failures.count) in all)")
        }
    }

    /// Chunks of every length from 0 to 2 100 bytes and whole 64 KiB chunks,
    /// every tag (REKEY rekeys), associated data of 0 to 33 bytes, pushed by
    /// both on copies of one state: the same chunk and the same state after
    /// each; then each side's chunks pulled by the other.
    @Test func pushAndPullAreLibsodiums() {
        inBothForms {
            var failures: [String] = []
            let key = randomBytes(count: 32)
            var header = [UInt8](repeating: 0, count: 24)
            var ours = State(), theirs = State()
            #expect(crypto_secretstream_xchacha20poly1305_init_push(&theirs, &header, key) == 0)
            ours = theirs
            var pullOurs = State(), pullTheirs = State()
            #expect(crypto_secretstream_xchacha20poly1305_init_pull(&pullOurs, header, key) == 0)
            pullTheirs = pullOurs
            let lengths = Array(0...2_100) + (0..<40).map { _ in Int.random(in: 2_101..<65_536) } + [65_536, 65_536, 65_535, 65_537]
            for (index, length) in lengths.enumerated() {
                let message = randomBytes(count: length), ad = randomBytes(count: index % 34)
                let tag = Self.tags[index % Self.tags.count]
                var chunk = [UInt8](repeating: 0, count: length + 17), expected = chunk
                var written: UInt64 = 0, expectedWritten: UInt64 = 0
                #expect(casevault_secretstream_push(&ours, &chunk, &written, message, UInt64(length), ad, UInt64(ad.count), tag) == 0)
                #expect(crypto_secretstream_xchacha20poly1305_push(&theirs, &expected, &expectedWritten, message, UInt64(length),
                                                                   ad, UInt64(ad.count), tag) == 0)
                if chunk != expected || written != expectedWritten { failures.append("push of \(length) bytes, tag \(tag)") }
                if bytes(of: ours) != bytes(of: theirs) { failures.append("state after the push of \(length) bytes, tag \(tag)") }

                var plain = [UInt8](repeating: 0xaa, count: length), expectedPlain = plain
                var plainCount: UInt64 = 0, expectedCount: UInt64 = 0
                var pulledTag: UInt8 = 0, expectedTag: UInt8 = 0
                #expect(casevault_secretstream_pull(&pullOurs, &plain, &plainCount, &pulledTag, expected, UInt64(expected.count),
                                                    ad, UInt64(ad.count)) == 0)
                #expect(crypto_secretstream_xchacha20poly1305_pull(&pullTheirs, &expectedPlain, &expectedCount, &expectedTag, chunk,
                                                                   UInt64(chunk.count), ad, UInt64(ad.count)) == 0)
                if plain != message || expectedPlain != message || plainCount != UInt64(length) || expectedCount != UInt64(length)
                    || pulledTag != tag || expectedTag != tag {
                    failures.append("pull of \(length) bytes, tag \(tag)")
                }
                if bytes(of: pullOurs) != bytes(of: pullTheirs) || bytes(of: pullOurs) != bytes(of: ours) {
                    failures.append("state after the pull of \(length) bytes, tag \(tag)")
                }
            }
            #expect(failures.isEmpty, "differs from libsodium: \(failures.prefix(5)) (\(failures.count) in all)")
        }
    }

    /// When the 32-bit chunk counter wraps, both rekey the same way.
    @Test func counterWrapRekeysAsLibsodium() {
        inBothForms {
            let key = randomBytes(count: 32)
            var header = [UInt8](repeating: 0, count: 24)
            var ours = State()
            #expect(crypto_secretstream_xchacha20poly1305_init_push(&ours, &header, key) == 0)
            ours.nonce.0 = 0xff; ours.nonce.1 = 0xff; ours.nonce.2 = 0xff; ours.nonce.3 = 0xff
            var theirs = ours
            var pull = State()
            #expect(crypto_secretstream_xchacha20poly1305_init_pull(&pull, header, key) == 0)
            pull.nonce.0 = 0xff; pull.nonce.1 = 0xff; pull.nonce.2 = 0xff; pull.nonce.3 = 0xff
            let before = bytes(of: ours)
            for length in [100, 3_000] {
                let message = randomBytes(count: length)
                var chunk = [UInt8](repeating: 0, count: length + 17), expected = chunk
                #expect(casevault_secretstream_push(&ours, &chunk, nil, message, UInt64(length), nil, 0, 0) == 0)
                #expect(crypto_secretstream_xchacha20poly1305_push(&theirs, &expected, nil, message, UInt64(length), nil, 0, 0) == 0)
                #expect(chunk == expected, "chunk of \(length) bytes")
                #expect(bytes(of: ours) == bytes(of: theirs), "state after \(length) bytes")
                var plain = [UInt8](repeating: 0, count: length)
                #expect(casevault_secretstream_pull(&pull, &plain, nil, nil, chunk, UInt64(chunk.count), nil, 0) == 0)
                #expect(plain == message && bytes(of: pull) == bytes(of: ours), "pull of \(length) bytes across the wrap")
            }
            #expect(Array(bytes(of: ours)[0..<32]) != Array(before[0..<32]), "the key changed")
        }
    }

    /// libsodium reads the associated data before it writes a byte of the
    /// chunk, so associated data inside the output buffer gives the chunk
    /// of that data; ours must too.
    @Test func associatedDataInsideTheOutputIsReadFirst() {
        inBothForms {
            let key = randomBytes(count: 32), message = randomBytes(count: 3_000), ad = randomBytes(count: 16)
            var header = [UInt8](repeating: 0, count: 24)
            var ours = State()
            #expect(crypto_secretstream_xchacha20poly1305_init_push(&ours, &header, key) == 0)
            var theirs = ours
            var expected = [UInt8](repeating: 0, count: message.count + 17)
            #expect(crypto_secretstream_xchacha20poly1305_push(&theirs, &expected, nil, message, UInt64(message.count), ad, 16, 0) == 0)
            var out = [UInt8](repeating: 0, count: message.count + 17)
            out.replaceSubrange(8..<24, with: ad)
            let rc = out.withUnsafeMutableBufferPointer { buffer in
                casevault_secretstream_push(&ours, buffer.baseAddress, nil, message, UInt64(message.count), buffer.baseAddress! + 8, 16, 0)
            }
            #expect(rc == 0)
            #expect(out == expected)
            #expect(bytes(of: ours) == bytes(of: theirs))
        }
    }

    /// No associated data where some is said to be (libsodium would read
    /// through the null pointer): refused by both sides, nothing written,
    /// the state unchanged; never taken as none.
    @Test func associatedDataThatIsNotThereIsRefused() {
        let key = randomBytes(count: 32), message = randomBytes(count: 100)
        var header = [UInt8](repeating: 0, count: 24)
        var push = State(), pull = State()
        #expect(crypto_secretstream_xchacha20poly1305_init_push(&push, &header, key) == 0)
        #expect(crypto_secretstream_xchacha20poly1305_init_pull(&pull, header, key) == 0)
        let pushBefore = bytes(of: push), pullBefore = bytes(of: pull)
        var chunk = [UInt8](repeating: 0xaa, count: 117)
        var written: UInt64 = 99
        #expect(casevault_secretstream_push(&push, &chunk, &written, message, 100, nil, 32, 0) == -1)
        #expect(written == 0 && chunk.allSatisfy { $0 == 0xaa } && bytes(of: push) == pushBefore)
        #expect(casevault_secretstream_push(&push, &chunk, nil, message, 100, nil, 0, 0) == 0)
        var plain = [UInt8](repeating: 0xaa, count: 100)
        #expect(casevault_secretstream_pull(&pull, &plain, nil, nil, chunk, 117, nil, 32) == -1)
        #expect(plain.allSatisfy { $0 == 0xaa } && bytes(of: pull) == pullBefore)
        #expect(casevault_secretstream_pull(&pull, &plain, nil, nil, chunk, 117, nil, 0) == 0)
        #expect(plain == message)
    }

    /// A message longer than secretstream allows (libsodium aborts): refused
    /// before a byte is read or written, the state unchanged.
    @Test func aMessageTooLongIsRefusedWithNothingWritten() {
        var header = [UInt8](repeating: 0, count: 24)
        var push = State(), pull = State()
        #expect(crypto_secretstream_xchacha20poly1305_init_push(&push, &header, randomBytes(count: 32)) == 0)
        pull = push
        let before = bytes(of: push)
        let limit = UInt64(crypto_secretstream_xchacha20poly1305_messagebytes_max())
        var out = [UInt8](repeating: 0xaa, count: 64)
        let input = [UInt8](repeating: 0x55, count: 64)
        var written: UInt64 = 99
        #expect(casevault_secretstream_push(&push, &out, &written, input, limit + 1, nil, 0, 0) == -1)
        #expect(casevault_secretstream_pull(&pull, &out, &written, nil, input, limit + 18, nil, 0) == -1)
        #expect(written == 0 && out.allSatisfy { $0 == 0xaa } && bytes(of: push) == before && bytes(of: pull) == before)
    }

    /// An unmatched release of the forcing must not force libsodium's code
    /// for good.
    @Test func anUnmatchedReleaseDoesNotForceLibsodiumsCode() {
        let accelerated = SecretStream.isAccelerated
        casevault_chacha20_force_portable(0)
        #expect(SecretStream.isAccelerated == accelerated)
        SecretStream.withPortableCode { #expect(!SecretStream.isAccelerated) }
        #expect(SecretStream.isAccelerated == accelerated)
    }

    /// A damaged chunk, as libsodium: refused, nothing written, the state
    /// as it was, so the intact chunk still pulls afterwards.
    @Test func damagedChunksAreRefusedAndChangeNothing() {
        inBothForms {
            let key = randomBytes(count: 32)
            var header = [UInt8](repeating: 0, count: 24)
            var push = State(), pull = State()
            #expect(crypto_secretstream_xchacha20poly1305_init_push(&push, &header, key) == 0)
            #expect(crypto_secretstream_xchacha20poly1305_init_pull(&pull, header, key) == 0)
            let message = randomBytes(count: 4_000), ad = Array("case|doc|v1".utf8)
            var chunk = [UInt8](repeating: 0, count: message.count + 17)
            #expect(crypto_secretstream_xchacha20poly1305_push(&push, &chunk, nil, message, UInt64(message.count), ad, UInt64(ad.count), 0) == 0)
            let before = bytes(of: pull)
            for position in [0, 1, 2_000, message.count, message.count + 16] {
                var damaged = chunk
                damaged[position] ^= 0x01
                var plain = [UInt8](repeating: 0xaa, count: message.count)
                var count: UInt64 = 99, tag: UInt8 = 0
                #expect(casevault_secretstream_pull(&pull, &plain, &count, &tag, damaged, UInt64(damaged.count), ad, UInt64(ad.count)) == -1,
                        "byte \(position) flipped")
                #expect(plain.allSatisfy { $0 == 0xaa } && count == 0 && tag == 0xff)
                #expect(bytes(of: pull) == before)
            }
            // Other associated data, and chunks too short to hold a tag and a MAC.
            var plain = [UInt8](repeating: 0, count: message.count)
            #expect(casevault_secretstream_pull(&pull, &plain, nil, nil, chunk, UInt64(chunk.count), ad, UInt64(ad.count - 1)) == -1)
            for short in 0..<17 {
                #expect(casevault_secretstream_pull(&pull, &plain, nil, nil, chunk, UInt64(short), nil, 0) == -1)
            }
            #expect(bytes(of: pull) == before)
            #expect(casevault_secretstream_pull(&pull, &plain, nil, nil, chunk, UInt64(chunk.count), ad, UInt64(ad.count)) == 0)
            #expect(plain == message)
        }
    }
}
