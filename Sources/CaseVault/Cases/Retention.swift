public import Foundation

/// What the retention plan says of one closed case.
public struct RetentionItem: Sendable, Equatable {
    public enum Action: String, Sendable {
        /// Due for disposal by crypto-shredding (`retention approve`, then `retention apply`).
        case dispose = "dispose"
        case review = "review"
        /// Kept: not yet due, kept for ever, or held.
        case keep = "keep"
    }
    public let caseNumber: String
    public let action: Action
    /// The day the rule's keeping period ends (`YYYY-MM-DD`), when known.
    public let dueOn: String?
    /// Which rule of the policy applied: `default`, `byStatus.AO`, `byCategory[0]`.
    public let rule: String
    public let why: String
}

/// A parsed retention policy (Schemas/retention-policy.schema.json).
struct RetentionPolicy {
    struct Rule {
        var years = 0, months = 0
        var countFrom = "closure"
        var disposal: String
        var legalHold = false
        /// Who may approve a disposal under the rule (role names), how many
        /// approvals it needs, and whether the case's manager is barred.
        var approverRoles: Set<String> = []
        var minimumApprovals = 2
        var distinctFromCaseManager = true
    }
    var defaultRule: Rule
    var byStatus: [String: Rule] = [:]
    var byCategory: [(category: String, statuses: Set<String>?, rule: Rule)] = []
    var suspendAll = false
    /// Standing holds in the file: by case number and by category.
    var heldCases = Set<String>(), heldCategories = Set<String>()

    static let schema: SchemaValidator = {
        // The embedded copy of Schemas/retention-policy.schema.json (a test holds them equal).
        guard let json = try? JSONValue(parsing: Array(BuiltInSchemas.retentionPolicy.utf8)),
              let validator = try? SchemaValidator(schema: json) else { preconditionFailure("the embedded retention schema is invalid") }
        return validator
    }()

    init(_ json: JSONValue) throws {
        func rule(_ value: JSONValue?) throws -> Rule {
            guard case .object(let m)? = value, let disposal = m["disposal"]?.stringValue else { throw VaultError.invalidInput("a rule is malformed") }
            var r = Rule(disposal: disposal)
            r.years = Int(m["keep"]?["years"]?.integerValue ?? 0)
            r.months = Int(m["keep"]?["months"]?.integerValue ?? 0)
            r.countFrom = m["countFrom"]?.stringValue ?? "closure"
            if case .bool(true)? = m["legalHold"] { r.legalHold = true }
            if case .object(let approvers)? = m["approvers"] {
                if case .array(let roles)? = approvers["roles"] { r.approverRoles = Set(roles.compactMap(\.stringValue)) }
                r.minimumApprovals = Int(approvers["minimumApprovals"]?.integerValue ?? 2)
                if case .bool(false)? = approvers["distinctFromCaseManager"] { r.distinctFromCaseManager = false }
            }
            return r
        }
        defaultRule = try rule(json["default"])
        if case .object(let statuses)? = json["byStatus"] { for (status, value) in statuses { byStatus[status] = try rule(value) } }
        if case .array(let entries)? = json["byCategory"] {
            for entry in entries {
                guard let category = entry["category"]?.stringValue else { continue }
                var statuses: Set<String>?
                if case .array(let list)? = entry["statuses"] { statuses = Set(list.compactMap(\.stringValue)) }
                byCategory.append((category, statuses, try rule(entry["rule"])))
            }
        }
        if case .bool(true)? = json["suspendAllDisposal"] { suspendAll = true }
        if case .array(let holds)? = json["legalHolds"] {
            for hold in holds where hold["liftedAt"] == nil {
                if let number = hold["case"]?.stringValue { heldCases.insert(number) }
                if let category = hold["category"]?.stringValue { heldCategories.insert(category) }
            }
        }
    }

    /// The rule for a case of `category` closed from `fromStatus`: a
    /// category rule, then the status rule, then `C`'s, then the default.
    func rule(category: String, closedFrom fromStatus: String) -> (String, Rule) {
        for (index, entry) in byCategory.enumerated() where entry.category == category && (entry.statuses?.contains(fromStatus) ?? true) {
            return ("byCategory[\(index)]", entry.rule)
        }
        if let rule = byStatus[fromStatus] { return ("byStatus.\(fromStatus)", rule) }
        if let rule = byStatus["C"] { return ("byStatus.C", rule) }
        return ("default", defaultRule)
    }
}

extension Vault {
    /// Sets the next version of the retention policy (admins, project
    /// directors): the file must be valid against
    /// Schemas/retention-policy.schema.json, name this vault, and use its
    /// categories. A signed event; the file is kept as a blob.
    public func setRetentionPolicy(_ bytes: [UInt8], by actor: StaffIdentity, now: Date = Date()) throws -> Int {
        guard actor.role == .admin || actor.role == .projectDirector else {
            throw VaultError.accessDenied("the retention policy is set by admins and project directors; '\(actor.id)' is \(actor.role.withArticle)")
        }
        let json: JSONValue
        do { json = try JSONValue(parsing: bytes) } catch { throw VaultError.invalidInput("the retention policy is not JSON: \(error)") }
        let violations = RetentionPolicy.schema.validate(json)
        guard violations.isEmpty else { throw VaultError.invalidForm(report: "retention policy", violations: violations) }
        guard json["vaultId"]?.stringValue == config.vaultId else {
            throw VaultError.invalidInput("the policy names vault \(json["vaultId"]?.stringValue ?? "?"), not this one (\(config.vaultId))")
        }
        let policy = try RetentionPolicy(json)
        let rules = [policy.defaultRule] + Array(policy.byStatus.values) + policy.byCategory.map(\.rule)
        let approving = Set(Policy.disposalApprovingRoles.map(\.rawValue))
        for role in rules.filter({ $0.disposal == "crypto-shredding" }).flatMap(\.approverRoles) where !approving.contains(role) {
            throw VaultError.invalidInput("the policy names \(role) as an approver of disposals; only \(approving.sorted().joined(separator: ", ")) approve them")
        }
        for category in policy.byCategory.map(\.category) + Array(policy.heldCategories) where !config.caseCategories.contains(category) {
            throw VaultError.invalidInput("the policy names category \(category), which this vault does not have (\(config.caseCategories.joined(separator: ", ")))")
        }
        return try write { writer, head in
            let version = (try head.signedState(writer).retentionPolicies().last?.version ?? 0) + 1
            let hash = try Ledger.putBlob(bytes, in: writer)
            try Ledger.append([.retentionPolicySet(RetentionPolicySet(version: version, bodyHash: hash))], by: actor, at: now,
                              vaultID: config.vaultId, head: &head, in: writer)
            return version
        }
    }

    /// The policy in force: its version and file, or nil when none is set.
    public func retentionPolicy() throws -> (version: Int, bytes: [UInt8])? {
        try read { reader, head in
            guard head.size > 0 else { return nil }
            let signed = head.signedState(reader)
            guard let current = try signed.retentionPolicies().last else { return nil }
            return (current.version, try signed.blob(current.bodyHash, what: "retention policy v\(current.version)"))
        }
    }

    /// What the policy in force says of every closed case as of `asOf`:
    /// due for disposal, for review, or kept, and why (rule, dates, holds).
    /// Nothing is destroyed. Open, inactive and aged-out cases are not
    /// listed: their rule applies once they are closed; nor are cases
    /// already disposed of.
    public func retentionPlan(asOf: Date = Date()) throws -> [RetentionItem] {
        try read { reader, head in
            guard let schedule = try RetentionSchedule(head.size > 0 ? head.signedState(reader) : nil, asOf: asOf) else {
                throw VaultError.notFound("no retention policy is set; set one with 'casevault retention policy set FILE'")
            }
            return try Self.retentionPlan(schedule, in: head.signedState(reader))
        }
    }

    /// The plan within a snapshot the caller holds (the controls report's,
    /// live or replayed from an audit bag).
    static func retentionPlan(_ schedule: RetentionSchedule, in signed: SignedState) throws -> [RetentionItem] {
        try signed.cases(matching: CaseQuery(status: CaseStatus.closed.rawValue)).compactMap { try schedule.item(for: $0, signed)?.item }
    }
}

/// The policy in force, read once, and what it says of one case.
struct RetentionSchedule {
    let version: Int
    let policy: RetentionPolicy
    let today: String

    /// Nil when no policy is set.
    init?(_ signed: SignedState?, asOf: Date) throws {
        guard let signed, let current = try signed.retentionPolicies().last else { return nil }
        let bytes = try signed.blob(current.bodyHash, what: "retention policy v\(current.version)")
        version = current.version
        policy = try RetentionPolicy(try JSONValue(parsing: bytes))
        today = Lifecycle.day(asOf)
    }

    /// What of the policy holds a case whatever its rule: its `legalHolds`
    /// naming the case or its category (nil when none does).
    func policyHold(of record: CaseRecord) -> String? {
        policy.heldCases.contains(record.number) || policy.heldCategories.contains(record.category)
            ? "retention policy v\(version) holds it (legalHolds)" : nil
    }

    /// The plan's line for a closed case, with the rule that applied; nil
    /// for a case that is not closed or was disposed of. `format` is the
    /// event format whose rules apply (a replay's event's; a command's,
    /// the current): from format 4, `last-filing` counts withdrawn
    /// versions too, for a withdrawal does not end a document's keeping.
    func item(for state: CaseState, _ signed: SignedState,
              format: Int = Event.currentFormat) throws -> (item: RetentionItem, rule: RetentionPolicy.Rule, ruleName: String)? {
        let record = state.case
        guard record.status == CaseStatus.closed.rawValue, try signed.disposal(record.number) == nil,
              let closing = try signed.lifecycle(record.number).changes.last(where: { $0.to == CaseStatus.closed.rawValue }) else { return nil }
        let (ruleName, rule) = policy.rule(category: record.category, closedFrom: closing.from)
        let named = "policy v\(version) \(ruleName)"
        // From format 4 days are compared as dates: as text, a year past 9999
        // ("10004-12-31") sorts before today. Earlier events replay as they
        // were accepted, with days compared as text.
        let asDates = format >= 4
        // The start as text (format 3: the later day as text, parsed once the rule is known) and as a date (format 4).
        var startText = String(closing.at.prefix(10))
        var startDate = Lifecycle.parseDay(startText)
        switch rule.countFrom {
        case "closure":
            // From format 4, a version filed into the case after it closed is kept its own full period:
            // counted from its filing, not from a closure that came before it.
            guard asDates else { break }
            for document in try signed.documents(record.number) {
                if let version = try signed.version(record.number, document.name, document.latestVersion), version.filedSeq > closing.seq,
                   let filed = Timestamp.date(from: version.stamp.date), let day = Lifecycle.parseDay(Lifecycle.day(filed)),
                   let start = startDate {
                    startDate = max(start, day)
                }
            }
        case "last-filing":
            for document in try signed.documents(record.number) {
                let newest = format >= 4 ? document.latestVersion : try signed.currentVersion(of: document)
                if let current = newest, let version = try signed.version(record.number, document.name, current),
                   let filed = Timestamp.date(from: version.stamp.date) {
                    startText = max(startText, Lifecycle.day(filed))
                    if let day = Lifecycle.parseDay(Lifecycle.day(filed)), let start = startDate { startDate = max(start, day) }
                }
            }
        default:
            return (RetentionItem(caseNumber: record.number, action: .review, dueOn: nil, rule: named,
                                  why: "counts from \(rule.countFrom), a date only the case's content holds: review by hand"), rule, ruleName)
        }
        guard let startDay = asDates ? startDate : Lifecycle.parseDay(startText) else { return nil }
        let start = Lifecycle.day(startDay)
        guard let end = Lifecycle.utc.date(byAdding: DateComponents(year: rule.years, month: rule.months), to: startDay) else { return nil }
        let due = Lifecycle.day(end)
        // A date the case's events put past the year 9999 (a signer's clock set far ahead) is never reached by the clock.
        let reachable = !asDates || Lifecycle.parseDay(due) != nil
        let isDue = asDates ? (Lifecycle.parseDay(today).map { end <= $0 } ?? false) : !(due > today)
        var held: [String] = []
        if try signed.hold(record.number) != nil { held.append("a legal hold stands on the case") }
        if policy.suspendAll { held.append("the policy suspends all disposal") }
        if policyHold(of: record) != nil { held.append("the policy holds it") }
        if rule.legalHold { held.append("its rule is under legal hold") }
        let from = rule.countFrom == "closure" && start != String(closing.at.prefix(10)) ? "a filing after closure" : rule.countFrom
        let period = "\(rule.years) years\(rule.months > 0 ? " \(rule.months) months" : "") from \(from) (\(start))"
        let action: RetentionItem.Action
        let why: String
        if rule.disposal == "never" {
            (action, why) = (.keep, "kept for ever")
        } else if !reachable {
            (action, why) = (.keep, "kept: its keeping period ends after the year 9999 (\(period))")
        } else if !isDue {
            (action, why) = (.keep, "kept until \(due): \(period)")
        } else if !held.isEmpty {
            (action, why) = (.keep, "due on \(due), but \(held.joined(separator: "; "))")
        } else if rule.disposal == "review-only" {
            (action, why) = (.review, "due for review since \(due): \(period)")
        } else {
            (action, why) = (.dispose, "due for disposal by crypto-shredding since \(due): \(period)")
        }
        return (RetentionItem(caseNumber: record.number, action: action, dueOn: due, rule: named, why: why), rule, ruleName)
    }
}
