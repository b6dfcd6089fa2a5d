import CaseVault
import CaseVaultSQLite
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Several casevault processes at once on one vault (design §6, invariant
/// 4; SECURITY.md §10): uploads overlap, reads never wait for someone else's
/// upload, and racing writers lose nothing.
@Suite struct ConcurrencyCLITests {
    /// A `file … -` whose standard input the test feeds by hand.
    final class StreamingFiling {
        let process = Process()
        let input = Pipe()
        let output = Pipe()

        init(_ p: CLIProgramme, into number: String, name: String) throws {
            process.executableURL = CLI.binary
            process.arguments = ["file", number] + p.as("farah") + ["--name", name, "--type", "report", "-"]
            process.environment = p.cli.environment
            process.currentDirectoryURL = URL(fileURLWithPath: p.scratch.path)
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            try process.run()
        }

        func send(megabytes: Int, byte: UInt8) {
            let chunk = Data(repeating: byte, count: 1 << 20)
            for _ in 0..<megabytes { input.fileHandleForWriting.write(chunk) }
        }

        func finish() -> (Int32, String) {
            try? input.fileHandleForWriting.close()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text)
        }
    }

    /// The `.tmp-*` objects being written now, with their sizes.
    static func uploads(_ p: CLIProgramme) -> [String: Int] {
        let root = p.scratch.file("vault/objects")
        var found: [String: Int] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where name.hasPrefix(".tmp-") {
            found[name] = ((try? FileManager.default.attributesOfItem(atPath: root + "/" + name))?[.size] as? Int) ?? 0
        }
        return found
    }

    /// Polls (at most `seconds`) until `condition` holds.
    static func waitUntil(seconds: Double = 60, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    @Test func aGetDuringAnotherFilingsUploadDoesNotWaitForIt() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        p.scratch.write("notes.txt", "read me while someone uploads\n")
        #expect(try p.cli.run(p.fileArguments("notes.txt", name: "Notes", type: "report")).code == 0)
        let upload = try StreamingFiling(p, into: "CP-2024-0042", name: "Large scan")
        upload.send(megabytes: 8, byte: 0x41)
        #expect(Self.waitUntil { Self.uploads(p).values.contains { $0 >= 4 << 20 } }, "the upload never started")
        // The upload is half done and stays so until the read returns: with
        // the write lock held through the upload, this would wait for ever.
        let read = try p.cli.run(["get", "CP-2024-0042", "Notes"] + p.as("grace"), timeout: 60)
        #expect(read.code == 0, "\(read.stderr)")
        #expect(read.stdout == "read me while someone uploads\n")
        #expect(upload.process.isRunning)
        upload.send(megabytes: 2, byte: 0x42)
        let (code, text) = upload.finish()
        #expect(code == 0, "\(text)")
        let again = try p.cli.run(["get", "CP-2024-0042", "Large scan", "-o", "scan.out"] + p.as("grace"))
        #expect(again.code == 0)
        #expect(FileManager.default.contents(atPath: p.scratch.file("scan.out")) == Data(repeating: 0x41, count: 8 << 20) + Data(repeating: 0x42, count: 2 << 20))
    }

    /// A filing that finds, at its commit, that another version of the same
    /// document came first encrypts again from a file; from a pipe, which
    /// cannot be read again, it fails cleanly and files nothing.
    @Test func aFilingOvertakenOnItsDocumentRedoesFromAFileAndFailsCleanlyFromAPipe() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        let streamed = try StreamingFiling(p, into: "CP-2024-0042", name: "Log")
        streamed.send(megabytes: 2, byte: 0x41)
        #expect(Self.waitUntil { Self.uploads(p).values.contains { $0 >= 1 << 20 } })
        p.scratch.write("quick.txt", "filed while the other was uploading\n")
        let quick = try p.cli.run(p.fileArguments("quick.txt", name: "Log", type: "report"), timeout: 60)
        #expect(quick.code == 0, "\(quick.stderr)")
        let (code, text) = streamed.finish()
        #expect(code == 74)
        #expect(text.contains("casevault: error: 'Log' of CP-2024-0042 changed while it was being filed from a stream that cannot be read again; nothing was filed, file it again"))
        #expect(try p.vault().checkReferences().orphanObjects.isEmpty)
        let history = try p.cli.run(["history", "CP-2024-0042", "Log", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [Any])?.count == 1)
    }

    @Test func twoUploadsIntoDifferentCasesOverlap() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        #expect(try p.cli.run(["case", "open"] + p.as("halima") + ["--category", "UASC", "--admitted", "2025",
                                                                   "--manager", "grace", "--supervisor", "halima"]).code == 0)
        let first = try StreamingFiling(p, into: "CP-2024-0042", name: "Scan")
        let second = try StreamingFiling(p, into: "UASC-2025-0043", name: "Scan")
        first.send(megabytes: 3, byte: 1)
        second.send(megabytes: 3, byte: 2)
        // Both objects are being written at the same moment.
        #expect(Self.waitUntil { Self.uploads(p).values.filter { $0 >= 2 << 20 }.count == 2 }, "\(Self.uploads(p))")
        first.send(megabytes: 1, byte: 1)
        second.send(megabytes: 1, byte: 2)
        let a = first.finish(), b = second.finish()
        #expect(a.0 == 0 && b.0 == 0, "\(a.1) \(b.1)")
        let verify = try p.cli.run(["verify", "--read-data"])
        #expect(verify.code == 0, "\(verify.stdout)")
    }

    @Test func fourWritersRacingOnOneDocumentLoseNothing() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        let writers = 4, filings = 20
        for w in 0..<writers {
            for i in 0..<filings { p.scratch.write("w\(w)-\(i).txt", "writer \(w) filing \(i)\n") }
        }
        var processes: [Process] = []
        for w in 0..<writers {
            let script = (0..<filings).map { i in
                "\"$CV\" file CP-2024-0042 --as farah --passphrase-file farah.pw --name 'Shared log' --type report w\(w)-\(i).txt >> w\(w).log 2>&1 && echo ok-\(i) >> w\(w).acks"
            }.joined(separator: "\n")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", script]
            process.environment = p.cli.environment.merging(["CV": CLI.binary.path]) { $1 }
            process.currentDirectoryURL = URL(fileURLWithPath: p.scratch.path)
            try process.run()
            processes.append(process)
        }
        for process in processes { process.waitUntilExit() }
        var acknowledged = Set<String>()
        for w in 0..<writers {
            let acks = (try? String(contentsOfFile: p.scratch.file("w\(w).acks"), encoding: .utf8)) ?? ""
            let log = (try? String(contentsOfFile: p.scratch.file("w\(w).log"), encoding: .utf8)) ?? ""
            #expect(acks.split(separator: "\n").count == filings, "writer \(w): \(log)")
            for i in 0..<filings where acks.contains("ok-\(i)\n") { acknowledged.insert("writer \(w) filing \(i)\n") }
        }
        let history = try p.cli.run(["history", "CP-2024-0042", "Shared log", "--json"])
        let versions = try JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(versions.compactMap { $0["version"] as? Int } == Array(1...(writers * filings)))
        var read = Set<String>()
        for version in 1...(writers * filings) {
            let got = try p.cli.run(["get", "CP-2024-0042", "Shared log", "\(version)"] + p.as("grace"))
            #expect(got.code == 0)
            read.insert(got.stdout)
        }
        #expect(read == acknowledged)
        #expect(try p.cli.run(["verify"]).code == 0)
    }
}
