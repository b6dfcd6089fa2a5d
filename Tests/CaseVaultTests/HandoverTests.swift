@testable import CaseVault
import Foundation
import Testing

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

/// Issue 10, item 1: what blocks a departing member's handover, from the
/// catalog and the signed reads alone.
@Suite struct HandoverReadinessTests {
    static func date(_ day: String) -> Date { try! Date(day + "T09:00:00Z", strategy: .iso8601) }

    @discardableResult
    func form(_ p: Programme, _ type: String, into number: String = "CP-2024-0042", by id: String, on day: String) throws -> String {
        let path = repository.appendingPathComponent("Schemas/examples/\(type).json").path
        return try p.vault.fileForm(caseNumber: number, type: type, from: .file(path: path), by: p[id], now: Self.date(day)).document
    }

    func kinds(_ p: Programme, _ id: String = "grace", asOf day: String = "2026-09-30") throws -> [String] {
        try p.vault.handoverReadiness(of: id, asOf: Self.date(day)).flatMap { result in
            result.blockers.map { "\(result.caseNumber) \($0.kind.rawValue)" + ($0.document.map { " \($0)" } ?? "") }
        }
    }

    @Test func listsMissingFormsVisitsStalePlansAndUnreadFilingsUntilEachIsDealtWith() throws {
        let p = try Programme()
        _ = try p.vault.openCase(category: "CP", admitted: 2024, clientNumber: 42, managerID: "grace", supervisorID: "halima",
                                 by: p["halima"], now: Self.date("2026-06-01"))
        let intake = try form(p, "intake", by: "farah", on: "2026-06-02")
        #expect(try kinds(p) == [
            "CP-2024-0042 missing-document", "CP-2024-0042 missing-document", "CP-2024-0042 no-recent-visit",
            "CP-2024-0042 unread-filings \(intake)",
        ])
        let first = try #require(try p.vault.handoverReadiness(of: "grace", asOf: Self.date("2026-09-30")).first)
        #expect(first.role == "manager" && first.status == .open && !first.isReady)
        #expect(first.blockers.map(\.detail).prefix(2) == ["no current assessment form, which a case in status O needs",
                                                          "no current care-plan form, which a case in status O needs"])
        #expect(first.blockers.last?.detail == "1 version(s) filed by others (farah) and never read by grace")

        // Grace reads the intake, files the assessment and a care plan in June;
        // a home visit is filed by someone else in September.
        _ = try p.read("CP-2024-0042", intake, by: "grace")
        let assessment = try form(p, "assessment", by: "grace", on: "2026-06-05")
        let plan = try form(p, "care-plan", by: "grace", on: "2026-06-10")
        let visit = try form(p, "home-visit", by: "farah", on: "2026-09-20")
        #expect(try kinds(p) == ["CP-2024-0042 stale-care-plan \(plan)", "CP-2024-0042 unread-filings \(visit)"])
        // A newer intake version filed by someone else is unread again, and
        // reading the older one again does not make it read (a review found it did).
        try form(p, "intake", by: "farah", on: "2026-09-21")
        #expect(try kinds(p).contains("CP-2024-0042 unread-filings \(intake)"))
        _ = try p.read("CP-2024-0042", intake, version: 1, by: "grace")
        let unread = try p.vault.handoverReadiness(of: "grace", asOf: Self.date("2026-09-30")).first?.blockers.last { $0.document == intake }
        #expect(unread?.detail.hasPrefix("1 version(s) filed by others (farah) after the newest version grace read (v1, on ") == true)

        // Everything dealt with: ready.
        try form(p, "care-plan", by: "grace", on: "2026-09-25")
        _ = try p.read("CP-2024-0042", visit, by: "grace")
        _ = try p.read("CP-2024-0042", intake, by: "grace")
        #expect(try kinds(p).isEmpty)
        #expect(try p.vault.handoverReadiness(of: "grace", asOf: Self.date("2026-09-30")).map(\.isReady) == [true])
        // The supervisor's view of the same case: what she has not read.
        let halima = try #require(try p.vault.handoverReadiness(of: "halima", asOf: Self.date("2026-09-30")).first)
        #expect(halima.role == "supervisor")
        #expect(halima.blockers.map(\.kind) == Array(repeating: .unreadFilings, count: 4))
        #expect(Set(halima.blockers.compactMap(\.document)) == [intake, visit, plan, assessment])
    }

    @Test func anAgedOutCaseNeedsItsTransitionPlanAndOnlyTheMembersOpenCasesAreChecked() throws {
        let p = try Programme()
        for client in [42, 43, 44] {
            _ = try p.vault.openCase(category: "CP", admitted: 2024, clientNumber: client, managerID: client == 44 ? "joseph" : "grace",
                                     supervisorID: "halima", by: p["halima"], now: Self.date("2026-09-29"))
        }
        _ = try p.vault.changeStatus(of: "CP-2024-0043", to: .agedOut, reason: "turned 18", by: p["grace"])
        #expect(try kinds(p) == ["CP-2024-0042 missing-document", "CP-2024-0042 missing-document", "CP-2024-0042 missing-document",
                                 "CP-2024-0043 missing-document"])
        // Rules can be changed per status.
        var rules = HandoverRules()
        rules.required[.open] = ["intake"]
        rules.required[.agedOut] = []
        let relaxed = try p.vault.handoverReadiness(of: "grace", rules: rules, asOf: Self.date("2026-09-30"))
        #expect(relaxed.map { "\($0.caseNumber) \($0.blockers.count)" } == ["CP-2024-0042 1", "CP-2024-0043 0"])
        // --cases: only the member's own.
        #expect(try p.vault.handoverReadiness(of: "grace", cases: ["CP-2024-0043"], asOf: Self.date("2026-09-30")).map(\.caseNumber) == ["CP-2024-0043"])
        #expect(throws: VaultError.invalidInput("CP-2024-0044 is not an open case of grace (neither its manager nor its supervisor)")) {
            _ = try p.vault.handoverReadiness(of: "grace", cases: ["CP-2024-0044"])
        }
        #expect(throws: VaultError.notFound("no case CP-2024-0099")) { _ = try p.vault.handoverReadiness(of: "grace", cases: ["CP-2024-0099"]) }
        #expect(throws: VaultError.notFound("no staff member 'nobody'")) { _ = try p.vault.handoverReadiness(of: "nobody") }
        // A closed case is not handed over.
        try p.fileClosureForm(into: "CP-2024-0042")
        _ = try p.vault.changeStatus(of: "CP-2024-0042", to: .closed, reason: "reunified", by: p["halima"])
        #expect(try p.vault.handoverReadiness(of: "grace").map(\.caseNumber) == ["CP-2024-0043"])
    }

    @Test func aReadEditedByHandIsCaughtAndADeletedOneCountsAsUnread() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("notes".utf8), name: "Notes", type: "note")
        _ = try p.read("CP-2024-0042", "Notes", by: "grace")
        #expect(!(try kinds(p, asOf: "2026-12-31")).contains { $0.hasSuffix("unread-filings Notes") })
        // The read moved to another document by hand: the log refuses it.
        try p.tamper("UPDATE events SET body = CAST(replace(CAST(body AS TEXT), '\"Notes\"', '\"Other\"') AS BLOB) WHERE type = 'content.read'")
        expectIntegrity("was altered after it was signed") { _ = try p.vault.handoverReadiness(of: "grace") }
        // The read deleted: the document counts as unread (the check errs towards reading again).
        try p.tamper("UPDATE events SET type = 'content.refused' WHERE type = 'content.read'")
        #expect(try kinds(p, asOf: "2026-12-31").contains("CP-2024-0042 unread-filings Notes"))
    }
}
