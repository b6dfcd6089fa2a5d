internal import Foundation

/// The `format` values casevault asserts (RFC 3339 dates and times, RFC 5321
/// mailboxes). Unknown formats are annotations only: `check` returns nil.
enum Formats {
    static func check(_ format: String, _ text: String) -> Bool? {
        switch format {
        case "date": isDate(text)
        case "date-time": isDateTime(text)
        case "email": isEmail(text)
        default: nil
        }
    }

    private static func number(_ text: Substring, digits: Int) -> Int? {
        guard text.count == digits, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    /// RFC 3339 full-date: YYYY-MM-DD, a real calendar day.
    static func isDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let year = number(parts[0], digits: 4), let month = number(parts[1], digits: 2),
              let day = number(parts[2], digits: 2), (1...12).contains(month) else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }

    /// RFC 3339 date-time: full-date "T" hh:mm:ss[.frac] (Z | ±hh:mm). A
    /// leap second (:60) is allowed only where it falls at 23:59 UTC.
    static func isDateTime(_ text: String) -> Bool {
        guard let t = text.firstIndex(where: { $0 == "T" || $0 == "t" }) else { return false }
        guard isDate(String(text[..<t])) else { return false }
        var time = text[text.index(after: t)...]
        var offsetMinutes = 0
        if time.last == "Z" || time.last == "z" {
            time = time.dropLast()
        } else {
            guard time.count > 6 else { return false }
            let offset = time.suffix(6)
            guard let sign = offset.first, sign == "+" || sign == "-", offset.dropFirst(3).first == ":",
                  let oh = number(offset.dropFirst().prefix(2), digits: 2), let om = number(offset.suffix(2), digits: 2),
                  oh <= 23, om <= 59 else { return false }
            offsetMinutes = (oh * 60 + om) * (sign == "+" ? 1 : -1)
            time = time.dropLast(6)
        }
        var main = time
        if let dot = time.firstIndex(of: ".") {
            let fraction = time[time.index(after: dot)...]
            guard !fraction.isEmpty, fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            main = time[..<dot]
        }
        let hms = main.split(separator: ":", omittingEmptySubsequences: false)
        guard hms.count == 3, let h = number(hms[0], digits: 2), let m = number(hms[1], digits: 2),
              let s = number(hms[2], digits: 2), h <= 23, m <= 59, s <= 60 else { return false }
        if s == 60 {
            let utc = ((h * 60 + m - offsetMinutes) % 1440 + 1440) % 1440
            return utc == 23 * 60 + 59
        }
        return true
    }

    /// RFC 5321 Mailbox, as the JSON Schema format "email": a dot-atom or
    /// quoted local part, "@", and a domain name or an address literal.
    static func isEmail(_ text: String) -> Bool {
        guard let at = text.lastIndex(of: "@") else { return false }
        let local = text[..<at], domain = text[text.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty, local.utf8.count <= 64 else { return false }
        let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~")
        if local.hasPrefix("\""), local.hasSuffix("\""), local.count >= 2 {
            // Quoted string (RFC 5321 §4.1.2): qtextSMTP is printable ASCII but
            // `"` and `\`, which a quoted-pair (`\` then printable ASCII) escapes.
            // Nothing else: not a line feed, which a rendered form would show as a line of its own.
            var scalars = local.dropFirst().dropLast().unicodeScalars.makeIterator()
            while let scalar = scalars.next() {
                if scalar == "\\" {
                    guard let escaped = scalars.next(), (32...126).contains(escaped.value) else { return false }
                } else if !(32...126).contains(scalar.value) || scalar == "\"" {
                    return false
                }
            }
        } else {
            let atoms = local.split(separator: ".", omittingEmptySubsequences: false)
            guard atoms.allSatisfy({ !$0.isEmpty && $0.allSatisfy { atext.contains($0) } }) else { return false }
        }
        if domain.hasPrefix("["), domain.hasSuffix("]") {
            let literal = domain.dropFirst().dropLast()
            if literal.lowercased().hasPrefix("ipv6:") { return isIPv6(literal.dropFirst(5)) }
            return isIPv4(literal)
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        let letters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.allSatisfy { letters.contains($0) } && !label.hasPrefix("-") && !label.hasSuffix("-")
        }
    }

    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber }
                && (part.count == 1 || part.first != "0") && (Int(part) ?? 256) <= 255
        }
    }

    static func isIPv6(_ text: Substring) -> Bool {
        let hex = Set("0123456789abcdefABCDEF")
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        let groups = halves.flatMap { $0.isEmpty ? [] : $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        guard groups.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy { hex.contains($0) } }) else { return false }
        return halves.count == 2 ? groups.count <= 7 : groups.count == 8
    }
}
