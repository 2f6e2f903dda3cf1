import Testing
@testable import MegatronPlan

/// NVIDIA's published GPT-3 inference configurations on DGX A100 80GB (FasterTransformer on
/// Triton, fp16): NeMo-Megatron-Launcher README §6.1.3.9 "Model Size and Performance", tables
/// "Performance for different model sizes in online scenario" (batch 1) and "… in offline
/// scenario" (largest batch), input/output 60/20 and 200/200 (NVIDIA/NeMo-Framework-Launcher
/// commit 2c95835b2b085b0419c21ead22828a942297f67f, 2022-05-11). Each row gives the batch,
/// tensor parallel size, pipeline stages and GPUs NVIDIA served the model with.
///
/// What megaplan must reproduce: (1) the published layout fits; (2) megaplan's smallest replica
/// uses no more GPUs than NVIDIA's (NVIDIA chose some layouts for latency, so larger than the
/// minimum); (3) it is no smaller than the fp16 weights alone allow, ⌈2 bytes × parameters /
/// 80 GiB⌉, a hand bound from the row's parameter count. FasterTransformer allocates what it
/// needs with no utilization cap, so these run at --gpu-memory-utilization 1 (docs/serve.md).
@Suite struct ServeCapacityTableTests {
  /// GPT-3 shapes: 5B, 20B, 175B from the NeMo launcher's training configs
  /// (Fixtures/nemo-launcher-2022/gpt3); 89B and 310B from the same repository's inference
  /// model specs (conf/inference/model_specs/{89b,310b}.ft/meta.yaml, commit 062da059: 48 and
  /// 96 layers, 96 and 128 heads of 128, inter_size 4h); 530B and 1T from K22 Table 3;
  /// 126M from Fixtures/nemo-launcher-2022/gpt3/126m.yaml. Vocabulary 51,200 (the model specs'
  /// vocab_size), learned positions 2,048, LayerNorm, GeLU, biases, tied embeddings.
  static func gpt3(layers: Int, hidden: Int, heads: Int) -> TransformerModel {
    TransformerModel(
      layers: layers, hidden: hidden, heads: heads, sequenceLength: 2048, vocabulary: 51200)
  }
  static let models: [String: (TransformerModel, billions: Double)] = [
    "126M": (gpt3(layers: 12, hidden: 768, heads: 12), 0.126),
    "5B": (gpt3(layers: 24, hidden: 4096, heads: 32), 5),
    "20B": (gpt3(layers: 44, hidden: 6144, heads: 48), 20),
    "89B": (gpt3(layers: 48, hidden: 12288, heads: 96), 89),
    "175B": (gpt3(layers: 96, hidden: 12288, heads: 96), 175),
    "310B": (gpt3(layers: 96, hidden: 16384, heads: 128), 310),
    "530B": (gpt3(layers: 105, hidden: 20480, heads: 128), 530),
    "1T": (gpt3(layers: 128, hidden: 25600, heads: 160), 1008),
  ]

  struct Row: CustomStringConvertible, Sendable {
    var model: String
    var input: Int
    var output: Int
    var batch: Int
    var tensor: Int
    var pipeline: Int
    var description: String {
      "GPT-3 \(model) \(input)/\(output) batch \(batch): published t \(tensor) p \(pipeline)"
    }
  }

  /// The two tables' rows (13B is left out: its shape is not published with them).
  static let published: [Row] = [
    // Online scenario, batch 1.
    Row(model: "5B", input: 60, output: 20, batch: 1, tensor: 4, pipeline: 1),
    Row(model: "5B", input: 200, output: 200, batch: 1, tensor: 4, pipeline: 1),
    Row(model: "20B", input: 60, output: 20, batch: 1, tensor: 8, pipeline: 1),
    Row(model: "20B", input: 200, output: 200, batch: 1, tensor: 8, pipeline: 1),
    Row(model: "89B", input: 60, output: 20, batch: 1, tensor: 8, pipeline: 1),
    Row(model: "89B", input: 200, output: 200, batch: 1, tensor: 8, pipeline: 1),
    Row(model: "175B", input: 60, output: 20, batch: 1, tensor: 8, pipeline: 1),
    Row(model: "175B", input: 200, output: 200, batch: 1, tensor: 8, pipeline: 1),
    Row(model: "310B", input: 60, output: 20, batch: 1, tensor: 8, pipeline: 1),
    Row(model: "310B", input: 200, output: 200, batch: 1, tensor: 8, pipeline: 2),
    Row(model: "530B", input: 60, output: 20, batch: 1, tensor: 8, pipeline: 2),
    Row(model: "530B", input: 200, output: 200, batch: 1, tensor: 8, pipeline: 2),
    // Offline scenario, the largest batch NVIDIA ran.
    Row(model: "5B", input: 60, output: 20, batch: 256, tensor: 1, pipeline: 1),
    Row(model: "5B", input: 200, output: 200, batch: 256, tensor: 1, pipeline: 1),
    Row(model: "20B", input: 60, output: 20, batch: 256, tensor: 1, pipeline: 1),
    Row(model: "20B", input: 200, output: 200, batch: 256, tensor: 4, pipeline: 1),
    Row(model: "89B", input: 60, output: 20, batch: 256, tensor: 4, pipeline: 1),
    Row(model: "89B", input: 200, output: 200, batch: 256, tensor: 8, pipeline: 1),
    Row(model: "175B", input: 60, output: 20, batch: 256, tensor: 8, pipeline: 1),
    Row(model: "175B", input: 200, output: 200, batch: 64, tensor: 8, pipeline: 1),
    Row(model: "310B", input: 60, output: 20, batch: 256, tensor: 8, pipeline: 2),
    Row(model: "310B", input: 200, output: 200, batch: 2, tensor: 8, pipeline: 1),
    Row(model: "530B", input: 60, output: 20, batch: 256, tensor: 8, pipeline: 2),
    Row(model: "530B", input: 200, output: 200, batch: 1, tensor: 8, pipeline: 2),
  ]

  static func serving(_ name: String) -> ServingModel? {
    guard let (model, _) = models[name] else { return nil }
    return ServingModel(
      model: model, gpu: .a100_80GB,
      settings: .init(precision: .fp16, kvPrecision: .fp16, gpuMemoryUtilization: 1))
  }

  /// ⌈2 bytes × parameters / 80 GiB⌉ from the row's parameter count.
  static func weightsBound(_ name: String) -> Int {
    let billions = models[name]?.billions ?? 0
    return Int((2 * billions * 1e9 / 85_899_345_920).rounded(.up))
  }

  @Test(
    "published GPT-3 inference layouts fit, and megaplan needs no more GPUs", arguments: published)
  func publishedRow(_ row: Row) throws {
    let s = try #require(Self.serving(row.model))
    let w = ServingModel.Workload(input: row.input, output: row.output, batch: row.batch)
    let mem = s.memory(.init(tensor: row.tensor, pipeline: row.pipeline), w)
    #expect(mem.fits, "\(row): \(mem.total / 1_073_741_824) GiB per GPU")
    let plan = try ServingPlan.plan(s, input: row.input, output: row.output, batches: [row.batch])
    let chosen = try #require(plan.first).point.layout
    #expect(chosen.gpus <= row.tensor * row.pipeline, "\(row): megaplan \(chosen)")
    #expect(chosen.gpus >= Self.weightsBound(row.model), "\(row): megaplan \(chosen)")
  }

  /// 126M: fp16 weights 0.25 GB and, at batch 256 and 200/200 tokens, a KV cache of
  /// 2 · 12 · 768 · 400 · 256 · 2 = 3.8 GB: one GPU at every batch (hand).
  @Test("GPT-3 126M serves on one A100 80GB at every batch 1–256, 60/20 and 200/200")
  func small() throws {
    let s = try #require(Self.serving("126M"))
    for (input, output) in [(60, 20), (200, 200)] {
      let rows = try ServingPlan.plan(
        s, input: input, output: output, batches: [1, 2, 4, 8, 16, 32, 64, 128, 256])
      #expect(rows.allSatisfy { $0.point.layout.gpus == 1 && $0.point.memory.fits })
    }
  }

  /// 1T (K22 Table 3, 1,008B): fp16 weights 2.016 TB need ⌈2.016e12 / 80 GiB⌉ = 24 GPUs at
  /// least; t 8 × p 4 = 32 GPUs hold 63 GB of weights each plus, at 60/20 and batch 256, a KV
  /// cache of 2 · 128 · 25600 · 80 · 256 · 2 B / 32 = 8.4 GB each: it fits (hand). At 200/200
  /// and batch 256 the KV cache is 1.34 TB on its own: weights and cache need ⌈3.36 TB /
  /// 80 GiB⌉ = 40 GPUs at least.
  @Test("GPT-3 1T: 24–32 A100 80GB GPUs up to batch 256 at 60/20; ≥ 40 at 200/200 batch 256")
  func trillion() throws {
    let s = try #require(Self.serving("1T"))
    for (input, output, batch) in [(60, 20, 1), (60, 20, 256), (200, 200, 1)] {
      let w = ServingModel.Workload(input: input, output: output, batch: batch)
      #expect(s.memory(.init(tensor: 8, pipeline: 4), w).fits, "\(input)/\(output) b \(batch)")
      let plan = try ServingPlan.plan(s, input: input, output: output, batches: [batch])
      let gpus = try #require(plan.first).point.layout.gpus
      #expect(gpus >= Self.weightsBound("1T") && gpus <= 32, "\(input)/\(output) b \(batch)")
    }
    let plan = try ServingPlan.plan(s, input: 200, output: 200, batches: [256])
    #expect(try #require(plan.first).point.layout.gpus >= 40)
  }
}
