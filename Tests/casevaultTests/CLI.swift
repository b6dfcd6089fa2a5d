import CaseVault
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `casevault` binary as a user would.
struct CLI {
    struct Result {
        var code: Int32
        var stdout: String
        var stderr: String
        /// stdout as bytes, for binary content.
        var output: Data = Data()
        /// stderr without the test-only key-derivation warnings.
        var errors: String {
            stderr.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("casevault: warning:") }.joined(separator: "\n")
        }
    }

    static let binary: URL = {
        if let override = ProcessInfo.processInfo.environment["CASEVAULT_BINARY"] {
            return URL(fileURLWithPath: override)
        }
        // The test runner sits in the same build folder as the product.
        return Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("casevault")
    }()

    /// setsid(1) runs the child without a controlling terminal, so a test
    /// that forgets a passphrase file fails instead of waiting at a prompt.
    static let setsid = ["/usr/bin/setsid", "/bin/setsid"].first { FileManager.default.isExecutableFile(atPath: $0) }

    let home: String
    var environment: [String: String]

    init(scratch: String) {
        home = scratch
        environment = [
            "PATH": "/usr/bin:/bin",
            "HOME": scratch,
            "TMPDIR": scratch + "/tmp",
            "CASEVAULT_INSECURE_TEST_KDF": "1",
        ]
        try? FileManager.default.createDirectory(atPath: scratch + "/tmp", withIntermediateDirectories: true)
    }

    /// Starts the binary itself (no setsid wrapper, so a signal reaches it)
    /// and returns the running process.
    func start(_ arguments: [String], output: FileHandle = FileHandle.nullDevice) throws -> Process {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: home)
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs the command to its end; after `timeout` seconds it is killed
    /// (and its exit code is then the signal's), so a command that would wait
    /// for ever fails the test instead of hanging it.
    @discardableResult
    func run(_ arguments: [String], extraEnvironment: [String: String] = [:], executable: String? = nil,
             timeout: TimeInterval = 300) throws -> Result {
        let process = Process()
        if let executable {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else if let setsid = Self.setsid {
            process.executableURL = URL(fileURLWithPath: setsid)
            process.arguments = ["--wait", Self.binary.path] + arguments
        } else {
            process.executableURL = Self.binary
            process.arguments = arguments
        }
        process.environment = environment.merging(extraEnvironment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: home)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The watchdog holds the process weakly: a cancelled work item stays queued until its
        // deadline, and a strong capture kept every finished Process (its pipes and the socket
        // pair Foundation makes) open for `timeout` seconds; a full run then held some 2,000
        // descriptors, past the 1,024 that Foundation's Process.run handles, and crashed it.
        let watchdog = DispatchWorkItem { [weak process] in
            if let process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(code: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self), output: stdout)
    }
}

final class Scratch {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "casevault-cli-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        try! text.write(toFile: file(name), atomically: false, encoding: .utf8)
        return file(name)
    }

    func listing() -> [String] {
        ((FileManager.default.enumerator(atPath: path)?.allObjects as? [String]) ?? []).sorted()
    }
}

/// True when `needle` occurs in any regular file under `root`.
func anyFile(under root: String, contains needle: String) -> String? {
    guard let names = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] else { return nil }
    for name in names {
        guard let data = FileManager.default.contents(atPath: root + "/" + name) else { continue }
        if data.range(of: Data(needle.utf8)) != nil { return name }
    }
    return nil
}

/// A command's `--json` output held to its documented shape,
/// `Schemas/cli/<schema>.schema.json`, by casevault's own JSON Schema
/// validator with formats asserted; `lines` for JSON Lines (each line one
/// instance). Returns the parsed instances.
@discardableResult
func expectShape(_ result: CLI.Result, schema name: String, lines: Bool = false,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> [JSONValue] {
    #expect(result.code == 0, "\(name): \(result.stderr)", sourceLocation: sourceLocation)
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Schemas/cli/\(name).schema.json").standardized
    let validator = try SchemaValidator(schema: try JSONValue(parsing: Array(try Data(contentsOf: url))))
    let texts = lines ? result.stdout.split(separator: "\n").map(String.init) : [result.stdout]
    #expect(!texts.isEmpty, "\(name): no output", sourceLocation: sourceLocation)
    return try texts.map { text in
        let instance = try JSONValue(parsing: Array(text.utf8))
        let problems = validator.validate(instance)
        #expect(problems.isEmpty, "\(name): \(problems.prefix(5).map(\.description)) in \(text.prefix(400))", sourceLocation: sourceLocation)
        return instance
    }
}
