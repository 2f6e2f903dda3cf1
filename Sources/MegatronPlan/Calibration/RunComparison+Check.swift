/// `megaplan check --against LOG`: how far a run's measured step time and allocator peak depart
/// from its plan, each against a tolerance (a CI gate on a training job's log).
public struct LogDeparture: Sendable, Hashable {
  public enum What: Sendable, Hashable {
    case stepTime
    /// The allocator peak (`torch.cuda.max_memory_allocated`) of one pipeline stage.
    case memory(stage: Int)
  }
  public var what: What
  public var measured: Double
  public var planned: Double
  /// Where the measurement is in the log (the first steady window; the memory report).
  public var location: SourceLocation?
  public var tolerance: Double
  /// measured / planned − 1.
  public var departure: Double { measured / planned - 1 }
  public var within: Bool { abs(departure) <= tolerance }
}

extension RunComparison {
  /// The step time's and each reported stage's departure from the plan; empty when the logs
  /// measured neither.
  public func departures(tolerance: Double) -> [LogDeparture] {
    var out: [LogDeparture] = []
    if let measured = measuredSeconds {
      out.append(
        LogDeparture(
          what: .stepTime, measured: measured, planned: predictedSeconds,
          location: steady.locations.first, tolerance: tolerance))
    }
    for m in memory {
      out.append(
        LogDeparture(
          what: .memory(stage: m.stage), measured: m.measured, planned: m.predicted,
          location: m.location, tolerance: tolerance))
    }
    return out
  }
}
