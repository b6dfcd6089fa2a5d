public import Foundation

/// What stands in the way of handing one case over (issue 10, item 1;
/// manual §5.2.4: before a Case Manager leaves, all documentation is up to
/// date). Metadata only: nothing is decrypted.
public struct HandoverReadiness: Sendable, Equatable {
    public struct Blocker: Sendable, Equatable {
        public enum Kind: String, Sendable, CaseIterable {
            /// A form the case's status requires has no current version.
            case missingDocument = "missing-document"
            /// No home-visit or monitoring form within the visit period.
            case noRecentVisit = "no-recent-visit"
            /// The current care plan is older than the care-plan period.
            case staleCarePlan = "stale-care-plan"
            /// Versions others filed since the member last read the document.
            case unreadFilings = "unread-filings"
            /// A closure the case's manager asked for awaits its supervisor.
            case closurePending = "closure-pending"
        }
        public let kind: Kind
        /// The document it is about, when there is one.
        public let document: String?
        public let detail: String
    }
    public let caseNumber: String
    public let status: CaseStatus
    /// How the member holds the case: `manager` or `supervisor`.
    public let role: String
    public let blockers: [Blocker]
    public var isReady: Bool { blockers.isEmpty }
}

/// The rules a handover check applies; the defaults are the issue's.
public struct HandoverRules: Sendable {
    /// Forms each status requires (by form type).
    public var required: [CaseStatus: [String]] = [.open: ["intake", "assessment", "care-plan"], .agedOut: ["transition-plan"]]
    public var visitDays = 30
    public var carePlanDays = 90
    public init() {}
}

extension Vault {
    /// Per case the member manages or supervises (all of them, or `cases`),
    /// not closed and not disposed of: what blocks a clean handover as of
    /// `asOf`. Every case is read through the signed state, the member's
    /// whole caseload against the signed count; each read relied on is
    /// proved in the log.
    public func handoverReadiness(of memberID: String, cases: [String]? = nil, rules: HandoverRules = HandoverRules(),
                                  asOf: Date = Date()) throws -> [HandoverReadiness] {
        let named = try cases.map { try $0.map { try CaseNumber.parse($0).description } }
        return try read { reader, head in
            guard head.size > 0 else { throw VaultError.notFound("no staff member '\(memberID)'") }
            let signed = head.signedState(reader)
            guard try signed.staff(memberID) != nil else { throw VaultError.notFound("no staff member '\(memberID)'") }
            var theirs: [(CaseState, String)] = []
            // Not a case transferred to another vault: its copy here is read-only, and not theirs to hand over.
            for state in try signed.cases(matching: CaseQuery()) where state.case.isOpenWorkHere {
                if state.case.manager == memberID { theirs.append((state, "manager")) }
                else if state.case.supervisor == memberID { theirs.append((state, "supervisor")) }
            }
            if let named {
                for number in named where !theirs.contains(where: { $0.0.case.number == number }) {
                    _ = try signed.existingCase(number)
                    throw VaultError.invalidInput("\(number) is not an open case of \(memberID) (neither its manager nor its supervisor)")
                }
                theirs = theirs.filter { named.contains($0.0.case.number) }
            }
            theirs = try theirs.filter { try signed.disposal($0.0.case.number) == nil }
            let lastReads = try Self.lastReads(by: memberID, reader: reader, head: head)
            let today = Lifecycle.day(asOf)
            func daysAgo(_ n: Int) -> String { Lifecycle.day(asOf.addingTimeInterval(-Double(n) * 86_400)) }
            return try theirs.map { state, role in
                let record = state.case
                let status = CaseStatus(rawValue: record.status) ?? .open
                var blockers: [HandoverReadiness.Blocker] = []
                var current: [String: (DocumentRecord, VersionRecord)] = [:]  // newest current form of each type
                var lastVisit: String?
                var unread: [HandoverReadiness.Blocker] = []
                for document in try signed.documents(record.number) {
                    let withdrawn = try signed.withdrawals(record.number, document.name)
                    let versions = try signed.versions(of: document)
                    if let number = SignedState.currentVersion(of: document, withdrawn: withdrawn), document.isForm {
                        let version = versions[number - 1]
                        if (current[document.type]?.1.filedSeq ?? 0) < version.filedSeq { current[document.type] = (document, version) }
                        if DueItem.visitFormTypes.contains(document.type), let filed = Timestamp.date(from: version.stamp.date) {
                            lastVisit = max(lastVisit ?? "", Lifecycle.day(filed))
                        }
                    }
                    // Versions others filed that the member has not read, nor any later one
                    // (reading an older version does not show a newer one).
                    let lastRead = lastReads[ReadKey(record.number, document.name)]
                    let newer = versions.filter { $0.stamp.filedBy != memberID && $0.version > (lastRead?.version ?? 0) }
                    if !newer.isEmpty {
                        let since = lastRead.map { "after the newest version \(memberID) read (v\($0.version), on \($0.at.prefix(10)))" }
                            ?? "and never read by \(memberID)"
                        unread.append(.init(kind: .unreadFilings, document: document.name,
                                            detail: "\(newer.count) version(s) filed by others (\(Set(newer.map(\.stamp.filedBy)).sorted().joined(separator: ", "))) \(since)"))
                    }
                }
                for type in rules.required[status] ?? [] where current[type] == nil {
                    blockers.append(.init(kind: .missingDocument, document: nil, detail: "no current \(type) form, which a case in status \(status.rawValue) needs"))
                }
                if status == .open || status == .agedOut, (lastVisit ?? "") < daysAgo(rules.visitDays),
                   String(record.openedAt.prefix(10)) < daysAgo(rules.visitDays) {
                    blockers.append(.init(kind: .noRecentVisit, document: nil,
                                          detail: lastVisit.map { "last home-visit or monitoring form \($0) (over \(rules.visitDays) days before \(today))" }
                                              ?? "no home-visit or monitoring form filed yet"))
                }
                if let (document, version) = current["care-plan"], let filed = Timestamp.date(from: version.stamp.date),
                   Lifecycle.day(filed) < daysAgo(rules.carePlanDays) {
                    blockers.append(.init(kind: .staleCarePlan, document: document.name,
                                          detail: "the care plan is from \(Lifecycle.day(filed)), over \(rules.carePlanDays) days old"))
                }
                if let pending = try signed.lifecycle(record.number).pendingClosure {
                    blockers.append(.init(kind: .closurePending, document: nil,
                                          detail: "closure asked for by \(pending.requestedBy) on \(pending.at.prefix(10)), awaiting \(pending.approver)"))
                }
                return HandoverReadiness(caseNumber: record.number, status: status, role: role, blockers: blockers + unread)
            }
        }
    }

    struct ReadKey: Hashable {
        let caseNumber: [UInt8], document: [UInt8]
        init(_ caseNumber: String, _ document: String) {
            self.caseNumber = Array(caseNumber.utf8)
            self.document = Array(document.utf8)
        }
    }

    /// The member's read of the newest version they read of each document
    /// (the first such read), each proved in the trusted log. (A read row
    /// deleted by hand makes a document look unread, which the check then
    /// lists: it errs towards reading again.)
    static func lastReads(by memberID: String, reader: any CatalogReader, head: TrustedHead) throws -> [ReadKey: (version: Int, at: String)] {
        var newest: [ReadKey: (version: Int, seq: Int64)] = [:]
        for record in try reader.events(type: EventType.contentRead.rawValue, actor: memberID) where record.seq <= head.size {
            guard let event = try? Event(body: record.body), case .contentRead(let data) = event.data else { continue }
            let key = ReadKey(data.case, data.document)
            if let known = newest[key], known.version >= data.version { continue }
            newest[key] = (data.version, record.seq)
        }
        var proved: [ReadKey: (version: Int, at: String)] = [:]
        for (key, read) in newest {
            let event = try Trust.trustedEvent(read.seq, range: head.range, reader: reader)
            guard event.actor == memberID, case .contentRead(let data) = event.data, ReadKey(data.case, data.document) == key,
                  data.version == read.version else {
                throw VaultError.integrityFailure("event \(read.seq) is not the read by \(memberID) the catalog says")
            }
            proved[key] = (read.version, event.at)
        }
        return proved
    }
}

// MARK: Reassignment with shadowing (issue 10, item 2)

/// Why a case changes hands: the handover form's `reason` (its schema's enum).
public enum HandoverReason: String, Sendable, CaseIterable {
    case leavingTheOrganisation = "leaving-the-organisation"
    case changeOfRole = "change-of-role"
    case caseloadRebalancing = "caseload-rebalancing"
    case longLeave = "long-leave"
    case clientRequest = "client-request"
    case other
}

/// A handover under way, as `case show` and the commands report it.
public struct HandoverUnderWay: Sendable, Equatable {
    public let caseNumber: String
    /// `manager` or `supervisor`.
    public let role: String
    public let from: String
    public let to: String
    public let shadowUntil: String
    public let startedAt: String
    public let startedBy: String
}

/// What `handover start` did for one case.
public struct HandoverStart: Sendable {
    public let handover: HandoverUnderWay
    /// Tiers sealed to the incoming member now.
    public let granted: [Tier]
    /// Tiers the actor does not hold, which a holder must still grant
    /// (`case grant`) before the handover can complete.
    public let awaitingGrant: [Tier]
    /// The handover form filed, and its text under its stamp.
    public let form: VersionInfo?
    public let rendered: String?
}

/// What `handover complete` did for one case.
public struct HandoverCompletion: Sendable {
    public let handover: HandoverUnderWay
    public let early: Bool
    /// Why it ended early, as signed (the outgoing member's departure when no reason was given).
    public let reason: String?
    public let rotations: [RotationOutcome]
}

extension HandoverRecord {
    var underWay: HandoverUnderWay {
        HandoverUnderWay(caseNumber: caseNumber, role: role, from: from, to: to, shadowUntil: shadowUntil, startedAt: at, startedBy: by)
    }
}

extension Vault {
    /// The handover under way on a case, if any.
    public func handover(of number: String) throws -> HandoverUnderWay? {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in head.size > 0 ? try head.signedState(reader).handover(parsed)?.underWay : nil }
    }

    /// The earliest end of a shadowing that starts on `now`'s day.
    public static func earliestShadowEnd(startingOn now: Date = Date()) -> String {
        Lifecycle.earliestShadowEnd(startedAt: now) ?? Lifecycle.day(now)
    }

    /// The member's open cases to hand over (all, or `cases`), with what the
    /// readiness check says of each, and the two members' signed records.
    private func handoverCases(from: String, to: String, cases: [String]?, asOf: Date)
        throws -> (readiness: [HandoverReadiness], from: StaffRecord, to: StaffRecord) {
        let readiness = try handoverReadiness(of: from, cases: cases, asOf: asOf)
        guard !readiness.isEmpty else { throw VaultError.notFound("'\(from)' manages or supervises no open case") }
        let (outgoing, incoming) = try read { reader, head -> (StaffRecord?, StaffRecord?) in
            let signed = head.signedState(reader)
            return (try signed.staff(from), try signed.staff(to))
        }
        guard let outgoing else { throw VaultError.notFound("no staff member with id '\(from)'") }
        guard to != from else { throw VaultError.invalidInput("a handover goes from one member to another: --from and --to are both '\(to)'") }
        guard let incoming else { throw VaultError.notFound("no staff member with id '\(to)'") }
        if let left = incoming.left { throw VaultError.invalidInput("'\(to)' left the staff on \(left.at)") }
        for item in readiness {
            let needed: Role = item.role == "manager" ? .caseManager : .caseSupervisor
            guard incoming.role == needed.rawValue else {
                throw VaultError.invalidInput("'\(from)' is the \(item.role) of \(item.caseNumber): the incoming member must be \(needed.withArticle), and '\(to)' is \(Role(rawValue: incoming.role)?.withArticle ?? "a " + incoming.role)")
            }
        }
        return (readiness, outgoing, incoming)
    }

    /// The handover form as casevault fills it from the signed state and
    /// the readiness check: dates, both members, the shadowing, whether the
    /// file is up to date, and what is pending. The rest (the child's name,
    /// the case summary, the briefings, the signatures) is the caseworkers'.
    static func prefilledHandoverForm(_ readiness: HandoverReadiness, from: StaffRecord, to: StaffRecord, reason: HandoverReason,
                                      start: String, until: String) -> [String: JSONValue] {
        let months = Self.wholeMonths(from: start, to: until)
        let actions: [JSONValue] = readiness.blockers.map { blocker in
            .object(["action": .string("\(blocker.kind.rawValue): " + (blocker.document.map { "'\($0)' " } ?? "") + blocker.detail),
                     "owner": .string(from.name), "dueDate": .string(until), "done": .bool(false)])
        }
        return [
            "form": .string("handover"),
            "dateOfHandover": .string(start),
            "outgoingCaseManager": .object(["name": .string(from.name), "staffId": .string(from.id)]),
            "incomingCaseManager": .object(["name": .string(to.name), "staffId": .string(to.id)]),
            "reason": .string(reason.rawValue),
            "shadowingPeriod": .object(["start": .string(start), "end": .string(until), "months": .integer(Int64(months))]),
            "pendingActions": .array(actions),
        ]
    }

    /// Casevault's part of a drafted form, held to the command that files
    /// it, so that a form is filed as its caseworkers signed it: the people
    /// it names must be the command's; its reason and the shadowing's end
    /// are the draft's where the command gives none, and where it gives
    /// one, must be the draft's. (A handover under way keeps its signed end.)
    static func handoverTerms(_ form: [String: JSONValue], of number: String, from: StaffRecord, to: StaffRecord,
                              reason given: HandoverReason?, shadowUntil: String?, underWay: HandoverRecord?,
                              now: Date) throws -> (reason: HandoverReason, until: String) {
        func drafted(_ key: String, _ member: String? = nil) -> String? {
            var value = form[key]
            if let member {
                if case .object(let part)? = value { value = part[member] } else { value = nil }
            }
            guard let text = value?.stringValue, !text.isEmpty else { return nil }
            return text
        }
        let again = "change the form, or draft it again (casevault handover draft)"
        for (key, member) in [("outgoingCaseManager", from), ("incomingCaseManager", to)] {
            if let id = drafted(key, "staffId"), id != member.id {
                throw VaultError.invalidInput("the handover form for \(number) names '\(id)' where this handover has '\(member.id)': \(again)")
            }
        }
        var reason = given ?? .leavingTheOrganisation
        if let text = drafted("reason") {
            guard let theirs = HandoverReason(rawValue: text) else {
                throw VaultError.invalidInput("the handover form for \(number) gives the reason '\(text)', which is none of \(HandoverReason.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let given, given != theirs {
                throw VaultError.invalidInput("the handover form for \(number) gives the reason '\(text)', not '\(given.rawValue)': give --reason \(text), or \(again)")
            }
            reason = theirs
        }
        let end = drafted("shadowingPeriod", "end")
        if let underWay {
            if let end, end != underWay.shadowUntil {
                throw VaultError.invalidInput("the handover form for \(number) ends the shadowing on \(end), but the handover under way ends it on \(underWay.shadowUntil): \(again)")
            }
            return (reason, underWay.shadowUntil)
        }
        if let shadowUntil {
            if let end, end != shadowUntil {
                throw VaultError.invalidInput("the handover form for \(number) ends the shadowing on \(end), not \(shadowUntil): give --shadow-until \(end), or \(again)")
            }
            return (reason, try shadowEnd(shadowUntil, now: now))
        }
        guard let end else { return (reason, try shadowEnd(nil, now: now)) }
        guard Lifecycle.parseDay(end) != nil else {
            throw VaultError.invalidInput("the handover form for \(number) ends the shadowing on '\(end)', which is not a day (YYYY-MM-DD): \(again)")
        }
        let earliest = earliestShadowEnd(startingOn: now)
        guard end >= earliest else {
            // A draft made some days ago whose end is now too close: the form says so, not the command.
            throw VaultError.invalidInput("the handover form for \(number) ends the shadowing on \(end), but it lasts at least \(Lifecycle.shadowingMonths) months from the day the handover starts (manual §5.2.4): set the form's shadowing end to \(earliest) or later and have it signed again, or draft it again (casevault handover draft)")
        }
        return (reason, end)
    }

    static func wholeMonths(from start: String, to end: String) -> Int {
        guard let a = Lifecycle.parseDay(start), let b = Lifecycle.parseDay(end) else { return 0 }
        return Lifecycle.utc.dateComponents([.month], from: a, to: b).month ?? 0
    }

    /// Per case, the handover form with casevault's part filled in and
    /// empty places for the caseworkers' (`handover draft`). Metadata only.
    public func handoverDrafts(from: String, to: String, cases: [String]? = nil, shadowUntil: String? = nil,
                               reason: HandoverReason = .leavingTheOrganisation, now: Date = Date()) throws -> [(caseNumber: String, form: JSONValue)] {
        let (readiness, outgoing, incoming) = try handoverCases(from: from, to: to, cases: cases, asOf: now)
        let until = try Self.shadowEnd(shadowUntil, now: now)
        return readiness.map { item in
            var form = Self.prefilledHandoverForm(item, from: outgoing, to: incoming, reason: reason, start: Lifecycle.day(now), until: until)
            form["childName"] = .string("")
            form["caseSummary"] = .string("")
            form["checklist"] = .object(["fileUpToDate": .bool(item.isReady), "supervisorBriefed": .bool(false),
                                         "teamBriefed": .bool(false), "clientBriefed": .bool(false)])
            form["signatures"] = .array([])
            return (item.caseNumber, .object(form))
        }
    }

    static func shadowEnd(_ given: String?, now: Date) throws -> String {
        let earliest = earliestShadowEnd(startingOn: now)
        guard let given else { return earliest }
        guard Lifecycle.parseDay(given) != nil else { throw VaultError.invalidInput("--shadow-until takes a day, YYYY-MM-DD, not '\(given)'") }
        guard given >= earliest else {
            throw VaultError.invalidInput("the incoming member shadows for at least \(Lifecycle.shadowingMonths) months (manual §5.2.4): --shadow-until \(earliest) or later")
        }
        return given
    }

    /// Starts handing the member's cases (all their open ones, or `cases`)
    /// to `to`: per case, the signed `case.handover-started`, the incoming
    /// member granted each tier the actor holds, and the handover form
    /// filed: the caseworkers' draft (`drafts[case]`) with casevault's part
    /// filled in from the signed state and the readiness check, validated
    /// before anything is signed. Run again after an interruption, it goes
    /// on where it stopped.
    public func startHandover(from: String, to: String, cases: [String]? = nil, shadowUntil: String? = nil,
                              reason: HandoverReason? = nil, drafts: [String: JSONValue],
                              by actor: StaffIdentity, now: Date = Date()) throws -> [HandoverStart] {
        guard actor.role == .caseSupervisor || actor.role == .projectDirector else {
            throw VaultError.accessDenied("a handover is started by the case's supervisor or a project director; '\(actor.id)' is \(actor.role.withArticle)")
        }
        let (readiness, outgoing, incoming) = try handoverCases(from: from, to: to, cases: cases, asOf: now)
        if let shadowUntil { _ = try Self.shadowEnd(shadowUntil, now: now) }
        let schema = try formSchema(type: "handover")
        // A handover already under way (an interrupted run) keeps its signed dates.
        var underWay: [String: HandoverRecord] = [:]
        for item in readiness {
            guard let existing = try read({ reader, head in try head.signedState(reader).handover(item.caseNumber) }) else { continue }
            guard existing.from == from, existing.to == to else {
                throw VaultError.alreadyExists("\(item.caseNumber) is already being handed from \(existing.from) to \(existing.to) (since \(existing.at.prefix(10)))")
            }
            if let shadowUntil, shadowUntil != existing.shadowUntil {
                throw VaultError.invalidInput("the handover of \(item.caseNumber) already runs until \(existing.shadowUntil), not \(shadowUntil)")
            }
            underWay[item.caseNumber] = existing
        }
        // Every form first: nothing is signed while one is missing or invalid.
        var forms: [String: JSONValue] = [:], ends: [String: String] = [:]
        for item in readiness {
            if actor.role == .caseSupervisor {
                let supervisor = try caseFile(item.caseNumber).supervisor.id
                guard supervisor == actor.id else { throw VaultError.accessDenied("'\(actor.id)' does not supervise \(item.caseNumber)") }
            }
            guard let draft = drafts[item.caseNumber] else {
                throw VaultError.notFound("no handover form for \(item.caseNumber): write the drafts with `casevault handover draft`, complete each, and give their folder")
            }
            guard case .object(var form) = draft else {
                throw VaultError.invalidInput("the handover form for \(item.caseNumber) is not a JSON object: write it again with `casevault handover draft`")
            }
            let existing = underWay[item.caseNumber]
            let (reason, end) = try Self.handoverTerms(form, of: item.caseNumber, from: outgoing, to: incoming, reason: reason,
                                                       shadowUntil: shadowUntil, underWay: existing, now: now)
            let start = existing.map { String($0.at.prefix(10)) } ?? Lifecycle.day(now)
            ends[item.caseNumber] = end
            for (key, value) in Self.prefilledHandoverForm(item, from: outgoing, to: incoming, reason: reason, start: start, until: end) {
                if key == "pendingActions", case .array(let theirs)? = form[key], case .array(let ours) = value {
                    form[key] = .array(theirs + ours.filter { !theirs.contains($0) })
                } else {
                    form[key] = value
                }
            }
            if case .object(var checklist)? = form["checklist"] {
                checklist["fileUpToDate"] = .bool(item.isReady)
                form["checklist"] = .object(checklist)
            }
            let violations = schema.validator.validate(.object(form))
            guard violations.isEmpty else { throw VaultError.invalidForm(report: "\(schema.title) of \(item.caseNumber)", violations: violations) }
            forms[item.caseNumber] = .object(form)
        }
        var results: [HandoverStart] = []
        for item in readiness {
            let number = item.caseNumber
            let (handover, granted, awaiting, formFiled): (HandoverRecord, [Tier], [Tier], Bool) = try write { writer, head in
                var signed = head.signedState(writer)
                let state = try signed.keptCase(number)
                if let under = try signed.handover(number), under.from != from || under.to != to {
                    throw VaultError.alreadyExists("\(number) is already being handed from \(under.from) to \(under.to) (since \(under.at.prefix(10)))")
                }
                if try signed.handover(number) == nil {
                    try Ledger.append([.handoverStarted(HandoverStarted(case: number, role: item.role, from: from, to: to, shadowUntil: ends[number]!))],
                                      by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
                    signed = head.signedState(writer)
                }
                var granted: [Tier] = [], awaiting: [Tier] = []
                for tier in Tier.allCases where !state.holds(tier.rawValue, GrantHolder.staff(to)) {
                    guard state.holds(tier.rawValue, GrantHolder.staff(actor.id)), Policy.mayBeGranted(tier, role: Role(rawValue: incoming.role) ?? .auditor) else {
                        awaiting.append(tier)
                        continue
                    }
                    try grant(tier, of: number, to: incoming, reason: "handover from \(from) to \(to)", by: actor, now: now, head: &head, writer: writer)
                    granted.append(tier)
                }
                signed = head.signedState(writer)
                guard let handover = try signed.handover(number) else { throw VaultError.integrityFailure("the handover of \(number) vanished") }
                // A form filed since the handover started (an earlier, interrupted run) is not filed twice.
                var filed = false
                if let document = try signed.document(number, schema.title) {
                    filed = try signed.versions(of: document).contains { $0.filedSeq > handover.seq }
                }
                return (handover, granted, awaiting, filed)
            }
            var info: VersionInfo?, rendered: String?
            if !formFiled, let form = forms[number] {
                let filed = try fileForm(form, caseNumber: number, name: schema.title, schema: schema, by: actor, now: now)
                info = filed
                rendered = try renderedForm(form, info: filed)
            }
            results.append(HandoverStart(handover: handover.underWay, granted: granted, awaitingGrant: awaiting, form: info, rendered: rendered))
        }
        return results
    }

    /// Cancels the handover under way on a case (the incoming member left,
    /// or was the wrong one): every tier they hold rotates without them,
    /// then the signed `case.handover-cancelled`. The outgoing member stays.
    public func cancelHandover(case caseNumber: String, reason: String, by actor: StaffIdentity, now: Date = Date()) throws -> [RotationOutcome] {
        guard actor.role == .caseSupervisor || actor.role == .projectDirector else {
            throw VaultError.accessDenied("a handover is cancelled by the case's supervisor or a project director; '\(actor.id)' is \(actor.role.withArticle)")
        }
        try Self.requireReason(reason)
        let number = try CaseNumber.parse(caseNumber).description
        return try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.existingCase(number)
            if actor.role == .caseSupervisor, actor.id != state.case.supervisor {
                throw VaultError.accessDenied("'\(actor.id)' does not supervise \(number)")
            }
            guard let handover = try signed.handover(number) else { throw VaultError.notFound("no handover of \(number) is under way") }
            let tiers = Tier.allCases.filter { state.holds($0.rawValue, GrantHolder.staff(handover.to)) }
            let rotations = try rotate(number, tiers: tiers, removing: [GrantHolder.staff(handover.to)],
                                       reason: "handover to \(handover.to) cancelled: \(reason)", by: actor, now: now, head: &head, writer: writer)
            try Ledger.append([.handoverCancelled(HandoverCancelled(case: number, reason: reason))], by: actor, at: now,
                              vaultID: config.vaultId, head: &head, in: writer)
            return rotations
        }
    }

    /// Completes the handovers of `cases`: per case, every tier the
    /// outgoing member holds rotates without them (re-sealed when the actor
    /// holds it), then the signed `case.handover-completed` makes the
    /// incoming member the case's manager (or supervisor). Before the
    /// shadowing ends, only with `early` and a reason. A supervisor's own
    /// handover is completed by the incoming supervisor: whoever signs a
    /// rotation makes its key, so the outgoing one never signs theirs.
    /// Every case is checked before the first completes, so a command
    /// refused for one case completes none; each case is then completed in
    /// its own transaction and handed to `completed` as it is.
    public func completeHandover(cases: [String], early: Bool = false, reason: String? = nil, by actor: StaffIdentity,
                                 now: Date = Date(), completed: (HandoverCompletion) -> Void = { _ in }) throws -> [HandoverCompletion] {
        guard actor.role == .caseSupervisor || actor.role == .projectDirector else {
            throw VaultError.accessDenied("a handover is completed by the case's supervisor or a project director; '\(actor.id)' is \(actor.role.withArticle)")
        }
        guard !cases.isEmpty else { throw VaultError.invalidInput("name the cases whose handover completes") }
        if early {
            guard let reason else { throw VaultError.invalidInput("an early end of the shadowing needs --reason") }
            try Self.requireReason(reason)
        } else if reason != nil {
            throw VaultError.invalidInput("--reason goes with --early (an end before the shadowing is over)")
        }
        var numbers: [String] = []
        for number in try cases.map({ try CaseNumber.parse($0).description }) where !numbers.contains(number) { numbers.append(number) }
        try read { reader, head in
            let signed = head.signedState(reader)
            for number in numbers { _ = try handoverToComplete(number, in: signed, early: early, by: actor, now: now) }
        }
        var results: [HandoverCompletion] = []
        for number in numbers {
            let result: HandoverCompletion = try write { writer, head in
                let (state, handover, isEarly, outgoingLeft) = try handoverToComplete(number, in: head.signedState(writer), early: early,
                                                                                      by: actor, now: now)
                let tiers = Tier.allCases.filter { state.holds($0.rawValue, GrantHolder.staff(handover.from)) }
                let rotations = try rotate(number, tiers: tiers, removing: [GrantHolder.staff(handover.from)],
                                           reason: "handover from \(handover.from) to \(handover.to) completed", by: actor, now: now,
                                           head: &head, writer: writer)
                // An outgoing member who left shadows no one: the shadowing ends for that reason.
                let why = isEarly ? reason ?? outgoingLeft.map { "\(handover.from) left the staff on \($0.prefix(10))" } : nil
                try Ledger.append([.handoverCompleted(HandoverCompleted(case: number, early: isEarly, reason: why))],
                                  by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
                return HandoverCompletion(handover: handover.underWay, early: isEarly, reason: why, rotations: rotations)
            }
            completed(result)
            results.append(result)
        }
        return results
    }

    /// Whether `actor` may complete the handover of `number` now, and what
    /// it completes: the case, its handover, and whether before the
    /// shadowing's end. Throws what stands in the way.
    private func handoverToComplete(_ number: String, in signed: SignedState, early: Bool, by actor: StaffIdentity,
                                    now: Date) throws -> (CaseState, HandoverRecord, early: Bool, outgoingLeft: String?) {
        let state = try signed.existingCase(number)
        guard let handover = try signed.handover(number) else { throw VaultError.notFound("no handover of \(number) is under way") }
        if handover.role == "supervisor", actor.id == handover.from || actor.role == .projectDirector {
            throw VaultError.accessDenied("\(actor.id == handover.from ? "'\(actor.id)' is handing \(number) over and cannot make the keys that replace their own" : "a project director cannot make a confidential key"): '\(handover.to)', the incoming supervisor, completes the handover")
        }
        if actor.role == .caseSupervisor, actor.id != state.case.supervisor, !(handover.role == "supervisor" && actor.id == handover.to) {
            throw VaultError.accessDenied("'\(actor.id)' does not supervise \(number)")
        }
        let isEarly = Lifecycle.day(now) < handover.shadowUntil
        // The outgoing member's departure ends the shadowing: no --early is needed then.
        let outgoingLeft = try signed.staff(handover.from)?.left?.at
        if isEarly && !early && outgoingLeft == nil {
            throw VaultError.invalidInput("the shadowing of \(number) runs until \(handover.shadowUntil): to end it before, give --early --reason TEXT")
        }
        if !isEarly && early {
            throw VaultError.invalidInput("the shadowing of \(number) ended on \(handover.shadowUntil): complete it without --early")
        }
        if let left = try signed.staff(handover.to)?.left {
            throw VaultError.invalidInput("'\(handover.to)' left the staff on \(left.at.prefix(10)): cancel this handover (casevault handover cancel \(number) --reason …), then start another")
        }
        for tier in Tier.allCases where !state.holdsCurrent(tier, GrantHolder.staff(handover.to)) {
            let supervisorLeft = try signed.staff(state.case.supervisor)?.left != nil
            let who = !supervisorLeft ? "its supervisor grants it"
                : handover.role == "supervisor" ? "its supervisor left the staff, so its manager '\(state.case.manager)' grants it"
                : "its supervisor left the staff: cancel this handover (casevault handover cancel \(number)), hand the supervision over to a new supervisor, who then starts this one again"
            throw VaultError.invalidInput("'\(handover.to)' does not hold the \(tier.rawValue) tier of \(number) yet: \(who) (casevault case grant \(number) --tier \(tier.rawValue) --member \(handover.to) --reason …)")
        }
        // Whoever completes it makes the keys that replace the outgoing
        // member's (`rotation`): they hold each such tier's current key.
        // (Checked after the incoming member's, whose advice comes first:
        // the incoming supervisor completes their own handover.)
        for tier in Tier.allCases where state.holds(tier.rawValue, GrantHolder.staff(handover.from))
            && !state.holdsCurrent(tier, GrantHolder.staff(actor.id)) {
            let who = actor.role == .projectDirector && tier == .confidential ? "a project director" : "'\(actor.id)', who does not hold its current key,"
            let completer = try signed.staff(state.case.supervisor)?.left == nil ? "its supervisor '\(state.case.supervisor)' completes the handover"
                : "its supervisor left the staff: the supervision is handed over first, and the new supervisor completes it"
            throw VaultError.accessDenied("\(who) cannot make the \(tier.rawValue) key of \(number) that replaces \(handover.from)'s: \(completer)")
        }
        return (state, handover, isEarly, outgoingLeft)
    }
}

extension Vault {
    /// Writes each draft as `<folder>/<case number>.json` (pretty JSON, mode
    /// 0600) in a new folder (mode 0700). They hold staff names and the
    /// readiness check, no case content, until the caseworkers fill them in.
    public static func writeHandoverDrafts(_ drafts: [(caseNumber: String, form: JSONValue)], to folder: String) throws -> [String] {
        if !FileSystem.exists(folder) { try FileSystem.makeDirectory(folder) }
        guard FileSystem.isDirectory(folder) else { throw VaultError.invalidInput("\(folder) is not a folder") }
        var written: [String] = []
        for (number, form) in drafts {
            let path = folder + "/" + number + ".json"
            let file = try FileSystem.createExclusive(path)
            try file.write(form.prettyBytes)
            written.append(path)
        }
        return written
    }

    /// Reads `<folder>/<case number>.json` for each case that has one.
    public static func readHandoverDrafts(in folder: String, cases: [String]) throws -> [String: JSONValue] {
        var drafts: [String: JSONValue] = [:]
        for number in cases {
            let path = folder + "/" + number + ".json"
            guard FileSystem.exists(path) else { continue }
            let (buffer, size) = try readForm(from: try open(.file(path: path)))
            do { drafts[number] = try parseForm(buffer, count: size) } catch {
                throw VaultError.invalidInput("\(path) is not valid JSON")
            }
        }
        return drafts
    }
}
