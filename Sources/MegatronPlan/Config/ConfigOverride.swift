/// A command-line override of a config key: `--set KEY=VALUE`, or a Hydra-style argument after
/// the config file as NeMo and Megatron-Bridge launchers take them (`key=value`, `+key=value`,
/// `++key=value`, `~key`, `~key=value`; Hydra 1.3's override grammar). Values are YAML scalars,
/// or one-line flow collections (`[a, b]`, `[[a, b], [c]]`, `{k: v}`), located in the argument
/// itself so an error points at it.
public struct ConfigOverride: Sendable, Equatable {
  /// Which syntax the argument was written in.
  public enum Syntax: Sendable, Equatable {
    /// `--set KEY=VALUE`: any key may be set; a plain value is read as YAML reads it (`a,b` is
    /// one string).
    case set
    /// A Hydra override after FILE: a new key needs `+` unless megaplan reads it, a bare `a,b` is
    /// a sweep (refused), and values are typed as Hydra types them.
    case hydra
  }

  public enum Operation: Sendable, Equatable {
    /// `key=value`: replace the value (a mapping value merges into a mapping).
    case set
    /// `+key=value`: add a key that is absent or null.
    case add
    /// `++key=value`: add or replace.
    case forceAdd
    /// `~key` or `~key=value`: drop the key (with a value, only when it holds that value).
    case delete
  }

  public var syntax: Syntax
  public var operation: Operation
  /// The dotted key as typed (`model.recompute_modules`).
  public var key: String
  /// The value; nil for `~key` without a value.
  public var value: ConfigNode?
  /// The argument as typed.
  public var argument: String
  /// Where the value is (for a deletion without a value, the key).
  public var location: SourceLocation
  /// The value as block-YAML text that reads back to `value` (what `search --emit-config`
  /// writes); nil for a deletion.
  public var yamlText: String?

  public init(
    syntax: Syntax, operation: Operation, key: String, value: ConfigNode?, argument: String,
    location: SourceLocation, yamlText: String?
  ) {
    self.syntax = syntax
    self.operation = operation
    self.key = key
    self.value = value
    self.argument = argument
    self.location = location
    self.yamlText = yamlText
  }

  /// The file name locations of `--set` arguments and of Hydra overrides carry.
  public static let setFile = "--set"
  public static let hydraFile = "<override>"

  public var path: [String] {
    key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
  }

  /// Whether a command-line word after FILE is an override rather than another file: it starts
  /// with `~` or `+`, or is `key=value` with a dotted key of letters, digits, `_`, `-` and `$`.
  public static func isOverride(_ word: String) -> Bool {
    if word.hasPrefix("~") || word.hasPrefix("+") { return true }
    guard let eq = word.firstIndex(of: "=") else { return false }
    let key = word[..<eq]
    return isKeyPath(key)
  }

  static func isKeyPath(_ key: Substring) -> Bool {
    guard !key.isEmpty else { return false }
    return key.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
      !part.isEmpty
        && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-$@".contains($0)) }
    }
  }

  /// `--set KEY=VALUE`, the `index`-th (from 0). A value in `[…]` or `{…}` is a list or a
  /// mapping; a quoted value is a string; anything else a plain YAML scalar.
  public static func parse(set text: String, index: Int) throws -> ConfigOverride {
    guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
      throw ConfigError(
        "--set expects KEY=VALUE (e.g. --set model.tensor_model_parallel_size=4), found '\(text)'")
    }
    let key = String(text[..<eq])
    let raw = String(text[text.index(after: eq)...])
    let column = text.distance(from: text.startIndex, to: eq) + 1
    let location = SourceLocation(
      file: setFile, line: index + 1, column: column + 1, length: max(1, raw.count),
      lineText: text)
    guard key.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty })
    else {
      throw ConfigError(
        "--set key '\(key)' is not a dotted key path like model.hidden_size", key: key,
        at: location)
    }
    if let first = raw.first, first == "[" || first == "{" {
      let node = try YAMLReader.flowValue(
        text, from: column, file: setFile, lineNumber: index + 1)
      return ConfigOverride(
        syntax: .set, operation: .set, key: key, value: node, argument: text, location: location,
        yamlText: raw)
    }
    var style = ConfigNode.ScalarStyle.plain
    var value = raw
    if raw.count >= 2, let first = raw.first, first == raw.last, first == "\"" || first == "'" {
      style = first == "\"" ? .doubleQuoted : .singleQuoted
      value = String(raw.dropFirst().dropLast())
    }
    return ConfigOverride(
      syntax: .set, operation: .set, key: key,
      value: ConfigNode(.scalar(value, style: style), at: location), argument: text,
      location: location, yamlText: yamlScalar(raw))
  }

  /// A Hydra override, the `index`-th (from 0).
  public static func parse(hydra text: String, index: Int) throws -> ConfigOverride {
    var body = Substring(text)
    var operation = Operation.set
    if body.hasPrefix("++") {
      operation = .forceAdd
      body = body.dropFirst(2)
    } else if body.hasPrefix("+") {
      operation = .add
      body = body.dropFirst()
    } else if body.hasPrefix("~") {
      operation = .delete
      body = body.dropFirst()
    }
    let prefix = text.count - body.count
    let eq = body.firstIndex(of: "=")
    let key = String(body[..<(eq ?? body.endIndex)])
    func at(_ column: Int, _ length: Int) -> SourceLocation {
      SourceLocation(
        file: hydraFile, line: index + 1, column: column + 1, length: max(1, length),
        lineText: text)
    }
    guard isKeyPath(Substring(key)) else {
      throw ConfigError(
        "override '\(text)' is not KEY=VALUE, +KEY=VALUE, ++KEY=VALUE or ~KEY with a dotted key like model.tensor_model_parallel_size",
        at: at(prefix, max(1, key.count)))
    }
    guard let eq else {
      guard operation == .delete else {
        throw ConfigError(
          "override '\(text)' has no value: write \(text)=VALUE", key: key,
          at: at(prefix, key.count))
      }
      return ConfigOverride(
        syntax: .hydra, operation: .delete, key: key, value: nil, argument: text,
        location: at(prefix, key.count), yamlText: nil)
    }
    let raw = String(body[body.index(after: eq)...])
    let column = prefix + key.count + 1
    let location = at(column, raw.count)
    if operation == .delete && raw.isEmpty {
      return ConfigOverride(
        syntax: .hydra, operation: .delete, key: key, value: nil, argument: text,
        location: at(prefix, key.count), yamlText: nil)
    }
    let (node, yaml) = try hydraValue(raw, in: text, column: column, location: location)
    return ConfigOverride(
      syntax: .hydra, operation: operation, key: key, value: node, argument: text,
      location: location, yamlText: yaml)
  }

  /// A Hydra value and the YAML text that reads back to it: empty is `''`; `[…]`/`{…}` a flow
  /// collection; a quoted value a string; otherwise Hydra's primitives (null, true, false
  /// case-insensitive; integers and floats; `inf`, `nan`) or an unquoted string, quoted for YAML
  /// when YAML would type the text otherwise (`yes`, `0x10`). An unquoted `,` outside brackets is
  /// a Hydra choice sweep, which Megatron-Bridge refuses.
  static func hydraValue(_ raw: String, in text: String, column: Int, location: SourceLocation)
    throws -> (ConfigNode, String)
  {
    if raw.isEmpty {
      return (ConfigNode(.scalar("", style: .singleQuoted), at: location), "''")
    }
    if let first = raw.first, first == "[" || first == "{" {
      let node = try YAMLReader.flowValue(
        text, from: column, file: location.file, lineNumber: location.line)
      return (node, raw)
    }
    if raw.count >= 2, let first = raw.first, first == raw.last, first == "\"" || first == "'" {
      let inner = String(raw.dropFirst().dropLast())
      let style: ConfigNode.ScalarStyle = first == "\"" ? .doubleQuoted : .singleQuoted
      return (ConfigNode(.scalar(inner, style: style), at: location), yamlScalar(raw))
    }
    // Hydra's escapes in unquoted values (`\,` `\=` `\ ` …); an unescaped comma is a sweep.
    var out = ""
    var escaped = false
    for c in raw {
      if escaped {
        out.append(c)
        escaped = false
      } else if c == "\\" {
        escaped = true
      } else if c == "," {
        throw ConfigError(
          "'\(raw)' is a Hydra choice sweep (values separated by ','), which Megatron-Bridge refuses; quote a value that holds commas ('\(raw)')",
          at: location)
      } else {
        out.append(c)
      }
    }
    let lower = out.lowercased()
    if lower == "null" { return (ConfigNode(.scalar("null", style: .plain), at: location), "null") }
    if lower == "true" || lower == "false" {
      return (ConfigNode(.scalar(lower, style: .plain), at: location), lower)
    }
    if ["inf", "+inf"].contains(lower) {
      return (ConfigNode(.scalar(".inf", style: .plain), at: location), ".inf")
    }
    if lower == "-inf" {
      return (ConfigNode(.scalar("-.inf", style: .plain), at: location), "-.inf")
    }
    if lower == "nan" {
      return (ConfigNode(.scalar(".nan", style: .plain), at: location), ".nan")
    }
    if isHydraNumber(out) {
      return (ConfigNode(.scalar(out, style: .plain), at: location), out)
    }
    // A string: plain when YAML reads the text as that string, else quoted.
    let typed = try? ConfigDocument.typed(out, at: location, key: "")
    if case .string? = typed, out == raw {
      return (ConfigNode(.scalar(out, style: .plain), at: location), yamlScalar(out))
    }
    return (
      ConfigNode(.scalar(out, style: .singleQuoted), at: location),
      "'" + out.replacingOccurrences(of: "'", with: "''") + "'"
    )
  }

  /// Hydra's integers (`[+-]?(0|[1-9](_?[0-9])*)`) and floats (`3.14`, `1e-4`, `.5`, `5.`).
  static func isHydraNumber(_ text: String) -> Bool {
    var body = Substring(text)
    if let sign = body.first, sign == "+" || sign == "-" { body = body.dropFirst() }
    guard !body.isEmpty else { return false }
    let chars = Array(body)
    var i = 0
    var digits = 0
    func digit(_ c: Character) -> Bool { c.isASCII && c.isNumber }
    while i < chars.count, digit(chars[i]) || (chars[i] == "_" && digits > 0) {
      if digit(chars[i]) { digits += 1 }
      i += 1
    }
    var fraction = 0
    if i < chars.count, chars[i] == "." {
      i += 1
      while i < chars.count, digit(chars[i]) {
        fraction += 1
        i += 1
      }
    }
    guard digits + fraction > 0 else { return false }
    if i < chars.count, chars[i] == "e" || chars[i] == "E" {
      i += 1
      if i < chars.count, chars[i] == "+" || chars[i] == "-" { i += 1 }
      var exponent = 0
      while i < chars.count, digit(chars[i]) {
        exponent += 1
        i += 1
      }
      guard exponent > 0 else { return false }
    }
    return i == chars.count
  }
}

/// How overrides change a document.
public struct OverrideRules: Sendable {
  /// For Hydra overrides: whether `key` (dotted) may be set though the file does not have it —
  /// a key megaplan reads. Hydra's struct mode refuses new keys without `+`; megaplan's files
  /// leave most keys to their defaults, so a key megaplan reads counts as present.
  public var isKnown: @Sendable (String) -> Bool
  /// `~key`: the value to go back to (Megatron-Bridge: the file's, as its dataclass keeps it),
  /// or nil to drop the key (NeMo: its default applies).
  public var restored: @Sendable ([String]) -> ConfigNode?
  /// A scalar may replace a mapping (`mixed_precision=bf16_mixed` in Megatron-Bridge).
  public var scalarReplacesMapping: Bool
  /// `--set` follows the struct rule too (a key absent and not read is an error), not only
  /// Hydra overrides.
  public var strictSet: Bool
  /// The closest key megaplan reads, for a key refused by the struct rule.
  public var suggestion: @Sendable (String) -> String?

  public init(
    isKnown: @escaping @Sendable (String) -> Bool,
    restored: @escaping @Sendable ([String]) -> ConfigNode? = { _ in nil },
    scalarReplacesMapping: Bool = false, strictSet: Bool = false,
    suggestion: @escaping @Sendable (String) -> String? = { _ in nil }
  ) {
    self.isKnown = isKnown
    self.restored = restored
    self.scalarReplacesMapping = scalarReplacesMapping
    self.strictSet = strictSet
    self.suggestion = suggestion
  }
}

extension ConfigLoader {
  /// The rules for overrides of a NeMo document (or a Megatron-LM script read into one): a
  /// Hydra override may set a key the file lacks when megaplan reads it (a key of `knownKeys`,
  /// or below one); `~key` drops the key, so NeMo's default applies.
  public static let overrideRules = OverrideRules(
    isKnown: { key in
      let parts = key.split(separator: ".").map(String.init)
      guard parts.count >= 2 else { return false }
      let known =
        (ConfigLoader.knownKeys[parts[0]] ?? []) + (ConfigLoader.ignoredKeyChecks[parts[0]] ?? [])
      return known.contains(parts[1])
    },
    suggestion: { key in
      let parts = key.split(separator: ".").map(String.init)
      guard parts.count == 2, let known = ConfigLoader.knownKeys[parts[0]] else { return nil }
      return Suggestion.closest(to: parts[1], in: known).map { "\(parts[0]).\($0)" }
    })
}

extension ConfigDocument {
  /// Marks keys as set by an override (a translated document whose source fields were).
  public mutating func markOverridden(_ keys: Set<String>) {
    overriddenPaths.formUnion(keys)
  }

  /// Applies one override (see `ConfigOverride` and `OverrideRules`), recording the key as
  /// overridden.
  public mutating func apply(_ override: ConfigOverride, rules: OverrideRules) throws {
    let p = parts(override.key)
    guard !p.isEmpty, p.count <= ConfigDocument.maximumResolutionDepth else {
      throw ConfigError(
        "override key '\(override.key)' is not a dotted key path like model.hidden_size",
        key: override.key, at: override.location)
    }
    let existing = node(at: p)
    let isNull: Bool = {
      guard let existing, case .scalar(let text, .plain) = existing.kind else { return false }
      return ["", "~", "null", "Null", "NULL"].contains(text)
    }()
    let key = override.key
    switch override.operation {
    case .delete:
      guard let existing, !isNull else {
        throw ConfigError(
          "cannot delete '\(key)': it does not exist in the config (or is null)", key: key,
          at: override.location)
      }
      if let expected = override.value {
        let same = try Self.sameValue(existing, expected, key: key)
        guard same else {
          throw ConfigError(
            "cannot delete '\(key)': it does not hold the value given (\(override.argument))",
            key: key, at: override.location)
        }
      }
      root = try Self.replacing(
        at: p[...], in: root, with: rules.restored(p), full: p, location: override.location,
        rules: rules)
      overriddenPaths.remove(p.joined(separator: "."))
      return
    case .add:
      if existing != nil, !isNull, let value = override.value, case .scalar = value.kind,
        case .scalar? = existing?.kind
      {
        throw ConfigError(
          "cannot add '\(key)': it already holds a value; override it with \(key)=…", key: key,
          at: override.location)
      }
    case .set:
      if override.syntax == .hydra || rules.strictSet, existing == nil,
        !rules.isKnown(p.joined(separator: "."))
      {
        let hint = rules.suggestion(key).map { "did you mean '\($0)'? or " } ?? ""
        throw ConfigError(
          "cannot override '\(key)': the config has no such key and megaplan does not read it; \(hint)add it with +\(key)=…",
          key: key, at: override.location)
      }
    case .forceAdd:
      break
    }
    guard let value = override.value else { return }
    if case .scalar = value.kind, let existing, case .mapping = existing.kind,
      !rules.scalarReplacesMapping
    {
      throw ConfigError(
        "cannot set '\(key)' to a value: it is a mapping in the config", key: key,
        at: override.location)
    }
    var placed = value
    if case .mapping = value.kind, let existing, case .mapping = existing.kind {
      placed = Self.merged(existing, value)  // Hydra merges a mapping into a mapping
    }
    root = try Self.replacing(
      at: p[...], in: root, with: placed, full: p, location: override.location, rules: rules)
    overriddenPaths.insert(p.joined(separator: "."))
  }

  /// Whether two nodes hold the same value (scalars typed as YAML types them).
  static func sameValue(_ a: ConfigNode, _ b: ConfigNode, key: String) throws -> Bool {
    switch (a.kind, b.kind) {
    case (.scalar(let x, let sx), .scalar(let y, let sy)):
      let tx: ConfigScalar = sx == .plain ? try typed(x, at: a.location, key: key) : .string(x)
      let ty: ConfigScalar = sy == .plain ? try typed(y, at: b.location, key: key) : .string(y)
      return tx == ty
    case (.sequence(let xs), .sequence(let ys)):
      guard xs.count == ys.count else { return false }
      for (x, y) in zip(xs, ys) where try !sameValue(x, y, key: key) { return false }
      return true
    case (.mapping(let xs), .mapping(let ys)):
      guard xs.count == ys.count else { return false }
      for x in xs {
        guard let y = b.entry(x.key), try sameValue(x.value, y.value, key: key) else {
          return false
        }
      }
      return true
    default:
      return false
    }
  }

  /// `over` merged into `base` as OmegaConf merges: mappings key by key (recursively), anything
  /// else replaced.
  public static func merged(_ base: ConfigNode, _ over: ConfigNode) -> ConfigNode {
    guard case .mapping(var entries) = base.kind, case .mapping(let overEntries) = over.kind
    else { return over }
    for entry in overEntries {
      if let i = entries.firstIndex(where: { $0.key == entry.key }) {
        entries[i].value = merged(entries[i].value, entry.value)
      } else {
        entries.append(entry)
      }
    }
    var out = base
    out.kind = .mapping(entries)
    return out
  }

  /// `node` with the value at `path` replaced by `value` (removed when nil), creating the
  /// mappings on the way; a numeric part indexes a list.
  static func replacing(
    at path: ArraySlice<String>, in node: ConfigNode, with value: ConfigNode?, full: [String],
    location: SourceLocation, rules: OverrideRules
  ) throws -> ConfigNode {
    let keyPath = full.joined(separator: ".")
    guard let part = path.first else { return value ?? node }
    let rest = path.dropFirst()
    let depth = full.count - path.count
    switch node.kind {
    case .sequence(var items):
      guard let index = Int(part), index >= 0, index < items.count else {
        throw ConfigError(
          "cannot set '\(keyPath)': '\(full.prefix(depth).joined(separator: "."))' is a list of \(items.count) items and '\(part)' is not one of its indices",
          key: keyPath, at: location)
      }
      if rest.isEmpty, value == nil {
        items.remove(at: index)
      } else {
        items[index] = try replacing(
          at: rest, in: items[index], with: value, full: full, location: location, rules: rules)
      }
      var out = node
      out.kind = .sequence(items)
      return out
    case .mapping(var entries):
      let i = entries.firstIndex { $0.key == part }
      if rest.isEmpty {
        if let value {
          if let i {
            entries[i].value = value
          } else {
            entries.append(
              ConfigNode.MappingEntry(key: part, keyLocation: location, value: value))
          }
        } else if let i {
          entries.remove(at: i)
        }
      } else {
        guard value != nil || i != nil else { return node }
        var child = i.map { entries[$0].value } ?? ConfigNode(.mapping([]), at: location)
        if case .scalar(let text, .plain) = child.kind,
          ["", "~", "null", "Null", "NULL"].contains(text)
        {
          child = ConfigNode(.mapping([]), at: location)
        }
        let updated = try replacing(
          at: rest, in: child, with: value, full: full, location: location, rules: rules)
        if let i {
          entries[i].value = updated
        } else {
          entries.append(ConfigNode.MappingEntry(key: part, keyLocation: location, value: updated))
        }
      }
      var out = node
      out.kind = .mapping(entries)
      return out
    case .scalar:
      throw ConfigError(
        "cannot set '\(keyPath)': '\(full.prefix(depth).joined(separator: "."))' is a value, not a mapping",
        key: keyPath, at: location)
    }
  }
}
