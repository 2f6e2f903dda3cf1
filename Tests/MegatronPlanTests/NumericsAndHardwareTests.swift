import Testing

@testable import MegatronPlan

/// FP8, fully sharded data parallelism, the overlap switches and the hardware profiles, each
/// against a hand derivation (docs/formulas.md) in integer arithmetic.
@Suite struct NumericsAndHardwareTests {
  static let s = 128, b = 2, h = 256, a = 8, g = 2, f = 688, t = 2
  static let qw = 256, kvw = 64

  static func llama(fp8: FP8Training?) -> TransformerModel {
    TransformerModel(
      layers: 4, hidden: h, heads: a, queryGroups: g, ffnHidden: f, sequenceLength: s,
      vocabulary: 1024, tiedEmbeddings: false, normalization: .rmsNorm, activation: .swiglu,
      linearBiases: false, positionEmbedding: .rotary(percentage: 1, base: 10_000), dropout: .none,
      fusedAttention: true, fp8: fp8)
  }

  static let layout = Layout(tensor: t, microBatch: b, globalBatch: b)

  @Test("FP8 linear layers keep their inputs in FP8; flash keeps its 16-bit output beside")
  func fp8Saved() {
    let sb = Self.sb
    let bf16 = LayerDescription(Self.llama(fp8: nil), .init(Self.layout, precision: .bf16)).saved
    let fp8 = LayerDescription(
      Self.llama(fp8: FP8Training(recipe: .tensorwise)), .init(Self.layout, precision: .bf16)
    ).saved
    // Per-tensor scaling: 1 byte per element instead of 2 for the four linear inputs.
    #expect(fp8[named: "qkv_input"].value == Double(sb * Self.h))
    #expect(fp8[named: "fc1_input"].value == Double(sb * Self.h))
    #expect(fp8[named: "fc2_input"].value == Double(sb * Self.f / Self.t))
    #expect(fp8[named: "projection_input"].value == Double(sb * Self.qw / Self.t))
    #expect(fp8[named: "attention_output"].value == Double(2 * sb * Self.qw / Self.t))
    // Everything else is unchanged.
    #expect(fp8[named: "layernorm_inputs"] == bf16[named: "layernorm_inputs"])
    #expect(fp8[named: "activation_input"] == bf16[named: "activation_input"])
    // MXFP8: row- and column-wise copies with one E8M0 scale per 32 elements: 2·(1 + 1/32).
    let mx = LayerDescription(
      Self.llama(fp8: FP8Training(recipe: .mxfp8)), .init(Self.layout, precision: .bf16)
    ).saved
    #expect(mx[named: "qkv_input"].value == Double(sb * Self.h) * 2 * (1 + 1.0 / 32))
  }
  static var sb: Int { s * b }

  @Test("FP8 weight copies; FP8 primary weights; full sharding divides all states by d")
  func states() {
    let layout = Layout(data: 4, microBatch: 1, globalBatch: 4, distributedOptimizer: true)
    let n = Parameters(1_000_000), linear = Parameters(800_000)
    let cached = StateMemory.states(
      parameters: n, precision: .bf16, layout: layout, linearParameters: linear,
      fp8: FP8Training(recipe: .delayed))
    // 2 bytes per linear weight: the FP8 weight and its transpose.
    #expect(cached[named: "fp8_weight_cache"].value == 1_600_000)
    #expect(cached[named: "weights"].value == 2_000_000)
    let primary = StateMemory.states(
      parameters: n, precision: .bf16, layout: layout, linearParameters: linear,
      fp8: FP8Training(recipe: .delayed, primaryWeights: true))
    // Linear weights in 1 byte, the rest in 2; only the transpose is extra.
    #expect(primary[named: "weights"].value == 800_000 + 2 * 200_000)
    #expect(primary[named: "fp8_weight_cache"].value == 800_000)
    var fsdp = layout
    fsdp.fullySharded = true
    let sharded = StateMemory.states(parameters: n, precision: .bf16, layout: fsdp)
    #expect(sharded[named: "weights"].value == 2_000_000 / 4)
    #expect(sharded[named: "gradients"].value == 4_000_000 / 4)
    #expect(sharded[named: "optimizer"].value == 12_000_000 / 4)
  }

  @Test("tp_comm_overlap hides all but 1 − forwardTPOverlap of the forward collectives")
  func tensorParallelOverlap() {
    let m = Self.llama(fp8: nil)
    let layout = Layout(
      tensor: 4, microBatch: 1, globalBatch: 1, sequenceParallel: true)
    let plain = StepTimeModel(model: m, layout: layout, precision: .bf16, gpu: .h100SXM)
    let overlapped = StepTimeModel(
      model: m, layout: layout, precision: .bf16, gpu: .h100SXM,
      overlap: Overlap(tensorParallel: true))
    let exposed = plain.layerForward().tensorParallelComm.value
    let hidden = overlapped.layerForward().tensorParallelComm.value
    let fraction = 1 - PerformanceConstants.standard.forwardTPOverlap
    #expect(abs(hidden - exposed * fraction) <= 1e-15)
    // Backward is unchanged by the switch (its overlap is always on).
    #expect(
      plain.layerBackward().tensorParallelComm
        == overlapped.layerBackward().tensorParallelComm)
  }

  @Test("placement follows the NVLink domain: t = 16 is NVLink on NVL72, network on DGX H100")
  func placement() {
    let m = Self.llama(fp8: nil)
    let layout = Layout(tensor: 16, microBatch: 1, globalBatch: 1)
    // Both use the Hopper/Blackwell constants by default (`PerformanceConstants.forGeneration`).
    let nvl72 = StepTimeModel(model: m, layout: layout, precision: .bf16, gpu: .gb200NVL72)
    let dgx = StepTimeModel(model: m, layout: layout, precision: .bf16, gpu: .h100SXM)
    // NVLink 5: 900 GB/s × 0.80; DGX H100 across 2 nodes: 8 rails × 50 GB/s × 0.5, capped at
    // NVLink's 450 × 0.8 = 360 GB/s.
    #expect(nvl72.machine.link(size: 16, stride: 1).0.value == 900e9 * 0.80)
    #expect(dgx.machine.link(size: 16, stride: 1).0.value == min(8 * 50e9 * 0.5, 450e9 * 0.80))
    #expect(GPU.gb200NVL72.nvlinkGroup(devicesPerNode: 4) == 72)
    #expect(GPU.h100SXM.nvlinkGroup(devicesPerNode: 4) == 4)
  }

  @Test("megaplan.hardware defines or adjusts a profile; fp8 needs FP8 tensor cores")
  func hardwareSection() throws {
    let text = """
      model:
        num_layers: 4
        hidden_size: 256
        num_attention_heads: 4
        encoder_seq_length: 128
        micro_batch_size: 1
        global_batch_size: 8
      trainer:
        devices: 8
      megaplan:
        vocab_size: 1024
        hardware:
          base: h100-sxm
          name: My-H100
          memory_gib: 64
          peak_fp8_tflops: 1500
          nvlink_domain: 4
      """
    let run = try ConfigLoader.load(try ConfigDocument.parse(text, file: "hw.yaml")).run
    #expect(run.gpu.name == "my-h100" && run.gpu.memory.value == 64 * 1_073_741_824)
    #expect(run.gpu.peak8?.value == 1500e12 && run.gpu.peak16.value == 989e12)
    #expect(run.gpu.nvlinkDomain == 4 && run.gpu.generation == .hopper)
    let a100 = text.replacingOccurrences(of: "  hardware:\n", with: "  unused:\n")
      .replacingOccurrences(of: "  num_layers: 4", with: "  num_layers: 4\n  fp8: true")
    #expect(throws: ConfigError.self) {
      try ConfigLoader.load(try ConfigDocument.parse(a100, file: "a.yaml"))
    }
  }
}

/// The peak model against runs that did run: each published H100 run fits its GPU at its peak
/// (they trained on 80 GB H100s), and the peak is above the steady state by its named terms.
@Suite struct PeakMemoryTests {
  @Test("published H100 runs fit at their modeled peak", arguments: PublishedRun.modern.map(\.name))
  func publishedRunsFit(name: String) throws {
    let run = try #require(PublishedRun.modern.first { $0.name == name })
    let e = Estimate(run.run)
    #expect(e.memory.fits, "\(name): peak \(e.memory.peakBytes) of \(e.memory.capacityBytes)")
    #expect(e.memory.peakBytes > e.memory.peakAllocatedBytes)
    #expect(e.memory.peakAllocatedBytes > e.memory.totalBytes)
  }

  /// Full recompute (uniform, 1 layer) on the configuration of `smallByHand`: the rebuilt layer
  /// lives in the backward moment, not the steady state. Bytes per op of one layer (T = 256,
  /// e = 2, r = t = 2, S = as²b/t = 65,536 scores), saved and gradients (docs/formulas.md):
  /// input norm 65,536 / 131,072; QKV 65,536 / e·(T·3h/t + 2·T·h) + e·h·3h/t = 655,360; core
  /// 4Th/t + 2Th/t + 5S = 524,288 / e·T·4h/t + e·S = 393,216; projection 65,536 / 262,144;
  /// attention mask 32,768 / 65,536; pre-MLP norm 65,536 / 131,072; fc1 65,536 / 786,432; GeLU
  /// 262,144 / 524,288; fc2 262,144 / 655,360; MLP mask 32,768 / 65,536. At op k the rebuilt
  /// tensors of ops 1…k (less the checkpointed input, 65,536) plus op k's gradients: at fc2
  /// 1,409,024 − 65,536 + 655,360 = 1,998,848, the most (fc1 and GeLU 1,605,632, the core
  /// 983,040). With the incoming gradient 2Th/t = 65,536: 2,064,384.
  @Test("full recompute's rebuilt layer is in the backward moment, walked by hand")
  func fullRecomputeByHand() {
    let model = TransformerModel(
      layers: 4, hidden: 256, heads: 4, ffnHidden: 1024, sequenceLength: 128, vocabulary: 1024)
    let layout = Layout(
      tensor: 2, pipeline: 2, data: 1, microBatch: 2, globalBatch: 8, sequenceParallel: true,
      recompute: .full(method: .uniform, layers: 1))
    let e = Estimate(TrainingRun(model: model, layout: layout))
    let first = e.memory.stages[0]
    #expect(first.peakMoment == "backward")
    #expect(first.peak[named: "backward_gradients"].value == 2_064_384)
    // The steady state holds the checkpoints only: 2 layers × 2 microbatches in flight × 2Th/t,
    // and the embedding dropout mask Th/t per microbatch in flight.
    #expect(first.activationsBytes == Double(2 * 2 * 65_536 + 2 * 32_768))
  }

  /// Every term by hand for a small GPT on A100s: s = 128, b = 2, h = 256, a = 4, f = 1024,
  /// V = 1024, t = 2 with SP, p = 2, unfused attention with the fused softmax, bf16.
  @Test("each peak term by hand for one small configuration")
  func smallByHand() {
    let s = 128, b = 2, h = 256, a = 4, f = 1024, V = 1024, t = 2
    let model = TransformerModel(
      layers: 4, hidden: h, heads: a, ffnHidden: f, sequenceLength: s, vocabulary: V)
    let layout = Layout(
      tensor: t, pipeline: 2, data: 1, microBatch: b, globalBatch: 8, sequenceParallel: true)
    let run = TrainingRun(model: model, layout: layout)
    let e = Estimate(run)
    let T = s * b, scores = a * s * s * b / t
    // Backward moment, walked op by op (docs/formulas.md): the incoming gradient 2Th/t plus the
    // most one op's backward holds beside the saved tensors not yet freed. At fc2: its output's
    // gradient 2Th (gathered over the sequence), its input's 2Tf/t and its weight's 2fh/t, less
    // the MLP dropout mask Th/t already freed. (GeLU: 2T(2f)/t less fc2's input 2Tf/t and the
    // mask; fc1: 2Tf/t + 2·2Th + 2hf/t less those and GeLU's input 2Tf/t; the core: 2T·4h/t +
    // one score gradient 2as²b/t less every MLP tensor, the norm, the projection's input and
    // the attention mask: all smaller.)
    let fc2 = 2 * T * h + 2 * T * f / t + 2 * f * h / t - T * h / t
    let gelu = 2 * T * 2 * f / t - 2 * T * f / t - T * h / t
    let core =
      2 * T * 4 * h / t + 2 * scores
      - (T * h / t + 2 * T * f / t + 2 * T * f / t
        + 2 * T * h / t + 2 * T * h / t + T * h / t + 2 * T * h / t)
    #expect(fc2 > gelu && fc2 > core)
    let backward = 2 * T * h / t + fc2
    let forward = max(2 * T * h, 2 * scores)
    #expect(backward > forward)
    let last = e.memory.stages[1], first = e.memory.stages[0]
    // The last stage: its backward set lacks the fp32 logits 4TV/t (freed before the layers'
    // backward), so the 16-bit logits 2TV/t beside them decide whether the output layer is the
    // peak.
    let lastBackward = backward - 4 * T * V / t
    #expect(last.peakMoment == (2 * T * V / t >= lastBackward ? "output layer" : "backward"))
    #expect(first.peak[named: "backward_gradients"].value == Double(backward))
    // Two pipeline buffers of 2Th/t and the scores' global buffer 2as²b/t (Megatron-Core keeps
    // it), two cuBLAS workspaces of 8 MiB (Ampere).
    let buffers = 2 * 2 * T * h / t + 2 * scores
    #expect(first.peak[named: "pipeline_and_scores_buffers"].value == Double(buffers))
    #expect(first.peak[named: "cublas_workspace"].value == Double(2 * 8 * 1_048_576))
    let transients = Double(backward + buffers + 2 * 8 * 1_048_576)
    #expect(first.peakAllocatedBytes == first.totalBytes + transients)
    // Allocator slack: 10 % of what comes and goes (activations + transients); CUDA context
    // 512 MiB; NCCL: the tensor-parallel group and the two pipeline neighbours, 128 MiB each
    // without NVLS (Ampere).
    #expect(
      first.peak[named: "allocator_slack"].value
        == 0.10 * (first.activationsBytes + transients))
    #expect(first.peak[named: "cuda_context"].value == 512 * 1_048_576)
    #expect(first.peak[named: "nccl"].value == 3 * 128 * 1_048_576)
    #expect(
      abs(
        first.peakBytes
          - (first.peakAllocatedBytes + first.peak[named: "allocator_slack"].value
            + (512 + 3 * 128) * 1_048_576)) <= 1e-6 * first.peakBytes)
  }
}

/// Full sharding as a search dimension: with `--fully-sharded on` every candidate shards its
/// states over d, and the emitted file loads back to the same row.
@Suite struct FullyShardedSearchTests {
  static let yaml = """
    trainer:
      num_nodes: 1
      devices: 8
    model:
      num_layers: 8
      hidden_size: 1024
      num_attention_heads: 16
      encoder_seq_length: 1024
      micro_batch_size: 1
      global_batch_size: 64
      tensor_model_parallel_size: 1
      pipeline_model_parallel_size: 1
    megaplan:
      vocab_size: 32768
      gpu: h100-sxm
    """

  @Test("search over full sharding; the emitted file reproduces the row")
  func fullySharded() throws {
    let base = try ConfigLoader.load(try ConfigDocument.parse(Self.yaml, file: "f.yaml")).run
    var options = LayoutSearch.Options(top: 3)
    options.constraints.fullySharded = .on
    let result = try LayoutSearch.search(base, options: options)
    let best = try #require(result.best)
    #expect(result.candidates.allSatisfy { $0.layout.fullySharded || $0.layout.data == 1 })
    let emitted = LayoutSearch.emitConfig(Self.yaml, winner: best.run, base: base)
    if best.layout.data > 1 {
      #expect(emitted.contains("data_parallel_sharding_strategy: optim_grads_params"))
    }
    let e = Estimate(try ConfigLoader.load(try ConfigDocument.parse(emitted, file: "f.yaml")).run)
    #expect(e.memory.peakBytes == best.estimate.memory.peakBytes)
    #expect(e.time.iterationSeconds == best.estimate.time.iterationSeconds)
    // By default the search follows the file: no full sharding here.
    let plain = try LayoutSearch.search(base, options: .init(top: 3))
    #expect(plain.candidates.allSatisfy { !$0.layout.fullySharded })
  }
}
