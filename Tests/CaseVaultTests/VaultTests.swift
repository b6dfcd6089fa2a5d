@testable import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation
import GRDB
import Testing

@Suite struct VaultCreationTests {
    @Test func createsTheLayoutWithPrivatePermissions() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        #expect(scratch.listing(vault.path).filter { !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
                == ["casevault.json", "catalog.sqlite", "objects"])
        let attributes = try FileManager.default.attributesOfItem(atPath: vault.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        for file in ["casevault.json", "catalog.sqlite"] {
            let mode = try FileManager.default.attributesOfItem(atPath: vault.path + "/" + file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file) is readable by others")
        }
        #expect(vault.config.formatVersion == VaultConfig.currentFormatVersion)
        #expect(vault.config.insecureTestingKDF)
        #expect(vault.config.caseCategories == ["CP", "GBV", "PWSN", "UASC"])
        #expect(UUID(uuidString: vault.config.vaultId) != nil)
        // No staging folder is left beside the vault.
        #expect(scratch.listing().filter { $0.hasPrefix(".casevault-init") }.isEmpty)
    }

    @Test func theDefaultProfileIsModerate() throws {
        let scratch = Scratch()
        let vault = try Vault.create(at: scratch.file("v"), options: Vault.CreationOptions())
        #expect(vault.config.kdf.opsLimit == 3 && vault.config.kdf.memLimit == 256 << 20)
        #expect(!vault.config.insecureTestingKDF)
        #expect(try vault.staff().isEmpty)
    }

    @Test func reopensWithTheSameConfig() throws {
        let scratch = Scratch()
        let created = try makeVault(in: scratch)
        let reopened = try Vault.open(at: created.path)
        #expect(reopened.config == created.config)
        #expect(try reopened.staff().map(\.id) == ["amina"])
    }

    @Test func refusesANonEmptyFolderAndLeavesItAlone() throws {
        let scratch = Scratch()
        try FileManager.default.createDirectory(atPath: scratch.file("busy"), withIntermediateDirectories: false)
        try "keep me".write(toFile: scratch.file("busy/notes.txt"), atomically: false, encoding: .utf8)
        #expect(throws: VaultError.alreadyExists("\(scratch.file("busy")) already exists and is not an empty folder")) {
            _ = try makeVault(in: scratch, name: "busy")
        }
        #expect(scratch.listing() == ["busy", "busy/notes.txt"])
    }

    @Test func acceptsAnEmptyFolder() throws {
        let scratch = Scratch()
        try FileManager.default.createDirectory(atPath: scratch.file("empty"), withIntermediateDirectories: false)
        _ = try makeVault(in: scratch, name: "empty")
        #expect(try Vault.open(at: scratch.file("empty")).staff().count == 1)
    }

    @Test func aFailedCreateLeavesNothingBehind() throws {
        let scratch = Scratch()
        // A weak admin passphrase is caught before anything is written.
        var options = Vault.CreationOptions()
        options.insecureTestingKDF = true
        options.adminID = "amina"
        options.adminName = "Amina Yusuf"
        options.adminPassphrase = try scratch.passphrase("short")
        #expect(throws: VaultError.self) { _ = try Vault.create(at: scratch.file("v"), options: options) }
        // An existing recovery-key file is caught too, and not overwritten.
        try "precious".write(toFile: scratch.file("rk.txt"), atomically: false, encoding: .utf8)
        #expect(throws: VaultError.self) { _ = try makeVault(in: scratch, recoveryKey: scratch.file("rk.txt")) }
        #expect(scratch.listing() == ["rk.txt"])
        #expect(try String(contentsOfFile: scratch.file("rk.txt"), encoding: .utf8) == "precious")
    }

    @Test func refusesARecoveryKeyInsideTheVault() throws {
        let scratch = Scratch()
        try FileManager.default.createDirectory(atPath: scratch.file("v"), withIntermediateDirectories: false)
        #expect(throws: VaultError.invalidInput("the recovery key must not be written inside the vault folder")) {
            _ = try makeVault(in: scratch, name: "v", recoveryKey: scratch.file("v/rk.txt"))
        }
        #expect(scratch.listing() == ["v"])
    }

    @Test func writesARecoveryKeyWhosePublicHalfIsInTheConfig() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch, recoveryKey: scratch.file("rk.txt"))
        let text = try String(contentsOfFile: scratch.file("rk.txt"), encoding: .utf8)
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines.count == 4)
        #expect(lines[0] == "CASEVAULT-RECOVERY-KEY-1")
        #expect(lines[1] == "vault \(vault.config.vaultId)")
        let keyHex = lines[2].dropFirst(4).replacingOccurrences(of: "-", with: "")
        let secret = SecureBytes(copying: [UInt8](hexString: keyHex)!)
        #expect(try BoxKeyPair(secretKey: secret).publicKey.bytes.hexString == vault.config.recoveryPublicKey)
        let check = Blake2b()
        check.update(Array("casevault recovery key".utf8))
        check.update(Array(vault.config.vaultId.utf8))
        check.update(secret)
        #expect(lines[3] == "check " + Array(check.finalize().prefix(4)).hexString)
        let mode = try FileManager.default.attributesOfItem(atPath: scratch.file("rk.txt"))[.posixPermissions] as? Int
        #expect(mode == 0o400)
    }
}

@Suite struct VaultOpeningTests {
    @Test func aFolderWithoutAConfigIsNotAVault() throws {
        let scratch = Scratch()
        #expect(throws: VaultError.notAVault(path: scratch.path)) { _ = try Vault.open(at: scratch.path) }
        #expect(throws: VaultError.notFound("no vault at \(scratch.file("missing"))")) {
            _ = try Vault.open(at: scratch.file("missing"))
        }
    }

    @Test func aNewerFormatIsRefusedWithAClearError() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        let configPath = vault.path + "/" + Vault.configFileName
        var json = try String(contentsOfFile: configPath, encoding: .utf8)
        let current = VaultConfig.currentFormatVersion
        json = json.replacingOccurrences(of: "\"formatVersion\" : \(current)", with: "\"formatVersion\" : \(current + 1)")
        try json.write(toFile: configPath, atomically: false, encoding: .utf8)
        #expect(throws: VaultError.newerFormat(found: current + 1, supported: current)) { _ = try Vault.open(at: vault.path) }
    }

    @Test func aDamagedConfigIsAnIntegrityFailure() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        let configPath = vault.path + "/" + Vault.configFileName
        var json = try String(contentsOfFile: configPath, encoding: .utf8)
        json = json.replacingOccurrences(of: "\"vaultId\"", with: "\"vaultID\"")
        try json.write(toFile: configPath, atomically: false, encoding: .utf8)
        #expect(throws: VaultError.integrityFailure("\(vault.path)/casevault.json is damaged")) {
            _ = try Vault.open(at: vault.path)
        }
        try "not json".write(toFile: configPath, atomically: false, encoding: .utf8)
        #expect(throws: VaultError.notAVault(path: vault.path)) { _ = try Vault.open(at: vault.path) }
    }

    /// The vault id names the checkpoint file outside the vault: a path in
    /// it must not reach another file.
    @Test(arguments: ["../../../tmp/elsewhere", "267EF8F8-BB8F-4955-8FBE-B1E63FB3303B", ""])
    func aVaultIDThatIsNotALowerCaseUUIDIsRefused(id: String) throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        let configPath = vault.path + "/" + Vault.configFileName
        let json = try String(contentsOfFile: configPath, encoding: .utf8)
        try json.replacingOccurrences(of: vault.config.vaultId, with: id).write(toFile: configPath, atomically: false, encoding: .utf8)
        #expect(throws: VaultError.integrityFailure("\(vault.path)/casevault.json has a vault id that is not a lower-case UUID")) {
            _ = try Vault.open(at: vault.path)
        }
    }

    private func editConfig(_ vault: Vault, _ edit: (String) -> String) throws {
        let path = vault.path + "/" + Vault.configFileName
        try edit(try String(contentsOfFile: path, encoding: .utf8)).write(toFile: path, atomically: false, encoding: .utf8)
    }

    @Test func anEditedConfigIsCaughtAgainstTheSignedCreationEvent() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch, recoveryKey: scratch.file("rk.txt"))
        let attackerKey = String(repeating: "ab", count: 32)
        try editConfig(vault) { $0.replacingOccurrences(of: vault.config.recoveryPublicKey!, with: attackerKey) }
        #expect(throws: VaultError.integrityFailure("casevault.json differs from the settings recorded when the vault was created")) {
            _ = try Vault.open(at: vault.path)
        }
        try editConfig(vault) { $0.replacingOccurrences(of: attackerKey, with: vault.config.recoveryPublicKey!) }
        _ = try Vault.open(at: vault.path)
        try editConfig(vault) { $0.replacingOccurrences(of: "\"project-director\"", with: "\"project-director\", \"records-officer\"") }
        #expect(throws: VaultError.self) { _ = try Vault.open(at: vault.path) }
    }

    @Test func weakKeyDerivationIsRefusedUnlessTheVaultIsATestVault() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        try editConfig(vault) { $0.replacingOccurrences(of: "\"insecureTestingKDF\" : true", with: "\"insecureTestingKDF\" : false") }
        #expect(throws: VaultError.integrityFailure("casevault.json asks for key derivation below the interactive minimum")) {
            _ = try Vault.open(at: vault.path)
        }
    }

    @Test func aCatalogFromANewerCasevaultIsRefused() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        try attack(vault, "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        #expect(throws: VaultError.newerCatalog) { _ = try Vault.open(at: vault.path) }
    }

    @Test func aCorruptCatalogIsAnIntegrityFailure() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        try vault.close()
        let catalogPath = vault.path + "/" + Vault.catalogFileName
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: catalogPath))
        // The WAL would otherwise still supply the real pages.
        try? FileManager.default.removeItem(atPath: catalogPath + "-wal")
        try? FileManager.default.removeItem(atPath: catalogPath + "-shm")
        #expect(throws: VaultError.integrityFailure("the catalog database is damaged")) { _ = try Vault.open(at: vault.path) }
    }
}

@Suite struct VaultConfigSchemaTests {
    /// The schema in Schemas/ must describe exactly what we write: the same
    /// property names, all of them required except the optional recovery key.
    @Test func theConfigSchemaMatchesTheWrittenConfig() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch, recoveryKey: scratch.file("rk.txt"))
        let written = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: vault.path + "/" + Vault.configFileName))) as! [String: Any]
        let schemaURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Schemas/vault-config.schema.json").standardized
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: schemaURL)) as! [String: Any]
        let properties = Set((schema["properties"] as! [String: Any]).keys)
        #expect(Set(written.keys) == properties)
        #expect(Set(schema["required"] as! [String]) == properties.subtracting(["recoveryPublicKey"]))
        let kdf = (schema["properties"] as! [String: Any])["kdf"] as! [String: Any]
        #expect(Set((kdf["properties"] as! [String: Any]).keys) == Set((written["kdf"] as! [String: Any]).keys))
    }
}
