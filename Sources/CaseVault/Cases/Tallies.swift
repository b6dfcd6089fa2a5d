internal import CaseVaultCrypto
import Foundation

// Running tallies for the monthly supervision report (issue 9; SECURITY.md
// §12a, "Report tallies"). The report must not read every case: at 100,000
// cases that took seconds. So the one projection keeps, in the state map
// beside everything else, what the report counts: per month, the change in
// cases by category and status and in each supervisor's and manager's
// active cases, and the month's openings, closings and transfers; now, the
// holds, cases of concern, closures awaiting approval and aged-out cases
// (how many, so that the catalog's listings of them prove complete); per
// case manager, their open cases by the day of the last filing and of the
// last home visit. Each case's own contribution is kept too (`CaseTally`),
// so an event's effect is the difference between the case's contribution
// before and after it, whatever the event was.
//
// A vault keeps tallies from the event that starts them: `vault.created`
// with `tallies: true` (every vault made since), or `report.tallies-started`
// for an older vault, which counts what came before from the signed state.
// `verify` replays them like every other record.

extension StateKey {
    /// Present once tallies are kept: the counts of now, and where they began.
    static let tallyTotals = "tally/totals"
    /// The months with a tally, ascending.
    static let tallyMonths = "tally/months"
    static func tallyCase(_ number: String) -> String { "tally/case/" + number }
    static func tallyMonth(_ month: String) -> String { "tally/month/" + month }
    static func tallyActivity(_ month: String, chunk: Int) -> String { "tally/month/\(month)/\(chunk)" }
    static func tallyDue(_ manager: String) -> String { "tally/due/" + manager }
}

/// What one case adds to the tallies: as much of its state as they use.
struct CaseTally: Codable, Equatable {
    var category: String
    var concern: Bool
    /// Not transferred to another vault.
    var here: Bool
    var hold: Bool
    /// The day (`YYYY-MM-DD`, UTC) of its newest filing, or of its opening.
    var lastFiled: String
    /// The day of its newest home-visit or monitoring form (absent while none).
    var lastVisit: String?
    var manager: String
    var openedDay: String
    var pendingClosure: Bool
    var status: String
    var supervisor: String

    /// Counted in its manager's caseload: open, inactive or aged out, here.
    var isActive: Bool { here && status != CaseStatus.closed.rawValue }
    /// The day `due`'s "no recent visit" compares: the last visit, or the opening.
    var visitDay: String { max(lastVisit ?? "", openedDay) }
}

/// A month's changes: cases by category and status, active cases by
/// supervisor and manager (both net changes during the month, so the counts
/// at a month's end are the sums up to it), and how many activity entries
/// its chunks hold.
struct MonthTally: Codable, Equatable {
    var activity: Int = 0
    var caseloads: [String: [String: Int]] = [:]
    var statuses: [String: [String: Int]] = [:]
}

/// Up to `ActivityChunk.size` of a month's entries, in event order.
struct ActivityChunk: Codable, Equatable {
    /// Part of the signed layout (SECURITY.md §12a): a vault that keeps
    /// tallies has its months' chunks cut at 128; never change it.
    static let size = 128

    struct Entry: Codable, Equatable {
        var `case`: String
        var kind: String
    }
    var entries: [Entry]
}

/// The kinds of a month's activity entries.
enum TallyActivity: String, CaseIterable {
    case opened, closed, agedOut = "aged-out", reopened, transferredIn = "transferred-in", transferredOut = "transferred-out"
}

struct TallyMonths: Codable, Equatable {
    var months: [String]
}

/// The counts of now, and the event from which tallies are kept.
struct TallyTotals: Codable, Equatable {
    /// Aged-out cases here.
    var agedOut: Int = 0
    /// Cases tagged `case-of-concern`.
    var concern: Int = 0
    var holds: Int = 0
    var pendingClosures: Int = 0
    var since: Int64
}

/// A case manager's open work by day: cases open, inactive or aged out by
/// the day of their last filing (`idle`), and open cases by their visit day
/// (`visit`).
struct DueTally: Codable, Equatable {
    var idle: [String: Int] = [:]
    var visit: [String: Int] = [:]
}

extension CaseTally: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("category", category)
        m.bool("concern", concern)
        m.bool("here", here)
        m.bool("hold", hold)
        m.string("lastFiled", lastFiled)
        if let lastVisit { m.string("lastVisit", lastVisit) }
        m.string("manager", manager)
        m.string("openedDay", openedDay)
        m.bool("pendingClosure", pendingClosure)
        m.string("status", status)
        m.string("supervisor", supervisor)
    }
}

/// Counts by name, names in byte order (canonical JSON's member order).
private func writeCounts(_ counts: [String: Int], to writer: inout CanonicalWriter.Members) {
    for (key, value) in counts.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) { writer.integer(key, value) }
}

private func writeNested(_ key: String, _ counts: [String: [String: Int]], to m: inout CanonicalWriter.Members) {
    m.object(key) { outer in
        for (name, inner) in counts.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            outer.object(name) { writeCounts(inner, to: &$0) }
        }
    }
}

extension MonthTally: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.integer("activity", activity)
        writeNested("caseloads", caseloads, to: &m)
        writeNested("statuses", statuses, to: &m)
    }
}

extension ActivityChunk: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.array("entries", entries) { entry, w in
            w.object {
                $0.string("case", entry.case)
                $0.string("kind", entry.kind)
            }
        }
    }
}

extension TallyMonths: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) { m.strings("months", months) }
}

extension TallyTotals: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.integer("agedOut", agedOut)
        m.integer("concern", concern)
        m.integer("holds", holds)
        m.integer("pendingClosures", pendingClosures)
        m.integer("since", since)
    }
}

extension DueTally: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.object("idle") { writeCounts(idle, to: &$0) }
        m.object("visit") { writeCounts(visit, to: &$0) }
    }
}

/// What one event changes in the tallies, gathered case by case and then
/// written, each record once.
struct TallyChanges {
    let month: String
    var statuses: [String: [String: Int]] = [:]
    var caseloads: [String: [String: Int]] = [:]
    var agedOut = 0, concern = 0, holds = 0, pendingClosures = 0
    var idle: [String: [String: Int]] = [:]
    var visit: [String: [String: Int]] = [:]
    var activity: [ActivityChunk.Entry] = []

    init(month: String) { self.month = month }

    var changesTotals: Bool { agedOut != 0 || concern != 0 || holds != 0 || pendingClosures != 0 }
    var changesMonth: Bool { !statuses.isEmpty || !caseloads.isEmpty || !activity.isEmpty }
    var isEmpty: Bool { !changesTotals && !changesMonth && idle.isEmpty && visit.isEmpty }

    static func merge(_ delta: [String: [String: Int]], into counts: inout [String: [String: Int]]) {
        for (outer, inner) in delta {
            for (name, value) in inner { add(value, outer, name, to: &counts) }
        }
    }

    static func merge(_ delta: [String: Int], into counts: inout [String: Int]) {
        for (name, value) in delta {
            let sum = (counts[name] ?? 0) + value
            counts[name] = sum == 0 ? nil : sum
        }
    }

    private static func add(_ delta: Int, _ outer: String, _ inner: String, to counts: inout [String: [String: Int]]) {
        let value = (counts[outer]?[inner] ?? 0) + delta
        counts[outer, default: [:]][inner] = value == 0 ? nil : value
        if counts[outer]?.isEmpty == true { counts[outer] = nil }
    }

    /// Adds (`sign` 1) or takes away (-1) what `tally` contributes.
    mutating func count(_ tally: CaseTally, _ sign: Int) {
        if tally.here { Self.add(sign, tally.category, tally.status, to: &statuses) }
        if tally.isActive {
            Self.add(sign, tally.supervisor, tally.manager, to: &caseloads)
            Self.add(sign, tally.manager, tally.lastFiled, to: &idle)
            if tally.status == CaseStatus.open.rawValue { Self.add(sign, tally.manager, tally.visitDay, to: &visit) }
        }
        if tally.here && tally.status == CaseStatus.agedOut.rawValue { agedOut += sign }
        if tally.concern { concern += sign }
        if tally.hold { holds += sign }
        if tally.pendingClosure { pendingClosures += sign }
    }

    /// A case's contribution moves from `old` to `new` (nil: none), and
    /// the month's activity gains what the move means.
    mutating func move(_ number: String, from old: CaseTally?, to new: CaseTally, imported: Bool) {
        if let old { count(old, -1) }
        count(new, 1)
        func entry(_ kind: TallyActivity) { activity.append(ActivityChunk.Entry(case: number, kind: kind.rawValue)) }
        guard let old else {
            if new.here { entry(imported ? .transferredIn : .opened) }
            return
        }
        if old.here && !new.here { entry(.transferredOut) }
        guard old.here, new.here, old.status != new.status else { return }
        switch CaseStatus(rawValue: new.status) {
        case .closed: entry(.closed)
        case .agedOut: entry(.agedOut)
        case .open where old.status == CaseStatus.closed.rawValue: entry(.reopened)
        default: break
        }
    }
}

/// Decoded tally records by the SHA-256 of their canonical bytes, shared by
/// every vault in the process: the projection reads back, event after
/// event, the records it wrote (a month's activity chunk grows one entry
/// at a time), and a replay has no memo, so each read decoded the JSON
/// again (a quarter of `verify`'s time on a log of case openings). Keyed
/// by content, an entry is right for any vault and any key; bounded.
final class TallyRecordCache: @unchecked Sendable {
    static let shared = TallyRecordCache()
    private let lock = NSLock()
    private var records: [[UInt8]: any CanonicalRecord] = [:]
    private static let limit = 1024

    func record<R: CanonicalRecord>(_ hash: [UInt8]) -> R? {
        lock.withLock { records[hash] as? R }
    }

    func remember(_ hash: [UInt8], _ record: some CanonicalRecord) {
        lock.withLock {
            if records.count >= Self.limit { records.removeAll(keepingCapacity: true) }
            records[hash] = record
        }
    }
}

/// What of a case an event changed, by the state-map keys it set or
/// removed: the parts of its tally to read again.
struct TallyParts: OptionSet {
    let rawValue: UInt8
    /// `case/<n>`: category, status, manager, supervisor, here, opening.
    static let record = TallyParts(rawValue: 1)
    /// `lifecycle/<n>`: the pending closure.
    static let lifecycle = TallyParts(rawValue: 2)
    static let tags = TallyParts(rawValue: 4)
    static let hold = TallyParts(rawValue: 8)
    /// `document/…`, `withdrawals/…`: the filing days.
    static let documents = TallyParts(rawValue: 16)
}

extension SignedState {
    /// `old` with the parts an event changed read again from the signed
    /// state; the same as `computeCaseTally`, reading less.
    func updatedCaseTally(_ old: CaseTally, _ number: String, parts: TallyParts) throws -> CaseTally? {
        var next = old
        if !parts.isDisjoint(with: [.record, .documents]) {
            guard let record = try caseState(number)?.case else { return nil }
            next.category = record.category
            next.status = record.status
            next.manager = record.manager
            next.supervisor = record.supervisor
            next.here = record.transferred == nil
            next.openedDay = String(record.openedAt.prefix(10))
            if parts.contains(.documents) { (next.lastFiled, next.lastVisit) = try filingDays(of: record) }
        }
        if parts.contains(.lifecycle) { next.pendingClosure = try lifecycle(number).pendingClosure != nil }
        if parts.contains(.tags) { next.concern = try tags(number).contains { $0.tag == CaseTags.caseOfConcern } }
        if parts.contains(.hold) { next.hold = try hold(number) != nil }
        return next
    }

    /// A tally record: its row's bytes must hash to the map's value at
    /// `key` (the row is the record's canonical JSON), nil when the map
    /// holds none.
    func tally<R: CanonicalRecord & Decodable>(_ key: String, as type: R.Type) throws -> R? {
        try rememberedRaw(key, what: "the report tally \(key)") { bytes in
            do { return try JSONDecoder().decode(R.self, from: Data(bytes)) } catch {
                throw VaultError.integrityFailure("the report tally \(key) in the catalog cannot be read")
            }
        }
    }

    /// Whether tallies are kept, and their totals.
    func tallyTotals() throws -> TallyTotals? { try tally(StateKey.tallyTotals, as: TallyTotals.self) }

    /// A case's tally as its signed state says it now.
    func computeCaseTally(_ number: String) throws -> CaseTally? {
        guard let state = try caseState(number) else { return nil }
        return try caseTally(state, lifecycle: lifecycle(number))
    }

    /// The same, from the case and lifecycle the caller has already read
    /// (checked): its documents, tags and hold are read here.
    func caseTally(_ state: CaseState, lifecycle: LifecycleState) throws -> CaseTally {
        let record = state.case, number = record.number
        let (lastFiled, lastVisit) = try filingDays(of: record)
        return CaseTally(category: record.category,
                         concern: try tags(number).contains { $0.tag == CaseTags.caseOfConcern },
                         here: record.transferred == nil, hold: try hold(number) != nil, lastFiled: lastFiled, lastVisit: lastVisit,
                         manager: record.manager, openedDay: String(record.openedAt.prefix(10)), pendingClosure: lifecycle.pendingClosure != nil,
                         status: record.status, supervisor: record.supervisor)
    }

    /// The day of a case's newest filing (of each document's current
    /// version, by its stamp), or of its opening; and of its newest
    /// home-visit or monitoring form.
    func filingDays(of record: CaseRecord) throws -> (lastFiled: String, lastVisit: String?) {
        var lastFiled = String(record.openedAt.prefix(10))
        var lastVisit: String?
        for document in try documents(record.number) {
            guard let current = try currentVersion(of: document),
                  let version = try version(record.number, document.name, current),
                  let day = Lifecycle.utcDay(ofStamp: version.stamp.date) else { continue }
            lastFiled = max(lastFiled, day)
            if document.isForm, DueItem.visitFormTypes.contains(document.type) { lastVisit = max(lastVisit ?? day, day) }
        }
        return (lastFiled, lastVisit)
    }
}

extension CaseTally {
    /// The tally after a version filed on `day` (`visit`: a home-visit or
    /// monitoring form): the newest filing days only move on.
    func filed(on day: String, visit: Bool) -> CaseTally {
        var next = self
        next.lastFiled = max(lastFiled, day)
        if visit { next.lastVisit = max(lastVisit ?? day, day) }
        return next
    }
}
