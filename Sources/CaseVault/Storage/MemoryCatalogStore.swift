internal import Foundation
internal import CaseVaultCrypto

/// A catalog held in memory: the scratch catalog `verify` replays the log
/// into, and the second implementation of the catalog port that keeps the
/// port honest (it runs the same `CatalogStoreSuite` as SQLite).
///
/// A write works on a copy of the committed state and swaps it in at the
/// end, so a failed transaction leaves nothing behind.
///
/// Names key the tables by their UTF-8 bytes and sort by them, as SQLite's
/// BINARY collation does: Swift's `String` equality would make "Café"
/// precomposed and decomposed one row where SQLite keeps two.
public final class MemoryCatalogStore: CatalogStore, @unchecked Sendable {
    struct State {
        var events: [EventRecord] = []
        var logNodes: [LogNodeKey: [UInt8]] = [:]
        /// The state map's nodes inline (verify's replay writes and reads
        /// some two million), by path.
        var stateNodes: [StatePath: StoredStateNode] = [:]
        /// Nodes put at a path or with halves the map never makes (a
        /// test's, a copy of an edited catalog's), kept as given so that
        /// they read back and count as in SQLite. A path is in one of the
        /// two tables at most.
        var oddStateNodes: [[UInt8]: StateNode] = [:]
        var blobs: [String: [UInt8]] = [:]
        var settings: VaultSettingsRecord?
        var staff: [Name: StaffRecord] = [:]
        var cases: [Name: CaseRecord] = [:]
        var clients: [Int: String] = [:]
        var highestClient: Int?
        var grants: [Name: [GrantKey: GrantRecord]] = [:]
        var documents: [Name: [Name: DocumentRecord]] = [:]
        var versions: [Name: [Name: [Int: VersionRecord]]] = [:]
        var schemas: [Name: [Int: SchemaRecord]] = [:]
        /// Each case's in the order applied (an imported case's keep the
        /// sending vault's sequence numbers, before this vault's).
        var statusChanges: [Name: [StatusChangeRecord]] = [:]
        var closureRequests: [Name: ClosureRequestRecord] = [:]
        var withdrawals: [Name: [Name: [Int: WithdrawalRecord]]] = [:]
        var moves: [Name: [Name: [Int64: MoveRecord]]] = [:]
        var tags: [Name: [Name: CaseTagRecord]] = [:]
        var searchKeys: [Name: SearchKeyRecord] = [:]
        var clientIndexes: [Name: ClientIndexRecord] = [:]
        var aoExtensions: [Name: AgedOutExtensionRecord] = [:]
        var confidentialTypes: ConfidentialTypesRecord?
        var holds: [Name: HoldRecord] = [:]
        /// How many records name each blob (`recordsNaming`).
        var namers: [String: Int] = [:]

        mutating func named(_ hash: String?, _ delta: Int) {
            guard let hash else { return }
            let count = (namers[hash] ?? 0) + delta
            namers[hash] = count == 0 ? nil : count
        }
        var handovers: [Name: HandoverRecord] = [:]
        var retentionPolicies: [Int: RetentionPolicyRecord] = [:]
        var disposalApprovals: [Name: [Int64: DisposalApprovalRecord]] = [:]
        var disposals: [Name: DisposalRecord] = [:]
        var tallies: [Name: [UInt8]] = [:]
    }

    /// A name compared, hashed and ordered by its UTF-8 bytes (without
    /// copying them out: the scratch catalog is looked up several times
    /// per replayed event).
    struct Name: Hashable, Comparable {
        let text: String
        init(_ text: String) { self.text = text }
        static func == (a: Name, b: Name) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }
        func hash(into hasher: inout Hasher) {
            var text = self.text
            text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
        static func < (a: Name, b: Name) -> Bool { a.text.utf8.lexicographicallyPrecedes(b.text.utf8) }
    }

    struct LogNodeKey: Hashable { let level: Int; let index: Int64 }

    /// A state-map node as this catalog keeps it: a `StateNode`'s members,
    /// inline.
    struct StoredStateNode {
        let node: StateMap.Node
        let hash: Hash32

        init(_ node: StateMap.Node, hash: Hash32) { (self.node, self.hash) = (node, hash) }

        /// Nil for a node of any other shape than the map's.
        init?(_ node: StateNode) {
            guard let first = Hash32(node.first), let second = Hash32(node.second), let hash = Hash32(node.hash) else { return nil }
            self.init(StateMap.Node(kind: node.kind, first: first, second: second), hash: hash)
        }

        func stateNode(at path: StatePath) -> StateNode {
            StateNode(path: path.bytes, kind: node.kind, hash: hash.bytes, first: node.first.bytes, second: node.second.bytes)
        }
    }
    struct GrantKey: Hashable, Comparable {
        let tier: Name
        let holder: Name
        let generation: Int
        static func < (a: GrantKey, b: GrantKey) -> Bool { (a.tier, a.holder, a.generation) < (b.tier, b.holder, b.generation) }
    }

    private let lock = NSLock()
    private var committed = State()

    public init() {}

    public func read<T>(_ body: (any CatalogReader) throws -> T) throws -> T {
        lock.lock()
        let snapshot = committed
        lock.unlock()
        return try body(Transaction(state: snapshot))
    }

    public func write<T>(_ body: (any CatalogWriter) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let transaction = Transaction(state: committed)
        let result = try body(transaction)
        committed = transaction.state
        return result
    }

    public func close() throws {}

    final class Transaction: CatalogWriter {
        var state: State
        init(state: State) { self.state = state }

        func lastEventSeq() throws -> Int64 { state.events.last?.seq ?? 0 }
        func event(seq: Int64) throws -> EventRecord? {
            guard seq >= 1, seq <= Int64(state.events.count) else { return nil }
            return state.events[Int(seq - 1)]
        }
        func forEachEvent(in range: ClosedRange<Int64>, _ body: (EventRecord) throws -> Bool) throws {
            let low = max(range.lowerBound, 1), high = min(range.upperBound, Int64(state.events.count))
            guard low <= high else { return }
            for index in Int(low - 1)..<Int(high) where !(try body(state.events[index])) { return }
        }
        func events(type: String, actor: String?) throws -> [EventRecord] {
            state.events.filter { $0.type == type && (actor == nil || $0.actor == actor) }
        }
        func eventCount() throws -> Int64 { Int64(state.events.count) }
        func logNode(level: Int, index: Int64) throws -> [UInt8]? { state.logNodes[LogNodeKey(level: level, index: index)] }
        func stateNode(path: [UInt8]) throws -> StateNode? {
            if let at = StatePath(bytes: path), let stored = state.stateNodes[at] { return stored.stateNode(at: at) }
            return state.oddStateNodes[path]
        }
        func node(at path: StatePath) throws -> StateMap.Node? {
            if let stored = state.stateNodes[path] { return stored.node }
            if state.oddStateNodes.isEmpty { return nil }
            return try state.oddStateNodes[path.bytes].map(StateMap.Node.init(checking:))
        }
        func stateNodes(paths: [[UInt8]]) throws -> [[UInt8]: StateNode]? { nil }
        var readsStateNodesAtOnce: Bool { false }
        func stateNodeCount() throws -> Int64 { Int64(state.stateNodes.count + state.oddStateNodes.count) }
        func logNodeCount() throws -> Int64 { Int64(state.logNodes.count) }
        func forEachStateNode(_ body: (StateNode) throws -> Void) throws {
            for (path, stored) in state.stateNodes { try body(stored.stateNode(at: path)) }
            for node in state.oddStateNodes.values { try body(node) }
        }
        func forEachBlob(_ body: (String, [UInt8]) throws -> Void) throws { for (hash, bytes) in state.blobs { try body(hash, bytes) } }
        func blob(hash: String) throws -> [UInt8]? { state.blobs[hash] }
        func blobHashes() throws -> [String] { state.blobs.keys.sorted() }

        func vaultSettings() throws -> VaultSettingsRecord? { state.settings }
        func staff(id: String) throws -> StaffRecord? { state.staff[Name(id)] }
        func allStaff() throws -> [StaffRecord] { state.staff.sorted { $0.key < $1.key }.map(\.value) }
        func caseRecord(number: String) throws -> CaseRecord? { state.cases[Name(number)] }
        func cases(matching query: CaseQuery) throws -> [CaseRecord] {
            state.cases.values.filter { record in
                (query.status.map { $0 == record.status } ?? true)
                    && (query.category.map { $0 == record.category } ?? true)
                    && (query.manager.map { $0 == record.manager } ?? true)
                    && (query.supervisor.map { $0 == record.supervisor } ?? true)
                    && (query.year.map { $0 == record.year } ?? true)
                    && (query.numberPrefix.map { record.number.utf8.starts(with: $0.utf8) } ?? true)
            }.sorted { (Name($0.category), $0.year, $0.clientNumber) < (Name($1.category), $1.year, $1.clientNumber) }
        }
        func caseNumber(client: Int) throws -> String? { state.clients[client] }
        func highestClientNumber() throws -> Int? { state.highestClient }
        private static func bytesOrder(_ a: String, _ b: String) -> Bool { Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) }
        func activeCaseload(managerID: String, sample: Int) throws -> (count: Int, sample: [String]) {
            let numbers = state.cases.values.filter { $0.manager == managerID && $0.isOpenWorkHere }.map(\.number).sorted(by: Self.bytesOrder)
            return (numbers.count, Array(numbers.prefix(sample)))
        }
        func activeManagers(supervisorID: String) throws -> [(manager: String, caseNumber: String)] {
            var lowest: [String: String] = [:]
            for record in state.cases.values where record.supervisor == supervisorID && record.isOpenWorkHere {
                if let known = lowest[record.manager], Self.bytesOrder(known, record.number) { continue }
                lowest[record.manager] = record.number
            }
            return lowest.sorted { Self.bytesOrder($0.key, $1.key) }.map { ($0.key, $0.value) }
        }
        func staffCount() throws -> Int { state.staff.count }
        func caseCount() throws -> Int { state.cases.count }
        func documentCount(caseNumber: String) throws -> Int { state.documents[Name(caseNumber)]?.count ?? 0 }
        func formTypeCount() throws -> Int { state.schemas.count }
        func grants(caseNumber: String) throws -> [GrantRecord] {
            (state.grants[Name(caseNumber)] ?? [:]).sorted { $0.key < $1.key }.map(\.value)
        }
        func document(caseNumber: String, name: String) throws -> DocumentRecord? { state.documents[Name(caseNumber)]?[Name(name)] }
        func documents(caseNumber: String?) throws -> [DocumentRecord] {
            let cases = caseNumber.map { [Name($0)] } ?? state.documents.keys.sorted()
            return cases.flatMap { number in (state.documents[number] ?? [:]).sorted { $0.key < $1.key }.map(\.value) }
        }
        func version(caseNumber: String, document: String, version: Int) throws -> VersionRecord? {
            state.versions[Name(caseNumber)]?[Name(document)]?[version]
        }
        func versions(caseNumber: String?, document: String?) throws -> [VersionRecord] {
            let cases = caseNumber.map { [Name($0)] } ?? state.versions.keys.sorted()
            return cases.flatMap { number -> [VersionRecord] in
                let byDocument = state.versions[number] ?? [:]
                let names = document.map { [Name($0)] } ?? byDocument.keys.sorted()
                return names.flatMap { name in (byDocument[name] ?? [:]).values.sorted { $0.version < $1.version } }
            }
        }
        func schemas(formType: String?) throws -> [SchemaRecord] {
            let types = formType.map { [Name($0)] } ?? state.schemas.keys.sorted()
            return types.flatMap { type in (state.schemas[type] ?? [:]).values.sorted { $0.version < $1.version } }
        }
        func statusChanges(caseNumber: String?) throws -> [StatusChangeRecord] {
            let cases = caseNumber.map { [Name($0)] } ?? state.statusChanges.keys.sorted()
            return cases.flatMap { number in state.statusChanges[number] ?? [] }
        }
        func moves(caseNumber: String?, document: String?) throws -> [MoveRecord] {
            let cases = caseNumber.map { [Name($0)] } ?? state.moves.keys.sorted()
            return cases.flatMap { number -> [MoveRecord] in
                let byDocument = state.moves[number] ?? [:]
                let documents = document.map { [Name($0)] } ?? byDocument.keys.sorted()
                return documents.flatMap { (byDocument[$0] ?? [:]).values.sorted { $0.seq < $1.seq } }
            }
        }
        func searchKeys() throws -> [SearchKeyRecord] { state.searchKeys.sorted { $0.key < $1.key }.map(\.value) }
        func clientIndexCount() throws -> Int { state.clientIndexes.count }
        func clientIndexes(caseNumber: String?) throws -> [ClientIndexRecord] {
            if let caseNumber { return state.clientIndexes[Name(caseNumber)].map { [$0] } ?? [] }
            return state.clientIndexes.sorted { $0.key < $1.key }.map(\.value)
        }
        func tags(caseNumber: String?) throws -> [CaseTagRecord] {
            let cases = caseNumber.map { [Name($0)] } ?? state.tags.keys.sorted()
            return cases.flatMap { (state.tags[$0] ?? [:]).sorted { $0.key < $1.key }.map(\.value) }
        }
        func aoExtensions(caseNumber: String?) throws -> [AgedOutExtensionRecord] {
            if let caseNumber { return state.aoExtensions[Name(caseNumber)].map { [$0] } ?? [] }
            return state.aoExtensions.sorted { $0.key < $1.key }.map(\.value)
        }
        func confidentialTypes() throws -> ConfidentialTypesRecord? { state.confidentialTypes }
        func retentionPolicies() throws -> [RetentionPolicyRecord] { state.retentionPolicies.values.sorted { $0.version < $1.version } }
        func handovers(caseNumber: String?) throws -> [HandoverRecord] {
            if let caseNumber { return state.handovers[Name(caseNumber)].map { [$0] } ?? [] }
            return state.handovers.sorted { $0.key < $1.key }.map(\.value)
        }
        func holds(caseNumber: String?) throws -> [HoldRecord] {
            if let caseNumber { return state.holds[Name(caseNumber)].map { [$0] } ?? [] }
            return state.holds.sorted { $0.key < $1.key }.map(\.value)
        }
        func disposalApprovals(caseNumber: String?) throws -> [DisposalApprovalRecord] {
            let cases = caseNumber.map { [Name($0)] } ?? state.disposalApprovals.keys.sorted()
            return cases.flatMap { (state.disposalApprovals[$0] ?? [:]).values.sorted { $0.seq < $1.seq } }
        }
        func cases(taggedWith tag: String) throws -> [String] {
            state.tags.filter { $0.value[Name(tag)] != nil }.keys.sorted().map(\.text)
        }
        func tally(key: String) throws -> [UInt8]? { state.tallies[Name(key)] }
        func tallies() throws -> [(key: String, record: [UInt8])] {
            state.tallies.sorted { $0.key < $1.key }.map { ($0.key.text, $0.value) }
        }
        func putTally(key: String, record: [UInt8]) throws { state.tallies[Name(key)] = record }
        func cases(heldBy holder: String) throws -> [String] {
            state.grants.filter { $0.value.values.contains { $0.holder == holder } }.keys.sorted().map(\.text)
        }
        func cases(namingObject objectId: String) throws -> [String] {
            state.versions.sorted { $0.key < $1.key }.compactMap { name, documents in
                documents.values.contains { $0.values.contains { $0.objectId == objectId } } ? name.text : nil
            }
        }
        func disposals(caseNumber: String?) throws -> [DisposalRecord] {
            if let caseNumber { return state.disposals[Name(caseNumber)].map { [$0] } ?? [] }
            return state.disposals.sorted { $0.key < $1.key }.map(\.value)
        }
        func closureRequest(caseNumber: String) throws -> ClosureRequestRecord? { state.closureRequests[Name(caseNumber)] }
        func closureRequests() throws -> [ClosureRequestRecord] { state.closureRequests.sorted { $0.key < $1.key }.map(\.value) }
        func withdrawals(caseNumber: String?, document: String?) throws -> [WithdrawalRecord] {
            let cases = caseNumber.map { [Name($0)] } ?? state.withdrawals.keys.sorted()
            return cases.flatMap { number -> [WithdrawalRecord] in
                let byDocument = state.withdrawals[number] ?? [:]
                let documents = document.map { [Name($0)] } ?? byDocument.keys.sorted()
                return documents.flatMap { (byDocument[$0] ?? [:]).values.sorted { $0.version < $1.version } }
            }
        }

        func appendEvent(_ event: EventRecord) throws {
            guard event.seq == Int64(state.events.count) + 1 else {
                throw VaultError.integrityFailure("event \(event.seq) does not follow event \(state.events.count)")
            }
            state.events.append(event)
        }
        func putLogNode(level: Int, index: Int64, hash: [UInt8]) throws { state.logNodes[LogNodeKey(level: level, index: index)] = hash }
        func putStateNode(_ node: StateNode) throws {
            if let at = StatePath(bytes: node.path), let stored = StoredStateNode(node) {
                state.stateNodes[at] = stored
                if !state.oddStateNodes.isEmpty { state.oddStateNodes[node.path] = nil }
            } else {
                state.oddStateNodes[node.path] = node
                if let at = StatePath(bytes: node.path) { state.stateNodes[at] = nil }
            }
        }
        func put(_ node: StateMap.Node, hash: Hash32, at path: StatePath) {
            state.stateNodes[path] = StoredStateNode(node, hash: hash)
            if !state.oddStateNodes.isEmpty { state.oddStateNodes[path.bytes] = nil }
        }
        func putBlob(hash: String, bytes: [UInt8]) throws { if state.blobs[hash] != bytes { state.blobs[hash] = bytes } }
        func deleteBlob(hash: String) throws { state.blobs[hash] = nil }
        func putVaultSettings(_ record: VaultSettingsRecord) throws { state.settings = record }
        func putStaff(_ record: StaffRecord) throws {
            state.named(state.staff[Name(record.id)]?.wrappedKeysHash, -1)
            state.named(record.wrappedKeysHash, 1)
            state.staff[Name(record.id)] = record
        }
        func putCase(_ record: CaseRecord) throws {
            if let taken = state.clients[record.clientNumber], taken != record.number {
                throw VaultError.integrityFailure("client number \(record.clientNumber) is already case \(taken)")
            }
            state.named(state.cases[Name(record.number)]?.imported?.history, -1)
            state.named(record.imported?.history, 1)
            state.cases[Name(record.number)] = record
            state.clients[record.clientNumber] = record.number
            state.highestClient = max(state.highestClient ?? record.clientNumber, record.clientNumber)
        }
        func putGrant(_ record: GrantRecord) throws {
            let key = GrantKey(tier: Name(record.tier), holder: Name(record.holder), generation: record.generation)
            state.named(state.grants[Name(record.caseNumber)]?[key]?.sealedKeyHash, -1)
            state.named(record.sealedKeyHash, 1)
            state.grants[Name(record.caseNumber), default: [:]][key] = record
        }
        func deleteGrant(caseNumber: String, tier: String, holder: String, generation: Int) throws {
            let key = GrantKey(tier: Name(tier), holder: Name(holder), generation: generation)
            state.named(state.grants[Name(caseNumber)]?[key]?.sealedKeyHash, -1)
            state.grants[Name(caseNumber)]?[key] = nil
        }
        func recordsNaming(blob hash: String) throws -> Int { state.namers[hash] ?? 0 }
        func putDocument(_ record: DocumentRecord) throws { state.documents[Name(record.caseNumber), default: [:]][Name(record.name)] = record }
        func putVersion(_ record: VersionRecord) throws {
            if let old = state.versions[Name(record.caseNumber)]?[Name(record.document)]?[record.version] {
                state.named(old.sealedFileKeyHash, -1)
                state.named(old.schemaBodyHash, -1)
                state.named(old.fileInfoHash, -1)
            }
            state.named(record.sealedFileKeyHash, 1)
            state.named(record.schemaBodyHash, 1)
            state.named(record.fileInfoHash, 1)
            state.versions[Name(record.caseNumber), default: [:]][Name(record.document), default: [:]][record.version] = record
        }
        func putSchema(_ record: SchemaRecord) throws {
            state.named(state.schemas[Name(record.formType)]?[record.version]?.bodyHash, -1)
            state.named(record.bodyHash, 1)
            state.schemas[Name(record.formType), default: [:]][record.version] = record
        }
        func putStatusChange(_ record: StatusChangeRecord) throws {
            state.statusChanges[Name(record.caseNumber), default: []].append(record)
        }
        func putClosureRequest(_ record: ClosureRequestRecord) throws { state.closureRequests[Name(record.caseNumber)] = record }
        func deleteClosureRequest(caseNumber: String) throws { state.closureRequests[Name(caseNumber)] = nil }
        func putTag(_ record: CaseTagRecord) throws { state.tags[Name(record.caseNumber), default: [:]][Name(record.tag)] = record }
        func deleteTag(caseNumber: String, tag: String) throws { state.tags[Name(caseNumber)]?[Name(tag)] = nil }
        func putSearchKey(_ record: SearchKeyRecord) throws {
            state.named(state.searchKeys[Name(record.holder)]?.sealedKeyHash, -1)
            state.named(record.sealedKeyHash, 1)
            state.searchKeys[Name(record.holder)] = record
        }
        func putClientIndex(_ record: ClientIndexRecord) throws {
            state.named(state.clientIndexes[Name(record.caseNumber)]?.indexHash, -1)
            state.named(record.indexHash, 1)
            state.clientIndexes[Name(record.caseNumber)] = record
        }
        func deleteClientIndex(caseNumber: String) throws {
            state.named(state.clientIndexes[Name(caseNumber)]?.indexHash, -1)
            state.clientIndexes[Name(caseNumber)] = nil
        }
        func putAOExtension(_ record: AgedOutExtensionRecord) throws { state.aoExtensions[Name(record.caseNumber)] = record }
        func deleteAOExtension(caseNumber: String) throws { state.aoExtensions[Name(caseNumber)] = nil }
        func putConfidentialTypes(_ record: ConfidentialTypesRecord) throws { state.confidentialTypes = record }
        func putHold(_ record: HoldRecord) throws { state.holds[Name(record.caseNumber)] = record }
        func putHandover(_ record: HandoverRecord) throws { state.handovers[Name(record.caseNumber)] = record }
        func deleteHandover(caseNumber: String) throws { state.handovers[Name(caseNumber)] = nil }
        func putRetentionPolicy(_ record: RetentionPolicyRecord) throws {
            state.named(state.retentionPolicies[record.version]?.bodyHash, -1)
            state.named(record.bodyHash, 1)
            state.retentionPolicies[record.version] = record
        }
        func deleteHold(caseNumber: String) throws { state.holds[Name(caseNumber)] = nil }
        func putDisposalApproval(_ record: DisposalApprovalRecord) throws {
            state.disposalApprovals[Name(record.caseNumber), default: [:]][record.seq] = record
        }
        func deleteDisposalApprovals(caseNumber: String) throws { state.disposalApprovals[Name(caseNumber)] = nil }
        func putDisposal(_ record: DisposalRecord) throws { state.disposals[Name(record.caseNumber)] = record }
        func putMove(_ record: MoveRecord) throws {
            state.moves[Name(record.caseNumber), default: [:]][Name(record.document), default: [:]][record.seq] = record
        }
        func deleteDocument(caseNumber: String, name: String) throws {
            for version in state.versions[Name(caseNumber)]?[Name(name)]?.values ?? [:].values {
                state.named(version.sealedFileKeyHash, -1)
                state.named(version.schemaBodyHash, -1)
                state.named(version.fileInfoHash, -1)
            }
            state.documents[Name(caseNumber)]?[Name(name)] = nil
            state.versions[Name(caseNumber)]?[Name(name)] = nil
            state.withdrawals[Name(caseNumber)]?[Name(name)] = nil
        }
        func putWithdrawal(_ record: WithdrawalRecord) throws {
            state.withdrawals[Name(record.caseNumber), default: [:]][Name(record.document), default: [:]][record.version] = record
        }
    }
}
