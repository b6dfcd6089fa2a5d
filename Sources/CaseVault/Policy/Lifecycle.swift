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

    private static func closureFormMissing(_ record: CaseRecord) -> Refusal {
        .rule("closing \(record.number) needs a filed closure form first: casevault file \(record.number) --form \(closureFormType) FILE.json")
    }
}
