import CaseVault
import Foundation
import Testing

/// Checkpoints and verify, through the binary as a user runs them.
@Suite struct TrustCLITests {
    @Test func checkpointPrintsOrWritesASignedNote() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        let printed = try p.cli.run(["checkpoint"] + p.as("peter"))
        #expect(printed.code == 66)  // peter is not on this programme's staff
        let note = try p.cli.run(["checkpoint"] + p.as("dora"))
        #expect(note.code == 0)
        let lines = note.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let vaultID = try p.vault().config.vaultId
        #expect(lines[0] == "casevault/\(vaultID)")
        #expect(Int(lines[1]) ?? 0 > 10)
        #expect(lines[2].count == 44 && lines[3].isEmpty)
        #expect(lines[4].hasPrefix("— casevault/\(vaultID)/dora "))
        let written = try p.cli.run(["checkpoint", "--out", "audit.checkpoint"] + p.as("dora"))
        #expect(written.stdout == "Wrote a checkpoint of \(lines[1]) events to audit.checkpoint, signed by 'dora'.\n")
        #expect(try String(contentsOfFile: p.scratch.file("audit.checkpoint"), encoding: .utf8) == note.stdout)
        let again = try p.cli.run(["checkpoint", "--out", "audit.checkpoint"] + p.as("dora"))
        #expect(again.code == 73)
    }

    @Test func verifyOnACleanVaultSaysSoAndExitsZero() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        p.scratch.write("notes.txt", "notes\n")
        #expect(try p.cli.run(p.fileArguments("notes.txt", name: "Notes", type: "report")).code == 0)
        let verify = try p.cli.run(["verify", "--read-data"])
        #expect(verify.code == 0)
        let lines = verify.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("Checked ") && lines[0].hasSuffix(" 1 versions, read 1 objects (47 bytes)."))
        #expect(lines[1] == "No faults: the catalog, blobs and objects are what the signed log says.")
        let json = try p.cli.run(["verify", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((report?["findings"] as? [Any])?.isEmpty == true && (report?["notes"] as? [Any])?.isEmpty == true)
        #expect(try p.cli.run(["verify", "--read-data", "--read-data-subset", "10"]).code == 64)
    }

    @Test func aRolledBackVaultIsRefusedByEveryCommandAndNamedByVerify() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        let backup = p.scratch.file("backup")
        try FileManager.default.copyItem(atPath: p.scratch.file("vault"), toPath: backup)
        p.scratch.write("notes.txt", "filed after the backup\n")
        #expect(try p.cli.run(p.fileArguments("notes.txt", name: "Notes", type: "report")).code == 0)
        // An auditor takes a checkpoint home.
        #expect(try p.cli.run(["checkpoint", "--out", "auditor.checkpoint"] + p.as("dora")).code == 0)
        try FileManager.default.removeItem(atPath: p.scratch.file("vault"))
        try FileManager.default.copyItem(atPath: backup, toPath: p.scratch.file("vault"))

        let list = try p.cli.run(["case", "list"])
        #expect(list.code == 81)
        #expect(list.errors.hasPrefix("casevault: error: integrity check failed: the event log does not extend your last checkpoint of this vault"))
        #expect(list.errors.contains("hint: if nobody restored this vault from a backup, it was tampered with"))
        #expect(try p.cli.run(["get", "CP-2024-0042", "Notes"] + p.as("grace")).code == 81)
        // On another machine, with no saved checkpoint, the auditor's refuses it.
        var elsewhere = p.cli
        elsewhere.environment["HOME"] = p.scratch.file("elsewhere")
        #expect(try elsewhere.run(["case", "list"]).code == 0)  // nothing to compare with
        let audited = try elsewhere.run(["case", "list", "--checkpoint", "auditor.checkpoint"])
        #expect(audited.code == 81)
        #expect(audited.errors.contains("does not extend the checkpoint you gave"))
        let verify = try elsewhere.run(["verify", "--checkpoint", "auditor.checkpoint"])
        #expect(verify.code == 81)
        #expect(verify.stdout.contains("checkpoint-not-extended  the checkpoint given: it signed "))
        // Restored on purpose: with the checkpoint moved aside (README), the backup is the vault.
        let folder = p.scratch.file(".local/state/casevault")
        let saved = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".checkpoint") }
        #expect(saved.count == 1)
        try FileManager.default.moveItem(atPath: folder + "/" + saved[0], toPath: p.scratch.file("old.checkpoint"))
        #expect(try p.cli.run(["verify"]).code == 0)
        #expect(try p.cli.run(["case", "list"]).code == 0)
    }

    @Test func anEditedRowIsRefusedWithItsName() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        let edit = try p.cli.run([p.scratch.file("vault/catalog.sqlite"), "UPDATE cases SET status = 'C'"], executable: "/usr/bin/sqlite3")
        #expect(edit.code == 0)
        let show = try p.cli.run(["case", "show", "CP-2024-0042"])
        #expect(show.code == 81)
        #expect(show.errors.hasPrefix("casevault: error: integrity check failed: case CP-2024-0042 (or one of its grants) in the catalog differs from its signed state\n"))
        let verify = try p.cli.run(["verify"])
        #expect(verify.code == 81)
        #expect(verify.stdout.contains("row-changed  cases CP-2024-0042: status differs from the signed log"))
    }
}
