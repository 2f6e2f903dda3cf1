import Foundation

/// The space and its evaluation. Enumeration order (each level counts its divisibility cuts):
///
/// Each GPU count is searched on the run a config with that count would load to: nodes of
/// `nodeShape(gpus:devicesPerNode:)`, whose NVLink domain is min(node, profile); each t with the
/// vocabulary padded for it (`TrainingRun.with(layout:)`).
///
/// 1. t in 1 … the NVLink domain (1 … GPUs with `allowCrossNodeTensor`), or the fixed t:
///    t ∤ heads → `tensor_does_not_divide_heads`; a fixed t above a node → `tensor_exceeds_node`.
/// 1b. cp in 1 … GPUs/t, or the fixed cp (`contextChoices`): cp > 1 without fused attention →
///    `context_needs_fused_attention`; 2·cp ∤ s, or s/cp < `minimumContextShard` →
///    `sequence_not_divisible_by_context`; with `a2a`, cp ∤ the heads or groups of a tensor-parallel
///    rank → `context_does_not_divide_heads`.
/// 2. p in 1 … L, or the fixed p: p ∤ L → `pipeline_does_not_divide_layers`;
///    t·cp·p ∤ GPUs → `gpus_not_divisible`; then d = GPUs/(t·cp·p), and d ∤ B →
///    `batch_not_divisible`.
/// 3. b in 1 … B/d, or the fixed b: b ∤ B/d → `batch_not_divisible`.
/// 4. v in 1 … L/p (only 1 when p = 1), or the fixed v: v ∤ L/p →
///    `virtual_does_not_divide_layers`; v > 1 with p = 1 (fixed v) → `virtual_without_pipeline`;
///    v > 1 with m = B/(b·d) not a multiple of p → `interleaved_microbatches`.
/// 5. A work unit (t, p, d, b, v) expands to complete layouts: SP off/on (off only when t = 1),
///    recompute none, selective, full (uniform, 1) and partial full (block, k = 1 … Lc − 1,
///    Lc = L/(p·v)), DO off/on (off only when d = 1). Each is checked for memory, and timed only
///    when it fits.
extension LayoutSearch {
  struct Unit: Sendable, Hashable {
    var t: Int, p: Int, d: Int, b: Int, v: Int
    var cp: Int = 1
    /// How the layers are split over the p stages (with v chunks each).
    var split: PipelineSplit = .even
  }

  struct GroupKey: Sendable, Hashable {
    var t: Int, b: Int, sp: Bool
    var cp: Int = 1
    /// EP and ETP (MoE models; the file's for a dense one).
    var ep: Int = 1, etp: Int = 1
  }

  /// The smallest s/cp the search tries (Megatron-Core sets no bound): below it a ring step's
  /// attention is too short to hide its send, and context parallelism only adds traffic.
  public static let minimumContextShard = 1024

  /// The context-parallel sizes to try with tensor-parallel size `t`, with the cuts counted.
  static func contextChoices(
    _ base: TrainingRun, t: Int, gpus: Int, fixed: Int?, tally: inout Tally
  ) -> [Int] {
    let m = base.model, s = m.sequenceLength
    // Without fused attention, or for an encoder–decoder model, cp is no dimension at all
    // (unless fixed: then a cut).
    guard m.fusedAttention, m.encoderDecoder == nil else {
      if let fixed, fixed > 1 {
        tally.reject(.contextNeedsFusedAttention)
        return []
      }
      return [1]
    }
    var out: [Int] = []
    for cp in divisorsOrRange(fixed, upTo: max(1, gpus / t)) {
      if cp == 1 {
        out.append(cp)
        continue
      }
      // Only the divisors of GPUs/t are sizes at all; a fixed one that is not is a cut.
      if (gpus / t) % cp != 0 {
        if fixed != nil { tally.reject(.gpusNotDivisible) }
        continue
      }
      if s % (2 * cp) != 0 || (fixed == nil && s / cp < minimumContextShard) {
        tally.reject(.sequenceNotDivisibleByContext)
        continue
      }
      let (a2a, _) = base.layout.contextParallelComm.levels(cp: cp)
      if a2a > 1 && ((m.heads / t) % a2a != 0 || (m.queryGroups / t) % a2a != 0) {
        tally.reject(.contextDoesNotDivideHeads)
        continue
      }
      out.append(cp)
    }
    return out
  }

  /// The (EP, ETP) pairs a unit of t and d can take: for an MoE model, EP dividing the experts
  /// and ETP · EP dividing t · d (Megatron-Core's rules, `Layout.violations`), from the
  /// constraints; for a dense model, the file's (they change nothing).
  static func expertChoices(_ base: TrainingRun, t: Int, d: Int, constraints c: Constraints)
    -> [(ep: Int, etp: Int)]
  {
    let file = base.layout
    let fileETP = file.expertTensorParallel == file.tensor ? t : file.expertTensorParallel
    guard let experts = base.model.moe else { return [(file.expertParallel, fileETP)] }
    var etps: [Int]
    switch c.expertTensorParallel {
    case .asBase: etps = [fileETP]
    case .any: etps = t == 1 ? [1] : [1, t]
    case .fixed(let n): etps = [n]
    }
    if experts.expertFFN > 0 { etps = etps.filter { experts.expertFFN % $0 == 0 } }
    var eps: [Int]
    switch c.expertParallel {
    case .asBase: eps = [file.expertParallel]
    case .any: eps = (1...experts.experts).filter { experts.experts % $0 == 0 }
    case .fixed(let n): eps = [n]
    }
    var out: [(Int, Int)] = []
    for etp in etps where etp > 0 {
      for ep in eps where ep > 0 && experts.experts % ep == 0 && (t * d) % (ep * etp) == 0 {
        out.append((ep, etp))
      }
    }
    return out
  }

  /// The pipeline split of a candidate with p stages and v chunks: the file's when it has the
  /// file's p (and, for a flexible layout, the file's v), else even.
  /// An encoder–decoder model always splits at a rank: the file's at the file's p, else NeMo's
  /// default ⌊p/2⌋ (`pipeline_model_parallel_split_rank: ${divide_floor:${.pipeline_model_
  /// parallel_size}, 2}` in the launcher's T5 files).
  static func split(_ base: TrainingRun, p: Int, v: Int) -> PipelineSplit {
    split(base.layout, p: p, v: v)
  }

  static func split(_ file: Layout, p: Int, v: Int) -> PipelineSplit {
    if let encoder = file.split.encoderLayers {
      let rank = p == file.pipeline ? (file.split.encoderStages ?? p / 2) : p / 2
      return .encoderDecoder(encoderLayers: encoder, splitRank: rank)
    }
    guard !file.split.isEven, p == file.pipeline else { return .even }
    if file.split.chunkLayers != nil && v != file.virtualStages { return .even }
    return file.split
  }

  /// The run for GPU count `gpus` and tensor-parallel size `t` (layout aside): the vocabulary
  /// padded for t and the node shape of the count, through `TrainingRun.with(layout:)`. It keeps
  /// the file's full sharding, EP and ETP (`Layout.inheritSharding`), which every candidate
  /// built from it inherits in turn.
  static func run(_ base: TrainingRun, gpus: Int, t: Int) -> TrainingRun {
    var layout = Layout(
      tensor: t, pipeline: 1, data: max(1, gpus / max(1, t)), microBatch: 1,
      globalBatch: base.layout.globalBatch)
    layout.inheritSharding(from: base.layout)
    return base.with(layout: layout)
  }

  /// Megatron-Core's uneven splits of L layers over p stages that p does not divide, before
  /// interleaving (`unevenSplit(_:layers:stages:virtual:)` applies v): the embedding and/or the
  /// loss counted as a layer (`account_for_embedding_in_pipeline_split`,
  /// `account_for_loss_in_pipeline_split`: (L + 2)/p or (L + 1)/p layers a stage, one fewer on
  /// the first and/or the last), and the first and last stage's counts
  /// (`num_layers_in_first_pipeline_stage`, `num_layers_in_last_pipeline_stage`) with ⌈L/p⌉ on
  /// every middle stage and the remainder r = L − (p − 2)·⌈L/p⌉ halved over the first and last
  /// (the first the lighter). A split whose stage counts repeat an earlier one's is left out (it
  /// would be the same layout). Empty when p divides L, p < 2, or no split gives every stage a
  /// layer.
  static func unevenSplits(layers L: Int, stages p: Int) -> [PipelineSplit] {
    guard p >= 2, L % p != 0, L >= p else { return [] }
    var out: [PipelineSplit] = []
    var seen: Set<[Int]> = []
    func offer(_ split: PipelineSplit) {
      let counts = [0, 1, p - 1].map { split.layers(onStage: $0, of: L, stages: p) }
      guard counts.allSatisfy({ $0 >= 1 }), split.problem(layers: L, stages: p, virtual: 1) == nil,
        seen.insert(counts).inserted
      else { return }
      out.append(split)
    }
    offer(PipelineSplit(embeddingCountsAsLayer: true, lossCountsAsLayer: true))
    offer(PipelineSplit(embeddingCountsAsLayer: true))
    offer(PipelineSplit(lossCountsAsLayer: true))
    if p >= 3 {
      let k = (L + p - 1) / p, r = L - (p - 2) * k
      if r >= 2 && r <= 2 * k {
        let half = r / 2
        offer(PipelineSplit(firstStageLayers: half, lastStageLayers: r - half))
      }
    }
    return out
  }

  /// `split` with v chunks a stage, as a config with those keys loads it: accounting with v > 1
  /// becomes the flexible layout Megatron-Core builds from it (`asFlexibleLayout`); first/last
  /// counts need v to divide every stage's layers. nil when the split cannot take v.
  static func unevenSplit(
    _ split: PipelineSplit, layers L: Int, stages p: Int, virtual v: Int, mtp: Bool = false
  ) -> PipelineSplit? {
    guard v > 1 else { return split }
    if split.firstStageLayers == nil && split.lastStageLayers == nil {
      // A flexible layout must place MTP layers (`ConfigLoader`): not generated for them.
      guard !mtp else { return nil }
      return split.asFlexibleLayout(layers: L, stages: p, virtual: v).flatMap {
        ($0.chunkLayers ?? []).allSatisfy { $0 >= 1 } ? $0 : nil
      }
    }
    return split.problem(layers: L, stages: p, virtual: v) == nil ? split : nil
  }

  static func divisorsOrRange(_ fixed: Int?, upTo n: Int) -> ClosedRange<Int> {
    if let fixed { return fixed...fixed }
    return 1...max(1, n)
  }

  /// Work units of one GPU count, with the divisibility cuts counted into `tally`.
  static func units(_ base: TrainingRun, gpus: Int, constraints c: Constraints, tally: inout Tally)
    -> [Unit]
  {
    let m = base.model, B = base.layout.globalBatch, L = m.layers
    let node = run(base, gpus: gpus, t: 1).gpu.gpusPerNode
    var out: [Unit] = []
    let tMax = c.allowCrossNodeTensor ? gpus : min(node, gpus)
    // The uneven splits of each p, found once per search (they depend on p and L only).
    var unevenByStages: [Int: [PipelineSplit]] = [:]
    for t in divisorsOrRange(c.tensor, upTo: tMax) {
      if !c.allowCrossNodeTensor && t > node { tally.reject(.tensorExceedsNode); continue }
      if m.heads % t != 0 || (m.encoderDecoder.map { $0.encoder.heads % t != 0 } ?? false) {
        tally.reject(.tensorDoesNotDivideHeads)
        continue
      }
      for cp in contextChoices(base, t: t, gpus: gpus, fixed: c.contextParallel, tally: &tally) {
        for p in divisorsOrRange(c.pipeline, upTo: L) {
          let keepsSplit =
            !base.layout.split.isEven
            && (p == base.layout.pipeline || base.layout.split.encoderLayers != nil)
          // Where p does not divide L: Megatron-Core's uneven splits (unless the file's is kept).
          var uneven: [PipelineSplit] = []
          if L % p != 0 && !keepsSplit && c.unevenSplits {
            if let known = unevenByStages[p] {
              uneven = known
            } else {
              uneven = unevenSplits(of: m, stages: p)
              unevenByStages[p] = uneven
            }
          }
          if L % p != 0 && !keepsSplit && uneven.isEmpty {
            tally.reject(.pipelineDoesNotDivideLayers)
            continue
          }
          if gpus % (t * cp * p) != 0 { tally.reject(.gpusNotDivisible); continue }
          let d = gpus / (t * cp * p)
          if B % d != 0 { tally.reject(.batchNotDivisible); continue }
          for b in divisorsOrRange(c.microBatch, upTo: B / d) {
            if (B / d) % b != 0 { tally.reject(.batchNotDivisible); continue }
            let microbatches = B / (b * d)
            // An uneven split's chunks hold about (L + 2)/(p·v) layers.
            let vMax = p == 1 ? 1 : uneven.isEmpty ? L / p : (L + 2) / p
            for v in divisorsOrRange(c.virtualStages, upTo: vMax) {
              if v > 1 && p == 1 { tally.reject(.virtualWithoutPipeline); continue }
              var splits: [PipelineSplit] = []
              if !uneven.isEmpty {
                splits = uneven.compactMap {
                  unevenSplit($0, layers: L, stages: p, virtual: v, mtp: m.mtpLayers > 0)
                }
                if splits.isEmpty {
                  tally.reject(.virtualDoesNotDivideLayers)
                  continue
                }
              } else {
                // The file's uneven split or flexible layout, kept at the file's p (and v).
                let kept = split(base, p: p, v: v)
                if !kept.isEven {
                  if kept.problem(layers: L, stages: p, virtual: v) != nil {
                    tally.reject(
                      v > 1 ? .virtualDoesNotDivideLayers : .pipelineDoesNotDivideLayers)
                    continue
                  }
                } else if (L / p) % v != 0 || L % p != 0 {
                  tally.reject(.virtualDoesNotDivideLayers)
                  continue
                }
                splits = [kept]
              }
              if v > 1 && microbatches % p != 0 { tally.reject(.interleavedMicrobatches); continue }
              for split in splits {
                out.append(Unit(t: t, p: p, d: d, b: b, v: v, cp: cp, split: split))
              }
            }
          }
        }
      }
    }
    return out
  }

  static func sequenceParallelChoices(t: Int, _ choice: SequenceParallelChoice) -> [Bool] {
    guard t > 1 else { return [false] }
    switch choice {
    case .on: return [true]
    case .off: return [false]
    case .any: return [false, true]
    }
  }

  static func distributedOptimizerChoices(d: Int, _ choice: Bool?) -> [Bool] {
    guard d > 1 else { return [false] }
    if let choice { return [choice] }
    return [false, true]
  }

  /// How the data-parallel group shards the states: (distributed optimizer, full sharding).
  /// Full sharding (Megatron-FSDP) is a third choice beside plain data parallelism and the
  /// distributed optimizer, when d > 1 and the constraints allow it.
  static func shardingChoices(d: Int, _ constraints: Constraints, base: Bool) -> [(Bool, Bool)] {
    let dos = distributedOptimizerChoices(d: d, constraints.distributedOptimizer).map {
      ($0, false)
    }
    guard d > 1 else { return dos }
    switch constraints.fullySharded {
    case .on: return [(false, true)]
    case .off: return dos
    case .any: return dos + [(false, true)]
    case .asBase: return base ? [(false, true)] : dos
    }
  }

  /// Recompute settings of one granularity for chunks of `lc` layers.
  static func recomputeChoices(_ g: Granularity, layersPerChunk lc: Int, partial: Bool = true)
    -> [Recompute]
  {
    switch g {
    case .none: return [.none]
    case .selective: return [.selective]
    case .full:
      return [.full(method: .uniform, layers: 1)]
        + (partial ? (1..<max(1, lc)).map { .full(method: .block, layers: $0) } : [])
    }
  }

  static func layout(
    _ u: Unit, globalBatch: Int, sp: Bool, recompute: Recompute, distributedOptimizer: Bool,
    base: Layout? = nil, experts: (ep: Int, etp: Int)? = nil
  ) -> Layout {
    var l = Layout(
      tensor: u.t, pipeline: u.p, data: u.d, virtualStages: u.v, microBatch: u.b,
      globalBatch: globalBatch,
      sequenceParallel: sp, recompute: recompute, distributedOptimizer: distributedOptimizer,
      contextParallel: u.cp)
    l.split = u.split
    if let base { l.inheritSharding(from: base) }
    if let experts {
      l.expertParallel = experts.ep
      l.expertTensorParallel = experts.etp
    }
    return l
  }

  /// The layer costs of one shard (t, b, SP, cp, EP, ETP), through the evaluator every command
  /// uses (`Evaluator.costs`): computed once and shared by every layout of the shard.
  static func group(_ base: TrainingRun, _ key: GroupKey, file: Layout) -> ShardCosts {
    // `base` is already the run of this GPU count; only the vocabulary follows t. `file` is the
    // loaded layout, whose sharding and recompute modules candidates keep.
    var l = Layout(
      tensor: key.t, microBatch: key.b, globalBatch: base.layout.globalBatch,
      sequenceParallel: key.sp, contextParallel: key.cp)
    l.inheritSharding(from: file)
    l.expertParallel = key.ep
    l.expertTensorParallel = key.etp
    return Evaluator(base).costs(l)
  }

  /// Shard costs (`ShardCosts`) of one run, by shard and node size (the NVLink domain a GPU
  /// count's nodes give): what the searches of `fastest` and `size` share. Read and written
  /// only between the parallel parts of `searchOneCount`.
  final class GroupCache: @unchecked Sendable {
    struct Key: Hashable {
      var group: GroupKey
      var node: Int
    }
    var costs: [Key: ShardCosts] = [:]
    init() {}
  }

  static func searchOneCount(
    _ loaded: TrainingRun, gpus: Int, options: Options, cache: GroupCache? = nil
  ) -> Tally {
    let objective = options.objective
    var tally = Tally(top: options.top)
    var ordered = units(loaded, gpus: gpus, constraints: options.constraints, tally: &tally)
    switch options.order {
    case .forward: break
    case .reversed: ordered.reverse()
    case .shuffled(let seed):
      var rng = SplitMix64(seed: seed)
      ordered.shuffle(using: &rng)
    }
    let units = ordered
    let threads = max(1, options.threads ?? ProcessInfo.processInfo.activeProcessorCount)

    // Level 1: per (t, b, SP), in parallel; read-only afterwards.
    var keys: [GroupKey] = []
    var seen = Set<GroupKey>()
    for u in units {
      for sp in sequenceParallelChoices(t: u.t, options.constraints.sequenceParallel) {
        for x in expertChoices(loaded, t: u.t, d: u.d * u.cp, constraints: options.constraints) {
          let key = GroupKey(t: u.t, b: u.b, sp: sp, cp: u.cp, ep: x.ep, etp: x.etp)
          if seen.insert(key).inserted { keys.append(key) }
        }
      }
    }
    let node = run(loaded, gpus: gpus, t: 1).gpu.gpusPerNode
    let missing = keys.filter { cache?.costs[GroupCache.Key(group: $0, node: node)] == nil }
    let groupList = parallelMap(missing, threads: threads) {
      group(run(loaded, gpus: gpus, t: $0.t), $0, file: loaded.layout)
    }
    var found = Dictionary(uniqueKeysWithValues: zip(missing, groupList))
    if let cache {
      for (key, costs) in found { cache.costs[GroupCache.Key(group: key, node: node)] = costs }
      for key in keys where found[key] == nil {
        found[key] = cache.costs[GroupCache.Key(group: key, node: node)]
      }
    }
    let groups = found

    // Level 2: work units in contiguous chunks, each with its own tally, merged in chunk order
    // (the merge is order-independent anyway: counts add, the ranking is a total order).
    let chunkCount = min(units.count, threads == 1 ? 1 : threads * 8)
    guard chunkCount > 0 else { return tally }
    let chunks = (0..<chunkCount).map { i in
      units.count * i / chunkCount..<units.count * (i + 1) / chunkCount
    }
    let tallies = parallelMap(chunks, threads: threads) { range in
      var local = Tally(top: options.top)
      for i in range {
        let u = units[i]
        evaluate(
          run(loaded, gpus: gpus, t: u.t), u, file: loaded, groups: groups, options: options,
          into: &local)
      }
      return local
    }
    for local in tallies { tally.merge(local, objective: objective) }
    return tally
  }

  /// Every complete layout of one work unit.
  /// `base` is the run of the unit's GPU count and t; `file` the run as loaded (whose layout's
  /// sharding, EP, ETP, recompute modules and split candidates keep).
  static func evaluate(
    _ base: TrainingRun, _ u: Unit, file: TrainingRun, groups: [GroupKey: ShardCosts],
    options: Options, into tally: inout Tally
  ) {
    // Megatron-Core builds the expert groups from t·cp·d ranks (`Layout.violations`).
    for x in expertChoices(file, t: u.t, d: u.d * u.cp, constraints: options.constraints) {
      evaluate(
        base, u, file: file.layout, experts: x, groups: groups, options: options, into: &tally)
    }
  }

  /// Every complete layout of one work unit with one (EP, ETP), scored by `Evaluator.score` on
  /// the costs of its shard.
  static func evaluate(
    _ base: TrainingRun, _ u: Unit, file: Layout, experts x: (ep: Int, etp: Int),
    groups: [GroupKey: ShardCosts], options: Options, into tally: inout Tally
  ) {
    let m = base.model, B = base.layout.globalBatch
    let lc = max(1, m.layers / (u.p * u.v))
    let evaluator = Evaluator(base)
    let tokensPerIteration = evaluator.tokensPerIteration(base.layout)
    let deadline: Double? = options.objective == .gpus ? options.maxDays : nil
    // DeepSpeed's BF16 optimizer always shards the states (no plain choice, no FSDP).
    let dos =
      base.software.deepSpeedBF16Optimizer
      ? [(u.d > 1, false)] : shardingChoices(d: u.d, options.constraints, base: file.fullySharded)
    for sp in sequenceParallelChoices(t: u.t, options.constraints.sequenceParallel) {
      guard let costs = groups[GroupKey(t: u.t, b: u.b, sp: sp, cp: u.cp, ep: x.ep, etp: x.etp)]
      else {
        continue
      }
      // With SP the cp ranks' s/cp tokens must split over t (both stacks' for an
      // encoder–decoder model).
      if sp && u.cp > 1 && (m.sequenceLength / u.cp) % u.t != 0 { continue }
      if sp, let ed = m.encoderDecoder,
        ed.encoderSequence % u.t != 0 || m.sequenceLength % u.t != 0
      {
        continue
      }
      for g in Granularity.allCases where options.constraints.recompute.contains(g) {
        for recompute in recomputeChoices(
          g, layersPerChunk: lc, partial: options.constraints.partialRecompute)
        {
          var l = layout(
            u, globalBatch: B, sp: sp, recompute: recompute, distributedOptimizer: false,
            base: file, experts: x)
          // Megatron-Core: MoE and the tensor-parallel overlap with t > 1 need SP.
          if (m.moe != nil || base.overlap.tensorParallel) && u.t > 1 && !sp { continue }
          // The candidate stages' layers and activations, shared by the sharding choices.
          var planned = evaluator.plans(l, costs: costs)
          for (dOpt, fsdp) in dos {
            l.distributedOptimizer = dOpt
            l.fullySharded = fsdp
            let score = evaluator.score(l, costs: costs, resharding: &planned)
            guard score.fits, let seconds = score.seconds else {
              tally.miss(l, peak: score.peakBytes)
              continue
            }
            tally.feasible += 1
            let tps = tokensPerIteration / seconds
            var meets = false
            if let deadline, let tokens = base.trainTokens {
              meets = tokens / tokensPerIteration * seconds / 86_400 <= deadline
            }
            tally.offer(
              Scored(layout: l, seconds: seconds, tokensPerSecond: tps, meetsDeadline: meets),
              objective: options.objective)
          }
        }
      }
    }
  }

  /// `transform` over `items` on up to `threads` threads, results in input order.
  static func parallelMap<T: Sendable, R: Sendable>(
    _ items: [T], threads: Int, _ transform: @Sendable (T) -> R
  ) -> [R] {
    if threads <= 1 || items.count <= 1 { return items.map(transform) }
    let results = UnsafeMutableBufferPointer<R?>.allocate(capacity: items.count)
    results.initialize(repeating: nil)
    defer {
      // Release the results the buffer still holds (compactMap copied them out), then free it.
      _ = results.deinitialize()
      results.deallocate()
    }
    nonisolated(unsafe) let out = results
    DispatchQueue.concurrentPerform(iterations: items.count) { i in out[i] = transform(items[i]) }
    return results.compactMap { $0 }  // every slot was written
  }
}

/// A small seeded generator for reproducible shuffles (tests).
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
