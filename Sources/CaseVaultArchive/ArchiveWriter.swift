internal import CArchive

/// Streams entries into a pax tar, a zip, or an AES-256 encrypted zip,
/// writing straight to a file descriptor: no entry is ever held whole in
/// memory. The descriptor stays the caller's: it is not closed here, so the
/// caller can fsync and rename it (safe writes live in the core).
public final class ArchiveWriter {
    public enum Format: Sendable, Equatable {
        /// POSIX pax interchange format (UTF-8 names, sizes above 8 GiB).
        case paxTar
        /// Zip with deflate compression.
        case zip
        /// Zip with WinZip AES-256 encryption (opened by 7-Zip and most
        /// unzip tools that understand AE-2) under the given passphrase.
        case zipAES256
    }

    private let handle: ArchiveHandle
    private var open = true
    private var failed = false
    private var entryOpen = false
    private var declaredSize: Int64 = 0
    private var writtenSize: Int64 = 0

    /// - Parameter passphrase: required for `.zipAES256`, refused otherwise.
    public init(fileDescriptor: Int32, format: Format, passphrase: UnsafeRawBufferPointer? = nil) throws {
        try ArchiveHandle.requireUTF8Locale()
        guard let raw = archive_write_new() else { throw ArchiveError.writeFailed("out of memory") }
        handle = ArchiveHandle(raw: raw)
        try configure(format: format, passphrase: passphrase)
        guard archive_write_open_fd(raw, fileDescriptor) == ARCHIVE_OK else { throw ArchiveError.writeFailed(handle.lastError) }
    }

    /// Streams the archive to `write` instead of a file descriptor (into an
    /// encryptor, say), in libarchive's blocks; an error `write` throws
    /// fails the archive and is rethrown by the call that triggered it.
    public init(format: Format, passphrase: UnsafeRawBufferPointer? = nil,
                write: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        try ArchiveHandle.requireUTF8Locale()
        guard let raw = archive_write_new() else { throw ArchiveError.writeFailed("out of memory") }
        handle = ArchiveHandle(raw: raw)
        sink = WriteSink(write)
        try configure(format: format, passphrase: passphrase)
        let context = Unmanaged.passUnretained(sink!).toOpaque()
        let rc = archive_write_open2(raw, context, nil, { _, context, buffer, length in
            let sink = Unmanaged<WriteSink>.fromOpaque(context!).takeUnretainedValue()
            do {
                try sink.write(UnsafeRawBufferPointer(start: buffer, count: length))
                return la_ssize_t(length)
            } catch {
                sink.error = error
                return -1
            }
        }, nil, nil)
        if rc != ARCHIVE_OK { throw sink?.error ?? ArchiveError.writeFailed(handle.lastError) }
    }

    /// The closure a callback writer writes to, and the error it threw.
    private final class WriteSink {
        let write: (UnsafeRawBufferPointer) throws -> Void
        var error: (any Error)?
        init(_ write: @escaping (UnsafeRawBufferPointer) throws -> Void) { self.write = write }
    }
    private var sink: WriteSink?

    private func configure(format: Format, passphrase: UnsafeRawBufferPointer?) throws {
        let raw = handle.raw
        func check(_ rc: Int32) throws {
            if rc != ARCHIVE_OK { throw ArchiveError.writeFailed(handle.lastError) }
        }
        switch format {
        case .paxTar:
            guard passphrase == nil else { throw ArchiveError.writeFailed("a pax tar cannot be encrypted") }
            try check(archive_write_set_format_pax(raw))
        case .zip:
            guard passphrase == nil else { throw ArchiveError.writeFailed("use .zipAES256 to encrypt a zip") }
            try check(archive_write_set_format_zip(raw))
        case .zipAES256:
            guard let passphrase, passphrase.count > 0 else {
                throw ArchiveError.writeFailed("an AES-256 zip needs a passphrase")
            }
            try check(archive_write_set_format_zip(raw))
            try check(archive_write_set_options(raw, "zip:encryption=aes256"))
            try check(handle.withCString(copying: passphrase) { archive_write_set_passphrase(raw, $0) })
        }
        // Write in whole 10 KiB blocks for tar as usual; never pad the last
        // block of a zip, which would corrupt it for some readers.
        if format != .paxTar {
            try check(archive_write_set_bytes_in_last_block(raw, 1))
        }
    }

    /// The error a callback sink threw, else libarchive's own.
    private func failure() -> any Error {
        sink?.error ?? ArchiveError.writeFailed(handle.lastError)
    }

    deinit {
        if open {
            // A writer dropped without `finish()`, or after an error, is
            // abandoned: archive_write_fail stops libarchive from padding the
            // open entry and writing a trailer, so the output never looks
            // like a complete archive. The caller removes its temp file.
            archive_write_fail(handle.raw)
        }
        archive_write_free(handle.raw)
    }

    /// Runs `body`; after any error the writer refuses every further call.
    private func guarded<R>(_ body: () throws -> R) throws -> R {
        guard !failed else { throw ArchiveError.writeFailed("the archive writer already failed") }
        do { return try body() } catch {
            failed = true
            throw error
        }
    }

    /// Starts a regular file of exactly `size` bytes at `path` (forward
    /// slashes, relative). Call `write` until `size` bytes are in, then
    /// `finishEntry`.
    public func beginFile(path: String, size: Int64, modificationTime: Int64, permissions: UInt32 = 0o644) throws {
        try beginEntry(path: path, type: FileType.regular, size: size, modificationTime: modificationTime, permissions: permissions)
    }

    /// Adds a directory entry.
    public func addDirectory(path: String, modificationTime: Int64, permissions: UInt32 = 0o755) throws {
        try beginEntry(path: path, type: FileType.directory, size: 0, modificationTime: modificationTime, permissions: permissions)
        try finishEntry()
    }

    /// Appends bytes to the open entry.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try guarded { try writeUnguarded(bytes) }
    }

    private func writeUnguarded(_ bytes: UnsafeRawBufferPointer) throws {
        guard entryOpen else { throw ArchiveError.writeFailed("write outside an entry") }
        guard writtenSize + Int64(bytes.count) <= declaredSize else {
            throw ArchiveError.writeFailed("entry is longer than the \(declaredSize) bytes it declared")
        }
        var offset = 0
        while offset < bytes.count {
            let n = archive_write_data(handle.raw, bytes.baseAddress! + offset, bytes.count - offset)
            guard n > 0 else { throw failure() }
            offset += n
        }
        writtenSize += Int64(bytes.count)
    }

    /// Ends the open entry; throws if fewer bytes came than were declared
    /// (libarchive would otherwise pad with zeros and say nothing).
    public func finishEntry() throws {
        try guarded { try finishEntryUnguarded() }
    }

    private func finishEntryUnguarded() throws {
        guard entryOpen else { throw ArchiveError.writeFailed("no entry to finish") }
        entryOpen = false
        guard writtenSize == declaredSize else {
            throw ArchiveError.writeFailed("entry is \(writtenSize) bytes, declared \(declaredSize)")
        }
        guard archive_write_finish_entry(handle.raw) == ARCHIVE_OK else {
            throw failure()
        }
    }

    /// Writes the archive's trailer (zip central directory, tar end blocks).
    /// Without it the output is not a valid archive.
    public func finish() throws {
        try guarded { try finishUnguarded() }
    }

    private func finishUnguarded() throws {
        guard !entryOpen else { throw ArchiveError.writeFailed("an entry is still open") }
        guard open else { return }
        open = false
        guard archive_write_close(handle.raw) == ARCHIVE_OK else {
            throw failure()
        }
    }

    private func beginEntry(path: String, type: UInt32, size: Int64, modificationTime: Int64, permissions: UInt32) throws {
        try guarded { try beginEntryUnguarded(path: path, type: type, size: size, modificationTime: modificationTime, permissions: permissions) }
    }

    private func beginEntryUnguarded(path: String, type: UInt32, size: Int64, modificationTime: Int64, permissions: UInt32) throws {
        guard open, !entryOpen else { throw ArchiveError.writeFailed("previous entry not finished") }
        guard size >= 0 else { throw ArchiveError.writeFailed("negative entry size") }
        guard let entry = archive_entry_new() else { throw ArchiveError.writeFailed("out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, path)
        // A name libarchive cannot represent would reach its writers as NULL.
        guard archive_entry_pathname(entry) != nil else {
            throw ArchiveError.writeFailed("cannot encode the entry name \(path)")
        }
        archive_entry_set_filetype(entry, type)
        archive_entry_set_perm(entry, permissions)
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, time_t(modificationTime), 0)
        guard archive_write_header(handle.raw, entry) == ARCHIVE_OK else {
            throw failure()
        }
        entryOpen = true
        declaredSize = size
        writtenSize = 0
    }
}
