public import Foundation

/// What every version carries (programme manual §5.5): the full date, the
/// full case number and status, the name of the report, and the Case
/// Manager's and Case Supervisor's names; plus the version and the filer.
/// Stored in the catalog as canonical JSON and bound into the encryption's
/// associated data (SECURITY.md §11).
public struct Stamp: Codable, Equatable, Sendable {
    /// RFC 3339 with the filer's zone offset, e.g. 2026-11-23T20:40:12+03:00.
    public let date: String
    public let caseNumber: String
    public let caseStatus: CaseStatus
    public let report: String
    public let caseManager: String
    public let caseSupervisor: String
    public let version: Int
    public let filedBy: String
    public let filedByName: String

    var json: JSONValue {
        .object([
            "date": .string(date), "caseNumber": .string(caseNumber), "caseStatus": .string(caseStatus.rawValue),
            "report": .string(report), "caseManager": .string(caseManager), "caseSupervisor": .string(caseSupervisor),
            "version": .integer(Int64(version)), "filedBy": .string(filedBy), "filedByName": .string(filedByName),
        ])
    }

    init(date: String, caseNumber: String, caseStatus: CaseStatus, report: String, caseManager: String,
         caseSupervisor: String, version: Int, filedBy: String, filedByName: String) {
        self.date = date
        self.caseNumber = caseNumber
        self.caseStatus = caseStatus
        self.report = report
        self.caseManager = caseManager
        self.caseSupervisor = caseSupervisor
        self.version = version
        self.filedBy = filedBy
        self.filedByName = filedByName
    }

    /// The stored form: canonical JSON (SECURITY.md §11).
    public var canonicalJSON: [UInt8] { json.canonicalBytes }

    /// Reads a stamp back from its stored canonical JSON. Any damage that
    /// still parses is caught later by authentication.
    public init(canonicalJSON bytes: [UInt8]) throws {
        // The stored bytes must be exactly the canonical encoding of exactly
        // these members: the associated data is rebuilt from the parsed
        // stamp, so anything else (reordered, re-escaped, an extra member)
        // would be an edit that still authenticates.
        guard let json = try? JSONValue(parsing: bytes), json.canonicalBytes == bytes,
              case .object(let members) = json, Set(members.keys) == Self.memberNames,
              let date = json["date"]?.stringValue, let number = json["caseNumber"]?.stringValue,
              let status = json["caseStatus"]?.stringValue.flatMap(CaseStatus.init(rawValue:)),
              let report = json["report"]?.stringValue, let manager = json["caseManager"]?.stringValue,
              let supervisor = json["caseSupervisor"]?.stringValue, let version = json["version"]?.integerValue,
              let filedBy = json["filedBy"]?.stringValue, let filedByName = json["filedByName"]?.stringValue else {
            throw VaultError.integrityFailure("a stored stamp is damaged")
        }
        self.init(date: date, caseNumber: number, caseStatus: status, report: report, caseManager: manager,
                  caseSupervisor: supervisor, version: Int(version), filedBy: filedBy, filedByName: filedByName)
    }

    static let memberNames: Set<String> = ["date", "caseNumber", "caseStatus", "report", "caseManager",
                                           "caseSupervisor", "version", "filedBy", "filedByName"]

    enum CodingKeys: String, CodingKey {
        case date, caseNumber, caseStatus, report, caseManager, caseSupervisor, version, filedBy, filedByName
    }

    static func dateString(_ date: Date, in zone: TimeZone) -> String {
        // RFC 3339 wants the offset with a colon: +03:00, not +0300.
        date.formatted(Date.ISO8601FormatStyle(timeZoneSeparator: .colon, timeZone: zone))
    }
}

/// Facts about one stored version, for `history`, `case show` and `get`.
public struct VersionInfo: Sendable, Equatable {
    public let caseNumber: String
    public let document: String
    public let version: Int
    public let type: String
    public let tier: Tier
    public let stamp: Stamp
    public let size: Int64
    public let objectID: String
    /// For forms: the `$id` of the schema the form was validated against,
    /// and its vault version (nil for the built-in schema).
    public let schemaID: String?
    public let schemaVersion: Int?
    /// Set when the version was withdrawn as a correction.
    public var withdrawal: Withdrawal? = nil
    /// The original file name and media type, once a read has decrypted
    /// them (§11a); nil in listings, and for versions filed before they were kept.
    public var fileInfo: FileInfo? = nil
    /// Where `retrieve` wrote the plaintext, for a file or folder destination.
    public var writtenTo: String? = nil

    public var isForm: Bool { schemaID != nil }
}

/// Why and by whom a version was withdrawn (`casevault withdraw`).
public struct Withdrawal: Sendable, Equatable {
    /// The `version.withdrawn` event.
    public let seq: Int64
    public let at: Date
    public let by: String
    public let reason: String
}
