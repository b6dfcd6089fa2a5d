import ArgumentParser
import CaseVault

/// The documented exit codes (README §"Exit codes"). Numbers follow
/// sysexits.h where one fits, so scripts can tell failures apart.
extension ExitCode {
    static let internalFailure = ExitCode(1)
    static let usage = ExitCode(64)
    static let invalidInput = ExitCode(65)
    static let notFound = ExitCode(66)
    static let alreadyExists = ExitCode(73)
    static let ioFailure = ExitCode(74)
    static let accessDenied = ExitCode(77)
    static let unsupportedFormat = ExitCode(78)
    static let wrongPassphrase = ExitCode(80)
    static let integrityFailure = ExitCode(81)

    init(for error: VaultError) {
        switch error {
        case .notAVault, .notFound: self = .notFound
        case .newerFormat, .newerCatalog: self = .unsupportedFormat
        case .invalidInput, .invalidForm: self = .invalidInput
        case .alreadyExists: self = .alreadyExists
        case .accessDenied: self = .accessDenied
        case .wrongPassphrase: self = .wrongPassphrase
        case .integrityFailure: self = .integrityFailure
        case .io: self = .ioFailure
        }
    }
}
