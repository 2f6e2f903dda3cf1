/// Published long-context runs with context parallelism, encoded with their sources.
///
/// NeMo's "Long Sequence Performance" table for Llama 2 7B on H100 (NVIDIA/NeMo `docs/source/performance/
/// performance_long_sequence.md`, commit 9421f21af3bc554cd5656caac4dff863b20e8c65): pre-training
/// in FP8 with a batch of 4M tokens (global batch × sequence length), one GPU per 1k tokens of
/// sequence, and the fastest with-CP layout NVIDIA found; published as model TFLOP/s per GPU.
/// NeMo of those containers counts attention with the full s × s scores (its Llama 2 7B row of
/// the 24.12 summary, 16,934 tokens/s/GPU at 780 TFLOP/s, is 46.1 GFLOP per token only so), so
/// the rows are predicted with `AttentionFLOPCount.full`.
///
/// The same page's LLAMA3-8B table on DGX-B200 is left out: in every row its TP × PP × DP × CP is
/// a quarter of its GPU count (8k: 1 × 1 × 2 × 1 on 8 GPUs), so its layouts cannot be taken as
/// written.
///
/// What the table leaves unsaid, as megaplan assumes it: micro-batch 1, sequence parallelism
/// with t > 1, the distributed optimizer, no recompute (the recipes' default for these sizes),
/// fused attention through Transformer Engine with the default ring (`p2p`) exchange, and the
/// overlaps NeMo's performance recipes switch on (tensor-parallel userbuffers, gradient reduce,
/// parameter gather).
extension PublishedRun {
  /// Llama 2 7B (meta-llama/Llama-2-7b-hf `config.json`: 32 layers, h 4096, 32 heads, FFN 11,008,
  /// V 32,000, RMSNorm, SwiGLU, rope θ 10,000, untied) or Llama 3 8B (8 key/value groups, FFN
  /// 14,336, V 128,256, θ 500,000) at sequence length `s`, with NeMo's dropout 0 and fused
  /// attention.
  static func llama(
    llama3: Bool, sequence s: Int, fp8: FP8Training
  ) -> TransformerModel {
    TransformerModel(
      layers: 32, hidden: 4096, heads: 32, queryGroups: llama3 ? 8 : 32,
      ffnHidden: llama3 ? 14336 : 11008, sequenceLength: s,
      vocabulary: llama3 ? 128_256 : 32_000, tiedEmbeddings: false, normalization: .rmsNorm,
      activation: .swiglu, linearBiases: false,
      positionEmbedding: .rotary(percentage: 1, base: llama3 ? 500_000 : 10_000),
      dropout: .none, fusedAttention: true, fp8: fp8)
  }

  public static let longContext: [PublishedRun] = {
    let overlap = Overlap(
      tensorParallel: true, gradientReduction: true, parameterGather: true, pipelineP2P: true)
    // (model, GPU, source, container's FP8 recipe, rows: k tokens, GPUs, batch, t, p, d, cp,
    // TFLOP/s per GPU)
    let h100 = "NeMo long-sequence table, LLAMA2-7B (FP8) on DGX-H100, NeMo 24.03.01"
    let tables: [(Bool, GPU, String, FP8Training, [(Int, Int, Int, Int, Int, Int, Int, Double)])] =
      [
        (
          false, .h100SXM, h100, FP8Training(format: .hybrid, recipe: .delayed),
          [
            (4, 4, 1024, 1, 1, 4, 1, 768), (8, 8, 512, 1, 2, 4, 1, 730),
            (16, 16, 256, 2, 1, 8, 1, 660), (32, 32, 128, 2, 1, 8, 2, 610),
            (64, 64, 64, 4, 1, 8, 2, 574), (128, 128, 32, 4, 1, 8, 4, 555),
            (256, 256, 16, 4, 1, 8, 8, 549), (512, 512, 8, 8, 1, 4, 16, 549),
            (1024, 1024, 4, 8, 1, 4, 32, 536),
          ]
        )
      ]
    var runs: [PublishedRun] = []
    for (llama3, gpu, source, fp8, rows) in tables {
      for (k, gpus, batch, t, p, d, cp, tflops) in rows {
        let layout = Layout(
          tensor: t, pipeline: p, data: d, microBatch: 1, globalBatch: batch,
          sequenceParallel: t > 1, distributedOptimizer: true, contextParallel: cp)
        var run = TrainingRun(
          model: llama(llama3: llama3, sequence: k * 1024, fp8: fp8), layout: layout, gpu: gpu,
          overlap: Overlap(
            tensorParallel: t > 1, gradientReduction: true, parameterGather: true,
            pipelineP2P: overlap.pipelineP2P))
        run.software.attentionFLOPs = .full
        run.software.attentionKernel = .flash2
        let model = llama3 ? "Llama 3 8B" : "Llama 2 7B"
        let name =
          "\(model) \(k)k, \(gpus) \(gpu == .b200 ? "B200" : "H100"), t\(t)\(p > 1 ? " p\(p)" : "") cp\(cp)"
        runs.append(
          PublishedRun(
            name: name, source: source, run: run, published: .modelTFLOPsPerGPU(tflops)))
      }
    }
    return runs
  }()
}
