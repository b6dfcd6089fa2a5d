internal import CaseVaultCrypto
import Foundation

/// Finding a case by its client's name without keeping the name
/// (SECURITY.md §12e). A name becomes a few *keys* (the phonetic
/// skeleton of each part, and for longer parts the skeleton less one
/// letter, so a slip of one letter still meets); each key becomes a token,
/// a keyed BLAKE2b under the vault's search key and the case number, so
/// equal names in two cases give unrelated tokens. A case's index is
/// always `slots` tokens: the name's, then random ones, sorted.
enum ClientNameIndex {
    static let slots = 48
    static let tokenBytes = 8
    static let indexBytes = slots * tokenBytes
    static let maxNameBytes = 512
    static let searchKeyBytes = 32
    /// Parts shorter than this (after their skeleton) are not indexed alone:
    /// "al", "bin" match too much to find anyone by.
    static let shortestSkeleton = 2
    /// Skeletons this long or longer also give their one-letter deletions.
    static let deletionsFrom = 4

    // MARK: Normalising

    /// The name's parts: compatibility-decomposed, marks dropped,
    /// case-folded, Arabic letter variants folded; letters and digits
    /// kept, anything else a separator.
    static func parts(_ name: String) -> [String] {
        var folded = ""
        for scalar in name.decomposedStringWithCompatibilityMapping.lowercased().unicodeScalars {
            let properties = scalar.properties
            if properties.generalCategory == .nonspacingMark || properties.generalCategory == .spacingMark
                || properties.generalCategory == .enclosingMark || scalar == "\u{0640}" /* tatweel */ {
                continue
            }
            if let arabic = arabicFolding[scalar] {
                folded.unicodeScalars.append(arabic)
            } else if properties.isAlphabetic || properties.numericType != nil {
                folded.unicodeScalars.append(scalar)
            } else if scalar == "'" || scalar == "\u{2019}" || scalar == "`" {
                continue  // D'Souza, N'Golo: an apostrophe joins
            } else {
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
    /// `abdlh`. Parts in other scripts keep their letters, with the Arabic
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

    /// The keys of a name: each part's skeleton, and for skeletons of
    /// `deletionsFrom` letters or more each one-letter deletion, in order,
    /// without repeats.
    static func keys(ofName name: String) -> [String] {
        var all: [String] = [], seen = Set<String>()
        for part in parts(name) { for key in keys(ofPart: part) where seen.insert(key).inserted { all.append(key) } }
        return all
    }

    static func keys(ofPart part: String) -> [String] {
        let skeleton = skeleton(part)
        guard skeleton.unicodeScalars.count >= shortestSkeleton else { return [] }
        var keys = [skeleton]
        let scalars = Array(skeleton.unicodeScalars)
        if scalars.count >= deletionsFrom {
            for i in scalars.indices {
                var shorter = scalars
                shorter.remove(at: i)
                var text = ""
                text.unicodeScalars.append(contentsOf: shorter)
                if !keys.contains(text) { keys.append(text) }
            }
        }
        return keys
    }

    // MARK: Tokens

    /// A key's token in one case: the first `tokenBytes` of BLAKE2b keyed
    /// with the search key over `casevault-client-name-v1\n<case>\n<key>`.
    static func token(_ key: String, caseNumber: String, searchKey: SecureBytes) -> [UInt8] {
        let message = Array("casevault-client-name-v1\n\(caseNumber)\n\(key)".utf8)
        return Blake2b.keyedHash(message, key: searchKey, length: 16).prefix(tokenBytes).map { $0 }
    }

    /// A case's index: the name's tokens (as many as fit), then random
    /// ones, sorted ascending, no two equal. Also says how many of the
    /// name's keys did not fit.
    static func index(of name: String, caseNumber: String, searchKey: SecureBytes) -> (index: [UInt8], dropped: Int) {
        let keys = keys(ofName: name)
        var tokens = Set<[UInt8]>()
        var dropped = 0
        for key in keys {
            if tokens.count < slots { tokens.insert(token(key, caseNumber: caseNumber, searchKey: searchKey)) } else { dropped += 1 }
        }
        while tokens.count < slots { tokens.insert(randomBytes(count: tokenBytes)) }
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

    /// How well a case's index meets a query: for each query part, 2 when
    /// its skeleton's token is there, 1 when only one of its deletions' is,
    /// and nil when some part meets nothing (every part must meet).
    static func score(query: [[String]], caseNumber: String, index: [UInt8], searchKey: SecureBytes) -> Int? {
        var stored = Set<UInt64>()
        stored.reserveCapacity(slots)
        for start in stride(from: 0, to: index.count, by: tokenBytes) {
            stored.insert(index[start..<start + tokenBytes].reduce(0) { $0 << 8 | UInt64($1) })
        }
        func present(_ key: String) -> Bool {
            stored.contains(token(key, caseNumber: caseNumber, searchKey: searchKey).reduce(0) { $0 << 8 | UInt64($1) })
        }
        var score = 0
        for keys in query {
            guard let first = keys.first else { continue }
            if present(first) { score += 2 } else if keys.dropFirst().contains(where: present) { score += 1 } else { return nil }
        }
        return score
    }

    /// A query's parts, each as its keys (skeleton first); parts too short
    /// to index are left out.
    static func query(_ name: String) -> [[String]] {
        parts(name).map { keys(ofPart: $0) }.filter { !$0.isEmpty }
    }
}
