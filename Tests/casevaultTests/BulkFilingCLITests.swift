import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 12, items 1 (the passphrase command) and 2 (bulk filing), as a
/// records officer meets them.
@Suite struct BulkFilingCLITests {
    /// Cases CP-2024-0001 … 0008, and `count` files in `intake/` spread
    /// over them, listed in `intake/week.csv`.
    func intake(_ p: CLIProgramme, count: Int = 30, size: Int = 2_000) throws -> [String] {
        for client in 1...8 {
            let opened = try p.cli.run(["case", "open"] + p.as("halima") + ["--category", "CP", "--admitted", "2024",
                                        "--client", "\(client)", "--manager", "grace", "--supervisor", "halima"])
            #expect(opened.code == 0, "\(opened.stderr)")
        }
        try FileManager.default.createDirectory(atPath: p.scratch.file("intake"), withIntermediateDirectories: true)
        var rows = ["case,path,type,name,confidential"]
        for i in 1...count {
            let body = String(repeating: "intake page \(i) ", count: size / 16)
            p.scratch.write("intake/doc \(i).txt", body)
            rows.append("CP-2024-000\(i % 8 + 1),doc \(i).txt,report,\"Intake, part \(i)\",\(i % 5 == 0 ? "yes" : "no")")
        }
        p.scratch.write("intake/week.csv", rows.joined(separator: "\r\n") + "\r\n")
        return rows
    }

    /// Every version in the eight cases, as (case, document, version).
    func filed(_ p: CLIProgramme) throws -> [String] {
        try (1...8).flatMap { client -> [String] in
            let history = try p.cli.run(["history", "CP-2024-000\(client)", "--json"])
            let versions = try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]] ?? []
            return versions.map { "CP-2024-000\(client)/\($0["document"] as? String ?? "?")/v\($0["version"] as? Int ?? 0)" }
        }.sorted()
    }

    /// A passphrase command that counts its runs in `runs.log`.
    func countingCommand(_ p: CLIProgramme, _ id: String) -> [String] {
        ["--as", id, "--passphrase-command", "echo run >> '\(p.scratch.file("runs.log"))'; cat '\(p.scratch.file("\(id).pw"))'"]
    }

    func runs(_ p: CLIProgramme) -> Int {
        ((try? String(contentsOfFile: p.scratch.file("runs.log"), encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test func thirtyDocumentsIntoEightCasesWithOneCommandAndOneUnlock() throws {
        let p = try CLIProgramme()
        _ = try intake(p)
        // --check needs no passphrase (there is no terminal and no file).
        let check = try p.cli.run(["file", "--manifest", "intake/week.csv", "--check", "--as", "farah"])
        #expect(check.code == 0, "\(check.stderr)")
        #expect(check.stdout.hasPrefix("Checked week.csv: 30 documents (") && check.stdout.hasSuffix("into 8 cases can be filed. Nothing was filed.\n"))
        #expect(try filed(p).isEmpty)

        let run = try p.cli.run(["file", "--manifest", "intake/week.csv"] + countingCommand(p, "farah"))
        #expect(run.code == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix("Filed 30 documents (") && run.stdout.contains("into 8 cases in "))
        #expect(runs(p) == 1)
        let versions = try filed(p)
        #expect(versions.count == 30 && versions.allSatisfy { $0.hasSuffix("/v1") })
        #expect(versions.contains("CP-2024-0002/Intake, part 1/v1"))
        // Not a terminal: no progress bar, no carriage returns.
        #expect(!run.stderr.contains("\r"))

        let read = try p.cli.run(["get", "CP-2024-0006", "Intake, part 5"] + p.as("grace"))
        #expect(read.stdout.hasPrefix("intake page 5 "))
        let history = try p.cli.run(["history", "CP-2024-0006", "--json"])
        #expect(history.stdout.contains("\"confidential\""))

        // The same batch again files nothing, and says so; --again files it anew.
        let again = try p.cli.run(["file", "--manifest", "intake/week.csv"] + p.as("farah"))
        #expect(again.stdout == "Nothing to file: all 30 documents of this batch were filed by an earlier run (add --again to file them as new versions).\n")
        #expect(try filed(p).count == 30)
        let anew = try p.cli.run(["file", "--manifest", "intake/week.csv", "--again"] + p.as("farah"))
        #expect(anew.code == 0 && anew.stdout.hasPrefix("Filed 30 documents"))
        #expect(try filed(p).filter { $0.hasSuffix("/v2") }.count == 30)
    }

    /// Killed part-way, the batch is finished by running the same command:
    /// nothing filed twice, nothing missing.
    @Test func aKilledBatchIsFinishedByTheSameCommand() throws {
        let p = try CLIProgramme()
        _ = try intake(p, count: 30, size: 1 << 20)
        let arguments = ["file", "--manifest", "intake/week.csv"] + p.as("farah")
        let journals = p.scratch.file(".local/state/casevault/journals")
        func journaled() -> Int {
            let files = (FileManager.default.enumerator(atPath: journals)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".journal") }
            return files.compactMap { try? String(contentsOfFile: journals + "/" + $0, encoding: .utf8) }
                .map { $0.split(separator: "\n").filter { $0.hasPrefix("filing ") }.count }.reduce(0, +)
        }
        let process = try p.cli.start(arguments)
        let deadline = Date().addingTimeInterval(120)
        // Documents of just under 1 MiB are filed two to a transaction (a
        // group holds at most 2 MiB), each group journaled before it
        // commits: 17 journaled means at least 16 are committed.
        while journaled() < 17 && process.isRunning && Date() < deadline { usleep(2_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the batch ended before it could be killed")
        let before = try filed(p)
        #expect(before.count >= 8 && before.count < 30, "\(before.count) filed before the kill")

        let rerun = try p.cli.run(arguments)
        #expect(rerun.code == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("Filed \(30 - before.count) documents"))
        #expect(rerun.stdout.contains("; \(before.count) already filed by an earlier run of this batch."))
        let after = try filed(p)
        #expect(after.count == 30 && after.allSatisfy { $0.hasSuffix("/v1") })
        let verify = try p.cli.run(["verify", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any]
        #expect(verify.code == 0 && (report?["findings"] as? [Any])?.isEmpty == true, "\(verify.stdout)")
    }

    @Test func aBatchWithProblemsListsThemAllAndFilesNothing() throws {
        let p = try CLIProgramme()
        _ = try intake(p, count: 3)
        p.scratch.write("intake/bad.csv", """
            case,path,type,name
            CP-2024-0001,doc 1.txt,report,
            CP-2024-0099,doc 2.txt,report,
            CP-2024-0002,missing.txt,report,
            CP-2024-0003,doc 3.txt,Photo Scan,

            """)
        let run = try p.cli.run(["file", "--manifest", "intake/bad.csv"] + p.as("farah"))
        #expect(run.code == 65)
        #expect(run.errors.contains("bad.csv line 3: no case CP-2024-0099"))
        #expect(run.errors.contains("bad.csv line 4: no such file"))
        #expect(run.errors.contains("bad.csv line 5: document type 'Photo Scan' is not valid"))
        #expect(run.errors.contains("casevault: error: 3 of 4 rows cannot be filed (above); nothing was filed"))
        #expect(!run.errors.contains("line 2"))
        #expect(try filed(p).isEmpty)

        let unreadable = try p.cli.run(["file", "--manifest", "intake/none.csv"] + p.as("farah"))
        #expect(unreadable.code == 66)
        p.scratch.write("intake/typo.csv", "case,path,tpye\n")
        let typo = try p.cli.run(["file", "--manifest", "intake/typo.csv", "--check", "--as", "farah"])
        #expect(typo.code == 65 && typo.errors.contains("typo.csv line 1: unknown column 'tpye'"))
        let officer = try p.cli.run(["file", "--manifest", "intake/week.csv", "--check", "--as", "amina"])
        #expect(officer.code == 77)
    }

    @Test func severalPathsFileEachAsItsOwnDocumentNamedFromItsFile() throws {
        let p = try CLIProgramme()
        _ = try intake(p, count: 3)
        let run = try p.cli.run(["file", "CP-2024-0001", "intake/doc 1.txt", "intake/doc 2.txt", "--type", "report", "--json"] + p.as("farah"))
        #expect(run.code == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.map { $0?["document"] as? String } == ["doc 1", "doc 2"])
        #expect(lines.map { $0?["status"] as? String } == ["filed", "filed"])
        #expect(lines.allSatisfy { $0?["version"] as? Int == 1 && $0?["case"] as? String == "CP-2024-0001" })

        let named = try p.cli.run(["file", "CP-2024-0001", "intake/doc 1.txt", "intake/doc 2.txt", "--type", "report", "--name", "X"] + p.as("farah"))
        #expect(named.code == 64 && named.errors.contains("--name names one document"))
        let stdin = try p.cli.run(["file", "CP-2024-0001", "-", "intake/doc 2.txt", "--type", "report"] + p.as("farah"))
        #expect(stdin.code == 64)
        let mixed = try p.cli.run(["file", "CP-2024-0001", "intake/doc 1.txt", "--manifest", "intake/week.csv"] + p.as("farah"))
        #expect(mixed.code == 64)
        // One path without --name: named from the file, as before otherwise.
        let one = try p.cli.run(["file", "CP-2024-0001", "intake/doc 3.txt", "--type", "report"] + p.as("farah"))
        #expect(one.stdout.hasPrefix("Filed 'doc 3' version 1 into CP-2024-0001 [O]"))
    }

    @Test func thePassphraseCommandIsRunOnceAndItsFailureIsSaid() throws {
        let p = try CLIProgramme()
        _ = try intake(p, count: 1)
        let named = try p.cli.run(["file", "CP-2024-0001", "intake/doc 1.txt", "--type", "report", "--as", "farah",
                                   "--passphrase-command", "cat \"$CASEVAULT_PASSPHRASE_FOR.pw\""])
        #expect(named.code == 0, "\(named.stderr)")
        let failing = try p.cli.run(["file", "CP-2024-0001", "intake/doc 1.txt", "--type", "report", "--as", "farah",
                                     "--passphrase-command", "echo farah long passphrase; exit 3"])
        #expect(failing.code == 64 && failing.errors.contains("the passphrase command failed (exit 3)"))
        let wrong = try p.cli.run(["file", "CP-2024-0001", "intake/doc 1.txt", "--type", "report", "--as", "farah"],
                                  extraEnvironment: ["CASEVAULT_PASSPHRASE_COMMAND": "echo not it"])
        #expect(wrong.code == 80)
        let both = try p.cli.run(["file", "CP-2024-0001", "intake/doc 1.txt", "--type", "report", "--as", "farah",
                                  "--passphrase-file", "farah.pw", "--passphrase-command", "true"])
        #expect(both.code == 64)
        #expect(try filed(p).count == 1)
    }
}
