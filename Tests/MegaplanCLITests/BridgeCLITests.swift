import Foundation
import Testing

@testable import MegaplanCLI

/// Megatron-Bridge input through the CLI (issue 27): the same run as NeMo YAML, Megatron-LM flags
/// and Bridge YAML gives the same estimate; Hydra overrides after FILE; origins in `megaplan
/// config`; errors located in the Bridge file; override YAML merged over FILE.
@Suite struct BridgeCLITests {
  static let fixtures = "Tests/MegatronPlanTests/Fixtures/bridge"

  /// Writes `files` into a fresh folder and runs `body` with it.
  static func withFiles<T>(_ files: [String: String], _ body: (URL) throws -> T) throws -> T {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    for (name, text) in files {
      try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    return try body(dir)
  }

  /// configs/gpt3-175b-1024gpu.yaml as a Megatron-Bridge ConfigContainer: Megatron-Core without
  /// Transformer Engine (`transformer_impl: local`: unfused attention), GPTModelProvider's
  /// defaults where the NeMo file takes NeMo's (LayerNorm, GeLU, biases, learned positions, tied
  /// embeddings, dropout 0.1), the fusions NeMo's defaults have, fp16 with fp32 gradients (a
  /// MixedPrecisionConfig mapping), no distributed optimizer, and 146,484,375 samples × 2,048 =
  /// 300e9 tokens. The vocabulary is the NeMo file's padded 51,200, which Bridge uses as given.
  static let gpt3 = """
    _target_: megatron.bridge.training.config.ConfigContainer
    model:
      _target_: megatron.bridge.models.gpt_provider.GPTModelProvider
      num_layers: 96
      hidden_size: 12288
      num_attention_heads: 96
      ffn_hidden_size: 49152
      seq_length: 2048
      vocab_size: 51200
      tensor_model_parallel_size: 8
      pipeline_model_parallel_size: 16
      virtual_pipeline_model_parallel_size: null
      sequence_parallel: false
      recompute_granularity: full
      recompute_method: uniform
      recompute_num_layers: 1
      share_embeddings_and_output_weights: true
      transformer_impl: local
      bias_activation_fusion: true
      cross_entropy_loss_fusion: false
    train:
      micro_batch_size: 1
      global_batch_size: 1536
      train_samples: 146484375
    dataset:
      sequence_length: 2048
    mixed_precision:
      _target_: megatron.bridge.training.mixed_precision.MixedPrecisionConfig
      fp16: true
      grad_reduce_in_fp32: true
    ddp:
      use_distributed_optimizer: false
    megaplan:
      gpu: a100-80gb
      num_gpus: 1024

    """

  @Test("GPT-3 175B as NeMo YAML, a Megatron-LM script and Bridge YAML: identical estimates")
  func gpt3Equality() throws {
    try Self.withFiles(["bridge.yaml": Self.gpt3, "train.sh": MegatronEquivalenceTests.script]) {
      dir in
      let bridge = runCLI([
        "estimate", dir.appendingPathComponent("bridge.yaml").path, "--format", "json",
      ])
      let nemo = runCLI(["estimate", rooted("configs/gpt3-175b-1024gpu.yaml"), "--format", "json"])
      let script = runCLI([
        "estimate", "--megatron-args", dir.appendingPathComponent("train.sh").path, "--format",
        "json",
      ])
      #expect(bridge.code == 0 && bridge.stderr.isEmpty, "\(bridge.stderr)")
      #expect(nemo.code == 0 && script.code == 0)
      #expect(bridge.stdout == nemo.stdout)
      #expect(bridge.stdout == script.stdout)
    }
  }

  /// A Llama 3 8B-shaped run on 8 H100 (t 2, sequence parallel, selective recompute, GQA,
  /// SwiGLU, RMSNorm, RoPE θ 500,000, no biases, untied, dropout 0, the distributed optimizer with
  /// both overlaps, bf16, vocabulary 128,256 as given, 1,000 iterations × 128 × 8,192 tokens)
  /// written three ways, each with its own defaults spelled out where they differ.
  static let llamaNeMo = """
    trainer:
      num_nodes: 1
      devices: 8
      precision: bf16-mixed
    model:
      mcore_gpt: true
      transformer_engine: true
      num_layers: 32
      hidden_size: 4096
      ffn_hidden_size: 14336
      num_attention_heads: 32
      num_query_groups: 8
      encoder_seq_length: 8192
      max_position_embeddings: 8192
      normalization: rmsnorm
      activation: swiglu
      bias: false
      position_embedding_type: rope
      rotary_base: 500000
      hidden_dropout: 0.0
      attention_dropout: 0.0
      apply_rope_fusion: true
      cross_entropy_loss_fusion: true
      share_embeddings_and_output_weights: false
      micro_batch_size: 1
      global_batch_size: 128
      tensor_model_parallel_size: 2
      sequence_parallel: true
      activations_checkpoint_granularity: selective
      optim:
        name: distributed_fused_adam
        overlap_grad_sync: true
        overlap_param_sync: true
    megaplan:
      gpu: h100-sxm
      vocab_size: 128256
      train_tokens: 1048576000

    """

  static let llamaScript = """
    torchrun --nproc_per_node 8 --nnodes 1 pretrain_gpt.py \\
      --num-layers 32 --hidden-size 4096 --ffn-hidden-size 14336 --num-attention-heads 32 \\
      --group-query-attention --num-query-groups 8 --seq-length 8192 \\
      --max-position-embeddings 8192 --micro-batch-size 1 --global-batch-size 128 \\
      --tensor-model-parallel-size 2 --sequence-parallel --recompute-granularity selective \\
      --normalization RMSNorm --swiglu --disable-bias-linear --position-embedding-type rope \\
      --rotary-base 500000 --hidden-dropout 0 --attention-dropout 0 \\
      --untie-embeddings-and-output-weights --cross-entropy-loss-fusion \\
      --transformer-impl transformer_engine --use-distributed-optimizer --overlap-grad-reduce \\
      --overlap-param-gather --bf16 --vocab-size 128256 --train-iters 1000

    """

  static let llamaBridge = """
    model:
      num_layers: 32
      hidden_size: 4096
      ffn_hidden_size: 14336
      num_attention_heads: 32
      num_query_groups: 8
      kv_channels: 128
      seq_length: 8192
      vocab_size: 128256
      normalization: RMSNorm
      activation_func: {_call_: false, _target_: torch.nn.functional.silu}
      gated_linear_unit: true
      add_bias_linear: false
      position_embedding_type: rope
      rotary_base: 500000
      hidden_dropout: 0.0
      attention_dropout: 0.0
      bias_activation_fusion: true
      apply_rope_fusion: true
      share_embeddings_and_output_weights: false
      tensor_model_parallel_size: 2
      sequence_parallel: true
      recompute_granularity: selective
    train:
      micro_batch_size: 1
      global_batch_size: 128
      train_iters: 1000
    dataset:
      sequence_length: 8192
    mixed_precision: bf16_mixed
    ddp:
      use_distributed_optimizer: true
      overlap_grad_reduce: true
      overlap_param_gather: true
    megaplan:
      gpu: h100-sxm
      num_gpus: 8

    """

  @Test("a Llama-shaped run as NeMo YAML, Megatron-LM flags and Bridge YAML: identical estimates")
  func llamaEquality() throws {
    try Self.withFiles([
      "nemo.yaml": Self.llamaNeMo, "train.sh": Self.llamaScript, "bridge.yaml": Self.llamaBridge,
    ]) { dir in
      let path = { (name: String) in dir.appendingPathComponent(name).path }
      let nemo = runCLI(["estimate", path("nemo.yaml"), "--format", "json"])
      let script = runCLI([
        "estimate", "--megatron-args", path("train.sh"), "--gpu", "h100-sxm", "--format", "json",
      ])
      let bridge = runCLI(["estimate", path("bridge.yaml"), "--format", "json"])
      #expect(nemo.code == 0 && script.code == 0 && bridge.code == 0, "\(bridge.stderr)")
      #expect(bridge.stderr.isEmpty && nemo.stderr.isEmpty, "\(bridge.stderr)\(nemo.stderr)")
      #expect(nemo.stdout == script.stdout)
      #expect(bridge.stdout == nemo.stdout)
    }
  }

  @Test("overrides after FILE are --set's and the options': the same estimate")
  func overridesAfterFile() {
    let file = rooted("configs/bridge-llama3-8b.yaml")
    let positional = runCLI(["estimate", file, "megaplan.num_gpus=16", "--format", "json"])
    let set = runCLI(["estimate", file, "--set", "megaplan.num_gpus=16", "--format", "json"])
    let option = runCLI(["estimate", file, "--gpus", "16", "--format", "json"])
    #expect(positional.code == 0 && positional.stdout == set.stdout)
    #expect(positional.stdout == option.stdout)
    // NeMo files take them too.
    let nemo = rooted("configs/llama3-8b.yaml")
    let a = runCLI(["estimate", nemo, "model.context_parallel_size=1", "--format", "json"])
    let b = runCLI(["estimate", nemo, "--set", "model.context_parallel_size=1", "--format", "json"])
    #expect(a.code == 0 && a.stdout == b.stdout)
  }

  @Test("megaplan config names the Bridge field, its line, the override and how a value follows")
  func configOrigins() throws {
    let r = runCLI([
      "config", rooted("configs/bridge-llama3-70b.yaml"), "train.global_batch_size=1024",
    ])
    #expect(r.code == 0, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    func line(_ prefix: String) -> String? { lines.first { $0.hasPrefix(prefix + " ") } }
    // train.micro_batch_size is on line 54 of configs/bridge-llama3-70b.yaml, its value at column 21.
    let micro = try #require(line("train.micro_batch_size → model.micro_batch_size"))
    #expect(micro.hasSuffix("configs/bridge-llama3-70b.yaml:54:21"), "\(micro)")
    let global = try #require(line("train.global_batch_size → model.global_batch_size"))
    #expect(global.contains("1024") && global.hasSuffix("override (train.global_batch_size=1024)"))
    // comm_overlap with t 4 and sequence parallelism keeps the TP overlap; d = 32 / 32 = 1
    // turns the data-parallel overlaps off though DDP asks for them.
    let grad = try #require(line("comm_overlap → model.optim.overlap_grad_sync"))
    #expect(grad.contains("false") && grad.contains("off with d = 1"))
    let tp = try #require(line("comm_overlap.tp_comm_overlap → model.tp_comm_overlap"))
    #expect(tp.contains("true"))
    // A default Bridge supplies: the field the file leaves out.
    let expert = try #require(line("model.expert_model_parallel_size"))
    #expect(expert.hasSuffix("default (Megatron-Core ModelParallelConfig default)"))
    let json = runCLI(["config", rooted("configs/bridge-llama3-70b.yaml"), "--format", "json"])
    let entries = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
    let entry = try #require(entries.first { $0["key"] as? String == "model.micro_batch_size" })
    #expect(entry["bridge_key"] as? String == "train.micro_batch_size")
    #expect(entry["value"] as? Int == 1)
  }

  @Test("a config error in a Bridge file points at its line and names the Bridge field")
  func locatedErrors() throws {
    let text = Self.llamaBridge.replacingOccurrences(
      of: "  micro_batch_size: 1\n", with: "  micro_batch_size: four\n")
    try Self.withFiles(["run.yaml": text]) { dir in
      let path = dir.appendingPathComponent("run.yaml").path
      let r = runCLI(["estimate", path])
      #expect(r.code == 64 && r.stdout.isEmpty)
      // `  micro_batch_size: four` is line 25 of the file; the value starts at column 21.
      #expect(
        r.stderr
          == """
          \(path):25:21: error: expected an integer for 'micro_batch_size', found 'four'
           25 |   micro_batch_size: four
              |                     ^^^^
          note: megaplan reads Megatron-Bridge's 'train.micro_batch_size' as 'model.micro_batch_size'

          """)
      // A Hydra sweep, and a key that is neither in the file nor read.
      let sweep = runCLI(["estimate", path, "dataset.split=9999,8,2"])
      #expect(sweep.code == 64)
      #expect(sweep.stderr.hasPrefix("<override>:1:15: error: '9999,8,2' is a Hydra choice sweep"))
      let typo = runCLI(["estimate", path, "model.tensor_model_paralel_size=4"])
      #expect(
        typo.stderr.hasPrefix(
          "<override>:1:33: error: cannot override 'model.tensor_model_paralel_size': the config has no such key and megaplan does not read it; did you mean 'model.tensor_model_parallel_size'?"
        ), "\(typo.stderr)")
    }
  }

  /// llama3_8b_sft_gb200_fp8_mx_v1.yaml sets `disable_parameter_transpose_cache: true` (line 294,
  /// column 38) under MXFP8 and `packed_sequence_size: 4096` (line 80): both refused, the first
  /// located, the other in the note.
  @Test("a real dump's unmodeled fields: one error, the first located, the rest in the note")
  func realRefusal() {
    let path = rooted("\(Self.fixtures)/llama3_8b_sft_gb200_fp8_mx_v1.yaml")
    let r = runCLI(["estimate", path, "--gpus", "8", "--gpu", "gb200"])
    #expect(r.code == 64 && r.stdout.isEmpty)
    #expect(
      relativized(r.stderr)
        == """
        \(Self.fixtures)/llama3_8b_sft_gb200_fp8_mx_v1.yaml:294:38: error: model.disable_parameter_transpose_cache: true is not modeled yet; FP8 weight transposes made every microbatch instead of cached
         294 |   disable_parameter_transpose_cache: true
             |                                      ^^^^
        note: also not modeled in this file: dataset.packed_sequence_specs.packed_sequence_size: 4096 is not modeled yet; packed sequences (attention within each packed example, not over the row) (line 80)

        """)
    // Overridden, it estimates (with the warning on the model's 16,384 against the dataset's
    // 4,096).
    let fixed = runCLI([
      "estimate", path, "--gpus", "8", "--gpu", "gb200",
      "model.disable_parameter_transpose_cache=false",
      "dataset.packed_sequence_specs.packed_sequence_size=0",
    ])
    #expect(fixed.code == 0, "\(fixed.stderr)")
    #expect(fixed.stdout.contains("8 × GB200 NVL72: t=1 p=1 d=8"))
    #expect(
      fixed.stderr.contains("warning: model.seq_length 16384 differs from dataset.seq_length 4096"))
  }

  @Test("a DeepSeek-V3 and a Qwen3 dump estimate once their unmodeled fields are overridden")
  func realDumpsEstimate() {
    let deepseek = runCLI([
      "estimate", rooted("\(Self.fixtures)/deepseek_v3_pretrain_h100_fp8_sc_v1.yaml"), "--gpus",
      "1024", "--gpu", "h100", "model.moe_flex_dispatcher_backend=deepep",
      "model.moe_permute_fusion=false", "model.moe_router_fusion=false",
      "model.deallocate_pipeline_outputs=true", "optimizer.use_precision_aware_optimizer=false",
    ])
    #expect(deepseek.code == 0, "\(deepseek.stderr)")
    #expect(deepseek.stdout.contains("t=2 p=8 d=64, interleaved v=4, layout Et|(tt|)*30mL"))
    // NVFP4 replaced by its BF16 recipe, which the NVFP4 alias started from.
    let qwen = runCLI([
      "estimate", rooted("\(Self.fixtures)/qwen3_235b_a22b_pretrain_b200_nvfp4_v1.yaml"),
      "--gpus", "64", "--gpu", "b200", "mixed_precision=bf16_mixed",
      "model.moe_permute_fusion=false", "model.moe_router_fusion=false",
    ])
    #expect(qwen.code == 0, "\(qwen.stderr)")
    #expect(qwen.stdout.contains("64 × B200 180GB: t=1 p=8 d=8"))
  }

  @Test("a real override YAML merges over a Bridge FILE, as Bridge's --config-file does")
  func overrideFile() throws {
    // quantized_llama3_8b_pretrain_override_example.yaml sets t 1, cp 1, 20 iterations and a
    // global batch of 8 over the Llama 3 8B recipe.
    let r = runCLI([
      "config", rooted("configs/bridge-llama3-8b.yaml"),
      rooted("\(Self.fixtures)/quantized_llama3_8b_pretrain_override_example.yaml"), "--format",
      "json",
    ])
    #expect(r.code == 0, "\(r.stderr)")
    let entries = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
    func value(_ key: String) -> Any? { entries.first { $0["key"] as? String == key }?["value"] }
    #expect(value("model.context_parallel_size") as? Int == 1)
    #expect(value("model.global_batch_size") as? Int == 8)
    let global = entries.first { $0["key"] as? String == "model.global_batch_size" }
    #expect(
      (global?["source"] as? String)?.contains(
        "quantized_llama3_8b_pretrain_override_example.yaml:28:") == true)
    // 20 iterations × 8 × 8,192 tokens.
    #expect(value("megaplan.train_tokens") as? Int == 1_310_720)
    // Only a Bridge FILE takes files after it.
    let nemo = runCLI([
      "estimate", rooted("configs/llama3-8b.yaml"),
      rooted("\(Self.fixtures)/quantized_llama3_8b_pretrain_override_example.yaml"),
    ])
    #expect(nemo.code == 64 && nemo.stderr.contains("merged over a Megatron-Bridge config"))
  }

  @Test("--set KEY=[a,b] sets a list key a file writes as a list (issue 28)")
  func setList() {
    let file = rooted("configs/deepseek-v3.yaml")
    let listed = runCLI(["config", file, "--set", "model.recompute_modules=[mla_up_proj]"])
    #expect(listed.code == 0, "\(listed.stderr)")
    #expect(listed.stdout.contains("model.recompute_modules"))
    let line = listed.stdout.split(separator: "\n").first {
      $0.hasPrefix("model.recompute_modules ")
    }
    #expect(line?.contains("[mla_up_proj]") == true)
    #expect(line?.hasSuffix("--set (model.recompute_modules=[mla_up_proj])") == true)
    let hydra = runCLI(["config", file, "model.recompute_modules=[mla_up_proj,mlp]"])
    #expect(hydra.code == 0)
  }

  @Test("a GPU without a profile is refused by name; described by megaplan.hardware it runs")
  func unprofiledGPU() {
    let file = rooted("configs/bridge-llama3-8b.yaml")
    let r = runCLI(["estimate", file, "--gpu", "vr200"])
    #expect(r.code == 64)
    #expect(
      r.stderr.hasPrefix(
        "--gpu:1:7: error: megaplan.gpu: vr200 is not modeled yet; megaplan has no profile of the Vera Rubin VR200 yet"
      ))
    let described = runCLI([
      "estimate", file, "--gpu", "vr200",
      "+megaplan.hardware={base: b200, name: VR200, memory_gib: 268}",
    ])
    #expect(described.code == 0, "\(described.stderr)")
    #expect(described.stdout.contains("8 × VR200"))
    let nemo = runCLI(["estimate", rooted("configs/llama3-8b.yaml"), "--gpu", "r100"])
    #expect(
      nemo.code == 64
        && nemo.stderr.contains("GPU 'r100': megaplan has no profile of the Rubin R100 yet"))
  }
}
