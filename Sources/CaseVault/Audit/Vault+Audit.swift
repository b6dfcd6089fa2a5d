public import Foundation
internal import CaseVaultCrypto

/// One event of the log as an auditor sees it: checked (its body is in the
/// trusted log and its signature is its signer's), never decrypted.
public struct AuditEvent: Sendable, Equatable {
    public let seq: Int64
    public let at: String
    public let actor: String
    public let type: String
    /// The cases its data names.
    public let cases: [String]
    /// Its data, as canonical JSON.
    public let data: String
    /// One line saying what it did (its case, document and version first).
    public let summary: String
    /// The signed body (canonical JSON) and its Ed25519 signature, hex.
    public let body: String
    public let signature: String
    /// Its RFC 9162 leaf hash, hex (what an inclusion proof starts from).
    public let leafHash: String
}

/// Which events `audit log` lists; every condition given must hold.
public struct AuditFilter: Sendable {
    public var caseNumber: String?
    public var actor: String?
    /// An event type (`content.read`), or a prefix ending in `.` (`case.`).
    public var type: String?
    /// `YYYY-MM-DD`, inclusive, by the event's UTC day.
    public var since: String?
    public var until: String?
    public init() {}
}

/// Who held a tier of a case, generation by generation, and everything
/// done with the case's content (`audit access`).
public struct AccessHistory: Sendable {
    public struct Period: Sendable, Equatable {
        public let holder: String
        public let generation: Int
        public let fromSeq: Int64
        public let fromAt: String
        /// Who sealed the key to them.
        public let grantedBy: String
        /// The event that took this copy away, when one did.
        public let untilSeq: Int64?
        public let untilAt: String?
        public let untilWhy: String?
    }
    public struct Use: Sendable, Equatable {
        public let seq: Int64
        public let at: String
        public let actor: String
        /// `content.read`, `content.refused`, `package.exported`, `case.transferred`.
        public let type: String
        public let detail: String
    }
    public let caseNumber: String
    public let periods: [Tier: [Period]]
    public let uses: [Use]
}

extension Vault {
    /// The events of the trusted log that `filter` selects, each checked:
    /// every stored event is hashed again into the log's tree and held to
    /// the trusted root (so none is edited, swapped or missing), and each
    /// event listed has its signature verified with its signer's key from
    /// their `staff.added` (the first admin's from event 2).
    public func auditLog(_ filter: AuditFilter = AuditFilter()) throws -> [AuditEvent] {
        let since = try filter.since.map { try Self.auditDay($0, "--since") }
        let until = try filter.until.map { try Self.auditDay($0, "--until") }
        let number = try filter.caseNumber.map { try CaseNumber.parse($0).description }
        return try scanLog { event, record, keys, _ in
            if let number, !event.data.namedCases.contains(number) { return nil }
            if let actor = filter.actor, event.actor != actor { return nil }
            if let type = filter.type, type.hasSuffix(".") ? !event.type.rawValue.hasPrefix(type) : event.type.rawValue != type { return nil }
            let day = String(event.at.prefix(10))
            if let since, day < since { return nil }
            if let until, day > until { return nil }
            try Self.requireSigned(event, record, keys)
            let data = try event.data.json()
            return AuditEvent(seq: event.seq, at: event.at, actor: event.actor, type: event.type.rawValue, cases: event.data.namedCases,
                              data: String(decoding: data.canonicalBytes, as: UTF8.self), summary: Self.summary(of: data),
                              body: String(decoding: record.body, as: UTF8.self), signature: record.signature.hexString,
                              leafHash: LogTree.leafHash(body: record.body, signature: record.signature).hexString)
        }
    }

    /// The case, 'document' vN and (tier) first, then the other members in
    /// order, arrays by their length; hashes and keys shortened.
    static func summary(of data: JSONValue) -> String {
        guard case .object(let members) = data else { return "" }
        var parts: [String] = []
        if case .string(let number)? = members["case"] { parts.append(number) }
        if case .string(let document)? = members["document"] {
            parts.append("'\(document)'" + (members["version"]?.integerValue.map { " v\($0)" } ?? ""))
        }
        if case .string(let tier)? = members["tier"] { parts.append("(\(tier))") }
        for key in members.keys.sorted() where !["case", "document", "version", "tier"].contains(key) {
            switch members[key]! {
            case .string(let text):
                let short = text.count == 64 && [UInt8](hexString: text) != nil ? String(text.prefix(12)) + "…" : text
                parts.append("\(key)=\(short)")
            case .integer(let n): parts.append("\(key)=\(n)")
            case .bool(let b): parts.append("\(key)=\(b)")
            case .array(let items): parts.append("\(key): \(items.count)")
            case .object: parts.append("\(key): {…}")
            case .null, .number: continue
            }
        }
        return parts.joined(separator: " ")
    }

    /// The event's signature, by its signer's key from the scan.
    static func requireSigned(_ event: Event, _ record: EventRecord, _ keys: [String: SigningPublicKey]) throws {
        guard let key = keys[event.actor], key.isValidSignature(record.signature, for: Event.signedMessage(body: record.body)) else {
            throw VaultError.integrityFailure("event \(event.seq) is not validly signed by '\(event.actor)'; run 'casevault verify'")
        }
    }

    /// Every event of the trusted log, checked as `auditLog` checks them.
    func checkedEvents() throws -> [Event] {
        try scanLog { event, record, keys, _ in
            try Self.requireSigned(event, record, keys)
            return event
        }
    }

    static func auditDay(_ text: String, _ option: String) throws -> String {
        guard Lifecycle.parseDay(text) != nil else { throw VaultError.invalidInput("\(option) takes a day, YYYY-MM-DD; got '\(text)'") }
        return text
    }

    /// Every event of the trusted log in order, with the signing keys known
    /// so far, handed to `select`; the whole log is then held to the root.
    private func scanLog<T>(_ select: (Event, EventRecord, [String: SigningPublicKey], any CatalogReader) throws -> T?) throws -> [T] {
        try read { reader, head in
            guard head.size > 0 else { return [] }
            var out: [T] = []
            var range = CompactRange()
            var keys: [String: SigningPublicKey] = [:]
            // Event 1 is signed by the first admin, whose key event 2 brings
            // (its body is held to the root with every other below).
            if head.size >= 2, let second = try reader.event(seq: 2), case .staffAdded(let data) = try Event(body: second.body).data,
               let bytes = [UInt8](hexString: data.signingPublicKey), let key = try? SigningPublicKey(bytes: bytes) {
                keys[data.id] = key
            }
            try reader.forEachEvent(in: 1...head.size) { record in
                _ = range.append(leaf: LogTree.leafHash(body: record.body, signature: record.signature))
                let event = try Event(body: record.body)
                guard event.seq == record.seq, event.vault == config.vaultId else {
                    throw VaultError.integrityFailure("event \(record.seq) says it is event \(event.seq) of vault \(event.vault)")
                }
                // The columns an index finds events by must say what the signed body says.
                guard record.type == event.type.rawValue, record.actor == event.actor, record.at == event.at else {
                    throw VaultError.integrityFailure("the stored type, actor or time of event \(record.seq) differ from its signed body; run 'casevault verify'")
                }
                if case .staffAdded(let data) = event.data, let bytes = [UInt8](hexString: data.signingPublicKey),
                   let key = try? SigningPublicKey(bytes: bytes), keys[data.id] == nil {
                    keys[data.id] = key
                }
                if let item = try select(event, record, keys, reader) { out.append(item) }
                return true
            }
            guard range.size == head.size, range.root == head.logRoot else {
                throw VaultError.integrityFailure("the stored events are not the \(head.size) of the trusted log")
            }
            return out
        }
    }

    /// Who held each tier of `number`, generation by generation, from the
    /// signed events (checked as `auditLog` checks them); and every read,
    /// refused read, package and transfer of it. No key is unsealed.
    public func accessHistory(of caseNumber: String) throws -> AccessHistory {
        let number = try CaseNumber.parse(caseNumber).description
        _ = try caseFile(number)  // a case that exists, or notFound
        var periods: [Tier: [AccessHistory.Period]] = [.team: [], .confidential: []]
        var open: [Tier: [Int]] = [.team: [], .confidential: []]  // indexes of periods not closed
        var generation: [Tier: Int] = [.team: 1, .confidential: 1]
        // The tier of every version, wherever it is now (to know whether a rotation folded its tier).
        var tiers: [String: [Int: String]] = [:]  // "case\u{0}document" → version → tier
        func tierCount(_ tier: Tier) -> Int {
            tiers.filter { $0.key.hasPrefix(number + "\u{0}") }.values.reduce(0) { $0 + $1.values.filter { $0 == tier.rawValue }.count }
        }
        var uses: [AccessHistory.Use] = []
        var boxKeys: [String: String] = [:]  // from the staff.added events the scan checks
        func start(_ tier: Tier, _ holder: String, _ event: Event) {
            open[tier]!.append(periods[tier]!.count)
            periods[tier]!.append(.init(holder: holder, generation: generation[tier]!, fromSeq: event.seq, fromAt: event.at, grantedBy: event.actor,
                                        untilSeq: nil, untilAt: nil, untilWhy: nil))
        }
        func close(_ tier: Tier, _ event: Event, why: String, where keep: (AccessHistory.Period) -> Bool) {
            var still: [Int] = []
            for index in open[tier]! {
                let p = periods[tier]![index]
                if keep(p) { still.append(index); continue }
                periods[tier]![index] = .init(holder: p.holder, generation: p.generation, fromSeq: p.fromSeq, fromAt: p.fromAt, grantedBy: p.grantedBy,
                                              untilSeq: event.seq, untilAt: event.at, untilWhy: why)
            }
            open[tier] = still
        }
        let _: [Never] = try scanLog { event, record, keys, reader in
            try Self.requireSigned(event, record, keys)
            switch event.data {
            case .staffAdded(let d):
                boxKeys[d.id] = boxKeys[d.id] ?? d.boxPublicKey
            case .versionFiled(let d):
                tiers[d.case + "\u{0}" + d.document, default: [:]][d.version] = d.tier
            case .documentMoved(let d):
                tiers[d.to + "\u{0}" + d.toDocument] = tiers.removeValue(forKey: d.case + "\u{0}" + d.document)
            case .caseImported(let d):
                // Every import's version tiers (a document may move on to this case later), from its checked history.
                guard let bytes = try reader.blob(hash: d.history), Blake2b.hash(bytes).hexString == d.history,
                      let proven = try? CaseHistory(parsing: bytes).verify(toVault: event.vault, toMember: event.actor,
                                                                          toBoxPublicKey: boxKeys[event.actor] ?? "") else {
                    throw VaultError.integrityFailure("the history of \(d.case) imported at event \(event.seq) is missing or does not verify; run 'casevault verify'")
                }
                for version in proven.versions { tiers[d.case + "\u{0}" + version.document, default: [:]][version.version] = version.tier }
                if d.case == number { for holder in d.holders { if let tier = Tier(rawValue: holder.tier) { start(tier, holder.holder, event) } } }
            default: break
            }
            guard event.data.namedCases.contains(number) else { return nil as Never? }
            switch event.data {
            case .grantGiven(let d):
                if let tier = Tier(rawValue: d.tier) { start(tier, d.holder, event) }
            case .accessGranted(let d):
                if let tier = Tier(rawValue: d.tier) { start(tier, d.holder, event) }
            case .keyRotated(let d):
                guard let tier = Tier(rawValue: d.tier) else { break }
                let removed = Set(d.removed)
                close(tier, event, why: "removed (rotated to generation \(d.generation))") { !removed.contains($0.holder) }
                if !d.versions.isEmpty || tierCount(tier) == 0 {
                    close(tier, event, why: "generation \(d.generation) replaced it") { _ in false }
                }
                generation[tier] = d.generation
                for holder in d.holders { start(tier, holder.holder, event) }
            case .disposed:
                for tier in Tier.allCases { close(tier, event, why: "erased: the case was disposed of") { _ in false } }
            case .contentRead(let d):
                uses.append(.init(seq: event.seq, at: event.at, actor: event.actor, type: event.type.rawValue,
                                  detail: "'\(d.document)' v\(d.version) (\(d.tier))"))
            case .contentRefused(let d):
                uses.append(.init(seq: event.seq, at: event.at, actor: event.actor, type: event.type.rawValue,
                                  detail: "'\(d.document)' v\(d.version) (\(d.tier)): refused, \(d.reason)"))
            case .packageExported(let d):
                let mine = d.entries.filter { $0.case == number }
                uses.append(.init(seq: event.seq, at: event.at, actor: event.actor, type: event.type.rawValue,
                                  detail: "\(mine.count) document(s) in a \(d.format) package for '\(d.recipient)' (\(d.shortHash))"))
            case .caseTransferred(let d) where d.case == number:
                uses.append(.init(seq: event.seq, at: event.at, actor: event.actor, type: event.type.rawValue,
                                  detail: "to '\(d.toMember)' of vault \(d.toVault)"))
            default: break
            }
            return nil
        }
        return AccessHistory(caseNumber: number, periods: periods, uses: uses)
    }
}
