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
      moe: {
        var moe = MixtureOfExperts(
          experts: 256, topK: 8, expertFFN: 2048, sharedExpertFFN: 2048, firstDenseLayers: 3,
          dispatcher: .flex, scoreFunction: .sigmoid)
        // config.json: n_group 8, topk_group 4 (each token reaches at most 4 groups).
        (moe.routerGroups, moe.groupTopK) = (8, 4)
        return moe
      }(),
      mla: MultiLatentAttention(
        queryRank: 1536, keyValueRank: 512, qkHeadDim: 128, ropeHeadDim: 64, valueHeadDim: 128),
      mtpLayers: mtpLayers)
  }

  /// GPT-OSS 120B (openai/gpt-oss-120b config.json, `GptOssForCausalLM`): 36 layers, h 2,880,
  /// 64 query heads of 64 in 8 key/value groups with q/k/v/o biases and a learned sink logit per
  /// head; layers 0, 2, … attend over a sliding window of 128 keys, the others in full; every
  /// layer 128 biased experts of 2,880, top-4, a biased softmax router; the experts' GLU the
  /// quick-GeLU of the gate clamped to 7 times the up half clamped to ±7 plus 1; vocabulary
  /// 201,088 (Megatron-Bridge uses the model's `vocab_size` unpadded), untied, RMSNorm, YaRN
  /// rotary positions (θ 150,000). As Megatron-Bridge's provider builds it (gpt_oss_bridge.py):
  /// quick_gelu, activation_func_clamp_value 7.0, glu_linear_offset 1.0, softmax_type
  /// learnable, window_size (127, 0), window_attn_skip_freq 2, add_bias_linear.
  static func gptOss120B() -> TransformerModel {
    var model = TransformerModel(
      layers: 36, hidden: 2880, heads: 64, queryGroups: 8, headDim: 64, ffnHidden: 2880,
      sequenceLength: 4096, maxPositionEmbeddings: 131_072, vocabulary: 201_088,
      tiedEmbeddings: false, normalization: .rmsNorm, activation: .quickGeGLU,
      linearBiases: true, positionEmbedding: .rotary(percentage: 1, base: 150_000),
      dropout: .none, fusions: KernelFusions(rope: true), fusedAttention: true,
      moe: MixtureOfExperts(experts: 128, topK: 4, expertFFN: 2880))
    model.attentionWindow = AttentionWindow(size: 128, layers: .allButEvery(2))
    model.softmax = .learnable
    model.gluLinearOffset = 1
    model.activationClamp = 7
    return model
  }

  /// Megatron-Bridge's MoE switches of its performance recipes: the fused permutation and
  /// router, force-balanced routing (Bridge's performance summary: "we force-balance the token
  /// distribution among experts and all benchmarks are token-dropless").
  static func bridgeMoE(
    _ model: TransformerModel, dispatcher: MixtureOfExperts.Dispatcher,
    backend: MixtureOfExperts.FlexBackend = .deepep
  ) -> TransformerModel {
    var model = model
    model.moe?.dispatcher = dispatcher
    model.moe?.flexBackend = backend
    model.moe?.permuteFusion = true
    model.moe?.routerFusion = true
    return model
  }

  /// The MoE rows `megaplan validate` checks, from ../shared/reference/moe-runs-dev.json (each
  /// row's source there): for each model its newest published H100 run with the release's
  /// switches, and Megatron-MoE-ModelZoo's Qwen3-235B layouts.
  /// - Mixtral 8x7B: Megatron-LM megatron/core/transformer/moe/README.md (MCore v0.9: "468
  ///   TFLOPS for Mixtral 8X7B bf16 training" on 64 H100, TP 1 EP 8 PP 4 VP 8, GBS 256, dropless
  ///   alltoall), model TFLOP/s as Megatron-LM counted then (k experts per token, full s²);
  /// - Qwen3-30B-A3B: Megatron-Bridge performance summary, 26.06 container (8,826 tokens/s/GPU
  ///   on 16 H100, FP8 current scaling, TP 1 PP 1 EP 16, GBS 1,024, the flex dispatcher with
  ///   HybridEP, no EP overlap);
  /// - Qwen3-235B-A22B: the same summary, 26.04.01 (TP 2 PP 8 VP 4 EP 32 on 256 H100, GBS 8,192,
  ///   alltoall with the EP all-to-all overlap);
  /// - DeepSeek-V3: the same summary, 25.09 (its recipe and run script: one MTP layer with the
  ///   flexible layout `Et|(tt|)*30mL`, DeepEP, the EP all-to-all overlap, selective recompute
  ///   of mla_up_proj and mlp);
  /// - Megatron-MoE-ModelZoo best_practice/Qwen3/readme.md, 256 H100, BF16: DeepEP TP 2 EP 32
  ///   PP 8 VP 4 with the 1F1B all-to-all overlap (17.6 s) and the alltoall dispatcher TP 2
  ///   EP 8 PP 32 VP 3 (24.2 s), both recomputing layernorm and moe_act;
  /// - GPT-OSS 120B: the same summary, 26.04.01 (5,824 tokens/s/GPU on 64 H100, BF16, TP 1 PP 4
  ///   EP 8 ETP 1, GBS 1,280, MBS 1), its workload GPT_OSS_120B_PRETRAIN_CONFIG_H100_BF16_V2
  ///   (scripts/performance/configs/gpt_oss/gpt_oss_workload_base_configs.py at v0.4.1, the
  ///   release nearest the container: recompute of layernorm and moe_act) with
  ///   gpt_oss_llm_pretrain.py's switches (the fused router, force-balanced routing, BF16
  ///   gradient reduction) over the recipe's (recipes/gpt_oss/gpt_oss.py: alltoall with fused
  ///   permutation and grouped GEMMs, the fused cross entropy, overlapped gradient reduce and
  ///   parameter gather, no CUDA graphs, no EP overlap).
  /// Iteration time = global batch × sequence / (tokens/s/GPU × GPUs) where the source gives
  /// throughput. Left out: Nemotron 3 Nano (Mamba layers, not modeled), older releases of the
  /// same runs (their spread for one layout, up to 2× for Qwen3-30B-A3B between 25.09 and 25.11,
  /// is the software's, docs/validation.md; GPT-OSS 120B's four 26.x rows span 5,810–5,993
  /// tokens/s/GPU, 3 %).
  public static let moe: [PublishedRun] = {
    let bridge = "Megatron-Bridge docs/performance-summary-archive.md, DGX-H100"
    let zoo = "Megatron-MoE-ModelZoo best_practice/Qwen3/readme.md, 256 H100 BF16"
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
    let qwen30 = qwen3MoE(
      layers: 48, hidden: 2048, heads: 32, ffn: 6144, expertFFN: 768, fp8: fp8,
      vocabulary: 151_936)
    let qwen235 = qwen3MoE(
      layers: 94, hidden: 4096, heads: 64, ffn: 12288, expertFFN: 1536, fp8: fp8,
      vocabulary: 152_064)
    // Megatron-MoE-ModelZoo's Qwen3-235B-A22B.yaml: make-vocab-size-divisible-by 1,187
    // (151,936 = 1,187 × 128), so t = 2 and t = 4 pad nothing.
    var qwen235BF16 = qwen235
    qwen235BF16.fp8 = nil
    qwen235BF16.vocabulary = 151_936
    var gptOssLayout = Layout(
      tensor: 1, pipeline: 4, data: 16, microBatch: 1, globalBatch: 1280,
      recompute: .selective, distributedOptimizer: true, expertParallel: 8,
      expertTensorParallel: 1)
    gptOssLayout.recomputeModules = [.layerNorm, .moeActivation]

    // account_for_embedding/loss_in_pipeline_split (the Qwen3-235B recipes): 94 + 2 = 96 over
    // p × v chunks.
    func qwen235Layout(
      t: Int, p: Int, v: Int, d: Int, ep: Int, batch: Int, recompute: RecomputeModules? = nil
    ) -> Layout {
      var layout = Layout(
        tensor: t, pipeline: p, data: d, virtualStages: v, microBatch: 1, globalBatch: batch,
        sequenceParallel: t > 1, recompute: recompute == nil ? .none : .selective,
        distributedOptimizer: true, expertParallel: ep, expertTensorParallel: 1)
      if let recompute { layout.recomputeModules = recompute }
      layout.split =
        PipelineSplit(embeddingCountsAsLayer: true, lossCountsAsLayer: true)
        .asFlexibleLayout(layers: 94, stages: p, virtual: v) ?? .even
      return layout
    }

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
    let zooRecompute: RecomputeModules = [.layerNorm, .moeActivation]

    // The ModelZoo's long-context table (best_practice/Qwen3/readme.md, "Long Context"):
    // Qwen3-235B-A22B on 32 nodes of H100, DeepEP, BF16, t 4, p 8, v 4, EP 8, GBS 256, cp = s/16k,
    // selective recompute of layernorm and the MoE layer, no EP overlap (sbatch_benchmarking.sh);
    // the forced-balance column (`moe_router_force_load_balancing`), model TFLOP/s per GPU.
    func zooLongContext(_ k: Int, cp: Int, tflops: Double) -> PublishedRun {
      var model = bridgeMoE(qwen235BF16, dispatcher: .flex)
      model.sequenceLength = k * 1024
      var layout = qwen235Layout(
        t: 4, p: 8, v: 4, d: 8 / cp, ep: 8, batch: 256, recompute: [.layerNorm, .moe])
      layout.contextParallel = cp
      return PublishedRun(
        name: "Qwen3-235B-A22B \(k)k, 256 H100, BF16, DeepEP t4 cp\(cp) EP8",
        source: zoo + " (long context, forced balance: \(Int(tflops)) TFLOP/s)",
        run: recipe(
          TrainingRun(model: model, layout: layout, gpu: .h100SXM, overlap: noA2A),
          fp32Gradients: false),
        published: .modelTFLOPsPerGPU(tflops))
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
        name: "Qwen3-30B-A3B, 16 H100, FP8, EP16 HybridEP",
        source: bridge + ", 26.06 container (8,826 tokens/s/GPU)",
        run: recipe(
          TrainingRun(
            model: bridgeMoE(qwen30, dispatcher: .flex, backend: .hybridep),
            layout: Layout(
              tensor: 1, pipeline: 1, data: 16, microBatch: 1, globalBatch: 1024,
              distributedOptimizer: true, expertParallel: 16, expertTensorParallel: 1),
            gpu: .h100SXM, overlap: noA2A), fp32Gradients: false),
        published: .iterationSeconds(1024 * 4096 / (8_826 * 16.0))),
      PublishedRun(
        name: "Qwen3-235B-A22B, 256 H100, FP8, t2 p8 v4 EP32",
        source: bridge + ", 26.04.01 container (1,712 tokens/s/GPU)",
        run: recipe(
          TrainingRun(
            model: bridgeMoE(qwen235, dispatcher: .alltoall),
            layout: qwen235Layout(t: 2, p: 8, v: 4, d: 16, ep: 32, batch: 8192),
            gpu: .h100SXM, overlap: a2a), fp32Gradients: false),
        published: .iterationSeconds(8192 * 4096 / (1_712 * 256.0))),
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
      PublishedRun(
        name: "Qwen3-235B-A22B, 256 H100, BF16, DeepEP t2 p8 v4 EP32",
        source: zoo + " (cross-node EP, 1F1B all-to-all overlap: 17.6 s)",
        run: recipe(
          TrainingRun(
            model: bridgeMoE(qwen235BF16, dispatcher: .flex),
            layout: qwen235Layout(
              t: 2, p: 8, v: 4, d: 16, ep: 32, batch: 2048, recompute: zooRecompute),
            gpu: .h100SXM, overlap: a2a), fp32Gradients: false),
        published: .iterationSeconds(17.6)),
      PublishedRun(
        name: "Qwen3-235B-A22B, 256 H100, BF16, alltoall t2 p32 v3 EP8",
        source: zoo + " (intra-node EP: 24.2 s)",
        run: recipe(
          TrainingRun(
            model: bridgeMoE(qwen235BF16, dispatcher: .alltoall),
            layout: qwen235Layout(
              t: 2, p: 32, v: 3, d: 4, ep: 8, batch: 2048, recompute: zooRecompute),
            gpu: .h100SXM, overlap: noA2A), fp32Gradients: false),
        published: .iterationSeconds(24.2)),
      PublishedRun(
        name: "GPT-OSS 120B, 64 H100, BF16, p4 EP8",
        source: bridge + ", 26.04.01 container (5,824 tokens/s/GPU)",
        run: recipe(
          TrainingRun(
            model: bridgeMoE(gptOss120B(), dispatcher: .alltoall), layout: gptOssLayout,
            gpu: .h100SXM, overlap: noA2A), fp32Gradients: false),
        published: .iterationSeconds(1280 * 4096 / (5_824 * 64.0))),
      zooLongContext(16, cp: 1, tflops: 295), zooLongContext(32, cp: 2, tflops: 335),
      zooLongContext(64, cp: 4, tflops: 368), zooLongContext(128, cp: 8, tflops: 389),
    ]
  }()
}
