/// Reading an encoder–decoder model (T5, mT5) as NeMo's `megatron_t5_config.yaml` and the
/// launcher's `training/t5`, `training/mt5` files write it: `model.encoder` and `model.decoder`
/// blocks, each with its own architecture keys (the decoder-only model's names: `num_layers`,
/// `hidden_size`, `ffn_hidden_size`, `num_attention_heads`, `kv_channels`, `activation`,
/// `normalization`, `bias`, `position_embedding_type` with `relative_attention_num_buckets` and
/// `relative_attention_max_distance`, the dropouts, `transformer_block_type`, the fusions and the
/// `activations_checkpoint_*` keys), and at the top of `model` the parallel layout, the batch,
/// `seq_length` (the encoder's), `max_position_embeddings`, `pipeline_model_parallel_split_rank`,
/// `share_token_embeddings`, `share_decoder_tokens_head_embeddings` and the tokenizer. The
/// decoder's length is `model.data.seq_length_dec` in these files (NeMo's `MegatronT5Model`
/// reads `cfg.data.seq_length_dec`); `model.max_seq_length_dec` is read when it is absent.
extension ConfigLoader {
  /// One stack's sizes and architecture.
  struct Stack {
    var layers: Int
    var hidden: Int
    var heads: Int
    var ffn: Int
    var arch: Architecture
    var recompute: Recompute
  }

  /// What `load` needs of an encoder–decoder file beyond what every file has.
  struct EncoderDecoderRead {
    var encoder: Stack
    var decoder: Stack
    var encoderSequence: Int
    var decoderSequence: Int
    var maxPositions: Int
    var shareTokenEmbeddings: Bool
    var shareHeadEmbeddings: Bool
    var relative: RelativeAttention?
    /// The split rank as the file gives it (NeMo's default ⌊p/2⌋).
    var splitRank: Int
  }

  static func isEncoderDecoder(_ r: KeyReader) -> Bool {
    r.has("model.encoder") || r.has("model.decoder")
  }

  static func readStack(_ r: inout KeyReader, _ name: String) throws -> Stack {
    let prefix = "model.\(name)"
    guard r.has(prefix) else {
      throw r.error(
        "an encoder-decoder model needs both model.encoder and model.decoder; '\(prefix)' is missing",
        key: prefix)
    }
    let layers = try r.size("\(prefix).num_layers")
    let hidden = try r.size("\(prefix).hidden_size")
    let heads = try r.size("\(prefix).num_attention_heads")
    let ffn = try r.size("\(prefix).ffn_hidden_size", default: 4 * hidden, why: "4 × hidden_size")
    let arch = try readArchitecture(&r, hidden: hidden, heads: heads, prefix: prefix)
    let recompute = try readRecompute(&r, prefix: prefix)
    return Stack(
      layers: layers, hidden: hidden, heads: heads, ffn: ffn, arch: arch, recompute: recompute)
  }

  static func readEncoderDecoder(_ r: inout KeyReader, pipeline p: Int) throws
    -> EncoderDecoderRead
  {
    let encoder = try readStack(&r, "encoder")
    let decoder = try readStack(&r, "decoder")
    if encoder.recompute != decoder.recompute {
      throw r.error(
        "the encoder's recompute (\(encoder.recompute)) and the decoder's (\(decoder.recompute)) differ; megaplan models one setting for both stacks",
        key: r.has("model.decoder.activations_checkpoint_granularity")
          ? "model.decoder.activations_checkpoint_granularity" : "model.decoder")
    }
    let seqKey = r.has("model.seq_length") ? "model.seq_length" : "model.encoder_seq_length"
    let sEnc = try r.size(seqKey, missing: "model.seq_length (the encoder's length)")
    let decKey =
      r.has("model.data.seq_length_dec") ? "model.data.seq_length_dec" : "model.max_seq_length_dec"
    let sDec = try r.size(
      decKey, missing: "model.data.seq_length_dec (the decoder's length, as NeMo's T5 reads it)")
    let maxPos = try r.size(
      "model.max_position_embeddings", default: max(sEnc, sDec), why: "the longer sequence")
    for (key, s) in [(seqKey, sEnc), (decKey, sDec)]
    where s > maxPos && encoder.arch.position == .learnedAbsolute {
      throw r.error(
        "\(KeyReader.leaf(key)) \(s) exceeds max_position_embeddings \(maxPos), the rows of the learned position table",
        key: key)
    }
    var relative: RelativeAttention? = nil
    if encoder.arch.position == .relative || decoder.arch.position == .relative {
      let block = encoder.arch.position == .relative ? "model.encoder" : "model.decoder"
      relative = RelativeAttention(
        buckets: try r.size("\(block).relative_attention_num_buckets", default: 32),
        maxDistance: try r.size("\(block).relative_attention_max_distance", default: 128),
        selfAttentionOnly: try r.bool(
          "\(block).relative_position_bias_self_attention_only", default: true))
    }
    let rank: Int
    if r.has("model.pipeline_model_parallel_split_rank") {
      guard let given = try r.optionalInt("model.pipeline_model_parallel_split_rank", record: true),
        given >= 0, given <= maximumSize
      else {
        throw r.error(
          "pipeline_model_parallel_split_rank must be zero or a positive integer",
          key: "model.pipeline_model_parallel_split_rank")
      }
      rank = given
    } else {
      rank = p / 2
      r.defaulted("model.pipeline_model_parallel_split_rank", "\(rank) (⌊p/2⌋, NeMo's default)")
    }
    return EncoderDecoderRead(
      encoder: encoder, decoder: decoder, encoderSequence: sEnc, decoderSequence: sDec,
      maxPositions: maxPos,
      shareTokenEmbeddings: try r.bool("model.share_token_embeddings", default: true),
      shareHeadEmbeddings: try r.bool("model.share_decoder_tokens_head_embeddings", default: true),
      relative: relative, splitRank: rank)
  }

  /// Tokens NeMo adds to a T5 tokenizer's vocabulary (`MegatronT5Model`
  /// `_add_special_tokens_to_tokenizer`, `_add_base_special_tokens`): `num_sentinel_tokens`
  /// `<extra_id_i>`; for a SentencePiece model also `<cls>`, `<sep>`, `<mask>`, `<pad>` (its pad
  /// id is 0) and `<bos>` (it has none), its `</s>` serving as end: 5. A BERT WordPiece vocabulary
  /// has [CLS], [SEP], [MASK] and [PAD], which NeMo's tokenizer uses for them.
  static func encoderDecoderExtraTokens(_ r: inout KeyReader) throws -> Int {
    let sentinels =
      r.has("model.tokenizer.num_sentinel_tokens")
      ? try r.optionalInt("model.tokenizer.num_sentinel_tokens", record: true) ?? 0 : 0
    guard sentinels >= 0, sentinels <= maximumSize else {
      throw r.error(
        "num_sentinel_tokens must be zero or a positive integer",
        key: "model.tokenizer.num_sentinel_tokens")
    }
    let library = (try r.optionalString("model.tokenizer.library") ?? "megatron").lowercased()
    return sentinels + (library == "sentencepiece" ? 5 : 0)
  }

  /// The encoder stack as a model of its own (its widths, s_enc, the file's numerics).
  static func encoderModel(
    _ read: EncoderDecoderRead, vocabulary: Int, fused: Bool, fp8: FP8Training?
  ) -> TransformerModel {
    let e = read.encoder
    return TransformerModel(
      layers: e.layers, hidden: e.hidden, heads: e.heads, queryGroups: e.arch.queryGroups,
      headDim: e.arch.headDim, ffnHidden: e.ffn, sequenceLength: read.encoderSequence,
      maxPositionEmbeddings: read.maxPositions, vocabulary: vocabulary, tiedEmbeddings: true,
      normalization: e.arch.normalization, activation: e.arch.activation,
      linearBiases: e.arch.linearBiases, qkvBias: e.arch.qkvBias,
      qkLayerNorm: e.arch.qkLayerNorm, positionEmbedding: e.arch.position,
      dropout: e.arch.dropout, fusions: e.arch.fusions, fusedAttention: fused, fp8: fp8
    )
    .with(blockType: e.arch.blockType)
  }
}
