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
        // Filing streams a whole document inside its transaction (so versions
        // and events stay gapless), hence a generous wait.
        configuration.busyMode = .timeout(600)
        configuration.prepareDatabase { db in
            // Freed pages are overwritten, so a deleted grant or wrapped key
            // does not linger in the file (it may in backups: SECURITY.md).
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            if try pool.read({ try Self.migrator.hasBeenSuperseded($0) }) {
                throw VaultError.newerCatalog
            }
            try Self.migrator.migrate(pool)
            // GRDB sets synchronous = NORMAL on the writer when it enables
            // WAL (after prepareDatabase runs). NORMAL does not fsync at
            // commit: a power cut could lose a filing already acknowledged,
            // or a read event. FULL syncs the WAL at every commit.
            try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
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
    /// It is IMMEDIATE: the write lock is taken before the first read, so
    /// two processes never both read the same next sequence number and
    /// the second waits (busy timeout) instead of failing on upgrade.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch {
            throw Self.map(error)
        }
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
                // WrappedSecret blob (SECURITY.md §4).
                t.column("wrapped_secret_keys", .blob).notNull()
                t.column("created_at", .text).notNull()
                t.column("created_by", .text)
            }
        }
        // v2: the event log, cases, grants, documents and versions. The
        // catalog's tables are the projection of the events (SECURITY.md
        // §12); secret-bearing blobs (wrapped keys, sealed grants,
        // sealed file keys) live only in their rows, and the events carry
        // their BLAKE2b-256 hashes.
        migrator.registerMigration("v2-events-cases-documents") { db in
            try db.create(table: "events") { t in
                t.column("seq", .integer).primaryKey()  // 1, 2, 3 … without gaps
                t.column("type", .text).notNull()
                t.column("actor", .text).notNull()
                t.column("at", .text).notNull()
                t.column("body", .blob).notNull()       // canonical JSON: the signed bytes
                t.column("signature", .blob).notNull()  // Ed25519 by the actor
                t.column("leaf_hash", .blob).notNull()  // RFC 9162 leaf hash
            }
            try db.create(table: "cases") { t in
                t.column("number", .text).primaryKey()
                t.column("category", .text).notNull()
                t.column("year", .integer).notNull()
                t.column("client_number", .integer).notNull().unique()
                t.column("status", .text).notNull()
                t.column("manager_id", .text).notNull().references("staff")
                t.column("supervisor_id", .text).notNull().references("staff")
                t.column("team_public_key", .blob).notNull()
                t.column("confidential_public_key", .blob).notNull()
                t.column("opened_at", .text).notNull()
                t.column("opened_by", .text).notNull().references("staff")
            }
            try db.create(table: "grants") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("case_number", .text).notNull().references("cases")
                t.column("tier", .text).notNull()
                t.column("holder", .text).notNull()  // "staff:<id>" or "recovery"
                t.column("holder_public_key", .blob).notNull()
                t.column("sealed_secret_key", .blob).notNull()  // crypto_box_seal(tier secret, holder key)
                t.column("event_seq", .integer).notNull().references("events")
                t.uniqueKey(["case_number", "tier", "holder"])
            }
            try db.create(table: "documents") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("case_number", .text).notNull().references("cases")
                t.column("name", .text).notNull()
                t.uniqueKey(["case_number", "name"])
            }
            try db.create(table: "versions") { t in
                t.column("document_id", .integer).notNull().references("documents")
                t.column("version", .integer).notNull()
                t.column("type", .text).notNull()
                t.column("tier", .text).notNull()
                t.column("object_id", .text).notNull()
                t.column("plaintext_size", .integer).notNull()
                t.column("ciphertext_size", .integer).notNull()
                t.column("sealed_file_key", .blob).notNull()  // crypto_box_seal(file key, tier public key)
                t.column("stamp", .blob).notNull()            // canonical JSON (SECURITY.md §11)
                t.column("event_seq", .integer).notNull().references("events")
                t.primaryKey(["document_id", "version"])
            }
        }
        // v3: organisation form schemas, and the schema each form version was
        // validated against (NULL for documents filed without --form).
        migrator.registerMigration("v3-form-schemas") { db in
            try db.create(table: "schemas") { t in
                t.column("form_type", .text).notNull()
                t.column("version", .integer).notNull()
                t.column("schema_id", .text).notNull()   // the schema's $id
                t.column("title", .text).notNull()
                t.column("body", .blob).notNull()        // the schema as added (JSON, clear)
                t.column("added_at", .text).notNull()
                t.column("added_by", .text).notNull().references("staff")
                t.column("event_seq", .integer).notNull().references("events")
                t.primaryKey(["form_type", "version"])
            }
            try db.alter(table: "versions") { t in
                t.add(column: "schema_id", .text)
                t.add(column: "schema_version", .integer)  // NULL: the built-in schema
            }
            // Public keys are checked against their signed events before each
            // sealing (Vault+Trust): find those events by type quickly.
            try db.create(index: "events_by_type", on: "events", columns: ["type"])
        }
        return migrator
    }()
}
