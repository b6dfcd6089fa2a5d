internal import Foundation

/// One reason an instance does not satisfy a schema, located by an RFC 6901
/// JSON Pointer into the instance.
///
/// `message` never holds form content (errors carry no content: style rule
/// 4). The offending value, when there is one, is kept apart in `value`,
/// shortened and with control characters escaped, for showing only to the
/// person who submitted the form (the CLI prints it to their terminal).
public struct SchemaViolation: Equatable, Sendable, CustomStringConvertible {
    /// RFC 6901 pointer, "" for the whole document.
    public let pointer: String
    public let message: String
    /// The offending value as shown to the submitter, e.g. `"2024-13-01"`.
    public let value: String?

    public init(pointer: String, message: String, value: String? = nil) {
        self.pointer = pointer
        self.message = message
        self.value = value
    }

    /// `/goals/0/dueDate: "2024-13-01" is not a date`
    public var description: String {
        (pointer.isEmpty ? "(document)" : pointer) + ": " + (value.map { $0 + " " } ?? "") + message
    }
}

/// A JSON Schema (draft 2020-12) validator for the keywords casevault's
/// form schemas use, proved against the JSON-Schema-Test-Suite (README
/// lists supported and unsupported keywords).
///
/// Supported: type, enum, const; properties, required, additionalProperties,
/// patternProperties, propertyNames, minProperties, maxProperties,
/// dependentRequired, dependentSchemas; items, prefixItems, contains,
/// minContains, maxContains, minItems, maxItems, uniqueItems; minLength,
/// maxLength, pattern, format (date, date-time, email; asserted when
/// `assertFormats`); minimum, maximum, exclusiveMinimum, exclusiveMaximum,
/// multipleOf; allOf, anyOf, oneOf, not, if/then/else; $ref to a JSON
/// Pointer within the same document ("#", "#/$defs/…"); $defs; boolean
/// schemas. Annotations (title, description, default, examples, $comment,
/// content*) are ignored.
///
/// Not supported, and refused when a schema uses them: $id-relative and
/// remote $ref, $anchor, $dynamicRef, $dynamicAnchor, unevaluatedProperties,
/// unevaluatedItems, $vocabulary.
public struct SchemaValidator: Sendable {
    public let schema: JSONValue
    public let assertFormats: Bool

    /// Keywords whose presence makes a schema unusable here.
    public static let unsupportedKeywords: Set<String> = [
        "$anchor", "$dynamicRef", "$dynamicAnchor", "unevaluatedProperties", "unevaluatedItems", "$vocabulary", "$recursiveRef",
    ]

    /// `checkingKeywords`: also refuse keyword values of the wrong kind
    /// (`checkKeywords`), for a schema added now; one a vault already holds
    /// was accepted under the rules of its day, and its forms must still read.
    public init(schema: JSONValue, assertFormats: Bool = true, checkingKeywords: Bool = true) throws {
        self.schema = schema
        self.assertFormats = assertFormats
        if let problem = Self.unsupportedFeature(in: schema, isRoot: true) {
            throw VaultError.invalidInput("the schema uses \(problem), which casevault's validator does not support")
        }
        try Self.checkStructure(schema)
        if checkingKeywords { try Self.checkKeywords(schema, at: "") }
    }

    /// Refuses a keyword whose value is not of the kind draft 2020-12 gives
    /// it (`"required": "name"`, `"maxLength": "3"`, `"exclusiveMaximum":
    /// true`), and the draft-7 keywords 2020-12 replaced (`additionalItems`,
    /// `dependencies`, `items` as an array): each would otherwise assert
    /// nothing, and a form the schema's author meant to refuse would pass.
    /// Walks the schema by its keywords, so a property named `required`
    /// is a name, not a keyword. Unknown keywords are annotations.
    static func checkKeywords(_ node: JSONValue, at pointer: String) throws {
        let here = pointer.isEmpty ? "#" : pointer
        guard case .object(let members) = node else {
            if case .bool = node { return }
            throw VaultError.invalidInput("the schema at \(here) is not a schema (an object, true or false)")
        }
        func refuse(_ key: String, _ what: String) -> VaultError {
            .invalidInput("the schema's \(key) at \(here) \(what)")
        }
        func strings(_ value: JSONValue) -> [String]? {
            guard case .array(let items) = value else { return nil }
            let texts = items.compactMap(\.stringValue)
            return texts.count == items.count && Set(texts).count == texts.count ? texts : nil
        }
        let types: Set<String> = ["null", "boolean", "object", "array", "number", "integer", "string"]
        let knownFormats: Set<String> = ["date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
                                         "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
                                         "json-pointer", "relative-json-pointer", "regex"]
        for (key, value) in members.sorted(by: { $0.key < $1.key }) {
            let inner = pointer + "/" + Context.escapePointerToken(key)
            switch key {
            case "required":
                guard strings(value) != nil else { throw refuse(key, "is not an array of distinct strings") }
            case "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains", "maxContains":
                guard let count = value.numberValue, count >= 0, count.rounded() == count else { throw refuse(key, "is not a whole number of at least 0") }
            case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
                guard value.numberValue != nil else { throw refuse(key, "is not a number (draft 2020-12; a boolean was draft 4's)") }
            case "multipleOf":
                guard let divisor = value.numberValue, divisor > 0 else { throw refuse(key, "is not a number above 0") }
            case "type":
                if let name = value.stringValue, types.contains(name) { break }
                guard let names = strings(value), names.allSatisfy(types.contains) else { throw refuse(key, "names no JSON type, or not each once") }
            case "enum":
                guard case .array = value else { throw refuse(key, "is not an array") }
            case "format":
                guard let name = value.stringValue, knownFormats.contains(name) else {
                    throw refuse(key, "is not a format draft 2020-12 defines (casevault checks date, date-time and email): a misspelt one would check nothing")
                }
            case "pattern", "$ref", "$schema", "$id", "$comment", "title", "description":
                guard value.stringValue != nil else { throw refuse(key, "is not a string") }
            case "uniqueItems":
                guard case .bool = value else { throw refuse(key, "is not true or false") }
            case "items", "contains", "not", "if", "then", "else", "additionalProperties", "propertyNames":
                if key == "items", case .array = value { throw refuse(key, "is an array, as in draft 7: draft 2020-12 says prefixItems") }
                try checkKeywords(value, at: inner)
            case "allOf", "anyOf", "oneOf", "prefixItems":
                guard case .array(let items) = value else { throw refuse(key, "is not an array of schemas") }
                for (index, item) in items.enumerated() { try checkKeywords(item, at: inner + "/\(index)") }
            case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
                guard case .object(let schemas) = value else { throw refuse(key, "is not an object of schemas") }
                for (name, schema) in schemas { try checkKeywords(schema, at: inner + "/" + Context.escapePointerToken(name)) }
            case "dependentRequired":
                guard case .object(let lists) = value, lists.values.allSatisfy({ strings($0) != nil }) else {
                    throw refuse(key, "is not an object of arrays of distinct strings")
                }
            case "additionalItems", "dependencies":
                throw refuse(key, "is a draft-7 keyword: draft 2020-12 says prefixItems and items, dependentRequired and dependentSchemas")
            default:
                continue
            }
        }
    }

    /// Refuses, when the schema is loaded rather than when a form is filed:
    /// patterns that do not compile, `$ref`s that point nowhere, and `$ref`
    /// cycles that apply a schema to the same place in the form again
    /// (which would make validation loop or explode).
    static func checkStructure(_ root: JSONValue) throws {
        let context = Context(root: root, assertFormats: false, limits: Limits())
        // Every object in the document that sits where a schema may, by pointer
        // (values of enum, const, default and examples are data).
        var schemas: [String: JSONValue] = [:]
        func collect(_ node: JSONValue, at pointer: String) {
            switch node {
            case .object(let members):
                schemas[pointer] = node
                for (key, value) in members where !["enum", "const", "default", "examples"].contains(key) {
                    collect(value, at: pointer + "/" + Context.escapePointerToken(key))
                }
            case .array(let items):
                for (index, item) in items.enumerated() { collect(item, at: pointer + "/\(index)") }
            default: break
            }
        }
        collect(root, at: "")
        // Edges between schemas that apply to the same place in the form.
        func inPlace(_ pointer: String) -> [String] {
            guard let node = schemas[pointer] else { return [] }
            var next: [String] = []
            for key in ["allOf", "anyOf", "oneOf"] {
                if case .array(let items)? = node[key] { next += items.indices.map { pointer + "/\(key)/\($0)" } }
            }
            for key in ["not", "if", "then", "else"] where node[key] != nil { next.append(pointer + "/" + key) }
            if case .object(let members)? = node["dependentSchemas"] { next += members.keys.map { pointer + "/dependentSchemas/" + $0 } }
            if let ref = node["$ref"]?.stringValue, ref.hasPrefix("#") {
                let target = String(ref.dropFirst()).removingPercentEncoding ?? String(ref.dropFirst())
                next.append(target)
            }
            return next
        }
        for (pointer, node) in schemas {
            if let ref = node["$ref"]?.stringValue, context.resolve(ref) == nil {
                throw VaultError.invalidInput("the schema's $ref \(ref) points nowhere")
            }
            var patterns = [node["pattern"]?.stringValue].compactMap { $0 }
            if case .object(let p)? = node["patternProperties"] { patterns += p.keys }
            for pattern in patterns where SchemaValidator.regex(pattern) == nil {
                throw VaultError.invalidInput("the schema's pattern \(pattern) at \(pointer.isEmpty ? "#" : pointer) is not a valid regular expression")
            }
        }
        // Depth-first search for a cycle of in-place edges (white/grey/black).
        var state: [String: Bool] = [:]  // false: on the stack; true: done
        func visit(_ pointer: String) throws {
            if let done = state[pointer] {
                if !done { throw VaultError.invalidInput("the schema's $ref at \(pointer.isEmpty ? "#" : pointer) loops back without going deeper into the form") }
                return
            }
            state[pointer] = false
            for next in inPlace(pointer) { try visit(next) }
            state[pointer] = true
        }
        for pointer in schemas.keys.sorted() { try visit(pointer) }
    }

    /// The first unsupported feature found, or nil.
    public static func unsupportedFeature(in schema: JSONValue, isRoot: Bool = true) -> String? {
        switch schema {
        case .object(let members):
            for (key, value) in members {
                if unsupportedKeywords.contains(key) { return key }
                if key == "$id", !isRoot { return "a nested $id" }
                if key == "$ref", let ref = value.stringValue, !ref.hasPrefix("#") { return "a $ref that is not within the document (\(ref))" }
                if key == "$ref", let ref = value.stringValue, ref.hasPrefix("#"), ref.count > 1, !ref.hasPrefix("#/") {
                    return "an anchor $ref (\(ref))"
                }
                // Values of these keywords are data, not schemas.
                if ["enum", "const", "default", "examples"].contains(key) { continue }
                if let problem = unsupportedFeature(in: value, isRoot: false) { return problem }
            }
            return nil
        case .array(let items):
            for item in items { if let problem = unsupportedFeature(in: item, isRoot: false) { return problem } }
            return nil
        default:
            return nil
        }
    }

    /// Every violation, in document order of the instance where it can be.
    public func validate(_ instance: JSONValue) -> [SchemaViolation] {
        var context = Context(root: schema, assertFormats: assertFormats, limits: Limits())
        context.check(schema, instance, at: [])
        // What could not be checked is never a pass, whatever `not` or
        // `anyOf` would have made of it in the scratch context it met.
        if let why = context.limits.unchecked {
            return [SchemaViolation(pointer: why.pointer, message: "cannot be checked: \(why.message)", value: nil)]
        }
        return context.violations
    }

    /// The most a form makes the validator do (`check` calls): a schema
    /// whose `oneOf` recurses would otherwise take time exponential in how
    /// deep a form nests. Forms of the shipped schemas take a few thousand.
    static let maximumSteps = 2_000_000

    /// The longest string a `pattern` is run on, in UTF-16 units. Past some
    /// length ICU's backtracking stack runs out, and NSRegularExpression
    /// then reports "no match" rather than an error, which `not` would turn
    /// into a pass.
    static let maximumPatternInput = 10_000

    public func isValid(_ instance: JSONValue) -> Bool {
        validate(instance).isEmpty
    }
}

/// Shared by a validation's every context, scratch ones included.
private final class Limits {
    var steps = 0
    /// Set once something cannot be checked; the form then fails whatever the rest says.
    var unchecked: (pointer: String, message: String)?
}

private struct Context {
    let root: JSONValue
    let assertFormats: Bool
    let limits: Limits
    var violations: [SchemaViolation] = []
    var depth = 0
    /// A scratch context (`passes`) only asks whether anything fails: it
    /// builds no messages, and stops at the first failure.
    var quiet = false
    var failed = false

    init(root: JSONValue, assertFormats: Bool, limits: Limits) {
        self.root = root
        self.assertFormats = assertFormats
        self.limits = limits
    }

    /// Records that the form cannot be checked (the first reason stays).
    func cannotCheck(_ path: [String], _ message: String) {
        if limits.unchecked == nil {
            limits.unchecked = (path.map { "/" + Self.escapePointerToken($0) }.joined(), message)
        }
    }

    /// A pattern's verdict, or nil (recorded) when the text is too long to run it on safely.
    func matches(_ regex: NSRegularExpression, _ text: String, at path: [String]) -> Bool? {
        guard text.utf16.count <= SchemaValidator.maximumPatternInput else {
            cannotCheck(path, "a pattern applies to a text of more than \(SchemaValidator.maximumPatternInput) characters")
            return nil
        }
        guard let verdict = SchemaValidator.matches(regex, text) else {
            cannotCheck(path, "the pattern's matcher gave up on it (ICU ran out of backtracking stack)")
            return nil
        }
        return verdict
    }

    mutating func fail(_ path: [String], _ message: @autoclosure () -> String, value: @autoclosure () -> JSONValue? = nil) {
        failed = true
        // A hostile form could produce millions; the first thousand say enough.
        guard !quiet, violations.count < 1_000 else { return }
        violations.append(SchemaViolation(pointer: path.map { "/" + Self.escapePointerToken($0) }.joined(),
                                          message: message(), value: value().map(Self.quote)))
    }

    /// RFC 6901: `~` as `~0`, `/` as `~1`.
    static func escapePointerToken(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        return token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// Runs a subschema in a scratch context: for anyOf, oneOf, not, if,
    /// contains, where a failure is information rather than a violation.
    func passes(_ schema: JSONValue, _ instance: JSONValue, at path: [String]) -> Bool {
        var scratch = Context(root: root, assertFormats: assertFormats, limits: limits)
        scratch.depth = depth
        scratch.quiet = true
        scratch.check(schema, instance, at: path)
        return !scratch.failed
    }

    mutating func check(_ schema: JSONValue, _ instance: JSONValue, at path: [String]) {
        if quiet && failed { return }
        if limits.unchecked != nil { return }
        limits.steps += 1
        guard limits.steps <= SchemaValidator.maximumSteps else {
            cannotCheck(path, "it makes the schema's checks take more than \(SchemaValidator.maximumSteps) steps")
            return
        }
        switch schema {
        case .bool(true): return
        case .bool(false):
            fail(path, "is not allowed here")
            return
        case .object: break
        default: return  // not a schema: nothing to assert
        }
        depth += 1
        defer { depth -= 1 }
        guard depth < 256 else {
            fail(path, "the schema refers to itself without end")
            return
        }

        if let ref = schema["$ref"]?.stringValue {
            if let target = resolve(ref) {
                check(target, instance, at: path)
            } else {
                fail(path, "the schema's $ref \(ref) points nowhere")
            }
        }
        checkGeneric(schema, instance, at: path)
        switch instance {
        case .object(let members): checkObject(schema, members, at: path)
        case .array(let items): checkArray(schema, items, at: path)
        case .string(let text): checkString(schema, text, at: path)
        case .integer, .number: checkNumber(schema, instance, at: path)
        default: break
        }
        checkCombinators(schema, instance, at: path)
    }

    func resolve(_ ref: String) -> JSONValue? {
        guard ref.hasPrefix("#") else { return nil }
        let fragment = String(ref.dropFirst())
        let pointer = fragment.utf8.contains(UInt8(ascii: "%")) ? fragment.removingPercentEncoding ?? fragment : fragment
        if pointer.isEmpty { return root }
        guard pointer.hasPrefix("/") else { return nil }
        var node = root
        for token in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let key = token.utf8.contains(UInt8(ascii: "~"))
                ? token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~") : String(token)
            switch node {
            case .object(let members):
                guard let next = members[key] else { return nil }
                node = next
            case .array(let items):
                guard let index = Int(key), items.indices.contains(index) else { return nil }
                node = items[index]
            default:
                return nil
            }
        }
        return node
    }

    mutating func checkGeneric(_ schema: JSONValue, _ instance: JSONValue, at path: [String]) {
        if let type = schema["type"] {
            let allowed: [String] = switch type {
            case .string(let one): [one]
            case .array(let many): many.compactMap(\.stringValue)
            default: []
            }
            if !allowed.contains(where: { Self.instance(instance, isOfType: $0) }) {
                fail(path, "is \(Self.typeName(instance)), not \(allowed.joined(separator: " or "))", value: instance)
            }
        }
        if let options = schema["enum"], case .array(let values) = options {
            if !values.contains(where: { Self.equal($0, instance) }) {
                fail(path, "is not one of \(values.map(Self.quote).joined(separator: ", "))", value: instance)
            }
        }
        if let constant = schema["const"], !Self.equal(constant, instance) {
            fail(path, "is not \(Self.quote(constant))", value: instance)
        }
    }

    mutating func checkObject(_ schema: JSONValue, _ members: [String: JSONValue], at path: [String]) {
        let keys = members.keys.sorted()
        if case .array(let required)? = schema["required"] {
            for name in required.compactMap(\.stringValue) where members[name] == nil {
                fail(path + [name], "is required but missing")
            }
        }
        if case .object(let dependent)? = schema["dependentRequired"] {
            for (trigger, needed) in dependent where members[trigger] != nil {
                if case .array(let names) = needed {
                    for name in names.compactMap(\.stringValue) where members[name] == nil {
                        fail(path + [name], "is required when \(trigger) is present")
                    }
                }
            }
        }
        if let minimum = schema["minProperties"]?.numberValue, Double(members.count) < minimum {
            fail(path, "has \(members.count) members, fewer than \(Self.number(minimum))")
        }
        if let maximum = schema["maxProperties"]?.numberValue, Double(members.count) > maximum {
            fail(path, "has \(members.count) members, more than \(Self.number(maximum))")
        }
        let properties: [String: JSONValue]
        if case .object(let p)? = schema["properties"] { properties = p } else { properties = [:] }
        var patterns: [(NSRegularExpression, JSONValue)] = []
        if case .object(let p)? = schema["patternProperties"] {
            for (pattern, subschema) in p.sorted(by: { $0.key < $1.key }) {
                if let regex = SchemaValidator.regex(pattern) { patterns.append((regex, subschema)) }
            }
        }
        for key in keys {
            let value = members[key]!
            var matched = false
            if let subschema = properties[key] {
                matched = true
                check(subschema, value, at: path + [key])
            }
            for (regex, subschema) in patterns where matches(regex, key, at: path + [key]) ?? false {
                matched = true
                check(subschema, value, at: path + [key])
            }
            if !matched, let additional = schema["additionalProperties"] {
                if additional == .bool(false) {
                    fail(path + [key], "is not a field of this form")
                } else {
                    check(additional, value, at: path + [key])
                }
            }
            if let names = schema["propertyNames"], !passes(names, .string(key), at: path + [key]) {
                fail(path + [key], "is not an allowed name")
            }
        }
        if case .object(let dependent)? = schema["dependentSchemas"] {
            for (trigger, subschema) in dependent.sorted(by: { $0.key < $1.key }) where members[trigger] != nil {
                check(subschema, .object(members), at: path)
            }
        }
    }

    mutating func checkArray(_ schema: JSONValue, _ items: [JSONValue], at path: [String]) {
        if let minimum = schema["minItems"]?.numberValue, Double(items.count) < minimum {
            fail(path, "has \(items.count) items, fewer than \(Self.number(minimum))")
        }
        if let maximum = schema["maxItems"]?.numberValue, Double(items.count) > maximum {
            fail(path, "has \(items.count) items, more than \(Self.number(maximum))")
        }
        if schema["uniqueItems"] == .bool(true) {
            // Linear, not pairwise: canonical bytes of normalised items in a set.
            // (Strings compare by code points, numbers by value.)
            var seen: [[UInt8]: Int] = [:]
            for (index, item) in items.enumerated() {
                if let first = seen.updateValue(index, forKey: item.normalized.canonicalBytes) {
                    fail(path + [String(index)], "repeats item \(first)")
                    break
                }
            }
        }
        var prefixCount = 0
        if case .array(let prefix)? = schema["prefixItems"] {
            prefixCount = prefix.count
            for (index, subschema) in prefix.enumerated() where index < items.count {
                check(subschema, items[index], at: path + [String(index)])
            }
        }
        if let itemSchema = schema["items"] {
            for index in items.indices where index >= prefixCount {
                check(itemSchema, items[index], at: path + [String(index)])
            }
        }
        if let contains = schema["contains"] {
            let count = items.indices.filter { passes(contains, items[$0], at: path + [String($0)]) }.count
            let minimum = schema["minContains"]?.numberValue ?? 1
            if Double(count) < minimum {
                fail(path, minimum == 1 ? "contains no item of the required kind" : "contains \(count) items of the required kind, fewer than \(Self.number(minimum))")
            }
            if let maximum = schema["maxContains"]?.numberValue, Double(count) > maximum {
                fail(path, "contains \(count) items of the kind, more than \(Self.number(maximum))")
            }
        }
    }

    mutating func checkString(_ schema: JSONValue, _ text: String, at path: [String]) {
        let length = text.unicodeScalars.count  // JSON Schema counts code points
        if let minimum = schema["minLength"]?.numberValue, Double(length) < minimum {
            fail(path, length == 0 ? "is empty" : "is shorter than \(Self.number(minimum)) characters", value: length == 0 ? nil : .string(text))
        }
        if let maximum = schema["maxLength"]?.numberValue, Double(length) > maximum {
            fail(path, "is longer than \(Self.number(maximum)) characters")
        }
        if let pattern = schema["pattern"]?.stringValue {
            if let regex = SchemaValidator.regex(pattern) {
                if matches(regex, text, at: path) == false { fail(path, "does not match the pattern \(pattern)", value: .string(text)) }
            } else {
                fail(path, "cannot be checked: the schema's pattern \(pattern) is not a valid regular expression")
            }
        }
        if assertFormats, let format = schema["format"]?.stringValue, let valid = Formats.check(format, text), !valid {
            let article = ["email"].contains(format) ? "an" : "a"
            fail(path, "is not \(article) \(format)", value: .string(text))
        }
    }

    mutating func checkNumber(_ schema: JSONValue, _ instance: JSONValue, at path: [String]) {
        guard let value = instance.numberValue else { return }
        let shown = instance.normalized
        func compared(_ keyword: String) -> (bound: Double, order: ComparisonResult)? {
            guard let bound = schema[keyword], let order = Self.compare(instance, bound) else { return nil }
            return (bound.numberValue!, order)
        }
        if let (minimum, order) = compared("minimum"), order == .orderedAscending { fail(path, "is less than \(Self.number(minimum))", value: shown) }
        if let (maximum, order) = compared("maximum"), order == .orderedDescending { fail(path, "is more than \(Self.number(maximum))", value: shown) }
        if let (minimum, order) = compared("exclusiveMinimum"), order != .orderedDescending { fail(path, "is not more than \(Self.number(minimum))", value: shown) }
        if let (maximum, order) = compared("exclusiveMaximum"), order != .orderedAscending { fail(path, "is not less than \(Self.number(maximum))", value: shown) }
        if let divisor = schema["multipleOf"]?.numberValue, divisor > 0 {
            let isMultiple: Bool
            if let a = Self.wholeNumber(instance), let b = schema["multipleOf"].flatMap(Self.wholeNumber) {
                isMultiple = a % b == 0
            } else {
                // Decimal divisors (0.01) are not exact in binary: accept a
                // quotient within a few units in the last place of a whole
                // number, and nothing looser.
                let quotient = value / divisor
                isMultiple = quotient.isFinite && abs(quotient - quotient.rounded()) <= 4 * quotient.ulp
            }
            if !isMultiple { fail(path, "is not a multiple of \(Self.number(divisor))", value: shown) }
        }
    }

    mutating func checkCombinators(_ schema: JSONValue, _ instance: JSONValue, at path: [String]) {
        if case .array(let all)? = schema["allOf"] {
            for subschema in all { check(subschema, instance, at: path) }
        }
        if case .array(let any)? = schema["anyOf"], !any.contains(where: { passes($0, instance, at: path) }) {
            fail(path, "matches none of the allowed forms")
        }
        if case .array(let one)? = schema["oneOf"] {
            let count = one.filter { passes($0, instance, at: path) }.count
            if count != 1 {
                fail(path, count == 0 ? "matches none of the allowed forms" : "matches \(count) of the forms where exactly one is allowed")
            }
        }
        if let not = schema["not"], passes(not, instance, at: path) {
            fail(path, "matches a form that is not allowed")
        }
        if let condition = schema["if"] {
            if passes(condition, instance, at: path) {
                if let then = schema["then"] { check(then, instance, at: path) }
            } else if let otherwise = schema["else"] {
                check(otherwise, instance, at: path)
            }
        }
    }

    // MARK: helpers

    static func instance(_ value: JSONValue, isOfType type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("object", .object), ("array", .array), ("string", .string): true
        case ("number", .integer), ("number", .number), ("integer", .integer): true
        case ("integer", .number(let d)): d.rounded() == d
        default: false
        }
    }

    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .integer: "an integer"
        case .number(let d): Int64(exactly: d) != nil ? "an integer" : "a number"
        }
    }

    /// JSON equality: numbers by value (1 == 1.0), objects unordered.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            x.count == y.count && x.allSatisfy { key, value in y[key].map { equal(value, $0) } ?? false }
        case (.array(let x), .array(let y)):
            x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.string(let x), .string(let y)):
            // Code points, not Swift's canonical equivalence: "é" and
            // "e" + U+0301 are different JSON strings.
            x.unicodeScalars.elementsEqual(y.unicodeScalars)
        default:
            if a.numberValue != nil, b.numberValue != nil { compare(a, b) == .orderedSame } else { a == b }
        }
    }

    /// A number's value as an Int64 when it is a whole number in range.
    static func wholeNumber(_ value: JSONValue) -> Int64? {
        switch value {
        case .integer(let i): i
        case .number(let d): Int64(exactly: d)
        default: nil
        }
    }

    /// Two numbers in order: whole numbers as Int64, exactly (doubles tell
    /// no two apart past 2^53: 9007199254740993 is not 9007199254740992),
    /// any other pair as doubles (a number with a fraction is below 2^53,
    /// where a double holds every whole number). Nil unless both are numbers.
    static func compare(_ a: JSONValue, _ b: JSONValue) -> ComparisonResult? {
        if let x = wholeNumber(a), let y = wholeNumber(b) { return x < y ? .orderedAscending : x > y ? .orderedDescending : .orderedSame }
        guard let x = a.numberValue, let y = b.numberValue else { return nil }
        return x < y ? .orderedAscending : x > y ? .orderedDescending : .orderedSame
    }

    /// A value as shown in a message: strings quoted, shortened, and with
    /// control and bidirectional-override characters escaped so a form
    /// cannot drive the reader's terminal.
    static func quote(_ value: JSONValue) -> String {
        switch value {
        case .object: "an object"
        case .array: "an array"
        case .string(let text): "\"" + TerminalText.escape(text.count > 60 ? String(text.prefix(57)) + "…" : text) + "\""
        default: String(decoding: value.canonicalBytes, as: UTF8.self)
        }
    }

    static func number(_ value: Double) -> String {
        JSONValue.numberText(value)
    }
}

/// Patterns, shared by the validator's contexts and by a schema's load-time checks.
extension SchemaValidator {
    /// ECMA-262 patterns run through ICU (NSRegularExpression), unanchored
    /// as JSON Schema requires, after translating where ICU differs: ICU's
    /// `$` also matches before a final line break and its `\d` and `\w`
    /// match any script's digits and letters; ECMA-262's do not.
    static func regex(_ pattern: String) -> NSRegularExpression? {
        try? NSRegularExpression(pattern: ecmaToICU(pattern), options: [])
    }

    static func ecmaToICU(_ pattern: String) -> String {
        var out = ""
        var inClass = false
        var iterator = Array(pattern).makeIterator()
        while let c = iterator.next() {
            switch c {
            case "\\":
                guard let e = iterator.next() else { out.append("\\"); break }
                switch (e, inClass) {
                case ("d", false): out += "[0-9]"
                case ("d", true): out += "0-9"
                case ("D", false): out += "[^0-9]"
                case ("w", false): out += "[A-Za-z0-9_]"
                case ("w", true): out += "A-Za-z0-9_"
                case ("W", false): out += "[^A-Za-z0-9_]"
                default: out.append("\\"); out.append(e)
                }
            case "[" where !inClass: inClass = true; out.append(c)
            case "]" where inClass: inClass = false; out.append(c)
            case "$" where !inClass: out += "(?![\\s\\S])"
            default: out.append(c)
            }
        }
        return out
    }

    /// Whether `regex` matches somewhere in `text`; nil when ICU stopped
    /// with an error (its backtracking stack ran out), which `firstMatch`
    /// reports as no match.
    static func matches(_ regex: NSRegularExpression, _ text: String) -> Bool? {
        var matched = false, failed = false
        regex.enumerateMatches(in: text, options: [.reportCompletion], range: NSRange(text.startIndex..., in: text)) { result, flags, stop in
            if result != nil {
                matched = true
                stop.pointee = true
            }
            if flags.contains(.internalError) { failed = true }
        }
        return failed ? nil : matched
    }
}
