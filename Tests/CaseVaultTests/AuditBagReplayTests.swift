@testable import CaseVault
import CaseVaultCrypto
import Foundation
import Testing

/// Issue 11, item 5: `verify-export` replays a whole log's events through
/// the vault's own rules and recomputes the controls report and the catalog
/// files from them, so a bag whose unsigned files were rewritten (with its
/// manifests made again, as anyone can) is refused.
@Suite struct AuditBagReplayTests {
    /// The disposal scene with client names (the search key), approvals of
    /// the closed case's disposal and a hold on the open one, exported by the
    /// auditor on the day the closed case falls due: "past-retention" lists it.
    static func bag() throws -> (DisposalTests.Scene, [String: [UInt8]]) {
        let s = try DisposalTests.Scene()
        try s.p.vault.nameClient(of: s.gone, name: "Amina Yusuf", by: s.p["farah"])
        try s.p.vault.nameClient(of: s.kept, name: "Amina Warsame", by: s.p["farah"])
        try s.p.vault.setHold(s.kept, placing: true, reason: "court order", by: s.p["dora"], now: DisposalTests.due)
        try s.approve()
        _ = try s.p.vault.exportAudit(out: s.p.scratch.file("audit.tar"), by: s.p["peter"], now: DisposalTests.due)
        return (s, try AuditBag.read(s.p.scratch.file("audit.tar")).files)
    }

    /// Writes `files` as a bag folder with its manifests, tag manifest and
    /// Payload-Oxum made again, as a forger would; returns the folder.
    /// Without `keepingSignature`, the exporter's signature is left out, as
    /// in a bag an older casevault made (the forger cannot sign again).
    static func remade(_ files: [String: [UInt8]], in scratch: Scratch, _ name: String, keepingSignature: Bool = false) throws -> String {
        let folder = scratch.file(name)
        var files = files
        if !keepingSignature { files[AuditBag.signatureFile] = nil }
        let payload = files.keys.filter { $0.hasPrefix("data/") }.sorted()
        func manifest(_ names: [String], _ hash: ([UInt8]) -> [UInt8]) -> [UInt8] {
            Array(names.map { "\(hash(files[$0]!).hexString)  \($0)\n" }.joined().utf8)
        }
        files["manifest-sha256.txt"] = manifest(payload) { SHA256.hash($0) }
        files["manifest-sha512.txt"] = manifest(payload) { SHA512.hash($0) }
        let oxum = "Payload-Oxum: \(payload.reduce(0) { $0 + files[$1]!.count }).\(payload.count)"
        files["bag-info.txt"] = Array(String(decoding: files["bag-info.txt"]!, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("Payload-Oxum:") ? oxum : String($0) }.joined(separator: "\n").utf8)
        files["tagmanifest-sha256.txt"] = manifest(["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"]
                                                   + (files[AuditBag.signatureFile] == nil ? [] : [AuditBag.signatureFile])) { SHA256.hash($0) }
        for (path, bytes) in files {
            let url = URL(fileURLWithPath: folder + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
        return folder
    }

    static func failing(_ result: ExportVerification) -> [String] { result.checks.filter { !$0.passed }.map(\.title) }

    @Test func aWholeBagReplaysAndEveryControlAndCatalogFileIsRecomputed() throws {
        let (s, files) = try Self.bag()
        let result = try AuditBag.verify(at: s.p.scratch.file("audit.tar"))
        #expect(result.passed, "\(Self.failing(result))")
        let titles = result.checks.map(\.title)
        for expected in ["the events replay, under the vault's rules, to the state each of them signs",
                         "the controls report is what the events say, check by check (all but kdf-below-policy, recomputed)",
                         "the catalog files are what the events say (recomputed)"] {
            #expect(titles.contains(expected), "\(titles)")
        }
        // The policy's body rides in the bag; no sealed key, wrapped key or file name does.
        let blobs = files.keys.filter { $0.hasPrefix("data/blobs/") }
        #expect(blobs.count == 1)
        let policy = try #require(try s.p.vault.retentionPolicy())
        #expect(files["data/blobs/" + Blake2b.hash(policy.bytes).hexString] == policy.bytes)
        // What the tampering below changes is really there to change.
        let controls = String(decoding: try #require(files["data/controls.json"]), as: UTF8.self)
        #expect(controls.contains("\(s.gone): due since 2027-06-01") && controls.contains("\(s.kept): held since"))

        // And the vault, disposed of afterwards, still replays at the desk.
        try s.apply()
        _ = try s.p.vault.exportAudit(out: s.p.scratch.file("after.zip"), by: s.p["peter"], now: DisposalTests.due.addingTimeInterval(60))
        let after = try AuditBag.verify(at: s.p.scratch.file("after.zip"))
        #expect(after.passed, "\(Self.failing(after))")
    }

    /// A review took events out of a whole-log bag, faked its controls report
    /// and remade the manifests, and the bag passed as a partial one. Its
    /// bag-info says it holds every event: now refused. Relabelled partial,
    /// it passes only with a warning that nothing in it is verified beyond
    /// its events.
    @Test func eventsTakenOutOfAWholeBagAreRefusedAndAPartialBagIsSaidUnverified() throws {
        let (s, files) = try Self.bag()
        var fewer = files
        var lines = String(decoding: try #require(files["data/events.jsonl"]), as: UTF8.self).components(separatedBy: "\n")
        let total = lines.filter { !$0.isEmpty }.count
        lines.remove(at: total / 2)
        fewer["data/events.jsonl"] = Array(lines.joined(separator: "\n").utf8)
        let result = try AuditBag.verify(at: try Self.remade(fewer, in: s.p.scratch, "fewer"), allowUnsigned: true)
        #expect(Self.failing(result) == ["the bag holds every event of the log, as its bag-info says (all cases, from the beginning)"],
                "\(Self.failing(result))")
        #expect(result.checks.first { !$0.passed }?.detail == "it holds \(total - 1) of the \(total) events its checkpoint commits to")
        var relabelled = fewer
        relabelled["bag-info.txt"] = Array(String(decoding: try #require(files["bag-info.txt"]), as: UTF8.self)
            .replacingOccurrences(of: "Casevault-Cases: all", with: "Casevault-Cases: \(s.kept)").utf8)
        let partial = try AuditBag.verify(at: try Self.remade(relabelled, in: s.p.scratch, "relabelled"), allowUnsigned: true)
        #expect(partial.passed && partial.warnings.contains { $0.hasPrefix("this bag holds part of the log (--case or --since): its controls report and catalog files are NOT recomputed") })
        #expect(partial.warnings.contains { $0.hasPrefix("the bag has no casevault-signature.txt: a casevault before 2026-12-06 made it, or its signature was removed") })
        // Without --allow-unsigned, a bag whose signature was taken out is refused.
        let unsigned = try AuditBag.verify(at: try Self.remade(relabelled, in: s.p.scratch, "unsigned"))
        #expect(unsigned.checks.first { !$0.passed }.map { "\($0.title): \($0.detail)" }
                == "the exporter signed the bag's scope (bag-info) and every file's digest: the bag has no casevault-signature.txt: a casevault before 2026-12-06 made it, or its signature was removed (check an older bag with --allow-unsigned)")
        // A scope line spelt twice (a second reading BagIt takes first) or a log size not the checkpoint's: refused.
        let info = String(decoding: try #require(files["bag-info.txt"]), as: UTF8.self)
        let scopeCheck = "bag-info.txt names the bag's scope once, as signed, and the checkpoint's size"
        for (name, edited) in [("respelt", "Casevault-Cases:\(s.kept)\n" + info), ("carriage", info.replacingOccurrences(of: "Bagging-Date:", with: "X: y\rBagging-Date:")),
                               ("size", info.replacingOccurrences(of: "Casevault-Log-Size: ", with: "Casevault-Log-Size: 1"))] {
            var bag = files
            bag["bag-info.txt"] = Array(edited.utf8)
            let result = try AuditBag.verify(at: try Self.remade(bag, in: s.p.scratch, name, keepingSignature: true))
            #expect(Self.failing(result).contains(scopeCheck), "\(name): \(Self.failing(result))")
        }
        // The bag as made carries the exporter's signature of its scope and digests: relabelled, or with a
        // file changed, the manifests remade, the signature does not hold.
        let signed = "the exporter signed the bag's scope (bag-info) and every file's digest"
        let made = try AuditBag.verify(at: s.p.scratch.file("audit.tar"))
        #expect(made.passed && made.warnings.isEmpty && made.checks.contains { $0.title == signed && $0.passed })
        for (name, bag) in [("relabelled-signed", relabelled), ("fewer-signed", fewer)] {
            let result = try AuditBag.verify(at: try Self.remade(bag, in: s.p.scratch, name, keepingSignature: true))
            #expect(Self.failing(result).contains(signed), "\(name): \(Self.failing(result))")
        }
    }

    /// A whole bag exported without --checkpoint holds every leaf: checked
    /// against the auditor's earlier checkpoint from them, with no proof
    /// needed (it failed with no reason given); a rewritten log still fails.
    @Test func aWholeBagIsCheckedAgainstAnEarlierCheckpointFromItsOwnLeaves() throws {
        let s = try DisposalTests.Scene()
        let earlier = try s.p.vault.checkpoint(signedBy: s.p["peter"])
        try s.p.vault.nameClient(of: s.gone, name: "Amina Yusuf", by: s.p["farah"])
        let same = try s.p.vault.checkpoint(signedBy: s.p["peter"])
        _ = try s.p.vault.exportAudit(out: s.p.scratch.file("audit.tar"), by: s.p["peter"], now: DisposalTests.due)
        let consistency = "the log extends the auditor's previous checkpoint (RFC 9162 consistency)"
        for previous in [earlier, same] {
            let result = try AuditBag.verify(at: s.p.scratch.file("audit.tar"), previous: previous)
            #expect(result.passed && result.checks.contains { $0.title == consistency }, "\(Self.failing(result))")
        }
        let forged = Checkpoint(origin: earlier.origin, size: earlier.size, root: [UInt8](repeating: 9, count: 32), signatures: [])
        let rewritten = try AuditBag.verify(at: s.p.scratch.file("audit.tar"), previous: forged)
        #expect(rewritten.checks.first { $0.title == consistency }.map { !$0.passed && $0.detail == "the log was rewritten since your checkpoint: it does not extend it" } == true)
    }

    /// A bag folder holding a sparse file of 3 GiB: refused by its size,
    /// before a byte of it is read into memory.
    @Test func aBagFolderLargerThanCasevaultReadsIsRefusedBeforeItIsRead() throws {
        let scratch = Scratch()
        let bag = scratch.file("huge-bag")
        try FileManager.default.createDirectory(atPath: bag + "/data", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: bag + "/data/sparse.bin", contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: bag + "/data/sparse.bin"))
        try handle.truncate(atOffset: 3 << 30)
        try handle.close()
        #expect(throws: VaultError.invalidInput("the bag is larger than casevault reads")) { _ = try AuditBag.verify(at: bag) }
    }

    @Test func controlsOrCatalogRewrittenWithTheManifestsRemadeAreRefused() throws {
        let (s, files) = try Self.bag()
        let scratch = s.p.scratch
        #expect(try AuditBag.verify(at: try Self.remade(files, in: scratch, "untouched"), allowUnsigned: true).passed)
        func edited(_ name: String, _ path: String, _ change: (String) -> String) throws -> ExportVerification {
            var copy = files
            let before = String(decoding: try #require(copy[path]), as: UTF8.self)
            let after = change(before)
            #expect(after != before, "\(name): the edit changed nothing")
            copy[path] = Array(after.utf8)
            return try AuditBag.verify(at: try Self.remade(copy, in: scratch, name), allowUnsigned: true)
        }
        let controls = "the controls report is what the events say, check by check (all but kdf-below-policy, recomputed)"
        // A case past its retention date hidden from the report.
        var result = try edited("hidden", "data/controls.json") { $0.replacingOccurrences(of: "\"\(s.gone): due since", with: "\"CP-1999-0001: due since") }
        #expect(Self.failing(result) == [controls], "\(Self.failing(result))")
        // A hold left out.
        result = try edited("no-hold", "data/controls.json") { $0.replacingOccurrences(of: "\(s.kept): held since", with: "\(s.gone): held since") }
        #expect(Self.failing(result) == [controls])
        // A failing check turned to pass.
        result = try edited("passing", "data/controls.json") { text in
            var lines = text.components(separatedBy: "\n")
            let at = try! #require(lines.firstIndex { $0.contains("\"id\": \"past-retention\"") })
            for i in at..<lines.count where lines[i].contains("\"passed\": false") { lines[i] = lines[i].replacingOccurrences(of: "false", with: "true"); break }
            return lines.joined(separator: "\n")
        }
        #expect(Self.failing(result) == [controls])
        // The verdict a reader sees first turned to pass, a failing check's count zeroed, a title reworded,
        // a failing check made informational: each refused, though every check's items are untouched.
        result = try edited("verdict", "data/controls.json") { $0.replacingOccurrences(of: "\n  \"passed\": false", with: "\n  \"passed\": true") }
        #expect(Self.failing(result) == [controls], "\(Self.failing(result))")
        #expect(result.checks.first { $0.title == controls }?.detail == "differs in passed")
        /// The report with one member of the past-retention check changed (its lines run from the
        /// object's "{" down; members are sorted, so `count` comes before `id`).
        func pastRetention(_ member: String, _ from: String, _ to: String) -> (String) -> String {
            { text in
                var lines = text.components(separatedBy: "\n")
                let at = try! #require(lines.firstIndex { $0.contains("\"id\": \"past-retention\"") })
                let check = try! #require((0..<at).last { lines[$0].hasSuffix("{") })
                for i in check..<lines.count where lines[i].contains("\"\(member)\": \(from)") {
                    lines[i] = lines[i].replacingOccurrences(of: ": \(from)", with: ": \(to)")
                    break
                }
                return lines.joined(separator: "\n")
            }
        }
        result = try edited("count", "data/controls.json", pastRetention("count", "1", "0"))
        #expect(Self.failing(result) == [controls], "\(Self.failing(result))")
        result = try edited("title", "data/controls.json") { $0.replacingOccurrences(of: "No closed case is past its retention date", with: "Retention dates noted") }
        #expect(Self.failing(result) == [controls], "\(Self.failing(result))")
        result = try edited("informational", "data/controls.json", pastRetention("informational", "false", "true"))
        #expect(Self.failing(result) == [controls], "\(Self.failing(result))")
        // A check dropped (the one the desk cannot recompute, too).
        result = try edited("dropped", "data/controls.json") { $0.replacingOccurrences(of: "\"kdf-below-policy\"", with: "\"kdf-ok\"") }
        #expect(Self.failing(result) == [controls])
        // A false manager in the catalog files.
        result = try edited("manager", "data/catalog/cases.json") { $0.replacingOccurrences(of: "\"grace\"", with: "\"joseph\"") }
        #expect(Self.failing(result) == ["the catalog files are what the events say (recomputed)"])
        // A grant erased from them.
        result = try edited("grants", "data/catalog/grants.json") { $0.replacingOccurrences(of: "staff:halima", with: "staff:hal1ma") }
        #expect(Self.failing(result) == ["the catalog files are what the events say (recomputed)"])
        // The report moved back to a day before the log's last event (nothing signs its day).
        result = try edited("backdated", "data/controls.json") { text in
            text.replacingOccurrences(of: #""asOf" *: *"[0-9-]+""#, with: "\"asOf\": \"2000-01-01\"", options: .regularExpression)
        }
        #expect(Self.failing(result).contains { $0.hasPrefix("the controls report is as of 2000-01-01, not before the log's last event") },
                "\(Self.failing(result))")
        // A line whose readable actor is not its signed body's (what someone reading the file with jq sees).
        result = try edited("actor", "data/events.jsonl") { text in
            var lines = text.components(separatedBy: "\n")
            lines[2] = lines[2].replacingOccurrences(of: "{\"actor\":\"amina\"", with: "{\"actor\":\"peter\"")
            return lines.joined(separator: "\n")
        }
        #expect(Self.failing(result).contains("every event is well formed, in order, and in the log the checkpoint commits to (RFC 9162 inclusion)"),
                "\(Self.failing(result))")
    }

    /// A bag of one case (its events only, and every staff.left) whose
    /// checkpoint a member who left signed with the key they kept, the
    /// exporter line changed to name them and the tag manifests made again:
    /// refused, as in a whole bag.
    @Test func aPartialBagWhoseCheckpointADepartedMemberSignedIsRefused() throws {
        let s = try DisposalTests.Scene()
        let p = s.p
        _ = try p.vault.recordDeparture(of: "peter", reason: "end of contract", by: p["amina"])
        _ = try p.vault.exportAudit(out: p.scratch.file("partial.tar"), cases: [s.gone], by: p["dora"])
        var files = try AuditBag.read(p.scratch.file("partial.tar")).files
        #expect(try AuditBag.verify(at: try Self.remade(files, in: p.scratch, "as-made"), allowUnsigned: true).passed)
        let real = try Checkpoint(parsing: String(decoding: try #require(files["data/checkpoint.txt"]), as: UTF8.self))
        let forged = try Checkpoint.signed(vaultID: p.vault.config.vaultId, size: real.size, root: real.root, by: p["peter"])
        files["data/checkpoint.txt"] = Array(forged.note.utf8)
        files["bag-info.txt"] = Array(String(decoding: try #require(files["bag-info.txt"]), as: UTF8.self)
            .replacingOccurrences(of: "Casevault-Exported-By: dora", with: "Casevault-Exported-By: peter").utf8)
        let result = try AuditBag.verify(at: try Self.remade(files, in: p.scratch, "departed-exporter"), allowUnsigned: true)
        #expect(Self.failing(result).contains("the checkpoint is signed by the exporter, 'peter', who has not left"), "\(Self.failing(result))")
        #expect(!result.passed)
    }

    @Test func aBlobMissingOrSwappedStopsTheReplay() throws {
        let (s, files) = try Self.bag()
        let name = try #require(files.keys.first { $0.hasPrefix("data/blobs/") })
        var missing = files
        missing[name] = nil
        var result = try AuditBag.verify(at: try Self.remade(missing, in: s.p.scratch, "missing"), allowUnsigned: true)
        #expect(!result.passed)
        let replay = try #require(result.checks.first { $0.title.hasPrefix("the events replay") })
        #expect(!replay.passed && replay.detail.contains("needs a blob the bag does not carry"), "\(replay.detail)")
        // Another policy under the real one's name.
        var swapped = files
        swapped[name] = Array(String(decoding: files[name]!, as: UTF8.self).replacingOccurrences(of: "ruth.wambui", with: "someone.else").utf8)
        #expect(swapped[name] != files[name])
        result = try AuditBag.verify(at: try Self.remade(swapped, in: s.p.scratch, "swapped"), allowUnsigned: true)
        #expect(Self.failing(result).contains("every blob the bag carries is named by its BLAKE2b-256"))
        #expect(!result.passed)
    }

    /// A replay that fails early, while many lines are still to be parsed
    /// (here a line at a time), must not leave the parsing waiting on a full
    /// feed: verify-export ends, and names the failure.
    @Test func aReplayThatStopsEarlyDoesNotStallTheParsing() throws {
        let s = try DisposalTests.Scene()
        try s.approve()
        for _ in 1...12 { _ = try s.p.read(s.kept, by: "grace") }
        _ = try s.p.vault.exportAudit(out: s.p.scratch.file("audit.tar"), by: s.p["peter"], now: DisposalTests.due)
        var files = try AuditBag.read(s.p.scratch.file("audit.tar")).files
        let name = try #require(files.keys.first { $0.hasPrefix("data/blobs/") })
        files[name] = nil
        let folder = try Self.remade(files, in: s.p.scratch, "missing")
        let outcome = Box<Result<ExportVerification, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            outcome.value = Result { try AuditBag.verify(at: folder, previous: nil, bagItOnly: false, chunk: 1) }
            done.signal()
        }.start()
        guard done.wait(timeout: .now() + 60) == .success else {
            Issue.record("verify-export did not end: the parsing waits on a replay that stopped")
            return
        }
        let result = try #require(try outcome.value?.get())
        let replay = try #require(result.checks.first { $0.title.hasPrefix("the events replay") })
        #expect(!replay.passed && replay.detail.contains("needs a blob the bag does not carry"), "\(replay.detail)")
        #expect(!result.passed)
    }

    /// The fast reading of a line as `export audit` writes it gives what the
    /// general JSON reading gives; a line in another form goes to the
    /// general reading (and a bag of such lines still verifies); a cut line
    /// is refused by both.
    @Test func aLineIsReadAlikeCanonicalOrNotAndACutOneIsRefused() throws {
        let (s, files) = try Self.bag()
        let lines = try #require(files["data/events.jsonl"]).split(separator: 0x0a)
        #expect(lines.count > 20)
        for line in lines {
            let fast = try #require(EventLine(canonical: line)), general = try #require(EventLine(json: line))
            #expect(fast == general)
        }
        // Re-spaced, and a node in capitals: valid JSON, not as casevault writes it.
        func spaced(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            ArraySlice(String(decoding: line, as: UTF8.self).replacingOccurrences(of: "\",\"", with: "\", \"").utf8)
        }
        let line = lines[lines.count / 2]
        #expect(EventLine(canonical: spaced(line)) == nil && EventLine(json: spaced(line)) == EventLine(json: line))
        let text = String(decoding: line, as: UTF8.self)
        let node = try #require(text.range(of: "\"inclusionPath\":[\"")).upperBound
        let capital = ArraySlice((text[..<node] + text[node...].prefix(64).uppercased() + text[node...].dropFirst(64)).utf8)
        #expect(EventLine(canonical: capital) == nil && EventLine(json: capital) == EventLine(json: line))
        for cut in 0..<line.count { #expect(EventLine(canonical: line.prefix(cut)) == nil && EventLine(json: line.prefix(cut)) == nil) }
        // A bag of re-spaced lines (manifests made again) is read the general way, and verifies.
        var respaced = files
        respaced["data/events.jsonl"] = Array(lines.map { Array(spaced($0)) + [0x0a] }.joined())
        let result = try AuditBag.verify(at: try Self.remade(respaced, in: s.p.scratch, "respaced"), allowUnsigned: true)
        #expect(result.passed, "\(Self.failing(result))")
    }

    /// A case imported from another office replays from the history the bag carries.
    @Test func anImportedCaseReplaysFromItsHistory() throws {
        let o = try TransferTests.Offices()
        try o.export()
        try o.importCase()
        _ = try o.to.vault.exportAudit(out: o.to.scratch.file("audit.tar"), by: o.to["peter"])
        let files = try AuditBag.read(o.to.scratch.file("audit.tar")).files
        #expect(files.keys.contains { $0.hasPrefix("data/blobs/") })
        let result = try AuditBag.verify(at: o.to.scratch.file("audit.tar"))
        #expect(result.passed, "\(Self.failing(result))")
        #expect(result.checks.contains { $0.title.hasPrefix("the events replay") && $0.passed })
    }
}
