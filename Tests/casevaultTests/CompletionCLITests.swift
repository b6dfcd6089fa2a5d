import Foundation
import Testing

/// Shell completion offers document names a records officer chose. The
/// generated bash script passes candidates through `compgen -W`, which
/// expands them: a document named `$(…)` once ran its command in the shell
/// of whoever pressed TAB. Here bash completes, as it does at a prompt, in a
/// folder where any command the names hold would leave a file.
@Suite struct CompletionCLITests {
    static let hostile = ["Visit $(touch PWNED)", "Visit `touch PWNED2`", "Risk`touch PWNED3`", "it's", "a{b,c}", "${HOME} notes", "~root",
                          "$HOME", "z$HOME", "Pro$_", "$((1+2))", "Docs", "Care plan", "x:y", "semi;colon & amp", "back\\slash",
                          "glob*?[ab]", "Hangul 한글 رسالة", "say \"hi\"", "bang!", "#hash"]

    @Test func bashOffersHostileNamesAsTheyAreAndRunsNothing() throws {
        guard FileManager.default.isExecutableFile(atPath: "/bin/bash") else { return }
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        let doc = p.scratch.write("doc.txt", "a note\n")
        for name in Self.hostile {
            let filed = try p.cli.run(p.fileArguments(doc, name: name, type: "note"))
            #expect(filed.code == 0, "\(name): \(filed.stderr)")
        }
        // A document named like an option is filed, and never offered (it would be read as one).
        let option = try p.cli.run(["file", "CP-2024-0042"] + p.as("farah") + ["--name=--force", "--type", "note", doc])
        #expect(option.code == 0, "\(option.stderr)")
        let script = try p.cli.run(["--generate-completion-script", "bash"])
        #expect(script.code == 0, "\(script.stderr)")
        _ = p.scratch.write("casevault.bash", script.stdout)
        // casevault's own script: vault candidates never go through compgen -W or readline's file-name quoting.
        #expect(script.stdout.contains("__casevault_add_vault_completions \"$(__casevault_custom_complete ---completion get"))
        #expect(!script.stdout.contains("__casevault_add_completions -W \"$(__casevault_custom_complete"))
        let folder = p.scratch.file("tab")
        try FileManager.default.createDirectory(atPath: folder + "/Docs", withIntermediateDirectories: true)
        // What TAB after `casevault get CP-2024-0042 <typed>` puts on the line (COMPREPLY, inserted as it
        // is), then what the shell makes of each when the line is entered: one word, the name, nothing run.
        func complete(_ typed: String) throws -> [String] {
            let driver = p.scratch.write("complete.sh", #"""
                source "$1"
                cd "$2"
                COMP_WORDS=("$3" get CP-2024-0042 "$4")
                COMP_CWORD=3
                COMP_LINE="$3 get CP-2024-0042 $4"
                COMP_POINT=${#COMP_LINE}
                _casevault
                for word in "${COMPREPLY[@]}"; do
                    eval "set -- $word"
                    printf '%s|%s\n' "$#" "$1"
                done
                """#)
            let completed = try p.cli.run([driver, p.scratch.file("casevault.bash"), folder, CLI.binary.path, typed],
                                          extraEnvironment: ["HOME": p.scratch.path], executable: "/bin/bash")
            #expect(completed.code == 0, "\(completed.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["Docs"], "a name ran a command")
            return completed.stdout.split(separator: "\n").map { line in
                #expect(line.hasPrefix("1|"), "\(line): not one word")
                return String(line.dropFirst(2))
            }
        }
        let all = try complete("")
        #expect(all.sorted() == Self.hostile.sorted(), "\(all)")
        // What was typed, as bash spells it, narrows the list: the next TAB after "Visit\ " goes on.
        #expect(try complete(#"Visit\ "#).sorted() == ["Visit $(touch PWNED)", "Visit `touch PWNED2`"])
        #expect(try complete(#"Visit\ \$"#) == ["Visit $(touch PWNED)"])
        #expect(try complete(#"it\'"#) == ["it's"])
        #expect(try complete("Care") == ["Care plan"])
        #expect(try complete("Do") == ["Docs"])
        // What bash put on the line for a common beginning (printf %q escapes ',' too) narrows as well.
        #expect(try p.cli.run(p.fileArguments(doc, name: "a{b,d}", type: "note")).code == 0)
        #expect(try complete(#"a\{b\,"#).sorted() == ["a{b,c}", "a{b,d}"])
    }

    /// However the script is asked for, casevault prints it: the argument
    /// parser's own bash script (compgen -W, -o filenames) never comes out.
    @Test(arguments: [["--generate-completion-script"], ["--generate-completion-script", "bash"], ["--generate-completion-script=bash"],
                      ["--generate-completion-script", "--", "bash"], ["--generate-completion-script=bash", "--version"],
                      ["--version", "--generate-completion-script=bash"], ["--generate-completion-script", "bash", "--help"]])
    func everyWayOfAskingForTheBashScriptGivesCasevaultsOwn(_ arguments: [String]) throws {
        let scratch = Scratch()
        let cli = CLI(scratch: scratch.path)
        let result = try cli.run(arguments, extraEnvironment: ["SHELL": "/bin/bash"])
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stdout.contains("__casevault_add_vault_completions") && !result.stdout.contains("__casevault_add_completions -W \"$(__casevault_custom_complete"))
        let zsh = try cli.run(["--generate-completion-script", "zsh"], extraEnvironment: ["SHELL": "/bin/bash"])
        #expect(zsh.code == 0 && zsh.stdout.hasPrefix("#compdef casevault"))
        // After `--` it is a value (a document's name), not a request for the script.
        let value = try cli.run(["history", "CP-2024-0042", "--", "--generate-completion-script"], extraEnvironment: ["SHELL": "/bin/bash"])
        #expect(value.code != 0 && !value.stdout.contains("complete -F") && !value.stdout.contains("_casevault()"), "\(value.stdout)")
    }

    /// A shell casevault makes no script for, named or the login shell's:
    /// refused with its usage code, nothing printed.
    @Test func aShellWithoutAScriptIsRefused() throws {
        let scratch = Scratch()
        let cli = CLI(scratch: scratch.path)
        for (arguments, shell) in [(["--generate-completion-script", "powershell"], "/bin/bash"), (["--generate-completion-script"], "/bin/sh")] {
            let result = try cli.run(arguments, extraEnvironment: ["SHELL": shell])
            #expect(result.code == 64 && result.stdout.isEmpty, "\(arguments), SHELL=\(shell): \(result.code) \(result.stdout)")
        }
    }

    /// zsh's `_describe` reads a candidate up to its first unescaped colon;
    /// fish takes each line as it is (and quotes what it inserts).
    @Test func zshCandidatesEscapeColonsAndFishCandidatesAreTheNames() throws {
        let p = try CLIProgramme()
        #expect(try p.openCase().code == 0)
        let doc = p.scratch.write("doc.txt", "a note\n")
        for name in ["x:y", "back\\slash", "Visit $(touch PWNED)"] {
            #expect(try p.cli.run(p.fileArguments(doc, name: name, type: "note")).code == 0)
        }
        func candidates(_ shell: String) throws -> [String] {
            let result = try p.cli.run(["---completion", "get", "--", "positional@1", "3", "0", "casevault", "get", "CP-2024-0042", ""],
                                       extraEnvironment: ["SAP_SHELL": shell, "SAP_SHELL_VERSION": "5.9"])
            #expect(result.code == 0, "\(result.stderr)")
            // (The script drops the last line, which the protocol leaves blank.)
            return result.stdout.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        }
        #expect(try candidates("zsh") == ["Visit $(touch PWNED)", "back\\\\slash", "x\\:y"])
        #expect(try candidates("fish") == ["Visit $(touch PWNED)", "back\\slash", "x:y"])
    }
}
