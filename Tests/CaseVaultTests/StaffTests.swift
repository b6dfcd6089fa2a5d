@testable import CaseVault
import CaseVaultCrypto
import CaseVaultSQLite
import Foundation
import GRDB
import Testing

@Suite struct StaffTests {
    @Test func theAdminUnlocksAndAddsStaff() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        let admin = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
        #expect(admin.role == .admin)
        let added = try vault.addStaff(id: "grace", name: "Grace Otieno", role: .caseManager,
                                       passphrase: try scratch.passphrase("grace's passphrase"), by: admin)
        #expect(added.createdBy == "amina")
        #expect(try vault.staff().map(\.id) == ["amina", "grace"])
        let grace = try vault.unlock(staffID: "grace", passphrase: try scratch.passphrase("grace's passphrase"))
        #expect(grace.member == added)
        #expect(grace.boxKeys.publicKey.bytes.hexString == added.boxPublicKeyHex)
        #expect(grace.signingKeys.publicKey.bytes.hexString == added.signingPublicKeyHex)
    }

    @Test func aWrongPassphraseIsRefused() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        #expect(throws: VaultError.wrongPassphrase(staffID: "amina")) {
            _ = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase("Correct horse battery staple"))
        }
        #expect(throws: VaultError.notFound("no staff member with id 'nobody'")) {
            _ = try vault.unlock(staffID: "nobody", passphrase: try scratch.passphrase(adminPassphrase))
        }
    }

    @Test(arguments: [Role.recordsOfficer, .caseManager, .caseSupervisor, .projectDirector, .auditor])
    func onlyAnAdminMayAddStaff(role: Role) throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        let admin = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
        try vault.addStaff(id: "someone", name: "Some One", role: role,
                           passphrase: try scratch.passphrase("someone's passphrase"), by: admin)
        let someone = try vault.unlock(staffID: "someone", passphrase: try scratch.passphrase("someone's passphrase"))
        let said: [Role: String] = [.recordsOfficer: "a records officer", .caseManager: "a case manager", .caseSupervisor: "a case supervisor",
                                    .projectDirector: "a project director", .auditor: "an auditor"]
        #expect(throws: VaultError.accessDenied("only an admin may add staff; 'someone' is \(said[role]!)")) {
            try vault.addStaff(id: "other", name: "Other", role: .auditor,
                               passphrase: try scratch.passphrase("other's passphrase"), by: someone)
        }
        #expect(try vault.staff().count == 2)
    }

    @Test func theFirstMemberOfAnEmptyVaultMustBeAnAdminAndOnlyTheFirst() throws {
        let scratch = Scratch()
        var options = Vault.CreationOptions()
        options.insecureTestingKDF = true
        let vault = try Vault.create(at: scratch.file("v"), options: options)
        let fingerprint = vault.config.settingsFingerprint
        try vault.addFirstAdmin(id: "root", name: "First Admin", passphrase: try scratch.passphrase("first admin passphrase"),
                                settingsFingerprint: fingerprint)
        #expect(throws: VaultError.accessDenied("this vault already has staff; act as an admin (--as ID) to add more")) {
            try vault.addFirstAdmin(id: "second", name: "Second Admin", passphrase: try scratch.passphrase("second admin passphrase"),
                                    settingsFingerprint: fingerprint)
        }
        #expect(try vault.staff().map(\.id) == ["root"])
    }

    @Test func identifiersNamesAndPassphrasesAreChecked() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        let admin = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
        for badID in ["", "a", "Grace", "-grace", "grace smith", "grace/../x", String(repeating: "a", count: 65)] {
            #expect(throws: VaultError.self) {
                try vault.addStaff(id: badID, name: "Grace", role: .auditor,
                                   passphrase: try scratch.passphrase("a long passphrase"), by: admin)
            }
        }
        for badName in ["", " Grace", "Grace\u{7}"] {
            #expect(throws: VaultError.self) {
                try vault.addStaff(id: "grace", name: badName, role: .auditor,
                                   passphrase: try scratch.passphrase("a long passphrase"), by: admin)
            }
        }
        #expect(throws: VaultError.invalidInput("a new passphrase must be at least 12 characters long")) {
            try vault.addStaff(id: "grace", name: "Grace", role: .auditor, passphrase: try scratch.passphrase("elevenchars"), by: admin)
        }
        try vault.addStaff(id: "grace", name: "Grace", role: .auditor, passphrase: try scratch.passphrase("a long passphrase"), by: admin)
        #expect(throws: VaultError.alreadyExists("staff member 'grace' already exists")) {
            try vault.addStaff(id: "grace", name: "Grace Two", role: .auditor,
                               passphrase: try scratch.passphrase("a long passphrase"), by: admin)
        }
        #expect(try vault.staff().map(\.id) == ["amina", "grace"])
    }

    @Test func changingThePassphraseRetiresTheOldOne() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        let admin = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
        try vault.changePassphrase(of: admin, to: try scratch.passphrase("a brand new passphrase"))
        #expect(throws: VaultError.wrongPassphrase(staffID: "amina")) {
            _ = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
        }
        let again = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase("a brand new passphrase"))
        #expect(again.boxKeys.publicKey == admin.boxKeys.publicKey)
    }

    @Test func wrappedKeysSwappedBetweenMembersAreCaught() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        let admin = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
        try vault.addStaff(id: "grace", name: "Grace", role: .caseManager, passphrase: try scratch.passphrase("grace passphrase"), by: admin)
        let amina: String = try catalogRows(vault, "SELECT wrapped_keys_hash FROM staff WHERE id = 'amina'")[0][0]
        let grace: String = try catalogRows(vault, "SELECT wrapped_keys_hash FROM staff WHERE id = 'grace'")[0][0]
        // Someone with write access to the catalog points amina's row at grace's blob…
        try attack(vault, "UPDATE staff SET wrapped_keys_hash = (SELECT wrapped_keys_hash FROM staff WHERE id = 'grace') WHERE id = 'amina'")
        #expect(throws: VaultError.integrityFailure("staff member 'amina' in the catalog differs from its signed state")) {
            _ = try Vault.open(at: vault.path).unlock(staffID: "amina", passphrase: try scratch.passphrase("grace passphrase"))
        }
        // …or copies grace's blob over amina's, keeping amina's hash.
        try attack(vault, "UPDATE staff SET wrapped_keys_hash = ? WHERE id = 'amina'", arguments: [amina])
        try attack(vault, "UPDATE blobs SET bytes = (SELECT bytes FROM blobs WHERE hash = ?) WHERE hash = ?", arguments: [grace, amina])
        #expect(throws: VaultError.integrityFailure("the catalog's copy of the wrapped keys of 'amina' does not match its signed hash")) {
            _ = try Vault.open(at: vault.path).unlock(staffID: "amina", passphrase: try scratch.passphrase("grace passphrase"))
        }
    }

    @Test func aTamperedWrappedKeyFailsClosed() throws {
        let scratch = Scratch()
        let vault = try makeVault(in: scratch)
        try attack(vault, "UPDATE blobs SET bytes = substr(bytes, 1, 70) WHERE hash = (SELECT wrapped_keys_hash FROM staff WHERE id = 'amina')")
        #expect(throws: VaultError.integrityFailure("the catalog's copy of the wrapped keys of 'amina' does not match its signed hash")) {
            _ = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
        }
    }

    @Test func newPassphrasesAreCountedInCharactersNotBytes() throws {
        let scratch = Scratch()
        // Six Arabic letters are twelve UTF-8 bytes but six characters.
        #expect(throws: VaultError.invalidInput("a new passphrase must be at least 12 characters long")) {
            try scratch.passphrase("كلمةسر").validateAsNew()
        }
        try scratch.passphrase("كلمة سر طويلة جدا").validateAsNew()
    }

    @Test func passphrasesAreReadFromTheFirstLineOnly() throws {
        let scratch = Scratch()
        try "first line\r\nsecond line\n".write(toFile: scratch.file("pw"), atomically: false, encoding: .utf8)
        let passphrase = try Passphrase(contentsOfFile: scratch.file("pw"))
        #expect(passphrase.count == "first line".utf8.count)
        // A lone carriage return at the very end, with no newline, is kept.
        try "ends with cr\r".write(toFile: scratch.file("cr"), atomically: false, encoding: .utf8)
        #expect(try Passphrase(contentsOfFile: scratch.file("cr")).count == "ends with cr\r".utf8.count)
        try "\n".write(toFile: scratch.file("empty"), atomically: false, encoding: .utf8)
        #expect(throws: VaultError.invalidInput("empty passphrase from \(scratch.file("empty"))")) {
            _ = try Passphrase(contentsOfFile: scratch.file("empty"))
        }
        #expect(throws: VaultError.notFound("passphrase file \(scratch.file("nope")) does not exist")) {
            _ = try Passphrase(contentsOfFile: scratch.file("nope"))
        }
        try String(repeating: "x", count: 2_000).write(toFile: scratch.file("long"), atomically: false, encoding: .utf8)
        #expect(throws: VaultError.self) { _ = try Passphrase(contentsOfFile: scratch.file("long")) }
        #expect(throws: VaultError.invalidInput("passphrase file \(scratch.path) is not a regular file")) {
            _ = try Passphrase(contentsOfFile: scratch.path)
        }
    }
}

/// Invariant 1 of design §6, for what exists so far: no passphrase and no
/// secret key byte string anywhere under the vault or the temp folder.
@Suite struct SecretScanTests {
    @Test func neitherPassphrasesNorSecretKeysReachTheDisk() throws {
        let scratch = Scratch()
        let tempBefore = temporaryFiles()
        let vault = try makeVault(in: scratch, recoveryKey: scratch.file("offline-recovery.txt"))
        let admin = try vault.unlock(staffID: "amina", passphrase: try scratch.passphrase(adminPassphrase))
        let gracePassphrase = "unique-marker-passphrase-7f3a9c"
        try vault.addStaff(id: "grace", name: "Grace", role: .caseManager, passphrase: try scratch.passphrase(gracePassphrase), by: admin)
        let grace = try vault.unlock(staffID: "grace", passphrase: try scratch.passphrase(gracePassphrase))
        try vault.changePassphrase(of: grace, to: try scratch.passphrase("second-marker-passphrase-1b2c"))

        let secrets: [(String, [UInt8])] = [
            ("admin passphrase", Array(adminPassphrase.utf8)),
            ("grace passphrase", Array(gracePassphrase.utf8)),
            ("grace new passphrase", Array("second-marker-passphrase-1b2c".utf8)),
            ("admin X25519 secret", admin.boxKeys.secretKey.withUnsafeBytes { Array($0) }),
            ("admin Ed25519 seed", admin.signingKeys.secretKey.withUnsafeBytes { Array($0.prefix(32)) }),
            ("grace X25519 secret", grace.boxKeys.secretKey.withUnsafeBytes { Array($0) }),
            ("grace Ed25519 seed", grace.signingKeys.secretKey.withUnsafeBytes { Array($0.prefix(32)) }),
        ]
        for (label, bytes) in secrets {
            #expect(anyFile(under: vault.path, contains: bytes) == nil, "\(label) found under the vault")
            #expect(newTemporaryFiles(since: tempBefore, containing: bytes).isEmpty, "\(label) found in the temp folder")
        }
    }
}
