/// Errors of the core. Each case maps to one documented exit code in the CLI
/// (README §"Exit codes"). Messages name what is wrong, never a key, a
/// passphrase or any case content.
public enum VaultError: Error, Equatable, Sendable {
    /// The folder exists but holds no casevault vault.
    case notAVault(path: String)
    /// The vault was written by a newer casevault.
    case newerFormat(found: Int, supported: Int)
    /// The catalog has schema changes this casevault does not know.
    case newerCatalog
    /// A named thing (staff member, file, case) does not exist.
    case notFound(String)
    /// Bad input from the user: an identifier, a passphrase that is too
    /// short, a file that is not what it should be.
    case invalidInput(String)
    /// The target already exists and we refuse to overwrite it.
    case alreadyExists(String)
    /// The acting member's role or grants do not allow this.
    case accessDenied(String)
    /// The passphrase did not unlock the member's keys.
    case wrongPassphrase(staffID: String)
    /// Stored data failed authentication or does not match what the catalog
    /// says: tampering or corruption.
    case integrityFailure(String)
    /// The operating system refused a read or write.
    case io(String)
    /// A form that does not satisfy its schema: every violation, by pointer.
    case invalidForm(report: String, violations: [SchemaViolation])
}

extension VaultError {
    /// A one-line explanation for people.
    public var message: String {
        switch self {
        case .notAVault(let path): "\(path) is not a casevault vault"
        case .newerFormat(let found, let supported):
            "this vault has format version \(found); this casevault reads up to version \(supported)"
        case .newerCatalog: "this vault's catalog was changed by a newer casevault"
        case .notFound(let what): what
        case .invalidInput(let what): what
        case .alreadyExists(let what): what
        case .accessDenied(let what): "access denied: \(what)"
        case .wrongPassphrase(let id): "wrong passphrase for staff member '\(id)'"
        case .integrityFailure(let what): "integrity check failed: \(what)"
        case .io(let what): what
        case .invalidForm(let report, let violations):
            "the form is not a valid \(report): \(violations.count) problem\(violations.count == 1 ? "" : "s"); nothing was filed"
        }
    }

    /// Whether an integrity failure is a package's or a case transfer's
    /// (the file given to `package open` or `import case`), as their
    /// readers word them, not the vault's.
    static func namesAReceivedFile(_ message: String) -> Bool {
        ["the package", "from the package", "in the package", "made this package", "the transfer's", "in the transfer", "the transfer lacks"]
            .contains { message.contains($0) }
    }

    /// What the user can do about it, where there is something to say.
    public var hint: String? {
        switch self {
        case .notAVault: "create one with 'casevault init PATH', or point --vault / CASEVAULT_DIR at an existing vault"
        case .newerFormat, .newerCatalog: "upgrade casevault before opening this vault"
        case .wrongPassphrase: "passphrases are case-sensitive; a lost passphrase cannot be recovered, ask an admin to re-issue access"
        case .integrityFailure(let message) where message.contains("does not extend your last checkpoint"):
            "if nobody restored this vault from a backup, it was tampered with: do not write to it, keep a copy, run 'casevault verify'. "
                + "If it was restored on purpose, everything done since that backup is gone from it; to accept it, run 'casevault verify', "
                + "then move aside <vault id>.checkpoint in your checkpoint folder ($CASEVAULT_STATE_DIR, else ~/.local/state/casevault)"
        case .integrityFailure(let message) where Self.namesAReceivedFile(message):
            "the file was altered, cut or damaged on its way, not this vault: ask whoever sent it to make it again"
        case .integrityFailure: "do not write to this vault; keep a copy of the folder as it is; 'casevault verify' lists everything that differs from the signed log"
        default: nil
        }
    }
}
