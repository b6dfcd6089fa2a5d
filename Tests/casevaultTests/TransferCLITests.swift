import CaseVault
import Foundation
import Testing

/// Issue 10, item 5, as two offices run it: `vault pubkey` in the receiving
/// vault, `export case` in the sending one, `import case`, and the
/// independent decoder reading an imported version.
@Suite struct TransferCLITests {
    @Test func aCaseGoesFromOneOfficeToAnotherFromTheCommandLine() throws {
        let from = try CLIProgramme(), to = try CLIProgramme()
        #expect(try from.openCase().code == 0)
        from.scratch.write("report.txt", "Home visit: all well.\n")
        #expect(try from.cli.run(from.fileArguments("report.txt", name: "Home visit", type: "report")).code == 0)
        from.scratch.write("notes.txt", "Confidential notes.\n")
        #expect(try from.cli.run(["file", "CP-2024-0042"] + from.as("farah")
                                 + ["--name", "Notes", "--type", "report", "--confidential", "notes.txt"]).code == 0)

        let identity = try to.cli.run(["vault", "pubkey", "--member", "halima", "--out", "halima.pub"])
        #expect(identity.code == 0, "\(identity.stderr)")
        #expect(identity.stdout.contains("fingerprint "))
        // --out never replaces a file (nor follows a link in its place).
        #expect(try to.cli.run(["vault", "pubkey", "--member", "halima", "--out", "halima.pub"]).code == 73)
        let badMember = try to.cli.run(["vault", "pubkey", "--member", "farah"])
        #expect(badMember.code == 65 && badMember.stderr.contains("only a case supervisor imports cases"))

        let sent = try from.cli.run(["export", "case", "CP-2024-0042", "--to-vault", to.scratch.file("halima.pub"), "--out", "case.cvt",
                                     "--reason", "the family moved"] + from.as("halima"))
        #expect(sent.code == 0, "\(sent.stderr)")
        #expect(sent.stdout.contains("Transferred CP-2024-0042 to 'halima' (Halima Abdi) of vault"))
        #expect(sent.stdout.contains("is now read-only"))
        let late = try from.cli.run(from.fileArguments("report.txt", name: "Late", type: "report"))
        #expect(late.code == 65 && late.stderr.contains("was transferred to vault") && late.stderr.contains("read-only"), "\(late.stderr)")
        #expect(try from.cli.run(["case", "show", "CP-2024-0042"]).stdout.contains("TRANSFERRED:       to 'halima' of vault"))
        // Listed as transferred (a shape its schema allows), and not on a sheet of the office's folders.
        #expect(try from.cli.run(["case", "list"]).stdout.contains("O (transferred)"))
        let listed = try expectShape(try from.cli.run(["case", "list", "--json"]), schema: "case-list")
        #expect(listed.first.map { "\($0)" }?.contains("transferredTo") == true)
        try expectShape(try from.cli.run(["case", "show", "CP-2024-0042", "--json"]), schema: "case-show")
        let found = try expectShape(try from.cli.run(["find", "--number", "CP-2024-0042", "--json"]), schema: "find")
        #expect(found.first.map { "\($0)" }?.contains("transferredTo") == true)
        #expect(try from.cli.run(["find", "--number", "CP-2024-0042"]).stdout.contains("O (transferred)"))
        let sheet = try from.cli.run(["label", "--status", "O", "--out", "labels.svg"])
        #expect(sheet.code == 66 && sheet.stderr.contains("no cases match"), "\(sheet.stdout) \(sheet.stderr)")
        // Still readable where it was.
        #expect(try from.cli.run(["get", "CP-2024-0042", "Home visit"] + from.as("grace")).stdout == "Home visit: all well.\n")

        // A project director there cannot import it (it would hand them the confidential key).
        let wrong = try to.cli.run(["import", "case", from.scratch.file("case.cvt"), "--manager", "grace"] + to.as("dora"))
        #expect(wrong.code == 77 && wrong.stderr.contains("only a case supervisor imports a case"), "\(wrong.stderr)")
        // With --json, its report (Schemas/cli/import-case.schema.json); the fingerprint warning stays on standard error.
        let imported = try to.cli.run(["import", "case", from.scratch.file("case.cvt"), "--manager", "grace", "--json"] + to.as("halima"))
        #expect(imported.code == 0, "\(imported.stderr)")
        let importedReport = try expectShape(imported, schema: "import-case")
        if case .object(let members)? = importedReport.first {
            #expect(members["case"] == .string("CP-2024-0042") && members["versions"] == .integer(2) && members["checkedByFingerprint"] == .bool(false))
        } else { Issue.record("import case --json is not an object") }
        #expect(imported.stderr.contains("the sending vault was not checked by its fingerprint"))
        #expect(try to.cli.run(["get", "CP-2024-0042", "Notes"] + to.as("grace")).stdout == "Confidential notes.\n")
        #expect(try to.cli.run(["case", "show", "CP-2024-0042"]).stdout.contains("imported:          from vault"))
        #expect(try to.cli.run(["verify"]).code == 0)
        #expect(try from.cli.run(["verify"]).code == 0)
        let again = try to.cli.run(["import", "case", from.scratch.file("case.cvt"), "--manager", "grace"] + to.as("halima"))
        #expect(again.code == 73)
        // The file carried the file names (-v4: from a vault of format 3); sent again without them (-v3).
        #expect(FileManager.default.contents(atPath: from.scratch.file("case.cvt"))?.prefix(22) == Data("casevault-transfer-v4\n".utf8))
        let plain = try from.cli.run(["export", "case", "CP-2024-0042", "--to-vault", to.scratch.file("halima.pub"), "--out", "plain.cvt",
                                      "--reason", "sent again without file names", "--without-file-names", "--json"] + from.as("halima"))
        #expect(plain.code == 0, "\(plain.stderr)")
        let plainReport = try expectShape(plain, schema: "export-case")
        if case .object(let members)? = plainReport.first, case .object(let receiver)? = members["to"] {
            #expect(members["case"] == .string("CP-2024-0042") && receiver["member"] == .string("halima"))
        } else { Issue.record("export case --json is not an object") }
        #expect(FileManager.default.contents(atPath: from.scratch.file("plain.cvt"))?.prefix(22) == Data("casevault-transfer-v3\n".utf8))

        // The independent decoder, from SECURITY.md alone, reads an imported version (its object names the sending vault).
        if let python = IndependentDecoderTests.python {
            let home = ProcessInfo.processInfo.environment["HOME"] ?? to.scratch.path
            let decoded = try to.cli.run([IndependentDecoderTests.script, to.scratch.file("vault"), "grace", to.scratch.file("grace.pw"),
                                          "CP-2024-0042", "Notes"], extraEnvironment: ["HOME": home], executable: python)
            #expect(decoded.code == 0 && decoded.stdout == "Confidential notes.\n", "\(decoded.stderr)")
            // And its original file name, which came with it sealed as it was.
            let named = try to.cli.run([IndependentDecoderTests.script, to.scratch.file("vault"), "grace", to.scratch.file("grace.pw"),
                                        "CP-2024-0042", "Notes", "--file-info"], extraEnvironment: ["HOME": home], executable: python)
            #expect(named.code == 0 && named.stdout.contains("\"name\":\"notes.txt\""), "\(named.stdout) \(named.stderr)")
        }
        // `get -o DIR/` there writes the original name.
        try FileManager.default.createDirectory(atPath: to.scratch.file("out"), withIntermediateDirectories: true)
        let written = try to.cli.run(["get", "CP-2024-0042", "Notes", "-o", to.scratch.file("out") + "/"] + to.as("grace"))
        #expect(written.code == 0, "\(written.stderr)")
        #expect(FileManager.default.contents(atPath: to.scratch.file("out/notes.txt")) == Data("Confidential notes.\n".utf8))
    }
}
