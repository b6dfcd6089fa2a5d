@testable import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation
import GRDB
import Testing

/// A vault with the programme's roles: admin amina, case managers grace
/// and joseph, supervisor halima, records officer farah, auditor peter,
/// project director dora.
struct Programme {
    let scratch = Scratch()
    let vault: Vault
    let staff: [String: StaffIdentity]

    /// `eventFormat`: the format the vault's events are signed in until a
    /// test changes `vault.eventFormat` (a log an older casevault began).
    init(recoveryKey: Bool = true, format: Int = VaultConfig.currentFormatVersion, eventFormat: Int? = nil) throws {
        vault = try makeVault(in: scratch, recoveryKey: recoveryKey ? scratch.file("recovery.txt") : nil, format: format,
                              eventFormat: eventFormat)
        let admin = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
        var staff = ["amina": admin]
        for (id, name, role) in [("grace", "Grace Otieno", Role.caseManager), ("joseph", "Joseph Mwangi", .caseManager),
                                 ("halima", "Halima Abdi", .caseSupervisor), ("farah", "Farah Nasser", .recordsOfficer),
                                 ("peter", "Peter Okello", .auditor), ("dora", "Dora Achieng", .projectDirector)] {
            try vault.addStaff(id: id, name: name, role: role, passphrase: try scratch.passphrase("\(id) passphrase!"), by: admin)
            staff[id] = try vault.unlock(staffID: id, passphrase: try scratch.passphrase("\(id) passphrase!"))
        }
        self.staff = staff
    }

    subscript(id: String) -> StaffIdentity { staff[id]! }

    @discardableResult
    func openCase(client: Int? = 42, manager: String = "grace") throws -> String {
        try vault.openCase(category: "CP", admitted: 2024, clientNumber: client, managerID: manager,
                           supervisorID: "halima", by: self["halima"]).number.description
    }

    @discardableResult
    func file(_ bytes: [UInt8], into number: String = "CP-2024-0042", name: String = "Intake form", type: String = "form",
              confidential: Bool = false, by filer: String = "farah", zone: TimeZone = TimeZone(identifier: "Africa/Nairobi")!,
              now: Date = Date(timeIntervalSince1970: 1_790_000_000)) throws -> VersionInfo {
        let path = scratch.file("input-" + UUID().uuidString)
        try #require(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try vault.file(caseNumber: number, name: name, type: type, confidential: confidential,
                              from: .file(path: path), by: self[filer], now: now, timeZone: zone)
    }

    func read(_ number: String = "CP-2024-0042", _ name: String = "Intake form", version: Int? = nil, by reader: String = "grace") throws -> [UInt8] {
        var out: [UInt8] = []
        try vault.read(caseNumber: number, document: name, version: version, by: self[reader]) { out.append(contentsOf: $0) }
        return out
    }

    /// Runs SQL against the catalog as an attacker with write access would.
    func tamper(_ sql: String) throws {
        try attack(vault, sql)
    }

    func objectPath(_ hex: String) -> String { vault.objects.path(of: ObjectID(hex: hex)!) }
}

func pattern(_ count: Int, seed: Int = 0) -> [UInt8] { (0..<count).map { UInt8((($0 * 31) + seed) % 251) } }

@Suite struct CaseOpeningTests {
    @Test func opensWithStatusOAndSealsEachTierToItsHolders() throws {
        let p = try Programme()
        let number = try p.openCase()
        #expect(number == "CP-2024-0042")
        let file = try p.vault.caseFile(number)
        #expect(file.status == .open && file.label == "CP-2024-0042 [O]")
        #expect(file.manager.id == "grace" && file.supervisor.id == "halima")
        let holders = try p.vault.holders(of: number)
        #expect(holders.filter { $0.tier == .team }.map(\.holder) == ["staff:grace", "staff:halima", "staff:dora", "recovery"])
        #expect(holders.filter { $0.tier == .confidential }.map(\.holder) == ["staff:grace", "staff:halima", "recovery"])
    }

    @Test func theRecoveryKeyHoldsNothingWhenThereIsNone() throws {
        let p = try Programme(recoveryKey: false)
        let number = try p.openCase()
        #expect(!(try p.vault.holders(of: number)).contains { $0.holder == "recovery" })
    }

    @Test func clientNumbersAreUniqueInTheVaultAndAutoAssigned() throws {
        let p = try Programme()
        try p.openCase(client: 42)
        #expect(try p.vault.openCase(category: "GBV", admitted: 2025, managerID: "joseph", supervisorID: "halima",
                                     by: p["dora"]).number.description == "GBV-2025-0043")
        #expect(throws: VaultError.alreadyExists("client number 42 is already case CP-2024-0042")) {
            try p.vault.openCase(category: "UASC", admitted: 2023, clientNumber: 42, managerID: "grace", supervisorID: "halima", by: p["amina"])
        }
        let fresh = try Programme()
        #expect(try fresh.openCase(client: nil) == "CP-2024-0001")
    }

    @Test(arguments: [("grace", "a case manager"), ("farah", "a records officer"), ("peter", "an auditor")])
    func onlySupervisorsDirectorsAndAdminsOpenCases(actor: String, role: String) throws {
        let p = try Programme()
        #expect(throws: VaultError.accessDenied("only a case supervisor, project director or admin opens cases; '\(actor)' is \(role)")) {
            try p.vault.openCase(category: "CP", admitted: 2024, managerID: "grace", supervisorID: "halima", by: p[actor])
        }
        #expect(try p.vault.cases().isEmpty)
    }

    @Test func managerSupervisorCategoryAndYearAreChecked() throws {
        let p = try Programme()
        let open = { (category: String, year: Int, manager: String, supervisor: String) in
            try p.vault.openCase(category: category, admitted: year, managerID: manager, supervisorID: supervisor, by: p["halima"])
        }
        #expect(throws: VaultError.invalidInput("'halima' is a case supervisor, not a case manager")) { try open("CP", 2024, "halima", "halima") }
        #expect(throws: VaultError.invalidInput("'joseph' is a case manager, not a case supervisor")) { try open("CP", 2024, "grace", "joseph") }
        #expect(throws: VaultError.notFound("no staff member with id 'nobody'")) { try open("CP", 2024, "nobody", "halima") }
        #expect(throws: VaultError.invalidInput("unknown case category 'XX'; this vault's categories are CP, GBV, PWSN, UASC")) {
            try open("XX", 2024, "grace", "halima")
        }
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        #expect(throws: VaultError.invalidInput("year of admission 1989 is not between 1990 and \(year)")) { try open("CP", 1989, "grace", "halima") }
        #expect(throws: VaultError.invalidInput("year of admission 2999 is not between 1990 and \(year)")) { try open("CP", 2999, "grace", "halima") }
        #expect(try p.vault.cases().isEmpty)
    }

    @Test func listFilters() throws {
        let p = try Programme()
        try p.openCase(client: 1)
        try p.vault.openCase(category: "GBV", admitted: 2025, managerID: "joseph", supervisorID: "halima", by: p["halima"])
        var filter = CaseFilter()
        filter.managerID = "joseph"
        #expect(try p.vault.cases(matching: filter).map(\.number.description) == ["GBV-2025-0002"])
        filter = CaseFilter()
        filter.year = 2024
        #expect(try p.vault.cases(matching: filter).map(\.number.description) == ["CP-2024-0001"])
        filter = CaseFilter()
        filter.status = .closed
        #expect(try p.vault.cases(matching: filter).isEmpty)
        #expect(CaseNumber("CP-2024-42") == nil && CaseNumber("cp-2024-0042") == nil && CaseNumber("CP-2024-0042") != nil)
    }
}

@Suite struct FilingTests {
    @Test(arguments: [0, 1, 65_535, 65_536, 65_537, 3 << 20])
    func filedBytesReadBackExactly(size: Int) throws {
        let p = try Programme()
        try p.openCase()
        let content = pattern(size, seed: 7)
        let filed = try p.file(content)
        #expect(filed.size == Int64(size) && filed.version == 1 && filed.tier == .team)
        #expect(try p.read() == content)
        #expect(try p.read(by: "halima") == content)
        #expect(try p.read(by: "dora") == content)  // the project director holds the team tier
    }

    @Test func versionsCountUpAndOldOnesStayReadable() throws {
        let p = try Programme()
        try p.openCase()
        for n in 1...3 { #expect(try p.file(Array("version \(n)".utf8)).version == n) }
        #expect(try p.read(version: 1) == Array("version 1".utf8))
        #expect(try p.read() == Array("version 3".utf8))
        #expect(try p.vault.versions(caseNumber: "CP-2024-0042", document: "Intake form").map(\.version) == [1, 2, 3])
        #expect(throws: VaultError.notFound("'Intake form' of CP-2024-0042 has no version 9")) { _ = try p.read(version: 9) }
    }

    @Test func theStampCarriesWhatTheManualAsks() throws {
        let p = try Programme()
        try p.openCase()
        let filed = try p.file([1, 2, 3], name: "Care plan", type: "care-plan")
        let stamp = filed.stamp
        #expect(stamp.date == "2026-09-21T17:13:20+03:00")  // full date, time and zone
        #expect(stamp.caseNumber == "CP-2024-0042" && stamp.caseStatus == .open)
        #expect(stamp.report == "Care plan")
        #expect(stamp.caseManager == "Grace Otieno" && stamp.caseSupervisor == "Halima Abdi")
        #expect(stamp.version == 1 && stamp.filedBy == "farah" && stamp.filedByName == "Farah Nasser")
        #expect(try p.vault.versions(caseNumber: "CP-2024-0042").first?.stamp == stamp)
    }

    @Test func photosAndConfidentialDocumentsGoToTheConfidentialTier() throws {
        let p = try Programme()
        try p.openCase()
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + pattern(100)
        #expect(try p.file(jpeg, name: "Photo under a wrong type", type: "document").tier == .confidential)
        #expect(try p.file([1, 2, 3], name: "Photo by type", type: "photo").tier == .confidential)
        #expect(try p.file([1, 2, 3], name: "Assessment", type: "assessment", confidential: true).tier == .confidential)
        #expect(try p.file([1, 2, 3], name: "Home visit", type: "report").tier == .team)
        // Sticky: a later version without the flag stays confidential.
        #expect(try p.file([4, 5, 6], name: "Assessment", type: "assessment").tier == .confidential)
        #expect(try p.read("CP-2024-0042", "Photo under a wrong type", by: "halima") == jpeg)
        #expect(throws: VaultError.accessDenied("'dora' holds no grant for the confidential tier of CP-2024-0042")) {
            _ = try p.read("CP-2024-0042", "Photo by type", by: "dora")
        }
        #expect(try p.read("CP-2024-0042", "Home visit", by: "dora") == [1, 2, 3])
    }

    @Test func recordsOfficersFileButCannotRead() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("filed by the records officer".utf8), by: "farah")
        #expect(throws: VaultError.accessDenied("a records officer cannot read case content")) { _ = try p.read(by: "farah") }
        #expect(throws: VaultError.accessDenied("an auditor cannot read case content")) { _ = try p.read(by: "peter") }
        #expect(throws: VaultError.accessDenied("an admin cannot read case content")) { _ = try p.read(by: "amina") }
        #expect(throws: VaultError.accessDenied("an auditor cannot file documents")) { try p.file([1], by: "peter") }
        #expect(throws: VaultError.accessDenied("an admin cannot file documents")) { try p.file([1], by: "amina") }
    }

    @Test func aCaseManagerReadsOnlyTheirOwnCases() throws {
        let p = try Programme()
        try p.openCase()
        try p.file([1, 2, 3])
        #expect(throws: VaultError.accessDenied("'joseph' holds no grant for the team tier of CP-2024-0042")) { _ = try p.read(by: "joseph") }
    }

    @Test func badInputFilesNothing() throws {
        let p = try Programme()
        try p.openCase()
        #expect(throws: VaultError.notFound("no case CP-2024-0099")) { try p.file([1], into: "CP-2024-0099") }
        #expect(throws: VaultError.invalidInput("'CP-24-1' is not a case number; case numbers look like CP-2024-0042")) {
            try p.file([1], into: "CP-24-1")
        }
        #expect(throws: VaultError.self) { try p.file([1], name: "a/b") }
        #expect(throws: VaultError.self) { try p.file([1], type: "Not A Type") }
        #expect(throws: VaultError.notFound("no such file: \(p.scratch.file("missing"))")) {
            try p.vault.file(caseNumber: "CP-2024-0042", name: "X", type: "form", from: .file(path: p.scratch.file("missing")), by: p["farah"])
        }
        #expect(try p.vault.checkReferences() == ReferenceReport(missingObjects: [], orphanObjects: [], versionCount: 0))
        #expect(try p.vault.objects.allObjects().isEmpty)
    }
}

@Suite struct TamperingTests {
    private func twoVersions() throws -> (Programme, VersionInfo, VersionInfo) {
        let p = try Programme()
        try p.openCase()
        let first = try p.file(Array("first version".utf8))
        let second = try p.file(Array("second version".utf8))
        return (p, first, second)
    }

    private func expectIntegrityFailure(_ p: Programme, version: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sourceLocation: sourceLocation) { _ = try p.read(version: version) } throws: { error in
            if case VaultError.integrityFailure = error { return true }
            return false
        }
    }

    @Test func swappedObjectFilesFailAuthentication() throws {
        let (p, first, second) = try twoVersions()
        let a = p.objectPath(first.objectID), b = p.objectPath(second.objectID)
        try FileManager.default.moveItem(atPath: a, toPath: a + ".x")
        try FileManager.default.moveItem(atPath: b, toPath: a)
        try FileManager.default.moveItem(atPath: a + ".x", toPath: b)
        expectIntegrityFailure(p, version: 1)
        expectIntegrityFailure(p, version: 2)
    }

    @Test func anObjectPointedAtAnotherVersionFailsAuthentication() throws {
        let (p, first, _) = try twoVersions()
        try p.tamper("UPDATE versions SET object_id = '\(first.objectID)', sealed_file_key_hash = (SELECT sealed_file_key_hash FROM versions WHERE version = 1) WHERE version = 2")
        expectIntegrityFailure(p, version: 2)
    }

    @Test func anEditedStampFailsAuthentication() throws {
        let (p, _, _) = try twoVersions()
        try p.tamper("UPDATE versions SET stamp = CAST(replace(CAST(stamp AS TEXT), 'Grace Otieno', 'Someone Else') AS BLOB) WHERE version = 2")
        // Listing shows no edited stamp: the row no longer matches its signed state.
        #expect(throws: VaultError.integrityFailure("version 2 of 'Intake form' of CP-2024-0042 in the catalog differs from its signed state")) {
            _ = try p.vault.versions(caseNumber: "CP-2024-0042")
        }
        expectIntegrityFailure(p, version: 2)
        #expect(try p.read(version: 1) == Array("first version".utf8))
    }

    @Test func aFlippedByteFailsAuthentication() throws {
        let (p, _, second) = try twoVersions()
        let path = p.objectPath(second.objectID)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        expectIntegrityFailure(p, version: 2)
    }

    @Test func aTamperedSealedKeyFailsClosed() throws {
        let (p, _, _) = try twoVersions()
        try p.tamper("UPDATE blobs SET bytes = randomblob(80) WHERE hash = (SELECT sealed_file_key_hash FROM versions WHERE version = 2)")
        expectIntegrityFailure(p, version: 2)
        try p.tamper("UPDATE blobs SET bytes = randomblob(80) WHERE hash IN (SELECT sealed_key_hash FROM grants WHERE holder = 'staff:grace')")
        expectIntegrityFailure(p, version: 1)
    }

    @Test func aMissingObjectIsReported() throws {
        let (p, _, second) = try twoVersions()
        try FileManager.default.removeItem(atPath: p.objectPath(second.objectID))
        expectIntegrityFailure(p, version: 2)
        #expect(try p.vault.checkReferences().missingObjects == [second.objectID])
    }
}

@Suite struct EventLogTests {
    @Test func everyChangeAndEveryReadIsASignedGaplessEvent() throws {
        let p = try Programme()
        try p.openCase()
        try p.file([1, 2, 3])
        _ = try p.read()
        let events = try p.vault.events()
        #expect(events.map(\.seq) == Array(1...Int64(events.count)))
        let types = events.map(\.type)
        #expect(types.prefix(2) == ["vault.created", "staff.added"])
        #expect(types.filter { $0 == "staff.added" }.count == 7)
        #expect(types.suffix(10) == ["case.opened"] + Array(repeating: "grant.given", count: 7) + ["version.filed", "content.read"])

        // Each signature verifies under the actor's key from the catalog.
        let rows = try catalogRows(p.vault, "SELECT * FROM events ORDER BY seq")
        let context = Array("casevault-event-v1\n".utf8)
        for row in rows {
            let seq: Int64 = row["seq"], actor: String = row["actor"], type: String = row["type"]
            let bodyBytes = Array(row["body"] as Data), signature = Array(row["signature"] as Data)
            let key = try SigningPublicKey(bytes: [UInt8](hexString: try p.vault.staffMember(id: actor).signingPublicKeyHex)!)
            #expect(key.isValidSignature(signature, for: context + bodyBytes), "event \(seq)")
            #expect(Array(row["leaf_hash"] as Data) == SHA256.hash([0] + bodyBytes + signature))
            let body = try JSONValue(parsing: bodyBytes)
            #expect(body.canonicalBytes == bodyBytes, "event \(seq) is not canonical")
            #expect(body["seq"]?.integerValue == seq && body["type"]?.stringValue == type)
            #expect(body["vault"]?.stringValue == p.vault.config.vaultId)
            #expect(body["v"]?.integerValue == Int64(Event.currentFormat) && body["state"]?.stringValue?.count == 64)
        }
        // The vault's tree head is the RFC 9162 root over these leaves.
        let head = try p.vault.eventTreeHead()
        let leaves = rows.map { Array($0["leaf_hash"] as Data) }
        #expect(head.size == rows.count)
        #expect(head.rootHex == referenceRoot(leaves[...]).hexString)
        #expect(head.rootHex != referenceRoot(leaves.dropLast()).hexString)
        let read = try JSONValue(parsing: Array(rows.last!["body"] as Data))
        #expect(read["actor"]?.stringValue == "grace")
        #expect(read["data"]?["document"]?.stringValue == "Intake form")
    }

    @Test func sealedBlobsAreBoundByHashAndNotInTheLog() throws {
        let p = try Programme()
        try p.openCase()
        let filed = try p.file([1, 2, 3])
        let sealedKey: Data = try catalogRows(p.vault, "SELECT b.bytes FROM blobs b JOIN versions v ON v.sealed_file_key_hash = b.hash")[0][0]
        let body: Data = try catalogRows(p.vault, "SELECT body FROM events WHERE type = 'version.filed'")[0][0]
        let data = try JSONValue(parsing: Array(body))["data"]!
        #expect(data["sealedFileKeyHash"]?.stringValue == Blake2b.hash(Array(sealedKey)).hexString)
        #expect(data["object"]?.stringValue == filed.objectID)
        #expect(Data(body).range(of: sealedKey) == nil)
    }

    @Test func aRefusedReadIsASignedRefusalNotARead() throws {
        let p = try Programme()
        try p.openCase()
        try p.file([1], confidential: true)
        let before = try p.vault.events().count
        #expect(throws: VaultError.accessDenied("'dora' holds no grant for the confidential tier of CP-2024-0042")) {
            _ = try p.read(by: "dora")
        }
        #expect(throws: VaultError.accessDenied("a records officer cannot read case content")) { _ = try p.read(by: "farah") }
        let events = try p.vault.events()
        #expect(events.count == before + 2)
        #expect(events.suffix(2).map(\.type) == ["content.refused", "content.refused"])
        #expect(events.suffix(2).map(\.actor) == ["dora", "farah"])
        let reasons = try events.suffix(2).map { try JSONValue(parsing: Array($0.body.utf8))["data"]?["reason"]?.stringValue }
        #expect(reasons == ["no-grant", "role"])
        #expect(!events.contains { $0.type == "content.read" })
    }

    /// Schemas/event.schema.json lists, per type, exactly the members the
    /// core writes (a full validation comes with the schema validator).
    @Test func eventsHaveTheMembersTheirSchemaLists() throws {
        let p = try Programme()
        try p.openCase()
        try p.file([1, 2, 3])
        _ = try p.read()
        #expect(throws: VaultError.self) { _ = try p.read(by: "farah") }  // content.refused
        try p.vault.addSchema(Array(try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Schemas/forms/referral.schema.json").standardized)), by: p["dora"])  // schema.added
        try p.vault.changePassphrase(of: p["grace"], to: try p.scratch.passphrase("grace's new passphrase"))
        try p.fileClosureForm()
        try p.move(.inactive, by: "halima")                       // case.status-changed
        try p.move(.closed, by: "grace", approvedBy: "halima")    // case.closure-requested
        try p.vault.approveClosure(of: "CP-2024-0042", by: p["halima"])  // case.closure-approved
        try p.vault.withdraw(caseNumber: "CP-2024-0042", document: "Intake form", version: 1, reason: "duplicate",
                             by: p["halima"])                      // version.withdrawn
        _ = try p.vault.nameClient(of: "CP-2024-0042", name: "Amina Yusuf", by: p["farah"])   // search.key-granted, case.client-named
        try p.vault.tagCase("CP-2024-0042", "high-risk", adding: true, by: p["dora"])   // case.tag-added
        try p.vault.tagCase("CP-2024-0042", "high-risk", adding: false, by: p["grace"]) // case.tag-removed
        try p.vault.reopenCase("CP-2024-0042", reason: "again", by: p["halima"])
        // (Nothing leaves a closed case: the move comes once it is open again.)
        try p.openCase(client: 43)
        try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Intake form", to: "CP-2024-0043", reason: "misfiled",
                                 by: p["halima"])                  // document.moved
        _ = try p.vault.changeStatus(of: "CP-2024-0042", to: .agedOut, reason: "18", by: p["halima"])
        try p.vault.extendAgedOut("CP-2024-0042", until: "2099-01-01", reason: "plan", by: p["halima"])   // case.ao-extended
        try p.vault.closeAgedOutCases(by: p["halima"], now: Date(timeIntervalSince1970: 4_102_444_800 + 86_400)) // case.ao-closed
        try p.vault.setConfidentialTypes(["medical", "legal"], by: p["amina"])        // policy.confidential-types-set
        try p.vault.setHold("CP-2024-0042", placing: true, reason: "court order", by: p["dora"])    // case.hold-placed
        try p.vault.setHold("CP-2024-0042", placing: false, reason: "lifted", by: p["dora"])        // case.hold-released
        try p.vault.grantAccess(to: "joseph", case: "CP-2024-0043", tier: .team, reason: "covering", by: p["halima"])  // case.access-granted
        _ = try p.vault.revokeAccess(from: "joseph", case: "CP-2024-0043", reason: "cover ended", by: p["halima"])    // case.key-rotated
        _ = try p.vault.recordDeparture(of: "peter", reason: "contract ended", by: p["amina"])                      // staff.left
        let drafts = try p.vault.handoverDrafts(from: "grace", to: "joseph", cases: ["CP-2024-0043"])
        _ = try p.vault.startHandover(from: "grace", to: "joseph", cases: ["CP-2024-0043"],
                                      drafts: ["CP-2024-0043": completedHandoverDraft(drafts[0].form)], by: p["halima"])  // case.handover-started
        _ = try p.vault.completeHandover(cases: ["CP-2024-0043"], early: true, reason: "caseload", by: p["halima"])    // case.handover-completed
        let again = try p.vault.handoverDrafts(from: "joseph", to: "grace", cases: ["CP-2024-0043"])
        _ = try p.vault.startHandover(from: "joseph", to: "grace", cases: ["CP-2024-0043"],
                                      drafts: ["CP-2024-0043": completedHandoverDraft(again[0].form)], by: p["halima"])
        _ = try p.vault.cancelHandover(case: "CP-2024-0043", reason: "joseph stays", by: p["halima"])               // case.handover-cancelled
        _ = try p.vault.exportHandover(cases: ["CP-2024-0043"], to: "halima", out: p.scratch.file("handover.cvp"), by: p["joseph"]) // package.exported
        let other = try Programme()
        try other.openCase(client: 44)
        _ = try other.vault.exportCase("CP-2024-0044", to: try p.vault.identity(for: "halima"), out: other.scratch.file("in.cvt"),
                                       reason: "moved here", by: other["halima"])
        _ = try p.vault.importCase(from: other.scratch.file("in.cvt"), manager: "joseph", by: p["halima"])  // case.imported
        _ = try p.vault.exportCase("CP-2024-0044", to: try other.vault.identity(for: "halima"), out: p.scratch.file("back.cvt"),
                                   reason: "moved back", by: p["halima"])  // case.transferred
        _ = try p.vault.cancelTransfer("CP-2024-0044", reason: "they have no CP category", by: p["halima"])  // case.transfer-cancelled
        _ = try p.vault.exportAudit(out: p.scratch.file("audit.tar"), by: p["dora"])  // audit.exported
        var retention = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Schemas/examples/retention-policy.json").standardized)) as! [String: Any]
        retention["vaultId"] = p.vault.config.vaultId
        retention["legalHolds"] = []
        _ = try p.vault.setRetentionPolicy(Array(try JSONSerialization.data(withJSONObject: retention)), by: p["amina"]) // retention.policy-set
        let later = Date(timeIntervalSince1970: 4_354_819_200)  // 2108-01-01, past the AO rule's 7 years 6 months
        _ = try p.vault.approveDisposal(cases: ["CP-2024-0042"], reason: "schedule", by: p["dora"], now: later)  // case.disposal-approved
        #expect(try p.vault.applyRetention(approvedBy: ["dora"], by: p["amina"], now: later).map(\.result) == [.disposed])  // case.disposed
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Schemas/event.schema.json").standardized
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let definitions = schema["$defs"] as! [String: [String: Any]]
        #expect(Set(definitions.keys) == Set(EventType.allCases.map(\.rawValue)))
        #expect(Set(schema["required"] as! [String]) == ["v", "seq", "vault", "at", "actor", "type", "data"])
        var seen = Set<String>()
        for event in try p.vault.events() {
            let body = try JSONSerialization.jsonObject(with: Data(event.body.utf8)) as! [String: Any]
            // Format 2 events also carry the state root.
            #expect(Set(body.keys) == Set(schema["required"] as! [String]).union(["state"]))
            let data = body["data"] as! [String: Any]
            let definition = definitions[event.type]!
            #expect(Set(data.keys).isSuperset(of: definition["required"] as! [String]), "\(event.type)")
            #expect(Set(data.keys).isSubset(of: (definition["properties"] as! [String: Any]).keys), "\(event.type)")
            seen.insert(event.type)
        }
        // (A vault made now keeps report tallies from its first event, so it
        // signs no report.tallies-started: ReportTallyTests signs one in the
        // format-2 fixture and checks it against the schema.)
        #expect(seen.union(["report.tallies-started"]) == Set(EventType.allCases.map(\.rawValue)))
        // verify's pipeline (Verifier.replayLog) finds this log of every kind of
        // event clean, and the same whatever its batches (1 counts as 2: event 1's
        // signer is in event 2): imports, search keys and policies included.
        let whole = try p.vault.verify()
        #expect(whole.isClean, "\(whole.findings)")
        for size in [1, 2, 3, 5] {
            var options = VerifyOptions()
            options.batchSize = size
            let report = try p.vault.verify(options)
            #expect(report.findings == whole.findings && report.notes == whole.notes && report.rootHex == whole.rootHex, "batches of \(size)")
        }
    }

    /// RFC 6962/9162 reference tree: the eight leaves of the certificate
    /// transparency test suite and their published root.
    @Test func merkleTreeHeadMatchesTheReferenceVectors() {
        let leaves: [[UInt8]] = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                 "606162636465666768696a6b6c6d6e6f"].map { [UInt8](hexString: $0)! }
        let hashes = leaves.map { SHA256.hash([0] + $0) }
        #expect(referenceRoot(hashes[...]).hexString == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        #expect(referenceRoot(hashes.prefix(1)).hexString == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        #expect(referenceRoot([][...]).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // The log's own compact range gives the same roots, leaf by leaf.
        var range = CompactRange()
        for (count, hash) in hashes.enumerated() {
            range.append(leaf: hash)
            #expect(range.root == referenceRoot(hashes.prefix(count + 1)))
        }
    }

    /// The tree an audit export builds in memory from its leaves gives the
    /// reference root, the nodes the log stores as it grows, and inclusion
    /// and consistency proofs that verify, for every size up to 67.
    @Test func aLogTreeBuiltInMemoryIsTheStoredOne() throws {
        let leaves = (0..<67).map { SHA256.hash([0] + Array("event \($0)".utf8)) }
        var range = CompactRange()
        var stored: [CompactRange.NodePosition: [UInt8]] = [:]
        for size in 1...leaves.count {
            for (level, index, hash) in range.append(leaf: leaves[size - 1]) { stored[.init(level: level, index: index)] = hash }
            let memory = MemoryLogNodes(leaves: Array(leaves.prefix(size)))
            let root = referenceRoot(leaves.prefix(size))
            #expect(try LogTree.root(memory, size: Int64(size)) == root, "size \(size)")
            for (position, hash) in stored { #expect(try memory.logNode(level: position.level, index: position.index) == hash) }
            #expect(try memory.logNode(level: 0, index: Int64(size)) == nil && memory.logNode(level: -1, index: 0) == nil)
            for index in 0..<size {
                let proof = try LogTree.inclusionProof(memory, index: Int64(index), size: Int64(size))
                #expect(LogTree.verifyInclusion(leaf: leaves[index], index: Int64(index), size: Int64(size), proof: proof, root: root))
            }
            // And the consistency proofs an export with the auditor's checkpoint takes from it.
            for old in 1..<size {
                let proof = try LogTree.consistencyProof(memory, from: Int64(old), to: Int64(size))
                #expect(LogTree.verifyConsistency(from: Int64(old), to: Int64(size), oldRoot: referenceRoot(leaves.prefix(old)), newRoot: root, proof: proof))
            }
        }
    }

    @Test func canonicalJSONFollowsRFC8785ForOurTypes() throws {
        let value = JSONValue.object(["b": .integer(-3), "a": .array([.bool(true), .null, .string("é\"\\\n\u{1}")]), "A": .string("")])
        #expect(value.canonicalString == #"{"A":"","a":[true,null,"é\"\\\n\u0001"],"b":-3}"#)
        #expect(try JSONValue(parsing: value.canonicalBytes) == value)
        #expect(throws: (any Error).self) { _ = try JSONValue(parsing: Array(#"{"a":1,"a":2}"#.utf8)) }
        // Forms may hold real numbers; casevault's own signed data never does.
        #expect(try JSONValue(parsing: Array(#"{"a":1.5,"b":-2e3,"c":9223372036854775808}"#.utf8))
                == .object(["a": .number(1.5), "b": .number(-2000), "c": .number(9_223_372_036_854_775_808)]))
        for malformed in [#"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":1e}"#, #"["\ud800"]"#, #"[1,]"#, #"{"a" 1}"#] {
            #expect(throws: (any Error).self, "\(malformed)") { _ = try JSONValue(parsing: Array(malformed.utf8)) }
        }
        #expect(try JSONValue(parsing: Array(#"["\ud83d\ude00"]"#.utf8)) == .array([.string("😀")]))
    }
    /// The layout every catalog file, manifest and handover form on disk
    /// has: two spaces a level, members sorted, empty containers on one
    /// line, scalars canonical, one line feed at the end.
    @Test func prettyJSONHasOneLayout() throws {
        let value = JSONValue.object([
            "b": .array([.integer(1), .object(["z": .null, "y": .array([]), "x": .object([:])]), .string("q\"\n")]),
            "a": .bool(false), "é": .number(1.5), "c": .object(["d": .array([.array([.integer(-2)])])]), "k\"\u{1}": .string("\u{1f}"),
        ])
        let expected = #"""
        {
          "a": false,
          "b": [
            1,
            {
              "x": {},
              "y": [],
              "z": null
            },
            "q\"\n"
          ],
          "c": {
            "d": [
              [
                -2
              ]
            ]
          },
          "k\"\u0001": "\u001f",
          "é": 1.5
        }

        """#
        #expect(value.prettyText == expected)
        #expect(value.prettyBytes == Array(expected.utf8))
        #expect(try JSONValue(parsing: value.prettyBytes) == value)
        #expect(JSONValue.array([]).prettyText == "[]\n" && JSONValue.string("a").prettyText == "\"a\"\n")
    }
}

@Suite struct ContentSecrecyTests {
    @Test func aMarkerInADocumentIsNowhereOnDiskButInTheOutput() throws {
        let p = try Programme()
        let tempBefore = temporaryFiles()
        try p.openCase()
        let marker = "MARKER-\(UUID().uuidString)"
        try p.file(Array("case notes: \(marker) end".utf8))
        #expect(String(decoding: try p.read(), as: UTF8.self).contains(marker))
        #expect(anyFile(under: p.vault.path, contains: Array(marker.utf8)) == nil)
        #expect(newTemporaryFiles(since: tempBefore, containing: Array(marker.utf8)).isEmpty)
    }
}
