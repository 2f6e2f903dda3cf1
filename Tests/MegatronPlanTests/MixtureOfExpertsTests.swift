import Testing

@testable import MegatronPlan

/// Mixture of experts, by hand from Mixtral 8x7B's config.json (mistralai/Mixtral-8x7B-v0.1:
/// 32 layers, h 4,096, 32 heads, 8 key/value heads, expert FFN 14,336, 8 experts, top-2,
/// vocabulary 32,000, untied, RMSNorm, SwiGLU, no biases).
@Suite struct MixtureOfExpertsTests {
  static let mixtral = TransformerModel(
    layers: 32, hidden: 4096, heads: 32, queryGroups: 8, ffnHidden: 14336, sequenceLength: 4096,
    vocabulary: 32_000, tiedEmbeddings: false, normalization: .rmsNorm, activation: .swiglu,
    linearBiases: false, positionEmbedding: .rotary(percentage: 1, base: 1e6), dropout: .none,
    fusedAttention: true, moe: MixtureOfExperts(experts: 8, topK: 2, expertFFN: 14336))

  // Per layer: attention h(a + 2g)d_h + a·d_h·h, router h·E, 8 experts of 3·h·f, two RMSNorms.
  static let attention = 4096 * (4096 + 2 * 1024) + 4096 * 4096
  static let expert = 3 * 4096 * 14336
  static let router = 4096 * 8
  static let norms = 2 * 4096

  @Test("Mixtral 8x7B: 46,702,792,704 parameters, about 12.9 B active (the published figures)")
  func parameters() {
    let layer = Self.attention + 8 * Self.expert + Self.router + Self.norms
    let total = 32 * layer + 2 * 32_000 * 4096 + 4096
    #expect(total == 46_702_792_704)
    #expect(ParameterCount.total(Self.mixtral).total.value == Double(total))
    // Top-2 of 8: six experts per layer idle for each token.
    let active = total - 32 * 6 * Self.expert
    #expect(ParameterCount.active(Self.mixtral).value == Double(active))
    #expect(abs(Double(active) / 1e9 - 12.9) < 0.05)
  }

  @Test("Mixtral 8x7B at EP 8 on 8 GPUs: per-GPU states by hand")
  func statesAtEP8() {
    let layout = Layout(
      tensor: 1, pipeline: 1, data: 8, microBatch: 1, globalBatch: 8, distributedOptimizer: true,
      expertParallel: 8, expertTensorParallel: 1)
    // Each GPU holds 1 of the 8 experts of every layer and everything else whole.
    let experts = 32 * Self.expert
    let dense = 32 * (Self.attention + Self.router + Self.norms) + 2 * 32_000 * 4096 + 4096
    let params = ParameterCount.perGPU(Self.mixtral, layout, stage: 0)
    #expect(params[named: "expert_layers"].value == Double(experts))
    #expect(params.total.value == Double(experts + dense))
    // Expert data-parallel size t·d/(ETP·EP) = 8/8 = 1: the expert states are not sharded;
    // the dense ones are, over d = 8 (2 + 4 bytes weights and gradients, 12 optimizer bytes).
    #expect(layout.expertData == 1)
    let states = StateMemory.states(
      parameters: params.total, precision: .bf16, layout: layout,
      expertParameters: params[named: "expert_layers"])
    #expect(states[named: "weights"].value == Double(2 * (experts + dense)))
    #expect(states[named: "gradients"].value == Double(4 * (experts + dense)))
    #expect(states[named: "optimizer"].value == Double(12 * experts) + Double(12 * dense) / 8)
  }

  @Test("an MoE layer's routed activations, tensor by tensor")
  func routedActivations() {
    let layout = Layout(
      tensor: 1, data: 8, microBatch: 1, globalBatch: 8, expertParallel: 8,
      expertTensorParallel: 1)
    let saved = LayerDescription(Self.mixtral, .init(layout, precision: .bf16), moe: true).saved
    let T = 4096, h = 4096, k = 2, f = 14336, E = 8
    // Router: its input (2Th) and fp32 probabilities (4TE); each token's k copies through the
    // local expert: permuted input 2Tkh, SwiGLU input 2Tk·2f, fc2 input 2Tkf, and the fp32
    // probabilities of the copies (4Tk), which Megatron-Core multiplies in inside the weighted
    // SwiGLU (experts.py `weighted_bias_swiglu_impl`), so the unpermute keeps no expert output.
    #expect(saved[named: "router_input"].value == Double(2 * T * h))
    #expect(saved[named: "router_probabilities"].value == Double(4 * T * E))
    #expect(saved[named: "expert_fc1_input"].value == Double(2 * T * k * h))
    #expect(saved[named: "expert_activation_input"].value == Double(2 * T * k * 2 * f))
    #expect(saved[named: "expert_fc2_input"].value == Double(2 * T * k * f))
    #expect(saved[named: "expert_probabilities"].value == Double(4 * T * k))
    #expect(saved[named: "expert_output"].value == 0)
    // A 1.5× imbalance sizes the busiest GPU 1.5× the routed copies.
    var skewed = Self.mixtral
    skewed.moe?.imbalance = 1.5
    let busiest = LayerDescription(skewed, .init(layout, precision: .bf16), moe: true).saved
    #expect(busiest[named: "expert_fc2_input"].value == 1.5 * Double(2 * T * k * f))
  }

  @Test("MoE layout rules: EP divides the experts; ETP·EP divides t·d; t > 1 needs SP")
  func rules() {
    // t·d = 4 is not a multiple of ETP·EP = 2 × 3.
    let bad = Layout(tensor: 2, data: 2, microBatch: 1, globalBatch: 2, expertParallel: 3)
    let v = bad.violations(for: Self.mixtral)
    #expect(v.contains(.expertsNotDivisible(experts: 8, expertParallel: 3)))
    #expect(v.contains(.moeNeedsSequenceParallel(tensor: 2)))
    #expect(
      v.contains(.expertGroupsNotDivisible(tensorTimesData: 4, expertTensor: 2, expertParallel: 3))
    )
  }

  @Test("Megatron's layer pattern ([0]*3+[1]*58): three dense layers, then MoE")
  func layerPattern() {
    let moe = MixtureOfExperts(experts: 256, topK: 8, expertFFN: 2048, firstDenseLayers: 3)
    #expect(moe.moeLayers(in: 0..<61) == 58)
    #expect(moe.moeLayers(in: 0..<3) == 0 && moe.moeLayers(in: 2..<5) == 2)
    let everyOther = MixtureOfExperts(experts: 8, topK: 2, expertFFN: 8, frequency: 2)
    #expect(everyOther.moeLayers(in: 0..<8) == 4 && everyOther.isMoE(layer: 2))
  }

  /// Mixtral 8x22B from its config.json (h 6,144, 56 layers, 48 heads, 8 groups, f 16,384,
  /// V 32,768): per layer 6,144·8,192 + 6,144² attention, 8 × 3·6,144·16,384 experts, router
  /// 6,144·8, two norms; the published ≈141 B total and ≈39 B active.
  @Test("Mixtral config.json files read as MoE models with their published sizes")
  func fromConfigJSON() throws {
    func load(_ name: String) throws -> TransformerModel {
      let (text, file) = try fixture("hf/" + name)
      let root = try HuggingFaceConfig.standalone(text, file: file)
      return try ConfigLoader.load(ConfigDocument(root: root, file: file)).run.model
    }
    let small = try load("mixtral-8x7b-v0.1.json")
    #expect(ParameterCount.total(small).total.value == 46_702_792_704)
    #expect(small.moe?.experts == 8 && small.moe?.topK == 2 && small.moe?.expertFFN == 14336)
    let large = try load("mixtral-8x22b-v0.1.json")
    let expert = 3 * 6144 * 16384
    let layer = 6144 * 8192 + 6144 * 6144 + 8 * expert + 6144 * 8 + 2 * 6144
    let total = 56 * layer + 2 * 32768 * 6144 + 6144
    #expect(ParameterCount.total(large).total.value == Double(total))
    #expect(abs(Double(total) / 1e9 - 140.6) < 0.1)
    let active = total - 56 * 6 * expert
    #expect(ParameterCount.active(large).value == Double(active))
    #expect(abs(Double(active) / 1e9 - 39.2) < 0.1)
  }

  static func loadHF(_ name: String) throws -> TransformerModel {
    let (text, file) = try fixture("hf/" + name)
    let root = try HuggingFaceConfig.standalone(text, file: file)
    return try ConfigLoader.load(ConfigDocument(root: root, file: file)).run.model
  }

  /// Qwen/Qwen2-57B-A14B config.json (`Qwen2MoeForCausalLM`): h 3,584, 28 layers, 28 heads of
  /// 128, 4 key/value heads, QKV biases, 64 experts of moe_intermediate_size 2,560, top-8, a
  /// shared expert of 20,480 with its sigmoid gate (`shared_expert_gate`, Linear(h, 1)),
  /// vocabulary 151,936 (a multiple of 128), untied.
  @Test("Qwen2-57B-A14B: 57.4 B parameters, 14.2 B active, from config.json by hand")
  func qwen2MoE() throws {
    let m = try Self.loadHF("qwen2-57b-a14b.json")
    #expect(m.moe?.sharedExpertGate == true && m.moe?.sharedExpertFFN == 20480)
    // Attention: q (h × h + bias h), k and v (h × 512 + bias 512 each), o (h × h).
    let attention = 2 * 3584 * 3584 + 2 * 3584 * 512 + 3584 + 2 * 512
    let expert = 3 * 3584 * 2560
    let shared = 3 * 3584 * 20480 + 3584  // the shared expert and its gate
    let layer = attention + 3584 * 64 + 64 * expert + shared + 2 * 3584
    let total = 28 * layer + 2 * 151_936 * 3584 + 3584
    #expect(total == 57_408_658_944)
    #expect(ParameterCount.total(m).total.value == Double(total))
    let active = total - 28 * 56 * expert
    #expect(active == 14_249_270_784)
    #expect(ParameterCount.active(m).value == Double(active))
  }

  /// Qwen/Qwen3-30B-A3B config.json (`Qwen3MoeForCausalLM`): h 2,048, 48 layers, 32 heads of
  /// head_dim 128, 4 key/value heads, RMSNorm on each head's queries and keys, 128 experts of
  /// 768, top-8, no shared expert, vocabulary 151,936, untied; the published 30.5 B / 3.3 B.
  @Test("Qwen3-30B-A3B: 30.5 B parameters, 3.35 B active, from config.json by hand")
  func qwen3MoE() throws {
    let m = try Self.loadHF("qwen3-30b-a3b.json")
    #expect(m.qkLayerNorm && m.headDim == 128 && m.moe?.sharedExpertFFN == 0)
    let attention = 2048 * (4096 + 2 * 512) + 4096 * 2048 + 2 * 128
    let expert = 3 * 2048 * 768
    let layer = attention + 2048 * 128 + 128 * expert + 2 * 2048
    let total = 48 * layer + 2 * 151_936 * 2048 + 2048
    #expect(total == 30_532_122_624)
    #expect(ParameterCount.total(m).total.value == Double(total))
    #expect(ParameterCount.active(m).value == Double(total - 48 * 120 * expert))
  }

  /// Mixtral 8x7B at EP 8 on 8 GPUs (t 1, p 1, b 1, s 4,096, fused attention, fused rotary, no
  /// dropout, bf16): every tensor one MoE layer keeps, by hand (T = 4,096, h 4,096, queries
  /// 4,096 and keys/values 1,024 wide, f 14,336, each GPU's one expert sees T·k = 8,192 copies),
  /// and the GPU's whole activation memory: 32 layers of one microbatch plus the last stage's
  /// final-norm input, output-layer input and fp32 logits (4·T·V).
  @Test("Mixtral 8x7B at EP 8: per-GPU activations by hand")
  func activationsAtEP8() {
    let layout = Layout(
      tensor: 1, pipeline: 1, data: 8, microBatch: 1, globalBatch: 8, distributedOptimizer: true,
      expertParallel: 8, expertTensorParallel: 1)
    let T = 4096, h = 4096
    let layer =
      2 * T * h  // input norm's input
      + 2 * T * h  // QKV input
      + 2 * T * (4096 + 1024) + 2 * T * 1024 + 4 * 32 * T  // Q and K, V, fp32 statistics
      + 2 * T * 4096  // projection input (the flash kernel's output)
      + 2 * T * h  // pre-MLP norm's input
      + 2 * T * h + 4 * T * 8  // router input and probabilities
      + 2 * 8192 * h  // permuted tokens
      + 2 * 8192 * 2 * 14336  // SwiGLU input
      + 2 * 8192 * 14336  // fc2 input
      + 4 * 8192  // the copies' probabilities
    #expect(layer == 990_543_872)
    let stage = ActivationMemory.stage(Self.mixtral, layout, stage: 0)
    let last = 2 * T * h + 2 * T * h + 4 * T * 32_000
    #expect(stage[named: "layers"].value == Double(32 * layer))
    #expect(stage.total.value == Double(32 * layer + last))
  }

  @Test("recompute modules of an MoE layer: moe_act, layernorm, moe")
  func moeRecomputeModules() {
    let layout = Layout(
      tensor: 1, data: 8, microBatch: 1, globalBatch: 8, expertParallel: 8,
      expertTensorParallel: 1)
    let layer = LayerDescription(Self.mixtral, .init(layout, precision: .bf16), moe: true)
    let all = layer.saved
    // moe_act discards the activation's output, the expert fc2 input.
    let act = layer.saved(recomputing: .moeActivation)
    #expect(act[named: "expert_fc2_input"].value == 0)
    #expect(act[named: "expert_activation_input"] == all[named: "expert_activation_input"])
    // layernorm discards the pre-MLP norm's output (the router's input).
    #expect(layer.saved(recomputing: .layerNorm)[named: "router_input"].value == 0)
    // moe keeps only the checkpoint's input (the norm's output) of the MoE layer.
    let moe = layer.saved(recomputing: .moe)
    for name in [
      "router_probabilities", "expert_fc1_input", "expert_activation_input",
      "expert_fc2_input", "expert_probabilities",
    ] {
      #expect(moe[named: name].value == 0, "\(name)")
    }
    #expect(moe[named: "router_input"] == all[named: "router_input"])
    #expect(moe[named: "query_key"] == all[named: "query_key"])
  }

  /// Qwen3-30B-like MoE layer (E 128, k 8, h 2,048, s 4,096, b 1, t 1) at EP 16 on two H100
  /// nodes of 8, ETP 1: each GPU sends e·T·k·h = 2·4,096·8·2,048 = 134,217,728 bytes per
  /// all-to-all. alltoall: 8 of the 16 EP ranks are in the GPU's node, so half the copies leave
  /// it through its 50 GB/s NIC at 94 % (NCCL's 47 GB/s per NDR NIC,
  /// PerformanceConstants.hopper.collectiveNICEfficiency) and 7/16 ride NVLink at 80 % of
  /// 450 GB/s: the network sets 2^26 / 47e9 s + 20 µs, twice (dispatch, combine).
  /// flex: a token crosses once to the other node when one of its 8 experts is there, 1 −
  /// C(64, 8)/C(128, 8) of the time.
  @Test("EP all-to-all: NVLink and network shares by placement, alltoall and DeepEP (by hand)")
  func allToAll() {
    var model = TransformerModel(
      layers: 4, hidden: 2048, heads: 32, queryGroups: 4, headDim: 128, ffnHidden: 6144,
      sequenceLength: 4096, vocabulary: 151_936, tiedEmbeddings: false, normalization: .rmsNorm,
      activation: .swiglu, linearBiases: false, dropout: .none, fusedAttention: true,
      moe: MixtureOfExperts(experts: 128, topK: 8, expertFFN: 768))
    let layout = Layout(
      tensor: 1, data: 16, microBatch: 1, globalBatch: 16, expertParallel: 16,
      expertTensorParallel: 1)
    func comm(_ m: TransformerModel) -> Double {
      StepTimeModel(model: m, layout: layout, precision: .bf16, gpu: .h100SXM)
        .expertParallelComm().value
    }
    let copies = 2.0 * 4096 * 8 * 2048
    let alltoall = 2 * (copies * 8 / 16 / 47e9 + 20e-6)
    #expect(abs(comm(model) - alltoall) <= 1e-12 * alltoall)
    model.moe?.dispatcher = .flex
    var miss = 1.0
    for i in 0..<8 { miss *= Double(64 - i) / Double(128 - i) }
    // (Its NVLink share, once per rank holding one of the 8 experts, 14 × 0.406 of a token's
    // bytes at 360 GB/s, takes less.)
    let flex = 2 * (2.0 * 4096 * 2048 * (1 - miss) / 47e9 + 20e-6)
    #expect(abs(comm(model) - flex) <= 1e-12 * flex)
    // Within one node (EP 8 of 8 GPUs): NVLink only, 7/8 of the copies.
    let oneNode = Layout(
      tensor: 1, data: 8, microBatch: 1, globalBatch: 8, expertParallel: 8,
      expertTensorParallel: 1)
    model.moe?.dispatcher = .alltoall
    let nvlink = 2 * (copies * 7 / 8 / (450e9 * 0.8) + 10e-6)
    let inNode = StepTimeModel(model: model, layout: oneNode, precision: .bf16, gpu: .h100SXM)
      .expertParallelComm().value
    #expect(abs(inNode - nvlink) <= 1e-12 * nvlink)
  }

  @Test("recompute_modules: a YAML list or a string of names; unknown names are errors")
  func recomputeModulesKey() throws {
    let base = """
      trainer:
        num_nodes: 1
        devices: 8
      model:
        num_layers: 4
        hidden_size: 1024
        num_attention_heads: 8
        encoder_seq_length: 1024
        micro_batch_size: 1
        global_batch_size: 8
        num_moe_experts: 8
        expert_model_parallel_size: 8
        activations_checkpoint_granularity: selective
      megaplan:
        vocab_size: 32000

      """
    func load(_ value: String) throws -> LoadedConfig {
      let text = base.replacingOccurrences(
        of: "megaplan:\n", with: "  recompute_modules: \(value)\nmegaplan:\n")
      return try ConfigLoader.load(ConfigDocument.parse(text, file: "r.yaml"))
    }
    let fromList = try load("[moe_act, layernorm]").run.layout.recomputeModules
    #expect(fromList == [.moeActivation, .layerNorm])
    #expect(
      try load("\"moe, shared_experts\"").run.layout.recomputeModules == [.moe, .sharedExperts])
    let error = try #require(throws: ConfigError.self) { try load("[moe_ac]") }
    #expect(error.message.contains("unknown recompute module 'moe_ac'"))
    #expect(error.message.contains("did you mean 'moe_act'"))
    #expect(error.key == "model.recompute_modules")
  }
}
