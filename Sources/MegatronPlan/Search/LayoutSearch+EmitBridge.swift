/// `megaplan search --emit-config OUT.yaml` for a Megatron-Bridge FILE: a Bridge override YAML
/// (what Bridge merges over a config with `--config-file`, and megaplan with
/// `megaplan estimate FILE OUT.yaml`) holding only the fields that differ from FILE: the command
/// line's overrides and the winner's layout (`model.tensor_model_parallel_size`,
/// `train.micro_batch_size`, …). Merged over FILE it loads to the search's row; where Bridge's
/// `comm_overlap` would compute another overlap for the winner's shape than the row has, the
/// overlap is written explicitly.
extension LayoutSearch {
  /// The Bridge fields of `winner`'s layout whose value changes from `base`'s (values as YAML
  /// scalars).
  public static func bridgeValues(winner: TrainingRun, base: TrainingRun, file: ConfigNode)
    -> [(key: String, value: ConfigScalar)]
  {
    let w = winner.layout, b = base.layout
    var out: [(String, ConfigScalar)] = []
    if w.gpus != b.gpus {
      out.append(("megaplan.num_gpus", .int(w.gpus)))
      let shape = nodeShape(gpus: w.gpus, devicesPerNode: base.devicesPerNode)
      if shape.devices != min(w.gpus, base.devicesPerNode) {
        out.append(("megaplan.gpus_per_node", .int(shape.devices)))
      }
    }
    if w.microBatch != b.microBatch { out.append(("train.micro_batch_size", .int(w.microBatch))) }
    if w.tensor != b.tensor { out.append(("model.tensor_model_parallel_size", .int(w.tensor))) }
    if w.pipeline != b.pipeline {
      out.append(("model.pipeline_model_parallel_size", .int(w.pipeline)))
    }
    if w.contextParallel != b.contextParallel {
      out.append(("model.context_parallel_size", .int(w.contextParallel)))
    }
    if w.virtualStages != b.virtualStages {
      out.append(
        (
          "model.virtual_pipeline_model_parallel_size",
          w.interleaved ? .int(w.virtualStages) : .null
        ))
    }
    if w.effectiveSequenceParallel != b.effectiveSequenceParallel
      || (w.sequenceParallel != b.sequenceParallel && w.tensor > 1)
    {
      out.append(("model.sequence_parallel", .bool(w.effectiveSequenceParallel)))
    }
    if w.recompute != b.recompute {
      switch w.recompute {
      case .none:
        out += [
          ("model.recompute_granularity", .null), ("model.recompute_method", .null),
          ("model.recompute_num_layers", .null),
        ]
      case .selective:
        out += [
          ("model.recompute_granularity", .string("selective")),
          ("model.recompute_method", .null), ("model.recompute_num_layers", .null),
        ]
      case .full(let method, let k):
        out += [
          ("model.recompute_granularity", .string("full")),
          ("model.recompute_method", .string(method.rawValue)),
          ("model.recompute_num_layers", .int(k)),
        ]
      }
    }
    if w.distributedOptimizer != b.distributedOptimizer {
      out.append(("ddp.use_distributed_optimizer", .bool(w.distributedOptimizer)))
      out.append(("optimizer.use_distributed_optimizer", .bool(w.distributedOptimizer)))
    }
    if w.fullySharded != b.fullySharded {
      out.append(("ddp.use_megatron_fsdp", .bool(w.fullySharded)))
      if w.fullySharded {
        out.append(("ddp.data_parallel_sharding_strategy", .string("optim_grads_params")))
      } else {
        // Every switch that turns it on goes off.
        let document = ConfigDocument(root: file, file: "")
        for key in ["dist.use_megatron_fsdp", "ddp.use_custom_fsdp"]
        where (try? document.value(at: key))??.scalar == .bool(true) {
          out.append((key, .bool(false)))
        }
      }
    }
    if winner.model.moe != nil,
      w.expertParallel != b.expertParallel || w.expertTensorParallel != b.expertTensorParallel
        || (w.tensor != b.tensor && w.expertTensorParallel != w.tensor)
    {
      out.append(("model.expert_model_parallel_size", .int(w.expertParallel)))
      out.append(("model.expert_tensor_parallel_size", .int(w.expertTensorParallel)))
    }
    if w.split != b.split && w.split.isEven {
      out += [
        ("model.pipeline_model_parallel_layout", .null),
        ("model.num_layers_in_first_pipeline_stage", .null),
        ("model.num_layers_in_last_pipeline_stage", .null),
        ("model.account_for_embedding_in_pipeline_split", .bool(false)),
        ("model.account_for_loss_in_pipeline_split", .bool(false)),
      ]
    }
    return out.map { (key: $0.0, value: $0.1) }
  }

  /// The override YAML for `winner`: `tree` (FILE's tree with every command-line override in,
  /// from which `base` was loaded) with the winner's fields written, as the fields that differ
  /// from `file` (FILE's own tree). An overlap that Bridge's `comm_overlap` would compute
  /// differently for the winner's shape is pinned to the row's value.
  public static func emitBridgeConfig(
    file: ConfigNode, tree: ConfigNode, winner: TrainingRun, base: TrainingRun, header: String
  ) throws -> String {
    var root = tree
    for (key, value) in bridgeValues(winner: winner, base: base, file: file) {
      root = try BridgeOverrideYAML.setting(value, at: key, in: root)
    }
    // Pin the overlaps the row has, where the translation would give others.
    let translated = try BridgeConfig.translate(ConfigDocument(root: root, file: ""))
    let run = try ConfigLoader.load(ConfigDocument(root: translated.root, file: "")).run
    let hasSection: Bool = {
      guard case .mapping? = ConfigDocument(root: root, file: "").node(at: ["comm_overlap"])?.kind
      else { return false }
      return true
    }()
    let pins: [(Bool, Bool, String, String)] = [
      (
        run.overlap.tensorParallel, winner.overlap.tensorParallel, "comm_overlap.tp_comm_overlap",
        "model.tp_comm_overlap"
      ),
      (
        run.overlap.pipelineP2P, winner.overlap.pipelineP2P, "comm_overlap.overlap_p2p_comm",
        "model.overlap_p2p_comm"
      ),
      (
        run.overlap.gradientReduction, winner.overlap.gradientReduction,
        "comm_overlap.overlap_grad_reduce", "ddp.overlap_grad_reduce"
      ),
      (
        run.overlap.parameterGather, winner.overlap.parameterGather,
        "comm_overlap.overlap_param_gather", "ddp.overlap_param_gather"
      ),
      (
        run.overlap.expertParallel, winner.overlap.expertParallel,
        "comm_overlap.overlap_moe_expert_parallel_comm", "model.overlap_moe_expert_parallel_comm"
      ),
    ]
    for (emitted, row, sectionKey, fieldKey) in pins where emitted != row {
      root = try BridgeOverrideYAML.setting(
        .bool(row), at: hasSection ? sectionKey : fieldKey, in: root)
    }
    // The gradient bucket, which `comm_overlap` sets by d: the row's, in parameters.
    if run.software.bucketBytes != winner.software.bucketBytes,
      let bytes = winner.software.bucketBytes
    {
      let perParameter = winner.software.fp32Gradients ? 4.0 : winner.precision.weightBytes
      root = try BridgeOverrideYAML.setting(
        .int(Int((bytes / perParameter).rounded())), at: "ddp.bucket_size", in: root)
    }
    return BridgeOverrideYAML.text(differences: root, from: file, header: header)
  }
}

/// Writing a Bridge override YAML: the fields of a tree that differ from another, as block YAML
/// whose scalars read back as they were.
enum BridgeOverrideYAML {
  /// `root` with `value` at the dotted `key` (mappings created on the way).
  static func setting(_ value: ConfigScalar, at key: String, in root: ConfigNode) throws
    -> ConfigNode
  {
    let path = key.split(separator: ".").map(String.init)
    let location = SourceLocation(file: "--emit-config", line: 1, column: 1)
    return try ConfigDocument.replacing(
      at: path[...], in: root, with: BridgeTranslator.node(value, at: location), full: path,
      location: location, rules: OverrideRules(isKnown: { _ in true }, scalarReplacesMapping: true))
  }

  /// Whether two nodes hold the same text (locations aside).
  static func same(_ a: ConfigNode, _ b: ConfigNode) -> Bool {
    switch (a.kind, b.kind) {
    case (.scalar(let x, let sx), .scalar(let y, let sy)):
      return x == y && (sx == .plain) == (sy == .plain)
    case (.sequence(let xs), .sequence(let ys)):
      return xs.count == ys.count && zip(xs, ys).allSatisfy { same($0, $1) }
    case (.mapping(let xs), .mapping(let ys)):
      return xs.count == ys.count
        && xs.allSatisfy { x in b.entry(x.key).map { same(x.value, $0.value) } ?? false }
    default:
      return false
    }
  }

  /// The entries of `node` that differ from `base` (nil when none): mappings recursively,
  /// anything else whole.
  static func differences(_ node: ConfigNode, from base: ConfigNode?) -> ConfigNode? {
    if let base, same(node, base) { return nil }
    guard case .mapping(let entries) = node.kind, let base, case .mapping = base.kind else {
      return node
    }
    var out: [ConfigNode.MappingEntry] = []
    for entry in entries {
      if let changed = differences(entry.value, from: base.entry(entry.key)?.value) {
        out.append(
          ConfigNode.MappingEntry(key: entry.key, keyLocation: entry.keyLocation, value: changed))
      }
    }
    if out.isEmpty { return nil }
    var result = node
    result.kind = .mapping(out)
    return result
  }

  static func text(differences tree: ConfigNode, from file: ConfigNode, header: String) -> String {
    var lines = header.split(separator: "\n", omittingEmptySubsequences: false).map {
      $0.isEmpty ? "#" : "# \($0)"
    }
    if let changed = differences(tree, from: file), case .mapping(let entries) = changed.kind {
      for entry in entries { write(entry.key, entry.value, indent: 0, into: &lines) }
    } else {
      lines.append("{}")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  static func write(_ key: String, _ node: ConfigNode, indent: Int, into lines: inout [String]) {
    let pad = String(repeating: " ", count: indent)
    if case .mapping(let entries) = node.kind, !entries.isEmpty {
      lines.append("\(pad)\(key):")
      for entry in entries { write(entry.key, entry.value, indent: indent + 2, into: &lines) }
      return
    }
    lines.append("\(pad)\(key): \(flow(node))")
  }

  /// A node on one line: a scalar as written (quoted when it was), a list or mapping as a flow
  /// collection.
  static func flow(_ node: ConfigNode) -> String {
    switch node.kind {
    case .scalar(let text, .plain):
      return text.isEmpty ? "null" : text
    case .scalar(let text, _):
      return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    case .sequence(let items):
      return "[" + items.map(flowItem).joined(separator: ", ") + "]"
    case .mapping(let entries):
      return "{"
        + entries.map { "\(flowKey($0.key)): \(flowItem($0.value))" }.joined(separator: ", ")
        + "}"
    }
  }

  /// An item inside a flow collection: a plain scalar holding a flow indicator is quoted.
  static func flowItem(_ node: ConfigNode) -> String {
    if case .scalar(let text, .plain) = node.kind,
      text.contains(where: { ",[]{}#".contains($0) }) || text.contains(": ")
    {
      return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
    return flow(node)
  }

  static func flowKey(_ key: String) -> String {
    key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }
      ? key : "'" + key.replacingOccurrences(of: "'", with: "''") + "'"
  }
}
