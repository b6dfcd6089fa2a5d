internal import CSodium
internal import CSHA256

/// Streaming BLAKE2b (`crypto_generichash`). Objects are named by the
/// 32-byte BLAKE2b of their bytes (SECURITY.md §9–10).
public final class Blake2b {
    public static let defaultLength = 32
    // crypto_generichash_state is 64-byte aligned and imported as opaque, so
    // it lives in memory we allocate with that alignment and free in deinit.
    private let state: OpaquePointer
    private let stateMemory: UnsafeMutableRawPointer
    private let length: Int
    private var finished = false

    public init(length: Int = Blake2b.defaultLength) {
        Sodium.ensureInitialized()
        precondition(length >= Int(crypto_generichash_BYTES_MIN) && length <= Int(crypto_generichash_BYTES_MAX),
                     "BLAKE2b output length out of range")
        self.length = length
        stateMemory = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        state = OpaquePointer(stateMemory)
        let rc = crypto_generichash_init(state, nil, 0, length)
        precondition(rc == 0, "crypto_generichash_init failed")
    }

    deinit {
        // The state can hold secret input (the recovery-key check hashes a key).
        sodium_memzero(stateMemory, crypto_generichash_statebytes())
        stateMemory.deallocate()
    }

    public func update(_ bytes: some ReadableBytes) {
        precondition(!finished, "BLAKE2b updated after finalize")
        bytes.withUnsafeBytes { b in
            guard b.count > 0 else { return }
            let rc = crypto_generichash_update(state, b.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(b.count))
            precondition(rc == 0, "crypto_generichash_update failed")
        }
    }

    public func finalize() -> [UInt8] {
        precondition(!finished, "BLAKE2b finalized twice")
        finished = true
        var out = [UInt8](repeating: 0, count: length)
        out.withUnsafeMutableBytes { o in
            let rc = crypto_generichash_final(state, o.baseAddress!.assumingMemoryBound(to: UInt8.self), length)
            precondition(rc == 0, "crypto_generichash_final failed")
        }
        return out
    }

    /// One call of `crypto_generichash`, with no state to allocate: verify
    /// hashes every blob of a vault, a hundred thousand small ones.
    public static func hash(_ bytes: some ReadableBytes, length: Int = defaultLength) -> [UInt8] {
        Sodium.ensureInitialized()
        precondition(length >= Int(crypto_generichash_BYTES_MIN) && length <= Int(crypto_generichash_BYTES_MAX),
                     "BLAKE2b output length out of range")
        return [UInt8](unsafeUninitializedCapacity: length) { out, count in
            bytes.withUnsafeBytes { b in
                let rc = crypto_generichash(out.baseAddress!, length, b.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(b.count), nil, 0)
                precondition(rc == 0, "crypto_generichash failed")
            }
            count = length
        }
    }

    /// Keyed BLAKE2b (`crypto_generichash` with a key of 16…64 bytes), a
    /// MAC: the client-name index's tokens (SECURITY.md §12e).
    public static func keyedHash(_ bytes: some ReadableBytes, key: SecureBytes, length: Int = defaultLength) -> [UInt8] {
        Sodium.ensureInitialized()
        precondition(key.count >= Int(crypto_generichash_KEYBYTES_MIN) && key.count <= Int(crypto_generichash_KEYBYTES_MAX),
                     "BLAKE2b key length out of range")
        precondition(length >= Int(crypto_generichash_BYTES_MIN) && length <= Int(crypto_generichash_BYTES_MAX),
                     "BLAKE2b output length out of range")
        var out = [UInt8](repeating: 0, count: length)
        key.withUnsafeBytes { k in
            bytes.withUnsafeBytes { b in
                out.withUnsafeMutableBytes { o in
                    let rc = crypto_generichash(o.baseAddress!.assumingMemoryBound(to: UInt8.self), length,
                                                b.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(b.count),
                                                k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
                    precondition(rc == 0, "crypto_generichash failed")
                }
            }
        }
        return out
    }
}

/// SHA-256 (FIPS 180-4), for the RFC 9162 Merkle log and the state map,
/// whose hashes are defined over SHA-256, and for the SHA-256 of files in
/// packages and bags. Computed by casevault's own C (`CSHA256`): the CPU's
/// SHA extensions where it has them, portable C otherwise (SECURITY.md §2).
/// libsodium 1.0.18's SHA-256 has no such path; at about 480 MB/s here it
/// was the slowest step of a handover export, and the extensions run at
/// over 2 GB/s. libsodium stays the oracle the tests hold it to.
public enum SHA256 {
    public static let length = 32

    /// Whether the CPU's SHA extensions are in use.
    public static var isAccelerated: Bool { casevault_sha256_accelerated() != 0 }

    public static func hash(_ bytes: some ReadableBytes) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: length) { out, count in
            bytes.withUnsafeBytes { b in
                casevault_sha256(out.baseAddress!, b.baseAddress?.assumingMemoryBound(to: UInt8.self), b.count)
            }
            count = length
        }
    }

    /// SHA-256 of one tag byte followed by `first` and `second`, without
    /// building their concatenation: the state map's and the log's node
    /// hashes (`0x00 || key || value`, `0x01 || left || right`), computed
    /// millions of times in a replay.
    public static func hash(tag: UInt8, _ first: [UInt8], _ second: [UInt8]) -> [UInt8] {
        var state = casevault_sha256_state()
        var tagByte = tag
        casevault_sha256_init(&state)
        casevault_sha256_update(&state, &tagByte, 1)
        first.withUnsafeBufferPointer { casevault_sha256_update(&state, $0.baseAddress, $0.count) }
        second.withUnsafeBufferPointer { casevault_sha256_update(&state, $0.baseAddress, $0.count) }
        return [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            casevault_sha256_final(&state, buffer.baseAddress!)
            count = length
        }
    }

    /// The same hash of inline halves (the state map's nodes in memory):
    /// no array is made for the inputs or the answer.
    public static func hash(tag: UInt8, _ first: Hash32, _ second: Hash32) -> Hash32 {
        var state = casevault_sha256_state()
        var tagByte = tag
        casevault_sha256_init(&state)
        casevault_sha256_update(&state, &tagByte, 1)
        withUnsafeBytes(of: first) { casevault_sha256_update(&state, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), 32) }
        withUnsafeBytes(of: second) { casevault_sha256_update(&state, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), 32) }
        var out = Hash32.zero
        withUnsafeMutableBytes(of: &out) { casevault_sha256_final(&state, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        return out
    }

    /// libsodium's `crypto_hash_sha256`: the oracle of the tests.
    static func libsodiumHash(_ bytes: some ReadableBytes) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: length)
        out.withUnsafeMutableBytes { o in
            bytes.withUnsafeBytes { b in
                _ = crypto_hash_sha256(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                       b.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(b.count))
            }
        }
        return out
    }

    /// Runs `body` with the portable code forced, for the tests of both
    /// forms; the answers are the same, so other threads hashing meanwhile
    /// are unaffected.
    static func withPortableCode<T>(_ body: () throws -> T) rethrows -> T {
        casevault_sha256_force_portable(1)
        defer { casevault_sha256_force_portable(0) }
        return try body()
    }
}

/// 32 bytes held inline, in their order in memory: a hash as the state
/// map's code passes it around (a node's hash and halves, a key's hash, a
/// value's). Copied, compared and hashed as four words, with no array's
/// allocation or reference counting: verify's replay of 100,000 events
/// makes some two million node operations.
public struct Hash32: Hashable, Sendable, Comparable {
    // The bytes 0–7, 8–15, 16–23 and 24–31 as loaded from memory, so that
    // the struct's own memory is the 32 bytes in order on any byte order.
    private var w0, w1, w2, w3: UInt64

    public static let zero = Hash32(w0: 0, w1: 0, w2: 0, w3: 0)

    private init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// Nil unless `bytes` holds exactly 32 bytes.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self = .zero
        withUnsafeMutableBytes(of: &self) { out in bytes.withUnsafeBytes { out.copyMemory(from: $0) } }
    }

    public var bytes: [UInt8] { withUnsafeBytes(of: self) { Array($0) } }
    public var isZero: Bool { self == .zero }

    /// Byte `index` (0–31).
    public subscript(byte index: Int) -> UInt8 {
        get { withUnsafeBytes(of: self) { $0[index] } }
        set { withUnsafeMutableBytes(of: &self) { $0[index] = newValue } }
    }

    /// The bytes in order, as the arrays they stand for compare.
    public static func < (a: Hash32, b: Hash32) -> Bool {
        (UInt64(bigEndian: a.w0), UInt64(bigEndian: a.w1), UInt64(bigEndian: a.w2), UInt64(bigEndian: a.w3))
            < (UInt64(bigEndian: b.w0), UInt64(bigEndian: b.w1), UInt64(bigEndian: b.w2), UInt64(bigEndian: b.w3))
    }
}

/// SHA-512 (`crypto_hash_sha512`), for the BagIt manifests of audit
/// exports (RFC 8493 lists sha512 among its algorithms).
public enum SHA512 {
    public static let length = 64

    public static func hash(_ bytes: some ReadableBytes) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: length)
        out.withUnsafeMutableBytes { o in
            bytes.withUnsafeBytes { b in
                _ = crypto_hash_sha512(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                       b.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(b.count))
            }
        }
        return out
    }
}

extension Array where Element == UInt8 {
    /// Lower-case hexadecimal.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses lower- or upper-case hexadecimal; nil on any other character
    /// or an odd length.
    public init?(hexString: some StringProtocol) {
        let utf8 = Array(hexString.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        self = bytes
    }
}

extension SHA256 {
    /// SHA-256 over bytes that arrive in pieces (a file streamed into a
    /// package, hashed for its manifest). The pending partial block can hold
    /// plaintext: the state is wiped when finalized or released.
    public final class Hasher {
        private var state = casevault_sha256_state()
        private var finished = false

        public init() {
            casevault_sha256_init(&state)
        }

        deinit {
            if !finished { withUnsafeMutableBytes(of: &state) { sodium_memzero($0.baseAddress!, $0.count) } }
        }

        public func update(_ bytes: UnsafeRawBufferPointer) {
            precondition(!finished, "update after finalize")
            casevault_sha256_update(&state, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        }

        /// `bytes` into this hasher and `otherBytes`, as many, into `other`:
        /// the same as two updates, but where the CPU has the SHA extensions
        /// the two messages' blocks run interleaved, about 1.6 times the
        /// bytes a second of one message (one message's rounds are a chain
        /// that leaves the unit idle between steps).
        public func update(_ bytes: UnsafeRawBufferPointer, alongside other: Hasher, _ otherBytes: UnsafeRawBufferPointer) {
            precondition(!finished && !other.finished, "update after finalize")
            precondition(other !== self && bytes.count == otherBytes.count, "two hashers, as many bytes for each")
            casevault_sha256_update2(&state, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                     &other.state, otherBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        }

        public func finalize() -> [UInt8] {
            precondition(!finished, "finalize twice")
            finished = true
            return [UInt8](unsafeUninitializedCapacity: SHA256.length) { buffer, count in
                casevault_sha256_final(&state, buffer.baseAddress!)
                count = SHA256.length
            }
        }
    }
}
