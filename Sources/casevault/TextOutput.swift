import CaseVault
import Foundation

/// Left-aligned columns separated by two spaces.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// Pretty, key-sorted JSON for --json output.
enum JSONText {
    static func render(_ object: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Writes `text` to a new file (mode 0644), refusing one that exists or a
/// link in its place (O_EXCL | O_NOFOLLOW): what `--out` means for a
/// checkpoint, an identity or a proof.
func writeNewFile(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
        if errno == EEXIST { throw VaultError.alreadyExists("\(path) already exists") }
        throw VaultError.io("cannot write \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw VaultError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
        bytes = bytes.dropFirst(n)
    }
    guard fsync(fd) == 0 else { throw VaultError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
}
