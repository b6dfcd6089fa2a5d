@testable import CaseVaultArchive
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// A fresh temp folder per test, removed at the end.
private final class Scratch {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "casevault-archive-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

private struct Item {
    var path: String
    var data: [UInt8]?  // nil for a directory
}

private func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8((($0 * 31) + seed) % 251) }
}

private func write(_ items: [Item], to path: String, format: ArchiveWriter.Format, passphrase: String? = nil) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0)
    defer { close(fd) }
    let writer: ArchiveWriter
    if let passphrase {
        writer = try Array(passphrase.utf8).withUnsafeBytes {
            try ArchiveWriter(fileDescriptor: fd, format: format, passphrase: $0)
        }
    } else {
        writer = try ArchiveWriter(fileDescriptor: fd, format: format)
    }
    for item in items {
        if let data = item.data {
            try writer.beginFile(path: item.path, size: Int64(data.count), modificationTime: 1_700_000_000)
            // Fed in pieces, as a streaming producer would.
            var offset = 0
            repeat {
                let end = min(data.count, offset + 10_000)
                try data[offset..<end].withUnsafeBytes { try writer.write($0) }
                offset = end
            } while offset < data.count
            try writer.finishEntry()
        } else {
            try writer.addDirectory(path: item.path, modificationTime: 1_700_000_000)
        }
    }
    try writer.finish()
}

private func readAll(fd: Int32, limits: ArchiveLimits = ArchiveLimits(), passphrase: String? = nil) throws -> [Item] {
    let reader: ArchiveReader
    if let passphrase {
        reader = try Array(passphrase.utf8).withUnsafeBytes { try ArchiveReader(fileDescriptor: fd, limits: limits, passphrase: $0) }
    } else {
        reader = try ArchiveReader(fileDescriptor: fd, limits: limits)
    }
    var items: [Item] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while let entry = try reader.nextEntry() {
        guard entry.kind == .file else { items.append(Item(path: entry.path, data: nil)); continue }
        var data: [UInt8] = []
        while true {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { break }
            data += buffer[0..<n]
        }
        items.append(Item(path: entry.path, data: data))
    }
    return items
}

private func readAll(path: String, limits: ArchiveLimits = ArchiveLimits(), passphrase: String? = nil) throws -> [Item] {
    let fd = open(path, O_RDONLY)
    precondition(fd >= 0, "cannot open \(path)")
    defer { close(fd) }
    return try readAll(fd: fd, limits: limits, passphrase: passphrase)
}

private let sample: [Item] = [
    Item(path: "CP-2024-0042 [O]", data: nil),
    Item(path: "CP-2024-0042 [O]/empty.txt", data: []),
    Item(path: "CP-2024-0042 [O]/intake.json", data: Array(#"{"name":"Évaluation ñ"}"#.utf8)),
    Item(path: "CP-2024-0042 [O]/photo.jpg", data: pattern(65_537, seed: 2)),
    Item(path: "CP-2024-0042 [O]/Évaluation.pdf", data: pattern(200_000, seed: 9)),
]

@Suite struct ArchiveRoundTripTests {
    @Test(arguments: [ArchiveWriter.Format.paxTar, .zip])
    func roundTrip(format: ArchiveWriter.Format) throws {
        let scratch = Scratch()
        let path = scratch.file("out")
        try write(sample, to: path, format: format)
        let back = try readAll(path: path)
        #expect(back.map(\.path) == sample.map(\.path))
        #expect(back.map(\.data) == sample.map(\.data))
    }

    @Test func aes256ZipRoundTripsWithThePassphraseOnly() throws {
        let scratch = Scratch()
        let path = scratch.file("out.zip")
        try write(sample, to: path, format: .zipAES256, passphrase: "handover passphrase 1")
        let back = try readAll(path: path, passphrase: "handover passphrase 1")
        #expect(back.map(\.data) == sample.map(\.data))
        #expect(throws: ArchiveError.self) { _ = try readAll(path: path, passphrase: "wrong passphrase") }
        #expect(throws: ArchiveError.self) { _ = try readAll(path: path) }
        // The content is not in the file in clear.
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(raw.range(of: Data("Évaluation ñ".utf8)) == nil)
    }

    static let sevenZip = ["/usr/bin/7zz", "/usr/local/bin/7zz"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.disabled(if: sevenZip == nil, "7zz (Debian package 7zip) is not installed; `make test` installs it"))
    func sevenZipOpensOurAES256Zip() throws {
        let scratch = Scratch()
        let path = scratch.file("handover.zip")
        try write(sample, to: path, format: .zipAES256, passphrase: "handover passphrase 1")

        func sevenZip(_ arguments: [String]) throws -> (Int32, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.sevenZip!)
            process.arguments = arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = out
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }
        let (listed, listing) = try sevenZip(["l", "-slt", path])
        #expect(listed == 0)
        #expect(listing.contains("Method = AES-256"))
        let (extracted, _) = try sevenZip(["x", "-phandover passphrase 1", "-o" + scratch.file("x"), path])
        #expect(extracted == 0)
        for item in sample where item.data != nil {
            let data = try Data(contentsOf: URL(fileURLWithPath: scratch.file("x/" + item.path)))
            #expect(Array(data) == item.data)
        }
        let (wrong, _) = try sevenZip(["t", "-pnot the passphrase", path])
        #expect(wrong != 0)
    }

    @Test func writerRefusesEntriesOfTheWrongLengthAndThenEverything() throws {
        let scratch = Scratch()
        let fd = open(scratch.file("x.tar"), O_WRONLY | O_CREAT, 0o600)
        defer { close(fd) }
        let long = try ArchiveWriter(fileDescriptor: fd, format: .paxTar)
        try long.beginFile(path: "a", size: 3, modificationTime: 0)
        #expect(throws: ArchiveError.writeFailed("entry is longer than the 3 bytes it declared")) {
            try [UInt8]([1, 2, 3, 4]).withUnsafeBytes { try long.write($0) }
        }
        #expect(throws: ArchiveError.writeFailed("the archive writer already failed")) { try long.finish() }

        let short = try ArchiveWriter(fileDescriptor: fd, format: .paxTar)
        try short.beginFile(path: "a", size: 3, modificationTime: 0)
        try [UInt8]([1, 2]).withUnsafeBytes { try short.write($0) }
        #expect(throws: ArchiveError.writeFailed("entry is 2 bytes, declared 3")) { try short.finishEntry() }
    }

    @Test func anAbandonedWriterLeavesNoValidArchive() throws {
        let scratch = Scratch()
        let path = scratch.file("abandoned.tar")
        let fd = open(path, O_WRONLY | O_CREAT, 0o600)
        do {
            let writer = try ArchiveWriter(fileDescriptor: fd, format: .paxTar)
            try writer.beginFile(path: "a.txt", size: 100_000, modificationTime: 0)
            try pattern(1_000).withUnsafeBytes { try writer.write($0) }
            // dropped here, unfinished
        }
        close(fd)
        // No zero-padded entry and no trailer were written for it.
        #expect(throws: ArchiveError.self) { _ = try readAll(path: path) }
    }

    @Test func encryptionNeedsTheAES256ZipFormatAndAPassphrase() throws {
        let fd = open("/dev/null", O_WRONLY)
        defer { close(fd) }
        #expect(throws: ArchiveError.self) { _ = try ArchiveWriter(fileDescriptor: fd, format: .zipAES256) }
        #expect(throws: ArchiveError.self) {
            _ = try [UInt8(1)].withUnsafeBytes { try ArchiveWriter(fileDescriptor: fd, format: .paxTar, passphrase: $0) }
        }
    }
}

@Suite struct HostileArchiveTests {
    private func refusal(_ fixture: String, limits: ArchiveLimits = ArchiveLimits()) -> ArchiveError? {
        do {
            _ = try readAll(path: fixtures.appendingPathComponent(fixture).path, limits: limits)
            return nil
        } catch let error as ArchiveError {
            return error
        } catch {
            return .malformed("unexpected \(error)")
        }
    }

    @Test(arguments: [
        ("absolute-path.tar", "absolute path"),
        ("dot-dot.tar", "parent-directory reference"),
        ("zip-dot-dot.zip", "parent-directory reference"),
        ("duplicate-name.tar", "duplicate name"),
        ("backslash.tar", "backslash in name"),
        ("symlink.tar", "symbolic link"),
        ("hardlink.tar", "hard link"),
        ("device.tar", "device file"),
        ("fifo.tar", "FIFO"),
    ])
    func unsafeEntriesAreRefused(fixture: String, reason: String) {
        guard case .unsafeEntry(_, let actual) = refusal(fixture) else {
            Issue.record("\(fixture) was not refused as unsafe: \(String(describing: refusal(fixture)))")
            return
        }
        #expect(actual == reason)
    }

    @Test func tooManyEntriesAreRefused() {
        #expect(refusal("many-entries.tar", limits: ArchiveLimits(maxEntries: 5)) == .limitExceeded("more than 5 entries"))
        #expect(refusal("many-entries.tar", limits: ArchiveLimits(maxEntries: 20)) == nil)
    }

    @Test func declaredOversizedEntriesAreRefused() {
        guard case .limitExceeded = refusal("large-entry.tar.gz", limits: ArchiveLimits(maxEntrySize: 1 << 20)) else {
            Issue.record("oversized entry accepted")
            return
        }
        guard case .limitExceeded = refusal("large-entry.tar.gz", limits: ArchiveLimits(maxTotalSize: 1 << 20)) else {
            Issue.record("oversized total accepted")
            return
        }
        #expect(refusal("large-entry.tar.gz") == nil)
    }

    @Test func anEntryWhoseSizeIsOnlyKnownByReadingIsStoppedAtTheLimit() throws {
        // Through a pipe libarchive cannot seek to the zip's central
        // directory, so the entry's size is unknown until its data is read.
        let bytes = try Data(contentsOf: fixtures.appendingPathComponent("streamed-bomb.zip"))
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(bytes)
        try pipe.fileHandleForWriting.close()
        let limits = ArchiveLimits(maxEntrySize: 1 << 20)
        #expect(throws: ArchiveError.limitExceeded("an entry produced more than 1048576 bytes")) {
            _ = try readAll(fd: pipe.fileHandleForReading.fileDescriptor, limits: limits)
        }
    }

    @Test func aReaderThatRefusedAnEntryHandsOutNothingMore() throws {
        let fd = open(fixtures.appendingPathComponent("dot-dot.tar").path, O_RDONLY)
        defer { close(fd) }
        let reader = try ArchiveReader(fileDescriptor: fd)
        #expect(try reader.nextEntry()?.path == "ok.txt")
        #expect(throws: ArchiveError.self) { _ = try reader.nextEntry() }
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(throws: ArchiveError.malformed("the archive reader already refused this archive")) {
            _ = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
        }
        #expect(throws: ArchiveError.self) { _ = try reader.nextEntry() }
    }

    @Test(arguments: [
        ("a/./b//c", "a/b/c"), ("./form.json", "form.json"), ("dir/", "dir"), ("Évaluation ñ.pdf", "Évaluation ñ.pdf"),
    ])
    func namesAreNormalised(name: String, expected: String) throws {
        #expect(try ArchiveReader.normalise(name, maxLength: 1_024) == expected)
    }

    @Test(arguments: [
        "", "/", ".", "./", "/etc/passwd", "a/../b", "..", "C:", "C:foo/x", "c:\\x", "a\u{0}b", "a\u{1b}b",
        "a\u{85}b", "photo\u{202e}gpj.exe", "x\u{2066}y",
    ])
    func unsafeNamesAreRefused(name: String) {
        #expect(throws: ArchiveError.self) { _ = try ArchiveReader.normalise(name, maxLength: 1_024) }
    }

    @Test func overLongNamesAreRefused() throws {
        #expect(throws: ArchiveError.self) { _ = try ArchiveReader.normalise(String(repeating: "a", count: 1_025), maxLength: 1_024) }
        #expect(try ArchiveReader.normalise(String(repeating: "a", count: 1_024), maxLength: 1_024).count == 1_024)
    }

    @Test func garbageIsMalformed() throws {
        let scratch = Scratch()
        try Data(pattern(5_000)).write(to: URL(fileURLWithPath: scratch.file("junk")))
        #expect(throws: ArchiveError.self) { _ = try readAll(path: scratch.file("junk")) }
    }
}
