@testable import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import GRDB
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

    /// A full sheet of the longest case numbers the vault allows.
    func longNumbers() -> [CaseFile] {
        let someone = StaffMember(id: "m", name: "M", role: .caseManager, createdAt: Date(), createdBy: nil,
                                  boxPublicKeyHex: "", signingPublicKeyHex: "")
        return (1...21).map { n in
            CaseFile(number: CaseNumber(category: n % 2 == 0 ? "ABCDEFGH" : "UASC", year: 2025, clientNumber: n % 3 == 0 ? 123_456 + n : n),
                     status: .agedOut, manager: someone, supervisor: someone, openedAt: Date(), openedBy: "s")
        }
    }

    @Test func aLongCaseNumberIsSetSmallerAndHeldToTheLabelsWidth() throws {
        let sheet = FolderLabel.sheets(longNumbers())[0]
        #expect(sheet.contains(#"style="font-size: 4.20px" textLength="55.50" lengthAdjust="spacingAndGlyphs">ABCDEFGH-2025-123462</text>"#))
        #expect(sheet.contains(#"<text class="number" x="4" y="10">UASC-2025-0001</text>"#) == false)  // 14 characters: set smaller
        #expect(sheet.contains(#"<text class="number" x="4" y="10">"#) == false)
    }

    /// Headless Chromium (Debian's `chromium`) lays the sheet out: every
    /// label is on the page and every line of text inside its label; and it
    /// takes the screenshot a person would look at. Skipped where Chromium
    /// is not installed.
    @Test(.enabled(if: LabelTests.chromium != nil, "chromium is not installed (apt-get install chromium)"))
    func chromiumShowsEveryLabelInsideItsBox() throws {
        let scratch = Scratch()
        let svg = FolderLabel.sheets(longNumbers())[0]
        let inline = svg.replacingOccurrences(of: #"<?xml version="1.0" encoding="UTF-8"?>"#, with: "")
        let html = """
            <!doctype html><html><body style="margin:0">\(inline)<script>
            const out = [], page = document.querySelector('svg').getBBox();
            for (const g of document.querySelectorAll('g.label')) {
              const box = g.querySelector('rect').getBBox();
              for (const t of g.querySelectorAll('text')) {
                const b = t.getBBox();
                if (b.x < box.x || b.x + b.width > box.x + box.width || b.y < box.y || b.y + b.height > box.y + box.height) out.push(g.dataset.case + ' ' + t.textContent);
              }
              const m = g.transform.baseVal.consolidate().matrix;
              if (m.e < 0 || m.f < 0 || m.e + box.width > 210 || m.f + box.height > 297) out.push('off the page: ' + g.dataset.case);
            }
            document.body.dataset.labels = document.querySelectorAll('g.label').length;
            document.body.dataset.overflow = out.join('|') || 'none';
            </script></body></html>
            """
        try html.write(toFile: scratch.file("sheet.html"), atomically: true, encoding: .utf8)
        let dom = try Self.runChromium(["--dump-dom", "file://" + scratch.file("sheet.html")])
        #expect(dom.contains(#"data-labels="21""#), "\(dom.suffix(300))")
        #expect(dom.contains(#"data-overflow="none""#), "\(dom.suffix(600))")
        try svg.write(toFile: scratch.file("labels.svg"), atomically: true, encoding: .utf8)
        _ = try Self.runChromium(["--window-size=794,1123", "--screenshot=" + scratch.file("labels.png"), "file://" + scratch.file("labels.svg")])
        let png = try Data(contentsOf: URL(fileURLWithPath: scratch.file("labels.png")))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) && png.count > 10_000)
    }

    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func runChromium(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium!)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=2000"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
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

/// Issue 9, item 9: the monthly supervision report, from the catalog alone.
@Suite struct SupervisionReportTests {
    func date(_ text: String) -> Date { try! Date(text + "T09:00:00Z", strategy: .iso8601) }

    @Test func theReportCountsStatusesAtMonthEndAndMovesWithinTheMonth() throws {
        let p = try Programme()
        func open(_ client: Int, _ category: String, _ manager: String, on day: String) throws -> String {
            try p.vault.openCase(category: category, admitted: 2026, clientNumber: client, managerID: manager, supervisorID: "halima",
                                 by: p["halima"], now: date(day)).number.description
        }
        let a = try open(42, "CP", "grace", on: "2026-10-05")
        let b = try open(43, "CP", "joseph", on: "2026-09-01")
        let c = try open(44, "UASC", "grace", on: "2026-10-02")
        _ = try p.vault.changeStatus(of: a, to: .inactive, reason: "no contact", by: p["grace"], now: date("2026-10-20"))
        _ = try p.vault.changeStatus(of: b, to: .agedOut, reason: "18", by: p["joseph"], now: date("2026-10-10"))
        try p.fileClosureForm(into: c)
        _ = try p.vault.changeStatus(of: c, to: .closed, reason: "reunified", by: p["halima"], now: date("2026-10-25"))
        try p.vault.reopenCase(c, reason: "new concern", by: p["halima"], now: date("2026-11-02"))
        try p.vault.tagCase(a, "case-of-concern", adding: true, by: p["halima"])

        let october = try p.vault.monthlyReport(month: "2026-10")
        #expect(october.byStatus.map { "\($0.key)=\($0.count)" } == ["IA=1", "AO=1", "C=1"])
        #expect(october.byCategoryAndStatus.map { "\($0.key)=\($0.count)" } == ["CP AO=1", "CP IA=1", "UASC C=1"])
        #expect(october.opened == [a, c] && october.closed == [c] && october.agedOut == [b] && october.reopened == [])
        #expect(october.caseloads.map { "\($0.staffID)=\($0.count)" } == ["grace=1", "joseph=1"])
        #expect(october.supervision.map { "\($0.staffID)=\($0.count)" } == ["halima=2"])
        #expect(october.casesOfConcern == [a])

        let november = try p.vault.monthlyReport(month: "2026-11")
        #expect(november.reopened == [c] && november.opened == [])
        #expect(november.caseloads.map { "\($0.staffID)=\($0.count)" } == ["grace=2", "joseph=1"])
        let september = try p.vault.monthlyReport(month: "2026-09")
        #expect(september.byStatus.map { "\($0.key)=\($0.count)" } == ["O=1"])
        #expect(throws: VaultError.self) { _ = try p.vault.monthlyReport(month: "2026-13") }
    }

    @Test func aCaseManagerOverEighteenCasesIsFlaggedAndWarnedOf() throws {
        let p = try Programme()
        for client in 1...19 {
            _ = try p.vault.openCase(category: "CP", admitted: 2026, clientNumber: client, managerID: "grace", supervisorID: "halima", by: p["halima"])
            let warnings = try p.vault.assignmentWarnings(managerID: "grace", supervisorID: "halima")
            #expect(warnings.isEmpty == (client <= 18), "\(client): \(warnings)")
        }
        let report = try p.vault.monthlyReport(month: Lifecycle.day(Date()).prefix(7).description)
        #expect(report.caseloads.first { $0.staffID == "grace" }?.breached == true)
    }

    @Test func aSupervisorOfASixthCaseManagerIsWarnedOfAndClosedCasesDoNotCount() throws {
        let p = try Programme()
        let managers = ["grace", "joseph", "m3", "m4", "m5", "m6"]
        for id in managers.dropFirst(2) {
            try p.vault.addStaff(id: id, name: id, role: .caseManager, passphrase: try p.scratch.passphrase("\(id) passphrase!"), by: p["amina"])
        }
        for (client, manager) in managers.enumerated() {
            _ = try p.vault.openCase(category: "CP", admitted: 2026, clientNumber: client + 1, managerID: manager, supervisorID: "halima", by: p["halima"])
            let warnings = try p.vault.assignmentWarnings(managerID: manager, supervisorID: "halima")
            #expect(warnings == (client < 5 ? [] : ["'halima' now supervises 6 case managers; the manual recommends at most 5"]), "\(manager)")
        }
        // Asked before a seventh manager's first case: counted with the six.
        #expect(try p.vault.assignmentWarnings(managerID: "m7", supervisorID: "halima").first?.contains("7 case managers") == true)
        // m6's only case closed: five managers left.
        let closure = p.scratch.file("closure.json")
        try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Schemas/examples/closure.json"))
            .write(to: URL(fileURLWithPath: closure))
        try p.vault.fileForm(caseNumber: "CP-2026-0006", type: "closure", from: .file(path: closure), by: p["farah"])
        _ = try p.vault.changeStatus(of: "CP-2026-0006", to: .closed, reason: "reunified", by: p["halima"])
        #expect(try p.vault.assignmentWarnings(managerID: "grace", supervisorID: "halima") == [])
    }

    /// An attacker who can write the catalog cannot raise a false caseload
    /// warning (nor, through it, stop a case being opened quietly): rows
    /// added by hand are checked before any warning is given.
    @Test func rowsAddedByHandRaiseNoCaseloadWarning() throws {
        let p = try Programme()
        try p.openCase()
        var sql = "CREATE TEMP TABLE forged AS SELECT * FROM cases WHERE number = 'CP-2024-0042';"
        for client in 100..<120 {
            sql += "UPDATE forged SET number = 'CP-2024-0\(client)', client_number = \(client); INSERT INTO cases SELECT * FROM forged;"
        }
        try p.tamper(sql)
        #expect(throws: VaultError.self) { _ = try p.vault.assignmentWarnings(managerID: "grace", supervisorID: "halima") }
    }

    /// Nor a false supervision warning from a row whose case number was
    /// emptied by hand (the number stands for "the new case's manager,
    /// nothing to check" nowhere).
    @Test func aRowWithAnEmptyNumberRaisesNoSupervisionWarning() throws {
        let p = try Programme()
        let managers = ["grace", "joseph", "m3", "m4", "m5"]
        for id in managers.dropFirst(2) {
            try p.vault.addStaff(id: id, name: id, role: .caseManager, passphrase: try p.scratch.passphrase("\(id) passphrase!"), by: p["amina"])
        }
        for (client, manager) in managers.enumerated() {
            _ = try p.vault.openCase(category: "CP", admitted: 2026, clientNumber: client + 1, managerID: manager, supervisorID: "halima", by: p["halima"])
        }
        #expect(try p.vault.assignmentWarnings(managerID: "grace", supervisorID: "halima") == [])
        // A sixth manager, by a forged row whose number is empty.
        try p.tamper("""
            CREATE TEMP TABLE forged AS SELECT * FROM cases WHERE number = 'CP-2026-0005';
            UPDATE forged SET number = '', manager_id = 'ghost', client_number = 999; INSERT INTO cases SELECT * FROM forged;
            """)
        // Refused as a forgery (the row is not in the signed state), never a warning.
        #expect(throws: VaultError.self) { _ = try p.vault.assignmentWarnings(managerID: "grace", supervisorID: "halima") }
    }
}

/// Issue 9, item 6 (holds): placed and released by who may, signed, checked.
@Suite struct LegalHoldTests {
    @Test func holdsArePlacedReleasedAndListedByWhoMay() throws {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        for id in ["grace", "farah", "peter", "joseph"] {
            #expect(throws: VaultError.self, "\(id)") { try p.vault.setHold("CP-2024-0042", placing: true, reason: "court order", by: p[id]) }
        }
        try p.vault.setHold("CP-2024-0042", placing: true, reason: "court order 12/2026", by: p["dora"])
        try p.vault.setHold("CP-2024-0043", placing: true, reason: "complaint under investigation", by: p["halima"])
        #expect(throws: VaultError.self) { try p.vault.setHold("CP-2024-0042", placing: true, reason: "again", by: p["amina"]) }
        #expect(try p.vault.holds().map(\.caseNumber) == ["CP-2024-0042", "CP-2024-0043"])
        // Not an admin's to lift (the admin sets the policy and adds approvers): the supervisor's own, or a director's.
        #expect(throws: VaultError.self) { try p.vault.setHold("CP-2024-0043", placing: false, reason: "investigation closed", by: p["amina"]) }
        try p.vault.setHold("CP-2024-0043", placing: false, reason: "investigation closed", by: p["halima"])
        #expect(throws: VaultError.self) { try p.vault.setHold("CP-2024-0043", placing: false, reason: "again", by: p["amina"]) }
        #expect(try p.vault.holds().map(\.caseNumber) == ["CP-2024-0042"])
        #expect(try p.vault.monthlyReport(month: Lifecycle.day(Date()).prefix(7).description).holds.map(\.caseNumber) == ["CP-2024-0042"])
        #expect(try p.vault.verify().isClean)
    }

    /// A supervisor does not release a director's hold; nothing moves out
    /// of a held case.
    @Test func aHoldBindsTheSupervisorAndTheMoves() throws {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        try p.file(Array("notes".utf8), name: "Notes")
        try p.vault.setHold("CP-2024-0042", placing: true, reason: "court order", by: p["dora"])
        #expect(throws: VaultError.self) { try p.vault.setHold("CP-2024-0042", placing: false, reason: "done", by: p["halima"]) }
        #expect(throws: VaultError.self) {
            try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", reason: "x", by: p["grace"])
        }
        try p.vault.setHold("CP-2024-0042", placing: false, reason: "order lifted", by: p["dora"])
        try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Notes", to: "CP-2024-0043", reason: "misfiled", by: p["grace"])
    }

    /// `report monthly`, `due` and `audit controls` load the whole state
    /// map into memory first; a node edited, added or deleted by hand must
    /// still be refused there, in a process that had not yet checked it.
    @Test func theCommandsThatLoadTheMapWholeStillRefuseItsEditedRows() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("notes".utf8), name: "Notes")
        let month = Lifecycle.day(Date()).prefix(7).description
        // Untouched, a fresh process gives the same answers as the one that wrote.
        let fresh = try Vault.open(at: p.vault.path)
        #expect(try fresh.monthlyReport(month: month).byStatus == p.vault.monthlyReport(month: month).byStatus)
        #expect(try fresh.due() == p.vault.due())
        // A stray node (a leaf for a key the map never held) changes nothing.
        try p.tamper("INSERT INTO state_nodes (path, kind, hash, first, second) VALUES (x'00ff80', 0, zeroblob(32), randomblob(32), randomblob(32))")
        #expect(try Vault.open(at: p.vault.path).due() == p.vault.due())
        // The case's own leaf edited (not one that opening the vault reads): each command refuses it
        // as a node that does not hash to what its parent names, the message of a walk's own check.
        let leaf = SHA256.hash(Array(StateKey.case("CP-2024-0042").utf8))
        try attack(p.vault, "UPDATE state_nodes SET second = zeroblob(32) WHERE kind = 0 AND first = ?", arguments: [Data(leaf)])
        expectIntegrity("does not match the signed state") { _ = try Vault.open(at: p.vault.path).monthlyReport(month: month, recount: true) }
        expectIntegrity("does not match the signed state") { _ = try Vault.open(at: p.vault.path).due() }
        expectIntegrity("does not match the signed state") { _ = try Vault.open(at: p.vault.path).controlsReport() }
    }

    /// The node hash does not frame its two halves: the hold's leaf re-cut
    /// (one byte moved from its value to its key) hashes as before. Loaded
    /// into memory as it is, it would prove "no hold" for the case, and the
    /// hold row deleted by hand would go unseen. The scan leaves it out and
    /// the walk refuses it.
    @Test func aLeafRecutAcrossItsHalvesIsNeitherLoadedNorBelieved() throws {
        let p = try Programme()
        try p.openCase()
        try p.vault.setHold("CP-2024-0042", placing: true, reason: "court order", by: p["dora"])
        let leaf = SHA256.hash(Array(StateKey.hold("CP-2024-0042").utf8))
        try attack(p.vault, "UPDATE state_nodes SET first = CAST(first || substr(second, 1, 1) AS BLOB), second = CAST(substr(second, 2) AS BLOB) "
                   + "WHERE kind = 0 AND first = ?", arguments: [Data(leaf)])
        try p.tamper("DELETE FROM holds")
        expectIntegrity("a node is malformed") {
            _ = try Vault.open(at: p.vault.path).monthlyReport(month: Lifecycle.day(Date()).prefix(7).description, recount: true)
        }
        expectIntegrity("a node is malformed") { _ = try Vault.open(at: p.vault.path).controlsReport() }
        expectIntegrity("a node is malformed") { _ = try Vault.open(at: p.vault.path).holds() }
    }

    @Test func aDeletedMapNodeIsFoundByTheCommandsThatLoadTheMapWhole() throws {
        let p = try Programme()
        try p.openCase()
        // The case's own leaf: both read it.
        let leaf = SHA256.hash(Array(StateKey.case("CP-2024-0042").utf8))
        try attack(p.vault, "DELETE FROM state_nodes WHERE kind = 0 AND first = ?", arguments: [Data(leaf)])
        expectIntegrity("a node is missing") {
            _ = try Vault.open(at: p.vault.path).monthlyReport(month: Lifecycle.day(Date()).prefix(7).description, recount: true)
        }
        expectIntegrity("a node is missing") { _ = try Vault.open(at: p.vault.path).due() }
    }

    /// A hold deleted by hand (to let a disposal through) is caught.
    @Test func aHoldDeletedOrAddedByHandIsCaught() throws {
        let p = try Programme()
        try p.openCase()
        try p.vault.setHold("CP-2024-0042", placing: true, reason: "court order", by: p["dora"])
        try p.tamper("DELETE FROM holds")
        expectIntegrity("legal hold of CP-2024-0042") {
            try p.vault.setHold("CP-2024-0042", placing: true, reason: "x", by: p["dora"])
        }
        // Listing it, showing the case, reporting: none shows the hold gone.
        expectIntegrity("legal hold of CP-2024-0042") { _ = try p.vault.holds() }
        expectIntegrity("legal hold of CP-2024-0042") { _ = try p.vault.hold(of: "CP-2024-0042") }
        expectIntegrity("legal hold of CP-2024-0042") { _ = try p.vault.monthlyReport(month: "2026-12", recount: true) }
        expectIntegrity("legal holds are not as many") { _ = try p.vault.monthlyReport(month: "2026-12") }
        #expect(try p.vault.verify().findings.contains { $0.kind == .rowMissing && $0.subject == "holds CP-2024-0042" })
        expectIntegrity("breaks the rules") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.holdReleased(CaseHold(case: "CP-2024-0042", reason: "x"))], by: p["grace"], at: Date(),
                                  vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
    }
}
