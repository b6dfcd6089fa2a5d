@testable import CaseVault
import CaseVaultCrypto
import Foundation
import GRDB
import Testing

/// The spelling rules alone (no vault).
@Suite struct ClientNameSpellingTests {
    @Test(arguments: [
        ["Mohammed", "Muhammad", "Mohamed", "MOHAMMAD", "Muhamad"],
        ["Yusuf", "Youssef", "Yousif", "Yusef"],
        ["Abdullahi", "Abdulahi", "Abdillahi"],
        ["Hassan", "Hasan", "Hussein", "Husain"],
        ["Fatuma", "Fatima", "Fatouma"],
        ["Mariam", "Maryam", "Meryem"],
        ["Ibrahim", "Ebrahim", "Ibraheem"],
        ["Omar", "Umar"],
        ["Khadija", "Kadija", "Khadijah"],
        ["Ahmed", "Ahmad"],
        ["Zainab", "Zeinab", "Sainab"],
        ["Élodie", "Elodie", "ELODIE"],
        ["محمد", "مُحَمَّد"],
        ["أحمد", "احمد"],
    ])
    func spellingsOfOneNameShareASkeleton(_ spellings: [String]) {
        let skeletons = Set(spellings.map { ClientNameIndex.skeleton(ClientNameIndex.parts($0).joined()) })
        #expect(skeletons.count == 1, "\(spellings) → \(skeletons)")
    }

    @Test func differentNamesKeepDifferentSkeletons() {
        let names = ["Amina", "Grace", "Joseph", "Halima", "Farah", "Peter", "Dora", "Yusuf", "Hassan", "Omar", "Otieno"]
        let skeletons = names.map { ClientNameIndex.skeleton($0.lowercased()) }
        #expect(Set(skeletons).count == names.count, "\(skeletons)")
    }

    @Test func partsSplitOnAnythingButLettersAndDigitsAndKeepApostrophesJoined() {
        #expect(ClientNameIndex.parts("  Amina-Yusuf   O'Brien\u{2019}s,  Ali ") == ["amina", "yusuf", "obriens", "ali"])
        #expect(ClientNameIndex.parts("") == [])
    }

    @Test func aSlipOfOneLetterMeetsAsCloseAndADeletionIsNeverAsSpelt() {
        let key = SecureBytes.random(count: 32)
        let (index, _) = ClientNameIndex.index(of: "Mohamed Yusuf", caseNumber: "CP-2024-0042", searchKey: key)
        func match(_ name: String) -> Int? {
            ClientNameIndex.score(query: ClientNameIndex.query(name), caseNumber: "CP-2024-0042", index: index, searchKey: key)
        }
        #expect(match("Muhammad Youssef") == 4)     // both as spelt
        #expect(match("Mohanmed") == 1)             // a letter changed: close
        #expect(match("Mohamedi Yusuf") == 4)       // a final vowel: the same skeleton
        #expect(match("Mohamd") == 2)               // a vowel less: the same skeleton
        #expect(match("Mhamed") == 2)
        #expect(match("Hamid") == 1 && match("Mahdi") == 1)  // a deletion of mhmd: close, never as spelt
        #expect(match("Mohamed Omar") == nil)       // every part must meet
        #expect(match("Yusup") == nil)              // three-letter skeletons have no deletions
    }

    @Test func shortNamesAreKeptAsWrittenAndFormatCharactersDropped() {
        #expect(ClientNameIndex.query("Li Wu") == ["li", "wu"])
        #expect(ClientNameIndex.parts("Zahra\u{200C}ullah") == ["zahraullah"])  // ZWNJ, as Dari typing has it
        #expect(ClientNameIndex.parts("ΣΟΦΙΑΣ") == ClientNameIndex.parts("σοφιασ"))  // final sigma
        #expect(throws: VaultError.self) { try Vault.validateClientName("Amina\u{202E}fusuY") }
        #expect(throws: VaultError.self) { try Vault.validateClientName("Amina\u{0007}") }
        #expect((try? Vault.validateClientName("Zahra\u{200C}ullah")) != nil)
    }

    @Test func anIndexIsAlwaysTheSameSizeSortedAndDistinct() {
        let key = SecureBytes.random(count: 32)
        for name in ["Al", "Amina Yusuf", String(repeating: "Abdirahman Mohamed Abdullahi ", count: 8)] {
            let (index, _) = ClientNameIndex.index(of: name, caseNumber: "CP-2024-0042", searchKey: key)
            #expect(index.count == ClientNameIndex.indexBytes && ClientNameIndex.isWellFormed(index))
            // Naming the same name again gives the same index: the padding shows nothing.
            #expect(ClientNameIndex.index(of: name, caseNumber: "CP-2024-0042", searchKey: key).index == index)
        }
        let (long, dropped) = ClientNameIndex.index(of: "Abdirahman Mohamedkhalif Abdullahinur Ismailhussein Osmanfarah Warsamedirie Christopherson Bartholomew",
                                                   caseNumber: "CP-2024-0042", searchKey: key)
        #expect(ClientNameIndex.isWellFormed(long) && dropped > 0)
    }

    /// scripts/client-name-index.py is written from SECURITY.md §12e
    /// alone: the same keys and tokens, or the document is not exact.
    @Test func theIndexIsWhatSecurityMdSaysAnIndependentScriptAgrees() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/client-name-index.py").standardized.path
        let key = SecureBytes.random(count: 32)
        let hex = key.withUnsafeBytes { Array($0) }.hexString
        for name in ["Mohammed Abdullahi Yusuf", "Élodie N'Golo-Kanté", "Khadija Shukri Chege", "Zhou Xiaoqing",
                     "محمد عبد الله", "Ibraheem  O'Brien-Ochieng 2nd", "Ąžuolas Šimkus", "Li Wu", "ΣΟΦΙΑΣ Παπαδοπούλου",
                     "زهرا\u{200C}الله", "ＡＭＩＮＡ"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script, hex, "CP-2024-0042", name]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            var mine = ClientNameIndex.keys(ofName: name).map {
                "\($0.kind.rawValue):\($0.text)\t\(ClientNameIndex.token($0, caseNumber: "CP-2024-0042", searchKey: key).hexString)"
            }
            mine.append(ClientNameIndex.index(of: name, caseNumber: "CP-2024-0042", searchKey: key).index.hexString)
            #expect(text == mine.map { $0 + "\n" }.joined(), "\(name)")
        }
    }

    @Test func theSameNameInTwoCasesGivesUnrelatedTokens() {
        let key = SecureBytes.random(count: 32)
        let amn = ClientNameIndex.Key(kind: .exact, text: "amn")
        let a = ClientNameIndex.token(amn, caseNumber: "CP-2024-0001", searchKey: key)
        let b = ClientNameIndex.token(amn, caseNumber: "CP-2024-0002", searchKey: key)
        let c = ClientNameIndex.token(amn, caseNumber: "CP-2024-0001", searchKey: SecureBytes.random(count: 32))
        #expect(a != b && a != c && a.count == ClientNameIndex.tokenBytes)
    }
}

@Suite struct FindTests {
    func programme() throws -> (Programme, [String]) {
        let p = try Programme()
        let numbers = try [41, 42, 43].map { try p.openCase(client: $0) }
        return (p, numbers)
    }

    @Test func aMisspeltNameFindsTheCaseAndOnlyIt() throws {
        let (p, numbers) = try programme()
        let naming = try p.vault.nameClient(of: numbers[1], name: "Amina Mohamed Abdullahi", by: p["farah"])
        #expect(naming.createdSearchKey)
        // Every member who may search got the key: not the auditor.
        #expect(Set(naming.sharedWith) == ["amina", "grace", "joseph", "halima", "dora"])
        try p.vault.nameClient(of: numbers[0], name: "Fatuma Hassan", by: p["farah"])
        try p.vault.nameClient(of: numbers[2], name: "Amina Warsame", by: p["halima"])
        for (query, expected) in [("Aminah Muhammad", [numbers[1]]), ("abdulahi", [numbers[1]]), ("Fatima Hussein", [numbers[0]]),
                                  ("amina", [numbers[1], numbers[2]]), ("Mohanmed", [numbers[1]]), ("Grace", [])] {
            var search = CaseSearch()
            search.clientName = query
            let found = try p.vault.findCases(search, by: p["grace"]).map(\.file.number.description)
            #expect(found.sorted() == expected.sorted(), "\(query)")
        }
        var search = CaseSearch()
        search.clientName = "Amina Mohamed"
        let best = try p.vault.findCases(search, by: p["joseph"])
        #expect(best.first?.file.number.description == numbers[1] && best.first?.nameMatch == .asSpelt)
        // And with other criteria: both must hold.
        search.clientName = "Amina"
        search.numberPrefix = "CP-2024-0043"
        #expect(try p.vault.findCases(search, by: p["dora"]).map(\.file.number.description) == [numbers[2]])
    }

    @Test func noClientNameIsStoredAnywhereInTheVaultFolder() throws {
        let (p, numbers) = try programme()
        try p.vault.nameClient(of: numbers[0], name: "Zainab Ochieng Wairimu", by: p["farah"])
        // (Skeletons of three letters would meet random bytes by chance; the longer ones may not appear.)
        let needles = ["Zainab", "zainab", "ZAINAB", "Ochieng", "ochieng", "Wairimu", "wairimu", "ochng"]
        // Every file as bytes, the catalog's WAL included.
        let files = FileManager.default.enumerator(atPath: p.vault.path)?.allObjects as? [String] ?? []
        #expect(files.contains { $0.hasPrefix("catalog") })
        for file in files {
            guard let data = FileManager.default.contents(atPath: p.vault.path + "/" + file) else { continue }
            for needle in needles { #expect(data.range(of: Data(needle.utf8)) == nil, "\(needle) in \(file)") }
        }
    }

    @Test func anAuditorNeitherNamesNorSearchesAndARecordsOfficerDoes() throws {
        let (p, numbers) = try programme()
        #expect(throws: VaultError.self) { try p.vault.nameClient(of: numbers[0], name: "Amina", by: p["peter"]) }
        try p.vault.nameClient(of: numbers[0], name: "Amina", by: p["farah"])
        var search = CaseSearch()
        search.clientName = "Amina"
        #expect(throws: VaultError.self) { try p.vault.findCases(search, by: p["peter"]) }
        #expect(try p.vault.findCases(search, by: p["farah"]).count == 1)
    }

    @Test func aCaseManagerNamesOnlyTheirOwnCases() throws {
        let (p, numbers) = try programme()
        try p.vault.nameClient(of: numbers[0], name: "Amina", by: p["farah"])
        #expect(throws: VaultError.self) { try p.vault.nameClient(of: numbers[0], name: "Amina", by: p["joseph"]) }
        try p.vault.nameClient(of: numbers[0], name: "Amina Y", by: p["grace"])
    }

    @Test func aMemberAddedLaterGetsTheKeyFromTheAdmin() throws {
        let (p, numbers) = try programme()
        try p.vault.nameClient(of: numbers[0], name: "Amina Yusuf", by: p["farah"])
        try p.vault.addStaff(id: "wanjiru", name: "Wanjiru Kamau", role: .recordsOfficer,
                             passphrase: try p.scratch.passphrase("wanjiru passphrase!"), by: p["amina"])
        let wanjiru = try p.vault.unlock(staffID: "wanjiru", passphrase: try p.scratch.passphrase("wanjiru passphrase!"))
        var search = CaseSearch()
        search.clientName = "Yousuf"
        #expect(try p.vault.findCases(search, by: wanjiru).map(\.file.number.description) == [numbers[0]])
    }

    @Test func anIndexEditedCopiedOrDeletedIsAnIntegrityFailureNotAMissingCase() throws {
        for attack in ["copy", "edit", "delete", "randomise"] {
            let (p, numbers) = try programme()
            try p.vault.nameClient(of: numbers[0], name: "Amina Yusuf", by: p["farah"])
            var search = CaseSearch()
            search.clientName = "Amina Yusuf"
            #expect(try p.vault.findCases(search, by: p["grace"]).map(\.file.number.description) == [numbers[0]])
            switch attack {
            case "copy": try p.tamper("INSERT INTO client_indexes SELECT '\(numbers[1])', tokens, seq, index_hash FROM client_indexes")
            case "edit": try p.tamper("UPDATE client_indexes SET seq = seq + 1")
            case "delete": try p.tamper("DELETE FROM client_indexes")
            default: try p.tamper("UPDATE client_indexes SET tokens = randomblob(384)")
            }
            // Whichever case the attack touched, find says so instead of leaving a case out.
            #expect(throws: VaultError.self, "\(attack)") { try p.vault.findCases(search, by: p["grace"]) }
            #expect(try !p.vault.verify().isClean, "\(attack)")
        }
    }

    /// farah creates the key (sealed to herself) and then seals another
    /// key to joseph: every grant must carry the first one's key check.
    @Test func aKeyOtherThanTheVaultsCannotBeSealedToAMember() throws {
        let (p, _) = try programme()
        func grant(_ key: SecureBytes, to id: String, check: SecureBytes? = nil) throws {
            try p.vault.write { writer, head in
                let member = try #require(try head.signedState(writer).staff(id))
                let sealed = SealedBox.seal(key, to: try member.boxKey)
                try Ledger.append([.searchKeyGranted(SearchKeyGranted(holder: id, holderPublicKey: member.boxPublicKey,
                                                                      keyCheck: ClientNameIndex.keyCheck(check ?? key),
                                                                      sealedKeyHash: try Ledger.putBlob(sealed, in: writer)))],
                                  by: p["farah"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        let vaults = SecureBytes.random(count: 32), other = SecureBytes.random(count: 32)
        try grant(vaults, to: "farah")
        #expect(throws: VaultError.self) { try grant(other, to: "joseph") }
        // A lying check is caught when the key is opened: joseph's copy is not the vault's.
        try grant(other, to: "joseph", check: vaults)
        var search = CaseSearch()
        search.clientName = "Amina"
        #expect { try p.vault.findCases(search, by: p["joseph"]) } throws: { error in
            if case VaultError.integrityFailure(let message) = error { return message.contains("not the vault's") }
            return false
        }
    }

    @Test func aDeletedSearchKeyRowIsFoundNotReplacedByANewKey() throws {
        let (p, numbers) = try programme()
        try p.vault.nameClient(of: numbers[0], name: "Amina Yusuf", by: p["farah"])
        try p.tamper("DELETE FROM search_keys")
        // Creating a second key would make every earlier index unfindable: refused as tampering.
        #expect(throws: VaultError.self) { try p.vault.nameClient(of: numbers[1], name: "Fatuma", by: p["halima"]) }
    }

    /// The tokens of a case's index, as the catalog keeps them.
    static func tokens(_ vault: Vault, _ number: String) throws -> Data? {
        try blob(vault, number).map { Data($0.dropFirst(ClientNameIndex.saltBytes)) }
    }

    /// The blob of a case's v18 index (its salt, then its tokens), as the catalog's row copies it.
    static func blob(_ vault: Vault, _ number: String) throws -> Data? {
        try catalogRows(vault, "SELECT tokens FROM client_indexes WHERE case_number = '\(number)' AND index_hash IS NOT NULL").first?["tokens"]
    }

    static func split(_ index: Data) -> [Data] {
        stride(from: 0, to: index.count, by: ClientNameIndex.tokenBytes).map { Data(index[$0..<$0 + ClientNameIndex.tokenBytes]) }
    }

    /// Whether `bytes` are anywhere in the catalog's database file or its write-ahead log.
    static func inCatalogFiles(_ vault: Vault, _ bytes: Data) -> Bool {
        [Vault.catalogFileName, Vault.catalogFileName + "-wal"].contains { name in
            FileManager.default.contents(atPath: vault.path + "/" + name)?.range(of: bytes) != nil
        }
    }

    static func blobCount(_ vault: Vault, holding bytes: Data) throws -> Int {
        try catalogRows(vault, "SELECT COUNT(*) AS n FROM blobs WHERE instr(bytes, X'\(Array(bytes).hexString)') > 0").first?["n"] ?? -1
    }

    /// Whether any of an index's tokens is anywhere in the catalog: in an
    /// event body (in hex, as events carried them before v18), in a blob
    /// (as bytes, or in hex: an imported case's history holds its events),
    /// or in a row of `client_indexes`.
    static func tokensRemain(_ vault: Vault, _ index: Data) throws -> Bool {
        let tokens = stride(from: 0, to: index.count, by: ClientNameIndex.tokenBytes).map { Data(index[$0..<$0 + ClientNameIndex.tokenBytes]) }
        for token in tokens {
            let hex = Array(token).hexString
            let found = try catalogRows(vault, """
                SELECT (SELECT COUNT(*) FROM events WHERE instr(CAST(body AS TEXT), '\(hex)') > 0)
                     + (SELECT COUNT(*) FROM blobs WHERE instr(bytes, X'\(hex)') > 0 OR instr(CAST(bytes AS TEXT), '\(hex)') > 0)
                     + (SELECT COUNT(*) FROM client_indexes WHERE instr(tokens, X'\(hex)') > 0) AS n
                """).first?["n"] as Int? ?? 0
            if found > 0 { return true }
        }
        return false
    }

    /// Since v18 a naming's tokens are a blob the event names: the log
    /// never holds them, and naming the client again erases the spelling
    /// it replaces.
    @Test func theTokensAreAnErasableBlobThatARenamingErases() throws {
        let (p, numbers) = try programme()
        try p.vault.nameClient(of: numbers[0], name: "Amina Yusuf", by: p["farah"])
        let first = try #require(try Self.tokens(p.vault, numbers[0]))
        let firstBlob = try #require(try Self.blob(p.vault, numbers[0]))
        #expect(first.count == ClientNameIndex.indexBytes && firstBlob.count == ClientNameIndex.blobBytes)
        #expect(try Self.blobCount(p.vault, holding: first) == 1)
        #expect(try catalogRows(p.vault, "SELECT COUNT(*) AS n FROM events WHERE instr(CAST(body AS TEXT), '\(Array(first.prefix(8)).hexString)') > 0")
            .first?["n"] == 0)
        // The hash the log keeps is of the salted blob: a search-key holder
        // who computes a guess's index cannot test it against the log.
        let hash: String = try #require(try catalogRows(p.vault, "SELECT index_hash FROM client_indexes").first?["index_hash"])
        #expect(hash == Blake2b.hash(Array(firstBlob)).hexString && hash != Blake2b.hash(Array(first)).hexString)
        // The same spelling again: the same tokens, under a new salt; the old blob goes.
        try p.vault.nameClient(of: numbers[0], name: "Amina Yusuf", by: p["grace"])
        #expect(try Self.tokens(p.vault, numbers[0]) == first)
        #expect(try Self.blob(p.vault, numbers[0]) != firstBlob)
        #expect(try Self.blobCount(p.vault, holding: firstBlob) == 0 && Self.blobCount(p.vault, holding: first) == 1)
        try p.vault.nameClient(of: numbers[0], name: "Amina Yusuf Warsame", by: p["farah"])
        let second = try #require(try Self.tokens(p.vault, numbers[0]))
        #expect(second != first)
        // The replaced index is in no blob, and its bytes in neither of the catalog's files (secure_delete, the WAL emptied).
        #expect(try Self.blobCount(p.vault, holding: first) == 0)
        // (The tokens of "amina" and "yusuf" are in both: the others only in the replaced one.)
        let gone = Set(Self.split(first)).subtracting(Self.split(second))
        #expect(!gone.isEmpty && gone.allSatisfy { !Self.inCatalogFiles(p.vault, $0) })
        var search = CaseSearch()
        search.clientName = "Warsame"
        #expect(try p.vault.findCases(search, by: p["grace"]).map(\.file.number.description) == [numbers[0]])
        let report = try p.vault.verify()
        #expect(report.isClean, "\(report.findings)")
    }

    /// An index written before v18 (its tokens in the event) still reads,
    /// replays and is replaced; a v18 event cannot name a blob another
    /// record names (erasing it with the index would take it from that
    /// record), nor carry both forms or neither.
    @Test func anOlderIndexStillReadsAndAnIndexCannotNameAnotherRecordsBlob() throws {
        let (p, numbers) = try programme()
        try p.vault.nameClient(of: numbers[0], name: "Amina Yusuf", by: p["farah"])
        let v18 = try #require(try Self.tokens(p.vault, numbers[0]))
        func append(_ data: ClientNamed) throws {
            try p.vault.write { writer, head in
                try Ledger.append([.clientNamed(data)], by: p["farah"], at: Date(), vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        let key: SecureBytes = try p.vault.read { reader, head in
            let signed = head.signedState(reader)
            let mine = try #require(try signed.searchKeys().first { $0.holder == "farah" })
            return try p["farah"].keys.unseal(try signed.blob(mine.sealedKeyHash, what: "farah's search key"))
        }
        let (older, _) = ClientNameIndex.index(of: "Fatuma Hassan", caseNumber: numbers[1], searchKey: key)
        try append(ClientNamed(case: numbers[1], index: older.hexString))
        var search = CaseSearch()
        search.clientName = "Fatima Hussein"
        #expect(try p.vault.findCases(search, by: p["grace"]).map(\.file.number.description) == [numbers[1]])
        // Replaced by a v18 naming: the row now names a blob.
        try p.vault.nameClient(of: numbers[1], name: "Fatuma Hassan Ali", by: p["farah"])
        #expect(try catalogRows(p.vault, "SELECT index_hash FROM client_indexes WHERE case_number = '\(numbers[1])'").first?["index_hash"] as String? != nil)
        // And a v18 index replaced by an older one: its blob goes.
        let (again, _) = ClientNameIndex.index(of: "Amina Yusuf", caseNumber: numbers[0], searchKey: key)
        try append(ClientNamed(case: numbers[0], index: again.hexString))
        #expect(try Self.blobCount(p.vault, holding: v18) == 0)
        let wrapped: String = try #require(try catalogRows(p.vault, "SELECT wrapped_keys_hash FROM staff WHERE id = 'farah'").first?["wrapped_keys_hash"])
        #expect(throws: VaultError.self) { try append(ClientNamed(case: numbers[2], indexHash: wrapped)) }
        // Another case's index: a well-formed blob, refused only because another record names it.
        let others: String = try #require(try catalogRows(p.vault, "SELECT index_hash FROM client_indexes WHERE case_number = '\(numbers[1])'")
            .first?["index_hash"])
        #expect(throws: VaultError.self) { try append(ClientNamed(case: numbers[2], indexHash: others)) }
        #expect(try Self.blobCount(p.vault, holding: try #require(try Self.tokens(p.vault, numbers[1]))) == 1)
        #expect(throws: VaultError.self) { try append(ClientNamed(case: numbers[2], index: older.hexString, indexHash: wrapped)) }
        #expect(throws: VaultError.self) { try append(ClientNamed(case: numbers[2])) }
        // Appended, the blob must be stored with the event, and be a salt and an index.
        #expect(throws: VaultError.self) { try append(ClientNamed(case: numbers[2], indexHash: String(repeating: "ab", count: 32))) }
        #expect(throws: VaultError.self) {
            try p.vault.write { writer, head in
                let hash = try Ledger.putBlob(Array(older), in: writer)  // no salt
                try Ledger.append([.clientNamed(ClientNamed(case: numbers[2], indexHash: hash))], by: p["farah"], at: Date(),
                                  vaultID: p.vault.config.vaultId, head: &head, in: writer)
            }
        }
        #expect(try catalogRows(p.vault, "SELECT COUNT(*) AS n FROM staff WHERE wrapped_keys_hash = '\(wrapped)'").first?["n"] == 1)
        #expect(try p.vault.verify().isClean)
    }

    /// A replaced index's blob put back by hand is a fault `verify` names,
    /// as a disposed case's sealed key would be.
    @Test func aReplacedIndexsBlobPutBackIsNotErasedAndVerifySaysSo() throws {
        let (p, numbers) = try programme()
        try p.vault.nameClient(of: numbers[0], name: "Amina Yusuf", by: p["farah"])
        let first = try #require(try Self.blob(p.vault, numbers[0]))
        try p.vault.nameClient(of: numbers[0], name: "Amina Warsame", by: p["farah"])
        #expect(try p.vault.verify().isClean)
        try attack(p.vault, "INSERT INTO blobs (hash, bytes) VALUES (?, ?)", arguments: [Blake2b.hash(Array(first)).hexString, first])
        #expect(try p.vault.verify().findings.contains { $0.kind == .blobNotErased })
    }

    /// The blob deleted by hand is found by `verify`; the row's tokens
    /// emptied or altered, by `find` itself.
    @Test func anIndexBlobDeletedOrItsTokensClearedIsFound() throws {
        let (p, numbers) = try programme()
        try p.vault.nameClient(of: numbers[0], name: "Amina Yusuf", by: p["farah"])
        try p.tamper("DELETE FROM blobs WHERE hash = (SELECT index_hash FROM client_indexes)")
        #expect(try p.vault.verify().findings.contains { $0.kind == .blobMissing })
        try p.tamper("UPDATE client_indexes SET tokens = X''")
        var search = CaseSearch()
        search.clientName = "Amina"
        #expect(throws: VaultError.self) { try p.vault.findCases(search, by: p["grace"]) }
    }

    @Test func disposalForgetsTheClientsNameAndVerifyReplaysTheIndex() throws {
        let s = try DisposalTests.Scene()
        try s.p.vault.nameClient(of: s.gone, name: "Amina Yusuf", by: s.p["farah"])
        try s.p.vault.nameClient(of: s.kept, name: "Amina Warsame", by: s.p["farah"])
        let gone = try #require(try Self.tokens(s.p.vault, s.gone))
        #expect(try Self.tokensRemain(s.p.vault, gone))
        try s.approve()
        try s.apply()
        // Its tokens are nowhere: not in a row, a blob or an event, nor in the catalog's files.
        #expect(try !Self.tokensRemain(s.p.vault, gone))
        #expect(Self.split(gone).allSatisfy { !Self.inCatalogFiles(s.p.vault, $0) })
        var search = CaseSearch()
        search.clientName = "Amina"
        #expect(try s.p.vault.findCases(search, by: s.p["grace"]).map(\.file.number.description) == [s.kept])
        #expect(try s.rows("SELECT case_number FROM client_indexes", "case_number") as [String] == [s.kept])
        #expect(try s.p.vault.verify().isClean)
    }

    @Test func findWithoutANameNeedsNoKeyAndFiltersByNumberPrefix() throws {
        let (p, _) = try programme()
        var search = CaseSearch()
        search.numberPrefix = "cp-2024-004"
        #expect(try p.vault.findCases(search, by: nil).count == 3)
        search.filter.managerID = "joseph"
        #expect(try p.vault.findCases(search, by: nil).isEmpty)
    }
}
