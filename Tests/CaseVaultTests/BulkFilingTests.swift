@testable import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation
import Testing

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

/// Issue 12, item 2: bulk filing from several paths or a CSV manifest.
@Suite struct FilingManifestTests {
    func parse(_ text: String) throws -> [FilingRequest] {
        try FilingManifest.parse(Array(text.utf8), folder: "/intake", label: "m.csv")
    }

    @Test func readsQuotedFieldsCRLFAndABOMWithTheLineEachRowStartsOn() throws {
        let text = "\u{FEFF}Case,path,type,name,confidential\r\n"
            + "CP-2024-0042,scan 1.pdf,report,,\r\n"
            + "\r\n"
            + "CP-2024-0042,\"notes, May.txt\",report,\"Home visit, \"\"May\"\"\",yes\r\n"
            + "CP-2024-0043,/abs/letter.txt,letter,\"two\nlines\",no\n"
            + "CP-2024-0043,photo.jpg,photo,Photo,1"
        let rows = try parse(text)
        #expect(rows.map(\.origin) == ["m.csv line 2", "m.csv line 4", "m.csv line 5", "m.csv line 7"])
        #expect(rows.map(\.path) == ["/intake/scan 1.pdf", "/intake/notes, May.txt", "/abs/letter.txt", "/intake/photo.jpg"])
        #expect(rows.map(\.name) == [nil, "Home visit, \"May\"", "two\nlines", "Photo"])
        #expect(rows.map(\.confidential) == [false, true, false, true])
        #expect(rows[0].kind == .document(type: "report"))
    }

    @Test func formsTakeTheirTypeAndSchemaVersion() throws {
        let rows = try parse("case,path,form,schema-version\nCP-2024-0042,a.json,intake,2\nCP-2024-0042,b.json,home-visit,\n")
        #expect(rows.map(\.kind) == [.form(type: "intake", schemaVersion: 2), .form(type: "home-visit", schemaVersion: nil)])
    }

    @Test func refusesWhatCannotBeReadOneWayOnly() throws {
        let cases: [(String, String)] = [
            ("", "is empty"),
            ("case,path,kind\n", "unknown column 'kind'"),
            ("case,type\n", "no 'path' column"),
            ("case,path\n", "no 'type' or 'form' column"),
            ("case,path,type,type\n", "named twice"),
            ("case,path,type\nCP-2024-0042,a.pdf\n", "line 2 has 2 fields"),
            ("case,path,type,form\nCP-2024-0042,a.pdf,report,intake\n", "not both"),
            ("case,path,type,form\nCP-2024-0042,a.pdf,,\n", "give a type"),
            ("case,path,type,confidential\nCP-2024-0042,a.pdf,report,maybe\n", "confidential is 'maybe'"),
            ("case,path,type\nCP-2024-0042,\"a.pdf,report\n", "never closed"),
            ("case,path,type\nCP-2024-0042,a\"b.pdf,report\n", "quote inside an unquoted field"),
            ("case,path,type\nCP-2024-0042,\"a\"b,report\n", "text after a closing quote"),
            ("case,path,type\n,a.pdf,report\n", "no case number"),
            ("case,path,type,schema-version\nCP-2024-0042,a.pdf,report,2\n", "schema-version goes with a form"),
        ]
        for (text, expected) in cases {
            #expect {
                _ = try parse(text)
            } throws: { error in
                guard case VaultError.invalidInput(let message) = error else { return false }
                return message.contains(expected)
            }
        }
        #expect(throws: VaultError.self) { try FilingManifest.parse([0x63, 0xff, 0x0a], folder: "/", label: "m.csv") }
    }

    @Test func aDocumentIsNamedFromItsFile() {
        #expect(Vault.documentName(forFile: "/in/Home visit 2024-05-02.pdf") == "Home visit 2024-05-02")
        #expect(Vault.documentName(forFile: "scan.tar.gz") == "scan.tar")
        #expect(Vault.documentName(forFile: "/in/.profile") == ".profile")
        #expect(Vault.documentName(forFile: "README") == "README")
    }
}

@Suite struct BulkFilingTests {
    /// Cases 42 and 43, and three text files in the scratch folder.
    func programme() throws -> Programme {
        let p = try Programme()
        try p.openCase()
        try p.openCase(client: 43, manager: "joseph")
        for i in 1...3 { try Data("page \(i)\n".utf8).write(to: URL(fileURLWithPath: p.scratch.file("scan \(i).txt"))) }
        return p
    }

    func request(_ p: Programme, _ file: String, into number: String = "CP-2024-0042", name: String? = nil,
                 kind: FilingRequest.Kind = .document(type: "report"), confidential: Bool = false) -> FilingRequest {
        FilingRequest(caseNumber: number, name: name, kind: kind, confidential: confidential, path: p.scratch.file(file), origin: file)
    }

    func journal(_ p: Programme, _ batch: CheckedBatch) -> FilingJournal {
        FilingJournal(store: CheckpointStore(folder: p.scratch.file("state")), vaultID: p.vault.config.vaultId,
                      batchID: batch.id(vaultID: p.vault.config.vaultId, filer: "farah"))
    }

    func versionCount(_ p: Programme) throws -> Int {
        try ["CP-2024-0042", "CP-2024-0043"].map { try p.vault.versions(caseNumber: $0, document: nil).count }.reduce(0, +)
    }

    @Test func checksEveryRowAndListsEveryProblemBeforeFilingAnything() throws {
        let p = try programme()
        try p.file(Array("v1".utf8), name: "Intake form", type: "form")
        try Data("{\"not\": \"an intake\"}".utf8).write(to: URL(fileURLWithPath: p.scratch.file("bad.json")))
        let batch = try p.vault.checkBatch([
            request(p, "scan 1.txt"),
            request(p, "scan 2.txt", into: "CP-2024-0099"),
            request(p, "missing.txt"),
            request(p, "bad.json", kind: .form(type: "intake", schemaVersion: nil)),
            request(p, "scan 3.txt", name: "scan 1"),
            request(p, "scan 2.txt", name: "Intake form", kind: .document(type: "report")),
            request(p, "scan 2.txt", kind: .document(type: "Photo Scan")),
            request(p, "scan 3.txt", into: "CP-2024-0043", name: "bad\u{202E}name"),
        ], by: "farah")
        #expect(batch.items.isEmpty)
        #expect(batch.problems.map(\.origin) == ["scan 2.txt", "missing.txt", "bad.json", "scan 3.txt", "scan 2.txt", "scan 2.txt", "scan 3.txt"])
        let messages = batch.problems.map(\.message)
        #expect(messages[0].contains("no case CP-2024-0099"))
        #expect(messages[1].contains("no such file"))
        #expect(messages[2].contains("not a valid") && !batch.problems[2].details.isEmpty)
        #expect(messages[3].contains("also filed by scan 1.txt"))
        #expect(messages[4].contains("is a document of type form"))
        #expect(messages[5].contains("not valid"))
        #expect(messages[6].contains("bidirectional"))
        #expect(try versionCount(p) == 1)
    }

    @Test func onlyFilersMayFileABatch() throws {
        let p = try programme()
        #expect(throws: VaultError.self) { try p.vault.checkBatch([request(p, "scan 1.txt")], by: "peter") }
        #expect(throws: VaultError.self) { try p.vault.checkBatch([request(p, "scan 1.txt")], by: "nobody") }
        let batch = try p.vault.checkBatch([request(p, "scan 1.txt")], by: "farah")
        #expect(throws: VaultError.self) { try p.vault.fileBatch(batch, journal: nil, by: p["peter"]) }
    }

    @Test func filesEachDocumentAndARunOfTheSameBatchFilesNothingTwice() throws {
        let p = try programme()
        let requests = [request(p, "scan 1.txt"), request(p, "scan 2.txt", confidential: true),
                        request(p, "scan 3.txt", into: "CP-2024-0043", name: "Letter")]
        let batch = try p.vault.checkBatch(requests, by: "farah")
        #expect(batch.items.map(\.name) == ["scan 1", "scan 2", "Letter"] && batch.caseCount == 2 && batch.totalBytes == 21)
        var seen: [BatchProgress] = []
        let first = try p.vault.fileBatch(batch, journal: journal(p, batch), by: p["farah"]) { seen.append($0) }
        #expect(first.failure == nil && first.filed.count == 3 && first.alreadyFiled.isEmpty)
        #expect(first.rows.map(\.tier) == [.team, .confidential, .team])
        #expect(seen.last?.filesDone == 3 && seen.last?.bytesDone == 21 && seen.first?.filesDone == 0)
        #expect(try p.read("CP-2024-0043", "Letter", by: "joseph") == Array("page 3\n".utf8))

        let again = try p.vault.checkBatch(requests, by: "farah")
        #expect(again.id(vaultID: p.vault.config.vaultId, filer: "farah") == batch.id(vaultID: p.vault.config.vaultId, filer: "farah"))
        let second = try p.vault.fileBatch(again, journal: journal(p, again), by: p["farah"])
        #expect(second.filed.isEmpty && second.alreadyFiled.map(\.version) == [1, 1, 1])
        #expect(try versionCount(p) == 3)

        // --again: the journal is forgotten and each becomes version 2.
        journal(p, again).discard()
        let third = try p.vault.fileBatch(again, journal: journal(p, again), by: p["farah"])
        #expect(third.filed.map(\.version) == [2, 2, 2])
    }

    /// A run stopped part-way (here by a file that went missing after the
    /// check) keeps what it filed; the re-run files only the rest.
    @Test func aRunStoppedPartWayIsFinishedByTheNextWithoutDuplicates() throws {
        let p = try programme()
        let requests = (1...3).map { request(p, "scan \($0).txt") }
        let batch = try p.vault.checkBatch(requests, by: "farah")
        try FileManager.default.removeItem(atPath: p.scratch.file("scan 2.txt"))
        let first = try p.vault.fileBatch(batch, journal: journal(p, batch), by: p["farah"])
        #expect(first.filed.map(\.item.name) == ["scan 1"])
        #expect(first.failure?.item.name == "scan 2")
        try Data("page 2\n".utf8).write(to: URL(fileURLWithPath: p.scratch.file("scan 2.txt")))
        let second = try p.vault.fileBatch(batch, journal: journal(p, batch), by: p["farah"])
        #expect(second.failure == nil)
        #expect(second.alreadyFiled.map(\.item.name) == ["scan 1"] && second.filed.map(\.item.name) == ["scan 2", "scan 3"])
        #expect(try versionCount(p) == 3)
    }

    /// A journal line only lets the signed log confirm a filing: a line
    /// naming an object the log does not hold for that version (a run
    /// killed before its event, or a forged line) files the row.
    @Test func aJournalCannotInventAFiling() throws {
        let p = try programme()
        let one = try p.vault.checkBatch([request(p, "scan 1.txt", name: "Notes")], by: "farah")
        let filed = try p.vault.fileBatch(one, journal: nil, by: p["farah"])
        let object = try #require(try p.vault.versions(caseNumber: "CP-2024-0042", document: "Notes").first?.objectID)

        let batch = try p.vault.checkBatch([request(p, "scan 2.txt"), request(p, "scan 3.txt")], by: "farah")
        let log = journal(p, batch)
        // Row 0 claims "Notes" v1's object (another document's); row 1 an
        // object nobody filed; a torn last line.
        try log.record(row: 0, caseNumber: "CP-2024-0042", version: 1, object: object)
        try log.record(row: 1, caseNumber: "CP-2024-0042", version: 1, object: String(repeating: "ab", count: 32))
        let handle = try #require(FileHandle(forWritingAtPath: log.path))
        handle.seekToEndOfFile()
        handle.write(Data("filing 1 CP-2024-0042 1 abc".utf8))
        handle.closeFile()
        let result = try p.vault.fileBatch(batch, journal: log, by: p["farah"])
        #expect(filed.filed.count == 1 && result.filed.count == 2 && result.alreadyFiled.isEmpty)
        #expect(try versionCount(p) == 3)
        // The next line written after a torn one is not swallowed by it.
        try log.record(row: 7, caseNumber: "CP-2024-0042", version: 9, object: String(repeating: "cd", count: 32))
        #expect(try log.entries()[7]?.first?.version == 9)
    }

    /// A line naming a version someone else filed (its object id is in the
    /// catalog for anyone to copy) does not let a run skip a filing.
    @Test func aJournalLineNamingAnotherMembersVersionFilesTheRow() throws {
        let p = try programme()
        _ = try p.vault.fileBatch(try p.vault.checkBatch([request(p, "scan 1.txt", name: "Shared")], by: "halima"), journal: nil, by: p["halima"])
        let theirs = try #require(try p.vault.versions(caseNumber: "CP-2024-0042", document: "Shared").first)
        let batch = try p.vault.checkBatch([request(p, "scan 2.txt", name: "Shared")], by: "farah")
        let log = journal(p, batch)
        try log.record(row: 0, caseNumber: "CP-2024-0042", version: 1, object: theirs.objectID)
        let result = try p.vault.fileBatch(batch, journal: log, by: p["farah"])
        #expect(result.alreadyFiled.isEmpty && result.filed.map(\.version) == [2])
    }

    @Test func theJournalHoldsNoNamesPathsOrContentAndStaysPrivate() throws {
        let p = try programme()
        let batch = try p.vault.checkBatch([request(p, "scan 1.txt", name: "Amani Wanjiru notes")], by: "farah")
        let log = journal(p, batch)
        _ = try p.vault.fileBatch(batch, journal: log, by: p["farah"])
        let text = try String(contentsOfFile: log.path, encoding: .utf8)
        #expect(text.hasPrefix("casevault-filing-journal-v1\nfiling 0 CP-2024-0042 1 "))
        for secret in ["Amani", "scan", "page 1"] { #expect(!text.contains(secret)) }
        let mode = try FileManager.default.attributesOfItem(atPath: log.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // A state folder others can write to is refused before anything is filed.
        let open = CheckpointStore(folder: p.scratch.file("open-state"))
        try FileManager.default.createDirectory(atPath: open.folder, withIntermediateDirectories: true, attributes: nil)
        chmod(open.folder, 0o777)
        let exposed = FilingJournal(store: open, vaultID: p.vault.config.vaultId, batchID: "x")
        let second = try p.vault.checkBatch([request(p, "scan 2.txt")], by: "farah")
        let objects = try p.vault.objects.allObjects()
        let result = try p.vault.fileBatch(second, journal: exposed, by: p["farah"])
        #expect(result.filed.isEmpty && result.failure?.error.message.contains("not private") == true)
        #expect(throws: VaultError.self) { try p.vault.versions(caseNumber: "CP-2024-0042", document: "scan 2") }
        #expect(try p.vault.objects.allObjects() == objects)
    }

    @Test func formsInABatchAreValidatedAndFiledAsForms() throws {
        let p = try programme()
        try FileManager.default.copyItem(atPath: repository.appendingPathComponent("Schemas/examples/intake.json").path,
                                         toPath: p.scratch.file("intake.json"))
        let batch = try p.vault.checkBatch([request(p, "intake.json", kind: .form(type: "intake", schemaVersion: nil))], by: "farah")
        #expect(batch.problems.isEmpty)
        let result = try p.vault.fileBatch(batch, journal: nil, by: p["farah"])
        let filed = try #require(result.filed.first)
        let version = try #require(try p.vault.versions(caseNumber: "CP-2024-0042", document: filed.item.name).first)
        #expect(version.isForm && version.type == "intake")
    }

    /// Forms go up to 1,024 a group (the first 128, each next twice the one
    /// before), read one by one by the threads that encrypt them;
    /// documents, each kept open until its group is prepared, at most 256
    /// a group; a form over 64 KiB is filed alone; no group holds more
    /// than 2 MiB.
    @Test func groupsHoldUpTo1024FormsAndAt256Documents() {
        func item(_ row: Int, form: Bool, size: Int64 = 2_048) -> CheckedBatch.Item {
            CheckedBatch.Item(row: row, origin: "row \(row)", caseNumber: "CP-2024-0042", name: "n\(row)",
                              kind: form ? .form(type: "home-visit", schemaVersion: nil) : .document(type: "report"),
                              confidential: false, path: "/in/\(row)", size: size, checkedForm: nil)
        }
        func sizes(_ units: [Vault.FilingUnit]) -> [Int] {
            units.map { if case .group(let items) = $0 { items.count } else { 1 } }
        }
        // The first group of 128, each next twice the one before, up to 1,024.
        let forms = (0..<3_000).map { item($0, form: true) }
        #expect(sizes(Vault.filingUnits(forms, journaled: [:])) == [128, 256, 512, 1_024, 1_024, 56])
        let documents = (0..<700).map { item($0, form: false) }
        #expect(sizes(Vault.filingUnits(documents, journaled: [:])) == [128, 256, 256, 60])
        // Mixed: the 257th document starts the next group.
        let mixed = (0..<1_400).map { item($0, form: $0 % 2 == 0) }
        #expect(sizes(Vault.filingUnits(mixed, journaled: [:])) == [128, 256, 512, 504])
        // A large form alone, between two groups.
        let withLarge = (0..<5).map { item($0, form: true, size: $0 == 2 ? Vault.groupedFormLimit + 1 : 2_048) }
        #expect(sizes(Vault.filingUnits(withLarge, journaled: [:])) == [2, 1, 2])
        // And at most 2 MiB of them a group.
        let big = (0..<70).map { item($0, form: true, size: 60 << 10) }
        #expect(sizes(Vault.filingUnits(big, journaled: [:])) == [34, 34, 2])
    }

    /// A group of forms, each read, checked and encrypted on the threads
    /// of the group's preparation, files them all as forms, readable.
    @Test func aGroupOfFormsIsFiledWhole() throws {
        let p = try programme()
        let example = repository.appendingPathComponent("Schemas/examples/home-visit.json").path
        let requests = try (0..<40).map { i -> FilingRequest in
            try FileManager.default.copyItem(atPath: example, toPath: p.scratch.file("visit-\(i).json"))
            return request(p, "visit-\(i).json", name: "Home visit \(i)", kind: .form(type: "home-visit", schemaVersion: nil))
        }
        let batch = try p.vault.checkBatch(requests, by: "farah")
        #expect(batch.problems.isEmpty && Vault.filingUnits(batch.items, journaled: [:]).count == 1)
        let result = try p.vault.fileBatch(batch, journal: nil, by: p["farah"])
        #expect(result.failure == nil && result.filed.count == 40 && result.groupsFiledOneByOne == 0)
        #expect(try p.read("CP-2024-0042", "Home visit 39", by: "grace") == Array(try Data(contentsOf: URL(fileURLWithPath: example))))
        #expect(try p.vault.verify().isClean)
    }

    /// A programme's own form type that takes any object.
    func noteSchema(_ p: Programme) throws {
        let schema = #"{"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://programme.example/forms/note.schema.json", "title": "Note", "type": "object"}"#
        _ = try p.vault.addSchema(Array(schema.utf8), type: "note", by: p["amina"])
    }

    /// A form can begin like an image (`ftyp` and a brand at byte 4, as
    /// HEIC): noted by the check, it goes to the confidential tier in its
    /// group, as a single filing would send it, without the group failing.
    @Test func aFormThatLooksLikeAnImageIsConfidentialInItsGroup() throws {
        let p = try programme()
        try noteSchema(p)
        let texts = [#"{ " ftypheic": 1}"#, #"{"plain": 1}"#, #"{ " ftypavif": 2}"#, #"{"plain": 2}"#]
        let requests = try texts.enumerated().map { i, text -> FilingRequest in
            try Data(text.utf8).write(to: URL(fileURLWithPath: p.scratch.file("note-\(i).json")))
            return request(p, "note-\(i).json", name: "Note \(i)", kind: .form(type: "note", schemaVersion: nil))
        }
        let batch = try p.vault.checkBatch(requests, by: "farah")
        #expect(batch.problems.isEmpty && Vault.filingUnits(batch.items, journaled: [:]).count == 1)
        let result = try p.vault.fileBatch(batch, journal: nil, by: p["farah"])
        #expect(result.failure == nil && result.groupsFiledOneByOne == 0)
        #expect(result.filed.map(\.tier) == [.confidential, .team, .confidential, .team])
        #expect(try p.vault.verify().isClean)
    }

    /// A grouped form that grew past the size that grouped it is not read
    /// whole by the group (at most 64 KiB are): the group is filed one by
    /// one, the grown form checked again and filed as it now is, and
    /// nothing is left over.
    @Test func aGroupedFormThatGrewIsFiledAlone() throws {
        let p = try programme()
        try noteSchema(p)
        let requests = try (0..<3).map { i -> FilingRequest in
            try Data(#"{"n": \#(i)}"#.utf8).write(to: URL(fileURLWithPath: p.scratch.file("note-\(i).json")))
            return request(p, "note-\(i).json", name: "Note \(i)", kind: .form(type: "note", schemaVersion: nil))
        }
        let batch = try p.vault.checkBatch(requests, by: "farah")
        #expect(Vault.filingUnits(batch.items, journaled: [:]).count == 1)
        let grown = #"{"n": 1, "text": ""# + String(repeating: "x", count: 70_000) + #""}"#
        try Data(grown.utf8).write(to: URL(fileURLWithPath: p.scratch.file("note-1.json")))
        let result = try p.vault.fileBatch(batch, journal: nil, by: p["farah"])
        #expect(result.failure == nil && result.filed.count == 3 && result.groupsFiledOneByOne == 1)
        #expect(try p.read("CP-2024-0042", "Note 1", by: "grace") == Array(grown.utf8))
        #expect(try p.vault.objects.allObjects().count == 3)
        #expect(try p.vault.verify().isClean)
    }

    /// A form is not validated twice when its bytes are those checked; one
    /// edited between the check and the filing is validated again, and an
    /// invalid one is refused at its own item, with those before it filed.
    @Test func aFormEditedAfterItsCheckIsValidatedAgain() throws {
        let p = try programme()
        let example = repository.appendingPathComponent("Schemas/examples/intake.json").path
        for name in ["first.json", "second.json"] { try FileManager.default.copyItem(atPath: example, toPath: p.scratch.file(name)) }
        let batch = try p.vault.checkBatch([
            request(p, "first.json", name: "Intake A", kind: .form(type: "intake", schemaVersion: nil)),
            request(p, "second.json", name: "Intake B", kind: .form(type: "intake", schemaVersion: nil)),
        ], by: "farah")
        #expect(batch.problems.isEmpty)
        try Data(#"{"not": "an intake form"}"#.utf8).write(to: URL(fileURLWithPath: p.scratch.file("second.json")))
        let result = try p.vault.fileBatch(batch, journal: nil, by: p["farah"])
        #expect(result.filed.map(\.item.name) == ["Intake A"])
        // The group's objects are gone but Intake A's, filed alone.
        #expect(try p.vault.objects.allObjects().count == 1)
        #expect(try p.vault.verify().isClean)
        let failure = try #require(result.failure)
        #expect(failure.item.name == "Intake B")
        guard case .invalidForm = failure.error else {
            Issue.record("expected the edited form to be refused as invalid, not \(failure.error)")
            return
        }
    }

    /// 534 small files: groups of 128, 256 and 150 (the first group
    /// smaller, the next twice its size, up to 256 documents),
    /// each group prepared on the prefetch thread while the one before
    /// commits.
    func manyFiles(_ p: Programme) throws -> [FilingRequest] {
        try (0..<(2 * Vault.documentsPerGroup + 22)).map { i in
            let name = String(format: "page %04d.txt", i)
            try Data("page \(i)\n".utf8).write(to: URL(fileURLWithPath: p.scratch.file(name)))
            return request(p, name)
        }
    }

    /// A failure in the second group stops the batch at its own item, with
    /// everything before it filed, and the third group, prepared ahead
    /// meanwhile, leaves no object behind: no orphan, `verify` clean.
    @Test func aFailureMidBatchLeavesNoObjectOfTheGroupsPreparedAhead() throws {
        let p = try programme()
        let files = try manyFiles(p)
        let batch = try p.vault.checkBatch(files, by: "farah")
        #expect(batch.problems.isEmpty && batch.items.count == files.count)
        #expect(Vault.filingUnits(batch.items, journaled: [:]).count == 3)
        let stop = Vault.documentsPerGroup + 36
        try FileManager.default.removeItem(atPath: p.scratch.file(String(format: "page %04d.txt", stop)))
        let result = try p.vault.fileBatch(batch, journal: journal(p, batch), by: p["farah"])
        #expect(result.filed.count == stop && result.filed.map(\.item.row) == Array(0..<stop))
        #expect(result.failure?.item.name == String(format: "page %04d", stop))
        #expect(try versionCount(p) == stop)
        #expect(try p.vault.objects.allObjects().count == stop)
        let report = try p.vault.verify()
        #expect(report.isClean, "\(report.findings)")

        // The re-run files the rest, once.
        try Data("page \(stop)\n".utf8).write(to: URL(fileURLWithPath: p.scratch.file(String(format: "page %04d.txt", stop))))
        let second = try p.vault.fileBatch(batch, journal: journal(p, batch), by: p["farah"])
        #expect(second.failure == nil && second.alreadyFiled.count == stop && second.filed.count == files.count - stop)
        #expect(try versionCount(p) == files.count && (try p.vault.objects.allObjects().count) == files.count)
        let last = files.count - 1
        #expect(try p.read("CP-2024-0042", String(format: "page %04d", last), by: "grace") == Array("page \(last)\n".utf8))
    }

    /// A group is planned before the group ahead of it commits. A change
    /// by someone else in between (here a version of one of its documents
    /// filed by another member) makes its plan stale: the commit refuses
    /// it, the group is filed one by one against the new state, and nothing
    /// is lost, doubled or left over.
    @Test func aGroupPlannedBeforeAnotherFilingIsFiledAgainstTheNewState() throws {
        let p = try programme()
        let files = try manyFiles(p)
        let batch = try p.vault.checkBatch(files, by: "farah")
        let target = String(format: "page %04d", Vault.firstGroupSize + 6)
        var interfered = false
        let result = try p.vault.fileBatch(batch, journal: nil, by: p["farah"]) { progress in
            // After the first group's commit: the second is prepared (or
            // being prepared) against the state before this filing.
            guard progress.filesDone == Vault.firstGroupSize, !interfered else { return }
            interfered = true
            _ = try? p.vault.file(caseNumber: "CP-2024-0042", name: target, type: "report",
                                  from: .file(path: p.scratch.file("page 0001.txt")), by: p["grace"])
        }
        #expect(interfered && result.failure == nil && result.filed.count == files.count)
        #expect(result.filed.first { $0.item.name == target }?.version == 2)
        #expect(result.filed.filter { $0.item.name != target }.allSatisfy { $0.version == 1 })
        #expect(try versionCount(p) == files.count + 1 && (try p.vault.objects.allObjects().count) == files.count + 1)
        #expect(try p.read("CP-2024-0042", target, by: "grace") == Array("page \(Vault.firstGroupSize + 6)\n".utf8))
        #expect(try p.vault.verify().isClean)
    }

    /// A bulk filing keeps each file's own name (§11a), in a group or one by one.
    @Test func bulkFiledDocumentsComeBackUnderTheirOwnNames() throws {
        let p = try programme()
        let batch = try p.vault.checkBatch([request(p, "scan 1.txt"), request(p, "scan 2.txt", name: "Second")], by: "farah")
        let result = try p.vault.fileBatch(batch, journal: nil, by: p["farah"])
        #expect(result.failure == nil && result.rows.count == 2)
        let out = p.scratch.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let second = try p.vault.retrieve(caseNumber: "CP-2024-0042", document: "Second", by: p["grace"], to: .folder(path: out))
        #expect(second.writtenTo == out + "/scan 2.txt" && second.fileInfo?.mediaType == "text/plain")
    }
}

/// A catalog whose next writes fail after their body ran (the transaction
/// rolled back): at the commit itself, as a disk error at COMMIT would
/// (`atCommit`), or just before it, certainly rolled back.
final class CommitFailingCatalog: CatalogStore, CatalogStoreFactory, @unchecked Sendable {
    nonisolated(unsafe) static var failures = 0
    nonisolated(unsafe) static var atCommit = true
    let inner: any CatalogStore
    init(_ inner: any CatalogStore) { self.inner = inner }
    static func open(path: String) throws -> any CatalogStore { CommitFailingCatalog(try SQLiteCatalogStore.open(path: path)) }
    static func create(path: String) throws -> any CatalogStore { CommitFailingCatalog(try SQLiteCatalogStore.create(path: path)) }
    func read<T>(_ body: (any CatalogReader) throws -> T) throws -> T { try inner.read(body) }
    func write<T>(_ body: (any CatalogWriter) throws -> T) throws -> T {
        guard Self.failures > 0 else { return try inner.write(body) }
        Self.failures -= 1
        do { _ = try inner.write { writer -> T in _ = try body(writer); throw RolledBack() } } catch is RolledBack {}
        if Self.atCommit { throw CatalogCommitFailed(error: .io("catalog error: disk I/O error")) }
        throw VaultError.io("the disk is full")
    }
    func close() throws { try inner.close() }
    func flushErased() throws -> Bool { try inner.flushErased() }
    struct RolledBack: Error {}
}

/// A commit that fails as it commits leaves it unknown whether it reached
/// the disk (a WAL frame can come back at the next recovery): the objects
/// stay (orphans at worst, which verify reports and --repair removes), a
/// batch stops instead of filing the group again one by one, and its next
/// run files what the signed log does not hold, once.
@Suite(.serialized) struct CommitFailureTests {
    @Test func aFilingOrAGroupThatFailsAsItCommitsKeepsItsObjectsAndIsFiledOnceByTheNextRun() throws {
        let p = try Programme()
        try p.openCase()
        let vault = try Vault.open(at: p.vault.path, catalog: CommitFailingCatalog.self)
        let farah = try vault.unlock(staffID: "farah", passphrase: try p.scratch.passphrase("farah passphrase!"))
        let before = try vault.objects.allObjects().count
        let input = p.scratch.file("note.txt")
        try Data("a note\n".utf8).write(to: URL(fileURLWithPath: input))
        CommitFailingCatalog.atCommit = true
        CommitFailingCatalog.failures = 1
        #expect { _ = try vault.file(caseNumber: "CP-2024-0042", name: "Note", type: "report", confidential: false, from: .file(path: input), by: farah) }
            throws: { error in (error as? VaultError)?.message.contains("may have been filed all the same: look with 'casevault history CP-2024-0042'") ?? false }
        #expect(try vault.objects.allObjects().count == before + 1)
        #expect(try vault.versions(caseNumber: "CP-2024-0042", document: nil).isEmpty)
        // A failure before the commit (certainly rolled back) removes the object.
        CommitFailingCatalog.atCommit = false
        CommitFailingCatalog.failures = 1
        #expect(throws: VaultError.io("the disk is full")) {
            _ = try vault.file(caseNumber: "CP-2024-0042", name: "Note", type: "report", confidential: false, from: .file(path: input), by: farah)
        }
        #expect(try vault.objects.allObjects().count == before + 1)
        CommitFailingCatalog.atCommit = true

        // A group: 20 forms' worth of small documents, the group's commit failing.
        let requests = try (0..<20).map { i -> FilingRequest in
            let path = p.scratch.file("scan \(i).txt")
            try Data("page \(i)\n".utf8).write(to: URL(fileURLWithPath: path))
            return FilingRequest(caseNumber: "CP-2024-0042", name: nil, kind: .document(type: "report"), confidential: false, path: path, origin: "scan \(i).txt")
        }
        let batch = try vault.checkBatch(requests, by: "farah")
        let journal = FilingJournal(store: CheckpointStore(folder: p.scratch.file("state")), vaultID: vault.config.vaultId,
                                    batchID: batch.id(vaultID: vault.config.vaultId, filer: "farah"))
        CommitFailingCatalog.failures = 1
        let first = try vault.fileBatch(batch, journal: journal, by: farah)
        #expect(first.filed.isEmpty && first.failure?.error == .io("catalog error: disk I/O error"))
        #expect(try vault.objects.allObjects().count == before + 21)
        let second = try vault.fileBatch(batch, journal: journal, by: farah)
        #expect(second.failure == nil && second.filed.count == 20 && second.alreadyFiled.isEmpty)
        #expect(try vault.versions(caseNumber: "CP-2024-0042", document: nil).count == 20)
        let report = try vault.verify(VerifyOptions())
        #expect(report.isClean, "\(report.findings)")
        #expect(report.notes.count >= 21, "the kept objects are reported as orphans: \(report.notes)")
    }

    /// An import whose commit fails keeps the objects it brought, says the
    /// case may have come in, and the same import run again brings it in.
    @Test func anImportThatFailsAsItCommitsKeepsItsObjectsAndImportsWhenRunAgain() throws {
        let o = try TransferTests.Offices()
        let report = try o.export()
        let vault = try Vault.open(at: o.to.vault.path, catalog: CommitFailingCatalog.self)
        let halima = try vault.unlock(staffID: "halima", passphrase: try o.to.scratch.passphrase("halima passphrase!"))
        CommitFailingCatalog.atCommit = true
        CommitFailingCatalog.failures = 1
        #expect { _ = try vault.importCase(from: report.path, manager: "joseph", by: halima) } throws: { error in
            (error as? VaultError)?.message.contains("the case may have been imported all the same") ?? false
        }
        #expect(try vault.objects.allObjects().count == report.objects)
        #expect(try vault.importCase(from: report.path, manager: "joseph", by: halima).caseNumber == TransferTests.number)
        #expect(try vault.verify(VerifyOptions(readData: .all)).isClean)
    }
}
