/// `megaplan check`: the CI gate. A config passes when it fits with headroom and meets every
/// limit given; each failure names what, the value, the limit, and a change that would fix it.
public struct CheckLimits: Sendable, Hashable {
  /// Total per GPU must stay ≤ capacity × this; nil: the run's `memoryBudget` (the config's
  /// `megaplan.max_memory_fraction`, default 0.95, `MemoryBudget`). Given, it replaces the run's.
  public var maxMemoryFraction: Double? = nil
  public var minMFU: Double? = nil
  public var maxDays: Double? = nil
  public var maxGPUs: Int? = nil
  public init(
    maxMemoryFraction: Double? = nil, minMFU: Double? = nil, maxDays: Double? = nil,
    maxGPUs: Int? = nil
  ) {
    self.maxMemoryFraction = maxMemoryFraction
    self.minMFU = minMFU
    self.maxDays = maxDays
    self.maxGPUs = maxGPUs
  }
}

public struct CheckViolation: Sendable, Hashable, Codable {
  /// "memory", "mfu", "days" or "gpus".
  public var what: String
  public var value: Double
  public var limit: Double
  public var message: String
  /// A change that would fix it, when megaplan finds one.
  public var suggestion: String?
  /// The config key to point a CI annotation at.
  public var key: String
}

public enum Check {
  /// The evaluation and the limits `run` breaks. Memory is `MemoryBudget`'s rule, as in every
  /// command; the suggestion is the cheapest change on the same GPUs (`Remedy.find`'s order).
  public static func evaluate(_ loaded: TrainingRun, limits: CheckLimits) -> (
    Evaluation, [CheckViolation]
  ) {
    var run = loaded
    if let f = limits.maxMemoryFraction { run.memoryBudget = MemoryBudget(usableFraction: f) }
    let e = Evaluator(run).evaluate()
    var out: [CheckViolation] = []
    let capacity = run.gpu.memory.value
    let budget = run.memoryBudget.usableBytes(capacity: capacity)
    let peak = e.mostLoaded.peakBytes
    if !e.fits {
      let fix = Remedy.find(for: run).first
      out.append(
        CheckViolation(
          what: "memory", value: peak, limit: budget,
          message:
            "needs \(Format.gib(peak)) per GPU at its peak (stage \(e.mostLoadedStage)), over \(Format.percent(run.memoryBudget.usableFraction, 0)) of \(Format.gib(capacity)) = \(Format.gib(budget))",
          suggestion: fix.map {
            "fits with \($0.change) (\(Format.gib($0.evaluation.mostLoaded.peakBytes)) at the peak, \(Format.seconds($0.evaluation.seconds))/iteration)"
          },
          key: "model.activations_checkpoint_granularity"))
    }
    let mfu = e.utilization.mfu
    if let minMFU = limits.minMFU, mfu < minMFU {
      let better = Comparison(run).rows.filter {
        $0.evaluation.utilization.mfu >= minMFU && $0.evaluation.fits
      }.max { $0.evaluation.utilization.mfu < $1.evaluation.utilization.mfu }
      out.append(
        CheckViolation(
          what: "mfu", value: mfu, limit: minMFU,
          message:
            "MFU \(Format.percent(mfu)) is below the minimum \(Format.percent(minMFU))",
          suggestion: better.map {
            "recompute \($0.label) reaches MFU \(Format.percent($0.evaluation.utilization.mfu))"
          },
          key: "model.tensor_model_parallel_size"))
    }
    if let maxDays = limits.maxDays, let days = e.days, days > maxDays {
      let needed = Double(run.layout.gpus) * days / maxDays
      out.append(
        CheckViolation(
          what: "days", value: days, limit: maxDays,
          message:
            "training takes \(Format.fixed(days, 1)) days, over the limit of \(Format.fixed(maxDays, 1))",
          suggestion:
            "about \(Format.grouped(needed, rounding: .up)) GPUs at the same per-GPU throughput would meet it",
          key: "megaplan.train_tokens"))
    }
    if let maxGPUs = limits.maxGPUs, run.layout.gpus > maxGPUs {
      out.append(
        CheckViolation(
          what: "gpus", value: Double(run.layout.gpus), limit: Double(maxGPUs),
          message:
            "uses \(Format.grouped(run.layout.gpus)) GPUs, over the limit of \(Format.grouped(maxGPUs))",
          suggestion: nil, key: "trainer.num_nodes"))
    }
    return (e, out)
  }
}
