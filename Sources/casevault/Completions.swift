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
        // A name with a control or format character (a newline, ESC, a bidirectional override) is left out
        // rather than offered half-quoted or shown misleadingly; every other one is offered as the shell
        // asking needs it spelt (`shellWord`).
        let shell = CompletionShell.requesting
        return all.filter { name in
            !name.unicodeScalars.contains { [.control, .format, .lineSeparator, .paragraphSeparator].contains($0.properties.generalCategory) }
                // A name like "--force" would go on the line as an option.
                && !name.hasPrefix("-")
                && (name.hasPrefix(prefix) || name.hasPrefix(unescaped(prefix)) || bashWord(name).hasPrefix(prefix))
        }.sorted().map { shellWord($0, for: shell) }
    }

    /// The bash script casevault prints (`--generate-completion-script
    /// bash`, `make install`): swift-argument-parser's, with its candidates
    /// from the vault no longer passed through `compgen -W` nor inserted
    /// under `complete -o filenames`. compgen expands them, and readline,
    /// quoting a "file name" as it inserts it, leaves `$`, `` ` `` and a
    /// leading `~` unquoted and appends `/` to a name that is a folder here:
    /// a document named ``Risk`cmd` `` ran `cmd` when the line was entered.
    /// Here each candidate (spelt as a bash word, `bashWord`) is taken back
    /// to the name without any expansion, kept when it starts with what was
    /// typed, and put on the line quoted by `printf %q`, with readline's
    /// file-name handling off. Nil when the generated script is not the
    /// one this patches (a new swift-argument-parser): the caller refuses
    /// rather than print a script that may be unsafe.
    static func bashScript(_ generated: String) -> String? {
        let call = #"__casevault_add_completions -W "$(__casevault_custom_complete"#
        guard generated.contains(call), generated.contains("\ncomplete -o filenames -F _casevault casevault"),
              !generated.contains("__casevault_add_vault_completions"), !generated.contains("__casevault_unescape") else { return nil }
        let function = #"""

            # A word with its backslash escapes taken off, into the variable named by $2.
            __casevault_unescape() {
                local word='' i c
                for (( i = 0; i < ${#1}; i++ )); do
                    c="${1:i:1}"
                    if [[ "${c}" == '\' ]]; then
                        (( i++ ))
                        c="${1:i:1}"
                    fi
                    word+="${c}"
                done
                printf -v "${2}" '%s' "${word}"
            }

            # casevault: candidates read from the vault, names others chose. Each
            # comes spelt as a bash word; it is taken back to the name by hand
            # (no eval, no expansion) and offered quoted by printf %q, with
            # readline's file-name quoting (which leaves $ and ` alone) off.
            __casevault_add_vault_completions() {
                local line name quoted typed
                compopt +o filenames 2>/dev/null
                # The word typed so far with its backslash escapes taken off.
                __casevault_unescape "${cur}" typed
                while IFS='' read -r line; do
                    __casevault_unescape "${line}" name
                    [[ -n "${name}" ]] || continue
                    printf -v quoted '%q' "${name}"
                    if [[ "${quoted}" == "${cur}"* || "${name}" == "${typed}"* ]]; then
                        COMPREPLY+=("${quoted}")
                    fi
                done <<< "${1}"
            }

            """#
        let patched = generated.replacingOccurrences(of: call, with: #"__casevault_add_vault_completions "$(__casevault_custom_complete"#)
        guard let last = patched.range(of: "\ncomplete -o filenames -F _casevault casevault", options: .backwards) else { return nil }
        return String(patched[..<last.lowerBound]) + "\n" + function + String(patched[last.lowerBound...].dropFirst())
    }

    /// A candidate as the script of `shell` takes it. These are names a
    /// records officer chose (a document named `$(…)` or `it's`), and each
    /// shell treats its candidates differently:
    /// - bash: the generated script hands them to `compgen -W`, which
    ///   expands every word (command substitution, parameters, braces,
    ///   tildes, quote removal) and compares what comes out with the word
    ///   being completed, its quoting taken off. So a name is spelt as a bash
    ///   word (`bashWord`): the expansion gives back the name itself and runs
    ///   nothing, and the script's `complete -o filenames` makes readline
    ///   quote it as it puts it on the command line.
    /// - zsh: `_describe` reads up to the first unescaped `:` as the
    ///   candidate, the rest as its description, and quotes what it inserts.
    /// - fish: each line is a candidate (a tab would start a description;
    ///   names hold none), and fish quotes what it inserts.
    static func shellWord(_ name: String, for shell: CompletionShell?) -> String {
        switch shell {
        case .bash?: bashWord(name)
        case .zsh?: name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
        default: name
        }
    }

    /// A typed word with its backslash escapes taken off (`a\{b\,` is
    /// `a{b,`): bash puts a candidate on the line as `printf %q` spells it,
    /// which escapes more than `bashWord` does.
    static func unescaped(_ typed: String) -> String {
        var out = "", escaping = false
        for character in typed {
            if character == "\\", !escaping { escaping = true; continue }
            escaping = false
            out.append(character)
        }
        return out
    }

    /// `name` as one bash word that stands for it literally: every ASCII
    /// character but letters, digits and `-_.,+@%/=` behind a backslash.
    /// (Bytes of other characters are never shell syntax.)
    static func bashWord(_ name: String) -> String {
        var word = ""
        for scalar in name.unicodeScalars {
            if scalar.isASCII, !(scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-_.,+@%/=".unicodeScalars.contains(scalar)) {
                word.append("\\")
            }
            word.unicodeScalars.append(scalar)
        }
        return word
    }
}
