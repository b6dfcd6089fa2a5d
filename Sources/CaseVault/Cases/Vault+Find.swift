public import Foundation
internal import CaseVaultCrypto

/// What `casevault find` looks for; nil means any.
public struct CaseSearch: Sendable {
    public var filter = CaseFilter()
    /// The start of the case number, e.g. `CP-2024` or `CP-2024-004`.
    public var numberPrefix: String?
    /// Exactly this case number (a folder label names one case).
    public var number: String?
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
    /// (`case.client-named`, naming the blob that holds them), replacing
    /// and erasing any earlier one. The name itself is kept nowhere. The
    /// first naming in a vault creates its search key; any naming also
    /// seals the key to searching members who lack it.
    public func nameClient(of caseNumber: String, name: String, by actor: StaffIdentity, now: Date = Date()) throws -> ClientNaming {
        let number = try CaseNumber.parse(caseNumber).description
        try Self.validateClientName(name)
        guard Policy.searchingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("\(actor.role.withArticle) does not name clients or search by name")
        }
        guard !ClientNameIndex.keys(ofName: name).isEmpty else {
            throw VaultError.invalidInput("the name has no part of two letters or more to find the client by")
        }
        let (naming, replaced) = try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.keptCase(number)
            if actor.role == .caseManager || actor.role == .caseSupervisor,
               actor.id != state.case.manager, actor.id != state.case.supervisor {
                throw VaultError.accessDenied("'\(actor.id)' neither manages nor supervises \(number); ask its manager, its supervisor or a records officer")
            }
            let replacing = try signed.clientIndex(number) != nil
            let (key, created, shared) = try ensureSearchKey(by: actor, now: now, head: &head, writer: writer)
            let (index, dropped) = ClientNameIndex.index(of: name, caseNumber: number, searchKey: key)
            // The tokens go in a blob the event names (under a fresh salt,
            // so the hash the log keeps tests no guess), so that naming the
            // client again or disposing of the case erases them (§12e).
            let indexHash = try Ledger.putBlob(ClientNameIndex.blob(index), in: writer)
            try Ledger.append([.clientNamed(ClientNamed(case: number, indexHash: indexHash))],
                              by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            return (ClientNaming(caseNumber: number, createdSearchKey: created, sharedWith: shared, droppedKeys: dropped), replacing)
        }
        // The replaced index's blob was erased: out of the write-ahead log
        // too, as after a disposal, unless another process holds the catalog
        // (then at SQLite's next checkpoint). The naming itself is done.
        if replaced { _ = try? store.flushErased() }
        return naming
    }

    /// A client's name: 1…200 characters, at most `maxNameBytes` bytes, no
    /// control characters and no bidirectional overrides or isolates (a
    /// zero-width non-joiner, as Dari and Pashto typing uses, is fine). The
    /// name is never repeated in a message.
    static func validateClientName(_ name: String) throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw VaultError.invalidInput("the client's name is empty") }
        guard name.count <= 200, name.utf8.count <= ClientNameIndex.maxNameBytes else {
            throw VaultError.invalidInput("the client's name is longer than 200 characters or \(ClientNameIndex.maxNameBytes) bytes")
        }
        let bidi: ClosedRange<UInt32> = 0x202A...0x202E, isolates: ClosedRange<UInt32> = 0x2066...0x2069
        guard !name.unicodeScalars.contains(where: {
            $0.properties.generalCategory == .control || bidi.contains($0.value) || isolates.contains($0.value)
        }) else {
            throw VaultError.invalidInput("the client's name holds a control character or a bidirectional override")
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
            guard let mine = holders.first(where: { $0.holder == actor.id }) else { throw try Self.noSearchKey(actor, holders, signed) }
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
        return SearchKeyGranted(holder: member.id, holderPublicKey: member.boxPublicKey, keyCheck: ClientNameIndex.keyCheck(key),
                                sealedKeyHash: try Ledger.putBlob(sealed, in: writer))
    }

    /// Why a member cannot search by name yet.
    static func noSearchKey(_ actor: StaffIdentity, _ holders: [SearchKeyRecord], _ signed: SignedState) throws -> VaultError {
        let current = try holders.filter { try signed.staff($0.holder)?.left == nil }
        if current.isEmpty {
            return .accessDenied("every member who held the vault's search key has left the staff, so no one can share it with '\(actor.id)' (SECURITY.md §12e)")
        }
        return .accessDenied("'\(actor.id)' holds no copy of the vault's search key yet: \(current.map(\.holder).prefix(3).joined(separator: ", ")) or another holder shares it by naming a client (or an admin who holds it, by adding staff)")
    }

    private func openSearchKey(_ record: SearchKeyRecord, actor: StaffIdentity, signed: SignedState) throws -> SecureBytes {
        let sealed = try signed.blob(record.sealedKeyHash, what: "the search key sealed to '\(actor.id)'")
        let key: SecureBytes
        do { key = try actor.keys.unseal(sealed) } catch {
            throw VaultError.integrityFailure("the search key sealed to '\(actor.id)' failed authentication")
        }
        guard key.count == ClientNameIndex.searchKeyBytes, ClientNameIndex.keyCheck(key) == record.keyCheck else {
            throw VaultError.integrityFailure("the search key sealed to '\(actor.id)' is not the vault's (its check differs)")
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
        let exact = try search.number.map { try CaseNumber.parse($0).description }
        var query: [String]?
        if let name = search.clientName {
            try Self.validateClientName(name)
            query = ClientNameIndex.query(name)
            guard !(query?.isEmpty ?? true) else {
                throw VaultError.invalidInput("the name has no part of two letters or more to search by")
            }
            guard let actor else { throw VaultError.invalidInput("finding by name needs your passphrase (or `casevault unlock`)") }
            guard Policy.searchingRoles.contains(actor.role) else {
                throw VaultError.accessDenied("\(actor.role.withArticle) does not search by client name (SECURITY.md §12e)")
            }
        }
        return try read { reader, head in
            guard head.size > 0 else { return [] }
            let signed = head.signedState(reader)
            var filter = search.filter
            filter.numberPrefix = exact ?? prefix
            let nameOnly = query != nil && filter.isEmpty
            // A name alone does not load every case: the name-only branch below reads the indexes.
            var found = nameOnly ? [] : try cases(matching: filter, signed: signed)
            if let exact { found = found.filter { $0.number.description == exact } }
            guard let query, let actor else { return found.map { FoundCase(file: $0, nameScore: nil, nameMatch: nil) } }
            let holders = try signed.searchKeys()
            guard let mine = holders.first(where: { $0.holder == actor.id }) else {
                if holders.isEmpty { return [] }  // no client was ever named
                throw try Self.noSearchKey(actor, holders, signed)
            }
            let key = try openSearchKey(mine, actor: actor, signed: signed)
            // The indexes to score, each read through the signed state, so a
            // row deleted, copied or rewritten by hand is an integrity failure,
            // not a case quietly missing. A name alone reads every index (as
            // many as signed, each checked: far fewer reads than checking
            // every case) and then loads only the matches' cases; with other
            // criteria, the index of each case they leave.
            let records = nameOnly ? try signed.allClientIndexes()
                                   : try found.compactMap { try signed.clientIndex($0.number.description) }
            var scores: [String: Int] = [:]
            for record in records {
                guard let stored = [UInt8](hexString: record.index),
                      let bytes = record.indexHash == nil ? (ClientNameIndex.isWellFormed(stored) ? stored : nil) : ClientNameIndex.index(ofBlob: stored) else {
                    throw VaultError.integrityFailure("the client-name index of \(record.caseNumber) is malformed")
                }
                if let score = ClientNameIndex.score(query: query, caseNumber: record.caseNumber, index: bytes, searchKey: key) {
                    scores[record.caseNumber] = score
                }
            }
            let files = nameOnly ? try scores.keys.sorted().compactMap { number -> CaseFile? in
                try signed.caseState(number).map { try caseFile(from: $0.case, signed: signed) }
            } : found
            return files.compactMap { file in
                scores[file.number.description].map { FoundCase(file: file, nameScore: $0, nameMatch: $0 == 2 * query.count ? .asSpelt : .close) }
            }
                .sorted { ($0.nameScore ?? 0) > ($1.nameScore ?? 0) }
        }
    }
}
