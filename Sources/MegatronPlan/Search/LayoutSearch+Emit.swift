/// `megaplan search --emit-config OUT.yaml`: the input config with the winner's layout written in.
///
/// A line-level edit of block-style YAML, not a re-serialisation, so comments, key order and
/// everything the search does not own stay as they were: a key that exists gets its value
/// replaced in place (a trailing `# comment` is kept); a missing key is appended at the end of
/// its section (the section is created, at the end of its parent or of the file, when missing).
extension LayoutSearch {
  /// `TrainingRun.nodeShape`.
  public static func nodeShape(gpus: Int, devicesPerNode: Int) -> (nodes: Int, devices: Int) {
    TrainingRun.nodeShape(gpus: gpus, devicesPerNode: devicesPerNode)
  }

  /// The keys and values `emitConfig` writes for `layout` (paths are NeMo's, dot-separated).
  /// `trainer.num_nodes` × `trainer.devices` is `nodeShape(gpus:devicesPerNode:)`.
  /// `model.optim.name` becomes `distributed_fused_adam` with the distributed optimizer; without
  /// it, a distributed optimizer already there becomes `fused_adam`, anything else is kept.
  public static func configValues(
    for layout: Layout, gpusPerNode devicesPerNode: Int, currentOptimizer: String?
  ) -> [(key: String, value: String)] {
    let shape = nodeShape(gpus: layout.gpus, devicesPerNode: devicesPerNode)
    var out: [(String, String)] = [
      ("trainer.num_nodes", String(shape.nodes)),
      ("trainer.devices", String(shape.devices)),
      ("model.micro_batch_size", String(layout.microBatch)),
      ("model.tensor_model_parallel_size", String(layout.tensor)),
      ("model.pipeline_model_parallel_size", String(layout.pipeline)),
      (
        "model.virtual_pipeline_model_parallel_size",
        layout.interleaved ? String(layout.virtualStages) : "null"
      ),
      ("model.sequence_parallel", layout.effectiveSequenceParallel ? "true" : "false"),
    ]
    if layout.contextParallel > 1 {
      out.append(("model.context_parallel_size", String(layout.contextParallel)))
    }
    let values: [String]
    switch layout.recompute {
    case .none: values = ["null", "null", "null"]
    case .selective: values = ["selective", "null", "null"]
    case .full(let method, let k): values = ["full", method.rawValue, String(k)]
    }
    for (key, value) in zip(recomputeKeys(layout), values + values) {
      out.append((key, value))
    }
    if let rank = layout.split.encoderStages, layout.split.encoderLayers != nil {
      // An encoder–decoder model's first decoder stage (0 with p = 1).
      out.append(("model.pipeline_model_parallel_split_rank", String(rank)))
    }
    let distributed = currentOptimizer.map {
      ConfigLoader.distributedOptimizers.contains($0.lowercased())
    }
    if layout.distributedOptimizer {
      if distributed != true { out.append(("model.optim.name", "distributed_fused_adam")) }
    } else if distributed == true {
      out.append(("model.optim.name", "fused_adam"))
    }
    // Full sharding as Megatron-FSDP's strategy (ConfigLoader.readFullySharded reads it).
    if layout.fullySharded {
      out.append(("model.data_parallel_sharding_strategy", "optim_grads_params"))
    }
    // An uneven split's keys (an even split writes none; `emitConfig` clears a file's).
    if !layout.split.isEven { out += layout.split.configValues.map { ($0.key, $0.value) } }
    // Expert parallelism, when the layout has any (ETP defaults to t when absent).
    if layout.expertParallel > 1 || layout.expertTensorParallel != layout.tensor {
      out.append(("model.expert_model_parallel_size", String(layout.expertParallel)))
      out.append(("model.expert_tensor_parallel_size", String(layout.expertTensorParallel)))
    }
    return out.map { (key: $0.0, value: $0.1) }
  }

  /// The recompute keys of a file with `layout`: `model.activations_checkpoint_{granularity,
  /// method,num_layers}`, or for an encoder–decoder model the same under `model.encoder` and
  /// `model.decoder` (NeMo's T5 files set recompute per stack; megaplan reads both, equal).
  static func recomputeKeys(_ layout: Layout) -> [String] {
    let leaves = [
      "activations_checkpoint_granularity", "activations_checkpoint_method",
      "activations_checkpoint_num_layers",
    ]
    guard layout.split.encoderLayers != nil else { return leaves.map { "model." + $0 } }
    return leaves.map { "model.encoder." + $0 } + leaves.map { "model.decoder." + $0 }
  }

  /// `yaml` with every layout key of `layout` written into it (see the type's note).
  public static func emitConfig(_ yaml: String, layout: Layout, gpusPerNode: Int) -> String {
    var doc = YAMLLines(yaml)
    let optimizer = doc.index(of: "model.optim.name").map { doc.value(at: $0) }
    for (key, value) in configValues(
      for: layout, gpusPerNode: gpusPerNode, currentOptimizer: optimizer)
    {
      doc.set(key, value)
    }
    return doc.text
  }

  /// `yaml` (the file `base` was loaded from) with `winner`'s layout written into it: only the
  /// keys whose value changes from `base` are written, so comments, order, indentation, the
  /// optimizer's name and every untouched key stay as they were, and the file loads to exactly
  /// `winner` (the search's row). Recompute keys are written together when the recompute setting
  /// changes; nodes and devices together when the GPU count or node shape changes; with the
  /// distributed optimizer turned off, a `megaplan.zero_stage: 1` becomes 0.
  ///
  /// `overrides` are the command line's overrides (`--gpu`, the Hydra-style ones after FILE,
  /// `--set KEY=VALUE`, `--max-memory-fraction` as the keys they stand for; a nil value is `~KEY`,
  /// which drops the key)
  /// as the keys they stand for), in order: `base` was loaded with them, so they are written
  /// first, as `yamlScalar` spells each value, and the file then loads to `base` before the
  /// layout keys go in.
  public static func emitConfig(
    _ yaml: String, winner: TrainingRun, base: TrainingRun,
    overrides: [(key: String, value: String?)] = []
  ) -> String {
    var doc = YAMLLines(yaml)
    for (key, value) in overrides {
      if let value { doc.set(key, yamlScalar(value)) } else { doc.remove(key) }
    }
    let w = winner.layout, b = base.layout
    let optimizer = doc.index(of: "model.optim.name").map { doc.value(at: $0) }
    let all = configValues(
      for: w, gpusPerNode: base.devicesPerNode, currentOptimizer: optimizer)
    let shape = nodeShape(gpus: w.gpus, devicesPerNode: base.devicesPerNode)
    let baseShape = (
      nodes: b.gpus / max(1, base.devicesPerNode), devices: base.devicesPerNode
    )
    var changed: Set<String> = []
    if shape.nodes != baseShape.nodes || shape.devices != baseShape.devices {
      changed.formUnion(["trainer.num_nodes", "trainer.devices"])
    }
    if w.microBatch != b.microBatch { changed.insert("model.micro_batch_size") }
    if w.tensor != b.tensor { changed.insert("model.tensor_model_parallel_size") }
    if w.pipeline != b.pipeline { changed.insert("model.pipeline_model_parallel_size") }
    if w.contextParallel != b.contextParallel {
      changed.insert("model.context_parallel_size")
      if w.contextParallel == 1 { doc.set("model.context_parallel_size", "1") }
    }
    if w.virtualStages != b.virtualStages {
      changed.insert("model.virtual_pipeline_model_parallel_size")
    }
    if w.effectiveSequenceParallel != b.effectiveSequenceParallel
      || (w.sequenceParallel != b.sequenceParallel && w.tensor > 1)
    {
      changed.insert("model.sequence_parallel")
    }
    if w.recompute != b.recompute { changed.formUnion(recomputeKeys(w)) }
    if w.split.encoderLayers != nil, let rank = w.split.encoderStages,
      rank != b.split.encoderStages
    {
      // The launcher's files compute the rank from p (`${divide_floor:${.pipeline_model_
      // parallel_size}, 2}`): kept when it gives the winner's.
      let key = "model.pipeline_model_parallel_split_rank"
      let formula =
        doc.index(of: key).map { doc.value(at: $0).hasPrefix("${divide_floor") } ?? false
      if !(formula && rank == w.pipeline / 2) { changed.insert(key) }
    }
    if w.distributedOptimizer != b.distributedOptimizer { changed.insert("model.optim.name") }
    if winner.model.moe != nil,
      w.expertParallel != b.expertParallel || w.expertTensorParallel != b.expertTensorParallel
        || (w.tensor != b.tensor && w.expertTensorParallel != w.tensor)
    {
      changed.formUnion(["model.expert_model_parallel_size", "model.expert_tensor_parallel_size"])
    }
    if w.fullySharded != b.fullySharded {
      changed.insert("model.data_parallel_sharding_strategy")
      if !w.fullySharded {
        // Turned off: the strategy key (read first) says so, and a `model.fsdp: true` goes.
        doc.set("model.data_parallel_sharding_strategy", "no_shard")
        if doc.index(of: "model.fsdp") != nil { doc.set("model.fsdp", "false") }
      }
    }
    for (key, value) in all where changed.contains(key) {
      // A key the file does not have reads as null: writing null would change nothing.
      if value == "null" && doc.index(of: key) == nil { continue }
      doc.set(key, value)
    }
    if w.split != b.split && w.split.isEven && w.split.encoderLayers == nil {
      // A candidate at another p (or v) splits evenly: the file's uneven split keys go.
      for key in [
        "model.pipeline_model_parallel_layout", "model.num_layers_in_first_pipeline_stage",
        "model.num_layers_in_last_pipeline_stage",
      ] where doc.index(of: key) != nil {
        doc.set(key, "null")
      }
      for key in [
        "model.account_for_embedding_in_pipeline_split", "model.account_for_loss_in_pipeline_split",
      ] where doc.index(of: key) != nil {
        doc.set(key, "false")
      }
    }
    if w.split != b.split && !w.split.isEven && w.split.encoderLayers == nil {
      // The search's uneven split: its keys, the other forms' cleared where the file has them.
      for (key, value) in w.split.configValues {
        if (value == "null" || value == "false") && doc.index(of: key) == nil { continue }
        doc.set(key, value)
      }
    }
    if changed.contains("model.expert_model_parallel_size") {
      doc.set("model.expert_model_parallel_size", String(w.expertParallel))
      doc.set("model.expert_tensor_parallel_size", String(w.expertTensorParallel))
    }
    if b.distributedOptimizer && !w.distributedOptimizer,
      let i = doc.index(of: "megaplan.zero_stage"), doc.value(at: i) == "1"
    {
      doc.set("megaplan.zero_stage", "0")
    }
    return doc.text
  }
}

extension LayoutSearch {
  /// What of `winner` (a search row) the run `emitted` (its emitted file, loaded again) does not
  /// reproduce, by name; empty when the file loads to the row. The devices per node may differ
  /// (the file lays the GPUs out in whole nodes, `nodeShape`), the NVLink domain they imply may
  /// not.
  public static func emitMismatches(_ emitted: TrainingRun, winner: TrainingRun) -> [String] {
    var out: [String] = []
    if emitted.layout != winner.layout { out.append("layout") }
    if emitted.model != winner.model { out.append("model") }
    if emitted.precision != winner.precision { out.append("precision") }
    if emitted.gpu != winner.gpu { out.append("gpu") }
    if emitted.overlap != winner.overlap { out.append("overlaps") }
    var a = emitted.software, b = winner.software
    (a.overlap, b.overlap) = (.none, .none)
    if a.fp32Gradients != b.fp32Gradients { out.append("gradient precision") }
    (a.fp32Gradients, b.fp32Gradients) = (true, true)
    if a != b { out.append("software settings") }
    if emitted.constants != winner.constants { out.append("performance constants") }
    if emitted.memoryBudget != winner.memoryBudget { out.append("memory budget") }
    if emitted.trainTokens != winner.trainTokens { out.append("token budget") }
    return out
  }
}

/// A `--set` value as a block-YAML scalar that reads back as `ConfigDocument.override` reads it:
/// a value already in quotes, or a plain value YAML reads as plain text, as written; a plain
/// value YAML would read otherwise (empty, with `: ` or ` #`, or starting with an indicator such
/// as `[`, `{`, `&`, `*`, `!`, `|`, `>`, `%`, `@`, `` ` ``, `#`, `-` + space) in single quotes, `'`
/// doubled. Those values are never numbers, booleans or null, so quoting keeps their type.
func yamlScalar(_ value: String) -> String {
  if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" {
    return value
  }
  // A one-line flow collection (`[a, b]`, `{k: v}`) is written as it is: a list stays a list.
  if let first = value.first, first == "[" || first == "{",
    (try? YAMLReader.flowValue(value, from: 0, file: "", lineNumber: 1)) != nil
  {
    return value
  }
  let indicators: Set<Character> = [
    "[", "]", "{", "}", "&", "*", "!", "|", ">", "%", "@", "`", "#", ",", "'", "\"",
  ]
  let needsQuotes =
    value.isEmpty || value.contains(": ") || value.contains(" #") || value.hasSuffix(":")
    || value.first.map { indicators.contains($0) || $0 == " " } == true
    || value.hasPrefix("- ") || value == "-" || value.hasPrefix("? ") || value.last == " "
    || value.contains("\n")
  guard needsQuotes else { return value }
  return "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
}

/// Block-style YAML as lines, each with its dotted key path when it is a `key:` line.
struct YAMLLines {
  var lines: [String]
  let endsWithNewline: Bool

  init(_ text: String) {
    endsWithNewline = text.hasSuffix("\n")
    var split = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if endsWithNewline { split.removeLast() }
    lines = split
  }

  var text: String { lines.joined(separator: "\n") + (endsWithNewline ? "\n" : "") }

  /// (indent, key) of a `key:` or `key: value` line; nil for comments, blanks and list items.
  static func keyLine(_ line: String) -> (indent: Int, key: String)? {
    let indent = line.prefix { $0 == " " }.count
    let rest = line.dropFirst(indent)
    guard let first = rest.first, first != "#", first != "-" else { return nil }
    guard let colon = rest.firstIndex(of: ":") else { return nil }
    let key = rest[..<colon]
    guard !key.isEmpty, !key.contains(" "), !key.contains("#") else { return nil }
    let after = rest[rest.index(after: colon)...]
    guard after.isEmpty || after.first == " " else { return nil }
    return (indent, String(key))
  }

  /// Dotted path of every line (nil for non-key lines).
  func paths() -> [String?] {
    var stack: [(indent: Int, key: String)] = []
    return lines.map { line in
      guard let (indent, key) = Self.keyLine(line) else { return nil }
      while let top = stack.last, top.indent >= indent { stack.removeLast() }
      stack.append((indent, key))
      return stack.map(\.key).joined(separator: ".")
    }
  }

  func index(of path: String) -> Int? { paths().firstIndex { $0 == path } }

  /// The scalar value on line `i`, without a trailing comment.
  func value(at i: Int) -> String {
    let line = lines[i]
    guard let colon = line.firstIndex(of: ":") else { return "" }
    var value = String(line[line.index(after: colon)...])
    if let hash = value.range(of: " #") { value = String(value[..<hash.lowerBound]) }
    return value.trimmingCharacters(in: .whitespaces)
  }

  /// The lines below line `i` that belong to its key's block value (more indented, or a list
  /// with its dashes at the key's indent).
  func blockEnd(after i: Int) -> Int {
    guard let (indent, _) = Self.keyLine(lines[i]) else { return i + 1 }
    var end = i + 1
    while end < lines.count {
      let line = lines[end]
      let trimmed = line.drop { $0 == " " }
      let lineIndent = line.count - trimmed.count
      if trimmed.isEmpty || trimmed.first == "#" || lineIndent > indent
        || (lineIndent == indent && trimmed.hasPrefix("-"))
      {
        end += 1
        continue
      }
      break
    }
    // Trailing blank and comment lines stay with what follows.
    while end > i + 1,
      lines[end - 1].trimmingCharacters(in: .whitespaces).isEmpty
        || lines[end - 1].trimmingCharacters(in: .whitespaces).hasPrefix("#")
    {
      end -= 1
    }
    return end
  }

  /// Drops the key at `path` and its block value.
  mutating func remove(_ path: String) {
    guard let i = index(of: path) else { return }
    lines.removeSubrange(i..<blockEnd(after: i))
  }

  mutating func set(_ path: String, _ value: String) {
    if let i = index(of: path) {
      // A block value below the key (a nested list or mapping) is replaced too.
      if self.value(at: i).isEmpty { lines.removeSubrange((i + 1)..<blockEnd(after: i)) }
      let line = lines[i]
      guard let colon = line.firstIndex(of: ":") else { return }
      let head = line[...colon]
      let rest = line[line.index(after: colon)...]
      // Keep the comment and the spaces before it.
      var comment = ""
      if let hash = rest.range(of: " #") {
        let beforeHash = rest[..<hash.lowerBound]
        let trailingSpaces = beforeHash.reversed().prefix { $0 == " " }.count
        comment =
          String(repeating: " ", count: trailingSpaces + 1)
          + rest[rest.index(after: hash.lowerBound)...]
      }
      lines[i] = head + " " + value + comment
      return
    }
    // Missing: append at the end of its section, creating the section if needed.
    let parts = path.split(separator: ".").map(String.init)
    let parent = parts.dropLast().joined(separator: ".")
    let leaf = parts.last ?? path
    if parent.isEmpty {
      lines.append("\(leaf): \(value)")
      return
    }
    if index(of: parent) == nil {
      setSection(parent)
    }
    guard let p = index(of: parent), let (parentIndent, _) = Self.keyLine(lines[p]) else { return }
    // The section ends before the next key line at the parent's indent or less.
    var end = p + 1
    var childIndent: Int? = nil
    var lastContent = p
    while end < lines.count {
      if let (indent, _) = Self.keyLine(lines[end]) {
        if indent <= parentIndent { break }
        if childIndent == nil { childIndent = indent }
        lastContent = end
      } else if !lines[end].trimmingCharacters(in: .whitespaces).isEmpty,
        lines[end].prefix(while: { $0 == " " }).count > parentIndent
      {
        lastContent = end
      }
      end += 1
    }
    let indent = String(repeating: " ", count: childIndent ?? parentIndent + 2)
    lines.insert("\(indent)\(leaf): \(value)", at: lastContent + 1)
  }

  /// Adds an empty section `path` (a `key:` line) at the end of its parent or of the file.
  mutating func setSection(_ path: String) {
    let parts = path.split(separator: ".").map(String.init)
    if parts.count == 1 {
      if let last = lines.last, !last.isEmpty { lines.append("") }
      lines.append("\(path):")
      return
    }
    let parent = parts.dropLast().joined(separator: ".")
    if index(of: parent) == nil { setSection(parent) }
    // Insert as a child key with an empty value, then drop the value.
    set(path, "")
    if let i = index(of: path) { lines[i] = String(lines[i].prefix { $0 != ":" }) + ":" }
  }
}
