import CaseVault
import Foundation
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

/// `--passphrase-command CMD` (or `$CASEVAULT_PASSPHRASE_COMMAND`), as
/// restic's `--password-command`: CMD runs under `/bin/sh -c` with the
/// terminal and standard error it was given, `CASEVAULT_PASSPHRASE_FOR` set
/// to the member's id, and the first line it prints is the passphrase. It
/// goes from the pipe straight into wiped memory; nothing is written down.
enum PassphraseCommand {
    static func run(_ command: String, for id: String) throws -> Passphrase {
        var pipeEnds: [Int32] = [0, 0]
        // Both ends close on exec: the child keeps only the copy on its fd 1.
        guard pipe(&pipeEnds) == 0, fcntl(pipeEnds[0], F_SETFD, FD_CLOEXEC) == 0, fcntl(pipeEnds[1], F_SETFD, FD_CLOEXEC) == 0 else {
            throw CommandFailure(message: "cannot run the passphrase command: \(String(cString: strerror(errno)))", hint: nil, code: .ioFailure)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        var environment = ProcessInfo.processInfo.environment
        environment["CASEVAULT_PASSPHRASE_FOR"] = id
        let arguments = ["/bin/sh", "-c", command]
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, "/bin/sh", &actions, nil, argv, envp)
        close(pipeEnds[1])
        guard spawned == 0 else {
            close(pipeEnds[0])
            throw CommandFailure(message: "cannot run the passphrase command: \(String(cString: strerror(spawned)))", hint: nil, code: .ioFailure)
        }
        let read = Result { try Passphrase(readingLineFrom: pipeEnds[0], source: "the passphrase command") }
        // Closed before the wait: a command still printing gets SIGPIPE.
        close(pipeEnds[0])
        let status = wait(child)
        guard status == 0 else {
            // What went wrong reading, too: "longer than 1024 bytes" says
            // more than the SIGPIPE that followed it.
            var why = ""
            if case .failure(let error as VaultError) = read { why = " after \(error.message)" }
            throw CommandFailure(message: "the passphrase command failed (\(status < 0 ? "killed by a signal" : "exit \(status)"))\(why); no passphrase was read",
                                 hint: "run it yourself to see why: \(command)", code: .usage)
        }
        let passphrase = try read.get()
        return passphrase
    }

    /// The child's exit status, or -1 when a signal ended it.
    private static func wait(_ child: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Glibc's Swift overlay does not import.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : -1
    }
}
