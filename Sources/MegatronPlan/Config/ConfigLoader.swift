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
      "mcore_gpt", "hidden_dropout", "attention_dropout", "ffn_dropout", "rotary_percentage",
      "rotary_base", "add_qkv_bias", "qkv_bias", "qk_layernorm", "bias_activation_fusion",
      "masked_softmax_fusion", "apply_rope_fusion", "activation_func_fp8_input_store",
      "transformer_block_type",
      "num_layers_in_first_pipeline_stage", "num_layers_in_last_pipeline_stage",
      "account_for_embedding_in_pipeline_split", "account_for_loss_in_pipeline_split",
      "fp8_e4m3", "fp8_hybrid", "fp8_recipe", "fp8_params", "fp8_param_gather",
      "fp8_dot_product_attention", "ub_tp_comm_overlap", "tp_comm_overlap", "overlap_p2p_comm",
      "fsdp", "fsdp_sharding_strategy", "data_parallel_sharding_strategy",
      "cross_entropy_loss_fusion", "grad_reduce_in_fp32", "moe_router_topk",
      "moe_ffn_hidden_size", "moe_shared_expert_intermediate_size", "moe_layer_freq",
      "moe_expert_capacity_factor", "moe_pad_expert_input_to_capacity",
      "moe_token_dispatcher_type", "moe_grouped_gemm", "expert_model_parallel_size",
      "expert_tensor_parallel_size", "multi_latent_attention", "mtp_num_layers",
      "cp_comm_type", "hierarchical_context_parallel_sizes",
      "q_lora_rank", "kv_lora_rank", "qk_head_dim", "qk_pos_emb_head_dim", "v_head_dim",
      "recompute_modules", "moe_router_score_function", "moe_shared_expert_gate",
      "moe_flex_dispatcher_backend", "moe_permute_fusion", "moe_router_fusion",
      "moe_shared_expert_overlap", "delay_wgrad_compute", "moe_router_force_load_balancing",
      "moe_router_num_groups", "moe_router_group_topk",
      "overlap_moe_expert_parallel_comm", "pipeline_model_parallel_layout", "fp4", "fp4_recipe",
      "fp4_param", "fp4_param_gather", "sharp", "cuda_graph_impl", "cuda_graph_scope",
      "enable_cuda_graph", "external_cuda_graph", "ddp_bucket_size", "window_size",
      "window_attn_skip_freq", "softmax_type", "glu_linear_offset", "activation_func_clamp_value",
    ],
    "trainer": ["num_nodes", "devices", "precision"],
    "megaplan": [
      "gpu", "vocab_size", "tokenizer_vocab_size", "sandwich_norm", "embedding_norm", "hardware",
      "expandable_segments", "nccl_nvls", "moe_imbalance", "max_memory_fraction",
      "train_tokens", "zero_stage", "deepspeed", "fused_attention", "attention_flops",
      "attention_kernel",
    ],
  ]

  /// The largest size megaplan accepts for any count (layers, hidden, batch, GPUs…): far above any
  /// real run, and low enough that no product of sizes can overflow.
  public static let maximumSize = 1 << 24

  public static func load(_ document: ConfigDocument) throws -> LoadedConfig {
    var r = KeyReader(document: document)
    let unmodeledSettings = try refuseIgnored(&r)  // ConfigLoader+Ignored.swift
    try refuseUnmodeled(&r, alsoFound: unmodeledSettings)

    // An encoder–decoder file describes its stacks in model.encoder and model.decoder
    // (ConfigLoader+EncoderDecoder.swift); the model below is then the decoder stack holding
    // both stacks' layers.
    let pipelineSize = try r.size("model.pipeline_model_parallel_size", default: 1)
    let encoderDecoder =
      isEncoderDecoder(r) ? try readEncoderDecoder(&r, pipeline: pipelineSize) : nil
    let layers: Int, hidden: Int, heads: Int, seq: Int, ffn: Int, maxPos: Int
    if let ed = encoderDecoder {
      (layers, hidden, heads) = (
        ed.encoder.layers + ed.decoder.layers, ed.decoder.hidden, ed.decoder.heads
      )
      (seq, ffn, maxPos) = (ed.decoderSequence, ed.decoder.ffn, ed.maxPositions)
    } else {
      layers = try r.size("model.num_layers")
      hidden = try r.size("model.hidden_size")
      heads = try r.size("model.num_attention_heads")
      let seqKey =
        r.has("model.encoder_seq_length") ? "model.encoder_seq_length" : "model.seq_length"
      seq = try r.size(seqKey, missing: "model.encoder_seq_length (or model.seq_length)")
      ffn = try r.size("model.ffn_hidden_size", default: 4 * hidden, why: "4 × hidden_size")
      maxPos = try r.size(
        "model.max_position_embeddings", default: seq, why: "the sequence length")
    }
    let micro = try r.size("model.micro_batch_size")
    let global = try r.size("model.global_batch_size")
    let t = try r.size("model.tensor_model_parallel_size", default: 1)
    let p = pipelineSize
    var v = try r.size(
      "model.virtual_pipeline_model_parallel_size", default: 1, why: "null: not interleaved")
    let sp = try r.bool("model.sequence_parallel", default: false)
    let cp = try r.size("model.context_parallel_size", default: 1)
    let cpComm = try readContextParallelComm(&r, cp: cp)
    let tied = try r.bool("model.share_embeddings_and_output_weights", default: true)
    let arch =
      try encoderDecoder?.decoder.arch ?? readArchitecture(&r, hidden: hidden, heads: heads)
    if encoderDecoder == nil, arch.position == .learnedAbsolute, seq > maxPos {
      // A learned table has max_position_embeddings rows and the embedding looks up positions
      // 0 … s − 1 (Megatron-LM's validate_args asserts max_position_embeddings ≥ seq_length).
      let seqKey =
        r.has("model.encoder_seq_length") ? "model.encoder_seq_length" : "model.seq_length"
      throw r.error(
        "\(KeyReader.leaf(seqKey)) \(seq) exceeds max_position_embeddings \(maxPos), the rows of the learned position table: raise max_position_embeddings to at least \(seq) (a larger table to train) or shorten the sequence",
        key: "model.max_position_embeddings")
    }
    var split =
      try encoderDecoder.map {
        PipelineSplit.encoderDecoder(encoderLayers: $0.encoder.layers, splitRank: $0.splitRank)
      } ?? readPipelineSplit(&r)
    let moe = try readMoE(&r, ffn: ffn, layers: layers)
    if encoderDecoder != nil, moe != nil {
      throw r.error(
        "mixture-of-experts layers in an encoder-decoder model are not modeled yet",
        key: "model.num_moe_experts")
    }
    let mla = try readMultiLatentAttention(&r, heads: heads, groups: arch.queryGroups)
    let mtp = try readMultiTokenPrediction(&r)
    let variants = try readAttentionVariants(
      &r, layers: layers, activation: arch.activation, multiLatent: mla != nil,
      encoderDecoder: encoderDecoder != nil)
    if let chunks = split.chunkLayers {
      // The layout fixes v: its chunks over p (Megatron-Core derives
      // virtual_pipeline_model_parallel_size from it).
      let layoutKey = "model.pipeline_model_parallel_layout"
      guard chunks.count % p == 0 else {
        throw r.error(
          "pipeline_model_parallel_layout has \(chunks.count) model chunks, not a multiple of pipeline_model_parallel_size \(p)",
          key: layoutKey)
      }
      let implied = chunks.count / p
      if r.has("model.virtual_pipeline_model_parallel_size") && v != implied {
        throw r.error(
          "virtual_pipeline_model_parallel_size \(v) disagrees with pipeline_model_parallel_layout: \(chunks.count) chunks over \(p) stages is \(implied)",
          key: "model.virtual_pipeline_model_parallel_size")
      }
      if v != implied {
        r.derived(
          "virtual_pipeline_model_parallel_size", String(implied),
          why: "pipeline_model_parallel_layout: \(chunks.count) chunks over \(p) stages")
      }
      v = implied
      if split.mtpLayers != mtp {
        throw r.error(
          "pipeline_model_parallel_layout places \(split.mtpLayers) MTP layer\(split.mtpLayers == 1 ? "" : "s"); mtp_num_layers is \(mtp)",
          key: layoutKey)
      }
    }
    let ep = try r.size("model.expert_model_parallel_size", default: 1)
    let etp = try r.size(
      "model.expert_tensor_parallel_size", default: t, why: "tensor_model_parallel_size")
    if v > 1, let flexible = split.asFlexibleLayout(layers: layers, stages: p, virtual: v) {
      // The embedding/loss accounting over interleaved chunks: per chunk, as Megatron-Core
      // counts it.
      r.derived(
        "pipeline_model_parallel_layout", flexible.layoutText ?? "",
        why: "account_for_embedding/loss_in_pipeline_split with \(v) model chunks per stage")
      split = flexible
    }
    let fused = try fusedAttention(&r)
    let recompute = try encoderDecoder?.encoder.recompute ?? readRecompute(&r)
    let recomputeModules = try readRecomputeModules(&r, recompute: recompute)
    let nodes = try r.size("trainer.num_nodes", default: 1)
    let devices = try r.size("trainer.devices", default: 1)
    let precision = try readPrecision(&r)
    let (distributed, deepSpeedBF16) = try distributedOptimizer(&r, precision: precision)
    let gpu = try readHardware(&r, base: try readGPU(&r))
    let fp8 = try readFP8(&r, gpu: gpu)
    let overlap = try readOverlap(
      &r, sequenceParallel: sp, tensor: t, pipeline: p, distributedOptimizer: distributed)
    let fullySharded = try readFullySharded(&r)
    var software = try readSoftware(&r)
    software.fp32Gradients = try readFP32Gradients(&r)
    software.deepSpeedBF16Optimizer = deepSpeedBF16
    let tokens = try r.positiveNumber("megaplan.train_tokens")
    software.attentionFLOPs = try readAttentionFLOPs(&r)
    software.attentionKernel = try readAttentionKernel(&r)

    let gpus = nodes * devices
    guard gpus <= maximumSize else {
      throw r.error(
        "num_nodes × devices = \(gpus) GPUs exceeds the largest count megaplan accepts (\(maximumSize))",
        key: "trainer.num_nodes")
    }
    // Rules of the model and the parallel sizes first (they do not depend on the GPU count).
    let shape = TransformerModel(
      layers: layers, hidden: hidden, heads: heads, queryGroups: arch.queryGroups,
      headDim: arch.headDim, ffnHidden: ffn, sequenceLength: seq, maxPositionEmbeddings: maxPos,
      vocabulary: 1)
    var probe = Layout(
      tensor: t, pipeline: p, data: 1, virtualStages: v, microBatch: 1, globalBatch: 1,
      recompute: recompute, split: split, contextParallel: cp, contextParallelComm: cpComm)
    // The context-parallel rules that need the attention kernel are checked with the model.
    probe.contextParallel = 1
    if let first = probe.violations(for: shape).first(where: { !$0.dependsOnBatch }) {
      throw r.error(first.description, key: first.key)
    }
    let modelParallel = t * cp * p
    if gpus % modelParallel != 0 {
      let key = r.has("trainer.num_nodes") ? "trainer.num_nodes" : "trainer.devices"
      throw r.error(
        LayoutViolation.gpusNotDivisible(gpus: gpus, tensor: t, pipeline: p, context: cp)
          .description, key: key)
    }
    if cp > 1 {
      r.derived(
        "data_parallel_size", "\(gpus / modelParallel)",
        why: "GPUs / (t × cp × p) = \(gpus) / \(modelParallel)")
    } else {
      r.derived(
        "data_parallel_size", "\(gpus / (t * p))", why: "GPUs / (t × p) = \(gpus) / \(t * p)")
    }
    let (vocabulary, padding) = try readVocabulary(
      &r, tensor: t, extraTokens: encoderDecoder == nil ? 0 : try encoderDecoderExtraTokens(&r))
    var model = TransformerModel(
      layers: layers, hidden: hidden, heads: heads, queryGroups: arch.queryGroups,
      headDim: arch.headDim, ffnHidden: ffn, sequenceLength: seq, maxPositionEmbeddings: maxPos,
      vocabulary: vocabulary, tiedEmbeddings: tied, normalization: arch.normalization,
      activation: arch.activation, linearBiases: arch.linearBiases, qkvBias: arch.qkvBias,
      qkLayerNorm: arch.qkLayerNorm, sandwichNorm: arch.sandwichNorm,
      embeddingNorm: arch.embeddingNorm, positionEmbedding: arch.position, dropout: arch.dropout,
      fusions: arch.fusions, fusedAttention: fused, fp8: fp8, moe: moe, mla: mla,
      mtpLayers: mtp)
    model.blockType = arch.blockType
    model.attentionWindow = variants.window
    model.softmax = variants.softmax
    model.gluLinearOffset = variants.gluLinearOffset
    model.activationClamp = variants.activationClamp
    if arch.activation == .quickGeGLU, arch.fusions.biasActivation,
      model.layerKinds(in: 0..<layers).denseLayers > 0
    {
      // megatron/core/transformer/mlp.py: with bias_activation_fusion the dense MLP fuses only
      // gelu and swiglu ("Only support fusion of gelu and swiglu"); the experts fuse quick-geglu.
      throw r.error(
        "activation quick-geglu in dense layers needs bias_activation_fusion: false (Megatron-Core's dense MLP fuses only gelu and swiglu; its experts fuse quick-geglu)",
        key: "model.bias_activation_fusion")
    }
    // Transformer Engine's flash-attn backend (before Hopper, or asked for by
    // `megaplan.attention_kernel`) keeps the core's output twice (`flashOutputCopy`).
    let flashOutputCopy =
      fused && (gpu.generation == .ampere || software.attentionKernel != .cudnn)
    model.flashOutputCopy = flashOutputCopy
    if let ed = encoderDecoder {
      if mla != nil || mtp > 0 {
        throw r.error(
          "multi-latent attention and multi-token prediction in an encoder-decoder model are not modeled yet",
          key: mla != nil ? "model.multi_latent_attention" : "model.mtp_num_layers")
      }
      model.encoderDecoder = EncoderDecoder(
        encoder: encoderModel(ed, vocabulary: vocabulary, fused: fused, fp8: fp8).with(
          flashOutputCopy: flashOutputCopy),
        shareTokenEmbeddings: ed.shareTokenEmbeddings, shareHeadEmbeddings: ed.shareHeadEmbeddings,
        relativeAttention: ed.relative)
    }
    var layout = Layout(
      tensor: t, pipeline: p, data: gpus / modelParallel, virtualStages: v, microBatch: micro,
      globalBatch: global,
      sequenceParallel: sp, recompute: recompute, distributedOptimizer: distributed, split: split,
      fullySharded: fullySharded, expertParallel: ep, expertTensorParallel: etp,
      contextParallel: cp, contextParallelComm: cpComm)
    layout.recomputeModules = recomputeModules
    if overlap.expertParallel {
      try checkExpertParallelOverlap(&r, layout: layout, model: model)
    }
    if let first = layout.violations(for: model).first {
      throw r.error(first.description, key: first.key)
    }
    var run = TrainingRun(
      model: model, layout: layout, precision: precision, gpu: gpu, trainTokens: tokens,
      overlap: overlap)
    software.overlap = overlap
    run.software = software
    run.vocabularyPadding = padding
    run.constants = try readCalibratedConstants(&r, run.constants)
    let notes = try finishRun(&run, &r)  // ConfigLoader+Ignored.swift
    return LoadedConfig(
      file: document.file, run: run, settings: r.settings,
      warnings: misspellings(document) + notes)
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
    let mcore =
      try r.bool("model.mcore_gpt", default: false, record: false)
      || r.bool("model.mcore_t5", default: false, record: false)
    if te && mcore {
      r.derived(
        "fused_attention", "true",
        why:
          "Megatron-Core with Transformer Engine (mcore_gpt or mcore_t5, transformer_engine) uses fused attention"
      )
      return true
    }
    r.defaulted("megaplan.fused_attention", "false")
    return false
  }

  /// `cp_comm_type` (Megatron-Core's default `p2p`; `all_gather`/`allgather`, `a2a`, `a2a+p2p`
  /// with `hierarchical_context_parallel_sizes: [a2a, p2p]`, whose product must be cp). One
  /// type for every layer: a per-layer list is refused.
  static func readContextParallelComm(_ r: inout KeyReader, cp: Int) throws -> ContextParallelComm {
    let key = "model.cp_comm_type"
    guard let name = try r.optionalString(key, record: true) else {
      r.defaulted(key, "p2p")
      return .p2p
    }
    switch name.lowercased() {
    case "p2p": return .p2p
    case "all_gather", "allgather": return .allGather
    case "a2a": return .a2a
    case "a2a+p2p":
      let sizesKey = "model.hierarchical_context_parallel_sizes"
      guard let sizes = try r.optionalIntList(sizesKey), sizes.count == 2 else {
        throw r.error(
          "cp_comm_type a2a+p2p needs hierarchical_context_parallel_sizes: [a2a, p2p] (two sizes whose product is context_parallel_size)",
          key: r.has(sizesKey) ? sizesKey : key)
      }
      guard sizes[0] > 0, sizes[1] > 0, sizes[0] * sizes[1] == cp else {
        throw r.error(
          "hierarchical_context_parallel_sizes \(sizes[0]) × \(sizes[1]) must multiply to context_parallel_size \(cp)",
          key: sizesKey)
      }
      return .a2aP2P(a2a: sizes[0])
    default:
      let known = ["p2p", "all_gather", "a2a", "a2a+p2p"]
      throw r.error(
        "unknown cp_comm_type '\(name)'; expected p2p, all_gather, a2a or a2a+p2p\(Suggestion.didYouMean(name, in: known))",
        key: key)
    }
  }

  /// `megaplan.attention_flops`: `causal` (Megatron-Core's count, the default) or `full` (K22,
  /// N21 and NeMo up to 25.04), `FLOPCount.AttentionFLOPCount`.
  static func readAttentionFLOPs(_ r: inout KeyReader) throws -> FLOPCount.AttentionFLOPCount {
    let key = "megaplan.attention_flops"
    guard let name = try r.optionalString(key, record: true) else {
      r.defaulted(key, "causal (Megatron-Core counts the causal half of the scores)")
      return .causal
    }
    guard let count = FLOPCount.AttentionFLOPCount(rawValue: name.lowercased()) else {
      throw r.error(
        "unknown attention_flops '\(name)'; expected causal or full\(Suggestion.didYouMean(name, in: ["causal", "full"]))",
        key: key)
    }
    return count
  }

  /// `megaplan.attention_kernel`: the fused attention kernel's speed class
  /// (`FusedAttentionKernel`), cuDNN's by default.
  static func readAttentionKernel(_ r: inout KeyReader) throws -> FusedAttentionKernel {
    let key = "megaplan.attention_kernel"
    guard let name = try r.optionalString(key, record: true) else {
      r.defaulted(key, "cudnn")
      return .cudnn
    }
    guard let kernel = FusedAttentionKernel(rawValue: name.lowercased()) else {
      let known = FusedAttentionKernel.allCases.map(\.rawValue)
      throw r.error(
        "unknown attention_kernel '\(name)'; expected \(known.joined(separator: ", "))\(Suggestion.didYouMean(name, in: known))",
        key: key)
    }
    return kernel
  }

  // MARK: - Recompute, optimizer, precision, GPU, vocabulary

  static func readRecompute(_ r: inout KeyReader, prefix: String = "model") throws -> Recompute {
    let key = "\(prefix).activations_checkpoint_granularity"
    guard let granularity = try r.optionalString(key, record: true) else {
      r.defaulted(key, "null (no recompute)")
      return .none
    }
    switch granularity.lowercased() {
    case "selective": return .selective
    case "full":
      let methodKey = "\(prefix).activations_checkpoint_method"
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
      let numKey = "\(prefix).activations_checkpoint_num_layers"
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

  /// `recompute_modules` (Megatron-Core `TransformerConfig.recompute_modules`, NeMo /
  /// Megatron-Bridge the same key): a list of module names, read with selective recompute
  /// (Megatron-Core ignores it otherwise); `["core_attn"]` by default.
  static func readRecomputeModules(_ r: inout KeyReader, recompute: Recompute) throws
    -> RecomputeModules
  {
    let key = "model.recompute_modules"
    guard case .selective = recompute else { return .standard }
    guard let names = try r.stringList(key) else {
      r.defaulted(key, "[core_attn]")
      return .standard
    }
    var modules = RecomputeModules()
    for name in names {
      guard let m = RecomputeModules.named(name) else {
        let known = RecomputeModules.names.map(\.0)
        throw r.error(
          "unknown recompute module '\(name)' in recompute_modules; expected \(known.joined(separator: ", "))\(Suggestion.didYouMean(name.lowercased(), in: known))",
          key: key)
      }
      modules.insert(m)
    }
    return modules
  }

  /// Megatron-Core's rules for `overlap_moe_expert_parallel_comm` (TransformerConfig
  /// `__post_init__`): expert parallelism, the all-to-all or flex dispatcher, no full recompute,
  /// and the interleaved schedule when p > 1.
  static func checkExpertParallelOverlap(
    _ r: inout KeyReader, layout: Layout, model: TransformerModel
  ) throws {
    let key = "model.overlap_moe_expert_parallel_comm"
    var why: String? = nil
    if model.moe == nil || layout.expertParallel <= 1 {
      why = "expert parallelism (expert_model_parallel_size > 1)"
    } else if model.moe?.dispatcher == .allgather {
      why = "the alltoall or flex token dispatcher"
    } else if case .full = layout.recompute {
      why = "no full recompute"
    } else if layout.pipeline > 1 && layout.virtualStages <= 1 {
      why = "virtual_pipeline_model_parallel_size with pipeline_model_parallel_size > 1"
    }
    if let why {
      throw r.error(
        "overlap_moe_expert_parallel_comm: true needs \(why) (Megatron-Core asserts it)", key: key)
    }
  }

  static let distributedOptimizers = ["distributed_fused_adam", "mcore_distributed_optim"]

  /// Whether the optimizer shards its fp32 master weights and Adam states over the d·cp
  /// data-parallel ranks (`Layout.distributedOptimizer`), and whether that is DeepSpeed's BF16
  /// optimizer. Megatron's distributed optimizer (`model.optim.name`), or DeepSpeed
  /// (`megaplan.deepspeed`, Megatron-DeepSpeed's `--deepspeed`) with `megaplan.zero_stage`:
  /// ZeRO stage 1 shards them; stage 0 with bf16 runs DeepSpeed's `BF16_Optimizer`, which shards
  /// them the same way (`bf16_optimizer.py`: an fp32 partition of each flat group per
  /// data-parallel rank, the gradients accumulated in a full fp32 buffer; BLOOM's script: "bf16
  /// must use z0! it implements its own zero stage 1 equivalent"); stage 0 otherwise does not.
  /// Stages above 1 are refused (`refuseUnmodeled`). DeepSpeed without a stage is refused: its
  /// stage is in its JSON config, which megaplan does not read.
  static func distributedOptimizer(_ r: inout KeyReader, precision: Precision) throws -> (
    Bool, deepSpeedBF16: Bool
  ) {
    let deepSpeed = try r.bool(
      "megaplan.deepspeed", default: false, record: r.has("megaplan.deepspeed"))
    let zero = try r.optionalInt("megaplan.zero_stage", record: true)
    if deepSpeed {
      guard let zero else {
        throw r.error(
          "deepspeed: true needs megaplan.zero_stage: DeepSpeed takes its ZeRO stage from its JSON config, which megaplan does not read; set it to the config's stage (Megatron-DeepSpeed: --zero-stage)",
          key: "megaplan.deepspeed")
      }
      if zero == 0 && precision == .bf16 { return (true, true) }
    }
    if zero == 1 { return (true, false) }
    guard let name = try r.optionalString("model.optim.name", record: true) else {
      r.defaulted("model.optim.name", "fused_adam")
      return (false, false)
    }
    return (distributedOptimizers.contains(name.lowercased()), false)
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
      if let message = GPU.unprofiledMessage(name) {
        // Described by megaplan.hardware (its base replaces this placeholder), or refused.
        if r.has("megaplan.hardware.base") { return .a100_80GB }
        throw r.error(message, key: key)
      }
      throw r.error("unknown GPU '\(name)'; \(GPU.suggestion(for: name))", key: key)
    }
    return gpu
  }

  /// Known tokenizer vocabularies (unpadded), by the name the config gives the tokenizer:
  /// - Megatron `GPT2BPETokenizer`: 50,257 tokens (GPT-2's BPE).
  /// - SentencePiece model files the NeMo launcher ships: `llama_tokenizer.model` under
  ///   `${data_dir}/llama/` is Llama 2's tokenizer, 32,000 tokens (Llama 2 `config.json`
  ///   `vocab_size`).
  /// - Hugging Face tokenizer names (`library: huggingface`, `type: <repo>`): each model's
  ///   `config.json` `vocab_size`.
  static let tokenizerVocabularies: [String: Int] = [
    "gpt2bpetokenizer": 50_257,
    "llama_tokenizer.model": 32_000,
    "meta-llama/llama-2-7b-hf": 32_000, "meta-llama/llama-2-70b-hf": 32_000,
    "meta-llama/meta-llama-3-8b": 128_256, "meta-llama/meta-llama-3-70b": 128_256,
    "meta-llama/llama-3.1-8b": 128_256, "meta-llama/llama-3.1-70b": 128_256,
    "meta-llama/llama-3.1-405b": 128_256, "meta-llama/meta-llama-3.1-405b": 128_256,
    "mistralai/mistral-7b-v0.1": 32_000, "google/gemma-2-9b": 256_000,
    "qwen/qwen2.5-72b": 152_064, "nvidia/nemotron-4-340b-base": 256_000,
    // T5's: bert-large-cased's WordPiece vocab.txt (28,996 entries; NeMo's `BertWordPieceCase`)
    // and -uncased (30,522); mT5's SentencePiece model (250,000 pieces: google/mt5's
    // spiece.model, whose config.json's 250,112 is that plus 100 extra ids, padded).
    "bertwordpiececase": 28_996, "bertwordpiecelowercase": 30_522,
    "mt5_tokenizer.model": 250_000,
  ]

  /// The padded vocabulary: `megaplan.vocab_size` as given (already padded), or the unpadded
  /// vocabulary — `megaplan.tokenizer_vocab_size`, or the tokenizer's, from
  /// `tokenizerVocabularies` — padded up to a multiple of make_vocab_size_divisible_by × t, as
  /// Megatron's `_vocab_size_with_padding` does.
  /// Also the padding rule (nil when `megaplan.vocab_size` fixes the vocabulary), which `search`
  /// applies to each candidate's t (`VocabularyPadding`, `TrainingRun.with(layout:)`).
  /// `extraTokens` are the tokens the model adds to its tokenizer (T5's sentinels,
  /// `encoderDecoderExtraTokens`).
  static func readVocabulary(_ r: inout KeyReader, tensor: Int, extraTokens: Int = 0) throws -> (
    Int, VocabularyPadding?
  ) {
    if r.has("megaplan.vocab_size") { return (try r.size("megaplan.vocab_size"), nil) }
    let raw: Int
    let source: String
    if r.has("megaplan.tokenizer_vocab_size") {
      raw = try r.size("megaplan.tokenizer_vocab_size")
      source = "megaplan.tokenizer_vocab_size"
    } else {
      let typeKey = "model.tokenizer.type"
      let type = try r.optionalString(typeKey, record: true)
      let library = (try r.optionalString("model.tokenizer.library") ?? "megatron").lowercased()
      // The SentencePiece model's file name; its folder is often `${data_dir}`, defined outside
      // the file, so the name is read as written.
      let modelFile = r.writtenText("model.tokenizer.model")
      let name: String? =
        switch library {
        case "megatron", "huggingface": type
        case "sentencepiece": modelFile.map { String($0.split(separator: "/").last ?? "") }
        default: nil
        }
      guard let name, let known = tokenizerVocabularies[name.lowercased()] else {
        let what =
          name.map { "tokenizer '\($0)' (library '\(library)')" }
          ?? "the tokenizer (model.tokenizer.type is not set)"
        let key =
          library == "sentencepiece" && r.has("model.tokenizer.model")
          ? "model.tokenizer.model" : r.has(typeKey) ? typeKey : "model.tokenizer"
        throw r.error(
          "cannot derive the vocabulary from \(what): set megaplan.tokenizer_vocab_size to the tokenizer's vocabulary (megaplan pads it as Megatron does) or megaplan.vocab_size to the padded size",
          key: key)
      }
      raw = known + extraTokens
      source =
        extraTokens > 0
        ? "the \(library) tokenizer '\(name)' (\(known) tokens) and \(extraTokens) the model adds"
        : "the \(library) tokenizer '\(name)' (\(known) tokens)"
    }
    let divisor = try r.size("model.make_vocab_size_divisible_by", default: 128)
    let padding = VocabularyPadding(tokens: raw, divisibleBy: divisor)
    let multiple = divisor * tensor
    let padded = padding.padded(tensor: tensor)
    r.derived(
      "vocab_size", "\(padded)",
      why:
        "\(source): \(raw) padded to a multiple of make_vocab_size_divisible_by × t = \(multiple)"
    )
    return (padded, padding)
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
      // A set for membership and the known keys by length: a suggestion is at most two edits
      // away, so only keys within two characters of the word's length can be it. Linear in the
      // number of keys in the file, whatever the size of `known`.
      let knownSet = Set(known)
      var byLength: [Int: [(Int, String)]] = [:]
      for (i, key) in known.enumerated() { byLength[key.utf8.count, default: []].append((i, key)) }
      var nearByLength: [Int: Suggestion.Matcher] = [:]
      var rows = Suggestion.Rows()
      for entry in entries where !knownSet.contains(entry.key) {
        let n = entry.key.utf8.count
        // In `known`'s order, so ties go to the same key as before; prepared once per length.
        let near =
          nearByLength[n]
          ?? {
            let list = (n - 2...n + 2).flatMap { byLength[$0] ?? [] }.sorted { $0.0 < $1.0 }
              .map(\.1)
            let matcher = Suggestion.Matcher(list)
            nearByLength[n] = matcher
            return matcher
          }()
        let suggestion = near.closest(to: entry.key, limit: 2, rows: &rows)
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

  /// Warnings shown one by one; beyond them one line counts the rest (a file of 160,000 unknown
  /// keys printed 50 MB of warnings).
  public static let shownLimit = 30

  /// `warnings` as the lines a command prints: the first `shownLimit`, then, when there are
  /// more, one line saying how many more and of which kind, and where the first of them is.
  public static func rendered(_ warnings: [ConfigWarning], limit: Int = shownLimit) -> String {
    guard !warnings.isEmpty else { return "" }
    var out = warnings.prefix(limit).map { $0.description + "\n" }.joined()
    let rest = warnings.dropFirst(limit)
    guard let next = rest.first else { return out }
    let unknown = rest.filter { $0.message.hasPrefix("unknown key") }.count
    let kinds =
      unknown == rest.count
      ? "unknown keys"
      : unknown == 0 ? "warnings" : "warnings, \(Format.grouped(unknown)) of them unknown keys"
    out +=
      (next.location.map { "\($0): " } ?? "")
      + "warning: \(Format.grouped(rest.count)) more \(kinds) not shown (the first \(limit) are above; this is the next)\n"
    return out
  }
}
