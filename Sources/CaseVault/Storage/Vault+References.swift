/// How the catalog and the object folder relate (design §6 invariant 3).
public struct ReferenceReport: Sendable, Equatable {
    /// Objects a version names that are not in the object folder: a broken
    /// promise. Must always be empty.
    public var missingObjects: [String]
    /// Objects nothing names: left by a crash between an object becoming
    /// durable and its rows committing. Harmless; reported.
    public var orphanObjects: [String]
    public var versionCount: Int
    /// `.tmp-*` files in the object folder: a filing killed before its
    /// object got its name. Ciphertext only; safe to delete.
    public var unfinishedTempFiles: [String]

    public init(missingObjects: [String], orphanObjects: [String], versionCount: Int, unfinishedTempFiles: [String] = []) {
        self.missingObjects = missingObjects
        self.orphanObjects = orphanObjects
        self.versionCount = versionCount
        self.unfinishedTempFiles = unfinishedTempFiles
    }
}

extension Vault {
    public func checkReferences() throws -> ReferenceReport {
        let versions = try store.read { try $0.versions(caseNumber: nil, document: nil) }
        let referenced = Set(versions.map(\.objectId))
        let present = Set(try objects.allObjects().map(\.hex))
        return ReferenceReport(missingObjects: referenced.subtracting(present).sorted(),
                               orphanObjects: present.subtracting(referenced).sorted(),
                               versionCount: versions.count,
                               unfinishedTempFiles: try FileSystem.listDirectory(objects.root).filter { $0.hasPrefix(".tmp-") })
    }
}
