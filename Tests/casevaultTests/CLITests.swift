import CaseVaultSQLite
import Foundation
import Testing

/// End-to-end: the built binary, exact output, exit codes, and nothing left
/// behind by a failed command.
@Suite struct CLITests {
    let scratch = Scratch()
    var cli: CLI { CLI(scratch: scratch.path) }

    /// A vault with admin 'amina' and case manager 'grace'.
    private func makeVault() throws -> (vault: String, cli: CLI) {
        var cli = self.cli
        scratch.write("amina.pw", "amina's long passphrase\n")
        scratch.write("grace.pw", "grace's long passphrase\n")
        let created = try cli.run(["init", "vault", "--admin-id", "amina", "--admin-name", "Amina Yusuf",
                                   "--new-passphrase-file", "amina.pw"])
        #expect(created.code == 0, "\(created.stderr)")
        cli.environment["CASEVAULT_DIR"] = scratch.file("vault")
        let added = try cli.run(["staff", "add", "--as", "amina", "--passphrase-file", "amina.pw",
                                 "--id", "grace", "--name", "Grace Otieno", "--role", "case-manager",
                                 "--new-passphrase-file", "grace.pw"])
        #expect(added.code == 0, "\(added.stderr)")
        #expect(added.stdout == "Added case manager 'grace' (Grace Otieno).\n")
        return (scratch.file("vault"), cli)
    }

    /// Tables pad by terminal columns: a name with emoji (two UTF-16 units
    /// and two columns each) is shown whole (Foundation's padding counted
    /// UTF-16 units and cut the widest cell short: "Grace 🌸🌸 Otie"), and
    /// the next column lines up on a terminal, where each emoji and each
    /// CJK character takes two columns and a combining accent none.
    @Test func tablesShowNamesWithEmojiWholeAndAligned() throws {
        let (_, cli) = try makeVault()
        scratch.write("rose.pw", "rose's long passphrase\n")
        let added = try cli.run(["staff", "add", "--as", "amina", "--passphrase-file", "amina.pw", "--id", "rose",
                                 "--name", "Rose 🌸🌸 Wanjiru Otieno", "--role", "case-supervisor", "--new-passphrase-file", "rose.pw"])
        #expect(added.code == 0, "\(added.stderr)")
        let listed = try cli.run(["staff", "list"])
        let lines = listed.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains("Rose 🌸🌸 Wanjiru Otieno  case-supervisor") }, "\(listed.stdout)")
        // Rose's name takes 24 columns (22 characters, two of them emoji), so
        // Grace's 12-column name is followed by 12 + 2 spaces; a CJK name of
        // four characters takes 8 columns, and "Zoë" with a combining
        // diaeresis 3.
        #expect(lines.contains { $0.contains("Grace Otieno" + String(repeating: " ", count: 14) + "case-manager") }, "\(listed.stdout)")
        #expect(lines.contains { $0.hasPrefix("ID     NAME" + String(repeating: " ", count: 22) + "ROLE") }, "\(listed.stdout)")
        for (id, name) in [("mei", "李美玲华"), ("zoe", "Zoe\u{0308}")] {
            scratch.write("\(id).pw", "\(id)'s long passphrase\n")
            let added = try cli.run(["staff", "add", "--as", "amina", "--passphrase-file", "amina.pw", "--id", id, "--name", name,
                                     "--role", "case-manager", "--new-passphrase-file", "\(id).pw"])
            #expect(added.code == 0, "\(added.stderr)")
        }
        let again = try cli.run(["staff", "list"]).stdout.split(separator: "\n").map(String.init)
        #expect(again.contains { $0.contains("李美玲华" + String(repeating: " ", count: 24 - 8 + 2) + "case-manager") }, "\(again)")
        #expect(again.contains { $0.contains("Zoe\u{0308}" + String(repeating: " ", count: 24 - 3 + 2) + "case-manager") }, "\(again)")
    }

    /// Every command's help text reads as prose: no backslash left at a
    /// line's end (a `\\` where a multi-line string meant `\`, which
    /// printed a backslash in the middle of a sentence in five commands' help).
    @Test func noHelpTextShowsAStrayBackslash() throws {
        let dump = try cli.run(["--experimental-dump-help"])
        #expect(dump.code == 0)
        let json = try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any]
        var bad: [String] = [], commands = 0
        func walk(_ command: [String: Any], _ path: String) {
            commands += 1
            let texts = [command["abstract"], command["discussion"]].compactMap { $0 as? String }
                + ((command["arguments"] as? [[String: Any]]) ?? []).flatMap { [$0["abstract"], $0["discussion"]].compactMap { $0 as? String } }
            if texts.contains(where: { $0.contains("\\\n") || $0.hasSuffix("\\") }) { bad.append(path) }
            for sub in (command["subcommands"] as? [[String: Any]]) ?? [] { walk(sub, path + " " + (sub["commandName"] as? String ?? "?")) }
        }
        walk(try #require(json?["command"] as? [String: Any]), "casevault")
        #expect(commands > 40)
        #expect(bad.isEmpty, "\(bad)")
    }

    @Test func initPrintsWhatItCreated() throws {
        scratch.write("amina.pw", "amina's long passphrase\n")
        let result = try cli.run(["init", "vault", "--admin-id", "amina", "--admin-name", "Amina Yusuf",
                                  "--new-passphrase-file", "amina.pw", "--recovery-key-out", "recovery.txt"])
        #expect(result.code == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(lines[0] == "Created vault \(scratch.file("vault"))")
        #expect(lines[1].hasPrefix("  vault id:       ") && UUID(uuidString: String(lines[1].dropFirst(18))) != nil)
        #expect(lines[2] == "  key derivation: Argon2id, 1 passes, 8 KiB")
        #expect(lines[3] == "  format:         3 (objects named by BLAKE3)")
        #expect(lines[4] == "  admin:          amina (Amina Yusuf)")
        #expect(lines[5] == "  recovery key:   recovery.txt (move it offline now; it opens every case)")
        #expect(result.stderr == "casevault: warning: CASEVAULT_INSECURE_TEST_KDF=1: creating a vault with test-only key derivation\n")
        #expect(FileManager.default.fileExists(atPath: scratch.file("recovery.txt")))

        // Format 2, for an office that must still send cases to vaults of format 2; nothing else.
        let two = try cli.run(["init", "old-office", "--id", "amina", "--name", "Amina Yusuf", "--new-passphrase-file", "amina.pw",
                               "--vault-format", "2"])
        #expect(two.code == 0 && two.stdout.contains("  format:         2 (objects named by BLAKE2b)\n"), "\(two.stderr)")
        let config = try String(contentsOfFile: scratch.file("old-office/casevault.json"), encoding: .utf8)
        #expect(config.contains("\"formatVersion\" : 2"))
        for bad in ["1", "4", "three"] {
            let refused = try cli.run(["init", "bad-\(bad)", "--vault-format", bad])
            #expect(refused.code == 64 && !FileManager.default.fileExists(atPath: scratch.file("bad-\(bad)")), "\(refused.stderr)")
        }
    }

    @Test func staffListShowsMembersAsATableAndAsJSON() throws {
        let (_, cli) = try makeVault()
        let table = try cli.run(["staff", "list"])
        #expect(table.code == 0)
        let rows = table.stdout.split(separator: "\n").map(String.init)
        #expect(rows.count == 3)
        #expect(rows[0].hasPrefix("ID     NAME          ROLE          ADDED"))
        #expect(rows[1].hasPrefix("amina  Amina Yusuf   admin         20"))
        #expect(rows[2].hasPrefix("grace  Grace Otieno  case-manager  20"))
        let json = try cli.run(["staff", "list", "--json"])
        let members = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        #expect(members.map { $0["id"] as? String } == ["amina", "grace"])
        #expect(members.map { $0["role"] as? String } == ["admin", "case-manager"])
        #expect(members.allSatisfy { ($0["boxPublicKey"] as? String)?.count == 64 })
    }

    @Test func aWrongPassphraseExits80AndChangesNothing() throws {
        let (_, cli) = try makeVault()
        let before = try cli.run(["staff", "list", "--json"]).stdout
        scratch.write("wrong.pw", "Amina's long passphrase\n")
        scratch.write("new.pw", "a new member's passphrase\n")
        let result = try cli.run(["staff", "add", "--as", "amina", "--passphrase-file", "wrong.pw",
                                  "--id", "ro", "--name", "Records Officer", "--role", "records-officer",
                                  "--new-passphrase-file", "new.pw"])
        #expect(result.code == 80)
        #expect(result.stdout == "")
        #expect(result.errors == """
            casevault: error: wrong passphrase for staff member 'amina'
            hint: passphrases are case-sensitive; a lost passphrase cannot be recovered, ask an admin to re-issue access

            """)
        #expect(try cli.run(["staff", "list", "--json"]).stdout == before)
    }

    @Test func refusalsHaveTheirOwnExitCodes() throws {
        let (_, cli) = try makeVault()
        scratch.write("new.pw", "a new member's passphrase\n")
        let add = ["staff", "add", "--id", "ro", "--name", "Records Officer", "--role", "records-officer",
                   "--new-passphrase-file", "new.pw"]

        let unknown = try cli.run(add + ["--as", "nobody", "--passphrase-file", "new.pw"])
        #expect(unknown.code == 66)
        #expect(unknown.errors == "casevault: error: no staff member with id 'nobody'\n")

        let notAdmin = try cli.run(add + ["--as", "grace", "--passphrase-file", "grace.pw"])
        #expect(notAdmin.code == 77)
        #expect(notAdmin.errors == "casevault: error: access denied: only an admin may add staff; 'grace' is a case manager\n")

        let noActor = try cli.run(add)
        #expect(noActor.code == 64)
        #expect(noActor.errors == "casevault: error: no acting staff member given\nhint: pass --as ID or set CASEVAULT_STAFF\n")

        scratch.write("short.pw", "too short\n")
        let weak = try cli.run(["staff", "add", "--as", "amina", "--passphrase-file", "amina.pw", "--id", "ro",
                                "--name", "Records Officer", "--role", "records-officer", "--new-passphrase-file", "short.pw"])
        #expect(weak.code == 65)
        #expect(weak.errors == "casevault: error: a new passphrase must be at least 12 characters long\n")

        let duplicate = try cli.run(["staff", "add", "--as", "amina", "--passphrase-file", "amina.pw", "--id", "grace",
                                     "--name", "Grace Again", "--role", "auditor", "--new-passphrase-file", "new.pw"])
        #expect(duplicate.code == 73)

        let badRole = try cli.run(["staff", "add", "--as", "amina", "--passphrase-file", "amina.pw", "--id", "ro",
                                   "--name", "R", "--role", "boss", "--new-passphrase-file", "new.pw"])
        #expect(badRole.code == 64)
        #expect(badRole.stderr.contains("The value 'boss' is invalid for '--role <role>': use one of: records-officer, case-manager"))

        #expect(try cli.run(["staff", "list", "--json"]).stdout.components(separatedBy: "\"id\"").count == 3)
    }

    @Test(.enabled(if: CLI.setsid != nil, "setsid(1) is needed to run without a terminal"))
    func withoutAPassphraseSourceOrTerminalItSaysWhatToDo() throws {
        let (_, cli) = try makeVault()
        let result = try cli.run(["staff", "passwd", "--as", "grace"])
        #expect(result.code == 64)
        #expect(result.errors == """
            casevault: error: no passphrase given and no terminal to ask on
            hint: pass --passphrase-file FILE (or set CASEVAULT_PASSPHRASE_FILE); new passphrases take --new-passphrase-file FILE

            """)
    }

    @Test func passwdTakesTheEnvironmentsPassphraseFile() throws {
        let (_, cli) = try makeVault()
        scratch.write("grace2.pw", "grace's second passphrase\n")
        let changed = try cli.run(["staff", "passwd", "--new-passphrase-file", "grace2.pw"],
                                  extraEnvironment: ["CASEVAULT_STAFF": "grace", "CASEVAULT_PASSPHRASE_FILE": scratch.file("grace.pw")])
        #expect(changed.code == 0)
        #expect(changed.stdout == "Passphrase changed for 'grace'.\n")
        let old = try cli.run(["staff", "passwd", "--as", "grace", "--passphrase-file", "grace.pw", "--new-passphrase-file", "grace2.pw"])
        #expect(old.code == 80)
    }

    @Test func vaultsThatAreNotThereOrTooNewAreNamed() throws {
        let missing = try cli.run(["staff", "list", "--vault", "nowhere"])
        #expect(missing.code == 66)
        #expect(missing.errors == "casevault: error: no vault at \(scratch.file("nowhere"))\n")

        let notAVault = try cli.run(["staff", "list", "--vault", "."])
        #expect(notAVault.code == 66)
        #expect(notAVault.errors.hasPrefix("casevault: error: \(scratch.path) is not a casevault vault\nhint: create one with"))

        let noVault = try cli.run(["staff", "list"])
        #expect(noVault.code == 64)
        #expect(noVault.errors == "casevault: error: no vault given\nhint: pass --vault PATH or set CASEVAULT_DIR\n")

        let (vault, cli) = try makeVault()
        let config = vault + "/casevault.json"
        let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "\"formatVersion\" : 3", with: "\"formatVersion\" : 7")
        try text.write(toFile: config, atomically: false, encoding: .utf8)
        let newer = try cli.run(["staff", "list"])
        #expect(newer.code == 78)
        #expect(newer.errors == """
            casevault: error: this vault has format version 7; this casevault reads up to version 3
            hint: upgrade casevault before opening this vault

            """)
    }

    @Test func initRefusesToOverwriteAndLeavesNothingWhenItFails() throws {
        scratch.write("amina.pw", "amina's long passphrase\n")
        scratch.write("recovery.txt", "an older key\n")
        let result = try cli.run(["init", "vault", "--admin-id", "amina", "--admin-name", "Amina Yusuf",
                                  "--new-passphrase-file", "amina.pw", "--recovery-key-out", "recovery.txt"])
        #expect(result.code == 73)
        #expect(result.errors.hasPrefix("casevault: error: \(scratch.file("recovery.txt")) already exists"))
        #expect(scratch.listing() == ["amina.pw", "recovery.txt", "tmp"])
        #expect(try String(contentsOfFile: scratch.file("recovery.txt"), encoding: .utf8) == "an older key\n")

        let halfOptions = try cli.run(["init", "vault", "--admin-id", "amina"])
        #expect(halfOptions.code == 64)
        #expect(halfOptions.stderr.contains("--id and --name (the first admin's) go together"))
        #expect(scratch.listing() == ["amina.pw", "recovery.txt", "tmp"])
    }

    @Test func aVaultMadeWithoutAnAdminTakesItsFirstAdminWithoutActor() throws {
        var cli = self.cli
        let created = try cli.run(["init", "vault"])
        #expect(created.code == 0)
        let initOutput = created.stdout
        cli.environment["CASEVAULT_DIR"] = scratch.file("vault")
        #expect(try cli.run(["staff", "list"]).stdout == "No staff yet. Add the first admin with 'casevault staff add --role admin'.\n")
        scratch.write("root.pw", "root admin passphrase\n")
        let unchecked = try cli.run(["staff", "add", "--id", "root", "--name", "Root Admin", "--role", "admin",
                                     "--new-passphrase-file", "root.pw"])
        #expect(unchecked.code == 64)
        #expect(unchecked.errors.hasPrefix("casevault: error: the first admin signs this vault's settings; give --settings-fingerprint"))
        let printed = try #require(initOutput.split(separator: "\n").first { $0.contains("settings fingerprint:") })
        let given = String(printed.split(separator: " ")[2])
        // The refusal does not hand out the fingerprint of the file as it now is.
        #expect(!unchecked.errors.contains(given) && !unchecked.stdout.contains(given))
        // A casevault.json edited before the first admin signs it is refused.
        let config = scratch.file("vault/casevault.json")
        let original = try String(contentsOfFile: config, encoding: .utf8)
        try original.replacingOccurrences(of: "\"project-director\"", with: "\"records-officer\"")
            .write(toFile: config, atomically: false, encoding: .utf8)
        let tampered = try cli.run(["staff", "add", "--id", "root", "--name", "Root Admin", "--role", "admin",
                                    "--new-passphrase-file", "root.pw", "--settings-fingerprint", given])
        #expect(tampered.code == 81)
        try original.write(toFile: config, atomically: false, encoding: .utf8)
        let first = try cli.run(["staff", "add", "--id", "root", "--name", "Root Admin", "--role", "admin",
                                 "--new-passphrase-file", "root.pw", "--settings-fingerprint", given])
        #expect(first.code == 0, "\(first.stderr)")
        let second = try cli.run(["staff", "add", "--id", "other", "--name", "Other", "--role", "admin",
                                  "--new-passphrase-file", "root.pw"])
        #expect(second.code == 64)  // now an acting admin is required
    }

    @Test func parseErrorsUseTheHouseFormat() throws {
        let unknown = try cli.run(["staff", "list", "--colour"])
        #expect(unknown.code == 64)
        #expect(unknown.stderr.hasPrefix("casevault: error: Unknown option '--colour'\n"))
        #expect(unknown.stderr.contains("Usage: casevault staff list"))
        #expect(try cli.run(["--version"]).stdout == "0.2.0\n")
    }

    /// Issue 12: --version is the program's version only; a document's version is
    /// a positional argument, 2 or v2, the same in get, withdraw, diff and schema show.
    @Test func versionIsNeverTwoThings() throws {
        for command in [["get"], ["withdraw"], ["diff"], ["schema", "show"], ["history"]] {
            let help = try cli.run(command + ["--help"])
            #expect(help.code == 0)
            #expect(!help.stdout.contains("--version <"), "\(command) still takes --version N")
        }
        #expect(try cli.run(["get", "--help"]).stdout.contains("<number> <name> [<version>]"))
        let asked = try cli.run(["get", "--version"])
        #expect(asked.code == 0 && asked.stdout == "0.2.0\n", "\(asked.stdout)\(asked.stderr)")
        let bad = try cli.run(["get", "CP-2024-0042", "Intake form", "version-two"])
        #expect(bad.code == 64 && bad.stderr.contains("version-two"), "\(bad.stderr)")
        #expect(try cli.run(["withdraw", "CP-2024-0042", "Intake form", "v0", "--reason", "x"]).code == 64)
    }

    @Test func helpDescribesTheCommands() throws {
        let help = try cli.run(["staff", "add", "--help"])
        #expect(help.code == 0)
        for option in ["--vault <path>", "--as <id>", "--passphrase-file <file>", "--id <id>", "--name <name>",
                       "--role <role>", "--new-passphrase-file <file>"] {
            #expect(help.stdout.contains(option), "help lacks \(option)")
        }
        let root = try cli.run(["--help"])
        #expect(root.stdout.contains("init") && root.stdout.contains("staff"))
    }

    @Test func passphrasesNeverReachTheVaultOrTheTempFolder() throws {
        let (vault, _) = try makeVault()
        for passphrase in ["amina's long passphrase", "grace's long passphrase"] {
            #expect(anyFile(under: vault, contains: passphrase) == nil)
            #expect(anyFile(under: scratch.file("tmp"), contains: passphrase) == nil)
        }
    }
}
