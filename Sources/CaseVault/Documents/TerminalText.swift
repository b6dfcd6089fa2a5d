/// Text from case content made safe to print: C0 and C1 control characters
/// (escape sequences, carriage returns) and the bidirectional overrides are
/// shown as \u{…} escapes, so a form cannot move the cursor, rewrite the
/// stamped header above it, or reorder what the reader sees.
public enum TerminalText {
    /// True when bytes are not plain text for a terminal: a NUL, ESC or
    /// another C0 control but tab, line feed, carriage return and form
    /// feed; DEL; a C1 control; or not UTF-8 (a sequence cut at the end is allowed: the
    /// bytes may be the first chunk of more).
    /// With `continuing`, the bytes follow an earlier chunk and may begin
    /// inside a character that chunk cut.
    public static func looksBinary(_ bytes: UnsafeRawBufferPointer, continuing: Bool = false) -> Bool {
        if bytes.contains(where: { ($0 < 0x20 && ![0x09, 0x0a, 0x0c, 0x0d].contains($0)) || $0 == 0x7f }) { return true }
        var start = 0
        while continuing, start < min(3, bytes.count), bytes[start] & 0xc0 == 0x80 { start += 1 }
        // Drop up to three trailing bytes of a sequence the chunk cut.
        var end = bytes.count
        var back = 0
        while back < 3, end - back - 1 >= 0, bytes[end - back - 1] & 0xc0 == 0x80 { back += 1 }
        if end - back - 1 >= 0, bytes[end - back - 1] >= 0xc0 {
            let lead = bytes[end - back - 1]
            let length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2
            if back + 1 < length { end -= back + 1 }
        }
        guard start <= end, let text = String(validating: bytes[start..<end], as: UTF8.self) else { return true }
        // C1 controls (U+0080–U+009F): some terminals act on U+009B as on ESC [.
        return text.unicodeScalars.contains { (0x80...0x9f).contains($0.value) }
    }

    /// Characters that show as nothing, or as a break, and so let one name
    /// pass for another or a value for two lines: the soft hyphen, the
    /// Arabic letter mark, the Hangul fillers, the zero-width space, the
    /// left-to-right and right-to-left marks, the line and paragraph
    /// separators, the word joiner and invisible operators, the byte order
    /// mark. Not the zero-width non-joiner and joiner (U+200C, U+200D),
    /// which Persian, Dari and Pashto writing needs.
    static let invisible: Set<UInt32> = [0x00ad, 0x061c, 0x115f, 0x1160, 0x180e, 0x200b, 0x200e, 0x200f, 0x2028, 0x2029,
                                         0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x3164, 0xfeff, 0xffa0]

    public static func escape(_ text: String, keepingNewlines: Bool = false) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            let v = scalar.value
            let unsafe = v < 0x20 || (0x7f...0x9f).contains(v) || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v)
                || invisible.contains(v)
            if unsafe && !(keepingNewlines && v == 0x0a) {
                out += "\\u{" + String(v, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
