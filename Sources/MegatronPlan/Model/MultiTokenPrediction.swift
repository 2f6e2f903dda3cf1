/// Multi-token prediction as Megatron-Core builds it (`MultiTokenPredictionLayer`,
/// megatron/core/transformer/multi_token_prediction.py; DeepSeek-V3 §2.2): after the last
/// transformer layer, each of the D MTP layers normalises the previous depth's hidden states
/// (`hnorm`) and the embedding of the tokens one further ahead (`enorm`), concatenates them and
/// projects 2h → h (`eh_proj`, column-parallel, no bias), runs one transformer layer of the
/// model's kind (an MoE layer when the model's last layer is one: Megatron-LM training.py
/// counts it so), normalises (`final_layernorm`) and predicts with the output layer. The word
/// embedding and the output layer are the main model's, shared; the MTP layers live on the last
/// pipeline stage (`mtp_on_this_rank`), which therefore also holds the word embedding when
/// p > 1 (GPTModel builds it on the MTP stage: `pre_process or mtp_process`).
///
/// Keys: `mtp_num_layers` (`--mtp-num-layers`), Hugging Face `num_nextn_predict_layers`.
/// The MTP loss scale (`mtp_loss_scaling_factor`) changes no memory or time.
public enum MultiTokenPrediction {
  /// Whether the MTP layers' transformer layer is an MoE layer: as the model's last layer.
  public static func layerIsMoE(_ m: TransformerModel) -> Bool {
    m.moe?.isMoE(layer: m.layers - 1) ?? false
  }

  /// One MTP layer's transformer layer on one GPU.
  public static func layer(_ m: TransformerModel, _ shard: LayerDescription.Shard)
    -> LayerDescription
  {
    LayerDescription(m, shard, moe: layerIsMoE(m))
  }

  /// One MTP layer's ops around its transformer layer, on one GPU: the two input norms (each
  /// saves its input, e·T·h/r), the concatenation and `eh_proj` [T, 2h] × [2h, h/t] (saves its
  /// sequence-sharded input e·T·2h/r; its output is all-gathered over the tensor group and
  /// scattered back to the sequence shards), and the final norm (saves its input). Parameters:
  /// three norms and 2h² — Megatron-LM's `6·n_mtp·(3h + 2h²)` FLOP term.
  public static func projection(_ m: TransformerModel, _ shard: LayerDescription.Shard)
    -> LayerDescription
  {
    let t = Double(shard.tensor), e = shard.precision.activationBytes
    let r = shard.sequenceParallel ? t : 1
    let tokens = Double(m.sequenceLength) * shard.sequences
    let h = Double(m.hidden)
    let normParams = Double(m.normalization.parametersPerFeature)
    let linearInput = m.fp8?.recipe.savedBytesPerElement ?? e
    func norm(_ kind: OpKind) -> LayerOp {
      LayerOp(
        kind: kind, saved: [SavedTensor(kind.rawValue + "_input", e * tokens * h / r)],
        elementwiseBytes: 2 * e * tokens * h / r, parameters: .init(replicated: normParams * h))
    }
    var projection = LayerDescription(ops: [
      norm(.mtpEmbeddingNorm),
      norm(.mtpHiddenNorm),
      LayerOp(
        kind: .mtpProjection,
        gemms: [GEMMShape("mtp_projection", m: tokens, n: h / t, k: 2 * h, fp8: m.fp8 != nil)],
        saved: [SavedTensor("mtp_projection_input", linearInput * tokens * 2 * h / r)],
        elementwiseBytes: 2 * e * tokens * 2 * h / r, parameters: .init(sharded: 2 * h * h)),
      norm(.mtpFinalNorm),
    ])
    projection.applyFP4(m)
    return projection
  }

  /// One MTP depth as one description (`LayerKind.mtp`): its projection's ops, then its
  /// transformer layer's.
  public static func description(_ m: TransformerModel, _ shard: LayerDescription.Shard)
    -> LayerDescription
  {
    var one = layer(m, shard)
    one.ops = projection(m, shard).ops + one.ops
    return one
  }

  /// Parameters of all D MTP layers (projection and transformer layer), by how they shard.
  public static func parameters(_ m: TransformerModel) -> LayerOp.Parameters {
    guard m.mtpLayers > 0 else { return .init() }
    let one =
      projection(m, .whole(sequences: 1)).parameters
      + layer(m, .whole(sequences: 1)).parameters
    return LayerOp.Parameters(
      sharded: one.sharded * Double(m.mtpLayers), replicated: one.replicated * Double(m.mtpLayers),
      expert: one.expert * Double(m.mtpLayers))
  }
}

extension LayerDescription {
  /// A description from its ops (the MTP projection's).
  init(ops: [LayerOp]) { self.ops = ops }
}
