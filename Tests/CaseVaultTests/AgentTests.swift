@testable import CaseVault
import Foundation
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
