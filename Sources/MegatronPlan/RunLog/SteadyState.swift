/// The steady-state step time of one run's logs: each process's first steps and the windows
/// after an evaluation or checkpoint save left out, the median of the rest.
public struct SteadyState: Sendable, Hashable {
  /// Steps at the start of each process left out as warm-up: NCCL's communicator setup, cuDNN's
  /// autotuning, FP8's first amax, the first data load and the allocator's growth all land in
  /// them. The MLPerf GPT-3 logs' first step is 1.03–1.7× their median, the fixstars Megatron-LM
  /// log's first window (iterations 1–10) 8 % above its median; validation/reference/
  /// scale-runs.md takes the median "first 3 steps dropped", and so does megaplan.
  public static let warmupSteps = 3
  /// Relative standard error below which a median is not trusted to be known better: the logs
  /// print four to five significant digits (Megatron-LM's `{:.1f}` ms of 10³–10⁵ ms).
  public static let resolution = 1e-4

  /// Seconds per step of each steady window, in log order.
  public var samples: [Double] = []
  /// Where each steady window is, as `samples`.
  public var locations: [SourceLocation] = []
  /// Windows left out as warm-up, and after an evaluation or a checkpoint save.
  public var warmupWindows = 0
  public var evaluationWindows = 0
  /// Optimizer steps the steady windows cover (a Megatron-LM window averages `--log-interval`).
  public var steps = 0
  /// Steps skipped by fp16 loss scaling inside the steady windows (timed in full all the same).
  public var skippedSteps = 0

  /// What a window of a log is to the steady state.
  public enum Window: Sendable, Hashable {
    case warmup, afterEvaluation, steady
  }

  /// Each of `log`'s steps classified: the first `warmupSteps` steps of each segment (each
  /// process, from its origin: `TrainingLog.segmentOrigins`) are warm-up, a window after an evaluation or a checkpoint save is left out, the
  /// rest is steady.
  public static func windows(_ log: TrainingLog) -> [Window] {
    var segmentStart = log.segmentOrigins
    for step in log.steps where segmentStart[step.segment] == nil {
      segmentStart[step.segment] = step.first
    }
    return log.steps.map { step in
      if step.first < (segmentStart[step.segment] ?? 1) + warmupSteps { return .warmup }
      return step.followsEvaluation ? .afterEvaluation : .steady
    }
  }

  public init(_ logs: [TrainingLog]) {
    for log in logs {
      for (step, window) in zip(log.steps, Self.windows(log)) {
        switch window {
        case .warmup: warmupWindows += 1
        case .afterEvaluation: evaluationWindows += 1
        case .steady:
          samples.append(step.seconds)
          locations.append(step.location)
          steps += step.count
          skippedSteps += step.skipped
        }
      }
    }
  }

  /// The median of the steady windows; nil when there is none.
  public var median: Double? { Self.median(samples) }

  /// The median's relative standard error: √(π/2)·σ/√n for n samples of spread σ (the median's
  /// asymptotic variance for normal samples, πσ²/2n; Kenney and Keeping, Mathematics of
  /// Statistics, 1962), with σ = 1.4826 · the median absolute deviation (the normal-consistent
  /// robust scale, Rousseeuw and Croux 1993), never below `resolution`. nil with fewer than two
  /// samples.
  public var relativeError: Double? { Self.relativeError(samples) }

  /// The relative standard error of the median of `samples` (`relativeError`).
  public static func relativeError(_ samples: [Double]) -> Double? {
    guard samples.count >= 2, let m = median(samples), m > 0,
      let mad = median(samples.map { abs($0 - m) })
    else { return nil }
    let sigma = 1.4826 * mad
    let error = (Double.pi / 2).squareRoot() * sigma / Double(samples.count).squareRoot() / m
    return max(error, resolution)
  }

  static func median(_ xs: [Double]) -> Double? {
    guard !xs.isEmpty else { return nil }
    let sorted = xs.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }
}
