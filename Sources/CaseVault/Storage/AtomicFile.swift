internal import CaseVaultCrypto

/// Publishes a file only once it is complete and durable: write a temp file
/// in the destination's own folder, fsync it, then rename (or link, when we
/// must not overwrite) and fsync the folder. A failure at any point removes
/// the temp file, so nothing half-written is ever visible under `path`.
enum AtomicFile {
    static func write(to path: String, replacing: Bool, mode: UInt32 = 0o600,
                      _ body: (FileDescriptor) throws -> Void) throws {
        let folder = parentFolder(of: path)
        if !replacing && FileSystem.exists(path) {
            throw VaultError.alreadyExists("\(path) already exists")
        }
        // Said of the folder given, not of the temporary name made in it.
        guard FileSystem.isDirectory(folder) else { throw VaultError.notFound("no folder \(folder)") }
        // Where the file system allows, a new file is written with no name
        // at all (O_TMPFILE) and linked in only when complete: a kill or a
        // power cut mid-write leaves nothing behind, not even a temp name
        // holding plaintext. Elsewhere (FAT, some network file systems) the
        // named temp file below is used.
        if !replacing, let fd = FileSystem.createUnnamed(in: folder, mode: mode) {
            try body(fd)
            try fd.sync()
            try FileSystem.linkUnnamed(fd, to: path)
            try fd.closeNow()
            try FileSystem.syncDirectory(folder)
            return
        }
        let temp = temporaryPath(in: folder, for: path)
        let fd = try FileSystem.createExclusive(temp, mode: mode)
        do {
            try body(fd)
            try fd.sync()
            try fd.closeNow()
            if replacing {
                try FileSystem.rename(temp, to: path)
            } else {
                do {
                    try FileSystem.linkNoReplace(temp, to: path)
                    FileSystem.remove(temp)
                } catch VaultError.io where FileSystem.lastErrorMeansNoHardLinks {
                    // FAT and exFAT (USB sticks, where a recovery key belongs)
                    // have no hard links. Check, then rename: the window
                    // between the two is the only difference.
                    guard !FileSystem.exists(path) else { throw VaultError.alreadyExists("\(path) already exists") }
                    try FileSystem.rename(temp, to: path)
                }
            }
            try FileSystem.syncDirectory(folder)
        } catch {
            FileSystem.remove(temp)
            throw error
        }
    }

    static func parentFolder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let folder = String(path[..<slash])
        return folder.isEmpty ? "/" : folder
    }

    static func temporaryPath(in folder: String, for path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? "file"
        return folder + "/." + name + ".tmp-" + randomBytes(count: 8).hexString
    }
}
