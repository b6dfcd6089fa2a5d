internal import CaseVaultCrypto
internal import Foundation

/// What `verify` should read besides the catalog.
public struct VerifyOptions: Sendable {
    public enum DataCheck: Sendable, Equatable {
        case none
        /// Every object's bytes hashed (with libsodium) against its name.
        case all
        /// A random share of the objects, in percent.
        case subset(percent: Double)
    }
    public var readData = DataCheck.none
    /// Remove orphan objects and unfinished temp files, when nothing else is wrong.
    public var repair = false
    /// (stage, done, total), for a terminal.
    public var progress: (@Sendable (String, Int64, Int64) -> Void)?

    public init(readData: DataCheck = .none, repair: Bool = false) {
        self.readData = readData
        self.repair = repair
    }
}

extension Vault {
    /// Checks everything the vault holds against its signed log, trusting
    /// nothing in the catalog (SECURITY.md §12c): every event's form, place
    /// and signature by the key its signer held then; every event against
    /// the rules as replayed from the start (who may sign what, each stamp
    /// true); each signed state root against the replay's; the stored Merkle
    /// tree against the leaves; the log against the user's checkpoint and any
    /// one given; the catalog against the replay, row by row; every blob and
    /// object the replayed catalog names (and, with `readData`, the bytes of
    /// objects). Leftovers of crashes are reported apart, and removed with
    /// `repair` while no filing runs.
    public func verify(_ options: VerifyOptions = VerifyOptions()) throws -> VerifyReport {
        let (found, leftovers) = try store.read { reader in
            var verifier = Verifier(vault: self, reader: reader, options: options)
            try verifier.run()
            return (verifier.report, verifier.leftovers)
        }
        var report = found
        if options.repair, report.isClean { try repair(leftovers, into: &report) }
        return report
    }

    /// The objects the catalog's versions of cases not disposed of name.
    private static func liveObjectIDs(_ reader: any CatalogReader) throws -> Set<String> {
        let disposed = Set(try reader.disposals(caseNumber: nil).map { Array($0.caseNumber.utf8) })
        return Set(try reader.versions(caseNumber: nil, document: nil).filter { !disposed.contains(Array($0.caseNumber.utf8)) }.map(\.objectId))
    }

    /// Removes leftovers, only from a vault with no faults and only while
    /// no filing runs (a filing's object is an orphan until it commits).
    /// Runs after verify's snapshot is released: a filing may have committed
    /// since, so what the catalog names now (read under the lock, when no
    /// filing can be between writing its object and committing) is kept.
    private func repair(_ leftovers: (orphans: [ObjectID], temps: [String]), into report: inout VerifyReport) throws {
        let removed = try objects.whileNoFilingRuns { () -> [String] in
            let named = try store.read { try Self.liveObjectIDs($0) }
            var removed: [String] = []
            for id in leftovers.orphans where !named.contains(id.hex) && objects.contains(id) {
                objects.remove(id)
                removed.append("object \(id.hex)")
            }
            for name in leftovers.temps where FileSystem.isRegularFile(objects.root + "/" + name) {
                FileSystem.remove(objects.root + "/" + name)
                removed.append("objects/\(name)")
            }
            return removed
        }
        guard let removed else {
            throw VaultError.io("a filing is running; run 'casevault verify --repair' again when it is done")
        }
        for subject in removed { report.add(.leftoverRemoved, subject, "removed") }
    }
}

private struct Verifier {
    let vault: Vault
    let reader: any CatalogReader
    let options: VerifyOptions
    var report = VerifyReport()
    let scratch = MemoryCatalogStore()
    var range = CompactRange()
    var root = StateMap.empty
    /// The replayed map's nodes, by hash, as the replay computes them.
    let replayNodes = VerifiedCaches()
    /// The newest state root an event signed, and its event.
    var signedRoot: (seq: Int64, root: [UInt8])?
    var expected: Int64 = 1
    var previousFormat = 0
    /// Events whose signed state root differed from the replay's.
    var divergedAfter = 0
    var checkpoints: [(Checkpoint, String)] = []
    /// Format-1 `version.filed` events (their built-in schema's text was not stored).
    var formatOneFilings = Set<Int64>()
    /// Orphan objects and temp files for `repair`, once the snapshot ends.
    var leftovers: (orphans: [ObjectID], temps: [String]) = ([], [])

    init(vault: Vault, reader: any CatalogReader, options: VerifyOptions) {
        self.vault = vault
        self.reader = reader
        self.options = options
    }

    mutating func run() throws {
        checkpoints = vault.checkpointsAtOpen.map { checkpoint, source in
            (checkpoint, source == "the checkpoint you gave" ? "the checkpoint given" : "your last checkpoint")
        }
        try replayLog()
        checkCheckpoints()
        try scratch.read { replayed in
            try compareCatalog(with: replayed)
            try checkGrants(replayed)
            try checkStateMap(replayed)
            try checkBlobs(replayed)
            try checkObjects(replayed)
        }
    }

    // MARK: The log

    struct Parsed: @unchecked Sendable {
        let record: EventRecord
        let event: Event?
        let error: String?
        let leaf: [UInt8]
    }

    /// Events in batches, two stages overlapping on two cores: while one
    /// batch is applied in order (this thread), the next is parsed and its
    /// signatures verified (the others).
    mutating func replayLog() throws {
        let last = try reader.lastEventSeq()
        guard last > 0 else { return }
        let keys = SignerKeys()
        var pending: Prepared?
        var batch: [EventRecord] = []
        var seen: Int64 = 0
        batch.reserveCapacity(Self.batchSize)
        try scratch.write { writer in
            func flush() throws {
                guard !batch.isEmpty else { return }
                let next = Box<Prepared?>(nil)
                let group = DispatchGroup()
                let work = batch
                DispatchQueue.global().async(group: group) { next.value = Self.prepare(work, keys: keys) }
                defer { group.wait() }
                if let pending { try commit(pending, into: writer) }
                group.wait()
                pending = next.value
                batch.removeAll(keepingCapacity: true)
            }
            try reader.forEachEvent(in: 1...last) { record in
                seen += 1
                batch.append(record)
                if batch.count == Self.batchSize {
                    try flush()
                    options.progress?("events", record.seq, last)
                }
                return true
            }
            try flush()
            if let pending { try commit(pending, into: writer) }
            try checkCheckpointSignatures(atSize: range.size, replayed: writer)
        }
        if expected <= last { report.add(.eventMissing, "events \(expected)–\(last)", "missing from the log") }
        // Rows no sequence 1…last reaches (0, negative) are in no log.
        let stray = try reader.eventCount() - seen
        if stray > 0 { report.add(.eventOutOfPlace, "\(stray) event rows", "stored with a sequence number below 1") }
        // The tree of n leaves has n − popcount(n) perfect subtrees above
        // the leaves; each was compared as the replay completed it.
        let nodes = try reader.logNodeCount(), due = range.size - Int64(range.size.nonzeroBitCount)
        if nodes > due { report.add(.logNodeDiffers, "\(nodes - due) log nodes", "no subtree of the \(range.size)-event log is stored there") }
        if divergedAfter > 1 {
            report.add(.stateRootDiffers, "\(divergedAfter - 1) later events", "their signed states differ from the replay's too, following the first")
        }
        report.events = range.size
        report.treeSize = range.size
        report.rootHex = range.root.hexString
        options.progress?("events", last, last)
    }

    static let batchSize = 2_048

    /// A batch parsed, hashed and signature-checked, ready to apply.
    struct Prepared: Sendable {
        let parsed: [Parsed]
        let valid: [Bool]
    }

    /// Signing keys by staff id, from the `staff.added` events met so far
    /// (in log order: only one batch is prepared at a time).
    final class SignerKeys: @unchecked Sendable {
        var keys: [String: SigningPublicKey] = [:]
    }

    final class Box<T>: @unchecked Sendable {
        var value: T
        init(_ value: T) { self.value = value }
    }

    /// Parses and hashes a batch on every core, picks each event's signer's
    /// key in log order (the one their earlier `staff.added` announced; for
    /// event 1, the first admin's, which event 2 brings), and verifies the
    /// signatures on every core. Touches nothing but `keys`.
    static func prepare(_ batch: [EventRecord], keys: SignerKeys) -> Prepared {
        let parsed = Parallel.map(batch) { record -> Parsed in
            let leaf = LogTree.leafHash(body: record.body, signature: record.signature)
            do { return Parsed(record: record, event: try Event(body: record.body), error: nil, leaf: leaf) } catch let error as VaultError {
                return Parsed(record: record, event: nil, error: error.message, leaf: leaf)
            } catch {
                return Parsed(record: record, event: nil, error: "\(error)", leaf: leaf)
            }
        }
        var signers: [SigningPublicKey?] = []
        signers.reserveCapacity(parsed.count)
        for (index, item) in parsed.enumerated() {
            guard let event = item.event else { signers.append(nil); continue }
            if event.seq == 1, case .vaultCreated = event.data {
                let next = index + 1 < parsed.count ? parsed[index + 1].event : nil
                if case .staffAdded(let data)? = next?.data, data.id == event.actor { signers.append(key(data.signingPublicKey)) } else { signers.append(nil) }
                continue
            }
            if case .staffAdded(let data) = event.data, event.seq == 2 { keys.keys[data.id] = key(data.signingPublicKey) }
            signers.append(keys.keys[event.actor])
            if case .staffAdded(let data) = event.data, event.seq != 2, keys.keys[data.id] == nil { keys.keys[data.id] = key(data.signingPublicKey) }
        }
        let valid = Parallel.map(Array(zip(parsed, signers))) { item, key -> Bool in
            guard let key else { return false }
            return key.isValidSignature(item.record.signature, for: Event.signedMessage(body: item.record.body))
        }
        return Prepared(parsed: parsed, valid: valid)
    }

    /// Checks each event's place, columns and signature result, and applies
    /// it, in order.
    mutating func commit(_ prepared: Prepared, into writer: any CatalogWriter) throws {
        for (index, item) in prepared.parsed.enumerated() {
            try checkCheckpointSignatures(atSize: range.size, replayed: writer)
            let record = item.record
            let subject = "event \(record.seq)"
            if record.seq != expected {
                if record.seq > expected { report.add(.eventMissing, expected == record.seq - 1 ? "event \(expected)" : "events \(expected)–\(record.seq - 1)", "missing from the log") }
                expected = record.seq
            }
            expected += 1
            if record.leafHash != item.leaf { report.add(.leafHashDiffers, subject, "its stored leaf hash is not the hash of its body and signature") }
            try appendLeaf(item.leaf, writer: writer)
            guard let event = item.event else {
                report.add(.eventMalformed, subject, item.error ?? "unreadable")
                continue
            }
            guard event.seq == record.seq else {
                report.add(.eventOutOfPlace, subject, "its body says it is event \(event.seq)")
                continue
            }
            if event.vault != vault.config.vaultId { report.add(.eventOutOfPlace, subject, "it belongs to vault \(event.vault)") }
            if record.type != event.type.rawValue || record.actor != event.actor || record.at != event.at {
                report.add(.eventColumnsDiffer, subject, "its type, actor or time column differs from its signed body")
            }
            if previousFormat == 2 && event.format == 1 { report.add(.eventMalformed, subject, "format 1 after format 2") }
            previousFormat = event.format
            if event.format == 1, case .versionFiled = event.data { formatOneFilings.insert(event.seq) }
            if !prepared.valid[index] {
                report.add(.badSignature, subject, "\(event.type.rawValue) is not validly signed by '\(event.actor)'")
            }
            // The projection looks back at event 1 (when applying event 2),
            // so the scratch log keeps events 1 and 2, and nothing more: the
            // live log is what verify checks, and a copy would double the
            // memory of a large one.
            if record.seq <= 2, try writer.lastEventSeq() == record.seq - 1 { try writer.appendEvent(record) }
            // An import's projection reads its history and schema bodies: the
            // scratch catalog gets them first, when intact (checkBlobs reports the rest).
            if case .caseImported(let data) = event.data {
                for hash in [data.history] + data.schemaBodies {
                    if let bytes = try reader.blob(hash: hash), Blake2b.hash(bytes).hexString == hash { try writer.putBlob(hash: hash, bytes: bytes) }
                }
            }
            // A search-key grant's projection checks its sealed box's size.
            if case .searchKeyGranted(let data) = event.data, let bytes = try reader.blob(hash: data.sealedKeyHash),
               Blake2b.hash(bytes).hexString == data.sealedKeyHash {
                try writer.putBlob(hash: data.sealedKeyHash, bytes: bytes)
            }
            do {
                root = try Projection.apply(event, to: writer, root: root, checked: false, verified: replayNodes)
            } catch let error as VaultError {
                report.add(.ruleBroken, subject, error.message)
                continue
            }
            // The disposal rules read the policy file: the scratch catalog
            // gets each version's blob, when intact (checkBlobs reports the rest).
            if case .retentionPolicySet(let data) = event.data, let bytes = try reader.blob(hash: data.bodyHash),
               Blake2b.hash(bytes).hexString == data.bodyHash {
                try writer.putBlob(hash: data.bodyHash, bytes: bytes)
            }
            if let signed = event.stateRoot {
                if signed != root {
                    // Once the replay parts from the signed states, every later
                    // root differs too: name the first, count the rest.
                    if divergedAfter == 0 { report.add(.stateRootDiffers, subject, "it signed a state the replayed log does not give") }
                    divergedAfter += 1
                }
                signedRoot = (event.seq, signed)
            }
        }
    }

    /// Adds a leaf to the recomputed tree and compares the stored nodes it completes.
    mutating func appendLeaf(_ leaf: [UInt8], writer: any CatalogWriter) throws {
        for node in range.append(leaf: leaf) {
            if try reader.logNode(level: node.level, index: node.index) != node.hash {
                report.add(.logNodeDiffers, "log node \(node.level)/\(node.index)", "the stored Merkle node differs from the one the events give")
            }
        }
        for (checkpoint, source) in checkpoints where checkpoint.size == range.size && checkpoint.root != range.root {
            report.add(.checkpointNotExtended, source, "the log's first \(checkpoint.size) events are not the ones it signed")
        }
    }

    /// A checkpoint of `size` events must be signed by a member the first
    /// `size` events added, with the key they were added with (as at open,
    /// SECURITY.md §12b); `replayed` holds those events' state.
    mutating func checkCheckpointSignatures(atSize size: Int64, replayed: any CatalogReader) throws {
        for (checkpoint, source) in checkpoints where checkpoint.size == size {
            let signed = try checkpoint.signers(vaultID: vault.config.vaultId).contains { id in
                guard let record = try replayed.staff(id: id), record.left == nil, let key = Self.key(record.signingPublicKey) else { return false }
                return checkpoint.isSigned(by: id, key: key, vaultID: vault.config.vaultId)
            }
            if !signed {
                report.add(.checkpointNotSigned, source, "no member of the vault's first \(size) events signed it")
            }
        }
    }

    mutating func checkCheckpoints() {
        for (checkpoint, source) in checkpoints where checkpoint.size > range.size {
            report.add(.checkpointNotExtended, source, "it signed \(checkpoint.size) events; the log now has \(range.size)")
        }
    }

    static func key(_ hex: String) -> SigningPublicKey? {
        [UInt8](hexString: hex).flatMap { try? SigningPublicKey(bytes: $0) }
    }

    // MARK: The catalog

    mutating func compareCatalog(with replayed: any CatalogReader) throws {
        if let settings = try replayed.vaultSettings(), !vault.config.matches(settings) {
            report.add(.configDiffers, Vault.configFileName, "it differs from the settings signed when the vault was created")
        }
        for difference in try CatalogComparison.differences(live: reader, replayed: replayed) {
            let subject = "\(difference.table) \(difference.key)"
            switch difference.kind {
            case .missing: report.add(.rowMissing, subject, "the log records it; the catalog lacks it")
            case .extra: report.add(.rowAdded, subject, "no signed event made it")
            case .changed:
                let fields = difference.fields.joined(separator: ", ")
                report.add(.rowChanged, subject, "\(fields) \(difference.fields.count == 1 ? "differs" : "differ") from the signed log")
            }
        }
        report.versions = try replayed.versions(caseNumber: nil, document: nil).count
    }

    /// Every case's key is sealed to everyone who must hold it when the case
    /// is opened (SECURITY.md §3): its manager and supervisor, the vault's
    /// recovery key, both tiers; every member then on the staff whose role
    /// holds the team tier, that tier. Who opens a case gives its grants and
    /// could leave one out; each grant is checked as it is given, but only
    /// the whole replay knows who was left out.
    mutating func checkGrants(_ replayed: any CatalogReader) throws {
        guard let settings = try replayed.vaultSettings() else { return }
        let staff = try replayed.allStaff()
        for record in try replayed.cases(matching: CaseQuery()) {
            var due: [(holder: String, tier: Tier)] = [
                (GrantHolder.staff(record.manager), .team), (GrantHolder.staff(record.manager), .confidential),
                (GrantHolder.staff(record.supervisor), .team), (GrantHolder.staff(record.supervisor), .confidential),
            ]
            if settings.recoveryPublicKey != nil { due += [(GrantHolder.recovery, .team), (GrantHolder.recovery, .confidential)] }
            for member in staff where member.addedSeq < record.openedSeq && settings.teamTierRoles.contains(member.role)
                && member.id != record.manager && member.id != record.supervisor && (member.left?.seq ?? .max) > record.openedSeq {
                due.append((GrantHolder.staff(member.id), .team))
            }
            // A rotation keeps every holder but those it removes, and removes
            // only who left (or is revoked): the rules check that as it is
            // signed. Here, members who left hold nothing of the current key.
            let departed = Set(staff.filter { $0.left != nil }.map { GrantHolder.staff($0.id) })
            due.removeAll { departed.contains($0.holder) || record.generation(of: $0.tier) > 1 }
            // A rotated tier: its manager and supervisor (unless they left)
            // and the recovery key hold its current generation.
            for tier in Tier.allCases where record.generation(of: tier) > 1 {
                for id in [record.manager, record.supervisor] where !departed.contains(GrantHolder.staff(id)) {
                    due.append((GrantHolder.staff(id), tier))
                }
                if settings.recoveryPublicKey != nil { due.append((GrantHolder.recovery, tier)) }
            }
            let given = Set(try replayed.grants(caseNumber: record.number).filter { grant in
                Tier(rawValue: grant.tier).map { record.generation(of: $0) == grant.generation } ?? false
            }.map { "\($0.tier) \($0.holder)" })
            for (holder, tier) in due where !given.contains("\(tier.rawValue) \(holder)") {
                report.add(.grantMissing, "case \(record.number)",
                           "opened by '\(record.openedBy)' (event \(record.openedSeq)) without the \(tier.rawValue)-tier grant to \(holder)")
            }
        }
    }

    /// The catalog's own state map must be the replayed one, node for node
    /// (updates are deterministic, so an untouched catalog holds exactly
    /// these nodes), or decisions would fail, or worse, on it.
    mutating func checkStateMap(_ replayed: any CatalogReader) throws {
        guard let signed = signedRoot, signed.root == root, let scratchNodes = replayed as? MemoryCatalogStore.Transaction else { return }
        var expected = Dictionary(uniqueKeysWithValues: scratchNodes.allStateNodes().map { (MemoryCatalogStore.NodePath($0.path), $0) })
        let total = expected.count
        var damaged = 0, extra = 0
        try reader.forEachStateNode { node in
            switch expected.removeValue(forKey: MemoryCatalogStore.NodePath(node.path)) {
            case nil: extra += 1
            case let wanted?: if wanted != node { damaged += 1 }
            }
        }
        damaged += expected.count  // missing
        if damaged > 0 || extra > 0 {
            report.add(.stateMapDamaged, "state map", "\(damaged) of its \(total) nodes differ from the replayed map's or are missing, \(extra) are extra")
        }
    }

    /// Every blob the replayed catalog names must be present and hash to
    /// its name (libsodium's BLAKE2b-256).
    mutating func checkBlobs(_ replayed: any CatalogReader) throws {
        var needed: [String: String] = [:]
        // A secret blob (wrapped keys, a sealed tier or file key) is made
        // fresh for its one record: two records naming it is a forged event
        // (a version signed by hand naming another's sealed key, so that
        // moving it would carry that key away or erase it).
        func secret(_ hash: String, _ what: String) {
            if let first = needed[hash] {
                report.add(.blobShared, "blob \(hash)", "named by \(first) and by \(what)")
            } else {
                needed[hash] = what
            }
        }
        for member in try replayed.allStaff() { secret(member.wrappedKeysHash, "the wrapped keys of '\(member.id)'") }
        for copy in try replayed.searchKeys() { secret(copy.sealedKeyHash, "the search key sealed to '\(copy.holder)'") }
        // A disposed case's sealed keys were erased: its events name blobs
        // that must be gone (one still here is reported as unreferenced).
        let disposed = Set(try replayed.disposals(caseNumber: nil).map { Array($0.caseNumber.utf8) })
        var erased: [String: String] = [:]
        for record in try replayed.cases(matching: CaseQuery()) {
            if let imported = record.imported {
                needed[imported.history] = "the history of \(record.number), imported from vault \(imported.fromVault)"
            }
            for grant in try replayed.grants(caseNumber: record.number) {
                let what = "the \(grant.tier)-tier key of \(record.number) sealed to \(grant.holder)"
                if disposed.contains(Array(record.number.utf8)) { erased[grant.sealedKeyHash] = what } else { secret(grant.sealedKeyHash, what) }
            }
        }
        for version in try replayed.versions(caseNumber: nil, document: nil) {
            let what = "the sealed file key of \(version.caseNumber) '\(version.document)' v\(version.version)"
            if disposed.contains(Array(version.caseNumber.utf8)) { erased[version.sealedFileKeyHash] = what } else { secret(version.sealedFileKeyHash, what) }
            if let info = version.fileInfoHash {
                let what = "the sealed file name of \(version.caseNumber) '\(version.document)' v\(version.version)"
                if disposed.contains(Array(version.caseNumber.utf8)) { erased[info] = what } else { secret(info, what) }
            }
            if let schema = version.schemaBodyHash { needed[schema] = "the schema \(version.schemaId ?? "") of a form" }
        }
        for schema in try replayed.schemas(formType: nil) { needed[schema.bodyHash] = "the body of schema \(schema.formType) v\(schema.version)" }
        for policy in try replayed.retentionPolicies() { needed[policy.bodyHash] = "retention policy v\(policy.version)" }
        // Format 1 did not store the text of a built-in schema; this build's
        // own text counts when it is the one the form was validated against.
        var builtIn: Set<String> = []
        var builtInIDs = Set<String>()
        for version in try replayed.versions(caseNumber: nil, document: nil)
        where version.schemaVersion == nil && formatOneFilings.contains(version.filedSeq) {
            if let id = version.schemaId { builtInIDs.insert(id) }
        }
        for id in builtInIDs {
            if let schema = FormSchema.builtIn(id: id) { builtIn.insert(Blake2b.hash(Array(schema.text.utf8)).hexString) }
        }
        // One pass over the stored blobs, each hashed (libsodium) on every core.
        var stored: [(String, [UInt8])] = []
        try reader.forEachBlob { stored.append(($0, $1)) }
        let intact = Parallel.map(stored) { hash, bytes in Blake2b.hash(bytes).hexString == hash }
        var present = Set<String>()
        for ((hash, _), ok) in zip(stored, intact) {
            present.insert(hash)
            if let what = needed[hash] {
                if !ok { report.add(.blobAltered, "blob \(hash)", "\(what) does not hash to its name") }
            } else if let what = erased[hash] {
                report.add(.blobNotErased, "blob \(hash)", "\(what) should have been erased when its case was disposed of")
            } else {
                report.add(.unreferencedBlob, "blob \(hash)", "no current record names it")
            }
        }
        for (hash, what) in needed.sorted(by: { $0.key < $1.key }) where !present.contains(hash) && !builtIn.contains(hash) {
            report.add(.blobMissing, "blob \(hash)", "\(what) is missing")
        }
    }

    // MARK: Objects

    mutating func checkObjects(_ replayed: any CatalogReader) throws {
        // A disposed case's objects are expected gone.
        let disposed = Set(try replayed.disposals(caseNumber: nil).map { Array($0.caseNumber.utf8) })
        var versions: [VersionRecord] = []
        var shredded: [String: VersionRecord] = [:]
        for version in try replayed.versions(caseNumber: nil, document: nil) {
            if disposed.contains(Array(version.caseNumber.utf8)) { shredded[version.objectId] = version } else { versions.append(version) }
        }
        let referenced = Set(versions.map(\.objectId))
        var toRead = versions
        switch options.readData {
        case .none: toRead = []
        case .all: break
        case .subset(let percent):
            let count = percent <= 0 ? 0 : max(1, Int((Double(versions.count) * percent / 100).rounded(.up)))
            toRead = Array(versions.shuffled().prefix(count))
        }
        let reading = Set(toRead.map(\.objectId))
        var done: Int64 = 0
        for version in versions {
            let subject = "object \(version.objectId)"
            guard let id = ObjectID(hex: version.objectId), vault.objects.contains(id) else {
                report.add(.objectMissing, subject, "\(version.caseNumber) '\(version.document)' v\(version.version) has no object")
                continue
            }
            if FileSystem.fileSize(vault.objects.path(of: id)) != version.ciphertextSize {
                report.add(.objectSizeDiffers, subject, "it is not the \(version.ciphertextSize) bytes filed")
            }
            guard reading.contains(version.objectId) else { continue }
            let (hash, size) = try Self.hashFile(vault.objects.path(of: id))
            report.objectsRead += 1
            report.bytesRead += size
            if hash != version.objectId { report.add(.objectAltered, subject, "its bytes do not hash to its name") }
            done += 1
            options.progress?("objects", done, Int64(reading.count))
        }
        for id in try vault.objects.allObjects() where !referenced.contains(id.hex) {
            if let version = shredded[id.hex] {
                report.add(.disposalUnfinished, "object \(id.hex)",
                           "\(version.caseNumber) was disposed of, but this object of '\(version.document)' v\(version.version) remains (its keys are erased); 'casevault retention apply' or 'verify --repair' deletes it")
                continue
            }
            report.add(.orphanObject, "object \(id.hex)", "no version names it (a filing interrupted, or in progress)")
        }
        let temps = try FileSystem.listDirectory(vault.objects.root).filter { $0.hasPrefix(".tmp-") }
        for name in temps { report.add(.unfinishedTempFile, "objects/\(name)", "a filing stopped before its object was named") }
        // Listed again after the report: an object a filing wrote since is
        // still checked against the live catalog before repair removes it.
        if options.repair { leftovers = (try vault.objects.allObjects().filter { !referenced.contains($0.hex) }, temps) }
    }

    /// libsodium's BLAKE2b-256 over a file, read in 1 MiB pieces.
    static func hashFile(_ path: String) throws -> (String, Int64) {
        let fd = try FileSystem.openForReading(path)
        let hasher = Blake2b()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            let n = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
            if n == 0 { break }
            hasher.update(buffer[0..<n])
            total += Int64(n)
        }
        return (hasher.finalize().hexString, total)
    }
}
