import ArgumentParser
import CaseVault
import CaseVaultSQLite
import Foundation

/// Options shared by every command that works in an existing vault as a
/// staff member.
struct VaultOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The vault folder (default: $CASEVAULT_DIR).", valueName: "path"))
    var vault: String?

    @Option(name: [.customLong("as")], help: ArgumentHelp("The acting staff member (default: $CASEVAULT_STAFF).", valueName: "id"), completion: Completions.staffIDs)
    var staffID: String?

    @Option(name: .long, help: ArgumentHelp(
        "A file whose first line is your passphrase (default: $CASEVAULT_PASSPHRASE_FILE, else a prompt).",
        valueName: "file"))
    var passphraseFile: String?

    @Option(help: ArgumentHelp(
        "A command whose first line of output is your passphrase, e.g. a password manager's (default: $CASEVAULT_PASSPHRASE_COMMAND).",
        valueName: "command"))
    var passphraseCommand: String?

    @Option(help: ArgumentHelp(
        "A checkpoint (from 'casevault checkpoint') the vault's log must extend, besides the one casevault keeps for you.",
        valueName: "file"))
    var checkpoint: String?

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Opens the vault, checking its log against the checkpoint casevault
    /// keeps for this user (and the one given with --checkpoint).
    func openVault(checking: Bool = true) throws -> Vault {
        guard let path = vault ?? environment["CASEVAULT_DIR"], !path.isEmpty else {
            throw CommandFailure(message: "no vault given",
                                 hint: "pass --vault PATH or set CASEVAULT_DIR", code: .usage)
        }
        var options = Vault.OpenOptions(checkpoints: CheckpointStore.userDefault())
        options.checksOnOpen = checking
        if let checkpoint {
            options.checkpoint = try readCheckpoint(checkpoint)
        }
        if Terminal.isInteractive(2) {
            options.progress = { done, total in
                guard total >= 5_000, done % 1_000 == 0 || done == total else { return }
                Output.progress("checking \(total) events new to you: \(done)")
            }
        }
        let opened = try Vault.open(at: path, options: options)
        if opened.usesInsecureTestingKDF {
            Output.warning("this vault uses test-only key derivation; do not keep real records in it")
        }
        return opened
    }

    func actingStaffID() throws -> String {
        guard let id = staffID ?? environment["CASEVAULT_STAFF"], !id.isEmpty else {
            throw CommandFailure(message: "no acting staff member given",
                                 hint: "pass --as ID or set CASEVAULT_STAFF", code: .usage)
        }
        return id
    }

    /// The acting member's passphrase: --passphrase-file, then
    /// --passphrase-command, then the same two from the environment, then a
    /// prompt.
    func passphrase(for id: String) throws -> Passphrase {
        guard passphraseFile == nil || passphraseCommand == nil else {
            throw CommandFailure(message: "--passphrase-file and --passphrase-command do not go together", hint: nil, code: .usage)
        }
        if let file = passphraseFile { return try Passphrase(contentsOfFile: file) }
        if let command = passphraseCommand { return try PassphraseCommand.run(command, for: id) }
        if let file = environment["CASEVAULT_PASSPHRASE_FILE"], !file.isEmpty { return try Passphrase(contentsOfFile: file) }
        if let command = environment["CASEVAULT_PASSPHRASE_COMMAND"], !command.isEmpty { return try PassphraseCommand.run(command, for: id) }
        return try Terminal.readPassphrase(prompt: "Passphrase for \(id): ")
    }

    /// Opens the vault, unlocks the acting member and runs `body`; then,
    /// whether it succeeded or not (a refused read is an event too), keeps
    /// the log's new head as this user's checkpoint of the vault.
    ///
    /// Unless a passphrase file or command is given on the command line (or
    /// `agent` is false), the member's agent (`casevault unlock`) is asked
    /// first; without one, the passphrase comes as `passphrase(for:)` says.
    func withUnlocked<T>(_ opened: Vault? = nil, agent useAgent: Bool = true, _ body: (Vault, StaffIdentity) throws -> T) throws -> T {
        let vault = try opened ?? openVault()
        let id = try actingStaffID()
        _ = try vault.staffMember(id: id)  // name an unknown member before prompting
        var fromAgent: StaffIdentity?
        if useAgent, passphraseFile == nil, passphraseCommand == nil {
            fromAgent = try vault.unlock(staffID: id, agent: Agent.socketPath(vaultID: vault.config.vaultId, staffID: id))
        }
        let identity = try fromAgent ?? vault.unlock(staffID: id, passphrase: try passphrase(for: id))
        if !identity.isAnchored {
            Output.warning("your keys predate anchored wrapping; run 'casevault staff passwd' once so they also pin the log")
        }
        defer { keepCheckpoint(vault, identity) }
        return try body(vault, identity)
    }

    func keepCheckpoint(_ vault: Vault, _ identity: StaffIdentity) {
        do {
            try vault.saveCheckpoint(signedBy: identity)
        } catch VaultError.integrityFailure {
            // The command's own error already says what is wrong; a damaged
            // log is never kept as a checkpoint.
        } catch let error as VaultError {
            Output.warning("could not keep a checkpoint of this vault: \(error.message)")
        } catch {
            Output.warning("could not keep a checkpoint of this vault: \(error)")
        }
    }
}

/// Reads a new passphrase from `file`, or prompts twice on the terminal.
func newPassphrase(file: String?, for id: String) throws -> Passphrase {
    if let file {
        let passphrase = try Passphrase(contentsOfFile: file)
        try passphrase.validateAsNew()
        return passphrase
    }
    let first = try Terminal.readPassphrase(prompt: "New passphrase for \(id) (at least \(Passphrase.minimumNewLength) characters): ")
    try first.validateAsNew()
    let second = try Terminal.readPassphrase(prompt: "Type it again: ")
    guard first.matches(second) else {
        throw CommandFailure(message: "the two passphrases do not match", hint: nil, code: .invalidInput)
    }
    return first
}

/// Parses an option value into one of the core's string enums. (The core's
/// public types cannot conform to ArgumentParser's protocols without
/// re-exporting ArgumentParser, so options use a transform instead.)
func parseEnum<T: RawRepresentable & CaseIterable>(_ type: T.Type, _ text: String) throws -> T
where T.RawValue == String {
    guard let value = T(rawValue: text) else {
        // argument-parser says which value of which option; this says what would do.
        throw ValidationError("use one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return value
}

/// Reads a checkpoint note from a file (at most 16 KiB).
func readCheckpoint(_ path: String) throws -> Checkpoint {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CommandFailure(message: "cannot read checkpoint file \(path)", hint: nil, code: .notFound)
    }
    guard data.count <= 16_384, let text = String(data: data, encoding: .utf8) else {
        throw CommandFailure(message: "\(path) is not a casevault checkpoint", hint: nil, code: .invalidInput)
    }
    return try Checkpoint(parsing: text)
}

/// An `--as-of YYYY-MM-DD` day (noon UTC, so the day is the same in any
/// zone), or now.
func asOfDay(_ text: String?) throws -> Date {
    guard let text else { return Date() }
    // The parser rolls a day past the month's end over (2024-02-30 is March 1st): the day must read back as given.
    guard text.count == 10, let date = try? Date(text + "T12:00:00Z", strategy: .iso8601),
          date.formatted(.iso8601.year().month().day()) == text else {
        throw ValidationError("--as-of takes a day of the calendar, YYYY-MM-DD, not '\(text)'")
    }
    return date
}

/// A document's (or schema's) version as every command takes it: a
/// positional argument, `3` or `v3` as `history` shows it. Never a
/// `--version` option, which is the program's own version.
struct VersionNumber: ExpressibleByArgument {
    let number: Int

    init?(argument: String) {
        let digits = argument.lowercased().hasPrefix("v") ? argument.dropFirst() : Substring(argument)
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(digits), number >= 1 else { return nil }
        self.number = number
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// For a command's validate(): a VaultError met while checking arguments is
/// printed in the house format and ends with its documented exit code.
/// (argument-parser would print the raw enum, `invalidInput("…")`, and exit 1.)
func reportingInput(_ body: () throws -> Void) throws {
    do { try body() } catch let error as VaultError {
        Output.error(error.message, hint: error.hint)
        throw ExitCode(for: error)
    }
}
