/// Errors of the archive layer. libarchive's own message is copied into the
/// error at once (it is overwritten by the next call on the same handle).
public enum ArchiveError: Error, Equatable, Sendable {
    /// An entry a reader refuses to hand out: its name or its type could
    /// escape or confuse the folder it would be extracted into.
    case unsafeEntry(path: String, reason: String)
    /// An entry count, an entry size or the total size went over a limit.
    case limitExceeded(String)
    /// The archive is damaged, in an unsupported format, encrypted with a
    /// passphrase we were not given, or libarchive refused it.
    case malformed(String)
    /// Writing failed (disk full, closed descriptor) or the caller broke the
    /// writer's contract (more or fewer bytes than an entry declared).
    case writeFailed(String)
}
