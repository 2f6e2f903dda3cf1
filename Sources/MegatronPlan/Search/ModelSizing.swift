import Foundation

/// `megaplan size`: the largest model of a family that trains its token budget within a
/// deadline on a cluster — NeMo's auto-configurator's "model size recommendation", with the
/// layout search in place of its fixed TFLOP/s per GPU. Design note: docs/sizing.md.
///
/// The family's `ladder` orders its models by size; it is the same for every cluster. A rung
/// trains in time on a cluster of N GPUs when some usable count c ≤ N (`gpuCounts`: one fixed set
/// of counts, cut at N) has a layout that fits (`LayoutSearch.fastest` with each (t, p) at the
/// batch nearest the recipe's) and finishes within the deadline. The answer is found by
/// bisection over the ladder, about log₂(rungs) rung classifications; the answer and the next
/// size are then timed by their fastest layout over every usable count.
///
/// Monotone by construction in the deadline, the token budget and the GPUs. Bisection over one
/// ladder is a monotone map from the vector of per-rung answers to its result (the first probe
/// where two vectors differ sends the one with "yes" above it and the other below it). A later
/// deadline (or fewer tokens per parameter) only turns "no" into "yes", rung by rung; so does a
/// larger cluster, whose usable counts include every count of a smaller one. So more days or
/// more GPUs never yield a smaller model.
///
/// The bisection finds the largest rung when "trains in time" holds for every rung below it,
/// which is the family's premise: a larger rung has more parameters and (up to the few per cent
/// a wider, shallower rung saves in attention work) more FLOPs per token and more memory per
/// GPU, so it does not train faster. Where a rung's layer count admits fewer pipeline splits
/// than its neighbour's the premise can fail locally; the bisection then stops below that rung,
/// never above a rung that misses the deadline: the answer trains in time and the next size
/// does not, though a larger size past it may.
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
    /// Index into the family's ladder, which the bisection walks.
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
    /// `best` is the fastest over every usable count (the answer and the next size); otherwise
    /// the bisection stopped once the rung was classified, and `best` is the fastest of the
    /// counts searched (the first that met the deadline, or of those that could).
    public var complete: Bool = true
  }

  public struct Result: Sendable {
    public var request: Request
    /// Rungs of the family's ladder, which the bisection walks (the same for every cluster).
    public var ladderSize: Int
    /// The GPU counts each rung may be timed on (`gpuCounts(upTo:gpusPerNode:)`).
    public var gpuCounts: [Int]
    /// The largest rung that trains in time; nil when not even the smallest does.
    public var answer: Probe?
    /// The rung above the answer (or the smallest rung when there is no answer), which does not
    /// train in time; nil when the answer is the family's largest rung.
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
    // Even splits only: each family's layer counts are chosen so that p = 1, 2, 4, 8 divide
    // them (docs/sizing.md), and uneven splits would triple the search of every rung.
    var search = request.search
    search.constraints.unevenSplits = false
    if let f = request.search.maxMemoryFraction {
      base.memoryBudget = MemoryBudget(usableFraction: f)
    }
    let counts = gpuCounts(upTo: request.gpus, gpusPerNode: base.devicesPerNode)
    // The family's whole ladder, whatever the cluster: a ladder that depended on the GPUs would
    // move the bisection's probes with them, and the answer is monotone only over one ladder.
    let ladder = request.family.ladder(sequenceLength: request.sequenceLength)
    // Each rung's progress over the counts, largest first: the bisection only asks whether a
    // rung trains in time (it stops at the first count that does, and skips the counts that
    // cannot: c GPUs at their peak on the model FLOPs of a token are an upper bound on tokens/s,
    // so a count below the deadline's tokens/s, or below the best so far, is not searched); the
    // answer and the next size are then completed to their fastest layout over every count.
    struct Rung {
      var run: TrainingRun
      var parameters: Double
      var tokens: Double
      /// Tokens/s of c GPUs at their peak, per GPU: c × this bounds any layout of c GPUs.
      var ceilingPerGPU: Double
      /// Index of the next count to look at.
      var next = 0
      var best: LayoutSearch.Candidate? = nil
      var reasons: [String] = []
      var complete = false
      /// The shard costs its searches share.
      var cache = LayoutSearch.GroupCache()
    }
    var rungs: [Int: Rung] = [:]
    var order: [Int] = []
    var layouts = 0
    func meets(_ best: LayoutSearch.Candidate?) -> Bool {
      best?.evaluation.days.map { $0 <= request.days } ?? false
    }
    func probe(_ i: Int, complete: Bool = false) throws -> Probe {
      var rung: Rung
      if let known = rungs[i] {
        rung = known
      } else {
        var run = request.family.run(ladder[i], base: base, batchTokens: request.batchTokens)
        let parameters = ParameterCount.total(run.model).total.value
        let tokens = request.budget.tokens(parameters: parameters)
        run.trainTokens = tokens
        let flopsPerToken =
          FLOPCount.model(run.model, globalBatch: 1).value / Double(run.model.sequenceLength)
        rung = Rung(
          run: run, parameters: parameters, tokens: tokens,
          ceilingPerGPU: run.gpu.peak(for: run.precision).value / flopsPerToken)
        order.append(i)
      }
      let needed = rung.tokens / (request.days * 86_400)
      while rung.next < counts.count {
        let gpus = counts[rung.next]
        let ceiling = Double(gpus) * rung.ceilingPerGPU
        if !complete && (meets(rung.best) || ceiling < needed) { break }
        rung.next += 1
        if let b = rung.best, ceiling < b.evaluation.tokensPerSecond { continue }
        let f = try LayoutSearch.fastest(
          rung.run, gpus: gpus, rule: .nearest, options: search, cache: rung.cache)
        layouts += f.layouts
        if let why = f.reason { rung.reasons.append(why) }
        guard let c = f.best else { continue }
        // Fewest days, then fewer GPUs (counts are tried from the most down).
        if let b = rung.best,
          (b.evaluation.days ?? .infinity) < (c.evaluation.days ?? .infinity)
        {
          continue
        }
        rung.best = c
      }
      if complete { rung.complete = true }
      rungs[i] = rung
      var reason: String? = nil
      if rung.best == nil {
        let most = counts.first ?? 0
        let atPeak = rung.tokens / (Double(most) * rung.ceilingPerGPU) / 86_400
        reason =
          noLayoutReason(rung.reasons, counts: counts)
          ?? "even at the GPUs' peak (MFU 100%) its \(Format.count(rung.tokens)) tokens take \(Format.fixed(atPeak, 1)) days on \(Format.grouped(most)) GPUs"
      }
      return Probe(
        rung: i, shape: ladder[i], parameters: rung.parameters, tokens: rung.tokens,
        best: rung.best, reason: reason,
        meetsDeadline: meets(rung.best), complete: rung.complete)
    }
    // Invariant: rungs ≤ lo train in time (lo = −1: none known), rungs ≥ hi do not (hi = n).
    var lo = -1, hi = ladder.count
    while hi - lo > 1 {
      let mid = lo + (hi - lo) / 2
      if try probe(mid).meetsDeadline { lo = mid } else { hi = mid }
    }
    let answer = lo >= 0 ? try probe(lo, complete: true) : nil
    let next = hi < ladder.count ? try probe(hi, complete: true) : nil
    return Result(
      request: request, ladderSize: ladder.count, gpuCounts: counts, answer: answer, next: next,
      probes: try order.map { try probe($0) }, layouts: layouts)
  }

  /// Why a rung has no layout on the counts searched, largest first: the first count's memory
  /// reason (what a layout of it needs against the usable memory), else the first reason (a
  /// divisibility rule, never called memory).
  static func noLayoutReason(_ reasons: [String], counts: [Int]) -> String? {
    guard let first = reasons.first(where: { $0.hasPrefix("no layout of") }) ?? reasons.first
    else { return nil }
    return reasons.count > 1 ? first + " (nor on the fewer GPUs searched)" : first
  }

  /// Significant binary digits of the node counts a plan may use (`gpuCounts`).
  public static let countDigits = 5

  /// The GPU counts a plan for a cluster of `n` GPUs may use, largest first: every count of
  /// whole nodes whose node count has at most `countDigits` significant binary digits (a·2^k
  /// nodes, a < 32: all counts to 31 nodes, even ones to 62, multiples of 4 to 124, …), and below
  /// one node the GPU counts of that form, up to `n`. 10,000 GPUs in nodes of 8 (1,250 nodes)
  /// may use 9,728 (1,216 nodes), 9,216, 8,704, 8,192, 7,936, … : a plan leaves idle less than
  /// 1/16 of the nodes, which is what a user does when the full count's factors suit no layout
  /// (10,000 = 2⁴·5⁴ has no t·p = 128) or when the global batch cannot keep more pipelines busy.
  ///
  /// The set is one fixed set cut at `n`, so a cluster's counts include every count of any
  /// smaller cluster: a rung that trains in time on some cluster does on every larger one, and
  /// with one ladder for every cluster the bisection's answer is monotone in the GPUs by
  /// construction (docs/sizing.md).
  public static func gpuCounts(upTo n: Int, gpusPerNode: Int) -> [Int] {
    let node = max(1, gpusPerNode)
    func usable(_ units: Int) -> Bool {
      var a = units
      while a > 0 && a % 2 == 0 { a /= 2 }
      return a < 1 << countDigits
    }
    var out: [Int] = []
    var nodes = n / node
    while nodes >= 1 {
      if usable(nodes) { out.append(nodes * node) }
      nodes -= 1
    }
    for gpus in stride(from: min(n, node - 1), through: 1, by: -1) where usable(gpus) {
      out.append(gpus)
    }
    return out
  }
}
