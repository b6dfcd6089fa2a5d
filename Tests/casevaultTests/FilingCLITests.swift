@testable import CaseVault
import CaseVaultSQLite
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A vault made through the binary: admin amina, case manager grace,
/// supervisor halima, records officer farah, project director dora, and
/// case CP-2024-0042.
struct CLIProgramme {
    let scratch = Scratch()
    var cli: CLI

    init(vaultFormat: Int? = nil) throws {
        cli = CLI(scratch: scratch.path)
        for id in ["amina", "grace", "halima", "farah", "dora"] { scratch.write("\(id).pw", "\(id) long passphrase\n") }
        #expect(try cli.run(["init", "vault", "--admin-id", "amina", "--admin-name", "Amina Yusuf",
                             "--new-passphrase-file", "amina.pw", "--recovery-key-out", "recovery.txt"]
                            + (vaultFormat.map { ["--vault-format", String($0)] } ?? [])).code == 0)
        cli.environment["CASEVAULT_DIR"] = scratch.file("vault")
        for (id, name, role) in [("grace", "Grace Otieno", "case-manager"), ("halima", "Halima Abdi", "case-supervisor"),
                                 ("farah", "Farah Nasser", "records-officer"), ("dora", "Dora Achieng", "project-director")] {
            let added = try cli.run(["staff", "add", "--as", "amina", "--passphrase-file", "amina.pw", "--id", id,
                                     "--name", name, "--role", role, "--new-passphrase-file", "\(id).pw"])
            #expect(added.code == 0, "\(added.stderr)")
        }
    }

    func `as`(_ id: String) -> [String] { ["--as", id, "--passphrase-file", scratch.file("\(id).pw")] }

    func openCase() throws -> CLI.Result {
        try cli.run(["case", "open"] + self.as("halima") + ["--category", "CP", "--admitted", "2024", "--client", "42",
                                                             "--manager", "grace", "--supervisor", "halima"])
    }

    func fileArguments(_ path: String, name: String = "Intake form", type: String = "form", by filer: String = "farah") -> [String] {
        ["file", "CP-2024-0042"] + self.as(filer) + ["--name", name, "--type", type, path]
    }

    func vault() throws -> Vault { try Vault.open(at: scratch.file("vault")) }
}

@Suite struct FilingCLITests {
    @Test func openFileReadAndListWithExactOutput() throws {
        let p = try CLIProgramme()
        let opened = try p.openCase()
        #expect(opened.code == 0)
        #expect(opened.stdout == """
            Opened case CP-2024-0042 [O].
              case manager:      Grace Otieno (grace)
              case supervisor:   Halima Abdi (halima)
              team tier:         grace, halima, dora, recovery key
              confidential tier: grace, halima, recovery key

            """)
        p.scratch.write("intake.json", #"{"child":"MARKER-7d1e"}"# + "\n")
        let filed = try p.cli.run(p.fileArguments("intake.json"))
        #expect(filed.code == 0)
        #expect(filed.stdout == "Filed 'Intake form' version 1 into CP-2024-0042 [O]: team tier, 24 bytes.\n")
        let again = try p.cli.run(p.fileArguments("intake.json"))
        #expect(again.stdout == "Filed 'Intake form' version 2 into CP-2024-0042 [O]: team tier, 24 bytes.\n")

        let read = try p.cli.run(["get", "CP-2024-0042", "Intake form"] + p.as("grace"))
        #expect(read.code == 0)
        #expect(read.stdout == #"{"child":"MARKER-7d1e"}"# + "\n")

        let written = try p.cli.run(["get", "CP-2024-0042", "Intake form", "v1", "-o", "out.json"] + p.as("halima"))
        #expect(written.stdout == "Wrote 'Intake form' version 1 of CP-2024-0042 to out.json (application/json, 24 bytes).\n")
        #expect(try String(contentsOfFile: p.scratch.file("out.json"), encoding: .utf8) == #"{"child":"MARKER-7d1e"}"# + "\n")
        let refused = try p.cli.run(["get", "CP-2024-0042", "Intake form", "-o", "out.json"] + p.as("halima"))
        #expect(refused.code == 73)

        let history = try p.cli.run(["history", "CP-2024-0042", "--json"])
        let versions = try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as! [[String: Any]]
        #expect(versions.map { $0["version"] as? Int } == [1, 2])
        let stamp = versions[0]["stamp"] as! [String: Any]
        #expect(stamp["caseNumber"] as? String == "CP-2024-0042" && stamp["caseStatus"] as? String == "O")
        #expect(stamp["report"] as? String == "Intake form" && stamp["caseManager"] as? String == "Grace Otieno")
        #expect(stamp["caseSupervisor"] as? String == "Halima Abdi" && stamp["filedBy"] as? String == "farah")

        let list = try p.cli.run(["case", "list", "--manager", "grace"])
        #expect(list.stdout.hasPrefix("CASE          STATUS  MANAGER  SUPERVISOR  OPENED\nCP-2024-0042  O       grace    halima      20"))
        let show = try p.cli.run(["case", "show", "CP-2024-0042"])
        #expect(show.stdout.contains("  Intake form  form  team  2        24    "))
        // The year of admission is --admitted in case list, as in case open.
        #expect(try p.cli.run(["case", "list", "--admitted", "2024"]).stdout.contains("CP-2024-0042"))
        #expect(!(try p.cli.run(["case", "list", "--admitted", "2023"]).stdout.contains("CP-2024-0042")))
        #expect(try p.cli.run(["case", "list", "--year", "2024"]).code == 64)

        // The marker is in what was read, and nowhere in the vault or the temp folder.
        #expect(anyFile(under: p.scratch.file("vault"), contains: "MARKER-7d1e") == nil)
        #expect(anyFile(under: p.scratch.file("tmp"), contains: "MARKER-7d1e") == nil)
    }

    @Test func filingFromStandardInput() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        p.scratch.write("note.txt", "from a pipe\n")
        let shell = try p.cli.run(["-c", "'\(CLI.binary.path)' file CP-2024-0042 --as grace --passphrase-file grace.pw --name Note --type report - < note.txt"],
                                  executable: "/bin/sh")
        #expect(shell.code == 0, "\(shell.stderr)")
        #expect(try p.cli.run(["get", "CP-2024-0042", "Note"] + p.as("grace")).stdout == "from a pipe\n")
    }

    @Test func everyReadThroughTheCLIIsAnEventAndPlaintextNeverLandsInTheVault() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        p.scratch.write("form.json", "MARKER-9c2f\n")
        #expect(try p.cli.run(p.fileArguments("form.json")).code == 0)
        #expect(try p.cli.run(["get", "CP-2024-0042", "Intake form"] + p.as("grace")).code == 0)
        #expect(try p.cli.run(["get", "CP-2024-0042", "Intake form", "-o", "out.txt"] + p.as("halima")).code == 0)
        let inside = try p.cli.run(["get", "CP-2024-0042", "Intake form", "-o", "vault/objects/plain.txt"] + p.as("grace"))
        #expect(inside.code == 65)
        #expect(inside.errors == "casevault: error: refusing to write plaintext inside the vault folder\n")
        let reads = try p.vault().events().filter { $0.type == "content.read" }
        #expect(reads.map(\.actor) == ["grace", "halima"])
        #expect(anyFile(under: p.scratch.file("vault"), contains: "MARKER-9c2f") == nil)
        #expect(anyFile(under: p.scratch.file("tmp"), contains: "MARKER-9c2f") == nil)
    }

    @Test func aFullDiskLeavesNoObjectNoOutputAndNoEvent() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        try #require(FileManager.default.createFile(atPath: p.scratch.file("big.bin"), contents: Data(count: 2 << 20)))
        let before = try p.vault().events().count
        // A 1 MiB file-size limit stands in for a full disk (EFBIG, like ENOSPC).
        let filing = "trap '' XFSZ; ulimit -f 1024; exec '\(CLI.binary.path)' " + p.fileArguments("big.bin", name: "Scan", type: "document")
            .map { "'\($0)'" }.joined(separator: " ")
        let result = try p.cli.run(["-c", filing], executable: "/bin/sh")
        #expect(result.code == 74, "\(result.stderr)")
        #expect(try p.vault().events().count == before)
        #expect(try p.vault().checkReferences() == ReferenceReport(missingObjects: [], orphanObjects: [], versionCount: 0))
        #expect(try p.vault().checkReferences().unfinishedTempFiles.isEmpty)

        #expect(try p.cli.run(p.fileArguments("big.bin", name: "Scan", type: "document")).code == 0)
        let reading = "trap '' XFSZ; ulimit -f 1024; exec '\(CLI.binary.path)' get CP-2024-0042 Scan -o out.bin --as grace --passphrase-file grace.pw"
        let read = try p.cli.run(["-c", reading], executable: "/bin/sh")
        #expect(read.code == 74, "\(read.stderr)")
        #expect(!FileManager.default.fileExists(atPath: p.scratch.file("out.bin")))
    }

    @Test func theRecordsOfficerIsRefusedWithItsOwnExitCode() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        p.scratch.write("form.json", "{}\n")
        #expect(try p.cli.run(p.fileArguments("form.json")).code == 0)
        let refused = try p.cli.run(["get", "CP-2024-0042", "Intake form", "-o", "out.json"] + p.as("farah"))
        #expect(refused.code == 77)
        #expect(refused.errors == "casevault: error: access denied: a records officer cannot read case content\n")
        #expect(!FileManager.default.fileExists(atPath: p.scratch.file("out.json")))
    }

    @Test func aTamperedObjectExits81AndLeavesNoOutputFile() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        p.scratch.write("form.json", String(repeating: "case notes ", count: 20_000))
        #expect(try p.cli.run(p.fileArguments("form.json")).code == 0)
        let object = try p.vault().versions(caseNumber: "CP-2024-0042").first!.objectID
        let path = p.scratch.file("vault/objects/\(object.prefix(2))/\(object)")
        chmod(path, 0o600)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[150_000] ^= 0x20  // in the third chunk: the first two would already be authenticated
        try bytes.write(to: URL(fileURLWithPath: path))
        try FileManager.default.createDirectory(atPath: p.scratch.file("out"), withIntermediateDirectories: false)
        let result = try p.cli.run(["get", "CP-2024-0042", "Intake form", "-o", "out/form.json"] + p.as("grace"))
        #expect(result.code == 81)
        #expect(result.errors.hasPrefix("casevault: error: integrity check failed: CP-2024-0042 'Intake form' version 1 failed authentication"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: p.scratch.file("out")).isEmpty)
    }

    @Test func twoProcessesFilingAtOnceLoseNothing() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        let writers = 6
        for n in 0..<writers { p.scratch.write("in\(n).txt", "writer \(n) " + String(repeating: "x", count: 200_000 * (n + 1))) }
        // Start them all, then wait: they contend for the same document.
        let processes = try (0..<writers).map { n in
            try p.cli.start(p.fileArguments("in\(n).txt", name: n % 2 == 0 ? "Shared form" : "Other form", by: n % 3 == 0 ? "grace" : "farah"))
        }
        for process in processes { process.waitUntilExit() }
        #expect(processes.allSatisfy { $0.terminationStatus == 0 })
        let vault = try p.vault()
        #expect(try vault.versions(caseNumber: "CP-2024-0042", document: "Shared form").map(\.version) == [1, 2, 3])
        #expect(try vault.versions(caseNumber: "CP-2024-0042", document: "Other form").map(\.version) == [1, 2, 3])
        let events = try vault.events()
        #expect(events.map(\.seq) == Array(1...Int64(events.count)))
        #expect(events.filter { $0.type == "version.filed" }.count == writers)
        #expect(try vault.checkReferences() == ReferenceReport(missingObjects: [], orphanObjects: [], versionCount: writers))
        for n in 0..<writers {
            let name = n % 2 == 0 ? "Shared form" : "Other form"
            let version = try vault.versions(caseNumber: "CP-2024-0042", document: name)
                .first { $0.size == Int64("writer \(n) ".utf8.count + 200_000 * (n + 1)) }
            #expect(version != nil, "writer \(n)'s filing is missing")
        }
    }

    @Test func aKillAtAnyPointLosesNoAcknowledgedFilingAndLeavesNoDanglingReference() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        let size = 24 << 20
        try #require(FileManager.default.createFile(atPath: p.scratch.file("big.bin"), contents: Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })))
        // One undisturbed filing tells how long a filing takes here.
        let start = Date()
        let calibration = try p.cli.start(p.fileArguments("big.bin", name: "Scan", type: "document"))
        calibration.waitUntilExit()
        #expect(calibration.terminationStatus == 0)
        let duration = Date().timeIntervalSince(start)

        var acknowledged = 1
        var killed = 0
        var previousCount = 1
        for fraction in [0.02, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95, 1.1] {
            let process = try p.cli.start(p.fileArguments("big.bin", name: "Scan", type: "document"))
            usleep(useconds_t(duration * fraction * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .exit && process.terminationStatus == 0 { acknowledged += 1 } else { killed += 1 }
            // After every kill the vault opens, refers to no missing object,
            // and holds every filing that reported success. A kill that lands
            // after the commit but before the process exits leaves a filing
            // that is durable though never acknowledged: allowed, not required.
            let vault = try p.vault()
            let report = try vault.checkReferences()
            #expect(report.missingObjects.isEmpty, "after a kill at \(fraction)")
            #expect(report.versionCount >= acknowledged && report.versionCount <= acknowledged + killed, "after a kill at \(fraction)")
            #expect(report.versionCount >= previousCount, "a filing vanished after a kill at \(fraction)")
            previousCount = report.versionCount
            let events = try vault.events()
            #expect(events.map(\.seq) == Array(1...Int64(events.count)))
        }
        let leftovers = try p.vault().checkReferences().unfinishedTempFiles
        print("kill test: \(leftovers.count) unfinished temp files reported")
        print("kill test: filing took \(duration) s; \(acknowledged) of 10 filings acknowledged, \(killed) killed; \(try p.vault().checkReferences().versionCount) versions")
        // Some kills must have landed mid-filing, or this test proved nothing.
        #expect(killed > 0)
        // Every surviving version still reads back whole.
        let read = try p.cli.run(["get", "CP-2024-0042", "Scan", "-o", "check.bin"] + p.as("grace"))
        #expect(read.code == 0)
        #expect(FileManager.default.contents(atPath: p.scratch.file("check.bin"))?.count == size)
        // verify reports the leftovers apart (exit 0), and --repair removes them.
        let references = try p.vault().checkReferences()
        let leftoverCount = references.unfinishedTempFiles.count + references.orphanObjects.count
        let verify = try p.cli.run(["verify"])
        #expect(verify.code == 0, "\(verify.stdout)")
        #expect(verify.stdout.split(separator: "\n").filter { $0.contains("unfinished-temp-file") || $0.contains("orphan-object") }.count
                == leftoverCount)
        let repaired = try p.cli.run(["verify", "--repair"])
        #expect(repaired.code == 0)
        #expect(repaired.stdout.split(separator: "\n").filter { $0.contains("leftover-removed") }.count == leftoverCount)
        let after = try p.vault().checkReferences()
        #expect(after.unfinishedTempFiles.isEmpty && after.orphanObjects.isEmpty)
        #expect(try p.cli.run(["verify", "--read-data"]).stdout.hasSuffix("No faults: the catalog, blobs and objects are what the signed log says.\n"))
    }
}

/// SECURITY.md must be precise enough for an independent decoder: the
/// PyNaCl script, written from it alone, decrypts what the binary filed.
@Suite struct IndependentDecoderTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../scripts/decrypt-with-pynacl.py").standardized.path
    static let python: String? = {
        // The python3 that `make test` installed PyNaCl for: the first on PATH.
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = String(folder) + "/python3"
            guard FileManager.default.isExecutableFile(atPath: candidate) else { continue }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: candidate)
            process.arguments = ["-c", "import nacl"]
            process.standardError = FileHandle.nullDevice
            try? process.run()
            process.waitUntilExit()
            return process.terminationStatus == 0 ? candidate : nil
        }
        return nil
    }()

    /// `make test` installs PyNaCl and sets CASEVAULT_REQUIRE_DECODER: there
    /// a missing decoder is a failure, not three skipped tests.
    @Test func theDecoderIsThereWhenRequired() {
        if ProcessInfo.processInfo.environment["CASEVAULT_REQUIRE_DECODER"] == "1" {
            #expect(Self.python != nil, "python3 with PyNaCl is not on PATH, yet make test installed it")
        }
    }

    private func decode(_ p: CLIProgramme, _ staff: String, _ document: String, version: Int? = nil,
                        checkpoint: String? = nil) throws -> CLI.Result {
        var arguments = [Self.script, p.scratch.file("vault"), staff, p.scratch.file("\(staff).pw"), "CP-2024-0042", document]
        if let version { arguments.append(String(version)) }
        if let checkpoint { arguments += ["--checkpoint", p.scratch.file(checkpoint)] }
        // The real HOME: PyNaCl may be installed in the user's site-packages.
        let home = ProcessInfo.processInfo.environment["HOME"] ?? p.scratch.path
        return try p.cli.run(arguments, extraEnvironment: ["HOME": home], executable: Self.python!)
    }

    @Test(.enabled(if: python != nil, "python3 with PyNaCl is not installed; `make test` installs it with pip"))
    func pyNaClDecryptsWhatCasevaultFiled() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        let form = #"{"child":"Amani","needs":["school","health"]}"# + "\n"
        p.scratch.write("form.json", form)
        let photo = Data([0xFF, 0xD8, 0xFF, 0xE0] + (0..<200_000).map { UInt8($0 % 256) })
        try #require(FileManager.default.createFile(atPath: p.scratch.file("photo.jpg"), contents: photo))
        #expect(try p.cli.run(p.fileArguments("form.json", name: "Intake form")).code == 0)
        p.scratch.write("form2.json", "{}\n")
        #expect(try p.cli.run(p.fileArguments("form2.json", name: "Intake form")).code == 0)
        #expect(try p.cli.run(p.fileArguments("photo.jpg", name: "Identifying photo", type: "document")).code == 0)

        #expect(try decode(p, "grace", "Intake form", version: 1).stdout == form)
        #expect(try decode(p, "dora", "Intake form").stdout == "{}\n")
        let decodedPhoto = try decode(p, "halima", "Identifying photo")
        #expect(decodedPhoto.code == 0)
        #expect(decodedPhoto.output == photo)
        let refused = try decode(p, "dora", "Identifying photo")
        #expect(refused.code == 1)
        #expect(refused.stderr == "decrypt-with-pynacl: no grant for generation 1 of the confidential tier\n")
    }

    /// SECURITY.md §12: a vault of format 2 signs format 4 at most. An event
    /// of format 5 in one (a casevault that should not have signed it) stops
    /// the decoder, as it stops casevault, before any byte is decrypted.
    @Test(.enabled(if: python != nil, "python3 with PyNaCl is not installed; `make test` installs it with pip"))
    func pyNaClRefusesAnEventNewerThanItsVaultSigns() throws {
        let p = try CLIProgramme(vaultFormat: 2)
        _ = try p.openCase()
        p.scratch.write("form.json", "{}\n")
        #expect(try p.cli.run(p.fileArguments("form.json")).code == 0)
        #expect(try decode(p, "grace", "Intake form").stdout == "{}\n")
        let vault = try Vault.open(at: p.scratch.file("vault"))
        vault.eventFormat = 5
        let farah = try vault.unlock(staffID: "farah", passphrase: try Passphrase(contentsOfFile: p.scratch.file("farah.pw")))
        _ = try vault.file(caseNumber: "CP-2024-0042", name: "Home visit", type: "report", from: .file(path: p.scratch.file("form.json")), by: farah)
        let last = try vault.events().last!
        #expect(last.body.contains("\"v\":5"))
        let refused = try decode(p, "grace", "Intake form")
        #expect(refused.code == 1 && refused.stdout.isEmpty)
        #expect(refused.stderr == "decrypt-with-pynacl: event \(last.seq): format 5 in a vault of format 2\n", "\(refused.stderr)")
    }

    /// SECURITY.md §3, "Rotation": a version is read with the grant of its
    /// key generation, older generations while they await re-sealing.
    @Test(.enabled(if: python != nil, "python3 with PyNaCl is not installed; `make test` installs it with pip"))
    func pyNaClReadsAcrossKeyGenerations() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        p.scratch.write("v1.json", "{\"v\":1}\n")
        p.scratch.write("v2.json", "{\"v\":2}\n")
        #expect(try p.cli.run(p.fileArguments("v1.json")).code == 0)
        // Dora leaves; the admin rotates: version 1 stays under generation 1, which the holders keep.
        let rotated = try p.cli.run(["staff", "leave", "dora", "--reason", "left"] + p.as("amina"))
        #expect(rotated.code == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("team tier → generation 2; removed dora; older versions await re-sealing"))
        #expect(try p.cli.run(p.fileArguments("v2.json")).code == 0)
        #expect(try decode(p, "grace", "Intake form", version: 1).stdout == "{\"v\":1}\n")
        #expect(try decode(p, "halima", "Intake form").stdout == "{\"v\":2}\n")
        #expect(try decode(p, "dora", "Intake form").stderr.contains("no grant for generation 2 of the team tier"))
        // The supervisor re-seals every version to generation 3; the older keys are gone.
        let finished = try p.cli.run(["case", "rotate", "--pending", "--reason", "finish"] + p.as("halima"))
        #expect(finished.stdout.contains("CP-2024-0042 team tier → generation 3; 2 file key(s) re-sealed"), "\(finished.stdout)")
        #expect(try decode(p, "grace", "Intake form", version: 1).stdout == "{\"v\":1}\n")
        #expect(try decode(p, "halima", "Intake form", version: 2).stdout == "{\"v\":2}\n")
        let shown = try p.cli.run(["case", "show", "CP-2024-0042"])
        #expect(shown.stdout.contains("team key:          generation 3\n"), "\(shown.stdout)")
    }

    /// The decoder checks a checkpoint as SECURITY.md §12b says, and the
    /// signatures of the log it reads: casevault's checkpoint and a
    /// truncated log, a forged signature.
    @Test(.enabled(if: python != nil, "python3 with PyNaCl is not installed; `make test` installs it with pip"))
    func pyNaClChecksACheckpointAndTheSignatures() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        p.scratch.write("form.json", "{}\n")
        #expect(try p.cli.run(p.fileArguments("form.json")).code == 0)
        #expect(try p.cli.run(p.fileArguments("form.json")).code == 0)
        #expect(try p.cli.run(["checkpoint", "--out", "audit.checkpoint"] + p.as("dora")).code == 0)
        let checked = try decode(p, "grace", "Intake form", checkpoint: "audit.checkpoint")
        #expect(checked.code == 0, "\(checked.stderr)")
        #expect(checked.stdout == "{}\n")
        let sqlite = "/usr/bin/sqlite3", catalog = p.scratch.file("vault/catalog.sqlite")
        try FileManager.default.copyItem(atPath: p.scratch.file("vault"), toPath: p.scratch.file("vault.bak"))
        #expect(try p.cli.run([catalog, "DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)"], executable: sqlite).code == 0)
        let truncated = try decode(p, "grace", "Intake form", checkpoint: "audit.checkpoint")
        #expect(truncated.code == 1)
        #expect(truncated.stderr == "decrypt-with-pynacl: the log does not extend the checkpoint\n")
        try FileManager.default.removeItem(atPath: p.scratch.file("vault"))
        try FileManager.default.moveItem(atPath: p.scratch.file("vault.bak"), toPath: p.scratch.file("vault"))
        #expect(try p.cli.run([catalog, "UPDATE events SET signature = zeroblob(64) WHERE seq = 5"], executable: sqlite).code == 0)
        let forged = try decode(p, "grace", "Intake form")
        #expect(forged.code == 1)
        #expect(forged.stderr.hasPrefix("decrypt-with-pynacl: event 5"))
    }

    /// Names are looked up in NFC however they are typed; the stored `at`
    /// of an event must be its body's.
    @Test(.enabled(if: python != nil, "python3 with PyNaCl is not installed; `make test` installs it with pip"))
    func pyNaClFindsANameInAnyUnicodeFormAndChecksTheTimeColumn() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        p.scratch.write("notes.txt", "caf\u{E9} visit notes\n")
        #expect(try p.cli.run(p.fileArguments("notes.txt", name: "Caf\u{E9} visit", type: "report")).code == 0)
        let decomposed = try decode(p, "grace", "Cafe\u{301} visit")
        #expect(decomposed.code == 0, "\(decomposed.stderr)")
        #expect(decomposed.stdout == "caf\u{E9} visit notes\n")
        let edit = try p.cli.run([p.scratch.file("vault/catalog.sqlite"), "UPDATE events SET at = '2020-01-01T00:00:00Z' WHERE seq = 4"],
                                 executable: "/usr/bin/sqlite3")
        #expect(edit.code == 0)
        let edited = try decode(p, "grace", "Caf\u{E9} visit")
        #expect(edited.code == 1)
        #expect(edited.stderr == "decrypt-with-pynacl: event 4: the stored type, actor or time differs from the body\n")
    }

    @Test(.enabled(if: python != nil, "python3 with PyNaCl is not installed; `make test` installs it with pip"))
    func pyNaClAlsoRefusesAnEditedStamp() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        p.scratch.write("form.json", "{}\n")
        #expect(try p.cli.run(p.fileArguments("form.json")).code == 0)
        let edit = try p.cli.run([p.scratch.file("vault/catalog.sqlite"),
                                  "UPDATE versions SET stamp = CAST(replace(CAST(stamp AS TEXT), '\"O\"', '\"C\"') AS BLOB)"],
                                 executable: "/usr/bin/sqlite3")
        #expect(edit.code == 0, "sqlite3 (installed by make test) could not edit the catalog")
        let result = try decode(p, "grace", "Intake form")
        #expect(result.code == 1)
        // Refused before decrypting: the row no longer matches the signed state.
        #expect(result.stderr == "decrypt-with-pynacl: the catalog's version 1 of 'Intake form' differs from the signed state\n")
    }
}

@Suite struct FormCLITests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Schemas/examples").standardized.path

    @Test func anInvalidFormExits65ListingEveryProblemAndFilesNothing() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        p.scratch.write("bad.json", #"{"form":"intake","childName":"","dateOfIntake":"2024-02-30","extra":1}"#)
        let result = try p.cli.run(["file", "CP-2024-0042", "--form", "intake", "bad.json"] + p.as("farah"))
        #expect(result.code == 65)
        let lines = result.errors.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("casevault: error: the form is not a valid Intake form: ") == true)
        #expect(lines.contains("  /dateOfIntake: \"2024-02-30\" is not a date"))
        #expect(lines.contains("  /extra: is not a field of this form"))
        #expect(lines.contains("  /childName: is empty"))
        #expect(try p.cli.run(["history", "CP-2024-0042"]).stdout == "No documents filed in CP-2024-0042 yet.\n")
    }

    @Test func aValidFormFilesRendersAndDiffs() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        let filed = try p.cli.run(["file", "CP-2024-0042", "--form", "intake", Self.examples + "/intake.json"] + p.as("farah"))
        #expect(filed.stdout == "Filed 'Intake form' version 1 into CP-2024-0042 [O]: team tier, \(try Data(contentsOf: URL(fileURLWithPath: Self.examples + "/intake.json")).count) bytes.\n")
        let rendered = try p.cli.run(["get", "CP-2024-0042", "Intake form", "--render"] + p.as("grace"))
        #expect(rendered.code == 0)
        #expect(rendered.stdout.hasPrefix("Intake form\nCase CP-2024-0042 [O] · version 1\nDate:            "))
        #expect(rendered.stdout.contains("Case Manager:    Grace Otieno\nCase Supervisor: Halima Abdi\n"))
        let refused = try p.cli.run(["get", "CP-2024-0042", "Intake form", "--render"] + p.as("farah"))
        #expect(refused.code == 77)
        let one = try p.cli.run(["diff", "CP-2024-0042", "Intake form"] + p.as("grace"))
        #expect(one.code == 65)
        // A value that would reorder or drive the terminal (a right-to-left
        // override, a C1 control) is shown escaped, never raw.
        var form = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.examples + "/intake.json"))) as? [String: Any])
        form["nationality"] = "calm\u{202E}gnp.exe \u{9B}31m"
        p.scratch.write("intake-2.json", String(decoding: try JSONSerialization.data(withJSONObject: form), as: UTF8.self))
        _ = try p.cli.run(["file", "CP-2024-0042", "--form", "intake", p.scratch.file("intake-2.json")] + p.as("farah"))
        let diff = try p.cli.run(["diff", "CP-2024-0042", "Intake form"] + p.as("grace"))
        #expect(diff.code == 0, "\(diff.stderr)")
        #expect(diff.stdout.contains("calm\\u{202e}gnp.exe \\u{9b}31m"), "\(diff.stdout)")
        #expect(!diff.stdout.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x9B })
        let list = try p.cli.run(["schema", "list"])
        #expect(list.stdout.split(separator: "\n").count == 15)
        #expect(list.stdout.contains("intake                       built-in  Intake form"))
    }
}

/// Issue 12, item 5: bad names and types get the documented exit code (65)
/// and a sentence, never a raw Swift error; names that could deceive or
/// collapse into one another are refused.
@Suite struct BadInputCLITests {
    @Test func badNamesAndTypesAreRefusedWithExitCode65AndASentence() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        p.scratch.write("note.txt", "note")
        let names = ["a/b", "a\nb", "\u{1B}[31mred", "a\u{85}b", " leading", String(repeating: "x", count: 121),
                     "report\u{202E}fdp.exe", "invoice\u{2067}x", "bad\u{FFFD}name", String(repeating: "\u{1F600}", count: 101)]
        for name in names {
            let refused = try p.cli.run(p.fileArguments("note.txt", name: name, type: "report"))
            #expect(refused.code == 65, "\(name.debugDescription): exit \(refused.code) \(refused.stderr)")
            #expect(refused.errors.hasPrefix("casevault: error: document name"), "\(name.debugDescription): \(refused.stderr)")
            #expect(!refused.stderr.contains("invalidInput(") && refused.errors.split(separator: "\n").count == 1, "\(refused.stderr)")
        }
        let type = try p.cli.run(p.fileArguments("note.txt", name: "Scan", type: "Photo Scan"))
        #expect(type.code == 65 && type.errors.hasPrefix("casevault: error: document type 'Photo Scan' is not valid"), "\(type.stderr)")
        #expect(!type.stderr.contains("invalidInput("))
        // Nothing was filed by any of them; a plain name still files.
        #expect(try p.vault().versions(caseNumber: "CP-2024-0042").isEmpty)
        #expect(try p.cli.run(p.fileArguments("note.txt", name: "Visit note (Amani) — 12 March", type: "report")).code == 0)
    }
}

/// Issue 12, item 5: "did you mean" for a case number, document name or staff id typed wrong.
@Suite struct DidYouMeanCLITests {
    @Test func slipsGetASuggestionAndOtherNumbersDoNot() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        p.scratch.write("note.txt", "note")
        #expect(try p.cli.run(p.fileArguments("note.txt", name: "Home visit report", type: "report")).code == 0)
        let document = try p.cli.run(["get", "CP-2024-0042", "Home vist report"] + p.as("grace"))
        #expect(document.code == 66 && document.errors.contains("case CP-2024-0042 has no document named 'Home vist report'; did you mean 'Home visit report'?"),
                "\(document.stderr)")
        let number = try p.cli.run(["get", "CP-2024-0024", "Home visit report"] + p.as("grace"))
        #expect(number.code == 66 && number.errors.contains("no case CP-2024-0024; did you mean 'CP-2024-0042'?"), "\(number.stderr)")
        // Another client's number, two digits away, is not offered.
        let other = try p.cli.run(["get", "CP-2024-0099", "Home visit report"] + p.as("grace"))
        #expect(other.code == 66 && other.errors.contains("no case CP-2024-0099") && !other.errors.contains("did you mean"), "\(other.stderr)")
        let staff = try p.cli.run(["case", "open"] + p.as("halima") + ["--category", "CP", "--admitted", "2024", "--manager", "graec", "--supervisor", "halima"])
        #expect(staff.code == 66 && staff.errors.contains("no staff member with id 'graec'; did you mean 'grace'?"), "\(staff.stderr)")
    }
}

@Suite struct RetrievalKillTests {
    /// get -o writes into an unnamed file and names it only when complete:
    /// a kill at any point leaves neither the output nor a temp file.
    @Test func aKilledGetLeavesNoPlaintextBehind() throws {
        let p = try CLIProgramme()
        _ = try p.openCase()
        try #require(FileManager.default.createFile(atPath: p.scratch.file("big.bin"), contents: Data(repeating: 0x61, count: 48 << 20)))
        #expect(try p.cli.run(p.fileArguments("big.bin", name: "Scan", type: "document")).code == 0)
        try FileManager.default.createDirectory(atPath: p.scratch.file("out"), withIntermediateDirectories: false)
        let start = Date()
        let whole = try p.cli.start(["get", "CP-2024-0042", "Scan", "-o", "out/timing.bin"] + p.as("grace"))
        whole.waitUntilExit()
        let duration = Date().timeIntervalSince(start)
        try FileManager.default.removeItem(atPath: p.scratch.file("out/timing.bin"))
        var killed = 0
        for fraction in [0.05, 0.2, 0.4, 0.6, 0.8] {
            let process = try p.cli.start(["get", "CP-2024-0042", "Scan", "-o", "out/scan.bin"] + p.as("grace"))
            usleep(useconds_t(duration * fraction * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { killed += 1 }
            // Either nothing at all, or the whole, authenticated document (a
            // kill after it was linked in): never a part, never a temp name.
            let left = try FileManager.default.contentsOfDirectory(atPath: p.scratch.file("out"))
            #expect(left.isEmpty || left == ["scan.bin"], "after a kill at \(fraction): \(left)")
            if left == ["scan.bin"] {
                #expect(FileManager.default.contents(atPath: p.scratch.file("out/scan.bin")) == Data(repeating: 0x61, count: 48 << 20),
                        "a partial output after a kill at \(fraction)")
                try FileManager.default.removeItem(atPath: p.scratch.file("out/scan.bin"))
            }
        }
        #expect(killed > 0)
    }
}
