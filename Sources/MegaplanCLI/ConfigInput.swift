import Foundation
import MegatronPlan

/// Reading a config from disk or standard input (NeMo YAML, a Megatron-LM script with
/// `--megatron-args`, a Hugging Face config.json with `--hf-config`), applying `--set`, `--gpus`
/// and `--gpu`, and loading it into a run. File system access lives here, not in the library.
enum ConfigInput {
  /// Largest config file megaplan reads.
  static let maximumFileBytes = 16 << 20
  /// The FILE argument that means standard input, and the name messages give it.
  static let standardInputArgument = "-"
  static let standardInputName = "<stdin>"

  /// A config as read: the name messages use for it (the path, or `<stdin>`) and its text.
  struct Source {
    var name: String
    var text: String
  }

  /// A config read and loaded, with the text and document it came from.
  struct Loaded {
    var source: Source
    var document: ConfigDocument
    var config: LoadedConfig
    /// For a Megatron-Bridge FILE, where each NeMo key came from.
    var bridge: BridgeTranslation? = nil
    /// For a Megatron-Bridge FILE: its own tree, and the tree the run was translated from (override
    /// files and the command line's overrides in).
    var bridgeFile: ConfigNode? = nil
    var bridgeTree: ConfigNode? = nil
    var run: TrainingRun { config.run }
    var settings: [EffectiveSetting] { config.settings }
  }

  /// The text of `path`, or of standard input for `-` (read once; a second `-` gets the same
  /// text).
  static func read(_ path: String, io: CLIOutput) throws -> Source {
    if path == standardInputArgument {
      let data: Data
      do {
        data = try io.standardInput()
      } catch {
        throw ConfigError("cannot read \(standardInputName): \(error)")
      }
      return Source(name: standardInputName, text: try decode(data, name: standardInputName))
    }
    return Source(name: path, text: try readText(path))
  }

  static func readText(_ path: String) throws -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw ConfigError("cannot read '\(path)': no such file")
    }
    if isDirectory.boolValue {
      throw ConfigError("cannot read '\(path)': it is a directory, not a config file")
    }
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw ConfigError("cannot read '\(path)': permission denied or not a regular file")
    }
    defer { try? handle.close() }
    let data = (try? handle.read(upToCount: maximumFileBytes + 1)) ?? Data()
    return try decode(data, name: "'\(path)'")
  }

  /// UTF-8 text of at most `maximumFileBytes`.
  static func decode(_ data: Data, name: String) throws -> String {
    if data.count > maximumFileBytes {
      throw ConfigError(
        "cannot read \(name): larger than \(maximumFileBytes >> 20) MiB, which is no config file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ConfigError("cannot read \(name): not UTF-8 text")
    }
    return text
  }

  /// The command line's overrides in the order they apply: the Hydra-style arguments after
  /// FILE, then `--set KEY=VALUE`. Locations point into the argument itself.
  static func overrides(_ parsed: ParsedArguments) throws -> [ConfigOverride] {
    var out: [ConfigOverride] = []
    for (index, text) in parsed.overrides.enumerated() {
      out.append(try ConfigOverride.parse(hydra: text, index: index))
    }
    for (index, text) in parsed.all("--set").enumerated() {
      guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
        throw UsageError(
          message:
            "--set expects KEY=VALUE (e.g. --set model.tensor_model_parallel_size=4), found '\(text)'"
        )
      }
      out.append(try ConfigOverride.parse(set: text, index: index))
    }
    return out
  }

  /// `overrides` applied in order.
  static func apply(
    _ overrides: [ConfigOverride], to document: inout ConfigDocument, rules: OverrideRules
  ) throws {
    for override in overrides { try document.apply(override, rules: rules) }
  }

  /// Where a value given as an option lies: the option as typed (`--gpu H100`), so a message
  /// about it names the option, not the config key it sets.
  static func optionLocation(_ option: String, _ value: String) -> SourceLocation {
    SourceLocation(
      file: option, line: 1, column: option.count + 2, length: max(1, value.count),
      lineText: "\(option) \(value)")
  }

  /// `--gpus N` and `--gpu NAME` as overrides of the keys they stand for, located at the option.
  static func applyOptions(
    _ parsed: ParsedArguments, applyGPUCount: Bool, to document: inout ConfigDocument
  ) throws {
    if applyGPUCount, let text = parsed.value("--gpus") {
      let gpus = try parsed.positiveInt("--gpus") ?? 1
      let location = optionLocation("--gpus", text)
      try document.override("trainer.num_nodes", with: "1", location: location)
      try document.override("trainer.devices", with: String(gpus), location: location)
    }
    if let gpu = parsed.value("--gpu") {
      // Quoted, so the name stays a name (`--gpu null` is an unknown GPU, not "no GPU given").
      try document.override(
        "megaplan.gpu", with: "'\(gpu)'", location: optionLocation("--gpu", gpu))
    }
  }

  /// `--hardware FILE`: the profile's `megaplan.hardware` in place of the config's
  /// (`HardwareProfile`), before any override (so `--set megaplan.hardware.…` still adjusts it).
  static func applyHardware(_ parsed: ParsedArguments, to root: inout ConfigNode) throws
    -> [ConfigWarning]
  {
    guard let path = parsed.value("--hardware") else { return [] }
    let profile = try ConfigDocument.parse(readText(path), file: path)
    let (applied, warnings) = try HardwareProfile.applying(profile, to: root)
    root = applied
    return warnings
  }

  /// Reads, overrides and loads; warnings go to `io`'s stderr. `mergeFiles` are override YAML
  /// merged over a Megatron-Bridge FILE (by default the positional arguments after FILE).
  static func load(
    path: String, parsed: ParsedArguments, io: CLIOutput, applyGPUCount: Bool = true,
    mergeFiles: [String]? = nil
  ) throws -> Loaded {
    let source = try read(path, io: io)
    var document: ConfigDocument
    var bridge: BridgeTranslation? = nil
    var bridgeTrees: (file: ConfigNode, tree: ConfigNode)? = nil
    var hardwareWarnings: [ConfigWarning] = []
    let overrides = try overrides(parsed)
    let merges = mergeFiles ?? Array(parsed.positional.dropFirst())
    // --hf-config without FILE: config.json is the whole input (CLI.singleFile gives its path).
    let hfAlone = parsed.has("--hf-config") && parsed.positional.isEmpty
    if hfAlone && parsed.has("--megatron-args") {
      throw UsageError(message: "--megatron-args needs FILE, the Megatron-LM script")
    }
    if parsed.has("--megatron-args") {
      if parsed.has("--bridge") {
        throw UsageError(message: "--bridge and --megatron-args name different inputs; give one")
      }
      let root = try MegatronArguments.parse(
        source.text, file: source.name,
        gpus: applyGPUCount ? try parsed.positiveInt("--gpus") : nil,
        gpuName: parsed.value("--gpu"))
      document = ConfigDocument(root: root, file: source.name)
      hardwareWarnings = try applyHardware(parsed, to: &document.root)
    } else if hfAlone {
      document = ConfigDocument(
        root: try HuggingFaceConfig.standalone(source.text, file: source.name), file: source.name)
      hardwareWarnings = try applyHardware(parsed, to: &document.root)
      try applyOptions(parsed, applyGPUCount: applyGPUCount, to: &document)
    } else {
      document = try ConfigDocument.parse(source.text, file: source.name)
      if parsed.has("--bridge") || BridgeConfig.isContainer(document.root) {
        let file = document.root
        let (translation, tree) = try loadBridge(
          &document, merges: merges, overrides: overrides, parsed: parsed,
          applyGPUCount: applyGPUCount, hardwareWarnings: &hardwareWarnings)
        bridge = translation
        bridgeTrees = (file, tree)
      } else {
        hardwareWarnings = try applyHardware(parsed, to: &document.root)
        try applyOptions(parsed, applyGPUCount: applyGPUCount, to: &document)
      }
    }
    if bridge == nil, let extra = merges.first {
      throw UsageError(
        message:
          "'\(extra)': files after FILE are override YAML merged over a Megatron-Bridge config; \(source.name) is not one (pass key=value overrides or --set instead)"
      )
    }
    if let hf = parsed.value("--hf-config"), !hfAlone {
      // config.json supplies the model's shape, FILE the rest (config.json wins for the model).
      document.root = try HuggingFaceConfig.merged(readText(hf), file: hf, into: document.root)
    }
    if bridge == nil { try apply(overrides, to: &document, rules: ConfigLoader.overrideRules) }
    let loaded: LoadedConfig
    do {
      loaded = try ConfigLoader.load(document)
    } catch var error as ConfigError
      where parsed.has("--megatron-args") && !parsed.has("--gpus") && error.note == nil
      && (error.key == "trainer.num_nodes" || error.key == "trainer.devices")
    {
      // A launch script's own GPU count that cannot hold its layout (a template's NUM_NODES=1
      // with t 8 p 16): the count to run on comes from the command line.
      error.note = MegatronArguments.gpuCountNote
      throw error
    } catch var error as ConfigError where bridge != nil {
      // Name the Bridge field the NeMo key was read from.
      if let key = error.key, let field = bridge?.bridgeKey(for: key), field != key {
        error.key = field
        if error.note == nil {
          error.note = "megaplan reads Megatron-Bridge's '\(field)' as '\(key)'"
        }
      }
      throw error
    }
    // One write for all warnings (a file of many unknown keys must not cost a write each),
    // the first few dozen one by one and the rest counted.
    let warnings = hardwareWarnings + (bridge?.warnings ?? []) + loaded.warnings
    if !warnings.isEmpty { io.err(ConfigWarning.rendered(warnings)) }
    return Loaded(
      source: source, document: document, config: loaded, bridge: bridge,
      bridgeFile: bridgeTrees?.file, bridgeTree: bridgeTrees?.tree)
  }

  /// A Megatron-Bridge FILE: override YAML merged over it, `--gpus`/`--gpu` as
  /// `megaplan.num_gpus`/`megaplan.gpu`, the command line's overrides, then the translation
  /// into the NeMo tree (`BridgeConfig.translate`), which replaces `document`.
  static func loadBridge(
    _ document: inout ConfigDocument, merges: [String], overrides: [ConfigOverride],
    parsed: ParsedArguments, applyGPUCount: Bool, hardwareWarnings: inout [ConfigWarning]
  ) throws -> (BridgeTranslation, ConfigNode) {
    for path in merges {
      let text = try readText(path)
      let over = try ConfigDocument.parse(text, file: path)
      document.root = ConfigDocument.merged(document.root, over.root)
    }
    hardwareWarnings = try applyHardware(parsed, to: &document.root)
    let rules = BridgeConfig.overrideRules(original: document.root)
    var options: [ConfigOverride] = []
    if applyGPUCount, let text = parsed.value("--gpus") {
      let gpus = try parsed.positiveInt("--gpus") ?? 1
      let location = optionLocation("--gpus", text)
      options.append(
        ConfigOverride(
          syntax: .set, operation: .forceAdd, key: "megaplan.num_gpus",
          value: ConfigNode(.scalar(String(gpus), style: .plain), at: location),
          argument: "--gpus \(text)", location: location, yamlText: String(gpus)))
    }
    if let gpu = parsed.value("--gpu") {
      let location = optionLocation("--gpu", gpu)
      options.append(
        ConfigOverride(
          syntax: .set, operation: .forceAdd, key: "megaplan.gpu",
          value: ConfigNode(.scalar(gpu, style: .singleQuoted), at: location),
          argument: "--gpu \(gpu)", location: location, yamlText: "'\(gpu)'"))
    }
    try apply(options + overrides, to: &document, rules: rules)
    let translation = try BridgeConfig.translate(document)
    let tree = document.root
    var translated = ConfigDocument(root: translation.root, file: document.file)
    translated.markOverridden(translation.overridden)
    document = translated
    return (translation, tree)
  }

}
