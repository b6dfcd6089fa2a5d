@testable import CaseVault
import CaseVaultCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

@Suite struct ObjectStoreTests {
    private func store(_ scratch: Scratch, naming: ObjectNaming = .blake2b) throws -> FileObjectStore {
        try FileManager.default.createDirectory(atPath: scratch.file("objects"), withIntermediateDirectories: false)
        return FileObjectStore(root: scratch.file("objects"), naming: naming)
    }

    private func put(_ bytes: [UInt8], in store: FileObjectStore) throws -> (id: ObjectID, size: Int64) {
        try store.write { sink in
            var offset = 0
            repeat {
                let end = min(bytes.count, offset + 70_000)
                try bytes[offset..<end].withUnsafeBytes { try sink($0) }
                offset = end
            } while offset < bytes.count
        }
    }

    private func get(_ id: ObjectID, from store: FileObjectStore) throws -> [UInt8] {
        let reader = try store.open(id)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { return out }
            out += buffer[0..<n]
        }
    }

    /// A bulk group's objects are made durable by one syncfs where the
    /// kernel reports its errors (5.8 on): found at run time, since Glibc's
    /// module does not declare it. Written with `writeNamingLater`, each
    /// reads back once its group's names are synced.
    @Test func aGroupIsSyncedByOneSyncfsOnKernelsThatReportItsErrors() throws {
        var names = utsname()
        #expect(uname(&names) == 0)
        let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if ProcessInfo.processInfo.environment["CASEVAULT_NO_SYNCFS"] == nil, let version = FileSystem.kernelVersion(release), version >= (5, 17) {
            #expect(FileSystem.syncFileSystem != nil, "kernel \(release)")
        }
        #expect(FileSystem.kernelVersion("6.1.0-18-amd64")! == (6, 1) && FileSystem.kernelVersion("5.17")! == (5, 17))
        #expect(FileSystem.kernelVersion("5.10.0")! < (5, 17) && FileSystem.kernelVersion("4.19.0-rc1")! < (5, 17))
        #expect(FileSystem.kernelVersion("") == nil && FileSystem.kernelVersion("6") == nil && FileSystem.kernelVersion("x.y") == nil)
        let scratch = Scratch()
        let store = try store(scratch)
        let group = try store.startGroup()
        // This machine's /work is ext4, which syncs by file system; /proc does not.
        let proc = open("/proc", O_RDONLY | O_DIRECTORY)
        #expect(proc >= 0 && !FileSystem.syncsByFileSystem(proc))
        close(proc)
        let probe = ObjectGroup(watch: try FileSystem.openForSyncingFileSystem(store.root))  // closed with it
        if FileSystem.syncFileSystem != nil, FileSystem.syncsByFileSystem(probe.watch!) {
            #expect(group.watch != nil)
        }
        let written = try (0..<40).map { i in try store.writeNamingLater({ sink in try Array("object \(i)".utf8).withUnsafeBytes { try sink($0) } }, in: group).id }
        try store.syncNames(of: written, in: group)
        for (i, id) in written.enumerated() {
            #expect(try get(id, from: store) == Array("object \(i)".utf8))
        }
    }

    /// By BLAKE2b-256 in a vault of format 2, BLAKE3-256 from format 3
    /// (SECURITY.md §9); small objects (gathered, under 1 MiB) and large
    /// ones (through the pipeline) alike.
    @Test(arguments: ObjectNaming.allCases, [300_000, 3 << 20])
    func objectsAreNamedByTheirHashAndReadBack(naming: ObjectNaming, count: Int) throws {
        let scratch = Scratch()
        let store = try store(scratch, naming: naming)
        let bytes = (0..<count).map { UInt8($0 % 251) }
        let (id, size) = try put(bytes, in: store)
        #expect(size == Int64(count))
        #expect(id.hex == (naming == .blake2b ? Blake2b.hash(bytes) : Blake3.hash(bytes)).hexString)
        #expect(store.contains(id))
        #expect(try get(id, from: store) == bytes)
        #expect(try store.allObjects() == [id])
        #expect(scratch.listing() == ["objects", "objects/\(id.hex.prefix(2))", "objects/\(id.hex.prefix(2))/\(id.hex)"])
        #expect(ObjectNaming(formatVersion: 2) == .blake2b && ObjectNaming(formatVersion: 3) == .blake3)
    }

    /// A transfer's object, named in advance: a vault of format 3 keeps a
    /// BLAKE3 or a BLAKE2b name (a case moved in from an older vault); one
    /// of format 2 only a BLAKE2b name, which every casevault can check.
    /// Bytes that hash to no name the vault accepts are stored under their
    /// own name, which the importer sees differ (and refuses).
    @Test(arguments: ObjectNaming.allCases, [5_000, 2 << 20])
    func anObjectNamedInAdvanceKeepsANameItsVaultAccepts(naming: ObjectNaming, count: Int) throws {
        let scratch = Scratch()
        let store = try store(scratch, naming: naming)
        let bytes = randomBytes(count: count)
        let byBlake2b = ObjectID(digest: Blake2b.hash(bytes)), byBlake3 = ObjectID(digest: Blake3.hash(bytes))
        let own = naming == .blake2b ? byBlake2b : byBlake3
        for expected in [byBlake2b, byBlake3] {
            let written = try store.write(expecting: expected) { sink in try bytes.withUnsafeBytes { try sink($0) } }
            let accepted = naming == .blake3 || expected == byBlake2b
            #expect(written.id == (accepted ? expected : own) && written.size == Int64(count))
            #expect(store.contains(expected) == accepted)
            #expect(naming.accepts(expected) { ObjectID(digest: $0 == .blake2b ? Blake2b.hash(bytes) : Blake3.hash(bytes)).hex } == accepted)
            if accepted { #expect(try get(expected, from: store) == bytes) }
        }
        let claimed = ObjectID(digest: Blake3.hash(bytes + [0]))
        let forged = try store.write(expecting: claimed) { sink in try bytes.withUnsafeBytes { try sink($0) } }
        #expect(forged.id == own && !store.contains(claimed))
        #expect(!naming.accepts(claimed) { ObjectID(digest: $0 == .blake2b ? Blake2b.hash(bytes) : Blake3.hash(bytes)).hex })
    }

    @Test func identicalBytesAreStoredOnce() throws {
        let scratch = Scratch()
        let store = try store(scratch)
        let a = try put([1, 2, 3], in: store)
        let b = try put([1, 2, 3], in: store)
        #expect(a.id == b.id)
        #expect(try store.allObjects().count == 1)
        #expect(scratch.listing().filter { $0.contains(".tmp-") }.isEmpty)
    }

    @Test func aFailingProducerLeavesNoFile() throws {
        let scratch = Scratch()
        let store = try store(scratch)
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            _ = try store.write { sink in
                try [UInt8](repeating: 7, count: 1000).withUnsafeBytes { try sink($0) }
                throw Boom()
            }
        }
        #expect(scratch.listing() == ["objects"])
    }

    /// A small object is created under its own name (its bytes are
    /// gathered and hashed first), never through a temporary file; a file
    /// cut short under that name (a crash while it was written) is replaced
    /// by the whole object, and one of the same size is taken for it.
    @Test func aSmallObjectTakesItsNameAtOnceAndReplacesALeftoverCutShort() throws {
        let scratch = Scratch()
        let store = try store(scratch)
        let bytes = (0..<5_000).map { UInt8($0 % 7) }
        let id = ObjectID(digest: Blake2b.hash(bytes))
        try FileManager.default.createDirectory(atPath: scratch.file("objects/\(id.hex.prefix(2))"), withIntermediateDirectories: false)
        try Data(bytes[0..<1_000]).write(to: URL(fileURLWithPath: store.path(of: id)))
        #expect(try store.allObjects() == [id])
        let written = try store.writeNamingLater({ sink in try bytes.withUnsafeBytes { try sink($0) } }, in: try store.startGroup())
        #expect(written.id == id && written.size == 5_000)
        #expect(try get(id, from: store) == bytes)
        #expect(scratch.listing().filter { $0.contains(".tmp-") }.isEmpty)

        let other = (0..<3_000).map { UInt8($0 % 11) }
        let group = try store.startGroup()
        let fresh = try store.writeNamingLater({ sink in try other.withUnsafeBytes { try sink($0) } }, in: group)
        try store.syncNames(of: [id, fresh.id], in: group)
        #expect(try get(fresh.id, from: store) == other)
        let mode = try FileManager.default.attributesOfItem(atPath: store.path(of: fresh.id))[.posixPermissions] as? Int
        #expect(mode == 0o400)
    }

    @Test func aMissingObjectIsAnIntegrityFailure() throws {
        let scratch = Scratch()
        let store = try store(scratch)
        let id = ObjectID(hex: String(repeating: "ab", count: 32))!
        #expect(throws: VaultError.integrityFailure("object \(id.hex) is missing")) { _ = try store.open(id) }
        #expect(ObjectID(hex: "AB") == nil)
        #expect(ObjectID(hex: String(repeating: "AB", count: 32)) == nil)
    }

    @Test func strayFilesAreNotObjects() throws {
        let scratch = Scratch()
        let store = try store(scratch)
        let (id, _) = try put([9], in: store)
        try "x".write(toFile: scratch.file("objects/.tmp-crashed"), atomically: false, encoding: .utf8)
        try "x".write(toFile: scratch.file("objects/\(id.hex.prefix(2))/notes"), atomically: false, encoding: .utf8)
        #expect(try store.allObjects() == [id])
    }
}
