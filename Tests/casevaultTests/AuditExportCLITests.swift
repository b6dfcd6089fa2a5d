import CaseVault
import Foundation
import Testing

/// Issue 11, item 4: the BagIt audit export, extracted with bsdtar and
/// validated with bagit-python (installed by `make test`).
@Suite struct AuditExportCLITests {
    static let python: String? = IndependentDecoderTests.python.flatMap { python in
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import bagit"]
        process.standardError = FileHandle.nullDevice
        try? process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? python : nil
    }

    @Test func theBagValidatesWithBagitPythonAndAByteFlippedAnywhereIsRefused() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        p.scratch.write("note.txt", "Home visit: MARKER-4c1e all well.\n")
        #expect(try p.cli.run(p.fileArguments("note.txt", name: "Home visit", type: "report")).code == 0)
        #expect(try p.cli.run(["get", "CP-2024-0042", "Home visit"] + p.as("grace")).code == 0)
        #expect(try p.cli.run(["checkpoint", "--out", "before.checkpoint"] + p.as("dora")).code == 0)
        #expect(try p.cli.run(["get", "CP-2024-0042", "Home visit"] + p.as("halima")).code == 0)

        let exported = try p.cli.run(["export", "audit", "--out", "audit.tar", "--checkpoint", "before.checkpoint"] + p.as("dora"))
        #expect(exported.code == 0, "\(exported.stderr)")
        #expect(try p.cli.run(["export", "audit", "--out", "audit.zip"] + p.as("dora")).code == 0)
        #expect(try p.cli.run(["export", "audit", "--out", "x.tar"] + p.as("grace")).code == 77)
        #expect(try p.cli.run(["export", "audit", "--out", "x.rar"] + p.as("dora")).code == 65)
        // No content in it, and the export is itself a signed event.
        let tar = try Data(contentsOf: URL(fileURLWithPath: p.scratch.file("audit.tar")))
        #expect(tar.range(of: Data("MARKER-4c1e".utf8)) == nil)
        let log = try p.cli.run(["audit", "log", "--type", "audit.exported"])
        #expect(log.stdout.contains("audit.exported") && log.stdout.contains("dora"))

        for archive in ["audit.tar", "audit.zip"] {
            let folder = "bag-" + archive.replacingOccurrences(of: ".", with: "-")
            try FileManager.default.createDirectory(atPath: p.scratch.file(folder), withIntermediateDirectories: true)
            let extracted = try p.cli.run(["-xf", p.scratch.file(archive), "-C", p.scratch.file(folder)], executable: "/usr/bin/bsdtar")
            #expect(extracted.code == 0, "\(extracted.stderr)")
            let bags = try FileManager.default.contentsOfDirectory(atPath: p.scratch.file(folder))
            #expect(bags.count == 1)
            let bag = p.scratch.file(folder + "/" + bags[0])
            let files = Set(try FileManager.default.subpathsOfDirectory(atPath: bag))
            #expect(files.isSuperset(of: ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt",
                                          "data/events.jsonl", "data/checkpoint.txt", "data/controls.json", "data/catalog/staff.json",
                                          "data/catalog/documents.json"]))
            if archive == "audit.tar" { #expect(files.contains("data/consistency.json")) }
            guard let python = Self.python else { continue }
            func validate() throws -> Int32 { try p.cli.run(["-m", "bagit", "--validate", bag], executable: python).code }
            #expect(try validate() == 0, "bagit-python refused the bag from \(archive)")
            // Flip one byte of a payload file, then of a tag file: each is refused.
            for name in ["data/events.jsonl", "bag-info.txt"] {
                let path = bag + "/" + name
                var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
                bytes[bytes.count / 2] ^= 0x01
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                #expect(try validate() != 0, "bagit-python accepted \(name) with a byte flipped")
                bytes[bytes.count / 2] ^= 0x01
                try Data(bytes).write(to: URL(fileURLWithPath: path))
            }
            #expect(try validate() == 0)
        }
    }
}
