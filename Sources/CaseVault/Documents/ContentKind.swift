/// Recognises content by its first bytes: image formats, so an identifying
/// photo filed under a wrong type still goes to the confidential tier
/// (manual §5.5: identifying photos must be protected), and the extension a
/// handover package gives a document's file (SECURITY.md §15a).
enum ContentKind {
    static let sniffLength = 16

    /// The image format `head` starts with, as a file extension; nil when none.
    static func imageExtension(_ head: UnsafeRawBufferPointer) -> String? {
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + prefix.count && zip(head[offset..<(offset + prefix.count)], prefix).allSatisfy { $0 == $1 }
        }
        if starts([0xFF, 0xD8, 0xFF]) { return ".jpg" }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return ".png" }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return ".gif" }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return ".webp" }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return ".tif" }
        if starts(Array("ftyp".utf8), at: 4) {                                          // HEIF / AVIF
            for brand in ["heic", "heix", "mif1", "msf1", "avif", "hevc"] where starts(Array(brand.utf8), at: 8) {
                return brand == "avif" ? ".avif" : ".heic"
            }
        }
        return nil
    }

    static func isImage(_ head: UnsafeRawBufferPointer) -> Bool { imageExtension(head) != nil }

    /// Types that are photos whatever their bytes.
    static let photoTypes: Set<String> = ["photo", "image", "picture"]
}
