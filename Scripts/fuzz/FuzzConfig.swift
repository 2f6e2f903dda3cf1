// libFuzzer entry for the config reader: every input, of any size or shape, must be read or
// rejected with a ConfigError — never crash, trap, hang or recurse without bound.
// Built by Scripts/fuzz-config.sh with the library's sources.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = UnsafeBufferPointer(start: data, count: size)
  let text = String(decoding: bytes, as: UTF8.self)
  guard var document = try? ConfigDocument.parse(text, file: "fuzz.yaml") else { return 0 }
  // Resolve every key path reachable in the tree (bounded), as the loader would.
  var paths: [String] = []
  var queue: [(String, ConfigNode)] = [("", document.root)]
  while let (prefix, node) = queue.popLast(), paths.count < 2_000 {
    if case .mapping(let entries) = node.kind {
      for entry in entries {
        let path = prefix.isEmpty ? entry.key : prefix + "." + entry.key
        paths.append(path)
        queue.append((path, entry.value))
      }
    }
  }
  for path in paths {
    _ = try? document.value(at: path)
    _ = document.keys(under: path)
  }
  if let loaded = try? ConfigLoader.load(document) {
    // A config that loads must also estimate and report without trapping.
    let estimate = Estimate(loaded.run)
    _ = TextReport.estimate(estimate, run: loaded.run, source: "fuzz.yaml")
    _ = try? estimate.json()
  }
  // A Megatron-Bridge ConfigContainer: translated into the NeMo tree, then loaded.
  if BridgeConfig.isContainer(document.root),
    let translation = try? BridgeConfig.translate(document),
    let loaded = try? ConfigLoader.load(ConfigDocument(root: translation.root, file: "fuzz.yaml"))
  {
    _ = Estimate(loaded.run)
  }
  // The first line as a Hydra override and as --set, applied.
  let line = String(text.prefix { $0 != "\n" })
  if let override = try? ConfigOverride.parse(hydra: line, index: 0) {
    try? document.apply(override, rules: ConfigLoader.overrideRules)
  }
  if let override = try? ConfigOverride.parse(set: line, index: 0) {
    try? document.apply(override, rules: BridgeConfig.overrideRules(original: document.root))
  }
  if let first = paths.first {
    try? document.override(
      first, with: "${\(first)}", location: SourceLocation(file: "--set", line: 1, column: 1))
    _ = try? document.value(at: first)
  }
  // The same bytes as a Megatron-LM launch script.
  _ = try? MegatronArguments.parse(text, file: "fuzz.sh")
  return 0
}
