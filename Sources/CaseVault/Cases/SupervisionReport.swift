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
    /// Open, inactive and aged-out cases per case manager at the month's end.
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
            var managerLoad: [String: Int] = [:], supervisorManagers: [String: Set<String>] = [:]
            var concern: [String] = []
            guard head.size > 0 else {
                return SupervisionReport(month: month, byStatus: [], byCategoryAndStatus: [], opened: [], closed: [], agedOut: [], reopened: [],
                                         caseloads: [], supervision: [], casesOfConcern: [], overdue: [], holds: [])
            }
            let signed = head.signedState(reader)
            try signed.preloadNodes()
            // Every case once (`count/cases` proves the list complete), for `due` and for the counts.
            let cases = try signed.cases(matching: CaseQuery())
            let overdue = try Self.due(in: signed, asOf: lastDay, cases: cases)
            let holds = try Self.holds(in: signed, cases: cases)
            for state in cases {
                let record = state.case
                let openedDay = String(record.openedAt.prefix(10))
                guard openedDay < end else { continue }  // opened after the month
                if openedDay >= first { opened.append(record.number) }
                // The status at the month's end: the last change before it.
                var status = CaseStatus.open.rawValue
                for change in try signed.lifecycle(record.number).changes {
                    let day = String(change.at.prefix(10))
                    guard day < end else { break }
                    status = change.to
                    if day >= first {
                        if change.to == CaseStatus.closed.rawValue { closed.append(record.number) }
                        if change.to == CaseStatus.agedOut.rawValue { agedOut.append(record.number) }
                        if change.from == CaseStatus.closed.rawValue, change.to == CaseStatus.open.rawValue { reopened.append(record.number) }
                    }
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
                reopened: Array(Set(reopened)).sorted(),
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
    /// the manager's open, inactive and aged-out cases, the supervisor's
    /// case managers, counting the new case.
    public func assignmentWarnings(managerID: String, supervisorID: String) throws -> [String] {
        try read { reader, head in
            guard head.size > 0 else { return [] }
            var load = 0
            var managers = Set<String>()
            for state in try head.signedState(reader).cases(matching: CaseQuery()) where state.case.status != CaseStatus.closed.rawValue {
                if state.case.manager == managerID { load += 1 }
                if state.case.supervisor == supervisorID { managers.insert(state.case.manager) }
            }
            managers.insert(managerID)
            var warnings: [String] = []
            if load > SupervisionReport.casesPerManager {
                warnings.append("'\(managerID)' now manages \(load) open, inactive or aged-out cases; the manual recommends at most \(SupervisionReport.casesPerManager)")
            }
            if managers.count > SupervisionReport.managersPerSupervisor {
                warnings.append("'\(supervisorID)' now supervises \(managers.count) case managers; the manual recommends at most \(SupervisionReport.managersPerSupervisor)")
            }
            return warnings
        }
    }
}
