internal import Foundation
internal import CaseVaultCrypto
#if canImport(Glibc)
internal import Glibc
#endif

/// What direct I/O needs, in one place; public so that `casevault-bench`
/// measures the disk exactly as casevault uses it.
public enum DirectIO {
    /// 4 KiB: the largest logical block size of common disks, and the page
    /// size. Direct I/O wants the buffer address, the length and the file
    /// offset all multiples of it.
    public static let alignment = 4096
    /// Each direct read or write moves this much: big enough that the
    /// system call is cheap next to the data it moves.
    public static let blockSize = 1 << 20

    #if arch(x86_64)
    /// O_DIRECT, which Swift's Glibc module does not import (it needs
    /// _GNU_SOURCE); the value differs between architectures.
    public static let openFlag: Int32 = 0o40000
    #elseif arch(arm64)
    public static let openFlag: Int32 = 0o200000
    #else
    public static let openFlag: Int32 = 0  // unknown here: direct I/O is not used
    #endif

    /// Whether a file system with this `st_dev` sits on a block device (a
    /// non-zero major number, as glibc's `major()` computes it). Direct I/O
    /// is used only there: tmpfs and ramfs files are page-cache pages, with
    /// no device to be direct to (O_DIRECT there, from Linux 6.6, only adds
    /// work), and network, FUSE, overlay and btrfs file systems, which also
    /// report an anonymous device, keep the page cache. Direct I/O is a
    /// speed-up, never needed.
    public static func isBlockDevice(_ device: UInt64) -> Bool {
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        return major != 0
    }
}

/// The last stage of the filing and `get -o` pipelines: writes the bytes to
/// a file, bypassing the page cache (O_DIRECT) where the file system allows.
///
/// Why: objects and exported documents are written once and not read back
/// by this process. Through the page cache every byte is copied by the CPU
/// into cache pages and written out again at fsync; on the machine the
/// benchmark runs on that copy alone was a third of `file`'s time, and
/// whether it took 0.1 s or 0.7 s for 256 MiB varied from run to run.
/// Direct writes hand our buffers to the device, and the final fsync only
/// has the metadata and the tail left to flush, so durability is unchanged
/// (SECURITY.md §10).
///
/// The pipeline hands over full, page-aligned buffers whose size is a
/// multiple of `DirectIO.alignment`, so every
/// write but the last qualifies; the last (shorter) piece, and every piece
/// after a file system says no (EINVAL: tmpfs on old kernels, some FUSE and
/// network file systems), is written through the page cache as before.
final class FileWriter: ChunkConsumer, @unchecked Sendable {
    let fd: FileDescriptor
    private(set) var isDirect: Bool
    private(set) var size: Int64 = 0
    /// How many bytes went out with O_DIRECT on (tests and diagnostics).
    private(set) var directBytes: Int64 = 0
    /// One direct write(2); tests replace it to play a refusing or
    /// short-writing file system.
    var writeDirect: (FileDescriptor, UnsafeRawBufferPointer) throws -> Int? = { try $0.writeOnce($1) }

    /// - Parameter direct: try O_DIRECT; false writes through the page cache.
    init(fd: FileDescriptor, direct: Bool) {
        self.fd = fd
        isDirect = direct && fd.hasDevice && fd.setDirectIO(true)
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        if isDirect {
            let aligned = Int(bitPattern: bytes.baseAddress) % DirectIO.alignment == 0
                && bytes.count % DirectIO.alignment == 0
            if aligned, let written = try writeDirect(fd, bytes) {
                size += Int64(written)
                directBytes += Int64(written)
                if written == bytes.count { return }
                rest = UnsafeRawBufferPointer(rebasing: bytes[written...])
            }
            // A short piece, a refusal or a short write: the offset is no
            // longer guaranteed aligned, so the page cache from here on.
            isDirect = false
            fd.setDirectIO(false)
        }
        try fd.write(rest)
        size += Int64(rest.count)
    }
}

extension FileDescriptor {
    /// Whether the file's file system sits on a block device (see
    /// `DirectIO.isBlockDevice`).
    var hasDevice: Bool {
        var info = stat()
        return fstat(raw, &info) == 0 && DirectIO.isBlockDevice(UInt64(info.st_dev))
    }

    /// Turns O_DIRECT on or off for this descriptor. Returns false when the
    /// file system refuses it (or this architecture's flag is unknown).
    @discardableResult
    func setDirectIO(_ on: Bool) -> Bool {
        guard DirectIO.openFlag != 0 else { return !on }
        let flags = fcntl(raw, F_GETFL)
        guard flags >= 0 else { return false }
        let wanted = on ? flags | DirectIO.openFlag : flags & ~DirectIO.openFlag
        return wanted == flags || fcntl(raw, F_SETFL, wanted) == 0
    }

    /// How many bytes from `offset` on, at most `length`, the page cache
    /// holds, counted in whole pages from `offset` (the last page may end
    /// the file). Asked of mincore(2) about a mapping that is never touched,
    /// so nothing is read from the device (unlike a read with RWF_NOWAIT,
    /// whose miss starts the kernel's read-ahead). 0 when `offset` is not a
    /// multiple of the page size, at or past the end, or on any error.
    func cachedBytes(at offset: Int64, length: Int) -> Int {
        let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
        var info = stat()
        guard page > 0, offset >= 0, offset % page == 0, length > 0, fstat(raw, &info) == 0, offset < Int64(info.st_size) else { return 0 }
        let span = Int(min(Int64(length), Int64(info.st_size) - offset))
        guard let base = mmap(nil, span, PROT_READ, MAP_SHARED, raw, off_t(offset)), base != MAP_FAILED else { return 0 }
        defer { munmap(base, span) }
        var resident = [UInt8](repeating: 0, count: (span + Int(page) - 1) / Int(page))
        guard mincore(base, span, &resident) == 0 else { return 0 }
        return min(span, resident.prefix { $0 & 1 == 1 }.count * Int(page))
    }

    /// The file position (lseek), or -1 if it cannot be told.
    var position: Int64 { Int64(lseek(raw, 0, SEEK_CUR)) }

    /// One read(2) into the whole buffer. Returns the bytes read (0 at the
    /// end), or nil when the kernel refused this read as it stands (EINVAL,
    /// as for direct I/O the file system cannot do); throws on any other error.
    func readOnce(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        try refusalAsNil(retryingInterrupts { Glibc.read(raw, buffer.baseAddress!, buffer.count) }, "read")
    }

    /// One write(2) of the whole buffer. Returns the bytes written (possibly
    /// fewer), or nil when the kernel refused this write as it stands
    /// (EINVAL, as for direct I/O the file system cannot do); throws on any
    /// other error.
    func writeOnce(_ bytes: UnsafeRawBufferPointer) throws -> Int? {
        try refusalAsNil(retryingInterrupts { Glibc.write(raw, bytes.baseAddress!, bytes.count) }, "write")
    }

    private func refusalAsNil(_ result: Result<Int, SystemCallError>, _ verb: String) throws -> Int? {
        switch result {
        case .success(let n): return n
        case .failure(let error) where error.code == EINVAL: return nil
        case .failure(let error): throw error.vaultError(verb, path)
        }
    }
}

/// A buffer the read-ahead and the pipelines fill and empty: ordinary
/// memory aligned for direct I/O (`AlignedBlock`) for bytes that are not
/// secret (ciphertext), `SecureBytes` (locked, wiped when freed) for those
/// that may be (plaintext), so that locked memory goes only where it is
/// needed (it is bounded: RLIMIT_MEMLOCK, SECURITY.md §7).
protocol ByteBlock: AnyObject {
    var count: Int { get }
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R
}

/// Ordinary memory, aligned for direct I/O.
final class AlignedBlock: ByteBlock {
    let start: UnsafeMutableRawPointer
    let count: Int
    init(count: Int) {
        self.count = count
        start = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: DirectIO.alignment)
    }
    deinit { start.deallocate() }
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: start, count: count))
    }
    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: start, count: count))
    }
}

extension SecureBytes: ByteBlock {}

/// Reads a file ahead of its consumer on a thread of its own, in aligned
/// blocks, through the page cache or directly from the device where the
/// file system allows.
///
/// Why direct: `get` reads an object that is usually not in the page
/// cache (it was written with direct I/O, or long ago). Through the cache,
/// every byte is copied by the CPU into freshly allocated cache pages; on
/// the benchmark machine (a VM whose host reclaims memory) that took from
/// 0.1 to 0.6 s of system time per 256 MiB, run to run. Read directly, the
/// device fills our buffers, and the read-ahead thread keeps it busy while
/// the caller decrypts the block before.
///
/// Why cached first (`cachedFirst`, for objects): a direct read ignores the
/// page cache even when the object is there (read moments ago through the
/// cache, or by another program), and then makes the device read it again.
/// So each block's pages are first looked up in the cache (mincore, which
/// reads nothing) and those it holds are read through it, with the file's
/// read-ahead off; from the first page it does not hold, the rest of the
/// file is read directly. With the object cached, `get -o` of 256 MiB took
/// 131 ms against 256 ms read directly. (A first version asked with
/// preadv2's RWF_NOWAIT instead; a review found that each miss starts the
/// kernel's read-ahead, so a small uncached object was read twice.)
///
/// Blocks are ordinary aligned memory for bytes that are not secret
/// (objects are ciphertext), and `SecureBytes` (locked, wiped when freed)
/// for a document being filed (`secret`), which is read ahead through the
/// page cache so that its encryption need not wait for each read.
final class ReadAhead: ByteReader {
    /// The state the reading thread shares with us. The thread holds it, not
    /// the `ReadAhead`, so that dropping the reader stops the thread.
    final class Shared: @unchecked Sendable {
        // Guarded by `condition`, except the blocks' bytes, which belong to
        // whichever side holds the block.
        let condition = NSCondition()
        var free: [any ByteBlock]
        var filled: [(block: any ByteBlock, count: Int)] = []
        var atEnd = false
        var failure: (any Error)?
        var stopped = false
        /// Set by the thread as it returns: it touches the file no more.
        var finished = false
        /// How many bytes were read with O_DIRECT on (tests and diagnostics).
        var directBytes: Int64 = 0
        let blockSize: Int
        /// Used only by the reading thread.
        let fd: FileDescriptor

        init(fd: FileDescriptor, blocks: [any ByteBlock], blockSize: Int) {
            self.fd = fd
            self.blockSize = blockSize
            free = blocks
        }
    }

    private var shared: Shared
    private let mode: (direct: Bool, cachedFirst: Bool, blockSize: Int)
    /// For tests: the thread's state, released once the thread has ended
    /// and the file is closed.
    var sharedForTesting: AnyObject { shared }
    /// How many bytes the thread has read with O_DIRECT on so far.
    var directBytes: Int64 {
        shared.condition.lock()
        defer { shared.condition.unlock() }
        return shared.directBytes
    }
    /// The block the caller is reading from.
    private var current: (block: any ByteBlock, count: Int, offset: Int)?

    /// Takes ownership of `fd`; with `direct` false, reads through the page
    /// cache; with `cachedFirst`, takes what the page cache holds of the
    /// file's beginning from there, and only the rest directly; with
    /// `secret`, into wiped memory (through the page cache: `direct` must be false).
    init(fd: FileDescriptor, direct: Bool = true, cachedFirst: Bool = false, blocks: Int = 4,
         blockSize: Int = DirectIO.blockSize, secret: Bool = false) {
        precondition(blocks >= 1 && blockSize >= 1 && !(secret && direct))
        mode = (direct, cachedFirst, blockSize)
        let memory = (0..<blocks).map { _ -> any ByteBlock in secret ? SecureBytes(count: blockSize) : AlignedBlock(count: blockSize) }
        shared = Self.start(fd, memory, mode)
    }

    private static func start(_ fd: FileDescriptor, _ blocks: [any ByteBlock], _ mode: (direct: Bool, cachedFirst: Bool, blockSize: Int)) -> Shared {
        let shared = Shared(fd: fd, blocks: blocks, blockSize: mode.blockSize)
        let thread = Thread {
            Self.fill(shared, direct: mode.direct, cachedFirst: mode.cachedFirst)
            shared.condition.lock()
            shared.finished = true
            shared.condition.broadcast()
            shared.condition.unlock()
        }
        thread.stackSize = 1 << 20
        thread.start()
        return shared
    }

    deinit {
        shared.condition.lock()
        shared.stopped = true
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    /// Reads from the start of the file again (a filing redone): stops the
    /// thread, waits until it has left the file (it finishes the block it is
    /// reading), rewinds, and starts reading ahead anew into the same blocks
    /// (no second set of locked memory). False where the file cannot be
    /// rewound (a pipe); the reader is then at its end.
    func rewind() -> Bool {
        let old = shared
        old.condition.lock()
        old.stopped = true
        old.condition.broadcast()
        while !old.finished { old.condition.wait() }
        var blocks = old.free + old.filled.map(\.block)
        old.free = []
        old.filled = []
        old.atEnd = true
        old.condition.unlock()
        if let (block, _, _) = current { blocks.append(block) }
        current = nil
        guard old.fd.rewind() else {
            old.condition.lock()
            old.free = blocks
            old.condition.unlock()
            return false
        }
        shared = Self.start(old.fd, blocks, mode)
        return true
    }

    /// Once the thread has failed, the error is thrown at once, even if
    /// blocks read before it are still queued: a caller that must stop at
    /// the first problem (a decryptor) loses nothing it could have used.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        if let (block, count, offset) = current, offset < count {
            let n = min(buffer.count, count - offset)
            block.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            current = (block, count, offset + n)
            return n
        }
        let condition = shared.condition
        condition.lock()
        defer { condition.unlock() }
        if let (block, _, _) = current {
            shared.free.append(block)
            current = nil
            condition.broadcast()
        }
        while shared.filled.isEmpty && !shared.atEnd && shared.failure == nil { condition.wait() }
        if let failure = shared.failure { throw failure }
        guard !shared.filled.isEmpty else { return 0 }
        let (block, count) = shared.filled.removeFirst()
        let n = min(buffer.count, count)
        block.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
        current = (block, count, n)
        return n
    }

    /// The reading thread: fills free blocks in file order until the end of
    /// the file, an error, or the reader is dropped.
    private static func fill(_ shared: Shared, direct: Bool, cachedFirst: Bool) {
        let fd = shared.fd
        let wantsDirect = direct && fd.hasDevice
        var fromCache = wantsDirect && cachedFirst
        var isDirect = wantsDirect && !fromCache && fd.setDirectIO(true)
        // No read-ahead of our own: reading the cached part through the
        // cache must not make the kernel fetch the uncached rest, which is
        // then read directly.
        if fromCache { _ = posix_fadvise(fd.raw, 0, 0, POSIX_FADV_RANDOM) }
        let condition = shared.condition

        /// Fills one block; fewer bytes only at the end of the file.
        let blockSize = shared.blockSize
        func readBlock(into block: UnsafeMutableRawPointer) throws -> Int {
            var count = 0
            while count < blockSize {
                let space = UnsafeMutableRawBufferPointer(start: block + count, count: blockSize - count)
                var n: Int? = nil
                if fromCache {
                    // What the cache holds of this block, read through it (a
                    // race with eviction costs a read from the device, never
                    // bytes); from the first page it does not hold, directly.
                    let cached = fd.cachedBytes(at: fd.position, length: space.count)
                    if cached > 0 {
                        n = try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: space[0..<cached]))
                    } else {
                        fromCache = false
                        // A position that is not a multiple of 4 KiB (only
                        // after a short read): the page cache from here on.
                        isDirect = fd.position % Int64(DirectIO.alignment) == 0 && fd.setDirectIO(true)
                    }
                }
                if n == nil && isDirect {
                    n = try fd.readOnce(space)
                    if let n {
                        condition.lock()
                        shared.directBytes += Int64(n)
                        condition.unlock()
                    }
                    // Refused, or short (the end of the file, usually): the
                    // offset may no longer be aligned, so the page cache from here on.
                    if n.map({ $0 % DirectIO.alignment != 0 }) ?? true {
                        isDirect = false
                        fd.setDirectIO(false)
                    }
                }
                let got = try n ?? fd.read(into: space)
                if got == 0 { break }
                count += got
            }
            return count
        }

        while true {
            condition.lock()
            while shared.free.isEmpty && !shared.stopped { condition.wait() }
            if shared.stopped {
                condition.unlock()
                return
            }
            let block = shared.free.removeLast()
            condition.unlock()
            let count: Int
            do {
                count = try block.withUnsafeMutableBytes { try readBlock(into: $0.baseAddress!) }
            } catch {
                condition.lock()
                // Kept for a rewind, which starts again with every block.
                shared.free.append(block)
                shared.failure = error
                condition.broadcast()
                condition.unlock()
                return
            }
            condition.lock()
            if count > 0 { shared.filled.append((block, count)) } else { shared.free.append(block) }
            if count < blockSize { shared.atEnd = true }
            condition.broadcast()
            let done = shared.atEnd
            condition.unlock()
            if done { return }
        }
    }
}
