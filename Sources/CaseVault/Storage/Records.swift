/// The catalog's rows as the core knows them: plain values, one type per
/// table, written only by the projection (`Projection.apply`) and read by
/// everything else. Each is also the *state record* whose canonical JSON is
/// hashed into the state map (SECURITY.md §12a), so the members' JSON names
/// below are part of the format. Public keys and hashes are lower-case hex;
/// a store may keep them as raw bytes.

/// The vault's signed settings (`vault.created`); map key `vault`.
public struct VaultSettingsRecord: Codable, Equatable, Sendable {
    /// The Argon2id settings, as `casevault.json` holds them.
    public typealias KDF = VaultConfig.KDF
    public var vaultId: String
    public var formatVersion: Int
    public var createdAt: String
    public var kdf: KDF
    public var insecureTestingKDF: Bool
    public var recoveryPublicKey: String?
    public var caseCategories: [String]
    public var teamTierRoles: [String]
    public var eventSeq: Int64

    public init(vaultId: String, formatVersion: Int, createdAt: String, kdf: KDF, insecureTestingKDF: Bool,
                recoveryPublicKey: String?, caseCategories: [String], teamTierRoles: [String], eventSeq: Int64) {
        self.vaultId = vaultId
        self.formatVersion = formatVersion
        self.createdAt = createdAt
        self.kdf = kdf
        self.insecureTestingKDF = insecureTestingKDF
        self.recoveryPublicKey = recoveryPublicKey
        self.caseCategories = caseCategories
        self.teamTierRoles = teamTierRoles
        self.eventSeq = eventSeq
    }

    enum CodingKeys: String, CodingKey {
        case vaultId, formatVersion, createdAt, kdf, insecureTestingKDF, recoveryPublicKey, caseCategories, teamTierRoles, eventSeq
    }

    // recoveryPublicKey is always present: null when there is none.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vaultId, forKey: .vaultId)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(kdf, forKey: .kdf)
        try c.encode(insecureTestingKDF, forKey: .insecureTestingKDF)
        try c.encode(recoveryPublicKey, forKey: .recoveryPublicKey)
        try c.encode(caseCategories, forKey: .caseCategories)
        try c.encode(teamTierRoles, forKey: .teamTierRoles)
        try c.encode(eventSeq, forKey: .eventSeq)
    }
}

/// A staff member; map key `staff/<id>`.
public struct StaffRecord: Codable, Equatable, Sendable {
    public var id: String
    public var name: String
    public var role: String
    public var boxPublicKey: String
    public var signingPublicKey: String
    /// BLAKE2b-256 of the member's current wrapped-key blob (SECURITY.md §4).
    public var wrappedKeysHash: String
    public var addedAt: String
    /// The admin who added them; nil for the vault's first admin.
    public var addedBy: String?
    /// The `staff.added` event.
    public var addedSeq: Int64
    /// The event that set `wrappedKeysHash` (`staff.added` or the latest
    /// `staff.passphrase-changed`).
    public var keysSeq: Int64
    /// Once the member has left (`staff.left`): they no longer unlock or
    /// sign, and every tier they held must rotate. Absent (not null) before,
    /// so the records of members still on the staff hash as they did.
    public var left: StaffDeparture?

    public init(id: String, name: String, role: String, boxPublicKey: String, signingPublicKey: String,
                wrappedKeysHash: String, addedAt: String, addedBy: String?, addedSeq: Int64, keysSeq: Int64,
                left: StaffDeparture? = nil) {
        self.left = left
        self.id = id
        self.name = name
        self.role = role
        self.boxPublicKey = boxPublicKey
        self.signingPublicKey = signingPublicKey
        self.wrappedKeysHash = wrappedKeysHash
        self.addedAt = addedAt
        self.addedBy = addedBy
        self.addedSeq = addedSeq
        self.keysSeq = keysSeq
    }

    enum CodingKeys: String, CodingKey {
        case id, name, role, boxPublicKey, signingPublicKey, wrappedKeysHash, addedAt, addedBy, addedSeq, keysSeq, left
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(role, forKey: .role)
        try c.encode(boxPublicKey, forKey: .boxPublicKey)
        try c.encode(signingPublicKey, forKey: .signingPublicKey)
        try c.encode(wrappedKeysHash, forKey: .wrappedKeysHash)
        try c.encode(addedAt, forKey: .addedAt)
        try c.encode(addedBy, forKey: .addedBy)
        try c.encode(addedSeq, forKey: .addedSeq)
        try c.encode(keysSeq, forKey: .keysSeq)
        try c.encodeIfPresent(left, forKey: .left)
    }
}

/// When and why a member left the staff, and who recorded it.
public struct StaffDeparture: Codable, Equatable, Sendable {
    public var seq: Int64
    public var at: String
    public var by: String
    public var reason: String

    public init(seq: Int64, at: String, by: String, reason: String) {
        self.seq = seq
        self.at = at
        self.by = by
        self.reason = reason
    }
}

/// A case; together with its grants, map key `case/<number>`.
public struct CaseRecord: Codable, Equatable, Sendable {
    public var number: String
    public var category: String
    public var year: Int
    public var clientNumber: Int
    public var status: String
    public var manager: String
    public var supervisor: String
    public var teamPublicKey: String
    public var confidentialPublicKey: String
    public var openedAt: String
    public var openedBy: String
    public var openedSeq: Int64
    /// Once a tier key has rotated (`case.key-rotated`): each tier's current
    /// generation and the public keys of the older generations some version
    /// is still sealed to. `teamPublicKey` and `confidentialPublicKey` are
    /// always the current generation's. Absent (not null) before the first
    /// rotation, so cases never rotated hash as they did.
    public var keys: CaseKeys?
    /// Once the case went to another vault (`case.transferred`): the
    /// tombstone. This vault's copy is read-only from then on. Absent (not
    /// null) otherwise, as is `imported`.
    public var transferred: CaseTransfer?
    /// For a case that came from another vault (`case.imported`).
    public var imported: CaseImport?

    /// Open, inactive or aged out, and kept by this vault (not transferred
    /// to another): a case that is someone's work here. `due`, `handover
    /// check`, the caseload warnings and `staff leave` count these.
    var isOpenWorkHere: Bool { status != CaseStatus.closed.rawValue && transferred == nil }

    public init(number: String, category: String, year: Int, clientNumber: Int, status: String, manager: String,
                supervisor: String, teamPublicKey: String, confidentialPublicKey: String, openedAt: String,
                openedBy: String, openedSeq: Int64, keys: CaseKeys? = nil, transferred: CaseTransfer? = nil, imported: CaseImport? = nil) {
        self.keys = keys
        self.transferred = transferred
        self.imported = imported
        self.number = number
        self.category = category
        self.year = year
        self.clientNumber = clientNumber
        self.status = status
        self.manager = manager
        self.supervisor = supervisor
        self.teamPublicKey = teamPublicKey
        self.confidentialPublicKey = confidentialPublicKey
        self.openedAt = openedAt
        self.openedBy = openedBy
        self.openedSeq = openedSeq
    }

    enum CodingKeys: String, CodingKey {
        case number, category, year, clientNumber, status, manager, supervisor, teamPublicKey, confidentialPublicKey
        case openedAt, openedBy, openedSeq, keys, transferred, imported
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(number, forKey: .number)
        try c.encode(category, forKey: .category)
        try c.encode(year, forKey: .year)
        try c.encode(clientNumber, forKey: .clientNumber)
        try c.encode(status, forKey: .status)
        try c.encode(manager, forKey: .manager)
        try c.encode(supervisor, forKey: .supervisor)
        try c.encode(teamPublicKey, forKey: .teamPublicKey)
        try c.encode(confidentialPublicKey, forKey: .confidentialPublicKey)
        try c.encode(openedAt, forKey: .openedAt)
        try c.encode(openedBy, forKey: .openedBy)
        try c.encode(openedSeq, forKey: .openedSeq)
        try c.encodeIfPresent(keys, forKey: .keys)
        try c.encodeIfPresent(transferred, forKey: .transferred)
        try c.encodeIfPresent(imported, forKey: .imported)
    }

    /// The tier's current key generation (1 until it first rotates).
    public func generation(of tier: Tier) -> Int { keys?[tier].generation ?? 1 }

    /// Who made the tier's current key pair, when the record says: the
    /// signer of the rotation that made it (`TierKeys.madeBy`); for
    /// generation 1, whoever imported the case here, or else opened it.
    /// Nil after a format-2 rotation, which did not record it.
    public func keyMaker(of tier: Tier) -> String? {
        if let made = keys?[tier].madeBy { return made }
        guard generation(of: tier) == 1 else { return nil }
        return imported?.by ?? openedBy
    }
}

/// Where a case went (`case.transferred`, SECURITY.md §15b).
public struct CaseTransfer: Codable, Equatable, Sendable {
    public var seq: Int64
    public var at: String
    public var by: String
    public var toVault: String
    public var toMember: String
    public var reason: String
}

/// Where a case came from (`case.imported`, SECURITY.md §15b): the sending
/// vault, the event there that transferred it, and the blob holding the
/// history that proves it.
public struct CaseImport: Codable, Equatable, Sendable {
    public var seq: Int64
    public var at: String
    public var by: String
    public var fromVault: String
    public var fromSeq: Int64
    public var history: String
}

/// The key generations of a case's two tiers (SECURITY.md §3, "Rotation").
public struct CaseKeys: Codable, Equatable, Sendable {
    public var team: TierKeys
    public var confidential: TierKeys

    public subscript(tier: Tier) -> TierKeys {
        get { tier == .team ? team : confidential }
        set { if tier == .team { team = newValue } else { confidential = newValue } }
    }

    public static let initial = CaseKeys(team: TierKeys(generation: 1, older: []), confidential: TierKeys(generation: 1, older: []))
}

/// A tier's current generation, and the older generations whose keys some
/// version's file key is still sealed to (until a rotation re-seals them).
public struct TierKeys: Codable, Equatable, Sendable {
    public struct Older: Codable, Equatable, Sendable {
        public var generation: Int
        public var publicKey: String
    }
    public var generation: Int
    /// By generation, ascending.
    public var older: [Older]
    /// Who made the current generation's key pair: the signer of the
    /// format-3 rotation that made it (who knew its secret key then, held
    /// it or not). Absent (not null) for generation 1, whose maker the case
    /// record says (`CaseRecord.keyMaker`), and after a format-2 rotation.
    public var madeBy: String? = nil
}

/// One holder's sealed copy of one generation of one tier's secret key.
public struct GrantRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var tier: String
    /// `staff:<id>` or `recovery`.
    public var holder: String
    public var holderPublicKey: String
    /// BLAKE2b-256 of the sealed tier key (a blob).
    public var sealedKeyHash: String
    public var grantedSeq: Int64
    /// The tier key's generation this copy is of: 1 until the tier rotates.
    /// In the record only when not 1, so grants of never-rotated tiers hash
    /// as they did.
    public var generation: Int

    public init(caseNumber: String, tier: String, holder: String, holderPublicKey: String, sealedKeyHash: String, grantedSeq: Int64,
                generation: Int = 1) {
        self.caseNumber = caseNumber
        self.tier = tier
        self.holder = holder
        self.holderPublicKey = holderPublicKey
        self.sealedKeyHash = sealedKeyHash
        self.grantedSeq = grantedSeq
        self.generation = generation
    }

    enum CodingKeys: String, CodingKey { case caseNumber, tier, holder, holderPublicKey, sealedKeyHash, grantedSeq, generation }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(caseNumber: try c.decode(String.self, forKey: .caseNumber), tier: try c.decode(String.self, forKey: .tier),
                  holder: try c.decode(String.self, forKey: .holder), holderPublicKey: try c.decode(String.self, forKey: .holderPublicKey),
                  sealedKeyHash: try c.decode(String.self, forKey: .sealedKeyHash), grantedSeq: try c.decode(Int64.self, forKey: .grantedSeq),
                  generation: try c.decodeIfPresent(Int.self, forKey: .generation) ?? 1)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(caseNumber, forKey: .caseNumber)
        try c.encode(tier, forKey: .tier)
        try c.encode(holder, forKey: .holder)
        try c.encode(holderPublicKey, forKey: .holderPublicKey)
        try c.encode(sealedKeyHash, forKey: .sealedKeyHash)
        try c.encode(grantedSeq, forKey: .grantedSeq)
        if generation != 1 { try c.encode(generation, forKey: .generation) }
    }
}

/// A document of a case; map key `document/<case>/<name>`.
public struct DocumentRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var name: String
    public var type: String
    /// Filed with `--form`: every version is a validated form of `type`.
    public var isForm: Bool
    public var latestVersion: Int
    /// Sticky: true once any version went to the confidential tier.
    public var confidential: Bool

    public init(caseNumber: String, name: String, type: String, isForm: Bool, latestVersion: Int, confidential: Bool) {
        self.caseNumber = caseNumber
        self.name = name
        self.type = type
        self.isForm = isForm
        self.latestVersion = latestVersion
        self.confidential = confidential
    }
}

/// One immutable version; map key `version/<case>/<document>/<version>`.
public struct VersionRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var document: String
    public var version: Int
    public var type: String
    public var tier: String
    public var objectId: String
    public var size: Int64
    public var ciphertextSize: Int64
    public var sealedFileKeyHash: String
    public var stamp: Stamp
    public var filedSeq: Int64
    /// For forms: the schema's `$id`, its vault version (nil: built-in) and
    /// the BLAKE2b-256 of the schema text it was validated against.
    public var schemaId: String?
    public var schemaVersion: Int?
    public var schemaBodyHash: String?
    /// For a version moved from another case (`document.moved`): where it
    /// was filed, which its object's associated data names. Absent (not
    /// null) otherwise, so records of versions never moved hash as before.
    public var origin: VersionOrigin?
    /// The generation of the tier key the file key is sealed to: 1 until the
    /// tier rotates. In the record only when not 1.
    public var keyGeneration: Int
    /// The blob of the sealed original file name and media type (§11a).
    /// In the record only when present.
    public var fileInfoHash: String?

    public init(caseNumber: String, document: String, version: Int, type: String, tier: String, objectId: String,
                size: Int64, ciphertextSize: Int64, sealedFileKeyHash: String, stamp: Stamp, filedSeq: Int64,
                schemaId: String?, schemaVersion: Int?, schemaBodyHash: String?, origin: VersionOrigin? = nil, keyGeneration: Int = 1,
                fileInfoHash: String? = nil) {
        self.fileInfoHash = fileInfoHash
        self.origin = origin
        self.keyGeneration = keyGeneration
        self.caseNumber = caseNumber
        self.document = document
        self.version = version
        self.type = type
        self.tier = tier
        self.objectId = objectId
        self.size = size
        self.ciphertextSize = ciphertextSize
        self.sealedFileKeyHash = sealedFileKeyHash
        self.stamp = stamp
        self.filedSeq = filedSeq
        self.schemaId = schemaId
        self.schemaVersion = schemaVersion
        self.schemaBodyHash = schemaBodyHash
    }

    enum CodingKeys: String, CodingKey {
        case caseNumber, document, version, type, tier, objectId, size, ciphertextSize, sealedFileKeyHash, stamp, filedSeq
        case schemaId, schemaVersion, schemaBodyHash, origin, keyGeneration, fileInfoHash
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(caseNumber: try c.decode(String.self, forKey: .caseNumber), document: try c.decode(String.self, forKey: .document),
                  version: try c.decode(Int.self, forKey: .version), type: try c.decode(String.self, forKey: .type),
                  tier: try c.decode(String.self, forKey: .tier), objectId: try c.decode(String.self, forKey: .objectId),
                  size: try c.decode(Int64.self, forKey: .size), ciphertextSize: try c.decode(Int64.self, forKey: .ciphertextSize),
                  sealedFileKeyHash: try c.decode(String.self, forKey: .sealedFileKeyHash), stamp: try c.decode(Stamp.self, forKey: .stamp),
                  filedSeq: try c.decode(Int64.self, forKey: .filedSeq), schemaId: try c.decodeIfPresent(String.self, forKey: .schemaId),
                  schemaVersion: try c.decodeIfPresent(Int.self, forKey: .schemaVersion),
                  schemaBodyHash: try c.decodeIfPresent(String.self, forKey: .schemaBodyHash),
                  origin: try c.decodeIfPresent(VersionOrigin.self, forKey: .origin),
                  keyGeneration: try c.decodeIfPresent(Int.self, forKey: .keyGeneration) ?? 1,
                  fileInfoHash: try c.decodeIfPresent(String.self, forKey: .fileInfoHash))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(caseNumber, forKey: .caseNumber)
        try c.encode(document, forKey: .document)
        try c.encode(version, forKey: .version)
        try c.encode(type, forKey: .type)
        try c.encode(tier, forKey: .tier)
        try c.encode(objectId, forKey: .objectId)
        try c.encode(size, forKey: .size)
        try c.encode(ciphertextSize, forKey: .ciphertextSize)
        try c.encode(sealedFileKeyHash, forKey: .sealedFileKeyHash)
        try c.encode(stamp, forKey: .stamp)
        try c.encode(filedSeq, forKey: .filedSeq)
        try c.encode(schemaId, forKey: .schemaId)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encode(schemaBodyHash, forKey: .schemaBodyHash)
        try c.encodeIfPresent(origin, forKey: .origin)
        if keyGeneration != 1 { try c.encode(keyGeneration, forKey: .keyGeneration) }
        try c.encodeIfPresent(fileInfoHash, forKey: .fileInfoHash)
    }
}

/// Where a moved version was filed: the case and document its object's
/// associated data names (SECURITY.md §11).
public struct VersionOrigin: Codable, Equatable, Sendable {
    public var `case`: String
    public var document: String
    /// For a version filed in another vault and imported with its case:
    /// that vault's id, which its object's associated data names. Absent
    /// otherwise.
    public var vault: String?

    public init(case: String, document: String, vault: String? = nil) {
        self.case = `case`
        self.document = document
        self.vault = vault
    }
}

/// The tombstone a moved document leaves in its case (`document.moved`).
/// Rows of table `moves`.
public struct MoveRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var document: String
    public var seq: Int64
    public var at: String
    public var by: String
    public var toCase: String
    public var toDocument: String
    /// How many versions went.
    public var versions: Int
    public var reason: String

    public init(caseNumber: String, document: String, seq: Int64, at: String, by: String, toCase: String, toDocument: String,
                versions: Int, reason: String) {
        self.caseNumber = caseNumber
        self.document = document
        self.seq = seq
        self.at = at
        self.by = by
        self.toCase = toCase
        self.toDocument = toDocument
        self.versions = versions
        self.reason = reason
    }
}

/// One version of a programme's own form schema; all versions of a type
/// together are map key `schemas/<type>`.
public struct SchemaRecord: Codable, Equatable, Sendable {
    public var formType: String
    public var version: Int
    public var schemaId: String
    public var title: String
    /// BLAKE2b-256 of the schema text (a blob).
    public var bodyHash: String
    public var addedAt: String
    public var addedBy: String
    public var addedSeq: Int64

    public init(formType: String, version: Int, schemaId: String, title: String, bodyHash: String,
                addedAt: String, addedBy: String, addedSeq: Int64) {
        self.formType = formType
        self.version = version
        self.schemaId = schemaId
        self.title = title
        self.bodyHash = bodyHash
        self.addedAt = addedAt
        self.addedBy = addedBy
        self.addedSeq = addedSeq
    }
}

/// A version withdrawn as a correction (`version.withdrawn`): no longer a
/// document's current version, still in its history and readable by its
/// holders, with this notice. Rows of table `withdrawals`.
public struct WithdrawalRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var document: String
    public var version: Int
    public var seq: Int64
    public var at: String
    public var by: String
    public var reason: String

    public init(caseNumber: String, document: String, version: Int, seq: Int64, at: String, by: String, reason: String) {
        self.caseNumber = caseNumber
        self.document = document
        self.version = version
        self.seq = seq
        self.at = at
        self.by = by
        self.reason = reason
    }
}

/// A tag on a case (`case-of-concern`, `high-risk`, …), from its
/// `case.tag-added`. Rows of table `case_tags`.
public struct CaseTagRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var tag: String
    public var seq: Int64
    public var at: String
    public var by: String

    public init(caseNumber: String, tag: String, seq: Int64, at: String, by: String) {
        self.caseNumber = caseNumber
        self.tag = tag
        self.seq = seq
        self.at = at
        self.by = by
    }
}

/// The document types the vault's policy files to the confidential tier
/// whatever the filer says (`policy.confidential-types-set`, by an admin).
/// Row `confidential-types` of table `vault_policies`.
public struct ConfidentialTypesRecord: Codable, Equatable, Sendable {
    /// Sorted by their bytes, no repeats.
    public var types: [String]
    public var seq: Int64
    public var at: String
    public var by: String

    public init(types: [String], seq: Int64, at: String, by: String) {
        self.types = types
        self.seq = seq
        self.at = at
        self.by = by
    }
}

/// A legal hold on a case (`case.hold-placed`): nothing of the case is
/// disposed of while it stands, whatever the retention schedule says.
/// Rows of table `holds`; gone when released.
public struct HoldRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var seq: Int64
    public var at: String
    public var by: String
    public var reason: String

    public init(caseNumber: String, seq: Int64, at: String, by: String, reason: String) {
        self.caseNumber = caseNumber
        self.seq = seq
        self.at = at
        self.by = by
        self.reason = reason
    }
}

/// A handover under way (`case.handover-started`): the outgoing member is
/// still the case's manager (or supervisor) and the incoming one holds its
/// tiers and shadows them until `shadowUntil`. Rows of table `handovers`;
/// gone when completed.
public struct HandoverRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var seq: Int64
    public var at: String
    public var by: String
    /// `manager` or `supervisor`: which of the case's two the handover changes.
    public var role: String
    public var from: String
    public var to: String
    /// `YYYY-MM-DD`.
    public var shadowUntil: String

    public init(caseNumber: String, seq: Int64, at: String, by: String, role: String, from: String, to: String, shadowUntil: String) {
        self.caseNumber = caseNumber
        self.seq = seq
        self.at = at
        self.by = by
        self.role = role
        self.from = from
        self.to = to
        self.shadowUntil = shadowUntil
    }
}

/// An approver's agreement that a closed case be disposed of under a
/// version of the retention policy (`case.disposal-approved`). Rows of
/// table `disposal_approvals`; gone when the case's status changes.
public struct DisposalApprovalRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var seq: Int64
    public var at: String
    public var by: String
    public var policyVersion: Int
    public var reason: String

    public init(caseNumber: String, seq: Int64, at: String, by: String, policyVersion: Int, reason: String) {
        self.caseNumber = caseNumber
        self.seq = seq
        self.at = at
        self.by = by
        self.policyVersion = policyVersion
        self.reason = reason
    }
}

/// The tombstone of a case disposed of by crypto-shredding (`case.disposed`).
/// The case's other rows stay (number, dates, stamps, ciphertext hashes);
/// its sealed keys are gone. Rows of table `disposals`.
public struct DisposalRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var seq: Int64
    public var at: String
    public var by: String
    public var policyVersion: Int
    public var rule: String
    /// The `seq` of each approval relied on.
    public var approvals: [Int64]
    public var documents: Int
    public var versions: Int
    public var ciphertextBytes: Int64

    public init(caseNumber: String, seq: Int64, at: String, by: String, policyVersion: Int, rule: String, approvals: [Int64],
                documents: Int, versions: Int, ciphertextBytes: Int64) {
        self.caseNumber = caseNumber
        self.seq = seq
        self.at = at
        self.by = by
        self.policyVersion = policyVersion
        self.rule = rule
        self.approvals = approvals
        self.documents = documents
        self.versions = versions
        self.ciphertextBytes = ciphertextBytes
    }
}

/// One version of the vault's retention policy (`retention.policy-set`):
/// the policy file's bytes are the blob `bodyHash` names. Rows of table
/// `retention_policies`.
public struct RetentionPolicyRecord: Codable, Equatable, Sendable {
    public var version: Int
    public var bodyHash: String
    public var seq: Int64
    public var at: String
    public var by: String

    public init(version: Int, bodyHash: String, seq: Int64, at: String, by: String) {
        self.version = version
        self.bodyHash = bodyHash
        self.seq = seq
        self.at = at
        self.by = by
    }
}

/// A change of a case's status (manual §5.2), by the event that made it:
/// `case.status-changed`, or `case.closure-approved` for a closure a case
/// manager asked for. Rows of table `status_changes`.
public struct StatusChangeRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var seq: Int64
    public var from: String
    public var to: String
    public var at: String
    /// Who signed the change (for an approved closure, the approver).
    public var by: String
    public var reason: String
    /// For an approved closure: the case manager who asked for it.
    public var requestedBy: String?

    public init(caseNumber: String, seq: Int64, from: String, to: String, at: String, by: String, reason: String, requestedBy: String?) {
        self.caseNumber = caseNumber
        self.seq = seq
        self.from = from
        self.to = to
        self.at = at
        self.by = by
        self.reason = reason
        self.requestedBy = requestedBy
    }

    enum CodingKeys: String, CodingKey { case caseNumber, seq, from, to, at, by, reason, requestedBy }

    // requestedBy is always present: null when the change was not asked for.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(caseNumber, forKey: .caseNumber)
        try c.encode(seq, forKey: .seq)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(at, forKey: .at)
        try c.encode(by, forKey: .by)
        try c.encode(reason, forKey: .reason)
        try c.encode(requestedBy, forKey: .requestedBy)
    }
}

/// The latest extension of an aged-out case's closing date (manual §5.2:
/// "closed six months later, unless otherwise agreed"), by its supervisor
/// (`case.ao-extended`); gone when the case leaves AO. Rows of table
/// `ao_extensions`.
public struct AgedOutExtensionRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var seq: Int64
    public var at: String
    public var by: String
    /// The new closing date, `YYYY-MM-DD` (UTC).
    public var until: String
    public var reason: String

    public init(caseNumber: String, seq: Int64, at: String, by: String, until: String, reason: String) {
        self.caseNumber = caseNumber
        self.seq = seq
        self.at = at
        self.by = by
        self.until = until
        self.reason = reason
    }
}

/// A case manager's request to close a case, awaiting the approval of the
/// supervisor it names (`case.closure-requested`); at most one per case,
/// cleared by any change of status. Rows of table `closure_requests`.
public struct ClosureRequestRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var seq: Int64
    public var at: String
    public var requestedBy: String
    public var approver: String
    public var reason: String

    public init(caseNumber: String, seq: Int64, at: String, requestedBy: String, approver: String, reason: String) {
        self.caseNumber = caseNumber
        self.seq = seq
        self.at = at
        self.requestedBy = requestedBy
        self.approver = approver
        self.reason = reason
    }
}

/// One row of the event log (SECURITY.md §12).
public struct EventRecord: Equatable, Sendable {
    public var seq: Int64
    public var type: String
    public var actor: String
    public var at: String
    /// The canonical JSON that was signed.
    public var body: [UInt8]
    public var signature: [UInt8]
    /// RFC 9162 leaf hash of body and signature; derived, checked by use.
    public var leafHash: [UInt8]

    public init(seq: Int64, type: String, actor: String, at: String, body: [UInt8], signature: [UInt8], leafHash: [UInt8]) {
        self.seq = seq
        self.type = type
        self.actor = actor
        self.at = at
        self.body = body
        self.signature = signature
        self.leafHash = leafHash
    }
}

/// The state map's entries, by entity (SECURITY.md §12a).
enum StateKey {
    static let vault = "vault"
    static func staff(_ id: String) -> String { "staff/" + id }
    static func `case`(_ number: String) -> String { "case/" + number }
    static func client(_ number: Int) -> String { "client/\(number)" }
    static func document(_ caseNumber: String, _ name: String) -> String { "document/\(caseNumber)/\(name)" }
    static func version(_ caseNumber: String, _ name: String, _ version: Int) -> String { "version/\(caseNumber)/\(name)/\(version)" }
    static func schemas(_ type: String) -> String { "schemas/" + type }
    static func lifecycle(_ caseNumber: String) -> String { "lifecycle/" + caseNumber }
    static func withdrawals(_ caseNumber: String, _ name: String) -> String { "withdrawals/\(caseNumber)/\(name)" }
    static func moves(_ caseNumber: String, _ name: String) -> String { "moves/\(caseNumber)/\(name)" }
    static func tags(_ caseNumber: String) -> String { "tags/" + caseNumber }
    static let searchKeys = "search-keys"
    static func clientIndex(_ caseNumber: String) -> String { "client-name/" + caseNumber }
    static let confidentialTypes = "policy/confidential-types"
    static func hold(_ caseNumber: String) -> String { "hold/" + caseNumber }
    static let retentionPolicies = "policy/retention"
    static func disposalApprovals(_ caseNumber: String) -> String { "disposal-approvals/" + caseNumber }
    static func disposal(_ caseNumber: String) -> String { "disposed/" + caseNumber }
    static func handover(_ caseNumber: String) -> String { "handover/" + caseNumber }
    // How many rows a listing must show, so a row deleted by hand is not
    // quietly left out (no entry while the count is 0).
    static let staffCount = "count/staff"
    static let caseCount = "count/cases"
    static func documentCount(_ caseNumber: String) -> String { "count/documents/" + caseNumber }
    static let formTypeCount = "count/form-types"
    static let clientIndexCount = "count/client-names"
}

/// What the map holds for a listing: how many rows it has.
struct CountState: Codable, Equatable {
    var count: Int
}

/// What the map holds for the cases: how many, and the highest client
/// number taken (the next case's number follows it).
struct CaseCountState: Codable, Equatable {
    var count: Int
    var highestClient: Int
}

/// What the map holds for a case: the case row and every grant of it, in
/// (tier, holder, generation) order, so a grant added or removed by hand is caught.
struct CaseState: Codable, Equatable {
    var `case`: CaseRecord
    var grants: [GrantRecord]

    init(_ record: CaseRecord, grants: [GrantRecord]) {
        self.case = record
        self.grants = grants.sorted { ($0.tier, $0.holder, $0.generation) < ($1.tier, $1.holder, $1.generation) }
    }
}

extension CaseState {
    /// The grant of `tier` that `holder` holds: of `generation` when given, else of any.
    func grant(_ tier: String, heldBy holder: String, generation: Int? = nil) -> GrantRecord? {
        grants.first { $0.tier == tier && $0.holder == holder && (generation == nil || $0.generation == generation) }
    }

    func holds(_ tier: String, _ holder: String, generation: Int? = nil) -> Bool {
        grant(tier, heldBy: holder, generation: generation) != nil
    }

    /// Whether `holder` holds the tier's current generation.
    func holdsCurrent(_ tier: Tier, _ holder: String) -> Bool {
        holds(tier.rawValue, holder, generation: self.case.generation(of: tier))
    }

    /// Whether `holder` holds any generation of either tier.
    func holdsAny(_ holder: String) -> Bool { grants.contains { $0.holder == holder } }
}

/// What the map holds for a case's lifecycle once its status first
/// changes or a closure is asked for: every change in order, and the
/// closure request awaiting approval, if any.
struct LifecycleState: Codable, Equatable {
    var changes: [StatusChangeRecord]
    var pendingClosure: ClosureRequestRecord?
    /// Only while an AO case's closing date is extended (absent, not null,
    /// otherwise).
    var aoExtension: AgedOutExtensionRecord? = nil

    var isEmpty: Bool { changes.isEmpty && pendingClosure == nil && aoExtension == nil }

    enum CodingKeys: String, CodingKey { case changes, pendingClosure, aoExtension }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(aoExtension, forKey: .aoExtension)
        try c.encode(changes, forKey: .changes)
        try c.encode(pendingClosure, forKey: .pendingClosure)
    }
}

/// What the map holds for a document with withdrawn versions: each
/// withdrawal, by version.
struct WithdrawalState: Codable, Equatable {
    var versions: [WithdrawalRecord]
}

/// What the map holds for a document name a case has moved away: each
/// move, in event order.
struct MoveState: Codable, Equatable {
    var moves: [MoveRecord]
}

/// A member's sealed copy of the vault's search key (`search.key-granted`,
/// SECURITY.md §12e).
public struct SearchKeyRecord: Codable, Equatable, Sendable {
    public var holder: String
    public var holderPublicKey: String
    public var keyCheck: String
    public var sealedKeyHash: String
    public var seq: Int64

    public init(holder: String, holderPublicKey: String, keyCheck: String, sealedKeyHash: String, seq: Int64) {
        self.holder = holder
        self.holderPublicKey = holderPublicKey
        self.keyCheck = keyCheck
        self.sealedKeyHash = sealedKeyHash
        self.seq = seq
    }
}

/// A case's client-name index (`case.client-named`, SECURITY.md §12e):
/// `ClientNameIndex.slots` keyed tokens, hex, ascending. Since v18 the
/// tokens are in a blob (a random salt, then the tokens) that `indexHash`
/// names, and the signed record holds that hash instead; `index` is then
/// the whole blob in hex as the catalog keeps it for `find` (empty in a
/// replay whose blob is gone), checked against the hash wherever it is
/// used.
public struct ClientIndexRecord: Codable, Equatable, Sendable {
    public var caseNumber: String
    public var index: String
    public var seq: Int64
    public var indexHash: String?

    public init(caseNumber: String, index: String, seq: Int64, indexHash: String? = nil) {
        self.caseNumber = caseNumber
        self.index = index
        self.seq = seq
        self.indexHash = indexHash
    }
}

/// What the map holds for the search key: every member's sealed copy, by
/// holder (as bytes).
struct SearchKeyState: Codable, Equatable {
    var holders: [SearchKeyRecord]
}

/// What the map holds for a tagged case: its tags, by tag (as bytes).
struct TagState: Codable, Equatable {
    var tags: [CaseTagRecord]
}

/// What the map holds for the retention policy: every version set.
struct RetentionPolicyState: Codable, Equatable {
    var versions: [RetentionPolicyRecord]
}

/// What the map holds for a case's disposal approvals, by `seq`.
struct DisposalApprovalState: Codable, Equatable {
    var approvals: [DisposalApprovalRecord]
}

/// What the map holds for a client number: the case that took it.
struct ClientState: Codable, Equatable {
    var `case`: String
}

/// What the map holds for a form type: every version added to the vault.
struct SchemaTypeState: Codable, Equatable {
    var type: String
    var versions: [SchemaRecord]
}
