import CaseVault
import Foundation
import Testing

/// Issue 10, item 3, as a user runs it: grant, revoke, rotate, staff leave,
/// and a departure or a re-sealing killed at random points.
@Suite struct RotationCLITests {
    /// `count` open cases of grace and halima, each with a team document
    /// (two versions) and a confidential photo.
    static func cases(_ count: Int) throws -> CLIProgramme {
        let p = try CLIProgramme()
        let vault = try p.vault()
        let halima = try vault.unlock(staffID: "halima", passphrase: try Passphrase(contentsOfFile: p.scratch.file("halima.pw")))
        let farah = try vault.unlock(staffID: "farah", passphrase: try Passphrase(contentsOfFile: p.scratch.file("farah.pw")))
        for client in 1...count {
            let number = try vault.openCase(category: "CP", admitted: 2024, clientNumber: client, managerID: "grace", supervisorID: "halima",
                                            by: halima).number.description
            for (name, type, version) in [("Intake form", "form", 1), ("Intake form", "form", 2), ("Photo", "photo", 1)] {
                p.scratch.write("doc.txt", "\(name) v\(version) of \(number)")
                _ = try vault.file(caseNumber: number, name: name, type: type, from: .file(path: p.scratch.file("doc.txt")), by: farah)
            }
        }
        return p
    }

    /// Every version of every case, read by `reader` through the binary.
    static func readsEverything(_ p: CLIProgramme, _ count: Int, by reader: String, tiers: Set<String> = ["team", "confidential"]) throws {
        for client in 1...count {
            let number = "CP-2024-" + String(format: "%04d", client)
            for (name, tier, version) in [("Intake form", "team", 1), ("Intake form", "team", 2), ("Photo", "confidential", 1)]
            where tiers.contains(tier) {
                let got = try p.cli.run(["get", number, name, String(version)] + p.as(reader))
                #expect(got.code == 0 && got.stdout == "\(name) v\(version) of \(number)", "\(reader) \(number) \(name) v\(version): \(got.stderr)")
            }
        }
    }

    @Test func grantRevokeAndShowFromTheCommandLine() throws {
        let p = try Self.cases(1)
        p.scratch.write("joseph.pw", "joseph long passphrase\n")
        #expect(try p.cli.run(["staff", "add"] + p.as("amina") + ["--id", "joseph", "--name", "Joseph Mwangi", "--role", "case-manager",
                                                               "--new-passphrase-file", "joseph.pw"]).code == 0)
        let granted = try p.cli.run(["case", "grant", "CP-2024-0001", "--tier", "team", "--member", "joseph", "--reason", "covering"] + p.as("halima"))
        #expect(granted.code == 0, "\(granted.stderr)")
        #expect(granted.stdout.contains("Granted the team tier of CP-2024-0001 to 'joseph'."))
        #expect(try p.cli.run(["get", "CP-2024-0001", "Intake form"] + p.as("joseph")).stdout == "Intake form v2 of CP-2024-0001")
        // The wrong role, the wrong tier, no reason: refused with a reason and exit codes.
        let byManager = try p.cli.run(["case", "grant", "CP-2024-0001", "--tier", "team", "--member", "joseph", "--reason", "x"] + p.as("grace"))
        #expect(byManager.code == 77 && byManager.stderr.contains("access is granted by the case's supervisor or a project director"))
        let badTier = try p.cli.run(["case", "grant", "CP-2024-0001", "--tier", "secret", "--member", "joseph", "--reason", "x"] + p.as("halima"))
        #expect(badTier.code == 64)
        let revoked = try p.cli.run(["case", "revoke", "CP-2024-0001", "--member", "joseph", "--reason", "cover ended"] + p.as("halima"))
        #expect(revoked.code == 0, "\(revoked.stderr)")
        #expect(revoked.stdout == "Revoked 'joseph' from CP-2024-0001:\n  CP-2024-0001 team tier → generation 2; removed joseph; 2 file key(s) re-sealed\n")
        let refused = try p.cli.run(["get", "CP-2024-0001", "Intake form"] + p.as("joseph"))
        #expect(refused.code == 77 && refused.stdout.isEmpty)
        let shown = try p.cli.run(["case", "show", "CP-2024-0001"])
        #expect(shown.stdout.contains("team key:          generation 2\n") && !shown.stdout.contains("joseph"), "\(shown.stdout)")
        let types = try p.vault().events().map(\.type)
        // The grant, the revocation's rotation, and joseph's refused read after it.
        #expect(types.filter { ["case.access-granted", "case.key-rotated", "content.refused"].contains($0) }
                == ["case.access-granted", "case.key-rotated", "content.refused"])
        #expect(try p.cli.run(["verify"]).code == 0)
    }

    @Test func aDepartedMemberIsRefusedAndTheirCasesAreListed() throws {
        let p = try Self.cases(2)
        let left = try p.cli.run(["staff", "leave", "grace", "--reason", "moved to another programme"] + p.as("amina"))
        #expect(left.code == 0, "\(left.stderr)")
        #expect(left.stdout.contains("Recorded that 'grace' left the staff.\n4 tier(s) rotated; 4 await re-sealing by a holder.\n"), "\(left.stdout)")
        #expect(left.stderr.contains("these cases still name 'grace' as manager or supervisor; hand them over: CP-2024-0001, CP-2024-0002"))
        let refused = try p.cli.run(["get", "CP-2024-0001", "Intake form"] + p.as("grace"))
        #expect(refused.code == 77 && refused.stderr.contains("'grace' left the staff on"), "\(refused.stderr)")
        let list = try p.cli.run(["staff", "list"])
        #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix("grace") && $0.hasSuffix("Z") }, "\(list.stdout)")
        try Self.readsEverything(p, 2, by: "halima")
        try Self.readsEverything(p, 2, by: "dora", tiers: ["team"])
        // A records officer's admin cannot record their own departure; a supervisor records none.
        #expect(try p.cli.run(["staff", "leave", "amina", "--reason", "x"] + p.as("amina")).code == 65)
        #expect(try p.cli.run(["staff", "leave", "dora", "--reason", "x"] + p.as("halima")).code == 77)
        #expect(try p.cli.run(["verify"]).code == 0)
    }

    /// SIGKILL in the middle of a departure's rotations, and again in the
    /// middle of the re-sealing that follows; each run again finishes it.
    @Test func leaveAndResealKilledAtRandomPointsLeaveEveryDocumentReadable() throws {
        let count = 10
        let p = try Self.cases(count)
        let vault = try p.vault()
        func unlock(_ id: String) throws -> StaffIdentity {
            try vault.unlock(staffID: id, passphrase: try Passphrase(contentsOfFile: p.scratch.file("\(id).pw")))
        }
        let amina = try unlock("amina"), halima = try unlock("halima")
        var generator = SystemRandomNumberGenerator()
        var killed = 0, runs = 0
        // How long each command ran when it finished before its kill: the
        // next kill of it comes within that time (a faster build, or a
        // faster machine, otherwise sees every run end before its kill).
        var window: [String: Double] = [:]
        func killAtRandom(_ arguments: [String]) throws {
            let command = arguments.prefix(2).joined(separator: " ")
            let deadline = Double.random(in: 0.05...0.9, using: &generator) * (window[command] ?? 0.4)
            let started = Date()
            let process = try p.cli.start(arguments)
            while process.isRunning, Date().timeIntervalSince(started) < deadline { usleep(1000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
            } else {
                window[command] = Date().timeIntervalSince(started)
            }
            process.waitUntilExit()
            runs += 1
            if process.terminationReason == .uncaughtSignal { killed += 1 }
            let finish = try p.cli.run(arguments)
            #expect(finish.code == 0, "\(finish.stderr)")
            try Self.readsEverything(p, count, by: "halima")
            try Self.readsEverything(p, count, by: "grace")
        }
        for round in 0..<4 {
            // A member who holds the team tier of every case, then leaves.
            let id = "cover\(round)"
            p.scratch.write("\(id).pw", "\(id) long passphrase\n")
            try vault.addStaff(id: id, name: "Cover \(round)", role: .caseManager,
                               passphrase: try Passphrase(contentsOfFile: p.scratch.file("\(id).pw")), by: amina)
            for client in 1...count {
                try vault.grantAccess(to: id, case: "CP-2024-" + String(format: "%04d", client), tier: .team, reason: "cover", by: halima)
            }
            try killAtRandom(["staff", "leave", id, "--reason", "cover ended"] + p.as("amina"))
            try killAtRandom(["case", "rotate", "--pending", "--reason", "after \(id) left"] + p.as("halima"))
            for client in 1...count {
                let number = "CP-2024-" + String(format: "%04d", client)
                #expect(try vault.keyGenerations(of: number).allSatisfy { $0.awaitingResealing.isEmpty })
                #expect(try !vault.holders(of: number).contains { $0.holder == "staff:\(id)" })
            }
        }
        print("rotation kill test: \(killed) of \(runs) runs killed")
        #expect(killed > 0, "no run was killed mid-way: the test exercised nothing")
        let verified = try p.cli.run(["verify", "--read-data"])
        #expect(verified.code == 0, "\(verified.stdout) \(verified.stderr)")
    }
}

/// `handover draft`, `start` and `complete` as a user runs them.
@Suite struct HandoverFlowCLITests {
    @Test func draftStartAndCompleteFromTheCommandLine() throws {
        let p = try RotationCLITests.cases(1)
        p.scratch.write("joseph.pw", "joseph long passphrase\n")
        #expect(try p.cli.run(["staff", "add"] + p.as("amina") + ["--id", "joseph", "--name", "Joseph Mwangi", "--role", "case-manager",
                                                               "--new-passphrase-file", "joseph.pw"]).code == 0)
        let drafted = try p.cli.run(["handover", "draft", "--from", "grace", "--to", "joseph", "--out", p.scratch.file("drafts")])
        #expect(drafted.code == 0, "\(drafted.stderr)")
        let path = p.scratch.file("drafts/CP-2024-0001.json")
        #expect(drafted.stdout.hasPrefix("wrote \(path)\n"))
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        // Starting with the draft as written: refused, listing what the caseworkers must fill in; nothing signed.
        let events = try p.vault().events().count
        let unfilled = try p.cli.run(["handover", "start", "--from", "grace", "--to", "joseph", "--forms", p.scratch.file("drafts")] + p.as("halima"))
        #expect(unfilled.code == 65 && unfilled.stderr.contains("/childName"), "\(unfilled.stderr)")
        #expect(try p.vault().events().count == events)
        var form = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        form["childName"] = "Amani (test)"
        form["caseSummary"] = "Placed with an aunt."
        form["checklist"] = ["fileUpToDate": false, "supervisorBriefed": true, "teamBriefed": true, "clientBriefed": true]
        form["signatures"] = [["name": "Grace Otieno", "role": "Case Manager", "date": "2026-12-01"],
                              ["name": "Halima Abdi", "role": "Case Supervisor", "date": "2026-12-01"]]
        try JSONSerialization.data(withJSONObject: form).write(to: URL(fileURLWithPath: path))
        let started = try p.cli.run(["handover", "start", "--from", "grace", "--to", "joseph", "--forms", p.scratch.file("drafts")] + p.as("halima"))
        #expect(started.code == 0, "\(started.stderr)")
        #expect(started.stdout.contains("CP-2024-0001: grace hands the case (as manager) to joseph, who shadows until "))
        #expect(started.stdout.contains("  granted joseph: team, confidential tier\nCase handover\nCase CP-2024-0001 [O] · version 1\n"), "\(started.stdout)")
        #expect(try p.cli.run(["case", "show", "CP-2024-0001"]).stdout.contains("  handover:          grace → joseph (manager), shadowing until "))
        #expect(try p.cli.run(["get", "CP-2024-0001", "Photo"] + p.as("joseph")).stdout == "Photo v1 of CP-2024-0001")
        let tooSoon = try p.cli.run(["handover", "complete", "--cases", "CP-2024-0001"] + p.as("halima"))
        #expect(tooSoon.code == 65 && tooSoon.stderr.contains("to end it before, give --early --reason TEXT"), "\(tooSoon.stderr)")
        let completed = try p.cli.run(["handover", "complete", "--cases", "CP-2024-0001", "--early", "--reason", "Grace left early"] + p.as("halima"))
        #expect(completed.code == 0, "\(completed.stderr)")
        #expect(completed.stdout.hasPrefix("CP-2024-0001: joseph is now its manager (shadowing ended early: Grace left early); grace holds none of its keys.\n"))
        #expect(try p.cli.run(["get", "CP-2024-0001", "Intake form"] + p.as("grace")).code == 77)
        #expect(try p.cli.run(["get", "CP-2024-0001", "Intake form", "1"] + p.as("joseph")).stdout == "Intake form v1 of CP-2024-0001")
        #expect(try p.cli.run(["verify"]).code == 0)
    }
}

/// Handover packages as a user makes and opens them.
@Suite struct PackageCLITests {
    static func sha256(_ data: Data) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try? process.run()
        input.fileHandleForWriting.write(data)
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile().prefix(64), as: UTF8.self)
    }

    @Test func aSealedPackageOpensForTheRecipientAndAZipOpensWith7Zip() throws {
        let p = try RotationCLITests.cases(1)
        // dora, a project director, holds the team tier only: the photo is left out for her.
        let sealed = try p.cli.run(["export", "handover", "--cases", "CP-2024-0001", "--to", "dora", "--out", p.scratch.file("pkg.cvp")] + p.as("grace"))
        #expect(sealed.code == 0, "\(sealed.stderr)")
        #expect(sealed.stderr.contains("left out CP-2024-0001 'Photo': dora does not hold its confidential tier"))
        #expect(sealed.stdout.contains("Wrote \(p.scratch.file("pkg.cvp")): 1 file(s)"))
        let refused = try p.cli.run(["package", "open", p.scratch.file("pkg.cvp"), "--out", p.scratch.file("by-halima")] + p.as("halima"))
        #expect(refused.code == 77 && refused.stderr.contains("sealed to someone else"))
        let opened = try p.cli.run(["package", "open", p.scratch.file("pkg.cvp"), "--out", p.scratch.file("by-dora")] + p.as("dora"))
        #expect(opened.code == 0, "\(opened.stderr)")
        #expect(try String(contentsOfFile: p.scratch.file("by-dora/CP-2024-0001 [O]/Intake form.txt"), encoding: .utf8) == "Intake form v2 of CP-2024-0001")

        // The zip: a short passphrase is refused; 7-Zip opens a good one, and the files match the manifest.
        p.scratch.write("short.pw", "short\n")
        let short = try p.cli.run(["export", "handover", "--cases", "CP-2024-0001", "--to", "halima", "--out", p.scratch.file("pkg.zip"),
                                   "--zip-passphrase-file", p.scratch.file("short.pw")] + p.as("grace"))
        #expect(short.code == 65 && !FileManager.default.fileExists(atPath: p.scratch.file("pkg.zip")))
        p.scratch.write("zip.pw", "correct horse battery staple\n")
        let zipped = try p.cli.run(["export", "handover", "--cases", "CP-2024-0001", "--to", "halima", "--out", p.scratch.file("pkg.zip"),
                                    "--zip-passphrase-file", p.scratch.file("zip.pw")] + p.as("grace"))
        #expect(zipped.code == 0, "\(zipped.stderr)")
        let zipBytes = try Data(contentsOf: URL(fileURLWithPath: p.scratch.file("pkg.zip")))
        #expect(zipBytes.range(of: Data("Photo v1 of".utf8)) == nil)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/7zz") else { return }
        let extract = Process()
        extract.executableURL = URL(fileURLWithPath: "/usr/bin/7zz")
        extract.arguments = ["x", "-pcorrect horse battery staple", "-o" + p.scratch.file("unzipped"), p.scratch.file("pkg.zip")]
        extract.standardOutput = FileHandle.nullDevice
        try extract.run()
        extract.waitUntilExit()
        #expect(extract.terminationStatus == 0)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: p.scratch.file("unzipped/MANIFEST.json")))) as! [String: Any]
        let files = ((manifest["cases"] as! [[String: Any]])[0]["entries"] as! [[String: Any]])
        #expect(files.map { $0["document"] as? String } == ["Intake form", "Photo"])
        for file in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: p.scratch.file("unzipped/" + (file["path"] as! String))))
            #expect(Self.sha256(data) == file["sha256"] as! String)
        }
        // 7-Zip says which method: AES-256, never ZipCrypto.
        let list = Process()
        list.executableURL = URL(fileURLWithPath: "/usr/bin/7zz")
        list.arguments = ["l", "-slt", "-pcorrect horse battery staple", p.scratch.file("pkg.zip")]
        let pipe = Pipe()
        list.standardOutput = pipe
        try list.run()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        list.waitUntilExit()
        #expect(listing.contains("Method = AES-256") && !listing.contains("ZipCrypto"), "\(listing)")
    }
}
