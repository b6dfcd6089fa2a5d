public import Foundation
internal import CaseVaultCrypto

/// One check of the confidentiality-controls report.
public struct ControlCheck: Sendable, Equatable {
    public let id: String
    public let title: String
    /// False when an item needs an auditor's attention. Informational
    /// checks (lists of what happened) always pass.
    public let passed: Bool
    public let informational: Bool
    public let items: [String]
    public var count: Int { items.count }
}

/// The confidentiality-controls report (`casevault audit controls`): what
/// the signed state and log say about who can read what, computed without
/// a passphrase or a key (SECURITY.md §12d).
public struct ControlsReport: Sendable {
    public let vaultId: String
    public let asOf: String
    public let logSize: Int64
    public let logRoot: String
    public let checks: [ControlCheck]
    /// Per case and tier, the current generation's holders.
    public let holders: [(caseNumber: String, tier: Tier, holders: [String])]

    public var passed: Bool { checks.allSatisfy(\.passed) }

    /// `data/controls.json` of an audit bag, as `verify-export` compares it.
    var json: JSONValue {
        .object([
            "vaultId": .string(vaultId), "asOf": .string(asOf), "logSize": .integer(logSize),
            "logRoot": .string(logRoot), "passed": .bool(passed),
            "checks": .array(checks.map { c in
                .object(["id": .string(c.id), "title": .string(c.title), "passed": .bool(c.passed), "informational": .bool(c.informational),
                         "count": .integer(Int64(c.count)), "items": .array(c.items.map { .string($0) })])
            }),
        ])
    }
}

extension ControlsReport {
    /// The checks that come from the events alone, in order (who held which
    /// tier of which case at each read; every refusal, package and
    /// transfer): what `audit controls` reports and `verify-export`
    /// recomputes from a bag.
    static func fromEvents(_ events: [Event]) -> (readsWithoutGrant: [String], refused: [String], exports: [String]) {
        var held: [String: [Tier: Set<String>]] = [:]
        var readsWithoutGrant: [String] = [], refused: [String] = [], exports: [String] = []
        for event in events {
            switch event.data {
            case .grantGiven(let d):
                if let tier = Tier(rawValue: d.tier) { held[d.case, default: [:]][tier, default: []].insert(d.holder) }
            case .accessGranted(let d):
                if let tier = Tier(rawValue: d.tier) { held[d.case, default: [:]][tier, default: []].insert(d.holder) }
            case .keyRotated(let d):
                if let tier = Tier(rawValue: d.tier) {
                    held[d.case, default: [:]][tier, default: []].subtract(d.removed)
                    held[d.case, default: [:]][tier, default: []].formUnion(d.holders.map(\.holder))
                }
            case .caseImported(let d):
                held[d.case] = [:]
                for holder in d.holders { if let tier = Tier(rawValue: holder.tier) { held[d.case, default: [:]][tier, default: []].insert(holder.holder) } }
            case .disposed(let d):
                held[d.case] = [:]
            case .contentRead(let d):
                if let tier = Tier(rawValue: d.tier), !(held[d.case]?[tier]?.contains(GrantHolder.staff(event.actor)) ?? false) {
                    readsWithoutGrant.append("event \(event.seq): '\(event.actor)' read \(d.case) '\(d.document)' v\(d.version) (\(d.tier)) at \(event.at) without holding the tier")
                }
            case .contentRefused(let d):
                refused.append("event \(event.seq): '\(event.actor)' was refused \(d.case) '\(d.document)' v\(d.version) (\(d.tier)) at \(event.at): \(d.reason)")
            case .packageExported(let d):
                let cases = Set(d.entries.map(\.case)).sorted().joined(separator: ", ")
                exports.append("event \(event.seq): '\(event.actor)' exported a \(d.format) package of \(d.entries.count) document(s) of \(cases) for '\(d.recipient)' at \(event.at) (\(d.shortHash))")
            case .caseTransferred(let d):
                exports.append("event \(event.seq): '\(event.actor)' transferred \(d.case) to '\(d.toMember)' of vault \(d.toVault) at \(event.at): \(d.reason)")
            default: break
            }
        }
        return (readsWithoutGrant, refused, exports)
    }
}

extension Vault {
    public func controlsReport(asOf: Date = Date()) throws -> ControlsReport {
        // The events and the state must be of one log: another process may append between the two reads.
        for _ in 1...3 {
            let events = try checkedEvents()
            let report: ControlsReport? = try read { reader, head in
                guard Int64(events.count) == head.size else { return nil }
                let signed = head.signedState(reader)
                // What follows walks every case, its documents and versions: the map's nodes in one scan first.
                if head.size > 0 { try signed.preloadNodes() }
                return try ControlsReport(signed: signed, events: events, asOf: asOf, vaultID: config.vaultId, logSize: head.size,
                                          logRoot: head.logRoot.hexString, keyDerivation: .wrappedKeys(ControlsReport.wrappedKeys(in: signed)))
            }
            if let report { return report }
        }
        throw VaultError.io("the log kept growing while the controls report was being made; run it again")
    }
}

extension ControlsReport {
    /// The check whose items need the members' wrapped keys (their Argon2id
    /// header), which no audit bag carries: `verify-export` cannot recompute it.
    public static let keyDerivationCheck = "kdf-below-policy"

    /// A member's wrapped keys from the vault's catalog, checked against
    /// their signed hash (nil when missing or altered: the check says so).
    static func wrappedKeys(in signed: SignedState) -> (StaffRecord) -> [UInt8]? {
        { try? signed.blob($0.wrappedKeysHash, what: "the wrapped keys of '\($0.id)'") }
    }

    /// Where the key-derivation check's items come from.
    enum KeyDerivation {
        /// Each member's wrapped keys (the live vault's).
        case wrappedKeys((StaffRecord) -> [UInt8]?)
        /// As a report says them: `verify-export`, which has no wrapped keys,
        /// takes this one check on the exporter's word and recomputes the rest.
        case stated([String])
    }

    static let keyDerivationTitle = "No member's wrapped keys use a key derivation cheaper than the vault's"

    /// The report from a signed state and the whole log it came from: the
    /// live vault's, or one an auditor replayed from a bag's events
    /// (`verify-export`).
    init(signed: SignedState, events: [Event], asOf: Date, vaultID: String, logSize: Int64, logRoot: String,
         keyDerivation: KeyDerivation) throws {
        let today = Lifecycle.day(asOf)
        let (readsWithoutGrant, refused, exports) = Self.fromEvents(events)
        let settings = try signed.settings()
        let staff = try signed.allStaff()
        let byID = Dictionary(staff.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let confidentialTypes = Set(try signed.confidentialTypes().types)
        var holderTable: [(String, Tier, [String])] = [], extra: [String] = [], departed: [String] = []
        var confidentialInTeam: [String] = [], imagesInTeam: [String] = []
        let states = try signed.cases(matching: CaseQuery())
        for state in states where try signed.disposal(state.case.number) == nil {
            let record = state.case
            for tier in Tier.allCases {
                let generation = record.generation(of: tier)
                let current = state.grants.filter { $0.tier == tier.rawValue && $0.generation == generation }.map(\.holder)
                holderTable.append((record.number, tier, current))
                let incoming = try signed.handover(record.number)?.to
                for holder in current where holder != GrantHolder.recovery {
                    guard let id = GrantHolder.staffID(holder), let member = byID[id] else {
                        extra.append("\(record.number) \(tier.rawValue) tier: '\(holder)', who is no staff member")
                        continue
                    }
                    // The incoming member of a handover under way holds both tiers while shadowing.
                    let allowed = id == record.manager || id == record.supervisor || id == incoming
                        || (tier == .team && settings.teamTierRoles.contains(member.role))
                    if !allowed {
                        let grant = state.grants.first { $0.tier == tier.rawValue && $0.holder == holder && $0.generation == generation }
                        extra.append("\(record.number) \(tier.rawValue) tier: '\(id)' (\(member.role)), sealed at event \(grant?.grantedSeq ?? 0)")
                    }
                }
            }
            for grant in state.grants {
                if let id = GrantHolder.staffID(grant.holder), let left = byID[id]?.left {
                    departed.append("\(record.number) \(grant.tier) tier generation \(grant.generation): '\(id)', who left on \(left.at.prefix(10))")
                }
            }
            for document in try signed.documents(record.number) {
                for version in try signed.versions(of: document) where version.tier == Tier.team.rawValue {
                    let name = "\(record.number) '\(document.name)' v\(version.version) (type \(version.type))"
                    if Policy.photoTypes.contains(version.type) { imagesInTeam.append(name) }
                    else if confidentialTypes.contains(version.type) { confidentialInTeam.append(name) }
                }
            }
        }
        // Wrapped keys whose Argon2id cost is below the vault's (their header, §4; nothing is unwrapped).
        let weakKDF: [String]
        switch keyDerivation {
        case .stated(let items):
            weakKDF = items
        case .wrappedKeys(let wrappedKeys):
            var weak: [String] = []
            for member in staff where member.left == nil {
                guard let blob = wrappedKeys(member), blob.count >= 21, Array(blob[0..<3]) == Array("CVW".utf8), blob[4] == 0x02 else {
                    weak.append("'\(member.id)': wrapped keys missing, altered or of an unknown key derivation")
                    continue
                }
                func u64(_ offset: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(blob[offset + $1]) << (8 * UInt64($1)) } }
                let ops = u64(5), mem = u64(13)
                if ops < UInt64(settings.kdf.opsLimit) || mem < UInt64(settings.kdf.memLimit) {
                    weak.append("'\(member.id)': opslimit \(ops), memlimit \(mem / 1_048_576) MiB; the vault's are \(settings.kdf.opsLimit), \(settings.kdf.memLimit / 1_048_576) MiB")
                }
            }
            weakKDF = weak
        }
        let holds = try Vault.holds(in: signed, cases: states)
        let plan = try RetentionSchedule(signed, asOf: asOf).map { try Vault.retentionPlan($0, in: signed) } ?? []
        let pastRetention = plan.filter { $0.action == .dispose }.map { "\($0.caseNumber): due since \($0.dueOn ?? "?") under \($0.rule)" }
        let holdItems = holds.map { "\($0.caseNumber): held since \(Timestamp.string(from: $0.at).prefix(10)) by \($0.by): \($0.reason)" }
        let created = String(settings.createdAt.prefix(10))
        let recoveryAge = Lifecycle.parseDay(created).map { Int(asOf.timeIntervalSince($0) / 86_400) }
        func check(_ id: String, _ title: String, _ items: [String], informational: Bool = false) -> ControlCheck {
            ControlCheck(id: id, title: title, passed: informational || items.isEmpty, informational: informational, items: items)
        }
        var checks = [
            check("holders", "Every tier holder is the case's manager or supervisor, the recovery key, or of a role the policy lets hold the team tier", extra),
            check("confidential-types-in-team", "No version of a confidential-by-policy type (\(confidentialTypes.sorted().joined(separator: ", "))) in a team tier", confidentialInTeam),
            check("images-in-team", "No image (types \(Policy.photoTypes.sorted().joined(separator: ", "))) in a team tier", imagesInTeam),
        ]
        checks += [
            check(Self.keyDerivationCheck, Self.keyDerivationTitle, weakKDF),
            check("departed-holders", "No member who left still holds a sealed key", departed),
            check("reads-without-grant", "Every read was by a holder of the tier at the time", readsWithoutGrant),
            check("refused-reads", "Reads refused (role or no grant)", refused, informational: true),
            check("exports", "Packages and transfers made, by whom, for whom", exports, informational: true),
            check("past-retention", "No closed case is past its retention date and not disposed of", pastRetention),
            check("holds", "Legal holds in force", holdItems, informational: true),
            check("test-kdf", "The test-only key derivation is off", settings.insecureTestingKDF ? ["insecureTestingKDF is true"] : []),
            check("recovery-key", settings.recoveryPublicKey != nil && recoveryAge != nil
                      ? "A recovery key exists; it is \(recoveryAge!) days old (since \(created))"
                      : "A recovery key exists (age counted from the vault's creation)",
                  settings.recoveryPublicKey == nil ? ["no recovery key"] : []),
        ]
        self.init(vaultId: vaultID, asOf: today, logSize: logSize, logRoot: logRoot, checks: checks,
                  holders: holderTable.map { ($0.0, $0.1, $0.2) })
    }
}
