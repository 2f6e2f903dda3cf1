import Foundation

/// `megaplan size`: the largest model of a family that trains its token budget within a
/// deadline on a cluster — NeMo's auto-configurator's "model size recommendation", with the
/// layout search in place of its fixed TFLOP/s per GPU. Design note: docs/sizing.md.
///
/// The family's `ladder` orders its models by size. Each rung is timed by its fastest layout
/// that fits (`LayoutSearch.fastest` with each (t, p) at the batch nearest the recipe's), and
/// "trains in time" is that layout's days ≤ the deadline. The answer is found by bisection over
/// the ladder, about log₂(rungs) searches.
///
/// Monotone by construction in the deadline and the token budget: bisection is a monotone map
/// from the vector of per-rung answers to its result (the first probe where two vectors differ
/// sends the one with "yes" above it and the other below it), and a later deadline (or fewer
/// tokens per parameter) only turns "no" into "yes", rung by rung. So more days never yield a
/// smaller model. The bisection finds the largest rung when "trains in time" holds for every rung
/// below it, which is the family's premise: a larger rung has more parameters and (up to the few
/// per cent a wider, shallower rung saves in attention work) more FLOPs per token and more memory
/// per GPU, so it does not train faster. Where a rung's layer count admits fewer pipeline splits
/// than its neighbour's the premise can fail locally; the bisection then stops below that rung,
/// never above a rung that misses the deadline. More GPUs: a cluster's GPU counts
/// (`gpuCounts`) include every power-of-two node count of any smaller cluster, so a rung that
/// trains in time on 2ᵏ nodes does so on every cluster of at least 2ᵏ nodes; beyond that, more
/// GPUs make each rung faster through more data-parallel replicas, which is the layout search's
/// answer, not a construction, and the tests check it over GPU counts.
public enum ModelSizing {
  /// Tokens to train: a fixed count, or a multiple of the model's parameters (Hoffmann et al.
  /// 2022, "Training Compute-Optimal Large Language Models": about 20 tokens per parameter).
  public enum TokenBudget: Sendable, Hashable {
    case tokens(Double)
    case perParameter(Double)

    public func tokens(parameters: Double) -> Double {
      switch self {
      case .tokens(let t): t
      case .perParameter(let k): k * parameters
      }
    }
  }

  public struct Request: Sendable {
    public var family: ModelFamily
    public var gpus: Int
    public var days: Double
    public var budget: TokenBudget
    public var gpu: GPU
    public var sequenceLength: Int
    /// Restrictions of every rung's search (the GPU count is `gpus`).
    public var search: LayoutSearch.Options
    /// Tokens per global batch; nil: the family's recipe (`ModelFamily.batchTokens`).
    public var batchTokens: Int? = nil

    public init(
      family: ModelFamily, gpus: Int, days: Double, budget: TokenBudget = .tokens(300e9),
      gpu: GPU = .a100_80GB, sequenceLength: Int? = nil, search: LayoutSearch.Options = .init()
    ) {
      self.family = family
      self.gpus = gpus
      self.days = days
      self.budget = budget
      self.gpu = gpu
      self.sequenceLength = sequenceLength ?? family.defaultSequenceLength
      self.search = search
    }
  }

  public enum SizingError: Error, Sendable, Hashable, CustomStringConvertible {
    case nonPositive(what: String, value: Double)
    case batchTooLarge(sequences: Int, limit: Int)

    public var description: String {
      switch self {
      case .nonPositive(let what, let value):
        "\(what) must be positive, found \(Format.fixed(value, value.rounded() == value ? 0 : 3))"
      case .batchTooLarge(let n, let limit):
        "--batch-tokens gives a global batch of \(Format.grouped(n)) sequences, above the \(Format.grouped(limit)) megaplan reads"
      }
    }
  }

  /// One rung timed.
  public struct Probe: Sendable {
    /// Index into the ladder the bisection walks (the family's, less `Result.excluded`).
    public var rung: Int
    public var shape: ModelShape
    public var parameters: Double
    public var tokens: Double
    /// The fastest layout that fits, evaluated (days for `tokens`); nil when none does.
    public var best: LayoutSearch.Candidate?
    /// Why no layout, when `best` is nil.
    public var reason: String?
    public var days: Double? { best?.evaluation.days }
    public var meetsDeadline: Bool
  }

  public struct Result: Sendable {
    public var request: Request
    /// Rungs of the family's ladder the bisection walks: those whose model states fit some
    /// layout of the GPUs (`statesFit`).
    public var ladderSize: Int
    /// Rungs left out because no layout of the GPUs holds their model states.
    public var excluded: Int
    /// The GPU counts each rung was timed on (`gpuCounts(upTo:gpusPerNode:)`).
    public var gpuCounts: [Int]
    /// The largest rung that trains in time; nil when not even the smallest does.
    public var answer: Probe?
    /// The rung above the answer (or the smallest rung when there is no answer), which does not
    /// train in time; nil when the answer is the ladder's top.
    public var next: Probe?
    /// Every rung timed, in the order the bisection asked.
    public var probes: [Probe]
    /// Layouts checked over all probes.
    public var layouts: Int
    public var atLadderTop: Bool { answer != nil && next == nil }
  }

  public static func largest(_ request: Request) throws -> Result {
    for (what, value) in [
      ("gpus", Double(request.gpus)), ("days", request.days),
      ("sequence length", Double(request.sequenceLength)),
      ("batch tokens", Double(request.batchTokens ?? 1)),
    ] where !(value > 0) {
      throw SizingError.nonPositive(what: what, value: value)
    }
    if let t = request.batchTokens, t / request.sequenceLength > ConfigLoader.maximumSize {
      throw SizingError.batchTooLarge(
        sequences: t / request.sequenceLength, limit: ConfigLoader.maximumSize)
    }
    switch request.budget {
    case .tokens(let t) where !(t > 0):
      throw SizingError.nonPositive(what: "tokens", value: t)
    case .perParameter(let k) where !(k > 0):
      throw SizingError.nonPositive(what: "tokens per parameter", value: k)
    default: break
    }
    var base = try request.family.baseRun(gpu: request.gpu, sequenceLength: request.sequenceLength)
    if let f = request.search.maxMemoryFraction {
      base.memoryBudget = MemoryBudget(usableFraction: f)
    }
    let counts = gpuCounts(upTo: request.gpus, gpusPerNode: base.devicesPerNode)
    let family = request.family.ladder(sequenceLength: request.sequenceLength)
    // Rungs that no layout of these GPUs can hold (their weights, gradients and optimizer state
    // alone exceed the usable memory at every t·p that divides the GPUs) are not candidates.
    let ladder = family.filter {
      let run = request.family.run($0, base: base, batchTokens: request.batchTokens)
      return counts.contains { statesFit(run, gpus: $0, search: request.search) }
    }
    var cache: [Int: Probe] = [:]
    var order: [Int] = []
    var layouts = 0
    func probe(_ i: Int) throws -> Probe {
      if let p = cache[i] { return p }
      var run = request.family.run(ladder[i], base: base, batchTokens: request.batchTokens)
      let parameters = ParameterCount.total(run.model).total.value
      let tokens = request.budget.tokens(parameters: parameters)
      run.trainTokens = tokens
      var best: LayoutSearch.Candidate? = nil
      var reason: String? = nil
      // No layout of c GPUs runs faster than c GPUs at their peak on the model FLOPs of a token
      // (MFU ≤ 1): a count below that bound cannot beat the best so far and is not searched.
      let flopsPerToken =
        FLOPCount.model(run.model, globalBatch: 1).value / Double(run.model.sequenceLength)
      let peak = run.gpu.peak(for: run.precision).value
      for gpus in counts {
        if let b = best, Double(gpus) * peak / flopsPerToken < b.evaluation.tokensPerSecond {
          continue
        }
        let f = try LayoutSearch.fastest(run, gpus: gpus, rule: .nearest, options: request.search)
        layouts += f.layouts
        if reason == nil { reason = f.reason }
        guard let c = f.best else { continue }
        // Fewest days, then fewer GPUs (counts are tried from the most down).
        if let b = best,
          (b.evaluation.days ?? .infinity) < (c.evaluation.days ?? .infinity)
        {
          continue
        }
        best = c
      }
      let days = best?.evaluation.days
      let p = Probe(
        rung: i, shape: ladder[i], parameters: parameters, tokens: tokens, best: best,
        reason: best == nil ? reason : nil, meetsDeadline: days.map { $0 <= request.days } ?? false)
      cache[i] = p
      order.append(i)
      return p
    }
    // Invariant: rungs ≤ lo train in time (lo = −1: none known), rungs ≥ hi do not (hi = n).
    var lo = -1, hi = ladder.count
    while hi - lo > 1 {
      let mid = lo + (hi - lo) / 2
      if try probe(mid).meetsDeadline { lo = mid } else { hi = mid }
    }
    return Result(
      request: request, ladderSize: ladder.count, excluded: family.count - ladder.count,
      gpuCounts: counts, answer: lo >= 0 ? cache[lo] : nil,
      next: hi < ladder.count ? try probe(hi) : nil, probes: order.compactMap { cache[$0] },
      layouts: layouts)
  }

  /// The GPU counts a plan for a cluster of `n` GPUs may use, largest first: all of them, `n`
  /// rounded down to a multiple of 2^k nodes for each k (10,000 GPUs in nodes of 8: 10,000,
  /// 9,984, 9,728, 9,216, 8,192), and every power-of-two number of nodes below (4,096, 2,048, …,
  /// 8). Leaving nodes idle is what a user does when the full count's factors suit no layout
  /// (10,000 = 2⁴·5⁴ has no t·p = 128 for a model of 2ᵏ layers) or when the global batch is too
  /// small to keep more pipelines busy. A cluster's counts include every power-of-two node
  /// count of any smaller cluster, so a rung that trains in time on 2ᵏ nodes does so on every
  /// cluster of at least 2ᵏ nodes.
  public static func gpuCounts(upTo n: Int, gpusPerNode: Int) -> [Int] {
    var out = [n]
    let node = max(1, gpusPerNode)
    var unit = node
    while unit <= n {
      let c = n / unit * unit
      if !out.contains(c) { out.append(c) }
      unit *= 2
    }
    unit = node
    while unit <= n {
      if !out.contains(unit) { out.append(unit) }
      unit *= 2
    }
    return out.sorted(by: >)
  }

  /// Whether some layout of `gpus` GPUs can hold the model states of `run`
  /// (`LayoutSearch.statesCanFit` for some (t, p)).
  static func statesFit(_ run: TrainingRun, gpus: Int, search: LayoutSearch.Options) -> Bool {
    LayoutSearch.tensorPipelinePairs(run, gpus: gpus, constraints: search.constraints).contains {
      LayoutSearch.statesCanFit(run, gpus: gpus, tensor: $0.0, pipeline: $0.1, search.constraints)
    }
  }
}
