public import Foundation
internal import CaseVaultCrypto

/// What `retention approve` did for one case.
public struct DisposalApprovalOutcome: Sendable, Equatable {
    public enum Result: String, Sendable {
        case approved
        /// This member had already approved it under the policy in force.
        case alreadyApproved = "already-approved"
        /// The member may not approve it (the rule's roles, not their case).
        case notYours = "not-yours"
    }
    public let caseNumber: String
    public let result: Result
    public let detail: String
}

/// What `retention apply` did, or could not do, for one case.
public struct DisposalOutcome: Sendable, Equatable {
    public enum Result: String, Sendable {
        /// Disposed of now: keys erased, then objects.
        case disposed
        /// Disposed of earlier; objects an interrupted run left are now gone.
        case finished
        /// Due, but the approvals named do not meet the rule.
        case awaitingApproval = "awaiting-approval"
    }
    public let caseNumber: String
    public let result: Result
    public let detail: String
    /// Objects erased by this run.
    public let objectsErased: Int
}

/// The disposal certificate of a case: the signed `case.disposed` event
/// and what the catalog keeps of the case (no content, no key).
public struct DisposalCertificate: Sendable {
    public struct Approval: Sendable {
        public let by: String, at: Date, seq: Int64, reason: String
    }
    public struct DestroyedVersion: Sendable {
        public let document: String, version: Int, tier: String, filedAt: String, objectId: String, ciphertextSize: Int64
    }
    public let caseNumber: String
    public let category: String
    public let year: Int
    public let openedAt: Date
    /// The closure the policy counted from.
    public let closedAt: Date?
    public let disposedAt: Date
    public let disposedBy: String
    public let eventSeq: Int64
    /// RFC 9162 leaf hash of the `case.disposed` event, hex.
    public let eventLeafHash: String
    public let policyVersion: Int
    /// BLAKE2b-256 of the policy file that applied, hex.
    public let policyHash: String
    public let rule: String
    public let approvals: [Approval]
    public let documents: Int
    public let versions: Int
    public let ciphertextBytes: Int64
    /// Sealed copies of the case's tier keys erased (one per grant).
    public let tierKeysErased: Int
    public let destroyed: [DestroyedVersion]
    /// The log's size and root when the certificate was printed.
    public let logSize: Int64
    public let logRoot: String
}

extension Vault {
    /// Approves disposing of closed cases the plan says are due: the named
    /// cases (each must be due), or every due case when `cases` is nil.
    /// One signed `case.disposal-approved` per case, all in one transaction.
    /// Approvers: the rule's roles, among case supervisors (their own
    /// cases), project directors and admins.
    public func approveDisposal(cases: [String]?, reason: String, by actor: StaffIdentity,
                                now: Date = Date()) throws -> [DisposalApprovalOutcome] {
        guard Policy.disposalApprovingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("disposals are approved by case supervisors, project directors and admins; '\(actor.id)' is \(actor.role.withArticle)")
        }
        try Self.check(Lifecycle.refusal(reason: reason))
        // Each case once: a repeated number would sign a second approval, which the projection refuses.
        let named = try cases.map { numbers in
            var seen = Set<String>()
            return try numbers.map { try CaseNumber.parse($0).description }.filter { seen.insert($0).inserted }
        }
        return try write { writer, head in
            let signed = head.signedState(writer)
            guard let schedule = try RetentionSchedule(signed, asOf: now) else {
                throw VaultError.notFound("no retention policy is set; set one with 'casevault retention policy set FILE'")
            }
            let states = try named.map { try $0.map { try signed.existingCase($0) } }
                ?? signed.cases(matching: CaseQuery(status: CaseStatus.closed.rawValue))
            var outcomes: [DisposalApprovalOutcome] = []
            var events: [EventData] = []
            for state in states {
                let number = state.case.number
                guard let (item, rule, _) = try schedule.item(for: state, signed), item.action == .dispose else {
                    if named != nil {
                        let why = try schedule.item(for: state, signed)?.item.why ?? "it is \(state.case.status), not closed"
                        throw VaultError.invalidInput("\(number) is not due for disposal: \(why)")
                    }
                    continue
                }
                if !rule.approverRoles.contains(actor.role.rawValue) {
                    outcomes.append(.init(caseNumber: number, result: .notYours,
                                          detail: "\(item.rule) is approved by \(rule.approverRoles.sorted().joined(separator: ", "))"))
                } else if actor.role == .caseSupervisor && actor.id != state.case.supervisor {
                    outcomes.append(.init(caseNumber: number, result: .notYours, detail: "its supervisor is \(state.case.supervisor)"))
                } else if rule.distinctFromCaseManager && actor.id == state.case.manager {
                    outcomes.append(.init(caseNumber: number, result: .notYours, detail: "you are its case manager"))
                } else if try signed.disposalApprovals(number).contains(where: { $0.by == actor.id && $0.policyVersion == schedule.version }) {
                    outcomes.append(.init(caseNumber: number, result: .alreadyApproved, detail: "under policy v\(schedule.version)"))
                } else {
                    events.append(.disposalApproved(DisposalApproved(case: number, policyVersion: schedule.version, reason: reason)))
                    outcomes.append(.init(caseNumber: number, result: .approved, detail: "\(item.rule): \(item.why)"))
                }
            }
            if named != nil, let refused = outcomes.first(where: { $0.result == .notYours }) {
                throw VaultError.accessDenied("you may not approve disposing of \(refused.caseNumber): \(refused.detail)")
            }
            if !events.isEmpty {
                try Ledger.append(events, by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            }
            return outcomes
        }
    }

    /// Carries out the plan's disposals (admins, project directors): every
    /// case due whose standing approvals by `approvedBy` meet its rule is
    /// disposed of by crypto-shredding, one case per transaction: the signed
    /// `case.disposed` and the erasure of every sealed copy of its tier
    /// and file keys commit together, then its objects are deleted.
    /// Idempotent and safe to kill: a re-run first deletes objects an
    /// interrupted run left of cases already disposed of, then goes on.
    /// What is due is what the plan says as of `now`, the events' time.
    public func applyRetention(approvedBy: [String], by actor: StaffIdentity, now: Date = Date(),
                               progress: ((DisposalOutcome) -> Void)? = nil) throws -> [DisposalOutcome] {
        guard actor.role == .admin || actor.role == .projectDirector else {
            throw VaultError.accessDenied("disposals are carried out by admins and project directors; '\(actor.id)' is \(actor.role.withArticle)")
        }
        guard !approvedBy.isEmpty else { throw VaultError.invalidInput("name who approved with --approved-by ID") }
        guard !approvedBy.contains(actor.id) else {
            throw VaultError.invalidInput("'\(actor.id)' carries the disposal out and cannot also be its approver")
        }
        for id in approvedBy { _ = try staffMember(id: id) }
        var outcomes: [DisposalOutcome] = []
        func record(_ outcome: DisposalOutcome) {
            outcomes.append(outcome)
            progress?(outcome)
        }
        // 1. Finish what an interrupted run began.
        let disposed = try read { reader, head in head.size > 0 ? try Self.disposedVersions(head.signedState(reader)) : [] }
        for (number, versions) in disposed {
            let erased = try eraseObjects(of: versions, disposedFrom: number)
            if erased > 0 { record(.init(caseNumber: number, result: .finished, detail: "erased objects left by an interrupted run", objectsErased: erased)) }
        }
        // 2. Each case due, in its own transaction.
        let due = try retentionPlan(asOf: now).filter { $0.action == .dispose }.map(\.caseNumber)
        for number in due {
            let result: (DisposalOutcome?, [VersionRecord]) = try write { writer, head in
                let signed = head.signedState(writer)
                // Read again under the write lock: no longer due after a hold,
                // a reopening, or another run that got there first.
                guard let state = try signed.caseState(number), let schedule = try RetentionSchedule(signed, asOf: now),
                      let (item, rule, ruleName) = try schedule.item(for: state, signed), item.action == .dispose else {
                    return (nil, [])
                }
                var approvals: [DisposalApprovalRecord] = []
                for approval in try signed.disposalApprovals(number)
                where approval.policyVersion == schedule.version && approvedBy.contains(approval.by) && approval.by != actor.id {
                    guard let member = try signed.staff(approval.by), rule.approverRoles.contains(member.role),
                          !(rule.distinctFromCaseManager && approval.by == state.case.manager),
                          try Self.lapsedApproval(approval, of: state, signed) == nil,
                          !approvals.contains(where: { $0.by == approval.by }) else { continue }
                    approvals.append(approval)
                }
                guard approvals.count >= rule.minimumApprovals else {
                    let have = approvals.isEmpty ? "none from those named" : approvals.map(\.by).joined(separator: ", ")
                    return (DisposalOutcome(caseNumber: number, result: .awaitingApproval,
                                            detail: "\(item.rule) needs \(rule.minimumApprovals) approval(s) by \(rule.approverRoles.sorted().joined(separator: " or ")); has \(have)",
                                            objectsErased: 0), [])
                }
                let documents = try signed.documents(number)
                var versions: [VersionRecord] = []
                for document in documents { versions += try signed.versions(of: document) }
                let data = CaseDisposed(case: number, policyVersion: schedule.version, rule: ruleName, approvals: approvals.map(\.seq),
                                        documents: documents.count, versions: versions.count,
                                        ciphertextBytes: versions.reduce(0) { $0 + $1.ciphertextSize })
                try Ledger.append([.disposed(data)], by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
                return (DisposalOutcome(caseNumber: number, result: .disposed,
                                        detail: "\(item.rule), approved by \(approvals.map(\.by).joined(separator: ", "))", objectsErased: 0),
                        versions)
            }
            guard let outcome = result.0 else { continue }
            let erased = outcome.result == .disposed ? try eraseObjects(of: result.1, disposedFrom: number) : 0
            record(DisposalOutcome(caseNumber: outcome.caseNumber, result: outcome.result, detail: outcome.detail, objectsErased: erased))
        }
        // 3. Push the erased keys out of the write-ahead log (every run: an
        // earlier one may have been killed before it got here).
        if try !store.flushErased() {
            throw VaultError.io("the disposals are done, but another process kept the catalog's write-ahead log from being emptied; run 'casevault retention apply' again when no other casevault runs")
        }
        return outcomes
    }

    /// Deletes the objects of a disposed case's versions; how many it
    /// deleted. An object a version of a live case names too (only a version
    /// signed by hand shares one) is left: its keys are gone with the case.
    /// (The catalog's rows decide that, unchecked: a row added by hand can
    /// only keep ciphertext whose keys are gone.)
    private func eraseObjects(of versions: [VersionRecord], disposedFrom number: String) throws -> Int {
        let present = versions.compactMap { ObjectID(hex: $0.objectId) }.filter { objects.contains($0) }
        guard !present.isEmpty else { return 0 }
        let shared = try store.read { reader in
            try Set(present.filter { id in
                try reader.cases(namingObject: id.hex).contains { try $0 != number && reader.disposals(caseNumber: $0).isEmpty }
            })
        }
        var erased = 0
        for id in present where !shared.contains(id) {
            objects.remove(id)
            if !objects.contains(id) { erased += 1 }
        }
        return erased
    }

    /// The versions of every case disposed of, by case.
    static func disposedVersions(_ signed: SignedState) throws -> [(String, [VersionRecord])] {
        try signed.disposals().map { disposal in
            var versions: [VersionRecord] = []
            for document in try signed.documents(disposal.caseNumber) { versions += try signed.versions(of: document) }
            return (disposal.caseNumber, versions)
        }
    }

    /// The certificate of a case's disposal (no passphrase needed).
    public func disposalCertificate(_ number: String) throws -> DisposalCertificate {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in
            guard head.size > 0 else { throw VaultError.notFound("no case \(parsed)") }
            let signed = head.signedState(reader)
            guard let state = try signed.caseState(parsed) else { throw try signed.missingCase(parsed) }
            guard let disposal = try signed.disposal(parsed) else {
                throw VaultError.notFound("\(parsed) was not disposed of (it is \(state.case.status)); 'casevault retention plan' says when it is due")
            }
            guard let event = try reader.event(seq: disposal.seq), event.seq <= head.size,
                  case .disposed(let data)? = try? Event(body: event.body).data, Array(data.case.utf8) == Array(parsed.utf8) else {
                throw VaultError.integrityFailure("event \(disposal.seq) is not the disposal of \(parsed)")
            }
            guard let policy = try signed.retentionPolicies().first(where: { $0.version == disposal.policyVersion }) else {
                throw VaultError.integrityFailure("retention policy v\(disposal.policyVersion) is missing")
            }
            let approvals = try signed.disposalApprovals(parsed).filter { disposal.approvals.contains($0.seq) }
            var destroyed: [DisposalCertificate.DestroyedVersion] = []
            var sealed = state.grants.map(\.sealedKeyHash)
            for document in try signed.documents(parsed) {
                for version in try signed.versions(of: document) {
                    destroyed.append(.init(document: version.document, version: version.version, tier: version.tier, filedAt: version.stamp.date,
                                           objectId: version.objectId, ciphertextSize: version.ciphertextSize))
                    sealed.append(version.sealedFileKeyHash)
                    if let info = version.fileInfoHash { sealed.append(info) }
                }
            }
            // A certificate says the keys are erased: it is issued only when
            // they are (a row added by hand can keep a blob, §12 "Disposal").
            let kept = try sealed.filter { try reader.blob(hash: $0) != nil }.count
            guard kept == 0 else {
                throw VaultError.integrityFailure("\(kept) sealed key(s) or file name(s) of \(parsed) are still in the catalog, kept by a row outside the case: no certificate until they are erased ('casevault verify' names the row)")
            }
            let closed = try signed.lifecycle(parsed).changes.last { $0.to == CaseStatus.closed.rawValue }
            func date(_ text: String) throws -> Date {
                guard let date = Timestamp.date(from: text) else { throw VaultError.integrityFailure("a time in the record of \(parsed) is not a time") }
                return date
            }
            return DisposalCertificate(
                caseNumber: parsed, category: state.case.category, year: state.case.year, openedAt: try date(state.case.openedAt),
                closedAt: try closed.map { try date($0.at) }, disposedAt: try date(disposal.at), disposedBy: disposal.by, eventSeq: disposal.seq,
                eventLeafHash: LogTree.leafHash(body: event.body, signature: event.signature).hexString, policyVersion: disposal.policyVersion, policyHash: policy.bodyHash,
                rule: disposal.rule, approvals: try approvals.map { .init(by: $0.by, at: try date($0.at), seq: $0.seq, reason: $0.reason) },
                documents: disposal.documents, versions: disposal.versions, ciphertextBytes: disposal.ciphertextBytes,
                tierKeysErased: state.grants.count, destroyed: destroyed, logSize: head.size, logRoot: head.logRoot.hexString)
        }
    }
}

extension Vault {
    /// The disposal of a case, when it was disposed of (no passphrase needed).
    public func disposal(of number: String) throws -> DisposalRecord? {
        let parsed = try CaseNumber.parse(number).description
        return try read { reader, head in head.size > 0 ? try head.signedState(reader).disposal(parsed) : nil }
    }
}

extension Vault {
    /// Why a standing approval no longer counts towards a disposal (from
    /// format 4; nil while it does): its signer left the staff, or approved
    /// as a case supervisor and no longer supervises the case (a handover
    /// since). An approval is a person's judgement, given in their role.
    static func lapsedApproval(_ approval: DisposalApprovalRecord, of state: CaseState, _ signed: SignedState) throws -> String? {
        guard let member = try signed.staff(approval.by) else { return "'\(approval.by)' is no staff member" }
        if member.left != nil { return "'\(approval.by)' left the staff since" }
        if member.role == Role.caseSupervisor.rawValue, approval.by != state.case.supervisor {
            return "'\(approval.by)' no longer supervises \(state.case.number)"
        }
        return nil
    }
}
