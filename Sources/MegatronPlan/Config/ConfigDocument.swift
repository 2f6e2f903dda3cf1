/// A resolved scalar, typed as OmegaConf types a plain YAML scalar (PyYAML's SafeLoader with
/// OmegaConf's float rule: `1e-5` is a float).
public enum ConfigScalar: Sendable, Equatable {
  case null, bool(Bool), int(Int), double(Double), string(String)
  /// OmegaConf's `???` (mandatory, no value yet).
  case mandatory
}

/// A value read from a document, with where it is written.
public struct ConfigValue: Sendable, Equatable {
  /// "model.hidden_size"
  public var path: String
  /// nil when the value is a mapping or a sequence.
  public var scalar: ConfigScalar?
  /// The node as written (for an interpolation, the node it resolved to).
  public var node: ConfigNode
  /// Where the value is written (for an interpolation, the `${…}` text in the file).
  public var location: SourceLocation
  /// It came from `override` (`--set`).
  public var overridden: Bool
}

/// A config document: the syntax tree plus OmegaConf semantics — interpolation (absolute,
/// relative, the launcher's `training.` mount), the resolvers NeMo files use, `???`, and
/// `--set` overrides. Values resolve lazily: a reference that cannot be resolved is an error only
/// when that value is asked for.
public struct ConfigDocument: Sendable {
  public var file: String
  public var root: ConfigNode
  var overriddenPaths: Set<String> = []

  /// Deepest chain of references followed before giving up.
  public static let maximumResolutionDepth = 64

  public init(root: ConfigNode, file: String) {
    self.root = root
    self.file = file
  }

  public static func parse(_ text: String, file: String) throws -> ConfigDocument {
    ConfigDocument(root: try YAMLReader.parse(text, file: file), file: file)
  }

  /// Splits a dotted path; the NeMo launcher mounts each training file under `training:` and
  /// refers to it as `${training.model…}`, so without a top-level `training` key that prefix
  /// means the document root.
  func parts(_ path: String) -> [String] {
    var parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    if parts.first == "training" && parts.count > 1 && root.entry("training") == nil {
      parts.removeFirst()
    }
    return parts
  }

  func node(at parts: [String]) -> ConfigNode? {
    var current = root
    for part in parts {
      switch current.kind {
      case .mapping:
        guard let entry = current.entry(part) else { return nil }
        current = entry.value
      case .sequence(let items):
        guard let index = Int(part), index >= 0, index < items.count else { return nil }
        current = items[index]
      case .scalar:
        return nil
      }
    }
    return current
  }

  public func value(at path: String) throws -> ConfigValue? {
    let p = parts(path)
    guard let node = node(at: p) else { return nil }
    let scalar: ConfigScalar?
    let resolved: ConfigNode
    do {
      (scalar, resolved) = try resolve(
        node, keyPath: p, visiting: [p.joined(separator: ".")], cache: ResolutionCache())
    } catch var error as ConfigError {
      // The failure is in a value this one refers to: say which value needed it.
      let asked = p.joined(separator: ".")
      if let key = error.key, key != asked, error.note == nil {
        error.note = "needed by '\(asked)'"
      }
      throw error
    }
    return ConfigValue(
      path: path, scalar: scalar, node: resolved, location: node.location,
      overridden: isOverridden(p))
  }

  /// Whether the value at `parts` (or a mapping or list holding it) was set by an override.
  func isOverridden(_ parts: [String]) -> Bool {
    guard !overriddenPaths.isEmpty else { return false }
    var path = ""
    for (i, part) in parts.enumerated() {
      path += i == 0 ? part : "." + part
      if overriddenPaths.contains(path) { return true }
    }
    return false
  }

  public func keys(under path: String) -> [String] {
    let target = path.isEmpty ? root : node(at: parts(path))
    guard let target, case .mapping(let entries) = target.kind else { return [] }
    return entries.map(\.key)
  }

  // MARK: - Overrides

  public mutating func override(_ path: String, with text: String, location: SourceLocation) throws
  {
    let p = parts(path)
    guard !p.isEmpty, p.allSatisfy({ !$0.isEmpty }),
      p.count <= ConfigDocument.maximumResolutionDepth
    else {
      throw ConfigError(
        "--set key '\(path)' is not a dotted key path like model.hidden_size", key: path,
        at: location)
    }
    var style = ConfigNode.ScalarStyle.plain
    var value = text
    if text.count >= 2, let first = text.first, first == text.last, first == "\"" || first == "'" {
      style = first == "\"" ? .doubleQuoted : .singleQuoted
      value = String(text.dropFirst().dropLast())
    }
    let leaf = ConfigNode(.scalar(value, style: style), at: location)
    root = try Self.setting(leaf, at: p[...], in: root, full: p, location: location)
    overriddenPaths.insert(p.joined(separator: "."))
  }

  /// `node` with `leaf` placed at `path` (iterative descent, then rebuilt bottom-up).
  static func setting(
    _ leaf: ConfigNode, at path: ArraySlice<String>, in node: ConfigNode, full: [String],
    location: SourceLocation
  ) throws -> ConfigNode {
    // Walk down, remembering each mapping on the way.
    var chain: [ConfigNode] = [node]
    var current = node
    for (depth, part) in path.enumerated() {
      guard current.kind.isMapping else {
        let prefix = full.prefix(depth).joined(separator: ".")
        throw ConfigError(
          "cannot set '\(full.joined(separator: "."))': '\(prefix)' is a value, not a mapping",
          key: full.joined(separator: "."), at: location)
      }
      if depth == path.count - 1 {
        if let existing = current.entry(part) {
          switch existing.value.kind {
          case .mapping, .sequence:
            throw ConfigError(
              "cannot set '\(full.joined(separator: "."))' to a value: it is a \(existing.value.kind.isMapping ? "mapping" : "list") in the file",
              key: full.joined(separator: "."), at: location)
          case .scalar: break
          }
        }
        break
      }
      if let existing = current.entry(part) {
        current = existing.value
        if case .scalar(let text, _) = current.kind,
          text.isEmpty || ["null", "~", "Null", "NULL"].contains(text)
        {
          current = ConfigNode(.mapping([]), at: location)
        }
      } else {
        current = ConfigNode(.mapping([]), at: location)
      }
      chain.append(current)
    }
    // Rebuild bottom-up.
    var built = leaf
    for depth in stride(from: path.count - 1, through: 0, by: -1) {
      let key = path[path.startIndex + depth]
      var parent = chain[depth]
      guard case .mapping(var entries) = parent.kind else { continue }
      if let i = entries.firstIndex(where: { $0.key == key }) {
        entries[i].value = built
      } else {
        entries.append(ConfigNode.MappingEntry(key: key, keyLocation: location, value: built))
      }
      parent.kind = .mapping(entries)
      built = parent
    }
    return built
  }

  // MARK: - Resolution

  func resolve(_ node: ConfigNode, keyPath: [String], visiting: [String], cache: ResolutionCache)
    throws -> (ConfigScalar?, ConfigNode)
  {
    guard case .scalar(let text, let style) = node.kind else { return (nil, node) }
    if text.contains("${") {
      let path = keyPath.joined(separator: ".")
      if let known = cache.values[path] { return known }
      var parser = Interpolation(
        document: self, text: Array(text), keyPath: keyPath, visiting: visiting, node: node,
        cache: cache)
      let result = try parser.evaluateWhole()
      cache.values[path] = result
      return result
    }
    if style != .plain { return (.string(text), node) }
    return (try Self.typed(text, at: node.location, key: keyPath.joined(separator: ".")), node)
  }

  /// Types a plain scalar as PyYAML's SafeLoader (YAML 1.1) with OmegaConf's float rule does.
  static func typed(_ text: String, at location: SourceLocation, key: String) throws -> ConfigScalar
  {
    switch text {
    case "", "~", "null", "Null", "NULL": return .null
    case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
    case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
    case "???": return .mandatory
    case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
    case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
    case ".nan", ".NaN", ".NAN": return .double(.nan)
    default: break
    }
    if let n = try yaml11Integer(text, at: location, key: key) { return .int(n) }
    let chars = Array(text)
    var i = 0
    if chars[0] == "+" || chars[0] == "-" { i = 1 }
    // OmegaConf's float rule: a sign may precede digits but not a bare ".5" (then it is text).
    if i == 1, chars.count > 1, chars[1] == "." { return .string(text) }
    if isFloat(chars[i...]) {
      let clean = String(chars.filter { $0 != "_" })
      if let d = Double(clean) { return .double(d) }
    }
    return .string(text)
  }

  /// PyYAML's YAML 1.1 integers: decimal `0` or `[1-9][0-9_]*`, binary `0b…`, hexadecimal `0x…`,
  /// octal `0[0-7_]+`, and sexagesimal `1:30` (= 90); each with an optional sign. nil when the
  /// text is not one (so `09` stays text, as in PyYAML).
  static func yaml11Integer(_ text: String, at location: SourceLocation, key: String) throws -> Int?
  {
    var body = Substring(text)
    var negative = false
    if let sign = body.first, sign == "+" || sign == "-" {
      negative = sign == "-"
      body = body.dropFirst()
    }
    guard let first = body.first, first.isASCII, first.isNumber else { return nil }
    func digits(_ s: Substring, _ allowed: (Character) -> Bool) -> Bool {
      !s.isEmpty && s.allSatisfy { allowed($0) || $0 == "_" } && s.contains(where: allowed)
    }
    func isDecimal(_ c: Character) -> Bool { c.isASCII && c.isNumber }
    var magnitude: Int?
    var overflow = false
    var signed = false  // magnitude already carries the sign (so Int.min reads)
    func parse(_ s: Substring, radix: Int) {
      let clean = (negative ? "-" : "") + String(s.filter { $0 != "_" })
      if let v = Int(clean, radix: radix) { magnitude = v; signed = true } else { overflow = true }
    }
    if body.hasPrefix("0b"), digits(body.dropFirst(2), { $0 == "0" || $0 == "1" }) {
      parse(body.dropFirst(2), radix: 2)
    } else if body.hasPrefix("0x"), digits(body.dropFirst(2), { $0.isHexDigit }) {
      parse(body.dropFirst(2), radix: 16)
    } else if body == "0" {
      magnitude = 0
    } else if body.hasPrefix("0"), digits(body.dropFirst(), { ("0"..."7").contains($0) }) {
      parse(body.dropFirst(), radix: 8)
    } else if first != "0", body.allSatisfy({ isDecimal($0) || $0 == "_" }) {
      parse(body, radix: 10)
    } else if first != "0", body.contains(":") {
      // Sexagesimal: [1-9][0-9_]*(:[0-5]?[0-9])+
      let parts = body.split(separator: ":", omittingEmptySubsequences: false)
      guard let head = parts.first, digits(head, isDecimal),
        parts.dropFirst().allSatisfy({ p in
          (1...2).contains(p.count) && p.allSatisfy(isDecimal)
            && (p.count == 1 || p.first.map { ("0"..."5").contains($0) } == true)
        })
      else { return nil }
      var value = 0
      for (index, part) in parts.enumerated() {
        let clean = index == 0 ? String(part.filter { $0 != "_" }) : String(part)
        guard let v = Int(clean) else { overflow = true; break }
        let (m, o1) = value.multipliedReportingOverflow(by: index == 0 ? 1 : 60)
        let (sum, o2) = m.addingReportingOverflow(v)
        if o1 || o2 { overflow = true; break }
        value = sum
      }
      if !overflow { magnitude = value }
    } else {
      return nil
    }
    if overflow {
      throw ConfigError(
        "value \(text) overflows a 64-bit integer", key: key.isEmpty ? nil : key, at: location)
    }
    guard let m = magnitude else { return nil }
    return negative && !signed ? -m : m
  }

  /// OmegaConf's float grammar: `(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?`, with a dot
  /// or an exponent present.
  static func isFloat(_ s: ArraySlice<Character>) -> Bool {
    var i = s.startIndex
    func digit(_ c: Character) -> Bool { c.isASCII && c.isNumber }
    var sawDot = false, sawExponent = false, sawDigit = false
    if i < s.endIndex, s[i] == "." {
      sawDot = true
      i += 1
      guard i < s.endIndex, digit(s[i]) else { return false }
    }
    while i < s.endIndex, digit(s[i]) || (s[i] == "_" && sawDigit) {
      sawDigit = true
      i += 1
    }
    if !sawDot, i < s.endIndex, s[i] == "." {
      guard sawDigit else { return false }
      sawDot = true
      i += 1
      while i < s.endIndex, digit(s[i]) || s[i] == "_" { i += 1 }
    }
    guard sawDigit else { return false }
    if i < s.endIndex, s[i] == "e" || s[i] == "E" {
      sawExponent = true
      i += 1
      if i < s.endIndex, s[i] == "+" || s[i] == "-" { i += 1 }
      guard i < s.endIndex, digit(s[i]) else { return false }
      while i < s.endIndex, digit(s[i]) { i += 1 }
    }
    return i == s.endIndex && (sawDot || sawExponent)
  }
}

/// Values already resolved during one `value(at:)`, so a key referenced many times (a chain where
/// each value uses the previous one twice) is resolved once: linear, not exponential.
final class ResolutionCache {
  var values: [String: (ConfigScalar?, ConfigNode)] = [:]
}

extension ConfigNode.Kind {
  var isMapping: Bool {
    if case .mapping = self { return true }
    return false
  }
}
