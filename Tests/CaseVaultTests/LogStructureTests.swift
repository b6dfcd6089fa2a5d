@testable import CaseVault
import CaseVaultCrypto
import Foundation
import Testing

/// Nodes in memory, as `log_nodes` would hold them.
private final class Nodes: LogNodeSource {
    var leaves: [[UInt8]] = []
    var inner: [String: [UInt8]] = [:]
    var range = CompactRange()

    func append(_ leaf: [UInt8]) {
        leaves.append(leaf)
        for node in range.append(leaf: leaf) { inner["\(node.level)/\(node.index)"] = node.hash }
    }

    func logNode(level: Int, index: Int64) throws -> [UInt8]? {
        level == 0 ? (index < leaves.count ? leaves[Int(index)] : nil) : inner["\(level)/\(index)"]
    }
}

private func leaf(_ i: Int) -> [UInt8] { SHA256.hash([0x00] + Array("leaf \(i)".utf8)) }

@Suite struct LogTreeTests {
    @Test func storedNodesGiveTheReferenceRootAtEverySize() throws {
        let nodes = Nodes()
        for i in 0..<70 {
            nodes.append(leaf(i))
            let reference = referenceRoot(nodes.leaves[...])
            #expect(nodes.range.root == reference)
            #expect(try LogTree.root(nodes, size: Int64(i + 1)) == reference)
            #expect(try CompactRange(nodes, size: Int64(i + 1)) == nodes.range)
        }
    }

    /// verify reads ahead the stored nodes a batch of leaves will complete:
    /// the positions it computes are the ones appending reports.
    @Test func theNodesALeafCompletesAreKnownBeforeItIsAppended() {
        var range = CompactRange()
        for position in Int64(0)..<1_100 {
            let expected = CompactRange.nodesCompleted(byLeafAt: position)
            let completed = range.append(leaf: leaf(Int(position))).map { CompactRange.NodePosition(level: $0.level, index: $0.index) }
            #expect(completed == expected, "leaf \(position)")
        }
        #expect(CompactRange.nodesCompleted(byLeafAt: 0).isEmpty)
        #expect(CompactRange.nodesCompleted(byLeafAt: 1023).count == 10)
    }

    /// The node hashes are computed without concatenating their parts; they
    /// are the SHA-256 of the concatenation all the same.
    @Test func aTaggedHashIsTheHashOfTheConcatenation() {
        for (first, second) in [([UInt8](), [UInt8]()), ([1, 2, 3], []), ([], [9]), (Array(repeating: 7, count: 32), Array(repeating: 200, count: 32)),
                                (Array(0..<255), Array(repeating: 0, count: 700))] {
            for tag: UInt8 in [0x00, 0x01, 0xff] {
                #expect(SHA256.hash(tag: tag, first, second) == SHA256.hash([tag] + first + second))
            }
        }
    }

    @Test func inclusionProofsVerifyAndRefuseWhatIsNotIncluded() throws {
        let nodes = Nodes()
        for i in 0..<37 { nodes.append(leaf(i)) }
        for size in [1, 2, 3, 8, 13, 37] {
            let root = try LogTree.root(nodes, size: Int64(size))
            for index in 0..<size {
                let proof = try LogTree.inclusionProof(nodes, index: Int64(index), size: Int64(size))
                #expect(LogTree.verifyInclusion(leaf: leaf(index), index: Int64(index), size: Int64(size), proof: proof, root: root))
                // Wrong leaf, wrong index, wrong size, a flipped proof hash: refused.
                #expect(!LogTree.verifyInclusion(leaf: leaf(index + 100), index: Int64(index), size: Int64(size), proof: proof, root: root))
                if size > 1 {
                    #expect(!LogTree.verifyInclusion(leaf: leaf(index), index: Int64((index + 1) % size), size: Int64(size), proof: proof, root: root))
                    var bent = proof
                    bent[0][0] ^= 1
                    #expect(!LogTree.verifyInclusion(leaf: leaf(index), index: Int64(index), size: Int64(size), proof: bent, root: root))
                }
            }
        }
    }

    /// Many leaves proved at once: the root recomputed over them from the
    /// stored nodes is the reference root exactly when every one of them is
    /// the leaf stored there, whichever leaves are given; a stored node on a
    /// given leaf's path is recomputed, not believed.
    @Test func aRootOverGivenLeavesProvesThemAllAndOnlyThem() throws {
        let nodes = Nodes()
        for i in 0..<67 { nodes.append(leaf(i)) }
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15  // a fixed sequence of subsets, the same every run
        func coin() -> Bool {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 63 == 1
        }
        for size in 1...67 {
            let reference = referenceRoot(nodes.leaves[0..<size])
            let subsets: [[Int]] = [[], [0], [size - 1], Array(0..<size), Array(stride(from: 0, to: size, by: 3)),
                                    (0..<size).filter { _ in coin() }, (0..<size).filter { _ in coin() }]
            for subset in subsets {
                let given = Dictionary(uniqueKeysWithValues: subset.map { (Int64($0), leaf($0)) })
                #expect(try LogTree.root(nodes, size: Int64(size), replacing: given) == reference, "size \(size), leaves \(subset)")
                for wrong in subset {
                    var altered = given
                    altered[Int64(wrong)] = leaf(wrong + 1_000)
                    #expect(try LogTree.root(nodes, size: Int64(size), replacing: altered) != reference, "size \(size), leaf \(wrong) altered")
                }
            }
        }
        // A stored leaf and the stored pair above it, both on given leaf 5's path, damaged:
        // given leaf 5, the root is still the reference (they are recomputed); given leaf 4, the
        // damaged leaf 5 is its sibling and the root differs; given leaf 9, the stored subtree
        // of leaves 0-7 is read whole and the damage below it is never reached.
        let damaged = Nodes()
        for i in 0..<67 { damaged.append(leaf(i)) }
        damaged.leaves[5] = leaf(500)
        damaged.inner["1/2"] = leaf(501)
        let reference = referenceRoot(nodes.leaves[0..<67])
        #expect(try LogTree.root(damaged, size: 67, replacing: [5: leaf(5)]) == reference)
        #expect(try LogTree.root(damaged, size: 67, replacing: [4: leaf(4)]) != reference)
        #expect(try LogTree.root(damaged, size: 67, replacing: [9: leaf(9)]) == reference)
    }

    @Test func consistencyProofsVerifyForEveryPairAndRefuseARewrittenPrefix() throws {
        let nodes = Nodes()
        for i in 0..<33 { nodes.append(leaf(i)) }
        let forged = Nodes()
        for i in 0..<33 { forged.append(i == 4 ? leaf(999) : leaf(i)) }
        for m in 1...33 {
            for n in m...33 {
                let proof = try LogTree.consistencyProof(nodes, from: Int64(m), to: Int64(n))
                let old = try LogTree.root(nodes, size: Int64(m)), new = try LogTree.root(nodes, size: Int64(n))
                #expect(LogTree.verifyConsistency(from: Int64(m), to: Int64(n), oldRoot: old, newRoot: new, proof: proof), "\(m)→\(n)")
                // A log whose fifth leaf was rewritten extends the genuine first
                // m leaves only while m does not reach it.
                let forgedProof = try LogTree.consistencyProof(forged, from: Int64(m), to: Int64(n))
                let forgedNew = try LogTree.root(forged, size: Int64(n))
                #expect(LogTree.verifyConsistency(from: Int64(m), to: Int64(n), oldRoot: old, newRoot: forgedNew, proof: forgedProof) == (m <= 4),
                        "\(m)→\(n)")
            }
        }
        // A truncated or bent proof, or sizes the wrong way round, fail. (The
        // sizes themselves are bound by the signed checkpoint, not by a proof.)
        let proof = try LogTree.consistencyProof(nodes, from: 5, to: 20)
        let old = try LogTree.root(nodes, size: 5), new = try LogTree.root(nodes, size: 20)
        #expect(!LogTree.verifyConsistency(from: 5, to: 20, oldRoot: old, newRoot: new, proof: Array(proof.dropLast())))
        var bent = proof
        bent[1][3] ^= 0x80
        #expect(!LogTree.verifyConsistency(from: 5, to: 20, oldRoot: old, newRoot: new, proof: bent))
        #expect(!LogTree.verifyConsistency(from: 6, to: 5, oldRoot: old, newRoot: new, proof: proof))
        #expect(!LogTree.verifyConsistency(from: 5, to: 20, oldRoot: new, newRoot: old, proof: proof))
    }
}

private final class MapNodes: StateNodeSink {
    var nodes: [[UInt8]: StateNode] = [:]
    func stateNode(path: [UInt8]) throws -> StateNode? { nodes[path] }
    func putStateNode(_ node: StateNode) throws { nodes[node.path] = node }
}

/// The map's root recomputed from its entries alone, by the definition in
/// SECURITY.md §12a: the reference the stored tree is held to.
private func referenceMapRoot(_ entries: [([UInt8], [UInt8])], depth: Int = 0) -> [UInt8] {
    if entries.isEmpty { return StateMap.empty }
    if entries.count == 1 { return StateMap.leafHash(key: entries[0].0, value: entries[0].1) }
    let left = entries.filter { StateMap.bit($0.0, depth) == 0 }, right = entries.filter { StateMap.bit($0.0, depth) == 1 }
    return StateMap.innerHash(referenceMapRoot(left, depth: depth + 1), referenceMapRoot(right, depth: depth + 1))
}

@Suite struct StateMapTests {
    @Test func insertsAndUpdatesGiveTheReferenceRootAndProveMembership() throws {
        let store = MapNodes()
        var root = StateMap.empty
        var entries: [String: [UInt8]] = [:]
        var generator = SystemRandomNumberGenerator()
        for step in 0..<400 {
            let key = "case/CP-2024-\(Int.random(in: 0..<150, using: &generator))"
            let value = SHA256.hash(Array("value \(step)".utf8))
            root = try StateMap.set(StateMap.keyHash(key), to: value, root: root, in: store)
            entries[key] = value
            if step % 25 == 0 || step == 399 {
                #expect(root == referenceMapRoot(entries.map { (StateMap.keyHash($0.key), $0.value) }))
            }
        }
        for (key, value) in entries {
            #expect(try StateMap.value(for: StateMap.keyHash(key), root: root, in: store) == value)
        }
        for missing in ["case/CP-2024-9999", "staff/nobody", ""] {
            #expect(try StateMap.value(for: StateMap.keyHash(missing), root: root, in: store) == nil)
        }
    }

    /// Removal leaves the map the one that never held the key: the
    /// reference root of what is left, every remaining entry still proved,
    /// the removed one proved absent, and inserts after it still right.
    /// The same through a node cache (0: none), tiny (emptied again and
    /// again) or large: the cache changes no root; and the top-down walk's
    /// path recomputes bottom up (§12a) to the root, for keys held and not.
    @Test(arguments: [0, 7, 1 << 16])
    func removalsGiveTheReferenceRootOfWhatIsLeft(cacheLimit: Int) throws {
        let cache = cacheLimit == 0 ? nil : StateNodeCache(limit: cacheLimit)
        let store = MapNodes()
        var root = StateMap.empty
        var entries: [String: [UInt8]] = [:]
        var generator = SystemRandomNumberGenerator()
        for step in 0..<600 {
            let key = "document/CP-2024-0042/\(Int.random(in: 0..<120, using: &generator))"
            if Bool.random(using: &generator), entries[key] != nil {
                root = try StateMap.remove(StateMap.keyHash(key), root: root, in: store, cache: cache)
                entries[key] = nil
                #expect(try StateMap.value(for: StateMap.keyHash(key), root: root, in: store) == nil)
            } else {
                let value = SHA256.hash(Array("value \(step)".utf8))
                root = try StateMap.set(StateMap.keyHash(key), to: value, root: root, in: store, cache: cache)
                entries[key] = value
            }
            #expect(root == referenceMapRoot(entries.map { (StateMap.keyHash($0.key), $0.value) }), "step \(step)")
        }
        for (key, value) in entries {
            #expect(try StateMap.value(for: StateMap.keyHash(key), root: root, in: store, cache: cache) == value)
        }
        for key in Array(entries.keys) + ["document/CP-2024-0042/absent", "staff/nobody"] {
            let hashed = StateMap.keyHash(key)
            #expect(try StateMap.walk(hashed, root: root, in: store, cache: cache).root(for: Hash32(hashed)!).bytes == root)
        }
        // Removing what is not there changes nothing; removing everything empties it.
        #expect(try StateMap.remove(StateMap.keyHash("staff/nobody"), root: root, in: store) == root)
        for key in entries.keys { root = try StateMap.remove(StateMap.keyHash(key), root: root, in: store, cache: cache) }
        #expect(root == StateMap.empty)
        #expect(try StateMap.value(for: StateMap.keyHash("document/CP-2024-0042/1"), root: root, in: store) == nil)
        root = try StateMap.set(StateMap.keyHash("a"), to: SHA256.hash([1]), root: root, in: store)
        #expect(root == referenceMapRoot([(StateMap.keyHash("a"), SHA256.hash([1]))]))
        // A removal under a root the path does not lead to is refused.
        var other = root
        other[0] ^= 1
        #expect(throws: VaultError.self) { _ = try StateMap.remove(StateMap.keyHash("a"), root: other, in: store) }
    }

    @Test func aDamagedNodeOrAWrongRootIsRefused() throws {
        let store = MapNodes()
        var root = StateMap.empty
        for i in 0..<50 { root = try StateMap.set(StateMap.keyHash("k\(i)"), to: SHA256.hash([UInt8(i)]), root: root, in: store) }
        // Another root: nothing proves membership under it.
        var other = root
        other[0] ^= 1
        #expect(throws: VaultError.self) { _ = try StateMap.value(for: StateMap.keyHash("k1"), root: other, in: store) }
        #expect(throws: VaultError.self) { _ = try StateMap.set(StateMap.keyHash("k1"), to: [UInt8](repeating: 7, count: 32), root: other, in: store) }
        // A leaf's value rewritten in place: its path no longer leads to the root.
        let key = StateMap.keyHash("k7")
        let leafPath = store.nodes.values.first { $0.kind == .leaf && $0.first == key }!.path
        store.nodes[leafPath]!.second = [UInt8](repeating: 9, count: 32)
        #expect(throws: VaultError.self) { _ = try StateMap.value(for: key, root: root, in: store) }
        // A removed inner node.
        let innerPath = store.nodes.values.first { $0.kind == .inner && $0.path.count > 2 }!.path
        store.nodes[innerPath] = nil
        #expect(throws: (any Error).self) {
            for i in 0..<50 { _ = try StateMap.value(for: StateMap.keyHash("k\(i)"), root: root, in: store) }
        }
    }

    @Test func pathsEncodeDepthAndPrefix() {
        let key: [UInt8] = [0b1011_0110, 0xff] + [UInt8](repeating: 0, count: 30)
        #expect(StateMap.path(key, depth: 0) == [0, 0])
        #expect(StateMap.path(key, depth: 3) == [0, 3, 0b1010_0000])
        #expect(StateMap.path(key, depth: 8) == [0, 8, 0b1011_0110])
        #expect(StateMap.path(key, depth: 10) == [0, 10, 0b1011_0110, 0b1100_0000])
        #expect(StateMap.path(key, depth: 256).count == 34)
    }

    /// The node cache answers only by hash: a node edited in the store is
    /// not believed from the cache and is refused without it, as is a
    /// malformed one; a walk under a root its stored path does not lead to
    /// puts nothing in the cache.
    @Test func theNodeCacheIsContentAddressed() throws {
        let cache = StateNodeCache(limit: 1 << 16)
        let store = MapNodes()
        var root = StateMap.empty
        for i in 0..<64 { root = try StateMap.set(StateMap.keyHash("k\(i)"), to: SHA256.hash([UInt8(i)]), root: root, in: store, cache: cache) }
        let key = StateMap.keyHash("k9")
        let leafPath = store.nodes.values.first { $0.kind == .leaf && $0.first == key }!.path
        store.nodes[leafPath]!.second = [UInt8](repeating: 9, count: 32)
        // The cache holds the leaf its parent names: the edit is not what it answers.
        #expect(try StateMap.value(for: key, root: root, in: store, cache: cache) == SHA256.hash([9]))
        // Read from the store, the edited leaf does not hash to what its parent names.
        #expect(throws: VaultError.self) { _ = try StateMap.value(for: key, root: root, in: store) }
        let fresh = StateNodeCache(limit: 1 << 16)
        #expect(throws: VaultError.self) { _ = try StateMap.value(for: key, root: root, in: store, cache: fresh) }
        // Under a forged root nothing is verified, so nothing is cached.
        let forged = SHA256.hash(Array("forged".utf8))
        #expect(throws: VaultError.self) { _ = try StateMap.value(for: StateMap.keyHash("k1"), root: forged, in: store, cache: fresh) }
        #expect(fresh.node(forged) == nil)
        // A node cut short is refused (and not cached).
        let other = StateMap.keyHash("k20")
        let otherPath = store.nodes.values.first { $0.kind == .leaf && $0.first == other }!.path
        store.nodes[otherPath]!.first.removeLast()
        #expect(throws: VaultError.self) { _ = try StateMap.value(for: other, root: root, in: store, cache: StateNodeCache(limit: 16)) }
    }
}

@Suite struct CheckpointTests {
    @Test func aCheckpointRoundTripsAndOnlyItsSignerVerifies() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        let admin = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
        let checkpoint = try vault.checkpoint(signedBy: admin)
        let note = checkpoint.note
        #expect(note.hasPrefix("casevault/\(vault.config.vaultId)\n2\n"))
        #expect(note.contains("\n\n— casevault/\(vault.config.vaultId)/amina "))
        let parsed = try Checkpoint(parsing: note)
        #expect(parsed == checkpoint)
        #expect(parsed.isSigned(by: "amina", key: admin.signingKeys.publicKey, vaultID: vault.config.vaultId))
        let other = SigningKeyPair()
        #expect(!parsed.isSigned(by: "amina", key: other.publicKey, vaultID: vault.config.vaultId))
        // An edited size or root no longer verifies.
        let edited = try Checkpoint(parsing: note.replacingOccurrences(of: "\n2\n", with: "\n1\n"))
        #expect(!edited.isSigned(by: "amina", key: admin.signingKeys.publicKey, vaultID: vault.config.vaultId))
        for bad in ["", "casevault/x\n2\n", note.replacingOccurrences(of: "— ", with: "- "), note + "trailing",
                    note.replacingOccurrences(of: "\n2\n", with: "\n02\n")] {
            #expect(throws: VaultError.self) { _ = try Checkpoint(parsing: bad) }
        }
    }
}

/// The direct writers of state records must give exactly what the Codable
/// encoding gives (which is the definition, SECURITY.md §12a).
@Suite struct CanonicalRecordTests {
    func same(_ record: some CanonicalRecord, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let codable = try JSONValueEncoder().encode(record).canonicalBytes
        #expect(record.canonicalJSON == codable, "\(String(decoding: record.canonicalJSON, as: UTF8.self))", sourceLocation: sourceLocation)
    }

    @Test func everyRecordWritesItsCodableEncoding() throws {
        let odd = "Amani \"Ali\" \\ é 😀 \n\t\u{1}"
        try same(VaultSettingsRecord(vaultId: "267ef8f8-bb8f-4955-8fbe-b1e63fb3303b", formatVersion: 2, createdAt: "2026-12-03T08:00:00Z",
                                     kdf: .init(algorithm: "argon2id13", opsLimit: 3, memLimit: 268_435_456), insecureTestingKDF: true,
                                     recoveryPublicKey: nil, caseCategories: ["CP", odd], teamTierRoles: [], eventSeq: 1))
        try same(VaultSettingsRecord(vaultId: "v", formatVersion: 1, createdAt: "c", kdf: .init(algorithm: "a", opsLimit: 16, memLimit: 4 << 30),
                                     insecureTestingKDF: false, recoveryPublicKey: "ab", caseCategories: [], teamTierRoles: ["x", "y"], eventSeq: 9))
        let staff = StaffRecord(id: "grace", name: odd, role: "case-manager", boxPublicKey: "01", signingPublicKey: "02", wrappedKeysHash: "03",
                                addedAt: "t", addedBy: nil, addedSeq: 2, keysSeq: 40)
        try same(staff)
        var other = staff
        other.addedBy = "amina"
        try same(other)
        let record = CaseRecord(number: "CP-2024-0042", category: "CP", year: 2024, clientNumber: 42, status: "AO", manager: "grace",
                                supervisor: "halima", teamPublicKey: "aa", confidentialPublicKey: "bb", openedAt: "t", openedBy: "halima", openedSeq: 7)
        try same(record)
        let grants = [GrantRecord(caseNumber: "CP-2024-0042", tier: "team", holder: "staff:grace", holderPublicKey: "cc", sealedKeyHash: "dd", grantedSeq: 8),
                      GrantRecord(caseNumber: "CP-2024-0042", tier: "confidential", holder: "recovery", holderPublicKey: "ee", sealedKeyHash: "ff", grantedSeq: 9)]
        try same(CaseState(record, grants: grants))
        try same(CaseState(record, grants: []))
        try same(ClientState(case: "CP-2024-0042"))
        try same(CountState(count: 7))
        try same(CaseCountState(count: 3, highestClient: 42))
        try same(DocumentRecord(caseNumber: "CP-2024-0042", name: odd, type: "report", isForm: false, latestVersion: 3, confidential: true))
        let stamp = Stamp(date: "2026-12-03T11:00:00+03:00", caseNumber: "CP-2024-0042", caseStatus: .inactive, report: odd,
                          caseManager: "Grace", caseSupervisor: "Halima", version: 3, filedBy: "farah", filedByName: odd)
        try same(VersionRecord(caseNumber: "CP-2024-0042", document: odd, version: 3, type: "report", tier: "team", objectId: "0f",
                               size: 0, ciphertextSize: 41, sealedFileKeyHash: "aa", stamp: stamp, filedSeq: 30,
                               schemaId: nil, schemaVersion: nil, schemaBodyHash: nil))
        try same(VersionRecord(caseNumber: "C", document: "D", version: 1, type: "intake", tier: "confidential", objectId: "0f",
                               size: .max, ciphertextSize: 1, sealedFileKeyHash: "aa", stamp: stamp, filedSeq: 1,
                               schemaId: "https://x/intake", schemaVersion: 2, schemaBodyHash: "bb"))
        let schema = SchemaRecord(formType: "intake", version: 2, schemaId: "https://x", title: odd, bodyHash: "aa", addedAt: "t", addedBy: "dora", addedSeq: 5)
        try same(schema)
        try same(SchemaTypeState(type: "intake", versions: [schema, schema]))
        // The report tallies (their rows are these bytes).
        let tally = CaseTally(category: "CP", concern: true, here: true, hold: false, lastFiled: "2026-12-01", lastVisit: nil, manager: odd,
                              openedDay: "2026-01-01", pendingClosure: false, status: "O", supervisor: "halima")
        try same(tally)
        var visited = tally
        visited.lastVisit = "2026-11-30"
        try same(visited)
        try same(MonthTally(activity: 3, caseloads: ["halima": ["grace": 2, odd: -1], "b": [:]], statuses: ["CP": ["O": 1, "AO": 2], "UASC": ["C": 1]]))
        try same(MonthTally())
        try same(ActivityChunk(entries: [.init(case: "CP-2024-0042", kind: "opened"), .init(case: odd, kind: "closed")]))
        try same(TallyMonths(months: ["2026-01", "2026-02"]))
        try same(TallyTotals(agedOut: 1, concern: 2, holds: 3, pendingClosures: 4, since: 9))
        try same(DueTally(idle: ["2026-01-01": 2, "2025-12-31": 1], visit: [:]))
    }
}

@Suite struct CanonicalEventTests {
    @Test func everyEventBodyIsItsCodableEncoding() throws {
        let stamp = Stamp(date: "2026-12-03T11:00:00+03:00", caseNumber: "CP-2024-0042", caseStatus: .open, report: "Intake \"form\"",
                          caseManager: "Grace", caseSupervisor: "Halima", version: 2, filedBy: "farah", filedByName: "Farah")
        let kdf = VaultSettingsRecord.KDF(algorithm: "argon2id13", opsLimit: 3, memLimit: 268_435_456)
        let data: [EventData] = [
            .vaultCreated(VaultCreated(formatVersion: 2, createdAt: "t", kdf: kdf, insecureTestingKDF: false, recoveryPublicKey: nil,
                                       caseCategories: ["CP"], teamTierRoles: ["project-director"])),
            .vaultCreated(VaultCreated(formatVersion: 2, createdAt: "t", kdf: kdf, insecureTestingKDF: true, recoveryPublicKey: "ab",
                                       caseCategories: [], teamTierRoles: [])),
            .vaultCreated(VaultCreated(formatVersion: 2, createdAt: "t", kdf: kdf, insecureTestingKDF: true, recoveryPublicKey: "ab",
                                       caseCategories: [], teamTierRoles: [], tallies: true)),
            .talliesStarted(TalliesStarted(cases: 100_000)),
            .staffAdded(StaffAdded(id: "grace", name: "Grace Ötieno", role: "case-manager", boxPublicKey: "01", signingPublicKey: "02", wrappedKeysHash: "03")),
            .passphraseChanged(PassphraseChanged(id: "grace", wrappedKeysHash: "04")),
            .caseOpened(CaseOpened(case: "CP-2024-0042", category: "CP", year: 2024, clientNumber: 42, status: "O", manager: "grace",
                                   supervisor: "halima", teamPublicKey: "05", confidentialPublicKey: "06")),
            .grantGiven(GrantGiven(case: "CP-2024-0042", tier: "team", holder: "recovery", holderPublicKey: "07", sealedKeyHash: "08")),
            .versionFiled(VersionFiled(case: "CP-2024-0042", document: "Intake \"form\"", version: 2, type: "intake", tier: "team", object: "09",
                                       size: 10, ciphertextSize: 51, sealedFileKeyHash: "0a", stamp: stamp, schema: nil)),
            .versionFiled(VersionFiled(case: "CP-2024-0042", document: "Intake", version: 2, type: "intake", tier: "team", object: "09",
                                       size: 10, ciphertextSize: 51, sealedFileKeyHash: "0a", stamp: stamp,
                                       schema: .init(id: "https://x/intake", version: nil, bodyHash: "0b"))),
            .versionFiled(VersionFiled(case: "CP-2024-0042", document: "Intake", version: 2, type: "intake", tier: "team", object: "09",
                                       size: 10, ciphertextSize: 51, sealedFileKeyHash: "0a", stamp: stamp,
                                       schema: .init(id: "https://x/intake", version: 3, bodyHash: "0b"))),
            .contentRead(ContentRead(case: "CP-2024-0042", document: "Intake", version: 1, tier: "team", object: "0c")),
            .contentRefused(ContentRefused(case: "CP-2024-0042", document: "Intake", version: 1, tier: "confidential", reason: "no-grant")),
            .schemaAdded(SchemaAdded(type: "intake", version: 1, id: "https://x/intake", title: "Intake form", bodyHash: "0d")),
        ]
        for (index, item) in data.enumerated() {
            for (format, root) in [(1, nil), (2, [UInt8](repeating: 0xab, count: 32)), (3, [UInt8](repeating: 0xcd, count: 32))] {
                let event = Event(format: format, seq: Int64(index + 1), vault: "267ef8f8-bb8f-4955-8fbe-b1e63fb3303b",
                                  at: "2026-12-03T08:00:00Z", actor: "amina", data: item, stateRoot: root)
                #expect(try event.body() == event.codableBody(), "\(item.type)")
                #expect(try Event(body: try event.body()) == event)
            }
        }
    }

    @Test func aBodyThatIsNotExactlyCanonicalIsRefused() throws {
        let event = Event(format: 2, seq: 3, vault: "v", at: "t", actor: "amina",
                          data: .passphraseChanged(PassphraseChanged(id: "amina", wrappedKeysHash: "aa")), stateRoot: [UInt8](repeating: 1, count: 32))
        let body = String(decoding: try event.body(), as: UTF8.self)
        for bad in [body.replacingOccurrences(of: ",", with: ", "),
                    body.replacingOccurrences(of: "\"id\":\"amina\"", with: "\"id\":\"amina\",\"extra\":1"),
                    body.replacingOccurrences(of: "\"v\":2", with: "\"v\":6"),
                    body.replacingOccurrences(of: "\"v\":2", with: "\"v\":1"),
                    body.replacingOccurrences(of: "\"seq\":3", with: "\"seq\":\"3\""),
                    body.replacingOccurrences(of: "amina\"", with: "amin\\u0061\"")] {
            #expect(throws: VaultError.self, "\(bad)") { _ = try Event(body: Array(bad.utf8)) }
        }
    }
}
