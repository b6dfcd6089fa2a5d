internal import CaseVaultCrypto

/// The kinds of event (SECURITY.md §12; Schemas/event.schema.json).
public enum EventType: String, CaseIterable, Sendable, Codable {
    case vaultCreated = "vault.created"
    case staffAdded = "staff.added"
    case passphraseChanged = "staff.passphrase-changed"
    case caseOpened = "case.opened"
    case grantGiven = "grant.given"
    case versionFiled = "version.filed"
    case contentRead = "content.read"
    case contentRefused = "content.refused"
    case schemaAdded = "schema.added"
    case statusChanged = "case.status-changed"
    case closureRequested = "case.closure-requested"
    case closureApproved = "case.closure-approved"
    case versionWithdrawn = "version.withdrawn"
    case documentMoved = "document.moved"
    case tagAdded = "case.tag-added"
    case tagRemoved = "case.tag-removed"
    case agedOutExtended = "case.ao-extended"
    case agedOutClosed = "case.ao-closed"
    case confidentialTypesSet = "policy.confidential-types-set"
    case holdPlaced = "case.hold-placed"
    case holdReleased = "case.hold-released"
    case retentionPolicySet = "retention.policy-set"
    case disposalApproved = "case.disposal-approved"
    case disposed = "case.disposed"
    case staffLeft = "staff.left"
    case accessGranted = "case.access-granted"
    case keyRotated = "case.key-rotated"
    case handoverStarted = "case.handover-started"
    case handoverCompleted = "case.handover-completed"
    case packageExported = "package.exported"
    case handoverCancelled = "case.handover-cancelled"
    case caseTransferred = "case.transferred"
    case caseImported = "case.imported"
    case transferCancelled = "case.transfer-cancelled"
    case auditExported = "audit.exported"
    case searchKeyGranted = "search.key-granted"
    case clientNamed = "case.client-named"
    case talliesStarted = "report.tallies-started"
}

/// `vault.created`: the settings the first admin signs.
struct VaultCreated: Codable, Equatable {
    var formatVersion: Int
    var createdAt: String
    var kdf: VaultSettingsRecord.KDF
    var insecureTestingKDF: Bool
    var recoveryPublicKey: String?
    var caseCategories: [String]
    var teamTierRoles: [String]
    /// The report's tallies are kept from this event on (SECURITY.md §12a);
    /// absent in a vault made before them.
    var tallies: Bool? = nil

    enum CodingKeys: String, CodingKey {
        case formatVersion, createdAt, kdf, insecureTestingKDF, recoveryPublicKey, caseCategories, teamTierRoles, tallies
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(kdf, forKey: .kdf)
        try c.encode(insecureTestingKDF, forKey: .insecureTestingKDF)
        try c.encode(recoveryPublicKey, forKey: .recoveryPublicKey)  // null when there is none
        try c.encode(caseCategories, forKey: .caseCategories)
        try c.encode(teamTierRoles, forKey: .teamTierRoles)
        try c.encodeIfPresent(tallies, forKey: .tallies)
    }
}

/// `report.tallies-started`: an admin or project director starts the
/// monthly report's tallies in a vault made before them, counting every
/// case it has (`cases`, as a check) from the signed state.
struct TalliesStarted: Codable, Equatable {
    var cases: Int
}

struct StaffAdded: Codable, Equatable {
    var id: String
    var name: String
    var role: String
    var boxPublicKey: String
    var signingPublicKey: String
    var wrappedKeysHash: String
}

struct PassphraseChanged: Codable, Equatable {
    var id: String
    var wrappedKeysHash: String
}

struct CaseOpened: Codable, Equatable {
    var `case`: String
    var category: String
    var year: Int
    var clientNumber: Int
    var status: String
    var manager: String
    var supervisor: String
    var teamPublicKey: String
    var confidentialPublicKey: String
}

struct GrantGiven: Codable, Equatable {
    var `case`: String
    var tier: String
    var holder: String
    var holderPublicKey: String
    var sealedKeyHash: String
}

struct VersionFiled: Codable, Equatable {
    /// For a form: the schema it was validated against.
    struct SchemaReference: Codable, Equatable {
        var id: String
        /// The vault's version of the schema; null for the built-in one.
        var version: Int?
        var bodyHash: String

        enum CodingKeys: String, CodingKey { case id, version, bodyHash }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(version, forKey: .version)
            try c.encode(bodyHash, forKey: .bodyHash)
        }
    }
    var `case`: String
    var document: String
    var version: Int
    var type: String
    var tier: String
    var object: String
    var size: Int64
    var ciphertextSize: Int64
    var sealedFileKeyHash: String
    var stamp: Stamp
    /// Absent for a document filed without a schema.
    var schema: SchemaReference?
    /// The blob of the sealed original file name and media type (§11a);
    /// absent in versions filed before it was kept.
    var fileInfoHash: String? = nil
}

struct ContentRead: Codable, Equatable {
    var `case`: String
    var document: String
    var version: Int
    var tier: String
    var object: String
}

struct ContentRefused: Codable, Equatable {
    var `case`: String
    var document: String
    var version: Int
    var tier: String
    /// `role` or `no-grant`.
    var reason: String
}

struct SchemaAdded: Codable, Equatable {
    var type: String
    var version: Int
    var id: String
    var title: String
    var bodyHash: String
}

/// `case.status-changed`: a move of the case's status (manual §5.2) by its
/// manager or supervisor; a closure here is the supervisor's own.
struct StatusChanged: Codable, Equatable {
    var `case`: String
    var from: String
    var to: String
    var reason: String
}

/// `case.closure-requested`: the case's manager asks its supervisor to
/// approve closing it.
struct ClosureRequested: Codable, Equatable {
    var `case`: String
    var approver: String
    var reason: String
}

/// `case.closure-approved`: the named supervisor approves the pending
/// request (the event that requested it), and the case closes.
struct ClosureApproved: Codable, Equatable {
    var `case`: String
    var request: Int64
}

/// `version.withdrawn`: a correction by the case's manager or supervisor;
/// the version stays in the history, no longer the document's current one.
struct VersionWithdrawn: Codable, Equatable {
    var `case`: String
    var document: String
    var version: Int
    var reason: String
}

/// `document.moved`: a misfiled document goes to another case, every
/// version's file key sealed anew to the target case's tier key (the old
/// sealed keys are erased); the source keeps a tombstone.
struct DocumentMoved: Codable, Equatable {
    struct Resealed: Codable, Equatable {
        var version: Int
        var sealedFileKeyHash: String
    }
    var `case`: String
    var document: String
    var to: String
    var toDocument: String
    var reason: String
    /// Every version, 1 to the latest, with its file key's new sealed blob.
    var versions: [Resealed]
}

/// `case.tag-added`, `case.tag-removed`: a tag (`case-of-concern`,
/// `high-risk`, …) put on a case or taken off.
struct CaseTagged: Codable, Equatable {
    var `case`: String
    var tag: String
}

/// `case.ao-extended`: the supervisor moves an aged-out case's closing date later.
struct AgedOutExtended: Codable, Equatable {
    var `case`: String
    /// `YYYY-MM-DD`, UTC.
    var until: String
    var reason: String
}

/// `case.ao-closed`: an aged-out case closes on its closing date, as the
/// manual has it, whoever signs it on or after that date.
struct AgedOutClosed: Codable, Equatable {
    var `case`: String
    /// The closing date it closed on, `YYYY-MM-DD`.
    var closedOn: String
}

/// `policy.confidential-types-set`: an admin sets the document types
/// always filed to the confidential tier.
struct ConfidentialTypesSet: Codable, Equatable {
    var types: [String]
}

/// `case.hold-placed`, `case.hold-released`: a legal hold on a case, with why.
struct CaseHold: Codable, Equatable {
    var `case`: String
    var reason: String
}

/// `retention.policy-set`: the next version of the retention policy; the
/// file (valid against Schemas/retention-policy.schema.json) is a blob.
struct RetentionPolicySet: Codable, Equatable {
    var version: Int
    var bodyHash: String
}

/// `case.disposal-approved`: an approver agrees that a closed case be
/// disposed of under a version of the retention policy.
struct DisposalApproved: Codable, Equatable {
    var `case`: String
    var policyVersion: Int
    var reason: String
}

/// `case.disposed`: the certificate of a disposal by crypto-shredding. It
/// names the policy and rule that applied, the approvals it relies on, and
/// what was destroyed; applying it erases every sealed tier and file key
/// of the case.
struct CaseDisposed: Codable, Equatable {
    var `case`: String
    var policyVersion: Int
    /// The rule of the policy, as the plan names it: `default`, `byStatus.C`, `byCategory[0]`.
    var rule: String
    /// The `seq` of each `case.disposal-approved` relied on, ascending.
    var approvals: [Int64]
    var documents: Int
    var versions: Int
    var ciphertextBytes: Int64
}

/// `staff.left`: a member leaves the staff. They no longer unlock or sign,
/// and every tier they hold must rotate before anything more is filed into it.
struct StaffLeft: Codable, Equatable {
    var id: String
    var reason: String
}

/// `case.access-granted`: a holder of a tier seals its current key to one
/// more member (`casevault case grant`).
/// `search.key-granted`: the vault's search key sealed to one member
/// (SECURITY.md §12e). The first such event creates the key.
struct SearchKeyGranted: Codable, Equatable {
    var holder: String
    var holderPublicKey: String
    /// Names the key without revealing it, the same in every grant, so a
    /// copy of another key sealed to someone is refused.
    var keyCheck: String
    var sealedKeyHash: String
}

/// `case.client-named`: a case's client-name index, set or replaced
/// (SECURITY.md §12e); keyed tokens only, never the name. Since catalog
/// v18 the event names the blob that holds the tokens (`indexHash`), which
/// a renaming or the case's disposal erases; before, it carried them
/// (`index`), and they stay in the log. Exactly one of the two.
struct ClientNamed: Codable, Equatable {
    var `case`: String
    var index: String?
    var indexHash: String?

    init(case: String, index: String? = nil, indexHash: String? = nil) {
        self.case = `case`
        self.index = index
        self.indexHash = indexHash
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.case = try c.decode(String.self, forKey: .case)
        index = try c.decodeIfPresent(String.self, forKey: .index)
        indexHash = try c.decodeIfPresent(String.self, forKey: .indexHash)
        guard (index == nil) != (indexHash == nil) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "exactly one of index and indexHash"))
        }
    }
}

struct AccessGranted: Codable, Equatable {
    var `case`: String
    var tier: String
    var holder: String
    var holderPublicKey: String
    var sealedKeyHash: String
    var reason: String
}

/// `case.key-rotated`: a tier gets a new key pair (the next generation),
/// sealed to the holders who keep it; the removed holders' sealed copies
/// of every generation are erased. When `versions` is not empty it re-seals
/// the file key of every version of the tier to the new key, and the older
/// generations are erased too.
struct KeyRotated: Codable, Equatable {
    struct Holder: Codable, Equatable {
        var holder: String
        var holderPublicKey: String
        var sealedKeyHash: String
    }
    struct Resealed: Codable, Equatable {
        var document: String
        var version: Int
        var sealedFileKeyHash: String
    }
    var `case`: String
    var tier: String
    var generation: Int
    var publicKey: String
    /// Who keeps the tier, by holder (as bytes), each with the new key sealed to them.
    var holders: [Holder]
    /// Who loses it, by holder (as bytes).
    var removed: [String]
    /// Empty, or every version of the tier, by document (as bytes) and version.
    var versions: [Resealed]
    var reason: String
}

/// `case.handover-started`: the case's manager (or supervisor) `from` hands
/// it to `to`, who shadows them until `shadowUntil` (manual §5.2.4).
struct HandoverStarted: Codable, Equatable {
    var `case`: String
    /// `manager` or `supervisor`.
    var role: String
    var from: String
    var to: String
    /// `YYYY-MM-DD`.
    var shadowUntil: String
}

/// `case.handover-completed`: `to` becomes the case's manager (or
/// supervisor); `from` must already hold none of its tiers. Before the
/// shadowing ends only `early`, with a reason.
struct HandoverCompleted: Codable, Equatable {
    var `case`: String
    var early: Bool
    /// Why it ends early; null otherwise.
    var reason: String?

    enum CodingKeys: String, CodingKey { case `case`, early, reason }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(self.case, forKey: .case)
        try c.encode(early, forKey: .early)
        try c.encode(reason, forKey: .reason)  // null when not early
    }
}

/// `package.exported`: a handover package written for a recipient
/// (`casevault export handover`), with what went in and the hash of the
/// package file: its BLAKE2b-256 (`blake2b`) in an event of format 4 or
/// below, its BLAKE3-256 (`blake3`) from format 5, never both (§12). Each
/// version in it was read (`content.read`) first.
struct PackageExported: Codable, Equatable {
    struct Entry: Codable, Equatable {
        var `case`: String
        var document: String
        var version: Int
    }
    var recipient: String
    /// `sealed` or `zip-aes256`.
    var format: String
    var blake2b: String?
    var blake3: String?
    var entries: [Entry]

    /// The package file's hash as an event of `format` names it.
    init(recipient: String, format: String, hash: ObjectNaming, digest: String, entries: [Entry]) {
        self.recipient = recipient
        self.format = format
        self.entries = entries
        switch hash {
        case .blake2b: blake2b = digest
        case .blake3: blake3 = digest
        }
    }

    /// The package's hash as reports show it: "BLAKE3-256 0123abcd…".
    var shortHash: String {
        let (hash, digest): (ObjectNaming, String) = blake3.map { (.blake3, $0) } ?? (.blake2b, blake2b ?? "")
        return "\(hash.label) \(digest.prefix(16))…"
    }

    /// The rule `packageHash(format:)` holds an event of `format` to, as refusals say it.
    static func hashRule(format: Int) -> String {
        "a package.exported of format \(format) names its package by \(ObjectNaming(eventFormat: format).rawValue) alone"
    }

    /// The hash this event names the package by, when it is the one an
    /// event of `format` must carry (and the other is absent); else nil.
    func packageHash(format eventFormat: Int) -> (ObjectNaming, String)? {
        switch (ObjectNaming(eventFormat: eventFormat), blake2b, blake3) {
        case (.blake2b, let digest?, nil): (.blake2b, digest)
        case (.blake3, nil, let digest?): (.blake3, digest)
        default: nil
        }
    }
}

/// `case.handover-cancelled`: the handover under way stops (the incoming
/// member left, or was the wrong one); they must already hold none of the
/// case's tiers, and the outgoing member stays.
struct HandoverCancelled: Codable, Equatable {
    var `case`: String
    var reason: String
}

/// `case.transferred`: the case goes to another vault, for the member
/// named there to import (`casevault export case`). This vault keeps the
/// case as a read-only tombstone.
struct CaseTransferred: Codable, Equatable {
    var `case`: String
    var toVault: String
    var toMember: String
    var toBoxPublicKey: String
    var reason: String
}

/// `case.imported`: a case transferred from another vault arrives
/// (`casevault import case`). Its state and history are the blob `history`
/// (a `CaseHistory`, SECURITY.md §15b), which the projection verifies; the
/// event adds what is new here: the case's manager and supervisor, fresh
/// tier key pairs sealed to their holders, and every version's file key
/// re-sealed to the new tier keys.
struct CaseImported: Codable, Equatable {
    struct Holder: Codable, Equatable {
        var tier: String
        var holder: String
        var holderPublicKey: String
        var sealedKeyHash: String
    }
    /// A version as it arrives: its file key sealed to the new tier key,
    /// and, when the transfer carried it, its original file name and media
    /// type sealed again here (§11a: under the same file key and object id,
    /// with a fresh nonce, so a blob of its own).
    struct Version: Codable, Equatable {
        var document: String
        var version: Int
        var sealedFileKeyHash: String
        var fileInfoHash: String? = nil
    }
    var `case`: String
    var history: String
    var manager: String
    var supervisor: String
    var teamPublicKey: String
    var confidentialPublicKey: String
    /// By tier, then holder (as bytes).
    var holders: [Holder]
    /// Every version, in the history's order (by document as bytes, then version).
    var versions: [Version]
    /// The schema bodies the versions name, sorted, each once.
    var schemaBodies: [String]
}

/// `case.transfer-cancelled`: a transfer the receiving vault refused, or
/// whose file was lost, is called back; the case is this vault's again.
struct TransferCancelled: Codable, Equatable {
    var `case`: String
    var reason: String
}

/// `audit.exported`: a BagIt audit export was written (`casevault export
/// audit`): the BLAKE2b-256 of the file, its format, what it covers (the
/// cases, or all when empty; from which day, or null) and how many events
/// of the log's first `logSize` went in. Changes no state.
struct AuditExported: Codable, Equatable {
    var blake2b: String
    var format: String
    var cases: [String]
    var since: String?
    var events: Int
    var logSize: Int64

    enum CodingKeys: String, CodingKey { case blake2b, format, cases, since, events, logSize }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(blake2b, forKey: .blake2b)
        try c.encode(format, forKey: .format)
        try c.encode(cases, forKey: .cases)
        try c.encode(since, forKey: .since)  // null when from the beginning
        try c.encode(events, forKey: .events)
        try c.encode(logSize, forKey: .logSize)
    }
}

/// One event's data, typed by kind.
enum EventData: Equatable {
    case vaultCreated(VaultCreated)
    case staffAdded(StaffAdded)
    case passphraseChanged(PassphraseChanged)
    case caseOpened(CaseOpened)
    case grantGiven(GrantGiven)
    case versionFiled(VersionFiled)
    case contentRead(ContentRead)
    case contentRefused(ContentRefused)
    case schemaAdded(SchemaAdded)
    case statusChanged(StatusChanged)
    case closureRequested(ClosureRequested)
    case closureApproved(ClosureApproved)
    case versionWithdrawn(VersionWithdrawn)
    case documentMoved(DocumentMoved)
    case tagAdded(CaseTagged)
    case tagRemoved(CaseTagged)
    case agedOutExtended(AgedOutExtended)
    case agedOutClosed(AgedOutClosed)
    case confidentialTypesSet(ConfidentialTypesSet)
    case holdPlaced(CaseHold)
    case holdReleased(CaseHold)
    case retentionPolicySet(RetentionPolicySet)
    case disposalApproved(DisposalApproved)
    case disposed(CaseDisposed)
    case staffLeft(StaffLeft)
    case accessGranted(AccessGranted)
    case keyRotated(KeyRotated)
    case handoverStarted(HandoverStarted)
    case handoverCompleted(HandoverCompleted)
    case packageExported(PackageExported)
    case handoverCancelled(HandoverCancelled)
    case caseTransferred(CaseTransferred)
    case caseImported(CaseImported)
    case transferCancelled(TransferCancelled)
    case auditExported(AuditExported)
    case searchKeyGranted(SearchKeyGranted)
    case clientNamed(ClientNamed)
    case talliesStarted(TalliesStarted)

    var type: EventType {
        switch self {
        case .vaultCreated: .vaultCreated
        case .staffAdded: .staffAdded
        case .passphraseChanged: .passphraseChanged
        case .caseOpened: .caseOpened
        case .grantGiven: .grantGiven
        case .versionFiled: .versionFiled
        case .contentRead: .contentRead
        case .contentRefused: .contentRefused
        case .schemaAdded: .schemaAdded
        case .statusChanged: .statusChanged
        case .closureRequested: .closureRequested
        case .closureApproved: .closureApproved
        case .versionWithdrawn: .versionWithdrawn
        case .documentMoved: .documentMoved
        case .tagAdded: .tagAdded
        case .tagRemoved: .tagRemoved
        case .agedOutExtended: .agedOutExtended
        case .agedOutClosed: .agedOutClosed
        case .confidentialTypesSet: .confidentialTypesSet
        case .holdPlaced: .holdPlaced
        case .holdReleased: .holdReleased
        case .retentionPolicySet: .retentionPolicySet
        case .disposalApproved: .disposalApproved
        case .disposed: .disposed
        case .staffLeft: .staffLeft
        case .accessGranted: .accessGranted
        case .keyRotated: .keyRotated
        case .handoverStarted: .handoverStarted
        case .handoverCompleted: .handoverCompleted
        case .packageExported: .packageExported
        case .handoverCancelled: .handoverCancelled
        case .caseTransferred: .caseTransferred
        case .caseImported: .caseImported
        case .transferCancelled: .transferCancelled
        case .auditExported: .auditExported
        case .searchKeyGranted: .searchKeyGranted
        case .clientNamed: .clientNamed
        case .talliesStarted: .talliesStarted
        }
    }

    func json() throws -> JSONValue {
        let encoder = JSONValueEncoder()
        switch self {
        case .vaultCreated(let data): return try encoder.encode(data)
        case .staffAdded(let data): return try encoder.encode(data)
        case .passphraseChanged(let data): return try encoder.encode(data)
        case .caseOpened(let data): return try encoder.encode(data)
        case .grantGiven(let data): return try encoder.encode(data)
        case .versionFiled(let data): return try encoder.encode(data)
        case .contentRead(let data): return try encoder.encode(data)
        case .contentRefused(let data): return try encoder.encode(data)
        case .schemaAdded(let data): return try encoder.encode(data)
        case .statusChanged(let data): return try encoder.encode(data)
        case .closureRequested(let data): return try encoder.encode(data)
        case .closureApproved(let data): return try encoder.encode(data)
        case .versionWithdrawn(let data): return try encoder.encode(data)
        case .documentMoved(let data): return try encoder.encode(data)
        case .tagAdded(let data), .tagRemoved(let data): return try encoder.encode(data)
        case .agedOutExtended(let data): return try encoder.encode(data)
        case .agedOutClosed(let data): return try encoder.encode(data)
        case .confidentialTypesSet(let data): return try encoder.encode(data)
        case .holdPlaced(let data), .holdReleased(let data): return try encoder.encode(data)
        case .retentionPolicySet(let data): return try encoder.encode(data)
        case .disposalApproved(let data): return try encoder.encode(data)
        case .disposed(let data): return try encoder.encode(data)
        case .staffLeft(let data): return try encoder.encode(data)
        case .accessGranted(let data): return try encoder.encode(data)
        case .keyRotated(let data): return try encoder.encode(data)
        case .handoverStarted(let data): return try encoder.encode(data)
        case .handoverCompleted(let data): return try encoder.encode(data)
        case .packageExported(let data): return try encoder.encode(data)
        case .handoverCancelled(let data): return try encoder.encode(data)
        case .caseTransferred(let data): return try encoder.encode(data)
        case .caseImported(let data): return try encoder.encode(data)
        case .transferCancelled(let data): return try encoder.encode(data)
        case .auditExported(let data): return try encoder.encode(data)
        case .searchKeyGranted(let data): return try encoder.encode(data)
        case .clientNamed(let data): return try encoder.encode(data)
        case .talliesStarted(let data): return try encoder.encode(data)
        }
    }

    /// `data`'s members in canonical order (see `CanonicalWriter`).
    func write(_ m: inout CanonicalWriter.Members) {
        switch self {
        case .vaultCreated(let d):
            m.strings("caseCategories", d.caseCategories)
            m.string("createdAt", d.createdAt)
            m.integer("formatVersion", d.formatVersion)
            m.bool("insecureTestingKDF", d.insecureTestingKDF)
            m.object("kdf") { k in
                k.string("algorithm", d.kdf.algorithm)
                k.integer("memLimit", d.kdf.memLimit)
                k.integer("opsLimit", d.kdf.opsLimit)
            }
            m.string("recoveryPublicKey", d.recoveryPublicKey)
            if let tallies = d.tallies { m.bool("tallies", tallies) }
            m.strings("teamTierRoles", d.teamTierRoles)
        case .staffAdded(let d):
            m.string("boxPublicKey", d.boxPublicKey)
            m.string("id", d.id)
            m.string("name", d.name)
            m.string("role", d.role)
            m.string("signingPublicKey", d.signingPublicKey)
            m.string("wrappedKeysHash", d.wrappedKeysHash)
        case .passphraseChanged(let d):
            m.string("id", d.id)
            m.string("wrappedKeysHash", d.wrappedKeysHash)
        case .caseOpened(let d):
            m.string("case", d.case)
            m.string("category", d.category)
            m.integer("clientNumber", d.clientNumber)
            m.string("confidentialPublicKey", d.confidentialPublicKey)
            m.string("manager", d.manager)
            m.string("status", d.status)
            m.string("supervisor", d.supervisor)
            m.string("teamPublicKey", d.teamPublicKey)
            m.integer("year", d.year)
        case .grantGiven(let d):
            m.string("case", d.case)
            m.string("holder", d.holder)
            m.string("holderPublicKey", d.holderPublicKey)
            m.string("sealedKeyHash", d.sealedKeyHash)
            m.string("tier", d.tier)
        case .versionFiled(let d):
            m.string("case", d.case)
            m.integer("ciphertextSize", d.ciphertextSize)
            m.string("document", d.document)
            if let fileInfoHash = d.fileInfoHash { m.string("fileInfoHash", fileInfoHash) }
            m.string("object", d.object)
            if let schema = d.schema {
                m.object("schema") { s in
                    s.string("bodyHash", schema.bodyHash)
                    s.string("id", schema.id)
                    s.integer("version", schema.version)
                }
            }
            m.string("sealedFileKeyHash", d.sealedFileKeyHash)
            m.integer("size", d.size)
            m.object("stamp") { d.stamp.write(&$0) }
            m.string("tier", d.tier)
            m.string("type", d.type)
            m.integer("version", d.version)
        case .contentRead(let d):
            m.string("case", d.case)
            m.string("document", d.document)
            m.string("object", d.object)
            m.string("tier", d.tier)
            m.integer("version", d.version)
        case .contentRefused(let d):
            m.string("case", d.case)
            m.string("document", d.document)
            m.string("reason", d.reason)
            m.string("tier", d.tier)
            m.integer("version", d.version)
        case .schemaAdded(let d):
            m.string("bodyHash", d.bodyHash)
            m.string("id", d.id)
            m.string("title", d.title)
            m.string("type", d.type)
            m.integer("version", d.version)
        case .statusChanged(let d):
            m.string("case", d.case)
            m.string("from", d.from)
            m.string("reason", d.reason)
            m.string("to", d.to)
        case .closureRequested(let d):
            m.string("approver", d.approver)
            m.string("case", d.case)
            m.string("reason", d.reason)
        case .closureApproved(let d):
            m.string("case", d.case)
            m.integer("request", d.request)
        case .versionWithdrawn(let d):
            m.string("case", d.case)
            m.string("document", d.document)
            m.string("reason", d.reason)
            m.integer("version", d.version)
        case .documentMoved(let d):
            m.string("case", d.case)
            m.string("document", d.document)
            m.string("reason", d.reason)
            m.string("to", d.to)
            m.string("toDocument", d.toDocument)
            m.array("versions", d.versions) { item, w in
                w.object { v in
                    v.string("sealedFileKeyHash", item.sealedFileKeyHash)
                    v.integer("version", item.version)
                }
            }
        case .tagAdded(let d), .tagRemoved(let d):
            m.string("case", d.case)
            m.string("tag", d.tag)
        case .agedOutExtended(let d):
            m.string("case", d.case)
            m.string("reason", d.reason)
            m.string("until", d.until)
        case .agedOutClosed(let d):
            m.string("case", d.case)
            m.string("closedOn", d.closedOn)
        case .confidentialTypesSet(let d):
            m.strings("types", d.types)
        case .holdPlaced(let d), .holdReleased(let d):
            m.string("case", d.case)
            m.string("reason", d.reason)
        case .retentionPolicySet(let d):
            m.string("bodyHash", d.bodyHash)
            m.integer("version", d.version)
        case .disposalApproved(let d):
            m.string("case", d.case)
            m.integer("policyVersion", d.policyVersion)
            m.string("reason", d.reason)
        case .disposed(let d):
            m.array("approvals", d.approvals) { seq, w in w.integer(seq) }
            m.string("case", d.case)
            m.integer("ciphertextBytes", d.ciphertextBytes)
            m.integer("documents", d.documents)
            m.integer("policyVersion", d.policyVersion)
            m.string("rule", d.rule)
            m.integer("versions", d.versions)
        case .staffLeft(let d):
            m.string("id", d.id)
            m.string("reason", d.reason)
        case .searchKeyGranted(let d):
            m.string("holder", d.holder)
            m.string("holderPublicKey", d.holderPublicKey)
            m.string("keyCheck", d.keyCheck)
            m.string("sealedKeyHash", d.sealedKeyHash)
        case .talliesStarted(let d):
            m.integer("cases", d.cases)
        case .clientNamed(let d):
            m.string("case", d.case)
            if let index = d.index { m.string("index", index) }
            if let indexHash = d.indexHash { m.string("indexHash", indexHash) }
        case .accessGranted(let d):
            m.string("case", d.case)
            m.string("holder", d.holder)
            m.string("holderPublicKey", d.holderPublicKey)
            m.string("reason", d.reason)
            m.string("sealedKeyHash", d.sealedKeyHash)
            m.string("tier", d.tier)
        case .keyRotated(let d):
            m.string("case", d.case)
            m.integer("generation", d.generation)
            m.array("holders", d.holders) { item, w in
                w.object { h in
                    h.string("holder", item.holder)
                    h.string("holderPublicKey", item.holderPublicKey)
                    h.string("sealedKeyHash", item.sealedKeyHash)
                }
            }
            m.string("publicKey", d.publicKey)
            m.string("reason", d.reason)
            m.strings("removed", d.removed)
            m.string("tier", d.tier)
            m.array("versions", d.versions) { item, w in
                w.object { v in
                    v.string("document", item.document)
                    v.string("sealedFileKeyHash", item.sealedFileKeyHash)
                    v.integer("version", item.version)
                }
            }
        case .handoverStarted(let d):
            m.string("case", d.case)
            m.string("from", d.from)
            m.string("role", d.role)
            m.string("shadowUntil", d.shadowUntil)
            m.string("to", d.to)
        case .handoverCompleted(let d):
            m.string("case", d.case)
            m.bool("early", d.early)
            m.string("reason", d.reason)
        case .packageExported(let d):
            if let blake2b = d.blake2b { m.string("blake2b", blake2b) }
            if let blake3 = d.blake3 { m.string("blake3", blake3) }
            m.array("entries", d.entries) { item, w in
                w.object { e in
                    e.string("case", item.case)
                    e.string("document", item.document)
                    e.integer("version", item.version)
                }
            }
            m.string("format", d.format)
            m.string("recipient", d.recipient)
        case .handoverCancelled(let d):
            m.string("case", d.case)
            m.string("reason", d.reason)
        case .caseTransferred(let d):
            m.string("case", d.case)
            m.string("reason", d.reason)
            m.string("toBoxPublicKey", d.toBoxPublicKey)
            m.string("toMember", d.toMember)
            m.string("toVault", d.toVault)
        case .transferCancelled(let d):
            m.string("case", d.case)
            m.string("reason", d.reason)
        case .auditExported(let d):
            m.string("blake2b", d.blake2b)
            m.strings("cases", d.cases)
            m.integer("events", d.events)
            m.string("format", d.format)
            m.integer("logSize", d.logSize)
            m.string("since", d.since)
        case .caseImported(let d):
            m.string("case", d.case)
            m.string("confidentialPublicKey", d.confidentialPublicKey)
            m.string("history", d.history)
            m.array("holders", d.holders) { item, w in
                w.object { h in
                    h.string("holder", item.holder)
                    h.string("holderPublicKey", item.holderPublicKey)
                    h.string("sealedKeyHash", item.sealedKeyHash)
                    h.string("tier", item.tier)
                }
            }
            m.string("manager", d.manager)
            m.strings("schemaBodies", d.schemaBodies)
            m.string("supervisor", d.supervisor)
            m.string("teamPublicKey", d.teamPublicKey)
            m.array("versions", d.versions) { item, w in
                w.object { v in
                    v.string("document", item.document)
                    if let fileInfoHash = item.fileInfoHash { v.string("fileInfoHash", fileInfoHash) }
                    v.string("sealedFileKeyHash", item.sealedFileKeyHash)
                    v.integer("version", item.version)
                }
            }
        }
    }

    static func decode(_ type: EventType, from json: JSONValue) throws -> EventData {
        let decoder = JSONValueDecoder()
        switch type {
        case .vaultCreated: return .vaultCreated(try decoder.decode(VaultCreated.self, from: json))
        case .staffAdded: return .staffAdded(try decoder.decode(StaffAdded.self, from: json))
        case .passphraseChanged: return .passphraseChanged(try decoder.decode(PassphraseChanged.self, from: json))
        case .caseOpened: return .caseOpened(try decoder.decode(CaseOpened.self, from: json))
        case .grantGiven: return .grantGiven(try decoder.decode(GrantGiven.self, from: json))
        case .versionFiled: return .versionFiled(try decoder.decode(VersionFiled.self, from: json))
        case .contentRead: return .contentRead(try decoder.decode(ContentRead.self, from: json))
        case .contentRefused: return .contentRefused(try decoder.decode(ContentRefused.self, from: json))
        case .schemaAdded: return .schemaAdded(try decoder.decode(SchemaAdded.self, from: json))
        case .statusChanged: return .statusChanged(try decoder.decode(StatusChanged.self, from: json))
        case .closureRequested: return .closureRequested(try decoder.decode(ClosureRequested.self, from: json))
        case .closureApproved: return .closureApproved(try decoder.decode(ClosureApproved.self, from: json))
        case .versionWithdrawn: return .versionWithdrawn(try decoder.decode(VersionWithdrawn.self, from: json))
        case .documentMoved: return .documentMoved(try decoder.decode(DocumentMoved.self, from: json))
        case .tagAdded: return .tagAdded(try decoder.decode(CaseTagged.self, from: json))
        case .tagRemoved: return .tagRemoved(try decoder.decode(CaseTagged.self, from: json))
        case .agedOutExtended: return .agedOutExtended(try decoder.decode(AgedOutExtended.self, from: json))
        case .agedOutClosed: return .agedOutClosed(try decoder.decode(AgedOutClosed.self, from: json))
        case .confidentialTypesSet: return .confidentialTypesSet(try decoder.decode(ConfidentialTypesSet.self, from: json))
        case .holdPlaced: return .holdPlaced(try decoder.decode(CaseHold.self, from: json))
        case .holdReleased: return .holdReleased(try decoder.decode(CaseHold.self, from: json))
        case .retentionPolicySet: return .retentionPolicySet(try decoder.decode(RetentionPolicySet.self, from: json))
        case .disposalApproved: return .disposalApproved(try decoder.decode(DisposalApproved.self, from: json))
        case .disposed: return .disposed(try decoder.decode(CaseDisposed.self, from: json))
        case .staffLeft: return .staffLeft(try decoder.decode(StaffLeft.self, from: json))
        case .accessGranted: return .accessGranted(try decoder.decode(AccessGranted.self, from: json))
        case .keyRotated: return .keyRotated(try decoder.decode(KeyRotated.self, from: json))
        case .handoverStarted: return .handoverStarted(try decoder.decode(HandoverStarted.self, from: json))
        case .handoverCompleted: return .handoverCompleted(try decoder.decode(HandoverCompleted.self, from: json))
        case .packageExported: return .packageExported(try decoder.decode(PackageExported.self, from: json))
        case .handoverCancelled: return .handoverCancelled(try decoder.decode(HandoverCancelled.self, from: json))
        case .caseTransferred: return .caseTransferred(try decoder.decode(CaseTransferred.self, from: json))
        case .caseImported: return .caseImported(try decoder.decode(CaseImported.self, from: json))
        case .transferCancelled: return .transferCancelled(try decoder.decode(TransferCancelled.self, from: json))
        case .auditExported: return .auditExported(try decoder.decode(AuditExported.self, from: json))
        case .searchKeyGranted: return .searchKeyGranted(try decoder.decode(SearchKeyGranted.self, from: json))
        case .clientNamed: return .clientNamed(try decoder.decode(ClientNamed.self, from: json))
        case .talliesStarted: return .talliesStarted(try decoder.decode(TalliesStarted.self, from: json))
        }
    }

    /// The cases an event names (a case's history, SECURITY.md §15b).
    var namedCases: [String] {
        switch self {
        case .vaultCreated, .staffAdded, .passphraseChanged, .schemaAdded, .confidentialTypesSet, .retentionPolicySet, .staffLeft,
             .searchKeyGranted, .talliesStarted: []
        case .clientNamed(let d): [d.case]
        case .caseOpened(let d): [d.case]
        case .grantGiven(let d): [d.case]
        case .versionFiled(let d): [d.case]
        case .contentRead(let d): [d.case]
        case .contentRefused(let d): [d.case]
        case .statusChanged(let d): [d.case]
        case .closureRequested(let d): [d.case]
        case .closureApproved(let d): [d.case]
        case .versionWithdrawn(let d): [d.case]
        case .documentMoved(let d): [d.case, d.to]
        case .tagAdded(let d), .tagRemoved(let d): [d.case]
        case .agedOutExtended(let d): [d.case]
        case .agedOutClosed(let d): [d.case]
        case .holdPlaced(let d), .holdReleased(let d): [d.case]
        case .disposalApproved(let d): [d.case]
        case .disposed(let d): [d.case]
        case .accessGranted(let d): [d.case]
        case .keyRotated(let d): [d.case]
        case .handoverStarted(let d): [d.case]
        case .handoverCompleted(let d): [d.case]
        case .packageExported(let d): d.entries.map(\.case)
        case .handoverCancelled(let d): [d.case]
        case .caseTransferred(let d): [d.case]
        case .caseImported(let d): [d.case]
        case .transferCancelled(let d): [d.case]
        case .auditExported(let d): d.cases
        }
    }
}

/// One signed event, as its body says (SECURITY.md §12):
/// `{"actor","at","data","seq","state","type","v","vault"}` in canonical
/// JSON. Format 1 bodies have no `state`; formats 2 to 5 carry the state
/// map's root after the event (§12a). Formats 3 and 4 have format 2's
/// members and are signed under stricter rules (§12, "Who may sign what");
/// format 5 is format 4 with `package.exported` naming its package by
/// BLAKE3-256. The format says which rules an event was signed under, so a
/// vault's older events replay as they were accepted, and formats never go
/// back.
struct Event: Equatable {
    /// The newest format this casevault reads and signs.
    static let currentFormat = 5

    /// The format new events of a vault of `vaultFormat` are signed in: 5 in
    /// a vault of format 3 (objects named by BLAKE3, as its packages then
    /// are); 4 in older vaults, which an older casevault can still read.
    static func format(forVault vaultFormat: Int) -> Int {
        vaultFormat >= ObjectNaming.blake3Format ? 5 : 4
    }

    /// Why an event of `format` cannot stand in a log whose vault signs
    /// `newest` at most (`format(forVault:)`); nil when it can.
    static func beyondVault(_ format: Int, newest: Int) -> String? {
        format > newest ? "is of format \(format), which this vault never signs (format \(newest) at most)" : nil
    }

    /// The newest format the vault signs once `event` is met, going
    /// through its log in order: what its signed `vault.created` (event 1,
    /// and only event 1) says, `current` before and after it. Every reader
    /// of the log (catch-up, verify, an audit bag's replay) takes the
    /// vault's format from here, never from casevault.json.
    static func newestFormat(_ current: Int, after event: Event) -> Int {
        guard event.seq == 1, case .vaultCreated(let created) = event.data else { return current }
        return format(forVault: created.formatVersion)
    }

    /// The format rule for a reader going through a log in order: `newest`
    /// follows the log's vault.created (`newestFormat`), then why `event`
    /// cannot stand under it; nil when it can.
    static func beyondVault(_ event: Event, newest: inout Int) -> String? {
        newest = newestFormat(newest, after: event)
        return beyondVault(event.format, newest: newest)
    }
    static let signingContext = Array("casevault-event-v1\n".utf8)

    var format: Int
    var seq: Int64
    var vault: String
    var at: String
    var actor: String
    var data: EventData
    /// The state map's root once this event is applied (format 2).
    var stateRoot: [UInt8]?

    var type: EventType { data.type }

    /// The canonical JSON, written directly (`verify` re-encodes every event
    /// it parses); a test holds it to the Codable encoding of `data`.
    func body() throws -> [UInt8] {
        var writer = CanonicalWriter()
        writer.object { m in
            m.string("actor", actor)
            m.string("at", at)
            m.object("data") { data.write(&$0) }
            m.integer("seq", seq)
            if let stateRoot { m.string("state", stateRoot.hexString) }
            m.string("type", type.rawValue)
            m.integer("v", format)
            m.string("vault", vault)
        }
        return writer.bytes
    }

    /// The body through Codable: the definition `body()` is held to.
    func codableBody() throws -> [UInt8] {
        var members: [String: JSONValue] = [
            "v": .integer(Int64(format)), "seq": .integer(seq), "vault": .string(vault), "at": .string(at),
            "actor": .string(actor), "type": .string(type.rawValue), "data": try data.json(),
        ]
        if let stateRoot { members["state"] = .string(stateRoot.hexString) }
        return JSONValue.object(members).canonicalBytes
    }

    /// Parses a stored body strictly: it must be exactly the canonical
    /// encoding of a known event of a known format, with no member more or
    /// less, so two different byte strings never mean the same event.
    init(body: [UInt8]) throws {
        func bad(_ why: String) -> VaultError { .integrityFailure("an event body is malformed (\(why))") }
        guard let json = try? JSONValue(parsing: body), case .object(let members) = json else { throw bad("not a JSON object") }
        guard let format = members["v"]?.integerValue, (1...Int64(Self.currentFormat)).contains(format) else { throw bad("unknown format") }
        let expected: Set<String> = format == 1 ? ["v", "seq", "vault", "at", "actor", "type", "data"]
                                                : ["v", "seq", "vault", "at", "actor", "type", "data", "state"]
        guard Set(members.keys) == expected else { throw bad("unexpected members") }
        guard let seq = members["seq"]?.integerValue, let vault = members["vault"]?.stringValue,
              let at = members["at"]?.stringValue, let actor = members["actor"]?.stringValue,
              let typeName = members["type"]?.stringValue, let data = members["data"] else { throw bad("missing members") }
        guard let type = EventType(rawValue: typeName) else { throw bad("unknown type \(typeName)") }
        var stateRoot: [UInt8]?
        if format >= 2 {
            guard let hex = members["state"]?.stringValue, let root = [UInt8](hexString: hex), root.count == 32,
                  root.hexString == hex else { throw bad("state root") }
            stateRoot = root
        }
        let decoded: EventData
        do { decoded = try EventData.decode(type, from: data) } catch { throw bad("\(type.rawValue) data: \(error)") }
        if case .packageExported(let exported) = decoded, exported.packageHash(format: Int(format)) == nil {
            throw bad(PackageExported.hashRule(format: Int(format)))
        }
        self.init(format: Int(format), seq: seq, vault: vault, at: at, actor: actor, data: decoded, stateRoot: stateRoot)
        guard try self.body() == body else { throw bad("not canonical") }
    }

    init(format: Int, seq: Int64, vault: String, at: String, actor: String, data: EventData, stateRoot: [UInt8]?) {
        self.format = format
        self.seq = seq
        self.vault = vault
        self.at = at
        self.actor = actor
        self.data = data
        self.stateRoot = stateRoot
    }

    /// The bytes an actor signs: a context line, then the body.
    static func signedMessage(body: [UInt8]) -> [UInt8] { signingContext + body }
}
