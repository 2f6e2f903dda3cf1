import Foundation
import Testing

@testable import MegatronPlan

/// Multi-latent attention, multi-token prediction and DeepSeek-V3, by hand from DeepSeek-V3's
/// config.json (deepseek-ai/DeepSeek-V3, Fixtures/hf/deepseek-v3.json): h 7,168, 61 layers, the
/// first 3 dense (intermediate_size 18,432), 128 heads, q_lora_rank 1,536, kv_lora_rank 512,
/// qk_nope_head_dim 128, qk_rope_head_dim 64, v_head_dim 128, 256 routed experts of
/// moe_intermediate_size 2,048, top-8, one shared expert, vocabulary 129,280, untied,
/// num_nextn_predict_layers 1.
@Suite struct MultiLatentAttentionTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  static func bundledDeepSeek() throws -> ConfigDocument {
    let path = root.appendingPathComponent("configs/deepseek-v3.yaml").path
    return try ConfigDocument.parse(
      try String(contentsOfFile: path, encoding: .utf8), file: "configs/deepseek-v3.yaml")
  }

  static func deepseek() throws -> LoadedConfig {
    let (text, file) = try fixture("hf/deepseek-v3.json")
    let root = try HuggingFaceConfig.standalone(text, file: file)
    return try ConfigLoader.load(ConfigDocument(root: root, file: file))
  }

  // One MLA block's weights (modeling_deepseek_v3.py's q_a_proj, q_a_layernorm, q_b_proj,
  // kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, o_proj; Megatron-Core's linear_q_down_proj,
  // linear_q_up_proj with its fused norm, linear_kv_down_proj, linear_kv_up_proj, linear_proj):
  static let qDown = 7168 * 1536  // h × r_q = 11,010,048
  static let qUp = 1536 * 128 * (128 + 64)  // r_q × a(d_nope + d_rope) = 37,748,736
  static let kvDown = 7168 * (512 + 64)  // h × (r_kv + d_rope) = 4,128,768
  static let kvUp = 512 * 128 * (128 + 128)  // r_kv × a(d_nope + d_v) = 16,777,216
  static let output = 128 * 128 * 7168  // a·d_v × h = 117,440,512
  static let latentNorms = 1536 + 512
  static let attention = qDown + qUp + kvDown + kvUp + output + latentNorms  // 187,107,328
  static let layerNorms = 2 * 7168  // input and pre-MLP RMSNorms
  static let denseMLP = 3 * 7168 * 18432  // gate, up, down: 396,361,728
  static let expert = 3 * 7168 * 2048  // one expert (and the shared one): 44,040,192
  static let router = 7168 * 256
  static let denseLayer = attention + layerNorms + denseMLP  // 583,483,392
  static let moeLayer = attention + layerNorms + router + 256 * expert + expert  // 11,507,286,016
  static let embeddings = 2 * 129_280 * 7168 + 7168  // untied embedding and head, final norm

  @Test(
    "DeepSeek-V3 config.json: 671.0 B parameters and 37.6 B active without MTP (DeepSeek-V3's ≈671 B / ≈37 B)"
  )
  func parameters() throws {
    var model = try Self.deepseek().run.model
    #expect(
      model.mla
        == MultiLatentAttention(
          queryRank: 1536, keyValueRank: 512, qkHeadDim: 128, ropeHeadDim: 64, valueHeadDim: 128))
    #expect(model.moe?.firstDenseLayers == 3 && model.moe?.scoreFunction == .sigmoid)
    #expect(model.moe?.sharedExpertFFN == 2048 && model.mtpLayers == 1)
    #expect(model.vocabulary == 129_280)  // a multiple of 128 already: no padding
    // 3 dense + 58 MoE layers + embeddings. (DeepSeek's e_score_correction_bias, 256 per MoE
    // layer, is a buffer in Megatron-Core, not a trained weight: not counted.)
    let total = 3 * Self.denseLayer + 58 * Self.moeLayer + Self.embeddings
    #expect(total == 671_026_404_352)
    model.mtpLayers = 0
    #expect(ParameterCount.total(model).total.value == Double(total))
    // Each token uses 8 of the 256 routed experts of each MoE layer.
    let active = total - 58 * 248 * Self.expert
    #expect(active == 37_552_282_624)
    #expect(ParameterCount.active(model).value == Double(active))
    // The MTP layer: two norms and eh_proj (2h → h), one MoE layer, the final norm; the
    // embedding and output layer are shared (Megatron-Core; the checkpoint's 685 B counts its
    // own copies of them: 682.6 B + 2 × 0.93 B).
    let mtp = 2 * 7168 + 2 * 7168 * 7168 + Self.moeLayer + 7168
    model.mtpLayers = 1
    #expect(ParameterCount.total(model)[named: "mtp_layers"].value == Double(mtp))
    #expect(ParameterCount.total(model).total.value == Double(total + mtp))
    #expect(ParameterCount.active(model).value == Double(active + mtp - 248 * Self.expert))
  }

  /// One MLA layer of DeepSeek-V3 at t = 2 with SP, b = 1, s = 4,096 (T = 4,096, r = 2),
  /// bf16, fused attention: the saved tensors by hand.
  @Test("an MLA layer's saved tensors, and what each recompute module drops")
  func savedTensors() throws {
    var model = try Self.deepseek().run.model
    model.sequenceLength = 4096
    let layout = Layout(
      tensor: 2, data: 4, microBatch: 1, globalBatch: 4, sequenceParallel: true,
      expertParallel: 8, expertTensorParallel: 1)
    let layer = LayerDescription(model, .init(layout, precision: .bf16))
    let saved = layer.saved
    let T = 4096.0, t = 2.0, a = 128.0
    #expect(saved[named: "mla_down_input"].value == 2 * T * 7168 / t)  // the norm's output, sharded
    #expect(saved[named: "q_latent_norm_input"].value == 2 * T * 1536 / t)
    #expect(saved[named: "q_up_projection_input"].value == 2 * T * 1536 / t)
    #expect(saved[named: "kv_latent_norm_input"].value == 2 * T * 512 / t)
    #expect(saved[named: "query_key"].value == 2 * T * 2 * a * 192 / t)  // Q and K, 192 per head
    #expect(saved[named: "value"].value == 2 * T * a * 128 / t)
    #expect(saved[named: "softmax_statistics"].value == 4 * a * T / t)
    #expect(saved[named: "projection_input"].value == 2 * T * a * 128 / t)
    #expect(saved[named: "mla_rope_key_input"].value == 0)
    // Megatron-Core's default selective recompute: the core's statistics go, Q, K, V stay.
    let core = layer.saved(recomputing: .coreAttention)
    #expect(
      core[named: "softmax_statistics"].value == 0
        && core[named: "query_key"] == saved[named: "query_key"])
    // mla_up_proj: Q, K, V and the up projections' inputs are discarded; the checkpoint keeps
    // the latents (the norms' inputs) and the rope key part, gathered: 2·T·64.
    let up = layer.saved(recomputing: .mlaUpProjection)
    #expect(up[named: "query_key"].value == 0 && up[named: "value"].value == 0)
    #expect(
      up[named: "q_up_projection_input"].value == 0
        && up[named: "kv_up_projection_input"].value == 0)
    #expect(up[named: "q_latent_norm_input"] == saved[named: "q_latent_norm_input"])
    #expect(up[named: "mla_rope_key_input"].value == 2 * T * 64)
    // layernorm: the input norm is a module of its own in the MLA spec; its output goes.
    #expect(layer.saved(recomputing: .layerNorm)[named: "mla_down_input"].value == 0)
    #expect(
      layer.saved(recomputing: .layerNorm)[named: "layernorm_inputs"]
        == saved[named: "layernorm_inputs"])
    // The dense layer's MLP under `mlp`: fc1's input, the SwiGLU input and fc2's input go.
    let mlp = layer.saved(recomputing: .mlp)
    #expect(saved[named: "fc2_input"].value == 2 * T * 18432 / t)
    #expect(mlp[named: "fc1_input"].value == 0 && mlp[named: "activation_input"].value == 0)
    #expect(mlp[named: "fc2_input"].value == 0)
  }

  /// Megatron-LM `num_floating_point_operations` (training.py), MLA branch, per token and
  /// forward: 2·[r_q(h + a·(d_nope + d_rope)) + r_kv(h + a(d_nope + d_v)) + h·d_rope + a·d_v·h]
  /// (its +1 terms are the latent norms, not GEMMs), plus the core 2·s·a·(d_nope + d_rope) +
  /// 2·s·a·d_v per token (full s², megaplan's convention).
  @Test("MLA's GEMM FLOPs are Megatron-LM's MLA formula")
  func flops() throws {
    var model = try Self.deepseek().run.model
    model.sequenceLength = 4096
    let f = LayerDescription(model, .whole(sequences: 1)).gemmFLOPs
    let h = 7168.0, a = 128.0, s = 4096.0
    let projections = 1536 * (h + a * 192) + 512 * (h + a * 256) + h * 64 + a * 128 * h
    let attention =
      f[named: "q_down_projection"] + f[named: "q_up_projection"] + f[named: "kv_down_projection"]
      + f[named: "kv_up_projection"] + f[named: "projection"]
    #expect(abs(attention.value - 2 * s * projections) <= 1e-9 * attention.value)
    let core = f[named: "attention_scores"] + f[named: "attention_over_values"]
    #expect(abs(core.value - s * (2 * s * a * 192 + 2 * s * a * 128)) <= 1e-9 * core.value)
  }

  /// The MTP layer's FLOPs: its MoE layer (the model's last layer's kind), eh_proj 2·T·2h·h and
  /// the logits 2·T·h·V, forward; the model's count has them ×3.
  @Test("MTP adds its layer, its projection and its logits to the model FLOPs")
  func mtpFLOPs() throws {
    var model = try Self.deepseek().run.model
    model.sequenceLength = 4096
    var without = model
    without.mtpLayers = 0
    let T = 4096.0, h = 7168.0, V = 129_280.0
    let moe = LayerDescription(model, .whole(sequences: 1), moe: true).gemmFLOPs.total.value
    let extra = moe + 2 * T * 2 * h * h + 2 * T * h * V
    let difference =
      FLOPCount.model(model, globalBatch: 1).value - FLOPCount.model(without, globalBatch: 1).value
    #expect(abs(difference - 3 * extra) <= 1e-9 * difference)
  }

  @Test("the last stage holds the MTP layer and, with p > 1, the word embedding it reads")
  func lastStage() throws {
    let run = try Self.deepseek().run
    let layout = Layout(
      tensor: 1, pipeline: 4, data: 64, microBatch: 1, globalBatch: 256,
      split: PipelineSplit(firstStageLayers: 16, lastStageLayers: 13), expertParallel: 64,
      expertTensorParallel: 1)
    let last = ParameterCount.perGPU(run.model, layout, stage: 3)
    // The MTP layer's non-expert weights (norms, eh_proj, attention, router, shared expert)
    // whole at t = 1, its 256 experts over EP 64 with the others, and an embedding copy.
    let mtpDense = 2 * 7168 + 2 * 7168 * 7168 + Self.moeLayer - 256 * Self.expert + 7168
    #expect(last[named: "mtp_layers"].value == Double(mtpDense))
    #expect(last[named: "mtp_embedding"].value == Double(129_280 * 7168))
    let expertsHere = (13 + 1) * 256 / 64 * Self.expert
    #expect(last[named: "expert_layers"].value == Double(expertsHere))
    #expect(ParameterCount.perGPU(run.model, layout, stage: 0)[named: "mtp_layers"].value == 0)
    // Its activations: one microbatch, on the last stage only.
    let acts = ActivationMemory.stage(run.model, layout, stage: 3)
    #expect(acts[named: "mtp_layers"].value > 0)
    #expect(ActivationMemory.stage(run.model, layout, stage: 0)[named: "mtp_layers"].value == 0)
  }

  @Test("Megatron-Core's flexible layout Et|(tt|)*30mL: 32 chunks, 7 / 8 / 6 + MTP layers")
  func flexibleLayout() throws {
    let parsed = try PipelineSplit.parseLayout("Et|(tt|)*30mL")
    #expect(parsed.chunkLayers == [1] + Array(repeating: 2, count: 30) + [0])
    #expect(parsed.embeddingChunks == [0] && parsed.lossChunks == [31])
    #expect(parsed.mtpChunks == [31: 1])
    // Commas are cosmetic; x*n repeats one layer.
    #expect(try PipelineSplit.parseLayout("Et*3,|t*4|tL").chunkLayers == [3, 4, 1])
    #expect(throws: PipelineSplit.LayoutError.self) { try PipelineSplit.parseLayout("Ex|tL") }
    #expect(throws: PipelineSplit.LayoutError.self) { try PipelineSplit.parseLayout("E(tt|L") }
    // The bundled DeepSeek-V3 config: chunk c holds layers 2c − 1 and 2c (chunk 0 layer 0);
    // stage 0 has chunks 0, 8, 16, 24 (layers 0, 15–16, 31–32, 47–48: one dense), stage 1
    // chunks 1, 9, 17, 25 (layers 1–2 dense), stage 7 chunks 7, 15, 23 and the MTP chunk 31.
    let run = try ConfigLoader.load(Self.bundledDeepSeek()).run
    let l = run.layout
    #expect(l.virtualStages == 4)
    #expect((0..<8).map { l.layers(onStage: $0, of: run.model) } == [7, 8, 8, 8, 8, 8, 8, 6])
    #expect(l.layerRange(stage: 0, chunk: 1, of: run.model) == 15..<17)
    #expect(l.layerRange(stage: 7, chunk: 3, of: run.model) == 61..<61)
    #expect(l.layerKinds(onStage: 0, of: run.model) == LayerCounts(dense: 1, moe: 6))
    #expect(l.layerKinds(onStage: 1, of: run.model) == LayerCounts(dense: 2, moe: 6))
  }

  @Test(
    "layout errors name the key and the rule",
    arguments: [
      ("t|Et|(tt|)*29ttL", "must start with the embedding"),
      ("Et|tm|(tt|)*29ttL", "MTP layers in chunk 1"),
      ("Et|(tt|)*30m", "must end with the loss"),
      ("Ett|(tt|)*30tmL", "places 63 transformer layers"),
      ("Et|(tt|)*30L", "places 0 MTP layers; mtp_num_layers is 1"),
    ])
  func layoutErrors(_ c: (String, String)) throws {
    var doc = try Self.bundledDeepSeek()
    try doc.override(
      "model.pipeline_model_parallel_layout", with: c.0,
      location: SourceLocation(file: "--set", line: 1, column: 1, length: 1, lineText: ""))
    let error = try #require(throws: ConfigError.self) { try ConfigLoader.load(doc) }
    #expect(error.message.contains(c.1), "\(error.message)")
  }

  @Test("DeepSeek-V3 Megatron-LM flags read into the same model")
  func megatronFlags() throws {
    let script = """
      torchrun --nproc_per_node 8 --nnodes 32 pretrain_gpt.py \\
        --num-layers 61 --hidden-size 7168 --ffn-hidden-size 18432 --num-attention-heads 128 \\
        --seq-length 4096 --max-position-embeddings 4096 --micro-batch-size 1 \\
        --global-batch-size 512 --tensor-model-parallel-size 1 \\
        --pipeline-model-parallel-size 4 --pipeline-model-parallel-layout "Et*16|t*16|t*16|t*13mL" \\
        --expert-model-parallel-size 64 --expert-tensor-parallel-size 1 --swiglu \\
        --normalization RMSNorm --disable-bias-linear --untie-embeddings-and-output-weights \\
        --position-embedding-type rope --multi-latent-attention --q-lora-rank 1536 \\
        --kv-lora-rank 512 --qk-head-dim 128 --qk-pos-emb-head-dim 64 --v-head-dim 128 \\
        --qk-layernorm --num-experts 256 --moe-layer-freq "([0]*3+[1]*58)" \\
        --moe-ffn-hidden-size 2048 --moe-shared-expert-intermediate-size 2048 \\
        --moe-router-topk 8 --moe-router-score-function sigmoid --moe-grouped-gemm \\
        --moe-token-dispatcher-type flex --mtp-num-layers 1 --recompute-granularity selective \\
        --recompute-modules mla_up_proj layernorm --vocab-size 129280 --bf16 \\
        --use-distributed-optimizer
      """
    let root = try MegatronArguments.parse(script, file: "dsv3.sh")
    let run = try ConfigLoader.load(ConfigDocument(root: root, file: "dsv3.sh")).run
    let hf = try Self.deepseek().run.model
    #expect(run.model.mla == hf.mla && run.model.mtpLayers == 1)
    #expect(run.model.moe?.experts == 256 && run.model.moe?.firstDenseLayers == 3)
    #expect(run.model.moe?.dispatcher == .flex && run.model.moe?.scoreFunction == .sigmoid)
    #expect(run.layout.recomputeModules == [.mlaUpProjection, .layerNorm])
    #expect(run.layout.split.chunkLayers == [16, 16, 16, 13])
    var mtpFree = run.model
    mtpFree.mtpLayers = 0
    #expect(ParameterCount.total(mtpFree).total.value == 671_026_404_352)
    // Megatron-LM's argparse defaults without the rank flags: q_lora_rank None, kv 32.
    let bare = try MegatronArguments.parse(
      "torchrun --nnodes 1 --nproc_per_node 1 pretrain_gpt.py --num-layers 2 --hidden-size 512 --num-attention-heads 8 --seq-length 128 --micro-batch-size 1 --global-batch-size 1 --vocab-size 1024 --multi-latent-attention\n",
      file: "b.sh")
    let m = try ConfigLoader.load(ConfigDocument(root: bare, file: "b.sh")).run.model.mla
    #expect(m?.queryRank == nil && m?.keyValueRank == 32)
  }
}
