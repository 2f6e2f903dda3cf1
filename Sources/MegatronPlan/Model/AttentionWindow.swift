/// Sliding-window attention on some layers: each query attends only the `size` most recent
/// keys, itself included, instead of every earlier one (Mistral 7B, Gemma 2, GPT-OSS). The
/// other layers attend causally over the whole sequence.
///
/// Megatron-Core: `window_size` (W − 1, 0) — the query at i attends keys i − (W − 1) … i
/// (Transformer Engine `get_full_mask`: keys in [i − window_size[0], i + window_size[1]]), and
/// `window_attn_skip_freq`: an integer N makes layer n (1-based) full when n mod N = 0, a list
/// gives 1 (windowed) or 0 (full) per layer (megatron/core/transformer/utils.py,
/// `is_layer_window_attention`); without it every layer is windowed. Hugging Face:
/// `sliding_window` W (transformers' `sliding_window_causal_mask_function`: kv > q − W) and
/// `layer_types`, one "sliding_attention" or "full_attention" per layer. Megatron-Bridge's
/// GPT-OSS provider maps W = 128 to `window_size` (127, 0) and `window_attn_skip_freq` 2
/// (megatron/bridge/models/gpt_oss/gpt_oss_bridge.py): layer 0 windowed, layer 1 full, …
public struct AttentionWindow: Sendable, Hashable, Codable {
  /// W: the keys one query attends, itself included.
  public var size: Int
  /// Which layers attend over the window.
  public var layers: Layers

  public enum Layers: Sendable, Hashable, Codable {
    /// Every layer.
    case all
    /// Every layer but each N-th (1-based layer n is full when n mod N = 0; N = 1: none).
    case allButEvery(Int)
    /// One flag per layer, 0-based: true for a windowed layer.
    case pattern([Bool])
  }

  public init(size: Int, layers: Layers = .all) {
    self.size = size
    self.layers = layers
  }

  /// Whether layer `i` (0-based, of the whole model) attends over the window.
  public func isWindowed(layer i: Int) -> Bool {
    switch layers {
    case .all: return true
    case .allButEvery(let n): return n > 1 && (i + 1) % n != 0
    case .pattern(let flags): return i >= 0 && i < flags.count && flags[i]
    }
  }

  /// The windowed layers among layers `range` (0-based), without allocating.
  public func windowedLayers(in range: Range<Int>) -> Int {
    guard !range.isEmpty else { return 0 }
    switch layers {
    case .all: return range.count
    case .allButEvery(let n):
      guard n > 1 else { return 0 }
      // Full layers are the n-th, 2n-th, … (1-based): the multiples of n in lo + 1 … hi.
      let full = range.upperBound / n - range.lowerBound / n
      return range.count - full
    case .pattern(let flags):
      var count = 0
      for i in range where i >= 0 && i < flags.count && flags[i] { count += 1 }
      return count
    }
  }

  /// Whether the window is shorter than a sequence of `s` tokens (a window of s or more is
  /// causal attention over the whole sequence).
  public func limits(sequence s: Int) -> Bool { size < s }

  /// Key positions attended, summed over the queries of one sequence of `s` tokens, relative
  /// to causal attention's s²/2: query i attends min(i + 1, W) keys, Σ ≈ s·W − W²/2 for W < s
  /// (the triangle of the first W queries and a band of W after it), against s²/2; so
  /// (2sW − W²)/s² = 2W/s − (W/s)², which is 1 at W = s (continuous sums, as K22 counts s²).
  public func attendedShare(sequence s: Double) -> Double {
    let w = Double(size)
    guard s > 0, w < s else { return 1 }
    return 2 * w / s - (w / s) * (w / s)
  }
}

/// The attention softmax: Megatron-Core `softmax_type` (transformer_config.py), after Evan
/// Miller's "Attention is off by one": `vanilla`; `off-by-one`, a constant extra logit of 0 in
/// every row (softmax₁, no weights); `learnable`, one learned logit per head added to every row
/// (GPT-OSS's attention sinks: transformers `GptOssAttention.sinks`, a parameter of a values;
/// Megatron-Core `DotProductAttention.softmax_offset`, a/t on each tensor-parallel rank).
/// Transformer Engine runs the last two only in its cuDNN fused attention or unfused
/// (`get_attention_backend`: FlashAttention is disabled for them), with context parallelism
/// only over `a2a`.
public enum AttentionSoftmax: String, Sendable, Hashable, Codable, CaseIterable {
  case vanilla
  case offByOne = "off-by-one"
  case learnable

  /// Learned parameters per layer for `heads` attention heads: one logit per head when
  /// learnable.
  public func parameters(heads: Int) -> Int { self == .learnable ? heads : 0 }
}
