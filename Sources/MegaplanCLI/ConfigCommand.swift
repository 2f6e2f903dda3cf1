import MegatronPlan

/// `megaplan config FILE`: the effective configuration megaplan uses, with where each value came
/// from (file:line:column, --set, an override, an option such as --gpu, default, or derived).
/// For a Megatron-Bridge FILE each key shows the Bridge field it was read from
/// (`train.micro_batch_size → model.micro_batch_size`) and how, when it is not a copy.
enum ConfigCommand {
  static let options: [OptionSpec] =
    [
      OptionSpec(
        name: "--format", takesValue: true, help: "text (default) or json", valueName: "FORMAT")
    ] + CLI.commonConfigOptions

  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    let format = try parsed.choice("--format", in: ["text", "json"], default: "text")
    let file = try CLI.singleFile(parsed)
    let loaded = try ConfigInput.load(path: file, parsed: parsed, io: io)
    switch format {
    case "json":
      let entries = try loaded.settings.map { setting in
        let source = loaded.bridge?.sources[setting.key]
        return Entry(
          key: setting.key, value: try value(of: setting, in: loaded.document),
          source: origin(setting.origin, source), bridgeKey: source?.path)
      }
      io.out(try JSONOutput.encode(entries) + "\n")
    default:
      io.out("megaplan config: \(loaded.source.name)\n\n")
      let keys = loaded.settings.map { setting -> String in
        guard let source = loaded.bridge?.sources[setting.key], source.path != setting.key else {
          return setting.key
        }
        return "\(source.path) → \(setting.key)"
      }
      let width = (keys.map(\.count).max() ?? 0) + 2
      let valueWidth = min(40, (loaded.settings.map(\.value.count).max() ?? 0) + 2)
      for (key, s) in zip(keys, loaded.settings) {
        let source = loaded.bridge?.sources[s.key]
        io.out(
          Format.pad(key, width) + Format.pad(s.value, valueWidth) + origin(s.origin, source)
            + "\n")
      }
    }
    return ExitCode.success
  }

  /// One setting in `--format json`.
  struct Entry: Encodable {
    var key: String
    var value: Value
    var source: String
    /// The Megatron-Bridge field the key was read from (Bridge input only).
    var bridgeKey: String?

    enum CodingKeys: String, CodingKey {
      case key, value, source
      case bridgeKey = "bridge_key"
    }
  }

  /// A JSON value typed as the config typed it: integers and floats as numbers, booleans as
  /// booleans, null as null, names as strings.
  enum Value: Encodable, Equatable {
    case null, bool(Bool), int(Int), double(Double), string(String)

    func encode(to encoder: Encoder) throws {
      var container = encoder.singleValueContainer()
      switch self {
      case .null: try container.encodeNil()
      case .bool(let b): try container.encode(b)
      case .int(let n): try container.encode(n)
      case .double(let d): try container.encode(d)
      case .string(let s): try container.encode(s)
      }
    }
  }

  /// A value read from the file or an override is typed from its scalar in the document (never
  /// from the text shown); a default or a derived value has only its description, a string.
  static func value(of setting: EffectiveSetting, in document: ConfigDocument) throws -> Value {
    switch setting.origin {
    case .file, .override:
      guard let read = try document.value(at: setting.key), let scalar = read.scalar else {
        return .string(setting.value)
      }
      switch scalar {
      case .null: return .null
      case .bool(let b): return .bool(b)
      case .int(let n): return .int(n)
      case .double(let d): return .double(d)
      case .string(let s): return .string(s)
      case .mandatory: return .string("???")
      }
    case .defaulted, .derived:
      return .string(setting.value)
    }
  }

  static func origin(_ origin: EffectiveSetting.Origin, _ bridge: BridgeSource? = nil) -> String {
    if let bridge, bridge.isDefault, case .file = origin {
      return "default" + (bridge.note.map { " (\($0))" } ?? "")
    }
    let note = bridge?.note.map { " (\($0))" } ?? ""
    switch origin {
    case .file(let loc): return "\(loc.file):\(loc.line):\(loc.column)" + note
    // A --set argument, a Hydra-style override, or an option that stands for a key (--gpu
    // h100-sxm), as typed.
    case .override(let loc):
      switch loc.file {
      case ConfigOverride.setFile: return "--set (\(loc.lineText))" + note
      case ConfigOverride.hydraFile: return "override (\(loc.lineText))" + note
      default: return loc.lineText + note
      }
    case .defaulted: return "default"
    case .derived(let why): return "derived: \(why)"
    }
  }
}
