/// A decoder-only transformer as Megatron-LM / Megatron-Core builds it: pre-norm layers of
/// self-attention (fused QKV, multi-head, grouped-query or multi-query) and an MLP, a word
/// embedding with optional learned positions, a final norm and an output layer. GPT-3 (K22,
/// N21) and the Llama family (Llama 2/3, Mistral, Qwen 2, Gemma, Nemotron-4) are all instances.
/// Symbols follow K22 Table 1 and N21 §3.1; what one layer computes and saves is derived from
/// this in `LayerDescription`, the one place that lists a layer's ops.
public struct TransformerModel: Sendable, Hashable, Codable {
  /// L: transformer layers.
  public var layers: Int
  /// h: hidden size.
  public var hidden: Int
  /// a: attention (query) heads.
  public var heads: Int
  /// g: key/value head groups (NeMo `num_query_groups`, Megatron `--num-query-groups`); a for
  /// multi-head attention, 1 for multi-query attention.
  public var queryGroups: Int
  /// d_h: size of one attention head (NeMo `kv_channels`, Megatron `--kv-channels`); h/a unless
  /// set (Gemma: 256 with h = 3584 and 16 heads).
  public var headDim: Int
  /// f: MLP width (4h for GPT-3).
  public var ffnHidden: Int
  /// s: sequence length.
  public var sequenceLength: Int
  /// Rows of the learned position-embedding table (NeMo `max_position_embeddings`; s by default).
  public var maxPositionEmbeddings: Int
  /// V: the padded vocabulary actually used by the embedding and the output layer.
  public var vocabulary: Int
  /// Word embedding and output layer share one weight (NeMo `share_embeddings_and_output_weights`).
  public var tiedEmbeddings: Bool
  public var normalization: Normalization
  public var activation: Activation
  /// Every linear layer carries a bias (NeMo `bias`, Megatron without `--disable-bias-linear`).
  public var linearBiases: Bool
  /// The QKV projection carries a bias even when the other linear layers do not (Qwen 2:
  /// Megatron `--add-qkv-bias`, NeMo `qkv_bias`).
  public var qkvBias: Bool
  /// Layer norms on the queries and keys, per head, after the QKV projection (Megatron-Core
  /// `qk_layernorm`).
  public var qkLayerNorm: Bool
  /// A second norm after attention and after the MLP, before each residual add ("sandwich"
  /// norms: Gemma 2's `post_attention_layernorm` and `post_feedforward_layernorm`).
  public var sandwichNorm: Bool
  /// A norm right after the word embedding (BLOOM: Megatron-DeepSpeed `--embed-layernorm`).
  public var embeddingNorm: Bool
  /// Where the layers' norms sit (NeMo `transformer_block_type`).
  public var blockType: TransformerBlockType = .preLN
  public var positionEmbedding: PositionEmbedding
  public var dropout: Dropout
  public var fusions: KernelFusions
  /// Fused (flash) attention: the attention core runs in one kernel that keeps the s × s scores
  /// on chip and recomputes them in backward (FlashAttention; Transformer Engine's fused
  /// attention, which Megatron-Core uses with `transformer_engine`). Its s² tensors are never
  /// stored. K22 predates it: off reproduces the paper.
  public var fusedAttention: Bool
  /// The fused attention runs as Transformer Engine's `FlashAttention` backend (flash-attn 2/3),
  /// which on Megatron's [s, b] layout hands flash-attn [b, s] copies of Q, K and V, and returns
  /// a contiguous [s, b] copy of the [b, s] output flash-attn keeps for its backward: the core's
  /// output is kept twice (TE `backends.py` `FlashAttention.forward`, at d0067d0; measured on
  /// CPU: validation/results/t5-layer-cpu.json `--output-copy`). TE selects this backend before
  /// Hopper; on Hopper and Blackwell its cuDNN backend reads [s, b] as it is and keeps one.
  public var flashOutputCopy = false
  /// The linear layers train in FP8 (Transformer Engine); nil for 16-bit (or fp32) GEMMs.
  public var fp8: FP8Training?
  /// Mixture-of-experts MLPs in some or all layers; nil for a dense model.
  public var moe: MixtureOfExperts?
  /// Multi-latent attention (DeepSeek-V2/V3) in place of grouped-query attention; nil otherwise.
  public var mla: MultiLatentAttention?
  /// Multi-token prediction layers after the last layer (`mtp_num_layers`, DeepSeek-V3's
  /// `num_nextn_predict_layers`; `MultiTokenPrediction`), 0 without.
  public var mtpLayers: Int
  /// An encoder stack in front (T5, mT5): this model is then the decoder stack, and `layers`
  /// counts both stacks' layers, the encoder's first (`EncoderDecoder`).
  public var encoderDecoder: EncoderDecoder? = nil
  /// Sliding-window attention on some layers (`AttentionWindow`: GPT-OSS, Gemma 2, Mistral);
  /// nil: every layer attends causally over the whole sequence.
  public var attentionWindow: AttentionWindow? = nil
  /// The attention softmax (`AttentionSoftmax`): GPT-OSS's learnable sinks add one logit per
  /// head.
  public var softmax: AttentionSoftmax = .vanilla
  /// The gated MLP's linear offset: act(gate) · (up + offset) (Megatron-Core
  /// `glu_linear_offset`; GPT-OSS 1.0). Elementwise inside the activation: no FLOPs, no saved
  /// tensor.
  public var gluLinearOffset: Double = 0
  /// The gated MLP's clamp c: gate ≤ c, −c ≤ up ≤ c before the activation (Megatron-Core
  /// `activation_func_clamp_value`; GPT-OSS's `swiglu_limit` 7.0); nil without.
  public var activationClamp: Double? = nil

  public init(
    layers: Int, hidden: Int, heads: Int, queryGroups: Int? = nil, headDim: Int? = nil,
    ffnHidden: Int? = nil, sequenceLength: Int, maxPositionEmbeddings: Int? = nil,
    vocabulary: Int, tiedEmbeddings: Bool = true, normalization: Normalization = .layerNorm,
    activation: Activation = .gelu, linearBiases: Bool = true, qkvBias: Bool? = nil,
    qkLayerNorm: Bool = false, sandwichNorm: Bool = false, embeddingNorm: Bool = false,
    positionEmbedding: PositionEmbedding = .learnedAbsolute,
    dropout: Dropout = .megatronDefault, fusions: KernelFusions = .megatronDefault,
    fusedAttention: Bool = false, fp8: FP8Training? = nil, moe: MixtureOfExperts? = nil,
    mla: MultiLatentAttention? = nil, mtpLayers: Int = 0
  ) {
    self.mla = mla
    self.mtpLayers = mtpLayers
    self.layers = layers
    self.hidden = hidden
    self.heads = heads
    self.queryGroups = queryGroups ?? heads
    self.headDim = headDim ?? (heads > 0 ? hidden / heads : 0)
    self.ffnHidden = ffnHidden ?? 4 * hidden
    self.sequenceLength = sequenceLength
    self.maxPositionEmbeddings = maxPositionEmbeddings ?? sequenceLength
    self.vocabulary = vocabulary
    self.tiedEmbeddings = tiedEmbeddings
    self.normalization = normalization
    self.activation = activation
    self.linearBiases = linearBiases
    self.qkvBias = qkvBias ?? linearBiases
    self.qkLayerNorm = qkLayerNorm
    self.sandwichNorm = sandwichNorm
    self.embeddingNorm = embeddingNorm
    self.positionEmbedding = positionEmbedding
    self.dropout = dropout
    self.fusions = fusions
    self.fusedAttention = fusedAttention
    self.fp8 = fp8
    self.moe = moe
  }

  /// The layer kinds this model has, whose costs a run computes (`PerKind`): an encoder–decoder
  /// model's encoder and decoder; otherwise dense (the representative layer reports quote),
  /// MoE with experts, their sliding-window variants where the model has such layers, and MTP
  /// with multi-token-prediction layers.
  public var presentKinds: [LayerKind] {
    if encoderDecoder != nil { return [.encoder, .decoder] }
    var kinds: [LayerKind] = [.dense]
    kinds.reserveCapacity(5)
    if moe != nil { kinds.append(.moe) }
    if hasSlidingLayers {
      let all = layerKinds(in: 0..<layers)
      if all.slidingDense > 0 { kinds.append(.slidingDense) }
      if all.slidingMoE > 0 { kinds.append(.slidingMoE) }
    }
    if mtpLayers > 0 { kinds.append(.mtp) }
    return kinds
  }

  /// The window when it limits attention at this sequence length (W < s) on a decoder-only
  /// model; nil otherwise (a window of s or more attends as causal attention does).
  public var slidingWindow: AttentionWindow? { hasSlidingLayers ? attentionWindow : nil }

  /// Whether some layers attend over a window shorter than the sequence (`slidingWindow` is
  /// not nil). Reads only the window's size, so the search's per-stage counts stay cheap for
  /// the models without one.
  public var hasSlidingLayers: Bool {
    (attentionWindow?.size ?? .max) < sequenceLength && encoderDecoder == nil
  }

  /// The layers of each kind among layers `range` (0-based, of the whole model): dense and
  /// MoE layers, each split into full and sliding-window attention, or for an encoder–decoder
  /// model encoder and decoder layers. Counting allocates nothing (it runs per stage).
  public func layerKinds(in range: Range<Int>) -> LayerCounts {
    if let ed = encoderDecoder {
      let encoder = max(0, min(range.upperBound, ed.encoderLayers) - range.lowerBound)
      return LayerCounts(encoder: min(encoder, range.count), decoder: range.count - encoder)
    }
    let moe = self.moe?.moeLayers(in: range) ?? 0
    guard (attentionWindow?.size ?? .max) < sequenceLength, let window = attentionWindow else {
      return LayerCounts(dense: range.count - moe, moe: moe)
    }
    return slidingKinds(in: range, moe: moe, window: window)
  }

  /// `layerKinds(in:)` with a window: the `moe` MoE layers of `range` split by their attention
  /// (apart, so the common path stays small enough to inline).
  func slidingKinds(in range: Range<Int>, moe: Int, window: AttentionWindow) -> LayerCounts {
    let windowed = window.windowedLayers(in: range)
    var slidingMoE = 0
    if let experts = self.moe, windowed > 0, moe > 0 {
      for i in range where window.isWindowed(layer: i) && experts.isMoE(layer: i) {
        slidingMoE += 1
      }
    }
    let slidingDense = windowed - slidingMoE
    return LayerCounts(
      dense: range.count - moe - slidingDense, moe: moe - slidingMoE,
      slidingDense: slidingDense, slidingMoE: slidingMoE)
  }

  /// Gated MLP (SwiGLU, GeGLU, ReGLU): fc1 produces gate and value, 2f wide.
  public var gatedMLP: Bool { activation.gated }
  /// Width of fc1's output: 2f for a gated MLP, f otherwise.
  public var fc1Width: Int { gatedMLP ? 2 * ffnHidden : ffnHidden }
  /// Width of the queries, a·d_h (h unless `kv_channels` says otherwise).
  public var queryWidth: Int { heads * headDim }
  /// Width of the keys (and of the values), g·d_h.
  public var keyValueWidth: Int { queryGroups * headDim }
  /// Output width of the fused QKV projection: a·d_h + 2·g·d_h (h + 2·g·d_h when d_h = h/a).
  public var qkvWidth: Int { queryWidth + 2 * keyValueWidth }
  /// A learned absolute position table exists (GPT-2/GPT-3); rotary and ALiBi have no weights.
  public var learnedPositionEmbeddings: Bool { positionEmbedding == .learnedAbsolute }
}

/// The norm before attention and before the MLP, and after the last layer.
public enum Normalization: String, Sendable, Hashable, Codable, CaseIterable {
  /// LayerNorm: weight and bias (2h parameters).
  case layerNorm = "layernorm"
  /// LayerNorm with zero-centred gamma (NeMo `layernorm1p`, Nemotron): same shapes as LayerNorm.
  case layerNorm1p = "layernorm1p"
  /// RMSNorm (Llama): a weight, no bias (h parameters); no mean is subtracted.
  case rmsNorm = "rmsnorm"

  /// Parameters per normalised feature: γ and β, or γ alone.
  public var parametersPerFeature: Int { self == .rmsNorm ? 1 : 2 }
}

/// The MLP's activation function.
public enum Activation: String, Sendable, Hashable, Codable, CaseIterable {
  case gelu
  /// SiLU-gated (Llama, Mistral, Qwen): silu(x·W_gate) ⊙ (x·W_up).
  case swiglu
  /// GeLU-gated (Gemma).
  case geglu
  /// ReLU-gated (T5 v1.1 variants).
  case reglu
  /// ReLU (OPT-style).
  case relu
  /// relu(x)² (Nemotron-4, Primer).
  case squaredReLU = "squared-relu"
  /// Quick-GeLU-gated, x·σ(1.702x) of the gate times the up half (GPT-OSS: transformers
  /// `GptOssExperts._apply_gate`, alpha 1.702; Megatron `--quick-geglu`, Megatron-Core
  /// `quick_geglu` in fused_bias_geglu.py).
  case quickGeGLU = "quick-geglu"

  public var gated: Bool {
    self == .swiglu || self == .geglu || self == .reglu || self == .quickGeGLU
  }
}

/// How positions enter the model.
public enum PositionEmbedding: Sendable, Hashable, Codable {
  /// A learned table of max_position_embeddings × h (GPT-2/GPT-3).
  case learnedAbsolute
  /// Rotary embeddings applied to queries and keys (no weights); `percentage` of each head's
  /// dimensions are rotated (NeMo `rotary_percentage`, Megatron `--rotary-percent`), with the
  /// rope base (`rotary_base`, `--rotary-base`; 10,000 for Llama 2, 500,000 for Llama 3).
  case rotary(percentage: Double, base: Double)
  /// Attention with linear biases (BLOOM): a fixed per-head slope times the distance, added to
  /// the scores; no weights.
  case alibi
  /// T5's relative position bias: a learned buckets × heads table per stack
  /// (`EncoderDecoder.relativeAttention`), added to the scores.
  case relative

  public var name: String {
    switch self {
    case .learnedAbsolute: "learned_absolute"
    case .rotary: "rope"
    case .alibi: "alibi"
    case .relative: "relative"
    }
  }
}

/// Dropout probabilities (NeMo `hidden_dropout`, `attention_dropout`, `ffn_dropout`; Megatron
/// `--hidden-dropout`, `--attention-dropout`). A probability of zero stores no mask and no
/// dropped copy: Megatron skips the op (its bias-dropout-add and the attention dropout are
/// no-ops in training when p = 0, and the dropout module returns its input).
public struct Dropout: Sendable, Hashable, Codable {
  /// After the attention projection and after the MLP (bias-dropout-add), and on the embeddings.
  public var hidden: Double
  /// On the attention probabilities.
  public var attention: Double
  /// Inside the MLP, after the activation (NeMo `ffn_dropout`).
  public var ffn: Double

  public init(hidden: Double, attention: Double, ffn: Double = 0) {
    self.hidden = hidden
    self.attention = attention
    self.ffn = ffn
  }

  /// Megatron-LM's defaults (`--hidden-dropout 0.1 --attention-dropout 0.1`), which GPT-3 and
  /// K22 use.
  public static let megatronDefault = Dropout(hidden: 0.1, attention: 0.1)
  /// No dropout anywhere (Llama recipes).
  public static let none = Dropout(hidden: 0, attention: 0)
}

/// Fused elementwise kernels, which change what is saved for backward (Megatron-Core
/// `TransformerConfig`; NeMo keys of the same names). Defaults are Megatron-Core's: all on.
public struct KernelFusions: Sendable, Hashable, Codable {
  /// `bias_activation_fusion`: the bias add and the activation (GeLU, SwiGLU) run as one
  /// kernel that saves only its input. Unfused SwiGLU also keeps silu(gate) for the product's
  /// backward.
  public var biasActivation: Bool
  /// `masked_softmax_fusion`: scale, mask and softmax in one kernel that saves its 16-bit
  /// output. Unfused (softmax in fp32, Megatron-Core's `attention_softmax_in_fp32` default), the
  /// softmax saves its fp32 output and the 16-bit copy goes on to the next op.
  public var maskedSoftmax: Bool
  /// `apply_rope_fusion`: rotary embedding in one kernel. Either way rotary saves no
  /// activation-sized tensor (its backward needs only the cos/sin tables); fusion changes only
  /// the bytes moved.
  public var rope: Bool
  /// `activation_func_fp8_input_store` (Megatron-Core; `--activation-func-fp8-input-store`): the
  /// fused SwiGLU (`bias_swiglu_impl`, and the experts' `weighted_bias_swiglu_impl`) keeps its
  /// input for backward cast to FP8 E4M3, 1 byte per element instead of 2, and casts it back in
  /// backward; independent of FP8 training. Other activations and the unfused SwiGLU ignore it,
  /// as Megatron-Core does.
  public var fp8ActivationInput: Bool

  public init(
    biasActivation: Bool = true, maskedSoftmax: Bool = true, rope: Bool = true,
    fp8ActivationInput: Bool = false
  ) {
    self.biasActivation = biasActivation
    self.maskedSoftmax = maskedSoftmax
    self.rope = rope
    self.fp8ActivationInput = fp8ActivationInput
  }

  public static let megatronDefault = KernelFusions()
}

/// Training numerics. Mixed precision keeps 16-bit weights with fp32 main gradients, fp32 master
/// weights and fp32 Adam moments (MLM `theoretical_memory_usage.py` comment; docs `dist_optimizer.md`).
public enum Precision: String, Sendable, Hashable, Codable, CaseIterable {
  case bf16
  case fp16
  case fp32

  /// Bytes of one activation element (K22 §4: 2 bytes in 16-bit training).
  public var activationBytes: Double { self == .fp32 ? 4 : 2 }
  /// Bytes of one model weight as the forward pass reads it.
  public var weightBytes: Double { self == .fp32 ? 4 : 2 }
}

/// Where a layer's norms sit (NeMo `transformer_block_type`, `ParallelTransformerLayer_`):
/// - `preLN`: a norm before attention (and cross-attention) and before the MLP, a final norm
///   after the last layer (GPT-2 onwards, every Megatron-Core model);
/// - `postLN`: the norms after each residual add, h = LN(x + f(x)) (the original Transformer,
///   BERT): each saves its input, the sum, as a pre-norm saves the layer input, and each linear
///   layer's input is the previous norm's output as before, so a layer keeps the same tensors;
///   no final norm (NeMo builds `final_layernorm` only for the other types);
/// - `normformer` (Shleifer et al. 2021): pre-LN plus a norm on each attention's output before
///   its residual add and one inside the MLP on the activation's f-wide output, which on a
///   tensor-parallel rank normalises its f/t slice with f/t weights of its own.
public enum TransformerBlockType: String, Sendable, Hashable, Codable, CaseIterable {
  case preLN = "pre_ln"
  case postLN = "post_ln"
  case normformer

  /// Whether the stack ends in a final norm.
  public var finalNorm: Bool { self != .postLN }
}

extension TransformerModel {
  /// This model with its norms placed as `blockType` says.
  public func with(blockType: TransformerBlockType) -> TransformerModel {
    var m = self
    m.blockType = blockType
    return m
  }

  /// This model with `flashOutputCopy` set.
  public func with(flashOutputCopy: Bool) -> TransformerModel {
    var m = self
    m.flashOutputCopy = flashOutputCopy
    return m
  }
}
