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
/// Released storage of up to `SecurePool.largestSize` bytes is zeroed and
/// kept for the next secret of the same size (`SecurePool`), still guarded
/// and locked: `sodium_malloc` costs several system calls and faults in
/// fresh locked pages, which for a 2 KiB form filed in a batch was a tenth
/// of its filing.
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
/// each keeps its guard page right after its last byte): at most
/// `perSize` of each size up to `largestSize`, released with `sodium_free`
/// beyond that. They stay locked and guarded while they wait.
enum SecurePool {
    static let largestSize = 256 * 1024
    static let perSize = 8

    nonisolated(unsafe) private static var free: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var lock = pthread_mutex_t()
    private static let lockReady: Bool = {
        pthread_mutex_init(&lock, nil)
        return true
    }()

    static func take(size: Int) -> UnsafeMutableRawPointer? {
        guard size <= largestSize, lockReady else { return nil }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return free[size]?.popLast()
    }

    /// Keeps a zeroed allocation; false when the pool is full for its size.
    static func give(_ pointer: UnsafeMutableRawPointer, size: Int) -> Bool {
        guard size <= largestSize, lockReady else { return false }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard free[size, default: []].count < perSize else { return false }
        free[size, default: []].append(pointer)
        return true
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
