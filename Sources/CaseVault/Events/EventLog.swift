internal import CaseVaultCrypto
internal import Foundation
internal import GRDB

/// The kinds of event (SECURITY.md §12; Schemas/event.schema.json).
enum EventType: String, CaseIterable, Sendable {
    case vaultCreated = "vault.created"
    case staffAdded = "staff.added"
    case passphraseChanged = "staff.passphrase-changed"
    case caseOpened = "case.opened"
    case grantGiven = "grant.given"
    case versionFiled = "version.filed"
    case contentRead = "content.read"
    case contentRefused = "content.refused"
    case schemaAdded = "schema.added"
}

/// One row of the `events` table.
struct EventRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "events"
    var seq: Int64
    var type: String
    var actor: String
    var at: String
    var body: Data
    var signature: Data
    var leaf_hash: Data
}

/// The append-only, signed event log. Every change and every read of
/// content appends one event in the same SQLite transaction that updates
/// the catalog tables, so the tables never say anything the log does not.
///
/// An event's body is the canonical JSON of
/// `{"v":1,"seq":…,"vault":…,"at":…,"actor":…,"type":…,"data":{…}}`;
/// the actor signs `"casevault-event-v1\n" || body` with Ed25519; the
/// Merkle leaf is `body || signature`, hashed as RFC 9162 says:
/// `SHA-256(0x00 || leaf)`.
enum EventLog {
    static let formatVersion: Int64 = 1
    static let signingContext = Array("casevault-event-v1\n".utf8)

    /// Appends an event inside the caller's write transaction and returns
    /// its sequence number. Sequence numbers come from the table itself
    /// under SQLite's write lock, so two processes can never take the same
    /// one or leave a gap.
    @discardableResult
    static func append(_ type: EventType, data: [String: JSONValue], actor: StaffIdentity,
                       vaultID: String, at date: Date, in db: Database) throws -> Int64 {
        let seq = (try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM events") ?? 0) + 1
        let at = Timestamp.string(from: date)
        let body = JSONValue.object([
            "v": .integer(formatVersion),
            "seq": .integer(seq),
            "vault": .string(vaultID),
            "at": .string(at),
            "actor": .string(actor.id),
            "type": .string(type.rawValue),
            "data": .object(data),
        ]).canonicalBytes
        let signature = actor.signingKeys.sign(signingContext + body)
        try EventRow(seq: seq, type: type.rawValue, actor: actor.id, at: at, body: Data(body),
                     signature: Data(signature), leaf_hash: Data(leafHash(body: body, signature: signature))).insert(db)
        return seq
    }

    static func leafHash(body: [UInt8], signature: [UInt8]) -> [UInt8] {
        SHA256.hash([0x00] + body + signature)
    }

    /// RFC 9162 §2.1.1 Merkle Tree Hash over leaf hashes already computed
    /// as `SHA-256(0x00 || leaf)`.
    static func treeHead(leafHashes: ArraySlice<[UInt8]>) -> [UInt8] {
        switch leafHashes.count {
        case 0: return SHA256.hash([UInt8]())
        case 1: return leafHashes.first!
        default:
            var split = 1
            while split * 2 < leafHashes.count { split *= 2 }
            let left = treeHead(leafHashes: leafHashes.prefix(split))
            let right = treeHead(leafHashes: leafHashes.dropFirst(split))
            return SHA256.hash([0x01] + left + right)
        }
    }
}

/// A hex BLAKE2b-256 of a secret-bearing blob, for events.
func blobHash(_ bytes: some ReadableBytes) -> JSONValue {
    .string(Blake2b.hash(bytes).hexString)
}

func hexValue(_ bytes: [UInt8]) -> JSONValue { .string(bytes.hexString) }

extension Vault {
    /// The log's tree head now: its size and RFC 9162 root hash.
    public func eventTreeHead() throws -> (size: Int, rootHex: String) {
        let leaves = try catalog.read { db in
            try Data.fetchAll(db, sql: "SELECT leaf_hash FROM events ORDER BY seq")
        }.map { Array($0) }
        return (leaves.count, EventLog.treeHead(leafHashes: leaves[...]).hexString)
    }

    /// The body of event 1 when it is `vault.created`, parsed; nil while
    /// the vault has no admin (and so no events) yet.
    func vaultCreatedEvent() throws -> JSONValue? {
        guard let row = try catalog.read({ db in try EventRow.fetchOne(db, key: 1) }) else { return nil }
        guard row.type == EventType.vaultCreated.rawValue, let body = try? JSONValue(parsing: Array(row.body)) else {
            throw VaultError.integrityFailure("the first event of the log is not the vault's creation")
        }
        return body
    }

    /// Events in order, as (seq, type, actor, body as canonical JSON).
    public func events() throws -> [(seq: Int64, type: String, actor: String, body: String)] {
        try catalog.read { db in try EventRow.order(Column("seq")).fetchAll(db) }
            .map { ($0.seq, $0.type, $0.actor, String(decoding: $0.body, as: UTF8.self)) }
    }
}
