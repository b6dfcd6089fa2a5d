internal import CaseVaultCrypto
internal import Foundation
#if canImport(Glibc)
internal import Glibc
#endif

/// The few POSIX calls the core needs for safe writes (SECURITY.md
/// §10): exclusive creation, fsync of files and folders, atomic
/// rename, no-overwrite link. Each failure becomes `VaultError.io` naming
/// the path and the system's reason.
enum FileSystem {
    static func errorText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    /// syncfs(2): every file written on the file system holding `fd`, and
    /// every name made there, durable at once, and any write-back error of
    /// any file there since `fd` was opened reported (even one another
    /// process has already seen: Linux 5.8's errseq), and since 5.17 an
    /// error of the file system's own commit too. Found at run time
    /// (Glibc's module does not declare it), on Linux 5.17 or later only;
    /// nil elsewhere, or with CASEVAULT_NO_SYNCFS set, and callers sync
    /// file by file. `syncsByFileSystem` says on which file systems.
    nonisolated(unsafe) static let syncFileSystem: (@convention(c) (Int32) -> Int32)? = {
        if getenv("CASEVAULT_NO_SYNCFS") != nil { return nil }
        var names = utsname()
        guard uname(&names) == 0 else { return nil }
        let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let version = kernelVersion(release), version >= (5, 17), let symbol = dlsym(nil, "syncfs") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)
    }()

    /// "6.1.0-18-amd64" → (6, 1); nil unless it begins with two numbers.
    static func kernelVersion(_ release: String) -> (Int, Int)? {
        let parts = release.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let major = Int(parts[0]), let minor = Int(String(parts[1].prefix { $0.isNumber })) else { return nil }
        return (major, minor)
    }

    /// Whether files written on the file system of `fd` are made durable
    /// by one `syncFileSystem` through it: only on local disk file systems
    /// whose syncfs is known to flush and to report (ext2/3/4, XFS, Btrfs,
    /// F2FS; and tmpfs, which keeps nothing anyway), as `fstatfs` on that
    /// very descriptor says. A FUSE file system hears of a syncfs only with
    /// some kernels and daemons, and a network one may answer before its
    /// server has the data: those sync file by file.
    static func syncsByFileSystem(_ fd: Int32) -> Bool {
        guard syncFileSystem != nil, let fstatfs else { return false }
        #if arch(x86_64) || arch(arm64)
        // struct statfs begins with f_type, a long, on these; 256 bytes hold all of it.
        var buffer = [Int](repeating: 0, count: 32)
        guard buffer.withUnsafeMutableBytes({ fstatfs(fd, $0.baseAddress!) }) == 0 else { return false }
        return [0xEF53, 0x5846_5342, 0x9123_683E, 0xF2F5_2010, 0x0102_1994].contains(buffer[0])
        #else
        return false
        #endif
    }

    /// fstatfs(2), found at run time as `syncFileSystem` is.
    nonisolated(unsafe) private static let fstatfs: (@convention(c) (Int32, UnsafeMutableRawPointer) -> Int32)? = {
        guard let symbol = dlsym(nil, "fstatfs") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, UnsafeMutableRawPointer) -> Int32).self)
    }()

    /// A folder opened now, to `syncFileSystem` through later: every
    /// write-back error on its file system from now on is reported then.
    static func openForSyncingFileSystem(_ folder: String) throws -> Int32 {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw VaultError.io("cannot open folder \(folder): \(errorText())") }
        return fd
    }

    /// Makes everything written on the file system of `fd` durable
    /// (`syncFileSystem`, which must exist), reporting any write-back error
    /// there since `fd` was opened.
    static func closeDescriptor(_ fd: Int32) { _ = close(fd) }

    static func syncFileSystem(through fd: Int32, folder: String) throws {
        guard let syncfs = syncFileSystem else { preconditionFailure("no syncfs") }
        guard syncfs(fd) == 0 else { throw VaultError.io("cannot sync the file system of \(folder): \(errorText())") }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// The size of a regular file, or nil.
    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
        guard mkdir(path, mode) == 0 else {
            throw VaultError.io("cannot create folder \(path): \(errorText())")
        }
    }

    /// Creates `path` for writing; fails if it exists.
    static func createExclusive(_ path: String, mode: mode_t = 0o600) throws -> FileDescriptor {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            if errno == EEXIST { throw VaultError.alreadyExists("\(path) already exists") }
            throw VaultError.io("cannot create \(path): \(errorText())")
        }
        return FileDescriptor(fd, path: path)
    }

    static func openForReading(_ path: String) throws -> FileDescriptor {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw VaultError.notFound("no such file: \(path)") }
            throw VaultError.io("cannot open \(path): \(errorText())")
        }
        return FileDescriptor(fd, path: path)
    }

    /// fsync on a folder, so a rename or creation inside it is durable.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw VaultError.io("cannot open folder \(path): \(errorText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw VaultError.io("cannot sync folder \(path): \(errorText())") }
    }

    static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw VaultError.io("cannot rename \(from) to \(to): \(errorText())")
        }
    }

    /// renameat2(2), found at run time as `syncFileSystem` is.
    nonisolated(unsafe) private static let renameat2: (@convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32)? = {
        guard let symbol = dlsym(nil, "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32).self)
    }()

    /// Renames `from` (a file or a folder) to `to`, failing with
    /// `alreadyExists` if `to` exists, atomically where the kernel and file
    /// system can (`RENAME_NOREPLACE`; a plain rename would silently replace
    /// an empty folder made there meanwhile); elsewhere checked just before.
    static func renameNoReplace(_ from: String, to: String) throws {
        if let renameat2 {
            if renameat2(AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */) == 0 { return }
            let code = errno
            if code == EEXIST { throw VaultError.alreadyExists("\(to) already exists") }
            // Not supported here (the file system, the kernel, or a sandbox's filter): the plain way.
            guard code == EINVAL || code == ENOSYS || code == EPERM else { throw VaultError.io("cannot rename \(from) to \(to): \(errorText(code))") }
        }
        guard !exists(to) else { throw VaultError.alreadyExists("\(to) already exists") }
        try rename(from, to: to)
    }

    /// Gives `from` the extra name `to`, failing if `to` exists: the atomic
    /// "write, then publish without overwriting" step.
    static func linkNoReplace(_ from: String, to: String) throws {
        guard link(from, to) == 0 else {
            if errno == EEXIST { throw VaultError.alreadyExists("\(to) already exists") }
            throw VaultError.io("cannot create \(to): \(errorText())")
        }
    }

    /// An unnamed file in `folder` (Linux O_TMPFILE), or nil when the file
    /// system does not support them.
    /// `readable`: opened for reading too.
    static func createUnnamed(in folder: String, mode: mode_t, readable: Bool = false) -> FileDescriptor? {
        // O_TMPFILE is __O_TMPFILE | O_DIRECTORY; Swift does not import the macro.
        let flags = (readable ? O_RDWR : O_WRONLY) | O_CLOEXEC | O_DIRECTORY | 0o20000000
        let fd = open(folder, flags, mode)
        guard fd >= 0 else { return nil }
        return FileDescriptor(fd, path: folder + "/(unnamed)")
    }

    /// A private scratch file in `folder`, for reading and writing, that no
    /// one else can open or change: unnamed (O_TMPFILE), or, where the file
    /// system has none, made exclusively under a random name (mode 0600)
    /// and unlinked at once.
    static func createPrivateScratch(in folder: String) throws -> FileDescriptor {
        if let unnamed = createUnnamed(in: folder, mode: 0o600, readable: true) { return unnamed }
        let path = folder + "/.casevault-scratch-" + randomBytes(count: 12).hexString
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.io("cannot create a scratch file in \(folder): \(errorText())") }
        unlink(path)
        return FileDescriptor(fd, path: path)
    }

    /// Gives an unnamed file its name; fails if the name exists.
    static func linkUnnamed(_ fd: FileDescriptor, to path: String) throws {
        guard linkat(AT_FDCWD, "/proc/self/fd/\(fd.raw)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 else {
            if errno == EEXIST { throw VaultError.alreadyExists("\(path) already exists") }
            throw VaultError.io("cannot create \(path): \(errorText())")
        }
    }

    /// Whether the last failed call said the file system has no hard links.
    static var lastErrorMeansNoHardLinks: Bool {
        errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK || errno == ENOSYS
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    /// Deletes a folder tree this user owns (a staging folder, a killed
    /// run's leftovers): the folder opened without following a link, then
    /// emptied through its own descriptor (a link inside is unlinked, never
    /// followed), so another user who can write to the folder it is in
    /// cannot turn the deletion onto anything else.
    static func removeTree(_ path: String) {
        let parentFD = open(AtomicFile.parentFolder(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parentFD >= 0 else { return }
        defer { close(parentFD) }
        removeTree(String(path.split(separator: "/").last ?? ""), in: parentFD)
    }

    /// `removeTree` of the entry `name` of the folder open as `parentFD`.
    static func removeTree(_ name: String, in parentFD: Int32) {
        let fd = openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_uid == geteuid(), let dir = fdopendir(fd) else {
            close(fd)
            return
        }
        var entries: [String] = []
        while let entry = readdir(dir) {
            let child = entryName(entry)
            if child != "." && child != ".." { entries.append(child) }
        }
        let folderFD = dirfd(dir)
        for child in entries where unlinkat(folderFD, child, 0) != 0 {
            removeTree(child, in: folderFD)  // a folder (unlinkat refuses those)
        }
        closedir(dir)
        unlinkat(parentFD, name, AT_REMOVEDIR)
    }

    static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    }

    static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw VaultError.io("cannot list \(path): \(errorText())")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = entryName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return normalise(path) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return normalise(cwd + "/" + path)
    }

    /// `path` made absolute without resolving "." or "..": what the kernel
    /// will resolve, following links before each "..".
    static func absolutePathAsGiven(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } + "/" + path
    }

    /// Resolves "." and ".." textually (no symbolic-link lookup).
    static func normalise(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Whether `folder` is `root` or lies under it, comparing real paths
    /// (symbolic links followed) and, as a fallback, the paths as given.
    /// A folder not made yet is resolved through its nearest existing
    /// parent, so a link on the way (`~/link/new` with `~/link` pointing
    /// into the vault) is followed too.
    static func isInside(_ folder: String, _ root: String) -> Bool {
        let realFolder = resolvedPath(folder)
        let realRoot = resolvedPath(root)
        return (realFolder + "/").hasPrefix(realRoot + "/") || (folder + "/").hasPrefix(root + "/")
    }

    /// The real path of `path`; when it does not exist (yet), the real path
    /// of its nearest existing parent followed by the rest as given.
    static func resolvedPath(_ path: String) -> String {
        var rest: [String] = []
        var current = path
        while true {
            if let real = realPath(current) {
                return rest.isEmpty ? real : (real == "/" ? "" : real) + "/" + rest.reversed().joined(separator: "/")
            }
            let parent = AtomicFile.parentFolder(of: current)
            guard parent != current, parent != "." else { return path }
            rest.append(String(current[current.index(after: current.lastIndex(of: "/")!)...]))
            current = parent
        }
    }

    /// Creates a folder and any missing parents, each with `mode`.
    static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
        let parent = AtomicFile.parentFolder(of: path)
        if parent != path && !isDirectory(parent) { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 {
            guard errno == EEXIST else { throw VaultError.io("cannot create folder \(path): \(errorText())") }
            // What is there must be a folder (or a link to one): a package
            // holding both a file `a` and `a/b` is refused here, in words.
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw VaultError.invalidInput("cannot create folder \(path): something that is not a folder has that name")
            }
        }
    }

    /// A folder owned by this user that no one else can write to or read.
    static func isPrivateFolder(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return false }
        return info.st_uid == geteuid() && info.st_mode & 0o077 == 0
    }

    /// Runs `body` holding an exclusive advisory lock (flock) on `path`,
    /// created if needed. Locks end with the process, so a crash never
    /// leaves one behind.
    static func withExclusiveLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        try withLock(path, exclusive: true, wait: true, body)!
    }

    /// As `withExclusiveLock`, shared or exclusive; without `wait`, nil when
    /// someone else holds a conflicting lock.
    static func withLock<T>(_ path: String, exclusive: Bool, wait: Bool, _ body: () throws -> T) throws -> T? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.io("cannot open lock \(path): \(errorText())") }
        defer { close(fd) }
        let operation = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB)
        while flock(fd, operation) != 0 {
            if errno == EWOULDBLOCK { return nil }
            guard errno == EINTR else { throw VaultError.io("cannot lock \(path): \(errorText())") }
        }
        return try body()
    }

    /// Resolved real path (symbolic links followed), or nil when it does not exist.
    /// What a symbolic link points to (for /proc/self/fd entries).
    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// A failed system call's errno, caught before anything else can change it.
struct SystemCallError: Error {
    let code: Int32

    func vaultError(_ verb: String, _ path: String) -> VaultError {
        .io("cannot \(verb) \(path): \(FileSystem.errorText(code))")
    }
}

/// Runs a read(2)- or write(2)-like call until it is not interrupted by a
/// signal (EINTR): the count it returned, or its errno.
func retryingInterrupts(_ call: () -> Int) -> Result<Int, SystemCallError> {
    while true {
        let n = call()
        if n >= 0 { return .success(n) }
        if errno != EINTR { return .failure(SystemCallError(code: errno)) }
    }
}

/// An open file descriptor, closed on release.
final class FileDescriptor {
    let raw: Int32
    let path: String
    private var isOpen: Bool

    /// - Parameter closesOnRelease: false for descriptors we borrow (stdin, stdout).
    init(_ raw: Int32, path: String, closesOnRelease: Bool = true) {
        self.raw = raw
        self.path = path
        self.isOpen = closesOnRelease
    }

    deinit {
        if isOpen { close(raw) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            offset += try retryingInterrupts { Glibc.write(raw, bytes.baseAddress! + offset, bytes.count - offset) }
                .mapError { $0.vaultError("write", path) }.get()
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Reads up to `buffer.count` bytes; 0 at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        return try retryingInterrupts { Glibc.read(raw, buffer.baseAddress!, buffer.count) }
            .mapError { $0.vaultError("read", path) }.get()
    }

    /// Reads the whole file; for small files only (configs).
    func readAll(limit: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
            guard result.count <= limit else { throw VaultError.invalidInput("\(path) is larger than \(limit) bytes") }
        }
    }

    /// The size of the file when it is a regular one (not a pipe or a terminal).
    var regularFileSize: Int64? {
        var info = stat()
        guard fstat(raw, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    func sync() throws {
        guard fsync(raw) == 0 else { throw VaultError.io("cannot sync \(path): \(FileSystem.errorText())") }
    }

    func closeNow() throws {
        guard isOpen else { return }
        isOpen = false
        guard close(raw) == 0 else { throw VaultError.io("cannot close \(path): \(FileSystem.errorText())") }
    }
}

/// A hidden working folder (`<parent>/<prefix><UUID>`) guarded by a lock
/// file beside it (`….lock`, flock'ed) for as long as its run lasts: what a
/// run killed part-way leaves (a `package open` killed while it extracts
/// leaves plaintext there) is found and deleted by the next run in the same
/// place (`removeAbandoned`), and a folder whose run is still going is left
/// alone. The lock file is created under a name of its own, locked, and only
/// then renamed to `….lock`, and the folder is made after that: a lock file
/// seen under that name is one a live run holds, or one no run will take
/// again. Where the file system has no `flock` (some network shares), the
/// run goes on unlocked, and no run there removes anything.
final class LockedScratch {
    let folder: String
    private let lockPath: String
    private var fd: Int32

    init(in parent: String, prefix: String) throws {
        folder = parent + "/" + prefix + UUID().uuidString
        lockPath = folder + ".lock"
        let fresh = folder + ".lock-new"
        fd = open(fresh, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.io("cannot create \(fresh): \(FileSystem.errorText())") }
        do {
            if flock(fd, LOCK_EX | LOCK_NB) != 0, !Self.hasNoLocks(errno) {
                throw VaultError.io("cannot lock \(fresh): \(FileSystem.errorText())")
            }
            guard rename(fresh, lockPath) == 0 else { throw VaultError.io("cannot rename \(fresh): \(FileSystem.errorText())") }
            try FileSystem.makeDirectory(folder)
        } catch {
            unlink(fresh)
            unlink(lockPath)
            close(fd)
            throw error
        }
    }

    private static func hasNoLocks(_ code: Int32) -> Bool { code == ENOLCK || code == EOPNOTSUPP || code == ENOSYS || code == EINVAL }

    /// Deletes the lock file and lets it go (the folder is the caller's:
    /// renamed into place, or removed).
    func release() {
        guard fd >= 0 else { return }
        unlink(lockPath)
        close(fd)
        fd = -1
    }

    deinit { release() }

    /// How long a lock file may wait for its rename before a later run takes
    /// it for a crashed one's (its run locks it straight after making it).
    static let unrenamedGrace: Double = 600

    /// Removes, from `parent`, every `<prefix><UUID>` folder whose lock no
    /// process holds (or that has no lock file), with that lock file, and
    /// every lock file left before its rename for longer than
    /// `unrenamedGrace`. Only what this user owns is touched, and nothing is
    /// followed: each folder is opened without following a link, held by its
    /// descriptor, and emptied relative to it (`FileSystem.removeTree`), so another
    /// user who can write to `parent` cannot make it delete anything else.
    /// Best effort: what cannot be listed, opened or locked is left.
    static func removeAbandoned(in parent: String, prefix: String) {
        guard let names = try? FileSystem.listDirectory(parent) else { return }
        let parentFD = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parentFD >= 0 else { return }
        defer { close(parentFD) }
        func isOurs(_ name: String) -> Bool {
            name.hasPrefix(prefix) && UUID(uuidString: String(name.dropFirst(prefix.count))) != nil
        }
        func exists(_ name: String) -> Bool {
            var info = stat()
            return fstatat(parentFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0
        }
        /// Opens one of our lock files and takes its lock: nil when it is
        /// not a regular file of ours, or a live run holds it.
        func takeLock(_ name: String) -> Int32? {
            let fd = openat(parentFD, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            var info = stat()
            guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid(), flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                return nil
            }
            return fd
        }
        for name in names {
            if isOurs(name) {
                // A folder without a lock file (looked for now, not in the listing:
                // a run renames its lock in place before it makes its folder).
                if !exists(name + ".lock") && !exists(name + ".lock-new") { FileSystem.removeTree(name, in: parentFD) }
            } else if name.hasSuffix(".lock"), isOurs(String(name.dropLast(5))), let fd = takeLock(name) {
                FileSystem.removeTree(String(name.dropLast(5)), in: parentFD)
                unlinkat(parentFD, name, 0)
                close(fd)
            } else if name.hasSuffix(".lock-new"), isOurs(String(name.dropLast(9))) {
                var info = stat()
                guard fstatat(parentFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0,
                      Date().timeIntervalSince1970 - Double(info.st_mtim.tv_sec) > unrenamedGrace, let fd = takeLock(name) else { continue }
                unlinkat(parentFD, name, 0)
                close(fd)
            }
        }
    }
}
