internal import CaseVaultCrypto

/// The name of an object: lower-case hex of the BLAKE2b-256 of its bytes.
public struct ObjectID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let hex: String

    public init?(hex: String) {
        guard hex.utf8.count == 64, let bytes = [UInt8](hexString: hex), bytes.count == 32,
              bytes.hexString == hex else { return nil }
        self.hex = hex
    }

    init(digest: [UInt8]) {
        hex = digest.hexString
    }

    public var description: String { hex }
    public static func < (lhs: ObjectID, rhs: ObjectID) -> Bool { lhs.hex < rhs.hex }
}

/// A source of bytes read front to back.
protocol ByteReader: AnyObject {
    /// Fills at most `buffer.count` bytes; 0 at end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension FileDescriptor: ByteReader {}

/// Where encrypted objects live. Objects are immutable and named by their
/// hash; the catalog refers to them by `ObjectID` (design §4, §7). Keeping
/// the protocol this small is what lets a shared object store replace the
/// local folder later without touching the domain.
protocol ObjectStore: Sendable {
    /// Streams an object in: `produce` pushes its bytes to the sink it is
    /// given. Returns once the object is durable.
    func write(_ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> (id: ObjectID, size: Int64)
    /// Opens an object for reading, front to back.
    func open(_ id: ObjectID) throws -> any ByteReader
    func contains(_ id: ObjectID) -> Bool
    /// Removes an object that nothing refers to (a filing that failed).
    func remove(_ id: ObjectID)
    /// Every object present, sorted.
    func allObjects() throws -> [ObjectID]
}

/// Objects as files under `objects/`, fanned out by the first two hex
/// digits: `objects/3f/3fa4…`. Write path (SECURITY.md §10):
/// temp file in `objects/` → fsync → rename to its final name → fsync the
/// fan-out folder. A crash leaves at worst a `.tmp-*` file, which
/// `allObjects` ignores and a later clean-up removes.
struct FileObjectStore: ObjectStore {
    let root: String

    func write(_ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> (id: ObjectID, size: Int64) {
        let temp = root + "/.tmp-" + randomBytes(count: 12).hexString
        let fd = try FileSystem.createExclusive(temp, mode: 0o400)
        do {
            // Hashing and writing run on a second thread (see Pipeline).
            let writer = HashingWriter(fd: fd)
            let pipeline = Pipeline(consumer: writer)
            do {
                try produce { try pipeline.write($0) }
                try pipeline.finish()
            } catch {
                pipeline.cancel()
                throw error
            }
            let size = writer.size
            try fd.sync()
            try fd.closeNow()
            let id = ObjectID(digest: writer.hasher.finalize())
            let folder = root + "/" + String(id.hex.prefix(2))
            if !FileSystem.isDirectory(folder) {
                do { try FileSystem.makeDirectory(folder) } catch where FileSystem.isDirectory(folder) {
                    // Another process created it first.
                }
            }
            let final = folder + "/" + id.hex
            if FileSystem.fileSize(final) == size {
                // Same name, same size: the same bytes (objects are never
                // rewritten). Drop ours, but still sync below: the other
                // writer may not have synced its rename yet.
                FileSystem.remove(temp)
            } else {
                // Absent, or a damaged leftover under our name: ours wins.
                try FileSystem.rename(temp, to: final)
            }
            // Both folders, always: the fan-out folder's entry and the
            // object's name must be durable before any row refers to it.
            try FileSystem.syncDirectory(root)
            try FileSystem.syncDirectory(folder)
            return (id, size)
        } catch {
            FileSystem.remove(temp)
            throw error
        }
    }

    func open(_ id: ObjectID) throws -> any ByteReader {
        do {
            return try FileSystem.openForReading(path(of: id))
        } catch VaultError.notFound {
            throw VaultError.integrityFailure("object \(id.hex) is missing")
        }
    }

    func contains(_ id: ObjectID) -> Bool {
        FileSystem.isRegularFile(path(of: id))
    }

    func remove(_ id: ObjectID) {
        FileSystem.remove(path(of: id))
    }

    func allObjects() throws -> [ObjectID] {
        var ids: [ObjectID] = []
        for folder in try FileSystem.listDirectory(root) where folder.utf8.count == 2 {
            for name in try FileSystem.listDirectory(root + "/" + folder) {
                if let id = ObjectID(hex: name), name.hasPrefix(folder) { ids.append(id) }
            }
        }
        return ids.sorted()
    }

    func path(of id: ObjectID) -> String {
        root + "/" + String(id.hex.prefix(2)) + "/" + id.hex
    }
}

/// Names an object while writing it: BLAKE2b of every byte, then the bytes
/// to the temp file. Used only from the pipeline's worker thread until the
/// pipeline has finished, hence `@unchecked Sendable`.
final class HashingWriter: ChunkConsumer, @unchecked Sendable {
    let hasher = Blake2b()
    let fd: FileDescriptor
    private(set) var size: Int64 = 0

    init(fd: FileDescriptor) {
        self.fd = fd
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        try fd.write(bytes)
        size += Int64(bytes.count)
    }
}
