/// The machinery of `BridgeConfig.translate`: typed reads of Bridge fields (interpolation
/// resolved, Hydra's `_target_` forms collapsed to values), and the NeMo tree it writes, each
/// key with its source.

/// A Bridge field's value as read.
struct BridgeValue {
  var path: String
  /// The value, with `{_call_: false, _target_: torch.bfloat16}` read as `bf16`, a function as
  /// its name (`silu`), an enum as its `_name_`; nil for a list or a mapping.
  var scalar: ConfigScalar?
  /// The node (resolved).
  var node: ConfigNode
  var location: SourceLocation
  var overridden: Bool

  var isNull: Bool { scalar == .null }

  /// The value as YAML text (for messages).
  var shown: String {
    switch node.kind {
    case .sequence(let items):
      return "["
        + items.map { item -> String in
          if case .scalar(let text, _) = item.kind { return text }
          return "…"
        }.joined(separator: ", ") + "]"
    case .mapping: return scalar.map { KeyReader.shown($0) } ?? "{…}"
    case .scalar: return KeyReader.shown(scalar)
    }
  }
}

struct BridgeTranslator {
  let document: ConfigDocument
  /// NeMo key → the node written and its key's location.
  var entries: [(path: [String], node: ConfigNode, keyLocation: SourceLocation)] = []
  var written: [String: Int] = [:]
  var sources: [String: BridgeSource] = [:]
  var overridden: Set<String> = []
  var warnings: [ConfigWarning] = []
  /// Fields found that are not modeled: the Bridge key, its message, where.
  var refusals: [(key: String, message: String, location: SourceLocation?)] = []
  /// The run's GPUs (`megaplan.num_gpus`), for the data-parallel size `comm_overlap` uses.
  var gpus: Int? = nil
  /// Megatron-FSDP is on (`ddp.use_megatron_fsdp`, `dist.use_megatron_fsdp`).
  var fullySharded = false
  /// Switches whose value in effect comes from another group (`comm_overlap`): the value and
  /// the field that gave it.
  var effective: [String: (value: Bool, path: String)] = [:]

  init(document: ConfigDocument) { self.document = document }

  // MARK: - Reading

  /// The field at `path`, or nil when absent.
  func read(_ path: String) throws -> BridgeValue? {
    guard let value = try document.value(at: path) else { return nil }
    var scalar = value.scalar
    if scalar == nil, case .mapping = value.node.kind {
      scalar = Self.collapsed(value.node)
    }
    return BridgeValue(
      path: path, scalar: scalar, node: value.node, location: value.location,
      overridden: value.overridden)
  }

  /// Present and not null.
  func has(_ path: String) -> Bool {
    do {
      guard let value = try read(path) else { return false }
      return !value.isNull
    } catch {
      return true  // present; reading it reports why it cannot be read
    }
  }

  /// Hydra's encodings of Python values (Megatron-Bridge `utils/yaml_utils.py`): a dtype
  /// `{_call_: false, _target_: torch.bfloat16}` is `bf16`; an enum member
  /// `{_name_: SIGTERM, …}` its name; a function or a `functools.partial` its name (`silu`,
  /// `get_gpt_decoder_block_spec`). nil for a mapping that is a section.
  static func collapsed(_ node: ConfigNode) -> ConfigScalar? {
    guard case .scalar(let target, _)? = node.entry("_target_")?.value.kind else { return nil }
    if case .scalar(let name, _)? = node.entry("_name_")?.value.kind { return .string(name) }
    let isCall: Bool = {
      if case .scalar(let call, _)? = node.entry("_call_")?.value.kind { return call == "false" }
      if case .scalar(let partial, _)? = node.entry("_partial_")?.value.kind {
        return partial == "true"
      }
      return false
    }()
    guard isCall else { return nil }
    if let dtype = dtypeName(target) { return .string(dtype) }
    return .string(String(target.split(separator: ".").last ?? Substring(target)))
  }

  /// `torch.bfloat16` → `bf16`, `torch.float32` → `fp32`, `torch.float16`/`torch.half` →
  /// `fp16`; other `torch.<dtype>` names without the prefix; nil for anything else.
  static func dtypeName(_ text: String) -> String? {
    let parts = text.split(separator: ".")
    guard parts.count == 2, parts[0] == "torch" else {
      return ["bf16", "fp16", "fp32"].contains(text) ? text : nil
    }
    switch parts[1] {
    case "bfloat16": return "bf16"
    case "float32", "float": return "fp32"
    case "float16", "half": return "fp16"
    default: return String(parts[1])
    }
  }

  func typeError(_ value: BridgeValue, _ expected: String) -> ConfigError {
    ConfigError(
      "expected \(expected) for '\(value.path)', found '\(value.shown)'", key: value.path,
      at: value.location)
  }

  /// A boolean field: its value, or `fallback` when absent or null.
  func bool(_ path: String, _ fallback: Bool) throws -> Bool {
    guard let value = try read(path), !value.isNull else { return fallback }
    guard case .bool(let b)? = value.scalar else { throw typeError(value, "true or false") }
    return b
  }

  /// An optional boolean (`comm_overlap`'s fields, where null means "computed").
  func optionalBool(_ path: String) throws -> Bool? {
    guard let value = try read(path), !value.isNull else { return nil }
    guard case .bool(let b)? = value.scalar else { throw typeError(value, "true or false") }
    return b
  }

  /// An integer field, or nil when absent or null.
  func int(_ path: String) throws -> Int? {
    guard let value = try read(path), !value.isNull else { return nil }
    switch value.scalar {
    case .int(let n)?: return n
    case .double(let d)? where d.isFinite && d == d.rounded() && abs(d) <= 1e15: return Int(d)
    default: throw typeError(value, "an integer")
    }
  }

  /// A name field, or nil when absent or null.
  func string(_ path: String) throws -> String? {
    guard let value = try read(path), !value.isNull else { return nil }
    guard case .string(let s)? = value.scalar else { throw typeError(value, "a name") }
    return s
  }

  /// The location of the nearest written ancestor of `path` (the group's key), for values that
  /// come from defaults.
  func nearestLocation(_ path: String) -> SourceLocation {
    var parts = document.parts(path)
    while !parts.isEmpty {
      parts.removeLast()
      var node = document.root
      var location: SourceLocation? = nil
      for part in parts {
        guard let entry = node.entry(part) else {
          location = nil
          break
        }
        location = entry.keyLocation
        node = entry.value
      }
      if let location { return location }
    }
    return SourceLocation(file: document.file, line: 1, column: 1, length: 1, lineText: "")
  }

  /// The location of the key of `path` when written.
  func keyLocation(_ path: String) -> SourceLocation? {
    var node = document.root
    var location: SourceLocation? = nil
    for part in document.parts(path) {
      guard let entry = node.entry(part) else { return nil }
      location = entry.keyLocation
      node = entry.value
    }
    return location
  }

  // MARK: - Writing

  /// A scalar node of the NeMo tree holding `scalar`, typed as the NeMo reader types it.
  static func node(_ scalar: ConfigScalar, at location: SourceLocation) -> ConfigNode {
    let text: String
    var style = ConfigNode.ScalarStyle.plain
    switch scalar {
    case .null: text = "null"
    case .bool(let b): text = b ? "true" : "false"
    case .int(let n): text = String(n)
    case .double(let d):
      text = d.isNaN ? ".nan" : d.isInfinite ? (d < 0 ? "-.inf" : ".inf") : String(d)
    case .string(let s):
      text = s
      style = .singleQuoted
    case .mandatory: text = "???"
    }
    return ConfigNode(.scalar(text, style: style), at: location)
  }

  /// Writes `node` at the NeMo key `nemo`, read from the Bridge field `from` (replacing an
  /// earlier write of the same key).
  mutating func put(
    _ nemo: String, _ node: ConfigNode, from value: BridgeValue?, path: String,
    note: String? = nil, isDefault: Bool = false
  ) {
    let keyLocation = keyLocation(path) ?? node.location
    let entry = (path: nemo.split(separator: ".").map(String.init), node: node, keyLocation)
    if let i = written[nemo] {
      entries[i] = entry
    } else {
      written[nemo] = entries.count
      entries.append(entry)
    }
    sources[nemo] = BridgeSource(path: path, note: note, isDefault: isDefault)
    if value?.overridden == true { overridden.insert(nemo) } else { overridden.remove(nemo) }
  }

  /// Writes a scalar read from `value`.
  mutating func put(
    _ nemo: String, _ scalar: ConfigScalar, from value: BridgeValue, note: String? = nil
  ) {
    put(nemo, Self.node(scalar, at: value.location), from: value, path: value.path, note: note)
  }

  /// Writes a scalar that is not in the file (a default, or derived from several fields),
  /// located at `path`'s value when present, else at its group.
  mutating func put(
    _ nemo: String, _ scalar: ConfigScalar, path: String, note: String?, isDefault: Bool = false,
    overridden: Bool = false
  ) {
    let value = try? read(path)
    let location = value?.location ?? nearestLocation(path)
    put(
      nemo, Self.node(scalar, at: location), from: value, path: path, note: note,
      isDefault: isDefault && value == nil)
    if overridden { self.overridden.insert(nemo) }
  }

  /// Copies the field `bridge` to `nemo` as it is (a scalar, a list of scalars or a list of
  /// lists); with a `fallback` written as Bridge's default when the field is absent.
  mutating func copy(
    _ bridge: String, to nemo: String, default fallback: BridgeDefault? = nil
  ) throws {
    guard let value = try read(bridge) else {
      if let fallback {
        put(nemo, fallback.value, path: bridge, note: fallback.source, isDefault: true)
      }
      return
    }
    if let scalar = value.scalar {
      put(nemo, scalar, from: value)
      return
    }
    put(
      nemo, try Self.resolvedList(value.node, path: bridge, document: document), from: value,
      path: bridge)
  }

  /// A list with every scalar resolved (interpolations in it refer to Bridge paths).
  static func resolvedList(_ node: ConfigNode, path: String, document: ConfigDocument) throws
    -> ConfigNode
  {
    guard case .sequence(let items) = node.kind else { return node }
    var out: [ConfigNode] = []
    for (i, item) in items.enumerated() {
      let itemPath = "\(path).\(i)"
      switch item.kind {
      case .sequence:
        out.append(try resolvedList(item, path: itemPath, document: document))
      case .scalar:
        let scalar = try document.value(at: itemPath)?.scalar ?? .null
        out.append(BridgeTranslator.node(scalar, at: item.location))
      case .mapping:
        out.append(item)
      }
    }
    var list = node
    list.kind = .sequence(out)
    return list
  }

  /// Records a field that changes memory or time and is not modeled.
  mutating func refuse(_ key: String, _ message: String, at location: SourceLocation?) {
    guard !refusals.contains(where: { $0.key == key }) else { return }
    refusals.append((key, message, location))
  }

  /// The NeMo tree: the entries nested into mappings, in the order first written.
  func tree() -> ConfigNode {
    let rootLocation = SourceLocation(
      file: document.file, line: 1, column: 1, length: 1, lineText: "")
    func build(
      _ group: [(path: [String], node: ConfigNode, keyLocation: SourceLocation)], depth: Int,
      at location: SourceLocation
    ) -> ConfigNode {
      var order: [String] = []
      var groups: [String: [(path: [String], node: ConfigNode, keyLocation: SourceLocation)]] = [:]
      for entry in group where entry.path.count > depth {
        let key = entry.path[depth]
        if groups[key] == nil { order.append(key) }
        groups[key, default: []].append(entry)
      }
      var mapping: [ConfigNode.MappingEntry] = []
      for key in order {
        guard let members = groups[key], let first = members.first else { continue }
        if let leaf = members.first(where: { $0.path.count == depth + 1 }) {
          mapping.append(
            ConfigNode.MappingEntry(key: key, keyLocation: leaf.keyLocation, value: leaf.node))
        } else {
          mapping.append(
            ConfigNode.MappingEntry(
              key: key, keyLocation: first.keyLocation,
              value: build(members, depth: depth + 1, at: first.keyLocation)))
        }
      }
      return ConfigNode(.mapping(mapping), at: location)
    }
    return build(entries, depth: 0, at: rootLocation)
  }

  // MARK: - The translation

  mutating func run() throws -> BridgeTranslation {
    try architecture()  // BridgeConfig+Fields.swift
    try parallelism()
    try sequenceAndBatch()
    try vocabulary()
    try hardware()
    let precision = try mixedPrecision()  // BridgeConfig+Precision.swift
    try dataParallel()
    try checkNotModeled(precision: precision)  // BridgeConfig+NotModeled.swift
    if let first = refusals.first {
      var error = ConfigError(first.message, key: first.key, at: first.location)
      if refusals.count > 1 {
        error.note =
          "also not modeled in this file: "
          + refusals.dropFirst().map { item in
            item.message + (item.location.map { " (line \($0.line))" } ?? "")
          }.joined(separator: "; ")
      }
      throw error
    }
    return BridgeTranslation(
      root: tree(), sources: sources, overridden: overridden, warnings: warnings)
  }
}

/// A Megatron-Bridge or Megatron-Core default, and where it is defined.
struct BridgeDefault {
  var value: ConfigScalar
  var source: String
}
