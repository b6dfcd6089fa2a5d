// Placeholder until scripts/embed-schemas.py runs.
enum BuiltInSchemas {
    static let all: [(String, String)] = []
}
