internal import CaseVaultCrypto

/// Where the hashes of perfect subtrees of the event log come from: level 0
/// is the leaf hash of event `index + 1`, level ℓ ≥ 1 the hash of leaves
/// `[index·2^ℓ, (index+1)·2^ℓ)` (SECURITY.md §12). Stored hashes are not
/// trusted by themselves: every use below ends in a comparison with a root
/// that is (a checkpoint, a wrapped-key anchor, or leaves recomputed from
/// signed bodies).
protocol LogNodeSource {
    func logNode(level: Int, index: Int64) throws -> [UInt8]?
}

/// Every perfect subtree of a log, built in memory from its leaf hashes:
/// an audit export proves each of its events included, and read from the
/// catalog node by node (a leaf's whole event row for each level-0 node)
/// those paths took a fifth of the export's time. What it gives is
/// trusted only once a root computed from it equals a trusted one.
/// Each level is one buffer of 32-byte hashes (about 64 bytes a leaf in
/// all: 64 MB for a million events).
struct MemoryLogNodes: LogNodeSource {
    private var levels: [[UInt8]]

    init(leaves: [[UInt8]]) {
        precondition(leaves.allSatisfy { $0.count == SHA256.length }, "leaf hashes are 32 bytes")
        levels = [leaves.flatMap { $0 }]
        while let below = levels.last, below.count >= 2 * SHA256.length {
            var level: [UInt8] = []
            level.reserveCapacity(below.count / 2)
            for pair in stride(from: 0, to: below.count - SHA256.length, by: 2 * SHA256.length) {
                level += LogTree.nodeHash(Array(below[pair..<(pair + SHA256.length)]),
                                          Array(below[(pair + SHA256.length)..<(pair + 2 * SHA256.length)]))
            }
            levels.append(level)
        }
    }

    func logNode(level: Int, index: Int64) throws -> [UInt8]? {
        guard level >= 0, level < levels.count, index >= 0, index < Int64(levels[level].count / SHA256.length) else { return nil }
        let start = Int(index) * SHA256.length
        return Array(levels[level][start..<(start + SHA256.length)])
    }
}

/// The Merkle tree of RFC 9162 §2.1 over the event log, SHA-256 throughout:
/// a leaf hashes as `SHA-256(0x00 || body || signature)`, an inner node as
/// `SHA-256(0x01 || left || right)`, and a tree of n leaves splits at the
/// largest power of two below n.
enum LogTree {
    static let emptyRoot = SHA256.hash([UInt8]())

    static func leafHash(body: [UInt8], signature: [UInt8]) -> [UInt8] {
        SHA256.hash(tag: 0x00, body, signature)
    }

    static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        SHA256.hash(tag: 0x01, left, right)
    }

    /// The largest power of two strictly below `n` (n ≥ 2).
    static func split(_ n: Int64) -> Int64 {
        var k: Int64 = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// The perfect subtrees that cover `[0, size)`, left to right (largest
    /// first): one per bit set in `size`.
    static func compactRangeShape(size: Int64) -> [(level: Int, index: Int64)] {
        var shape: [(Int, Int64)] = []
        var start: Int64 = 0
        for level in stride(from: 62, through: 0, by: -1) where size & (Int64(1) << level) != 0 {
            shape.append((level, start >> level))
            start += Int64(1) << level
        }
        return shape
    }

    static func node(_ source: any LogNodeSource, level: Int, index: Int64) throws -> [UInt8] {
        guard let hash = try source.logNode(level: level, index: index), hash.count == SHA256.length else {
            throw VaultError.integrityFailure("the event log's Merkle tree is missing its node at level \(level), index \(index)")
        }
        return hash
    }

    /// MTH(D[start:end]) from stored perfect subtrees.
    static func subtreeHash(_ source: any LogNodeSource, start: Int64, end: Int64) throws -> [UInt8] {
        let count = end - start
        precondition(count > 0)
        if count & (count - 1) == 0 && start % count == 0 {
            return try node(source, level: count.trailingZeroBitCount, index: start / count)
        }
        let k = split(count)
        return nodeHash(try subtreeHash(source, start: start, end: start + k), try subtreeHash(source, start: start + k, end: end))
    }

    static func root(_ source: any LogNodeSource, size: Int64) throws -> [UInt8] {
        size == 0 ? emptyRoot : try subtreeHash(source, start: 0, end: size)
    }

    /// MTH(D[0:size]) with the leaves at the indices `leaves` gives taken
    /// from it, and every subtree holding one of them hashed again from
    /// below; the other subtrees are stored ones. Equal to a trusted root, it
    /// proves every given leaf included at once (a multi-leaf inclusion
    /// proof whose siblings are the stored nodes), in O(k·log(n/k)) reads
    /// for k leaves of n rather than k·log n.
    static func root(_ source: any LogNodeSource, size: Int64, replacing leaves: [Int64: [UInt8]]) throws -> [UInt8] {
        let indices = leaves.keys.sorted()
        precondition(indices.allSatisfy { (0..<size).contains($0) }, "leaves outside the tree")
        /// MTH(D[start:end]), the given leaves being indices[from..<to].
        func hash(_ start: Int64, _ end: Int64, _ from: Int, _ to: Int) throws -> [UInt8] {
            if from == to { return try subtreeHash(source, start: start, end: end) }
            if end - start == 1 { return leaves[start]! }
            let middle = start + split(end - start)
            var cut = from
            while cut < to, indices[cut] < middle { cut += 1 }
            return nodeHash(try hash(start, middle, from, cut), try hash(middle, end, cut, to))
        }
        return size == 0 ? emptyRoot : try hash(0, size, 0, indices.count)
    }

    /// RFC 9162 §2.1.3.1 PATH(m, D[n]), offset by `start`.
    static func inclusionProof(_ source: any LogNodeSource, index: Int64, size: Int64) throws -> [[UInt8]] {
        precondition(index < size)
        func path(_ m: Int64, _ start: Int64, _ end: Int64) throws -> [[UInt8]] {
            let n = end - start
            if n == 1 { return [] }
            let k = split(n)
            if m < k { return try path(m, start, start + k) + [try subtreeHash(source, start: start + k, end: end)] }
            return try path(m - k, start + k, end) + [try subtreeHash(source, start: start, end: start + k)]
        }
        return try path(index, 0, size)
    }

    /// RFC 9162 §2.1.4.1 PROOF(m, D[n]).
    static func consistencyProof(_ source: any LogNodeSource, from m: Int64, to n: Int64) throws -> [[UInt8]] {
        precondition(0 < m && m <= n)
        func subproof(_ m: Int64, _ start: Int64, _ end: Int64, _ complete: Bool) throws -> [[UInt8]] {
            let n = end - start
            if m == n { return complete ? [] : [try subtreeHash(source, start: start, end: end)] }
            let k = split(n)
            if m <= k { return try subproof(m, start, start + k, complete) + [try subtreeHash(source, start: start + k, end: end)] }
            return try subproof(m - k, start + k, end, false) + [try subtreeHash(source, start: start, end: start + k)]
        }
        return try subproof(m, 0, n, true)
    }

    /// RFC 9162 §2.1.3.2.
    static func verifyInclusion(leaf: [UInt8], index: Int64, size: Int64, proof: [[UInt8]], root: [UInt8]) -> Bool {
        guard index >= 0, index < size else { return false }
        var fn = index, sn = size - 1
        var r = leaf
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1; sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// RFC 9162 §2.1.4.2.
    static func verifyConsistency(from m: Int64, to n: Int64, oldRoot: [UInt8], newRoot: [UInt8], proof: [[UInt8]]) -> Bool {
        guard m > 0, m <= n else { return false }
        if m == n { return proof.isEmpty && oldRoot == newRoot }
        var path = proof
        if m & (m - 1) == 0 { path.insert(oldRoot, at: 0) }
        guard let first = path.first else { return false }
        var fn = m - 1, sn = n - 1
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        var fr = first, sr = first
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1; sn >>= 1
        }
        return sn == 0 && fr == oldRoot && sr == newRoot
    }
}

/// The right edge of the log held in memory: the hashes of the perfect
/// subtrees covering `[0, size)`. Appending a leaf is O(1) amortised and
/// yields the new perfect subtrees to store; the root is a fold. Trusted
/// once its root has been compared with a trusted one.
public struct CompactRange: Equatable, Sendable {
    public private(set) var size: Int64 = 0
    /// (level, hash), largest subtree first.
    private(set) var nodes: [(level: Int, hash: [UInt8])] = []

    public init() {}

    /// Reads the compact range of `[0, size)` from stored nodes.
    init(_ source: any LogNodeSource, size: Int64) throws {
        self.size = size
        nodes = try LogTree.compactRangeShape(size: size).map { ($0.level, try LogTree.node(source, level: $0.level, index: $0.index)) }
    }

    public static func == (lhs: CompactRange, rhs: CompactRange) -> Bool {
        lhs.size == rhs.size && lhs.nodes.map(\.hash) == rhs.nodes.map(\.hash)
    }

    public var root: [UInt8] {
        guard var hash = nodes.last?.hash else { return LogTree.emptyRoot }
        for node in nodes.dropLast().reversed() { hash = LogTree.nodeHash(node.hash, hash) }
        return hash
    }

    /// Where a stored subtree of the log is: its level (1 for a pair of
    /// leaves) and its index among the subtrees of that level.
    struct NodePosition: Hashable, Sendable {
        let level: Int
        let index: Int64
    }

    /// The perfect subtrees of level ≥ 1 that appending the leaf at
    /// `position` (0-based) completes, as `append` returns them: one per
    /// trailing one bit of `position`.
    static func nodesCompleted(byLeafAt position: Int64) -> [NodePosition] {
        (0..<(~position).trailingZeroBitCount).map { NodePosition(level: $0 + 1, index: position >> ($0 + 1)) }
    }

    /// Adds the next leaf; returns the perfect subtrees of level ≥ 1 it
    /// completed, as (level, index, hash), for storage.
    @discardableResult
    public mutating func append(leaf: [UInt8]) -> [(level: Int, index: Int64, hash: [UInt8])] {
        var completed: [(Int, Int64, [UInt8])] = []
        var level = 0
        var hash = leaf
        let position = size
        while let last = nodes.last, last.level == level {
            nodes.removeLast()
            hash = LogTree.nodeHash(last.hash, hash)
            level += 1
            completed.append((level, position >> level, hash))
        }
        nodes.append((level, hash))
        size += 1
        return completed
    }
}
