/// The canonical JSON of state records (SECURITY.md §12a, §13), written
/// directly: every command hashes several records and `verify` hashes one
/// or more per event, and going through Codable costs several times more.
/// Members are written in canonical (byte) order by hand; a test holds each
/// writer to the Codable encoding, which stays the definition.
struct CanonicalWriter {
    private(set) var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(512) }

    /// Writes `{"a":…,"b":…}`; `body` must write the members in order.
    mutating func object(_ body: (inout Members) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        var members = Members(writer: self)
        body(&members)
        self = members.writer
        bytes.append(UInt8(ascii: "}"))
    }

    struct Members {
        fileprivate var writer: CanonicalWriter
        private var first = true
        #if DEBUG
        private var last = ""
        #endif

        fileprivate init(writer: CanonicalWriter) { self.writer = writer }

        private mutating func name(_ key: String) {
            #if DEBUG
            precondition(first || last.utf8.lexicographicallyPrecedes(key.utf8), "members out of canonical order: \(last), \(key)")
            last = key
            #endif
            if !first { writer.bytes.append(UInt8(ascii: ",")) }
            first = false
            writer.string(key)
            writer.bytes.append(UInt8(ascii: ":"))
        }

        mutating func string(_ key: String, _ value: String) { name(key); writer.string(value) }
        mutating func string(_ key: String, _ value: String?) { name(key); if let value { writer.string(value) } else { writer.null() } }
        mutating func integer(_ key: String, _ value: Int64) { name(key); writer.integer(value) }
        mutating func integer(_ key: String, _ value: Int) { integer(key, Int64(value)) }
        mutating func integer(_ key: String, _ value: Int?) { name(key); if let value { writer.integer(Int64(value)) } else { writer.null() } }
        mutating func integer(_ key: String, _ value: UInt64) { name(key); writer.bytes.append(contentsOf: String(value).utf8) }
        mutating func null(_ key: String) { name(key); writer.null() }
        mutating func bool(_ key: String, _ value: Bool) { name(key); writer.bytes.append(contentsOf: (value ? "true" : "false").utf8) }
        mutating func strings(_ key: String, _ values: [String]) {
            name(key)
            writer.bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { writer.bytes.append(UInt8(ascii: ",")) }
                writer.string(value)
            }
            writer.bytes.append(UInt8(ascii: "]"))
        }
        mutating func object(_ key: String, _ body: (inout Members) -> Void) { name(key); writer.object(body) }
        mutating func array<T>(_ key: String, _ items: [T], _ body: (T, inout CanonicalWriter) -> Void) {
            name(key)
            writer.bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { writer.bytes.append(UInt8(ascii: ",")) }
                body(item, &writer)
            }
            writer.bytes.append(UInt8(ascii: "]"))
        }
    }

    mutating func null() { bytes.append(contentsOf: "null".utf8) }
    mutating func integer(_ value: Int64) { bytes.append(contentsOf: String(value).utf8) }
    mutating func string(_ text: String) { JSONValue.appendCanonicalString(text, to: &bytes) }
}

/// A record whose canonical JSON is written directly.
protocol CanonicalRecord: Encodable {
    func write(_ members: inout CanonicalWriter.Members)
}

extension CanonicalRecord {
    var canonicalJSON: [UInt8] {
        var writer = CanonicalWriter()
        writer.object { write(&$0) }
        return writer.bytes
    }
}

extension VaultSettingsRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.strings("caseCategories", caseCategories)
        m.string("createdAt", createdAt)
        m.integer("eventSeq", eventSeq)
        m.integer("formatVersion", formatVersion)
        m.bool("insecureTestingKDF", insecureTestingKDF)
        m.object("kdf") { k in
            k.string("algorithm", kdf.algorithm)
            k.integer("memLimit", kdf.memLimit)
            k.integer("opsLimit", kdf.opsLimit)
        }
        m.string("recoveryPublicKey", recoveryPublicKey)
        m.strings("teamTierRoles", teamTierRoles)
        m.string("vaultId", vaultId)
    }
}

extension StaffRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("addedAt", addedAt)
        m.string("addedBy", addedBy)
        m.integer("addedSeq", addedSeq)
        m.string("boxPublicKey", boxPublicKey)
        m.string("id", id)
        m.integer("keysSeq", keysSeq)
        if let left {
            m.object("left") { l in
                l.string("at", left.at)
                l.string("by", left.by)
                l.string("reason", left.reason)
                l.integer("seq", left.seq)
            }
        }
        m.string("name", name)
        m.string("role", role)
        m.string("signingPublicKey", signingPublicKey)
        m.string("wrappedKeysHash", wrappedKeysHash)
    }
}

extension CaseRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("category", category)
        m.integer("clientNumber", clientNumber)
        m.string("confidentialPublicKey", confidentialPublicKey)
        if let imported {
            m.object("imported") { i in
                i.string("at", imported.at)
                i.string("by", imported.by)
                i.integer("fromSeq", imported.fromSeq)
                i.string("fromVault", imported.fromVault)
                i.string("history", imported.history)
                i.integer("seq", imported.seq)
            }
        }
        if let keys {
            m.object("keys") { k in
                k.object("confidential") { keys.confidential.write(&$0) }
                k.object("team") { keys.team.write(&$0) }
            }
        }
        m.string("manager", manager)
        m.string("number", number)
        m.string("openedAt", openedAt)
        m.string("openedBy", openedBy)
        m.integer("openedSeq", openedSeq)
        m.string("status", status)
        m.string("supervisor", supervisor)
        m.string("teamPublicKey", teamPublicKey)
        if let transferred {
            m.object("transferred") { t in
                t.string("at", transferred.at)
                t.string("by", transferred.by)
                t.string("reason", transferred.reason)
                t.integer("seq", transferred.seq)
                t.string("toMember", transferred.toMember)
                t.string("toVault", transferred.toVault)
            }
        }
        m.integer("year", year)
    }
}

extension TierKeys {
    func write(_ m: inout CanonicalWriter.Members) {
        m.integer("generation", generation)
        if let madeBy { m.string("madeBy", madeBy) }
        m.array("older", older) { key, w in
            w.object { o in
                o.integer("generation", key.generation)
                o.string("publicKey", key.publicKey)
            }
        }
    }
}

extension GrantRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("caseNumber", caseNumber)
        if generation != 1 { m.integer("generation", generation) }
        m.integer("grantedSeq", grantedSeq)
        m.string("holder", holder)
        m.string("holderPublicKey", holderPublicKey)
        m.string("sealedKeyHash", sealedKeyHash)
        m.string("tier", tier)
    }
}

extension CaseState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.object("case") { self.case.write(&$0) }
        m.array("grants", grants) { grant, w in w.object { grant.write(&$0) } }
    }
}

extension ClientState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("case", self.case)
    }
}

extension CountState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.integer("count", count)
    }
}

extension CaseCountState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.integer("count", count)
        m.integer("highestClient", highestClient)
    }
}

extension DocumentRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("caseNumber", caseNumber)
        m.bool("confidential", confidential)
        m.bool("isForm", isForm)
        m.integer("latestVersion", latestVersion)
        m.string("name", name)
        m.string("type", type)
    }
}

extension Stamp {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("caseManager", caseManager)
        m.string("caseNumber", caseNumber)
        m.string("caseStatus", caseStatus.rawValue)
        m.string("caseSupervisor", caseSupervisor)
        m.string("date", date)
        m.string("filedBy", filedBy)
        m.string("filedByName", filedByName)
        m.string("report", report)
        m.integer("version", version)
    }
}

extension VersionRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("caseNumber", caseNumber)
        m.integer("ciphertextSize", ciphertextSize)
        m.string("document", document)
        if let fileInfoHash { m.string("fileInfoHash", fileInfoHash) }
        m.integer("filedSeq", filedSeq)
        if keyGeneration != 1 { m.integer("keyGeneration", keyGeneration) }
        m.string("objectId", objectId)
        if let origin {
            m.object("origin") { o in
                o.string("case", origin.case)
                o.string("document", origin.document)
                if let vault = origin.vault { o.string("vault", vault) }
            }
        }
        m.string("schemaBodyHash", schemaBodyHash)
        m.string("schemaId", schemaId)
        m.integer("schemaVersion", schemaVersion)
        m.string("sealedFileKeyHash", sealedFileKeyHash)
        m.integer("size", size)
        m.object("stamp") { stamp.write(&$0) }
        m.string("tier", tier)
        m.string("type", type)
        m.integer("version", version)
    }
}

extension SchemaRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("addedAt", addedAt)
        m.string("addedBy", addedBy)
        m.integer("addedSeq", addedSeq)
        m.string("bodyHash", bodyHash)
        m.string("formType", formType)
        m.string("schemaId", schemaId)
        m.string("title", title)
        m.integer("version", version)
    }
}

extension SchemaTypeState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("type", type)
        m.array("versions", versions) { record, w in w.object { record.write(&$0) } }
    }
}

extension StatusChangeRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("at", at)
        m.string("by", by)
        m.string("caseNumber", caseNumber)
        m.string("from", from)
        m.string("reason", reason)
        m.string("requestedBy", requestedBy)
        m.integer("seq", seq)
        m.string("to", to)
    }
}

extension ClosureRequestRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("approver", approver)
        m.string("at", at)
        m.string("caseNumber", caseNumber)
        m.string("reason", reason)
        m.string("requestedBy", requestedBy)
        m.integer("seq", seq)
    }
}

extension AgedOutExtensionRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("at", at)
        m.string("by", by)
        m.string("caseNumber", caseNumber)
        m.string("reason", reason)
        m.integer("seq", seq)
        m.string("until", until)
    }
}

extension LifecycleState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        if let aoExtension { m.object("aoExtension") { aoExtension.write(&$0) } }
        m.array("changes", changes) { record, w in w.object { record.write(&$0) } }
        if let pendingClosure { m.object("pendingClosure") { pendingClosure.write(&$0) } } else { m.null("pendingClosure") }
    }
}

extension WithdrawalRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("at", at)
        m.string("by", by)
        m.string("caseNumber", caseNumber)
        m.string("document", document)
        m.string("reason", reason)
        m.integer("seq", seq)
        m.integer("version", version)
    }
}

extension WithdrawalState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.array("versions", versions) { record, w in w.object { record.write(&$0) } }
    }
}

extension MoveRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("at", at)
        m.string("by", by)
        m.string("caseNumber", caseNumber)
        m.string("document", document)
        m.string("reason", reason)
        m.integer("seq", seq)
        m.string("toCase", toCase)
        m.string("toDocument", toDocument)
        m.integer("versions", versions)
    }
}

extension MoveState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.array("moves", moves) { record, w in w.object { record.write(&$0) } }
    }
}

extension CaseTagRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("at", at)
        m.string("by", by)
        m.string("caseNumber", caseNumber)
        m.integer("seq", seq)
        m.string("tag", tag)
    }
}

extension SearchKeyRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("holder", holder)
        m.string("holderPublicKey", holderPublicKey)
        m.string("keyCheck", keyCheck)
        m.string("sealedKeyHash", sealedKeyHash)
        m.integer("seq", seq)
    }
}

extension SearchKeyState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.array("holders", holders) { record, w in w.object { record.write(&$0) } }
    }
}

extension ClientIndexRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("caseNumber", caseNumber)
        if let indexHash { m.string("indexHash", indexHash) } else { m.string("index", index) }
        m.integer("seq", seq)
    }
}

extension TagState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.array("tags", tags) { record, w in w.object { record.write(&$0) } }
    }
}

extension ConfidentialTypesRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("at", at)
        m.string("by", by)
        m.integer("seq", seq)
        m.strings("types", types)
    }
}

extension HandoverRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("at", at)
        m.string("by", by)
        m.string("caseNumber", caseNumber)
        m.string("from", from)
        m.string("role", role)
        m.integer("seq", seq)
        m.string("shadowUntil", shadowUntil)
        m.string("to", to)
    }
}

extension HoldRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("at", at)
        m.string("by", by)
        m.string("caseNumber", caseNumber)
        m.string("reason", reason)
        m.integer("seq", seq)
    }
}

extension RetentionPolicyRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("at", at)
        m.string("bodyHash", bodyHash)
        m.string("by", by)
        m.integer("seq", seq)
        m.integer("version", version)
    }
}

extension DisposalApprovalRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.string("at", at)
        m.string("by", by)
        m.string("caseNumber", caseNumber)
        m.integer("policyVersion", policyVersion)
        m.string("reason", reason)
        m.integer("seq", seq)
    }
}

extension DisposalApprovalState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.array("approvals", approvals) { record, w in w.object { record.write(&$0) } }
    }
}

extension DisposalRecord: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.array("approvals", approvals) { seq, w in w.integer(seq) }
        m.string("at", at)
        m.string("by", by)
        m.string("caseNumber", caseNumber)
        m.integer("ciphertextBytes", ciphertextBytes)
        m.integer("documents", documents)
        m.integer("policyVersion", policyVersion)
        m.string("rule", rule)
        m.integer("seq", seq)
        m.integer("versions", versions)
    }
}

extension RetentionPolicyState: CanonicalRecord {
    func write(_ m: inout CanonicalWriter.Members) {
        m.array("versions", versions) { record, w in w.object { record.write(&$0) } }
    }
}
