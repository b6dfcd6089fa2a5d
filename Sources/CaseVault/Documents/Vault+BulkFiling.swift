public import Foundation
internal import CaseVaultCrypto
#if canImport(Glibc)
internal import Glibc
#endif

/// One document of a bulk filing: `casevault file NUMBER PATH…` or a row of
/// `casevault file --manifest FILE.csv`.
public struct FilingRequest: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case document(type: String)
        /// A JSON form, validated against the vault's newest schema of the
        /// type (or `schemaVersion`).
        case form(type: String, schemaVersion: Int?)

        public var isForm: Bool {
            if case .form = self { return true }
            return false
        }
    }

    public var caseNumber: String
    /// The report name; nil: a document is named from its file (the base
    /// name without its last extension), a form from its schema's title.
    public var name: String?
    public var kind: Kind
    public var confidential: Bool
    public var path: String
    /// Where the request came from, for messages: "intake.csv line 4".
    public var origin: String

    public init(caseNumber: String, name: String?, kind: Kind, confidential: Bool, path: String, origin: String) {
        self.caseNumber = caseNumber
        self.name = name
        self.kind = kind
        self.confidential = confidential
        self.path = path
        self.origin = origin
    }
}

/// Why one request of a batch cannot be filed.
public struct FilingProblem: Sendable, Equatable {
    public let origin: String
    public let message: String
    /// A form's schema violations, one line each.
    public let details: [String]
}

/// A batch checked against the vault: every request resolved to the case,
/// name and file it will be filed as, or the problems that stop it. Nothing
/// is filed from a batch with problems.
public struct CheckedBatch: Sendable {
    public struct Item: Sendable, Equatable {
        /// Its place in the batch, from 0: the journal's row.
        public let row: Int
        public let origin: String
        public let caseNumber: String
        public let name: String
        public let kind: FilingRequest.Kind
        public let confidential: Bool
        /// Absolute, so a re-run from another folder is the same batch.
        public let path: String
        public let size: Int64
        /// A form's BLAKE2b-256 and the text of the schema it was checked
        /// against: filing reads it again, and validates it again unless
        /// both are the same.
        let checkedForm: CheckedForm?
    }

    struct CheckedForm: Sendable, Equatable {
        let digest: [UInt8]
        let schemaText: String
        /// Whether its first bytes look like an image's (a form can:
        /// `{"abftypheic": 1}` has HEIC's `ftyp` and brand at byte 4),
        /// which sends it to the confidential tier.
        let looksLikeImage: Bool

        init(_ bytes: SecureBytes, count: Int, schema: FormSchema) {
            (digest, looksLikeImage) = bytes.withUnsafeBytes {
                let form = UnsafeRawBufferPointer(rebasing: $0[0..<count])
                return (FastBlake2b.hash(form), ContentKind.isImage(UnsafeRawBufferPointer(rebasing: form.prefix(ContentKind.sniffLength))))
            }
            schemaText = schema.text
        }
    }

    public let items: [Item]
    public let problems: [FilingProblem]

    public var totalBytes: Int64 { items.reduce(0) { $0 + $1.size } }
    public var caseCount: Int { Set(items.map(\.caseNumber)).count }

    /// The batch's identity, naming its journal: BLAKE2b-256 of the vault,
    /// the filer and every item's case, name, kind, confidentiality and
    /// absolute path (SECURITY.md §10a). The same command or manifest run
    /// again is the same batch.
    public func id(vaultID: String, filer: String) -> String {
        let described = items.map { item -> JSONValue in
            var fields: [String: JSONValue] = [
                "case": .string(item.caseNumber), "name": .string(item.name), "confidential": .bool(item.confidential),
                "path": .string(item.path),
            ]
            switch item.kind {
            case .document(let type): fields["type"] = .string(type)
            case .form(let type, let version):
                fields["form"] = .string(type)
                fields["schemaVersion"] = version.map { .integer(Int64($0)) } ?? .null
            }
            return .object(fields)
        }
        let text = Array("casevault-batch-v1\n".utf8) + JSONValue.object([
            "vault": .string(vaultID), "filer": .string(filer), "items": .array(described),
        ]).canonicalBytes
        return Blake2b.hash(text).hexString
    }
}

/// How far a bulk filing has got, for a progress bar.
public struct BatchProgress: Sendable {
    public let filesDone: Int
    public let filesTotal: Int
    public let bytesDone: Int64
    public let bytesTotal: Int64
}

/// What a bulk filing did: a row per item reached, in order, and the
/// failure that stopped it, if one did.
public struct BatchResult: Sendable {
    public struct Row: Sendable {
        public let item: CheckedBatch.Item
        public let version: Int
        /// False when the journal showed the item filed by an earlier run
        /// of the same batch.
        public let filedNow: Bool
        public let tier: Tier
        public let caseStatus: CaseStatus
    }

    public struct Failure: Error, Sendable {
        public let item: CheckedBatch.Item
        public let error: VaultError
    }

    public var rows: [Row] = []
    public var failure: Failure?
    /// Groups that met a conflict or a failure and were filed one by one.
    public internal(set) var groupsFiledOneByOne = 0

    public var filed: [Row] { rows.filter(\.filedNow) }
    public var alreadyFiled: [Row] { rows.filter { !$0.filedNow } }
}

extension Vault {
    /// The report name a file gives a document when none is told: its base
    /// name without the last extension ("Home visit 2024-05-02.pdf" →
    /// "Home visit 2024-05-02"), the whole name when that would leave nothing.
    public static func documentName(forFile path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return base }
        return String(base[..<dot])
    }

    /// Checks every request of a batch without filing anything (`file
    /// --check`, and the start of every bulk filing): the filer may file,
    /// the case exists and is kept here, the name and type are valid and
    /// agree with the document's earlier versions, no two requests file the
    /// same document, the file is a readable regular file, and a form is
    /// valid against its schema. Needs no passphrase.
    public func checkBatch(_ requests: [FilingRequest], by filer: String) throws -> CheckedBatch {
        // One snapshot for the whole batch: what is checked is one state of the vault.
        try read { reader, head in
            let signed = head.signedState(reader)
            guard let member = try signed.staff(filer) else { throw try signed.missingStaff(filer) }
            guard let role = Role(rawValue: member.role), Policy.filingRoles.contains(role) else {
                throw VaultError.accessDenied("'\(filer)' is \(Role(rawValue: member.role)?.withArticle ?? member.role) and cannot file documents")
            }
            return try checkBatch(requests, signed: signed)
        }
    }

    private func checkBatch(_ requests: [FilingRequest], signed: SignedState) throws -> CheckedBatch {
        let schemas = BatchSchemas()
        // Each form's schema first (from the signed state, on this thread),
        // then every form read, parsed and validated on the other threads
        // (most of a batch of forms' check) while this one checks each
        // request against the signed state, then the two put together.
        var formSchemas: [Int: Result<FormSchema, VaultError>] = [:]
        for (row, request) in requests.enumerated() {
            guard case .form(let type, let version) = request.kind else { continue }
            formSchemas[row] = Result { try schemas.schema(type, version) { try formSchema(type: type, version: version, signed: signed) } }
                .mapError { $0 as? VaultError ?? .io("\($0)") }
        }
        // The forms are read, parsed and validated on other threads while
        // this one checks every request against the signed state (whose
        // reader is this thread's): the two take about as long.
        let forms = Box<[Result<CheckedBatch.CheckedForm, VaultError>?]>([])
        let formsChecked = DispatchSemaphore(value: 0)
        nonisolated(unsafe) let formSchemasShared = formSchemas
        let formThread = Thread {
            forms.value = Parallel.map(Array(requests.enumerated()), grain: 8) { row, request -> Result<CheckedBatch.CheckedForm, VaultError>? in
                guard let schema = formSchemasShared[row] else { return nil }
                return Result {
                    let schema = try schema.get()
                    let file = try Self.open(.file(path: FileSystem.absolutePath(request.path)))
                    let (bytes, count) = try Self.readForm(from: file)
                    try schema.requireValid(try Self.parseForm(bytes, count: count))
                    return CheckedBatch.CheckedForm(bytes, count: count, schema: schema)
                }.mapError { $0 as? VaultError ?? .io("\($0)") }
            }
            formsChecked.signal()
        }
        // The validator recurses (256 schema levels at most): the stack of
        // a main thread, not the 1 MiB of a pipeline's.
        formThread.stackSize = 8 << 20
        formThread.start()
        // Each request's checks before its form's and after it, kept apart,
        // so the first problem reported is the one met in that order.
        // (Errors that are not VaultError, a damaged or busy catalog, are
        // not a row's problem: they end the check, once the forms are done.)
        let checked = requests.enumerated().map { row, request -> (before: Result<RequestCheck, any Error>, after: Result<String, any Error>?) in
            let before = Result { try checkRequestBeforeForm(request, schemas: schemas, signed: signed) }
            guard case .success(let check) = before else { return (before, nil) }
            return (before, Result { try checkRequestAfterForm(check, signed: signed) })
        }
        formsChecked.wait()
        var items: [CheckedBatch.Item] = []
        var problems: [FilingProblem] = []
        var firstOrigin: [String: String] = [:]
        for (row, request) in requests.enumerated() {
            do {
                let check = try checked[row].before.get()
                let form = try forms.value[row].map { try $0.get() }
                let stored = try checked[row].after!.get()
                let item = CheckedBatch.Item(row: row, origin: request.origin, caseNumber: check.caseNumber, name: stored, kind: request.kind,
                                             confidential: request.confidential, path: check.path, size: check.size, checkedForm: form)
                let key = item.caseNumber + "\n" + item.name
                if let earlier = firstOrigin[key] {
                    throw VaultError.invalidInput("'\(item.name)' of \(item.caseNumber) is also filed by \(earlier); one batch files one version of a document (name them apart, or file the second in another batch)")
                }
                firstOrigin[key] = request.origin
                items.append(item)
            } catch VaultError.invalidForm(let report, let violations) {
                problems.append(FilingProblem(origin: request.origin,
                                              message: "the form is not a valid \(report): \(violations.count) problem\(violations.count == 1 ? "" : "s")",
                                              details: violations.map(\.description)))
            } catch let error as VaultError {
                problems.append(FilingProblem(origin: request.origin, message: error.message, details: []))
            }
        }
        return CheckedBatch(items: problems.isEmpty ? items : [], problems: problems)
    }

    /// What a request's checks before its form's found: its case, file and
    /// the name it asks for.
    struct RequestCheck {
        let caseNumber: String
        let path: String
        let size: Int64
        let type: String
        let name: String
        let isForm: Bool
    }

    /// A request's checks up to its form's: the case is kept here, the file
    /// is readable, the type or form type is valid.
    private func checkRequestBeforeForm(_ request: FilingRequest, schemas: BatchSchemas, signed: SignedState) throws -> RequestCheck {
        let number = try CaseNumber.parse(request.caseNumber).description
        _ = try signed.keptCase(number)
        let path = FileSystem.absolutePath(request.path)
        let file = try Self.open(.file(path: path))
        let size = file.regularFileSize ?? 0
        switch request.kind {
        case .document(let documentType):
            try Self.validate(documentType: documentType)
            return RequestCheck(caseNumber: number, path: path, size: size, type: documentType,
                                name: request.name ?? Self.documentName(forFile: path), isForm: false)
        case .form(let formType, let version):
            let schema = try schemas.schema(formType, version) { try formSchema(type: formType, version: version, signed: signed) }
            return RequestCheck(caseNumber: number, path: path, size: size, type: schema.type, name: request.name ?? schema.title, isForm: true)
        }
    }

    /// A request's checks after its form's: the name is valid and agrees
    /// with the document's earlier versions. Returns the name as stored.
    private func checkRequestAfterForm(_ check: RequestCheck, signed: SignedState) throws -> String {
        try Self.validate(documentName: check.name)
        let stored = try storedDocumentName(check.caseNumber, check.name, signed: signed)
        try validateForFiling(stored, into: check.caseNumber, signed: signed)
        if let document = try signed.document(check.caseNumber, stored), document.type != check.type || document.isForm != check.isForm {
            let how = document.isForm ? "a form of type \(document.type)" : "a document of type \(document.type)"
            throw VaultError.invalidInput("'\(stored)' of \(check.caseNumber) is \(how); its next version must be one too")
        }
        return stored
    }

    /// Files a checked batch, one document at a time, each all-or-nothing
    /// (its own signed event). With a journal, an item an earlier run of
    /// the same batch filed is not filed again: before each event is
    /// appended, the journal names the object it will refer to; on a
    /// re-run, an item whose journaled object the signed log holds is
    /// done (SECURITY.md §10a). Stops at the first failure, which the
    /// result carries; everything filed before it stays filed.
    ///
    /// Small documents go in groups, one transaction each; groups are
    /// prepared (planned, encrypted, written, their objects' names synced)
    /// on a second thread while the one before commits (`GroupPrefetch`).
    public func fileBatch(_ batch: CheckedBatch, journal: FilingJournal?, by actor: StaffIdentity, now: Date? = nil,
                          timeZone: TimeZone = .current, progress: ((BatchProgress) -> Void)? = nil) throws -> BatchResult {
        precondition(batch.problems.isEmpty, "a batch with problems is not filed")
        guard Policy.filingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("\(actor.role.withArticle) cannot file documents")
        }
        let journaled = try journal?.entries() ?? [:]
        var result = BatchResult()
        var filesDone = 0
        var bytesDone: Int64 = 0
        let bytesTotal = batch.totalBytes
        func report(_ extra: Int64 = 0) {
            progress?(BatchProgress(filesDone: filesDone, filesTotal: batch.items.count, bytesDone: bytesDone + extra, bytesTotal: bytesTotal))
        }
        report()
        let units = Self.filingUnits(batch.items, journaled: journaled)
        // Aged-out cases whose closing day has come close first, here, so
        // every group is planned (and stamped) after their closure and its
        // event time is read under the lock like any other (the prefetch
        // thread signs nothing).
        if Policy.agedOutClosingRoles.contains(actor.role) {
            for number in Set(batch.items.map(\.caseNumber)).sorted() { try closeAgedOutCases(number, by: actor, now: now ?? Date()) }
        }
        // Each form type's schema once for the run (§10a), before the
        // prefetch thread starts; it gets its own copy (BatchSchemas is not
        // shared between threads), so both file against the same versions.
        let schemas = BatchSchemas()
        for item in batch.items {
            if case .form(let type, let version) = item.kind {
                _ = try? schemas.schema(type, version) { try formSchema(type: type, version: version) }
            }
        }
        // Held from a group's preparation to its commit, which the shared
        // lock of each step alone would not cover: `verify --repair` must
        // not take a prepared group's objects for a crash's orphans.
        return try objects.withFilingLock {
            let groups = units.compactMap { unit -> [CheckedBatch.Item]? in
                if case .group(let items) = unit { return items }
                return nil
            }
            nonisolated(unsafe) let groupSchemas = schemas.copy()
            let prefetch = GroupPrefetch(groups: groups, prepare: { [self] items in
                Result { try prepareGroup(items, schemas: groupSchemas, by: actor, now: now, timeZone: timeZone) }
            }, discard: { [objects] filings in
                for filing in filings { objects.remove(filing.object.id) }
            })
            defer { prefetch.stop() }
            for unit in units {
                var singles: [CheckedBatch.Item]
                switch unit {
                case .group(let items):
                    var committed: [VersionInfo]?
                    if case .success(let prepared) = prefetch.next() {
                        do { committed = try commitPrepared(items, prepared, journal: journal, by: actor, now: now) } catch let uncertain as CommitUncertain {
                            result.failure = BatchResult.Failure(item: items[0], error: uncertain.error)
                            return result
                        } catch {}
                    }
                    if let infos = committed {
                        for (member, info) in zip(items, infos) {
                            result.rows.append(BatchResult.Row(item: member, version: info.version, filedNow: true, tier: info.tier,
                                                               caseStatus: info.stamp.caseStatus))
                        }
                        filesDone += items.count
                        bytesDone += items.reduce(0) { $0 + $1.size }
                        report()
                        continue
                    }
                    // A group that met a conflict or a failure is filed one
                    // by one: the failure is met again at its own item,
                    // with those before it filed.
                    singles = items
                    result.groupsFiledOneByOne += 1
                case .single(let item):
                    singles = [item]
                }
                for item in singles {
                    do {
                        if let done = try filedEarlier(item, journaled[item.row] ?? [], by: actor) {
                            result.rows.append(done)
                        } else {
                            let info = try fileItem(item, journal: journal, schemas: schemas, by: actor, now: now, timeZone: timeZone) { read in
                                report(read)
                            }
                            result.rows.append(BatchResult.Row(item: item, version: info.version, filedNow: true, tier: info.tier,
                                                               caseStatus: info.stamp.caseStatus))
                        }
                    } catch let error as VaultError {
                        result.failure = BatchResult.Failure(item: item, error: error)
                        return result
                    }
                    filesDone += 1
                    bytesDone += item.size
                    report()
                }
            }
            return result
        }
    }

    /// A batch's items in the order they are filed: a group of small
    /// documents in one transaction, or one item alone (a large document, or
    /// one an earlier run of the batch journaled, which is looked for in
    /// the signed log first).
    enum FilingUnit {
        case group([CheckedBatch.Item])
        case single(CheckedBatch.Item)
    }

    static func filingUnits(_ items: [CheckedBatch.Item], journaled: [Int: [FilingJournal.Entry]]) -> [FilingUnit] {
        func groupable(_ item: CheckedBatch.Item) -> Bool {
            item.size <= (item.kind.isForm ? groupedFormLimit : groupedFilingLimit) && journaled[item.row] == nil
        }
        var units: [FilingUnit] = []
        var index = 0, groups = 0
        while index < items.count {
            var group = [items[index]]
            var groupBytes = items[index].size
            var documents = items[index].kind.isForm ? 0 : 1
            if groupable(items[index]) {
                let limit = min(groupSize, firstGroupSize << min(groups, 8))
                while index + group.count < items.count, group.count < limit {
                    let next = items[index + group.count]
                    guard groupable(next), groupBytes + next.size <= Self.groupBytes,
                          next.kind.isForm || documents < documentsPerGroup else { break }
                    group.append(next)
                    groupBytes += next.size
                    if !next.kind.isForm { documents += 1 }
                }
            }
            units.append(group.count > 1 ? .group(group) : .single(group[0]))
            if group.count > 1 { groups += 1 }
            index += group.count
        }
        return units
    }

    /// Forms up to `groupedFormLimit` and documents up to
    /// `groupedFilingLimit` are filed in groups of up to `groupSize` items
    /// and `groupBytes`, at most `documentsPerGroup` of them documents
    /// (SECURITY.md §10a). `groupBytes` keeps a group's work short: the
    /// objects it writes before its commit, and what a kill sends back to
    /// the re-run.
    /// Each group's commit syncs the WAL with the pages its events touched,
    /// most of them at random places in the catalog's indexes (object ids,
    /// sealed-key and blob hashes): on a vault of 16,000 versions, 2,000
    /// forms in groups of 64 took 1.72 s, in groups of 256 1.48 s, and
    /// groups of 1,024 were 7 % faster again (1.22 s against 1.29 s on a
    /// vault of 12,000 versions).
    ///
    /// Groups of 1,024 became possible once a form was read by the thread
    /// that encrypts it (`prepareGroup`): before, a group's forms waited in
    /// locked memory until encrypted (three pages for a 2 KiB form), and
    /// two groups of 1,024 in flight would have locked about 24 MiB, past
    /// the 8 MiB many systems allow, where libsodium quietly leaves the rest
    /// unlocked. Now at most four forms are held at once, each in a buffer
    /// of at most twice `groupedFormLimit`. A grouped document keeps its
    /// file open until its group is prepared, so documents stay 256 a
    /// group, well inside the usual limit of 1,024 open files.
    ///
    /// The limit keeps a grouped document's ciphertext (24 bytes and 17 a
    /// chunk more) within `FileObjectStore.smallObjectLimit`, so each is
    /// gathered in memory and written at once.
    static let groupedFilingLimit = Int64(FileObjectStore.smallObjectLimit - SecretStream.chunkSize)
    static let groupedFormLimit: Int64 = 64 << 10
    static let groupSize = 1_024
    /// The first group is smaller, and each next one twice the one before
    /// up to `groupSize`: nothing else runs while the first is prepared,
    /// nor while the last commits. 2,000 forms as 1,024 + 976 took 1.58–
    /// 1.75 s, as 128, 256, 512, 1,024 and 80 1.18–1.30 s (6 interleaved
    /// runs each, copies of one vault).
    static let firstGroupSize = 128
    static let documentsPerGroup = 256
    static let groupBytes: Int64 = 2 << 20

    /// A group of small items made ready to commit: all planned in one
    /// snapshot of the signed state, then encrypted into their objects on
    /// several threads at once (each object is a file created, written and
    /// synced, mostly waiting on the disk), and the objects' names synced.
    /// On any error every object written is removed. Runs on the prefetch
    /// thread; the caller holds the filing lock.
    private func prepareGroup(_ items: [CheckedBatch.Item], schemas: BatchSchemas, by actor: StaffIdentity, now: Date?,
                              timeZone: TimeZone) throws -> [PreparedFiling] {
        // A document's head is read here, for the plan (an image goes to
        // the confidential tier); a form is planned from its check (which
        // noted whether it looks like an image) and read by the thread that
        // encrypts it, so at most four grouped forms' plaintext is held at
        // once, whatever the group's size.
        var inputs: [(item: CheckedBatch.Item, type: String, schema: FormSchema?, document: (source: FilingSource, head: FilingHead)?)] = []
        for item in items {
            if case .form(let type, let version) = item.kind {
                let schema = try schemas.schema(type, version) { try formSchema(type: type, version: version) }
                inputs.append((item, schema.type, schema, nil))
            } else {
                let input = try filingInput(item, schemas: schemas, progress: { _ in })
                inputs.append((item, input.type, nil, (input.source, try FilingHead(input.source, length: ContentKind.sniffLength))))
            }
        }
        let plans = try read { reader, trusted in
            let signed = trusted.signedState(reader)
            return try inputs.map { input in
                try planFiling(caseNumber: input.item.caseNumber, name: input.item.name, type: input.type, schema: input.schema,
                               confidential: input.item.confidential || (input.document?.head.looksLikeImage
                                   ?? input.item.checkedForm?.looksLikeImage ?? false), by: actor,
                               now: now ?? Date(), timeZone: timeZone, signed: signed)
            }
        }
        // The first failure stops the others: the group is then filed one
        // by one, and what it wrote is removed.
        let stopped = Flag(false)
        let group = try objects.startGroup()
        let outcomes = Parallel.map(Array(zip(inputs, plans)), threads: FileObjectStore.syncThreads) { input, plan in
            let outcome = Result {
                guard !stopped.value else { throw VaultError.invalidInput("the group stopped at an earlier failure") }
                let source: FilingSource, head: FilingHead
                if let document = input.document {
                    (source, head) = document
                } else {
                    // Not more than it was when checked, as grouped: a form
                    // that grew is refused here and filed alone.
                    source = try Self.formSource(input.item, schema: input.schema!, limit: Int(Self.groupedFormLimit))
                    head = try FilingHead(source, length: ContentKind.sniffLength)
                    guard head.looksLikeImage == (input.item.checkedForm?.looksLikeImage ?? false) else {
                        throw VaultError.invalidInput("\(input.item.path) changed since it was checked")
                    }
                }
                return try self.encryptFiling(caseNumber: input.item.caseNumber, name: input.item.name, type: input.type, schema: input.schema,
                                              plan: plan, head: head, source: source, group: group)
            }
            if case .failure = outcome { stopped.value = true }
            return outcome
        }
        let prepared = outcomes.compactMap { try? $0.get() }
        do {
            for outcome in outcomes { _ = try outcome.get() }
            try objects.syncNames(of: prepared.map(\.object.id), in: group)
            return prepared
        } catch {
            for filing in prepared { objects.remove(filing.object.id) }
            throw error
        }
    }

    /// Journals a prepared group (all lines synced once) and commits it in
    /// one transaction (`commitGroup`). On any error nothing is committed
    /// and every object is removed.
    private func commitPrepared(_ items: [CheckedBatch.Item], _ prepared: [PreparedFiling], journal: FilingJournal?,
                                by actor: StaffIdentity, now: Date?) throws -> [VersionInfo] {
        do {
            try journal?.record(zip(items, prepared).map { ($0.row, $1.caseNumber, $1.plan.version, $1.object.id.hex) })
        } catch {
            for filing in prepared { objects.remove(filing.object.id) }
            throw error
        }
        do {
            return try commitGroup(prepared, by: actor, now: now)
        } catch let uncertain as CommitUncertain {
            // Whether the commit reached the disk is not known: the objects
            // stay, orphans at worst for `verify --repair`, and the run
            // stops; the next one asks the signed log, through the journal
            // lines written above, what landed.
            throw uncertain
        } catch {
            for filing in prepared { objects.remove(filing.object.id) }
            throw error
        }
    }

    /// The row of an item a journal shows filed, when the signed log holds
    /// the version the journal names with the object it names, filed by
    /// this member (a line naming another's version, which anyone can see
    /// in the catalog, is not theirs to skip a filing by).
    private func filedEarlier(_ item: CheckedBatch.Item, _ entries: [FilingJournal.Entry], by actor: StaffIdentity) throws -> BatchResult.Row? {
        guard !entries.isEmpty else { return nil }
        return try read { reader, head in
            let signed = head.signedState(reader)
            for entry in entries where entry.caseNumber == item.caseNumber {
                if let version = try signed.version(item.caseNumber, item.name, entry.version), version.objectId == entry.object,
                   version.stamp.filedBy == actor.id {
                    return BatchResult.Row(item: item, version: entry.version, filedNow: false,
                                           tier: Tier(rawValue: version.tier) ?? .confidential, caseStatus: version.stamp.caseStatus)
                }
            }
            return nil
        }
    }

    private func fileItem(_ item: CheckedBatch.Item, journal: FilingJournal?, schemas: BatchSchemas, by actor: StaffIdentity, now: Date?, timeZone: TimeZone,
                          read progress: @escaping (Int64) -> Void) throws -> VersionInfo {
        let beforeCommit: (Int, String) throws -> Void = { version, object in
            try journal?.record(row: item.row, caseNumber: item.caseNumber, version: version, object: object)
        }
        let input = try filingInput(item, schemas: schemas, progress: progress)
        return try fileStream(caseNumber: item.caseNumber, name: item.name, type: input.type, confidential: item.confidential,
                              schema: input.schema, by: actor, now: now, timeZone: timeZone, source: input.source,
                              beforeCommit: beforeCommit)
    }

    /// An item's bytes as a filing source: a document's file as it is read
    /// (reporting bytes read), or a form read into wiped memory, parsed and
    /// validated against its schema unless it is what was checked.
    private func filingInput(_ item: CheckedBatch.Item, schemas: BatchSchemas, progress: @escaping (Int64) -> Void) throws
        -> (source: FilingSource, type: String, schema: FormSchema?) {
        let file = try Self.open(.file(path: item.path))
        switch item.kind {
        case .document(let type):
            var read: Int64 = 0
            let source = FilingSource(read: { buffer in
                let n = try file.read(into: buffer)
                read += Int64(n)
                progress(read)
                return n
            }, rewind: { read = 0; return file.rewind() }, originalPath: item.path)
            return (source, type, nil)
        case .form(let type, let version):
            let schema = try schemas.schema(type, version) { try formSchema(type: type, version: version) }
            return (try Self.formSource(item, schema: schema, file: file), schema.type, schema)
        }
    }

    /// A form item's bytes, read into wiped memory, as a filing source;
    /// validated against `schema` again unless they are what was checked.
    static func formSource(_ item: CheckedBatch.Item, schema: FormSchema, file: FileDescriptor? = nil,
                           limit: Int = maximumFormSize) throws -> FilingSource {
        let (bytes, count) = try readForm(from: try file ?? open(.file(path: item.path)), limit: limit)
        // The same bytes as were checked need no second validation.
        if item.checkedForm != CheckedBatch.CheckedForm(bytes, count: count, schema: schema) {
            try schema.requireValid(try parseForm(bytes, count: count))
        }
        return FilingSource.memory(bytes, count: count, originalPath: item.path)
    }
}

/// The schemas a batch's forms are checked or filed against, each read once
/// per check or run: a form type's schema (newest, or the version asked)
/// when it reached its first form of that type (each filing's event names
/// the schema and keeps its text).
final class BatchSchemas {
    private var byKey: [String: FormSchema] = [:]

    /// Another memory holding the same schemas, for another thread.
    func copy() -> BatchSchemas {
        let copy = BatchSchemas()
        copy.byKey = byKey
        return copy
    }

    func schema(_ type: String, _ version: Int?, load: () throws -> FormSchema) rethrows -> FormSchema {
        let key = type + "\n" + (version.map(String.init) ?? "")
        if let known = byKey[key] { return known }
        let schema = try load()
        byKey[key] = schema
        return schema
    }
}

/// A bulk filing's journal (SECURITY.md §10a): in the user's casevault state
/// folder (the one that keeps checkpoints, private to the user), a file
/// `journals/<vault id>/<batch id>.journal` of one line per filing about to
/// be committed: `row case version object`. It holds no content, no file
/// path and no document name. Each line is synced before the event is
/// appended, so a filing whose event exists is always journaled; a line
/// whose object the signed log does not hold (the run was killed before
/// the event) means nothing. A finished batch's journal is kept, so the
/// same batch run again files nothing unless told (`--again`).
public struct FilingJournal: Sendable {
    struct Entry: Equatable {
        let caseNumber: String
        let version: Int
        let object: String
    }

    public let path: String
    private static let header = "casevault-filing-journal-v1"

    /// The journal of batch `batchID` in vault `vaultID`, under the state
    /// folder `store` names.
    public init(store: CheckpointStore, vaultID: String, batchID: String) {
        path = store.folder + "/journals/" + vaultID + "/" + batchID + ".journal"
    }

    private var folder: String { String(path[..<path.lastIndex(of: "/")!]) }

    public var exists: Bool { FileSystem.exists(path) }

    /// Forgets the batch: the next run files every item again.
    public func discard() {
        FileSystem.remove(path)
    }

    /// Each row's journaled filings. Lines that do not parse (a line cut
    /// short by a kill) are ignored: a journal only ever lets the signed
    /// log confirm a filing, never invents one.
    func entries() throws -> [Int: [Entry]] {
        guard FileSystem.exists(path) else { return [:] }
        // Read only from folders private to this user, and never through a
        // link: a line lets a re-run skip a filing.
        try requirePrivateFolders()
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw VaultError.io("cannot read the filing journal \(path): \(FileSystem.errorText())") }
        let bytes = try FileDescriptor(fd, path: path).readAll(limit: 64 << 20)
        var entries: [Int: [Entry]] = [:]
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            let fields = line.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
            guard fields.count == 5, fields[0] == "filing", let row = Int(fields[1]), let version = Int(fields[3]),
                  fields[4].count == 64, fields[4].allSatisfy(\.isHexDigit) else { continue }
            entries[row, default: []].append(Entry(caseNumber: fields[2], version: version, object: fields[4]))
        }
        return entries
    }

    func record(row: Int, caseNumber: String, version: Int, object: String) throws {
        try record([(row, caseNumber, version, object)])
    }

    /// The state folder, `journals/` and the vault's journal folder must be
    /// this user's and mode 0700.
    private func requirePrivateFolders() throws {
        let parent = String(folder[..<folder.lastIndex(of: "/")!])
        let root = String(parent[..<parent.lastIndex(of: "/")!])
        for private_ in [root, parent, folder] where !FileSystem.isPrivateFolder(private_) {
            throw VaultError.io("the journal folder \(private_) is not private to you (it must be yours and mode 0700)")
        }
    }

    /// Appends the lines and syncs them once.
    func record(_ lines: [(row: Int, caseNumber: String, version: Int, object: String)]) throws {
        if !FileSystem.isDirectory(folder) {
            try FileSystem.makeDirectories(folder, mode: 0o700)
        }
        try requirePrivateFolders()
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.io("cannot write the filing journal \(path): \(FileSystem.errorText())") }
        let file = FileDescriptor(fd, path: path)
        var text = lines.map { "filing \($0.row) \($0.caseNumber) \($0.version) \($0.object)\n" }.joined()
        let isNew = file.regularFileSize == 0
        // A line break first: a write cut short by a kill (or a full disk)
        // may have left a line without its end, which would swallow this
        // run's first line.
        text = (isNew ? Self.header : "") + "\n" + text
        try file.write(Array(text.utf8))
        guard fdatasync(fd) == 0 else { throw VaultError.io("cannot sync the filing journal \(path): \(FileSystem.errorText())") }
        if isNew { try FileSystem.syncDirectory(folder) }
    }
}

/// A bulk filing's groups prepared ahead, on a thread of their own
/// (`Vault.fileBatch`): while group k commits on the caller's thread, the
/// next is planned, encrypted and written (and one more may wait ready:
/// the queue holds one). Its plan reads the signed state before group k
/// commits, which is sound: a group's documents are its own (a batch files
/// one version of a document), and the commit checks every plan against
/// the state it commits to (`checkUnchanged`), so a plan made stale by
/// anyone is refused and its group filed one by one.
final class GroupPrefetch: @unchecked Sendable {
    typealias Prepared = Result<[Vault.PreparedFiling], any Error>

    private let queue = Handoff<Prepared>(capacity: 1)
    /// Signalled when the preparing thread has ended (none was started for no groups).
    private let ended = DispatchSemaphore(value: 0)
    private let discard: ([Vault.PreparedFiling]) -> Void

    init(groups: [[CheckedBatch.Item]], prepare: @escaping ([CheckedBatch.Item]) -> Prepared,
         discard: @escaping ([Vault.PreparedFiling]) -> Void) {
        self.discard = discard
        nonisolated(unsafe) let prepare = prepare
        Thread { [self] in
            for group in groups where !queue.isCancelled {
                let prepared = prepare(group)
                // Refused once stopped: its objects are this thread's to remove.
                guard queue.put(prepared) else {
                    if case .success(let filings) = prepared { self.discard(filings) }
                    break
                }
            }
            queue.finish()
            ended.signal()
        }.start()
    }

    /// The next group, in order (one call per group).
    func next() -> Prepared {
        queue.take() ?? .failure(VaultError.io("a group of the batch was not prepared"))
    }

    /// Stops preparing, waits for the thread, and removes the objects of
    /// every group prepared and never taken.
    func stop() {
        let left = queue.cancel()
        ended.wait()
        for case .success(let filings) in left { discard(filings) }
    }
}
