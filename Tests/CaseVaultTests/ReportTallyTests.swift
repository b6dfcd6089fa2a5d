@testable import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation
import Testing

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

/// Every part of a report but where it came from.
func reportSummary(_ r: SupervisionReport) -> [String] {
    [r.month, "\(r.byStatus)", "\(r.byCategoryAndStatus)", "\(r.opened)", "\(r.closed)", "\(r.agedOut)", "\(r.reopened)",
     "\(r.transferredIn)", "\(r.transferredOut)", "\(r.caseloads)", "\(r.supervision)", "\(r.casesOfConcern)", "\(r.overdue)",
     "\(r.overdueByManager)", "\(r.holds)"]
}

/// The report from the tallies is the report counted from every case.
func expectTalliedReportsAgree(_ vault: Vault, months: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    for month in months {
        let tallied = try vault.monthlyReport(month: month), counted = try vault.monthlyReport(month: month, recount: true)
        #expect(tallied.talliesSince != nil && counted.talliesSince == nil, sourceLocation: sourceLocation)
        #expect(reportSummary(tallied) == reportSummary(counted), "\(month)", sourceLocation: sourceLocation)
    }
}

/// The monthly report's running tallies (issue 9; SECURITY.md §12a, "Report
/// tallies"): the report they give is the one counted from every case, they
/// are replayed by `verify`, an old vault counts until they are started, and
/// a tally or listing row edited by hand is refused.
@Suite struct ReportTallyTests {
    func date(_ text: String) -> Date { try! Date(text + "T09:00:00Z", strategy: .iso8601) }

    func summary(_ r: SupervisionReport) -> [String] { reportSummary(r) }

    func expectSameReports(_ vault: Vault, months: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        try expectTalliedReportsAgree(vault, months: months, sourceLocation: sourceLocation)
    }

    func fileForm(_ p: Programme, _ number: String, type: String, example: String, on day: String, name: String? = nil) throws {
        let path = p.scratch.file("form-" + UUID().uuidString + ".json")
        try Data(contentsOf: repository.appendingPathComponent("Schemas/examples/\(example).json")).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try p.vault.fileForm(caseNumber: number, type: type, name: name, from: .file(path: path), by: p["grace"], now: date(day),
                             timeZone: TimeZone(identifier: "UTC")!)
    }

    /// A year of a small office's work, in time order: openings in several
    /// months and categories, every status move, a reopening, a closure
    /// awaiting approval, home visits, a withdrawn visit, tags and holds.
    /// Month by month the tallies give what counting every case gives.
    @Test func talliesGiveTheReportACountOfEveryCaseGives() throws {
        let p = try Programme()
        func open(_ client: Int, _ category: String, _ manager: String, on day: String) throws -> String {
            try p.vault.openCase(category: category, admitted: 2026, clientNumber: client, managerID: manager, supervisorID: "halima",
                                 by: p["halima"], now: date(day)).number.description
        }
        let a = try open(1, "CP", "grace", on: "2026-01-05")
        let b = try open(2, "CP", "joseph", on: "2026-01-20")
        let c = try open(3, "UASC", "grace", on: "2026-02-02")
        let d = try open(4, "CP", "grace", on: "2026-03-15")
        let e = try open(5, "UASC", "joseph", on: "2026-04-01")
        try fileForm(p, a, type: "home-visit", example: "home-visit", on: "2026-02-10")
        try fileForm(p, c, type: "home-visit", example: "home-visit", on: "2026-03-01", name: "Visit")
        try fileForm(p, c, type: "home-visit", example: "home-visit", on: "2026-05-01", name: "Visit")
        try p.vault.withdraw(caseNumber: c, document: "Visit", version: 2, reason: "wrong child", by: p["grace"], now: date("2026-05-02"))
        _ = try p.vault.changeStatus(of: a, to: .inactive, reason: "no contact", by: p["grace"], now: date("2026-03-20"))
        _ = try p.vault.changeStatus(of: a, to: .open, reason: "contact again", by: p["grace"], now: date("2026-04-20"))
        _ = try p.vault.changeStatus(of: b, to: .agedOut, reason: "18", by: p["joseph"], now: date("2026-02-25"))
        try p.fileClosureForm(into: c)
        _ = try p.vault.changeStatus(of: c, to: .closed, reason: "reunified", by: p["halima"], now: date("2026-06-10"))
        try p.vault.reopenCase(c, reason: "new concern", by: p["halima"], now: date("2026-07-02"))
        try p.fileClosureForm(into: d)
        _ = try p.vault.changeStatus(of: d, to: .closed, reason: "moved away", approvedBy: "halima", by: p["grace"], now: date("2026-07-10"))
        try p.vault.tagCase(a, "case-of-concern", adding: true, by: p["halima"], now: date("2026-05-05"))
        try p.vault.tagCase(e, "case-of-concern", adding: true, by: p["halima"], now: date("2026-05-06"))
        try p.vault.tagCase(e, "case-of-concern", adding: false, by: p["halima"], now: date("2026-06-06"))
        try p.vault.tagCase(b, "high-risk", adding: true, by: p["joseph"], now: date("2026-06-07"))
        try p.vault.setHold(e, placing: true, reason: "court order", by: p["dora"], now: date("2026-07-01"))
        try p.vault.setHold(b, placing: true, reason: "complaint", by: p["dora"], now: date("2026-07-01"))
        try p.vault.setHold(b, placing: false, reason: "resolved", by: p["dora"], now: date("2026-07-15"))

        let months = (1...9).map { String(format: "2026-%02d", $0) } + ["2025-12"]
        try expectSameReports(p.vault, months: months)
        // A fresh process, which has checked nothing yet, reads the same.
        try expectSameReports(try Vault.open(at: p.vault.path), months: months)
        let july = try p.vault.monthlyReport(month: "2026-07")
        #expect(july.reopened == [c] && july.byStatus.map { "\($0.key)=\($0.count)" } == ["O=4", "AO=1"])
        #expect(july.overdue.map(\.kind) == [.agedOutClosing, .closureAwaitingApproval] && july.overdue.map(\.caseNumber) == [b, d])
        #expect(july.casesOfConcern == [a] && july.holds.map(\.caseNumber) == [e])
        let verified = try p.vault.verify()
        #expect(verified.isClean, "\(verified.findings)")
        #expect(try ReplayTests.compare(p.vault).isEmpty)
    }

    /// A month's activity over two chunks of 128 entries, written in
    /// one event at a time and, in an older vault, all at once by
    /// report.tallies-started: read back whole, as counted.
    @Test func aMonthsActivityOverManyChunksReadsBackWhole() throws {
        let p = try Programme()
        for client in 1...100 {
            _ = try p.vault.openCase(category: client % 3 == 0 ? "UASC" : "CP", admitted: 2026, clientNumber: client,
                                     managerID: client % 2 == 0 ? "grace" : "joseph", supervisorID: "halima", by: p["halima"],
                                     now: date("2026-03-0\(1 + client % 9)"))
        }
        for client in stride(from: 2, through: 100, by: 2) {
            _ = try p.vault.changeStatus(of: String(format: "CP-2026-%04d", client).replacingOccurrences(of: "CP-", with: client % 3 == 0 ? "UASC-" : "CP-"),
                                         to: .agedOut, reason: "turned 18", by: p["grace"], now: date("2026-03-20"))
        }
        let march = try p.vault.monthlyReport(month: "2026-03")
        #expect(ActivityChunk.size == 128)  // the signed layout of every vault that keeps tallies
        #expect(march.opened.count == 100 && march.agedOut.count == 50)
        #expect(try p.vault.store.read { try $0.tally(key: StateKey.tallyActivity("2026-03", chunk: 1)) } != nil)  // 150 entries: 2 chunks
        try expectSameReports(p.vault, months: ["2026-02", "2026-03", "2026-04"])
        #expect(try p.vault.verify().isClean)
    }

    /// The UTC day of a stamp's date is worked out by hand (signed state must
    /// not hang on a date parser): it agrees with Foundation's, across
    /// offsets, month and year ends and leap days, and refuses other text.
    @Test func theUTCDayOfAStampAgreesWithFoundation() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let instant = Date(timeIntervalSince1970: Double(Int64.random(in: -2_000_000_000...6_000_000_000, using: &generator)))
            let minutes = Int.random(in: -14 * 60...14 * 60, using: &generator)
            let zone = TimeZone(secondsFromGMT: minutes * 60)!
            let text = Stamp.dateString(instant, in: zone)
            #expect(Lifecycle.utcDay(ofStamp: text) == Lifecycle.day(instant), "\(text)")
        }
        #expect(Lifecycle.utcDay(ofStamp: "2024-02-29T23:30:00-01:00") == "2024-03-01")
        #expect(Lifecycle.utcDay(ofStamp: "2027-01-01T01:00:00+03:00") == "2026-12-31")
        #expect(Lifecycle.utcDay(ofStamp: "2026-12-03T11:00:00Z") == "2026-12-03")
        #expect(Lifecycle.utcDay(ofStamp: "2027-01-01T01:00:00+0300") == "2026-12-31")  // as one early build wrote it
        for bad in ["2026-02-29T10:00:00Z", "2026-12-03T24:00:00Z", "2026-12-03 11:00:00Z", "2026-12-03T11:00:00", "2026-12-03T11:00:00.5Z",
                    "2026-12-03T11:00:00+03", "2026-12-03T11:00:00+03:0", "２026-12-03T11:00:00Z", "2026-13-03T11:00:00Z", ""] {
            #expect(Lifecycle.utcDay(ofStamp: bad) == nil, "\(bad)")
        }
    }

    /// The settings fingerprint `init` prints is what an older init printed:
    /// `tallies`, which every vault now signs, is not a setting.
    @Test func theSettingsFingerprintLeavesTalliesOut() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        var members: [String: JSONValue] = [:]
        var created = vault.config.vaultCreated
        #expect(created.tallies == true)
        created.tallies = nil
        if case .object(let data) = try JSONValueEncoder().encode(created) { members = data }
        members["vaultId"] = .string(vault.config.vaultId)
        let digest = Array(SHA256.hash(JSONValue.object(members).canonicalBytes).prefix(16)).hexString
        #expect(vault.config.settingsFingerprint.replacingOccurrences(of: "-", with: "") == digest)
    }

    /// A vault made before the tallies (the committed format-2 fixture) is
    /// counted case by case; once an admin starts them, the report comes
    /// from them and says the same, and the vault still verifies.
    @Test func anOlderVaultIsCountedUntilTalliesStart() throws {
        let scratch = Scratch()
        let copy = scratch.file("vault-format-2")
        try FileManager.default.copyItem(atPath: FixtureVaultTests.fixtures.appendingPathComponent("vault-format-2").path, toPath: copy)
        let vault = try Vault.open(at: copy)
        let month = String(Lifecycle.day(Date()).prefix(7))
        let before = try vault.monthlyReport(month: month)
        #expect(before.talliesSince == nil && before.byStatus.map(\.count).reduce(0, +) == 1)
        let grace = try vault.unlock(staffID: "grace", passphrase: try scratch.passphrase("grace fixture passphrase"))
        #expect(throws: VaultError.self) { _ = try vault.startReportTallies(by: grace) }
        let dora = try vault.unlock(staffID: "dora", passphrase: try scratch.passphrase("dora fixture passphrase"))
        #expect(try vault.startReportTallies(by: dora) == 1)
        #expect(throws: VaultError.self) { _ = try vault.startReportTallies(by: dora) }
        let started = try #require(try vault.events().last)
        #expect(started.type == "report.tallies-started" && started.actor == "dora")
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: repository.appendingPathComponent("Schemas/event.schema.json"))) as! [String: Any]
        let definition = (schema["$defs"] as! [String: [String: Any]])["report.tallies-started"]!
        let data = (try JSONSerialization.jsonObject(with: Data(started.body.utf8)) as! [String: Any])["data"] as! [String: Any]
        #expect(Set(data.keys) == Set(definition["required"] as! [String]) && data["cases"] as? Int == 1)
        let after = try vault.monthlyReport(month: month)
        #expect(after.talliesSince != nil && summary(after) == summary(before))
        let opened = String(Lifecycle.day(try vault.caseFile("CP-2024-0042").openedAt).prefix(7))
        try expectSameReports(vault, months: [opened, month])
        #expect(try vault.verify().isClean)
        #expect(try ReplayTests.compare(vault).isEmpty)
    }

    /// Two cases of this month: 0042 on hold, 0043 tagged case-of-concern.
    func holdAndConcern() throws -> (Programme, String) {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        try p.vault.setHold("CP-2024-0042", placing: true, reason: "court order", by: p["dora"])
        try p.vault.tagCase("CP-2024-0043", "case-of-concern", adding: true, by: p["halima"])
        return (p, String(Lifecycle.day(Date()).prefix(7)))
    }

    /// The report believes no tally row the signed state does not back, and
    /// a listing row deleted or added by hand is found by its count.
    @Test func aTallyOrListingRowEditedByHandIsRefused() throws {
        let (p, month) = try holdAndConcern()
        #expect(try p.vault.monthlyReport(month: month).casesOfConcern == ["CP-2024-0043"])

        // A chunk of the month's activity deleted: the report misses a part, not an opening.
        try p.tamper("DELETE FROM report_tallies WHERE key = 'tally/month/\(month)/0'")
        expectIntegrity("report tally tally/month/\(month)/0 is in the signed log but missing") {
            _ = try Vault.open(at: p.vault.path).monthlyReport(month: month)
        }
        #expect(try p.vault.verify().findings.contains { $0.subject == "report tallies tally/month/\(month)/0" })
        // A month's counts edited: refused, and verify names the row.
        try p.tamper("UPDATE report_tallies SET record = CAST(replace(CAST(record AS TEXT), '\"O\":2', '\"O\":1') AS BLOB) WHERE key = 'tally/month/\(month)'")
        expectIntegrity("report tally tally/month/\(month)") { _ = try Vault.open(at: p.vault.path).monthlyReport(month: month) }
        #expect(try p.vault.verify().findings.contains { $0.subject == "report tallies tally/month/\(month)" })
        // (The recount reads no tally.)
        #expect(try Vault.open(at: p.vault.path).monthlyReport(month: month, recount: true).byStatus.first?.count == 2)
    }

    @Test func aHoldOrConcernRowDeletedOrAddedByHandIsFound() throws {
        let (p, month) = try holdAndConcern()
        try p.tamper("DELETE FROM holds")
        expectIntegrity("legal holds are not as many") { _ = try Vault.open(at: p.vault.path).monthlyReport(month: month) }
        // One forged for another case keeps the count, and fails its own check.
        try p.tamper("INSERT INTO holds (case_number, seq, at, by, reason) VALUES ('CP-2024-0043', 9, '2026-01-01T00:00:00Z', 'dora', 'x')")
        expectIntegrity("legal hold of CP-2024-0043") { _ = try Vault.open(at: p.vault.path).monthlyReport(month: month) }
        try p.tamper("DELETE FROM case_tags")
        expectIntegrity("cases of concern are not as many") { _ = try Vault.open(at: p.vault.path).monthlyReport(month: month) }
        #expect(try p.vault.verify().findings.contains { $0.subject == "case tags CP-2024-0043 case-of-concern" })
    }
}
