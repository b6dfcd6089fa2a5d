internal import CArchive
#if canImport(Glibc)
internal import Glibc
#endif

/// Owns one `struct archive *`. The reader and writer that hold it free
/// it in their `deinit` (each with its own read or write free call).
final class ArchiveHandle {
    let raw: OpaquePointer

    init(raw: OpaquePointer) {
        self.raw = raw
    }

    /// Throws when no UTF-8 locale can be had (see `utf8Locale`).
    static func requireUTF8Locale() throws {
        guard utf8Locale else {
            throw ArchiveError.malformed("no UTF-8 locale (C.UTF-8) is available for archive entry names")
        }
    }

    /// libarchive converts names between UTF-8 and the locale's charset;
    /// under the plain C locale that fails for any non-ASCII name, and
    /// libarchive 3.6's pax writer then dereferences NULL. Case files are
    /// named in many languages, so when the process's LC_CTYPE is not UTF-8
    /// we switch it to C.UTF-8, once, before the first handle exists.
    static let utf8Locale: Bool = {
        if let codeset = nl_langinfo(nl_item(CODESET)), String(cString: codeset) == "UTF-8" { return true }
        for name in ["C.UTF-8", "C.utf8", "en_US.UTF-8"] where setlocale(LC_CTYPE, name) != nil {
            return true
        }
        return false
    }()

    /// libarchive's last error string for this handle, copied now.
    var lastError: String {
        if let message = archive_error_string(raw) {
            return String(cString: message)
        }
        return "libarchive error \(archive_errno(raw))"
    }

    /// Hands libarchive a NUL-terminated copy of `passphrase` and wipes our
    /// copy straight after. libarchive keeps its own internal copy for the
    /// life of the handle and frees it unwiped (SECURITY.md §7).
    func withCString<R>(copying passphrase: UnsafeRawBufferPointer, _ body: (UnsafePointer<CChar>) -> R) -> R {
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: passphrase.count + 1)
        defer {
            explicit_bzero(buffer, passphrase.count + 1)
            buffer.deallocate()
        }
        if let base = passphrase.baseAddress, passphrase.count > 0 {
            UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: passphrase.count)
        }
        buffer[passphrase.count] = 0
        return body(buffer)
    }
}

enum FileType {
    // AE_IF* are macros with casts, which Swift does not import.
    static let regular: UInt32 = 0o100000
    static let directory: UInt32 = 0o040000
    static let symbolicLink: UInt32 = 0o120000
    static let characterDevice: UInt32 = 0o020000
    static let blockDevice: UInt32 = 0o060000
    static let fifo: UInt32 = 0o010000
    static let socket: UInt32 = 0o140000
}
