@testable import CaseVault
@testable import CaseVaultSQLite
import CaseVaultCrypto
import Foundation
import GRDB
import Testing

/// Catalog v20 stores a state-map node at depth 12 or deeper under 0x01,
/// its bits, then its depth (SECURITY.md §12a), so a subtree's nodes are
/// neighbours in the table. These tests need maps that deep, which a
/// test vault never reaches: they pick keys whose hashes share 16 bits.
@Suite struct StateNodeLayoutTests {
    /// `count` keys in pairs whose hashes share at least their first 16
    /// bits (so the map has inner nodes below depth 16), and 40 others.
    static func deepKeys(pairs count: Int) -> [String] {
        var byPrefix: [UInt16: String] = [:]
        var keys: [String] = []
        var i = 0
        while keys.count < 2 * count {
            let key = "key/\(i)"
            let hash = StateMap.keyHash(key)
            let prefix = UInt16(hash[0]) << 8 | UInt16(hash[1])
            if let other = byPrefix.removeValue(forKey: prefix) { keys += [other, key] } else { byPrefix[prefix] = key }
            i += 1
        }
        return keys + (0..<40).map { "other/\($0)" }
    }

    static func value(_ key: String) -> [UInt8] { SHA256.hash(Array("value of \(key)".utf8)) }

    @Test func storedKeysRoundTripAndAreDistinct() {
        var seen = Set<Data>()
        for depth in 0...256 {
            let key = SHA256.hash(Array("k\(depth)".utf8))
            let path = StateMap.path(key, depth: depth)
            let stored = StoredStatePath.encode(path)
            #expect(StoredStatePath.decode(stored) == path)
            #expect(seen.insert(stored).inserted)
            // Above depth 12 the path as is; from 12 on, 0x01, bits, depth.
            if depth < 12 {
                #expect(Array(stored) == path)
            } else {
                #expect(Array(stored) == [0x01] + path[2...] + path[..<2])
            }
        }
        // Keys edited in by hand decode to something, never crash.
        for odd: [UInt8] in [[], [0x01], [0x01, 0x02], [0x01, 0x00, 0x0c], [0xff, 0xff, 0xff]] {
            _ = StoredStatePath.decode(Data(odd))
            _ = StoredStatePath.encode(odd)
        }
        #expect(StoredStatePath.decode(StoredStatePath.encode([0x01, 0x00, 0x0c])) == [0x01, 0x00, 0x0c])
    }

    /// The point of the layout: every node under one depth-12 node is in one
    /// contiguous run of the table's order.
    @Test func aSubtreesDeepNodesAreNeighbours() {
        var stored: [(key: Data, prefix: [UInt8])] = []
        for i in 0..<300 {
            let key = SHA256.hash(Array("n\(i)".utf8))
            let prefix = StateMap.path(key, depth: 12)
            for depth in 12...24 { stored.append((StoredStatePath.encode(StateMap.path(key, depth: depth)), prefix)) }
        }
        let sorted = stored.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        var finished = Set<[UInt8]>()
        var current: [UInt8]?
        for entry in sorted where entry.prefix != current {
            if let current { finished.insert(current) }
            #expect(!finished.contains(entry.prefix), "a depth-12 subtree's nodes are split")
            current = entry.prefix
        }
    }

    /// A map with nodes below depth 16, written and read through the SQLite
    /// catalog: every key reads back, a removal leaves the map that never
    /// held the key, and the deep rows are stored under 0x01.
    @Test func aDeepMapReadsWritesAndRemovesThroughTheCatalog() throws {
        let scratch = Scratch()
        let store = try SQLiteCatalogStore.create(path: scratch.file("catalog.sqlite"))
        let keys = Self.deepKeys(pairs: 3)
        var root = StateMap.empty
        try store.write { writer in
            for key in keys { root = try StateMap.set(StateMap.keyHash(key), to: Self.value(key), root: root, in: StateNodes(reader: writer)) }
        }
        var same = StateMap.empty
        var expected: [StateNode] = []
        try MemoryCatalogStore().write { writer in
            for key in keys { same = try StateMap.set(StateMap.keyHash(key), to: Self.value(key), root: same, in: StateNodes(reader: writer)) }
            expected = (writer as! MemoryCatalogStore.Transaction).allStateNodes()
        }
        #expect(same == root)
        try store.read { reader in
            for key in keys {
                let found = try StateMap.value(for: StateMap.keyHash(key), root: root, in: StateNodes(reader: reader))
                #expect(found == Self.value(key))
            }
            // Listed under their paths, exactly the nodes the map has.
            var listed: [[UInt8]: StateNode] = [:]
            try reader.forEachStateNode { listed[$0.path] = $0 }
            #expect(listed == Dictionary(uniqueKeysWithValues: expected.map { ($0.path, $0) }))
            #expect(listed.keys.contains { Int($0[0]) << 8 | Int($0[1]) >= 16 })
        }
        // Every node at depth 12 or deeper is stored under 0x01, none above.
        let rows = try DatabaseQueue(path: scratch.file("catalog.sqlite")).read { db in
            try Data.fetchAll(db, sql: "SELECT path FROM state_nodes").map(Array.init)
        }
        #expect(rows.contains { $0.first == 0x01 })
        for row in rows where row.first == 0x01 { #expect(row.count >= 3 && Int(row[row.count - 2]) << 8 | Int(row[row.count - 1]) >= 12) }
        for row in rows where row.first == 0x00 { #expect(row.count >= 2 && row[1] < 12) }
        // Removing one of a deep pair gives the root of the map without it.
        let gone = keys[0]
        var without = StateMap.empty
        let other = MemoryCatalogStore()
        try other.write { writer in
            for key in keys where key != gone {
                without = try StateMap.set(StateMap.keyHash(key), to: Self.value(key), root: without, in: StateNodes(reader: writer))
            }
        }
        try store.write { writer in root = try StateMap.remove(StateMap.keyHash(gone), root: root, in: StateNodes(reader: writer)) }
        #expect(root == without)
        try store.read { reader in
            let removed = try StateMap.value(for: StateMap.keyHash(gone), root: root, in: StateNodes(reader: reader))
            let kept = try StateMap.value(for: StateMap.keyHash(keys[1]), root: root, in: StateNodes(reader: reader))
            #expect(removed == nil && kept == Self.value(keys[1]))
        }
    }

    /// A v19 catalog's nodes, stored depth first, are moved by the v20
    /// migration: the same map reads back, and a row edited in by hand
    /// with a key that is not a blob is carried over unchanged.
    @Test func theV20MigrationMovesAV19CatalogsNodes() throws {
        let scratch = Scratch()
        let path = scratch.file("catalog.sqlite")
        let keys = Self.deepKeys(pairs: 3)
        var root = StateMap.empty
        let memory = MemoryCatalogStore()
        var nodes: [StateNode] = []
        try memory.write { writer in
            for key in keys { root = try StateMap.set(StateMap.keyHash(key), to: Self.value(key), root: root, in: StateNodes(reader: writer)) }
            nodes = (writer as! MemoryCatalogStore.Transaction).allStateNodes()
        }
        #expect(nodes.contains { Int($0.path[0]) << 8 | Int($0.path[1]) >= 16 })
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteCatalogStore.migrator.migrate(queue, upTo: "v19-status-change-order")
            try queue.write { db in
                for node in nodes {
                    try db.execute(sql: "INSERT INTO state_nodes (path, kind, hash, first, second) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [Data(node.path), node.kind.rawValue, Data(node.hash), Data(node.first), Data(node.second)])
                }
                try db.execute(sql: "INSERT INTO state_nodes (path, kind, hash, first, second) VALUES ('00ff', 0, x'00', x'00', x'00')")
            }
        }
        let store = try SQLiteCatalogStore.open(path: path)
        try store.read { reader in
            for key in keys {
                let found = try StateMap.value(for: StateMap.keyHash(key), root: root, in: StateNodes(reader: reader))
                #expect(found == Self.value(key))
            }
        }
        let (count, text, clustered) = try DatabaseQueue(path: path).read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM state_nodes")!,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM state_nodes WHERE typeof(path) = 'text' AND path = '00ff'")!,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM state_nodes WHERE substr(path, 1, 1) = x'01'")!)
        }
        #expect(count == nodes.count + 1 && text == 1)
        #expect(clustered == nodes.filter { Int($0.path[0]) << 8 | Int($0.path[1]) >= 12 }.count && clustered > 0)
    }

    /// A node's row moved to a key that decodes to its path but is not its
    /// stored key (a shallow node under 0x01, or the key as TEXT) is found
    /// by verify: walks no longer find the node, and the copy is extra.
    @Test func verifyFindsANodeMovedToAnAliasKey() throws {
        for alias in ["x'01' || substr(path, 3) || substr(path, 1, 2)", "CAST(path AS TEXT)", "12345"] {
            let p = try Programme()
            try p.openCase()
            #expect(try p.vault.verify().isClean)
            // The root row (depth 0, key 0x0000): its alias decodes to the same path.
            try attack(p.vault, "UPDATE state_nodes SET path = \(alias.hasPrefix("x'") ? "CAST(\(alias) AS BLOB)" : alias) WHERE path = x'0000'")
            let report = try p.vault.verify()
            // The node is missing from its own key (one of the map's nodes) and the copy is extra.
            let finding = report.findings.first { $0.kind == .stateMapDamaged }
            #expect(finding?.detail.hasPrefix("1 of its ") == true && finding?.detail.hasSuffix(", 1 are extra") == true,
                    "\(alias): \(report.findings)")
        }
    }
}

/// `StateMap.values` proves many keys in one pass (the prefetch `due` and
/// `report monthly` make for every case): the same answers as one walk a
/// key, and the same refusals.
/// The in-memory catalog keeps the map's nodes inline, and any node of
/// another shape (a path the map never spells, halves that are not 32
/// bytes) as it was given, beside them: each reads back as put, counts once,
/// and a walk refuses the malformed one as it would from SQLite.
@Suite struct InlineStateNodeTests {
    @Test func nodesOfAnyShapeReadBackAsPutAndCountOnce() throws {
        let store = MemoryCatalogStore()
        let key = StateMap.keyHash("case/CP-2024-0042")
        let canonical = StateMap.path(key, depth: 3)
        let half = [UInt8](repeating: 7, count: 32)
        let good = StateNode(path: canonical, kind: .inner, hash: StateMap.innerHash(half, half), first: half, second: half)
        var unspelled = canonical
        unspelled[2] |= 0x01  // a bit past the depth set: not a path the map makes
        let odd = StateNode(path: unspelled, kind: .leaf, hash: half, first: half, second: half)
        let malformed = StateNode(path: canonical, kind: .inner, hash: half, first: half + [0], second: Array(half.dropLast()))
        try store.write { writer in
            try writer.putStateNode(odd)
            try writer.putStateNode(malformed)
            #expect(try writer.stateNode(path: canonical) == malformed && writer.stateNode(path: unspelled) == odd)
            #expect(try writer.stateNodeCount() == 2)
            #expect(throws: VaultError.integrityFailure("the catalog's state map is damaged (a node is malformed); run 'casevault verify'")) {
                _ = try StateNodes(reader: writer).node(at: StatePath(Hash32(key)!, depth: 3))
            }
            // A well-formed node put at the malformed one's path replaces it: one node per path.
            try writer.putStateNode(good)
            #expect(try writer.stateNode(path: canonical) == good && writer.stateNodeCount() == 2)
            #expect(try StateNodes(reader: writer).node(at: StatePath(Hash32(key)!, depth: 3))?.first == Hash32(half))
            var listed: [StateNode] = []
            try writer.forEachStateNode { listed.append($0) }
            #expect(Set(listed.map(\.path)) == [canonical, unspelled] && listed.count == 2)
            // And the other way: a malformed node put over an inline one.
            try writer.putStateNode(malformed)
            #expect(try writer.stateNode(path: canonical) == malformed && writer.stateNodeCount() == 2)
        }
        #expect(StatePath(bytes: unspelled) == nil && StatePath(bytes: canonical)?.bytes == canonical)
        #expect(StatePath(bytes: [1, 1] + [UInt8](repeating: 0, count: 33)) == nil)  // deeper than 256
        #expect(StatePath(bytes: canonical + [0]) == nil)
    }
}

@Suite struct BatchedWalkTests {
    @Test func batchedValuesAreThoseOfOneWalkEach() throws {
        let keys = StateNodeLayoutTests.deepKeys(pairs: 4)
        var root = StateMap.empty
        let store = MemoryCatalogStore()
        try store.write { writer in
            for key in keys { root = try StateMap.set(StateMap.keyHash(key), to: StateNodeLayoutTests.value(key), root: root, in: StateNodes(reader: writer)) }
        }
        // Present keys, absent ones (some sharing long prefixes with present
        // ones), and a repeat.
        let asked = (keys + (0..<200).map { "absent/\($0)" } + [keys[0]]).map(StateMap.keyHash)
        try store.read { reader in
            for cache in [nil, StateNodeCache(limit: 1 << 16)] {
                let batched = try StateMap.values(for: asked, root: root, in: StateNodes(reader: reader), cache: cache)
                #expect(batched.count == Set(asked).count)
                for key in asked {
                    let one = try StateMap.value(for: key, root: root, in: StateNodes(reader: reader))
                    #expect(batched[key] == (one ?? []))
                }
            }
            #expect(try StateMap.values(for: asked, root: StateMap.empty, in: StateNodes(reader: reader)).values.allSatisfy(\.isEmpty))
        }
        // Under another root (a node the map does not have), the batch is refused as a walk is.
        let other = SHA256.hash(Array("not the root".utf8))
        try store.read { reader in
            #expect(throws: VaultError.self) { try StateMap.values(for: asked, root: other, in: StateNodes(reader: reader)) }
        }
    }

    /// A map's nodes by path, as an attacker left them.
    struct EditedNodes: StateNodeSource {
        var nodes: [[UInt8]: StateNode]
        func stateNode(path: [UInt8]) throws -> StateNode? { nodes[path] }
    }

    /// On a map edited by hand, the batch throws exactly when one of the
    /// single walks throws, and otherwise answers as they do; with a cold
    /// cache and with a warm one.
    @Test func onAnEditedMapTheBatchRefusesWhenAWalkWould() throws {
        let keys = StateNodeLayoutTests.deepKeys(pairs: 4)
        var root = StateMap.empty
        var honest: [StateNode] = []
        try MemoryCatalogStore().write { writer in
            for key in keys { root = try StateMap.set(StateMap.keyHash(key), to: StateNodeLayoutTests.value(key), root: root, in: StateNodes(reader: writer)) }
            honest = (writer as! MemoryCatalogStore.Transaction).allStateNodes()
        }
        let asked = (keys + (0..<100).map { "absent/\($0)" }).map(StateMap.keyHash)
        let byPath = Dictionary(uniqueKeysWithValues: honest.map { ($0.path, $0) })
        let deepest = honest.max { $0.path[1] < $1.path[1] }!
        let leaf = honest.first { $0.kind == .leaf && $0.path[1] > 3 }!
        let inner = honest.first { $0.kind == .inner && $0.path[1] > 3 }!
        var edits: [(String, [[UInt8]: StateNode])] = [("untouched", byPath)]
        edits.append(("a deep node deleted", byPath.filter { $0.key != deepest.path }))
        var value = byPath
        value[leaf.path]!.second = [UInt8](repeating: 7, count: 32)
        edits.append(("a leaf's value changed", value))
        var moved = byPath
        moved[leaf.path] = nil
        moved[leaf.path.flippingLastBit(atDepth: Int(leaf.path[1]))] = leaf
        edits.append(("a leaf moved to its sibling's place", moved))
        var malformed = byPath
        malformed[inner.path]!.first = inner.first + [0]
        malformed[inner.path]!.second = Array(inner.second.dropLast())
        edits.append(("an inner node's halves reframed", malformed))
        for (what, nodes) in edits {
            let source = EditedNodes(nodes: nodes)
            let walks = Result { try asked.map { try StateMap.value(for: $0, root: root, in: source) } }
            let cache = StateNodeCache(limit: 1 << 16)
            for pass in ["cold", "warm"] {
                let batch = Result { try StateMap.values(for: asked, root: root, in: source, cache: cache) }
                switch (walks, batch) {
                case (.success(let one), .success(let many)):
                    #expect(zip(asked, one).allSatisfy { many[$0] == ($1 ?? []) }, "\(what), \(pass)")
                    #expect(what == "untouched", "\(what) went unnoticed")
                case (.failure, .failure):
                    // Every stored node is on some asked key's path.
                    #expect(what != "untouched")
                default: Issue.record("\(what), \(pass): one walk each \(walks), the batch \(batch)")
                }
            }
        }
    }

    /// Past 64 cases `due` and the report prefetch every case's records:
    /// a fresh process gives the answers of the one that wrote, and a case's
    /// lifecycle row edited by hand is still refused.
    @Test func aPrefetchedListingChecksEveryCase() throws {
        let p = try Programme()
        for client in 1...70 { _ = try p.openCase(client: client) }
        _ = try p.vault.changeStatus(of: "CP-2024-0007", to: .inactive, reason: "travelling", by: p["halima"])
        let month = Lifecycle.day(Date()).prefix(7).description
        let fresh = try Vault.open(at: p.vault.path)
        #expect(try fresh.due() == p.vault.due())
        #expect(try fresh.monthlyReport(month: month, recount: true).byStatus == p.vault.monthlyReport(month: month).byStatus)
        #expect(try fresh.monthlyReport(month: month, recount: true).byStatus.first { $0.key == "IA" }?.count == 1)
        try p.tamper("UPDATE status_changes SET to_status = 'C' WHERE case_number = 'CP-2024-0007'")
        expectIntegrity("status history of CP-2024-0007") { _ = try Vault.open(at: p.vault.path).due() }
        expectIntegrity("status history of CP-2024-0007") { _ = try Vault.open(at: p.vault.path).monthlyReport(month: month, recount: true) }
        try p.tamper("UPDATE status_changes SET to_status = 'IA' WHERE case_number = 'CP-2024-0007'")
        #expect(try Vault.open(at: p.vault.path).due() == p.vault.due())
        // A case's leaf edited in the map itself: the listing, due and the report refuse it.
        let leaf = SHA256.hash(Array(StateKey.case("CP-2024-0050").utf8))
        try attack(p.vault, "UPDATE state_nodes SET second = zeroblob(32) WHERE kind = 0 AND first = ?", arguments: [Data(leaf)])
        expectIntegrity("signed state") { _ = try Vault.open(at: p.vault.path).cases() }
        expectIntegrity("signed state") { _ = try Vault.open(at: p.vault.path).due() }
        expectIntegrity("signed state") { _ = try Vault.open(at: p.vault.path).monthlyReport(month: month, recount: true) }
    }
}
