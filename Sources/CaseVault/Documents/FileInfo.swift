internal import CaseVaultCrypto
import Foundation

/// A version's original file name and media type, kept encrypted beside
/// its object (SECURITY.md §11a): the catalog holds only a blob no one
/// without the file key can read, so `get -o DIR/` can write `scan.pdf`
/// again without the name ever being in clear in the vault.
public struct FileInfo: Sendable, Equatable {
    /// The file's own name (its last path component), when it was filed
    /// from a file whose name is safe to write back.
    public let name: String?
    /// The media type, from the name's extension or the first bytes.
    public let mediaType: String

    public init(name: String?, mediaType: String) {
        self.name = name
        self.mediaType = mediaType
    }

    static let context = "casevault-file-info-v1\n"

    static func isNormalized(_ name: String) -> Bool { Vault.documentName(name).utf8.elementsEqual(name.utf8) }
    static let maxNameBytes = 255

    /// What a filing from `path` keeps: its last path component, when safe
    /// to write back as a file name, and the media type.
    static func forFile(path: String?, isForm: Bool, head: UnsafeRawBufferPointer) -> FileInfo {
        let name = path.map { Vault.documentName(($0 as NSString).lastPathComponent) }.flatMap { isSafeFileName($0) ? $0 : nil }
        return FileInfo(name: name, mediaType: isForm ? "application/json" : mediaType(name: name, head: head))
    }

    /// A name `get -o DIR/` may write (SECURITY.md §11a): one path
    /// component of 1 to 255 UTF-8 bytes, not starting with `.` or `-`, no
    /// white space (Unicode Zs, tab) at either end, no `/`, and no control
    /// (Cc), format (Cf: bidirectional and zero-width characters), line or
    /// paragraph separator (Zl, Zp) character, nor U+FFFD.
    static func isSafeFileName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maxNameBytes, !name.hasPrefix("."), !name.hasPrefix("-"), !name.contains("/"),
              name.trimmingCharacters(in: .whitespaces) == name else { return false }
        return !name.unicodeScalars.contains {
            switch $0.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator: return true
            default: return $0 == "\u{FFFD}"
            }
        }
    }

    /// A name's extension for a package entry: a dot and 1 to 7 ASCII
    /// letters or digits, lower-cased; nil otherwise.
    static func safeExtension(of name: String) -> String? {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        let ext = name[name.index(after: dot)...]
        guard (1...7).contains(ext.count), ext.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return nil }
        return "." + ext.lowercased()
    }

    /// The media types a kept record may name: the table's, and the two defaults.
    static let knownMediaTypes = Set(byExtension.values).union(["application/octet-stream", "application/json"])

    /// The extension `get -o DIR/` gives a version without a kept name.
    static let preferredExtension: [String: String] = ["image/jpeg": "jpg", "text/html": "html", "image/tiff": "tif", "audio/ogg": "ogg"]

    static let byExtension: [String: String] = [
        "pdf": "application/pdf", "json": "application/json", "txt": "text/plain", "csv": "text/csv", "md": "text/markdown",
        "html": "text/html", "htm": "text/html", "xml": "application/xml", "rtf": "application/rtf",
        "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
        "heic": "image/heic", "heif": "image/heif", "tif": "image/tiff", "tiff": "image/tiff", "bmp": "image/bmp",
        "doc": "application/msword", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls": "application/vnd.ms-excel", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
        "mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg", "opus": "audio/ogg", "wav": "audio/wav", "amr": "audio/amr",
        "mp4": "video/mp4", "mov": "video/quicktime", "3gp": "video/3gpp", "zip": "application/zip",
    ]

    /// By extension first; else by the first bytes (PDF, PNG, JPEG, GIF);
    /// else `application/octet-stream`.
    static func mediaType(name: String?, head: UnsafeRawBufferPointer) -> String {
        if let name, let dot = name.lastIndex(of: "."), let known = byExtension[name[name.index(after: dot)...].lowercased()] {
            return known
        }
        let magic: [([UInt8], String)] = [
            (Array("%PDF-".utf8), "application/pdf"), ([0x89, 0x50, 0x4E, 0x47], "image/png"),
            ([0xFF, 0xD8, 0xFF], "image/jpeg"), (Array("GIF8".utf8), "image/gif"),
        ]
        for (prefix, type) in magic where head.count >= prefix.count && zip(prefix, head).allSatisfy({ $0 == $1 }) { return type }
        return "application/octet-stream"
    }

    /// The canonical JSON that is encrypted: {"mediaType", "name"} (name
    /// absent when there is none).
    var canonicalJSON: [UInt8] {
        var writer = CanonicalWriter()
        writer.object { m in
            m.string("mediaType", mediaType)
            if let name { m.string("name", name) }
        }
        return writer.bytes
    }

    /// The key: BLAKE2b-256 keyed with the file key over the context and
    /// the object id, so the blob opens only beside its own object.
    static func key(fileKey: SecureBytes, objectID: String) -> SecureBytes {
        var derived = Blake2b.keyedHash(Array((context + objectID).utf8), key: fileKey, length: 32)
        defer { for index in derived.indices { derived[index] = 0 } }
        return SecureBytes(copying: derived)
    }

    /// nonce (24 bytes) || crypto_secretbox_easy(canonical JSON).
    func sealed(fileKey: SecureBytes, objectID: String) throws -> [UInt8] {
        let nonce = randomBytes(count: SecretBox.nonceLength)
        let plaintext = SecureBytes(copying: canonicalJSON)
        return nonce + (try SecretBox.seal(plaintext, key: Self.key(fileKey: fileKey, objectID: objectID), nonce: nonce))
    }

    /// Whether the blob authenticates under the version's key, whatever it
    /// holds (to tell a name this build does not read from a forgery).
    static func authenticates(_ blob: [UInt8], fileKey: SecureBytes, objectID: String) -> Bool {
        (try? decrypt(blob, fileKey: fileKey, objectID: objectID)) != nil
    }

    private static func decrypt(_ blob: [UInt8], fileKey: SecureBytes, objectID: String) throws -> SecureBytes {
        guard blob.count > SecretBox.nonceLength + SecretBox.macLength else { throw CryptoError.authenticationFailed }
        return try SecretBox.open(blob[SecretBox.nonceLength...], key: key(fileKey: fileKey, objectID: objectID),
                                  nonce: Array(blob[..<SecretBox.nonceLength]))
    }

    static func open(_ blob: [UInt8], fileKey: SecureBytes, objectID: String) throws -> FileInfo {
        let plaintext = try decrypt(blob, fileKey: fileKey, objectID: objectID)
        let bytes = plaintext.withUnsafeBytes { Array($0) }
        guard case .object(let members)? = try? JSONValue(parsing: bytes), let mediaType = members["mediaType"]?.stringValue,
              Set(members.keys).isSubset(of: ["mediaType", "name"]) else { throw CryptoError.authenticationFailed }
        let name = members["name"]?.stringValue
        let info = FileInfo(name: name, mediaType: mediaType)
        guard info.canonicalJSON == bytes, name.map(isSafeFileName) ?? true, knownMediaTypes.contains(mediaType),
              name.map(isNormalized) ?? true else { throw CryptoError.authenticationFailed }
        return info
    }

    /// `name` as Windows, macOS and Linux all take it, for a folder that may
    /// sit on a USB stick or a share, or be zipped for Windows: each of
    /// `\ : * ? " < > |` (a path separator, an NTFS stream, wildcards) and a
    /// trailing dot or space (which Windows drops) becomes `_`, and a
    /// device name (`CON`, `NUL.txt`, `COM1`, …) gets a leading `_`.
    /// Names filed from a file were refused the rest (`isSafeFileName`).
    static func portableName(_ name: String) -> String {
        var scalars = Array(name.unicodeScalars.map { "\\:*?\"<>|".unicodeScalars.contains($0) ? "_" : $0 })
        var end = scalars.count
        while end > 0, scalars[end - 1] == "." || scalars[end - 1] == " " { end -= 1 }
        for index in end..<scalars.count { scalars[index] = "_" }
        var portable = String(String.UnicodeScalarView(scalars))
        let stem = portable.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? portable
        if windowsDeviceNames.contains(stem.trimmingCharacters(in: .whitespaces).uppercased()) { portable = "_" + portable }
        return portable
    }

    static let windowsDeviceNames: Set<String> = Set(["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
        + (1...9).flatMap { ["COM\($0)", "LPT\($0)"] } + ["¹", "²", "³"].flatMap { ["COM\($0)", "LPT\($0)"] })

    /// The name `get -o DIR/` writes: the original one, else the document's
    /// name and version with the media type's usual extension; either as
    /// every system takes it (`portableName`).
    static func fileName(for info: FileInfo?, document: String, version: Int) -> String {
        if let name = info?.name { return portableName(name) }
        let base = document.replacingOccurrences(of: "/", with: "-") + " v\(version)"
        let ext = info.flatMap { info in
            preferredExtension[info.mediaType] ?? byExtension.filter { $0.value == info.mediaType }.map(\.key).sorted().first
        }
        let candidate = portableName(ext.map { base + "." + $0 } ?? base)
        return isSafeFileName(candidate) ? candidate : "document v\(version)"
    }
}
