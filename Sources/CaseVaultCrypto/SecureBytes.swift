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
/// Released storage of a few common sizes is zeroed and kept for the next
/// secret of the same size (`SecurePool`), still guarded and locked:
/// `sodium_malloc` costs several system calls and faults in fresh locked
/// pages, which for a 2 KiB form filed in a batch was a tenth of its filing.
public final class SecureBytes {
    private let pointer: UnsafeMutableRawPointer
    public let count: Int

    /// Zero-filled secret storage of `count` bytes.
    public init(count: Int) {
        precondition(count >= 0, "negative SecureBytes size")
        Sodium.ensureInitialized()
        if let reused = SecurePool.take(size: Swift.max(count, 1)) {
            pointer = reused  // zeroed when it was given back
            self.count = count
            return
        }
        // sodium_malloc(0) is legal but returns a pointer we must not touch;
        // allocate one byte so the pointer is always valid.
        guard let raw = sodium_malloc(Swift.max(count, 1)) else {
            fatalError("sodium_malloc could not allocate \(count) bytes")
        }
        sodium_memzero(raw, Swift.max(count, 1))
        pointer = raw
        self.count = count
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
        sodium_memzero(pointer, Swift.max(count, 1))
        if !SecurePool.give(pointer, size: Swift.max(count, 1)) { sodium_free(pointer) }
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

/// Zeroed `sodium_malloc` allocations waiting for reuse, by exact size (so
/// each keeps its guard page right after its last byte), for the sizes a
/// filing allocates again and again: keys (32 and 64 bytes), a secretstream
/// state and a 64 KiB chunk buffer. At most `perSize` of each (under 1 MiB
/// locked in all); any other size, or one beyond that, is released with
/// `sodium_free`. They stay locked and guarded while they wait.
enum SecurePool {
    static let perSize = 8
    static let sizes: Set<Int> = [32, 64, Int(crypto_secretstream_xchacha20poly1305_statebytes()), SecretStream.chunkSize]

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
        guard free[size, default: []].count < perSize else { return false }
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
