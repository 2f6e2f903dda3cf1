/// The published A100 measurements megaplan's step-time model is developed against
/// (reference §6), encoded as data with their sources. `Validation` predicts each and reports the
/// error. All on DGX A100 80 GB nodes, 16-bit, s = 2048, V = 51,200.
public struct PublishedRun: Sendable, Hashable {
  public enum Measure: Sendable, Hashable {
    /// Seconds per iteration.
    case iterationSeconds(Double)
    /// Achieved TFLOP/s per GPU counted with N21 Eq. 3 (hardware FLOPs, full recompute).
    case hardwareTFLOPsPerGPU(Double)
    /// Model TFLOP/s per GPU as the publisher counts them (the run's `attentionFLOPs`).
    case modelTFLOPsPerGPU(Double)

    /// The published number.
    public var value: Double {
      switch self {
      case .iterationSeconds(let x), .hardwareTFLOPsPerGPU(let x), .modelTFLOPsPerGPU(let x): x
      }
    }
  }

  public var name: String
  public var source: String
  public var run: TrainingRun
  public var published: Measure
  /// When set, the micro-batch size and interleaving were not published: megaplan picks the
  /// fastest (that fits) as the authors would have (N21 Table 1).
  public var searchMicroBatchAndInterleaving: Bool = false

  static func gpt(layers: Int, hidden: Int, heads: Int) -> TransformerModel {
    TransformerModel(
      layers: layers, hidden: hidden, heads: heads, sequenceLength: 2048, vocabulary: 51_200)
  }

  static func k22(
    _ name: String, _ model: TransformerModel, t: Int, p: Int, d: Int = 1, v: Int, b: Int,
    batch: Int,
    present: Bool, seconds: Double, source: String
  ) -> PublishedRun {
    let layout = Layout(
      tensor: t, pipeline: p, data: d, virtualStages: v, microBatch: b, globalBatch: batch,
      sequenceParallel: present,
      recompute: present ? .selective : .full(method: .uniform, layers: 1))
    var run = TrainingRun(model: model, layout: layout)
    run.software.attentionFLOPs = .full  // K22 App. A counts every score
    return PublishedRun(
      name: name, source: source, run: run, published: .iterationSeconds(seconds))
  }

  static let m22B = gpt(layers: 48, hidden: 6144, heads: 64)
  static let m175B = gpt(layers: 96, hidden: 12288, heads: 96)
  static let m530B = gpt(layers: 105, hidden: 20480, heads: 128)
  static let m1T = gpt(layers: 128, hidden: 25600, heads: 160)

  /// K22 Table 5 (full recompute without SP; "present work" = SP + selective), K22 §6.3 and the
  /// Megatron-LM 175B/1,024-GPU example.
  public static let endToEnd: [PublishedRun] = [
    k22(
      "22B full recompute", m22B, t: 8, p: 1, v: 1, b: 4, batch: 4, present: false, seconds: 1.42,
      source: "K22 Table 5"),
    k22(
      "22B SP + selective", m22B, t: 8, p: 1, v: 1, b: 4, batch: 4, present: true, seconds: 1.10,
      source: "K22 Table 5"),
    k22(
      "175B full recompute", m175B, t: 8, p: 8, v: 3, b: 1, batch: 64, present: false,
      seconds: 18.13, source: "K22 Table 5"),
    k22(
      "175B SP + selective", m175B, t: 8, p: 8, v: 3, b: 1, batch: 64, present: true,
      seconds: 13.75, source: "K22 Table 5"),
    k22(
      "530B full recompute", m530B, t: 8, p: 35, v: 3, b: 1, batch: 280, present: false,
      seconds: 49.05, source: "K22 Table 5"),
    k22(
      "530B SP + selective", m530B, t: 8, p: 35, v: 3, b: 1, batch: 280, present: true,
      seconds: 37.83, source: "K22 Table 5"),
    k22(
      "530B SP + selective, d=8", m530B, t: 8, p: 35, d: 8, v: 3, b: 1, batch: 2240, present: true,
      seconds: 39.15, source: "K22 §6.3"),
    k22(
      "1T full recompute", m1T, t: 8, p: 64, v: 1, b: 1, batch: 512, present: false, seconds: 94.42,
      source: "K22 Table 5"),
    k22(
      "1T SP + selective", m1T, t: 8, p: 64, v: 1, b: 1, batch: 512, present: true, seconds: 71.49,
      source: "K22 Table 5"),
    PublishedRun(
      name: "175B on 1,024 GPUs, full recompute",
      source: "Megatron-LM README / examples/pretrain_gpt3_175B.sh (≈ 32 s, 138 TFLOP/s per GPU)",
      run: {
        var run = TrainingRun(
          model: m175B,
          layout: Layout(
            tensor: 8, pipeline: 16, data: 8, microBatch: 1, globalBatch: 1536,
            recompute: .full(method: .uniform, layers: 1)),
          precision: .fp16)
        run.software.attentionFLOPs = .full  // Megatron-LM's 2021 count (N21 Eq. 3)
        return run
      }(),
      published: .hardwareTFLOPsPerGPU(138)),
  ]

  /// Llama 3 as Megatron-Core + Transformer Engine train it (Meta-Llama-3-8B/70B `config.json`:
  /// RMSNorm, SwiGLU, no biases, 8 key/value groups, rope θ 500,000, untied, V 128,256; the NeMo
  /// recipes' dropout 0 and fused attention).
  static func llama3(layers: Int, hidden: Int, ffn: Int, heads: Int, fp8: FP8Training)
    -> TransformerModel
  {
    TransformerModel(
      layers: layers, hidden: hidden, heads: heads, queryGroups: 8, ffnHidden: ffn,
      sequenceLength: 8192, vocabulary: 128_256, tiedEmbeddings: false, normalization: .rmsNorm,
      activation: .swiglu, linearBiases: false,
      positionEmbedding: .rotary(percentage: 1, base: 500_000), dropout: .none,
      fusedAttention: true, fp8: fp8)
  }

  /// Megatron-Bridge's `bf16_with_fp8_current_scaling_mixed` (`training/mixed_precision.py`):
  /// hybrid FP8, tensorwise scaling, FP8 primary weights (`fp8_param_gather`).
  static let bridgeFP8 = FP8Training(format: .hybrid, recipe: .tensorwise, primaryWeights: true)

  /// A dense Megatron-Bridge performance run (`modern`, `blackwell`): the overlaps its recipes
  /// turn on (gradient reduce and parameter gather, tensor-parallel and pipeline overlap) and
  /// its performance overrides' fused cross entropy.
  static func bridgeRun(_ run: TrainingRun) -> TrainingRun {
    var run = run
    run.overlap = Overlap(
      tensorParallel: true, gradientReduction: true, parameterGather: true, pipelineP2P: true)
    run.software.crossEntropyFusion = true
    return run
  }

  /// The modern development runs of `../shared/reference/published-modern-dev.json`: NVIDIA's
  /// Megatron-Bridge performance summary (25.11 NeMo container, DGX-H100 table), FP8 with current
  /// (tensorwise) scaling. Iteration time = global batch × sequence / (tokens/s/GPU × GPUs). The
  /// overlaps are those the Megatron-Bridge recipes turn on (gradient reduce and parameter gather
  /// with the distributed optimizer or FSDP; tensor-parallel and pipeline overlap with t > 1 and
  /// the interleaved schedule). The 405B row runs with cp 2 and the split its recipe uses
  /// (Megatron-Bridge `recipes/llama/llama31_405b.py`: the embedding and the loss counted as
  /// pipeline layers, 126 + 2 = 128 layers over 8 × 8 chunks). Numerics as Megatron-Bridge's `bf16_with_fp8_current_scaling_mixed` sets them
  /// (`training/mixed_precision.py`): hybrid FP8, tensorwise scaling, FP8 primary weights
  /// (`fp8_param_gather`), fp32 gradient reduction; its performance overrides fuse rotary and the
  /// cross entropy (`scripts/performance/utils/helpers.py`).
  public static let modern: [PublishedRun] = {
    let fp8 = bridgeFP8
    let source = "Megatron-Bridge docs/performance-summary.md, 25.11 container, DGX-H100"
    return [
      PublishedRun(
        name: "Llama 3 8B, 8 H100, FP8, FSDP",
        source: source + " (14,451 tokens/s/GPU)",
        run: bridgeRun(
          TrainingRun(
            model: llama3(layers: 32, hidden: 4096, ffn: 14336, heads: 32, fp8: fp8),
            layout: Layout(
              tensor: 1, pipeline: 1, data: 8, microBatch: 1, globalBatch: 128,
              distributedOptimizer: true, fullySharded: true),
            gpu: .h100SXM)),
        published: .iterationSeconds(128 * 8192 / (14_451 * 8.0))),
      PublishedRun(
        name: "Llama 3 70B, 64 H100, FP8, t4 p8 v5",
        source: source + " (1,602 tokens/s/GPU)",
        run: bridgeRun(
          TrainingRun(
            model: llama3(layers: 80, hidden: 8192, ffn: 28672, heads: 64, fp8: fp8),
            layout: Layout(
              tensor: 4, pipeline: 8, data: 2, virtualStages: 5, microBatch: 1, globalBatch: 128,
              sequenceParallel: true, distributedOptimizer: true),
            gpu: .h100SXM)),
        published: .iterationSeconds(128 * 8192 / (1_602 * 64.0))),
      PublishedRun(
        name: "Llama 3.1 405B, 1024 H100, FP8, cp2",
        source: source + " (292 tokens/s/GPU)",
        run: bridgeRun(
          TrainingRun(
            model: llama3(layers: 126, hidden: 16384, ffn: 53248, heads: 128, fp8: fp8),
            layout: Layout(
              tensor: 8, pipeline: 8, data: 8, virtualStages: 8, microBatch: 1,
              globalBatch: 512, sequenceParallel: true, distributedOptimizer: true,
              split: PipelineSplit(embeddingCountsAsLayer: true, lossCountsAsLayer: true),
              contextParallel: 2),
            gpu: .h100SXM)),
        published: .iterationSeconds(512 * 8192 / (292 * 1024.0))),
    ]
  }()

  /// Blackwell rows of the same Megatron-Bridge performance summary (25.11 container, the DGX-B200
  /// and DGX-GB200 tables), FP8 with current scaling: a check of how the Hopper constants carry
  /// over, not fitted (`PerformanceConstants.forGeneration(.blackwell)` is `hopper`, as fractions
  /// of Blackwell's own peaks and bandwidths). The recipes are the H100 rows' (`modern`) with the
  /// tables' layouts; Megatron-Bridge's presets for these runs
  /// (`scripts/performance/configs/llama/llama3_workload_base_configs.py`,
  /// `llama31_workload_base_configs.py`) add CUDA graphs of the whole iteration for the 8B runs,
  /// which megaplan does not model (it models no host overhead to remove), and nothing that
  /// changes the layout. Left out: GB200 Llama 3 70B (FSDP with 40 layers' activations offloaded
  /// to the CPU, which megaplan does not model) and the GB300 rows (no profile).
  public static let blackwell: [PublishedRun] = {
    let fp8 = bridgeFP8
    let source = "Megatron-Bridge docs/performance-summary.md, 25.11 container"
    let l8 = llama3(layers: 32, hidden: 4096, ffn: 14336, heads: 32, fp8: fp8)
    let l405 = llama3(layers: 126, hidden: 16384, ffn: 53248, heads: 128, fp8: fp8)
    // The 405B recipe counts the embedding and the loss as pipeline layers (126 + 2 over p·v).
    let split = PipelineSplit(embeddingCountsAsLayer: true, lossCountsAsLayer: true)
    func eightB(_ gpu: GPU) -> TrainingRun {
      bridgeRun(
        TrainingRun(
          model: l8,
          layout: Layout(
            tensor: 1, pipeline: 1, data: 8, microBatch: 2, globalBatch: 128,
            distributedOptimizer: true),
          gpu: gpu))
    }
    return [
      PublishedRun(
        name: "Llama 3 8B, 8 B200, FP8, b2",
        source: source + ", DGX-B200 (30,624 tokens/s/GPU)", run: eightB(.b200),
        published: .iterationSeconds(128 * 8192 / (30_624 * 8.0))),
      PublishedRun(
        name: "Llama 3 8B, 8 GB200, FP8, b2",
        source: source + ", DGX-GB200 (31,508 tokens/s/GPU)", run: eightB(.gb200NVL72),
        published: .iterationSeconds(128 * 8192 / (31_508 * 8.0))),
      PublishedRun(
        name: "Llama 3.1 405B, 128 B200, FP8, t4 p8 v8 cp2",
        source: source + ", DGX-B200 (661 tokens/s/GPU)",
        run: bridgeRun(
          TrainingRun(
            model: l405,
            layout: Layout(
              tensor: 4, pipeline: 8, data: 2, virtualStages: 8, microBatch: 1, globalBatch: 64,
              sequenceParallel: true, distributedOptimizer: true, split: split,
              contextParallel: 2),
            gpu: .b200)),
        published: .iterationSeconds(64 * 8192 / (661 * 128.0))),
      PublishedRun(
        name: "Llama 3.1 405B, 256 GB200, FP8, t4 p16 v4",
        source: source + ", DGX-GB200 (813 tokens/s/GPU)",
        run: bridgeRun(
          TrainingRun(
            model: l405,
            layout: Layout(
              tensor: 4, pipeline: 16, data: 4, virtualStages: 4, microBatch: 1,
              globalBatch: 1536, sequenceParallel: true, distributedOptimizer: true,
              split: split),
            gpu: .gb200NVL72)),
        published: .iterationSeconds(1536 * 8192 / (813 * 256.0))),
    ]
  }()

  /// N21 Table 1: weak scaling, full recompute, interleaved schedule; micro-batch sizes not published.
  public static let weakScaling: [PublishedRun] = {
    let rows: [(String, Int, Int, Int, Int, Int, Int, Int, Double)] = [
      ("1.7B", 24, 2304, 24, 1, 1, 32, 512, 137), ("3.6B", 32, 3072, 30, 2, 1, 64, 512, 138),
      ("7.5B", 32, 4096, 36, 4, 1, 128, 512, 142), ("18.4B", 48, 6144, 40, 8, 1, 256, 1024, 135),
      ("39.1B", 64, 8192, 48, 8, 2, 512, 1536, 138),
      ("76.1B", 80, 10240, 60, 8, 4, 1024, 1792, 140),
      ("145.6B", 96, 12288, 80, 8, 8, 1536, 2304, 148),
      ("310.1B", 128, 16384, 96, 8, 16, 1920, 2160, 155),
      ("529.6B", 128, 20480, 105, 8, 35, 2520, 2520, 163),
      ("1008.0B", 160, 25600, 128, 8, 64, 3072, 3072, 163),
    ]
    return rows.map { name, heads, hidden, layers, t, p, n, batch, tflops in
      let layout = Layout(
        tensor: t, pipeline: p, data: n / (t * p), microBatch: 1, globalBatch: batch,
        recompute: .full(method: .uniform, layers: 1))
      var run = TrainingRun(
        model: gpt(layers: layers, hidden: hidden, heads: heads), layout: layout)
      run.software.attentionFLOPs = .full  // N21 Eq. 3 counts every score
      return PublishedRun(
        name: "N21 \(name) on \(n) GPUs", source: "N21 Table 1", run: run,
        published: .hardwareTFLOPsPerGPU(tflops), searchMicroBatchAndInterleaving: true)
    }
  }()
}
