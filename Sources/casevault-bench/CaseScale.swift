// Cases at scale (issues 9 and 12): `retention plan`, `report monthly`,
// and the daily lookups (`case show`, `history`, `find` by number and by
// client name, `get` of a small form) on a vault of N cases and on one of
// 10 N, the same closed cases in both, in the same run. The target: the
// larger within 1.5× of the smaller.
import CaseVault
import CaseVaultSQLite
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A vault of `cases` open cases (no documents), of which the first
/// `closed` have a closure form and are closed, with the example retention
/// policy in force. No recovery key: a case is 1 + 5 events.
func buildCaseVault(at path: String, cases: Int, closed: Int, scratch: String) throws {
    let (vault, staff) = try makeBenchVault(at: path, passphrases: scratch)
    let (admin, halima, grace) = (staff["amina"]!, staff["halima"]!, staff["grace"]!)
    let opened = Date(timeIntervalSince1970: 1_704_067_200)  // 2024-01-01
    for client in 1...cases {
        let number = try vault.openCase(category: "CP", admitted: 2024, clientNumber: client, managerID: "grace", supervisorID: "halima",
                                        by: halima, now: opened).number.description
        if client <= closed {
            try vault.fileForm(caseNumber: number, type: "closure", from: .file(path: "Schemas/examples/closure.json"), by: grace)
            _ = try vault.changeStatus(of: number, to: .closed, reason: "reunified", by: halima, now: opened.addingTimeInterval(86_400 * 30))
        }
    }
    // A named client in the first case, for find --name (issue 12).
    _ = try vault.nameClient(of: "CP-2024-0001", name: "Amina Mohamed Abdullahi", by: halima)
    var policy = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "Schemas/examples/retention-policy.json"))) as! [String: Any]
    policy["vaultId"] = vault.config.vaultId
    policy["legalHolds"] = []
    _ = try vault.setRetentionPolicy(Array(try JSONSerialization.data(withJSONObject: policy)), by: admin)
}

func measureCasesAtScale(in folder: String) -> Bool {
    let small = Int(ProcessInfo.processInfo.environment["CASEVAULT_BENCH_CASES"] ?? "") ?? 10_000
    let large = 10 * small, closed = min(200, small)
    let folders = BenchFolders(in: folder, part: "cases")
    let (scratch, build) = (folders.scratch, folders.build)
    defer { folders.cleanUp() }
    print("")
    print("== cases at scale: \(folder)")
    guard writeBenchPassphrases(in: build) else { return false }
    let started = now()
    do {
        try buildCaseVault(at: "\(build)/small", cases: small, closed: closed, scratch: build)
        try buildCaseVault(at: "\(build)/large", cases: large, closed: closed, scratch: build)
    } catch {
        print("cannot build the vaults (run from the checkout: make bench): \(error)")
        return false
    }
    for name in ["small", "large"] { _ = try? FileManager.default.copyItem(atPath: "\(build)/\(name)", toPath: "\(scratch)/\(name)") }
    print(String(format: "built vaults of %d and %d cases (%d of them closed) through the library in %.0f s", small, large, closed, now() - started))

    func env(_ name: String) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(["CASEVAULT_DIR": "\(scratch)/\(name)", "CASEVAULT_STATE_DIR": "\(scratch)/state-\(name)"]) { $1 }
    }
    let month = String(ISO8601DateFormatter().string(from: Date()).prefix(7))
    let reader = ["--as", "grace", "--passphrase-file", "\(build)/grace.pw"]
    let commands: [(String, [String])] = [
        ("retention plan", ["retention", "plan", "--as-of", "2040-01-01"]),
        ("report monthly", ["report", "monthly", "--month", month]),
        ("case show", ["case", "show", "CP-2024-0001"]),
        ("history", ["history", "CP-2024-0001"]),
        ("find --number", ["find", "--number", "CP-2024-0001"]),
        ("find --name", ["find", "--name", "Aminah Muhamed"] + reader),
        ("get (small form)", ["get", "CP-2024-0001", "Case closure (termination and case resolution)"] + reader),
    ]
    for name in ["small", "large"] { _ = spawn(["case", "list", "--status", "C"], environment: env(name)) }  // first use: check the log once
    guard let times = timeInterleaved(commands, on: ["small", "large"], rounds: runs, environment: env) else { return false }
    print("")
    var met = true
    print("Targets:")
    for (label, _) in commands {
        let a = median(times["\(label) small"]!), b = median(times["\(label) large"]!)
        print("  \(label): \(String(format: "%.2f", a)) s at \(small) cases, \(String(format: "%.2f", b)) s at \(large)")
        let ok = b <= 1.5 * a
        print((ok ? "  met     " : "  MISSED  ") + String(format: "%@ at %d cases within 1.5× of %d: %.2f×", label, large, small, b / a))
        met = ok && met
    }
    return met
}

/// Runs every command on every vault, `rounds` times, interleaved (command
/// by command, vault by vault), and returns each run's seconds by
/// "label vault"; nil, having said which, when a run fails.
func timeInterleaved(_ commands: [(String, [String])], on vaults: [String], rounds: Int,
                     environment: (String) -> [String: String]) -> [String: [Double]]? {
    var times: [String: [Double]] = [:]
    for _ in 1...rounds {
        for (label, arguments) in commands {
            for name in vaults {
                let (seconds, status, _) = spawn(arguments, environment: environment(name))
                guard status == 0 else {
                    print("\(label) failed on the \(name) vault (exit \(status))")
                    return nil
                }
                times["\(label) \(name)", default: []].append(seconds)
            }
        }
    }
    return times
}

/// The bench staff's passphrase files (amina, grace, halima, dora).
func writeBenchPassphrases(in folder: String) -> Bool {
    for id in ["amina", "grace", "halima", "dora"] {
        guard FileManager.default.createFile(atPath: "\(folder)/\(id).pw", contents: Data("\(id) bench passphrase\n".utf8)) else {
            print("cannot write \(folder)")
            return false
        }
    }
    return true
}

/// A vault with admin amina, case manager grace, case supervisor halima and
/// project director dora (passphrases from `writeBenchPassphrases`), each unlocked.
func makeBenchVault(at path: String, passphrases folder: String) throws -> (Vault, [String: StaffIdentity]) {
    func passphrase(_ id: String) throws -> Passphrase { try Passphrase(contentsOfFile: "\(folder)/\(id).pw") }
    var options = Vault.CreationOptions()
    options.insecureTestingKDF = true
    options.adminID = "amina"
    options.adminName = "Amina"
    options.adminPassphrase = try passphrase("amina")
    let vault = try Vault.create(at: path, options: options)
    var staff = ["amina": try vault.unlock(staffID: "amina", passphrase: try passphrase("amina"))]
    for (id, role) in [("grace", Role.caseManager), ("halima", .caseSupervisor), ("dora", .projectDirector)] {
        try vault.addStaff(id: id, name: id.capitalized, role: role, passphrase: try passphrase(id), by: staff["amina"]!)
        staff[id] = try vault.unlock(staffID: id, passphrase: try passphrase(id))
    }
    return (vault, staff)
}
