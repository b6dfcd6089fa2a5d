internal import Foundation

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
    /// (a case closed since is not listed).
    public let overdue: [DueItem]
    /// Legal holds standing when the report is made.
    public let holds: [LegalHold]
}

extension Vault {
    /// The report for `month` (`YYYY-MM`, in UTC).
    public func monthlyReport(month: String) throws -> SupervisionReport {
        guard let start = Lifecycle.parseDay(month + "-01"),
              let next = Lifecycle.utc.date(byAdding: .month, value: 1, to: start) else {
            throw VaultError.invalidInput("'\(month)' is not a month; write it YYYY-MM, e.g. 2026-10")
        }
        let first = month + "-01", end = Lifecycle.day(next)  // days in [first, end)
        let lastDay = next.addingTimeInterval(-1)
        // One snapshot for all of it.
        return try read { reader, head in
            var byStatus: [String: Int] = [:], byCategory: [String: Int] = [:]
            var opened: [String] = [], closed: [String] = [], agedOut: [String] = [], reopened: [String] = []
            var transferredIn: [String] = [], transferredOut: [String] = []
            var managerLoad: [String: Int] = [:], supervisorManagers: [String: Set<String>] = [:]
            var concern: [String] = []
            guard head.size > 0 else {
                return SupervisionReport(month: month, byStatus: [], byCategoryAndStatus: [], opened: [], closed: [], agedOut: [], reopened: [],
                                         transferredIn: [], transferredOut: [], caseloads: [], supervision: [], casesOfConcern: [], overdue: [],
                                         holds: [])
            }
            let signed = head.signedState(reader)
            try signed.preloadNodes()
            // Every case once (`count/cases` proves the list complete), for `due` and for the counts.
            let cases = try signed.cases(matching: CaseQuery())
            let overdue = try Self.due(in: signed, asOf: lastDay, cases: cases)  // (prefetches each case's records)
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
                if try signed.tags(record.number).contains(where: { $0.tag == "case-of-concern" }) { concern.append(record.number) }
            }
            func name(_ id: String) throws -> String { try signed.staff(id)?.name ?? id }
            let order = CaseStatus.allCases.map(\.rawValue)
            return SupervisionReport(
                month: month,
                byStatus: order.compactMap { s in byStatus[s].map { SupervisionReport.Count(key: s, count: $0) } },
                byCategoryAndStatus: byCategory.sorted { $0.key < $1.key }.map { SupervisionReport.Count(key: $0.key, count: $0.value) },
                opened: opened.sorted(), closed: Array(Set(closed)).sorted(), agedOut: Array(Set(agedOut)).sorted(),
                reopened: Array(Set(reopened)).sorted(), transferredIn: transferredIn.sorted(), transferredOut: transferredOut.sorted(),
                caseloads: try managerLoad.sorted { $0.key < $1.key }.map {
                    SupervisionReport.Load(staffID: $0.key, name: try name($0.key), count: $0.value, limit: SupervisionReport.casesPerManager)
                },
                supervision: try supervisorManagers.sorted { $0.key < $1.key }.map {
                    SupervisionReport.Load(staffID: $0.key, name: try name($0.key), count: $0.value.count,
                                           limit: SupervisionReport.managersPerSupervisor)
                },
                casesOfConcern: concern.sorted(), overdue: overdue, holds: holds)
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
