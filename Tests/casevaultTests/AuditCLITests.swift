import CaseVault
import Foundation
import Testing

/// Issue 11, item 1, as an auditor runs it: no passphrase, no key.
@Suite struct AuditCLITests {
    @Test func anAuditorReadsTheLogAndACasesAccessHistoryWithoutAKey() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        p.scratch.write("note.txt", "Home visit: all well.\n")
        #expect(try p.cli.run(p.fileArguments("note.txt", name: "Home visit", type: "report")).code == 0)
        #expect(try p.cli.run(["get", "CP-2024-0042", "Home visit"] + p.as("grace")).code == 0)
        #expect(try p.cli.run(["get", "CP-2024-0042", "Home visit"] + p.as("farah")).code == 77)

        let log = try p.cli.run(["audit", "log", "--case", "CP-2024-0042", "--type", "content."])
        #expect(log.code == 0, "\(log.stderr)")
        let lines = log.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("SEQ  AT") == true)
        #expect(lines.count == 4 && lines[1].contains("content.read") && lines[1].contains("grace")
                && lines[2].contains("content.refused") && lines[2].contains("farah"), "\(log.stdout)")
        #expect(lines.last == "2 event(s), each in the trusted log and validly signed.")

        // JSON Lines: every line an object that carries its own proof material.
        let json = try p.cli.run(["audit", "log", "--json"])
        let objects = try json.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count > 10)
        #expect(objects.allSatisfy { ($0["signature"] as? String)?.count == 128 && ($0["leafHash"] as? String)?.count == 64 && $0["body"] is String })
        #expect((objects.first?["type"] as? String) == "vault.created" && (objects.first?["seq"] as? Int) == 1)

        let access = try p.cli.run(["audit", "access", "CP-2024-0042"])
        #expect(access.code == 0, "\(access.stderr)")
        #expect(access.stdout.hasPrefix("Access to CP-2024-0042, from the signed log (no key unsealed)\nteam tier:\n"))
        #expect(access.stdout.contains("staff:grace") && access.stdout.contains("recovery") && access.stdout.contains("now"))
        #expect(access.stdout.contains("content.refused") && access.stdout.contains("refused, role"))
        let structured = try p.cli.run(["audit", "access", "CP-2024-0042", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(structured.stdout.utf8)) as? [String: Any])
        #expect((object["tiers"] as? [String: Any])?.keys.sorted() == ["confidential", "team"])
        #expect((object["uses"] as? [Any])?.count == 2)

        // An inclusion proof under a checkpoint, checked with the two files alone.
        #expect(try p.cli.run(["checkpoint", "--out", "audit.checkpoint"] + p.as("dora")).code == 0)
        let proved = try p.cli.run(["audit", "prove", "7", "--checkpoint", "audit.checkpoint", "--out", "proof.json"])
        #expect(proved.code == 0, "\(proved.stderr)")
        var offline = p.cli
        offline.environment["CASEVAULT_DIR"] = nil
        let checked = try offline.run(["audit", "check-proof", "proof.json", "--checkpoint", "audit.checkpoint"])
        #expect(checked.code == 0 && checked.stdout.hasPrefix("Event 7 ("), "\(checked.stderr)")
        var tampered = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: p.scratch.file("proof.json"))))
            as? [String: Any])
        tampered["leafIndex"] = 5
        try JSONSerialization.data(withJSONObject: tampered).write(to: URL(fileURLWithPath: p.scratch.file("bad.json")))
        #expect(try offline.run(["audit", "check-proof", "bad.json", "--checkpoint", "audit.checkpoint"]).code == 81)

        // The controls report: Markdown by default, JSON on request, no passphrase.
        let controls = try p.cli.run(["audit", "controls"])
        #expect(controls.code == 0, "\(controls.stderr)")
        #expect(controls.stdout.hasPrefix("# Confidentiality controls\n"))
        #expect(controls.stdout.contains("| Reads refused (role or no grant) | info | 1 |"))
        #expect(controls.stdout.contains("| CP-2024-0042 | confidential | grace, halima, recovery key |"))
        let controlsJSON = try p.cli.run(["audit", "controls", "--json"])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(controlsJSON.stdout.utf8)) as? [String: Any])
        let checks = try #require(parsed["checks"] as? [[String: Any]])
        #expect(checks.count == 12 && checks.allSatisfy { $0["passed"] is Bool && $0["items"] is [String] })

        // On a machine that never saw this vault (no checkpoint kept), the log is not anchored:
        // refused unless the auditor gives their checkpoint, or asks to read it on its own word.
        var stranger = p.cli
        stranger.environment["HOME"] = p.scratch.file("elsewhere")
        try FileManager.default.createDirectory(atPath: p.scratch.file("elsewhere"), withIntermediateDirectories: true)
        let unanchored = try stranger.run(["audit", "log"])
        #expect(unanchored.code == 65 && unanchored.stderr.contains("not anchored"), "\(unanchored.stderr)")
        #expect(try stranger.run(["audit", "log", "--unanchored"]).code == 0)
        let anchored = try stranger.run(["audit", "controls", "--checkpoint", "audit.checkpoint"])
        #expect(anchored.code == 0 && anchored.stderr.contains("anchored by"), "\(anchored.stderr)")

        let badDay = try p.cli.run(["audit", "log", "--since", "yesterday"])
        #expect(badDay.code == 65 && badDay.stderr.contains("--since takes a day, YYYY-MM-DD"))
        #expect(try p.cli.run(["audit", "access", "CP-2024-0099"]).code == 66)
        // The newest reads deleted from the end of the log (which the state root cannot show): the
        // checkpoint this user's casevault keeps refuses the shorter log.
        let cut = try p.cli.run([p.scratch.file("vault/catalog.sqlite"), "DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)"],
                                executable: "/usr/bin/sqlite3")
        #expect(cut.code == 0)
        #expect(try p.cli.run(["audit", "log"]).code == 81)
        // A log edited in the vault folder is refused, not listed.
        let edit = try p.cli.run([p.scratch.file("vault/catalog.sqlite"), "UPDATE events SET signature = zeroblob(64) WHERE type = 'content.refused'"],
                                 executable: "/usr/bin/sqlite3")
        #expect(edit.code == 0, "sqlite3 (installed by make test) could not edit the catalog")
        #expect(try p.cli.run(["audit", "log"]).code == 81)
    }
}
