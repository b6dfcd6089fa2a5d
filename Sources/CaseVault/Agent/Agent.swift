public import Foundation
internal import CaseVaultCrypto
#if canImport(Glibc)
internal import Glibc
#endif

/// The casevault agent (`casevault unlock`, SECURITY.md §7a): one process per
/// member and vault that holds the member's unwrapped keys in locked memory
/// and, over a Unix socket only the same user may use, signs casevault's
/// messages and opens boxes sealed to the member. The keys never leave it.
public enum Agent {
    /// The folder of agent sockets: `$XDG_RUNTIME_DIR/casevault` (the login
    /// session's own folder, emptied at logout), else `/tmp/casevault-<uid>`;
    /// created mode 0700 and refused unless it is the user's and private.
    public static func folder(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/"), FileSystem.isPrivateFolder(runtime) {
            return runtime + "/casevault"
        }
        return "/tmp/casevault-\(getuid())"
    }

    /// A member's socket in a vault: the folder, then the first 32 hex
    /// digits of the BLAKE2b-256 of `vault id LF staff id` (a Unix socket's
    /// path is limited to 107 bytes), then `.sock`.
    public static func socketPath(vaultID: String, staffID: String,
                                  environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let name = Blake2b.hash(Array("\(vaultID)\n\(staffID)".utf8)).hexString.prefix(32)
        return folder(environment: environment) + "/" + name + ".sock"
    }

    /// The largest frame either side sends: a sealed tier or file key is
    /// 80 bytes, an event a few KiB.
    static let maximumFrame = 1 << 20

    enum Operation: UInt8 {
        case hello = 1, sign = 2, unseal = 3, lock = 4, signMany = 5
    }

    static let ok: UInt8 = 0
    static let refused: UInt8 = 1
    /// What an agent answers to an operation it does not know.
    static let unknownRequest = "unknown request"
    /// The most messages one `signMany` request carries (their 64-byte
    /// signatures fill a frame).
    static let maximumBatch = maximumFrame / 64
}

/// What the agent says of itself, and what `unlock` hands it: the vault
/// and member, their public keys, and the anchor the wrapped keys sealed.
public struct AgentHello: Codable, Equatable, Sendable {
    public var vault: String
    public var staff: String
    public var boxPublicKey: String
    public var signingPublicKey: String
    /// SECURITY.md §4's anchor (hex), for keys wrapped with one.
    public var anchor: String?
}

extension StaffIdentity {
    /// What `casevault unlock` hands to the agent it starts: the hello and
    /// the two secret keys (the 96 bytes SECURITY.md §4 wraps). For keys
    /// unlocked here with a passphrase only.
    func agentHandoff(vaultID: String) throws -> (hello: AgentHello, secrets: SecureBytes) {
        let secrets = try secretKeyMaterial()
        return (AgentHello(vault: vaultID, staff: id, boxPublicKey: keys.boxPublicKey.bytes.hexString,
                           signingPublicKey: keys.signingPublicKey.bytes.hexString, anchor: anchor?.bytes.hexString), secrets)
    }
}

extension Agent {
    /// Starts the agent for an identity unlocked here with its passphrase:
    /// runs `executable arguments…` (casevault's hidden `agent` command) with
    /// a pipe on its standard input, through which it hands over the hello
    /// and the 96 bytes of secret keys (then wipes nothing of its own: the
    /// identity's keys are dropped with it), and waits for the agent's first
    /// line on its standard output: `ready` once it listens, or why not.
    public static func start(_ identity: StaffIdentity, vaultID: String, executable: String, arguments: [String]) throws {
        let (hello, secrets) = try identity.agentHandoff(vaultID: vaultID)
        // The hand-over goes over a socket pair, not a pipe: should the agent
        // end before reading, the write fails (MSG_NOSIGNAL) instead of
        // SIGPIPE killing this process.
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &input) == 0 else {
            throw VaultError.io("cannot start the agent: \(FileSystem.errorText())")
        }
        guard pipe(&output) == 0 else {
            close(input[0]); close(input[1])
            throw VaultError.io("cannot start the agent: \(FileSystem.errorText())")
        }
        for fd in input + output { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(input[0]); close(output[1])
        defer { close(output[0]) }
        guard spawned == 0 else {
            close(input[1])
            throw VaultError.io("cannot start the agent: \(FileSystem.errorText(spawned))")
        }
        do {
            try AgentWire.writeFrame(input[1], Array(try JSONEncoder().encode(hello)))
            try secrets.withUnsafeBytes { try AgentWire.writeAll(input[1], $0) }
        } catch {
            close(input[1])
            throw error
        }
        close(input[1])
        var answer: [UInt8] = []
        var byte: UInt8 = 0
        while answer.count < 4096 {
            let n = read(output[0], &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 || byte == UInt8(ascii: "\n") { break }
            answer.append(byte)
        }
        let line = String(decoding: answer, as: UTF8.self)
        guard line == "ready" else {
            var status: Int32 = 0
            waitpid(child, &status, 0)
            throw VaultError.io(line.isEmpty ? "the agent did not start" : line)
        }
    }

    /// The agent's side of `start`: reads the hello and keys from `input`,
    /// listens, says `ready` (or why not) on `status`, then serves.
    public static func serve(handoff input: Int32, status: Int32, socketPath: String, options: AgentServer.Options) -> AgentServer.Ending? {
        func say(_ line: String) {
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(status, $0.baseAddress, $0.count) }
        }
        ProcessSecrecy.forbidDumpsAndTracing()
        // Pipes and sockets inherited from whoever ran `unlock` (beyond the
        // hand-over on 0 and 1) would stay open for the agent's whole life,
        // and they would wait for its end: close them.
        for name in (try? FileSystem.listDirectory("/proc/self/fd")) ?? [] {
            guard let fd = Int32(name), fd > 2, fd != input, fd != status,
                  let target = FileSystem.linkTarget("/proc/self/fd/" + name),
                  target.hasPrefix("pipe:") || target.hasPrefix("socket:") else { continue }
            close(fd)
        }
        let server: AgentServer
        do {
            var header = [UInt8](repeating: 0, count: 4)
            try header.withUnsafeMutableBytes { try AgentWire.readFully(input, $0, what: "the agent's hand-over") }
            let length = AgentWire.length(header)
            guard length <= 65_536 else { throw VaultError.invalidInput("the agent was handed a bad hello") }
            var body = [UInt8](repeating: 0, count: length)
            try body.withUnsafeMutableBytes { try AgentWire.readFully(input, $0, what: "the agent's hand-over") }
            let hello = try JSONDecoder().decode(AgentHello.self, from: Data(body))
            let secrets = SecureBytes(count: BoxKeyPair.secretKeyLength + SigningKeyPair.secretKeyLength)
            try secrets.withUnsafeMutableBytes { try AgentWire.readFully(input, $0, what: "the agent's hand-over") }
            server = try AgentServer(hello: hello, secrets: secrets, socketPath: socketPath, options: options)
            try server.listen()
        } catch let error as VaultError {
            say(error.message)
            return nil
        } catch {
            say("the agent was handed something it cannot read")
            return nil
        }
        say("ready")
        // Nothing more is said: the one who started it has gone.
        let null = open("/dev/null", O_WRONLY)
        if null >= 0 { dup2(null, status); close(null) }
        return server.serve()
    }

}

extension Vault {
    /// The member's keys from their running agent, checked as `unlock`
    /// checks unwrapped keys: the agent is for this vault and member, the
    /// member has not left, its public keys are the signed ones, it opens a
    /// box sealed to them now, and the anchor it carries is a prefix of
    /// today's log. Nil when no agent listens for them.
    public func unlock(staffID: String, agent socketPath: String) throws -> StaffIdentity? {
        guard let connection = try AgentConnection(path: socketPath) else { return nil }
        let hello = try connection.hello()
        guard hello.vault == config.vaultId, hello.staff == staffID else {
            throw VaultError.integrityFailure("the agent at \(socketPath) holds keys for another vault or member")
        }
        let (record, firstLeaf) = try read { reader, head -> (StaffRecord, [UInt8]) in
            let record = try staffRecord(staffID, reader: reader, head: head)
            if let left = record.left {
                throw VaultError.accessDenied("'\(staffID)' left the staff on \(left.at) (recorded by \(left.by)): their keys no longer unlock this vault; run 'casevault lock'")
            }
            guard let first = try reader.event(seq: 1) else { throw VaultError.integrityFailure("the log has no first event") }
            return (record, LogTree.leafHash(body: first.body, signature: first.signature))
        }
        guard hello.boxPublicKey == record.boxPublicKey, hello.signingPublicKey == record.signingPublicKey,
              let box = try? BoxPublicKey(bytes: Array(hexString: hello.boxPublicKey) ?? []),
              let signing = try? SigningPublicKey(bytes: Array(hexString: hello.signingPublicKey) ?? []) else {
            throw VaultError.integrityFailure("the agent's keys for '\(staffID)' are not their signed public keys; run 'casevault lock' and unlock again")
        }
        let keys = AgentKeys(connection: connection, box: box, signing: signing)
        // Proof of possession: a random secret sealed to the box key must come back.
        let probe = SecureBytes.random(count: 32)
        let opened = try keys.unseal(SealedBox.seal(probe, to: box))
        guard opened.count == 32, opened.withUnsafeBytes({ o in probe.withUnsafeBytes { Array(o) == Array($0) } }) else {
            throw VaultError.integrityFailure("the agent for '\(staffID)' does not hold their keys")
        }
        var anchor: KeyAnchor?
        if let hex = hello.anchor {
            guard let bytes = Array(hexString: hex), let parsed = bytes.withUnsafeBytes({ KeyAnchor(bytes: $0) }) else {
                throw VaultError.integrityFailure("the agent for '\(staffID)' sent a damaged anchor")
            }
            try check(parsed, of: staffID, firstLeaf: firstLeaf)
            anchor = parsed
        }
        let identity = StaffIdentity(member: try StaffMember(record), keys: keys, isAnchored: anchor != nil)
        identity.anchor = anchor
        return identity
    }

    /// Asks a member's agent to end; false when none was running.
    public static func lockAgent(at socketPath: String) throws -> Bool {
        guard let connection = try AgentConnection(path: socketPath) else { return false }
        _ = try connection.request(.lock, [])
        return true
    }
}

/// A member's keys as the agent holds them: every use is a request.
final class AgentKeys: SecretKeys {
    let connection: AgentConnection
    let boxPublicKey: BoxPublicKey
    let signingPublicKey: SigningPublicKey

    init(connection: AgentConnection, box: BoxPublicKey, signing: SigningPublicKey) {
        self.connection = connection
        boxPublicKey = box
        signingPublicKey = signing
    }

    func unseal(_ sealed: [UInt8]) throws -> SecureBytes {
        guard let opened = try connection.requestSecret(.unseal, sealed) else { throw CryptoError.authenticationFailed }
        return opened
    }

    /// The signature is checked before it is used: a signature that does not
    /// verify would otherwise be appended to the log.
    func sign(_ message: [UInt8]) throws -> [UInt8] {
        let signature = try connection.request(.sign, message)
        guard signingPublicKey.isValidSignature(signature, for: message) else {
            throw VaultError.integrityFailure("the agent returned a signature that does not verify")
        }
        return signature
    }

    /// False once the agent refused `signMany` (an agent started by an
    /// older casevault): one request per message from then on. Guarded by
    /// `signsManyLock` (two threads may sign).
    private var signsManyValue = true
    private let signsManyLock = NSLock()
    var signsMany: Bool {
        get { signsManyLock.lock(); defer { signsManyLock.unlock() }; return signsManyValue }
        set { signsManyLock.lock(); signsManyValue = newValue; signsManyLock.unlock() }
    }

    /// Many messages in as few requests as fit a frame (a bulk filing's
    /// group of up to 1,024 events: a few round trips, not 1,024), each signature checked
    /// before it is used.
    func signAll(_ messages: [[UInt8]]) throws -> [[UInt8]] {
        guard messages.count > 1, signsMany else { return try messages.map(sign) }
        var signatures: [[UInt8]] = []
        var start = 0
        while start < messages.count {
            var end = start
            var size = 1 + 4
            while end < messages.count, end - start < Agent.maximumBatch, size + 4 + messages[end].count <= Agent.maximumFrame {
                size += 4 + messages[end].count
                end += 1
            }
            guard end > start + 1 else {
                signatures.append(try sign(messages[start]))
                start += 1
                continue
            }
            var payload = AgentWire.lengthPrefix(end - start)
            payload.reserveCapacity(size)
            for message in messages[start..<end] { payload += AgentWire.lengthPrefix(message.count) + message }
            let answer: [UInt8]
            do {
                answer = try connection.request(.signMany, payload)
            } catch VaultError.accessDenied(let message) where message.hasSuffix(Agent.unknownRequest) {
                signsMany = false
                return try signatures + messages[start...].map(sign)
            }
            guard answer.count == SigningPublicKey.signatureLength * (end - start) else {
                throw VaultError.integrityFailure("the agent returned \(answer.count) bytes for \(end - start) signatures")
            }
            let batch = (start..<end).map { index in
                let offset = (index - start) * SigningPublicKey.signatureLength
                return (message: messages[index], signature: Array(answer[offset..<offset + SigningPublicKey.signatureLength]))
            }
            let key = signingPublicKey
            guard Parallel.map(batch, grain: 16, { key.isValidSignature($0.signature, for: $0.message) }).allSatisfy({ $0 }) else {
                throw VaultError.integrityFailure("the agent returned a signature that does not verify")
            }
            signatures += batch.map(\.signature)
            start = end
        }
        return signatures
    }
}

/// A client's connection to an agent.
final class AgentConnection {
    private let fd: Int32
    let path: String
    /// One request and its answer at a time on the socket, whichever
    /// thread asks (a bulk filing prepares on a second thread; today only
    /// the committing one signs, but a frame interleaved with another
    /// would be read as the wrong answer).
    private let exchange = NSLock()
    /// Set when an exchange failed part-way (a timeout, an oversized
    /// answer): bytes of its answer may still be on the socket, and the
    /// next request would read them as its own. Guarded by `exchange`.
    private var broken = false

    /// Nil when nothing listens at `path` (no agent, or one that ended).
    init?(path: String) throws {
        self.path = path
        guard FileSystem.exists(path) else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw VaultError.io("cannot open a socket: \(FileSystem.errorText())") }
        var address = try UnixAddress(path)
        let connected = address.withPointer { connect(fd, $0, $1) }
        guard connected == 0 else {
            let code = errno
            close(fd)
            if code == ECONNREFUSED || code == ENOENT { return nil }
            throw VaultError.io("cannot reach the casevault agent at \(path): \(FileSystem.errorText(code))")
        }
        self.fd = fd
        AgentConnection.setTimeout(fd, seconds: 30)
    }

    deinit { close(fd) }

    static func setTimeout(_ fd: Int32, seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func hello() throws -> AgentHello {
        let bytes = try request(.hello, [])
        guard let hello = try? JSONDecoder().decode(AgentHello.self, from: Data(bytes)) else {
            throw VaultError.integrityFailure("the casevault agent at \(path) did not answer as one")
        }
        return hello
    }

    /// A request whose answer is not secret (a hello, a signature).
    func request(_ operation: Agent.Operation, _ payload: [UInt8]) throws -> [UInt8] {
        let (status, body) = try exchanging {
            try send(operation, payload)
            let (status, length) = try readHeader()
            var body = [UInt8](repeating: 0, count: length)
            try body.withUnsafeMutableBytes { try AgentWire.readFully(fd, $0, what: "the agent's answer") }
            return (status, body)
        }
        guard status == Agent.ok else {
            throw VaultError.accessDenied("the casevault agent refused: \(String(decoding: body, as: UTF8.self))")
        }
        return body
    }

    /// A request whose answer is secret (an opened box): read straight into
    /// wiped memory. Nil when the agent could not open it.
    func requestSecret(_ operation: Agent.Operation, _ payload: [UInt8]) throws -> SecureBytes? {
        try exchanging {
            try send(operation, payload)
            let (status, length) = try readHeader()
            let body = SecureBytes(count: length)
            try body.withUnsafeMutableBytes { try AgentWire.readFully(fd, $0, what: "the agent's answer") }
            return status == Agent.ok ? body : nil
        }
    }

    /// One whole exchange under the lock; a failure part-way leaves the
    /// connection unusable rather than out of step.
    private func exchanging<T>(_ body: () throws -> T) throws -> T {
        exchange.lock()
        defer { exchange.unlock() }
        guard !broken else { throw VaultError.io("the connection to the casevault agent at \(path) failed earlier in this command") }
        do { return try body() } catch {
            broken = true
            throw error
        }
    }

    private func send(_ operation: Agent.Operation, _ payload: [UInt8]) throws {
        try AgentWire.writeFrame(fd, [operation.rawValue] + payload)
    }

    private func readHeader() throws -> (status: UInt8, length: Int) {
        var header = [UInt8](repeating: 0, count: 5)
        try header.withUnsafeMutableBytes { try AgentWire.readFully(fd, $0, what: "the agent's answer") }
        let length = AgentWire.length(header[1..<5])
        guard length <= Agent.maximumFrame else { throw VaultError.integrityFailure("the casevault agent sent an oversized answer") }
        return (header[0], length)
    }
}

/// Frames on the agent's socket: a request is a 4-byte big-endian length,
/// then that many bytes (an operation byte and its payload); an answer is a
/// status byte (0 done, 1 refused), a 4-byte length and that many bytes.
enum AgentWire {
    static func writeFrame(_ fd: Int32, _ bytes: [UInt8]) throws {
        try writeAll(fd, lengthPrefix(bytes.count) + bytes)
    }

    /// A frame's 4-byte big-endian length.
    static func lengthPrefix(_ count: Int) -> [UInt8] {
        let count = UInt32(count)
        return [UInt8(count >> 24), UInt8(count >> 16 & 0xff), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)]
    }

    /// The length a 4-byte big-endian prefix gives.
    static func length(_ prefix: some Collection<UInt8>) -> Int {
        prefix.reduce(0) { $0 << 8 | Int($1) }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0) }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw VaultError.io("the casevault agent's connection broke: \(FileSystem.errorText())") }
            offset += n
        }
    }

    static func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        var offset = 0
        while offset < buffer.count {
            let n = read(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw VaultError.io("\(what) was cut short (the casevault agent ended, or took too long)") }
            offset += n
        }
    }
}

/// `sockaddr_un` for a path.
struct UnixAddress {
    private var storage = sockaddr_un()

    init(_ path: String) throws {
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard bytes.count < capacity else {
            throw VaultError.invalidInput("the agent socket path \(path) is longer than \(capacity - 1) bytes; set XDG_RUNTIME_DIR to a shorter folder")
        }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
    }

    mutating func withPointer<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
