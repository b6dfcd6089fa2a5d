public import Foundation
internal import CaseVaultCrypto

/// What RFC 8493 (BagIt 1.0) makes of a bag: valid when it is complete and
/// every digest its manifests state matches. Warnings are what the RFC
/// says SHOULD NOT be, or what older bagging tools wrote that casevault
/// reads the way bagit-python does (SECURITY.md §12d).
public struct BagItVerdict: Sendable, Equatable {
    /// The BagIt-Version the bag declares, when bagit.txt could be read.
    public let version: String?
    public let errors: [String]
    public let warnings: [String]
    /// The paths each manifest and tag manifest lists, as read.
    public var listed: [String: Set<String>] = [:]
    /// bag-info.txt's elements, the first value of each label as written.
    public var info: [String: String] = [:]
    public var valid: Bool { errors.isEmpty }
}

/// A BagIt 1.0 validator (RFC 8493) over a bag already read into memory:
/// its files by path relative to the bag's base directory. It is the first
/// half of `audit verify-export`, and judges bags casevault did not write
/// as well (the Library of Congress conformance suite, in the tests).
public enum BagIt {
    /// The tag file encodings casevault decodes (bagit.txt names one).
    static let encodings: [String: String.Encoding] = ["utf-8": .utf8, "iso-8859-1": .isoLatin1, "latin1": .isoLatin1, "utf-16": .utf16]

    /// Judges the bag. `hasPayloadDirectory` says whether `data/` exists
    /// (an empty payload has a folder and no file).
    public static func validate(files: [String: [UInt8]], hasPayloadDirectory: Bool) -> BagItVerdict {
        var errors: [String] = [], warnings: [String] = []
        var listedByManifest: [String: Set<String>] = [:], info: [String: String] = [:]

        // §2.1.1: bagit.txt, UTF-8 without a byte-order mark, exactly the two lines in order.
        guard let declaration = files["bagit.txt"] else {
            return BagItVerdict(version: nil, errors: ["there is no bagit.txt"], warnings: [])
        }
        guard !declaration.starts(with: [0xef, 0xbb, 0xbf]) else {
            return BagItVerdict(version: nil, errors: ["bagit.txt begins with a byte-order mark"], warnings: [])
        }
        guard let declarationText = String(validating: declaration, as: UTF8.self) else {
            return BagItVerdict(version: nil, errors: ["bagit.txt is not UTF-8"], warnings: [])
        }
        let declared = lines(declarationText).filter { !$0.isEmpty }
        var version: String?
        var encoding: String.Encoding = .utf8
        if declared.count == 2, declared[0].hasPrefix("BagIt-Version: "), declared[1].hasPrefix("Tag-File-Character-Encoding: ") {
            let number = String(declared[0].dropFirst("BagIt-Version: ".count))
            let parts = number.split(separator: ".", omittingEmptySubsequences: false)
            if parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) {
                version = number
                if number != "1.0" { warnings.append("the bag declares BagIt \(number); it is judged by the rules of BagIt 1.0") }
            } else {
                errors.append("bagit.txt: the version must be two numbers with a dot, as 1.0; it says '\(number)'")
            }
            let name = String(declared[1].dropFirst("Tag-File-Character-Encoding: ".count))
            if let known = encodings[name.lowercased()] {
                encoding = known
            } else {
                errors.append("bagit.txt: casevault does not read tag files in '\(name)' (it reads UTF-8, ISO-8859-1 and UTF-16)")
            }
        } else {
            errors.append("bagit.txt must hold exactly two lines, 'BagIt-Version: M.N' then 'Tag-File-Character-Encoding: ENCODING'")
        }
        guard errors.isEmpty else { return BagItVerdict(version: version, errors: errors, warnings: warnings) }

        func text(_ name: String) -> String? {
            guard var bytes = files[name] else { return nil }
            if encoding == .utf8, bytes.starts(with: [0xef, 0xbb, 0xbf]) {
                warnings.append("\(name) begins with a byte-order mark")
                bytes.removeFirst(3)
            }
            guard let decoded = String(data: Data(bytes), encoding: encoding) else {
                errors.append("\(name) is not valid in the tag file encoding bagit.txt declares")
                return nil
            }
            return decoded
        }

        // §2.1.2: the payload directory; every file under it is a payload file.
        if !hasPayloadDirectory { errors.append("there is no data/ directory") }
        let payload = Set(files.keys.filter { $0.hasPrefix("data/") })

        // §2.2.3: fetch.txt names payload files that may be fetched; a valid bag holds them all.
        var fetched: Set<String> = []
        if files["fetch.txt"] != nil, let body = text("fetch.txt") {
            for (number, line) in lines(body).enumerated() where !line.isEmpty {
                let fields = line.split(maxSplits: 2, omittingEmptySubsequences: true, whereSeparator: { $0 == " " || $0 == "\t" })
                guard fields.count == 3, fields[1] == "-" || fields[1].allSatisfy(\.isASCIIDigit) else {
                    errors.append("fetch.txt line \(number + 1) is not 'URL LENGTH FILEPATH'")
                    continue
                }
                switch normalisedPath(String(fields[2]), warnings: &warnings) {
                case .failure(let problem): errors.append("fetch.txt line \(number + 1): \(problem)")
                case .success(let path):
                    if !path.hasPrefix("data/") { errors.append("fetch.txt line \(number + 1) names \(path), outside the payload") }
                    fetched.insert(path)
                }
            }
        }

        // §2.1.3 and §2.2.1: the manifests, each line a digest and a path.
        var payloadManifests = 0
        // The digests are computed after every manifest is read, each file and algorithm on a core of its own.
        var digests: [(manifest: String, path: String, digest: String, algorithm: FixityDigest, bytes: [UInt8])] = []
        for name in files.keys.sorted() where !name.contains("/") {
            let isTag = name.hasPrefix("tagmanifest-")
            guard (isTag || name.hasPrefix("manifest-")), name.hasSuffix(".txt") else { continue }
            let algorithmName = String(name.dropFirst(isTag ? "tagmanifest-".count : "manifest-".count).dropLast(".txt".count))
            if !isTag { payloadManifests += 1 }
            guard let algorithm = FixityDigest(rawValue: algorithmName) else {
                errors.append("\(name): casevault cannot check digests of '\(algorithmName)' (it checks \(FixityDigest.allCases.map(\.rawValue).joined(separator: ", ")))")
                continue
            }
            guard let body = text(name) else { continue }
            var listed: [String: String] = [:]
            for (number, line) in lines(body).enumerated() where !line.isEmpty {
                guard let gap = line.firstIndex(where: { $0 == " " || $0 == "\t" }),
                      let start = line[gap...].firstIndex(where: { $0 != " " && $0 != "\t" }) else {
                    errors.append("\(name) line \(number + 1) is not a digest then a path")
                    continue
                }
                let digest = line[..<gap].lowercased()
                guard digest.count == algorithm.length * 2, digest.allSatisfy(\.isHexDigit) else {
                    errors.append("\(name) line \(number + 1): '\(line[..<gap])' is not a \(algorithm.rawValue) digest")
                    continue
                }
                switch normalisedPath(String(line[start...]), warnings: &warnings) {
                case .failure(let problem): errors.append("\(name) line \(number + 1): \(problem)")
                case .success(let path):
                    if isTag, path.hasPrefix("data/") { errors.append("\(name) lists the payload file \(path)") }
                    if !isTag, !path.hasPrefix("data/") { errors.append("\(name) lists \(path), outside the payload") }
                    if listed.updateValue(digest, forKey: path) != nil { errors.append("\(name) lists \(path) more than once") }
                }
            }
            listedByManifest[name] = Set(listed.keys)
            for (path, digest) in listed.sorted(by: { $0.key < $1.key }) {
                guard let bytes = files[path] else {
                    errors.append(fetched.contains(path) ? "\(path) is still to be fetched (fetch.txt): the bag is not complete"
                                                         : "\(name) lists \(path), which the bag does not hold")
                    continue
                }
                digests.append((name, path, digest, algorithm, bytes))
            }
            if !isTag {
                for path in payload.subtracting(listed.keys).sorted() { errors.append("\(path) is in the payload but not in \(name)") }
                for path in fetched.subtracting(listed.keys).sorted() { errors.append("fetch.txt names \(path), which \(name) does not list") }
            }
        }
        if payloadManifests == 0 { errors.append("there is no payload manifest (manifest-ALGORITHM.txt)") }
        let matches = Parallel.map(digests, grain: 1) { $0.algorithm.hash($0.bytes).hexString == $0.digest }
        for (item, same) in zip(digests, matches) where !same {
            errors.append("\(item.path) does not match its \(item.algorithm.rawValue) digest in \(item.manifest)")
        }

        // §2.2.2: bag-info.txt, labels and values; Payload-Oxum, when given, must be the payload's.
        if files["bag-info.txt"] != nil, let body = text("bag-info.txt") {
            var oxums: [String] = []
            var counts: [String: Int] = [:]
            for (number, line) in lines(body).enumerated() where !line.isEmpty {
                if line.first == " " || line.first == "\t" {
                    if number == 0 { errors.append("bag-info.txt begins with a continuation line") }
                    continue
                }
                guard let colon = line.firstIndex(of: ":") else {
                    errors.append("bag-info.txt line \(number + 1) is not 'Label: value'")
                    continue
                }
                let label = line[..<colon].trimmingCharacters(in: .whitespaces)
                counts[label.lowercased(), default: 0] += 1
                if info[label] == nil { info[label] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
                if label.lowercased() == "payload-oxum" { oxums.append(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)) }
            }
            for label in ["bagging-date", "bag-size", "bag-group-identifier", "bag-count"] where counts[label, default: 0] > 1 {
                warnings.append("bag-info.txt repeats \(label), which BagIt 1.0 says is not repeated")
            }
            let actual = "\(payload.reduce(0) { $0 + (files[$1]?.count ?? 0) }).\(payload.count)"
            if oxums.count > 1 { errors.append("bag-info.txt gives Payload-Oxum more than once") }
            if let oxum = oxums.first, oxum != actual {
                errors.append("Payload-Oxum says \(oxum) (bytes.files); the payload is \(actual)")
            }
        }
        return BagItVerdict(version: version, errors: errors, warnings: warnings, listed: listedByManifest, info: info)
    }

    /// A manifest's or fetch.txt's path as the file it names: only %0A,
    /// %0D and %25 are decoded (§2.1.3); a leading "*" (md5sum's binary
    /// mark) or "./" is dropped with a warning; a path leaving the bag
    /// (absolute, "~", "..") is refused (§6.2, §6.3).
    static func normalisedPath(_ raw: String, warnings: inout [String]) -> Result<String, PathProblem> {
        var path = raw
        if path.hasPrefix("*") {
            warnings.append("'\(raw)': the '*' md5sum writes before a path is dropped")
            path.removeFirst()
        }
        var decoded = ""
        var rest = Substring(path)
        while let percent = rest.firstIndex(of: "%") {
            decoded += rest[..<percent]
            let code = rest[percent...].prefix(3).uppercased()
            switch code {
            case "%0A": decoded += "\n"; rest = rest[rest.index(percent, offsetBy: 3)...]
            case "%0D": decoded += "\r"; rest = rest[rest.index(percent, offsetBy: 3)...]
            case "%25": decoded += "%"; rest = rest[rest.index(percent, offsetBy: 3)...]
            default: decoded += "%"; rest = rest[rest.index(after: percent)...]
            }
        }
        path = decoded + rest
        if path.hasPrefix("./") {
            warnings.append("'\(raw)' begins with './'")
            path.removeFirst(2)
        }
        if path.hasPrefix("/") { return .failure(PathProblem("'\(raw)' is an absolute path, outside the bag")) }
        if path.hasPrefix("~") { return .failure(PathProblem("'\(raw)' names a home folder, outside the bag")) }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") { return .failure(PathProblem("'\(raw)' climbs out with '..'")) }
        if parts.contains("") || parts.contains(".") { return .failure(PathProblem("'\(raw)' is not a plain relative path")) }
        return .success(path)
    }

    struct PathProblem: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Lines ended by LF, CR or CR LF (§2.1: any of the three).
    static func lines(_ text: String) -> [String] {
        var result: [String] = [], current = String.UnicodeScalarView()
        var afterCR = false
        for scalar in text.unicodeScalars {
            defer { afterCR = scalar == "\r" }
            if scalar == "\n", afterCR { continue }  // the LF of a CR LF
            if scalar == "\n" || scalar == "\r" {
                result.append(String(current))
                current = String.UnicodeScalarView()
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { result.append(String(current)) }
        return result
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
