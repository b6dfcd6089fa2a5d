public import CaseVault
internal import CaseVaultCrypto
internal import Foundation
internal import GRDB

/// The catalog in SQLite (GRDB, WAL mode): the only code that imports GRDB
/// or writes SQL (design §2). It stores what the core hands it and answers
/// the core's lookups; it decides nothing.
///
/// Migrations are named and never edited once landed; a new schema change is
/// a new migration appended to `migrator` (SECURITY.md §8).
public final class SQLiteCatalogStore: CatalogStore, CatalogStoreFactory, @unchecked Sendable {
    let pool: DatabasePool

    public static func open(path: String) throws -> any CatalogStore { try SQLiteCatalogStore(path: path) }

    public static func create(path: String) throws -> any CatalogStore {
        // Created first with mode 0600 so SQLite (and its -wal and -shm
        // files, which copy the mode) never exist readable by others.
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw VaultError.alreadyExists("\(path) already exists") }
            throw VaultError.io("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        Glibc.close(fd)
        return try SQLiteCatalogStore(path: path)
    }

    init(path: String) throws {
        var configuration = Configuration()
        // Writers are short (filing encrypts outside the transaction), but a
        // large verify or a slow disk may hold the lock a while: wait rather
        // than fail.
        configuration.busyMode = .timeout(600)
        configuration.prepareDatabase { db in
            // Freed pages are overwritten, so a replaced wrapped key or sealed
            // key does not linger in the file (it may in backups: SECURITY.md).
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // A group of filings rewrites a few thousand state-map pages in
            // one transaction: with SQLite's default 2 MiB cache they spilled
            // to the WAL mid-transaction and were read back. And a reader's
            // cache is dropped whenever the writer commits, so the database
            // file is read through a memory map rather than a pread per page.
            try db.execute(sql: "PRAGMA cache_size = -32768")
            try db.execute(sql: "PRAGMA mmap_size = 1073741824")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            if try pool.read({ try Self.migrator.hasBeenSuperseded($0) }) {
                throw VaultError.newerCatalog
            }
            try Self.migrator.migrate(pool)
            // GRDB sets synchronous = NORMAL on the writer when it enables
            // WAL (after prepareDatabase runs). NORMAL does not fsync at
            // commit: a power cut could lose a filing already acknowledged,
            // or a read event. FULL syncs the WAL at every commit.
            try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        } catch {
            throw Self.map(error)
        }
    }

    public func close() throws {
        do { try pool.close() } catch { throw Self.map(error) }
    }

    public func flushErased() throws -> Bool {
        do {
            return try pool.writeWithoutTransaction { db in
                // Columns: busy, log frames, frames checkpointed.
                let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                return (row?[0] as Int?) == 0
            }
        } catch {
            throw Self.map(error)
        }
    }

    public func read<T>(_ body: (any CatalogReader) throws -> T) throws -> T {
        do { return try pool.read { try body(Connection(db: $0)) } } catch { throw Self.map(error) }
    }

    /// One IMMEDIATE transaction: the write lock is taken before the first
    /// read, so two processes never both read the same next sequence number;
    /// the second waits (busy timeout) instead of failing on upgrade.
    public func write<T>(_ body: (any CatalogWriter) throws -> T) throws -> T {
        var committing = false
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    let connection = Connection(db: db, buffersStateNodes: true)
                    result = try body(connection)
                    try connection.flushStateNodes()
                    committing = true
                    return .commit
                }
                return result!
            }
        } catch {
            let mapped = Self.map(error)
            // Only the COMMIT itself is left after `committing`.
            if committing, let failure = mapped as? VaultError { throw CatalogCommitFailed(error: failure) }
            throw mapped
        }
    }

    /// Our own errors pass through; SQLite's are mapped; a row that no longer
    /// decodes was altered behind our back.
    static func map(_ error: any Error) -> any Error {
        switch error {
        case let error as VaultError: error
        case let error as DatabaseError: map(error)
        case is DecodingError, is RowDecodingError: VaultError.integrityFailure("a catalog row is damaged")
        default: error
        }
    }

    /// Raw SQLite codes stop here (style: map at the boundary).
    static func map(_ error: DatabaseError) -> VaultError {
        switch error.resultCode {
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return .integrityFailure("the catalog database is damaged")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .io("the vault is busy (another casevault process holds it); try again")
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN:
            return .io("cannot open the catalog for writing: \(error.message ?? "permission denied")")
        case .SQLITE_FULL:
            return .io("the disk is full")
        case .SQLITE_CONSTRAINT:
            return .integrityFailure("catalog constraint violated: \(error.message ?? "")")
        default:
            return .io("catalog error: \(error.message ?? "\(error.resultCode)")")
        }
    }
}

/// One connection inside a read or write transaction.
private final class Connection: CatalogWriter {
    let db: Database
    /// Only a write transaction's connection keeps state-map nodes back
    /// until it commits; a read's writes go to SQLite, which refuses them.
    let buffersStateNodes: Bool
    init(db: Database, buffersStateNodes: Bool = false) {
        self.db = db
        self.buffersStateNodes = buffersStateNodes
    }

    /// State-map nodes written in this transaction, by path, written to
    /// `state_nodes` when it commits (`flushStateNodes`). Every event
    /// rewrites its keys' paths up to the root, so a bulk filing's group of
    /// events replaced each upper node once per event: about 60 row writes
    /// an event, where the last of each path is all that stays.
    /// Reads in the transaction see these first.
    private var pendingNodes: [[UInt8]: StateNode] = [:]

    func flushStateNodes() throws {
        guard !pendingNodes.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO state_nodes (path, kind, hash, first, second) VALUES (?, ?, ?, ?, ?)")
        for node in pendingNodes.values {
            try statement.execute(arguments: [StoredStatePath.encode(node.path), node.kind.rawValue, Data(node.hash), Data(node.first), Data(node.second)])
        }
        pendingNodes = [:]
    }

    private func one(_ sql: String, _ arguments: StatementArguments = []) throws -> Row? {
        try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }

    private func all(_ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }

    private func run(_ sql: String, _ arguments: StatementArguments) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }

    // MARK: The log

    func lastEventSeq() throws -> Int64 { try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM events")) ?? 0 }

    static let eventColumns = "seq, type, actor, at, body, signature, leaf_hash"

    func event(seq: Int64) throws -> EventRecord? {
        try one("SELECT \(Self.eventColumns) FROM events WHERE seq = ?", [seq]).map(Self.event)
    }

    func forEachEvent(in range: ClosedRange<Int64>, _ body: (EventRecord) throws -> Bool) throws {
        let cursor = try Row.fetchCursor(db, sql: "SELECT \(Self.eventColumns) FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq",
                                         arguments: [range.lowerBound, range.upperBound])
        while let row = try cursor.next() {
            guard try body(try Self.event(row)) else { return }
        }
    }

    func events(type: String, actor: String?) throws -> [EventRecord] {
        guard let actor else {
            return try Row.fetchAll(db, sql: "SELECT \(Self.eventColumns) FROM events WHERE type = ? ORDER BY seq", arguments: [type]).map(Self.event)
        }
        return try Row.fetchAll(db, sql: "SELECT \(Self.eventColumns) FROM events WHERE type = ? AND actor = ? ORDER BY seq",
                                arguments: [type, actor]).map(Self.event)
    }

    func eventCount() throws -> Int64 { try Int64.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM events")) ?? 0 }

    /// By column index (the order of `eventColumns`): the log is read whole by verify.
    static func event(_ row: Row) throws -> EventRecord {
        EventRecord(seq: try row.value(at: 0), type: try row.value(at: 1), actor: try row.value(at: 2), at: try row.value(at: 3),
                    body: bytes(try row.value(at: 4)), signature: bytes(try row.value(at: 5)), leafHash: bytes(try row.value(at: 6)))
    }

    func logNode(level: Int, index: Int64) throws -> [UInt8]? {
        try one("SELECT hash FROM log_nodes WHERE level = ? AND idx = ?", [level, index]).map { Self.bytes(try $0.value("hash")) }
    }

    func stateNode(path: [UInt8]) throws -> StateNode? {
        if let pending = pendingNodes[path] { return pending }
        return try one("SELECT * FROM state_nodes WHERE path = ?", [StoredStatePath.encode(path)]).map { row in
            StateNode(path: path, kind: StateNode.Kind(rawValue: try row.value("kind")) ?? .leaf, hash: Self.bytes(try row.value("hash")),
                      first: Self.bytes(try row.value("first")), second: Self.bytes(try row.value("second")))
        }
    }

    var readsStateNodesAtOnce: Bool { true }

    /// One query for a whole path (StateMap.walk): each node read alone
    /// cost a statement step and a row decode, and a walk reads twenty.
    func stateNodes(paths: [[UInt8]]) throws -> [[UInt8]: StateNode]? {
        var found: [[UInt8]: StateNode] = [:]
        var paths = paths
        if !pendingNodes.isEmpty {
            paths = paths.filter { path in
                guard let pending = pendingNodes[path] else { return true }
                found[path] = pending
                return false
            }
        }
        guard !paths.isEmpty else { return found }
        let sql = "SELECT path, kind, hash, first, second FROM state_nodes WHERE path IN ("
            + Array(repeating: "?", count: paths.count).joined(separator: ",") + ")"
        let cursor = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: StatementArguments(paths.map(StoredStatePath.encode)))
        while let row = try cursor.next() {
            let path = StoredStatePath.decode(try row.value(at: 0))
            found[path] = StateNode(path: path, kind: StateNode.Kind(rawValue: try row.value(at: 1) as Int) ?? .leaf,
                                    hash: Self.bytes(try row.value(at: 2)), first: Self.bytes(try row.value(at: 3)),
                                    second: Self.bytes(try row.value(at: 4)))
        }
        return found
    }

    func stateNodeCount() throws -> Int64 {
        try flushStateNodes()
        return try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM state_nodes") ?? 0
    }
    func logNodeCount() throws -> Int64 { try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM log_nodes") ?? 0 }

    func forEachStateNode(_ body: (StateNode) throws -> Void) throws {
        try flushStateNodes()
        let cursor = try Row.fetchCursor(db, sql: "SELECT path, kind, hash, first, second FROM state_nodes")
        while let row = try cursor.next() {
            // A key that is not the stored key of the path it decodes to (a
            // TEXT, INTEGER or REAL key, or a BLOB that encode never makes,
            // edited in by hand) is a row no walk asks for: it is listed at
            // a path no node has (depth 65535), so verify counts it as extra
            // rather than as the node whose path it aliases.
            let stored: DatabaseValue = row[0]
            let path: [UInt8]
            if case .blob(let key) = stored.storage {
                let decoded = StoredStatePath.decode(key)
                path = StoredStatePath.encode(decoded) == key ? decoded : [0xff, 0xff] + Array(key)
            } else {
                path = [0xff, 0xff] + Array(stored.description.utf8)
            }
            try body(StateNode(path: path, kind: StateNode.Kind(rawValue: try row.value(at: 1) as Int) ?? .leaf, hash: Self.bytes(try row.value(at: 2)),
                               first: Self.bytes(try row.value(at: 3)), second: Self.bytes(try row.value(at: 4))))
        }
    }

    func forEachBlob(_ body: (String, [UInt8]) throws -> Void) throws {
        let cursor = try Row.fetchCursor(db, sql: "SELECT hash, bytes FROM blobs")
        while let row = try cursor.next() { try body(try row.value(at: 0), Self.bytes(try row.value(at: 1))) }
    }

    func blob(hash: String) throws -> [UInt8]? {
        try one("SELECT bytes FROM blobs WHERE hash = ?", [hash]).map { Self.bytes(try $0.value("bytes")) }
    }

    func blobHashes() throws -> [String] { try String.fetchAll(db, sql: "SELECT hash FROM blobs ORDER BY hash") }

    // MARK: The projection

    func vaultSettings() throws -> VaultSettingsRecord? {
        try one("SELECT * FROM vault_settings").map { row in
            VaultSettingsRecord(vaultId: try row.value("vault_id"), formatVersion: try row.value("format_version"), createdAt: try row.value("created_at"),
                                kdf: .init(algorithm: try row.value("kdf_algorithm"), opsLimit: try row.value("kdf_ops_limit"), memLimit: try row.value("kdf_mem_limit")),
                                insecureTestingKDF: try row.value("insecure_testing_kdf"), recoveryPublicKey: Self.hex(try row.value("recovery_public_key")),
                                caseCategories: Self.list(try row.value("case_categories")), teamTierRoles: Self.list(try row.value("team_tier_roles")),
                                eventSeq: try row.value("event_seq"))
        }
    }

    func staff(id: String) throws -> StaffRecord? { try one("SELECT * FROM staff WHERE id = ?", [id]).map(Self.staff) }
    func allStaff() throws -> [StaffRecord] { try all("SELECT * FROM staff ORDER BY id").map(Self.staff) }

    static func staff(_ row: Row) throws -> StaffRecord {
        StaffRecord(id: try row.value("id"), name: try row.value("name"), role: try row.value("role"), boxPublicKey: hex(try row.value("box_public_key")) ?? "",
                    signingPublicKey: hex(try row.value("signing_public_key")) ?? "", wrappedKeysHash: try row.value("wrapped_keys_hash"),
                    addedAt: try row.value("added_at"), addedBy: try row.value("added_by"), addedSeq: try row.value("added_seq"), keysSeq: try row.value("keys_seq"),
                    left: try departure(row))
    }

    /// All four departure columns or none.
    static func departure(_ row: Row) throws -> StaffDeparture? {
        let seq: Int64? = try row.value("left_seq"), at: String? = try row.value("left_at")
        let by: String? = try row.value("left_by"), reason: String? = try row.value("left_reason")
        switch (seq, at, by, reason) {
        case (nil, nil, nil, nil): return nil
        case (let seq?, let at?, let by?, let reason?): return StaffDeparture(seq: seq, at: at, by: by, reason: reason)
        default: throw VaultError.integrityFailure("a staff row has part of a departure")
        }
    }

    func caseRecord(number: String) throws -> CaseRecord? { try one("SELECT * FROM cases WHERE number = ?", [number]).map(Self.caseRecord) }

    func cases(matching query: CaseQuery) throws -> [CaseRecord] {
        var clauses: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        for (column, value) in [("status", query.status), ("category", query.category), ("manager_id", query.manager),
                                ("supervisor_id", query.supervisor)] {
            if let value { clauses.append("\(column) = ?"); arguments.append(value) }
        }
        if let year = query.year { clauses.append("year = ?"); arguments.append(year) }
        if let prefix = query.numberPrefix {
            // No case number holds a NUL, and SQLite would cut the bound text at one.
            if prefix.utf8.contains(0) { return [] }
            // A range on the number's index first (case numbers are ASCII,
            // compared as bytes), then the exact byte prefix.
            if !prefix.isEmpty, prefix.utf8.allSatisfy({ $0 < 0x7f }) {
                var upper = Array(prefix.utf8)
                upper[upper.count - 1] += 1
                clauses.append("number >= ? AND number < ?")
                arguments.append(prefix)
                arguments.append(String(decoding: upper, as: UTF8.self))
            }
            clauses.append("substr(CAST(number AS BLOB), 1, ?) = CAST(? AS BLOB)")
            arguments.append(prefix.utf8.count)
            arguments.append(prefix)
        }
        let filter = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
        return try Row.fetchAll(db, sql: "SELECT * FROM cases" + filter + " ORDER BY category, year, client_number",
                                arguments: StatementArguments(arguments)).map(Self.caseRecord)
    }

    static func caseRecord(_ row: Row) throws -> CaseRecord {
        CaseRecord(number: try row.value("number"), category: try row.value("category"), year: try row.value("year"), clientNumber: try row.value("client_number"),
                   status: try row.value("status"), manager: try row.value("manager_id"), supervisor: try row.value("supervisor_id"),
                   teamPublicKey: hex(try row.value("team_public_key")) ?? "", confidentialPublicKey: hex(try row.value("confidential_public_key")) ?? "",
                   openedAt: try row.value("opened_at"), openedBy: try row.value("opened_by"), openedSeq: try row.value("opened_seq"),
                   keys: try caseKeys(row), transferred: try json(row, "transferred"), imported: try json(row, "imported"))
    }

    /// A JSON column of a case row, or nil.
    static func json<T: Decodable>(_ row: Row, _ column: String) throws -> T? {
        guard let text: String = try row.value(column) else { return nil }
        do { return try JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch {
            throw VaultError.integrityFailure("the \(column) column of case \(try row.value("number") as String) is damaged")
        }
    }

    static func jsonText(_ value: (some Encodable)?) throws -> String? {
        try value.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
    }

    /// The `key_generations` column: the JSON of `CaseKeys`, or null.
    static func caseKeys(_ row: Row) throws -> CaseKeys? {
        guard let text: String = try row.value("key_generations") else { return nil }
        do { return try JSONDecoder().decode(CaseKeys.self, from: Data(text.utf8)) } catch {
            throw VaultError.integrityFailure("the key generations of case \(try row.value("number") as String) are damaged")
        }
    }

    func caseNumber(client: Int) throws -> String? {
        try one("SELECT number FROM cases WHERE client_number = ?", [client]).map { try $0.value("number") }
    }

    func highestClientNumber() throws -> Int? { try Int.fetchOne(db.cachedStatement(sql: "SELECT MAX(client_number) FROM cases")) }

    // Both by the v16 indexes on (manager_id, status) and (supervisor_id, status).
    func activeCaseload(managerID: String, sample: Int) throws -> (count: Int, sample: [String]) {
        let filter = "FROM cases WHERE manager_id = ? AND status != 'C' AND transferred IS NULL"
        return (try count("SELECT COUNT(*) " + filter, [managerID]),
                try String.fetchAll(db.cachedStatement(sql: "SELECT number " + filter + " ORDER BY number LIMIT ?"), arguments: [managerID, sample]))
    }

    func activeManagers(supervisorID: String) throws -> [(manager: String, caseNumber: String)] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT manager_id, MIN(number) AS number FROM cases WHERE supervisor_id = ? AND status != 'C' AND transferred IS NULL
            GROUP BY manager_id ORDER BY manager_id
            """), arguments: [supervisorID]).map { (try $0.value("manager_id"), try $0.value("number")) }
    }
    func staffCount() throws -> Int { try count("SELECT COUNT(*) FROM staff") }
    func clientIndexCount() throws -> Int { try count("SELECT COUNT(*) FROM client_indexes") }
    func caseCount() throws -> Int { try count("SELECT COUNT(*) FROM cases") }
    func documentCount(caseNumber: String) throws -> Int { try count("SELECT COUNT(*) FROM documents WHERE case_number = ?", [caseNumber]) }
    func formTypeCount() throws -> Int { try count("SELECT COUNT(DISTINCT form_type) FROM schemas") }

    private func count(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: sql), arguments: arguments) ?? 0
    }

    func grants(caseNumber: String) throws -> [GrantRecord] {
        try all("SELECT * FROM grants WHERE case_number = ? ORDER BY tier, holder, generation", [caseNumber]).map { row in
            GrantRecord(caseNumber: try row.value("case_number"), tier: try row.value("tier"), holder: try row.value("holder"),
                        holderPublicKey: Self.hex(try row.value("holder_public_key")) ?? "", sealedKeyHash: try row.value("sealed_key_hash"),
                        grantedSeq: try row.value("granted_seq"), generation: try row.value("generation"))
        }
    }

    func document(caseNumber: String, name: String) throws -> DocumentRecord? {
        try one("SELECT * FROM documents WHERE case_number = ? AND name = ?", [caseNumber, name]).map(Self.document)
    }

    func documents(caseNumber: String?) throws -> [DocumentRecord] {
        if let caseNumber { return try all("SELECT * FROM documents WHERE case_number = ? ORDER BY name", [caseNumber]).map(Self.document) }
        return try all("SELECT * FROM documents ORDER BY case_number, name").map(Self.document)
    }

    static func document(_ row: Row) throws -> DocumentRecord {
        DocumentRecord(caseNumber: try row.value("case_number"), name: try row.value("name"), type: try row.value("type"), isForm: try row.value("is_form"),
                       latestVersion: try row.value("latest_version"), confidential: try row.value("confidential"))
    }

    func version(caseNumber: String, document: String, version: Int) throws -> VersionRecord? {
        try one("SELECT * FROM versions WHERE case_number = ? AND document = ? AND version = ?", [caseNumber, document, version])
            .map(Self.version)
    }

    func versions(caseNumber: String?, document: String?) throws -> [VersionRecord] {
        switch (caseNumber, document) {
        case (let number?, let name?):
            return try all("SELECT * FROM versions WHERE case_number = ? AND document = ? ORDER BY version", [number, name]).map(Self.version)
        case (let number?, nil):
            return try all("SELECT * FROM versions WHERE case_number = ? ORDER BY document, version", [number]).map(Self.version)
        default:
            return try all("SELECT * FROM versions ORDER BY case_number, document, version").map(Self.version)
        }
    }

    static func version(_ row: Row) throws -> VersionRecord {
        VersionRecord(caseNumber: try row.value("case_number"), document: try row.value("document"), version: try row.value("version"), type: try row.value("type"),
                      tier: try row.value("tier"), objectId: try row.value("object_id"), size: try row.value("plaintext_size"), ciphertextSize: try row.value("ciphertext_size"),
                      sealedFileKeyHash: try row.value("sealed_file_key_hash"), stamp: try Stamp(canonicalJSON: bytes(try row.value("stamp"))),
                      filedSeq: try row.value("filed_seq"), schemaId: try row.value("schema_id"), schemaVersion: try row.value("schema_version"),
                      schemaBodyHash: try row.value("schema_body_hash"), origin: try origin(row), keyGeneration: try row.value("key_generation"),
                      fileInfoHash: try row.value("file_info_hash"))
    }

    /// Both origin columns or neither.
    static func origin(_ row: Row) throws -> VersionOrigin? {
        let number: String? = try row.value("origin_case"), document: String? = try row.value("origin_document")
        switch (number, document) {
        case (nil, nil): return nil
        case (let number?, let document?): return VersionOrigin(case: number, document: document, vault: try row.value("origin_vault"))
        default: throw VaultError.integrityFailure("a version row has half an origin")
        }
    }

    func schemas(formType: String?) throws -> [SchemaRecord] {
        let rows = try formType.map { try all("SELECT * FROM schemas WHERE form_type = ? ORDER BY version", [$0]) }
            ?? all("SELECT * FROM schemas ORDER BY form_type, version")
        return try rows.map { row in
            SchemaRecord(formType: try row.value("form_type"), version: try row.value("version"), schemaId: try row.value("schema_id"), title: try row.value("title"),
                         bodyHash: try row.value("body_hash"), addedAt: try row.value("added_at"), addedBy: try row.value("added_by"), addedSeq: try row.value("added_seq"))
        }
    }

    func statusChanges(caseNumber: String?) throws -> [StatusChangeRecord] {
        // In the order applied (v19), which is the signed order: an imported
        // case's changes keep the sending vault's sequence numbers.
        let rows = try caseNumber.map { try all("SELECT * FROM status_changes WHERE case_number = ? ORDER BY position", [$0]) }
            ?? all("SELECT * FROM status_changes ORDER BY case_number, position")
        return try rows.map { row in
            StatusChangeRecord(caseNumber: try row.value("case_number"), seq: try row.value("seq"), from: try row.value("from_status"),
                               to: try row.value("to_status"), at: try row.value("at"), by: try row.value("by"),
                               reason: try row.value("reason"), requestedBy: try row.value("requested_by"))
        }
    }

    func closureRequest(caseNumber: String) throws -> ClosureRequestRecord? {
        try one("SELECT * FROM closure_requests WHERE case_number = ?", [caseNumber]).map(Self.closureRequest)
    }

    func closureRequests() throws -> [ClosureRequestRecord] {
        try all("SELECT * FROM closure_requests ORDER BY case_number").map(Self.closureRequest)
    }

    func withdrawals(caseNumber: String?, document: String?) throws -> [WithdrawalRecord] {
        let rows: [Row]
        switch (caseNumber, document) {
        case (let number?, let document?):
            rows = try all("SELECT * FROM withdrawals WHERE case_number = ? AND document = ? ORDER BY version", [number, document])
        case (let number?, nil):
            rows = try all("SELECT * FROM withdrawals WHERE case_number = ? ORDER BY document, version", [number])
        default:
            rows = try all("SELECT * FROM withdrawals ORDER BY case_number, document, version")
        }
        return try rows.map { row in
            WithdrawalRecord(caseNumber: try row.value("case_number"), document: try row.value("document"), version: try row.value("version"),
                             seq: try row.value("seq"), at: try row.value("at"), by: try row.value("by"), reason: try row.value("reason"))
        }
    }

    func moves(caseNumber: String?, document: String?) throws -> [MoveRecord] {
        let rows: [Row]
        switch (caseNumber, document) {
        case (let number?, let document?):
            rows = try all("SELECT * FROM moves WHERE case_number = ? AND document = ? ORDER BY seq", [number, document])
        case (let number?, nil):
            rows = try all("SELECT * FROM moves WHERE case_number = ? ORDER BY document, seq", [number])
        default:
            rows = try all("SELECT * FROM moves ORDER BY case_number, document, seq")
        }
        return try rows.map { row in
            MoveRecord(caseNumber: try row.value("case_number"), document: try row.value("document"), seq: try row.value("seq"),
                       at: try row.value("at"), by: try row.value("by"), toCase: try row.value("to_case"),
                       toDocument: try row.value("to_document"), versions: try row.value("versions"), reason: try row.value("reason"))
        }
    }

    func tags(caseNumber: String?) throws -> [CaseTagRecord] {
        let rows = try caseNumber.map { try all("SELECT * FROM case_tags WHERE case_number = ? ORDER BY tag", [$0]) }
            ?? all("SELECT * FROM case_tags ORDER BY case_number, tag")
        return try rows.map { row in
            CaseTagRecord(caseNumber: try row.value("case_number"), tag: try row.value("tag"), seq: try row.value("seq"),
                          at: try row.value("at"), by: try row.value("by"))
        }
    }

    func searchKeys() throws -> [SearchKeyRecord] {
        try all("SELECT * FROM search_keys ORDER BY holder").map { row in
            SearchKeyRecord(holder: try row.value("holder"), holderPublicKey: try row.value("holder_public_key"),
                            keyCheck: try row.value("key_check"), sealedKeyHash: try row.value("sealed_key_hash"), seq: try row.value("seq"))
        }
    }

    func clientIndexes(caseNumber: String?) throws -> [ClientIndexRecord] {
        let rows = try caseNumber.map { try all("SELECT * FROM client_indexes WHERE case_number = ?", [$0]) }
            ?? all("SELECT * FROM client_indexes ORDER BY case_number")
        return try rows.map { row in
            let tokens: Data = try row.value("tokens")
            return ClientIndexRecord(caseNumber: try row.value("case_number"), index: Array(tokens).hexString, seq: try row.value("seq"),
                                     indexHash: try row.value("index_hash"))
        }
    }

    func aoExtensions(caseNumber: String?) throws -> [AgedOutExtensionRecord] {
        let rows = try caseNumber.map { try all("SELECT * FROM ao_extensions WHERE case_number = ?", [$0]) }
            ?? all("SELECT * FROM ao_extensions ORDER BY case_number")
        return try rows.map { row in
            AgedOutExtensionRecord(caseNumber: try row.value("case_number"), seq: try row.value("seq"), at: try row.value("at"),
                                   by: try row.value("by"), until: try row.value("until"), reason: try row.value("reason"))
        }
    }

    func confidentialTypes() throws -> ConfidentialTypesRecord? {
        let rows = try all("SELECT * FROM vault_policies WHERE name = 'confidential-types'")
        guard rows.count <= 1 else { throw VaultError.integrityFailure("the catalog's vault policies repeat (a row was copied by hand)") }
        return try rows.first.map { row in
            ConfidentialTypesRecord(types: Self.list(try row.value("value")), seq: try row.value("seq"), at: try row.value("at"),
                                    by: try row.value("by"))
        }
    }

    func retentionPolicies() throws -> [RetentionPolicyRecord] {
        try all("SELECT * FROM retention_policies ORDER BY version").map { row in
            RetentionPolicyRecord(version: try row.value("version"), bodyHash: try row.value("body_hash"), seq: try row.value("seq"),
                                  at: try row.value("at"), by: try row.value("by"))
        }
    }

    func handovers(caseNumber: String?) throws -> [HandoverRecord] {
        let rows = try caseNumber.map { try all("SELECT * FROM handovers WHERE case_number = ?", [$0]) }
            ?? all("SELECT * FROM handovers ORDER BY case_number")
        return try rows.map { row in
            HandoverRecord(caseNumber: try row.value("case_number"), seq: try row.value("seq"), at: try row.value("at"), by: try row.value("by"),
                           role: try row.value("role"), from: try row.value("from_id"), to: try row.value("to_id"),
                           shadowUntil: try row.value("shadow_until"))
        }
    }

    func holds(caseNumber: String?) throws -> [HoldRecord] {
        let rows = try caseNumber.map { try all("SELECT * FROM holds WHERE case_number = ?", [$0]) }
            ?? all("SELECT * FROM holds ORDER BY case_number")
        return try rows.map { row in
            HoldRecord(caseNumber: try row.value("case_number"), seq: try row.value("seq"), at: try row.value("at"), by: try row.value("by"),
                       reason: try row.value("reason"))
        }
    }

    func disposalApprovals(caseNumber: String?) throws -> [DisposalApprovalRecord] {
        let rows = try caseNumber.map { try all("SELECT * FROM disposal_approvals WHERE case_number = ? ORDER BY seq", [$0]) }
            ?? all("SELECT * FROM disposal_approvals ORDER BY case_number, seq")
        return try rows.map { row in
            DisposalApprovalRecord(caseNumber: try row.value("case_number"), seq: try row.value("seq"), at: try row.value("at"),
                                   by: try row.value("by"), policyVersion: try row.value("policy_version"), reason: try row.value("reason"))
        }
    }

    func recordsNaming(blob hash: String) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: """
            SELECT (SELECT COUNT(*) FROM grants WHERE sealed_key_hash = ?) + (SELECT COUNT(*) FROM versions WHERE sealed_file_key_hash = ?)
                 + (SELECT COUNT(*) FROM versions WHERE schema_body_hash = ?) + (SELECT COUNT(*) FROM staff WHERE wrapped_keys_hash = ?)
                 + (SELECT COUNT(*) FROM schemas WHERE body_hash = ?) + (SELECT COUNT(*) FROM retention_policies WHERE body_hash = ?)
                 + (SELECT COUNT(*) FROM cases WHERE imported_history = ?) + (SELECT COUNT(*) FROM search_keys WHERE sealed_key_hash = ?)
                 + (SELECT COUNT(*) FROM versions WHERE file_info_hash = ?) + (SELECT COUNT(*) FROM client_indexes WHERE index_hash = ?)
            """), arguments: [hash, hash, hash, hash, hash, hash, hash, hash, hash, hash]) ?? 0
    }

    func cases(heldBy holder: String) throws -> [String] {
        try String.fetchAll(db.cachedStatement(sql: "SELECT DISTINCT case_number FROM grants WHERE holder = ? ORDER BY case_number"), arguments: [holder])
    }

    func cases(taggedWith tag: String) throws -> [String] {
        try String.fetchAll(db.cachedStatement(sql: "SELECT case_number FROM case_tags WHERE tag = ? ORDER BY case_number"), arguments: [tag])
    }

    func tally(key: String) throws -> [UInt8]? {
        try one("SELECT record FROM report_tallies WHERE key = ?", [key]).map { Self.bytes(try $0.value("record")) }
    }

    func tallies() throws -> [(key: String, record: [UInt8])] {
        try all("SELECT key, record FROM report_tallies ORDER BY CAST(key AS BLOB)").map { ((try $0.value("key")) as String, Self.bytes(try $0.value("record"))) }
    }

    func cases(namingObject objectId: String) throws -> [String] {
        try String.fetchAll(db.cachedStatement(sql: "SELECT DISTINCT case_number FROM versions WHERE object_id = ? ORDER BY case_number"), arguments: [objectId])
    }

    func disposals(caseNumber: String?) throws -> [DisposalRecord] {
        let rows = try caseNumber.map { try all("SELECT * FROM disposals WHERE case_number = ?", [$0]) }
            ?? all("SELECT * FROM disposals ORDER BY case_number")
        return try rows.map { row in
            let approvals: String = try row.value("approvals")
            return DisposalRecord(caseNumber: try row.value("case_number"), seq: try row.value("seq"), at: try row.value("at"),
                                  by: try row.value("by"), policyVersion: try row.value("policy_version"), rule: try row.value("rule"),
                                  approvals: (try? JSONDecoder().decode([Int64].self, from: Data(approvals.utf8))) ?? [],
                                  documents: try row.value("documents"), versions: try row.value("versions"),
                                  ciphertextBytes: try row.value("ciphertext_bytes"))
        }
    }

    static func closureRequest(_ row: Row) throws -> ClosureRequestRecord {
        ClosureRequestRecord(caseNumber: try row.value("case_number"), seq: try row.value("seq"), at: try row.value("at"),
                             requestedBy: try row.value("requested_by"), approver: try row.value("approver"), reason: try row.value("reason"))
    }

    // MARK: Writes (the ledger and the projection only)

    func appendEvent(_ event: EventRecord) throws {
        try run("INSERT INTO events (seq, type, actor, at, body, signature, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [event.seq, event.type, event.actor, event.at, Data(event.body), Data(event.signature), Data(event.leafHash)])
    }

    func putLogNode(level: Int, index: Int64, hash: [UInt8]) throws {
        try run("INSERT OR REPLACE INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)", [level, index, Data(hash)])
    }

    func putStateNode(_ node: StateNode) throws {
        guard buffersStateNodes else {
            try run("INSERT OR REPLACE INTO state_nodes (path, kind, hash, first, second) VALUES (?, ?, ?, ?, ?)",
                    [StoredStatePath.encode(node.path), node.kind.rawValue, Data(node.hash), Data(node.first), Data(node.second)])
            return
        }
        pendingNodes[node.path] = node
    }

    func putBlob(hash: String, bytes: [UInt8]) throws {
        // Bytes that differ under the same hash were damaged: the caller
        // hashed its own, so they replace them.
        try run("""
            INSERT INTO blobs (hash, bytes) VALUES (?, ?)
            ON CONFLICT (hash) DO UPDATE SET bytes = excluded.bytes WHERE bytes IS NOT excluded.bytes
            """, [hash, Data(bytes)])
    }

    func deleteBlob(hash: String) throws {
        try run("DELETE FROM blobs WHERE hash = ?", [hash])
    }

    func putVaultSettings(_ r: VaultSettingsRecord) throws {
        try run("DELETE FROM vault_settings", [])
        try run("""
            INSERT INTO vault_settings (vault_id, format_version, created_at, kdf_algorithm, kdf_ops_limit, kdf_mem_limit,
                insecure_testing_kdf, recovery_public_key, case_categories, team_tier_roles, event_seq)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.vaultId, r.formatVersion, r.createdAt, r.kdf.algorithm, Int64(bitPattern: r.kdf.opsLimit),
                  Int64(bitPattern: r.kdf.memLimit), r.insecureTestingKDF, Self.data(r.recoveryPublicKey),
                  Self.text(r.caseCategories), Self.text(r.teamTierRoles), r.eventSeq])
    }

    func putStaff(_ r: StaffRecord) throws {
        try run("""
            INSERT OR REPLACE INTO staff (id, name, role, box_public_key, signing_public_key, wrapped_keys_hash, added_at,
                added_by, added_seq, keys_seq, left_seq, left_at, left_by, left_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.id, r.name, r.role, Self.data(r.boxPublicKey), Self.data(r.signingPublicKey), r.wrappedKeysHash, r.addedAt,
                  r.addedBy, r.addedSeq, r.keysSeq, r.left?.seq, r.left?.at, r.left?.by, r.left?.reason])
    }

    func putCase(_ r: CaseRecord) throws {
        try run("""
            INSERT OR REPLACE INTO cases (number, category, year, client_number, status, manager_id, supervisor_id, team_public_key,
                confidential_public_key, opened_at, opened_by, opened_seq, key_generations, transferred, imported, imported_history)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.number, r.category, r.year, r.clientNumber, r.status, r.manager, r.supervisor, Self.data(r.teamPublicKey),
                  Self.data(r.confidentialPublicKey), r.openedAt, r.openedBy, r.openedSeq,
                  try Self.jsonText(r.keys), try Self.jsonText(r.transferred), try Self.jsonText(r.imported), r.imported?.history])
    }

    func putGrant(_ r: GrantRecord) throws {
        try run("""
            INSERT OR REPLACE INTO grants (case_number, tier, holder, holder_public_key, sealed_key_hash, granted_seq, generation)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [r.caseNumber, r.tier, r.holder, Self.data(r.holderPublicKey), r.sealedKeyHash, r.grantedSeq, r.generation])
    }

    func deleteGrant(caseNumber: String, tier: String, holder: String, generation: Int) throws {
        try run("DELETE FROM grants WHERE case_number = ? AND tier = ? AND holder = ? AND generation = ?", [caseNumber, tier, holder, generation])
    }

    func putDocument(_ r: DocumentRecord) throws {
        try run("""
            INSERT OR REPLACE INTO documents (case_number, name, type, is_form, latest_version, confidential) VALUES (?, ?, ?, ?, ?, ?)
            """, [r.caseNumber, r.name, r.type, r.isForm, r.latestVersion, r.confidential])
    }

    func putVersion(_ r: VersionRecord) throws {
        try run("""
            INSERT OR REPLACE INTO versions (case_number, document, version, type, tier, object_id, plaintext_size, ciphertext_size,
                sealed_file_key_hash, stamp, filed_seq, schema_id, schema_version, schema_body_hash, origin_case, origin_document,
                key_generation, origin_vault, file_info_hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.caseNumber, r.document, r.version, r.type, r.tier, r.objectId, r.size, r.ciphertextSize, r.sealedFileKeyHash,
                  Data(r.stamp.canonicalJSON), r.filedSeq, r.schemaId, r.schemaVersion, r.schemaBodyHash, r.origin?.case, r.origin?.document,
                  r.keyGeneration, r.origin?.vault, r.fileInfoHash])
    }

    func putSchema(_ r: SchemaRecord) throws {
        try run("""
            INSERT OR REPLACE INTO schemas (form_type, version, schema_id, title, body_hash, added_at, added_by, added_seq)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.formType, r.version, r.schemaId, r.title, r.bodyHash, r.addedAt, r.addedBy, r.addedSeq])
    }

    func putStatusChange(_ r: StatusChangeRecord) throws {
        try run("""
            INSERT INTO status_changes (case_number, seq, from_status, to_status, at, by, reason, requested_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.caseNumber, r.seq, r.from, r.to, r.at, r.by, r.reason, r.requestedBy])
    }

    func putClosureRequest(_ r: ClosureRequestRecord) throws {
        try run("""
            INSERT OR REPLACE INTO closure_requests (case_number, seq, at, requested_by, approver, reason) VALUES (?, ?, ?, ?, ?, ?)
            """, [r.caseNumber, r.seq, r.at, r.requestedBy, r.approver, r.reason])
    }

    func deleteClosureRequest(caseNumber: String) throws {
        try run("DELETE FROM closure_requests WHERE case_number = ?", [caseNumber])
    }

    func putTag(_ r: CaseTagRecord) throws {
        try run("INSERT OR REPLACE INTO case_tags (case_number, tag, seq, at, by) VALUES (?, ?, ?, ?, ?)",
                [r.caseNumber, r.tag, r.seq, r.at, r.by])
    }

    func deleteTag(caseNumber: String, tag: String) throws {
        try run("DELETE FROM case_tags WHERE case_number = ? AND tag = ?", [caseNumber, tag])
    }

    func putSearchKey(_ r: SearchKeyRecord) throws {
        try run("INSERT OR REPLACE INTO search_keys (holder, holder_public_key, key_check, sealed_key_hash, seq) VALUES (?, ?, ?, ?, ?)",
                [r.holder, r.holderPublicKey, r.keyCheck, r.sealedKeyHash, r.seq])
    }

    func putClientIndex(_ r: ClientIndexRecord) throws {
        guard let tokens = [UInt8](hexString: r.index) else { throw VaultError.invalidInput("a client-name index is not hex") }
        try run("INSERT OR REPLACE INTO client_indexes (case_number, tokens, seq, index_hash) VALUES (?, ?, ?, ?)",
                [r.caseNumber, Data(tokens), r.seq, r.indexHash])
    }

    func deleteClientIndex(caseNumber: String) throws {
        try run("DELETE FROM client_indexes WHERE case_number = ?", [caseNumber])
    }

    func putAOExtension(_ r: AgedOutExtensionRecord) throws {
        try run("INSERT OR REPLACE INTO ao_extensions (case_number, seq, at, by, until, reason) VALUES (?, ?, ?, ?, ?, ?)",
                [r.caseNumber, r.seq, r.at, r.by, r.until, r.reason])
    }

    func deleteAOExtension(caseNumber: String) throws {
        try run("DELETE FROM ao_extensions WHERE case_number = ?", [caseNumber])
    }

    func putConfidentialTypes(_ r: ConfidentialTypesRecord) throws {
        try run("INSERT OR REPLACE INTO vault_policies (name, value, seq, at, by) VALUES ('confidential-types', ?, ?, ?, ?)",
                [Self.text(r.types), r.seq, r.at, r.by])
    }

    func putRetentionPolicy(_ r: RetentionPolicyRecord) throws {
        try run("INSERT OR REPLACE INTO retention_policies (version, body_hash, seq, at, by) VALUES (?, ?, ?, ?, ?)",
                [r.version, r.bodyHash, r.seq, r.at, r.by])
    }

    func putHold(_ r: HoldRecord) throws {
        try run("INSERT OR REPLACE INTO holds (case_number, seq, at, by, reason) VALUES (?, ?, ?, ?, ?)",
                [r.caseNumber, r.seq, r.at, r.by, r.reason])
    }

    func putHandover(_ r: HandoverRecord) throws {
        try run("""
            INSERT OR REPLACE INTO handovers (case_number, seq, at, by, role, from_id, to_id, shadow_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.caseNumber, r.seq, r.at, r.by, r.role, r.from, r.to, r.shadowUntil])
    }

    func deleteHandover(caseNumber: String) throws {
        try run("DELETE FROM handovers WHERE case_number = ?", [caseNumber])
    }

    func deleteHold(caseNumber: String) throws {
        try run("DELETE FROM holds WHERE case_number = ?", [caseNumber])
    }

    func putDisposalApproval(_ r: DisposalApprovalRecord) throws {
        try run("INSERT OR REPLACE INTO disposal_approvals (case_number, seq, at, by, policy_version, reason) VALUES (?, ?, ?, ?, ?, ?)",
                [r.caseNumber, r.seq, r.at, r.by, r.policyVersion, r.reason])
    }

    func deleteDisposalApprovals(caseNumber: String) throws {
        try run("DELETE FROM disposal_approvals WHERE case_number = ?", [caseNumber])
    }

    func putDisposal(_ r: DisposalRecord) throws {
        let approvals = String(decoding: try JSONEncoder().encode(r.approvals), as: UTF8.self)
        try run("""
            INSERT OR REPLACE INTO disposals (case_number, seq, at, by, policy_version, rule, approvals, documents, versions, ciphertext_bytes)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.caseNumber, r.seq, r.at, r.by, r.policyVersion, r.rule, approvals, r.documents, r.versions, r.ciphertextBytes])
    }

    func putTally(key: String, record: [UInt8]) throws {
        try run("INSERT OR REPLACE INTO report_tallies (key, record) VALUES (?, ?)", [key, Data(record)])
    }

    func putMove(_ r: MoveRecord) throws {
        try run("""
            INSERT OR REPLACE INTO moves (case_number, document, seq, at, by, to_case, to_document, versions, reason)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.caseNumber, r.document, r.seq, r.at, r.by, r.toCase, r.toDocument, r.versions, r.reason])
    }

    func deleteDocument(caseNumber: String, name: String) throws {
        for table in ["documents", "versions", "withdrawals"] {
            let column = table == "documents" ? "name" : "document"
            try run("DELETE FROM \(table) WHERE case_number = ? AND \(column) = ?", [caseNumber, name])
        }
    }

    func putWithdrawal(_ r: WithdrawalRecord) throws {
        try run("""
            INSERT OR REPLACE INTO withdrawals (case_number, document, version, seq, at, by, reason) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, [r.caseNumber, r.document, r.version, r.seq, r.at, r.by, r.reason])
    }

    // MARK: Column conversions: keys are raw BLOBs on disk, hex in records.

    static func bytes(_ data: Data?) -> [UInt8] { data.map(Array.init) ?? [] }

    static func hex(_ data: Data?) -> String? { data.map { Array($0).hexString } }
    static func data(_ hex: String?) -> Data? { hex.flatMap { [UInt8](hexString: $0) }.map { Data($0) } }
    static func list(_ text: String) -> [String] { (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? [] }
    static func text(_ list: [String]) -> String { String(decoding: (try? JSONEncoder().encode(list)) ?? Data("[]".utf8), as: UTF8.self) }
}

extension Row {
    /// A column's value, or an integrity failure: a catalog edited by hand
    /// (a NULL, a number where text belongs) is refused (exit 81), where
    /// GRDB's subscript would stop the process.
    fileprivate func value<T: DatabaseValueConvertible>(_ column: String) throws -> T {
        do { return try decode(T.self, forColumn: column) } catch {
            throw VaultError.integrityFailure("the catalog's column \(column) holds a value of the wrong type (edited by hand?)")
        }
    }

    fileprivate func value<T: DatabaseValueConvertible>(at index: Int) throws -> T {
        do { return try decode(T.self, atIndex: index) } catch {
            throw VaultError.integrityFailure("the catalog's column \(Array(columnNames)[index]) holds a value of the wrong type (edited by hand?)")
        }
    }
}

/// Where `state_nodes` keeps a node since catalog v20 (SECURITY.md §12a).
///
/// StateMap names a node by its path: two bytes of depth, then the key
/// bits above it. Stored under that, a table ordered by path keeps each
/// depth together, so a walk's nodes below the few hot upper levels each
/// sit on a page of their own: on a vault of 100,000 cases, `retention
/// plan` spent a third of its time faulting in those pages. From depth
/// 12 on a node is therefore stored under 0x01, the bits, then the depth:
/// a subtree's nodes are neighbours, and a walk's deepest six or seven
/// share a page or two. The 4,095 nodes above depth 12 (about 120 pages,
/// on every walk and every write) keep their path and stay together.
/// Measured (v19 → v20, hyperfine, 21 runs): `retention plan` on 100,000
/// cases 87 → 71 ms (1.52× → 1.25× its time on 10,000); a bulk filing of 2,000 forms
/// writes 8–16 % fewer WAL frames.
enum StoredStatePath {
    static let clusteredDepth: UInt8 = 12

    /// The stored key of the node at `path`. One-to-one: a stored key
    /// starting with 0x01 is at least three bytes long; every other key
    /// is a path as is, starting with 0x00 or shorter than two bytes.
    static func encode(_ path: [UInt8]) -> Data {
        guard path.count >= 2 else { return Data(path) }
        if path[0] == 0, path[1] < clusteredDepth { return Data(path) }
        var stored = [UInt8](repeating: 0x01, count: path.count + 1)
        stored.withUnsafeMutableBufferPointer { out in
            for i in 2..<path.count { out[i - 1] = path[i] }
            out[path.count - 1] = path[0]
            out[path.count] = path[1]
        }
        return Data(stored)
    }

    /// The path of the node a stored key holds (the inverse of `encode`).
    /// A key `encode` never makes (edited in by hand) decodes to a path
    /// no walk asks for.
    static func decode(_ data: Data?) -> [UInt8] {
        let stored = data.map(Array.init) ?? []
        guard stored.count >= 3, stored[0] == 0x01 else { return stored }
        return Array(stored[(stored.count - 2)...] + stored[1..<(stored.count - 2)])
    }
}
