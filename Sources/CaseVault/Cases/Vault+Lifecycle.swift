public import Foundation

/// A change of a case's status, as the signed log records it.
public struct StatusChange: Sendable, Equatable {
    /// The event that made it.
    public let seq: Int64
    public let from: CaseStatus
    public let to: CaseStatus
    public let at: Date
    /// Who signed it (for an approved closure, the approving supervisor).
    public let by: String
    public let reason: String
    /// For an approved closure: the case manager who asked for it.
    public let requestedBy: String?
}

/// A case manager's request to close a case, awaiting its supervisor.
public struct ClosureRequest: Sendable, Equatable {
    public let caseNumber: String
    /// The event that asked.
    public let seq: Int64
    public let at: Date
    public let requestedBy: String
    public let approver: String
    public let reason: String
}

/// What `changeStatus` did.
public enum StatusOutcome: Sendable, Equatable {
    /// The case moved.
    case changed(CaseFile)
    /// A manager's closure now awaits the approver.
    case awaitingApproval(ClosureRequest)
}

extension Vault {
    /// Moves a case's status (manual §5.2; `Lifecycle` holds the rules).
    /// A case manager closing a case names its supervisor as `approvedBy`:
    /// the closure then waits for `approveClosure`. Reopening a closed case
    /// is `reopenCase`. Every check reads the signed state.
    public func changeStatus(of number: String, to status: CaseStatus, reason: String, approvedBy: String? = nil,
                             by actor: StaffIdentity, now: Date = Date()) throws -> StatusOutcome {
        let parsed = try CaseNumber.parse(number).description
        try Self.check(Lifecycle.refusal(reason: reason))
        if approvedBy != nil, status != .closed {
            throw VaultError.invalidInput("--approved-by is for closing a case (status C)")
        }
        let pending: ClosureRequest? = try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.keptCase(parsed)
            let record = state.case
            if record.status == CaseStatus.closed.rawValue, status == .open {
                throw VaultError.invalidInput("\(parsed) is closed: reopen it with 'casevault case reopen \(parsed) --reason TEXT'")
            }
            let closureFiled = status == .closed ? try signed.closureFiled(parsed) : false
            let event: EventData
            if let approvedBy {
                try Self.check(Lifecycle.refusal(requestingClosureOf: record, approver: approvedBy, by: actor.id, closureFiled: closureFiled))
                event = .closureRequested(ClosureRequested(case: parsed, approver: approvedBy, reason: reason))
            } else {
                try Self.check(Lifecycle.refusal(moving: record, to: status, by: actor.id, closureFiled: closureFiled))
                event = .statusChanged(StatusChanged(case: parsed, from: record.status, to: status.rawValue, reason: reason))
            }
            try Ledger.append([event], by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            guard approvedBy != nil, let request = try head.signedState(writer).lifecycle(parsed).pendingClosure else { return nil }
            return try ClosureRequest(request)
        }
        if let pending { return .awaitingApproval(pending) }
        return .changed(try caseFile(parsed))
    }

    /// Reopens a closed case (C → O), by its supervisor.
    @discardableResult
    public func reopenCase(_ number: String, reason: String, by actor: StaffIdentity, now: Date = Date()) throws -> CaseFile {
        let parsed = try CaseNumber.parse(number).description
        try Self.check(Lifecycle.refusal(reason: reason))
        try write { writer, head in
            let state = try head.signedState(writer).keptCase(parsed)
            guard state.case.status == CaseStatus.closed.rawValue else {
                throw VaultError.invalidInput("\(parsed) is \(state.case.status), not closed; 'casevault case status' moves an open case")
            }
            try Self.check(Lifecycle.refusal(moving: state.case, to: .open, by: actor.id, closureFiled: false))
            let event = EventData.statusChanged(StatusChanged(case: parsed, from: state.case.status, to: CaseStatus.open.rawValue, reason: reason))
            try Ledger.append([event], by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
        }
        return try caseFile(parsed)
    }

    /// Approves the closure a case's manager asked for, by the supervisor
    /// it names; the case closes.
    @discardableResult
    public func approveClosure(of number: String, by actor: StaffIdentity, now: Date = Date()) throws -> CaseFile {
        let parsed = try CaseNumber.parse(number).description
        try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.keptCase(parsed)
            let pending = try signed.lifecycle(parsed).pendingClosure
            guard let pending else { throw VaultError.invalidInput("no closure of \(parsed) is awaiting approval") }
            try Self.check(Lifecycle.refusal(approving: pending.seq, pending: pending, of: state.case, by: actor.id,
                                             closureFiled: try signed.closureFiled(parsed)))
            let event = EventData.closureApproved(ClosureApproved(case: parsed, request: pending.seq))
            try Ledger.append([event], by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
        }
        return try caseFile(parsed)
    }

    /// A case's status changes in order, and the closure awaiting approval.
    public func statusHistory(of number: String) throws -> (changes: [StatusChange], pending: ClosureRequest?) {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in
            let signed = head.signedState(reader)
            guard head.size > 0, try signed.caseState(parsed) != nil else { throw head.size > 0 ? try signed.missingCase(parsed) : VaultError.notFound("no case \(parsed)") }
            let lifecycle = try signed.lifecycle(parsed)
            return (try lifecycle.changes.map(StatusChange.init), try lifecycle.pendingClosure.map(ClosureRequest.init))
        }
    }

    /// A rule's refusal as the command's error: who signs (access denied)
    /// or what the rule forbids (invalid input).
    static func check(_ refusal: Lifecycle.Refusal?) throws {
        switch refusal {
        case nil: return
        case .role(let text)?: throw VaultError.accessDenied(text)
        case .rule(let text)?: throw VaultError.invalidInput(text)
        }
    }
}

extension StatusChange {
    init(_ record: StatusChangeRecord) throws {
        guard let from = CaseStatus(rawValue: record.from), let to = CaseStatus(rawValue: record.to),
              let at = Timestamp.date(from: record.at) else {
            throw VaultError.integrityFailure("a status change of \(record.caseNumber) is damaged")
        }
        self.init(seq: record.seq, from: from, to: to, at: at, by: record.by, reason: record.reason, requestedBy: record.requestedBy)
    }
}

extension ClosureRequest {
    init(_ record: ClosureRequestRecord) throws {
        guard let at = Timestamp.date(from: record.at) else {
            throw VaultError.integrityFailure("the closure request of \(record.caseNumber) is damaged")
        }
        self.init(caseNumber: record.caseNumber, seq: record.seq, at: at, requestedBy: record.requestedBy, approver: record.approver, reason: record.reason)
    }
}

/// Tags flag cases for attention (`case-of-concern`, `high-risk`, …):
/// 1 to 32 characters of a-z, 0-9 and '-', starting with a letter or digit.
public enum CaseTags {
    /// The tag the monthly report lists.
    public static let caseOfConcern = "case-of-concern"
    public static let suggested = ["case-of-concern", "high-risk", "medical-needs", "legal-proceedings", "separated-child"]

    public static func isValid(_ tag: String) -> Bool {
        guard (1...32).contains(tag.utf8.count), let first = tag.unicodeScalars.first, first != "-" else { return false }
        return tag.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}

extension Vault {
    /// Puts a tag on a case, or takes it off: the case's manager or
    /// supervisor, or a project director. A signed event either way.
    public func tagCase(_ number: String, _ tag: String, adding: Bool, by actor: StaffIdentity, now: Date = Date()) throws {
        let parsed = try CaseNumber.parse(number).description
        guard CaseTags.isValid(tag) else {
            throw VaultError.invalidInput("'\(tag)' is not a tag: use 1 to 32 of a-z, 0-9 and '-', e.g. \(CaseTags.suggested.joined(separator: ", "))")
        }
        try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.keptCase(parsed)
            guard actor.id == state.case.manager || actor.id == state.case.supervisor || actor.role == .projectDirector else {
                throw VaultError.accessDenied("only the case's manager (\(state.case.manager)) or supervisor (\(state.case.supervisor)), or a project director, tags \(parsed)")
            }
            let present = try signed.tags(parsed).contains { $0.tag == tag }
            if adding, present { throw VaultError.alreadyExists("\(parsed) is already tagged \(tag)") }
            if !adding, !present { throw VaultError.notFound("\(parsed) is not tagged \(tag)") }
            let data = CaseTagged(case: parsed, tag: tag)
            try Ledger.append([adding ? .tagAdded(data) : .tagRemoved(data)], by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
        }
    }

    /// A case's tags, by tag.
    public func tags(of number: String) throws -> [String] {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in
            let signed = head.signedState(reader)
            guard head.size > 0, try signed.caseState(parsed) != nil else { throw head.size > 0 ? try signed.missingCase(parsed) : VaultError.notFound("no case \(parsed)") }
            return try signed.tags(parsed).map(\.tag)
        }
    }
}

// MARK: The aged-out clock and what is due

extension Vault {
    /// The day an AO case closes (`YYYY-MM-DD`, UTC): six months after it
    /// became AO, or as its supervisor extended it; nil unless it is AO.
    public func agedOutClosingDay(of number: String) throws -> String? {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in
            let signed = head.signedState(reader)
            guard head.size > 0, let state = try signed.caseState(parsed) else { throw head.size > 0 ? try signed.missingCase(parsed) : VaultError.notFound("no case \(parsed)") }
            return Lifecycle.agedOutClosingDay(state.case, try signed.lifecycle(parsed))
        }
    }

    /// Moves an AO case's closing date later ("unless otherwise agreed"),
    /// by its supervisor, with a reason.
    public func extendAgedOut(_ number: String, until: String, reason: String, by actor: StaffIdentity, now: Date = Date()) throws {
        let parsed = try CaseNumber.parse(number).description
        try Self.check(Lifecycle.refusal(reason: reason))
        try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.keptCase(parsed)
            try Self.check(Lifecycle.refusal(extending: state.case, try signed.lifecycle(parsed), until: until, by: actor.id, at: now))
            try Ledger.append([.agedOutExtended(AgedOutExtended(case: parsed, until: until, reason: reason))],
                              by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
        }
    }

    /// Closes every AO case whose closing day has come (`number` alone when
    /// given), each by a signed `case.ao-closed`; returns the cases closed.
    /// Filing into such a case does this first, so its stamp says C.
    @discardableResult
    public func closeAgedOutCases(_ number: String? = nil, by actor: StaffIdentity, now: Date = Date()) throws -> [String] {
        guard Policy.agedOutClosingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("an aged-out case is closed on its day by its supervisor, a project director or an admin; '\(actor.id)' is \(actor.role.withArticle)")
        }
        let only = try number.map { try CaseNumber.parse($0).description }
        func closures(_ signed: SignedState) throws -> [EventData] {
            // Every case, against the signed count: a status row edited away
            // from AO must not hide a case from its closing.
            let candidates: [CaseState]
            if let only {
                candidates = try signed.caseState(only).map { [$0] } ?? []
            } else {
                candidates = try signed.cases(matching: CaseQuery())
            }
            var events: [EventData] = []
            // Not one transferred to another vault: it closes there, and its copy here is read-only.
            for state in candidates where state.case.isOpenWorkHere && state.case.status == CaseStatus.agedOut.rawValue
                && (actor.role != .caseSupervisor || state.case.supervisor == actor.id) {
                guard let closing = Lifecycle.agedOutClosingDay(state.case, try signed.lifecycle(state.case.number)),
                      let closingDate = Lifecycle.parseDay(closing), now >= closingDate else { continue }
                events.append(.agedOutClosed(AgedOutClosed(case: state.case.number, closedOn: closing)))
            }
            return events
        }
        // A read first: most calls (every filing) find nothing to close and
        // take no write lock.
        guard try read({ reader, head in head.size > 0 ? try closures(head.signedState(reader)) : [] }).isEmpty == false else { return [] }
        return try write { writer, head in
            let events = try closures(head.signedState(writer))
            guard !events.isEmpty else { return [] }
            try Ledger.append(events, by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            return events.compactMap { if case .agedOutClosed(let data) = $0 { data.case } else { nil } }
        }
    }

    /// What needs attention as of `asOf` (manual §5.2), from the signed
    /// catalog alone, among the cases this vault keeps (not those
    /// transferred to another): AO cases closing within `warnDays` or past their day;
    /// open, inactive and aged-out cases with nothing filed for `idleDays`;
    /// open cases with no home-visit or monitoring form for `visitDays`;
    /// closures awaiting approval.
    public func due(asOf: Date = Date(), idleDays: Int = 90, visitDays: Int = 30, warnDays: Int = 30) throws -> [DueItem] {
        try read { reader, head in
            guard head.size > 0 else { return [] }
            let signed = head.signedState(reader)
            try signed.preloadNodes()
            return try Self.due(in: signed, asOf: asOf, idleDays: idleDays, visitDays: visitDays, warnDays: warnDays)
        }
    }

    /// `due` within a snapshot the caller holds (the monthly report's),
    /// over `cases` when the caller has already read every case (checked
    /// against `count/cases`), else over every case.
    static func due(in signed: SignedState, asOf: Date, idleDays: Int = 90, visitDays: Int = 30, warnDays: Int = 30,
                    cases: [CaseState]? = nil) throws -> [DueItem] {
        let window = DueWindow(asOf: asOf, idleDays: idleDays, visitDays: visitDays, warnDays: warnDays)
        var items: [DueItem] = []
        let cases = try cases ?? signed.cases(matching: CaseQuery())
        if cases.count > 64 { try signed.prefetchCaseRecords(cases.map(\.case.number)) }
        for state in cases {
            let record = state.case
            // A case transferred to another vault is that office's work: its copy here is read-only.
            guard record.isOpenWorkHere, let status = CaseStatus(rawValue: record.status) else { continue }
            let lifecycle = try signed.lifecycle(record.number)
            if let item = window.agedOutItem(record, lifecycle) { items.append(item) }
            if let pending = lifecycle.pendingClosure { items.append(DueItem.awaitingApproval(pending)) }
            let (lastFiled, lastVisit) = try signed.filingDays(of: record)
            if lastFiled < window.idleSince {
                items.append(DueItem(caseNumber: record.number, kind: .idle, date: lastFiled,
                                     detail: "nothing filed since \(lastFiled) (over \(idleDays) days)"))
            }
            if status == .open, (lastVisit ?? "") < window.visitSince, String(record.openedAt.prefix(10)) < window.visitSince {
                items.append(DueItem(caseNumber: record.number, kind: .noRecentVisit, date: lastVisit,
                                     detail: lastVisit.map { "last home-visit or monitoring form \($0) (over \(visitDays) days)" }
                                         ?? "no home-visit or monitoring form filed yet"))
            }
        }
        return items
    }
}

/// The days `due` compares against, as of a day (formatted once: formatting
/// a date per case was 4 % of a 100,000-case report).
struct DueWindow {
    let today: String
    /// Idle: nothing filed on or after this day.
    let idleSince: String
    /// No recent visit: no home-visit or monitoring form on or after this day.
    let visitSince: String
    /// An aged-out case closing on or before this day is listed.
    let warnUntil: String

    init(asOf: Date, idleDays: Int = 90, visitDays: Int = 30, warnDays: Int = 30) {
        func daysAgo(_ n: Int) -> String { Lifecycle.day(asOf.addingTimeInterval(-Double(n) * 86_400)) }
        today = Lifecycle.day(asOf)
        (idleSince, visitSince) = (daysAgo(idleDays), daysAgo(visitDays))
        warnUntil = Lifecycle.day(asOf.addingTimeInterval(Double(warnDays) * 86_400))
    }

    /// An aged-out case closing within the window, or past its day.
    func agedOutItem(_ record: CaseRecord, _ lifecycle: LifecycleState) -> DueItem? {
        guard let closing = Lifecycle.agedOutClosingDay(record, lifecycle), closing <= warnUntil else { return nil }
        return DueItem(caseNumber: record.number, kind: .agedOutClosing, date: closing,
                       detail: closing <= today ? "aged out: closing day \(closing) has come; it closes when next touched, or with 'casevault due --close-aged-out'"
                                                : "aged out: closes on \(closing) unless its supervisor extends it")
    }
}

/// One thing `due` lists.
public struct DueItem: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case agedOutClosing = "aged-out-closing"
        case closureAwaitingApproval = "closure-awaiting-approval"
        case idle = "idle"
        case noRecentVisit = "no-recent-visit"
    }
    /// The form types that count as a home visit or monitoring.
    static let visitFormTypes: Set<String> = ["home-visit", "monitoring-reassessment"]

    static func awaitingApproval(_ pending: ClosureRequestRecord) -> DueItem {
        DueItem(caseNumber: pending.caseNumber, kind: .closureAwaitingApproval, date: String(pending.at.prefix(10)),
                detail: "closure asked for by \(pending.requestedBy), awaiting \(pending.approver)")
    }

    public let caseNumber: String
    public let kind: Kind
    /// The day it is about (`YYYY-MM-DD`), when there is one.
    public let date: String?
    public let detail: String
}

// MARK: The confidentiality policy

extension Vault {
    /// The default always-confidential types, for help text.
    public static var defaultConfidentialTypesText: String { Policy.defaultConfidentialTypes.joined(separator: ", ") }

    /// The document types always filed to the confidential tier, and
    /// whether an admin set them (else they are the defaults).
    public func confidentialTypes() throws -> (types: [String], setBy: String?, at: Date?) {
        try read { reader, head in
            guard head.size > 0 else { return (Policy.defaultConfidentialTypes, nil, nil) }
            let policy = try head.signedState(reader).confidentialTypes()
            return (policy.types, policy.record?.by, policy.record.flatMap { Timestamp.date(from: $0.at) })
        }
    }

    /// Sets the always-confidential document types (admins). Versions
    /// already filed keep their tier; a document once confidential stays so.
    public func setConfidentialTypes(_ types: [String], by actor: StaffIdentity, now: Date = Date()) throws {
        guard actor.role == .admin else { throw VaultError.accessDenied("only an admin sets the vault's policy; '\(actor.id)' is \(actor.role.withArticle)") }
        for type in types { try Self.validate(documentType: type) }
        var seen = Set<[UInt8]>()
        let sorted = types.filter { seen.insert(Array($0.utf8)).inserted }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard sorted.count <= Policy.maxConfidentialTypes else {
            throw VaultError.invalidInput("at most \(Policy.maxConfidentialTypes) types")
        }
        _ = try write { writer, head in
            try Ledger.append([.confidentialTypesSet(ConfidentialTypesSet(types: sorted))], by: actor, at: now, vaultID: config.vaultId,
                              head: &head, in: writer)
        }
    }
}

// MARK: Legal holds

/// A legal hold standing on a case.
public struct LegalHold: Sendable, Equatable {
    public let caseNumber: String
    public let at: Date
    public let by: String
    public let reason: String

    init(_ record: HoldRecord) throws {
        guard let at = Timestamp.date(from: record.at) else {
            throw VaultError.integrityFailure("the legal hold of \(record.caseNumber) is damaged")
        }
        (caseNumber, self.at, by, reason) = (record.caseNumber, at, record.by, record.reason)
    }
}

extension Vault {
    /// Places a legal hold on a case, or releases it (project directors,
    /// admins, the case's supervisor): nothing of a held case is disposed
    /// of, whatever the retention schedule says. A signed event with why.
    public func setHold(_ number: String, placing: Bool, reason: String, by actor: StaffIdentity, now: Date = Date()) throws {
        let parsed = try CaseNumber.parse(number).description
        try Self.check(Lifecycle.refusal(reason: reason))
        try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.existingCase(parsed)
            guard Policy.holdRoles.contains(actor.role), actor.role != .caseSupervisor || actor.id == state.case.supervisor else {
                throw VaultError.accessDenied("legal holds are placed and released by project directors, admins and the case's supervisor (\(state.case.supervisor))")
            }
            let standing = try signed.hold(parsed)
            if placing, let standing { throw VaultError.alreadyExists("\(parsed) is already on hold since \(standing.at) (\(standing.by))") }
            if !placing, standing == nil { throw VaultError.notFound("\(parsed) is not on hold") }
            if !placing, let standing, actor.role == .caseSupervisor, standing.by != actor.id {
                throw VaultError.accessDenied("a case supervisor releases only a hold they placed; \(standing.by) placed this one")
            }
            if !placing, let standing, let why = try Self.holdReleaseRefusal(standing, by: actor.id, role: actor.role, signed) {
                throw VaultError.accessDenied(why)
            }
            let data = CaseHold(case: parsed, reason: reason)
            try Ledger.append([placing ? .holdPlaced(data) : .holdReleased(data)], by: actor, at: now, vaultID: config.vaultId,
                              head: &head, in: writer)
        }
    }

    /// Why `actor` may not release `standing` (from format 4; nil when they
    /// may): a hold is released by whoever placed it, or by a project
    /// director, or (an admin's hold) another admin, who was on the staff
    /// before the hold was placed. An admin, who adds staff and sets the
    /// retention policy, cannot lift a director's or a supervisor's hold,
    /// nor add a director to lift it. Once the placer can no longer release
    /// it and no member who could is on the staff, a project director on
    /// the staff now may, unless the member who added them recorded one of
    /// the departures since the hold, so that no hold outlives everyone who
    /// could lift it. What this cannot stop: an admin chooses a new
    /// member's first passphrase, so an admin who records those departures
    /// can add a second admin they act as, and a director through them
    /// (SECURITY.md §12: admins are trusted with who is on the staff; each
    /// step is a signed event).
    static func holdReleaseRefusal(_ standing: HoldRecord, by actor: String, role: Role, _ signed: SignedState) throws -> String? {
        if actor == standing.by { return nil }
        let placerRecord = try signed.staff(standing.by)
        let placer = placerRecord.flatMap { Role(rawValue: $0.role) }
        func mayRelease(_ member: StaffRecord) -> Bool {
            member.addedSeq < standing.seq
                && (member.role == Role.projectDirector.rawValue || (placer == .admin && member.role == Role.admin.rawValue))
        }
        let who = "'\(standing.by)'\(placer.map { ", \($0.withArticle)," } ?? "") placed the hold on \(standing.caseNumber): it is released by them, "
            + "or by a project director\(placer == .admin ? " or an admin" : "") who was on the staff when it was placed"
        guard role == .projectDirector || (role == .admin && placer == .admin) else { return who }
        guard let member = try signed.staff(actor) else { return who }
        if mayRelease(member) { return nil }
        // The fallback: the placer can no longer release it (they left, or, a supervisor, no longer
        // supervise the case), no one who could is still on the staff, and the director releasing it
        // was not added by an admin who recorded one of those departures (one admin alone may not
        // empty the staff of those who could lift a hold and add their own director to lift it).
        if role == .projectDirector, let placerRecord {
            let supervisor = try signed.caseState(standing.caseNumber)?.case.supervisor
            let placerGone = placerRecord.left != nil || (placer == .caseSupervisor && supervisor != standing.by)
            let all = try signed.allStaff()
            // The departures that emptied the staff of those who could: the placer's, and those of members who
            // could release it and left after it was placed (earlier ones have nothing to do with this hold).
            let departures = Set(([placerRecord] + all.filter { mayRelease($0) && ($0.left?.seq ?? 0) > standing.seq }).compactMap { $0.left?.by })
            if placerGone, !all.contains(where: { $0.left == nil && mayRelease($0) }) {
                if let adder = member.addedBy, departures.contains(adder) {
                    return who + "; they and those who could release it are gone, but '\(actor)' was added by '\(adder)', "
                        + "who recorded one of those departures: another project director releases it"
                }
                return nil
            }
        }
        return who + " ('\(actor)' joined the staff after it was placed, at event \(standing.seq))"
    }

    /// The holds standing, by case: every case's `hold/<case>` checked, so
    /// a hold row deleted by hand is an integrity failure, not a hold gone.
    public func holds() throws -> [LegalHold] {
        try read { reader, head in
            head.size > 0 ? try Self.holds(in: head.signedState(reader)) : []
        }
    }

    /// `holds` within a snapshot the caller holds.
    static func holds(in signed: SignedState, cases: [CaseState]? = nil) throws -> [LegalHold] {
        try (cases ?? signed.cases(matching: CaseQuery())).compactMap { state in try signed.hold(state.case.number).map(LegalHold.init) }
    }

    /// The hold standing on one case, checked.
    public func hold(of number: String) throws -> LegalHold? {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in
            guard head.size > 0 else { return nil }
            return try head.signedState(reader).hold(parsed).map(LegalHold.init)
        }
    }
}
