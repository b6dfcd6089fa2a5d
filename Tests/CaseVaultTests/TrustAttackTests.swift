@testable import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation
import GRDB
import Testing

/// An office whose members each use casevault as the CLI does: every
/// command opens the vault with the member's own checkpoint folder and
/// keeps a checkpoint when it is done.
final class Office {
    let scratch = Scratch()
    let path: String
    var passphrases: [String: String] = [:]

    init(members: [(String, String, Role)] = Office.programme, recoveryKey: Bool = true) throws {
        let vault = try makeVault(in: scratch, recoveryKey: recoveryKey ? scratch.file("recovery.txt") : nil)
        path = vault.path
        passphrases["amina"] = adminPassphrase
        try act("amina") { vault, admin in
            for (id, name, role) in members {
                passphrases[id] = "\(id) passphrase!"
                try vault.addStaff(id: id, name: name, role: role, passphrase: try scratch.passphrase("\(id) passphrase!"), by: admin)
            }
        }
    }

    static let programme: [(String, String, Role)] = [
        ("grace", "Grace Otieno", .caseManager), ("joseph", "Joseph Mwangi", .caseManager),
        ("halima", "Halima Abdi", .caseSupervisor), ("omar", "Omar Farouk", .caseSupervisor),
        ("farah", "Farah Nasser", .recordsOfficer), ("dora", "Dora Achieng", .projectDirector), ("peter", "Peter Okello", .auditor),
    ]

    func checkpoints(_ id: String) -> CheckpointStore { CheckpointStore(folder: scratch.file("state-\(id)")) }

    /// Opens the vault as `id`'s casevault would (with their checkpoints).
    func open(_ id: String, checkpoint: Checkpoint? = nil) throws -> Vault {
        try Vault.open(at: path, options: Vault.OpenOptions(checkpoints: checkpoints(id), checkpoint: checkpoint))
    }

    /// One command by `id`: open, unlock, act, keep a checkpoint.
    @discardableResult
    func act<T>(_ id: String, _ body: (Vault, StaffIdentity) throws -> T) throws -> T {
        let vault = try open(id)
        let identity = try vault.unlock(staffID: id, passphrase: try scratch.passphrase(passphrases[id]!))
        defer { _ = try? vault.saveCheckpoint(signedBy: identity) }
        return try body(vault, identity)
    }

    @discardableResult
    func openCase(by id: String = "halima", client: Int = 42) throws -> String {
        try act(id) { vault, actor in
            try vault.openCase(category: "CP", admitted: 2024, clientNumber: client, managerID: "grace", supervisorID: "halima", by: actor)
                .number.description
        }
    }

    @discardableResult
    func file(_ text: String, name: String = "Notes", confidential: Bool = false, by id: String = "farah",
              into number: String = "CP-2024-0042") throws -> VersionInfo {
        let input = scratch.file("input-\(UUID().uuidString)")
        try text.write(toFile: input, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: input) }
        return try act(id) { vault, actor in
            try vault.file(caseNumber: number, name: name, type: "report", confidential: confidential, from: .file(path: input), by: actor)
        }
    }

    func read(_ name: String = "Notes", version: Int? = nil, by id: String = "grace") throws -> String {
        try act(id) { vault, actor in
            var out: [UInt8] = []
            try vault.read(caseNumber: "CP-2024-0042", document: name, version: version, by: actor) { out.append(contentsOf: $0) }
            return String(decoding: out, as: UTF8.self)
        }
    }

    func sql(_ statement: String, _ arguments: StatementArguments = StatementArguments()) throws {
        let queue = try DatabaseQueue(path: path + "/" + Vault.catalogFileName)
        try queue.write { try $0.execute(sql: statement, arguments: arguments) }
        try queue.close()
    }

    func rows(_ statement: String) throws -> [Row] {
        let queue = try DatabaseQueue(path: path + "/" + Vault.catalogFileName)
        defer { try? queue.close() }
        return try queue.read { try Row.fetchAll($0, sql: statement) }
    }

    /// Recomputes every stored Merkle node from the stored leaf hashes, as
    /// an attacker keeping the tree consistent after editing events would.
    func rebuildLogNodes() throws {
        try sql("UPDATE events SET leaf_hash = ?", [Data()])  // placeholder, replaced below
        let events = try rows("SELECT seq, body, signature FROM events ORDER BY seq")
        var range = CompactRange()
        try sql("DELETE FROM log_nodes")
        for event in events {
            let leaf = SHA256.hash([0x00] + Array(event["body"] as Data) + Array(event["signature"] as Data))
            try sql("UPDATE events SET leaf_hash = ? WHERE seq = ?", [Data(leaf), event["seq"] as Int64])
            for node in range.append(leaf: leaf) {
                try sql("INSERT INTO log_nodes VALUES (?, ?, ?)", [node.level, node.index, Data(node.hash)])
            }
        }
    }

    /// Appends `data`, signed with `key` as `actor`, as one who can write the folder and holds
    /// that key would: after the last event, in its format, at its time and signing its state,
    /// with the log's tree rebuilt over it. Returns its sequence number.
    @discardableResult
    func appendByHand(_ data: EventData, as actor: String, key: SigningKeyPair) throws -> Int64 {
        let previous = try Event(body: Array(rows("SELECT body FROM events ORDER BY seq DESC LIMIT 1")[0]["body"] as Data))
        let event = Event(format: previous.format, seq: previous.seq + 1, vault: previous.vault, at: previous.at, actor: actor,
                          data: data, stateRoot: previous.stateRoot)
        let body = try event.body()
        let signature = key.sign(Event.signedMessage(body: body))
        try sql("INSERT INTO events (seq, type, actor, at, body, signature, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [event.seq, event.type.rawValue, actor, event.at, Data(body), Data(signature), Data()])
        try rebuildLogNodes()
        return event.seq
    }

    /// amina, the first admin, unlocked.
    func admin() throws -> StaffIdentity {
        try open("amina").unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
    }

    /// The log's size as the catalog holds it, and its root at `size` from the stored nodes.
    func logSize() throws -> Int64 { try rows("SELECT MAX(seq) FROM events")[0][0] }
    func logRoot(at size: Int64) throws -> [UInt8] {
        try Vault.open(at: path).store.read { try CompactRange(LogNodes(reader: $0), size: size).root }
    }

    /// A staff row for `id` beside an addition signed by hand, as one who writes the folder
    /// would add it: grace's row, with its id, role and `added_seq` changed.
    func staffRowByHand(_ id: String, role: Role = .caseManager, addedAt seq: Int64) throws {
        try sql("""
            CREATE TEMP TABLE copy AS SELECT * FROM staff WHERE id = 'grace';
            UPDATE copy SET id = ?, role = ?, added_seq = ?;
            INSERT INTO staff SELECT * FROM copy;
            """, [id, role.rawValue, seq])
    }

    /// `verify`, as the CLI runs it: nothing refused at open, findings reported.
    func verify(_ id: String = "auditor", checkpoint: Checkpoint? = nil) throws -> VerifyReport {
        var options = Vault.OpenOptions(checkpoints: checkpoints(id), checkpoint: checkpoint)
        options.checksOnOpen = false
        return try Vault.open(at: path, options: options).verify()
    }

    /// A copy of the whole folder, as a backup would be.
    func snapshot() throws -> String {
        let copy = scratch.file("backup-\(UUID().uuidString)")
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        return copy
    }

    func restore(_ copy: String) throws {
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: copy, toPath: path)
    }
}

func expectIntegrity(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    #expect(sourceLocation: sourceLocation) { try body() } throws: { error in
        guard case VaultError.integrityFailure(let message) = error else { return false }
        return message.contains(fragment)
    }
}

/// Issue 8's attacks, each by someone who can write the vault folder (and,
/// for attack 7, a member) but holds no other key.
@Suite struct TrustAttackTests {
    // 0. Event 1 is verified: the recovery key and the policy cannot be changed.
    @Test func attack0_theFirstEventsSettingsCannotBeChanged() throws {
        let office = try Office()
        let attacker = BoxKeyPair().publicKey.bytes.hexString
        let original = try #require(try office.open("grace").config.recoveryPublicKey)
        // casevault.json and event 1 and the settings row all say the attacker's key,
        // and the Merkle tree is recomputed to match.
        let config = office.path + "/casevault.json"
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: original, with: attacker)
            .write(toFile: config, atomically: false, encoding: .utf8)
        try office.sql("UPDATE events SET body = CAST(replace(CAST(body AS TEXT), ?, ?) AS BLOB) WHERE seq = 1", [original, attacker])
        try office.sql("UPDATE vault_settings SET recovery_public_key = ?", [Data([UInt8](hexString: attacker)!)])
        try office.rebuildLogNodes()
        // First use (no checkpoint, no unlock): event 1 no longer verifies.
        expectIntegrity("the vault's first event is not signed by its first admin") {
            _ = try Vault.open(at: office.path)
        }
        // Adding a team-tier role the same way.
        let other = try Office()
        try other.sql("UPDATE events SET body = CAST(replace(CAST(body AS TEXT), '[\"project-director\"]', '[\"project-director\",\"records-officer\"]') AS BLOB) WHERE seq = 1")
        try other.sql("UPDATE vault_settings SET team_tier_roles = '[\"project-director\",\"records-officer\"]'")
        expectIntegrity("event 1 was altered after it was signed") { _ = try Vault.open(at: other.path) }
        expectIntegrity("event 1 was altered after it was signed") { _ = try other.open("amina") }
    }

    /// A vault made without an admin: its first admin signs only the settings init wrote.
    @Test func attack0_theFirstAdminSignsOnlyTheSettingsInitPrinted() throws {
        let scratch = Scratch()
        var options = Vault.CreationOptions()
        options.insecureTestingKDF = true
        options.recoveryKeyPath = scratch.file("recovery.txt")
        let created = try Vault.create(at: scratch.file("v"), options: options)
        let printed = created.config.settingsFingerprint
        let config = created.path + "/casevault.json"
        try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: try #require(created.config.recoveryPublicKey), with: BoxKeyPair().publicKey.bytes.hexString)
            .write(toFile: config, atomically: false, encoding: .utf8)
        let edited = try Vault.open(at: created.path)
        expectIntegrity("do not have the fingerprint you gave") {
            try edited.addFirstAdmin(id: "root", name: "Root", passphrase: try scratch.passphrase("root passphrase!"), settingsFingerprint: printed)
        }
        #expect(try edited.staff().isEmpty)
    }

    // 1. A log rewritten from its root with a first admin of the attacker's own.
    @Test func attack1_aReRootedLogIsRefusedForEveryExistingMember() throws {
        let office = try Office(members: [("grace", "Grace Otieno", .caseManager), ("halima", "Halima Abdi", .caseSupervisor),
                                          ("farah", "Farah Nasser", .recordsOfficer)])
        let vaultID = try office.open("amina").config.vaultId
        let blobs = Dictionary(uniqueKeysWithValues: try office.rows("SELECT id, wrapped_keys_hash FROM staff").map { row -> (String, [UInt8]) in
            let hash: String = row["wrapped_keys_hash"]
            let bytes = try office.rows("SELECT bytes FROM blobs WHERE hash = '\(hash)'")[0]["bytes"] as Data
            return (row["id"], Array(bytes))
        })
        let members = try office.rows("SELECT * FROM staff WHERE id != 'amina' ORDER BY added_seq")
        // The attacker's catalog: their own 'amina', their own recovery key,
        // the other members kept with their real keys and wrapped keys.
        let forgedPath = office.scratch.file("forged.sqlite")
        let forged = try SQLiteCatalogStore.create(path: forgedPath)
        let evil = StaffIdentity(member: StaffMember(id: "amina", name: "Amina Yusuf", role: .admin, createdAt: Date(), createdBy: nil,
                                                     boxPublicKeyHex: "", signingPublicKeyHex: ""),
                                 boxKeys: BoxKeyPair(), signingKeys: SigningKeyPair(), isAnchored: false)
        var config = try office.open("amina").config
        let attackerRecovery = BoxKeyPair().publicKey.bytes.hexString
        config.recoveryPublicKey = attackerRecovery
        let evilBlob = try WrappedSecret.wrap(evil.secretKeyMaterial(), passphrase: try office.scratch.passphrase("attacker passphrase").bytes,
                                              parameters: .insecureTestingOnly)
        try forged.write { writer in
            var head = TrustedHead.empty
            var events: [EventData] = [.vaultCreated(config.vaultCreated),
                                       .staffAdded(StaffAdded(id: "amina", name: "Amina Yusuf", role: "admin",
                                                              boxPublicKey: evil.boxKeys.publicKey.bytes.hexString,
                                                              signingPublicKey: evil.signingKeys.publicKey.bytes.hexString,
                                                              wrappedKeysHash: try Ledger.putBlob(evilBlob, in: writer)))]
            for member in members {
                events.append(.staffAdded(StaffAdded(id: member["id"], name: member["name"], role: member["role"],
                                                     boxPublicKey: Array(member["box_public_key"] as Data).hexString,
                                                     signingPublicKey: Array(member["signing_public_key"] as Data).hexString,
                                                     wrappedKeysHash: try Ledger.putBlob(blobs[member["id"]]!, in: writer))))
            }
            try Ledger.append(events, by: evil, at: Date(), vaultID: vaultID, head: &head, in: writer)
        }
        try forged.close()
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: office.path + "/catalog.sqlite" + suffix)
            if FileManager.default.fileExists(atPath: forgedPath + suffix) {
                try FileManager.default.copyItem(atPath: forgedPath + suffix, toPath: office.path + "/catalog.sqlite" + suffix)
            }
        }
        let configPath = office.path + "/casevault.json"
        let text = try String(contentsOfFile: configPath, encoding: .utf8)
        try text.replacingOccurrences(of: try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])["recoveryPublicKey"] as! String,
                                      with: attackerRecovery).write(toFile: configPath, atomically: false, encoding: .utf8)

        // The forged vault is consistent on its own: a first look without anchors accepts it…
        #expect(try Vault.open(at: office.path).staff().map(\.id) == ["amina", "farah", "grace", "halima"])
        // …but every existing member's wrapped keys remember the real first event.
        for id in ["grace", "halima", "farah"] {
            let vault = try Vault.open(at: office.path)
            expectIntegrity("the log's first event is not the one '\(id)' joined") {
                _ = try vault.unlock(staffID: id, passphrase: try office.scratch.passphrase(office.passphrases[id]!))
            }
        }
        // The real admin, whose keys were replaced, is stopped by their checkpoint before any passphrase.
        expectIntegrity("does not extend your last checkpoint") { _ = try office.open("amina") }
        // So no case is ever opened with the attacker's recovery key by an existing member.
        expectIntegrity("rewritten from its root") { try office.openCase(by: "halima") }
    }

    // 1c. casevault.json edited to an older format: the file is blamed, not the
    // log. The newest event format a vault signs comes from its signed
    // vault.created, whether the log is checked from nothing, from an anchor
    // or event by event; the edited file is then refused for differing from it.
    @Test func attack1c_aConfigEditedToAnOlderFormatIsBlamedNotTheLog() throws {
        let office = try Office()
        try office.openCase()
        try office.file("genuine")
        let configPath = office.path + "/casevault.json"
        let text = try String(contentsOfFile: configPath, encoding: .utf8)
        #expect(text.contains("\"formatVersion\" : 3"))
        try text.replacingOccurrences(of: "\"formatVersion\" : 3", with: "\"formatVersion\" : 2").write(toFile: configPath, atomically: false, encoding: .utf8)
        let blamed = "casevault.json differs from the settings recorded when the vault was created"
        expectIntegrity(blamed) { _ = try Vault.open(at: office.path).caseFile("CP-2024-0042") }  // first use on this machine
        expectIntegrity(blamed) { _ = try office.open("grace") }  // from grace's anchor, event by event
        // What verify says: the file, and no event.
        var asVerify = Vault.OpenOptions()
        asVerify.checksOnOpen = false
        let findings = try Vault.open(at: office.path, options: asVerify).verify().findings
        #expect(findings.contains { $0.kind == .configDiffers }, "\(findings)")
        #expect(!findings.contains { $0.kind == .eventMalformed }, "\(findings)")
    }

    // 1d. Catching up parses the events and checks their signatures ahead, a
    // batch at a time, on every core. Whatever the batch, the same head; and
    // an event re-signed by another member under grace's name (a key the
    // batch knows, the wrong one for that event) is refused at its place.
    @Test func attack1d_aCatchUpGivesOneAnswerWhateverItsBatches() throws {
        let office = try Office()
        try office.openCase()
        for text in ["one", "two", "three"] { try office.file(text) }
        _ = try office.read()
        let vault = try Vault.open(at: office.path)
        func catchUp(_ batch: Int) throws -> TrustedHead {
            try vault.store.read { try Trust.catchUp(.empty, reader: $0, vaultID: vault.config.vaultId, book: SignerBook(), batch: batch) }
        }
        let whole = try catchUp(Trust.checkedAhead)
        #expect(whole.size > 10)
        for batch in [1, 2, 3, 5] {
            let head = try catchUp(batch)
            #expect(head.size == whole.size && head.logRoot == whole.logRoot && head.stateRoot == whole.stateRoot, "batches of \(batch)")
        }
        // From a head part-way (as from a member's anchor), with a book that knows no one: the
        // signers from before it are looked up in the trusted prefix.
        let part = try vault.store.read { try Trust.catchUp(.empty, reader: $0, vaultID: vault.config.vaultId, book: SignerBook(), through: 6) }
        func resume(_ batch: Int) throws -> TrustedHead {
            try vault.store.read { try Trust.catchUp(part, reader: $0, vaultID: vault.config.vaultId, book: SignerBook(), batch: batch) }
        }
        for batch in [1, 3, Trust.checkedAhead] {
            let head = try resume(batch)
            #expect(head.size == whole.size && head.logRoot == whole.logRoot && head.stateRoot == whole.stateRoot, "from 6, batches of \(batch)")
        }
        let dora = try vault.unlock(staffID: "dora", passphrase: try office.scratch.passphrase(office.passphrases["dora"]!))
        let body: Data = try office.rows("SELECT body FROM events WHERE type = 'content.read' AND actor = 'grace'")[0][0]
        try office.sql("UPDATE events SET signature = ? WHERE type = 'content.read' AND actor = 'grace'",
                       [Data(dora.signingKeys.sign(Array("casevault-event-v1\n".utf8) + Array(body)))])
        for batch in [1, 2, 3, 5, Trust.checkedAhead] {
            expectIntegrity("is not validly signed by 'grace'") { _ = try catchUp(batch) }
            expectIntegrity("is not validly signed by 'grace'") { _ = try resume(batch) }
        }
    }

    // 1e. A member's key is the one their first staff.added gave. An admin who signs a second
    // addition of a member, with keys of their own, cannot then sign as that member: not after
    // the member's anchor, nor before it (where the member's staff row points at the second).
    @Test func attack1e_aSecondAdditionOfAMemberCannotSignAsThem() throws {
        let office = try Office()
        try office.openCase()
        try office.file("one")
        _ = try office.read()  // grace, dora and farah keep checkpoints up to here
        _ = try office.act("dora") { vault, _ in try vault.cases() }
        let backup = try office.snapshot()
        let amina = try office.admin()
        let rogue = SigningKeyPair()
        let grace = try office.rows("SELECT box_public_key, wrapped_keys_hash FROM staff WHERE id = 'grace'")[0]
        let read = try Event(body: Array(office.rows("SELECT body FROM events WHERE type = 'content.read' ORDER BY seq DESC LIMIT 1")[0]["body"] as Data))
        let again = StaffAdded(id: "grace", name: "Grace Otieno", role: Role.caseManager.rawValue,
                               boxPublicKey: Array(grace["box_public_key"] as Data).hexString, signingPublicKey: rogue.publicKey.bytes.hexString,
                               wrappedKeysHash: grace["wrapped_keys_hash"])
        try office.appendByHand(.staffAdded(again), as: "amina", key: amina.signingKeys)
        try office.appendByHand(read.data, as: "grace", key: rogue)
        // Met after the anchor: the second addition itself is refused, whoever opens the vault.
        for id in ["grace", "dora", "farah"] {
            expectIntegrity("adds 'grace', who was already added to the staff at event") { _ = try office.open(id).cases() }
        }
        // Before the anchor: the staff row points at the second addition, and a checkpoint is
        // made past it, as if the one who made it had not looked; the event signed with the
        // rogue key after it is refused all the same, by the walk itself (the admin could sign a
        // state that agrees with the edited row, so only the walk is asked here).
        try office.restore(backup)
        let addedAgain = try office.appendByHand(.staffAdded(again), as: "amina", key: amina.signingKeys)
        try office.sql("UPDATE staff SET added_seq = ? WHERE id = 'grace'", [addedAgain])
        let past = try Vault.open(at: office.path)
        let checkpoint = try Checkpoint.signed(vaultID: past.config.vaultId, size: addedAgain,
                                               root: try past.store.read { try CompactRange(LogNodes(reader: $0), size: addedAgain).root },
                                               by: amina)
        try office.appendByHand(read.data, as: "grace", key: rogue)
        expectIntegrity("the key of event \(addedAgain), a second addition of the same id, is not theirs") {
            _ = try office.open("peter", checkpoint: checkpoint).read { _, head in head }
        }
        // First use on a new machine, with no anchor: the newest event's signer is looked up the same way.
        expectIntegrity("the key of event \(addedAgain), a second addition") { _ = try Vault.open(at: office.path).read { _, head in head } }
        #expect(try office.verify().findings.contains { $0.subject == "event \(addedAgain)" })
    }

    /// A checkpoint counts by any one member's signature, whatever order the signatures come in;
    /// a signature by a member whose staff row points at a second addition of them is no
    /// member's, and alone it refuses the checkpoint, naming why.
    @Test func aCheckpointSignedWithASecondAdditionsKeyCountsForNothing() throws {
        let office = try Office()
        let amina = try office.admin()
        let rogue = SigningKeyPair()
        let row = try office.rows("SELECT box_public_key, wrapped_keys_hash FROM staff WHERE id = 'grace'")[0]
        let again = try office.appendByHand(.staffAdded(StaffAdded(id: "grace", name: "Grace Otieno", role: Role.caseManager.rawValue,
                                                                   boxPublicKey: Array(row["box_public_key"] as Data).hexString,
                                                                   signingPublicKey: rogue.publicKey.bytes.hexString,
                                                                   wrappedKeysHash: row["wrapped_keys_hash"])), as: "amina", key: amina.signingKeys)
        try office.sql("UPDATE staff SET added_seq = ? WHERE id = 'grace'", [again])
        let vaultID = try Vault.open(at: office.path).config.vaultId
        let root = try office.logRoot(at: again)
        let byAmina = try Checkpoint.signed(vaultID: vaultID, size: again, root: root, by: amina)
        let name = Checkpoint.keyName(vaultID: vaultID, staffID: "grace")
        let byGrace = Checkpoint.Signature(keyName: name, keyID: Checkpoint.keyID(name: name, key: rogue.publicKey),
                                           signature: rogue.sign(Array(byAmina.text.utf8)))
        func checkpoint(_ signatures: [Checkpoint.Signature]) -> Checkpoint {
            Checkpoint(origin: byAmina.origin, size: again, root: root, signatures: signatures)
        }
        expectIntegrity("the key of event \(again), a second addition of the same id, is not theirs") {
            _ = try office.open("peter", checkpoint: checkpoint([byGrace])).read { _, head in head }
        }
        for signatures in [[byGrace] + byAmina.signatures, byAmina.signatures + [byGrace]] {
            #expect(try office.open("peter", checkpoint: checkpoint(signatures)).read { _, head in head.size } == again)
        }
    }

    /// Each admin in the chain that added a signer is held to their first addition too: a
    /// member added by a second addition's key is no member.
    @Test func aMemberAddedWithASecondAdditionsKeyIsNoMember() throws {
        let office = try Office()
        try office.act("amina") { vault, admin in
            try vault.addStaff(id: "zed", name: "Zed Admin", role: .admin, passphrase: try office.scratch.passphrase("zed passphrase!!"), by: admin)
        }
        let amina = try office.admin()
        let rogue = SigningKeyPair(), newbie = SigningKeyPair()
        let row = try office.rows("SELECT box_public_key, wrapped_keys_hash FROM staff WHERE id = 'zed'")[0]
        let hex = String(repeating: "ab", count: 32)
        let zedAgain = try office.appendByHand(.staffAdded(StaffAdded(id: "zed", name: "Zed Admin", role: Role.admin.rawValue,
                                                                      boxPublicKey: Array(row["box_public_key"] as Data).hexString,
                                                                      signingPublicKey: rogue.publicKey.bytes.hexString,
                                                                      wrappedKeysHash: row["wrapped_keys_hash"])), as: "amina", key: amina.signingKeys)
        try office.sql("UPDATE staff SET added_seq = ? WHERE id = 'zed'", [zedAgain])
        let added = try office.appendByHand(.staffAdded(StaffAdded(id: "nadia", name: "Nadia Said", role: Role.caseManager.rawValue,
                                                                   boxPublicKey: hex, signingPublicKey: newbie.publicKey.bytes.hexString,
                                                                   wrappedKeysHash: hex)), as: "zed", key: rogue)
        try office.staffRowByHand("nadia", addedAt: added)
        // First use refuses it already (its newest event is the addition by zed's second key).
        expectIntegrity("'zed' was first added at event") { _ = try Vault.open(at: office.path).read { _, head in head } }
        var unchecked = Vault.OpenOptions()
        unchecked.checksOnOpen = false
        let past = try Vault.open(at: office.path, options: unchecked)
        let checkpoint = try Checkpoint.signed(vaultID: past.config.vaultId, size: added,
                                               root: try past.store.read { try CompactRange(LogNodes(reader: $0), size: added).root }, by: amina)
        try office.appendByHand(.contentRead(ContentRead(case: "CP-2024-0042", document: "Notes", version: 1, tier: "team", object: hex)),
                                as: "nadia", key: newbie)
        expectIntegrity("'zed' was first added at event") { _ = try office.open("peter", checkpoint: checkpoint).read { _, head in head } }
    }

    /// What first use learns of signers, on a log nothing vouches for yet, is not what the walk
    /// from the first anchor believes: a log shown to first use with a rogue key at a member's
    /// real addition, then put back and extended with events signed with that key, is refused.
    @Test func firstUseLeavesNothingForTheFirstAnchorToBelieve() throws {
        let office = try Office()
        try office.openCase()
        try office.file("one")
        _ = try office.read()
        let real = try office.rows("SELECT * FROM events ORDER BY seq")
        let size = Int64(real.count)
        let root = try office.logRoot(at: size)
        let addition: Int64 = try office.rows("SELECT added_seq FROM staff WHERE id = 'grace'")[0][0]
        let read = try Event(body: Array(office.rows("SELECT body FROM events WHERE type = 'content.read' AND actor = 'grace'")[0]["body"] as Data))
        let amina = try office.admin()
        let rogue = SigningKeyPair()
        // The log first use is shown: the real one up to grace's addition, which has a rogue key.
        let row = try office.rows("SELECT box_public_key, wrapped_keys_hash FROM staff WHERE id = 'grace'")[0]
        try office.sql("DELETE FROM events WHERE seq >= ?", [addition])
        #expect(try office.appendByHand(.staffAdded(StaffAdded(id: "grace", name: "Grace Otieno", role: Role.caseManager.rawValue,
                                                                boxPublicKey: Array(row["box_public_key"] as Data).hexString,
                                                                signingPublicKey: rogue.publicKey.bytes.hexString,
                                                                wrappedKeysHash: row["wrapped_keys_hash"])), as: "amina", key: amina.signingKeys) == addition)
        try office.appendByHand(read.data, as: "grace", key: rogue)
        var options = Vault.OpenOptions()
        options.checksOnOpen = false  // the settings are compared once trust is anchored, not here
        let vault = try Vault.open(at: office.path, options: options)
        _ = try vault.read { _, head in head }  // first use: believes the rogue key
        // Put back the real log, and extend it with an event signed with the rogue key.
        try office.sql("DELETE FROM events")
        for event in real {
            try office.sql("INSERT INTO events (seq, type, actor, at, body, signature, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [event["seq"] as Int64, event["type"] as String, event["actor"] as String, event["at"] as String,
                            event["body"] as Data, event["signature"] as Data, event["leaf_hash"] as Data])
        }
        let forged = try office.appendByHand(read.data, as: "grace", key: rogue)
        expectIntegrity("event \(forged) (content.read) is not validly signed by 'grace'") {
            try vault.adopt(TrustAnchor(size: size, root: root, source: "grace's wrapped keys"))
        }
    }

    /// Both additions among the events a catch-up meets: the second is refused there.
    @Test func aSecondAdditionAmongTheNewEventsIsRefused() throws {
        let office = try Office()
        _ = try office.act("grace") { vault, _ in try vault.cases() }  // her anchor: before both
        try office.act("amina") { vault, admin in
            try vault.addStaff(id: "nadia", name: "Nadia Said", role: .caseManager, passphrase: try office.scratch.passphrase("nadia passphrase!"), by: admin)
        }
        let first: Int64 = try office.rows("SELECT added_seq FROM staff WHERE id = 'nadia'")[0][0]
        let row = try office.rows("SELECT box_public_key, wrapped_keys_hash FROM staff WHERE id = 'nadia'")[0]
        let amina = try office.admin()
        let again = StaffAdded(id: "nadia", name: "Nadia Said", role: Role.caseManager.rawValue,
                               boxPublicKey: Array(row["box_public_key"] as Data).hexString,
                               signingPublicKey: SigningKeyPair().publicKey.bytes.hexString, wrappedKeysHash: row["wrapped_keys_hash"])
        let seq = try office.appendByHand(.staffAdded(again), as: "amina", key: amina.signingKeys)
        expectIntegrity("event \(seq) adds 'nadia', who was already added to the staff at event \(first)") { _ = try office.open("grace").cases() }
    }

    /// A signer the process already knows (an earlier check of the log met their addition)
    /// still signs nothing before it, when the log is then rewritten after the anchor and the
    /// events from the anchor on are checked again.
    @Test func anEventSignedBeforeItsSignersAdditionIsRefusedEvenWhenTheSignerIsKnown() throws {
        let office = try Office()
        try office.openCase()
        _ = try office.act("grace") { vault, _ in try vault.cases() }  // her checkpoint: the anchor
        let anchor = try office.logSize()
        let root = try office.logRoot(at: anchor)
        let amina = try office.admin()
        let key = SigningKeyPair()
        let hex = String(repeating: "ab", count: 32)
        let addition = EventData.staffAdded(StaffAdded(id: "nadia", name: "Nadia Said", role: Role.caseManager.rawValue,
                                                       boxPublicKey: hex, signingPublicKey: key.publicKey.bytes.hexString, wrappedKeysHash: hex))
        let read = EventData.contentRead(ContentRead(case: "CP-2024-0042", document: "Notes", version: 1, tier: "team", object: hex))
        let added = try office.appendByHand(addition, as: "amina", key: amina.signingKeys)
        try office.appendByHand(read, as: "nadia", key: key)
        try office.staffRowByHand("nadia", addedAt: added)
        let vault = try office.open("grace")
        _ = try vault.read { _, head in head }  // checks both events: the process now knows nadia
        // The events after the anchor rewritten: nadia signs first, her addition comes after.
        try office.sql("DELETE FROM events WHERE seq > ?", [anchor])
        let early = try office.appendByHand(read, as: "nadia", key: key)
        let late = try office.appendByHand(addition, as: "amina", key: amina.signingKeys)
        try office.sql("UPDATE staff SET added_seq = ? WHERE id = 'nadia'", [late])
        // What the process learnt of her is not taken: looked up again under the anchor, she is
        // no member yet at her first event, `early`.
        #expect(early == anchor + 1)
        expectIntegrity("'nadia' was added by no event of the log") {
            try vault.adopt(TrustAnchor(size: anchor, root: root, source: "grace's wrapped keys"))
        }
    }

    /// What a process learnt of a signer in an earlier check of the log is believed again only
    /// as the log checked now gives it: a member whose addition the rewritten log no longer
    /// holds signs nothing; one whose addition now gives another role keeps no other; one whose
    /// addition, met in the walk, now gives no valid role signs nothing.
    @Test(arguments: ["gone", "another role", "no valid role"])
    func aSignerLearntInAnEarlierCheckIsHeldToTheLogCheckedNow(rewrite: String) throws {
        let office = try Office()
        try office.openCase()
        _ = try office.act("grace") { vault, _ in try vault.cases() }  // her checkpoint: the anchor
        let anchor = try office.logSize()
        let anchorRoot = try office.logRoot(at: anchor)
        let amina = try office.admin()
        let key = SigningKeyPair()
        let hex = String(repeating: "ab", count: 32)
        func addition(_ id: String, _ role: String, _ signing: String) -> EventData {
            .staffAdded(StaffAdded(id: id, name: "Nadia Said", role: role, boxPublicKey: hex, signingPublicKey: signing, wrappedKeysHash: hex))
        }
        // First seen: nadia added as an admin.
        let added = try office.appendByHand(addition("nadia", Role.admin.rawValue, key.publicKey.bytes.hexString), as: "amina", key: amina.signingKeys)
        try office.staffRowByHand("nadia", role: .admin, addedAt: added)
        let vault = try office.open("grace")
        _ = try vault.read { _, head in head }  // the process now knows nadia, an admin
        // The events after the anchor rewritten: nadia's addition gone (another in its place),
        // or at the same place with the same key but as a case manager or as no role at all;
        // then nadia adds someone, which only an admin may sign.
        try office.sql("DELETE FROM events WHERE seq > ?", [anchor])
        let other = String(repeating: "cd", count: 32)
        let replacement = switch rewrite {
        case "gone": addition("noor", Role.caseManager.rawValue, other)
        case "another role": addition("nadia", Role.caseManager.rawValue, key.publicKey.bytes.hexString)
        default: addition("nadia", "chief", key.publicKey.bytes.hexString)
        }
        try office.appendByHand(replacement, as: "amina", key: amina.signingKeys)
        let now = try office.logRoot(at: added)
        try office.appendByHand(addition("zara", Role.caseManager.rawValue, other), as: "nadia", key: key)
        // Looked up again: no member at all, a case manager, or a member with no role.
        let message = switch rewrite {
        case "gone": "'nadia' was added by no event of the log"
        case "another role": "a case manager may not sign staff.added"
        default: "is signed by 'nadia', whose addition (event \(added)) gave no valid key and role"
        }
        expectIntegrity(message) {
            // Past the rewritten addition (looked up in the prefix), or from the old anchor (met in the walk).
            try vault.adopt(rewrite == "another role" ? TrustAnchor(size: added, root: now, source: "an anchor past it")
                                                      : TrustAnchor(size: anchor, root: anchorRoot, source: "an anchor before it"))
        }
    }

    /// The same for the admins in the chain that added a signer: an admin learnt with another
    /// key in an earlier check does not vouch for a member added with that key.
    @Test func anAdderLearntInAnEarlierCheckIsHeldToTheLogCheckedNow() throws {
        let office = try Office()
        _ = try office.act("grace") { vault, _ in try vault.cases() }  // her checkpoint: the anchor
        let amina = try office.admin()
        let rogue = SigningKeyPair(), real = SigningKeyPair(), nadia = SigningKeyPair()
        let hex = String(repeating: "ab", count: 32)
        func addition(_ id: String, _ role: Role, _ key: SigningKeyPair) -> EventData {
            .staffAdded(StaffAdded(id: id, name: id, role: role.rawValue, boxPublicKey: hex, signingPublicKey: key.publicKey.bytes.hexString, wrappedKeysHash: hex))
        }
        let anchor = try office.logSize()
        // First seen: zed, an admin, with the rogue key.
        let zed = try office.appendByHand(addition("zed", .admin, rogue), as: "amina", key: amina.signingKeys)
        try office.staffRowByHand("zed", role: .admin, addedAt: zed)
        let vault = try office.open("grace")
        _ = try vault.read { _, head in head }  // the process now knows zed by the rogue key
        // Rewritten: zed added with another key; nadia added "by zed" with the rogue key; an
        // anchor past that, as if its maker had not looked; then nadia signs.
        try office.sql("DELETE FROM events WHERE seq > ?", [anchor])
        try office.appendByHand(addition("zed", .admin, real), as: "amina", key: amina.signingKeys)
        let added = try office.appendByHand(addition("nadia", .caseManager, nadia), as: "zed", key: rogue)
        try office.staffRowByHand("nadia", addedAt: added)
        var unchecked = Vault.OpenOptions()
        unchecked.checksOnOpen = false
        let root = try Vault.open(at: office.path, options: unchecked).store.read { try CompactRange(LogNodes(reader: $0), size: added).root }
        try office.appendByHand(.contentRead(ContentRead(case: "CP-2024-0042", document: "Notes", version: 1, tier: "team", object: hex)),
                                as: "nadia", key: nadia)
        expectIntegrity("the staff.added event of 'nadia' has a bad signature") {
            try vault.adopt(TrustAnchor(size: added, root: root, source: "a careless anchor"))
        }
    }

    /// A prefix event row numbered 0 or below is in no log: the look-ups pass it by (verify
    /// reports it) rather than stop on it.
    @Test func aStaffRowNumberedZeroIsInNoLog() throws {
        let office = try Office()
        _ = try office.act("grace") { vault, _ in try vault.cases() }
        // Numbered 0 in its body too (as the row says), so that nothing but its number keeps it out.
        try office.sql("""
            INSERT INTO events SELECT 0, type, actor, at, CAST(json_set(CAST(body AS TEXT), '$.seq', 0) AS BLOB), signature, leaf_hash
            FROM events WHERE seq = 2
            """)
        try office.openCase()
        _ = try office.act("grace") { vault, _ in try vault.cases() }
        #expect(try office.verify().findings.map(\.kind) == [.eventOutOfPlace])
    }

    /// The additions and departures in the trusted prefix are proved included all at once; an
    /// altered one is still named, by the next command that looks a signer up there (here, the
    /// signer of the user's own checkpoint), whether the altered body still parses or not.
    @Test(arguments: ["json_set(CAST(body AS TEXT), '$.data.name', 'Joseph M.')", "CAST(body AS TEXT) || ' '"])
    func anAlteredAdditionInTheTrustedPrefixIsNamed(edit: String) throws {
        let office = try Office()
        try office.openCase()
        _ = try office.act("grace") { vault, _ in try vault.cases() }
        let seq: Int64 = try office.rows("""
            SELECT seq FROM events WHERE type = 'staff.added' AND json_extract(CAST(body AS TEXT), '$.data.id') = 'joseph'
            """)[0]["seq"]
        try office.sql("UPDATE events SET body = CAST(\(edit) AS BLOB) WHERE seq = ?", [seq])
        expectIntegrity("event \(seq) was altered after it was signed") { _ = try office.open("grace").cases() }
    }

    // 2. A forged version: new content encrypted and sealed to the case's real key, inserted by hand.
    @Test func attack2_aForgedVersionIsRefused() throws {
        let office = try Office()
        try office.openCase()
        try office.file("genuine")
        let vault = try office.open("grace")
        let info = try vault.latestVersions(caseNumber: "CP-2024-0042")[0]
        let caseKey = try BoxPublicKey(bytes: Array(try office.rows("SELECT team_public_key FROM cases")[0]["team_public_key"] as Data))
        let stamp = Stamp(date: info.stamp.date, caseNumber: info.caseNumber, caseStatus: .open, report: "Notes", caseManager: info.stamp.caseManager,
                          caseSupervisor: info.stamp.caseSupervisor, version: 2, filedBy: "farah", filedByName: "Farah Nasser")
        let fileKey = SecretStream.generateKey()
        let ad = vault.objectAssociatedData(caseNumber: info.caseNumber, document: "Notes", version: 2, type: "report", tier: .team, stamp: stamp)
        var forgedText = Array("forged".utf8)[...]
        let object = try vault.objects.write { sink in
            try SecretStream.encrypt(key: fileKey, associatedData: ad, read: { buffer in
                let n = min(buffer.count, forgedText.count)
                forgedText.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
                forgedText = forgedText.dropFirst(n)
                return n
            }, write: sink)
        }
        let sealed = SealedBox.seal(fileKey, to: caseKey)
        let hash = Blake2b.hash(sealed).hexString
        try office.sql("INSERT INTO blobs VALUES (?, ?)", [hash, Data(sealed)])
        try office.sql("""
            INSERT INTO versions SELECT case_number, document, 2, type, tier, ?, 6, ?, ?, ?, filed_seq, NULL, NULL, NULL, NULL, NULL, 1, NULL, NULL FROM versions
            """, [object.id.hex, object.size, hash, Data(stamp.canonicalJSON)])
        expectIntegrity("is in the catalog but not in the signed log") { _ = try office.read(version: 2) }
        try office.sql("UPDATE documents SET latest_version = 2")
        expectIntegrity("document 'Notes' of CP-2024-0042 in the catalog differs from its signed state") { _ = try office.read() }
        #expect(try office.verify().findings.map(\.kind).contains(.rowAdded))
    }

    // 3. A confidential document turned team-tier by editing rows.
    @Test func attack3_aConfidentialityDowngradeIsRefused() throws {
        let office = try Office()
        try office.openCase()
        try office.file("confidential first version", confidential: true)
        try office.sql("UPDATE versions SET tier = 'team'")
        try office.sql("UPDATE documents SET confidential = 0")
        expectIntegrity("document 'Notes' of CP-2024-0042 in the catalog differs from its signed state") { try office.file("second version") }
        // Nothing was filed: no new object, no new event.
        #expect(try office.rows("SELECT COUNT(*) FROM events WHERE type = 'version.filed'")[0][0] as Int == 1)
        #expect(try office.open("x").checkReferences().orphanObjects.isEmpty)
    }

    // 4. A case's manager or status edited: later stamps would lie.
    @Test func attack4_editedManagerOrStatusIsRefusedBeforeAnythingIsStamped() throws {
        let office = try Office()
        try office.openCase()
        try office.sql("UPDATE cases SET manager_id = 'joseph'")
        expectIntegrity("case CP-2024-0042 (or one of its grants) in the catalog differs from its signed state") { try office.file("notes") }
        try office.sql("UPDATE cases SET manager_id = 'grace', status = 'C'")
        expectIntegrity("case CP-2024-0042 (or one of its grants)") { try office.file("notes") }
        try office.sql("UPDATE cases SET status = 'O'")
        #expect(try office.file("notes").stamp.caseManager == "Grace Otieno")
    }

    // 5. The newest events deleted, or an older copy of the vault put back.
    @Test func attack5_truncationAndRollbackAreRefused() throws {
        let office = try Office()
        try office.openCase()
        let backup = try office.snapshot()
        try office.file("filed after the backup")
        #expect(try office.read() == "filed after the backup")
        let audited = try office.act("peter") { vault, peter in try vault.checkpoint(signedBy: peter) }
        let current = try office.snapshot()
        // Truncation: the read and the filing removed, with their nodes.
        let last: Int64 = try office.rows("SELECT MAX(seq) FROM events")[0][0]
        try office.sql("DELETE FROM events WHERE seq >= ?", [last - 1])
        try office.rebuildLogNodes()
        expectIntegrity("the log now has only \(last - 2) events") { _ = try office.open("grace") }
        expectIntegrity("does not extend your last checkpoint") { _ = try office.open("farah") }
        // Rollback: the backup put back.
        try office.restore(backup)
        expectIntegrity("does not extend your last checkpoint") { _ = try office.open("grace") }
        // An auditor's checkpoint, given on a machine with none, catches it too.
        expectIntegrity("does not extend the checkpoint you gave") {
            _ = try Vault.open(at: office.path, options: .init(checkpoints: nil, checkpoint: audited))
        }
        #expect(try office.verify("nobody", checkpoint: audited).findings.contains { $0.kind == .checkpointNotExtended })
        // Events removed under a process that already checked them: what it
        // checked stays checked (it does not fall back to older anchors).
        try office.restore(current)
        let running = try Vault.open(at: office.path, options: .init(checkpoints: nil))
        #expect(try running.cases().count == 1)
        try office.sql("DELETE FROM events WHERE seq >= ?", [last - 1])
        try office.rebuildLogNodes()
        expectIntegrity("the log has \(last - 2) events, fewer than the \(last) this process already checked") { _ = try running.cases() }
        expectIntegrity("fewer than the \(last) this process already checked") {
            try running.openCase(category: "CP", admitted: 2024, managerID: "grace", supervisorID: "halima",
                                 by: try running.unlock(staffID: "halima", passphrase: try office.scratch.passphrase("halima passphrase!")))
        }
    }

    // 5b. Not a removal: a snapshot opened just before another thread of
    // the same process committed is shorter than the head that thread left.
    @Test func aSnapshotOlderThanThisProcessesOwnCommitIsNotARemoval() throws {
        let office = try Office()
        try office.openCase()
        let vault = try office.open("farah")
        let farah = try vault.unlock(staffID: "farah", passphrase: try office.scratch.passphrase("farah passphrase!"))
        _ = try vault.cases()
        let input = office.scratch.file("race.txt")
        try "filed by another thread".write(toFile: input, atomically: false, encoding: .utf8)
        final class Outcome: @unchecked Sendable {
            var error: (any Error)?
            let filer: StaffIdentity
            init(_ filer: StaffIdentity) { self.filer = filer }
        }
        let outcome = Outcome(farah)
        let checked = vault.cached
        try vault.store.read { reader in
            let before = try reader.lastEventSeq()  // the snapshot is open
            let done = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                do { try vault.file(caseNumber: "CP-2024-0042", name: "Notes", type: "report", from: .file(path: input), by: outcome.filer) } catch { outcome.error = error }
                done.signal()
            }
            done.wait()
            #expect(outcome.error == nil)
            #expect(try reader.lastEventSeq() == before && vault.cached!.size == before + 1)
            // The head taken before the snapshot opened: no false alarm.
            #expect(try vault.trustedHead(in: reader, checked: checked).size == before)
            // The head as it is now would call the older snapshot a removal.
            expectIntegrity("fewer than the \(before + 1) this process already checked") {
                _ = try vault.trustedHead(in: reader, checked: vault.cached)
            }
        }
        #expect(try vault.versions(caseNumber: "CP-2024-0042", document: "Notes").count == 1)
    }

    // 6. A wrapped key from before a passphrase change, put back.
    @Test func attack6_aStaleWrappedKeyIsRefused() throws {
        let office = try Office()
        let old: String = try office.rows("SELECT wrapped_keys_hash FROM staff WHERE id = 'grace'")[0][0]
        let oldBytes: Data = try office.rows("SELECT bytes FROM blobs WHERE hash = '\(old)'")[0][0]
        try office.act("grace") { vault, grace in try vault.changePassphrase(of: grace, to: try office.scratch.passphrase("grace's new passphrase")) }
        office.passphrases["grace"] = "grace's new passphrase"
        // The old blob is gone from the catalog…
        #expect(try office.rows("SELECT COUNT(*) FROM blobs WHERE hash = '\(old)'")[0][0] as Int == 0)
        // …and put back, with the row pointing at it again: refused, not opened with the old passphrase.
        try office.sql("INSERT INTO blobs VALUES (?, ?)", [old, oldBytes])
        try office.sql("UPDATE staff SET wrapped_keys_hash = ? WHERE id = 'grace'", [old])
        expectIntegrity("staff member 'grace' in the catalog differs from its signed state") {
            _ = try office.open("grace").unlock(staffID: "grace", passphrase: try office.scratch.passphrase("grace passphrase!"))
        }
        // Or the old bytes put under the new name.
        try office.sql("UPDATE staff SET wrapped_keys_hash = (SELECT json_extract(CAST(body AS TEXT), '$.data.wrappedKeysHash') FROM events WHERE type = 'staff.passphrase-changed') WHERE id = 'grace'")
        try office.sql("UPDATE blobs SET bytes = ? WHERE hash = (SELECT wrapped_keys_hash FROM staff WHERE id = 'grace')", [oldBytes])
        expectIntegrity("does not match its signed hash") {
            _ = try office.open("grace").unlock(staffID: "grace", passphrase: try office.scratch.passphrase("grace passphrase!"))
        }
    }

    // 7. The supervisor of another case re-signs this case's opening with their own key and tier keys.
    @Test func attack7_aHijackedCaseOpeningIsRefused() throws {
        let office = try Office()
        try office.openCase()
        try office.file("before the hijack")
        let opened = try office.rows("SELECT seq, body FROM events WHERE type = 'case.opened'")[0]
        let seq: Int64 = opened["seq"]
        var body = try JSONValue(parsing: Array(opened["body"] as Data))
        guard case .object(var members) = body, case .object(var data)? = members["data"] else { Issue.record("no body"); return }
        let omarKeys = BoxKeyPair(), omarConfidential = BoxKeyPair()
        data["teamPublicKey"] = .string(omarKeys.publicKey.bytes.hexString)
        data["confidentialPublicKey"] = .string(omarConfidential.publicKey.bytes.hexString)
        members["data"] = .object(data)
        members["actor"] = .string("omar")
        body = .object(members)
        let omar = try office.open("omar").unlock(staffID: "omar", passphrase: try office.scratch.passphrase("omar passphrase!"))
        let signature = omar.signingKeys.sign(Array("casevault-event-v1\n".utf8) + body.canonicalBytes)
        try office.sql("UPDATE events SET body = ?, signature = ?, actor = 'omar' WHERE seq = ?", [Data(body.canonicalBytes), Data(signature), seq])
        try office.rebuildLogNodes()
        try office.sql("UPDATE cases SET team_public_key = ?, confidential_public_key = ?, opened_by = 'omar'",
                       [Data(omarKeys.publicKey.bytes), Data(omarConfidential.publicKey.bytes)])
        // Anyone who has seen the log since the case was opened: refused at once.
        expectIntegrity("does not extend your last checkpoint") { try office.file("after", confidential: true) }
        // Someone with no checkpoint: the case row does not match the signed state.
        let fresh = try Vault.open(at: office.path)
        let farah = try fresh.unlock(staffID: "farah", passphrase: try office.scratch.passphrase("farah passphrase!"))
        let input = office.scratch.file("after.txt")
        try "after".write(toFile: input, atomically: false, encoding: .utf8)
        expectIntegrity("case CP-2024-0042 (or one of its grants) in the catalog differs from its signed state") {
            try fresh.file(caseNumber: "CP-2024-0042", name: "Notes", type: "report", confidential: true, from: .file(path: input), by: farah)
        }
        // verify names the re-signed event as breaking the rules.
        let report = try office.verify()
        #expect(report.findings.contains { $0.kind == .ruleBroken && $0.detail.contains("only who opened CP-2024-0042 gives its grants") })
        #expect(report.findings.contains { $0.kind == .stateRootDiffers })
    }

    // 8. The trail erased or rewritten.
    @Test func attack8_anErasedOrRewrittenTrailIsCaught() throws {
        let office = try Office()
        try office.openCase()
        try office.file("v1")
        try office.file("v2")
        #expect(try office.read() == "v2")
        // The newest read deleted: the reader's checkpoint has it.
        let lastRead: Int64 = try office.rows("SELECT MAX(seq) FROM events WHERE type = 'content.read'")[0][0]
        let backup = try office.snapshot()
        try office.sql("DELETE FROM events WHERE seq = ?", [lastRead])
        try office.rebuildLogNodes()
        expectIntegrity("does not extend your last checkpoint") { _ = try office.open("grace") }
        // The read rewritten to blame another member: the signature no longer holds.
        try office.restore(backup)
        try office.sql("UPDATE events SET body = CAST(replace(CAST(body AS TEXT), '\"actor\":\"grace\"', '\"actor\":\"halima\"') AS BLOB), actor = 'halima' WHERE seq = ?", [lastRead])
        expectIntegrity("event \(lastRead)") { _ = try office.open("grace") }
        let report = try office.verify("grace")
        #expect(report.findings.contains { $0.kind == .badSignature && $0.subject == "event \(lastRead)" })
        #expect(report.findings.contains { $0.kind == .checkpointNotExtended })
        // The newest version row deleted: get does not quietly serve version 1.
        try office.restore(backup)
        try office.sql("DELETE FROM versions WHERE version = 2")
        expectIntegrity("version 2 of 'Notes' of CP-2024-0042 is in the signed log but missing from the catalog") { _ = try office.read() }
        // history and case show do not display an edited stamp.
        try office.restore(backup)
        try office.sql("UPDATE versions SET stamp = CAST(replace(CAST(stamp AS TEXT), 'Grace Otieno', 'Someone Else') AS BLOB) WHERE version = 1")
        expectIntegrity("version 1 of 'Notes' of CP-2024-0042 in the catalog differs from its signed state") {
            _ = try office.open("peter").versions(caseNumber: "CP-2024-0042", document: "Notes")
        }
        // And a sequence number is never reused: the next event follows the highest.
        try office.restore(backup)
        try office.file("v3")
        let seqs = try office.rows("SELECT seq FROM events ORDER BY seq").map { $0[0] as Int64 }
        #expect(seqs == Array(1...Int64(seqs.count)))
    }

    // 8b. An old event's body edited, its stored leaf hash and tree left as
    // they were: commands that do not re-read it are unaffected, a listing
    // of the log refuses it rather than show it.
    @Test func anEditedOldEventIsNotListed() throws {
        let office = try Office()
        try office.openCase()
        try office.file("v1")
        #expect(try office.read() == "v1")
        let read: Int64 = try office.rows("SELECT MAX(seq) FROM events WHERE type = 'content.read'")[0][0]
        try office.file("v2")
        #expect(try office.open("peter").events().count == Int(read) + 1)
        try office.sql("UPDATE events SET body = CAST(replace(CAST(body AS TEXT), '\"actor\":\"grace\"', '\"actor\":\"halima\"') AS BLOB), actor = 'halima' WHERE seq = ?", [read])
        expectIntegrity("the stored events are not the \(read + 1) of the trusted log") { _ = try office.open("peter").events() }
        #expect(try office.verify().findings.contains { $0.kind == .leafHashDiffers && $0.subject == "event \(read)" })
    }

    // 9. Crash leftovers are reported and removed.
    @Test func attack9_crashLeftoversAreReportedApartAndRemoved() throws {
        let office = try Office()
        try office.openCase()
        try office.file("kept")
        let vault = try office.open("peter")
        let orphan = try vault.objects.write { sink in try [UInt8](repeating: 7, count: 100).withUnsafeBytes { try sink($0) } }
        try Data(repeating: 1, count: 1000).write(to: URL(fileURLWithPath: vault.objects.root + "/.tmp-deadbeef"))
        var report = try vault.verify()
        #expect(report.isClean)
        #expect(Set(report.notes.map(\.kind)) == [.orphanObject, .unfinishedTempFile])
        #expect(report.notes.contains { $0.subject == "object \(orphan.id.hex)" })
        // Not while a filing runs.
        try vault.objects.withFilingLock {
            let concurrent = try Vault.open(at: office.path, options: .init(checkpoints: nil))
            #expect(throws: VaultError.io("a filing is running; run 'casevault verify --repair' again when it is done")) {
                _ = try concurrent.verify(VerifyOptions(repair: true))
            }
        }
        report = try vault.verify(VerifyOptions(repair: true))
        #expect(report.notes.filter { $0.kind == .leftoverRemoved }.count == 2)
        #expect(try vault.verify().notes.isEmpty)
        #expect(try office.read() == "kept")
    }

    // 9b. A filing that commits while verify --repair reads its snapshot is
    // not a leftover: its object stays and reads.
    @Test func repairKeepsAFilingThatCommittedDuringVerify() throws {
        let office = try Office()
        try office.openCase()
        try office.file("first")
        final class During: @unchecked Sendable {
            let office: Office
            var filed = false
            var failure: (any Error)?
            init(_ office: Office) { self.office = office }
        }
        let during = During(office)
        var options = VerifyOptions(repair: true)
        options.progress = { stage, _, _ in
            guard stage == "events", !during.filed else { return }
            during.filed = true
            do { try during.office.file("filed during verify") } catch { during.failure = error }
        }
        let report = try office.open("peter").verify(options)
        #expect(during.filed && during.failure == nil)
        #expect(report.isClean)
        // The new object was not in verify's snapshot, yet repair kept it.
        #expect(!report.notes.contains { $0.kind == .leftoverRemoved })
        #expect(try office.read() == "filed during verify")
        #expect(try office.open("peter").verify(VerifyOptions(readData: .all)).notes.isEmpty)
    }

    // More: the catalog's own state map, the checkpoint folder, a checkpoint from outside.
    @Test func aDamagedStateMapStopsDecisionsAndIsFound() throws {
        let office = try Office()
        try office.openCase()
        try office.sql("DELETE FROM state_nodes WHERE path IN (SELECT path FROM state_nodes WHERE kind = 1 AND length(path) > 2 LIMIT 3)")
        try office.sql("UPDATE state_nodes SET second = zeroblob(32) WHERE kind = 0")
        let (total, leaves): (Int, Int) = try (office.rows("SELECT COUNT(*) FROM state_nodes")[0][0] + 3,
                                               office.rows("SELECT COUNT(*) FROM state_nodes WHERE kind = 0")[0][0])
        expectIntegrity("state") { try office.file("notes") }
        let report = try office.verify()
        // Three missing and every leaf altered, of the map's nodes; none extra.
        #expect(report.findings.filter { $0.kind == .stateMapDamaged }.map(\.detail)
                == ["\(leaves + 3) of its \(total) nodes differ from the replayed map's or are missing, 0 are extra"])
    }

    // A row deleted by hand is not quietly left out of a listing or a decision.
    @Test func aDeletedStaffRowDoesNotDropAGrantFromANewCase() throws {
        let office = try Office()
        try office.sql("DELETE FROM staff WHERE id = 'dora'")
        // The project director would not have been given the team tier.
        expectIntegrity("the catalog's staff members are not as many as the signed log records") { try office.openCase() }
        expectIntegrity("staff members are not as many") { _ = try office.open("peter").staff() }
        #expect(try office.verify().findings.contains { $0.kind == .rowMissing && $0.subject == "staff dora" })
    }

    // A row deleted and another copied in its place, the copy's key stored as
    // a BLOB (or with a NUL after it): SQLite keeps both, the copy reads back
    // as the same record and passes that record's check, and the count holds.
    @Test(arguments: ["CAST(id AS BLOB)", "id || char(0)"])
    func aCopiedRowCannotStandInForADeletedOne(key: String) throws {
        let office = try Office()
        try office.openCase()
        try office.file("notes")
        try office.file("visit", name: "Home visit")
        let backup = try office.snapshot()
        try office.sql("DELETE FROM staff WHERE id = 'dora'")
        try office.sql("INSERT INTO staff SELECT \(key), name, role, box_public_key, signing_public_key, wrapped_keys_hash, added_at, added_by, added_seq, keys_seq, NULL, NULL, NULL, NULL FROM staff WHERE id = 'farah'")
        #expect(try office.rows("SELECT COUNT(*) FROM staff")[0][0] as Int == 8)
        expectIntegrity("the catalog's staff members repeat 'farah' (a row was copied by hand)") { _ = try office.open("peter").staff() }
        expectIntegrity("the catalog's staff members repeat 'farah'") { try office.openCase(client: 43) }
        #expect(try office.verify().findings.contains { $0.kind == .rowMissing && $0.subject == "staff dora" })
        try office.restore(backup)
        let documentKey = key.replacingOccurrences(of: "id", with: "name")
        try office.sql("DELETE FROM documents WHERE name = 'Home visit'")
        try office.sql("INSERT INTO documents SELECT case_number, \(documentKey), type, is_form, latest_version, confidential FROM documents WHERE name = 'Notes'")
        expectIntegrity("the catalog's documents of CP-2024-0042 repeat 'Notes'") {
            _ = try office.open("peter").latestVersions(caseNumber: "CP-2024-0042")
        }
        #expect(try office.verify().findings.contains { $0.kind == .rowMissing })
    }

    // A value of the wrong type in a column (SQLite keeps 'abc' in an INTEGER
    // column) is an integrity failure, not a crash of the process.
    @Test func aValueOfTheWrongTypeIsRefusedNotACrash() throws {
        let office = try Office()
        try office.openCase()
        try office.sql("UPDATE cases SET year = 'abc'")
        expectIntegrity("the catalog's column year holds a value of the wrong type") { _ = try office.open("peter").cases() }
        try office.sql("UPDATE events SET at = X'FF' WHERE seq = 3")
        expectIntegrity("the catalog's column at holds a value of the wrong type") { _ = try office.verify() }
    }

    @Test func aDeletedCaseRowIsFoundByListingsAndTheNextClientNumber() throws {
        let office = try Office()
        try office.openCase(client: 41)
        try office.openCase(client: 42)
        let backup = try office.snapshot()
        // The highest client number removed: the next case would take 42 again.
        try office.sql("DELETE FROM cases WHERE client_number = 42")
        expectIntegrity("the catalog's cases (how many, or the highest client number) are not what the signed log records") {
            try office.act("halima") { vault, halima in
                _ = try vault.openCase(category: "CP", admitted: 2024, managerID: "grace", supervisorID: "halima", by: halima)
            }
        }
        expectIntegrity("the catalog's cases") { _ = try office.open("peter").cases() }
        // A lower one removed: the listing still notices.
        try office.restore(backup)
        try office.sql("DELETE FROM cases WHERE client_number = 41")
        expectIntegrity("the catalog's cases") { _ = try office.open("peter").cases() }
        // With a filter the listing cannot know (documented); verify names the row.
        var open = CaseFilter()
        open.status = .open
        #expect(try office.open("peter").cases(matching: open).count == 1)
        #expect(try office.verify().findings.contains { $0.kind == .rowMissing && $0.subject == "cases CP-2024-0041" })
        // Untouched, the next case follows the highest.
        try office.restore(backup)
        let next = try office.act("halima") { vault, halima in
            try vault.openCase(category: "CP", admitted: 2024, managerID: "grace", supervisorID: "halima", by: halima).number.clientNumber
        }
        #expect(next == 43)
    }

    @Test func aDeletedDocumentOrSchemaRowIsNotLeftOutOfAListing() throws {
        let office = try Office()
        try office.openCase()
        try office.file("notes")
        try office.file("visit", name: "Home visit")
        try office.act("dora") { vault, dora in
            let schema = #"{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://programme.example/forms/test.schema.json","title":"Test","type":"object"}"#
            _ = try vault.addSchema(Array(schema.utf8), type: "casevault-test", by: dora)
        }
        #expect(try office.open("peter").formSchemas().contains { $0.type == "casevault-test" })
        try office.sql("DELETE FROM documents WHERE name = 'Home visit'")
        try office.sql("DELETE FROM schemas WHERE form_type = 'casevault-test'")
        expectIntegrity("documents of CP-2024-0042 are not as many as the signed log records") {
            _ = try office.open("peter").latestVersions(caseNumber: "CP-2024-0042")
        }
        expectIntegrity("form types are not as many as the signed log records") { _ = try office.open("peter").formSchemas() }
    }

    // A member who opens a case can leave a holder out of its grants: each
    // grant they give is allowed, so only verify's whole replay finds it.
    @Test func aCaseOpenedWithoutAGrantDueIsFoundByVerify() throws {
        let office = try Office()
        try office.act("halima") { vault, halima in
            let team = BoxKeyPair(), confidential = BoxKeyPair()
            let number = "CP-2024-0042"
            _ = try vault.write { writer, head in
                let signed = head.signedState(writer)
                var events: [EventData] = [.caseOpened(CaseOpened(
                    case: number, category: "CP", year: 2024, clientNumber: 42, status: CaseStatus.open.rawValue,
                    manager: "grace", supervisor: "halima", teamPublicKey: team.publicKey.bytes.hexString,
                    confidentialPublicKey: confidential.publicKey.bytes.hexString))]
                // Grace and Halima only: no project director, no recovery key.
                for id in ["grace", "halima"] {
                    let key = try signed.staff(id)!.boxKey
                    for (tier, keys) in [(Tier.team, team), (.confidential, confidential)] {
                        events.append(.grantGiven(GrantGiven(case: number, tier: tier.rawValue, holder: GrantHolder.staff(id),
                                                             holderPublicKey: key.bytes.hexString,
                                                             sealedKeyHash: try Ledger.putBlob(SealedBox.seal(keys.secretKey, to: key), in: writer))))
                    }
                }
                return try Ledger.append(events, by: halima, at: Date(), vaultID: vault.config.vaultId, head: &head, in: writer)
            }
        }
        // Every command accepts it: each event keeps the signing rules.
        try office.file("notes")
        #expect(try office.read() == "notes")
        let report = try office.verify()
        #expect(report.findings.count == 3)
        #expect(report.findings.allSatisfy { $0.kind == .grantMissing && $0.subject == "case CP-2024-0042" })
        #expect(Set(report.findings.map(\.detail)) == [
            "opened by 'halima' (event 10) without the team-tier grant to staff:dora",
            "opened by 'halima' (event 10) without the team-tier grant to recovery",
            "opened by 'halima' (event 10) without the confidential-tier grant to recovery",
        ])
        // A case opened by casevault has every grant due.
        let clean = try Office()
        try clean.openCase()
        #expect(try clean.verify().isClean)
    }

    // One name, two spellings: "Café" precomposed and "Cafe" + U+0301 are one document.
    @Test func documentNamesAreOneDocumentWhateverTheirUnicodeForm() throws {
        let office = try Office()
        try office.openCase()
        let composed = "Caf\u{E9} visit", decomposed = "Cafe\u{301} visit"
        #expect(Array(composed.utf8) != Array(decomposed.utf8))
        try office.file("one", name: decomposed)
        try office.file("two", name: composed)
        #expect(try office.read(decomposed) == "two")
        #expect(try office.read(composed, version: 1) == "one")
        let stored = try office.rows("SELECT name FROM documents").map { Array(($0[0] as String).utf8) }
        #expect(stored == [Array(composed.utf8)])
        #expect(try office.open("peter").versions(caseNumber: "CP-2024-0042", document: decomposed).count == 2)
        #expect(try office.verify().isClean)
    }

    // A member's own code signing a name that is not NFC is refused.
    @Test func aSignedNameNotInNFCIsRefused() throws {
        let office = try Office()
        try office.openCase()
        try office.file("one")
        try office.act("farah") { vault, farah in
            let record = try vault.store.read { try $0.event(seq: try $0.lastEventSeq()) }!
            guard case .object(let body) = try JSONValue(parsing: record.body), let data = body["data"],
                  case .versionFiled(var filed) = try EventData.decode(.versionFiled, from: data) else {
                Issue.record("not a version.filed event"); return
            }
            let name = "Cafe\u{301}"
            let stamp = filed.stamp
            filed.document = name
            filed.version = 1
            filed.stamp = Stamp(date: stamp.date, caseNumber: stamp.caseNumber, caseStatus: stamp.caseStatus, report: name,
                                caseManager: stamp.caseManager, caseSupervisor: stamp.caseSupervisor, version: 1,
                                filedBy: stamp.filedBy, filedByName: stamp.filedByName)
            expectIntegrity("the document name is not in Unicode NFC") {
                _ = try vault.write { writer, head in
                    try Ledger.append([.versionFiled(filed)], by: farah, at: Date(), vaultID: vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
    }

    @Test func aCheckpointFolderOthersCanWriteIsRefused() throws {
        let office = try Office()
        try office.act("grace") { _, _ in }
        let folder = office.checkpoints("grace").folder
        #expect(chmod(folder, 0o777) == 0)
        #expect(throws: VaultError.io("the checkpoint folder \(folder) is not private to you (it must be yours and mode 0700)")) {
            _ = try office.open("grace")
        }
    }

    @Test func aGivenCheckpointMustBeSignedByAMemberAndExtended() throws {
        let office = try Office()
        try office.openCase()
        let checkpoint = try office.act("peter") { vault, peter in try vault.checkpoint(signedBy: peter) }
        // A checkpoint's signature by a stranger is not a member's.
        let stranger = StaffIdentity(member: StaffMember(id: "peter", name: "Not Peter", role: .auditor, createdAt: Date(), createdBy: nil,
                                                         boxPublicKeyHex: "", signingPublicKeyHex: ""),
                                     boxKeys: BoxKeyPair(), signingKeys: SigningKeyPair(), isAnchored: false)
        let forged = try Checkpoint.signed(vaultID: checkpoint.origin.replacingOccurrences(of: "casevault/", with: ""), size: checkpoint.size,
                                       root: checkpoint.root, by: stranger)
        expectIntegrity("the checkpoint you gave is not signed by a member of this vault") {
            _ = try Vault.open(at: office.path, options: .init(checkpoint: forged))
        }
        #expect(try Vault.open(at: office.path, options: .init(checkpoint: checkpoint)).cases().count == 1)
        // verify, which opens without refusing, checks the signature too.
        #expect(try office.verify(checkpoint: checkpoint).isClean)
        let report0 = try office.verify(checkpoint: forged)
        #expect(report0.findings.map(\.kind) == [.checkpointNotSigned])
        #expect(report0.findings.first?.subject == "the checkpoint given")
        // The log truncated below the auditor's checkpoint: refused, and verify says so.
        let last: Int64 = try office.rows("SELECT MAX(seq) FROM events")[0][0]
        try office.sql("DELETE FROM events WHERE seq = ?", [last])
        try office.rebuildLogNodes()
        expectIntegrity("does not extend the checkpoint you gave") { _ = try Vault.open(at: office.path, options: .init(checkpoint: checkpoint)) }
        let report = try office.verify(checkpoint: checkpoint)
        #expect(report.findings.contains { $0.kind == .checkpointNotExtended && $0.subject == "the checkpoint given" })
    }

    @Test func aMemberAddedLaterCannotSignACheckpointOfEarlierEvents() throws {
        let office = try Office()
        try office.openCase()
        let checkpoint = try office.act("peter") { vault, peter in try vault.checkpoint(signedBy: peter) }
        let late = try office.act("amina") { vault, amina -> Checkpoint in
            try vault.addStaff(id: "lena", name: "Lena Late", role: .auditor, passphrase: try office.scratch.passphrase("lena passphrase!"), by: amina)
            let lena = try vault.unlock(staffID: "lena", passphrase: try office.scratch.passphrase("lena passphrase!"))
            return try Checkpoint.signed(vaultID: vault.config.vaultId, size: checkpoint.size, root: checkpoint.root, by: lena)
        }
        expectIntegrity("the checkpoint you gave is not signed by a member of this vault") {
            _ = try Vault.open(at: office.path, options: .init(checkpoint: late))
        }
        #expect(try office.verify(checkpoint: late).findings.map(\.kind) == [.checkpointNotSigned])
        #expect(try office.verify(checkpoint: checkpoint).isClean)
    }
}

/// What a process verified stays verified: a row edited while a process
/// runs is neither believed by it (it remembers the record the signed
/// state holds, by that state's hash) nor, by the next process, accepted.
@Suite struct VerifiedMemoryTests {
    @Test func aRowEditedDuringARunIsNotBelievedAndTheNextRunRefusesIt() throws {
        let p = try Programme()
        try p.openCase()
        #expect(try p.file(Array("one".utf8)).stamp.caseManager == "Grace Otieno")
        // Edited behind this process's back (not through `attack`, which
        // models a new process).
        let queue = try DatabaseQueue(path: p.vault.path + "/" + Vault.catalogFileName)
        try queue.write { try $0.execute(sql: "UPDATE staff SET name = 'Mallory' WHERE id = 'grace'") }
        try queue.close()
        #expect(try p.file(Array("two".utf8)).stamp.caseManager == "Grace Otieno")
        p.vault.forgetVerified()
        expectIntegrity("staff member 'grace'") { _ = try p.file(Array("three".utf8)) }
    }
}

/// Filing encrypts outside the write lock: a version of the same document
/// committed meanwhile makes it encrypt again, against the new state.
@Suite struct FilingConflictTests {
    @Test func aFilingOvertakenOnItsDocumentEncryptsAgainAsTheNextVersion() throws {
        let office = try Office()
        try office.openCase()
        let vault = try office.open("farah")
        let farah = try vault.unlock(staffID: "farah", passphrase: try office.scratch.passphrase("farah passphrase!"))
        let text = Array(String(repeating: "slow upload ", count: 20_000).utf8)
        var offset = 0, passes = 0, overtaken = false
        let source = FilingSource(read: { buffer in
            if offset == 0 { passes += 1 }
            if !overtaken && offset > 100_000 {
                // Someone else files version 1 of the same document meanwhile.
                overtaken = true
                try office.file("the quick one")
            }
            let n = min(buffer.count, text.count - offset)
            text.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            offset += n
            return n
        }, rewind: { offset = 0; return true })
        let filed = try vault.fileStream(caseNumber: "CP-2024-0042", name: "Notes", type: "report", confidential: false, schema: nil,
                                         by: farah, now: nil, timeZone: .current, source: source)
        #expect(passes == 2)
        #expect(filed.version == 2 && filed.stamp.version == 2)
        #expect(try office.read(version: 2) == String(decoding: text, as: UTF8.self))
        #expect(try office.read(version: 1) == "the quick one")
        // The first attempt's object was removed.
        #expect(try vault.checkReferences().orphanObjects.isEmpty)
        #expect(try office.verify().isClean)
    }

    /// The same from a file, as `file` reads one: ahead, on a second thread,
    /// into wiped memory. Redone, the filing reads the file again from its
    /// first byte, though the thread had read ahead past where it stopped.
    @Test func aFilingFromAFileOvertakenReadsTheFileAgainFromItsStart() throws {
        let office = try Office()
        try office.openCase()
        let vault = try office.open("farah")
        let farah = try vault.unlock(staffID: "farah", passphrase: try office.scratch.passphrase("farah passphrase!"))
        let text = (0..<(3 << 20) + 123).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        let path = office.scratch.file("upload.bin")
        try Data(text).write(to: URL(fileURLWithPath: path))
        let reader = ReadAhead(fd: try FileSystem.openForReading(path), direct: false, blocks: 2, blockSize: 256 << 10, secret: true)
        var rewinds = 0, overtaken = false
        let source = FilingSource(read: reader.read(into:), rewind: { rewinds += 1; return reader.rewind() }, originalPath: path)
        let filed = try vault.fileStream(caseNumber: "CP-2024-0042", name: "Notes", type: "report", confidential: false, schema: nil,
                                         by: farah, now: nil, timeZone: .current, source: source, beforeCommit: { _, _ in
            if !overtaken {
                overtaken = true
                try office.file("the quick one")
            }
        })
        #expect(rewinds == 1 && filed.version == 2 && filed.size == Int64(text.count))
        var read: [UInt8] = []
        let grace = try vault.unlock(staffID: "grace", passphrase: try office.scratch.passphrase("grace passphrase!"))
        try vault.read(caseNumber: "CP-2024-0042", document: "Notes", version: 2, by: grace) { read.append(contentsOf: $0) }
        #expect(read == text)
        #expect(try vault.checkReferences().orphanObjects.isEmpty)
        #expect(try office.verify().isClean)
    }
}
