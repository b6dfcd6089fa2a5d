import Foundation
import Testing

/// Issue 12, item 3, as a caseworker meets it: a PDF filed from
/// `scans/Referral letter.pdf` comes back under that name with `get -o DIR/`.
@Suite struct FileInfoCLITests {
    @Test func aRetrievedPDFComesBackUnderItsOwnName() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        try FileManager.default.createDirectory(atPath: p.scratch.file("scans"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: p.scratch.file("out"), withIntermediateDirectories: true)
        let pdf = Data("%PDF-1.7\n".utf8) + Data(repeating: 0x25, count: 4_000)
        try pdf.write(to: URL(fileURLWithPath: p.scratch.file("scans/Referral letter.pdf")))
        let filed = try p.cli.run(["file", "CP-2024-0042", "scans/Referral letter.pdf", "--type", "letter"] + p.as("farah"))
        #expect(filed.code == 0, "\(filed.stderr)")
        let got = try p.cli.run(["get", "CP-2024-0042", "Referral letter", "-o", "out/"] + p.as("grace"))
        #expect(got.code == 0, "\(got.stderr)")
        #expect(got.stdout == "Wrote 'Referral letter' version 1 of CP-2024-0042 to \(p.scratch.file("out"))/Referral letter.pdf (application/pdf, 4009 bytes).\n")
        #expect(FileManager.default.contents(atPath: p.scratch.file("out/Referral letter.pdf")) == pdf)
        // Again into the same folder: refused, never over the first.
        let again = try p.cli.run(["get", "CP-2024-0042", "Referral letter", "-o", "out"] + p.as("grace"))
        #expect(again.code == 73, "\(again.stderr)")
        // A binary document is not dumped on a terminal: covered by TerminalTests; to a pipe it flows.
        // The independent decoder, from SECURITY.md §11a alone, opens the same name.
        if let python = IndependentDecoderTests.python {
            let home = ProcessInfo.processInfo.environment["HOME"] ?? p.scratch.path
            let decoded = try p.cli.run([IndependentDecoderTests.script, p.scratch.file("vault"), "grace", p.scratch.file("grace.pw"),
                                         "CP-2024-0042", "Referral letter", "--file-info"], extraEnvironment: ["HOME": home], executable: python)
            #expect(decoded.code == 0 && decoded.stdout == #"{"mediaType":"application/pdf","name":"Referral letter.pdf"}"# + "\n",
                    "\(decoded.stdout) \(decoded.stderr)")
        }
    }
}
