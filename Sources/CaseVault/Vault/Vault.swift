public import Foundation
internal import CaseVaultCrypto

/// An open vault: its config, its catalog and its object store.
///
/// On disk (SECURITY.md §8):
///
///     PATH/casevault.json     config, written once at init
///     PATH/catalog.sqlite     catalog (plus -wal and -shm while open)
///     PATH/objects/xx/<hash>  encrypted objects
///
/// The catalog is a cache of the signed event log (design §7): everything
/// read from it goes through `read` or `write`, which hand over the log's
/// trusted head, and decisions read records through that head's
/// `SignedState`.
public final class Vault: @unchecked Sendable {
    public static let configFileName = "casevault.json"
    public static let catalogFileName = "catalog.sqlite"
    public static let objectsFolderName = "objects"

    public let path: String
    public let config: VaultConfig
    let store: any CatalogStore
    let objects: FileObjectStore
    let options: OpenOptions
    let signers = SignerBook()
    /// State-map nodes and records this process has verified (SECURITY.md §12a).
    let verified = VerifiedCaches()
    /// The format this vault's new events are signed in: by its format
    /// (`Event.format(forVault:)`); tests set an older one to make the log
    /// an older casevault left.
    var eventFormat: Int

    private let lock = NSLock()
    private var cachedHead: TrustedHead?
    /// Checkpoints read when the vault was opened, before any snapshot of
    /// the catalog: another process may save a newer one at any moment, and
    /// a snapshot taken before that process committed would not reach it.
    let checkpointsAtOpen: [(Checkpoint, String)]
    /// Anchors sealed in the wrapped keys of members unlocked in this process.
    private var keyAnchors: [TrustAnchor] = []

    /// Where trust comes from besides the vault (SECURITY.md §12b).
    public struct OpenOptions: Sendable {
        /// The user's own checkpoints, kept outside every vault; the CLI
        /// passes the user's state folder. Nil keeps none.
        public var checkpoints: CheckpointStore?
        /// A checkpoint the user brings (an auditor's), which the log must extend.
        public var checkpoint: Checkpoint?
        /// Called while many new events are checked: (done, total).
        public var progress: (@Sendable (Int64, Int64) -> Void)?
        /// False for `verify`, which checks everything itself and reports
        /// what it finds instead of refusing to open.
        public var checksOnOpen = true

        public init(checkpoints: CheckpointStore? = nil, checkpoint: Checkpoint? = nil) {
            self.checkpoints = checkpoints
            self.checkpoint = checkpoint
        }
    }

    private init(path: String, config: VaultConfig, store: any CatalogStore, options: OpenOptions,
                 checkpoints: [(Checkpoint, String)] = []) {
        self.path = path
        self.config = config
        self.store = store
        self.options = options
        self.checkpointsAtOpen = checkpoints
        self.objects = FileObjectStore(root: path + "/" + Self.objectsFolderName, naming: ObjectNaming(formatVersion: config.formatVersion))
        self.eventFormat = Event.format(forVault: config.formatVersion)
    }

    /// Opens an existing vault, whose catalog `catalog` knows how to open.
    public static func open(at path: String, catalog: any CatalogStoreFactory.Type,
                            options: OpenOptions = OpenOptions()) throws -> Vault {
        let path = FileSystem.absolutePath(path)
        guard FileSystem.isDirectory(path) else {
            if FileSystem.exists(path) { throw VaultError.notAVault(path: path) }
            throw VaultError.notFound("no vault at \(path)")
        }
        let configPath = path + "/" + configFileName
        guard FileSystem.isRegularFile(configPath) else { throw VaultError.notAVault(path: path) }
        let bytes = try FileSystem.openForReading(configPath).readAll(limit: 1 << 20)
        let config = try VaultConfig.decode(bytes, path: path)
        let catalogPath = path + "/" + catalogFileName
        guard FileSystem.isRegularFile(catalogPath), FileSystem.isDirectory(path + "/" + objectsFolderName) else {
            throw VaultError.integrityFailure("\(path) is missing its catalog or objects folder")
        }
        var checkpoints: [(Checkpoint, String)] = []
        if let given = options.checkpoint {
            guard given.origin == Checkpoint.origin(vaultID: config.vaultId) else {
                throw VaultError.invalidInput("the checkpoint given is of another vault (\(given.origin))")
            }
            checkpoints.append((given, "the checkpoint you gave"))
        }
        if let store = options.checkpoints, let saved = try store.load(vaultID: config.vaultId) {
            guard saved.origin == Checkpoint.origin(vaultID: config.vaultId) else {
                throw VaultError.integrityFailure("your saved checkpoint \(store.path(vaultID: config.vaultId)) is of another vault")
            }
            checkpoints.append((saved, "your last checkpoint of this vault"))
        }
        let vault = Vault(path: path, config: config, store: try catalog.open(path: catalogPath), options: options,
                          checkpoints: checkpoints)
        if options.checksOnOpen { try vault.checkConfigAgainstLog() }
        return vault
    }

    /// `casevault.json` decides the recovery key, the team-tier roles and the
    /// cost of new passphrases, so an edited config must not be taken at its
    /// word (SECURITY.md §8): key derivation below libsodium's INTERACTIVE
    /// cost is refused unless the vault is marked as a test vault, and once
    /// the first admin exists the config must equal the settings they signed,
    /// as the state map under the trusted head holds them.
    func checkConfigAgainstLog() throws {
        if !config.insecureTestingKDF && !config.passwordHashParameters.meetsInteractiveFloor {
            throw VaultError.integrityFailure("casevault.json asks for key derivation below the interactive minimum")
        }
        let settings = try read { reader, head in head.size == 0 ? nil : try head.signedState(reader).settings() }
        guard let settings else { return }
        guard config.matches(settings) else {
            throw VaultError.integrityFailure("casevault.json differs from the settings recorded when the vault was created")
        }
    }

    // MARK: Reading and writing through the trusted head

    /// Runs `body` on a snapshot of the catalog with the log checked up to
    /// that snapshot's end.
    func read<T>(_ body: (any CatalogReader, TrustedHead) throws -> T) throws -> T {
        // Taken before the snapshot opens, so the snapshot holds every
        // commit it includes (a newer one, by another thread, may be missed).
        let checked = cached
        return try store.read { reader in
            try body(reader, try trustedHead(in: reader, checked: checked))
        }
    }

    /// Runs `body` in one write transaction, with the log checked up to its
    /// current end (so events other processes appended meanwhile are checked
    /// too); `body` appends through `Ledger.append`, which advances the head.
    /// `reportingUncertainCommit`: a commit that itself failed throws
    /// `CatalogCommitFailed` (for callers that then keep what the
    /// transaction would have named); otherwise its `error`.
    func write<T>(reportingUncertainCommit: Bool = false, _ body: (any CatalogWriter, inout TrustedHead) throws -> T) throws -> T {
        let checked = cached
        var committed: TrustedHead?
        let result: T
        do {
            result = try store.write { writer -> T in
                var head = try trustedHead(in: writer, checked: checked)
                let result = try body(writer, &head)
                committed = head
                return result
            }
        } catch let failed as CatalogCommitFailed where !reportingUncertainCommit {
            throw failed.error
        }
        if let committed { remember(committed) }
        return result
    }

    var cached: TrustedHead? {
        lock.lock()
        defer { lock.unlock() }
        return cachedHead
    }

    private func remember(_ head: TrustedHead) {
        lock.lock()
        defer { lock.unlock() }
        if (cachedHead?.size ?? -1) <= head.size { cachedHead = head }
    }

    /// The log's trusted head as `reader` sees it: `checked`, the head this
    /// process already checked (taken before `reader`'s snapshot opened),
    /// extended over any newer events; or, the first time, established from
    /// the anchors (SECURITY.md §12b). A log shorter than `checked` lost
    /// events: it is refused, not re-established from older anchors.
    func trustedHead(in reader: any CatalogReader, checked cached: TrustedHead?) throws -> TrustedHead {
        let size = try reader.lastEventSeq()
        var head: TrustedHead
        if let cached, cached.size > size {
            throw VaultError.integrityFailure("the log has \(size) events, fewer than the \(cached.size) this process already checked: events were removed")
        }
        if let cached {
            // Extending a head first use found (no anchor yet): what it learns stays with it.
            head = try Trust.catchUp(cached, reader: reader, vaultID: config.vaultId, book: cached.anchored ? signers : SignerBook(),
                                     progress: options.progress)
        } else {
            head = try establish(in: reader)
        }
        if head.stateRoot == nil && head.size > 0 {
            head = try rebuildLegacyState(head, reader: reader)
        }
        head.verified = verified
        head.eventFormat = eventFormat
        if head.size == size { remember(head) }
        return head
    }

    /// Forgets every node and record verified so far: what a new process
    /// would know (tests, after editing the catalog between "commands").
    func forgetVerified() {
        verified.removeAll()
    }

    /// What the trusted log is anchored by (SECURITY.md §12b, §12d): the
    /// newest anchor's size and source, or nothing (first use on this
    /// machine: the log is believed as it stands, checked only for being
    /// signed and self-consistent), and the log's size now.
    public func logAnchor() throws -> (anchoredAt: Int64?, source: String?, size: Int64) {
        try read { _, head in
            lock.lock()
            let keys = keyAnchors
            lock.unlock()
            let anchors = checkpointsAtOpen.map { TrustAnchor(size: $0.0.size, root: $0.0.root, source: $0.1) } + keys
            guard head.anchored, let newest = anchors.max(by: { $0.size < $1.size }) else { return (nil, nil, head.size) }
            return (newest.size, newest.source, head.size)
        }
    }

    /// Every anchor we hold must be a prefix of the stored log, each
    /// consistent with the next; the newest is then caught up to the end.
    private func establish(in reader: any CatalogReader) throws -> TrustedHead {
        var anchors = try checkpointAnchors(reader: reader)
        lock.lock()
        anchors += keyAnchors
        lock.unlock()
        guard !anchors.isEmpty else { return try Trust.firstUse(reader: reader) }
        anchors.sort { $0.size < $1.size }
        var heads: [TrustedHead] = []
        for anchor in anchors { heads.append(try Trust.head(at: anchor, reader: reader)) }
        for (older, newer) in zip(anchors, anchors.dropFirst()) where older.size > 0 && older.size < newer.size {
            let proof = try LogTree.consistencyProof(LogNodes(reader: reader), from: older.size, to: newer.size)
            guard LogTree.verifyConsistency(from: older.size, to: newer.size, oldRoot: older.root, newRoot: newer.root, proof: proof) else {
                throw Trust.logBroken(older, "it is not a prefix of \(newer.source)")
            }
        }
        for (older, newer) in zip(anchors, anchors.dropFirst()) where older.size == newer.size && older.root != newer.root {
            throw Trust.logBroken(older, "\(newer.source) has another root at the same size")
        }
        return try Trust.catchUp(heads.last!, reader: reader, vaultID: config.vaultId, book: signers,
                                 progress: options.progress)
    }

    /// The user's saved checkpoint and the one they gave, each checked to be
    /// signed by a member of this vault.
    private func checkpointAnchors(reader: any CatalogReader) throws -> [TrustAnchor] {
        try checkpointsAtOpen.map { checkpoint, source in
            let anchor = TrustAnchor(size: checkpoint.size, root: checkpoint.root, source: source)
            let head = try Trust.head(at: anchor, reader: reader)
            // A signer's key comes from their first staff.added event inside
            // the checkpoint's own tree; a name that is not a member by then
            // (none, added later, or left by then) is ignored. One member's
            // signature is enough, whatever the others': a signer whose key
            // cannot be found is reported only when no other signature counts.
            let departed = try Trust.departures(range: head.range, reader: reader, book: signers)
            // (The book's entries count only as the checkpoint's tree gives them: `firstAdded`.)
            let firstAdded = FirstAdditions(range: head.range, reader: reader, book: signers)
            var failure: (any Error)?
            let signed = checkpoint.signers(vaultID: config.vaultId).contains { id in
                do {
                    guard departed[id] == nil, let row = try reader.staff(id: id), row.addedSeq <= head.range.size else { return false }
                    let signer = try Trust.signer(id, range: head.range, reader: reader, book: signers, firstAdded: firstAdded)
                    return checkpoint.isSigned(by: id, key: signer.key, vaultID: config.vaultId)
                } catch {
                    failure = failure ?? error
                    return false
                }
            }
            guard signed else { throw failure ?? VaultError.integrityFailure("\(source) is not signed by a member of this vault") }
            return anchor
        }
    }

    /// Adds the anchor sealed in a member's wrapped keys and checks the log
    /// against it (and every other anchor) at once.
    func adopt(_ anchor: TrustAnchor) throws {
        lock.lock()
        keyAnchors.append(anchor)
        cachedHead = nil
        lock.unlock()
        _ = try read { _, head in head }
    }

    /// A format-1 vault's newest event signed no state root: rebuild the
    /// state by replaying the whole (verified) log in memory, require the
    /// catalog to equal it, and use it until the next event signs its root.
    private func rebuildLegacyState(_ head: TrustedHead, reader: any CatalogReader) throws -> TrustedHead {
        let scratch = MemoryCatalogStore()
        let root = try Replay.rebuild(from: reader, through: head.size, into: scratch, vaultID: config.vaultId)
        if let difference = try CatalogComparison.firstDifference(live: reader, replayed: scratch) {
            throw VaultError.integrityFailure("the catalog differs from its signed log: \(difference)")
        }
        var rebuilt = head
        rebuilt.stateRoot = root
        rebuilt.legacyState = scratch
        return rebuilt
    }

    // MARK: Checkpoints

    /// The log's head now, signed by `identity` (C2SP tlog-checkpoint).
    public func checkpoint(signedBy identity: StaffIdentity) throws -> Checkpoint {
        let head = try read { _, head in head }
        return try Checkpoint.signed(vaultID: config.vaultId, size: head.size, root: head.logRoot, by: identity)
    }

    /// Keeps the log's current head, signed by `identity`, in the user's
    /// checkpoint folder, so a later rollback of the vault is refused.
    @discardableResult
    public func saveCheckpoint(signedBy identity: StaffIdentity) throws -> Checkpoint? {
        guard let store = options.checkpoints else { return nil }
        let checkpoint = try self.checkpoint(signedBy: identity)
        guard checkpoint.size > 0 else { return nil }
        try store.save(checkpoint, vaultID: config.vaultId)
        return checkpoint
    }

    // MARK: Creation

    /// What `init` should set up besides the empty vault.
    public struct CreationOptions {
        public var profile: KeyDerivationProfile = .moderate
        /// The explicit test hook (SECURITY.md §5):
        /// Argon2id at its minimum cost, recorded in the config.
        public var insecureTestingKDF = false
        public var adminID: String?
        public var adminName: String?
        public var adminPassphrase: Passphrase?
        /// Where to write the offline recovery key; nil for none.
        public var recoveryKeyPath: String?
        public var caseCategories = VaultConfig.defaultCaseCategories
        /// 3 (objects named by BLAKE3), or 2 (BLAKE2b) for an office that
        /// must still send cases to vaults of format 2 (SECURITY.md §9, §15b).
        public var formatVersion = VaultConfig.currentFormatVersion
        /// For tests: the event format the vault's first events are signed
        /// in, to make the log an older casevault left.
        var eventFormat: Int?

        public init() {}
    }

    /// Creates a vault at `path`, which must not exist or be an empty
    /// folder. Everything is built in a hidden staging folder beside
    /// `path` and renamed into place only when complete, so a failure
    /// leaves nothing behind; the recovery key file, if asked for, is
    /// published (without overwriting) just before that rename.
    public static func create(at path: String, options: CreationOptions, catalog: any CatalogStoreFactory.Type,
                              open openOptions: OpenOptions = OpenOptions(), now: Date = Date()) throws -> Vault {
        let path = FileSystem.absolutePath(path)
        let parent = AtomicFile.parentFolder(of: path)
        guard FileSystem.isDirectory(parent) else {
            throw VaultError.notFound("folder \(parent) does not exist")
        }
        if FileSystem.exists(path) {
            guard FileSystem.isDirectory(path), (try FileSystem.listDirectory(path)).isEmpty else {
                throw VaultError.alreadyExists("\(path) already exists and is not an empty folder")
            }
        }
        let recoveryPath = options.recoveryKeyPath.map(FileSystem.absolutePath)
        if let recoveryPath {
            try RecoveryKey.checkDestination(recoveryPath, vaultPath: path)
        }
        if options.adminID != nil || options.adminName != nil || options.adminPassphrase != nil {
            guard let id = options.adminID, let name = options.adminName, let passphrase = options.adminPassphrase else {
                throw VaultError.invalidInput("an admin needs an id, a name and a passphrase")
            }
            try StaffMember.validate(id: id)
            try StaffMember.validate(name: name)
            try passphrase.validateAsNew()
        }

        guard VaultConfig.creatableFormats.contains(options.formatVersion) else {
            throw VaultError.invalidInput("a new vault is of format 3, or of format 2 for an office that still sends cases to vaults of format 2; not \(options.formatVersion)")
        }
        let vaultID = UUID().uuidString.lowercased()
        let recovery = recoveryPath == nil ? nil : BoxKeyPair()
        let parameters: PasswordHashParameters = options.insecureTestingKDF ? .insecureTestingOnly : options.profile.parameters
        let config = VaultConfig(
            format: VaultConfig.formatName,
            formatVersion: options.formatVersion,
            vaultId: vaultID,
            createdAt: Timestamp.string(from: now),
            kdf: .init(algorithm: "argon2id13", opsLimit: parameters.opsLimit, memLimit: parameters.memLimit),
            insecureTestingKDF: options.insecureTestingKDF,
            recoveryPublicKey: recovery?.publicKey.bytes.hexString,
            caseCategories: options.caseCategories,
            teamTierRoles: [Role.projectDirector.rawValue]
        )

        let staging = parent + "/.casevault-init-" + randomBytes(count: 8).hexString
        try FileSystem.makeDirectory(staging)
        var publishedRecovery = false
        do {
            try FileSystem.makeDirectory(staging + "/" + objectsFolderName)
            let store = try catalog.create(path: staging + "/" + catalogFileName)
            let staged = Vault(path: staging, config: config, store: store, options: OpenOptions())
            if let eventFormat = options.eventFormat { staged.eventFormat = eventFormat }
            if let id = options.adminID, let name = options.adminName, let passphrase = options.adminPassphrase {
                _ = try staged.addFirstAdmin(id: id, name: name, passphrase: passphrase, now: now)
            }
            try store.close()
            try AtomicFile.write(to: staging + "/" + configFileName, replacing: false, mode: 0o600) {
                try $0.write(try config.encoded())
            }
            try FileSystem.syncDirectory(staging)
            if let recovery, let recoveryPath {
                try RecoveryKey.write(recovery, vaultID: vaultID, createdAt: now, to: recoveryPath)
                publishedRecovery = true
            }
            // rename(2) replaces an empty folder atomically and refuses a
            // non-empty one, so a folder filled meanwhile is not clobbered.
            try FileSystem.rename(staging, to: path)
        } catch {
            FileSystem.removeTree(staging)
            if publishedRecovery, let recoveryPath { FileSystem.remove(recoveryPath) }
            throw error
        }
        // From here the vault exists and its recovery key matches it: a
        // failure to sync the parent folder is reported, but nothing is undone.
        try FileSystem.syncDirectory(parent)
        let vault = try open(at: path, catalog: catalog, options: openOptions)
        if let eventFormat = options.eventFormat { vault.eventFormat = eventFormat }
        return vault
    }

    /// Whether this vault was made through the test hook.
    public var usesInsecureTestingKDF: Bool { config.insecureTestingKDF }
}

/// Timestamps are RFC 3339 in UTC with seconds, e.g. 2026-11-23T17:30:00Z.
enum Timestamp {
    static func string(from date: Date) -> String {
        date.formatted(.iso8601)
    }

    static func date(from string: String) -> Date? {
        try? Date(string, strategy: .iso8601)
    }
}

extension Vault {
    /// Closes the catalog; the vault is unusable afterwards.
    public func close() throws { try store.close() }
}
