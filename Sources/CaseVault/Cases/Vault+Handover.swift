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
            for state in try signed.cases(matching: CaseQuery()) where state.case.status != CaseStatus.closed.rawValue {
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
                    // Versions others filed after the member's last read of the document.
                    let lastRead = lastReads[ReadKey(record.number, document.name)]
                    let newer = versions.filter { $0.stamp.filedBy != memberID && $0.filedSeq > (lastRead?.seq ?? 0) }
                    if !newer.isEmpty {
                        let since = lastRead.map { "since you last read it on \($0.at.prefix(10))" } ?? "and never read by \(memberID)"
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

    /// The member's newest `content.read` of each document, each proved in
    /// the trusted log. (A read row deleted by hand makes a document look
    /// unread, which the check then lists: it errs towards reading again.)
    static func lastReads(by memberID: String, reader: any CatalogReader, head: TrustedHead) throws -> [ReadKey: (seq: Int64, at: String)] {
        var newest: [ReadKey: Int64] = [:]
        for record in try reader.events(type: EventType.contentRead.rawValue, actor: memberID) where record.seq <= head.size {
            guard let event = try? Event(body: record.body), case .contentRead(let data) = event.data else { continue }
            let key = ReadKey(data.case, data.document)
            newest[key] = max(newest[key] ?? 0, record.seq)
        }
        var proved: [ReadKey: (seq: Int64, at: String)] = [:]
        for (key, seq) in newest {
            let event = try Trust.trustedEvent(seq, range: head.range, reader: reader)
            guard event.actor == memberID, case .contentRead(let data) = event.data, ReadKey(data.case, data.document) == key else {
                throw VaultError.integrityFailure("event \(seq) is not the read by \(memberID) the catalog says")
            }
            proved[key] = (seq, event.at)
        }
        return proved
    }
}
