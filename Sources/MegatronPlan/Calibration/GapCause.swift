import Foundation

/// A likely cause of the gap between a run's measured step time and its plan, with the evidence
/// for it. Three kinds:
/// - a term the logs' timers measure (`MeasuredTerm`), off the plan by measured − predicted: a
///   fact, not a hypothesis;
/// - a cluster constant (`CalibrationKnob`), and the factor on it that alone makes the plan
///   match the run, found by evaluating the run with that factor (the real model, not a
///   linearisation);
/// - an iteration term the constants do not set (the pipeline bubble, the exposed data-parallel
///   synchronisation, the pipeline's messages, the optimizer step) and the factor on it that
///   alone closes the gap.
/// A factor is plausible when the result is physically possible: an efficiency at most the
/// datasheet's peak or line rate; a bubble no smaller than the schedule's (p − 1)/(v·m), which
/// balanced stages reach and unbalanced ones exceed; an exposed synchronisation no larger than
/// all of its collectives (nothing overlapped). `rank` orders the timers' differences first,
/// largest first, then the plausible factors, smallest change first (|ln factor|), then the rest.
public struct GapCause: Sendable, Hashable {
  public enum Kind: Sendable, Hashable {
    case timer(MeasuredTerm)
    case constant(CalibrationKnob)
    case term(IterationTime.Term)
  }

  /// Why a factor is not plausible.
  public enum Limit: String, Sendable, Hashable, Codable {
    /// The efficiency it needs passes the datasheet's peak or line rate.
    case abovePeak = "above_peak"
    /// The bubble it needs is smaller than the schedule's.
    case belowSchedule = "below_schedule"
    /// The exposed synchronisation it needs is larger than all of its collectives.
    case moreThanAll = "more_than_all_collectives"
    /// The term it needs is negative.
    case negative
    /// No factor between 0.1 and 10 on the constant closes the gap.
    case outOfReach = "out_of_reach"
  }

  public var kind: Kind
  /// The seconds the cause accounts for in the plan: the term's, or for a constant the seconds
  /// that scale with it (−∂t/∂ln c for an efficiency, ∂t/∂ln c for a time).
  public var planned: Double
  /// A timer's measured seconds.
  public var measured: Double?
  /// The factor on the constant or term that alone makes the plan match the run; nil when out
  /// of reach.
  public var factor: Double?
  /// A constant's value in the plan, and at `factor`.
  public var constantBefore: Double?
  public var constantAfter: Double?
  public var limit: Limit?

  public var plausible: Bool { limit == nil }

  /// The causes of the gap between `measured` seconds and `evaluation`'s plan of `run`, ranked.
  public static func rank(
    _ run: TrainingRun, evaluation: Evaluation, measured: Double,
    terms: [RunComparison.TermComparison]
  ) -> [GapCause] {
    let predicted = evaluation.seconds
    let gap = measured - predicted
    var timers: [GapCause] = []
    for t in terms where t.measured != t.predicted {
      timers.append(GapCause(kind: .timer(t.term), planned: t.predicted, measured: t.measured))
    }
    timers.sort { abs(($0.measured ?? 0) - $0.planned) > abs(($1.measured ?? 0) - $1.planned) }

    var levers: [GapCause] = []
    for knob in CalibrationKnob.allCases {
      if let cause = constantCause(knob, run: run, measured: measured, predicted: predicted) {
        levers.append(cause)
      }
    }
    let it = evaluation.iteration
    let all = (it.dataParallel.reduce + it.dataParallel.gather).value
    let termLevers: [(IterationTime.Term, Double, (Double) -> Limit?)] = [
      (.pipelineBubble, it.bubble.value, { $0 < 1 ? .belowSchedule : nil }),
      (
        .dataParallelComm, it.dataParallelComm.value,
        { f in f < 0 ? .negative : f * it.dataParallelComm.value > all ? .moreThanAll : nil }
      ),
      (.pipelineComm, it.pipelineComm.value, { $0 < 0 ? .negative : nil }),
      (.optimizer, it.optimizer.value, { $0 < 0 ? .negative : nil }),
    ]
    for (term, seconds, limit) in termLevers where seconds > 0 {
      let factor = 1 + gap / seconds
      levers.append(
        GapCause(kind: .term(term), planned: seconds, factor: factor, limit: limit(factor)))
    }
    let plausible = levers.filter(\.plausible).sorted {
      abs(log($0.factor ?? 1)) < abs(log($1.factor ?? 1))
    }
    let rest = levers.filter { !$0.plausible }
    return timers + plausible + rest
  }

  /// The constant cause of `knob`, or nil when the run's time hardly depends on it (a 5 %
  /// change moves it by less than 0.01 %: FP4 GEMMs on Hopper, the network of one node).
  static func constantCause(
    _ knob: CalibrationKnob, run: TrainingRun, measured: Double, predicted: Double
  ) -> GapCause? {
    let time = { (m: Double) -> Double in
      var r = run
      r.constants = knob.applying(m, to: run.constants)
      return Evaluator(r).score(r.layout, timeAlways: true).seconds ?? .nan
    }
    let h = 0.05
    let slope = (time(exp(h)) - time(exp(-h))) / (2 * h)
    guard abs(slope) * h > 1e-4 * predicted else { return nil }
    let before = run.constants[keyPath: knob.primary]
    var cause = GapCause(
      kind: .constant(knob), planned: knob.speedsUp ? -slope : slope, constantBefore: before)
    // Bisection in ln m over [0.1, 10]: the time is monotone in each constant.
    var (lo, hi) = (log(0.1), log(10.0))
    let (tLo, tHi) = (time(exp(lo)), time(exp(hi)))
    guard min(tLo, tHi) <= measured, measured <= max(tLo, tHi) else {
      cause.limit = .outOfReach
      return cause
    }
    let rising = tHi > tLo
    for _ in 0..<50 {
      let mid = (lo + hi) / 2
      if (time(exp(mid)) < measured) == rising { lo = mid } else { hi = mid }
    }
    let factor = exp((lo + hi) / 2)
    cause.factor = factor
    cause.constantAfter = before * factor
    if let maximum = knob.physicalMaximum, before * factor > maximum { cause.limit = .abovePeak }
    return cause
  }
}
