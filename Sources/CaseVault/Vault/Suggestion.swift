/// "Did you mean …?" for a case number, document name or staff id typed
/// wrong: the closest of the known ones, when it is close enough to be a
/// slip (an edit distance of at most 2, or 1 for case numbers, where
/// another client's number two digits away is not a slip; and at most a
/// third of the name).
enum Suggestion {
    static func closest(to typed: String, among known: some Sequence<String>, maxDistance: Int = 2) -> String? {
        let target = Array(typed.lowercased())
        let limit = min(maxDistance, max(1, target.count / 3))
        var best: (String, Int)?
        for candidate in known {
            let distance = editDistance(target, Array(candidate.lowercased()), limit: limit)
            if distance <= limit, best.map({ distance < $0.1 }) ?? true { best = (candidate, distance) }
        }
        return best?.0
    }

    /// "; did you mean 'X'?" or nothing.
    static func clause(_ typed: String, among known: some Sequence<String>, maxDistance: Int = 2) -> String {
        closest(to: typed, among: known, maxDistance: maxDistance).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// Levenshtein distance, counting a swap of two neighbours as one edit
    /// (optimal string alignment); stops early above `limit`.
    static func editDistance(_ a: [Character], _ b: [Character], limit: Int) -> Int {
        if abs(a.count - b.count) > limit { return limit + 1 }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var before = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var rowBest = current[0]
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { current[j] = min(current[j], before[j - 2] + 1) }
                rowBest = min(rowBest, current[j])
            }
            if rowBest > limit { return limit + 1 }
            (before, previous, current) = (previous, current, before)
        }
        return previous[b.count]
    }
}
