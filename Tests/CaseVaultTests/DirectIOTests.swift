@testable import CaseVault
import CaseVaultCrypto
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A scratch folder on the checkout's own file system (under `.build`),
/// which sits on a block device here and in CI, where /tmp may not.
private func deviceScratch() -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build").path
    let path = root + "/direct-io-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func bytes(at path: String) -> [UInt8] {
    [UInt8](FileManager.default.contents(atPath: path) ?? Data())
}

/// The page-aligned, direct-I/O write and read paths behind filing and get.
@Suite struct DirectIOTests {
    /// Sizes around the 4 KiB alignment and the 1 MiB block, through the
    /// same pipeline `get -o` uses; the file must hold exactly the input.
    @Test(arguments: [0, 1, 4095, 4096, 4097, FileWriter.blockSize - 1, FileWriter.blockSize,
                      FileWriter.blockSize + 1, 3 * FileWriter.blockSize + 65_553])
    func pipelineToFileWritesExactlyTheInput(size: Int) throws {
        let folder = deviceScratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/out"
        let fd = try FileSystem.createExclusive(path)
        let writer = FileWriter(fd: fd, direct: true)
        let pipeline = Pipeline(consumer: writer, buffers: 3, bufferSize: FileWriter.blockSize)
        let input = pattern(size, seed: size % 97)
        var offset = 0
        while offset < input.count {
            let end = min(input.count, offset + 65_536)
            try input[offset..<end].withUnsafeBytes { try pipeline.write($0) }
            offset = end
        }
        try pipeline.finish()
        try fd.sync()
        try fd.closeNow()
        #expect(writer.size == Int64(size))
        #expect(bytes(at: path) == input)
    }

    @Test func directIOIsUsedOnABlockDeviceAndDroppedForTheTail() throws {
        let folder = deviceScratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fd = try FileSystem.createExclusive(folder + "/out")
        try #require(fd.hasDevice, "the checkout is expected on a block device")
        let writer = FileWriter(fd: fd, direct: true)
        #expect(writer.isDirect)
        let block = SecureBytes(count: FileWriter.blockSize)
        try block.withUnsafeBytes { try writer.consume($0) }
        #expect(writer.isDirect, "a full, page-aligned block goes direct")
        try block.withUnsafeBytes { try writer.consume(UnsafeRawBufferPointer(rebasing: $0[0..<100])) }
        #expect(!writer.isDirect, "the short tail goes through the page cache")
        try fd.sync()
        #expect(writer.size == Int64(FileWriter.blockSize + 100))
        #expect(FileSystem.fileSize(folder + "/out") == Int64(FileWriter.blockSize + 100))
    }

    @Test func anUnalignedFirstPieceFallsBackWithoutLosingBytes() throws {
        let folder = deviceScratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fd = try FileSystem.createExclusive(folder + "/out")
        let writer = FileWriter(fd: fd, direct: true)
        let input = pattern(3 * 4096 + 1, seed: 5)
        // Offset by one byte: the address is not aligned.
        try input.withUnsafeBytes { try writer.consume(UnsafeRawBufferPointer(rebasing: $0[1...])) }
        try input.withUnsafeBytes { try writer.consume(UnsafeRawBufferPointer(rebasing: $0[0..<1])) }
        #expect(!writer.isDirect)
        try fd.sync()
        #expect(bytes(at: folder + "/out") == Array(input[1...]) + [input[0]])
    }

    @Test func memoryFileSystemsUseThePageCache() throws {
        try #require(FileManager.default.fileExists(atPath: "/dev/shm"))
        let path = "/dev/shm/casevault-direct-io-" + UUID().uuidString
        defer { unlink(path) }
        let fd = try FileSystem.createExclusive(path)
        #expect(!fd.hasDevice)
        #expect(!FileWriter(fd: fd, direct: true).isDirect)
    }

    /// Read sizes that straddle blocks in every way, against file sizes
    /// around the block boundaries: the reader hands back the file, in order.
    @Test(arguments: [0, 1, 4096, ReadAhead.blockSize - 1, ReadAhead.blockSize, ReadAhead.blockSize + 1,
                      5 * ReadAhead.blockSize + 12_345])
    func readAheadReturnsTheWholeFileInOrder(size: Int) throws {
        let folder = deviceScratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = pattern(size, seed: 11)
        FileManager.default.createFile(atPath: folder + "/in", contents: Data(input))
        for (step, direct) in [(65_553, true), (7, true), (3 * ReadAhead.blockSize, true), (65_553, false)] {
            let reader = ReadAhead(fd: try FileSystem.openForReading(folder + "/in"), direct: direct, blocks: 2)
            var output: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: step)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                if n == 0 { break }
                output += buffer[0..<n]
            }
            #expect(output == input, "size \(size), read step \(step), direct \(direct)")
            #expect(try buffer.withUnsafeMutableBytes { try reader.read(into: $0) } == 0, "the end stays the end")
        }
    }

    @Test func readAheadReportsAReadError() throws {
        // read(2) on a folder fails with EISDIR.
        let folder = deviceScratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let raw = open(folder, O_RDONLY | O_DIRECTORY)
        try #require(raw >= 0)
        let reader = ReadAhead(fd: FileDescriptor(raw, path: folder))
        var buffer = [UInt8](repeating: 0, count: 100)
        #expect(throws: VaultError.self) { _ = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) } }
    }

    /// A reader dropped part-way (an object that fails authentication) stops
    /// its thread and closes its file.
    @Test func aDroppedReaderClosesItsFile() throws {
        let folder = deviceScratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        FileManager.default.createFile(atPath: folder + "/in", contents: Data(pattern(8 * ReadAhead.blockSize)))
        func openFiles() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0 }
        let before = openFiles()
        for _ in 0..<20 {
            let reader = ReadAhead(fd: try FileSystem.openForReading(folder + "/in"), blocks: 2)
            var buffer = [UInt8](repeating: 0, count: 1000)
            _ = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
        }
        // The threads notice the drop at their next wait; give them a moment.
        var waited = 0
        while openFiles() > before && waited < 200 {
            usleep(10_000)
            waited += 1
        }
        #expect(openFiles() <= before)
    }
}
