internal import CaseVault
internal import CaseVaultCrypto
internal import Foundation
internal import GRDB

/// The catalog's schema, as named migrations never edited once landed. A
/// vault written by an older casevault is brought forward when opened;
/// `v4-signed-projection` turns a format-1 catalog into a format-2 one
/// (SECURITY.md §8): secret-bearing values move to `blobs` by hash, rows gain
/// the sequence numbers of their events, and the log's Merkle nodes and the
/// state map get tables of their own.
extension SQLiteCatalogStore {
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
        migrator.registerMigration("v4-signed-projection") { db in
            try FormatTwoMigration(db: db).run()
        }
        // v5: the case lifecycle (manual §5.2): each status change and the
        // closure requests awaiting a supervisor's approval, projected from
        // the `case.status-changed`, `case.closure-requested` and
        // `case.closure-approved` events.
        migrator.registerMigration("v5-case-lifecycle") { db in
            try db.execute(sql: """
                CREATE TABLE status_changes (case_number TEXT NOT NULL REFERENCES cases, seq INTEGER NOT NULL,
                    from_status TEXT NOT NULL, to_status TEXT NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL,
                    reason TEXT NOT NULL, requested_by TEXT, PRIMARY KEY (case_number, seq));
                CREATE TABLE closure_requests (case_number TEXT PRIMARY KEY REFERENCES cases, seq INTEGER NOT NULL,
                    at TEXT NOT NULL, requested_by TEXT NOT NULL, approver TEXT NOT NULL, reason TEXT NOT NULL);
                """)
        }
        // v6: corrections and tags: versions withdrawn (`version.withdrawn`);
        // documents moved to another case (`document.moved`): the source's
        // tombstones, and the origin of a moved version (its object's
        // associated data names it); tags on cases (`case.tag-added`,
        // `case.tag-removed`).
        migrator.registerMigration("v6-corrections-and-tags") { db in
            try db.execute(sql: """
                CREATE TABLE withdrawals (case_number TEXT NOT NULL, document TEXT NOT NULL, version INTEGER NOT NULL,
                    seq INTEGER NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL, reason TEXT NOT NULL,
                    PRIMARY KEY (case_number, document, version));
                CREATE TABLE moves (case_number TEXT NOT NULL, document TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
                    by TEXT NOT NULL, to_case TEXT NOT NULL, to_document TEXT NOT NULL, versions INTEGER NOT NULL,
                    reason TEXT NOT NULL, PRIMARY KEY (case_number, document, seq));
                CREATE TABLE case_tags (case_number TEXT NOT NULL, tag TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
                    by TEXT NOT NULL, PRIMARY KEY (case_number, tag));
                ALTER TABLE versions ADD COLUMN origin_case TEXT;
                ALTER TABLE versions ADD COLUMN origin_document TEXT;
                """)
        }
        // v7: extensions of aged-out cases' closing dates (`case.ao-extended`).
        migrator.registerMigration("v7-aged-out-extensions") { db in
            try db.execute(sql: """
                CREATE TABLE ao_extensions (case_number TEXT PRIMARY KEY, seq INTEGER NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL,
                    until TEXT NOT NULL, reason TEXT NOT NULL);
                """)
        }
        // v8: vault policies set by admins (`policy.confidential-types-set`):
        // one row per policy, its value a JSON array.
        migrator.registerMigration("v8-vault-policies") { db in
            try db.execute(sql: """
                CREATE TABLE vault_policies (name TEXT PRIMARY KEY, value TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
                    by TEXT NOT NULL);
                """)
        }
        // v9: legal holds standing on cases (`case.hold-placed`, `case.hold-released`).
        migrator.registerMigration("v9-legal-holds") { db in
            try db.execute(sql: """
                CREATE TABLE holds (case_number TEXT PRIMARY KEY, seq INTEGER NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL,
                    reason TEXT NOT NULL);
                """)
        }
        // v10: the retention policy's versions (`retention.policy-set`); each
        // policy file is a blob.
        migrator.registerMigration("v10-retention-policies") { db in
            try db.execute(sql: """
                CREATE TABLE retention_policies (version INTEGER PRIMARY KEY, body_hash TEXT NOT NULL, seq INTEGER NOT NULL,
                    at TEXT NOT NULL, by TEXT NOT NULL);
                """)
        }
        // v11: disposal by crypto-shredding (`case.disposal-approved`,
        // `case.disposed`): the approvals standing, and the tombstones; and
        // cases by status, so the retention plan reads the closed ones only;
        // versions by object, so disposal finds who else names an object.
        migrator.registerMigration("v11-disposals") { db in
            try db.execute(sql: """
                CREATE TABLE disposal_approvals (case_number TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL,
                    policy_version INTEGER NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (case_number, seq));
                CREATE TABLE disposals (case_number TEXT PRIMARY KEY, seq INTEGER NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL,
                    policy_version INTEGER NOT NULL, rule TEXT NOT NULL, approvals TEXT NOT NULL, documents INTEGER NOT NULL,
                    versions INTEGER NOT NULL, ciphertext_bytes INTEGER NOT NULL);
                CREATE INDEX cases_by_status ON cases (status);
                CREATE INDEX versions_by_object ON versions (object_id);
                """)
        }
        // v12: staff departures, key generations and rotation
        // (`staff.left`, `case.access-granted`, `case.key-rotated`): a grant
        // is one holder's copy of one generation of a tier, so the grants'
        // key gains the generation (SQLite changes a key only by copying).
        migrator.registerMigration("v12-key-rotation") { db in
            try db.execute(sql: """
                ALTER TABLE staff ADD COLUMN left_seq INTEGER;
                ALTER TABLE staff ADD COLUMN left_at TEXT;
                ALTER TABLE staff ADD COLUMN left_by TEXT;
                ALTER TABLE staff ADD COLUMN left_reason TEXT;
                ALTER TABLE cases ADD COLUMN key_generations TEXT;
                ALTER TABLE versions ADD COLUMN key_generation INTEGER NOT NULL DEFAULT 1;
                CREATE TABLE grants_v12 (case_number TEXT NOT NULL, tier TEXT NOT NULL, holder TEXT NOT NULL,
                    holder_public_key BLOB NOT NULL, sealed_key_hash TEXT NOT NULL, granted_seq INTEGER NOT NULL,
                    generation INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (case_number, tier, holder, generation)) WITHOUT ROWID;
                INSERT INTO grants_v12 (case_number, tier, holder, holder_public_key, sealed_key_hash, granted_seq)
                    SELECT case_number, tier, holder, holder_public_key, sealed_key_hash, granted_seq FROM grants;
                DROP TABLE grants;
                ALTER TABLE grants_v12 RENAME TO grants;
                CREATE INDEX grants_by_holder ON grants (holder);
                """)
        }
        // v13: handovers under way (`case.handover-started`, `case.handover-completed`);
        // events by type and actor, so every command finds the departures
        // (`staff.left`) and a handover check a member's reads without a scan;
        // grants and versions by the blob they name, so a rotation erases a
        // sealed key only when no other record names it.
        migrator.registerMigration("v13-handovers") { db in
            try db.execute(sql: """
                CREATE TABLE handovers (case_number TEXT PRIMARY KEY, seq INTEGER NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL,
                    role TEXT NOT NULL, from_id TEXT NOT NULL, to_id TEXT NOT NULL, shadow_until TEXT NOT NULL);
                CREATE INDEX events_by_type_actor ON events (type, actor);
                CREATE INDEX grants_by_sealed_key ON grants (sealed_key_hash);
                CREATE INDEX versions_by_sealed_file_key ON versions (sealed_file_key_hash);
                CREATE INDEX versions_by_schema_body ON versions (schema_body_hash);
                """)
        }
        // v14: cases moved between vaults (`case.transferred`,
        // `case.imported`): the sending vault's tombstone, the receiving
        // vault's record of where the case came from (and the history blob
        // that proves it, found by the blob it names), and the sending vault
        // of each imported version, which its object's associated data names.
        migrator.registerMigration("v14-case-transfer") { db in
            try db.execute(sql: """
                ALTER TABLE cases ADD COLUMN transferred TEXT;
                ALTER TABLE cases ADD COLUMN imported TEXT;
                ALTER TABLE cases ADD COLUMN imported_history TEXT;
                ALTER TABLE versions ADD COLUMN origin_vault TEXT;
                CREATE INDEX cases_by_imported_history ON cases (imported_history);
                """)
        }
        // v15: finding a case by its client's name without storing the name
        // (SECURITY.md §12e): members' sealed copies of the vault's search
        // key (`search.key-granted`) and each case's index of keyed name
        // tokens (`case.client-named`); and each version's sealed original
        // file name and media type (§11a).
        migrator.registerMigration("v15-client-name-index") { db in
            try db.execute(sql: """
                CREATE TABLE search_keys (holder TEXT PRIMARY KEY, holder_public_key TEXT NOT NULL, key_check TEXT NOT NULL,
                    sealed_key_hash TEXT NOT NULL, seq INTEGER NOT NULL);
                CREATE TABLE client_indexes (case_number TEXT PRIMARY KEY, tokens BLOB NOT NULL, seq INTEGER NOT NULL);
                ALTER TABLE versions ADD COLUMN file_info_hash TEXT;
                CREATE INDEX versions_by_file_info ON versions (file_info_hash);
                """)
        }
        // v16: a manager's or supervisor's cases (`case list --manager`,
        // `find --supervisor`) read through an index, not a scan of every
        // case (issue 12: 3× slower at 100,000 cases than at 1,000).
        migrator.registerMigration("v16-cases-by-staff") { db in
            try db.execute(sql: """
                CREATE INDEX cases_by_manager ON cases (manager_id, status);
                CREATE INDEX cases_by_supervisor ON cases (supervisor_id, status);
                """)
        }
        // No change to the tables: a case.imported may now give its versions
        // their file names (§15b), which a casevault that predates this
        // cannot read, so it must refuse the vault as newer (§8).
        migrator.registerMigration("v17-imported-file-names") { _ in }
        // v18: a client-name index is a blob that `case.client-named` names
        // (SECURITY.md §12e), erased when the case is named again or
        // disposed of; a casevault that predates it must refuse the vault.
        migrator.registerMigration("v18-client-name-blobs") { db in
            try db.execute(sql: """
                ALTER TABLE client_indexes ADD COLUMN index_hash TEXT;
                CREATE INDEX client_indexes_by_hash ON client_indexes (index_hash);
                """)
        }
        // v19: a case's status changes are read in the order they were
        // applied, which is their signed order, not by sequence number: an
        // imported case's earlier changes keep the sending vault's numbers,
        // often higher than this vault's, so its first change here made its
        // status history unreadable (and a number both vaults used replaced
        // the imported row). The rows keep their insertion (rowid) order.
        migrator.registerMigration("v19-status-change-order") { db in
            try db.execute(sql: """
                CREATE TABLE status_changes_v19 (position INTEGER PRIMARY KEY, case_number TEXT NOT NULL REFERENCES cases,
                    seq INTEGER NOT NULL, from_status TEXT NOT NULL, to_status TEXT NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL,
                    reason TEXT NOT NULL, requested_by TEXT);
                INSERT INTO status_changes_v19 (position, case_number, seq, from_status, to_status, at, by, reason, requested_by)
                    SELECT rowid, case_number, seq, from_status, to_status, at, by, reason, requested_by FROM status_changes ORDER BY rowid;
                DROP TABLE status_changes;
                ALTER TABLE status_changes_v19 RENAME TO status_changes;
                CREATE INDEX status_changes_by_case ON status_changes (case_number, position);
                """)
        }
        // v20: from depth 12 on a state-map node's stored key puts the key
        // bits before the depth, so the nodes of a subtree are neighbours in
        // the B-tree (StoredStatePath). The rows are copied as they are but
        // for the key; a key that is not a blob (edited in by hand) is
        // copied unchanged, as no walk asks for it either way.
        migrator.registerMigration("v20-state-node-order") { db in
            try db.execute(sql: """
                CREATE TABLE state_nodes_v20 (path BLOB PRIMARY KEY, kind INTEGER NOT NULL, hash BLOB NOT NULL,
                    first BLOB NOT NULL, second BLOB NOT NULL) WITHOUT ROWID;
                """)
            let insert = try db.makeStatement(sql: "INSERT INTO state_nodes_v20 (path, kind, hash, first, second) VALUES (?, ?, ?, ?, ?)")
            let rows = try Row.fetchCursor(db, sql: "SELECT path, kind, hash, first, second FROM state_nodes")
            while let row = try rows.next() {
                var path: DatabaseValue = row[0]
                if case .blob(let bytes) = path.storage { path = StoredStatePath.encode(Array(bytes)).databaseValue }
                try insert.execute(arguments: [path, row[1] as DatabaseValue, row[2] as DatabaseValue, row[3] as DatabaseValue,
                                               row[4] as DatabaseValue])
            }
            try db.execute(sql: """
                DROP TABLE state_nodes;
                ALTER TABLE state_nodes_v20 RENAME TO state_nodes;
                """)
        }
        // v21: the monthly report's running tallies (SECURITY.md §12a,
        // "Report tallies"): each a row holding the record's canonical JSON,
        // checked against the state map like every other row; and the tags
        // by tag, for the report's cases of concern.
        migrator.registerMigration("v21-report-tallies") { db in
            try db.execute(sql: """
                CREATE TABLE report_tallies (key TEXT PRIMARY KEY, record BLOB NOT NULL);
                CREATE INDEX case_tags_by_tag ON case_tags (tag, case_number);
                """)
        }
        // No change to the tables: events are now of body format 3 (and a
        // tier's keys may name their maker, `madeBy`), which a casevault that
        // predates it cannot read: it must refuse the vault as newer (§8)
        // rather than call the log damaged.
        migrator.registerMigration("v22-event-format-3") { _ in }
        // Nor here: events of body format 4 (retention's rules, §12), which
        // an older casevault must likewise refuse as newer.
        migrator.registerMigration("v23-event-format-4") { _ in }
        return migrator
    }()
}

/// Moves a format-1 catalog (v1–v3) to format 2. New vaults pass through it
/// with empty tables. Hashes are computed from the stored bytes, so a blob
/// altered before the upgrade is named by what it now holds and `verify`
/// finds that no signed event names it.
private struct FormatTwoMigration {
    let db: Database

    func blobHash(_ data: Data) throws -> String {
        let bytes = Array(data)
        let hash = Blake2b.hash(bytes).hexString
        try db.execute(sql: "INSERT OR IGNORE INTO blobs (hash, bytes) VALUES (?, ?)", arguments: [hash, data])
        return hash
    }

    /// The `data` of the event at `seq`, parsed, or nil.
    func eventData(_ seq: Int64?) throws -> [String: Any]? {
        guard let seq, let body = try Data.fetchOne(db, sql: "SELECT body FROM events WHERE seq = ?", arguments: [seq]),
              let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else { return nil }
        return object["data"] as? [String: Any]
    }

    func run() throws {
        try db.create(table: "blobs") { t in
            t.primaryKey("hash", .text)
            t.column("bytes", .blob).notNull()
        }
        try db.execute(sql: """
            CREATE TABLE log_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
            CREATE TABLE state_nodes (path BLOB PRIMARY KEY, kind INTEGER NOT NULL, hash BLOB NOT NULL,
                first BLOB NOT NULL, second BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE vault_settings (vault_id TEXT PRIMARY KEY, format_version INTEGER NOT NULL, created_at TEXT NOT NULL,
                kdf_algorithm TEXT NOT NULL, kdf_ops_limit INTEGER NOT NULL, kdf_mem_limit INTEGER NOT NULL,
                insecure_testing_kdf INTEGER NOT NULL, recovery_public_key BLOB, case_categories TEXT NOT NULL,
                team_tier_roles TEXT NOT NULL, event_seq INTEGER NOT NULL);
            CREATE TABLE staff2 (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, box_public_key BLOB NOT NULL,
                signing_public_key BLOB NOT NULL, wrapped_keys_hash TEXT NOT NULL, added_at TEXT NOT NULL, added_by TEXT,
                added_seq INTEGER NOT NULL, keys_seq INTEGER NOT NULL);
            CREATE TABLE cases2 (number TEXT PRIMARY KEY, category TEXT NOT NULL, year INTEGER NOT NULL,
                client_number INTEGER NOT NULL UNIQUE, status TEXT NOT NULL, manager_id TEXT NOT NULL, supervisor_id TEXT NOT NULL,
                team_public_key BLOB NOT NULL, confidential_public_key BLOB NOT NULL, opened_at TEXT NOT NULL,
                opened_by TEXT NOT NULL, opened_seq INTEGER NOT NULL);
            CREATE TABLE grants2 (case_number TEXT NOT NULL, tier TEXT NOT NULL, holder TEXT NOT NULL,
                holder_public_key BLOB NOT NULL, sealed_key_hash TEXT NOT NULL, granted_seq INTEGER NOT NULL,
                PRIMARY KEY (case_number, tier, holder)) WITHOUT ROWID;
            CREATE TABLE documents2 (case_number TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, is_form INTEGER NOT NULL,
                latest_version INTEGER NOT NULL, confidential INTEGER NOT NULL, PRIMARY KEY (case_number, name)) WITHOUT ROWID;
            CREATE TABLE versions2 (case_number TEXT NOT NULL, document TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL,
                tier TEXT NOT NULL, object_id TEXT NOT NULL, plaintext_size INTEGER NOT NULL, ciphertext_size INTEGER NOT NULL,
                sealed_file_key_hash TEXT NOT NULL, stamp BLOB NOT NULL, filed_seq INTEGER NOT NULL, schema_id TEXT,
                schema_version INTEGER, schema_body_hash TEXT, PRIMARY KEY (case_number, document, version));
            CREATE TABLE schemas2 (form_type TEXT NOT NULL, version INTEGER NOT NULL, schema_id TEXT NOT NULL, title TEXT NOT NULL,
                body_hash TEXT NOT NULL, added_at TEXT NOT NULL, added_by TEXT NOT NULL, added_seq INTEGER NOT NULL,
                PRIMARY KEY (form_type, version));
            """)

        // The settings, from the first event (vault.created).
        if let first = try Row.fetchOne(db, sql: "SELECT seq, body FROM events WHERE seq = 1 AND type = 'vault.created'"),
           let object = try JSONSerialization.jsonObject(with: first["body"] as Data) as? [String: Any],
           let data = object["data"] as? [String: Any], let kdf = data["kdf"] as? [String: Any] {
            let recovery = (data["recoveryPublicKey"] as? String).flatMap { [UInt8](hexString: $0) }.map { Data($0) }
            func list(_ key: String) -> String {
                String(decoding: (try? JSONSerialization.data(withJSONObject: data[key] ?? [])) ?? Data("[]".utf8), as: UTF8.self)
            }
            try db.execute(sql: """
                INSERT INTO vault_settings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                """, arguments: [object["vault"] as? String, (data["formatVersion"] as? NSNumber)?.int64Value,
                                 data["createdAt"] as? String, kdf["algorithm"] as? String, (kdf["opsLimit"] as? NSNumber)?.int64Value,
                                 (kdf["memLimit"] as? NSNumber)?.int64Value, (data["insecureTestingKDF"] as? NSNumber)?.boolValue,
                                 recovery, list("caseCategories"), list("teamTierRoles")])
        }

        // Staff: the wrapped keys move to blobs; the events that added them
        // and last set their keys are found by id.
        for row in try Row.fetchAll(db, sql: "SELECT * FROM staff") {
            let id: String = row["id"]
            let seqs = try Int64.fetchAll(db, sql: """
                SELECT seq FROM events WHERE type IN ('staff.added', 'staff.passphrase-changed')
                AND json_extract(CAST(body AS TEXT), '$.data.id') = ? ORDER BY seq
                """, arguments: [id])
            try db.execute(sql: "INSERT INTO staff2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arguments: [
                id, row["name"], row["role"], row["box_public_key"] as Data, row["signing_public_key"] as Data,
                try blobHash(row["wrapped_secret_keys"]), row["created_at"], row["created_by"], seqs.first ?? 0, seqs.last ?? 0])
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM cases") {
            let number: String = row["number"]
            let opened = try Int64.fetchOne(db, sql: """
                SELECT seq FROM events WHERE type = 'case.opened' AND json_extract(CAST(body AS TEXT), '$.data.case') = ?
                """, arguments: [number]) ?? 0
            try db.execute(sql: "INSERT INTO cases2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arguments: [
                number, row["category"], row["year"], row["client_number"], row["status"], row["manager_id"], row["supervisor_id"],
                row["team_public_key"] as Data, row["confidential_public_key"] as Data, row["opened_at"], row["opened_by"], opened])
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM grants") {
            try db.execute(sql: "INSERT INTO grants2 VALUES (?, ?, ?, ?, ?, ?)", arguments: [
                row["case_number"], row["tier"], row["holder"], row["holder_public_key"] as Data,
                try blobHash(row["sealed_secret_key"]), row["event_seq"]])
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT d.case_number AS case_number, d.name AS name, v.* FROM versions v JOIN documents d ON d.id = v.document_id
            ORDER BY d.case_number, d.name, v.version
            """) {
            let schemaHash = (try eventData(row["event_seq"])?["schema"] as? [String: Any])?["bodyHash"] as? String
            try db.execute(sql: "INSERT INTO versions2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arguments: [
                row["case_number"], row["name"], row["version"], row["type"], row["tier"], row["object_id"], row["plaintext_size"],
                row["ciphertext_size"], try blobHash(row["sealed_file_key"]), row["stamp"] as Data, row["event_seq"],
                row["schema_id"], row["schema_version"], schemaHash])
        }
        try db.execute(sql: """
            INSERT INTO documents2
            SELECT v.case_number, v.document,
                   (SELECT type FROM versions2 l WHERE l.case_number = v.case_number AND l.document = v.document ORDER BY version DESC LIMIT 1),
                   (SELECT schema_id IS NOT NULL FROM versions2 l WHERE l.case_number = v.case_number AND l.document = v.document
                        ORDER BY version DESC LIMIT 1),
                   MAX(v.version), MAX(v.tier = 'confidential')
            FROM versions2 v GROUP BY v.case_number, v.document
            """)
        for row in try Row.fetchAll(db, sql: "SELECT * FROM schemas") {
            try db.execute(sql: "INSERT INTO schemas2 VALUES (?, ?, ?, ?, ?, ?, ?, ?)", arguments: [
                row["form_type"], row["version"], row["schema_id"], row["title"], try blobHash(row["body"]),
                row["added_at"], row["added_by"], row["event_seq"]])
        }
        try db.execute(sql: """
            DROP TABLE schemas; DROP TABLE versions; DROP TABLE documents; DROP TABLE grants; DROP TABLE cases; DROP TABLE staff;
            ALTER TABLE staff2 RENAME TO staff;
            ALTER TABLE cases2 RENAME TO cases;
            ALTER TABLE grants2 RENAME TO grants;
            ALTER TABLE documents2 RENAME TO documents;
            ALTER TABLE versions2 RENAME TO versions;
            ALTER TABLE schemas2 RENAME TO schemas;
            DROP INDEX IF EXISTS events_by_type;
            """)

        // The Merkle tree's perfect subtrees over the stored leaf hashes.
        var range = CompactRange()
        for leaf in try Data.fetchAll(db, sql: "SELECT leaf_hash FROM events ORDER BY seq") {
            for node in range.append(leaf: Array(leaf)) {
                try db.execute(sql: "INSERT INTO log_nodes VALUES (?, ?, ?)", arguments: [node.level, node.index, Data(node.hash)])
            }
        }
    }
}
