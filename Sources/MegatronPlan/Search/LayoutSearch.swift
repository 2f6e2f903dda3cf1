import Foundation

/// `megaplan search`: every parallel layout of a run's model, sequence length, global batch and
/// precision on a number of GPUs, the ones that fit by the run's `MemoryBudget` (the rule every
/// command uses), ranked by an objective. Design note: docs/search.md.
///
/// Each candidate is the run a config with its layout would load to (`TrainingRun.with(layout:)`):
/// the vocabulary padded for its t (unless `megaplan.vocab_size` fixes it), its GPUs on nodes of
/// the config's `trainer.devices` (`nodeShape`), and that node's NVLink domain. So the row and
/// `estimate` of the file `--emit-config` writes agree to the byte and the second.
///
/// The model, sequence length, global batch, precision, GPU, token budget and performance
/// constants come from the base `TrainingRun`; its layout is only a starting point. The space
/// (`LayoutSearch+Space.swift`) is t, p, v, b, SP, recompute, the distributed optimizer and, for
/// an MoE model, EP and ETP, with d = GPUs/(t·cp·p); `Constraints` restrict it.
///
/// Speed: a layout is scored by the evaluator every command uses (`Evaluator.score`), in two
/// levels. The layer costs (`ShardCosts`: saved bytes, backward peaks, times, parameters) depend
/// only on t, b, SP, cp, EP and ETP, so they are computed once per such shard; each layout then
/// assembles its candidate stages from them (`StagePlan`, `Layout.candidateStages`), the
/// sharding choices re-using one plan of the stages. The full evaluation
/// (`Evaluator.evaluate`) is made only for the top K.
public enum LayoutSearch {
  /// What "best" means.
  public enum Objective: String, Sendable, Hashable, Codable, CaseIterable {
    /// Highest tokens per second on the given GPU count (the default).
    case throughput
    /// Fewest days for the token budget (`TrainingRun.trainTokens`): the same order as
    /// throughput at a fixed GPU count, reported in days.
    case days
    /// Fewest GPUs that finish the token budget within `Options.maxDays`, then the fastest. The
    /// GPU count varies over whole nodes from one node up to the given count (and the given
    /// count itself); see `gpuCounts(upTo:gpusPerNode:)`.
    case gpus
  }

  /// Recompute granularity as a constraint (`RecomputeGranularity`).
  public typealias Granularity = RecomputeGranularity

  /// Sequence parallelism as a constraint. With t = 1 there is no sequence parallelism (Megatron
  /// turns it off), so every choice gives a single "off" layout there.
  public enum SequenceParallelChoice: String, Sendable, Hashable, Codable, CaseIterable {
    case on
    case off
    case any
  }

  /// Why a candidate was not kept. Divisibility reasons mirror `LayoutViolation`.
  public enum RejectionReason: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Total per GPU above the usable memory (`MemoryBudget`, the rule every command uses).
    case memory
    /// A fixed t above the NVLink domain of one node without `allowCrossNodeTensor`.
    case tensorExceedsNode = "tensor_exceeds_node"
    case tensorDoesNotDivideHeads = "tensor_does_not_divide_heads"
    case pipelineDoesNotDivideLayers = "pipeline_does_not_divide_layers"
    /// t·p does not divide the GPU count.
    case gpusNotDivisible = "gpus_not_divisible"
    /// b·d does not divide the global batch (or d alone does not).
    case batchNotDivisible = "batch_not_divisible"
    /// A fixed v > 1 with p = 1.
    case virtualWithoutPipeline = "virtual_without_pipeline"
    /// v does not divide the L/p layers of a stage.
    case virtualDoesNotDivideLayers = "virtual_does_not_divide_layers"
    /// Interleaving (v > 1) needs m = B/(b·d) to be a multiple of p.
    case interleavedMicrobatches = "interleaved_microbatches"
    /// cp > 1 without fused attention (Megatron-Core's local attention refuses it).
    case contextNeedsFusedAttention = "context_needs_fused_attention"
    /// s not a multiple of 2·cp, or s/cp under `LayoutSearch.minimumContextShard` tokens.
    case sequenceNotDivisibleByContext = "sequence_not_divisible_by_context"
    /// With `a2a`, the heads or key/value groups of a tensor-parallel rank do not divide by cp.
    case contextDoesNotDivideHeads = "context_does_not_divide_heads"

    public static func < (a: Self, b: Self) -> Bool { a.index < b.index }
    var index: Int { Self.allCases.firstIndex(of: self) ?? 0 }
  }

  /// Restrictions of the space; nil / `any` / all granularities mean unrestricted.
  public struct Constraints: Sendable, Hashable {
    /// GPUs to lay out; nil: the base layout's t·p·d. For `Objective.gpus`, the most allowed.
    public var gpus: Int?
    public var tensor: Int?
    /// cp; nil: every cp the model allows (`LayoutSearch+Space.swift`).
    public var contextParallel: Int? = nil
    public var pipeline: Int?
    /// v (1 = no interleaving).
    public var virtualStages: Int?
    public var microBatch: Int?
    public var recompute: Set<Granularity>
    public var sequenceParallel: SequenceParallelChoice
    /// nil: both; true/false: only with / without the distributed optimizer.
    public var distributedOptimizer: Bool?
    /// Full sharding (Megatron-FSDP): as the file has it (default), on, off, or both searched.
    public var fullySharded: ShardingChoice = .asBase
    /// Let t exceed the GPUs of one node (tensor-parallel collectives over InfiniBand).
    public var allowCrossNodeTensor: Bool
    /// With the `full` granularity, also try partial recompute (`block`, k < Lc layers); off:
    /// every layer (`uniform`, k = 1) only.
    public var partialRecompute: Bool = true
    /// EP for an MoE model: every size that divides the experts and fits t·d (default), the
    /// file's, or a fixed one.
    public var expertParallel: ExpertChoice = .any
    /// ETP for an MoE model: 1 and t (default), the file's (t when the file's follows t), or a
    /// fixed one.
    public var expertTensorParallel: ExpertChoice = .any
    /// Where p does not divide the layers, try Megatron-Core's uneven splits (the embedding or
    /// loss counted as a layer, the first/last stage's layer counts: `unevenSplits`); off: only
    /// p dividing the layers (and the file's own split at its p).
    public var unevenSplits: Bool = true

    public init(
      gpus: Int? = nil, tensor: Int? = nil, pipeline: Int? = nil, virtualStages: Int? = nil,
      microBatch: Int? = nil,
      recompute: Set<Granularity> = Set(Granularity.allCases),
      sequenceParallel: SequenceParallelChoice = .any,
      distributedOptimizer: Bool? = nil, allowCrossNodeTensor: Bool = false
    ) {
      self.gpus = gpus
      self.tensor = tensor
      self.pipeline = pipeline
      self.virtualStages = virtualStages
      self.microBatch = microBatch
      self.recompute = recompute
      self.sequenceParallel = sequenceParallel
      self.distributedOptimizer = distributedOptimizer
      self.allowCrossNodeTensor = allowCrossNodeTensor
    }
  }

  public struct Options: Sendable, Hashable {
    public var objective: Objective
    /// How many candidates to return (each with its full `Estimate`).
    public var top: Int
    /// Deadline for `Objective.gpus` (days for `TrainingRun.trainTokens`).
    public var maxDays: Double?
    public var constraints: Constraints
    /// Fraction of GPU memory a layout may use; nil: the run's `memoryBudget` (the config's
    /// `megaplan.max_memory_fraction`, default 1.0). Given, it replaces the run's for every
    /// candidate.
    public var maxMemoryFraction: Double?
    /// Worker threads; nil: one per active core.
    public var threads: Int?
    /// Order in which work units are evaluated; results do not depend on it (tests vary it).
    var order: EvaluationOrder = .forward
    /// When nothing fits, say what was tried, the nearest miss and what would fit (`NoFit`,
    /// which searches again with each change); off inside other searches (`fastest`, `size`).
    public var explainNoFit: Bool = true

    public init(
      objective: Objective = .throughput, top: Int = 5, maxDays: Double? = nil,
      constraints: Constraints = .init(),
      maxMemoryFraction: Double? = nil, threads: Int? = nil
    ) {
      self.objective = objective
      self.top = top
      self.maxDays = maxDays
      self.constraints = constraints
      self.maxMemoryFraction = maxMemoryFraction
      self.threads = threads
    }
  }

  enum EvaluationOrder: Sendable, Hashable {
    case forward
    case reversed
    case shuffled(seed: UInt64)
  }

  public enum SearchError: Error, Sendable, Hashable, CustomStringConvertible {
    case nonPositive(what: String, value: Int)
    case missingTrainTokens(objective: Objective)
    case missingMaxDays

    public var description: String {
      switch self {
      case .nonPositive(let what, let value): "\(what) must be a positive integer, found \(value)"
      case .missingTrainTokens(let objective):
        "objective '\(objective.rawValue)' needs a token budget (megaplan.train_tokens)"
      case .missingMaxDays: "objective 'gpus' needs a deadline (--max-days)"
      }
    }
  }

  /// One ranked layout, evaluated in full (`Evaluator.evaluate`).
  public struct Candidate: Sendable {
    /// 1 = best.
    public var rank: Int
    public var evaluation: Evaluation
    /// With `Objective.gpus`: finishes the token budget within `maxDays`.
    public var meetsDeadline: Bool?
    /// The run with the candidate's layout (`TrainingRun.with(layout:)`).
    public var run: TrainingRun { evaluation.run }
    public var layout: Layout { run.layout }
  }

  public struct Result: Sendable {
    public var objective: Objective
    /// Best first; empty when nothing fits.
    public var candidates: [Candidate]
    /// Every candidate looked at: each complete layout checked for memory, plus each partial
    /// candidate cut by a divisibility rule (one count per cut value, e.g. one per t that does not
    /// divide the heads, not per layout it would have expanded to).
    /// `evaluated == feasible + rejected.values.sum()`.
    public var evaluated: Int
    /// Complete layouts checked for memory (`feasible + rejected[.memory]`).
    public var layouts: Int
    /// Layouts that fit with the headroom.
    public var feasible: Int
    /// Rejections by reason (reasons with no rejection are absent).
    public var rejected: [RejectionReason: Int]
    /// GPU counts searched (one, except with `Objective.gpus`).
    public var gpuCounts: [Int]
    /// Why the winner beats the runner-up, from their time breakdowns; nil with fewer than two.
    public var reason: String?
    /// When nothing fits (and `Options.explainNoFit`): what was tried, the nearest miss and the
    /// changes that would fit.
    public var noFit: NoFit? = nil

    public var best: Candidate? { candidates.first }
    public func rejected(_ reason: RejectionReason) -> Int { rejected[reason] ?? 0 }
  }

  /// Searches the layouts of `base`'s model, batch and precision.
  public static func search(_ loaded: TrainingRun, options: Options = .init()) throws -> Result {
    try search(loaded, options: options, cache: nil)
  }

  /// `search`, with the shard costs kept in `cache` for the next search of the same run (the
  /// searches of `fastest` and of `size` differ only in the GPU count and the global batch,
  /// which the costs of a shard do not depend on).
  static func search(_ loaded: TrainingRun, options: Options, cache: GroupCache?) throws -> Result {
    var base = loaded
    if let f = options.maxMemoryFraction { base.memoryBudget = MemoryBudget(usableFraction: f) }
    let c = options.constraints
    let gpus = c.gpus ?? base.layout.gpus
    for (what, value) in [
      ("gpus", Optional(gpus)), ("tensor", c.tensor), ("pipeline", c.pipeline),
      ("virtual", c.virtualStages), ("micro-batch", c.microBatch), ("top", Optional(options.top)),
    ] {
      if let value, value <= 0 { throw SearchError.nonPositive(what: what, value: value) }
    }
    var counts = [gpus]
    if options.objective == .gpus {
      guard base.trainTokens != nil else { throw SearchError.missingTrainTokens(objective: .gpus) }
      guard options.maxDays != nil else { throw SearchError.missingMaxDays }
      counts = gpuCounts(upTo: gpus, gpusPerNode: base.devicesPerNode)
    }
    var total = Tally(top: options.top)
    var searched: [Int] = []
    for n in counts {
      // Fewest GPUs first: once K candidates meet the deadline, larger counts rank below them.
      let tally = searchOneCount(base, gpus: n, options: options, cache: cache)
      total.merge(tally, objective: options.objective)
      searched.append(n)
      if options.objective == .gpus && total.best.filter(\.meetsDeadline).count >= options.top {
        break
      }
    }
    var out = result(base, total, searched: searched, options: options)
    if out.candidates.isEmpty && options.explainNoFit && options.objective != .gpus {
      out.noFit = try NoFit.explain(base, gpus: gpus, options: options, nearest: total.nearest)
    }
    return out
  }

  /// Candidate GPU counts for `Objective.gpus`: every whole number of nodes up to `limit`, and
  /// `limit` itself (so a count below one node, or not a whole number of nodes, is still tried).
  /// At most `maximumGPUCounts` counts are tried: beyond that the node counts are spaced evenly,
  /// so a huge limit cannot turn into hours of searching.
  public static let maximumGPUCounts = 512

  public static func gpuCounts(upTo limit: Int, gpusPerNode: Int) -> [Int] {
    let node = max(1, gpusPerNode)
    let nodes = limit / node
    let step = max(1, (nodes + maximumGPUCounts - 1) / maximumGPUCounts) * node
    var out = stride(from: step, through: limit, by: step).map { $0 }
    if out.last != limit { out.append(limit) }
    return out
  }
}

// MARK: - Ranking

extension LayoutSearch {
  /// A layout scored without its full estimate.
  struct Scored: Sendable {
    var layout: Layout
    var seconds: Double
    var tokensPerSecond: Double
    var meetsDeadline: Bool
  }

  /// The total order of candidates: the objective, then the simpler layout (smaller t·p, no
  /// interleaving, then t, p, b, SP off first, recompute none < selective < full < partial with
  /// fewer layers first, DO off first, fewer GPUs, smaller EP, smaller ETP). Total, so any evaluation order and any merge
  /// give the same ranking.
  static func better(_ a: Scored, _ b: Scored, objective: Objective) -> Bool {
    if objective == .gpus {
      if a.meetsDeadline != b.meetsDeadline { return a.meetsDeadline }
      if a.meetsDeadline && a.layout.gpus != b.layout.gpus { return a.layout.gpus < b.layout.gpus }
    }
    if a.tokensPerSecond != b.tokensPerSecond { return a.tokensPerSecond > b.tokensPerSecond }
    return tieKey(a.layout).lexicographicallyPrecedes(tieKey(b.layout))
  }

  static func tieKey(_ l: Layout) -> [Int] {
    let recompute: (Int, Int)
    switch l.recompute {
    case .none: recompute = (0, 0)
    case .selective: recompute = (1, 0)
    case .full(.uniform, let k): recompute = (2, k)
    case .full(.block, let k): recompute = (3, k)
    }
    return [
      l.tensor * l.pipeline, l.virtualStages, l.tensor, l.pipeline, splitOrder(l.split),
      l.split.firstStageLayers ?? 0, l.microBatch, l.effectiveSequenceParallel ? 1 : 0,
      recompute.0, recompute.1, l.distributedOptimizer ? 1 : 0, l.gpus, l.expertParallel,
      l.expertTensorParallel,
    ]
  }

  /// Simpler splits first: even (or the file's own), the embedding and loss counted, the
  /// embedding, the loss, first/last counts (`unevenSplits`' order); a flexible layout from
  /// accounting by its counts.
  static func splitOrder(_ s: PipelineSplit) -> Int {
    if s.isEven { return 0 }
    if s.firstStageLayers != nil || s.lastStageLayers != nil { return 4 }
    if s.embeddingCountsAsLayer && s.lossCountsAsLayer { return 1 }
    if s.embeddingCountsAsLayer { return 2 }
    if s.lossCountsAsLayer { return 3 }
    guard let chunks = s.chunkLayers, let first = chunks.first, let last = chunks.last,
      chunks.count > 1
    else { return 0 }
    let middle = chunks[1]
    return first < middle && last < middle ? 1 : first < middle ? 2 : last < middle ? 3 : 0
  }

  /// Counts and the best K of one part of the space; merging is order-independent.
  struct Tally: Sendable {
    var top: Int
    var best: [Scored] = []
    var rejected = [Int](repeating: 0, count: RejectionReason.allCases.count)
    var feasible = 0
    /// The layout over the memory budget by the least (its peak), ties to the simpler.
    var nearest: (peak: Double, layout: Layout)? = nil

    init(top: Int) { self.top = top }

    mutating func reject(_ reason: RejectionReason, _ n: Int = 1) { rejected[reason.index] += n }

    /// A layout rejected for memory at `peak` bytes.
    mutating func miss(_ layout: Layout, peak: Double) {
      rejected[RejectionReason.memory.index] += 1
      if let n = nearest,
        n.peak < peak
          || (n.peak == peak
            && !LayoutSearch.tieKey(layout).lexicographicallyPrecedes(LayoutSearch.tieKey(n.layout)))
      {
        return
      }
      nearest = (peak, layout)
    }

    mutating func offer(_ s: Scored, objective: Objective) {
      if best.count == top, let last = best.last,
        !LayoutSearch.better(s, last, objective: objective)
      {
        return
      }
      var lo = 0, hi = best.count
      while lo < hi {
        let mid = (lo + hi) / 2
        if LayoutSearch.better(best[mid], s, objective: objective) {
          lo = mid + 1
        } else {
          hi = mid
        }
      }
      best.insert(s, at: lo)
      if best.count > top { best.removeLast() }
    }

    mutating func merge(_ other: Tally, objective: Objective) {
      feasible += other.feasible
      for i in rejected.indices { rejected[i] += other.rejected[i] }
      for s in other.best { offer(s, objective: objective) }
      if let n = other.nearest {
        rejected[RejectionReason.memory.index] -= 1  // `miss` counts it again
        miss(n.layout, peak: n.peak)
      }
    }
  }

  static func result(_ base: TrainingRun, _ tally: Tally, searched: [Int], options: Options)
    -> Result
  {
    let candidates = tally.best.enumerated().map { i, s in
      let run = base.with(layout: s.layout)
      return Candidate(
        rank: i + 1, evaluation: Evaluator(run).evaluate(),
        meetsDeadline: options.objective == .gpus ? s.meetsDeadline : nil)
    }
    var rejected: [RejectionReason: Int] = [:]
    for reason in RejectionReason.allCases where tally.rejected[reason.index] > 0 {
      rejected[reason] = tally.rejected[reason.index]
    }
    let layouts = tally.feasible + tally.rejected[RejectionReason.memory.index]
    return Result(
      objective: options.objective, candidates: candidates,
      evaluated: tally.feasible + tally.rejected.reduce(0, +),
      layouts: layouts, feasible: tally.feasible, rejected: rejected, gpuCounts: searched,
      reason: candidates.count >= 2 ? why(candidates[0], beats: candidates[1]) : nil)
  }

  /// Why `winner` beats `runnerUp`: fewer GPUs when the counts differ (objective `gpus`),
  /// otherwise the iteration's term where the winner saves the most time per iteration.
  public static func why(_ winner: Candidate, beats runnerUp: Candidate) -> String {
    let w = winner.evaluation, r = runnerUp.evaluation
    if w.layout.gpus != r.layout.gpus {
      return "fewer GPUs: \(Format.grouped(w.layout.gpus)) vs \(Format.grouped(r.layout.gpus))"
    }
    var best: (term: IterationTime.Term, saving: Double)? = nil
    for term in IterationTime.Term.allCases
    where term != .contextParallelComm || r.iteration.contextParallel.value > 0 {
      let saving = r.iteration[term].value - w.iteration[term].value
      if saving > (best?.saving ?? 0) { best = (term, saving) }
    }
    guard let term = best?.term else {
      return w.seconds == r.seconds
        ? "same estimated time; simpler layout"
        : "faster: \(Format.seconds(w.seconds)) vs \(Format.seconds(r.seconds)) per iteration"
    }
    let a = w.iteration[term].value, b = r.iteration[term].value
    let phrase: String
    switch term {
    case .pipelineBubble:
      let (x, y) = (w.iteration.bubbleFraction, r.iteration.bubbleFraction)
      return "smaller pipeline bubble: \(Format.percent(x)) vs \(Format.percent(y))"
    case .forward: phrase = "less forward compute"
    case .backward: phrase = "less backward compute"
    case .recompute: phrase = "less recompute"
    case .tensorParallelComm: phrase = "less tensor-parallel communication"
    case .expertParallelComm: phrase = "less expert-parallel (MoE all-to-all) communication"
    case .contextParallelComm: phrase = "less context parallel comm"
    case .pipelineComm: phrase = "less pipeline communication"
    case .dataParallelComm: phrase = "less data-parallel communication"
    case .optimizer: phrase = "shorter optimizer step"
    }
    return "\(phrase): \(Format.fixed(a, 2)) s vs \(Format.fixed(b, 2)) s per iteration"
  }
}

extension LayoutSearch {
  /// How the search chooses an expert-parallel size (EP or ETP).
  public enum ExpertChoice: Sendable, Hashable {
    /// As the config being searched does.
    case asBase
    /// Every size the rules allow (EP), or 1 and t (ETP).
    case any
    case fixed(Int)
  }

  /// Whether candidates fully shard the data-parallel states (Megatron-FSDP).
  public enum ShardingChoice: String, Sendable, Hashable, CaseIterable {
    /// As the config being searched does.
    case asBase = "file"
    case on, off, any
  }
}
