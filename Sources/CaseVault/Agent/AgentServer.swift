public import Foundation
public import CaseVaultCrypto
#if canImport(Glibc)
internal import Glibc
#endif

// Set by a signal handler (which cannot capture context), read by the loop.
nonisolated(unsafe) private var stopSignal: Int32 = 0
private func noteStopSignal(_ number: Int32) { stopSignal = number }

/// The agent's side (SECURITY.md §7a): holds the keys `unlock` handed it and
/// answers requests from processes of the same user until it is locked, idle
/// too long, or the login session it belongs to ends.
public final class AgentServer {
    public struct Options: Sendable {
        /// Seconds without a request after which the agent ends; 0: never.
        public var idle: TimeInterval
        /// The login session's leader: when it is gone, the agent ends.
        public var session: Int32?

        public init(idle: TimeInterval, session: Int32?) {
            self.idle = idle
            self.session = session
        }
    }

    public enum Ending: String, Sendable {
        case locked = "locked", idle = "idle for too long", sessionEnded = "the login session ended", signal = "stopped by a signal"
    }

    private let hello: AgentHello
    private var keys: LocalKeys?
    private let socketPath: String
    private let options: Options
    private var listener: Int32 = -1
    private var clients: [Int32] = []
    private var lastUse = Date()
    private let helloBytes: [UInt8]

    /// `secrets` is the 96 bytes SECURITY.md §4 wraps; they must be the
    /// hello's public keys' secrets.
    public init(hello: AgentHello, secrets: SecureBytes, socketPath: String, options: Options) throws {
        let boxLength = BoxKeyPair.secretKeyLength
        guard secrets.count == boxLength + SigningKeyPair.secretKeyLength else {
            throw VaultError.invalidInput("the agent was handed keys of the wrong length")
        }
        let box = try BoxKeyPair(secretKey: secrets.slice(0..<boxLength))
        let signing = try SigningKeyPair(secretKey: secrets.slice(boxLength..<secrets.count))
        guard box.publicKey.bytes.hexString == hello.boxPublicKey, signing.publicKey.bytes.hexString == hello.signingPublicKey else {
            throw VaultError.invalidInput("the agent was handed keys that are not the member's")
        }
        keys = LocalKeys(box: box, signing: signing)
        self.hello = hello
        self.socketPath = socketPath
        self.options = options
        helloBytes = Array(try JSONEncoder().encode(hello))
    }

    /// Makes the socket: in a folder that is the user's and mode 0700
    /// (created so), refused if an agent already answers there (a stale
    /// socket of one that died is replaced), mode 0600.
    public func listen() throws {
        let folder = String(socketPath[..<socketPath.lastIndex(of: "/")!])
        if !FileSystem.isDirectory(folder) { try FileSystem.makeDirectories(folder, mode: 0o700) }
        guard FileSystem.isPrivateFolder(folder) else {
            throw VaultError.io("the agent folder \(folder) is not private to you (it must be yours and mode 0700)")
        }
        if FileSystem.exists(socketPath) {
            if try AgentConnection(path: socketPath) != nil {
                throw VaultError.alreadyExists("an agent already holds '\(hello.staff)'s keys for this vault; 'casevault lock' ends it")
            }
            FileSystem.remove(socketPath)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw VaultError.io("cannot open a socket: \(FileSystem.errorText())") }
        var address = try UnixAddress(socketPath)
        let previous = umask(0o177)
        let bound = address.withPointer { bind(fd, $0, $1) }
        umask(previous)
        guard bound == 0, chmod(socketPath, 0o600) == 0, Glibc.listen(fd, 16) == 0 else {
            let text = FileSystem.errorText()
            close(fd)
            throw VaultError.io("cannot listen at \(socketPath): \(text)")
        }
        listener = fd
    }

    /// Answers requests until the agent ends; then closes every connection,
    /// removes the socket and drops the keys (sodium_free wipes them).
    public func serve() -> Ending {
        for number in [SIGTERM, SIGINT, SIGHUP] { signal(number, noteStopSignal) }
        signal(SIGPIPE, SIG_IGN)
        let ending = loop()
        for client in clients { close(client) }
        clients = []
        close(listener)
        FileSystem.remove(socketPath)
        keys = nil
        return ending
    }

    private func loop() -> Ending {
        while true {
            if stopSignal != 0 { return .signal }
            if options.idle > 0, Date().timeIntervalSince(lastUse) > options.idle { return .idle }
            if let session = options.session, kill(session, 0) != 0, errno == ESRCH { return .sessionEnded }
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
                + clients.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 1_000)
            guard ready > 0 else { continue }
            for entry in fds.dropFirst() where entry.revents != 0 {
                if let ending = answer(entry.fd) { return ending }
            }
            if fds[0].revents & Int16(POLLIN) != 0 { admit() }
        }
    }

    /// Accepts a connection from a process of this user only (the peer's
    /// credentials, SO_PEERCRED); anyone else's is closed unanswered.
    private func admit() {
        let fd = accept(listener, nil, nil)
        guard fd >= 0 else { return }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var credentials: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: credentials))
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0, Self.admits(peerUID: credentials.uid) else {
            close(fd)
            return
        }
        AgentConnection.setTimeout(fd, seconds: 5)
        clients.append(fd)
    }

    /// Only the agent's own user.
    static func admits(peerUID: UInt32) -> Bool { peerUID == getuid() }

    /// One request from a client; a client that hung up, sent a bad frame
    /// or stalled is dropped.
    private func answer(_ fd: Int32) -> Ending? {
        do {
            var header = [UInt8](repeating: 0, count: 4)
            try header.withUnsafeMutableBytes { try AgentWire.readFully(fd, $0, what: "a request") }
            let length = AgentWire.length(header)
            guard (1...Agent.maximumFrame).contains(length) else { throw VaultError.invalidInput("a bad frame") }
            var body = [UInt8](repeating: 0, count: length)
            try body.withUnsafeMutableBytes { try AgentWire.readFully(fd, $0, what: "a request") }
            lastUse = Date()
            guard let keys, let operation = Agent.Operation(rawValue: body[0]) else {
                try reply(fd, Agent.refused, Array(Agent.unknownRequest.utf8))
                return nil
            }
            let payload = Array(body[1...])
            switch operation {
            case .hello:
                try reply(fd, Agent.ok, helloBytes)
            case .sign:
                guard Self.maySign(payload, vaultID: hello.vault) else {
                    try reply(fd, Agent.refused, Array("the agent signs casevault events, checkpoints of its vault and audit bag statements only (an agent started by an older casevault signs no bag statement: casevault lock, then unlock)".utf8))
                    return nil
                }
                try reply(fd, Agent.ok, try keys.sign(payload))
            case .signMany:
                guard let messages = Self.messages(payload), messages.allSatisfy({ Self.maySign($0, vaultID: hello.vault) }) else {
                    try reply(fd, Agent.refused, Array("the agent signs casevault events, checkpoints of its vault and audit bag statements only, in a well-formed batch".utf8))
                    return nil
                }
                var signatures: [UInt8] = []
                signatures.reserveCapacity(64 * messages.count)
                for message in messages { signatures += try keys.sign(message) }
                try reply(fd, Agent.ok, signatures)
            case .unseal:
                if let opened = try? keys.unseal(payload) {
                    try opened.withUnsafeBytes { try replySecret(fd, $0) }
                } else {
                    try reply(fd, Agent.refused, [])
                }
            case .lock:
                try reply(fd, Agent.ok, [])
                return .locked
            }
        } catch {
            close(fd)
            clients.removeAll { $0 == fd }
        }
        return nil
    }

    /// A `signMany` payload: a 4-byte count (1 to `Agent.maximumBatch`),
    /// then each message as a 4-byte length and its bytes, nothing after.
    static func messages(_ payload: [UInt8]) -> [[UInt8]]? {
        guard payload.count >= 4 else { return nil }
        let count = AgentWire.length(payload[0..<4])
        guard (1...Agent.maximumBatch).contains(count) else { return nil }
        var messages: [[UInt8]] = []
        var offset = 4
        for _ in 0..<count {
            guard payload.count - offset >= 4 else { return nil }
            let length = AgentWire.length(payload[offset..<offset + 4])
            offset += 4
            guard payload.count - offset >= length else { return nil }
            messages.append(Array(payload[offset..<offset + length]))
            offset += length
        }
        return offset == payload.count ? messages : nil
    }

    /// Domain separation: an event's signed message (SECURITY.md §12), a
    /// checkpoint note of this vault (§12b), or an audit bag's statement
    /// (§12d), nothing else.
    static func maySign(_ message: [UInt8], vaultID: String) -> Bool {
        message.starts(with: Event.signingContext) || message.starts(with: Array((Checkpoint.origin(vaultID: vaultID) + "\n").utf8))
            || message.starts(with: AuditBag.statementContext)
    }

    private func reply(_ fd: Int32, _ status: UInt8, _ body: [UInt8]) throws {
        try AgentWire.writeAll(fd, [status] + AgentWire.lengthPrefix(body.count) + body)
    }

    private func replySecret(_ fd: Int32, _ secret: UnsafeRawBufferPointer) throws {
        try AgentWire.writeAll(fd, [Agent.ok] + AgentWire.lengthPrefix(secret.count))
        try AgentWire.writeAll(fd, secret)
    }
}
