/// The rules of a case's status (manual §5.2; SECURITY.md §12, "who may
/// sign what"). The core checks them to refuse a command with a clear
/// message; the projection checks them again on every event, so a log that
/// breaks them is refused whoever wrote it.
///
/// - `case status` moves O→IA, IA→O, O→AO, and closes (O, IA or AO → C);
///   C→O is a reopening (`case reopen`).
/// - The case's manager or supervisor moves it; a closure needs a filed
///   `closure` form and is the supervisor's, or the manager's with the
///   supervisor's signed approval, so no manager closes alone; only the
///   supervisor reopens.
internal import Foundation

enum Lifecycle {
    static let moves: [CaseStatus: [CaseStatus]] = [
        .open: [.inactive, .agedOut, .closed],
        .inactive: [.open, .closed],
        .agedOut: [.closed],
        .closed: [.open],
    ]

    /// The form type a closure needs filed in the case.
    static let closureFormType = "closure"
    static let maxReasonBytes = 1_000

    /// Why a move is refused: who signs it, or the rule it breaks.
    enum Refusal: Error, Equatable {
        case role(String)
        case rule(String)

        var message: String {
            switch self {
            case .role(let text), .rule(let text): text
            }
        }
    }

    /// Why `actor` may not move a case from its status to `to` (nil when
    /// they may).
    static func refusal(moving record: CaseRecord, to: CaseStatus, by actor: String, closureFiled: Bool) -> Refusal? {
        guard let from = CaseStatus(rawValue: record.status) else { return .rule("case \(record.number) has an unknown status '\(record.status)'") }
        guard from != to else { return .rule("case \(record.number) is already \(to.rawValue) (\(to.displayName))") }
        let allowed = moves[from] ?? []
        guard allowed.contains(to) else {
            let list = allowed.map { "\($0.rawValue) (\($0.displayName))" }.joined(separator: ", ")
            return .rule("\(from.rawValue) → \(to.rawValue) is not an allowed move: from \(from.rawValue) a case moves to \(list)")
        }
        let isManager = actor == record.manager, isSupervisor = actor == record.supervisor
        guard isManager || isSupervisor else {
            return .role("only the case's manager (\(record.manager)) or supervisor (\(record.supervisor)) changes the status of \(record.number)")
        }
        if from == .closed, !isSupervisor {
            return .role("only the case's supervisor (\(record.supervisor)) reopens \(record.number)")
        }
        if to == .closed {
            guard closureFiled else { return closureFormMissing(record) }
            guard isSupervisor else {
                return .role("a case manager does not close a case alone: add --approved-by \(record.supervisor) to ask its supervisor, who then runs 'casevault case approve \(record.number)'")
            }
        }
        return nil
    }

    /// Why `actor` may not ask `approver` to approve closing a case.
    static func refusal(requestingClosureOf record: CaseRecord, approver: String, by actor: String, closureFiled: Bool) -> Refusal? {
        guard let from = CaseStatus(rawValue: record.status) else { return .rule("case \(record.number) has an unknown status '\(record.status)'") }
        guard moves[from]?.contains(.closed) == true else {
            return .rule("case \(record.number) is \(from.rawValue) (\(from.displayName)); only an O, IA or AO case is closed")
        }
        guard actor == record.manager else {
            return actor == record.supervisor
                ? .rule("the supervisor closes without approval: drop --approved-by")
                : .role("only the case's manager (\(record.manager)) asks for its closure")
        }
        guard approver == record.supervisor else {
            return .rule("the closure of \(record.number) is approved by its supervisor (\(record.supervisor)), not '\(approver)'")
        }
        guard closureFiled else { return closureFormMissing(record) }
        return nil
    }

    /// Why `actor` may not approve the closure request of event `request`.
    static func refusal(approving request: Int64, pending: ClosureRequestRecord?, of record: CaseRecord, by actor: String,
                        closureFiled: Bool) -> Refusal? {
        guard let pending, pending.seq == request else {
            return .rule("no closure of \(record.number) is awaiting approval" + (pending == nil ? "" : " by request \(request)"))
        }
        guard actor == pending.approver, actor == record.supervisor else {
            return .role("the closure of \(record.number) awaits the approval of its supervisor (\(pending.approver)), not '\(actor)'")
        }
        guard let from = CaseStatus(rawValue: record.status), moves[from]?.contains(.closed) == true else {
            return .rule("case \(record.number) is \(record.status); only an O, IA or AO case is closed")
        }
        guard closureFiled else { return closureFormMissing(record) }
        return nil
    }

    /// A reason is required, on one line or several, and kept short.
    static func refusal(reason: String) -> Refusal? {
        if reason.allSatisfy(\.isWhitespace) { return .rule("give a reason (--reason)") }
        if reason.utf8.count > maxReasonBytes { return .rule("the reason is longer than \(maxReasonBytes) bytes") }
        if reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" }) {
            return .rule("the reason holds control characters")
        }
        return nil
    }

    // MARK: The aged-out clock

    /// How long an AO case stays AO before it closes (manual §5.2).
    static let agedOutMonths = 6

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// The shortest shadowing of a handover (manual §5.2.4: "for at least
    /// three months").
    static let shadowingMonths = 3

    /// The earliest day the shadowing of a handover started at `at` ends:
    /// three calendar months after its UTC day.
    static func earliestShadowEnd(startedAt at: Date) -> String? {
        guard let start = parseDay(day(at)), let end = utc.date(byAdding: .month, value: shadowingMonths, to: start),
              parseDay(day(end)) != nil else { return nil }
        return day(end)
    }

    /// `YYYY-MM-DD` of an instant, in UTC.
    static func day(_ date: Date) -> String {
        let c = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    /// The UTC day of a stamp's date, `YYYY-MM-DDThh:mm:ss` then `Z`,
    /// `±hh:mm` (SECURITY.md §11) or `±hhmm` (as one early build wrote
    /// it), worked out by hand rather than by a date
    /// parser: the report's tallies are signed state, and every reader and
    /// replay must get the same day. Nil for any other text.
    static func utcDay(ofStamp text: String) -> String? {
        let b = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var value = 0
            for byte in b[from..<(from + count)] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard b.count == 20 || b.count == 24 || b.count == 25, b[4] == 0x2d, b[7] == 0x2d, b[10] == 0x54, b[13] == 0x3a, b[16] == 0x3a,
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), day >= 1, day <= daysIn(month, of: year), hour < 24, minute < 60, second < 60 else { return nil }
        var offset = 0  // minutes east of UTC
        if b.count == 20 {
            guard b[19] == 0x5a else { return nil }
        } else {
            let colon = b.count == 25
            guard b[19] == 0x2b || b[19] == 0x2d, !colon || b[22] == 0x3a, let h = number(20, 2), let m = number(colon ? 23 : 22, 2),
                  h < 24, m < 60 else { return nil }
            offset = (h * 60 + m) * (b[19] == 0x2b ? 1 : -1)
        }
        // Days since 1970-01-01 (proleptic Gregorian), then the offset taken off.
        let minutes = daysSinceEpoch(year, month, day) * 1440 + hour * 60 + minute - offset
        let (y, m, d) = civil(fromDays: Int((Double(minutes) / 1440).rounded(.down)))
        return String(format: "%04d-%02d-%02d", y, m, d)
    }

    private static func daysIn(_ month: Int, of year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Howard Hinnant's days_from_civil and civil_from_days.
    private static func daysSinceEpoch(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// A strict `YYYY-MM-DD` that names a real day.
    static func parseDay(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let year = Int(parts[0]), let month = Int(parts[1]), let dayOfMonth = Int(parts[2]),
              let date = utc.date(from: DateComponents(year: year, month: month, day: dayOfMonth)), day(date) == text else { return nil }
        return date
    }

    /// The day an AO case closes: six calendar months after the UTC day it
    /// became AO (the last day of the month when that month is shorter), or
    /// the day its supervisor extended it to. Nil unless the case is AO.
    static func agedOutClosingDay(_ record: CaseRecord, _ lifecycle: LifecycleState) -> String? {
        guard record.status == CaseStatus.agedOut.rawValue,
              let became = lifecycle.changes.last(where: { $0.to == CaseStatus.agedOut.rawValue }),
              let at = Timestamp.date(from: became.at) else { return nil }
        if let extended = lifecycle.aoExtension { return extended.until }
        guard let start = parseDay(day(at)), let closing = utc.date(byAdding: .month, value: agedOutMonths, to: start),
              parseDay(day(closing)) != nil else { return nil }  // a four-digit year, or it never closes by the clock
        return day(closing)
    }

    /// Why the supervisor may not extend an AO case to `until` at `now`.
    static func refusal(extending record: CaseRecord, _ lifecycle: LifecycleState, until: String, by actor: String, at now: Date) -> Refusal? {
        guard record.status == CaseStatus.agedOut.rawValue, let closing = agedOutClosingDay(record, lifecycle) else {
            return .rule("\(record.number) is \(record.status), not AO; only an aged-out case's closing date is extended")
        }
        guard actor == record.supervisor else {
            return .role("only the case's supervisor (\(record.supervisor)) extends the closing date of \(record.number)")
        }
        guard parseDay(until) != nil else { return .rule("'\(until)' is not a date (YYYY-MM-DD)") }
        guard until > closing, until > day(now) else {
            return .rule("\(record.number) closes on \(closing); an extension moves that later (and after today)")
        }
        return nil
    }

    /// Why an AO case may not be closed by its clock, on `closedOn`, at `now`.
    static func refusal(closingAgedOut record: CaseRecord, _ lifecycle: LifecycleState, closedOn: String, at now: Date) -> Refusal? {
        guard let closing = agedOutClosingDay(record, lifecycle) else {
            return .rule("\(record.number) is \(record.status), not AO")
        }
        guard closedOn == closing, let closingDate = parseDay(closing) else {
            return .rule("\(record.number) closes on \(closing), not \(closedOn)")
        }
        guard now >= closingDate else { return .rule("\(record.number) closes on \(closing), not before") }
        return nil
    }

    private static func closureFormMissing(_ record: CaseRecord) -> Refusal {
        .rule("closing \(record.number) needs a filed closure form first: casevault file \(record.number) --form \(closureFormType) FILE.json")
    }
}
