// Versions at scale (issue 12, item 6): a realistic vault of many cases and
// versions, seeded through the real bulk filing path (checkBatch and
// fileBatch, the code behind `casevault file --manifest`, groups of small
// forms in one transaction each), and the daily lookups timed on it and on
// a vault a hundredth of its size, in the same run:
//   case show, case list --status O --manager ID, history, find (by number
//   and by manager), and a whole `get` of a small form.
// Targets: each at the large size within 1.5× of its time at the small
// size; a whole `get` of a small form under 100 ms (the vault uses the
// test-only key derivation, so no passphrase stretching is timed); and the
// catalog's bytes per version, reported.
//
//   CASEVAULT_BENCH_ONLY=versions make bench
//   CASEVAULT_BENCH_SEED_CASES   (default 100000) cases in the large vault
//   CASEVAULT_BENCH_SEED_VERSIONS (default 10) versions per case
//
// Case manager grace has the same 25 cases in both vaults (a caseload does
// not grow with the programme; the programme adds managers), so a listing of
// her open cases prints the same rows at either size. The other cases go to
// 40 other managers and 4 supervisors; every tenth case is moved to IA.
import CaseVault
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a seeding did, for the report.
struct SeedFigures {
    var cases = 0
    var versions = 0
    var caseSeconds = 0.0
    var fileSeconds = 0.0
    var catalogBytes: Int64 = 0
    var objectBytes: Int64 = 0
}

/// Seeds `cases` cases of `versionsPerCase` home-visit forms each (spread
/// over up to five documents, "Home visit 1" … "Home visit 5") into a new
/// vault at `path`, through `openCase`, `changeStatus` and the bulk filing
/// path. Forms are copies of Schemas/examples/home-visit.json varied in
/// their text, written once to `scratch`.
func seedVault(at path: String, cases: Int, versionsPerCase: Int, scratch: String, progress: Bool) throws -> SeedFigures {
    let (vault, staff) = try makeBenchVault(at: path, passphrases: scratch)
    let admin = staff["amina"]!
    for i in 1...40 {
        try vault.addStaff(id: String(format: "m%02d", i), name: String(format: "Manager %02d", i), role: .caseManager,
                           passphrase: try Passphrase(contentsOfFile: "\(scratch)/grace.pw"), by: admin)
    }
    for i in 2...4 {
        try vault.addStaff(id: "s\(i)", name: "Supervisor \(i)", role: .caseSupervisor,
                           passphrase: try Passphrase(contentsOfFile: "\(scratch)/halima.pw"), by: admin)
    }
    try vault.addStaff(id: "farah", name: "Farah", role: .recordsOfficer,
                       passphrase: try Passphrase(contentsOfFile: "\(scratch)/grace.pw"), by: admin)
    let farah = try vault.unlock(staffID: "farah", passphrase: try Passphrase(contentsOfFile: "\(scratch)/grace.pw"))
    var supervisors = ["halima": staff["halima"]!]
    for i in 2...4 {
        supervisors["s\(i)"] = try vault.unlock(staffID: "s\(i)", passphrase: try Passphrase(contentsOfFile: "\(scratch)/halima.pw"))
    }

    // Ten variants of the example form, 1.5 to 2 KiB each.
    let example = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "Schemas/examples/home-visit.json"))) as! [String: Any]
    var templates: [String] = []
    for i in 0..<10 {
        var form = example
        form["childsViews"] = String(((example["childsViews"] as? String ?? "") + " Visit \(i): " + String(repeating: "the placement is calm. ", count: 30 + 3 * i)).prefix(1100))
        let file = "\(scratch)/home-visit-\(i).json"
        try JSONSerialization.data(withJSONObject: form, options: [.sortedKeys]).write(to: URL(fileURLWithPath: file))
        templates.append(file)
    }

    var figures = SeedFigures()
    let opened = Date(timeIntervalSince1970: 1_704_067_200)  // 2024-01-01
    let caseStart = now()
    var numbers: [String] = []
    numbers.reserveCapacity(cases)
    for client in 1...cases {
        // grace's 25 cases are the first 25 in both vaults.
        let manager = client <= 25 ? "grace" : String(format: "m%02d", (client - 26) % 40 + 1)
        let supervisor = client <= 25 ? "halima" : ["halima", "s2", "s3", "s4"][client % 4]
        let number = try vault.openCase(category: "CP", admitted: 2024, clientNumber: client, managerID: manager,
                                        supervisorID: supervisor, by: supervisors[supervisor]!, now: opened).number.description
        if client % 10 == 0 {
            _ = try vault.changeStatus(of: number, to: .inactive, reason: "family moved; follow-up pending", by: supervisors[supervisor]!)
        }
        numbers.append(number)
        if progress, client % 5000 == 0 {
            print(String(format: "  %d cases opened (%.0f/s)", client, Double(client) / (now() - caseStart)))
            fflush(nil)
        }
    }
    figures.cases = cases
    figures.caseSeconds = now() - caseStart

    let fileStart = now()
    let chunk = 500  // cases per batch
    var done = 0
    for first in stride(from: 0, to: numbers.count, by: chunk) {
        let slice = numbers[first..<min(first + chunk, numbers.count)]
        // A batch files one version of a document: a case's versions go
        // in rounds of five (one per document), each round a batch.
        for round in stride(from: 0, to: versionsPerCase, by: 5) {
            var requests: [FilingRequest] = []
            for (offset, number) in slice.enumerated() {
                for v in round..<min(round + 5, versionsPerCase) {
                    requests.append(FilingRequest(caseNumber: number, name: "Home visit \(v % 5 + 1)",
                                                  kind: .form(type: "home-visit", schemaVersion: nil), confidential: false,
                                                  path: templates[(first + offset + v) % templates.count], origin: "\(number) version \(v)"))
                }
            }
            let batch = try vault.checkBatch(requests, by: "farah")
            guard batch.problems.isEmpty else { throw VaultError.invalidInput("seed batch refused: \(batch.problems[0].message)") }
            let result = try vault.fileBatch(batch, journal: nil, by: farah)
            if let failure = result.failure { throw failure.error }
            done += result.filed.count
        }
        if progress, (first / chunk) % 10 == 9 {
            print(String(format: "  %d versions filed (%.0f/s)", done, Double(done) / (now() - fileStart)))
            fflush(nil)
        }
    }
    figures.versions = done
    figures.fileSeconds = now() - fileStart
    for name in ["catalog.sqlite", "catalog.sqlite-wal"] {
        figures.catalogBytes += (try? FileManager.default.attributesOfItem(atPath: "\(path)/\(name)")[.size] as? Int64) ?? 0
    }
    figures.objectBytes = folderBytes("\(path)/objects")
    return figures
}

/// The bytes of the regular files under `folder`.
func folderBytes(_ folder: String) -> Int64 {
    var total: Int64 = 0
    if let walker = FileManager.default.enumerator(atPath: folder) {
        for case let name as String in walker {
            if let size = try? FileManager.default.attributesOfItem(atPath: "\(folder)/\(name)")[.size] as? Int64 { total += size }
        }
    }
    return total
}

func measureVersionsAtScale(in folder: String) -> Bool {
    let environment = ProcessInfo.processInfo.environment
    let largeCases = Int(environment["CASEVAULT_BENCH_SEED_CASES"] ?? "") ?? 100_000
    let perCase = Int(environment["CASEVAULT_BENCH_SEED_VERSIONS"] ?? "") ?? 10
    guard largeCases >= 2500, perCase >= 1 else {
        print("CASEVAULT_BENCH_SEED_CASES must be at least 2500 (the small vault is a hundredth of it, with grace's 25 cases) and CASEVAULT_BENCH_SEED_VERSIONS at least 1")
        return false
    }
    let smallCases = largeCases / 100
    // Built on the checkout's disk: the large vault does not fit a RAM disk
    // comfortably, and it is seeded through the real path, syncs included.
    // CASEVAULT_BENCH_REUSE=FOLDER times the vaults a run kept
    // (CASEVAULT_BENCH_KEEP=1) instead of seeding new ones.
    let reuse = environment["CASEVAULT_BENCH_REUSE"]
    let folders = reuse == nil ? BenchFolders(in: folder, part: "versions") : nil
    let scratch = reuse ?? folders!.scratch
    defer { folders?.cleanUp() }
    print("")
    print("== versions at scale: \(folder)")
    var seeded: [String: SeedFigures] = [:]
    // The sizes a seeding wrote beside its vaults: "small-versions large-versions".
    let sizesFile = "\(scratch)/seeded-versions.txt"
    if reuse != nil {
        let sizes = ((try? String(contentsOfFile: sizesFile, encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard sizes.count == 2 else {
            print("\(sizesFile) is missing or unreadable: that folder was not kept by a seeding run (CASEVAULT_BENCH_KEEP=1)")
            return false
        }
        seeded["small"] = SeedFigures(versions: sizes[0])
        seeded["large"] = SeedFigures(versions: sizes[1])
        print("timing the vaults kept in \(scratch) (\(sizes[0]) and \(sizes[1]) versions)")
    } else {
        guard writeBenchPassphrases(in: scratch) else { return false }
    }
    for (name, cases) in [("small", smallCases), ("large", largeCases)] where reuse == nil {
        do {
            print("seeding \(cases) cases of \(perCase) versions (\(name))…")
            seeded[name] = try seedVault(at: "\(scratch)/\(name)", cases: cases, versionsPerCase: perCase, scratch: scratch, progress: name == "large")
        } catch {
            print("cannot seed the \(name) vault (run from the checkout: make bench): \(error)")
            return false
        }
        let f = seeded[name]!
        print(String(format: "  %d cases opened in %.0f s (%.0f/s); %d versions filed in %.0f s (%.0f versions/s)",
                     f.cases, f.caseSeconds, Double(f.cases) / f.caseSeconds, f.versions, f.fileSeconds, Double(f.versions) / f.fileSeconds))
        print(String(format: "  catalog %.1f MiB: %.0f bytes per version (all rows, events, state map and log included); objects %.0f bytes per version",
                     Double(f.catalogBytes) / Double(mib), Double(f.catalogBytes) / Double(f.versions), Double(f.objectBytes) / Double(f.versions)))
    }

    if reuse == nil {
        _ = FileManager.default.createFile(atPath: sizesFile, contents: Data("\(seeded["small"]!.versions) \(seeded["large"]!.versions)\n".utf8))
    }

    func env(_ name: String) -> [String: String] {
        environment.merging(["CASEVAULT_DIR": "\(scratch)/\(name)", "CASEVAULT_STATE_DIR": "\(scratch)/state-\(name)"]) { $1 }
    }
    let reader = ["--as", "grace", "--passphrase-file", "\(scratch)/grace.pw"]
    let commands: [(String, [String])] = [
        ("case show", ["case", "show", "CP-2024-0001"]),
        ("case list --status O --manager grace", ["case", "list", "--status", "O", "--manager", "grace"]),
        ("history", ["history", "CP-2024-0001"]),
        ("find --number", ["find", "--number", "CP-2024-0001"]),
        ("find --manager grace --status O", ["find", "--manager", "grace", "--status", "O"]),
        ("get (small form)", ["get", "CP-2024-0001", "Home visit 1"] + reader),
    ]
    // First use checks the whole log once and keeps a checkpoint (SECURITY.md §12b); timed runs start from it.
    for name in ["small", "large"] {
        let (seconds, status, _) = spawn(["case", "list", "--status", "C"], environment: env(name))
        guard status == 0 else {
            print("the first use of the \(name) vault failed (exit \(status))")
            return false
        }
        print(String(format: "  first use of the %@ vault: %.1f s", name, seconds))
    }
    guard let times = timeInterleaved(commands, on: ["small", "large"], rounds: max(runs, 5), environment: env) else { return false }
    let small = seeded["small"]!.versions, large = seeded["large"]!.versions
    print("")
    print("Targets (medians of \(max(runs, 5)) whole-process runs):")
    var met = true
    for (label, _) in commands {
        let a = median(times["\(label) small"]!), b = median(times["\(label) large"]!)
        let ok = b <= 1.5 * a
        print((ok ? "  met     " : "  MISSED  ") + String(format: "%@: %.3f s at %d versions, %.3f s at %d: %.2f×", label, a, small, b, large, b / a))
        met = ok && met
    }
    let get = median(times["get (small form) large"]!)
    let getOK = get < 0.1
    print((getOK ? "  met     " : "  MISSED  ") + String(format: "a whole get of a small form at %d versions under 100 ms: %.0f ms", large, get * 1000))
    return met && getOK
}
