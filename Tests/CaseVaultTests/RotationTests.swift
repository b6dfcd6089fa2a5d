@testable import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation
import GRDB
import Testing

/// Issue 10, item 3: key generations, rotation, revocation, departures.
/// Each test holds the vault to what an attacker would try: a copy of a
/// departed member's unwrapped keys, an event signed by hand, a row edited.
@Suite struct RotationTests {
    static let number = "CP-2024-0042"

    /// CP-2024-0042 (grace, halima; dora holds the team tier as project
    /// director) with a team form in two versions and a confidential photo.
    static func scene(format: Int = VaultConfig.currentFormatVersion, eventFormat: Int? = nil) throws -> Programme {
        let p = try Programme(format: format, eventFormat: eventFormat)
        try p.openCase()
        try p.file(Array("intake 1".utf8))
        try p.file(Array("intake 2".utf8))
        try p.file(Array("photo".utf8), name: "Photo", type: "photo")
        return p
    }

    /// The tier secret keys a member's box key opens from the blobs of the
    /// live vault (as a copy of their unwrapped keys would, outside casevault).
    static func tierSecrets(_ p: Programme, _ number: String, with keys: BoxKeyPair) throws -> [BoxKeyPair] {
        let grants = try p.vault.store.read { try $0.grants(caseNumber: number) }
        return try grants.compactMap { grant in
            guard let sealed = try p.vault.store.read({ try $0.blob(hash: grant.sealedKeyHash) }),
                  let secret = try? SealedBox.open(sealed, with: keys) else { return nil }
            return try BoxKeyPair(secretKey: secret)
        }
    }

    /// A project director starts handing `number`'s supervision from halima
    /// to omar, with its form drafted and completed.
    static func startSupervisorHandover(of number: String, in office: Office) throws -> [HandoverStart] {
        try office.act("dora") { vault, me in
            let drafts = try vault.handoverDrafts(from: "halima", to: "omar", cases: [number])
            return try vault.startHandover(from: "halima", to: "omar", cases: [number],
                                           drafts: Dictionary(uniqueKeysWithValues: drafts.map { ($0.caseNumber, completedHandoverDraft($0.form)) }),
                                           by: me)
        }
    }

    /// The team tier's rotation from generation 1 to 2, signed by hand: a
    /// fresh key sealed to every holder of generation 1 but `removed`.
    static func teamRotationByHand(_ number: String, removing removed: String, in writer: any CatalogWriter, head: TrustedHead) throws -> EventData {
        let state = try head.signedState(writer).existingCase(number)
        let fresh = BoxKeyPair()
        let holders = try state.grants.filter { $0.tier == "team" && $0.generation == 1 && $0.holder != removed }
            .sorted { $0.holder.utf8.lexicographicallyPrecedes($1.holder.utf8) }
            .map { grant in
                let sealed = SealedBox.seal(fresh.secretKey, to: try BoxPublicKey(bytes: [UInt8](hexString: grant.holderPublicKey)!))
                return KeyRotated.Holder(holder: grant.holder, holderPublicKey: grant.holderPublicKey, sealedKeyHash: try Ledger.putBlob(sealed, in: writer))
            }
        return .keyRotated(KeyRotated(case: number, tier: "team", generation: 2, publicKey: fresh.publicKey.bytes.hexString,
                                      holders: holders, removed: [removed], versions: [], reason: "by hand"))
    }

    /// Whether any of `tierKeys` opens the sealed file key of a version.
    static func opens(_ p: Programme, _ number: String, _ document: String, version: Int, with tierKeys: [BoxKeyPair]) throws -> Bool {
        let record = try #require(try p.vault.store.read { try $0.version(caseNumber: number, document: document, version: version) })
        let sealed = try #require(try p.vault.store.read { try $0.blob(hash: record.sealedFileKeyHash) })
        return tierKeys.contains { (try? SealedBox.open(sealed, with: $0)) != nil }
    }

    @Test func revokingAMemberRotatesTheTierAndWhatIsFiledAfterIsOutOfTheirReach() throws {
        let p = try Self.scene()
        try p.vault.grantAccess(to: "joseph", case: Self.number, tier: .team, reason: "covering for grace", by: p["halima"])
        #expect(try p.read(by: "joseph") == Array("intake 2".utf8))
        // What joseph could carry away: his unwrapped keys and the tier key they open.
        let josephKeys = try BoxKeyPair(secretKey: p["joseph"].boxKeys.secretKey)
        let stolen = try Self.tierSecrets(p, Self.number, with: josephKeys)
        #expect(stolen.count == 1)
        let sealedBefore = try p.vault.store.read { try $0.grants(caseNumber: Self.number) }.filter { $0.tier == "team" }.map(\.sealedKeyHash)

        let outcomes = try p.vault.revokeAccess(from: "joseph", case: Self.number, reason: "cover ended", by: p["halima"])
        #expect(outcomes.map { "\($0.tier) \($0.generation) \($0.removed) \($0.resealed) \($0.awaitsResealing)" }
                == ["team 2 [\"staff:joseph\"] 2 false"])
        // joseph is refused; every other holder reads every version.
        #expect(throws: VaultError.self) { _ = try p.read(by: "joseph") }
        for reader in ["grace", "halima", "dora"] {
            #expect(try p.read(version: 1, by: reader) == Array("intake 1".utf8))
            #expect(try p.read(by: reader) == Array("intake 2".utf8))
        }
        #expect(try p.read(Self.number, "Photo", by: "grace") == Array("photo".utf8))
        // The old copies are gone from the vault; the new key is not his.
        let blobs = try p.vault.store.read { reader in sealedBefore.filter { (try? reader.blob(hash: $0)) != nil } }
        #expect(blobs.isEmpty)
        #expect(try Self.tierSecrets(p, Self.number, with: josephKeys).isEmpty)
        // A version filed now opens with no key he took; the old key opens nothing in the vault.
        try p.file(Array("intake 3".utf8))
        #expect(try !Self.opens(p, Self.number, "Intake form", version: 3, with: stolen))
        #expect(try !Self.opens(p, Self.number, "Intake form", version: 1, with: stolen))
        #expect(try p.read(by: "dora") == Array("intake 3".utf8))
        // The recovery key reads everything.
        let recovery = try DisposalTests().recoveryKeys(p)
        let recovered = try Self.tierSecrets(p, Self.number, with: recovery)
        for version in 1...3 { #expect(try Self.opens(p, Self.number, "Intake form", version: version, with: recovered)) }
        #expect(Set(try p.vault.holders(of: Self.number).filter { $0.tier == .team }.map(\.holder))
                == ["staff:grace", "staff:halima", "staff:dora", "recovery"])
        #expect(try p.vault.verify(VerifyOptions(readData: .all)).isClean)
    }

    /// The departure of the last member of the staff who holds a tier is
    /// refused, with nothing signed: afterwards only the recovery key (or,
    /// in a vault without one, no one) would open the case's documents. A
    /// review recorded a supervisor's departure, then the manager's, and
    /// was left with a case whose tiers no one on the staff held.
    @Test func theLastStaffHolderOfATierLeavesOnlyWhenTold() throws {
        let p = try Self.scene()
        for tier in Tier.allCases { try p.vault.grantAccess(to: "joseph", case: "CP-2024-0042", tier: tier, reason: "cover", by: p["halima"]) }
        // While another member holds each tier, departures are recorded.
        #expect(try p.vault.recordDeparture(of: "halima", reason: "left", by: p["amina"]).recorded)
        #expect(try p.vault.recordDeparture(of: "grace", reason: "left", by: p["amina"]).recorded)
        #expect(try p.read(by: "joseph") == Array("intake 2".utf8))
        // joseph is the last to hold the confidential tier (dora holds the team tier).
        let before = try p.vault.events().count
        #expect(throws: VaultError.invalidInput("'joseph' is the last member of the staff who holds the confidential tier of CP-2024-0042: after the departure only the recovery key, if this vault has one, would open it. Have a holder grant each to a member who stays first (casevault case grant NUMBER --tier TIER --member ID --reason …), or hand the cases over (casevault handover start); or give --allow-unheld to record the departure anyway")) {
            _ = try p.vault.recordDeparture(of: "joseph", reason: "left", by: p["amina"])
        }
        #expect(try p.vault.events().count == before)
        #expect(try p.vault.recordDeparture(of: "joseph", reason: "left", allowUnheld: true, by: p["amina"]).recorded)
        #expect(try p.vault.verify().isClean)
    }

    @Test func aDepartedProjectDirectorsTeamTiersRotateAndTheirOldKeysOpenNothingNew() throws {
        let p = try Self.scene()
        try p.openCase(client: 43)
        try p.file(Array("other intake".utf8), into: "CP-2024-0043")
        let doraKeys = try BoxKeyPair(secretKey: p["dora"].boxKeys.secretKey)
        let stolen = try ["CP-2024-0042", "CP-2024-0043"].flatMap { try Self.tierSecrets(p, $0, with: doraKeys) }
        #expect(stolen.count == 2)

        let report = try p.vault.recordDeparture(of: "dora", reason: "end of contract", by: p["amina"])
        #expect(report.recorded && report.casesStillNamingThem.isEmpty)
        // The admin holds no tier: the keys rotate, the re-sealing waits for a holder.
        #expect(report.rotations.map { "\($0.caseNumber) \($0.tier) \($0.awaitsResealing)" }
                == ["CP-2024-0042 team true", "CP-2024-0043 team true"])
        #expect(throws: VaultError.self) { _ = try p.vault.unlock(staffID: "dora", passphrase: try p.scratch.passphrase("dora passphrase!")) }
        expectIntegrity("left the staff") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.tagAdded(CaseTagged(case: Self.number, tag: "late"))], by: p["dora"], at: Date(),
                                  vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        // Filed after: out of reach of every key she had. Before: still read by the others.
        try p.file(Array("intake 3".utf8))
        #expect(try !Self.opens(p, Self.number, "Intake form", version: 3, with: stolen))
        for reader in ["grace", "halima"] {
            #expect(try p.read(version: 1, by: reader) == Array("intake 1".utf8))
            #expect(try p.read(by: reader) == Array("intake 3".utf8))
        }
        #expect(try p.vault.keyGenerations(of: Self.number).map { "\($0.tier) \($0.generation) \($0.awaitingResealing)" }
                == ["team 2 [1]", "confidential 1 []"])
        #expect(try p.vault.verify().isClean)

        // The supervisor finishes: every version under the new key, the old ones erased.
        let finished = try p.vault.finishPendingRotations(reason: "after dora left", by: p["halima"])
        #expect(finished.map { "\($0.caseNumber) \($0.tier) \($0.generation) \($0.resealed)" }
                == ["CP-2024-0042 team 3 3", "CP-2024-0043 team 3 1"])
        #expect(try p.vault.keyGenerations(of: Self.number).map { "\($0.tier) \($0.generation) \($0.awaitingResealing)" }
                == ["team 3 []", "confidential 1 []"])
        for version in 1...3 { #expect(try !Self.opens(p, Self.number, "Intake form", version: version, with: stolen)) }
        #expect(try p.read(version: 1, by: "grace") == Array("intake 1".utf8))
        #expect(try p.read("CP-2024-0043", "Intake form", by: "halima") == Array("other intake".utf8))
        #expect(try p.vault.store.read { try $0.grants(caseNumber: Self.number) }.allSatisfy { $0.generation == 3 || $0.tier == "confidential" })
        #expect(try p.vault.finishPendingRotations(reason: "again", by: p["halima"]).isEmpty)
        #expect(try p.vault.verify(VerifyOptions(readData: .all)).isClean)
        // A new case no longer seals to her.
        try p.openCase(client: 44)
        #expect(try !p.vault.holders(of: "CP-2024-0044").contains { $0.holder == "staff:dora" })
    }

    @Test func nothingIsFiledIntoATierADepartedMemberStillHoldsUntilItRotates() throws {
        let p = try Self.scene()
        // The departure signed alone, as a run killed right after it leaves it.
        _ = try p.vault.write { writer, head in
            try Ledger.append([.staffLeft(StaffLeft(id: "dora", reason: "left"))], by: p["amina"], at: Date(),
                              vaultID: p.vault.config.vaultId, head: &head, in: writer)
        }
        #expect { try p.file(Array("intake 3".utf8)) } throws: { error in
            guard case VaultError.accessDenied(let message) = error else { return false }
            return message.contains("still sealed to 'dora'")
        }
        // The confidential tier, which she never held, takes filings.
        try p.file(Array("photo 2".utf8), name: "Photo", type: "photo")
        // Signed by hand, the filing is refused by the projection too.
        let earlier = try DisposalTests().forgedFiling(into: Self.number, p)
        let s = earlier.stamp
        var data = earlier
        data.version = 3
        let now = Date()
        data.stamp = Stamp(date: Stamp.dateString(now, in: .gmt), caseNumber: s.caseNumber, caseStatus: s.caseStatus, report: s.report, caseManager: s.caseManager,
                           caseSupervisor: s.caseSupervisor, version: 3, filedBy: s.filedBy, filedByName: s.filedByName)
        expectIntegrity("rotate it first") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.versionFiled(data)], by: p["farah"], at: now, vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        // Running the departure again finishes it.
        let report = try p.vault.recordDeparture(of: "dora", reason: "left", by: p["amina"])
        #expect(!report.recorded && report.rotations.count == 1)
        try p.file(Array("intake 3".utf8))
        #expect(try p.read(by: "grace") == Array("intake 3".utf8))
        #expect(try p.vault.verify().isClean)
    }

    @Test func grantsAreGivenByHoldersToWhoMayHoldAndFoldOlderGenerationsFirst() throws {
        let p = try Self.scene()
        // The confidential tier is never a project director's; records officers hold nothing.
        #expect(throws: VaultError.self) { try p.vault.grantAccess(to: "dora", case: Self.number, tier: .confidential, reason: "x", by: p["halima"]) }
        #expect(throws: VaultError.self) { try p.vault.grantAccess(to: "farah", case: Self.number, tier: .team, reason: "x", by: p["halima"]) }
        // A director cannot give a tier she does not hold.
        #expect(throws: VaultError.self) { try p.vault.grantAccess(to: "joseph", case: Self.number, tier: .confidential, reason: "x", by: p["dora"]) }
        #expect(throws: VaultError.self) { try p.vault.grantAccess(to: "joseph", case: Self.number, tier: .team, reason: "x", by: p["grace"]) }
        // An admin rotates only to remove who left: not routinely, not to revoke.
        #expect(throws: VaultError.self) { _ = try p.vault.rotateKeys(case: Self.number, reason: "routine", by: p["amina"]) }
        try p.vault.grantAccess(to: "joseph", case: Self.number, tier: .team, reason: "covering", by: p["dora"])
        #expect(throws: VaultError.self) { _ = try p.vault.revokeAccess(from: "joseph", case: Self.number, reason: "x", by: p["amina"]) }
        #expect(throws: VaultError.self) { try p.vault.grantAccess(to: "joseph", case: Self.number, tier: .team, reason: "x", by: p["dora"]) }
        // After the admin's rotation for a departure, a grant re-seals first, so it opens every version.
        _ = try p.vault.recordDeparture(of: "joseph", reason: "left", by: p["amina"])
        #expect(try p.vault.keyGenerations(of: Self.number).first?.awaitingResealing == [1])
        try p.vault.addStaff(id: "ines", name: "Ines Mbeki", role: .caseManager, passphrase: try p.scratch.passphrase("ines passphrase!"), by: p["amina"])
        let ines = try p.vault.unlock(staffID: "ines", passphrase: try p.scratch.passphrase("ines passphrase!"))
        try p.vault.grantAccess(to: "ines", case: Self.number, tier: .team, reason: "covering", by: p["dora"])
        #expect(try p.vault.keyGenerations(of: Self.number).first.map { "\($0.generation) \($0.awaitingResealing)" } == "3 []")
        var out: [UInt8] = []
        try p.vault.read(caseNumber: Self.number, document: "Intake form", version: 1, by: ines) { out.append(contentsOf: $0) }
        #expect(out == Array("intake 1".utf8))
        // The manager is handed over, not revoked.
        #expect(throws: VaultError.self) { _ = try p.vault.revokeAccess(from: "grace", case: Self.number, reason: "x", by: p["halima"]) }
        #expect(try p.vault.verify(VerifyOptions(readData: .all)).isClean)
    }

    @Test func rotationsGrantsAndDeparturesSignedByHandAgainstTheRulesAreRefused() throws {
        let p = try Self.scene()
        let state = try p.vault.read { reader, head in try head.signedState(reader).existingCase(Self.number) }
        let fresh = BoxKeyPair()
        func holder(_ h: String) throws -> KeyRotated.Holder {
            let key = h == "recovery" ? try #require(state.grants.first { $0.holder == "recovery" }).holderPublicKey
                                      : p[String(h.dropFirst(6))].member.boxPublicKeyHex
            let sealed = SealedBox.seal(fresh.secretKey, to: try BoxPublicKey(bytes: [UInt8](hexString: key)!))
            let hash = try p.vault.write { writer, _ in try Ledger.putBlob(sealed, in: writer) }
            return KeyRotated.Holder(holder: h, holderPublicKey: key, sealedKeyHash: hash)
        }
        let team = try ["recovery", "staff:dora", "staff:grace", "staff:halima"].map(holder)
        func rotated(generation: Int = 2, holders: [KeyRotated.Holder]? = nil, removed: [String] = [],
                     versions: [KeyRotated.Resealed] = [], tier: String = "team") -> EventData {
            .keyRotated(KeyRotated(case: Self.number, tier: tier, generation: generation, publicKey: fresh.publicKey.bytes.hexString,
                                   holders: holders ?? team, removed: removed, versions: versions, reason: "forged"))
        }
        let wrongKey = KeyRotated.Holder(holder: "staff:grace", holderPublicKey: p["joseph"].member.boxPublicKeyHex,
                                         sealedKeyHash: team[2].sealedKeyHash)
        let granted = { (tier: String, holder: String) in
            EventData.accessGranted(AccessGranted(case: Self.number, tier: tier, holder: holder,
                                                  holderPublicKey: p[String(holder.dropFirst(6))].member.boxPublicKeyHex,
                                                  sealedKeyHash: String(repeating: "cd", count: 32), reason: "forged"))
        }
        let forged: [(String, EventData, String)] = [
            ("grace", rotated(), "a case manager rotates keys only of their own case, once its supervisor has left the staff"),
            ("farah", rotated(), "a records officer may not sign"),
            ("halima", rotated(generation: 3), "generation 3 does not follow 1"),
            ("halima", rotated(holders: Array(team.dropFirst())), "exactly the holders who keep the tier"),
            ("halima", rotated(holders: [team[0], team[1], team[3]], removed: ["staff:grace"]), "manager and supervisor keep"),
            ("halima", rotated(holders: Array(team.dropFirst()), removed: ["recovery"]), "the recovery key keeps every tier"),
            ("halima", rotated(holders: [team[0], team[1], wrongKey, team[3]]), "not sealed to their public key"),
            ("halima", rotated(removed: ["staff:joseph"]), "must be holders of the tier now"),
            // Whoever signs a rotation makes its key: dora cannot rotate herself out and keep it.
            ("dora", rotated(holders: [team[0], team[2], team[3]], removed: ["staff:dora"]), "never signed by a holder it removes"),
            ("halima", rotated(versions: [KeyRotated.Resealed(document: "Intake form", version: 1, sealedFileKeyHash: String(repeating: "ef", count: 32))]),
             "every version of the tier"),
            ("amina", rotated(versions: ["Intake form"].flatMap { d in (1...2).map { KeyRotated.Resealed(document: d, version: $0,
                                                                                                          sealedFileKeyHash: String(repeating: "e\($0)", count: 32)) } }),
             "only a holder of the team tier rotates it"),
            ("farah", granted("team", "staff:joseph"), "a records officer may not sign case.access-granted"),
            ("dora", granted("confidential", "staff:joseph"), "does not hold the confidential tier"),
            ("halima", granted("confidential", "staff:dora"), "a project director may not hold the confidential tier"),
            ("halima", granted("team", "staff:farah"), "may not hold the team tier"),
            ("halima", granted("team", "staff:grace"), "already holds"),
            ("halima", .staffLeft(StaffLeft(id: "dora", reason: "x")), "a case supervisor may not sign staff.left"),
            ("amina", .staffLeft(StaffLeft(id: "amina", reason: "x")), "recorded by another admin"),
            ("amina", .staffLeft(StaffLeft(id: "nobody", reason: "x")), "no staff member"),
        ]
        for (id, data, fragment) in forged {
            expectIntegrity(fragment) {
                _ = try p.vault.write { writer, head in
                    try Ledger.append([data], by: p[id], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
        // Once dora left, a rotation must drop her, and she is granted nothing.
        _ = try p.vault.write { writer, head in
            try Ledger.append([.staffLeft(StaffLeft(id: "dora", reason: "left"))], by: p["amina"], at: Date(),
                              vaultID: p.vault.config.vaultId, head: &head, in: writer)
        }
        for (data, fragment) in [(rotated(), "the rotation must remove them"), (granted("team", "staff:dora"), "left the staff"),
                                 (.staffLeft(StaffLeft(id: "dora", reason: "x")), "already left")] {
            expectIntegrity(fragment) {
                _ = try p.vault.write { writer, head in
                    try Ledger.append([data], by: p[data.type == .staffLeft ? "amina" : "halima"], at: Date(),
                                      vaultID: p.vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
        #expect(try p.vault.verify().isClean)
    }

    @Test func rotatedRowsEditedByHandAreCaught() throws {
        let p = try Self.scene()
        _ = try p.vault.recordDeparture(of: "dora", reason: "left", by: p["amina"])
        // A generation put back to 1 (to make an old sealed key count again), a grant of an old generation deleted.
        try p.tamper("UPDATE versions SET key_generation = 2 WHERE document = 'Intake form' AND version = 1")
        expectIntegrity("differs from its signed state") { _ = try p.read(version: 1, by: "grace") }
        #expect(try p.vault.verify().findings.contains { $0.kind == .rowChanged && $0.subject.contains("versions") })
        try p.tamper("UPDATE versions SET key_generation = 1 WHERE document = 'Intake form' AND version = 1")
        try p.tamper("DELETE FROM grants WHERE holder = 'staff:grace' AND generation = 1")
        expectIntegrity("differs from its signed state") { _ = try p.read(version: 1, by: "grace") }
        #expect(try p.vault.verify().findings.contains { $0.kind == .rowMissing && $0.subject.contains("grants") })
        try p.tamper("UPDATE cases SET key_generations = NULL")
        #expect(try p.vault.verify().findings.contains { $0.kind == .rowChanged && $0.subject.contains("cases") })
    }

    /// Someone who left keeps their signing key and can still write the
    /// folder: an event they sign and put in the log themselves (bypassing
    /// casevault) is refused by the next command that meets it, whether it
    /// catches up from its checkpoint or starts fresh.
    @Test func anEventADepartedMemberWritesIntoTheLogIsRefused() throws {
        let p = try Self.scene()
        _ = try p.vault.recordDeparture(of: "dora", reason: "left", by: p["amina"])
        let vaultID = p.vault.config.vaultId
        _ = try p.vault.store.write { writer in
            let last = try writer.lastEventSeq()
            let root = try Event(body: try #require(try writer.event(seq: last)).body).stateRoot
            let event = Event(format: Event.currentFormat, seq: last + 1, vault: vaultID, at: Timestamp.string(from: Date()), actor: "dora",
                              data: .tagAdded(CaseTagged(case: Self.number, tag: "forged")), stateRoot: root)
            let body = try event.body()
            let signature = p["dora"].signingKeys.sign(Event.signedMessage(body: body))
            let leaf = LogTree.leafHash(body: body, signature: signature)
            try writer.appendEvent(EventRecord(seq: event.seq, type: event.type.rawValue, actor: "dora", at: event.at, body: body,
                                               signature: signature, leafHash: leaf))
            var range = try CompactRange(LogNodes(reader: writer), size: last)
            for node in range.append(leaf: leaf) { try writer.putLogNode(level: node.level, index: node.index, hash: node.hash) }
        }
        expectIntegrity("who left the staff at event") { _ = try p.vault.caseFile(Self.number) }
        expectIntegrity("who left the staff at event") { _ = try Vault.open(at: p.vault.path).caseFile(Self.number) }
        #expect(try !p.vault.verify().isClean)
    }

    /// A hand-signed grant or rotation naming another record's sealed key
    /// would get that key erased by a later revocation: refused as it is signed.
    @Test func aSealedKeyAnotherRecordNamesCannotBeNamedAgain() throws {
        let p = try Self.scene()
        try p.openCase(client: 43)
        try p.file(Array("other".utf8), into: "CP-2024-0043")
        let other = try #require(try p.vault.store.read { try $0.version(caseNumber: "CP-2024-0043", document: "Intake form", version: 1) })
        let granted = EventData.accessGranted(AccessGranted(case: Self.number, tier: "team", holder: "staff:joseph",
                                                            holderPublicKey: p["joseph"].member.boxPublicKeyHex,
                                                            sealedKeyHash: other.sealedFileKeyHash, reason: "forged"))
        expectIntegrity("names a blob another record names") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([granted], by: p["halima"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        let wrapped = try #require(try p.vault.store.read { try $0.staff(id: "grace") }).wrappedKeysHash
        let grant = EventData.grantGiven(GrantGiven(case: "CP-2024-0043", tier: "team", holder: "staff:joseph",
                                                    holderPublicKey: p["joseph"].member.boxPublicKeyHex, sealedKeyHash: wrapped))
        expectIntegrity("names a blob another record names") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([grant], by: p["halima"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        #expect(try p.read("CP-2024-0043", "Intake form", by: "grace") == Array("other".utf8))
    }

    /// A checkpoint signed by a member who had left by its size anchors nothing.
    @Test func aCheckpointSignedAfterItsSignerLeftIsNotAMembers() throws {
        let p = try Self.scene()
        _ = try p.vault.recordDeparture(of: "dora", reason: "left", by: p["amina"])
        let real = try p.vault.checkpoint(signedBy: p["halima"])
        let byDora = try Checkpoint.signed(vaultID: p.vault.config.vaultId, size: real.size, root: real.root, by: p["dora"])
        expectIntegrity("is not signed by a member of this vault") { _ = try Vault.open(at: p.vault.path, options: .init(checkpoint: byDora)) }
        #expect(try Vault.open(at: p.vault.path, options: .init(checkpoint: real)).cases().count == 1)
    }

    /// A member who could rotate themselves out would make the new key and
    /// leave knowing it: a project director revoking her own access before
    /// she leaves, or a supervisor completing their own handover. Signed by
    /// hand in format 2 (which predates the rule) after format-3 events, the
    /// rotation is refused by every member's next command and by verify.
    @Test func noOneRotatesThemselvesOutOfATierNorSignsAnOlderFormatToEscapeTheRule() throws {
        let office = try Office()
        let number = try office.openCase()
        #expect { try office.act("dora") { vault, me in _ = try vault.revokeAccess(from: "dora", case: number, reason: "leaving soon", by: me) } }
            throws: { error in
                guard case VaultError.accessDenied(let message) = error else { return false }
                return message.contains("cannot rotate themselves out")
            }
        try office.act("dora") { vault, me in
            _ = try vault.write { writer, head in
                try Ledger.append([try Self.teamRotationByHand(number, removing: "staff:dora", in: writer, head: head)], by: me, at: Date(),
                                  vaultID: vault.config.vaultId, head: &head, in: writer, format: 2)
            }
        }
        expectIntegrity("format 2 after format 5") { try office.act("halima") { vault, _ in _ = try vault.caseFile(number) } }
        let report = try office.open("peter").verify(VerifyOptions())
        #expect(report.findings.contains { $0.detail.contains("format 2 after format 5") }, "\(report.findings)")
    }

    /// A supervisor's own handover: the incoming supervisor completes it
    /// (the outgoing one is refused, as they would make the new keys), and
    /// afterwards the outgoing supervisor's keys open nothing filed.
    @Test func aSupervisorsHandoverIsCompletedByTheIncomingSupervisor() throws {
        let office = try Office()
        let number = try office.openCase()
        try office.file("before the handover")
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let after = start.addingTimeInterval(100 * 86_400)
        try office.act("halima") { vault, me in
            let drafts = try vault.handoverDrafts(from: "halima", to: "omar", cases: [number], now: start)
            _ = try vault.startHandover(from: "halima", to: "omar", cases: [number],
                                       drafts: Dictionary(uniqueKeysWithValues: drafts.map { ($0.caseNumber, completedHandoverDraft($0.form)) }),
                                       by: me, now: start)
        }
        #expect { try office.act("halima") { vault, me in _ = try vault.completeHandover(cases: [number], by: me, now: after) } }
            throws: { error in
                guard case VaultError.accessDenied(let message) = error else { return false }
                return message.contains("'omar', the incoming supervisor, completes the handover")
            }
        #expect { try office.act("dora") { vault, me in _ = try vault.completeHandover(cases: [number], by: me, now: after) } }
            throws: { error in (error as? VaultError)?.message.contains("'omar', the incoming supervisor, completes the handover") ?? false }
        // Before completing, the incoming supervisor's rotations remove only the outgoing supervisor (and members who left).
        try office.act("omar") { vault, me in
            expectIntegrity("removes only the outgoing supervisor and members who left") {
                _ = try vault.write { writer, head in
                    try Ledger.append([try Self.teamRotationByHand(number, removing: "staff:dora", in: writer, head: head)], by: me, at: Date(),
                                      vaultID: vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
        let halimaKeys = try office.act("halima") { vault, me in try BoxKeyPair(secretKey: me.boxKeys.secretKey) }
        let done = try office.act("omar") { vault, me in try vault.completeHandover(cases: [number], by: me, now: after) }
        #expect(done.first?.rotations.map(\.removed) == [["staff:halima"], ["staff:halima"]])
        try office.file("after the handover", name: "Notes after")
        #expect(try office.act("omar") { vault, _ in try vault.caseFile(number).supervisor.id } == "omar")
        // What halima's keys open now: no tier key of the new generation.
        try office.act("grace") { vault, _ in
            let grants = try vault.store.read { try $0.grants(caseNumber: number) }
            for grant in grants {
                let sealed = try #require(try vault.store.read { try $0.blob(hash: grant.sealedKeyHash) })
                #expect((try? SealedBox.open(sealed, with: halimaKeys)) == nil, "\(grant.holder) \(grant.tier) \(grant.generation)")
            }
            #expect(try vault.verify(VerifyOptions(readData: .all)).isClean)
        }
    }

    /// A supervisor's handover a project director started: the incoming
    /// supervisor lacks the confidential tier, and is told who grants it,
    /// not that the outgoing supervisor completes (a review found the
    /// completer's key check answering first).
    @Test func anIncomingSupervisorWithoutTheConfidentialTierIsToldWhoGrantsIt() throws {
        let office = try Office()
        let number = try office.openCase()
        let started = try Self.startSupervisorHandover(of: number, in: office)
        #expect(started.first?.awaitingGrant == [.confidential])
        #expect(throws: VaultError.invalidInput("'omar' does not hold the confidential tier of \(number) yet: its supervisor grants it (casevault case grant \(number) --tier confidential --member omar --reason …)")) {
            try office.act("omar") { vault, me in _ = try vault.completeHandover(cases: [number], early: true, reason: "cover", by: me) }
        }
    }

    /// A supervisor who leaves without handing over: the admin's rotation
    /// drops them, and no one who stays but the case's manager holds the
    /// confidential tier. The manager re-seals it and grants it to the
    /// incoming supervisor (only to them, only once the supervisor left),
    /// who completes the handover and reads every version.
    @Test func aCaseWhoseSupervisorLeftWithoutAHandoverGetsANewSupervisorThroughItsManager() throws {
        let office = try Office()
        let number = try office.openCase()
        try office.file("team note")
        try office.file("confidential note", name: "Secret", confidential: true)
        func grant(_ member: String, by id: String) throws {
            try office.act(id) { vault, me in try vault.grantAccess(to: member, case: number, tier: .confidential, reason: "new supervisor", by: me) }
        }
        #expect(throws: VaultError.self) { try grant("omar", by: "grace") }    // halima is still here
        try office.act("amina") { vault, me in _ = try vault.recordDeparture(of: "halima", reason: "left suddenly", by: me) }
        let started = try Self.startSupervisorHandover(of: number, in: office)
        #expect(started.first?.awaitingGrant == [.confidential])
        #expect { try office.act("omar") { vault, me in _ = try vault.completeHandover(cases: [number], early: true, reason: "halima left", by: me) } }
            throws: { error in (error as? VaultError)?.message.contains("its manager 'grace' grants it") ?? false }
        #expect(throws: VaultError.self) { try grant("joseph", by: "grace") }  // not the incoming supervisor
        try grant("omar", by: "grace")
        _ = try office.act("omar") { vault, me in try vault.completeHandover(cases: [number], early: true, reason: "halima left", by: me) }
        #expect(try office.act("omar") { vault, _ in try vault.caseFile(number).supervisor.id } == "omar")
        #expect(try office.read("Secret", by: "omar") == "confidential note")
        #expect(try office.read("Notes", by: "omar") == "team note")
        // A manager's grant or rotation signed by hand for a case whose supervisor is here is refused.
        try office.act("grace") { vault, me in
            expectIntegrity("once its supervisor has left the staff") {
                _ = try vault.write { writer, head in
                    let data = EventData.accessGranted(AccessGranted(case: number, tier: "team", holder: "staff:joseph",
                                                                     holderPublicKey: try vault.staffMember(id: "joseph").boxPublicKeyHex,
                                                                     sealedKeyHash: String(repeating: "cd", count: 32), reason: "by hand"))
                    try Ledger.append([data], by: me, at: Date(), vaultID: vault.config.vaultId, head: &head, in: writer)
                }
            }
        }
        #expect(try office.open("peter").verify(VerifyOptions()).isClean)
    }

    /// Whoever makes a key pair knows its secret key, held or not: a
    /// project director who opened a case made its confidential key, which
    /// she never holds. When she leaves, that tier rotates too; until it
    /// has, nothing is filed into it.
    @Test func aKeyAMemberMadeWithoutHoldingItRotatesWhenTheyLeave() throws {
        let office = try Office()
        let number = try office.openCase(by: "dora")
        try office.file("before", name: "Secret", confidential: true)
        let made = try office.act("grace") { vault, _ in try vault.caseFile(number) }
        #expect(made.openedBy == "dora")
        // Her departure signed, but the run cut short before any rotation.
        try office.act("amina") { vault, me in
            _ = try vault.write { writer, head in
                try Ledger.append([.staffLeft(StaffLeft(id: "dora", reason: "left"))], by: me, at: Date(), vaultID: vault.config.vaultId,
                                  head: &head, in: writer)
            }
        }
        #expect { _ = try office.file("after", name: "Secret", confidential: true) } throws: { error in
            (error as? VaultError)?.message.contains("was made by 'dora', who left the staff") ?? false
        }
        // An admin's rotation without a reason to make a key (its maker is still here) is refused.
        let other = try office.openCase(client: 43)
        #expect(throws: VaultError.self) { try office.act("amina") { vault, me in _ = try vault.rotateKeys(case: other, reason: "routine", by: me) } }
        let report = try office.act("amina") { vault, me in try vault.recordDeparture(of: "dora", reason: "left", by: me) }
        #expect(report.rotations.contains { $0.caseNumber == number && $0.tier == .confidential })
        try office.file("after", name: "Secret", confidential: true)
        #expect(try office.read("Secret", by: "grace") == "after")
        #expect(try office.read("Secret", version: 1, by: "halima") == "before")
        let maker = try office.open("peter").read { reader, head in try head.signedState(reader).existingCase(number).case.keyMaker(of: .confidential) }
        #expect(maker == "amina")
        #expect(try office.open("peter").verify(VerifyOptions(readData: .all)).isClean)
    }
}
