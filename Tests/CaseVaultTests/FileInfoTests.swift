@testable import CaseVault
import CaseVaultCrypto
import Foundation
import Testing

/// Issue 12, item 3: a version's original file name and media type are
/// kept, encrypted with it, and restored by `retrieve(to: .folder)`.
@Suite struct FileInfoTests {
    func fileNamed(_ name: String, _ bytes: [UInt8], in p: Programme, as document: String = "Scan",
                   type: String = "report") throws -> VersionInfo {
        try FileManager.default.createDirectory(atPath: p.scratch.file("in"), withIntermediateDirectories: true)
        let path = p.scratch.file("in/" + name)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return try p.vault.file(caseNumber: "CP-2024-0042", name: document, type: type, from: .file(path: path), by: p["farah"])
    }

    func folder(_ p: Programme, _ name: String = "out") throws -> String {
        let path = p.scratch.file(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func theOriginalNameAndTypeComeBackAndAreNowhereInClear() throws {
        let p = try Programme()
        try p.openCase()
        let pdf = Array("%PDF-1.7\n".utf8) + pattern(5_000)
        try fileNamed("Zawadi scan 12 May.pdf", pdf, in: p)
        let out = try folder(p)
        let got = try p.vault.retrieve(caseNumber: "CP-2024-0042", document: "Scan", by: p["grace"], to: .folder(path: out))
        #expect(got.writtenTo == out + "/Zawadi scan 12 May.pdf")
        #expect(got.fileInfo == FileInfo(name: "Zawadi scan 12 May.pdf", mediaType: "application/pdf"))
        #expect(FileManager.default.contents(atPath: out + "/Zawadi scan 12 May.pdf") == Data(pdf))
        // Never over an existing file: a second read into the same folder is refused, the first file intact;
        // the refusal names the file, so the read was recorded before it.
        let reads = try p.vault.events().filter { $0.type == "content.read" }.count
        #expect(throws: VaultError.self) {
            try p.vault.retrieve(caseNumber: "CP-2024-0042", document: "Scan", by: p["grace"], to: .folder(path: out))
        }
        #expect(try p.vault.events().filter { $0.type == "content.read" }.count == reads + 1)
        #expect(FileManager.default.contents(atPath: out + "/Zawadi scan 12 May.pdf") == Data(pdf))
        // The name is in no file of the vault.
        for file in FileManager.default.enumerator(atPath: p.vault.path)?.allObjects as? [String] ?? [] {
            guard let data = FileManager.default.contents(atPath: p.vault.path + "/" + file) else { continue }
            #expect(data.range(of: Data("Zawadi".utf8)) == nil, "\(file)")
            #expect(data.range(of: Data("application/pdf".utf8)) == nil, "\(file)")
        }
        #expect(try p.vault.verify().isClean)
    }

    @Test func aTypeComesFromTheFirstBytesWhenTheNameSaysNothing() throws {
        let p = try Programme()
        try p.openCase()
        try fileNamed("IMG_0042", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + pattern(300), in: p, as: "Photo", type: "photo")
        let got = try p.vault.retrieve(caseNumber: "CP-2024-0042", document: "Photo", by: p["grace"], to: .folder(path: try folder(p)))
        #expect(got.fileInfo == FileInfo(name: "IMG_0042", mediaType: "image/png"))
    }

    @Test(arguments: [".bashrc", "evil\nname.txt", "a\u{202E}fdp.exe", " leading.txt", "-rf.txt", "zero\u{200B}width.pdf", "line\u{2028}sep.txt"])
    func aNameUnsafeToWriteBackIsNotKept(_ name: String) throws {
        let p = try Programme()
        try p.openCase()
        try fileNamed(name, Array("text\n".utf8), in: p, as: "Note")
        let out = try folder(p)
        let got = try p.vault.retrieve(caseNumber: "CP-2024-0042", document: "Note", by: p["grace"], to: .folder(path: out))
        #expect(got.fileInfo?.name == nil && got.writtenTo?.hasPrefix(out + "/Note v1") == true, "\(got.writtenTo ?? "")")
    }

    /// Names Linux keeps but Windows does not take (a folder on a USB stick
    /// or a share, a package opened with 7-Zip): written as every system
    /// takes them, the original kept in the sealed file name.
    @Test(arguments: [("CON", "_CON"), ("aux.txt", "_aux.txt"), ("nul.tar.gz", "_nul.tar.gz"), ("COM1.pdf", "_COM1.pdf"),
                      ("Console.txt", "Console.txt"), ("report.pdf.", "report.pdf_"), ("scan.pdf  ", "scan.pdf__"),
                      ("x\\..\\Startup\\evil.bat", "x_.._Startup_evil.bat"), ("a:b?c*<d>|e\".txt", "a_b_c__d__e_.txt"),
                      ("Référé du 3 mai.pdf", "Référé du 3 mai.pdf")])
    func aNameWindowsDoesNotTakeIsWrittenAsItDoes(_ name: String, _ written: String) throws {
        #expect(FileInfo.portableName(name) == written)
        guard FileInfo.isSafeFileName(name) else { return }
        let p = try Programme()
        try p.openCase()
        try fileNamed(name, Array("text\n".utf8), in: p, as: "Note")
        let out = try folder(p)
        let got = try p.vault.retrieve(caseNumber: "CP-2024-0042", document: "Note", by: p["grace"], to: .folder(path: out))
        #expect(got.fileInfo?.name == name && got.writtenTo == out + "/" + written, "\(got.writtenTo ?? "")")
    }

    /// A document name with a character that shows as nothing or as a
    /// line break could pass for another ("Care\u{200B}plan" beside "Care
    /// plan"): refused when given, and from format 4 when signed by hand.
    @Test(arguments: ["Care\u{200B}plan", "Care pla\u{00AD}n", "Care plan\u{3164}", "Note\u{2028}Care plan", "Care\u{200E}plan", "\u{FEFF}Care plan"])
    func aNameThatCouldPassForAnotherIsRefused(_ name: String) throws {
        let p = try Programme()
        try p.openCase()
        try p.file(Array("intake".utf8))
        #expect(throws: VaultError.self) { try p.file(Array("x".utf8), name: name, type: "note") }
        var forged = try DisposalTests().forgedFiling(into: "CP-2024-0042", p)
        forged.document = name
        forged.version = 1
        expectIntegrity("breaks the rules of a new name") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.versionFiled(forged)], by: p["farah"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        // Nor is a document moved under such a name, by the command or by hand.
        try p.openCase(client: 43)
        #expect {
            _ = try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Intake form", to: "CP-2024-0043", name: name,
                                         reason: "misfiled", by: p["halima"])
        } throws: { error in
            guard case VaultError.invalidInput(let message) = error else { return false }
            return message.hasPrefix("document name")
        }
        expectIntegrity("the new document name breaks the rules") {
            _ = try p.vault.write { writer, head in
                try Ledger.append([.documentMoved(DocumentMoved(case: "CP-2024-0042", document: "Intake form", to: "CP-2024-0043", toDocument: name,
                                                                reason: "misfiled", versions: []))],
                                  by: p["halima"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        // The joiners Persian, Dari and Pashto writing needs stay.
        try p.file(Array("x".utf8), name: "Zahra\u{200C}ullah notes", type: "note")
    }

    @Test func standardInputAndMovedVersionsGetSensibleNames() throws {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43)
        try p.file(Array("typed in\n".utf8), name: "Note", type: "note")  // from a temporary file named input-…
        try fileNamed("visit.txt", Array("visit\n".utf8), in: p, as: "Visit")
        _ = try p.vault.moveDocument(caseNumber: "CP-2024-0042", document: "Visit", to: "CP-2024-0043", reason: "misfiled", by: p["halima"])
        let out = try folder(p)
        let moved = try p.vault.retrieve(caseNumber: "CP-2024-0043", document: "Visit", by: p["grace"], to: .folder(path: out))
        #expect(moved.writtenTo == out + "/visit.txt" && moved.fileInfo?.mediaType == "text/plain")
    }

    @Test func aSwappedOrEditedFileNameIsAnIntegrityFailure() throws {
        let p = try Programme()
        try p.openCase()
        try fileNamed("first.pdf", Array("%PDF-1 one".utf8), in: p, as: "One")
        try fileNamed("second.pdf", Array("%PDF-1 two".utf8), in: p, as: "Two")
        // Another version's sealed name under this version's row: the row differs from its signed state.
        try p.tamper("UPDATE versions SET file_info_hash = (SELECT file_info_hash FROM versions WHERE document = 'Two') WHERE document = 'One'")
        #expect(throws: VaultError.self) {
            try p.vault.retrieve(caseNumber: "CP-2024-0042", document: "One", by: p["grace"], to: .folder(path: try folder(p)))
        }
        #expect(try !p.vault.verify().isClean)
        // Bytes of the blob flipped: caught before anything is written.
        let q = try Programme()
        try q.openCase()
        try fileNamed("first.pdf", Array("%PDF-1 one".utf8), in: q, as: "One")
        try q.tamper("UPDATE blobs SET bytes = randomblob(length(bytes)) WHERE hash = (SELECT file_info_hash FROM versions)")
        let out = try folder(q)
        #expect(throws: VaultError.self) {
            try q.vault.retrieve(caseNumber: "CP-2024-0042", document: "One", by: q["grace"], to: .folder(path: out))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty)
    }

    /// The blob opens only beside its own object: sealed under a key derived
    /// from the file key and the object id.
    @Test func theSealedNameOpensOnlyWithItsFileKeyAndObject() throws {
        let fileKey = SecureBytes.random(count: 32)
        let info = FileInfo(name: "scan.pdf", mediaType: "application/pdf")
        let sealed = try info.sealed(fileKey: fileKey, objectID: String(repeating: "a", count: 64))
        #expect(try FileInfo.open(sealed, fileKey: fileKey, objectID: String(repeating: "a", count: 64)) == info)
        #expect(throws: (any Error).self) { try FileInfo.open(sealed, fileKey: fileKey, objectID: String(repeating: "b", count: 64)) }
        #expect(throws: (any Error).self) { try FileInfo.open(sealed, fileKey: SecureBytes.random(count: 32), objectID: String(repeating: "a", count: 64)) }
        #expect(throws: (any Error).self) { try FileInfo.open(Array(sealed.dropLast()), fileKey: fileKey, objectID: String(repeating: "a", count: 64)) }
    }
}
