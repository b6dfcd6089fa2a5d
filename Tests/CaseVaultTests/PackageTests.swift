@testable import CaseVault
import CaseVaultArchive
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation
import Testing

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

/// Issue 10, items 4 and 6: handover packages, sealed to their recipient or
/// an AES-256 zip, and what `package open` refuses.
@Suite struct PackageTests {
    /// CP-2024-0042 with a team form, a text note, a confidential photo and
    /// a handover under way from grace to joseph (who holds both tiers).
    static func scene(format: Int = VaultConfig.currentFormatVersion, eventFormat: Int? = nil) throws -> Programme {
        let p = try RotationTests.scene(format: format, eventFormat: eventFormat)
        try p.file(Array("Home visit: all well.\n".utf8), name: "Home visit", type: "report")
        let drafts = try p.vault.handoverDrafts(from: "grace", to: "joseph", cases: [RotationTests.number])
        _ = try p.vault.startHandover(from: "grace", to: "joseph", cases: [RotationTests.number],
                                      drafts: [RotationTests.number: completedHandoverDraft(drafts[0].form)], by: p["halima"])
        return p
    }

    static func sha256(_ path: String) throws -> String {
        SHA256.hash(Array(try Data(contentsOf: URL(fileURLWithPath: path)))).hexString
    }

    @Test func aSealedPackageOpensForItsRecipientAndMatchesItsManifest() throws {
        let p = try Self.scene()
        let out = p.scratch.file("handover.cvp")
        let reads = try p.vault.events().filter { $0.type == "content.read" }.count
        let report = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out, by: p["grace"])
        #expect(report.files.map(\.path) == ["CP-2024-0042 [O]/Case handover.json", "CP-2024-0042 [O]/Home visit.txt",
                                             "CP-2024-0042 [O]/Intake form.txt", "CP-2024-0042 [O]/Photo.txt",
                                             "CP-2024-0042 [O]/Case handover (rendered).txt"])
        // Named, in a vault of format 3, by BLAKE3-256 (b3sum), in an event of format 5.
        let onDisk = Array(try Data(contentsOf: URL(fileURLWithPath: out)))
        #expect(report.hash == .blake3 && Blake3.hash(onDisk).hexString == report.digest)
        // Every version in it was a signed read by grace, and the export an event naming the package.
        let events = try p.vault.events()
        #expect(events.filter { $0.type == "content.read" }.count == reads + 5)
        let exported = try #require(events.last)
        #expect(exported.type == "package.exported" && exported.actor == "grace" && exported.body.contains("\"blake3\":\"\(report.digest)\"")
                && !exported.body.contains("blake2b") && exported.body.contains("\"v\":5"))
        // No plaintext in the package file.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        for marker in ["Home visit: all well", "intake 2", "Amani (test)", "MANIFEST"] { #expect(bytes.range(of: Data(marker.utf8)) == nil) }

        let opened = try p.vault.openPackage(at: out, into: p.scratch.file("opened"), by: p["joseph"])
        #expect(opened.files.count == 5)
        // Each file as the export listed it, the rendered form of its case too.
        #expect(opened.files.map(\.path) == report.files.map(\.path) && opened.files.map(\.document) == report.files.map(\.document))
        #expect(opened.files.allSatisfy { $0.caseNumber == RotationTests.number } && report.files.allSatisfy { $0.caseNumber == RotationTests.number })
        for file in opened.files {
            #expect(try Self.sha256(p.scratch.file("opened/" + file.path)) == file.sha256)
        }
        #expect(try String(contentsOfFile: p.scratch.file("opened/CP-2024-0042 [O]/Home visit.txt"), encoding: .utf8) == "Home visit: all well.\n")
        let rendered = try String(contentsOfFile: p.scratch.file("opened/CP-2024-0042 [O]/Case handover (rendered).txt"), encoding: .utf8)
        #expect(rendered.hasPrefix("Case handover\nCase CP-2024-0042 [O] · version 1\n"))
        // The manifest is valid against its schema.
        let schema = try JSONValue(parsing: Array(try Data(contentsOf: repository.appendingPathComponent("Schemas/export-manifest.schema.json"))))
        let manifest = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: p.scratch.file("opened/MANIFEST.json")))))
        #expect(try SchemaValidator(schema: schema).validate(manifest).isEmpty)
        #expect(try p.vault.verify().isClean)
    }

    /// The package's hash is the one its event's format names (SECURITY.md
    /// §12): a vault of format 2 signs format 4, which an older casevault
    /// reads, and names its packages by BLAKE2b-256; a vault of format 3
    /// whose log an older casevault began (format-4 events) still opens the
    /// packages it exported then, and names the next one by BLAKE3-256 in
    /// an event of format 5.
    @Test func aPackageIsNamedByTheHashItsEventsFormatNames() throws {
        func exported(_ p: Programme, _ name: String) throws -> (report: ExportReport, event: String) {
            let report = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: p.scratch.file(name), by: p["grace"])
            return (report, try #require(try p.vault.events().last).body)
        }
        func digest(_ p: Programme, _ name: String, _ hash: ObjectNaming) throws -> String {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: p.scratch.file(name))))
            return (hash == .blake3 ? Blake3.hash(bytes) : Blake2b.hash(bytes)).hexString
        }
        let old = try Self.scene(format: 2)
        let (twoReport, twoEvent) = try exported(old, "format-2.cvp")
        let twoDigest = try digest(old, "format-2.cvp", .blake2b)
        #expect(twoReport.hash == .blake2b && twoReport.digest == twoDigest)
        #expect(twoEvent.contains("\"blake2b\":\"\(twoReport.digest)\"") && !twoEvent.contains("blake3") && twoEvent.contains("\"v\":4"))
        #expect(try old.vault.openPackage(at: old.scratch.file("format-2.cvp"), into: old.scratch.file("opened"), by: old["joseph"]).files.count == 5)
        #expect(try old.vault.verify().isClean)

        let upgraded = try Self.scene(eventFormat: 4)
        let (before, beforeEvent) = try exported(upgraded, "before.cvp")
        #expect(before.hash == .blake2b && beforeEvent.contains("\"v\":4"))
        upgraded.vault.eventFormat = Event.format(forVault: upgraded.vault.config.formatVersion)  // today's casevault
        let (after, afterEvent) = try exported(upgraded, "after.cvp")
        let afterDigest = try digest(upgraded, "after.cvp", .blake3)
        #expect(after.hash == .blake3 && after.digest == afterDigest)
        #expect(afterEvent.contains("\"blake3\":\"\(after.digest)\"") && afterEvent.contains("\"v\":5"))
        for name in ["before", "after"] {
            #expect(try upgraded.vault.openPackage(at: upgraded.scratch.file("\(name).cvp"), into: upgraded.scratch.file("opened-\(name)"),
                                                   by: upgraded["joseph"]).files.count == 5)
        }
        #expect(try upgraded.vault.verify().isClean)
        // A package is named by its own event's hash alone: the BLAKE2b of a
        // BLAKE3-named package is in no event, the BLAKE3 of a BLAKE2b-named one neither.
        let bodies = try upgraded.vault.events().map(\.body)
        for unnamed in [try digest(upgraded, "after.cvp", .blake2b), try digest(upgraded, "before.cvp", .blake3)] {
            #expect(!bodies.contains { $0.contains(unnamed) })
        }

        // Schemas/event.schema.json takes each event, and only with its format's hash.
        let schema = try SchemaValidator(schema: try JSONValue(parsing: Array(try Data(contentsOf: repository.appendingPathComponent("Schemas/event.schema.json")))))
        for body in [twoEvent, beforeEvent, afterEvent] {
            #expect(try schema.validate(try JSONValue(parsing: Array(body.utf8))).isEmpty, "\(body)")
        }
        for (body, from, to) in [(afterEvent, "\"v\":5", "\"v\":4"), (beforeEvent, "\"v\":4", "\"v\":5"),
                                 (afterEvent, "\"blake3\"", "\"blake2b\":\"\(before.digest)\",\"blake3\"")] {
            let edited = body.replacingOccurrences(of: from, with: to)
            let problems = try schema.validate(try JSONValue(parsing: Array(edited.utf8)))
            #expect(edited != body && !problems.isEmpty, "\(edited)")
        }

        // A vault of format 2 never signs format 5: verify says so of an event that
        // does, and a casevault meeting it refuses to go past it (no command then
        // signs format 4 after it, which would take the blame).
        old.vault.eventFormat = 5
        _ = try exported(old, "format-5.cvp")
        #expect(try old.vault.verify().findings.contains { $0.kind == .eventMalformed && $0.detail.contains("is of format 5, which this vault never signs (format 4 at most)") })
        expectIntegrity("is of format 5, which this vault never signs (format 4 at most)") {
            _ = try Vault.open(at: old.vault.path).caseFile(RotationTests.number)
        }
        // An audit bag of that log is refused by its replay, which knows the vault's format from event 1.
        _ = try old.vault.exportAudit(out: old.scratch.file("audit.tar"), by: old["dora"])
        let bag = try AuditBag.verify(at: old.scratch.file("audit.tar"))
        #expect(!bag.passed && bag.checks.contains { !$0.passed && $0.detail.contains("is of format 5, which this vault never signs (format 4 at most)") },
                "\(bag.checks)")
        expectIntegrity("is of format 5, which this vault never signs (format 4 at most)") {  // from an anchor, event by event
            _ = try old.vault.store.read { reader in
                try Trust.catchUp(.empty, reader: reader, vaultID: old.vault.config.vaultId, book: SignerBook())
            }
        }
        // verify takes the vault's format from its signed vault.created, not from
        // casevault.json: edited to say format 3, the file is reported, and so is the event.
        let config = old.vault.path + "/casevault.json"
        let text = try String(contentsOfFile: config, encoding: .utf8)
        #expect(text.contains("\"formatVersion\" : 2"))
        try text.replacingOccurrences(of: "\"formatVersion\" : 2", with: "\"formatVersion\" : 3").write(toFile: config, atomically: true, encoding: .utf8)
        var asVerify = Vault.OpenOptions()
        asVerify.checksOnOpen = false
        let edited = try Vault.open(at: old.vault.path, options: asVerify).verify().findings
        #expect(edited.contains { $0.kind == .configDiffers })
        #expect(edited.contains { $0.kind == .eventMalformed && $0.detail.contains("is of format 5, which this vault never signs (format 4 at most)") },
                "\(edited)")
    }

    /// An event names its package by its format's hash alone: BLAKE2b-256
    /// in format 5, BLAKE3-256 in format 4, or both, is refused, whether
    /// signed (the projection) or found in the log (the parser).
    @Test func aPackageEventNamingTheOtherHashIsRefused() throws {
        let p = try Self.scene()
        let digest = String(repeating: "ab", count: 32)
        var both = PackageExported(recipient: "joseph", format: "sealed", hash: .blake3, digest: digest, entries: [])
        both.blake2b = digest
        let cases: [(Int, PackageExported, String)] = [
            (5, PackageExported(recipient: "joseph", format: "sealed", hash: .blake2b, digest: digest, entries: []), "by blake3 alone"),
            (4, PackageExported(recipient: "joseph", format: "sealed", hash: .blake3, digest: digest, entries: []), "by blake2b alone"),
            (5, both, "by blake3 alone"),
        ]
        for (format, data, why) in cases {
            expectIntegrity(why) {
                _ = try p.vault.write { writer, head in
                    try Ledger.append([.packageExported(data)], by: p["grace"], at: Date(), vaultID: p.vault.config.vaultId,
                                      head: &head, in: writer, format: format)
                }
            }
            let body = try Event(format: format, seq: 9, vault: p.vault.config.vaultId, at: "2026-12-05T10:00:00Z", actor: "grace",
                                 data: .packageExported(data), stateRoot: [UInt8](repeating: 7, count: 32)).body()
            expectIntegrity(why) { _ = try Event(body: body) }
        }
        // And the right one parses.
        let good = PackageExported(recipient: "joseph", format: "sealed", hash: .blake3, digest: digest, entries: [])
        let body = try Event(format: 5, seq: 9, vault: p.vault.config.vaultId, at: "2026-12-05T10:00:00Z", actor: "grace",
                             data: .packageExported(good), stateRoot: [UInt8](repeating: 7, count: 32)).body()
        #expect(try Event(body: body).data == .packageExported(good))
    }

    /// Reads are recorded a group at a time (`readsRecordedTogether`): across
    /// a group's edge, every version in the package is still a signed read by
    /// the exporter, each once, and each file matches its manifest.
    @Test func manyDocumentsAreEachASignedReadAcrossGroups() throws {
        let p = try Self.scene()
        let extra = Vault.readsRecordedTogether.count + 3
        for index in 1...extra { try p.file(Array("note \(index)\n".utf8), name: "Note \(index)", type: "report") }
        let reads = try p.vault.events().filter { $0.type == "content.read" }.count
        let out = p.scratch.file("many.cvp")
        let report = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out, by: p["grace"])
        let documents = report.files.compactMap(\.document)
        #expect(documents.count == extra + 4)
        let events = try p.vault.events()
        let read = events.filter { $0.type == "content.read" }.dropFirst(reads)
        // Each document once, plus the handover form rendered (its second read).
        #expect(read.count == documents.count + 1)
        for document in documents {
            #expect(read.filter { $0.body.contains("\"document\":\"\(document)\"") }.count == (document == "Case handover" ? 2 : 1), "\(document)")
        }
        let opened = try p.vault.openPackage(at: out, into: p.scratch.file("opened"), by: p["joseph"])
        #expect(opened.files.count == report.files.count)
        for file in opened.files { #expect(try Self.sha256(p.scratch.file("opened/" + file.path)) == file.sha256) }
        #expect(try p.vault.verify().isClean)
    }

    /// Groups of reads: at most 32 versions and 64 MiB, one version at least
    /// (a larger one alone), in order, covering every version once.
    @Test func readsAreGroupedByCountAndBytes() {
        let mib = Int64(1 << 20)
        #expect(Vault.readGroups(sizes: []) == [])
        #expect(Vault.readGroups(sizes: Array(repeating: 10, count: 70)) == [0..<32, 32..<64, 64..<70])
        #expect(Vault.readGroups(sizes: [40 * mib, 24 * mib, 1, 100 * mib, 5]) == [0..<2, 2..<3, 3..<4, 4..<5])
        #expect(Vault.readGroups(sizes: [64 * mib, 0, 0]) == [0..<3])
        #expect(Vault.readGroups(sizes: [63 * mib, mib + 1]) == [0..<1, 1..<2])
    }

    /// A package of several MiB goes through every stage of the export
    /// (tar, seal, hash, write) in many buffers, and out directly to the
    /// device where the file system allows, with a tail that is not a whole
    /// block: the file on disk must be exactly the bytes hashed for the event.
    @Test func aLargePackageIsExactlyTheBytesItsEventNames() throws {
        let p = try Self.scene()
        let content = randomBytes(count: 5 * 1024 * 1024 + 12_345)
        try p.file(content, name: "Scan", type: "report")
        let out = p.scratch.file("large.cvp")
        let report = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out, by: p["grace"])
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: out)))
        #expect(Int64(bytes.count) == report.bytes && bytes.count > content.count)
        #expect(Blake3.hash(bytes).hexString == report.digest)
        let opened = try p.vault.openPackage(at: out, into: p.scratch.file("opened"), by: p["joseph"])
        let scan = try #require(opened.files.first { $0.document == "Scan" })
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: p.scratch.file("opened/" + scan.path)))) == content)
        #expect(scan.sha256 == SHA256.hash(content).hexString)
    }

    /// A version whose object was altered fails authentication mid-export,
    /// after megabytes have gone through every stage: the command throws
    /// (every stage stopped, none left waiting), no package appears, and the
    /// log names no export.
    @Test func anExportThatFailsMidStreamLeavesNoPackageAndNoExport() throws {
        let p = try Self.scene()
        let scan = try p.file(randomBytes(count: 5 * 1024 * 1024 + 12_345), name: "Scan", type: "report")
        let object = p.objectPath(scan.objectID)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: object)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: object))
        bytes[bytes.count - 100] ^= 0x01  // in the last chunk: everything before it has been packaged
        try bytes.write(to: URL(fileURLWithPath: object))
        let out = p.scratch.file("failed.cvp")
        let exports = try p.vault.events().filter { $0.type == "package.exported" }.count
        expectIntegrity("failed authentication") {
            _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out, by: p["grace"])
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: p.scratch.path).allSatisfy { !$0.contains("failed") })
        #expect(try p.vault.events().filter { $0.type == "package.exported" }.count == exports)
        // The vault goes on: the same export without the altered document works.
        bytes[bytes.count - 100] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: object))
        _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out, by: p["grace"])
    }

    @Test func aPackageIsRefusedToAnyoneElseAndWhenAlteredOrCutAndNothingIsLeft() throws {
        let p = try Self.scene()
        let out = p.scratch.file("handover.cvp")
        _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out, by: p["grace"])
        let original = try Data(contentsOf: URL(fileURLWithPath: out))
        func refused(_ bytes: Data, by id: String = "joseph", _ check: (VaultError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let path = p.scratch.file("altered-\(UUID().uuidString).cvp")
            try bytes.write(to: URL(fileURLWithPath: path))
            let folder = p.scratch.file("out-\(UUID().uuidString)")
            #expect(sourceLocation: sourceLocation) { _ = try p.vault.openPackage(at: path, into: folder, by: p[id]) } throws: { error in
                (error as? VaultError).map(check) ?? false
            }
            #expect(!FileManager.default.fileExists(atPath: folder), sourceLocation: sourceLocation)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: p.scratch.path).filter { $0.hasPrefix(".casevault-open-") }
            #expect(leftovers.isEmpty, sourceLocation: sourceLocation)
        }
        func isAccessDenied(_ e: VaultError) -> Bool { if case .accessDenied = e { true } else { false } }
        // An altered package is the package's fault, not the vault's: the hint says so.
        func isIntegrity(_ e: VaultError) -> Bool {
            if case .integrityFailure = e { e.hint == "the file was altered, cut or damaged on its way, not this vault: ask whoever sent it to make it again" } else { false }
        }
        #expect(VaultError.integrityFailure("event 3 was altered after it was signed").hint?.hasPrefix("do not write to this vault") == true)
        try refused(original, by: "halima", isAccessDenied)
        var flipped = original
        flipped[flipped.count / 2] ^= 0x01
        try refused(flipped, isIntegrity)
        try refused(original.prefix(original.count - 100), isIntegrity)
        try refused(original.prefix(SealedPackage.headerLength + 30), isIntegrity)
        try refused(original + Data([0]), isIntegrity)
        try refused(Data("not a package".utf8), { if case .invalidInput = $0 { true } else { false } })
        // Another package's key with this one's stream: the key does not open the stream.
        var swapped = original
        let other = p.scratch.file("other.cvp")
        _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: other, by: p["grace"])
        let otherBytes = try Data(contentsOf: URL(fileURLWithPath: other))
        swapped.replaceSubrange(0..<SealedPackage.headerLength, with: otherBytes.prefix(SealedPackage.headerLength))
        try refused(swapped, isIntegrity)
    }

    /// A sender who writes the package by hand (a correctly sealed stream
    /// holding a hostile tar): each hostile archive of the fixtures is
    /// refused, and nothing is left.
    @Test(arguments: ["absolute-path.tar", "dot-dot.tar", "symlink.tar", "hardlink.tar", "device.tar", "fifo.tar",
                      "duplicate-name.tar", "backslash.tar", "zip-dot-dot.zip"])
    func aHostileArchiveInsideAValidSealIsRefused(fixture: String) throws {
        let p = try Programme()
        let tar = try Data(contentsOf: repository.appendingPathComponent("Tests/CaseVaultArchiveTests/Fixtures/\(fixture)"))
        var sealed: [UInt8] = []
        let sealer = try SealedPackage.Sealer(to: p["joseph"].boxKeys.publicKey) { sealed.append(contentsOf: $0) }
        try tar.withUnsafeBytes { try sealer.write($0) }
        try sealer.finish()
        let path = p.scratch.file("hostile.cvp")
        try Data(sealed).write(to: URL(fileURLWithPath: path))
        // No export in the log made it: refused before a byte is decrypted, no staging folder made.
        #expect { _ = try p.vault.openPackage(at: path, into: p.scratch.file("out"), by: p["joseph"]) } throws: { error in
            (error as? VaultError)?.message.contains("no export signed in this vault's log made this package") ?? false
        }
        #expect(!FileManager.default.fileExists(atPath: p.scratch.file("out")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: p.scratch.path).allSatisfy { !$0.hasPrefix(".casevault-open-") })
        // The extractor itself (what the fuzz target drives) refuses the archive, and leaves nothing.
        let file = try FileSystem.openForReading(path)
        #expect(throws: VaultError.self) {
            _ = try Vault.extractPackage(input: file.read(into:), into: p.scratch.file("out"), keys: p["joseph"].keys, recipientID: "joseph",
                                         limits: ArchiveLimits())
        }
        #expect(!FileManager.default.fileExists(atPath: p.scratch.file("out")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: p.scratch.path).allSatisfy { !$0.hasPrefix(".casevault-open-") })
    }

    /// Two documents whose names differ only in case get file names that
    /// differ in more, so the package opens on a disk that ignores case.
    @Test func namesThatDifferOnlyInCaseAreMadeDistinctInAPackage() throws {
        let p = try Self.scene()
        try p.file(Array("upper\n".utf8), name: "Scan", type: "report")
        try p.file(Array("lower\n".utf8), name: "scan", type: "report")
        // One name where names are compared upper-cased (exFAT, NTFS), two when lower-cased.
        try p.file(Array("dotless\n".utf8), name: "Aydın", type: "report")
        try p.file(Array("capitals\n".utf8), name: "AYDIN", type: "report")
        let out = p.scratch.file("cased.cvp")
        _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out, by: p["grace"])
        let opened = try p.vault.openPackage(at: out, into: p.scratch.file("cased"), by: p["joseph"])
        let names = opened.files.compactMap { $0.document == nil ? nil : String($0.path.split(separator: "/").last!) }
        #expect(Set(names.map { $0.lowercased() }).count == names.count && Set(names.map { $0.uppercased() }).count == names.count, "\(names)")
        #expect(names.filter { $0.lowercased().hasPrefix("scan") }.count == 2 && names.filter { $0.uppercased().hasPrefix("AYDIN") }.count == 2)
    }

    /// A package is opened on Windows too (7-Zip): a document named `CON`
    /// or `a:b?` gets a name Windows takes; the manifest keeps the real one.
    @Test func namesWindowsDoesNotTakeArePortableInAPackage() throws {
        let p = try Self.scene()
        try p.file(Array("device\n".utf8), name: "CON", type: "report")
        try p.file(Array("stream\n".utf8), name: "Notes: a?b*", type: "report")
        let out = p.scratch.file("portable.cvp")
        _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out, by: p["grace"])
        let opened = try p.vault.openPackage(at: out, into: p.scratch.file("portable"), by: p["joseph"])
        let byDocument = Dictionary(opened.files.compactMap { file in file.document.map { ($0, String(file.path.split(separator: "/").last!)) } },
                                    uniquingKeysWith: { a, _ in a })
        #expect(byDocument["CON"]?.hasPrefix("_CON") == true && byDocument["Notes: a?b*"]?.hasPrefix("Notes_ a_b_") == true, "\(byDocument)")
    }

    /// The copy of a package that is decrypted (after the original's hash
    /// was checked against the log) is a scratch file no one else can
    /// reach: it has no name in the folder, and holds what was written.
    @Test func thePackagesCheckedCopyHasNoNameAnyoneCouldOpen() throws {
        let scratch = Scratch()
        try FileManager.default.createDirectory(atPath: scratch.file("out"), withIntermediateDirectories: false)
        let copy = try FileSystem.createPrivateScratch(in: scratch.file("out"))
        try copy.write(Array("ciphertext".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("out")).isEmpty)
        #expect(copy.rewind())
        #expect(try copy.readAll(limit: 100) == Array("ciphertext".utf8))
    }

    /// A `package open` killed while it extracts leaves its hidden staging
    /// folder, plaintext, beside the output (a review found 15–110 MB of a
    /// decrypted scan there after `kill -9`, never removed). The next open
    /// in that folder removes it, and the lock file of a run that ended
    /// before renaming its own; a staging folder whose run still holds its
    /// lock, and whatever else lies there, stay.
    @Test func aKilledOpensLeftoversAreRemovedByTheNextAndALiveOnesAreNot() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("intake".utf8))
        try p.vault.grantAccess(to: "joseph", case: "CP-2024-0042", tier: .team, reason: "cover", by: p["halima"])
        let out = p.scratch.file("package.cvp")
        _ = try p.vault.exportHandover(cases: ["CP-2024-0042"], to: "joseph", out: out, by: p["grace"])
        let fm = FileManager.default
        let prefix = Vault.openStagingPrefix
        // A killed run: its folder with a decrypted file, its lock file no process holds.
        let killed = p.scratch.file(prefix + UUID().uuidString)
        try fm.createDirectory(atPath: killed + "/CP-2024-0042 [O]", withIntermediateDirectories: true)
        fm.createFile(atPath: killed + "/CP-2024-0042 [O]/Intake form.json", contents: Data("intake".utf8))
        fm.createFile(atPath: killed + ".lock", contents: nil)
        // One killed before it renamed its lock file an hour ago, and one of an older casevault, which took no lock.
        let unrenamed = p.scratch.file(prefix + UUID().uuidString + ".lock-new")
        fm.createFile(atPath: unrenamed, contents: nil)
        try fm.setAttributes([.modificationDate: Date().addingTimeInterval(-3600)], ofItemAtPath: unrenamed)
        let older = p.scratch.file(prefix + UUID().uuidString)
        try fm.createDirectory(atPath: older, withIntermediateDirectories: false)
        // What is not followed: a link inside a leftover, and a leftover's name on a link.
        let victim = p.scratch.file("victim")
        try fm.createDirectory(atPath: victim, withIntermediateDirectories: false)
        fm.createFile(atPath: victim + "/keep", contents: Data("keep".utf8))
        try fm.createSymbolicLink(atPath: older + "/link", withDestinationPath: victim)
        let linked = p.scratch.file(prefix + UUID().uuidString)
        try fm.createSymbolicLink(atPath: linked, withDestinationPath: victim)
        // A run still going, one that has just made its lock file, and names that only look alike.
        let live = try LockedScratch(in: p.scratch.path, prefix: prefix)
        fm.createFile(atPath: live.folder + "/part", contents: Data("x".utf8))
        let starting = p.scratch.file(prefix + UUID().uuidString + ".lock-new")
        fm.createFile(atPath: starting, contents: nil)
        let alike = [p.scratch.file(prefix + "notes"), p.scratch.file(prefix + "notes.lock")]
        for path in alike { fm.createFile(atPath: path, contents: nil) }

        _ = try p.vault.openPackage(at: out, into: p.scratch.file("opened"), by: p["joseph"])
        for path in [killed, killed + ".lock", unrenamed, older] { #expect(!fm.fileExists(atPath: path), "\(path) stayed") }
        for path in [live.folder + "/part", live.folder + ".lock", starting, victim + "/keep", linked] + alike {
            #expect((try? fm.attributesOfItem(atPath: path)) != nil, "\(path) went")
        }
        try fm.removeItem(atPath: starting)
        try fm.removeItem(atPath: linked)
        live.release()
        #expect(!fm.fileExists(atPath: live.folder + ".lock"))
        try fm.removeItem(atPath: live.folder)
        #expect(try fm.contentsOfDirectory(atPath: p.scratch.path).filter { $0.hasPrefix(prefix) }.sorted() == alike.map { ($0 as NSString).lastPathComponent }.sorted())
    }

    /// An exporter who holds none of the tiers is told so, not that the
    /// recipient may read nothing (a review was told "'joseph' may read no
    /// document" of a case joseph held both tiers of).
    @Test func anExporterWithoutTheTiersIsToldItIsThem() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("intake".utf8))
        #expect(throws: VaultError.accessDenied("'joseph' holds none of the tiers these cases' documents are in, so cannot read them to package them")) {
            _ = try p.vault.exportHandover(cases: ["CP-2024-0042"], to: "grace", out: p.scratch.file("p.cvp"), by: p["joseph"])
        }
        #expect(throws: VaultError.invalidInput("'joseph' may read no document of these cases: grant them the case's tiers first")) {
            _ = try p.vault.exportHandover(cases: ["CP-2024-0042"], to: "joseph", out: p.scratch.file("p.cvp"), by: p["grace"])
        }
        #expect(!FileManager.default.fileExists(atPath: p.scratch.file("p.cvp")))
    }

    /// What an export writes out of the vault does not go into its folder
    /// (a zip's names are in clear; nothing there is the vault's, and
    /// `verify` does not account for it): refused, nothing written.
    @Test func exportsAreNotWrittenInsideTheVault() throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("intake".utf8))
        try p.vault.grantAccess(to: "joseph", case: "CP-2024-0042", tier: .team, reason: "cover", by: p["halima"])
        let inside = p.vault.path + "/objects/package.cvp"
        #expect(throws: VaultError.invalidInput("\(inside) is inside the vault folder; write the package somewhere else")) {
            _ = try p.vault.exportHandover(cases: ["CP-2024-0042"], to: "joseph", out: inside, by: p["grace"])
        }
        let bag = p.vault.path + "/../" + (p.vault.path as NSString).lastPathComponent + "/audit.tar"
        #expect(throws: VaultError.invalidInput("\(bag) is inside the vault folder; write the audit export somewhere else")) {
            _ = try p.vault.exportAudit(out: bag, by: p["peter"])
        }
        #expect(!FileManager.default.fileExists(atPath: inside) && !FileManager.default.fileExists(atPath: p.vault.path + "/audit.tar"))
    }

    /// The opened package's staging folder takes its name without replacing
    /// anything made there since the check: an empty folder (which a plain
    /// rename would silently replace) stays, and so does the staging folder.
    @Test func theOpenedFolderNeverReplacesOneMadeMeanwhile() throws {
        let scratch = Scratch()
        let staging = scratch.file("staging"), taken = scratch.file("taken"), free = scratch.file("free")
        for folder in [staging, taken] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false) }
        FileManager.default.createFile(atPath: staging + "/file", contents: Data("x".utf8))
        #expect(throws: VaultError.alreadyExists("\(taken) already exists")) { try FileSystem.renameNoReplace(staging, to: taken) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: taken).isEmpty)
        #expect(FileManager.default.fileExists(atPath: staging + "/file"))
        try FileSystem.renameNoReplace(staging, to: free)
        #expect(FileManager.default.fileExists(atPath: free + "/file") && !FileManager.default.fileExists(atPath: staging))
    }

    /// A file and a folder of one name (`a`, then `a/b`): refused in words,
    /// not with a raw "not a directory", and nothing is left.
    @Test func aPackageHoldingAFileAndAFolderOfOneNameIsRefusedInWords() throws {
        let p = try Programme()
        var sealed: [UInt8] = []
        let sealer = try SealedPackage.Sealer(to: p["joseph"].boxKeys.publicKey) { sealed.append(contentsOf: $0) }
        let writer = try ArchiveWriter(format: .paxTar, write: sealer.write)
        for name in ["CP-2024-0042 [O]/a", "CP-2024-0042 [O]/a/b"] {
            try writer.beginFile(path: name, size: 1, modificationTime: 0, permissions: 0o600)
            try [UInt8(0x41)].withUnsafeBytes { try writer.write($0) }
            try writer.finishEntry()
        }
        try writer.finish()
        try sealer.finish()
        let path = p.scratch.file("file-and-folder.cvp")
        try Data(sealed).write(to: URL(fileURLWithPath: path))
        let file = try FileSystem.openForReading(path)
        #expect {
            _ = try Vault.extractPackage(input: file.read(into:), into: p.scratch.file("out"), keys: p["joseph"].keys, recipientID: "joseph",
                                         limits: ArchiveLimits())
        } throws: { error in
            (error as? VaultError)?.message.contains("something that is not a folder has that name") ?? false
        }
        #expect(!FileManager.default.fileExists(atPath: p.scratch.file("out")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: p.scratch.path).allSatisfy { !$0.hasPrefix(".casevault-open-") })
    }

    @Test func onlyReadersExportToReadersAndAZipNeedsALongPassphrase() throws {
        let p = try Self.scene()
        let out = p.scratch.file("x.cvp")
        #expect(throws: VaultError.self) { _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out, by: p["farah"]) }
        #expect(throws: VaultError.self) { _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "farah", out: out, by: p["grace"]) }
        #expect(throws: VaultError.self) {
            _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out,
                                           zipPassphrase: try p.scratch.passphrase("too short"), by: p["grace"])
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        // A project director holds no confidential tier: the photo is left out, and said so.
        let report = try p.vault.exportHandover(cases: [RotationTests.number], to: "dora", out: out, by: p["grace"])
        #expect(report.leftOut.map(\.document) == ["Photo"])
        expectIntegrity("may not read the confidential tier") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.packageExported(PackageExported(recipient: "dora", format: "sealed", hash: .blake3, digest: String(repeating: "ab", count: 32),
                                                                    entries: [.init(case: RotationTests.number, document: "Photo", version: 1)]))],
                                  by: p["grace"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
    }

    /// A package sealed to joseph by hand, as anyone with his public key
    /// could: a pax tar of `files` and a handover manifest listing
    /// `manifestEntries` (path, size, SHA-256) for case CP-2024-0042.
    static func handSealed(_ p: Programme, _ name: String, files: [(String, [UInt8])],
                           manifestEntries: [(path: String, size: Int, sha256: String)], cases: [JSONValue]? = nil) throws -> String {
        var sealed: [UInt8] = []
        let sealer = try SealedPackage.Sealer(to: p["joseph"].boxKeys.publicKey) { sealed.append(contentsOf: $0) }
        let writer = try ArchiveWriter(format: .paxTar, write: sealer.write)
        let entries = manifestEntries.map { entry in
            JSONValue.object(["path": .string(entry.path), "version": .integer(1), "size": .integer(Int64(entry.size)), "sha256": .string(entry.sha256)])
        }
        let manifest = Array(JSONValue.object([
            "format": .string("casevault-export-manifest"), "formatVersion": .integer(1), "kind": .string("handover"),
            "recipient": .object(["staffId": .string("joseph"), "publicKey": .string(p["joseph"].member.boxPublicKeyHex)]),
            "cases": .array(cases ?? [.object(["number": .string("CP-2024-0042"), "entries": .array(entries)])]),
        ]).canonicalBytes)
        for (path, bytes) in files + [("MANIFEST.json", manifest)] {
            try writer.beginFile(path: path, size: Int64(bytes.count), modificationTime: 0)
            try bytes.withUnsafeBytes { try writer.write($0) }
            try writer.finishEntry()
        }
        try writer.finish()
        try sealer.finish()
        let path = p.scratch.file(name)
        try Data(sealed).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The extractor compares each file it wrote with the manifest: files
    /// larger than its 1 MiB write block and than the 4 MiB held for
    /// hashing two files at a time, and empty ones, open when the manifest
    /// agrees; the same package with two files' SHA-256 swapped in its
    /// manifest, or with a file the manifest leaves out, is refused, and
    /// nothing is left.
    @Test func theExtractorHoldsEveryFileToItsManifestEntry() throws {
        let p = try Programme()
        let files: [(String, [UInt8])] = [
            ("CP-2024-0042 [O]/a.bin", pattern((5 << 20) + 17, seed: 1)), ("CP-2024-0042 [O]/b.bin", pattern(3 << 20, seed: 2)),
            ("CP-2024-0042 [O]/empty.txt", []), ("CP-2024-0042 [O]/c.txt", pattern(100, seed: 3)),
        ]
        func package(_ name: String, listing: [(String, [UInt8])], shas: [String]) throws -> String {
            try Self.handSealed(p, name, files: files, manifestEntries: zip(listing, shas).map { ($0.0, $0.1.count, $1) })
        }
        func extract(_ path: String, into out: String) throws -> OpenedPackage {
            let file = try FileSystem.openForReading(path)
            return try Vault.extractPackage(input: file.read(into:), into: out, keys: p["joseph"].keys, recipientID: "joseph", limits: ArchiveLimits())
        }
        let shas = files.map { SHA256.hash($0.1).hexString }
        let opened = try extract(try package("good.cvp", listing: files, shas: shas), into: p.scratch.file("good"))
        #expect(opened.files.map(\.sha256) == shas)
        for (path, bytes) in files { #expect(try Data(contentsOf: URL(fileURLWithPath: p.scratch.file("good") + "/" + path)) == Data(bytes), "\(path)") }

        var swapped = shas
        swapped.swapAt(0, 1)
        expectIntegrity("differs from its manifest") { _ = try extract(try package("swapped.cvp", listing: files, shas: swapped), into: p.scratch.file("swapped")) }
        expectIntegrity("is in the package but not in its manifest") {
            _ = try extract(try package("unlisted.cvp", listing: Array(files.dropLast()), shas: Array(shas.dropLast())), into: p.scratch.file("unlisted"))
        }
        for out in ["swapped", "unlisted"] { #expect(!FileManager.default.fileExists(atPath: p.scratch.file(out))) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: p.scratch.path).allSatisfy { !$0.hasPrefix(".casevault-open-") })
    }

    /// An export records its reads a group at a time (32 versions or 64
    /// MiB), each group authorised just before its bytes are released: a
    /// revocation committed between two groups stops the export at the
    /// next one. The refusal is a signed event, the package is not left
    /// behind, and no package.exported is signed; the first group's reads
    /// stay in the log, as they happened.
    @Test func aRevocationBetweenTwoGroupsStopsTheExport() throws {
        let p = try Self.scene()
        for index in 1...30 { try p.file(Array("note \(index)\n".utf8), name: "Note \(index)", type: "report") }
        let documents = try p.vault.latestVersions(caseNumber: RotationTests.number).count
        #expect(documents > Vault.readsRecordedTogether.count)
        let before = try p.vault.events().count
        let out = p.scratch.file("revoked.cvp")
        var groups: [Int] = []
        var refusal: (any Error)?
        do {
            _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "halima", out: out, zipPassphrase: nil, by: p["joseph"], now: Date()) {
                groups.append($0)
                if $0 == 1 { _ = try p.vault.revokeAccess(from: "joseph", case: RotationTests.number, reason: "left the team", by: p["halima"]) }
            }
        } catch { refusal = error }
        guard case .accessDenied? = refusal as? VaultError else {
            Issue.record("the export was not refused for access: \(String(describing: refusal))")
            return
        }
        #expect(groups == [0, 1])
        #expect(!FileManager.default.fileExists(atPath: out))
        let after = try p.vault.events().dropFirst(before)
        #expect(after.filter { $0.type == "content.read" && $0.actor == "joseph" }.count == Vault.readsRecordedTogether.count)
        #expect(after.contains { $0.type == "case.key-rotated" && $0.actor == "halima" }, "\(after.map(\.type))")
        #expect(after.contains { $0.type == "content.refused" && $0.actor == "joseph" })
        #expect(!after.contains { $0.type == "package.exported" })
        #expect(try p.vault.verify().findings.isEmpty)
    }

    /// The manifest puts each case in a folder of its own: one that puts two
    /// cases in one folder (whose rendered form would then be of either) is
    /// refused, and nothing is left.
    @Test func aManifestWithTwoCasesInOneFolderIsRefused() throws {
        let p = try Programme()
        let body = Array("Visit notes\n".utf8), folder = "CP-2024-0042 [O]"
        let entry = JSONValue.object(["path": .string(folder + "/Notes.txt"), "version": .integer(1), "size": .integer(Int64(body.count)),
                                      "sha256": .string(SHA256.hash(body).hexString)])
        func sealed(_ name: String, secondFolder: String) throws -> String {
            try Self.handSealed(p, name, files: [(folder + "/Notes.txt", body)], manifestEntries: [], cases: [
                .object(["number": .string("CP-2024-0042"), "folder": .string(folder), "entries": .array([entry])]),
                .object(["number": .string("CP-2024-0043"), "folder": .string(secondFolder), "entries": .array([])]),
            ])
        }
        func extract(_ path: String, into out: String) throws -> OpenedPackage {
            let file = try FileSystem.openForReading(path)
            return try Vault.extractPackage(input: file.read(into:), into: out, keys: p["joseph"].keys, recipientID: "joseph", limits: ArchiveLimits())
        }
        #expect(try extract(try sealed("apart.cvp", secondFolder: "CP-2024-0043 [O]"), into: p.scratch.file("apart")).files.map(\.caseNumber)
                == ["CP-2024-0042"])
        #expect(throws: VaultError.invalidInput("the package's manifest is malformed: two cases in one folder")) {
            _ = try extract(try sealed("together.cvp", secondFolder: folder), into: p.scratch.file("together"))
        }
        #expect(!FileManager.default.fileExists(atPath: p.scratch.file("together")))
    }

    /// Anyone with joseph's public key can seal a package to him, with a
    /// manifest that agrees with its files: refused, since no export in the
    /// vault's log made it. So is a package with its final chunk dropped
    /// (only the tar's padding), and one opened inside the vault folder.
    @Test func aPackageNoExportMadeOrCutAtAChunkOrOpenedInTheVaultIsRefused() throws {
        let p = try Self.scene()
        let body = Array("Please call me on this number.\n".utf8)
        let forged = try Self.handSealed(p, "forged.cvp", files: [("CP-2024-0042 [O]/Note.txt", body)],
                                         manifestEntries: [("CP-2024-0042 [O]/Note.txt", body.count, SHA256.hash(body).hexString)])
        expectIntegrity("no export signed in this vault's log made this package") {
            _ = try p.vault.openPackage(at: forged, into: p.scratch.file("forged-out"), by: p["joseph"])
        }
        #expect(!FileManager.default.fileExists(atPath: p.scratch.file("forged-out")))

        // A real package without its last chunk (the tar's padding only).
        let out = p.scratch.file("real.cvp")
        _ = try p.vault.exportHandover(cases: [RotationTests.number], to: "joseph", out: out, by: p["grace"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        let stream = bytes.count - SealedPackage.headerLength - SecretStream.headerLength
        let last = stream % SecretStream.cipherChunkSize
        #expect(last > 0)
        try bytes.prefix(bytes.count - last).write(to: URL(fileURLWithPath: p.scratch.file("cut.cvp")))
        // Its hash is no export's: refused before anything is decrypted; and the extractor
        // itself refuses a stream cut at a chunk boundary before its final chunk.
        expectIntegrity("no export signed in this vault's log made this package") {
            _ = try p.vault.openPackage(at: p.scratch.file("cut.cvp"), into: p.scratch.file("cut-out"), by: p["joseph"])
        }
        let cut = try FileSystem.openForReading(p.scratch.file("cut.cvp"))
        expectIntegrity("cut short") {
            _ = try Vault.extractPackage(input: cut.read(into:), into: p.scratch.file("cut-out"), keys: p["joseph"].keys, recipientID: "joseph",
                                         limits: ArchiveLimits())
        }
        #expect(!FileManager.default.fileExists(atPath: p.scratch.file("cut-out")))
        // Never into the vault's own folder.
        #expect(throws: VaultError.self) { _ = try p.vault.openPackage(at: out, into: p.vault.path + "/opened", by: p["joseph"]) }
        #expect(!FileManager.default.fileExists(atPath: p.vault.path + "/opened"))
        // Nor through a link on the way to a folder not made yet.
        let link = p.scratch.file("to-the-vault")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: p.vault.path)
        #expect(throws: VaultError.invalidInput("\(link)/opened is inside the vault folder; open the package somewhere else")) {
            _ = try p.vault.openPackage(at: out, into: link + "/opened", by: p["joseph"])
        }
        #expect(!FileManager.default.fileExists(atPath: p.vault.path + "/opened"))
        #expect(FileSystem.isInside(link + "/a/b", p.vault.path) && !FileSystem.isInside(p.scratch.file("elsewhere/a"), p.vault.path))
        // Nor through a link into the vault followed by "..", which the kernel resolves after the link.
        let objects = p.scratch.file("to-the-objects")
        try FileManager.default.createSymbolicLink(atPath: objects, withDestinationPath: p.vault.path + "/objects")
        #expect(throws: VaultError.self) { _ = try p.vault.openPackage(at: out, into: objects + "/../opened", by: p["joseph"]) }
        #expect(!FileManager.default.fileExists(atPath: p.vault.path + "/opened"))
    }
}
