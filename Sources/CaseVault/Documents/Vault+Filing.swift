public import Foundation
internal import CaseVaultCrypto
#if canImport(Glibc)
internal import Glibc
#endif

/// Where the bytes of a filing come from.
public enum FilingInput: Sendable {
    case file(path: String)
    case standardInput
}

/// The bytes of one filing, and whether they can be read again from the
/// start (a file can, a pipe cannot) should the filing have to be redone.
struct FilingSource {
    let read: (UnsafeMutableRawBufferPointer) throws -> Int
    let rewind: () -> Bool
    /// The file the bytes come from, whose name is kept encrypted (§11a).
    var originalPath: String? = nil

    /// The first `count` bytes of wiped memory (a form read and validated).
    static func memory(_ bytes: SecureBytes, count: Int, originalPath: String? = nil) -> FilingSource {
        var offset = 0
        return FilingSource(read: { buffer in
            let n = Swift.min(buffer.count, count - offset)
            if n > 0 { bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) } }
            offset += n
            return n
        }, rewind: { offset = 0; return true }, originalPath: originalPath)
    }
}

extension FilingInput {
    var path: String? {
        if case .file(let path) = self { return path }
        return nil
    }
}

extension Vault {
    /// A name to file under: the rules of a new name (`newDocumentName`)
    /// when the case has no such document, else those its versions were
    /// filed under (`documentName`), as the projection holds them: a
    /// document named before a rule was added still takes new versions.
    /// `signed`: the caller's snapshot (nil: the log is empty).
    func validateForFiling(_ name: String, into caseNumber: String, signed: SignedState?) throws {
        if try signed?.document(caseNumber, name) != nil { try Self.validate(documentName: name) } else { try Self.validate(newDocumentName: name) }
    }

    /// `given` as stored (`storedDocumentName`) and checked for filing
    /// (`validateForFiling`), in one snapshot.
    func nameForFiling(_ given: String, into caseNumber: String) throws -> String {
        try read { reader, head in
            let signed = head.size > 0 ? try head.signedState(reader) : nil
            let name = try storedDocumentName(caseNumber, given, signed: signed)
            try validateForFiling(name, into: caseNumber, signed: signed)
            return name
        }
    }

    /// Document names as stored and signed: Unicode NFC, so "Café" typed on
    /// one keyboard and "Cafe" + U+0301 pasted from another are one
    /// document (the catalog compares bytes). Every name entering the core
    /// passes through here; the projection refuses a name that did not.
    public static func documentName(_ name: String) -> String {
        name.precomposedStringWithCanonicalMapping
    }

    static func isNormalized(documentName name: String) -> Bool {
        name.utf8.elementsEqual(documentName(name).utf8)
    }

    /// The name a document of a case is stored under: `given` in NFC,
    /// unless only a document under `given`'s own bytes exists (a format-1
    /// vault kept names as typed, and SQLite tells the two apart).
    func storedDocumentName(_ caseNumber: String, _ given: String) throws -> String {
        guard !Self.isNormalized(documentName: given) else { return Self.documentName(given) }
        return try read { reader, head in
            try storedDocumentName(caseNumber, given, signed: head.size > 0 ? head.signedState(reader) : nil)
        }
    }

    /// The same, read in the caller's snapshot (nil: the log is empty).
    func storedDocumentName(_ caseNumber: String, _ given: String, signed: SignedState?) throws -> String {
        let normalized = Self.documentName(given)
        guard !Self.isNormalized(documentName: given), let signed else { return normalized }
        if try signed.document(caseNumber, normalized) == nil, try signed.document(caseNumber, given) != nil { return given }
        return normalized
    }

    public static func validate(documentName name: String) throws {
        guard !name.isEmpty, name.count <= 120, name.trimmingCharacters(in: .whitespaces) == name,
              !name.contains("/"), !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw VaultError.invalidInput("document name must be 1 to 120 printable characters, without '/' or leading or trailing spaces")
        }
    }

    /// The characters a new name may not hold because they show as nothing
    /// or as a line break (SECURITY.md §12, `version.filed`). Part of the
    /// format-4 signing rules, so fixed: it is not `TerminalText.invisible`,
    /// which may grow for display's sake, and a change here is a new format.
    static let invisibleInNames: Set<UInt32> = [0x00ad, 0x061c, 0x115f, 0x1160, 0x180e, 0x200b, 0x200e, 0x200f, 0x2028, 0x2029,
                                                0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x3164, 0xfeff, 0xffa0]

    /// The stricter rule for a name given now, to file or move under
    /// (events already signed keep the rule above, so old vaults replay):
    /// also at most 400 bytes of UTF-8, no bidirectional control (an RLO
    /// can make "gpj.exe" read as "exe.jpg") and no U+FFFD, which is what
    /// an argument that was not UTF-8 becomes (two such names would
    /// otherwise collapse into one document).
    public static func validate(newDocumentName name: String) throws {
        try validate(documentName: name)
        guard name.utf8.count <= 400 else {
            throw VaultError.invalidInput("document name is \(name.utf8.count) bytes of UTF-8; at most 400 are kept")
        }
        let bidirectional: Set<UInt32> = [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]
        if let scalar = name.unicodeScalars.first(where: { bidirectional.contains($0.value) }) {
            throw VaultError.invalidInput("document name holds the bidirectional control U+\(String(scalar.value, radix: 16, uppercase: true)), which can make a name read as another")
        }
        guard !name.unicodeScalars.contains("\u{FFFD}") else {
            throw VaultError.invalidInput("document name is not valid UTF-8 (or holds U+FFFD)")
        }
        // What shows as nothing or as a line break lets one name pass for another ("Care\u{200B}plan").
        if let scalar = name.unicodeScalars.first(where: {
            invisibleInNames.contains($0.value) || [.lineSeparator, .paragraphSeparator].contains($0.properties.generalCategory)
        }) {
            throw VaultError.invalidInput("document name holds U+\(String(scalar.value, radix: 16, uppercase: true)), which shows as nothing or as a line break, so the name could pass for another")
        }
    }

    public static func validate(documentType type: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        guard (1...32).contains(type.count), type.allSatisfy({ allowed.contains($0) }) else {
            throw VaultError.invalidInput("document type '\(type)' is not valid: use 1 to 32 characters of a-z, 0-9 and '-'")
        }
    }

    /// Files a new immutable version of `name` in a case, streaming the
    /// input through secretstream into a new object (SECURITY.md §9–10).
    ///
    /// Needs only public keys: the file key is sealed to the tier's public
    /// key, so the filer cannot read back what they filed. The object is
    /// encrypted and made durable outside the vault's write lock, against
    /// the signed state read just before; a short write transaction then
    /// checks that the case and document are still as they were and appends
    /// the `version.filed` event (SECURITY.md §10). Only a real conflict (a
    /// version of the same document, or a change to the case, committed
    /// meanwhile) makes it encrypt again.
    @discardableResult
    public func file(caseNumber: String, name: String, type: String, confidential: Bool = false,
                     from input: FilingInput, by actor: StaffIdentity,
                     now: Date? = nil, timeZone: TimeZone = .current) throws -> VersionInfo {
        guard Policy.filingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("\(actor.role.withArticle) cannot file documents")
        }
        let number = try CaseNumber.parse(caseNumber).description
        let name = try nameForFiling(name, into: number)
        try Self.validate(documentType: type)
        // A file is read ahead on a second thread (through the page cache,
        // into wiped memory), so that encrypting a chunk never waits for the
        // read of the next: 256 MiB filed in 0.144 s instead of 0.167 s here.
        // Standard input is not: a thread blocked reading it would outlive a
        // filing refused before its first byte.
        let fd = try Self.open(input)
        let source: FilingSource
        if input.path != nil {
            let reader = ReadAhead(fd: fd, direct: false, blocks: 4, blockSize: 256 << 10, secret: true)
            source = FilingSource(read: reader.read(into:), rewind: reader.rewind, originalPath: input.path)
        } else {
            source = FilingSource(read: fd.read(into:), rewind: fd.rewind, originalPath: nil)
        }
        return try fileStream(caseNumber: number, name: name, type: type, confidential: confidential, schema: nil,
                              by: actor, now: now, timeZone: timeZone, source: source)
    }

    static func open(_ input: FilingInput) throws -> FileDescriptor {
        switch input {
        case .file(let path):
            guard FileSystem.exists(path) else { throw VaultError.notFound("no such file: \(path)") }
            guard FileSystem.isRegularFile(path) else { throw VaultError.invalidInput("\(path) is not a regular file") }
            return try FileSystem.openForReading(path)
        case .standardInput:
            return FileDescriptor(0, path: "standard input", closesOnRelease: false)
        }
    }

    /// What a filing decided from the signed state before encrypting; the
    /// commit re-reads the same state and must find it unchanged.
    struct FilingPlan {
        let caseRecord: CaseRecord
        let document: DocumentRecord?
        let version: Int
        let tier: Tier
        let stamp: Stamp
        let tierKey: BoxPublicKey
        /// The signed confidentiality policy the tier was chosen by.
        let policy: ConfidentialTypesRecord?
    }

    struct FilingConflict: Error {}

    /// The filing itself, from any source; `schema` is recorded for forms.
    ///
    /// `beforeCommit` is told the version and object about to be committed,
    /// once the object is durable and before the event is appended (a bulk
    /// filing's journal, which must name the object first to know later
    /// whether the filing took); if it throws, nothing is filed.
    func fileStream(caseNumber number: String, name: String, type: String, confidential: Bool, schema: FormSchema?,
                    by actor: StaffIdentity, now fixedNow: Date?, timeZone: TimeZone, source: FilingSource,
                    beforeCommit: ((_ version: Int, _ object: String) throws -> Void)? = nil) throws -> VersionInfo {
        // An aged-out case whose closing day has come closes first, so the
        // stamp carries the status in force (manual §5.2), when the filer
        // may sign that closure (its supervisor, a director); otherwise it
        // stays AO until one does ('casevault due' lists it).
        if Policy.agedOutClosingRoles.contains(actor.role) { try closeAgedOutCases(number, by: actor, now: fixedNow ?? Date()) }
        // Objects being written are not yet named by any row; the shared lock
        // keeps `verify --repair` from taking them for a crash's leftovers.
        return try objects.withFilingLock {
            var attempt = 1
            while true {
                do {
                    return try fileOnce(caseNumber: number, name: name, type: type, confidential: confidential, schema: schema,
                                        by: actor, now: fixedNow, timeZone: timeZone, source: source, beforeCommit: beforeCommit)
                } catch is FilingConflict {
                    guard attempt < 8, source.rewind() else {
                        throw VaultError.io("'\(name)' of \(number) changed while it was being filed from a stream that cannot be read again; nothing was filed, file it again")
                    }
                    attempt += 1
                }
            }
        }
    }

    /// A filing encrypted and durable, not yet committed: what the commit
    /// checks and records.
    struct PreparedFiling {
        let caseNumber: String
        let name: String
        let type: String
        let schema: FormSchema?
        let plan: FilingPlan
        let object: (id: ObjectID, size: Int64)
        let plaintextSize: Int64
        let sealedFileKey: [UInt8]
        /// The original name and media type, sealed under the file key (§11a).
        let sealedFileInfo: [UInt8]

        var info: VersionInfo {
            VersionInfo(caseNumber: caseNumber, document: name, version: plan.version, type: type, tier: plan.tier,
                        stamp: plan.stamp, size: plaintextSize, objectID: object.id.hex,
                        schemaID: schema?.id, schemaVersion: schema?.version)
        }
    }

    private func fileOnce(caseNumber number: String, name: String, type: String, confidential: Bool, schema: FormSchema?,
                          by actor: StaffIdentity, now fixedNow: Date?, timeZone: TimeZone, source: FilingSource,
                          beforeCommit: ((_ version: Int, _ object: String) throws -> Void)?) throws -> VersionInfo {
        let prepared = try prepareFiling(caseNumber: number, name: name, type: type, confidential: confidential, schema: schema,
                                         by: actor, now: fixedNow, timeZone: timeZone, source: source)
        do {
            try beforeCommit?(prepared.plan.version, prepared.object.id.hex)
            return try write(reportingUncertainCommit: true) { writer, trusted in
                let signed = trusted.signedState(writer)
                try Self.checkUnchanged(prepared, signed: signed, actor: actor)
                let data = try Self.versionFiled(prepared, in: writer)
                // Event times are read under the lock, so they never run
                // backwards against sequence numbers.
                try Ledger.append([.versionFiled(data)], by: actor, at: fixedNow ?? Date(), vaultID: config.vaultId,
                                  head: &trusted, in: writer)
                return prepared.info
            }
        } catch let failed as CatalogCommitFailed {
            // The commit itself failed: whether it reached the disk is not
            // known (a WAL frame can come back at the next recovery). The
            // object stays, an orphan at worst for `verify --repair`.
            if case .io(let message) = failed.error {
                throw VaultError.io("\(message); '\(name)' v\(prepared.plan.version) may have been filed all the same: look with 'casevault history \(number)' before filing it again")
            }
            throw failed.error
        } catch {
            // Nothing refers to the object (the transaction rolled back), and
            // its random file key makes it unique: remove it.
            objects.remove(prepared.object.id)
            throw error
        }
    }

    /// Steps 1 and 2 of SECURITY.md §10: plan from the signed state, then
    /// encrypt the input into a durable object and seal its file key.
    /// `group`: the object (and its name) is made durable by the caller,
    /// with its group's (`ObjectStore.syncNames`), before anything refers to it.
    func prepareFiling(caseNumber number: String, name: String, type: String, confidential: Bool, schema: FormSchema?,
                       by actor: StaffIdentity, now fixedNow: Date?, timeZone: TimeZone, source: FilingSource,
                       group: ObjectGroup? = nil) throws -> PreparedFiling {
        let head = try FilingHead(source, length: SecretStream.chunkSize)
        let plan = try read { reader, trusted in
            try planFiling(caseNumber: number, name: name, type: type, schema: schema,
                           confidential: confidential || head.looksLikeImage, by: actor, now: fixedNow ?? Date(), timeZone: timeZone,
                           signed: trusted.signedState(reader))
        }
        return try encryptFiling(caseNumber: number, name: name, type: type, schema: schema, plan: plan, head: head,
                                 source: source, group: group)
    }

    /// The first bytes of a filing, read before it is planned: an image is
    /// recognised by them (it goes to the confidential tier), and the sealed
    /// file information takes its media type from them. The encryption
    /// reads them again from here, then the rest from the source.
    struct FilingHead {
        let bytes: SecureBytes
        let count: Int

        /// Reads up to `length` bytes (at least `ContentKind.sniffLength`).
        init(_ source: FilingSource, length: Int) throws {
            bytes = SecureBytes(count: Swift.max(length, ContentKind.sniffLength))
            count = try bytes.withUnsafeMutableBytes { try SecretStream.fillRaw($0, using: source.read) }
        }

        func withSniffed<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<Swift.min(count, ContentKind.sniffLength)])) }
        }

        var looksLikeImage: Bool { withSniffed(ContentKind.isImage) }
    }

    /// Step 2 alone, for a planned filing whose head has been read: touches
    /// neither the catalog nor any shared state, so a group's filings are
    /// encrypted and written on several threads at once.
    func encryptFiling(caseNumber number: String, name: String, type: String, schema: FormSchema?, plan: FilingPlan,
                       head: FilingHead, source: FilingSource, group: ObjectGroup?) throws -> PreparedFiling {
        var headOffset = 0
        let readInput: (UnsafeMutableRawBufferPointer) throws -> Int = { buffer in
            if headOffset < head.count {
                let n = Swift.min(buffer.count, head.count - headOffset)
                head.bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + headOffset, byteCount: n) }
                headOffset += n
                return n
            }
            return try source.read(buffer)
        }
        let associatedData = objectAssociatedData(caseNumber: number, document: name, version: plan.version,
                                                  type: type, tier: plan.tier, stamp: plan.stamp)
        let fileKey = SecretStream.generateKey()
        var plaintextSize: Int64 = 0
        let object: (id: ObjectID, size: Int64)
        do {
            let produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void = { sink in
                try SecretStream.encrypt(key: fileKey, associatedData: associatedData, read: { buffer in
                    let n = try readInput(buffer)
                    plaintextSize += Int64(n)
                    return n
                }, write: sink)
            }
            object = try group.map { try objects.writeNamingLater(produce, in: $0) } ?? objects.write(produce)
        } catch CryptoError.inputFailed {
            throw VaultError.io("cannot read the document being filed")
        }
        let fileInfo = head.withSniffed { FileInfo.forFile(path: source.originalPath, isForm: schema != nil, head: $0) }
        return PreparedFiling(caseNumber: number, name: name, type: type, schema: schema, plan: plan, object: object,
                              plaintextSize: plaintextSize, sealedFileKey: SealedBox.seal(fileKey, to: plan.tierKey),
                              sealedFileInfo: try fileInfo.sealed(fileKey: fileKey, objectID: object.id.hex))
    }

    /// Step 3's check: nothing the object was encrypted against may have
    /// changed since it was planned.
    static func checkUnchanged(_ prepared: PreparedFiling, signed: SignedState, actor: StaffIdentity) throws {
        guard let state = try signed.caseState(prepared.caseNumber), state.case == prepared.plan.caseRecord,
              try signed.document(prepared.caseNumber, prepared.name) == prepared.plan.document,
              try signed.confidentialTypes().record == prepared.plan.policy,
              try signed.staff(actor.id)?.role == actor.role.rawValue else {
            throw FilingConflict()
        }
    }

    /// Step 3's record: the sealed file key (and a form's schema text) as
    /// blobs, and the event that names them.
    static func versionFiled(_ prepared: PreparedFiling, in writer: any CatalogWriter) throws -> VersionFiled {
        var schemaReference: VersionFiled.SchemaReference?
        if let schema = prepared.schema {
            // The body is stored, so the exact text a form was
            // validated against can be read back and hashed.
            let bodyHash = try Ledger.putBlob(Array(schema.text.utf8), in: writer)
            schemaReference = .init(id: schema.id, version: schema.version, bodyHash: bodyHash)
        }
        let plan = prepared.plan
        return VersionFiled(case: prepared.caseNumber, document: prepared.name, version: plan.version, type: prepared.type,
                            tier: plan.tier.rawValue, object: prepared.object.id.hex, size: prepared.plaintextSize,
                            ciphertextSize: prepared.object.size,
                            sealedFileKeyHash: try Ledger.putBlob(prepared.sealedFileKey, in: writer), stamp: plan.stamp,
                            schema: schemaReference, fileInfoHash: try Ledger.putBlob(prepared.sealedFileInfo, in: writer))
    }

    /// Files several prepared filings in one transaction (a bulk filing's
    /// group of small documents): each is checked as in step 3, and their
    /// events are appended together, so the catalog pages they share (the
    /// upper state map, the log's tree) are written and synced once. All
    /// or none: on a conflict nothing is committed and FilingConflict is
    /// thrown; the caller removes the objects and files them one by one.
    /// A commit that itself failed throws `CommitUncertain`.
    func commitGroup(_ group: [PreparedFiling], by actor: StaffIdentity, now fixedNow: Date?) throws -> [VersionInfo] {
        do {
            return try write(reportingUncertainCommit: true) { writer, trusted in
                let signed = trusted.signedState(writer)
                for prepared in group { try Self.checkUnchanged(prepared, signed: signed, actor: actor) }
                let events = try group.map { EventData.versionFiled(try Self.versionFiled($0, in: writer)) }
                try Ledger.append(events, by: actor, at: fixedNow ?? Date(), vaultID: config.vaultId, head: &trusted, in: writer)
                return group.map(\.info)
            }
        } catch let failed as CatalogCommitFailed {
            throw CommitUncertain(error: failed.error)
        }
    }

    /// A transaction that failed as it committed: whether it reached the
    /// disk is not known (a WAL frame can come back at the next recovery).
    struct CommitUncertain: Error {
        let error: VaultError
    }

    /// Decides version, tier and stamp from the signed state.
    func planFiling(caseNumber number: String, name: String, type: String, schema: FormSchema?, confidential: Bool,
                            by actor: StaffIdentity, now: Date, timeZone: TimeZone, signed: SignedState) throws -> FilingPlan {
        let state = try signed.keptCase(number)
        guard let status = CaseStatus(rawValue: state.case.status) else {
            throw VaultError.integrityFailure("case record \(number) is damaged")
        }
        guard let filer = try signed.staff(actor.id), filer.role == actor.role.rawValue, Policy.filingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("'\(actor.id)' may no longer file documents")
        }
        let document = try signed.document(number, name)
        // A document keeps one type across versions: a form stays a form of
        // its type, a document never becomes a form.
        if let document, document.type != type || document.isForm != (schema != nil) {
            let how = document.isForm ? "--form \(document.type)" : "--type \(document.type)"
            throw VaultError.invalidInput("'\(name)' of \(number) is a \(document.isForm ? "form" : "document") of type \(document.type); file its next version with \(how)")
        }
        // Confidentiality is sticky: once any version of a document is
        // confidential (as the signed document record says), later ones are too.
        // And the vault's policy: some types are confidential whoever files them.
        let policy = try signed.confidentialTypes()
        let tier: Tier = confidential || Policy.photoTypes.contains(type) || policy.types.contains(type) || document?.confidential == true
            ? .confidential : .team
        if let (id, left) = try Self.departedHolder(of: state, tier: tier, signed: signed) {
            throw VaultError.accessDenied("the \(tier.rawValue) tier of \(number) is still sealed to '\(id)', who left the staff on \(left.at); nothing is filed into it until it rotates (an admin re-runs `casevault staff leave \(id)`, or its supervisor runs `casevault case rotate \(number)`)")
        }
        if let (id, left) = try Self.departedKeyMaker(of: state, tier: tier, signed: signed) {
            throw VaultError.accessDenied("the \(tier.rawValue) tier key of \(number) was made by '\(id)', who left the staff on \(left.at); nothing is filed into it until it rotates (an admin re-runs `casevault staff leave \(id)`, or its supervisor runs `casevault case rotate \(number)`)")
        }
        let version = (document?.latestVersion ?? 0) + 1
        guard let manager = try signed.staff(state.case.manager), let supervisor = try signed.staff(state.case.supervisor) else {
            throw VaultError.integrityFailure("the manager or supervisor of \(number) is not on the staff")
        }
        let stamp = Stamp(date: Stamp.dateString(now, in: timeZone), caseNumber: number, caseStatus: status, report: name,
                          caseManager: manager.name, caseSupervisor: supervisor.name,
                          version: version, filedBy: actor.id, filedByName: filer.name)
        return FilingPlan(caseRecord: state.case, document: document, version: version, tier: tier, stamp: stamp,
                          tierKey: try state.case.publicKey(for: tier), policy: policy.record)
    }

    /// The associated data binding an object to its identity and stamp
    /// (SECURITY.md §11): `"casevault-object-v1\n"` followed by the
    /// canonical JSON of vault, case, document, version, type, tier, stamp.
    /// `vault` is the vault it was filed in: this one, unless the version
    /// came with its case from another (`case.imported`).
    func objectAssociatedData(caseNumber: String, document: String, version: Int, type: String,
                              tier: Tier, stamp: Stamp, vault: String? = nil) -> [UInt8] {
        Array("casevault-object-v1\n".utf8) + JSONValue.object([
            "vault": .string(vault ?? config.vaultId), "case": .string(caseNumber), "document": .string(document),
            "version": .integer(Int64(version)), "type": .string(type), "tier": .string(tier.rawValue),
            "stamp": stamp.json,
        ]).canonicalBytes
    }
}

extension FileDescriptor {
    /// Back to the start of the file; false when it cannot seek (a pipe).
    func rewind() -> Bool {
        lseek(raw, 0, SEEK_SET) == 0
    }
}
