import Foundation
import Testing

@testable import MegatronPlan

/// GPT-OSS (OpenAI's gpt-oss-20b and gpt-oss-120b): its parameters by hand from config.json,
/// the sliding window's layers and attention cost, the sinks, the clamped GLU's saved tensors,
/// its readers (config.json, NeMo keys, Megatron-LM flags, Megatron-Bridge) and its windowed KV
/// cache in serving. Every expected value is derived in the comment beside it.
@Suite struct GPTOSSTests {
  static func hf(_ name: String) throws -> TransformerModel {
    try MixtureOfExpertsTests.loadHF(name + "/config.json")
  }

  /// The bundled config (`configs/gpt-oss-120b.yaml`), loaded as the CLI loads it.
  static func bundled() throws -> TrainingRun {
    let url = EvaluatorTests.root.appendingPathComponent("configs/gpt-oss-120b.yaml")
    let text = try String(contentsOf: url, encoding: .utf8)
    return try ConfigLoader.load(ConfigDocument.parse(text, file: "gpt-oss-120b.yaml")).run
  }

  // MARK: - Parameters by hand

  /// From the config.json shapes (h 2,880, 64 query heads and 8 key/value heads of 64, experts
  /// of 2,880, V 201,088), with the biases the checkpoint holds (model.safetensors.index.json's
  /// layer 0: q/k/v/o biases, `self_attn.sinks`, `mlp.router.bias`, `experts.gate_up_proj_bias`,
  /// `experts.down_proj_bias`):
  /// - attention: QKV 2,880 × (64 + 2·8)·64 = 14,745,600 + bias 5,120; output 4,096 × 2,880 =
  ///   11,796,480 + bias 2,880; sinks 64: 26,550,144;
  /// - two RMSNorms: 5,760; router 2,880·E + E;
  /// - one expert: gate_up 2,880 × 5,760 = 16,588,800 + bias 5,760; down 2,880 × 2,880 =
  ///   8,294,400 + bias 2,880: 24,891,840;
  /// - 120b (36 layers, 128 experts): per layer 26,550,144 + 5,760 + 368,768 + 128 × 24,891,840
  ///   = 3,213,080,192; × 36 = 115,670,886,912; embedding and output 2 × 579,133,440; final norm
  ///   2,880: 116,829,156,672;
  /// - 20b (24 layers, 32 experts): per layer 26,550,144 + 5,760 + 92,192 + 32 × 24,891,840 =
  ///   823,186,976; × 24 = 19,756,487,424; + 1,158,266,880 + 2,880: 20,914,757,184.
  /// Active per token, 4 experts: 120b 36 × 126,492,032 = 4,553,713,152, 20b 24 × 126,215,456 =
  /// 3,029,170,944, each + the output layer 579,133,440 + the final norm 2,880: 5,132,849,472
  /// and 3,608,307,264.
  /// Published (OpenAI's model card, arXiv 2508.10925, Table 1): 116.83 B total and 5.13 B
  /// active; 20.91 B and 3.61 B. The card's active count leaves out the input embedding (a
  /// lookup); megaplan's, as Megatron-Core and NeMo count, keeps it: 579,133,440 more.
  @Test(
    "gpt-oss-120b 116.83 B / 5.13 B active and gpt-oss-20b 20.91 B / 3.61 B, by hand from config.json",
    arguments: [
      ("gpt-oss-120b", 116_829_156_672.0, 5_132_849_472.0),
      ("gpt-oss-20b", 20_914_757_184.0, 3_608_307_264.0),
    ])
  func parameters(_ name: String, _ total: Double, _ cardActive: Double) throws {
    let m = try Self.hf(name)
    #expect(ParameterCount.total(m).total.value == total)
    let embedding = 201_088.0 * 2880
    #expect(ParameterCount.active(m).value == cardActive + embedding)
    // Against the card, to its rounding.
    let published = name == "gpt-oss-120b" ? (116.83e9, 5.13e9) : (20.91e9, 3.61e9)
    #expect(abs(total / published.0 - 1) < 0.0005)
    #expect(abs(cardActive / published.1 - 1) < 0.002)
    // The bundled config is the same model.
    if name == "gpt-oss-120b" {
      #expect(ParameterCount.total(try Self.bundled().model).total.value == total)
    }
  }

  // MARK: - The model as read

  @Test("config.json reads as GPT-OSS: window 128 on even layers, sinks, clamped quick-GeGLU")
  func readsConfigJSON() throws {
    let m = try Self.hf("gpt-oss-120b")
    #expect(m.layers == 36 && m.hidden == 2880 && m.heads == 64)
    #expect(m.queryGroups == 8 && m.headDim == 64 && m.vocabulary == 201_088)
    #expect(m.attentionWindow == AttentionWindow(size: 128, layers: .allButEvery(2)))
    #expect(m.softmax == .learnable)
    #expect(m.activation == .quickGeGLU && m.activationClamp == 7 && m.gluLinearOffset == 1)
    #expect(m.linearBiases && m.qkvBias && !m.tiedEmbeddings)
    #expect(m.moe?.experts == 128 && m.moe?.topK == 4 && m.moe?.expertFFN == 2880)
    // Layer 0 (layer_types[0] "sliding_attention") windowed, layer 1 full; 18 of 36.
    let w = try #require(m.attentionWindow)
    #expect(w.isWindowed(layer: 0) && !w.isWindowed(layer: 1))
    #expect(w.windowedLayers(in: 0..<36) == 18)
    // The 20b file: the same window on 12 of its 24 layers.
    #expect(try Self.hf("gpt-oss-20b").attentionWindow?.windowedLayers(in: 0..<24) == 12)
  }

  @Test("layer_types of another pattern read as Megatron-Core's per-layer list; null: no window")
  func layerTypes() throws {
    let (text, file) = try fixture("hf/gpt-oss-20b/config.json")
    // Full attention on the first 4 of 24 layers, sliding after.
    var types = Array(repeating: "full_attention", count: 4)
    types += Array(repeating: "sliding_attention", count: 20)
    let list = types.map { "\"\($0)\"" }.joined(separator: ", ")
    let start = try #require(text.range(of: "\"layer_types\": ["))
    let end = try #require(text.range(of: "],", range: start.upperBound..<text.endIndex))
    let edited = text.replacingCharacters(
      in: start.lowerBound..<end.upperBound, with: "\"layer_types\": [\(list)],")
    let root = try HuggingFaceConfig.standalone(edited, file: file)
    let m = try ConfigLoader.load(ConfigDocument(root: root, file: file)).run.model
    #expect(m.attentionWindow?.windowedLayers(in: 0..<24) == 20)
    #expect(m.attentionWindow?.isWindowed(layer: 3) == false)
    #expect(m.attentionWindow?.isWindowed(layer: 4) == true)
    // `sliding_window: null`: every layer full.
    let none = text.replacingOccurrences(
      of: "\"sliding_window\": 128", with: "\"sliding_window\": null")
    let noneRoot = try HuggingFaceConfig.standalone(none, file: file)
    #expect(
      try ConfigLoader.load(ConfigDocument(root: noneRoot, file: file)).run.model
        .attentionWindow == nil)
    // An unknown layer type is an error at the field, naming the value.
    let bad = text.replacingOccurrences(of: "\"full_attention\",", with: "\"chunked_attention\",")
    #expect(bad != text)
    #expect {
      _ = try HuggingFaceConfig.standalone(bad, file: file)
    } throws: { error in
      let e = error as? ConfigError
      return e?.message.contains("chunked_attention") == true
        && e?.location?.line == 15 && e?.key == "model.window_attn_skip_freq"
    }
  }

  @Test("the Megatron-LM flags GPT-OSS is trained with read as the same model")
  func megatronFlags() throws {
    // Megatron-LM's own GPT-OSS flags (arguments.py; the flags Megatron-LM's GPT-OSS example
    // passes): --quick-geglu --glu-linear-offset 1.0 --activation-func-clamp-value 7.0
    // --softmax-type learnable --window-size 127,0 --window-attn-skip-freq 2.
    let script = """
      torchrun pretrain_gpt.py --num-layers 36 --hidden-size 2880 --ffn-hidden-size 2880 \\
        --num-attention-heads 64 --group-query-attention --num-query-groups 8 --kv-channels 64 \\
        --seq-length 4096 --max-position-embeddings 131072 --micro-batch-size 1 \\
        --global-batch-size 64 --tensor-model-parallel-size 1 --pipeline-model-parallel-size 4 \\
        --num-experts 128 --moe-router-topk 4 --moe-ffn-hidden-size 2880 \\
        --expert-model-parallel-size 8 --moe-grouped-gemm --bf16 --normalization RMSNorm \\
        --position-embedding-type rope --untie-embeddings-and-output-weights \\
        --vocab-size 201088 --quick-geglu --glu-linear-offset 1.0 \\
        --activation-func-clamp-value 7.0 --softmax-type learnable --window-size 127,0 \\
        --window-attn-skip-freq 2 --transformer-impl transformer_engine
      """
    let root = try MegatronArguments.parse(script, file: "gpt-oss.sh", gpus: 64)
    let m = try ConfigLoader.load(ConfigDocument(root: root, file: "gpt-oss.sh")).run.model
    #expect(m.attentionWindow == AttentionWindow(size: 128, layers: .allButEvery(2)))
    #expect(m.softmax == .learnable && m.activation == .quickGeGLU)
    #expect(m.activationClamp == 7 && m.gluLinearOffset == 1)
    #expect(
      ParameterCount.total(m).total == ParameterCount.total(try Self.hf("gpt-oss-120b")).total)
    // A list expression: three windowed layers then a full one, nine times.
    let pattern = script.replacingOccurrences(
      of: "--window-attn-skip-freq 2", with: "--window-attn-skip-freq \"([1]*3+[0])*9\"")
    let patterned = try MegatronArguments.parse(pattern, file: "gpt-oss.sh", gpus: 64)
    let w = try ConfigLoader.load(ConfigDocument(root: patterned, file: "gpt-oss.sh")).run.model
      .attentionWindow
    #expect(w?.windowedLayers(in: 0..<36) == 27)
    #expect(w?.isWindowed(layer: 3) == false && w?.isWindowed(layer: 4) == true)
  }

  /// Megatron-Bridge's GPT-OSS 120B H100 dump (Fixtures/bridge/gpt_oss_120b_pretrain_h100_fp8_mx_v2
  /// .yaml): `activation_func` quick_gelu (:245-247) with `gated_linear_unit: true` (:331),
  /// `activation_func_clamp_value: 7.0` (:248), `glu_linear_offset: 1.0` (:332),
  /// `softmax_type: learnable` (:488), `window_attn_skip_freq: 2` (:529), `window_size: [127, 0]`
  /// (:530-532), `add_bias_linear: true` (:250), t 1, p 4, EP 8, recompute layernorm and moe_act
  /// (:470-472).
  @Test("the Megatron-Bridge GPT-OSS dump reads its window, sinks and clamped GLU")
  func bridgeDump() throws {
    let file = "gpt_oss_120b_pretrain_h100_fp8_mx_v2.yaml"
    let (_, loaded) = try BridgeConfigTests.load(
      try BridgeConfigTests.text(file), file: file, ["megaplan.num_gpus=64", "megaplan.gpu=h100"])
    let m = loaded.run.model
    #expect(m.attentionWindow == AttentionWindow(size: 128, layers: .allButEvery(2)))
    #expect(m.softmax == .learnable && m.activation == .quickGeGLU)
    #expect(m.activationClamp == 7 && m.gluLinearOffset == 1 && m.linearBiases && m.qkvBias)
    #expect(loaded.run.layout.pipeline == 4 && loaded.run.layout.expertParallel == 8)
    #expect(loaded.run.layout.recomputeModules == [.layerNorm, .moeActivation])
    #expect(
      ParameterCount.total(m).total == ParameterCount.total(try Self.hf("gpt-oss-120b")).total)
  }

  /// Megatron-LM evaluates layer patterns as Python list expressions (arguments.py
  /// `_eval_pattern`); megaplan evaluates that grammar only, bounded.
  @Test("list expressions: [1,1,1,0]*3, ([1]*3+[0])*3; malformed or huge ones are refused")
  func listExpressions() {
    #expect(PythonListExpression.evaluate("[1,1,1,0]*3") == [1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0])
    #expect(PythonListExpression.evaluate("([1]*3+[0])*3") == [1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0])
    #expect(PythonListExpression.evaluate("'[0]+[1]*2'") == [0, 1, 1])
    #expect(PythonListExpression.evaluate("[]*999999999") == [])
    #expect(PythonListExpression.evaluate("[1]*999999999") == nil)  // beyond 65,536 entries
    #expect(PythonListExpression.evaluate("[1,") == nil)
    #expect(PythonListExpression.evaluate("[1]+") == nil)
    #expect(PythonListExpression.evaluate(String(repeating: "(", count: 100) + "[1]") == nil)
    #expect(PythonListExpression.evaluate("2") == nil)
  }

  // MARK: - Windowed layers

  /// Layers 0 … 35 over 4 stages of 9; windowed are the even ones (1-based n odd). Stage 0
  /// (0 … 8): 0, 2, 4, 6, 8 → 5 windowed, 4 full; stage 1 (9 … 17): 10, 12, 14, 16 → 4 and 5;
  /// stage 2 as stage 0, stage 3 as stage 1. The slowest stage can be one with 5 full layers:
  /// stages 0 and 1 and the last are the candidates (stage 2 repeats stage 0's mix).
  @Test("each stage holds its own mix of windowed and full layers: 5 + 4 and 4 + 5")
  func stages() throws {
    let run = try Self.bundled()
    let counts = (0..<4).map { run.layout.layerKinds(onStage: $0, of: run.model) }
    #expect(counts[0] == LayerCounts(moe: 4, slidingMoE: 5))
    #expect(counts[1] == LayerCounts(moe: 5, slidingMoE: 4))
    #expect(counts[2] == counts[0] && counts[3] == counts[1])
    #expect(run.layout.candidateStages(of: run.model) == [0, 1, 3])
    #expect(run.model.presentKinds == [.dense, .moe, .slidingMoE])
  }

  /// QKᵀ over a window of W = 128 in a sequence of s = 4,096, per head and sequence: query i
  /// attends min(i + 1, 128) keys, Σ ≈ s·W − W²/2 = 524,288 − 8,192 = 516,096 positions against
  /// s²/2 = 8,388,608 for causal attention. Counted as causal attention is (both halves, K22's
  /// s²): s·(2W − W²/s) = 4,096 × 252 keys per query, so QKᵀ is 2 · 4,096 · 252 · 64 · 64 heads =
  /// 8,455,716,864 FLOPs against 2 · 4,096² · 64 · 64 = 137,438,953,472 in a full layer; the
  /// fused kernel executes half of each.
  @Test("a windowed layer's QKᵀ counts 4,096 × 252 keys, not 4,096²: 8.46 GFLOP against 137.4")
  func windowFLOPs() throws {
    let m = try Self.hf("gpt-oss-120b")
    let whole = LayerDescription.Shard.whole(sequences: 1)
    let sliding = LayerDescription(m, whole, kind: .slidingMoE)
    let full = LayerDescription(m, whole, kind: .moe)
    #expect(sliding.gemmFLOPs[named: "attention_scores"].value == 8_455_716_864)
    #expect(full.gemmFLOPs[named: "attention_scores"].value == 137_438_953_472)
    #expect(sliding.gemmFLOPs[named: "attention_over_values"].value == 8_455_716_864)
    let core = try #require(sliding.op(.attentionCore))
    #expect(core.gemms.allSatisfy { $0.executedFraction == 0.5 })
    // Everything but the attention core is the same in both layers.
    #expect(
      sliding.gemmFLOPs.total - full.gemmFLOPs.total
        == FLOPs(2 * (8_455_716_864 - 137_438_953_472.0)))
    #expect(sliding.parameters == full.parameters)
    // The window's share is exact at the ends: W ≥ s is causal attention over the sequence.
    #expect(AttentionWindow(size: 4096).attendedShare(sequence: 4096) == 1)
    #expect(AttentionWindow(size: 128).attendedShare(sequence: 4096) == 252.0 / 4096)
    // The model FLOPs: 18 windowed layers, each 2 × 3 × (137.4 − 8.46) GFLOP per sequence
    // fewer (forward and backward), than the same model without the window.
    var noWindow = m
    noWindow.attentionWindow = nil
    let saved = 18 * 2 * 3 * (137_438_953_472 - 8_455_716_864.0)
    let fewer =
      FLOPCount.model(noWindow, globalBatch: 1, attention: .full).value
      - FLOPCount.model(m, globalBatch: 1, attention: .full).value
    #expect(abs(fewer / saved - 1) < 1e-12)
  }

  /// The fused kernel's efficiency (`Machine.flashEfficiency`): n = W/128 = 1 key tile per query
  /// tile row with the band's overhead c_causal − c_full = 3 − 0.5 = 2.5 tiles, against n =
  /// 4,096/128 = 32 and c = 3 for the causal call over the whole sequence; × √(64/128) for
  /// d_h = 64 either way. So a windowed core runs at 1/3.5 of the kernel's peak share and a full
  /// one at 32/35: its 1/16.25 of the work (252/4,096) takes 32/35 · 3.5 / 16.25 ≈ 0.197 of the
  /// full core's time, plus the same fixed kernel cost.
  @Test("the windowed core runs at 1/3.5 of flash's peak share and takes about 1/5 of a full one")
  func windowTime() throws {
    let m = try Self.hf("gpt-oss-120b")
    let machine = Machine(gpu: .h100SXM, constants: .forGeneration(.hopper))
    let shard = LayerDescription.Shard.whole(sequences: 1)
    let sliding = try #require(LayerDescription(m, shard, kind: .slidingMoE).op(.attentionCore))
    let full = try #require(LayerDescription(m, shard, kind: .moe).op(.attentionCore))
    let peak = machine.constants.flashForwardEfficiency(.cudnn)
    let head = (64.0 / 128).squareRoot()
    let band = try #require(sliding.kernel)
    #expect(band.band && band.keyLength == 128)
    #expect(abs(machine.flashEfficiency(band, kernel: .cudnn) - peak * head / 3.5) < 1e-12)
    let whole = try #require(full.kernel)
    #expect(abs(machine.flashEfficiency(whole, kernel: .cudnn) - peak * head * 32 / 35) < 1e-12)
    let fixed = machine.constants.gemmFixedSeconds
    let tSliding = machine.attentionCore(sliding, kernel: .cudnn, precision: .bf16).value - fixed
    let tFull = machine.attentionCore(full, kernel: .cudnn, precision: .bf16).value - fixed
    #expect(abs(tSliding / tFull - (32.0 / 35) * 3.5 * 252 / 4096) < 1e-9)
  }

  // MARK: - Memory

  /// The experts' clamped GLU on the busiest rank of the bundled layout (t 1, EP 8, b 1,
  /// s 4,096, k 4, balanced): 16,384 token copies. Megatron-Core's `weighted_bias_quick_geglu_impl`
  /// clamps gate and up with PyTorch ops before the fused kernel: the clamps keep fc1's output
  /// (2 · 16,384 · 5,760 = 188,743,680 bytes, `expert_activation_input`) and the kernel the
  /// clamped copy (the same 188,743,680, `expert_activation_clamped_input`). With `moe_act`
  /// recomputed the checkpoint keeps fc1's output only. The window saves nothing of its own:
  /// the fused core keeps Q, K, V, its output and the statistics either way.
  @Test("the clamp keeps a second 2f-wide copy of fc1's output, which moe_act drops: 180 MiB")
  func clampSaved() throws {
    let run = try Self.bundled()
    let shard = LayerDescription.Shard(run.layout, precision: .bf16)
    let layer = LayerDescription(run.model, shard, kind: .slidingMoE)
    let all = layer.saved(recomputing: [])
    #expect(all[named: "expert_activation_input"].value == 188_743_680)
    #expect(all[named: "expert_activation_clamped_input"].value == 188_743_680)
    let recomputed = layer.saved(recomputing: run.layout.recomputeModules)
    #expect(!recomputed.terms.contains { $0.name == "expert_activation_clamped_input" })
    #expect(recomputed[named: "expert_activation_input"].value == 188_743_680)
    let full = LayerDescription(run.model, shard, kind: .moe)
    #expect(layer.saved == full.saved)
    // Without the clamp the copy is gone.
    var unclamped = run.model
    unclamped.activationClamp = nil
    let plain = LayerDescription(unclamped, shard, kind: .moe).saved
    #expect(!plain.terms.contains { $0.name == "expert_activation_clamped_input" })
  }

  // MARK: - Validation

  /// `megaplan validate`'s GPT-OSS row (`PublishedRun.moe`) and the bundled config describe the
  /// same run (Megatron-Bridge's H100 BF16 benchmark): the same parameters, layout and predicted
  /// iteration. Published: 1,280 × 4,096 tokens / (5,824 tokens/s/GPU × 64 GPUs) = 14.066 s
  /// (Megatron-Bridge performance summary, 26.04.01).
  @Test("the validate row is the bundled config's run; published 14.07 s per iteration")
  func validateRow() throws {
    let row = try #require(PublishedRun.moe.first { $0.name.hasPrefix("GPT-OSS 120B") })
    #expect(abs(row.published.value - 1280 * 4096 / (5824 * 64.0)) < 1e-12)
    let bundled = try Self.bundled()
    #expect(ParameterCount.total(row.run.model).total == ParameterCount.total(bundled.model).total)
    #expect(row.run.layout == bundled.layout)
    let predicted = Validation.predict(row).predicted
    #expect(abs(predicted / Evaluator(bundled).evaluate().seconds - 1) < 1e-9)
  }

  // MARK: - Rules

  @Test("context parallelism: a window needs a2a or all_gather, sinks a2a (Transformer Engine)")
  func contextRules() throws {
    var run = try Self.bundled()
    run.layout.contextParallel = 2
    run.layout.data = 8
    run.layout.contextParallelComm = .p2p
    let p2p = run.layout.violations(for: run.model)
    #expect(
      p2p.contains(
        .contextCommForAttention(comm: "p2p", feature: "softmax_type learnable", allowed: "a2a")))
    run.layout.contextParallelComm = .a2a
    #expect(!run.layout.violations(for: run.model).contains { $0.key == "model.cp_comm_type" })
    var vanilla = run.model
    vanilla.softmax = .vanilla
    run.layout.contextParallelComm = .allGather
    #expect(run.layout.violations(for: vanilla).isEmpty)
    run.layout.contextParallelComm = .p2p
    #expect(
      run.layout.violations(for: vanilla).contains(
        .contextCommForAttention(
          comm: "p2p", feature: "sliding-window attention", allowed: "a2a or all_gather")))
  }

  // MARK: - Serving

  /// vLLM (blocks of 16) at 2,048 + 256 tokens, batch 8, t 1: a full layer caches ⌈2,304/16⌉·16 =
  /// 2,304 positions, a windowed one the window's ⌈128/16⌉ + 1 = 9 blocks, 144 positions (vLLM
  /// `SlidingWindowSpec`). Per position 2 · 8 heads · 64 · 2 bytes = 2,048 bytes: a full layer
  /// 2,048 · 2,304 · 8 = 37,748,736 bytes, a windowed one 2,048 · 144 · 8 = 2,359,296; 18 of each:
  /// 721,944,576 bytes for the model (36 full layers would hold 1,358,954,496).
  @Test("the KV cache of a windowed layer holds the window's 9 blocks: 722 MB instead of 1.36 GB")
  func servingCache() throws {
    let m = try Self.hf("gpt-oss-120b")
    let serving = ServingModel(model: m, gpu: .h200, settings: .init())
    let w = ServingModel.Workload(input: 2048, output: 256, batch: 8)
    #expect(serving.layerKVCacheBytes(tensor: 1, workload: w) == 37_748_736)
    #expect(serving.layerKVCacheBytes(tensor: 1, workload: w, sliding: true) == 2_359_296)
    let memory = serving.memory(.init(tensor: 1, pipeline: 1), w)
    #expect(memory.kvCache == 721_944_576)
    // Decode reads at most the window on the windowed layers: the step's KV reads are those of
    // 18 layers at the mean context (2,048 + 128 = 2,176) and 18 at 128 positions.
    let step = serving.decodeStep(.init(tensor: 1, pipeline: 1), w)
    var unwindowed = m
    unwindowed.attentionWindow = nil
    let plain = ServingModel(model: unwindowed, gpu: .h200, settings: .init())
      .decodeStep(.init(tensor: 1, pipeline: 1), w)
    let perPosition = 2.0 * 8 * 64 * 2 * 8  // K and V, 8 heads of 64, 2 bytes, 8 sequences
    #expect(abs((plain.bytesRead - step.bytesRead) - 18 * perPosition * (2176 - 128)) < 1)
  }
}

/// The same window read from Gemma 2's and Mistral 7B v0.1's config.json (transformers
/// `Gemma2Config`: `sliding_window` 4,096 on layers 0, 2, …; `MistralConfig`: 4,096 on every
/// layer): exact causal attention at their default 4,096 tokens, a window beyond.
@Suite struct SlidingWindowReaderTests {
  /// Gemma 2 9B: 42 layers, 21 of them windowed; at s = 4,096 = W the window limits nothing
  /// (no sliding kinds); at s = 8,192 21 dense layers and 21 windowed ones.
  @Test("Gemma 2 9B: a window of 4,096 on 21 of 42 layers, inert at s = 4,096")
  func gemma2() throws {
    var m = try MixtureOfExpertsTests.loadHF("gemma-2-9b.json")
    #expect(m.attentionWindow == AttentionWindow(size: 4096, layers: .allButEvery(2)))
    #expect(m.sequenceLength == 4096 && m.slidingWindow == nil)
    #expect(m.layerKinds(in: 0..<42) == LayerCounts(dense: 42))
    m.sequenceLength = 8192
    #expect(m.layerKinds(in: 0..<42) == LayerCounts(dense: 21, slidingDense: 21))
  }

  /// Mistral 7B v0.1 at s = 8,192, W = 4,096: share 2·4,096/8,192 − (4,096/8,192)² = 0.75, so
  /// QKᵀ counts 2 · 8,192 · 6,144 · 128 · 32 = 412,316,860,416 FLOPs per sequence against
  /// 2 · 8,192² · 4,096 = 549,755,813,888 unwindowed. Served by vLLM at 8,192 + 1,024 tokens,
  /// batch 1: a layer caches min(9,216, (4,096/16 + 1)·16 = 4,112) positions of 2 · 8 · 128 · 2 =
  /// 4,096 bytes, 16,842,752 bytes; the 32 layers 538,968,064.
  @Test("Mistral 7B: every layer windowed; 0.75 of the scores at s = 8,192; 4,112 cached positions")
  func mistral() throws {
    var m = try MixtureOfExpertsTests.loadHF("mistral-7b-v0.1.json")
    #expect(m.attentionWindow == AttentionWindow(size: 4096, layers: .all))
    m.sequenceLength = 8192
    #expect(m.layerKinds(in: 0..<32) == LayerCounts(slidingDense: 32))
    let layer = LayerDescription(m, .whole(sequences: 1), kind: .slidingDense)
    #expect(layer.gemmFLOPs[named: "attention_scores"].value == 412_316_860_416)
    let w = ServingModel.Workload(input: 8192, output: 1024, batch: 1)
    let serving = ServingModel(model: m, gpu: .h100SXM, settings: .init())
    #expect(serving.memory(.init(tensor: 1, pipeline: 1), w).kvCache == 538_968_064)
  }
}
