import Foundation
import Testing

@testable import MegatronPlan

/// Serving a mixture-of-experts model (issue 16: "for every model family megaplan knows"):
/// weights per GPU with the experts sharded as serving engines shard them, the experts a decode
/// step reads, its active-parameter FLOPs, and the KV cache as for a dense model, against hand
/// counts for Mixtral 8x7B (its config.json: 32 layers, h 4096, 32 heads, 8 KV heads of 128,
/// 8 experts of f_e 14,336, top-2, SwiGLU, RMSNorm, no biases, V 32,000, untied).
@Suite struct ServeMoETests {
  static let mixtral = TransformerModel(
    layers: 32, hidden: 4096, heads: 32, queryGroups: 8, headDim: 128, ffnHidden: 14336,
    sequenceLength: 4096, vocabulary: 32000, tiedEmbeddings: false, normalization: .rmsNorm,
    activation: .swiglu, linearBiases: false, positionEmbedding: .rotary(percentage: 1, base: 1e6),
    moe: MixtureOfExperts(experts: 8, topK: 2, expertFFN: 14336))
  static let workload = ServingModel.Workload(input: 1024, output: 256, batch: 1)

  static func serving(_ precision: ServingPrecision = .bf16) -> ServingModel {
    ServingModel(
      model: mixtral, gpu: .h100SXM, settings: .init(precision: precision, kvPrecision: .bf16))
  }

  // Per layer: QKV 4096·(32 + 2·8)·128 = 25,165,824; projection 4096² = 16,777,216; two
  // RMSNorms 8,192; router 4096·8 = 32,768; experts 8 × 3·4096·14,336 = 1,409,286,144:
  // 1,451,270,144. × 32 = 46,440,644,608; embedding and output 2 × 32,000·4096 = 262,144,000;
  // final norm 4,096: 46,702,792,704 parameters (Mixtral's published 46.7 B), × 2 bytes.
  @Test("Mixtral 8x7B bf16 on one GPU: 93,405,585,408 bytes of weights (hand count)")
  func weightsWhole() {
    let m = Self.serving().memory(.init(tensor: 1, pipeline: 1), Self.workload)
    #expect(m.weights == 93_405_585_408)
    #expect(m.expertWeights == 2 * 32 * 1_409_286_144)
  }

  // t = 2: QKV and projection halve (12,582,912 + 8,388,608), norms and router replicated
  // (8,192 + 32,768), experts halve (704,643,072) whether each expert is split in two (EP 1,
  // ETP 2) or each GPU holds 4 whole experts (EP 2): 725,655,552 per layer × 32 =
  // 23,220,977,664; embedding and output 32,000·4096/2 each = 131,072,000; final norm 4,096:
  // 23,352,053,760 parameters × 2 = 46,704,107,520 bytes.
  @Test("t = 2: 46,704,107,520 bytes per GPU with the experts tensor- or expert-parallel")
  func weightsTensor2() {
    let s = Self.serving()
    for ep in [1, 2] {
      let m = s.memory(.init(tensor: 2, pipeline: 1, expertParallel: ep), Self.workload)
      #expect(m.weights == 46_704_107_520, "EP \(ep)")
      #expect(m.expertWeights == 2 * 32 * 704_643_072, "EP \(ep)")
    }
  }

  // INT4 (group 128) on one GPU. One expert: fc1 4096 → 28,672 at ½ byte 58,720,256 + scales
  // 32 groups · 28,672 · 2 = 1,835,008; fc2 14,336 → 4096: 29,360,128 + 112 · 4096 · 2 =
  // 917,504: 90,832,896; × 8 = 726,663,168. QKV 12,582,912 + 32 · 6144 · 2 = 393,216;
  // projection 8,388,608 + 262,144; router 16-bit 65,536; norms 16,384: 748,371,968 per layer,
  // × 32 = 23,947,902,976; 16-bit embedding and output 524,288,000; final norm 8,192:
  // 24,472,199,168 bytes.
  @Test("Mixtral 8x7B int4 weights on one GPU: 24,472,199,168 bytes (experts quantised)")
  func weightsInt4() {
    let m = Self.serving(.int4).memory(.init(tensor: 1, pipeline: 1), Self.workload)
    #expect(m.weights == 24_472_199_168)
  }

  // KV as for the dense model: 2 · 32 layers · (8/2) KV heads · 128 · 1,280 tokens · 32
  // sequences · 2 bytes = 2,684,354,560 at t = 2.
  @Test("the KV cache of an MoE model is the dense attention's: 2,684,354,560 bytes at t 2, b 32")
  func kvCache() {
    let w = ServingModel.Workload(input: 1024, output: 256, batch: 32)
    #expect(Self.serving().memory(.init(tensor: 2, pipeline: 1), w).kvCache == 2_684_354_560)
  }

  @Test(
    "experts a step reads: E·(1 − (1 − k/E)^b) with EP 1; the busiest rank's with EP > 1",
    arguments: [
      // EP 1: 8·(1 − 0.75^b).
      (1.0, 1, 2.0), (8.0, 1, 8 * (1 - pow(0.75, 8.0))), (1e6, 1, 8.0),
      // EP 8 (one expert per GPU), one token: some GPU always reads its expert.
      (1.0, 8, 1.0),
      // EP 2, one token: n = 4 per GPU, P = ¼; Binomial(4, ¼) CDF 0.31640625, 0.73828125,
      // 0.94921875, 0.99609375; Σ (1 − F²) = 1.46160888671875 (exact, correlated: 1.43).
      (1.0, 2, 1.46160888671875),
    ])
  func expertsRead(_ c: (Double, Int, Double)) {
    let got = Self.serving().expertsRead(tokens: c.0, expertParallel: c.1)
    #expect(abs(got - c.2) <= 1e-9 * c.2, "\(got)")
  }

  // Decode at batch 1, t = 2, EP 1 on H100. Bytes per layer: the GEMMs' shared weights
  // (12,582,912 + 8,388,608 + 32,768) · 2 = 42,008,576 (the norms' 8,192 are read by their own
  // kernels); two touched experts' halves 2 · 88,080,384 · 2 = 352,321,536; KV at the mean
  // context 1024 + 128 = 1,152: 2 · 4 · 128 · 1,152 · 2 = 2,359,296: 396,689,408 × 32 =
  // 12,694,061,056, and the logits GEMM's 32,000 · 4,096 / 2 · 2 = 131,072,000: 12,825,133,056
  // bytes read from HBM. FLOPs per layer: 2 · (12,582,912 + 8,388,608 + 32,768) = 42,008,576
  // shared, and 2 token copies through one expert slice 2 · 2 · 88,080,384 = 352,321,536: the
  // active parameters only; attention 4 · 16 heads · 128 · 1,152 = 9,437,184.
  @Test("an MoE decode step reads the shared weights and the touched experts only (hand count)")
  func decodeStep() {
    let s = Self.serving()
    let d = s.decodeStep(.init(tensor: 2, pipeline: 1), Self.workload)
    let c = PerformanceConstants.forGeneration(.hopper)
    let bandwidth = GPU.h100SXM.hbm.value * c.hbmEfficiency
    #expect(abs(d.memorySeconds * bandwidth - 12_825_133_056) <= 1e-6 * 12_825_133_056)
    let peak = GPU.h100SXM.peak16.value
    let compute =
      32
      * ((42_008_576 + 352_321_536) / (peak * c.gemmEfficiency)
        + 9_437_184 / (peak * c.attentionGEMMEfficiency))
    #expect(abs(d.computeSeconds - compute) <= 1e-9 * compute)
    #expect(d.memoryBound && d.expertsRead == 2)
    // Against a dense model of the same total size it reads about a quarter of the experts:
    // batch 1 is faster than batch 64, which touches all 8.
    let wide = s.decodeStep(
      .init(tensor: 2, pipeline: 1), .init(input: 1024, output: 256, batch: 64))
    #expect(wide.expertsRead > 7.99 && wide.memorySeconds > d.memorySeconds)
  }

  @Test("the smallest replica that fits Mixtral 8x7B in bf16 on H100 80GB is 2 GPUs")
  func smallestReplica() throws {
    // 93.4 GB of weights exceed one GPU's 0.9 × 79.65 GiB = 76.97 GB usable; two hold 46.7 GB
    // each plus cache and runtime (hand).
    let rows = try ServingPlan.plan(Self.serving(), input: 1024, output: 256, batches: [1])
    let row = try #require(rows.first)
    #expect(row.point.layout.gpus == 2 && row.point.memory.fits)
  }

  @Test("EP divides t or is a multiple of it, and divides E; a dense model takes EP 1 only")
  func validation() {
    let s = Self.serving()
    // t 4, EP 6: neither divides the other (and 6 does not divide Mixtral's 8 experts).
    #expect(throws: ConfigError.self) {
      try s.validate(.init(tensor: 4, pipeline: 1, expertParallel: 6))
    }
    #expect(throws: ConfigError.self) {
      try s.validate(.init(tensor: 4, pipeline: 1, expertParallel: 3))
    }
    // t 2, EP 4: two data-parallel attention replicas of 2 GPUs, two whole experts per GPU.
    #expect((try? s.validate(.init(tensor: 2, pipeline: 1, expertParallel: 4))) != nil)
    #expect((try? s.validate(.init(tensor: 8, pipeline: 1, expertParallel: 8))) != nil)
    let dense = ServingModel(model: ServeMemoryTests.llama3_70B, gpu: .h100SXM)
    #expect(throws: ConfigError.self) {
      try dense.validate(.init(tensor: 2, pipeline: 1, expertParallel: 2))
    }
  }
}

/// Serving's tensor-parallel all-reduce inside a node is the serving engines' one- or two-stage
/// kernel, not NCCL's ring, and its saving over the ring matches what vLLM measured when it
/// replaced NCCL with that kernel.
@Suite struct ServeAllReduceTests {
  static let llama2_70B = TransformerModel(
    layers: 80, hidden: 8192, heads: 64, queryGroups: 8, headDim: 128, ffnHidden: 28672,
    sequenceLength: 4096, vocabulary: 32000, tiedEmbeddings: false, normalization: .rmsNorm,
    activation: .swiglu, linearBiases: false, positionEmbedding: .rotary(percentage: 1, base: 1e4))

  // A decode step's message at batch 64: 64 · 8192 · 2 bytes = 1,048,576. On 4 A100s (NVLink
  // 300 GB/s per direction × 0.77 = 231 GB/s, α = 10 µs): one stage 10 µs + 3 · 1,048,576 /
  // 231e9 = 23.618 µs; two stages 20 µs + 1.5 · 1,048,576 / 231e9 = 26.809 µs: one stage.
  @Test("one-stage all-reduce of a decode step on 4 A100s: 23.62 µs (hand)")
  func oneStage() {
    let s = ServingModel(model: Self.llama2_70B, gpu: .a100_80GB)
    let got = s.allReduce(1_048_576, n: 4).value
    let expected = 10e-6 + 3 * 1_048_576 / 231e9
    #expect(abs(got - expected) <= 1e-12)
  }

  // vLLM PR #2192 (custom all-reduce kernels, 2023-12): Llama 70B on 4 × A100-80G, batch 64,
  // input 256, output 256 (benchmark_latency.py) took 16.37 s with NCCL and 14.57 s with the
  // custom kernel: 1.80 s saved over 80 layers × 2 all-reduces × 256 forward passes = 40,960
  // all-reduces, 43.9 µs each. The model's saving is the ring's time (Machine.allReduce,
  // NCCL's ring) less serving's, over the same messages: the prefill's 64 · 256 · 8192 · 2 bytes
  // once per all-reduce position and 255 decode steps' 1,048,576.
  @Test("the saving over NCCL's ring matches vLLM's measured custom all-reduce saving within 10 %")
  func matchesVLLMSaving() {
    let s = ServingModel(model: Self.llama2_70B, gpu: .a100_80GB)
    func saving(_ bytes: Double) -> Double {
      s.machine.allReduce(bytes, n: 4, stride: 1).value - s.allReduce(bytes, n: 4).value
    }
    let prefill = 64.0 * 256 * 8192 * 2
    let modeled = 160 * (saving(prefill) + 255 * saving(1_048_576))
    let measured = 16.37 - 14.57
    #expect(abs(modeled - measured) <= 0.10 * measured, "modeled \(modeled) s")
  }
}
