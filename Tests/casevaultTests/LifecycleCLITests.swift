import Foundation
import Testing

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

/// `case status`, `case approve`, `case reopen` as a user runs them.
@Suite struct LifecycleCLITests {
    @Test func aCaseIsMovedClosedWithApprovalAndReopened() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        let moved = try p.cli.run(["case", "status", "CP-2024-0042", "IA"] + p.as("grace") + ["--reason", "no contact since March"])
        #expect(moved.code == 0, "\(moved.stderr)")
        #expect(moved.stdout == "Case CP-2024-0042 [IA]: status is now IA (inactive).\n")

        // A disallowed move names the rule, exit 65; a wrong member, exit 77.
        let disallowed = try p.cli.run(["case", "status", "CP-2024-0042", "AO"] + p.as("halima") + ["--reason", "x"])
        #expect(disallowed.code == 65)
        #expect(disallowed.errors.contains("IA → AO is not an allowed move: from IA a case moves to O (open), C (closed)"))
        let wrongMember = try p.cli.run(["case", "status", "CP-2024-0042", "O"] + p.as("farah") + ["--reason", "x"])
        #expect(wrongMember.code == 77)
        let badStatus = try p.cli.run(["case", "status", "CP-2024-0042", "X"] + p.as("grace") + ["--reason", "x"])
        #expect(badStatus.code == 64)

        // Closing: first the form, then the manager asks and the supervisor approves.
        let noForm = try p.cli.run(["case", "status", "CP-2024-0042", "C"] + p.as("grace") + ["--reason", "left", "--approved-by", "halima"])
        #expect(noForm.code == 65)
        #expect(noForm.errors.contains("needs a filed closure form first: casevault file CP-2024-0042 --form closure FILE.json"))
        let form = try p.cli.run(["file", "CP-2024-0042"] + p.as("grace") + ["--form", "closure",
                                 repository.appendingPathComponent("Schemas/examples/closure.json").path])
        #expect(form.code == 0, "\(form.stderr)")
        let alone = try p.cli.run(["case", "status", "CP-2024-0042", "C"] + p.as("grace") + ["--reason", "left"])
        #expect(alone.code == 77)
        #expect(alone.errors.contains("a case manager does not close a case alone: add --approved-by halima"))
        let asked = try p.cli.run(["case", "status", "CP-2024-0042", "C"] + p.as("grace") + ["--reason", "child left the country",
                                                                                           "--approved-by", "halima"])
        #expect(asked.code == 0, "\(asked.stderr)")
        #expect(asked.stdout == """
            Closure of CP-2024-0042 requested; it awaits the approval of halima.
              halima approves with: casevault case approve CP-2024-0042

            """)
        #expect(try p.cli.run(["case", "show", "CP-2024-0042"]).stdout.contains("closure requested: "))
        #expect(try p.cli.run(["case", "approve", "CP-2024-0042"] + p.as("dora")).code == 77)
        let approved = try p.cli.run(["case", "approve", "CP-2024-0042"] + p.as("halima"))
        #expect(approved.code == 0, "\(approved.stderr)")
        #expect(approved.stdout == "Case CP-2024-0042 [C]: closure approved, status is now C (closed).\n")

        let reopenedByManager = try p.cli.run(["case", "reopen", "CP-2024-0042"] + p.as("grace") + ["--reason", "back"])
        #expect(reopenedByManager.code == 77)
        let reopened = try p.cli.run(["case", "reopen", "CP-2024-0042"] + p.as("halima") + ["--reason", "family returned"])
        #expect(reopened.code == 0)
        #expect(reopened.stdout == "Case CP-2024-0042 [O]: reopened, status is now O (open).\n")

        let shown = try p.cli.run(["case", "show", "CP-2024-0042"])
        let lines = shown.stdout.split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex(of: "Status changes:"))
        #expect(lines[start + 1].hasPrefix("  DATE"))
        #expect(lines[start + 2].contains("O → IA") && lines[start + 2].contains("grace") && lines[start + 2].hasSuffix("no contact since March"))
        #expect(lines[start + 3].contains("IA → C") && lines[start + 3].contains("halima (asked by grace)"))
        #expect(lines[start + 4].contains("C → O") && lines[start + 4].hasSuffix("family returned"))
        #expect(!shown.stdout.contains("closure requested"))
        #expect(try p.cli.run(["verify"]).code == 0)
    }
}

/// `withdraw` and `move` as a user runs them.
@Suite struct CorrectionCLITests {
    /// A day that is not on the calendar is refused, not rolled over
    /// (2024-02-30 was read as March 1st), and an error a command finds
    /// after parsing shows that command's usage, not the root's.
    @Test func aDayNotOnTheCalendarIsRefusedWithTheCommandsUsage() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        for command in [["handover", "check", "--from", "grace"], ["due"]] {
            let refused = try p.cli.run(command + ["--as-of", "2024-02-30"])
            #expect(refused.code == 64)
            #expect(refused.stderr.hasPrefix("casevault: error: --as-of takes a day of the calendar, YYYY-MM-DD, not '2024-02-30'\nUsage: casevault \(command[0])"))
            #expect(refused.stderr.hasSuffix("  See 'casevault \(command.prefix { !$0.hasPrefix("-") }.joined(separator: " ")) --help' for more information.\n"))
            #expect(try p.cli.run(command + ["--as-of", "2024-02-29"]).code == 0)
        }
    }

    @Test func aVersionIsWithdrawnAndADocumentMoved() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        #expect(try p.cli.run(["case", "open"] + p.as("halima") + ["--category", "CP", "--admitted", "2024", "--client", "43",
                                                                   "--manager", "grace", "--supervisor", "halima"]).code == 0)
        p.scratch.write("v1.txt", "first visit\n")
        p.scratch.write("v2.txt", "another child's visit\n")
        #expect(try p.cli.run(p.fileArguments("v1.txt", name: "Visit", type: "report")).code == 0)
        #expect(try p.cli.run(p.fileArguments("v2.txt", name: "Visit", type: "report")).code == 0)

        let refused = try p.cli.run(["withdraw", "CP-2024-0042", "Visit", "2", "--reason", "wrong child"] + p.as("farah"))
        #expect(refused.code == 77)
        let withdrawn = try p.cli.run(["withdraw", "CP-2024-0042", "Visit", "2", "--reason", "wrong child"] + p.as("grace"))
        #expect(withdrawn.code == 0, "\(withdrawn.stderr)")
        #expect(withdrawn.stdout == "Withdrew 'Visit' version 2 of CP-2024-0042; it stays in its history.\n")
        let current = try p.cli.run(["get", "CP-2024-0042", "Visit"] + p.as("grace"))
        #expect(current.stdout == "first visit\n")
        let old = try p.cli.run(["get", "CP-2024-0042", "Visit", "v2"] + p.as("grace"))
        #expect(old.stdout == "another child's visit\n")
        #expect(old.stderr.contains("warning: version 2 of 'Visit' was withdrawn on ") && old.stderr.contains("by grace: wrong child"))
        let history = try p.cli.run(["history", "CP-2024-0042", "Visit"])
        #expect(history.stdout.contains("WITHDRAWN") && history.stdout.contains("Version 2 of 'Visit' was withdrawn by grace: wrong child"))

        let moved = try p.cli.run(["move", "CP-2024-0042", "Visit", "--to", "CP-2024-0043", "--reason", "other child"] + p.as("grace"))
        #expect(moved.code == 0, "\(moved.stderr)")
        #expect(moved.stdout.hasPrefix("Moved 'Visit' (2 versions) to CP-2024-0043 as 'Visit'."))
        let gone = try p.cli.run(["get", "CP-2024-0042", "Visit"] + p.as("grace"))
        #expect(gone.code == 66)
        #expect(gone.errors.contains("'Visit' was moved from CP-2024-0042 to CP-2024-0043 as 'Visit'"))
        #expect(try p.cli.run(["get", "CP-2024-0043", "Visit"] + p.as("grace")).stdout == "first visit\n")
        #expect(try p.cli.run(["case", "show", "CP-2024-0042"]).stdout.contains("'Visit' → CP-2024-0043 'Visit'"))
        #expect(try p.cli.run(["verify", "--read-data"]).code == 0)
    }
}
