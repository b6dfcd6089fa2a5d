/// One thing `verify` found, with its kind and its subject, so `verify
/// --json` and the exit code come from data (style rule 13).
public struct Finding: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        // The log.
        case eventMissing = "event-missing"
        case eventOutOfPlace = "event-out-of-place"
        case eventMalformed = "event-malformed"
        case eventColumnsDiffer = "event-columns-differ"
        case leafHashDiffers = "leaf-hash-differs"
        case badSignature = "bad-signature"
        case ruleBroken = "rule-broken"
        case grantMissing = "grant-missing"
        case stateRootDiffers = "state-root-differs"
        case logNodeDiffers = "log-node-differs"
        case checkpointNotExtended = "checkpoint-not-extended"
        case checkpointNotSigned = "checkpoint-not-signed"
        // The catalog against the replayed log.
        case rowMissing = "row-missing"
        case rowAdded = "row-added"
        case rowChanged = "row-changed"
        case stateMapDamaged = "state-map-damaged"
        case blobMissing = "blob-missing"
        case blobAltered = "blob-altered"
        case blobShared = "blob-shared"
        case blobNotErased = "blob-not-erased"
        case configDiffers = "config-differs"
        // Objects.
        case objectMissing = "object-missing"
        case objectAltered = "object-altered"
        case objectSizeDiffers = "object-size-differs"
        // Not faults: leftovers of a crash, reported apart.
        case orphanObject = "orphan-object"
        case unfinishedTempFile = "unfinished-temp-file"
        case unreferencedBlob = "unreferenced-blob"
        case disposalUnfinished = "disposal-unfinished"
        case leftoverRemoved = "leftover-removed"

        /// Leftovers that do not make a vault unsound.
        public var isFault: Bool {
            switch self {
            case .orphanObject, .unfinishedTempFile, .unreferencedBlob, .leftoverRemoved, .disposalUnfinished: false
            default: true
            }
        }
    }

    public let kind: Kind
    /// What it is about: `event 12`, `cases CP-2024-0042`, `object 3fa4…`.
    public let subject: String
    public let detail: String

    public init(kind: Kind, subject: String, detail: String) {
        self.kind = kind
        self.subject = subject
        self.detail = detail
    }
}

/// What `verify` checked and found.
public struct VerifyReport: Sendable, Codable {
    /// Faults: a clean vault has none.
    public var findings: [Finding] = []
    /// Leftovers (orphan objects, unfinished temp files): reported, not faults.
    public var notes: [Finding] = []
    public var events: Int64 = 0
    public var versions: Int = 0
    public var objectsRead: Int = 0
    public var bytesRead: Int64 = 0
    /// The log's size and root as verified.
    public var treeSize: Int64 = 0
    public var rootHex = ""
    /// Findings beyond this many are counted, not listed.
    public var findingsNotListed = 0

    public var isClean: Bool { findings.isEmpty }

    public init() {}

    mutating func add(_ kind: Finding.Kind, _ subject: String, _ detail: String) {
        let finding = Finding(kind: kind, subject: subject, detail: detail)
        if kind.isFault {
            if findings.count < 1_000 { findings.append(finding) } else { findingsNotListed += 1 }
        } else {
            notes.append(finding)
        }
    }

    /// Adds `other`'s findings and notes after this one's, and its counts.
    mutating func merge(_ other: VerifyReport) {
        for finding in other.findings { add(finding.kind, finding.subject, finding.detail) }
        findingsNotListed += other.findingsNotListed
        notes += other.notes
        versions += other.versions
        objectsRead += other.objectsRead
        bytesRead += other.bytesRead
    }
}
