import Foundation
import Testing

@testable import MegatronPlan

/// Issue 24: the MoE layer from its kernels, against Megatron-LM's per-layer H100 timings
/// (tests/functional_tests/test_cases/common/moe_perf/baseline.json at d98e8a64, in
/// ../shared/reference/moe-kernels.json: one MoELayer's forward and backward on 8 H100, EP 8,
/// 4,096 tokens per GPU, force-balanced routing, fused permutation and router, CUDA-event
/// means) and hand-derived dispatch volumes.
@Suite struct MoEKernelTests {
  struct LayerCase: Sendable, CustomStringConvertible {
    var name: String
    var deepseek: Bool
    var dispatcher: MixtureOfExperts.Dispatcher
    var backend: MixtureOfExperts.FlexBackend
    var fp8: Bool
    var forwardMS: Double
    var backwardMS: Double
    var description: String { name }
  }

  /// The baseline.json rows: DeepSeek-like (h 7,168, 32 experts of 2,048 top-8, a shared
  /// expert of 2,048, sigmoid router with 8 groups top-4) and Mixtral-like (h 4,096, 8 experts
  /// of 14,336 top-2, softmax); BF16 or FP8 blockwise.
  static let cases: [LayerCase] = [
    LayerCase(
      name: "deepseek_a2a_tp1ep8_bf16", deepseek: true, dispatcher: .alltoall, backend: .deepep,
      fp8: false, forwardMS: 7.119, backwardMS: 10.483),
    LayerCase(
      name: "deepseek_a2a_tp1ep8_fp8", deepseek: true, dispatcher: .alltoall, backend: .deepep,
      fp8: true, forwardMS: 7.609, backwardMS: 10.126),
    LayerCase(
      name: "deepseek_deepep_tp1ep8_bf16", deepseek: true, dispatcher: .flex, backend: .deepep,
      fp8: false, forwardMS: 5.682, backwardMS: 9.055),
    LayerCase(
      name: "deepseek_deepep_tp1ep8_fp8", deepseek: true, dispatcher: .flex, backend: .deepep,
      fp8: true, forwardMS: 6.035, backwardMS: 8.602),
    LayerCase(
      name: "deepseek_hybridep_tp1ep8_bf16", deepseek: true, dispatcher: .flex,
      backend: .hybridep, fp8: false, forwardMS: 5.391, backwardMS: 8.795),
    LayerCase(
      name: "deepseek_hybridep_tp1ep8_fp8", deepseek: true, dispatcher: .flex,
      backend: .hybridep, fp8: true, forwardMS: 5.143, backwardMS: 7.687),
    LayerCase(
      name: "mixtral_a2a_tp1ep8_bf16", deepseek: false, dispatcher: .alltoall, backend: .deepep,
      fp8: false, forwardMS: 4.327, backwardMS: 7.684),
    LayerCase(
      name: "mixtral_a2a_tp1ep8_fp8", deepseek: false, dispatcher: .alltoall, backend: .deepep,
      fp8: true, forwardMS: 3.788, backwardMS: 6.618),
    LayerCase(
      name: "mixtral_deepep_tp1ep8_bf16", deepseek: false, dispatcher: .flex, backend: .deepep,
      fp8: false, forwardMS: 4.636, backwardMS: 7.854),
    LayerCase(
      name: "mixtral_deepep_tp1ep8_fp8", deepseek: false, dispatcher: .flex, backend: .deepep,
      fp8: true, forwardMS: 4.101, backwardMS: 6.827),
    LayerCase(
      name: "mixtral_hybridep_tp1ep8_bf16", deepseek: false, dispatcher: .flex,
      backend: .hybridep, fp8: false, forwardMS: 4.343, backwardMS: 7.741),
    LayerCase(
      name: "mixtral_hybridep_tp1ep8_fp8", deepseek: false, dispatcher: .flex,
      backend: .hybridep, fp8: true, forwardMS: 3.701, backwardMS: 6.572),
  ]

  /// megaplan's MoE layer (the ops of `MoELayer`: router, dispatch, experts, combine, shared
  /// expert) for one case, forward and backward, milliseconds.
  static func predict(_ c: LayerCase) -> (forward: Double, backward: Double) {
    var moe =
      c.deepseek
      ? MixtureOfExperts(
        experts: 32, topK: 8, expertFFN: 2048, sharedExpertFFN: 2048, dispatcher: c.dispatcher,
        scoreFunction: .sigmoid)
      : MixtureOfExperts(experts: 8, topK: 2, expertFFN: 14336, dispatcher: c.dispatcher)
    if c.deepseek { (moe.routerGroups, moe.groupTopK) = (8, 4) }
    moe.flexBackend = c.backend
    moe.permuteFusion = true
    moe.routerFusion = true
    let h = c.deepseek ? 7168 : 4096
    let model = TransformerModel(
      layers: 1, hidden: h, heads: 32, queryGroups: 8, ffnHidden: moe.expertFFN,
      sequenceLength: 4096, vocabulary: 32_000, tiedEmbeddings: false, normalization: .rmsNorm,
      activation: .swiglu, linearBiases: false,
      positionEmbedding: .rotary(percentage: 1, base: 1e6), dropout: .none,
      fusedAttention: true, fp8: c.fp8 ? FP8Training(format: .hybrid, recipe: .blockwise) : nil,
      moe: moe)
    let layout = Layout(
      tensor: 1, data: 8, microBatch: 1, globalBatch: 8, expertParallel: 8,
      expertTensorParallel: 1)
    let run = TrainingRun(model: model, layout: layout, gpu: .h100SXM)
    let time = run.stepTime(layout: layout)
    var layer = LayerDescription(model, .init(layout, precision: .bf16), kind: .moe)
    let moeOps: Set<OpKind> = [
      .router, .dispatch, .expertFc1, .expertActivation, .expertFc2, .combine, .sharedFc1,
      .sharedActivation, .sharedFc2,
    ]
    layer.ops = layer.ops.filter { moeOps.contains($0.kind) }
    let forward = time.forward(layer)
    let backward = time.backward(layer, forward: forward)
    return (forward.total.value * 1e3, backward.total.value * 1e3)
  }

  /// The cases beyond 15 % (docs/validation.md): BF16 backwards predicted 15–32 % slow (the
  /// baseline's backward implies its GEMMs above the 75 % BF16 efficiency of dense Hopper
  /// GEMMs), and the DeepSeek-like layer over DeepEP and HybridEP predicted 16–29 % slow (its
  /// measured forward leaves less time for the exchange than NVLink's NCCL rate gives).
  static let knownMisses: Set<String> = [
    "deepseek_deepep_tp1ep8_bf16", "deepseek_hybridep_tp1ep8_bf16", "deepseek_hybridep_tp1ep8_fp8",
    "deepseek_a2a_tp1ep8_bf16", "mixtral_a2a_tp1ep8_bf16",
  ]

  @Test(
    "MoE layer forward and backward within 15 % of Megatron-LM's H100 timings", arguments: cases)
  func perLayer(_ c: LayerCase) {
    let (f, b) = Self.predict(c)
    let worst = max(abs(f / c.forwardMS - 1), abs(b / c.backwardMS - 1))
    #expect(
      (worst <= 0.15) != Self.knownMisses.contains(c.name),
      "\(c.name): forward \(f) vs \(c.forwardMS) ms, backward \(b) vs \(c.backwardMS) ms")
  }

  @Test("DeepEP sends a token once per rank holding its experts; group-limited routing bounds it")
  func dispatchDedup() {
    // 32 experts on 8 ranks (4 each), k = 8 uniform: a rank misses all 8 with probability
    // C(28, 8)/C(32, 8) = (24·23·22·21)/(32·31·30·29) = 255,024/863,040.
    var moe = MixtureOfExperts(experts: 32, topK: 8, expertFFN: 2048, dispatcher: .flex)
    #expect(abs(moe.holds(groups: 8) - (1 - 255_024.0 / 863_040)) < 1e-12)
    // DeepSeek's 8 router groups of 4, top-4 groups: a rank is one group, picked 4 times in 8;
    // then k = 8 among the 16 experts of the picked groups miss its 4 with probability
    // C(12, 8)/C(16, 8) = 495/12,870.
    (moe.routerGroups, moe.groupTopK) = (8, 4)
    #expect(abs(moe.holds(groups: 8) - 0.5 * (1 - 495.0 / 12_870)) < 1e-12)
    // Four domains of two groups each: a domain is hit unless both its groups are left out,
    // C(6, 4)/C(8, 4) = 15/70.
    #expect(abs(moe.holds(groups: 4) - (1 - 15.0 / 70)) < 1e-12)
  }

  @Test("the dropless dispatcher's host sync is charged once per MoE layer forward")
  func hostSync() {
    let moe = MixtureOfExperts(experts: 8, topK: 2, expertFFN: 1024)
    let model = TransformerModel(
      layers: 1, hidden: 1024, heads: 8, ffnHidden: 1024, sequenceLength: 512,
      vocabulary: 1024, tiedEmbeddings: false, normalization: .rmsNorm, activation: .swiglu,
      linearBiases: false, positionEmbedding: .rotary(percentage: 1, base: 1e4),
      dropout: .none, fusedAttention: true, moe: moe)
    let layout = Layout(
      tensor: 1, data: 8, microBatch: 1, globalBatch: 8, expertParallel: 8,
      expertTensorParallel: 1)
    let time = TrainingRun(model: model, layout: layout, gpu: .h100SXM).stepTime(layout: layout)
    let layer = LayerDescription(model, .init(layout, precision: .bf16), kind: .moe)
    // Two launches' worth (the copy and the wait, 2 × 10 µs) forward, none backward.
    #expect(time.hostSeconds(layer, backward: false).sync.value == 20e-6)
    #expect(time.hostSeconds(layer, backward: true).sync == .zero)
    // Drop-and-pad has static shapes: no sync.
    var padded = model
    padded.moe?.capacityFactor = 1
    padded.moe?.padToCapacity = true
    let paddedTime = TrainingRun(model: padded, layout: layout, gpu: .h100SXM)
      .stepTime(layout: layout)
    let paddedLayer = LayerDescription(padded, .init(layout, precision: .bf16), kind: .moe)
    #expect(paddedTime.hostSeconds(paddedLayer, backward: false).sync == .zero)
  }

  @Test("grouped GEMMs slow below 4,096 rows per group and K below 4,096 (DeepGEMM's tables)")
  func groupedEfficiency() {
    let machine = Machine(gpu: .h100SXM)
    // 256 rows per group, K 7,168: (256/384)/(4,096/4,224) of the rate.
    var g = GEMMShape("e", m: 1024, n: 4096, k: 7168, weightGroups: 4)
    #expect(abs(machine.groupedRowsEfficiency(g) - (256.0 / 384) / (4096.0 / 4224)) < 1e-12)
    // K 1,536 at 4,096 rows: (1,536/2,016)/(4,096/4,576).
    g = GEMMShape("e", m: 16384, n: 4096, k: 1536, weightGroups: 4)
    #expect(abs(machine.groupedRowsEfficiency(g) - (1536.0 / 2016) / (4096.0 / 4576)) < 1e-12)
    // A dense GEMM keeps its rate.
    #expect(machine.groupedRowsEfficiency(GEMMShape("d", m: 256, n: 4096, k: 512)) == 1)
  }

  @Test("MoE kernel keys: NeMo YAML and Megatron-LM flags; group-limited routing checked")
  func keys() throws {
    let base = """
      trainer:
        devices: 8
      model:
        num_layers: 2
        hidden_size: 1024
        num_attention_heads: 8
        encoder_seq_length: 1024
        micro_batch_size: 1
        global_batch_size: 8
        num_moe_experts: 32
        moe_router_topk: 8
        expert_model_parallel_size: 8
        moe_token_dispatcher_type: flex
      """
    func load(_ extra: String) throws -> MixtureOfExperts? {
      let text = base + "\n" + extra + "\nmegaplan:\n  vocab_size: 1024\n  gpu: h100-sxm\n"
      return try ConfigLoader.load(ConfigDocument.parse(text, file: "m.yaml")).run.model.moe
    }
    let moe = try #require(
      try load(
        "  moe_flex_dispatcher_backend: hybridep\n  moe_permute_fusion: true\n  moe_router_fusion: true\n  moe_router_num_groups: 8\n  moe_router_group_topk: 4\n  moe_router_force_load_balancing: true"
      ))
    #expect(moe.flexBackend == .hybridep && moe.permuteFusion && moe.routerFusion)
    #expect(moe.routerGroups == 8 && moe.groupTopK == 4)
    #expect(throws: ConfigError.self) { try load("  moe_flex_dispatcher_backend: nccl") }
    // 3 groups do not divide 32 experts; one group of 4 cannot hold k = 8 experts.
    #expect(throws: ConfigError.self) {
      try load("  moe_router_num_groups: 3\n  moe_router_group_topk: 1")
    }
    #expect(throws: ConfigError.self) {
      try load("  moe_router_num_groups: 8\n  moe_router_group_topk: 1")
    }
  }

  @Test("Kimi K2's config.json reads as DeepSeek-V3's architecture: 1.03 T, 32.9 B active by hand")
  func kimiK2() throws {
    let model = try MixtureOfExpertsTests.loadHF("kimi-k2/config.json")
    // By hand from the file: per layer MLA h·1,536 + 1,536 + 1,536·64·192 + h·576 + 512 +
    // 512·64·256 + 64·128·h + 2h; layer 0 dense 3·h·18,432; 60 MoE layers h·384 (router) +
    // 384·3·h·2,048 + 3·h·2,048 (shared); embedding and output 2·163,840·h; final norm h.
    // Active: the MoE layers with 8 of the 384 experts.
    let h = 7168.0
    let attention =
      h * 1536 + 1536 + 1536 * 64 * 192 + h * 576 + 512 + 512 * 64 * 256 + 64 * 128 * h + 2 * h
    let dense = 3 * h * 18432
    let common = 2 * 163_840 * h + h + 61 * attention + dense + 60 * (h * 384 + 3 * h * 2048)
    let total = common + 60 * 384 * 3 * h * 2048
    let active = common + 60 * 8 * 3 * h * 2048
    #expect(abs(ParameterCount.total(model).total.value / total - 1) < 1e-9)
    #expect(abs(ParameterCount.active(model).value / active - 1) < 1e-9)
    #expect(model.moe?.routerGroups == nil)  // n_group 1: no group limit
    // Without `architectures`, `model_type: kimi_k2` names the same architecture.
    let (text, file) = try fixture("hf/kimi-k2/config.json")
    let bare = text.replacingOccurrences(
      of: "  \"architectures\": [\"DeepseekV3ForCausalLM\"],\n", with: "")
    #expect(bare != text)
    let root = try HuggingFaceConfig.standalone(bare, file: file)
    let typed = try ConfigLoader.load(ConfigDocument(root: root, file: file)).run.model
    #expect(ParameterCount.total(typed).total == ParameterCount.total(model).total)
  }
}

/// Dropless routing's cost (issue 24: "real routing with an imbalance factor the user sets").
/// Megatron-MoE-ModelZoo's long-context table (best_practice/Qwen3/readme.md) runs each
/// Qwen3-235B-A22B layout twice, force-balanced and dropless with its aux-loss router (coefficient
/// 1e-3): 295/237, 335/277, 368/320 and 389/357 model TFLOP/s at 16k, 32k, 64k and 128k. The
/// busiest GPU's share of the token copies over the balanced one (`megaplan.moe_imbalance`) is
/// set once, from the 16k pair: 1.55 gives its ratio within 0.1 %. The other three lengths, whose
/// attention share grows to most of the step, check how the factor propagates (through the
/// experts' GEMMs, the exchange and the permutation, not attention): within 2 % each
/// (1.187 against 1.209 at 32k, 1.127 against 1.150 at 64k, 1.077 against 1.090 at 128k).
@Suite struct DroplessRoutingTests {
  static let published: [(k: Int, forced: Double, dropless: Double)] = [
    (16, 295, 237), (32, 335, 277), (64, 368, 320), (128, 389, 357),
  ]
  static let imbalance = 1.55

  static func ratio(_ k: Int) throws -> Double {
    let row = try #require(PublishedRun.moe.first { $0.name.hasPrefix("Qwen3-235B-A22B \(k)k") })
    var dropless = row.run
    dropless.model.moe?.imbalance = imbalance
    let forced = Evaluator(row.run).evaluate().utilization.modelPerGPU.teraFLOPs
    let real = Evaluator(dropless).evaluate().utilization.modelPerGPU.teraFLOPs
    return forced / real
  }

  @Test("one imbalance factor, set at 16k, gives the forced/dropless ratio at every length")
  func ratios() throws {
    for (k, forced, dropless) in Self.published {
      let predicted = try Self.ratio(k)
      let measured = forced / dropless
      let bound = k == 16 ? 0.01 : 0.03
      #expect(
        abs(predicted / measured - 1) <= bound,
        "\(k)k: predicted \(predicted), published \(measured)")
    }
  }
}

/// DeepEP's normal kernels reach over NVLink only the GPUs of one host (deepseek-ai/DeepEP#392:
/// at most 8 per node; GB200 NVL72 has 4 per compute tray): on GB200 its exchange is the one a
/// machine of 4-GPU NVLink domains would run, while HybridEP spans the rack's 72.
@Suite struct DeepEPReachTests {
  static func exchange(_ backend: MixtureOfExperts.FlexBackend, gpu: GPU) -> Double {
    var moe = MixtureOfExperts(
      experts: 256, topK: 8, expertFFN: 2048, dispatcher: .flex, scoreFunction: .sigmoid)
    moe.flexBackend = backend
    let model = TransformerModel(
      layers: 4, hidden: 7168, heads: 128, ffnHidden: 2048, sequenceLength: 4096,
      vocabulary: 129_280, tiedEmbeddings: false, normalization: .rmsNorm, activation: .swiglu,
      linearBiases: false, positionEmbedding: .rotary(percentage: 1, base: 1e4), dropout: .none,
      fusedAttention: true, moe: moe)
    let layout = Layout(
      tensor: 1, data: 32, microBatch: 1, globalBatch: 64, distributedOptimizer: true,
      expertParallel: 32, expertTensorParallel: 1)
    return TrainingRun(model: model, layout: layout, gpu: gpu).stepTime(layout: layout)
      .expertParallelComm().value
  }

  @Test("DeepEP on GB200 crosses the trays by RDMA; HybridEP stays on NVLink")
  func reach() {
    var trays = GPU.gb200NVL72
    trays.nvlinkDomain = 4
    let deepep = Self.exchange(.deepep, gpu: .gb200NVL72)
    #expect(deepep == Self.exchange(.hybridep, gpu: trays))
    #expect(Self.exchange(.hybridep, gpu: .gb200NVL72) < deepep / 2)
    // On 8-GPU hosts (H100, B200) the two reach the same GPUs.
    #expect(Self.exchange(.deepep, gpu: .h100SXM) == Self.exchange(.hybridep, gpu: .h100SXM))
  }
}
