internal import CaseVaultCrypto
internal import Foundation

/// Appends events: the only code that adds to the log. Inside the caller's
/// write transaction, each event is applied by the projection (which checks
/// it against the state before it and moves the state map), given the state
/// map's new root, signed by its actor, and hashed into the Merkle log
/// (SECURITY.md §12). Rows, event, log nodes and blobs land together or not
/// at all.
enum Ledger {
    /// `head` must be the trusted head of the log as it stands in this
    /// transaction (`Vault.trustedHead(in:)`); it is advanced past the new
    /// events. Returns their sequence numbers. Events are signed in the
    /// format of the vault (`head.eventFormat`; `vault.created`'s from the
    /// format it creates); `format` is for tests that sign another format
    /// by hand, as an attacker would.
    @discardableResult
    static func append(_ items: [EventData], by actor: StaffIdentity, at date: Date, vaultID: String,
                       head: inout TrustedHead, in writer: any CatalogWriter, format: Int? = nil) throws -> [Int64] {
        guard try writer.lastEventSeq() == head.size else { preconditionFailure("appending past an unchecked log") }
        if let legacy = head.legacyState {
            // The first event after format 1 signs the rebuilt map: store it.
            for node in try legacy.read({ ($0 as! MemoryCatalogStore.Transaction).allStateNodes() }) {
                try writer.putStateNode(node)
            }
            head.legacyState = nil
        }
        let at = Timestamp.string(from: date)
        var sequence: [Int64] = []
        // Events are projected one after the other (each against the state
        // the one before left) and signed together: an agent signs a
        // group's events in one request. Event 2's projection reads event
        // 1 (the first admin adding themselves), so what is pending is
        // appended before it.
        var pending: [(event: Event, body: [UInt8])] = []
        func appendPending() throws {
            guard !pending.isEmpty else { return }
            let signatures = try actor.keys.signAll(pending.map { Event.signedMessage(body: $0.body) })
            guard signatures.count == pending.count else { throw VaultError.integrityFailure("\(signatures.count) signatures for \(pending.count) events") }
            for ((event, body), signature) in zip(pending, signatures) {
                let leaf = LogTree.leafHash(body: body, signature: signature)
                try writer.appendEvent(EventRecord(seq: event.seq, type: event.type.rawValue, actor: actor.id, at: at,
                                                   body: body, signature: signature, leafHash: leaf))
                for node in head.range.append(leaf: leaf) {
                    try writer.putLogNode(level: node.level, index: node.index, hash: node.hash)
                }
            }
            pending = []
        }
        // The events' own reads of what the ones before them changed (StateOverlay).
        let overlay = head.stateRoot.map(StateOverlay.init(root:))
        for data in items {
            let seq = head.size + Int64(pending.count) + 1
            if seq == 2 { try appendPending() }
            // A log begun by hand (tests, attacks) takes its format from its first event.
            if head.eventFormat == nil, case .vaultCreated(let created) = data {
                head.eventFormat = Event.format(forVault: created.formatVersion)
            }
            guard let eventFormat = format ?? head.eventFormat else { preconditionFailure("append through a head that knows no event format") }
            var event = Event(format: eventFormat, seq: seq, vault: vaultID, at: at, actor: actor.id,
                              data: data, stateRoot: nil)
            guard let root = head.stateRoot else { preconditionFailure("append without a state root") }
            event.stateRoot = try Projection.apply(event, to: writer, root: root, verified: head.verified, overlay: overlay)
            pending.append((event, try event.body()))
            head.stateRoot = event.stateRoot
            sequence.append(event.seq)
        }
        try appendPending()
        return sequence
    }

    /// Stores a secret-bearing or large value by its BLAKE2b-256, the hash
    /// the event names.
    @discardableResult
    static func putBlob(_ bytes: [UInt8], in writer: any CatalogWriter) throws -> String {
        let hash = Blake2b.hash(bytes).hexString
        try writer.putBlob(hash: hash, bytes: bytes)
        return hash
    }
}

extension MemoryCatalogStore.Transaction {
    func allStateNodes() -> [StateNode] {
        state.stateNodes.map { $0.value.stateNode(at: $0.key) } + state.oddStateNodes.values
    }
}
