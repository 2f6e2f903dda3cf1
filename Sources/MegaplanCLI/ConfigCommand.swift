import MegatronPlan

/// `megaplan config FILE`: the effective configuration megaplan uses, with where each value came
/// from (file:line:column, --set, an option such as --gpu, default, or derived).
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
        Entry(
          key: setting.key, value: try value(of: setting, in: loaded.document),
          source: origin(setting.origin))
      }
      io.out(try JSONOutput.encode(entries) + "\n")
    default:
      io.out("megaplan config: \(loaded.source.name)\n\n")
      let width = (loaded.settings.map(\.key.count).max() ?? 0) + 2
      let valueWidth = min(40, (loaded.settings.map(\.value.count).max() ?? 0) + 2)
      for s in loaded.settings {
        io.out(Format.pad(s.key, width) + Format.pad(s.value, valueWidth) + origin(s.origin) + "\n")
      }
    }
    return ExitCode.success
  }

  /// One setting in `--format json`.
  struct Entry: Encodable {
    var key: String
    var value: Value
    var source: String
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

  static func origin(_ origin: EffectiveSetting.Origin) -> String {
    switch origin {
    case .file(let loc): "\(loc.file):\(loc.line):\(loc.column)"
    // A --set argument, or an option that stands for a key (--gpu h100-sxm), as typed.
    case .override(let loc): loc.file == "--set" ? "--set (\(loc.lineText))" : loc.lineText
    case .defaulted: "default"
    case .derived(let why): "derived: \(why)"
    }
  }
}
