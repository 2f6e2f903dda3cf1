/// A strict check of JSON text (RFC 8259) that says where it goes wrong: Foundation's
/// `JSONSerialization` reports no position megaplan can rely on, so without this every syntax
/// error of a `config.json` was placed at 1:1. It also refuses a key repeated in one object,
/// which JSON readers (Python's `json.load`, Transformers' `from_pretrained`) resolve silently
/// by keeping the last: one of the two values would be ignored without a word.
///
/// Columns count Unicode scalars from 1, as `JSONObjectReader.scan` does. Nesting is bounded
/// (`maximumDepth`) so a hostile file cannot exhaust the stack.
struct JSONSyntax {
  static let maximumDepth = 512

  private let s: [Unicode.Scalar]
  private let file: String
  private let lineTexts: [String]
  private var i = 0
  private var line = 1
  private var column = 1

  /// Throws a located `ConfigError` at the first syntax error or repeated key of `text`.
  static func check(_ text: String, file: String) throws {
    var checker = JSONSyntax(text: text, file: file)
    try checker.document()
  }

  private init(text: String, file: String) {
    s = Array(text.unicodeScalars)
    self.file = file
    lineTexts = JSONObjectReader.lines(text)
  }

  // MARK: - Positions and messages

  private func here(length: Int = 1) -> SourceLocation {
    SourceLocation(
      file: file, line: line, column: column, length: length,
      lineText: line - 1 < lineTexts.count ? lineTexts[line - 1] : "")
  }

  /// What is at the cursor, for a message: `'x'`, or "the end of the file".
  private var found: String {
    guard i < s.count else { return "the end of the file" }
    let c = s[i]
    if c == "\n" || c == "\r" { return "the end of the line" }
    if c.value < 0x20 {
      return "a control character (U+\(String(c.value, radix: 16, uppercase: true)))"
    }
    return "'\(Character(c))'"
  }

  private func error(_ message: String, at location: SourceLocation? = nil) -> ConfigError {
    ConfigError("\(file) is not valid JSON: \(message)", at: location ?? here())
  }

  private mutating func advance() {
    if s[i] == "\n" {
      line += 1
      column = 1
    } else {
      column += 1
    }
    i += 1
  }

  private mutating func skipSpace() {
    while i < s.count, s[i] == " " || s[i] == "\t" || s[i] == "\n" || s[i] == "\r" { advance() }
  }

  // MARK: - Grammar

  private mutating func document() throws {
    skipSpace()
    try value(depth: 0)
    skipSpace()
    if i < s.count { throw error("unexpected \(found) after the top-level value") }
  }

  private mutating func value(depth: Int) throws {
    guard i < s.count else { throw error("expected a value, found the end of the file") }
    switch s[i] {
    case "{": try object(depth: depth + 1)
    case "[": try array(depth: depth + 1)
    case "\"": _ = try string()
    case "-", "0"..."9": try number()
    case "t": try literal("true")
    case "f": try literal("false")
    case "n": try literal("null")
    default:
      throw error(
        "expected a value (an object, array, string, number, true, false or null), found \(found)")
    }
  }

  private mutating func object(depth: Int) throws {
    guard depth <= Self.maximumDepth else {
      throw error("objects and arrays nested deeper than \(Self.maximumDepth) levels")
    }
    advance()  // {
    skipSpace()
    if i < s.count, s[i] == "}" {
      advance()
      return
    }
    var keys: [String: Int] = [:]
    while true {
      guard i < s.count, s[i] == "\"" else {
        throw error("expected a key in double quotes, found \(found)")
      }
      let at = here()
      let start = i
      let key = try string()
      var keyAt = at
      keyAt.length = i - start
      if let first = keys[key] {
        throw ConfigError(
          "duplicate key '\(key)' (first at line \(first)): JSON readers keep only the last, so one value would be ignored; remove one",
          at: keyAt)
      }
      keys[key] = at.line
      skipSpace()
      guard i < s.count, s[i] == ":" else {
        throw error("expected ':' after the key '\(key)', found \(found)")
      }
      advance()
      skipSpace()
      try value(depth: depth)
      skipSpace()
      guard i < s.count else {
        throw error("the file ends inside an object: expected ',' or '}'")
      }
      if s[i] == "," {
        advance()
        skipSpace()
        continue
      }
      if s[i] == "}" {
        advance()
        return
      }
      throw error("expected ',' or '}' after the value of '\(key)', found \(found)")
    }
  }

  private mutating func array(depth: Int) throws {
    guard depth <= Self.maximumDepth else {
      throw error("objects and arrays nested deeper than \(Self.maximumDepth) levels")
    }
    advance()  // [
    skipSpace()
    if i < s.count, s[i] == "]" {
      advance()
      return
    }
    while true {
      try value(depth: depth)
      skipSpace()
      guard i < s.count else { throw error("the file ends inside an array: expected ',' or ']'") }
      if s[i] == "," {
        advance()
        skipSpace()
        continue
      }
      if s[i] == "]" {
        advance()
        return
      }
      throw error("expected ',' or ']' after an array element, found \(found)")
    }
  }

  /// A string from its opening quote; returns its contents with the escapes decoded.
  private mutating func string() throws -> String {
    let open = here()
    advance()  // "
    var out = String.UnicodeScalarView()
    while true {
      guard i < s.count else {
        throw error(
          "a string is not closed (it opens at line \(open.line), column \(open.column))", at: open)
      }
      let c = s[i]
      if c == "\"" {
        advance()
        return String(out)
      }
      if c.value < 0x20 {
        throw error("\(found) inside a string (write it as an escape such as \\n)")
      }
      guard c == "\\" else {
        out.append(c)
        advance()
        continue
      }
      advance()
      guard i < s.count else { continue }
      switch s[i] {
      case "\"": out.append("\"")
      case "\\": out.append("\\")
      case "/": out.append("/")
      case "b": out.append("\u{8}")
      case "f": out.append("\u{C}")
      case "n": out.append("\n")
      case "r": out.append("\r")
      case "t": out.append("\t")
      case "u":
        advance()
        let high = try hex4()
        if (0xD800..<0xDC00).contains(high), i + 1 < s.count, s[i] == "\\", s[i + 1] == "u" {
          advance()
          advance()
          let low = try hex4()
          let combined = 0x10000 + ((high - 0xD800) << 10) + (low &- 0xDC00)
          if (0xDC00..<0xE000).contains(low), let scalar = Unicode.Scalar(combined) {
            out.append(scalar)
          } else {
            out.append("\u{FFFD}")
          }
        } else {
          out.append(Unicode.Scalar(high) ?? "\u{FFFD}")
        }
        continue
      default:
        throw error("unknown escape '\\\(Character(s[i]))' in a string")
      }
      advance()
    }
  }

  /// Four hex digits of a `\u` escape.
  private mutating func hex4() throws -> UInt32 {
    var n: UInt32 = 0
    for _ in 0..<4 {
      guard i < s.count, let digit = Int(String(Character(s[i])), radix: 16) else {
        throw error("expected four hex digits after \\u, found \(found)")
      }
      n = n * 16 + UInt32(digit)
      advance()
    }
    return n
  }

  private mutating func digits() -> Int {
    var n = 0
    while i < s.count, ("0"..."9").contains(s[i]) {
      advance()
      n += 1
    }
    return n
  }

  private mutating func number() throws {
    if s[i] == "-" { advance() }
    guard i < s.count, ("0"..."9").contains(s[i]) else {
      throw error("expected a digit in a number, found \(found)")
    }
    if s[i] == "0" {
      advance()
      if i < s.count, ("0"..."9").contains(s[i]) {
        throw error("a number may not have a leading zero")
      }
    } else {
      _ = digits()
    }
    if i < s.count, s[i] == "." {
      advance()
      guard digits() > 0 else { throw error("expected a digit after '.', found \(found)") }
    }
    if i < s.count, s[i] == "e" || s[i] == "E" {
      advance()
      if i < s.count, s[i] == "+" || s[i] == "-" { advance() }
      guard digits() > 0 else { throw error("expected a digit in the exponent, found \(found)") }
    }
  }

  private mutating func literal(_ word: String) throws {
    let at = here()
    for expected in word.unicodeScalars {
      guard i < s.count, s[i] == expected else {
        throw error("expected '\(word)', found \(found)", at: i < s.count ? here() : at)
      }
      advance()
    }
  }
}
