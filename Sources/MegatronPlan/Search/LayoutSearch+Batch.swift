import Foundation

/// The fastest layout on a GPU count when the global batch may follow the data-parallel size:
/// `megaplan scale --adjust-batch` and `megaplan size` (whose family recipes give a batch in
/// tokens, not one that divides every GPU count). Built on `LayoutSearch.search`, which does all
/// the evaluation.
extension LayoutSearch {
  /// How the layouts of a GPU count get their global batch B.
  public enum BatchRule: String, Sendable, Hashable, Codable, CaseIterable {
    /// The run's B; layouts whose b·d does not divide it are skipped (`batch_not_divisible`).
    case keep
    /// Each (t, p) takes the multiple of GPUs/(t·p) nearest the run's B (of b times it when the
    /// micro-batch is fixed), ties upward: every cp's d = GPUs/(t·cp·p) divides it, so every
    /// layout of the (t, p) can run it; the batch a user would pick to keep B as close as the
    /// layout allows.
    case nearest
  }

  /// The multiple of `step` nearest `batch`, ties upward; `step` itself when `batch` < `step`/2.
  public static func nearestMultiple(of step: Int, to batch: Int) -> Int {
    let s = max(1, step)
    let below = batch / s * s
    guard below > 0 else { return s }
    let above = below + s
    return batch - below < above - batch ? below : above
  }

  /// The outcome of `fastest`: the winner, or why there is none, and what was looked at.
  public struct Fastest: Sendable {
    /// The fastest layout that fits (its `run` carries the global batch it used); nil when none.
    public var best: Candidate?
    /// `LayoutSearch.search` calls made (one per (t, p) with `BatchRule.nearest`).
    public var searches: Int
    /// Totals over every search (see `Result`).
    public var evaluated: Int
    public var layouts: Int
    public var feasible: Int
    public var rejected: [RejectionReason: Int]
    /// Why nothing was found; nil when `best` is set.
    public var reason: String?
    /// (t, p) not searched because their model states alone exceed the usable memory.
    public var statesTooLarge: Int = 0
  }

  /// The fastest layout that fits on `gpus` GPUs (tokens per second; ties as `search` breaks
  /// them, then the batch nearer the run's), the batch chosen by `rule`.
  public static func fastest(
    _ loaded: TrainingRun, gpus: Int, rule: BatchRule, options: Options = .init(top: 1)
  ) throws -> Fastest {
    try fastest(loaded, gpus: gpus, rule: rule, options: options, cache: GroupCache())
  }

  /// `fastest`, its searches sharing `cache` (as every count of one `size` rung does).
  static func fastest(
    _ loaded: TrainingRun, gpus: Int, rule: BatchRule, options: Options, cache: GroupCache
  ) throws -> Fastest {
    var run = loaded
    if let f = options.maxMemoryFraction { run.memoryBudget = MemoryBudget(usableFraction: f) }
    var opts = options
    opts.top = 1
    opts.objective = .throughput
    opts.explainNoFit = false
    opts.constraints.gpus = gpus
    var out = Fastest(
      best: nil, searches: 0, evaluated: 0, layouts: 0, feasible: 0, rejected: [:], reason: nil)
    func absorb(_ r: Result) {
      out.searches += 1
      out.evaluated += r.evaluated
      out.layouts += r.layouts
      out.feasible += r.feasible
      out.rejected.merge(r.rejected, uniquingKeysWith: +)
      guard let c = r.best else { return }
      if let current = out.best, !beats(c, current, batch: run.layout.globalBatch) { return }
      out.best = c
    }
    switch rule {
    case .keep:
      absorb(try search(run, options: opts, cache: cache))
    case .nearest:
      for (t, p) in tensorPipelinePairs(run, gpus: gpus, constraints: opts.constraints) {
        // A (t, p) whose model states alone cannot fit has no layout that fits: not searched.
        guard statesCanFit(run, gpus: gpus, tensor: t, pipeline: p, opts.constraints) else {
          out.statesTooLarge += 1
          continue
        }
        var pinned = opts
        pinned.constraints.tensor = t
        pinned.constraints.pipeline = p
        let d = gpus / (t * p)
        var adjusted = run
        adjusted.layout.globalBatch = nearestMultiple(
          of: d * (opts.constraints.microBatch ?? 1), to: run.layout.globalBatch)
        absorb(try search(adjusted, options: pinned, cache: cache))
      }
    }
    if out.best == nil { out.reason = noLayoutReason(run, gpus: gpus, rule: rule, out) }
    return out
  }

  /// The (t, p) a GPU count allows: t up to the NVLink domain (or the GPU count with
  /// `allowCrossNodeTensor`) dividing the heads and key/value groups, p dividing the layers, t·p
  /// dividing the GPUs; as fixed by `constraints`.
  static func tensorPipelinePairs(_ base: TrainingRun, gpus: Int, constraints c: Constraints)
    -> [(Int, Int)]
  {
    let m = base.model
    let node = run(base, gpus: gpus, t: 1).gpu.gpusPerNode
    let tMax = c.allowCrossNodeTensor ? gpus : min(node, gpus)
    var out: [(Int, Int)] = []
    for t in divisorsOrRange(c.tensor, upTo: tMax)
    where t <= tMax && m.heads % t == 0 && m.queryGroups % t == 0 {
      for p in divisorsOrRange(c.pipeline, upTo: m.layers) where gpus % (t * p) == 0 {
        // p dividing the layers, or with one of Megatron-Core's uneven splits (`units`).
        guard m.layers % p == 0 || (c.unevenSplits && !unevenSplits(of: m, stages: p).isEmpty)
        else { continue }
        out.append((t, p))
      }
    }
    return out
  }

  /// `a` beats `b`: more tokens per second, then the global batch nearer `batch`, then the
  /// simpler layout (`tieKey`).
  static func beats(_ a: Candidate, _ b: Candidate, batch: Int) -> Bool {
    let x = a.evaluation.tokensPerSecond, y = b.evaluation.tokensPerSecond
    if x != y { return x > y }
    let da = abs(a.layout.globalBatch - batch), db = abs(b.layout.globalBatch - batch)
    if da != db { return da < db }
    return tieKey(a.layout).lexicographicallyPrecedes(tieKey(b.layout))
  }

  static func noLayoutReason(_ run: TrainingRun, gpus: Int, rule: BatchRule, _ f: Fastest)
    -> String
  {
    let m = run.model
    if f.layouts > 0 || f.statesTooLarge > 0 {
      return
        "no layout of \(Format.grouped(gpus)) GPUs fits in the usable \(Format.gib(run.memoryBudget.usableBytes(capacity: run.gpu.memory.value))) per GPU (\(Format.grouped(f.layouts)) layouts checked\(f.statesTooLarge > 0 ? "; \(f.statesTooLarge) t·p whose weights, gradients and optimizer state alone exceed it" : ""))"
    }
    if rule == .keep && (f.rejected[.batchNotDivisible] ?? 0) > 0 {
      return
        "global batch \(Format.grouped(run.layout.globalBatch)) is not a multiple of b·d for any layout of \(Format.grouped(gpus)) GPUs (--adjust-batch takes the nearest valid batch)"
    }
    return
      "no t·p divides \(Format.grouped(gpus)) GPUs (t dividing \(m.heads) heads, p dividing \(m.layers) layers)"
  }

  /// Whether the model states of `run` (weights, gradients, optimizer state and FP8 copies) on
  /// the first and on the last pipeline stage of t × p × d = `gpus` fit the usable memory with
  /// the most sharding the constraints allow (the distributed optimizer; full sharding when
  /// allowed): a necessary condition for any layout of that (t, p) to fit, since every layout
  /// adds activations and transients to these states (`StateMemory`, the rule every command
  /// uses; the candidate stages of `Layout.candidateStages`).
  static func statesCanFit(
    _ run: TrainingRun, gpus: Int, tensor t: Int, pipeline p: Int, _ c: Constraints
  ) -> Bool {
    // With p not dividing the layers, any of the uneven splits the search tries may hold them.
    let L = run.model.layers
    let splits =
      L % p == 0 || !c.unevenSplits ? [PipelineSplit.even] : unevenSplits(of: run.model, stages: p)
    return splits.contains {
      statesCanFit(run, gpus: gpus, tensor: t, pipeline: p, split: $0, c)
    }
  }

  /// The uneven splits `units` tries for `model` on p stages (none for an encoder–decoder
  /// model, whose split is at its rank).
  static func unevenSplits(of model: TransformerModel, stages p: Int) -> [PipelineSplit] {
    model.encoderDecoder == nil ? unevenSplits(layers: model.layers, stages: p) : []
  }

  static func statesCanFit(
    _ run: TrainingRun, gpus: Int, tensor t: Int, pipeline p: Int, split: PipelineSplit,
    _ c: Constraints
  ) -> Bool {
    let d = gpus / max(1, t * p)
    var l = Layout(
      tensor: t, pipeline: p, data: d, microBatch: 1, globalBatch: run.layout.globalBatch,
      distributedOptimizer: d > 1, split: split)
    l.inheritSharding(from: run.layout)
    switch c.fullySharded {
    case .on, .any: l.fullySharded = d > 1
    case .off: l.fullySharded = false
    case .asBase: break
    }
    if l.fullySharded { l.distributedOptimizer = false }
    let r = run.with(layout: l)
    let capacity = r.gpu.memory.value
    let layers = ParameterCount.layers(r.model)
    return l.candidateStages(of: r.model).allSatisfy { stage in
      let params = ParameterCount.stageParameters(r.model, l, stage: stage, layers: layers)
      let states = StagePlan.states(r, l, stage: stage, parameters: params, layers: layers)
      return r.memoryBudget.fits(total: states.total, capacity: capacity)
    }
  }
}
