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
    /// Events per batch of the replay's pipeline (at least 2); tests make it small.
    var batchSize = 2_048

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
            let verifier = Verifier(vault: self, reader: reader, options: options)
            // Its catalogs (the replayed one and the live rows, hundreds of
            // MB for a large log) are freed on another thread: the report
            // does not wait for that. (Only they: the vault, and its open
            // catalog, are not kept past this call.)
            defer {
                nonisolated(unsafe) let catalogs = verifier.handOverCatalogs()
                DispatchQueue.global(qos: .utility).async { withExtendedLifetime(catalogs) {} }
            }
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

/// A class, not a struct: its replay runs on a thread of its own (see
/// `replayLog`), which alone touches the scratch catalog and the report
/// until it is joined.
private final class Verifier: @unchecked Sendable {
    let vault: Vault
    let reader: any CatalogReader
    let options: VerifyOptions
    var report = VerifyReport()
    private(set) var scratch = MemoryCatalogStore()
    var range = CompactRange()
    var root = StateMap.empty
    /// The newest state root an event signed, and its event.
    var signedRoot: (seq: Int64, root: [UInt8])?
    var expected: Int64 = 1
    var previousFormat = 0
    /// The newest event format the vault signs, from its signed `vault.created`.
    var newestFormat = Event.currentFormat
    /// Events whose signed state root differed from the replay's.
    var divergedAfter = 0
    var checkpoints: [(Checkpoint, String)] = []
    /// Format-1 `version.filed` events (their built-in schema's text was not stored).
    var formatOneFilings = Set<Int64>()
    /// The blobs `case.client-named` events name (v18): each must be gone
    /// once its index is no longer a case's current one.
    var clientIndexBlobs = Set<String>()
    /// Orphan objects and temp files for `repair`, once the snapshot ends.
    var leftovers: (orphans: [ObjectID], temps: [String]) = ([], [])

    init(vault: Vault, reader: any CatalogReader, options: VerifyOptions) {
        self.vault = vault
        self.reader = reader
        self.options = options
    }

    /// The live catalog's side of the comparisons, read while the replay runs.
    /// (The state map's nodes are not kept: `checkStateMap` streams them, as
    /// a large vault has millions.)
    struct Live {
        var rows = CatalogComparison.Rows()
        /// Every stored blob's name, and whether its bytes hash to it.
        var blobs: [(hash: String, intact: Bool)] = []

        /// The reads, in steps of about a table each (`replayLog` spreads
        /// them between the log's batches).
        static func steps(_ reader: any CatalogReader) -> [(inout Live) throws -> Void] {
            CatalogComparison.Rows.steps(reader).map { step in { live in try step(&live.rows) } } + [
                { live in
                    var stored: [(String, [UInt8])] = []
                    try reader.forEachBlob { stored.append(($0, $1)) }
                    // Hashed (libsodium's BLAKE2b-256) on every core.
                    live.blobs = zip(stored, Parallel.map(stored) { hash, bytes in Blake2b.hash(bytes).hexString == hash }).map { ($0.0, $1) }
                },
            ]
        }
    }

    /// The replayed catalog's rows, read by the replay's thread when it ends.
    var replayedRows: CatalogComparison.Rows?
    /// The live catalog's, read while the replay runs.
    var live = Live()

    /// Gives up the catalogs built and read (to be freed elsewhere).
    func handOverCatalogs() -> (MemoryCatalogStore, Live, CatalogComparison.Rows?) {
        defer {
            scratch = MemoryCatalogStore()
            live = Live()
            replayedRows = nil
        }
        return (scratch, live, replayedRows)
    }

    func run() throws {
        checkpoints = vault.checkpointsAtOpen.map { checkpoint, source in
            (checkpoint, source == "the checkpoint you gave" ? "the checkpoint given" : "your last checkpoint")
        }
        live = try replayLog()
        checkCheckpoints()
        try scratch.read { replayed in
            var replayedSide = try replayedRows ?? CatalogComparison.Rows(replayed)
            try live.rows.readGrants(of: replayedSide.cases.map(\.number), from: reader)
            try replayedSide.readGrants(of: live.rows.cases.map(\.number), from: replayed)
            replayedRows = replayedSide
            // The checks from here run at once, each into its own report,
            // merged in the old order. Four read only the replayed catalog,
            // the rows already read and the objects folder, on other
            // threads; the state map's, which reads the snapshot, here.
            nonisolated(unsafe) let replayed = replayed
            nonisolated(unsafe) let live = live, rows = replayedSide
            let others = Box<Result<[VerifyReport], any Error>?>(nil)
            let done = DispatchGroup()
            DispatchQueue.global().async(group: done) {
                others.value = Result {
                    try Self.concurrently([
                        { report in try self.compareCatalog(live: live.rows, replayed: rows, into: &report) },
                        { report in try self.checkGrants(replayed, into: &report) },
                        { report in try self.checkBlobs(replayed, stored: live.blobs, into: &report) },
                        { report in try self.checkObjects(replayed, into: &report) },
                    ])
                }
            }
            var map = VerifyReport()
            let mapChecked = Result { try checkStateMap(replayed, into: &map) }
            done.wait()
            let sections = try others.value!.get()
            try mapChecked.get()
            for section in [sections[0], sections[1], map, sections[2], sections[3]] { report.merge(section) }
        }
    }

    /// Runs `checks` at once on every core, each filling a report of its
    /// own; returns them in order, or throws the first error in that order.
    static func concurrently(_ checks: [(inout VerifyReport) throws -> Void]) throws -> [VerifyReport] {
        var results = [Result<VerifyReport, any Error>?](repeating: nil, count: checks.count)
        results.withUnsafeMutableBufferPointer { out in
            // Each check writes only its own slot; the call returns once all are done.
            nonisolated(unsafe) let out = out, checks = checks
            DispatchQueue.concurrentPerform(iterations: checks.count) { index in
                out[index] = Result {
                    var report = VerifyReport()
                    try checks[index](&report)
                    return report
                }
            }
        }
        return try results.map { try $0!.get() }
    }

    // MARK: The log

    struct Parsed: @unchecked Sendable {
        let record: EventRecord
        let event: Event?
        let error: String?
        let leaf: [UInt8]
    }

    /// Three stages overlapping on two cores. This thread reads the log in
    /// batches; the other cores parse each batch and check its signatures;
    /// a thread of its own applies the batches, in order, to the scratch
    /// catalog. Between batches, and once the log is read, this thread
    /// reads the live catalog the replay will be compared with, a step at
    /// a time. Only this thread touches `reader` (the snapshot verify
    /// checks): it also reads what applying a batch needs from it
    /// (`withLiveInputs`).
    func replayLog() throws -> Live {
        let last = try reader.lastEventSeq()
        var live = Live()
        var liveSteps = Live.steps(reader)[...]
        guard last > 0 else {
            for step in liveSteps { try step(&live) }
            return live
        }
        let keys = SignerKeys()
        let handoff = Handoff<Prepared>(capacity: 4)
        let failure = Box<(any Error)?>(nil)
        let applied = DispatchSemaphore(value: 0)
        // Unowned: Foundation keeps a thread's closure until the thread
        // exits, which may be after verify returns; the verifier (and the
        // vault and catalog it holds) must not live on with it. This method
        // holds it until the thread has signalled.
        let applier = Thread { [unowned self] in
            defer { applied.signal() }
            do {
                try scratch.write { writer in
                    while let prepared = handoff.take() {
                        try commit(prepared, into: writer)
                        if let seq = prepared.parsed.last?.record.seq { options.progress?("events", seq, last) }
                    }
                    guard !handoff.isCancelled else { return }  // the reading thread failed: nothing more to do
                    try checkCheckpointSignatures(atSize: range.size, replayed: writer)
                    replayedRows = try CatalogComparison.Rows(writer)
                }
            } catch {
                failure.value = error
                handoff.cancel()
            }
        }
        applier.stackSize = 8 << 20

        applier.start()

        var seen: Int64 = 0, leaves: Int64 = 0
        var batch: [EventRecord] = []
        // Event 1's signer is found in event 2 (the first admin's
        // staff.added), looked for in the same batch: two at least.
        let batchSize = max(2, options.batchSize)
        batch.reserveCapacity(batchSize)
        var preparing: (done: DispatchGroup, result: Box<Prepared?>)?
        /// Hands the batch being prepared to the applier; false once it has stopped.
        func handOver() throws -> Bool {
            guard let (done, result) = preparing else { return true }
            done.wait()
            preparing = nil
            return handoff.put(try withLiveInputs(result.value!, leavesBefore: &leaves))
        }
        func flush() throws -> Bool {
            guard !batch.isEmpty else { return true }
            let work = batch
            batch.removeAll(keepingCapacity: true)
            guard try handOver() else { return false }
            let next = (done: DispatchGroup(), result: Box<Prepared?>(nil))
            DispatchQueue.global().async(group: next.done) { next.result.value = Self.prepare(work, keys: keys) }
            preparing = next
            if let step = liveSteps.popFirst() { try step(&live) }
            return true
        }
        do {
            try reader.forEachEvent(in: 1...last) { record in
                seen += 1
                batch.append(record)
                return batch.count < batchSize ? true : try flush()
            }
            if try flush(), try handOver() { handoff.finish() }
            if !handoff.isCancelled { for step in liveSteps { try step(&live) } }
        } catch {
            preparing?.done.wait()
            handoff.cancel()
            applied.wait()
            throw error
        }
        handoff.finish()
        applied.wait()
        if let error = failure.value { throw error }
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
        return live
    }

    /// What applying `prepared` reads from the live catalog, read here (by
    /// the thread that holds its snapshot): the stored Merkle nodes its
    /// leaves complete, and the blobs an import, a search-key grant and a
    /// retention policy need, when intact (checkBlobs reports the rest).
    func withLiveInputs(_ prepared: Prepared, leavesBefore leaves: inout Int64) throws -> Prepared {
        var prepared = prepared
        for item in prepared.parsed {
            for node in CompactRange.nodesCompleted(byLeafAt: leaves) {
                prepared.logNodes[node] = try reader.logNode(level: node.level, index: node.index)
            }
            leaves += 1
            let hashes: [String] = switch item.event?.data {
            case .caseImported(let data)?: [data.history] + data.schemaBodies
            case .searchKeyGranted(let data)?: [data.sealedKeyHash]
            case .retentionPolicySet(let data)?: [data.bodyHash]
            case .clientNamed(let data)?: data.indexHash.map { [$0] } ?? []
            default: []
            }
            for hash in hashes {
                if let bytes = try reader.blob(hash: hash), Blake2b.hash(bytes).hexString == hash { prepared.blobs[hash] = bytes }
            }
        }
        return prepared
    }

    /// A batch parsed, hashed and signature-checked, with what applying it
    /// reads from the live catalog (`withLiveInputs`), ready to apply.
    struct Prepared: Sendable {
        let parsed: [Parsed]
        let valid: [Bool]
        var logNodes: [CompactRange.NodePosition: [UInt8]] = [:]
        var blobs: [String: [UInt8]] = [:]
    }

    /// Signing keys by staff id, from the `staff.added` events met so far
    /// (in log order: only one batch is prepared at a time).
    final class SignerKeys: @unchecked Sendable {
        var keys: [String: SigningPublicKey] = [:]
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
    func commit(_ prepared: Prepared, into writer: any CatalogWriter) throws {
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
            appendLeaf(item.leaf, stored: prepared.logNodes)
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
            if event.format < previousFormat { report.add(.eventMalformed, subject, "format \(event.format) after format \(previousFormat)") }
            // A vault of format 1 or 2 signs format 4 at most, which an older casevault still reads
            // (§12): its signed vault.created says which it is, not casevault.json, which anyone
            // who can write the folder can edit (verify reports an edited one on its own).
            if let why = Event.beyondVault(event, newest: &newestFormat) { report.add(.eventMalformed, subject, why) }
            previousFormat = event.format
            if event.format == 1, case .versionFiled = event.data { formatOneFilings.insert(event.seq) }
            if case .clientNamed(let data) = event.data, let hash = data.indexHash { clientIndexBlobs.insert(hash) }
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
                    if let bytes = prepared.blobs[hash] { try writer.putBlob(hash: hash, bytes: bytes) }
                }
            }
            // A search-key grant's projection checks its sealed box's size.
            if case .searchKeyGranted(let data) = event.data, let bytes = prepared.blobs[data.sealedKeyHash] {
                try writer.putBlob(hash: data.sealedKeyHash, bytes: bytes)
            }
            // A client-name index (v18) takes its tokens from its blob, while it is kept.
            if case .clientNamed(let data) = event.data, let hash = data.indexHash, let bytes = prepared.blobs[hash] {
                try writer.putBlob(hash: hash, bytes: bytes)
            }
            do {
                root = try Projection.apply(event, to: writer, root: root, checked: false, verified: nil)
            } catch let error as VaultError {
                report.add(.ruleBroken, subject, error.message)
                continue
            }
            // The disposal rules read the policy file: the scratch catalog
            // gets each version's blob, when intact (checkBlobs reports the rest).
            if case .retentionPolicySet(let data) = event.data, let bytes = prepared.blobs[data.bodyHash] {
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
    func appendLeaf(_ leaf: [UInt8], stored: [CompactRange.NodePosition: [UInt8]]) {
        for node in range.append(leaf: leaf) {
            if stored[CompactRange.NodePosition(level: node.level, index: node.index)] != node.hash {
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
    func checkCheckpointSignatures(atSize size: Int64, replayed: any CatalogReader) throws {
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

    func checkCheckpoints() {
        for (checkpoint, source) in checkpoints where checkpoint.size > range.size {
            report.add(.checkpointNotExtended, source, "it signed \(checkpoint.size) events; the log now has \(range.size)")
        }
    }

    static func key(_ hex: String) -> SigningPublicKey? {
        [UInt8](hexString: hex).flatMap { try? SigningPublicKey(bytes: $0) }
    }

    // MARK: The catalog

    /// `live` and `replayed` each hold the grants of the other's cases too.
    func compareCatalog(live: CatalogComparison.Rows, replayed replayedRows: CatalogComparison.Rows, into report: inout VerifyReport) throws {
        if let settings = replayedRows.settings.first, !vault.config.matches(settings) {
            report.add(.configDiffers, Vault.configFileName, "it differs from the settings signed when the vault was created")
        }
        for difference in try CatalogComparison.differences(live: live, replayed: replayedRows) {
            let subject = "\(difference.table) \(difference.key)"
            switch difference.kind {
            case .missing: report.add(.rowMissing, subject, "the log records it; the catalog lacks it")
            case .extra: report.add(.rowAdded, subject, "no signed event made it")
            case .changed:
                let fields = difference.fields.joined(separator: ", ")
                report.add(.rowChanged, subject, "\(fields) \(difference.fields.count == 1 ? "differs" : "differ") from the signed log")
            }
        }
        report.versions = replayedRows.versions.count
    }

    /// Every case's key is sealed to everyone who must hold it when the case
    /// is opened (SECURITY.md §3): its manager and supervisor, the vault's
    /// recovery key, both tiers; every member then on the staff whose role
    /// holds the team tier, that tier. Who opens a case gives its grants and
    /// could leave one out; each grant is checked as it is given, but only
    /// the whole replay knows who was left out.
    func checkGrants(_ replayed: any CatalogReader, into report: inout VerifyReport) throws {
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
    func checkStateMap(_ replayed: any CatalogReader, into report: inout VerifyReport) throws {
        guard let signed = signedRoot, signed.root == root, let scratchNodes = replayed as? MemoryCatalogStore.Transaction else { return }
        // Looked up in the replayed catalog's own table: the stored paths are
        // unique (the table's key), so those found are as many distinct nodes.
        let total = try scratchNodes.stateNodeCount()
        var found: Int64 = 0, damaged: Int64 = 0, extra = 0
        try reader.forEachStateNode { node in
            guard let wanted = try scratchNodes.stateNode(path: node.path) else {
                extra += 1
                return
            }
            found += 1
            if wanted != node { damaged += 1 }
        }
        damaged += max(0, total - found)  // missing
        if damaged > 0 || extra > 0 {
            report.add(.stateMapDamaged, "state map", "\(damaged) of its \(total) nodes differ from the replayed map's or are missing, \(extra) are extra")
        }
    }

    /// Every blob the replayed catalog names must be present and hash to
    /// its name (libsodium's BLAKE2b-256).
    /// What names a blob, put in words only for a finding (a vault names
    /// a hundred thousand blobs, and a clean one needs none of the words).
    enum BlobUse {
        case wrappedKeys(StaffRecord), searchKey(SearchKeyRecord), history(CaseRecord), tierKey(GrantRecord)
        case fileKey(VersionRecord), fileName(VersionRecord), schemaOfForm(VersionRecord), schema(SchemaRecord)
        case retentionPolicy(RetentionPolicyRecord), clientIndex(ClientIndexRecord)

        var description: String {
            switch self {
            case .wrappedKeys(let member): "the wrapped keys of '\(member.id)'"
            case .searchKey(let copy): "the search key sealed to '\(copy.holder)'"
            case .history(let record): "the history of \(record.number), imported from vault \(record.imported?.fromVault ?? "")"
            case .tierKey(let grant): "the \(grant.tier)-tier key of \(grant.caseNumber) sealed to \(grant.holder)"
            case .fileKey(let version): "the sealed file key of \(version.caseNumber) '\(version.document)' v\(version.version)"
            case .fileName(let version): "the sealed file name of \(version.caseNumber) '\(version.document)' v\(version.version)"
            case .schemaOfForm(let version): "the schema \(version.schemaId ?? "") of a form"
            case .schema(let schema): "the body of schema \(schema.formType) v\(schema.version)"
            case .retentionPolicy(let policy): "retention policy v\(policy.version)"
            case .clientIndex(let index): "the client-name index of \(index.caseNumber)"
            }
        }
    }

    func checkBlobs(_ replayed: any CatalogReader, stored: [(hash: String, intact: Bool)], into report: inout VerifyReport) throws {
        var needed: [String: BlobUse] = [:]
        needed.reserveCapacity(stored.count)
        // A secret blob (wrapped keys, a sealed tier or file key) is made
        // fresh for its one record: two records naming it is a forged event
        // (a version signed by hand naming another's sealed key, so that
        // moving it would carry that key away or erase it).
        func secret(_ hash: String, _ use: BlobUse) {
            if let first = needed[hash] {
                report.add(.blobShared, "blob \(hash)", "named by \(first.description) and by \(use.description)")
            } else {
                needed[hash] = use
            }
        }
        for member in try replayed.allStaff() { secret(member.wrappedKeysHash, .wrappedKeys(member)) }
        for copy in try replayed.searchKeys() { secret(copy.sealedKeyHash, .searchKey(copy)) }
        // A case's current client-name index (v18); one replaced, or of a
        // case disposed of, was erased, so a copy still here is reported
        // as unreferenced.
        for index in try replayed.clientIndexes(caseNumber: nil) {
            if let hash = index.indexHash { secret(hash, .clientIndex(index)) }
        }
        // A disposed case's sealed keys were erased: its events name blobs
        // that must be gone (one still here is reported as unreferenced).
        let disposed = Set(try replayed.disposals(caseNumber: nil).map { Array($0.caseNumber.utf8) })
        var erased: [String: BlobUse] = [:]
        func isDisposed(_ number: String) -> Bool { !disposed.isEmpty && disposed.contains(Array(number.utf8)) }
        for record in try replayed.cases(matching: CaseQuery()) {
            if let imported = record.imported { needed[imported.history] = .history(record) }
            let gone = isDisposed(record.number)
            for grant in try replayed.grants(caseNumber: record.number) {
                if gone { erased[grant.sealedKeyHash] = .tierKey(grant) } else { secret(grant.sealedKeyHash, .tierKey(grant)) }
            }
        }
        let versions = try replayed.versions(caseNumber: nil, document: nil)
        for version in versions {
            let gone = isDisposed(version.caseNumber)
            if gone { erased[version.sealedFileKeyHash] = .fileKey(version) } else { secret(version.sealedFileKeyHash, .fileKey(version)) }
            if let info = version.fileInfoHash {
                if gone { erased[info] = .fileName(version) } else { secret(info, .fileName(version)) }
            }
            if let schema = version.schemaBodyHash { needed[schema] = .schemaOfForm(version) }
        }
        for schema in try replayed.schemas(formType: nil) { needed[schema.bodyHash] = .schema(schema) }
        for policy in try replayed.retentionPolicies() { needed[policy.bodyHash] = .retentionPolicy(policy) }
        // Format 1 did not store the text of a built-in schema; this build's
        // own text counts when it is the one the form was validated against.
        var builtIn: Set<String> = []
        var builtInIDs = Set<String>()
        for version in versions where version.schemaVersion == nil && formatOneFilings.contains(version.filedSeq) {
            if let id = version.schemaId { builtInIDs.insert(id) }
        }
        for id in builtInIDs {
            if let schema = FormSchema.builtIn(id: id) { builtIn.insert(Blake2b.hash(Array(schema.text.utf8)).hexString) }
        }
        // One pass over the stored blobs (hashed as they were read).
        var present = Set<String>(minimumCapacity: stored.count)
        for (hash, ok) in stored {
            present.insert(hash)
            if let use = needed[hash] {
                if !ok { report.add(.blobAltered, "blob \(hash)", "\(use.description) does not hash to its name") }
            } else if let use = erased[hash] {
                report.add(.blobNotErased, "blob \(hash)", "\(use.description) should have been erased when its case was disposed of")
            } else if clientIndexBlobs.contains(hash) {
                report.add(.blobNotErased, "blob \(hash)", "a client-name index that is no case's current one (named again, or its case disposed of) should have been erased")
            } else {
                report.add(.unreferencedBlob, "blob \(hash)", "no current record names it")
            }
        }
        // (Sorted once found missing: sorting every name took longer than the rest.)
        for (hash, use) in needed.filter({ !present.contains($0.key) && !builtIn.contains($0.key) }).sorted(by: { $0.key < $1.key }) {
            report.add(.blobMissing, "blob \(hash)", "\(use.description) is missing")
        }
    }

    // MARK: Objects

    func checkObjects(_ replayed: any CatalogReader, into report: inout VerifyReport) throws {
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
            // By the vault's own naming first; in a vault of format 3, a case
            // moved in from an older vault brings BLAKE2b names (§9).
            let path = vault.objects.path(of: id)
            var size: Int64 = 0
            let intact = try vault.objects.naming.accepts(id) { naming in
                let (hash, bytes) = try Self.hashFile(path, naming)
                size = bytes
                return hash
            }
            report.objectsRead += 1
            report.bytesRead += size
            if !intact { report.add(.objectAltered, subject, "its bytes do not hash to its name") }
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

    /// An object's name by `naming`, hashing the file in 1 MiB pieces:
    /// BLAKE2b by libsodium's code, not the `FastBlake2b` that named it;
    /// BLAKE3 by `Blake3`.
    static func hashFile(_ path: String, _ naming: ObjectNaming) throws -> (hash: String, size: Int64) {
        let fd = try FileSystem.openForReading(path)
        let hasher: any ObjectHasher = naming == .blake2b ? Blake2b() : naming.hasher()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            let n = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            total += Int64(n)
        }
        return (hasher.finalize().hexString, total)
    }
}
