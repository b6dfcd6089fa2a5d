/// Text from case content made safe to print: C0 and C1 control characters
/// (escape sequences, carriage returns) and the bidirectional overrides are
/// shown as \u{…} escapes, so a form cannot move the cursor, rewrite the
/// stamped header above it, or reorder what the reader sees.
public enum TerminalText {
    public static func escape(_ text: String, keepingNewlines: Bool = false) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            let v = scalar.value
            let unsafe = v < 0x20 || (0x7f...0x9f).contains(v) || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v)
            if unsafe && !(keepingNewlines && v == 0x0a) {
                out += "\\u{" + String(v, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
