// Key rotation at scale (issue 10, item 3): `case rotate` of a case with
// 10,000 versions in its team tier, which re-seals every file key to the new
// key, beside the raw libsodium work it cannot avoid (10,000 crypto_box_seal_open
// and crypto_box_seal) measured in the same run.
import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One case, CP-2024-0001, with `versions` team-tier versions: 100 versions
/// of each of versions / 100 documents, filed through the library.
func buildRotationVault(at path: String, versions: Int, scratch: String) throws {
    let (vault, staff) = try makeBenchVault(at: path, passphrases: scratch)
    let (halima, grace) = (staff["halima"]!, staff["grace"]!)
    let number = try vault.openCase(category: "CP", admitted: 2024, clientNumber: 1, managerID: "grace", supervisorID: "halima",
                                    by: halima).number.description
    let file = "\(scratch)/note.txt"
    for index in 0..<versions {
        guard FileManager.default.createFile(atPath: file, contents: Data("note \(index)\n".utf8)) else { throw CocoaError(.fileWriteUnknown) }
        _ = try vault.file(caseNumber: number, name: "Note \(index / 100)", type: "note", from: .file(path: file), by: grace)
    }
}

/// Seconds for `count` unseal-and-seal pairs of 32-byte keys.
func rawResealSeconds(_ count: Int) -> Double {
    let old = BoxKeyPair(), fresh = BoxKeyPair()
    let sealed = (0..<count).map { _ in SealedBox.seal(SecureBytes.random(count: 32), to: old.publicKey) }
    let start = now()
    for blob in sealed {
        guard let key = try? SealedBox.open(blob, with: old) else { fatalError("unseal failed") }
        _ = SealedBox.seal(key, to: fresh.publicKey)
    }
    return now() - start
}

func measureRotationAtScale(in folder: String) -> Bool {
    let versions = Int(ProcessInfo.processInfo.environment["CASEVAULT_BENCH_VERSIONS"] ?? "") ?? 10_000
    let folders = BenchFolders(in: folder, part: "rotation")
    let (scratch, build) = (folders.scratch, folders.build)
    defer { folders.cleanUp() }
    print("")
    print("== key rotation at scale: \(folder)")
    guard writeBenchPassphrases(in: build) else { return false }
    let started = now()
    do {
        try buildRotationVault(at: "\(build)/vault", versions: versions, scratch: build)
    } catch {
        print("cannot build the vault: \(error)")
        return false
    }
    _ = try? FileManager.default.copyItem(atPath: "\(build)/vault", toPath: "\(scratch)/vault")
    print(String(format: "built a case of %d team-tier versions through the library in %.0f s", versions, now() - started))
    let environment = ProcessInfo.processInfo.environment.merging([
        "CASEVAULT_DIR": "\(scratch)/vault", "CASEVAULT_STATE_DIR": "\(scratch)/state",
        "CASEVAULT_STAFF": "halima", "CASEVAULT_PASSPHRASE_FILE": "\(build)/halima.pw",
    ]) { $1 }
    var rotations: [Double] = [], raws: [Double] = []
    for _ in 1...runs {
        let (seconds, status, _) = spawn(["case", "rotate", "CP-2024-0001", "--tier", "team", "--reason", "bench"], environment: environment)
        guard status == 0 else {
            print("case rotate failed")
            return false
        }
        rotations.append(seconds)
        raws.append(rawResealSeconds(versions))
    }
    let (rotation, raw) = (median(rotations), median(raws))
    print(String(format: "  case rotate (team tier, %d versions re-sealed): %.2f s median of %d", versions, rotation, runs))
    print(String(format: "  raw unseal + seal of %d keys (libsodium, one core):  %.2f s; rotation is %.1f× that", versions, raw, rotation / raw))
    let verified = spawn(["verify"], environment: environment)
    print(verified.1 == 0 ? "  verify after the rotations: clean" : "  verify after the rotations: NOT CLEAN")
    return verified.1 == 0
}
