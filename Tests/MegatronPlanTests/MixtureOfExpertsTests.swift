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
    #expect(params["expert_layers"].value == Double(experts))
    #expect(params.total.value == Double(experts + dense))
    // Expert data-parallel size t·d/(ETP·EP) = 8/8 = 1: the expert states are not sharded;
    // the dense ones are, over d = 8 (2 + 4 bytes weights and gradients, 12 optimizer bytes).
    #expect(layout.expertData == 1)
    let states = StateMemory.states(
      parameters: params.total, precision: .bf16, layout: layout,
      expertParameters: params["expert_layers"])
    #expect(states["weights"].value == Double(2 * (experts + dense)))
    #expect(states["gradients"].value == Double(4 * (experts + dense)))
    #expect(states["optimizer"].value == Double(12 * experts) + Double(12 * dense) / 8)
  }

  @Test("an MoE layer's routed activations, tensor by tensor")
  func routedActivations() {
    let layout = Layout(
      tensor: 1, data: 8, microBatch: 1, globalBatch: 8, expertParallel: 8,
      expertTensorParallel: 1)
    let saved = LayerDescription(Self.mixtral, .init(layout, precision: .bf16), moe: true).saved
    let T = 4096, h = 4096, k = 2, f = 14336, E = 8
    // Router: its input (2Th) and fp32 probabilities (4TE); each token's k copies through the
    // local expert: permuted input 2Tkh, SwiGLU input 2Tk·2f, fc2 input 2Tkf, and the expert
    // output the combine keeps, 2Tkh.
    #expect(saved["router_input"].value == Double(2 * T * h))
    #expect(saved["router_probabilities"].value == Double(4 * T * E))
    #expect(saved["expert_fc1_input"].value == Double(2 * T * k * h))
    #expect(saved["expert_activation_input"].value == Double(2 * T * k * 2 * f))
    #expect(saved["expert_fc2_input"].value == Double(2 * T * k * f))
    #expect(saved["expert_output"].value == Double(2 * T * k * h))
    // A 1.5× imbalance sizes the busiest GPU 1.5× the routed copies.
    var skewed = Self.mixtral
    skewed.moe?.imbalance = 1.5
    let busiest = LayerDescription(skewed, .init(layout, precision: .bf16), moe: true).saved
    #expect(busiest["expert_fc2_input"].value == 1.5 * Double(2 * T * k * f))
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
}
