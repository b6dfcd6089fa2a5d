@testable import CaseVault
import CaseVaultSQLite
import CaseVaultCrypto
import Foundation
import Testing

/// Vaults written by earlier versions must keep opening and reading
/// (style rule 8). Each fixture is copied first: opening may write.
@Suite struct FixtureVaultTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    private func open(_ name: String, in scratch: Scratch) throws -> Vault {
        let copy = scratch.file(name)
        try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent(name).path, toPath: copy)
        return try Vault.open(at: copy)
    }

    @Test func formatOneVaultStillOpensAndReads() throws {
        let scratch = Scratch()
        let vault = try open("vault-format-1", in: scratch)
        #expect(vault.config.formatVersion == 1)
        #expect(try vault.staff().map(\.id) == ["amina", "farah", "grace", "halima"])
        #expect(try vault.cases().map(\.label) == ["CP-2024-0042 [O]"])
        let grace = try vault.unlock(staffID: "grace", passphrase: try scratch.passphrase("grace fixture passphrase"))
        func read(_ name: String, _ version: Int? = nil) throws -> String {
            var out: [UInt8] = []
            try vault.read(caseNumber: "CP-2024-0042", document: name, version: version, by: grace) { out.append(contentsOf: $0) }
            return String(decoding: out, as: UTF8.self)
        }
        #expect(try read("Intake form", 1) == #"{"form":"intake","child":"Fixture Child","v":1}"# + "\n")
        #expect(try read("Intake form") == #"{"form":"intake","child":"Fixture Child","v":2}"# + "\n")
        #expect(try read("Scan") == String(repeating: "z", count: 200_000))
        #expect(try vault.checkReferences().missingObjects.isEmpty)
        // The log as written (13 events: no recovery key, no director, so
        // four grants), then the three reads above.
        let events = try vault.events()
        #expect(events.map(\.type) == ["vault.created", "staff.added", "staff.added", "staff.added", "staff.added",
                                       "case.opened"] + Array(repeating: "grant.given", count: 4)
                                      + ["version.filed", "version.filed", "version.filed"]
                                      + Array(repeating: "content.read", count: 3))
        #expect(events.map(\.seq) == Array(1...16))
        // The first event after format 1 signed the rebuilt state map.
        #expect(try JSONValue(parsing: Array(events[12].body.utf8))["v"] == .integer(1))
        #expect(try JSONValue(parsing: Array(events[13].body.utf8))["state"]?.stringValue?.count == 64)
    }

    /// Untouched, the fixture verifies and replays exactly: its rows, as
    /// migrated, are what its format-1 events give.
    @Test func formatOneVaultVerifiesAndReplaysExactly() throws {
        let scratch = Scratch()
        let vault = try open("vault-format-1", in: scratch)
        let report = try vault.verify(VerifyOptions(readData: .all))
        #expect(report.isClean, "\(report.findings)")
        #expect(report.events == 13 && report.objectsRead == 3)
        #expect(try ReplayTests.compare(vault).isEmpty)
        // Members added before format 2 unlock without an anchor until they
        // change their passphrase, which seals one.
        let grace = try vault.unlock(staffID: "grace", passphrase: try scratch.passphrase("grace fixture passphrase"))
        #expect(!grace.isAnchored)
        try vault.changePassphrase(of: grace, to: try scratch.passphrase("grace's format-2 passphrase"))
        let again = try Vault.open(at: vault.path).unlock(staffID: "grace", passphrase: try scratch.passphrase("grace's format-2 passphrase"))
        #expect(again.isAnchored)
        #expect(try vault.verify().isClean)
        #expect(try ReplayTests.compare(try Vault.open(at: vault.path)).isEmpty)
    }

    /// Format 2 as first released (scripts/make-fixture-vault.sh): every
    /// later casevault opens, reads and verifies it as it is, so its state
    /// map, records and counts are fixed by it.
    @Test func formatTwoVaultStillOpensReadsAndVerifies() throws {
        let scratch = Scratch()
        let vault = try open("vault-format-2", in: scratch)
        #expect(vault.config.formatVersion == 2)
        #expect(try vault.staff().map(\.id) == ["amina", "dora", "farah", "grace", "halima"])
        #expect(try vault.cases().map(\.label) == ["CP-2024-0042 [O]"])
        #expect(try vault.holders(of: "CP-2024-0042").map { "\($0.tier.rawValue) \($0.holder)" }.sorted() == [
            "confidential recovery", "confidential staff:grace", "confidential staff:halima",
            "team recovery", "team staff:dora", "team staff:grace", "team staff:halima"])
        let clean = try vault.verify(VerifyOptions(readData: .all))
        #expect(clean.isClean && clean.notes.isEmpty, "\(clean.findings)")
        #expect(clean.events == 23 && clean.objectsRead == 5)
        #expect(try ReplayTests.compare(vault).isEmpty)
        #expect(try vault.latestVersions(caseNumber: "CP-2024-0042").map(\.document)
                == ["Caf\u{E9} visit", "Home visit (programme)", "Intake form", "Scan"])
        #expect(try vault.formSchemas().contains { $0.type == "home-visit" && $0.version == 1 })
        let grace = try vault.unlock(staffID: "grace", passphrase: try scratch.passphrase("grace fixture passphrase"))
        #expect(grace.isAnchored)
        func read(_ name: String, _ version: Int? = nil) throws -> String {
            var out: [UInt8] = []
            try vault.read(caseNumber: "CP-2024-0042", document: name, version: version, by: grace) { out.append(contentsOf: $0) }
            return String(decoding: out, as: UTF8.self)
        }
        #expect(try read("Intake form", 1) == #"{"form":"intake","child":"Fixture Child","v":1}"# + "\n")
        #expect(try read("Scan") == String(repeating: "z", count: 200_000))
        #expect(try read("Cafe\u{301} visit") == "notes from the visit, caf\u{E9} on the corner\n")
        #expect(try read("Home visit (programme)").contains("\"form\": \"home-visit\""))
        // Filed before file names were kept: -o FOLDER/ names it by document and version.
        try FileManager.default.createDirectory(atPath: scratch.file("out"), withIntermediateDirectories: true)
        let written = try vault.retrieve(caseNumber: "CP-2024-0042", document: "Scan", by: grace, to: .folder(path: scratch.file("out")))
        #expect(written.fileInfo == nil && written.writtenTo == scratch.file("out") + "/Scan v1")
        // Farah changed her passphrase; the old one no longer opens her keys.
        #expect(throws: VaultError.wrongPassphrase(staffID: "farah")) {
            try vault.unlock(staffID: "farah", passphrase: try scratch.passphrase("farah fixture passphrase"))
        }
        #expect(try vault.unlock(staffID: "farah", passphrase: try scratch.passphrase("farah format-2 passphrase")).isAnchored)
        // The trail as written, and this test's reads after it.
        let events = try vault.events()
        #expect(events[21].type == "content.read" && events[21].actor == "grace")
        #expect(events[22].type == "content.refused" && events[22].actor == "dora")
        #expect(events.count == 23 + 5)
    }

    /// Format 3 changed only how new objects are named (SECURITY.md §9):
    /// a format-2 vault goes on naming by BLAKE2b, so a casevault that
    /// reads only format 2 still checks it; a case it sends to a format-3
    /// vault keeps its BLAKE2b names there beside the BLAKE3 ones filed
    /// after, and both vaults verify, reading every object. A BLAKE2b-named
    /// object altered in the format-3 vault is still caught.
    @Test func aFormatTwoVaultNamesByBlake2bAndACaseItSendsKeepsItsNames() throws {
        let scratch = Scratch()
        let old = try open("vault-format-2", in: scratch)
        #expect(old.objects.naming == .blake2b)
        let farah = try old.unlock(staffID: "farah", passphrase: try scratch.passphrase("farah format-2 passphrase"))
        let input = scratch.file("note.txt")
        try Data("filed after the upgrade".utf8).write(to: URL(fileURLWithPath: input))
        let filed = try old.file(caseNumber: "CP-2024-0042", name: "Late note", type: "note", from: .file(path: input), by: farah)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: old.objects.path(of: ObjectID(hex: filed.objectID)!))))
        #expect(filed.objectID == Blake2b.hash(bytes).hexString)

        let new = try Programme()
        #expect(new.vault.config.formatVersion == 3 && new.vault.objects.naming == .blake3)
        let halima = try old.unlock(staffID: "halima", passphrase: try scratch.passphrase("halima fixture passphrase"))
        let sent = try old.exportCase("CP-2024-0042", to: try new.vault.identity(for: "halima"), out: scratch.file("case.cvt"),
                                      reason: "the family moved", by: halima)
        _ = try new.vault.importCase(from: sent.path, manager: "joseph", by: new["halima"])
        #expect(try new.read("CP-2024-0042", "Late note", by: "joseph") == Array("filed after the upgrade".utf8))
        let moved = try new.vault.versions(caseNumber: "CP-2024-0042", document: nil)
        #expect(moved.count == 6 && moved.allSatisfy { version in
            let path = new.vault.objects.path(of: ObjectID(hex: version.objectID)!)
            return (try? Data(contentsOf: URL(fileURLWithPath: path))).map { Blake2b.hash([UInt8]($0)).hexString == version.objectID } ?? false
        })
        let later = try new.file(Array("filed in the new office".utf8), name: "New note", type: "note")
        let laterBytes = try Data(contentsOf: URL(fileURLWithPath: new.objectPath(later.objectID)))
        #expect(later.objectID == Blake3.hash([UInt8](laterBytes)).hexString)

        let everything = VerifyOptions(readData: .all)
        for vault in [old, new.vault] {
            let report = try vault.verify(everything)
            #expect(report.isClean && report.objectsRead > 0, "\(report.findings)")
        }
        // One byte of a BLAKE2b-named object changed in the BLAKE3 vault.
        let victim = new.objectPath(filed.objectID)
        let handle = try #require(FileHandle(forUpdatingAtPath: victim))
        try handle.seek(toOffset: 30)
        let byte = try #require(try handle.read(upToCount: 1))
        try handle.seek(toOffset: 30)
        try handle.write(contentsOf: Data([byte[0] ^ 1]))
        try handle.close()
        let altered = try new.vault.verify(everything)
        #expect(altered.findings.map(\.kind) == [.objectAltered] && altered.findings.first?.subject == "object \(filed.objectID)")
    }

    /// The other way is refused: a vault of format 2 keeps only names
    /// every casevault can check. The sender sees it in the receiving
    /// identity (`vaultFormat`, absent from an older casevault's) and
    /// refuses before signing anything; an identity that claims format 3
    /// for a vault of format 2 gets as far as the file, which that vault
    /// refuses (-v3 or -v4) before reading past its header. Nothing is
    /// written on either side but the transfer the false claim let through.
    @Test func aFormatTwoVaultRefusesACaseFromAFormatThreeVault() throws {
        let scratch = Scratch()
        let old = try open("vault-format-2", in: scratch)
        let new = try Programme()
        let number = try new.openCase(client: 7)
        try new.file(Array("filed in a format-3 vault".utf8), into: number, name: "Note", type: "note")
        let halima = try old.unlock(staffID: "halima", passphrase: try scratch.passphrase("halima fixture passphrase"))
        let identity = try old.identity(for: "halima")
        #expect(identity.vaultFormat == 2 && identity.text.contains("\"vaultFormat\": 2"))
        let olderCasevault = try VaultIdentity(parsing: Array(identity.text.replacingOccurrences(of: ",\n  \"vaultFormat\": 2", with: "").utf8))
        #expect(olderCasevault.vaultFormat == nil && olderCasevault.fingerprint == identity.fingerprint)
        let events = try new.vault.events().count
        for (to, says) in [(identity, "is of format 2"), (olderCasevault, "does not say its vault's format")] {
            #expect {
                _ = try new.vault.exportCase(number, to: to, out: new.scratch.file("refused.cvt"), reason: "the family moved", by: new["halima"])
            } throws: { error in
                guard case VaultError.invalidInput(let message) = error else { return false }
                return message.contains(says) && message.contains("needs a vault of format 3")
            }
        }
        #expect(try new.vault.events().count == events && !FileManager.default.fileExists(atPath: new.scratch.file("refused.cvt")))
        #expect(throws: VaultError.self) {
            try VaultIdentity(parsing: Array(identity.text.replacingOccurrences(of: "\"vaultFormat\": 2", with: "\"vaultFormat\": \"3\"").utf8))
        }

        let claimsThree = try VaultIdentity(parsing: Array(identity.text.replacingOccurrences(of: "\"vaultFormat\": 2", with: "\"vaultFormat\": 3").utf8))
        for fileNames in [true, false] {
            let sent = try new.vault.exportCase(number, to: claimsThree, out: new.scratch.file("case-\(fileNames).cvt"),
                                                reason: "the family moved", fileNames: fileNames, by: new["halima"])
            let before = (try old.events().count, try old.objects.allObjects())
            #expect {
                _ = try old.importCase(from: sent.path, manager: "grace", by: halima)
            } throws: { error in
                guard case VaultError.invalidInput(let message) = error else { return false }
                return message.contains("comes from a vault of format 3") && message.contains("import the case into a vault of format 3")
            }
            #expect(try old.events().count == before.0 && (try old.objects.allObjects()) == before.1)
        }
        #expect(try old.verify(VerifyOptions(readData: .all)).isClean)
    }

    /// `init --vault-format 2`, for an office that must still send cases to
    /// vaults of format 2: its objects are named by BLAKE2b, and its cases
    /// go (as -v2 files) to a vault of either format, which reads and
    /// verifies them. Formats 1 and 4 are not made.
    @Test func aVaultMadeAtFormatTwoNamesByBlake2bAndSendsToEither() throws {
        let old = try Programme(format: 2)
        #expect(old.vault.config.formatVersion == 2 && old.vault.objects.naming == .blake2b)
        #expect(try old.vault.identity(for: "halima").vaultFormat == 2)
        for (client, format) in [(1, 2), (2, 3)] {
            let number = try old.openCase(client: client)
            let filed = try old.file(Array("filed at format 2, client \(client)".utf8), into: number)
            let object = try Data(contentsOf: URL(fileURLWithPath: old.objectPath(filed.objectID)))
            #expect(filed.objectID == Blake2b.hash([UInt8](object)).hexString)
            let to = try Programme(format: format)
            let sent = try old.vault.exportCase(number, to: try to.vault.identity(for: "halima"), out: old.scratch.file("\(number).cvt"),
                                                reason: "the family moved", by: old["halima"])
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: sent.path)).prefix(22)) == SealedPackage.transferMagicV2)
            _ = try to.vault.importCase(from: sent.path, manager: "joseph", by: to["halima"])
            #expect(try to.read(number, by: "joseph") == Array("filed at format 2, client \(client)".utf8))
            #expect(try to.vault.verify(VerifyOptions(readData: .all)).isClean)
        }
        #expect(try old.vault.verify(VerifyOptions(readData: .all)).isClean)
        for format in [1, 4] {
            let scratch = Scratch()
            #expect(throws: VaultError.self) { _ = try makeVault(in: scratch, format: format) }
            #expect(!FileManager.default.fileExists(atPath: scratch.file("vault")))
        }
    }

    /// Events of body format 3, written by casevault at c1b6781
    /// (scripts/make-fixture-vault-events-3.sh), doing what format 4 now
    /// refuses: a move out of a closed case, a director's hold released by
    /// the admin, a disposal relying on a director who left after
    /// approving. They replay as they were accepted, and a format-4 event
    /// follows them.
    @Test func formatThreeEventsReplayAsAcceptedAndFormatFourFollows() throws {
        let scratch = Scratch()
        let vault = try open("vault-events-format-3", in: scratch)
        let clean = try vault.verify(VerifyOptions(readData: .all))
        #expect(clean.isClean && clean.notes.isEmpty, "\(clean.findings)")
        #expect(try ReplayTests.compare(vault).isEmpty)
        let events = try vault.events()
        let bodies = try events.map { try JSONValue(parsing: Array($0.body.utf8)) }
        #expect(bodies.dropFirst(2).allSatisfy { $0["v"]?.integerValue == 3 })
        #expect(events.contains { $0.type == "document.moved" } && events.contains { $0.type == "case.hold-released" && $0.actor == "amina" })
        #expect(try vault.disposalCertificate("CP-2020-0001").approvals.map(\.by).sorted() == ["dora", "halima"])
        #expect(try vault.staff().first { $0.id == "dora" }?.left != nil)
        // The next event is format 4, and the whole still verifies.
        let farah = try vault.unlock(staffID: "farah", passphrase: try scratch.passphrase("farah fixture passphrase"))
        let path = scratch.file("after.txt")
        try Data("filed after the upgrade\n".utf8).write(to: URL(fileURLWithPath: path))
        try vault.file(caseNumber: "CP-2020-0002", name: "After the upgrade", type: "note", from: .file(path: path), by: farah)
        let last = try JSONValue(parsing: Array(try vault.events().last!.body.utf8))
        #expect(last["v"]?.integerValue == 4)
        #expect(try vault.verify().isClean)
    }

    /// A format-1 catalog edited before it was ever opened by format 2 is
    /// refused: the rows must equal the replayed log.
    @Test func anEditedFormatOneCatalogIsRefused() throws {
        let scratch = Scratch()
        let copy = scratch.file("vault-format-1")
        try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent("vault-format-1").path, toPath: copy)
        try attack(at: copy, "UPDATE cases SET manager_id = 'halima'")
        #expect(throws: VaultError.integrityFailure("the catalog differs from its signed log: cases row CP-2024-0042 differs in manager")) {
            _ = try Vault.open(at: copy)
        }
    }
}
