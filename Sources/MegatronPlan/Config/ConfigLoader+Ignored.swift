/// Keys that change memory or time are never silently ignored, and a typo in an explicit `--set`
/// is an error. Two steps of `ConfigLoader.load`:
///
/// - `refuseIgnored` (first): keys megaplan does not model and that change what a GPU holds or
///   computes are refused with the key and value (`model.fsdp: true is not modeled yet`); a
///   `--set` key in `model`, `trainer` or `megaplan` one or two edits from a key megaplan reads is
///   an error with the suggestion (in the file it stays a warning: NeMo files carry hundreds of
///   keys megaplan does not read).
/// - `finishRun` (last): the run-wide settings (`megaplan.max_memory_fraction`, the node size
///   from `trainer.devices`); a batch ramp-up is a warning (the time to train is the steady
///   state's).
extension ConfigLoader {
  /// Keys refused when true: each changes where parameters or activations live.
  static let unmodeledSwitches: [(key: String, what: String)] = [
    (
      "model.cpu_offloading",
      "CPU offloading moves weights and activations to host memory"
    )
  ]

  /// Keys read by this file, beyond `knownKeys` (for the `--set` typo check).
  static let ignoredKeyChecks: [String: [String]] = [
    "model": [
      "fsdp", "cpu_offloading", "cpu_offloading_num_layers", "cpu_offloading_weights",
      "cpu_offloading_activations", "ub_tp_comm_overlap", "overlap_p2p_comm", "rampup_batch_size",
      "fp8_hybrid", "fp8_e4m3",
    ],
    "megaplan": ["max_memory_fraction"],
  ]

  /// The first step of `load`: `--set` typos (thrown), then the keys that change memory or time
  /// but are not modeled, returned (key, message) so that `refuseUnmodeled` reports them with
  /// every other unmodeled feature of the file in one error.
  static func refuseIgnored(_ r: inout KeyReader) throws -> [(key: String, message: String)] {
    try refuseMisspelledOverrides(r.document)
    var found: [(key: String, message: String)] = []
    for (key, what) in unmodeledSwitches
    where try r.bool(key, default: false, record: false) {
      var detail = ""
      if key == "model.cpu_offloading" {
        let parts = try [
          ("num_layers", "model.cpu_offloading_num_layers"),
          ("weights", "model.cpu_offloading_weights"),
          ("activations", "model.cpu_offloading_activations"),
        ].compactMap { name, k -> String? in
          guard r.has(k), let value = try r.lookup(k) else { return nil }
          return "\(name) \(KeyReader.shown(value.scalar))"
        }
        if !parts.isEmpty { detail = " (\(parts.joined(separator: ", ")))" }
      }
      found.append((key, "\(key): true is not modeled yet\(detail); \(what)"))
    }
    // Sharding strategies megaplan does not model (`readFullySharded` reads the others).
    let strategyKey = "model.data_parallel_sharding_strategy"
    if let name = try r.optionalString(strategyKey),
      !["no_shard", "optim", "optim_grads_params"].contains(name.lowercased())
    {
      found.append(
        (
          strategyKey,
          "data_parallel_sharding_strategy '\(name)' is not modeled yet; megaplan models no_shard, optim (the distributed optimizer) and optim_grads_params (full sharding)"
        ))
    } else if !r.has(strategyKey), try r.bool("model.fsdp", default: false, record: false),
      let strategy = try r.optionalString("model.fsdp_sharding_strategy"),
      strategy.lowercased() != "full"
    {
      found.append(
        (
          "model.fsdp_sharding_strategy",
          "fsdp_sharding_strategy '\(strategy)' is not modeled yet; megaplan models full sharding"
        ))
    }
    if let fraction = try r.positiveNumber("megaplan.max_memory_fraction"),
      !MemoryBudget.isValid(fraction)
    {
      throw r.error(
        "max_memory_fraction must be a fraction in (0, 1], found \(fraction)",
        key: "megaplan.max_memory_fraction")
    }
    return found
  }

  /// A `--set` key in `model`, `trainer` or `megaplan` that megaplan does not read but that is
  /// one or two edits from one it does: an error naming the closest key.
  static func refuseMisspelledOverrides(_ document: ConfigDocument) throws {
    for path in document.overriddenPaths.sorted() {
      let parts = path.split(separator: ".").map(String.init)
      guard parts.count == 2, let section = parts.first, let leaf = parts.last,
        let known = knownKeys[section]
      else { continue }
      let all = known + (ignoredKeyChecks[section] ?? [])
      guard !all.contains(leaf), let suggestion = Suggestion.closest(to: leaf, in: all) else {
        continue
      }
      let location = document.root.entry(section)?.value.entry(leaf)?.keyLocation
      throw ConfigError(
        "unknown key '\(path)' in --set; did you mean '\(section).\(suggestion)'?", key: path,
        at: location)
    }
  }

  /// The last step of `load`: what fits, the node size, and the warnings.
  static func finishRun(_ run: inout TrainingRun, _ r: inout KeyReader) throws -> [ConfigWarning] {
    if let fraction = try r.positiveNumber("megaplan.max_memory_fraction") {
      run.memoryBudget = MemoryBudget(usableFraction: fraction)
    } else {
      r.defaulted("megaplan.max_memory_fraction", String(MemoryBudget.defaultFraction))
    }

    // trainer.devices is the node: GPUs past it are reached over the network. The NVLink domain
    // is that node, or the GPU profile's when the node is larger (`Machine.link`).
    let devices = max(1, try r.optionalInt("trainer.devices") ?? 1)
    run.devicesPerNode = devices
    run.hardwareGPU = run.gpu
    if devices < run.gpu.gpusPerNode {
      // A node-sized NVLink domain (DGX, HGX) shrinks with the node; a rack-wide one (NVL72)
      // spans nodes and stays.
      if run.gpu.nvlinkDomain <= run.gpu.gpusPerNode {
        run.gpu.nvlinkDomain = min(run.gpu.nvlinkDomain, devices)
        r.derived(
          "nvlink_domain", String(devices),
          why:
            "trainer.devices \(devices) GPUs per node (the \(run.gpu.name) profile's node has \(run.gpu.gpusPerNode))"
        )
      }
      run.gpu.gpusPerNode = devices
    }

    var warnings: [ConfigWarning] = []
    if r.has("model.rampup_batch_size"), let value = try r.lookup("model.rampup_batch_size") {
      warnings.append(
        ConfigWarning(
          message:
            "'model.rampup_batch_size' is not modeled: the time to train assumes the full global batch from the first step",
          location: value.location))
    }
    return warnings
  }
}
