public import CaseVault
public import Foundation

/// A vault on disk keeps its catalog in SQLite (`catalog.sqlite`).
extension Vault {
    public static func open(at path: String, options: OpenOptions = OpenOptions()) throws -> Vault {
        try open(at: path, catalog: SQLiteCatalogStore.self, options: options)
    }

    public static func create(at path: String, options: CreationOptions, open openOptions: OpenOptions = OpenOptions(),
                              now: Date = Date()) throws -> Vault {
        try create(at: path, options: options, catalog: SQLiteCatalogStore.self, open: openOptions, now: now)
    }
}
