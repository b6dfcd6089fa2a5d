import ArgumentParser
import CaseVault
import CaseVaultSQLite
import Foundation

/// Shell completion of case numbers, document names and staff ids from the
/// vault the command line names (`--vault PATH`, else $CASEVAULT_DIR). Only
/// clear metadata is read, without a passphrase, through the same checks as
/// `case list`; any problem completes nothing rather than printing an error
/// into the shell.
enum Completions {
    static let caseNumbers = CompletionKind.custom { words, _, prefix in
        complete(prefix, words) { vault, _ in try vault.cases().map(\.number.description) }
    }

    static let staffIDs = CompletionKind.custom { words, _, prefix in
        complete(prefix, words) { vault, _ in try vault.staff().filter { $0.left == nil }.map(\.id) }
    }

    /// The documents of the case number already on the line.
    static let documentNames = CompletionKind.custom { words, _, prefix in
        complete(prefix, words) { vault, words in
            guard let number = words.first(where: { CaseNumber($0) != nil }) else { return [] }
            var seen = Set<String>()
            return try vault.latestVersions(caseNumber: number).map(\.document).filter { seen.insert($0).inserted }
        }
    }

    private static func complete(_ prefix: String, _ words: [String], _ candidates: (Vault, [String]) throws -> [String]) -> [String] {
        var path = ProcessInfo.processInfo.environment["CASEVAULT_DIR"]
        if let index = words.firstIndex(of: "--vault"), index + 1 < words.count { path = words[index + 1] }
        if let given = words.first(where: { $0.hasPrefix("--vault=") }) { path = String(given.dropFirst("--vault=".count)) }
        guard let path, !path.isEmpty,
              let vault = try? Vault.open(at: path, options: Vault.OpenOptions(checkpoints: CheckpointStore.userDefault())),
              let all = try? candidates(vault, words) else { return [] }
        // Names with characters a shell would mangle are left out rather than offered half-quoted.
        return all.filter { $0.hasPrefix(prefix) && !$0.contains(where: { $0.isNewline || $0 == "\u{1B}" }) }.sorted()
    }
}
