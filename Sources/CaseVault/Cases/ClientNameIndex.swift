internal import CaseVaultCrypto
import Foundation

/// Finding a case by its client's name without keeping the name
/// (SECURITY.md §12e). A name becomes a few *keys*: the phonetic skeleton
/// of each part (exact keys), and for skeletons of four letters or more the
/// skeleton less one letter (deletion keys), so a slip of one letter still
/// meets. Each key becomes a token, a keyed BLAKE2b under the vault's
/// search key and the case number, so equal names in two cases give
/// unrelated tokens. A case's index is always `slots` tokens: the name's,
/// then padding derived from the key and the case (so naming the same name
/// again gives the same index), sorted.
enum ClientNameIndex {
    static let slots = 48
    static let tokenBytes = 8
    static let indexBytes = slots * tokenBytes
    /// Since v18 an index is stored as a blob of `saltBytes` random bytes,
    /// then the index: the index of a name is the same every time, and the
    /// signed log keeps the blob's hash after the blob is erased, so the
    /// salt is what keeps a search-key holder from testing a guess against
    /// that hash (SECURITY.md §12e).
    static let saltBytes = 16
    static let blobBytes = saltBytes + indexBytes

    /// A new blob for `index`, under a fresh salt.
    static func blob(_ index: [UInt8]) -> [UInt8] { randomBytes(count: saltBytes) + index }

    /// The index a blob holds, if it is one: the salt, then a well-formed index.
    static func index(ofBlob blob: [UInt8]) -> [UInt8]? {
        guard blob.count == blobBytes else { return nil }
        let index = Array(blob[saltBytes...])
        return isWellFormed(index) ? index : nil
    }
    static let maxNameBytes = 512
    static let searchKeyBytes = 32
    /// `crypto_box_seal` of the key: 32 + 48 bytes.
    static let sealedKeyBytes = 80

    /// The key's check, the same in every grant: the first 16 bytes of
    /// BLAKE2b keyed with it over `casevault-search-key-check-v1`.
    static func keyCheck(_ searchKey: SecureBytes) -> String {
        Blake2b.keyedHash(Array("casevault-search-key-check-v1".utf8), key: searchKey, length: 16).hexString
    }
    /// A skeleton shorter than this stands for its part only when the part
    /// itself is that long: "Li" and "Wu" are kept as written.
    static let shortestSkeleton = 2
    /// Skeletons this long or longer also give their one-letter deletions.
    static let deletionsFrom = 4

    /// What a key is: the skeleton of a part (or a short part itself), or
    /// one of its deletions.
    enum Kind: String {
        case exact = "s"
        case deletion = "d"
        case padding = "p"
    }

    struct Key: Hashable {
        let kind: Kind
        let text: String
    }

    // MARK: Normalising

    /// The name's parts: compatibility-decomposed, lower-cased (final
    /// sigma as sigma), marks and format characters (ZWNJ, ZWJ) dropped,
    /// Arabic letter variants folded; letters (L*) and numbers (N*) kept,
    /// an apostrophe joins, anything else separates.
    static func parts(_ name: String) -> [String] {
        var folded = ""
        for scalar in name.decomposedStringWithCompatibilityMapping.lowercased().unicodeScalars {
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark, .format:
                continue
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .decimalNumber, .letterNumber, .otherNumber:
                if scalar == "\u{0640}" { continue }  // tatweel (Lm): a stretch, not a letter
                folded.unicodeScalars.append(arabicFolding[scalar] ?? (scalar == "\u{03C2}" ? "\u{03C3}" : scalar))
            default:
                if scalar == "'" || scalar == "\u{2019}" || scalar == "`" { continue }  // D'Souza, N'Golo: an apostrophe joins
                folded.unicodeScalars.append(" ")
            }
        }
        return folded.split(separator: " ").map(String.init)
    }

    /// Alef with hamza or madda to bare alef, teh marbuta to heh, alef
    /// maksura to yeh, Persian yeh and keheh to Arabic yeh and kaf.
    private static let arabicFolding: [Unicode.Scalar: Unicode.Scalar] = [
        "\u{0623}": "\u{0627}", "\u{0625}": "\u{0627}", "\u{0622}": "\u{0627}", "\u{0671}": "\u{0627}",
        "\u{0629}": "\u{0647}", "\u{0649}": "\u{064A}", "\u{06CC}": "\u{064A}", "\u{06A9}": "\u{0643}",
    ]

    /// A Latin part's consonant skeleton, after the spellings that vary
    /// most when names are written in Latin letters from Arabic, Somali,
    /// Tigrinya, Dari, Pashto or Swahili: vowels (and y inside a word)
    /// dropped after the first letter, an opening vowel written `a`,
    /// digraphs and interchangeable letters folded, doubled letters and a
    /// final `h` dropped. "Mohammed", "Muhammad" and "Mohamed" all give
    /// `mhmd`; "Yusuf" and "Youssef" `ysf`; "Abdullahi" and "Abdulahi"
    /// `abdl`. Parts in other scripts keep their letters, with the Arabic
    /// variants folded and doubled letters dropped.
    static func skeleton(_ part: String) -> String {
        var letters = Array(part.unicodeScalars)
        // Digraphs first.
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < letters.count {
            let c = letters[i]
            let next: Unicode.Scalar? = i + 1 < letters.count ? letters[i + 1] : nil
            if next == "h", let folded = digraphs[c] {
                out.append(folded); i += 2; continue
            }
            if c == "c", next == "k" { out.append("k"); i += 2; continue }
            out.append(singles[c] ?? c)
            i += 1
        }
        letters = out
        guard let first = letters.first else { return "" }
        let vowels: Set<Unicode.Scalar> = ["a", "e", "i", "o", "u"]
        var skeleton: [Unicode.Scalar] = [vowels.contains(first) ? "a" : first]
        for c in letters.dropFirst() where !vowels.contains(c) && c != "y" {
            if c != skeleton.last { skeleton.append(c) }
        }
        if skeleton.count > 1, skeleton.last == "h" { skeleton.removeLast() }
        var text = ""
        text.unicodeScalars.append(contentsOf: skeleton)
        return text
    }

    private static let digraphs: [Unicode.Scalar: Unicode.Scalar] = [
        "p": "f", "g": "g", "k": "k", "t": "t", "d": "d", "s": "s", "c": "s", "z": "s",
    ]
    private static let singles: [Unicode.Scalar: Unicode.Scalar] = [
        "c": "k", "q": "k", "z": "s", "v": "w", "x": "s",
    ]

    /// The keys of a name, part by part without repeats: the exact key of
    /// each part (its skeleton, or the part itself when the skeleton is
    /// shorter than `shortestSkeleton` letters and the part is not), then,
    /// for an exact key of `deletionsFrom` letters or more, each of its
    /// one-letter deletions.
    static func keys(ofName name: String) -> [Key] {
        var all: [Key] = [], seen = Set<Key>()
        for part in parts(name) { for key in keys(ofPart: part) where seen.insert(key).inserted { all.append(key) } }
        return all
    }

    static func exactKey(ofPart part: String) -> String? {
        let skeleton = skeleton(part)
        if skeleton.unicodeScalars.count >= shortestSkeleton { return skeleton }
        return part.unicodeScalars.count >= shortestSkeleton ? part : nil
    }

    static func deletions(of text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count >= deletionsFrom else { return [] }
        var out: [String] = []
        for i in scalars.indices {
            var shorter = scalars
            shorter.remove(at: i)
            var text = ""
            text.unicodeScalars.append(contentsOf: shorter)
            if !out.contains(text) { out.append(text) }
        }
        return out
    }

    static func keys(ofPart part: String) -> [Key] {
        guard let exact = exactKey(ofPart: part) else { return [] }
        return [Key(kind: .exact, text: exact)] + deletions(of: exact).map { Key(kind: .deletion, text: $0) }
    }

    // MARK: Tokens

    /// A key's token in one case: the first `tokenBytes` of BLAKE2b (16-byte
    /// output) keyed with the search key over
    /// `casevault-client-name-v1\n<case>\n<kind>:<key>`.
    static func token(_ key: Key, caseNumber: String, searchKey: SecureBytes) -> [UInt8] {
        let message = Array("casevault-client-name-v1\n\(caseNumber)\n\(key.kind.rawValue):\(key.text)".utf8)
        return Array(Blake2b.keyedHash(message, key: searchKey, length: 16).prefix(tokenBytes))
    }

    /// A case's index: the name's tokens (as many as fit), then padding
    /// tokens `p:0`, `p:1`, … until there are `slots` distinct, sorted.
    /// Also says how many of the name's keys did not fit.
    static func index(of name: String, caseNumber: String, searchKey: SecureBytes) -> (index: [UInt8], dropped: Int) {
        var tokens = Set<[UInt8]>()
        var dropped = 0
        for key in keys(ofName: name) {
            if tokens.count < slots { tokens.insert(token(key, caseNumber: caseNumber, searchKey: searchKey)) } else { dropped += 1 }
        }
        var padding = 0
        while tokens.count < slots {
            tokens.insert(token(Key(kind: .padding, text: "\(padding)"), caseNumber: caseNumber, searchKey: searchKey))
            padding += 1
        }
        return (tokens.sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 }, dropped)
    }

    /// Whether stored index bytes are well formed: `slots` tokens, strictly ascending.
    static func isWellFormed(_ index: [UInt8]) -> Bool {
        guard index.count == indexBytes else { return false }
        var previous: ArraySlice<UInt8>?
        for start in stride(from: 0, to: indexBytes, by: tokenBytes) {
            let token = index[start..<start + tokenBytes]
            if let previous, !previous.lexicographicallyPrecedes(token) { return false }
            previous = token
        }
        return true
    }

    /// How well a case's index meets a query (each part's exact key): for
    /// each part, 2 when its exact token is there ("as spelt"), 1 when it
    /// meets only a letter away — its deletion token is there (the part is
    /// the client's less one letter), or an exact or deletion token of one
    /// of its own deletions is (one letter more, or one changed) — and nil
    /// when some part meets nothing (every part must meet).
    static func score(query: [String], caseNumber: String, index: [UInt8], searchKey: SecureBytes) -> Int? {
        var stored = Set<UInt64>()
        stored.reserveCapacity(slots)
        for start in stride(from: 0, to: index.count, by: tokenBytes) {
            stored.insert(index[start..<start + tokenBytes].reduce(0) { $0 << 8 | UInt64($1) })
        }
        func present(_ kind: Kind, _ text: String) -> Bool {
            stored.contains(token(Key(kind: kind, text: text), caseNumber: caseNumber, searchKey: searchKey).reduce(0) { $0 << 8 | UInt64($1) })
        }
        var score = 0
        for exact in query {
            if present(.exact, exact) {
                score += 2
            } else if present(.deletion, exact)
                        || deletions(of: exact).contains(where: { present(.exact, $0) || present(.deletion, $0) }) {
                score += 1
            } else {
                return nil
            }
        }
        return score
    }

    /// A query's parts, as their exact keys; parts too short to index are left out.
    static func query(_ name: String) -> [String] {
        var seen = Set<String>()
        return parts(name).compactMap(exactKey(ofPart:)).filter { seen.insert($0).inserted }
    }
}
