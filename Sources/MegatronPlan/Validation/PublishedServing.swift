/// Published serving measurements megaplan's serving model is checked against: the public rows
/// of `shared/reference/inference-public.json` (TensorRT-LLM's performance tables, NVIDIA NIM's
/// latency by concurrency, vLLM's CI latency rows), each with its source, engine and version.
/// Which rows set a constant (and are therefore not counted in the means) is said per row.
public struct PublishedServingRun: Sendable, Hashable {
  /// What was measured.
  public enum Measure: String, Sendable, Hashable {
    /// Time to first token of one request (batch or concurrency 1): the prefill.
    case ttft
    /// Mean time per output token (inter-token latency) while decoding.
    case tpot
    /// A static batch's end-to-end time over its output tokens (TensorRT-LLM's throughput
    /// tables: batch / output tokens per second; vLLM's latency benchmark: end to end / output):
    /// the prefill spread over the decode steps.
    case stepWithPrefill = "step_with_prefill"
    /// Time to first token under concurrent load (queueing and other requests' steps included).
    case ttftUnderLoad = "ttft_under_load"
    /// A static batch's end-to-end latency: TTFT + (output − 1) × TPOT.
    case endToEnd = "end_to_end"
  }

  /// How a row is used.
  public enum Role: Sendable, Hashable {
    /// Compared, counted in the means.
    case validation
    /// Sets a constant; shown, not counted.
    case calibration(String)
  }

  public enum Scenario: Sendable, Hashable {
    /// `batch` requests prefilled together and decoded together.
    case staticBatch(Int)
    /// `clients` each with one request in flight (a closed loop).
    case concurrency(Int)
  }

  public var name: String
  /// Row number in `inference-public.json` (0-based) and the source it cites.
  public var row: Int
  public var source: String
  public var model: TransformerModel
  public var gpu: GPU
  public var tensor: Int
  public var pipeline: Int = 1
  public var settings: ServingModel.Settings
  /// The engine as the report names it (the profile's name unless the row ran another).
  public var engineLabel: String? = nil
  public var input: Int
  public var output: Int
  public var scenario: Scenario
  public var measure: Measure
  /// The published value, seconds.
  public var published: Double
  public var role: Role = .validation

  /// The prediction, seconds (nil when the layout cannot run the workload).
  public func predict() -> Double? {
    let serving = ServingModel(model: model, gpu: gpu, settings: settings)
    let layout = ServingModel.Layout(tensor: tensor, pipeline: pipeline)
    switch scenario {
    case .staticBatch(let batch):
      let w = ServingModel.Workload(input: input, output: output, batch: batch)
      let ttft = serving.timeToFirstToken(layout, w).value
      switch measure {
      case .ttft, .ttftUnderLoad: return ttft
      case .tpot: return serving.decodeStep(layout, w).total
      case .stepWithPrefill:
        let decode = serving.decodeStep(layout, w).total
        return (ttft + Double(output - 1) * decode) / Double(output)
      case .endToEnd:
        return ttft + Double(output - 1) * serving.decodeStep(layout, w).total
      }
    case .concurrency(let clients):
      guard
        let p = serving.load(
          layout, RequestMix(input: input, output: output), concurrency: clients)
      else { return nil }
      switch measure {
      case .ttft, .ttftUnderLoad: return p.ttft
      case .tpot: return p.tpot
      case .stepWithPrefill: return p.endToEnd / Double(output)
      case .endToEnd: return p.endToEnd
      }
    }
  }
}

extension PublishedServingRun {
  // MARK: - Models (each its config.json)

  /// GPT-J 6B (EleutherAI/gpt-j-6b config.json): 28 layers, h 4,096, 16 heads of 256, rotary
  /// on 64 of each head's 256 dimensions, f 16,384, GeLU, LayerNorm, V 50,400, untied; its
  /// attention and MLP run in parallel off one norm, which changes neither their GEMMs nor
  /// their bytes here.
  static let gptJ6B = TransformerModel(
    layers: 28, hidden: 4096, heads: 16, ffnHidden: 16384, sequenceLength: 2048,
    vocabulary: 50400, tiedEmbeddings: false, normalization: .layerNorm, activation: .gelu,
    linearBiases: true, qkvBias: false, positionEmbedding: .rotary(percentage: 0.25, base: 1e4),
    fusedAttention: true)
  /// Llama 2 7B (meta-llama/Llama-2-7b-hf): 32 layers, h 4,096, 32 heads (no GQA), f 11,008,
  /// V 32,000, untied, context 4,096.
  static let llama2_7B = llama(
    layers: 32, hidden: 4096, heads: 32, groups: 32, ffn: 11008, vocabulary: 32000,
    context: 4096, base: 1e4)
  /// Llama 2 70B: 80 layers, h 8,192, 64 heads, 8 KV groups, f 28,672, V 32,000.
  static let llama2_70B = llama(
    layers: 80, hidden: 8192, heads: 64, groups: 8, ffn: 28672, vocabulary: 32000,
    context: 4096, base: 1e4)
  /// Llama 3.1 8B: 32 layers, h 4,096, 32 heads, 8 KV groups, f 14,336, V 128,256.
  static let llama31_8B = llama(
    layers: 32, hidden: 4096, heads: 32, groups: 8, ffn: 14336, vocabulary: 128_256,
    context: 131_072, base: 5e5)
  /// Llama 3 / 3.3 70B: 80 layers, h 8,192, 64 heads, 8 KV groups, f 28,672, V 128,256.
  static let llama3_70B = llama(
    layers: 80, hidden: 8192, heads: 64, groups: 8, ffn: 28672, vocabulary: 128_256,
    context: 131_072, base: 5e5)
  /// Falcon 180B (tiiuae/falcon-180B config.json): 80 layers, h 14,848, 232 heads of 64, 8 KV
  /// groups, f 4h, GeLU, LayerNorm, no biases, V 65,024, tied, rotary; parallel attention and
  /// MLP as GPT-J.
  static let falcon180B = TransformerModel(
    layers: 80, hidden: 14848, heads: 232, queryGroups: 8, headDim: 64, ffnHidden: 59392,
    sequenceLength: 2048, vocabulary: 65024, tiedEmbeddings: true, normalization: .layerNorm,
    activation: .gelu, linearBiases: false, positionEmbedding: .rotary(percentage: 1, base: 1e4),
    fusedAttention: true)
  /// Mixtral 8x7B: 32 layers, h 4,096, 32 heads, 8 KV groups, 8 experts of 14,336, top-2.
  static let mixtral8x7B = TransformerModel(
    layers: 32, hidden: 4096, heads: 32, queryGroups: 8, headDim: 128, ffnHidden: 14336,
    sequenceLength: 4096, maxPositionEmbeddings: 32768, vocabulary: 32000,
    tiedEmbeddings: false, normalization: .rmsNorm, activation: .swiglu, linearBiases: false,
    positionEmbedding: .rotary(percentage: 1, base: 1e6), fusedAttention: true,
    moe: MixtureOfExperts(experts: 8, topK: 2, expertFFN: 14336))

  static func llama(
    layers: Int, hidden: Int, heads: Int, groups: Int, ffn: Int, vocabulary: Int, context: Int,
    base: Double
  ) -> TransformerModel {
    TransformerModel(
      layers: layers, hidden: hidden, heads: heads, queryGroups: groups, headDim: hidden / heads,
      ffnHidden: ffn, sequenceLength: context, vocabulary: vocabulary, tiedEmbeddings: false,
      normalization: .rmsNorm, activation: .swiglu, linearBiases: false,
      positionEmbedding: .rotary(percentage: 1, base: base), fusedAttention: true)
  }

  // MARK: - Engines as the rows ran them

  /// TensorRT-LLM v0.5–v0.6.1's `gptSessionBenchmark`: static batches, the whole batch's
  /// prompts in one context pass, no CUDA graphs (the session's `--enable_cuda_graph` is off by
  /// default), generation attention before XQA (`EngineProfile.sharedKVRead`); FP8 weights and
  /// FP8 KV cache on H100, FP16 on A100.
  static func trtllmSession(_ gpu: GPU) -> ServingModel.Settings {
    let fp8 = gpu.generation != .ampere
    var s = ServingModel.Settings(
      precision: fp8 ? .fp8 : .fp16, kvPrecision: fp8 ? .fp8 : .fp16, engine: .trtllm,
      cudaGraphs: false)
    s.maxBatchedTokens = nil
    s.profile.sharedKVRead = false
    return s
  }

  /// NVIDIA NIM 1.8.0 (TensorRT-LLM backend, FP8 profile, FP8 KV cache): the engine's defaults.
  static let nimFP8 = ServingModel.Settings(precision: .fp8, kvPrecision: .fp8, engine: .trtllm)

  /// vLLM in its CI latency benchmark (`benchmark_latency.py`): bf16, its defaults.
  static let vllmDefault = ServingModel.Settings(
    precision: .bf16, kvPrecision: .bf16, engine: .vllm)

  static let trtSource = "TensorRT-LLM docs/source/performance.md (v0.5/v0.6.1)"
  static let nimSource = "NVIDIA NIM LLM benchmarking, performance page (NIM 1.8.0)"
  static let vllmSource = "vLLM CI latency tables (build 9515)"

  static func ttftRow(
    _ row: Int, _ name: String, _ model: TransformerModel, _ gpu: GPU, t: Int, input: Int,
    ms: Double
  ) -> PublishedServingRun {
    PublishedServingRun(
      name: name, row: row, source: trtSource, model: model, gpu: gpu, tensor: t,
      settings: trtllmSession(gpu), input: input, output: 1, scenario: .staticBatch(1),
      measure: .ttft, published: ms / 1e3)
  }

  /// `ms` is the row's derived batch / total output tokens per second. The v0.6.1 update labels
  /// the H100 tables' column "out tok/s/GPU" (the row's total is that × TP) and leaves the A100
  /// tables' "out tok/s"; megaplan reads the A100 column per GPU too, as the row's caveat
  /// allows (the same document, the same benchmark), so an A100 row's step is `ms` / TP.
  static func staticRow(
    _ row: Int, _ name: String, _ model: TransformerModel, _ gpu: GPU, t: Int, batch: Int,
    input: Int, output: Int, ms: Double
  ) -> PublishedServingRun {
    let perGPU = gpu.generation == .ampere ? Double(t) : 1
    return PublishedServingRun(
      name: name, row: row, source: trtSource, model: model, gpu: gpu, tensor: t,
      settings: trtllmSession(gpu), input: input, output: output, scenario: .staticBatch(batch),
      measure: .stepWithPrefill, published: ms / perGPU / 1e3)
  }

  static func nimRow(
    _ row: Int, clients: Int, input: Int, output: Int, _ measure: Measure, ms: Double
  ) -> PublishedServingRun {
    let what = measure == .tpot ? "ITL" : "TTFT"
    return PublishedServingRun(
      name: "NIM Llama 3.3 70B fp8 TP2 \(input)/\(output) c\(clients) \(what)", row: row,
      source: nimSource, model: llama3_70B, gpu: .h100SXM, tensor: 2, settings: nimFP8,
      input: input, output: output, scenario: .concurrency(clients), measure: measure,
      published: ms / 1e3)
  }

  // MARK: - The rows

  /// Prefill: TensorRT-LLM v0.5's first-token latencies (rows 0–15: batch 1, one output token)
  /// and NIM's at concurrency 1 (rows 31 and 39).
  public static let prefill: [PublishedServingRun] = [
    ttftRow(0, "TRT-LLM GPT-J 6B H100 fp8 ISL 128", gptJ6B, .h100SXM, t: 1, input: 128, ms: 7),
    ttftRow(1, "TRT-LLM GPT-J 6B H100 fp8 ISL 2048", gptJ6B, .h100SXM, t: 1, input: 2048, ms: 29),
    ttftRow(2, "TRT-LLM Llama 7B H100 fp8 ISL 128", llama2_7B, .h100SXM, t: 1, input: 128, ms: 7),
    ttftRow(
      3, "TRT-LLM Llama 7B H100 fp8 ISL 2048", llama2_7B, .h100SXM, t: 1, input: 2048, ms: 36),
    ttftRow(
      4, "TRT-LLM Llama 70B H100 fp8 TP4 ISL 128", llama2_70B, .h100SXM, t: 4, input: 128, ms: 26),
    ttftRow(
      5, "TRT-LLM Llama 70B H100 fp8 TP4 ISL 2048", llama2_70B, .h100SXM, t: 4, input: 2048,
      ms: 109),
    ttftRow(
      6, "TRT-LLM Falcon 180B H100 fp8 TP8 ISL 128", falcon180B, .h100SXM, t: 8, input: 128,
      ms: 27),
    ttftRow(
      7, "TRT-LLM Falcon 180B H100 fp8 TP8 ISL 2048", falcon180B, .h100SXM, t: 8, input: 2048,
      ms: 205),
    ttftRow(8, "TRT-LLM GPT-J 6B A100 fp16 ISL 128", gptJ6B, .a100_80GB, t: 1, input: 128, ms: 12),
    ttftRow(
      9, "TRT-LLM GPT-J 6B A100 fp16 ISL 2048", gptJ6B, .a100_80GB, t: 1, input: 2048, ms: 129),
    ttftRow(
      10, "TRT-LLM Llama 7B A100 fp16 ISL 128", llama2_7B, .a100_80GB, t: 1, input: 128, ms: 16),
    ttftRow(
      11, "TRT-LLM Llama 7B A100 fp16 ISL 2048", llama2_7B, .a100_80GB, t: 1, input: 2048,
      ms: 133),
    ttftRow(
      12, "TRT-LLM Llama 70B A100 fp16 TP4 ISL 128", llama2_70B, .a100_80GB, t: 4, input: 128,
      ms: 47),
    ttftRow(
      13, "TRT-LLM Llama 70B A100 fp16 TP4 ISL 2048", llama2_70B, .a100_80GB, t: 4, input: 2048,
      ms: 377),
    ttftRow(
      14, "TRT-LLM Falcon 180B A100 fp16 TP8 ISL 128", falcon180B, .a100_80GB, t: 8, input: 128,
      ms: 61),
    ttftRow(
      15, "TRT-LLM Falcon 180B A100 fp16 TP8 ISL 2048", falcon180B, .a100_80GB, t: 8,
      input: 2048, ms: 509),
    nimRow(31, clients: 1, input: 5000, output: 500, .ttft, ms: 406.77),
    nimRow(39, clients: 1, input: 500, output: 2000, .ttft, ms: 47.77),
  ]

  /// Decode: NIM's inter-token latency by concurrency (rows 31–34, 39; above 50 clients its
  /// requests queue for KV cache) and vLLM's CI latency rows on H200 (61–63, batch 8, 32/128:
  /// the prefill of 8 × 32 tokens is a few milliseconds of the 128 steps).
  public static let decode: [PublishedServingRun] = [
    nimRow(31, clients: 1, input: 5000, output: 500, .tpot, ms: 18.58),
    nimRow(32, clients: 5, input: 5000, output: 500, .tpot, ms: 21.83),
    nimRow(33, clients: 25, input: 5000, output: 500, .tpot, ms: 38.75),
    nimRow(34, clients: 50, input: 5000, output: 500, .tpot, ms: 59.73),
    nimRow(39, clients: 1, input: 500, output: 2000, .tpot, ms: 18.91),
    vllmCalibration,
    PublishedServingRun(
      name: "vLLM Llama 3 70B H200 TP4 b8 32/128", row: 62, source: vllmSource,
      model: llama3_70B, gpu: .h200, tensor: 4, settings: vllmDefault, input: 32, output: 128,
      scenario: .staticBatch(8), measure: .stepWithPrefill, published: 2077.53 / 128 / 1e3),
    PublishedServingRun(
      name: "vLLM Mixtral 8x7B H200 TP2 b8 32/128", row: 63, source: vllmSource,
      model: mixtral8x7B, gpu: .h200, tensor: 2, settings: vllmDefault, input: 32, output: 128,
      scenario: .staticBatch(8), measure: .stepWithPrefill, published: 1917.44 / 128 / 1e3),
  ]

  /// The row that sets vLLM's CPU time per step (`EngineProfile.vllm.stepOverheadSeconds`):
  /// Llama 3.1 8B on one H200, batch 8, 32/128, 833.421 ms end to end.
  public static let vllmCalibration = PublishedServingRun(
    name: "vLLM Llama 3.1 8B H200 TP1 b8 32/128", row: 61, source: vllmSource,
    model: llama31_8B, gpu: .h200, tensor: 1, settings: vllmDefault, input: 32, output: 128,
    scenario: .staticBatch(8), measure: .stepWithPrefill, published: 833.421 / 128 / 1e3,
    role: .calibration("vLLM step overhead"))

  /// Static-batch throughput: TensorRT-LLM v0.6.1's peak-throughput tables (rows 16–30), ms per
  /// output step with the prefill spread over the steps (batch / output tokens per second; the
  /// A100 column is read as the replica's total).
  public static let throughput: [PublishedServingRun] = [
    staticRow(
      16, "TRT-LLM Llama 7B H100 fp8 b768 128/128", llama2_7B, .h100SXM, t: 1, batch: 768,
      input: 128, output: 128, ms: 39.0),
    staticRow(
      17, "TRT-LLM Llama 7B H100 fp8 b112 128/2048", llama2_7B, .h100SXM, t: 1, batch: 112,
      input: 128, output: 2048, ms: 16.43),
    staticRow(
      18, "TRT-LLM Llama 7B H100 fp8 b80 2048/128", llama2_7B, .h100SXM, t: 1, batch: 80,
      input: 2048, output: 128, ms: 35.65),
    staticRow(
      19, "TRT-LLM Llama 7B H100 fp8 b48 2048/2048", llama2_7B, .h100SXM, t: 1, batch: 48,
      input: 2048, output: 2048, ms: 17.52),
    staticRow(
      20, "TRT-LLM Llama 70B H100 fp8 TP2 b1024 128/128", llama2_70B, .h100SXM, t: 2,
      batch: 1024, input: 128, output: 128, ms: 192.7),
    staticRow(
      21, "TRT-LLM Llama 70B H100 fp8 TP4 b480 128/2048", llama2_70B, .h100SXM, t: 4, batch: 480,
      input: 128, output: 2048, ms: 80.75),
    staticRow(
      22, "TRT-LLM Llama 70B H100 fp8 TP2 b96 2048/128", llama2_70B, .h100SXM, t: 2, batch: 96,
      input: 2048, output: 128, ms: 156.86),
    staticRow(
      23, "TRT-LLM Llama 70B H100 fp8 TP2 b64 2048/2048", llama2_70B, .h100SXM, t: 2, batch: 64,
      input: 2048, output: 2048, ms: 58.5),
    staticRow(
      24, "TRT-LLM Llama 7B A100 fp16 b384 128/128", llama2_7B, .a100_80GB, t: 1, batch: 384,
      input: 128, output: 128, ms: 68.74),
    staticRow(
      25, "TRT-LLM Llama 7B A100 fp16 b60 128/2048", llama2_7B, .a100_80GB, t: 1, batch: 60,
      input: 128, output: 2048, ms: 31.12),
    staticRow(
      26, "TRT-LLM Llama 7B A100 fp16 b52 2048/128", llama2_7B, .a100_80GB, t: 1, batch: 52,
      input: 2048, output: 128, ms: 87.99),
    staticRow(
      27, "TRT-LLM Llama 7B A100 fp16 TP2 b64 2048/2048", llama2_7B, .a100_80GB, t: 2, batch: 64,
      input: 2048, output: 2048, ms: 81.84),
    staticRow(
      28, "TRT-LLM Llama 70B A100 fp16 TP4 b1280 128/128", llama2_70B, .a100_80GB, t: 4,
      batch: 1280, input: 128, output: 128, ms: 1910.45),
    staticRow(
      29, "TRT-LLM Llama 70B A100 fp16 TP4 b240 128/2048", llama2_70B, .a100_80GB, t: 4,
      batch: 240, input: 128, output: 2048, ms: 457.14),
    staticRow(
      30, "TRT-LLM Llama 70B A100 fp16 TP4 b120 2048/128", llama2_70B, .a100_80GB, t: 4,
      batch: 120, input: 2048, output: 128, ms: 1518.99),
  ]

  /// Time to first token under load: NIM at 5–50 clients (rows 32–34).
  public static let underLoad: [PublishedServingRun] = [
    nimRow(32, clients: 5, input: 5000, output: 500, .ttftUnderLoad, ms: 546.7),
    nimRow(33, clients: 25, input: 5000, output: 500, .ttftUnderLoad, ms: 688.69),
    nimRow(34, clients: 50, input: 5000, output: 500, .ttftUnderLoad, ms: 834.51),
  ]

  // MARK: - FasterTransformer, 2022

  /// GPT-3 as the NeMo launcher trained and served it: learned positions 2,048, LayerNorm, GeLU,
  /// biases, tied embeddings, V 51,200 (the launcher's inference model specs).
  static func gpt3(layers: Int, hidden: Int, heads: Int) -> TransformerModel {
    TransformerModel(
      layers: layers, hidden: hidden, heads: heads, sequenceLength: 2048, vocabulary: 51200,
      fusedAttention: true)
  }

  /// FasterTransformer on Triton (2022) as the closest profile megaplan has: TensorRT-LLM's
  /// fused kernels (its predecessor's), no CUDA graphs, NCCL all-reduces, the whole batch
  /// prefilled in one pass, attention as the decoder kernels of the time (one thread block per
  /// head), fp16.
  static let fasterTransformer: ServingModel.Settings = {
    var s = ServingModel.Settings(
      precision: .fp16, kvPrecision: .fp16, gpuMemoryUtilization: 1, engine: .trtllm,
      cudaGraphs: false)
    s.maxBatchedTokens = nil
    s.profile.customAllReduce = false
    s.profile.sharedKVRead = false
    return s
  }()

  static func ftRow(
    _ name: String, _ model: TransformerModel, input: Int, output: Int, batch: Int, t: Int,
    p: Int = 1, ms: Double
  ) -> PublishedServingRun {
    PublishedServingRun(
      name: "FT GPT-3 \(name) \(input)/\(output) b\(batch) t\(t)\(p > 1 ? " p\(p)" : "")",
      row: -1,
      source:
        "NeMo-Megatron-Launcher README §6.1.3.9 (commit 2c95835b), FasterTransformer on DGX A100 80GB",
      model: model, gpu: .a100_80GB, tensor: t, pipeline: p, settings: fasterTransformer,
      engineLabel: "FasterTransformer (no CUDA graphs, NCCL)", input: input, output: output,
      scenario: .staticBatch(batch), measure: .endToEnd, published: ms / 1e3)
  }

  /// NVIDIA's end-to-end latencies of GPT-3 on FasterTransformer (the table docs/serve.md
  /// compares layouts against): a 2022 engine, reported as its own section.
  public static let fasterTransformerGPT3: [PublishedServingRun] = {
    let m5 = gpt3(layers: 24, hidden: 4096, heads: 32)
    let m20 = gpt3(layers: 44, hidden: 6144, heads: 48)
    let m89 = gpt3(layers: 48, hidden: 12288, heads: 96)
    let m175 = gpt3(layers: 96, hidden: 12288, heads: 96)
    let m310 = gpt3(layers: 96, hidden: 16384, heads: 128)
    let m530 = gpt3(layers: 105, hidden: 20480, heads: 128)
    return [
      ftRow("5B", m5, input: 60, output: 20, batch: 1, t: 4, ms: 93),
      ftRow("20B", m20, input: 60, output: 20, batch: 1, t: 8, ms: 251),
      ftRow("89B", m89, input: 60, output: 20, batch: 1, t: 8, ms: 464),
      ftRow("175B", m175, input: 60, output: 20, batch: 1, t: 8, ms: 923),
      ftRow("310B", m310, input: 60, output: 20, batch: 1, t: 8, ms: 1354),
      ftRow("530B", m530, input: 60, output: 20, batch: 1, t: 8, p: 2, ms: 2118),
      ftRow("175B", m175, input: 200, output: 200, batch: 1, t: 8, ms: 8873),
      ftRow("5B", m5, input: 60, output: 20, batch: 256, t: 1, ms: 1143),
      ftRow("20B", m20, input: 200, output: 200, batch: 256, t: 4, ms: 10453),
      ftRow("175B", m175, input: 60, output: 20, batch: 256, t: 8, ms: 2033),
    ]
  }()
}
