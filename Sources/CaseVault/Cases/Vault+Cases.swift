public import Foundation
internal import CaseVaultCrypto
internal import GRDB

struct CaseRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "cases"
    var number: String
    var category: String
    var year: Int
    var client_number: Int
    var status: String
    var manager_id: String
    var supervisor_id: String
    var team_public_key: Data
    var confidential_public_key: Data
    var opened_at: String
    var opened_by: String

    func publicKey(for tier: Tier) throws -> BoxPublicKey {
        try BoxPublicKey(bytes: Array(tier == .team ? team_public_key : confidential_public_key))
    }
}

struct GrantRow: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "grants"
    var id: Int64?
    var case_number: String
    var tier: String
    var holder: String
    var holder_public_key: Data
    var sealed_secret_key: Data
    var event_seq: Int64

    static func staffHolder(_ id: String) -> String { "staff:" + id }
    static let recoveryHolder = "recovery"
}

extension Vault {
    /// Roles that may open cases.
    static let caseOpeningRoles: Set<Role> = [.caseSupervisor, .projectDirector, .admin]

    /// Opens a case with status O, a team-tier and a confidential-tier key
    /// pair, and each tier's secret key sealed to its holders (design §3).
    /// The client number is one more than the highest in the vault when
    /// `clientNumber` is nil.
    @discardableResult
    public func openCase(category: String, admitted year: Int, clientNumber: Int? = nil,
                         managerID: String, supervisorID: String,
                         by actor: StaffIdentity, now: Date = Date()) throws -> CaseFile {
        guard Self.caseOpeningRoles.contains(actor.role) else {
            throw VaultError.accessDenied("only a case supervisor, project director or admin opens cases; '\(actor.id)' is a \(actor.role.displayName)")
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
        let manager = try staffRow(id: managerID)
        let supervisor = try staffRow(id: supervisorID)
        guard manager.role == Role.caseManager.rawValue else {
            throw VaultError.invalidInput("'\(managerID)' is a \(try manager.member().role.displayName), not a case manager")
        }
        guard supervisor.role == Role.caseSupervisor.rawValue else {
            throw VaultError.invalidInput("'\(supervisorID)' is a \(try supervisor.member().role.displayName), not a case supervisor")
        }
        let teamKeys = BoxKeyPair()
        let confidentialKeys = BoxKeyPair()
        let recoveryKey = try config.recoveryPublicKey.map { hex -> BoxPublicKey in
            guard let bytes = [UInt8](hexString: hex) else { throw VaultError.integrityFailure("the recovery public key in the config is damaged") }
            return try BoxPublicKey(bytes: bytes)
        }

        let number: CaseNumber = try catalog.write { db in
            let client: Int
            if let clientNumber {
                if let existing = try CaseRow.filter(Column("client_number") == clientNumber).fetchOne(db) {
                    throw VaultError.alreadyExists("client number \(clientNumber) is already case \(existing.number)")
                }
                client = clientNumber
            } else {
                client = (try Int.fetchOne(db, sql: "SELECT MAX(client_number) FROM cases") ?? 0) + 1
                guard client <= 999_999 else {
                    throw VaultError.invalidInput("client numbers are used up to 999999; give a free one with --client")
                }
            }
            let number = CaseNumber(category: category, year: year, clientNumber: client)
            let row = CaseRow(number: number.description, category: category, year: year, client_number: client,
                              status: CaseStatus.open.rawValue, manager_id: managerID, supervisor_id: supervisorID,
                              team_public_key: Data(teamKeys.publicKey.bytes),
                              confidential_public_key: Data(confidentialKeys.publicKey.bytes),
                              opened_at: Timestamp.string(from: now), opened_by: actor.id)
            try row.insert(db)
            try EventLog.append(.caseOpened, data: [
                "case": .string(row.number), "category": .string(category), "year": .integer(Int64(year)),
                "clientNumber": .integer(Int64(client)), "status": .string(row.status),
                "manager": .string(managerID), "supervisor": .string(supervisorID),
                "teamPublicKey": hexValue(teamKeys.publicKey.bytes),
                "confidentialPublicKey": hexValue(confidentialKeys.publicKey.bytes),
            ], actor: actor, vaultID: config.vaultId, at: now, in: db)

            // Holders, in a fixed order: CM, CS, the team-tier roles' members, recovery.
            var teamHolders: [(String, BoxPublicKey)] = []
            var confidentialHolders: [(String, BoxPublicKey)] = []
            // Every holder's key is checked against the signed log first.
            for member in [manager, supervisor] {
                let key = try trustedStaff(member.id, in: db).box
                teamHolders.append((GrantRow.staffHolder(member.id), key))
                confidentialHolders.append((GrantRow.staffHolder(member.id), key))
            }
            let extraRoles = config.teamTierRoles
            for member in try StaffRow.filter(extraRoles.contains(Column("role"))).order(Column("id")).fetchAll(db)
            where member.id != managerID && member.id != supervisorID {
                teamHolders.append((GrantRow.staffHolder(member.id), try trustedStaff(member.id, in: db).box))
            }
            if let recoveryKey {
                teamHolders.append((GrantRow.recoveryHolder, recoveryKey))
                confidentialHolders.append((GrantRow.recoveryHolder, recoveryKey))
            }
            for (tier, keys, holders) in [(Tier.team, teamKeys, teamHolders), (.confidential, confidentialKeys, confidentialHolders)] {
                for (holder, key) in holders {
                    try grant(tier: tier, of: number.description, secret: keys.secretKey, to: holder, key: key,
                              by: actor, now: now, in: db)
                }
            }
            return number
        }
        return try caseFile(number.description)
    }

    /// Seals a tier's secret key to one holder and records the grant.
    func grant(tier: Tier, of caseNumber: String, secret: SecureBytes, to holder: String, key: BoxPublicKey,
               by actor: StaffIdentity, now: Date, in db: Database) throws {
        let sealed = SealedBox.seal(secret, to: key)
        let seq = try EventLog.append(.grantGiven, data: [
            "case": .string(caseNumber), "tier": .string(tier.rawValue), "holder": .string(holder),
            "holderPublicKey": hexValue(key.bytes), "sealedKeyHash": blobHash(sealed),
        ], actor: actor, vaultID: config.vaultId, at: now, in: db)
        try GrantRow(id: nil, case_number: caseNumber, tier: tier.rawValue, holder: holder,
                     holder_public_key: Data(key.bytes), sealed_secret_key: Data(sealed), event_seq: seq).insert(db)
    }

    public func caseFile(_ number: String) throws -> CaseFile {
        let parsed = try CaseNumber.parse(number)
        guard let row = try catalog.read({ db in try CaseRow.fetchOne(db, key: parsed.description) }) else {
            throw VaultError.notFound("no case \(parsed)")
        }
        return try caseFile(from: row)
    }

    func caseRow(_ number: String, in db: Database) throws -> CaseRow {
        let parsed = try CaseNumber.parse(number)
        guard let row = try CaseRow.fetchOne(db, key: parsed.description) else {
            throw VaultError.notFound("no case \(parsed)")
        }
        return row
    }

    func caseFile(from row: CaseRow) throws -> CaseFile {
        guard let number = CaseNumber(row.number), let status = CaseStatus(rawValue: row.status),
              let openedAt = Timestamp.date(from: row.opened_at) else {
            throw VaultError.integrityFailure("case record \(row.number) is damaged")
        }
        return CaseFile(number: number, status: status, manager: try staffMember(id: row.manager_id),
                        supervisor: try staffMember(id: row.supervisor_id), openedAt: openedAt, openedBy: row.opened_by)
    }

    /// Cases matching `filter`, by case number.
    public func cases(matching filter: CaseFilter = CaseFilter()) throws -> [CaseFile] {
        let rows = try catalog.read { db in
            var request = CaseRow.order(Column("category"), Column("year"), Column("client_number"))
            if let status = filter.status { request = request.filter(Column("status") == status.rawValue) }
            if let category = filter.category { request = request.filter(Column("category") == category) }
            if let manager = filter.managerID { request = request.filter(Column("manager_id") == manager) }
            if let supervisor = filter.supervisorID { request = request.filter(Column("supervisor_id") == supervisor) }
            if let year = filter.year { request = request.filter(Column("year") == year) }
            return try request.fetchAll(db)
        }
        return try rows.map(caseFile(from:))
    }

    /// Who holds each tier of a case (for `case show` and audits).
    public func holders(of number: String) throws -> [(tier: Tier, holder: String)] {
        let parsed = try CaseNumber.parse(number)
        return try catalog.read { db in
            try GrantRow.filter(Column("case_number") == parsed.description).order(Column("id")).fetchAll(db)
        }.compactMap { row in Tier(rawValue: row.tier).map { ($0, row.holder) } }
    }
}
