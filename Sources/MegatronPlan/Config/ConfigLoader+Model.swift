/// Reading the model's architecture: NeMo's keys (Megatron-LM scripts and Hugging Face
/// `config.json` are read into the same keys first), with NeMo's defaults.
extension ConfigLoader {
  /// The architecture keys of one decoder, read and checked. Sizes that the layout rules need
  /// (layers, hidden, heads…) are read by `load`; this reads the rest.
  struct Architecture {
    var queryGroups: Int
    var headDim: Int
    var normalization: Normalization
    var activation: Activation
    var linearBiases: Bool
    var qkvBias: Bool
    var qkLayerNorm: Bool
    var sandwichNorm: Bool
    var embeddingNorm: Bool
    var position: PositionEmbedding
    var dropout: Dropout
    var fusions: KernelFusions
    var blockType: TransformerBlockType
  }

  /// `prefix` is the section the keys are in: `model` for a decoder, `model.encoder` or
  /// `model.decoder` for a stack of an encoder–decoder model.
  static func readArchitecture(
    _ r: inout KeyReader, hidden: Int, heads: Int, prefix: String = "model"
  ) throws -> Architecture {
    let groups = try r.size(
      "\(prefix).num_query_groups", default: heads,
      why: "null: multi-head attention, one group per head")
    let headDim: Int
    if r.has("\(prefix).kv_channels") {
      headDim = try r.size("\(prefix).kv_channels")
    } else {
      guard hidden % heads == 0 else {
        throw r.error(
          LayoutViolation.headsDoNotDivideHidden(heads: heads, hidden: hidden).description
            + " (set kv_channels for a head size other than hidden_size / num_attention_heads)",
          key: "\(prefix).num_attention_heads")
      }
      headDim = hidden / heads
      r.defaulted("\(prefix).kv_channels", "\(headDim) (hidden_size / num_attention_heads)")
    }
    let biases = try r.bool("\(prefix).bias", default: true)
    // Qwen 2 keeps a QKV bias with the other biases off (Megatron `--add-qkv-bias`; NeMo 2
    // `add_qkv_bias`, older NeMo `qkv_bias`).
    let qkvKey = r.has("\(prefix).add_qkv_bias") ? "\(prefix).add_qkv_bias" : "\(prefix).qkv_bias"
    let qkvBias = try r.bool(qkvKey, default: biases, record: r.has(qkvKey))
    let qkNorm = try r.bool(
      "\(prefix).qk_layernorm", default: false, record: r.has("\(prefix).qk_layernorm"))
    // Gemma 2's norms after attention and after the MLP; NeMo has no key for them.
    let sandwich = try r.bool(
      "megaplan.sandwich_norm", default: false, record: r.has("megaplan.sandwich_norm"))
    // BLOOM's norm after the word embedding (Megatron-DeepSpeed `--embed-layernorm`).
    let embeddingNorm = try r.bool(
      "megaplan.embedding_norm", default: false, record: r.has("megaplan.embedding_norm"))
    let fusions = KernelFusions(
      biasActivation: try r.bool("\(prefix).bias_activation_fusion", default: true),
      maskedSoftmax: try r.bool("\(prefix).masked_softmax_fusion", default: true),
      rope: try r.bool("\(prefix).apply_rope_fusion", default: false),
      fp8ActivationInput: try r.bool(
        "\(prefix).activation_func_fp8_input_store", default: false,
        record: r.has("\(prefix).activation_func_fp8_input_store")))
    return Architecture(
      queryGroups: groups, headDim: headDim,
      normalization: try readNormalization(&r, prefix: prefix),
      activation: try readActivation(&r, prefix: prefix), linearBiases: biases, qkvBias: qkvBias,
      qkLayerNorm: qkNorm, sandwichNorm: sandwich,
      embeddingNorm: embeddingNorm, position: try readPositionEmbedding(&r, prefix: prefix),
      dropout: try readDropout(&r, prefix: prefix),
      fusions: fusions, blockType: try readBlockType(&r, prefix: prefix))
  }

  /// NeMo's `transformer_block_type`: `pre_ln` (the default), `post_ln` or `normformer`
  /// (`TransformerBlockType`).
  static func readBlockType(_ r: inout KeyReader, prefix: String) throws -> TransformerBlockType {
    let key = "\(prefix).transformer_block_type"
    guard let name = try r.optionalString(key, record: r.has(key)) else { return .preLN }
    guard let type = TransformerBlockType(rawValue: name.lowercased()) else {
      throw r.error(
        "transformer_block_type '\(name)' is not one of pre_ln, post_ln, normformer", key: key)
    }
    return type
  }

  static func readNormalization(_ r: inout KeyReader, prefix: String = "model") throws
    -> Normalization
  {
    let key = "\(prefix).normalization"
    guard let name = try r.optionalString(key, record: true) else {
      r.defaulted(key, "layernorm")
      return .layerNorm
    }
    switch name.lowercased().replacingOccurrences(of: "_", with: "") {
    case "layernorm", "fusedlayernorm", "mixedfusedlayernorm": return .layerNorm
    case "layernorm1p": return .layerNorm1p
    case "rmsnorm": return .rmsNorm
    default:
      throw r.error(
        "normalization '\(name)' is not modeled; megaplan models layernorm, layernorm1p and rmsnorm\(Suggestion.didYouMean(name.lowercased(), in: Normalization.allCases.map(\.rawValue)))",
        key: key)
    }
  }

  /// NeMo's activation names (`fast-` variants are the same function, fused).
  static let activationNames: [String: Activation] = [
    "gelu": .gelu, "fast-gelu": .gelu, "approx-gelu": .gelu, "openai-gelu": .gelu,
    "swiglu": .swiglu, "fast-swiglu": .swiglu, "geglu": .geglu, "fast-geglu": .geglu,
    "reglu": .reglu, "fast-reglu": .reglu, "squared-relu": .squaredReLU, "relu": .relu,
    "quick-geglu": .quickGeGLU,
  ]

  static func readActivation(_ r: inout KeyReader, prefix: String = "model") throws -> Activation {
    let key = "\(prefix).activation"
    guard let name = try r.optionalString(key, record: true) else {
      r.defaulted(key, "gelu")
      return .gelu
    }
    if let activation = activationNames[name.lowercased()] { return activation }
    let names = activationNames.keys.sorted()
    throw r.error(
      "activation '\(name)' is not modeled; megaplan models \(names.joined(separator: ", "))\(Suggestion.didYouMean(name.lowercased(), in: names))",
      key: key)
  }

  static func readPositionEmbedding(_ r: inout KeyReader, prefix: String = "model") throws
    -> PositionEmbedding
  {
    let key = "\(prefix).position_embedding_type"
    guard let name = try r.optionalString(key, record: true) else {
      r.defaulted(key, "learned_absolute")
      return .learnedAbsolute
    }
    switch name.lowercased() {
    case "learned_absolute": return .learnedAbsolute
    case "rope":
      let percentage = try r.positiveNumber("\(prefix).rotary_percentage") ?? 1
      if !r.has("\(prefix).rotary_percentage") {
        r.defaulted("\(prefix).rotary_percentage", "1.0")
      }
      guard percentage <= 1 else {
        throw r.error(
          "rotary_percentage \(percentage) must be in (0, 1]", key: "\(prefix).rotary_percentage")
      }
      let base = try r.positiveNumber("\(prefix).rotary_base") ?? 10_000
      if !r.has("\(prefix).rotary_base") { r.defaulted("\(prefix).rotary_base", "10000") }
      return .rotary(percentage: percentage, base: base)
    case "alibi": return .alibi
    case "relative" where prefix != "model": return .relative
    default:
      throw r.error(
        "position_embedding_type '\(name)' is not modeled; megaplan models learned_absolute, rope and alibi\(prefix == "model" ? "" : ", and relative for T5's stacks")",
        key: key)
    }
  }

  /// Dropout probabilities, NeMo's defaults (0.1, 0.1, 0.0: `megatron_gpt_config.yaml`).
  static func readDropout(_ r: inout KeyReader, prefix: String = "model") throws -> Dropout {
    func probability(_ key: String, _ fallback: Double) throws -> Double {
      guard r.has(key) else {
        r.defaulted(key, String(fallback))
        return fallback
      }
      guard let value = try r.probability(key) else { return fallback }
      return value
    }
    return Dropout(
      hidden: try probability("\(prefix).hidden_dropout", 0.1),
      attention: try probability("\(prefix).attention_dropout", 0.1),
      ffn: try probability("\(prefix).ffn_dropout", 0))
  }

  /// The pipeline split: even unless the file fixes the first/last stage's layers or counts the
  /// embedding/loss as a layer (`PipelineSplit`).
  static func readPipelineSplit(_ r: inout KeyReader) throws -> PipelineSplit {
    var split = PipelineSplit()
    for (key, path) in [
      ("model.num_layers_in_first_pipeline_stage", \PipelineSplit.firstStageLayers),
      ("model.num_layers_in_last_pipeline_stage", \PipelineSplit.lastStageLayers),
    ] where r.has(key) {
      guard let n = try r.optionalInt(key, record: true), n >= 0, n <= maximumSize else {
        throw r.error("\(KeyReader.leaf(key)) must be zero or a positive integer", key: key)
      }
      split[keyPath: path] = n
    }
    split.embeddingCountsAsLayer = try r.bool(
      "model.account_for_embedding_in_pipeline_split", default: false,
      record: r.has("model.account_for_embedding_in_pipeline_split"))
    split.lossCountsAsLayer = try r.bool(
      "model.account_for_loss_in_pipeline_split", default: false,
      record: r.has("model.account_for_loss_in_pipeline_split"))
    let layoutKey = "model.pipeline_model_parallel_layout"
    if let text = try r.optionalString(layoutKey, record: true) {
      let layout: PipelineSplit.FlexibleLayout
      do {
        layout = try PipelineSplit.parseLayout(text)
      } catch {
        throw r.error(error.description, key: layoutKey)
      }
      let last = layout.chunkLayers.count - 1
      // Megatron-Core's rules (`PipelineParallelLayerLayout.validate_layer_layout`): the
      // embedding first, the loss last, each once; megaplan also keeps the MTP layers with the
      // loss (Megatron-Core allows a "standalone" MTP chunk elsewhere, which is not modeled).
      guard layout.embeddingChunks == [0], layout.firstLayer == "E" else {
        throw r.error(
          "pipeline_model_parallel_layout '\(text)' must start with the embedding E, once",
          key: layoutKey)
      }
      guard layout.lossChunks == [last], layout.lastLayer == "L" else {
        throw r.error(
          "pipeline_model_parallel_layout '\(text)' must end with the loss L, once (after the MTP layers: Et|…|mL)",
          key: layoutKey)
      }
      if let chunk = layout.mtpChunks.keys.first(where: { $0 != last }) {
        throw r.error(
          "pipeline_model_parallel_layout '\(text)' puts MTP layers in chunk \(chunk), before the loss's; megaplan models the MTP layers with the loss on the last stage",
          key: layoutKey)
      }
      split.chunkLayers = layout.chunkLayers
      split.layoutText = text
      split.mtpChunk = layout.mtpChunks[last].map { _ in last }
      split.mtpLayers = layout.mtpChunks[last] ?? 0
    }
    return split
  }

  // MARK: - What megaplan does not model yet

  /// Architectures and features megaplan does not model, each with the key that asks for it.
  /// Every one in the file is reported in one error (the first located, the rest in its note),
  /// so a user fixes them in one pass; nothing is estimated as if it were something else.
  static func refuseUnmodeled(
    _ r: inout KeyReader, alsoFound: [(key: String, message: String)] = []
  ) throws {
    var found = alsoFound
    if let zero = try r.optionalInt("megaplan.zero_stage"), zero > 1 {
      found.append(
        (
          "megaplan.zero_stage",
          "DeepSpeed ZeRO stage \(zero) is not modeled yet (stage 0 and 1 are)"
        ))
    }
    guard let first = found.first else { return }
    var error = r.error(first.message, key: first.key)
    if found.count > 1 {
      let others = found.dropFirst().map { item -> String in
        let at = r.error(item.message, key: item.key).location
        return "\(item.message)" + (at.map { " (line \($0.line))" } ?? "")
      }
      error.note = "also not modeled in this file: " + others.joined(separator: "; ")
    }
    throw error
  }

  /// Mixture of experts (NeMo / Megatron-Core keys): nil without `num_moe_experts` > 1.
  static func readMoE(_ r: inout KeyReader, ffn: Int, layers: Int) throws -> MixtureOfExperts? {
    guard let experts = try r.optionalInt("model.num_moe_experts", record: true), experts > 1
    else { return nil }
    guard experts <= maximumSize else {
      throw r.error(
        "num_moe_experts \(experts) exceeds \(maximumSize)", key: "model.num_moe_experts")
    }
    let topK = try r.size("model.moe_router_topk", default: 2, why: "Megatron-Core's default")
    guard topK <= experts else {
      throw r.error(
        "moe_router_topk \(topK) exceeds num_moe_experts \(experts)", key: "model.moe_router_topk")
    }
    let expertFFN = try r.size("model.moe_ffn_hidden_size", default: ffn, why: "ffn_hidden_size")
    let shared =
      r.has("model.moe_shared_expert_intermediate_size")
      ? try r.size("model.moe_shared_expert_intermediate_size") : 0
    let (frequency, firstDense) = try readMoELayerPattern(&r, layers: layers)
    var capacity: Double? = nil
    if r.has("model.moe_expert_capacity_factor") {
      capacity = try r.positiveNumber("model.moe_expert_capacity_factor")
    }
    let pad = try r.bool(
      "model.moe_pad_expert_input_to_capacity", default: false,
      record: r.has("model.moe_pad_expert_input_to_capacity"))
    let imbalance = try r.positiveNumber("megaplan.moe_imbalance") ?? 1
    if !r.has("megaplan.moe_imbalance") {
      r.defaulted(
        "megaplan.moe_imbalance",
        "1.0 (force-balanced routing; dropless aux-loss routing ran as 1.55 on Qwen3-235B at EP 8)")
    }
    guard imbalance >= 1 else {
      throw r.error(
        "moe_imbalance \(imbalance) must be at least 1 (the busiest expert over the balanced share)",
        key: "megaplan.moe_imbalance")
    }
    let dispatcherKey = "model.moe_token_dispatcher_type"
    var dispatcher = MixtureOfExperts.Dispatcher.alltoall
    if let name = try r.optionalString(dispatcherKey, record: true) {
      guard let d = MixtureOfExperts.Dispatcher(rawValue: name.lowercased()) else {
        throw r.error(
          "unknown moe_token_dispatcher_type '\(name)'; expected alltoall, allgather or flex",
          key: dispatcherKey)
      }
      dispatcher = d
    } else {
      r.defaulted(dispatcherKey, "alltoall")
    }
    let grouped = try r.bool("model.moe_grouped_gemm", default: true)
    let gate = try r.bool("model.moe_shared_expert_gate", default: false)
    if gate && shared == 0 {
      throw r.error(
        "moe_shared_expert_gate: true needs moe_shared_expert_intermediate_size (a gate on no shared experts)",
        key: "model.moe_shared_expert_gate")
    }
    let scoreKey = "model.moe_router_score_function"
    var score = MixtureOfExperts.ScoreFunction.softmax
    if let name = try r.optionalString(scoreKey, record: true) {
      guard let f = MixtureOfExperts.ScoreFunction(rawValue: name.lowercased()) else {
        throw r.error(
          "moe_router_score_function '\(name)' is not modeled; megaplan models softmax and sigmoid\(Suggestion.didYouMean(name.lowercased(), in: ["softmax", "sigmoid"]))",
          key: scoreKey)
      }
      score = f
    } else {
      r.defaulted(scoreKey, "softmax")
    }
    var moe = MixtureOfExperts(
      experts: experts, topK: topK, expertFFN: expertFFN, sharedExpertFFN: shared,
      frequency: frequency, firstDenseLayers: firstDense, capacityFactor: capacity,
      padToCapacity: pad, imbalance: imbalance, dispatcher: dispatcher, groupedGEMM: grouped,
      sharedExpertGate: gate, scoreFunction: score)
    try readMoEKernels(&r, into: &moe)
    return moe
  }

  /// The MoE layer's kernel switches (`MixtureOfExperts`): the flex dispatcher's backend, the
  /// fused permutation and router, forced balance, group-limited routing, the shared experts'
  /// overlap and the delayed expert weight gradients.
  static func readMoEKernels(_ r: inout KeyReader, into moe: inout MixtureOfExperts) throws {
    let backendKey = "model.moe_flex_dispatcher_backend"
    if let name = try r.optionalString(backendKey, record: true) {
      let names = MixtureOfExperts.FlexBackend.allCases.map(\.rawValue)
      guard let backend = MixtureOfExperts.FlexBackend(rawValue: name.lowercased()) else {
        throw r.error(
          "unknown moe_flex_dispatcher_backend '\(name)'; expected \(names.joined(separator: " or "))\(Suggestion.didYouMean(name.lowercased(), in: names))",
          key: backendKey)
      }
      moe.flexBackend = backend
    }
    func flag(_ key: String) throws -> Bool {
      try r.bool("model." + key, default: false, record: r.has("model." + key))
    }
    moe.permuteFusion = try flag("moe_permute_fusion")
    moe.routerFusion = try flag("moe_router_fusion")
    moe.sharedExpertOverlap = try flag("moe_shared_expert_overlap")
    moe.delayWeightGradient = try flag("delay_wgrad_compute")
    if try flag("moe_router_force_load_balancing"), moe.imbalance > 1 {
      // Forced balance routes tokens uniformly at random (Megatron-Core's `RandomSTE`): the
      // busiest expert gets the balanced share, which a larger imbalance contradicts.
      throw r.error(
        "moe_router_force_load_balancing: true routes every expert the balanced share; megaplan.moe_imbalance \(moe.imbalance) says otherwise (leave it at 1.0)",
        key: "megaplan.moe_imbalance")
    }
    let groupsKey = "model.moe_router_num_groups", topKey = "model.moe_router_group_topk"
    if r.has(groupsKey) || r.has(topKey) {
      guard let groups = try r.optionalInt(groupsKey, record: true),
        let top = try r.optionalInt(topKey, record: true)
      else {
        throw r.error(
          "group-limited routing needs both moe_router_num_groups and moe_router_group_topk",
          key: r.has(groupsKey) ? groupsKey : topKey)
      }
      guard groups >= 1, moe.experts % groups == 0 else {
        throw r.error(
          "moe_router_num_groups \(groups) must divide num_moe_experts \(moe.experts)",
          key: groupsKey)
      }
      guard top >= 1, top <= groups, top * (moe.experts / groups) >= moe.topK else {
        throw r.error(
          "moe_router_group_topk \(top) must be 1…\(groups) and its groups must hold moe_router_topk \(moe.topK) experts",
          key: topKey)
      }
      moe.routerGroups = groups
      moe.groupTopK = top
    }
  }

  /// Multi-latent attention (Megatron-Core `MLATransformerConfig` keys, its defaults): nil
  /// unless `multi_latent_attention: true`. Megatron-Core asserts MLA is not grouped-query
  /// attention, so `num_query_groups`, when given, must equal the heads.
  static func readMultiLatentAttention(_ r: inout KeyReader, heads: Int, groups: Int) throws
    -> MultiLatentAttention?
  {
    guard
      try r.bool(
        "model.multi_latent_attention", default: false,
        record: r.has("model.multi_latent_attention"))
    else { return nil }
    if groups != heads {
      throw r.error(
        "multi_latent_attention with num_query_groups \(groups) ≠ num_attention_heads \(heads): Megatron-Core's MLA has one key/value head per query head",
        key: "model.num_query_groups")
    }
    let d = MultiLatentAttention.megatronDefault
    var queryRank: Int? = d.queryRank
    let qKey = "model.q_lora_rank"
    if r.has(qKey) {
      queryRank = try r.size(qKey)
    } else if try r.lookup(qKey)?.scalar == .null {
      // null: queries are projected from h directly (`linear_q_proj`).
      queryRank = nil
      r.derived("q_lora_rank", "null", why: "queries projected from hidden_size directly")
    } else {
      r.defaulted(qKey, "\(d.queryRank ?? 0) (Megatron-Core's MLATransformerConfig)")
    }
    let why = "Megatron-Core's MLATransformerConfig"
    return MultiLatentAttention(
      queryRank: queryRank,
      keyValueRank: try r.size("model.kv_lora_rank", default: d.keyValueRank, why: why),
      qkHeadDim: try r.size("model.qk_head_dim", default: d.qkHeadDim, why: why),
      ropeHeadDim: try r.size("model.qk_pos_emb_head_dim", default: d.ropeHeadDim, why: why),
      valueHeadDim: try r.size("model.v_head_dim", default: d.valueHeadDim, why: why))
  }

  /// `mtp_num_layers`: multi-token prediction layers after the last layer (null or 0: none).
  static func readMultiTokenPrediction(_ r: inout KeyReader) throws -> Int {
    let key = "model.mtp_num_layers"
    guard r.has(key) else { return 0 }
    guard let n = try r.optionalInt(key, record: true), n >= 0, n <= 16 else {
      throw r.error("mtp_num_layers must be an integer from 0 to 16", key: key)
    }
    return n
  }

  /// `moe_layer_freq`: an integer N (every N-th layer is MoE), Megatron's pattern string
  /// `([0]*k+[1]*n)` (k dense layers, then n MoE layers: DeepSeek's `first_k_dense_replace`), or
  /// Megatron-Core's list of one 0 or 1 per layer of either shape.
  static func readMoELayerPattern(_ r: inout KeyReader, layers: Int) throws -> (Int, Int) {
    let key = "model.moe_layer_freq"
    guard r.has(key) else {
      r.defaulted(key, "1 (every layer)")
      return (1, 0)
    }
    if case .int(let n) = try r.lookup(key)?.scalar {
      guard n >= 1 else { throw r.error("moe_layer_freq must be at least 1, found \(n)", key: key) }
      _ = try r.optionalInt(key, record: true)
      return (n, 0)
    }
    if let node = r.document.node(at: r.document.parts(key)), case .sequence = node.kind,
      let flags = try r.optionalIntList(key)
    {
      // Megatron-Core's list form: one 0 (dense) or 1 (MoE) per layer.
      guard flags.count == layers, flags.allSatisfy({ $0 == 0 || $0 == 1 }) else {
        throw r.error(
          "moe_layer_freq lists \(flags.count) entries of 0 and 1; num_layers is \(layers)",
          key: key)
      }
      let dense = flags.prefix { $0 == 0 }.count
      if flags.dropFirst(dense).allSatisfy({ $0 == 1 }) { return (1, dense) }
      // Every N-th layer (layer i is MoE when i % N = 0), as the integer N reads.
      if let n = flags.dropFirst().firstIndex(of: 1),
        flags.indices.allSatisfy({ flags[$0] == ($0 % n == 0 ? 1 : 0) })
      {
        return (n, 0)
      }
      throw r.error(
        "moe_layer_freq \(flags.map(String.init).joined(separator: ",")): megaplan models dense layers first, then MoE layers, or every N-th layer",
        key: key)
    }
    let written = (try r.optionalString(key, record: true) ?? "").filter { $0 != " " }
    // Megatron evaluates the pattern as a Python list expression: its brackets must balance
    // (quotes around it, from a shell or YAML, go).
    var depth = 0
    for c in written where c == "(" || c == ")" {
      depth += c == "(" ? 1 : -1
      if depth < 0 { break }
    }
    guard depth == 0 else {
      throw r.error(
        "moe_layer_freq '\(written)' has unbalanced parentheses; Megatron reads it as a Python list expression such as ([0]*3+[1]*58)",
        key: key)
    }
    let text = written.filter { !"()'\"".contains($0) }
    var dense = 0
    var moe = 0
    for part in text.split(separator: "+").map(String.init) {
      let pieces = part.split(separator: "*").map(String.init)
      guard pieces.count == 2, let count = Int(pieces[1]), pieces[0] == "[0]" || pieces[0] == "[1]"
      else {
        throw r.error(
          "moe_layer_freq '\(text)' is not an integer or a pattern like ([0]*3+[1]*58)", key: key)
      }
      if pieces[0] == "[0]" {
        guard moe == 0 else {
          throw r.error(
            "moe_layer_freq '\(text)': megaplan models dense layers first, then MoE layers",
            key: key)
        }
        dense += count
      } else {
        moe += count
      }
    }
    guard dense + moe == layers else {
      throw r.error(
        "moe_layer_freq '\(text)' describes \(dense + moe) layers, num_layers is \(layers)",
        key: key)
    }
    return (1, dense)
  }
}
