import CaseVault
import CaseVaultSQLite
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

/// `retention approve`, `retention apply`, `retention certificate` as a user
/// runs them, and `retention apply` killed at random points.
@Suite struct RetentionCLITests {
    static func date(_ day: String) -> Date { try! Date(day + "T09:00:00Z", strategy: .iso8601) }

    /// `count` cases of 2020, each with three documents and a closure form,
    /// closed on 2020-06-01, under the example policy with a keeping period
    /// of one year (so they are due today): two approvals by a case
    /// supervisor or a project director.
    func closedCases(_ count: Int) throws -> CLIProgramme {
        let p = try CLIProgramme()
        let vault = try p.vault()
        func unlock(_ id: String) throws -> StaffIdentity {
            try vault.unlock(staffID: id, passphrase: try Passphrase(contentsOfFile: p.scratch.file("\(id).pw")))
        }
        let halima = try unlock("halima"), farah = try unlock("farah"), grace = try unlock("grace")
        let closure = repository.appendingPathComponent("Schemas/examples/closure.json").path
        for client in 1...count {
            let number = try vault.openCase(category: "CP", admitted: 2020, clientNumber: client, managerID: "grace", supervisorID: "halima",
                                            by: halima, now: Self.date("2020-01-01")).number.description
            for (name, type) in [("Intake form", "form"), ("Photo", "photo"), ("Care plan", "care-plan")] {
                p.scratch.write("doc.txt", "\(name) of \(number) " + String(repeating: "x", count: 40_000))
                _ = try vault.file(caseNumber: number, name: name, type: type, from: .file(path: p.scratch.file("doc.txt")), by: farah)
            }
            _ = try vault.fileForm(caseNumber: number, type: "closure", from: .file(path: closure), by: grace)
            _ = try vault.changeStatus(of: number, to: .closed, reason: "reunified", by: halima, now: Self.date("2020-06-01"))
        }
        var policy = try JSONSerialization.jsonObject(with: Data(contentsOf: repository.appendingPathComponent("Schemas/examples/retention-policy.json"))) as! [String: Any]
        policy["vaultId"] = vault.config.vaultId
        policy["legalHolds"] = []
        var rule = policy["default"] as! [String: Any]
        rule["keep"] = ["years": 1]
        policy["default"] = rule
        try JSONSerialization.data(withJSONObject: policy).write(to: URL(fileURLWithPath: p.scratch.file("policy.json")))
        let set = try p.cli.run(["retention", "policy", "set"] + p.as("amina") + ["policy.json"])
        #expect(set.code == 0, "\(set.stderr)")
        return p
    }

    @Test func approveApplyAndTheCertificateFromTheCommandLine() throws {
        let p = try closedCases(2)
        #expect(try p.openCase().code == 0)  // CP-2024-0042 stays open
        p.scratch.write("note.txt", "still open")
        #expect(try p.cli.run(p.fileArguments("note.txt", name: "Note", type: "note")).code == 0)
        // An open case is not due (exit 65).
        let open = try p.cli.run(["retention", "approve", "CP-2024-0042"] + p.as("halima") + ["--reason", "schedule"])
        #expect(open.code == 65 && open.errors.contains("CP-2024-0042 is not due for disposal: it is O, not closed"), "\(open.stderr)")
        // A case manager may not approve (exit 77).
        let manager = try p.cli.run(["retention", "approve", "CP-2020-0001"] + p.as("grace") + ["--reason", "x"])
        #expect(manager.code == 77)
        for id in ["halima", "dora"] {
            let approved = try p.cli.run(["retention", "approve", "--due"] + p.as(id) + ["--reason", "schedule reached"])
            #expect(approved.code == 0, "\(approved.stderr)")
            #expect(approved.stdout.contains("CP-2020-0001  approved"))
        }
        // Apply needs --approved-by (exit 64) and someone other than an approver.
        #expect(try p.cli.run(["retention", "apply"] + p.as("amina")).code == 64)
        let selfApproved = try p.cli.run(["retention", "apply", "--approved-by", "dora,halima"] + p.as("dora"))
        #expect(selfApproved.code == 65, "\(selfApproved.stderr)")
        let applied = try p.cli.run(["retention", "apply", "--approved-by", "halima", "--approved-by", "dora"] + p.as("amina"))
        #expect(applied.code == 0, "\(applied.stderr)")
        #expect(applied.stdout.contains("CP-2020-0001  disposed  4"))
        #expect(applied.stdout.hasSuffix("Disposed of 2 case(s).\n"))

        let got = try p.cli.run(["get", "CP-2020-0001", "Intake form", "-o", "out.txt"] + p.as("grace"))
        #expect(got.code == 66)
        #expect(got.errors.contains("CP-2020-0001 was disposed of on \(Date().formatted(.iso8601).prefix(10)) under retention policy v1 (default; event"))
        #expect(!FileManager.default.fileExists(atPath: p.scratch.file("out.txt")))
        let certificate = try p.cli.run(["retention", "certificate", "CP-2020-0001"])
        #expect(certificate.code == 0, "\(certificate.stderr)")
        #expect(certificate.stdout.hasPrefix("DISPOSAL CERTIFICATE — CP-2020-0001\n"))
        #expect(certificate.stdout.contains("4 document(s), 4 version(s)"))
        #expect(certificate.stdout.contains("approved by:         halima on"))
        let json = try p.cli.run(["retention", "certificate", "CP-2020-0001", "--json"])
        try expectShape(json, schema: "retention-certificate")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["destroyed"] as? [Any])?.count == 4 && object["disposedBy"] as? String == "amina")
        let show = try p.cli.run(["case", "show", "CP-2020-0001"])
        #expect(show.stdout.contains("disposed of:"))
        let verify = try p.cli.run(["verify", "--read-data"])
        #expect(verify.code == 0, "\(verify.stdout) \(verify.stderr)")
        // The independent decoder, from SECURITY.md, checks the new events
        // and the tombstone, and still reads the open case.
        if let python = IndependentDecoderTests.python {
            let home = ProcessInfo.processInfo.environment["HOME"] ?? p.scratch.path
            func decode(_ number: String, _ document: String) throws -> CLI.Result {
                try p.cli.run([IndependentDecoderTests.script, p.scratch.file("vault"), "grace", p.scratch.file("grace.pw"), number, document],
                              extraEnvironment: ["HOME": home], executable: python)
            }
            let refused = try decode("CP-2020-0001", "Intake form")
            #expect(refused.code != 0 && refused.stderr.contains("CP-2020-0001 was disposed of on"), "\(refused.stderr)")
            let live = try decode("CP-2024-0042", "Note")
            #expect(live.code == 0 && live.stdout == "still open", "\(live.stderr)")
        }
        // Run again: nothing to do.
        let again = try p.cli.run(["retention", "apply", "--approved-by", "halima,dora"] + p.as("amina"))
        #expect(again.code == 0 && again.stdout.hasPrefix("Nothing to dispose of"), "\(again.stdout)")
        // With --json: what the run did to each due case, in its documented shape.
        let plan = try p.cli.run(["retention", "plan", "--json", "--as-of", "2100-01-01"])
        try expectShape(plan, schema: "retention-plan")
        try expectShape(try p.cli.run(["retention", "apply", "--approved-by", "halima,dora", "--json"] + p.as("amina")), schema: "retention-apply")
    }

    @Test func applyKilledAtRandomPointsAndRunAgainEndsAsOneUninterruptedRun() throws {
        let p = try closedCases(12)
        for id in ["halima", "dora"] {
            #expect(try p.cli.run(["retention", "approve", "--due"] + p.as(id) + ["--reason", "schedule reached"]).code == 0)
        }
        // The same vault, copied, is disposed of in one run.
        let reference = p.scratch.file("reference")
        try FileManager.default.copyItem(atPath: p.scratch.file("vault"), toPath: reference)
        let apply = ["retention", "apply", "--approved-by", "halima,dora"] + p.as("amina")
        let start = Date()
        let whole = try p.cli.run(apply, extraEnvironment: ["CASEVAULT_DIR": reference, "CASEVAULT_STATE_DIR": p.scratch.file("reference-state")])
        let duration = Date().timeIntervalSince(start)
        #expect(whole.code == 0, "\(whole.stderr)")

        var generator = SystemRandomNumberGenerator()
        var killed = 0
        for run in 0..<8 {
            let process = try p.cli.start(apply)
            // The first kill comes early: once a run finishes, the rest have nothing left to do and
            // end before any kill (on a loaded machine that made this test see no kill at all).
            let fraction = run == 0 ? Double.random(in: 0.02...0.2, using: &generator) : Double.random(in: 0.05...0.9, using: &generator)
            usleep(useconds_t(fraction * duration * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { killed += 1 }
        }
        let last = try p.cli.run(apply)
        #expect(last.code == 0, "\(last.stderr)")
        print("retention apply kill test: one run took \(duration) s; \(killed) of 8 runs killed")
        #expect(killed > 0)

        // Same cases disposed of, same objects and blobs left, both clean.
        let interrupted = try p.vault(), uninterrupted = try Vault.open(at: reference)
        for client in 1...12 {
            let number = "CP-2020-" + String(format: "%04d", client)
            #expect(try interrupted.disposal(of: number) != nil && uninterrupted.disposal(of: number) != nil, "\(number)")
        }
        func objects(_ path: String) throws -> Set<String> {
            var found = Set<String>()
            for folder in try FileManager.default.contentsOfDirectory(atPath: path + "/objects") where folder.count == 2 {
                found.formUnion(try FileManager.default.contentsOfDirectory(atPath: path + "/objects/" + folder))
            }
            return found
        }
        #expect(try objects(p.scratch.file("vault")) == objects(reference))
        #expect(try objects(reference).isEmpty)
        for vault in [interrupted, uninterrupted] {
            let report = try vault.verify(VerifyOptions(readData: .all))
            #expect(report.isClean && report.notes.isEmpty, "\(report.findings) \(report.notes)")
            #expect(report.events == (try uninterrupted.verify()).events)
        }
    }
}

/// `handover check` as a user runs it.
@Suite struct HandoverCLITests {
    @Test func checkListsWhatBlocksAsATableAndAsJSON() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        p.scratch.write("note.txt", "a note")
        #expect(try p.cli.run(p.fileArguments("note.txt", name: "Note", type: "note")).code == 0)
        let table = try p.cli.run(["handover", "check", "--from", "grace"])
        #expect(table.code == 0, "\(table.stderr)")
        #expect(table.stdout.hasPrefix("CASE          AS       WHAT              DOCUMENT  DETAIL\n"))
        #expect(table.stdout.contains("CP-2024-0042  manager  missing-document            no current intake form, which a case in status O needs"))
        #expect(table.stdout.contains("unread-filings    Note      1 version(s) filed by others (farah) and never read by grace"))
        #expect(table.stdout.hasSuffix("0 of 1 case(s) ready to hand over.\n"))
        let json = try p.cli.run(["handover", "check", "--from", "grace", "--json", "--require", "O=intake"])
        let cases = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(cases.count == 1 && cases[0]["ready"] as? Bool == false)
        #expect((cases[0]["blockers"] as? [[String: Any]])?.map { $0["kind"] as? String } == ["missing-document", "unread-filings"])
        #expect(try p.cli.run(["handover", "check", "--from", "grace", "--require", "X=intake"]).code == 64)
        #expect(try p.cli.run(["handover", "check", "--from", "nobody"]).code == 66)
        let none = try p.cli.run(["handover", "check", "--from", "farah"])
        #expect(none.code == 0 && none.stdout == "farah holds no open case.\n")
    }
}
