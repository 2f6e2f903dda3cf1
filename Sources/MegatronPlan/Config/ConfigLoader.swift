/// Turns a config document (NeMo YAML, or a Megatron-LM script read into the same shape) into a
/// typed `TrainingRun`: reads the keys megaplan uses with their NeMo defaults, validates them
/// against the layout rules, and records where each effective value came from.
public enum ConfigLoader {
  /// Keys megaplan reads, per section — for the config reference and misspelling warnings.
  public static let knownKeys: [String: [String]] = [
    "model": [
      "num_layers", "hidden_size", "num_attention_heads", "encoder_seq_length", "seq_length",
      "ffn_hidden_size",
      "max_position_embeddings", "micro_batch_size", "global_batch_size",
      "tensor_model_parallel_size",
      "pipeline_model_parallel_size", "virtual_pipeline_model_parallel_size", "sequence_parallel",
      "activations_checkpoint_granularity", "activations_checkpoint_method",
      "activations_checkpoint_num_layers",
      "optim", "share_embeddings_and_output_weights", "make_vocab_size_divisible_by", "tokenizer",
      "activation",
      "normalization", "position_embedding_type", "bias", "num_query_groups", "num_moe_experts",
      "context_parallel_size", "kv_channels", "fp8", "encoder", "decoder", "use_flash_attention",
      "transformer_engine",
      "mcore_gpt",
    ],
    "trainer": ["num_nodes", "devices", "precision"],
    "megaplan": [
      "gpu", "vocab_size", "train_tokens", "zero_stage", "fused_attention", "max_memory_fraction",
    ],
  ]

  /// The largest size megaplan accepts for any count (layers, hidden, batch, GPUs…): far above any
  /// real run, and low enough that no product of sizes can overflow.
  public static let maximumSize = 1 << 24

  public static func load(_ document: ConfigDocument) throws -> LoadedConfig {
    var r = KeyReader(document: document)
    try refuseIgnored(&r)  // ConfigLoader+Ignored.swift
    try refuseUnmodeled(&r)

    let layers = try r.size("model.num_layers")
    let hidden = try r.size("model.hidden_size")
    let heads = try r.size("model.num_attention_heads")
    let seqKey = r.has("model.encoder_seq_length") ? "model.encoder_seq_length" : "model.seq_length"
    let seq = try r.size(seqKey, missing: "model.encoder_seq_length (or model.seq_length)")
    let ffn = try r.size("model.ffn_hidden_size", default: 4 * hidden, why: "4 × hidden_size")
    let maxPos = try r.size(
      "model.max_position_embeddings", default: seq, why: "the sequence length")
    let micro = try r.size("model.micro_batch_size")
    let global = try r.size("model.global_batch_size")
    let t = try r.size("model.tensor_model_parallel_size", default: 1)
    let p = try r.size("model.pipeline_model_parallel_size", default: 1)
    let v = try r.size(
      "model.virtual_pipeline_model_parallel_size", default: 1, why: "null: not interleaved")
    let sp = try r.bool("model.sequence_parallel", default: false)
    let tied = try r.bool("model.share_embeddings_and_output_weights", default: true)
    let biases = try r.bool("model.bias", default: true)
    let gated = try gatedActivation(&r)
    let learnedPositions = try learnedPositionEmbeddings(&r)
    let fused = try fusedAttention(&r)
    let recompute = try readRecompute(&r)
    let distributed = try distributedOptimizer(&r)
    let overlap = try r.bool("model.optim.overlap_grad_sync", default: false)
    let nodes = try r.size("trainer.num_nodes", default: 1)
    let devices = try r.size("trainer.devices", default: 1)
    let precision = try readPrecision(&r)
    let gpu = try readGPU(&r)
    let tokens = try r.positiveNumber("megaplan.train_tokens")

    let gpus = nodes * devices
    guard gpus <= maximumSize else {
      throw r.error(
        "num_nodes × devices = \(gpus) GPUs exceeds the largest count megaplan accepts (\(maximumSize))",
        key: "trainer.num_nodes")
    }
    // Rules of the model and the parallel sizes first (they do not depend on the GPU count).
    let shape = TransformerModel(
      layers: layers, hidden: hidden, heads: heads, ffnHidden: ffn, sequenceLength: seq,
      maxPositionEmbeddings: maxPos,
      vocabulary: 1)
    let probe = Layout(
      tensor: t, pipeline: p, data: 1, virtualStages: v, microBatch: 1, globalBatch: 1,
      recompute: recompute)
    if let first = probe.violations(for: shape).first(where: { !$0.dependsOnBatch }) {
      throw r.error(first.description, key: first.key)
    }
    if gpus % (t * p) != 0 {
      let key = r.has("trainer.num_nodes") ? "trainer.num_nodes" : "trainer.devices"
      throw r.error(
        LayoutViolation.gpusNotDivisible(gpus: gpus, tensor: t, pipeline: p).description, key: key)
    }
    r.derived("data_parallel_size", "\(gpus / (t * p))", why: "GPUs / (t × p) = \(gpus) / \(t * p)")
    let vocabulary = try readVocabulary(&r, tensor: t)
    let model = TransformerModel(
      layers: layers, hidden: hidden, heads: heads, ffnHidden: ffn, sequenceLength: seq,
      maxPositionEmbeddings: maxPos, vocabulary: vocabulary, tiedEmbeddings: tied, gatedMLP: gated,
      linearBiases: biases, learnedPositionEmbeddings: learnedPositions, fusedAttention: fused)
    let layout = Layout(
      tensor: t, pipeline: p, data: gpus / (t * p), virtualStages: v, microBatch: micro,
      globalBatch: global,
      sequenceParallel: sp, recompute: recompute, distributedOptimizer: distributed)
    if let first = layout.violations(for: model).first {
      throw r.error(first.description, key: first.key)
    }
    var run = TrainingRun(
      model: model, layout: layout, precision: precision, gpu: gpu, trainTokens: tokens,
      overlapGradientReduction: overlap)
    let notes = try finishRun(&run, &r)  // ConfigLoader+Ignored.swift
    return LoadedConfig(
      file: document.file, run: run, settings: r.settings,
      warnings: misspellings(document) + notes)
  }

  // MARK: - What megaplan does not model yet

  /// Architectures outside the GPT model are refused with the key and value, never estimated as
  /// if they were GPT-3.
  static func refuseUnmodeled(_ r: inout KeyReader) throws {
    for key in ["model.encoder", "model.decoder"] where r.has(key) {
      throw r.error(
        "encoder-decoder models ('\(key)', T5/mT5) are not modeled yet; megaplan models GPT decoders",
        key: key)
    }
    if let norm = try r.optionalString("model.normalization"),
      !["layernorm", "layernorm1p", "layer_norm"].contains(norm.lowercased())
    {
      throw r.error(
        "normalization '\(norm)' is not modeled yet; megaplan models layernorm and layernorm1p",
        key: "model.normalization")
    }
    if let groups = try r.optionalInt("model.num_query_groups"),
      let heads = try r.optionalInt("model.num_attention_heads"), groups != heads
    {
      throw r.error(
        "grouped-query attention (num_query_groups \(groups) with \(heads) heads) is not modeled yet",
        key: "model.num_query_groups")
    }
    if let experts = try r.optionalInt("model.num_moe_experts"), experts > 1 {
      throw r.error(
        "mixture of experts (num_moe_experts \(experts)) is not modeled yet",
        key: "model.num_moe_experts")
    }
    if let cp = try r.optionalInt("model.context_parallel_size"), cp > 1 {
      throw r.error(
        "context parallelism (context_parallel_size \(cp)) is not modeled yet",
        key: "model.context_parallel_size")
    }
    if let kv = try r.optionalInt("model.kv_channels"),
      let h = try r.optionalInt("model.hidden_size"),
      let a = try r.optionalInt("model.num_attention_heads"), a > 0, kv * a != h
    {
      throw r.error(
        "kv_channels \(kv) × num_attention_heads \(a) ≠ hidden_size \(h) is not modeled yet",
        key: "model.kv_channels")
    }
    if try r.bool("model.fp8", default: false, record: false) {
      throw r.error("fp8 training (fp8: true) is not modeled yet", key: "model.fp8")
    }
    if let zero = try r.optionalInt("megaplan.zero_stage"), zero > 1 {
      throw r.error(
        "DeepSpeed ZeRO stage \(zero) is not modeled yet (stage 0 and 1 are)",
        key: "megaplan.zero_stage")
    }
  }

  static let plainActivations = ["gelu", "fast-gelu", "approx-gelu"]
  static let gatedActivations = [
    "swiglu", "fast-swiglu", "geglu", "fast-geglu", "reglu", "fast-reglu",
  ]

  static func gatedActivation(_ r: inout KeyReader) throws -> Bool {
    guard let name = try r.optionalString("model.activation", record: true) else {
      r.defaulted("model.activation", "gelu")
      return false
    }
    let lower = name.lowercased()
    if plainActivations.contains(lower) { return false }
    if gatedActivations.contains(lower) { return true }
    throw r.error(
      "activation '\(name)' is not modeled yet; megaplan models gelu and gated (swiglu, geglu, reglu) MLPs",
      key: "model.activation")
  }

  static func learnedPositionEmbeddings(_ r: inout KeyReader) throws -> Bool {
    guard let name = try r.optionalString("model.position_embedding_type", record: true) else {
      r.defaulted("model.position_embedding_type", "learned_absolute")
      return true
    }
    switch name.lowercased() {
    case "learned_absolute": return true
    case "rope": return false
    default:
      throw r.error(
        "position_embedding_type '\(name)' is not modeled yet; megaplan models learned_absolute and rope",
        key: "model.position_embedding_type")
    }
  }

  /// Whether attention runs as one fused (flash) kernel that stores no s × s tensors:
  /// `megaplan.fused_attention` decides when given; otherwise NeMo's own switches:
  /// `use_flash_attention: true`, or Megatron-Core with Transformer Engine (`mcore_gpt` and
  /// `transformer_engine` both true), whose attention picks the fused kernel by default.
  static func fusedAttention(_ r: inout KeyReader) throws -> Bool {
    if r.has("megaplan.fused_attention") {
      return try r.bool("megaplan.fused_attention", default: false)
    }
    if try r.bool("model.use_flash_attention", default: false, record: false) {
      r.derived("fused_attention", "true", why: "use_flash_attention: true")
      return true
    }
    let te = try r.bool("model.transformer_engine", default: false, record: false)
    let mcore = try r.bool("model.mcore_gpt", default: false, record: false)
    if te && mcore {
      r.derived(
        "fused_attention", "true",
        why:
          "Megatron-Core with Transformer Engine (mcore_gpt, transformer_engine) uses fused attention"
      )
      return true
    }
    r.defaulted("megaplan.fused_attention", "false")
    return false
  }

  // MARK: - Recompute, optimizer, precision, GPU, vocabulary

  static func readRecompute(_ r: inout KeyReader) throws -> Recompute {
    let key = "model.activations_checkpoint_granularity"
    guard let granularity = try r.optionalString(key, record: true) else {
      r.defaulted(key, "null (no recompute)")
      return .none
    }
    switch granularity.lowercased() {
    case "selective": return .selective
    case "full":
      let methodKey = "model.activations_checkpoint_method"
      var method = RecomputeMethod.uniform
      if let name = try r.optionalString(methodKey, record: true) {
        guard let m = RecomputeMethod(rawValue: name.lowercased()) else {
          throw r.error(
            "unknown activations_checkpoint_method '\(name)'; expected uniform or block\(Suggestion.didYouMean(name, in: ["uniform", "block"]))",
            key: methodKey)
        }
        method = m
      } else {
        r.defaulted(methodKey, "uniform")
      }
      let numKey = "model.activations_checkpoint_num_layers"
      let given = try r.optionalInt(numKey, record: true)
      if given == nil { r.defaulted(numKey, "1") }
      let k = given ?? 1
      if k < 0 {
        throw r.error(LayoutViolation.recomputeLayersNegative(layers: k).description, key: numKey)
      }
      if k > maximumSize {
        throw r.error(
          "activations_checkpoint_num_layers \(k) exceeds the largest size megaplan accepts (\(maximumSize))",
          key: numKey)
      }
      if k == 0 {
        // Megatron/NeMo: full granularity with 0 layers checkpoints nothing.
        r.derived(
          "recompute", "none",
          why: "full granularity with activations_checkpoint_num_layers 0 recomputes nothing")
        return .none
      }
      return .full(method: method, layers: k)
    default:
      throw r.error(
        "unknown activations_checkpoint_granularity '\(granularity)'; expected null, selective or full\(Suggestion.didYouMean(granularity, in: ["selective", "full"]))",
        key: key)
    }
  }

  static let distributedOptimizers = ["distributed_fused_adam", "mcore_distributed_optim"]

  static func distributedOptimizer(_ r: inout KeyReader) throws -> Bool {
    if let zero = try r.optionalInt("megaplan.zero_stage", record: true), zero == 1 { return true }
    guard let name = try r.optionalString("model.optim.name", record: true) else {
      r.defaulted("model.optim.name", "fused_adam")
      return false
    }
    return distributedOptimizers.contains(name.lowercased())
  }

  static func readPrecision(_ r: inout KeyReader) throws -> Precision {
    let key = "trainer.precision"
    guard let value = try r.optionalString(key, record: true, acceptNumbers: true) else {
      r.defaulted(key, "bf16")
      return .bf16
    }
    switch value.lowercased() {
    case "bf16", "bf16-mixed", "bf16-true": return .bf16
    case "16", "16-mixed", "fp16", "16-true": return .fp16
    case "32", "32-true", "fp32": return .fp32
    default:
      throw r.error(
        "unknown precision '\(value)'; expected bf16, bf16-mixed, 16, 16-mixed or 32", key: key)
    }
  }

  static func readGPU(_ r: inout KeyReader) throws -> GPU {
    let key = "megaplan.gpu"
    guard let name = try r.optionalString(key, record: true) else {
      r.defaulted(key, GPU.a100_80GB.name)
      return .a100_80GB
    }
    guard let gpu = GPU.named(name) else {
      let names = GPU.all.map(\.name)
      throw r.error(
        "unknown GPU '\(name)'; megaplan knows \(names.joined(separator: ", "))\(Suggestion.didYouMean(name.lowercased(), in: names, limit: 3))",
        key: key)
    }
    return gpu
  }

  /// Known tokenizer vocabularies (unpadded). GPT2BPETokenizer: 50,257 tokens (GPT-2's BPE).
  static let tokenizerVocabularies: [String: Int] = ["gpt2bpetokenizer": 50_257]

  /// `megaplan.vocab_size` (the padded vocabulary as used) or, without it, the tokenizer's
  /// vocabulary padded up to a multiple of make_vocab_size_divisible_by × t, as Megatron's
  /// `_vocab_size_with_padding` does.
  static func readVocabulary(_ r: inout KeyReader, tensor: Int) throws -> Int {
    if r.has("megaplan.vocab_size") { return try r.size("megaplan.vocab_size") }
    let typeKey = "model.tokenizer.type"
    let type = try r.optionalString(typeKey, record: true)
    let library = try r.optionalString("model.tokenizer.library") ?? "megatron"
    guard let type, library.lowercased() == "megatron",
      let raw = tokenizerVocabularies[type.lowercased()]
    else {
      let what =
        type.map { "tokenizer '\($0)' (library '\(library)')" }
        ?? "the tokenizer (model.tokenizer.type is not set)"
      throw r.error(
        "cannot derive the vocabulary from \(what): set megaplan.vocab_size to the padded vocabulary size",
        key: r.has(typeKey) ? typeKey : "megaplan.vocab_size")
    }
    let divisor = try r.size("model.make_vocab_size_divisible_by", default: 128)
    let multiple = divisor * tensor
    let padded = (raw + multiple - 1) / multiple * multiple
    r.derived(
      "vocab_size", "\(padded)",
      why:
        "\(type) has \(raw) tokens, padded to a multiple of make_vocab_size_divisible_by × t = \(multiple)"
    )
    return padded
  }

  // MARK: - Misspellings

  /// Keys in the sections megaplan reads that are one or two edits from a key it uses (and are
  /// not themselves keys it uses): probably typos. Unknown keys under `megaplan:` are always
  /// reported. NeMo's hundreds of other keys stay silent.
  static func misspellings(_ document: ConfigDocument) -> [ConfigWarning] {
    var warnings: [ConfigWarning] = []
    for section in ["model", "trainer", "megaplan"] {
      let known = knownKeys[section] ?? []
      guard let node = document.root.entry(section)?.value, case .mapping(let entries) = node.kind
      else { continue }
      for entry in entries where !known.contains(entry.key) {
        let suggestion = Suggestion.closest(to: entry.key, in: known)
        if suggestion == nil && section != "megaplan" { continue }
        let hint =
          suggestion.map { "; did you mean '\($0)'?" }
          ?? "; megaplan reads \(known.joined(separator: ", "))"
        warnings.append(
          ConfigWarning(
            message: "unknown key '\(section).\(entry.key)'\(hint)", location: entry.keyLocation))
      }
    }
    return warnings
  }
}

/// A config read into a run, with the provenance of every value.
public struct LoadedConfig: Sendable {
  public var file: String
  public var run: TrainingRun
  /// Every value megaplan used, in reading order, with where it came from.
  public var settings: [EffectiveSetting]
  public var warnings: [ConfigWarning]
}

public struct EffectiveSetting: Sendable, Hashable, Codable {
  public enum Origin: Sendable, Hashable, Codable {
    case file(SourceLocation)
    case override(SourceLocation)
    case defaulted
    case derived(String)
  }
  public var key: String
  public var value: String
  public var origin: Origin
}

public struct ConfigWarning: Sendable, Hashable, CustomStringConvertible {
  public var message: String
  public var location: SourceLocation?
  public var description: String {
    (location.map { "\($0): " } ?? "") + "warning: \(message)"
  }
}
