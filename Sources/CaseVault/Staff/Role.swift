/// What a staff member does in the programme; it decides what they may do
/// in the vault (SECURITY.md §1).
public enum Role: String, CaseIterable, Sendable, Codable {
    case recordsOfficer = "records-officer"
    case caseManager = "case-manager"
    case caseSupervisor = "case-supervisor"
    case projectDirector = "project-director"
    case auditor
    case admin

    public var displayName: String {
        switch self {
        case .recordsOfficer: "records officer"
        case .caseManager: "case manager"
        case .caseSupervisor: "case supervisor"
        case .projectDirector: "project director"
        case .auditor: "auditor"
        case .admin: "admin"
        }
    }

    /// The role with its article, for sentences: "an auditor", "a case manager".
    public var withArticle: String {
        ("aeiou".contains(displayName.first!) ? "an " : "a ") + displayName
    }
}
