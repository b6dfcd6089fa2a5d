public import Foundation

/// The monthly supervision report (issue 9; manual §5.2 and its staffing
/// ratios), from the signed catalog alone: no passphrase, no decryption.
public struct SupervisionReport: Sendable {
    /// The manual recommends at most 18 cases per case manager and at most
    /// 5 case managers per supervisor.
    public static let casesPerManager = 18
    public static let managersPerSupervisor = 5

    public struct Count: Sendable, Equatable {
        public let key: String
        public let count: Int
    }

    public struct Load: Sendable, Equatable {
        public let staffID: String
        public let name: String
        public let count: Int
        public let limit: Int
        public var breached: Bool { count > limit }
    }

    /// `YYYY-MM`.
    public let month: String
    /// Cases by status at the month's end, and by category and status.
    public let byStatus: [Count]
    public let byCategoryAndStatus: [Count]
    /// Cases opened, closed, aged out and reopened during the month.
    public let opened: [String]
    public let closed: [String]
    public let agedOut: [String]
    public let reopened: [String]
    /// Cases imported from another vault during the month (counted from
    /// their import, not their opening there), and cases transferred to
    /// another vault during it (no longer counted from then on).
    public let transferredIn: [String]
    public let transferredOut: [String]
    /// Open, inactive and aged-out cases per case manager at the month's
    /// end. (Here and in every count, a case transferred to another vault
    /// by the month's end is left out.)
    public let caseloads: [Load]
    /// Case managers with such cases per supervisor.
    public let supervision: [Load]
    public let casesOfConcern: [String]
    /// What `due` lists as of the month's last day, from the current state
    /// (a case closed since is not listed): aged-out cases closing and
    /// closures awaiting approval, case by case (sorted by case, then kind)...
    public let overdue: [DueItem]
    /// ...and idle cases and open cases without a recent home visit,
    /// counted per case manager (`casevault due` lists them).
    public let overdueByManager: [OverdueCount]
    /// Legal holds standing when the report is made.
    public let holds: [LegalHold]
    /// The event from which the vault keeps the report's tallies, when the
    /// report was made from them; nil when it was counted from every case
    /// (a vault made before them, or `recount`).
    public let talliesSince: Int64?

    /// A case manager's idle cases and open cases without a recent home visit.
    public struct OverdueCount: Sendable, Equatable {
        public let staffID: String
        public let name: String
        public let idle: Int
        public let noRecentVisit: Int
    }
}

extension Vault {
    /// The report for `month` (`YYYY-MM`, in UTC): from the vault's signed
    /// tallies where it keeps them (reading only what the report shows),
    /// else, or with `recount`, by reading every case.
    public func monthlyReport(month: String, recount: Bool = false) throws -> SupervisionReport {
        guard let start = Lifecycle.parseDay(month + "-01"),
              let next = Lifecycle.utc.date(byAdding: .month, value: 1, to: start) else {
            throw VaultError.invalidInput("'\(month)' is not a month; write it YYYY-MM, e.g. 2026-10")
        }
        let period = ReportPeriod(month: month, first: month + "-01", end: Lifecycle.day(next), lastDay: next.addingTimeInterval(-1))
        // One snapshot for all of it.
        return try read { reader, head in
            guard head.size > 0 else {
                return SupervisionReport(month: month, byStatus: [], byCategoryAndStatus: [], opened: [], closed: [], agedOut: [], reopened: [],
                                         transferredIn: [], transferredOut: [], caseloads: [], supervision: [], casesOfConcern: [], overdue: [],
                                         overdueByManager: [], holds: [], talliesSince: nil)
            }
            let signed = head.signedState(reader)
            if !recount, let totals = try signed.tallyTotals() {
                return try Self.talliedReport(period, totals: totals, signed: signed)
            }
            return try Self.countedReport(period, signed: signed)
        }
    }

    struct ReportPeriod {
        let month: String
        /// Days in [first, end).
        let first: String, end: String
        let lastDay: Date
    }

    /// The report from the tallies: the month-end counts are the sums of the
    /// months' changes up to it; the lists are the month's activity, the
    /// catalog's holds, cases of concern, aged-out cases and closure
    /// requests, each row checked and each listing as many as the totals
    /// sign; the idle and visit counts are the managers' due tallies.
    static func talliedReport(_ period: ReportPeriod, totals: TallyTotals, signed: SignedState) throws -> SupervisionReport {
        let reader = signed.reader
        func damaged(_ what: String) -> VaultError {
            .integrityFailure("the catalog's \(what) are not as many as the signed report tallies count (a row was added or removed by hand)")
        }
        var statuses: [String: [String: Int]] = [:], caseloads: [String: [String: Int]] = [:]
        let months = try signed.tally(StateKey.tallyMonths, as: TallyMonths.self)?.months ?? []
        var thisMonth: MonthTally?
        for month in months where !period.month.utf8.lexicographicallyPrecedes(month.utf8) {
            guard let tally = try signed.tally(StateKey.tallyMonth(month), as: MonthTally.self) else {
                throw VaultError.integrityFailure("the report tally of \(month) is missing")
            }
            TallyChanges.merge(tally.statuses, into: &statuses)
            TallyChanges.merge(tally.caseloads, into: &caseloads)
            if month == period.month { thisMonth = tally }
        }
        // The month's activity, chunk by chunk.
        var activity: [ActivityChunk.Entry] = []
        if let thisMonth {
            for chunk in 0..<((thisMonth.activity + ActivityChunk.size - 1) / ActivityChunk.size) {
                guard let entries = try signed.tally(StateKey.tallyActivity(period.month, chunk: chunk), as: ActivityChunk.self)?.entries else {
                    throw VaultError.integrityFailure("the report tally of \(period.month)'s activity is missing a part")
                }
                activity += entries
            }
            guard activity.count == thisMonth.activity else { throw VaultError.integrityFailure("the report tally of \(period.month)'s activity is incomplete") }
        }
        // (`assemble` sorts each list and drops repeats.)
        func listed(_ kind: TallyActivity) -> [String] { activity.filter { $0.kind == kind.rawValue }.map(\.case) }
        // A transfer called back since is no longer one (as when counted).
        let transferredOut = try listed(.transferredOut).filter { number in
            try signed.caseState(number)?.case.transferred.map { String($0.at.prefix(7)) == period.month } ?? false
        }
        // Cases of concern here at the month's end.
        let tagged = try reader.cases(taggedWith: CaseTags.caseOfConcern)
        guard Set(tagged.map { Array($0.utf8) }).count == tagged.count, tagged.count == totals.concern else { throw damaged("cases of concern") }
        var concern: [String] = []
        for number in tagged {
            guard try signed.tags(number).contains(where: { $0.tag == CaseTags.caseOfConcern }), let state = try signed.caseState(number) else {
                throw damaged("cases of concern")
            }
            if Self.isHere(state.case, atEndOf: period) { concern.append(number) }
        }
        // Holds.
        let holdRows = try reader.holds(caseNumber: nil)
        guard Set(holdRows.map { Array($0.caseNumber.utf8) }).count == holdRows.count, holdRows.count == totals.holds else { throw damaged("legal holds") }
        let holds = try holdRows.map { row -> LegalHold in
            guard let hold = try signed.hold(row.caseNumber) else { throw damaged("legal holds") }
            return try LegalHold(hold)
        }
        // What `due` lists case by case: aged-out cases and closure requests.
        var overdue: [DueItem] = []
        let agedOut = try reader.cases(matching: CaseQuery(status: CaseStatus.agedOut.rawValue)).filter { $0.transferred == nil }
        guard Set(agedOut.map { Array($0.number.utf8) }).count == agedOut.count, agedOut.count == totals.agedOut else { throw damaged("aged-out cases") }
        let warn = DueWindow(asOf: period.lastDay)
        for row in agedOut {
            guard let state = try signed.caseState(row.number), state.case.status == CaseStatus.agedOut.rawValue, state.case.transferred == nil else {
                throw damaged("aged-out cases")
            }
            if let item = warn.agedOutItem(state.case, try signed.lifecycle(row.number)) { overdue.append(item) }
        }
        let requests = try reader.closureRequests()
        guard Set(requests.map { Array($0.caseNumber.utf8) }).count == requests.count, requests.count == totals.pendingClosures else {
            throw damaged("closure requests")
        }
        for row in requests {
            guard let pending = try signed.lifecycle(row.caseNumber).pendingClosure, let state = try signed.caseState(row.caseNumber) else {
                throw damaged("closure requests")
            }
            if state.case.isOpenWorkHere { overdue.append(DueItem.awaitingApproval(pending)) }
        }
        // Idle and unvisited cases, per manager.
        var counts: [SupervisionReport.OverdueCount] = []
        for member in try signed.allStaff() {
            guard let due = try signed.tally(StateKey.tallyDue(member.id), as: DueTally.self) else { continue }
            let idle = due.idle.filter { $0.key < warn.idleSince }.values.reduce(0, +)
            let visit = due.visit.filter { $0.key < warn.visitSince }.values.reduce(0, +)
            if idle > 0 || visit > 0 {
                counts.append(SupervisionReport.OverdueCount(staffID: member.id, name: member.name, idle: idle, noRecentVisit: visit))
            }
        }
        var byManager: [String: Int] = [:], managersOf: [String: Int] = [:]
        for (supervisor, managers) in caseloads {
            for (manager, count) in managers where count != 0 {
                byManager[manager, default: 0] += count
                managersOf[supervisor, default: 0] += 1
            }
        }
        var byStatus: [String: Int] = [:], byCategory: [String: Int] = [:]
        for (category, counts) in statuses {
            for (status, count) in counts where count != 0 {
                byStatus[status, default: 0] += count
                byCategory[category + " " + status, default: 0] += count
            }
        }
        return try assemble(period, signed: signed, byStatus: byStatus, byCategory: byCategory,
                            opened: listed(.opened), closed: listed(.closed), agedOut: listed(.agedOut), reopened: listed(.reopened),
                            transferredIn: listed(.transferredIn), transferredOut: transferredOut,
                            managerLoad: byManager, managersPerSupervisor: managersOf, concern: concern, overdue: overdue,
                            overdueByManager: counts, holds: holds, talliesSince: totals.since)
    }

    /// Whether a case was this office's at the month's end: here since
    /// its opening or import, and not transferred away by then.
    static func isHere(_ record: CaseRecord, atEndOf period: ReportPeriod) -> Bool {
        String((record.imported?.at ?? record.openedAt).prefix(10)) < period.end
            && !(record.transferred.map { String($0.at.prefix(10)) < period.end } ?? false)
    }

    /// The report counted from every case (a vault without tallies, or a recount).
    static func countedReport(_ period: ReportPeriod, signed: SignedState) throws -> SupervisionReport {
        let (first, end) = (period.first, period.end)
        var byStatus: [String: Int] = [:], byCategory: [String: Int] = [:]
        var opened: [String] = [], closed: [String] = [], agedOut: [String] = [], reopened: [String] = []
        var transferredIn: [String] = [], transferredOut: [String] = []
        var managerLoad: [String: Int] = [:], supervisorManagers: [String: Set<String>] = [:]
        var concern: [String] = []
        try signed.preloadNodes()
        // Every case once (`count/cases` proves the list complete), for `due` and for the counts.
        let cases = try signed.cases(matching: CaseQuery())
        let due = try Self.due(in: signed, asOf: period.lastDay, cases: cases)  // (prefetches each case's records)
        let holds = try Self.holds(in: signed, cases: cases)
        for state in cases {
            let record = state.case
            // Here since its opening, or, imported, since its import (its
            // history's dates are the sending vault's).
            let since = String((record.imported?.at ?? record.openedAt).prefix(10))
            guard since < end else { continue }  // not here yet at the month's end
            if since >= first {
                if record.imported == nil { opened.append(record.number) } else { transferredIn.append(record.number) }
            }
            // The status at the month's end: the last change before it, in
            // the order applied (an imported case's made in the other
            // office first).
            var status = CaseStatus.open.rawValue
            for change in try signed.lifecycle(record.number).changes {
                let day = String(change.at.prefix(10))
                guard day < end else { break }
                status = change.to
                // (An imported case's changes made in the other office, dated
                // before its import by that office's clock, are not this office's.)
                if day >= first, record.imported.map({ change.at >= $0.at }) ?? true {
                    if change.to == CaseStatus.closed.rawValue { closed.append(record.number) }
                    if change.to == CaseStatus.agedOut.rawValue { agedOut.append(record.number) }
                    if change.from == CaseStatus.closed.rawValue, change.to == CaseStatus.open.rawValue { reopened.append(record.number) }
                }
            }
            // Transferred to another vault by the month's end (its changes
            // before that listed above): its work is that office's, and it
            // counts no longer here.
            if let gone = record.transferred.map({ String($0.at.prefix(10)) }), gone < end {
                if gone >= first { transferredOut.append(record.number) }
                continue
            }
            byStatus[status, default: 0] += 1
            byCategory[record.category + " " + status, default: 0] += 1
            if status != CaseStatus.closed.rawValue {
                managerLoad[record.manager, default: 0] += 1
                supervisorManagers[record.supervisor, default: []].insert(record.manager)
            }
            if try signed.tags(record.number).contains(where: { $0.tag == CaseTags.caseOfConcern }) { concern.append(record.number) }
        }
        // `due`'s idle and unvisited cases, counted per manager.
        let managers = Dictionary(cases.map { ($0.case.number, $0.case.manager) }, uniquingKeysWith: { first, _ in first })
        var idle: [String: Int] = [:], unvisited: [String: Int] = [:]
        for item in due {
            guard let manager = managers[item.caseNumber] else { continue }
            if item.kind == .idle { idle[manager, default: 0] += 1 }
            if item.kind == .noRecentVisit { unvisited[manager, default: 0] += 1 }
        }
        let counts = try Set(idle.keys).union(unvisited.keys).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { id in
            SupervisionReport.OverdueCount(staffID: id, name: try signed.staff(id)?.name ?? id, idle: idle[id] ?? 0, noRecentVisit: unvisited[id] ?? 0)
        }
        return try assemble(period, signed: signed, byStatus: byStatus, byCategory: byCategory,
                            opened: opened, closed: closed, agedOut: agedOut, reopened: reopened,
                            transferredIn: transferredIn, transferredOut: transferredOut,
                            managerLoad: managerLoad, managersPerSupervisor: supervisorManagers.mapValues(\.count), concern: concern,
                            overdue: due.filter { $0.kind == .agedOutClosing || $0.kind == .closureAwaitingApproval },
                            overdueByManager: counts, holds: holds, talliesSince: nil)
    }

    /// One report from either way of counting, in one order.
    static func assemble(_ period: ReportPeriod, signed: SignedState, byStatus: [String: Int], byCategory: [String: Int],
                         opened: [String], closed: [String], agedOut: [String], reopened: [String],
                         transferredIn: [String], transferredOut: [String], managerLoad: [String: Int], managersPerSupervisor: [String: Int],
                         concern: [String], overdue: [DueItem], overdueByManager: [SupervisionReport.OverdueCount],
                         holds: [LegalHold], talliesSince: Int64?) throws -> SupervisionReport {
        func name(_ id: String) throws -> String { try signed.staff(id)?.name ?? id }
        func sorted(_ list: [String]) -> [String] {
            var seen = Set<[UInt8]>()
            return list.filter { seen.insert(Array($0.utf8)).inserted }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
        func byID<V>(_ counts: [String: V]) -> [(key: String, value: V)] { counts.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) } }
        let order = CaseStatus.allCases.map(\.rawValue)
        return SupervisionReport(
            month: period.month,
            byStatus: order.compactMap { s in byStatus[s].map { SupervisionReport.Count(key: s, count: $0) } },
            byCategoryAndStatus: byID(byCategory).map { SupervisionReport.Count(key: $0.key, count: $0.value) },
            opened: sorted(opened), closed: sorted(closed), agedOut: sorted(agedOut), reopened: sorted(reopened),
            transferredIn: sorted(transferredIn), transferredOut: sorted(transferredOut),
            caseloads: try byID(managerLoad).map {
                SupervisionReport.Load(staffID: $0.key, name: try name($0.key), count: $0.value, limit: SupervisionReport.casesPerManager)
            },
            supervision: try byID(managersPerSupervisor).map {
                SupervisionReport.Load(staffID: $0.key, name: try name($0.key), count: $0.value, limit: SupervisionReport.managersPerSupervisor)
            },
            casesOfConcern: sorted(concern),
            overdue: overdue.sorted { ($0.caseNumber.utf8.lexicographicallyPrecedes($1.caseNumber.utf8))
                || ($0.caseNumber == $1.caseNumber && $0.kind.rawValue < $1.kind.rawValue) },
            overdueByManager: overdueByManager.sorted { $0.staffID.utf8.lexicographicallyPrecedes($1.staffID.utf8) },
            holds: holds.sorted { $0.caseNumber.utf8.lexicographicallyPrecedes($1.caseNumber.utf8) }, talliesSince: talliesSince)
    }

    /// Starts the monthly report's tallies in a vault made before them (an
    /// admin or project director; once): one signed event that counts
    /// every case from the signed state, after which the report reads only
    /// what it shows. Returns how many cases it counted.
    public func startReportTallies(by actor: StaffIdentity, now: Date = Date()) throws -> Int {
        guard Policy.maySign(.talliesStarted, role: actor.role) else {
            throw VaultError.accessDenied("only an admin or a project director starts the report's tallies; '\(actor.id)' is \(actor.role.withArticle)")
        }
        return try write { writer, head in
            let signed = head.signedState(writer)
            if let totals = try signed.tallyTotals() {
                throw VaultError.alreadyExists("this vault keeps the report's tallies since event \(totals.since)")
            }
            let cases = try signed.caseCount().count
            try Ledger.append([.talliesStarted(TalliesStarted(cases: cases))], by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            return cases
        }
    }

    /// Warnings for a new case's assignment against the manual's ratios:
    /// the manager's open, inactive and aged-out cases (not transferred
    /// away), the supervisor's case managers, counting the new case.
    ///
    /// Read through the v16 indexes, not by reading every case: at 100,000
    /// cases reading each through the signed state made `case open` take
    /// 8 s. A warning is given only on rows checked against the signed
    /// state: the manager's first 19 such cases, and one case per case
    /// manager of the supervisor; the count printed is the index's. A row
    /// deleted or edited by hand can hide a warning (as it can hide a case
    /// from a filtered `case list`), never raise a false one; `verify`
    /// finds that row.
    public func assignmentWarnings(managerID: String, supervisorID: String) throws -> [String] {
        try read { reader, head in
            guard head.size > 0 else { return [] }
            let signed = head.signedState(reader)
            func checkedActive(_ number: String, matches: (CaseRecord) -> Bool) throws -> Bool {
                guard let state = try signed.caseState(number) else { return false }
                return state.case.isOpenWorkHere && matches(state.case)
            }
            var warnings: [String] = []
            let limit = SupervisionReport.casesPerManager
            let load = try reader.activeCaseload(managerID: managerID, sample: limit + 1)
            if load.count > limit, load.sample.count > limit,
               try load.sample.allSatisfy({ try checkedActive($0) { $0.manager == managerID } }) {
                warnings.append("'\(managerID)' now manages \(load.count) open, inactive or aged-out cases; the manual recommends at most \(limit)")
            }
            // Each manager by one of their cases, checked; the new case's manager counted even before it is open.
            let managers = try reader.activeManagers(supervisorID: supervisorID)
            let count = managers.count + (managers.contains { $0.manager == managerID } ? 0 : 1)
            if count > SupervisionReport.managersPerSupervisor,
               try managers.allSatisfy({ pair in
                   try checkedActive(pair.caseNumber) { $0.manager == pair.manager && $0.supervisor == supervisorID }
               }) {
                warnings.append("'\(supervisorID)' now supervises \(count) case managers; the manual recommends at most \(SupervisionReport.managersPerSupervisor)")
            }
            return warnings
        }
    }
}
