/// The Bridge fields that change memory or time and that megaplan does not model yet: refused
/// by name when a file sets them (all found in one error), never read as if absent. One list;
/// when the physics of one lands, remove its entry (its value then reaches the NeMo key in
/// `nemo`, which the translation already writes for the mapped ones).
extension BridgeConfig {
  /// What the refusal rules look at besides the field's value.
  struct RunContext: Sendable {
    var fp8: Bool
    var fp4: Bool
    /// Layers kept in BF16 at the start and end (`num_layers_at_{start,end}_in_bf16`).
    var bf16Layers: Int
    var pipeline: Int
    var dispatcher: String
    var experts: Bool
    var fullySharded: Bool
  }

  struct NotModeled: Sendable {
    /// The Bridge field.
    var key: String
    /// The NeMo key it becomes once modeled (nil: no NeMo key planned).
    var nemo: String?
    /// What it does.
    var what: String
    /// Whether a value (nil for a list or a mapping) is refused in this run.
    var refuses: @Sendable (ConfigScalar?, RunContext) -> Bool
  }

  @Sendable static func isTrue(_ v: ConfigScalar?, _ c: RunContext) -> Bool { v == .bool(true) }
  @Sendable static func notNull(_ v: ConfigScalar?, _ c: RunContext) -> Bool { v != .null }
  @Sendable static func nonZero(_ v: ConfigScalar?, _ c: RunContext) -> Bool {
    switch v {
    case .int(let n)?: return n != 0
    case .double(let d)?: return d != 0
    case .null?: return false
    default: return true
    }
  }

  static let notModeled: [NotModeled] = [
    // Precision (the values in effect: `mixed_precision` over the model's fields).
    NotModeled(
      key: "model.first_last_layers_bf16", nemo: nil,
      what: "the first and last layers in BF16 under FP8 or FP4",
      refuses: { v, c in v == .bool(true) && (c.fp8 || c.fp4) && c.bf16Layers > 0 }),
    NotModeled(
      key: "model.fp8_wgrad", nemo: nil, what: "weight gradients computed outside FP8",
      refuses: { v, c in v == .bool(false) && c.fp8 }),
    NotModeled(
      key: "model.fp8_multi_head_attention", nemo: nil, what: "FP8 multi-head attention",
      refuses: { v, c in v == .bool(true) && c.fp8 }),
    NotModeled(
      key: "model.fp8_recipe", nemo: "model.fp8_recipe", what: "a custom FP8 recipe",
      refuses: { v, c in v == .string("custom") && c.fp8 }),
    NotModeled(
      key: "model.disable_parameter_transpose_cache", nemo: nil,
      what: "FP8 weight transposes made every microbatch instead of cached",
      refuses: { v, c in v == .bool(true) && (c.fp8 || c.fp4) }),
    // Mixture of experts.
    NotModeled(
      key: "model.moe_token_dropping", nemo: nil, what: "token dropping", refuses: isTrue),
    NotModeled(
      key: "model.moe_latent_size", nemo: nil, what: "a latent projection around the experts",
      refuses: notNull),
    NotModeled(
      key: "model.moe_apply_probs_on_input", nemo: nil,
      what: "router probabilities applied to the experts' input", refuses: isTrue),
    NotModeled(
      key: "model.moe_layer_recompute", nemo: nil,
      what: "MoE layer recompute (recompute_modules [moe] is modeled)", refuses: isTrue),
    // Attention and the layer.
    NotModeled(
      key: "model.attention_output_gate", nemo: nil, what: "a gate on the attention output",
      refuses: isTrue),
    NotModeled(
      key: "model.experimental_attention_variant", nemo: nil,
      what: "an experimental attention variant", refuses: notNull),
    NotModeled(
      key: "model.is_hybrid_model", nemo: nil, what: "hybrid (Mamba) layers", refuses: isTrue),
    NotModeled(
      key: "model.heterogeneous_block_specs", nemo: nil, what: "layers of different shapes",
      refuses: isTrue),
    // Memory and the schedule.
    NotModeled(
      key: "model.distribute_saved_activations", nemo: nil,
      what: "recompute inputs sharded over the tensor-parallel group", refuses: isTrue),
    NotModeled(
      key: "model.fine_grained_activation_offloading", nemo: nil,
      what: "activations offloaded to the CPU", refuses: isTrue),
    NotModeled(
      key: "model.num_microbatches_with_partial_activation_checkpoints", nemo: nil,
      what: "recompute on some microbatches only", refuses: notNull),
    NotModeled(
      key: "model.deallocate_pipeline_outputs", nemo: nil,
      what:
        "pipeline stage outputs kept after they are sent (megaplan frees them, as Megatron-LM does)",
      refuses: { v, c in v == .bool(false) && c.pipeline > 1 }),
    NotModeled(
      key: "model.microbatch_group_size_per_vp_stage", nemo: nil,
      what: "a microbatch grouping of the interleaved schedule other than p",
      refuses: { v, c in
        guard let v, v != .null else { return false }
        guard case .int(let n) = v else { return true }
        return n != c.pipeline
      }),
    NotModeled(
      key: "model.hybrid_context_parallel", nemo: nil, what: "hybrid context parallelism",
      refuses: isTrue),
    NotModeled(
      key: "model.defer_embedding_wgrad_compute", nemo: nil,
      what: "the embedding's weight gradient deferred into the pipeline flush", refuses: isTrue),
    // Data parallelism and the optimizer.
    NotModeled(
      key: "ddp.num_distributed_optimizer_instances", nemo: nil,
      what: "several distributed-optimizer instances",
      refuses: { v, _ in
        guard case .int(let n)? = v else { return false }
        return n > 1
      }),
    NotModeled(
      key: "ddp.outer_dp_sharding_strategy", nemo: nil, what: "hybrid sharding (HSDP)",
      refuses: { v, c in c.fullySharded && v != .null && v != .string("no_shard") }),
    NotModeled(
      key: "ddp.fsdp_double_buffer", nemo: nil, what: "Megatron-FSDP's double buffers",
      refuses: { v, c in c.fullySharded && v == .bool(true) }),
    NotModeled(
      key: "ddp.keep_fp8_transpose_cache", nemo: nil,
      what: "FP8 weight transposes kept under Megatron-FSDP",
      refuses: { v, c in c.fullySharded && v == .bool(true) }),
    NotModeled(
      key: "ddp.nccl_ub", nemo: nil,
      what: "NCCL user buffers for the parameter and gradient buffers", refuses: isTrue),
    NotModeled(key: "dist.use_torch_fsdp2", nemo: nil, what: "PyTorch FSDP2", refuses: isTrue),
    NotModeled(
      key: "optimizer.optimizer", nemo: nil, what: "an optimizer other than Adam",
      refuses: { v, _ in v != .null && v != .string("adam") }),
    NotModeled(
      key: "optimizer.use_precision_aware_optimizer", nemo: nil,
      what:
        "the precision-aware optimizer (Transformer Engine's FusedAdam with the dtypes of exp_avg_dtype, exp_avg_sq_dtype, main_params_dtype and 16-bit master remainders)",
      refuses: isTrue),
    NotModeled(
      key: "optimizer.optimizer_cpu_offload", nemo: nil, what: "the optimizer on the CPU",
      refuses: isTrue),
    NotModeled(
      key: "optimizer.overlap_param_gather_with_optimizer_step", nemo: nil,
      what: "the first bucket's parameter gather overlapped with the optimizer step",
      refuses: isTrue),
    // The run.
    NotModeled(
      key: "train.empty_unused_memory_level", nemo: nil,
      what: "PyTorch's cache emptied every step", refuses: nonZero),
    NotModeled(
      key: "dataset.packed_sequence_specs.packed_sequence_size", nemo: nil,
      what: "packed sequences (attention within each packed example, not over the row)",
      refuses: { v, _ in
        guard case .int(let n)? = v else { return false }
        return n > 0
      }),
    NotModeled(
      key: "peft", nemo: nil,
      what: "parameter-efficient fine-tuning (frozen weights without gradients, adapters)",
      refuses: notNull),
    NotModeled(
      key: "tensor_inspect", nemo: nil, what: "tensor inspection hooks", refuses: notNull),
  ]
}

extension BridgeTranslator {
  /// Records every field of `BridgeConfig.notModeled` the run sets (its value in effect: a
  /// precision field as `mixed_precision` leaves it, an overlap as `comm_overlap` does).
  mutating func checkNotModeled(precision: BridgePrecision) throws {
    let experts = (try int("model.num_moe_experts") ?? 0) > 1
    var dispatcher = try string("model.moe_token_dispatcher_type") ?? "allgather"
    if !experts { dispatcher = "" }
    let context = BridgeConfig.RunContext(
      fp8: precision.fp8, fp4: precision.fp4,
      bf16Layers: precision.int("num_layers_at_start_in_bf16")
        + precision.int("num_layers_at_end_in_bf16"),
      pipeline: try int("model.pipeline_model_parallel_size") ?? 1, dispatcher: dispatcher,
      experts: experts, fullySharded: fullySharded)
    for entry in BridgeConfig.notModeled {
      let name = entry.key.split(separator: ".").last.map(String.init) ?? entry.key
      var scalar: ConfigScalar?
      var path = entry.key
      var location: SourceLocation?
      var note: String?
      if entry.key.hasPrefix("model."), let field = precision.fields[name] {
        (scalar, path, location, note) = (field.value, field.path, field.location, field.note)
      } else if let (value, from) = effective[entry.key] {
        scalar = .bool(value)
        path = from
        location = (try read(from))?.location ?? nearestLocation(from)
        if from != entry.key { note = "comm_overlap sets \(entry.key)" }
      } else {
        guard let value = try read(entry.key) else { continue }
        (scalar, location) = (value.scalar, value.location)
      }
      guard entry.refuses(scalar, context) else { continue }
      if entry.nemo != nil, let scalar, scalar != .null {
        // Mapped for when it is modeled; not read by the NeMo side yet.
        put(
          entry.nemo ?? entry.key,
          BridgeTranslator.node(scalar, at: location ?? nearestLocation(path)),
          from: nil, path: path)
      }
      let shown = scalar.map { KeyReader.shown($0) } ?? ((try? read(path))??.shown ?? "set")
      refuse(
        path, "\(path): \(shown)\(note.map { " (\($0))" } ?? "") is not modeled yet; \(entry.what)",
        at: location)
    }
  }
}
