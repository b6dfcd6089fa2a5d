import ArgumentParser
import CaseVault
#if canImport(Glibc)
import Glibc
#endif

@main
struct CaseVaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "casevault",
        abstract: "An encrypted, versioned, auditable archive for case-management records.",
        discussion: """
            The vault comes from --vault or CASEVAULT_DIR, the acting staff member from --as or \
            CASEVAULT_STAFF, and their passphrase from --passphrase-file, --passphrase-command, \
            CASEVAULT_PASSPHRASE_FILE, CASEVAULT_PASSPHRASE_COMMAND, \
            or a prompt on the terminal. Passphrases are never taken as command-line arguments.

            Exit codes are listed in the README.
            """,
        version: "0.2.0",
        subcommands: [InitCommand.self, StaffCommand.self, CaseCommand.self, FileCommand.self, GetCommand.self,
                      FindCommand.self, HistoryCommand.self, DiffCommand.self, WithdrawCommand.self, MoveCommand.self, LabelCommand.self, DueCommand.self, ReportCommand.self, HoldCommand.self, RetentionCommand.self, PolicyCommand.self, HandoverCommand.self, ExportCommand.self, PackageCommand.self, ImportCommand.self, VaultCommand.self, AuditCommand.self,
                      SchemaCommand.self, CheckpointCommand.self, VerifyCommand.self, UnlockCommand.self, LockCommand.self, AgentCommand.self]
    )

    /// Parses, runs, and turns every error into one line on stderr and a
    /// documented exit code (README §"Exit codes").
    static func main() {
        // No core dumps: a crash must not write keys or case content to disk.
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        setrlimit(Int32(RLIMIT_CORE.rawValue), &noCore)
        // Completion scripts are printed here, however they are asked for: the bash one is casevault's own
        // patch of the generated one (Completions.bashScript), and the argument parser must never print its own.
        // (Only before a `--`: after it everything is a value, a document's name say.)
        let arguments = Array(CommandLine.arguments.dropFirst().prefix { $0 != "--" })
        if let index = arguments.firstIndex(where: { $0 == "--generate-completion-script" || $0.hasPrefix("--generate-completion-script=") }) {
            var shell: String?
            if let equals = arguments[index].firstIndex(of: "=") {
                shell = String(arguments[index][arguments[index].index(after: equals)...])
            } else if index + 1 < arguments.count, !arguments[index + 1].hasPrefix("-") {
                shell = arguments[index + 1]
            }
            // As the argument parser does when no shell is named: the login shell's.
            shell = shell ?? getenv("SHELL").map { String(String(cString: $0).split(separator: "/").last ?? "") }
            switch shell {
            case "bash":
                guard let script = Completions.bashScript(CaseVaultCommand.completionScript(for: .bash)) else {
                    Output.error("the bash completion script swift-argument-parser generates is not the one casevault knows how to make safe; not printing it")
                    Glibc.exit(70)
                }
                print(script, terminator: "")
            case "zsh": print(CaseVaultCommand.completionScript(for: .zsh), terminator: "")
            case "fish": print(CaseVaultCommand.completionScript(for: .fish), terminator: "")
            default:
                Output.error("name the shell to complete for: --generate-completion-script bash, zsh or fish")
                Glibc.exit(64)
            }
            Glibc.exit(0)
        }
        var parsed: (any ParsableCommand.Type)?
        do {
            var command = try parseAsRoot()
            parsed = type(of: command)
            try command.run()
        } catch let error as ValidationError where parsed != nil {
            // Thrown by a command's run(), after parsing: its own usage, not the root's.
            let usage = usageString(for: parsed!)
            let name = usage.split(separator: " ").prefix { !"[<-".contains($0.first ?? "-") }.joined(separator: " ")
            Output.writeToStandardError("casevault: error: \(error.message)\nUsage: \(usage)\n  See '\(name) --help' for more information.\n")
            Glibc.exit(ExitCode.validationFailure.rawValue)
        } catch let error as VaultError {
            Output.error(error.message, hint: error.hint)
            if case .invalidForm(_, let violations) = error {
                Output.writeToStandardError(violations.map { "  " + TerminalText.escape($0.description) + "\n" }.joined())
            }
            Glibc.exit(ExitCode(for: error).rawValue)
        } catch let error as CommandFailure {
            Output.error(error.message, hint: error.hint)
            Glibc.exit(error.code.rawValue)
        } catch let exit as QuietExit {
            Glibc.exit(exit.code.rawValue)
        } catch {
            let code = exitCode(for: error)
            let full = fullMessage(for: error)
            if code == .success {
                // --help, --version, `casevault help …`
                print(full)
                Glibc.exit(0)
            }
            // An ExitCode thrown by a validate() that already printed its error (reportingInput).
            if full.isEmpty { Glibc.exit(code.rawValue) }
            // Parse and validation errors: the house format on the first line,
            // then argument-parser's own help and usage lines.
            var lines = full.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if let first = lines.first, first.hasPrefix("Error: ") {
                lines[0] = "casevault: error: " + first.dropFirst("Error: ".count)
            } else {
                lines.insert("casevault: error: \(message(for: error))", at: 0)
            }
            Output.writeToStandardError(lines.joined(separator: "\n") + "\n")
            Glibc.exit(code.rawValue)
        }
    }
}

/// Ends with an exit code after the command printed its own report.
struct QuietExit: Error {
    var code: ExitCode
}

/// A failure the CLI itself detects (no passphrase source, mismatched
/// confirmation), with its exit code.
struct CommandFailure: Error {
    var message: String
    var hint: String?
    var code: ExitCode
}

enum Output {
    static func error(_ message: String, hint: String? = nil) {
        // One line each: a reason or name from the vault cannot add lines
        // or move the cursor.
        var text = "casevault: error: \(TerminalText.escape(message))\n"
        if let hint { text += "hint: \(TerminalText.escape(hint))\n" }
        writeToStandardError(text)
    }

    static func warning(_ message: String) {
        writeToStandardError("casevault: warning: \(TerminalText.escape(message))\n")
    }

    /// One line of progress on the terminal, overwritten by the next.
    static func progress(_ message: String) {
        writeToStandardError("\r\u{1B}[K" + message)
    }

    static func writeToStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
