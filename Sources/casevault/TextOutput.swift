import CaseVault
import Foundation

/// Left-aligned columns separated by two spaces, measured and padded in
/// terminal columns (Foundation's `padding(toLength:)` counts UTF-16 units,
/// and cut a cell holding an emoji short when it was its column's widest).
enum Table {
    /// Every cell escaped (TerminalText): a table shows names others chose
    /// (documents, staff, reasons), and an older or hand-signed one may hold
    /// what new names may not.
    static func render(header: [String], rows: [[String]]) -> String {
        let all = ([header] + rows).map { $0.map { TerminalText.escape($0) } }
        let widths = header.indices.map { column in all.map { columns($0[column]) }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[index] - columns(cell)))
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// The columns a terminal gives `text`: two for an emoji or an East
    /// Asian wide or fullwidth character, none for a zero-width format
    /// character or a mark with no base, one for any other character (a
    /// base with its combining marks is one).
    static func columns(_ text: String) -> Int {
        text.reduce(0) { total, character in
            let scalars = character.unicodeScalars
            let first = scalars.first!
            if scalars.allSatisfy({ $0.properties.generalCategory == .format }) { return total }
            switch first.properties.generalCategory {
            case .nonspacingMark, .enclosingMark: return total
            default: break
            }
            if first.properties.isEmojiPresentation || (first.properties.isEmoji && scalars.contains("\u{FE0F}")) || isWide(first) {
                return total + 2
            }
            return total + 1
        }
    }

    /// East Asian Wide and Fullwidth (Unicode's EastAsianWidth W and F), by block.
    private static func isWide(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
             0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
             0x20000...0x2FFFD, 0x30000...0x3FFFD: true
        default: false
        }
    }
}

/// The JSON shapes several commands share (Schemas/cli/).
enum JSONShapes {
    /// A version as `history --json` lists it (Schemas/cli/history.schema.json).
    static func version(_ v: VersionInfo) -> [String: Any] {
        ["document": v.document, "version": v.version, "type": v.type, "tier": v.tier.rawValue, "size": v.size,
         "object": v.objectID, "schema": v.schemaID.map { ["id": $0, "version": v.schemaVersion as Any] } as Any,
         "stamp": stamp(v.stamp),
         "withdrawn": v.withdrawal.map { ["at": $0.at.formatted(.iso8601), "by": $0.by, "reason": $0.reason] } as Any]
    }

    static func stamp(_ s: Stamp) -> [String: Any] {
        ["date": s.date, "caseNumber": s.caseNumber, "caseStatus": s.caseStatus.rawValue, "report": s.report,
         "caseManager": s.caseManager, "caseSupervisor": s.caseSupervisor, "version": s.version,
         "filedBy": s.filedBy, "filedByName": s.filedByName]
    }

    /// A case's clear facts, as `case list --json` lists them.
    /// A case's status as tables show it: "O (transferred)" for a case now
    /// kept by another vault.
    static func statusCell(_ c: CaseFile) -> String {
        c.status.rawValue + (c.transferredTo == nil ? "" : " (transferred)")
    }

    static func caseFile(_ c: CaseFile) -> [String: Any] {
        var object: [String: Any] = [
            "number": c.number.description, "category": c.number.category, "year": c.number.year,
            "clientNumber": c.number.clientNumber, "status": c.status.rawValue, "manager": c.manager.id, "supervisor": c.supervisor.id,
            "openedAt": c.openedAt.formatted(.iso8601), "openedBy": c.openedBy]
        if let vault = c.transferredTo { object["transferredTo"] = vault }
        return object
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
