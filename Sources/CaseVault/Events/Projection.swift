internal import CaseVaultCrypto
import Foundation

/// The one writer of the catalog's tables (design §2, "one writer"): turns
/// one event into the rows it implies and moves the state map to match,
/// returning the map's new root. Every command's events pass through here
/// as they are appended, and `verify` replays the whole log through here
/// into a scratch catalog, so the live catalog must be exactly what the log
/// says.
///
/// Applying also checks the event against the state before it, by the
/// rules of `Policy` and those below (SECURITY.md §12, "who may sign what");
/// an event that breaks them is refused, in a replay as a finding.
enum Projection {
    /// `verified`: the caches of the vault (or of the replay) being written.
    /// `keyMaterialWithheld`: an audit bag's replay (SECURITY.md §12d), which
    /// has no sealed key to look at; the rules on a sealed key's bytes are
    /// left to the vault's own `verify`, every other rule applies.
    /// `overlay`: what the write transaction's earlier events changed
    /// (`StateOverlay`), which this one's reads consult and its writes extend.
    static func apply(_ event: Event, to writer: any CatalogWriter, root: [UInt8], checked: Bool = true,
                      verified: VerifiedCaches? = nil, keyMaterialWithheld: Bool = false, overlay: StateOverlay? = nil) throws -> [UInt8] {
        // Unchecked, a change is computed over nodes no one verified: the
        // overlay would vouch for values under a root they may not be under.
        precondition(overlay == nil || checked, "an overlay over an unchecked projection")
        var step = Step(event: event, writer: writer, root: root, checked: checked, verified: verified, keyMaterialWithheld: keyMaterialWithheld)
        step.overlay = overlay
        try step.run()
        return step.root
    }

    /// The refusal of an event, with the rule it broke.
    static func refusal(_ event: Event, _ reason: String) -> VaultError {
        .integrityFailure("event \(event.seq) (\(event.type.rawValue) by '\(event.actor)') breaks the rules: \(reason)")
    }

    private struct Step {
        let event: Event
        let writer: any CatalogWriter
        var root: [UInt8]
        let checked: Bool
        let verified: VerifiedCaches?
        let keyMaterialWithheld: Bool
        /// The cases whose records this event changed, in order, each once
        /// (by bytes), and those whose documents it changed: their report
        /// tallies are brought up to date after it (`updateTallies`).
        var tallyCases: [String] = []
        /// What of each noted case the event changed (`TallyParts`), by number.
        var tallyParts: [[UInt8]: TallyParts] = [:]
        /// The month of the transfer this event calls back or sends again:
        /// the tallies count a case away from the month of its standing
        /// transfer, as counting every case does.
        var tallyTransferMonth: String?
        var overlay: StateOverlay?

        init(event: Event, writer: any CatalogWriter, root: [UInt8], checked: Bool, verified: VerifiedCaches?, keyMaterialWithheld: Bool) {
            self.event = event
            self.writer = writer
            self.root = root
            self.checked = checked
            self.verified = verified
            self.keyMaterialWithheld = keyMaterialWithheld
        }

        /// Reads checked against the root as it stands before each write.
        var signed: SignedState { SignedState(reader: writer, root: root, checked: checked, verified: verified, overlay: overlay) }

        func refuse(_ reason: String) -> VaultError { Projection.refusal(event, reason) }

        mutating func set(_ key: String, _ record: some CanonicalRecord) throws {
            noteTally(key)
            try setValue(StateMap.keyHash(key), SignedState.valueHash(record))
        }

        mutating func remove(_ key: String) throws {
            noteTally(key)
            try setValue(StateMap.keyHash(key), nil)
        }

        /// Every change to the map goes through here, and into the overlay.
        private mutating func setValue(_ keyHash: [UInt8], _ value: [UInt8]?) throws {
            let old = root
            if let value {
                root = try StateMap.set(keyHash, to: value, root: root, in: StateNodes(reader: writer), checkRoot: checked, cache: verified?.nodes)
            } else {
                root = try StateMap.remove(keyHash, root: root, in: StateNodes(reader: writer), checkRoot: checked, cache: verified?.nodes)
            }
            overlay?.changed(keyHash, to: value, from: old, to: root)
        }

        /// The signer, who must be on the staff and whose role may sign this kind.
        func actor() throws -> (record: StaffRecord, role: Role) {
            guard let record = try signed.staff(event.actor), let role = Role(rawValue: record.role) else {
                throw refuse("'\(event.actor)' is not on the staff")
            }
            if let left = record.left { throw refuse("'\(event.actor)' left the staff on \(left.at) (event \(left.seq))") }
            guard Policy.maySign(event.type, role: role) else { throw refuse("\(role.withArticle) may not sign \(event.type.rawValue)") }
            return (record, role)
        }

        /// Nothing new is sealed to a tier key a departed member could
        /// still open: their copy must go (`case.key-rotated`) first.
        func requireNoDepartedHolder(_ state: CaseState, _ tier: Tier) throws {
            if let (id, left) = try Vault.departedHolder(of: state, tier: tier, signed: signed) {
                throw refuse("the \(tier.rawValue) tier of \(state.case.number) is still sealed to '\(id)', who left the staff on \(left.at): rotate it first")
            }
            // From format 3: nor to a key someone who left made (and so knew).
            if event.format >= 3, let (id, left) = try Vault.departedKeyMaker(of: state, tier: tier, signed: signed) {
                throw refuse("the \(tier.rawValue) tier key of \(state.case.number) was made by '\(id)', who left the staff on \(left.at): rotate it first")
            }
        }

        /// A case that exists and was not disposed of: nothing is filed
        /// into, granted, read from, moved to or changed in a disposed case.
        func liveCase(_ number: String) throws -> CaseState {
            guard let state = try signed.caseState(number) else { throw refuse("no case \(number)") }
            if try signed.disposal(number) != nil { throw refuse("\(number) was disposed of") }
            return state
        }

        /// A live case this vault still keeps: not transferred to another
        /// (whose copy here is read-only).
        func changeableCase(_ number: String) throws -> CaseState {
            let state = try liveCase(number)
            if let gone = state.case.transferred { throw refuse("\(number) was transferred to vault \(gone.toVault) on \(gone.at): its copy here is read-only") }
            return state
        }

        func requireKey(_ hex: String, _ what: String) throws {
            guard let bytes = [UInt8](hexString: hex), bytes.count == 32, bytes.hexString == hex else { throw refuse("\(what) is not 32 bytes of hex") }
        }

        /// A sealed key an event names anew must be a blob no record names
        /// yet: made fresh for its one record, so erasing it later (a
        /// rotation, a move, a disposal) takes nothing from another record.
        func requireFresh(_ hash: String, _ what: String) throws {
            try requireKey(hash, what)
            guard try writer.recordsNaming(blob: hash) == 0 else { throw refuse("\(what) names a blob another record names") }
        }

        /// Erases a blob once no record names it (the rows that named it
        /// are already changed or gone).
        func eraseIfUnnamed(_ hash: String) throws {
            if try writer.recordsNaming(blob: hash) == 0 { try writer.deleteBlob(hash: hash) }
        }

        mutating func run() throws {
            try project()
            try updateTallies()
        }

        mutating func project() throws {
            switch event.data {
            case .vaultCreated(let data): try vaultCreated(data)
            case .staffAdded(let data): try staffAdded(data)
            case .passphraseChanged(let data): try passphraseChanged(data)
            case .caseOpened(let data): try caseOpened(data)
            case .grantGiven(let data): try grantGiven(data)
            case .versionFiled(let data): try versionFiled(data)
            case .contentRead(let data): try contentRead(data)
            case .contentRefused(let data): try contentRefused(data)
            case .schemaAdded(let data): try schemaAdded(data)
            case .statusChanged(let data): try statusChanged(data)
            case .closureRequested(let data): try closureRequested(data)
            case .closureApproved(let data): try closureApproved(data)
            case .versionWithdrawn(let data): try versionWithdrawn(data)
            case .documentMoved(let data): try documentMoved(data)
            case .tagAdded(let data): try tagged(data, adding: true)
            case .tagRemoved(let data): try tagged(data, adding: false)
            case .agedOutExtended(let data): try agedOutExtended(data)
            case .agedOutClosed(let data): try agedOutClosed(data)
            case .confidentialTypesSet(let data): try confidentialTypesSet(data)
            case .holdPlaced(let data): try hold(data, placing: true)
            case .holdReleased(let data): try hold(data, placing: false)
            case .retentionPolicySet(let data): try retentionPolicySet(data)
            case .disposalApproved(let data): try disposalApproved(data)
            case .disposed(let data): try disposed(data)
            case .staffLeft(let data): try staffLeft(data)
            case .accessGranted(let data): try accessGranted(data)
            case .keyRotated(let data): try keyRotated(data)
            case .handoverStarted(let data): try handoverStarted(data)
            case .handoverCompleted(let data): try handoverCompleted(data)
            case .packageExported(let data): try packageExported(data)
            case .handoverCancelled(let data): try handoverCancelled(data)
            case .caseTransferred(let data): try caseTransferred(data)
            case .caseImported(let data): try caseImported(data)
            case .transferCancelled(let data): try transferCancelled(data)
            case .auditExported(let data): try auditExported(data)
            case .searchKeyGranted(let data): try searchKeyGranted(data)
            case .clientNamed(let data): try clientNamed(data)
            case .talliesStarted(let data): try talliesStarted(data)
            }
        }

        mutating func vaultCreated(_ data: VaultCreated) throws {
            guard event.seq == 1, try writer.vaultSettings() == nil else { throw refuse("only the first event creates the vault") }
            guard data.kdf.algorithm == "argon2id13", data.formatVersion >= 1 else { throw refuse("unknown format or key derivation") }
            if let recovery = data.recoveryPublicKey { try requireKey(recovery, "the recovery public key") }
            let record = VaultSettingsRecord(vaultId: event.vault, formatVersion: data.formatVersion, createdAt: data.createdAt,
                                             kdf: data.kdf, insecureTestingKDF: data.insecureTestingKDF,
                                             recoveryPublicKey: data.recoveryPublicKey, caseCategories: data.caseCategories,
                                             teamTierRoles: data.teamTierRoles, eventSeq: event.seq)
            try writer.putVaultSettings(record)
            try set(StateKey.vault, record)
            if data.tallies == true { try putTally(StateKey.tallyTotals, TallyTotals(since: event.seq)) }
        }

        mutating func staffAdded(_ data: StaffAdded) throws {
            _ = try signed.settings()
            guard let role = Role(rawValue: data.role) else { throw refuse("unknown role '\(data.role)'") }
            guard (try? StaffMember.validate(id: data.id)) != nil, (try? StaffMember.validate(name: data.name)) != nil else {
                throw refuse("the new member's id or name is not valid")
            }
            try requireKey(data.boxPublicKey, "the box public key")
            try requireKey(data.signingPublicKey, "the signing public key")
            try requireKey(data.wrappedKeysHash, "the wrapped keys hash")
            guard try signed.staff(data.id) == nil else { throw refuse("'\(data.id)' is already on the staff") }
            let addedBy: String?
            if event.seq == 2 {
                // The first admin adds themselves, right after signing vault.created.
                guard event.actor == data.id, role == .admin, try writer.event(seq: 1)?.actor == data.id else {
                    throw refuse("the second event must be the first admin adding themselves")
                }
                addedBy = nil
            } else {
                _ = try actor()
                addedBy = event.actor
            }
            let count = try signed.staffCount()
            let record = StaffRecord(id: data.id, name: data.name, role: data.role, boxPublicKey: data.boxPublicKey,
                                     signingPublicKey: data.signingPublicKey, wrappedKeysHash: data.wrappedKeysHash,
                                     addedAt: event.at, addedBy: addedBy, addedSeq: event.seq, keysSeq: event.seq)
            try writer.putStaff(record)
            try set(StateKey.staff(data.id), record)
            try set(StateKey.staffCount, CountState(count: count + 1))
        }

        mutating func passphraseChanged(_ data: PassphraseChanged) throws {
            guard data.id == event.actor else { throw refuse("a member changes only their own passphrase") }
            var (record, _) = try actor()
            try requireKey(data.wrappedKeysHash, "the wrapped keys hash")
            record.wrappedKeysHash = data.wrappedKeysHash
            record.keysSeq = event.seq
            try writer.putStaff(record)
            try set(StateKey.staff(record.id), record)
        }

        mutating func caseOpened(_ data: CaseOpened) throws {
            let (actor, _) = try actor()
            let settings = try signed.settings()
            guard settings.caseCategories.contains(data.category) else { throw refuse("unknown case category '\(data.category)'") }
            guard (1...999_999).contains(data.clientNumber),
                  CaseNumber(category: data.category, year: data.year, clientNumber: data.clientNumber).description == data.case else {
                throw refuse("the case number does not match its category, year and client number")
            }
            guard data.status == CaseStatus.open.rawValue else { throw refuse("a case opens with status O") }
            guard try signed.caseState(data.case) == nil else { throw refuse("case \(data.case) already exists") }
            if let taken = try signed.clientTaken(data.clientNumber) { throw refuse("client number \(data.clientNumber) is already case \(taken)") }
            guard let manager = try signed.staff(data.manager), manager.role == Role.caseManager.rawValue, manager.left == nil else {
                throw refuse("'\(data.manager)' is not a case manager on the staff")
            }
            guard let supervisor = try signed.staff(data.supervisor), supervisor.role == Role.caseSupervisor.rawValue, supervisor.left == nil else {
                throw refuse("'\(data.supervisor)' is not a case supervisor on the staff")
            }
            try requireKey(data.teamPublicKey, "the team-tier public key")
            try requireKey(data.confidentialPublicKey, "the confidential-tier public key")
            let cases = try signed.caseCount()
            let record = CaseRecord(number: data.case, category: data.category, year: data.year, clientNumber: data.clientNumber,
                                    status: data.status, manager: data.manager, supervisor: data.supervisor,
                                    teamPublicKey: data.teamPublicKey, confidentialPublicKey: data.confidentialPublicKey,
                                    openedAt: event.at, openedBy: actor.id, openedSeq: event.seq)
            try writer.putCase(record)
            try set(StateKey.case(data.case), CaseState(record, grants: []))
            try set(StateKey.client(data.clientNumber), ClientState(case: data.case))
            try set(StateKey.caseCount, CaseCountState(count: cases.count + 1, highestClient: max(cases.highestClient, data.clientNumber)))
        }

        mutating func grantGiven(_ data: GrantGiven) throws {
            _ = try actor()
            let state = try changeableCase(data.case)
            guard event.actor == state.case.openedBy, state.case.imported == nil else { throw refuse("only who opened \(data.case) gives its grants") }
            guard let tier = Tier(rawValue: data.tier) else { throw refuse("unknown tier '\(data.tier)'") }
            guard !state.grants.contains(where: { $0.tier == data.tier && $0.holder == data.holder }) else {
                throw refuse("\(data.holder) already holds the \(data.tier) tier of \(data.case)")
            }
            if event.format >= 2 { try requireFresh(data.sealedKeyHash, "the sealed key hash") } else { try requireKey(data.sealedKeyHash, "the sealed key hash") }
            guard state.case.generation(of: tier) == 1 else { throw refuse("grant.given seals the first generation only; later grants are case.access-granted") }
            if data.holder == GrantHolder.recovery {
                guard try signed.settings().recoveryPublicKey == data.holderPublicKey else { throw refuse("the recovery key is not the vault's") }
            } else if let id = GrantHolder.staffID(data.holder), let member = try signed.staff(id) {
                guard member.boxPublicKey == data.holderPublicKey else { throw refuse("the holder's key is not \(id)'s") }
                guard member.left == nil else { throw refuse("'\(id)' left the staff") }
                guard Policy.mayHold(tier, member: member, of: state.case, settings: try signed.settings()) else {
                    throw refuse("'\(id)' may not hold the \(data.tier) tier of \(data.case)")
                }
            } else {
                throw refuse("unknown holder '\(data.holder)'")
            }
            let grant = GrantRecord(caseNumber: data.case, tier: data.tier, holder: data.holder, holderPublicKey: data.holderPublicKey,
                                    sealedKeyHash: data.sealedKeyHash, grantedSeq: event.seq)
            try writer.putGrant(grant)
            try set(StateKey.case(data.case), CaseState(state.case, grants: state.grants + [grant]))
        }

        mutating func versionFiled(_ data: VersionFiled) throws {
            let (actor, _) = try actor()
            let state = try changeableCase(data.case)
            guard let tier = Tier(rawValue: data.tier) else { throw refuse("unknown tier '\(data.tier)'") }
            let document = try signed.document(data.case, data.document)
            // Format 1 stored names as typed; from format 2 a new document's
            // name keeps the rules of filing and is in Unicode NFC (a format-1
            // document with another name goes on under it).
            if event.format >= 2, document == nil {
                guard (try? Vault.validate(documentName: data.document)) != nil, (try? Vault.validate(documentType: data.type)) != nil else {
                    throw refuse("the document name or type breaks the rules of filing")
                }
                guard Vault.isNormalized(documentName: data.document) else { throw refuse("the document name is not in Unicode NFC") }
                // From format 4, the rules a name given now keeps (no bidirectional control, nothing invisible).
                if event.format >= 4, (try? Vault.validate(newDocumentName: data.document)) == nil {
                    throw refuse("the document name breaks the rules of a new name")
                }
            }
            if let document {
                guard document.type == data.type, document.isForm == (data.schema != nil) else {
                    throw refuse("'\(data.document)' keeps its type \(document.type)")
                }
                guard data.version == document.latestVersion + 1 else { throw refuse("version \(data.version) does not follow \(document.latestVersion)") }
                guard !document.confidential || tier == .confidential else { throw refuse("'\(data.document)' is confidential (sticky)") }
            } else {
                guard data.version == 1 else { throw refuse("a new document starts at version 1") }
            }
            guard !Policy.photoTypes.contains(data.type) || tier == .confidential else { throw refuse("photos are confidential") }
            // From format 2, the vault's policy (or its defaults) decides too.
            if event.format >= 2, tier != .confidential, try signed.confidentialTypes().types.contains(data.type) {
                throw refuse("documents of type \(data.type) are confidential by the vault's policy")
            }
            // The stamp must say what the signed state says (manual §5.5).
            let manager = try signed.staff(state.case.manager)?.name
            let supervisor = try signed.staff(state.case.supervisor)?.name
            let stamp = data.stamp
            // Compared as bytes, as a decoder would: Swift's == calls canonically
            // equivalent spellings equal.
            func same(_ a: String?, _ b: String?) -> Bool { a.map { Array($0.utf8) } == b.map { Array($0.utf8) } }
            guard same(stamp.caseNumber, data.case), stamp.caseStatus.rawValue == state.case.status, same(stamp.report, data.document),
                  stamp.version == data.version, same(stamp.filedBy, actor.id), same(stamp.filedByName, actor.name),
                  same(stamp.caseManager, manager), same(stamp.caseSupervisor, supervisor) else {
                throw refuse("the stamp does not match the case's signed state")
            }
            // From format 4 the stamp's date is the event's own time, as casevault stamps it (the plan is
            // made a moment before the event is signed): retention counts from it.
            if event.format >= 4 {
                guard let dated = Timestamp.date(from: stamp.date), let at = Timestamp.date(from: event.at),
                      dated <= at.addingTimeInterval(300), dated >= at.addingTimeInterval(-86_400) else {
                    throw refuse("the stamp's date \(stamp.date) is not the event's time \(event.at)")
                }
            }
            guard ObjectID(hex: data.object) != nil, data.size >= 0, data.ciphertextSize >= 0 else { throw refuse("bad object") }
            if event.format >= 2 { try requireFresh(data.sealedFileKeyHash, "the sealed file key hash") } else {
                try requireKey(data.sealedFileKeyHash, "the sealed file key hash")
            }
            if let fileInfoHash = data.fileInfoHash {
                guard event.format >= 2 else { throw refuse("a format-1 filing keeps no file name") }
                try requireFresh(fileInfoHash, "the sealed file name hash")
                guard fileInfoHash != data.sealedFileKeyHash else { throw refuse("the sealed file name and file key are one blob") }
            }
            try requireNoDepartedHolder(state, tier)
            let documents = document == nil ? try signed.documentCount(data.case) : nil
            let record = VersionRecord(caseNumber: data.case, document: data.document, version: data.version, type: data.type,
                                       tier: data.tier, objectId: data.object, size: data.size, ciphertextSize: data.ciphertextSize,
                                       sealedFileKeyHash: data.sealedFileKeyHash, stamp: stamp, filedSeq: event.seq,
                                       schemaId: data.schema?.id, schemaVersion: data.schema?.version, schemaBodyHash: data.schema?.bodyHash,
                                       keyGeneration: state.case.generation(of: tier), fileInfoHash: data.fileInfoHash)
            let updated = DocumentRecord(caseNumber: data.case, name: data.document, type: data.type, isForm: data.schema != nil,
                                         latestVersion: data.version, confidential: (document?.confidential ?? false) || tier == .confidential)
            try writer.putVersion(record)
            try writer.putDocument(updated)
            if state.case.status == CaseStatus.closed.rawValue { try approvalsLapse(data.case) }
            try set(StateKey.version(data.case, data.document, data.version), record)
            try set(StateKey.document(data.case, data.document), updated)
            if let documents { try set(StateKey.documentCount(data.case), CountState(count: documents + 1)) }
        }

        func contentRead(_ data: ContentRead) throws {
            _ = try actor()
            guard let version = try signed.version(data.case, data.document, data.version),
                  version.tier == data.tier, version.objectId == data.object else {
                throw refuse("no such version to read")
            }
            let state = try liveCase(data.case)  // a disposed case's keys are gone
            guard state.holds(data.tier, GrantHolder.staff(event.actor), generation: version.keyGeneration) else {
                throw refuse("'\(event.actor)' holds no grant for generation \(version.keyGeneration) of the \(data.tier) tier of \(data.case)")
            }
        }

        func contentRefused(_ data: ContentRefused) throws {
            guard let member = try signed.staff(event.actor) else { throw refuse("'\(event.actor)' is not on the staff") }
            if let left = member.left { throw refuse("'\(event.actor)' left the staff on \(left.at) (event \(left.seq))") }
            _ = try liveCase(data.case)
            guard ["role", "no-grant"].contains(data.reason) else { throw refuse("unknown reason '\(data.reason)'") }
            guard try signed.version(data.case, data.document, data.version)?.tier == data.tier else {
                throw refuse("no such version was refused")
            }
        }

        mutating func schemaAdded(_ data: SchemaAdded) throws {
            let (actor, _) = try actor()
            guard event.format < 2 || (try? Vault.validate(documentType: data.type)) != nil else {
                throw refuse("the form type '\(data.type)' is not a valid document type")
            }
            let existing = try signed.schemas(data.type)
            guard data.version == (existing.last?.version ?? 0) + 1 else { throw refuse("schema version \(data.version) does not follow") }
            try requireKey(data.bodyHash, "the schema body hash")
            let types = existing.isEmpty ? try signed.formTypeCount() : nil
            let record = SchemaRecord(formType: data.type, version: data.version, schemaId: data.id, title: data.title,
                                      bodyHash: data.bodyHash, addedAt: event.at, addedBy: actor.id, addedSeq: event.seq)
            try writer.putSchema(record)
            try set(StateKey.schemas(data.type), SchemaTypeState(type: data.type, versions: existing + [record]))
            if let types { try set(StateKey.formTypeCount, CountState(count: types + 1)) }
        }

        // MARK: The case lifecycle (`Lifecycle`'s rules)

        /// The case, for a lifecycle event: format 2 on, a known case, a
        /// reason that keeps the rules.
        /// A case a format-2 event changes; only a rotation, a hold or a
        /// disposal (`transferred: true`) still changes one transferred away.
        func lifecycleCase(_ number: String, reason: String?, transferred: Bool = false) throws -> (state: CaseState, lifecycle: LifecycleState, role: Role) {
            guard event.format >= 2 else { throw refuse("\(event.type.rawValue) is a format-2 event") }
            let (_, role) = try actor()
            let state = transferred ? try liveCase(number) : try changeableCase(number)
            if let reason, let refusal = Lifecycle.refusal(reason: reason) { throw refuse(refusal.message) }
            return (state, try signed.lifecycle(number), role)
        }

        mutating func statusChanged(_ data: StatusChanged) throws {
            let (state, lifecycle, _) = try lifecycleCase(data.case, reason: data.reason)
            guard data.from == state.case.status, let to = CaseStatus(rawValue: data.to) else {
                throw refuse("the move is from \(data.from), but \(data.case) is \(state.case.status)")
            }
            let closureFiled = to == .closed ? try signed.closureFiled(data.case) : false
            if let refusal = Lifecycle.refusal(moving: state.case, to: to, by: event.actor, closureFiled: closureFiled) {
                throw refuse(refusal.message)
            }
            try changeStatus(state, lifecycle, to: to, reason: data.reason, requestedBy: nil)
        }

        mutating func closureRequested(_ data: ClosureRequested) throws {
            let (state, lifecycle, _) = try lifecycleCase(data.case, reason: data.reason)
            if let refusal = Lifecycle.refusal(requestingClosureOf: state.case, approver: data.approver, by: event.actor,
                                               closureFiled: try signed.closureFiled(data.case)) {
                throw refuse(refusal.message)
            }
            let request = ClosureRequestRecord(caseNumber: data.case, seq: event.seq, at: event.at, requestedBy: event.actor,
                                               approver: data.approver, reason: data.reason)
            try writer.putClosureRequest(request)
            try set(StateKey.lifecycle(data.case), LifecycleState(changes: lifecycle.changes, pendingClosure: request,
                                                                  aoExtension: lifecycle.aoExtension))
        }

        mutating func closureApproved(_ data: ClosureApproved) throws {
            let (state, lifecycle, _) = try lifecycleCase(data.case, reason: nil)
            if let refusal = Lifecycle.refusal(approving: data.request, pending: lifecycle.pendingClosure, of: state.case,
                                               by: event.actor, closureFiled: try signed.closureFiled(data.case)) {
                throw refuse(refusal.message)
            }
            guard let request = lifecycle.pendingClosure else { throw refuse("no closure awaits approval") }
            try changeStatus(state, lifecycle, to: .closed, reason: request.reason, requestedBy: request.requestedBy)
        }

        mutating func versionWithdrawn(_ data: VersionWithdrawn) throws {
            let (state, _, _) = try lifecycleCase(data.case, reason: data.reason)
            guard event.actor == state.case.manager || event.actor == state.case.supervisor else {
                throw refuse("only the case's manager or supervisor withdraws a version of \(data.case)")
            }
            guard try signed.version(data.case, data.document, data.version) != nil else {
                throw refuse("no version \(data.version) of '\(data.document)' of \(data.case)")
            }
            let withdrawn = try signed.withdrawals(data.case, data.document)
            guard !withdrawn.contains(where: { $0.version == data.version }) else {
                throw refuse("version \(data.version) of '\(data.document)' is already withdrawn")
            }
            // From format 4, approvals of a disposal were given for the case as it was, withdrawals included.
            if event.format >= 4 { try approvalsLapse(data.case) }
            let record = WithdrawalRecord(caseNumber: data.case, document: data.document, version: data.version, seq: event.seq,
                                          at: event.at, by: event.actor, reason: data.reason)
            try writer.putWithdrawal(record)
            try set(StateKey.withdrawals(data.case, data.document),
                    WithdrawalState(versions: (withdrawn + [record]).sorted { $0.version < $1.version }))
        }

        /// Every read first, against the state before the event; then the
        /// source loses the document (rows, map keys, the old sealed file
        /// keys) and keeps a tombstone, and the target gains it, each
        /// version naming its origin and its file key sealed anew.
        mutating func documentMoved(_ data: DocumentMoved) throws {
            let (state, _, _) = try lifecycleCase(data.case, reason: data.reason)
            guard event.actor == state.case.manager || event.actor == state.case.supervisor else {
                throw refuse("only the case's manager or supervisor moves a document of \(data.case)")
            }
            guard Array(data.to.utf8) != Array(data.case.utf8) else { throw refuse("a document moves to another case") }
            guard try signed.hold(data.case) == nil else { throw refuse("\(data.case) is on legal hold: nothing leaves it") }
            // From format 4, nothing leaves a closed case: under last-filing, moving its newest
            // document out would bring the end of the rest's keeping forward.
            if event.format >= 4, state.case.status == CaseStatus.closed.rawValue {
                throw refuse("\(data.case) is closed: nothing leaves a closed case")
            }
            // From format 4, nor while the retention policy's legalHolds hold it.
            if event.format >= 4, let at = Timestamp.date(from: event.at),
               let held = try RetentionSchedule(signed, asOf: at)?.policyHold(of: state.case) {
                throw refuse("\(data.case) is on legal hold: \(held); nothing leaves it")
            }
            let target = try changeableCase(data.to)
            // Nor goes into one: it would be disposed of with a case whose keeping ran while it was elsewhere.
            if event.format >= 4, target.case.status == CaseStatus.closed.rawValue {
                throw refuse("\(data.to) is closed: nothing is moved into a closed case")
            }
            guard let document = try signed.document(data.case, data.document) else {
                throw refuse("no document '\(data.document)' in \(data.case)")
            }
            guard (try? Vault.validate(documentName: data.toDocument)) != nil, Vault.isNormalized(documentName: data.toDocument),
                  event.format < 4 || (try? Vault.validate(newDocumentName: data.toDocument)) != nil else {
                throw refuse("the new document name breaks the rules of filing or is not in Unicode NFC")
            }
            guard try signed.document(data.to, data.toDocument) == nil else {
                throw refuse("\(data.to) already has a document '\(data.toDocument)'")
            }
            guard data.versions.map(\.version) == Array(stride(from: 1, through: document.latestVersion, by: 1)) else {
                throw refuse("the move names versions other than 1 to \(document.latestVersion)")
            }
            for item in data.versions { try requireFresh(item.sealedFileKeyHash, "a new sealed file key hash") }
            let fresh = Set(data.versions.map(\.sealedFileKeyHash))
            let versions = try signed.versions(of: document)
            // Sealed anew: each new blob is its own, none an old one.
            guard fresh.count == versions.count, fresh.isDisjoint(with: versions.map(\.sealedFileKeyHash)) else {
                throw refuse("the move must name a new sealed file key for each version")
            }
            let withdrawals = try signed.withdrawals(data.case, data.document)
            let earlierMoves = try signed.moves(data.case, data.document)
            let sourceCount = try signed.documentCount(data.case)
            let targetCount = try signed.documentCount(data.to)

            for record in versions {
                guard let tier = Tier(rawValue: record.tier) else { throw refuse("a version of '\(data.document)' has no known tier") }
                try requireNoDepartedHolder(target, tier)
            }

            // The source: the rows go, and the old sealed file keys with them (below).
            try writer.deleteDocument(caseNumber: data.case, name: data.document)
            for record in versions { try remove(StateKey.version(data.case, data.document, record.version)) }
            try remove(StateKey.document(data.case, data.document))
            if !withdrawals.isEmpty { try remove(StateKey.withdrawals(data.case, data.document)) }
            if sourceCount > 1 {
                try set(StateKey.documentCount(data.case), CountState(count: sourceCount - 1))
            } else {
                try remove(StateKey.documentCount(data.case))
            }
            let tombstone = MoveRecord(caseNumber: data.case, document: data.document, seq: event.seq, at: event.at, by: event.actor,
                                       toCase: data.to, toDocument: data.toDocument, versions: versions.count, reason: data.reason)
            try writer.putMove(tombstone)
            try set(StateKey.moves(data.case, data.document), MoveState(moves: earlierMoves + [tombstone]))

            // The target.
            if target.case.status == CaseStatus.closed.rawValue { try approvalsLapse(data.to) }
            for (record, item) in zip(versions, data.versions) {
                var moved = record
                moved.keyGeneration = target.case.generation(of: Tier(rawValue: record.tier) ?? .team)
                moved.caseNumber = data.to
                moved.document = data.toDocument
                moved.sealedFileKeyHash = item.sealedFileKeyHash
                moved.origin = record.origin ?? VersionOrigin(case: record.caseNumber, document: record.document)
                try writer.putVersion(moved)
                try set(StateKey.version(data.to, data.toDocument, moved.version), moved)
            }
            var arrived = document
            arrived.caseNumber = data.to
            arrived.name = data.toDocument
            try writer.putDocument(arrived)
            try set(StateKey.document(data.to, data.toDocument), arrived)
            try set(StateKey.documentCount(data.to), CountState(count: targetCount + 1))
            if !withdrawals.isEmpty {
                let carried = withdrawals.map { w in
                    WithdrawalRecord(caseNumber: data.to, document: data.toDocument, version: w.version, seq: w.seq, at: w.at, by: w.by,
                                     reason: w.reason)
                }
                for record in carried { try writer.putWithdrawal(record) }
                try set(StateKey.withdrawals(data.to, data.toDocument), WithdrawalState(versions: carried))
            }
            for record in versions { try eraseIfUnnamed(record.sealedFileKeyHash) }
        }

        mutating func tagged(_ data: CaseTagged, adding: Bool) throws {
            let (state, _, role) = try lifecycleCase(data.case, reason: nil)
            guard event.actor == state.case.manager || event.actor == state.case.supervisor || role == .projectDirector else {
                throw refuse("only the case's manager or supervisor, or a project director, tags \(data.case)")
            }
            guard CaseTags.isValid(data.tag) else { throw refuse("'\(data.tag)' is not a tag") }
            var tags = try signed.tags(data.case)
            let present = tags.contains { Array($0.tag.utf8) == Array(data.tag.utf8) }
            if adding {
                guard !present else { throw refuse("\(data.case) is already tagged \(data.tag)") }
                let record = CaseTagRecord(caseNumber: data.case, tag: data.tag, seq: event.seq, at: event.at, by: event.actor)
                try writer.putTag(record)
                tags.append(record)
                tags.sort { $0.tag.utf8.lexicographicallyPrecedes($1.tag.utf8) }
            } else {
                guard present else { throw refuse("\(data.case) is not tagged \(data.tag)") }
                try writer.deleteTag(caseNumber: data.case, tag: data.tag)
                tags.removeAll { Array($0.tag.utf8) == Array(data.tag.utf8) }
            }
            if tags.isEmpty { try remove(StateKey.tags(data.case)) } else { try set(StateKey.tags(data.case), TagState(tags: tags)) }
        }

        mutating func agedOutExtended(_ data: AgedOutExtended) throws {
            let (state, lifecycle, _) = try lifecycleCase(data.case, reason: data.reason)
            guard let now = Timestamp.date(from: event.at) else { throw refuse("the event's time is not a date") }
            if let refusal = Lifecycle.refusal(extending: state.case, lifecycle, until: data.until, by: event.actor, at: now) {
                throw refuse(refusal.message)
            }
            let record = AgedOutExtensionRecord(caseNumber: data.case, seq: event.seq, at: event.at, by: event.actor, until: data.until,
                                                reason: data.reason)
            try writer.putAOExtension(record)
            try set(StateKey.lifecycle(data.case),
                    LifecycleState(changes: lifecycle.changes, pendingClosure: lifecycle.pendingClosure, aoExtension: record))
        }

        mutating func agedOutClosed(_ data: AgedOutClosed) throws {
            let (state, lifecycle, role) = try lifecycleCase(data.case, reason: nil)
            guard role != .caseSupervisor || event.actor == state.case.supervisor else {
                throw refuse("a case supervisor closes their own aged-out cases only")
            }
            guard let now = Timestamp.date(from: event.at) else { throw refuse("the event's time is not a date") }
            if let refusal = Lifecycle.refusal(closingAgedOut: state.case, lifecycle, closedOn: data.closedOn, at: now) {
                throw refuse(refusal.message)
            }
            let how = lifecycle.aoExtension == nil ? "\(Lifecycle.agedOutMonths) months after it became AO" : "at the end of its extension"
            try changeStatus(state, lifecycle, to: .closed, reason: "aged out: closed on \(data.closedOn), \(how)", requestedBy: nil)
        }

        mutating func retentionPolicySet(_ data: RetentionPolicySet) throws {
            guard event.format >= 2 else { throw refuse("\(event.type.rawValue) is a format-2 event") }
            _ = try actor()
            try requireKey(data.bodyHash, "the policy's hash")
            let versions = try signed.retentionPolicies()
            guard data.version == (versions.last?.version ?? 0) + 1 else { throw refuse("policy version \(data.version) does not follow") }
            let record = RetentionPolicyRecord(version: data.version, bodyHash: data.bodyHash, seq: event.seq, at: event.at, by: event.actor)
            try writer.putRetentionPolicy(record)
            try set(StateKey.retentionPolicies, RetentionPolicyState(versions: versions + [record]))
        }

        // MARK: Disposal by crypto-shredding

        /// Approvals of a disposal were given for the case as it was: a
        /// change of status, or a document filed or moved into it, voids them.
        mutating func approvalsLapse(_ number: String) throws {
            guard try !signed.disposalApprovals(number).isEmpty else { return }
            try writer.deleteDisposalApprovals(caseNumber: number)
            try remove(StateKey.disposalApprovals(number))
        }

        /// What both disposal events require: the policy in force is
        /// `policyVersion`, and, as of the event's time, it lists the case
        /// for disposal (closed, its keeping period over, no hold of the
        /// vault's or the policy's, a crypto-shredding rule). Returns the rule.
        func due(_ state: CaseState, policyVersion: Int) throws -> (rule: RetentionPolicy.Rule, name: String) {
            guard let at = Timestamp.date(from: event.at) else { throw refuse("the event's time is not a date") }
            guard let schedule = try RetentionSchedule(signed, asOf: at), schedule.version == policyVersion else {
                throw refuse("retention policy v\(policyVersion) is not the one in force")
            }
            guard let (item, rule, name) = try schedule.item(for: state, signed, format: event.format) else {
                throw refuse("\(state.case.number) is \(state.case.status); only a closed case is disposed of")
            }
            guard item.action == .dispose else { throw refuse("\(state.case.number) is not due for disposal on \(event.at): \(item.why)") }
            return (rule, name)
        }

        mutating func disposalApproved(_ data: DisposalApproved) throws {
            let (state, _, role) = try lifecycleCase(data.case, reason: data.reason, transferred: true)
            guard role != .caseSupervisor || event.actor == state.case.supervisor else {
                throw refuse("a case supervisor approves the disposal of their own cases only")
            }
            let (rule, name) = try due(state, policyVersion: data.policyVersion)
            guard rule.approverRoles.contains(role.rawValue) else { throw refuse("the policy's rule \(name) is not approved by \(role.withArticle)") }
            let standing = try signed.disposalApprovals(data.case)
            guard !standing.contains(where: { $0.by == event.actor && $0.policyVersion == data.policyVersion }) else {
                throw refuse("'\(event.actor)' already approved disposing of \(data.case) under policy v\(data.policyVersion)")
            }
            let record = DisposalApprovalRecord(caseNumber: data.case, seq: event.seq, at: event.at, by: event.actor,
                                                policyVersion: data.policyVersion, reason: data.reason)
            try writer.putDisposalApproval(record)
            try set(StateKey.disposalApprovals(data.case), DisposalApprovalState(approvals: standing + [record]))
        }

        /// Every read first; then every sealed copy of the case's tier keys
        /// and of its file keys is erased, and the tombstone added. The
        /// case's other rows stay: they are its record.
        mutating func disposed(_ data: CaseDisposed) throws {
            let (state, _, _) = try lifecycleCase(data.case, reason: nil, transferred: true)
            let (rule, name) = try due(state, policyVersion: data.policyVersion)
            guard Array(data.rule.utf8) == Array(name.utf8) else { throw refuse("the rule that applies is \(name), not \(data.rule)") }
            let standing = try signed.disposalApprovals(data.case)
            guard zip(data.approvals, data.approvals.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw refuse("a disposal lists its approvals ascending")
            }
            var approvers = Set<String>()
            for seq in data.approvals {
                guard let approval = standing.first(where: { $0.seq == seq }), approval.policyVersion == data.policyVersion else {
                    throw refuse("event \(seq) is no standing approval of disposing of \(data.case) under policy v\(data.policyVersion)")
                }
                guard approval.by != event.actor, approval.by != state.case.manager, approvers.insert(approval.by).inserted else {
                    throw refuse("the approvals must be by members other than who disposes and the case's manager, each once")
                }
                guard let role = try signed.staff(approval.by)?.role, rule.approverRoles.contains(role) else {
                    throw refuse("'\(approval.by)' is not of a role the rule \(name) lets approve")
                }
                // From format 4, an approval counts only while its signer could still give it.
                if event.format >= 4, let lapsed = try Vault.lapsedApproval(approval, of: state, signed) {
                    throw refuse("the approval of event \(seq) no longer counts: \(lapsed)")
                }
            }
            guard !data.approvals.isEmpty, data.approvals.count >= rule.minimumApprovals else {
                throw refuse("the rule \(name) needs \(rule.minimumApprovals) approval(s); the disposal names \(data.approvals.count)")
            }
            let documents = try signed.documents(data.case)
            var versions: [VersionRecord] = []
            for document in documents { versions += try signed.versions(of: document) }
            let bytes = versions.reduce(Int64(0)) { $0 + $1.ciphertextSize }
            guard data.documents == documents.count, data.versions == versions.count, data.ciphertextBytes == bytes else {
                throw refuse("the certificate's counts are not the case's (\(documents.count) documents, \(versions.count) versions, \(bytes) bytes)")
            }
            // Blobs a signed record of another kind names are not the case's
            // to erase (a version signed by hand may name any hash).
            // The rows stay: a blob is erased unless a record outside the
            // case's grants and versions names it too.
            var own: [String: Int] = [:]
            for hash in state.grants.map(\.sealedKeyHash) + versions.flatMap({ [$0.sealedFileKeyHash] + ($0.schemaBodyHash.map { [$0] } ?? []) + ($0.fileInfoHash.map { [$0] } ?? []) }) {
                own[hash, default: 0] += 1
            }
            // The sealed file names go with the file keys (§11a).
            let erasable = state.grants.map(\.sealedKeyHash) + versions.map(\.sealedFileKeyHash) + versions.compactMap(\.fileInfoHash)
            for hash in Set(erasable) where try writer.recordsNaming(blob: hash) <= own[hash, default: 0] {
                try writer.deleteBlob(hash: hash)
            }
            let record = DisposalRecord(caseNumber: data.case, seq: event.seq, at: event.at, by: event.actor, policyVersion: data.policyVersion,
                                        rule: data.rule, approvals: data.approvals, documents: documents.count, versions: versions.count,
                                        ciphertextBytes: bytes)
            try writer.putDisposal(record)
            try set(StateKey.disposal(data.case), record)
            // The client's name goes with the case: nothing can find it after,
            // and since v18 its tokens are erased (SECURITY.md §12e).
            if let index = try signed.clientIndex(data.case) {
                let count = try signed.clientIndexCount()
                try writer.deleteClientIndex(caseNumber: data.case)
                if let hash = index.indexHash { try writer.deleteBlob(hash: hash) }
                try remove(StateKey.clientIndex(data.case))
                if count > 1 { try set(StateKey.clientIndexCount, CountState(count: count - 1)) } else { try remove(StateKey.clientIndexCount) }
            }
        }

        // MARK: Finding cases by client name (SECURITY.md §12e)

        /// The first grant creates the key and goes to its creator; every
        /// later one is sealed by a member who holds it.
        mutating func searchKeyGranted(_ data: SearchKeyGranted) throws {
            guard event.format >= 2 else { throw refuse("\(event.type.rawValue) is a format-2 event") }
            _ = try actor()
            let holders = try signed.searchKeys()
            if holders.isEmpty {
                guard data.holder == event.actor else { throw refuse("the search key is first sealed to the member who creates it") }
            } else {
                guard holders.contains(where: { $0.holder == event.actor }) else {
                    throw refuse("'\(event.actor)' holds no copy of the search key, so cannot seal it to anyone")
                }
            }
            guard let member = try signed.staff(data.holder), let role = Role(rawValue: member.role) else {
                throw refuse("'\(data.holder)' is no staff member")
            }
            guard member.left == nil else { throw refuse("'\(data.holder)' left the staff") }
            guard member.boxPublicKey == data.holderPublicKey else { throw refuse("the holder's key is not \(data.holder)'s") }
            guard Policy.searchingRoles.contains(role) else { throw refuse("\(role.withArticle) does not search by client name") }
            guard !holders.contains(where: { Array($0.holder.utf8) == Array(data.holder.utf8) }) else {
                throw refuse("'\(data.holder)' already holds the search key")
            }
            guard let check = [UInt8](hexString: data.keyCheck), check.count == 16, check.hexString == data.keyCheck else {
                throw refuse("the key check is not 16 bytes of hex")
            }
            // Every grant names the same key (the first grant's): a copy of another key is refused.
            if let first = holders.min(by: { $0.seq < $1.seq }), first.keyCheck != data.keyCheck {
                throw refuse("the key sealed to '\(data.holder)' is not the vault's search key (its key check differs)")
            }
            try requireFresh(data.sealedKeyHash, "the sealed search key hash")
            guard try keyMaterialWithheld || writer.blob(hash: data.sealedKeyHash)?.count == ClientNameIndex.sealedKeyBytes else {
                throw refuse("the sealed search key is not a \(ClientNameIndex.sealedKeyBytes)-byte sealed box")
            }
            let record = SearchKeyRecord(holder: data.holder, holderPublicKey: data.holderPublicKey, keyCheck: data.keyCheck,
                                         sealedKeyHash: data.sealedKeyHash, seq: event.seq)
            try writer.putSearchKey(record)
            let all = (holders + [record]).sorted { $0.holder.utf8.lexicographicallyPrecedes($1.holder.utf8) }
            try set(StateKey.searchKeys, SearchKeyState(holders: all))
        }

        /// Sets or replaces a case's index. Case managers and supervisors
        /// name their own cases; records officers, project directors and
        /// admins any case this vault keeps.
        mutating func clientNamed(_ data: ClientNamed) throws {
            let (state, _, role) = try lifecycleCase(data.case, reason: nil)
            if role == .caseManager || role == .caseSupervisor {
                guard event.actor == state.case.manager || event.actor == state.case.supervisor else {
                    throw refuse("a case manager or supervisor names the client of their own cases only")
                }
            }
            guard try signed.searchKeys().contains(where: { $0.holder == event.actor }) else {
                throw refuse("'\(event.actor)' holds no copy of the search key")
            }
            let malformed = "the index is not \(ClientNameIndex.slots) distinct \(ClientNameIndex.tokenBytes)-byte tokens, ascending"
            let earlier = try signed.clientIndex(data.case)
            let record: ClientIndexRecord
            guard data.index == nil || data.indexHash == nil else { throw refuse("an event carries the index or names its blob, not both") }
            if let index = data.index {
                guard let bytes = [UInt8](hexString: index), bytes.hexString == index, ClientNameIndex.isWellFormed(bytes) else {
                    throw refuse(malformed + ", in hex")
                }
                record = ClientIndexRecord(caseNumber: data.case, index: index, seq: event.seq)
            } else if let hash = data.indexHash {
                // A blob of its own, never one another record names (which
                // erasing it would take from that record): each naming salts
                // a new one.
                guard hash.count == 64, [UInt8](hexString: hash)?.hexString == hash else { throw refuse("indexHash is not a BLAKE2b-256 in hex") }
                guard try writer.recordsNaming(blob: hash) == 0 else { throw refuse("the index's blob \(hash) is named by another record") }
                // Appended, the blob must be there and be an index. In a
                // replay it is gone once the case was named again or disposed
                // of (and a copy that does not hash to its name is `verify`'s
                // to report): the row then keeps nothing, and `find` refuses
                // such a current index.
                var stored: [UInt8] = []
                if let bytes = try writer.blob(hash: hash), Blake2b.hash(bytes).hexString == hash {
                    guard ClientNameIndex.index(ofBlob: bytes) != nil else { throw refuse(malformed + ", after a \(ClientNameIndex.saltBytes)-byte salt") }
                    stored = bytes
                } else if checked {
                    throw refuse("the index's blob \(hash) is not stored with the event")
                }
                record = ClientIndexRecord(caseNumber: data.case, index: stored.hexString, seq: event.seq, indexHash: hash)
            } else {
                throw refuse("the event names no index")
            }
            let count = earlier == nil ? try signed.clientIndexCount() : 0
            try writer.putClientIndex(record)
            try set(StateKey.clientIndex(data.case), record)
            if earlier == nil { try set(StateKey.clientIndexCount, CountState(count: count + 1)) }
            // The spelling replaced goes (SECURITY.md §12e): whatever rows say,
            // for no record may name an index's blob but its index (a row
            // added by hand to name it would otherwise keep it).
            if let old = earlier?.indexHash, old != record.indexHash { try writer.deleteBlob(hash: old) }
        }

        // MARK: Departures, access and key rotation

        mutating func staffLeft(_ data: StaffLeft) throws {
            guard event.format >= 2 else { throw refuse("\(event.type.rawValue) is a format-2 event") }
            _ = try actor()
            if let refusal = Lifecycle.refusal(reason: data.reason) { throw refuse(refusal.message) }
            guard var member = try signed.staff(data.id) else { throw refuse("no staff member '\(data.id)'") }
            guard member.left == nil else { throw refuse("'\(data.id)' already left the staff") }
            // The actor is an admin still on the staff, so one always stays.
            guard data.id != event.actor else { throw refuse("a member's departure is recorded by another admin") }
            member.left = StaffDeparture(seq: event.seq, at: event.at, by: event.actor, reason: data.reason)
            try writer.putStaff(member)
            try set(StateKey.staff(member.id), member)
        }

        mutating func accessGranted(_ data: AccessGranted) throws {
            let (state, _, role) = try lifecycleCase(data.case, reason: data.reason)
            guard role != .caseSupervisor || event.actor == state.case.supervisor else {
                throw refuse("a case supervisor grants access to their own cases only")
            }
            if role == .caseManager {
                guard try managerStandsIn(for: state) else {
                    throw refuse("a case manager grants access only to their own case, once its supervisor has left the staff")
                }
                guard let handover = try signed.handover(data.case), handover.role == "supervisor",
                      GrantHolder.staff(handover.to) == data.holder else {
                    throw refuse("a case manager grants access only to the incoming supervisor of the case's handover")
                }
            }
            guard let tier = Tier(rawValue: data.tier) else { throw refuse("unknown tier '\(data.tier)'") }
            let generation = state.case.generation(of: tier)
            guard state.case.keys?[tier].older.isEmpty ?? true else {
                throw refuse("older generations of the \(data.tier) tier of \(data.case) await re-sealing: rotate it first")
            }
            guard state.holds(data.tier, GrantHolder.staff(event.actor), generation: generation) else {
                throw refuse("'\(event.actor)' does not hold the \(data.tier) tier of \(data.case), so cannot seal it to anyone")
            }
            guard let id = GrantHolder.staffID(data.holder), let member = try signed.staff(id), let memberRole = Role(rawValue: member.role) else {
                throw refuse("'\(data.holder)' is no staff member")
            }
            guard member.left == nil else { throw refuse("'\(id)' left the staff") }
            guard member.boxPublicKey == data.holderPublicKey else { throw refuse("the holder's key is not \(id)'s") }
            guard Policy.mayBeGranted(tier, role: memberRole) else { throw refuse("\(memberRole.withArticle) may not hold the \(data.tier) tier") }
            guard !state.holds(data.tier, data.holder) else {
                throw refuse("\(data.holder) already holds the \(data.tier) tier of \(data.case)")
            }
            try requireFresh(data.sealedKeyHash, "the sealed key hash")
            let grant = GrantRecord(caseNumber: data.case, tier: data.tier, holder: data.holder, holderPublicKey: data.holderPublicKey,
                                    sealedKeyHash: data.sealedKeyHash, grantedSeq: event.seq, generation: generation)
            try writer.putGrant(grant)
            try set(StateKey.case(data.case), CaseState(state.case, grants: state.grants + [grant]))
        }

        /// Every read first: the tier's holders now, who may be removed,
        /// and the versions to re-seal; then the removed holders' copies of
        /// every generation are erased, the new generation granted, and,
        /// when the rotation re-seals every version, the older generations
        /// (grants and sealed file keys) erased too.
        mutating func keyRotated(_ data: KeyRotated) throws {
            let (state, _, role) = try lifecycleCase(data.case, reason: data.reason, transferred: true)
            guard try role != .caseSupervisor || event.actor == state.case.supervisor || incomingSupervisor(of: data.case) else {
                throw refuse("a case supervisor rotates the keys of their own cases only")
            }
            // The incoming supervisor of a supervisor's handover rotates to
            // complete it: removing the outgoing supervisor, and members who left.
            if role == .caseSupervisor, event.actor != state.case.supervisor, let handover = try signed.handover(data.case) {
                for holder in data.removed where holder != GrantHolder.staff(handover.from) {
                    guard try signed.holderLeft(holder) else {
                        throw refuse("the incoming supervisor's rotation removes only the outgoing supervisor and members who left")
                    }
                }
            }
            if role == .caseManager {
                guard try managerStandsIn(for: state) else {
                    throw refuse("a case manager rotates keys only of their own case, once its supervisor has left the staff")
                }
                for holder in data.removed where try !signed.holderLeft(holder) {
                    throw refuse("a case manager's rotation removes only members who left the staff")
                }
            }
            guard let tier = Tier(rawValue: data.tier) else { throw refuse("unknown tier '\(data.tier)'") }
            var keys = state.case.keys ?? .initial
            let current = keys[tier].generation
            guard data.generation == current + 1 else { throw refuse("generation \(data.generation) does not follow \(current)") }
            try requireKey(data.publicKey, "the new public key")
            let currentKey = tier == .team ? state.case.teamPublicKey : state.case.confidentialPublicKey
            guard data.publicKey != currentKey, !keys[tier].older.contains(where: { $0.publicKey == data.publicKey }) else {
                throw refuse("the new key must be new")
            }
            func sortedByBytes(_ names: [String]) -> Bool { zip(names, names.dropFirst()).allSatisfy { $0.utf8.lexicographicallyPrecedes($1.utf8) } }
            let tierGrants = state.grants.filter { $0.tier == data.tier }
            let holdersNow = tierGrants.filter { $0.generation == current }.map(\.holder)
            guard sortedByBytes(data.removed), data.removed.allSatisfy({ holdersNow.contains($0) }) else {
                throw refuse("the removed holders must be holders of the tier now, sorted, each once")
            }
            let removed = Set(data.removed)
            // Whoever signs a rotation makes its new key: one who is removed
            // by it would leave knowing the key of what is filed next.
            guard event.format < 3 || !removed.contains(GrantHolder.staff(event.actor)) else {
                throw refuse("a rotation is never signed by a holder it removes: '\(event.actor)' would know the new key")
            }
            for holder in data.removed {
                guard holder != GrantHolder.recovery else { throw refuse("the recovery key keeps every tier") }
                guard let id = GrantHolder.staffID(holder) else { throw refuse("unknown holder '\(holder)'") }
                if id == state.case.manager || id == state.case.supervisor, try signed.staff(id)?.left == nil,
                   try signed.handover(data.case)?.from != id {
                    throw refuse("the case's manager and supervisor keep its tiers while on the staff, unless handing it over")
                }
            }
            // Whoever does not hold the tier makes its new key without being
            // able to re-seal: only an admin, and only to remove members who
            // left, or to replace a key a member who left made (a project
            // director never holds a confidential tier, and must not be able
            // to put one in place that they keep).
            if !tierGrants.contains(where: { $0.holder == GrantHolder.staff(event.actor) && $0.generation == current }) {
                var onlyDeparted = !data.removed.isEmpty
                for holder in data.removed where try !signed.holderLeft(holder) { onlyDeparted = false }
                let makerLeft = try data.removed.isEmpty && Vault.departedKeyMaker(of: state, tier: tier, signed: signed) != nil
                guard role == .admin, onlyDeparted || makerLeft else {
                    throw refuse("only a holder of the \(data.tier) tier rotates it; an admin rotates it only to remove members who left the staff, or to replace a key one of them made")
                }
            }
            let settings = try signed.settings()
            var kept: [String] = []
            for holder in holdersNow where !removed.contains(holder) {
                if let id = GrantHolder.staffID(holder), let left = try signed.staff(id)?.left {
                    throw refuse("'\(id)' left the staff on \(left.at): the rotation must remove them")
                }
                kept.append(holder)
            }
            kept.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            // The case's manager and supervisor (unless they left, or one is
            // handing the case over) and the recovery key keep every tier.
            let handingOver = try signed.handover(data.case)?.from
            var due = settings.recoveryPublicKey == nil ? [] : [GrantHolder.recovery]
            for id in [state.case.manager, state.case.supervisor] where id != handingOver {
                if try signed.staff(id)?.left == nil { due.append(GrantHolder.staff(id)) }
            }
            for holder in due where !kept.contains(holder) {
                throw refuse("the new key must be sealed to \(holder), who keeps the \(data.tier) tier")
            }
            guard data.holders.map(\.holder).map({ Array($0.utf8) }) == kept.map({ Array($0.utf8) }) else {
                throw refuse("the new key must be sealed to exactly the holders who keep the tier: \(kept.joined(separator: ", "))")
            }
            for item in data.holders {
                let expected = item.holder == GrantHolder.recovery ? settings.recoveryPublicKey
                    : try GrantHolder.staffID(item.holder).flatMap { try signed.staff($0)?.boxPublicKey }
                guard item.holderPublicKey == expected else { throw refuse("the key sealed to \(item.holder) is not sealed to their public key") }
                try requireFresh(item.sealedKeyHash, "a sealed key hash")
            }
            guard Set(data.holders.map(\.sealedKeyHash)).count == data.holders.count,
                  Set(data.holders.map(\.sealedKeyHash)).isDisjoint(with: tierGrants.map(\.sealedKeyHash)) else {
                throw refuse("each holder's sealed key must be a new blob of its own")
            }
            // The versions of the tier, by document (as bytes) and version.
            var versions: [VersionRecord] = []
            for document in try signed.documents(data.case) {
                versions += try signed.versions(of: document).filter { $0.tier == data.tier }
            }
            let folding = !data.versions.isEmpty || versions.isEmpty
            if !data.versions.isEmpty {
                guard data.versions.map({ Array($0.document.utf8) }) == versions.map({ Array($0.document.utf8) }),
                      data.versions.map(\.version) == versions.map(\.version) else {
                    throw refuse("a rotation re-seals every version of the tier, by document and version, or none")
                }
                guard tierGrants.contains(where: { $0.holder == GrantHolder.staff(event.actor) && $0.generation == current }) else {
                    throw refuse("only a holder of the \(data.tier) tier re-seals its file keys")
                }
                for item in data.versions { try requireFresh(item.sealedFileKeyHash, "a re-sealed file key hash") }
                let fresh = Set(data.versions.map(\.sealedFileKeyHash))
                guard fresh.count == versions.count, fresh.isDisjoint(with: versions.map(\.sealedFileKeyHash)),
                      fresh.isDisjoint(with: data.holders.map(\.sealedKeyHash)) else {
                    throw refuse("each version's file key must be re-sealed to a new blob of its own")
                }
            }

            var erased: [String] = []
            var grants = state.grants.filter { $0.tier != data.tier }
            for grant in tierGrants {
                if removed.contains(grant.holder) || folding {
                    try writer.deleteGrant(caseNumber: data.case, tier: data.tier, holder: grant.holder, generation: grant.generation)
                    erased.append(grant.sealedKeyHash)
                } else {
                    grants.append(grant)
                }
            }
            for item in data.holders {
                let grant = GrantRecord(caseNumber: data.case, tier: data.tier, holder: item.holder, holderPublicKey: item.holderPublicKey,
                                        sealedKeyHash: item.sealedKeyHash, grantedSeq: event.seq, generation: data.generation)
                try writer.putGrant(grant)
                grants.append(grant)
            }
            for (record, item) in zip(versions, data.versions) {
                var resealed = record
                resealed.sealedFileKeyHash = item.sealedFileKeyHash
                resealed.keyGeneration = data.generation
                try writer.putVersion(resealed)
                erased.append(record.sealedFileKeyHash)
                try set(StateKey.version(data.case, record.document, record.version), resealed)
            }
            var record = state.case
            keys[tier] = TierKeys(generation: data.generation,
                                  older: folding ? [] : keys[tier].older + [TierKeys.Older(generation: current, publicKey: currentKey)],
                                  madeBy: event.format >= 3 ? event.actor : nil)
            record.keys = keys
            if tier == .team { record.teamPublicKey = data.publicKey } else { record.confidentialPublicKey = data.publicKey }
            try writer.putCase(record)
            try set(StateKey.case(data.case), CaseState(record, grants: grants))
            for hash in erased { try eraseIfUnnamed(hash) }
        }

        // MARK: Moving a case between vaults (SECURITY.md §15b)

        /// The case's supervisor sends it whole to another vault: nothing
        /// may be under way that the other vault could not finish, and they
        /// must hold both tiers' current keys (which the transfer re-seals).
        /// Sent again (the file was lost), it goes to the same member only.
        mutating func caseTransferred(_ data: CaseTransferred) throws {
            let (state, lifecycle, _) = try lifecycleCase(data.case, reason: data.reason, transferred: true)
            guard event.actor == state.case.supervisor else { throw refuse("only the case's supervisor transfers \(data.case)") }
            if let gone = state.case.transferred, gone.toVault != data.toVault || gone.toMember != data.toMember {
                throw refuse("\(data.case) was already transferred to '\(gone.toMember)' of vault \(gone.toVault)")
            }
            guard UUID(uuidString: data.toVault)?.uuidString.lowercased() == data.toVault, data.toVault != event.vault else {
                throw refuse("the receiving vault must be another vault, named by its id")
            }
            guard (try? StaffMember.validate(id: data.toMember)) != nil else { throw refuse("'\(data.toMember)' is not a staff id") }
            try requireKey(data.toBoxPublicKey, "the receiving member's public key")
            guard try signed.handover(data.case) == nil else { throw refuse("a handover of \(data.case) is under way") }
            guard try signed.hold(data.case) == nil else { throw refuse("\(data.case) is on legal hold: nothing leaves it") }
            // From format 4, nor while the retention policy's legalHolds hold it (as for a move).
            if event.format >= 4, let at = Timestamp.date(from: event.at),
               let held = try RetentionSchedule(signed, asOf: at)?.policyHold(of: state.case) {
                throw refuse("\(data.case) is on legal hold: \(held); nothing leaves it")
            }
            guard lifecycle.pendingClosure == nil else { throw refuse("a closure of \(data.case) awaits approval") }
            guard try signed.disposalApprovals(data.case).isEmpty else { throw refuse("\(data.case) has disposal approvals") }
            for tier in Tier.allCases {
                guard state.case.keys?[tier].older.isEmpty ?? true else {
                    throw refuse("some versions of \(data.case) are still sealed to an older \(tier.rawValue)-tier key: finish the rotation first")
                }
                try requireNoDepartedHolder(state, tier)
                guard state.holdsCurrent(tier, GrantHolder.staff(event.actor)) else {
                    throw refuse("'\(event.actor)' does not hold the \(tier.rawValue) tier of \(data.case)")
                }
            }
            var record = state.case
            tallyTransferMonth = state.case.transferred.map { String($0.at.prefix(7)) }
            record.transferred = CaseTransfer(seq: event.seq, at: event.at, by: event.actor, toVault: data.toVault, toMember: data.toMember,
                                              reason: data.reason)
            try writer.putCase(record)
            try set(StateKey.case(data.case), CaseState(record, grants: state.grants))
        }

        /// An audit export changes no state; it names what it covered.
        func auditExported(_ data: AuditExported) throws {
            guard event.format >= 2 else { throw refuse("\(event.type.rawValue) is a format-2 event") }
            _ = try actor()
            guard ["tar", "zip"].contains(data.format) else { throw refuse("unknown audit export format '\(data.format)'") }
            try requireKey(data.blake2b, "the export's BLAKE2b-256")
            guard zip(data.cases, data.cases.dropFirst()).allSatisfy({ $0.utf8.lexicographicallyPrecedes($1.utf8) }) else {
                throw refuse("the cases must be sorted, each once")
            }
            for number in data.cases where try signed.caseState(number) == nil { throw refuse("no case \(number)") }
            guard data.since.map({ Lifecycle.parseDay($0) != nil }) ?? true, data.events >= 0,
                  (1..<event.seq).contains(data.logSize), Int64(data.events) <= data.logSize else {
                throw refuse("the export's day, event count or log size is impossible")
            }
        }

        /// The case's supervisor calls a transfer back: the case is this
        /// vault's to change again (a file already sent may still be imported
        /// there: SECURITY.md §15b).
        mutating func transferCancelled(_ data: TransferCancelled) throws {
            let (state, _, _) = try lifecycleCase(data.case, reason: data.reason, transferred: true)
            guard event.actor == state.case.supervisor else { throw refuse("only the case's supervisor cancels its transfer") }
            guard let standing = state.case.transferred else { throw refuse("\(data.case) was not transferred") }
            tallyTransferMonth = String(standing.at.prefix(7))
            var record = state.case
            record.transferred = nil
            try writer.putCase(record)
            try set(StateKey.case(data.case), CaseState(record, grants: state.grants))
        }

        /// A case from another vault arrives: its history (the blob) must
        /// verify and be addressed to this vault and this signer; its rows
        /// are what the sending vault's signed state held, with this
        /// vault's manager, supervisor, fresh tier keys and their holders,
        /// and every file key re-sealed to the new keys.
        mutating func caseImported(_ data: CaseImported) throws {
            guard event.format >= 2 else { throw refuse("\(event.type.rawValue) is a format-2 event") }
            let (actor, _) = try actor()
            let settings = try signed.settings()
            // The importer becomes the case's supervisor: both tier keys were sealed to them.
            guard data.supervisor == event.actor else { throw refuse("the member who imports a case is its supervisor here") }
            try requireFresh(data.history, "the history's hash")
            let proven: ProvenCase
            do {
                proven = try CaseHistory(parsing: try signed.blob(data.history, what: "the history of \(data.case)"))
                    .verify(toVault: event.vault, toMember: event.actor, toBoxPublicKey: actor.boxPublicKey)
            } catch let error as VaultError {
                throw refuse(error.message)
            }
            var record = proven.state.case
            guard Array(record.number.utf8) == Array(data.case.utf8) else { throw refuse("the history is of \(record.number)") }
            guard settings.caseCategories.contains(record.category) else { throw refuse("this vault has no case category '\(record.category)'") }
            guard try signed.caseState(data.case) == nil else { throw refuse("case \(data.case) already exists here") }
            if let taken = try signed.clientTaken(record.clientNumber) { throw refuse("client number \(record.clientNumber) is already case \(taken)") }
            guard proven.lifecycle.pendingClosure == nil else { throw refuse("a closure of \(data.case) awaits approval") }
            try requireKey(data.teamPublicKey, "the team-tier public key")
            try requireKey(data.confidentialPublicKey, "the confidential-tier public key")
            // The holders, exactly as a case opened here would have them.
            let expected: [(tier: String, holder: String, key: String)]
            do { expected = try Vault.importHolders(manager: data.manager, supervisor: data.supervisor, signed: signed) } catch let error as VaultError {
                throw refuse(error.message)
            }
            guard data.holders.count == expected.count,
                  zip(data.holders, expected).allSatisfy({ $0.tier == $1.tier && $0.holder == $1.holder && $0.holderPublicKey == $1.key }) else {
                throw refuse("the holders must be the manager, the supervisor, the team-tier roles' members and the recovery key, by tier and holder")
            }
            guard data.versions.map({ Array($0.document.utf8) }) == proven.versions.map({ Array($0.document.utf8) }),
                  data.versions.map(\.version) == proven.versions.map(\.version) else {
                throw refuse("the import re-seals every version of the case, in the history's order")
            }
            let sealed = data.holders.map(\.sealedKeyHash) + data.versions.map(\.sealedFileKeyHash)
            guard Set(sealed).count == sealed.count, !sealed.contains(data.history) else { throw refuse("each sealed key must be a new blob of its own") }
            for hash in sealed { try requireFresh(hash, "a sealed key") }
            let schemaBodies = Set(proven.versions.compactMap(\.schemaBodyHash)).sorted()
            guard data.schemaBodies == schemaBodies else { throw refuse("the import names the versions' schema bodies, sorted, each once") }
            // A sealed file name, sealed again here, only for a version that
            // had one; each a new blob of its own.
            let names = data.versions.compactMap(\.fileInfoHash)
            for (version, item) in zip(proven.versions, data.versions) where item.fileInfoHash != nil && version.fileInfoHash == nil {
                throw refuse("'\(version.document)' v\(version.version) had no file name to bring")
            }
            guard Set(names).count == names.count, Set(names).isDisjoint(with: sealed + schemaBodies + [data.history]) else {
                throw refuse("each sealed file name must be a new blob of its own")
            }
            for hash in names { try requireFresh(hash, "a sealed file name") }
            // A schema body is a schema (a JSON object whose $id the versions name), never another record's secret blob.
            for hash in schemaBodies {
                let bytes = try signed.blob(hash, what: "a schema body of \(data.case)")
                let ids = Set(proven.versions.filter { $0.schemaBodyHash == hash }.compactMap(\.schemaId))
                guard let schema = try? JSONValue(parsing: bytes), case .object(let members) = schema, ids.count == 1,
                      members["$id"]?.stringValue == ids.first else {
                    throw refuse("schema body \(hash) is not the schema its versions name")
                }
            }

            let cases = try signed.caseCount()
            record.manager = data.manager
            record.supervisor = data.supervisor
            record.teamPublicKey = data.teamPublicKey
            record.confidentialPublicKey = data.confidentialPublicKey
            record.keys = nil
            record.openedBy = event.actor
            record.openedSeq = event.seq
            record.transferred = nil
            record.imported = CaseImport(seq: event.seq, at: event.at, by: event.actor, fromVault: proven.fromVault,
                                         fromSeq: proven.transferSeq, history: data.history)
            let grants = data.holders.map { GrantRecord(caseNumber: data.case, tier: $0.tier, holder: $0.holder, holderPublicKey: $0.holderPublicKey,
                                                        sealedKeyHash: $0.sealedKeyHash, grantedSeq: event.seq) }
            try writer.putCase(record)
            for grant in grants { try writer.putGrant(grant) }
            try set(StateKey.case(data.case), CaseState(record, grants: grants))
            try set(StateKey.client(record.clientNumber), ClientState(case: data.case))
            try set(StateKey.caseCount, CaseCountState(count: cases.count + 1, highestClient: max(cases.highestClient, record.clientNumber)))
            for document in proven.documents {
                try writer.putDocument(document)
                try set(StateKey.document(data.case, document.name), document)
            }
            if !proven.documents.isEmpty { try set(StateKey.documentCount(data.case), CountState(count: proven.documents.count)) }
            let fromVault = proven.fromVault
            for (version, item) in zip(proven.versions, data.versions) {
                var arrived = version
                arrived.sealedFileKeyHash = item.sealedFileKeyHash
                arrived.keyGeneration = 1
                // Its sealed file name, sealed again here, or none: it stayed in the sending vault (§15b).
                arrived.fileInfoHash = item.fileInfoHash
                arrived.origin = VersionOrigin(case: version.origin?.case ?? version.caseNumber, document: version.origin?.document ?? version.document,
                                               vault: version.origin?.vault ?? fromVault)
                try writer.putVersion(arrived)
                try set(StateKey.version(data.case, version.document, version.version), arrived)
            }
            for (name, list) in proven.withdrawals {
                for withdrawal in list { try writer.putWithdrawal(withdrawal) }
                try set(StateKey.withdrawals(data.case, name), WithdrawalState(versions: list))
            }
            for tag in proven.tags { try writer.putTag(tag) }
            if !proven.tags.isEmpty { try set(StateKey.tags(data.case), TagState(tags: proven.tags)) }
            for change in proven.lifecycle.changes { try writer.putStatusChange(change) }
            if let extended = proven.lifecycle.aoExtension { try writer.putAOExtension(extended) }
            if !proven.lifecycle.isEmpty { try set(StateKey.lifecycle(data.case), proven.lifecycle) }
        }

        /// A package changes no state; it may hold only versions the actor
        /// read and the recipient may read.
        func packageExported(_ data: PackageExported) throws {
            guard event.format >= 2 else { throw refuse("\(event.type.rawValue) is a format-2 event") }
            _ = try actor()
            guard let recipient = try signed.staff(data.recipient), recipient.left == nil,
                  let role = Role(rawValue: recipient.role), Policy.readingRoles.contains(role) else {
                throw refuse("'\(data.recipient)' is no reader on the staff")
            }
            guard ["sealed", "zip-aes256"].contains(data.format) else { throw refuse("unknown package format '\(data.format)'") }
            // BLAKE2b-256 up to format 4, BLAKE3-256 from format 5; never both.
            guard let (hash, digest) = data.packageHash(format: event.format) else {
                throw refuse(PackageExported.hashRule(format: event.format))
            }
            try requireKey(digest, "the package's \(hash.label)")
            var seen = Set<[UInt8]>()
            for entry in data.entries {
                guard seen.insert(Array("\(entry.case)/\(entry.document)".utf8)).inserted else { throw refuse("a document is listed twice") }
                let state = try liveCase(entry.case)
                guard let version = try signed.version(entry.case, entry.document, entry.version) else {
                    throw refuse("no version \(entry.version) of '\(entry.document)' of \(entry.case)")
                }
                guard state.holds(version.tier, GrantHolder.staff(event.actor), generation: version.keyGeneration) else {
                    throw refuse("'\(event.actor)' holds no grant to read '\(entry.document)' of \(entry.case)")
                }
                guard state.holds(version.tier, GrantHolder.staff(data.recipient)) else {
                    throw refuse("'\(data.recipient)' may not read the \(version.tier) tier of \(entry.case)")
                }
            }
        }

        // MARK: Handover (manual §5.2.4)

        mutating func handoverStarted(_ data: HandoverStarted) throws {
            let (state, _, role) = try lifecycleCase(data.case, reason: nil)
            guard role != .caseSupervisor || event.actor == state.case.supervisor else {
                throw refuse("a case supervisor hands over their own cases only")
            }
            if let under = try signed.handover(data.case) {
                throw refuse("\(data.case) is already being handed from \(under.from) to \(under.to)")
            }
            let (current, needed): (String, Role)
            switch data.role {
            case "manager": (current, needed) = (state.case.manager, .caseManager)
            case "supervisor": (current, needed) = (state.case.supervisor, .caseSupervisor)
            default: throw refuse("a handover changes the case's manager or supervisor, not '\(data.role)'")
            }
            guard Array(data.from.utf8) == Array(current.utf8) else { throw refuse("'\(data.from)' is not the \(data.role) of \(data.case)") }
            guard data.to != data.from, let to = try signed.staff(data.to), to.left == nil, to.role == needed.rawValue else {
                throw refuse("'\(data.to)' is not another \(needed.displayName) on the staff")
            }
            guard let at = Timestamp.date(from: event.at), let minimum = Lifecycle.earliestShadowEnd(startedAt: at),
                  Lifecycle.parseDay(data.shadowUntil) != nil, data.shadowUntil >= minimum else {
                throw refuse("the shadowing must end on a real day at least \(Lifecycle.shadowingMonths) months after the handover starts")
            }
            let record = HandoverRecord(caseNumber: data.case, seq: event.seq, at: event.at, by: event.actor, role: data.role,
                                        from: data.from, to: data.to, shadowUntil: data.shadowUntil)
            try writer.putHandover(record)
            try set(StateKey.handover(data.case), record)
        }

        mutating func handoverCompleted(_ data: HandoverCompleted) throws {
            let (state, _, role) = try lifecycleCase(data.case, reason: data.reason)
            guard try role != .caseSupervisor || event.actor == state.case.supervisor || incomingSupervisor(of: data.case) else {
                throw refuse("a case supervisor completes the handovers of their own cases only")
            }
            guard let handover = try signed.handover(data.case) else { throw refuse("no handover of \(data.case) is under way") }
            guard let at = Timestamp.date(from: event.at) else { throw refuse("the event's time is not a date") }
            let early = Lifecycle.day(at) < handover.shadowUntil
            guard data.early == early, (data.reason != nil) == early else {
                throw refuse(early ? "the shadowing runs until \(handover.shadowUntil): ending it before is early, with a reason"
                                   : "the shadowing ended on \(handover.shadowUntil): this is no early end, and takes no reason")
            }
            guard !state.holdsAny(GrantHolder.staff(handover.from)) else {
                throw refuse("'\(handover.from)' still holds a tier of \(data.case): its keys rotate without them first")
            }
            for tier in Tier.allCases where !state.holdsCurrent(tier, GrantHolder.staff(handover.to)) {
                throw refuse("'\(handover.to)' does not hold the \(tier.rawValue) tier of \(data.case)")
            }
            var record = state.case
            if handover.role == "manager" { record.manager = handover.to } else { record.supervisor = handover.to }
            try writer.putCase(record)
            try set(StateKey.case(data.case), CaseState(record, grants: state.grants))
            try writer.deleteHandover(caseNumber: data.case)
            try remove(StateKey.handover(data.case))
        }

        /// Whether the event's signer is the case's manager and its
        /// supervisor has left the staff: the manager, who holds both tiers,
        /// then re-seals and grants them to the incoming supervisor (no one
        /// else who stays could: a project director never holds the
        /// confidential tier, and an admin does not re-seal).
        func managerStandsIn(for state: CaseState) throws -> Bool {
            guard event.actor == state.case.manager else { return false }
            return try signed.staff(state.case.supervisor)?.left != nil
        }

        /// Whether the event's signer is the incoming supervisor of the
        /// supervisor's handover under way on the case: they complete it, as
        /// the outgoing supervisor cannot make the keys that replace their own.
        func incomingSupervisor(of caseNumber: String) throws -> Bool {
            guard let handover = try signed.handover(caseNumber) else { return false }
            return handover.role == "supervisor" && handover.to == event.actor
        }

        mutating func handoverCancelled(_ data: HandoverCancelled) throws {
            let (state, _, role) = try lifecycleCase(data.case, reason: data.reason)
            guard role != .caseSupervisor || event.actor == state.case.supervisor else {
                throw refuse("a case supervisor cancels the handovers of their own cases only")
            }
            guard let handover = try signed.handover(data.case) else { throw refuse("no handover of \(data.case) is under way") }
            // Unless they are also the case's manager or supervisor, the incoming member's keys went first.
            if handover.to != state.case.manager, handover.to != state.case.supervisor,
               state.holdsAny(GrantHolder.staff(handover.to)) {
                throw refuse("'\(handover.to)' still holds a tier of \(data.case): its keys rotate without them first")
            }
            try writer.deleteHandover(caseNumber: data.case)
            try remove(StateKey.handover(data.case))
        }

        mutating func hold(_ data: CaseHold, placing: Bool) throws {
            let (state, _, role) = try lifecycleCase(data.case, reason: data.reason, transferred: true)
            guard role != .caseSupervisor || event.actor == state.case.supervisor else {
                throw refuse("a case supervisor places and releases holds on their own cases only")
            }
            let standing = try signed.hold(data.case)
            if placing {
                guard standing == nil else { throw refuse("\(data.case) is already on hold") }
                let record = HoldRecord(caseNumber: data.case, seq: event.seq, at: event.at, by: event.actor, reason: data.reason)
                try writer.putHold(record)
                try set(StateKey.hold(data.case), record)
            } else {
                guard let standing else { throw refuse("\(data.case) is not on hold") }
                guard role != .caseSupervisor || standing.by == event.actor else {
                    throw refuse("a case supervisor releases only a hold they placed; \(standing.by) placed this one")
                }
                if event.format >= 4, let why = try Vault.holdReleaseRefusal(standing, by: event.actor, role: role, signed) { throw refuse(why) }
                try writer.deleteHold(caseNumber: data.case)
                try remove(StateKey.hold(data.case))
            }
        }

        mutating func confidentialTypesSet(_ data: ConfidentialTypesSet) throws {
            guard event.format >= 2 else { throw refuse("\(event.type.rawValue) is a format-2 event") }
            _ = try actor()
            guard data.types.count <= Policy.maxConfidentialTypes,
                  data.types.allSatisfy({ (try? Vault.validate(documentType: $0)) != nil }),
                  zip(data.types, data.types.dropFirst()).allSatisfy({ $0.utf8.lexicographicallyPrecedes($1.utf8) }) else {
                throw refuse("the types must be document types, sorted, without repeats, at most \(Policy.maxConfidentialTypes)")
            }
            let record = ConfidentialTypesRecord(types: data.types, seq: event.seq, at: event.at, by: event.actor)
            try writer.putConfidentialTypes(record)
            try set(StateKey.confidentialTypes, record)
        }

        /// The case row and state take the new status; the change joins the
        /// history; a pending closure request lapses.
        mutating func changeStatus(_ state: CaseState, _ lifecycle: LifecycleState, to: CaseStatus, reason: String,
                                   requestedBy: String?) throws {
            var record = state.case
            let change = StatusChangeRecord(caseNumber: record.number, seq: event.seq, from: record.status, to: to.rawValue,
                                            at: event.at, by: event.actor, reason: reason, requestedBy: requestedBy)
            record.status = to.rawValue
            try writer.putCase(record)
            try writer.putStatusChange(change)
            if lifecycle.pendingClosure != nil { try writer.deleteClosureRequest(caseNumber: record.number) }
            if lifecycle.aoExtension != nil { try writer.deleteAOExtension(caseNumber: record.number) }
            try approvalsLapse(record.number)
            try set(StateKey.case(record.number), CaseState(record, grants: state.grants))
            try set(StateKey.lifecycle(record.number), LifecycleState(changes: lifecycle.changes + [change], pendingClosure: nil))
        }

        // MARK: Report tallies (SECURITY.md §12a, "Report tallies")

        /// A key this event writes that bears on a case's tally: the case's
        /// record, lifecycle, tags or hold, or its documents (whose records
        /// and withdrawals decide its filing days).
        mutating func noteTally(_ key: String) {
            guard let slash = key.firstIndex(of: "/") else { return }
            let kind = key[..<slash], rest = key[key.index(after: slash)...]
            let number: Substring, part: TallyParts
            switch kind {
            case "case": (number, part) = (rest, .record)
            case "lifecycle": (number, part) = (rest, .lifecycle)
            case "tags": (number, part) = (rest, .tags)
            case "hold": (number, part) = (rest, .hold)
            // A version's stamp changes only with its document's record (a
            // filing, a move, an import) or its withdrawal; a version re-sealed
            // by a rotation changes no filing day.
            case "document", "version", "withdrawals":
                guard let end = rest.firstIndex(of: "/") else { return }
                (number, part) = (rest[..<end], kind == "version" ? [] : .documents)
            default: return
            }
            let bytes = Array(number.utf8)
            if let known = tallyParts[bytes] {
                tallyParts[bytes] = known.union(part)
            } else {
                tallyParts[bytes] = part
                tallyCases.append(String(number))
            }
        }

        /// Writes a tally's row (its canonical JSON) and its key in the map.
        mutating func putTally(_ key: String, _ record: some CanonicalRecord) throws {
            let bytes = record.canonicalJSON, hash = SHA256.hash(bytes)
            try writer.putTally(key: key, record: bytes)
            TallyRecordCache.shared.remember(hash, record)
            try setValue(StateMap.keyHash(key), hash)
        }

        /// After the event: each case it touched contributes anew. A filing
        /// only moves the case's newest filing days on; any other change is
        /// read back from the case's signed state (its documents only when
        /// the event changed them).
        mutating func updateTallies() throws {
            guard !tallyCases.isEmpty, event.type != .talliesStarted else { return }
            // Read only when a tally changes, or to learn whether they are kept:
            // a filing whose case's filing days already reached its day reads
            // the case's tally alone.
            var totals: TallyTotals??
            func keptTotals() throws -> TallyTotals? {
                if let totals { return totals }
                let read = try signed.tallyTotals()
                totals = .some(read)
                return read
            }
            let month = String(event.at.prefix(7))
            // A transfer called back: the case was away from its month, as if never sent.
            var changes = TallyChanges(month: event.type == .transferCancelled ? tallyTransferMonth ?? month : month)
            for number in tallyCases {
                let old = try signed.tally(StateKey.tallyCase(number), as: CaseTally.self)
                // No tally for the case: a new case where tallies are kept, or none are.
                if old == nil, try keptTotals() == nil { return }
                let new: CaseTally?
                if case .versionFiled(let data) = event.data, let old, Array(data.case.utf8) == Array(number.utf8) {
                    guard let day = Lifecycle.utcDay(ofStamp: data.stamp.date) else { continue }
                    new = old.filed(on: day, visit: data.schema != nil && DueItem.visitFormTypes.contains(data.type))
                } else if let old {
                    // Only what the event changed is read again.
                    new = try signed.updatedCaseTally(old, number, parts: tallyParts[Array(number.utf8)] ?? [])
                } else {
                    new = try signed.computeCaseTally(number)
                }
                // A transfer sent again (its file was lost) counts from now: the case
                // comes back to the month it was first sent and leaves again in this one.
                if event.type == .caseTransferred, let sent = tallyTransferMonth, sent != month, let old, old == new {
                    var back = old
                    back.here = true
                    var before = TallyChanges(month: sent), now = TallyChanges(month: month)
                    before.move(number, from: old, to: back, imported: false)
                    now.move(number, from: back, to: old, imported: false)
                    try addToMonth(sent, statuses: before.statuses, caseloads: before.caseloads, activity: [])
                    try addToMonth(month, statuses: now.statuses, caseloads: now.caseloads, activity: now.activity)
                    continue
                }
                guard let new, new != old else { continue }
                changes.move(number, from: old, to: new, imported: event.type == .caseImported)
                try putTally(StateKey.tallyCase(number), new)
            }
            guard !changes.isEmpty else { return }
            guard let kept = try keptTotals() else {
                throw VaultError.integrityFailure("a case has a report tally but the vault keeps none (tally/totals)")
            }
            try write(changes, totals: kept)
        }

        /// Writes what `changes` makes of the totals, the month's tally and
        /// activity, and the managers' due tallies.
        mutating func write(_ changes: TallyChanges, totals: TallyTotals) throws {
            if changes.changesTotals {
                var next = totals
                next.agedOut += changes.agedOut
                next.concern += changes.concern
                next.holds += changes.holds
                next.pendingClosures += changes.pendingClosures
                try putTally(StateKey.tallyTotals, next)
            }
            if changes.changesMonth {
                try addToMonth(changes.month, statuses: changes.statuses, caseloads: changes.caseloads, activity: changes.activity)
            }
            for manager in Set(changes.idle.keys).union(changes.visit.keys).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                var due = try signed.tally(StateKey.tallyDue(manager), as: DueTally.self) ?? DueTally()
                TallyChanges.merge(changes.idle[manager] ?? [:], into: &due.idle)
                TallyChanges.merge(changes.visit[manager] ?? [:], into: &due.visit)
                try putTally(StateKey.tallyDue(manager), due)
            }
        }

        /// Adds to a month's tally, and its activity to its chunks.
        mutating func addToMonth(_ month: String, statuses: [String: [String: Int]], caseloads: [String: [String: Int]],
                                 activity: [ActivityChunk.Entry]) throws {
            guard Lifecycle.parseDay(month + "-01") != nil else { throw refuse("the event's time is not a date") }
            let key = StateKey.tallyMonth(month)
            var record: MonthTally
            if let known = try signed.tally(key, as: MonthTally.self) {
                record = known
            } else {
                record = MonthTally()
                var months = try signed.tally(StateKey.tallyMonths, as: TallyMonths.self)?.months ?? []
                months.append(month)
                months.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                try putTally(StateKey.tallyMonths, TallyMonths(months: months))
            }
            TallyChanges.merge(statuses, into: &record.statuses)
            TallyChanges.merge(caseloads, into: &record.caseloads)
            var pending = activity[...]
            while !pending.isEmpty {
                let chunk = record.activity / ActivityChunk.size, filled = record.activity % ActivityChunk.size
                let chunkKey = StateKey.tallyActivity(month, chunk: chunk)
                var entries: [ActivityChunk.Entry] = []
                if filled > 0 {
                    guard let known = try signed.tally(chunkKey, as: ActivityChunk.self), known.entries.count == filled else {
                        throw VaultError.integrityFailure("the report tally \(chunkKey) is not the \(filled) entries its month counts")
                    }
                    entries = known.entries
                }
                let taken = pending.prefix(ActivityChunk.size - filled)
                entries += taken
                pending = pending.dropFirst(taken.count)
                record.activity += taken.count
                try putTally(chunkKey, ActivityChunk(entries: entries))
            }
            try putTally(key, record)
        }

        /// Starts the tallies of a vault made before them: every case's
        /// contribution now, and, from each case's signed history, what it
        /// added month by month (its opening or import, its status changes
        /// here, its transfer away; counted in the caseload of its manager
        /// and supervisor of now, the history keeping no earlier ones).
        mutating func talliesStarted(_ data: TalliesStarted) throws {
            guard event.format >= 2 else { throw refuse("\(event.type.rawValue) is a format-2 event") }
            _ = try actor()
            guard try signed.tallyTotals() == nil else { throw refuse("the report's tallies are already kept") }
            // By number (bytes), not in the catalog's order, which a column's
            // storage class edited by hand could change, and with it the chunks.
            let cases = try signed.cases(matching: CaseQuery()).sorted { $0.case.number.utf8.lexicographicallyPrecedes($1.case.number.utf8) }
            guard cases.count == data.cases else { throw refuse("the vault has \(cases.count) cases, not \(data.cases)") }
            var now = TallyChanges(month: "")
            var months: [String: TallyChanges] = [:]
            func at(_ time: String) -> String { String(time.prefix(7)) }
            for state in cases {
                let record = state.case
                let lifecycle = try signed.lifecycle(record.number)
                let tally = try signed.caseTally(state, lifecycle: lifecycle)
                try putTally(StateKey.tallyCase(record.number), tally)
                now.count(tally, 1)
                // The case as it was: here from its opening or import, with its status then.
                var past = tally
                (past.concern, past.hold, past.pendingClosure, past.here) = (false, false, false, true)
                past.status = CaseStatus.open.rawValue
                let since = record.imported?.at ?? record.openedAt
                var local = lifecycle.changes[...]
                if record.imported != nil {
                    while let change = local.first, change.at < since {
                        past.status = change.to
                        local = local.dropFirst()
                    }
                }
                months[at(since), default: TallyChanges(month: at(since))].move(record.number, from: nil, to: past, imported: record.imported != nil)
                for change in local {
                    var next = past
                    next.status = change.to
                    months[at(change.at), default: TallyChanges(month: at(change.at))].move(record.number, from: past, to: next, imported: false)
                    past = next
                }
                if let gone = record.transferred {
                    var next = past
                    next.here = false
                    months[at(gone.at), default: TallyChanges(month: at(gone.at))].move(record.number, from: past, to: next, imported: false)
                }
            }
            var totals = TallyTotals(since: event.seq)
            (totals.agedOut, totals.concern, totals.holds, totals.pendingClosures) = (now.agedOut, now.concern, now.holds, now.pendingClosures)
            try putTally(StateKey.tallyTotals, totals)
            for month in months.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let changes = months[month]!
                guard changes.changesMonth else { continue }
                try addToMonth(month, statuses: changes.statuses, caseloads: changes.caseloads, activity: changes.activity)
            }
            for manager in Set(now.idle.keys).union(now.visit.keys).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                try putTally(StateKey.tallyDue(manager), DueTally(idle: now.idle[manager] ?? [:], visit: now.visit[manager] ?? [:]))
            }
        }
    }
}

/// Who holds a grant: `staff:<id>` or `recovery`.
enum GrantHolder {
    static let recovery = "recovery"
    static func staff(_ id: String) -> String { "staff:" + id }
    static func staffID(_ holder: String) -> String? { holder.hasPrefix("staff:") ? String(holder.dropFirst(6)) : nil }
}
