internal import CaseVaultCrypto

/// The catalog port (design §2): the operations the core needs of a store
/// of events, blobs and their projection, and nothing about SQL. The SQLite
/// implementation lives in `CaseVaultSQLite` (the only importer of GRDB);
/// `MemoryCatalogStore` is the second implementation, used to replay a log
/// into a scratch catalog. Both run the same test suite (`CatalogStoreSuite`).
///
/// Rows are written only by `Projection.apply` (through `CatalogWriter`), in
/// the one write transaction that appends the event that causes them.
public protocol CatalogStore: AnyObject, Sendable {
    /// A consistent snapshot: nothing another process commits meanwhile is
    /// seen halfway.
    func read<T>(_ body: (any CatalogReader) throws -> T) throws -> T
    /// One write transaction, serialised with every other writer (across
    /// processes): all of `body` lands or none of it does.
    func write<T>(_ body: (any CatalogWriter) throws -> T) throws -> T
    func close() throws
    /// Pushes what committed writes erased out of every copy the store
    /// keeps itself (SQLite: checkpoints and truncates the write-ahead log,
    /// so erased pages survive only as free blocks of the file system).
    /// False when another connection kept it from finishing.
    func flushErased() throws -> Bool
}

extension CatalogStore {
    public func flushErased() throws -> Bool { true }
}

/// Thrown by a store when a write transaction's commit itself failed (its
/// body ran and everything before the commit succeeded): whether the
/// transaction reached the disk is not known (in SQLite's WAL mode a
/// complete commit frame can come back at the next recovery). `Vault.write`
/// turns it into its `error` for every caller that does not ask for it.
public struct CatalogCommitFailed: Error {
    public let error: VaultError
    public init(error: VaultError) { self.error = error }
}

/// How a vault finds its catalog: the core asks for the file's store at
/// open and creation, without knowing what backs it.
public protocol CatalogStoreFactory {
    /// Opens (and migrates) the catalog at `path`.
    static func open(path: String) throws -> any CatalogStore
    /// Creates an empty catalog at `path`, readable only by its owner.
    static func create(path: String) throws -> any CatalogStore
}

/// Which cases a listing wants; nil is any.
public struct CaseQuery: Sendable {
    public var status: String?
    public var category: String?
    public var manager: String?
    public var supervisor: String?
    public var year: Int?
    /// Case numbers that start with this (compared as bytes).
    public var numberPrefix: String?
    public init(status: String? = nil, category: String? = nil, manager: String? = nil, supervisor: String? = nil, year: Int? = nil,
                numberPrefix: String? = nil) {
        self.numberPrefix = numberPrefix
        self.status = status
        self.category = category
        self.manager = manager
        self.supervisor = supervisor
        self.year = year
    }

    var isEmpty: Bool { status == nil && category == nil && manager == nil && supervisor == nil && year == nil && numberPrefix == nil }
}

public protocol CatalogReader: AnyObject {
    // The log.
    /// The highest sequence number stored; 0 for an empty log.
    func lastEventSeq() throws -> Int64
    func event(seq: Int64) throws -> EventRecord?
    /// Events with `seq` in `range`, in order, handed over one at a time
    /// (the log may be large); `body` returns false to stop.
    func forEachEvent(in range: ClosedRange<Int64>, _ body: (EventRecord) throws -> Bool) throws
    /// The events of one type signed by one member, by `seq` (their stored
    /// columns: the caller proves each one it relies on in the log).
    /// Events of a kind as their stored columns say, by `seq`: by one actor, or by anyone when nil.
    func events(type: String, actor: String?) throws -> [EventRecord]
    func eventCount() throws -> Int64
    /// A stored perfect subtree of the log (level ≥ 1); level 0 is the
    /// event's `leafHash`.
    func logNode(level: Int, index: Int64) throws -> [UInt8]?
    func logNodeCount() throws -> Int64
    func stateNode(path: [UInt8]) throws -> StateNode?
    /// The nodes at `paths` that exist, in one read; nil when the store
    /// reads no faster that way than one by one.
    func stateNodes(paths: [[UInt8]]) throws -> [[UInt8]: StateNode]?
    /// Whether `stateNodes(paths:)` reads faster than one by one: where it
    /// does not, a walk does not make the paths to ask (a replay in memory
    /// walks the map hundreds of thousands of times).
    var readsStateNodesAtOnce: Bool { get }
    func stateNodeCount() throws -> Int64
    /// Every stored state node, in no particular order (for `verify`, and
    /// `SignedState.preloadNodes`).
    func forEachStateNode(_ body: (StateNode) throws -> Void) throws

    // Blobs: secret-bearing and large values, by the hex BLAKE2b-256 of their bytes.
    func blob(hash: String) throws -> [UInt8]?
    func blobHashes() throws -> [String]
    /// Every blob, in no particular order (for `verify`).
    func forEachBlob(_ body: (String, [UInt8]) throws -> Void) throws

    // The projection.
    func vaultSettings() throws -> VaultSettingsRecord?
    func staff(id: String) throws -> StaffRecord?
    func allStaff() throws -> [StaffRecord]
    func caseRecord(number: String) throws -> CaseRecord?
    /// Cases by category, year and client number.
    func cases(matching query: CaseQuery) throws -> [CaseRecord]
    func caseNumber(client: Int) throws -> String?
    func highestClientNumber() throws -> Int?
    /// The cases a member manages that are still this office's work (not
    /// closed, not transferred away): how many rows, and the numbers of up
    /// to `sample` of them, by number. Unchecked rows: the caller checks
    /// the sample through the signed state.
    func activeCaseload(managerID: String, sample: Int) throws -> (count: Int, sample: [String])
    /// The case managers of a supervisor's cases that are neither closed
    /// nor transferred away, each with the lowest such case number.
    func activeManagers(supervisorID: String) throws -> [(manager: String, caseNumber: String)]
    /// Row counts, for the signed counts listings are checked against.
    func staffCount() throws -> Int
    func caseCount() throws -> Int
    func documentCount(caseNumber: String) throws -> Int
    /// Form types with at least one schema version.
    func formTypeCount() throws -> Int
    /// Grants of a case in (tier, holder) order.
    func grants(caseNumber: String) throws -> [GrantRecord]
    func document(caseNumber: String, name: String) throws -> DocumentRecord?
    /// Documents of a case by name; every document of the vault when nil.
    func documents(caseNumber: String?) throws -> [DocumentRecord]
    func version(caseNumber: String, document: String, version: Int) throws -> VersionRecord?
    /// Versions in (document, version) order; every version of the vault when `caseNumber` is nil.
    func versions(caseNumber: String?, document: String?) throws -> [VersionRecord]
    /// Schema versions of a form type in version order; every schema when nil.
    func schemas(formType: String?) throws -> [SchemaRecord]
    /// Status changes of a case in event order; every case's, by case, when nil.
    func statusChanges(caseNumber: String?) throws -> [StatusChangeRecord]
    /// The closure request awaiting approval for a case.
    func closureRequest(caseNumber: String) throws -> ClosureRequestRecord?
    /// Every closure request awaiting approval, by case.
    func closureRequests() throws -> [ClosureRequestRecord]
    /// Withdrawn versions of a document by version; of a case's documents,
    /// or of every case's, by case, document and version when nil.
    func withdrawals(caseNumber: String?, document: String?) throws -> [WithdrawalRecord]
    /// Tombstones of documents moved away, in event order; of one name, of
    /// a case's, or of every case's (by case, document, event) when nil.
    func moves(caseNumber: String?, document: String?) throws -> [MoveRecord]
    /// Tags of a case by tag (as bytes); of every case, by case, when nil.
    func tags(caseNumber: String?) throws -> [CaseTagRecord]
    /// The members' sealed copies of the search key, by holder (as bytes).
    func searchKeys() throws -> [SearchKeyRecord]
    /// A case's client-name index; every case's, by case, when nil.
    func clientIndexes(caseNumber: String?) throws -> [ClientIndexRecord]
    /// How many cases have a client-name index.
    func clientIndexCount() throws -> Int
    /// The extension of an aged-out case's closing date; every case's, by case, when nil.
    func aoExtensions(caseNumber: String?) throws -> [AgedOutExtensionRecord]
    /// The vault's signed list of always-confidential document types, once an admin set one.
    func confidentialTypes() throws -> ConfidentialTypesRecord?
    /// Legal holds standing: of one case, or of every case, by case, when nil.
    func holds(caseNumber: String?) throws -> [HoldRecord]
    /// Handovers under way: of one case, or of every case, by case, when nil.
    func handovers(caseNumber: String?) throws -> [HandoverRecord]
    /// Every version of the retention policy, by version.
    func retentionPolicies() throws -> [RetentionPolicyRecord]
    /// Disposal approvals standing, by `seq`: of one case, or of every case (by case, then `seq`) when nil.
    func disposalApprovals(caseNumber: String?) throws -> [DisposalApprovalRecord]
    /// Disposal tombstones: of one case, or of every case, by case, when nil.
    func disposals(caseNumber: String?) throws -> [DisposalRecord]
    /// The cases whose versions name an object (one, unless a version was
    /// signed by hand naming another's object).
    func cases(namingObject objectId: String) throws -> [String]
    /// How many rows name a blob: grants (`sealed_key_hash`), versions
    /// (`sealed_file_key_hash`, `schema_body_hash`), staff
    /// (`wrapped_keys_hash`), schemas and retention policies (`body_hash`).
    func recordsNaming(blob hash: String) throws -> Int
    /// The cases of which a holder (`staff:<id>`, `recovery`) holds any
    /// generation of any tier, by case number.
    func cases(heldBy holder: String) throws -> [String]
    /// The cases tagged `tag`, by case number.
    func cases(taggedWith tag: String) throws -> [String]
    /// A report tally's row: the record's canonical JSON (SECURITY.md §12a).
    func tally(key: String) throws -> [UInt8]?
    /// Every report tally row, by key (as bytes), for `verify`.
    func tallies() throws -> [(key: String, record: [UInt8])]
}

/// The write side, reachable only inside `CatalogStore.write`. Only the
/// ledger (events, log nodes, blobs) and the projection (rows, state map)
/// call it.
public protocol CatalogWriter: CatalogReader {
    func appendEvent(_ event: EventRecord) throws
    func putLogNode(level: Int, index: Int64, hash: [UInt8]) throws
    func putStateNode(_ node: StateNode) throws
    /// Stores a blob under its hash (the caller's hash of `bytes`); storing
    /// the same bytes again is a no-op, and different bytes under the hash
    /// (a damaged copy) are replaced.
    func putBlob(hash: String, bytes: [UInt8]) throws
    /// Erases a blob no current record names (a replaced wrapped key).
    func deleteBlob(hash: String) throws

    func putVaultSettings(_ record: VaultSettingsRecord) throws
    func putStaff(_ record: StaffRecord) throws
    func putCase(_ record: CaseRecord) throws
    func putGrant(_ record: GrantRecord) throws
    /// Removes one holder's sealed copy of one generation of a tier (a rotation).
    func deleteGrant(caseNumber: String, tier: String, holder: String, generation: Int) throws
    func putDocument(_ record: DocumentRecord) throws
    func putVersion(_ record: VersionRecord) throws
    func putSchema(_ record: SchemaRecord) throws
    func putStatusChange(_ record: StatusChangeRecord) throws
    /// Sets a case's pending closure request, replacing any other.
    func putClosureRequest(_ record: ClosureRequestRecord) throws
    func deleteClosureRequest(caseNumber: String) throws
    func putWithdrawal(_ record: WithdrawalRecord) throws
    func putMove(_ record: MoveRecord) throws
    /// Removes a document with its versions and withdrawals (it moved).
    func deleteDocument(caseNumber: String, name: String) throws
    func putTag(_ record: CaseTagRecord) throws
    func deleteTag(caseNumber: String, tag: String) throws
    func putSearchKey(_ record: SearchKeyRecord) throws
    /// Sets a case's client-name index, replacing any other.
    func putClientIndex(_ record: ClientIndexRecord) throws
    func deleteClientIndex(caseNumber: String) throws
    /// Sets a case's extension, replacing any other.
    func putAOExtension(_ record: AgedOutExtensionRecord) throws
    func deleteAOExtension(caseNumber: String) throws
    func putConfidentialTypes(_ record: ConfidentialTypesRecord) throws
    func putHold(_ record: HoldRecord) throws
    func putHandover(_ record: HandoverRecord) throws
    func deleteHandover(caseNumber: String) throws
    func deleteHold(caseNumber: String) throws
    func putRetentionPolicy(_ record: RetentionPolicyRecord) throws
    func putDisposalApproval(_ record: DisposalApprovalRecord) throws
    func deleteDisposalApprovals(caseNumber: String) throws
    func putDisposal(_ record: DisposalRecord) throws
    /// Sets a report tally's row, replacing any other.
    func putTally(key: String, record: [UInt8]) throws
}

/// Stored nodes feed the log tree and the state map.
struct LogNodes: LogNodeSource {
    let reader: any CatalogReader
    func logNode(level: Int, index: Int64) throws -> [UInt8]? {
        if level == 0 { return try reader.event(seq: index + 1)?.leafHash }
        return try reader.logNode(level: level, index: index)
    }
}

struct StateNodes: StateNodeSink {
    let reader: any CatalogReader
    /// The in-memory catalog (verify's replay), whose nodes are read and
    /// written inline, without the arrays of a `StateNode`.
    private let memory: MemoryCatalogStore.Transaction?

    init(reader: any CatalogReader) {
        self.reader = reader
        memory = reader as? MemoryCatalogStore.Transaction
    }

    func stateNode(path: [UInt8]) throws -> StateNode? { try reader.stateNode(path: path) }
    func stateNodes(paths: [[UInt8]]) throws -> [[UInt8]: StateNode]? { try reader.stateNodes(paths: paths) }
    var readsManyAtOnce: Bool { reader.readsStateNodesAtOnce }
    func node(at path: StatePath) throws -> StateMap.Node? {
        if let memory { return try memory.node(at: path) }
        return try reader.stateNode(path: path.bytes).map(StateMap.Node.init(checking:))
    }
    func putStateNode(_ node: StateNode) throws {
        guard let writer = reader as? any CatalogWriter else { preconditionFailure("state map written outside a write transaction") }
        try writer.putStateNode(node)
    }
    func put(_ node: StateMap.Node, hash: Hash32, at path: StatePath) throws {
        if let memory { return memory.put(node, hash: hash, at: path) }
        try putStateNode(StateNode(path: path.bytes, kind: node.kind, hash: hash.bytes, first: node.first.bytes, second: node.second.bytes))
    }
}
