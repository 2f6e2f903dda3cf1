/// The layers of an encoder–decoder model (`EncoderDecoder`), on the layer description every
/// decoder-only layer uses, K22's method tensor by tensor:
/// - an encoder layer is the encoder stack's layer (`LayerDescription(encoder, shard)`) with its
///   self-attention bidirectional: the fused kernel does all of the s_enc² work (no causal
///   skipping) in calls without a mask; the unfused path saves the same tensors;
/// - a decoder layer is the decoder stack's layer with, after its causal self-attention block,
///   the cross-attention block of Megatron-Core's `TransformerLayer` (`pre_cross_attn_layernorm`,
///   `cross_attention`, `cross_attn_bda`): a norm, the queries' column-parallel projection of the
///   decoder's T_dec tokens, the keys' and values' column-parallel projection of the encoder's
///   output (T_enc = s_enc·b tokens), the core over s_dec queries × s_enc keys (no mask), the
///   row-parallel output projection and a bias-dropout-add.
///
/// The encoder output every decoder layer projects is one tensor per microbatch: it is counted
/// once per decoder stage (`ActivationMemory.stage`, `encoder_output`), not per layer.
///
/// Measured on CPU, tensor by tensor, for both layers under no, selective and full recompute
/// (unfused and fused cores, t = 1 and 2, with and without dropout): validation/results/
/// t5-layer-cpu.json (docs/validation.md, "T5 layers: saved bytes measured on CPU"); they agree
/// but for the norms' per-row statistics, which `LayerDescription` leaves out (K22's method).
extension LayerDescription {
  /// A layer of `kind` of `m`: dense or MoE, with full or sliding-window attention, an
  /// encoder–decoder model's encoder or decoder layer, or one multi-token-prediction depth.
  public init(_ m: TransformerModel, _ shard: Shard, kind: LayerKind) {
    switch kind {
    case .dense: self.init(m, shard)
    case .moe: self.init(m, shard, moe: true)
    case .slidingDense: self.init(m, shard, sliding: true)
    case .slidingMoE: self.init(m, shard, moe: true, sliding: true)
    case .encoder: self = Self.encoderLayer(m, shard)
    case .decoder: self = Self.decoderLayer(m, shard)
    case .mtp: self = MultiTokenPrediction.description(m, shard)
    }
  }

  /// An encoder layer of `m`'s encoder stack.
  public static func encoderLayer(_ m: TransformerModel, _ shard: Shard) -> LayerDescription {
    guard let ed = m.encoderDecoder else { return LayerDescription(m, shard) }
    var layer = LayerDescription(ed.encoder, shard)
    layer.causalSelfAttention = false
    // Bidirectional: every score is computed, none skipped.
    if let i = layer.ops.firstIndex(where: { $0.kind == .attentionCore }) {
      for g in layer.ops[i].gemms.indices { layer.ops[i].gemms[g].executedFraction = 1 }
      layer.ops[i].kernel?.causalShare = 0
    }
    return layer
  }

  /// A decoder layer of `m`: its causal self-attention, the cross-attention block, the MLP.
  public static func decoderLayer(_ m: TransformerModel, _ shard: Shard) -> LayerDescription {
    var layer = LayerDescription(m, shard)
    guard let ed = m.encoderDecoder,
      let i = layer.ops.firstIndex(where: { $0.kind == .attentionResidual })
    else { return layer }
    layer.ops.insert(contentsOf: crossAttention(m, encoder: ed.encoder, shard), at: i + 1)
    layer.applyFP4(m)
    layer.tensorParallelRegions = 3
    layer.crossAttentionKeyTokens = Double(ed.encoderSequence) * shard.sequences
    layer.crossAttentionKeyWidth = Double(ed.encoder.hidden)
    return layer
  }

  /// The cross-attention block of a decoder layer of `m` attending to `encoder`'s output.
  static func crossAttention(_ m: TransformerModel, encoder: TransformerModel, _ shard: Shard)
    -> [LayerOp]
  {
    let t = Double(shard.tensor), e = shard.precision.activationBytes
    let r = shard.sequenceParallel ? t : 1
    let sDec = Double(m.sequenceLength), sEnc = Double(encoder.sequenceLength)
    let tokens = sDec * shard.sequences  // T_dec
    let keyTokens = sEnc * shard.sequences  // T_enc
    let h = Double(m.hidden), hEnc = Double(encoder.hidden)
    let qw = Double(m.queryWidth), kvw = Double(m.keyValueWidth)
    let bias: Double = m.linearBiases ? 1 : 0
    let qkvBias: Double = m.qkvBias ? 1 : 0
    let normParams = Double(m.normalization.parametersPerFeature)
    let fp8 = m.fp8
    let linearInput = fp8?.recipe.savedBytesPerElement ?? e
    let castAfterNorm = fp8?.recipe.castBytes(elementBytes: e, fused: true) ?? 0
    let castStandalone = fp8?.recipe.castBytes(elementBytes: e, fused: false) ?? 0
    var ops: [LayerOp] = []
    // Pre-norm of the block: saves its input (K22 §4.1), /t with SP.
    ops.append(
      LayerOp(
        kind: .crossNorm,
        saved: [SavedTensor("cross_layernorm_input", e * tokens * h / r)],
        elementwiseBytes: 2 * e * tokens * h / r, parameters: .init(replicated: normParams * h)))
    // Queries, column-parallel h → a·d_h/t over the decoder's tokens: saves its input.
    ops.append(
      LayerOp(
        kind: .crossQuery,
        gemms: [GEMMShape("cross_query", m: tokens, n: qw / t, k: h, fp8: fp8 != nil)],
        saved: [SavedTensor("cross_query_input", linearInput * tokens * h / r)],
        elementwiseBytes: castAfterNorm * tokens * h / r,
        parameters: .init(sharded: h * qw + qkvBias * qw)))
    // Keys and values, column-parallel h_enc → 2·g·d_h/t over the encoder's output (its input,
    // the encoder output, is counted once per stage).
    ops.append(
      LayerOp(
        kind: .crossKeyValue,
        gemms: [
          GEMMShape("cross_key_value", m: keyTokens, n: 2 * kvw / t, k: hEnc, fp8: fp8 != nil)
        ],
        elementwiseBytes: castStandalone * keyTokens * hEnc / r,
        parameters: .init(sharded: hEnc * 2 * kvw + qkvBias * 2 * kvw)))
    ops.append(crossAttentionCore(m, shard, queries: sDec, keys: sEnc))
    // Output projection, row-parallel a·d_h/t → h: saves its input (the core's output).
    var projectionSaved = [SavedTensor("cross_projection_input", linearInput * tokens * qw / t)]
    if fp8 != nil && m.fusedAttention {
      projectionSaved.append(SavedTensor("cross_attention_output", e * tokens * qw / t))
    }
    ops.append(
      LayerOp(
        kind: .crossProjection,
        gemms: [GEMMShape("cross_projection", m: tokens, n: h, k: qw / t, fp8: fp8 != nil)],
        saved: projectionSaved, elementwiseBytes: castStandalone * tokens * qw / t,
        parameters: .init(sharded: qw * h, replicated: bias * h)))
    if m.blockType == .normformer {
      // NormFormer's norm on the cross-attention's output (NeMo
      // `post_inter_attention_normformer_norm`): saves its input.
      ops.append(
        LayerOp(
          kind: .postCrossAttentionNorm,
          saved: [SavedTensor("post_cross_attention_norm_input", e * tokens * h / r)],
          elementwiseBytes: 2 * e * tokens * h / r,
          parameters: .init(replicated: normParams * h)))
    }
    // Bias-dropout-add: a 1-byte mask of T_dec·h with hidden dropout.
    let dropout = m.dropout.hidden > 0
    ops.append(
      LayerOp(
        kind: .crossResidual,
        saved: dropout ? [SavedTensor("cross_dropout_mask", tokens * h / r)] : [],
        elementwiseBytes: (3 * e + (dropout ? 1 : 0)) * tokens * h / r))
    return ops
  }

  /// The cross-attention core: `queries` (s_dec) × `keys` (s_enc) per sequence and head, no mask.
  /// Unfused (Megatron-Core `DotProductAttention`), it saves Q, K and V (K and V repeated to a
  /// heads with g < a) and, per score, the softmax output and with attention dropout its mask and
  /// the dropped copy; fused, Q, K, V and the fp32 log-sum-exp per query row. Selective recompute
  /// keeps Q and the unexpanded K, V as the checkpoint's inputs and drops the rest.
  static func crossAttentionCore(
    _ m: TransformerModel, _ shard: Shard, queries sq: Double, keys sk: Double
  ) -> LayerOp {
    let t = Double(shard.tensor), e = shard.precision.activationBytes
    let b = shard.sequences
    let a = Double(m.heads), dh = Double(m.headDim)
    let qw = Double(m.queryWidth), kvw = Double(m.keyValueWidth)
    let heads = b * a / t
    let fp8 = m.fp8?.attention ?? false
    let gemms = [
      GEMMShape(
        "cross_attention_scores", m: sq, n: sk, k: dh, batch: heads, kind: .attention, fp8: fp8),
      GEMMShape(
        "cross_attention_over_values", m: sq, n: dh, k: sk, batch: heads, kind: .attention,
        fp8: fp8),
    ]
    let query = e * sq * b * qw / t
    let keyValue = e * sk * b * kvw / t  // K or V, unexpanded
    var saved: [SavedTensor] = []
    var bytes = 0.0
    if m.fusedAttention {
      saved.append(SavedTensor("cross_query", query))
      saved.append(SavedTensor("cross_key_value", 2 * keyValue))
      saved.append(SavedTensor("cross_softmax_statistics", 4 * a * sq * b / t, underSelective: 0))
      if m.flashOutputCopy {
        // flash-attn's own [b, s] output beside the projection's copy (`flashOutputCopy`).
        saved.append(SavedTensor("cross_attention_kernel_output", query, underSelective: 0))
      }
    } else {
      let expanded = m.queryGroups == m.heads ? keyValue : e * sk * b * qw / t
      saved.append(SavedTensor("cross_query", query))
      saved.append(
        SavedTensor("cross_key_value", 2 * expanded, underSelective: 2 * keyValue))
      let scores = a * sq * sk * b / t
      let attentionDropout = m.dropout.attention > 0
      if m.fusions.maskedSoftmax || shard.precision == .fp32 {
        saved.append(SavedTensor("cross_softmax_output", e * scores, underSelective: 0))
      } else {
        saved.append(SavedTensor("cross_softmax_output", 4 * scores, underSelective: 0))
        if !attentionDropout {
          saved.append(SavedTensor("cross_softmax_output_16bit", e * scores, underSelective: 0))
        }
      }
      if attentionDropout {
        saved.append(SavedTensor("cross_softmax_dropout_mask", scores, underSelective: 0))
        saved.append(SavedTensor("cross_attention_dropout_output", e * scores, underSelective: 0))
        bytes += (2 * e + 1) * scores
      }
      bytes += 2 * e * scores
    }
    // Backward: the gradients of its output and Q (s_dec), of K and V (s_enc; unfused, the
    // copies repeated to a heads) and, unfused, of the probabilities and the scores.
    let keyValueGradients = m.fusedAttention ? 2 * keyValue : 2 * e * sk * b * qw / t
    let transient =
      2 * query + keyValueGradients + (m.fusedAttention ? 0 : 2 * e * a * sq * sk * b / t)
    var core = LayerOp(
      kind: .crossAttentionCore, gemms: gemms, saved: saved, elementwiseBytes: bytes,
      recompute: .coreAttention, backwardTransient: transient)
    if m.fusedAttention {
      core.kernel = FlashAttentionCalls(keyLength: sk, causalShare: 0, headDim: dh)
    }
    return core
  }
}
