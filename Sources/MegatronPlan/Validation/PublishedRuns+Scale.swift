/// Large runs with published layouts, for the `scale` section of `megaplan validate` (issue 23):
/// MLPerf Training closed-division results (GPT-3 175B v3.0–v4.1 on up to 11,616 H100 and a
/// B200 preview; Llama 3.1 405B v5.0–v5.1 on H100, H200, B200, GB200, GB300, FP8 and NVFP4) and
/// Megatron-Bridge's performance summary (26.06 and 26.04.01 containers: Llama 3.1 405B and
/// Llama 3 70B on H100, GB200, GB300 in FP8 current scaling, MXFP8 and NVFP4). Each row cites
/// its configuration file or table line; the step time is the published one (MLPerf: the
/// median step of the result logs, or a block's time over its steps, averaged over runs;
/// Megatron-Bridge: global batch × sequence / (tokens/s/GPU × GPUs)); what each row ran is read
/// from its configuration (layout, FP8 recipe and parameters, tensor-parallel overlap, CUDA
/// graphs, SHARP via `NCCL_SHARP_GROUP_SIZE_THRESH`, NVLS via `NCCL_NVLS_ENABLE`, the
/// embedding and loss counted in the pipeline split). No constant of megaplan is fitted to any
/// of them.
///
/// What the configurations leave open is set as their frameworks' defaults, the same for every
/// row: every row fuses the cross entropy (it moves the last stage's peak, not its time); MLPerf
/// NeMo runs overlap the distributed optimizer's gradient reduce-scatter and parameter
/// all-gather (their config_common's `OVERLAP_GRAD_SYNC`/`OVERLAP_PARAM_SYNC`, both true);
/// Megatron-Bridge recipes overlap both, keep FP8/FP4 primary weights (`fp8_param_gather`,
/// `fp4_param_gather`), run NCCL without NVLS (`NCCL_NVLS_ENABLE=0` in their environment) and
/// without CUDA graphs (the 405B perf recipes set `cuda_graph_impl: none`). Left out: the two
/// Megatron-Bridge 70B rows on 64 GPUs without tensor or pipeline parallelism (Megatron-FSDP
/// with activations offloaded to the CPU, not modeled) and the Megatron-LM README's weak-scaling
/// table (its micro-batch sizes, interleaving and recompute are not published). Data gathered
/// with its sources in validation/reference/scale-runs.md.
extension PublishedRun {
  struct ScaleRow {
    enum Model { case gpt3, llama405bMLPerf, llama405b, llama70b }
    var name: String
    var source: String
    var model: Model
    var gpu: GPU
    var t: Int, p: Int, v: Int, cp: Int, d: Int, b: Int, batch: Int
    var recipe: FP8Training.Recipe
    var fp8Params: Bool
    var tpOverlap: Bool
    var graphs: CUDAGraphs.Implementation
    var sharp: Bool
    var nvls: Bool
    var asymmetricSplit: Bool
    var fp8Attention: Bool
    /// The gradient bucket the configuration sets (`BUCKET_CAP_MB`), MB; nil: the default.
    var bucketMB: Double?
    var seconds: Double
  }

  /// The models: MLPerf's GPT-3 175B (96 layers, h 12,288, 96 heads, s 2,048; GPT-2's BPE
  /// vocabulary padded as Megatron pads it), MLPerf's Llama 3.1 405B (126 layers, h 16,384,
  /// ffn 53,248, 128 heads in 8 groups, s 8,192, the Mixtral 8x22B tokenizer's 32,768 tokens),
  /// and Meta's Llama 3.1 405B and Llama 3 70B (V 128,256) as Megatron-Bridge trains them.
  static func scaleModel(_ m: ScaleRow.Model, fp8: FP8Training) -> TransformerModel {
    switch m {
    case .gpt3:
      var model = TransformerModel(
        layers: 96, hidden: 12288, heads: 96, sequenceLength: 2048, vocabulary: 50_688,
        dropout: .none, fusedAttention: true, fp8: fp8)
      model.fp8 = fp8
      return model
    case .llama405bMLPerf:
      var model = llama3(layers: 126, hidden: 16384, ffn: 53248, heads: 128, fp8: fp8)
      model.vocabulary = 32_768
      return model
    case .llama405b:
      return llama3(layers: 126, hidden: 16384, ffn: 53248, heads: 128, fp8: fp8)
    case .llama70b:
      return llama3(layers: 80, hidden: 8192, ffn: 28672, heads: 64, fp8: fp8)
    }
  }

  static func scaleRun(_ row: ScaleRow) -> PublishedRun {
    let fp8 = FP8Training(
      format: .hybrid, recipe: row.recipe, primaryWeights: row.fp8Params,
      attention: row.fp8Attention)
    let split =
      row.asymmetricSplit
      ? PipelineSplit(embeddingCountsAsLayer: true, lossCountsAsLayer: true) : PipelineSplit()
    let layout = Layout(
      tensor: row.t, pipeline: row.p, data: row.d, virtualStages: row.v, microBatch: row.b,
      globalBatch: row.batch, sequenceParallel: row.t > 1, distributedOptimizer: true,
      split: split, contextParallel: row.cp)
    var run = TrainingRun(
      model: scaleModel(row.model, fp8: fp8), layout: layout, gpu: row.gpu,
      overlap: Overlap(
        tensorParallel: row.tpOverlap && row.t > 1, gradientReduction: true,
        parameterGather: true, pipelineP2P: row.v > 1))
    run.software.crossEntropyFusion = true
    run.software.sharp = row.sharp
    run.software.ncclNVLS = row.nvls
    run.software.cudaGraphs = CUDAGraphs(implementation: row.graphs)
    run.software.bucketBytes = row.bucketMB.map { $0 * 1_048_576 }
    return PublishedRun(
      name: row.name, source: row.source, run: run, published: .iterationSeconds(row.seconds))
  }

  /// The scale rows (`ScaleRow`), in the order of validation/reference/scale-runs.md.
  public static let scale: [PublishedRun] = {
    let rows: [ScaleRow] = [
      ScaleRow(
        name: "MLPerf Training v3.0 gpt3, NVIDIA_CoreWeave, 3584 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.0@63e326c400 NVIDIA_CoreWeave/benchmarks/gpt3/implementations/pytorch/config_DGXH100_448x8x24x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 112,
        b: 1, batch: 2688, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: true,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 2.5991),
      ScaleRow(
        name: "MLPerf Training v3.0 gpt3, NVIDIA_CoreWeave, 1536 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.0@63e326c400 NVIDIA_CoreWeave/benchmarks/gpt3/implementations/pytorch/config_DGXH100_192x8x64x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 48,
        b: 1, batch: 3072, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: true,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 6.3412),
      ScaleRow(
        name: "MLPerf Training v3.0 gpt3, NVIDIA, 768 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.0@63e326c400 NVIDIA/benchmarks/gpt3/implementations/pytorch/config_DGXH100_96x8x128x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 24,
        b: 1, batch: 3072, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: true,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 12.1265),
      ScaleRow(
        name: "MLPerf Training v3.0 gpt3, NVIDIA, 512 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.0@63e326c400 NVIDIA/benchmarks/gpt3/implementations/pytorch/config_DGXH100_64x8x128x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 16,
        b: 1, batch: 2048, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: true,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 12.0762),
      ScaleRow(
        name: "MLPerf Training v3.1 gpt3, NVIDIA, 4096 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.1@d06288b2bd NVIDIA/benchmarks/gpt3/implementations/pytorch/config_DGXH100_512x8x16x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 128,
        b: 1, batch: 2048, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 1.6088),
      ScaleRow(
        name: "MLPerf Training v3.1 gpt3, NVIDIA, 6144 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.1@d06288b2bd NVIDIA/benchmarks/gpt3/implementations/pytorch/config_DGXH100_768x8x16x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 192,
        b: 1, batch: 3072, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 1.6153),
      ScaleRow(
        name: "MLPerf Training v3.1 gpt3, NVIDIA, 8192 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.1@d06288b2bd NVIDIA/benchmarks/gpt3/implementations/pytorch/config_DGXH100_1024x8x16x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 256,
        b: 1, batch: 4096, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 1.6192),
      ScaleRow(
        name: "MLPerf Training v3.1 gpt3, NVIDIA, 10240 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.1@d06288b2bd NVIDIA/benchmarks/gpt3/implementations/pytorch/config_DGXH100_1280x8x8x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 320,
        b: 1, batch: 2560, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 0.9255),
      ScaleRow(
        name: "MLPerf Training v3.1 gpt3, NVIDIA, 10752 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.1@d06288b2bd NVIDIA/benchmarks/gpt3/implementations/pytorch/config_DGXH100_1344x8x8x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 336,
        b: 1, batch: 2688, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 0.9296),
      ScaleRow(
        name: "MLPerf Training v3.1 gpt3, Azure+NVIDIA, 10752 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.1@d06288b2bd Azure+NVIDIA/benchmarks/gpt3/implementations/pytorch/config_DGXH100_1344x8x8x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 336,
        b: 1, batch: 2688, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 0.948),
      ScaleRow(
        name: "MLPerf Training v3.1 gpt3, NVIDIA, 768 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v3.1@d06288b2bd NVIDIA/benchmarks/gpt3/implementations/pytorch/config_DGXH100_96x8x128x4x8_mbs1.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 12, cp: 1, d: 24,
        b: 1, batch: 3072, recipe: .delayed, fp8Params: false,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 11.0752),
      ScaleRow(
        name: "MLPerf Training v4.0 gpt3, NVIDIA, 10752 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v4.0@6fe954378e NVIDIA/benchmarks/gpt3/implementations/nemo/config_DGXH100_1344x8x6x4x6_mbs1_cg.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 6, v: 8, cp: 1, d: 448,
        b: 1, batch: 2688, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .local, sharp: true, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: 200, seconds: 0.9206),
      ScaleRow(
        name: "MLPerf Training v4.0 gpt3, NVIDIA, 11616 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v4.0@6fe954378e NVIDIA/benchmarks/gpt3/implementations/nemo/config_DGXH100_1452x8x6x4x6_mbs1_cg.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 6, v: 8, cp: 1, d: 484,
        b: 1, batch: 2904, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .local, sharp: true, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: 200, seconds: 0.9217),
      ScaleRow(
        name: "MLPerf Training v4.1 gpt3, NVIDIA, 256 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v4.1@b87b9e396f NVIDIA/benchmarks/gpt3/implementations/eos_n32_ngc24.09_nemo/config_DGXH100_32x8x256x4x8_mbs2.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 6, cp: 1, d: 8,
        b: 2, batch: 2048, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: true, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: 125, seconds: 18.389),
      ScaleRow(
        name: "MLPerf Training v4.1 gpt3, NVIDIA, 512 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v4.1@b87b9e396f NVIDIA/benchmarks/gpt3/implementations/eos_n64_ngc24.09_nemo/config_DGXH100_64x8x128x4x8_mbs2.sh",
        model: .gpt3, gpu: .h100SXM, t: 4, p: 8, v: 6, cp: 1, d: 16,
        b: 2, batch: 2048, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: true, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: 200, seconds: 9.5146),
      ScaleRow(
        name: "MLPerf Training v4.1 gpt3, NVIDIA, 64 B200 (preview), FP8",
        source:
          "mlcommons/training_results_v4.1@b87b9e396f NVIDIA/benchmarks/gpt3/implementations/b200_n8_preview_nemo/config_DGXB200_8x8x1024x4x8_mbs2_cg.sh",
        model: .gpt3, gpu: .b200, t: 4, p: 8, v: 6, cp: 1, d: 2,
        b: 2, batch: 2048, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .local, sharp: true, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: 200, seconds: 36.1829),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, NVIDIA, 512 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 NVIDIA/benchmarks/llama31_405b/implementations/eos-dfw_n64_ngc25.01_nemo/config_DGXH100_64x8x288xtp8pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .h100SXM, t: 8, p: 8, v: 8, cp: 2, d: 4,
        b: 1, batch: 1152, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 55.1364),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, NVIDIA, 2048 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 NVIDIA/benchmarks/llama31_405b/implementations/eos-dfw_n256_ngc25.01_nemo/config_DGXH100_256x8x72xtp8pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .h100SXM, t: 8, p: 8, v: 8, cp: 2, d: 16,
        b: 1, batch: 1152, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 14.2183),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, NVIDIA, 2432 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 NVIDIA/benchmarks/llama31_405b/implementations/eos-dfw_n304_ngc25.01_nemo/config_DGXH100_304x8x64xtp8pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .h100SXM, t: 8, p: 8, v: 8, cp: 2, d: 19,
        b: 1, batch: 1216, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 12.7588),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, NVIDIA, 2560 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 NVIDIA/benchmarks/llama31_405b/implementations/eos-dfw_n320_ngc25.01_nemo/config_DGXH100_320x8x56xtp8pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .h100SXM, t: 8, p: 8, v: 8, cp: 2, d: 20,
        b: 1, batch: 1120, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 11.1744),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, NVIDIA, 8192 H100-SXM-80GB, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 NVIDIA/benchmarks/llama31_405b/implementations/eos-dfw_n1024_ngc25.01_nemo/config_DGXH100_1024x8x24xtp8pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .h100SXM, t: 8, p: 8, v: 8, cp: 2, d: 64,
        b: 1, batch: 1536, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 5.1789),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, NVIDIA, 256 GB200, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 NVIDIA/benchmarks/llama31_405b/implementations/tyche_ngpu256_ngc25.04_nemo/config_GB200_64x4x112xtp4pp8cp2_cg.sh",
        model: .llama405bMLPerf, gpu: .gb200NVL72, t: 4, p: 8, v: 8, cp: 2, d: 4,
        b: 1, batch: 448, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 19.1496),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, NVIDIA, 512 GB200, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 NVIDIA/benchmarks/llama31_405b/implementations/tyche_ngpu512_ngc25.04_nemo/config_GB200_128x4x112xtp4pp8cp2_cg_dplast.sh",
        model: .llama405bMLPerf, gpu: .gb200NVL72, t: 4, p: 8, v: 8, cp: 2, d: 8,
        b: 1, batch: 896, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 19.4865),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, IBM+CoreWeave+NVIDIA, 512 GB200, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 IBM+CoreWeave+NVIDIA/benchmarks/llama31_405b/implementations/carina_ngpu512_ngc25.04_nemo/config_GB200_128x4x112xtp4pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .gb200NVL72, t: 4, p: 8, v: 8, cp: 2, d: 8,
        b: 1, batch: 896, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 19.3202),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, IBM+CoreWeave+NVIDIA, 1024 GB200, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 IBM+CoreWeave+NVIDIA/benchmarks/llama31_405b/implementations/carina_ngpu1024_ngc25.04_nemo/config_GB200_256x4x48xtp4pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .gb200NVL72, t: 4, p: 8, v: 8, cp: 2, d: 16,
        b: 1, batch: 768, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 8.449),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, IBM+CoreWeave+NVIDIA, 1536 GB200, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 IBM+CoreWeave+NVIDIA/benchmarks/llama31_405b/implementations/carina_ngpu1536_ngc25.04_nemo/config_GB200_384x4x48xtp4pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .gb200NVL72, t: 4, p: 8, v: 8, cp: 2, d: 24,
        b: 1, batch: 1152, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 8.5048),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, IBM+CoreWeave+NVIDIA, 2048 GB200, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 IBM+CoreWeave+NVIDIA/benchmarks/llama31_405b/implementations/carina_ngpu2048_ngc25.04_nemo/config_GB200_512x4x40xtp4pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .gb200NVL72, t: 4, p: 8, v: 8, cp: 2, d: 32,
        b: 1, batch: 1280, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 7.163),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, IBM+CoreWeave+NVIDIA, 2496 GB200, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 IBM+CoreWeave+NVIDIA/benchmarks/llama31_405b/implementations/carina_ngpu2496_ngc25.04_nemo/config_GB200_624x4x32xtp4pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .gb200NVL72, t: 4, p: 8, v: 8, cp: 2, d: 39,
        b: 1, batch: 1248, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 5.826),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, Nebius, 512 H200-SXM-141GB, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 Nebius/benchmarks/llama31_405b/implementations/nebius_soperator_8xH200_n64_ngc25.01_nemo/config_DGXH200_64x8x144xtp4pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .h200, t: 4, p: 8, v: 8, cp: 2, d: 8,
        b: 1, batch: 1152, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: true, nvls: true,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 50.0106),
      ScaleRow(
        name: "MLPerf Training v5.0 llama31_405b, Nebius, 1024 H200-SXM-141GB, FP8",
        source:
          "mlcommons/training_results_v5.0@0fdc28f013 Nebius/benchmarks/llama31_405b/implementations/nebius_soperator_8xH200_n128_ngc25.01_nemo/config_DGXH200_128x8x72xtp4pp8cp2.sh",
        model: .llama405bMLPerf, gpu: .h200, t: 4, p: 8, v: 8, cp: 2, d: 16,
        b: 1, batch: 1152, recipe: .delayed, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: true, nvls: true,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 25.356),
      ScaleRow(
        name: "MLPerf Training v5.1 llama31_405b, NVIDIA, 512 GB200, NVFP4",
        source:
          "mlcommons/training_results_v5.1@4da2d1cd71 NVIDIA/benchmarks/llama31_405b/implementations/tyche_ngpu512_ngc25.09_nemo/README-tyche_ngpu512_ngc25.09_nemo.md (launches config_GB200_128x4x144xtp4pp8cp2_cg_fp4.sh: config_common_fp4.sh, NVTE_DPA_FP8_RECIPE F16)",
        model: .llama405bMLPerf, gpu: .gb200NVL72, t: 4, p: 8, v: 8, cp: 2, d: 8,
        b: 1, batch: 1152, recipe: .nvfp4, fp8Params: false,
        tpOverlap: false, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 17.2899),
      ScaleRow(
        name: "MLPerf Training v5.1 llama31_405b, NVIDIA, 512 GB300, NVFP4",
        source:
          "mlcommons/training_results_v5.1@4da2d1cd71 NVIDIA/benchmarks/llama31_405b/implementations/theia_ngpu512_ngc25.09_nemo/README-theia_ngpu512_ngc25.09_nemo.md (launches config_GB300_128x4x72xtp2pp8cp2_cg_fp4.sh: config_common_fp4.sh, NVTE_DPA_FP8_RECIPE F16)",
        model: .llama405bMLPerf, gpu: .gb300NVL72, t: 2, p: 8, v: 8, cp: 2, d: 16,
        b: 1, batch: 1152, recipe: .nvfp4, fp8Params: false,
        tpOverlap: false, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 13.1518),
      ScaleRow(
        name: "MLPerf Training v5.1 llama31_405b, NVIDIA, 2560 GB200, NVFP4",
        source:
          "mlcommons/training_results_v5.1@441d65f444 NVIDIA/benchmarks/llama31_405b/implementations/hsg_ngpu2560_ngc25.09_nemo/config_GB200_640x4x24xtp4pp8cp2_cg_fp4.sh",
        model: .llama405bMLPerf, gpu: .gb200NVL72, t: 4, p: 8, v: 8, cp: 2, d: 40,
        b: 1, batch: 960, recipe: .nvfp4, fp8Params: false,
        tpOverlap: false, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: true,
        bucketMB: nil, seconds: 3.1883),
      ScaleRow(
        name: "MLPerf Training v5.1 llama31_405b, NVIDIA, 5120 GB200, NVFP4",
        source:
          "mlcommons/training_results_v5.1@441d65f444 NVIDIA/benchmarks/llama31_405b/implementations/hsg_ngpu5120_ngc25.09_nemo/config_GB200_1280x4x16xtp4pp8cp2_cg_fp4.sh",
        model: .llama405bMLPerf, gpu: .gb200NVL72, t: 4, p: 8, v: 8, cp: 2, d: 80,
        b: 1, batch: 1280, recipe: .nvfp4, fp8Params: false,
        tpOverlap: false, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: true,
        bucketMB: nil, seconds: 2.2279),
      ScaleRow(
        name: "MLPerf Training v5.1 llama31_405b, University-of-Florida, 256 B200, FP8",
        source:
          "mlcommons/training_results_v5.1@441d65f444 University-of-Florida/benchmarks/llama31_405b/implementations/hpg.dgxb200x8/config_DGXB200_32x8x144xtp4pp8cp2_cg.sh",
        model: .llama405bMLPerf, gpu: .b200, t: 4, p: 8, v: 8, cp: 2, d: 4,
        b: 1, batch: 576, recipe: .tensorwise, fp8Params: true,
        tpOverlap: false, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 27.6659),
      ScaleRow(
        name: "MLPerf Training v5.1 llama31_405b, University-of-Florida, 448 B200, FP8",
        source:
          "mlcommons/training_results_v5.1@441d65f444 University-of-Florida/benchmarks/llama31_405b/implementations/hpg.dgxb200x8/config_DGXB200_56x8x144xtp4pp8cp2_cg.sh",
        model: .llama405bMLPerf, gpu: .b200, t: 4, p: 8, v: 8, cp: 2, d: 7,
        b: 1, batch: 1008, recipe: .tensorwise, fp8Params: true,
        tpOverlap: false, graphs: .fullIteration, sharp: true, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 27.9568),
      ScaleRow(
        name: "Megatron-Bridge 26.06, LLAMA3.1_405B, 256 GB300, FP8",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 100 (## 26.06 NeMo Container / Pre-Training / Model: LLAMA3.1_405B)",
        model: .llama405b, gpu: .gb300NVL72, t: 4, p: 8, v: 4, cp: 1, d: 8,
        b: 1, batch: 1536, recipe: .tensorwise, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 46.9008),
      ScaleRow(
        name: "Megatron-Bridge 26.06, LLAMA3.1_405B, 256 GB300, MXFP8",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 101 (## 26.06 NeMo Container / Pre-Training / Model: LLAMA3.1_405B)",
        model: .llama405b, gpu: .gb300NVL72, t: 2, p: 8, v: 4, cp: 2, d: 8,
        b: 1, batch: 1536, recipe: .mxfp8, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 51.6303),
      ScaleRow(
        name: "Megatron-Bridge 26.06, LLAMA3.1_405B, 256 GB300, NVFP4",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 102 (## 26.06 NeMo Container / Pre-Training / Model: LLAMA3.1_405B)",
        model: .llama405b, gpu: .gb300NVL72, t: 4, p: 8, v: 4, cp: 1, d: 8,
        b: 1, batch: 1536, recipe: .nvfp4, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 34.7856),
      ScaleRow(
        name: "Megatron-Bridge 26.06, LLAMA3.1_405B, 256 GB200, FP8",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 103 (## 26.06 NeMo Container / Pre-Training / Model: LLAMA3.1_405B)",
        model: .llama405b, gpu: .gb200NVL72, t: 4, p: 16, v: 4, cp: 1, d: 4,
        b: 1, batch: 1536, recipe: .tensorwise, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 58.306),
      ScaleRow(
        name: "Megatron-Bridge 26.06, LLAMA3.1_405B, 256 GB200, MXFP8",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 104 (## 26.06 NeMo Container / Pre-Training / Model: LLAMA3.1_405B)",
        model: .llama405b, gpu: .gb200NVL72, t: 4, p: 16, v: 8, cp: 1, d: 4,
        b: 1, batch: 1536, recipe: .mxfp8, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 62.7739),
      ScaleRow(
        name: "Megatron-Bridge 26.06, LLAMA3.1_405B, 256 GB200, NVFP4",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 105 (## 26.06 NeMo Container / Pre-Training / Model: LLAMA3.1_405B)",
        model: .llama405b, gpu: .gb200NVL72, t: 4, p: 16, v: 8, cp: 1, d: 4,
        b: 1, batch: 1536, recipe: .nvfp4, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 42.1544),
      ScaleRow(
        name: "Megatron-Bridge 26.06, LLAMA3.1_405B, 1024 H100-SXM-80GB, FP8",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 106 (## 26.06 NeMo Container / Pre-Training / Model: LLAMA3.1_405B)",
        model: .llama405b, gpu: .h100SXM, t: 8, p: 8, v: 8, cp: 2, d: 8,
        b: 1, batch: 1536, recipe: .tensorwise, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: true, fp8Attention: false,
        bucketMB: nil, seconds: 37.6933),
      ScaleRow(
        name: "Megatron-Bridge 26.04.01, LLAMA3_70B, 64 GB300, MXFP8",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 202 (## 26.04.01 NeMo Container / Pre-Training / Model: LLAMA3_70B)",
        model: .llama70b, gpu: .gb300NVL72, t: 1, p: 4, v: 5, cp: 1, d: 16,
        b: 1, batch: 256, recipe: .mxfp8, fp8Params: true,
        tpOverlap: false, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 6.7368),
      ScaleRow(
        name: "Megatron-Bridge 26.04.01, LLAMA3_70B, 64 GB300, NVFP4",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 203 (## 26.04.01 NeMo Container / Pre-Training / Model: LLAMA3_70B)",
        model: .llama70b, gpu: .gb300NVL72, t: 1, p: 4, v: 5, cp: 1, d: 16,
        b: 1, batch: 256, recipe: .nvfp4, fp8Params: true,
        tpOverlap: false, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 4.4912),
      ScaleRow(
        name: "Megatron-Bridge 26.04.01, LLAMA3_70B, 64 GB200, MXFP8",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 205 (## 26.04.01 NeMo Container / Pre-Training / Model: LLAMA3_70B)",
        model: .llama70b, gpu: .gb200NVL72, t: 2, p: 4, v: 5, cp: 1, d: 8,
        b: 1, batch: 256, recipe: .mxfp8, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 8.8276),
      ScaleRow(
        name: "Megatron-Bridge 26.04.01, LLAMA3_70B, 64 GB200, NVFP4",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 206 (## 26.04.01 NeMo Container / Pre-Training / Model: LLAMA3_70B)",
        model: .llama70b, gpu: .gb200NVL72, t: 2, p: 4, v: 5, cp: 1, d: 8,
        b: 1, batch: 256, recipe: .nvfp4, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 6.7368),
      ScaleRow(
        name: "Megatron-Bridge 26.04.01, LLAMA3_70B, 64 H100-SXM-80GB, FP8",
        source:
          "NVIDIA-NeMo/Megatron-Bridge@067f987df0 docs/performance-summary-archive.md line 207 (## 26.04.01 NeMo Container / Pre-Training / Model: LLAMA3_70B)",
        model: .llama70b, gpu: .h100SXM, t: 4, p: 8, v: 5, cp: 1, d: 2,
        b: 1, batch: 256, recipe: .tensorwise, fp8Params: true,
        tpOverlap: true, graphs: .none, sharp: false, nvls: false,
        asymmetricSplit: false, fp8Attention: false,
        bucketMB: nil, seconds: 19.6923),
    ]
    return rows.map(scaleRun)
  }()
}
