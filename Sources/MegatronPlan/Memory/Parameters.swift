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

  /// One norm over h features (the final norm, the embedding norm): h weights for RMSNorm, 2h
  /// for LayerNorm.
  static func finalNorm(_ m: TransformerModel) -> Double {
    Double(m.normalization.parametersPerFeature * m.hidden)
  }

  /// Whole-model parameters (each tied weight counted once).
  public static func total(_ m: TransformerModel) -> Breakdown<ParameterUnit> {
    let (sharded, replicated) = layer(m)
    let h = Double(m.hidden), V = Double(m.vocabulary)
    var b = Breakdown<ParameterUnit>()
    b.add("transformer_layers", Parameters(Double(m.layers) * (sharded + replicated)))
    b.add("word_embedding", Parameters(V * h))
    if m.embeddingNorm { b.add("embedding_norm", Parameters(finalNorm(m))) }
    if m.learnedPositionEmbeddings {
      b.add("position_embedding", Parameters(Double(m.maxPositionEmbeddings) * h))
    }
    b.add("final_layernorm", Parameters(finalNorm(m)))
    if !m.tiedEmbeddings { b.add("output_layer", Parameters(V * h)) }
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
    perGPU(m, layout, stage: stage, layer: LayerDescription(m, .whole(sequences: 1)).parameters)
  }

  /// `perGPU` given one layer's parameters when the caller already has them.
  public static func perGPU(
    _ m: TransformerModel, _ layout: Layout, stage: Int, layer: LayerOp.Parameters
  ) -> Breakdown<ParameterUnit> {
    let sharded = layer.sharded, replicated = layer.replicated
    let t = Double(layout.tensor), p = layout.pipeline
    let h = Double(m.hidden), V = Double(m.vocabulary)
    let layersHere = Double(layout.layers(onStage: stage, of: m))
    var b = Breakdown<ParameterUnit>()
    b.add("transformer_layers", Parameters(layersHere * (sharded / t + replicated)))
    if stage == 0 {
      b.add("word_embedding", Parameters(V * h / t))
      if m.embeddingNorm { b.add("embedding_norm", Parameters(finalNorm(m))) }
      if m.learnedPositionEmbeddings {
        b.add("position_embedding", Parameters(Double(m.maxPositionEmbeddings) * h))
      }
    }
    if stage == p - 1 {
      b.add("final_layernorm", Parameters(finalNorm(m)))
      if !m.tiedEmbeddings || p > 1 { b.add("output_layer", Parameters(V * h / t)) }
    }
    return b
  }
}

extension ParameterCount {
  /// The tensor-parallel-sharded weights of stage `stage`'s layers on one GPU (the linear
  /// layers that FP8 training casts, with their column-parallel biases, a rounding error).
  public static func linearPerGPU(_ m: TransformerModel, _ layout: Layout, stage: Int)
    -> Parameters
  {
    let layer = LayerDescription(m, .whole(sequences: 1)).parameters
    return Parameters(
      Double(layout.layers(onStage: stage, of: m)) * layer.sharded / Double(max(1, layout.tensor)))
  }
}

public enum ParameterUnit: QuantityUnit { public static let symbol = "params" }
public typealias Parameters = Quantity<ParameterUnit>
