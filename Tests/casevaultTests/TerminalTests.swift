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
