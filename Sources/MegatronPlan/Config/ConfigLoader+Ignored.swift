/// Keys that change memory or time are never silently ignored, and a typo in an explicit `--set`
/// is an error. Two steps of `ConfigLoader.load`:
///
/// - `refuseIgnored` (first): keys megaplan does not model and that change what a GPU holds or
///   computes are refused with the key and value (`model.fsdp: true is not modeled yet`); a
///   `--set` key in `model`, `trainer` or `megaplan` one or two edits from a key megaplan reads is
///   an error with the suggestion (in the file it stays a warning: NeMo files carry hundreds of
///   keys megaplan does not read).
/// - `finishRun` (last): the run-wide settings (`megaplan.max_memory_fraction`, the node size
///   from `trainer.devices`, the vocabulary's padding rule); keys that only overlap
///   communication with compute are named in the provenance (`megaplan config`: "not modeled",
///   the iteration time is an upper bound), a batch ramp-up is a warning (the time to train is
///   the steady state's), and Megatron-DeepSpeed's pipeline partition and embedding layer norm
///   are refused.
extension ConfigLoader {
  /// Keys refused when true: each changes where parameters or activations live.
  static let unmodeledSwitches: [(key: String, what: String)] = [
    ("model.fsdp", "torch FSDP shards parameters, gradients and optimizer states"),
    (
      "model.cpu_offloading",
      "CPU offloading moves weights and activations to host memory"
    ),
  ]

  /// Keys named when set: each hides communication time that megaplan counts in full.
  static let overlapSwitches: [(key: String, what: String)] = [
    ("model.ub_tp_comm_overlap", "tensor-parallel communication is counted without overlap"),
    ("model.overlap_p2p_comm", "pipeline point-to-point communication is counted without overlap"),
    (
      "model.optim.overlap_param_sync",
      "the distributed optimizer's parameter all-gather is counted without overlap"
    ),
  ]

  /// Keys read by this file, beyond `knownKeys` (for the `--set` typo check).
  static let ignoredKeyChecks: [String: [String]] = [
    "model": [
      "fsdp", "cpu_offloading", "cpu_offloading_num_layers", "cpu_offloading_weights",
      "cpu_offloading_activations", "ub_tp_comm_overlap", "overlap_p2p_comm", "rampup_batch_size",
      "fp8_hybrid", "fp8_e4m3",
    ],
    "megaplan": ["max_memory_fraction"],
  ]

  /// The first step of `load`: `--set` typos, then keys that change memory or time but are not
  /// modeled.
  static func refuseIgnored(_ r: inout KeyReader) throws {
    try refuseMisspelledOverrides(r.document)
    for (key, what) in unmodeledSwitches
    where try r.bool(key, default: false, record: false) {
      var detail = ""
      if key == "model.cpu_offloading" {
        let parts = try [
          ("num_layers", "model.cpu_offloading_num_layers"),
          ("weights", "model.cpu_offloading_weights"),
          ("activations", "model.cpu_offloading_activations"),
        ].compactMap { name, k -> String? in
          guard r.has(k), let value = try r.lookup(k) else { return nil }
          return "\(name) \(KeyReader.shown(value.scalar))"
        }
        if !parts.isEmpty { detail = " (\(parts.joined(separator: ", ")))" }
      }
      throw r.error(
        "\(key): true is not modeled yet\(detail); \(what)", key: key)
    }
    if let fraction = try r.positiveNumber("megaplan.max_memory_fraction"),
      !MemoryBudget.isValid(fraction)
    {
      throw r.error(
        "max_memory_fraction must be a fraction in (0, 1], found \(fraction)",
        key: "megaplan.max_memory_fraction")
    }
  }

  /// A `--set` key in `model`, `trainer` or `megaplan` that megaplan does not read but that is
  /// one or two edits from one it does: an error naming the closest key.
  static func refuseMisspelledOverrides(_ document: ConfigDocument) throws {
    for path in document.overriddenPaths.sorted() {
      let parts = path.split(separator: ".").map(String.init)
      guard parts.count == 2, let section = parts.first, let leaf = parts.last,
        let known = knownKeys[section]
      else { continue }
      let all = known + (ignoredKeyChecks[section] ?? [])
      guard !all.contains(leaf), let suggestion = Suggestion.closest(to: leaf, in: all) else {
        continue
      }
      let location = document.root.entry(section)?.value.entry(leaf)?.keyLocation
      throw ConfigError(
        "unknown key '\(path)' in --set; did you mean '\(section).\(suggestion)'?", key: path,
        at: location)
    }
  }

  /// The last step of `load`: what fits, the node size, the vocabulary rule, and the warnings
  /// for keys whose effect is an overlap megaplan does not model.
  static func finishRun(_ run: inout TrainingRun, _ r: inout KeyReader) throws -> [ConfigWarning] {
    if let fraction = try r.positiveNumber("megaplan.max_memory_fraction") {
      run.memoryBudget = MemoryBudget(usableFraction: fraction)
    } else {
      r.defaulted("megaplan.max_memory_fraction", String(MemoryBudget.defaultFraction))
    }

    // trainer.devices is the node: GPUs past it are reached over the network. The NVLink domain
    // is that node, or the GPU profile's when the node is larger (`StepTimeModel.link`).
    let devices = max(1, try r.optionalInt("trainer.devices") ?? 1)
    run.devicesPerNode = devices
    if devices < run.gpu.gpusPerNode {
      r.derived(
        "nvlink_domain", String(devices),
        why:
          "trainer.devices \(devices) GPUs per node (the \(run.gpu.name) profile's node has \(run.gpu.gpusPerNode))"
      )
      run.gpu.gpusPerNode = devices
    }

    run.vocabularyPadding = try vocabularyPadding(&r, model: run.model, tensor: run.layout.tensor)

    // Megatron-DeepSpeed flags (MegatronArguments): refused after the architecture checks.
    if let method = try r.optionalString("model.pp_partition_method"),
      !["uniform", "type:transformer"].contains(method.lowercased())
    {
      // Megatron-DeepSpeed's default `type:transformer` (and `uniform`) give each stage the same
      // number of transformer layers, as megaplan models; anything else balances other things.
      throw r.error(
        "--pp-partition-method '\(method)' (a pipeline split other than equal numbers of layers per stage) is not modeled yet",
        key: "model.pp_partition_method")
    }
    if try r.bool("model.embed_layernorm", default: false, record: false) {
      throw r.error(
        "--embed-layernorm (a layer norm after the embedding) is not modeled yet",
        key: "model.embed_layernorm")
    }

    // Overlap switches are standard in NeMo's own configs: named in the provenance (`megaplan
    // config`) rather than warned about on every run; the estimate is an upper bound.
    for (key, what) in overlapSwitches where try r.bool(key, default: false, record: false) {
      r.derived(key, "true (not modeled)", why: "\(what): the iteration time is an upper bound")
    }
    var warnings: [ConfigWarning] = []
    if r.has("model.rampup_batch_size"), let value = try r.lookup("model.rampup_batch_size") {
      warnings.append(
        ConfigWarning(
          message:
            "'model.rampup_batch_size' is not modeled: the time to train assumes the full global batch from the first step",
          location: value.location))
    }
    return warnings
  }

  /// The tokenizer's padding rule when the vocabulary is derived from it (the same keys and
  /// defaults as `readVocabulary`), nil when `megaplan.vocab_size` fixes it. Checked against the
  /// vocabulary the reader derived, so the two can never disagree.
  static func vocabularyPadding(_ r: inout KeyReader, model: TransformerModel, tensor: Int) throws
    -> VocabularyPadding?
  {
    guard !r.has("megaplan.vocab_size"),
      let type = try r.optionalString("model.tokenizer.type"),
      (try r.optionalString("model.tokenizer.library") ?? "megatron").lowercased() == "megatron",
      let tokens = tokenizerVocabularies[type.lowercased()]
    else { return nil }
    let divisor = try r.optionalInt("model.make_vocab_size_divisible_by") ?? 128
    let padding = VocabularyPadding(tokens: tokens, divisibleBy: divisor)
    return padding.padded(tensor: tensor) == model.vocabulary ? padding : nil
  }
}
