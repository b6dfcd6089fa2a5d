/// Codable ↔ `JSONValue`, so typed events and state records encode to the
/// canonical JSON that is signed and hashed (SECURITY.md §13) without a
/// detour through Foundation's JSON text.
///
/// Only the value types casevault signs are supported: strings, integers
/// (any width that fits Int64), booleans, null, arrays and objects. A
/// floating-point value is refused: canonical JSON of fractions is not
/// something two implementations agree on.
struct JSONValueEncoder {
    func encode(_ value: some Encodable) throws -> JSONValue {
        let node = EncodingNode()
        try value.encode(to: ValueEncoder(node: node, codingPath: []))
        return node.value
    }
}

/// Decodes from a `JSONValue`. Decoding is strict about types and missing
/// members; callers that need "exactly these members" re-encode and compare
/// bytes (see `Event.init(body:)`).
struct JSONValueDecoder {
    func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: ValueDecoder(value: value, codingPath: []))
    }
}

struct JSONCodingError: Error, CustomStringConvertible {
    let description: String
}

private final class EncodingNode {
    // Children are kept in properties of their own and mutated in place: an
    // enum payload would be copied on every member added.
    var scalar: JSONValue?
    var members: [String: EncodingNode]?
    var items: [EncodingNode]?

    var content: JSONValue {
        get { value }
        set { scalar = newValue; members = nil; items = nil }
    }

    var value: JSONValue {
        if let scalar { return scalar }
        if let members { return .object(members.mapValues(\.value)) }
        if let items { return .array(items.map(\.value)) }
        return .object([:])
    }

    func makeObject() { if members == nil { scalar = nil; items = nil; members = [:] } }
    func makeArray() { if items == nil { scalar = nil; members = nil; items = [] } }

    func child(for key: String) -> EncodingNode {
        makeObject()
        let node = EncodingNode()
        members![key] = node
        return node
    }

    func appendChild() -> EncodingNode {
        makeArray()
        let node = EncodingNode()
        items!.append(node)
        return node
    }
}

private func integer<T: BinaryInteger>(_ value: T, at path: [any CodingKey]) throws -> JSONValue {
    guard let exact = Int64(exactly: value) else {
        throw JSONCodingError(description: "integer \(value) at \(path.map(\.stringValue)) does not fit in 64 bits")
    }
    return .integer(exact)
}

private struct ValueEncoder: Encoder {
    let node: EncodingNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(KeyedEncoder<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return UnkeyedEncoder(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleEncoder(node: node, codingPath: codingPath)
    }
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodingNode
    let codingPath: [any CodingKey]

    private func set(_ value: JSONValue, _ key: Key) { node.child(for: key.stringValue).content = value }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { throw refusal(key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { throw refusal(key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(try integer(value, at: codingPath + [key]), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(try integer(value, at: codingPath + [key]), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(try integer(value, at: codingPath + [key]), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(try integer(value, at: codingPath + [key]), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(try integer(value, at: codingPath + [key]), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(try integer(value, at: codingPath + [key]), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(try integer(value, at: codingPath + [key]), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(try integer(value, at: codingPath + [key]), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(try integer(value, at: codingPath + [key]), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        if let json = value as? JSONValue { return set(json, key) }
        try value.encode(to: ValueEncoder(node: node.child(for: key.stringValue), codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type,
                                                        forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        ValueEncoder(node: node.child(for: key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        ValueEncoder(node: node.child(for: key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { ValueEncoder(node: node.child(for: "super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoder(node: node.child(for: key.stringValue), codingPath: codingPath + [key])
    }

    private func refusal(_ key: Key) -> JSONCodingError {
        JSONCodingError(description: "floating-point value at \((codingPath + [key]).map(\.stringValue)) is not canonical")
    }
}

private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let node: EncodingNode
    let codingPath: [any CodingKey]
    var count: Int { node.items?.count ?? 0 }

    private func next() -> EncodingNode { node.appendChild() }
    private var path: [any CodingKey] { codingPath + [IndexKey(count)] }

    mutating func encodeNil() throws { next().content = .null }
    mutating func encode(_ value: Bool) throws { next().content = .bool(value) }
    mutating func encode(_ value: String) throws { next().content = .string(value) }
    mutating func encode(_ value: Double) throws { throw JSONCodingError(description: "floating-point value is not canonical") }
    mutating func encode(_ value: Float) throws { throw JSONCodingError(description: "floating-point value is not canonical") }
    mutating func encode(_ value: Int) throws { let v = try integer(value, at: path); next().content = v }
    mutating func encode(_ value: Int8) throws { let v = try integer(value, at: path); next().content = v }
    mutating func encode(_ value: Int16) throws { let v = try integer(value, at: path); next().content = v }
    mutating func encode(_ value: Int32) throws { let v = try integer(value, at: path); next().content = v }
    mutating func encode(_ value: Int64) throws { next().content = .integer(value) }
    mutating func encode(_ value: UInt) throws { let v = try integer(value, at: path); next().content = v }
    mutating func encode(_ value: UInt8) throws { let v = try integer(value, at: path); next().content = v }
    mutating func encode(_ value: UInt16) throws { let v = try integer(value, at: path); next().content = v }
    mutating func encode(_ value: UInt32) throws { let v = try integer(value, at: path); next().content = v }
    mutating func encode(_ value: UInt64) throws { let v = try integer(value, at: path); next().content = v }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = self.path
        let child = next()
        if let json = value as? JSONValue { child.content = json; return }
        try value.encode(to: ValueEncoder(node: child, codingPath: path))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = self.path
        return ValueEncoder(node: next(), codingPath: path).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = self.path
        return ValueEncoder(node: next(), codingPath: path).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let path = self.path
        return ValueEncoder(node: next(), codingPath: path)
    }
}

private struct SingleEncoder: SingleValueEncodingContainer {
    let node: EncodingNode
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.content = .null }
    mutating func encode(_ value: Bool) throws { node.content = .bool(value) }
    mutating func encode(_ value: String) throws { node.content = .string(value) }
    mutating func encode(_ value: Double) throws { throw JSONCodingError(description: "floating-point value is not canonical") }
    mutating func encode(_ value: Float) throws { throw JSONCodingError(description: "floating-point value is not canonical") }
    mutating func encode(_ value: Int) throws { node.content = try integer(value, at: codingPath) }
    mutating func encode(_ value: Int8) throws { node.content = try integer(value, at: codingPath) }
    mutating func encode(_ value: Int16) throws { node.content = try integer(value, at: codingPath) }
    mutating func encode(_ value: Int32) throws { node.content = try integer(value, at: codingPath) }
    mutating func encode(_ value: Int64) throws { node.content = .integer(value) }
    mutating func encode(_ value: UInt) throws { node.content = try integer(value, at: codingPath) }
    mutating func encode(_ value: UInt8) throws { node.content = try integer(value, at: codingPath) }
    mutating func encode(_ value: UInt16) throws { node.content = try integer(value, at: codingPath) }
    mutating func encode(_ value: UInt32) throws { node.content = try integer(value, at: codingPath) }
    mutating func encode(_ value: UInt64) throws { node.content = try integer(value, at: codingPath) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        if let json = value as? JSONValue { node.content = json; return }
        try value.encode(to: ValueEncoder(node: node, codingPath: codingPath))
    }
}

// MARK: - Decoding

private func mismatch(_ expected: String, _ value: JSONValue, _ path: [any CodingKey]) -> DecodingError {
    .typeMismatch(Any.self, .init(codingPath: path, debugDescription: "expected \(expected), found \(value.canonicalString)"))
}

private func decodeInteger<T: FixedWidthInteger>(_ value: JSONValue, _ path: [any CodingKey]) throws -> T {
    guard case .integer(let number) = value, let exact = T(exactly: number) else { throw mismatch("\(T.self)", value, path) }
    return exact
}

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch("an object", value, codingPath) }
        return KeyedDecodingContainer(KeyedDecoder<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch("an array", value, codingPath) }
        return UnkeyedDecoder(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleDecoder(value: value, codingPath: codingPath)
    }
}

private struct KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.keys.compactMap(Key.init(stringValue:)) }
    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func member(_ key: Key) throws -> JSONValue {
        guard let value = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing member \(key.stringValue)"))
        }
        return value
    }

    private func decoder(_ key: Key) throws -> ValueDecoder { ValueDecoder(value: try member(key), codingPath: codingPath + [key]) }

    func decodeNil(forKey key: Key) throws -> Bool { try member(key) == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try SingleDecoder(value: try member(key), codingPath: codingPath + [key]).decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try SingleDecoder(value: try member(key), codingPath: codingPath + [key]).decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { throw mismatch("no floating point", try member(key), codingPath + [key]) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { throw mismatch("no floating point", try member(key), codingPath + [key]) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decodeInteger(try member(key), codingPath + [key]) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decodeInteger(try member(key), codingPath + [key]) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decodeInteger(try member(key), codingPath + [key]) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decodeInteger(try member(key), codingPath + [key]) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decodeInteger(try member(key), codingPath + [key]) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decodeInteger(try member(key), codingPath + [key]) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decodeInteger(try member(key), codingPath + [key]) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decodeInteger(try member(key), codingPath + [key]) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decodeInteger(try member(key), codingPath + [key]) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decodeInteger(try member(key), codingPath + [key]) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        if type == JSONValue.self { return try member(key) as! T }
        return try T(from: try decoder(key))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { ValueDecoder(value: .object(members), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try decoder(key) }
}

private struct UnkeyedDecoder: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> ValueDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "array ends early"))
        }
        defer { currentIndex += 1 }
        return ValueDecoder(value: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if items[currentIndex] == .null { currentIndex += 1; return true }
        return false
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().singleValueContainer().decode(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().singleValueContainer().decode(type) }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = try next()
        if type == JSONValue.self { return decoder.value as! T }
        return try T(from: decoder)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct SingleDecoder: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { value == .null }
    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let flag) = value else { throw mismatch("a boolean", value, codingPath) }
        return flag
    }
    func decode(_ type: String.Type) throws -> String {
        guard case .string(let text) = value else { throw mismatch("a string", value, codingPath) }
        return text
    }
    func decode(_ type: Double.Type) throws -> Double { throw mismatch("no floating point", value, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { throw mismatch("no floating point", value, codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try decodeInteger(value, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decodeInteger(value, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodeInteger(value, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodeInteger(value, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodeInteger(value, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try decodeInteger(value, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeInteger(value, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeInteger(value, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeInteger(value, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeInteger(value, codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if type == JSONValue.self { return value as! T }
        return try T(from: ValueDecoder(value: value, codingPath: codingPath))
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        // Only reached through other decoders; ours hands JSONValue over whole.
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "JSONValue decodes only with casevault's JSONValueDecoder"))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self)
    }
}
