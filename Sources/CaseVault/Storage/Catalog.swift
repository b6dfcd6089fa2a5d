internal import GRDB
internal import Foundation

/// The SQLite catalog (GRDB, WAL mode). All SQL lives in this file and its
/// extensions, so another catalog (PostgreSQL, design §7) can replace it
/// without touching the domain.
///
/// Migrations are named and never edited once landed; a new schema change is
/// a new migration appended to `migrator`.
final class Catalog: Sendable {
    let pool: DatabasePool

    init(path: String) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        // Two processes writing at once wait for each other instead of failing.
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in
            // Freed pages are overwritten, so a deleted grant or wrapped key
            // does not linger in the file (it may in backups: SECURITY.md).
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            if try pool.read({ try Self.migrator.hasBeenSuperseded($0) }) {
                throw VaultError.newerFormat(found: VaultConfig.currentFormatVersion + 1,
                                             supported: VaultConfig.currentFormatVersion)
            }
            try Self.migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw Self.map(error)
        }
    }

    func close() throws {
        do { try pool.close() } catch let error as DatabaseError { throw Self.map(error) }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read { try body($0) } } catch { throw Self.map(error) }
    }

    /// One write transaction; everything in `body` lands or nothing does.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.write { try body($0) } } catch { throw Self.map(error) }
    }

    /// Our own errors pass through; SQLite's are mapped; a row that no longer
    /// decodes was altered behind our back.
    static func map(_ error: any Error) -> any Error {
        switch error {
        case let error as VaultError: error
        case let error as DatabaseError: map(error)
        case is DecodingError, is RowDecodingError: VaultError.integrityFailure("a catalog row is damaged")
        default: error
        }
    }

    /// Raw SQLite codes stop here (style: map at the boundary).
    static func map(_ error: DatabaseError) -> VaultError {
        switch error.resultCode {
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return .integrityFailure("the catalog database is damaged")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .io("the vault is busy (another casevault process holds it); try again")
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN:
            return .io("cannot open the catalog for writing: \(error.message ?? "permission denied")")
        case .SQLITE_FULL:
            return .io("the disk is full")
        case .SQLITE_CONSTRAINT:
            return .integrityFailure("catalog constraint violated: \(error.message ?? "")")
        default:
            return .io("catalog error: \(error.message ?? "\(error.resultCode)")")
        }
    }

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-staff") { db in
            try db.create(table: "staff") { t in
                t.column("id", .text).primaryKey()
                t.column("name", .text).notNull()
                t.column("role", .text).notNull()
                t.column("box_public_key", .blob).notNull()
                t.column("signing_public_key", .blob).notNull()
                // WrappedSecret blob (SECURITY.md §"Wrapped keys").
                t.column("wrapped_secret_keys", .blob).notNull()
                t.column("created_at", .text).notNull()
                t.column("created_by", .text)
            }
        }
        return migrator
    }()
}
