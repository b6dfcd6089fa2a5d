@testable import CaseVault
import CaseVaultCrypto
import Foundation
import Testing

/// The Library of Congress BagIt conformance suite (Fixtures/bagit-conformance-suite,
/// public domain, see its SOURCE.txt), judged by casevault's BagIt 1.0
/// validator exactly as the suite says: `valid` and `warning` bags are valid,
/// `invalid` and (on Linux) `linux-only` bags are not. The v0.97 cases that do
/// not apply to BagIt 1.0 on Linux are listed below with the reason, and are
/// judged as BagIt 1.0 judges them, never skipped silently.
@Suite struct BagItConformanceTests {
    static let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/bagit-conformance-suite")

    /// v0.97 cases whose verdict BagIt 1.0 changes, with the verdict it gives.
    static let judgedByBagIt1: [String: (valid: Bool, why: String)] = [
        "v0.97/warning/same-filename-listed-twice-with-the-same-hash":
            (false, "v1.0/invalid holds the same case: in BagIt 1.0 a file listed twice in one manifest is invalid"),
        "v0.97/warning/same-filename-listed-twice-with-different-normalization":
            (false, "one file listed twice, as NFC and NFD: the same v1.0 rule, and casevault compares names as Unicode text"),
        "v0.97/warning/duplicate-file-with-different-case":
            (false, "its manifest lists data/HELLO.txt beside data/hello.txt: only a case-insensitive file system holds both; on Linux the bag is incomplete"),
    ]
    /// Folders of the suite that are not cases for this platform.
    static let otherPlatforms = ["v0.97/windows-only"]

    static func cases() throws -> [(String, Bool)] {
        var result: [(String, Bool)] = []
        for version in ["v1.0", "v0.97"] {
            for (group, valid) in [("valid", true), ("warning", true), ("invalid", false), ("linux-only", false)] {
                let folder = suite.appendingPathComponent("\(version)/\(group)")
                guard FileManager.default.fileExists(atPath: folder.path) else { continue }
                for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
                where FileSystem.isDirectory(folder.appendingPathComponent(name).path) {
                    let id = "\(version)/\(group)/\(name)"
                    result.append((id, judgedByBagIt1[id]?.valid ?? valid))
                }
            }
        }
        return result
    }

    static func judge(_ path: String) throws -> BagItVerdict {
        let bag = try AuditBag.read(path)
        return BagIt.validate(files: bag.files, hasPayloadDirectory: bag.hasPayloadDirectory)
    }

    @Test func everyCaseIsJudgedAsTheSuiteSays() throws {
        let all = try Self.cases()
        // Every v1.0 case (5) and every v0.97 case for Linux (12 valid, 6 warning, 11 invalid, 6 linux-only).
        #expect(all.count == 40)
        #expect(Set(Self.judgedByBagIt1.keys).isSubset(of: Set(all.map(\.0))))
        for (id, expected) in all {
            let verdict = try Self.judge(Self.suite.appendingPathComponent(id).path)
            #expect(verdict.valid == expected, "\(id): expected \(expected ? "valid" : "invalid"); errors: \(verdict.errors)")
        }
        for folder in Self.otherPlatforms { #expect(FileSystem.isDirectory(Self.suite.appendingPathComponent(folder).path)) }
    }

    /// The reasons the verdicts give are the suite's reasons, not some other fault.
    @Test func invalidBagsAreRefusedForTheirOwnFault() throws {
        let reasons: [String: String] = [
            "v1.0/invalid/bagit-with-invalid-whitespace": "exactly two lines",
            "v1.0/invalid/notAllManifestsListAllFiles": "data/missingFromManifest.txt is in the payload but not in manifest-sha512.txt",
            "v1.0/invalid/same-filename-listed-twice-with-the-same-hash": "lists data/README more than once",
            "v0.97/invalid/baginfo-missing-encoding": "exactly two lines",
            "v0.97/invalid/bom-in-bagit.txt": "byte-order mark",
            "v0.97/invalid/corrupt-data-file": "does not match its md5 digest",
            "v0.97/invalid/corrupt-tag-file": "bag-info.txt does not match its md5 digest",
            "v0.97/invalid/extra-file-in-bag": "is in the payload but not in manifest-md5.txt",
            "v0.97/invalid/invalid-version-number": "the version must be two numbers",
            "v0.97/invalid/missing-baginfo": "lists bag-info.txt, which the bag does not hold",
            "v0.97/invalid/missing-bagit.txt": "no bagit.txt",
            "v0.97/invalid/out-of-scope-file-paths-using-dot-notation": "climbs out with '..'",
            "v0.97/invalid/out-of-scope-file-paths-using-dot-notation-for-fetch": "climbs out with '..'",
            "v0.97/linux-only/out-of-scope-file-paths-using-absolute-path": "absolute path",
            "v0.97/linux-only/out-of-scope-file-paths-using-shortcut-username-for-fetch": "home folder",
        ]
        for (id, reason) in reasons {
            let verdict = try Self.judge(Self.suite.appendingPathComponent(id).path)
            #expect(verdict.errors.contains { $0.contains(reason) }, "\(id): \(verdict.errors)")
        }
        let warned = try Self.judge(Self.suite.appendingPathComponent("v0.97/warning/made-with-md5sum-tools").path)
        #expect(warned.valid && warned.warnings.contains { $0.contains("md5sum") })
    }

    /// A copy of a valid bag with one byte flipped in any file, or a file
    /// added or removed, is not valid.
    @Test func aValidBagWithAnyFileChangedIsNot() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bagit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let bag = scratch.appendingPathComponent("bag")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.suite.appendingPathComponent("v0.97/valid/bag-in-a-bag"), to: bag)
        #expect(try Self.judge(bag.path).valid)
        let files = try FileManager.default.subpathsOfDirectory(atPath: bag.path).filter { !FileSystem.isDirectory(bag.appendingPathComponent($0).path) }
        #expect(files.count > 8)
        for name in files {
            let url = bag.appendingPathComponent(name)
            var bytes = Array(try Data(contentsOf: url))
            guard !bytes.isEmpty else { continue }
            bytes[bytes.count / 2] ^= 0x04
            try Data(bytes).write(to: url)
            #expect(!(try Self.judge(bag.path).valid), "\(name) with a byte flipped")
            bytes[bytes.count / 2] ^= 0x04
            try Data(bytes).write(to: url)
        }
        #expect(try Self.judge(bag.path).valid)
        try Data("extra".utf8).write(to: bag.appendingPathComponent("data/extra.txt"))
        #expect(!(try Self.judge(bag.path).valid))
        try FileManager.default.removeItem(at: bag.appendingPathComponent("data/extra.txt"))
        try FileManager.default.removeItem(at: bag.appendingPathComponent("data/bag/bagit.txt"))
        #expect(!(try Self.judge(bag.path).valid))
    }

    /// Error paths the suite does not reach: a digest casevault cannot check,
    /// a tag file not in the declared encoding, and two files whose names
    /// are one Unicode text.
    @Test func unknownAlgorithmsBadEncodingsAndNormalisationTwinsAreRefused() throws {
        let declaration = Array("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".utf8)
        let note = Array("note".utf8)
        let unknown = BagIt.validate(files: ["bagit.txt": declaration, "data/a": note,
                                             "manifest-blake3.txt": Array("00  data/a\n".utf8)], hasPayloadDirectory: true)
        #expect(!unknown.valid && unknown.errors.contains { $0.contains("cannot check digests of 'blake3'") }, "\(unknown.errors)")
        let sha = FixityDigest.sha256.hash(note).hexString
        let badText = BagIt.validate(files: ["bagit.txt": declaration, "data/a": note, "manifest-sha256.txt": Array("\(sha)  data/a\n".utf8),
                                             "bag-info.txt": [0x41, 0x3a, 0x20, 0xff, 0x0a]], hasPayloadDirectory: true)
        #expect(!badText.valid && badText.errors.contains("bag-info.txt is not valid in the tag file encoding bagit.txt declares"), "\(badText.errors)")
        let good = BagIt.validate(files: ["bagit.txt": declaration, "data/a": note, "manifest-sha256.txt": Array("\(sha)\tdata/a\n".utf8)],
                                  hasPayloadDirectory: true)
        #expect(good.valid && good.listed["manifest-sha256.txt"] == ["data/a"], "\(good.errors)")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bagit-nfd-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("data"), withIntermediateDirectories: true)
        try Data(declaration).write(to: folder.appendingPathComponent("bagit.txt"))
        try Data("one".utf8).write(to: folder.appendingPathComponent("data/N\u{FA}\u{F1}ez"))         // NFC
        try Data("two".utf8).write(to: folder.appendingPathComponent("data/Nu\u{301}n\u{303}ez"))   // NFD
        #expect(throws: VaultError.self) { _ = try AuditBag.read(folder.path) }
    }

    @Test func lineEndingsAndPercentEncoding() throws {
        #expect(BagIt.lines("a\r\nb\rc\nd") == ["a", "b", "c", "d"])
        #expect(BagIt.lines("a\n\nb\r\n") == ["a", "", "b"])
        var warnings: [String] = []
        #expect(try BagIt.normalisedPath("data/a%0Ab%25c%7E", warnings: &warnings).get() == "data/a\nb%c%7E")
        #expect(try BagIt.normalisedPath("./data/x", warnings: &warnings).get() == "data/x")
        #expect((try? BagIt.normalisedPath("data/../../x", warnings: &warnings).get()) == nil)
        #expect((try? BagIt.normalisedPath("data//x", warnings: &warnings).get()) == nil)
    }
}

/// What `get` refuses to write to a terminal (issue 12, item 3).
@Suite struct TerminalBinaryTests {
    func binary(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { TerminalText.looksBinary($0) } }

    @Test func plainTextPassesAndEverythingElseIsBinary() {
        #expect(!binary(Array("Visit note\r\n\tAll well. Café ✓ Ñandú 日本\n".utf8)))
        #expect(!binary(Array("cut in the middle of é".utf8).dropLast(1).map { $0 }))  // a chunk may end inside a character
        #expect(!binary([]))
        #expect(binary([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))  // PNG
        #expect(binary(Array("a\u{1B}[2Jb".utf8)))  // an escape sequence
        #expect(binary(Array("a\u{7F}".utf8)))
        #expect(binary([0x61, 0x00, 0x62]))
        #expect(binary([0x61, 0xff, 0x62]))  // not UTF-8
        #expect(binary([0xc3, 0x61]))  // a broken sequence not at the end
        #expect(binary(Array("a\u{9B}31mb".utf8)))  // C1 CSI
        let tail = Array("é and more".utf8).dropFirst(1).map { $0 }  // a chunk that begins inside a character
        #expect(tail.withUnsafeBytes { !TerminalText.looksBinary($0, continuing: true) })
        #expect(tail.withUnsafeBytes { TerminalText.looksBinary($0) })
    }
}

@Suite struct SuggestionTests {
    @Test func editDistanceCountsASwapAsOneEdit() {
        func d(_ a: String, _ b: String) -> Int { Suggestion.editDistance(Array(a), Array(b), limit: 5) }
        #expect(d("grace", "grace") == 0 && d("graec", "grace") == 1 && d("grce", "grace") == 1 && d("kitten", "sitting") == 3)
        #expect(Suggestion.closest(to: "CP-2024-0024", among: ["CP-2024-0042", "CP-2024-0043"], maxDistance: 1) == "CP-2024-0042")
        #expect(Suggestion.closest(to: "CP-2024-0099", among: ["CP-2024-0042"], maxDistance: 1) == nil)
        #expect(Suggestion.closest(to: "ab", among: ["xy"]) == nil)
    }
}
