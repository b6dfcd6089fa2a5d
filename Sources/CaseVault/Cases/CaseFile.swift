public import Foundation

/// The status of a case (programme manual §5.5).
public enum CaseStatus: String, CaseIterable, Sendable, Codable {
    /// Active, in contact, receiving services.
    case open = "O"
    /// Contact lost; back to O when contact resumes, or C.
    case inactive = "IA"
    /// Turned 18, on a transition plan; closed six months later unless extended.
    case agedOut = "AO"
    /// Terminated, usually on a durable solution.
    case closed = "C"

    public var displayName: String {
        switch self {
        case .open: "open"
        case .inactive: "inactive"
        case .agedOut: "aged out"
        case .closed: "closed"
        }
    }
}

/// Which of a case's two key pairs protects a document (design §3).
public enum Tier: String, CaseIterable, Sendable {
    /// Case Manager, Case Supervisor, recovery key, and the vault's team-tier roles.
    case team
    /// Case Manager, Case Supervisor and recovery key only.
    case confidential
}

/// A full case number: category, year of admission, client number, e.g.
/// `CP-2024-0042`. Client numbers are unique in the vault and printed with
/// at least four digits.
public struct CaseNumber: Hashable, Sendable, CustomStringConvertible {
    public let category: String
    public let year: Int
    public let clientNumber: Int

    public init(category: String, year: Int, clientNumber: Int) {
        self.category = category
        self.year = year
        self.clientNumber = clientNumber
    }

    /// Parses `CAT-YYYY-NNNN`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, (1...8).contains(parts[0].count),
              parts[0].allSatisfy({ $0.isASCII && $0.isUppercase }),
              parts[1].count == 4, let year = Int(parts[1]),
              parts[2].count >= 4, parts[2].allSatisfy(\.isASCII), let client = Int(parts[2]), client > 0,
              String(format: "%04d", client) == parts[2] else { return nil }
        self.init(category: String(parts[0]), year: year, clientNumber: client)
    }

    public var description: String { "\(category)-\(year)-\(String(format: "%04d", clientNumber))" }

    static func parse(_ text: String) throws -> CaseNumber {
        guard let number = CaseNumber(text) else {
            throw VaultError.invalidInput("'\(text)' is not a case number; case numbers look like CP-2024-0042")
        }
        return number
    }
}

/// A case as the catalog knows it: public facts only.
public struct CaseFile: Sendable, Equatable {
    public let number: CaseNumber
    public let status: CaseStatus
    public let manager: StaffMember
    public let supervisor: StaffMember
    public let openedAt: Date
    public let openedBy: String
    /// The vault the case was transferred to, when it was: its copy here
    /// is read-only, and its work that office's.
    public var transferredTo: String? = nil

    /// The folder label the manual asks for: category, year of admission,
    /// client number and status, e.g. `CP-2024-0042 [O]`.
    public var label: String { "\(number) [\(status.rawValue)]" }
}

/// Filters for `case list`; nil means any.
public struct CaseFilter: Sendable {
    public var status: CaseStatus?
    public var category: String?
    public var managerID: String?
    public var supervisorID: String?
    public var year: Int?
    /// Only cases with this tag.
    public var tag: String?
    /// Only cases whose number starts with this (filtered in the catalog
    /// query, so a lookup by number does not check every case).
    public var numberPrefix: String?

    var isEmpty: Bool {
        status == nil && category == nil && managerID == nil && supervisorID == nil && year == nil && tag == nil && numberPrefix == nil
    }
    public init() {}
}
