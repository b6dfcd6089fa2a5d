public import Foundation
internal import CaseVaultCrypto

/// What one rotation of one tier did (`case.key-rotated`).
public struct RotationOutcome: Sendable, Equatable {
    public let caseNumber: String
    public let tier: Tier
    public let generation: Int
    /// Holders whose every copy of the tier was erased.
    public let removed: [String]
    /// Versions whose file keys were re-sealed to the new generation.
    public let resealed: Int
    /// The tier has versions under older generations that the actor could
    /// not re-seal (they hold no key of the tier): a holder finishes with
    /// `casevault case rotate`. Their readers are the current holders, who
    /// kept their copies of those generations.
    public let awaitsResealing: Bool
}

/// What `staff leave` did.
public struct DepartureReport: Sendable {
    public let memberID: String
    /// False when the departure was recorded by an earlier run.
    public let recorded: Bool
    public let rotations: [RotationOutcome]
    /// Cases that still name the member as manager or supervisor: they need
    /// a handover.
    public let casesStillNamingThem: [String]
    /// Cases whose handover under way was to the member: to be cancelled.
    public var handoversToThem: [String] = []
}

extension Vault {
    // MARK: Grants

    /// Seals a tier's current key to one more member (`case.access-granted`).
    /// The actor must hold the tier (they unseal it to seal it again): the
    /// case's supervisor or a project director; once the supervisor has
    /// left the staff, the case's manager, to the incoming supervisor of
    /// the case's handover only. Older generations still in use are first
    /// folded into the current one, so the grant opens every version.
    public func grantAccess(to memberID: String, case caseNumber: String, tier: Tier, reason: String,
                            by actor: StaffIdentity, now: Date = Date()) throws {
        let number = try CaseNumber.parse(caseNumber).description
        guard [.caseSupervisor, .projectDirector, .caseManager].contains(actor.role) else {
            throw VaultError.accessDenied("access is granted by the case's supervisor or a project director; '\(actor.id)' is \(actor.role.withArticle)")
        }
        try Self.requireReason(reason)
        try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.keptCase(number)
            if actor.role == .caseSupervisor, actor.id != state.case.supervisor {
                throw VaultError.accessDenied("'\(actor.id)' does not supervise \(number)")
            }
            if actor.role == .caseManager {
                guard actor.id == state.case.manager, try signed.staff(state.case.supervisor)?.left != nil else {
                    throw VaultError.accessDenied("access is granted by the case's supervisor or a project director; a case manager grants it only to the incoming supervisor of their own case once its supervisor has left the staff")
                }
                guard let handover = try signed.handover(number), handover.role == "supervisor", handover.to == memberID else {
                    throw VaultError.accessDenied("\(number)'s supervisor left the staff: start a handover of the supervision to a new supervisor (casevault handover start --from \(state.case.supervisor) --to ID), then grant them the tiers")
                }
            }
            guard let member = try signed.staff(memberID), let role = Role(rawValue: member.role) else {
                throw try signed.missingStaff(memberID)
            }
            if let left = member.left { throw VaultError.invalidInput("'\(memberID)' left the staff on \(left.at)") }
            guard Policy.mayBeGranted(tier, role: role) else {
                throw VaultError.invalidInput("\(role.withArticle) cannot hold the \(tier.rawValue) tier (SECURITY.md §3)")
            }
            guard !state.holds(tier.rawValue, GrantHolder.staff(memberID)) else {
                throw VaultError.alreadyExists("'\(memberID)' already holds the \(tier.rawValue) tier of \(number)")
            }
            try grant(tier, of: number, to: member, reason: reason, by: actor, now: now, head: &head, writer: writer)
        }
    }

    /// Appends the grant of a tier's current key to `member`, re-sealing
    /// older generations first (a grant opens every version), inside the
    /// caller's transaction.
    func grant(_ tier: Tier, of number: String, to member: StaffRecord, reason: String, by actor: StaffIdentity, now: Date,
               head: inout TrustedHead, writer: any CatalogWriter) throws {
        var state = try head.signedState(writer).existingCase(number)
        if !(state.case.keys?[tier].older.isEmpty ?? true) {
            let (event, outcome) = try rotation(of: state, tier: tier, removing: [], reason: "re-sealed before a grant: \(reason)",
                                                by: actor, signed: head.signedState(writer), writer: writer)
            guard !outcome.awaitsResealing else {
                throw VaultError.accessDenied("'\(actor.id)' cannot re-seal every generation of the \(tier.rawValue) tier of \(number)")
            }
            try Ledger.append([event], by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            state = try head.signedState(writer).existingCase(number)
        }
        let keys = try tierKeys(of: state, tier: tier, generation: state.case.generation(of: tier), actor: actor, signed: head.signedState(writer))
        let sealed = SealedBox.seal(keys.secretKey, to: try member.boxKey)
        try Ledger.append([.accessGranted(AccessGranted(case: number, tier: tier.rawValue, holder: GrantHolder.staff(member.id),
                                                        holderPublicKey: member.boxPublicKey,
                                                        sealedKeyHash: try Ledger.putBlob(sealed, in: writer), reason: reason))],
                          by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
    }

    /// Takes a member's access to a case away: every tier they hold (or the
    /// one named) rotates without them, so what is filed from now on is
    /// sealed to a key they never had, and their sealed copies are erased.
    public func revokeAccess(from memberID: String, case caseNumber: String, tier: Tier? = nil, reason: String,
                             by actor: StaffIdentity, now: Date = Date()) throws -> [RotationOutcome] {
        let number = try CaseNumber.parse(caseNumber).description
        try requireRotatingRole(actor)
        try Self.requireReason(reason)
        return try write { writer, head in
            let signed = head.signedState(writer)
            let state = try signed.existingCase(number)
            if actor.role == .caseSupervisor, actor.id != state.case.supervisor {
                throw VaultError.accessDenied("'\(actor.id)' does not supervise \(number)")
            }
            let holder = GrantHolder.staff(memberID)
            if memberID == state.case.manager || memberID == state.case.supervisor, try signed.staff(memberID)?.left == nil {
                throw VaultError.invalidInput("'\(memberID)' is the \(memberID == state.case.manager ? "manager" : "supervisor") of \(number): hand the case over instead (casevault handover)")
            }
            let tiers = Tier.allCases.filter { t in (tier == nil || tier == t) && state.holds(t.rawValue, holder) }
            guard !tiers.isEmpty else {
                throw VaultError.notFound("'\(memberID)' holds \(tier.map { "no \($0.rawValue) tier" } ?? "neither tier") of \(number)")
            }
            return try rotate(number, tiers: tiers, removing: [holder], reason: reason, by: actor, now: now, head: &head, writer: writer)
        }
    }

    /// Rotates a case's tier keys: a new generation for each tier named
    /// (both by default), sealed to the same holders less any who left the
    /// staff; every file key re-sealed when the actor holds the tier.
    public func rotateKeys(case caseNumber: String, tiers: [Tier] = Tier.allCases, reason: String,
                           by actor: StaffIdentity, now: Date = Date()) throws -> [RotationOutcome] {
        let number = try CaseNumber.parse(caseNumber).description
        try requireRotatingRole(actor)
        try Self.requireReason(reason)
        return try write { writer, head in
            let state = try head.signedState(writer).existingCase(number)
            if actor.role == .caseSupervisor, actor.id != state.case.supervisor {
                throw VaultError.accessDenied("'\(actor.id)' does not supervise \(number)")
            }
            return try rotate(number, tiers: tiers, removing: [], reason: reason, by: actor, now: now, head: &head, writer: writer)
        }
    }

    /// Every tier the actor holds whose older generations still await
    /// re-sealing (after a departure recorded by an admin), rotated and
    /// re-sealed, one case per transaction.
    public func finishPendingRotations(reason: String, by actor: StaffIdentity, now: Date = Date(),
                                       progress: ((RotationOutcome) -> Void)? = nil) throws -> [RotationOutcome] {
        try requireRotatingRole(actor)
        try Self.requireReason(reason)
        let numbers = try read { reader, _ in try reader.cases(heldBy: GrantHolder.staff(actor.id)) }
        var outcomes: [RotationOutcome] = []
        for number in numbers {
            let done: [RotationOutcome] = try write { writer, head in
                let signed = head.signedState(writer)
                guard let state = try signed.caseState(number), try signed.disposal(number) == nil else { return [] }
                if actor.role == .caseSupervisor, actor.id != state.case.supervisor { return [] }
                let tiers = Tier.allCases.filter { tier in
                    !(state.case.keys?[tier].older.isEmpty ?? true)
                        && state.holds(tier.rawValue, GrantHolder.staff(actor.id))
                }
                return try rotate(number, tiers: tiers, removing: [], reason: reason, by: actor, now: now, head: &head, writer: writer)
            }
            for outcome in done { progress?(outcome) }
            outcomes += done
        }
        return outcomes
    }

    // MARK: Departures

    /// Records that a member left (`staff.left`; an admin's act), then
    /// rotates every tier they hold, one case per transaction. A run that is
    /// interrupted is finished by running it again: the departure stands,
    /// and until a tier rotates nothing more can be filed into it.
    /// Refused, with nothing signed, while the member is the last one on the
    /// staff who holds a tier of a case kept here (its documents would open
    /// for the recovery key alone, or for no one), unless `allowUnheld`.
    public func recordDeparture(of memberID: String, reason: String, allowUnheld: Bool = false, by actor: StaffIdentity, now: Date = Date(),
                                progress: ((RotationOutcome) -> Void)? = nil) throws -> DepartureReport {
        guard Policy.staffManagingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("departures are recorded by an admin; '\(actor.id)' is \(actor.role.withArticle)")
        }
        guard memberID != actor.id else { throw VaultError.invalidInput("another admin records your own departure") }
        try Self.requireReason(reason)
        let recorded: Bool = try write { writer, head in
            guard let member = try head.signedState(writer).staff(memberID) else {
                throw try head.signedState(writer).missingStaff(memberID)
            }
            if member.left != nil { return false }
            if !allowUnheld {
                let unheld = try tiersHeldOnlyBy(memberID, signed: head.signedState(writer), reader: writer)
                if !unheld.isEmpty {
                    throw VaultError.invalidInput("'\(memberID)' is the last member of the staff who holds \(unheld.map { "the \($0.tier.rawValue) tier of \($0.number)" }.joined(separator: ", ")): after the departure only the recovery key, if this vault has one, would open \(unheld.count == 1 ? "it" : "them"). Have a holder grant each to a member who stays first (casevault case grant NUMBER --tier TIER --member ID --reason …), or hand the cases over (casevault handover start); or give --allow-unheld to record the departure anyway")
                }
            }
            try Ledger.append([.staffLeft(StaffLeft(id: memberID, reason: reason))], by: actor, at: now, vaultID: config.vaultId,
                              head: &head, in: writer)
            return true
        }
        let holder = GrantHolder.staff(memberID)
        let numbers = try read { reader, _ in try reader.cases(heldBy: holder) }
        var rotations: [RotationOutcome] = []
        for number in numbers {
            let done: [RotationOutcome] = try write { writer, head in
                let signed = head.signedState(writer)
                guard let state = try signed.caseState(number), try signed.disposal(number) == nil else { return [] }
                let current = Tier.allCases.filter { state.holdsCurrent($0, holder) }
                return try rotate(number, tiers: current, removing: [holder],
                                  reason: "\(memberID) left the staff: \(reason)", by: actor, now: now, head: &head, writer: writer)
            }
            for outcome in done { progress?(outcome) }
            rotations += done
        }
        // Then every tier whose current key they made without holding it
        // (a case they opened as a project director or an admin, a
        // departure they recorded as an admin): they knew that key. The
        // candidates come from the log, not from every case: the cases they
        // opened, imported or rotated a tier of (each event proved included
        // under the trusted head); which tiers to rotate is then read from
        // each case's signed record (`keyMaker`). A run cut short here
        // leaves those tiers refusing filings until it is run again.
        let made = try read { reader, head -> [String] in
            let signed = head.signedState(reader)
            var numbers = Set<String>()
            for type in [EventType.caseOpened, .caseImported, .keyRotated] {
                for record in try reader.events(type: type.rawValue, actor: memberID) where record.seq <= head.size {
                    let event = try Trust.trustedEvent(record.seq, range: head.range, reader: reader)
                    guard event.actor == memberID else { throw VaultError.integrityFailure("event \(record.seq) is not what the catalog says") }
                    switch event.data {
                    case .caseOpened(let data): numbers.insert(data.case)
                    case .caseImported(let data): numbers.insert(data.case)
                    case .keyRotated(let data): numbers.insert(data.case)
                    default: throw VaultError.integrityFailure("event \(record.seq) is not what the catalog says")
                    }
                }
            }
            return try numbers.sorted().filter { number in
                guard let state = try signed.caseState(number), state.case.transferred == nil else { return false }
                return Tier.allCases.contains { state.case.keyMaker(of: $0) == memberID }
            }
        }
        for number in made {
            let done: [RotationOutcome] = try write { writer, head in
                let signed = head.signedState(writer)
                guard let state = try signed.caseState(number), try signed.disposal(number) == nil else { return [] }
                let tiers = Tier.allCases.filter { state.case.keyMaker(of: $0) == memberID }
                return try rotate(number, tiers: tiers, removing: [holder],
                                  reason: "\(memberID) left the staff and made this key: \(reason)", by: actor, now: now, head: &head, writer: writer)
            }
            for outcome in done { progress?(outcome) }
            rotations += done
        }
        let naming = try read { reader, head -> [String] in
            let signed = head.signedState(reader)
            // Cases still to hand over: not closed, not transferred to another vault, each once.
            let query = try signed.cases(matching: CaseQuery(manager: memberID)) + signed.cases(matching: CaseQuery(supervisor: memberID))
            return Set(query.filter(\.case.isOpenWorkHere).map(\.case.number)).sorted()
        }
        var report = DepartureReport(memberID: memberID, recorded: recorded, rotations: rotations, casesStillNamingThem: naming)
        // Each handover row the catalog lists, held to the signed state.
        report.handoversToThem = try read { reader, head in
            let signed = head.signedState(reader)
            return try reader.handovers(caseNumber: nil).map(\.caseNumber).sorted().filter { try signed.handover($0)?.to == memberID }
        }
        return report
    }

    /// The tiers (current generation) of cases kept here that `memberID`
    /// holds and no other member of the staff who has not left does.
    private func tiersHeldOnlyBy(_ memberID: String, signed: SignedState, reader: any CatalogReader) throws -> [(number: String, tier: Tier)] {
        let holder = GrantHolder.staff(memberID)
        var unheld: [(number: String, tier: Tier)] = []
        for number in try reader.cases(heldBy: holder) {
            guard let state = try signed.caseState(number), try signed.disposal(number) == nil, state.case.transferred == nil else { continue }
            for tier in Tier.allCases where state.holdsCurrent(tier, holder) {
                let generation = state.case.generation(of: tier)
                let others = state.grants.filter {
                    $0.tier == tier.rawValue && $0.generation == generation && $0.holder != holder && $0.holder != GrantHolder.recovery
                }
                if try others.allSatisfy({ try signed.holderLeft($0.holder) }) { unheld.append((number, tier)) }
            }
        }
        return unheld
    }

    // MARK: Rotation

    func requireRotatingRole(_ actor: StaffIdentity) throws {
        guard Policy.keyRotatingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("tier keys are rotated by the case's supervisor, a project director or an admin; '\(actor.id)' is \(actor.role.withArticle)")
        }
    }

    static func requireReason(_ reason: String) throws {
        if let refusal = Lifecycle.refusal(reason: reason) { throw VaultError.invalidInput(refusal.message) }
    }

    /// One `case.key-rotated` per tier, appended in order inside the
    /// caller's transaction.
    func rotate(_ number: String, tiers: [Tier], removing: Set<String>, reason: String, by actor: StaffIdentity, now: Date,
                        head: inout TrustedHead, writer: any CatalogWriter) throws -> [RotationOutcome] {
        var outcomes: [RotationOutcome] = []
        for tier in tiers {
            let signed = head.signedState(writer)
            let state = try signed.existingCase(number)
            let (event, outcome) = try rotation(of: state, tier: tier, removing: removing, reason: reason, by: actor, signed: signed, writer: writer)
            try Ledger.append([event], by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            outcomes.append(outcome)
        }
        return outcomes
    }

    /// Builds one rotation: a fresh key pair, its secret sealed to each
    /// holder who keeps the tier (and who has not left), and, when the
    /// actor holds every generation in use, each version's file key
    /// unsealed and sealed again to the new key. Blobs go in now; the event
    /// is the caller's to append.
    func rotation(of state: CaseState, tier: Tier, removing: Set<String>, reason: String, by actor: StaffIdentity,
                  signed: SignedState, writer: any CatalogWriter) throws -> (EventData, RotationOutcome) {
        let number = state.case.number
        let current = state.case.generation(of: tier)
        let holdersNow = state.grants.filter { $0.tier == tier.rawValue && $0.generation == current }.map(\.holder)
        var removed = Set(removing.filter { holdersNow.contains($0) })
        for holder in holdersNow {
            if try signed.holderLeft(holder) { removed.insert(holder) }
        }
        if removed.contains(GrantHolder.staff(actor.id)) {
            throw VaultError.accessDenied("'\(actor.id)' cannot rotate themselves out of the \(tier.rawValue) tier of \(number): they would know the new key. Another holder rotates it: the case's supervisor, or a project director for the team tier")
        }
        if !state.holdsCurrent(tier, GrantHolder.staff(actor.id)) {
            var onlyDeparted = !removed.isEmpty
            for holder in removed where try !signed.holderLeft(holder) { onlyDeparted = false }
            let makerLeft = try removed.isEmpty && Self.departedKeyMaker(of: state, tier: tier, signed: signed) != nil
            guard actor.role == .admin, onlyDeparted || makerLeft else {
                throw VaultError.accessDenied("'\(actor.id)' does not hold the \(tier.rawValue) tier of \(number): its supervisor rotates it (an admin only removes members who left, with casevault staff leave)")
            }
        }
        let settings = try signed.settings()
        let fresh = BoxKeyPair()
        var holders: [KeyRotated.Holder] = []
        for holder in holdersNow.filter({ !removed.contains($0) }).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let key: BoxPublicKey
            if holder == GrantHolder.recovery {
                guard let hex = settings.recoveryPublicKey, let bytes = [UInt8](hexString: hex), let recovery = try? BoxPublicKey(bytes: bytes) else {
                    throw VaultError.integrityFailure("the signed recovery public key is damaged")
                }
                key = recovery
            } else {
                guard let id = GrantHolder.staffID(holder), let member = try signed.staff(id) else {
                    throw VaultError.integrityFailure("\(number) is held by '\(holder)', who is not on the staff")
                }
                key = try member.boxKey
            }
            let sealed = SealedBox.seal(fresh.secretKey, to: key)
            holders.append(KeyRotated.Holder(holder: holder, holderPublicKey: key.bytes.hexString, sealedKeyHash: try Ledger.putBlob(sealed, in: writer)))
        }
        // Re-seal every version's file key when the actor holds each generation in use.
        var versions: [VersionRecord] = []
        for document in try signed.documents(number) { versions += try signed.versions(of: document).filter { $0.tier == tier.rawValue } }
        let generations = Set(versions.map(\.keyGeneration))
        let held = Set(state.grants.filter { $0.tier == tier.rawValue && $0.holder == GrantHolder.staff(actor.id) }.map(\.generation))
        var resealed: [KeyRotated.Resealed] = []
        if !versions.isEmpty, held.contains(current), generations.isSubset(of: held) {
            var tierKeys: [Int: BoxKeyPair] = [:]
            for generation in generations.sorted() {
                tierKeys[generation] = try self.tierKeys(of: state, tier: tier, generation: generation, actor: actor, signed: signed)
            }
            resealed.reserveCapacity(versions.count)
            for version in versions {
                let what = "the sealed file key of \(number) '\(version.document)' v\(version.version)"
                let sealed = try signed.blob(version.sealedFileKeyHash, what: what)
                let fileKey: SecureBytes
                do { fileKey = try SealedBox.open(sealed, with: tierKeys[version.keyGeneration]!) } catch {
                    throw VaultError.integrityFailure("\(what) failed authentication")
                }
                guard fileKey.count == SecretStream.keyLength else { throw VaultError.integrityFailure("\(what) is malformed") }
                let again = SealedBox.seal(fileKey, to: fresh.publicKey)
                resealed.append(KeyRotated.Resealed(document: version.document, version: version.version,
                                                    sealedFileKeyHash: try Ledger.putBlob(again, in: writer)))
            }
        }
        let sortedRemoved = removed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let event = EventData.keyRotated(KeyRotated(case: number, tier: tier.rawValue, generation: current + 1,
                                                    publicKey: fresh.publicKey.bytes.hexString, holders: holders, removed: sortedRemoved,
                                                    versions: resealed, reason: reason))
        let outcome = RotationOutcome(caseNumber: number, tier: tier, generation: current + 1, removed: sortedRemoved, resealed: resealed.count,
                                      awaitsResealing: !versions.isEmpty && resealed.isEmpty)
        return (event, outcome)
    }

    /// The actor's key pair of one generation of a tier, unsealed from their
    /// grant and checked against the case's public key of that generation.
    func tierKeys(of state: CaseState, tier: Tier, generation: Int, actor: StaffIdentity, signed: SignedState) throws -> BoxKeyPair {
        let number = state.case.number
        guard let grant = state.grant(tier.rawValue, heldBy: GrantHolder.staff(actor.id), generation: generation) else {
            throw VaultError.accessDenied("'\(actor.id)' holds no grant for the \(tier.rawValue) tier of \(number)")
        }
        let sealed = try signed.blob(grant.sealedKeyHash, what: "the sealed \(tier.rawValue)-tier key of \(number)")
        let keys: BoxKeyPair
        do { keys = try BoxKeyPair(secretKey: try actor.keys.unseal(sealed)) } catch {
            throw VaultError.integrityFailure("the \(tier.rawValue)-tier key of \(number) sealed to '\(actor.id)' failed authentication")
        }
        guard keys.publicKey == (try state.case.publicKey(for: tier, generation: generation)) else {
            throw VaultError.integrityFailure("the \(tier.rawValue)-tier key granted to '\(actor.id)' for \(number) does not match the case")
        }
        return keys
    }

    /// A member who left the staff and still holds the tier's current key:
    /// nothing is filed into it until it rotates.
    /// The member who left and made the tier's current key pair, if one
    /// did (`CaseRecord.keyMaker`): they knew its secret key, held it or not.
    static func departedKeyMaker(of state: CaseState, tier: Tier, signed: SignedState) throws -> (id: String, left: StaffDeparture)? {
        guard let maker = state.case.keyMaker(of: tier), let left = try signed.staff(maker)?.left else { return nil }
        return (maker, left)
    }

    static func departedHolder(of state: CaseState, tier: Tier, signed: SignedState) throws -> (id: String, left: StaffDeparture)? {
        let generation = state.case.generation(of: tier)
        for grant in state.grants where grant.tier == tier.rawValue && grant.generation == generation {
            if let id = GrantHolder.staffID(grant.holder), let left = try signed.staff(id)?.left { return (id, left) }
        }
        return nil
    }
}
