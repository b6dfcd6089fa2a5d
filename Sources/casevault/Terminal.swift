import CaseVault
#if canImport(Glibc)
import Glibc
#endif

// The terminal settings to put back if a signal arrives while echo is off.
// A signal handler cannot capture context, hence globals.
nonisolated(unsafe) private var savedSettings = termios()
nonisolated(unsafe) private var promptDescriptor: Int32 = -1

/// Restores echo, then lets the signal do what it would have done.
private func restoreTerminalAndReraise(_ signalNumber: Int32) {
    if promptDescriptor >= 0 { tcsetattr(promptDescriptor, TCSANOW, &savedSettings) }
    signal(signalNumber, SIG_DFL)
    raise(signalNumber)
}

/// Passphrase prompts on the controlling terminal, with echo off. Reading
/// goes straight into the core's wiped `Passphrase` storage. Ctrl-C, Ctrl-Z
/// or a kill at the prompt leave the terminal echoing again.
enum Terminal {
    /// Whether a descriptor is a terminal (progress goes only there).
    static func isInteractive(_ fd: Int32) -> Bool { isatty(fd) == 1 }

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
        guard tcgetattr(tty, &saved) == 0 else {
            throw CommandFailure(message: "cannot read the terminal's settings to turn echo off",
                                 hint: "pass --passphrase-file FILE instead", code: .ioFailure)
        }
        savedSettings = saved
        promptDescriptor = tty
        let signals = [SIGINT, SIGTERM, SIGTSTP, SIGHUP, SIGQUIT]
        for signalNumber in signals { signal(signalNumber, restoreTerminalAndReraise) }
        defer {
            tcsetattr(tty, TCSAFLUSH, &saved)
            promptDescriptor = -1
            for signalNumber in signals { signal(signalNumber, SIG_DFL) }
        }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        quiet.c_lflag |= tcflag_t(ECHONL)
        guard tcsetattr(tty, TCSAFLUSH, &quiet) == 0 else {
            throw CommandFailure(message: "cannot turn off echo on the terminal",
                                 hint: "pass --passphrase-file FILE instead", code: .ioFailure)
        }
        var promptBytes = Array(prompt.utf8)
        _ = promptBytes.withUnsafeMutableBytes { write(tty, $0.baseAddress, $0.count) }
        return try Passphrase(readingLineFrom: tty, source: "the terminal")
    }
}
