/// A reader for the small subset of bash that Megatron-LM launch scripts use. It never runs
/// anything: it follows assignments (`KEY=value`, `export KEY=...`, arrays `A=( ... )`),
/// expands `$VAR`, `${VAR}`, `${VAR:-default}`, `${A[@]}` and `$((A*B))`, and records the
/// words of every command line, each character tagged with the place in the script it was
/// written. Control flow (`if`, `for`, functions) is not interpreted: assignments apply in file
/// order, the later one winning.

/// Where a character of an expanded word was written.
struct ShellOrigin: Equatable, Sendable {
  var line: Int
  var column: Int
  /// 0 for a character copied from the script; otherwise the width of the expression (an
  /// arithmetic expansion, a `$VAR` reference) whose value the character is part of.
  var width: Int
}

/// Why an expansion has no usable value.
enum ShellProblem: Error, Equatable, Sendable {
  /// The variable (or positional parameter) is never set in the script.
  case unset(String)
  /// `$(...)` or a backtick command: megaplan does not run commands.
  case commandSubstitution(String)
  /// An expansion outside the subset megaplan reads (`${#A}`, `$?`, `$((2**3))`).
  case unsupported(String)
}

/// One element of an expanded word: a character with its origin, or a value that could not be
/// found (kept in place so a flag that needs it can say why).
enum ShellElement: Equatable, Sendable {
  case char(Character, ShellOrigin)
  case problem(ShellProblem, ShellOrigin)

  var isBlank: Bool {
    if case .char(let c, _) = self { return c == " " || c == "\t" || c == "\n" }
    return false
  }
  var origin: ShellOrigin {
    switch self {
    case .char(_, let o), .problem(_, let o): return o
    }
  }
}

enum ShellValue: Sendable {
  case string([ShellElement])
  case array([[ShellElement]])
}

/// An `#SBATCH` option (`--nodes=48`): where the option is and its value's characters.
struct SBatchOption: Sendable {
  var flag: ShellOrigin
  var flagLength: Int
  var value: [ShellElement]
}

/// A word as lexed, before expansion.
indirect enum ShellPart {
  case literal(Character, at: Int, quoted: Bool)
  /// `""` or `''`: makes the field exist even when nothing else is in it.
  case emptyQuotes
  /// `$NAME`, `${NAME}`, `${NAME:-word}` (op is "" for a plain reference).
  case parameter(String, op: String, word: [ShellPart], quoted: Bool, span: Range<Int>)
  /// `${NAME[@]}` / `${NAME[*]}`.
  case arrayAll(String, quoted: Bool, span: Range<Int>)
  case arithmetic(String, quoted: Bool, span: Range<Int>)
  case problem(ShellProblem, span: Range<Int>)
  /// `$@` / `$*`: no positional parameters when a script is read, so nothing.
  case allPositional
}

struct RawWord {
  var parts: [ShellPart] = []
  /// Where the word starts in the script.
  var start = 0
  var assignment: (name: String, append: Bool)?
  var arrayElements: [[ShellPart]]?
}

struct ShellReader {
  static let maxNesting = 32
  /// A variable that doubles itself (`A="$A$A"`) would otherwise grow without bound.
  static let maxValueLength = 1 << 20
  static let declarationBuiltins: Set<String> = [
    "export", "local", "declare", "readonly", "typeset",
  ]
  static let skippedCommands: Set<String> = ["echo", "printf"]

  let file: String
  let lineTexts: [String]
  private var chars: [Character] = []
  private var lineOf: [Int32] = []
  private var columnOf: [Int32] = []
  private var i = 0
  private var end = 0
  private var nesting = 0
  private var pendingHeredocs: [(delimiter: String, stripTabs: Bool)] = []

  /// Variables as the script leaves them.
  private(set) var variables: [String: ShellValue] = [:]
  /// Where each variable was last assigned (the name in `NAME=value`).
  private(set) var assignedAt: [String: ShellOrigin] = [:]
  /// The expanded words of each command line, in file order (`echo`, `printf` and
  /// declarations left out).
  private(set) var commands: [[[ShellElement]]] = []
  /// `#SBATCH` options by long name (`nodes`, `gpus-per-node`, `gres`, `ntasks-per-node`).
  private(set) var sbatch: [String: SBatchOption] = [:]

  init(text: String, file: String) {
    self.file = file
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
      if scalar == "\n" {
        if current.last == "\r" { current.removeLast() }
        lines.append(String(current))
        current = String.UnicodeScalarView()
      } else {
        current.append(scalar)
      }
    }
    if current.last == "\r" { current.removeLast() }
    lines.append(String(current))
    lineTexts = lines
    for (n, line) in lines.enumerated() {
      var column: Int32 = 1
      for c in line {
        chars.append(c)
        lineOf.append(Int32(n + 1))
        columnOf.append(column)
        column += 1
      }
      if n < lines.count - 1 {
        chars.append("\n")
        lineOf.append(Int32(n + 1))
        columnOf.append(column)
      }
    }
    end = chars.count
  }

  // MARK: - Locations

  func origin(_ index: Int) -> ShellOrigin {
    guard !chars.isEmpty else { return ShellOrigin(line: 1, column: 1, width: 0) }
    let k = min(max(0, index), chars.count - 1)
    return ShellOrigin(line: Int(lineOf[k]), column: Int(columnOf[k]), width: 0)
  }

  func origin(_ span: Range<Int>) -> ShellOrigin {
    var o = origin(span.lowerBound)
    let last = origin(max(span.lowerBound, span.upperBound - 1))
    o.width =
      last.line == o.line
      ? max(1, last.column - o.column + 1) : max(1, lineLength(o.line) - o.column + 1)
    return o
  }

  func lineLength(_ line: Int) -> Int {
    line >= 1 && line <= lineTexts.count ? lineTexts[line - 1].count : 0
  }

  func location(_ o: ShellOrigin, length: Int) -> SourceLocation {
    let text = o.line >= 1 && o.line <= lineTexts.count ? lineTexts[o.line - 1] : ""
    return SourceLocation(
      file: file, line: o.line, column: o.column, length: length, lineText: text)
  }

  /// The location of an expanded word: where its first character was written, as wide as the
  /// run of characters that sit next to each other in the script.
  func location(of elements: [ShellElement]) -> SourceLocation {
    guard let first = elements.first else {
      return location(ShellOrigin(line: 1, column: 1, width: 0), length: 1)
    }
    let start = first.origin
    if start.width > 0 { return location(start, length: start.width) }
    var length = 0
    for element in elements {
      guard case .char(_, let o) = element, o.width == 0, o.line == start.line,
        o.column == start.column + length
      else { break }
      length += 1
    }
    return location(start, length: max(1, length))
  }

  // MARK: - Reading

  private func error(_ message: String, at index: Int) -> ConfigError {
    ConfigError(message, at: location(origin(index), length: 1))
  }

  mutating func run() throws {
    readSBatch()
    while i < end {
      let start = i
      let words = try nextCommand()
      try execute(words)
      if i == start { i += 1 }
    }
  }

  /// `#SBATCH` directives: only the options that give a GPU count are kept.
  private mutating func readSBatch() {
    for (n, line) in lineTexts.enumerated() {
      let cs = Array(line)
      var k = 0
      while k < cs.count, cs[k] == " " || cs[k] == "\t" { k += 1 }
      guard cs.count - k >= 7, String(cs[k..<(k + 7)]) == "#SBATCH" else { continue }
      k += 7
      var tokens: [(start: Int, text: [Character])] = []
      while k < cs.count {
        while k < cs.count, cs[k] == " " || cs[k] == "\t" { k += 1 }
        guard k < cs.count, cs[k] != "#" else { break }
        let start = k
        while k < cs.count, cs[k] != " ", cs[k] != "\t" { k += 1 }
        tokens.append((start, Array(cs[start..<k])))
      }
      var t = 0
      while t < tokens.count {
        let (start, text) = tokens[t]
        let s = String(text)
        var name: String?
        var valueStart = 0
        var value: [Character] = []
        if s.hasPrefix("--"), let eq = text.firstIndex(of: "=") {
          name = String(text[2..<eq])
          valueStart = start + eq + 1
          value = Array(text[(eq + 1)...])
        } else if s == "-N"
          || ["--nodes", "--gpus-per-node", "--gres", "--ntasks-per-node"].contains(s),
          t + 1 < tokens.count, tokens[t + 1].text.first != "-"
        {
          name = s == "-N" ? "nodes" : String(s.dropFirst(2))
          t += 1
          valueStart = tokens[t].start
          value = tokens[t].text
        } else if s.hasPrefix("-N"), s.count > 2 {
          name = "nodes"
          valueStart = start + 2
          value = Array(text[2...])
        }
        if let name, ["nodes", "gpus-per-node", "gres", "ntasks-per-node"].contains(name) {
          let elements = value.enumerated().map {
            ShellElement.char(
              $0.element, ShellOrigin(line: n + 1, column: valueStart + $0.offset + 1, width: 0))
          }
          sbatch[name] = SBatchOption(
            flag: ShellOrigin(line: n + 1, column: start + 1, width: 0),
            flagLength: name == "nodes" && s == "-N"
              ? 2 : min(text.count, (text.firstIndex(of: "=") ?? text.count)),
            value: elements)
        }
        t += 1
      }
    }
  }

  private mutating func nextCommand() throws -> [RawWord] {
    var words: [RawWord] = []
    var commandStarted = false
    var inDeclaration = false
    while i < end {
      let c = chars[i]
      if c == " " || c == "\t" || c == "\r" { i += 1; continue }
      if c == "\\", i + 1 < end, chars[i + 1] == "\n" { i += 2; continue }
      if c == "\n" {
        i += 1
        skipHeredocs()
        if !words.isEmpty { return words }
        continue
      }
      if c == "&", i + 1 < end, chars[i + 1] == ">" {
        i += 2
        while i < end, chars[i] == ">" { i += 1 }
        continue
      }
      if c == ";" || c == "|" || c == "&" || c == "(" || c == ")" {
        i += 1
        if !words.isEmpty { return words }
        continue
      }
      if c == "<" || c == ">" { redirection(); continue }
      if c == "#" {
        while i < end, chars[i] != "\n" { i += 1 }
        continue
      }
      let start = i
      let word = try lexWord(assignmentsAllowed: !commandStarted || inDeclaration)
      if i == start { i += 1 }
      if word.assignment == nil {
        let text = literalText(word.parts)
        if !commandStarted {
          commandStarted = true
          inDeclaration = text.map { Self.declarationBuiltins.contains($0) } ?? false
        }
      }
      words.append(word)
    }
    return words
  }

  private func literalText(_ parts: [ShellPart]) -> String? {
    var s = ""
    for part in parts {
      guard case .literal(let c, _, _) = part else { return nil }
      s.append(c)
    }
    return s
  }

  private mutating func redirection() {
    if chars[i] == "<", i + 1 < end, chars[i + 1] == "<" {
      if i + 2 < end, chars[i + 2] == "<" { i += 3; return }  // here-string: the word follows
      i += 2
      var stripTabs = false
      if i < end, chars[i] == "-" { stripTabs = true; i += 1 }
      while i < end, chars[i] == " " || chars[i] == "\t" { i += 1 }
      var delimiter = ""
      while i < end, !" \t\n;|&<>()".contains(chars[i]) {
        if chars[i] != "'", chars[i] != "\"", chars[i] != "\\" { delimiter.append(chars[i]) }
        i += 1
      }
      if !delimiter.isEmpty { pendingHeredocs.append((delimiter, stripTabs)) }
      return
    }
    i += 1
    while i < end, chars[i] == ">" || chars[i] == "&" { i += 1 }
  }

  /// Skips the bodies of the here-documents opened on the line just ended.
  private mutating func skipHeredocs() {
    for (delimiter, stripTabs) in pendingHeredocs {
      while i < end {
        let start = i
        while i < end, chars[i] != "\n" { i += 1 }
        var line = String(chars[start..<i])
        if i < end { i += 1 }
        if stripTabs { line = String(line.drop { $0 == "\t" }) }
        if line == delimiter { break }
      }
    }
    pendingHeredocs.removeAll()
  }

  private func isNameStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
  private func isNameChar(_ c: Character) -> Bool {
    c == "_" || (c.isASCII && (c.isLetter || c.isNumber))
  }

  private mutating func lexWord(assignmentsAllowed: Bool) throws -> RawWord {
    var word = RawWord()
    word.start = i
    if assignmentsAllowed, i < end, isNameStart(chars[i]) {
      var j = i
      while j < end, isNameChar(chars[j]) { j += 1 }
      let name = String(chars[i..<j])
      var append = false
      if j + 1 < end, chars[j] == "+", chars[j + 1] == "=" { append = true; j += 1 }
      if j < end, chars[j] == "=" {
        word.assignment = (name, append)
        i = j + 1
        if i < end, chars[i] == "(" {
          let open = i
          i += 1
          word.arrayElements = try lexArray(open: open, name: name)
          return word
        }
      }
    }
    word.parts = try lexParts()
    return word
  }

  private mutating func lexArray(open: Int, name: String) throws -> [[ShellPart]] {
    var elements: [[ShellPart]] = []
    while true {
      guard i < end else {
        throw error("array '\(name)' opened here is never closed with ')'", at: open)
      }
      let c = chars[i]
      if c == " " || c == "\t" || c == "\r" || c == "\n" { i += 1; continue }
      if c == "\\", i + 1 < end, chars[i + 1] == "\n" { i += 2; continue }
      if c == "#" {
        while i < end, chars[i] != "\n" { i += 1 }
        continue
      }
      if c == ")" { i += 1; return elements }
      let start = i
      let parts = try lexParts()
      if i == start { i += 1 } else { elements.append(parts) }
    }
  }

  /// An unquoted word, up to a blank or an operator.
  private mutating func lexParts() throws -> [ShellPart] {
    var parts: [ShellPart] = []
    while i < end {
      let c = chars[i]
      if " \t\n\r;|&<>()".contains(c) { break }
      switch c {
      case "\\":
        if i + 1 < end {
          if chars[i + 1] != "\n" { parts.append(.literal(chars[i + 1], at: i + 1, quoted: true)) }
          i += 2
        } else {
          parts.append(.literal(c, at: i, quoted: false))
          i += 1
        }
      case "'": try lexSingleQuoted(into: &parts)
      case "\"": try lexDoubleQuoted(into: &parts)
      case "$": try lexDollar(quoted: false, into: &parts)
      case "`": try lexBacktick(into: &parts)
      default:
        parts.append(.literal(c, at: i, quoted: false))
        i += 1
      }
    }
    return parts
  }

  private mutating func lexSingleQuoted(into parts: inout [ShellPart]) throws {
    let open = i
    i += 1
    parts.append(.emptyQuotes)
    while i < end, chars[i] != "'" {
      parts.append(.literal(chars[i], at: i, quoted: true))
      i += 1
    }
    guard i < end else { throw error("single-quoted string opened here is never closed", at: open) }
    i += 1
  }

  private mutating func lexDoubleQuoted(into parts: inout [ShellPart]) throws {
    let open = i
    i += 1
    parts.append(.emptyQuotes)
    while i < end, chars[i] != "\"" {
      let c = chars[i]
      switch c {
      case "\\":
        if i + 1 < end, chars[i + 1] == "\n" {
          i += 2
        } else if i + 1 < end, "$`\"\\".contains(chars[i + 1]) {
          parts.append(.literal(chars[i + 1], at: i + 1, quoted: true))
          i += 2
        } else {
          parts.append(.literal(c, at: i, quoted: true))
          i += 1
        }
      case "$": try lexDollar(quoted: true, into: &parts)
      case "`": try lexBacktick(into: &parts)
      default:
        parts.append(.literal(c, at: i, quoted: true))
        i += 1
      }
    }
    guard i < end else { throw error("double-quoted string opened here is never closed", at: open) }
    i += 1
  }

  private mutating func lexBacktick(into parts: inout [ShellPart]) throws {
    let open = i
    i += 1
    while i < end, chars[i] != "`" {
      if chars[i] == "\\" { i += 1 }
      i += 1
    }
    guard i < end else { throw error("backtick command opened here is never closed", at: open) }
    i += 1
    parts.append(.problem(.commandSubstitution(String(chars[open..<i])), span: open..<i))
  }

  /// The index of the `)` closing the `(` at `open`, skipping quoted text.
  private func matching(_ open: Int, _ left: Character, _ right: Character) -> Int? {
    var depth = 0
    var j = open
    while j < end {
      let c = chars[j]
      if c == "\\" {
        j += 2
        continue
      }
      if c == "'" {
        j += 1
        while j < end, chars[j] != "'" { j += 1 }
      } else if c == "\"" && left == "(" {
        j += 1
        while j < end, chars[j] != "\"" {
          if chars[j] == "\\" { j += 1 }
          j += 1
        }
      } else if c == left {
        depth += 1
      } else if c == right {
        depth -= 1
        if depth == 0 { return j }
      }
      j += 1
    }
    return nil
  }

  private mutating func lexDollar(quoted: Bool, into parts: inout [ShellPart]) throws {
    let start = i
    guard i + 1 < end else {
      parts.append(.literal("$", at: i, quoted: quoted))
      i += 1
      return
    }
    let n = chars[i + 1]
    switch n {
    case "(":
      guard let close = matching(i + 1, "(", ")") else {
        throw error("'$(' opened here is never closed", at: start)
      }
      i = close + 1
      if start + 2 < close, chars[start + 2] == "(", chars[close - 1] == ")" {
        let inner = String(chars[(start + 3)..<(close - 1)])
        parts.append(.arithmetic(inner, quoted: quoted, span: start..<i))
      } else {
        parts.append(.problem(.commandSubstitution(String(chars[start..<i])), span: start..<i))
      }
    case "{":
      guard let close = matching(i + 1, "{", "}") else {
        throw error("'${' opened here is never closed", at: start)
      }
      i = close + 1
      parts.append(try braced(start + 2..<close, quoted: quoted, span: start..<i))
    case "@", "*":
      parts.append(.allPositional)
      i += 2
    case "#", "?", "$", "!", "-":
      parts.append(.problem(.unsupported("$" + String(n)), span: start..<(start + 2)))
      i += 2
    case "'":
      i += 1
      try lexSingleQuoted(into: &parts)
    case "\"":
      i += 1
      try lexDoubleQuoted(into: &parts)
    default:
      if n.isASCII && n.isNumber {
        parts.append(
          .parameter(String(n), op: "", word: [], quoted: quoted, span: start..<(start + 2)))
        i += 2
      } else if isNameStart(n) {
        var j = i + 1
        while j < end, isNameChar(chars[j]) { j += 1 }
        parts.append(
          .parameter(String(chars[(i + 1)..<j]), op: "", word: [], quoted: quoted, span: start..<j))
        i = j
      } else {
        parts.append(.literal("$", at: i, quoted: quoted))
        i += 1
      }
    }
  }

  /// The inside of `${...}`.
  private mutating func braced(_ inner: Range<Int>, quoted: Bool, span: Range<Int>) throws
    -> ShellPart
  {
    let text = String(chars[span])
    var j = inner.lowerBound
    while j < inner.upperBound, isNameChar(chars[j]) { j += 1 }
    let name = String(chars[inner.lowerBound..<j])
    guard !name.isEmpty, name.first.map({ isNameStart($0) || $0.isNumber }) == true else {
      return .problem(.unsupported(text), span: span)
    }
    if name.first?.isNumber == true, !name.allSatisfy(\.isNumber) {
      return .problem(.unsupported(text), span: span)
    }
    if j == inner.upperBound {
      return .parameter(name, op: "", word: [], quoted: quoted, span: span)
    }
    let rest = String(chars[j..<inner.upperBound])
    if rest == "[@]" || rest == "[*]" { return .arrayAll(name, quoted: quoted, span: span) }
    var op = ""
    if chars[j] == ":", j + 1 < inner.upperBound, "-=+?".contains(chars[j + 1]) {
      op = String(chars[j...(j + 1)])
    } else if "-=+?".contains(chars[j]) {
      op = String(chars[j])
    } else {
      return .problem(.unsupported(text), span: span)
    }
    guard nesting < Self.maxNesting else { return .problem(.unsupported(text), span: span) }
    let saved = (i, end)
    nesting += 1
    defer {
      nesting -= 1
      (i, end) = saved
    }
    i = j + op.count
    end = inner.upperBound
    var word: [ShellPart] = []
    while i < end {
      let c = chars[i]
      switch c {
      case "\\" where i + 1 < end:
        word.append(.literal(chars[i + 1], at: i + 1, quoted: true))
        i += 2
      case "'" where !quoted: try lexSingleQuoted(into: &word)
      case "\"": try lexDoubleQuoted(into: &word)
      case "$": try lexDollar(quoted: quoted, into: &word)
      case "`": try lexBacktick(into: &word)
      default:
        word.append(.literal(c, at: i, quoted: quoted))
        i += 1
      }
    }
    return .parameter(name, op: op, word: word, quoted: quoted, span: span)
  }

  // MARK: - Expansion

  private mutating func execute(_ words: [RawWord]) throws {
    var rest: [RawWord] = []
    for word in words {
      if let (name, append) = word.assignment {
        let assignmentStart = word.start
        var value: ShellValue
        if let elements = word.arrayElements {
          var fields: [[ShellElement]] = []
          for parts in elements { fields += expand(parts, split: true) }
          value = .array(fields)
        } else {
          value = .string(expand(word.parts, split: false).first ?? [])
        }
        if append, let old = variables[name] {
          switch (old, value) {
          case (.array(let a), .array(let b)): value = .array(a + b)
          case (.array(let a), .string(let b)): value = .array(a + [b])
          case (.string(let a), .string(let b)): value = .string(a + b)
          case (.string(let a), .array(let b)): value = .array([a] + b)
          }
        }
        let size: Int
        switch value {
        case .string(let v): size = v.count
        case .array(let a): size = a.reduce(a.count) { $0 + $1.count }
        }
        guard size <= Self.maxValueLength else {
          throw ConfigError(
            "variable '\(name)' grows past \(Self.maxValueLength) characters; megaplan stops reading there",
            at: location(origin(assignmentStart), length: name.count))
        }
        variables[name] = value
      } else {
        rest.append(word)
      }
    }
    var fields: [[ShellElement]] = []
    for word in rest { fields += expand(word.parts, split: true) }
    guard let first = fields.first else { return }
    let command = Self.text(first)
    if Self.declarationBuiltins.contains(command) || Self.skippedCommands.contains(command) {
      return
    }
    commands.append(fields)
  }

  static func text(_ elements: [ShellElement]) -> String {
    var s = ""
    for case .char(let c, _) in elements { s.append(c) }
    return s
  }

  /// A variable's value as a string (an array gives its first element); nil when unset.
  /// `SLURM_NNODES` and `SLURM_JOB_NUM_NODES` are the `#SBATCH --nodes` value.
  func value(of name: String) -> [ShellElement]? {
    if let v = variables[name] {
      switch v {
      case .string(let s): return s
      case .array(let a): return a.first ?? []
      }
    }
    if name == "SLURM_NNODES" || name == "SLURM_JOB_NUM_NODES", let nodes = sbatch["nodes"] {
      return nodes.value
    }
    return nil
  }

  private struct Fields {
    var split: Bool
    var fields: [[ShellElement]] = []
    var current: [ShellElement] = []
    var open = false

    mutating func add(_ e: ShellElement, splittable: Bool) {
      if split, splittable, e.isBlank {
        close()
      } else {
        current.append(e)
        open = true
      }
    }
    mutating func close() {
      if open { fields.append(current) }
      current = []
      open = false
    }
  }

  /// Expands a word; with `split`, unquoted expansions are split into fields at blanks.
  private mutating func expand(_ parts: [ShellPart], split: Bool) -> [[ShellElement]] {
    var out = Fields(split: split)
    expand(parts, into: &out)
    out.close()
    if !split && out.fields.isEmpty { return [[]] }
    return out.fields
  }

  private mutating func expand(_ parts: [ShellPart], into out: inout Fields) {
    for part in parts {
      switch part {
      case .literal(let c, let at, let quoted):
        out.add(.char(c, origin(at)), splittable: !quoted)
      case .emptyQuotes:
        out.open = true
      case .allPositional:
        break
      case .problem(let p, let span):
        out.add(.problem(p, origin(span)), splittable: false)
      case .arithmetic(let text, let quoted, let span):
        let o = origin(span)
        switch evaluate(text) {
        case .success(let n):
          for c in String(n) { out.add(.char(c, o), splittable: !quoted) }
        case .failure(let p):
          out.add(.problem(p, o), splittable: false)
        }
      case .arrayAll(let name, let quoted, let span):
        guard let v = variables[name] else {
          out.add(.problem(.unset(name), origin(span)), splittable: false)
          continue
        }
        let elements: [[ShellElement]]
        switch v {
        case .string(let s): elements = [s]
        case .array(let a): elements = a
        }
        for (k, element) in elements.enumerated() {
          if k > 0 {
            if out.split {
              out.close()
            } else {
              out.add(.char(" ", origin(span)), splittable: false)
            }
          }
          for e in element { out.add(e, splittable: !quoted) }
          if quoted { out.open = true }
        }
      case .parameter(let name, let op, let word, let quoted, let span):
        let v = value(of: name)
        var use: [ShellElement]?
        var useWord = false
        switch op {
        case "": use = v
        case ":-", ":=": if let v, !v.isEmpty { use = v } else { useWord = true }
        case "-", "=": if let v { use = v } else { useWord = true }
        case ":+": if let v, !v.isEmpty { useWord = true } else { use = [] }
        case "+": if v != nil { useWord = true } else { use = [] }
        default: use = v  // ":?" and "?": the value, or unset
        }
        if useWord {
          if op == ":=" || op == "=" {
            let assigned = expand(word, split: false).first ?? []
            variables[name] = .string(assigned)
          }
          expand(word, into: &out)
        } else if let use {
          for e in use { out.add(e, splittable: !quoted) }
          if quoted { out.open = true }
        } else {
          var o = origin(span)
          o.width = max(1, o.width)
          out.add(.problem(.unset(name), o), splittable: false)
        }
      }
    }
  }

  // MARK: - Arithmetic

  private enum ArithmeticToken: Equatable {
    case number(Int)
    case op(Character)
  }

  /// `$(( ... ))` over integers with + - * / % and parentheses; anything else is reported as
  /// unsupported rather than guessed.
  func evaluate(_ text: String) -> Result<Int, ShellProblem> {
    let unsupported = ShellProblem.unsupported("$((\(text)))")
    let cs = Array(text)
    var tokens: [ArithmeticToken] = []
    var k = 0
    while k < cs.count {
      let c = cs[k]
      if c == " " || c == "\t" || c == "\n" { k += 1; continue }
      if "+-*/%()".contains(c) {
        if c == "*", k + 1 < cs.count, cs[k + 1] == "*" { return .failure(unsupported) }
        tokens.append(.op(c))
        k += 1
        continue
      }
      if c.isASCII, c.isNumber {
        var s = ""
        while k < cs.count, cs[k].isASCII, cs[k].isNumber {
          s.append(cs[k])
          k += 1
        }
        guard let n = Int(s) else { return .failure(unsupported) }
        tokens.append(.number(n))
        continue
      }
      var name = ""
      if c == "$" { k += 1 }
      var braced = false
      if k < cs.count, cs[k] == "{", c == "$" {
        braced = true
        k += 1
      }
      while k < cs.count, isNameChar(cs[k]) {
        name.append(cs[k])
        k += 1
      }
      if braced {
        guard k < cs.count, cs[k] == "}" else { return .failure(unsupported) }
        k += 1
      }
      guard !name.isEmpty, let first = name.first, isNameStart(first) else {
        return .failure(unsupported)
      }
      guard let v = value(of: name) else { return .failure(.unset(name)) }
      for case .problem(let p, _) in v { return .failure(p) }
      guard let n = Int(Self.text(v).filter { $0 != " " && $0 != "\t" }) else {
        return .failure(unsupported)
      }
      tokens.append(.number(n))
    }
    var parser = ArithmeticParser(tokens: tokens)
    guard let n = parser.expression(depth: 0), parser.position == tokens.count else {
      return .failure(unsupported)
    }
    return .success(n)
  }

  private struct ArithmeticParser {
    var tokens: [ArithmeticToken]
    var position = 0

    mutating func expression(depth: Int) -> Int? {
      guard depth < ShellReader.maxNesting, var left = term(depth: depth) else { return nil }
      while position < tokens.count, case .op(let c) = tokens[position], c == "+" || c == "-" {
        position += 1
        guard let right = term(depth: depth) else { return nil }
        let (r, overflow) =
          c == "+" ? left.addingReportingOverflow(right) : left.subtractingReportingOverflow(right)
        if overflow { return nil }
        left = r
      }
      return left
    }

    mutating func term(depth: Int) -> Int? {
      guard var left = factor(depth: depth) else { return nil }
      while position < tokens.count, case .op(let c) = tokens[position],
        c == "*" || c == "/" || c == "%"
      {
        position += 1
        guard let right = factor(depth: depth) else { return nil }
        let (r, overflow): (Int, Bool)
        switch c {
        case "*": (r, overflow) = left.multipliedReportingOverflow(by: right)
        case "/": (r, overflow) = right == 0 ? (0, true) : left.dividedReportingOverflow(by: right)
        default:
          (r, overflow) =
            right == 0 ? (0, true) : left.remainderReportingOverflow(dividingBy: right)
        }
        if overflow { return nil }
        left = r
      }
      return left
    }

    mutating func factor(depth: Int) -> Int? {
      guard position < tokens.count, depth < ShellReader.maxNesting else { return nil }
      switch tokens[position] {
      case .number(let n):
        position += 1
        return n
      case .op("-"):
        position += 1
        guard let n = factor(depth: depth + 1) else { return nil }
        let (r, overflow) = 0.subtractingReportingOverflow(n)
        return overflow ? nil : r
      case .op("+"):
        position += 1
        return factor(depth: depth + 1)
      case .op("("):
        position += 1
        guard let n = expression(depth: depth + 1), position < tokens.count,
          tokens[position] == .op(")")
        else {
          return nil
        }
        position += 1
        return n
      default:
        return nil
      }
    }
  }
}
