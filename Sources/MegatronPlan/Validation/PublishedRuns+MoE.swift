/// Published mixture-of-experts runs of Megatron-Core, encoded as data with their sources.
/// Models from each one's Hugging Face config.json; layouts and switches from the source's
/// recipe. In every benchmark the routing is force-balanced and dropless (Megatron-Bridge's
/// performance summary: "we force-balance the token distribution among experts and all
/// benchmarks are token-dropless"; `moe_router_force_load_balancing`), which is megaplan's
/// default imbalance of 1.0.
extension PublishedRun {
  /// Qwen3-MoE (Qwen/Qwen3-30B-A3B and Qwen3-235B-A22B config.json, `Qwen3MoeForCausalLM`):
  /// grouped-query attention with per-head RMSNorms on queries and keys, head size 128, 4
  /// key/value heads, 128 experts top-8, no shared expert, vocabulary 151,936, untied, rope θ
  /// 1,000,000.
  /// `vocabulary`: padded to a multiple of 128 × t (Megatron-Bridge's
  /// make_vocab_size_divisible_by 128): 151,936 at t = 1, 152,064 at t = 2.
  static func qwen3MoE(
    layers: Int, hidden: Int, heads: Int, ffn: Int, expertFFN: Int, fp8: FP8Training,
    vocabulary: Int
  ) -> TransformerModel {
    TransformerModel(
      layers: layers, hidden: hidden, heads: heads, queryGroups: 4, headDim: 128, ffnHidden: ffn,
      sequenceLength: 4096, vocabulary: vocabulary, tiedEmbeddings: false, normalization: .rmsNorm,
      activation: .swiglu, linearBiases: false, qkLayerNorm: true,
      positionEmbedding: .rotary(percentage: 1, base: 1e6), dropout: .none, fusedAttention: true,
      fp8: fp8, moe: MixtureOfExperts(experts: 128, topK: 8, expertFFN: expertFFN))
  }

  /// DeepSeek-V3 (deepseek-ai/DeepSeek-V3 config.json): MLA with r_q 1,536, r_kv 512, d_nope
  /// 128, d_rope 64, d_v 128 and latent RMSNorms; 3 dense layers of 18,432, then 58 MoE layers
  /// of 256 experts of 2,048, top-8, sigmoid router, one shared expert; one MTP layer;
  /// vocabulary 129,280 padded to a multiple of 1,280 × t (Megatron-Bridge's DeepSeek-V3
  /// provider: make_vocab_size_divisible_by 1,280): 130,560 at t = 2; untied.
  static func deepseekV3(fp8: FP8Training?, mtpLayers: Int, vocabulary: Int) -> TransformerModel {
    TransformerModel(
      layers: 61, hidden: 7168, heads: 128, ffnHidden: 18432, sequenceLength: 4096,
      vocabulary: vocabulary, tiedEmbeddings: false, normalization: .rmsNorm, activation: .swiglu,
      linearBiases: false, qkLayerNorm: true, positionEmbedding: .rotary(percentage: 1, base: 1e4),
      dropout: .none, fusions: KernelFusions(rope: true), fusedAttention: true, fp8: fp8,
      moe: MixtureOfExperts(
        experts: 256, topK: 8, expertFFN: 2048, sharedExpertFFN: 2048, firstDenseLayers: 3,
        dispatcher: .flex, scoreFunction: .sigmoid),
      mla: MultiLatentAttention(
        queryRank: 1536, keyValueRank: 512, qkHeadDim: 128, ropeHeadDim: 64, valueHeadDim: 128),
      mtpLayers: mtpLayers)
  }

  /// The MoE rows `megaplan validate` checks:
  /// - Megatron-Bridge docs/performance-summary.md (performance-summary-archive.md in the
  ///   repository now), DGX-H100 tables: Qwen3-30B-A3B and Qwen3-235B-A22B from the 25.11
  ///   container, FP8 current scaling (the recipes of scripts/performance/configs/qwen at that
  ///   release: `moe_a2a_overlap` on H100, the alltoall dispatcher, no recompute, bf16
  ///   gradient reduction, the distributed optimizer with overlapped reduce and gather);
  ///   DeepSeek-V3 from the 25.09 container (its DeepSeek-V3 recipe and run script: one MTP
  ///   layer with the flexible layout `Et|(tt|)*30mL`, DeepEP, the EP all-to-all overlap,
  ///   selective recompute of mla_up_proj and mlp). Iteration time = global batch × sequence /
  ///   (tokens/s/GPU × GPUs).
  /// - Megatron-LM megatron/core/transformer/moe/README.md (MCore v0.9 era, before #2830):
  ///   "468 TFLOPS for Mixtral 8X7B bf16 training", on its reference mapping (64 H100, TP 1,
  ///   EP 8, PP 4, VP 8, MBS 1, GBS 256, sequence 4,096, dropless all-to-all); compared as
  ///   model TFLOP/s per GPU, which Megatron-LM counted then as megaplan does (k experts per
  ///   token, the full s² of attention).
  /// Left out: GB200/GB300/B300 rows (Blackwell's constants are Hopper's until measured) and
  /// rows that need context parallelism (none of the MoE rows here does).
  public static let moe: [PublishedRun] = {
    let bridge = "Megatron-Bridge docs/performance-summary.md, DGX-H100"
    let fp8 = FP8Training(format: .hybrid, recipe: .tensorwise, primaryWeights: true)
    func recipe(_ run: TrainingRun, fp32Gradients: Bool) -> TrainingRun {
      var run = run
      run.software.crossEntropyFusion = true
      run.software.fp32Gradients = fp32Gradients
      return run
    }
    let a2a = Overlap(
      gradientReduction: true, parameterGather: true, pipelineP2P: true, expertParallel: true)
    let noA2A = Overlap(gradientReduction: true, parameterGather: true, pipelineP2P: true)

    var qwen235Layout = Layout(
      tensor: 2, pipeline: 8, data: 16, virtualStages: 4, microBatch: 1, globalBatch: 2048,
      sequenceParallel: true, distributedOptimizer: true, expertParallel: 32,
      expertTensorParallel: 1)
    // account_for_embedding/loss_in_pipeline_split (the Qwen3-235B recipe): 94 + 2 = 96 over
    // 8 × 4 chunks of 3.
    qwen235Layout.split =
      PipelineSplit(embeddingCountsAsLayer: true, lossCountsAsLayer: true)
      .asFlexibleLayout(layers: 94, stages: 8, virtual: 4) ?? .even

    // The 25.09 run script (scripts/performance/run_script.py) on H100: DeepEP (the flex
    // dispatcher) with force-balanced routing, the EP all-to-all overlap (`A2A_1F1B`), selective
    // recompute of mla_up_proj and mlp, and no overlapped gradient reduce.
    var dsv3Layout = Layout(
      tensor: 2, pipeline: 8, data: 64, virtualStages: 4, microBatch: 1, globalBatch: 8192,
      sequenceParallel: true, recompute: .selective, distributedOptimizer: true,
      expertParallel: 64, expertTensorParallel: 1)
    if let layout = try? PipelineSplit.parseLayout("Et|(tt|)*30mL") {
      dsv3Layout.split.chunkLayers = layout.chunkLayers
      dsv3Layout.split.layoutText = "Et|(tt|)*30mL"
      dsv3Layout.split.mtpChunk = 31
      dsv3Layout.split.mtpLayers = 1
    }

    return [
      PublishedRun(
        name: "Mixtral 8x7B, 64 H100, BF16, p4 v8 EP8",
        source:
          "Megatron-LM megatron/core/transformer/moe/README.md (MCore v0.9: 468 TFLOP/s per GPU)",
        run: TrainingRun(
          model: TransformerModel(
            layers: 32, hidden: 4096, heads: 32, queryGroups: 8, ffnHidden: 14336,
            sequenceLength: 4096, vocabulary: 32_000, tiedEmbeddings: false,
            normalization: .rmsNorm, activation: .swiglu, linearBiases: false,
            positionEmbedding: .rotary(percentage: 1, base: 1e6), dropout: .none,
            fusedAttention: true, moe: MixtureOfExperts(experts: 8, topK: 2, expertFFN: 14336)),
          layout: Layout(
            tensor: 1, pipeline: 4, data: 16, virtualStages: 8, microBatch: 1, globalBatch: 256,
            distributedOptimizer: true, expertParallel: 8, expertTensorParallel: 1),
          gpu: .h100SXM, overlap: noA2A),
        published: .modelTFLOPsPerGPU(468)),
      PublishedRun(
        name: "Qwen3-30B-A3B, 16 H100, FP8, p2 v24 EP8",
        source: bridge + ", 25.11 container (5,275 tokens/s/GPU)",
        run: recipe(
          TrainingRun(
            model: qwen3MoE(
              layers: 48, hidden: 2048, heads: 32, ffn: 6144, expertFFN: 768, fp8: fp8,
              vocabulary: 151_936),
            layout: Layout(
              tensor: 1, pipeline: 2, data: 8, virtualStages: 24, microBatch: 2, globalBatch: 512,
              distributedOptimizer: true, expertParallel: 8, expertTensorParallel: 1),
            gpu: .h100SXM, overlap: a2a), fp32Gradients: false),
        published: .iterationSeconds(512 * 4096 / (5_275 * 16.0))),
      PublishedRun(
        name: "Qwen3-235B-A22B, 256 H100, FP8, t2 p8 v4 EP32",
        source: bridge + ", 25.11 container (1,575 tokens/s/GPU)",
        run: recipe(
          TrainingRun(
            model: qwen3MoE(
              layers: 94, hidden: 4096, heads: 64, ffn: 12288, expertFFN: 1536, fp8: fp8,
              vocabulary: 152_064),
            layout: qwen235Layout, gpu: .h100SXM, overlap: a2a), fp32Gradients: false),
        published: .iterationSeconds(2048 * 4096 / (1_575 * 256.0))),
      PublishedRun(
        name: "DeepSeek-V3, 1,024 H100, FP8, t2 p8 v4 EP64",
        source: bridge + ", 25.09 container (1,297 tokens/s/GPU)",
        run: recipe(
          TrainingRun(
            model: deepseekV3(fp8: fp8, mtpLayers: 1, vocabulary: 130_560),
            layout: dsv3Layout, gpu: .h100SXM,
            overlap: Overlap(parameterGather: true, pipelineP2P: true, expertParallel: true)),
          fp32Gradients: false),
        published: .iterationSeconds(8192 * 4096 / (1_297 * 1024.0))),
    ]
  }()
}
