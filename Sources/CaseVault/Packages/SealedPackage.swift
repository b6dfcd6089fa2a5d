internal import CaseVaultCrypto

/// A handover package sealed to one recipient (SECURITY.md §15a):
///
/// ```
/// magic        21 bytes  "casevault-package-v1\n" ("casevault-transfer-v2\n",
///                        22 bytes, for a case transfer carrying its
///                        versions' file names, "casevault-transfer-v1\n"
///                        for one without; -v4 and -v3 for the same from
///                        a vault of format 3, §15b)
/// recipient    32 bytes  the recipient's X25519 public key
/// sealed key   80 bytes  crypto_box_seal(stream key (32 bytes), recipient)
/// stream       …         secretstream (§9) of a pax tar, every chunk with
///                        associated data = the 133 bytes above
/// ```
enum SealedPackage {
    static let magic = Array("casevault-package-v1\n".utf8)
    static let transferMagic = Array("casevault-transfer-v1\n".utf8)
    /// A transfer that carries its versions' sealed file names (§15b): a
    /// casevault that predates them refuses it as no transfer at all, rather
    /// than as one holding blobs its versions do not name.
    static let transferMagicV2 = Array("casevault-transfer-v2\n".utf8)
    /// A transfer from a vault of format 3, whose objects may be named by
    /// BLAKE3 (§9): without file names (-v3) and with them (-v4). A
    /// casevault that predates BLAKE3 names refuses either as no transfer,
    /// rather than taking each object for one altered.
    static let transferMagicV3 = Array("casevault-transfer-v3\n".utf8)
    static let transferMagicV4 = Array("casevault-transfer-v4\n".utf8)
    static let sealedKeyLength = 80
    /// A handover package's header (the transfer's is one byte longer).
    static let headerLength = magic.count + 32 + sealedKeyLength

    /// Encrypts what is written to it as one secretstream, chunk by chunk,
    /// into `output`; `finish` pushes the final chunk.
    final class Sealer {
        private let encryptor: SecretStreamEncryptor
        private let header: [UInt8]
        private let output: (UnsafeRawBufferPointer) throws -> Void
        private let buffer = SecureBytes(count: SecretStream.chunkSize)
        private var count = 0
        private var cipher = [UInt8](repeating: 0, count: SecretStream.cipherChunkSize)

        init(to recipient: BoxPublicKey, magic: [UInt8] = SealedPackage.magic, output: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
            let key = SecretStream.generateKey()
            header = magic + recipient.bytes + SealedBox.seal(key, to: recipient)
            encryptor = try SecretStreamEncryptor(key: key)
            self.output = output
            try header.withUnsafeBytes { try output($0) }
            try encryptor.header.withUnsafeBytes { try output($0) }
        }

        /// A chunk is pushed only once more bytes follow it, so the last
        /// one (full or not) is the final one.
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < bytes.count {
                if count == SecretStream.chunkSize { try push(isFinal: false) }
                let n = min(bytes.count - offset, SecretStream.chunkSize - count)
                buffer.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: count).copyMemory(from: bytes.baseAddress! + offset, byteCount: n) }
                count += n
                offset += n
            }
        }

        func finish() throws { try push(isFinal: true) }

        private func push(isFinal: Bool) throws {
            let written = try buffer.withUnsafeBytes { plain in
                try cipher.withUnsafeMutableBytes { out in
                    try encryptor.push(UnsafeRawBufferPointer(rebasing: plain[0..<count]), associatedData: header, isFinal: isFinal, into: out)
                }
            }
            try cipher.withUnsafeBytes { try output(UnsafeRawBufferPointer(rebasing: $0[0..<written])) }
            count = 0
        }
    }

    /// Decrypts a sealed package for its recipient, handing out plaintext
    /// as it is read (pull), each chunk authenticated before it is released;
    /// the end of input before the final chunk, or any byte after it, is
    /// refused.
    final class Opener {
        private let decryptor: SecretStreamDecryptor
        private let header: [UInt8]
        private let input: (UnsafeMutableRawBufferPointer) throws -> Int
        private let plain = SecureBytes(count: SecretStream.chunkSize)
        private var cipher = [UInt8](repeating: 0, count: SecretStream.cipherChunkSize)
        private var available = 0, offset = 0
        private var ended = false

        /// The magic the header began with (one of `magic` and `alternatives`).
        let magicRead: [UInt8]

        /// Refuses a package that is not one, or is another recipient's.
        /// `alternatives`: other magics of the same length also accepted.
        init(with keys: any Unsealer, magic: [UInt8] = SealedPackage.magic, alternatives: [[UInt8]] = [], what: String = "handover package",
             input: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) throws {
            precondition(alternatives.allSatisfy { $0.count == magic.count }, "magics of one length")
            let headerLength = magic.count + 32 + SealedPackage.sealedKeyLength
            var header = [UInt8](repeating: 0, count: headerLength)
            let got = try header.withUnsafeMutableBytes { try SecretStream.fillRaw($0, using: input) }
            guard got == headerLength, let read = ([magic] + alternatives).first(where: { Array(header[0..<magic.count]) == $0 }) else {
                throw VaultError.invalidInput("this is not a casevault \(what) (or it is cut short)")
            }
            magicRead = read
            let recipient = Array(header[magic.count..<(magic.count + 32)])
            guard recipient == keys.boxPublicKey.bytes else {
                throw VaultError.accessDenied("this \(what) is sealed to someone else")
            }
            let key: SecureBytes
            do { key = try keys.unseal(Array(header[(magic.count + 32)...])) } catch {
                throw VaultError.integrityFailure("the package's key does not open: it was altered")
            }
            var streamHeader = [UInt8](repeating: 0, count: SecretStream.headerLength)
            guard try streamHeader.withUnsafeMutableBytes({ try SecretStream.fillRaw($0, using: input) }) == SecretStream.headerLength else {
                throw VaultError.integrityFailure("the package is cut short")
            }
            decryptor = try SecretStreamDecryptor(key: key, header: streamHeader)
            self.header = header
            self.input = input
        }

        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            if offset == available {
                guard !ended else { return 0 }
                try refill()
                if available == 0 { return 0 }
            }
            let n = min(buffer.count, available - offset)
            plain.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            offset += n
            return n
        }

        private func refill() throws {
            let count = try cipher.withUnsafeMutableBytes { try SecretStream.fillRaw($0, using: input) }
            guard count > 0 else { throw VaultError.integrityFailure("the package is cut short (no final chunk)") }
            let (plainCount, isFinal): (Int, Bool)
            do {
                (plainCount, isFinal) = try cipher.withUnsafeBytes { c in
                    try plain.withUnsafeMutableBytes { p in
                        try decryptor.pull(UnsafeRawBufferPointer(rebasing: c[0..<count]), associatedData: header, into: p)
                    }
                }
            } catch {
                throw VaultError.integrityFailure("the package failed authentication: it was altered or cut")
            }
            if isFinal {
                var probe: UInt8 = 0
                guard try withUnsafeMutableBytes(of: &probe, { try input($0) }) == 0 else {
                    throw VaultError.integrityFailure("the package has bytes after its end")
                }
                ended = true
            } else if count < SecretStream.cipherChunkSize {
                throw VaultError.integrityFailure("the package failed authentication: it was altered or cut")
            }
            available = plainCount
            offset = 0
        }
    }
}
