import Foundation

/// One top-level field of a `config.json`, typed, with where its value is written.
struct JSONField {
  enum Value: Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null
    case object
    case array
    /// An integer too large for 64 bits.
    case overflow
  }
  var name: String
  var value: Value
  /// The value as written (`4096`, `"silu"`, `1e-05`).
  var raw: String
  var location: SourceLocation
}

/// The top-level fields of a JSON object, each located in the text. Foundation's
/// `JSONSerialization` checks the syntax and unescapes strings; a scan of the text finds where each
/// top-level `"field":` and its value are (JSONSerialization keeps no positions), and the value's
/// spelling types it (JSONSerialization reads `1` and `true` alike as numbers on Linux).
struct JSONObjectReader {
  let file: String
  private(set) var fields: [String: JSONField] = [:]
  /// The number of elements of each top-level array field.
  private(set) var arrayLengths: [String: Int] = [:]
  /// The elements of each top-level array field whose elements are all strings.
  private(set) var stringArrays: [String: [String]] = [:]

  init(_ text: String, file: String) throws {
    self.file = file
    // Syntax errors and repeated keys, located (JSONSerialization gives no usable position).
    try JSONSyntax.check(text, file: file)
    let top: Any
    do {
      top = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [])
    } catch {
      let detail =
        (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        ?? error.localizedDescription
      throw ConfigError(
        "\(file) is not valid JSON: \(detail)",
        at: SourceLocation(file: file, line: 1, column: 1, lineText: Self.lines(text).first ?? ""))
    }
    guard let object = top as? [String: Any] else {
      throw ConfigError(
        "\(file) is not a JSON object; a Hugging Face config.json is one object of fields",
        at: SourceLocation(file: file, line: 1, column: 1, lineText: Self.lines(text).first ?? ""))
    }
    for (name, raw, location) in Self.scan(text, file: file) {
      let value: JSONField.Value
      switch raw.first {
      case "\"": value = .string(object[name] as? String ?? String(raw.dropFirst().dropLast()))
      case "t", "f": value = .bool(raw == "true")
      case "n": value = .null
      case "{": value = .object
      case "[":
        value = .array
        let elements = object[name] as? [Any] ?? []
        arrayLengths[name] = elements.count
        let strings = elements.compactMap { $0 as? String }
        if strings.count == elements.count { stringArrays[name] = strings }
      default:
        if raw.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }) {
          value = Int(raw).map { .int($0) } ?? .overflow
        } else {
          value = .double(Double(raw) ?? .nan)
        }
      }
      // Repeated keys were refused by `JSONSyntax`.
      fields[name] = JSONField(name: name, value: value, raw: raw, location: location)
    }
  }

  static func lines(_ text: String) -> [String] {
    text.split(separator: "\n", omittingEmptySubsequences: false).map {
      $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
    }
  }

  /// Every `"name": value` directly inside the top-level object: the name, the value's text (a
  /// whole scalar, or just `{` / `[`), and where the value starts. Columns count Unicode scalars
  /// from 1.
  static func scan(_ text: String, file: String) -> [(String, String, SourceLocation)] {
    let lineTexts = lines(text)
    let s = Array(text.unicodeScalars)
    var found: [(String, String, SourceLocation)] = []
    var depth = 0
    var line = 1
    var column = 1
    var i = 0
    /// The last character outside strings and whitespace: a string after `{` or `,` at depth 1
    /// is a key.
    var previous: Unicode.Scalar = " "
    func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" }
    func advance() {
      if s[i] == "\n" {
        line += 1
        column = 1
      } else {
        column += 1
      }
      i += 1
    }
    /// From an opening quote, past the closing one; returns the contents as written.
    func skipString() -> String {
      var contents = ""
      advance()
      while i < s.count, s[i] != "\"" {
        if s[i] == "\\", i + 1 < s.count {
          contents.unicodeScalars.append(s[i])
          advance()
        }
        contents.unicodeScalars.append(s[i])
        advance()
      }
      if i < s.count { advance() }
      return contents
    }
    while i < s.count {
      let c = s[i]
      if isSpace(c) {
        advance()
        continue
      }
      if c == "\"" {
        let isKey = depth == 1 && (previous == "{" || previous == ",")
        let name = skipString()
        previous = "\""
        guard isKey else { continue }
        while i < s.count, isSpace(s[i]) { advance() }
        guard i < s.count, s[i] == ":" else { continue }
        advance()
        previous = ":"
        while i < s.count, isSpace(s[i]) { advance() }
        guard i < s.count else { break }
        let start = i
        let (valueLine, valueColumn) = (line, column)
        var end = i + 1
        if s[i] == "\"" {
          end = i + 1
          while end < s.count, s[end] != "\"" { end += s[end] == "\\" ? 2 : 1 }
          end = min(end + 1, s.count)
        } else if s[i] != "{" && s[i] != "[" {
          while end < s.count, !isSpace(s[end]), !",}]".unicodeScalars.contains(s[end]) {
            end += 1
          }
        }
        var raw = ""
        raw.unicodeScalars.append(contentsOf: s[start..<end])
        let lineText = valueLine - 1 < lineTexts.count ? lineTexts[valueLine - 1] : ""
        found.append(
          (
            name, raw,
            SourceLocation(
              file: file, line: valueLine, column: valueColumn, length: end - start,
              lineText: lineText)
          ))
        continue
      }
      if c == "{" || c == "[" { depth += 1 }
      if c == "}" || c == "]" { depth -= 1 }
      previous = c
      advance()
    }
    return found
  }
}
