internal import CaseVaultCrypto
import Foundation

/// One stored node of the state map. For a leaf, `first` is the key hash
/// and `second` the value hash; for an inner node, the hashes of its left
/// and right children (32 zero bytes for an empty child).
public struct StateNode: Equatable, Sendable {
    public enum Kind: Int, Sendable { case leaf = 0, inner = 1 }
    public var path: [UInt8]
    public var kind: Kind
    public var hash: [UInt8]
    public var first: [UInt8]
    public var second: [UInt8]

    public init(path: [UInt8], kind: Kind, hash: [UInt8], first: [UInt8], second: [UInt8]) {
        self.path = path
        self.kind = kind
        self.hash = hash
        self.first = first
        self.second = second
    }
}

protocol StateNodeSource {
    func stateNode(path: [UInt8]) throws -> StateNode?
    /// The nodes at `paths` that exist, in one read, where the source can
    /// do that faster than one read each (SQLite: one query); nil where
    /// it cannot, and the walk reads node by node.
    func stateNodes(paths: [[UInt8]]) throws -> [[UInt8]: StateNode]?
    /// Whether `stateNodes(paths:)` can answer (else the walk does not make the paths to ask).
    var readsManyAtOnce: Bool { get }
}

extension StateNodeSource {
    func stateNodes(paths: [[UInt8]]) throws -> [[UInt8]: StateNode]? { nil }
    var readsManyAtOnce: Bool { false }
}

protocol StateNodeSink: StateNodeSource {
    func putStateNode(_ node: StateNode) throws
}

/// The state map (SECURITY.md §12a): an authenticated dictionary from
/// entity keys (`case/CP-2024-0042`, `staff/grace`, …) to the SHA-256 of
/// the entity's state record, as a compressed sparse Merkle tree over
/// SHA-256(key). Each signed event carries the map's root after the event
/// is applied, so a catalog row can be checked against signed state with
/// one path of hashes (O(log n)), and a row that was deleted, rolled back or
/// added by hand is found: the row's record hash is not the map's value.
///
/// Shape: the key hash's bits, most significant first, choose left (0) or
/// right (1). An empty subtree hashes to 32 zero bytes; a subtree holding one
/// entry is that entry's leaf, `SHA-256(0x00 || keyHash || valueHash)`, at
/// the highest position where it is alone; any other subtree is
/// `SHA-256(0x01 || left || right)`. The root of the empty map is 32 zero
/// bytes. Stored nodes are never trusted by themselves: every lookup and
/// update recomputes the root from the path it read and compares it with the
/// root it was given.
enum StateMap {
    static let empty = [UInt8](repeating: 0, count: 32)

    static func keyHash(_ key: String) -> [UInt8] { SHA256.hash(Array(key.utf8)) }
    static func leafHash(key: [UInt8], value: [UInt8]) -> [UInt8] { SHA256.hash(tag: 0x00, key, value) }
    static func innerHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] { SHA256.hash(tag: 0x01, left, right) }
    /// A node's hash from its members, as its kind defines it.
    static func nodeHash(_ kind: StateNode.Kind, _ first: [UInt8], _ second: [UInt8]) -> [UInt8] {
        kind == .leaf ? leafHash(key: first, value: second) : innerHash(first, second)
    }

    static func bit(_ key: [UInt8], _ index: Int) -> Int { Int(key[index >> 3] >> (7 - UInt8(index & 7))) & 1 }

    /// Two bytes of depth (big-endian), then the first `depth` bits of the
    /// key, zero-padded to whole bytes.
    static func path(_ key: [UInt8], depth: Int) -> [UInt8] {
        let whole = depth >> 3, partial = depth & 7
        let count = 2 + whole + (partial == 0 ? 0 : 1)
        precondition(key.count >= whole + (partial == 0 ? 0 : 1), "a path deeper than its key")
        // Written in place: the walks build one per level, millions in a replay.
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            out[0] = UInt8(depth >> 8)
            out[1] = UInt8(depth & 0xff)
            for index in 0..<whole { out[2 + index] = key[index] }
            if partial != 0 { out[2 + whole] = key[whole] & ~(0xff >> UInt8(partial)) }
            initialized = count
        }
    }

    enum Terminal: Equatable {
        case empty
        case leaf(key: [UInt8], value: [UInt8])

        var hash: [UInt8] {
            switch self {
            case .empty: StateMap.empty
            case .leaf(let key, let value): StateMap.leafHash(key: key, value: value)
            }
        }
    }

    /// The path from the root towards `key`: the sibling of each inner node
    /// passed and what was found where the path ends.
    struct Walk {
        var siblings: [[UInt8]] = []
        var terminal = Terminal.empty
        var depth: Int { siblings.count }

        /// The root recomputed from the bottom up, as SECURITY.md §12a
        /// describes the check: the tests hold the top-down walk to it.
        func root(for key: [UInt8]) -> [UInt8] {
            var hash = terminal.hash
            for depth in stride(from: siblings.count - 1, through: 0, by: -1) {
                hash = bit(key, depth) == 0 ? innerHash(hash, siblings[depth]) : innerHash(siblings[depth], hash)
            }
            return hash
        }

        /// The value stored for `key`, if the path ends at its leaf.
        func value(for key: [UInt8]) -> [UInt8]? {
            if case .leaf(let found, let value) = terminal, found == key { return value }
            return nil
        }
    }

    static func damaged(_ why: String) -> VaultError {
        .integrityFailure("the catalog's state map is damaged (\(why)); run 'casevault verify'")
    }

    /// How deep a walk reads in one read of the source (where the source
    /// offers one) from the first node the cache does not hold: a map of a
    /// million keys is about 20 deep; deeper nodes are read one by one.
    static let prefetchDepth = 32

    /// The path from `root` towards `key`, checked from the top down: each
    /// node is taken from `cache` by the hash its parent (or the root)
    /// names, or read from `source` at its path and, when `verify`, hashed
    /// and compared with that hash before it is believed (and then cached).
    /// So a walk that returns has proved its siblings and terminal against
    /// `root`. `verify: false` is for a map this process built itself
    /// (verify's replay): stored nodes are taken as they are.
    static func walk(_ key: [UInt8], root: [UInt8], in source: any StateNodeSource, verify: Bool = true,
                     cache: StateNodeCache? = nil) throws -> Walk {
        var walk = Walk()
        if root == empty { return walk }
        var expected = root
        var prefetched: [[UInt8]: StateNode]?
        var prefetchedFrom = 0
        var canPrefetch = source.readsManyAtOnce
        while true {
            let depth = walk.depth
            var found = cache?.node(expected)
            if found == nil {
                let at = path(key, depth: depth)
                if prefetched == nil, canPrefetch {
                    prefetched = try source.stateNodes(paths: (depth..<Swift.min(depth + prefetchDepth, 257)).map { path(key, depth: $0) })
                    prefetchedFrom = depth
                    canPrefetch = prefetched != nil
                }
                let node = if let prefetched, depth < prefetchedFrom + prefetchDepth { prefetched[at] } else { try source.stateNode(path: at) }
                found = try checked(node, expected: expected, verify: verify, cache: cache)
            }
            let node = found!
            switch node.kind {
            case .leaf:
                // A leaf is only ever where its own key's path passes.
                guard path(node.first, depth: depth) == path(key, depth: depth) else { throw damaged("a leaf is out of place") }
                walk.terminal = .leaf(key: node.first, value: node.second)
                return walk
            case .inner:
                guard depth < 256 else { throw damaged("an inner node is malformed") }
                let goRight = bit(key, depth) == 1
                walk.siblings.append(goRight ? node.first : node.second)
                let child = goRight ? node.second : node.first
                if child == empty { return walk }
                expected = child
            }
        }
    }

    /// The value hashes the map holds for `keys` under `root` (nil where it
    /// proves it holds none), each path checked as `walk` checks it, from
    /// the top down against `root`, but every node shared by several paths
    /// taken and checked once: for a command that reads a record of every
    /// case (`due`, `report monthly`), about one node read per node of the
    /// map instead of one per level per key. Nodes come from `cache` by the
    /// hash their parent names, else from `source` at their path.
    /// Every key of `keys` is in the answer: with its value hash, or with
    /// an empty array where the map holds nothing for it.
    static func values(for keys: [[UInt8]], root: [UInt8], in source: any StateNodeSource,
                       cache: StateNodeCache? = nil) throws -> [[UInt8]: [UInt8]] {
        var found: [[UInt8]: [UInt8]] = Dictionary(minimumCapacity: keys.count)
        for key in keys { found[key] = [] }
        guard root != empty else { return found }
        // Each key once (the answer's keys), by bits: the first eight bytes
        // decide but between keys that share them.
        func prefix(_ key: [UInt8]) -> UInt64 { key.prefix(8).reduce(0) { $0 << 8 | UInt64($1) } << (8 * UInt64(max(0, 8 - key.count))) }
        let sorted = found.keys.map { (prefix($0), $0) }.sorted { a, b in a.0 != b.0 ? a.0 < b.0 : a.1.lexicographicallyPrecedes(b.1) }.map(\.1)
        // Keys sorted by bits: those under one node are a contiguous run,
        // split at each inner node by the next bit.
        func descend(_ expected: [UInt8], depth: Int, _ run: ArraySlice<[UInt8]>) throws {
            let first = run.first!
            let entry = try cache?.node(expected)
                ?? checked(try source.stateNode(path: path(first, depth: depth)), expected: expected, verify: true, cache: cache)
            switch entry.kind {
            case .leaf:
                guard path(entry.first, depth: depth) == path(first, depth: depth) else { throw damaged("a leaf is out of place") }
                if let key = run.first(where: { $0 == entry.first }) { found[key] = entry.second }
            case .inner:
                guard depth < 256 else { throw damaged("an inner node is malformed") }
                let split = run.firstIndex { bit($0, depth) == 1 } ?? run.endIndex
                if split > run.startIndex, entry.first != empty { try descend(entry.first, depth: depth + 1, run[run.startIndex..<split]) }
                if split < run.endIndex, entry.second != empty { try descend(entry.second, depth: depth + 1, run[split..<run.endIndex]) }
            }
        }
        if !sorted.isEmpty { try descend(root, depth: 0, sorted[...]) }
        return found
    }

    /// A node read from the catalog where its parent (or the root) names
    /// `expected`: well formed, and, when `verify`, hashing to `expected`
    /// (then kept in `cache`).
    private static func checked(_ node: StateNode?, expected: [UInt8], verify: Bool, cache: StateNodeCache?) throws -> StateNodeCache.Entry {
        guard let node else { throw damaged("a node is missing") }
        guard node.first.count == 32, node.second.count == 32 else { throw damaged("a node is malformed") }
        let entry = StateNodeCache.Entry(kind: node.kind, first: node.first, second: node.second)
        if verify {
            guard entry.hash == expected else { throw VaultError.integrityFailure("the catalog does not match the signed state") }
            cache?.insert(entry, hash: expected)
        }
        return entry
    }

    /// The value hash the map holds for `key` under `root`, or nil when the
    /// map proves it holds none. Throws when the stored path does not lead
    /// to `root`.
    static func value(for key: [UInt8], root: [UInt8], in source: any StateNodeSource, cache: StateNodeCache? = nil) throws -> [UInt8]? {
        try walk(key, root: root, in: source, cache: cache).value(for: key)
    }

    /// Sets `key` to `value`, checking the path against `root` first, and
    /// returns the new root. Only the one writer (the projection) calls this.
    /// `checkRoot: false` is for a map this process built itself (verify's
    /// replay), whose nodes no one else could have written: its walk takes
    /// the stored nodes without hashing them.
    static func set(_ key: [UInt8], to value: [UInt8], root: [UInt8], in store: any StateNodeSink, checkRoot: Bool = true,
                    cache: StateNodeCache? = nil) throws -> [UInt8] {
        let walk = try walk(key, root: root, in: store, verify: checkRoot, cache: cache)
        let sink = CachingSink(sink: store, cache: cache)
        let newLeaf = leafHash(key: key, value: value)
        var depth = walk.depth
        var hash: [UInt8]
        switch walk.terminal {
        case .empty:
            try sink.putStateNode(StateNode(path: path(key, depth: depth), kind: .leaf, hash: newLeaf, first: key, second: value))
            hash = newLeaf
        case .leaf(let other, _) where other == key:
            try sink.putStateNode(StateNode(path: path(key, depth: depth), kind: .leaf, hash: newLeaf, first: key, second: value))
            hash = newLeaf
        case .leaf(let other, let otherValue):
            // Push the other leaf down to where the two keys part.
            var split = depth
            while bit(key, split) == bit(other, split) { split += 1 }
            let otherLeaf = leafHash(key: other, value: otherValue)
            try sink.putStateNode(StateNode(path: path(other, depth: split + 1), kind: .leaf, hash: otherLeaf, first: other, second: otherValue))
            try sink.putStateNode(StateNode(path: path(key, depth: split + 1), kind: .leaf, hash: newLeaf, first: key, second: value))
            let (left, right) = bit(key, split) == 0 ? (newLeaf, otherLeaf) : (otherLeaf, newLeaf)
            hash = innerHash(left, right)
            try sink.putStateNode(StateNode(path: path(key, depth: split), kind: .inner, hash: hash, first: left, second: right))
            var level = split
            while level > depth {
                level -= 1
                let (l, r) = bit(key, level) == 0 ? (hash, empty) : (empty, hash)
                hash = innerHash(l, r)
                try sink.putStateNode(StateNode(path: path(key, depth: level), kind: .inner, hash: hash, first: l, second: r))
            }
        }
        while depth > 0 {
            depth -= 1
            let sibling = walk.siblings[depth]
            let (left, right) = bit(key, depth) == 0 ? (hash, sibling) : (sibling, hash)
            hash = innerHash(left, right)
            try sink.putStateNode(StateNode(path: path(key, depth: depth), kind: .inner, hash: hash, first: left, second: right))
        }
        return hash
    }

    /// Removes `key`, checking the path against `root` first, and returns
    /// the new root; the map is then exactly the one that never held it
    /// (the shape depends only on the keys). Removing an absent key changes
    /// nothing. A leaf left alone in its subtree moves up to the highest
    /// position where it is alone; nodes left off the paths linger, unused.
    static func remove(_ key: [UInt8], root: [UInt8], in store: any StateNodeSink, checkRoot: Bool = true,
                       cache: StateNodeCache? = nil) throws -> [UInt8] {
        if root == empty { return root }
        let walk = try walk(key, root: root, in: store, verify: checkRoot, cache: cache)
        let sink = CachingSink(sink: store, cache: cache)
        guard walk.value(for: key) != nil else { return root }
        var depth = walk.depth
        var hash = empty
        /// A leaf moving up, alone in the subtree on the key's side.
        var carried: (key: [UInt8], value: [UInt8])?
        while depth > 0 {
            depth -= 1
            let sibling = walk.siblings[depth]
            if hash == empty {
                // Only the sibling's subtree is left under this node.
                if sibling == empty { continue }
                // Whether the sibling is a leaf decides the shape, so its row
                // must be there and hash to the (root-checked) sibling hash:
                // a row deleted or swapped by hand would otherwise leave a
                // map whose root replaying the log does not give.
                // (Read from the store even when the cache holds the node:
                // a row missing there must stop the removal, not be signed over.)
                let siblingPath = path(key, depth: depth + 1).flippingLastBit(atDepth: depth + 1)
                guard let node = try store.stateNode(path: siblingPath), node.first.count == 32, node.second.count == 32 else {
                    throw damaged("a node is missing")
                }
                switch node.kind {
                case .leaf:
                    guard leafHash(key: node.first, value: node.second) == sibling,
                          path(node.first, depth: depth + 1) == siblingPath else { throw damaged("a leaf is out of place") }
                    carried = (node.first, node.second)
                    hash = sibling
                    continue
                case .inner:
                    guard innerHash(node.first, node.second) == sibling else { throw damaged("an inner node does not match its hash") }
                }
            } else if carried != nil, sibling == empty {
                continue  // still alone: the leaf goes on up
            }
            if let leaf = carried {
                try sink.putStateNode(StateNode(path: path(leaf.key, depth: depth + 1), kind: .leaf, hash: hash,
                                                first: leaf.key, second: leaf.value))
                carried = nil
            }
            let (left, right) = bit(key, depth) == 0 ? (hash, sibling) : (sibling, hash)
            hash = innerHash(left, right)
            try sink.putStateNode(StateNode(path: path(key, depth: depth), kind: .inner, hash: hash, first: left, second: right))
        }
        if let leaf = carried {
            try sink.putStateNode(StateNode(path: path(leaf.key, depth: 0), kind: .leaf, hash: hash, first: leaf.key, second: leaf.value))
        }
        return hash
    }
}

/// A sink that also caches each node it is given: every node `set` and
/// `remove` write is one whose hash they have just computed.
private struct CachingSink {
    let sink: any StateNodeSink
    let cache: StateNodeCache?

    func putStateNode(_ node: StateNode) throws {
        try sink.putStateNode(node)
        cache?.insert(StateNodeCache.Entry(kind: node.kind, first: node.first, second: node.second), hash: node.hash)
    }
}

/// State-map nodes by their hash, for the life of the process: the top of
/// the map, which every key's path passes, and the paths a batch of events
/// keeps walking, are read and hashed once, not once per key.
///
/// Only nodes whose hash was computed here from their members are put in
/// (a walk's verified reads, and the nodes `set` and `remove` compute), and
/// a walk asks for a node only by the hash its parent or a trusted root
/// names. So the cache is content-addressed: it cannot go stale when the
/// catalog changes, and a row edited in the catalog cannot enter it. It
/// holds hashes only, nothing secret. When full it is emptied. Each open
/// `Vault` has its own (`VerifiedCaches`).
final class StateNodeCache: @unchecked Sendable {
    struct Entry {
        let kind: StateNode.Kind
        let first: [UInt8]
        let second: [UInt8]

        var hash: [UInt8] { StateMap.nodeHash(kind, first, second) }
        /// Two 32-byte halves: the only shape a node has, and the only one
        /// the memory takes. The node hash does not frame its halves, so a
        /// row whose first half is 33 bytes and second 31 hashes like a
        /// real node; a walk refuses such a row, and so must the memory.
        var isWellFormed: Bool { first.count == 32 && second.count == 32 }
    }

    /// How many a vault keeps (SECURITY.md §12a). A command that reads
    /// every case (`report monthly`, `due`) walks most of the map: at
    /// 100,000 cases that is about 600,000 nodes, and a smaller memory,
    /// emptied each time it filled, sent 2.4 times as many walks to SQLite
    /// (a report took 51 s instead of 21). At about 250 bytes a node, a full
    /// memory is about 250 MB; commands that act on one case keep a few
    /// hundred nodes.
    static let defaultLimit = 1 << 20
    /// What a replay (`rebuild`, the format-1 upgrade) keeps: the limit
    /// before the one above.
    static let replayLimit = 1 << 17

    /// A node hash as the memory's key: four words, hashed and compared
    /// without the array's per-byte hashing and reference counting (a
    /// 100,000-case report looks nodes up about 8 million times). Nil for
    /// anything but 32 bytes, which is never a node's hash.
    struct Key: Hashable {
        let a, b, c, d: UInt64

        init?(_ hash: [UInt8]) {
            guard hash.count == 32 else { return nil }
            (a, b, c, d) = hash.withUnsafeBytes {
                ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            }
        }
    }

    private let lock = NSLock()
    private var nodes: [Key: Entry] = [:]
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func node(_ hash: [UInt8]) -> Entry? {
        lock.lock()
        defer { lock.unlock() }
        guard let key = Key(hash) else { return nil }
        return nodes[key]
    }

    /// `hash` must be `entry.hash`, computed by the caller.
    func insert(_ entry: Entry, hash: [UInt8]) {
        guard entry.isWellFormed, let key = Key(hash) else { return }
        lock.lock()
        defer { lock.unlock() }
        if nodes.count >= limit {
            nodes.removeAll()  // and its table: a full one is tens of MB
            didPreload = false
        }
        nodes[key] = entry
    }

    func removeAll() {
        lock.lock()
        defer { lock.unlock() }
        nodes.removeAll()
        didPreload = false
    }

    /// How many it holds.
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return nodes.count
    }

    /// Many at once, each keyed by the hash of its own content, while there
    /// is room (`SignedState.preloadNodes`); entries of any other shape
    /// than a node's are left out.
    func insert(contentsOf entries: [Entry]) {
        let keyed = entries.compactMap { entry in entry.isWellFormed ? Key(entry.hash).map { ($0, entry) } : nil }
        lock.lock()
        defer { lock.unlock() }
        for (key, entry) in keyed where nodes.count < limit { nodes[key] = entry }
    }

    /// Whether `SignedState.preloadNodes` has filled this memory once.
    var preloaded: Bool {
        get { lock.lock(); defer { lock.unlock() }; return didPreload }
        set { lock.lock(); defer { lock.unlock() }; didPreload = newValue }
    }
    private var didPreload = false
}

extension Array where Element == UInt8 {
    /// A state-map path (two bytes of depth, then the bits) with its last
    /// bit, bit `depth − 1`, flipped: the sibling's position.
    func flippingLastBit(atDepth depth: Int) -> [UInt8] {
        var out = self
        let bit = depth - 1
        out[2 + (bit >> 3)] ^= 0x80 >> UInt8(bit & 7)
        return out
    }
}
