import CaseVault
import Foundation
import Testing

/// Issue 12, item 5: every command that prints data has `--json`, and each
/// output validates against its documented schema in `Schemas/cli/`.
/// (Retention apply and certificate, and audit verify-export, are held to
/// theirs where their scenes are built: RetentionCLITests,
/// AuditExportCLITests.)
@Suite struct JSONShapeCLITests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Schemas/examples").standardized

    @Test func everyJSONOutputHasItsDocumentedShape() throws {
        let p = try CLIProgramme()
        #expect(try p.cli.run(["case", "open"] + p.as("halima") + ["--category", "CP", "--admitted", "2024", "--client", "42",
                                                                   "--manager", "grace", "--supervisor", "halima",
                                                                   "--client-name", "Zainab Ochieng"]).code == 0)
        // Two versions of a form (for diff), a report and a photo, in one JSON Lines run and two more.
        var intake = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.examples.appendingPathComponent("intake.json"))) as! [String: Any]
        try JSONSerialization.data(withJSONObject: intake).write(to: URL(fileURLWithPath: p.scratch.file("intake-1.json")))
        intake["childsAccount"] = "A second account, given at the follow-up."
        try JSONSerialization.data(withJSONObject: intake).write(to: URL(fileURLWithPath: p.scratch.file("intake-2.json")))
        p.scratch.write("Home visit.txt", "A home visit.\n")
        p.scratch.write("Follow-up.txt", "A follow-up.\n")
        try expectShape(try p.cli.run(["file", "CP-2024-0042", "--form", "intake", "intake-1.json", "--json"] + p.as("farah")),
                        schema: "file", lines: true)
        try expectShape(try p.cli.run(["file", "CP-2024-0042", "--form", "intake", "intake-2.json", "--json"] + p.as("farah")),
                        schema: "file", lines: true)
        let bulk = try expectShape(try p.cli.run(["file", "CP-2024-0042", "Home visit.txt", "Follow-up.txt", "--type", "report", "--json"]
                                                 + p.as("farah")), schema: "file", lines: true)
        #expect(bulk.count == 2)
        #expect(try p.cli.run(["case", "tag", "CP-2024-0042", "add", "case-of-concern"] + p.as("grace")).code == 0)
        #expect(try p.cli.run(["hold", "add", "CP-2024-0042", "--reason", "court order"] + p.as("dora")).code == 0)
        _ = try p.cli.run(["get", "CP-2024-0042", "Home visit", "-o", "out.txt"] + p.as("grace"))

        let list = try expectShape(try p.cli.run(["case", "list", "--json"]), schema: "case-list")
        #expect(count(list.first) == 1)
        try expectShape(try p.cli.run(["case", "show", "CP-2024-0042", "--json"]), schema: "case-show")
        let found = try expectShape(try p.cli.run(["find", "--name", "Zeinab", "--json"] + p.as("grace")), schema: "find")
        #expect(count(found.first) == 1)
        try expectShape(try p.cli.run(["find", "--number", "CP-2024", "--json"]), schema: "find")
        try expectShape(try p.cli.run(["history", "CP-2024-0042", "--json"]), schema: "history")
        try expectShape(try p.cli.run(["staff", "list", "--json"]), schema: "staff-list")
        try expectShape(try p.cli.run(["due", "--json", "--as-of", "2030-01-01"]), schema: "due")
        try expectShape(try p.cli.run(["hold", "list", "--json"]), schema: "hold-list")
        try expectShape(try p.cli.run(["report", "monthly", "--month", String(Date().formatted(.iso8601).prefix(7)), "--json"]),
                        schema: "report-monthly")
        // Counted from every case, the same report; a new vault keeps tallies from its first event.
        let month = String(Date().formatted(.iso8601).prefix(7))
        let tallied = try p.cli.run(["report", "monthly", "--month", month, "--json"]).stdout
        let recounted = try p.cli.run(["report", "monthly", "--month", month, "--json", "--recount"]).stdout
        #expect(tallied.replacingOccurrences(of: "\"talliesSince\" : 1", with: "\"talliesSince\" : null") == recounted)
        let again = try p.cli.run(["report", "start-tallies"] + p.as("dora"))
        #expect(again.code != 0 && again.stderr.contains("keeps the report's tallies since event 1"), "\(again.stderr)")
        try expectShape(try p.cli.run(["handover", "check", "--from", "grace", "--json"]), schema: "handover-check")
        try expectShape(try p.cli.run(["label", "CP-2024-0042", "--json"]), schema: "label")
        try expectShape(try p.cli.run(["schema", "list", "--json"]), schema: "schema-list")
        try expectShape(try p.cli.run(["policy", "show", "--json"]), schema: "policy-show")
        let diff = try expectShape(try p.cli.run(["diff", "CP-2024-0042", "Intake form", "--json"] + p.as("grace")), schema: "diff")
        if case .object(let members)? = diff.first { #expect(count(members["changes"]) == 1) } else { Issue.record("diff is not an object") }
        var policy = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.examples.appendingPathComponent("retention-policy.json"))) as! [String: Any]
        policy["vaultId"] = try p.vault().config.vaultId
        policy["legalHolds"] = []
        try JSONSerialization.data(withJSONObject: policy).write(to: URL(fileURLWithPath: p.scratch.file("policy.json")))
        #expect(try p.cli.run(["retention", "policy", "set", "policy.json"] + p.as("amina")).code == 0)
        try expectShape(try p.cli.run(["retention", "plan", "--json", "--as-of", "2100-01-01"]), schema: "retention-plan")
        try expectShape(try p.cli.run(["verify", "--json"]), schema: "verify")
        let events = try expectShape(try p.cli.run(["audit", "log", "--json", "--unanchored"]), schema: "audit-log", lines: true)
        #expect(events.count > 10)
        try expectShape(try p.cli.run(["audit", "access", "CP-2024-0042", "--json", "--unanchored"]), schema: "audit-access")
        try expectShape(try p.cli.run(["audit", "controls", "--json", "--unanchored"]), schema: "audit-controls")
        // A handover package to the supervisor, and its opening.
        let exported = try expectShape(try p.cli.run(["export", "handover", "--cases", "CP-2024-0042", "--to", "halima", "--out", "handover.cvp",
                                                      "--json"] + p.as("grace")), schema: "export-handover")
        if case .object(let members)? = exported.first, case .object(let hash)? = members["hash"] {
            #expect(hash["algorithm"] == .string("blake3") && count(members["files"]) == 3)
        } else { Issue.record("export handover --json is not an object with a hash") }
        let opened = try expectShape(try p.cli.run(["package", "open", "handover.cvp", "--out", "opened", "--json"] + p.as("halima")),
                                     schema: "package-open")
        if case .object(let members)? = opened.first { #expect(count(members["files"]) == 3) } else { Issue.record("package open --json is not an object") }
    }

    func count(_ value: JSONValue?) -> Int? {
        if case .array(let items)? = value { return items.count }
        return nil
    }

    /// A schema that does not describe the output must fail: the check can fail.
    @Test func aShapeThatDoesNotHoldIsCaught() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Schemas/cli/label.schema.json").standardized
        let validator = try SchemaValidator(schema: try JSONValue(parsing: Array(try Data(contentsOf: url))))
        let good = #"{"number":"CP-2024-0042","category":"CP","year":2024,"clientNumber":"0042","status":"O","statusName":"open","spine":"x"}"#
        #expect(validator.isValid(try JSONValue(parsing: Array(good.utf8))))
        for bad in [good.replacingOccurrences(of: #""status":"O""#, with: #""status":"X""#),
                    good.replacingOccurrences(of: #","spine":"x""#, with: ""),
                    good.replacingOccurrences(of: "}", with: #","name":"Zainab"}"#)] {
            #expect(!validator.isValid(try JSONValue(parsing: Array(bad.utf8))), "\(bad)")
        }
    }
}
