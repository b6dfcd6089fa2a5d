@testable import CaseVault
import CaseVaultCrypto
import Foundation
import Testing

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

extension Programme {
    func fileClosureForm(into number: String = "CP-2024-0042") throws {
        let path = scratch.file("closure-" + UUID().uuidString + ".json")
        try Data(contentsOf: repository.appendingPathComponent("Schemas/examples/closure.json")).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try vault.fileForm(caseNumber: number, type: "closure", from: .file(path: path), by: self["grace"])
    }

    @discardableResult
    func move(_ status: CaseStatus, by id: String, approvedBy: String? = nil, reason: String = "as agreed in supervision") throws -> StatusOutcome {
        try vault.changeStatus(of: "CP-2024-0042", to: status, reason: reason, approvedBy: approvedBy, by: self[id])
    }

    var status: CaseStatus { get throws { try vault.caseFile("CP-2024-0042").status } }
}

private func expectRefused(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    #expect(sourceLocation: sourceLocation) { try body() } throws: { error in
        switch error as? VaultError {
        case .invalidInput(let message)?, .accessDenied(let message)?: return message.contains(fragment)
        default: return false
        }
    }
}

/// Issue 9, item 1: the status lifecycle of manual §5.2.
@Suite struct LifecycleTests {
    @Test func aCaseWalksThroughEveryAllowedMove() throws {
        let p = try Programme()
        try p.openCase()
        try p.move(.inactive, by: "grace", reason: "no contact for six weeks")       // O → IA, manager
        try p.move(.open, by: "halima", reason: "family traced")                      // IA → O, supervisor
        try p.move(.inactive, by: "halima")                                           // O → IA
        try p.fileClosureForm()
        try p.move(.closed, by: "halima", reason: "child left the country")           // IA → C
        try p.vault.reopenCase("CP-2024-0042", reason: "returned", by: p["halima"])   // C → O
        try p.move(.closed, by: "halima")                                             // O → C
        try p.vault.reopenCase("CP-2024-0042", reason: "new concern", by: p["halima"])
        try p.move(.agedOut, by: "grace", reason: "turned 18; transition plan")       // O → AO
        try p.move(.closed, by: "halima", reason: "transition complete")              // AO → C
        #expect(try p.status == .closed)

        let history = try p.vault.statusHistory(of: "CP-2024-0042")
        #expect(history.changes.map { "\($0.from.rawValue)>\($0.to.rawValue)" }
                == ["O>IA", "IA>O", "O>IA", "IA>C", "C>O", "O>C", "C>O", "O>AO", "AO>C"])
        #expect(history.changes.first?.by == "grace")
        #expect(history.changes.first?.reason == "no contact for six weeks")
        #expect(history.pending == nil)
        // The catalog is still exactly what the log says.
        let report = try p.vault.verify()
        #expect(report.isClean, "\(report.findings)")
    }

    /// Every move not in the table is refused, naming the rule.
    @Test(arguments: [CaseStatus.open, .inactive, .agedOut, .closed])
    func everyDisallowedMoveIsRefused(from start: CaseStatus) throws {
        let p = try Programme()
        try p.openCase()
        try p.fileClosureForm()
        switch start {
        case .open: break
        case .inactive: try p.move(.inactive, by: "halima")
        case .agedOut: try p.move(.agedOut, by: "halima")
        case .closed: try p.move(.closed, by: "halima")
        }
        let allowed = Lifecycle.moves[start]!
        for target in CaseStatus.allCases where !allowed.contains(target) {
            if target == start {
                expectRefused("already \(start.rawValue)") { try p.move(target, by: "halima") }
            } else {
                expectRefused("\(start.rawValue) → \(target.rawValue) is not an allowed move") { try p.move(target, by: "halima") }
            }
        }
        if start == .closed {
            expectRefused("casevault case reopen") { try p.move(.open, by: "halima") }
        } else {
            expectRefused("not closed") { try p.vault.reopenCase("CP-2024-0042", reason: "x", by: p["halima"]) }
        }
        #expect(try p.status == start)
    }

    @Test func aManagerAloneCannotClose() throws {
        let p = try Programme()
        try p.openCase()
        try p.fileClosureForm()
        expectRefused("does not close a case alone") { try p.move(.closed, by: "grace") }
        expectRefused("approved by its supervisor (halima), not 'dora'") { try p.move(.closed, by: "grace", approvedBy: "dora") }
        expectRefused("is for closing") { try p.move(.inactive, by: "grace", approvedBy: "halima") }
        let outcome = try p.move(.closed, by: "grace", approvedBy: "halima", reason: "durable solution reached")
        guard case .awaitingApproval(let request) = outcome else { Issue.record("\(outcome)"); return }
        #expect(request.approver == "halima" && request.requestedBy == "grace")
        #expect(try p.status == .open)  // not closed until approved
        #expect(try p.vault.statusHistory(of: "CP-2024-0042").pending == request)
        // Only the supervisor it names approves: not the manager, another manager, a director, an admin.
        for id in ["grace", "joseph", "dora", "amina", "farah"] {
            #expect(throws: VaultError.self, "\(id)") { try p.vault.approveClosure(of: "CP-2024-0042", by: p[id]) }
        }
        try p.vault.approveClosure(of: "CP-2024-0042", by: p["halima"])
        #expect(try p.status == .closed)
        let change = try #require(try p.vault.statusHistory(of: "CP-2024-0042").changes.last)
        #expect(change.by == "halima" && change.requestedBy == "grace" && change.reason == "durable solution reached")
        #expect(try p.vault.statusHistory(of: "CP-2024-0042").pending == nil)
        expectRefused("no closure") { try p.vault.approveClosure(of: "CP-2024-0042", by: p["halima"]) }
        #expect(try p.vault.verify().isClean)
    }

    @Test func closingNeedsAFiledClosureForm() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("a closure letter, not the form".utf8), name: "Closure", type: "closure")
        expectRefused("needs a filed closure form") { try p.move(.closed, by: "halima") }
        expectRefused("needs a filed closure form") { try p.move(.closed, by: "grace", approvedBy: "halima") }
        try p.fileClosureForm()
        try p.move(.closed, by: "halima")
        #expect(try p.status == .closed)
    }

    @Test func onlyTheCasesManagerOrSupervisorMovesIt() throws {
        let p = try Programme()
        try p.openCase()
        for id in ["joseph", "dora", "amina", "farah", "peter"] {
            expectRefused("changes the status of CP-2024-0042") { try p.move(.inactive, by: id) }
        }
        try p.fileClosureForm()
        try p.move(.closed, by: "halima")
        expectRefused("only the case's supervisor (halima) reopens") {
            try p.vault.reopenCase("CP-2024-0042", reason: "x", by: p["grace"])
        }
        expectRefused("give a reason") { try p.vault.reopenCase("CP-2024-0042", reason: "  ", by: p["halima"]) }
        #expect(try p.status == .closed)
    }

    @Test func versionsAreStampedWithTheStatusInForceWhenFiled() throws {
        let p = try Programme()
        try p.openCase()
        let first = try p.file(Array("before".utf8))
        try p.move(.inactive, by: "grace")
        let second = try p.file(Array("after".utf8))
        try p.move(.open, by: "grace")
        try p.move(.agedOut, by: "halima")
        let third = try p.file(Array("transition".utf8))
        #expect([first, second, third].map(\.stamp.caseStatus) == [.open, .inactive, .agedOut])
        #expect(try p.vault.caseFile("CP-2024-0042").label == "CP-2024-0042 [AO]")
        #expect(try p.vault.cases(matching: { var f = CaseFilter(); f.status = .agedOut; return f }()).count == 1)
    }

    // MARK: Attacks

    /// A member who signs a move the rules forbid (here a manager closing
    /// alone, going around the command) is refused by the projection:
    /// nothing is appended.
    @Test func aManagerSigningHerOwnClosureIsRefusedByTheProjection() throws {
        let p = try Programme()
        try p.openCase()
        try p.fileClosureForm()
        let before = try p.vault.store.read { try $0.lastEventSeq() }
        let forged: [(String, EventData)] = [
            ("grace", .statusChanged(StatusChanged(case: "CP-2024-0042", from: "O", to: "C", reason: "alone"))),
            ("grace", .closureApproved(ClosureApproved(case: "CP-2024-0042", request: before))),
            ("joseph", .statusChanged(StatusChanged(case: "CP-2024-0042", from: "O", to: "IA", reason: "not mine"))),
            ("halima", .statusChanged(StatusChanged(case: "CP-2024-0042", from: "IA", to: "O", reason: "wrong from"))),
            ("halima", .statusChanged(StatusChanged(case: "CP-2024-0042", from: "O", to: "X", reason: "unknown"))),
            ("halima", .statusChanged(StatusChanged(case: "CP-2024-0042", from: "O", to: "IA", reason: ""))),
            ("grace", .closureRequested(ClosureRequested(case: "CP-2024-0042", approver: "grace", reason: "self-approval"))),
            ("dora", .closureApproved(ClosureApproved(case: "CP-2024-0042", request: 1))),
        ]
        for (id, data) in forged {
            expectIntegrity("breaks the rules") {
                _ = try p.vault.write { writer, head in
                    try Ledger.append([data], by: p[id], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
        #expect(try p.vault.store.read { try $0.lastEventSeq() } == before)
        #expect(try p.status == .open)
    }

    /// Rows written by hand: a status, a history row, a closure request.
    @Test func editedLifecycleRowsAreIntegrityFailuresAndVerifyFindings() throws {
        let p = try Programme()
        try p.openCase()
        try p.move(.inactive, by: "grace", reason: "no contact")
        try p.fileClosureForm()

        // The case's status put back to O: stamps would lie.
        try p.tamper("UPDATE cases SET status = 'O'")
        expectIntegrity("case CP-2024-0042") { _ = try p.file(Array("x".utf8)) }
        try p.tamper("UPDATE cases SET status = 'IA'")

        // The reason rewritten.
        try p.tamper("UPDATE status_changes SET reason = 'child died'")
        expectIntegrity("status history of CP-2024-0042") { _ = try p.vault.statusHistory(of: "CP-2024-0042") }
        var report = try p.vault.verify()
        #expect(report.findings.contains { $0.kind == .rowChanged && $0.subject.hasPrefix("status changes CP-2024-0042") })
        try p.tamper("UPDATE status_changes SET reason = 'no contact'")
        #expect(try p.vault.verify().isClean)

        // A closure request forged by hand, for halima to approve unawares.
        try p.tamper("""
            INSERT INTO closure_requests (case_number, seq, at, requested_by, approver, reason)
            VALUES ('CP-2024-0042', 3, '2026-01-01T00:00:00Z', 'grace', 'halima', 'forged')
            """)
        expectIntegrity("status history of CP-2024-0042") { try p.vault.approveClosure(of: "CP-2024-0042", by: p["halima"]) }
        report = try p.vault.verify()
        #expect(report.findings.contains { $0.kind == .rowAdded && $0.subject == "closure requests CP-2024-0042" })
        try p.tamper("DELETE FROM closure_requests")

        // The history deleted.
        try p.tamper("DELETE FROM status_changes")
        expectIntegrity("status history of CP-2024-0042") { _ = try p.vault.statusHistory(of: "CP-2024-0042") }
        report = try p.vault.verify()
        #expect(report.findings.contains { $0.kind == .rowMissing && $0.subject.hasPrefix("status changes CP-2024-0042") })
    }
}

/// Issue 9, item 2: the aged-out clock and `due`.
@Suite struct AgedOutClockTests {
    func date(_ text: String) -> Date { try! Date(text, strategy: .iso8601) }

    func agedOut(on day: String) throws -> Programme {
        let p = try Programme()
        try p.openCase()
        _ = try p.vault.changeStatus(of: "CP-2024-0042", to: .agedOut, reason: "turned 18", by: p["grace"], now: date(day + "T10:00:00Z"))
        return p
    }

    @Test func anAgedOutCaseClosesSixMonthsLaterAndNotBefore() throws {
        let p = try agedOut(on: "2026-01-31")
        #expect(try p.vault.agedOutClosingDay(of: "CP-2024-0042") == "2026-07-31")
        #expect(try p.vault.closeAgedOutCases(by: p["halima"], now: date("2026-07-30T23:59:59Z")) == [])
        #expect(try p.status == .agedOut)
        // Not by its manager (who could date a move to AO in the past), a
        // records officer or an auditor; by a director.
        for id in ["grace", "farah", "peter"] {
            #expect(throws: VaultError.self, "\(id)") { try p.vault.closeAgedOutCases(by: p[id], now: date("2026-07-31T00:00:01Z")) }
        }
        #expect(try p.vault.closeAgedOutCases(by: p["dora"], now: date("2026-07-31T00:00:01Z")) == ["CP-2024-0042"])
        #expect(try p.status == .closed)
        let change = try #require(try p.vault.statusHistory(of: "CP-2024-0042").changes.last)
        #expect(change.from == .agedOut && change.to == .closed && change.by == "dora")
        #expect(change.reason == "aged out: closed on 2026-07-31, 6 months after it became AO")
        #expect(try p.vault.agedOutClosingDay(of: "CP-2024-0042") == nil)
        #expect(try p.vault.verify().isClean)
    }

    /// A bulk filing by someone who may sign the closure closes an aged-out
    /// case whose day has come before anything is filed (on the committing
    /// thread, before any group is prepared), so every version, grouped or
    /// not, is stamped with the status in force: C. A records officer's
    /// batch leaves it AO, stamped AO.
    @Test func aBulkFilingClosesAnAgedOutCaseFirstWhenItsFilerMay() throws {
        for (filer, expected) in [("dora", CaseStatus.closed), ("farah", CaseStatus.agedOut)] {
            let p = try agedOut(on: "2026-01-31")
            let requests = try (0..<5).map { i -> FilingRequest in
                let name = "note-\(i).txt"
                try Data("note \(i)\n".utf8).write(to: URL(fileURLWithPath: p.scratch.file(name)))
                return FilingRequest(caseNumber: "CP-2024-0042", name: nil, kind: .document(type: "report"), confidential: false,
                                     path: p.scratch.file(name), origin: name)
            }
            let batch = try p.vault.checkBatch(requests, by: filer)
            #expect(Vault.filingUnits(batch.items, journaled: [:]).count == 1)
            let result = try p.vault.fileBatch(batch, journal: nil, by: p[filer], now: date("2026-08-02T09:00:00Z"))
            #expect(result.failure == nil && result.filed.count == 5, "\(filer)")
            #expect(result.filed.allSatisfy { $0.caseStatus == expected }, "\(filer): \(result.filed.map(\.caseStatus))")
            #expect(try p.status == expected)
            #expect(try p.vault.verify().isClean)
        }
    }

    @Test(arguments: [("2026-08-31", "2027-02-28"), ("2027-08-31", "2028-02-29"), ("2028-02-29", "2028-08-29"), ("2026-12-31", "2027-06-30")])
    func theLastDayOfAShorterMonthCounts(became: String, closes: String) throws {
        let p = try agedOut(on: became)
        #expect(try p.vault.agedOutClosingDay(of: "CP-2024-0042") == closes)
    }

    /// A move to AO at 23:59:59 UTC counts from that UTC day.
    @Test func theDayIsTheUTCDay() throws {
        let p = try Programme()
        try p.openCase()
        _ = try p.vault.changeStatus(of: "CP-2024-0042", to: .agedOut, reason: "18", by: p["grace"], now: date("2026-03-31T23:59:59Z"))
        #expect(try p.vault.agedOutClosingDay(of: "CP-2024-0042") == "2026-09-30")
    }

    @Test func anExtensionByTheSupervisorKeepsItOpenUntilItsDay() throws {
        let p = try agedOut(on: "2026-01-31")
        let early = date("2026-07-01T09:00:00Z")
        for (id, until, fragment) in [("grace", "2026-09-30", "only the case's supervisor"), ("halima", "2026-07-15", "an extension moves that later"),
                                      ("halima", "2026-02-30", "is not a date"), ("halima", "30/09/2026", "is not a date")] {
            #expect(throws: VaultError.self, "\(id) \(until) \(fragment)") {
                try p.vault.extendAgedOut("CP-2024-0042", until: until, reason: "agreed at case conference", by: p[id], now: early)
            }
        }
        try p.vault.extendAgedOut("CP-2024-0042", until: "2026-09-30", reason: "transition plan runs to September", by: p["halima"], now: early)
        #expect(try p.vault.agedOutClosingDay(of: "CP-2024-0042") == "2026-09-30")
        #expect(try p.vault.closeAgedOutCases(by: p["halima"], now: date("2026-08-01T00:00:00Z")) == [])
        #expect(try p.status == .agedOut)
        // A records officer filing after the day cannot close it: the stamp
        // says AO and due lists it; its supervisor filing closes it first.
        let byOfficer = try p.file(Array("after the extension".utf8), now: date("2026-10-01T08:00:00Z"))
        #expect(byOfficer.stamp.caseStatus == .agedOut)
        #expect(try p.vault.due(asOf: date("2026-10-01T09:00:00Z")).contains { $0.kind == .agedOutClosing })
        let bySupervisor = try p.file(Array("closing note".utf8), name: "Note", by: "halima", now: date("2026-10-01T10:00:00Z"))
        #expect(bySupervisor.stamp.caseStatus == .closed)
        let change = try #require(try p.vault.statusHistory(of: "CP-2024-0042").changes.last)
        #expect(change.reason == "aged out: closed on 2026-09-30, at the end of its extension" && change.by == "halima")
        let report = try p.vault.verify()
        #expect(report.isClean, "\(report.findings)")
    }

    /// Signed around the command: before the day, on the wrong day, by an
    /// auditor; an extension row written by hand.
    @Test func theClockCannotBeCheated() throws {
        let p = try agedOut(on: "2026-01-31")
        let forged: [(String, Date, EventData)] = [
            ("halima", date("2026-07-30T12:00:00Z"), .agedOutClosed(AgedOutClosed(case: "CP-2024-0042", closedOn: "2026-07-31"))),
            ("halima", date("2026-08-30T12:00:00Z"), .agedOutClosed(AgedOutClosed(case: "CP-2024-0042", closedOn: "2026-07-30"))),
            ("peter", date("2026-08-30T12:00:00Z"), .agedOutClosed(AgedOutClosed(case: "CP-2024-0042", closedOn: "2026-07-31"))),
            // The manager, who moved it to AO (and could have dated that move
            // in the past), does not sign its closure.
            ("grace", date("2026-08-30T12:00:00Z"), .agedOutClosed(AgedOutClosed(case: "CP-2024-0042", closedOn: "2026-07-31"))),
            ("farah", date("2026-08-30T12:00:00Z"), .agedOutClosed(AgedOutClosed(case: "CP-2024-0042", closedOn: "2026-07-31"))),
            ("grace", date("2026-07-01T12:00:00Z"), .agedOutExtended(AgedOutExtended(case: "CP-2024-0042", until: "2027-01-01", reason: "x"))),
        ]
        for (id, at, data) in forged {
            expectIntegrity("breaks the rules") {
                _ = try p.vault.write { writer, head in
                    try Ledger.append([data], by: p[id], at: at, vaultID: p.vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
        try p.tamper("""
            INSERT INTO ao_extensions VALUES ('CP-2024-0042', 9, '2026-07-01T00:00:00Z', 'halima', '2030-01-01', 'forged')
            """)
        expectIntegrity("status history of CP-2024-0042") { _ = try p.vault.agedOutClosingDay(of: "CP-2024-0042") }
        #expect(try p.vault.verify().findings.contains { $0.kind == .rowAdded && $0.subject == "aged-out extensions CP-2024-0042" })
    }

    @Test func dueListsWhatNeedsAttention() throws {
        let p = try Programme()
        try p.openCase()                               // open, nothing filed since opening (today)
        try p.openCase(client: 43, manager: "joseph")
        try p.fileClosureForm(into: "CP-2024-0043")
        _ = try p.vault.changeStatus(of: "CP-2024-0043", to: .closed, reason: "done", approvedBy: "halima", by: p["joseph"])
        let now = Date()
        _ = try p.vault.changeStatus(of: "CP-2024-0042", to: .agedOut, reason: "turned 18", by: p["grace"], now: now)
        // As of seven months on: the AO case's day has come, and it is idle.
        let later = now.addingTimeInterval(210 * 86_400)
        let items = try p.vault.due(asOf: later)
        #expect(Set(items.map { "\($0.caseNumber) \($0.kind.rawValue)" }) == [
            "CP-2024-0042 aged-out-closing", "CP-2024-0042 idle", "CP-2024-0043 closure-awaiting-approval", "CP-2024-0043 idle",
            "CP-2024-0043 no-recent-visit",
        ])
        // Today: a fresh open case with no visit yet is not overdue; the AO case closes in six months.
        let today = try p.vault.due(asOf: now)
        #expect(today.map { "\($0.caseNumber) \($0.kind.rawValue)" } == ["CP-2024-0043 closure-awaiting-approval"])
    }
}
