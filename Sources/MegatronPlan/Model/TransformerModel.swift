/// A GPT-style decoder as Megatron-LM builds it: pre-LayerNorm layers of multi-head attention
/// (fused QKV with biases) and a GeLU MLP h → f → h, learned absolute position embeddings and a
/// (by default tied) word embedding / output layer. Symbols follow K22 Table 1 and N21 §3.1.
public struct TransformerModel: Sendable, Hashable, Codable {
  /// L: transformer layers.
  public var layers: Int
  /// h: hidden size.
  public var hidden: Int
  /// a: attention heads.
  public var heads: Int
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
  /// Gated MLP (SwiGLU/GeGLU, NeMo `activation: fast-swiglu`): fc1 produces 2f (gate and value),
  /// so the MLP has 3hf weights instead of 2hf.
  public var gatedMLP: Bool
  /// Linear layers carry biases (NeMo `bias`, default true).
  public var linearBiases: Bool
  /// Learned absolute position embeddings (NeMo `position_embedding_type: learned_absolute`);
  /// false for rotary embeddings, which have no parameters.
  public var learnedPositionEmbeddings: Bool
  /// Fused (flash) attention: the attention core runs in one kernel that keeps the s × s scores
  /// on chip and recomputes them in backward (FlashAttention; Transformer Engine's fused
  /// attention, which Megatron-Core uses with `transformer_engine`). Its s² tensors are never
  /// stored. K22 predates it: off reproduces the paper.
  public var fusedAttention: Bool

  public init(
    layers: Int, hidden: Int, heads: Int, ffnHidden: Int? = nil, sequenceLength: Int,
    maxPositionEmbeddings: Int? = nil, vocabulary: Int, tiedEmbeddings: Bool = true,
    gatedMLP: Bool = false,
    linearBiases: Bool = true, learnedPositionEmbeddings: Bool = true, fusedAttention: Bool = false
  ) {
    self.layers = layers
    self.hidden = hidden
    self.heads = heads
    self.ffnHidden = ffnHidden ?? 4 * hidden
    self.sequenceLength = sequenceLength
    self.maxPositionEmbeddings = maxPositionEmbeddings ?? sequenceLength
    self.vocabulary = vocabulary
    self.tiedEmbeddings = tiedEmbeddings
    self.gatedMLP = gatedMLP
    self.linearBiases = linearBiases
    self.learnedPositionEmbeddings = learnedPositionEmbeddings
    self.fusedAttention = fusedAttention
  }

  /// Width of fc1's output: 2f for a gated MLP, f otherwise.
  public var fc1Width: Int { gatedMLP ? 2 * ffnHidden : ffnHidden }
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
