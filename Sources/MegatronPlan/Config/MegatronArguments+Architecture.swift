/// The Megatron-LM (and Megatron-DeepSpeed) flags that shape a dense decoder layer beyond GPT-3:
/// each becomes the NeMo key `ConfigLoader` reads. Defaults are Megatron-LM's
/// (`megatron/training/arguments.py`): dropout 0.1/0.1, fused kernels on (the `--no-…-fusion`
/// flags are `store_false`).
extension MegatronArguments {
  static let architectureFlags: [(flag: String, key: String)] = [
    ("--disable-bias-linear", "model.bias"),
    ("--add-qkv-bias", "model.add_qkv_bias"),
    ("--qk-layernorm", "model.qk_layernorm"),
    ("--kv-channels", "model.kv_channels"),
    ("--rotary-percent", "model.rotary_percentage"),
    ("--rotary-base", "model.rotary_base"),
    ("--hidden-dropout", "model.hidden_dropout"),
    ("--attention-dropout", "model.attention_dropout"),
    ("--squared-relu", "model.activation"),
    ("--quick-geglu", "model.activation"),
    ("--glu-linear-offset", "model.glu_linear_offset"),
    ("--activation-func-clamp-value", "model.activation_func_clamp_value"),
    ("--window-size", "model.window_size"),
    ("--window-attn-skip-freq", "model.window_attn_skip_freq"),
    ("--softmax-type", "model.softmax_type"),
    ("--apply-layernorm-1p", "model.normalization"),
    ("--no-bias-gelu-fusion", "model.bias_activation_fusion"),
    ("--no-bias-swiglu-fusion", "model.bias_activation_fusion"),
    ("--no-masked-softmax-fusion", "model.masked_softmax_fusion"),
    ("--no-rope-fusion", "model.apply_rope_fusion"),
    ("--activation-func-fp8-input-store", "model.activation_func_fp8_input_store"),
    ("--decoder-first-pipeline-num-layers", "model.num_layers_in_first_pipeline_stage"),
    ("--decoder-last-pipeline-num-layers", "model.num_layers_in_last_pipeline_stage"),
    ("--account-for-embedding-in-pipeline-split", "model.account_for_embedding_in_pipeline_split"),
    ("--account-for-loss-in-pipeline-split", "model.account_for_loss_in_pipeline_split"),
    ("--pp-partition-method", "model.account_for_embedding_in_pipeline_split"),
    ("--embed-layernorm", "megaplan.embedding_norm"),
    ("--pad-vocab-size-to", "megaplan.vocab_size"),
    ("--fp8-format", "model.fp8"),
    ("--fp8-recipe", "model.fp8_recipe"),
    ("--fp8-param-gather", "model.fp8_param_gather"),
    ("--tp-comm-overlap", "model.tp_comm_overlap"),
    ("--overlap-param-gather", "model.optim.overlap_param_sync"),
    ("--overlap-p2p-communication", "model.overlap_p2p_comm"),
    ("--no-overlap-p2p-communication", "model.overlap_p2p_comm"),
    ("--use-custom-fsdp", "model.data_parallel_sharding_strategy"),
    ("--use-megatron-fsdp", "model.data_parallel_sharding_strategy"),
    ("--data-parallel-sharding-strategy", "model.data_parallel_sharding_strategy"),
    ("--cross-entropy-loss-fusion", "model.cross_entropy_loss_fusion"),
    ("--grad-reduce-in-bf16", "model.grad_reduce_in_fp32"),
    ("--moe-router-topk", "model.moe_router_topk"),
    ("--moe-ffn-hidden-size", "model.moe_ffn_hidden_size"),
    ("--moe-shared-expert-intermediate-size", "model.moe_shared_expert_intermediate_size"),
    ("--moe-layer-freq", "model.moe_layer_freq"),
    ("--moe-expert-capacity-factor", "model.moe_expert_capacity_factor"),
    ("--moe-pad-expert-input-to-capacity", "model.moe_pad_expert_input_to_capacity"),
    ("--moe-token-dispatcher-type", "model.moe_token_dispatcher_type"),
    ("--moe-grouped-gemm", "model.moe_grouped_gemm"),
    ("--expert-model-parallel-size", "model.expert_model_parallel_size"),
    ("--expert-tensor-parallel-size", "model.expert_tensor_parallel_size"),
    ("--multi-latent-attention", "model.multi_latent_attention"),
    ("--q-lora-rank", "model.q_lora_rank"),
    ("--kv-lora-rank", "model.kv_lora_rank"),
    ("--qk-head-dim", "model.qk_head_dim"),
    ("--qk-pos-emb-head-dim", "model.qk_pos_emb_head_dim"),
    ("--v-head-dim", "model.v_head_dim"),
    ("--mtp-num-layers", "model.mtp_num_layers"),
    ("--recompute-modules", "model.recompute_modules"),
    ("--moe-router-score-function", "model.moe_router_score_function"),
    ("--moe-shared-expert-gate", "model.moe_shared_expert_gate"),
    ("--moe-flex-dispatcher-backend", "model.moe_flex_dispatcher_backend"),
    ("--moe-permute-fusion", "model.moe_permute_fusion"),
    ("--moe-router-fusion", "model.moe_router_fusion"),
    ("--moe-router-force-load-balancing", "model.moe_router_force_load_balancing"),
    ("--moe-router-num-groups", "model.moe_router_num_groups"),
    ("--moe-router-group-topk", "model.moe_router_group_topk"),
    ("--moe-shared-expert-overlap", "model.moe_shared_expert_overlap"),
    ("--delay-wgrad-compute", "model.delay_wgrad_compute"),
    ("--overlap-moe-expert-parallel-comm", "model.overlap_moe_expert_parallel_comm"),
    ("--pipeline-model-parallel-layout", "model.pipeline_model_parallel_layout"),
    ("--fp4-format", "model.fp4"),
    ("--fp4-recipe", "model.fp4_recipe"),
    ("--fp4-param-gather", "model.fp4_param_gather"),
    ("--use-sharp", "model.sharp"),
    ("--cuda-graph-impl", "model.cuda_graph_impl"),
    ("--cuda-graph-scope", "model.cuda_graph_scope"),
    ("--enable-cuda-graph", "model.enable_cuda_graph"),
    ("--external-cuda-graph", "model.external_cuda_graph"),
    ("--ddp-bucket-size", "model.ddp_bucket_size"),
  ]

  /// Flags that take every following word up to the next flag (argparse `nargs='*'`).
  static let architectureListFlags: Set<String> = ["--recompute-modules", "--cuda-graph-scope"]

  static let architectureValueFlags: Set<String> = [
    "--kv-channels", "--rotary-percent", "--rotary-base", "--hidden-dropout", "--attention-dropout",
    "--decoder-first-pipeline-num-layers", "--decoder-last-pipeline-num-layers",
    "--pp-partition-method", "--pad-vocab-size-to", "--fp8-format", "--fp8-recipe",
    "--data-parallel-sharding-strategy", "--moe-router-topk", "--moe-ffn-hidden-size",
    "--moe-shared-expert-intermediate-size", "--moe-layer-freq", "--moe-expert-capacity-factor",
    "--moe-token-dispatcher-type", "--expert-model-parallel-size",
    "--expert-tensor-parallel-size", "--mtp-num-layers", "--q-lora-rank", "--kv-lora-rank",
    "--qk-head-dim", "--qk-pos-emb-head-dim", "--v-head-dim", "--recompute-modules",
    "--moe-router-score-function", "--pipeline-model-parallel-layout", "--fp4-format",
    "--fp4-recipe", "--cuda-graph-impl", "--cuda-graph-scope", "--ddp-bucket-size",
    "--moe-flex-dispatcher-backend", "--moe-router-num-groups", "--moe-router-group-topk",
    "--glu-linear-offset", "--activation-func-clamp-value", "--window-size",
    "--window-attn-skip-freq", "--softmax-type",
  ]

  static let architectureSwitchFlags: Set<String> = [
    "--disable-bias-linear", "--add-qkv-bias", "--qk-layernorm", "--squared-relu", "--quick-geglu",
    "--apply-layernorm-1p", "--no-bias-gelu-fusion", "--no-bias-swiglu-fusion",
    "--no-masked-softmax-fusion", "--no-rope-fusion", "--activation-func-fp8-input-store",
    "--account-for-embedding-in-pipeline-split",
    "--account-for-loss-in-pipeline-split", "--embed-layernorm", "--fp8-param-gather",
    "--tp-comm-overlap", "--overlap-param-gather", "--overlap-p2p-communication",
    "--no-overlap-p2p-communication",
    "--use-custom-fsdp", "--use-megatron-fsdp", "--cross-entropy-loss-fusion",
    "--grad-reduce-in-bf16", "--moe-pad-expert-input-to-capacity", "--moe-grouped-gemm",
    "--multi-latent-attention", "--moe-shared-expert-gate", "--overlap-moe-expert-parallel-comm",
    "--fp4-param-gather", "--use-sharp", "--enable-cuda-graph", "--external-cuda-graph",
    "--moe-permute-fusion", "--moe-router-fusion", "--moe-router-force-load-balancing",
    "--moe-shared-expert-overlap", "--delay-wgrad-compute",
  ]
}

extension Mapper {
  /// Architecture flags into NeMo keys.
  mutating func architecture() throws {
    setSwitch("--disable-bias-linear", ["model", "bias"], "false")
    setSwitch("--add-qkv-bias", ["model", "add_qkv_bias"], "true")
    setSwitch("--qk-layernorm", ["model", "qk_layernorm"], "true")
    try copy("--kv-channels", to: ["model", "kv_channels"], integer: true)
    // `--rotary-percent` and the base are numbers; the loader checks their range.
    try copy("--rotary-percent", to: ["model", "rotary_percentage"], integer: false)
    try copy("--rotary-base", to: ["model", "rotary_base"], integer: false)
    // Megatron-LM's dropout defaults are 0.1 each, as NeMo's: absent flags keep the loader's.
    try copy("--hidden-dropout", to: ["model", "hidden_dropout"], integer: false)
    try copy("--attention-dropout", to: ["model", "attention_dropout"], integer: false)
    setSwitch("--squared-relu", ["model", "activation"], "squared-relu")
    // GPT-OSS's activation: `--quick-geglu` (gated quick-GeLU), `--glu-linear-offset`,
    // `--activation-func-clamp-value` (TransformerConfig fields, argparse from their names).
    setSwitch("--quick-geglu", ["model", "activation"], "quick-geglu")
    try copy("--glu-linear-offset", to: ["model", "glu_linear_offset"], integer: false)
    try copy(
      "--activation-func-clamp-value", to: ["model", "activation_func_clamp_value"],
      integer: false)
    // Sliding windows: `--window-size` is Megatron's `tuple_type` ("127,0" or "(127,0)"), kept
    // as a string; `--window-attn-skip-freq` an integer or a list expression, as
    // `--moe-layer-freq`.
    try copy("--window-size", to: ["model", "window_size"], integer: false) { text in
      "'\(text.filter { $0 != "'" && $0 != "\"" })'"
    }
    try copy("--window-attn-skip-freq", to: ["model", "window_attn_skip_freq"], integer: false) {
      text in
      let bare = text.filter { $0 != "'" && $0 != "\"" }
      return Int(bare) != nil ? bare : "'\(bare)'"
    }
    try copy("--softmax-type", to: ["model", "softmax_type"], integer: false)
    setSwitch("--apply-layernorm-1p", ["model", "normalization"], "layernorm1p")
    setSwitch("--no-bias-gelu-fusion", ["model", "bias_activation_fusion"], "false")
    setSwitch("--no-bias-swiglu-fusion", ["model", "bias_activation_fusion"], "false")
    setSwitch("--no-masked-softmax-fusion", ["model", "masked_softmax_fusion"], "false")
    setSwitch(
      "--activation-func-fp8-input-store", ["model", "activation_func_fp8_input_store"], "true")
    // Megatron-LM fuses rotary unless `--no-rope-fusion` (NeMo's default is unfused).
    if let location = flagLocation("--no-rope-fusion") {
      set(["model", "apply_rope_fusion"], "false", at: location, key: location)
    } else {
      set(["model", "apply_rope_fusion"], "true", at: defaultLocation, key: defaultLocation)
    }
    try copy(
      "--decoder-first-pipeline-num-layers", to: ["model", "num_layers_in_first_pipeline_stage"],
      integer: true)
    try copy(
      "--decoder-last-pipeline-num-layers", to: ["model", "num_layers_in_last_pipeline_stage"],
      integer: true)
    setSwitch(
      "--account-for-embedding-in-pipeline-split",
      ["model", "account_for_embedding_in_pipeline_split"], "true")
    setSwitch(
      "--account-for-loss-in-pipeline-split", ["model", "account_for_loss_in_pipeline_split"],
      "true")
    try partitionMethod()
    setSwitch("--embed-layernorm", ["megaplan", "embedding_norm"], "true")
    try copy("--pad-vocab-size-to", to: ["megaplan", "vocab_size"], integer: true)
    try numerics()
  }

  /// FP8 (`--fp8-format e4m3|hybrid` turns it on), Megatron-Core's overlaps and Megatron-FSDP.
  mutating func numerics() throws {
    if let (text, location, keyLocation) = try value("--fp8-format", key: "model.fp8") {
      let format = text.lowercased().filter { $0 != "'" && $0 != "\"" }
      guard format == "e4m3" || format == "hybrid" else {
        throw ConfigError(
          "--fp8-format '\(text)' is not e4m3 or hybrid", key: "model.fp8", at: location)
      }
      set(["model", "fp8"], "true", at: location, key: keyLocation)
      set(["model", "fp8_\(format)"], "true", at: location, key: keyLocation)
    }
    try copy("--fp8-recipe", to: ["model", "fp8_recipe"], integer: false)
    try copy("--fp4-format", to: ["model", "fp4"], integer: false)
    try copy("--fp4-recipe", to: ["model", "fp4_recipe"], integer: false)
    setSwitch("--fp4-param-gather", ["model", "fp4_param_gather"], "true")
    setSwitch("--use-sharp", ["model", "sharp"], "true")
    try copy("--cuda-graph-impl", to: ["model", "cuda_graph_impl"], integer: false)
    setSwitch("--enable-cuda-graph", ["model", "enable_cuda_graph"], "true")
    setSwitch("--external-cuda-graph", ["model", "external_cuda_graph"], "true")
    try copy("--ddp-bucket-size", to: ["model", "ddp_bucket_size"], integer: true)
    setSwitch("--fp8-param-gather", ["model", "fp8_param_gather"], "true")
    setSwitch("--tp-comm-overlap", ["model", "tp_comm_overlap"], "true")
    setSwitch("--overlap-param-gather", ["model", "optim", "overlap_param_sync"], "true")
    // Megatron-LM's `overlap_p2p_comm` is on unless `--no-overlap-p2p-communication`
    // (`store_false`, megatron/training/arguments.py), and forced off without the interleaved
    // schedule; the older `--overlap-p2p-communication` switch turns it on.
    if let location = flagLocation("--no-overlap-p2p-communication") {
      set(["model", "overlap_p2p_comm"], "false", at: location, key: location)
    } else if let location = flagLocation("--overlap-p2p-communication") {
      set(["model", "overlap_p2p_comm"], "true", at: location, key: location)
    } else if let location = flagLocation("--num-layers-per-virtual-pipeline-stage")
      ?? flagLocation("--virtual-pipeline-model-parallel-size")
    {
      set(["model", "overlap_p2p_comm"], "true", at: location, key: location)
    }
    // Megatron-FSDP shards optimizer states, gradients and weights unless told otherwise.
    let strategy = ["model", "data_parallel_sharding_strategy"]
    for flag in ["--use-custom-fsdp", "--use-megatron-fsdp"] {
      if let location = flagLocation(flag) {
        set(strategy, "optim_grads_params", at: location, key: location)
      }
    }
    try copy("--data-parallel-sharding-strategy", to: strategy, integer: false)
    setSwitch("--cross-entropy-loss-fusion", ["model", "cross_entropy_loss_fusion"], "true")
    setSwitch("--grad-reduce-in-bf16", ["model", "grad_reduce_in_fp32"], "false")
    try experts()
  }

  /// Mixture-of-experts flags (`--num-experts` is mapped with the core flags). Megatron-LM's
  /// `--moe-grouped-gemm` is off unless given (its argparse default); NeMo's default is on.
  mutating func experts() throws {
    for (flag, key, integer) in [
      ("--moe-router-topk", "moe_router_topk", true),
      ("--moe-ffn-hidden-size", "moe_ffn_hidden_size", true),
      ("--moe-shared-expert-intermediate-size", "moe_shared_expert_intermediate_size", true),
      ("--moe-expert-capacity-factor", "moe_expert_capacity_factor", false),
      ("--moe-token-dispatcher-type", "moe_token_dispatcher_type", false),
      ("--expert-model-parallel-size", "expert_model_parallel_size", true),
      ("--expert-tensor-parallel-size", "expert_tensor_parallel_size", true),
    ] {
      try copy(flag, to: ["model", key], integer: integer)
    }
    // A pattern such as "([0]*3+[1]*58)" stays a string (quoted so YAML typing keeps it one).
    try copy("--moe-layer-freq", to: ["model", "moe_layer_freq"], integer: false) { text in
      let bare = text.filter { $0 != "'" && $0 != "\"" }
      return Int(bare) != nil ? bare : "'\(bare)'"
    }
    setSwitch(
      "--moe-pad-expert-input-to-capacity", ["model", "moe_pad_expert_input_to_capacity"], "true")
    setSwitch("--multi-latent-attention", ["model", "multi_latent_attention"], "true")
    if let location = flagLocation("--multi-latent-attention") {
      // Megatron-LM's argparse defaults (arguments.py), which differ from MLATransformerConfig's:
      // `--q-lora-rank` None (queries projected from h), `--kv-lora-rank` 32.
      if !has("--q-lora-rank") {
        set(["model", "q_lora_rank"], "null", at: location, key: location)
      }
      if !has("--kv-lora-rank") {
        set(["model", "kv_lora_rank"], "32", at: location, key: location)
      }
    }
    for (flag, key) in [
      ("--q-lora-rank", "q_lora_rank"), ("--kv-lora-rank", "kv_lora_rank"),
      ("--qk-head-dim", "qk_head_dim"), ("--qk-pos-emb-head-dim", "qk_pos_emb_head_dim"),
      ("--v-head-dim", "v_head_dim"),
    ] {
      try copy(flag, to: ["model", key], integer: true)
    }
    try copy("--mtp-num-layers", to: ["model", "mtp_num_layers"], integer: true)
    try copy(
      "--pipeline-model-parallel-layout", to: ["model", "pipeline_model_parallel_layout"],
      integer: false)
    try copy("--recompute-modules", to: ["model", "recompute_modules"], integer: false)
    try copy("--cuda-graph-scope", to: ["model", "cuda_graph_scope"], integer: false)
    try copy(
      "--moe-router-score-function", to: ["model", "moe_router_score_function"], integer: false)
    setSwitch("--moe-shared-expert-gate", ["model", "moe_shared_expert_gate"], "true")
    setSwitch(
      "--overlap-moe-expert-parallel-comm", ["model", "overlap_moe_expert_parallel_comm"], "true")
    try copy(
      "--moe-flex-dispatcher-backend", to: ["model", "moe_flex_dispatcher_backend"],
      integer: false)
    try copy("--moe-router-num-groups", to: ["model", "moe_router_num_groups"], integer: true)
    try copy("--moe-router-group-topk", to: ["model", "moe_router_group_topk"], integer: true)
    for (flag, key) in [
      ("--moe-permute-fusion", "moe_permute_fusion"), ("--moe-router-fusion", "moe_router_fusion"),
      ("--moe-router-force-load-balancing", "moe_router_force_load_balancing"),
      ("--moe-shared-expert-overlap", "moe_shared_expert_overlap"),
      ("--delay-wgrad-compute", "delay_wgrad_compute"),
    ] {
      setSwitch(flag, ["model", key], "true")
    }
    if has("--num-experts") {
      if let location = flagLocation("--moe-grouped-gemm") {
        set(["model", "moe_grouped_gemm"], "true", at: location, key: location)
      } else {
        set(["model", "moe_grouped_gemm"], "false", at: defaultLocation, key: defaultLocation)
      }
    }
  }

  /// Megatron-DeepSpeed's `--pp-partition-method`: `type:transformer` balances transformer
  /// layers (Megatron's even split); `type:transformer|embedding` also counts the input and the
  /// tied output embedding as one part each (BLOOM), which is Megatron-Core's split with the
  /// embedding and the loss counted as layers. Other methods (`parameters`, `uniform`) balance
  /// what megaplan does not model and are refused.
  mutating func partitionMethod() throws {
    let key = "model.account_for_embedding_in_pipeline_split"
    guard let (text, location, keyLocation) = try value("--pp-partition-method", key: key)
    else { return }
    let method = text.lowercased().filter { $0 != " " && $0 != "'" && $0 != "\"" }
    switch method {
    case "type:transformer": return
    case "type:transformer|embedding", "type:embedding|transformer":
      set(
        ["model", "account_for_embedding_in_pipeline_split"], "true", at: location, key: keyLocation
      )
      set(["model", "account_for_loss_in_pipeline_split"], "true", at: location, key: keyLocation)
    default:
      throw ConfigError(
        "--pp-partition-method '\(text)' is not modeled; megaplan models type:transformer (an even split) and type:transformer|embedding",
        key: key, at: location)
    }
  }
}
