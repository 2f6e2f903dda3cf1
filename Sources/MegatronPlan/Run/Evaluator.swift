/// Evaluates a run on a layout: the one home of "how much memory does each stage need, which
/// stage is the most loaded and which the slowest, how long is an iteration". Every command goes
/// through it: `score` gives the numbers a search ranks by, `evaluate` every stage with what
/// reports name. The layout is taken as given with the run's model, numerics, GPU and software
/// (`TrainingRun.with(layout:)` re-pads the vocabulary and re-lays the nodes first where a
/// caller needs that).
public struct Evaluator: Sendable {
  public var run: TrainingRun

  public init(_ run: TrainingRun) { self.run = run }

  /// The costs of the run's layer kinds on `layout`'s shard (`ShardCosts`), which every layout
  /// with the same t, b, SP, cp, EP and ETP shares.
  public func costs(_ layout: Layout) -> ShardCosts { ShardCosts(run, shard: layout) }

  /// What a search ranks a layout by: its modeled device peak on the most loaded stage, whether
  /// it fits (`MemoryBudget`), and when it fits its iteration time and throughput.
  public struct Score: Sendable, Hashable {
    /// The most loaded stage's device peak (bytes).
    public var peakBytes: Double
    public var fits: Bool
    /// Seconds per iteration; nil when the layout does not fit and `timeAlways` was off.
    public var seconds: Double?
    /// Tokens per second; nil with `seconds`.
    public var tokensPerSecond: Double?
  }

  /// The candidate stages of `layout` (`Layout.candidateStages`) planned from the shard's costs,
  /// their states and peak left for `score` to shard.
  public func plans(_ layout: Layout, costs: ShardCosts) -> [StagePlan] {
    layout.candidateStages(of: run.model).map {
      StagePlan(run, layout, stage: $0, costs: costs, sharded: false)
    }
  }

  /// `layout` scored from the costs of its shard (computed here when not given): the
  /// candidate stages' memory; when the layout fits (or with `timeAlways`), their time and the
  /// iteration's.
  public func score(_ layout: Layout, costs given: ShardCosts? = nil, timeAlways: Bool = false)
    -> Score
  {
    let costs = given ?? self.costs(layout)
    var stages = layout.candidateStages(of: run.model).map {
      StagePlan(run, layout, stage: $0, costs: costs)
    }
    return score(layout, costs: costs, sharded: &stages, timeAlways: timeAlways)
  }

  /// `score` on candidate stages already planned (`plans`) for a layout that differs from
  /// `layout` at most in its data-parallel sharding (what a search tries on the same
  /// activations): they are re-sharded here for `layout` rather than planned again.
  public func score(
    _ layout: Layout, costs: ShardCosts, resharding stages: inout [StagePlan],
    timeAlways: Bool = false
  ) -> Score {
    for k in stages.indices { stages[k].shard(run, layout, costs: costs) }
    return score(layout, costs: costs, sharded: &stages, timeAlways: timeAlways)
  }

  func score(
    _ layout: Layout, costs: ShardCosts, sharded stages: inout [StagePlan], timeAlways: Bool
  ) -> Score {
    var peak = 0.0
    for plan in stages { peak = max(peak, plan.peakBytes) }
    let fits = run.memoryBudget.fits(total: peak, capacity: run.gpu.memory.value)
    guard fits || timeAlways else { return Score(peakBytes: peak, fits: false) }
    let seconds = iteration(layout, stages: &stages, costs: costs).total.value
    return Score(
      peakBytes: peak, fits: fits, seconds: seconds,
      tokensPerSecond: tokensPerIteration(layout) / seconds)
  }

  /// Tokens an iteration of `layout` trains: B·s (an encoder–decoder model's s_enc,
  /// `TransformerModel.tokensPerSample`).
  public func tokensPerIteration(_ layout: Layout) -> Double {
    Double(layout.globalBatch) * Double(run.model.tokensPerSample)
  }

  /// The run on its own layout (`evaluate(_:)`).
  public func evaluate() -> Evaluation { evaluate(run.layout) }

  /// Every stage of `layout` with its memory, the candidate stages with their time, the
  /// iteration and what reports quote of one layer.
  public func evaluate(_ layout: Layout, costs given: ShardCosts? = nil) -> Evaluation {
    let costs = given ?? self.costs(layout)
    var stages = (0..<max(1, layout.pipeline)).map {
      StagePlan(run, layout, stage: $0, costs: costs)
    }
    var candidates = layout.candidateStages(of: run.model).map { stages[$0] }
    let iteration = self.iteration(layout, stages: &candidates, costs: costs)
    for plan in candidates { stages[plan.stage].time = plan.time }
    // The most loaded of the candidate stages, the first on a tie.
    var worst = candidates[0]
    for plan in candidates.dropFirst() where plan.peakBytes > worst.peakBytes { worst = plan }
    let time = run.stepTime(layout: layout)
    var evaluatedRun = run
    evaluatedRun.layout = layout
    return Evaluation(
      run: evaluatedRun, costs: costs, stages: stages, mostLoadedStage: worst.stage,
      slowestStage: iteration.slowestStage, iteration: iteration,
      fits: run.memoryBudget.fits(total: worst.peakBytes, capacity: run.gpu.memory.value),
      representativeRecompute: costs.representativeLayer.map {
        time.recompute(forward: $0.forward.total, selective: $0.selectiveRecompute)
      } ?? .zero,
      tokensPerIteration: tokensPerIteration(layout))
  }

  /// The iteration of `layout` from its candidate stages (`Layout.candidateStages`, their
  /// memory already planned in `stages`, their time filled in here): the slowest stage's compute
  /// and communication, the pipeline bubble (p − 1)/(v·m) of it (N21 §2.2), the pipeline's
  /// messages, the data-parallel synchronisation's exposed part (`DataParallelSync`: buckets,
  /// overlapped with backward and forward as Megatron-Core does), and the optimizer step of the
  /// stage with the most parameters (the experts over their own group).
  func iteration(_ layout: Layout, stages: inout [StagePlan], costs: ShardCosts) -> IterationTime {
    let m = run.model
    let time = run.stepTime(layout: layout)
    var slowest = StageTime(), slowestStage = 0
    var most = stages[0].parameters
    for k in stages.indices {
      stages[k].time = StagePlan.time(
        time, counts: stages[k].layers, stage: stages[k].stage, costs: costs)
      if k == 0 || stages[k].time >= slowest {
        (slowest, slowestStage) = (stages[k].time, stages[k].stage)
      }
      // States are reduced for the stage with the most parameters (the first, the last, or
      // with an uneven split a middle one).
      if stages[k].parameters.total > most.total { most = stages[k].parameters }
    }
    let schedule = PipelineSchedule(layout)
    let maxParams = Parameters(most.total)
    let expertParams = Parameters(most.expert)
    let sync = dataParallelSync(layout, time: time, stages: stages, slowest: slowest)
    // What the buckets run beside backward and forward slows that compute (`contention`).
    var dp = sync.exposed + time.contention(hidden: sync.reduce + sync.gather - sync.exposed)
    let stageLayers = layout.split.maxLayersPerStage(of: m.layers, stages: max(1, layout.pipeline))
    dp += time.fullyShardedComm(
      parameters: maxParams, compute: slowest.forward + slowest.backward + slowest.recompute,
      layers: stageLayers)
    return IterationTime(
      forward: slowest.forward, backward: slowest.backward, recompute: slowest.recompute,
      communication: slowest.communication, contextParallel: slowest.contextParallel,
      expertParallel: slowest.expertParallel,
      bubble: slowest.total * schedule.bubbleFraction, pipelineComm: time.pipelineComm(),
      dataParallelComm: dp,
      optimizer: time.optimizerStep(parameters: maxParams - expertParams)
        + time.optimizerStep(parameters: expertParams, group: layout.expertData),
      slowestStage: slowestStage, bubbleFraction: schedule.bubbleFraction, dataParallel: sync)
  }
}

/// The iteration by part: the slowest stage's compute and communication, the bubble, the
/// pipeline's messages, the data-parallel reduction and the optimizer step.
public struct IterationTime: Sendable, Hashable {
  /// The parts, named as reports and JSON print them (`breakdown`).
  public enum Term: String, Sendable, Hashable, CaseIterable, BreakdownKey {
    case forward, backward, recompute
    case tensorParallelComm = "tensor_parallel_comm"
    case expertParallelComm = "expert_parallel_comm"
    case contextParallelComm = "context_parallel_comm"
    case pipelineBubble = "pipeline_bubble"
    case pipelineComm = "pipeline_comm"
    case dataParallelComm = "data_parallel_comm"
    case optimizer
  }

  public var forward, backward, recompute, communication, contextParallel: Seconds
  /// The MoE dispatch and combine that show (`StageTime.expertParallel`).
  public var expertParallel = Seconds.zero
  public var bubble, pipelineComm, dataParallelComm, optimizer: Seconds
  /// The stage whose time sets the iteration.
  public var slowestStage: Int
  /// (p − 1)/(v·m).
  public var bubbleFraction: Double
  /// The data-parallel synchronisation: collectives, algorithms and exposure.
  public var dataParallel = DataParallelSync()

  public var total: Seconds {
    forward + backward + recompute + communication + expertParallel + contextParallel + bubble
      + pipelineComm + dataParallelComm + optimizer
  }

  public subscript(term: Term) -> Seconds {
    switch term {
    case .forward: forward
    case .backward: backward
    case .recompute: recompute
    case .tensorParallelComm: communication
    case .expertParallelComm: expertParallel
    case .contextParallelComm: contextParallel
    case .pipelineBubble: bubble
    case .pipelineComm: pipelineComm
    case .dataParallelComm: dataParallelComm
    case .optimizer: optimizer
    }
  }

  /// The parts by name (context and expert parallelism's only when they have any).
  public var breakdown: Breakdown<SecondUnit> {
    var out = Breakdown<SecondUnit>()
    for term in Term.allCases {
      if term == .contextParallelComm && contextParallel.value <= 0 { continue }
      if term == .expertParallelComm && expertParallel.value <= 0 { continue }
      out.add(term.rawValue, self[term])
    }
    return out
  }
}

/// A run evaluated on a layout: every stage as numbers (the candidate stages with their time),
/// the most loaded and the slowest stage, the iteration, and the layer costs reports quote.
public struct Evaluation: Sendable {
  /// The run with the evaluated layout.
  public var run: TrainingRun
  public var costs: ShardCosts
  /// Every stage's memory; the candidate stages' time (`Layout.candidateStages`).
  public var stages: [StagePlan]
  public var mostLoadedStage: Int
  public var slowestStage: Int
  public var iteration: IterationTime
  /// The most loaded stage's peak within the budget (`MemoryBudget`).
  public var fits: Bool
  /// The representative layer's recompute for one microbatch (the whole model's share with
  /// partial full recompute).
  public var representativeRecompute: Seconds
  public var tokensPerIteration: Double

  public var layout: Layout { run.layout }
  public var mostLoaded: StagePlan { stages[mostLoadedStage] }
  public var seconds: Double { iteration.total.value }
  public var tokensPerSecond: Double { tokensPerIteration / seconds }
}
