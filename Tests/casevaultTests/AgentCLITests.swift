import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 12, item 1: unlock once. The agent holds a member's keys; commands
/// ask it instead of the passphrase; only the same user reaches it; it ends
/// when idle, locked, or its session ends.
@Suite struct AgentCLITests {
    /// A programme whose agents live in a private runtime folder of its own.
    func programme() throws -> CLIProgramme {
        var p = try CLIProgramme()
        let run = p.scratch.file("run")
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(run, 0o700)
        p.cli.environment["XDG_RUNTIME_DIR"] = run
        #expect(try p.openCase().code == 0)
        p.scratch.write("note.txt", "Home visit: all well.\n")
        #expect(try p.cli.run(["file", "CP-2024-0042", "note.txt", "--type", "report", "--name", "First note"] + p.as("farah")).code == 0)
        return p
    }

    func agentFolder(_ p: CLIProgramme) -> String { p.scratch.file("run/casevault") }

    func sockets(_ p: CLIProgramme) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: agentFolder(p))) ?? []).filter { $0.hasSuffix(".sock") }
    }

    /// Agents' process ids, from the process table, for the given socket folder.
    func agentProcesses(_ p: CLIProgramme) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return arguments.count > 2 && arguments[1] == "agent" && arguments.contains { $0.hasPrefix(agentFolder(p)) }
        }
    }

    func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    @Test func unlockOnceThenFileAndReadWithoutThePassphraseUntilLocked() throws {
        let p = try programme()
        defer { _ = try? p.cli.run(["lock", "--all"]) }
        let unlocked = try p.cli.run(["unlock", "--idle", "60s"] + p.as("farah"))
        #expect(unlocked.code == 0, "\(unlocked.stderr) \(unlocked.stdout)")
        #expect(unlocked.stdout == "Unlocked 'farah' (Farah Nasser) in this vault: the agent holds the keys until it has had no request for 1 min, or 'casevault lock'.\n")
        #expect(try p.cli.run(["unlock", "--as", "grace", "--passphrase-file", p.scratch.file("grace.pw")]).code == 0)

        // No passphrase source at all, and no terminal: the agents answer.
        let filed = try p.cli.run(["file", "CP-2024-0042", "note.txt", "--type", "report", "--as", "farah"])
        #expect(filed.code == 0, "\(filed.stderr)")
        let read = try p.cli.run(["get", "CP-2024-0042", "note", "--as", "grace"])
        #expect(read.code == 0 && read.stdout == "Home visit: all well.\n", "\(read.stderr)")
        // The reads it signed are in the log, signed by grace, and verify.
        let log = try p.cli.run(["audit", "log", "--actor", "grace", "--type", "content.read"])
        #expect(log.code == 0 && log.stdout.contains("content.read"))
        #expect(try p.cli.run(["verify"]).code == 0)

        // The socket: the user's own, mode 0600, in a 0700 folder, named by no case or member.
        let folder = try FileManager.default.attributesOfItem(atPath: agentFolder(p))
        #expect(folder[.posixPermissions] as? Int == 0o700 && (folder[.ownerAccountID] as? NSNumber)?.uint32Value == getuid())
        #expect(sockets(p).count == 2)
        for socket in sockets(p) {
            let attributes = try FileManager.default.attributesOfItem(atPath: agentFolder(p) + "/" + socket)
            #expect(attributes[.posixPermissions] as? Int == 0o600)
            #expect(!socket.contains("farah") && !socket.contains("grace"))
        }

        // A passphrase on the command line wins over the agent: a wrong one fails.
        p.scratch.write("wrong.pw", "not farah's passphrase\n")
        let wrong = try p.cli.run(["file", "CP-2024-0042", "note.txt", "--type", "report", "--as", "farah", "--passphrase-file", "wrong.pw"])
        #expect(wrong.code == 80)

        // Locked: gone, and a command asks for the passphrase again (none here).
        let locked = try p.cli.run(["lock", "--as", "farah"])
        #expect(locked.stdout == "Locked: the agent holding 'farah's keys has ended.\n")
        #expect(waitUntil(5) { sockets(p).count == 1 })
        let prompted = try p.cli.run(["file", "CP-2024-0042", "note.txt", "--type", "report", "--as", "farah"])
        #expect(prompted.code == 64 && prompted.errors.contains("no passphrase given and no terminal to ask on"))
        let byFile = try p.cli.run(["file", "CP-2024-0042", "note.txt", "--type", "report"] + p.as("farah"))
        #expect(byFile.code == 0)
        #expect(try p.cli.run(["lock", "--as", "farah"]).stdout == "No agent was holding 'farah's keys for this vault.\n")
    }

    /// A bulk filing through the agent, whose groups of events it signs in
    /// one request each (`signMany`, AgentTests): the log verifies, and
    /// the events are the filer's.
    @Test func aBulkFilingThroughTheAgentIsSignedByTheFiler() throws {
        let p = try programme()
        defer { _ = try? p.cli.run(["lock", "--all"]) }
        #expect(try p.cli.run(["unlock"] + p.as("farah")).code == 0)
        var rows = ["case,path,type,name"]
        for i in 0..<70 {
            p.scratch.write("visit-\(i).txt", "Visit \(i): all well.\n")
            rows.append("CP-2024-0042,visit-\(i).txt,report,Visit \(i)")
        }
        p.scratch.write("batch.csv", rows.joined(separator: "\n") + "\n")
        let filed = try p.cli.run(["file", "--manifest", "batch.csv", "--as", "farah"])
        #expect(filed.code == 0, "\(filed.stderr)")
        let log = try p.cli.run(["audit", "log", "--actor", "farah", "--type", "version.filed", "--json"])
        #expect(log.code == 0 && log.stdout.split(separator: "\n").count == 71)
        let verified = try p.cli.run(["verify"])
        #expect(verified.code == 0, "\(verified.stdout) \(verified.stderr)")
        let read = try p.cli.run(["get", "CP-2024-0042", "Visit 69", "--as", "grace"] + ["--passphrase-file", p.scratch.file("grace.pw")])
        #expect(read.stdout == "Visit 69: all well.\n", "\(read.stderr)")
    }

    /// An audit export signs its bag's statement through the agent (a
    /// review found the agent refusing it: every export after `unlock` failed).
    @Test func anAuditExportThroughTheAgentIsSignedAndVerifies() throws {
        let p = try programme()
        defer { _ = try? p.cli.run(["lock", "--all"]) }
        #expect(try p.cli.run(["unlock"] + p.as("dora")).code == 0)
        let exported = try p.cli.run(["export", "audit", "--out", p.scratch.file("audit.tar"), "--as", "dora"])
        #expect(exported.code == 0, "\(exported.stderr)")
        let verified = try p.cli.run(["audit", "verify-export", p.scratch.file("audit.tar")])
        #expect(verified.code == 0 && verified.stdout.contains("pass  the exporter signed the bag's scope"), "\(verified.stdout) \(verified.stderr)")
    }

    @Test func theAgentEndsWhenIdleAndLeavesNothingSecretBehind() throws {
        let p = try programme()
        defer { _ = try? p.cli.run(["lock", "--all"]) }
        #expect(try p.cli.run(["unlock", "--idle", "2s"] + p.as("grace")).code == 0)
        #expect(agentProcesses(p).count == 1)
        let read = try p.cli.run(["get", "CP-2024-0042", "First note", "--as", "grace"])
        #expect(read.code == 0 && read.stdout == "Home visit: all well.\n", "\(read.stderr)")
        #expect(waitUntil(10) { sockets(p).isEmpty && agentProcesses(p).isEmpty }, "the agent outlived --idle 2s")
        let after = try p.cli.run(["history", "CP-2024-0042"])
        #expect(after.code == 0)
        // Nothing under the scratch folder (vault, state, runtime) holds the
        // passphrase apart from its own file, nor the agent's memory.
        let passphrase = Data("grace long passphrase".utf8)
        let files = (FileManager.default.enumerator(atPath: p.scratch.path)?.allObjects as? [String]) ?? []
        for name in files where name != "grace.pw" {
            if let data = FileManager.default.contents(atPath: p.scratch.file(name)) { #expect(data.range(of: passphrase) == nil, "\(name)") }
        }
    }

    @Test func theAgentEndsWithItsLoginSession() throws {
        let p = try programme()
        defer { _ = try? p.cli.run(["lock", "--all"]) }
        // setsid makes sh lead a new session; unlock runs in it; sh then ends.
        let arguments = ["/bin/sh", "-c", "\"$0\" unlock --as grace --passphrase-file grace.pw --idle 0 && sleep 1", CLI.binary.path]
        let started = try p.cli.run(arguments, executable: "/usr/bin/setsid")
        #expect(started.code == 0, "\(started.stderr)")
        #expect(started.stdout.contains("until your login session ends"))
        #expect(waitUntil(10) { agentProcesses(p).isEmpty && sockets(p).isEmpty }, "the agent outlived its session")
    }

    /// Only the agent's own user reaches it: the folder keeps others out,
    /// and with the folder opened up the agent itself hangs up on them
    /// (their credentials, SO_PEERCRED) without an answer.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                   "needs root, to act as another user with setpriv"))
    func anotherUserIsRefused() throws {
        let p = try programme()
        defer { _ = try? p.cli.run(["lock", "--all"]) }
        #expect(try p.cli.run(["unlock", "--idle", "60s"] + p.as("grace")).code == 0)
        let socket = try #require(sockets(p).first.map { agentFolder(p) + "/" + $0 })
        let probe = """
            import socket, struct, sys
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(sys.argv[1])
            except OSError as e:
                print("refused at connect: %s" % e.strerror); sys.exit(0)
            s.settimeout(5)
            # The agent may hang up before the frame is even sent (EPIPE).
            try:
                s.sendall(struct.pack(">I", 1) + b"\\x01")
                data = s.recv(100)
            except OSError as e:
                data = b""
            print("answered" if data else "hung up")
            """
        func asNobody() throws -> String {
            let run = try p.cli.run(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", probe, socket],
                                    executable: "/usr/bin/setpriv")
            return run.stdout + run.stderr
        }
        #expect(try asNobody().hasPrefix("refused at connect"))
        chmod(p.scratch.path, 0o755); chmod(p.scratch.file("run"), 0o755); chmod(agentFolder(p), 0o755); chmod(socket, 0o666)
        let opened = try asNobody()
        // Hung up on, or (where a parent folder still keeps nobody out) not let in: never answered.
        #expect(opened == "hung up\n" || opened.hasPrefix("refused at connect"), "\(opened)")
        // Put back (a runtime folder others can enter is not used at all).
        chmod(p.scratch.file("run"), 0o700); chmod(agentFolder(p), 0o700)
        // The agent is still there for its own user.
        let read = try p.cli.run(["get", "CP-2024-0042", "First note", "--as", "grace"])
        #expect(read.code == 0 && agentProcesses(p).count == 1, "\(read.stderr)")
    }

    /// An agent at a member's socket that holds someone else's keys is not
    /// believed: the command fails instead of signing as the wrong member.
    @Test func anAgentWithTheWrongKeysIsRefused() throws {
        let p = try programme()
        defer { _ = try? p.cli.run(["lock", "--all"]) }
        #expect(try p.cli.run(["unlock", "--idle", "60s"] + p.as("grace")).code == 0)
        let graces = try #require(sockets(p).first)
        #expect(try p.cli.run(["unlock", "--idle", "60s"] + p.as("farah")).code == 0)
        let farahs = try #require(sockets(p).first { $0 != graces })
        // Grace's agent answers at farah's socket.
        try FileManager.default.removeItem(atPath: agentFolder(p) + "/" + farahs)
        try FileManager.default.moveItem(atPath: agentFolder(p) + "/" + graces, toPath: agentFolder(p) + "/" + farahs)
        let filed = try p.cli.run(["file", "CP-2024-0042", "note.txt", "--type", "report", "--as", "farah"])
        #expect(filed.code == 81 && filed.errors.contains("holds keys for another vault or member"), "\(filed.stderr)")
        let history = try p.cli.run(["history", "CP-2024-0042", "--json"])
        #expect(!history.stdout.contains("\"note\""))
    }
}
