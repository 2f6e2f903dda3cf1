/// `megaplan check`: the CI gate. A config passes when its peak fits the usable memory and it
/// meets every limit given; each failure names what, the value, the limit, and a change that
/// would fix it.
public struct CheckLimits: Sendable, Hashable {
  /// The peak per GPU must stay ≤ capacity × this; nil: the run's `memoryBudget` (the config's
  /// `megaplan.max_memory_fraction`, else `MemoryBudget.defaultFraction`). Given, it replaces
  /// the run's.
  public var maxMemoryFraction: Double? = nil
  /// The least MFU, a fraction in (0, 1] (0.45 is 45 %).
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
  /// The config key the finding is about, the one a CI annotation points at: the first key the
  /// suggestion changes that the file has (else its first), or, without a suggestion, the key
  /// of the limit's quantity.
  public var key: String
}

public enum Check {
  /// The evaluation and the limits `run` breaks. Memory is `MemoryBudget`'s rule, as in every
  /// command; the suggestion is the cheapest change on the same GPUs (`Remedy.find`'s order).
  /// `keysInFile` are the keys the config sets (where an annotation can point): a finding's key
  /// is the first key its suggestion changes that is among them.
  public static func evaluate(
    _ loaded: TrainingRun, limits: CheckLimits, keysInFile: Set<String> = []
  ) -> (Evaluation, [CheckViolation]) {
    func key(_ changed: [String], otherwise fallback: String) -> String {
      changed.first { keysInFile.contains($0) } ?? changed.first ?? fallback
    }
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
          key: key(fix?.keys ?? [], otherwise: "model.activations_checkpoint_granularity")))
    }
    let mfu = e.utilization.mfu
    if let minMFU = limits.minMFU, mfu < minMFU {
      let better = Comparison(run).rows.filter {
        $0.evaluation.utilization.mfu >= minMFU && $0.evaluation.fits
      }.max { $0.evaluation.utilization.mfu < $1.evaluation.utilization.mfu }
      // The keys the better row changes, named as the memory finding's remedies name them.
      var changed: [(key: String, text: String)] = []
      if let l = better?.run.layout {
        let b = run.layout
        if l.recompute != b.recompute {
          let value: String
          switch l.recompute {
          case .none: value = "null"
          case .selective: value = "selective"
          case .full(let method, let k):
            value = "full (\(method.rawValue), \(k) layer\(k == 1 ? "" : "s"))"
          }
          changed.append(
            (
              "model.activations_checkpoint_granularity",
              "activations_checkpoint_granularity: \(value)"
            ))
        }
        if l.sequenceParallel != b.sequenceParallel {
          changed.append(("model.sequence_parallel", "sequence_parallel: \(l.sequenceParallel)"))
        }
        if l.contextParallel != b.contextParallel {
          changed.append(
            ("model.context_parallel_size", "context_parallel_size: \(l.contextParallel)"))
        }
      }
      out.append(
        CheckViolation(
          what: "mfu", value: mfu, limit: minMFU,
          message:
            "MFU \(Format.percent(mfu)) is below the minimum \(Format.percent(minMFU))",
          suggestion: better.flatMap { row in
            changed.isEmpty
              ? nil
              : "\(changed.map(\.text).joined(separator: ", ")) reaches MFU \(Format.percent(row.evaluation.utilization.mfu))"
          },
          key: key(changed.map(\.key), otherwise: "model.tensor_model_parallel_size")))
    }
    if let maxDays = limits.maxDays, let days = e.days, days > maxDays {
      let needed = Double(run.layout.gpus) * days / maxDays
      let node = Double(max(1, run.devicesPerNode))
      let nodes = (needed / node).rounded(.up)
      out.append(
        CheckViolation(
          what: "days", value: days, limit: maxDays,
          message:
            "training takes \(Format.fixed(days, 1)) days, over the limit of \(Format.fixed(maxDays, 1))",
          suggestion:
            "num_nodes: \(Format.grouped(nodes)) (about \(Format.grouped(needed, rounding: .up)) GPUs at the same per-GPU throughput) would meet it",
          key: "trainer.num_nodes"))
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
