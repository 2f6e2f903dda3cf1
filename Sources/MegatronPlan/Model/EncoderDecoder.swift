/// An encoder–decoder transformer (T5, mT5) as NeMo and Megatron-Core build it
/// (`MegatronT5Model`, Megatron-Core `T5Model`): an encoder stack of bidirectional self-attention
/// layers over the s_enc input tokens, and a decoder stack whose layers run causal
/// self-attention over the s_dec target tokens, then cross-attention (queries from the decoder,
/// keys and values from the encoder's output), then the MLP.
///
/// The owning `TransformerModel` describes the decoder stack (its widths, norm, activation,
/// dropout, positions; `sequenceLength` = s_dec) and holds every layer: `layers` = L_enc + L_dec,
/// the first L_enc of them encoder layers. `encoder` describes the encoder stack (its own widths;
/// `sequenceLength` = s_enc). NeMo's launcher files give both stacks the same widths; megaplan
/// models them as written either way.
public struct EncoderDecoder: Sendable, Hashable, Codable {
  /// One element: the encoder stack (an array only because a struct cannot hold its own type).
  private var stack: [TransformerModel]
  /// `share_token_embeddings`: one word embedding for the encoder's and the decoder's input.
  public var shareTokenEmbeddings: Bool
  /// `share_decoder_tokens_head_embeddings`: the output layer is the decoder's word embedding
  /// (with its own bias of V, Megatron-Core `T5LMHead`); else a V × h weight of its own.
  public var shareHeadEmbeddings: Bool
  /// T5's relative position bias (`position_embedding_type: relative`), per stack.
  public var relativeAttention: RelativeAttention?

  public init(
    encoder: TransformerModel, shareTokenEmbeddings: Bool = true,
    shareHeadEmbeddings: Bool = true, relativeAttention: RelativeAttention? = nil
  ) {
    var encoder = encoder
    encoder.encoderDecoder = nil
    stack = [encoder]
    encoderLayers = encoder.layers
    encoderSequence = encoder.sequenceLength
    encoderHidden = encoder.hidden
    self.shareTokenEmbeddings = shareTokenEmbeddings
    self.shareHeadEmbeddings = shareHeadEmbeddings
    self.relativeAttention = relativeAttention
  }

  /// The encoder stack: its layers, widths and s_enc (`sequenceLength`).
  public var encoder: TransformerModel { stack[0] }
  /// L_enc, s_enc and h_enc, kept beside the stack (read per stage on the search's hot path).
  public let encoderLayers: Int
  public let encoderSequence: Int
  public let encoderHidden: Int
}

/// T5's relative position bias (NeMo `relative_attention_num_buckets`,
/// `relative_attention_max_distance`, `relative_position_bias_self_attention_only`): a learned
/// table of buckets × heads per stack, looked up for every (query, key) pair once per forward of
/// the stack and added to every layer's attention scores.
public struct RelativeAttention: Sendable, Hashable, Codable {
  public var buckets: Int
  public var maxDistance: Int
  /// Only the self-attentions carry the bias (the default); else the decoder's cross-attention
  /// has a table of its own too.
  public var selfAttentionOnly: Bool

  public init(buckets: Int, maxDistance: Int, selfAttentionOnly: Bool = true) {
    self.buckets = buckets
    self.maxDistance = maxDistance
    self.selfAttentionOnly = selfAttentionOnly
  }

  /// Tables of buckets × a: the encoder's, the decoder's self-attention and, unless
  /// `selfAttentionOnly`, the decoder's cross-attention.
  public func parameters(encoderHeads: Int, decoderHeads: Int) -> Double {
    Double(buckets)
      * Double(encoderHeads + decoderHeads + (selfAttentionOnly ? 0 : decoderHeads))
  }
}

extension TransformerModel {
  /// The kind of layer `i` (0-based over all `layers`): an encoder layer, a decoder layer with
  /// cross-attention, or for a decoder-only model nil.
  public func isEncoderLayer(_ i: Int) -> Bool {
    guard let ed = encoderDecoder else { return false }
    return i < ed.encoderLayers
  }

  /// L_dec for an encoder–decoder model (all layers otherwise).
  public var decoderLayers: Int { layers - (encoderDecoder?.encoderLayers ?? 0) }

  /// Tokens one training sample counts toward a token budget: s for a decoder-only model; for an
  /// encoder–decoder model the encoder's s_enc, as NeMo's T5 recipes count them (their
  /// `max_steps` × global batch × `seq_length` is the ~1T tokens they train on).
  public var tokensPerSample: Int { encoderDecoder?.encoderSequence ?? sequenceLength }
}
