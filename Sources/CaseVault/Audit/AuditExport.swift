public import Foundation
internal import CaseVaultArchive
internal import CaseVaultCrypto

/// What `export audit` wrote.
public struct AuditExportReport: Sendable {
    public let path: String
    /// The bag's top folder inside the archive.
    public let bagName: String
    public let format: String
    public let events: Int
    public let payloadFiles: Int
    public let payloadBytes: Int
    public let logSize: Int64
    /// BLAKE2b-256 of the archive file (`b2sum -l 256`), as the event names it.
    public let blake2b: String
}

extension Vault {
    /// Roles that take an audit export (`audit.exported`).
    static let auditExportingRoles: Set<Role> = [.auditor, .admin, .projectDirector]

    /// Writes a BagIt 1.0 bag (RFC 8493) of the vault's signed record for
    /// an auditor, as a tar or zip through the archive writer (SECURITY.md
    /// §12d): the events (each with its signature and an inclusion proof
    /// under the bag's checkpoint), a checkpoint signed by the exporter, a
    /// consistency proof from `lastCheckpoint` when given, the catalog's
    /// metadata and the controls report. No content and no key material,
    /// sealed or not. Then the signed `audit.exported` naming the file's
    /// BLAKE2b-256.
    public func exportAudit(out path: String, cases: [String] = [], since: String? = nil, lastCheckpoint: Checkpoint? = nil,
                            by actor: StaffIdentity, now: Date = Date()) throws -> AuditExportReport {
        guard Self.auditExportingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("an audit export is taken by an auditor, admin or project director; '\(actor.id)' is \(actor.role.withArticle)")
        }
        try refuseInsideVault(path, "write the audit export somewhere else")
        let format: ArchiveWriter.Format
        switch (path as NSString).pathExtension.lowercased() {
        case "tar": format = .paxTar
        case "zip": format = .zip
        default: throw VaultError.invalidInput("the audit export is a .tar or a .zip file; got \(path)")
        }
        guard !FileSystem.exists(path) else { throw VaultError.alreadyExists("\(path) already exists") }
        let numbers = Set(try cases.map { try CaseNumber.parse($0).description })
        let sinceDay = try since.map { try Self.auditDay($0, "--since") }
        for number in numbers { _ = try caseFile(number) }

        // The events asked for, and always the vault's creation and every staff addition and
        // departure, so the bag carries every signer's key (SECURITY.md §12d, verify-export).
        let staffTypes: Set<String> = [EventType.vaultCreated.rawValue, EventType.staffAdded.rawValue, EventType.staffLeft.rawValue]
        let all = try auditLog()
        let events = all.filter { event in
            staffTypes.contains(event.type)
                || ((numbers.isEmpty || !numbers.isDisjoint(with: event.cases)) && (sinceDay.map { String(event.at.prefix(10)) >= $0 } ?? true))
        }
        let day = Lifecycle.day(now)
        let bagName = "casevault-audit-\(config.vaultId.prefix(8))-\(day.replacingOccurrences(of: "-", with: ""))"

        var payload: [(String, [UInt8])] = []
        let (size, controls): (Int64, ControlsReport) = try read { reader, head in
            // The events, the controls and this snapshot must be of one log: it may not grow meanwhile.
            guard Int64(all.count) == head.size else {
                throw VaultError.io("the log grew while the export was being made; run it again")
            }
            // The log's tree from the events' leaves (recomputed from their bodies and signatures,
            // which auditLog held to the trusted root already): it must give that root, from one
            // snapshot to the other, before anything is made of the events. Every node is then
            // bound to that root, so every path taken from it verifies under it.
            let nodes = MemoryLogNodes(leaves: try all.map { event in
                guard let leaf = [UInt8](hexString: event.leafHash), leaf.count == SHA256.length else {
                    throw VaultError.integrityFailure("event \(event.seq) has no leaf hash")
                }
                return leaf
            })
            guard try LogTree.root(nodes, size: head.size) == head.logRoot else {
                throw VaultError.integrityFailure("the events do not make the log's trusted root; run 'casevault verify'")
            }
            let signed = head.signedState(reader)
            try signed.preloadNodes()
            let parsed = try all.map { try Event(body: Array($0.body.utf8)) }
            let controls = try ControlsReport(signed: signed, events: parsed, asOf: now, vaultID: config.vaultId, logSize: head.size,
                                              logRoot: head.logRoot.hexString, keyDerivation: .wrappedKeys(ControlsReport.wrappedKeys(in: signed)))
            var lines: [UInt8] = []
            for event in events {
                let proof = try LogTree.inclusionProof(nodes, index: event.seq - 1, size: head.size)
                lines += JSONValue.object([
                    "seq": .integer(event.seq), "at": .string(event.at), "actor": .string(event.actor), "type": .string(event.type),
                    "body": .string(event.body), "signature": .string(event.signature), "leafHash": .string(event.leafHash),
                    "inclusionPath": .array(proof.map { .string($0.hexString) }),
                ]).canonicalBytes + [0x0a]
            }
            payload.append(("data/events.jsonl", lines))
            let checkpoint = try Checkpoint.signed(vaultID: config.vaultId, size: head.size, root: head.logRoot, by: actor)
            payload.append(("data/checkpoint.txt", Array(checkpoint.note.utf8)))
            if let last = lastCheckpoint {
                guard last.origin == Checkpoint.origin(vaultID: config.vaultId), last.size >= 1, last.size <= head.size else {
                    throw VaultError.invalidInput("that checkpoint is not of this vault's log")
                }
                let proof = last.size == head.size ? [] : try LogTree.consistencyProof(nodes, from: last.size, to: head.size)
                guard last.size == head.size ? last.root == head.logRoot
                        : LogTree.verifyConsistency(from: last.size, to: head.size, oldRoot: last.root, newRoot: head.logRoot, proof: proof) else {
                    throw VaultError.integrityFailure("this vault's log does not extend the auditor's checkpoint")
                }
                payload.append(("data/consistency.json", JSONValue.object([
                    "fromSize": .integer(last.size), "fromRoot": .string(last.root.hexString), "toSize": .integer(head.size),
                    "toRoot": .string(head.logRoot.hexString), "proof": .array(proof.map { .string($0.hexString) }),
                ]).prettyBytes + [0x0a]))
                payload.append(("data/previous-checkpoint.txt", Array(last.note.utf8)))
            }
            // The catalog's metadata, each row checked against the signed state.
            payload += try AuditBag.catalogFiles(signed, cases: numbers)
            // The blobs the bag's events need to be replayed at the auditor's desk: policies, schema
            // bodies and imported histories (no content, no key material; SECURITY.md §12d).
            let selected = Set(events.map(\.seq))
            for hash in Set(parsed.filter { selected.contains($0.seq) }.flatMap(Replay.auditBlobHashes)).sorted() {
                if let bytes = try? signed.blob(hash, what: "blob \(hash)") { payload.append(("data/blobs/\(hash)", bytes)) }
            }
            return (head.size, controls)
        }
        payload.append(("data/controls.json", controls.json.prettyBytes + [0x0a]))

        // RFC 8493: the tag files, the payload manifests and the tag manifest.
        let payloadBytes = payload.reduce(0) { $0 + $1.1.count }
        func manifest(_ files: [(String, [UInt8])], _ hash: ([UInt8]) -> [UInt8]) -> [UInt8] {
            Array(files.map { "\(hash($0.1).hexString)  \($0.0)\n" }.joined().utf8)
        }
        let bagit = Array("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".utf8)
        let info = Array("""
            Bagging-Date: \(day)
            Payload-Oxum: \(payloadBytes).\(payload.count)
            Source-Organization: casevault vault \(config.vaultId)
            External-Description: Signed event log and catalog metadata of a casevault vault, for audit. No case content, no keys.
            Casevault-Vault-Id: \(config.vaultId)
            Casevault-Exported-By: \(actor.id)
            Casevault-Log-Size: \(size)
            Casevault-Cases: \(numbers.isEmpty ? "all" : numbers.sorted().joined(separator: " "))
            Casevault-Since: \(sinceDay ?? "the beginning")

            """.utf8)
        let sha256Manifest = manifest(payload, { SHA256.hash($0) })
        // The exporter signs what bag-info says of the bag's scope and every payload file's digest
        // (SECURITY.md §12d): a file rewritten or a scope relabelled, manifests made again, is caught.
        let statement = try AuditBag.signedStatement(info: info, sha256Manifest: sha256Manifest)
        let signature = Array((try actor.keys.sign(statement).hexString + "\n").utf8)
        let tags = [("bagit.txt", bagit), ("bag-info.txt", info), ("manifest-sha256.txt", sha256Manifest),
                    ("manifest-sha512.txt", manifest(payload, { SHA512.hash($0) })), (AuditBag.signatureFile, signature)]
        let tagManifest = manifest(tags, { SHA256.hash($0) })
        let entries = tags + [("tagmanifest-sha256.txt", tagManifest)] + payload

        let hasher = FastBlake2b()
        try AtomicFile.write(to: path, replacing: false) { fd in
            let writer: ArchiveWriter
            do {
                writer = try ArchiveWriter(format: format) { bytes in
                    hasher.update(bytes)
                    try fd.write(bytes)
                }
                let stamped = Int64(now.timeIntervalSince1970)
                for (name, bytes) in entries {
                    try writer.beginFile(path: bagName + "/" + name, size: Int64(bytes.count), modificationTime: stamped, permissions: 0o644)
                    try bytes.withUnsafeBytes { try writer.write($0) }
                    try writer.finishEntry()
                }
                try writer.finish()
            } catch let error as ArchiveError { throw VaultError.io("cannot write the audit export: \(error)") }
        }
        let digest = hasher.finalize().hexString
        do {
            _ = try write { writer, head in
                try Ledger.append([.auditExported(AuditExported(
                    blake2b: digest, format: format == .zip ? "zip" : "tar", cases: numbers.sorted(), since: sinceDay,
                    events: events.count, logSize: size))], by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            }
        } catch {
            FileSystem.remove(path)
            throw error
        }
        return AuditExportReport(path: path, bagName: bagName, format: format == .zip ? "zip" : "tar", events: events.count,
                                 payloadFiles: payload.count, payloadBytes: payloadBytes, logSize: size, blake2b: digest)
    }
}

extension AuditBag {
    /// The tag file holding the exporter's signature (hex Ed25519, a line).
    static let signatureFile = "casevault-signature.txt"
    /// How the statement begins (domain separation: the agent signs it, and no event or checkpoint begins so).
    static let statementContext = Array("casevault-audit-bag-v1\n".utf8)
    /// The bag-info lines the signature covers, in this order.
    static let signedInfoLabels = ["Casevault-Vault-Id", "Casevault-Exported-By", "Casevault-Log-Size", "Casevault-Cases", "Casevault-Since"]

    /// What the exporter signs: `casevault-audit-bag-v1`, a line feed, the
    /// bag-info lines of `signedInfoLabels` as written (each with its line
    /// feed, in that order), a line feed, then `manifest-sha256.txt` as it
    /// is. Throws when bag-info lacks one of those lines or holds it twice.
    static func signedStatement(info: [UInt8], sha256Manifest: [UInt8]) throws -> [UInt8] {
        let lines = String(decoding: info, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        var statement = statementContext
        for label in signedInfoLabels {
            let found = lines.filter { $0.hasPrefix(label + ": ") }
            guard found.count == 1 else { throw VaultError.integrityFailure("bag-info.txt has \(found.count) \(label) lines") }
            statement += Array((found[0] + "\n").utf8)
        }
        return statement + [0x0a] + sha256Manifest
    }

    /// The bag's catalog files (`data/catalog/`), from a signed state: the
    /// live vault's when the bag is made, the replayed one when
    /// `verify-export` checks them. `cases` empty: every case.
    static func catalogFiles(_ signed: SignedState, cases numbers: Set<String>) throws -> [(String, [UInt8])] {
        let encoder = JSONValueEncoder()
        func json(_ value: some Encodable) throws -> [UInt8] { try encoder.encode(value).prettyBytes + [0x0a] }
        let states = try signed.cases(matching: CaseQuery()).filter { numbers.isEmpty || numbers.contains($0.case.number) }
        var files = [("data/catalog/staff.json", try json(try signed.allStaff().map(AuditStaff.init))),
                     ("data/catalog/cases.json", try json(states.map(\.case))),
                     ("data/catalog/grants.json", try json(states.flatMap(\.grants)))]
        var inventory: [VersionRecord] = [], history: [StatusChangeRecord] = [], tags: [CaseTagRecord] = []
        for state in states {
            for document in try signed.documents(state.case.number) { inventory += try signed.versions(of: document) }
            history += try signed.lifecycle(state.case.number).changes
            tags += try signed.tags(state.case.number)
        }
        files += [("data/catalog/documents.json", try json(inventory)),
                  ("data/catalog/status-history.json", try json(history)),
                  ("data/catalog/tags.json", try json(tags))]
        return files
    }
}

/// A staff member as an audit export lists them: who, role, public keys,
/// when added and by whom, and when they left.
struct AuditStaff: Encodable {
    let id: String, name: String, role: String, boxPublicKey: String, signingPublicKey: String
    let addedAt: String, addedBy: String?, addedSeq: Int64
    let left: StaffDeparture?
    init(_ r: StaffRecord) {
        id = r.id; name = r.name; role = r.role; boxPublicKey = r.boxPublicKey; signingPublicKey = r.signingPublicKey
        addedAt = r.addedAt; addedBy = r.addedBy; addedSeq = r.addedSeq; left = r.left
    }
}
