/// A JSON value with one canonical byte encoding (RFC 8785, JCS, for the
/// value types we use: no floating-point numbers). Signed events and the
/// associated data that binds a stamp to its object are canonical JSON, so
/// the same value always produces the same bytes (SECURITY.md §13).
public enum JSONValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    /// A number with a fraction or an exponent, or outside Int64. Forms may
    /// hold them; casevault never signs one (events and stamps use integers).
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    /// The canonical UTF-8 bytes: no white space, object members sorted by
    /// the UTF-16 code units of their names, strings escaped minimally.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        append(to: &out)
        return out
    }

    public var canonicalString: String { String(decoding: canonicalBytes, as: UTF8.self) }

    /// Indented text for people to read and edit (members sorted, two
    /// spaces per level, one line feed at the end).
    public var prettyText: String { String(decoding: prettyBytes, as: UTF8.self) }

    /// `prettyText` as UTF-8, written into one buffer as it goes (an audit
    /// export's catalog files are tens of MiB: built from joined strings,
    /// level by level, they took half a second).
    public var prettyBytes: [UInt8] {
        var out: [UInt8] = []
        appendPretty(to: &out, indent: 0)
        out.append(0x0a)
        return out
    }

    private func appendPretty(to out: inout [UInt8], indent: Int) {
        func newLine(_ out: inout [UInt8], _ spaces: Int) {
            out.append(0x0a)
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: spaces))
        }
        switch self {
        case .array(let items) where !items.isEmpty:
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newLine(&out, indent + 2)
                item.appendPretty(to: &out, indent: indent + 2)
            }
            newLine(&out, indent)
            out.append(UInt8(ascii: "]"))
        case .object(let members) where !members.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newLine(&out, indent + 2)
                Self.appendCanonicalString(key, to: &out)
                out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
                members[key]!.appendPretty(to: &out, indent: indent + 2)
            }
            newLine(&out, indent)
            out.append(UInt8(ascii: "}"))
        default:
            append(to: &out)
        }
    }

    /// A double as text: integral values that fit Int64 without a fraction
    /// (as JavaScript prints them), anything else in Swift's shortest form.
    static func numberText(_ value: Double) -> String {
        if let integer = Int64(exactly: value) { return String(integer) }
        return "\(value)"
    }

    /// The same value with every number that is a whole Int64 as `.integer`,
    /// so that 1 and 1.0 encode alike (for uniqueness and comparison).
    var normalized: JSONValue {
        switch self {
        case .number(let value): Int64(exactly: value).map(JSONValue.integer) ?? self
        case .array(let items): .array(items.map(\.normalized))
        case .object(let members): .object(members.mapValues(\.normalized))
        default: self
        }
    }

    private func append(to out: inout [UInt8]) {
        switch self {
        case .string(let text): Self.appendCanonicalString(text, to: &out)
        case .integer(let value): out.append(contentsOf: Array(String(value).utf8))
        case .number(let value):
            out.append(contentsOf: Array(Self.numberText(value).utf8))
        case .bool(let value): out.append(contentsOf: Array((value ? "true" : "false").utf8))
        case .null: out.append(contentsOf: Array("null".utf8))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.append(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            // Sorted by UTF-16 code units (RFC 8785); for the ASCII names
            // casevault writes that is byte order, compared much faster.
            let names = members.keys.sorted { a, b in
                a.utf8.allSatisfy { $0 < 0x80 } && b.utf8.allSatisfy { $0 < 0x80 }
                    ? a.utf8.lexicographicallyPrecedes(b.utf8) : a.utf16.lexicographicallyPrecedes(b.utf16)
            }
            for (index, name) in names.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.appendCanonicalString(name, to: &out)
                out.append(UInt8(ascii: ":"))
                members[name]!.append(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func appendCanonicalString(_ text: String, to out: inout [UInt8]) {
        let hex = hexDigits
        out.append(UInt8(ascii: "\""))
        // Most strings need no escape: copy them whole, scanning the
        // contiguous UTF-8 (verify re-encodes every event and record).
        var text = text
        let plain = text.withUTF8 { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5c, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5c, 0x5c])
            case 0x08: out.append(contentsOf: [0x5c, UInt8(ascii: "b")])
            case 0x09: out.append(contentsOf: [0x5c, UInt8(ascii: "t")])
            case 0x0a: out.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case 0x0c: out.append(contentsOf: [0x5c, UInt8(ascii: "f")])
            case 0x0d: out.append(contentsOf: [0x5c, UInt8(ascii: "r")])
            case 0x00..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    // Accessors for reading decoded events.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var integerValue: Int64? { if case .integer(let i) = self { return i }; return nil }
    /// Either kind of number, as a Double.
    public var numberValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }
}

/// JSON that keeps the order of object members as written, for rendering a
/// form in the order its schema lists the fields.
public indirect enum OrderedJSON: Sendable {
    case object([(String, OrderedJSON)])
    case array([OrderedJSON])
    case scalar(JSONValue)

    public init(parsing bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { buffer in
            var parser = JSONParser(bytes: buffer)
            return try parser.parseOrderedDocument()
        }
    }

    /// The same value without member order.
    public var value: JSONValue {
        switch self {
        case .object(let members): .object(Dictionary(members.map { ($0.0, $0.1.value) }, uniquingKeysWith: { first, _ in first }))
        case .array(let items): .array(items.map(\.value))
        case .scalar(let value): value
        }
    }

    public subscript(key: String) -> OrderedJSON? {
        if case .object(let members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }
}

extension JSONValue {
    /// Parses any JSON text (RFC 8259). Duplicate member names are refused.
    public init(parsing bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try JSONValue(parsing: $0) }
    }

    /// Parses straight from a buffer (a form in wiped memory), without
    /// copying it whole into an ordinary array first. `exactNumbers`: a
    /// number the value cannot hold exactly as written is refused
    /// (`JSONParser.Imprecise`), so what is checked and shown is what the
    /// text says.
    public init(parsing buffer: UnsafeRawBufferPointer, exactNumbers: Bool = false) throws {
        var parser = JSONParser(bytes: buffer)
        parser.exactNumbers = exactNumbers
        self = try parser.parseDocument()
    }

    /// Parses at most `maximumValues` values (every object, array and
    /// scalar counts one): text from outside, whose tree would otherwise
    /// take some 20 times its size in memory (`[0,0,…]`: 2 bytes a value).
    init(parsing bytes: [UInt8], maximumValues: Int) throws {
        self = try bytes.withUnsafeBytes { buffer in
            var parser = JSONParser(bytes: buffer)
            parser.valuesLeft = maximumValues
            return try parser.parseDocument()
        }
    }
}

/// A small strict JSON parser (RFC 8259): UTF-8, depth-limited, duplicate
/// member names refused; integers that fit Int64 become `.integer`, other
/// numbers `.number`.
struct JSONParser {
    /// Valid only while the parser is in use (callers hold the buffer).
    let bytes: UnsafeRawBufferPointer
    var index = 0
    var depth = 0
    /// How many more values may be parsed.
    var valuesLeft = Int.max
    /// Refuse a number whose double is not the number written (see `isExact`).
    var exactNumbers = false

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    struct Failure: Error {}
    /// A number more precise than a double, or nearer zero than one can
    /// tell from zero (`exactNumbers`): `25.000000000000001`, `-1e-400`.
    struct Imprecise: Error {}

    /// Whether `value` is the number `text` (JSON number syntax) denotes,
    /// compared as decimals with Swift's shortest spelling of the double
    /// that reads back as it. `0.1` is exact in this sense (the double
    /// nearest 0.1 spells "0.1"); `25.000000000000001`, whose double spells
    /// "25.0", is not.
    static func isExact(_ text: String, _ value: Double) -> Bool {
        func decimal(_ spelled: String) -> (negative: Bool, digits: [UInt8], exponent: Int)? {
            var bytes = Array(spelled.utf8)
            let negative = bytes.first == UInt8(ascii: "-")
            if negative { bytes.removeFirst() }
            var exponent = 0
            if let e = bytes.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
                guard let power = Int(String(decoding: bytes[(e + 1)...].filter { $0 != UInt8(ascii: "+") }, as: UTF8.self)) else { return nil }
                exponent = power
                bytes.removeSubrange(e...)
            }
            let point = bytes.firstIndex(of: UInt8(ascii: ".")) ?? bytes.count
            exponent += point
            var digits = bytes.filter { $0 != UInt8(ascii: ".") }
            while digits.first == UInt8(ascii: "0") { digits.removeFirst(); exponent -= 1 }
            while digits.last == UInt8(ascii: "0") { digits.removeLast() }
            // Zero has one spelling whatever its sign and exponent.
            return digits.isEmpty ? (false, [], 0) : (negative, digits, exponent)
        }
        guard let written = decimal(text), let held = decimal("\(value)") else { return false }
        return written == held
    }

    mutating func parseDocument() throws -> JSONValue { try parseDocument(JSONValue.self) }

    mutating func parseOrderedDocument() throws -> OrderedJSON { try parseDocument(OrderedJSON.self) }

    mutating func parseDocument<Tree: ParsedJSON>(_: Tree.Type) throws -> Tree {
        let value: Tree = try parseTree()
        skipWhitespace()
        guard index == bytes.count else { throw Failure() }
        return value
    }

    /// One value, built as `Tree` directly (specialized per tree: signed
    /// events are parsed in bulk by `verify`, forms keep member order).
    mutating func parseTree<Tree: ParsedJSON>() throws -> Tree {
        valuesLeft -= 1
        guard valuesLeft >= 0 else { throw Failure() }
        skipWhitespace()
        guard index < bytes.count else { throw Failure() }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            depth += 1
            guard depth <= 64 else { throw Failure() }
            defer { depth -= 1 }
            index += 1
            var members = Tree.noMembers
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return Tree.makeObject(members) }
            while true {
                skipWhitespace()
                let name = try parseString()
                skipWhitespace()
                try expect(":")
                let value: Tree = try parseTree()
                guard Tree.add(name, value, to: &members) else { throw Failure() }  // duplicate name
                skipWhitespace()
                guard index < bytes.count else { throw Failure() }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                try expect("}")
                return Tree.makeObject(members)
            }
        case UInt8(ascii: "["):
            depth += 1
            guard depth <= 64 else { throw Failure() }
            defer { depth -= 1 }
            index += 1
            var items: [Tree] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return Tree.makeArray(items) }
            while true {
                items.append(try parseTree())
                skipWhitespace()
                guard index < bytes.count else { throw Failure() }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                try expect("]")
                return Tree.makeArray(items)
            }
        default:
            return Tree.makeScalar(try parseScalar())
        }
    }

    mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[index]) { index += 1 }
    }

    mutating func expect(_ literal: String) throws {
        let utf8 = Array(literal.utf8)
        guard index + utf8.count <= bytes.count, Array(bytes[index..<(index + utf8.count)]) == utf8 else { throw Failure() }
        index += utf8.count
    }

    mutating func parseScalar() throws -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw Failure() }
        switch bytes[index] {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default: return try parseNumber()
        }
    }

    mutating func parseNumber() throws -> JSONValue {
        let start = index
        func digits() -> Int {
            let from = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - from
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        guard digits() > 0 else { throw Failure() }
        if bytes[integerStart] == UInt8(ascii: "0") && index - integerStart > 1 { throw Failure() }  // no leading zeros
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw Failure() }
            isInteger = false
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw Failure() }
            isInteger = false
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let value = Int64(text) { return .integer(value) }
        guard let value = Double(text), value.isFinite else { throw Failure() }
        if exactNumbers, !Self.isExact(text, value) { throw Imprecise() }
        return .number(value)
    }

    mutating func parseString() throws -> String {
        try expect("\"")
        // Fast path: a string with no escape is its bytes, checked as UTF-8.
        var end = index
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self) else { throw Failure() }
            index = end + 1
            return text
        }
        var out: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return try Self.validUTF8(out)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw Failure() }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5c)
                case UInt8(ascii: "/"): out.append(0x2f)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800...0xDBFF).contains(code) {
                        // A high surrogate must be followed by an escaped low one.
                        try expect("\\u")
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw Failure() }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw Failure() }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw Failure()
                }
            case 0x00..<0x20: throw Failure()
            default: out.append(byte)
            }
        }
        throw Failure()
    }

    /// Strings must be valid UTF-8: a form whose bytes would be repaired
    /// into U+FFFD here would validate as text other than what is stored.
    static func validUTF8(_ bytes: [UInt8]) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Failure() }
        return text
    }

    mutating func parseHex4() throws -> UInt32 {
        // Exactly four hex digits: UInt32(_:radix:) alone would take "+041".
        guard index + 4 <= bytes.count, bytes[index..<(index + 4)].allSatisfy({ Self.hexDigits.contains($0) }),
              let code = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16) else { throw Failure() }
        index += 4
        return code
    }

    static let hexDigits = Set(Array("0123456789abcdefABCDEF".utf8))
}

/// What the parser builds: a tree with or without member order.
protocol ParsedJSON {
    associatedtype Members
    static var noMembers: Members { get }
    static func add(_ name: String, _ value: Self, to members: inout Members) -> Bool
    static func makeObject(_ members: Members) -> Self
    static func makeArray(_ items: [Self]) -> Self
    static func makeScalar(_ value: JSONValue) -> Self
}

extension JSONValue: ParsedJSON {
    typealias Members = [String: JSONValue]
    static var noMembers: Members { [:] }
    /// False for a name already there.
    static func add(_ name: String, _ value: JSONValue, to members: inout [String: JSONValue]) -> Bool {
        members.updateValue(value, forKey: name) == nil
    }
    static func makeObject(_ members: [String: JSONValue]) -> JSONValue { .object(members) }
    static func makeArray(_ items: [JSONValue]) -> JSONValue { .array(items) }
    static func makeScalar(_ value: JSONValue) -> JSONValue { value }
}

extension OrderedJSON: ParsedJSON {
    /// Members in order, with a set of their names: a hostile form with
    /// many members must not make duplicate detection quadratic.
    struct Members {
        var list: [(String, OrderedJSON)] = []
        var names = Set<String>()
    }
    static var noMembers: Members { Members() }
    static func add(_ name: String, _ value: OrderedJSON, to members: inout Members) -> Bool {
        guard members.names.insert(name).inserted else { return false }
        members.list.append((name, value))
        return true
    }
    static func makeObject(_ members: Members) -> OrderedJSON { .object(members.list) }
    static func makeArray(_ items: [OrderedJSON]) -> OrderedJSON { .array(items) }
    static func makeScalar(_ value: JSONValue) -> OrderedJSON { .scalar(value) }
}
