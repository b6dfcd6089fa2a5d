import CBlake3
@testable import CaseVaultCrypto
import Foundation
import Testing

/// `Blake3` names every object of a vault of format 3, so it must give the
/// BLAKE3 team's bytes on every input, at any split, on every code path.
/// Serialized: forcing a path is process-wide, and the check that the
/// best path is in use must not see another test's forcing.
@Suite(.serialized) struct Blake3Tests {
    struct Official: Decodable {
        struct Case: Decodable { var inputLength: Int; var hash: String }
        var cases: [Case]
    }

    static let official: Official = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/blake3-vectors.json")
        return try! JSONDecoder().decode(Official.self, from: Data(contentsOf: url))
    }()

    /// The vectors' input: 0, 1, …, 250, repeated.
    static func input(_ count: Int) -> [UInt8] { (0..<count).map { UInt8($0 % 251) } }

    /// Every path this CPU has: its best, AVX2, portable.
    func inEveryForm(_ body: () throws -> Void) rethrows {
        try body()
        try Blake3.withAVX2Code(body)
        try Blake3.withPortableCode(body)
    }

    /// On Linux, the vector code the CPU's flags allow must be in use, or
    /// the comparisons below would hold the portable code to itself.
    @Test func theVectorCodeIsUsedWhereTheCPUHasIt() throws {
        #if arch(x86_64) && os(Linux)
        let flags = try cpuFlags()
        let best = flags.contains("avx512f") ? "avx512" : flags.contains("avx2") ? "avx2" : "portable"
        #expect(Blake3.implementation == best)
        Blake3.withAVX2Code { #expect(Blake3.implementation == (best == "portable" ? "portable" : "avx2")) }
        Blake3.withPortableCode { #expect(Blake3.implementation == "portable") }
        Blake3.withAVX2Code { Blake3.withPortableCode { #expect(Blake3.implementation == "portable") } }
        #expect(Blake3.implementation == best)
        #endif
    }

    /// Lengths 0 to 102,400: one chunk, a chunk and a byte, subtrees of 2
    /// to 64 chunks and the lazy merges between them.
    @Test func matchesTheOfficialTestVectors() {
        #expect(Self.official.cases.count == 22)
        inEveryForm {
            for v in Self.official.cases {
                #expect(Blake3.hash(Self.input(v.inputLength)).hexString == v.hash, "input length \(v.inputLength)")
            }
        }
        #expect(Blake3.hash(Array("abc".utf8)).hexString == "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85")
    }

    /// The AVX-512, AVX2 and portable code agree on every length to 2,100 bytes
    /// and on lengths about each multiple of 16 KiB (where sixteen chunks go
    /// through the vector code at once) and random ones up to 1 MiB.
    @Test func bothPathsAgreeOnEveryLength() {
        let data = randomBytes(count: 1 << 20)
        var lengths = Array(0...2_100)
        for k in 1...6 { lengths += [-1025, -1024, -1, 0, 1, 1023, 1024, 1025].map { k * 16_384 + $0 } }
        var generator = SplitMix(seed: 0xB1A4E3)
        for _ in 0..<40 { lengths.append(Int(generator.next() % UInt64(data.count))) }
        for count in lengths {
            let input = Array(data.prefix(count))
            let portable = Blake3.withPortableCode { Blake3.hash(input) }
            #expect(Blake3.hash(input) == portable, "input length \(count)")
            #expect(Blake3.withAVX2Code { Blake3.hash(input) } == portable, "input length \(count), AVX2")
        }
    }

    /// Pieces of any size, one byte to more than a subtree, give the hash
    /// of the whole: the last chunk waits until more comes, subtrees align.
    @Test func streamingAtArbitrarySplitsMatchesOneShot() {
        let data = randomBytes(count: 3 * 1024 * 1024 + 77)
        let expected = Blake3.hash(data)
        var generator = SplitMix(seed: 0xB1A4E3B)
        for round in 0..<8 {
            let hasher = Blake3()
            var offset = 0
            while offset < data.count {
                let limit = [1, 64, 1_024, 70_000][round % 4]
                let step = min(data.count - offset, 1 + Int(generator.next() % UInt64(limit)))
                hasher.update(data[offset..<offset + step])
                offset += step
            }
            #expect(hasher.finalize() == expected, "round \(round)")
        }
        // Pieces that end on a subtree (the filing's 128 KiB, 16 KiB, 2 KiB),
        // leaving its halves unmerged until more comes; and the
        // secretstream's 65,553 bytes, which end mid-chunk.
        inEveryForm {
            for size in [128 << 10, 16_384, 2_048, 65_553] {
                let hasher = Blake3()
                for start in stride(from: 0, to: data.count, by: size) { hasher.update(data[start..<min(start + size, data.count)]) }
                #expect(hasher.finalize() == expected, "pieces of \(size)")
                let whole = Array(data.prefix(4 * size))
                let pieces = Blake3()
                for start in stride(from: 0, to: whole.count, by: size) { pieces.update(whole[start..<start + size]) }
                #expect(pieces.finalize() == Blake3.withPortableCode { Blake3.hash(whole) }, "four pieces of \(size), nothing after")
            }
        }
    }

    /// The vector codes carry each lane's chunk counter into its high word;
    /// a counter about 2^32 (4 TiB into an object) is reached directly.
    @Test func chunkCountersPast32BitsAgree() {
        let chunks = randomBytes(count: 16_384)
        // Subtrees start at multiples of 16, so no lane wraps within a run of
        // sixteen; 0xFFFF_FFF8 and 0xFFFF_FFFC (not multiples) make lanes wrap,
        // to test the carry itself.
        for counter: UInt64 in [0, 16, 0xFFFF_FFF0, 0xFFFF_FFF8, 0xFFFF_FFFC, 0x1_0000_0000, 0x7_FFFF_FFF0, 0xFFFF_FFFF_FFFF_FFF0] {
            var fast = [UInt8](repeating: 0, count: 64), avx2 = fast, portable = fast
            casevault_blake3_subtree16(chunks, counter, &fast)
            Blake3.withAVX2Code { casevault_blake3_subtree16(chunks, counter, &avx2) }
            Blake3.withPortableCode { casevault_blake3_subtree16(chunks, counter, &portable) }
            #expect(fast == portable && avx2 == portable, "counter \(counter)")
        }
        var zero = [UInt8](repeating: 0, count: 64), sixteen = zero
        casevault_blake3_subtree16(chunks, 0, &zero)
        casevault_blake3_subtree16(chunks, 16, &sixteen)
        #expect(zero != sixteen)
    }

    /// Against the reference below, which shares no code with CBlake3: it
    /// builds the tree recursively rather than with a stack, one
    /// compression at a time. It is first held to the official vectors.
    @Test func matchesAnIndependentRecursiveImplementation() {
        for v in Self.official.cases where v.inputLength <= 8_193 {
            #expect(ReferenceBlake3.hash(Self.input(v.inputLength)).hexString == v.hash, "reference, input length \(v.inputLength)")
        }
        let data = randomBytes(count: (1 << 20) + 3_000)
        var generator = SplitMix(seed: 0xB1A4E4)
        var lengths = [16_384, 16_385, 65_553, 131_077, 262_144, data.count]
        for _ in 0..<4 { lengths.append(Int(generator.next() % UInt64(data.count))) }
        for count in lengths {
            let input = Array(data.prefix(count))
            let expected = ReferenceBlake3.hash(input)
            inEveryForm {
                #expect(Blake3.hash(input) == expected, "input length \(count)")
                let pieces = Blake3()
                for start in stride(from: 0, to: input.count, by: 65_553) { pieces.update(input[start..<min(start + 65_553, input.count)]) }
                #expect(pieces.finalize() == expected, "input length \(count) in pieces of 65,553")
            }
        }
    }
}

/// BLAKE3's hash mode written out from the specification, for the tests
/// only: every chunk compressed block by block, the tree built
/// recursively (the left subtree takes the largest power of two of chunks
/// below the count), the root compression flagged ROOT.
enum ReferenceBlake3 {
    static let iv: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    static let permutation = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]
    static let chunkStart: UInt32 = 1, chunkEnd: UInt32 = 2, parent: UInt32 = 4, root: UInt32 = 8

    static func compress(_ cv: [UInt32], _ block: [UInt32], _ counter: UInt64, _ length: UInt32, _ flags: UInt32) -> [UInt32] {
        var v = cv + iv[0..<4] + [UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32), length, flags]
        var m = block
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        func g(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ x: UInt32, _ y: UInt32) {
            v[a] = v[a] &+ v[b] &+ x; v[d] = rotr(v[d] ^ v[a], 16); v[c] = v[c] &+ v[d]; v[b] = rotr(v[b] ^ v[c], 12)
            v[a] = v[a] &+ v[b] &+ y; v[d] = rotr(v[d] ^ v[a], 8); v[c] = v[c] &+ v[d]; v[b] = rotr(v[b] ^ v[c], 7)
        }
        for round in 0..<7 {
            g(0, 4, 8, 12, m[0], m[1]); g(1, 5, 9, 13, m[2], m[3]); g(2, 6, 10, 14, m[4], m[5]); g(3, 7, 11, 15, m[6], m[7])
            g(0, 5, 10, 15, m[8], m[9]); g(1, 6, 11, 12, m[10], m[11]); g(2, 7, 8, 13, m[12], m[13]); g(3, 4, 9, 14, m[14], m[15])
            if round < 6 { m = permutation.map { m[$0] } }
        }
        return (0..<8).map { v[$0] ^ v[$0 + 8] }
    }

    /// Sixteen little-endian words of up to 64 bytes, zero-padded.
    static func words(_ bytes: ArraySlice<UInt8>) -> [UInt32] {
        let padded = Array(bytes) + [UInt8](repeating: 0, count: 64 - bytes.count)
        return (0..<16).map { i in (0..<4).reduce(UInt32(0)) { $0 | UInt32(padded[4 * i + $1]) << (8 * UInt32($1)) } }
    }

    static func node(_ input: ArraySlice<UInt8>, firstChunk: UInt64, isRoot: Bool) -> [UInt32] {
        let chunks = max(1, (input.count + 1_023) / 1_024)
        if chunks == 1 {
            var cv = iv
            let blocks = max(1, (input.count + 63) / 64)
            for b in 0..<blocks {
                let start = input.startIndex + 64 * b
                let piece = input[start..<min(start + 64, input.endIndex)]
                let flags = (b == 0 ? chunkStart : 0) | (b == blocks - 1 ? chunkEnd | (isRoot ? root : 0) : 0)
                cv = compress(cv, words(piece), firstChunk, UInt32(piece.count), flags)
            }
            return cv
        }
        var left = 1
        while left * 2 < chunks { left *= 2 }
        let split = input.startIndex + left * 1_024
        let l = node(input[..<split], firstChunk: firstChunk, isRoot: false)
        let r = node(input[split...], firstChunk: firstChunk + UInt64(left), isRoot: false)
        return compress(iv, l + r, 0, 64, parent | (isRoot ? root : 0))
    }

    static func hash(_ input: [UInt8]) -> [UInt8] {
        node(input[...], firstChunk: 0, isRoot: true).flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
    }
}
