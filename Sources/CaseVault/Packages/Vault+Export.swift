public import Foundation
internal import CaseVaultArchive
internal import CaseVaultCrypto

/// How a handover package is protected.
public enum PackageFormat: String, Sendable {
    /// A pax tar in one secretstream whose key is sealed to the recipient
    /// (SECURITY.md §15a); `casevault package open` opens it.
    case sealed
    /// A zip encrypted with WinZip AES-256 (AE-2) under a passphrase; 7-Zip
    /// opens it. ZipCrypto is never used.
    case zipAES256 = "zip-aes256"
}

/// One file a package holds.
public struct PackagedFile: Sendable, Equatable {
    public let path: String
    /// The case the file is of ("" for a file of no case).
    public let caseNumber: String
    /// The document, or nil for the rendered handover form.
    public let document: String?
    /// The document's version; for the rendered handover form, the form's
    /// version when exported, 0 when read back from a package (the
    /// manifest lists it with a description, not a version).
    public let version: Int
    public let size: Int64
    public let sha256: String
}

/// What `export handover` wrote.
public struct ExportReport: Sendable {
    public let path: String
    public let format: PackageFormat
    public let recipient: String
    /// How the event names the package file: BLAKE3-256 in a vault of
    /// format 3 (`b3sum`), BLAKE2b-256 in older ones (`b2sum -l 256`).
    public let hash: ObjectNaming
    /// That hash of the package file, in hex.
    public let digest: String
    public let bytes: Int64
    public let files: [PackagedFile]
    /// Documents left out, and why (the recipient may not read their tier).
    public let leftOut: [(caseNumber: String, document: String, why: String)]
}

/// What `package open` extracted.
public struct OpenedPackage: Sendable {
    public let folder: String
    public let files: [PackagedFile]
}

extension Vault {
    /// The shortest passphrase an AES-256 zip package takes (README, "Handover packages").
    public static let minimumZipPassphraseLength = 16
    /// How many of an export's reads, and of how many bytes in all (one
    /// version at least), are recorded in one transaction.
    static let readsRecordedTogether = (count: 32, bytes: Int64(64 << 20))

    /// Versions of these sizes, in order, as groups of consecutive indices
    /// within `readsRecordedTogether`.
    static func readGroups(sizes: [Int64]) -> [Range<Int>] {
        var groups: [Range<Int>] = []
        var start = 0
        while start < sizes.count {
            var end = start + 1, bytes = sizes[start]
            while end < sizes.count, end - start < readsRecordedTogether.count, bytes + sizes[end] <= readsRecordedTogether.bytes {
                bytes += sizes[end]
                end += 1
            }
            groups.append(start..<end)
            start = end
        }
        return groups
    }

    /// Writes a handover package of `cases` for `recipientID`: per case a
    /// folder named by its label, the current version of every document the
    /// recipient may read (each read a `content.read` by the actor), the
    /// latest handover form rendered under its stamp, and `MANIFEST.json`
    /// (names, versions, stamps, SHA-256 of every file), streamed through
    /// the archive writer into the package, never to disk in clear; then
    /// the signed `package.exported` naming the package's hash (BLAKE3-256
    /// in a vault of format 3, BLAKE2b-256 in older ones).
    public func exportHandover(cases: [String], to recipientID: String, out path: String, zipPassphrase: Passphrase? = nil,
                               by actor: StaffIdentity, now: Date = Date()) throws -> ExportReport {
        try exportHandover(cases: cases, to: recipientID, out: path, zipPassphrase: zipPassphrase, by: actor, now: now, beforeGroup: nil)
    }

    /// `beforeGroup`: called with each group's number (from 0, within its
    /// case) before its reads are prepared (tests: a revocation between two
    /// groups).
    func exportHandover(cases: [String], to recipientID: String, out path: String, zipPassphrase: Passphrase?,
                        by actor: StaffIdentity, now: Date, beforeGroup: ((Int) throws -> Void)?) throws -> ExportReport {
        guard Policy.readingRoles.contains(actor.role) else {
            throw VaultError.accessDenied("\(actor.role.withArticle) cannot read case content, so cannot export it")
        }
        guard !cases.isEmpty else { throw VaultError.invalidInput("name the cases to export with --cases") }
        try refuseInsideVault(path, "write the package somewhere else")
        if let zipPassphrase, zipPassphrase.bytes.count < Self.minimumZipPassphraseLength {
            throw VaultError.invalidInput("a zip package's passphrase must be at least \(Self.minimumZipPassphraseLength) characters")
        }
        var numbers: [String] = []
        for number in try cases.map({ try CaseNumber.parse($0).description }) where !numbers.contains(number) { numbers.append(number) }
        // What goes in, from the signed state.
        struct Planned { let file: CaseFile; let versions: [VersionInfo]; let handoverForm: VersionInfo? }
        var left: [(String, String, String)] = []
        let (recipient, plan): (StaffRecord, [Planned]) = try read { reader, head in
            let signed = head.signedState(reader)
            guard let recipient = try signed.staff(recipientID), let role = Role(rawValue: recipient.role) else {
                throw VaultError.notFound("no staff member with id '\(recipientID)'")
            }
            if let departed = recipient.left { throw VaultError.invalidInput("'\(recipientID)' left the staff on \(departed.at)") }
            guard Policy.readingRoles.contains(role) else { throw VaultError.invalidInput("\(role.withArticle) cannot read case content") }
            var plan: [Planned] = []
            for number in numbers {
                let state = try signed.existingCase(number)
                var versions: [VersionInfo] = []
                var form: VersionInfo?
                for document in try signed.documents(number) {
                    let withdrawn = try signed.withdrawals(number, document.name)
                    guard let current = SignedState.currentVersion(of: document, withdrawn: withdrawn),
                          let record = try signed.version(number, document.name, current) else { continue }
                    guard state.holds(record.tier, GrantHolder.staff(actor.id), generation: record.keyGeneration) else {
                        left.append((number, document.name, "you do not hold its \(record.tier) tier"))
                        continue
                    }
                    guard state.holds(record.tier, GrantHolder.staff(recipientID)) else {
                        left.append((number, document.name, "\(recipientID) does not hold its \(record.tier) tier"))
                        continue
                    }
                    let info = try VersionInfo(record, withdrawal: nil)
                    versions.append(info)
                    if document.isForm, document.type == "handover", (form?.stamp.date ?? "") <= info.stamp.date { form = info }
                }
                plan.append(Planned(file: try caseFile(from: state.case, signed: signed), versions: versions, handoverForm: form))
            }
            return (recipient, plan)
        }
        guard plan.contains(where: { !$0.versions.isEmpty }) else {
            // Said of whoever stands in the way: the exporter, who reads each document to package it, comes first.
            if !left.isEmpty, left.allSatisfy({ $0.2.hasPrefix("you do not hold") }) {
                throw VaultError.accessDenied("'\(actor.id)' holds none of the tiers these cases' documents are in, so cannot read them to package them")
            }
            throw VaultError.invalidInput("'\(recipientID)' may read no document of these cases: grant them the case's tiers first")
        }
        let format: PackageFormat = zipPassphrase == nil ? .sealed : .zipAES256
        var files: [PackagedFile] = []
        // Each case's fields and its entries, the entries' SHA-256 filled in
        // when every file has been hashed (`hashed`: file, case and entry).
        var manifestCases: [(fields: [String: JSONValue], entries: [[String: JSONValue]])] = [], otherFiles: [JSONValue] = []
        var hashed: [(file: Int, caseIndex: Int, entry: Int)] = []
        var packageDigest: [UInt8] = []
        var total: Int64 = 0
        // What can fail before any stage starts: a damaged recipient key.
        let sealedTo = zipPassphrase == nil ? try recipient.boxKey : nil
        // The package's hash as the event, signed in this vault's format, names it.
        let packageHash = ObjectNaming(eventFormat: eventFormat)
        try AtomicFile.write(to: path, replacing: false) { fd in
            // Four stages, each on its own thread (Pipeline), so that they
            // overlap on every core: here, decrypting each version and the
            // tar; the SHA-256 of each file for the manifest; sealing the
            // tar; the hash of the package and writing it, directly to the
            // device where the file system allows (FileWriter), so the
            // fsync at the end has only the tail left. (BLAKE3 hashes a MiB
            // in less time than the device takes to write it: a stage of
            // its own cost more in copies and wake-ups than it overlapped.)
            let file = FileWriter(fd: fd, direct: true)
            let packageHasher = HashingForwarder(hasher: packageHash.hasher(), next: file)
            // The package's bytes as they go to disk from here (sealed, or
            // libarchive's AES zip, whose headers are in clear on disk too):
            // ordinary memory, not locked.
            let writing = Pipeline(consumer: packageHasher, buffers: 4, bufferSize: DirectIO.blockSize, secret: false)
            // Every stage started is stopped on any failure, upstream first
            // (a stage's consumer writes into the next); then the sealer is
            // dropped, so its key state is wiped.
            var started = [writing]
            var done = false
            let output = PackageOutput(next: writing)
            defer {
                if !done { for stage in started.reversed() { stage.cancel() } }
                output.sealer = nil
            }
            // The stages before it hand over 256 KiB at a time, not one 64
            // KiB chunk: a quarter of the wake-ups (a 1 GiB export 4 % faster,
            // and 20 % less system time); 1 MiB locked for each stage.
            let sealer = try sealedTo.map { try SealedPackage.Sealer(to: $0, output: writing.write) }
            output.sealer = sealer
            let pipeline = Pipeline(consumer: output, buffers: 4, bufferSize: 256 << 10)
            started.append(pipeline)
            // The manifest's SHA-256 of each file, on a thread of its own (the
            // slowest step of an export): one stage for the whole export, each
            // file's end marked, two files hashed at a time (FileDigests). The
            // digests are known when the stage has finished, before the manifest.
            let (fileDigests, hashing) = FileDigests.stage()
            started.append(hashing)
            let writer: ArchiveWriter
            do {
                if let zipPassphrase {
                    writer = try zipPassphrase.bytes.withUnsafeBytes { try ArchiveWriter(format: .zipAES256, passphrase: $0, write: pipeline.write) }
                } else {
                    writer = try ArchiveWriter(format: .paxTar, write: pipeline.write)
                }
            } catch let error as ArchiveError { throw VaultError.io("cannot write the package: \(error)") }
            let stamped = Int64(now.timeIntervalSince1970)
            for item in plan {
                let folder = item.file.label
                var others: [JSONValue] = []
                var used = Set<String>()
                func unique(_ given: String, _ ext: String) -> String {
                    // Characters a reader refuses in names (bidirectional overrides) and
                    // what Windows does not take (FileInfo.portableName: `\ : * ? " < > |`,
                    // a trailing dot or space, a device name) become "_", and ".." (the
                    // manifest's paths never hold it) "._". The manifest keeps the real name.
                    var name = FileInfo.portableName(String(String.UnicodeScalarView(given.unicodeScalars.map { scalar in
                        (0x202a...0x202e).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value) ? "_" : scalar
                    })))
                    while name.contains("..") { name = name.replacingOccurrences(of: "..", with: "._") }
                    // Unique as a case-insensitive file system (a USB stick's exFAT)
                    // sees names: "Scan.pdf" and "scan.pdf" are one file there.
                    // exFAT and NTFS compare names upper-cased ("Aydın" and "AYDIN"
                    // are one there): both foldings are taken.
                    var candidate = name + ext, n = 2
                    while used.contains(candidate.lowercased()) || used.contains(candidate.uppercased().lowercased()) {
                        candidate = "\(name) (\(n))\(ext)"
                        n += 1
                    }
                    used.insert(candidate.lowercased())
                    used.insert(candidate.uppercased().lowercased())
                    return folder + "/" + candidate
                }
                try archived { try writer.addDirectory(path: folder, modificationTime: stamped, permissions: 0o700) }
                var listed: [[String: JSONValue]] = []
                // Reads are prepared and recorded a group at a time: one commit
                // and one signing for the group's content.read events, not one
                // per version (an export of many small documents spent most of
                // its time in them). A group's file keys wait in locked memory.
                // A group is also at most 64 MiB, so that a read is authorised
                // at most a moment before its bytes are released (a revocation
                // committed meanwhile stops the next group).
                var groups = Self.readGroups(sizes: item.versions.map(\.size)).enumerated().makeIterator()
                var group: ArraySlice<PreparedRead> = []
                for info in item.versions {
                    if group.isEmpty, let (number, range) = groups.next() {
                        try beforeGroup?(number)
                        group = ArraySlice(try item.versions[range].map {
                            try prepareRead(caseNumber: item.file.number.description, document: $0.document, version: $0.version, by: actor, now: now)
                        })
                        try recordReads(Array(group), by: actor, now: now)
                    }
                    let prepared = group.removeFirst()
                    var entryPath: String?
                    let original = prepared.info.fileInfo
                    func begin(_ head: UnsafeRawBufferPointer) throws {
                        // The original file's extension when it was kept (§11a), else one from the content.
                        // Only inside a sealed package: a zip's entry names are in clear.
                        let kept = format == .sealed ? original?.name.flatMap(FileInfo.safeExtension) : nil
                        let entry = unique(info.document, kept ?? Self.fileExtension(isForm: info.isForm, head: head))
                        entryPath = entry
                        try archived { try writer.beginFile(path: entry, size: info.size, modificationTime: stamped, permissions: 0o600) }
                    }
                    try stream(prepared, by: actor, now: now, recorded: true) { chunk in
                        if entryPath == nil { try begin(chunk) }
                        try hashing.write(chunk)
                        try archived { try writer.write(chunk) }
                    }
                    if entryPath == nil { try begin(UnsafeRawBufferPointer(start: nil, count: 0)) }
                    try archived { try writer.finishEntry() }
                    try hashing.mark()
                    // Its SHA-256 is filled in once the hashing stage has finished.
                    hashed.append((files.count, manifestCases.count, listed.count))
                    files.append(PackagedFile(path: entryPath!, caseNumber: info.caseNumber, document: info.document, version: info.version,
                                              size: info.size, sha256: ""))
                    var entry: [String: JSONValue] = [
                        "path": .string(entryPath!), "document": .string(info.document), "version": .integer(Int64(info.version)),
                        "type": .string(info.type), "tier": .string(info.tier.rawValue), "size": .integer(info.size),
                        "stamp": info.stamp.json]
                    if let original {
                        entry["mediaType"] = .string(original.mediaType)
                        if let name = original.name { entry["originalName"] = .string(name) }
                    }
                    listed.append(entry)
                }
                if let form = item.handoverForm {
                    // Rendered under its stamp: a second read of the form, recorded as any read.
                    let (info, value) = try readForm(caseNumber: form.caseNumber, document: form.document, version: form.version, by: actor, now: now)
                    let text = Array(try renderedForm(value, info: info).utf8)
                    let entry = unique("\(form.document) (rendered)", ".txt")
                    try archived {
                        try writer.beginFile(path: entry, size: Int64(text.count), modificationTime: stamped, permissions: 0o600)
                        try text.withUnsafeBytes { try writer.write($0) }
                        try writer.finishEntry()
                    }
                    let digest = SHA256.hash(text).hexString
                    files.append(PackagedFile(path: entry, caseNumber: form.caseNumber, document: nil, version: form.version,
                                              size: Int64(text.count), sha256: digest))
                    others.append(.object(["path": .string(entry), "size": .integer(Int64(text.count)), "sha256": .string(digest),
                                           "description": .string("\(form.document) v\(form.version) of \(form.caseNumber), rendered under its stamp")]))
                }
                manifestCases.append(([
                    "number": .string(item.file.number.description), "folder": .string(item.file.label),
                    "status": .string(item.file.status.rawValue), "category": .string(item.file.number.category),
                ], listed))
                otherFiles += others
            }
            try hashing.finish()
            let digests = fileDigests.finish()
            guard digests.count == hashed.count else { throw VaultError.io("cannot write the package: \(digests.count) digests for \(hashed.count) files") }
            for ((file, caseIndex, entry), digest) in zip(hashed, digests) {
                let sha256 = digest.hexString
                let packaged = files[file]
                files[file] = PackagedFile(path: packaged.path, caseNumber: packaged.caseNumber, document: packaged.document,
                                           version: packaged.version, size: packaged.size, sha256: sha256)
                manifestCases[caseIndex].entries[entry]["sha256"] = .string(sha256)
            }
            // Schemas/export-manifest.schema.json, kind "handover".
            let manifest = JSONValue.object([
                "format": .string("casevault-export-manifest"), "formatVersion": .integer(1), "kind": .string("handover"),
                "vaultId": .string(config.vaultId), "createdAt": .string(Timestamp.string(from: now)), "createdBy": .string(actor.id),
                "recipient": .object(["staffId": .string(recipient.id), "publicKey": .string(recipient.boxPublicKey)]),
                "contentIncluded": .bool(true), "otherFiles": .array(otherFiles),
                "cases": .array(manifestCases.map { .object($0.fields.merging(["entries": .array($0.entries.map(JSONValue.object))]) { $1 }) }),
            ]).prettyBytes
            try archived {
                try writer.beginFile(path: "MANIFEST.json", size: Int64(manifest.count), modificationTime: stamped, permissions: 0o600)
                try manifest.withUnsafeBytes { try writer.write($0) }
                try writer.finishEntry()
                try writer.finish()
            }
            try pipeline.finish()
            try sealer?.finish()
            try writing.finish()
            done = true
            total = file.size
            packageDigest = packageHasher.hasher.finalize()
        }
        let digestHex = packageDigest.hexString
        do {
            _ = try write { writer, head in
                try Ledger.append([.packageExported(PackageExported(
                    recipient: recipientID, format: format.rawValue, hash: packageHash, digest: digestHex,
                    entries: files.compactMap { file in file.document.map { .init(case: file.caseNumber, document: $0, version: file.version) } }))],
                    by: actor, at: now, vaultID: config.vaultId, head: &head, in: writer)
            }
        } catch {
            FileSystem.remove(path)
            throw error
        }
        return ExportReport(path: path, format: format, recipient: recipientID, hash: packageHash, digest: digestHex, bytes: total, files: files,
                            leftOut: left.map { ($0.0, $0.1, $0.2) })
    }

    /// The tar on its way out, on its pipeline's thread: sealed (for a
    /// sealed package) or as it is (a zip, encrypted by libarchive), into
    /// the stage that hashes and then writes the package.
    private final class PackageOutput: ChunkConsumer, @unchecked Sendable {
        let next: Pipeline
        var sealer: SealedPackage.Sealer?
        init(next: Pipeline) { self.next = next }
        func consume(_ bytes: UnsafeRawBufferPointer) throws {
            if let sealer { try sealer.write(bytes) } else { try next.write(bytes) }
        }
    }

    /// Archive errors as the core's.
    func archived(writing what: String = "the package", _ body: () throws -> Void) throws {
        do { try body() } catch let error as ArchiveError { throw VaultError.io("cannot write \(what): \(error)") }
    }

    /// A name's extension from what a document is: a form is JSON; images
    /// and PDFs by their first bytes; UTF-8 text; anything else `.bin`.
    static func fileExtension(isForm: Bool, head: UnsafeRawBufferPointer) -> String {
        if isForm { return ".json" }
        if let image = ContentKind.imageExtension(head) { return image }
        if head.count >= 4, zip(head.prefix(4), Array("%PDF".utf8)).allSatisfy({ $0 == $1 }) { return ".pdf" }
        // Text when the first 4 KiB are UTF-8 without NUL (a character cut at the end is allowed), checked in place.
        let sample = UnsafeRawBufferPointer(rebasing: head.prefix(4096))
        guard !sample.contains(0) else { return ".bin" }
        for cut in 0...3 where sample.count >= cut {
            var iterator = UnsafeRawBufferPointer(rebasing: sample.dropLast(cut)).makeIterator()
            var decoder = UTF8()
            var valid = true
            decoding: while true {
                switch decoder.decode(&iterator) {
                case .scalarValue: continue
                case .emptyInput: break decoding
                case .error: valid = false; break decoding
                }
            }
            if valid { return ".txt" }
        }
        return ".bin"
    }

    /// Opens a sealed handover package for the member it is sealed to, into
    /// a new folder: every entry is checked as it comes (no absolute path,
    /// `..`, link, device, duplicate, over-size entry), extracted into a
    /// staging folder beside `folder`, and checked against `MANIFEST.json`
    /// (every file listed, each SHA-256 and size right, the recipient this
    /// member); only then is the staging folder renamed to `folder`. Any
    /// failure removes it: nothing is left.
    public func openPackage(at path: String, into folder: String, by actor: StaffIdentity) throws -> OpenedPackage {
        try openPackage(at: path, into: folder, by: actor, limits: ArchiveLimits())
    }

    func openPackage(at path: String, into folder: String, by actor: StaffIdentity, limits: ArchiveLimits) throws -> OpenedPackage {
        guard FileSystem.isRegularFile(path) else { throw VaultError.notFound("no package \(path)") }
        // Plaintext never lands in the vault's folder.
        try refuseInsideVault(folder, "open the package somewhere else")
        // Its header first (what it is, whom it is sealed to; its key is
        // unsealed, no content decrypted), then the whole file's hash against
        // the log, before a byte of content is decrypted or parsed: anyone can
        // seal a package to a public key. The hashing pass copies the bytes
        // (ciphertext) into a private scratch file beside the output, and only
        // that copy, which no one else can change, is decrypted: a package
        // rewritten after its check is never read again (so the copy need not
        // be hashed twice).
        let parent = AtomicFile.parentFolder(of: folder)
        guard FileSystem.isDirectory(parent) else { throw VaultError.notFound("no folder \(parent)") }
        guard !FileSystem.exists(folder) else { throw VaultError.alreadyExists("\(folder) already exists") }
        let file = try FileSystem.openForReading(path)
        _ = try SealedPackage.Opener(with: actor.keys, input: file.read(into:))
        guard file.rewind() else { throw VaultError.io("cannot read \(path) again") }
        // The hashes the log's exports to this member name packages by
        // (BLAKE3-256 from event format 5, BLAKE2b-256 before): each taken
        // in the one pass.
        let exported = try packagesExported(to: actor.id)
        let hashers = Set(exported.map(\.hash)).sorted { $0.rawValue < $1.rawValue }.map { ($0, $0.hasher()) }
        // Read and copied directly to and from the device where the file
        // system allows, as an export writes it (ReadAhead, FileWriter; the
        // bytes are ciphertext, in ordinary memory): through the page cache,
        // copying a 1 GiB package took 4 CPU seconds of the kernel's alone on
        // the benchmark machine. The writing runs on a thread of its own.
        let copy = try FileSystem.createPrivateScratch(in: parent)
        // In a scope of its own, so that its threads' state and buffers are
        // gone before the extraction starts.
        let copied: Int64 = try {
            let package = ReadAhead(fd: file, cachedFirst: true)
            let writing = Pipeline(consumer: FileWriter(fd: copy, direct: true), buffers: 4, bufferSize: DirectIO.blockSize, secret: false)
            var copied: Int64 = 0
            let buffer = AlignedBlock(count: DirectIO.blockSize)
            do {
                while true {
                    let n = try buffer.withUnsafeMutableBytes { try package.read(into: $0) }
                    if n == 0 { break }
                    let bytes = UnsafeRawBufferPointer(start: buffer.start, count: n)
                    for (_, hasher) in hashers { hasher.update(bytes) }
                    try writing.write(bytes)
                    copied += Int64(n)
                }
                try writing.finish()
            } catch {
                writing.cancel()
                throw error
            }
            return copied
        }()
        // The read-ahead has seen the end of the file and its thread has returned.
        try file.closeNow()
        let digests = hashers.map { (hash: $0.0, digest: $0.1.finalize().hexString) }
        guard exported.contains(where: { package in digests.contains { $0 == package } }) else {
            let named = digests.isEmpty ? "" : " (" + digests.map { "\($0.hash.label) \($0.digest)" }.joined(separator: ", ") + ")"
            throw VaultError.integrityFailure("no export signed in this vault's log made this package\(named): it was not exported to you from here, or was altered")
        }
        guard copy.rewind() else { throw VaultError.io("cannot read the copy of \(path)") }
        // A package never holds more than its own size in files.
        var bounded = limits
        bounded.maxTotalSize = min(limits.maxTotalSize, copied)
        let copyReader = ReadAhead(fd: copy)
        return try Self.extractPackage(input: copyReader.read(into:), into: folder, keys: actor.keys, recipientID: actor.id, limits: bounded)
    }

    /// The packages this vault's log says were exported to `recipient`, by
    /// the hash each event names (each event proved included): only a
    /// package with exactly such bytes is opened.
    private func packagesExported(to recipient: String) throws -> [(hash: ObjectNaming, digest: String)] {
        try read { reader, head in
            var packages: [(hash: ObjectNaming, digest: String)] = []
            for record in try reader.events(type: EventType.packageExported.rawValue, actor: nil) where record.seq <= head.size {
                let event = try Trust.trustedEvent(record.seq, range: head.range, reader: reader)
                guard case .packageExported(let data) = event.data, data.recipient == recipient,
                      let (hash, digest) = data.packageHash(format: event.format) else { continue }
                packages.append((hash, digest))
            }
            return packages
        }
    }

    static let openStagingPrefix = ".casevault-open-"

    /// Refuses a place inside the vault's folder for what a command writes
    /// out of it (an opened package's plaintext; a package, a transfer or an
    /// audit export, whose names and metadata are in clear): not the vault's,
    /// so nothing `verify` accounts for or a backup of the vault should carry.
    /// The place as the kernel will resolve it (a link followed by ".."
    /// goes where the link points), and as text.
    func refuseInsideVault(_ place: String, _ advice: String) throws {
        if FileSystem.isInside(FileSystem.absolutePathAsGiven(place), FileSystem.absolutePath(self.path))
            || FileSystem.isInside(FileSystem.absolutePath(place), FileSystem.absolutePath(self.path)) {
            throw VaultError.invalidInput("\(place) is inside the vault folder; \(advice)")
        }
    }

    /// `package open` without a vault: what the fuzz target drives
    /// (Fuzz/, scripts/fuzz.sh) with arbitrary bytes.
    /// Its provenance is the caller's to check first (`openPackage` does,
    /// on the private copy it then hands in).
    static func extractPackage(input: @escaping (UnsafeMutableRawBufferPointer) throws -> Int, into folder: String, keys: any Unsealer,
                               recipientID: String, limits: ArchiveLimits) throws -> OpenedPackage {
        guard !FileSystem.exists(folder) else { throw VaultError.alreadyExists("\(folder) already exists") }
        let parent = AtomicFile.parentFolder(of: folder)
        guard FileSystem.isDirectory(parent) else { throw VaultError.notFound("no folder \(parent)") }
        // The files are written into a hidden folder beside `folder`, renamed
        // into place once every one is checked. A run killed part-way leaves
        // that folder, plaintext: the next run here removes it.
        LockedScratch.removeAbandoned(in: parent, prefix: Self.openStagingPrefix)
        let scratch = try LockedScratch(in: parent, prefix: Self.openStagingPrefix)
        defer { scratch.release() }
        let staging = scratch.folder
        do {
            let opener = try SealedPackage.Opener(with: keys, input: input)
            var extracted: [String: (sha256: String, size: Int64)] = [:]
            var manifestBytes: [UInt8]?
            do {
                let reader = try ArchiveReader(limits: limits, read: opener.read(into:))
                // Each file is read into this block and written from it whole,
                // directly to the device where the file system allows (page-
                // aligned: SecureBytes of a multiple of the page size), as a
                // retrieval writes (FileWriter); the last piece of a file through
                // the page cache.
                let buffer = SecureBytes(count: DirectIO.blockSize)
                // Each file's SHA-256 on a thread of its own, two files at a
                // time, as an export takes them (FileDigests); compared with
                // the manifest once every file is out.
                let (fileDigests, hashing) = FileDigests.stage()
                var hashingDone = false
                defer { if !hashingDone { hashing.cancel() } }
                var hashedFiles: [(path: String, size: Int64)] = []
                while let entry = try reader.nextEntry() {
                    let target = staging + "/" + entry.path
                    switch entry.kind {
                    case .directory:
                        try FileSystem.makeDirectories(target)
                    case .file:
                        try FileSystem.makeDirectories(AtomicFile.parentFolder(of: target))
                        let out: FileDescriptor
                        do { out = try FileSystem.createExclusive(target) } catch VaultError.alreadyExists {
                            // The reader let no name through twice: this file system
                            // took two of them for one (it ignores case, or folds Unicode).
                            throw VaultError.invalidInput("'\(entry.path)' and another name in the package are one name on this file system (it ignores case): open the package on another disk")
                        }
                        let writer = FileWriter(fd: out, direct: true)
                        var size: Int64 = 0
                        var keep: [UInt8]? = entry.path == "MANIFEST.json" ? [] : nil
                        var filled = 0, ended = false
                        while !ended {
                            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
                            ended = n == 0
                            try buffer.withUnsafeBytes { block in
                                let bytes = UnsafeRawBufferPointer(rebasing: block[filled..<filled + n])
                                try hashing.write(bytes)
                                if keep != nil {
                                    guard keep!.count + n <= Self.maximumFormSize else { throw VaultError.invalidInput("the package's manifest is too large") }
                                    keep!.append(contentsOf: bytes)
                                }
                                filled += n
                                if filled == block.count || (ended && filled > 0) {
                                    try writer.consume(UnsafeRawBufferPointer(rebasing: block[0..<filled]))
                                    filled = 0
                                }
                            }
                            size += Int64(n)
                        }
                        try out.sync()
                        try out.closeNow()
                        try hashing.mark()
                        hashedFiles.append((entry.path, size))
                        if let keep { manifestBytes = keep }
                    }
                }
                // The tar ends before the stream does (its last blocks are
                // padding): read to the stream's end, so a missing final chunk
                // or bytes after it are refused, and the padding must be zeros.
                let rest = SecureBytes(count: 64 * 1024)
                while true {
                    let n = try rest.withUnsafeMutableBytes { try opener.read(into: $0) }
                    if n == 0 { break }
                    guard rest.withUnsafeBytes({ UnsafeRawBufferPointer(rebasing: $0[0..<n]).allSatisfy { $0 == 0 } }) else {
                        throw VaultError.invalidInput("the package has data after the end of its archive")
                    }
                }
                try hashing.finish()
                hashingDone = true
                let digests = fileDigests.finish()
                guard digests.count == hashedFiles.count else { throw VaultError.io("\(digests.count) digests for \(hashedFiles.count) files") }
                for (file, digest) in zip(hashedFiles, digests) { extracted[file.path] = (digest.hexString, file.size) }
            } catch let error as ArchiveError {
                throw VaultError.invalidInput("the package holds what casevault never writes: \(error)")
            }
            // The manifest must account for every file, and every file for it.
            guard let manifestBytes, let manifest = try? JSONValue(parsing: manifestBytes), case .object(let top) = manifest,
                  top["format"] == .string("casevault-export-manifest"), top["kind"] == .string("handover"),
                  case .array(let cases)? = top["cases"] else {
                throw VaultError.invalidInput("the package has no valid MANIFEST.json")
            }
            guard case .object(let recipient)? = top["recipient"], recipient["staffId"] == .string(recipientID),
                  recipient["publicKey"] == .string(keys.boxPublicKey.bytes.hexString) else {
                throw VaultError.invalidInput("the package's manifest names another recipient")
            }
            var files: [PackagedFile] = []
            var listed = Set<String>(["MANIFEST.json"])
            func check(_ entry: JSONValue, caseNumber: String) throws {
                guard case .object(let e) = entry, case .string(let entryPath)? = e["path"], case .string(let sha)? = e["sha256"],
                      case .integer(let size)? = e["size"] else {
                    throw VaultError.invalidInput("the package's manifest is malformed")
                }
                guard let got = extracted[entryPath], got.sha256 == sha, got.size == size else {
                    throw VaultError.integrityFailure("'\(entryPath)' is missing from the package or differs from its manifest")
                }
                guard listed.insert(entryPath).inserted else { throw VaultError.invalidInput("the package's manifest lists '\(entryPath)' twice") }
                var document: String?, version = 0
                if case .string(let name)? = e["document"] { document = name }
                if case .integer(let number)? = e["version"] { version = Int(number) }
                files.append(PackagedFile(path: entryPath, caseNumber: caseNumber, document: document, version: version, size: size, sha256: sha))
            }
            var caseByFolder: [String: String] = [:]
            for item in cases {
                guard case .object(let c) = item, case .string(let number)? = c["number"], case .array(let entries)? = c["entries"] else {
                    throw VaultError.invalidInput("the package's manifest is malformed")
                }
                if case .string(let folder)? = c["folder"], caseByFolder.updateValue(number, forKey: folder) != nil {
                    throw VaultError.invalidInput("the package's manifest is malformed: two cases in one folder")
                }
                for entry in entries { try check(entry, caseNumber: number) }
            }
            if case .array(let others)? = top["otherFiles"] {
                // A rendered handover form is its case's, as the folder it lies in says.
                for entry in others {
                    // (`<label>/<name>`: two parts, neither empty; anything else is of no case.)
                    let parts = entry["path"]?.stringValue?.split(separator: "/", omittingEmptySubsequences: false) ?? []
                    try check(entry, caseNumber: parts.count == 2 && !parts[1].isEmpty ? caseByFolder[String(parts[0])] ?? "" : "")
                }
            }
            if let stray = extracted.keys.sorted().first(where: { !listed.contains($0) }) {
                throw VaultError.integrityFailure("'\(stray)' is in the package but not in its manifest")
            }
            // Never over something made at `folder` since it was checked.
            try FileSystem.renameNoReplace(staging, to: folder)
            do { try FileSystem.syncDirectory(parent) } catch {
                // Not durable: nothing is left rather than a folder that may not last.
                FileSystem.removeTree(folder)
                throw error
            }
            return OpenedPackage(folder: folder, files: files)
        } catch {
            FileSystem.removeTree(staging)
            throw error
        }
    }
}
