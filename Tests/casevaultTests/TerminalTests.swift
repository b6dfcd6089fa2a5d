import Foundation
import Testing

/// The passphrase prompt on a real (pseudo-)terminal: echo off, asked twice
/// for a new passphrase, mismatch refused. Python's pty module drives it.
@Suite struct TerminalTests {
    static let python: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static let driver = #"""
        import os, pty, signal, sys
        signal.alarm(30)  # never hang the test suite
        binary, answers = sys.argv[1], sys.argv[2:]
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(binary, [binary] + os.environ["CASEVAULT_ARGS"].split("\x1f"))
        seen = b""
        for answer in answers:
            start = len(seen)  # wait for a prompt that came after the last answer
            while not seen[start:].rstrip(b" ").endswith(b":"):
                try:
                    chunk = os.read(fd, 1024)
                except OSError:
                    chunk = b""
                if not chunk: break
                seen += chunk
            os.write(fd, answer.encode() + b"\n")
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk: break
            seen += chunk
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(seen.decode(errors="replace"))
        sys.exit(os.WEXITSTATUS(status))
        """#

    private func runOnTerminal(_ scratch: Scratch, _ arguments: [String], answers: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python!)
        process.arguments = ["-c", Self.driver, CLI.binary.path] + answers
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": scratch.path, "CASEVAULT_INSECURE_TEST_KDF": "1",
                               "CASEVAULT_ARGS": arguments.joined(separator: "\u{1f}")]
        process.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// Issue 12, item 3: get refuses content that is not plain text on a
    /// terminal unless told (--force), as age does; text is printed; a pipe
    /// or -o gets the bytes as they are.
    @Test(.enabled(if: python != nil && FileManager.default.fileExists(atPath: "/dev/ptmx"),
                   "python3 and pseudo-terminals (/dev/ptmx) are needed to drive a terminal"))
    func getRefusesBinaryOnATerminalUnlessForced() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        let png: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] + Array(repeating: 0, count: 64)
        try Data(png).write(to: URL(fileURLWithPath: p.scratch.file("photo.png")))
        p.scratch.write("escape.txt", "looks fine\u{1B}]0;pwned\u{07} then not\n")
        p.scratch.write("note.txt", "Visit on 12 March: all well. Café ✓\n")
        #expect(try p.cli.run(p.fileArguments("photo.png", name: "Photo", type: "photo")).code == 0)
        #expect(try p.cli.run(p.fileArguments("escape.txt", name: "Escape", type: "report")).code == 0)
        #expect(try p.cli.run(p.fileArguments("note.txt", name: "Note", type: "report")).code == 0)
        let reader = ["--vault", p.scratch.file("vault")] + p.as("grace")
        for name in ["Photo", "Escape"] {
            let (code, screen) = try runOnTerminal(p.scratch, ["get", "CP-2024-0042", name] + reader, answers: [])
            #expect(code == 65, "\(name): \(screen)")
            #expect(screen.contains("casevault: error: '\(name)' is not plain text; refusing to write it to the terminal"), "\(screen)")
            #expect(!screen.contains("pwned"))
        }
        // Text that turns into escapes after the first chunk stops at the chunk that does.
        p.scratch.write("long.txt", String(repeating: "a", count: 100_000) + "\u{1B}]0;pwned\u{07}\n")
        #expect(try p.cli.run(p.fileArguments("long.txt", name: "Long", type: "report")).code == 0)
        let (late, lateScreen) = try runOnTerminal(p.scratch, ["get", "CP-2024-0042", "Long"] + reader, answers: [])
        #expect(late == 65 && lateScreen.contains("refusing to write the rest of it") && !lateScreen.contains("pwned"), "\(lateScreen.suffix(300))")
        let (forced, raw) = try runOnTerminal(p.scratch, ["get", "CP-2024-0042", "Escape", "--force"] + reader, answers: [])
        #expect(forced == 0 && raw.contains("pwned"), "\(raw)")
        let (text, note) = try runOnTerminal(p.scratch, ["get", "CP-2024-0042", "Note"] + reader, answers: [])
        #expect(text == 0 && note.contains("Visit on 12 March: all well. Café ✓"), "\(note)")
        // Not a terminal: the bytes as they are.
        let piped = try p.cli.run(["get", "CP-2024-0042", "Photo"] + p.as("grace"))
        #expect(piped.code == 0 && Array(piped.output) == png)
    }

    /// Issue 12, item 2: a batch shows a progress bar on a terminal (files,
    /// bytes), wiped before the summary.
    @Test(.enabled(if: python != nil && FileManager.default.fileExists(atPath: "/dev/ptmx"),
                   "python3 and pseudo-terminals (/dev/ptmx) are needed to drive a terminal"))
    func aBatchShowsProgressOnATerminal() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        for i in 1...3 { p.scratch.write("scan \(i).txt", String(repeating: "page \(i) ", count: 400)) }
        let (code, screen) = try runOnTerminal(p.scratch, ["file", "CP-2024-0042", "scan 1.txt", "scan 2.txt", "scan 3.txt", "--type", "report",
                                                           "--vault", p.scratch.file("vault")] + p.as("farah"), answers: [])
        #expect(code == 0, "\(screen)")
        #expect(screen.contains("\r\u{1B}[K[------------------------] 0/3 files  0 bytes of 8.2 KiB"), "\(screen)")
        #expect(screen.contains("[########################] 3/3 files  8.2 KiB of 8.2 KiB"), "\(screen)")
        #expect(screen.contains("\r\u{1B}[KFiled 3 documents (8.2 KiB) into 1 case in "), "\(screen)")
    }

    @Test(.enabled(if: python != nil && FileManager.default.fileExists(atPath: "/dev/ptmx"),
                   "python3 and pseudo-terminals (/dev/ptmx) are needed to drive a terminal"))
    func passphrasesAreAskedWithoutEchoAndTwiceWhenNew() throws {
        let scratch = Scratch()
        let (code, screen) = try runOnTerminal(scratch, ["init", "vault", "--admin-id", "amina", "--admin-name", "Amina Yusuf"],
                                               answers: ["typed passphrase 1", "typed passphrase 1"])
        #expect(code == 0, "\(screen)")
        #expect(screen.contains("New passphrase for amina (at least 12 characters): "))
        #expect(screen.contains("Type it again: "))
        #expect(!screen.contains("typed passphrase 1"), "the passphrase was echoed: \(screen)")
        #expect(screen.contains("Created vault"))

        let (mismatch, text) = try runOnTerminal(scratch, ["init", "other", "--admin-id", "amina", "--admin-name", "Amina Yusuf"],
                                                 answers: ["typed passphrase 1", "typed passphrase 2"])
        #expect(mismatch == 65)
        #expect(text.contains("casevault: error: the two passphrases do not match"))
        #expect(!FileManager.default.fileExists(atPath: scratch.file("other")))

        // And the prompt unlocks: the passphrase typed at init opens the vault.
        scratch.write("empty.pw", "\n")
        let (listed, listing) = try runOnTerminal(scratch, ["staff", "passwd", "--vault", "vault", "--as", "amina",
                                                            "--new-passphrase-file", "empty.pw"],
                                                  answers: ["typed passphrase 1"])
        #expect(listing.contains("Passphrase for amina: "))
        #expect(listed == 65)  // it unlocked, then refused the empty new passphrase
        #expect(listing.contains("casevault: error: empty passphrase from empty.pw"), "\(listing)")
    }
}
