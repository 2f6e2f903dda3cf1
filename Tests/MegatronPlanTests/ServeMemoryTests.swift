import Testing
@testable import MegatronPlan

/// Weights and KV-cache bytes of `ServingModel` against hand counts for Llama 3 70B (Meta's
/// config.json: 80 layers, h 8192, 64 heads, 8 KV groups, d_h 128, f 28672, V 128256, untied,
/// RMSNorm, SwiGLU, no biases), 8k context (7,168 prompt + 1,024 generated tokens), batch 32.
@Suite struct ServeMemoryTests {
  static let llama3_70B = TransformerModel(
    layers: 80, hidden: 8192, heads: 64, queryGroups: 8, headDim: 128, ffnHidden: 28672,
    sequenceLength: 8192, vocabulary: 128256, tiedEmbeddings: false, normalization: .rmsNorm,
    activation: .swiglu, linearBiases: false, positionEmbedding: .rotary(percentage: 1, base: 5e5))
  static let context8k = ServingModel.Workload(input: 7168, output: 1024, batch: 32)

  func serving(_ precision: ServingPrecision = .bf16, kv: KVCachePrecision = .bf16)
    -> ServingModel
  {
    ServingModel(
      model: Self.llama3_70B, gpu: .h100SXM,
      settings: .init(precision: precision, kvPrecision: kv))
  }

  // Hand count, per layer: QKV 8192·(64 + 2·8)·128 = 83,886,080; projection 8192² = 67,108,864;
  // fc1 8192·2·28672 = 469,762,048; fc2 28672·8192 = 234,881,024; two RMSNorms 16,384:
  // 855,654,400. × 80 = 68,452,352,000; embedding and output 2 × 128256·8192 = 2,101,346,304;
  // final norm 8,192: 70,553,706,496 parameters, × 2 bytes = 141,107,412,992.
  @Test("Llama 3 70B bf16 weights on one GPU: 141,107,412,992 bytes (hand count)")
  func weightsWhole() {
    let m = serving().memory(.init(tensor: 1, pipeline: 1), Self.context8k)
    #expect(m.weights == 141_107_412_992)
  }

  // t = 8: linear weights 855,638,016/8 = 106,954,752 per layer × 80 = 8,556,380,160; norms
  // replicated 80 × 16,384 = 1,310,720; embedding and output 131,334,144 each (V·h/8); final
  // norm 8,192: 8,820,367,360 parameters, × 2 = 17,640,734,720 bytes.
  @Test("Llama 3 70B bf16 weights per GPU at t = 8: 17,640,734,720 bytes (hand count)")
  func weightsTensor8() {
    let m = serving().memory(.init(tensor: 8, pipeline: 1), Self.context8k)
    #expect(m.weights == 17_640_734_720)
  }

  // INT4, t = 1: linear weights 855,638,016 × ½ = 427,819,008 bytes per layer; fp16 scales per
  // group of 128 inputs: QKV 64·10240·2 = 1,310,720, projection 64·8192·2 = 1,048,576, fc1
  // 64·57344·2 = 7,340,032, fc2 224·8192·2 = 3,670,016 (13,369,344); norms 16,384·2 = 32,768:
  // 441,221,120 per layer, × 80 = 35,297,689,600; 16-bit embedding and output 4,202,692,608;
  // final norm 16,384: 39,500,398,592 bytes.
  @Test("Llama 3 70B int4 (group 128) weights on one GPU: 39,500,398,592 bytes (hand count)")
  func weightsInt4() {
    let m = serving(.int4).memory(.init(tensor: 1, pipeline: 1), Self.context8k)
    #expect(m.weights == 39_500_398_592)
  }

  // KV: 2 · 80 layers · 8 KV heads · 128 · 8,192 tokens · 32 sequences · 2 bytes =
  // 85,899,345,920 bytes (80 GiB); fp8 halves it: 42,949,672,960 (40 GiB).
  @Test(
    "Llama 3 70B KV cache, 8k context, batch 32: 80 GiB bf16, 40 GiB fp8 (hand count)",
    arguments: [(KVCachePrecision.bf16, 85_899_345_920.0), (.fp8, 42_949_672_960.0)])
  func kvCache(_ kv: KVCachePrecision, _ expected: Double) {
    let m = serving(kv: kv).memory(.init(tensor: 1, pipeline: 1), Self.context8k)
    #expect(m.kvCache == expected)
  }

  // t = 8 holds one of the 8 KV heads: 85,899,345,920 / 8 = 10,737,418,240; t = 16 cannot
  // split 8 heads further, so each GPU keeps one replicated head: the same bytes per GPU.
  @Test("KV cache per GPU at t = 8 and t = 16 (t > g replicates a KV head): 10 GiB each")
  func kvCacheSharded() {
    let s = serving()
    for t in [8, 16] {
      let m = s.memory(.init(tensor: t, pipeline: 1), Self.context8k)
      #expect(m.kvCache == 10_737_418_240, "t \(t)")
    }
    #expect(!s.kvHeadsReplicated(tensor: 8))
    #expect(s.kvHeadsReplicated(tensor: 16))
  }

  // Pipeline p = 2: 40 layers per stage; the first stage holds the embedding, the last the
  // output layer and final norm, so the last (40 × 855,654,400 + 1,050,673,152 + 8,192 =
  // 35,276,857,344 params) is the larger by 8,192: × 2 = 70,553,714,688 bytes; KV halves.
  @Test("p = 2: the last stage's weights and half the KV cache (hand count)")
  func pipelineStage() {
    let m = serving().memory(.init(tensor: 1, pipeline: 2), Self.context8k)
    #expect(m.weights == 70_553_714_688)
    #expect(m.kvCache == 42_949_672_960)
  }

  // Paged blocks of 16 tokens: 100 + 20 = 120 tokens occupy 8 blocks = 128 tokens.
  @Test("KV cache is paged in blocks of 16 tokens: 120 tokens hold 128")
  func paging() {
    #expect(serving().cachedTokens(.init(input: 100, output: 20, batch: 1)) == 128)
    #expect(serving().cachedTokens(.init(input: 100, output: 28, batch: 1)) == 128)
  }

  // Roofline ridge on H100 SXM, bf16: 989 TFLOP/s × 0.75 (Hopper GEMM efficiency) × 2 bytes /
  // (2 × 3,350 GB/s × 0.90) = 741.75 / 3.015 = 246.0; int4 reads a quarter: 61.5.
  @Test("decode roofline crossover batch on H100: 246 for bf16, 61.5 for int4 (hand)")
  func crossover() {
    #expect(abs(serving().rooflineCrossoverBatch - 741.75 / 3.015) < 1e-9)
    #expect(abs(serving(.int4).rooflineCrossoverBatch - 741.75 / 3.015 / 4) < 1e-9)
  }

  // Batch 1 decode reads every GEMM's weights once per step: 80 layers × (83,886,080 +
  // 67,108,864 + 469,762,048 + 234,881,024) + the output layer's 1,050,673,152 =
  // 69,501,714,432 weights × 2 bytes = 139,003,428,864 bytes at 3,350 GB/s × 0.9: 46.104 ms,
  // memory-bound. On top of it (vLLM's profile): 321 skinny GEMMs × 8.3 µs = 2.664 ms; per layer
  // vLLM's six small kernels (fused add + RMSNorm twice, rotary, cache write, attention,
  // SiLU-and-multiply) and per step four more (embedding, final norm, two of sampling):
  // 484 × 2 µs = 0.968 ms; the KV cache of 192 tokens, 2 · 8 · 128 · 192 · 2 · 80 = 62,914,560
  // bytes, 0.021 ms; vLLM's 1.51 ms per step: 51.27 ms (hand), within 1 % (the small kernels'
  // own bytes and the logits' fp32 write are left out here).
  @Test("Llama 3 70B batch-1 decode on one H100: weights streamed plus vLLM's fixed costs")
  func decodeBound() {
    let w = ServingModel.Workload(input: 128, output: 128, batch: 1)
    let step = serving().decodeStep(.init(tensor: 1, pipeline: 1), w)
    #expect(step.memoryBound)
    #expect(step.total >= 139_003_428_864 / 3.015e12)
    let hand =
      139_003_428_864 / 3.015e12 + 321 * 8.3e-6 + 484 * 2e-6 + 62_914_560 / 3.015e12
      + 1.51e-3
    #expect(abs(step.total - hand) <= 0.01 * hand, "\(step.total) against \(hand)")
  }

  @Test("t that does not divide the heads, or p beyond the layers, throws")
  func invalidLayouts() {
    let s = serving()
    #expect(throws: ConfigError.self) { try s.validate(.init(tensor: 3, pipeline: 1)) }
    #expect(throws: ConfigError.self) { try s.validate(.init(tensor: 1, pipeline: 81)) }
    #expect(throws: ConfigError.self) {
      try s.evaluate(.init(tensor: 1, pipeline: 1), .init(input: 0, output: 1, batch: 1))
    }
  }
}
