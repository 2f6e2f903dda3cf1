import MegatronPlan

/// `megaplan config FILE`: the effective configuration megaplan uses, with where each value came
/// from (file:line:column, --set, default, or derived).
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
      struct Entry: Encodable { var key: String; var value: String; var source: String }
      let entries = loaded.settings.map {
        Entry(key: $0.key, value: $0.value, source: origin($0.origin))
      }
      io.out(try JSONOutput.encode(entries) + "\n")
    default:
      io.out("megaplan config: \(file)\n\n")
      let width = (loaded.settings.map(\.key.count).max() ?? 0) + 2
      let valueWidth = min(40, (loaded.settings.map(\.value.count).max() ?? 0) + 2)
      for s in loaded.settings {
        io.out(Format.pad(s.key, width) + Format.pad(s.value, valueWidth) + origin(s.origin) + "\n")
      }
    }
    return ExitCode.success
  }

  static func origin(_ origin: EffectiveSetting.Origin) -> String {
    switch origin {
    case .file(let loc): "\(loc.file):\(loc.line):\(loc.column)"
    case .override(let loc): "--set (\(loc.lineText))"
    case .defaulted: "default"
    case .derived(let why): "derived: \(why)"
    }
  }
}
