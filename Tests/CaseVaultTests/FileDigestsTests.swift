@testable import CaseVault
import CaseVaultCrypto
import Testing

/// An export's SHA-256 of each file, two files at a time (FileDigests):
/// whatever the files' sizes against the held limit, and however the
/// bytes arrive, each digest is the file's own, in the files' order.
@Suite struct FileDigestsTests {
    /// Files of sizes around a small limit (0, 1, just under, at, just over,
    /// several times over) in many orders, handed over in random pieces,
    /// directly and through a pipeline.
    @Test func eachDigestIsItsFilesWhateverTheSizes() throws {
        let limit = 1_000
        let sizes = [0, 1, 63, 64, 65, 500, 999, 1_000, 1_001, 1_999, 2_000, 2_001, 4_321, 0, 0, 7]
        var generator = SystemRandomNumberGenerator()
        for round in 0..<40 {
            let files = (0..<Int.random(in: 1...9)).map { index in
                pattern(round < 2 ? sizes[(index + round) % sizes.count] : sizes.randomElement(using: &generator)!, seed: round * 10 + index)
            }
            let expected = files.map { SHA256.hash($0) }

            let direct = FileDigests(holdLimit: limit, piece: 300)
            for file in files {
                var at = 0
                while at < file.count {
                    let take = min(file.count - at, Int.random(in: 1...700))
                    try file[at..<at + take].withUnsafeBytes { try direct.consume($0) }
                    at += take
                }
                try direct.mark()
            }
            #expect(direct.finish() == expected, "sizes \(files.map(\.count))")

            let staged = FileDigests(holdLimit: limit, piece: 256)
            let pipeline = Pipeline(consumer: staged, buffers: 3, bufferSize: 128)
            for file in files {
                try file.withUnsafeBytes { try pipeline.write($0) }
                try pipeline.mark()
            }
            try pipeline.finish()
            #expect(staged.finish() == expected, "through a pipeline, sizes \(files.map(\.count))")
        }
    }

    /// The stage an export uses, on files of a few MiB: the same.
    @Test func filesOfSeveralMebibytes() throws {
        let files = [3 << 20, (4 << 20) + 5, 16 << 20, 1, 5 << 20].enumerated().map { pattern($0.element, seed: $0.offset) }
        let (digests, pipeline) = FileDigests.stage()
        for file in files {
            try file.withUnsafeBytes { try pipeline.write($0) }
            try pipeline.mark()
        }
        try pipeline.finish()
        #expect(digests.finish() == files.map { SHA256.hash($0) })
    }

    /// Bytes after the last mark belong to no file: no digest for them.
    @Test func bytesAfterTheLastMarkHaveNoDigest() throws {
        let digests = FileDigests(holdLimit: 100, piece: 50)
        try pattern(10).withUnsafeBytes { try digests.consume($0) }
        try digests.mark()
        try pattern(30).withUnsafeBytes { try digests.consume($0) }
        #expect(digests.finish() == [SHA256.hash(pattern(10))])
    }

    /// The held bytes: first in, first out, never more than the limit.
    @Test func heldBytesComeOutInOrderUpToTheLimit() {
        let held = HeldBytes(limit: 1_000, piece: 300)
        let input = pattern(1_500, seed: 3)
        let taken = input.withUnsafeBytes { held.append(UnsafeRawBufferPointer(rebasing: $0[0..<1_200])) }
        #expect(taken == 1_000 && held.isFull && held.count == 1_000)
        var out: [UInt8] = [], appended = false
        while !held.isEmpty {
            let front = held.withFront { Array($0) }
            #expect(front.count <= 300)
            out += front.prefix(170)
            held.removeFirst(min(170, front.count))
            if held.count <= 500 && !appended {
                #expect(input.withUnsafeBytes { held.append(UnsafeRawBufferPointer(rebasing: $0[1_000..<1_500])) } == 500)
                appended = true
            }
        }
        #expect(out == input)
    }
}
