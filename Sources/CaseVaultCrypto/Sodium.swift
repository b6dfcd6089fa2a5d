internal import CSodium

/// One-time libsodium initialisation. Every public entry point of this module
/// calls `Sodium.ensureInitialized()` first; `sodium_init` is idempotent and
/// thread-safe, and a failure means the process cannot do cryptography at all.
enum Sodium {
    private static let ready: Bool = sodium_init() >= 0

    static func ensureInitialized() {
        precondition(ready, "libsodium failed to initialise")
    }
}

/// Cryptographically secure random bytes (libsodium `randombytes_buf`) for
/// salts, nonces and identifiers. Never use this for secrets that must be
/// wiped: use `SecureBytes.random(count:)`.
public func randomBytes(count: Int) -> [UInt8] {
    Sodium.ensureInitialized()
    var bytes = [UInt8](repeating: 0, count: count)
    if count > 0 { bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) } }
    return bytes
}

/// Compares two byte strings in time that depends only on their length.
public func constantTimeEquals(_ lhs: some ReadableBytes, _ rhs: some ReadableBytes) -> Bool {
    Sodium.ensureInitialized()
    return lhs.withUnsafeBytes { a in
        rhs.withUnsafeBytes { b in
            guard a.count == b.count else { return false }
            if a.isEmpty { return true }
            return sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
        }
    }
}

/// A byte container that lends its storage for reading. `[UInt8]`,
/// `ArraySlice<UInt8>`, `UnsafeRawBufferPointer` and `SecureBytes` conform.
public protocol ReadableBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ReadableBytes where Element == UInt8 {}
extension ArraySlice: ReadableBytes where Element == UInt8 {}
extension UnsafeRawBufferPointer: ReadableBytes {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(self)
    }
}
