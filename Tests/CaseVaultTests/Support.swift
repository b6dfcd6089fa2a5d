@testable import CaseVault
import CaseVaultSQLite
import CaseVaultCrypto
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// A fresh temp folder per test, removed at the end.
final class Scratch {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "casevault-core-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }

    /// Writes a passphrase file and returns the passphrase read from it.
    func passphrase(_ text: String) throws -> Passphrase {
        let path = file(".pw-" + UUID().uuidString)
        try (text + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Passphrase(contentsOfFile: path)
    }

    /// Every name under the folder, relative, sorted.
    func listing(_ folder: String? = nil) -> [String] {
        let root = folder ?? path
        return ((FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []).sorted()
    }
}

let adminPassphrase = "correct horse battery staple"

/// A vault with test-only key derivation and an admin 'amina'.
func makeVault(in scratch: Scratch, name: String = "vault", recoveryKey: String? = nil,
               format: Int = VaultConfig.currentFormatVersion, eventFormat: Int? = nil) throws -> Vault {
    var options = Vault.CreationOptions()
    options.formatVersion = format
    options.eventFormat = eventFormat
    options.insecureTestingKDF = true
    options.adminID = "amina"
    options.adminName = "Amina Yusuf"
    options.adminPassphrase = try scratch.passphrase(adminPassphrase)
    options.recoveryKeyPath = recoveryKey
    return try Vault.create(at: scratch.file(name), options: options)
}

/// True when `needle` occurs anywhere in the bytes of any regular file under
/// `root` (SQLite WAL and shared-memory files included).
func anyFile(under root: String, contains needle: [UInt8]) -> String? {
    guard let names = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] else { return nil }
    for name in names {
        let path = root + "/" + name
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              let data = FileManager.default.contents(atPath: path) else { continue }
        if data.range(of: Data(needle)) != nil { return name }
    }
    return nil
}

/// Regular files under the temp folder, by path, with their modification
/// times: taken before and after an operation to find what it wrote there.
/// Other tests' scratch folders are left out (they run in parallel).
func temporaryFiles() -> [String: Date] {
    let root = NSTemporaryDirectory()
    var files: [String: Date] = [:]
    guard let enumerator = FileManager.default.enumerator(atPath: root) else { return files }
    while let name = enumerator.nextObject() as? String {
        if name.hasPrefix("casevault-") { enumerator.skipDescendants(); continue }
        let path = root + "/" + name
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              attributes[.type] as? FileAttributeType == .typeRegular else { continue }
        files[path] = attributes[.modificationDate] as? Date
    }
    return files
}

/// The temp files created or changed since `before` that contain `needle`.
func newTemporaryFiles(since before: [String: Date], containing needle: [UInt8]) -> [String] {
    temporaryFiles().filter { path, modified in before[path] != modified }.keys.filter { path in
        FileManager.default.contents(atPath: path)?.range(of: Data(needle)) != nil
    }.sorted()
}

/// Runs SQL against a vault's catalog file the way an attacker with write
/// access to the folder would: with SQLite directly, holding no key, between
/// commands. Each command is a new process, so `vault` then forgets the
/// nodes and records it verified before the edit.
func attack(_ vault: Vault, _ sql: String, arguments: StatementArguments = StatementArguments()) throws {
    try attack(at: vault.path, sql, arguments: arguments)
    vault.forgetVerified()
}

func attack(at vaultPath: String, _ sql: String, arguments: StatementArguments = StatementArguments()) throws {
    let queue = try DatabaseQueue(path: vaultPath + "/" + Vault.catalogFileName)
    try queue.write { try $0.execute(sql: sql, arguments: arguments) }
    try queue.close()
}

/// Reads rows from a vault's catalog file directly.
func catalogRows(_ vault: Vault, _ sql: String) throws -> [Row] {
    let queue = try DatabaseQueue(path: vault.path + "/" + Vault.catalogFileName)
    defer { try? queue.close() }
    return try queue.read { try Row.fetchAll($0, sql: sql) }
}

/// The RFC 9162 root over leaf hashes, computed plainly (the reference the
/// log's stored tree is held to).
func referenceRoot(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
    switch leaves.count {
    case 0: return SHA256.hash([UInt8]())
    case 1: return leaves.first!
    default:
        var split = 1
        while split * 2 < leaves.count { split *= 2 }
        return SHA256.hash([0x01] + referenceRoot(leaves.prefix(split)) + referenceRoot(leaves.dropFirst(split)))
    }
}

/// A handover draft as the caseworkers complete it: the child's name, a
/// summary, the briefings, two signatures.
func completedHandoverDraft(_ draft: JSONValue, child: String = "Amani (test)") -> JSONValue {
    guard case .object(var form) = draft else { return draft }
    form["childName"] = .string(child)
    form["caseSummary"] = .string("Placed with an aunt; school enrolment pending.")
    form["checklist"] = .object(["fileUpToDate": (form["checklist"].flatMap { if case .object(let c) = $0 { c["fileUpToDate"] } else { nil } }) ?? .bool(false),
                                 "supervisorBriefed": .bool(true), "teamBriefed": .bool(true), "clientBriefed": .bool(true)])
    form["signatures"] = .array([
        .object(["name": .string("Grace Otieno"), "role": .string("Case Manager"), "date": .string("2026-12-01")]),
        .object(["name": .string("Halima Abdi"), "role": .string("Case Supervisor"), "date": .string("2026-12-01")]),
    ])
    return .object(form)
}

/// The key pairs of a member unlocked in this process (tests only: the
/// product reaches them through `keys`, which may be the agent's).
extension StaffIdentity {
    var boxKeys: BoxKeyPair { (keys as! LocalKeys).box }
    var signingKeys: SigningKeyPair { (keys as! LocalKeys).signing }
}
