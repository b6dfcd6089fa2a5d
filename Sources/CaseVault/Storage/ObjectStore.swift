internal import CaseVaultCrypto

/// The name of an object: lower-case hex of the hash of its bytes,
/// BLAKE3-256 or BLAKE2b-256 (`ObjectNaming`, SECURITY.md §9).
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

/// Which hash names a vault's new objects (SECURITY.md §9): BLAKE3-256 from
/// vault format 3, BLAKE2b-256 before. The format is signed
/// (`vault.created`), so the choice is too. An object keeps the name it was
/// filed under for good, and a case moved between vaults brings its
/// objects' names with it: a vault of format 3 holds objects named either
/// way (cases moved in from older vaults), and accepts a name if either
/// hash of the bytes gives it; one of format 2 holds only BLAKE2b names,
/// which every casevault can check, and refuses a case from a vault of
/// format 3 (`accepted`).
public enum ObjectNaming: String, Sendable, CaseIterable {
    case blake2b, blake3

    /// The first format whose objects are named by BLAKE3.
    static let blake3Format = 3

    init(formatVersion: Int) {
        self = formatVersion >= Self.blake3Format ? .blake3 : .blake2b
    }

    /// How a `package.exported` of this event format names its package
    /// file: BLAKE2b-256 up to format 4, BLAKE3-256 from format 5, which
    /// vaults of format 3 sign (SECURITY.md §12, §15a).
    init(eventFormat: Int) {
        self = eventFormat >= 5 ? .blake3 : .blake2b
    }

    /// As a command prints a file's hash, with the tool that checks it.
    public var label: String { self == .blake3 ? "BLAKE3-256" : "BLAKE2b-256" }
    public var checkedBy: String { self == .blake3 ? "b3sum" : "b2sum -l 256" }

    func hasher() -> any ObjectHasher {
        switch self {
        case .blake2b: FastBlake2b()
        case .blake3: Blake3()
        }
    }

    /// The namings an object of a vault named this way may have, its own
    /// first (the others are rarer in it).
    var accepted: [ObjectNaming] { self == .blake3 ? [.blake3, .blake2b] : [.blake2b] }

    /// Whether `id` is the hash, by a naming this vault accepts, that
    /// `hash` gives: its own naming is tried first, the others only if it
    /// does not give `id`.
    func accepts(_ id: ObjectID, hashedBy hash: (ObjectNaming) throws -> String) rethrows -> Bool {
        try accepted.contains { try hash($0) == id.hex }
    }
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
    /// As `write`, for an object named in advance (a transfer's): it is
    /// stored as `expected` if its bytes hash to that by a naming the vault
    /// accepts (`ObjectNaming.accepted`); otherwise under its own name,
    /// which the caller sees differ.
    func write(expecting expected: ObjectID, _ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> (id: ObjectID, size: Int64)
    /// Starts a group of small objects (`writeNamingLater`), before its
    /// first write.
    func startGroup() throws -> ObjectGroup
    /// As `write`, for one of many small objects written together: the
    /// object is durable, bytes and name, once `syncNames(of:in:)` has
    /// returned for it (one sync for the whole group, not three per object).
    func writeNamingLater(_ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void, in group: ObjectGroup) throws -> (id: ObjectID, size: Int64)
    /// Makes the objects of a group, written by `writeNamingLater`, and
    /// their names durable.
    func syncNames(of ids: [ObjectID], in group: ObjectGroup) throws
    /// Opens an object for reading, front to back.
    func open(_ id: ObjectID) throws -> any ByteReader
    func contains(_ id: ObjectID) -> Bool
    /// Removes an object that nothing refers to (a filing that failed).
    func remove(_ id: ObjectID)
    /// Every object present, sorted.
    func allObjects() throws -> [ObjectID]
}

/// Objects as files under `objects/`, fanned out by the first two hex
/// digits: `objects/3f/3fa4…`. Write path (SECURITY.md §10): a large
/// object goes temp file in `objects/` → fsync → rename to its final name
/// → fsync both folders; a small one (its ciphertext gathered in memory,
/// so named before it is written) is created under its final name →
/// fsync → fsync both folders. A crash leaves at worst a `.tmp-*` file,
/// which `allObjects` ignores, or a small object no row names (an
/// orphan); a later clean-up removes either.
/// A group of small objects being written (`ObjectStore.startGroup`):
/// where one syncfs makes the group durable, the objects folder opened
/// before the group's first write, so that syncfs reports any write-back
/// error of the group's files, even one another process saw first.
final class ObjectGroup: @unchecked Sendable {
    let watch: Int32?
    init(watch: Int32?) { self.watch = watch }
    deinit { if let watch { FileSystem.closeDescriptor(watch) } }
}

struct FileObjectStore: ObjectStore {
    let root: String
    /// How new objects are named: by the vault's format.
    let naming: ObjectNaming
    /// Objects up to this size skip the pipeline (see `write`).
    static let smallObjectLimit = 1 << 20

    /// The group syncs by one syncfs when `FileSystem.syncsByFileSystem`
    /// says so of the very descriptor it will sync through; otherwise each
    /// object and folder is synced.
    func startGroup() throws -> ObjectGroup {
        guard FileSystem.syncFileSystem != nil else { return ObjectGroup(watch: nil) }
        let fd = try FileSystem.openForSyncingFileSystem(root)
        guard FileSystem.syncsByFileSystem(fd) else {
            FileSystem.closeDescriptor(fd)
            return ObjectGroup(watch: nil)
        }
        return ObjectGroup(watch: fd)
    }

    func write(_ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> (id: ObjectID, size: Int64) {
        try write(produce, hasher: naming.hasher(), syncingNames: true, syncingFile: true)
    }

    func write(expecting expected: ObjectID, _ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> (id: ObjectID, size: Int64) {
        try write(produce, hasher: AcceptedNames(expected, naming.accepted), syncingNames: true, syncingFile: true)
    }

    func writeNamingLater(_ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void, in group: ObjectGroup) throws -> (id: ObjectID, size: Int64) {
        try write(produce, hasher: naming.hasher(), syncingNames: false, syncingFile: group.watch == nil)
    }

    /// A bulk filing's group of up to 1,024 small objects lands in up to
    /// all 256 fan-out folders (256 objects in about 160). Where syncfs
    /// serves (`FileSystem.syncsByFileSystem`), one call, through the folder
    /// opened when the group started, makes every object of the group and
    /// every name durable: the objects were not synced one by one
    /// (`writeSmall`). Elsewhere each object was, and the
    /// folders' syncs go on several threads at once (each mostly waits on
    /// the disk). Bulk filing of 2,000 forms of 2 KiB on the 2-core
    /// benchmark machine: 1.02 s with a sync per object and per folder,
    /// 0.88 s with syncfs (medians of 7 interleaved runs on copies of one
    /// vault, CASEVAULT_NO_SYNCFS=1 for the first).
    func syncNames(of ids: [ObjectID], in group: ObjectGroup) throws {
        guard !ids.isEmpty else { return }
        if let watch = group.watch {
            try FileSystem.syncFileSystem(through: watch, folder: root)
            return
        }
        try FileSystem.syncDirectory(root)
        let folders = Set(ids.map { root + "/" + String($0.hex.prefix(2)) }).sorted()
        for outcome in Parallel.map(folders, threads: Self.syncThreads, { folder in Result { try FileSystem.syncDirectory(folder) } }) {
            try outcome.get()
        }
    }

    /// Threads for a group's syncs (objects, then folders).
    static let syncThreads = 4

    /// `syncingFile` false: a small object is not fsynced (its group's
    /// syncfs will be); a large one always is.
    private func write(_ produce: (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void, hasher: any ObjectHasher,
                       syncingNames: Bool, syncingFile: Bool) throws -> (id: ObjectID, size: Int64) {
        // A small object (up to `smallObjectLimit` of ciphertext: a form, a
        // letter) is gathered in memory, named by its hash, and written
        // straight under its final name with one write through the page
        // cache: the pipeline's threads and its 5 MiB of buffers cost more
        // than such an object's whole filing, and a temporary
        // file in `objects/` itself made every filing of a bulk group wait
        // on that one folder's lock. Past the limit, a temporary file and
        // three stages on their own threads (see Pipeline): the caller reads
        // and encrypts; the second names the object as the bytes pass; the
        // third writes them, directly to the device where the file system
        // allows (FileWriter). The gathered bytes are ciphertext.
        var gathered: [UInt8] = []
        var large: (temp: String, fd: FileDescriptor, pipeline: Pipeline, hashing: HashingForwarder, writing: Pipeline, file: FileWriter)?
        do {
            try produce { bytes in
                if large == nil {
                    if gathered.count + bytes.count <= Self.smallObjectLimit {
                        gathered.append(contentsOf: bytes)
                        return
                    }
                    let temp = root + "/.tmp-" + randomBytes(count: 12).hexString
                    let fd = try FileSystem.createExclusive(temp, mode: 0o400)
                    let file = FileWriter(fd: fd, direct: true)
                    // An object is ciphertext: its buffers need not be locked.
                    let writing = Pipeline(consumer: file, buffers: 4, bufferSize: DirectIO.blockSize, secret: false)
                    let hashing = HashingForwarder(hasher: hasher, next: writing)
                    // Pieces of 128 KiB, a multiple of BLAKE3's 16 KiB: cut at
                    // the secretstream's 65,553-byte chunks, every piece would
                    // end mid-chunk and a fifth of the hash would run unaligned.
                    large = (temp, fd, Pipeline(consumer: hashing, buffers: 8, bufferSize: 128 << 10, secret: false), hashing, writing, file)
                    try gathered.withUnsafeBytes { try large!.pipeline.write($0) }
                    gathered = []
                }
                try large!.pipeline.write(bytes)
            }
            try large?.pipeline.finish()
            try large?.writing.finish()
        } catch {
            large?.pipeline.cancel()
            large?.writing.cancel()
            if let large { FileSystem.remove(large.temp) }
            throw error
        }
        guard let large else { return try writeSmall(gathered, hasher: hasher, syncingNames: syncingNames, syncingFile: syncingFile) }
        do {
            try large.fd.sync()
            try large.fd.closeNow()
            let id = ObjectID(digest: large.hashing.hasher.finalize())
            try place(large.temp, as: id, size: large.file.size, syncingNames: syncingNames)
            return (id, large.file.size)
        } catch {
            FileSystem.remove(large.temp)
            throw error
        }
    }

    /// A gathered small object, created under its final name, written,
    /// synced. A crash part-way leaves a file under that name that no row
    /// names (rows are written only after this returns): an orphan, which
    /// `verify` reports and `verify --repair` removes, exactly as the
    /// temporary file of a large object. A filing's name cannot be taken
    /// already (every object is encrypted under its own random file key),
    /// but an import's can: it brings objects named in advance, and a run
    /// killed part-way may have left one cut short. A file already under
    /// the name is kept only when it holds exactly these bytes; otherwise
    /// the object goes the large objects' way (temporary file, rename over).
    private func writeSmall(_ bytes: [UInt8], hasher: any ObjectHasher, syncingNames: Bool, syncingFile: Bool) throws -> (id: ObjectID, size: Int64) {
        bytes.withUnsafeBytes { hasher.update($0) }
        let id = ObjectID(digest: hasher.finalize())
        let folder = try makeFolder(of: id)
        var target = folder + "/" + id.hex
        let fd: FileDescriptor
        do {
            fd = try FileSystem.createExclusive(target, mode: 0o400)
        } catch VaultError.alreadyExists {
            if let file = try? FileSystem.openForReading(target), let existing = try? file.readAll(limit: bytes.count + 1), existing == bytes {
                // The same bytes, perhaps only in the page cache (its writer,
                // an import killed before its fsync, may not have synced):
                // sync the file and both folders anyway.
                try file.sync()
                if syncingNames { try syncFolders(folder) }
                return (id, Int64(bytes.count))
            }
            target = root + "/.tmp-" + randomBytes(count: 12).hexString
            fd = try FileSystem.createExclusive(target, mode: 0o400)
        }
        do {
            try fd.write(bytes)
            // Named later with the rest of its group: the group's one syncfs
            // covers it (`syncNames`).
            if syncingFile { try fd.sync() }
            try fd.closeNow()
            if target.hasPrefix(folder + "/") {
                // Both folders: the fan-out folder may be new.
                if syncingNames { try syncFolders(folder) }
            } else {
                try place(target, as: id, size: Int64(bytes.count), syncingNames: syncingNames, replacing: true)
            }
            return (id, Int64(bytes.count))
        } catch {
            FileSystem.remove(target)
            throw error
        }
    }

    /// The object's fan-out folder, made if missing.
    private func makeFolder(of id: ObjectID) throws -> String {
        let folder = root + "/" + String(id.hex.prefix(2))
        if !FileSystem.isDirectory(folder) {
            do { try FileSystem.makeDirectory(folder) } catch where FileSystem.isDirectory(folder) {
                // Another process created it first.
            }
        }
        return folder
    }

    /// Renames a synced temporary file to the object's name. `replacing`:
    /// over whatever is there (known to differ), not keeping a file of the
    /// same size.
    private func place(_ temp: String, as id: ObjectID, size: Int64, syncingNames: Bool, replacing: Bool = false) throws {
        let folder = try makeFolder(of: id)
        let final = folder + "/" + id.hex
        if !replacing, FileSystem.fileSize(final) == size {
            // Same name, same size: the same bytes (objects are never
            // rewritten). Drop ours, but still sync below: the other
            // writer may not have synced its rename yet.
            FileSystem.remove(temp)
        } else {
            // Absent, or a damaged leftover under our name: ours wins.
            try FileSystem.rename(temp, to: final)
        }
        // Both folders, always: the fan-out folder's entry and the
        // object's name must be durable before any row refers to it
        // (for a group, `syncNames` does it once, before the commit).
        if syncingNames { try syncFolders(folder) }
    }

    /// `objects/` and the object's fan-out folder, synced.
    private func syncFolders(_ folder: String) throws {
        try FileSystem.syncDirectory(root)
        try FileSystem.syncDirectory(folder)
    }

    func open(_ id: ObjectID) throws -> any ByteReader {
        do {
            // Read ahead on a second thread: from the page cache while the
            // object is there, then directly from the device where the file
            // system allows (see ReadAhead).
            return ReadAhead(fd: try FileSystem.openForReading(path(of: id)), cachedFirst: true)
        } catch VaultError.notFound {
            throw VaultError.integrityFailure("object \(id.hex) is missing")
        }
    }

    func contains(_ id: ObjectID) -> Bool {
        FileSystem.isRegularFile(path(of: id))
    }

    /// Filings hold this lock shared while their object is not yet named by
    /// any row; removing leftovers takes it exclusively, so it never takes
    /// a filing in progress for a crash's orphan.
    var filingLockPath: String { root + "/.filing-lock" }

    func withFilingLock<T>(_ body: () throws -> T) throws -> T {
        try FileSystem.withLock(filingLockPath, exclusive: false, wait: true, body)!
    }

    /// Nil when a filing is running.
    func whileNoFilingRuns<T>(_ body: () throws -> T) throws -> T? {
        try FileSystem.withLock(filingLockPath, exclusive: true, wait: false, body)
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

/// Every naming a vault accepts at once, for an object named in advance
/// (the stream cannot be read twice): gives the expected name if one of
/// the hashes is it, else the vault's own naming's hash.
private final class AcceptedNames: ObjectHasher {
    let expected: ObjectID
    let hashers: [any ObjectHasher]

    init(_ expected: ObjectID, _ namings: [ObjectNaming]) {
        self.expected = expected
        hashers = namings.map { $0.hasher() }
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        for hasher in hashers { hasher.update(bytes) }
    }

    func finalize() -> [UInt8] {
        let digests = hashers.map { $0.finalize() }
        return digests.first { $0.hexString == expected.hex } ?? digests[0]
    }
}

/// Names an object (or a package) as its bytes pass: the vault's object
/// hash of every byte (`ObjectNaming`; the bytes are ciphertext), then on to
/// the next stage, or straight to the writer on the same thread. Used only
/// from the pipeline's worker thread until the pipeline has finished, hence
/// `@unchecked Sendable`.
final class HashingForwarder: ChunkConsumer, @unchecked Sendable {
    let hasher: any ObjectHasher
    let next: any ChunkConsumer

    init(hasher: any ObjectHasher, next: any ChunkConsumer) {
        self.hasher = hasher
        self.next = next
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        try next.consume(bytes)
    }

    func mark() throws { try next.mark() }
}
