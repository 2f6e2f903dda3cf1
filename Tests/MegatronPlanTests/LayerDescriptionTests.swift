import Testing

@testable import MegatronPlan

/// Saved bytes, FLOPs and parameters of one layer for each architecture feature, derived by
/// hand tensor by tensor (docs/formulas.md, "What one layer saves") in integer arithmetic, not
/// with megaplan's code. A small shape keeps every count exact: s = 128, b = 2, h = 256, a = 8
/// heads of d_h = 32, g = 2 groups, f = 688, t = 2.
@Suite struct LayerDescriptionTests {
  static let s = 128, b = 2, h = 256, a = 8, g = 2, dh = 32, f = 688, t = 2
  static let sb = s * b
  static let qw = a * dh  // 256
  static let kvw = g * dh  // 64
  static let scores = a * s * s * b / t  // attention-score elements on one GPU

  static func llama(
    fused: Bool = true, groups: Int = g, dropout: Dropout = .none,
    fusions: KernelFusions = .megatronDefault, activation: Activation = .swiglu,
    qkNorm: Bool = false, headDim: Int? = nil
  ) -> TransformerModel {
    TransformerModel(
      layers: 4, hidden: h, heads: a, queryGroups: groups, headDim: headDim, ffnHidden: f,
      sequenceLength: s, vocabulary: 1024, tiedEmbeddings: false, normalization: .rmsNorm,
      activation: activation, linearBiases: false, qkLayerNorm: qkNorm,
      positionEmbedding: .rotary(percentage: 1, base: 10_000), dropout: dropout, fusions: fusions,
      fusedAttention: fused)
  }

  static func layout(sp: Bool = false, _ r: Recompute = .none) -> Layout {
    Layout(
      tensor: t, pipeline: 1, data: 1, microBatch: b, globalBatch: b, sequenceParallel: sp,
      recompute: r)
  }

  static func saved(_ m: TransformerModel, _ l: Layout) -> Double {
    ActivationMemory.perLayer(m, l).value
  }

  @Test("Llama-style layer (RMSNorm, GQA, rotary, fused SwiGLU, flash attention, no dropout)")
  func llamaFlash() {
    let sb = Self.sb, h = Self.h, t = Self.t, f = Self.f
    // Two norm inputs 2·2sbh, QKV input 2sbh (replicated without SP); Q and K 2sb(a+g)d_h/t,
    // V 2sb·g·d_h/t, log-sum-exp 4·a·sb/t; projection input 2sb·a·d_h/t; fc1 input 2sbh;
    // SwiGLU input 2sb·2f/t; fc2 input 2sbf/t. No dropout: no masks.
    let replicated = 2 * 2 * sb * h + 2 * sb * h + 2 * sb * h
    let sharded =
      2 * sb * (Self.qw + Self.kvw) / t + 2 * sb * Self.kvw / t + 4 * Self.a * sb / t
      + 2 * sb * Self.qw / t + 2 * sb * 2 * f / t + 2 * sb * f / t
    #expect(Self.saved(Self.llama(), Self.layout()) == Double(replicated + sharded))
    // Sequence parallelism shards the replicated part by t too.
    #expect(Self.saved(Self.llama(), Self.layout(sp: true)) == Double(replicated / t + sharded))
    // Selective recompute drops the log-sum-exp; its checkpoint of the core keeps the rotated
    // Q and K beside the whole QKV output (V is a view of it): 2sb(a + g)d_h/t more (Megatron-Core
    // `_checkpointed_attention_forward`; measured on CPU, validation/results/llama-layer-cpu.json).
    // Full recompute keeps the layer input.
    #expect(
      Self.saved(Self.llama(), Self.layout(.selective))
        == Double(replicated + sharded - 4 * Self.a * sb / t + 2 * sb * (Self.qw + Self.kvw) / t))
    #expect(
      Self.saved(Self.llama(), Self.layout(.full(method: .uniform, layers: 1)))
        == Double(2 * sb * h))
  }

  @Test("unfused grouped-query attention saves K and V repeated to a heads; selective keeps g")
  func unfusedGQA() {
    let sb = Self.sb, t = Self.t
    let m = Self.llama(fused: false)
    let full = LayerDescription(m, .init(Self.layout(), precision: .bf16)).saved
    // Megatron-Core repeats K and V to the a query heads before the batched GEMMs.
    #expect(full[named: "query_key"].value == Double(2 * sb * 2 * Self.qw / t))
    #expect(full[named: "value"].value == Double(2 * sb * Self.qw / t))
    // Fused softmax, no dropout: its 16-bit output once (the GEMM over V reuses it).
    #expect(full[named: "softmax_output"].value == Double(2 * Self.scores))
    #expect(
      full[named: "softmax_dropout_mask"].value == 0
        && full[named: "attention_dropout_output"].value == 0)
    let selective = LayerDescription(m, .init(Self.layout(.selective), precision: .bf16))
      .savedUnderSelective
    // The QKV output (its Q, K and V parts) plus the rotated Q and K.
    #expect(selective[named: "query_key"].value == Double(2 * 2 * sb * (Self.qw + Self.kvw) / t))
    #expect(selective[named: "value"].value == Double(2 * sb * Self.kvw / t))
    #expect(selective[named: "softmax_output"].value == 0)
  }

  @Test("unfused attention with g = a and rotary: V's view keeps the whole QKV output")
  func viewKeepsQKV() {
    let m = Self.llama(
      fused: false, groups: Self.a, fusions: KernelFusions(biasActivation: true, rope: false))
    let saved = LayerDescription(m, .init(Self.layout(), precision: .bf16)).saved
    // 3·a·d_h wide QKV output, 2 bytes: the unrotated Q and K stay alive through V's view.
    #expect(saved[named: "value"].value == Double(2 * Self.sb * 3 * Self.qw / Self.t))
    // Unfused rotary keeps four s × d_h tables in 16-bit.
    #expect(saved[named: "rotary_tables"].value == Double(4 * 2 * Self.s * Self.dh))
  }

  @Test("unfused softmax in fp32 keeps the fp32 output and, without dropout, the 16-bit copy")
  func unfusedSoftmax() {
    let fusions = KernelFusions(biasActivation: true, maskedSoftmax: false, rope: true)
    let none = LayerDescription(
      Self.llama(fused: false, fusions: fusions), .init(Self.layout(), precision: .bf16)
    ).saved
    #expect(none[named: "softmax_output"].value == Double(4 * Self.scores))
    #expect(none[named: "softmax_output_16bit"].value == Double(2 * Self.scores))
    // With attention dropout the GEMM over V saves the dropped copy instead, plus the mask.
    let dropped = LayerDescription(
      Self.llama(fused: false, dropout: Dropout(hidden: 0, attention: 0.1), fusions: fusions),
      .init(Self.layout(), precision: .bf16)
    ).saved
    #expect(dropped[named: "softmax_output"].value == Double(4 * Self.scores))
    #expect(dropped[named: "softmax_output_16bit"].value == 0)
    #expect(dropped[named: "softmax_dropout_mask"].value == Double(Self.scores))
    #expect(dropped[named: "attention_dropout_output"].value == Double(2 * Self.scores))
  }

  @Test("MLP activations: fused and unfused SwiGLU, squared ReLU, GeLU, ffn dropout")
  func activations() {
    let sb = Self.sb, t = Self.t, f = Self.f
    func act(_ m: TransformerModel) -> Breakdown<ByteUnit> {
      LayerDescription(m, .init(Self.layout(), precision: .bf16)).saved
    }
    // Fused SwiGLU saves its 2f-wide input.
    #expect(act(Self.llama())[named: "activation_input"].value == Double(2 * sb * 2 * f / t))
    // Unfused, silu(gate) ⊙ up also saves silu(gate), f wide.
    let unfused = act(Self.llama(fusions: KernelFusions(biasActivation: false)))
    #expect(unfused[named: "activation_input"].value == Double(2 * sb * 2 * f / t))
    #expect(unfused[named: "activation_gate_output"].value == Double(2 * sb * f / t))
    // Squared ReLU (Nemotron): fc1 is f wide; the ReLU output serves both backward steps.
    let squared = act(Self.llama(activation: .squaredReLU))
    #expect(squared[named: "activation_input"].value == Double(2 * sb * f / t))
    #expect(squared[named: "activation_gate_output"].value == 0)
    // NeMo ffn_dropout > 0 adds a 1-byte mask of f/t per token.
    let ffn = act(Self.llama(dropout: Dropout(hidden: 0, attention: 0, ffn: 0.1)))
    #expect(ffn[named: "ffn_dropout_mask"].value == Double(sb * f / t))
    // activation_func_fp8_input_store: the fused SwiGLU keeps its 2f-wide input in FP8, 1 byte
    // per element (Megatron-Core `bias_swiglu_impl`); unfused SwiGLU and GeLU ignore it.
    let store = KernelFusions(fp8ActivationInput: true)
    #expect(
      act(Self.llama(fusions: store))[named: "activation_input"].value
        == Double(sb * 2 * f / t))
    let unfusedStore = KernelFusions(biasActivation: false, fp8ActivationInput: true)
    #expect(
      act(Self.llama(fusions: unfusedStore))[named: "activation_input"].value
        == Double(2 * sb * 2 * f / t))
    #expect(
      act(Self.llama(fusions: store, activation: .gelu))[named: "activation_input"].value
        == Double(2 * sb * f / t))
  }

  @Test("hidden dropout 0 stores no masks; 0.1 stores sbh each after attention and MLP")
  func dropoutMasks() {
    let none = LayerDescription(Self.llama(), .init(Self.layout(), precision: .bf16)).saved
    #expect(
      none[named: "attention_dropout_mask"].value == 0
        && none[named: "mlp_dropout_mask"].value == 0)
    let on = LayerDescription(
      Self.llama(dropout: Dropout(hidden: 0.1, attention: 0)),
      .init(Self.layout(), precision: .bf16)
    ).saved
    #expect(on[named: "attention_dropout_mask"].value == Double(Self.sb * Self.h))
    #expect(on[named: "mlp_dropout_mask"].value == Double(Self.sb * Self.h))
    // The first stage's embedding dropout mask follows hidden_dropout too (K22 §4.3).
    let l = Self.layout()
    #expect(
      ActivationMemory.stage(Self.llama(), l, stage: 0)[named: "embedding_dropout_mask"].value
        == 0)
  }

  @Test("QK layer norm saves the queries and keys it normalises; kv_channels sets the widths")
  func qkNormAndHeadSize() {
    let sb = Self.sb, t = Self.t
    let withNorm = LayerDescription(
      Self.llama(qkNorm: true), .init(Self.layout(), precision: .bf16))
    #expect(
      withNorm.saved[named: "qk_norm_inputs"].value
        == Double(2 * sb * (Self.qw + Self.kvw) / t))
    // Two per-head RMSNorms of d_h weights each, replicated.
    #expect(withNorm.parameters.replicated == Double(2 * Self.h + 2 * Self.dh))
    // Gemma-style head size 64 with 8 heads: queries 512 wide on a 256-wide model.
    let wide = LayerDescription(
      Self.llama(headDim: 64), .init(Self.layout(), precision: .bf16))
    #expect(wide.saved[named: "projection_input"].value == Double(2 * sb * 8 * 64 / t))
    let qkv = wide.gemms.first { $0.op == .qkv }
    #expect(qkv?.n == Double((8 * 64 + 2 * 2 * 64) / t) && qkv?.k == Double(Self.h))
  }

  @Test("FLOPs and parameters of a grouped-query layer")
  func flopsAndParameters() {
    let m = Self.llama()
    let T = Double(Self.sb)
    let h = Double(Self.h), f = Double(Self.f)
    let qw = Double(Self.qw), kvw = Double(Self.kvw), s = Double(Self.s)
    let flops = FLOPCount.layerForward(m, sequences: Double(Self.b))
    // QKV 2·T·h·(a + 2g)·d_h; QKᵀ and PV 2·T·s·a·d_h each; projection 2·T·a·d_h·h; fc1 2·T·h·2f;
    // fc2 2·T·f·h.
    #expect(flops[named: "qkv"].value == 2 * T * h * (qw + 2 * kvw))
    #expect(flops[named: "attention_scores"].value == 2 * T * s * qw)
    #expect(flops[named: "attention_over_values"].value == 2 * T * s * qw)
    #expect(flops[named: "projection"].value == 2 * T * qw * h)
    #expect(flops[named: "fc1"].value == 2 * T * h * 2 * f)
    #expect(flops[named: "fc2"].value == 2 * T * f * h)
    // Parameters: h(a + 2g)d_h + a·d_h·h + 3hf, no biases; two RMSNorms of h.
    let p = ParameterCount.layer(m)
    #expect(p.sharded == h * (qw + 2 * kvw) + qw * h + 3 * h * f)
    #expect(p.replicated == 2 * h)
  }

  @Test("K22's GPT-3 layer, term by term (K22 §4.1)")
  func gpt3Terms() {
    let m = TransformerModel(
      layers: 4, hidden: Self.h, heads: Self.a, sequenceLength: Self.s, vocabulary: 1024)
    let saved = LayerDescription(m, .init(Self.layout(), precision: .bf16)).saved
    let sbh = Self.sb * Self.h, t = Self.t
    let expected: [String: Int] = [
      "layernorm_inputs": 4 * sbh, "qkv_input": 2 * sbh, "query_key": 4 * sbh / t,
      "value": 2 * sbh / t, "softmax_output": 2 * Self.scores,
      "softmax_dropout_mask": Self.scores, "attention_dropout_output": 2 * Self.scores,
      "projection_input": 2 * sbh / t, "attention_dropout_mask": sbh, "fc1_input": 2 * sbh,
      "activation_input": 8 * sbh / t, "fc2_input": 8 * sbh / t, "mlp_dropout_mask": sbh,
    ]
    for (name, bytes) in expected { #expect(saved[named: name].value == Double(bytes), "\(name)") }
    #expect(saved.terms.count == expected.count)
  }

  @Test("uneven pipeline splits as Megatron-Core and Megatron-DeepSpeed make them")
  func unevenSplits() {
    // BLOOM: 70 layers on 12 stages with the embedding and the loss counted as layers:
    // 72 / 12 = 6 parts per stage, 5 transformer layers on the first and last.
    let bloom = PipelineSplit(embeddingCountsAsLayer: true, lossCountsAsLayer: true)
    let counts = (0..<12).map { bloom.layers(onStage: $0, of: 70, stages: 12) }
    #expect(counts == [5] + Array(repeating: 6, count: 10) + [5])
    #expect(bloom.problem(layers: 70, stages: 12, virtual: 1) == nil)
    // First stage 2, last 2, the other 28 over 7 middle stages: 4 each.
    let mc = PipelineSplit(firstStageLayers: 2, lastStageLayers: 2)
    #expect(
      (0..<9).map { mc.layers(onStage: $0, of: 32, stages: 9) } == [2]
        + Array(repeating: 4, count: 7) + [2])
    #expect(mc.problem(layers: 33, stages: 9, virtual: 1) != nil)
    // Parameters follow the split: stage 1 of the BLOOM split holds 6 layers' weights.
    let m = TransformerModel(
      layers: 70, hidden: 64, heads: 4, sequenceLength: 16, vocabulary: 256,
      positionEmbedding: .alibi)
    let l = Layout(pipeline: 12, microBatch: 1, globalBatch: 12, split: bloom)
    let perLayer = ParameterCount.layer(m)
    #expect(
      ParameterCount.perGPU(m, l, stage: 1)[named: "transformer_layers"].value
        == 6 * (perLayer.sharded + perLayer.replicated))
    #expect(l.violations(for: m).isEmpty)
  }
}
