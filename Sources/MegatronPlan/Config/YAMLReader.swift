/// A reader for the YAML subset NeMo and Megatron-Bridge configs use (shared/configs/README.md
/// lists it): block mappings and lists (also with the dash at the parent key's indent), one-line
/// flow collections (`[a, b]`, `{a: 1, b: [x, y]}`, `{}`, nested), comments, quoted and plain
/// scalars. Anything outside that subset (anchors, aliases, tags, block scalars, multi-line
/// scalars and flow collections, several documents, tabs in indentation) is a located "not
/// supported" error, never a wrong value.
///
/// Iterative (an explicit stack, depth-bounded), linear in the input, and trap-free on any input.
public enum YAMLReader {
  /// Deepest nesting accepted.
  public static let maximumDepth = 64
  /// Longest line accepted, in characters.
  public static let maximumLineLength = 100_000
  /// Largest input accepted, in bytes.
  public static let maximumBytes = 16 << 20

  public static func parse(_ text: String, file: String) throws -> ConfigNode {
    guard text.utf8.count <= maximumBytes else {
      throw ConfigError(
        "\(file) is larger than \(maximumBytes >> 20) MiB, which is no config file",
        at: SourceLocation(file: file, line: 1, column: 1))
    }
    var parser = Parser(file: file)
    var number = 0
    // Lines end at LF; a CR before it (Windows files) is dropped. Split on the UTF-8 bytes: as
    // Characters, "\r\n" is one grapheme and would never equal "\n" (and bytes are fast).
    let bytes = Array(text.utf8)
    var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // a byte order mark
    while true {
      let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
      var lineEnd = end
      if lineEnd > start && bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
      number += 1
      let line = String(decoding: bytes[start..<lineEnd], as: UTF8.self)
      // The line's Characters (columns count them) and where each starts in its text, so a
      // token's text is a substring copy rather than a String built Character by Character.
      var characters: [Glyph] = []
      var offsets: [String.Index] = []
      characters.reserveCapacity(lineEnd - start)
      offsets.reserveCapacity(lineEnd - start + 1)
      if bytes[start..<lineEnd].allSatisfy({ $0 < 0x80 }) {
        // ASCII: a Character per byte, no grapheme breaking needed.
        for byte in bytes[start..<lineEnd] { characters.append(Glyph(code: UInt32(byte))) }
        offsets = Array(line.utf8.indices)
      } else {
        var index = line.startIndex
        while index < line.endIndex {
          characters.append(Glyph(line[index]))
          offsets.append(index)
          index = line.index(after: index)
        }
      }
      offsets.append(line.endIndex)
      parser.offsets = offsets
      try parser.consume(line: characters, text: line, number: number)
      if end == bytes.count { break }
      start = end + 1
    }
    return try parser.finish()
  }

  /// The flow collection (`[a, b]`, `{k: v}`) that starts at Character `start` of `line`, a
  /// line of its own (a command-line argument): its nodes are located on that line, and nothing
  /// but spaces may follow it.
  public static func flowValue(_ line: String, from start: Int, file: String, lineNumber: Int)
    throws -> ConfigNode
  {
    var parser = Parser(file: file)
    parser.lineText = line
    var glyphs: [Glyph] = []
    var offsets: [String.Index] = []
    var index = line.startIndex
    while index < line.endIndex {
      glyphs.append(Glyph(line[index]))
      offsets.append(index)
      index = line.index(after: index)
    }
    offsets.append(line.endIndex)
    parser.offsets = offsets
    guard start < glyphs.count, glyphs[start] == "[" || glyphs[start] == "{" else {
      throw ConfigError(
        "expected a flow collection ('[' or '{')",
        at: SourceLocation(
          file: file, line: lineNumber, column: start + 1, length: 1, lineText: line))
    }
    return try parser.flowCollection(line: glyphs, number: lineNumber, start: start)
  }

  /// One open block: a mapping or a list whose entries start at `indent`.
  struct Frame {
    var indent: Int
    var isSequence: Bool
    var location: SourceLocation
    var entries: [ConfigNode.MappingEntry] = []
    var items: [ConfigNode] = []
    /// Lines of the keys seen, for duplicate detection.
    var keyLines: [String: Int] = [:]
    /// A key written as `key:` whose value is a nested block still to come.
    var pendingKey: (key: String, keyLocation: SourceLocation, valueLocation: SourceLocation)? = nil
    /// A list item written as a bare `-` whose value is a nested block still to come.
    var pendingItem: SourceLocation? = nil
    /// A list opened with its dashes at the parent key's indent (`defaults:\n- a`).
    var atParentIndent = false

    var node: ConfigNode {
      ConfigNode(isSequence ? .sequence(items) : .mapping(entries), at: location)
    }
  }

  struct Parser {
    let file: String
    var stack: [Frame] = []
    var root: ConfigNode? = nil
    var sawContent = false
    var ended = false
    /// The text of the line being read, made once per line and shared by every location on it
    /// (a line of many flow-list items must not copy itself once per item).
    var lineText = ""
    /// Where each Character of the line starts in `lineText` (and its end, last).
    var offsets: [String.Index] = []

    init(file: String) { self.file = file }

    /// The text of Characters `start..<end` of the current line.
    func text(_ start: Int, _ end: Int) -> String {
      guard start >= 0, start <= end, end < offsets.count else { return "" }
      return String(lineText[offsets[start]..<offsets[end]])
    }

    func location(_ line: [Glyph], _ number: Int, _ column: Int, _ length: Int = 1)
      -> SourceLocation
    {
      SourceLocation(
        file: file, line: number, column: column + 1, length: max(1, length), lineText: lineText)
    }

    func error(
      _ message: String, _ line: [Glyph], _ number: Int, _ column: Int, _ length: Int = 1
    ) -> ConfigError {
      ConfigError(message, at: location(line, number, column, length))
    }

    /// One line: its Characters (columns count them) and its text.
    mutating func consume(line: [Glyph], text: String, number: Int) throws {
      guard line.count <= YAMLReader.maximumLineLength else {
        throw ConfigError(
          "line \(number) is \(line.count) characters long; megaplan reads lines up to \(YAMLReader.maximumLineLength) characters",
          at: SourceLocation(
            file: file, line: number, column: 1, length: 1, lineText: String(text.prefix(200))))
      }
      lineText = text
      // Control characters, found on the bytes (cheap) and then located by Character.
      if text.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }),
        let bad = line.indices.first(where: { i in
          self.text(i, i + 1).unicodeScalars.contains {
            ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F
          }
        })
      {
        let hex =
          self.text(bad, bad + 1).unicodeScalars.first.map {
            String($0.value, radix: 16, uppercase: true)
          } ?? "?"
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        throw error(
          "non-printable character \(code) is not allowed in a config file", line, number, bad)
      }
      var indent = 0
      while indent < line.count, line[indent] == " " { indent += 1 }
      if indent < line.count, line[indent] == "\t" {
        throw error("tab in indentation: YAML indents with spaces only", line, number, indent)
      }
      // Blank and comment-only lines.
      guard indent < line.count, line[indent] != "#" else { return }
      let rest = line[indent...]
      if rest.starts(with: ["-", "-", "-"]) && (rest.count == 3 || rest.dropFirst(3).first == " ")
        && indent == 0
      {
        if sawContent {
          throw error("several YAML documents in one file are not supported", line, number, 0, 3)
        }
        return
      }
      if rest.starts(with: [".", ".", "."]) && rest.count == 3 && indent == 0 {
        ended = true
        return
      }
      if ended {
        throw error(
          "content after the document end marker '...' is not supported", line, number, indent)
      }
      if line[indent] == "?" && (indent + 1 == line.count || line[indent + 1] == " ") {
        throw error("complex mapping keys ('? ') are not supported", line, number, indent)
      }
      sawContent = true
      let isDash = line[indent] == "-" && (indent + 1 == line.count || line[indent + 1] == " ")
      try place(line: line, number: number, indent: indent, isDash: isDash)
      if isDash {
        try listItem(line: line, number: number, indent: indent)
      } else {
        try keyValue(line: line, number: number, start: indent)
      }
    }

    /// Closes blocks the line's indentation leaves, opens the block a pending key or item
    /// starts, and checks that the line belongs to the block on top.
    mutating func place(line: [Glyph], number: Int, indent: Int, isDash: Bool) throws {
      if stack.isEmpty {
        if isDash {
          throw error(
            "a config file must be a mapping of keys, found a list item", line, number, indent)
        }
        stack.append(
          Frame(indent: indent, isSequence: false, location: location(line, number, indent)))
        return
      }
      if let rootIndent = stack.first?.indent, indent < rootIndent {
        throw error(
          "inconsistent indentation: \(indent) spaces is less than the first line's \(rootIndent)",
          line, number, indent)
      }
      while stack.count > 1, let indentOfTop = stack.last?.indent, indentOfTop > indent {
        try pop()
      }
      // The top frame is read and changed through `stack[last]`, never through a local copy: a
      // copy shares the frame's entries, and changing the stack's then copies them all
      // (quadratic over many keys).
      var last = stack.count - 1
      guard last >= 0 else { return }
      if stack[last].pendingKey != nil || stack[last].pendingItem != nil {
        let dashAtKeyIndent =
          isDash && !stack[last].isSequence && stack[last].pendingKey != nil
          && indent == stack[last].indent
        if indent > stack[last].indent || dashAtKeyIndent {
          guard stack.count < YAMLReader.maximumDepth else {
            throw error(
              "nesting deeper than \(YAMLReader.maximumDepth) levels is not supported", line,
              number, indent)
          }
          var frame = Frame(
            indent: indent, isSequence: isDash, location: location(line, number, indent))
          frame.atParentIndent = dashAtKeyIndent
          stack.append(frame)
          return
        }
        resolvePendingAsNull(&stack[last])
      }
      if stack[last].atParentIndent && !isDash && indent == stack[last].indent && stack.count > 1 {
        try pop()
        last = stack.count - 1
        guard last >= 0 else { return }
      }
      let top = (indent: stack[last].indent, isSequence: stack[last].isSequence)
      if indent != top.indent {
        if indent > top.indent {
          throw error(
            "unexpected indentation: this line is indented more than the block it is in (\(top.indent) spaces)",
            line, number, indent)
        }
        throw error(
          "inconsistent indentation: \(indent) spaces matches no enclosing block", line, number,
          indent)
      }
      if isDash && !top.isSequence {
        throw error("a list item where a key was expected", line, number, indent)
      }
      if !isDash && top.isSequence {
        throw error("a key where a list item was expected", line, number, indent)
      }
    }

    func resolvePendingAsNull(_ frame: inout Frame) {
      if let pending = frame.pendingKey {
        frame.entries.append(
          ConfigNode.MappingEntry(
            key: pending.key, keyLocation: pending.keyLocation,
            value: ConfigNode(.scalar("", style: .plain), at: pending.valueLocation)))
        frame.pendingKey = nil
      }
      if let pending = frame.pendingItem {
        frame.items.append(ConfigNode(.scalar("", style: .plain), at: pending))
        frame.pendingItem = nil
      }
    }

    /// Closes the top block and attaches it to its parent's pending key or item.
    mutating func pop() throws {
      guard var frame = stack.popLast() else { return }
      resolvePendingAsNull(&frame)
      let node = frame.node
      guard var parent = stack.popLast() else {
        root = node
        return
      }
      if let pending = parent.pendingKey {
        parent.entries.append(
          ConfigNode.MappingEntry(key: pending.key, keyLocation: pending.keyLocation, value: node))
        parent.pendingKey = nil
      } else if parent.pendingItem != nil {
        parent.items.append(node)
        parent.pendingItem = nil
      } else if parent.isSequence {
        // A mapping opened by `- key: value` is the item itself.
        parent.items.append(node)
      }
      stack.append(parent)
    }

    mutating func finish() throws -> ConfigNode {
      while !stack.isEmpty { try pop() }
      return root ?? ConfigNode(.mapping([]), at: SourceLocation(file: file, line: 1, column: 1))
    }

    // MARK: - Lines

    mutating func listItem(line: [Glyph], number: Int, indent: Int) throws {
      var start = indent + 1
      while start < line.count, line[start] == " " { start += 1 }
      guard !stack.isEmpty else {
        throw error("a list item outside any list", line, number, indent)
      }
      if start >= line.count || line[start] == "#" {
        stack[stack.count - 1].pendingItem = location(line, number, indent)
        return
      }
      if line[start] == "-" && (start + 1 == line.count || line[start + 1] == " ") {
        // `- - x`: a list item that is itself a list, its first item on the dash line and the
        // rest below at `start` (PyYAML writes lists of lists so).
        guard stack.count < YAMLReader.maximumDepth else {
          throw error(
            "nesting deeper than \(YAMLReader.maximumDepth) levels is not supported", line, number,
            start)
        }
        stack.append(
          Frame(indent: start, isSequence: true, location: location(line, number, start)))
        try listItem(line: line, number: number, indent: start)
        return
      }
      if let colon = keySeparator(line, from: start) {
        // `- key: value`: a mapping item whose keys sit at `start`.
        guard stack.count < YAMLReader.maximumDepth else {
          throw error(
            "nesting deeper than \(YAMLReader.maximumDepth) levels is not supported", line, number,
            start)
        }
        stack.append(
          Frame(indent: start, isSequence: false, location: location(line, number, start)))
        try keyValue(line: line, number: number, start: start, colon: colon)
        return
      }
      let value = try scalarValue(line: line, number: number, start: start)
      stack[stack.count - 1].items.append(value)
    }

    /// Index of the `:` that ends a key: followed by a space or the end of the line, outside
    /// quotes, brackets and `${…}`.
    func keySeparator(_ line: [Glyph], from start: Int) -> Int? {
      guard start < line.count else { return nil }
      if line[start] == "\"" || line[start] == "'" {
        let quote = line[start]
        var i = start + 1
        while i < line.count {
          if line[i] == "\\" && quote == "\"" { i += 2; continue }
          if line[i] == quote {
            if quote == "'" && i + 1 < line.count && line[i + 1] == "'" { i += 2; continue }
            var j = i + 1
            while j < line.count, line[j] == " " { j += 1 }
            if j < line.count, line[j] == ":", j + 1 == line.count || line[j + 1] == " " {
              return j
            }
            return nil
          }
          i += 1
        }
        return nil
      }
      if line[start] == "[" || line[start] == "{" { return nil }
      var depth = 0
      var i = start
      while i < line.count {
        let c = line[i]
        if c == "#" && i > start && line[i - 1] == " " { return nil }
        if c == "$" && i + 1 < line.count && line[i + 1] == "{" { depth += 1; i += 2; continue }
        if c == "}" && depth > 0 { depth -= 1 }
        if c == ":" && depth == 0 && (i + 1 == line.count || line[i + 1] == " ") { return i }
        i += 1
      }
      return nil
    }

    mutating func keyValue(line: [Glyph], number: Int, start: Int, colon given: Int? = nil)
      throws
    {
      guard let colon = given ?? keySeparator(line, from: start) else {
        throw error(
          "expected 'key: value' (a mapping entry), found '\(text(start, line.count).prefix(40))'",
          line, number, start, line.count - start)
      }
      var keyText = text(start, colon)
      while keyText.hasSuffix(" ") { keyText.removeLast() }
      let keyLocation = location(line, number, start, keyText.count)
      if let first = keyText.first, first == "\"" || first == "'" {
        let (unquoted, _) = try quoted(line: line, number: number, start: start)
        keyText = unquoted
      } else if let first = keyText.first, "&*!|>[{".contains(first) {
        throw error(
          "YAML key syntax '\(first)' (anchors, aliases, tags, flow collections) is not supported",
          line, number, start)
      }
      guard !keyText.isEmpty else { throw error("empty mapping key", line, number, start) }
      if keyText == "<<" {
        throw error("merge keys ('<<') are not supported", line, number, start, 2)
      }
      // The frame is changed in place through `stack[top]`: a local copy would share its
      // dictionary and entries with the stack and copy them on the first write (quadratic).
      let top = stack.count - 1
      guard top >= 0 else { throw error("a key outside any mapping", line, number, start) }
      if let first = stack[top].keyLines[keyText] {
        throw error(
          "duplicate key '\(keyText)' (first at line \(first))", line, number, start, keyText.count)
      }
      stack[top].keyLines[keyText] = number
      var valueStart = colon + 1
      while valueStart < line.count, line[valueStart] == " " { valueStart += 1 }
      if valueStart < line.count, line[valueStart] == "\t" {
        throw error("tab before a value: YAML separates with spaces", line, number, valueStart)
      }
      if valueStart >= line.count || line[valueStart] == "#" {
        stack[top].pendingKey = (
          keyText, keyLocation, location(line, number, min(colon + 1, line.count))
        )
        return
      }
      let value = try scalarValue(line: line, number: number, start: valueStart)
      stack[top].entries.append(
        ConfigNode.MappingEntry(key: keyText, keyLocation: keyLocation, value: value))
    }

    // MARK: - Values

    /// The value starting at `start`: a quoted or plain scalar or a one-line flow collection.
    func scalarValue(line: [Glyph], number: Int, start: Int) throws -> ConfigNode {
      let c = line[start]
      switch c {
      case "\"", "'":
        let (text, end) = try quoted(line: line, number: number, start: start)
        try expectNothingAfter(line: line, number: number, from: end)
        return ConfigNode(
          .scalar(text, style: c == "\"" ? .doubleQuoted : .singleQuoted),
          at: location(line, number, start, end - start))
      case "[", "{":
        return try flowCollection(line: line, number: number, start: start)
      case "&":
        throw error("YAML anchors ('&') are not supported", line, number, start)
      case "*":
        throw error("YAML aliases ('*') are not supported", line, number, start)
      case "!":
        throw error("YAML tags ('!') are not supported", line, number, start)
      case "|", ">":
        throw error(
          "block scalars ('\(text(start, start + 1))') are not supported; write the value on one line",
          line, number,
          start)
      case "%", "@", "`":
        throw error(
          "a plain value cannot start with '\(text(start, start + 1))' in YAML; quote it", line,
          number,
          start)
      case "-" where start + 1 == line.count || line[start + 1] == " ":
        throw error(
          "a list item '-' cannot follow a key on the same line; put the list on the next lines",
          line, number, start)
      default:
        let end = plainEnd(line, from: start)
        // PyYAML rejects ': ' inside a plain value ("mapping values are not allowed here").
        var depth = 0
        for i in start..<end {
          if line[i] == "$" && i + 1 < end && line[i + 1] == "{" { depth += 1 }
          if line[i] == "}" && depth > 0 { depth -= 1 }
          if depth == 0 && line[i] == ":" && (i + 1 == end || line[i + 1] == " ") {
            throw error(
              "':' followed by a space inside the plain value '\(text(start, end).prefix(40))'; quote the value",
              line, number, i)
          }
        }
        return ConfigNode(
          .scalar(text(start, end), style: .plain), at: location(line, number, start, end - start))
      }
    }

    /// A plain scalar ends at ` #` or the end of the line; trailing spaces are not part of it.
    func plainEnd(_ line: [Glyph], from start: Int) -> Int {
      var end = line.count
      var i = start
      while i < line.count {
        if line[i] == "#" && i > start && (line[i - 1] == " " || line[i - 1] == "\t") {
          end = i
          break
        }
        i += 1
      }
      while end > start, line[end - 1] == " " || line[end - 1] == "\t" { end -= 1 }
      return end
    }

    func expectNothingAfter(line: [Glyph], number: Int, from end: Int) throws {
      var i = end
      while i < line.count, line[i] == " " { i += 1 }
      if i < line.count && line[i] != "#" {
        throw error("unexpected text after the quoted value", line, number, i, line.count - i)
      }
    }

    /// A single- or double-quoted scalar on one line; returns the text and the index after it.
    func quoted(line: [Glyph], number: Int, start: Int) throws -> (String, Int) {
      let quote = line[start]
      var out = ""
      var i = start + 1
      while i < line.count {
        let c = line[i]
        if quote == "'" {
          if c == "'" {
            if i + 1 < line.count && line[i + 1] == "'" {
              out.append("'")
              i += 2
              continue
            }
            return (out, i + 1)
          }
          out += text(i, i + 1)
          i += 1
          continue
        }
        if c == "\"" { return (out, i + 1) }
        if c == "\\" {
          guard i + 1 < line.count else { break }
          let e = line[i + 1]
          switch e {
          case "n": out.append("\n")
          case "t": out.append("\t")
          case "r": out.append("\r")
          case "0": out.append("\0")
          case "\\": out.append("\\")
          case "\"": out.append("\"")
          case "/": out.append("/")
          case " ": out.append(" ")
          case "u", "x", "U":
            let width = e == "x" ? 2 : (e == "u" ? 4 : 8)
            guard i + 2 + width <= line.count,
              let code = UInt32(text(i + 2, i + 2 + width), radix: 16),
              let scalar = Unicode.Scalar(code)
            else {
              throw error(
                "invalid \\\(text(i + 1, i + 2)) escape in a double-quoted string", line, number, i,
                2)
            }
            out.unicodeScalars.append(scalar)
            i += 2 + width
            continue
          default:
            throw error(
              "unknown escape '\\\(text(i + 1, i + 2))' in a double-quoted string", line, number, i,
              2
            )
          }
          i += 2
          continue
        }
        out += text(i, i + 1)
        i += 1
      }
      throw error(
        "unclosed \(quote == "\"" ? "double" : "single") quote: the string must end on the same line (multi-line strings are not supported)",
        line, number, start, line.count - start)
    }

    /// A flow collection on one line: `[a, b, 'c']`, `{a: 1, b: [x, y]}`, `{}`, nested to the
    /// depth limit, each scalar located where it is written. Nothing but a comment may follow it.
    func flowCollection(line: [Glyph], number: Int, start: Int) throws -> ConfigNode {
      var i = start
      let node = try flowNode(line: line, number: number, at: &i, depth: stack.count)
      try expectNothingAfter(line: line, number: number, from: i)
      return node
    }

    /// The flow node at `i` (a collection, a quoted or a plain scalar); `i` moves past it.
    /// `inMapping` ends a plain scalar also at `: ` (a key's end).
    func flowNode(
      line: [Glyph], number: Int, at i: inout Int, depth: Int, inMapping: Bool = false
    ) throws -> ConfigNode {
      let c = line[i]
      if c == "[" || c == "{" {
        guard depth < YAMLReader.maximumDepth else {
          throw error(
            "nesting deeper than \(YAMLReader.maximumDepth) levels is not supported", line, number,
            i)
        }
        return c == "["
          ? try flowSequence(line: line, number: number, at: &i, depth: depth + 1)
          : try flowMapping(line: line, number: number, at: &i, depth: depth + 1)
      }
      if c == "\"" || c == "'" {
        let (text, end) = try quoted(line: line, number: number, start: i)
        let node = ConfigNode(
          .scalar(text, style: c == "\"" ? .doubleQuoted : .singleQuoted),
          at: location(line, number, i, end - i))
        i = end
        return node
      }
      switch c {
      case "&": throw error("YAML anchors ('&') are not supported", line, number, i)
      case "*": throw error("YAML aliases ('*') are not supported", line, number, i)
      case "!": throw error("YAML tags ('!') are not supported", line, number, i)
      default: break
      }
      // A plain scalar: up to `,`, `]`, `}` (and in a mapping `: `), outside `${…}`.
      var end = i
      var interpolation = 0
      while end < line.count {
        let d = line[end]
        if d == "$" && end + 1 < line.count && line[end + 1] == "{" {
          interpolation += 1
          end += 2
          continue
        }
        if d == "}" && interpolation > 0 {
          interpolation -= 1
          end += 1
          continue
        }
        if interpolation == 0 {
          if d == "," || d == "]" || d == "}" || d == "[" || d == "{" { break }
          if d == "#" && end > i && line[end - 1] == " " { break }
          if inMapping && d == ":" && (end + 1 == line.count || line[end + 1] == " ") { break }
        }
        end += 1
      }
      var trimmed = end
      while trimmed > i, line[trimmed - 1] == " " { trimmed -= 1 }
      if trimmed == i {
        throw error(
          "empty item in a flow \(inMapping ? "mapping" : "list")", line, number, i)
      }
      let node = ConfigNode(
        .scalar(text(i, trimmed), style: .plain), at: location(line, number, i, trimmed - i))
      i = end
      return node
    }

    func skipSpaces(_ line: [Glyph], _ i: inout Int) {
      while i < line.count, line[i] == " " { i += 1 }
    }

    /// `[a, [b, c], {d: e}]`: `i` at `[`, moved past `]`.
    func flowSequence(line: [Glyph], number: Int, at i: inout Int, depth: Int) throws
      -> ConfigNode
    {
      let start = i
      var items: [ConfigNode] = []
      i += 1
      while true {
        skipSpaces(line, &i)
        guard i < line.count, !(line[i] == "#" && line[i - 1] == " ") else { break }
        if line[i] == "]" {
          i += 1
          return ConfigNode(.sequence(items), at: location(line, number, start, i - start))
        }
        if line[i] == "," { throw error("empty item in a flow list", line, number, i) }
        items.append(try flowNode(line: line, number: number, at: &i, depth: depth))
        skipSpaces(line, &i)
        guard i < line.count else { break }
        if line[i] == "," {
          i += 1
          continue
        }
        if line[i] == "]" { continue }
        if line[i] == "#" { break }
        throw error("expected ',' or ']' in a flow list", line, number, i)
      }
      throw error(
        "unclosed flow list: '[' must be closed by ']' on the same line", line, number, start,
        line.count - start)
    }

    /// `{a: 1, 'b': [x], c: {d: e}}`: `i` at `{`, moved past `}`. Keys are scalars, unique;
    /// `key:` with nothing before the `,` or `}` is null.
    func flowMapping(line: [Glyph], number: Int, at i: inout Int, depth: Int) throws
      -> ConfigNode
    {
      let start = i
      var entries: [ConfigNode.MappingEntry] = []
      var seen: Set<String> = []
      i += 1
      while true {
        skipSpaces(line, &i)
        guard i < line.count, !(line[i] == "#" && line[i - 1] == " ") else { break }
        if line[i] == "}" {
          i += 1
          return ConfigNode(.mapping(entries), at: location(line, number, start, i - start))
        }
        if line[i] == "," { throw error("empty entry in a flow mapping", line, number, i) }
        if line[i] == "[" || line[i] == "{" {
          throw error(
            "complex mapping keys (a collection as a key) are not supported", line,
            number, i)
        }
        let keyStart = i
        let keyNode = try flowNode(
          line: line, number: number, at: &i, depth: depth, inMapping: true)
        guard case .scalar(let key, _) = keyNode.kind else { break }
        if key == "<<" {
          throw error("merge keys ('<<') are not supported", line, number, keyStart, 2)
        }
        guard !seen.contains(key) else {
          throw error(
            "duplicate key '\(key)' in a flow mapping", line, number, keyStart, i - keyStart)
        }
        seen.insert(key)
        skipSpaces(line, &i)
        guard i < line.count, line[i] == ":" else {
          throw error(
            "expected 'key: value' in a flow mapping, found '\(key)' without ':'", line, number,
            keyStart, max(1, i - keyStart))
        }
        i += 1
        skipSpaces(line, &i)
        let value: ConfigNode
        if i < line.count, line[i] == "," || line[i] == "}" {
          value = ConfigNode(.scalar("", style: .plain), at: location(line, number, i))
        } else {
          guard i < line.count else { break }
          value = try flowNode(line: line, number: number, at: &i, depth: depth)
        }
        entries.append(
          ConfigNode.MappingEntry(key: key, keyLocation: keyNode.location, value: value))
        skipSpaces(line, &i)
        guard i < line.count else { break }
        if line[i] == "," {
          i += 1
          continue
        }
        if line[i] == "}" { continue }
        if line[i] == "#" { break }
        throw error("expected ',' or '}' in a flow mapping", line, number, i)
      }
      throw error(
        "unclosed flow mapping: '{' must be closed by '}' on the same line", line, number, start,
        line.count - start)
    }
  }
}

/// One Character of a line as the parser compares it: its value when it is one ASCII scalar,
/// else a marker that equals no ASCII character (YAML's structure is all ASCII), so every
/// comparison is an integer one rather than a Character's (a string comparison). Columns still
/// count Characters, and text is cut from the line by `Parser.text`.
struct Glyph: Equatable, ExpressibleByUnicodeScalarLiteral {
  let code: UInt32
  static let nonASCII: UInt32 = 0xFFFF_FFFF

  init(code: UInt32) { self.code = code }
  init(unicodeScalarLiteral scalar: Unicode.Scalar) { code = scalar.value }
  init(_ c: Character) {
    code =
      c.unicodeScalars.count == 1
      ? c.asciiValue.map(UInt32.init) ?? Glyph.nonASCII
      : Glyph.nonASCII
  }
}
