public import Foundation
internal import CaseVaultCrypto

/// An RFC 9162 inclusion proof that one event is in the log a checkpoint
/// commits to (`casevault audit prove`), checkable with nothing but the
/// checkpoint (`audit check-proof`, or any RFC 9162 implementation):
/// SECURITY.md §12d.
public struct InclusionProof: Sendable, Equatable {
    public static let format = "casevault-inclusion-proof-v1"
    /// `casevault/<vault id>`, as the checkpoint's first line.
    public let origin: String
    public let treeSize: Int64
    public let rootHash: [UInt8]
    /// The event's `seq` − 1.
    public let leafIndex: Int64
    /// The event's signed body (canonical JSON) and its Ed25519 signature.
    public let body: [UInt8]
    public let signature: [UInt8]
    public let path: [[UInt8]]

    public var leafHash: [UInt8] { LogTree.leafHash(body: body, signature: signature) }

    public var json: String {
        JSONValue.object([
            "format": .string(Self.format), "origin": .string(origin), "treeSize": .integer(treeSize),
            "rootHash": .string(rootHash.hexString), "leafIndex": .integer(leafIndex), "leafHash": .string(leafHash.hexString),
            "event": .object(["body": .string(String(decoding: body, as: UTF8.self)), "signature": .string(signature.hexString)]),
            "inclusionPath": .array(path.map { .string($0.hexString) }),
        ]).prettyText + "\n"
    }

    public init(parsing bytes: [UInt8]) throws {
        func bad(_ why: String) -> VaultError { .invalidInput("not a casevault inclusion proof: \(why)") }
        func hex(_ value: JSONValue?, _ count: Int) throws -> [UInt8] {
            guard let text = value?.stringValue, let raw = [UInt8](hexString: text), raw.count == count, raw.hexString == text else {
                throw bad("a hash is not \(count) bytes of hex")
            }
            return raw
        }
        guard bytes.count <= 16 << 20, let json = try? JSONValue(parsing: bytes), case .object(let o) = json, o["format"] == .string(Self.format),
              let origin = o["origin"]?.stringValue, let size = o["treeSize"]?.integerValue, let index = o["leafIndex"]?.integerValue,
              case .object(let event)? = o["event"], let body = event["body"]?.stringValue, case .array(let path)? = o["inclusionPath"],
              path.count <= 64 else {
            throw bad("a member is missing")
        }
        self.init(origin: origin, treeSize: size, rootHash: try hex(o["rootHash"], 32), leafIndex: index, body: Array(body.utf8),
                  signature: try hex(event["signature"], 64), path: try path.map { try hex($0, 32) })
        guard o["leafHash"]?.stringValue == leafHash.hexString else { throw bad("its leafHash is not the hash of its event") }
    }

    init(origin: String, treeSize: Int64, rootHash: [UInt8], leafIndex: Int64, body: [UInt8], signature: [UInt8], path: [[UInt8]]) {
        self.origin = origin
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.leafIndex = leafIndex
        self.body = body
        self.signature = signature
        self.path = path
    }

    /// Checks the proof against a checkpoint, without a vault: the same
    /// origin, size and root, the event's `seq` its leaf index + 1, and the
    /// path leading from its leaf hash to the root (RFC 9162 §2.1.3.2).
    /// Returns the event's type, actor and time.
    public func check(against checkpoint: Checkpoint) throws -> (seq: Int64, type: String, actor: String, at: String) {
        guard checkpoint.origin == origin, checkpoint.size == treeSize, checkpoint.root == rootHash else {
            throw VaultError.integrityFailure("the proof is for another tree than the checkpoint's (\(checkpoint.origin), \(checkpoint.size) events)")
        }
        guard leafIndex >= 0, leafIndex < treeSize else { throw VaultError.integrityFailure("the proof's leaf index is outside its tree") }
        let event: Event
        do { event = try Event(body: body) } catch { throw VaultError.integrityFailure("the proof's event is not a casevault event") }
        guard event.seq == leafIndex + 1, Checkpoint.origin(vaultID: event.vault) == origin else {
            throw VaultError.integrityFailure("the proof's event is not the one at its leaf index, or of another vault")
        }
        guard LogTree.verifyInclusion(leaf: leafHash, index: leafIndex, size: treeSize, proof: path, root: rootHash) else {
            throw VaultError.integrityFailure("event \(event.seq) is not in the log the checkpoint commits to")
        }
        return (event.seq, event.type.rawValue, event.actor, event.at)
    }
}

extension Vault {
    /// The inclusion proof of event `seq` under `checkpoint`, which must be
    /// a checkpoint of this vault whose tree is a prefix of the trusted log
    /// (an RFC 9162 consistency proof from its size to the trusted head),
    /// with `seq` inside it. The proof is checked before it is returned.
    public func inclusionProof(seq: Int64, under checkpoint: Checkpoint) throws -> InclusionProof {
        try read { reader, head in
            guard checkpoint.origin == Checkpoint.origin(vaultID: config.vaultId) else {
                throw VaultError.invalidInput("that checkpoint is of another vault (\(checkpoint.origin))")
            }
            guard checkpoint.size <= head.size else {
                throw VaultError.integrityFailure("the checkpoint has \(checkpoint.size) events; this vault's trusted log only \(head.size)")
            }
            guard (1...max(checkpoint.size, 1)).contains(seq), checkpoint.size > 0 else {
                throw VaultError.invalidInput("event \(seq) is not among the checkpoint's \(checkpoint.size) events")
            }
            let nodes = LogNodes(reader: reader)
            if checkpoint.size < head.size {
                let consistency = try LogTree.consistencyProof(nodes, from: checkpoint.size, to: head.size)
                guard LogTree.verifyConsistency(from: checkpoint.size, to: head.size, oldRoot: checkpoint.root, newRoot: head.logRoot,
                                                proof: consistency) else {
                    throw VaultError.integrityFailure("this vault's log does not extend the checkpoint")
                }
            } else if checkpoint.root != head.logRoot {
                throw VaultError.integrityFailure("this vault's log does not extend the checkpoint")
            }
            guard let record = try reader.event(seq: seq) else { throw VaultError.integrityFailure("event \(seq) is missing from the log") }
            let proof = InclusionProof(origin: checkpoint.origin, treeSize: checkpoint.size, rootHash: checkpoint.root, leafIndex: seq - 1,
                                       body: record.body, signature: record.signature,
                                       path: try LogTree.inclusionProof(nodes, index: seq - 1, size: checkpoint.size))
            _ = try proof.check(against: checkpoint)
            return proof
        }
    }
}
