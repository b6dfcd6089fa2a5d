internal import CSodium
#if canImport(Glibc)
internal import Glibc
#endif

/// Secret bytes held in `sodium_malloc` memory: guard pages on both sides,
/// locked out of swap where the system allows, and zeroed by `sodium_free`
/// when the last reference goes away.
///
/// The bytes are reachable only inside `withUnsafeBytes` /
/// `withUnsafeMutableBytes`, so they are never copied into a `String`,
/// `Data` or `[UInt8]` that outlives a call. The type deliberately has no
/// `description` and is not `Codable`.
///
/// Released storage up to 64 KiB is zeroed and kept for the next secret
/// of its size class (`SecurePool`), still guarded and locked:
/// `sodium_malloc` costs several system calls (mmap, mprotect of the guard
/// pages, mlock; munmap to free) and faults in fresh locked pages, which
/// for a 2 KiB form filed in a batch was a tenth of its filing.
public final class SecureBytes {
    private let pointer: UnsafeMutableRawPointer
    public let count: Int
    /// What was allocated: `SecurePool.sizeClass(count)`.
    private let capacity: Int

    /// Zero-filled secret storage of `count` bytes.
    public init(count: Int) {
        precondition(count >= 0, "negative SecureBytes size")
        Sodium.ensureInitialized()
        // sodium_malloc(0) is legal but returns a pointer we must not touch;
        // size classes start at 32 bytes, so the pointer is always valid.
        capacity = SecurePool.sizeClass(count)
        self.count = count
        if let reused = SecurePool.take(size: capacity) {
            pointer = reused  // zeroed when it was given back
            return
        }
        guard let raw = sodium_malloc(capacity) else {
            fatalError("sodium_malloc could not allocate \(count) bytes")
        }
        sodium_memzero(raw, capacity)
        pointer = raw
    }

    /// Copies `bytes` into fresh secret storage. The caller remains
    /// responsible for wiping the source if it was secret.
    public convenience init(copying bytes: some ReadableBytes) {
        let count = bytes.withUnsafeBytes { $0.count }
        self.init(count: count)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress, count > 0 {
                pointer.copyMemory(from: base, byteCount: count)
            }
        }
    }

    /// `count` bytes from libsodium's CSPRNG.
    public static func random(count: Int) -> SecureBytes {
        let secret = SecureBytes(count: count)
        if count > 0 { randombytes_buf(secret.pointer, count) }
        return secret
    }

    deinit {
        // The whole class, not only `count`: an overrun into the slack
        // (which reaches no guard page) must not survive into the next secret.
        sodium_memzero(pointer, capacity)
        if !SecurePool.give(pointer, size: capacity) { sodium_free(pointer) }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    /// A new secret holding bytes `range` of this one.
    public func slice(_ range: Range<Int>) -> SecureBytes {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "slice out of bounds")
        let part = SecureBytes(count: range.count)
        if !range.isEmpty {
            part.pointer.copyMemory(from: pointer + range.lowerBound, byteCount: range.count)
        }
        return part
    }

    /// Constant-time equality.
    public func isEqual(to other: SecureBytes) -> Bool {
        constantTimeEquals(self, other)
    }

    /// Zeroes the bytes now, without waiting for release.
    public func wipe() {
        sodium_memzero(pointer, Swift.max(count, 1))
    }
}

extension SecureBytes: ReadableBytes {}

/// Zeroed `sodium_malloc` allocations waiting for reuse, by size class:
/// every secret up to 64 KiB is allocated at the next power of two from 32
/// bytes (keys, a secretstream state, a form, a sealed file name, a 64 KiB
/// chunk buffer), at most `perSize` of each class kept (16 of the 64 KiB
/// class, which a bulk filing's four writing threads use four at a time:
/// about 2 MiB locked in all, with libsodium's canaries and page rounding). Larger secrets, or one beyond that, are
/// released with `sodium_free`. They stay locked and guarded while they
/// wait.
///
/// The cost of the classes: sodium_malloc puts the trailing guard page
/// right after the allocation, so an overrun of a secret smaller than its
/// class reaches the class's slack before the guard page. Every access goes
/// through `withUnsafeBytes` / `withUnsafeMutableBytes`, bounded by
/// `count`; sizes that are a power of two (keys, chunk buffers, page-sized
/// buffers for direct I/O) keep the guard page right after their last byte
/// and start on a page boundary when a multiple of the page size.
enum SecurePool {
    static let perSize = 8
    static let largestClass = SecretStream.chunkSize
    static let sizes: Set<Int> = Set((5...16).map { 1 << $0 })

    /// The allocation of a `count`-byte secret: the next power of two from
    /// 32 up to 64 KiB, `count` itself beyond.
    static func sizeClass(_ count: Int) -> Int {
        guard count > 32 else { return 32 }
        guard count <= largestClass else { return count }
        return 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
    }

    nonisolated(unsafe) private static var free: [Int: [UnsafeMutableRawPointer]] = [:]
    /// Allocated once and never moved (a pthread mutex must not be).
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        lock.initialize(to: pthread_mutex_t())
        pthread_mutex_init(lock, nil)
        return lock
    }()

    static func take(size: Int) -> UnsafeMutableRawPointer? {
        guard sizes.contains(size) else { return nil }
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return free[size]?.popLast()
    }

    /// Keeps a zeroed allocation; false when it is not kept (free it).
    static func give(_ pointer: UnsafeMutableRawPointer, size: Int) -> Bool {
        guard sizes.contains(size) else { return false }
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        guard free[size, default: []].count < (size == largestClass ? 2 * perSize : perSize) else { return false }
        free[size, default: []].append(pointer)
        return true
    }

    /// How many of `size` wait (tests).
    static func waiting(size: Int) -> Int {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return free[size]?.count ?? 0
    }
}

/// Process-wide protection for a process that holds secrets for long (the
/// agent): not dumpable, so neither a core dump nor another process of the
/// same user (ptrace, /proc/PID/mem) reads its memory.
public enum ProcessSecrecy {
    @discardableResult
    public static func forbidDumpsAndTracing() -> Bool {
        casevault_forbid_dumps() == 0
    }
}
