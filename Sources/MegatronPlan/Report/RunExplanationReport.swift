import Foundation

/// `megaplan explain-run` as a document (`--format json`, docs/json-schema.md) and as text: a
/// pure mapping of a `RunComparison`.
public struct RunExplanation: Sendable, Codable {
  public struct Run: Sendable, Codable {
    public var config: String
    public var gpu: String
    public var gpus: Int
    public var layout: String
  }
  public struct Log: Sendable, Codable {
    public var file: String
    /// The format the steps were timed in (`megatron-lm`, `megatron-bridge`, `nemo`,
    /// `mlperf`), or null when the log times none.
    public var format: String?
    public var windows: Int
    public var memoryReports: Int
    public var timerBlocks: Int
    public var notes: [String]

    /// Absent values are written as null, so every documented path is always present.
    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(file, forKey: .file)
      try c.encode(format, forKey: .format)
      try c.encode(windows, forKey: .windows)
      try c.encode(memoryReports, forKey: .memoryReports)
      try c.encode(timerBlocks, forKey: .timerBlocks)
      try c.encode(notes, forKey: .notes)
    }
  }
  public struct Time: Sendable, Codable {
    public var measuredSeconds: Double?
    public var predictedSeconds: Double
    /// predicted / measured − 1.
    public var error: Double?
    public var relativeStandardError: Double?
    public var steadyWindows: Int
    public var steadySteps: Int
    public var warmupWindows: Int
    public var evaluationWindows: Int
    public var skippedSteps: Int
    /// The plan's iteration by term (`time.breakdown` of `estimate --format json`).
    public var predicted: [String: Double]

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(measuredSeconds, forKey: .measuredSeconds)
      try c.encode(predictedSeconds, forKey: .predictedSeconds)
      try c.encode(error, forKey: .error)
      try c.encode(relativeStandardError, forKey: .relativeStandardError)
      try c.encode(steadyWindows, forKey: .steadyWindows)
      try c.encode(steadySteps, forKey: .steadySteps)
      try c.encode(warmupWindows, forKey: .warmupWindows)
      try c.encode(evaluationWindows, forKey: .evaluationWindows)
      try c.encode(skippedSteps, forKey: .skippedSteps)
      try c.encode(predicted, forKey: .predicted)
    }
  }
  public struct Memory: Sendable, Codable {
    public var stage: Int
    public var ranks: [Int]
    public var measuredMaxAllocatedBytes: Double
    public var predictedAllocatedBytes: Double
    public var measuredMaxReservedBytes: Double?
    public var error: Double
    public var line: Int

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(stage, forKey: .stage)
      try c.encode(ranks, forKey: .ranks)
      try c.encode(measuredMaxAllocatedBytes, forKey: .measuredMaxAllocatedBytes)
      try c.encode(predictedAllocatedBytes, forKey: .predictedAllocatedBytes)
      try c.encode(measuredMaxReservedBytes, forKey: .measuredMaxReservedBytes)
      try c.encode(error, forKey: .error)
      try c.encode(line, forKey: .line)
    }
  }
  public struct Timer: Sendable, Codable {
    public var term: String
    public var timers: [String]
    public var measuredSeconds: Double
    public var predictedSeconds: Double
    public var blocks: Int
  }
  public struct Cause: Sendable, Codable {
    /// `timer`, `constant` or `term`.
    public var kind: String
    /// The timer term, the constant's `megaplan.hardware` key, or the iteration term.
    public var name: String
    public var plannedSeconds: Double
    public var measuredSeconds: Double?
    public var factor: Double?
    public var before: Double?
    public var after: Double?
    public var plausible: Bool
    public var limit: String?

    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(kind, forKey: .kind)
      try c.encode(name, forKey: .name)
      try c.encode(plannedSeconds, forKey: .plannedSeconds)
      try c.encode(measuredSeconds, forKey: .measuredSeconds)
      try c.encode(factor, forKey: .factor)
      try c.encode(before, forKey: .before)
      try c.encode(after, forKey: .after)
      try c.encode(plausible, forKey: .plausible)
      try c.encode(limit, forKey: .limit)
    }
  }

  public var run: Run
  public var logs: [Log]
  public var time: Time
  public var memory: [Memory]
  public var timers: [Timer]
  public var causes: [Cause]
  /// The model FLOPs per iteration the log's `throughput per GPU` implies, and the plan's
  /// (null without it); `flops_disagree` when they are more than 25 % apart.
  public var loggedFlopsPerIteration: Double?
  public var plannedFlopsPerIteration: Double
  public var flopsDisagree: Bool

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(run, forKey: .run)
    try c.encode(logs, forKey: .logs)
    try c.encode(time, forKey: .time)
    try c.encode(memory, forKey: .memory)
    try c.encode(timers, forKey: .timers)
    try c.encode(causes, forKey: .causes)
    try c.encode(loggedFlopsPerIteration, forKey: .loggedFlopsPerIteration)
    try c.encode(plannedFlopsPerIteration, forKey: .plannedFlopsPerIteration)
    try c.encode(flopsDisagree, forKey: .flopsDisagree)
  }

  public init(_ c: RunComparison, config: String) {
    let l = c.run.layout
    run = Run(
      config: config, gpu: c.run.gpu.name, gpus: l.gpus, layout: Self.layoutText(c.run))
    logs = c.logs.map { log in
      Log(
        file: log.file, format: log.stepFormat?.rawValue, windows: log.steps.count,
        memoryReports: log.memory.count, timerBlocks: log.timerBlocks.count,
        notes: log.notes.map(\.description))
    }
    var predicted: [String: Double] = [:]
    for term in c.evaluation.iteration.breakdown.terms { predicted[term.name] = term.value.value }
    time = Time(
      measuredSeconds: c.measuredSeconds, predictedSeconds: c.predictedSeconds,
      error: c.timeError, relativeStandardError: c.steady.relativeError,
      steadyWindows: c.steady.samples.count, steadySteps: c.steady.steps,
      warmupWindows: c.steady.warmupWindows, evaluationWindows: c.steady.evaluationWindows,
      skippedSteps: c.steady.skippedSteps, predicted: predicted)
    memory = c.memory.map {
      Memory(
        stage: $0.stage, ranks: $0.ranks, measuredMaxAllocatedBytes: $0.measured,
        predictedAllocatedBytes: $0.predicted, measuredMaxReservedBytes: $0.measuredReserved,
        error: $0.predicted / $0.measured - 1, line: $0.location.line)
    }
    timers = c.terms.map {
      Timer(
        term: $0.term.rawValue, timers: $0.timers, measuredSeconds: $0.measured,
        predictedSeconds: $0.predicted, blocks: $0.blocks)
    }
    loggedFlopsPerIteration = c.loggedFLOPs?.logged
    plannedFlopsPerIteration = c.evaluation.modelFLOPs.value
    flopsDisagree = c.flopsDisagree
    causes = c.causes.map { cause in
      let (kind, name): (String, String) =
        switch cause.kind {
        case .timer(let t): ("timer", t.rawValue)
        case .constant(let k): ("constant", k.primaryKey)
        case .term(let t): ("term", t.rawValue)
        }
      return Cause(
        kind: kind, name: name, plannedSeconds: cause.planned, measuredSeconds: cause.measured,
        factor: cause.factor, before: cause.constantBefore, after: cause.constantAfter,
        plausible: cause.plausible, limit: cause.limit?.rawValue)
    }
  }

  /// `4,096 × H100 SXM5 80GB, t=4 p=8 d=128 v=12, micro-batch 1, global batch 2,048`.
  static func layoutText(_ run: TrainingRun) -> String {
    let l = run.layout
    let cp = l.contextParallel > 1 ? " cp=\(l.contextParallel)" : ""
    let v = l.virtualStages > 1 ? " v=\(l.virtualStages)" : ""
    return
      "\(Format.grouped(l.gpus)) × \(run.gpu.displayName), t=\(l.tensor)\(cp) p=\(l.pipeline) d=\(l.data)\(v), micro-batch \(l.microBatch), global batch \(Format.grouped(l.globalBatch))"
  }
}

/// The text of `megaplan explain-run`.
public enum RunExplanationReport {
  /// Causes shown in text (JSON has them all).
  public static let shownCauses = 6

  public static func text(_ c: RunComparison, config: String) -> String {
    var out: [String] = []
    out.append("megaplan explain-run: \(config)")
    out.append("")
    out.append("Run      \(RunExplanation.layoutText(c.run))")
    for (log, window) in zip(c.logs, c.logs.map(SteadyState.windows)) {
      let steady = window.filter { $0 == .steady }.count
      let warm = window.filter { $0 == .warmup }.count
      let eval = window.filter { $0 == .afterEvaluation }.count
      var parts: [String] = []
      if let format = log.stepFormat {
        let unit = log.steps.contains { $0.count > 1 } ? "window" : "step"
        parts.append(
          "\(format), \(log.steps.count) \(unit)\(log.steps.count == 1 ? "" : "s") timed: \(warm) warm-up\(eval > 0 ? ", \(eval) after an evaluation or checkpoint" : ""), \(steady) steady"
        )
      } else {
        parts.append("no step timed")
      }
      if !log.memory.isEmpty {
        parts.append("\(log.memory.count) memory report\(log.memory.count == 1 ? "" : "s")")
      }
      if !log.timerBlocks.isEmpty {
        parts.append("\(log.timerBlocks.count) timer block\(log.timerBlocks.count == 1 ? "" : "s")")
      }
      out.append("Log      \(log.file): " + parts.joined(separator: "; "))
      for note in log.notes { out.append("         note: \(note.description)") }
    }
    out.append("")

    // The step time.
    let predicted = c.predictedSeconds
    if let measured = c.measuredSeconds, let error = c.timeError {
      let spread = c.steady.relativeError.map { ", ±\(Format.percent($0, 2))" } ?? ""
      let n = c.steady.samples.count
      let direction =
        abs(error) < 0.005
        ? "the plan matches the run"
        : error < 0 ? "the plan is faster than the run" : "the plan is slower than the run"
      out.append(
        "Step time  measured \(seconds(measured)) (median of \(n) steady \(c.steady.steps > n ? "windows, \(Format.grouped(c.steady.steps)) steps" : "step\(n == 1 ? "" : "s")")\(spread)), predicted \(seconds(predicted)): \(signed(error)) (\(direction))"
      )
    } else {
      out.append(
        "Step time  not measured: no steady-state step in the log (its first \(SteadyState.warmupSteps) steps are warm-up); predicted \(seconds(predicted))"
      )
    }
    if let f = c.loggedFLOPs, c.flopsDisagree {
      out.append(
        "  warning: the log's throughput per GPU × step time × \(Format.grouped(c.run.layout.gpus)) GPUs is \(Format.flops(f.logged)) per iteration; the config's model is \(Format.flops(f.planned)) (×\(Format.fixed(f.logged / f.planned, 2))): the log may not be of this config (its sequence length, global batch or GPUs)"
      )
    }
    if c.steady.skippedSteps > 0 {
      out.append(
        "           \(c.steady.skippedSteps) of the steady steps skipped their update (fp16 loss scaling); they are timed in full"
      )
    }
    out.append("  the plan: " + planTerms(c.evaluation))
    out.append("")

    if !c.memory.isEmpty {
      out.append("Memory (torch max_memory_allocated)      measured   predicted   error")
      for m in c.memory {
        let ranks = m.ranks.count == 1 ? "rank \(m.ranks[0])" : "ranks " + rankList(m.ranks)
        out.append(
          "  "
            + Format.pad("stage \(m.stage) (\(ranks))", 36)
            + Format.left(Format.gib(m.measured), 11) + Format.left(Format.gib(m.predicted), 12)
            + Format.left(signed(m.predicted / m.measured - 1), 8))
      }
      out.append("")
    }

    if !c.terms.isEmpty {
      out.append(
        "Timers (slowest rank, median of the steady blocks)   measured   predicted   error")
      for t in c.terms {
        let name = "\(t.timers.joined(separator: " + ")) (\(t.term.rawValue))"
        let error = t.measured > 0 ? signed(t.predicted / t.measured - 1) : "—"
        out.append(
          "  " + Format.pad(name, 50) + Format.left(seconds(t.measured), 11)
            + Format.left(seconds(t.predicted), 12) + Format.left(error, 8))
      }
      out.append("")
    }

    if let measured = c.measuredSeconds, !c.causes.isEmpty {
      let gap = measured - predicted
      out.append(
        "Likely causes of the \(seconds(abs(gap))) gap, most likely first (each alone; docs/cli.md):"
      )
      for (i, cause) in c.causes.prefix(shownCauses).enumerated() {
        out.append("  \(i + 1). " + describe(cause, evaluation: c.evaluation))
      }
      if c.causes.count > shownCauses {
        out.append("  (\(c.causes.count - shownCauses) more in --format json)")
      }
    }
    return out.joined(separator: "\n") + "\n"
  }

  /// `forward 3.25 s, backward 6.62 s, …` (the nonzero terms).
  static func planTerms(_ e: Evaluation) -> String {
    e.iteration.breakdown.terms.filter { $0.value.value > 0 }.map {
      "\($0.name.replacingOccurrences(of: "_", with: " ")) \(seconds($0.value.value))"
    }.joined(separator: ", ")
  }

  static func describe(_ cause: GapCause, evaluation: Evaluation) -> String {
    let not = cause.limit.map { " — not alone: \(limitText($0, cause))" } ?? ""
    switch cause.kind {
    case .timer(let term):
      let measured = cause.measured ?? 0
      let diff = measured - cause.planned
      return
        "\(term.rawValue.replacingOccurrences(of: "_", with: " ")): the timers measure \(seconds(measured)), the plan has \(seconds(cause.planned)) (\(diff >= 0 ? "+" : "−")\(seconds(abs(diff))))"
    case .constant(let knob):
      let planned = "\(seconds(cause.planned)) of the plan scale with it"
      guard let factor = cause.factor, let before = cause.constantBefore,
        let after = cause.constantAfter
      else {
        return "\(knob.primaryKey): no value from ×0.1 to ×10 closes the gap (\(planned))"
      }
      return
        "\(knob.primaryKey) \(constant(before, knob)) → \(constant(after, knob)) (×\(Format.fixed(factor, 3))) closes the gap; \(planned)\(not)"
    case .term(let term):
      let factor = cause.factor ?? 1
      let name: String =
        switch term {
        case .pipelineBubble:
          "pipeline bubble (the schedule's (p − 1)/(v·m) = \(Format.percent(evaluation.iteration.bubbleFraction, 2)))"
        case .dataParallelComm: "exposed data-parallel sync"
        case .pipelineComm: "pipeline sends and receives"
        case .optimizer: "optimizer step"
        default: term.rawValue.replacingOccurrences(of: "_", with: " ")
        }
      return
        "\(name) ×\(Format.fixed(factor, 2)) (\(seconds(cause.planned)) → \(seconds(max(0, cause.planned * factor)))) closes the gap\(not)"
    }
  }

  static func limitText(_ limit: GapCause.Limit, _ cause: GapCause) -> String {
    switch limit {
    case .abovePeak: "above the datasheet's peak or line rate"
    case .belowSchedule: "the bubble cannot be smaller than the schedule's"
    case .moreThanAll: "more than all of its collectives, nothing overlapped"
    case .negative: "the term would be negative"
    case .outOfReach: "out of reach"
    }
  }

  static func constant(_ x: Double, _ knob: CalibrationKnob) -> String {
    knob == .host ? Format.fixed(x * 1e6, 2) + " µs" : Format.fixed(x, 3)
  }

  /// Seconds to four significant digits at one second and above (a step time).
  public static func seconds(_ s: Double) -> String {
    if s >= 1 { return Format.fixed(s, 3) + " s" }
    return Format.seconds(s)
  }

  /// `+3.2%`, `-8.6%`; a value that rounds to zero is `+0.0%`.
  public static func signed(_ x: Double, digits: Int = 1) -> String {
    let scale = pow(10, Double(digits + 2))
    let rounded = (x * scale).rounded() / scale
    let shown = rounded == 0 ? 0 : rounded
    return (shown >= 0 ? "+" : "") + Format.percent(shown, digits)
  }

  /// `0–3, 8` for ranks 0, 1, 2, 3, 8.
  static func rankList(_ ranks: [Int]) -> String {
    var parts: [String] = []
    var i = 0
    while i < ranks.count {
      var j = i
      while j + 1 < ranks.count && ranks[j + 1] == ranks[j] + 1 { j += 1 }
      parts.append(j > i ? "\(ranks[i])–\(ranks[j])" : "\(ranks[i])")
      i = j + 1
    }
    return parts.joined(separator: ", ")
  }
}
