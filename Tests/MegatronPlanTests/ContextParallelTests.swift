import Foundation
import Testing

@testable import MegatronPlan

/// Context parallelism (issue 14), by hand. Llama 3 8B from meta-llama/Meta-Llama-3-8B's
/// config.json: 32 layers, h 4,096, 32 query heads and 8 key/value groups of d_h 128, FFN 14,336
/// (SwiGLU), V 128,256, untied, RMSNorm, no biases, rope; NeMo's dropout 0 and fused attention.
@Suite struct ContextParallelTests {
  static func llama3(sequence s: Int) -> TransformerModel {
    TransformerModel(
      layers: 32, hidden: 4096, heads: 32, queryGroups: 8, ffnHidden: 14336, sequenceLength: s,
      vocabulary: 128_256, tiedEmbeddings: false, normalization: .rmsNorm, activation: .swiglu,
      linearBiases: false, positionEmbedding: .rotary(percentage: 1, base: 500_000),
      dropout: .none, fusedAttention: true)
  }

  /// Issue 14's case: s = 128k (131,072) on 16 H100 with t = 4, cp = 4 (d = 1), micro-batch 1,
  /// sequence parallelism, the distributed optimizer, no recompute, bf16.
  static let model = llama3(sequence: 131_072)
  static let layout = Layout(
    tensor: 4, pipeline: 1, data: 1, microBatch: 1, globalBatch: 8, sequenceParallel: true,
    distributedOptimizer: true, contextParallel: 4)

  @Test("Llama 3 8B, s = 128k, t 4 cp 4 on 16 GPUs: per-GPU parameters and states by hand")
  func states() {
    #expect(Self.layout.gpus == 16)
    // Sharded per layer: QKV h(a + 2g)d_h = 4096 · 6144 = 25,165,824; projection 4096² =
    // 16,777,216; fc1 h · 2f = 4096 · 28,672 = 117,440,512; fc2 f · h = 58,720,256; together
    // 218,103,808 / t = 54,525,952. Replicated: two RMSNorms, 8,192. Embedding and output layer
    // V·h/t = 131,334,144 each; the final norm 4,096. Context parallelism shards no weight.
    let perGPU = 32 * (54_525_952 + 8_192) + 2 * 131_334_144 + 4_096
    #expect(perGPU == 2_007_764_992)
    let params = ParameterCount.perGPU(Self.model, Self.layout, stage: 0)
    #expect(params.total.value == Double(perGPU))
    // bf16 weights (2 B), fp32 gradients (4 B), fp32 master and moments (12 B) sharded by the
    // distributed optimizer over d·cp = 4 ranks: 3 B.
    #expect(Self.layout.dataParallelWithContext == 4)
    let states = StateMemory.states(parameters: params.total, precision: .bf16, layout: Self.layout)
    #expect(states[named: "weights"].value == Double(2 * perGPU))
    #expect(states[named: "gradients"].value == Double(4 * perGPU))
    #expect(states[named: "optimizer"].value == Double(3 * perGPU))
  }

  @Test("Llama 3 8B, s = 128k, t 4 cp 4: one layer's saved tensors by hand")
  func layerActivations() {
    // T = s·b/cp = 32,768 tokens per rank; SP splits the per-token tensors over t (r = 4).
    let T = 32_768.0, e = 2.0
    let hSP = e * T * 4096 / 4  // 67,108,864: one h-wide tensor, sequence-sharded
    let saved = ActivationMemory.fullLayer(Self.model, Self.layout)
    #expect(saved[named: "layernorm_inputs"].value == 2 * hSP)  // input and pre-MLP RMSNorms
    #expect(saved[named: "qkv_input"].value == hSP)
    #expect(saved[named: "fc1_input"].value == hSP)
    // Flash attention keeps Q and K (a·d_h + g·d_h = 5,120 wide), V (1,024) and the fp32
    // log-sum-exp of a/t = 8 heads per row, all for the rank's own T tokens.
    #expect(saved[named: "query_key"].value == e * T * 5120 / 4)  // 83,886,080
    #expect(saved[named: "value"].value == e * T * 1024 / 4)  // 16,777,216
    #expect(saved[named: "softmax_statistics"].value == 4 * 32 * T / 4)  // 1,048,576
    #expect(saved[named: "projection_input"].value == e * T * 4096 / 4)  // 67,108,864
    #expect(saved[named: "activation_input"].value == e * T * 28672 / 4)  // 469,762,048
    #expect(saved[named: "fc2_input"].value == e * T * 14336 / 4)  // 234,881,024
    #expect(saved.total.value == 1_141_899_264)
  }

  @Test("Llama 3 8B, s = 128k, t 4 cp 4: the stage's activations and steady state by hand")
  func stage() {
    let acts = ActivationMemory.stage(Self.model, Self.layout, stage: 0)
    // p = 1: one microbatch in flight; 32 layers of 1,141,899,264 B; the final norm's and the
    // output layer's inputs (2·T·h/t each) and the fp32 logits 4·T·V/t = 4,202,692,608.
    #expect(acts[named: "layers"].value == 32 * 1_141_899_264)
    #expect(acts[named: "final_layernorm_input"].value == 67_108_864)
    #expect(acts[named: "output_layer_input"].value == 67_108_864)
    #expect(acts[named: "logits"].value == 4 * 32_768 * 128_256 / 4)
    #expect(acts.total.value == 40_877_686_784)
    // With the states (9 B × 2,007,764,992): 58,947,571,712 B, 54.9 GiB before transients.
    var run = TrainingRun(model: Self.model, layout: Self.layout, gpu: .h100SXM)
    run.software.attentionFLOPs = .causal
    let e = Estimate(run)
    #expect(e.memory.totalBytes == 58_947_571_712)
    #expect(e.memory.peakBytes > e.memory.totalBytes)
  }

  @Test("ring attention's traffic for Llama 3 8B at 128k, t 4 cp 4, by hand")
  func ringTraffic() {
    let traffic = ContextParallelTraffic(Self.model, Self.layout, elementBytes: 2)
    // One K/V block: K and V of T = 32,768 tokens, g·d_h/t = 256 wide each: 2 · 32,768 · 2 · 256
    // = 33,554,432 B (32 MiB); cp − 1 = 3 steps forward, each block again with dK, dV backward.
    #expect(traffic.keyValueBlock == 33_554_432)
    #expect(traffic.ringSteps == 3)
    #expect(traffic.ringBytesForward == 33_554_432)
    #expect(traffic.ringBytesBackward == 67_108_864)
    #expect(traffic.allToAllBytes == 0)
    // Held at the forward's end: the three received blocks and four partial outputs (Q-sized,
    // 2 · 32,768 · 1,024 = 67,108,864 each); in backward two K/V + dK/dV buffers and dQ.
    #expect(traffic.forwardBuffers == 3 * 33_554_432 + 4 * 67_108_864)
    #expect(traffic.backwardBuffers == 4 * 33_554_432 + 67_108_864)
  }

  @Test("what each cp_comm_type moves, by hand")
  func commTypes() {
    func traffic(_ comm: ContextParallelComm) -> ContextParallelTraffic {
      var l = Self.layout
      l.contextParallelComm = comm
      return ContextParallelTraffic(Self.model, l, elementBytes: 2)
    }
    let kv = 33_554_432.0, q = 67_108_864.0
    // all_gather: the whole sequence's K, V (cp blocks), not a ring.
    let gather = traffic(.allGather)
    #expect(gather.ringSteps == 0 && gather.gatheredKeyValue == 4 * kv)
    // a2a over 4: Q, K, V before and O after, 3/4 of each leaving the rank.
    let a2a = traffic(.a2a)
    #expect(a2a.ringSteps == 0 && a2a.allToAllBytes == (2 * q + kv) * 3 / 4)
    // a2a+p2p with a2a groups of 2: all-to-all over 2, a ring of 2 (one step).
    let both = traffic(.a2aP2P(a2a: 2))
    #expect(both.ringSteps == 1 && both.allToAllBytes == (2 * q + kv) / 2)
  }

  @Test("the ring's sends hide behind attention at 128k; all_gather and a2a show")
  func exposure() {
    var run = TrainingRun(model: Self.model, layout: Self.layout, gpu: .h100SXM)
    let ring = run.stepTimeModel.layerForward()
    // t·cp = 16 > 8: the ring crosses nodes, a 32 MiB send at the NIC's 50 GB/s × 0.5 takes
    // 1.3 ms; one block's attention, 2·2·T·s·d_h·(a/t)/2/cp = 2.2 TFLOP at ≈ 550 TFLOP/s, takes
    // 4 ms: nothing shows.
    #expect(ring.contextParallelComm.value == 0)
    run.layout.contextParallelComm = .allGather
    let gather = run.stepTimeModel.layerForward().contextParallelComm.value
    // An all-gather of 4 blocks (128 MiB) over 4 ranks 4 apart crossing nodes, as NCCL runs
    // it: (3/4) · 128 MiB at 2 rails × 50 GB/s × 0.94 (two GPUs of a cp group per node:
    // min(4, 8/4) = 2 NICs; 47 of 50 GB/s per NDR NIC, NVIDIA/nccl-tests#290), by NCCL's Simple
    // ring: base 8.4 µs, 2 NVLink hops of 3.4 µs and one network hop of 14 µs (tuning.cc).
    let rails = 2 * 50e9 * 0.94
    let expected = 0.75 * 4 * 33_554_432 / rails + (8.4 + 2 * 3.4 + 14) * 1e-6
    #expect(abs(gather - expected) / expected < 1e-9)
    run.layout.contextParallelComm = .a2a
    #expect(run.stepTimeModel.layerForward().contextParallelComm.value > 0)
  }

  @Test("sequences to 1M tokens: exact sizes, no overflow")
  func millionTokens() {
    let s = 1 << 20  // 1,048,576
    let m = Self.llama3(sequence: s)
    let layout = Layout(
      tensor: 8, pipeline: 1, data: 1, microBatch: 1, globalBatch: 4, sequenceParallel: true,
      distributedOptimizer: true, contextParallel: 32)
    #expect(layout.violations(for: m).isEmpty)
    // T = 2^20/32 = 32,768 tokens; the fp32 log-sum-exp of a/t = 4 heads: 4 · 4 · 32,768.
    let saved = ActivationMemory.fullLayer(m, layout)
    #expect(saved[named: "softmax_statistics"].value == 524_288)
    #expect(saved[named: "activation_input"].value == 2 * 32_768 * 28_672 / 8)
    // QKᵀ of one sequence: 2·s²·a·d_h = 2 · 2^40 · 4096 = 2^53 FLOPs, exact in a Double.
    let flops = FLOPCount.layerForward(m, sequences: 1)
    #expect(flops[named: "attention_scores"].value == 9_007_199_254_740_992)
    let e = Estimate(TrainingRun(model: m, layout: layout, gpu: .h100SXM))
    #expect(e.time.iterationSeconds.isFinite && e.time.iterationSeconds > 0)
    #expect(e.memory.peakBytes.isFinite)
  }

  struct Rule: Sendable, CustomStringConvertible {
    var description: String
    var fused: Bool, sequence: Int, cp: Int, comm: ContextParallelComm, phrase: String
  }

  @Test(
    "Megatron-Core's rules for cp",
    arguments: [
      Rule(
        description: "unfused attention", fused: false, sequence: 131_072, cp: 4, comm: .p2p,
        phrase: "fused attention"),
      Rule(
        description: "s not a multiple of 2cp", fused: true, sequence: 131_076, cp: 4, comm: .p2p,
        phrase: "2 × context_parallel_size"),
      Rule(
        description: "a2a heads", fused: true, sequence: 131_072, cp: 16, comm: .a2a,
        phrase: "multiples of 16"),
      Rule(
        description: "hierarchical sizes", fused: true, sequence: 131_072, cp: 4,
        comm: .a2aP2P(a2a: 3), phrase: "does not divide"),
    ])
  func rules(_ rule: Rule) {
    var m = Self.llama3(sequence: rule.sequence)
    m.fusedAttention = rule.fused
    var l = Self.layout
    l.contextParallel = rule.cp
    l.contextParallelComm = rule.comm
    let found = l.violations(for: m)
    #expect(found.contains { $0.description.contains(rule.phrase) }, "\(found)")
  }

  static let yaml = """
    trainer:
      num_nodes: 2
      devices: 8
      precision: bf16
    model:
      num_layers: 32
      hidden_size: 4096
      num_attention_heads: 32
      num_query_groups: 8
      ffn_hidden_size: 14336
      encoder_seq_length: 131072
      max_position_embeddings: 131072
      micro_batch_size: 1
      global_batch_size: 8
      tensor_model_parallel_size: 4
      context_parallel_size: 4
      sequence_parallel: true
      normalization: rmsnorm
      activation: swiglu
      bias: false
      position_embedding_type: rope
      hidden_dropout: 0.0
      attention_dropout: 0.0
      share_embeddings_and_output_weights: false
      mcore_gpt: true
      transformer_engine: true
      optim:
        name: distributed_fused_adam
    megaplan:
      gpu: h100-sxm
      vocab_size: 128256
    """

  @Test("NeMo keys: context_parallel_size, cp_comm_type and the hierarchical sizes")
  func nemoKeys() throws {
    let loaded = try OneAnswerTests.load(Self.yaml)
    #expect(loaded.run.layout.contextParallel == 4)
    #expect(loaded.run.layout.data == 1)  // 16 GPUs / (t 4 × cp 4)
    #expect(loaded.run.layout.contextParallelComm == .p2p)
    // a2a needs the 8/t key/value groups of a rank to divide by cp: t 2 (4 groups), not t 4 (2).
    let a2a = try OneAnswerTests.load(
      Self.yaml,
      sets: [
        ("model.cp_comm_type", "a2a"), ("model.tensor_model_parallel_size", "2"),
        ("trainer.num_nodes", "1"),
      ])
    #expect(a2a.run.layout.contextParallelComm == .a2a)
    do {
      _ = try OneAnswerTests.load(Self.yaml, sets: [("model.cp_comm_type", "a2a")])
      Issue.record("a2a with 2 groups per rank over cp 4 loaded")
    } catch let error as ConfigError {
      #expect(error.key == "model.cp_comm_type")
      #expect(error.message.contains("2 key/value groups"))
    }
    let both = try OneAnswerTests.load(
      Self.yaml.replacingOccurrences(
        of: "  context_parallel_size: 4\n",
        with: "  context_parallel_size: 4\n  hierarchical_context_parallel_sizes: [2, 2]\n"),
      sets: [("model.cp_comm_type", "a2a+p2p")])
    #expect(both.run.layout.contextParallelComm == .a2aP2P(a2a: 2))
    // Errors name the key and the rule.
    #expect(throws: ConfigError.self) {
      try OneAnswerTests.load(Self.yaml, sets: [("model.cp_comm_type", "ring")])
    }
    do {
      _ = try OneAnswerTests.load(Self.yaml, sets: [("model.cp_comm_type", "a2a+p2p")])
      Issue.record("a2a+p2p without sizes loaded")
    } catch let error as ConfigError {
      #expect(error.message.contains("hierarchical_context_parallel_sizes"))
    }
    do {
      _ = try OneAnswerTests.load(Self.yaml, sets: [("trainer.num_nodes", "3")])
      Issue.record("24 GPUs for t 4 × cp 4 loaded")
    } catch let error as ConfigError {
      #expect(error.message.contains("tensor × context × pipeline parallel size 4 × 4 × 1 = 16"))
    }
  }

  @Test("Megatron-LM flags: --context-parallel-size, --cp-comm-type, the hierarchical sizes")
  func megatronFlags() throws {
    let script = """
      torchrun --nproc_per_node 8 --nnodes 2 pretrain_gpt.py \\
        --num-layers 32 --hidden-size 4096 --num-attention-heads 32 \\
        --group-query-attention --num-query-groups 8 --ffn-hidden-size 14336 \\
        --seq-length 131072 --max-position-embeddings 131072 \\
        --micro-batch-size 1 --global-batch-size 8 \\
        --tensor-model-parallel-size 4 --context-parallel-size 4 --sequence-parallel \\
        --cp-comm-type a2a+p2p --hierarchical-context-parallel-sizes 2 2 \\
        --normalization RMSNorm --swiglu --disable-bias-linear --position-embedding-type rope \\
        --untie-embeddings-and-output-weights --attention-backend flash \\
        --use-distributed-optimizer --bf16 --vocab-size 128256
      """
    let tree = try MegatronArguments.parse(script, file: "train.sh", gpuName: "h100-sxm")
    let loaded = try ConfigLoader.load(ConfigDocument(root: tree, file: "train.sh"))
    #expect(loaded.run.layout.contextParallel == 4)
    #expect(loaded.run.layout.contextParallelComm == .a2aP2P(a2a: 2))
  }

  @Test("search tries cp, and only cp = 1 without fused attention")
  func search() throws {
    var run = TrainingRun(model: Self.model, layout: Self.layout, gpu: .h100SXM)
    var constraints = LayoutSearch.Constraints(gpus: 16, tensor: 4, pipeline: 1, microBatch: 1)
    constraints.contextParallel = 4
    let fixed = try LayoutSearch.search(
      run, options: .init(top: 3, constraints: constraints, threads: 1))
    #expect(fixed.candidates.allSatisfy { $0.layout.contextParallel == 4 })
    // The row is what `estimate` of its layout gives.
    let best = try #require(fixed.candidates.first)
    #expect(Estimate(best.run).time.iterationSeconds == best.estimate.time.iterationSeconds)
    // Unfused attention: cp is no dimension, and a fixed cp > 1 is a cut.
    run.model.fusedAttention = false
    run.layout.contextParallel = 1
    constraints.contextParallel = nil
    let unfused = try LayoutSearch.search(
      run, options: .init(top: 50, constraints: constraints, threads: 1))
    #expect(unfused.candidates.allSatisfy { $0.layout.contextParallel == 1 })
    constraints.contextParallel = 4
    let refused = try LayoutSearch.search(
      run, options: .init(top: 5, constraints: constraints, threads: 1))
    #expect(refused.candidates.isEmpty)
    #expect(refused.rejected[.contextNeedsFusedAttention] == 1)
  }

  @Test("model FLOPs as Megatron-Core counts them: Megatron-Bridge's Llama 3 8B row")
  func causalFLOPs() {
    // Megatron-Bridge 25.11, DGX-H100: Llama 3 8B at s = 8192, 14,451 tokens/s/GPU, 744 model
    // TFLOP/s per GPU; K22 Eq. 7 with the attention's causal half gives the FLOPs per token.
    let m = Self.llama3(sequence: 8192)
    let perToken = FLOPCount.model(m, globalBatch: 1, attention: .causal).value / 8192
    #expect(abs(perToken * 14_451 / 1e12 - 744) < 2)
    // Full counting is 6·s·h·L·(s-terms) more: 4·s·h per layer-token forward, ×3, halved.
    let full = FLOPCount.model(m, globalBatch: 1, attention: .full).value / 8192
    #expect(abs((full - perToken) - 3 * 2 * 8192 * 4096 * 32) < 1)
  }

  @Test("the fused kernel's tile curve against cuDNN's measured causal forward (FA3 paper)")
  func flashCurve() {
    // FlashAttention-3 paper, Fig. 5, H100 SXM5, causal, head size 128, cuDNN: TFLOP/s.
    let measured: [(Double, Double)] = [
      (512, 315), (1024, 410), (2048, 484), (4096, 518), (8192, 529), (16384, 539),
    ]
    let step = StepTimeModel(
      model: Self.model, layout: Self.layout, precision: .bf16, gpu: .h100SXM)
    for (s, tflops) in measured {
      let eff = step.flashEfficiency(
        FlashAttentionCalls(keyLength: s, causalShare: 1, headDim: 128))
      #expect(abs(eff * 989 / tflops - 1) < 0.04, "s = \(s)")
    }
  }
}
