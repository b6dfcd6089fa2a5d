public import Foundation
internal import CaseVaultArchive
internal import CaseVaultCrypto

/// Who a case transfer is for (`casevault vault pubkey`): a member of a
/// receiving vault who may import cases there, and their public key. It
/// holds no secret; the sender checks its fingerprint with the receiving
/// office by another channel (a call), as with any public key.
public struct VaultIdentity: Sendable, Equatable {
    public static let format = "casevault-vault-identity-v1"
    public let vault: String
    public let member: String
    public let name: String
    public let role: String
    public let boxPublicKey: String
    /// The receiving vault's format (`vaultFormat`, since format 3): which
    /// object names it takes (§9). Nil in an identity from a casevault that
    /// predates it. Not in the fingerprint: a wrong value only moves where
    /// a transfer is refused, never what is accepted.
    public let vaultFormat: Int?

    /// SHA-256 over the vault, member, role and key, first 16 bytes, in groups
    /// of four hex digits: what the two offices read to each other.
    public var fingerprint: String {
        let digest = Array(SHA256.hash(Array("casevault-identity-v1\n\(vault)\n\(member)\n\(role)\n\(boxPublicKey)\n".utf8))[0..<16]).hexString
        return stride(from: 0, to: digest.count, by: 4).map { i in
            String(digest[digest.index(digest.startIndex, offsetBy: i)..<digest.index(digest.startIndex, offsetBy: i + 4)])
        }.joined(separator: "-")
    }

    public var text: String {
        var members: [String: JSONValue] = [
            "format": .string(Self.format), "vault": .string(vault), "member": .string(member), "name": .string(name),
            "role": .string(role), "boxPublicKey": .string(boxPublicKey), "fingerprint": .string(fingerprint),
        ]
        if let vaultFormat { members["vaultFormat"] = .integer(Int64(vaultFormat)) }
        return JSONValue.object(members).prettyText + "\n"
    }

    public init(parsing bytes: [UInt8]) throws {
        func bad(_ why: String) -> VaultError { .invalidInput("not a casevault vault identity: \(why)") }
        guard bytes.count <= 16_384, let json = try? JSONValue(parsing: bytes), case .object(let o) = json,
              o["format"] == .string(Self.format),
              let vault = o["vault"]?.stringValue, let member = o["member"]?.stringValue, let name = o["name"]?.stringValue,
              let role = o["role"]?.stringValue, let key = o["boxPublicKey"]?.stringValue else { throw bad("a member is missing") }
        guard UUID(uuidString: vault)?.uuidString.lowercased() == vault else { throw bad("the vault id is not one") }
        guard (try? StaffMember.validate(id: member)) != nil else { throw bad("the member id is not one") }
        guard let raw = [UInt8](hexString: key), raw.count == 32, raw.hexString == key else { throw bad("the public key is not 32 bytes of hex") }
        var vaultFormat: Int?
        if let value = o["vaultFormat"] {
            guard case .integer(let format) = value, (1...1_000).contains(format) else { throw bad("its vaultFormat is not a format number") }
            vaultFormat = Int(format)
        }
        self.init(vault: vault, member: member, name: name, role: role, boxPublicKey: key, vaultFormat: vaultFormat)
        guard o["fingerprint"] == nil || o["fingerprint"] == .string(fingerprint) else { throw bad("its fingerprint does not match its key") }
    }

    init(vault: String, member: String, name: String, role: String, boxPublicKey: String, vaultFormat: Int?) {
        self.vault = vault
        self.member = member
        self.name = name
        self.role = role
        self.boxPublicKey = boxPublicKey
        self.vaultFormat = vaultFormat
    }
}

/// A vault's fingerprint: what a receiving office checks a transfer's
/// sender by. It binds the vault's first two events (its creation, and its
/// first admin's self-signed key), which no one but that admin can sign, so
/// a vault made elsewhere under the same id has another. The first 16 bytes
/// of SHA-256 over `casevault-vault-v1\n` and the two events' RFC 9162 leaf
/// hashes, in groups of four hex digits (SECURITY.md §15b).
public enum VaultFingerprint {
    static func of(first: (body: [UInt8], signature: [UInt8]), second: (body: [UInt8], signature: [UInt8])) -> String {
        let digest = SHA256.hash(Array("casevault-vault-v1\n".utf8) + LogTree.leafHash(body: first.body, signature: first.signature)
                                 + LogTree.leafHash(body: second.body, signature: second.signature))
        let hex = Array(digest[0..<16]).hexString
        return stride(from: 0, to: hex.count, by: 4).map { i in
            String(hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 4)])
        }.joined(separator: "-")
    }

    /// Whether `text` is written as a fingerprint (8 groups of 4 lower-case
    /// hex digits joined by `-`), not as a vault id.
    public static func looksLikeFingerprint(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.count == 8 && groups.allSatisfy { $0.count == 4 && $0.allSatisfy { "0123456789abcdef".contains($0) } }
    }
}

extension Vault {
    /// This vault's fingerprint (`VaultFingerprint`), from its first two
    /// events, each proved included under the trusted head.
    public func fingerprint() throws -> String {
        try read { reader, head in
            let range = head.range
            guard range.size >= 2 else { throw VaultError.integrityFailure("the vault has no first admin yet") }
            let first = try Trust.trustedRecord(1, range: range, reader: reader).record
            let second = try Trust.trustedRecord(2, range: range, reader: reader).record
            return VaultFingerprint.of(first: (first.body, first.signature), second: (second.body, second.signature))
        }
    }
}

extension CaseHistory {
    /// The sending vault's fingerprint, from the history's events 1 and 2
    /// (which `verify` proves are that vault's creation and first admin).
    var fromVaultFingerprint: String? {
        guard events.count >= 2 else { return nil }
        return VaultFingerprint.of(first: (events[0].body, events[0].signature), second: (events[1].body, events[1].signature))
    }
}

/// What `export case` wrote.
public struct TransferReport: Sendable {
    public let path: String
    public let caseNumber: String
    public let to: VaultIdentity
    public let events: Int
    public let versions: Int
    public let objects: Int
    public let bytes: Int64
    /// BLAKE2b-256 of the transfer file (`b2sum -l 256`).
    public let blake2b: String
    public let transferSeq: Int64
    /// This (the sending) vault's fingerprint, for the receiving office to check.
    public let vaultFingerprint: String
}

/// What `import case` brought in.
public struct ImportReport: Sendable {
    public let caseNumber: String
    public let fromVault: String
    /// The sending vault's fingerprint (`VaultFingerprint`).
    public let fromVaultFingerprint: String
    /// Whether the import was held to that fingerprint (`expectingVault` was
    /// one), not only to the sending vault's id or to nothing.
    public let checkedByFingerprint: Bool
    public let transferredBy: String
    public let events: Int
    public let documents: Int
    public let versions: Int
    public let objects: Int
    public let manager: String
    public let supervisor: String
}

extension Vault {
    /// Who imports a case here (`case.imported`): a case supervisor, who
    /// becomes its supervisor. Both tier keys are sealed to them, and only a
    /// case's manager and supervisor may hold its confidential tier (§3).
    static let importingRoles: Set<Role> = [.caseSupervisor]

    /// Where a case went, or came from (no passphrase needed).
    public func transfers(of number: String) throws -> (transferred: CaseTransfer?, imported: CaseImport?) {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in
            guard head.size > 0, let state = try head.signedState(reader).caseState(parsed) else { throw head.size > 0 ? try head.signedState(reader).missingCase(parsed) : VaultError.notFound("no case \(parsed)") }
            return (state.case.transferred, state.case.imported)
        }
    }

    /// This vault's identity for `member`, who will import cases here.
    public func identity(for memberID: String) throws -> VaultIdentity {
        try read { reader, head in
            guard let member = try head.signedState(reader).staff(memberID), let role = Role(rawValue: member.role) else {
                throw try head.signedState(reader).missingStaff(memberID)
            }
            if let left = member.left { throw VaultError.invalidInput("'\(memberID)' left the staff on \(left.at)") }
            guard Self.importingRoles.contains(role) else {
                throw VaultError.invalidInput("'\(memberID)' is \(role.withArticle); only a case supervisor imports cases (and becomes their supervisor)")
            }
            return VaultIdentity(vault: config.vaultId, member: member.id, name: member.name, role: member.role, boxPublicKey: member.boxPublicKey,
                                 vaultFormat: config.formatVersion)
        }
    }

    /// Sends case `number` to another vault's member (SECURITY.md §15b):
    /// signs `case.transferred` (this vault's copy becomes read-only), then
    /// writes, sealed to `to`, the case's history (`CaseHistory`), both
    /// tiers' secret keys sealed to `to`, every version's sealed file key,
    /// the schema bodies its forms name, and its ciphertext objects, as
    /// they are: nothing is decrypted but the two tier keys. Run again
    /// (after a lost file or a kill), it signs a new transfer to the same
    /// member and writes the file anew.
    /// `fileNames`: carry each version's sealed original file name (a
    /// `casevault-transfer-v2` file, when any version has one, `-v4` from a
    /// vault of format 3); false writes a `-v1` file without them (`-v3`
    /// from a vault of format 3), which a casevault that predates
    /// them can import.
    public func exportCase(_ number: String, to identity: VaultIdentity, out path: String, reason: String,
                           fileNames: Bool = true, by actor: StaffIdentity, now: Date = Date()) throws -> TransferReport {
        let number = try CaseNumber.parse(number).description
        try Self.requireReason(reason)
        guard actor.role == .caseSupervisor else {
            throw VaultError.accessDenied("only the case's supervisor transfers it; '\(actor.id)' is \(actor.role.withArticle)")
        }
        try refuseInsideVault(path, "write the transfer somewhere else")
        guard identity.vault != config.vaultId else { throw VaultError.invalidInput("that identity is this vault's own: a case moves to another vault") }
        guard identity.role == Role.caseSupervisor.rawValue else {
            throw VaultError.invalidInput("that identity names \(Role(rawValue: identity.role)?.withArticle ?? "a " + identity.role); only a case supervisor there imports a case")
        }
        // Before anything is signed: a vault of format 2, or a casevault
        // that predates BLAKE3 names, would refuse the file (§15b), and the
        // case would sit transferred here until the transfer was called back.
        if objects.naming == .blake3, (identity.vaultFormat ?? 0) < ObjectNaming.blake3Format {
            let there = identity.vaultFormat.map { "is of format \($0)" } ?? "runs a casevault that does not say its vault's format"
            throw VaultError.invalidInput("the receiving vault \(there), and cannot take a case from this vault of format \(config.formatVersion), whose objects are named by BLAKE3: the receiving office needs a vault of format 3 (and a casevault that makes one), and to send its identity again")
        }
        guard !FileSystem.exists(path) else { throw VaultError.alreadyExists("\(path) already exists") }
        let recipient = try BoxPublicKey(bytes: [UInt8](hexString: identity.boxPublicKey) ?? [])

        struct Prepared {
            let history: CaseHistory
            let historyBytes: [UInt8]
            let keys: [UInt8]
            let blobs: [(String, [UInt8])]
            let objects: [(id: ObjectID, size: Int64)]
            let versions: Int
            let seq: Int64
            /// Some version's file name goes with it (a -v2 or -v4 file).
            let carriesNames: Bool
        }
        let prepared: Prepared = try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.existingCase(number)
            try requireTransferable(state, to: identity, by: actor, signed: signed, now: now)
            // Both tiers' current keys, to re-seal for the receiving member.
            var sealedKeys: [String: JSONValue] = [:]
            for tier in Tier.allCases {
                let keys = try tierKeys(of: state, tier: tier, generation: state.case.generation(of: tier), actor: actor, signed: signed)
                sealedKeys[tier.rawValue] = .object(["publicKey": .string(keys.publicKey.bytes.hexString),
                                                     "sealedSecretKey": .string(SealedBox.seal(keys.secretKey, to: recipient).hexString)])
            }
            let seq = try Ledger.append([.caseTransferred(CaseTransferred(case: number, toVault: identity.vault, toMember: identity.member,
                                                                          toBoxPublicKey: identity.boxPublicKey, reason: reason))],
                                        by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)[0]
            let history = try CaseHistory.build(caseNumber: number, reader: writer, head: head, vaultID: config.vaultId, by: actor)
            // The blobs the versions name, and their objects.
            let after = head.signedState(writer)
            var blobs: [(String, [UInt8])] = [], named = Set<String>(), objects: [(id: ObjectID, size: Int64)] = [], seen = Set<String>()
            var versions = 0, carriesNames = false
            for document in try after.documents(number) {
                for version in try after.versions(of: document) {
                    versions += 1
                    carriesNames = carriesNames || (fileNames && version.fileInfoHash != nil)
                    for hash in Self.transferBlobs(of: version, withFileName: fileNames) where named.insert(hash).inserted {
                        blobs.append((hash, try after.blob(hash, what: "a blob of \(number)")))
                    }
                    guard let id = ObjectID(hex: version.objectId) else { throw VaultError.integrityFailure("an object name of \(number) is damaged") }
                    if seen.insert(version.objectId).inserted { objects.append((id, version.ciphertextSize)) }
                }
            }
            return Prepared(history: history, historyBytes: history.encoded(), keys: JSONValue.object(sealedKeys).canonicalBytes,
                            blobs: blobs, objects: objects, versions: versions, seq: seq, carriesNames: carriesNames)
        }

        // The file, streamed: tar → secretstream sealed to the recipient → BLAKE2b → disk.
        let hasher = FastBlake2b()
        var total: Int64 = 0
        try AtomicFile.write(to: path, replacing: false) { fd in
            // -v2 only when a name goes: a case with none stays importable by an older casevault.
            // From a vault of format 3, -v4 or -v3: its objects may be named by BLAKE3 (§9).
            let magic = objects.naming == .blake3
                ? (prepared.carriesNames ? SealedPackage.transferMagicV4 : SealedPackage.transferMagicV3)
                : (prepared.carriesNames ? SealedPackage.transferMagicV2 : SealedPackage.transferMagic)
            let sealer = try SealedPackage.Sealer(to: recipient, magic: magic) { bytes in
                hasher.update(bytes)
                total += Int64(bytes.count)
                try fd.write(bytes)
            }
            let writer: ArchiveWriter
            do { writer = try ArchiveWriter(format: .paxTar, write: sealer.write) } catch let error as ArchiveError {
                throw VaultError.io("cannot write the transfer: \(error)")
            }
            let stamped = Int64(now.timeIntervalSince1970)
            func add(_ name: String, _ bytes: [UInt8]) throws {
                try archived(writing: "the transfer") {
                    try writer.beginFile(path: name, size: Int64(bytes.count), modificationTime: stamped, permissions: 0o600)
                    try bytes.withUnsafeBytes { try writer.write($0) }
                    try writer.finishEntry()
                }
            }
            try add("history.json", prepared.historyBytes)
            try add("keys.json", prepared.keys)
            for (hash, bytes) in prepared.blobs { try add("blobs/" + hash, bytes) }
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            for (id, size) in prepared.objects {
                let reader = try objects.open(id)
                try archived(writing: "the transfer") { try writer.beginFile(path: "objects/" + id.hex, size: size, modificationTime: stamped, permissions: 0o600) }
                var copied: Int64 = 0
                while true {
                    let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
                    if n == 0 { break }
                    copied += Int64(n)
                    try archived(writing: "the transfer") { try chunk.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) } }
                }
                guard copied == size else { throw VaultError.integrityFailure("object \(id.hex) of \(number) changed while it was read") }
                try archived(writing: "the transfer") { try writer.finishEntry() }
            }
            try archived(writing: "the transfer") { try writer.finish() }
            try sealer.finish()
        }
        return TransferReport(path: path, caseNumber: number, to: identity, events: prepared.history.events.count, versions: prepared.versions,
                              objects: prepared.objects.count, bytes: total, blake2b: hasher.finalize().hexString, transferSeq: prepared.seq,
                              vaultFingerprint: try fingerprint())
    }

    /// Calls a transfer back (the case's supervisor): the case is this
    /// vault's again. A file already sent stays importable by its recipient;
    /// ask the other office to delete it.
    public func cancelTransfer(_ number: String, reason: String, by actor: StaffIdentity, now: Date = Date()) throws -> CaseTransfer {
        let number = try CaseNumber.parse(number).description
        try Self.requireReason(reason)
        return try write { writer, head in
            let state = try head.signedState(writer).existingCase(number)
            guard let gone = state.case.transferred else { throw VaultError.invalidInput("\(number) was not transferred") }
            guard actor.id == state.case.supervisor else {
                throw VaultError.accessDenied("only the case's supervisor (\(state.case.supervisor)) cancels its transfer")
            }
            try Ledger.append([.transferCancelled(TransferCancelled(case: number, reason: reason))], by: actor, at: now,
                              vaultID: config.vaultId, head: &head, in: writer)
            return gone
        }
    }

    /// Why the case cannot go now, as the command says it (the projection
    /// holds the same rules).
    private func requireTransferable(_ state: CaseState, to identity: VaultIdentity, by actor: StaffIdentity, signed: SignedState,
                                     now: Date) throws {
        let number = state.case.number
        guard actor.id == state.case.supervisor else {
            throw VaultError.accessDenied("only the case's supervisor (\(state.case.supervisor)) transfers \(number)")
        }
        if let gone = state.case.transferred, gone.toVault != identity.vault || gone.toMember != identity.member {
            throw VaultError.invalidInput("\(number) was already transferred to '\(gone.toMember)' of vault \(gone.toVault) on \(gone.at)")
        }
        if try signed.disposal(number) != nil { throw VaultError.invalidInput("\(number) was disposed of") }
        if let handover = try signed.handover(number) {
            throw VaultError.invalidInput("\(number) is being handed from \(handover.from) to \(handover.to): complete or cancel the handover first")
        }
        if try signed.hold(number) != nil { throw VaultError.invalidInput("\(number) is on legal hold: nothing leaves it") }
        if let held = try RetentionSchedule(signed, asOf: now)?.policyHold(of: state.case) {
            throw VaultError.invalidInput("\(number) is on legal hold: \(held); nothing leaves it")
        }
        if try signed.lifecycle(number).pendingClosure != nil { throw VaultError.invalidInput("a closure of \(number) awaits approval: settle it first") }
        if try !signed.disposalApprovals(number).isEmpty { throw VaultError.invalidInput("\(number) has disposal approvals") }
        for tier in Tier.allCases {
            if !(state.case.keys?[tier].older.isEmpty ?? true) {
                throw VaultError.invalidInput("some versions of \(number) are still sealed to an older \(tier.rawValue)-tier key: run 'casevault case rotate --pending' first")
            }
            if let (id, _) = try Self.departedHolder(of: state, tier: tier, signed: signed) {
                throw VaultError.invalidInput("the \(tier.rawValue) tier of \(number) is still sealed to '\(id)', who left: rotate it first")
            }
            if let (id, _) = try Self.departedKeyMaker(of: state, tier: tier, signed: signed) {
                throw VaultError.invalidInput("the \(tier.rawValue) tier key of \(number) was made by '\(id)', who left: rotate it first")
            }
        }
    }

    /// Brings in a case another vault transferred to the acting member
    /// (SECURITY.md §15b): the file is unsealed with their key and read
    /// entry by entry (only `history.json`, `keys.json`, `blobs/<hash>` and
    /// `objects/<hash>`, each named by the hash of its bytes and checked:
    /// BLAKE2b-256 for blobs, `ObjectNaming` for objects); the
    /// history is verified as the projection will again; the two tier keys
    /// are unsealed, fresh key pairs are made here, every file key is
    /// re-sealed to them and the new keys sealed to this vault's holders;
    /// then one `case.imported` event. On any refusal the objects it wrote
    /// are removed and nothing else was written.
    public func importCase(from path: String, manager managerID: String, expectingVault: String? = nil,
                           by actor: StaffIdentity, now: Date = Date()) throws -> ImportReport {
        try importCase(from: path, manager: managerID, expectingVault: expectingVault, by: actor, now: now, limits: nil)
    }

    func importCase(from path: String, manager managerID: String, expectingVault: String?,
                    by actor: StaffIdentity, now: Date, limits: ArchiveLimits?) throws -> ImportReport {
        guard Self.importingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("only a case supervisor imports a case (and becomes its supervisor); '\(actor.id)' is \(actor.role.withArticle)")
        }
        let supervisorID = actor.id
        guard FileSystem.isRegularFile(path), let size = FileSystem.fileSize(path) else { throw VaultError.notFound("no transfer file \(path)") }
        var bounded = limits ?? ArchiveLimits(maxEntries: 2_000_000, maxEntrySize: 64 << 30, maxTotalSize: 1 << 50)
        bounded.maxTotalSize = min(bounded.maxTotalSize, size)
        let file = try FileSystem.openForReading(path)
        // The filing lock (shared) is held until the rows that name the
        // objects are committed, so `verify --repair` never takes them for
        // a crash's leftovers meanwhile.
        return try objects.withFilingLock {
            var written: [ObjectID] = []
            // The history is checked as soon as it is read, before any
            // object is: a transfer whose history does not verify (or from
            // another vault than expected) writes nothing.
            var checked: (history: CaseHistory, proven: ProvenCase)?
            // Whether the sender is named by its fingerprint, checked below (else by its id).
            let byFingerprint = expectingVault.map(VaultFingerprint.looksLikeFingerprint) ?? false
            do {
                let unpacked = try Self.unpackTransfer(input: file.read(into:), keys: actor.keys, limits: bounded, naming: objects.naming, admit: { bytes in
                    let history = try CaseHistory(parsing: bytes)
                    if let expectingVault, byFingerprint {
                        let fingerprint = history.fromVaultFingerprint ?? "none"
                        guard fingerprint == expectingVault else {
                            throw VaultError.invalidInput("this transfer comes from a vault whose fingerprint is \(fingerprint), not \(expectingVault)")
                        }
                    } else if let expectingVault, history.fromVault != expectingVault {
                        throw VaultError.invalidInput("this transfer comes from vault \(history.fromVault), not \(expectingVault)")
                    }
                    let proven = try history.verify(toVault: config.vaultId, toMember: actor.id, toBoxPublicKey: actor.keys.boxPublicKey.bytes.hexString)
                    checked = (history, proven)
                    return Dictionary(proven.versions.map { ($0.objectId, $0.ciphertextSize) }, uniquingKeysWith: { first, _ in first })
                }) { expected, stream in
                    let existed = objects.contains(expected)
                    let (id, size) = try objects.write(expecting: expected, stream)
                    // Bytes that hash to another name: refused, and the object they made removed
                    // unless a row names it (then it was another record's all along).
                    guard id == expected else {
                        if (try? read({ reader, _ in try reader.cases(namingObject: id.hex) }))?.isEmpty ?? false { objects.remove(id) }
                        throw VaultError.integrityFailure("object \(expected.hex) in the transfer is not what its name says")
                    }
                    if !existed { written.append(id) }
                    return size
                }
                guard let checked else { throw VaultError.invalidInput("the transfer has no history.json") }
                return try importUnpacked(unpacked, history: checked.history, proven: checked.proven, manager: managerID, supervisor: supervisorID,
                                          checkedByFingerprint: byFingerprint,
                                          by: actor, now: now)
            } catch let failed as CatalogCommitFailed {
                // The commit itself failed: whether it reached the disk is not
                // known (a WAL frame can come back at the next recovery), so the
                // objects stay, orphans at worst for `verify --repair`.
                if case .io(let message) = failed.error {
                    throw VaultError.io("\(message); the case may have been imported all the same: run the same import again (it imports nothing twice)")
                }
                throw failed.error
            } catch {
                // Only objects this import made and no row names (another import of the same case may have committed).
                for id in written where (try? read({ reader, _ in try reader.cases(namingObject: id.hex) }))?.isEmpty ?? false {
                    objects.remove(id)
                }
                throw error
            }
        }
    }

    /// The blobs a transfer carries for a version: its sealed file key, its
    /// form's schema body, and, in a `-v2` or `-v4` file, its sealed file name (as
    /// stored: sealed under its file key and object id, which a transfer
    /// does not change).
    static func transferBlobs(of version: VersionRecord, withFileName: Bool) -> [String] {
        [version.sealedFileKeyHash] + (version.schemaBodyHash.map { [$0] } ?? [])
            + (withFileName ? version.fileInfoHash.map { [$0] } ?? [] : [])
    }

    /// A transfer file's parts, as read.
    struct UnpackedTransfer {
        var history: [UInt8]
        var keys: [UInt8]
        var blobs: [String: [UInt8]]
        /// Each object's name and size.
        var objects: [String: Int64]
        /// A `-v2` or `-v4` file: it carries every version's sealed file name.
        var carriesFileNames = false
    }

    /// Reads a transfer file without a vault (what the fuzz target drives):
    /// unseals it for `keys`, accepts only the entries a transfer holds, in
    /// the order casevault writes them (`history.json`, `keys.json`, blobs,
    /// objects), hands each object to `storeObject` as a stream, and reads
    /// to the sealed stream's end. `admit` is given the history before any
    /// object is read and returns the objects it names with their sizes
    /// (nil: any): an object it does not name, or of another size, is
    /// refused before a byte of it is stored, so a transfer whose history
    /// does not verify writes nothing.
    /// `naming`: the receiving vault's; one of format 2 (BLAKE2b) refuses
    /// a transfer from a vault of format 3 before reading any of it (§15b).
    static func unpackTransfer(input: @escaping (UnsafeMutableRawBufferPointer) throws -> Int, keys: any Unsealer, limits: ArchiveLimits,
                               naming: ObjectNaming, admit: ([UInt8]) throws -> [String: Int64]? = { _ in nil },
                               storeObject: (ObjectID, (_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> Int64) throws -> UnpackedTransfer {
        let opener = try SealedPackage.Opener(with: keys, magic: SealedPackage.transferMagic,
                                              alternatives: [SealedPackage.transferMagicV2, SealedPackage.transferMagicV3, SealedPackage.transferMagicV4],
                                              what: "case transfer", input: input)
        let fromFormatThree = [SealedPackage.transferMagicV3, SealedPackage.transferMagicV4].contains(opener.magicRead)
        guard naming == .blake3 || !fromFormatThree else {
            throw VaultError.invalidInput("this case comes from a vault of format 3, whose objects are named by BLAKE3; this vault is of an older format and keeps names every casevault can check, so it cannot take them: import the case into a vault of format 3")
        }
        var unpacked = UnpackedTransfer(history: [], keys: [], blobs: [:], objects: [:],
                                        carriesFileNames: [SealedPackage.transferMagicV2, SealedPackage.transferMagicV4].contains(opener.magicRead))
        var sawHistory = false, sawKeys = false, blobBytes = 0
        var admitted: [String: Int64]?
        do {
            let reader = try ArchiveReader(limits: limits, read: opener.read(into:))
            func readAll(max: Int, _ what: String) throws -> [UInt8] {
                var out: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                    if n == 0 { return out }
                    guard out.count + n <= max else { throw VaultError.invalidInput("the transfer's \(what) is too large") }
                    out.append(contentsOf: buffer[0..<n])
                }
            }
            func hashName(_ name: Substring) -> String? {
                let text = String(name)
                guard text.utf8.count == 64, [UInt8](hexString: text)?.hexString == text else { return nil }
                return text
            }
            while let entry = try reader.nextEntry() {
                let parts = entry.path.split(separator: "/", omittingEmptySubsequences: false)
                switch (entry.kind, parts.count, parts.first.map(String.init)) {
                case (.file, 1, "history.json"?) where !sawHistory:
                    unpacked.history = try readAll(max: CaseHistory.maximumSize, "history")
                    sawHistory = true
                    admitted = try admit(unpacked.history)
                case (.file, 1, "keys.json"?) where sawHistory && !sawKeys:
                    unpacked.keys = try readAll(max: 16_384, "keys")
                    sawKeys = true
                case _ where !sawKeys:
                    throw VaultError.invalidInput("the transfer does not begin with history.json and keys.json, as casevault writes it")
                case (.file, 2, "blobs"?):
                    guard let hash = hashName(parts[1]) else { throw VaultError.invalidInput("'\(entry.path)' is not named by a hash") }
                    let bytes = try readAll(max: 16 << 20, "blob")
                    blobBytes += bytes.count
                    guard blobBytes <= 512 << 20 else { throw VaultError.invalidInput("the transfer's blobs are too large") }
                    guard Blake2b.hash(bytes).hexString == hash else { throw VaultError.integrityFailure("blob \(hash) in the transfer is not what its name says") }
                    unpacked.blobs[hash] = bytes
                case (.file, 2, "objects"?):
                    guard let hash = hashName(parts[1]), let id = ObjectID(hex: hash) else {
                        throw VaultError.invalidInput("'\(entry.path)' is not named by a hash")
                    }
                    guard unpacked.objects[hash] == nil else { throw VaultError.invalidInput("the transfer holds '\(entry.path)' twice") }
                    if let admitted {
                        guard let size = admitted[hash] else {
                            throw VaultError.invalidInput("the transfer holds object \(hash), which no version of its case names")
                        }
                        guard entry.declaredSize == size else {
                            throw VaultError.integrityFailure("object \(hash) in the transfer is not the size its version signs")
                        }
                    }
                    unpacked.objects[hash] = try storeObject(id) { sink in
                        var buffer = [UInt8](repeating: 0, count: 1 << 20)
                        while true {
                            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                            if n == 0 { return }
                            try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                        }
                    }
                default:
                    throw VaultError.invalidInput("the transfer holds '\(entry.path)', which casevault never writes")
                }
            }
            // The tar's closing blocks are zeros; the stream must end after them.
            var rest = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = try rest.withUnsafeMutableBytes { try opener.read(into: $0) }
                if n == 0 { break }
                guard rest[0..<n].allSatisfy({ $0 == 0 }) else { throw VaultError.invalidInput("the transfer has data after the end of its archive") }
            }
        } catch let error as ArchiveError {
            throw VaultError.invalidInput("the transfer holds what casevault never writes: \(error)")
        }
        guard sawHistory, sawKeys else { throw VaultError.invalidInput("the transfer has no history.json or keys.json") }
        return unpacked
    }

    private func importUnpacked(_ unpacked: UnpackedTransfer, history: CaseHistory, proven: ProvenCase, manager managerID: String,
                                supervisor supervisorID: String, checkedByFingerprint: Bool, by actor: StaffIdentity, now: Date) throws -> ImportReport {
        let number = proven.state.case.number
        // Everything the versions name must have come.
        for version in proven.versions {
            guard let size = unpacked.objects[version.objectId] else {
                throw VaultError.integrityFailure("the transfer lacks the object of '\(version.document)' v\(version.version)")
            }
            guard size == version.ciphertextSize else {
                throw VaultError.integrityFailure("the object of '\(version.document)' v\(version.version) is not its signed size")
            }
            for hash in Self.transferBlobs(of: version, withFileName: unpacked.carriesFileNames) where unpacked.blobs[hash] == nil {
                throw VaultError.integrityFailure("the transfer lacks a blob of '\(version.document)' v\(version.version)")
            }
        }
        // Exactly what the versions name, nothing more.
        let named = Set(proven.versions.flatMap { Self.transferBlobs(of: $0, withFileName: unpacked.carriesFileNames) })
        guard Set(unpacked.blobs.keys) == named, Set(unpacked.objects.keys) == Set(proven.versions.map(\.objectId)) else {
            throw VaultError.invalidInput("the transfer holds blobs or objects its case's versions do not name")
        }
        // The old tier keys, unsealed with the importer's key and checked against the signed case.
        guard let json = try? JSONValue(parsing: unpacked.keys), json.canonicalBytes == unpacked.keys, case .object(let keysByTier) = json,
              Set(keysByTier.keys) == ["team", "confidential"] else {
            throw VaultError.invalidInput("the transfer's keys.json is malformed")
        }
        var old: [Tier: BoxKeyPair] = [:]
        for tier in Tier.allCases {
            guard case .object(let entry)? = keysByTier[tier.rawValue], Set(entry.keys) == ["publicKey", "sealedSecretKey"],
                  let sealedHex = entry["sealedSecretKey"]?.stringValue, let sealed = [UInt8](hexString: sealedHex),
                  entry["publicKey"]?.stringValue == (try proven.state.case.publicKey(for: tier)).bytes.hexString else {
                throw VaultError.invalidInput("the transfer's keys.json is malformed or names another key")
            }
            let keys: BoxKeyPair
            do { keys = try BoxKeyPair(secretKey: try actor.keys.unseal(sealed)) } catch {
                throw VaultError.integrityFailure("the transfer's \(tier.rawValue)-tier key does not open with your key")
            }
            guard keys.publicKey == (try proven.state.case.publicKey(for: tier)) else {
                throw VaultError.integrityFailure("the transfer's \(tier.rawValue)-tier key is not the case's")
            }
            old[tier] = keys
        }
        let fresh: [Tier: BoxKeyPair] = [.team: BoxKeyPair(), .confidential: BoxKeyPair()]
        // Every file key, re-sealed to the new tier key (checked to open first).
        var resealed: [CaseImported.Version] = [], resealedBlobs: [[UInt8]] = []
        for version in proven.versions {
            guard let tier = Tier(rawValue: version.tier), let keys = old[tier], let target = fresh[tier] else {
                throw VaultError.integrityFailure("a version of \(number) has no known tier")
            }
            let fileKey: SecureBytes
            do { fileKey = try SealedBox.open(unpacked.blobs[version.sealedFileKeyHash]!, with: keys) } catch {
                throw VaultError.integrityFailure("the file key of '\(version.document)' v\(version.version) does not open with its tier key")
            }
            let blob = SealedBox.seal(fileKey, to: target.publicKey)
            resealedBlobs.append(blob)
            // Its file name, checked to open with its file key, sealed again
            // under a fresh nonce: a blob of this vault's own (one the
            // sending vault still names may have come here before, by
            // another case's transfer).
            var nameHash: String?
            if unpacked.carriesFileNames, let sent = version.fileInfoHash {
                let info: FileInfo
                do { info = try FileInfo.open(unpacked.blobs[sent]!, fileKey: fileKey, objectID: version.objectId) } catch {
                    guard FileInfo.authenticates(unpacked.blobs[sent]!, fileKey: fileKey, objectID: version.objectId) else {
                        throw VaultError.integrityFailure("the file name of '\(version.document)' v\(version.version) does not open with its file key")
                    }
                    throw VaultError.invalidInput("the file name of '\(version.document)' v\(version.version) is one this casevault does not read (a media type it does not know?): upgrade casevault, or ask the sending office to send the case again with --without-file-names")
                }
                let sealedName = try info.sealed(fileKey: fileKey, objectID: version.objectId)
                resealedBlobs.append(sealedName)
                nameHash = Blake2b.hash(sealedName).hexString
            }
            resealed.append(.init(document: version.document, version: version.version, sealedFileKeyHash: Blake2b.hash(blob).hexString,
                                  fileInfoHash: nameHash))
        }
        let schemaBodies = Set(proven.versions.compactMap(\.schemaBodyHash)).sorted()
        try write(reportingUncertainCommit: true) { writer, head in
            let signed = head.signedState(writer)
            let settings = try signed.settings()
            if try signed.caseState(number) != nil { throw VaultError.alreadyExists("case \(number) already exists here") }
            if let taken = try signed.clientTaken(proven.state.case.clientNumber) {
                throw VaultError.alreadyExists("client number \(proven.state.case.clientNumber) is already case \(taken) here")
            }
            guard settings.caseCategories.contains(proven.state.case.category) else {
                throw VaultError.invalidInput("this vault has no case category '\(proven.state.case.category)'")
            }
            let holders = try Self.importHolders(manager: managerID, supervisor: supervisorID, signed: signed)
            var sealedHolders: [CaseImported.Holder] = []
            for holder in holders {
                guard let tier = Tier(rawValue: holder.tier), let keys = fresh[tier], let key = [UInt8](hexString: holder.key) else { continue }
                let blob = SealedBox.seal(keys.secretKey, to: try BoxPublicKey(bytes: key))
                sealedHolders.append(.init(tier: holder.tier, holder: holder.holder, holderPublicKey: holder.key,
                                           sealedKeyHash: try Ledger.putBlob(blob, in: writer)))
            }
            for blob in resealedBlobs { _ = try Ledger.putBlob(blob, in: writer) }
            for hash in schemaBodies { try writer.putBlob(hash: hash, bytes: unpacked.blobs[hash]!) }
            let historyHash = try Ledger.putBlob(unpacked.history, in: writer)
            try Ledger.append([.caseImported(CaseImported(
                case: number, history: historyHash, manager: managerID, supervisor: supervisorID,
                teamPublicKey: fresh[.team]!.publicKey.bytes.hexString, confidentialPublicKey: fresh[.confidential]!.publicKey.bytes.hexString,
                holders: sealedHolders, versions: resealed, schemaBodies: schemaBodies))],
                by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
        }
        return ImportReport(caseNumber: number, fromVault: history.fromVault, fromVaultFingerprint: history.fromVaultFingerprint ?? "",
                            checkedByFingerprint: checkedByFingerprint, transferredBy: proven.transferredBy, events: proven.events.count,
                            documents: proven.documents.count, versions: proven.versions.count, objects: unpacked.objects.count,
                            manager: managerID, supervisor: supervisorID)
    }

    /// Who holds an imported case's tiers here, by tier then holder (as
    /// bytes): its manager and supervisor (checked), the members of the
    /// team-tier roles (team tier), and the recovery key, as for a case
    /// opened here. The projection requires exactly these.
    static func importHolders(manager managerID: String, supervisor supervisorID: String,
                              signed: SignedState) throws -> [(tier: String, holder: String, key: String)] {
        let settings = try signed.settings()
        guard let manager = try signed.staff(managerID) else { throw try signed.missingStaff(managerID) }
        guard let supervisor = try signed.staff(supervisorID) else { throw try signed.missingStaff(supervisorID) }
        for member in [manager, supervisor] {
            if let left = member.left { throw VaultError.invalidInput("'\(member.id)' left the staff on \(left.at)") }
        }
        guard manager.role == Role.caseManager.rawValue else { throw VaultError.invalidInput("'\(managerID)' is not a case manager") }
        guard supervisor.role == Role.caseSupervisor.rawValue else { throw VaultError.invalidInput("'\(supervisorID)' is not a case supervisor") }
        var holders: [(tier: String, holder: String, key: String)] = []
        for tier in Tier.allCases {
            holders.append((tier.rawValue, GrantHolder.staff(managerID), manager.boxPublicKey))
            holders.append((tier.rawValue, GrantHolder.staff(supervisorID), supervisor.boxPublicKey))
            if tier == .team {
                for member in try signed.allStaff() where settings.teamTierRoles.contains(member.role) && member.left == nil
                    && member.id != managerID && member.id != supervisorID {
                    holders.append((tier.rawValue, GrantHolder.staff(member.id), member.boxPublicKey))
                }
            }
            if let recovery = settings.recoveryPublicKey { holders.append((tier.rawValue, GrantHolder.recovery, recovery)) }
        }
        return holders.sorted { $0.tier != $1.tier ? $0.tier < $1.tier : $0.holder.utf8.lexicographicallyPrecedes($1.holder.utf8) }
    }
}
