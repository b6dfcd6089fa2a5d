@testable import CaseVault
import Foundation
import GRDB
import Testing

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

/// Issue 9, items 6 and 7 (first part): the retention policy, signed and
/// validated, and the plan it gives. Nothing is disposed of yet.
@Suite struct RetentionTests {
    func date(_ day: String) -> Date { try! Date(day + "T09:00:00Z", strategy: .iso8601) }

    /// The example policy, naming this vault, without its standing hold on CP-2024-0042.
    func policy(for vault: Vault, _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> [UInt8] {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: repository.appendingPathComponent("Schemas/examples/retention-policy.json"))) as! [String: Any]
        json["vaultId"] = vault.config.vaultId
        json["legalHolds"] = []
        edit(&json)
        return Array(try JSONSerialization.data(withJSONObject: json))
    }

    @Test func theBinaryCarriesTheRetentionSchema() throws {
        let file = try String(contentsOf: repository.appendingPathComponent("Schemas/retention-policy.schema.json"), encoding: .utf8)
        #expect(BuiltInSchemas.retentionPolicy == file.trimmingCharacters(in: .newlines), "run scripts/embed-schemas.py")
    }

    @Test func onlyAValidPolicyForThisVaultIsSetByWhoMay() throws {
        let p = try Programme()
        #expect(throws: VaultError.self) { _ = try p.vault.setRetentionPolicy(try policy(for: p.vault), by: p["halima"]) }
        #expect { _ = try p.vault.setRetentionPolicy(try policy(for: p.vault) { $0["default"] = ["keep": ["years": 7], "disposal": "crypto-shredding"] }, by: p["amina"]) } throws: { error in
            guard case VaultError.invalidForm(_, let violations) = error else { return false }
            return !violations.isEmpty  // crypto-shredding needs approvers
        }
        #expect(throws: VaultError.self) { _ = try p.vault.setRetentionPolicy(try policy(for: p.vault) { $0["vaultId"] = UUID().uuidString.lowercased() }, by: p["amina"]) }
        #expect(throws: VaultError.self) {
            _ = try p.vault.setRetentionPolicy(try policy(for: p.vault) { json in
                var entries = json["byCategory"] as! [[String: Any]]
                entries[0]["category"] = "XYZ"
                json["byCategory"] = entries
            }, by: p["amina"])
        }
        #expect(throws: VaultError.self) { _ = try p.vault.setRetentionPolicy(Array("{ not json".utf8), by: p["amina"]) }
        // A rule no one could ever satisfy: case managers do not approve disposals.
        #expect(throws: VaultError.invalidInput("the policy names case-manager as an approver of disposals; only admin, case-supervisor, project-director approve them")) {
            _ = try p.vault.setRetentionPolicy(try policy(for: p.vault) { json in
                json["default"] = ["keep": ["years": 7], "disposal": "crypto-shredding", "approvers": ["roles": ["case-manager"], "minimumApprovals": 1]]
            }, by: p["amina"])
        }
        #expect(try p.vault.setRetentionPolicy(try policy(for: p.vault), by: p["amina"]) == 1)
        #expect(try p.vault.setRetentionPolicy(try policy(for: p.vault), by: p["dora"]) == 2)
        #expect(try p.vault.retentionPolicy()?.version == 2)
        #expect(try p.vault.verify().isClean)
    }

    @Test func thePlanSaysWhatIsDueWhyAndWhatAHoldKeeps() throws {
        let p = try Programme()
        func open(_ client: Int, _ category: String) throws -> String {
            try p.vault.openCase(category: category, admitted: 2020, clientNumber: client, managerID: "grace", supervisorID: "halima",
                                 by: p["halima"], now: date("2020-01-01")).number.description
        }
        let a = try open(1, "CP"), b = try open(2, "CP"), c = try open(3, "GBV"), d = try open(4, "CP")
        for number in [a, b, c] { try p.fileClosureForm(into: number) }
        _ = try p.vault.changeStatus(of: a, to: .closed, reason: "reunified", by: p["halima"], now: date("2020-06-01"))
        _ = try p.vault.changeStatus(of: b, to: .inactive, reason: "lost contact", by: p["grace"], now: date("2020-03-01"))
        _ = try p.vault.changeStatus(of: b, to: .closed, reason: "untraceable", by: p["halima"], now: date("2020-06-01"))
        _ = try p.vault.changeStatus(of: c, to: .closed, reason: "done", by: p["halima"], now: date("2020-06-01"))
        _ = d
        _ = try p.vault.setRetentionPolicy(try policy(for: p.vault), by: p["amina"])

        var plan = try p.vault.retentionPlan(asOf: date("2027-07-01"))
        #expect(plan.map { "\($0.caseNumber) \($0.action.rawValue) \($0.dueOn ?? "-") \($0.rule)" } == [
            "CP-2020-0001 dispose 2027-06-01 policy v1 default",        // 7 years from closure
            "CP-2020-0002 keep 2030-06-01 policy v1 byStatus.IA",       // closed from IA: 10 years, review-only
            "GBV-2020-0003 review - policy v1 byCategory[0]",           // counts from the eighteenth birthday
        ])
        plan = try p.vault.retentionPlan(asOf: date("2030-06-02"))
        #expect(plan.first { $0.caseNumber == b }?.action == .review)
        // A legal hold keeps a case whatever its dates.
        try p.vault.setHold(a, placing: true, reason: "court order", by: p["dora"])
        let held = try #require(try p.vault.retentionPlan(asOf: date("2027-07-01")).first { $0.caseNumber == a })
        #expect(held.action == .keep && held.why.contains("a legal hold stands on the case"))
        // A policy file swapped under its hash, or its row deleted, is caught.
        try p.tamper("""
            UPDATE blobs SET bytes = CAST(replace(CAST(bytes AS TEXT), '"years":7', '"years":1') AS BLOB)
            WHERE hash = (SELECT body_hash FROM retention_policies)
            """)
        expectIntegrity("does not match its signed hash") { _ = try p.vault.retentionPlan() }
        try p.tamper("DELETE FROM retention_policies")
        expectIntegrity("retention policy versions") { _ = try p.vault.retentionPlan() }
    }
}
