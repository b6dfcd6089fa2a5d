import Foundation
import Testing

/// Issue 12, item 4: finding cases, by a misspelt client name among them,
/// with no client name anywhere in the vault folder.
@Suite struct FindCLITests {
    func open(_ p: CLIProgramme, client: Int, name: String? = nil) throws {
        var arguments = ["case", "open"] + p.as("halima") + ["--category", "CP", "--admitted", "2024", "--client", "\(client)",
                                                            "--manager", "grace", "--supervisor", "halima"]
        if let name { arguments += ["--client-name", name] }
        let opened = try p.cli.run(arguments)
        #expect(opened.code == 0 && opened.errors.isEmpty, "\(opened.stderr)")
    }

    @Test func aMisspeltClientNameFindsTheCaseAndGrepFindsNoName() throws {
        let p = try CLIProgramme()
        try open(p, client: 1, name: "Zainab Wairimu Ochieng")
        try open(p, client: 2)
        try open(p, client: 3)
        let named = try p.cli.run(["case", "name", "CP-2024-0002", "Fatuma Hassan Abdullahi"] + p.as("farah"))
        #expect(named.code == 0, "\(named.stderr)")
        #expect(named.stdout == "Indexed the client's name of CP-2024-0002 (only keyed tokens are kept).\n")

        let found = try p.cli.run(["find", "--name", "Zeinab Ochieng"] + p.as("grace"))
        #expect(found.code == 0, "\(found.stderr)")
        let lines = found.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].split(separator: " ").joined(separator: " ") == "CASE STATUS MANAGER SUPERVISOR OPENED NAME MATCH",
                "\(found.stdout)")
        let cells = lines.last?.split(separator: " ").map(String.init) ?? []
        #expect(cells.count == 7 && cells[0...3] == ["CP-2024-0001", "O", "grace", "halima"] && cells[5...6] == ["as", "spelt"], "\(cells)")
        // A slip of one letter, and another transliteration, by the records officer.
        let slip = try p.cli.run(["find", "--name", "Fatima Husein Abdulahi", "--json"] + p.as("farah"))
        let rows = try JSONSerialization.jsonObject(with: Data(slip.stdout.utf8)) as? [[String: Any]]
        #expect(rows?.map { $0["number"] as? String } == ["CP-2024-0002"], "\(slip.stdout) \(slip.stderr)")
        let nobody = try p.cli.run(["find", "--name", "Halima"] + p.as("grace"))
        #expect(nobody.code == 0 && nobody.stdout.hasPrefix("No case matches"))

        // No client name, in any case or spelling, in any file of the vault folder.
        for needle in ["zainab", "wairimu", "ochieng", "fatuma", "abdullahi", "zeinab"] {
            let grep = try p.cli.run(["-r", "-i", "-a", "-l", needle, p.scratch.file("vault")], executable: "/bin/grep")
            #expect(grep.code == 1 && grep.stdout.isEmpty, "\(needle): \(grep.stdout)")
        }
    }

    @Test func findByNumberLabelAndStaffNeedsNoPassphrase() throws {
        let p = try CLIProgramme()
        for client in 1...3 { try open(p, client: client) }
        let label = try p.cli.run(["find", "--label", "CP · 2024 · 0002 · O", "--json"])
        #expect(label.code == 0, "\(label.stderr)")
        let rows = try JSONSerialization.jsonObject(with: Data(label.stdout.utf8)) as? [[String: Any]]
        #expect(rows?.map { $0["number"] as? String } == ["CP-2024-0002"] && rows?.first?["label"] as? String == "CP-2024-0002 [O]")
        let prefix = try p.cli.run(["find", "--number", "cp-2024-000", "--manager", "grace", "--limit", "2"])
        #expect(prefix.code == 0 && prefix.stdout.split(separator: "\n").count == 3, "\(prefix.stdout)\(prefix.stderr)")
        let closed = try p.cli.run(["find", "--label", "CP-2024-0002 [C]"])
        #expect(closed.code == 0 && closed.stdout == "No cases match.\n")
        let none = try p.cli.run(["find"])
        #expect(none.code == 64 && none.stderr.contains("give at least one of"))
        let bad = try p.cli.run(["find", "--label", "not a label"])
        #expect(bad.code == 64 && bad.stderr.contains("is not a folder label"))
    }

    @Test func namingACaseWithoutASearchRoleOrWithAControlCharacterIsRefused() throws {
        let p = try CLIProgramme()
        try open(p, client: 1)
        let control = try p.cli.run(["case", "name", "CP-2024-0001", "Zainab\u{1B}[2J"] + p.as("farah"))
        #expect(control.code == 65 && control.stderr.contains("control"), "\(control.stderr)")
        let unknown = try p.cli.run(["case", "name", "CP-2024-0009", "Zainab"] + p.as("farah"))
        #expect(unknown.code != 0 && unknown.stderr.contains("CP-2024-0009"))
    }

    /// Slips are named, with what was probably meant: a swapped case number,
    /// a staff id that names no one (not "no cases match").
    @Test func aSlipIsNamedWithWhatWasMeant() throws {
        let p = try CLIProgramme()
        try open(p, client: 42)
        let swapped = try p.cli.run(["case", "show", "CP-2024-0024"])
        #expect(swapped.code == 66 && swapped.errors.contains("no case CP-2024-0024; did you mean 'CP-2024-0042'?"), "\(swapped.stderr)")
        let labels = try p.cli.run(["label", "CP-2024-0024"])
        #expect(labels.code == 66 && labels.errors.contains("did you mean 'CP-2024-0042'?"))
        for command in [["case", "list"], ["find"]] {
            let nobody = try p.cli.run(command + ["--manager", "gracee"])
            #expect(nobody.code == 66 && nobody.errors.contains("no staff member with id 'gracee'; did you mean 'grace'?"), "\(nobody.stderr)")
        }
    }

    /// The name can stay out of the shell's history and the process list
    /// (`-` reads it from standard input); a naming that fails during
    /// `case open` fails the command, though the case stays open.
    @Test func aNameFromStandardInputAndAFailedNamingAtOpening() throws {
        let p = try CLIProgramme()
        try open(p, client: 1)
        let piped = try p.cli.run(["-c", "printf 'Zainab Ochieng\\n' | \"$0\" case name CP-2024-0001 - --as farah --passphrase-file farah.pw",
                                   CLI.binary.path], executable: "/bin/sh")
        #expect(piped.code == 0, "\(piped.stderr)")
        let found = try p.cli.run(["find", "--name", "Zeinab", "--json"] + p.as("grace"))
        #expect(found.stdout.contains("CP-2024-0001"), "\(found.stdout)")
        let empty = try p.cli.run(["-c", "\"$0\" case name CP-2024-0001 - --as farah --passphrase-file farah.pw < /dev/null",
                                   CLI.binary.path], executable: "/bin/sh")
        #expect(empty.code == 64 && empty.stderr.contains("no name on standard input"))
        let opened = try p.cli.run(["case", "open"] + p.as("halima") + ["--category", "CP", "--admitted", "2024", "--client", "2",
                                    "--manager", "grace", "--supervisor", "halima", "--client-name", "Zainab\u{7}"])
        #expect(opened.code == 65 && opened.stderr.contains("the case is open, but its client's name was not indexed"), "\(opened.stderr)")
        #expect(try p.cli.run(["case", "show", "CP-2024-0002"]).code == 0)
    }
}
