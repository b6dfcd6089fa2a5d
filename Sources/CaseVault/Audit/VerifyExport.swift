public import Foundation
internal import CaseVaultArchive
internal import CaseVaultCrypto

/// One line of a bag's `events.jsonl`: the event, its signed body and its signature.
struct AuditedLine: Sendable {
    let event: Event
    let body: [UInt8]
    let signature: [UInt8]
}

/// The fields of one line of a bag's `events.jsonl` that `verify-export` checks.
struct EventLine: Equatable {
    var body: [UInt8]
    var signature: String
    var leafHash: String
    var seq: Int64?
    /// Nil when a node is not hex.
    var path: [[UInt8]]?
    /// The readable copies of the body's members (nil when a line in the
    /// general reading leaves them out): they must say what the body does.
    var actor: String? = nil, at: String? = nil, type: String? = nil

    /// Any JSON object with these members (the general reading).
    init?(json line: ArraySlice<UInt8>) {
        guard let json = try? JSONValue(parsing: Array(line)), case .object(let o) = json, let body = o["body"]?.stringValue,
              let signature = o["signature"]?.stringValue, case .array(let items)? = o["inclusionPath"] else { return nil }
        let path = items.compactMap { $0.stringValue.flatMap { [UInt8](hexString: $0) } }
        self.body = Array(body.utf8)
        self.signature = signature
        leafHash = o["leafHash"]?.stringValue ?? ""
        seq = o["seq"]?.integerValue
        self.path = path.count == items.count ? path : nil
        actor = o["actor"].map { $0.stringValue ?? "\u{0}" }
        at = o["at"].map { $0.stringValue ?? "\u{0}" }
        type = o["type"].map { $0.stringValue ?? "\u{0}" }
    }

    /// A line exactly as `export audit` writes it: canonical JSON, members
    /// in order, every node 64 lowercase hex digits. Read in one pass with
    /// no tree (half the bytes of a line are its nodes); nil for any other
    /// form, which the general reading then takes, so both accept the same lines.
    init?(canonical line: ArraySlice<UInt8>) {
        let read: EventLine?? = line.withUnsafeBytes { buffer in
            var parser = JSONParser(bytes: buffer)
            func byte(_ ascii: UInt8) -> Bool {
                guard parser.index < buffer.count, buffer[parser.index] == ascii else { return false }
                parser.index += 1
                return true
            }
            func nibble(_ c: UInt8) -> UInt8? {
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
                default: nil
                }
            }
            do {
                try parser.expect("{\"actor\":")
                let actor = try parser.parseString()
                try parser.expect(",\"at\":")
                let at = try parser.parseString()
                try parser.expect(",\"body\":")
                let body = try parser.parseString()
                try parser.expect(",\"inclusionPath\":[")
                var path: [[UInt8]] = []
                if !byte(UInt8(ascii: "]")) {
                    repeat {
                        let start = parser.index + 1
                        guard byte(UInt8(ascii: "\"")), start + 64 < buffer.count, buffer[start + 64] == UInt8(ascii: "\"") else { return nil }
                        var node = [UInt8](repeating: 0, count: 32)
                        for i in 0..<32 {
                            guard let high = nibble(buffer[start + 2 * i]), let low = nibble(buffer[start + 2 * i + 1]) else { return nil }
                            node[i] = high << 4 | low
                        }
                        path.append(node)
                        parser.index = start + 65
                    } while byte(UInt8(ascii: ","))
                    guard byte(UInt8(ascii: "]")) else { return nil }
                }
                try parser.expect(",\"leafHash\":")
                let leafHash = try parser.parseString()
                try parser.expect(",\"seq\":")
                guard case .integer(let seq) = try parser.parseNumber() else { return nil }
                try parser.expect(",\"signature\":")
                let signature = try parser.parseString()
                try parser.expect(",\"type\":")
                let type = try parser.parseString()
                guard byte(UInt8(ascii: "}")), parser.index == buffer.count else { return nil }
                var line = EventLine(body: Array(body.utf8), signature: signature, leafHash: leafHash, seq: seq, path: path)
                (line.actor, line.at, line.type) = (actor, at, type)
                return line
            } catch {
                return nil
            }
        }
        guard let read = read ?? nil else { return nil }
        self = read
    }

    private init(body: [UInt8], signature: String, leafHash: String, seq: Int64?, path: [[UInt8]]?) {
        self.body = body
        self.signature = signature
        self.leafHash = leafHash
        self.seq = seq
        self.path = path
    }
}

/// What `audit verify-export` found in a casevault audit bag, checked at
/// an auditor's desk without the vault (SECURITY.md §12d).
public struct ExportVerification: Sendable {
    public struct Check: Sendable, Equatable {
        public let title: String
        public let passed: Bool
        public let detail: String
    }
    public let bagName: String
    public let vaultId: String
    public let events: Int
    public let checks: [Check]
    /// What BagIt says should not be, though the bag is valid.
    public var warnings: [String] = []
    public var passed: Bool { checks.allSatisfy(\.passed) }
}

public enum AuditBag {
    /// The largest bag file read (the metadata of a vault is tens of MiB).
    static let maximumSize: Int64 = 2 << 30

    /// Checks a casevault audit bag, as a .tar or .zip file or an extracted
    /// folder: its BagIt manifests and tag manifest, Payload-Oxum, every
    /// event's body, signature (by the key its signer's `staff.added` in the
    /// bag gives) and inclusion path under the bag's checkpoint, the
    /// checkpoint's signature by the exporter, the consistency proof from
    /// `previous` (the auditor's own checkpoint) when given, and the
    /// controls that come from the events, recomputed.
    ///
    /// With `bagItOnly`, only the first check: whether the bag is valid
    /// BagIt 1.0, whoever made it.
    /// `allowUnsigned`: a bag without the exporter's signature (made before
    /// casevault signed bags) is checked, with a warning, rather than refused.
    public static func verify(at path: String, previous: Checkpoint? = nil, bagItOnly: Bool = false,
                              allowUnsigned: Bool = false) throws -> ExportVerification {
        try verify(at: path, previous: previous, bagItOnly: bagItOnly, allowUnsigned: allowUnsigned, chunk: 8_192)
    }

    /// `chunk`: the lines parsed at a time and handed to the replay.
    static func verify(at path: String, previous: Checkpoint?, bagItOnly: Bool, allowUnsigned: Bool = false, chunk: Int) throws -> ExportVerification {
        let bag = try read(path)
        let (bagName, files) = (bag.name, bag.files)
        var checks: [ExportVerification.Check] = []
        var warnings: [String] = []
        func check(_ title: String, _ passed: Bool, _ detail: String = "") { checks.append(.init(title: title, passed: passed, detail: detail)) }
        func text(_ name: String) -> String? { files[name].map { String(decoding: $0, as: UTF8.self) } }

        // BagIt (RFC 8493): complete, and every digest of every manifest matching.
        let verdict = BagIt.validate(files: files, hasPayloadDirectory: bag.hasPayloadDirectory)
        check("the bag is valid BagIt \(verdict.version ?? "") (RFC 8493): complete, every manifest's digests matching", verdict.valid,
              verdict.errors.prefix(5).joined(separator: "; ") + (verdict.errors.count > 5 ? "; and \(verdict.errors.count - 5) more" : ""))
        if bagItOnly {
            return ExportVerification(bagName: bag.name, vaultId: "", events: 0, checks: checks, warnings: verdict.warnings)
        }
        // What a casevault audit bag is besides: BagIt 1.0 in UTF-8, both SHA-2 manifests, a tag
        // manifest over every tag file, and no other file.
        check("bagit.txt declares BagIt 1.0 in UTF-8", files["bagit.txt"] == Array("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".utf8))
        // The signature's tag file where the bag has one (older bags have none).
        let tagFiles = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"]
            + (files[AuditBag.signatureFile] == nil ? [] : [AuditBag.signatureFile])
        let layout = ["manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt", "bag-info.txt"].filter { files[$0] == nil }
        check("the SHA-256 and SHA-512 manifests, the SHA-256 tag manifest and bag-info.txt are present", layout.isEmpty,
              layout.map { "no \($0)" }.joined(separator: ", "))
        let untagged = tagFiles.filter { !(verdict.listed["tagmanifest-sha256.txt"]?.contains($0) ?? false) }
        check("the tag manifest covers every tag file", untagged.isEmpty, untagged.joined(separator: ", "))
        let payload = files.keys.filter { $0.hasPrefix("data/") }
        let unexpected = files.keys.filter { !$0.hasPrefix("data/") && !(tagFiles + ["tagmanifest-sha256.txt"]).contains($0) }
        check("no file outside the payload but the tag files", unexpected.isEmpty, unexpected.sorted().joined(separator: ", "))
        let info = verdict.info
        let oxum = "\(payload.reduce(0) { $0 + (files[$1]?.count ?? 0) }).\(payload.count)"
        check("Payload-Oxum is the payload's bytes and files", info["Payload-Oxum"] == oxum, "bag-info says \(info["Payload-Oxum"] ?? "nothing"), the payload is \(oxum)")
        let vaultID = info["Casevault-Vault-Id"] ?? ""

        // The checkpoint, the events, their signatures and inclusion.
        guard let checkpointText = text("data/checkpoint.txt"), let checkpoint = try? Checkpoint(parsing: checkpointText),
              checkpoint.origin == Checkpoint.origin(vaultID: vaultID) else {
            check("data/checkpoint.txt is a checkpoint of the vault bag-info names", false)
            return ExportVerification(bagName: bagName, vaultId: vaultID, events: 0, checks: checks, warnings: verdict.warnings)
        }
        // Each line is parsed and its inclusion checked on several cores; the order, the signers'
        // keys and then the signatures (again on several cores) follow.
        // Split as bytes: splitting 100,000 lines as Swift Characters cost more than their signatures.
        var lines = (files["data/events.jsonl"] ?? []).split(separator: 0x0a, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        typealias Line = AuditedLine
        enum Read { case line(Line), problem(String) }
        let size = checkpoint.size, root = checkpoint.root
        func parse(_ number: Int, _ line: ArraySlice<UInt8>) -> Read {
            guard let fields = EventLine(canonical: line) ?? EventLine(json: line), let signature = [UInt8](hexString: fields.signature),
                  let event = try? Event(body: fields.body) else {
                return .problem("line \(number + 1) is not an event")
            }
            // What a reader of the file sees beside the body is the body's own.
            guard (fields.actor ?? event.actor) == event.actor, (fields.at ?? event.at) == event.at,
                  (fields.type ?? event.type.rawValue) == event.type.rawValue else {
                return .problem("line \(number + 1): its actor, time or type is not what its signed body says")
            }
            let leaf = LogTree.leafHash(body: fields.body, signature: signature)
            guard event.vault == vaultID, fields.seq == event.seq, fields.leafHash == leaf.hexString, let path = fields.path, event.seq >= 1,
                  LogTree.verifyInclusion(leaf: leaf, index: event.seq - 1, size: size, proof: path, root: root) else {
                return .problem("event \(event.seq) is of another vault, or not in the log the checkpoint commits to")
            }
            return .line(Line(event: event, body: fields.body, signature: signature))
        }
        // A bag that may hold the whole log is replayed (`recompute`) on its own thread, chunk by
        // chunk as the lines are parsed, and on while the signatures are checked; what it finds
        // counts only if every line then proves a validly signed event in place.
        // The replay is one thread's work, the longest of a large bag's: it has a core to itself
        // while it lasts, the parsing and the signatures the other cores (all of them after it).
        // The feed never makes the parsing wait (room for every chunk): what it holds are copies
        // of the parsed lines' values, their bytes shared with `read`, all of which the replay
        // keeps in the end anyway.
        let mayBeWhole = lines.count == Int(size)
        let feed = Handoff<[Line]>(capacity: lines.count / max(1, chunk) + 1)
        let recomputed = Box<[ExportVerification.Check]>([])
        let replayed = DispatchSemaphore(value: 0)
        let replaying = Flag(mayBeWhole)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        func freeCores() -> Int { replaying.value ? max(1, cores - 1) : cores }
        if mayBeWhole {
            let wholeVault = info["Casevault-Cases"] == "all"
            let replay = Thread {
                defer {
                    replaying.value = false
                    replayed.signal()
                }
                recomputed.value = recompute(feed, files: files, vaultID: vaultID, checkpoint: checkpoint, wholeVault: wholeVault)
            }
            replay.stackSize = 8 << 20
            replay.start()
        }
        var read: [Read] = []
        read.reserveCapacity(lines.count)
        for start in stride(from: 0, to: lines.count, by: chunk) {
            let part = Parallel.map(Array(lines[start..<min(lines.count, start + chunk)].enumerated()), cores: freeCores()) { parse(start + $0, $1) }
            read += part
            guard mayBeWhole, !feed.isCancelled else { continue }
            let good = part.compactMap { if case .line(let line) = $0 { line } else { nil } }
            if good.count < part.count || !feed.put(good) { feed.cancel() }
        }
        feed.finish()
        var bad: [String] = [], parsed: [Line] = []
        var previousSeq: Int64 = 0
        for item in read {
            switch item {
            case .problem(let problem): bad.append(problem)
            case .line(let line) where line.event.seq <= previousSeq: bad.append("event \(line.event.seq) is out of order")
            case .line(let line):
                previousSeq = line.event.seq
                parsed.append(line)
            }
        }
        check("every event is well formed, in order, and in the log the checkpoint commits to (RFC 9162 inclusion)", bad.isEmpty,
              bad.prefix(3).joined(separator: "; "))
        // Signers' keys from the staff additions the bag carries (event 2 signs event 1 too).
        var keys: [String: SigningPublicKey] = [:]
        for line in parsed {
            if case .staffAdded(let d) = line.event.data, let raw = [UInt8](hexString: d.signingPublicKey), let key = try? SigningPublicKey(bytes: raw),
               keys[d.id] == nil {
                keys[d.id] = key
            }
        }
        // A chunk at a time, so that the cores the replay leaves when it ends are taken at once.
        var signedBy: [Bool] = []
        signedBy.reserveCapacity(parsed.count)
        for start in stride(from: 0, to: parsed.count, by: chunk) {
            signedBy += Parallel.map(Array(parsed[start..<min(parsed.count, start + chunk)]), cores: freeCores()) { line in
                keys[line.event.actor].map { $0.isValidSignature(line.signature, for: Event.signedMessage(body: line.body)) } ?? false
            }
        }
        // Members who left sign nothing after (§12b), in a partial bag too:
        // the bag carries every staff.left (each validly signed counts).
        var departed: [String: Int64] = [:]
        for (line, signed) in zip(parsed, signedBy) where signed {
            if case .staffLeft(let d) = line.event.data, departed[d.id] == nil { departed[d.id] = line.event.seq }
        }
        var events: [Event] = [], unsigned: [String] = []
        for (line, signed) in zip(parsed, signedBy) {
            guard signed, departed[line.event.actor].map({ line.event.seq < $0 }) ?? true else {
                unsigned.append("event \(line.event.seq) (\(line.event.type.rawValue) by '\(line.event.actor)'\(signed ? ", who had left" : ""))")
                continue
            }
            events.append(line.event)
        }
        check("every event is validly signed by its signer's key (from their staff.added in the bag), none after the signer left", unsigned.isEmpty,
              unsigned.prefix(3).joined(separator: "; "))
        let exporter = info["Casevault-Exported-By"] ?? ""
        check("the checkpoint is signed by the exporter, '\(exporter)', who has not left",
              departed[exporter] == nil && (keys[exporter].map { checkpoint.isSigned(by: exporter, key: $0, vaultID: vaultID) } ?? false))
        // The exporter's signature of the bag's scope and every payload file's digest (bags from
        // casevault 2026-12-06 on); BagIt has already held each file to manifest-sha256.txt.
        let scopeSigned: Bool
        let signedTitle = "the exporter signed the bag's scope (bag-info) and every file's digest"
        if let signatureText = text(AuditBag.signatureFile) {
            // Exactly 128 lower-case hex digits and a line feed.
            let hex = signatureText.hasSuffix("\n") ? String(signatureText.dropLast()) : ""
            let signature = hex.utf8.count == 128 && hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
                ? [UInt8](hexString: hex) : nil
            let statement = try? AuditBag.signedStatement(info: files["bag-info.txt"] ?? [], sha256Manifest: files["manifest-sha256.txt"] ?? [])
            if let signature, let statement, departed[exporter] == nil, let key = keys[exporter] {
                scopeSigned = key.isValidSignature(signature, for: statement)
            } else {
                scopeSigned = false
            }
            check(signedTitle, scopeSigned)
        } else {
            scopeSigned = false
            let why = "the bag has no \(AuditBag.signatureFile): a casevault before 2026-12-06 made it, or its signature was removed"
            if allowUnsigned {
                warnings.append(why + "; its bag-info and any file the events do not prove are only as good as its manifests, which anyone can remake")
            } else {
                check(signedTitle, false, why + " (check an older bag with --allow-unsigned)")
            }
        }
        // The scope is read from bag-info as BagIt reads it; the signature covers its Casevault- lines as
        // written: each must be there once, in one spelling (no CR, no continuation, no other case or spacing
        // of its label), so the two readings agree; and the log size is the checkpoint's.
        let rawInfo = String(decoding: files["bag-info.txt"] ?? [], as: UTF8.self)
        let infoLines = rawInfo.split(separator: "\n", omittingEmptySubsequences: true)
        var infoProblems: [String] = []
        if rawInfo.utf8.contains(0x0d) { infoProblems.append("a carriage return") }
        if infoLines.contains(where: { $0.first == " " || $0.first == "\t" }) { infoProblems.append("a continuation line") }
        for label in AuditBag.signedInfoLabels {
            let named = infoLines.filter { line in
                line.split(separator: ":", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() == label.lowercased() } ?? false
            }
            guard named.count == 1, named[0].hasPrefix(label + ": "), info[label] == String(named[0].dropFirst(label.count + 2)) else {
                infoProblems.append("\(named.count) \(label) line(s)")
                continue
            }
        }
        if info["Casevault-Log-Size"] != String(checkpoint.size) { infoProblems.append("Casevault-Log-Size is not the checkpoint's size, \(checkpoint.size)") }
        check("bag-info.txt names the bag's scope once, as signed, and the checkpoint's size", infoProblems.isEmpty, infoProblems.joined(separator: "; "))

        // Only a whole log says who held what: the events replayed through the vault's own rules, then the
        // controls report and the catalog files recomputed from the replayed state and compared.
        if mayBeWhole { replayed.wait() }
        let whole = mayBeWhole && !feed.isCancelled && bad.isEmpty && unsigned.isEmpty && parsed.count == Int(size)
            && parsed.enumerated().allSatisfy { $0.element.event.seq == Int64($0.offset + 1) }

        // The auditor's previous checkpoint: the log only grew since. From the
        // bag's consistency proof; or, where the bag holds the whole log, from
        // its own leaves (the tree of the first `previous.size` of them).
        if let previous {
            var grew = false, why = ""
            if let text = text("data/consistency.json"), let json = try? JSONValue(parsing: Array(text.utf8)), case .object(let o) = json,
               o["fromSize"]?.integerValue == previous.size, o["fromRoot"]?.stringValue == previous.root.hexString,
               o["toSize"]?.integerValue == checkpoint.size, o["toRoot"]?.stringValue == checkpoint.root.hexString,
               case .array(let items)? = o["proof"] {
                let proof = items.compactMap { $0.stringValue.flatMap { [UInt8](hexString: $0) } }
                grew = previous.origin == checkpoint.origin && proof.count == items.count
                    && (previous.size == checkpoint.size ? previous.root == checkpoint.root
                        : LogTree.verifyConsistency(from: previous.size, to: checkpoint.size, oldRoot: previous.root, newRoot: checkpoint.root, proof: proof))
            } else if previous.origin == checkpoint.origin, previous.size == checkpoint.size {
                grew = previous.root == checkpoint.root
            } else if whole, previous.origin == checkpoint.origin, previous.size >= 1, previous.size < checkpoint.size {
                let leaves = MemoryLogNodes(leaves: parsed.map { LogTree.leafHash(body: $0.body, signature: $0.signature) })
                grew = (try? LogTree.root(leaves, size: previous.size)) == previous.root
            } else {
                why = previous.origin != checkpoint.origin ? "your checkpoint is of another log"
                    : previous.size > checkpoint.size ? "your checkpoint (\(previous.size) events) is newer than the bag's (\(checkpoint.size))"
                    : "the bag holds part of the log and no consistency proof from your checkpoint: export it with --checkpoint FILE"
            }
            check("the log extends the auditor's previous checkpoint (RFC 9162 consistency)", grew,
                  grew || !why.isEmpty ? why : "the log was rewritten since your checkpoint: it does not extend it")
        }

        // A bag whose bag-info says it holds the whole log must hold every event of it.
        let claimsWhole = info["Casevault-Cases"] == "all" && info["Casevault-Since"] == "the beginning"
        if claimsWhole && !whole {
            check("the bag holds every event of the log, as its bag-info says (all cases, from the beginning)", false,
                  "it holds \(lines.count) of the \(size) events its checkpoint commits to")
        }
        if whole {
            checks += recomputed.value
        } else if !claimsWhole {
            // Only the whole log says who held what: a partial bag's catalog files and controls
            // report are the exporter's word, signed (or, in an older bag, not even that).
            warnings.append("this bag holds part of the log (--case or --since): its controls report and catalog files are NOT recomputed "
                            + "(only the whole log says who held what); " + (scopeSigned ? "they are as its exporter signed them"
                                : "and nothing signed binds them or the bag's scope to the vault"))
        }
        return ExportVerification(bagName: bagName, vaultId: vaultID, events: events.count, checks: checks, warnings: verdict.warnings + warnings)
    }

    /// The checks that replay a whole log's events (SECURITY.md §12d): the
    /// replay itself, each check of `data/controls.json`, and each catalog
    /// file when the bag is of every case.
    static func recompute(_ feed: Handoff<[AuditedLine]>, files: [String: [UInt8]], vaultID: String,
                          checkpoint: Checkpoint, wholeVault: Bool) -> [ExportVerification.Check] {
        var checks: [ExportVerification.Check] = []
        var lines: [AuditedLine] = []
        var lastAt: String?
        func check(_ title: String, _ passed: Bool, _ detail: String = "") { checks.append(.init(title: title, passed: passed, detail: detail)) }
        // The blobs the bag carries for the replay, each under its own BLAKE2b-256.
        var blobs: [String: [UInt8]] = [:], misnamed: [String] = []
        for (name, bytes) in files where name.hasPrefix("data/blobs/") {
            let hash = String(name.dropFirst("data/blobs/".count))
            if Blake2b.hash(bytes).hexString == hash { blobs[hash] = bytes } else { misnamed.append(name) }
        }
        check("every blob the bag carries is named by its BLAKE2b-256", misnamed.isEmpty, misnamed.sorted().prefix(3).joined(separator: ", "))
        let replayed: (MemoryCatalogStore, [UInt8])
        // A replay that stops early still takes every chunk, so none is kept for nothing.
        defer { while feed.take() != nil {} }
        do {
            replayed = try Replay.rebuild(audited: {
                guard let next = feed.take() else { return nil }
                lines += next
                return next
            }, blobs: blobs)
        } catch let error as VaultError {
            check("the events replay, under the vault's rules, to the state each of them signs", false, error.message)
            return checks
        } catch {
            check("the events replay, under the vault's rules, to the state each of them signs", false, "\(error)")
            return checks
        }
        // A feed cancelled (a line that is no event in its place) ended the replay early: its result is not used.
        guard !feed.isCancelled else { return [] }
        check("the events replay, under the vault's rules, to the state each of them signs", true)
        let (store, root) = replayed
        lastAt = lines.last?.event.at
        // Freeing the scratch catalog and the events is a core's worth of work for a large bag: done beside, not before, the verdict.
        defer {
            let doomed = (store, lines)
            lines = []
            DispatchQueue.global(qos: .utility).async { withExtendedLifetime(doomed) {} }
        }

        // The controls report: every check the bag states, recomputed as of its day, except the one that needs wrapped keys.
        guard let text = files["data/controls.json"], let json = try? JSONValue(parsing: text), case .object(let o) = json,
              case .array(let list)? = o["checks"], let asOfDay = o["asOf"]?.stringValue, let asOf = Lifecycle.parseDay(asOfDay),
              o["logSize"]?.integerValue == checkpoint.size, o["logRoot"]?.stringValue == checkpoint.root.hexString,
              o["vaultId"]?.stringValue == vaultID else {
            check("data/controls.json is a controls report of the log the checkpoint commits to", false)
            return checks
        }
        // Nothing signs the report's day: it may not be earlier than the
        // log's last event (a day's slack for clocks), so moving it back to
        // hide what fell due since is refused, and the verdict names it.
        let lastDay = lastAt.map { String($0.prefix(10)) } ?? asOfDay
        let earliest = Lifecycle.parseDay(lastDay).map { Lifecycle.day($0.addingTimeInterval(-86_400)) } ?? lastDay
        check("the controls report is as of \(asOfDay), not before the log's last event (\(lastDay))", asOfDay >= earliest)
        // The key derivation's items are taken as stated; everything else in the report is recomputed.
        // (A report without that check differs from the recomputed one, which has it.)
        var kdfItems: [String] = []
        for item in list {
            guard case .object(let c) = item, case .string(let id)? = c["id"], case .array(let items)? = c["items"] else {
                check("data/controls.json is a controls report of the log the checkpoint commits to", false, "a check is malformed")
                return checks
            }
            if id == ControlsReport.keyDerivationCheck { kdfItems = items.compactMap(\.stringValue) }
        }
        let statedKDF = kdfItems
        do {
            // The report and the catalog files, each on a core.
            let reported = Box<Result<ControlsReport, any Error>?>(nil), encoded = Box<Result<[(String, [UInt8])], any Error>?>(nil)
            let events = lines.map(\.event)
            DispatchQueue.concurrentPerform(iterations: 2) { part in
                if part == 0 {
                    reported.value = Result {
                        try store.read { reader in
                            try ControlsReport(signed: SignedState(reader: reader, root: root, checked: false), events: events, asOf: asOf,
                                               vaultID: vaultID, logSize: checkpoint.size, logRoot: checkpoint.root.hexString,
                                               keyDerivation: .stated(statedKDF))
                        }
                    }
                } else {
                    encoded.value = Result {
                        wholeVault ? try store.read { try AuditBag.catalogFiles(SignedState(reader: $0, root: root, checked: false), cases: []) } : []
                    }
                }
            }
            let report = try reported.value!.get(), catalog = try encoded.value!.get()
            // The whole document, verdict, titles and counts too: what a reader of the file sees first is what the events say.
            check("the controls report is what the events say, check by check (all but \(ControlsReport.keyDerivationCheck), recomputed)",
                  report.json == json, Self.controlsDifference(stated: json, recomputed: report.json))
            // A member's key derivation is in their wrapped keys, which no bag carries: taken on the exporter's word.
            check("\(ControlsReport.keyDerivationCheck) is taken on the exporter's word, who says it "
                  + (statedKDF.isEmpty ? "passed" : "FAILED for \(statedKDF.count) member(s)") + " (it needs the wrapped keys, which no bag carries)", true)
            if wholeVault {
                let differ = catalog.filter { files[$0.0] != $0.1 }.map(\.0)
                check("the catalog files are what the events say (recomputed)", differ.isEmpty, differ.joined(separator: ", "))
            }
        } catch {
            check("the controls report is what the events say, check by check", false, "\((error as? VaultError)?.message ?? "\(error)")")
        }
        return checks
    }

    /// Where a bag's controls report departs from the recomputed one, for the verdict.
    static func controlsDifference(stated: JSONValue, recomputed: JSONValue) -> String {
        guard case .object(let theirs) = stated, case .object(let ours) = recomputed else { return "" }
        var differing = Set(theirs.keys).symmetricDifference(ours.keys).sorted()
        for key in ours.keys.sorted() where key != "checks" && theirs[key] != nil && theirs[key] != ours[key] { differing.append(key) }
        guard case .array(let ourChecks)? = ours["checks"], case .array(let theirChecks)? = theirs["checks"] else {
            return "differs in " + (differing + ["checks"]).joined(separator: ", ")
        }
        func id(_ check: JSONValue) -> String {
            if case .object(let o) = check, case .string(let id)? = o["id"] { id } else { "?" }
        }
        if ourChecks.map(id) != theirChecks.map(id) {
            differing.append("its checks are not the report's: \(theirChecks.map(id).joined(separator: ", "))")
        } else {
            differing += zip(ourChecks, theirChecks).filter { $0 != $1 }.map { id($0.0) }
        }
        return "differs in " + differing.joined(separator: ", ")
    }

    /// A bag read into memory: its name (the folder's, or the archive's
    /// top folder), its files by path inside it, and whether it has `data/`.
    struct BagFiles {
        var name = ""
        var files: [String: [UInt8]] = [:]
        var hasPayloadDirectory = false
        var total: Int64 = 0

        mutating func add(_ path: String, _ bytes: [UInt8]) throws {
            total += Int64(bytes.count)
            guard total <= AuditBag.maximumSize else { throw VaultError.invalidInput("the bag is larger than casevault reads") }
            // Paths are compared as Unicode text: two names that differ only in normalisation
            // are one path here, and must not hide a file behind the other.
            guard files.updateValue(bytes, forKey: path) == nil else {
                throw VaultError.invalidInput("the bag holds two files named \(path) (or names that differ only in Unicode normalisation)")
            }
            if path.hasPrefix("data/") { hasPayloadDirectory = true }
        }
    }

    /// The bag's files by path inside it, from an archive (tar or zip) or a folder.
    static func read(_ path: String) throws -> BagFiles {
        var bag = BagFiles()
        if FileSystem.isDirectory(path) {
            let root = URL(fileURLWithPath: path)
            guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey, .fileSizeKey]) else {
                throw VaultError.notFound("cannot read \(path)")
            }
            for case let url as URL in walker {
                let values = try url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey, .fileSizeKey])
                if values.isSymbolicLink == true { throw VaultError.invalidInput("the bag holds a link: \(url.path)") }
                guard values.isRegularFile == true else { continue }
                // Sized before it is read: a sparse file of a terabyte is refused, not read.
                guard bag.total + Int64(values.fileSize ?? 0) <= AuditBag.maximumSize else {
                    throw VaultError.invalidInput("the bag is larger than casevault reads")
                }
                let name = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1))
                try bag.add(name, Array(try Data(contentsOf: url)))
            }
            bag.name = root.lastPathComponent
            bag.hasPayloadDirectory = FileSystem.isDirectory(root.appendingPathComponent("data").path)
            return bag
        }
        guard FileSystem.isRegularFile(path) else { throw VaultError.notFound("no bag \(path)") }
        let file = try FileSystem.openForReading(path)
        var top: String?
        do {
            let reader = try ArchiveReader(fileDescriptor: file.raw, limits: ArchiveLimits(maxEntries: 100_000, maxEntrySize: maximumSize,
                                                                                             maxTotalSize: maximumSize))
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while let entry = try reader.nextEntry() {
                let parts = entry.path.split(separator: "/", maxSplits: 1)
                if entry.kind == .directory, parts.count == 2, parts[1] == "data" || parts[1].hasPrefix("data/") { bag.hasPayloadDirectory = true }
                guard entry.kind == .file else { continue }
                guard parts.count == 2, top == nil || top == String(parts[0]) else {
                    throw VaultError.invalidInput("the archive holds more than one bag folder, or a file outside it")
                }
                top = String(parts[0])
                var bytes: [UInt8] = []
                // Room for what the entry declares (at most 256 MiB, whatever a hostile header says): a large
                // events.jsonl grown by doubling was copied and faulted in twice over, before any other work.
                bytes.reserveCapacity(Int(min(max(entry.declaredSize ?? 0, 0), 256 << 20)))
                while true {
                    let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                    if n == 0 { break }
                    bytes += buffer[0..<n]
                }
                try bag.add(String(parts[1]), bytes)
            }
        } catch let error as ArchiveError {
            throw VaultError.invalidInput("the archive is not one casevault writes: \(error)")
        }
        guard let top else { throw VaultError.invalidInput("the archive holds no bag") }
        bag.name = top
        return bag
    }
}
