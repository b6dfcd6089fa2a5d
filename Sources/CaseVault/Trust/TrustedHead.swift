internal import CaseVaultCrypto
internal import Foundation

/// A tree head the caller trusts without the vault's help: a checkpoint kept
/// outside the vault, one an auditor brings, or the head sealed into a
/// member's wrapped keys (SECURITY.md §12b).
public struct TrustAnchor: Sendable, Equatable {
    public let size: Int64
    public let root: [UInt8]
    /// Where it came from, for messages: "your last checkpoint", …
    public let source: String

    public init(size: Int64, root: [UInt8], source: String) {
        self.size = size
        self.root = root
        self.source = source
    }
}

/// The log as far as this process has checked it: the compact range of the
/// first `size` events (so the log root), and the state map's root after
/// event `size`, as that event signed it. Everything a command decides is
/// read through a `SignedState` under `stateRoot`.
struct TrustedHead {
    var range: CompactRange
    /// Nil when the newest event signed no state root (format 1).
    var stateRoot: [UInt8]?
    /// For a vault whose newest event predates signed state roots (format
    /// 1): the state map rebuilt by replaying the verified log, which the
    /// next appended event will sign.
    var legacyState: MemoryCatalogStore?
    /// True when some anchor pinned the log; false on first use (the log was
    /// only checked to be signed consistently, SECURITY.md §12b).
    var anchored: Bool
    /// The vault's verified nodes and records, which its signed reads use.
    var verified: VerifiedCaches?
    /// The format new events are signed in (`Event.format(forVault:)`),
    /// set by the vault that checked this head.
    var eventFormat: Int?
    /// The newest event format the log may hold, from its signed
    /// `vault.created` (`Trust.newestFormat`), once a catch-up or a first
    /// use has read it.
    var newestFormat: Int?

    var size: Int64 { range.size }
    var logRoot: [UInt8] { range.root }

    static let empty = TrustedHead(range: CompactRange(), stateRoot: StateMap.empty, legacyState: nil, anchored: true)

    /// Reads checked against this head's state.
    func signedState(_ reader: any CatalogReader) -> SignedState {
        precondition(stateRoot != nil, "legacy state must be rebuilt before reading signed state")
        if let legacyState { return SignedState(reader: reader, root: stateRoot!, nodes: LegacyNodes(store: legacyState)) }
        return SignedState(reader: reader, root: stateRoot!, verified: verified)
    }
}

/// Public keys and roles of the members who sign, learned from their
/// verified `staff.added` events: a cache, not a source of trust. An entry
/// was true of the log it was learned from, which may not be the log
/// checked now (a log rewritten between two checks in one process): a
/// check takes an entry only as its own sources give it (`Trust.signer`
/// with `firstAdded`, `Trust.catchUp`), and else looks the signer up again.
final class SignerBook: @unchecked Sendable {
    struct Signer {
        let key: SigningPublicKey
        let role: Role
        let addedSeq: Int64
    }
    private let lock = NSLock()
    private var signers: [String: Signer] = [:]
    /// The first staff.added and staff.left of each id in the trusted range
    /// last asked about (`Trust.additions`, `Trust.departures`): a command's
    /// checkpoint check and the catch-up after it most often ask about the
    /// same one. (Kept by range: what a range holds is fixed by its root.)
    private var additions: (range: CompactRange, found: [String: Trust.Addition])?
    private var departures: (range: CompactRange, found: [String: Int64])?

    subscript(id: String) -> Signer? {
        get { lock.lock(); defer { lock.unlock() }; return signers[id] }
        set { lock.lock(); signers[id] = newValue; lock.unlock() }
    }

    func additions(in range: CompactRange, scan: () throws -> [String: Trust.Addition]) rethrows -> [String: Trust.Addition] {
        try remembered(\.additions, in: range, scan: scan)
    }

    func departures(in range: CompactRange, scan: () throws -> [String: Int64]) rethrows -> [String: Int64] {
        try remembered(\.departures, in: range, scan: scan)
    }

    private func remembered<Found>(_ slot: ReferenceWritableKeyPath<SignerBook, (range: CompactRange, found: Found)?>,
                                   in range: CompactRange, scan: () throws -> Found) rethrows -> Found {
        if let known = lock.withLock({ self[keyPath: slot] }), known.range == range { return known.found }
        let found = try scan()
        lock.withLock { self[keyPath: slot] = (range, found) }
        return found
    }
}

/// The first `staff.added` of each id in a trusted range (`Trust.additions`),
/// found the first time one is asked for, and only then.
final class FirstAdditions {
    let range: CompactRange
    let reader: any CatalogReader
    let book: SignerBook
    private var found: [String: Trust.Addition]?

    init(range: CompactRange, reader: any CatalogReader, book: SignerBook) {
        self.range = range
        self.reader = reader
        self.book = book
    }

    func of(_ id: String) throws -> Trust.Addition? {
        if found == nil { found = try Trust.additions(range: range, reader: reader, book: book) }
        return found![id]
    }

    /// Whether `signer` is what the range's first addition of `id` gives:
    /// the same event, key and role.
    func gives(_ signer: SignerBook.Signer, to id: String) throws -> Bool {
        try of(id).map { $0.gives(signer) } ?? false
    }
}

extension VaultError {
    static func secondAddition(_ id: String, first: Int64, second: Int64) -> VaultError {
        .integrityFailure("'\(id)' was first added at event \(first): the key of event \(second), a second addition of the same id, is not theirs")
    }
}

/// Establishing and extending trust in the log (SECURITY.md §12b).
enum Trust {
    static func logBroken(_ anchor: TrustAnchor, _ why: String) -> VaultError {
        .integrityFailure("the event log does not extend \(anchor.source) (\(anchor.size) events): \(why); it was truncated, rolled back or rewritten")
    }

    /// Checks that the stored log holds `anchor` as a prefix and returns the
    /// trusted head at the anchor's size.
    static func head(at anchor: TrustAnchor, reader: any CatalogReader) throws -> TrustedHead {
        let last = try reader.lastEventSeq()
        guard anchor.size <= last else { throw logBroken(anchor, "the log now has only \(last) events") }
        guard anchor.size > 0 else { return .empty }
        let range: CompactRange
        do { range = try CompactRange(LogNodes(reader: reader), size: anchor.size) } catch {
            throw logBroken(anchor, "its Merkle tree is incomplete")
        }
        guard range.root == anchor.root else { throw logBroken(anchor, "the first \(anchor.size) events are not the ones seen then") }
        let event = try trustedEvent(anchor.size, range: range, reader: reader)
        return TrustedHead(range: range, stateRoot: event.stateRoot, legacyState: nil, anchored: true)
    }

    /// Event `seq` ≤ range.size, its leaf recomputed from its body and
    /// signature and proved included under the range's root.
    static func trustedEvent(_ seq: Int64, range: CompactRange, reader: any CatalogReader) throws -> Event {
        try trustedRecord(seq, range: range, reader: reader).event
    }

    /// As `trustedEvent`, with the stored record and its recomputed leaf.
    static func trustedRecord(_ seq: Int64, range: CompactRange, reader: any CatalogReader) throws
        -> (event: Event, record: EventRecord, leaf: [UInt8]) {
        guard let record = try reader.event(seq: seq) else {
            throw VaultError.integrityFailure("event \(seq) is missing from the log")
        }
        let leaf = LogTree.leafHash(body: record.body, signature: record.signature)
        let proof = try LogTree.inclusionProof(LogNodes(reader: reader), index: seq - 1, size: range.size)
        guard LogTree.verifyInclusion(leaf: leaf, index: seq - 1, size: range.size, proof: proof, root: range.root) else {
            throw VaultError.integrityFailure("event \(seq) was altered after it was signed")
        }
        let event = try Event(body: record.body)
        guard event.seq == seq, record.type == event.type.rawValue, record.actor == event.actor, record.at == event.at else {
            throw VaultError.integrityFailure("the stored columns of event \(seq) differ from its signed body")
        }
        return (event, record, leaf)
    }

    /// The signing key and role of `actor`, from their `staff.added` event,
    /// which must lie in the trusted prefix `range` and be validly signed by
    /// its own signer (recursively, up to the first admin), and be their
    /// first addition there (`firstAdded`, for `range`): a second addition
    /// of an id, even signed by an admin, gives no key to sign as them.
    /// `book` is a cache: with `firstAdded`, an entry counts only if it is
    /// what that first addition gave (same event, key and role), else the
    /// signer is looked up again and the entry replaced. With `firstAdded`
    /// nil (predictions only: the catch-up's pre-pass, into a book of its
    /// own) entries are taken as they are and the first-addition rule is not
    /// applied.
    static func signer(_ actor: String, range: CompactRange, reader: any CatalogReader, book: SignerBook,
                       firstAdded: FirstAdditions?, depth: Int = 0) throws -> SignerBook.Signer {
        // What the book holds is taken only as this range's first addition of them gives it.
        if let known = book[actor], try firstAdded.map({ try $0.gives(known, to: actor) }) ?? true { return known }
        guard depth < 64 else { throw VaultError.integrityFailure("the chain of admins who added '\(actor)' does not end") }
        guard let row = try reader.staff(id: actor) else {
            throw VaultError.integrityFailure("event signer '\(actor)' is not on the staff")
        }
        guard row.addedSeq >= 2, row.addedSeq <= range.size else {
            throw VaultError.integrityFailure("'\(actor)' was added by no event of the log")
        }
        let event = try trustedEvent(row.addedSeq, range: range, reader: reader)
        guard case .staffAdded(let data) = event.data, data.id == actor, let role = Role(rawValue: data.role),
              let keyBytes = [UInt8](hexString: data.signingPublicKey), let key = try? SigningPublicKey(bytes: keyBytes) else {
            throw VaultError.integrityFailure("event \(row.addedSeq) is not the addition of '\(actor)'")
        }
        if let firstAdded, let first = try firstAdded.of(actor), first.seq != row.addedSeq {
            throw VaultError.secondAddition(actor, first: first.seq, second: row.addedSeq)
        }
        let added = try reader.event(seq: row.addedSeq)!
        let adderKey: SigningPublicKey
        if event.seq == 2 {
            // The first admin signs their own addition and, before it, vault.created.
            guard event.actor == actor, role == .admin else { throw VaultError.integrityFailure("the first member added is not a self-signed admin") }
            adderKey = key
            let first = try trustedEvent(1, range: range, reader: reader)
            guard case .vaultCreated = first.data, first.actor == actor,
                  let created = try reader.event(seq: 1),
                  key.isValidSignature(created.signature, for: Event.signedMessage(body: created.body)) else {
                throw VaultError.integrityFailure("the vault's first event is not signed by its first admin")
            }
        } else {
            let adder = try signer(event.actor, range: range, reader: reader, book: book, firstAdded: firstAdded, depth: depth + 1)
            guard Policy.maySign(.staffAdded, role: adder.role), adder.addedSeq < event.seq else {
                throw VaultError.integrityFailure("'\(actor)' was added by '\(event.actor)', who may not add staff")
            }
            adderKey = adder.key
        }
        guard adderKey.isValidSignature(added.signature, for: Event.signedMessage(body: added.body)) else {
            throw VaultError.integrityFailure("the staff.added event of '\(actor)' has a bad signature")
        }
        let signer = SignerBook.Signer(key: key, role: role, addedSeq: event.seq)
        book[actor] = signer
        return signer
    }

    /// Who left the staff, and at which event, in the trusted log `range`:
    /// the `staff.left` events the stored type column finds, each proved
    /// included under the range's root. (A staff.left whose type column was
    /// edited escapes this until `verify`, which reads every event.)
    static func departures(range: CompactRange, reader: any CatalogReader, book: SignerBook) throws -> [String: Int64] {
        try book.departures(in: range) {
            var first: [String: Int64] = [:]
            for event in try trustedEvents(.staffLeft, range: range, reader: reader) {
                guard case .staffLeft(let data) = event.data else { throw notThe(.staffLeft, event) }
                first[data.id] = min(first[data.id] ?? event.seq, event.seq)
            }
            return first
        }
    }

    /// A member's first addition: where, and the signing key and role it gave.
    struct Addition: Equatable {
        let seq: Int64
        let signingKey: String
        let role: String

        func gives(_ signer: SignerBook.Signer) -> Bool {
            seq == signer.addedSeq && signingKey == signer.key.bytes.hexString && role == signer.role.rawValue
        }
    }

    /// Who was added to the staff, at which event and with which key (the
    /// first addition of each id), in the trusted log `range`, found as
    /// `departures` are.
    static func additions(range: CompactRange, reader: any CatalogReader, book: SignerBook) throws -> [String: Addition] {
        try book.additions(in: range) {
            var first: [String: Addition] = [:]
            for event in try trustedEvents(.staffAdded, range: range, reader: reader) {
                guard case .staffAdded(let data) = event.data else { throw notThe(.staffAdded, event) }
                if first[data.id].map({ event.seq < $0.seq }) ?? true { first[data.id] = Addition(seq: event.seq, signingKey: data.signingPublicKey, role: data.role) }
            }
            return first
        }
    }

    private static func notThe(_ type: EventType, _ event: Event) -> VaultError {
        .integrityFailure("event \(event.seq) is not the \(type.rawValue) the catalog says")
    }

    /// The events of the trusted log `range` whose stored type column is
    /// `type`, each parsed, its stored columns matched to its body, and all
    /// proved included under the range's root at once (`LogTree.root(_:size:replacing:)`);
    /// when they are not, the first altered one is named. (Rows numbered
    /// outside 1…size are in no log: `verify` reports them.)
    static func trustedEvents(_ type: EventType, range: CompactRange, reader: any CatalogReader) throws -> [Event] {
        guard range.size > 0 else { return [] }
        var events: [Event] = [], leaves: [Int64: [UInt8]] = [:]
        for record in try reader.events(type: type.rawValue, actor: nil) where (1...range.size).contains(record.seq) {
            let event: Event
            do {
                event = try Event(body: record.body)
                guard event.seq == record.seq, record.type == event.type.rawValue, record.actor == event.actor, record.at == event.at else {
                    throw VaultError.integrityFailure("the stored columns of event \(record.seq) differ from its signed body")
                }
            } catch {
                _ = try trustedEvent(record.seq, range: range, reader: reader)  // an altered body is named as such
                throw error
            }
            events.append(event)
            leaves[record.seq - 1] = LogTree.leafHash(body: record.body, signature: record.signature)
        }
        guard !leaves.isEmpty, try LogTree.root(LogNodes(reader: reader), size: range.size, replacing: leaves) != range.root else { return events }
        for event in events { _ = try trustedEvent(event.seq, range: range, reader: reader) }  // names the altered one
        throw VaultError.integrityFailure("the \(type.rawValue) events were altered after they were signed")
    }

    /// Events parsed and their signatures checked ahead at a time (catchUp's `batch`).
    static let checkedAhead = 4_096

    /// Verifies the events after `head` up to the log's end, one by one
    /// (each signature by its signer's key, the one their first addition
    /// gave, before the event; each signer allowed to sign its kind and not
    /// gone; no id added twice; sequence numbers gapless), and extends
    /// `head` over them. The
    /// stored Merkle nodes over the new events must then agree, by an RFC
    /// 9162 consistency proof, with the leaves recomputed here.
    /// An event of a format newer than the vault signs is refused (a vault
    /// of format 1 or 2 never signs format 5): the vault's format is the
    /// one its signed `vault.created` records (`newestFormat`).
    static func catchUp(_ head: TrustedHead, reader: any CatalogReader, vaultID: String, book: SignerBook,
                        through end: Int64? = nil, batch batchSize: Int = checkedAhead,
                        progress: ((Int64, Int64) -> Void)? = nil) throws -> TrustedHead {
        let last = try end ?? reader.lastEventSeq()
        guard last >= head.size else {
            throw VaultError.integrityFailure("the event log has \(last) events, fewer than the \(head.size) already seen: it was truncated or rolled back")
        }
        guard last > head.size else { return head }
        let prefix = head.range
        var next = head
        var expected = head.size + 1
        var pendingFirst: EventRecord?
        // The format of the last trusted event, proved included: a format
        // never goes back across the trusted prefix either.
        var previousFormat = head.size > 0 ? try trustedEvent(head.size, range: prefix, reader: reader).format : 0
        // Members who left sign nothing after (SECURITY.md §12, §12b): those
        // whose staff.left is in the trusted prefix (found by the stored type
        // column, each proved included) and those whose staff.left comes in
        // these events.
        var departed = try Trust.departures(range: prefix, reader: reader, book: book)
        var newestFormat = try head.newestFormat ?? Trust.newestFormat(range: prefix, reader: reader)
        // A member's key is the one their first staff.added gave: a second
        // addition of the same id, even signed by an admin, would let its
        // signer sign as them (SECURITY.md §12b). The first additions in the
        // trusted prefix are looked for only when needed (found as the
        // departures are); those among these events, as they are met.
        let firstAdded = FirstAdditions(range: prefix, reader: reader, book: book)
        var addedHere: [String: Trust.Addition] = [:]
        // Each signer as this walk has checked them, the first time they sign in it (not
        // read from the shared book again: another walk may write there meanwhile).
        var checkedSigners: [String: SignerBook.Signer] = [:]
        /// One event, checked in order; `parsed` is its body parsed ahead,
        /// `ahead` a signature check made ahead with the key it names.
        func check(_ record: EventRecord, _ parsed: Result<Event, any Error>, _ ahead: (key: SigningPublicKey, valid: Bool)?) throws {
            guard record.seq == expected else {
                throw VaultError.integrityFailure("event \(expected) is missing from the log")
            }
            let event = try parsed.get()
            guard event.seq == record.seq, event.vault == vaultID else {
                throw VaultError.integrityFailure("event \(record.seq) does not belong at this place in this vault's log")
            }
            guard record.type == event.type.rawValue, record.actor == event.actor, record.at == event.at else {
                throw VaultError.integrityFailure("the stored columns of event \(record.seq) differ from its signed body")
            }
            // Formats never go back (an event signed by hand in an older
            // format would escape the newer rules), and an event that
            // changes no state must sign the state it found.
            if event.format < previousFormat {
                throw VaultError.integrityFailure("event \(record.seq) is of format \(event.format) after format \(previousFormat)")
            }
            if let why = Event.beyondVault(event, newest: &newestFormat) {
                throw VaultError.integrityFailure("event \(record.seq) \(why)")
            }
            if [.contentRead, .contentRefused, .packageExported, .auditExported].contains(event.type), let before = next.stateRoot,
               event.stateRoot != before {
                throw VaultError.integrityFailure("event \(record.seq) (\(event.type.rawValue)) changes the signed state, which it cannot")
            }
            previousFormat = event.format
            let message = Event.signedMessage(body: record.body)
            switch (event.seq, event.data) {
            case (1, .vaultCreated):
                pendingFirst = record  // checked with the first admin's key, which event 2 brings
            case (2, .staffAdded(let data)):
                guard data.id == event.actor, data.role == Role.admin.rawValue, let first = try pendingFirst ?? (try reader.event(seq: 1)),
                      first.actor == event.actor,
                      let keyBytes = [UInt8](hexString: data.signingPublicKey), let key = try? SigningPublicKey(bytes: keyBytes),
                      key.isValidSignature(record.signature, for: message),
                      key.isValidSignature(first.signature, for: Event.signedMessage(body: first.body)) else {
                    throw VaultError.integrityFailure("the vault's first two events are not its first admin creating it")
                }
                let admin = SignerBook.Signer(key: key, role: .admin, addedSeq: 2)
                book[data.id] = admin
                addedHere[data.id] = Trust.Addition(seq: 2, signingKey: data.signingPublicKey, role: data.role)
                checkedSigners[data.id] = admin
            default:
                guard event.seq > 2 else { throw VaultError.integrityFailure("the log does not start with the vault's creation") }
                // Each signer as this walk has them: added in it (from that addition, and never
                // before it: the walk has not met it yet), or looked up in the trusted prefix,
                // the book's entry only as the prefix's first addition of them gives it (an entry
                // from another check of the log, added later there, finds no addition here).
                let signer: SignerBook.Signer
                if let checked = checkedSigners[event.actor] {
                    signer = checked
                } else if let met = addedHere[event.actor] {
                    throw VaultError.integrityFailure("event \(event.seq) (\(event.type.rawValue)) is signed by '\(event.actor)', whose addition (event \(met.seq)) gave no valid key and role")
                } else {
                    signer = try Trust.signer(event.actor, range: prefix, reader: reader, book: book, firstAdded: firstAdded)
                    checkedSigners[event.actor] = signer
                }
                // A check made ahead counts only for the very key required here.
                let valid = ahead.flatMap { $0.key == signer.key ? $0.valid : nil } ?? signer.key.isValidSignature(record.signature, for: message)
                guard valid else {
                    throw VaultError.integrityFailure("event \(event.seq) (\(event.type.rawValue)) is not validly signed by '\(event.actor)'")
                }
                guard Policy.maySign(event.type, role: signer.role) else {
                    throw VaultError.integrityFailure("event \(event.seq): \(signer.role.withArticle) may not sign \(event.type.rawValue)")
                }
                if let left = departed[event.actor] {
                    throw VaultError.integrityFailure("event \(event.seq) (\(event.type.rawValue)) is signed by '\(event.actor)', who left the staff at event \(left)")
                }
                if case .staffLeft(let data) = event.data { departed[data.id] = event.seq }
                if case .staffAdded(let data) = event.data {
                    if let first = try addedHere[data.id]?.seq ?? firstAdded.of(data.id)?.seq {
                        throw VaultError.integrityFailure("event \(event.seq) adds '\(data.id)', who was already added to the staff at event \(first)")
                    }
                    addedHere[data.id] = Trust.Addition(seq: event.seq, signingKey: data.signingPublicKey, role: data.role)
                    if let role = Role(rawValue: data.role), let keyBytes = [UInt8](hexString: data.signingPublicKey),
                       let key = try? SigningPublicKey(bytes: keyBytes) {
                        let added = SignerBook.Signer(key: key, role: role, addedSeq: event.seq)
                        book[data.id] = added
                        checkedSigners[data.id] = added
                    }
                }
            }
            next.range.append(leaf: LogTree.leafHash(body: record.body, signature: record.signature))
            next.newestFormat = newestFormat
            next.stateRoot = event.stateRoot
            next.legacyState = nil
            progress?(record.seq, last)
            expected += 1
        }
        // A member back after months, or on a new machine, has every event since checked here:
        // the parsing and the signatures, most of the work, are done ahead a batch at a time on
        // every core. Each signature is checked against the key its signer has in the book as
        // the batch begins, or is given by a staff.added earlier in the batch; nothing is
        // believed from that: `check`, one event at a time and in order, decides which key each
        // event needs, and takes the result made ahead only when it was made with that key.
        var batch: [EventRecord] = []
        func checkBatch() throws {
            guard !batch.isEmpty else { return }
            let events = Parallel.map(batch) { record in Result { try Event(body: record.body) } }
            // The keys as the batch begins, as predictions only: the book's as it is; a signer
            // not in it looked up in the trusted prefix into a book of the batch's own (without
            // the first-addition rule, which `check` applies); and those the batch's staff.added
            // events give. `check` takes a result made ahead only for the key it decided on.
            let scratch = SignerBook()
            var added: [String: SigningPublicKey] = [:], unknown = Set<String>()
            var keys: [SigningPublicKey?] = []
            keys.reserveCapacity(batch.count)
            for parsed in events {
                guard case .success(let event) = parsed else {
                    keys.append(nil)
                    continue
                }
                var key: SigningPublicKey?
                if event.seq > 2 {
                    key = added[event.actor] ?? book[event.actor]?.key
                    if key == nil, !unknown.contains(event.actor) {
                        key = (try? Trust.signer(event.actor, range: prefix, reader: reader, book: scratch, firstAdded: nil))?.key
                        if key == nil { unknown.insert(event.actor) }
                    }
                }
                keys.append(key)
                if case .staffAdded(let data) = event.data, let bytes = [UInt8](hexString: data.signingPublicKey),
                   let key = try? SigningPublicKey(bytes: bytes) {
                    added[data.id] = key
                }
            }
            let ahead = Parallel.map(Array(zip(batch, keys))) { record, key in
                key.map { (key: $0, valid: $0.isValidSignature(record.signature, for: Event.signedMessage(body: record.body))) }
            }
            for index in batch.indices { try check(batch[index], events[index], ahead[index]) }
            batch.removeAll(keepingCapacity: true)
        }
        try reader.forEachEvent(in: (head.size + 1)...last) { record in
            batch.append(record)
            if batch.count >= batchSize { try checkBatch() }
            return true
        }
        try checkBatch()
        guard expected == last + 1 else { throw VaultError.integrityFailure("event \(expected) is missing from the log") }
        if prefix.size > 0 {
            let proof = try LogTree.consistencyProof(LogNodes(reader: reader), from: prefix.size, to: last)
            guard LogTree.verifyConsistency(from: prefix.size, to: last, oldRoot: prefix.root, newRoot: next.range.root, proof: proof) else {
                throw VaultError.integrityFailure("the event log's stored Merkle tree disagrees with its events")
            }
        }
        return next
    }

    /// With nothing to anchor it (first use on this machine, no passphrase
    /// yet): the newest event, its signer and their chain of admins back to
    /// the vault's creation must all be signed and included consistently
    /// under the log's stored root. This catches edited rows and events; only
    /// an anchor catches a log rewritten whole.
    ///
    /// What it learns of signers goes into a book of its own, not the
    /// vault's: nothing vouches for this log yet, and the catch-up from the
    /// first anchor must look every signer up again under that anchor.
    static func firstUse(reader: any CatalogReader) throws -> TrustedHead {
        let book = SignerBook()
        let last = try reader.lastEventSeq()
        guard last > 0 else { return .empty }
        let range: CompactRange
        do { range = try CompactRange(LogNodes(reader: reader), size: last) } catch {
            throw VaultError.integrityFailure("the event log's Merkle tree is incomplete")
        }
        let event = try trustedEvent(last, range: range, reader: reader)
        let record = try reader.event(seq: last)!
        let newestFormat = try newestFormat(range: range, reader: reader)
        let firstAdded = FirstAdditions(range: range, reader: reader, book: book)
        if let why = Event.beyondVault(event.format, newest: newestFormat) {
            throw VaultError.integrityFailure("the newest event \(why)")
        }
        if last > 2 {
            let signer = try signer(event.actor, range: range, reader: reader, book: book, firstAdded: firstAdded)
            guard signer.key.isValidSignature(record.signature, for: Event.signedMessage(body: record.body)) else {
                throw VaultError.integrityFailure("the newest event is not validly signed by '\(event.actor)'")
            }
            if let left = try departures(range: range, reader: reader, book: book)[event.actor], left < event.seq {
                throw VaultError.integrityFailure("the newest event is signed by '\(event.actor)', who left the staff at event \(left)")
            }
        } else if last == 2 {
            _ = try signer(event.actor, range: range, reader: reader, book: book, firstAdded: firstAdded)
        }
        return TrustedHead(range: range, stateRoot: event.stateRoot, legacyState: nil, anchored: false, newestFormat: newestFormat)
    }

    /// The newest event format the vault signs (`Event.format(forVault:)`),
    /// from its signed `vault.created`, event 1 proved included under
    /// `range`; the newest there is for a log not yet begun. Not from
    /// casevault.json, which anyone who can write the folder can edit, and
    /// which is checked against the signed settings only once the log is
    /// trusted: an edited file is then blamed, not the events.
    static func newestFormat(range: CompactRange, reader: any CatalogReader) throws -> Int {
        guard range.size > 0 else { return Event.currentFormat }
        let first = try trustedEvent(1, range: range, reader: reader)
        guard case .vaultCreated = first.data else { throw VaultError.integrityFailure("the log does not start with the vault's creation") }
        return Event.newestFormat(Event.currentFormat, after: first)
    }
}

/// The state map of a legacy vault, rebuilt in memory.
struct LegacyNodes: StateNodeSource {
    let store: MemoryCatalogStore
    func stateNode(path: [UInt8]) throws -> StateNode? { try store.read { try $0.stateNode(path: path) } }
}
