/// The Bridge fields megaplan reads and the NeMo keys they become: one table of the fields
/// copied as they are (`directFields`, with Megatron-Bridge's and Megatron-Core's defaults for a
/// field the file leaves out), and the translations that are more than a copy (activation,
/// normalization, layout, sequence length, vocabulary, GPUs). Precision and data parallelism are
/// in BridgeConfig+Precision.swift, the refusals in BridgeConfig+NotModeled.swift.
extension BridgeConfig {
  /// A field copied as it is.
  struct DirectField {
    var bridge: String
    var nemo: String
    /// Written when the file leaves the field out (a Bridge/Megatron-Core default that differs
    /// from NeMo's, or worth showing); nil: absent stays absent (the NeMo default is the same).
    var fallback: BridgeDefault?
  }

  static func field(
    _ bridge: String, _ nemo: String? = nil, _ fallback: ConfigScalar? = nil,
    _ source: String = ""
  ) -> DirectField {
    DirectField(
      bridge: bridge, nemo: nemo ?? bridge,
      fallback: fallback.map { BridgeDefault(value: $0, source: source) })
  }

  /// Megatron-Core's `TransformerConfig`/`ModelParallelConfig` and Megatron-Bridge's
  /// `GPTModelProvider` defaults (Megatron-LM 3758b54, Megatron-Bridge a9497c6), for fields a
  /// file leaves out.
  static let transformerConfig = "Megatron-Core TransformerConfig default"
  static let gptProvider = "Megatron-Bridge GPTModelProvider default"
  static let parallelConfig = "Megatron-Core ModelParallelConfig default"

  /// Fields copied to the NeMo key of the same meaning.
  static let directFields: [DirectField] = [
    field("model.num_layers"),
    field("model.hidden_size"),
    field("model.ffn_hidden_size"),
    field("model.num_attention_heads"),
    field("model.num_query_groups"),
    field("model.kv_channels"),
    field("model.make_vocab_size_divisible_by", nil, .int(128), gptProvider),
    field("model.share_embeddings_and_output_weights", nil, .bool(true), gptProvider),
    field("model.activation_func_fp8_input_store", nil, .bool(false), transformerConfig),
    field("model.qk_layernorm", nil, .bool(false), gptProvider),
    field("model.rotary_base", nil, .int(10_000), gptProvider),
    field("model.rotary_percent", "model.rotary_percentage", .double(1), gptProvider),
    field("model.hidden_dropout", nil, .double(0.1), transformerConfig),
    field("model.attention_dropout", nil, .double(0.1), transformerConfig),
    field("model.bias_activation_fusion", nil, .bool(false), transformerConfig),
    field("model.masked_softmax_fusion", nil, .bool(true), gptProvider),
    field("model.apply_rope_fusion", nil, .bool(false), transformerConfig),
    field("model.cross_entropy_loss_fusion", nil, .bool(true), gptProvider),
    field("model.tensor_model_parallel_size", nil, .int(1), parallelConfig),
    field("model.pipeline_model_parallel_size", nil, .int(1), parallelConfig),
    field("model.virtual_pipeline_model_parallel_size"),
    field("model.context_parallel_size", nil, .int(1), parallelConfig),
    field("model.cp_comm_type"),
    field("model.hierarchical_context_parallel_sizes"),
    field("model.expert_model_parallel_size", nil, .int(1), parallelConfig),
    field("model.expert_tensor_parallel_size"),
    field("model.sequence_parallel", nil, .bool(false), parallelConfig),
    field("model.cuda_graph_impl", nil, .string("none"), transformerConfig),
    field("model.enable_cuda_graph", nil, .bool(false), transformerConfig),
    field("model.external_cuda_graph", nil, .bool(false), transformerConfig),
    field("model.cuda_graph_scope"),
    field("model.num_layers_in_first_pipeline_stage"),
    field("model.num_layers_in_last_pipeline_stage"),
    field("model.account_for_embedding_in_pipeline_split"),
    field("model.account_for_loss_in_pipeline_split"),
    field("model.multi_latent_attention"),
    field("model.q_lora_rank"),
    field("model.kv_lora_rank"),
    field("model.qk_head_dim"),
    field("model.qk_pos_emb_head_dim"),
    field("model.v_head_dim"),
    field("model.mtp_num_layers"),
    // GPT-OSS: the sliding window, the attention sinks, the gated unit's offset and clamp.
    field("model.window_size"),
    field("model.window_attn_skip_freq"),
    field("model.softmax_type", nil, .string("vanilla"), transformerConfig),
    field("model.glu_linear_offset"),
    field("model.activation_func_clamp_value"),
    field("model.num_moe_experts"),
    field("model.moe_router_topk"),
    field("model.moe_ffn_hidden_size"),
    field("model.moe_shared_expert_intermediate_size"),
    field("model.moe_layer_freq"),
    field("model.moe_expert_capacity_factor"),
    field("model.moe_pad_expert_input_to_capacity"),
    field("model.moe_grouped_gemm", nil, .bool(false), gptProvider),
    field("model.moe_token_dispatcher_type", nil, .string("allgather"), transformerConfig),
    // Forced balance: every expert gets the balanced share (`megaplan.moe_imbalance` 1.0).
    field("model.moe_router_force_load_balancing"),
    field("model.moe_router_score_function"),
    field("model.moe_shared_expert_gate"),
    field("model.moe_flex_dispatcher_backend", nil, .string("deepep"), transformerConfig),
    field("model.moe_permute_fusion", nil, .bool(false), transformerConfig),
    field("model.moe_router_fusion", nil, .bool(false), transformerConfig),
    field("model.moe_shared_expert_overlap", nil, .bool(false), transformerConfig),
    field("model.moe_router_num_groups"),
    field("model.moe_router_group_topk"),
    field("model.recompute_granularity", "model.activations_checkpoint_granularity"),
    field("model.recompute_method", "model.activations_checkpoint_method"),
    field("model.recompute_num_layers", "model.activations_checkpoint_num_layers"),
    field("model.recompute_modules"),
    field("model.cpu_offloading"),
    field("model.cpu_offloading_num_layers"),
    field("model.cpu_offloading_weights"),
    field("model.cpu_offloading_activations"),
    field("train.micro_batch_size", "model.micro_batch_size"),
    field("train.global_batch_size", "model.global_batch_size"),
    field("train.rampup_batch_size", "model.rampup_batch_size"),
  ]

  /// Fields read by the translations below and in BridgeConfig+Precision.swift (beyond
  /// `directFields` and `notModeled`): for the override rules and the docs.
  static let readFields: Set<String> = [
    "model.normalization", "model.activation_func", "model.gated_linear_unit",
    "model.add_bias_linear", "model.add_qkv_bias", "model.position_embedding_type",
    "model.transformer_impl", "model.attention_backend", "model.pipeline_model_parallel_layout",
    "model.seq_length", "model.vocab_size", "model.bf16", "model.fp16",
    "model.fp8", "model.fp4", "model.fp4_recipe", "model.fp4_param", "ddp.bucket_size",
    "comm_overlap.bucket_size",
    "model.fp8_recipe", "model.fp8_param", "model.fp8_dot_product_attention",
    "model.tp_comm_overlap", "model.overlap_p2p_comm", "model.overlap_moe_expert_parallel_comm",
    "dataset.seq_length", "dataset.sequence_length", "train.train_iters", "train.train_samples",
    "tokenizer.tokenizer_type", "tokenizer.vocab_size", "tokenizer.tokenizer_model",
    "ddp.use_distributed_optimizer", "ddp.grad_reduce_in_fp32", "ddp.overlap_grad_reduce",
    "ddp.overlap_param_gather", "ddp.use_megatron_fsdp", "ddp.use_custom_fsdp",
    "ddp.data_parallel_sharding_strategy", "ddp.fp8_param_gather",
    "ddp.reuse_grad_buf_for_mxfp8_param_ag", "dist.use_megatron_fsdp",
    "optimizer.use_distributed_optimizer", "optimizer.overlap_param_gather",
    "comm_overlap.tp_comm_overlap", "comm_overlap.overlap_p2p_comm",
    "comm_overlap.overlap_grad_reduce", "comm_overlap.overlap_param_gather",
    "comm_overlap.overlap_moe_expert_parallel_comm", "comm_overlap.delay_wgrad_compute",
    "comm_overlap.defer_embedding_wgrad_compute",
    "comm_overlap.overlap_param_gather_with_optimizer_step", "mixed_precision",
  ]

  /// Megatron-Bridge's performance launcher names GPUs by family (`-g h100`); megaplan's
  /// profiles by part.
  static let gpuAliases: [String: String] = [
    "h100": "h100-sxm", "gb200": "gb200-nvl72", "gb300": "gb300-nvl72",
  ]
}

extension BridgeTranslator {
  // MARK: - Architecture

  mutating func architecture() throws {
    // Multi-latent attention has its own head sizes; Megatron-Core's MLA does not read
    // kv_channels (Megatron-Bridge's DeepSeek dumps carry 64 for h/a = 56).
    let mla = try bool("model.multi_latent_attention", false)
    for field in BridgeConfig.directFields where !(mla && field.bridge == "model.kv_channels") {
      try copy(field.bridge, to: field.nemo, default: field.fallback)
    }
    // RMSNorm / LayerNorm, Megatron-Core's spelling.
    let normKey = "model.normalization"
    if let value = try read(normKey), !value.isNull {
      guard case .string(let name)? = value.scalar else { throw typeError(value, "a name") }
      put("model.normalization", .string(name.lowercased()), from: value)
    } else {
      put(
        "model.normalization", .string("layernorm"), path: normKey,
        note: "\(BridgeConfig.gptProvider): LayerNorm", isDefault: true)
    }
    try activation()
    // Biases: Megatron-Core adds a QKV bias with add_bias_linear or add_qkv_bias.
    let bias = try bool("model.add_bias_linear", true)
    let qkv = try bool("model.add_qkv_bias", false)
    put(
      "model.bias", .bool(bias), path: "model.add_bias_linear",
      note: has("model.add_bias_linear") ? nil : "\(BridgeConfig.transformerConfig): true",
      isDefault: true, overridden: try read("model.add_bias_linear")?.overridden ?? false)
    put(
      "model.add_qkv_bias", .bool(bias || qkv), path: "model.add_qkv_bias",
      note: qkv || !bias ? nil : "add_bias_linear: true adds the QKV bias too", isDefault: true,
      overridden: try read("model.add_qkv_bias")?.overridden ?? false)
    try positionEmbedding()
    try implementation()
  }

  /// `activation_func` (a function: `silu`, `gelu`, `quick_gelu`, …) and `gated_linear_unit` →
  /// NeMo's `activation` (`swiglu`, `geglu`, `reglu`, `quick-geglu`, `gelu`, `relu`,
  /// `squared-relu`).
  mutating func activation() throws {
    let key = "model.activation_func"
    let value = try read(key)
    var name = "gelu"
    if let value, !value.isNull {
      guard case .string(let s)? = value.scalar else {
        throw typeError(value, "an activation function")
      }
      name = s.lowercased()
    }
    let gated = try bool("model.gated_linear_unit", false)
    let activation: String?
    switch (name, gated) {
    case ("silu", true), ("swish", true): activation = "swiglu"
    case ("gelu", true), ("fast_gelu", true): activation = "geglu"
    case ("gelu", false), ("fast_gelu", false), ("openai_gelu", false): activation = "gelu"
    case ("relu", true): activation = "reglu"
    // Megatron-Core's `quick_gelu` (fused_bias_geglu.py) gated: GPT-OSS's experts.
    case ("quick_gelu", true): activation = "quick-geglu"
    case ("relu", false): activation = "relu"
    case ("squared_relu", false), ("relu2", false): activation = "squared-relu"
    default: activation = nil
    }
    guard let activation else {
      refuse(
        key,
        "\(key): \(name)\(gated ? " with gated_linear_unit: true" : "") is not modeled; megaplan models silu, gelu and relu gated or not, squared_relu, and quick_gelu gated",
        at: value?.location ?? nearestLocation(key))
      return
    }
    let note = "activation_func \(name), gated_linear_unit \(gated)"
    if let value, !value.isNull {
      put("model.activation", .string(activation), from: value, note: note)
    } else {
      put(
        "model.activation", .string(activation), path: key,
        note: "\(note) (\(BridgeConfig.transformerConfig): F.gelu)", isDefault: true)
    }
  }

  /// `rope`, `learned_absolute`; `yarn` is rotary with YaRN's frequency scaling (no weights):
  /// read as `rope`. Others go through as written (the NeMo reader refuses them).
  mutating func positionEmbedding() throws {
    let key = "model.position_embedding_type"
    guard let value = try read(key), !value.isNull else {
      put(
        "model.position_embedding_type", .string("learned_absolute"), path: key,
        note: "\(BridgeConfig.gptProvider): learned_absolute", isDefault: true)
      return
    }
    guard case .string(let name)? = value.scalar else { throw typeError(value, "a name") }
    if name == "yarn" {
      put(
        "model.position_embedding_type", .string("rope"), from: value,
        note: "yarn: rotary embeddings with YaRN's frequency scaling, no weights")
    } else {
      put("model.position_embedding_type", .string(name), from: value)
    }
  }

  /// `transformer_impl` (Transformer Engine by default: fused attention) and
  /// `attention_backend` (null or auto: Transformer Engine's choice, fused on the GPUs megaplan
  /// models; flash, fused; unfused, local).
  mutating func implementation() throws {
    let key = "model.transformer_impl"
    let impl = try string(key) ?? "transformer_engine"
    let value = try read(key)
    switch impl {
    case "transformer_engine", "local":
      let te = impl == "transformer_engine"
      let note = value == nil ? "\(BridgeConfig.transformerConfig): transformer_engine" : nil
      put(
        "model.transformer_engine", .bool(te), path: key, note: note, isDefault: true,
        overridden: value?.overridden ?? false)
      put(
        "model.mcore_gpt", .bool(true), path: key, note: "Megatron-Core", isDefault: true,
        overridden: value?.overridden ?? false)
    default:
      throw ConfigError(
        "transformer_impl '\(impl)' is not one of transformer_engine, local", key: key,
        at: value?.location ?? nearestLocation(key))
    }
    let backendKey = "model.attention_backend"
    guard let backend = try read(backendKey), !backend.isNull else { return }
    guard case .string(var name)? = backend.scalar else { throw typeError(backend, "a name") }
    name = name.lowercased().replacingOccurrences(of: "attnbackend.", with: "")
    switch name {
    case "auto": break
    case "flash", "fused":
      put("megaplan.fused_attention", .bool(true), from: backend, note: "attention_backend \(name)")
    case "unfused", "local":
      put(
        "megaplan.fused_attention", .bool(false), from: backend, note: "attention_backend \(name)")
    default:
      throw ConfigError(
        "attention_backend '\(name)' is not one of auto, flash, fused, unfused, local",
        key: backendKey, at: backend.location)
    }
  }

  // MARK: - Parallelism

  /// The flexible layout as a list of chunks (`[[embedding, decoder], …, [decoder, mtp, loss]]`)
  /// becomes Megatron-Core's string form (`Et|…|tmL`); a string goes through.
  mutating func parallelism() throws {
    let key = "model.pipeline_model_parallel_layout"
    guard let value = try read(key), !value.isNull else { return }
    if value.scalar != nil {
      put("model.pipeline_model_parallel_layout", value.scalar ?? .null, from: value)
      return
    }
    guard case .sequence(let chunks) = value.node.kind else {
      throw typeError(value, "a layout string or a list of chunks")
    }
    let letters = ["embedding": "E", "decoder": "t", "mtp": "m", "loss": "L"]
    var text: [String] = []
    for (i, chunk) in chunks.enumerated() {
      guard case .sequence(let items) = chunk.kind else {
        throw ConfigError(
          "pipeline_model_parallel_layout chunk \(i) is not a list of embedding, decoder, mtp, loss",
          key: key, at: chunk.location)
      }
      var part = ""
      for item in items {
        guard case .scalar(let name, _) = item.kind, let letter = letters[name] else {
          var shown = "a list or a mapping"
          if case .scalar(let text, _) = item.kind { shown = text }
          throw ConfigError(
            "pipeline_model_parallel_layout chunk \(i) holds '\(shown)'; expected embedding, decoder, mtp or loss",
            key: key, at: item.location)
        }
        part += letter
      }
      text.append(part)
    }
    put(
      "model.pipeline_model_parallel_layout", .string(text.joined(separator: "|")), from: value,
      note: "the list of \(chunks.count) chunks in Megatron-Core's string form")
  }

  // MARK: - Sequence, batch, tokens

  /// The sequence length is the dataset's (`seq_length`, or Megatron-Core's `sequence_length`),
  /// as Megatron-Bridge's launchers run it; `model.seq_length` when the dataset has none.
  mutating func sequenceAndBatch() throws {
    let dataKey = has("dataset.seq_length") ? "dataset.seq_length" : "dataset.sequence_length"
    let data = has(dataKey) ? try read(dataKey) : nil
    let model = has("model.seq_length") ? try read("model.seq_length") : nil
    var seq: Int? = nil
    if let data {
      put("model.encoder_seq_length", data.scalar ?? .null, from: data)
      seq = try int(dataKey)
      if let model, let modelSeq = try int("model.seq_length"), let seq, modelSeq != seq {
        warnings.append(
          ConfigWarning(
            message:
              "model.seq_length \(modelSeq) differs from \(dataKey) \(seq): Megatron-Bridge asserts they are equal and its launchers run the dataset's; megaplan uses \(seq)",
            location: model.location))
      }
    } else if let model {
      put("model.encoder_seq_length", model.scalar ?? .null, from: model)
      seq = try int("model.seq_length")
    } else {
      put(
        "model.encoder_seq_length", .int(1024), path: "model.seq_length",
        note: "\(BridgeConfig.gptProvider): 1024", isDefault: true)
      seq = 1024
    }
    // The token budget: train_samples × s, or train_iters × global batch × s.
    guard !has("megaplan.train_tokens"), let seq else { return }
    if let samples = try int("train.train_samples"), let value = try read("train.train_samples") {
      let (tokens, overflow) = samples.multipliedReportingOverflow(by: seq)
      if !overflow && tokens > 0 {
        put(
          "megaplan.train_tokens", .int(tokens), from: value,
          note: "train_samples \(samples) × sequence \(seq)")
      }
    } else if let iterations = try int("train.train_iters"),
      let batch = try int("train.global_batch_size"), let value = try read("train.train_iters")
    {
      let (a, o1) = iterations.multipliedReportingOverflow(by: batch)
      let (tokens, o2) = a.multipliedReportingOverflow(by: seq)
      if !o1 && !o2 && tokens > 0 {
        put(
          "megaplan.train_tokens", .int(tokens), from: value,
          note: "train_iters \(iterations) × global_batch_size \(batch) × sequence \(seq)")
      }
    }
  }

  // MARK: - Vocabulary

  /// A set `model.vocab_size` is used as it is (Megatron-Bridge pads only a vocabulary taken
  /// from the tokenizer); otherwise the tokenizer's, padded as Megatron pads.
  mutating func vocabulary() throws {
    if let value = try read("model.vocab_size"), !value.isNull {
      put(
        "megaplan.vocab_size", value.scalar ?? .null, from: value,
        note: "Megatron-Bridge uses a set model.vocab_size unpadded")
      return
    }
    let type = try string("tokenizer.tokenizer_type")
    switch type {
    case "NullTokenizer"?:
      if let value = try read("tokenizer.vocab_size"), !value.isNull {
        put(
          "megaplan.tokenizer_vocab_size", value.scalar ?? .null, from: value,
          note: "NullTokenizer's vocabulary")
      }
    case "HuggingFaceTokenizer"?:
      if let value = try read("tokenizer.tokenizer_model"), !value.isNull {
        put(
          "model.tokenizer.library", .string("huggingface"), path: "tokenizer.tokenizer_type",
          note: nil)
        put("model.tokenizer.type", value.scalar ?? .null, from: value)
      }
    default:
      if let type, let value = try read("tokenizer.tokenizer_type") {
        put("model.tokenizer.type", .string(type), from: value)
      }
    }
  }

  // MARK: - Hardware and GPU count

  /// megaplan's own section, as in a NeMo file, and the GPU count of Megatron-Bridge's
  /// launcher (`megaplan.num_gpus`, `megaplan.gpus_per_node`: its `--num_gpus`,
  /// `--gpus_per_node`) as nodes × devices.
  mutating func hardware() throws {
    if case .mapping(let entries)? = document.root.entry("megaplan")?.value.kind {
      for entry in entries where !BridgeConfig.megaplanKeys.contains(entry.key) {
        try copyTree("megaplan.\(entry.key)")
      }
    }
    if let value = try read("megaplan.gpu"), case .string(let name)? = value.scalar,
      let profile = BridgeConfig.gpuAliases[name.lowercased()]
    {
      put(
        "megaplan.gpu", .string(profile), from: value,
        note: "Megatron-Bridge's GPU name \(name)")
    }
    try environment()
    let gpuName = (try? string("megaplan.gpu")).flatMap { $0 }.map {
      BridgeConfig.gpuAliases[$0.lowercased()] ?? $0
    }
    let profile = gpuName.flatMap { GPU.named($0) }
    if let gpuName, let advice = GPU.unprofiledAdvice(gpuName), !has("megaplan.hardware.base") {
      refuse(
        "megaplan.gpu", "megaplan.gpu: \(gpuName) is not modeled yet; \(advice)",
        at: try read("megaplan.gpu")?.location)
    }
    guard let count = try read("megaplan.num_gpus"), !count.isNull else {
      throw ConfigError(
        "a Megatron-Bridge config does not say how many GPUs run it: give --gpus N (or megaplan.num_gpus, as the launcher's --num_gpus)",
        key: "trainer.num_nodes", at: nearestLocation("megaplan.num_gpus"),
        note: MegatronArguments.gpuCountNote)
    }
    guard let gpus = try int("megaplan.num_gpus"), gpus > 0 else {
      throw typeError(count, "a positive number of GPUs")
    }
    let perNodeValue = try read("megaplan.gpus_per_node")
    var perNode = profile?.gpusPerNode ?? 8
    if let given = try int("megaplan.gpus_per_node") {
      guard given > 0 else {
        throw ConfigError(
          "gpus_per_node must be a positive integer, found \(given)", key: "megaplan.gpus_per_node",
          at: perNodeValue?.location)
      }
      perNode = given
    }
    let devices = min(gpus, perNode)
    guard gpus % devices == 0 else {
      throw ConfigError(
        "num_gpus \(gpus) is not a whole number of nodes of \(perNode) GPUs (gpus_per_node)",
        key: "megaplan.num_gpus", at: count.location)
    }
    self.gpus = gpus
    let why =
      perNodeValue == nil
      ? "\(perNode) GPUs per node (\(profile.map { "the \($0.name) profile's node" } ?? "8 by default"))"
      : "gpus_per_node \(perNode)"
    put(
      "trainer.num_nodes", .int(gpus / devices), path: "megaplan.num_gpus",
      note: "num_gpus \(gpus) over \(why)", overridden: count.overridden)
    put(
      "trainer.devices", .int(devices),
      path: perNodeValue == nil ? "megaplan.num_gpus" : "megaplan.gpus_per_node",
      note: why, overridden: count.overridden || perNodeValue?.overridden == true)
  }

  /// Copies a key of megaplan's section (a scalar, a list or a mapping of them).
  mutating func copyTree(_ path: String) throws {
    guard let value = try read(path) else { return }
    if case .mapping(let entries) = value.node.kind, value.scalar == nil {
      for entry in entries { try copyTree("\(path).\(entry.key)") }
      return
    }
    try copy(path, to: path)
  }

  /// `env_vars` (Megatron-Bridge sets them before the run): PyTorch's allocator setting and
  /// NCCL's NVLS switch, when megaplan's section does not set them.
  mutating func environment() throws {
    if !has("megaplan.expandable_segments"),
      let value = try read("env_vars.PYTORCH_CUDA_ALLOC_CONF"),
      case .string(let text)? = value.scalar
    {
      let on = text.replacingOccurrences(of: " ", with: "").lowercased().contains(
        "expandable_segments:true")
      put("megaplan.expandable_segments", .bool(on), from: value)
    }
    if !has("megaplan.nccl_nvls"), let value = try read("env_vars.NCCL_NVLS_ENABLE"),
      let scalar = value.scalar
    {
      let off = [.int(0), .string("0"), .bool(false)].contains(scalar)
      put("megaplan.nccl_nvls", .bool(!off), from: value)
    }
  }
}
