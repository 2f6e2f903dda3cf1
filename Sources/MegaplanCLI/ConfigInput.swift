import Foundation
import MegatronPlan

/// Reading a config from disk (NeMo YAML, a Megatron-LM script with `--megatron-args`, a
/// Hugging Face config.json with `--hf-config`),
/// applying `--set` overrides, and loading it into a run. File system access lives here, not in
/// the library.
enum ConfigInput {
  /// Largest config file megaplan reads.
  static let maximumFileBytes = 16 << 20

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
    if data.count > maximumFileBytes {
      throw ConfigError(
        "cannot read '\(path)': larger than \(maximumFileBytes >> 20) MiB, which is no config file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ConfigError("cannot read '\(path)': not UTF-8 text")
    }
    return text
  }

  /// `--set KEY=VALUE` arguments applied in order. Locations point into the argument itself.
  static func applyOverrides(_ sets: [String], to document: inout ConfigDocument) throws {
    for (index, text) in sets.enumerated() {
      guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
        throw UsageError(
          message:
            "--set expects KEY=VALUE (e.g. --set model.tensor_model_parallel_size=4), found '\(text)'"
        )
      }
      let key = String(text[..<eq])
      let value = String(text[text.index(after: eq)...])
      let column = text.distance(from: text.startIndex, to: eq) + 2
      let location = SourceLocation(
        file: "--set", line: index + 1, column: column, length: max(1, value.count), lineText: text)
      guard key.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty })
      else {
        throw ConfigError(
          "--set key '\(key)' is not a dotted key path like model.hidden_size", key: key,
          at: location)
      }
      try document.override(key, with: value, location: location)
    }
  }

  /// Reads, overrides and loads; warnings go to `io`'s stderr.
  static func load(path: String, parsed: ParsedArguments, io: CLIOutput, applyGPUCount: Bool = true)
    throws -> LoadedConfig
  {
    let text = try readText(path)
    var document: ConfigDocument
    // --hf-config without FILE: config.json is the whole input (CLI.singleFile gives its path).
    let hfAlone = parsed.has("--hf-config") && parsed.positional.isEmpty
    if hfAlone && parsed.has("--megatron-args") {
      throw UsageError(message: "--megatron-args needs FILE, the Megatron-LM script")
    }
    if parsed.has("--megatron-args") {
      let root = try MegatronArguments.parse(
        text, file: path, gpus: applyGPUCount ? try parsed.positiveInt("--gpus") : nil,
        gpuName: parsed.value("--gpu"))
      document = ConfigDocument(root: root, file: path)
    } else {
      document =
        hfAlone
        ? ConfigDocument(root: try HuggingFaceConfig.standalone(text, file: path), file: path)
        : try ConfigDocument.parse(text, file: path)
      if applyGPUCount, let gpus = try parsed.positiveInt("--gpus") {
        try applyOverrides(["trainer.num_nodes=1", "trainer.devices=\(gpus)"], to: &document)
      }
      if let gpu = parsed.value("--gpu") {
        try applyOverrides(["megaplan.gpu=\(gpu)"], to: &document)
      }
    }
    if let hf = parsed.value("--hf-config"), !hfAlone {
      // config.json supplies the model's shape, FILE the rest (config.json wins for the model).
      document.root = try HuggingFaceConfig.merged(readText(hf), file: hf, into: document.root)
    }
    try applyOverrides(parsed.all("--set"), to: &document)
    let loaded = try ConfigLoader.load(document)
    for warning in loaded.warnings { io.err(warning.description + "\n") }
    return loaded
  }
}
