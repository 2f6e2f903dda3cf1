/// `megaplan compare`: recompute strategies side by side for one config (K22 Figures 7 and 8 and
/// Table 5 in one table), and what would fit when nothing does.
public struct Comparison: Sendable {
  public struct Row: Sendable {
    /// "none", "selective", "full", or "full (block, k layers)" for the partial row.
    public var label: String
    public var evaluation: Evaluation
    public var run: TrainingRun { evaluation.run }
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
  /// that fits. At long context (s ≥ `longContext` tokens, fused attention), also none and
  /// selective with twice the context parallelism on the same GPUs (cp × 2, d / 2): the other
  /// way to shrink activations, which trades recompute for the ring's traffic. Everything else
  /// as in `base`. "Fits" is `base.memoryBudget`'s rule.
  public init(_ base: TrainingRun) {
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
            label: label, evaluation: Evaluator(run).evaluate(), recomputeOverhead: 0,
            recommended: false))
      }
    }
    rows += Comparison.contextParallelRows(base, sequenceParallel: spChoices.last ?? false)
    let fits = { (e: Evaluation) in e.fits }
    let cheaperFit = rows.contains {
      $0.run.layout.recompute != .full(method: .uniform, layers: 1) && fits($0.evaluation)
    }
    if !cheaperFit,
      let partial = Comparison.smallestPartialRecompute(
        base, sequenceParallel: spChoices.last ?? false)
    {
      rows.append(partial)
    }
    // Overhead against the same-SP, same-cp no-recompute row.
    for i in rows.indices {
      let sp = rows[i].run.layout.sequenceParallel, cp = rows[i].run.layout.contextParallel
      if let reference = rows.first(where: {
        $0.run.layout.recompute == .none && $0.run.layout.sequenceParallel == sp
          && $0.run.layout.contextParallel == cp
      }) {
        rows[i].recomputeOverhead =
          rows[i].evaluation.seconds / reference.evaluation.seconds - 1
      }
    }
    // The recommended row: the fastest that fits (ties: the earlier, simpler row).
    var best: Int? = nil
    for i in rows.indices where fits(rows[i].evaluation) {
      if best == nil
        || rows[i].evaluation.seconds < rows[best ?? i].evaluation.seconds
      {
        best = i
      }
    }
    if let best { rows[best].recommended = true }
    self.rows = rows
    remedies = best == nil ? Remedy.find(for: base) : []
  }

  /// Sequences from this length count as long context for `compare`'s context-parallel rows.
  public static let longContext = 16_384

  /// None and selective recompute with cp doubled and d halved, when the layout allows it.
  static func contextParallelRows(_ base: TrainingRun, sequenceParallel: Bool) -> [Row] {
    let b = base.layout
    // (Encoder–decoder models have no context-parallel path: `Layout.encoderDecoderViolations`.)
    guard base.model.sequenceLength >= longContext, base.model.fusedAttention, b.data % 2 == 0,
      base.model.encoderDecoder == nil
    else { return [] }
    var rows: [Row] = []
    for recompute in [Recompute.none, .selective] {
      var layout = b
      layout.contextParallel = 2 * b.contextParallel
      layout.data = b.data / 2
      layout.sequenceParallel = sequenceParallel
      layout.recompute = recompute
      let run = base.with(layout: layout)
      guard run.layout.violations(for: run.model).isEmpty else { continue }
      let label =
        recompute.name + (sequenceParallel ? " + SP" : "") + ", cp \(layout.contextParallel)"
      rows.append(
        Row(
          label: label, evaluation: Evaluator(run).evaluate(), recomputeOverhead: 0,
          recommended: false))
    }
    return rows
  }

  /// Full recompute with `block` on the fewest layers per model chunk that makes the run fit.
  static func smallestPartialRecompute(_ base: TrainingRun, sequenceParallel: Bool) -> Row? {
    let lc = ActivationMemory.layersPerChunk(base.model, base.layout)
    guard lc > 1 else { return nil }
    for k in 1..<lc {
      var run = base
      run.layout.sequenceParallel = sequenceParallel
      run.layout.recompute = .full(method: .block, layers: k)
      let e = Evaluator(run).evaluate()
      if e.fits {
        let label = "full (block, \(k) of \(lc) layers)" + (sequenceParallel ? " + SP" : "")
        return Row(label: label, evaluation: e, recomputeOverhead: 0, recommended: false)
      }
    }
    return nil
  }
}

/// A change to a config that makes it fit, with the evaluation of the changed run.
public struct Remedy: Sendable {
  /// What to change, in config terms: "pipeline_model_parallel_size: 16".
  public var change: String
  /// The config keys `change` sets, in its order (NeMo paths: `model.pipeline_model_parallel_size`;
  /// `trainer.num_nodes` for more GPUs).
  public var keys: [String] = []
  public var evaluation: Evaluation
  public var run: TrainingRun { evaluation.run }
  /// The change keeps the run's GPU count.
  public var sameGPUs: Bool

  /// The cheapest recompute setting under which `run` fits, if any (as given, selective + SP,
  /// full + SP; SP only with t > 1): the fastest of those that fit by `run.memoryBudget`.
  public static func cheapestFitting(_ run: TrainingRun) -> (TrainingRun, Evaluation)? {
    let sp = run.layout.tensor > 1
    let options: [(Recompute, Bool)] = [
      (run.layout.recompute, run.layout.sequenceParallel), (.selective, sp),
      (.full(method: .uniform, layers: 1), sp),
    ]
    var best: (TrainingRun, Evaluation)? = nil
    for (recompute, sequenceParallel) in options {
      var layout = run.layout
      layout.recompute = recompute
      layout.sequenceParallel = sequenceParallel
      let candidate = run.with(layout: layout)
      guard candidate.layout.violations(for: candidate.model).isEmpty else { continue }
      let e = Evaluator(candidate).evaluate()
      guard e.fits else { continue }
      if best == nil || e.seconds < (best?.1.seconds ?? .infinity) {
        best = (candidate, e)
      }
    }
    return best
  }

  /// Remedies for a run that does not fit, cheapest change first: every rung of the ladder
  /// below that fits, in the ladder's order, the changes on the same GPUs before any that needs
  /// more. The ladder orders changes by what they cost a run that fits anyway:
  ///
  /// 1. sequence parallelism alone (t > 1): the same communication volume as the all-reduce it
  ///    replaces (K22 §4.2.2), so no time;
  /// 2. selective recompute: recomputes only the attention core, a few percent (K22 Table 4);
  ///    then selective with SP;
  /// 3. the distributed optimizer (d > 1): one all-gather of the parameters per step;
  /// 4. a smaller micro-batch (the largest that fits), less efficient GEMMs;
  ///    then, with fused attention, a larger context-parallel size on the same GPUs (the
  ///    smallest power-of-two multiple that fits, d shrinking), the ring's traffic mostly hidden;
  /// 5. full recompute of every layer (+SP), one more forward pass (≈ +33%, K22 §5);
  /// 6. more pipeline stages on the same GPUs (the smallest p that fits), a larger bubble;
  ///    each with the cheapest recompute that then fits;
  /// 7. more pipeline stages keeping d, on more GPUs (the smallest p that fits).
  public static func find(for base: TrainingRun) -> [Remedy] {
    var out: [Remedy] = []
    let b = base.layout
    func describe(_ run: TrainingRun) -> (change: String, keys: [String]) {
      var parts: [(key: String, text: String)] = []
      let l = run.layout
      if l.pipeline != b.pipeline {
        parts.append(
          ("model.pipeline_model_parallel_size", "pipeline_model_parallel_size: \(l.pipeline)"))
      }
      if l.contextParallel != b.contextParallel {
        parts.append(("model.context_parallel_size", "context_parallel_size: \(l.contextParallel)"))
      }
      if l.gpus != b.gpus { parts.append(("trainer.num_nodes", "\(l.gpus) GPUs (d = \(l.data))")) }
      if l.virtualStages != b.virtualStages {
        parts.append(
          (
            "model.virtual_pipeline_model_parallel_size",
            "virtual_pipeline_model_parallel_size: \(l.interleaved ? String(l.virtualStages) : "null")"
          ))
      }
      if l.microBatch != b.microBatch {
        parts.append(("model.micro_batch_size", "micro_batch_size: \(l.microBatch)"))
      }
      if l.distributedOptimizer != b.distributedOptimizer {
        parts.append(("model.optim.name", "optim.name: distributed_fused_adam"))
      }
      if l.recompute != b.recompute {
        let key = "model.activations_checkpoint_granularity"
        switch l.recompute {
        case .none: parts.append((key, "activations_checkpoint_granularity: null"))
        case .selective: parts.append((key, "activations_checkpoint_granularity: selective"))
        case .full(let method, let k):
          parts.append(
            (
              key,
              "activations_checkpoint_granularity: full (\(method.rawValue), \(k) layer\(k == 1 ? "" : "s"))"
            ))
        }
      }
      if l.sequenceParallel != b.sequenceParallel {
        parts.append(("model.sequence_parallel", "sequence_parallel: \(l.sequenceParallel)"))
      }
      return (parts.map(\.text).joined(separator: ", "), parts.map(\.key))
    }
    /// Adds `layout` when it is valid and fits as it is.
    @discardableResult
    func offer(_ layout: Layout) -> Bool {
      let run = base.with(layout: layout)
      guard run.layout.violations(for: run.model).isEmpty else { return false }
      let e = Evaluator(run).evaluate()
      guard e.fits else { return false }
      add(run, e)
      return true
    }
    func add(_ run: TrainingRun, _ e: Evaluation) {
      let (change, keys) = describe(run)
      guard !change.isEmpty, !out.contains(where: { $0.change == change }) else { return }
      out.append(
        Remedy(change: change, keys: keys, evaluation: e, sameGPUs: run.layout.gpus == b.gpus))
    }
    let spPossible = b.tensor > 1
    // 1. SP alone.
    if spPossible && !b.sequenceParallel {
      var l = b
      l.sequenceParallel = true
      offer(l)
    }
    // 2. Selective recompute, then with SP.
    if b.recompute == .none {
      var l = b
      l.recompute = .selective
      if !offer(l) && spPossible && !b.sequenceParallel {
        l.sequenceParallel = true
        offer(l)
      }
    }
    // 3. The distributed optimizer.
    if !b.distributedOptimizer && b.data > 1 {
      var l = b
      l.distributedOptimizer = true
      offer(l)
    }
    // 4. A smaller micro-batch: the largest that divides B/d and fits.
    let perReplica = b.globalBatch / max(1, b.data)
    for micro in stride(from: b.microBatch - 1, through: 1, by: -1)
    where perReplica % micro == 0 {
      var l = b
      l.microBatch = micro
      if offer(l) { break }
    }
    // 4b. More context parallelism on the same GPUs (cp doubled while d allows), with the
    // cheapest recompute that then fits: activations shrink by cp for the ring's traffic.
    if base.model.fusedAttention {
      var l = b
      while l.data % 2 == 0 {
        l.contextParallel *= 2
        l.data /= 2
        let run = base.with(layout: l)
        guard run.layout.violations(for: run.model).isEmpty else { break }
        if let (fit, estimate) = cheapestFitting(run) {
          add(fit, estimate)
          break
        }
      }
    }
    // 5. Full recompute (every layer), with SP where possible.
    if b.recompute != .full(method: .uniform, layers: 1) {
      var l = b
      l.recompute = .full(method: .uniform, layers: 1)
      l.sequenceParallel = b.sequenceParallel || spPossible
      offer(l)
    }
    // 6, 7. More pipeline stages: the smallest p > current that divides the layers and fits, on
    // the same GPUs when t·p divides them (less data parallelism), then with d kept (more GPUs).
    for sameGPUs in [true, false] {
      var p = b.pipeline + 1
      search: while p <= base.model.layers {
        defer { p += 1 }
        guard base.model.layers % p == 0 else { continue }
        var l = b
        l.pipeline = p
        l.virtualStages = 1
        if sameGPUs {
          // A replica is t·cp·p GPUs (`Layout.gpus`).
          let replica = b.tensor * b.contextParallel * p
          guard b.gpus % replica == 0 else { continue }
          l.data = b.gpus / replica
        }
        for distributed in [b.distributedOptimizer, true] where l.data > 1 || !distributed {
          l.distributedOptimizer = distributed
          let run = base.with(layout: l)
          guard run.layout.violations(for: run.model).isEmpty,
            let (fit, estimate) = cheapestFitting(run)
          else { continue }
          add(fit, estimate)
          break search
        }
      }
    }
    return out
  }
}
