/// The syntax tree of a config document, before any interpretation: mappings, sequences and
/// scalars, each with the place it came from. Produced by `YAMLReader` (NeMo YAML) and by
/// `MegatronArguments` (Megatron-LM launch scripts), consumed by `ConfigDocument`, which
/// resolves OmegaConf interpolation and typed values.
public struct ConfigNode: Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    /// A scalar as written. `style` says whether it was quoted: a quoted `"1"` is a string,
    /// a plain `1` an integer.
    case scalar(String, style: ScalarStyle)
    /// A mapping, in document order. Keys are unique (the reader rejects duplicates).
    case mapping([MappingEntry])
    case sequence([ConfigNode])
  }

  public enum ScalarStyle: Sendable, Equatable {
    case plain, singleQuoted, doubleQuoted
  }

  public struct MappingEntry: Sendable, Equatable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: ConfigNode
    public init(key: String, keyLocation: SourceLocation, value: ConfigNode) {
      self.key = key
      self.keyLocation = keyLocation
      self.value = value
    }
  }

  public var kind: Kind {
    didSet { index = Self.index(of: kind) }
  }
  /// Where the value starts (for an empty value, just after the key's colon).
  public var location: SourceLocation
  /// For a mapping, the position of each key's first entry, so `entry(_:)` is a dictionary lookup
  /// rather than a scan (a scan per lookup is quadratic over a file of many keys).
  private var index: [String: Int]

  public init(_ kind: Kind, at location: SourceLocation) {
    self.kind = kind
    self.location = location
    self.index = Self.index(of: kind)
  }

  /// Equal when the trees and locations are (the index follows from the tree).
  public static func == (a: ConfigNode, b: ConfigNode) -> Bool {
    a.kind == b.kind && a.location == b.location
  }

  static func index(of kind: Kind) -> [String: Int] {
    guard case .mapping(let entries) = kind, !entries.isEmpty else { return [:] }
    var index: [String: Int] = [:]
    index.reserveCapacity(entries.count)
    for (position, entry) in entries.enumerated() where index[entry.key] == nil {
      index[entry.key] = position
    }
    return index
  }

  /// The entry for `key` when this node is a mapping.
  public func entry(_ key: String) -> MappingEntry? {
    guard case .mapping(let entries) = kind, let position = index[key] else { return nil }
    return entries[position]
  }
}
