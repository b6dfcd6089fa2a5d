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
    /// The node at `path` as the map's code holds it, its halves inline;
    /// a stored node whose halves are not 32 bytes each is refused. By
    /// default from `stateNode(path:)`; the in-memory catalog answers
    /// without making the arrays of a `StateNode`.
    func node(at path: StatePath) throws -> StateMap.Node?
}

extension StateNodeSource {
    func stateNodes(paths: [[UInt8]]) throws -> [[UInt8]: StateNode]? { nil }
    var readsManyAtOnce: Bool { false }
    func node(at path: StatePath) throws -> StateMap.Node? { try stateNode(path: path.bytes).map(StateMap.Node.init(checking:)) }
}

protocol StateNodeSink: StateNodeSource {
    func putStateNode(_ node: StateNode) throws
    /// Stores `node`, whose hash is `hash`, at `path`: by default as a
    /// `StateNode`; the in-memory catalog keeps it inline.
    func put(_ node: StateMap.Node, hash: Hash32, at path: StatePath) throws
}

extension StateNodeSink {
    func put(_ node: StateMap.Node, hash: Hash32, at path: StatePath) throws {
        try putStateNode(StateNode(path: path.bytes, kind: node.kind, hash: hash.bytes, first: node.first.bytes, second: node.second.bytes))
    }
}

/// A node's path (`StateMap.path`) held inline: its depth, and the first
/// `depth` bits of the key with every later bit zero. Only paths the map
/// makes have this form; `init?(bytes:)` refuses any other spelling, so
/// that two different stored paths are never taken for one.
struct StatePath: Hashable {
    let depth: UInt16
    let bits: Hash32

    init(_ key: Hash32, depth: Int) {
        precondition(depth >= 0 && depth <= 256, "a path deeper than its key")
        var bits = key
        let whole = depth >> 3, partial = depth & 7
        var from = whole
        if partial != 0 {
            bits[byte: whole] &= ~(0xff >> UInt8(partial))
            from += 1
        }
        for index in from..<32 { bits[byte: index] = 0 }
        self.depth = UInt16(depth)
        self.bits = bits
    }

    /// Nil for anything but the map's own spelling: two bytes of depth (at
    /// most 256), then exactly the bytes that hold `depth` bits, the unused
    /// low bits of the last one zero.
    init?(bytes: [UInt8]) {
        guard bytes.count >= 2 else { return nil }
        let depth = Int(bytes[0]) << 8 | Int(bytes[1])
        let used = (depth + 7) >> 3
        guard depth <= 256, bytes.count == 2 + used else { return nil }
        var bits = Hash32.zero
        for index in 0..<used { bits[byte: index] = bytes[2 + index] }
        self.init(bits, depth: depth)
        guard self.bits == bits else { return nil }
    }

    /// As `StateMap.path` spells it.
    var bytes: [UInt8] {
        let used = (Int(depth) + 7) >> 3
        return [UInt8](unsafeUninitializedCapacity: 2 + used) { out, initialized in
            out[0] = UInt8(depth >> 8)
            out[1] = UInt8(depth & 0xff)
            for index in 0..<used { out[2 + index] = bits[byte: index] }
            initialized = 2 + used
        }
    }

    /// The sibling's position: the last bit (bit `depth − 1`) flipped.
    var sibling: StatePath {
        precondition(depth > 0, "the root has no sibling")
        let bit = Int(depth) - 1
        var flipped = bits
        flipped[byte: bit >> 3] ^= 0x80 >> UInt8(bit & 7)
        return StatePath(flipped, depth: Int(depth))
    }
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
    static func leafHash(key: Hash32, value: Hash32) -> Hash32 { SHA256.hash(tag: 0x00, key, value) }
    static func innerHash(_ left: Hash32, _ right: Hash32) -> Hash32 { SHA256.hash(tag: 0x01, left, right) }

    static func bit(_ key: [UInt8], _ index: Int) -> Int { Int(key[index >> 3] >> (7 - UInt8(index & 7))) & 1 }
    static func bit(_ key: Hash32, _ index: Int) -> Int { Int(key[byte: index >> 3] >> (7 - UInt8(index & 7))) & 1 }

    /// Two bytes of depth (big-endian), then the first `depth` bits of the
    /// key, zero-padded to whole bytes.
    static func path(_ key: [UInt8], depth: Int) -> [UInt8] {
        let whole = depth >> 3, partial = depth & 7
        let count = 2 + whole + (partial == 0 ? 0 : 1)
        precondition(key.count >= whole + (partial == 0 ? 0 : 1), "a path deeper than its key")
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            out[0] = UInt8(depth >> 8)
            out[1] = UInt8(depth & 0xff)
            for index in 0..<whole { out[2 + index] = key[index] }
            if partial != 0 { out[2 + whole] = key[whole] & ~(0xff >> UInt8(partial)) }
            initialized = count
        }
    }

    /// A node as the map's code holds it: for a leaf, `first` is the key
    /// hash and `second` the value hash; for an inner node, the hashes of
    /// its children (zero for an empty child). Its hash is computed from
    /// these, never taken from a stored row.
    struct Node {
        let kind: StateNode.Kind
        let first: Hash32
        let second: Hash32

        init(kind: StateNode.Kind, first: Hash32, second: Hash32) {
            (self.kind, self.first, self.second) = (kind, first, second)
        }

        /// A stored node, refused unless both its halves are 32 bytes. (The
        /// node hash does not frame its halves, so a row whose first half
        /// is 33 bytes and second 31 would hash like a real node.)
        init(checking node: StateNode) throws {
            guard let first = Hash32(node.first), let second = Hash32(node.second) else { throw StateMap.damaged("a node is malformed") }
            self.init(kind: node.kind, first: first, second: second)
        }

        var hash: Hash32 { kind == .leaf ? StateMap.leafHash(key: first, value: second) : StateMap.innerHash(first, second) }
    }

    enum Terminal: Equatable {
        case empty
        case leaf(key: Hash32, value: Hash32)

        var hash: Hash32 {
            switch self {
            case .empty: .zero
            case .leaf(let key, let value): StateMap.leafHash(key: key, value: value)
            }
        }
    }

    /// The path from the root towards `key`: the sibling of each inner node
    /// passed and what was found where the path ends.
    struct Walk {
        var siblings: [Hash32] = []
        var terminal = Terminal.empty
        var depth: Int { siblings.count }

        /// The root recomputed from the bottom up, as SECURITY.md §12a
        /// describes the check: the tests hold the top-down walk to it.
        func root(for key: Hash32) -> Hash32 {
            var hash = terminal.hash
            for depth in stride(from: siblings.count - 1, through: 0, by: -1) {
                hash = bit(key, depth) == 0 ? innerHash(hash, siblings[depth]) : innerHash(siblings[depth], hash)
            }
            return hash
        }

        /// The value stored for `key`, if the path ends at its leaf.
        func value(for key: Hash32) -> Hash32? {
            if case .leaf(let found, let value) = terminal, found == key { return value }
            return nil
        }
    }

    static func damaged(_ why: String) -> VaultError {
        .integrityFailure("the catalog's state map is damaged (\(why)); run 'casevault verify'")
    }

    /// A key, value or root as the map's code holds it: 32 bytes, which
    /// every hash it is given is (SHA-256).
    static func inline(_ bytes: [UInt8]) -> Hash32 {
        guard let hash = Hash32(bytes) else { preconditionFailure("a state-map hash of \(bytes.count) bytes") }
        return hash
    }

    /// How deep a walk reads in one read of the source (where the source
    /// offers one) from the first node the cache does not hold: a map of a
    /// million keys is about 20 deep; deeper nodes are read one by one.
    static let prefetchDepth = 32

    static func walk(_ key: [UInt8], root: [UInt8], in source: any StateNodeSource, verify: Bool = true,
                     cache: StateNodeCache? = nil) throws -> Walk {
        try walk(inline(key), root: inline(root), in: source, verify: verify, cache: cache)
    }

    /// The path from `root` towards `key`, checked from the top down: each
    /// node is taken from `cache` by the hash its parent (or the root)
    /// names, or read from `source` at its path and, when `verify`, hashed
    /// and compared with that hash before it is believed (and then cached).
    /// So a walk that returns has proved its siblings and terminal against
    /// `root`. `verify: false` is for a map this process built itself
    /// (verify's replay): stored nodes are taken as they are.
    static func walk(_ key: Hash32, root: Hash32, in source: any StateNodeSource, verify: Bool = true,
                     cache: StateNodeCache? = nil) throws -> Walk {
        var walk = Walk()
        if root.isZero { return walk }
        var expected = root
        var prefetched: [[UInt8]: StateNode]?
        var prefetchedFrom = 0
        var canPrefetch = source.readsManyAtOnce
        while true {
            let depth = walk.depth
            var found = cache?.node(expected)
            if found == nil {
                let at = StatePath(key, depth: depth)
                if prefetched == nil, canPrefetch {
                    prefetched = try source.stateNodes(paths: (depth..<Swift.min(depth + prefetchDepth, 257)).map { path(key.bytes, depth: $0) })
                    prefetchedFrom = depth
                    canPrefetch = prefetched != nil
                }
                let node = if let prefetched, depth < prefetchedFrom + prefetchDepth {
                    try prefetched[at.bytes].map(Node.init(checking:))
                } else {
                    try source.node(at: at)
                }
                found = try checked(node, expected: expected, verify: verify, cache: cache)
            }
            let node = found!
            switch node.kind {
            case .leaf:
                // A leaf is only ever where its own key's path passes.
                guard StatePath(node.first, depth: depth) == StatePath(key, depth: depth) else { throw damaged("a leaf is out of place") }
                walk.terminal = .leaf(key: node.first, value: node.second)
                return walk
            case .inner:
                guard depth < 256 else { throw damaged("an inner node is malformed") }
                let goRight = bit(key, depth) == 1
                walk.siblings.append(goRight ? node.first : node.second)
                let child = goRight ? node.second : node.first
                if child.isZero { return walk }
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
        // Each key once (the answer's keys), in the order of their bits:
        // those under one node are a contiguous run, split at each inner
        // node by the next bit.
        let sorted = found.keys.map(inline).sorted()
        func descend(_ expected: Hash32, depth: Int, _ run: ArraySlice<Hash32>) throws {
            let first = run.first!
            let entry = try cache?.node(expected)
                ?? checked(try source.node(at: StatePath(first, depth: depth)), expected: expected, verify: true, cache: cache)
            switch entry.kind {
            case .leaf:
                guard StatePath(entry.first, depth: depth) == StatePath(first, depth: depth) else { throw damaged("a leaf is out of place") }
                if run.contains(entry.first) { found[entry.first.bytes] = entry.second.bytes }
            case .inner:
                guard depth < 256 else { throw damaged("an inner node is malformed") }
                let split = run.firstIndex { bit($0, depth) == 1 } ?? run.endIndex
                if split > run.startIndex, !entry.first.isZero { try descend(entry.first, depth: depth + 1, run[run.startIndex..<split]) }
                if split < run.endIndex, !entry.second.isZero { try descend(entry.second, depth: depth + 1, run[split..<run.endIndex]) }
            }
        }
        if !sorted.isEmpty { try descend(inline(root), depth: 0, sorted[...]) }
        return found
    }

    /// A node read from the catalog where its parent (or the root) names
    /// `expected`: present and, when `verify`, hashing to `expected` (then
    /// kept in `cache`).
    private static func checked(_ node: Node?, expected: Hash32, verify: Bool, cache: StateNodeCache?) throws -> Node {
        guard let node else { throw damaged("a node is missing") }
        if verify {
            guard node.hash == expected else { throw VaultError.integrityFailure("the catalog does not match the signed state") }
            cache?.insert(node, hash: expected)
        }
        return node
    }

    /// The value hash the map holds for `key` under `root`, or nil when the
    /// map proves it holds none. Throws when the stored path does not lead
    /// to `root`.
    static func value(for key: [UInt8], root: [UInt8], in source: any StateNodeSource, cache: StateNodeCache? = nil) throws -> [UInt8]? {
        let key = inline(key)
        return try walk(key, root: inline(root), in: source, cache: cache).value(for: key)?.bytes
    }

    /// Sets `key` to `value`, checking the path against `root` first, and
    /// returns the new root. Only the one writer (the projection) calls this.
    /// `checkRoot: false` is for a map this process built itself (verify's
    /// replay), whose nodes no one else could have written: its walk takes
    /// the stored nodes without hashing them.
    static func set(_ key: [UInt8], to value: [UInt8], root: [UInt8], in store: any StateNodeSink, checkRoot: Bool = true,
                    cache: StateNodeCache? = nil) throws -> [UInt8] {
        let key = inline(key), value = inline(value)
        let walk = try walk(key, root: inline(root), in: store, verify: checkRoot, cache: cache)
        let sink = CachingSink(sink: store, cache: cache)
        let newLeaf = leafHash(key: key, value: value)
        var depth = walk.depth
        var hash: Hash32
        switch walk.terminal {
        case .empty:
            try sink.put(Node(kind: .leaf, first: key, second: value), hash: newLeaf, at: StatePath(key, depth: depth))
            hash = newLeaf
        case .leaf(let other, _) where other == key:
            try sink.put(Node(kind: .leaf, first: key, second: value), hash: newLeaf, at: StatePath(key, depth: depth))
            hash = newLeaf
        case .leaf(let other, let otherValue):
            // Push the other leaf down to where the two keys part.
            var split = depth
            while bit(key, split) == bit(other, split) { split += 1 }
            let otherLeaf = leafHash(key: other, value: otherValue)
            try sink.put(Node(kind: .leaf, first: other, second: otherValue), hash: otherLeaf, at: StatePath(other, depth: split + 1))
            try sink.put(Node(kind: .leaf, first: key, second: value), hash: newLeaf, at: StatePath(key, depth: split + 1))
            let (left, right) = bit(key, split) == 0 ? (newLeaf, otherLeaf) : (otherLeaf, newLeaf)
            hash = innerHash(left, right)
            try sink.put(Node(kind: .inner, first: left, second: right), hash: hash, at: StatePath(key, depth: split))
            var level = split
            while level > depth {
                level -= 1
                let (l, r) = bit(key, level) == 0 ? (hash, Hash32.zero) : (Hash32.zero, hash)
                hash = innerHash(l, r)
                try sink.put(Node(kind: .inner, first: l, second: r), hash: hash, at: StatePath(key, depth: level))
            }
        }
        while depth > 0 {
            depth -= 1
            let sibling = walk.siblings[depth]
            let (left, right) = bit(key, depth) == 0 ? (hash, sibling) : (sibling, hash)
            hash = innerHash(left, right)
            try sink.put(Node(kind: .inner, first: left, second: right), hash: hash, at: StatePath(key, depth: depth))
        }
        return hash.bytes
    }

    /// Removes `key`, checking the path against `root` first, and returns
    /// the new root; the map is then exactly the one that never held it
    /// (the shape depends only on the keys). Removing an absent key changes
    /// nothing. A leaf left alone in its subtree moves up to the highest
    /// position where it is alone; nodes left off the paths linger, unused.
    static func remove(_ key: [UInt8], root: [UInt8], in store: any StateNodeSink, checkRoot: Bool = true,
                       cache: StateNodeCache? = nil) throws -> [UInt8] {
        if root == empty { return root }
        let key = inline(key)
        let walk = try walk(key, root: inline(root), in: store, verify: checkRoot, cache: cache)
        let sink = CachingSink(sink: store, cache: cache)
        guard walk.value(for: key) != nil else { return root }
        var depth = walk.depth
        var hash = Hash32.zero
        /// A leaf moving up, alone in the subtree on the key's side.
        var carried: (key: Hash32, value: Hash32)?
        while depth > 0 {
            depth -= 1
            let sibling = walk.siblings[depth]
            if hash.isZero {
                // Only the sibling's subtree is left under this node.
                if sibling.isZero { continue }
                // Whether the sibling is a leaf decides the shape, so its row
                // must be there and hash to the (root-checked) sibling hash:
                // a row deleted or swapped by hand would otherwise leave a
                // map whose root replaying the log does not give.
                // (Read from the store even when the cache holds the node:
                // a row missing there must stop the removal, not be signed over.)
                let siblingPath = StatePath(key, depth: depth + 1).sibling
                guard let node = try store.node(at: siblingPath) else { throw damaged("a node is missing") }
                switch node.kind {
                case .leaf:
                    guard node.hash == sibling, StatePath(node.first, depth: depth + 1) == siblingPath else {
                        throw damaged("a leaf is out of place")
                    }
                    carried = (node.first, node.second)
                    hash = sibling
                    continue
                case .inner:
                    guard node.hash == sibling else { throw damaged("an inner node does not match its hash") }
                }
            } else if carried != nil, sibling.isZero {
                continue  // still alone: the leaf goes on up
            }
            if let leaf = carried {
                try sink.put(Node(kind: .leaf, first: leaf.key, second: leaf.value), hash: hash, at: StatePath(leaf.key, depth: depth + 1))
                carried = nil
            }
            let (left, right) = bit(key, depth) == 0 ? (hash, sibling) : (sibling, hash)
            hash = innerHash(left, right)
            try sink.put(Node(kind: .inner, first: left, second: right), hash: hash, at: StatePath(key, depth: depth))
        }
        if let leaf = carried {
            try sink.put(Node(kind: .leaf, first: leaf.key, second: leaf.value), hash: hash, at: StatePath(leaf.key, depth: 0))
        }
        return hash.bytes
    }
}

/// A sink that also caches each node it is given: every node `set` and
/// `remove` write is one whose hash they have just computed.
private struct CachingSink {
    let sink: any StateNodeSink
    let cache: StateNodeCache?

    func put(_ node: StateMap.Node, hash: Hash32, at path: StatePath) throws {
        try sink.put(node, hash: hash, at: path)
        cache?.insert(node, hash: hash)
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
    /// How many a vault keeps (SECURITY.md §12a). A command that reads
    /// every case (`report monthly`, `due`) walks most of the map: at
    /// 100,000 cases that is about 600,000 nodes, and a smaller memory,
    /// emptied each time it filled, sent 2.4 times as many walks to SQLite
    /// (a report took 51 s instead of 21). A node and its hash take 104
    /// bytes inline: a full memory, with its table's room, is about 200 MB;
    /// commands that act on one case keep a few hundred nodes.
    static let defaultLimit = 1 << 20
    /// What a replay (`rebuild`, the format-1 upgrade) keeps: the limit
    /// before the one above.
    static let replayLimit = 1 << 17

    // Keyed by the node hash as four words (Hash32), hashed and compared
    // without an array's per-byte hashing and reference counting: a
    // 100,000-case report looks nodes up about 8 million times.
    private let lock = NSLock()
    private var nodes: [Hash32: StateMap.Node] = [:]
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func node(_ hash: Hash32) -> StateMap.Node? {
        lock.lock()
        defer { lock.unlock() }
        return nodes[hash]
    }

    /// Nil for anything but 32 bytes, which is never a node's hash.
    func node(_ hash: [UInt8]) -> StateMap.Node? { Hash32(hash).flatMap(node) }

    /// `hash` must be `node.hash`, computed by the caller.
    func insert(_ node: StateMap.Node, hash: Hash32) {
        lock.lock()
        defer { lock.unlock() }
        if nodes.count >= limit {
            nodes.removeAll()  // and its table: a full one is tens of MB
            didPreload = false
        }
        nodes[hash] = node
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
    /// is room (`SignedState.preloadNodes`).
    func insert(contentsOf batch: [StateMap.Node]) {
        let keyed = batch.map { ($0.hash, $0) }
        lock.lock()
        defer { lock.unlock() }
        for (hash, node) in keyed where nodes.count < limit { nodes[hash] = node }
    }

    /// Whether `SignedState.preloadNodes` has filled this memory once.
    var preloaded: Bool {
        get { lock.lock(); defer { lock.unlock() }; return didPreload }
        set { lock.lock(); defer { lock.unlock() }; didPreload = newValue }
    }
    private var didPreload = false
}
