@testable import CaseVault
import CaseVaultCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The agent's own rules, below the CLI tests of AgentCLITests.
@Suite struct AgentTests {
    /// Domain separation: the agent signs an event's message or a
    /// checkpoint note of its own vault, and nothing else a process of the
    /// user might ask (a message another protocol would accept, another
    /// vault's checkpoint).
    @Test func theAgentSignsCasevaultEventsAndItsVaultsCheckpointsOnly() {
        let vault = "0b5f7c1e-2d3a-4b8c-9e1f-5a6b7c8d9e0f"
        let checkpoint = Checkpoint(origin: Checkpoint.origin(vaultID: vault), size: 3, root: Array(repeating: 1, count: 32), signatures: [])
        let other = Checkpoint(origin: Checkpoint.origin(vaultID: "11111111-2222-3333-4444-555555555555"), size: 3,
                               root: Array(repeating: 1, count: 32), signatures: [])
        #expect(AgentServer.maySign(Event.signedMessage(body: Array("{}".utf8)), vaultID: vault))
        #expect(AgentServer.maySign(Array(checkpoint.text.utf8), vaultID: vault))
        #expect(!AgentServer.maySign(Array(other.text.utf8), vaultID: vault))
        #expect(!AgentServer.maySign(Array("SSHSIG".utf8) + [0, 0, 0, 1], vaultID: vault))
        #expect(!AgentServer.maySign(Array("casevault-event-v2\n{}".utf8), vaultID: vault))
        #expect(!AgentServer.maySign([], vaultID: vault))
    }

    /// A `signMany` batch is a count, then length-prefixed messages, and
    /// nothing after; anything else is not a batch, and one message outside
    /// the domain refuses the whole batch (AgentServer.answer).
    @Test func aBatchToSignIsWellFormedAndEveryMessageInTheDomain() {
        let vault = "0b5f7c1e-2d3a-4b8c-9e1f-5a6b7c8d9e0f"
        let one = Event.signedMessage(body: Array(#"{"seq":1}"#.utf8)), two = Event.signedMessage(body: Array(#"{"seq":2}"#.utf8))
        func batch(_ messages: [[UInt8]], count: Int? = nil) -> [UInt8] {
            AgentWire.lengthPrefix(count ?? messages.count) + messages.flatMap { AgentWire.lengthPrefix($0.count) + $0 }
        }
        #expect(AgentServer.messages(batch([one, two])) == [one, two])
        #expect(AgentServer.messages(batch([one, []])) == [one, []])
        #expect(AgentServer.messages(batch([])) == nil)
        #expect(AgentServer.messages(batch([one, two], count: 3)) == nil)
        #expect(AgentServer.messages(batch([one, two], count: 1)) == nil)
        #expect(AgentServer.messages(batch([one]) + [0]) == nil)
        #expect(AgentServer.messages(Array(batch([one, two]).dropLast())) == nil)
        #expect(AgentServer.messages(AgentWire.lengthPrefix(Agent.maximumBatch + 1)) == nil)
        #expect(AgentServer.messages([0, 0, 1]) == nil)
        let foreign = Array("SSHSIG".utf8)
        #expect(AgentServer.messages(batch([one, foreign]))?.allSatisfy { AgentServer.maySign($0, vaultID: vault) } == false)
        // A full batch's signatures fit one answer.
        #expect(Agent.maximumBatch * 64 <= Agent.maximumFrame)
    }

    /// Through a live agent: 150 events' messages signed with `signMany`
    /// (no fallback to one request each), every signature the member's and
    /// in order; a batch with one message outside the domain is refused
    /// whole.
    @Test func aLiveAgentSignsABatchInOrderAndRefusesItWholeForOneForeignMessage() throws {
        let p = try Programme()
        let vaultID = p.vault.config.vaultId
        let (hello, secrets) = try p["grace"].agentHandoff(vaultID: vaultID)
        let folder = p.scratch.file("run")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        chmod(folder, 0o700)
        let socket = folder + "/grace.sock"
        let server = try AgentServer(hello: hello, secrets: secrets, socketPath: socket, options: AgentServer.Options(idle: 30, session: nil))
        try server.listen()
        nonisolated(unsafe) let running = server
        let done = DispatchSemaphore(value: 0)
        Thread { _ = running.serve(); done.signal() }.start()
        defer {
            _ = try? Vault.lockAgent(at: socket)
            _ = done.wait(timeout: .now() + 10)
        }
        let keys = AgentKeys(connection: try #require(try AgentConnection(path: socket)),
                             box: p["grace"].keys.boxPublicKey, signing: p["grace"].keys.signingPublicKey)
        let messages = (0..<150).map { Event.signedMessage(body: Array(#"{"seq":\#($0)}"#.utf8)) }
        let signatures = try keys.signAll(messages)
        #expect(keys.signsMany)
        #expect(signatures.count == 150)
        for (message, signature) in zip(messages, signatures) {
            #expect(p["grace"].keys.signingPublicKey.isValidSignature(signature, for: message))
        }
        // A bulk filing's largest group: 1,024 event bodies of about 1.5 KiB
        // (1.5 MiB, more than a frame) go in several requests, in order.
        let group = (0..<1_024).map { i in
            Event.signedMessage(body: Array(#"{"seq":\#(i),"pad":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 1_500) + Array(#""}"#.utf8))
        }
        let groupSignatures = try keys.signAll(group)
        #expect(groupSignatures.count == group.count)
        #expect(zip(group, groupSignatures).allSatisfy { p["grace"].keys.signingPublicKey.isValidSignature($1, for: $0) })
        #expect(throws: VaultError.self) { try keys.signAll([messages[0], Array("SSHSIG".utf8)]) }
        #expect(keys.signsMany)
        // Two threads on one connection: each answer reaches its own request.
        nonisolated(unsafe) let shared = keys
        let verifying = p["grace"].keys.signingPublicKey
        let results = Parallel.map(Array(0..<2), threads: 2) { thread in
            (0..<100).allSatisfy { i in
                let message = Event.signedMessage(body: Array(#"{"thread":\#(thread),"i":\#(i)}"#.utf8))
                return (try? shared.sign(message)).map { verifying.isValidSignature($0, for: message) } ?? false
            }
        }
        #expect(results == [true, true])
    }

    /// An exchange that fails part-way (here an answer claiming more than a
    /// frame, its bytes left on the socket) leaves the connection unusable:
    /// the next request is refused, not answered with the rest of the
    /// failed one (which could be an opened secret).
    @Test func aConnectionThatFailedMidExchangeIsNotReused() throws {
        let scratch = Scratch()
        let socketPath = scratch.file("fake.sock")
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var address = try UnixAddress(socketPath)
        #expect(address.withPointer { bind(listener, $0, $1) } == 0 && listen(listener, 1) == 0)
        let served = DispatchSemaphore(value: 0)
        Thread {
            let client = accept(listener, nil, nil)
            var request = [UInt8](repeating: 0, count: 64)
            _ = read(client, &request, request.count)
            // An oversized answer's header, then bytes that look like a whole small answer.
            let answer: [UInt8] = [Agent.ok] + AgentWire.lengthPrefix(Agent.maximumFrame + 1) + [Agent.ok] + AgentWire.lengthPrefix(3) + [1, 2, 3]
            _ = answer.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            served.wait()
            close(client)
        }.start()
        defer { served.signal() }
        let connection = try #require(try AgentConnection(path: socketPath))
        #expect(throws: VaultError.self) { _ = try connection.request(.hello, []) }
        #expect(throws: VaultError.io("the connection to the casevault agent at \(socketPath) failed earlier in this command")) {
            _ = try connection.requestSecret(.unseal, [0])
        }
    }

    @Test func framesCarryTheirLengthBigEndian() {
        #expect(AgentWire.lengthPrefix(0x0102_0304) == [1, 2, 3, 4])
        #expect(AgentWire.length([0, 1, 0, 0]) == 65_536)
        #expect(AgentWire.length(AgentWire.lengthPrefix(Agent.maximumFrame)) == Agent.maximumFrame)
    }

    /// Keys handed to an agent must be the ones its hello names.
    @Test func theAgentRefusesKeysThatAreNotTheMembers() throws {
        let p = try Programme()
        let (hello, secrets) = try p["grace"].agentHandoff(vaultID: p.vault.config.vaultId)
        let (_, others) = try p["joseph"].agentHandoff(vaultID: p.vault.config.vaultId)
        let options = AgentServer.Options(idle: 1, session: nil)
        _ = try AgentServer(hello: hello, secrets: secrets, socketPath: p.scratch.file("a.sock"), options: options)
        #expect(throws: VaultError.self) {
            try AgentServer(hello: hello, secrets: others, socketPath: p.scratch.file("b.sock"), options: options)
        }
    }
}
