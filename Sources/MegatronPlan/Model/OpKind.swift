/// What an op of a layer is: the key code finds ops by (the router, an attention core, an
/// expert GEMM), so a misspelt op does not compile. Its raw value is the name reports print.
public enum OpKind: String, Sendable, Hashable, CaseIterable {
  case inputNorm = "input_norm"
  case qkv
  case qkNorm = "qk_norm"
  case rotary
  case attentionCore = "attention_core"
  case projection
  case postAttentionNorm = "post_attention_norm"
  case attentionResidual = "attention_residual"
  case preMlpNorm = "pre_mlp_norm"
  case fc1
  case activation
  case ffnNorm = "ffn_norm"
  case fc2
  case postMlpNorm = "post_mlp_norm"
  case mlpResidual = "mlp_residual"
  case router
  case dispatch
  case expertFc1 = "expert_fc1"
  case expertFc2 = "expert_fc2"
  case expertActivation = "expert_activation"
  case combine
  case sharedFc1 = "shared_fc1"
  case sharedFc2 = "shared_fc2"
  case sharedGate = "shared_gate"
  case sharedActivation = "shared_activation"
  case mlaDownProjection = "mla_down_projection"
  case mlaUpProjection = "mla_up_projection"
  case mlaRotary = "mla_rotary"
  case crossNorm = "cross_norm"
  case crossQuery = "cross_query"
  case crossKeyValue = "cross_key_value"
  case crossAttentionCore = "cross_attention_core"
  case crossProjection = "cross_projection"
  case postCrossAttentionNorm = "post_cross_attention_norm"
  case crossResidual = "cross_residual"
  case mtpEmbeddingNorm = "mtp_embedding_norm"
  case mtpHiddenNorm = "mtp_hidden_norm"
  case mtpProjection = "mtp_projection"
  case mtpFinalNorm = "mtp_final_norm"

  /// The attention core (self-attention's, or a decoder layer's cross-attention's): timed as one
  /// fused kernel or as its batched GEMMs and softmax kernels, not as weight GEMMs.
  public var isAttentionCore: Bool { self == .attentionCore || self == .crossAttentionCore }
  /// A routed expert's GEMM (fc1 or fc2 of every local expert).
  public var isExpertGEMM: Bool { self == .expertFc1 || self == .expertFc2 }
  /// The MoE token permutation and its inverse (with the combine's weighted sum): memory moves
  /// whose backward is the inverse move, the same bytes once.
  public var isPermutation: Bool { self == .dispatch || self == .combine }
  /// The shared experts' ops.
  public var isSharedExpert: Bool {
    self == .sharedFc1 || self == .sharedFc2 || self == .sharedActivation || self == .sharedGate
  }

  /// The part of a layer a CUDA graph scope captures it in (`CUDAGraphs.Scope`): the attention
  /// block (`attn`), a dense layer's MLP block (`mlp`); in an MoE layer the pre-MLP norm, the
  /// router and the shared experts (`moe_router`), the dispatcher's preprocessing
  /// (`moe_preprocess`), and the experts and the combine (`moe`).
  public func graphScope(inMoELayer moe: Bool) -> CUDAGraphs.Scope {
    switch self {
    case .preMlpNorm, .postMlpNorm, .mlpResidual: moe ? .moeRouter : .mlp
    case .fc1, .activation, .ffnNorm, .fc2: .mlp
    case .router, .sharedFc1, .sharedFc2, .sharedGate, .sharedActivation: .moeRouter
    case .dispatch: .moePreprocess
    case .expertFc1, .expertFc2, .expertActivation, .combine: .moe
    default: .attn
    }
  }
}
