// Issue 11's benchmark: an audit export of a vault of 100,000 events,
// events per second, and verify-export of the same bag, beside raw Ed25519
// verifications in the same run (target: verify-export at least 50 % of
// the raw rate).
import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation

func measureAuditAtScale(in folder: String) -> Bool {
    let folders = BenchFolders(in: folder, part: "audit")
    defer { folders.cleanUp() }
    print("")
    print("== audit export and verify-export at scale: \(folder)")
    for id in ["amina", "grace", "halima", "farah", "dora"] {
        guard FileManager.default.createFile(atPath: "\(folders.build)/\(id).pw", contents: Data("\(id) bench passphrase\n".utf8)) else { return false }
    }
    guard let form = FileManager.default.contents(atPath: "Schemas/examples/intake.json"),
          FileManager.default.createFile(atPath: "\(folders.build)/form.json", contents: form) else {
        print("run from the checkout (make bench): Schemas/examples/intake.json not found")
        return false
    }
    let target = Int(ProcessInfo.processInfo.environment["CASEVAULT_BENCH_EVENTS"] ?? "") ?? 100_000
    do {
        let started = now()
        let events = try buildVault(at: "\(folders.build)/vault", events: target, scratch: folders.build)
        try FileManager.default.copyItem(atPath: "\(folders.build)/vault", toPath: "\(folders.scratch)/vault")
        print(String(format: "built a vault of %d events in %.0f s", events, now() - started))
        let vault = try Vault.open(at: "\(folders.scratch)/vault")
        let dora = try vault.unlock(staffID: "dora", passphrase: try Passphrase(contentsOfFile: "\(folders.build)/dora.pw"))
        var exportTimes: [Double] = [], verifyTimes: [Double] = []
        var written = 0
        for run in 0..<3 {
            let out = "\(folders.scratch)/audit-\(run).tar"
            var start = now()
            let report = try vault.exportAudit(out: out, by: dora)
            exportTimes.append(now() - start)
            written = report.events
            start = now()
            let result = try AuditBag.verify(at: out)
            verifyTimes.append(now() - start)
            guard result.passed else { print("verify-export refused the bag"); return false }
        }
        let raw = rawVerifyRates()
        let exportRate = Double(written) / median(exportTimes), verifyRate = Double(written) / median(verifyTimes)
        print(String(format: "export audit:    %8.0f events/s (median of 3, %d events, %.2f s)", exportRate, written, median(exportTimes)))
        print(String(format: "verify-export:   %8.0f events/s (median of 3, %.2f s)", verifyRate, median(verifyTimes)))
        print(String(format: "raw Ed25519:     %8.0f verifications/s on one core, %.0f on every core", raw.one, raw.all))
        let ratio = verifyRate / raw.one
        print(String(format: "verify-export / raw (one core): %.0f %% (target at least 50 %%): %@", ratio * 100, ratio >= 0.5 ? "met" : "MISSED"))
        return ratio >= 0.5
    } catch {
        print("audit bench failed: \(error)")
        return false
    }
}
