public import Foundation
internal import CaseVaultCrypto

extension CaseRecord {
    func publicKey(for tier: Tier) throws -> BoxPublicKey {
        guard let bytes = [UInt8](hexString: tier == .team ? teamPublicKey : confidentialPublicKey) else {
            throw VaultError.integrityFailure("the \(tier.rawValue)-tier key of case \(number) is damaged")
        }
        return try BoxPublicKey(bytes: bytes)
    }

    /// A generation's public key: the current one, or an older one some
    /// version is still sealed to.
    func publicKey(for tier: Tier, generation: Int) throws -> BoxPublicKey {
        if generation == self.generation(of: tier) { return try publicKey(for: tier) }
        guard let older = keys?[tier].older.first(where: { $0.generation == generation }),
              let bytes = [UInt8](hexString: older.publicKey) else {
            throw VaultError.integrityFailure("case \(number) has no generation \(generation) of its \(tier.rawValue)-tier key")
        }
        return try BoxPublicKey(bytes: bytes)
    }
}

extension StaffRecord {
    var boxKey: BoxPublicKey {
        get throws {
            guard let bytes = [UInt8](hexString: boxPublicKey), let key = try? BoxPublicKey(bytes: bytes) else {
                throw VaultError.integrityFailure("the public key of '\(id)' is damaged")
            }
            return key
        }
    }
}

extension Vault {
    /// Opens a case with status O, a team-tier and a confidential-tier key
    /// pair, and each tier's secret key sealed to its holders (design §3).
    /// The client number is one more than the highest in the vault when
    /// `clientNumber` is nil. Holders and their keys come from the signed
    /// state, never from rows alone.
    @discardableResult
    public func openCase(category: String, admitted year: Int, clientNumber: Int? = nil,
                         managerID: String, supervisorID: String,
                         by actor: StaffIdentity, now: Date = Date()) throws -> CaseFile {
        guard Policy.caseOpeningRoles.contains(actor.role) else {
            throw VaultError.accessDenied("only a case supervisor, project director or admin opens cases; '\(actor.id)' is \(actor.role.withArticle)")
        }
        guard config.caseCategories.contains(category) else {
            throw VaultError.invalidInput("unknown case category '\(category)'; this vault's categories are \(config.caseCategories.joined(separator: ", "))")
        }
        let currentYear = Calendar(identifier: .gregorian).component(.year, from: now)
        guard (1990...currentYear).contains(year) else {
            throw VaultError.invalidInput("year of admission \(year) is not between 1990 and \(currentYear)")
        }
        if let clientNumber, !(1...999_999).contains(clientNumber) {
            throw VaultError.invalidInput("client number \(clientNumber) is not between 1 and 999999")
        }
        let teamKeys = BoxKeyPair()
        let confidentialKeys = BoxKeyPair()

        let number: String = try write { writer, head in
            let signed = head.signedState(writer)
            let settings = try signed.settings()
            guard let manager = try signed.staff(managerID) else { throw try signed.missingStaff(managerID) }
            guard let supervisor = try signed.staff(supervisorID) else { throw try signed.missingStaff(supervisorID) }
            for member in [manager, supervisor] {
                if let left = member.left { throw VaultError.invalidInput("'\(member.id)' left the staff on \(left.at)") }
            }
            guard manager.role == Role.caseManager.rawValue else {
                throw VaultError.invalidInput("'\(managerID)' is \(try StaffMember(manager).role.withArticle), not a case manager")
            }
            guard supervisor.role == Role.caseSupervisor.rawValue else {
                throw VaultError.invalidInput("'\(supervisorID)' is \(try StaffMember(supervisor).role.withArticle), not a case supervisor")
            }
            let client: Int
            if let clientNumber {
                if let existing = try signed.clientTaken(clientNumber) {
                    throw VaultError.alreadyExists("client number \(clientNumber) is already case \(existing)")
                }
                client = clientNumber
            } else {
                client = try signed.caseCount().highestClient + 1
                guard client <= 999_999 else {
                    throw VaultError.invalidInput("client numbers are used up to 999999; give a free one with --client")
                }
            }
            let number = CaseNumber(category: category, year: year, clientNumber: client).description
            var events: [EventData] = [.caseOpened(CaseOpened(
                case: number, category: category, year: year, clientNumber: client, status: CaseStatus.open.rawValue,
                manager: managerID, supervisor: supervisorID, teamPublicKey: teamKeys.publicKey.bytes.hexString,
                confidentialPublicKey: confidentialKeys.publicKey.bytes.hexString))]
            // Holders, in a fixed order: CM, CS, the team-tier roles' members, recovery.
            var holders: [(String, BoxPublicKey, [Tier])] = [
                (GrantHolder.staff(managerID), try manager.boxKey, [.team, .confidential]),
                (GrantHolder.staff(supervisorID), try supervisor.boxKey, [.team, .confidential]),
            ]
            for member in try signed.allStaff() where settings.teamTierRoles.contains(member.role) && member.left == nil
                && member.id != managerID && member.id != supervisorID {
                holders.append((GrantHolder.staff(member.id), try member.boxKey, [.team]))
            }
            if let hex = settings.recoveryPublicKey {
                guard let bytes = [UInt8](hexString: hex), let key = try? BoxPublicKey(bytes: bytes) else {
                    throw VaultError.integrityFailure("the signed recovery public key is damaged")
                }
                holders.append((GrantHolder.recovery, key, [.team, .confidential]))
            }
            for (tier, keys) in [(Tier.team, teamKeys), (.confidential, confidentialKeys)] {
                for (holder, key, tiers) in holders where tiers.contains(tier) {
                    let sealed = SealedBox.seal(keys.secretKey, to: key)
                    events.append(.grantGiven(GrantGiven(case: number, tier: tier.rawValue, holder: holder,
                                                         holderPublicKey: key.bytes.hexString,
                                                         sealedKeyHash: try Ledger.putBlob(sealed, in: writer))))
                }
            }
            try Ledger.append(events, by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            return number
        }
        return try caseFile(number)
    }

    public func caseFile(_ number: String) throws -> CaseFile {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in
            guard head.size > 0, let state = try head.signedState(reader).caseState(parsed) else {
                throw head.size > 0 ? try head.signedState(reader).missingCase(parsed) : VaultError.notFound("no case \(parsed)")
            }
            return try caseFile(from: state.case, signed: head.signedState(reader))
        }
    }

    func caseFile(from record: CaseRecord, signed: SignedState) throws -> CaseFile {
        guard let number = CaseNumber(record.number), let status = CaseStatus(rawValue: record.status),
              let openedAt = Timestamp.date(from: record.openedAt),
              let manager = try signed.staff(record.manager), let supervisor = try signed.staff(record.supervisor) else {
            throw VaultError.integrityFailure("case record \(record.number) is damaged")
        }
        return CaseFile(number: number, status: status, manager: try StaffMember(manager), supervisor: try StaffMember(supervisor),
                        openedAt: openedAt, openedBy: record.openedBy, transferredTo: record.transferred?.toVault)
    }

    /// Cases matching `filter`, by case number; each checked against the signed state.
    public func cases(matching filter: CaseFilter = CaseFilter()) throws -> [CaseFile] {
        try read { reader, head in
            guard head.size > 0 else { return [] }
            return try cases(matching: filter, signed: head.signedState(reader))
        }
    }

    func cases(matching filter: CaseFilter, signed: SignedState) throws -> [CaseFile] {
        // A staff id that names no one is a slip, not an empty answer.
        for id in [filter.managerID, filter.supervisorID].compactMap({ $0 }) where try signed.staff(id) == nil {
            throw try signed.missingStaff(id)
        }
        let query = CaseQuery(status: filter.status?.rawValue, category: filter.category, manager: filter.managerID,
                              supervisor: filter.supervisorID, year: filter.year, numberPrefix: filter.numberPrefix)
        var states = try signed.cases(matching: query)
        if let tag = filter.tag {
            // Each case's tags checked against its signed state.
            states = try states.filter { try signed.tags($0.case.number).contains { $0.tag == tag } }
        }
        return try states.map { try caseFile(from: $0.case, signed: signed) }
    }

    /// Who holds each tier of a case (for `case show` and audits), in grant order.
    public func holders(of number: String) throws -> [(tier: Tier, holder: String)] {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in
            guard head.size > 0, let state = try head.signedState(reader).caseState(parsed) else {
                throw head.size > 0 ? try head.signedState(reader).missingCase(parsed) : VaultError.notFound("no case \(parsed)")
            }
            // The current generation's holders: older copies serve only older versions.
            // In grant order; among grants of one event (a rotation), manager, supervisor, others, recovery.
            func rank(_ holder: String) -> Int {
                switch holder {
                case GrantHolder.staff(state.case.manager): 0
                case GrantHolder.staff(state.case.supervisor): 1
                case GrantHolder.recovery: 3
                default: 2
                }
            }
            return state.grants.sorted { ($0.grantedSeq, rank($0.holder)) < ($1.grantedSeq, rank($1.holder)) }.compactMap { grant in
                Tier(rawValue: grant.tier).flatMap { grant.generation == state.case.generation(of: $0) ? ($0, grant.holder) : nil }
            }
        }
    }

    /// Each tier's key generation, and the older generations some version
    /// is still sealed to (a rotation by a non-holder leaves them for a
    /// holder to re-seal).
    public func keyGenerations(of number: String) throws -> [(tier: Tier, generation: Int, awaitingResealing: [Int])] {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in
            guard head.size > 0, let state = try head.signedState(reader).caseState(parsed) else {
                throw head.size > 0 ? try head.signedState(reader).missingCase(parsed) : VaultError.notFound("no case \(parsed)")
            }
            return Tier.allCases.map { tier in
                (tier, state.case.generation(of: tier), state.case.keys?[tier].older.map(\.generation) ?? [])
            }
        }
    }
}
