public import Foundation
internal import CaseVaultArchive
internal import CaseVaultCrypto

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
    public static func verify(at path: String, previous: Checkpoint? = nil) throws -> ExportVerification {
        let (bagName, files) = try read(path)
        var checks: [ExportVerification.Check] = []
        func check(_ title: String, _ passed: Bool, _ detail: String = "") { checks.append(.init(title: title, passed: passed, detail: detail)) }
        func text(_ name: String) -> String? { files[name].map { String(decoding: $0, as: UTF8.self) } }

        // BagIt (RFC 8493): the declaration, the manifests, the tag manifest, the oxum.
        check("bagit.txt declares BagIt 1.0 in UTF-8", files["bagit.txt"] == Array("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".utf8))
        let payload = files.keys.filter { $0.hasPrefix("data/") }.sorted()
        func manifest(_ name: String, _ hash: ([UInt8]) -> [UInt8], covering expected: [String]) {
            guard let body = text(name) else { return check("\(name) is present", false) }
            var listed: [String: String] = [:], problems: [String] = []
            for line in body.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                guard let space = line.firstIndex(of: " "), line[line.index(after: space)...].hasPrefix(" ") else { problems.append("malformed line"); continue }
                let digest = String(line[..<space]), file = String(line[line.index(space, offsetBy: 2)...])
                if listed.updateValue(digest, forKey: file) != nil { problems.append("\(file) listed twice") }
            }
            for file in expected {
                guard let digest = listed.removeValue(forKey: file) else { problems.append("\(file) not listed"); continue }
                if hash(files[file] ?? []).hexString != digest { problems.append("\(file) does not match") }
            }
            problems += listed.keys.sorted().map { "\($0) listed but absent" }
            check("\(name) lists every file with its digest", problems.isEmpty && body.hasSuffix("\n"), problems.prefix(5).joined(separator: "; "))
        }
        manifest("manifest-sha256.txt", { SHA256.hash($0) }, covering: payload)
        manifest("manifest-sha512.txt", { SHA512.hash($0) }, covering: payload)
        manifest("tagmanifest-sha256.txt", { SHA256.hash($0) },
                 covering: ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"].filter { files[$0] != nil })
        let unexpected = files.keys.filter { !$0.hasPrefix("data/") && !["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt",
                                                                          "tagmanifest-sha256.txt"].contains($0) }
        check("no file outside the payload but the tag files", unexpected.isEmpty, unexpected.sorted().joined(separator: ", "))
        var info: [String: String] = [:]
        for line in (text("bag-info.txt") ?? "").split(separator: "\n") {
            if let colon = line.firstIndex(of: ":") { info[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        let oxum = "\(payload.reduce(0) { $0 + (files[$1]?.count ?? 0) }).\(payload.count)"
        check("Payload-Oxum is the payload's bytes and files", info["Payload-Oxum"] == oxum, "bag-info says \(info["Payload-Oxum"] ?? "nothing"), the payload is \(oxum)")
        let vaultID = info["Casevault-Vault-Id"] ?? ""

        // The checkpoint, the events, their signatures and inclusion.
        guard let checkpointText = text("data/checkpoint.txt"), let checkpoint = try? Checkpoint(parsing: checkpointText),
              checkpoint.origin == Checkpoint.origin(vaultID: vaultID) else {
            check("data/checkpoint.txt is a checkpoint of the vault bag-info names", false)
            return ExportVerification(bagName: bagName, vaultId: vaultID, events: 0, checks: checks)
        }
        var events: [Event] = [], keys: [String: SigningPublicKey] = [:], bad: [String] = []
        var lines = (text("data/events.jsonl") ?? "").split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        var previousSeq: Int64 = 0
        var parsed: [(Event, [UInt8], [UInt8])] = []
        for (number, line) in lines.enumerated() {
            guard let json = try? JSONValue(parsing: Array(line.utf8)), case .object(let o) = json, let body = o["body"]?.stringValue,
                  let signatureHex = o["signature"]?.stringValue, let signature = [UInt8](hexString: signatureHex),
                  case .array(let pathItems)? = o["inclusionPath"], let event = try? Event(body: Array(body.utf8)) else {
                bad.append("line \(number + 1) is not an event")
                continue
            }
            let path = pathItems.compactMap { $0.stringValue.flatMap { [UInt8](hexString: $0) } }
            let leaf = LogTree.leafHash(body: Array(body.utf8), signature: signature)
            guard event.seq > previousSeq, event.vault == vaultID, o["seq"]?.integerValue == event.seq, o["leafHash"]?.stringValue == leaf.hexString,
                  path.count == pathItems.count,
                  LogTree.verifyInclusion(leaf: leaf, index: event.seq - 1, size: checkpoint.size, proof: path, root: checkpoint.root) else {
                bad.append("event \(event.seq) is out of order, of another vault, or not in the log the checkpoint commits to")
                continue
            }
            previousSeq = event.seq
            parsed.append((event, Array(body.utf8), signature))
        }
        check("every event is well formed, in order, and in the log the checkpoint commits to (RFC 9162 inclusion)", bad.isEmpty,
              bad.prefix(3).joined(separator: "; "))
        // Signers' keys from the staff additions the bag carries (event 2 signs event 1 too).
        for (event, _, _) in parsed {
            if case .staffAdded(let d) = event.data, let raw = [UInt8](hexString: d.signingPublicKey), let key = try? SigningPublicKey(bytes: raw),
               keys[d.id] == nil {
                keys[d.id] = key
            }
        }
        var unsigned: [String] = []
        for (event, body, signature) in parsed {
            guard let key = keys[event.actor], key.isValidSignature(signature, for: Event.signedMessage(body: body)) else {
                unsigned.append("event \(event.seq) (\(event.type.rawValue) by '\(event.actor)')")
                continue
            }
            events.append(event)
        }
        check("every event is validly signed by its signer's key (from their staff.added in the bag)", unsigned.isEmpty,
              unsigned.prefix(3).joined(separator: "; "))
        let exporter = info["Casevault-Exported-By"] ?? ""
        check("the checkpoint is signed by the exporter, '\(exporter)'",
              keys[exporter].map { checkpoint.isSigned(by: exporter, key: $0, vaultID: vaultID) } ?? false)

        // The auditor's previous checkpoint: the log only grew since.
        if let previous {
            var grew = false
            if let text = text("data/consistency.json"), let json = try? JSONValue(parsing: Array(text.utf8)), case .object(let o) = json,
               o["fromSize"]?.integerValue == previous.size, o["fromRoot"]?.stringValue == previous.root.hexString,
               o["toSize"]?.integerValue == checkpoint.size, o["toRoot"]?.stringValue == checkpoint.root.hexString,
               case .array(let items)? = o["proof"] {
                let proof = items.compactMap { $0.stringValue.flatMap { [UInt8](hexString: $0) } }
                grew = previous.origin == checkpoint.origin && proof.count == items.count
                    && (previous.size == checkpoint.size ? previous.root == checkpoint.root
                        : LogTree.verifyConsistency(from: previous.size, to: checkpoint.size, oldRoot: previous.root, newRoot: checkpoint.root, proof: proof))
            }
            check("the log extends the auditor's previous checkpoint (RFC 9162 consistency)", grew)
        }

        // The controls that come from the events, recomputed: only a whole log says who held what.
        let whole = events.count == Int(checkpoint.size) && events.enumerated().allSatisfy { $0.element.seq == Int64($0.offset + 1) }
        if whole, let controls = text("data/controls.json"), let json = try? JSONValue(parsing: Array(controls.utf8)), case .object(let o) = json,
           case .array(let list)? = o["checks"] {
            var stated: [String: [String]] = [:]
            for item in list {
                if case .object(let c) = item, let id = c["id"]?.stringValue, case .array(let items)? = c["items"] {
                    stated[id] = items.compactMap(\.stringValue)
                }
            }
            let derived = ControlsReport.fromEvents(events)
            check("the controls report's reads, refusals and exports are what the events say",
                  stated["reads-without-grant"] == derived.readsWithoutGrant && stated["refused-reads"] == derived.refused
                      && stated["exports"] == derived.exports)
        }
        return ExportVerification(bagName: bagName, vaultId: vaultID, events: events.count, checks: checks)
    }

    /// The bag's files by path inside it, from an archive (tar or zip) or a folder.
    static func read(_ path: String) throws -> (String, [String: [UInt8]]) {
        var files: [String: [UInt8]] = [:]
        var total: Int64 = 0
        func add(_ name: String, _ bytes: [UInt8]) throws {
            total += Int64(bytes.count)
            guard total <= maximumSize else { throw VaultError.invalidInput("the bag is larger than casevault reads") }
            files[name] = bytes
        }
        if FileSystem.isDirectory(path) {
            let root = URL(fileURLWithPath: path)
            guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey]) else {
                throw VaultError.notFound("cannot read \(path)")
            }
            for case let url as URL in walker {
                let values = try url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey])
                if values.isSymbolicLink == true { throw VaultError.invalidInput("the bag holds a link: \(url.path)") }
                guard values.isRegularFile == true else { continue }
                let name = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1))
                try add(name, Array(try Data(contentsOf: url)))
            }
            return (root.lastPathComponent, files)
        }
        guard FileSystem.isRegularFile(path) else { throw VaultError.notFound("no bag \(path)") }
        let file = try FileSystem.openForReading(path)
        var top: String?
        do {
            let reader = try ArchiveReader(fileDescriptor: file.raw, limits: ArchiveLimits(maxEntries: 100_000, maxEntrySize: maximumSize,
                                                                                             maxTotalSize: maximumSize))
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while let entry = try reader.nextEntry() {
                guard entry.kind == .file else { continue }
                let parts = entry.path.split(separator: "/", maxSplits: 1)
                guard parts.count == 2, top == nil || top == String(parts[0]) else {
                    throw VaultError.invalidInput("the archive holds more than one bag folder, or a file outside it")
                }
                top = String(parts[0])
                var bytes: [UInt8] = []
                while true {
                    let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                    if n == 0 { break }
                    bytes += buffer[0..<n]
                }
                try add(String(parts[1]), bytes)
            }
        } catch let error as ArchiveError {
            throw VaultError.invalidInput("the archive is not one casevault writes: \(error)")
        }
        guard let top else { throw VaultError.invalidInput("the archive holds no bag") }
        return (top, files)
    }
}
