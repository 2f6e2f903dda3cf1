/// Megatron-LM's T5 (`pretrain_t5.py`, examples/t5/train_t5_220m_distributed.sh) into the NeMo
/// T5 shape `ConfigLoader` reads (`model.encoder` / `model.decoder` blocks,
/// ConfigLoader+EncoderDecoder.swift). Megatron-LM builds both stacks from the same architecture
/// flags (`--hidden-size`, `--num-attention-heads`, `--kv-channels`, `--ffn-hidden-size`, the
/// norm, activation, biases, positions, dropouts and recompute), with their layer counts from
/// `--encoder-num-layers` and `--decoder-num-layers` (each defaulting to `--num-layers`,
/// arguments.py), the encoder's length from `--encoder-seq-length` (or `--seq-length`, its alias)
/// and the decoder's from `--decoder-seq-length`.
extension MegatronArguments {
  static let encoderDecoderFlags: [(flag: String, key: String)] = [
    ("--encoder-num-layers", "model.encoder.num_layers"),
    ("--decoder-num-layers", "model.decoder.num_layers"),
    ("--encoder-seq-length", "model.seq_length"),
    ("--decoder-seq-length", "model.data.seq_length_dec"),
    ("--pipeline-model-parallel-split-rank", "model.pipeline_model_parallel_split_rank"),
    ("--vocab-extra-ids", "model.tokenizer.num_sentinel_tokens"),
  ]

  static let encoderDecoderValueFlags: Set<String> = Set(encoderDecoderFlags.map(\.flag))
    .union(["--encoder-pipeline-model-parallel-size", "--encoder-tensor-model-parallel-size"])

  /// The flags that make a script an encoder–decoder one.
  static let encoderDecoderMarkers = [
    "--encoder-num-layers", "--decoder-num-layers", "--decoder-seq-length",
  ]

  /// The keys of a decoder-only tree that describe one stack: each is copied into both blocks.
  static let stackKeys: Set<String> = [
    "num_layers", "hidden_size", "ffn_hidden_size", "num_attention_heads", "kv_channels",
    "num_query_groups", "activation", "normalization", "bias", "add_qkv_bias", "qk_layernorm",
    "position_embedding_type", "rotary_percentage", "rotary_base", "hidden_dropout",
    "attention_dropout", "bias_activation_fusion", "masked_softmax_fusion", "apply_rope_fusion",
    "activations_checkpoint_granularity", "activations_checkpoint_method",
    "activations_checkpoint_num_layers",
  ]
}

extension Mapper {
  /// Rewrites the tree of a T5 script into the two blocks. Megatron-LM's newer encoder pipeline
  /// (`--encoder-pipeline-model-parallel-size`: encoder ranks of their own beside the decoder's
  /// pipeline) and encoder tensor parallelism are refused with the flag named.
  mutating func encoderDecoder() throws {
    guard MegatronArguments.encoderDecoderMarkers.contains(where: has) else { return }
    for flag in ["--encoder-pipeline-model-parallel-size", "--encoder-tensor-model-parallel-size"] {
      guard let occurrence = flags[flag] else { continue }
      throw ConfigError(
        "\(flag): an encoder with its own pipeline or tensor-parallel ranks is not modeled yet; megaplan models the encoder and decoder on one pipeline split at --pipeline-model-parallel-split-rank",
        key: "model.pipeline_model_parallel_split_rank",
        at: reader.location(of: occurrence.flag))
    }
    var stacks: [TreeEntry] = []
    for entry in entries
    where entry.path.count == 2 && entry.path[0] == "model"
      && MegatronArguments.stackKeys.contains(entry.path[1])
    {
      for block in ["encoder", "decoder"] {
        var copy = entry
        copy.path = ["model", block, entry.path[1]]
        stacks.append(copy)
      }
    }
    entries.removeAll {
      $0.path.count == 2 && $0.path[0] == "model"
        && (MegatronArguments.stackKeys.contains($0.path[1]) || $0.path[1] == "encoder_seq_length")
    }
    entries += stacks
    try copy("--encoder-num-layers", to: ["model", "encoder", "num_layers"], integer: true)
    try copy("--decoder-num-layers", to: ["model", "decoder", "num_layers"], integer: true)
    // The encoder's length: `--encoder-seq-length`, or `--seq-length` (arguments.py makes them
    // one: `args.encoder_seq_length = args.seq_length`).
    if has("--encoder-seq-length") {
      try copy("--encoder-seq-length", to: ["model", "seq_length"], integer: true)
    } else {
      try copy("--seq-length", to: ["model", "seq_length"], integer: true)
    }
    try copy("--decoder-seq-length", to: ["model", "data", "seq_length_dec"], integer: true)
    try copy(
      "--pipeline-model-parallel-split-rank", to: ["model", "pipeline_model_parallel_split_rank"],
      integer: true)
    // Megatron's BERT WordPiece tokenizer adds [BOS] and [EOS] (its vocabularies have neither)
    // before the `--vocab-extra-ids` sentinels (megatron/training/tokenizer/tokenizer.py
    // `_BertWordPieceTokenizer`): both count toward the vocabulary.
    let key = "model.tokenizer.num_sentinel_tokens"
    let extra = try integer("--vocab-extra-ids", key: key)
    let type = try value("--tokenizer-type", key: "model.tokenizer.type")?.text ?? ""
    let added = type.hasPrefix("BertWordPiece") ? 2 : 0
    if extra != nil || added > 0 {
      let location = extra?.location ?? defaultLocation
      set(
        ["model", "tokenizer", "num_sentinel_tokens"], String((extra?.value ?? 0) + added),
        at: location, key: extra?.keyLocation ?? defaultLocation)
    }
  }
}
