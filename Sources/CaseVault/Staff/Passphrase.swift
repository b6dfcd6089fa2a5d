internal import CaseVaultCrypto
#if canImport(Glibc)
internal import Glibc
#endif

/// A staff passphrase, held in wiped memory from the moment it is read.
/// It is read from a file or a terminal descriptor byte by byte straight
/// into `sodium_malloc` memory — never through `String` — and is never a
/// command-line argument (arguments are visible to every user via /proc).
public final class Passphrase {
    /// The longest passphrase accepted, in bytes.
    public static let maximumLength = 1_024
    /// The shortest passphrase accepted for a new identity, in bytes.
    public static let minimumNewLength = 12

    let bytes: SecureBytes

    init(bytes: SecureBytes) {
        self.bytes = bytes
    }

    /// Reads the first line of `fd` (without its line ending).
    public convenience init(readingLineFrom fd: Int32, source: String) throws {
        let buffer = SecureBytes(count: Self.maximumLength + 1)
        var length = 0
        var sawNewline = false
        try buffer.withUnsafeMutableBytes { out in
            var byte: UInt8 = 0
            while true {
                let n = Glibc.read(fd, &byte, 1)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw VaultError.io("cannot read passphrase from \(source): \(FileSystem.errorText())")
                }
                if n == 0 { break }
                if byte == UInt8(ascii: "\n") { sawNewline = true; break }
                guard length < Self.maximumLength else {
                    throw VaultError.invalidInput("passphrase from \(source) is longer than \(Self.maximumLength) bytes")
                }
                out[length] = byte
                length += 1
            }
            byte = 0
        }
        // Tolerate a Windows line ending ("\r\n") in a passphrase file; a
        // lone "\r" at the end without "\n" is part of the passphrase.
        if sawNewline, length > 0, buffer.withUnsafeBytes({ $0[length - 1] }) == UInt8(ascii: "\r") {
            length -= 1
        }
        guard length > 0 else { throw VaultError.invalidInput("empty passphrase from \(source)") }
        self.init(bytes: buffer.slice(0..<length))
    }

    /// Reads the first line of a passphrase file.
    public convenience init(contentsOfFile path: String) throws {
        guard FileSystem.exists(path) else { throw VaultError.notFound("passphrase file \(path) does not exist") }
        guard FileSystem.isRegularFile(path) || path.hasPrefix("/dev/fd/") || path.hasPrefix("/proc/self/fd/") else {
            throw VaultError.invalidInput("passphrase file \(path) is not a regular file")
        }
        let fd = try FileSystem.openForReading(path)
        try self.init(readingLineFrom: fd.raw, source: path)
    }

    /// Length in bytes.
    public var count: Int { bytes.count }

    /// Length in Unicode scalars (what people count as characters), from
    /// the UTF-8 bytes without decoding them into a String.
    public var characterCount: Int {
        bytes.withUnsafeBytes { $0.reduce(0) { $1 & 0xC0 == 0x80 ? $0 : $0 + 1 } }
    }

    /// Constant-time comparison, for "type it again" prompts.
    public func matches(_ other: Passphrase) -> Bool {
        bytes.isEqual(to: other.bytes)
    }

    /// Checks the rules for a passphrase being set now.
    public func validateAsNew() throws {
        guard characterCount >= Self.minimumNewLength else {
            throw VaultError.invalidInput("a new passphrase must be at least \(Self.minimumNewLength) characters long")
        }
    }
}
