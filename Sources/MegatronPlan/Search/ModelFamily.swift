import Foundation

/// The shape of one model of a family: what `megaplan size` varies (the rest of the model is the
/// family's recipe).
public struct ModelShape: Sendable, Hashable, Codable, CustomStringConvertible {
  /// L
  public var layers: Int
  /// h
  public var hidden: Int
  /// a
  public var heads: Int
  /// g: key/value groups (a for multi-head attention).
  public var queryGroups: Int
  /// f
  public var ffnHidden: Int

  public init(layers: Int, hidden: Int, heads: Int, queryGroups: Int? = nil, ffnHidden: Int) {
    self.layers = layers
    self.hidden = hidden
    self.heads = heads
    self.queryGroups = queryGroups ?? heads
    self.ffnHidden = ffnHidden
  }

  /// At least as large as `other` in every dimension.
  public func covers(_ other: ModelShape) -> Bool {
    layers >= other.layers && hidden >= other.hidden && heads >= other.heads
      && queryGroups >= other.queryGroups && ffnHidden >= other.ffnHidden
  }

  /// Heads divide the hidden size, groups divide the heads, everything positive.
  public var isValid: Bool {
    layers > 0 && hidden > 0 && heads > 0 && queryGroups > 0 && ffnHidden > 0
      && hidden % heads == 0 && heads % queryGroups == 0
  }

  public var description: String {
    "L \(layers), h \(hidden), a \(heads)" + (queryGroups == heads ? "" : ", g \(queryGroups)")
      + ", f \(ffnHidden)"
  }
}

/// A family of decoder models whose shapes follow one published rule, and the recipe (numerics,
/// kernels, optimizer, tokenizer) its runs use. `megaplan size` walks a family's `ladder`.
///
/// - `gpt3`: shapes as NeMo's launcher builds them from a size (`GPT3Sizing`), the recipe of
///   NeMo-Megatron-Launcher's GPT-3 configs of 2022 (`conf/training/gpt3/*.yaml` at 3fe00645, the
///   configs NVIDIA's published GPT-3 training times were measured with: docs/validation.md).
/// - `llama`: Llama 3 shapes (`LlamaSizing`), the recipe of NeMo-Framework-Launcher's Llama configs
///   (`launcher_scripts/conf/training/llama/llama2_7b.yaml` at 26e42fa: Megatron-Core with
///   Transformer Engine, fused kernels, overlapped gradient reduction) with Llama 3's tokenizer
///   (128,256 tokens) and rope base 500,000 (meta-llama/llama-models `models/sku_list.py` at
///   5309637: `rope_theta`).
public enum ModelFamily: String, Sendable, Hashable, Codable, CaseIterable {
  case gpt3
  case llama

  public var displayName: String {
    switch self {
    case .gpt3: "GPT-3"
    case .llama: "Llama 3"
    }
  }

  /// The sequence length of the family's recipes: 2,048 (GPT-3 paper; NeMo's GPT-3 configs),
  /// 8,192 (Llama 3 pretraining: Llama 3 paper §3.4; NeMo's Llama 3 recipes).
  public var defaultSequenceLength: Int {
    switch self {
    case .gpt3: 2048
    case .llama: 8192
    }
  }

  /// Every model of the family in increasing size, for sequence length `s` (positions and the
  /// vocabulary count into the size). Consecutive rungs have strictly more parameters.
  public func ladder(sequenceLength s: Int) -> [ModelShape] {
    switch self {
    case .gpt3: GPT3Sizing.ladder(sequenceLength: s)
    case .llama: LlamaSizing.ladder()
    }
  }

  /// Tokens per global batch as the family's recipes choose them for a model of `parameters`:
  /// - GPT-3: NeMo's auto-configurator (NeMo-Framework-Launcher `auto_configurator/autoconfig/
  ///   base_config.py`, `_gbs_tp_pp_gpt3_80gb`, at 26e42fa): 256 sequences of 2,048 up to 1B
  ///   parameters, 1,024 up to 4B, 2,048 above (0.5M, 2M and 4M tokens; the same token counts at
  ///   the other sequence lengths it lists).
  /// - Llama: 4M tokens, Llama 2's batch (Touvron et al. 2023, "Llama 2", §2.2: "a global
  ///   batch-size of 4M tokens").
  public func batchTokens(parameters: Double) -> Int {
    switch self {
    case .gpt3:
      if parameters <= 1e9 { return 256 * 2048 }
      if parameters <= 4e9 { return 1024 * 2048 }
      return 2048 * 2048
    case .llama: return 4_194_304
    }
  }

  /// The global batch in sequences: `batchTokens` over s, at least one sequence.
  public func globalBatch(parameters: Double, sequenceLength s: Int) -> Int {
    max(1, Int((Double(batchTokens(parameters: parameters)) / Double(max(1, s))).rounded()))
  }

  /// The recipe as NeMo YAML, read by the same `ConfigLoader` as any config (so defaults,
  /// kernels, overlaps and vocabulary padding are what a NeMo file with these keys gets). The
  /// model shape in it is a placeholder that `run(_:base:)` replaces.
  public func recipe(gpu: GPU, sequenceLength s: Int) -> String {
    switch self {
    case .gpt3:
      // NeMo-Megatron-Launcher conf/training/gpt3/5b.yaml at 3fe00645 (2022-08-31): the keys
      // megaplan reads; the layout keys are a starting point the search replaces.
      return """
        trainer:
          num_nodes: 1
          devices: \(gpu.gpusPerNode)
          precision: bf16
        model:
          micro_batch_size: 1
          global_batch_size: 2048
          tensor_model_parallel_size: 1
          pipeline_model_parallel_size: 1
          encoder_seq_length: \(s)
          max_position_embeddings: \(s)
          num_layers: 24
          hidden_size: 4096
          ffn_hidden_size: 16384
          num_attention_heads: 32
          hidden_dropout: 0.1
          make_vocab_size_divisible_by: 128
          activations_checkpoint_granularity: null
          sequence_parallel: false
          tokenizer:
            library: megatron
            type: GPT2BPETokenizer
          optim:
            name: distributed_fused_adam
        megaplan:
          gpu: \(gpu.name)

        """
    case .llama:
      // NeMo-Framework-Launcher launcher_scripts/conf/training/llama/llama2_7b.yaml at 26e42fa
      // (Megatron-Core + Transformer Engine, fused kernels, overlapped optimizer collectives),
      // with Llama 3's grouped-query attention, rope base and tokenizer.
      return """
        trainer:
          num_nodes: 1
          devices: \(gpu.gpusPerNode)
          precision: bf16
        model:
          mcore_gpt: true
          transformer_engine: true
          micro_batch_size: 1
          global_batch_size: 512
          tensor_model_parallel_size: 1
          pipeline_model_parallel_size: 1
          encoder_seq_length: \(s)
          max_position_embeddings: \(s)
          num_layers: 32
          hidden_size: 4096
          ffn_hidden_size: 14336
          num_attention_heads: 32
          num_query_groups: 8
          hidden_dropout: 0.0
          attention_dropout: 0.0
          normalization: rmsnorm
          activation: fast-swiglu
          bias: false
          position_embedding_type: rope
          rotary_percentage: 1.0
          rotary_base: 500000
          apply_rope_fusion: true
          share_embeddings_and_output_weights: false
          make_vocab_size_divisible_by: 128
          bias_activation_fusion: true
          masked_softmax_fusion: true
          cross_entropy_loss_fusion: true
          activations_checkpoint_granularity: null
          sequence_parallel: false
          optim:
            name: mcore_distributed_optim
            overlap_grad_sync: true
            overlap_param_sync: true
        megaplan:
          gpu: \(gpu.name)
          tokenizer_vocab_size: 128256

        """
    }
  }

  /// The recipe loaded into a run (its model is the recipe's placeholder shape).
  public func baseRun(gpu: GPU, sequenceLength s: Int) throws -> TrainingRun {
    let document = try ConfigDocument.parse(
      recipe(gpu: gpu, sequenceLength: s), file: "<\(rawValue) recipe>")
    return try ConfigLoader.load(document).run
  }

  /// `base` with the model of `shape` (head size h/a) and the family's global batch for it
  /// (`batchTokens` tokens per batch when given).
  public func run(_ shape: ModelShape, base: TrainingRun, batchTokens: Int? = nil) -> TrainingRun {
    var run = base
    run.model.layers = shape.layers
    run.model.hidden = shape.hidden
    run.model.heads = shape.heads
    run.model.queryGroups = shape.queryGroups
    run.model.headDim = shape.hidden / max(1, shape.heads)
    run.model.ffnHidden = shape.ffnHidden
    let s = max(1, run.model.sequenceLength)
    let batch =
      batchTokens.map { max(1, Int((Double($0) / Double(s)).rounded())) }
      ?? globalBatch(parameters: ParameterCount.total(run.model).total.value, sequenceLength: s)
    run.layout = Layout(microBatch: 1, globalBatch: batch)
    run.layout.distributedOptimizer = base.layout.distributedOptimizer
    return run
  }
}

/// GPT-3 shapes as NeMo's launcher derives them from a size: NeMo-Framework-Launcher
/// `auto_configurator/autoconfig/utils.py` at 26e42fa, `calculate_model_size_params` (hidden size
/// and heads by size band) and `_calculate_model_size` (the parameter count N21 Eq. 2 with
/// V = 51,200: 12Lh²(1 + 13/12h + (V + s)/12Lh)), which picks the layer count. The five NeMo
/// GPT-3 configs (126M: 12 × 768 × 12; 5B: 24 × 4096 × 32; 20B: 44 × 6144 × 48; 40B: 48 × 8192 ×
/// 64; 175B: 96 × 12288 × 96) are what this rule gives for 0.126, 5, 20, 40 and 175 billion.
public enum GPT3Sizing {
  /// (below this many billion parameters, hidden size, heads), in the auto-configurator's order.
  public static let bands: [(below: Double, hidden: Int, heads: Int)] = [
    (0.25, 768, 12), (0.5, 1024, 16), (1, 1536, 16), (2, 2048, 16), (3, 2560, 32),
    (4.5, 3072, 32), (8, 4096, 32), (15, 5120, 40), (25, 6144, 48), (52, 8192, 64),
    (105, 10240, 80), (205, 12288, 96), (405, 20480, 128), (805, 20480, 128), (1105, 25600, 160),
  ]

  /// The auto-configurator's vocabulary for sizing (its default `vocab_size`).
  public static let sizingVocabulary = 51_200

  /// Billions of parameters by N21 Eq. 2, as the auto-configurator counts them.
  public static func billions(layers: Int, hidden: Int, vocabulary: Int, sequenceLength s: Int)
    -> Double
  {
    let L = Double(layers), h = Double(hidden)
    return 12 * L * h * h * (1 + 13 / (12 * h) + Double(vocabulary + s) / (12 * L * h)) / 1e9
  }

  /// The layer counts tried, in order, each family of counts with the number of margins tried
  /// (1 %, 2 %, … of the target size): powers of two, multiples of 16, of 2, of 5, then any count
  /// — the auto-configurator's order of preference.
  static let layerPasses: [(counts: [Int], margins: Int)] = [
    ((1..<10).map { 1 << $0 }, 10),
    (Array(stride(from: 16, through: 200, by: 16)), 6),
    (Array(stride(from: 2, through: 200, by: 2)), 6),
    (Array(stride(from: 5, through: 200, by: 5)), 6),
    (Array(1..<200), 10),
  ]

  /// The shape NeMo's rule gives a target of `billions` parameters; nil outside its range (it
  /// stops at 1.1T) or when no layer count comes within its margins.
  public static func shape(
    billions target: Double, sequenceLength s: Int = 2048, vocabulary: Int = sizingVocabulary
  ) -> ModelShape? {
    guard target > 0, let band = bands.first(where: { target < $0.below }) else { return nil }
    for pass in layerPasses {
      var margin = 0.01
      for _ in 0..<pass.margins {
        for layers in pass.counts {
          let size = billions(
            layers: layers, hidden: band.hidden, vocabulary: vocabulary, sequenceLength: s)
          if target * (1 - margin) < size && size < target * (1 + margin) {
            return ModelShape(
              layers: layers, hidden: band.hidden, heads: band.heads, ffnHidden: 4 * band.hidden)
          }
        }
        margin += 0.01
      }
    }
    return nil
  }

  /// Targets from 0.1B to the rule's 1.1T limit, 1 % apart: each a shape by `shape(billions:)`,
  /// distinct shapes ordered by their parameter count. The rule's bands make the count grow with
  /// the target, so the order is the targets' order up to ties, which are kept once.
  public static func ladder(sequenceLength s: Int) -> [ModelShape] {
    var seen = Set<ModelShape>()
    var shapes: [(Double, ModelShape)] = []
    var target = 0.1
    while target < bands[bands.count - 1].below {
      if let shape = shape(billions: target, sequenceLength: s), shape.layers % 4 == 0,
        seen.insert(shape).inserted
      {
        shapes.append(
          (
            billions(
              layers: shape.layers, hidden: shape.hidden, vocabulary: sizingVocabulary,
              sequenceLength: s), shape
          ))
      }
      target *= 1.01
    }
    shapes.sort { $0.0 < $1.0 }
    var out: [ModelShape] = []
    var last = -1.0
    for (size, shape) in shapes where size > last {
      out.append(shape)
      last = size
    }
    return out
  }
}

/// Llama 3 shapes between and beyond the published ones. Published (meta-llama/llama-models
/// `models/sku_list.py` at 5309637 for Llama 3.1 8B, 70B, 405B; the Llama 3.2 1B and 3B
/// config.json files for the small widths): width → layers 2048 → 16, 3072 → 28, 4096 → 32,
/// 8192 → 80, 16384 → 126; head size 128 (4096/32, 8192/64, 16384/128, 3072/24); 8 key/value
/// groups. MLP width as Meta's `FeedForward` computes it: 2/3 × 4h, times `ffn_dim_multiplier`,
/// rounded up to a multiple of `multiple_of` — 1.3 and 1,024 for 8B (14,336), 1.3 and 4,096 for
/// 70B (28,672), 1.2 and 4,096 for 405B (53,248).
///
/// The interpolation rule (megaplan's): widths in steps of 1,024 (so heads = h/128 is a multiple
/// of the 8 groups and of every t up to 8); at each width the layer counts within ±1/4 of the
/// depth of that width, the depth piecewise-linear in the width through the published points (and
/// on the last segment's slope beyond 16,384, up to 32,768); layer counts are multiples of 4 below
/// 32 and of 8 from 32 on (as 8B's 32 and 70B's 80 are), so that pipeline sizes 1, 2, 4 and 8
/// divide every rung from 8B up (405B's 126 layers fall between the rungs of 120 and 128); the MLP
/// rule of the published model at or below the width (8B's below 8,192). The rungs are these
/// shapes in order of parameter count (ties kept once): 253 of them, at most 9 % apart from 100B
/// up and 20 % from 20B up (the published widths are sparse below); a rung that is wider and
/// shallower than the one below it trades a little attention work for width.
public enum LlamaSizing {
  /// (width, layers) of the published models.
  public static let depthAnchors: [(hidden: Int, layers: Int)] = [
    (2048, 16), (3072, 28), (4096, 32), (8192, 80), (16384, 126),
  ]
  public static let headSize = 128
  public static let queryGroups = 8
  public static let widthStep = 1024
  public static let widestHidden = 32768

  /// Layers at width `h`: piecewise-linear through `depthAnchors`, extended on the last slope.
  public static func depth(hidden h: Int) -> Int {
    let a = depthAnchors
    var i = 0
    while i + 2 < a.count && h > a[i + 1].hidden { i += 1 }
    let (h0, l0) = a[i], (h1, l1) = a[i + 1]
    let slope = Double(l1 - l0) / Double(h1 - h0)
    return Int((Double(l0) + slope * Double(h - h0)).rounded())
  }

  /// Meta's MLP width for hidden size `h` (see the type's comment).
  public static func ffnHidden(hidden h: Int) -> Int {
    let (multiplier, multipleOf): (Double, Int) =
      h >= 16384 ? (1.2, 4096) : h >= 8192 ? (1.3, 4096) : (1.3, 1024)
    let base = 2 * (4 * h) / 3
    let scaled = Int(multiplier * Double(base))
    return (scaled + multipleOf - 1) / multipleOf * multipleOf
  }

  /// Layer counts a rung may have: multiples of 4 below 32, of 8 from 32 on.
  public static func onLayerGrid(_ layers: Int) -> Bool {
    layers > 0 && layers % (layers < 32 ? 4 : 8) == 0
  }

  /// How far from the depth curve a rung's layer count may lie, as a fraction of the depth.
  public static let depthBand = 0.25

  public static func ladder() -> [ModelShape] {
    var shapes: [(parameters: Double, shape: ModelShape)] = []
    for h in stride(from: depthAnchors[0].hidden, through: widestHidden, by: widthStep) {
      let depth = Double(depth(hidden: h))
      let low = Int((depth * (1 - depthBand)).rounded(.up))
      let high = Int((depth * (1 + depthBand)).rounded(.down))
      let f = ffnHidden(hidden: h)
      for layers in low...max(low, high) where onLayerGrid(layers) {
        let shape = ModelShape(
          layers: layers, hidden: h, heads: h / headSize, queryGroups: queryGroups, ffnHidden: f)
        shapes.append((parameters(shape), shape))
      }
    }
    shapes.sort { $0.parameters < $1.parameters }
    var out: [ModelShape] = []
    var last = -1.0
    for (n, shape) in shapes where n > last {
      out.append(shape)
      last = n
    }
    return out
  }

  /// Parameters of a Llama 3 model of `shape` for ordering the ladder: per layer the QKV
  /// h·(h + 2·8·128), the projection h², the gated MLP 3·h·f and two RMSNorms 2h; untied
  /// embedding and output 2·128,256·h; the final norm h.
  static func parameters(_ shape: ModelShape) -> Double {
    let h = Double(shape.hidden), f = Double(shape.ffnHidden)
    let kv = Double(2 * shape.queryGroups * headSize)
    let layer = h * (h + kv) + h * h + 3 * h * f + 2 * h
    return Double(shape.layers) * layer + 2 * 128_256 * h + h
  }
}
