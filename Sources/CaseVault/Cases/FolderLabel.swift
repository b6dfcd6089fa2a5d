internal import Foundation

/// Folder labels (manual §5.5): "All client folders must be labelled with
/// the case category, year of admission, assigned client number, and the
/// status of the case." Those four fields and the case number they make up,
/// nothing else: no names of children or staff, so a label on a shelf or a
/// cabinet tells a passer-by nothing about who the folder is for.
public enum FolderLabel {
    /// One line for a folder's spine: `CP · 2024 · 0042 · O`.
    public static func spine(_ file: CaseFile) -> String {
        "\(file.number.category) · \(file.number.year) · \(clientNumber(file)) · \(file.status.rawValue)"
    }

    /// The block for a folder's cover.
    public static func cover(_ file: CaseFile) -> String {
        let rows = [("Case", file.number.description), ("Category", file.number.category), ("Year of admission", "\(file.number.year)"),
                    ("Client number", clientNumber(file)), ("Status", "\(file.status.rawValue) (\(file.status.displayName))")]
        let width = rows.map { $0.0.count + 2 + $0.1.count }.max() ?? 0
        var lines = ["┌" + String(repeating: "─", count: width + 2) + "┐"]
        for (name, value) in rows {
            let text = name + ": " + String(repeating: " ", count: width - name.count - 2 - value.count) + value
            lines.append("│ " + text + " │")
        }
        lines.append("└" + String(repeating: "─", count: width + 2) + "┘")
        return lines.joined(separator: "\n")
    }

    static func clientNumber(_ file: CaseFile) -> String { String(format: "%04d", file.number.clientNumber) }

    /// Label stock: A4 sheets of equal labels in a grid, in millimetres.
    public struct Stock: Sendable {
        public let name: String
        public let columns: Int
        public let rows: Int
        public let labelWidth: Double
        public let labelHeight: Double
        public let top: Double
        public let left: Double
        public let columnPitch: Double
        public let rowPitch: Double
        public var perSheet: Int { columns * rows }

        /// Avery L7160 and compatibles (J8160, and most "21 per sheet"
        /// stock): 3 × 7 labels of 63.5 × 38.1 mm.
        public static let l7160 = Stock(name: "Avery L7160 (A4, 21 labels of 63.5 × 38.1 mm)", columns: 3, rows: 7,
                                        labelWidth: 63.5, labelHeight: 38.1, top: 15.15, left: 7.25,
                                        columnPitch: 66.04, rowPitch: 38.1)
    }

    /// SVG sheets (A4, 210 × 297 mm) of cover labels, `skip` positions of
    /// the first sheet left empty (a sheet already partly used). Each label
    /// carries the case number large and the four fields.
    public static func sheets(_ files: [CaseFile], stock: Stock = .l7160, skip: Int = 0) -> [String] {
        precondition(skip >= 0 && skip < stock.perSheet)
        var positioned: [CaseFile?] = Array(repeating: nil, count: skip) + files.map { $0 }
        var pages: [String] = []
        while !positioned.isEmpty {
            let page = Array(positioned.prefix(stock.perSheet))
            positioned.removeFirst(page.count)
            pages.append(sheet(page, stock: stock))
        }
        return pages
    }

    /// How many characters of a case number fit a label's width at 7 px bold.
    static let numberCharactersAtFullSize = 12

    static func sheet(_ page: [CaseFile?], stock: Stock) -> String {
        func mm(_ value: Double) -> String {
            let text = String(format: "%.2f", value)
            return text.hasSuffix(".00") ? String(text.dropLast(3)) : text
        }
        var svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 210 297">
            <title>casevault folder labels: \(escape(stock.name))</title>
            <style>text { font-family: "DejaVu Sans", Arial, sans-serif; fill: #000 } .number { font-size: 7px; font-weight: bold } .field { font-size: 3.6px } .name { fill: #444 }</style>

            """
        for (index, file) in page.enumerated() {
            guard let file else { continue }
            let x = stock.left + Double(index % stock.columns) * stock.columnPitch
            let y = stock.top + Double(index / stock.columns) * stock.rowPitch
            let fields = [("Category", file.number.category), ("Year of admission", "\(file.number.year)"),
                          ("Client number", clientNumber(file)), ("Status", "\(file.status.rawValue) (\(file.status.displayName))")]
            svg += "<g class=\"label\" data-case=\"\(escape(file.number.description))\" transform=\"translate(\(mm(x)) \(mm(y)))\">\n"
            svg += "  <rect x=\"0\" y=\"0\" width=\"\(mm(stock.labelWidth))\" height=\"\(mm(stock.labelHeight))\" rx=\"2\" fill=\"none\" stroke=\"#bbb\" stroke-width=\"0.2\"/>\n"
            // 7 px bold fits 12 characters (CP-2024-0042) in the label's
            // width less its margins; a longer number is set smaller, and
            // held to that width whatever font the viewer has.
            let number = file.number.description, width = stock.labelWidth - 8
            if number.count <= Self.numberCharactersAtFullSize {
                svg += "  <text class=\"number\" x=\"4\" y=\"10\">\(escape(number))</text>\n"
            } else {
                let size = 7 * Double(Self.numberCharactersAtFullSize) / Double(number.count)
                svg += "  <text class=\"number\" x=\"4\" y=\"10\" style=\"font-size: \(mm(size))px\" textLength=\"\(mm(width))\" lengthAdjust=\"spacingAndGlyphs\">\(escape(number))</text>\n"
            }
            for (row, (name, value)) in fields.enumerated() {
                let baseline = mm(17 + Double(row) * 5.2)
                svg += "  <text class=\"field\" x=\"4\" y=\"\(baseline)\"><tspan class=\"name\">\(escape(name)):</tspan> <tspan class=\"value\">\(escape(value))</tspan></text>\n"
            }
            svg += "</g>\n"
        }
        return svg + "</svg>\n"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }

    /// Writes sheets to new files: `path` for one sheet, else `path`'s name
    /// with `-1`, `-2`, … before its extension. Nothing is replaced; on a
    /// failure, the sheets already written are removed. Returns the paths.
    public static func write(_ sheets: [String], to path: String) throws -> [String] {
        let url = URL(fileURLWithPath: path)
        let paths = sheets.count == 1 ? [path] : sheets.indices.map { index in
            url.deletingPathExtension().path + "-\(index + 1)" + (url.pathExtension.isEmpty ? "" : "." + url.pathExtension)
        }
        for candidate in paths where FileSystem.exists(candidate) { throw VaultError.alreadyExists("\(candidate) already exists") }
        var written: [String] = []
        do {
            for (sheet, target) in zip(sheets, paths) {
                try AtomicFile.write(to: target, replacing: false, mode: 0o644) { fd in try fd.write(Array(sheet.utf8)) }
                written.append(target)
            }
        } catch {
            for target in written { FileSystem.remove(target) }
            throw error
        }
        return paths
    }
}
