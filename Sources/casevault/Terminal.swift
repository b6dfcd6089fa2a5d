import CaseVault
#if canImport(Glibc)
import Glibc
#endif

/// Passphrase prompts on the controlling terminal, with echo off. Reading
/// goes straight into the core's wiped `Passphrase` storage.
enum Terminal {
    static func readPassphrase(prompt: String) throws -> Passphrase {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard tty >= 0 else {
            throw CommandFailure(
                message: "no passphrase given and no terminal to ask on",
                hint: "pass --passphrase-file FILE (or set CASEVAULT_PASSPHRASE_FILE); new passphrases take --new-passphrase-file FILE",
                code: .usage)
        }
        defer { close(tty) }
        var saved = termios()
        let isTerminal = tcgetattr(tty, &saved) == 0
        if isTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            quiet.c_lflag |= tcflag_t(ECHONL)
            tcsetattr(tty, TCSAFLUSH, &quiet)
        }
        defer { if isTerminal { tcsetattr(tty, TCSAFLUSH, &saved) } }
        var promptBytes = Array(prompt.utf8)
        _ = promptBytes.withUnsafeMutableBytes { write(tty, $0.baseAddress, $0.count) }
        return try Passphrase(readingLineFrom: tty, source: "the terminal")
    }
}
