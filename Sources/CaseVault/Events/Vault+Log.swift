internal import CaseVaultCrypto

extension Vault {
    /// The log's tree head now: its size and RFC 9162 root hash, as checked.
    public func eventTreeHead() throws -> (size: Int, rootHex: String) {
        try read { _, head in (Int(head.size), head.logRoot.hexString) }
    }

    /// Events in order, as (seq, type, actor, body as canonical JSON), each
    /// checked as part of the trusted log.
    public func events() throws -> [(seq: Int64, type: String, actor: String, body: String)] {
        try read { reader, head in
            var out: [(Int64, String, String, String)] = []
            guard head.size > 0 else { return [] }
            try reader.forEachEvent(in: 1...head.size) { record in
                out.append((record.seq, record.type, record.actor, String(decoding: record.body, as: UTF8.self)))
                return true
            }
            return out
        }
    }
}
