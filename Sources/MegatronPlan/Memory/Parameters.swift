/// Parameter counts, whole model and per GPU, with named terms.
///
/// Per layer (N21 Eq. 2 form, with biases and LayerNorms, MLP width f):
/// attention QKV 3h² + 3h, output projection h² + h; MLP h·f + f + f·h + h; two LayerNorms 4h.
/// With f = 4h this is 12h² + 13h, so the model has 12Lh²(1 + 13/12h + (V + s)/12Lh) (N21 Eq. 2)
/// plus the final LayerNorm's 2h.
public enum ParameterCount {
  /// Parameters of one transformer layer, split into the part tensor parallelism shards
  /// (column/row-parallel weights, column-parallel biases) and the part every tensor rank
  /// replicates (row-parallel biases, LayerNorms) — Megatron-LM `ColumnParallelLinear` /
  /// `RowParallelLinear`.
  /// A gated MLP's fc1 is h × 2f; without linear biases (`bias: false`) the bias terms vanish.
  public static func layer(_ m: TransformerModel) -> (sharded: Double, replicated: Double) {
    let h = Double(m.hidden), f = Double(m.ffnHidden), f1 = Double(m.fc1Width)
    let bias: Double = m.linearBiases ? 1 : 0
    let sharded = (3 * h * h + bias * 3 * h) + (h * h) + (h * f1 + bias * f1) + (f * h)
    let replicated = bias * (h + h) + 4 * h  // projection and fc2 biases, two LayerNorms (γ, β)
    return (sharded, replicated)
  }

  /// Whole-model parameters (each tied weight counted once).
  public static func total(_ m: TransformerModel) -> Breakdown<ParameterUnit> {
    let (sharded, replicated) = layer(m)
    let h = Double(m.hidden), V = Double(m.vocabulary)
    var b = Breakdown<ParameterUnit>()
    b.add("transformer_layers", Parameters(Double(m.layers) * (sharded + replicated)))
    b.add("word_embedding", Parameters(V * h))
    if m.learnedPositionEmbeddings {
      b.add("position_embedding", Parameters(Double(m.maxPositionEmbeddings) * h))
    }
    b.add("final_layernorm", Parameters(2 * h))
    if !m.tiedEmbeddings { b.add("output_layer", Parameters(V * h)) }
    return b
  }

  /// Parameters held by one GPU of pipeline stage `stage` (0-based): its L/p layers sharded over
  /// t; the word embedding (vocabulary-parallel, /t) and position embedding on the first stage;
  /// the final LayerNorm and output layer (/t) on the last — with tied weights and p > 1 the last
  /// stage keeps its own copy of the embedding for the output layer (Megatron-LM
  /// `setup_embeddings_and_output_layer`).
  public static func perGPU(_ m: TransformerModel, _ layout: Layout, stage: Int) -> Breakdown<
    ParameterUnit
  > {
    let (sharded, replicated) = layer(m)
    let t = Double(layout.tensor), p = layout.pipeline
    let h = Double(m.hidden), V = Double(m.vocabulary)
    let layersHere = Double(m.layers / max(1, p))
    var b = Breakdown<ParameterUnit>()
    b.add("transformer_layers", Parameters(layersHere * (sharded / t + replicated)))
    if stage == 0 {
      b.add("word_embedding", Parameters(V * h / t))
      if m.learnedPositionEmbeddings {
        b.add("position_embedding", Parameters(Double(m.maxPositionEmbeddings) * h))
      }
    }
    if stage == p - 1 {
      b.add("final_layernorm", Parameters(2 * h))
      if !m.tiedEmbeddings || p > 1 { b.add("output_layer", Parameters(V * h / t)) }
    }
    return b
  }
}

public enum ParameterUnit: QuantityUnit { public static let symbol = "params" }
public typealias Parameters = Quantity<ParameterUnit>
