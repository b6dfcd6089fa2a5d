internal import CArchive
#if canImport(Glibc)
internal import Glibc
#endif

/// Limits a reader enforces on an untrusted archive. Sizes are checked both
/// against what an entry declares and against the bytes actually produced,
/// so a compressed entry that lies about its size is still caught.
public struct ArchiveLimits: Sendable, Equatable {
    public var maxEntries: Int
    public var maxEntrySize: Int64
    public var maxTotalSize: Int64
    public var maxPathLength: Int

    public init(maxEntries: Int = 10_000, maxEntrySize: Int64 = 4 << 30,
                maxTotalSize: Int64 = 16 << 30, maxPathLength: Int = 1_024) {
        self.maxEntries = maxEntries
        self.maxEntrySize = maxEntrySize
        self.maxTotalSize = maxTotalSize
        self.maxPathLength = maxPathLength
    }
}

/// One entry a reader has accepted.
public struct ArchiveEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case file, directory }
    /// Normalised relative path: no leading "./", no empty or "." parts,
    /// no trailing slash.
    public let path: String
    public let kind: Kind
    /// The size the archive declares, if it declares one.
    public let declaredSize: Int64?
}

/// Reads a tar (optionally gzip-compressed) or zip archive that came from
/// outside, refusing anything that could escape or confuse an extraction:
/// absolute paths, `..`, backslashes and control characters in names,
/// symbolic and hard links, devices, FIFOs and sockets, duplicate names,
/// and entries or totals over `limits`. Each refusal is thrown when the
/// offending entry is reached; a caller extracting into a staging folder
/// deletes that folder on any error.
public final class ArchiveReader {
    private let handle: ArchiveHandle
    private let limits: ArchiveLimits
    private var seen = Set<String>()
    private var entryCount = 0
    private var totalBytes: Int64 = 0
    private var currentEntryBytes: Int64 = 0
    private var currentDeclaredSize: Int64?
    private var currentIsFile = false
    /// Set by any error: a reader that refused an entry hands out nothing more.
    private var failed = false

    /// - Parameter passphrase: for an encrypted zip.
    public init(fileDescriptor: Int32, limits: ArchiveLimits = ArchiveLimits(),
                passphrase: UnsafeRawBufferPointer? = nil) throws {
        try ArchiveHandle.requireUTF8Locale()
        guard let raw = archive_read_new() else { throw ArchiveError.malformed("out of memory") }
        handle = ArchiveHandle(raw: raw)
        self.limits = limits
        // Formats and filters are listed one by one: "support all" would
        // also enable formats we never write and filters that run external
        // programs.
        for setup in [archive_read_support_format_tar, archive_read_support_format_zip,
                      archive_read_support_filter_none, archive_read_support_filter_gzip] {
            guard setup(raw) == ARCHIVE_OK else { throw ArchiveError.malformed(handle.lastError) }
        }
        if let passphrase {
            let rc = handle.withCString(copying: passphrase) { archive_read_add_passphrase(raw, $0) }
            guard rc == ARCHIVE_OK else { throw ArchiveError.malformed(handle.lastError) }
        }
        guard archive_read_open_fd(raw, fileDescriptor, 64 * 1024) == ARCHIVE_OK else {
            throw ArchiveError.malformed(handle.lastError)
        }
    }

    /// Reads a tar (never compressed, never zip: no decompressor runs) that `read`
    /// streams (out of a decryptor, say): `read` fills the buffer it is
    /// given and returns how many bytes, 0 at the end. The buffer is wiped
    /// when the reader goes.
    public init(limits: ArchiveLimits = ArchiveLimits(), read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) throws {
        try ArchiveHandle.requireUTF8Locale()
        guard let raw = archive_read_new() else { throw ArchiveError.malformed("out of memory") }
        handle = ArchiveHandle(raw: raw)
        self.limits = limits
        for setup in [archive_read_support_format_tar, archive_read_support_filter_none] {
            guard setup(raw) == ARCHIVE_OK else { throw ArchiveError.malformed(handle.lastError) }
        }
        let source = ReadSource(read)
        self.source = source
        let context = Unmanaged.passUnretained(source).toOpaque()
        let rc = archive_read_open(raw, context, nil, { _, context, buffer in
            let source = Unmanaged<ReadSource>.fromOpaque(context!).takeUnretainedValue()
            do {
                let n = try source.read(UnsafeMutableRawBufferPointer(start: source.buffer, count: ReadSource.size))
                buffer?.pointee = UnsafeRawPointer(source.buffer)
                return la_ssize_t(n)
            } catch {
                source.error = error
                return -1
            }
        }, nil)
        guard rc == ARCHIVE_OK else { throw source.error ?? ArchiveError.malformed(handle.lastError) }
    }

    /// The closure a callback reader reads from, its buffer, and its error.
    private final class ReadSource {
        static let size = 64 * 1024
        let read: (UnsafeMutableRawBufferPointer) throws -> Int
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        var error: (any Error)?
        init(_ read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) { self.read = read }
        deinit {
            explicit_bzero(buffer, Self.size)
            buffer.deallocate()
        }
    }
    private var source: ReadSource?

    deinit {
        archive_read_free(handle.raw)
    }

    /// The next accepted entry, or nil at the end of the archive. Any
    /// unread data of the previous entry is skipped (and still counted
    /// against the limits only as far as it was read).
    public func nextEntry() throws -> ArchiveEntry? {
        try guarded { try nextEntryUnguarded() }
    }

    /// Runs `body`; after any error the reader refuses every further call.
    private func guarded<R>(_ body: () throws -> R) throws -> R {
        guard !failed else { throw ArchiveError.malformed("the archive reader already refused this archive") }
        do { return try body() } catch {
            failed = true
            throw error
        }
    }

    private func nextEntryUnguarded() throws -> ArchiveEntry? {
        currentIsFile = false
        currentDeclaredSize = nil
        var entryPointer: OpaquePointer?
        let rc = archive_read_next_header(handle.raw, &entryPointer)
        if rc == ARCHIVE_EOF { return nil }
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let entry = entryPointer else {
            throw source?.error ?? ArchiveError.malformed(handle.lastError)
        }
        entryCount += 1
        guard entryCount <= limits.maxEntries else {
            throw ArchiveError.limitExceeded("more than \(limits.maxEntries) entries")
        }
        let rawName: String
        if let utf8 = archive_entry_pathname_utf8(entry) {
            rawName = String(cString: utf8)
        } else if let native = archive_entry_pathname(entry) {
            rawName = String(decoding: UnsafeRawBufferPointer(start: native, count: strlen(native)), as: UTF8.self)
        } else {
            throw ArchiveError.unsafeEntry(path: "", reason: "entry has no name")
        }
        let path = try Self.normalise(rawName, maxLength: limits.maxPathLength)

        if archive_entry_hardlink(entry) != nil {
            throw ArchiveError.unsafeEntry(path: rawName, reason: "hard link")
        }
        let kind: ArchiveEntry.Kind
        switch UInt32(archive_entry_filetype(entry)) {
        case FileType.regular: kind = .file
        case FileType.directory: kind = .directory
        case FileType.symbolicLink: throw ArchiveError.unsafeEntry(path: rawName, reason: "symbolic link")
        case FileType.characterDevice, FileType.blockDevice:
            throw ArchiveError.unsafeEntry(path: rawName, reason: "device file")
        case FileType.fifo: throw ArchiveError.unsafeEntry(path: rawName, reason: "FIFO")
        case FileType.socket: throw ArchiveError.unsafeEntry(path: rawName, reason: "socket")
        default: throw ArchiveError.unsafeEntry(path: rawName, reason: "unknown file type")
        }
        if archive_entry_symlink(entry) != nil {
            throw ArchiveError.unsafeEntry(path: rawName, reason: "symbolic link")
        }
        // A sparse entry's holes come out as zeros: a few bytes of archive
        // could produce gigabytes.
        if archive_entry_sparse_count(entry) > 0 {
            throw ArchiveError.unsafeEntry(path: rawName, reason: "sparse file")
        }
        guard seen.insert(path).inserted else {
            throw ArchiveError.unsafeEntry(path: rawName, reason: "duplicate name")
        }
        var declared: Int64?
        if archive_entry_size_is_set(entry) != 0 {
            let size = archive_entry_size(entry)
            guard size >= 0 else { throw ArchiveError.malformed("negative size for \(rawName)") }
            guard size <= limits.maxEntrySize else {
                throw ArchiveError.limitExceeded("\(path) is \(size) bytes, over the \(limits.maxEntrySize)-byte entry limit")
            }
            guard totalBytes + size <= limits.maxTotalSize else {
                throw ArchiveError.limitExceeded("archive content over the \(limits.maxTotalSize)-byte total limit")
            }
            declared = size
        }
        currentEntryBytes = 0
        currentDeclaredSize = declared
        currentIsFile = kind == .file
        return ArchiveEntry(path: path, kind: kind, declaredSize: declared)
    }

    /// Reads the current entry's data into `buffer`; returns 0 at its end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try guarded { try readUnguarded(into: buffer) }
    }

    private func readUnguarded(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard currentIsFile, buffer.count > 0 else { return 0 }
        let n = archive_read_data(handle.raw, buffer.baseAddress!, buffer.count)
        guard n >= 0 else { throw source?.error ?? ArchiveError.malformed(handle.lastError) }
        currentEntryBytes += Int64(n)
        totalBytes += Int64(n)
        if let declared = currentDeclaredSize, currentEntryBytes > declared {
            throw ArchiveError.malformed("an entry produced more bytes than the \(declared) it declared")
        }
        guard currentEntryBytes <= limits.maxEntrySize else {
            throw ArchiveError.limitExceeded("an entry produced more than \(limits.maxEntrySize) bytes")
        }
        guard totalBytes <= limits.maxTotalSize else {
            throw ArchiveError.limitExceeded("archive content over the \(limits.maxTotalSize)-byte total limit")
        }
        return n
    }

    /// Checks an entry name and returns its normalised form.
    static func normalise(_ name: String, maxLength: Int) throws -> String {
        guard !name.isEmpty else { throw ArchiveError.unsafeEntry(path: name, reason: "empty name") }
        guard name.utf8.count <= maxLength else {
            throw ArchiveError.unsafeEntry(path: String(name.prefix(80)), reason: "name longer than \(maxLength) bytes")
        }
        guard !name.hasPrefix("/") else { throw ArchiveError.unsafeEntry(path: name, reason: "absolute path") }
        guard !name.contains("\\") else { throw ArchiveError.unsafeEntry(path: name, reason: "backslash in name") }
        // C0 and C1 controls, and the bidirectional overrides that can make
        // "gpj.exe" display as "exe.jpg".
        guard !name.unicodeScalars.contains(where: {
            $0.value < 0x20 || (0x7f...0x9f).contains($0.value) || (0x202a...0x202e).contains($0.value)
                || (0x2066...0x2069).contains($0.value)
        }) else {
            throw ArchiveError.unsafeEntry(path: name, reason: "control character in name")
        }
        var parts: [Substring] = []
        for part in name.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": throw ArchiveError.unsafeEntry(path: name, reason: "parent-directory reference")
            default: parts.append(part)
            }
        }
        guard !parts.isEmpty else { throw ArchiveError.unsafeEntry(path: name, reason: "empty name") }
        // A Windows drive prefix such as "C:" or "C:foo" is absolute or
        // drive-relative on extraction there.
        if let first = parts.first, first.count >= 2, first.dropFirst().first == ":", first.first!.isLetter {
            throw ArchiveError.unsafeEntry(path: name, reason: "absolute path")
        }
        return parts.joined(separator: "/")
    }
}
