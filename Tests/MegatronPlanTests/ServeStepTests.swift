import Foundation
import Testing

@testable import MegatronPlan

/// One engine step (issue 25): the small-kernel primitives against the microbenchmarks their
/// constants come from, each engine's kernels per layer counted from its source, a decode step
/// assembled by hand, prefill chunks, the formats an engine serves.
@Suite struct ServeStepTests {
  /// Llama 3 8B (Meta's config.json): 32 layers, h 4,096, 32 heads, 8 KV groups of 128,
  /// f 14,336, V 128,256, untied.
  static let llama3_8B = TransformerModel(
    layers: 32, hidden: 4096, heads: 32, queryGroups: 8, headDim: 128, ffnHidden: 14336,
    sequenceLength: 8192, vocabulary: 128_256, tiedEmbeddings: false, normalization: .rmsNorm,
    activation: .swiglu, linearBiases: false, positionEmbedding: .rotary(percentage: 1, base: 5e5))

  static func serving(_ engine: ServingEngine, gpu: GPU = .h100SXM) -> ServingModel {
    ServingModel(model: llama3_8B, gpu: gpu, settings: .init(engine: engine))
  }

  static let h100 = Machine(gpu: .h100SXM)

  // 3,015,000 bytes at 3,350 GB/s × 0.9 = 1 µs, plus the 2 µs of a small kernel.
  @Test("a small kernel: 2 µs plus its bytes at 3,015 GB/s (hand)")
  func smallKernel() {
    #expect(abs(Self.h100.smallKernel(bytes: 3_015_000).value - 3e-6) < 1e-15)
  }

  // The fixed cost comes from two H100 measurements; the formula gives each back within 10 %:
  // NVIDIA/cutlass#1139, FP8 16 × 14,336 × 4,096 (58,720,256 bytes of weights) at 2.2 TB/s;
  // NVIDIA/cutlass#1176, cuBLAS FP16 2,752 × 16 × 4,096 (22,544,384 bytes) at about 40 % of
  // 3.35 TB/s = 1.34 TB/s.
  @Test("skinny GEMMs achieve the bandwidths measured on H100 within 10 %")
  func skinnyGEMMs() {
    let fp8 = GEMMShape("fp8", m: 16, n: 14336, k: 4096, fp8: true)
    let t8 = Self.h100.servingGEMM(
      fp8, weightBytes: 58_720_256, activationBytes: 0, rate: GPU.h100SXM.peak16 * 0.75)
    #expect(abs(58_720_256 / t8.value / 2.2e12 - 1) < 0.10, "\(58_720_256 / t8.value)")
    let fp16 = GEMMShape("fp16", m: 16, n: 2752, k: 4096)
    let t16 = Self.h100.servingGEMM(
      fp16, weightBytes: 22_544_384, activationBytes: 0, rate: GPU.h100SXM.peak16 * 0.75)
    #expect(abs(22_544_384 / t16.value / 1.34e12 - 1) < 0.10, "\(22_544_384 / t16.value)")
  }

  // 100 kernels × 10 µs + 2 graphs × 5 µs = 1.01 ms; training's host term is the same formula.
  @Test("host time: 10 µs per eager kernel, 5 µs per graph launch (hand)")
  func hostTime() {
    #expect(abs(Self.h100.hostSeconds(kernels: 100, graphLaunches: 2).value - 1.01e-3) < 1e-15)
  }

  /// Small kernels per dense Llama layer, counted from each engine's layer code (docs/serve.md,
  /// "Engines"): vLLM and SGLang fused add + RMSNorm twice, rotary, cache write, attention,
  /// SiLU-and-multiply: 6; TensorRT-LLM fused residual + RMSNorm twice, the attention plugin,
  /// SwiGLU: 4; plain PyTorch RMSNorm twice, rotary 5 per Q and K, two cache copies,
  /// attention, two residual adds, SiLU and the multiply: 19.
  @Test(
    "small kernels per dense Llama layer: vLLM 6, TensorRT-LLM 4, SGLang 6, PyTorch 19",
    arguments: [(ServingEngine.vllm, 6), (.trtllm, 4), (.sglang, 6), (.pytorch, 19)])
  func kernelsPerLayer(_ engine: ServingEngine, _ expected: Int) {
    let layer = LayerDescription(Self.llama3_8B, .whole(sequences: 1))
    let count = layer.ops.map {
      engine.profile.kernels(
        for: $0.kind, model: Self.llama3_8B, q: 4096, kv: 1024, ffn: 14336, e: 2, kvBytes: 2
      ).count
    }.reduce(0, +)
    #expect(count == expected)
  }

  // Plain PyTorch with CUDA graphs, batch 1, 1024/128 (a static cache of 1,152 tokens): the
  // GEMMs stream 32 × (25,165,824 + 16,777,216 + 117,440,512 + 58,720,256) + the logits'
  // 525,336,576 = 7,504,658,432 weights × 2 bytes = 15,009,316,864 bytes, 4.9782 ms at 3,015 GB/s;
  // 129 skinny GEMMs × 8.3 µs = 1.0707 ms; 32 × 19 + 3 (embedding, final norm, argmax) = 611
  // small kernels × 2 µs = 1.222 ms; the static cache 2 · 8 · 128 · 1,152 · 2 · 32 = 150,994,944
  // bytes, 0.0501 ms: 7.321 ms; the small kernels' own bytes (under 1 MB) and the one graph
  // launch (5 µs, hidden behind the step) are left out: within 0.5 %.
  @Test("a plain-PyTorch decode step of Llama 3 8B on H100, by hand: 7.32 ms")
  func pytorchDecode() {
    let s = Self.serving(.pytorch)
    let step = s.decodeStep(
      .init(tensor: 1, pipeline: 1), .init(input: 1024, output: 128, batch: 1))
    let hand = 15_009_316_864 / 3.015e12 + 129 * 8.3e-6 + 611 * 2e-6 + 150_994_944 / 3.015e12
    #expect(step.graphed)
    #expect(abs(step.total - hand) <= 0.005 * hand, "\(step.total) against \(hand)")
    #expect(abs(step.bytesRead - (15_009_316_864 + 150_994_944)) <= 1)
  }

  // Without CUDA graphs the CPU issues 32 × 23 + 4 = 740 kernels (each layer's 4 GEMMs and 19
  // small ones; embedding, final norm, logits, argmax) at 10 µs: 7.40 ms, longer than the
  // device's 7.32 ms, so the step waits for the host.
  @Test("eager plain PyTorch is host-bound at batch 1: 740 kernels × 10 µs")
  func pytorchEager() {
    var settings = ServingModel.Settings(engine: .pytorch, cudaGraphs: false)
    settings.precision = .bf16
    let s = ServingModel(model: Self.llama3_8B, gpu: .h100SXM, settings: settings)
    let step = s.decodeStep(
      .init(tensor: 1, pipeline: 1), .init(input: 1024, output: 128, batch: 1))
    #expect(!step.graphed && step.kernels == 740)
    #expect(abs(step.total - 7.40e-3) < 1e-9)
  }

  // vLLM's token budget is 8,192: 16 prompts of 1,024 tokens prefill in two steps of 8,192.
  @Test("TTFT of a static batch is its prefill in chunks of the engine's budget")
  func chunkedPrefill() {
    let s = Self.serving(.vllm)
    let layout = ServingModel.Layout(tensor: 1, pipeline: 1)
    let ttft = s.timeToFirstToken(layout, .init(input: 1024, output: 16, batch: 16)).value
    let chunk = s.step(
      layout,
      StepWork(decodeSequences: 0, decodeContext: 0, prefillTokens: 8192, promptLength: 1024)
    ).total
    #expect(abs(ttft - 2 * chunk) <= 1e-12 * ttft)
  }

  // Plain PyTorch all-reduces with NCCL (`Machine.collective`), the engines with their own
  // one-stage kernel: 1 MiB over 2 H100s, 10 µs + 1,048,576 / (450 GB/s × 0.8) = 12.91 µs.
  @Test("tensor-parallel all-reduce: the engines' NVLink kernel, plain PyTorch NCCL's")
  func allReduces() {
    let vllm = Self.serving(.vllm), torch = Self.serving(.pytorch)
    #expect(abs(vllm.allReduce(1_048_576, n: 2).value - (10e-6 + 1_048_576 / 360e9)) < 1e-12)
    let nccl = Self.h100.collective(.allReduce, bytes: 1_048_576, n: 2, stride: 1).seconds
    #expect(torch.allReduce(1_048_576, n: 2) == nccl)
  }

  // NVFP4: half a byte per weight, an FP8 scale per 16 inputs per output and an fp32 per tensor:
  // 4,096 × 4,096 → 8,388,608 + 1,048,576 + 4 = 9,437,188 bytes.
  @Test("NVFP4 weights and scales of a 4,096² weight: 9,437,188 bytes (hand)")
  func nvfp4Bytes() {
    let p = ServingPrecision.nvfp4
    #expect(4096 * 4096 * p.weightBytes + p.scaleBytes(inputs: 4096, outputs: 4096) == 9_437_188)
  }

  @Test("formats an engine has no path for, and NVFP4 before Blackwell, are refused")
  func formats() throws {
    func settings(_ engine: ServingEngine, _ p: ServingPrecision) -> ServingModel.Settings {
      var s = ServingModel.Settings(engine: engine)
      s.precision = p
      return s
    }
    let hopper = ServingModel(
      model: Self.llama3_8B, gpu: .h100SXM, settings: settings(.vllm, .nvfp4))
    #expect(throws: ConfigError.self) { try hopper.validateSettings() }
    let blackwell = ServingModel(
      model: Self.llama3_8B, gpu: .b200, settings: settings(.trtllm, .nvfp4))
    try blackwell.validateSettings()
    let torchInt4 = ServingModel(
      model: Self.llama3_8B, gpu: .h100SXM, settings: settings(.pytorch, .int4))
    #expect(throws: ConfigError.self) { try torchInt4.validateSettings() }
    let torchFP8 = ServingModel(
      model: Self.llama3_8B, gpu: .a100_80GB, settings: settings(.pytorch, .fp8))
    #expect(throws: ConfigError.self) { try torchFP8.validateSettings() }
  }

  // On B200 NVFP4 GEMMs run at 9,000 TFLOP/s × 0.354 (`fp4GEMMEfficiency`); the ridge is
  // 3,186 TFLOP/s × 0.5 bytes / (2 × 8,000 GB/s × 0.9) = 110.6.
  @Test("NVFP4 decode on B200 computes at the FP4 rate: roofline ridge 110.6 (hand)")
  func nvfp4Ridge() {
    var settings = ServingModel.Settings(engine: .trtllm)
    settings.precision = .nvfp4
    let s = ServingModel(model: Self.llama3_8B, gpu: .b200, settings: settings)
    #expect(abs(s.rooflineCrossoverBatch - 9000e12 * 0.354 * 0.5 / (2 * 8000e9 * 0.9)) < 1e-6)
  }
}
