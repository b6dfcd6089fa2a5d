@testable import CaseVault
import CaseVaultCrypto
import Foundation
import GRDB
import Testing

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

private func example(_ type: String) throws -> Data {
    try Data(contentsOf: repository.appendingPathComponent("Schemas/examples/\(type).json"))
}

extension Programme {
    @discardableResult
    func fileForm(_ bytes: Data, type: String, name: String? = nil, schemaVersion: Int? = nil, by filer: String = "farah") throws -> VersionInfo {
        let path = scratch.file("form-" + UUID().uuidString + ".json")
        try #require(FileManager.default.createFile(atPath: path, contents: bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try vault.fileForm(caseNumber: "CP-2024-0042", type: type, name: name, schemaVersion: schemaVersion,
                                  from: .file(path: path), by: self[filer], now: Date(timeIntervalSince1970: 1_790_000_000),
                                  timeZone: TimeZone(identifier: "Africa/Nairobi")!)
    }
}

/// A form saved by Windows Notepad begins with a UTF-8 byte-order mark: it
/// files, validates and reads back as the same form (it was "not valid
/// JSON"); a UTF-16 one is named as such.
@Suite struct FormEncodingTests {
    @Test func aFormWithAByteOrderMarkFilesAndReadsBackAndUTF16IsNamed() throws {
        let p = try Programme()
        try p.openCase()
        let plain = try example("intake")
        let filed = try p.fileForm(Data([0xef, 0xbb, 0xbf]) + plain, type: "intake", name: "Intake with a mark")
        let (_, value) = try p.vault.readForm(caseNumber: "CP-2024-0042", document: filed.document, version: nil, by: p["grace"], now: Date())
        #expect(value == (try JSONValue(parsing: Array(plain))))
        for mark in [[0xff, 0xfe], [0xfe, 0xff]] as [[UInt8]] {
            #expect(throws: VaultError.invalidInput("the form is UTF-16 text: save it as UTF-8, which JSON is")) {
                try p.fileForm(Data(mark) + plain, type: "intake", name: "UTF-16")
            }
        }
        #expect(throws: VaultError.invalidInput("the form is not valid JSON")) { try p.fileForm(Data([0xef, 0xbb]) + plain, type: "intake", name: "Cut mark") }
    }
}

@Suite struct FormSchemaTests {
    static let formTypes = ["assessment", "care-plan", "case-conference", "closure", "complaint", "consent-and-confidentiality",
                            "handover", "home-visit", "intake", "monitoring-reassessment", "referral", "safety-plan",
                            "screening", "transition-plan"]

    @Test func theBinaryCarriesExactlyTheSchemasInSchemasForms() throws {
        #expect(FormSchema.builtIn.map(\.type) == Self.formTypes)
        for schema in FormSchema.builtIn {
            let file = try String(contentsOf: repository.appendingPathComponent("Schemas/forms/\(schema.type).schema.json"), encoding: .utf8)
            #expect(schema.text == file.trimmingCharacters(in: .newlines), "run scripts/embed-schemas.py: \(schema.type) differs")
            #expect(schema.id == "https://casevault.example/schemas/forms/\(schema.type).schema.json")
        }
    }

    /// Only format 1 left a built-in schema's text unstored; a format-2
    /// form without it is found by verify.
    @Test func theTextOfABuiltInSchemaAFormUsedIsKept() throws {
        let p = try Programme()
        try p.openCase()
        let filed = try p.fileForm(try example("intake"), type: "intake")
        #expect(filed.schemaVersion == nil)
        #expect(try p.vault.verify().isClean)
        let hash = Blake2b.hash(Array(try p.vault.formSchema(type: "intake").text.utf8)).hexString
        let queue = try DatabaseQueue(path: p.vault.path + "/" + Vault.catalogFileName)
        try queue.write { try $0.execute(sql: "DELETE FROM blobs WHERE hash = ?", arguments: [hash]) }
        try queue.close()
        let report = try p.vault.verify()
        #expect(report.findings.map(\.kind) == [.blobMissing])
        #expect(report.findings.first?.subject == "blob \(hash)")
    }

    @Test(arguments: formTypes)
    func everyExampleFilesCleanlyAndRenders(type: String) throws {
        let p = try Programme()
        try p.openCase()
        let filed = try p.fileForm(try example(type), type: type)
        let schema = try p.vault.formSchema(type: type)
        #expect(filed.document == schema.title && filed.type == type && filed.version == 1)
        #expect(filed.schemaID == schema.id && filed.schemaVersion == nil)
        let text = try p.vault.renderForm(caseNumber: "CP-2024-0042", document: schema.title, by: p["grace"])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(lines.prefix(6)) == [
            schema.title,
            "Case CP-2024-0042 [O] · version 1",
            "Date:            2026-09-21T17:13:20+03:00",
            "Case Manager:    Grace Otieno",
            "Case Supervisor: Halima Abdi",
            "Filed by:        Farah Nasser (farah) · form: \(schema.title) (built-in)",
        ])
        // Every string in the example appears on some line of the rendering.
        func strings(_ value: JSONValue) -> [String] {
            switch value {
            case .string(let s): [s]
            case .array(let items): items.flatMap(strings)
            case .object(let members): members.filter { $0.key != "form" }.values.flatMap(strings)
            default: []
            }
        }
        for value in strings(try JSONValue(parsing: Array(try example(type)))) {
            #expect(text.contains(value), "\(type): '\(value)' is not rendered")
        }
    }

    @Test func anInvalidFormIsRefusedWithEveryProblemAndNothingIsFiled() throws {
        let p = try Programme()
        try p.openCase()
        var form = try JSONSerialization.jsonObject(with: try example("care-plan")) as! [String: Any]
        var goals = form["goals"] as! [[String: Any]]
        goals[0]["dueDate"] = "2024-13-01"
        form["goals"] = goals
        form.removeValue(forKey: "reviewDate")
        form["colour"] = "blue"
        let before = try p.vault.events().count
        #expect(throws: VaultError.invalidForm(report: "Care plan", violations: [
            SchemaViolation(pointer: "/reviewDate", message: "is required but missing"),
            SchemaViolation(pointer: "/colour", message: "is not a field of this form"),
            SchemaViolation(pointer: "/goals/0/dueDate", message: "is not a date", value: "\"2024-13-01\""),
        ])) {
            try p.fileForm(try JSONSerialization.data(withJSONObject: form), type: "care-plan")
        }
        #expect(try p.vault.events().count == before)
        #expect(try p.vault.checkReferences() == ReferenceReport(missingObjects: [], orphanObjects: [], versionCount: 0))
        #expect(throws: VaultError.invalidInput("the form is not valid JSON")) { try p.fileForm(Data("{not json".utf8), type: "intake") }
        #expect(throws: VaultError.self) { try p.fileForm(try example("intake"), type: "no-such-form") }
        #expect(throws: VaultError.accessDenied("an auditor cannot file documents")) { try p.fileForm(try example("intake"), type: "intake", by: "peter") }
    }

    @Test func programmeSchemasAreVersionedAndTheNewestIsUsed() throws {
        let p = try Programme()
        try p.openCase()
        // The programme's own intake: the built-in one plus a required field.
        var schema = try JSONSerialization.jsonObject(with: Data(contentsOf: repository.appendingPathComponent("Schemas/forms/intake.schema.json"))) as! [String: Any]
        schema["$id"] = "https://programme.example/forms/intake.schema.json"
        schema["title"] = "Intake form (programme)"
        var properties = schema["properties"] as! [String: Any]
        properties["referralCode"] = ["title": "Referral code", "type": "string", "pattern": "^R-[0-9]{4}$"]
        schema["properties"] = properties
        schema["required"] = (schema["required"] as! [String]) + ["referralCode"]
        let bytes = Array(try JSONSerialization.data(withJSONObject: schema))
        #expect(throws: VaultError.accessDenied("only an admin or a project director adds form schemas; 'grace' is a case manager")) {
            try p.vault.addSchema(bytes, by: p["grace"])
        }
        let added = try p.vault.addSchema(bytes, by: p["dora"])
        #expect(added.type == "intake" && added.version == 1)
        #expect(try p.vault.addSchema(bytes, by: p["amina"]).version == 2)
        #expect(try p.vault.events().last?.type == "schema.added")

        // The newest vault version now applies: the example lacks referralCode.
        #expect(throws: VaultError.self) { try p.fileForm(try example("intake"), type: "intake") }
        var form = try JSONSerialization.jsonObject(with: try example("intake")) as! [String: Any]
        form["referralCode"] = "R-0042"
        let filed = try p.fileForm(try JSONSerialization.data(withJSONObject: form), type: "intake")
        #expect(filed.document == "Intake form (programme)" && filed.schemaVersion == 2)
        #expect(filed.schemaID == "https://programme.example/forms/intake.schema.json")
        #expect(try p.vault.renderForm(caseNumber: "CP-2024-0042", document: filed.document, by: p["grace"])
                .contains("Referral code: R-0042"))
        #expect(try p.vault.formSchemas().filter { $0.type == "intake" }.map(\.source) == ["built-in", "vault v1", "vault v2"])

        var unsupported = schema
        unsupported["unevaluatedProperties"] = false
        #expect(throws: VaultError.invalidInput("the schema uses unevaluatedProperties, which casevault's validator does not support")) {
            try p.vault.addSchema(Array(try JSONSerialization.data(withJSONObject: unsupported)), by: p["dora"])
        }
        #expect(throws: VaultError.invalidInput("the schema has no title (the report name printed in stamps)")) {
            try p.vault.addSchema(Array(#"{"$id":"x/y.json","type":"object"}"#.utf8), by: p["dora"])
        }
    }

    @Test func diffListsFieldChangesByPointerAndEachReadIsAnEvent() throws {
        let p = try Programme()
        try p.openCase()
        let original = try example("care-plan")
        try p.fileForm(original, type: "care-plan")
        var form = try JSONSerialization.jsonObject(with: original) as! [String: Any]
        var goals = form["goals"] as! [[String: Any]]
        goals[0]["status"] = "achieved"
        goals.removeLast()
        form["goals"] = goals
        form["childsViews"] = "I want to go to school."
        form.removeValue(forKey: "caregiverRole")
        try p.fileForm(try JSONSerialization.data(withJSONObject: form), type: "care-plan")
        let reads = try p.vault.events().filter { $0.type == "content.read" }.count
        let (old, new, changes) = try p.vault.diffForm(caseNumber: "CP-2024-0042", document: "Care plan", by: p["grace"])
        #expect(old.version == 1 && new.version == 2)
        #expect(changes.map(\.pointer) == ["/caregiverRole", "/childsViews", "/goals/0/status", "/goals/2"])
        #expect(changes.map(\.kind) == [.removed, .changed, .changed, .removed])
        #expect(changes[2].old == .string("in-progress") && changes[2].new == .string("achieved"))
        #expect(try p.vault.events().filter { $0.type == "content.read" }.count == reads + 2)
        #expect(try p.vault.diffForm(caseNumber: "CP-2024-0042", document: "Care plan", from: 2, to: 2, by: p["grace"]).changes.isEmpty)
    }

    @Test func renderingADocumentThatIsNotAFormSaysSo() throws {
        let p = try Programme()
        try p.openCase()
        try p.file([1, 2, 3], name: "Scan", type: "document")
        #expect(throws: VaultError.invalidInput("'Scan' was filed as a document, not a form (no schema); read it with 'casevault get'")) {
            _ = try p.vault.renderForm(caseNumber: "CP-2024-0042", document: "Scan", by: p["grace"])
        }
        #expect(throws: VaultError.invalidInput("'Scan' has only one version; there is nothing to compare")) {
            _ = try p.vault.diffForm(caseNumber: "CP-2024-0042", document: "Scan", by: p["grace"])
        }
    }
}
