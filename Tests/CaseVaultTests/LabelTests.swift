@testable import CaseVault
import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Issue 9, item 5: folder labels carry the four fields of manual §5.5 and
/// no names.
@Suite struct LabelTests {
    final class Collector: NSObject, XMLParserDelegate {
        var labels: [String: [String]] = [:]
        var current: String?
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if name == "g", let number = attributes["data-case"] { current = number; labels[number] = [] }
        }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "g" { current = nil }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if let current { labels[current]!.append(string) }
        }
    }

    @Test func theSheetIsWellFormedSVGWithEveryLabelAndItsFourFields() throws {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        try p.move(.inactive, by: "grace")
        let files = try p.vault.cases()
        let sheets = FolderLabel.sheets(files)
        #expect(sheets.count == 1)
        let parser = XMLParser(data: Data(sheets[0].utf8))
        let collector = Collector()
        parser.delegate = collector
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(Set(collector.labels.keys) == ["CP-2024-0042", "CP-2024-0043"])
        let first = collector.labels["CP-2024-0042"]!.joined(separator: " ")
        for field in ["CP-2024-0042", "Category:", "CP", "Year of admission:", "2024", "Client number:", "0042", "Status:", "IA (inactive)"] {
            #expect(first.contains(field), "\(field) in \(first)")
        }
        // No names of children or staff.
        for name in ["Grace", "Otieno", "Halima", "Joseph", "grace", "halima"] {
            #expect(!sheets[0].contains(name))
            #expect(!FolderLabel.cover(files[0]).contains(name))
        }
        #expect(FolderLabel.spine(files[0]) == "CP · 2024 · 0042 · IA")
    }

    @Test func manyCasesMakeSeveralSheetsAndSkippedPositionsStayBlank() throws {
        let someone = StaffMember(id: "m", name: "M", role: .caseManager, createdAt: Date(), createdBy: nil,
                                  boxPublicKeyHex: "", signingPublicKeyHex: "")
        let files = (1...30).map { n in
            CaseFile(number: CaseNumber(category: "UASC", year: 2025, clientNumber: n), status: .open,
                     manager: someone, supervisor: someone, openedAt: Date(), openedBy: "s")
        }
        let sheets = FolderLabel.sheets(files, skip: 5)
        #expect(sheets.count == 2)
        #expect(sheets[0].components(separatedBy: "<g class=\"label\"").count - 1 == 16)
        #expect(sheets[1].components(separatedBy: "<g class=\"label\"").count - 1 == 14)
        // The first label sits at the sixth position: second row, third column.
        #expect(sheets[0].contains("data-case=\"UASC-2025-0001\" transform=\"translate(139.33 53.25)\""))
        let scratch = Scratch()
        let paths = try FolderLabel.write(sheets, to: scratch.file("labels.svg"))
        #expect(paths == [scratch.file("labels-1.svg"), scratch.file("labels-2.svg")])
        #expect(throws: VaultError.self) { _ = try FolderLabel.write(sheets, to: scratch.file("labels.svg")) }
    }
}

/// Issue 9, item 5: tags, signed and checked.
@Suite struct TagTests {
    @Test func tagsAreAddedRemovedAndListedByWhoMay() throws {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        try p.vault.tagCase("CP-2024-0042", "case-of-concern", adding: true, by: p["grace"])
        try p.vault.tagCase("CP-2024-0042", "high-risk", adding: true, by: p["dora"])
        try p.vault.tagCase("CP-2024-0043", "high-risk", adding: true, by: p["halima"])
        #expect(try p.vault.tags(of: "CP-2024-0042") == ["case-of-concern", "high-risk"])
        var filter = CaseFilter()
        filter.tag = "high-risk"
        #expect(try p.vault.cases(matching: filter).map(\.number.description) == ["CP-2024-0042", "CP-2024-0043"])
        filter.tag = "case-of-concern"
        #expect(try p.vault.cases(matching: filter).map(\.number.description) == ["CP-2024-0042"])
        for id in ["joseph", "farah", "amina", "peter"] {
            #expect(throws: VaultError.self, "\(id)") { try p.vault.tagCase("CP-2024-0042", "x", adding: true, by: p[id]) }
        }
        #expect(throws: VaultError.self) { try p.vault.tagCase("CP-2024-0042", "high-risk", adding: true, by: p["grace"]) }
        #expect(throws: VaultError.self) { try p.vault.tagCase("CP-2024-0042", "High Risk", adding: true, by: p["grace"]) }
        try p.vault.tagCase("CP-2024-0042", "high-risk", adding: false, by: p["grace"])
        try p.vault.tagCase("CP-2024-0042", "case-of-concern", adding: false, by: p["grace"])
        #expect(throws: VaultError.self) { try p.vault.tagCase("CP-2024-0042", "high-risk", adding: false, by: p["grace"]) }
        #expect(try p.vault.tags(of: "CP-2024-0042") == [])
        #expect(try p.vault.verify().isClean)
    }

    @Test func aTagRowAddedOrDeletedByHandIsCaught() throws {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        try p.vault.tagCase("CP-2024-0043", "high-risk", adding: true, by: p["joseph"])
        try p.tamper("INSERT INTO case_tags VALUES ('CP-2024-0042', 'high-risk', 99, '2026-01-01T00:00:00Z', 'halima')")
        var filter = CaseFilter()
        filter.tag = "high-risk"
        expectIntegrity("the tags of CP-2024-0042") { _ = try p.vault.cases(matching: filter) }
        #expect(try p.vault.verify().findings.contains { $0.kind == .rowAdded && $0.subject == "case tags CP-2024-0042 high-risk" })
        try p.tamper("DELETE FROM case_tags")
        expectIntegrity("the tags of CP-2024-0043") { _ = try p.vault.cases(matching: filter) }
        #expect(try p.vault.verify().findings.contains { $0.kind == .rowMissing && $0.subject == "case tags CP-2024-0043 high-risk" })
    }
}
