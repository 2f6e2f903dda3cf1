/// Reading FP8 training, Megatron-Core's overlap switches, fully sharded data parallelism and
/// the `megaplan.hardware` section.
extension ConfigLoader {
  static let fp8Recipes: [String: FP8Training.Recipe] = [
    "delayed": .delayed, "tensorwise": .tensorwise, "current": .tensorwise,
    "current_scaling": .tensorwise, "blockwise": .blockwise, "mxfp8": .mxfp8,
  ]

  /// NeMo `fp8` (with `fp8_hybrid`/`fp8_e4m3`, `fp8_recipe`, `fp8_params`/`fp8_param_gather`,
  /// `fp8_dot_product_attention`); nil when FP8 is off.
  static func readFP8(_ r: inout KeyReader, gpu: GPU) throws -> FP8Training? {
    if let fp4 = try readFP4(&r, gpu: gpu) { return fp4 }
    guard try r.bool("model.fp8", default: false) else { return nil }
    guard gpu.peak8 != nil else {
      throw r.error(
        "fp8: true needs FP8 tensor cores, which the \(gpu.displayName) does not have (Hopper or newer)",
        key: "model.fp8")
    }
    var fp8 = FP8Training()
    if try r.bool("model.fp8_e4m3", default: false, record: r.has("model.fp8_e4m3")) {
      fp8.format = .e4m3
    }
    if try r.bool("model.fp8_hybrid", default: false, record: r.has("model.fp8_hybrid")) {
      fp8.format = .hybrid
    }
    let recipeKey = "model.fp8_recipe"
    if let name = try r.optionalString(recipeKey, record: true) {
      guard let recipe = fp8Recipes[name.lowercased()] else {
        let names = fp8Recipes.keys.sorted()
        throw r.error(
          "unknown fp8_recipe '\(name)'; expected \(names.joined(separator: ", "))\(Suggestion.didYouMean(name.lowercased(), in: names))",
          key: recipeKey)
      }
      if recipe == .mxfp8 && gpu.generation != .blackwell {
        throw r.error(
          "fp8_recipe mxfp8 needs Blackwell's microscaling tensor cores, not the \(gpu.displayName)",
          key: recipeKey)
      }
      fp8.recipe = recipe
    } else {
      r.defaulted(recipeKey, "delayed")
    }
    for key in ["model.fp8_params", "model.fp8_param_gather"] where r.has(key) {
      fp8.primaryWeights = try r.bool(key, default: false) || fp8.primaryWeights
    }
    fp8.attention = try r.bool(
      "model.fp8_dot_product_attention", default: false,
      record: r.has("model.fp8_dot_product_attention"))
    return fp8
  }

  /// NVFP4 training (Megatron-Core `fp4: e2m1` with `fp4_recipe: nvfp4`, Megatron-LM
  /// `--fp4-format e2m1 --fp4-recipe nvfp4`): the linear layers' GEMMs in FP4
  /// (`FP8Training.Recipe.nvfp4`), FP4 primary weights with `fp4_param` (`fp4_param_gather`).
  /// Blackwell only (Transformer Engine supports NVFP4 training on SM 10.0 and 10.3). nil when
  /// `fp4` is unset, null or false.
  static func readFP4(_ r: inout KeyReader, gpu: GPU) throws -> FP8Training? {
    let key = "model.fp4"
    guard r.has(key) else { return nil }
    guard let format = try r.optionalString(key, record: true, acceptNumbers: true),
      !["false", "null", "none"].contains(format.lowercased())
    else { return nil }
    guard ["e2m1", "true", "nvfp4"].contains(format.lowercased()) else {
      throw r.error("unknown fp4 format '\(format)'; expected e2m1", key: key)
    }
    guard gpu.peak4 != nil else {
      throw r.error(
        "fp4: \(format) needs FP4 tensor cores, which the \(gpu.displayName) does not have (Blackwell)",
        key: key)
    }
    let recipeKey = "model.fp4_recipe"
    if let recipe = try r.optionalString(recipeKey, record: true), recipe.lowercased() != "nvfp4" {
      throw r.error(
        "fp4_recipe '\(recipe)' is not modeled; megaplan models nvfp4", key: recipeKey)
    }
    var fp4 = FP8Training(format: .hybrid, recipe: .nvfp4)
    for k in ["model.fp4_param", "model.fp4_param_gather"] where r.has(k) {
      fp4.primaryWeights = try r.bool(k, default: false) || fp4.primaryWeights
    }
    // Megatron-Core quantizes the attention core with an FP8 recipe only when asked.
    fp4.attention = try r.bool(
      "model.fp8_dot_product_attention", default: false,
      record: r.has("model.fp8_dot_product_attention"))
    return fp4
  }

  /// CUDA graphs (`CUDAGraphs`): Megatron-Core's `cuda_graph_impl` (none, local,
  /// transformer_engine, full_iteration) with `cuda_graph_scope` (a list of attn, mlp, moe,
  /// moe_router, moe_preprocess, full_iteration; empty: the whole layer), or the older switches
  /// NeMo and Megatron-LM kept: `enable_cuda_graph` (Megatron-Core's own per-layer graphs) and
  /// `external_cuda_graph` (Transformer Engine's).
  static func readCUDAGraphs(_ r: inout KeyReader) throws -> CUDAGraphs {
    var graphs = CUDAGraphs()
    let implKey = "model.cuda_graph_impl"
    if let name = try r.optionalString(implKey, record: true) {
      guard let impl = CUDAGraphs.Implementation(rawValue: name.lowercased()) else {
        let names = CUDAGraphs.Implementation.allCases.map(\.rawValue)
        throw r.error(
          "unknown cuda_graph_impl '\(name)'; expected \(names.joined(separator: ", "))\(Suggestion.didYouMean(name.lowercased(), in: names))",
          key: implKey)
      }
      graphs.implementation = impl
    } else if try r.bool(
      "model.enable_cuda_graph", default: false, record: r.has("model.enable_cuda_graph"))
    {
      graphs.implementation = .local
    } else if try r.bool(
      "model.external_cuda_graph", default: false, record: r.has("model.external_cuda_graph"))
    {
      graphs.implementation = .transformerEngine
    }
    let scopeKey = "model.cuda_graph_scope"
    if let names = try r.stringList(scopeKey) {
      // Megatron-Core's older string form: "full" is the whole layer (no scope named).
      for name in names where !name.isEmpty && name.lowercased() != "full" {
        guard let scope = CUDAGraphs.Scope(rawValue: name.lowercased()) else {
          let known = CUDAGraphs.Scope.allCases.map(\.rawValue)
          throw r.error(
            "unknown cuda_graph_scope '\(name)'; expected \(known.joined(separator: ", "))\(Suggestion.didYouMean(name.lowercased(), in: known))",
            key: scopeKey)
        }
        graphs.scopes.insert(scope)
      }
    }
    return graphs
  }

  /// Megatron-Core's overlap switches, with Megatron's defaults (all off).
  ///
  /// Without `overlap_grad_sync`, NeMo's own O2 optimizer wrapper (`MainParamsOptimizerWrapper`,
  /// `megatron_amp_O2: true` with a non-distributed optimizer) all-reduces the gradients in
  /// `grad_allreduce_chunk_size_mb` chunks from backward hooks, overlapped with the rest of the
  /// backward, when p = 1 and sequence parallelism is off (`async_grad_allreduce`, default true:
  /// NeMo `MegatronBaseModel.configure_optimizers`, 2022–2023; "if using tensor parallel only,
  /// we automatically use async grad all-reduce"); megaplan reads that as the overlapped
  /// gradient reduction.
  static func readOverlap(
    _ r: inout KeyReader, sequenceParallel: Bool, tensor: Int, pipeline: Int,
    distributedOptimizer: Bool
  ) throws -> Overlap {
    var o = Overlap()
    if !r.has("model.optim.overlap_grad_sync"),
      try r.bool("model.megatron_amp_O2", default: false, record: false), !distributedOptimizer,
      pipeline == 1, !(sequenceParallel && tensor > 1),
      try r.bool("model.async_grad_allreduce", default: true, record: false)
    {
      o.gradientReduction = true
      r.derived(
        "model.optim.overlap_grad_sync", "true",
        why:
          "megatron_amp_O2 with a non-distributed optimizer, p = 1 and no sequence parallelism: NeMo's async_grad_allreduce overlaps the gradient all-reduce with backward"
      )
    } else {
      o.gradientReduction = try r.bool("model.optim.overlap_grad_sync", default: false)
    }
    o.parameterGather = try r.bool("model.optim.overlap_param_sync", default: false)
    o.pipelineP2P = try r.bool("model.overlap_p2p_comm", default: false)
    let key = r.has("model.tp_comm_overlap") ? "model.tp_comm_overlap" : "model.ub_tp_comm_overlap"
    let tp = try r.bool(key, default: false)
    if tp && tensor > 1 && !sequenceParallel {
      // Megatron-Core asserts this: the userbuffer overlap splits the sequence-parallel
      // all-gathers and reduce-scatters.
      throw r.error(
        "\(KeyReader.leaf(key)): true needs sequence_parallel: true (Megatron-Core overlaps the sequence-parallel collectives)",
        key: key)
    }
    // Kept as requested even at t = 1 (where there is nothing to overlap: the step time and the
    // userbuffers both need t > 1), so that a search candidate with t > 1 keeps the file's
    // request and its emitted file loads to the same run.
    o.tensorParallel = tp
    o.expertParallel = try r.bool(
      "model.overlap_moe_expert_parallel_comm", default: false,
      record: r.has("model.overlap_moe_expert_parallel_comm"))
    return o
  }

  /// Fully sharded data parallelism: NeMo `fsdp: true` with `fsdp_sharding_strategy: full`, or
  /// Megatron-FSDP's `data_parallel_sharding_strategy: optim_grads_params` (Megatron-LM
  /// `--use-custom-fsdp`/`--use-megatron-fsdp`). `optim` is the distributed optimizer; the other
  /// strategies (gradients sharded but weights replicated, hybrid sharding) are refused.
  static func readFullySharded(_ r: inout KeyReader) throws -> Bool {
    if r.has("model.data_parallel_sharding_strategy") {
      let key = "model.data_parallel_sharding_strategy"
      let name = try r.optionalString(key, record: true) ?? "no_shard"
      switch name.lowercased() {
      case "optim_grads_params": return true
      case "no_shard", "optim": return false
      default:
        throw r.error(
          "data_parallel_sharding_strategy '\(name)' is not modeled yet; megaplan models no_shard, optim (the distributed optimizer) and optim_grads_params (full sharding)",
          key: key)
      }
    }
    guard try r.bool("model.fsdp", default: false, record: r.has("model.fsdp")) else {
      return false
    }
    let key = "model.fsdp_sharding_strategy"
    let strategy = try r.optionalString(key, record: true) ?? "full"
    guard strategy.lowercased() == "full" else {
      throw r.error(
        "fsdp_sharding_strategy '\(strategy)' is not modeled yet; megaplan models full sharding",
        key: key)
    }
    return true
  }

  /// The keys of `megaplan.hardware`: the GPU's figures (datasheet values) and the cluster
  /// constants `megaplan calibrate` writes (`calibratedConstantKeys`).
  public static let hardwareFigureKeys = [
    "base", "name", "memory_gib", "peak_bf16_tflops", "peak_fp8_tflops", "peak_fp32_tflops",
    "hbm_gbps", "nvlink_gbps", "nvlink_domain", "gpus_per_node", "network_gbps", "generation",
  ]
  /// The `PerformanceConstants` fields a `megaplan.hardware` section may set, by key: what
  /// `megaplan calibrate` fits (`CalibrationKnob.profileKeys`).
  public static var calibratedConstantKeys: [String] {
    CalibrationKnob.allCases.flatMap { $0.profileKeys.map(\.key) }
  }
  public static var hardwareKeys: [String] { hardwareFigureKeys + calibratedConstantKeys }

  /// `megaplan.hardware`: a GPU of the user's own, or a profile with some figures replaced.
  /// Keys: `base` (a profile name; a100-80gb when absent), `name`, `memory_gib`,
  /// `peak_bf16_tflops`, `peak_fp8_tflops`, `peak_fp32_tflops`, `hbm_gbps` (GB/s),
  /// `nvlink_gbps` (per direction, GB/s), `nvlink_domain`, `gpus_per_node`, `network_gbps` (per
  /// GPU and direction, GB/s), `generation` (ampere, hopper, blackwell); and the calibrated
  /// constants (`readCalibratedConstants`). Any other key is an error: a misspelt constant
  /// would otherwise be dropped without a word.
  static func readHardware(_ r: inout KeyReader, base: GPU) throws -> GPU {
    guard r.has("megaplan.hardware") else { return base }
    let section = "megaplan.hardware"
    guard let value = try r.lookup(section), case .mapping(let entries) = value.node.kind else {
      throw r.error(
        "megaplan.hardware must be a mapping of keys (base, name, memory_gib, …)", key: section)
    }
    for entry in entries where !hardwareKeys.contains(entry.key) {
      throw ConfigError(
        "unknown key 'megaplan.hardware.\(entry.key)'\(Suggestion.didYouMean(entry.key, in: hardwareKeys)); megaplan.hardware reads \(hardwareKeys.joined(separator: ", "))",
        key: "\(section).\(entry.key)", at: entry.keyLocation)
    }
    var gpu = base
    if let name = try r.optionalString("megaplan.hardware.base", record: true) {
      guard let profile = GPU.named(name) else {
        throw r.error(
          "unknown GPU '\(name)'; \(GPU.suggestion(for: name))", key: "megaplan.hardware.base")
      }
      gpu = profile
    }
    if let name = try r.optionalString("megaplan.hardware.name", record: true) {
      gpu.name = name.lowercased()
      gpu.displayName = name
    } else {
      // Only calibrated constants: the same GPU, measured on the user's cluster.
      let figures = entries.map(\.key).filter { $0 != "base" && hardwareFigureKeys.contains($0) }
      gpu.displayName += figures.isEmpty ? " (calibrated)" : " (modified)"
    }
    func number(_ key: String) throws -> Double? {
      try r.positiveNumber("megaplan.hardware." + key)
    }
    if let x = try number("memory_gib") { gpu.memory = .gibibytes(x) }
    if let x = try number("peak_bf16_tflops") { gpu.peak16 = .teraFLOPs(x) }
    if let x = try number("peak_fp8_tflops") { gpu.peak8 = .teraFLOPs(x) }
    if let x = try number("peak_fp32_tflops") { gpu.peak32 = .teraFLOPs(x) }
    if let x = try number("hbm_gbps") { gpu.hbm = .gigabytesPerSecond(x) }
    if let x = try number("nvlink_gbps") { gpu.nvlinkPerDirection = .gigabytesPerSecond(x) }
    if let x = try number("network_gbps") { gpu.interNodePerGPU = .gigabytesPerSecond(x) }
    if r.has("megaplan.hardware.nvlink_domain") {
      gpu.nvlinkDomain = try r.size("megaplan.hardware.nvlink_domain")
    }
    if r.has("megaplan.hardware.gpus_per_node") {
      gpu.gpusPerNode = try r.size("megaplan.hardware.gpus_per_node")
    }
    let generationKey = "megaplan.hardware.generation"
    if let name = try r.optionalString(generationKey, record: true) {
      guard let generation = GPU.Generation(rawValue: name.lowercased()) else {
        throw r.error(
          "unknown generation '\(name)'; expected ampere, hopper or blackwell", key: generationKey)
      }
      gpu.generation = generation
    }
    return gpu
  }

  /// The cluster constants of `megaplan.hardware` (`calibratedConstantKeys`) set on
  /// `constants`, the GPU generation's: an efficiency in (0, 2] (NVLS's passes 1: the switch
  /// reduces), the host's seconds per kernel in (0, 0.001].
  static func readCalibratedConstants(_ r: inout KeyReader, _ constants: PerformanceConstants)
    throws -> PerformanceConstants
  {
    var c = constants
    for knob in CalibrationKnob.allCases {
      for (key, field) in knob.profileKeys {
        let path = "megaplan.hardware." + key
        guard let (x, value) = try r.number(path) else { continue }
        let limit = knob == .host ? 1e-3 : 2.0
        guard x.isFinite, x > 0, x <= limit else {
          throw ConfigError(
            knob == .host
              ? "\(key) must be a time in seconds in (0, 0.001] (10e-6 is 10 µs), found \(KeyReader.shown(value.scalar))"
              : "\(key) must be a fraction of the datasheet figure in (0, 2], found \(KeyReader.shown(value.scalar))",
            key: path, at: value.location)
        }
        r.record(path, value, KeyReader.shown(value.scalar))
        c[keyPath: field] = x
      }
    }
    return c
  }

  /// The settings that change the peak but not the steady state: Megatron-Core's fused cross
  /// entropy (`cross_entropy_loss_fusion`), PyTorch's `expandable_segments`
  /// (`megaplan.expandable_segments`, as `PYTORCH_CUDA_ALLOC_CONF` sets it), NCCL's NVLS
  /// (`megaplan.nccl_nvls`, NCCL's default on NVSwitch systems, `NCCL_NVLS_ENABLE=0` turns it off).
  /// The software settings that change the peak but not the steady state: PyTorch's expandable
  /// segments, NCCL's NVLS buffers, the fused cross entropy.
  static func readSoftware(_ r: inout KeyReader) throws -> Software {
    let expandable = try r.bool("megaplan.expandable_segments", default: false)
    let nvls = try r.bool("megaplan.nccl_nvls", default: true)
    let fusion = try r.bool("model.cross_entropy_loss_fusion", default: false)
    let sharp = try r.bool("model.sharp", default: false, record: r.has("model.sharp"))
    var software = Software(
      crossEntropyFusion: fusion, expandableSegments: expandable, ncclNVLS: nvls, sharp: sharp)
    software.cudaGraphs = try readCUDAGraphs(&r)
    if let mb = try r.positiveNumber("model.optim.bucket_cap_mb") {
      software.bucketBytes = mb * 1_048_576
    } else if let parameters = try r.positiveNumber("model.ddp_bucket_size") {
      // Parameters: the bucket's bytes follow the gradient buffer (fp32 unless reduced in 16 bits).
      let fp32 = try r.bool("model.grad_reduce_in_fp32", default: true, record: false)
      software.bucketBytes = parameters * (fp32 ? 4 : 2)
    }
    return software
  }

  /// Whether Megatron's gradient buffer is fp32: `model.grad_reduce_in_fp32` (Megatron-Core's
  /// DDP setting), or NeMo's `optim.grad_sync_dtype` (`bf16` or `fp32`); fp32 by default, as
  /// Megatron-LM forces for bf16 training.
  static func readFP32Gradients(_ r: inout KeyReader) throws -> Bool {
    if r.has("model.grad_reduce_in_fp32") {
      return try r.bool("model.grad_reduce_in_fp32", default: true)
    }
    let key = "model.optim.grad_sync_dtype"
    guard let dtype = try r.optionalString(key, record: true) else {
      r.defaulted("model.grad_reduce_in_fp32", "true")
      return true
    }
    switch dtype.lowercased() {
    case "fp32", "float32": return true
    case "bf16", "bfloat16", "fp16", "float16": return false
    default:
      throw r.error("unknown grad_sync_dtype '\(dtype)'; expected fp32 or bf16", key: key)
    }
  }
}
