public import Foundation
internal import CaseVaultCrypto

/// What `casevault find` looks for; nil means any.
public struct CaseSearch: Sendable {
    public var filter = CaseFilter()
    /// The start of the case number, e.g. `CP-2024` or `CP-2024-004`.
    public var numberPrefix: String?
    /// The client's name as the searcher spells it (SECURITY.md §12e).
    public var clientName: String?
    public init() {}
}

/// One case `find` found.
public struct FoundCase: Sendable {
    public let file: CaseFile
    /// For a search by name: 2 for each part of the name whose spelling
    /// (as its skeleton) is the client's, 1 for each a letter away.
    public let nameScore: Int?
    /// For a search by name: every part met as spelt, or some only a letter away.
    public let nameMatch: NameMatch?

    public enum NameMatch: String, Sendable {
        case asSpelt = "as-spelt"
        case close
    }
}

/// What naming a client did.
public struct ClientNaming: Sendable {
    public let caseNumber: String
    /// The vault had no search key; this naming created it.
    public let createdSearchKey: Bool
    /// Members the search key was sealed to on the way (new holders).
    public let sharedWith: [String]
    /// Spellings of the name that did not fit the index (a very long name).
    public let droppedKeys: Int
}

extension Vault {
    /// Records the client's name of a case as its index of keyed tokens
    /// (`case.client-named`), replacing any earlier one. The name itself is
    /// kept nowhere. The first naming in a vault creates its search key;
    /// any naming also seals the key to searching members who lack it.
    public func nameClient(of caseNumber: String, name: String, by actor: StaffIdentity, now: Date = Date()) throws -> ClientNaming {
        let number = try CaseNumber.parse(caseNumber).description
        try Self.validateClientName(name)
        guard Policy.searchingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("\(actor.role.withArticle) does not name clients or search by name")
        }
        guard !ClientNameIndex.keys(ofName: name).isEmpty else {
            throw VaultError.invalidInput("'\(name)' has no part of two letters or more to find the client by")
        }
        return try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.keptCase(number)
            if actor.role == .caseManager || actor.role == .caseSupervisor,
               actor.id != state.case.manager, actor.id != state.case.supervisor {
                throw VaultError.accessDenied("'\(actor.id)' neither manages nor supervises \(number); ask its manager, its supervisor or a records officer")
            }
            let (key, created, shared) = try ensureSearchKey(by: actor, now: now, head: &head, writer: writer)
            let (index, dropped) = ClientNameIndex.index(of: name, caseNumber: number, searchKey: key)
            try Ledger.append([.clientNamed(ClientNamed(case: number, index: index.hexString))],
                              by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            return ClientNaming(caseNumber: number, createdSearchKey: created, sharedWith: shared, droppedKeys: dropped)
        }
    }

    /// A client's name: 1…200 characters, at most `maxNameBytes` bytes, no
    /// control characters.
    static func validateClientName(_ name: String) throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw VaultError.invalidInput("the client's name is empty") }
        guard name.count <= 200, name.utf8.count <= ClientNameIndex.maxNameBytes else {
            throw VaultError.invalidInput("the client's name is longer than 200 characters or \(ClientNameIndex.maxNameBytes) bytes")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format }) else {
            throw VaultError.invalidInput("the client's name holds a control or formatting character")
        }
    }

    /// The vault's search key, unsealed for the actor, creating it (sealed
    /// to the actor first) when the vault has none, and sealing it to every
    /// member of a searching role who lacks it.
    func ensureSearchKey(by actor: StaffIdentity, now: Date, head: inout TrustedHead,
                         writer: any CatalogWriter) throws -> (key: SecureBytes, created: Bool, shared: [String]) {
        let signed = head.signedState(writer)
        let holders = try signed.searchKeys()
        let created = holders.isEmpty
        let key: SecureBytes
        var events: [EventData] = []
        if created {
            // The creator's own copy first (the projection's rule).
            key = SecureBytes.random(count: ClientNameIndex.searchKeyBytes)
            guard let me = try signed.staff(actor.id) else { throw try signed.missingStaff(actor.id) }
            events.append(.searchKeyGranted(try sealSearchKey(key, to: me, writer: writer)))
        } else {
            guard let mine = holders.first(where: { $0.holder == actor.id }) else {
                throw VaultError.accessDenied("'\(actor.id)' holds no copy of the vault's search key yet: it is shared with you when a member who holds it names a client")
            }
            key = try openSearchKey(mine, actor: actor, signed: signed)
        }
        var shared: [String] = []
        for member in try signed.allStaff() where member.left == nil && member.id != actor.id {
            guard let role = Role(rawValue: member.role), Policy.searchingRoles.contains(role),
                  !holders.contains(where: { $0.holder == member.id }) else { continue }
            events.append(.searchKeyGranted(try sealSearchKey(key, to: member, writer: writer)))
            shared.append(member.id)
        }
        if !events.isEmpty { try Ledger.append(events, by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer) }
        return (key, created, shared)
    }

    private func sealSearchKey(_ key: SecureBytes, to member: StaffRecord, writer: any CatalogWriter) throws -> SearchKeyGranted {
        let sealed = SealedBox.seal(key, to: try member.boxKey)
        return SearchKeyGranted(holder: member.id, holderPublicKey: member.boxPublicKey, sealedKeyHash: try Ledger.putBlob(sealed, in: writer))
    }

    private func openSearchKey(_ record: SearchKeyRecord, actor: StaffIdentity, signed: SignedState) throws -> SecureBytes {
        let sealed = try signed.blob(record.sealedKeyHash, what: "the search key sealed to '\(actor.id)'")
        let key: SecureBytes
        do { key = try actor.keys.unseal(sealed) } catch {
            throw VaultError.integrityFailure("the search key sealed to '\(actor.id)' failed authentication")
        }
        guard key.count == ClientNameIndex.searchKeyBytes else {
            throw VaultError.integrityFailure("the search key sealed to '\(actor.id)' is not \(ClientNameIndex.searchKeyBytes) bytes")
        }
        return key
    }

    /// Seals the search key to a member just added, inside the caller's
    /// transaction, when the vault has one and the actor holds it.
    func shareSearchKey(with id: String, by actor: StaffIdentity, now: Date, head: inout TrustedHead, writer: any CatalogWriter) throws {
        let signed = head.signedState(writer)
        let holders = try signed.searchKeys()
        guard let mine = holders.first(where: { $0.holder == actor.id }), !holders.contains(where: { $0.holder == id }),
              let member = try signed.staff(id), let role = Role(rawValue: member.role), Policy.searchingRoles.contains(role) else { return }
        let key = try openSearchKey(mine, actor: actor, signed: signed)
        try Ledger.append([.searchKeyGranted(try sealSearchKey(key, to: member, writer: writer))],
                          by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
    }

    /// Cases matching every criterion given, by case number (by name
    /// score first when a name is given). Without a name no key is needed;
    /// with one, the actor's copy of the search key. Each case found is
    /// checked against the signed state, its index too.
    public func findCases(_ search: CaseSearch, by actor: StaffIdentity?) throws -> [FoundCase] {
        let prefix = search.numberPrefix?.trimmingCharacters(in: .whitespaces).uppercased()
        var query: [[String]]?
        if let name = search.clientName {
            try Self.validateClientName(name)
            query = ClientNameIndex.query(name)
            guard !(query?.isEmpty ?? true) else {
                throw VaultError.invalidInput("'\(name)' has no part of two letters or more to search by")
            }
            guard let actor else { throw VaultError.invalidInput("finding by name needs your passphrase (or `casevault unlock`)") }
            guard Policy.searchingRoles.contains(actor.role) else {
                throw VaultError.accessDenied("\(actor.role.withArticle) does not search by client name (SECURITY.md §12e)")
            }
        }
        return try read { reader, head in
            guard head.size > 0 else { return [] }
            let signed = head.signedState(reader)
            var found = try cases(matching: search.filter, signed: signed)
            if let prefix { found = found.filter { $0.number.description.hasPrefix(prefix) } }
            guard let query, let actor else { return found.map { FoundCase(file: $0, nameScore: nil, nameMatch: nil) } }
            guard let mine = try signed.searchKeys().first(where: { $0.holder == actor.id }) else {
                if try signed.searchKeys().isEmpty { return [] }  // no client was ever named
                throw VaultError.accessDenied("'\(actor.id)' holds no copy of the vault's search key yet: it is shared with you when a member who holds it names a client")
            }
            let key = try openSearchKey(mine, actor: actor, signed: signed)
            let wanted = Set(found.map { Array($0.number.description.utf8) })
            var scores: [String: Int] = [:]
            for row in try reader.clientIndexes(caseNumber: nil) where wanted.contains(Array(row.caseNumber.utf8)) {
                guard let bytes = [UInt8](hexString: row.index), ClientNameIndex.isWellFormed(bytes),
                      let score = ClientNameIndex.score(query: query, caseNumber: row.caseNumber, index: bytes, searchKey: key) else { continue }
                // A match is shown only once its index is the signed one.
                guard try signed.clientIndex(row.caseNumber) == row else { continue }
                scores[row.caseNumber] = score
            }
            return found.compactMap { file in
                scores[file.number.description].map { FoundCase(file: file, nameScore: $0, nameMatch: $0 == 2 * query.count ? .asSpelt : .close) }
            }
                .sorted { ($0.nameScore ?? 0) > ($1.nameScore ?? 0) }
        }
    }
}
