/// Parameter counts, whole model and per GPU, with named terms.
///
/// A layer's weights come from its description (`LayerDescription`, op by op): QKV
/// h·(a + 2g)·d_h (+ (a + 2g)·d_h bias), projection a·d_h·h (+ h), fc1 h·f or h·2f gated (+ its
/// bias), fc2 f·h (+ h), two norms of h (RMSNorm) or 2h (LayerNorm), and the per-head QK norms
/// when present. For GPT-3 (f = 4h, biases, LayerNorm) this is 12h² + 13h, so the model has
/// 12Lh²(1 + 13/12h + (V + s)/12Lh) (N21 Eq. 2) plus the final LayerNorm's 2h.
public enum ParameterCount {
  /// Parameters of one transformer layer, split into the part tensor parallelism shards
  /// (column/row-parallel weights, column-parallel biases) and the part every tensor rank
  /// replicates (row-parallel biases, norms) — Megatron-LM `ColumnParallelLinear` /
  /// `RowParallelLinear`.
  public static func layer(_ m: TransformerModel) -> (sharded: Double, replicated: Double) {
    let p = LayerDescription(m, .whole(sequences: 1)).parameters
    return (p.sharded, p.replicated)
  }

  /// One layer's parameters of each kind, whole, by how they shard (`LayerDescription`); for
  /// `mtp` all D multi-token-prediction layers (`MultiTokenPrediction.parameters`); zero for the
  /// kinds the model does not have (an MoE model's dense entry is its dense layer's).
  public static func layers(_ m: TransformerModel) -> PerKind<LayerOp.Parameters> {
    let whole = LayerDescription.Shard.whole(sequences: 1)
    let dense = LayerDescription(m, whole).parameters
    let moe = m.moe == nil ? dense : LayerDescription(m, whole, kind: .moe).parameters
    return PerKind { kind in
      switch kind {
      // A sliding-window layer holds its full-attention twin's weights.
      case .dense, .slidingDense: dense
      case .moe, .slidingMoE: moe
      case .encoder, .decoder:
        m.encoderDecoder == nil
          ? LayerOp.Parameters() : LayerDescription(m, whole, kind: kind).parameters
      case .mtp: MultiTokenPrediction.parameters(m)
      }
    }
  }

  /// Parameters each token uses: the whole model less the routed experts it is not sent to
  /// (E − k of E per MoE layer), as Megatron-Core and NeMo count "active" parameters.
  /// MTP layers of MoE kind count the same way.
  public static func active(_ m: TransformerModel) -> Parameters {
    let all = total(m).total
    guard let experts = m.moe else { return all }
    let kinds = m.layerKinds(in: 0..<m.layers)
    let mtpMoE = MultiTokenPrediction.layerIsMoE(m) ? m.mtpLayers : 0
    let perExpert = layers(m).moe.expert / Double(max(1, experts.experts))
    return all
      - Parameters(
        Double(kinds.moeLayers + mtpMoE) * perExpert * Double(experts.experts - experts.topK))
  }

  /// One norm over h features (the final norm, the embedding norm): h weights for RMSNorm, 2h
  /// for LayerNorm.
  /// One norm over h (the final norm; zero for post-LN stacks, which have none).
  static func finalNorm(_ m: TransformerModel) -> Double {
    m.blockType.finalNorm ? normOverHidden(m) : 0
  }

  static func normOverHidden(_ m: TransformerModel) -> Double {
    Double(m.normalization.parametersPerFeature * m.hidden)
  }

  /// Whole-model parameters (each tied weight counted once).
  public static func total(_ m: TransformerModel) -> Breakdown<ParameterUnit> {
    if m.encoderDecoder != nil { return encoderDecoderTotal(m) }
    let layers = self.layers(m)
    let kinds = m.layerKinds(in: 0..<m.layers)
    let h = Double(m.hidden), V = Double(m.vocabulary)
    var b = Breakdown<ParameterUnit>()
    b.add(
      "transformer_layers",
      Parameters(
        Double(kinds.denseLayers) * layers.dense.total + Double(kinds.moeLayers)
          * layers.moe.total))
    b.add("word_embedding", Parameters(V * h))
    if m.embeddingNorm { b.add("embedding_norm", Parameters(normOverHidden(m))) }
    if m.learnedPositionEmbeddings {
      b.add("position_embedding", Parameters(Double(m.maxPositionEmbeddings) * h))
    }
    b.add("final_layernorm", Parameters(finalNorm(m)))
    if !m.tiedEmbeddings { b.add("output_layer", Parameters(V * h)) }
    if m.mtpLayers > 0 {
      // The MTP layers share the word embedding and the output layer (counted once above).
      b.add("mtp_layers", Parameters(MultiTokenPrediction.parameters(m).total))
    }
    return b
  }

  /// Parameters held by one GPU of pipeline stage `stage` (0-based): its layers
  /// (`Layout.layers(onStage:of:)`) sharded over t; the word embedding (vocabulary-parallel, /t)
  /// and position embedding on the first stage; the final norm and output layer (/t) on the
  /// last — with tied weights and p > 1 the last stage keeps its own copy of the embedding for
  /// the output layer (Megatron-LM `setup_embeddings_and_output_layer`).
  public static func perGPU(_ m: TransformerModel, _ layout: Layout, stage: Int) -> Breakdown<
    ParameterUnit
  > {
    perGPU(m, layout, stage: stage, layers: layers(m))
  }

  /// `perGPU` given the layers' parameters when the caller already has them. With MoE layers,
  /// `expert_layers` is the share of `transformer_layers` that the expert data-parallel group
  /// (not d) reduces and shards.
  public static func perGPU(
    _ m: TransformerModel, _ layout: Layout, stage: Int, layers: PerKind<LayerOp.Parameters>
  ) -> Breakdown<ParameterUnit> {
    stageParameters(m, layout, stage: stage, layers: layers).breakdown
  }

  /// What `perGPU` names, as numbers (what the search and the step-time model read without
  /// building a breakdown).
  public struct StageParameters: Sendable, Hashable {
    public var layers = 0.0
    public var expert = 0.0
    public var wordEmbedding = 0.0
    public var embeddingNorm = 0.0
    public var positionEmbedding = 0.0
    public var finalNorm = 0.0
    public var outputLayer = 0.0
    public var mtpLayers = 0.0
    public var mtpEmbedding = 0.0
    /// T5's relative position bias tables (`RelativeAttention`).
    public var relativeBias = 0.0

    public var total: Double {
      layers + expert + wordEmbedding + embeddingNorm + positionEmbedding + finalNorm
        + outputLayer + mtpLayers + mtpEmbedding + relativeBias
    }

    public var breakdown: Breakdown<ParameterUnit> {
      var b = Breakdown<ParameterUnit>()
      b.add("transformer_layers", Parameters(layers))
      if expert > 0 { b.add("expert_layers", Parameters(expert)) }
      for (name, value) in [
        ("word_embedding", wordEmbedding), ("embedding_norm", embeddingNorm),
        ("position_embedding", positionEmbedding), ("final_layernorm", finalNorm),
        ("output_layer", outputLayer), ("mtp_layers", mtpLayers), ("mtp_embedding", mtpEmbedding),
        ("relative_position_bias", relativeBias),
      ] where value > 0 {
        b.add(name, Parameters(value))
      }
      return b
    }
  }

  /// `counts`: the stage's layers by kind (`Layout.layerKinds(onStage:of:)`) when the caller
  /// has them.
  public static func stageParameters(
    _ m: TransformerModel, _ layout: Layout, stage: Int, layers: PerKind<LayerOp.Parameters>,
    counts given: LayerCounts? = nil
  ) -> StageParameters {
    let t = Double(layout.tensor), p = layout.pipeline
    let h = Double(m.hidden), V = Double(m.vocabulary)
    let counts = given ?? layout.layerKinds(onStage: stage, of: m)
    if m.encoderDecoder != nil {
      return encoderDecoderStage(m, layout, stage: stage, layers: layers, counts: counts)
    }
    let here = layers.perGPU(counts, layout)
    var s = StageParameters()
    s.layers = here.all - here.expert
    s.expert = here.expert
    if stage == 0 {
      s.wordEmbedding = V * h / t
      if m.embeddingNorm { s.embeddingNorm = normOverHidden(m) }
      if m.learnedPositionEmbeddings { s.positionEmbedding = Double(m.maxPositionEmbeddings) * h }
    }
    if stage == p - 1 {
      s.finalNorm = finalNorm(m)
      if !m.tiedEmbeddings || p > 1 { s.outputLayer = V * h / t }
      if m.mtpLayers > 0 {
        // The MTP layers on the last stage: their experts go with the other experts (reduced
        // over the expert data-parallel group); with p > 1 the stage also builds the word
        // embedding the MTP layers read (Megatron-Core GPTModel: `pre_process or mtp_process`).
        let mtp = layers.mtp
        let expertShard = Double(max(1, layout.expertParallel * layout.expertTensorParallel))
        s.mtpLayers = mtp.sharded / t + mtp.replicated
        s.expert += mtp.expert / expertShard
        if p > 1 { s.mtpEmbedding = V * h / t }
      }
    }
    return s
  }
}

extension ParameterCount {
  /// The tensor-parallel-sharded weights of stage `stage`'s layers on one GPU (the linear
  /// layers that FP8 training casts, with their column-parallel biases, a rounding error).
  public static func linearPerGPU(_ m: TransformerModel, _ layout: Layout, stage: Int)
    -> Parameters
  {
    linearPerGPU(m, layout, stage: stage, layers: layers(m))
  }

  /// `linearPerGPU` given the layers' parameters when the caller already has them.
  public static func linearPerGPU(
    _ m: TransformerModel, _ layout: Layout, stage: Int, layers: PerKind<LayerOp.Parameters>,
    counts: LayerCounts? = nil
  ) -> Parameters {
    let kinds = counts ?? layout.layerKinds(onStage: stage, of: m)
    let expertShard = Double(max(1, layout.expertParallel * layout.expertTensorParallel))
    let t = Double(max(1, layout.tensor))
    var mtp = 0.0
    if stage == layout.pipeline - 1 && m.mtpLayers > 0 {
      mtp = layers.mtp.sharded / t + layers.mtp.expert / expertShard
    }
    return Parameters(
      Double(kinds.denseLayers) * layers.dense.sharded / t
        + Double(kinds.moeLayers) * (layers.moe.sharded / t + layers.moe.expert / expertShard)
        + mtp)
  }
}

public enum ParameterUnit: QuantityUnit { public static let symbol = "params" }
public typealias Parameters = Quantity<ParameterUnit>

extension PerKind where Value == LayerOp.Parameters {
  /// Parameters of the `kinds` layers of a stage on one GPU of `layout`, and the experts' share
  /// of them (reduced and sharded over the expert data-parallel group, not d).
  public func perGPU(_ kinds: LayerCounts, _ layout: Layout) -> (all: Double, expert: Double) {
    let expertShard = Double(max(1, layout.expertParallel * layout.expertTensorParallel))
    var all = 0.0
    for kind in LayerKind.stack { all += Double(kinds[kind]) * self[kind].perGPU(layout) }
    return (all, Double(kinds.moeLayers) * moe.expert / expertShard)
  }

  /// All `kinds` layers, whole.
  func total(_ kinds: LayerCounts) -> Double {
    var sum = 0.0
    for kind in LayerKind.stack { sum += Double(kinds[kind]) * self[kind].total }
    return sum
  }
}
