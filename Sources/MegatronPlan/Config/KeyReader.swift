/// Typed reads of dotted keys from a `ConfigDocument`, recording each effective value and where
/// it came from. Every failure is a `ConfigError` located at the value.
struct KeyReader {
  let document: ConfigDocument
  private(set) var settings: [EffectiveSetting] = []
  private var recorded: Set<String> = []

  init(document: ConfigDocument) { self.document = document }

  /// The key's last path component, as messages name it (`micro_batch_size`).
  static func leaf(_ key: String) -> String { LayoutViolation.leaf(key) }

  func lookup(_ key: String) throws -> ConfigValue? {
    do {
      return try document.value(at: key)
    } catch let error as ConfigError {
      throw error
    } catch {
      throw ConfigError("cannot read '\(key)': \(error)", key: key)
    }
  }

  /// The text of a scalar as written, before interpolation (`${data_dir}/llama/x.model`): for
  /// values whose unresolvable parts do not matter (the tokenizer file's name).
  func writtenText(_ key: String) -> String? {
    guard let node = document.node(at: document.parts(key)), case .scalar(let text, _) = node.kind
    else { return nil }
    return text
  }

  /// Present with a non-null value (an interpolation that fails to resolve counts as present: reading
  /// it reports why).
  func has(_ key: String) -> Bool {
    do {
      guard let value = try document.value(at: key) else { return false }
      if let scalar = value.scalar, scalar == .null { return false }
      return true
    } catch {
      return true
    }
  }

  /// A config error about `key`, located at its value when the file has one, else at the
  /// nearest enclosing key that is there (`model:`), else at the top of the file.
  func error(_ message: String, key: String) -> ConfigError {
    ConfigError(
      message, key: key, at: (try? document.value(at: key))??.location ?? nearestLocation(key))
  }

  func nearestLocation(_ key: String) -> SourceLocation {
    var parts = document.parts(key)
    while !parts.isEmpty {
      parts.removeLast()
      var node = document.root
      var location: SourceLocation? = nil
      for part in parts {
        guard let entry = node.entry(part) else { location = nil; break }
        location = entry.keyLocation
        node = entry.value
      }
      if let location { return location }
    }
    return SourceLocation(file: document.file, line: 1, column: 1, length: 1, lineText: "")
  }

  mutating func record(_ key: String, _ value: ConfigValue, _ text: String) {
    guard !recorded.contains(key) else { return }
    recorded.insert(key)
    settings.append(
      EffectiveSetting(
        key: key, value: text,
        origin: value.overridden ? .override(value.location) : .file(value.location)))
  }

  mutating func defaulted(_ key: String, _ text: String) {
    guard !recorded.contains(key) else { return }
    recorded.insert(key)
    settings.append(EffectiveSetting(key: key, value: text, origin: .defaulted))
  }

  mutating func derived(_ key: String, _ text: String, why: String) {
    settings.append(EffectiveSetting(key: key, value: text, origin: .derived(why)))
  }

  static func shown(_ scalar: ConfigScalar?) -> String {
    switch scalar {
    case .none: "a mapping or list"
    case .null: "null"
    case .bool(let b): b ? "true" : "false"
    case .int(let i): String(i)
    case .double(let d): String(d)
    case .string(let s): s
    case .mandatory: "???"
    }
  }

  func mandatory(_ key: String, _ value: ConfigValue) -> ConfigError {
    ConfigError(
      "'\(key)' is ??? (mandatory) in this file and megaplan needs it; give it a value or use --set \(key)=…",
      key: key, at: value.location)
  }

  /// A list of names: a YAML list (`[core_attn, mlp]` or a block list), or one string of names
  /// separated by commas or spaces (`core_attn,mlp`, as `--set` and Megatron's `nargs` flags
  /// give it); nil when absent or null. Recorded as the names joined by commas.
  mutating func stringList(_ key: String) throws -> [String]? {
    guard let value = try lookup(key) else { return nil }
    var names: [String] = []
    if let node = document.node(at: document.parts(key)), case .sequence(let items) = node.kind {
      for item in items {
        guard case .scalar(let text, _) = item.kind else {
          throw error("expected a list of names for '\(Self.leaf(key))'", key: key)
        }
        names.append(text)
      }
    } else {
      switch value.scalar {
      case .null: return nil
      case .string(let text):
        let separators = Set(",[] \t'\"")
        names = text.split(whereSeparator: { separators.contains($0) }).map(String.init)
      case .mandatory: throw mandatory(key, value)
      default:
        throw error(
          "expected a list of names for '\(Self.leaf(key))', found \(Self.shown(value.scalar))",
          key: key)
      }
    }
    names = names.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    record(key, value, "[" + names.joined(separator: ", ") + "]")
    return names
  }

  /// An integer or nil when absent or null.
  mutating func optionalInt(_ key: String, record: Bool = false) throws -> Int? {
    guard let value = try lookup(key) else { return nil }
    switch value.scalar {
    case .null: return nil
    case .int(let i):
      if record { self.record(key, value, String(i)) }
      return i
    case .double(let d)
    where d.isFinite && d == d.rounded() && abs(d) <= Double(ConfigLoader.maximumSize):
      // OmegaConf yields floats from `divide` resolvers; a whole float is the integer it equals.
      if record { self.record(key, value, String(Int(d))) }
      return Int(d)
    case .mandatory: throw mandatory(key, value)
    default:
      throw ConfigError(
        "expected an integer for '\(Self.leaf(key))', found '\(Self.shown(value.scalar))'",
        key: key, at: value.location)
    }
  }

  /// A list of integers (`[2, 4]`, or a block list), or nil when absent or null; one integer reads
  /// as a list of one.
  mutating func optionalIntList(_ key: String) throws -> [Int]? {
    guard let node = document.node(at: document.parts(key)) else { return nil }
    guard case .sequence(let items) = node.kind else {
      // A string of integers separated by spaces or commas (a Megatron-LM flag's words).
      if case .string(let text)? = try lookup(key)?.scalar {
        let words = text.split { $0 == " " || $0 == "," }
        let numbers = words.compactMap { Int($0) }
        guard numbers.count == words.count, !numbers.isEmpty else {
          throw error(
            "expected a list of integers for '\(Self.leaf(key))', found '\(text)'", key: key)
        }
        return numbers
      }
      return try optionalInt(key, record: true).map { [$0] }
    }
    var out: [Int] = []
    for i in items.indices {
      guard let n = try optionalInt("\(key).\(i)") else {
        throw error("expected a list of integers for '\(Self.leaf(key))'", key: key)
      }
      out.append(n)
    }
    settings.append(
      EffectiveSetting(
        key: key, value: "[" + out.map(String.init).joined(separator: ", ") + "]",
        origin: .file(node.location)))
    return out
  }

  /// A positive integer no larger than `ConfigLoader.maximumSize`; required unless `default` is given.
  mutating func size(
    _ key: String, default fallback: Int? = nil, why: String? = nil, missing: String? = nil
  ) throws -> Int {
    guard let n = try optionalInt(key, record: true) else {
      guard let fallback else {
        // A key written as `num_layers: null` (or left empty) is pointed at on its own line.
        if let value = try lookup(key), value.scalar == .null {
          throw ConfigError(
            "'\(missing ?? key)' is null and megaplan needs a positive integer for it",
            key: key, at: value.location)
        }
        throw ConfigError(
          "missing required key '\(missing ?? key)'", key: key, at: nearestLocation(key))
      }
      defaulted(key, why.map { "\(fallback) (\($0))" } ?? String(fallback))
      return fallback
    }
    if n <= 0 { throw error("\(Self.leaf(key)) must be a positive integer, found \(n)", key: key) }
    if n > ConfigLoader.maximumSize {
      throw error(
        "\(Self.leaf(key)) \(n) exceeds the largest size megaplan accepts (\(ConfigLoader.maximumSize))",
        key: key)
    }
    return n
  }

  mutating func bool(_ key: String, default fallback: Bool, record: Bool = true) throws -> Bool {
    guard let value = try lookup(key) else {
      if record { defaulted(key, String(fallback)) }
      return fallback
    }
    switch value.scalar {
    case .null:
      if record { defaulted(key, String(fallback)) }
      return fallback
    case .bool(let b):
      if record { self.record(key, value, String(b)) }
      return b
    case .mandatory: throw mandatory(key, value)
    default:
      throw ConfigError(
        "expected true or false for '\(Self.leaf(key))', found '\(Self.shown(value.scalar))'",
        key: key, at: value.location)
    }
  }

  /// A string, or nil when absent or null. With `acceptNumbers`, integers read as their text
  /// (`precision: 16`).
  mutating func optionalString(_ key: String, record: Bool = false, acceptNumbers: Bool = false)
    throws -> String?
  {
    guard let value = try lookup(key) else { return nil }
    switch value.scalar {
    case .null: return nil
    case .string(let s):
      if record { self.record(key, value, s) }
      return s
    case .int(let i) where acceptNumbers:
      if record { self.record(key, value, String(i)) }
      return String(i)
    case .mandatory: throw mandatory(key, value)
    default:
      throw ConfigError(
        "expected a name for '\(Self.leaf(key))', found '\(Self.shown(value.scalar))'", key: key,
        at: value.location)
    }
  }

  /// A number (integer or float) and its value, or nil when absent or null.
  func number(_ key: String) throws -> (Double, ConfigValue)? {
    guard let value = try lookup(key) else { return nil }
    switch value.scalar {
    case .null: return nil
    case .int(let i): return (Double(i), value)
    case .double(let d): return (d, value)
    case .mandatory: throw mandatory(key, value)
    default:
      throw ConfigError(
        "expected a number for '\(Self.leaf(key))', found '\(Self.shown(value.scalar))'", key: key,
        at: value.location)
    }
  }

  /// A probability in [0, 1) (dropout), or nil when absent or null.
  mutating func probability(_ key: String) throws -> Double? {
    guard let (number, value) = try number(key) else { return nil }
    guard number >= 0, number < 1 else {
      throw ConfigError(
        "\(Self.leaf(key)) must be a probability in [0, 1), found \(Self.shown(value.scalar))",
        key: key, at: value.location)
    }
    record(key, value, Self.shown(value.scalar))
    return number
  }

  /// A positive finite number (integer or float), or nil when absent or null.
  mutating func positiveNumber(_ key: String) throws -> Double? {
    guard let (number, value) = try number(key) else { return nil }
    guard number.isFinite else {
      throw ConfigError(
        "\(Self.leaf(key)) must be a finite number, found '\(Self.shown(value.scalar))'", key: key,
        at: value.location)
    }
    guard number > 0, number < 1e30 else {
      throw ConfigError(
        "\(Self.leaf(key)) must be a positive number below 1e30, found \(Self.shown(value.scalar))",
        key: key, at: value.location)
    }
    record(key, value, Self.shown(value.scalar))
    return number
  }
}
