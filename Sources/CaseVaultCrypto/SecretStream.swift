internal import CSecretStream
internal import CSodium

/// Chunked authenticated encryption with
/// `crypto_secretstream_xchacha20poly1305` (SECURITY.md §9).
///
/// Layout of a stream: the 24-byte secretstream header, then one ciphertext
/// chunk per plaintext chunk of `chunkSize` bytes (the last may be shorter,
/// or empty), each `overhead` (17) bytes longer than its plaintext. Every
/// chunk carries the same associated data; the last carries
/// `TAG_FINAL` and every other `TAG_MESSAGE`. A stream of empty plaintext is
/// one empty final chunk.
///
/// Why these choices: the final tag is what makes truncation detectable
/// (a stream cut at a chunk boundary still authenticates chunk by chunk),
/// and a fixed chunk size means a decoder needs no length fields.
public enum SecretStream {
    public static let keyLength = 32
    public static let headerLength = 24
    public static let chunkSize = 64 * 1024
    public static let overhead = 17
    public static var cipherChunkSize: Int { chunkSize + overhead }

    /// Whether ChaCha20 and Poly1305 run sixteen blocks at a time on AVX-512
    /// (CSecretStream); otherwise every block is libsodium's. The chunks are
    /// libsodium's secretstream either way, byte for byte: casevault calls
    /// its own push and pull, which call libsodium's HChaCha20 and rekey in
    /// the same order (SECURITY.md §2).
    public static var isAccelerated: Bool { casevault_chacha20_accelerated() != 0 }

    /// Runs `body` with libsodium's ChaCha20 and Poly1305 forced, for the tests of both
    /// paths and the benchmark's comparison; the bytes are the same, so
    /// other threads meanwhile are unaffected.
    public static func withPortableCode<T>(_ body: () throws -> T) rethrows -> T {
        casevault_chacha20_force_portable(1)
        defer { casevault_chacha20_force_portable(0) }
        return try body()
    }

    /// A fresh random stream key.
    public static func generateKey() -> SecureBytes {
        Sodium.ensureInitialized()
        let key = SecureBytes(count: keyLength)
        key.withUnsafeMutableBytes { crypto_secretstream_xchacha20poly1305_keygen($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        return key
    }

    /// Ciphertext length for a plaintext of `length` bytes.
    public static func ciphertextLength(forPlaintextLength length: Int) -> Int {
        // A plaintext of exactly k full chunks is k chunks, the last one final;
        // an empty plaintext is one empty final chunk.
        let chunks = Swift.max(1, (length + chunkSize - 1) / chunkSize)
        return headerLength + length + chunks * overhead
    }

    /// Encrypts everything `read` yields, handing ciphertext to `write`.
    ///
    /// - Parameters:
    ///   - read: fills the buffer it is given and returns how many bytes it
    ///     wrote; 0 means end of input. Short reads are fine.
    ///   - write: receives the header, then each ciphertext chunk.
    public static func encrypt(
        key: SecureBytes,
        associatedData: [UInt8],
        read: (UnsafeMutableRawBufferPointer) throws -> Int,
        write: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let encryptor = try SecretStreamEncryptor(key: key)
        try encryptor.header.withUnsafeBytes { try write($0) }
        // Two plaintext buffers so we can look one chunk ahead: a chunk is
        // final only when the next read finds end of input.
        var current = SecureBytes(count: chunkSize)
        var next = SecureBytes(count: chunkSize)
        var cipher = [UInt8](repeating: 0, count: cipherChunkSize)
        var currentCount = try fill(current, using: read)
        while true {
            let nextCount = currentCount == chunkSize ? try fill(next, using: read) : 0
            let isFinal = nextCount == 0
            let written = try current.withUnsafeBytes { plain in
                try cipher.withUnsafeMutableBytes { out in
                    try encryptor.push(UnsafeRawBufferPointer(rebasing: plain[0..<currentCount]),
                                       associatedData: associatedData, isFinal: isFinal, into: out)
                }
            }
            try cipher.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<written])) }
            if isFinal { break }
            swap(&current, &next)
            currentCount = nextCount
        }
    }

    /// Decrypts a stream produced by `encrypt`, handing each authenticated
    /// plaintext chunk to `write`. Throws `authenticationFailed` on any
    /// tampering, truncation, reordering or trailing data. Chunks released
    /// before a failure were each authenticated, but the stream as a whole
    /// was not: callers that write files must discard them (see
    /// `CaseVault` retrieval, which renames its output only on success).
    public static func decrypt(
        key: SecureBytes,
        associatedData: [UInt8],
        read: (UnsafeMutableRawBufferPointer) throws -> Int,
        write: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var header = [UInt8](repeating: 0, count: headerLength)
        let headerCount = try header.withUnsafeMutableBytes { try fillRaw($0, using: read) }
        guard headerCount == headerLength else { throw CryptoError.authenticationFailed }
        let decryptor = try SecretStreamDecryptor(key: key, header: header)
        var cipher = [UInt8](repeating: 0, count: cipherChunkSize)
        let plain = SecureBytes(count: chunkSize)
        while true {
            let count = try cipher.withUnsafeMutableBytes { try fillRaw($0, using: read) }
            // End of input without a final tag: truncated.
            guard count > 0 else { throw CryptoError.authenticationFailed }
            let (plainCount, isFinal) = try cipher.withUnsafeBytes { c in
                try plain.withUnsafeMutableBytes { p in
                    try decryptor.pull(UnsafeRawBufferPointer(rebasing: c[0..<count]),
                                       associatedData: associatedData, into: p)
                }
            }
            if isFinal {
                // Anything after the final chunk is an extension attack or
                // corruption; refuse before releasing the last chunk.
                var probe: UInt8 = 0
                let extra = try withUnsafeMutableBytes(of: &probe) { try read($0) }
                guard extra == 0 else { throw CryptoError.authenticationFailed }
            } else if count < cipherChunkSize {
                // A short chunk must be the last one.
                throw CryptoError.authenticationFailed
            }
            try plain.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<plainCount])) }
            if isFinal { return }
        }
    }

    private static func fill(_ buffer: SecureBytes, using read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Int {
        try buffer.withUnsafeMutableBytes { try fillRaw($0, using: read) }
    }

    /// Reads until `buffer` is full or input ends.
    public static func fillRaw(_ buffer: UnsafeMutableRawBufferPointer, using read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            // A negative count is a read error, not the end of input: taking
            // it as the end would seal a silently truncated stream.
            guard n >= 0 else { throw CryptoError.inputFailed }
            precondition(n <= buffer.count - filled, "read returned more bytes than it was given room for")
            if n == 0 { break }
            filled += n
        }
        return filled
    }
}

/// The push side of a secretstream. Its state (which contains key material)
/// lives in `SecureBytes`.
public final class SecretStreamEncryptor {
    private let state: SecureBytes
    public let header: [UInt8]

    public init(key: SecureBytes) throws {
        Sodium.ensureInitialized()
        guard key.count == SecretStream.keyLength else { throw CryptoError.invalidLength("secretstream key") }
        state = SecureBytes(count: crypto_secretstream_xchacha20poly1305_statebytes())
        var header = [UInt8](repeating: 0, count: SecretStream.headerLength)
        let rc = state.withUnsafeMutableBytes { s in
            key.withUnsafeBytes { k in
                header.withUnsafeMutableBytes { h in
                    crypto_secretstream_xchacha20poly1305_init_push(
                        s.baseAddress!.assumingMemoryBound(to: crypto_secretstream_xchacha20poly1305_state.self),
                        h.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard rc == 0 else { throw CryptoError.invalidLength("secretstream key") }
        self.header = header
    }

    /// Encrypts one chunk into `output` (which must hold `plaintext.count + 17`
    /// bytes) and returns the ciphertext length.
    public func push(_ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8], isFinal: Bool,
                     into output: UnsafeMutableRawBufferPointer) throws -> Int {
        guard output.count >= plaintext.count + SecretStream.overhead else {
            throw CryptoError.invalidLength("secretstream output buffer")
        }
        var written: UInt64 = 0
        let tag = UInt8(isFinal ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        let rc = state.withUnsafeMutableBytes { s in
            associatedData.withUnsafeBytes { ad in
                casevault_secretstream_push(
                    s.baseAddress!.assumingMemoryBound(to: crypto_secretstream_xchacha20poly1305_state.self),
                    output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written,
                    plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                    ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count), tag)
            }
        }
        guard rc == 0 else { throw CryptoError.invalidLength("secretstream chunk") }
        return Int(written)
    }
}

/// The pull side of a secretstream.
public final class SecretStreamDecryptor {
    private let state: SecureBytes

    public init(key: SecureBytes, header: [UInt8]) throws {
        Sodium.ensureInitialized()
        guard key.count == SecretStream.keyLength else { throw CryptoError.invalidLength("secretstream key") }
        guard header.count == SecretStream.headerLength else { throw CryptoError.authenticationFailed }
        state = SecureBytes(count: crypto_secretstream_xchacha20poly1305_statebytes())
        let rc = state.withUnsafeMutableBytes { s in
            key.withUnsafeBytes { k in
                header.withUnsafeBytes { h in
                    crypto_secretstream_xchacha20poly1305_init_pull(
                        s.baseAddress!.assumingMemoryBound(to: crypto_secretstream_xchacha20poly1305_state.self),
                        h.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard rc == 0 else { throw CryptoError.authenticationFailed }
    }

    /// Authenticates and decrypts one chunk into `output`; returns the
    /// plaintext length and whether the chunk carried the final tag.
    public func pull(_ ciphertext: UnsafeRawBufferPointer, associatedData: [UInt8],
                     into output: UnsafeMutableRawBufferPointer) throws -> (count: Int, isFinal: Bool) {
        guard ciphertext.count >= SecretStream.overhead,
              output.count >= ciphertext.count - SecretStream.overhead else {
            throw CryptoError.authenticationFailed
        }
        var written: UInt64 = 0
        var tag: UInt8 = 0
        let rc = state.withUnsafeMutableBytes { s in
            associatedData.withUnsafeBytes { ad in
                casevault_secretstream_pull(
                    s.baseAddress!.assumingMemoryBound(to: crypto_secretstream_xchacha20poly1305_state.self),
                    output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written, &tag,
                    ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
                    ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count))
            }
        }
        guard rc == 0 else { throw CryptoError.authenticationFailed }
        switch Int(tag) {
        case Int(crypto_secretstream_xchacha20poly1305_TAG_MESSAGE):
            return (Int(written), false)
        case Int(crypto_secretstream_xchacha20poly1305_TAG_FINAL):
            return (Int(written), true)
        default:
            // We never write PUSH or REKEY tags; one here means a foreign stream.
            throw CryptoError.authenticationFailed
        }
    }
}
