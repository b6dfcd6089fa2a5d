@testable import CaseVault
import CaseVaultArchive
import CaseVaultCrypto
import Foundation
import Testing

/// Issue 10, items 5 and 6: a case moved from one vault to another, its
/// history verifiable in both, and what `import case` refuses.
@Suite struct TransferTests {
    static let number = "CP-2024-0042"

    /// Two offices (two vaults, the same staff ids, different keys). In the
    /// sending one, CP-2024-0042 has a team form filed twice (v1 withdrawn),
    /// a confidential photo and a tag.
    struct Offices {
        let from: Programme
        let to: Programme

        init() throws {
            from = try RotationTests.scene()
            to = try Programme()
            try from.vault.withdraw(caseNumber: TransferTests.number, document: "Intake form", version: 1, reason: "filed in error",
                                    by: from["grace"])
            try from.vault.tagCase(TransferTests.number, "high-risk", adding: true, by: from["halima"])
        }

        var identity: VaultIdentity { get throws { try to.vault.identity(for: "halima") } }

        @discardableResult
        func export(_ out: String = "case.cvt") throws -> TransferReport {
            try from.vault.exportCase(TransferTests.number, to: try identity, out: from.scratch.file(out), reason: "the family moved to district B",
                                      by: from["halima"])
        }

        @discardableResult
        func importCase(_ out: String = "case.cvt") throws -> ImportReport {
            try to.vault.importCase(from: from.scratch.file(out), manager: "joseph", by: to["halima"])
        }
    }

    @Test func aCaseMovesWithItsHistoryAndReadsThereForItsNewHoldersOnly() throws {
        let o = try Offices()
        let report = try o.export()
        #expect(report.versions == 3 && report.objects == 3)
        // No plaintext in the file.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: report.path))
        for marker in ["intake 2", "photo", "high-risk", "history.json"] { #expect(bytes.range(of: Data(marker.utf8)) == nil) }

        // Checked by the sending vault's fingerprint, as read over the phone.
        let imported = try o.to.vault.importCase(from: report.path, manager: "joseph", expectingVault: report.vaultFingerprint, by: o.to["halima"])
        #expect(imported.caseNumber == Self.number && imported.versions == 3 && imported.documents == 2)
        #expect(imported.fromVaultFingerprint == (try o.from.vault.fingerprint()) && imported.checkedByFingerprint)
        #expect(try o.to.read(by: "joseph") == Array("intake 2".utf8))
        #expect(try o.to.read(Self.number, "Intake form", version: 1, by: "halima") == Array("intake 1".utf8))
        #expect(try o.to.read(Self.number, "Photo", by: "joseph") == Array("photo".utf8))
        #expect(try o.to.read(by: "dora") == Array("intake 2".utf8))  // team tier: the project director here
        #expect(throws: VaultError.self) { try o.to.read(Self.number, "Photo", by: "dora") }
        // What the history carried: the case, its withdrawal and tag, its status history.
        let file = try o.to.vault.caseFile(Self.number)
        #expect(file.manager.id == "joseph" && file.supervisor.id == "halima" && file.status == .open)
        #expect(try o.to.vault.versions(caseNumber: Self.number, document: "Intake form").first { $0.version == 1 }?.withdrawal != nil)
        var tagged = CaseFilter()
        tagged.tag = "high-risk"
        #expect(try o.to.vault.cases(matching: tagged).count == 1)
        let (_, came) = try o.to.vault.transfers(of: Self.number)
        #expect(came?.fromVault == o.from.vault.config.vaultId)

        // New keys here: the sending office's tier keys open nothing filed here after.
        let oldKeys = try RotationTests.tierSecrets(o.from, Self.number, with: o.from["grace"].boxKeys)
        #expect(oldKeys.count == 2)
        try o.to.file(Array("filed in B".utf8), name: "Home visit", type: "report")
        #expect(try o.to.read(Self.number, "Home visit", by: "joseph") == Array("filed in B".utf8))
        #expect(try !RotationTests.opens(o.to, Self.number, "Home visit", version: 1, with: oldKeys))
        #expect(try !RotationTests.opens(o.to, Self.number, "Intake form", version: 2, with: oldKeys))

        // The sending vault's copy is read-only, still readable, and says where it went.
        #expect(throws: VaultError.invalidInput("\(Self.number) was transferred to vault \(o.to.vault.config.vaultId) ('halima') on \(try #require(o.from.vault.transfers(of: Self.number).transferred).at.prefix(10)): its copy here is read-only")) {
            try o.from.file(Array("late".utf8), name: "Late", type: "report")
        }
        #expect(try o.from.read(by: "grace") == Array("intake 2".utf8))
        #expect(try o.from.vault.verify().isClean)
        #expect(try o.to.vault.verify().isClean)
        // Replaying the receiving log (which re-verifies the history) rebuilds its catalog.
        let scratch = MemoryCatalogStore()
        try Replay.rebuild(from: o.to.vault.store, into: scratch)
        #expect(try o.to.vault.store.read { live in try scratch.read { try CatalogComparison.differences(live: live, replayed: $0) } }.isEmpty)
        // Once only.
        #expect(throws: VaultError.alreadyExists("case \(Self.number) already exists here")) { try o.importCase() }
    }

    static func records(_ p: Programme) throws -> [VersionRecord] {
        try p.vault.store.read { try $0.versions(caseNumber: Self.number, document: nil) }
    }

    /// A case transferred away is the other office's work: the sending
    /// vault's `due`, handover check and monthly report leave it out (the
    /// report lists it as transferred out), and the receiving vault's
    /// report counts it from its import, not from its opening there.
    @Test func aTransferredCaseLeavesTheSendingOfficesDueHandoverAndReport() throws {
        let o = try Offices()
        let later = Date().addingTimeInterval(400 * 86_400)  // idle by then
        #expect(try o.from.vault.due(asOf: later).contains { $0.caseNumber == Self.number })
        #expect(try o.from.vault.handoverReadiness(of: "grace").contains { $0.caseNumber == Self.number })
        // Aged out, then transferred the same month.
        _ = try o.from.vault.changeStatus(of: Self.number, to: .agedOut, reason: "turned 18", by: o.from["halima"])
        try o.export()
        let month = String(Lifecycle.day(Date()).prefix(7))  // of the transfer
        #expect(try !o.from.vault.due(asOf: later).contains { $0.caseNumber == Self.number })
        #expect(try !o.from.vault.handoverReadiness(of: "grace").contains { $0.caseNumber == Self.number })
        let sent = try o.from.vault.monthlyReport(month: month)
        #expect(sent.transferredOut == [Self.number] && sent.agedOut == [Self.number] && sent.byStatus.isEmpty && sent.caseloads.isEmpty)
        // Its closing day comes and goes here without closing it (it closes there), nor failing the others' closing.
        #expect(try o.from.vault.closeAgedOutCases(by: o.from["halima"], now: later) == [])
        // Nor is it among the cases a departing manager must still hand over.
        try o.from.vault.addStaff(id: "amani", name: "Amani Njeri", role: .caseManager, passphrase: try o.from.scratch.passphrase("amani passphrase!"),
                                  by: o.from["amina"])
        #expect(try o.from.vault.recordDeparture(of: "grace", reason: "moved on", by: o.from["amina"]).casesStillNamingThem
            .allSatisfy { $0 != Self.number })
        // Imported a minute later, as any import comes after its transfer.
        let imported = Date().addingTimeInterval(60)
        try o.to.vault.importCase(from: o.from.scratch.file("case.cvt"), manager: "joseph", by: o.to["halima"], now: imported)
        let received = try o.to.vault.monthlyReport(month: String(Lifecycle.day(imported).prefix(7)))
        #expect(received.transferredIn == [Self.number] && !received.opened.contains(Self.number))
        #expect(received.byStatus.map { "\($0.key)=\($0.count)" } == ["AO=1"] && received.caseloads.map(\.staffID) == ["joseph"])
        #expect(received.agedOut.isEmpty)  // it aged out in the other office
        // Before its import it was not here, whenever the sending office opened it.
        let before = try o.to.vault.monthlyReport(month: "2020-01")
        #expect(before.byStatus.isEmpty && before.transferredIn.isEmpty)
        #expect(try o.to.vault.due(asOf: later).contains { $0.caseNumber == Self.number })
        // Both vaults' tallies say what counting every case says.
        try expectTalliedReportsAgree(o.from.vault, months: [month, "2020-01"])
        try expectTalliedReportsAgree(o.to.vault, months: [String(Lifecycle.day(imported).prefix(7)), "2020-01"])
    }

    /// A transfer called back, or sent again after its file was lost, in a
    /// later month: the case is away exactly from the month of the transfer
    /// that stands, in the tallies as in a count of every case.
    @Test func aTransferCalledBackOrSentAgainLaterCountsFromTheTransferThatStands() throws {
        func day(_ text: String) -> Date { try! Date(text + "T09:00:00Z", strategy: .iso8601) }
        for resend in [false, true] {
            let o = try Offices()
            let identity = try o.identity
            _ = try o.from.vault.exportCase(Self.number, to: identity, out: o.from.scratch.file("a.cvt"), reason: "moved", by: o.from["halima"],
                                            now: day("2030-01-10"))
            if resend {
                _ = try o.from.vault.exportCase(Self.number, to: identity, out: o.from.scratch.file("b.cvt"), reason: "file lost",
                                                by: o.from["halima"], now: day("2030-03-10"))
            } else {
                _ = try o.from.vault.cancelTransfer(Self.number, reason: "they have no place", by: o.from["halima"], now: day("2030-03-10"))
            }
            try expectTalliedReportsAgree(o.from.vault, months: ["2030-01", "2030-02", "2030-03", "2030-04"])
            // Here in February either way; away from March only when sent again then.
            #expect(try !o.from.vault.monthlyReport(month: "2030-02").byStatus.isEmpty)
            #expect(try o.from.vault.monthlyReport(month: "2030-03").byStatus.isEmpty == resend, "resend \(resend)")
            #expect(try o.from.vault.monthlyReport(month: "2030-03").transferredOut == (resend ? [Self.number] : []))
            #expect(try o.from.vault.monthlyReport(month: "2030-01").transferredOut.isEmpty)
            #expect(try o.from.vault.verify().isClean)
        }
    }

    /// An imported case's earlier status changes keep the sending vault's
    /// sequence numbers, higher here than this vault's own: its first change
    /// here made its status history unreadable (integrity failure), and with
    /// it `due` and the monthly report of the whole vault. Read in the order
    /// applied, it stays readable, replays and verifies.
    @Test func anImportedCaseChangesStatusHereAndStaysReadable() throws {
        let o = try Offices()
        _ = try o.from.vault.changeStatus(of: Self.number, to: .inactive, reason: "no contact", by: o.from["halima"])
        try o.export()
        try o.importCase()
        let here = try o.to.vault.store.read { try $0.lastEventSeq() }
        let there = try o.from.vault.store.read { try $0.lastEventSeq() }
        #expect(there > here)  // the case this test is about
        _ = try o.to.vault.changeStatus(of: Self.number, to: .open, reason: "back in touch", by: o.to["halima"])
        #expect(try o.to.vault.caseFile(Self.number).status == .open)
        _ = try o.to.vault.due()  // read every case's history: it was an integrity failure
        let report = try o.to.vault.monthlyReport(month: String(Lifecycle.day(Date()).prefix(7)))
        #expect(report.byStatus.map { "\($0.key)=\($0.count)" } == ["O=1"])
        #expect(try o.to.vault.verify().isClean)
        try expectTalliedReportsAgree(o.to.vault, months: [String(Lifecycle.day(Date()).prefix(7))])
    }

    /// A named case moves: its history carries the naming event, which
    /// since v18 names the index's blob and holds no token, and the blob
    /// (keyed under the sending vault's search key) does not go.
    @Test func aNamedCaseMovesWithoutItsClientNameTokens() throws {
        let o = try Offices()
        try o.from.vault.nameClient(of: Self.number, name: "Amina Yusuf", by: o.from["farah"])
        let tokens = try #require(try FindTests.tokens(o.from.vault, Self.number))
        try o.export()
        try o.importCase()
        // Not in the receiving vault, whose history blob holds the case's events.
        #expect(try !FindTests.tokensRemain(o.to.vault, tokens))
        #expect(try o.to.vault.verify().isClean && o.from.vault.verify().isClean)
    }

    /// Each version's original file name and media type (§11a) travel with
    /// it, sealed as they were: `get -o DIR/` writes the same name in the
    /// receiving vault as in the sending one, and the name is in no file of
    /// either in clear.
    @Test func versionsKeepTheirFileNamesAcrossTheMove() throws {
        let o = try Offices()
        try Data("%PDF-1.7\nscan".utf8).write(to: URL(fileURLWithPath: o.from.scratch.file("Zawadi consent 12 May.pdf")))
        try o.from.vault.file(caseNumber: Self.number, name: "Consent", type: "consent-form",
                              from: .file(path: o.from.scratch.file("Zawadi consent 12 May.pdf")), by: o.from["farah"])
        let sent = try Self.records(o.from).compactMap(\.fileInfoHash)
        #expect(sent.count == 4)
        try o.export()
        try o.importCase()
        for (document, version) in [("Consent", 1), ("Intake form", 2), ("Photo", 1)] {
            let there = o.from.scratch.file("from-\(document)"), here = o.to.scratch.file("to-\(document)")
            for folder in [there, here] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            let before = try o.from.vault.retrieve(caseNumber: Self.number, document: document, version: version, by: o.from["halima"], to: .folder(path: there))
            let after = try o.to.vault.retrieve(caseNumber: Self.number, document: document, version: version, by: o.to["halima"], to: .folder(path: here))
            #expect(after.fileInfo != nil && after.fileInfo == before.fileInfo, "\(document)")
            #expect(after.writtenTo.map { URL(fileURLWithPath: $0).lastPathComponent } == before.writtenTo.map { URL(fileURLWithPath: $0).lastPathComponent })
        }
        #expect(try Self.records(o.to).compactMap(\.fileInfoHash).count == sent.count)
        for vault in [o.from.vault, o.to.vault] {
            for file in FileManager.default.enumerator(atPath: vault.path)?.allObjects as? [String] ?? [] {
                guard let data = FileManager.default.contents(atPath: vault.path + "/" + file) else { continue }
                #expect(data.range(of: Data("Zawadi".utf8)) == nil, "\(file)")
            }
            #expect(try vault.verify().isClean)
        }
        // Sealed again here: blobs of this vault's own, named per version by the import's signed event.
        #expect(Set(try Self.records(o.to).compactMap(\.fileInfoHash)).isDisjoint(with: sent))
        let event = try #require(try o.to.vault.events().last { $0.type == "case.imported" })
        #expect(event.body.components(separatedBy: "\"fileInfoHash\":").count == 5)
    }

    /// A `-v2` transfer must carry every version's file name, each opening
    /// with its file key; a `-v1` transfer (`--without-file-names`, or an
    /// older casevault's) carries none and imports with its versions
    /// unnamed. Anything else is refused, nothing left.
    @Test func fileNamesComeAllOrNoneByTheTransfersFormatAndMustOpen() throws {
        let o = try Offices()
        let report = try o.export()
        let key = o.to["halima"].boxKeys.publicKey
        let parts = try Parts(report.path, keys: o.to["halima"].boxKeys)
        let names = try parts.history.verify(toVault: o.to.vault.config.vaultId, toMember: "halima",
                                             toBoxPublicKey: key.bytes.hexString).versions.compactMap(\.fileInfoHash).sorted()
        #expect(names.count == 3)
        // -v2 without one name; with one name swapped for another's (it opens with no file key but its own).
        var some = parts
        some.entries.removeAll { $0.0 == "blobs/" + names[0] }
        try some.seal(to: key, magic: SealedPackage.transferMagicV2, at: o.from.scratch.file("some.cvt"))
        try refused(o, o.from.scratch.file("some.cvt"), message: "lacks a blob of")
        var swapped = parts
        swapped["blobs/" + names[0]] = parts["blobs/" + names[1]]
        try swapped.seal(to: key, magic: SealedPackage.transferMagicV2, at: o.from.scratch.file("swapped.cvt"))
        try refused(o, o.from.scratch.file("swapped.cvt"))
        // -v1 and -v3 carrying names: blobs their versions do not name.
        try parts.seal(to: key, magic: SealedPackage.transferMagic, at: o.from.scratch.file("v1-named.cvt"))
        try refused(o, o.from.scratch.file("v1-named.cvt"), message: "do not name")
        try parts.seal(to: key, magic: SealedPackage.transferMagicV3, at: o.from.scratch.file("v3-named.cvt"))
        try refused(o, o.from.scratch.file("v3-named.cvt"), message: "do not name")
        // What `export case --without-file-names` writes imports, unnamed.
        let plain = try o.from.vault.exportCase(Self.number, to: try o.identity, out: o.from.scratch.file("plain.cvt"),
                                                reason: "sent again without file names", fileNames: false, by: o.from["halima"])
        // From a vault of format 3: -v3 without names, -v4 with them (§15b).
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: plain.path)).prefix(22)) == SealedPackage.transferMagicV3)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: report.path)).prefix(22)) == SealedPackage.transferMagicV4)
        _ = try o.to.vault.importCase(from: plain.path, manager: "joseph", by: o.to["halima"])
        #expect(try Self.records(o.to).allSatisfy { $0.fileInfoHash == nil })
        #expect(try o.to.read(by: "joseph") == Array("intake 2".utf8))
        #expect(try o.to.vault.verify().isClean)
    }

    @Test func aLostTransferIsSentAgainToTheSameMemberOnly() throws {
        let o = try Offices()
        let first = try o.export("first.cvt")
        let second = try o.export("second.cvt")
        #expect(second.transferSeq > first.transferSeq)
        // The first file names a transfer that is not the newest: still a valid history; either imports.
        _ = try o.importCase("second.cvt")
        let other = try Programme()
        #expect(throws: VaultError.self) {
            try o.from.vault.exportCase(Self.number, to: try other.vault.identity(for: "halima"), out: o.from.scratch.file("third.cvt"),
                                        reason: "elsewhere", by: o.from["halima"])
        }
        #expect(try o.to.vault.verify().isClean && o.from.vault.verify().isClean)
    }

    @Test func aTransferCarryingAnotherRecordsObjectUnderAnotherNameDeletesNothing() throws {
        // The receiving vault already holds an object (an earlier import, a backup's copy of it):
        // a transfer naming those bytes under another name must be refused and leave the object.
        let o = try Offices()
        let report = try o.export()
        _ = try o.importCase()
        let member = o.to["halima"]
        let parts = try Parts(report.path, keys: member.boxKeys)
        let (name, bytes) = try #require(parts.entries.first { $0.0.hasPrefix("objects/") })
        let existing = try #require(ObjectID(hex: String(name.dropFirst("objects/".count))))
        #expect(o.to.vault.objects.contains(existing))
        var hostile = parts
        hostile.entries = [("history.json", parts["history.json"]), ("keys.json", parts["keys.json"]),
                           ("objects/" + String(repeating: "ab", count: 32), bytes)]
        let path = o.from.scratch.file("hostile.cvt")
        try hostile.seal(to: member.boxKeys.publicKey, at: path)
        #expect(throws: VaultError.self) { _ = try o.to.vault.importCase(from: path, manager: "joseph", by: member) }
        #expect(o.to.vault.objects.contains(existing))
        #expect(try o.to.read(Self.number, "Photo", by: "joseph") == Array("photo".utf8))
    }

    @Test func aRefusedTransferIsCalledBackAndTheCaseCanBeChangedOrSentElsewhere() throws {
        let o = try Offices()
        try o.export()
        #expect(throws: VaultError.self) { try o.from.file(Array("late".utf8), name: "Late", type: "report") }
        // Only the case's supervisor, only a case transferred.
        #expect(throws: VaultError.self) { try o.from.vault.cancelTransfer(Self.number, reason: "x", by: o.from["grace"]) }
        try o.from.openCase(client: 43)
        #expect(throws: VaultError.invalidInput("CP-2024-0043 was not transferred")) {
            try o.from.vault.cancelTransfer("CP-2024-0043", reason: "x", by: o.from["halima"])
        }
        let gone = try o.from.vault.cancelTransfer(Self.number, reason: "the district office has a case of that number", by: o.from["halima"])
        #expect(gone.toVault == o.to.vault.config.vaultId)
        #expect(try o.from.vault.transfers(of: Self.number).transferred == nil)
        try o.from.file(Array("late".utf8), name: "Late", type: "report")
        // It can now go to another office.
        let elsewhere = try Programme()
        _ = try o.from.vault.exportCase(Self.number, to: try elsewhere.vault.identity(for: "halima"), out: o.from.scratch.file("elsewhere.cvt"),
                                        reason: "to the other district", by: o.from["halima"])
        _ = try elsewhere.vault.importCase(from: o.from.scratch.file("elsewhere.cvt"), manager: "grace", by: elsewhere["halima"])
        #expect(try elsewhere.read(Self.number, "Late", by: "grace") == Array("late".utf8))
        #expect(try o.from.vault.verify().isClean && elsewhere.vault.verify().isClean)
    }

    @Test func onlyTheSupervisorSendsAndNothingUnderWayGoes() throws {
        let o = try Offices()
        #expect(throws: VaultError.self) {
            try o.from.vault.exportCase(Self.number, to: try o.identity, out: o.from.scratch.file("x.cvt"), reason: "no", by: o.from["grace"])
        }
        try o.from.vault.setHold(Self.number, placing: true, reason: "court order 12/2026", by: o.from["halima"])
        #expect(throws: VaultError.invalidInput("\(Self.number) is on legal hold: nothing leaves it")) { try o.export() }
        #expect(!FileManager.default.fileExists(atPath: o.from.scratch.file("case.cvt")))
        // Nor while the retention policy's legalHolds name it.
        try o.from.vault.setHold(Self.number, placing: false, reason: "order lifted", by: o.from["halima"])
        _ = try o.from.vault.setRetentionPolicy(try DisposalTests.policy(for: o.from.vault) { json in
            json["legalHolds"] = [["case": Self.number, "reason": "court order 13/2026", "placedBy": "ruth.wambui", "placedAt": "2026-11-30T09:00:00Z"]]
        }, by: o.from["amina"])
        #expect { try o.export() } throws: { error in
            guard case VaultError.invalidInput(let message) = error else { return false }
            return message.contains("holds it (legalHolds)")
        }
        #expect(!FileManager.default.fileExists(atPath: o.from.scratch.file("case.cvt")))
        // An identity for a member who may not import is refused where it is made; one edited to name
        // another role no longer matches its fingerprint, and one naming a project director is refused by the sender.
        #expect(throws: VaultError.self) { try o.to.vault.identity(for: "farah") }
        #expect(throws: VaultError.self) { try o.to.vault.identity(for: "dora") }
        let text = try o.identity.text.replacingOccurrences(of: "\"case-supervisor\"", with: "\"project-director\"")
        #expect(throws: VaultError.self) { try VaultIdentity(parsing: Array(text.utf8)) }
        let director = VaultIdentity(vault: o.to.vault.config.vaultId, member: "dora", name: "Dora Achieng", role: "project-director",
                                     boxPublicKey: o.to["dora"].boxKeys.publicKey.bytes.hexString, vaultFormat: 3)
        #expect(throws: VaultError.invalidInput("that identity names a project director; only a case supervisor there imports a case")) {
            try o.from.vault.exportCase(Self.number, to: director, out: o.from.scratch.file("d.cvt"), reason: "no", by: o.from["halima"])
        }
    }

    // MARK: Hostile transfers

    /// A transfer's parts, opened with the receiving member's key, to be
    /// altered and sealed again to them, as anyone can (their key is public).
    struct Parts {
        var entries: [(String, [UInt8])]

        init(_ path: String, keys: BoxKeyPair) throws {
            var objects: [(String, [UInt8])] = []
            let file = try FileSystem.openForReading(path)
            let unpacked = try Vault.unpackTransfer(input: file.read(into:), keys: keys, limits: ArchiveLimits(), naming: .blake3) { id, stream in
                var bytes: [UInt8] = []
                try stream { bytes.append(contentsOf: $0) }
                objects.append(("objects/" + id.hex, bytes))
                return Int64(bytes.count)
            }
            entries = [("history.json", unpacked.history), ("keys.json", unpacked.keys)]
                + unpacked.blobs.sorted { $0.key < $1.key }.map { ("blobs/" + $0.key, $0.value) } + objects
        }

        subscript(name: String) -> [UInt8] {
            get { entries.first { $0.0 == name }!.1 }
            set { entries[entries.firstIndex { $0.0 == name }!].1 = newValue }
        }

        var history: CaseHistory {
            get throws { try CaseHistory(parsing: self["history.json"]) }
        }

        func seal(to key: BoxPublicKey, magic: [UInt8] = SealedPackage.transferMagicV2, at path: String) throws {
            var out: [UInt8] = []
            let sealer = try SealedPackage.Sealer(to: key, magic: magic) { out.append(contentsOf: $0) }
            let writer = try ArchiveWriter(format: .paxTar, write: sealer.write)
            for (name, bytes) in entries {
                try writer.beginFile(path: name, size: Int64(bytes.count), modificationTime: 0, permissions: 0o600)
                try bytes.withUnsafeBytes { try writer.write($0) }
                try writer.finishEntry()
            }
            try writer.finish()
            try sealer.finish()
            try Data(out).write(to: URL(fileURLWithPath: path))
        }
    }

    /// Refused with nothing left: no object, blob, event or row more.
    func refused(_ o: Offices, _ path: String, message: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let objects = try o.to.vault.objects.allObjects()
        let events = try o.to.vault.events().count
        let blobs = try catalogRows(o.to.vault, "SELECT hash FROM blobs").count
        do {
            _ = try o.to.vault.importCase(from: path, manager: "joseph", by: o.to["halima"])
            Issue.record("the import was accepted", sourceLocation: sourceLocation)
        } catch let error as VaultError {
            if let message { #expect(error.message.contains(message), "\(error.message)", sourceLocation: sourceLocation) }
        }
        #expect(try o.to.vault.objects.allObjects() == objects, sourceLocation: sourceLocation)
        #expect(try o.to.vault.events().count == events, sourceLocation: sourceLocation)
        #expect(try catalogRows(o.to.vault, "SELECT hash FROM blobs").count == blobs, sourceLocation: sourceLocation)
        #expect((try? o.to.vault.caseFile(Self.number)) == nil, sourceLocation: sourceLocation)
    }

    @Test func anAlteredCutOrMisaddressedTransferIsRefusedAndNothingIsLeft() throws {
        let o = try Offices()
        let report = try o.export()
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: report.path)))
        let path = o.from.scratch.file("hostile.cvt")
        func write(_ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

        // To another member of the receiving vault: a project director may not import (both tier keys
        // would be theirs), and a transfer is not sealed to anyone else.
        #expect(throws: VaultError.self) { _ = try o.to.vault.importCase(from: report.path, manager: "joseph", by: o.to["dora"]) }
        try o.to.vault.addStaff(id: "musa", name: "Musa Juma", role: .caseSupervisor, passphrase: try o.to.scratch.passphrase("musa passphrase!"),
                                by: o.to["amina"])
        let musa = try o.to.vault.unlock(staffID: "musa", passphrase: try o.to.scratch.passphrase("musa passphrase!"))
        #expect(throws: VaultError.accessDenied("this case transfer is sealed to someone else")) {
            _ = try o.to.vault.importCase(from: report.path, manager: "joseph", by: musa)
        }
        // From a vault other than the one the office said: by id, or by the fingerprint read over the phone.
        #expect(throws: VaultError.invalidInput("this transfer comes from vault \(o.from.vault.config.vaultId), not \(o.to.vault.config.vaultId)")) {
            _ = try o.to.vault.importCase(from: report.path, manager: "joseph", expectingVault: o.to.vault.config.vaultId, by: o.to["halima"])
        }
        let sender = try o.from.vault.fingerprint()
        #expect(report.vaultFingerprint == sender && VaultFingerprint.looksLikeFingerprint(sender))
        #expect(try o.to.vault.fingerprint() != sender)
        let other = try o.to.vault.fingerprint()
        #expect(throws: VaultError.invalidInput("this transfer comes from a vault whose fingerprint is \(sender), not \(other)")) {
            _ = try o.to.vault.importCase(from: report.path, manager: "joseph", expectingVault: other, by: o.to["halima"])
        }
        #expect((try? o.to.vault.caseFile(Self.number)) == nil)
        // Cut short, one byte flipped, bytes after the end.
        try write(Array(original.prefix(original.count - 100)))
        try refused(o, path)
        var flipped = original
        flipped[original.count / 2] ^= 0x01
        try write(flipped)
        try refused(o, path)
        try write(original + [0])
        try refused(o, path)
        // Not a transfer at all (a handover package's header).
        try write(Array("casevault-package-v1\n".utf8) + original.dropFirst(22))
        try refused(o, path, message: "not a casevault case transfer")
    }

    /// Anyone can seal a transfer to a supervisor (their key is public): its
    /// history is checked before any object is stored, and only the objects
    /// its verified versions name, at their signed sizes, are taken.
    @Test func aTransferIsCheckedBeforeAnyObjectIsStoredAndOnlyItsVersionsObjectsAreTaken() throws {
        let o = try Offices()
        let report = try o.export()
        let member = o.to["halima"]
        let parts = try Parts(report.path, keys: member.boxKeys)
        let path = o.from.scratch.file("ordered.cvt")
        var stored = 0
        let file = try FileSystem.openForReading(report.path)
        #expect(throws: VaultError.integrityFailure("the case's history does not verify: forged")) {
            _ = try Vault.unpackTransfer(input: file.read(into:), keys: member.boxKeys, limits: ArchiveLimits(), naming: .blake3,
                                         admit: { _ in throw VaultError.integrityFailure("the case's history does not verify: forged") }) { _, _ in
                stored += 1
                return 0
            }
        }
        #expect(stored == 0)
        var extra = parts
        extra.entries.append(("objects/" + String(repeating: "ab", count: 32), [1, 2, 3]))
        try extra.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "which no version of its case names")
        var reordered = parts
        reordered.entries.swapAt(0, 1)
        try reordered.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "does not begin with history.json")
        var grown = parts
        let object = try #require(grown.entries.firstIndex { $0.0.hasPrefix("objects/") })
        grown.entries[object].1 += [0]
        try grown.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "not the size its version signs")
        var twice = parts
        twice.entries.append(twice.entries[object])
        try twice.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "duplicate name")
        // The untouched parts, sealed again, still import.
        try parts.seal(to: member.boxKeys.publicKey, at: path)
        #expect(try o.to.vault.importCase(from: path, manager: "joseph", by: member).caseNumber == Self.number)
    }

    /// A history is parsed with a budget of values, so a file of small
    /// values (`[0,0,…]`) cannot take gigabytes as a tree before any
    /// signature is checked.
    @Test func aHistoryOfTooManyValuesIsRefusedBeforeItIsBuilt() throws {
        let ten = Array("[1,2,3,4,5,6,7,8,9]".utf8)  // 10 values: the array and nine numbers
        #expect((try? JSONValue(parsing: ten, maximumValues: 10)) != nil)
        #expect((try? JSONValue(parsing: ten, maximumValues: 9)) == nil)
        let flood = Array(("[" + String(repeating: "0,", count: 2_000) + "0]").utf8)
        #expect(throws: VaultError.invalidInput("the case's history is malformed (not a casevault case history)")) {
            _ = try CaseHistory(parsing: flood, maximumValues: 1_000)
        }
        #expect(CaseHistory.maximumValues == 8 << 20)
    }

    @Test func aForgedHistoryIsRefusedEvenWhenSealedToTheRightMember() throws {
        let o = try Offices()
        let report = try o.export()
        let member = o.to["halima"]
        let path = o.from.scratch.file("forged.cvt")
        let clean = try Parts(report.path, keys: member.boxKeys)

        // The unaltered repack imports (so the checks below test what they say) — into a copy-free dry run:
        // verify the history alone.
        _ = try clean.history.verify(toVault: o.to.vault.config.vaultId, toMember: "halima", toBoxPublicKey: member.boxKeys.publicKey.bytes.hexString)

        // A version's record altered (its size), re-encoded canonically.
        var parts = clean
        var history = try parts.history
        let index = try #require(history.records.firstIndex { $0.key.hasPrefix("version/") })
        guard case .object(var record)? = history.records[index].value else { Issue.record("no version record"); return }
        record["size"] = .integer(999)
        history.records[index].value = .object(record)
        parts["history.json"] = history.encoded()
        try parts.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "is not what the signed state holds")

        // A version left out.
        parts = clean
        history = try parts.history
        history.records.remove(at: index)
        parts["history.json"] = history.encoded()
        try parts.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "does not say what")

        // An event's body altered (a filing's date): no longer in the log the checkpoint commits to.
        parts = clean
        history = try parts.history
        let filed = try #require(history.events.firstIndex { String(decoding: $0.body, as: UTF8.self).contains("\"version.filed\"") })
        history.events[filed].body = Array(String(decoding: history.events[filed].body, as: UTF8.self)
            .replacingOccurrences(of: "\"at\":\"20", with: "\"at\":\"19").utf8)
        parts["history.json"] = history.encoded()
        try parts.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path)

        // The checkpoint re-signed by someone the sending log never added.
        parts = clean
        history = try parts.history
        let checkpoint = try Checkpoint(parsing: history.checkpoint)
        let stranger = try o.to.vault.unlock(staffID: "halima", passphrase: try o.to.scratch.passphrase("halima passphrase!"))
        history.checkpoint = try Checkpoint.signed(vaultID: history.fromVault, size: checkpoint.size, root: checkpoint.root, by: stranger).note
        parts["history.json"] = history.encoded()
        try parts.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "checkpoint is not signed")

        // A tier key swapped for one the attacker made (so they could read what is filed later).
        parts = clean
        let attacker = BoxKeyPair()
        parts["keys.json"] = JSONValue.object([
            "team": .object(["publicKey": .string(attacker.publicKey.bytes.hexString),
                             "sealedSecretKey": .string(SealedBox.seal(attacker.secretKey, to: member.boxKeys.publicKey).hexString)]),
            "confidential": try JSONValue(parsing: clean["keys.json"]).objectMember("confidential"),
        ]).canonicalBytes
        try parts.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "names another key")
        // The same, keeping the case's public key beside the attacker's secret.
        let realTeam = try JSONValue(parsing: clean["keys.json"]).objectMember("team").objectMember("publicKey")
        parts["keys.json"] = JSONValue.object([
            "team": .object(["publicKey": realTeam,
                             "sealedSecretKey": .string(SealedBox.seal(attacker.secretKey, to: member.boxKeys.publicKey).hexString)]),
            "confidential": try JSONValue(parsing: clean["keys.json"]).objectMember("confidential"),
        ]).canonicalBytes
        try parts.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "is not the case's")

        // A blob or an object the versions do not name, riding along.
        parts = clean
        let extra = Array("extra".utf8)
        parts.entries.append(("blobs/" + Blake2b.hash(extra).hexString, extra))
        try parts.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "do not name")

        // An object swapped for another's bytes under the same name.
        parts = clean
        let objectName = try #require(parts.entries.first { $0.0.hasPrefix("objects/") }?.0)
        parts[objectName] = [UInt8](repeating: 0x41, count: parts[objectName].count)
        try parts.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "not what its name says")

        // An entry a transfer never holds, and one that climbs out.
        for name in ["notes.txt", "objects/../../escape", "blobs/" + String(repeating: "0", count: 64) + "/x"] {
            parts = clean
            parts.entries.append((name, Array("x".utf8)))
            try parts.seal(to: member.boxKeys.publicKey, at: path)
            try refused(o, path)
        }
        // A transfer that lacks an object.
        parts = clean
        parts.entries.removeAll { $0.0 == objectName }
        try parts.seal(to: member.boxKeys.publicKey, at: path)
        try refused(o, path, message: "lacks the object")

        // And the clean repack does import.
        try clean.seal(to: member.boxKeys.publicKey, at: path)
        _ = try o.to.vault.importCase(from: path, manager: "joseph", by: member)
        #expect(try o.to.vault.verify().isClean)
    }

    @Test func anImportEventNamingAnotherHistoryOrHoldersIsRefusedByTheProjection() throws {
        // A member of the receiving vault signs case.imported themselves,
        // with the keys sealed to someone outside the holders the rules name.
        let o = try Offices()
        let report = try o.export()
        let member = o.to["halima"]
        let parts = try Parts(report.path, keys: member.boxKeys)
        let history = parts["history.json"]
        let fresh = BoxKeyPair(), outsider = BoxKeyPair()
        #expect(throws: VaultError.self) {
            try o.to.vault.write { writer, head in
                let hash = try Ledger.putBlob(history, in: writer)
                let sealed = try Ledger.putBlob(SealedBox.seal(fresh.secretKey, to: outsider.publicKey), in: writer)
                try Ledger.append([.caseImported(CaseImported(
                    case: Self.number, history: hash, manager: "joseph", supervisor: "halima",
                    teamPublicKey: fresh.publicKey.bytes.hexString, confidentialPublicKey: fresh.publicKey.bytes.hexString,
                    holders: [.init(tier: "team", holder: "staff:joseph", holderPublicKey: outsider.publicKey.bytes.hexString, sealedKeyHash: sealed)],
                    versions: [], schemaBodies: []))], by: member, at: Date(), vaultID: o.to.vault.config.vaultId, head: &head, in: writer)
            }
        }
        #expect((try? o.to.vault.caseFile(Self.number)) == nil)
    }
}

private extension JSONValue {
    func objectMember(_ name: String) throws -> JSONValue {
        guard case .object(let members) = self, let value = members[name] else { throw VaultError.invalidInput("no \(name)") }
        return value
    }
}
