@testable import CaseVault
import CaseVaultCrypto
import Foundation
import Testing

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

private func intake() throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: repository.appendingPathComponent("Schemas/examples/intake.json"))) as! [String: Any]
}

private func json(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }

/// The intake example's text with its age (14) written as `number`, exactly as given.
private func intake(estimatedAge number: String) throws -> Data {
    let text = String(data: try JSONSerialization.data(withJSONObject: try intake()), encoding: .utf8)!
        .replacingOccurrences(of: "\"estimatedAge\":14", with: "\"estimatedAge\":\(number)")
    #expect(text.contains(number))
    return Data(text.utf8)
}

/// What the review of the forms code found, each pinned by a test.
@Suite struct FormHardeningTests {
    @Test func hugeNumbersAreRefusedNotACrash() throws {
        let p = try Programme()
        try p.openCase()
        for number in ["1e19", "-9.3e18", "10000000000000000000", "1.5"] {
            #expect(throws: VaultError.self, "\(number)") { try p.fileForm(try intake(estimatedAge: number), type: "intake") }
        }
        #expect(JSONValue.number(1e19).canonicalString == "1e+19")
        #expect(JSONValue.number(-0.5).canonicalString == "-0.5")
    }

    @Test(.timeLimit(.minutes(1)))
    func uniqueItemsIsLinear() throws {
        let validator = try SchemaValidator(schema: try json(#"{"uniqueItems": true}"#))
        let many = JSONValue.array((0..<200_000).map { .integer(Int64($0)) })
        #expect(validator.isValid(many))
        #expect(!validator.isValid(.array([.integer(1), .number(1.0)])))
        #expect(validator.isValid(.array([.string("é"), .string("e\u{301}")])))  // different code points
    }

    @Test func patternsFollowECMAScriptNotICU() throws {
        let anchored = try SchemaValidator(schema: try json(#"{"pattern": "^[a-z]+$"}"#))
        #expect(anchored.isValid(.string("alice")))
        #expect(!anchored.isValid(.string("alice\n")))
        let digits = try SchemaValidator(schema: try json(#"{"pattern": "^\\d+$"}"#))
        #expect(digits.isValid(.string("0791")))
        #expect(!digits.isValid(.string("٣")))  // Arabic-Indic three is not an ECMA \d
        let inClass = try SchemaValidator(schema: try json(#"{"pattern": "^[\\d-]+$"}"#))
        #expect(inClass.isValid(.string("12-34")) && !inClass.isValid(.string("١٢")))
        let dollarInClass = try SchemaValidator(schema: try json(#"{"pattern": "^[$]+$"}"#))
        #expect(dollarInClass.isValid(.string("$$")))
    }

    @Test func brokenSchemasAreRefusedWhenLoaded() throws {
        #expect(throws: VaultError.invalidInput("the schema's pattern ([a-z at /properties/x is not a valid regular expression")) {
            _ = try SchemaValidator(schema: try json(#"{"properties": {"x": {"pattern": "([a-z"}}}"#))
        }
        #expect(throws: VaultError.invalidInput("the schema's $ref #/$defs/missing points nowhere")) {
            _ = try SchemaValidator(schema: try json(##"{"$ref": "#/$defs/missing"}"##))
        }
        #expect(throws: VaultError.self) {
            _ = try SchemaValidator(schema: try json(##"{"anyOf": [{"$ref": "#"}, {"$ref": "#"}]}"##))
        }
        #expect(throws: VaultError.self) {
            _ = try SchemaValidator(schema: try json(##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}}"##))
        }
        // Recursion that goes deeper into the form is fine.
        let tree = try SchemaValidator(schema: try json(##"{"properties": {"child": {"$ref": "#"}}, "required": ["name"]}"##))
        #expect(tree.isValid(try json(#"{"name": "a", "child": {"name": "b"}}"#)))
        #expect(!tree.isValid(try json(#"{"name": "a", "child": {}}"#)))
    }

    @Test func multipleOfIsNotLax() throws {
        let one = try SchemaValidator(schema: try json(#"{"multipleOf": 1}"#))
        #expect(!one.isValid(.number(1.0000000001)))
        let two = try SchemaValidator(schema: try json(#"{"multipleOf": 2}"#))
        #expect(!two.isValid(.integer(1_000_000_000_001)) && two.isValid(.integer(1_000_000_000_002)))
        let cents = try SchemaValidator(schema: try json(#"{"multipleOf": 0.01}"#))
        #expect(cents.isValid(.number(19.99)) && !cents.isValid(.number(19.995)))
    }

    @Test func theParserRefusesWhatItCannotRepresentFaithfully() {
        let invalidUTF8: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: (any Error).self) { _ = try JSONValue(parsing: invalidUTF8) }
        #expect(throws: (any Error).self) { _ = try JSONValue(parsing: Array(#"["\u+041"]"#.utf8)) }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: (any Error).self) { _ = try JSONValue(parsing: Array(deep.utf8)) }
    }

    @Test func violationMessagesCarryNoContent() throws {
        let p = try Programme()
        try p.openCase()
        var form = try intake()
        form["dateOfIntake"] = "SECRET-2024-99-99"
        do {
            try p.fileForm(try JSONSerialization.data(withJSONObject: form), type: "intake")
            Issue.record("an invalid form was filed")
        } catch VaultError.invalidForm(_, let violations) {
            #expect(violations.map(\.message) == ["is not a date"])
            #expect(violations.first?.value == "\"SECRET-2024-99-99\"")
            #expect(!VaultError.invalidForm(report: "Intake form", violations: violations).message.contains("SECRET"))
        }
    }

    @Test func renderingEscapesTerminalControlsAndKeepsIndentation() throws {
        let p = try Programme()
        try p.openCase()
        var form = try intake()
        form["childName"] = "Amani\u{1b}[2J\u{202e}evil"
        form["separationHistory"] = "line one\nline two"
        try p.fileForm(try JSONSerialization.data(withJSONObject: form), type: "intake")
        let text = try p.vault.renderForm(caseNumber: "CP-2024-0042", document: "Intake form", by: p["grace"])
        #expect(!text.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x202e })
        #expect(text.contains("Amani\\u{1b}[2J\\u{202e}evil"))
        #expect(text.contains("line one\n  line two"))
    }

    /// A value padded to wrap onto a line of its own could pass for another
    /// field: long runs of blanks are shown as a count.
    @Test func aValuePaddedToWrapShowsItsBlanksAsACount() throws {
        let p = try Programme()
        try p.openCase()
        var form = try intake()
        form["separationHistory"] = "At a checkpoint, 2023." + String(repeating: " ", count: 150) + "Initial risk level: low" + String(repeating: "\u{3000}", count: 9) + "end  of  text"
        try p.fileForm(try JSONSerialization.data(withJSONObject: form), type: "intake")
        let text = try p.vault.renderForm(caseNumber: "CP-2024-0042", document: "Intake form", by: p["grace"])
        #expect(text.contains("At a checkpoint, 2023. [150 blanks] Initial risk level: low [9 blanks] end  of  text"), "\(text)")
        #expect(FormRenderer.shortenedBlanks("a" + String(repeating: "\u{2800}", count: 5) + String(repeating: " ", count: 8) + "b") == "a [13 blanks] b")
    }

    @Test func diffComparesAsJSONAndRefusesRecordsOfficers() throws {
        let p = try Programme()
        try p.openCase()
        var form = try intake()
        form["childName"] = "Amélie"
        try p.fileForm(try JSONSerialization.data(withJSONObject: form), type: "intake")
        form["childName"] = "Ame\u{301}lie"  // canonically equal, different code points
        try p.fileForm(Data(String(data: try JSONSerialization.data(withJSONObject: form), encoding: .utf8)!
            .replacingOccurrences(of: "\"estimatedAge\":14", with: "\"estimatedAge\":14.0").utf8), type: "intake")
        let changes = try p.vault.diffForm(caseNumber: "CP-2024-0042", document: "Intake form", by: p["grace"]).changes
        #expect(changes.map(\.pointer) == ["/childName"])  // 14 → 14.0 is no change
        let before = try p.vault.events().count
        #expect(throws: VaultError.accessDenied("a records officer cannot read case content")) {
            _ = try p.vault.diffForm(caseNumber: "CP-2024-0042", document: "Intake form", by: p["farah"])
        }
        #expect(try p.vault.events().suffix(from: before).map(\.type) == ["content.refused"])
    }

    @Test func aDocumentKeepsItsTypeAcrossVersions() throws {
        let p = try Programme()
        try p.openCase()
        try p.fileForm(try JSONSerialization.data(withJSONObject: try intake()), type: "intake")
        #expect(throws: VaultError.invalidInput("'Intake form' of CP-2024-0042 is a form of type intake; file its next version with --form intake")) {
            try p.file([1, 2, 3], name: "Intake form", type: "intake")
        }
        let carePlan = try Data(contentsOf: repository.appendingPathComponent("Schemas/examples/care-plan.json"))
        #expect(throws: VaultError.self) { try p.fileForm(carePlan, type: "care-plan", name: "Intake form") }
        #expect(try p.vault.versions(caseNumber: "CP-2024-0042").count == 1)
    }

    @Test func aFormOver16MiBIsRefused() throws {
        let p = try Programme()
        try p.openCase()
        let big = Data(("{\"childName\":\"" + String(repeating: "a", count: (16 << 20) + 10) + "\"}").utf8)
        #expect(throws: VaultError.invalidInput("the form is larger than 16 MiB; file it as a document instead")) {
            try p.fileForm(big, type: "intake")
        }
    }

    /// A number checked as one value and kept as another: `-1e-400` passed
    /// "integer, at least 0" as -0.0 and rendered 0; `25.000000000000001`
    /// passed "at most 25" as 25.0. Refused when filed, read when filed before.
    @Test func aNumberTheFormCannotHoldExactlyIsRefused() throws {
        let p = try Programme()
        try p.openCase()
        for number in ["-1e-400", "25.000000000000001", "1e-400", "9223372036854775808"] {
            #expect(throws: VaultError.self, "\(number)") { try p.fileForm(try intake(estimatedAge: number), type: "intake") }
        }
        for (text, exact) in [("0.1", true), ("1.50", true), ("-0", true), ("0e5", true), ("1e308", true), ("2.5E-3", true),
                              ("25.000000000000001", false), ("-1e-400", false), ("0.30000000000000001", false),
                              ("123456789012345678901234567890", false), ("1.7976931348623157e308", true)] {
            #expect(JSONParser.isExact(text, Double(text)!) == exact, "\(text)")
        }
        try p.fileForm(try intake(estimatedAge: "14.0"), type: "intake")
        // A form filed before the rule still reads: only filing parses exactly.
        for number in ["-1e-400", "25.000000000000001"] {
            let form = SecureBytes(copying: Array("{\"estimatedAge\": \(number)}".utf8))
            #expect(throws: VaultError.self, "\(number)") { try Vault.parseForm(form, count: form.count) }
            #expect(try Vault.parseForm(form, count: form.count, filing: false) == .object(["estimatedAge": .number(Double(number)!)]))
        }
    }

    /// Whole numbers past 2^53 are told apart: as doubles they were one.
    @Test func wholeNumbersPast2To53AreComparedExactly() throws {
        let big = try SchemaValidator(schema: try json(#"{"properties": {"code": {"const": 9007199254740993}, "count": {"maximum": 9007199254740992}, "n": {"enum": [9007199254740993]}, "m": {"multipleOf": 2}}}"#))
        #expect(!big.isValid(try json(#"{"code": 9007199254740992}"#)))
        #expect(big.isValid(try json(#"{"code": 9007199254740993}"#)))
        #expect(!big.isValid(try json(#"{"count": 9007199254740993}"#)))
        #expect(big.isValid(try json(#"{"count": 9007199254740992}"#)))
        #expect(!big.isValid(try json(#"{"n": 9007199254740992}"#)))
        #expect(!big.isValid(try json(#"{"m": 9007199254740993}"#)))
        #expect(big.isValid(try json(#"{"m": 9007199254740994}"#)))
        // 1 and 1.0 are still one number.
        #expect(try SchemaValidator(schema: try json(#"{"const": 1}"#)).isValid(try json("1.0")))
    }

    /// A quoted local part of an email address holds printable ASCII only:
    /// a line feed in it showed as a line of its own in the rendered form.
    @Test func aQuotedEmailLocalPartHoldsNoLineBreak() {
        #expect(Formats.isEmail("\"joe bloggs\"@example.com"))
        #expect(Formats.isEmail("\"a\\\"b\"@example.com"))
        #expect(!Formats.isEmail("\"x\nConsent to referral: yes\n\"@x.org"))
        #expect(!Formats.isEmail("\"a\"b\"@example.com"))
        #expect(!Formats.isEmail("\"a\\\"@example.com"))
        #expect(!Formats.isEmail("\"caf\u{E9}\"@example.com"))
    }

    /// What cannot be checked fails, whatever `not` makes of it: a pattern
    /// on a text too long for ICU's backtracking stack used to say "no
    /// match", and `not` turned that into a pass.
    @Test func aPatternThatCannotBeRunFailsClosed() throws {
        let validator = try SchemaValidator(schema: try json(#"{"properties": {"a": {"not": {"pattern": "^(a|b)*$"}}, "b": {"pattern": "^(a|b)*$"}}}"#))
        let long = String(repeating: "a", count: SchemaValidator.maximumPatternInput + 1)
        let violations = validator.validate(.object(["a": .string(long)]))
        #expect(violations.count == 1 && violations[0].message.hasPrefix("cannot be checked") && violations[0].pointer == "/a", "\(violations)")
        #expect(!validator.isValid(.object(["b": .string(long)])))
        #expect(validator.isValid(.object(["b": .string("abab")])) && !validator.isValid(.object(["a": .string("abab")])))
        // ICU's own failure is told apart from "no match": past its backtracking stack it gives up.
        let alternation = try #require(SchemaValidator.regex("^(a|b)*$"))
        #expect(SchemaValidator.matches(alternation, String(repeating: "a", count: 1_000_000)) == nil)
        #expect(SchemaValidator.matches(alternation, "abab") == true && SchemaValidator.matches(alternation, "abc") == false)
        // A heavy pattern under the cap is refused under `not` either way (matched, or cannot be checked).
        let groups = "^(?:" + String(repeating: "(a)(x)?", count: 400) + ")*$"
        let heavy = try SchemaValidator(schema: .object(["properties": .object(["a": .object(["not": .object(["pattern": .string(groups)])])])]))
        for count in [400, 2_000, 8_000] {
            let verdict = heavy.validate(.object(["a": .string(String(repeating: "a", count: count))]))
            #expect(verdict.count == 1, "\(count): \(verdict)")
        }
    }

    /// A `oneOf` that recurses took time exponential in how deep a form
    /// nests (26 levels did not end in two minutes): the validator stops at
    /// a budget of steps, and the form fails.
    @Test(.timeLimit(.minutes(1)))
    func aRecursiveOneOfStopsAtItsBudget() throws {
        let validator = try SchemaValidator(schema: try json(##"{"$defs": {"node": {"oneOf": [{"type": "array", "items": {"$ref": "#/$defs/node"}}, {"type": "array", "items": {"$ref": "#/$defs/node"}}, {"type": "integer"}]}}, "$ref": "#/$defs/node"}"##))
        let deep = String(repeating: "[", count: 40) + "1" + String(repeating: "]", count: 40)
        let violations = validator.validate(try json(deep))
        #expect(violations.count == 1 && violations[0].message.contains("more than \(SchemaValidator.maximumSteps) steps"), "\(violations)")
        #expect(validator.isValid(try json("[[1], 2]")) == false)  // an array matches both array forms: not exactly one
        #expect(validator.isValid(try json("3")))
    }

    /// A keyword whose value is not of the kind 2020-12 gives it asserted
    /// nothing: `{"required": "name"}` let a form without a name through.
    @Test(arguments: [#"{"required": "name"}"#, #"{"maxLength": "3"}"#, #"{"minItems": -1}"#, #"{"minLength": 1.5}"#,
                      #"{"exclusiveMaximum": true}"#, #"{"multipleOf": 0}"#, #"{"type": "text"}"#, #"{"type": ["string", "string"]}"#,
                      #"{"items": [{"type": "integer"}]}"#, #"{"additionalItems": false}"#, #"{"dependencies": {"a": ["b"]}}"#,
                      #"{"properties": {"a": 3}}"#, #"{"anyOf": {"type": "string"}}"#, #"{"dependentRequired": {"a": "b"}}"#,
                      #"{"$defs": {"x": {"required": [1]}}}"#, #"{"not": {"uniqueItems": "yes"}}"#, #"{"pattern": 5}"#,
                      #"{"properties": {"at": {"format": "datetime"}}}"#, #"{"format": "Date"}"#])
    func aKeywordOfTheWrongKindIsRefusedWhenTheSchemaIsLoaded(_ text: String) throws {
        #expect(throws: VaultError.self) { _ = try SchemaValidator(schema: try json(text)) }
    }

    /// A count bound past Int's range ("minLength": 1e20) trapped when a
    /// form broke it and the message printed it as an Int.
    @Test func aHugeCountBoundIsReportedNotACrash() throws {
        for keyword in ["minLength", "minItems", "minProperties"] {
            let validator = try SchemaValidator(schema: try json(#"{"properties": {"a": {"\#(keyword)": 1e20}}}"#))
            let violations = validator.validate(try json(#"{"a": "x"}"#)) + validator.validate(try json(#"{"a": ["x"]}"#))
                + validator.validate(try json(#"{"a": {"x": 1}}"#))
            #expect(violations.contains { $0.message.contains("1e+20") }, "\(violations)")
        }
    }

    @Test func propertiesNamedLikeKeywordsAreNamesNotKeywords() throws {
        let validator = try SchemaValidator(schema: try json(#"{"properties": {"required": {"type": "string"}, "minimum": {"type": "boolean"}}, "required": ["required"], "minLength": 2.0}"#))
        #expect(validator.isValid(try json(#"{"required": "x", "minimum": true}"#)))
        #expect(!validator.isValid(try json(#"{"minimum": true}"#)))
        // Every shipped form's schema is well formed.
        for (type, text) in BuiltInSchemas.all { _ = try FormSchema(type: type, version: nil, bytes: Array(text.utf8)) }
    }

    /// A schema the vault took before keyword kinds were checked still
    /// loads: `schema list` and the forms filed under it must still read.
    @Test func aSchemaAddedBeforeTheKeywordCheckStillLoads() throws {
        let p = try Programme()
        let text = #"{"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://example.org/forms/tally.json", "title": "Tally", "type": "object", "properties": {"n": {"type": "integer", "maximum": 9, "exclusiveMaximum": true}}}"#
        #expect(throws: VaultError.self) { try p.vault.addSchema(Array(text.utf8), by: p["amina"]) }
        _ = try p.vault.write { writer, head in
            let hash = try Ledger.putBlob(Array(text.utf8), in: writer)
            try Ledger.append([.schemaAdded(SchemaAdded(type: "tally", version: 1, id: "https://example.org/forms/tally.json", title: "Tally", bodyHash: hash))],
                              by: p["amina"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
        }
        #expect(try p.vault.formSchemas().contains { $0.type == "tally" })
    }
}
