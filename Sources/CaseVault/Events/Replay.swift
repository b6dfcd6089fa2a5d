internal import CaseVaultCrypto

/// Rebuilding a catalog from a log (design §2, "one writer"): every event,
/// checked and signature-verified, applied in order by the projection into
/// an empty store, with the blobs the events name. The result must equal the
/// catalog the events were appended to, row for row; `verify` relies on it,
/// and so will moving a vault's history between offices.
public enum Replay {
    /// Rebuilds in `target` (an empty catalog) the catalog that `source`'s
    /// events and blobs imply. Throws at the first event that is not validly
    /// signed, breaks the rules, or whose signed state root differs from the
    /// replayed one.
    public static func rebuild(from source: any CatalogStore, into target: any CatalogStore) throws {
        try source.read { reader in
            guard let first = try reader.event(seq: 1) else { return }
            let vaultID = try Event(body: first.body).vault
            _ = try target.write { writer in
                try rebuild(from: reader, through: try reader.lastEventSeq(), into: writer, vaultID: vaultID)
            }
        }
    }

    /// Replays events `1...last` of `reader` into a fresh in-memory catalog
    /// and returns the state map's root after the last one.
    static func rebuild(from reader: any CatalogReader, through last: Int64, into scratch: MemoryCatalogStore,
                        vaultID: String) throws -> [UInt8] {
        try scratch.write { writer in try rebuild(from: reader, through: last, into: writer, vaultID: vaultID) }
    }

    static func rebuild(from reader: any CatalogReader, through last: Int64, into writer: any CatalogWriter,
                        vaultID: String) throws -> [UInt8] {
        guard last > 0 else { return StateMap.empty }
        // Signatures, order and signers' rights first, over the whole log, with a signer book of
        // its own: the log is not yet trusted (a format-1 vault's first use replays it).
        let verified = try Trust.catchUp(.empty, reader: reader, vaultID: vaultID, book: SignerBook(), through: last)
        var root = StateMap.empty
        var range = CompactRange()
        // The map this replay builds, by hash: a replay walks each key once
        // or twice, so the smaller memory, beside the catalog it builds.
        let nodes = VerifiedCaches(nodeLimit: StateNodeCache.replayLimit)
        try reader.forEachEvent(in: 1...last) { record in
            let event = try Event(body: record.body)
            // Its blobs first, as when it was appended: an import's projection reads its history.
            try copyBlobs(named: event, from: reader, into: writer)
            root = try Projection.apply(event, to: writer, root: root, checked: false, verified: nodes)
            if let signed = event.stateRoot, signed != root {
                throw VaultError.integrityFailure("event \(event.seq) signed a state that replaying the log does not give")
            }
            try writer.appendEvent(record)
            for node in range.append(leaf: LogTree.leafHash(body: record.body, signature: record.signature)) {
                try writer.putLogNode(level: node.level, index: node.index, hash: node.hash)
            }
            return true
        }
        guard range == verified.range else { throw VaultError.integrityFailure("the replayed log differs from the checked one") }
        return root
    }

    /// An audit bag's whole log, replayed at an auditor's desk (SECURITY.md
    /// §12d): `events` are 1...n in order, their signatures already checked
    /// by the caller; each is applied by the projection, under every rule it
    /// applies when the event is appended, into a fresh in-memory catalog
    /// with the blobs the bag carries (policies, schema bodies, imported
    /// histories). The bag carries no key material, so the rules on a sealed
    /// key's bytes are not applied. Each event's signed state root must be
    /// the replayed one. Returns the catalog and the map's final root.
    /// `next` gives the events in chunks, nil after the last.
    static func rebuild(audited next: () throws -> [AuditedLine]?, blobs: [String: [UInt8]]) throws -> (MemoryCatalogStore, [UInt8]) {
        let scratch = MemoryCatalogStore()
        var root = StateMap.empty
        var previousFormat = 0
        var newestFormat = Event.currentFormat
        var expected: Int64 = 1
        _ = try scratch.write { writer in
            while let chunk = try next() {
            for line in chunk {
                let (event, body, signature) = (line.event, line.body, line.signature)
                guard event.seq == expected else { throw VaultError.integrityFailure("event \(expected) is missing from the bag") }
                expected += 1
                guard event.format >= previousFormat else {
                    throw VaultError.integrityFailure("event \(event.seq) is of format \(event.format) after format \(previousFormat)")
                }
                previousFormat = event.format
                // A vault of format 1 or 2 never signs format 5 (§12): its vault.created says which it is.
                if let why = Event.beyondVault(event, newest: &newestFormat) {
                    throw VaultError.integrityFailure("event \(event.seq) \(why)")
                }
                if let missing = auditBlobHashes(of: event).first(where: { blobs[$0] == nil }) {
                    throw VaultError.integrityFailure("event \(event.seq) (\(event.type.rawValue)) needs a blob the bag does not carry: \(missing)")
                }
                for hash in blobHashes(of: event) {
                    if let bytes = blobs[hash] { try writer.putBlob(hash: hash, bytes: bytes) }
                }
                root = try Projection.apply(event, to: writer, root: root, checked: false, verified: nil, keyMaterialWithheld: true)
                if let signed = event.stateRoot, signed != root {
                    throw VaultError.integrityFailure("event \(event.seq) (\(event.type.rawValue)) signed a state that replaying the bag's events does not give")
                }
                // The projection looks back at event 1 (when applying event 2); as in verify, the scratch log keeps no more.
                if event.seq <= 2 {
                    try writer.appendEvent(EventRecord(seq: event.seq, type: event.type.rawValue, actor: event.actor, at: event.at, body: body,
                                                       signature: signature, leafHash: LogTree.leafHash(body: body, signature: signature)))
                }
            }
            }
        }
        return (scratch, root)
    }

    /// The blobs of an event that an audit bag carries so that its events
    /// replay (SECURITY.md §12d): a retention policy's body, an imported
    /// case's history and its schema bodies. Never a sealed key, a wrapped
    /// key or a sealed file name.
    static func auditBlobHashes(of event: Event) -> [String] {
        switch event.data {
        case .retentionPolicySet(let data): [data.bodyHash]
        case .caseImported(let data): [data.history] + data.schemaBodies
        default: []
        }
    }

    /// The blobs an event names, each checked against its name.
    static func blobHashes(of event: Event) -> [String] {
        switch event.data {
        case .staffAdded(let data): [data.wrappedKeysHash]
        case .passphraseChanged(let data): [data.wrappedKeysHash]
        case .grantGiven(let data): [data.sealedKeyHash]
        case .versionFiled(let data): [data.sealedFileKeyHash] + (data.schema.map { [$0.bodyHash] } ?? []) + (data.fileInfoHash.map { [$0] } ?? [])
        case .schemaAdded(let data): [data.bodyHash]
        case .retentionPolicySet(let data): [data.bodyHash]
        case .documentMoved(let data): data.versions.map(\.sealedFileKeyHash)
        case .accessGranted(let data): [data.sealedKeyHash]
        case .searchKeyGranted(let data): [data.sealedKeyHash]
        case .clientNamed(let data): data.indexHash.map { [$0] } ?? []
        case .keyRotated(let data): data.holders.map(\.sealedKeyHash) + data.versions.map(\.sealedFileKeyHash)
        case .caseImported(let data):
            [data.history] + data.holders.map(\.sealedKeyHash) + data.versions.map(\.sealedFileKeyHash) + data.schemaBodies
                + data.versions.compactMap(\.fileInfoHash)
        case .vaultCreated, .caseOpened, .contentRead, .contentRefused, .statusChanged, .closureRequested, .closureApproved,
             .versionWithdrawn, .tagAdded, .tagRemoved, .agedOutExtended, .agedOutClosed,
             .confidentialTypesSet, .holdPlaced, .holdReleased, .disposalApproved, .disposed, .staffLeft, .handoverStarted,
             .handoverCompleted, .packageExported, .handoverCancelled, .caseTransferred, .transferCancelled, .auditExported,
             .talliesStarted: []
        }
    }

    private static func copyBlobs(named event: Event, from reader: any CatalogReader, into writer: any CatalogWriter) throws {
        for hash in blobHashes(of: event) {
            guard let bytes = try reader.blob(hash: hash), Blake2b.hash(bytes).hexString == hash else { continue }
            try writer.putBlob(hash: hash, bytes: bytes)
        }
    }
}

/// Row-by-row comparison of two catalogs (the live one and one replayed
/// from its log).
enum CatalogComparison {
    struct Difference: Equatable, CustomStringConvertible {
        enum Kind: String { case missing, extra, changed }
        let table: String
        let key: String
        let kind: Kind
        /// For `changed`: the members that differ.
        let fields: [String]

        var description: String {
            switch kind {
            case .missing: "\(table) row \(key) is missing"
            case .extra: "\(table) row \(key) was added by hand"
            case .changed: "\(table) row \(key) differs in \(fields.joined(separator: ", "))"
            }
        }
    }

    static func firstDifference(live: any CatalogReader, replayed: MemoryCatalogStore) throws -> Difference? {
        try replayed.read { try differences(live: live, replayed: $0, limit: 1) }.first
    }

    /// Every table's rows, read in one go: verify reads the live catalog's
    /// while its replay runs on another thread, then compares.
    struct Rows {
        var settings: [VaultSettingsRecord] = []
        var staff: [StaffRecord] = []
        var cases: [CaseRecord] = []
        /// The grants of `cases` (and of `readGrants`' extra numbers), in that order.
        var grants: [GrantRecord] = []
        var grantsRead = Set<[UInt8]>()
        var documents: [DocumentRecord] = []
        var versions: [VersionRecord] = []
        var schemas: [SchemaRecord] = []
        var statusChanges: [StatusChangeRecord] = []
        var closureRequests: [ClosureRequestRecord] = []
        var moves: [MoveRecord] = []
        var aoExtensions: [AgedOutExtensionRecord] = []
        var confidentialTypes: [ConfidentialTypesRecord] = []
        var retentionPolicies: [RetentionPolicyRecord] = []
        var handovers: [HandoverRecord] = []
        var holds: [HoldRecord] = []
        var disposalApprovals: [DisposalApprovalRecord] = []
        var disposals: [DisposalRecord] = []
        var searchKeys: [SearchKeyRecord] = []
        var clientIndexes: [ClientIndexRecord] = []
        var tags: [CaseTagRecord] = []
        var withdrawals: [WithdrawalRecord] = []
        var tallies: [TallyRow] = []

        init() {}

        init(_ reader: any CatalogReader) throws {
            for step in Self.steps(reader) { try step(&self) }
        }

        /// The reads, a table (or two small ones) each, so that verify can
        /// spread them between other work.
        static func steps(_ reader: any CatalogReader) -> [(inout Rows) throws -> Void] {
            [
                { rows in
                    rows.settings = [try reader.vaultSettings()].compactMap { $0 }
                    rows.staff = try reader.allStaff()
                },
                { rows in
                    rows.cases = try reader.cases(matching: CaseQuery())
                    try rows.readGrants(of: rows.cases.map(\.number), from: reader)
                },
                { $0.documents = try reader.documents(caseNumber: nil) },
                { $0.versions = try reader.versions(caseNumber: nil, document: nil) },
                { rows in
                    rows.schemas = try reader.schemas(formType: nil)
                    rows.statusChanges = try reader.statusChanges(caseNumber: nil)
                    rows.closureRequests = try reader.closureRequests()
                    rows.moves = try reader.moves(caseNumber: nil, document: nil)
                    rows.aoExtensions = try reader.aoExtensions(caseNumber: nil)
                    rows.confidentialTypes = [try reader.confidentialTypes()].compactMap { $0 }
                    rows.retentionPolicies = try reader.retentionPolicies()
                    rows.handovers = try reader.handovers(caseNumber: nil)
                    rows.holds = try reader.holds(caseNumber: nil)
                    rows.disposalApprovals = try reader.disposalApprovals(caseNumber: nil)
                    rows.disposals = try reader.disposals(caseNumber: nil)
                    rows.searchKeys = try reader.searchKeys()
                    rows.clientIndexes = try reader.clientIndexes(caseNumber: nil)
                    rows.tags = try reader.tags(caseNumber: nil)
                    rows.withdrawals = try reader.withdrawals(caseNumber: nil, document: nil)
                    rows.tallies = try reader.tallies().map(TallyRow.init)
                },
            ]
        }

        /// Adds the grants of `numbers` not read yet: grants are compared
        /// for the cases either side has, so a grant row kept for a case
        /// whose row was deleted is still compared.
        mutating func readGrants(of numbers: [String], from reader: any CatalogReader) throws {
            for number in numbers where grantsRead.insert(Array(number.utf8)).inserted {
                grants += try reader.grants(caseNumber: number)
            }
        }
    }

    /// The rows that differ, table by table, at most `limit`. Rows are
    /// matched by the bytes of their keys and compared by the bytes of their
    /// canonical JSON, as SQLite and an independent decoder see them (Swift
    /// would call "Café" precomposed and decomposed equal); a row repeated
    /// under the same key (a copy whose key is stored as a BLOB) is extra.
    static func differences(live: any CatalogReader, replayed: any CatalogReader, limit: Int = .max) throws -> [Difference] {
        var liveRows = try Rows(live), replayedRows = try Rows(replayed)
        try liveRows.readGrants(of: replayedRows.cases.map(\.number), from: live)
        try replayedRows.readGrants(of: liveRows.cases.map(\.number), from: replayed)
        return try differences(live: liveRows, replayed: replayedRows, limit: limit)
    }

    /// As above, on rows already read; each side must hold the grants of
    /// the other's cases too (`Rows.readGrants`).
    static func differences(live: Rows, replayed: Rows, limit: Int = .max) throws -> [Difference] {
        var found: [Difference] = []
        /// Rows matched by key (live order first, then rows only the replay has).
        func compare<R: CanonicalRecord>(_ table: String, _ live: [R], _ replayed: [R], key: (R) -> Triple, name: (R) -> String) throws {
            var byKey = Dictionary(replayed.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
            // Pairs first, then their bytes compared on every core (a vault's
            // rows are many), then the findings in the live order.
            var pairs: [(R, R?)] = []
            pairs.reserveCapacity(live.count)
            for row in live { pairs.append((row, byKey.removeValue(forKey: key(row)))) }
            let same = Parallel.map(pairs) { row, other in other.map { row.canonicalJSON == $0.canonicalJSON } ?? false }
            for ((row, other), same) in zip(pairs, same) where !same && found.count < limit {
                guard let other else {
                    found.append(Difference(table: table, key: name(row), kind: .extra, fields: []))
                    continue
                }
                found.append(Difference(table: table, key: name(row), kind: .changed, fields: try changedFields(row, other)))
            }
            for (_, row) in byKey.sorted(by: { $0.key < $1.key }) where found.count < limit {
                found.append(Difference(table: table, key: name(row), kind: .missing, fields: []))
            }
        }
        try compare("vault settings", live.settings, replayed.settings, key: { _ in Triple("", "", 0) }, name: { _ in "vault" })
        try compare("staff", live.staff, replayed.staff, key: { Triple($0.id, "", 0) }, name: \.id)
        try compare("cases", live.cases, replayed.cases, key: { Triple($0.number, "", 0) }, name: \.number)
        try compare("grants", live.grants, replayed.grants,
                    key: { Triple($0.caseNumber, $0.tier + " " + $0.holder, $0.generation) },
                    name: { "\($0.caseNumber) \($0.tier) \($0.holder)" + ($0.generation == 1 ? "" : " generation \($0.generation)") })
        try compare("documents", live.documents, replayed.documents,
                    key: { Triple($0.caseNumber, $0.name, 0) }, name: { "\($0.caseNumber) '\($0.name)'" })
        try compare("versions", live.versions, replayed.versions,
                    key: { Triple($0.caseNumber, $0.document, $0.version) }, name: { "\($0.caseNumber) '\($0.document)' v\($0.version)" })
        try compare("schemas", live.schemas, replayed.schemas,
                    key: { Triple($0.formType, "", $0.version) }, name: { "\($0.formType) v\($0.version)" })
        // By place in each case's list (sequence numbers may repeat in an imported case's).
        try compare("status changes", StatusChangeRow.numbered(live.statusChanges), StatusChangeRow.numbered(replayed.statusChanges),
                    key: { Triple($0.record.caseNumber, "", $0.place) }, name: { "\($0.record.caseNumber) event \($0.record.seq)" })
        try compare("closure requests", live.closureRequests, replayed.closureRequests,
                    key: { Triple($0.caseNumber, "", 0) }, name: \.caseNumber)
        try compare("moves", live.moves, replayed.moves,
                    key: { Triple($0.caseNumber, $0.document, Int($0.seq)) }, name: { "\($0.caseNumber) '\($0.document)' event \($0.seq)" })
        try compare("aged-out extensions", live.aoExtensions, replayed.aoExtensions,
                    key: { Triple($0.caseNumber, "", 0) }, name: \.caseNumber)
        try compare("vault policies", live.confidentialTypes, replayed.confidentialTypes,
                    key: { _ in Triple("confidential-types", "", 0) }, name: { _ in "confidential-types" })
        try compare("retention policies", live.retentionPolicies, replayed.retentionPolicies,
                    key: { Triple("", "", $0.version) }, name: { "v\($0.version)" })
        try compare("handovers", live.handovers, replayed.handovers, key: { Triple($0.caseNumber, "", 0) }, name: \.caseNumber)
        try compare("holds", live.holds, replayed.holds, key: { Triple($0.caseNumber, "", 0) }, name: \.caseNumber)
        try compare("disposal approvals", live.disposalApprovals, replayed.disposalApprovals,
                    key: { Triple($0.caseNumber, "", Int($0.seq)) }, name: { "\($0.caseNumber) event \($0.seq)" })
        try compare("disposals", live.disposals, replayed.disposals, key: { Triple($0.caseNumber, "", 0) }, name: \.caseNumber)
        try compare("search key copies", live.searchKeys, replayed.searchKeys, key: { Triple($0.holder, "", 0) }, name: \.holder)
        // As stored, tokens included: a v18 index's signed record holds only their blob's hash.
        try compare("client-name indexes", live.clientIndexes.map(ClientIndexRow.init), replayed.clientIndexes.map(ClientIndexRow.init),
                    key: { Triple($0.record.caseNumber, "", 0) }, name: \.record.caseNumber)
        try compare("case tags", live.tags, replayed.tags,
                    key: { Triple($0.caseNumber, $0.tag, 0) }, name: { "\($0.caseNumber) \($0.tag)" })
        try compare("withdrawals", live.withdrawals, replayed.withdrawals,
                    key: { Triple($0.caseNumber, $0.document, $0.version) }, name: { "\($0.caseNumber) '\($0.document)' v\($0.version)" })
        try compare("report tallies", live.tallies, replayed.tallies, key: { Triple($0.key, "", 0) }, name: \.key)
        return found
    }

    /// A report tally's row: its key and the record's bytes as stored.
    struct TallyRow: CanonicalRecord {
        let key: String
        let record: [UInt8]
        init(_ row: (key: String, record: [UInt8])) { (key, record) = row }
        func write(_ m: inout CanonicalWriter.Members) {
            m.string("key", key)
            m.string("record", String(decoding: record, as: UTF8.self))
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(key, forKey: .key)
            try c.encode(String(decoding: record, as: UTF8.self), forKey: .record)
        }
        enum CodingKeys: String, CodingKey { case key, record }
    }

    /// A status change with its place in its case's list, for the comparison.
    struct StatusChangeRow: CanonicalRecord {
        let record: StatusChangeRecord
        let place: Int
        func write(_ m: inout CanonicalWriter.Members) {
            m.integer("place", Int64(place))
            m.object("record") { record.write(&$0) }
        }

        /// Rows as read (each case's together, in order), numbered within their case.
        static func numbered(_ rows: [StatusChangeRecord]) -> [StatusChangeRow] {
            var places: [[UInt8]: Int] = [:]
            return rows.map { row in
                let key = Array(row.caseNumber.utf8)
                defer { places[key, default: 0] += 1 }
                return StatusChangeRow(record: row, place: places[key] ?? 0)
            }
        }
    }

    /// A `client_indexes` row whole, for the comparison.
    struct ClientIndexRow: CanonicalRecord {
        let record: ClientIndexRecord
        func write(_ m: inout CanonicalWriter.Members) {
            m.string("caseNumber", record.caseNumber)
            m.string("index", record.index)
            if let hash = record.indexHash { m.string("indexHash", hash) }
            m.integer("seq", record.seq)
        }
    }

    /// A row's key: up to two names, as bytes, and a number.
    struct Triple: Hashable, Comparable {
        let a: [UInt8], b: [UInt8], c: Int
        init(_ a: String, _ b: String, _ c: Int) {
            self.a = Array(a.utf8)
            self.b = Array(b.utf8)
            self.c = c
        }
        static func < (x: Triple, y: Triple) -> Bool {
            if x.a != y.a { return x.a.lexicographicallyPrecedes(y.a) }
            if x.b != y.b { return x.b.lexicographicallyPrecedes(y.b) }
            return x.c < y.c
        }
    }

    static func changedFields(_ a: some Encodable, _ b: some Encodable) throws -> [String] {
        guard case .object(let left) = try JSONValueEncoder().encode(a), case .object(let right) = try JSONValueEncoder().encode(b) else {
            return ["value"]
        }
        return Set(left.keys).union(right.keys).sorted().filter { left[$0]?.canonicalBytes != right[$0]?.canonicalBytes }
    }
}
