/// `megaplan compare`: recompute strategies side by side for one config (K22 Figures 7 and 8 and
/// Table 5 in one table), and what would fit when nothing does.
public struct Comparison: Sendable {
  public struct Row: Sendable {
    /// "none", "selective", "full", or "full (block, k layers)" for the partial row.
    public var label: String
    public var run: TrainingRun
    public var estimate: Estimate
    /// Iteration time over the same-SP no-recompute row's, minus one.
    public var recomputeOverhead: Double
    public var recommended: Bool
  }

  public var rows: [Row]
  /// When no row fits: layouts that would, each with its estimate (more pipeline stages, a
  /// smaller micro-batch, the distributed optimizer).
  public var remedies: [Remedy]

  public var recommended: Row? { rows.first { $0.recommended } }

  /// The rows: recompute none / selective / full (every layer, uniform k = 1), each without and
  /// with sequence parallelism (SP rows only when t > 1); then, when neither none nor selective
  /// fits in any form, the smallest partial full recompute (`block`, fewest checkpointed layers)
  /// that fits. Everything else as in `base`.
  public init(_ base: TrainingRun, headroom: Double = 1.0) {
    var rows: [Row] = []
    let spChoices = base.layout.tensor > 1 ? [false, true] : [false]
    let strategies: [Recompute] = [.none, .selective, .full(method: .uniform, layers: 1)]
    for recompute in strategies {
      for sp in spChoices {
        var run = base
        run.layout.sequenceParallel = sp
        run.layout.recompute = recompute
        let label = recompute.name + (sp ? " + SP" : "")
        rows.append(
          Row(
            label: label, run: run, estimate: Estimate(run), recomputeOverhead: 0,
            recommended: false))
      }
    }
    let fits = { (e: Estimate) in e.memory.totalBytes <= e.memory.capacityBytes * headroom }
    let cheaperFit = rows.contains {
      $0.run.layout.recompute != .full(method: .uniform, layers: 1) && fits($0.estimate)
    }
    if !cheaperFit,
      let partial = Comparison.smallestPartialRecompute(
        base, sequenceParallel: spChoices.last ?? false, headroom: headroom)
    {
      rows.append(partial)
    }
    // Overhead against the same-SP no-recompute row.
    for i in rows.indices {
      let sp = rows[i].run.layout.sequenceParallel
      if let reference = rows.first(where: {
        $0.run.layout.recompute == .none && $0.run.layout.sequenceParallel == sp
      }) {
        rows[i].recomputeOverhead =
          rows[i].estimate.time.iterationSeconds / reference.estimate.time.iterationSeconds - 1
      }
    }
    // The recommended row: the fastest that fits (ties: the earlier, simpler row).
    var best: Int? = nil
    for i in rows.indices where fits(rows[i].estimate) {
      if best == nil
        || rows[i].estimate.time.iterationSeconds < rows[best ?? i].estimate.time.iterationSeconds
      {
        best = i
      }
    }
    if let best { rows[best].recommended = true }
    self.rows = rows
    remedies = best == nil ? Remedy.find(for: base, headroom: headroom) : []
  }

  /// Full recompute with `block` on the fewest layers per model chunk that makes the run fit.
  static func smallestPartialRecompute(
    _ base: TrainingRun, sequenceParallel: Bool, headroom: Double
  ) -> Row? {
    let lc = ActivationMemory.layersPerChunk(base.model, base.layout)
    guard lc > 1 else { return nil }
    for k in 1..<lc {
      var run = base
      run.layout.sequenceParallel = sequenceParallel
      run.layout.recompute = .full(method: .block, layers: k)
      let e = Estimate(run)
      if e.memory.totalBytes <= e.memory.capacityBytes * headroom {
        let label = "full (block, \(k) of \(lc) layers)" + (sequenceParallel ? " + SP" : "")
        return Row(label: label, run: run, estimate: e, recomputeOverhead: 0, recommended: false)
      }
    }
    return nil
  }
}

/// A change to a config that makes it fit, with the estimate for the changed run.
public struct Remedy: Sendable {
  /// What to change, in config terms: "pipeline_model_parallel_size: 16".
  public var change: String
  public var run: TrainingRun
  public var estimate: Estimate

  /// The cheapest recompute setting under which `run` fits, if any (none, selective + SP,
  /// full + SP in that order; SP only with t > 1).
  public static func cheapestFitting(_ run: TrainingRun, headroom: Double) -> (
    TrainingRun, Estimate
  )? {
    let sp = run.layout.tensor > 1
    let options: [(Recompute, Bool)] = [
      (run.layout.recompute, run.layout.sequenceParallel), (.selective, sp),
      (.full(method: .uniform, layers: 1), sp),
    ]
    var best: (TrainingRun, Estimate)? = nil
    for (recompute, sequenceParallel) in options {
      var candidate = run
      candidate.layout.recompute = recompute
      candidate.layout.sequenceParallel = sequenceParallel
      guard candidate.layout.violations(for: candidate.model).isEmpty else { continue }
      let e = Estimate(candidate)
      guard e.memory.totalBytes <= e.memory.capacityBytes * headroom else { continue }
      if best == nil || e.time.iterationSeconds < (best?.1.time.iterationSeconds ?? .infinity) {
        best = (candidate, e)
      }
    }
    return best
  }

  /// Remedies for a run that does not fit: the recompute settings alone; the distributed
  /// optimizer; a smaller micro-batch; more pipeline stages (the next p that divides the layers
  /// and the GPUs, keeping the GPU count) — each with the cheapest recompute that then fits.
  public static func find(for base: TrainingRun, headroom: Double) -> [Remedy] {
    var out: [Remedy] = []
    func describe(_ run: TrainingRun) -> String {
      var parts: [String] = []
      let l = run.layout, b = base.layout
      if l.pipeline != b.pipeline { parts.append("pipeline_model_parallel_size: \(l.pipeline)") }
      if l.gpus != b.gpus { parts.append("\(l.gpus) GPUs (d = \(l.data))") }
      if l.virtualStages != b.virtualStages {
        parts.append(
          "virtual_pipeline_model_parallel_size: \(l.interleaved ? String(l.virtualStages) : "null")"
        )
      }
      if l.microBatch != b.microBatch { parts.append("micro_batch_size: \(l.microBatch)") }
      if l.distributedOptimizer != b.distributedOptimizer {
        parts.append("optim.name: distributed_fused_adam")
      }
      if l.recompute != b.recompute {
        switch l.recompute {
        case .none: parts.append("activations_checkpoint_granularity: null")
        case .selective: parts.append("activations_checkpoint_granularity: selective")
        case .full(let method, let k):
          parts.append(
            "activations_checkpoint_granularity: full (\(method.rawValue), \(k) layer\(k == 1 ? "" : "s"))"
          )
        }
      }
      if l.sequenceParallel != b.sequenceParallel {
        parts.append("sequence_parallel: \(l.sequenceParallel)")
      }
      return parts.joined(separator: ", ")
    }
    func consider(_ run: TrainingRun) {
      guard let (fit, estimate) = cheapestFitting(run, headroom: headroom) else { return }
      let change = describe(fit)
      guard !change.isEmpty, !out.contains(where: { $0.change == change }) else { return }
      out.append(Remedy(change: change, run: fit, estimate: estimate))
    }
    consider(base)
    if !base.layout.distributedOptimizer && base.layout.data > 1 {
      var run = base
      run.layout.distributedOptimizer = true
      consider(run)
    }
    if base.layout.microBatch > 1 {
      var run = base
      run.layout.microBatch = 1
      consider(run)
    }
    // More pipeline stages: the smallest p > current that divides the layers and makes it fit,
    // on the same GPUs when they divide (less data parallelism), else with d kept (more GPUs).
    let gpus = base.layout.gpus
    var p = base.layout.pipeline + 1
    while p <= base.model.layers {
      defer { p += 1 }
      guard base.model.layers % p == 0 else { continue }
      var run = base
      run.layout.pipeline = p
      run.layout.virtualStages = 1
      if gpus % (base.layout.tensor * p) == 0 {
        run.layout.data = gpus / (base.layout.tensor * p)
      }
      for distributed in [base.layout.distributedOptimizer, true]
      where run.layout.data > 1 || !distributed {
        run.layout.distributedOptimizer = distributed
        guard run.layout.violations(for: run.model).isEmpty,
          cheapestFitting(run, headroom: headroom) != nil
        else { continue }
        let before = out.count
        consider(run)
        if out.count > before {
          return out.sorted {
            $0.estimate.time.iterationSeconds < $1.estimate.time.iterationSeconds
          }
        }
      }
    }
    return out.sorted { $0.estimate.time.iterationSeconds < $1.estimate.time.iterationSeconds }
  }
}
