/// Precision and data parallelism as Megatron-Bridge finalizes them: `mixed_precision` (a recipe
/// name or its fields) copied over the model's, DDP's and the optimizer's fields of the same name
/// (`MixedPrecisionConfig.setup`, Megatron-Bridge `training/mixed_precision.py`), and
/// `comm_overlap` rewriting the overlaps (`CommOverlapConfig.setup`, `training/comm_overlap.py`).
extension BridgeConfig {
  /// `MixedPrecisionConfig`'s fields that megaplan reads, with the dataclass's defaults
  /// (Megatron-Bridge a9497c6 `training/mixed_precision.py:40-73`).
  static let mixedPrecisionDefaults: [(String, ConfigScalar)] = [
    ("fp32", .bool(false)), ("fp16", .bool(false)), ("bf16", .bool(false)),
    ("grad_reduce_in_fp32", .bool(true)), ("fp8", .null), ("fp8_recipe", .string("tensorwise")),
    ("first_last_layers_bf16", .bool(false)), ("fp8_wgrad", .bool(true)),
    ("fp8_dot_product_attention", .bool(false)), ("fp8_multi_head_attention", .bool(false)),
    ("fp8_param", .null), ("fp8_param_gather", .bool(false)), ("fp4", .null),
    ("fp4_recipe", .string("nvfp4")), ("num_layers_at_start_in_bf16", .int(0)),
    ("num_layers_at_end_in_bf16", .int(0)), ("reuse_grad_buf_for_mxfp8_param_ag", .bool(false)),
  ]

  /// The registered recipes (`@register` in `training/mixed_precision.py`; a name may use `-`
  /// for `_`): the fields each sets over `MixedPrecisionConfig`'s defaults.
  static let mixedPrecisionRecipes: [String: [String: ConfigScalar]] = {
    let bf16: [String: ConfigScalar] = ["bf16": .bool(true), "grad_reduce_in_fp32": .bool(true)]
    let fp16: [String: ConfigScalar] = ["fp16": .bool(true), "grad_reduce_in_fp32": .bool(false)]
    let delayed: [String: ConfigScalar] = [
      "fp8": .string("hybrid"), "fp8_recipe": .string("delayed"), "fp8_param_gather": .bool(true),
    ]
    let mxfp8: [String: ConfigScalar] = [
      "fp8": .string("e4m3"), "fp8_recipe": .string("mxfp8"), "fp8_param_gather": .bool(true),
      "reuse_grad_buf_for_mxfp8_param_ag": .bool(true),
    ]
    func current(_ layers: Int, recipe: String = "tensorwise") -> [String: ConfigScalar] {
      [
        "fp8": .string("hybrid"), "fp8_recipe": .string(recipe),
        "first_last_layers_bf16": .bool(true), "num_layers_at_start_in_bf16": .int(layers),
        "num_layers_at_end_in_bf16": .int(layers), "fp8_param_gather": .bool(true),
      ]
    }
    let subchannel: [String: ConfigScalar] = [
      "fp8": .string("hybrid"), "fp8_recipe": .string("blockwise"),
      "fp8_param_gather": .bool(false),
    ]
    let nvfp4: [String: ConfigScalar] = [
      "fp8": .null, "fp4": .string("e2m1"), "fp4_recipe": .string("nvfp4"),
      "fp8_param_gather": .bool(false), "fp8_recipe": .null,
    ]
    func over(_ a: [String: ConfigScalar], _ b: [String: ConfigScalar]) -> [String: ConfigScalar] {
      a.merging(b) { $1 }
    }
    return [
      "bf16_mixed": bf16,
      "fp16_mixed": fp16,
      "bf16_with_fp8_delayed_scaling_mixed": over(bf16, delayed),
      "fp16_with_fp8_delayed_scaling_mixed": over(fp16, delayed),
      "bf16_with_mxfp8_mixed": over(bf16, mxfp8),
      "fp16_with_mxfp8_mixed": over(fp16, mxfp8),
      "bf16_with_fp8_current_scaling_mixed": over(bf16, current(1)),
      "nemotron_h_bf16_with_fp8_current_scaling_mixed": over(bf16, current(2)),
      "nanov2_bf16_with_fp8_current_scaling_mixed": over(bf16, current(2, recipe: "blockwise")),
      "fp16_with_fp8_current_scaling_mixed": over(fp16, current(1)),
      "bf16_with_fp8_subchannel_scaling_mixed": over(bf16, subchannel),
      "fp16_with_fp8_subchannel_scaling_mixed": over(fp16, subchannel),
      "bf16_with_nvfp4_mixed": over(bf16, nvfp4),
      "nemotron_3_super_bf16_with_nvfp4_mixed": over(
        over(bf16, nvfp4),
        ["first_last_layers_bf16": .bool(true), "num_layers_at_end_in_bf16": .int(14)]),
    ]
  }()

  /// Where a precision field lives when `mixed_precision` is null: DDP for the gradient and
  /// parameter-gather settings, the model for the rest; with its default there.
  static func precisionOwner(_ field: String) -> (path: String, fallback: ConfigScalar) {
    switch field {
    case "grad_reduce_in_fp32": return ("ddp.grad_reduce_in_fp32", .bool(false))
    case "fp8_param_gather": return ("ddp.fp8_param_gather", .bool(false))
    case "reuse_grad_buf_for_mxfp8_param_ag":
      return ("ddp.reuse_grad_buf_for_mxfp8_param_ag", .bool(false))
    case "fp8_recipe": return ("model.fp8_recipe", .string("delayed"))
    case "fp8_wgrad": return ("model.fp8_wgrad", .bool(true))
    case "fp8_param": return ("model.fp8_param", .bool(false))
    case "fp4_recipe": return ("model.fp4_recipe", .string("nvfp4"))
    case "fp8", "fp4": return ("model.\(field)", .null)
    case "num_layers_at_start_in_bf16", "num_layers_at_end_in_bf16":
      return ("model.\(field)", .int(0))
    default: return ("model.\(field)", .bool(false))
    }
  }
}

/// The precision fields in effect, each with the place it came from.
struct BridgePrecision {
  struct Field {
    var value: ConfigScalar
    /// The Bridge field shown in messages (`mixed_precision.fp4`, `model.fp8`).
    var path: String
    var location: SourceLocation
    var note: String?
    var overridden: Bool
  }

  var fields: [String: Field] = [:]

  func value(_ name: String) -> ConfigScalar { fields[name]?.value ?? .null }
  func bool(_ name: String) -> Bool { value(name) == .bool(true) }
  func string(_ name: String) -> String? {
    if case .string(let s) = value(name) { return s }
    return nil
  }
  func int(_ name: String) -> Int {
    if case .int(let n) = value(name) { return n }
    return 0
  }
  var fp8: Bool { string("fp8") != nil }
  var fp4: Bool { string("fp4") != nil }
}

extension BridgeTranslator {
  // MARK: - Mixed precision

  /// The precision in effect (`mixed_precision` over the model's and DDP's fields), written as
  /// NeMo's `trainer.precision`, `model.fp8*` and `model.grad_reduce_in_fp32`.
  mutating func mixedPrecision() throws -> BridgePrecision {
    var precision = BridgePrecision()
    let key = "mixed_precision"
    let config = try read(key)
    var recipe: [String: ConfigScalar]? = nil
    var recipeName: String? = nil
    if let config, !config.isNull, config.scalar != nil {
      guard case .string(let name)? = config.scalar else {
        throw typeError(config, "a recipe name")
      }
      let known = BridgeConfig.mixedPrecisionRecipes.keys.sorted()
      let normalized = name.replacingOccurrences(of: "-", with: "_")
      guard let fields = BridgeConfig.mixedPrecisionRecipes[normalized] else {
        throw ConfigError(
          "unknown mixed_precision recipe '\(name)'; Megatron-Bridge registers \(known.joined(separator: ", "))\(Suggestion.didYouMean(normalized, in: known))",
          key: key, at: config.location)
      }
      recipe = fields
      recipeName = normalized
    }
    let isMapping: Bool = {
      guard let config, case .mapping = config.node.kind, config.scalar == nil else { return false }
      return true
    }()
    for (name, fallback) in BridgeConfig.mixedPrecisionDefaults {
      if let recipe, let config, let recipeName {
        precision.fields[name] = BridgePrecision.Field(
          value: recipe[name] ?? fallback, path: "\(key).\(name)", location: config.location,
          note: "mixed_precision recipe \(recipeName)", overridden: config.overridden)
      } else if isMapping, let config {
        let path = "\(key).\(name)"
        if let value = try read(path) {
          precision.fields[name] = BridgePrecision.Field(
            value: value.scalar ?? .null, path: path, location: value.location, note: nil,
            overridden: value.overridden)
        } else {
          precision.fields[name] = BridgePrecision.Field(
            value: fallback, path: path, location: config.location,
            note: "MixedPrecisionConfig default", overridden: false)
        }
      } else {
        let (path, ownerDefault) = BridgeConfig.precisionOwner(name)
        if name == "fp32" { continue }
        if let value = try read(path) {
          precision.fields[name] = BridgePrecision.Field(
            value: value.scalar ?? .null, path: path, location: value.location, note: nil,
            overridden: value.overridden)
        } else {
          precision.fields[name] = BridgePrecision.Field(
            value: ownerDefault, path: path, location: nearestLocation(path),
            note: "default (mixed_precision is null)", overridden: false)
        }
      }
    }
    // MixedPrecisionConfig.finalize: fp8_param follows fp8_param_gather when unset.
    if precision.value("fp8_param") == .null, var gather = precision.fields["fp8_param_gather"] {
      gather.note = (gather.note.map { $0 + "; " } ?? "") + "fp8_param follows fp8_param_gather"
      precision.fields["fp8_param"] = gather
    }
    if precision.fp8 && precision.fp4, let field = precision.fields["fp4"] {
      throw ConfigError(
        "fp4 and fp8 cannot be used together (Megatron-Bridge MixedPrecisionConfig.finalize)",
        key: field.path, at: field.location)
    }
    try writePrecision(precision)
    return precision
  }

  mutating func writePrecision(_ precision: BridgePrecision) throws {
    func put(_ nemo: String, _ scalar: ConfigScalar, _ name: String, note extra: String? = nil) {
      guard let field = precision.fields[name] else { return }
      let note = [field.note, extra].compactMap { $0 }.joined(separator: "; ")
      self.put(
        nemo, BridgeTranslator.node(scalar, at: field.location),
        from: BridgeValue(
          path: field.path, scalar: scalar, node: BridgeTranslator.node(scalar, at: field.location),
          location: field.location, overridden: field.overridden),
        path: field.path, note: note.isEmpty ? nil : note)
    }
    if precision.bool("bf16") {
      put("trainer.precision", .string("bf16"), "bf16")
    } else if precision.bool("fp16") {
      put("trainer.precision", .string("16"), "fp16")
    } else {
      put("trainer.precision", .string("32"), "bf16", note: "neither bf16 nor fp16: fp32")
    }
    put("model.grad_reduce_in_fp32", precision.value("grad_reduce_in_fp32"), "grad_reduce_in_fp32")
    put("model.fp8", .bool(precision.fp8), "fp8")
    if let format = precision.string("fp8") {
      switch format {
      case "e4m3": put("model.fp8_e4m3", .bool(true), "fp8")
      case "hybrid": put("model.fp8_hybrid", .bool(true), "fp8")
      default:
        let field = precision.fields["fp8"]
        throw ConfigError(
          "fp8 '\(format)' is not one of e4m3, hybrid", key: field?.path ?? "model.fp8",
          at: field?.location)
      }
      if let recipe = precision.string("fp8_recipe") {
        put("model.fp8_recipe", .string(recipe), "fp8_recipe")
      }
      // FP8 primary weights (`fp8_param`), gathered in FP8 (`fp8_param_gather`, DDP's copy).
      let primary = precision.bool("fp8_param") || precision.bool("fp8_param_gather")
      put(
        "model.fp8_param_gather", .bool(primary),
        precision.bool("fp8_param") ? "fp8_param" : "fp8_param_gather")
      put(
        "model.fp8_dot_product_attention", precision.value("fp8_dot_product_attention"),
        "fp8_dot_product_attention")
    }
    if let fp4 = precision.string("fp4") {
      put("model.fp4", .string(fp4), "fp4")
      put("model.fp4_recipe", precision.value("fp4_recipe"), "fp4_recipe")
      // NVFP4 primary weights (`fp4_param`, gathered in NVFP4: `fp4_param_gather`).
      if precision.bool("fp4_param") || precision.bool("fp4_param_gather") {
        put(
          "model.fp4_param", .bool(true),
          precision.bool("fp4_param") ? "fp4_param" : "fp4_param_gather")
      }
    }
  }

  // MARK: - Data parallelism and overlaps

  /// The distributed optimizer, Megatron-FSDP and the overlaps, with `comm_overlap`'s rewrite
  /// when the section is there. Also records the effective `delay_wgrad_compute`,
  /// `defer_embedding_wgrad_compute` and `overlap_param_gather_with_optimizer_step` for the
  /// refusals.
  mutating func dataParallel() throws {
    let ddpDistributed = try bool("ddp.use_distributed_optimizer", false)
    let distributed = try ddpDistributed || bool("optimizer.use_distributed_optimizer", false)
    let distributedPath =
      try bool("ddp.use_distributed_optimizer", false)
      ? "ddp.use_distributed_optimizer" : "optimizer.use_distributed_optimizer"
    put(
      "model.optim.name", .string(distributed ? "distributed_fused_adam" : "fused_adam"),
      path: distributedPath,
      note: distributed ? "the distributed optimizer" : "no distributed optimizer",
      isDefault: !has(distributedPath),
      overridden: try read(distributedPath)?.overridden ?? false)
    // Megatron-FSDP: its sharding strategy acts only when it is on.
    let fsdpPath =
      try bool("dist.use_megatron_fsdp", false)
      ? "dist.use_megatron_fsdp"
      : try bool("ddp.use_custom_fsdp", false) ? "ddp.use_custom_fsdp" : "ddp.use_megatron_fsdp"
    fullySharded = try bool(fsdpPath, false)
    if fullySharded {
      let strategyPath = "ddp.data_parallel_sharding_strategy"
      if let value = try read(strategyPath), !value.isNull {
        put(
          "model.data_parallel_sharding_strategy", value.scalar ?? .null, from: value,
          note: "Megatron-FSDP (\(fsdpPath))")
      } else {
        put(
          "model.data_parallel_sharding_strategy", .string("no_shard"), path: strategyPath,
          note: "Megatron-Core DistributedDataParallelConfig default", isDefault: true)
      }
    }

    let t = try int("model.tensor_model_parallel_size") ?? 1
    let p = try int("model.pipeline_model_parallel_size") ?? 1
    let v = try int("model.virtual_pipeline_model_parallel_size") ?? 1
    let cp = try int("model.context_parallel_size") ?? 1
    let sp = try bool("model.sequence_parallel", false)
    let te = (try string("model.transformer_impl") ?? "transformer_engine") == "transformer_engine"
    let key = "comm_overlap"
    let section = try read(key)
    let hasSection: Bool = {
      guard let section, case .mapping = section.node.kind, section.scalar == nil else {
        return false
      }
      return true
    }()
    var grad = try bool("ddp.overlap_grad_reduce", false)
    var gradPath = "ddp.overlap_grad_reduce"
    var param = try bool("ddp.overlap_param_gather", false)
    var paramPath = "ddp.overlap_param_gather"
    var withStep = try bool("optimizer.overlap_param_gather_with_optimizer_step", false)
    var withStepPath = "optimizer.overlap_param_gather_with_optimizer_step"
    var dataNote: String? = nil
    if hasSection {
      // CommOverlapConfig.setup: computed defaults, then the section's non-null values win.
      let user = try bool("\(key).tp_comm_overlap", false)
      let tp = user && t >= 2 && sp && te
      let tpNote =
        user && !tp
        ? "comm_overlap: off, as Megatron-Bridge turns it off without t ≥ 2, sequence_parallel and Transformer Engine (t = \(t))"
        : "comm_overlap"
      put("model.tp_comm_overlap", .bool(tp), path: "\(key).tp_comm_overlap", note: tpNote)
      let p2pUser = try optionalBool("\(key).overlap_p2p_comm")
      put(
        "model.overlap_p2p_comm", .bool(p2pUser ?? (p > 1 && v > 1)),
        path: "\(key).overlap_p2p_comm",
        note: p2pUser == nil
          ? "comm_overlap: on with p > 1 and v > 1 (p = \(p), v = \(v))" : "comm_overlap")
      let ep = try optionalBool("\(key).overlap_moe_expert_parallel_comm") ?? false
      put(
        "model.overlap_moe_expert_parallel_comm", .bool(ep),
        path: "\(key).overlap_moe_expert_parallel_comm", note: "comm_overlap")
      effective["model.delay_wgrad_compute"] = (
        try optionalBool("\(key).delay_wgrad_compute") ?? false, "\(key).delay_wgrad_compute"
      )
      effective["model.defer_embedding_wgrad_compute"] = (
        try optionalBool("\(key).defer_embedding_wgrad_compute") ?? false,
        "\(key).defer_embedding_wgrad_compute"
      )
      if ddpDistributed {
        let d = (gpus ?? 1) / max(1, t * p * cp)
        let computed = d > 1
        dataNote =
          "comm_overlap: \(computed ? "on" : "off") with d = \(d) and the distributed optimizer"
        if let g = try optionalBool("\(key).overlap_grad_reduce") {
          (grad, gradPath) = (g, "\(key).overlap_grad_reduce")
        } else {
          (grad, gradPath) = (computed, key)
        }
        if let g = try optionalBool("\(key).overlap_param_gather") {
          (param, paramPath) = (g, "\(key).overlap_param_gather")
        } else {
          (param, paramPath) = (computed, key)
        }
        withStep = try optionalBool("\(key).overlap_param_gather_with_optimizer_step") ?? false
        withStepPath = "\(key).overlap_param_gather_with_optimizer_step"
      }
    } else {
      try copy("model.tp_comm_overlap", to: "model.tp_comm_overlap")
      try copy("model.overlap_p2p_comm", to: "model.overlap_p2p_comm")
      try copy(
        "model.overlap_moe_expert_parallel_comm", to: "model.overlap_moe_expert_parallel_comm")
      effective["model.delay_wgrad_compute"] = (
        try bool("model.delay_wgrad_compute", false), "model.delay_wgrad_compute"
      )
      effective["model.defer_embedding_wgrad_compute"] = (
        try bool("model.defer_embedding_wgrad_compute", false),
        "model.defer_embedding_wgrad_compute"
      )
    }
    effective["optimizer.overlap_param_gather_with_optimizer_step"] = (withStep, withStepPath)
    if let (delay, from) = effective["model.delay_wgrad_compute"], delay {
      put(
        "model.delay_wgrad_compute", .bool(true), path: from,
        note: from == "model.delay_wgrad_compute" ? nil : "comm_overlap")
    }
    // ConfigContainer.validate OR-syncs the parameter-gather overlap of DDP and the optimizer.
    if !param, try bool("optimizer.overlap_param_gather", false) {
      (param, paramPath) = (true, "optimizer.overlap_param_gather")
    }
    put(
      "model.optim.overlap_grad_sync", .bool(grad), path: gradPath,
      note: gradPath == key ? dataNote : nil, isDefault: !has(gradPath) && gradPath != key,
      overridden: try read(gradPath)?.overridden ?? false)
    put(
      "model.optim.overlap_param_sync", .bool(param), path: paramPath,
      note: paramPath == key ? dataNote : nil, isDefault: !has(paramPath) && paramPath != key,
      overridden: try read(paramPath)?.overridden ?? false)
    // The gradient bucket, in parameters: DDP's `bucket_size`, else what CommOverlapConfig sets
    // with the distributed optimizer and d > 1 (128 Mi parameters), else Megatron-Core's default.
    if let size = try int("ddp.bucket_size") {
      put("model.ddp_bucket_size", .int(size), path: "ddp.bucket_size", note: nil)
    } else if hasSection && ddpDistributed && grad, (gpus ?? 1) / max(1, t * p * cp) > 1 {
      // (Only the overlapped reduction is bucketed, `DataParallelSync`.)
      let size = try int("\(key).bucket_size") ?? 128 * 1024 * 1024
      put(
        "model.ddp_bucket_size", .int(size), path: "\(key).bucket_size",
        note: "comm_overlap: 128 Mi parameters with the distributed optimizer and d > 1")
    }
  }
}
