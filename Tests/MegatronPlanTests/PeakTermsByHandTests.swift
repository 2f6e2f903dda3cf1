import Testing

@testable import MegatronPlan

/// The peak terms `PeakMemoryTests.smallByHand` does not reach, by hand for one small GPT on an
/// H100 (issue 12): the output layer's 16-bit logits as the peak, the forward moment with the
/// fused cross entropy, Megatron-FSDP's unsharded buffers, Transformer Engine's userbuffers, NCCL
/// with and without NVLS, and the allocator slack with and without expandable segments. Every
/// expected value is the formula of docs/formulas.md ("Peak memory") evaluated by hand.
@Suite struct PeakTermsByHandTests {
  // s = 128, b = 1 (T = 128 tokens), h = 256, a = 4, f = 1024, V = 32,768, t = 2 with SP,
  // p = 1, d = 2 (4 GPUs), fused attention, bf16 (e = 2), on H100 SXM (Hopper).
  static let s = 128, b = 1, h = 256, a = 4, f = 1024, V = 32_768, t = 2
  static let T = s * b
  static let mib = 1_048_576.0

  static func run(
    fsdp: Bool = false, tpOverlap: Bool = false, settings: Software = .init(),
    tied: Bool = true
  ) -> TrainingRun {
    let model = TransformerModel(
      layers: 2, hidden: h, heads: a, ffnHidden: f, sequenceLength: s, vocabulary: V,
      tiedEmbeddings: tied, fusedAttention: true)
    let layout = Layout(
      tensor: t, pipeline: 1, data: 2, microBatch: b, globalBatch: 4, sequenceParallel: true,
      distributedOptimizer: true, fullySharded: fsdp)
    var run = TrainingRun(model: model, layout: layout, gpu: .h100SXM)
    run.software = settings
    run.overlap.tensorParallel = tpOverlap
    return run
  }

  @Test("the 16-bit logits are the last stage's peak; NCCL with NVLS; 10 % slack")
  func outputLayerPeak() throws {
    let e = Estimate(Self.run())
    let stage = try #require(e.memory.stages.first)
    // Output layer: e·T·V/t = 2 · 128 · 32,768 / 2 = 4,194,304 bytes. Backward: 475,136
    // (`tiedEmbeddingsHoldTheOutputGradient`); forward: the all-gathered input e·T·h = 65,536.
    // The logits win.
    #expect(stage.peakMoment == "output layer")
    #expect(stage.peak[named: "logits_16bit"].value == 4_194_304)
    // Two cuBLAS workspaces of 32 MiB (Hopper); no pipeline buffers (p = 1), no scores (fused).
    #expect(stage.peak[named: "cublas_workspace"].value == 64 * Self.mib)
    #expect(stage.peak[named: "pipeline_and_scores_buffers"].value == 0)
    let transients = 4_194_304 + 64 * Self.mib
    #expect(stage.peakAllocatedBytes == stage.totalBytes + transients)
    // NCCL: the tensor-parallel and the data-parallel communicator, 512 MiB each with NVLS.
    #expect(stage.peak[named: "nccl"].value == 2 * 512 * Self.mib)
    #expect(stage.peak[named: "cuda_context"].value == 512 * Self.mib)
    // Slack: 10 % of activations + transients.
    let slack = 0.10 * (stage.activationsBytes + transients)
    #expect(abs(stage.peak[named: "allocator_slack"].value - slack) <= 1e-9 * slack)
    #expect(
      abs(stage.peakBytes - (stage.peakAllocatedBytes + slack + 1536 * Self.mib))
        <= 1e-9 * stage.peakBytes)
  }

  /// The backward moment walked op by op (docs/formulas.md, "Peak memory"), T = 128, e = 2,
  /// r = t = 2, nothing recomputed, hidden dropout 0.1. The layer's saved tensors and each op's
  /// gradients, in forward order (bytes):
  ///   input norm 32,768 saved, 65,536 gradients (2·e·T·h/r); QKV 32,768, e·(T·3h/t + 2·T·h)
  ///   (the input gathered again with SP) + e·h·3h/t = 425,984; fused core 65,536 + 32,768 +
  ///   4·a·T/t = 99,328, e·T·4h/t = 131,072; projection 32,768, 163,840; attention residual mask
  ///   T·h/r = 16,384, 32,768; pre-MLP norm 32,768, 65,536; fc1 32,768, e·(T·f/t + 2·T·h) +
  ///   e·h·f/t = 524,288; GeLU 131,072, e·T·2f/t = 262,144; fc2 131,072, e·(T·h + T·f/t) +
  ///   e·f·h/t = 458,752; MLP residual mask 16,384, 32,768.
  /// Backward at op k holds op k's gradients less the saved tensors of the ops after k (already
  /// freed): fc2 458,752 − 16,384 = 442,368 is the most (GeLU 262,144 − 147,456, fc1 524,288 −
  /// 278,528). With the incoming gradient e·T·h/r = 32,768, the fp32 logits freed (−4·T·V/t =
  /// −8,388,608) and, tied on one stage, the output layer's weight gradient e·V·h/t = 8,388,608
  /// held: 475,136.
  @Test("tied embeddings on one stage hold the output layer's weight gradient through backward")
  func tiedEmbeddingsHoldTheOutputGradient() throws {
    let e = Estimate(Self.run(settings: .init(crossEntropyFusion: true)))
    let stage = try #require(e.memory.stages.first)
    #expect(stage.peakMoment == "backward")
    #expect(stage.peak[named: "backward_gradients"].value == 475_136)
  }

  @Test("with the fused cross entropy the forward's all-gathered input is the peak")
  func fusedCrossEntropy() throws {
    let e = Estimate(Self.run(settings: .init(crossEntropyFusion: true), tied: false))
    let stage = try #require(e.memory.stages.first)
    // No 16-bit logits; untied, backward is 32,768 + 442,368 − 8,388,608 < 0 (above); forward:
    // e·T·h = 2 · 128 · 256 = 65,536.
    #expect(stage.peakMoment == "forward")
    #expect(stage.peak[named: "forward_temporaries"].value == 65_536)
    #expect(stage.peak[named: "logits_16bit"].value == 0)
  }

  @Test("NVLS off and expandable segments: 128 MiB per communicator, 2 % slack")
  func ncclAndAllocatorSettings() throws {
    let e = Estimate(Self.run(settings: .init(expandableSegments: true, ncclNVLS: false)))
    let stage = try #require(e.memory.stages.first)
    #expect(stage.peak[named: "nccl"].value == 2 * 128 * Self.mib)
    let transients = 4_194_304 + 64 * Self.mib
    let slack = 0.02 * (stage.activationsBytes + transients)
    #expect(abs(stage.peak[named: "allocator_slack"].value - slack) <= 1e-9 * slack)
  }

  @Test("Megatron-FSDP's unsharded buffers and TE's userbuffers, by hand")
  func fsdpAndUserbuffers() throws {
    let e = Estimate(Self.run(fsdp: true, tpOverlap: true))
    let stage = try #require(e.memory.stages.first)
    // One layer on one tensor-parallel rank (biases on, LayerNorm): column-parallel QKV
    // 3h² + 3h and fc1 hf + f, row-parallel weights h² and fh, all over t; replicated the two
    // row-parallel biases and two LayerNorms (weight and bias): 2h + 4h.
    let hh = Double(Self.h * Self.h), hf = Double(Self.h * Self.f)
    let sharded = 3 * hh + 3 * Double(Self.h) + hh + hf + Double(Self.f) + hf
    let layer = sharded / Double(Self.t) + 6 * Double(Self.h)
    // Two gathered layers and one layer's unsharded gradients, 2 bytes each: 3 · 2 bytes.
    #expect(stage.peak[named: "fsdp_unsharded_buffers"].value == layer * 6)
    // Userbuffers: the all-gathered input and the reduce-scatter staging, e·T·h each.
    #expect(stage.peak[named: "tp_overlap_buffers"].value == Double(2 * 2 * Self.T * Self.h))
  }
}
