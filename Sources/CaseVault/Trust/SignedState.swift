internal import CaseVaultCrypto
import Foundation

/// The catalog as the signed log says it is: every record read through this
/// type is checked against the state map under a trusted root (the root the
/// newest trusted event signed), so a row edited, rolled back, deleted or
/// added by hand is an integrity failure that names it, not a decision
/// taken on an attacker's word (design §7; SECURITY.md §12a).
///
/// `checked: false` is for the scratch catalog a replay builds itself, which
/// is trusted by construction.
struct SignedState {
    let reader: any CatalogReader
    let root: [UInt8]
    /// Where the map's nodes are read; the catalog's own by default.
    var nodes: (any StateNodeSource)?
    var checked = true
    /// The vault's verified nodes by hash (`StateNodeCache`) and checked
    /// records (`SignedMemo`); nil where every node must be read from
    /// `nodes` (a history recording the nodes it proves with).
    var verified: VerifiedCaches?
    var cache: StateNodeCache? { verified?.nodes }
    var memo: SignedMemo? { checked ? verified?.records : nil }

    /// Value hashes proved under `root` ahead of their reads (`prefetch`),
    /// by key; shared by this state's copies.
    private let prefetched = PrefetchedValues()
    /// What the write transaction this state is read in changed so far
    /// (`StateOverlay`); nil outside one.
    var overlay: StateOverlay?

    init(reader: any CatalogReader, root: [UInt8], nodes: (any StateNodeSource)? = nil, checked: Bool = true,
         verified: VerifiedCaches? = nil, overlay: StateOverlay? = nil) {
        self.reader = reader
        self.root = root
        self.nodes = nodes
        self.checked = checked
        self.verified = verified
        self.overlay = overlay
    }

    /// Proves what the map holds at each of `keys` in one pass over the
    /// map (`StateMap.values`), for a command about to read a record of
    /// every case; the reads that follow take the value from here instead
    /// of walking from the root each. Checks exactly what those walks
    /// would, against the same root.
    func prefetch(_ keys: [String]) throws {
        guard checked, keys.count > 1 else { return }
        prefetched.add(try StateMap.values(for: keys.map(StateMap.keyHash), root: root, in: nodes ?? StateNodes(reader: reader), cache: cache),
                       root: root)
    }

    /// `prefetch` for the records a listing of cases reads per case: its
    /// lifecycle, tags, hold and document count.
    func prefetchCaseRecords(_ numbers: [String]) throws {
        try prefetch(numbers.flatMap { [StateKey.lifecycle($0), StateKey.tags($0), StateKey.hold($0), StateKey.documentCount($0)] })
    }

    /// For a command about to walk most of the map (every case and its
    /// lifecycle, documents and versions: `due`, `report monthly`, `audit
    /// controls`): every stored node, read in one scan into the node memory
    /// and keyed there by the hash of its own content, so that the walks
    /// find their nodes in memory instead of reading them path by path
    /// (at 100,000 cases, about 1.4 million small reads). It proves nothing
    /// by itself and needs not: a walk takes a node from the memory only by
    /// the hash its checked parent, or the trusted root, names, and a node's
    /// content (a tag byte and two 32-byte halves; rows of any other shape
    /// are skipped, as a walk refuses them) is fixed by its hash. So a row
    /// edited or added by hand is a node no walk asks for, and a row deleted
    /// is one the walk then looks for in the catalog (where it is missing,
    /// unless the same node is stored at a second path too, as a leaf moved
    /// up by a removal leaves behind: then the answer is the same, and
    /// `verify` reports the row). Best effort: nothing is loaded when the
    /// stored map would not fit beside what the memory holds (it would empty
    /// itself part-way), once a scan was made by this vault, or for
    /// unchecked state; a row that cannot be decoded ends the scan with what
    /// was read (the walks that need that node read it themselves, and
    /// refuse it).
    func preloadNodes() throws {
        guard checked, nodes == nil, let cache, !cache.preloaded else { return }
        let stored = try reader.stateNodeCount()
        guard stored > 0, stored <= Int64(cache.limit - cache.count) else { return }
        var batch: [StateMap.Node] = []
        batch.reserveCapacity(4096)
        do {
            try reader.forEachStateNode { node in
                // One whose halves are not 32 bytes is left out: a walk refuses it.
                guard let node = try? StateMap.Node(checking: node) else { return }
                batch.append(node)
                if batch.count == 4096 {
                    cache.insert(contentsOf: batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
        } catch let error as VaultError {
            guard case .integrityFailure = error else { throw error }
        }
        cache.insert(contentsOf: batch)
        cache.preloaded = true
    }

    /// The value the map holds at `key` under the trusted root.
    private func signedValue(_ key: String) throws -> [UInt8]? {
        let hash = StateMap.keyHash(key)
        if let value = prefetched.value(hash, root: root) { return value.isEmpty ? nil : value }
        if let overlay, let known = overlay.value(hash, under: root) { return known }
        let value = try StateMap.value(for: hash, root: root, in: nodes ?? StateNodes(reader: reader), cache: cache)
        overlay?.found(hash, value, under: root)
        return value
    }

    static func valueHash(_ record: some CanonicalRecord) -> [UInt8] {
        SHA256.hash(record.canonicalJSON)
    }

    /// Checks that the map holds `record` (or, for nil, holds nothing) at `key`.
    func check(_ record: (some CanonicalRecord)?, key: String, what: @autoclosure () -> String) throws {
        guard checked else { return }
        try compare(record, signed: try signedValue(key), what: what())
    }

    private func compare(_ record: (some CanonicalRecord)?, signed: [UInt8]?, what: @autoclosure () -> String) throws {
        switch (record, signed) {
        case (nil, nil): return
        case (let record?, let signed?):
            if Self.valueHash(record) == signed { return }
            throw VaultError.integrityFailure("\(what()) in the catalog differs from its signed state")
        case (nil, _?):
            throw VaultError.integrityFailure("\(what()) is in the signed log but missing from the catalog")
        case (_?, nil):
            throw VaultError.integrityFailure("\(what()) is in the catalog but not in the signed log")
        }
    }

    /// The record at `key`, read by `read` and checked; a record already
    /// checked in this process under the same signed value is taken from
    /// the memo without reading its row again (`SignedMemo`).
    private func remembered<R: CanonicalRecord>(_ key: String, what: @autoclosure () -> String,
                                                read: () throws -> R?) throws -> R? {
        guard let memo else {  // nil when unchecked
            let record = try read()
            try check(record, key: key, what: what())
            return record
        }
        let signed = try signedValue(key)
        if let signed, let known = memo.record(key, signed: signed) as R? { return known }
        let record = try read()
        try compare(record, signed: signed, what: what())
        if let record, let signed { memo.remember(key, signed: signed, record) }
        return record
    }

    /// `remembered` for a record whose row is its canonical JSON (a report
    /// tally): the row's bytes must hash to the signed value, then `decode`
    /// reads them.
    func rememberedRaw<R: CanonicalRecord>(_ key: String, what: @autoclosure () -> String,
                                           decode: ([UInt8]) throws -> R) throws -> R? {
        let signed = checked ? try signedValue(key) : nil
        if let signed, let known = memo?.record(key, signed: signed) as R? { return known }
        guard let bytes = try reader.tally(key: key) else {
            if checked, signed != nil { throw VaultError.integrityFailure("\(what()) is in the signed log but missing from the catalog") }
            return nil
        }
        let hash = SHA256.hash(bytes)
        if checked {
            guard let signed else { throw VaultError.integrityFailure("\(what()) is in the catalog but not in the signed log") }
            guard hash == signed else { throw VaultError.integrityFailure("\(what()) in the catalog differs from its signed state") }
        }
        // The same bytes decode to the same record: a replay, which has no
        // memo, decodes each version of a record once (TallyRecordCache).
        let record: R
        if let known: R = TallyRecordCache.shared.record(hash) {
            record = known
        } else {
            record = try decode(bytes)
            TallyRecordCache.shared.remember(hash, record)
        }
        if checked { memo?.remember(key, signed: hash, record) }
        return record
    }

    func settings() throws -> VaultSettingsRecord {
        let record = try remembered(StateKey.vault, what: "the vault's settings") { try reader.vaultSettings() }
        guard let record else { throw VaultError.integrityFailure("the vault's signed settings are missing") }
        return record
    }

    func staff(_ id: String) throws -> StaffRecord? {
        try remembered(StateKey.staff(id), what: "staff member '\(id)'") { try reader.staff(id: id) }
    }

    /// Every member: each checked, and as many as the signed count, so a
    /// row deleted by hand is found rather than left out (of a case's
    /// grants, say).
    func allStaff() throws -> [StaffRecord] {
        let records = try reader.allStaff()
        try requireDistinct(records.map(\.id), what: "staff members")
        try checkCount(records.count, key: StateKey.staffCount, what: "staff members")
        for record in records { try check(record, key: StateKey.staff(record.id), what: "staff member '\(record.id)'") }
        return records
    }

    func staffCount() throws -> Int {
        let count = try reader.staffCount()
        try checkCount(count, key: StateKey.staffCount, what: "staff members")
        return count
    }

    /// The number of cases and the highest client number taken, as signed.
    func caseCount() throws -> CaseCountState {
        let count = try reader.caseCount()
        let state = CaseCountState(count: count, highestClient: try reader.highestClientNumber() ?? 0)
        guard checked else { return state }
        let signed = try signedValue(StateKey.caseCount)
        guard signed == (count == 0 ? nil : Self.valueHash(state)) else {
            throw VaultError.integrityFailure("the catalog's cases (how many, or the highest client number) are not what the signed log records (a row was added or removed by hand)")
        }
        return state
    }

    func documentCount(_ caseNumber: String) throws -> Int {
        let count = try reader.documentCount(caseNumber: caseNumber)
        try checkCount(count, key: StateKey.documentCount(caseNumber), what: "the documents of \(caseNumber)")
        return count
    }

    func formTypeCount() throws -> Int {
        let count = try reader.formTypeCount()
        try checkCount(count, key: StateKey.formTypeCount, what: "the form types")
        return count
    }

    /// The rows of a listing have distinct keys, by their bytes: a copy of
    /// a row whose key is stored as a BLOB (or with a NUL after it) reads
    /// back as the same record and passes that record's check, and could
    /// stand in for a deleted row under the count.
    private func requireDistinct(_ keys: [String], what: String) throws {
        guard checked else { return }
        var seen = Set<[UInt8]>()
        for key in keys where !seen.insert(Array(key.utf8)).inserted {
            throw VaultError.integrityFailure("the catalog's \(what) repeat '\(key)' (a row was copied by hand)")
        }
    }

    /// A count is signed as `{"count":n}`, and not at all while it is 0.
    private func checkCount(_ count: Int, key: String, what: String) throws {
        guard checked else { return }
        let signed = try signedValue(key)
        if signed == (count == 0 ? nil : Self.valueHash(CountState(count: count))) { return }
        throw VaultError.integrityFailure("the catalog's \(what) are not as many as the signed log records (a row was added or removed by hand)")
    }

    /// A case with its grants, checked together.
    /// Whether a grant holder (`staff:<id>`) is a member who left the
    /// staff; never so of the recovery key.
    func holderLeft(_ holder: String) throws -> Bool {
        try GrantHolder.staffID(holder).flatMap { try staff($0)?.left } != nil
    }

    func caseState(_ number: String) throws -> CaseState? {
        try remembered(StateKey.case(number), what: "case \(number) (or one of its grants)") {
            try reader.caseRecord(number: number).map { CaseState($0, grants: try reader.grants(caseNumber: number)) }
        }
    }

    /// "No staff member", with the id a slip away, if any.
    func missingStaff(_ id: String) throws -> VaultError {
        .notFound("no staff member with id '\(id)'" + Suggestion.clause(id, among: try allStaff().map(\.id)))
    }

    /// "No case", with the one a slip of one character away, if any.
    func missingCase(_ number: String) throws -> VaultError {
        .notFound("no case \(number)" + Suggestion.clause(number, among: try cases(matching: CaseQuery()).map(\.case.number), maxDistance: 1))
    }

    /// A case that must exist, with its grants, checked.
    func existingCase(_ number: String) throws -> CaseState {
        guard let state = try caseState(number) else { throw try missingCase(number) }
        if let disposal = try disposal(number) { throw VaultError.notFound(Self.disposedNotice(disposal)) }
        return state
    }

    /// A case that must exist and that this vault still keeps: one
    /// transferred to another vault (`case.transferred`) is read-only here.
    func keptCase(_ number: String) throws -> CaseState {
        let state = try existingCase(number)
        if let gone = state.case.transferred {
            throw VaultError.invalidInput("\(number) was transferred to vault \(gone.toVault) ('\(gone.toMember)') on \(gone.at.prefix(10)): its copy here is read-only")
        }
        return state
    }

    /// What a command says of a case disposed of: when, under what, and
    /// where the certificate is.
    static func disposedNotice(_ disposal: DisposalRecord) -> String {
        "\(disposal.caseNumber) was disposed of on \(disposal.at.prefix(10)) under retention policy v\(disposal.policyVersion) "
            + "(\(disposal.rule); event \(disposal.seq)): its documents no longer exist; "
            + "'casevault retention certificate \(disposal.caseNumber)' prints the certificate"
    }

    /// Cases matching `query`, each checked; an unfiltered listing also
    /// against the signed count. (A filtered one cannot know what a row
    /// with an edited column would have matched; `verify` finds that row.)
    func cases(matching query: CaseQuery) throws -> [CaseState] {
        let records = try reader.cases(matching: query)
        try requireDistinct(records.map(\.number), what: "cases")
        if query.isEmpty, try caseCount().count != records.count {
            throw VaultError.integrityFailure("the catalog's cases are not what the signed log records (a row was added or removed by hand)")
        }
        if records.count > 64 { try prefetch(records.map { StateKey.case($0.number) }) }
        return try records.map { record in
            let state = CaseState(record, grants: try reader.grants(caseNumber: record.number))
            try check(state, key: StateKey.case(record.number), what: "case \(record.number) (or one of its grants)")
            return state
        }
    }

    /// The case that took a client number, per the signed log.
    func clientTaken(_ client: Int) throws -> String? {
        let number = try reader.caseNumber(client: client)
        try check(number.map(ClientState.init(case:)), key: StateKey.client(client), what: "client number \(client)")
        return number
    }

    func document(_ caseNumber: String, _ name: String) throws -> DocumentRecord? {
        try remembered(StateKey.document(caseNumber, name), what: "document '\(name)' of \(caseNumber)") {
            try reader.document(caseNumber: caseNumber, name: name)
        }
    }

    func documents(_ caseNumber: String) throws -> [DocumentRecord] {
        let records = try reader.documents(caseNumber: caseNumber)
        try requireDistinct(records.map(\.name), what: "documents of \(caseNumber)")
        try checkCount(records.count, key: StateKey.documentCount(caseNumber), what: "documents of \(caseNumber)")
        for record in records {
            try check(record, key: StateKey.document(caseNumber, record.name), what: "document '\(record.name)' of \(caseNumber)")
        }
        return records
    }

    func version(_ caseNumber: String, _ document: String, _ version: Int) throws -> VersionRecord? {
        let record = try reader.version(caseNumber: caseNumber, document: document, version: version)
        try check(record, key: StateKey.version(caseNumber, document, version),
                  what: "version \(version) of '\(document)' of \(caseNumber)")
        return record
    }

    /// Every version of a document, 1 to its signed latest: a version hidden
    /// or added by hand is found.
    func versions(of document: DocumentRecord) throws -> [VersionRecord] {
        let stored = try reader.versions(caseNumber: document.caseNumber, document: document.name)
        guard stored.map(\.version) == Array(stride(from: 1, through: document.latestVersion, by: 1)) else {
            throw VaultError.integrityFailure("the versions of '\(document.name)' of \(document.caseNumber) in the catalog are not the \(document.latestVersion) the signed log records")
        }
        for record in stored {
            try check(record, key: StateKey.version(document.caseNumber, document.name, record.version),
                      what: "version \(record.version) of '\(document.name)' of \(document.caseNumber)")
        }
        return stored
    }

    /// The form types with schemas in the vault, as many as signed.
    func formTypes() throws -> [String] {
        let rows = try reader.schemas(formType: nil)
        try requireDistinct(rows.map { "\($0.formType) v\($0.version)" }, what: "schemas")
        var seen = Set<[UInt8]>()
        let types = rows.map(\.formType).filter { seen.insert(Array($0.utf8)).inserted }
        try checkCount(types.count, key: StateKey.formTypeCount, what: "form types")
        return types
    }

    func schemas(_ formType: String) throws -> [SchemaRecord] {
        let records = try reader.schemas(formType: formType)
        try check(records.isEmpty ? nil : SchemaTypeState(type: formType, versions: records), key: StateKey.schemas(formType),
                  what: "the schemas of form type '\(formType)'")
        return records
    }

    /// A case's status changes and pending closure request, checked
    /// together (nothing is signed before the first).
    func lifecycle(_ caseNumber: String) throws -> LifecycleState {
        // Signed as one list, in order: a row copied, edited or reordered by
        // hand changes it. (Sequence numbers may repeat: an imported case's
        // keep the sending vault's.)
        let changes = try reader.statusChanges(caseNumber: caseNumber)
        let extensions = try reader.aoExtensions(caseNumber: caseNumber)
        guard extensions.count <= 1 else {
            throw VaultError.integrityFailure("the catalog's extensions of \(caseNumber) repeat (a row was copied by hand)")
        }
        let state = LifecycleState(changes: changes, pendingClosure: try reader.closureRequest(caseNumber: caseNumber),
                                   aoExtension: extensions.first)
        try check(state.isEmpty ? nil : state, key: StateKey.lifecycle(caseNumber), what: "the status history of \(caseNumber)")
        return state
    }

    /// Whether the case has a filed closure form (closing needs one), not
    /// every version of it withdrawn.
    func closureFiled(_ caseNumber: String) throws -> Bool {
        try documents(caseNumber).contains { document in
            try document.isForm && document.type == Lifecycle.closureFormType && currentVersion(of: document) != nil
        }
    }

    /// Rows that are signed together under one key, as one record made of
    /// them (nothing is signed while there are none); `id` tells the rows
    /// apart, so a copied row is refused.
    private func group<Row, State: CanonicalRecord>(_ rows: [Row], id: (Row) -> String, key: String, what: String,
                                                    as state: ([Row]) -> State) throws -> [Row] {
        try requireDistinct(rows.map(id), what: what)
        try check(rows.isEmpty ? nil : state(rows), key: key, what: "the \(what)")
        return rows
    }

    /// The withdrawn versions of a document.
    func withdrawals(_ caseNumber: String, _ name: String) throws -> [WithdrawalRecord] {
        try group(try reader.withdrawals(caseNumber: caseNumber, document: name), id: { "\($0.version)" },
                  key: StateKey.withdrawals(caseNumber, name), what: "withdrawals of '\(name)' of \(caseNumber)", as: WithdrawalState.init)
    }

    /// Where a document name of a case went, each move in event order.
    func moves(_ caseNumber: String, _ name: String) throws -> [MoveRecord] {
        try group(try reader.moves(caseNumber: caseNumber, document: name), id: { "\($0.seq)" },
                  key: StateKey.moves(caseNumber, name), what: "moves of '\(name)' of \(caseNumber)", as: MoveState.init)
    }

    /// The documents a case moved away, each name's moves checked. (No
    /// count proves the list complete; a name asked for is checked.)
    func movesOut(_ caseNumber: String) throws -> [MoveRecord] {
        let names = try reader.moves(caseNumber: caseNumber, document: nil).map(\.document)
        var seen = Set<[UInt8]>()
        return try names.filter { seen.insert(Array($0.utf8)).inserted }.flatMap { try moves(caseNumber, $0) }
    }

    /// A case's tags.
    func tags(_ caseNumber: String) throws -> [CaseTagRecord] {
        try group(try reader.tags(caseNumber: caseNumber), id: \.tag, key: StateKey.tags(caseNumber), what: "tags of \(caseNumber)",
                  as: TagState.init)
    }

    /// Every member's sealed copy of the search key, checked together.
    func searchKeys() throws -> [SearchKeyRecord] {
        try group(try reader.searchKeys(), id: \.holder, key: StateKey.searchKeys, what: "search key copies", as: SearchKeyState.init)
    }

    /// How many cases have a client-name index, as signed (`count/client-names`).
    func clientIndexCount() throws -> Int {
        let count = try reader.clientIndexCount()
        try checkCount(count, key: StateKey.clientIndexCount, what: "client-name indexes")
        return count
    }

    /// Every case's client-name index: as many as signed, each checked, so
    /// a row deleted, copied or rewritten by hand is an integrity failure.
    func allClientIndexes() throws -> [ClientIndexRecord] {
        let rows = try reader.clientIndexes(caseNumber: nil)
        try requireDistinct(rows.map(\.caseNumber), what: "client-name indexes")
        try checkCount(rows.count, key: StateKey.clientIndexCount, what: "client-name indexes")
        for row in rows {
            try check(row, key: StateKey.clientIndex(row.caseNumber), what: "the client-name index of \(row.caseNumber)")
            try checkTokens(row)
        }
        return rows
    }

    /// A v18 index's signed record names its blob, not its tokens: the
    /// tokens the catalog keeps must be that blob's bytes.
    private func checkTokens(_ record: ClientIndexRecord) throws {
        guard checked, let hash = record.indexHash else { return }
        guard let blob = [UInt8](hexString: record.index), !blob.isEmpty, Blake2b.hash(blob).hexString == hash else {
            throw VaultError.integrityFailure("the client-name index of \(record.caseNumber) in the catalog is missing or is not the blob its signed record names")
        }
    }

    /// A case's client-name index, if its client was named.
    func clientIndex(_ caseNumber: String) throws -> ClientIndexRecord? {
        let rows = try reader.clientIndexes(caseNumber: caseNumber)
        guard rows.count <= 1 else { throw VaultError.integrityFailure("the catalog's client-name index of \(caseNumber) repeats (a row was copied by hand)") }
        try check(rows.first, key: StateKey.clientIndex(caseNumber), what: "the client-name index of \(caseNumber)")
        if let row = rows.first { try checkTokens(row) }
        return rows.first
    }

    /// Every version of the retention policy, checked together.
    func retentionPolicies() throws -> [RetentionPolicyRecord] {
        try group(try reader.retentionPolicies(), id: { "\($0.version)" }, key: StateKey.retentionPolicies,
                  what: "retention policy versions", as: RetentionPolicyState.init)
    }

    /// The approvals standing for disposing of a case, by `seq`.
    func disposalApprovals(_ caseNumber: String) throws -> [DisposalApprovalRecord] {
        try group(try reader.disposalApprovals(caseNumber: caseNumber), id: { "\($0.seq)" }, key: StateKey.disposalApprovals(caseNumber),
                  what: "disposal approvals of \(caseNumber)", as: DisposalApprovalState.init)
    }

    /// The disposal tombstone of a case, when it was disposed of.
    func disposal(_ caseNumber: String) throws -> DisposalRecord? {
        let rows = try reader.disposals(caseNumber: caseNumber)
        guard rows.count <= 1 else { throw VaultError.integrityFailure("the catalog's disposals of \(caseNumber) repeat (a row was copied by hand)") }
        try check(rows.first, key: StateKey.disposal(caseNumber), what: "the disposal of \(caseNumber)")
        return rows.first
    }

    /// Every disposal tombstone, by case, each checked. (No count proves
    /// the list complete: a row deleted by hand makes the case look alive,
    /// and the first read of it finds its keys gone.)
    func disposals() throws -> [DisposalRecord] {
        let rows = try reader.disposals(caseNumber: nil)
        try requireDistinct(rows.map(\.caseNumber), what: "disposals")
        for row in rows { try check(row, key: StateKey.disposal(row.caseNumber), what: "the disposal of \(row.caseNumber)") }
        return rows
    }

    /// The handover under way on a case.
    func handover(_ caseNumber: String) throws -> HandoverRecord? {
        let rows = try reader.handovers(caseNumber: caseNumber)
        guard rows.count <= 1 else { throw VaultError.integrityFailure("the catalog's handovers of \(caseNumber) repeat (a row was copied by hand)") }
        try check(rows.first, key: StateKey.handover(caseNumber), what: "the handover of \(caseNumber)")
        return rows.first
    }

    /// The legal hold standing on a case.
    func hold(_ caseNumber: String) throws -> HoldRecord? {
        let rows = try reader.holds(caseNumber: caseNumber)
        guard rows.count <= 1 else { throw VaultError.integrityFailure("the catalog's holds of \(caseNumber) repeat (a row was copied by hand)") }
        try check(rows.first, key: StateKey.hold(caseNumber), what: "the legal hold of \(caseNumber)")
        return rows.first
    }

    /// The document types always filed confidential: the signed list, or
    /// the defaults while no admin has set one.
    func confidentialTypes() throws -> (types: [String], record: ConfidentialTypesRecord?) {
        let record = try remembered(StateKey.confidentialTypes, what: "the vault's confidential-types policy") { try reader.confidentialTypes() }
        return (record?.types ?? Policy.defaultConfidentialTypes, record)
    }

    /// A document's current version: its newest not withdrawn; nil when
    /// every version is.
    func currentVersion(of document: DocumentRecord) throws -> Int? {
        Self.currentVersion(of: document, withdrawn: try withdrawals(document.caseNumber, document.name))
    }

    /// The same, from withdrawals already read (and checked).
    static func currentVersion(of document: DocumentRecord, withdrawn: [WithdrawalRecord]) -> Int? {
        let versions = Set(withdrawn.map(\.version))
        return stride(from: document.latestVersion, through: 1, by: -1).first { !versions.contains($0) }
    }

    /// A blob named by a checked record, checked against its name.
    func blob(_ hash: String, what: @autoclosure () -> String) throws -> [UInt8] {
        guard let bytes = try reader.blob(hash: hash) else {
            throw VaultError.integrityFailure("\(what()) is missing from the catalog")
        }
        guard Blake2b.hash(bytes).hexString == hash else {
            throw VaultError.integrityFailure("the catalog's copy of \(what()) does not match its signed hash")
        }
        return bytes
    }
}

/// Records checked against the signed state, by key and by the value the
/// map held for them (the SHA-256 of the record's canonical JSON), for the
/// vault's life in this process: a batch reads the same case and the same
/// members for each of its items, under a root that moves with every event.
/// Every lookup still walks the map to the key's signed value under the
/// trusted root (through `StateNodeCache`); only a record whose hash is that
/// value is taken from here, so the memo cannot answer with a record the
/// signed state no longer holds, nor with a row edited in the catalog. Keys
/// are compared as bytes (Swift's String equality is Unicode equivalence).
final class SignedMemo: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [[UInt8]: (signed: [UInt8], record: any CanonicalRecord)] = [:]
    private static let limit = 8192

    func record<R: CanonicalRecord>(_ key: String, signed: [UInt8]) -> R? {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = records[Array(key.utf8)], entry.signed == signed else { return nil }
        return entry.record as? R
    }

    func remember(_ key: String, signed: [UInt8], _ record: some CanonicalRecord) {
        lock.lock()
        defer { lock.unlock() }
        if records.count >= Self.limit { records.removeAll(keepingCapacity: true) }
        records[Array(key.utf8)] = (signed, record)
    }

    func removeAll() {
        lock.lock()
        defer { lock.unlock() }
        records.removeAll()
    }
}

/// What one open vault has verified in this process: state-map nodes by
/// hash and records by their signed value (SECURITY.md §12a). Each `Vault`
/// has its own; a new process, or a new `Vault`, starts with none.
final class VerifiedCaches: @unchecked Sendable {
    let nodes: StateNodeCache
    let records = SignedMemo()

    init(nodeLimit: Int = StateNodeCache.defaultLimit) {
        nodes = StateNodeCache(limit: nodeLimit)
    }

    func removeAll() {
        nodes.removeAll()
        records.removeAll()
    }
}

/// The map as one write transaction's events leave it, for the events'
/// own reads: each event is projected against the root the one before it
/// left, and a bulk filing's events read the same case, staff, tier and
/// settings keys hundreds of times, each under a new root, each walk from
/// the root down. Under the transaction's current root a key holds the
/// value the transaction last set it to, or, when it set none, the value
/// it held when the transaction began (proved once by a walk, and
/// unchanged since). Answers are given only under the exact root the
/// changes recorded here lead to (`root`): a change made around the
/// overlay leaves the state's root elsewhere, and that state walks the map
/// as before. Values are value hashes; an empty array is "none".
final class StateOverlay: @unchecked Sendable {
    private let lock = NSLock()
    /// The root the recorded changes lead to.
    private var root: [UInt8]
    /// Key hash → the value the transaction set ([] when it removed it).
    private var changed: [[UInt8]: [UInt8]] = [:]
    /// Key hash → its value when the transaction began ([] for none), for keys it has not changed.
    private var unchanged: [[UInt8]: [UInt8]] = [:]

    init(root: [UInt8]) { self.root = root }

    /// `.some(value)` when known under `root`; nil when not.
    func value(_ keyHash: [UInt8], under root: [UInt8]) -> [UInt8]?? {
        lock.withLock {
            guard root == self.root, let value = changed[keyHash] ?? unchanged[keyHash] else { return nil }
            return .some(value.isEmpty ? nil : value)
        }
    }

    /// A value a walk under `root` proved, for a key the transaction has not changed.
    func found(_ keyHash: [UInt8], _ value: [UInt8]?, under root: [UInt8]) {
        lock.withLock {
            guard root == self.root, changed[keyHash] == nil else { return }
            unchanged[keyHash] = value ?? []
        }
    }

    /// The map went from `old` to `new` by setting `keyHash` to `value`
    /// (nil: removing it). A change from another root than the one recorded
    /// here means the overlay missed one: it then answers nothing more.
    func changed(_ keyHash: [UInt8], to value: [UInt8]?, from old: [UInt8], to new: [UInt8]) {
        lock.withLock {
            guard old == root else {
                root = []
                return
            }
            changed[keyHash] = value ?? []
            root = new
        }
    }
}

/// Value hashes a `SignedState` proved ahead (`prefetch`), by key hash:
/// the value the map holds, or an empty array where it holds none. Each
/// is the answer under the root it was proved under, and is given for no
/// other (a state's root never changes; this keeps it so if one ever did).
final class PrefetchedValues: @unchecked Sendable {
    private let lock = NSLock()
    private var batches: [(root: [UInt8], values: [[UInt8]: [UInt8]])] = []

    func add(_ values: [[UInt8]: [UInt8]], root: [UInt8]) {
        lock.withLock { batches.append((root, values)) }
    }

    /// nil when `keyHash` was not prefetched under `root`.
    func value(_ keyHash: [UInt8], root: [UInt8]) -> [UInt8]? {
        lock.withLock {
            for batch in batches.reversed() where batch.root == root {
                if let value = batch.values[keyHash] { return value }
            }
            return nil
        }
    }
}
