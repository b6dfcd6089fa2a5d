import ArgumentParser
import CaseVault
import Foundation

/// Options shared by every command that works in an existing vault as a
/// staff member.
struct VaultOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The vault folder (default: $CASEVAULT_DIR).", valueName: "path"))
    var vault: String?

    @Option(name: [.customLong("as")], help: ArgumentHelp("The acting staff member (default: $CASEVAULT_STAFF).", valueName: "id"))
    var staffID: String?

    @Option(name: .long, help: ArgumentHelp(
        "A file whose first line is your passphrase (default: $CASEVAULT_PASSPHRASE_FILE, else a prompt).",
        valueName: "file"))
    var passphraseFile: String?

    private var environment: [String: String] { ProcessInfo.processInfo.environment }

    func openVault() throws -> Vault {
        guard let path = vault ?? environment["CASEVAULT_DIR"], !path.isEmpty else {
            throw CommandFailure(message: "no vault given",
                                 hint: "pass --vault PATH or set CASEVAULT_DIR", code: .usage)
        }
        let opened = try Vault.open(at: path)
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

    /// The acting member's passphrase: file, then environment, then prompt.
    func passphrase(for id: String) throws -> Passphrase {
        if let file = passphraseFile ?? environment["CASEVAULT_PASSPHRASE_FILE"], !file.isEmpty {
            return try Passphrase(contentsOfFile: file)
        }
        return try Terminal.readPassphrase(prompt: "Passphrase for \(id): ")
    }

    /// Opens the vault and unlocks the acting member.
    func unlock() throws -> (Vault, StaffIdentity) {
        let vault = try openVault()
        let id = try actingStaffID()
        _ = try vault.staffMember(id: id)  // name an unknown member before prompting
        let identity = try vault.unlock(staffID: id, passphrase: try passphrase(for: id))
        return (vault, identity)
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
func parseEnum<T: RawRepresentable & CaseIterable>(_ type: T.Type, _ text: String, option: String) throws -> T
where T.RawValue == String {
    guard let value = T(rawValue: text) else {
        throw ValidationError("'\(text)' is not a valid \(option); use one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return value
}
