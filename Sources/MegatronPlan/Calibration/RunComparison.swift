/// One run's logs against its plan: the steady-state step time measured and predicted, the
/// timers the logs hold against the iteration terms they measure (`MeasuredTerm`), each logged
/// rank's allocator peak against its pipeline stage's, and the likely causes of the gap
/// (`GapCause`). The logs must be of the run the config describes: a global batch, sequence
/// length, node count or rank the log states and the config contradicts is an error naming both.
public struct RunComparison: Sendable {
  /// A term the logs' timers measure, against the plan.
  public struct TermComparison: Sendable, Hashable {
    public var term: MeasuredTerm
    /// The timers summed into it, as the log names them.
    public var timers: [String]
    /// The median over the steady windows' timer blocks of the slowest rank's time, seconds.
    public var measured: Double
    public var predicted: Double
    /// The blocks the median is over.
    public var blocks: Int
    /// The median's relative standard error over the blocks (`SteadyState.relativeError`).
    public var relativeError: Double
  }

  /// One pipeline stage's allocator peak, as its ranks reported it.
  public struct MemoryComparison: Sendable, Hashable {
    public var stage: Int
    /// The ranks that reported it (nil rank: rank 0).
    public var ranks: [Int]
    /// The largest `max allocated` the ranks reported, bytes.
    public var measured: Double
    /// `StagePlan.allocatedBytes`: what `torch.cuda.max_memory_allocated` should read.
    public var predicted: Double
    public var measuredReserved: Double?
    public var location: SourceLocation
  }

  public var evaluation: Evaluation
  public var logs: [TrainingLog]
  public var steady: SteadyState
  public var terms: [TermComparison] = []
  public var memory: [MemoryComparison] = []
  /// Ranked, most likely first (`GapCause.rank`); empty without a measured step time.
  public var causes: [GapCause] = []
  /// The model FLOPs per iteration Megatron-LM's `throughput per GPU` implies (× the window's
  /// time × the config's GPUs, the median over the steady windows), against the plan's; nil
  /// when the log does not print it.
  public var loggedFLOPs: (logged: Double, planned: Double)?
  /// How far the logged FLOPs may stray from the plan's before the log is flagged as maybe not
  /// of this config: Megatron-LM's formula counts the attention scores in full before 2025
  /// (megaplan the causal half) and the logits layer its own way, a few percent for GPT-3, up
  /// to 15 % at long sequences; a factor of two is another sequence length or batch.
  public static let flopsTolerance = 0.25
  /// Whether the logged FLOPs disagree with the plan's by more than `flopsTolerance`.
  public var flopsDisagree: Bool {
    guard let f = loggedFLOPs else { return false }
    return abs(f.logged / f.planned - 1) > Self.flopsTolerance
  }

  public var run: TrainingRun { evaluation.run }
  public var measuredSeconds: Double? { steady.median }
  public var predictedSeconds: Double { evaluation.seconds }
  /// predicted / measured − 1, the sign `megaplan validate` uses: negative when the plan is
  /// faster than the run.
  public var timeError: Double? { measuredSeconds.map { predictedSeconds / $0 - 1 } }

  /// Compares `logs`, all of `run`, with `run`'s plan.
  public init(_ run: TrainingRun, logs: [TrainingLog]) throws {
    try Self.checkConsistency(run, logs: logs)
    evaluation = Evaluator(run).evaluate()
    self.logs = logs
    steady = SteadyState(logs)
    terms = Self.termComparisons(logs, evaluation: evaluation)
    memory = try Self.memoryComparisons(logs, evaluation: evaluation)
    if let measured = steady.median {
      causes = GapCause.rank(run, evaluation: evaluation, measured: measured, terms: terms)
    }
    var implied: [Double] = []
    for log in logs {
      for (step, window) in zip(log.steps, SteadyState.windows(log)) where window == .steady {
        if let tf = step.teraFLOPsPerGPU {
          implied.append(tf * 1e12 * step.seconds * Double(run.layout.gpus))
        }
      }
    }
    if let logged = SteadyState.median(implied) {
      loggedFLOPs = (logged, evaluation.modelFLOPs.value)
    }
  }

  // MARK: - The log against the config

  /// What a log states about its run against what the config says.
  static func checkConsistency(_ run: TrainingRun, logs: [TrainingLog]) throws {
    let layout = run.layout
    for log in logs {
      if let b = log.globalBatch, b.value != layout.globalBatch {
        throw ConfigError(
          "the log trained global batch \(b.value); the config's model.global_batch_size is \(layout.globalBatch): compare a log with the config of its own run",
          key: "model.global_batch_size", at: b.location)
      }
      if let s = log.sequenceLength, s.value != run.model.sequenceLength {
        throw ConfigError(
          "the log trained sequences of \(s.value) tokens; the config's sequence length is \(run.model.sequenceLength): compare a log with the config of its own run",
          key: "model.encoder_seq_length", at: s.location)
      }
      if let n = log.nodes {
        let nodes = layout.gpus / max(1, run.devicesPerNode)
        if n.value != nodes {
          throw ConfigError(
            "the log ran on \(n.value) nodes; the config's \(Format.grouped(layout.gpus)) GPUs are \(nodes) nodes of \(run.devicesPerNode): compare a log with the config of its own run",
            key: "trainer.num_nodes", at: n.location)
        }
      }
      for report in log.memory {
        if let rank = report.rank, rank >= layout.gpus {
          throw ConfigError(
            "rank \(rank) reports memory, but the config runs \(Format.grouped(layout.gpus)) GPUs (ranks 0–\(layout.gpus - 1)): compare a log with the config of its own run",
            key: "trainer.num_nodes", at: report.location)
        }
      }
    }
  }

  // MARK: - Timers

  /// The timer blocks that follow steady windows, grouped by the term each timer measures:
  /// each block's sum per term, the median over the blocks.
  static func termComparisons(_ logs: [TrainingLog], evaluation: Evaluation) -> [TermComparison] {
    var perTerm: [MeasuredTerm: (timers: [String], values: [Double])] = [:]
    for log in logs {
      let windows = SteadyState.windows(log)
      for block in log.timerBlocks {
        guard let index = block.step, windows[index] == .steady else { continue }
        var sums: [MeasuredTerm: Double] = [:]
        for entry in block.entries {
          guard let term = MeasuredTerm.named(entry.name) else { continue }
          sums[term, default: 0] += entry.maxMilliseconds / 1000
          if !(perTerm[term]?.timers.contains(entry.name) ?? false) {
            perTerm[term, default: ([], [])].timers.append(entry.name)
          }
        }
        for (term, seconds) in sums { perTerm[term, default: ([], [])].values.append(seconds) }
      }
    }
    return MeasuredTerm.allCases.compactMap { term in
      guard let found = perTerm[term], let median = SteadyState.median(found.values) else {
        return nil
      }
      return TermComparison(
        term: term, timers: found.timers, measured: median,
        predicted: term.predicted(evaluation), blocks: found.values.count,
        relativeError: SteadyState.relativeError(found.values) ?? SteadyState.resolution)
    }
  }

  // MARK: - Memory

  /// Each stage's reports (Megatron-Core orders ranks tensor, context, data, pipeline —
  /// `parallel_state.initialize_model_parallel`, `order="tp-cp-ep-dp-pp"` — so rank r is on
  /// stage r / (t · cp · d)), the largest `max allocated` of each against the stage's plan.
  static func memoryComparisons(_ logs: [TrainingLog], evaluation: Evaluation) throws
    -> [MemoryComparison]
  {
    let layout = evaluation.layout
    let perStage = max(1, layout.tensor * layout.contextParallel * layout.data)
    var byStage: [Int: MemoryComparison] = [:]
    for log in logs {
      for report in log.memory {
        let rank = report.rank ?? 0
        let stage = rank / perStage
        guard stage < evaluation.stages.count else { continue }
        var c =
          byStage[stage]
          ?? MemoryComparison(
            stage: stage, ranks: [], measured: 0,
            predicted: evaluation.stages[stage].allocatedBytes, measuredReserved: nil,
            location: report.location)
        if !c.ranks.contains(rank) { c.ranks.append(rank) }
        if report.maxAllocated > c.measured {
          c.measured = report.maxAllocated
          c.location = report.location
        }
        if let r = report.maxReserved { c.measuredReserved = max(c.measuredReserved ?? 0, r) }
        byStage[stage] = c
      }
    }
    return byStage.keys.sorted().compactMap { stage in
      byStage[stage].map {
        var c = $0
        c.ranks.sort()
        return c
      }
    }
  }

  /// The largest departure of a stage's measured allocator peak from its plan, relative to the
  /// plan (measured / predicted − 1); nil without a memory report.
  public var memoryDeparture: (comparison: MemoryComparison, departure: Double)? {
    memory.map { ($0, $0.measured / $0.predicted - 1) }.max { abs($0.1) < abs($1.1) }
  }
}
