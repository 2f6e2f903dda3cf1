import Foundation

/// OmegaConf interpolation in one scalar: `${model.hidden_size}`, relative `${.x}` / `${..x}`,
/// the launcher's `${training.…}` mount, and the resolvers NeMo files use (`multiply`,
/// `divide_floor`, `divide_ceil`, `sum`), nested. A value that is exactly one interpolation takes
/// the referenced value's type; text around interpolations makes a string. Depth-bounded;
/// cycles are detected.
struct Interpolation {
  let document: ConfigDocument
  let text: [Character]
  /// Path of the key whose value this is (relative references start from it).
  let keyPath: [String]
  /// References being resolved, outermost first, for cycle detection.
  let visiting: [String]
  let node: ConfigNode
  let cache: ResolutionCache
  var i = 0
  var depth = 0

  static let maximumNesting = 32
  /// Longest string an interpolation may build (references can double a string at each step).
  static let maximumLength = 1_000_000

  init(
    document: ConfigDocument, text: [Character], keyPath: [String], visiting: [String],
    node: ConfigNode, cache: ResolutionCache
  ) {
    self.document = document
    self.text = text
    self.keyPath = keyPath
    self.visiting = visiting
    self.node = node
    self.cache = cache
  }

  enum Part {
    case literal(String)
    case value(ConfigScalar?, ConfigNode)
  }

  var key: String { keyPath.joined(separator: ".") }

  func error(_ message: String) -> ConfigError {
    ConfigError(message, key: key, at: node.location)
  }

  mutating func evaluateWhole() throws -> (ConfigScalar?, ConfigNode) {
    let parts = try parseParts(terminators: [])
    return try combine(parts, argument: false)
  }

  /// Literal text and `${…}` up to a terminator at this level (not consumed) or the end.
  mutating func parseParts(terminators: Set<Character>) throws -> [Part] {
    var parts: [Part] = []
    var literal = ""
    while i < text.count {
      let c = text[i]
      if c == "\\" && i + 2 < text.count && text[i + 1] == "$" && text[i + 2] == "{" {
        literal += "${"
        i += 3
        continue
      }
      if c == "$" && i + 1 < text.count && text[i + 1] == "{" {
        if !literal.isEmpty { parts.append(.literal(literal)) }
        literal = ""
        i += 2
        parts.append(try parseExpression())
        continue
      }
      if terminators.contains(c) { break }
      literal.append(c)
      i += 1
    }
    if !literal.isEmpty { parts.append(.literal(literal)) }
    return parts
  }

  /// After `${`: a reference `path}` or a resolver `name:arg, arg}`.
  mutating func parseExpression() throws -> Part {
    depth += 1
    defer { depth -= 1 }
    guard depth <= Self.maximumNesting else {
      throw error("interpolation in '\(key)' is nested deeper than \(Self.maximumNesting) levels")
    }
    let start = i
    var head = ""
    while i < text.count, text[i] != ":", text[i] != "}" {
      if text[i] == "$" || text[i] == "{" {
        throw error(
          "a reference built from another reference ('${\(String(text[start...]).prefix(40))') is not supported"
        )
      }
      head.append(text[i])
      i += 1
    }
    guard i < text.count else {
      throw error("unclosed interpolation '${\(head)' in '\(key)': missing '}'")
    }
    let name = head.trimmingCharacters(in: .whitespaces)
    if text[i] == "}" {
      i += 1
      return try reference(name)
    }
    i += 1  // ':'
    var args: [(ConfigScalar?, ConfigNode)] = []
    var blank = true  // `${name:}` and `${name: }` have no arguments
    while true {
      let parts = try parseParts(terminators: [",", "}"])
      guard i < text.count else {
        throw error("unclosed resolver '${\(name):' in '\(key)': missing '}'")
      }
      if !parts.allSatisfy({
        if case .literal(let s) = $0 { s.allSatisfy { $0 == " " } } else { false }
      }) {
        blank = false
      }
      args.append(try combine(parts, argument: true))
      let terminator = text[i]
      i += 1
      if terminator == "}" { break }
      blank = false
    }
    if blank { args = [] }
    let result = try apply(name, args)
    return .value(
      result, ConfigNode(.scalar(Self.render(result), style: .plain), at: node.location))
  }

  /// One part alone keeps its type; otherwise the parts are joined as text. Resolver arguments
  /// ignore surrounding spaces, and a literal argument is typed as YAML types a plain scalar.
  func combine(_ parts: [Part], argument: Bool) throws -> (ConfigScalar?, ConfigNode) {
    var kept = parts
    if argument {
      kept = parts.filter {
        if case .literal(let s) = $0 { return !s.allSatisfy { $0 == " " } } else { return true }
      }
    }
    if kept.count == 1, case .value(let scalar, let n) = kept[0] { return (scalar, n) }
    if argument, kept.count == 1, case .literal(let s) = kept[0] {
      let trimmed = s.trimmingCharacters(in: .whitespaces)
      var unquoted = trimmed
      if trimmed.count >= 2, let f = trimmed.first, f == trimmed.last, f == "'" || f == "\"" {
        unquoted = String(trimmed.dropFirst().dropLast())
        return (.string(unquoted), node)
      }
      return (try ConfigDocument.typed(unquoted, at: node.location, key: key), node)
    }
    if argument && kept.isEmpty { return (.null, node) }
    var out = ""
    for part in parts {
      switch part {
      case .literal(let s): out += s
      case .value(let scalar, _):
        guard let scalar else {
          throw error("cannot interpolate a mapping or list into the text of '\(key)'")
        }
        out += Self.render(scalar)
      }
      if out.utf8.count > Self.maximumLength {
        throw error(
          "the text of '\(key)' grows past \(Self.maximumLength) bytes through its references")
      }
    }
    return (.string(out), node)
  }

  static func render(_ scalar: ConfigScalar?) -> String {
    switch scalar {
    case .none: return ""
    case .null: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .int(let n): return String(n)
    case .double(let d): return String(d)
    case .string(let s): return s
    case .mandatory: return "???"
    }
  }

  func reference(_ path: String) throws -> Part {
    var dots = 0
    for c in path { if c == "." { dots += 1 } else { break } }
    let rest = String(path.dropFirst(dots))
    guard !rest.isEmpty else { throw error("empty reference '${\(path)}' in '\(key)'") }
    var target: [String]
    if dots > 0 {
      guard keyPath.count >= dots else {
        throw error("relative reference '${\(path)}' in '\(key)' goes above the top of the file")
      }
      target =
        Array(keyPath.dropLast(dots))
        + rest.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    } else {
      target = document.parts(rest)
    }
    let name = target.joined(separator: ".")
    if let first = visiting.firstIndex(of: name) {
      let cycle = (visiting[first...] + [name]).joined(separator: " → ")
      throw error("interpolation cycle: \(cycle)")
    }
    guard visiting.count < ConfigDocument.maximumResolutionDepth else {
      throw error("'\(key)' follows more than \(ConfigDocument.maximumResolutionDepth) references")
    }
    guard let found = document.node(at: target) else {
      throw error("cannot resolve '${\(path)}' in '\(key)': '\(name)' is not defined in this file")
    }
    let (scalar, resolved) = try document.resolve(
      found, keyPath: target, visiting: visiting + [name], cache: cache)
    return .value(scalar, resolved)
  }

  // MARK: - Resolvers

  enum Number {
    case int(Int), double(Double)
    var double: Double {
      switch self {
      case .int(let n): Double(n)
      case .double(let d): d
      }
    }
  }

  func number(_ arg: (ConfigScalar?, ConfigNode), _ resolver: String) throws -> Number {
    switch arg.0 {
    case .int(let n): return .int(n)
    case .double(let d): return .double(d)
    default:
      throw error("resolver '\(resolver)' in '\(key)' needs numbers, found '\(Self.render(arg.0))'")
    }
  }

  /// The resolvers megaplan knows and how many arguments each takes: NeMo registers each as a
  /// two-argument function (`lambda x, y: x * y`), so OmegaConf calls them with exactly two.
  static let resolverArity: [(name: String, arguments: Int)] = [
    ("multiply", 2), ("divide_floor", 2), ("divide_ceil", 2), ("sum", 2),
  ]

  func unknownResolver(_ name: String) -> ConfigError {
    let names = Self.resolverArity.map(\.name)
    let list = names.dropLast().joined(separator: ", ") + " and " + (names.last ?? "")
    return error("unknown resolver '\(name)' in '\(key)'; megaplan knows \(list)")
  }

  func apply(_ name: String, _ args: [(ConfigScalar?, ConfigNode)]) throws -> ConfigScalar {
    // One rule for every resolver: its name is known and its argument count is its arity.
    guard let arity = Self.resolverArity.first(where: { $0.name == name })?.arguments else {
      throw unknownResolver(name)
    }
    guard args.count == arity else {
      throw error(
        "resolver '\(name)' in '\(key)' takes \(arity) arguments, found \(args.count)")
    }
    switch name {
    case "multiply", "sum":
      let numbers = try args.map { try number($0, name) }
      if numbers.allSatisfy({ if case .int = $0 { return true } else { return false } }) {
        var acc = name == "multiply" ? 1 : 0
        for n in numbers {
          guard case .int(let v) = n else { continue }
          let (r, overflow) =
            name == "multiply"
            ? acc.multipliedReportingOverflow(by: v) : acc.addingReportingOverflow(v)
          if overflow { throw error("resolver '\(name)' in '\(key)' overflows a 64-bit integer") }
          acc = r
        }
        return .int(acc)
      }
      return .double(
        numbers.reduce(name == "multiply" ? 1.0 : 0.0) {
          name == "multiply" ? $0 * $1.double : $0 + $1.double
        })
    case "divide_floor", "divide_ceil":
      let a = try number(args[0], name), b = try number(args[1], name)
      guard b.double != 0 else { throw error("resolver '\(name)' in '\(key)' divides by zero") }
      if case .int(let x) = a, case .int(let y) = b {
        guard !(x == Int.min && y == -1) else {
          throw error("resolver '\(name)' in '\(key)' overflows a 64-bit integer")
        }
        let q = x / y, r = x % y
        if r == 0 { return .int(q) }
        let negative = (r < 0) != (y < 0)
        return .int(name == "divide_floor" ? (negative ? q - 1 : q) : (negative ? q : q + 1))
      }
      let q = a.double / b.double
      let rounded = name == "divide_floor" ? q.rounded(.down) : q.rounded(.up)
      guard rounded.isFinite, abs(rounded) < 9.2e18 else {
        throw error("resolver '\(name)' in '\(key)' gives \(q), not an integer")
      }
      return .int(Int(rounded))
    default:
      throw unknownResolver(name)
    }
  }
}
