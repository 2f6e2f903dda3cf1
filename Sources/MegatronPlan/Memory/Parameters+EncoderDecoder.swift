/// Parameters of an encoder–decoder model (`EncoderDecoder`), whole and per stage, as NeMo's
/// `MegatronTokenLevelEncoderDecoderModule` and Megatron-Core's `T5Model` hold them:
/// - the layers (`ParameterCount.layers(_:)`: `encoder`, `decoder`: the decoder's with its cross-attention);
/// - the word embedding of V rows, one for both stacks with `share_token_embeddings` (else one
///   per stack), and with learned absolute positions their table of max_position_embeddings rows
///   (part of the same embedding module, so shared with it);
/// - T5's relative position bias tables, buckets × heads per stack (`RelativeAttention`);
/// - each stack's final norm;
/// - the output layer: with `share_decoder_tokens_head_embeddings` the decoder's word embedding
///   and a bias of V (Megatron-Core `T5LMHead`: `bias=share_embeddings_and_output_weights`); else
///   a V × h weight of its own.
extension ParameterCount {
  static func encoderDecoderTotal(_ m: TransformerModel) -> Breakdown<ParameterUnit> {
    guard let ed = m.encoderDecoder else { return total(m) }
    let enc = ed.encoder
    let layers = self.layers(m)
    let V = Double(m.vocabulary), h = Double(m.hidden), hEnc = Double(enc.hidden)
    var b = Breakdown<ParameterUnit>()
    b.add("transformer_layers", Parameters(layers.total(m.layerKinds(in: 0..<m.layers))))
    b.add("word_embedding", Parameters(ed.shareTokenEmbeddings ? V * h : V * (h + hEnc)))
    if m.learnedPositionEmbeddings {
      let rows = Double(m.maxPositionEmbeddings)
      b.add(
        "position_embedding", Parameters(ed.shareTokenEmbeddings ? rows * h : rows * (h + hEnc)))
    }
    if let rel = ed.relativeAttention {
      b.add(
        "relative_position_bias",
        Parameters(rel.parameters(encoderHeads: enc.heads, decoderHeads: m.heads)))
    }
    b.add("final_layernorm", Parameters(finalNorm(enc) + finalNorm(m)))
    b.add("output_layer", Parameters(ed.shareHeadEmbeddings ? V : V * h))
    return b
  }

  /// One GPU of stage `stage`: its layers; the encoder's input embedding (and its positions) on
  /// the first stage; the decoder's on the first decoder stage (with shared embeddings and p > 1
  /// a copy, as Megatron keeps tied embeddings on each stage that needs them); each stack's
  /// relative bias table on every stage holding its layers; the encoder's final norm on its last
  /// stage; the decoder's final norm and the output layer (a copy of the shared embedding when
  /// p > 1, and its bias) on the last stage.
  static func encoderDecoderStage(
    _ m: TransformerModel, _ layout: Layout, stage: Int, layers: PerKind<LayerOp.Parameters>,
    counts kinds: LayerCounts
  ) -> StageParameters {
    guard let ed = m.encoderDecoder else { return StageParameters() }
    let enc = ed.encoder
    let t = Double(max(1, layout.tensor)), p = max(1, layout.pipeline)
    let r = p > 1 ? (layout.split.encoderStages ?? 0) : 0
    let V = Double(m.vocabulary), h = Double(m.hidden), hEnc = Double(enc.hidden)
    let rows = m.learnedPositionEmbeddings ? Double(m.maxPositionEmbeddings) : 0
    let here = layers.perGPU(kinds, layout)
    var s = StageParameters()
    s.layers = here.all
    let firstDecoder = p > 1 ? r : 0
    if stage == 0 {
      s.wordEmbedding += V * hEnc / t
      s.positionEmbedding += rows * hEnc
    }
    if stage == firstDecoder {
      // The decoder's input embedding: the encoder's own with p = 1 and shared embeddings.
      if p > 1 || !ed.shareTokenEmbeddings {
        s.wordEmbedding += V * h / t
        s.positionEmbedding += rows * h
      }
    }
    if let rel = ed.relativeAttention {
      // Every stage of a stack computes that stack's bias, so each holds its table (NeMo
      // subtracts the replicas from its parameter count: `_get_total_params_across_model_
      // parallel_groups_enc_dec`).
      if kinds.encoder > 0 { s.relativeBias += Double(rel.buckets * enc.heads) }
      if kinds.decoder > 0 {
        s.relativeBias += Double(rel.buckets * m.heads * (rel.selfAttentionOnly ? 1 : 2))
      }
    }
    if stage == (p > 1 ? r - 1 : 0) { s.finalNorm += finalNorm(enc) }
    if stage == p - 1 {
      s.finalNorm += finalNorm(m)
      if ed.shareHeadEmbeddings {
        s.outputLayer = V / t + (stage == firstDecoder ? 0 : V * h / t)
      } else {
        s.outputLayer = V * h / t
      }
    }
    return s
  }
}
