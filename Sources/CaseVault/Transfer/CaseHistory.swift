internal import CaseVaultCrypto
import Foundation

/// What a case carries from one vault to another (SECURITY.md §15b): the
/// sending vault's signed history of the case and its signed state at the
/// moment it was transferred, each piece provable without that vault.
///
/// - `checkpoint`: a checkpoint of the sending log, signed by the member
///   who transferred the case, whose size is the `case.transferred` event.
/// - `events`: event 1 and 2 (the vault's creation by its first admin), the
///   `staff.added` event of every signer named here and of the admins who
///   added them, and every event that names the case, each with its RFC
///   9162 inclusion proof under the checkpoint; the last is the
///   `case.transferred` event itself, whose state root signs the records.
/// - `records`: the case's state-map entries (SECURITY.md §12a) under that
///   root: the case and its grants, its document count, every document and
///   version, each document's withdrawals, its tags and status history (a
///   null value where the map proves there is none), and every signer's
///   staff record (which says whether and when they left); `nodes`, the
///   state-map nodes their paths pass through.
///
/// Encoded as canonical JSON; stored in the receiving vault as a blob that
/// its `case.imported` event names, so its own replay checks it again.
struct CaseHistory: Equatable {
    static let format = "casevault-case-history-v1"
    /// The largest history accepted (a case of tens of thousands of events).
    static let maximumSize = 256 * 1024 * 1024
    static let maximumValues = 8 << 20

    struct LoggedEvent: Equatable {
        var body: [UInt8]
        var signature: [UInt8]
        var proof: [[UInt8]]
    }

    var caseNumber: String
    var fromVault: String
    var checkpoint: String
    var events: [LoggedEvent]
    var records: [(key: String, value: JSONValue?)]
    var nodes: [StateNode]

    static func == (a: CaseHistory, b: CaseHistory) -> Bool { a.encoded() == b.encoded() }

    func encoded() -> [UInt8] {
        JSONValue.object([
            "format": .string(Self.format), "case": .string(caseNumber), "fromVault": .string(fromVault), "checkpoint": .string(checkpoint),
            "events": .array(events.map { e in
                .object(["body": .string(String(decoding: e.body, as: UTF8.self)), "signature": .string(e.signature.hexString),
                         "proof": .array(e.proof.map { .string($0.hexString) })])
            }),
            "records": .array(records.map { .object(["key": .string($0.key), "value": $0.value ?? .null]) }),
            "nodes": .array(nodes.map { n in
                .object(["path": .string(n.path.hexString), "kind": .integer(Int64(n.kind.rawValue)), "hash": .string(n.hash.hexString),
                         "first": .string(n.first.hexString), "second": .string(n.second.hexString)])
            }),
        ]).canonicalBytes
    }

    /// Parses a history strictly: exactly what `encoded` writes.
    init(parsing bytes: [UInt8], maximumValues: Int = CaseHistory.maximumValues) throws {
        func bad(_ why: String) -> VaultError { .invalidInput("the case's history is malformed (\(why))") }
        guard bytes.count <= Self.maximumSize else { throw bad("too large") }
        // At most `maximumValues` values: a history holds about 55 a version
        // (and 3 KB: measured on cases of 50 and 400 versions), so the byte
        // limit (some 85,000 versions) binds first; `[0,0,…]` of 256 MiB
        // would be 134 million, 3–5 GB as a tree, before any signature is checked.
        guard let json = try? JSONValue(parsing: bytes, maximumValues: maximumValues), case .object(let top) = json,
              Set(top.keys) == ["format", "case", "fromVault", "checkpoint", "events", "records", "nodes"],
              top["format"] == .string(Self.format),
              let number = top["case"]?.stringValue, let vault = top["fromVault"]?.stringValue, let checkpoint = top["checkpoint"]?.stringValue,
              case .array(let events)? = top["events"], case .array(let records)? = top["records"], case .array(let nodes)? = top["nodes"] else {
            throw bad("not a casevault case history")
        }
        func hex(_ value: JSONValue?, _ count: Int? = nil) throws -> [UInt8] {
            guard let text = value?.stringValue, let bytes = [UInt8](hexString: text), bytes.hexString == text,
                  count == nil || bytes.count == count else { throw bad("a hash is not hex") }
            return bytes
        }
        caseNumber = number
        fromVault = vault
        self.checkpoint = checkpoint
        self.events = try events.map { item in
            guard case .object(let e) = item, Set(e.keys) == ["body", "signature", "proof"], let body = e["body"]?.stringValue,
                  case .array(let proof)? = e["proof"], proof.count <= 64 else { throw bad("an event") }
            return LoggedEvent(body: Array(body.utf8), signature: try hex(e["signature"], SigningPublicKey.signatureLength),
                               proof: try proof.map { try hex($0, 32) })
        }
        self.records = try records.map { item in
            guard case .object(let r) = item, Set(r.keys) == ["key", "value"], let key = r["key"]?.stringValue, let value = r["value"] else {
                throw bad("a record")
            }
            return (key, value == .null ? nil : value)
        }
        self.nodes = try nodes.map { item in
            guard case .object(let n) = item, Set(n.keys) == ["path", "kind", "hash", "first", "second"],
                  let kindNumber = n["kind"]?.integerValue, let kind = StateNode.Kind(rawValue: Int(kindNumber)) else { throw bad("a state node") }
            return StateNode(path: try hex(n["path"]), kind: kind, hash: try hex(n["hash"], 32), first: try hex(n["first"], 32),
                             second: try hex(n["second"], 32))
        }
        guard encoded() == bytes else { throw bad("not canonical") }
    }

    init(caseNumber: String, fromVault: String, checkpoint: String, events: [LoggedEvent], records: [(key: String, value: JSONValue?)],
         nodes: [StateNode]) {
        self.caseNumber = caseNumber
        self.fromVault = fromVault
        self.checkpoint = checkpoint
        self.events = events
        self.records = records
        self.nodes = nodes
    }
}

// MARK: Building (the sending vault)

extension CaseHistory {
    /// The history of `number` in the log `reader` holds, up to and
    /// including the `case.transferred` event at the end of `head`.
    static func build(caseNumber number: String, reader: any CatalogReader, head: TrustedHead, vaultID: String,
                      by identity: StaffIdentity) throws -> CaseHistory {
        let size = head.size
        guard let root = head.stateRoot else { throw VaultError.integrityFailure("the log's newest event signs no state") }
        // The case's events, found by reading every event once.
        var wanted: [Int64] = [1, 2]
        var signers: Set<String> = [identity.id]
        try reader.forEachEvent(in: 3...size) { record in
            let event = try Event(body: record.body)
            if event.data.namedCases.contains(number) {
                wanted.append(record.seq)
                signers.insert(event.actor)
            }
            return true
        }
        // Every signer's addition, and their adders', up to the first admin.
        let signed = SignedState(reader: reader, root: root)
        var staffRecords: [String: StaffRecord] = [:]
        var pending = Array(signers)
        while let id = pending.popLast() {
            guard staffRecords[id] == nil else { continue }
            guard let record = try signed.staff(id) else { throw VaultError.integrityFailure("signer '\(id)' is not on the staff") }
            staffRecords[id] = record
            wanted.append(record.addedSeq)
            if let adder = record.addedBy { pending.append(adder) }
        }
        let seqs = Array(Set(wanted)).sorted()
        let nodes = LogNodes(reader: reader)
        var events: [LoggedEvent] = []
        for seq in seqs {
            guard let record = try reader.event(seq: seq) else { throw VaultError.integrityFailure("event \(seq) is missing from the log") }
            events.append(LoggedEvent(body: record.body, signature: record.signature,
                                      proof: try LogTree.inclusionProof(nodes, index: seq - 1, size: size)))
        }
        // The signed state, with every node its keys' paths pass.
        let recorder = RecordingNodes(source: StateNodes(reader: reader))
        let proving = SignedState(reader: reader, root: root, nodes: recorder)
        let encoder = JSONValueEncoder()
        var records: [(key: String, value: JSONValue?)] = []
        func add(_ key: String, _ value: (some Encodable)?) throws {
            _ = try StateMap.value(for: StateMap.keyHash(key), root: root, in: recorder)
            records.append((key, try value.map { try encoder.encode($0) }))
        }
        guard let state = try proving.caseState(number) else { throw VaultError.notFound("no case \(number)") }
        try add(StateKey.case(number), state)
        let documents = try proving.documents(number)
        try add(StateKey.documentCount(number), documents.isEmpty ? nil : CountState(count: documents.count))
        for document in documents {
            try add(StateKey.document(number, document.name), document)
            for version in try proving.versions(of: document) {
                try add(StateKey.version(number, document.name, version.version), version)
            }
            let withdrawn = try proving.withdrawals(number, document.name)
            try add(StateKey.withdrawals(number, document.name), withdrawn.isEmpty ? nil : WithdrawalState(versions: withdrawn))
        }
        let tags = try proving.tags(number)
        try add(StateKey.tags(number), tags.isEmpty ? nil : TagState(tags: tags))
        let lifecycle = try proving.lifecycle(number)
        try add(StateKey.lifecycle(number), lifecycle.isEmpty ? nil : lifecycle)
        for id in staffRecords.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            try add(StateKey.staff(id), try proving.staff(id))
        }
        let checkpoint = try Checkpoint.signed(vaultID: vaultID, size: size, root: head.range.root, by: identity)
        return CaseHistory(caseNumber: number, fromVault: vaultID, checkpoint: checkpoint.note, events: events, records: records,
                           nodes: recorder.read.values.sorted { $0.path.lexicographicallyPrecedes($1.path) })
    }
}

/// A node source that remembers every node read through it.
final class RecordingNodes: StateNodeSource {
    let source: any StateNodeSource
    private(set) var read: [[UInt8]: StateNode] = [:]
    init(source: any StateNodeSource) { self.source = source }
    func stateNode(path: [UInt8]) throws -> StateNode? {
        let node = try source.stateNode(path: path)
        if let node { read[path] = node }
        return node
    }
}

/// The nodes a history carries, by path.
struct HistoryNodes: StateNodeSource {
    let nodes: [[UInt8]: StateNode]
    func stateNode(path: [UInt8]) throws -> StateNode? { nodes[path] }
}

// MARK: Verifying (the receiving vault, its replay, and anyone with the file)

/// A case as its sending vault's signed log says it stood when it was
/// transferred.
struct ProvenCase {
    var fromVault: String
    var state: CaseState
    var documents: [DocumentRecord]
    var versions: [VersionRecord]
    var withdrawals: [String: [WithdrawalRecord]]
    var tags: [CaseTagRecord]
    var lifecycle: LifecycleState
    var transfer: CaseTransferred
    var transferSeq: Int64
    var transferredBy: String
    /// The events carried, verified, in order.
    var events: [Event]
}

extension CaseHistory {
    /// Checks everything the history claims, with nothing but itself:
    ///
    /// 1. every event is included, by its proof, in the log the checkpoint
    ///    commits to, and belongs to the sending vault;
    /// 2. events 1 and 2 are the vault's creation by its self-signed first
    ///    admin; every other event is validly signed by a member whose
    ///    `staff.added` came before it (itself signed by an admin, back to
    ///    the first), whose role may sign its kind, and who had not left;
    /// 3. the checkpoint is signed by the member who signed the last event,
    ///    a `case.transferred` of this case to `toVault`'s `toMember`;
    /// 4. every record is what the state map holds under that event's root,
    ///    and together they are the whole case: the document count, each
    ///    document's versions 1…latest, and a record or a proof of absence
    ///    for each withdrawal list, the tags and the status history.
    func verify(toVault: String, toMember: String, toBoxPublicKey: String) throws -> ProvenCase {
        func bad(_ why: String) -> VaultError { .integrityFailure("the case's history does not verify: \(why)") }
        let checkpoint = try Checkpoint(parsing: checkpoint)
        guard UUID(uuidString: fromVault)?.uuidString.lowercased() == fromVault, fromVault != toVault else {
            throw bad("the sending vault is not named by another vault's id")
        }
        guard CaseNumber(caseNumber)?.description == caseNumber else { throw bad("'\(caseNumber)' is not a case number") }
        guard checkpoint.origin == Checkpoint.origin(vaultID: fromVault) else { throw bad("the checkpoint is of another vault") }
        let size = checkpoint.size
        guard events.count >= 3, events.count <= 10_000_000 else { throw bad("it holds too few events") }

        // 1 and 2: inclusion, order, signatures, signers' rights.
        var book: [String: SignerBook.Signer] = [:]
        var parsed: [Event] = []
        var previous: Int64 = 0
        for (index, logged) in events.enumerated() {
            let event: Event
            do { event = try Event(body: logged.body) } catch { throw bad("event \(index + 1) is malformed") }
            guard event.seq > previous, event.seq <= size, event.vault == fromVault else {
                throw bad("event \(event.seq) is out of order or of another vault")
            }
            // Formats never go back (§12), among the events carried too.
            guard event.format >= (parsed.last?.format ?? 0) else { throw bad("event \(event.seq) is of an older format than the one before it") }
            guard (try? StaffMember.validate(id: event.actor)) != nil else { throw bad("event \(event.seq) names no valid staff id") }
            previous = event.seq
            let leaf = LogTree.leafHash(body: logged.body, signature: logged.signature)
            guard LogTree.verifyInclusion(leaf: leaf, index: event.seq - 1, size: size, proof: logged.proof, root: checkpoint.root) else {
                throw bad("event \(event.seq) is not in the log the checkpoint commits to")
            }
            let message = Event.signedMessage(body: logged.body)
            switch (index, event.seq, event.data) {
            case (0, 1, .vaultCreated):
                break  // checked with event 2's key below
            case (1, 2, .staffAdded(let data)):
                guard data.id == event.actor, data.role == Role.admin.rawValue, parsed[0].actor == event.actor,
                      let keyBytes = [UInt8](hexString: data.signingPublicKey), let key = try? SigningPublicKey(bytes: keyBytes),
                      key.isValidSignature(logged.signature, for: message),
                      key.isValidSignature(events[0].signature, for: Event.signedMessage(body: events[0].body)) else {
                    throw bad("its first two events are not the vault's first admin creating it")
                }
                book[data.id] = SignerBook.Signer(key: key, role: .admin, addedSeq: 2)
            case (0, _, _), (1, _, _):
                throw bad("it does not start with the vault's creation")
            default:
                guard let signer = book[event.actor], signer.addedSeq < event.seq else {
                    throw bad("event \(event.seq) is signed by '\(event.actor)', whose addition it does not carry")
                }
                guard signer.key.isValidSignature(logged.signature, for: message) else {
                    throw bad("event \(event.seq) is not validly signed by '\(event.actor)'")
                }
                guard Policy.maySign(event.type, role: signer.role) else {
                    throw bad("event \(event.seq): \(signer.role.withArticle) may not sign \(event.type.rawValue)")
                }
                if case .staffAdded(let data) = event.data {
                    guard let role = Role(rawValue: data.role), let keyBytes = [UInt8](hexString: data.signingPublicKey),
                          let key = try? SigningPublicKey(bytes: keyBytes), book[data.id] == nil else {
                        throw bad("event \(event.seq) adds a member twice or with a bad key")
                    }
                    book[data.id] = SignerBook.Signer(key: key, role: role, addedSeq: event.seq)
                }
            }
            parsed.append(event)
        }

        // 3: the transfer, and who vouches for it.
        guard let last = parsed.last, last.seq == size, case .caseTransferred(let transfer) = last.data,
              Array(transfer.case.utf8) == Array(caseNumber.utf8), let root = last.stateRoot else {
            throw bad("it does not end with the transfer of \(caseNumber)")
        }
        guard transfer.toVault == toVault, transfer.toMember == toMember, transfer.toBoxPublicKey == toBoxPublicKey else {
            throw VaultError.accessDenied("this case was transferred to '\(transfer.toMember)' of vault \(transfer.toVault), not to you here")
        }
        guard let signer = book[last.actor], checkpoint.isSigned(by: last.actor, key: signer.key, vaultID: fromVault) else {
            throw bad("the checkpoint is not signed by '\(last.actor)', who transferred the case")
        }

        // 4: the records, under the transfer's state root.
        var byKey: [String: JSONValue?] = [:]
        for (key, value) in records {
            guard byKey.updateValue(value, forKey: key) == nil else { throw bad("the record \(key) is listed twice") }
        }
        // Every node carried is what its members hash to, once per path.
        for node in nodes {
            guard let inline = try? StateMap.Node(checking: node), inline.hash.bytes == node.hash else {
                throw bad("a state-map node does not hash to what it says")
            }
        }
        guard Set(nodes.map(\.path)).count == nodes.count else { throw bad("a state-map node is listed twice") }
        let source = HistoryNodes(nodes: Dictionary(nodes.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a }))
        let decoder = JSONValueDecoder()
        func record<T: Decodable & CanonicalRecord>(_ key: String, as type: T.Type) throws -> T? {
            guard let entry = byKey[key] else { throw bad("it does not say what \(key) holds") }
            let signedValue = try StateMap.value(for: StateMap.keyHash(key), root: root, in: source)
            guard let json = entry else {
                guard signedValue == nil else { throw bad("\(key) is left out, but the signed state holds it") }
                return nil
            }
            let value: T
            do { value = try decoder.decode(T.self, from: json) } catch { throw bad("\(key) is malformed") }
            guard let signedValue, SignedState.valueHash(value) == signedValue else { throw bad("\(key) is not what the signed state holds") }
            return value
        }
        // Every record is of this case, and holds what the rules of filing allow (a hostile
        // sender signs what they like: nothing here may name another case, or break a later command).
        func same(_ a: String, _ b: String) -> Bool { Array(a.utf8) == Array(b.utf8) }
        guard let state = try record(StateKey.case(caseNumber), as: CaseState.self), same(state.case.number, caseNumber),
              state.grants.allSatisfy({ same($0.caseNumber, caseNumber) }) else {
            throw bad("it does not hold the case")
        }
        let opened = state.case
        guard (1...999_999).contains(opened.clientNumber), (1990...9999).contains(opened.year),
              CaseNumber(category: opened.category, year: opened.year, clientNumber: opened.clientNumber).description == caseNumber,
              CaseStatus(rawValue: opened.status) != nil else {
            throw bad("the case's number, category, year, client number or status break the rules of opening a case")
        }
        guard opened.supervisor == last.actor, let gone = opened.transferred, gone.seq == last.seq, gone.toVault == toVault,
              gone.toMember == toMember else {
            throw bad("the case's signed state does not say it was transferred here by its supervisor")
        }
        let count = try record(StateKey.documentCount(caseNumber), as: CountState.self)?.count ?? 0
        let prefix = Array("document/\(caseNumber)/".utf8)
        let names = records.compactMap { entry -> String? in
            let key = Array(entry.key.utf8)
            return key.starts(with: prefix) ? String(decoding: key[prefix.count...], as: UTF8.self) : nil
        }
        guard names.count == count else { throw bad("it holds \(names.count) documents; the signed state counts \(count)") }
        guard zip(names, names.dropFirst()).allSatisfy({ $0.utf8.lexicographicallyPrecedes($1.utf8) }) else {
            throw bad("its documents are not in the order of their names' bytes")
        }
        var documents: [DocumentRecord] = [], versions: [VersionRecord] = [], withdrawals: [String: [WithdrawalRecord]] = [:]
        for name in names {
            guard let document = try record(StateKey.document(caseNumber, name), as: DocumentRecord.self),
                  same(document.caseNumber, caseNumber), same(document.name, name), (1...1_000_000).contains(document.latestVersion),
                  (try? Vault.validate(documentName: name)) != nil, (try? Vault.validate(documentType: document.type)) != nil else {
                throw bad("document '\(name)' is missing, misnamed or breaks the rules of filing")
            }
            documents.append(document)
            for number in 1...document.latestVersion {
                guard let version = try record(StateKey.version(caseNumber, name, number), as: VersionRecord.self),
                      same(version.caseNumber, caseNumber), same(version.document, name), version.version == number else {
                    throw bad("version \(number) of '\(name)' is missing")
                }
                guard Tier(rawValue: version.tier) != nil, ObjectID(hex: version.objectId) != nil,
                      (0...(1 << 50)).contains(version.size), (0...(1 << 50)).contains(version.ciphertextSize),
                      version.origin.map({ CaseNumber($0.case)?.description == $0.case
                          && ($0.vault == nil || UUID(uuidString: $0.vault!)?.uuidString.lowercased() == $0.vault) }) ?? true else {
                    throw bad("version \(number) of '\(name)' breaks the rules of filing")
                }
                versions.append(version)
            }
            if let list = try record(StateKey.withdrawals(caseNumber, name), as: WithdrawalState.self) {
                guard !list.versions.isEmpty, list.versions.allSatisfy({ same($0.caseNumber, caseNumber) && same($0.document, name)
                          && (1...document.latestVersion).contains($0.version) }),
                      zip(list.versions, list.versions.dropFirst()).allSatisfy({ $0.version < $1.version }) else {
                    throw bad("the withdrawals of '\(name)' name another case, document or version")
                }
                withdrawals[name] = list.versions
            }
        }
        let tags = try record(StateKey.tags(caseNumber), as: TagState.self)?.tags ?? []
        guard tags.allSatisfy({ same($0.caseNumber, caseNumber) && CaseTags.isValid($0.tag) }),
              zip(tags, tags.dropFirst()).allSatisfy({ $0.tag.utf8.lexicographicallyPrecedes($1.tag.utf8) }) else {
            throw bad("its tags name another case or are not tags")
        }
        let lifecycle = try record(StateKey.lifecycle(caseNumber), as: LifecycleState.self) ?? LifecycleState(changes: [], pendingClosure: nil)
        guard lifecycle.changes.allSatisfy({ same($0.caseNumber, caseNumber) && CaseStatus(rawValue: $0.from) != nil
                  && CaseStatus(rawValue: $0.to) != nil }),
              // (Sequence numbers may repeat: a case imported before keeps the
              // vault before's numbers for its earlier changes. The list is
              // signed whole, in order, under the checked root.)
              lifecycle.aoExtension.map({ same($0.caseNumber, caseNumber) && Lifecycle.parseDay($0.until) != nil }) ?? true,
              lifecycle.pendingClosure.map({ same($0.caseNumber, caseNumber) }) ?? true else {
            throw bad("its status history names another case or unknown statuses")
        }
        // Who signed must not have left before they signed.
        for id in Set(parsed.dropFirst(2).map(\.actor)) {
            guard let member = try record(StateKey.staff(id), as: StaffRecord.self), member.id == id else {
                throw bad("it does not carry the staff record of '\(id)'")
            }
            if let left = member.left, let late = parsed.first(where: { $0.actor == id && $0.seq > left.seq }) {
                throw bad("event \(late.seq) is signed by '\(id)', who left the staff at event \(left.seq)")
            }
        }
        return ProvenCase(fromVault: fromVault, state: state, documents: documents, versions: versions, withdrawals: withdrawals, tags: tags, lifecycle: lifecycle,
                          transfer: transfer, transferSeq: last.seq, transferredBy: last.actor, events: parsed)
    }
}
