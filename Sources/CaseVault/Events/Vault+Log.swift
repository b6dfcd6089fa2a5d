internal import CaseVaultCrypto

extension Vault {
    /// The log's tree head now: its size and RFC 9162 root hash, as checked.
    public func eventTreeHead() throws -> (size: Int, rootHex: String) {
        try read { _, head in (Int(head.size), head.logRoot.hexString) }
    }

    /// Events in order, as (seq, type, actor, body as canonical JSON): type
    /// and actor from the signed body, not the row's columns, and the whole
    /// list hashed again into the log's tree and held to the trusted root,
    /// so an event edited or swapped in the catalog is refused, not listed.
    /// (Signatures are checked as the trusted head is established or caught
    /// up; `verify` checks each one again.)
    public func events() throws -> [(seq: Int64, type: String, actor: String, body: String)] {
        try read { reader, head in
            var out: [(Int64, String, String, String)] = []
            guard head.size > 0 else { return [] }
            var range = CompactRange()
            try reader.forEachEvent(in: 1...head.size) { record in
                _ = range.append(leaf: LogTree.leafHash(body: record.body, signature: record.signature))
                let event = try Event(body: record.body)
                guard event.seq == record.seq else {
                    throw VaultError.integrityFailure("event \(record.seq) says it is event \(event.seq)")
                }
                out.append((record.seq, event.type.rawValue, event.actor, String(decoding: record.body, as: UTF8.self)))
                return true
            }
            guard range.size == head.size, range.root == head.logRoot else {
                throw VaultError.integrityFailure("the stored events are not the \(head.size) of the trusted log")
            }
            return out
        }
    }
}
