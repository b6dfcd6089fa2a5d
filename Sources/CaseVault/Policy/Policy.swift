/// Who may do what, in one place (SECURITY.md §3 and the signing table in
/// §12). Commands ask it before they build an event; the projection asks it
/// again for every event it applies, so `verify` replaying the log holds
/// every past event to the same rules.
enum Policy {
    /// Roles that open cases.
    static let caseOpeningRoles: Set<Role> = [.caseSupervisor, .projectDirector, .admin]
    /// Roles that file. Auditors change nothing; admins manage staff, not case content.
    static let filingRoles: Set<Role> = [.recordsOfficer, .caseManager, .caseSupervisor, .projectDirector]
    /// Roles that can hold case keys. Records officers file without reading;
    /// auditors and admins read no content at all.
    static let readingRoles: Set<Role> = [.caseManager, .caseSupervisor, .projectDirector]
    /// Roles that add form schemas: programme leadership.
    static let schemaManagingRoles: Set<Role> = [.admin, .projectDirector]
    /// Roles that find cases by a client's name, and so hold the search
    /// key: everyone who files or keeps case files, not auditors
    /// (SECURITY.md §12e).
    static let searchingRoles: Set<Role> = [.recordsOfficer, .caseManager, .caseSupervisor, .projectDirector, .admin]
    /// Roles that add staff.
    static let staffManagingRoles: Set<Role> = [.admin]

    /// The role-level rule for signing each kind of event. The projection
    /// adds the rules that depend on state (the case's opener gives its
    /// grants, a reader holds a grant, a member changes only their own
    /// passphrase, only the first admin signs `vault.created`).
    static func maySign(_ type: EventType, role: Role) -> Bool {
        switch type {
        case .vaultCreated: role == .admin
        case .staffAdded: staffManagingRoles.contains(role)
        case .passphraseChanged: true
        case .caseOpened, .grantGiven: caseOpeningRoles.contains(role)
        case .versionFiled: filingRoles.contains(role)
        case .contentRead: readingRoles.contains(role)
        case .contentRefused: true
        case .schemaAdded: schemaManagingRoles.contains(role)
        case .statusChanged, .versionWithdrawn, .documentMoved: role == .caseManager || role == .caseSupervisor
        case .tagAdded, .tagRemoved: role == .caseManager || role == .caseSupervisor || role == .projectDirector
        case .closureRequested: role == .caseManager
        case .closureApproved, .agedOutExtended: role == .caseSupervisor
        case .agedOutClosed: agedOutClosingRoles.contains(role)
        case .confidentialTypesSet: role == .admin
        case .holdPlaced, .holdReleased: holdRoles.contains(role)
        case .retentionPolicySet: role == .admin || role == .projectDirector
        case .disposalApproved: disposalApprovingRoles.contains(role)
        case .disposed: role == .admin || role == .projectDirector
        case .staffLeft: staffManagingRoles.contains(role)
        case .accessGranted: role == .caseSupervisor || role == .projectDirector || role == .caseManager
        case .keyRotated: keyRotatingRoles.contains(role) || role == .caseManager
        case .handoverStarted, .handoverCompleted, .handoverCancelled: role == .caseSupervisor || role == .projectDirector
        case .packageExported: readingRoles.contains(role)
        case .caseTransferred, .transferCancelled: role == .caseSupervisor
        case .auditExported: role == .auditor || role == .admin || role == .projectDirector
        case .caseImported: role == .caseSupervisor
        case .searchKeyGranted, .clientNamed: searchingRoles.contains(role)
        case .talliesStarted: role == .admin || role == .projectDirector
        }
    }

    /// Which holders a new case's tiers are sealed to (design §3): the team
    /// tier to its manager, supervisor, every member whose role the vault's
    /// policy lists, and the recovery key; the confidential tier to the
    /// manager, the supervisor and the recovery key only.
    static func mayHold(_ tier: Tier, member: StaffRecord, of record: CaseRecord, settings: VaultSettingsRecord) -> Bool {
        if member.id == record.manager || member.id == record.supervisor { return true }
        return tier == .team && settings.teamTierRoles.contains(member.role)
    }

    /// Roles that rotate a case's tier keys: its supervisor, programme
    /// leadership, and admins (who record departures, and rotate every tier
    /// the departed member held without reading any of them).
    static let keyRotatingRoles: Set<Role> = [.caseSupervisor, .projectDirector, .admin]

    /// Who may be given a tier by `case.access-granted`: readers, and only
    /// case managers and supervisors the confidential tier (design §3).
    static func mayBeGranted(_ tier: Tier, role: Role) -> Bool {
        tier == .team ? readingRoles.contains(role) : (role == .caseManager || role == .caseSupervisor)
    }

    /// Document types that go to the confidential tier whatever their bytes.
    static let photoTypes: Set<String> = ["photo", "image", "picture"]

    /// The vault's always-confidential document types until an admin sets
    /// its own list (issue 9: confidentiality no longer depends on a filer
    /// remembering --confidential).
    static let maxConfidentialTypes = 64

    /// Roles that place and release legal holds: programme leadership and
    /// admins (a case supervisor holds their own cases).
    static let holdRoles: Set<Role> = [.projectDirector, .admin, .caseSupervisor]

    /// Roles that may approve a disposal (the policy's rule may narrow
    /// them): programme leadership, admins, and a case's own supervisor.
    /// Never a case manager, nor who carries the disposal out.
    static let disposalApprovingRoles: Set<Role> = [.caseSupervisor, .projectDirector, .admin]

    /// Roles that sign an aged-out case's closure on its day: the case's
    /// supervisor, project directors, admins. Not its manager, who could
    /// otherwise date a move to AO in the past and close the case alone
    /// (event times are the signer's clock).
    static let agedOutClosingRoles: Set<Role> = [.caseSupervisor, .projectDirector, .admin]

    public static let defaultConfidentialTypes = ["complaint", "consent-and-confidentiality", "gbv-incident", "identity-document",
                                                  "legal", "medical", "photo"]
}
