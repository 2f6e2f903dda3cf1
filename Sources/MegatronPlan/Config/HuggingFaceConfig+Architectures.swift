/// Each supported architecture's config.json fields, mapped to NeMo's keys. Field names and
/// defaults (the value `transformers` uses when config.json leaves a field out) are those of the
/// architecture's `configuration_*.py` and `modeling_*.py` in huggingface/transformers
/// (src/transformers/models/<name>/).
extension HuggingFaceConfig {
  /// The model read from config.json: `shape` replaces a YAML's keys, `training` (dropout) only
  /// fills them.
  struct Model {
    var shape: [TreeEntry] = []
    var training: [TreeEntry] = []
    var maxPositions = 0
    var root: SourceLocation
  }

  enum Family: String {
    case llama, mistral, mixtral, qwen2, gemma, gemma2, nemotron, gpt2
    case qwen2MoE = "qwen2_moe"
    case qwen3MoE = "qwen3_moe"
    case deepseekV3 = "deepseek_v3"
    case gptOss = "gpt_oss"

    /// Families whose config.json describes experts (read as mixture of experts).
    var isMixtureOfExperts: Bool {
      [.mixtral, .qwen2MoE, .qwen3MoE, .deepseekV3, .gptOss].contains(self)
    }
  }

  /// Fields megaplan reads from one config.json, typed, with errors located at the field.
  struct Fields {
    let json: JSONObjectReader
    let architecture: String
    /// Where the architecture is named: values the architecture fixes point here.
    let origin: SourceLocation

    func field(_ name: String) -> JSONField? {
      guard let f = json.fields[name], f.value != .null else { return nil }
      return f
    }

    func wrongType(_ f: JSONField, _ expected: String, key: String) -> ConfigError {
      ConfigError(
        "expected \(expected) for '\(f.name)' in \(json.file), found \(f.raw)", key: key,
        at: f.location)
    }

    /// A size (a positive integer no larger than `ConfigLoader.maximumSize`), or nil when absent
    /// or null.
    func size(_ name: String, key: String) throws -> (Int, SourceLocation)? {
      guard let f = field(name) else { return nil }
      guard case .int(let n) = f.value, n > 0, n <= ConfigLoader.maximumSize else {
        throw wrongType(
          f, "a positive integer no larger than \(ConfigLoader.maximumSize)", key: key)
      }
      return (n, f.location)
    }

    func requiredSize(_ name: String, key: String) throws -> (Int, SourceLocation) {
      guard let found = try size(name, key: key) else {
        throw ConfigError(
          "\(json.file) has no '\(name)', which megaplan needs for \(architecture) (it sets \(key))",
          key: key, at: origin)
      }
      return found
    }

    func bool(_ name: String, key: String) throws -> (Bool, SourceLocation)? {
      guard let f = field(name) else { return nil }
      guard case .bool(let b) = f.value else { throw wrongType(f, "true or false", key: key) }
      return (b, f.location)
    }

    func number(_ name: String, key: String) throws -> (Double, SourceLocation)? {
      guard let f = field(name) else { return nil }
      switch f.value {
      case .int(let n): return (Double(n), f.location)
      case .double(let d) where d.isFinite: return (d, f.location)
      default: throw wrongType(f, "a number", key: key)
      }
    }

    func string(_ name: String, key: String) throws -> (String, SourceLocation)? {
      guard let f = field(name) else { return nil }
      guard case .string(let s) = f.value else { throw wrongType(f, "a string", key: key) }
      return (s, f.location)
    }
  }

  /// `model_type`s of models built as another architecture: Kimi K2's `kimi_k2` is
  /// DeepSeek-V3's (its config.json names `DeepseekV3ForCausalLM`; Moonshot's deployment guide:
  /// "Kimi-K2 reuses the DeepSeekV3CausalLM architecture").
  static let modelTypeAliases = ["kimi_k2": "deepseek_v3"]

  /// The architecture, from `architectures[0]` (what `from_pretrained` instantiates), else
  /// `model_type`.
  static func identify(_ json: JSONObjectReader, text: String, file: String) throws -> (
    Family, String, SourceLocation
  ) {
    let top = SourceLocation(
      file: file, line: 1, column: 1, lineText: JSONObjectReader.lines(text).first ?? "")
    var name: String?
    var location = top
    if let f = json.fields["architectures"] {
      guard case .array = f.value else {
        throw ConfigError(
          "expected a list of class names for 'architectures' in \(file), found \(f.raw)",
          key: "architectures", at: f.location)
      }
      let list = ArchitectureList(text: text, at: f.location)
      (name, location) = (list.first, list.location)
    }
    if name == nil, let f = json.fields["model_type"], case .string(let type) = f.value {
      let known = supportedArchitectures.first { $0.modelType == (modelTypeAliases[type] ?? type) }
      (name, location) = (known?.name ?? type, f.location)
    }
    guard let name else {
      throw ConfigError(
        "\(file) names no architecture: megaplan reads 'architectures' (or 'model_type') to know the model",
        key: "architectures", at: top)
    }
    if mixtureOfExperts.contains(name) {
      throw ConfigError(
        "\(name) is a mixture-of-experts model; mixture of experts is not modeled yet (megaplan models dense decoders)",
        key: "architectures", at: location)
    }
    guard let known = supportedArchitectures.first(where: { $0.name == name }),
      let family = Family(rawValue: known.modelType)
    else {
      let names = supportedArchitectures.map(\.name)
      throw ConfigError(
        "architecture '\(name)' is not modeled; megaplan reads \(names.joined(separator: ", "))\(Suggestion.didYouMean(name, in: names))",
        key: "architectures", at: location)
    }
    return (family, name, location)
  }

  /// The first class name of `"architectures": ["LlamaForCausalLM"]`, located at its string.
  struct ArchitectureList {
    var first: String?
    var location: SourceLocation

    init(text: String, at start: SourceLocation) {
      // The scan gives the list's opening bracket; the first string after it is the name.
      // start.column is 1-based and points at '[': index start.column is just after it.
      var offset = start.column
      var chars = Array(start.lineText.unicodeScalars)
      var name = ""
      while offset < chars.count, chars[offset] != "\"", chars[offset] != "]" { offset += 1 }
      if offset >= chars.count {
        // The name is on a later line (pretty-printed list): find it in the text.
        let lines = JSONObjectReader.lines(text)
        var lineIndex = start.line
        while lineIndex < lines.count {
          chars = Array(lines[lineIndex].unicodeScalars)
          if let q = chars.firstIndex(of: "\"") {
            offset = q
            break
          }
          if chars.contains("]") { break }
          lineIndex += 1
        }
        guard lineIndex < lines.count, offset < chars.count, chars[offset] == "\"" else {
          self.first = nil
          self.location = start
          return
        }
        var end = offset + 1
        while end < chars.count, chars[end] != "\"" { end += 1 }
        name.unicodeScalars.append(contentsOf: chars[(offset + 1)..<end])
        self.first = name
        self.location = SourceLocation(
          file: start.file, line: lineIndex + 1, column: offset + 2, length: name.count,
          lineText: lines[lineIndex])
        return
      }
      guard chars[offset] == "\"" else {
        self.first = nil
        self.location = start
        return
      }
      var end = offset + 1
      while end < chars.count, chars[end] != "\"" { end += 1 }
      name.unicodeScalars.append(contentsOf: chars[(offset + 1)..<end])
      self.first = name
      self.location = SourceLocation(
        file: start.file, line: start.line, column: offset + 2, length: name.count,
        lineText: start.lineText)
    }
  }

  // MARK: - Reading

  static func read(_ text: String, file: String) throws -> Model {
    guard text.utf8.count <= maxBytes else {
      throw ConfigError(
        "\(file) is \(text.utf8.count) bytes; megaplan reads config.json files up to \(maxBytes) bytes",
        at: SourceLocation(file: file, line: 1, column: 1))
    }
    let json = try JSONObjectReader(text, file: file)
    let (family, name, origin) = try identify(json, text: text, file: file)
    let f = Fields(json: json, architecture: name, origin: origin)
    var model = Model(root: SourceLocation(file: file, line: 1, column: 1))
    func set(_ key: String, _ value: String, _ at: SourceLocation, _ training: Bool) {
      let entry = TreeEntry(
        path: key.split(separator: ".").map(String.init), value: value, valueLocation: at,
        keyLocation: at)
      if training { model.training.append(entry) } else { model.shape.append(entry) }
    }
    try refuseUnmodeled(f, family: family)
    let positions: Int
    switch family {
    case .gpt2: positions = try readGPT2(f, set: set)
    case .deepseekV3: positions = try readDeepseekV3(f, set: set)
    case .gptOss: positions = try readGptOss(f, set: set)
    default: positions = try readLlamaLike(f, family: family, set: set)
    }
    model.maxPositions = positions
    return model
  }

  /// Fields that change the model in ways megaplan does not model: refused, not ignored.
  static func refuseUnmodeled(_ f: Fields, family: Family) throws {
    for name in ["num_local_experts", "num_experts", "n_routed_experts"]
    where !family.isMixtureOfExperts {
      if let (n, at) = try f.size(name, key: "model.num_moe_experts"), n > 1 {
        throw ConfigError(
          "'\(name)': \(n) asks for mixture of experts, which is not modeled yet",
          key: "model.num_moe_experts", at: at)
      }
    }
    // Qwen 2: sliding-window attention only when use_sliding_window is true
    // (modeling_qwen2.py); megaplan counts full causal attention.
    if [.qwen2, .qwen2MoE, .qwen3MoE].contains(family),
      let (on, at) = try f.bool("use_sliding_window", key: "use_sliding_window"), on
    {
      throw ConfigError(
        "'use_sliding_window': true (attention over a window of the sequence) is not modeled; megaplan counts full causal attention",
        key: "use_sliding_window", at: at)
    }
    if family == .qwen2MoE || family == .qwen3MoE {
      // Qwen2-MoE / Qwen3-MoE: layer i is MoE when i is not in mlp_only_layers and
      // (i + 1) % decoder_sparse_step == 0; megaplan reads every layer MoE (step 1, no dense
      // layers), as the published models have it.
      if let (step, at) = try f.size("decoder_sparse_step", key: "model.moe_layer_freq"), step != 1
      {
        throw ConfigError(
          "'decoder_sparse_step': \(step) (MoE every \(step)th layer, counted from layer \(step - 1)) is not modeled; megaplan reads Qwen MoE models with every layer MoE",
          key: "model.moe_layer_freq", at: at)
      }
      if let f2 = f.field("mlp_only_layers"), (f.json.arrayLengths["mlp_only_layers"] ?? 0) > 0 {
        throw ConfigError(
          "'mlp_only_layers' lists dense layers among the MoE layers, which is not modeled; megaplan reads Qwen MoE models with every layer MoE",
          key: "model.moe_layer_freq", at: f2.location)
      }
    }
    if family == .gpt2,
      let (on, at) = try f.bool("add_cross_attention", key: "add_cross_attention"),
      on
    {
      throw ConfigError(
        "'add_cross_attention': true (an encoder-decoder GPT-2) is not modeled; megaplan models decoder-only transformers",
        key: "model.decoder", at: at)
    }
  }

  /// The fields every Llama-style and DeepSeek config.json names alike: `num_hidden_layers`,
  /// `hidden_size`, `num_attention_heads`, `vocab_size`, `max_position_embeddings`, each set as
  /// its NeMo key; returns L, h, a (and where a was given) and the positions.
  static func readDecoderShape(
    _ f: Fields, set: (String, String, SourceLocation, Bool) -> Void
  ) throws -> (layers: Int, hidden: Int, heads: Int, headsAt: SourceLocation, positions: Int) {
    let (layers, layersAt) = try f.requiredSize("num_hidden_layers", key: "model.num_layers")
    let (hidden, hiddenAt) = try f.requiredSize("hidden_size", key: "model.hidden_size")
    let (heads, headsAt) = try f.requiredSize(
      "num_attention_heads", key: "model.num_attention_heads")
    let (vocab, vocabAt) = try f.requiredSize("vocab_size", key: "megaplan.tokenizer_vocab_size")
    let (positions, positionsAt) = try f.requiredSize(
      "max_position_embeddings", key: "model.max_position_embeddings")
    set("model.num_layers", String(layers), layersAt, false)
    set("model.hidden_size", String(hidden), hiddenAt, false)
    set("model.num_attention_heads", String(heads), headsAt, false)
    set("megaplan.tokenizer_vocab_size", String(vocab), vocabAt, false)
    set("model.max_position_embeddings", String(positions), positionsAt, false)
    return (layers, hidden, heads, headsAt, positions)
  }

  /// Llama, Mistral, Qwen 2, Gemma, Gemma 2 and Nemotron: pre-norm decoders with rotary
  /// positions, grouped-query attention and q/k/v/o projections; gated MLPs (gate_proj, up_proj,
  /// down_proj) except Nemotron's (up_proj, down_proj).
  static func readLlamaLike(
    _ f: Fields, family: Family, set: (String, String, SourceLocation, Bool) -> Void
  ) throws -> Int {
    let (layers, hidden, heads, headsAt, positions) = try readDecoderShape(f, set: set)
    let (ffn, ffnAt) = try f.requiredSize("intermediate_size", key: "model.ffn_hidden_size")
    set("model.ffn_hidden_size", String(ffn), ffnAt, false)
    if family == .mixtral {
      // MixtralConfig: num_local_experts (default 8) experts of intermediate_size each,
      // num_experts_per_tok (default 2) per token, in every layer (MixtralSparseMoeBlock).
      let experts = try f.size("num_local_experts", key: "model.num_moe_experts")
      set("model.num_moe_experts", String(experts?.0 ?? 8), experts?.1 ?? f.origin, false)
      let topK = try f.size("num_experts_per_tok", key: "model.moe_router_topk")
      set("model.moe_router_topk", String(topK?.0 ?? 2), topK?.1 ?? f.origin, false)
      set("model.moe_ffn_hidden_size", String(ffn), ffnAt, false)
    }
    if family == .qwen2MoE || family == .qwen3MoE {
      // Qwen2MoeConfig: num_experts (default 60) of moe_intermediate_size (1408), top
      // num_experts_per_tok (4), a shared expert of shared_expert_intermediate_size (5632) with a
      // sigmoid gate (`shared_expert_gate`, Linear(h, 1)). Qwen3MoeConfig: 128 experts of 768,
      // top 8, no shared expert. Both softmax routers.
      let qwen2 = family == .qwen2MoE
      let experts = try f.size("num_experts", key: "model.num_moe_experts")
      set(
        "model.num_moe_experts", String(experts?.0 ?? (qwen2 ? 60 : 128)),
        experts?.1 ?? f.origin, false)
      let topK = try f.size("num_experts_per_tok", key: "model.moe_router_topk")
      set("model.moe_router_topk", String(topK?.0 ?? (qwen2 ? 4 : 8)), topK?.1 ?? f.origin, false)
      let width = try f.size("moe_intermediate_size", key: "model.moe_ffn_hidden_size")
      set(
        "model.moe_ffn_hidden_size", String(width?.0 ?? (qwen2 ? 1408 : 768)),
        width?.1 ?? f.origin, false)
      if qwen2 {
        let shared = try f.size(
          "shared_expert_intermediate_size", key: "model.moe_shared_expert_intermediate_size")
        set(
          "model.moe_shared_expert_intermediate_size", String(shared?.0 ?? 5632),
          shared?.1 ?? f.origin, false)
        set("model.moe_shared_expert_gate", "true", f.origin, false)
      }
    }
    // num_key_value_heads: None → num_attention_heads (every configuration_*.py here).
    let groups = try f.size("num_key_value_heads", key: "model.num_query_groups")
    set("model.num_query_groups", String(groups?.0 ?? heads), groups?.1 ?? headsAt, false)

    // head_dim: None → hidden_size // num_attention_heads (Llama, Mistral, Qwen 2, Nemotron);
    // GemmaConfig and Gemma2Config default to 256.
    if let (d, at) = try f.size("head_dim", key: "model.kv_channels") {
      set("model.kv_channels", String(d), at, false)
    } else if family == .gemma || family == .gemma2 {
      set("model.kv_channels", "256", f.origin, false)
    } else {
      guard hidden % heads == 0 else {
        throw ConfigError(
          "num_attention_heads \(heads) does not divide hidden_size \(hidden), and \(f.json.file) gives no 'head_dim'",
          key: "model.kv_channels", at: headsAt)
      }
      set("model.kv_channels", String(hidden / heads), headsAt, false)
    }

    // Norms: RMSNorm (LlamaRMSNorm; GemmaRMSNorm scales by 1 + w, the same h weights);
    // Nemotron's NemotronLayerNorm1P is LayerNorm with zero-centred gamma (NeMo layernorm1p).
    let norm = family == .nemotron ? "layernorm1p" : "rmsnorm"
    set("model.normalization", norm, f.origin, false)
    // Gemma 2: post_attention_layernorm and post_feedforward_layernorm after each block.
    set("megaplan.sandwich_norm", family == .gemma2 ? "true" : "false", f.origin, false)
    // Qwen3: RMSNorm on each head's query and key (`q_norm`, `k_norm`, head_dim wide).
    set("model.qk_layernorm", family == .qwen3MoE ? "true" : "false", f.origin, false)

    try readActivation(f, family: family, set: set)
    try readBiases(f, family: family, set: set)
    // Sliding windows: Gemma 2 on layers 0, 2, … (`Gemma2Config.layer_types`' default; `sliding_
    // window` 4096 by default), Mistral on every layer (`MistralConfig.sliding_window`, 4096 by
    // default, null from v0.2 on). A window of at least the sequence attends as causal attention
    // does: it changes nothing until the sequence (or a served context) is longer.
    if family == .gemma2 {
      try readSlidingWindow(f, layers: layers, set: set, fallback: 4096)
    } else if family == .mistral {
      try readSlidingWindow(f, layers: layers, set: set, fallback: 4096, everyLayer: true)
    }

    // tie_word_embeddings: PretrainedConfig's default is true; LlamaConfig, MistralConfig,
    // Qwen2Config and NemotronConfig default it to false, GemmaConfig and Gemma2Config to true.
    let tiedDefault = family == .gemma || family == .gemma2
    // Rotary embeddings: rope_theta (default 10000.0 in every configuration_*.py here);
    // partial_rotary_factor (NemotronConfig default 0.5; others 1.0, as transformers'
    // `_compute_default_rope_parameters` reads it). rope_scaling changes frequencies only.
    // attention_dropout (LlamaConfig et al., default 0.0) on the attention probabilities; these
    // models have no hidden dropout.
    try readOutputAndRotary(
      f, tiedDefault: tiedDefault, thetaDefault: 10_000, set: set)
    let partial = try f.number("partial_rotary_factor", key: "model.rotary_percentage")
    let partialDefault = family == .nemotron ? 0.5 : 1.0
    set(
      "model.rotary_percentage", String(partial?.0 ?? partialDefault), partial?.1 ?? f.origin,
      false)
    return positions
  }

  /// What every rotary decoder here reads alike: `tie_word_embeddings` (the family's default
  /// when absent), rotary positions at `rope_theta` (`thetaDefault` when absent; `rope_scaling`
  /// changes frequencies only) and `attention_dropout` on the probabilities when given. The
  /// rotary share (`model.rotary_percentage`) is the caller's.
  static func readOutputAndRotary(
    _ f: Fields, tiedDefault: Bool, thetaDefault: Double,
    set: (String, String, SourceLocation, Bool) -> Void
  ) throws {
    let tied = try f.bool("tie_word_embeddings", key: "model.share_embeddings_and_output_weights")
    set(
      "model.share_embeddings_and_output_weights", String(tied?.0 ?? tiedDefault),
      tied?.1 ?? f.origin, false)
    set("model.position_embedding_type", "rope", f.origin, false)
    let theta = try f.number("rope_theta", key: "model.rotary_base")
    set("model.rotary_base", String(theta?.0 ?? thetaDefault), theta?.1 ?? f.origin, false)
    if let (p, at) = try f.number("attention_dropout", key: "model.attention_dropout") {
      set("model.attention_dropout", String(p), at, true)
    }
  }

  /// The MLP's activation: `hidden_act` (Gemma: `hidden_activation`, which GemmaMLP prefers)
  /// applied to gate_proj in a gated MLP, or to up_proj in Nemotron's plain MLP.
  static func readActivation(
    _ f: Fields, family: Family, set: (String, String, SourceLocation, Bool) -> Void
  ) throws {
    let key = "model.activation"
    let preferred =
      family == .gemma || family == .gemma2 ? try f.string("hidden_activation", key: key) : nil
    let given = try preferred ?? f.string("hidden_act", key: key)
    // Defaults: "silu" (Llama, Mistral, Qwen 2), "gelu_pytorch_tanh" (Gemma, Gemma 2), "relu2"
    // (Nemotron).
    let fallback =
      switch family {
      case .gemma, .gemma2: "gelu_pytorch_tanh"
      case .nemotron: "relu2"
      default: "silu"
      }
    let act = given?.0 ?? fallback
    let at = given?.1 ?? f.origin
    // transformers' ACT2FN names → NeMo's activation names.
    let gated: [String: String] = [
      "silu": "fast-swiglu", "swish": "fast-swiglu", "gelu": "fast-geglu",
      "gelu_pytorch_tanh": "fast-geglu", "gelu_new": "fast-geglu", "gelu_fast": "fast-geglu",
      "relu": "reglu",
    ]
    let plain: [String: String] = [
      "relu2": "squared-relu", "relu": "relu", "gelu": "gelu", "gelu_new": "gelu",
      "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu",
    ]
    let table = family == .nemotron || family == .gpt2 ? plain : gated
    guard let name = table[act] else {
      throw ConfigError(
        "hidden_act '\(act)' is not modeled for \(f.architecture); megaplan maps \(table.keys.sorted().joined(separator: ", "))",
        key: key, at: at)
    }
    set(key, name, at, false)
  }

  /// Biases: Llama and Nemotron put `attention_bias` on q/k/v/o and `mlp_bias` on the MLP
  /// (Megatron's one `bias` covers both, so they must agree); Qwen 2 has a bias on q/k/v only
  /// (Megatron `add_qkv_bias` with `bias` false); Mistral and Gemma have none.
  static func readBiases(
    _ f: Fields, family: Family, set: (String, String, SourceLocation, Bool) -> Void
  ) throws {
    if family == .qwen2 || family == .qwen2MoE {
      set("model.bias", "false", f.origin, false)
      set("model.add_qkv_bias", "true", f.origin, false)
      return
    }
    let attention = try f.bool("attention_bias", key: "model.bias")
    let mlp =
      family == .llama || family == .nemotron || family == .mistral || family == .mixtral
      ? try f.bool("mlp_bias", key: "model.bias") : nil
    let a = attention?.0 ?? false
    let m = mlp?.0 ?? false
    if a != m {
      let at = (a ? attention?.1 : mlp?.1) ?? f.origin
      throw ConfigError(
        "attention_bias \(a) with mlp_bias \(m) is not modeled: Megatron's one 'bias' covers attention and MLP alike",
        key: "model.bias", at: at)
    }
    set("model.bias", String(a), attention?.1 ?? mlp?.1 ?? f.origin, false)
    set("model.add_qkv_bias", String(a), attention?.1 ?? f.origin, false)
  }

  /// GPT-2 (modeling_gpt2.py): LayerNorm, biases on every linear layer, learned positions, a
  /// 4h MLP unless n_inner says otherwise, tied embeddings.
  static func readGPT2(
    _ f: Fields, set: (String, String, SourceLocation, Bool) -> Void
  ) throws -> Int {
    let (layers, layersAt) = try f.requiredSize("n_layer", key: "model.num_layers")
    let (hidden, hiddenAt) = try f.requiredSize("n_embd", key: "model.hidden_size")
    let (heads, headsAt) = try f.requiredSize("n_head", key: "model.num_attention_heads")
    let (vocab, vocabAt) = try f.requiredSize("vocab_size", key: "megaplan.tokenizer_vocab_size")
    let (positions, positionsAt) = try f.requiredSize(
      "n_positions", key: "model.max_position_embeddings")
    guard hidden % heads == 0 else {
      throw ConfigError(
        "n_head \(heads) does not divide n_embd \(hidden)", key: "model.num_attention_heads",
        at: headsAt)
    }
    set("model.num_layers", String(layers), layersAt, false)
    set("model.hidden_size", String(hidden), hiddenAt, false)
    set("model.num_attention_heads", String(heads), headsAt, false)
    set("model.num_query_groups", String(heads), headsAt, false)
    set("model.kv_channels", String(hidden / heads), headsAt, false)
    // n_inner: None → 4 × n_embd (GPT2MLP).
    let inner = try f.size("n_inner", key: "model.ffn_hidden_size")
    set("model.ffn_hidden_size", String(inner?.0 ?? 4 * hidden), inner?.1 ?? hiddenAt, false)
    set("megaplan.tokenizer_vocab_size", String(vocab), vocabAt, false)
    set("model.max_position_embeddings", String(positions), positionsAt, false)
    set("model.position_embedding_type", "learned_absolute", f.origin, false)
    set("model.normalization", "layernorm", f.origin, false)
    set("model.bias", "true", f.origin, false)
    set("model.add_qkv_bias", "true", f.origin, false)
    set("model.qk_layernorm", "false", f.origin, false)
    set("megaplan.sandwich_norm", "false", f.origin, false)
    // activation_function: default "gelu_new" (GPT2Config).
    let act = try f.string("activation_function", key: "model.activation")
    let plain = ["gelu_new": "gelu", "gelu": "gelu", "gelu_fast": "gelu", "relu": "relu"]
    guard let name = plain[act?.0 ?? "gelu_new"] else {
      throw ConfigError(
        "activation_function '\(act?.0 ?? "")' is not modeled for GPT-2; megaplan maps \(plain.keys.sorted().joined(separator: ", "))",
        key: "model.activation", at: act?.1 ?? f.origin)
    }
    set("model.activation", name, act?.1 ?? f.origin, false)
    // GPT2Config's tie_word_embeddings is PretrainedConfig's default, true.
    let tied = try f.bool("tie_word_embeddings", key: "model.share_embeddings_and_output_weights")
    set(
      "model.share_embeddings_and_output_weights", String(tied?.0 ?? true), tied?.1 ?? f.origin,
      false)
    // resid_pdrop after attention and MLP (Megatron hidden_dropout); attn_pdrop on the
    // probabilities. GPT2Config defaults both to 0.1.
    for (field, key) in [
      ("resid_pdrop", "model.hidden_dropout"), ("attn_pdrop", "model.attention_dropout"),
    ] {
      let p = try f.number(field, key: key)
      set(key, String(p?.0 ?? 0.1), p?.1 ?? f.origin, true)
    }
    return positions
  }

  /// DeepSeek-V3 (`DeepseekV3Config`, modeling_deepseek_v3.py; the config.json DeepSeek
  /// publishes): multi-latent attention (`q_lora_rank`, `kv_lora_rank`, `qk_nope_head_dim`,
  /// `qk_rope_head_dim`, `v_head_dim`, with RMSNorms on both latents), `first_k_dense_replace`
  /// dense layers of `intermediate_size`, then MoE layers of `n_routed_experts` experts of
  /// `moe_intermediate_size`, top `num_experts_per_tok`, `n_shared_experts` shared experts of
  /// the same width and the router's `scoring_func`; `num_nextn_predict_layers` MTP layers.
  /// Group-limited routing (`n_group`, `topk_group`: DeepSeek-V3's 8 groups of which a token
  /// reaches 4) bounds the ranks and nodes a token's copies travel to (`model.moe_router_num_
  /// groups`, `moe_router_group_topk`); `routed_scaling_factor` only scales the weights.
  static func readDeepseekV3(
    _ f: Fields, set: (String, String, SourceLocation, Bool) -> Void
  ) throws -> Int {
    let (layers, _, heads, headsAt, positions) = try readDecoderShape(f, set: set)
    set("model.num_query_groups", String(heads), headsAt, false)
    // Defaults: DeepseekV3Config's (transformers), which are DeepSeek-V3's own sizes.
    func size(_ name: String, _ key: String, _ fallback: Int) throws {
      let found = try f.size(name, key: key)
      set(key, String(found?.0 ?? fallback), found?.1 ?? f.origin, false)
    }
    try size("intermediate_size", "model.ffn_hidden_size", 18432)
    set("model.multi_latent_attention", "true", f.origin, false)
    if let field = f.field("q_lora_rank") {
      guard case .int(let n) = field.value, n > 0 else {
        throw f.wrongType(field, "a positive integer or null", key: "model.q_lora_rank")
      }
      set("model.q_lora_rank", String(n), field.location, false)
    } else if f.json.fields["q_lora_rank"] != nil {
      set("model.q_lora_rank", "null", f.json.fields["q_lora_rank"]?.location ?? f.origin, false)
    } else {
      set("model.q_lora_rank", "1536", f.origin, false)
    }
    try size("kv_lora_rank", "model.kv_lora_rank", 512)
    try size("qk_nope_head_dim", "model.qk_head_dim", 128)
    try size("qk_rope_head_dim", "model.qk_pos_emb_head_dim", 64)
    try size("v_head_dim", "model.v_head_dim", 128)
    // The latents' RMSNorms (`q_a_layernorm`, `kv_a_layernorm`): Megatron-Core's qk_layernorm.
    set("model.qk_layernorm", "true", f.origin, false)
    // Experts.
    let experts = try f.size("n_routed_experts", key: "model.num_moe_experts")
    let expertCount = experts?.0 ?? 256
    set("model.num_moe_experts", String(expertCount), experts?.1 ?? f.origin, false)
    try size("num_experts_per_tok", "model.moe_router_topk", 8)
    let width = try f.size("moe_intermediate_size", key: "model.moe_ffn_hidden_size")
    let expertWidth = width?.0 ?? 2048
    set("model.moe_ffn_hidden_size", String(expertWidth), width?.1 ?? f.origin, false)
    let shared = try f.size("n_shared_experts", key: "model.moe_shared_expert_intermediate_size")
    if let (n, at) = shared {
      set("model.moe_shared_expert_intermediate_size", String(n * expertWidth), at, false)
    } else if f.field("n_shared_experts") == nil && f.json.fields["n_shared_experts"] == nil {
      set("model.moe_shared_expert_intermediate_size", String(expertWidth), f.origin, false)
    }
    if let (freq, at) = try f.size("moe_layer_freq", key: "model.moe_layer_freq"), freq != 1 {
      throw ConfigError(
        "'moe_layer_freq': \(freq) (an MoE layer every \(freq) after the dense ones) is not modeled; megaplan reads DeepSeek-V3 with every layer after first_k_dense_replace MoE",
        key: "model.moe_layer_freq", at: at)
    }
    let dense = try f.field("first_k_dense_replace").map { field -> (Int, SourceLocation) in
      guard case .int(let n) = field.value, n >= 0, n <= layers else {
        throw f.wrongType(
          field, "an integer from 0 to num_hidden_layers", key: "model.moe_layer_freq")
      }
      return (n, field.location)
    }
    let k = dense?.0 ?? 3
    set(
      "model.moe_layer_freq", k == 0 ? "1" : "([0]*\(k)+[1]*\(layers - k))",
      dense?.1 ?? f.origin, false)
    let groups = try f.size("n_group", key: "model.moe_router_num_groups")
    let groupTop = try f.size("topk_group", key: "model.moe_router_group_topk")
    if (groups?.0 ?? 8) > 1 {
      set("model.moe_router_num_groups", String(groups?.0 ?? 8), groups?.1 ?? f.origin, false)
      set("model.moe_router_group_topk", String(groupTop?.0 ?? 4), groupTop?.1 ?? f.origin, false)
    }
    if let (name, at) = try f.string("scoring_func", key: "model.moe_router_score_function") {
      set("model.moe_router_score_function", name, at, false)
    } else {
      set("model.moe_router_score_function", "sigmoid", f.origin, false)
    }
    if let (n, at) = try f.number("num_nextn_predict_layers", key: "model.mtp_num_layers") {
      set("model.mtp_num_layers", String(Int(n)), at, false)
    }
    set("model.normalization", "rmsnorm", f.origin, false)
    set("megaplan.sandwich_norm", "false", f.origin, false)
    try readActivation(f, family: .deepseekV3, set: set)
    if let (on, at) = try f.bool("attention_bias", key: "model.bias"), on {
      throw ConfigError(
        "'attention_bias': true is not modeled for DeepSeek-V3 (its projections have no biases)",
        key: "model.bias", at: at)
    }
    set("model.bias", "false", f.origin, false)
    set("model.add_qkv_bias", "false", f.origin, false)
    // Rotary on the rope parts (YaRN scaling in `rope_scaling` changes frequencies only).
    try readOutputAndRotary(f, tiedDefault: false, thetaDefault: 10_000, set: set)
    set("model.rotary_percentage", "1.0", f.origin, false)
    return positions
  }

  /// GPT-OSS (`GptOssConfig`, modeling_gpt_oss.py; OpenAI's gpt-oss-20b and gpt-oss-120b
  /// config.json): every layer an MoE layer of `num_local_experts` experts of
  /// `intermediate_size`, top `num_experts_per_tok`, with biases on every expert projection and
  /// on the router (`GptOssExperts.gate_up_proj_bias`, `down_proj_bias`; `GptOssTopKRouter.bias`)
  /// and on q/k/v/o (`attention_bias`); grouped-query attention of `head_dim`; a learned sink
  /// logit per head (`GptOssAttention.sinks`: Megatron-Core `softmax_type` learnable); the
  /// layers of `layer_types` "sliding_attention" attend over `sliding_window` keys (by default
  /// layers 0, 2, 4, …); the experts' activation is the clamped quick-GeLU GLU
  /// (`_apply_gate`: gate.clamp(max = `swiglu_limit`), up.clamp(±`swiglu_limit`),
  /// gate·σ(1.702·gate)·(up + 1)), whatever `hidden_act` says. Megatron-Bridge builds the same
  /// model (megatron/bridge/models/gpt_oss/gpt_oss_bridge.py: quick_gelu, clamp 7.0,
  /// glu_linear_offset 1.0, softmax_type learnable, window_size (sliding_window − 1, 0),
  /// window_attn_skip_freq 2, add_bias_linear). Defaults: `GptOssConfig`'s (transformers),
  /// which are gpt-oss-120b's; YaRN (`rope_scaling`) changes frequencies only.
  static func readGptOss(
    _ f: Fields, set: (String, String, SourceLocation, Bool) -> Void
  ) throws -> Int {
    let (layers, _, heads, headsAt, positions) = try readDecoderShape(f, set: set)
    let groups = try f.size("num_key_value_heads", key: "model.num_query_groups")
    if let (g, at) = groups, heads % g != 0 {
      throw ConfigError(
        "num_key_value_heads \(g) does not divide num_attention_heads \(heads)",
        key: "model.num_query_groups", at: at)
    }
    set("model.num_query_groups", String(groups?.0 ?? heads), groups?.1 ?? headsAt, false)
    let headDim = try f.size("head_dim", key: "model.kv_channels")
    set("model.kv_channels", String(headDim?.0 ?? 64), headDim?.1 ?? f.origin, false)
    // Experts: every layer (`GptOssDecoderLayer` always builds `GptOssMLP`).
    let ffn = try f.size("intermediate_size", key: "model.moe_ffn_hidden_size")
    set("model.ffn_hidden_size", String(ffn?.0 ?? 2880), ffn?.1 ?? f.origin, false)
    set("model.moe_ffn_hidden_size", String(ffn?.0 ?? 2880), ffn?.1 ?? f.origin, false)
    let experts = try f.size("num_local_experts", key: "model.num_moe_experts")
    set("model.num_moe_experts", String(experts?.0 ?? 128), experts?.1 ?? f.origin, false)
    let topK = try f.size("num_experts_per_tok", key: "model.moe_router_topk")
    set("model.moe_router_topk", String(topK?.0 ?? 4), topK?.1 ?? f.origin, false)
    set("model.moe_layer_freq", "1", f.origin, false)
    // Biases everywhere: the experts and the router always have them, the attention when
    // `attention_bias` (Megatron's one add_bias_linear covers both, so they must agree).
    if let (on, at) = try f.bool("attention_bias", key: "model.bias"), !on {
      throw ConfigError(
        "'attention_bias': false is not modeled for GPT-OSS: its experts and router keep their biases, and Megatron's one 'bias' (add_bias_linear) covers attention and MLP alike",
        key: "model.bias", at: at)
    }
    set("model.bias", "true", f.json.fields["attention_bias"]?.location ?? f.origin, false)
    set("model.add_qkv_bias", "true", f.json.fields["attention_bias"]?.location ?? f.origin, false)
    // The experts' GLU: quick-GeLU of the clamped gate times the clamped up half plus 1.
    set("model.activation", "quick-geglu", f.origin, false)
    set("model.glu_linear_offset", "1.0", f.origin, false)
    if let (limit, at) = try f.number("swiglu_limit", key: "model.activation_func_clamp_value") {
      guard limit > 0 else {
        throw ConfigError(
          "swiglu_limit \(limit) must be positive (the experts clamp the gate to at most it)",
          key: "model.activation_func_clamp_value", at: at)
      }
      set("model.activation_func_clamp_value", String(limit), at, false)
    } else {
      set("model.activation_func_clamp_value", "7.0", f.origin, false)
    }
    set("model.softmax_type", "learnable", f.origin, false)
    try readSlidingWindow(f, layers: layers, set: set)
    set("model.normalization", "rmsnorm", f.origin, false)
    set("megaplan.sandwich_norm", "false", f.origin, false)
    set("model.qk_layernorm", "false", f.origin, false)
    // GptOssConfig: rope_theta 150,000, untied.
    try readOutputAndRotary(f, tiedDefault: false, thetaDefault: 150_000, set: set)
    set("model.rotary_percentage", "1.0", f.origin, false)
    return positions
  }

  /// `sliding_window` W (`fallback` when absent) and `layer_types` (one "sliding_attention" or
  /// "full_attention" per layer; `GptOssConfig` and `Gemma2Config` default to sliding on even
  /// layers) as Megatron-Core's `window_size` [W − 1, 0] and `window_attn_skip_freq`: 2 when the
  /// layers alternate from a sliding one, none when all slide (`everyLayer`: Mistral, whose
  /// modeling ignores `layer_types`), else the list of 1 (sliding) and 0 (full). A null window:
  /// none.
  static func readSlidingWindow(
    _ f: Fields, layers: Int, set: (String, String, SourceLocation, Bool) -> Void,
    fallback: Int = 128, everyLayer: Bool = false
  ) throws {
    let windowField = f.json.fields["sliding_window"]
    if windowField?.value == .null { return }
    let window = try f.size("sliding_window", key: "model.window_size")
    let size = window?.0 ?? fallback
    let at = window?.1 ?? f.origin
    var sliding = (0..<layers).map { everyLayer || $0 % 2 == 0 }
    var typesAt = f.origin
    if !everyLayer, let field = f.field("layer_types") {
      guard case .array = field.value, let types = f.json.stringArrays["layer_types"] else {
        throw f.wrongType(
          field, "a list of \"sliding_attention\" and \"full_attention\"",
          key: "model.window_attn_skip_freq")
      }
      let known = ["sliding_attention", "full_attention"]
      if let bad = types.first(where: { !known.contains($0) }) {
        throw ConfigError(
          "layer_types holds '\(bad)'; megaplan reads \(known.joined(separator: " and "))\(Suggestion.didYouMean(bad, in: known))",
          key: "model.window_attn_skip_freq", at: field.location)
      }
      guard types.count == layers else {
        throw ConfigError(
          "layer_types lists \(types.count) layers; num_hidden_layers is \(layers)",
          key: "model.window_attn_skip_freq", at: field.location)
      }
      sliding = types.map { $0 == "sliding_attention" }
      typesAt = field.location
    }
    guard sliding.contains(true) else { return }
    set("model.window_size", "[\(size - 1), 0]", at, false)
    if sliding.allSatisfy({ $0 }) { return }  // every layer: no skip frequency
    let alternating = sliding.indices.allSatisfy { sliding[$0] == ($0 % 2 == 0) }
    let freq =
      alternating ? "2" : "[" + sliding.map { $0 ? "1" : "0" }.joined(separator: ", ") + "]"
    set("model.window_attn_skip_freq", freq, typesAt, false)
  }
}
