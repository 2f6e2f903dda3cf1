/// The submodules selective recompute reruns (Megatron-Core `TransformerConfig.recompute_modules`,
/// Megatron-LM `--recompute-modules`, NeMo / Megatron-Bridge `recompute_modules`; default
/// `["core_attn"]`). Megatron-Core's docstring (megatron/core/transformer/transformer_config.py):
/// "core_attn", "mlp", "moe" and "shared_experts" use normal checkpointing (the module keeps its
/// input and reruns forward in backward); "moe_act", "layernorm" and "mla_up_proj" use
/// output-discarding checkpointing (`CheckpointWithoutOutput`: the module's output, which its
/// consumer saves, is freed after use and recomputed before the consumer's backward).
/// Which tensors each one drops is written next to each tensor in `LayerDescription`.
public struct RecomputeModules: OptionSet, Sendable, Hashable, Codable, CustomStringConvertible {
  public let rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  /// QKᵀ, softmax, dropout and attention over V (K22 §5's selective recompute).
  public static let coreAttention = RecomputeModules(rawValue: 1 << 0)
  /// The routed experts' activation function (its output, the expert fc2 input, is discarded).
  public static let moeActivation = RecomputeModules(rawValue: 1 << 1)
  /// The standalone norms, `input_layernorm` and `pre_mlp_layernorm`: their outputs are
  /// discarded. Only norms that are modules of their own are affected; the Transformer Engine
  /// layer specs fuse the dense layer's norms into the following linear layer
  /// (`TELayerNormColumnParallelLinear`), leaving the MLA input norm and the MoE pre-MLP norm.
  public static let layerNorm = RecomputeModules(rawValue: 1 << 2)
  /// MLA's up projections and rotary embedding (Q, K and V are discarded after the core).
  public static let mlaUpProjection = RecomputeModules(rawValue: 1 << 3)
  /// The dense MLP (fc1, activation, fc2), checkpointed on its input.
  public static let mlp = RecomputeModules(rawValue: 1 << 4)
  /// The whole MoE layer (router, dispatch, experts, combine, shared experts), on its input.
  public static let moe = RecomputeModules(rawValue: 1 << 5)
  /// The shared experts of an MoE layer, on their input.
  public static let sharedExperts = RecomputeModules(rawValue: 1 << 6)

  /// Megatron-Core's default: the core attention only.
  public static let standard: RecomputeModules = .coreAttention

  /// Megatron-Core's names, in its docstring's order.
  public static let names: [(String, RecomputeModules)] = [
    ("core_attn", .coreAttention), ("moe_act", .moeActivation), ("layernorm", .layerNorm),
    ("mla_up_proj", .mlaUpProjection), ("mlp", .mlp), ("moe", .moe),
    ("shared_experts", .sharedExperts),
  ]

  public static func named(_ name: String) -> RecomputeModules? {
    names.first { $0.0 == name.lowercased() }?.1
  }

  /// The names of the modules in this set, in Megatron-Core's order.
  public var moduleNames: [String] { Self.names.filter { contains($0.1) }.map(\.0) }

  public var description: String { moduleNames.joined(separator: ", ") }

  // Encoded as the list of Megatron-Core names, like the config key.
  public init(from decoder: any Decoder) throws {
    let names = try decoder.singleValueContainer().decode([String].self)
    var set = RecomputeModules()
    for name in names { if let m = Self.named(name) { set.insert(m) } }
    self = set
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(moduleNames)
  }
}
