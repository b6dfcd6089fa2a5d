@testable import CaseVault
import CaseVaultCrypto
import Foundation
import Testing

/// Issue 10, item 2: reassignment with shadowing. The handover starts (the
/// incoming member granted, the form filed), the two shadow, and the
/// handover completes (the outgoing member's keys rotate away).
@Suite struct HandoverWorkflowTests {
    static let number = "CP-2024-0042"
    static let start = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21
    static let afterShadowing = start.addingTimeInterval(100 * 86_400)

    static func scene() throws -> Programme {
        let p = try RotationTests.scene()
        return p
    }

    static func drafts(_ p: Programme, to: String = "joseph", cases: [String]? = [number]) throws -> [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: try p.vault.handoverDrafts(from: "grace", to: to, cases: cases, now: start).map {
            ($0.caseNumber, completedHandoverDraft($0.form))
        })
    }

    @Test func aHandoverMovesTheCaseAndTheOutgoingMembersKeysOpenNothingFiledAfter() throws {
        let p = try Self.scene()
        let started = try p.vault.startHandover(from: "grace", to: "joseph", cases: [Self.number], drafts: try Self.drafts(p),
                                                by: p["halima"], now: Self.start)
        #expect(started.map { "\($0.handover.role) \($0.handover.from)→\($0.handover.to) until \($0.handover.shadowUntil) \($0.granted)" }
                == ["manager grace→joseph until 2026-12-21 [CaseVault.Tier.team, CaseVault.Tier.confidential]"])
        let rendered = try #require(started.first?.rendered)
        #expect(rendered.hasPrefix("Case handover\nCase CP-2024-0042 [O] · version 1\n"))
        #expect(rendered.contains("Case Manager:    Grace Otieno") && rendered.contains("Incoming Case Manager:") && rendered.contains("Joseph Mwangi"))
        #expect(try p.vault.handover(of: Self.number)?.to == "joseph")
        // During the shadowing both read; grace is still the manager.
        for reader in ["grace", "joseph"] {
            #expect(try p.read(by: reader) == Array("intake 2".utf8))
            #expect(try p.read(Self.number, "Photo", by: reader) == Array("photo".utf8))
        }
        #expect(try p.vault.caseFile(Self.number).manager.id == "grace")
        // Not before the shadowing ends, unless early with a reason.
        #expect(throws: VaultError.self) { _ = try p.vault.completeHandover(cases: [Self.number], by: p["halima"], now: Self.start) }
        #expect(throws: VaultError.self) { _ = try p.vault.completeHandover(cases: [Self.number], early: true, by: p["halima"], now: Self.start) }
        // What grace could carry away before it completes.
        let graceKeys = try BoxKeyPair(secretKey: p["grace"].boxKeys.secretKey)
        let stolen = try RotationTests.tierSecrets(p, Self.number, with: graceKeys)
        #expect(stolen.count == 2)

        let completed = try p.vault.completeHandover(cases: [Self.number], by: p["halima"], now: Self.afterShadowing)
        #expect(completed.map { "\($0.early) \($0.rotations.map { "\($0.tier) \($0.removed) \($0.resealed)" })" }
                == ["false [\"team [\\\"staff:grace\\\"] 3\", \"confidential [\\\"staff:grace\\\"] 1\"]"])
        #expect(try p.vault.caseFile(Self.number).manager.id == "joseph")
        #expect(try p.vault.handover(of: Self.number) == nil)
        #expect(throws: VaultError.self) { _ = try p.read(by: "grace") }
        // Filed after: the stamp names joseph; grace's stolen keys open nothing new or old in the vault.
        let filed = try p.file(Array("intake 3".utf8), now: Self.afterShadowing)
        #expect(filed.stamp.caseManager == "Joseph Mwangi")
        try p.file(Array("photo 2".utf8), name: "Photo", type: "photo", now: Self.afterShadowing)
        #expect(try !RotationTests.opens(p, Self.number, "Intake form", version: 3, with: stolen))
        #expect(try !RotationTests.opens(p, Self.number, "Photo", version: 2, with: stolen))
        #expect(try !RotationTests.opens(p, Self.number, "Intake form", version: 1, with: stolen))
        // Every document, old and new, reads for the incoming member, the supervisor and the recovery key.
        for reader in ["joseph", "halima"] {
            #expect(try p.read(version: 1, by: reader) == Array("intake 1".utf8))
            #expect(try p.read(by: reader) == Array("intake 3".utf8))
            #expect(try p.read(Self.number, "Photo", version: 1, by: reader) == Array("photo".utf8))
        }
        let recovered = try RotationTests.tierSecrets(p, Self.number, with: try DisposalTests().recoveryKeys(p))
        for version in 1...3 { #expect(try RotationTests.opens(p, Self.number, "Intake form", version: version, with: recovered)) }
        #expect(try RotationTests.opens(p, Self.number, "Photo", version: 2, with: recovered))
        #expect(try p.vault.verify(VerifyOptions(readData: .all)).isClean)
    }

    @Test func onlyTheCasesSupervisorOrADirectorStartsAndTheFormsAreCheckedFirst() throws {
        let p = try Self.scene()
        let drafts = try Self.drafts(p)
        let before = try p.vault.events().count
        for id in ["grace", "farah", "amina"] {
            #expect(throws: VaultError.self) { _ = try p.vault.startHandover(from: "grace", to: "joseph", drafts: drafts, by: p[id], now: Self.start) }
        }
        // The incoming member must be of the outgoing one's role; the shadowing at least three months.
        #expect(throws: VaultError.self) { _ = try p.vault.startHandover(from: "grace", to: "halima", drafts: drafts, by: p["halima"], now: Self.start) }
        #expect(throws: VaultError.self) {
            _ = try p.vault.startHandover(from: "grace", to: "joseph", shadowUntil: "2026-11-30", drafts: drafts, by: p["halima"], now: Self.start)
        }
        // A missing or incomplete form: nothing is signed.
        #expect(throws: VaultError.self) { _ = try p.vault.startHandover(from: "grace", to: "joseph", drafts: [:], by: p["halima"], now: Self.start) }
        let raw = try p.vault.handoverDrafts(from: "grace", to: "joseph", now: Self.start)
        #expect { _ = try p.vault.startHandover(from: "grace", to: "joseph", drafts: [Self.number: raw[0].form], by: p["halima"], now: Self.start) }
            throws: { error in
                guard case VaultError.invalidForm(let report, let violations) = error else { return false }
                return report == "Case handover of CP-2024-0042" && violations.contains { $0.pointer == "/childName" }
            }
        #expect(try p.vault.events().count == before)

        // A project director grants what she holds; the confidential tier awaits the supervisor.
        let started = try p.vault.startHandover(from: "grace", to: "joseph", drafts: drafts, by: p["dora"], now: Self.start)
        #expect(started.first?.granted == [.team] && started.first?.awaitingGrant == [.confidential])
        // Run again with another shadowing: refused; the signed one stands.
        #expect(throws: VaultError.self) {
            _ = try p.vault.startHandover(from: "grace", to: "joseph", shadowUntil: "2027-06-30", drafts: drafts, by: p["dora"], now: Self.start)
        }
        // Run again (as after an interruption): nothing is signed or filed twice.
        let again = try p.vault.startHandover(from: "grace", to: "joseph", drafts: drafts, by: p["dora"], now: Self.start)
        #expect(again.first?.form == nil && again.first?.granted == [])
        #expect(try p.vault.versions(caseNumber: Self.number, document: "Case handover").count == 1)
        // It cannot complete until joseph holds both tiers, and only a holder of both completes it.
        #expect(throws: VaultError.self) { _ = try p.vault.completeHandover(cases: [Self.number], by: p["halima"], now: Self.afterShadowing) }
        try p.vault.grantAccess(to: "joseph", case: Self.number, tier: .confidential, reason: "handover", by: p["halima"])
        #expect(throws: VaultError.self) { _ = try p.vault.completeHandover(cases: [Self.number], by: p["dora"], now: Self.afterShadowing) }
        _ = try p.vault.completeHandover(cases: [Self.number], early: true, reason: "grace left early", by: p["halima"],
                                         now: Self.start.addingTimeInterval(30 * 86_400))
        #expect(try p.vault.caseFile(Self.number).manager.id == "joseph")
        #expect(try p.vault.verify().isClean)
    }

    /// A command that names a case with no handover under way completes
    /// none of the others: every case is checked before the first
    /// completes (a review found the first case completed, and only the
    /// error about the second printed). Each case is reported as it completes.
    @Test func aCompletionRefusedForOneCaseCompletesNone() throws {
        let p = try Self.scene()
        let other = try p.openCase(client: 43)
        _ = try p.vault.startHandover(from: "grace", to: "joseph", cases: [Self.number], drafts: try Self.drafts(p), by: p["halima"], now: Self.start)
        let before = try p.vault.events().count
        #expect(throws: VaultError.notFound("no handover of \(other) is under way")) {
            _ = try p.vault.completeHandover(cases: [Self.number, other], by: p["halima"], now: Self.afterShadowing)
        }
        #expect(try p.vault.events().count == before)
        #expect(try p.vault.caseFile(Self.number).manager.id == "grace")
        #expect(try p.vault.handover(of: Self.number)?.to == "joseph")
        // A director holds no confidential tier: refused up front, with who completes it.
        #expect(throws: VaultError.accessDenied("a project director cannot make the confidential key of \(Self.number) that replaces grace's: its supervisor 'halima' completes the handover")) {
            _ = try p.vault.completeHandover(cases: [Self.number], by: p["dora"], now: Self.afterShadowing)
        }
        var reported: [String] = []
        let done = try p.vault.completeHandover(cases: [Self.number, Self.number], by: p["halima"], now: Self.afterShadowing) {
            reported.append($0.handover.caseNumber)
        }
        #expect(reported == [Self.number] && done.count == 1)
        #expect(try p.vault.caseFile(Self.number).manager.id == "joseph")
    }

    /// An outgoing member who left shadows no one: the handover completes
    /// without --early, the shadowing ended for that reason in the signed event.
    @Test func aHandoverFromAMemberWhoLeftCompletesWithoutWaiting() throws {
        let p = try Self.scene()
        _ = try p.vault.startHandover(from: "grace", to: "joseph", cases: [Self.number], drafts: try Self.drafts(p), by: p["halima"], now: Self.start)
        _ = try p.vault.recordDeparture(of: "grace", reason: "contract ended", by: p["amina"], now: Self.start.addingTimeInterval(86_400))
        let done = try p.vault.completeHandover(cases: [Self.number], by: p["halima"], now: Self.start.addingTimeInterval(2 * 86_400))
        #expect(done.first?.early == true)
        let last = try #require(try p.vault.events().last)
        #expect(last.type == "case.handover-completed" && last.body.contains("\"early\":true") && last.body.contains("\"reason\":\"grace left the staff on 2026-09-22\""))
        #expect(try p.vault.caseFile(Self.number).manager.id == "joseph")
        #expect(try p.vault.verify().isClean)
    }

    /// The form is filed as its caseworkers drafted and signed it: its
    /// reason and shadowing end are the draft's when the command gives
    /// none, and a command that contradicts the draft (its people, its
    /// reason, its end) is refused with nothing signed. (A review found
    /// `start` without the draft's options filing the defaults in their place.)
    @Test func theFormIsFiledAsDraftedOrTheStartIsRefused() throws {
        let p = try Self.scene()
        let drafted = try p.vault.handoverDrafts(from: "grace", to: "joseph", cases: [Self.number], shadowUntil: "2027-01-15",
                                                 reason: .longLeave, now: Self.start)
        let draft = completedHandoverDraft(drafted[0].form)
        let before = try p.vault.events().count
        let contradictions: [(HandoverReason?, String?, String)] = [
            (.leavingTheOrganisation, nil, "the handover form for \(Self.number) gives the reason 'long-leave', not 'leaving-the-organisation': give --reason long-leave, or change the form, or draft it again (casevault handover draft)"),
            (nil, "2027-02-01", "the handover form for \(Self.number) ends the shadowing on 2027-01-15, not 2027-02-01: give --shadow-until 2027-01-15, or change the form, or draft it again (casevault handover draft)"),
        ]
        for (reason, until, message) in contradictions {
            #expect(throws: VaultError.invalidInput(message)) {
                _ = try p.vault.startHandover(from: "grace", to: "joseph", cases: [Self.number], shadowUntil: until, reason: reason,
                                              drafts: [Self.number: draft], by: p["halima"], now: Self.start)
            }
        }
        guard case .object(var other) = draft else { Issue.record("not a form"); return }
        other["incomingCaseManager"] = .object(["name": .string("Halima Abdi"), "staffId": .string("halima")])
        #expect(throws: VaultError.invalidInput("the handover form for \(Self.number) names 'halima' where this handover has 'joseph': change the form, or draft it again (casevault handover draft)")) {
            _ = try p.vault.startHandover(from: "grace", to: "joseph", cases: [Self.number], drafts: [Self.number: .object(other)], by: p["halima"], now: Self.start)
        }
        #expect(throws: VaultError.self) {
            _ = try p.vault.startHandover(from: "grace", to: "joseph", cases: [Self.number], drafts: [Self.number: .array([])], by: p["halima"], now: Self.start)
        }
        #expect(try p.vault.events().count == before)

        // Drafted with the default end and started days later, the end is too close: the form must change, not the command.
        let early = try p.vault.handoverDrafts(from: "grace", to: "joseph", cases: [Self.number], now: Self.start.addingTimeInterval(-5 * 86_400))
        #expect(throws: VaultError.invalidInput("the handover form for \(Self.number) ends the shadowing on 2026-12-16, but it lasts at least 3 months from the day the handover starts (manual §5.2.4): set the form's shadowing end to 2026-12-21 or later and have it signed again, or draft it again (casevault handover draft)")) {
            _ = try p.vault.startHandover(from: "grace", to: "joseph", cases: [Self.number], drafts: [Self.number: completedHandoverDraft(early[0].form)],
                                          by: p["halima"], now: Self.start)
        }
        #expect(try p.vault.events().count == before)
        let started = try p.vault.startHandover(from: "grace", to: "joseph", cases: [Self.number], drafts: [Self.number: draft],
                                                by: p["halima"], now: Self.start)
        #expect(started.first?.handover.shadowUntil == "2027-01-15")
        let (_, filed) = try p.vault.readForm(caseNumber: Self.number, document: "Case handover", version: nil, by: p["halima"], now: Self.start)
        guard case .object(let form) = filed, case .object(let period)? = form["shadowingPeriod"] else { Issue.record("not a form"); return }
        #expect(form["reason"] == .string("long-leave") && period["end"] == .string("2027-01-15"))
        #expect(form == { () -> [String: JSONValue] in
            guard case .object(var expected) = draft else { return [:] }
            expected["pendingActions"] = form["pendingActions"]
            return expected
        }())
    }

    /// The incoming member leaves during the shadowing: the handover is
    /// cancelled, their keys rotate away, grace stays, and another starts.
    @Test func aHandoverWhoseIncomingMemberLeavesIsCancelledAndAnotherStarts() throws {
        let p = try Self.scene()
        _ = try p.vault.startHandover(from: "grace", to: "joseph", drafts: try Self.drafts(p), by: p["halima"], now: Self.start)
        // Signed by hand while joseph still holds the tiers: refused.
        expectIntegrity("'joseph' still holds a tier") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.handoverCancelled(HandoverCancelled(case: Self.number, reason: "x"))], by: p["halima"], at: Self.start,
                                  vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        // The departure says which handover to cancel, and so does a completion tried after it.
        let departure = try p.vault.recordDeparture(of: "joseph", reason: "left during the shadowing", by: p["amina"])
        #expect(departure.handoversToThem == [Self.number])
        let left = try #require(try p.vault.store.read { try $0.staff(id: "joseph")?.left })
        #expect(throws: VaultError.invalidInput("'joseph' left the staff on \(left.at.prefix(10)): cancel this handover (casevault handover cancel \(Self.number) --reason …), then start another")) {
            _ = try p.vault.completeHandover(cases: [Self.number], by: p["halima"], now: Self.afterShadowing)
        }
        #expect(throws: VaultError.self) { _ = try p.vault.cancelHandover(case: Self.number, reason: "joseph left", by: p["grace"]) }
        _ = try p.vault.cancelHandover(case: Self.number, reason: "joseph left", by: p["halima"])
        #expect(try p.vault.handover(of: Self.number) == nil)
        #expect(try p.vault.caseFile(Self.number).manager.id == "grace")
        #expect(try p.read(version: 1, by: "grace") == Array("intake 1".utf8))
        #expect(throws: VaultError.self) { _ = try p.vault.cancelHandover(case: Self.number, reason: "again", by: p["halima"]) }
        #expect(try p.vault.verify().isClean)
    }

    @Test func handoverEventsSignedByHandAgainstTheRulesAreRefused() throws {
        let p = try Self.scene()
        func started(_ from: String = "grace", _ to: String = "joseph", role: String = "manager", until: String = "2026-12-21") -> EventData {
            .handoverStarted(HandoverStarted(case: Self.number, role: role, from: from, to: to, shadowUntil: until))
        }
        func append(_ data: EventData, by id: String, at: Date = Self.start) throws {
            _ = try p.vault.write { writer, head in
                try Ledger.append([data], by: p[id], at: at, vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        let refused: [(String, EventData, String)] = [
            ("grace", started(), "a case manager may not sign case.handover-started"),
            ("halima", started("joseph"), "'joseph' is not the manager"),
            ("halima", started("grace", "farah"), "is not another case manager on the staff"),
            ("halima", started("grace", "grace"), "is not another case manager"),
            ("halima", started(role: "director"), "not 'director'"),
            ("halima", started(until: "2026-12-20"), "at least 3 months"),
            ("halima", started(until: "2026-02-30"), "at least 3 months"),
            ("halima", .handoverCompleted(HandoverCompleted(case: Self.number, early: false, reason: nil)), "no handover of CP-2024-0042"),
        ]
        for (id, data, fragment) in refused { expectIntegrity(fragment) { try append(data, by: id) } }
        try append(started(), by: "halima")
        expectIntegrity("already being handed") { try append(started(), by: "dora") }
        // Completing while grace still holds the tiers, or joseph does not, or at the wrong time.
        let late = Self.afterShadowing
        expectIntegrity("'grace' still holds a tier") {
            try append(.handoverCompleted(HandoverCompleted(case: Self.number, early: false, reason: nil)), by: "halima", at: late)
        }
        expectIntegrity("ending it before is early") {
            try append(.handoverCompleted(HandoverCompleted(case: Self.number, early: false, reason: nil)), by: "halima")
        }
        expectIntegrity("this is no early end") {
            try append(.handoverCompleted(HandoverCompleted(case: Self.number, early: true, reason: "x")), by: "halima", at: late)
        }
        #expect(try p.vault.verify().isClean)
    }
}
