import Testing

@testable import MegatronPlan

/// Megatron-LM's architecture flags reach the model they describe (values by hand from the
/// flags; Llama 3 8B's shape from its config.json: 32 layers, h 4,096, 32 heads, 8 groups,
/// f 14,336, V 128,256, rope θ 500,000).
@Suite struct MegatronArchitectureFlagsTests {
  static let llama3 = """
    torchrun --nproc_per_node 8 pretrain_gpt.py \\
      --num-layers 32 --hidden-size 4096 --num-attention-heads 32 --ffn-hidden-size 14336 \\
      --group-query-attention --num-query-groups 8 --kv-channels 128 \\
      --seq-length 8192 --max-position-embeddings 8192 \\
      --micro-batch-size 1 --global-batch-size 128 --tensor-model-parallel-size 2 \\
      --normalization RMSNorm --swiglu --disable-bias-linear --untie-embeddings-and-output-weights \\
      --position-embedding-type rope --rotary-base 500000 --rotary-percent 1.0 \\
      --hidden-dropout 0.0 --attention-dropout 0.0 --no-masked-softmax-fusion \\
      --vocab-size 128256 --bf16
    """

  @Test("a Llama 3 8B launch line gives Llama 3 8B")
  func llama3() throws {
    let tree = try MegatronArguments.parse(Self.llama3, file: "llama3.sh")
    let loaded = try ConfigLoader.load(ConfigDocument(root: tree, file: "llama3.sh"))
    let m = loaded.run.model
    #expect(m.queryGroups == 8 && m.headDim == 128 && m.ffnHidden == 14336)
    #expect(m.normalization == .rmsNorm && m.activation == .swiglu && !m.linearBiases)
    #expect(m.positionEmbedding == .rotary(percentage: 1, base: 500_000))
    #expect(m.dropout == .none && !m.fusions.maskedSoftmax && m.fusions.rope)
    #expect(!m.tiedEmbeddings)
  }

  @Test("--activation-func-fp8-input-store and its NeMo key store the SwiGLU input in FP8")
  func fp8ActivationInput() throws {
    #expect(
      try !ConfigLoader.load(
        ConfigDocument(root: try MegatronArguments.parse(Self.llama3, file: "l.sh"), file: "l.sh")
      ).run.model.fusions.fp8ActivationInput)
    let flagged = Self.llama3.replacingOccurrences(
      of: "--bf16", with: "--bf16 --activation-func-fp8-input-store")
    let tree = try MegatronArguments.parse(flagged, file: "f.sh")
    #expect(
      try ConfigLoader.load(ConfigDocument(root: tree, file: "f.sh")).run.model.fusions
        .fp8ActivationInput)
    let yaml = """
      trainer:
        num_nodes: 1
        devices: 8
        precision: bf16
      model:
        num_layers: 2
        hidden_size: 256
        num_attention_heads: 4
        ffn_hidden_size: 688
        activation: swiglu
        encoder_seq_length: 128
        max_position_embeddings: 128
        micro_batch_size: 1
        global_batch_size: 8
        activation_func_fp8_input_store: true
      megaplan:
        vocab_size: 1024
      """
    let loaded = try ConfigLoader.load(try ConfigDocument.parse(yaml, file: "s.yaml"))
    #expect(loaded.run.model.fusions.fp8ActivationInput)
    #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
  }

  @Test("uneven splits: first/last stage layers, and BLOOM's partition method")
  func splits() throws {
    let args = """
      --num-layers 30 --hidden-size 256 --num-attention-heads 4 --seq-length 128 \\
      --micro-batch-size 1 --global-batch-size 8 --pipeline-model-parallel-size 4 \\
      --decoder-first-pipeline-num-layers 6 --decoder-last-pipeline-num-layers 6 \\
      --vocab-size 1024 --nproc_per_node 4
      """
    let tree = try MegatronArguments.parse(args, file: "a.sh")
    let layout = try ConfigLoader.load(ConfigDocument(root: tree, file: "a.sh")).run.layout
    // 30 − 6 − 6 = 18 layers over the 2 middle stages: 9 each.
    #expect(layout.split == PipelineSplit(firstStageLayers: 6, lastStageLayers: 6))
    let bloom = """
      --num-layers 22 --hidden-size 256 --num-attention-heads 4 --seq-length 128 \\
      --micro-batch-size 1 --global-batch-size 8 --pipeline-model-parallel-size 4 \\
      --pp-partition-method 'type:transformer|embedding' --vocab-size 1024 --nproc_per_node 4
      """
    let split = try ConfigLoader.load(
      ConfigDocument(root: try MegatronArguments.parse(bloom, file: "b.sh"), file: "b.sh")
    ).run.layout.split
    // 22 layers + 2 embeddings = 24 parts, 6 per stage: 5, 6, 6, 5.
    #expect((0..<4).map { split.layers(onStage: $0, of: 22, stages: 4) } == [5, 6, 6, 5])
    let other = bloom.replacingOccurrences(of: "type:transformer|embedding", with: "parameters")
    #expect(throws: ConfigError.self) {
      try MegatronArguments.parse(other, file: "c.sh")
    }
  }
}
