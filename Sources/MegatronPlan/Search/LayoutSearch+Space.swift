import Foundation

/// The space and its evaluation. Enumeration order (each level counts its divisibility cuts):
///
/// Each GPU count is searched on the run a config with that count would load to: nodes of
/// `nodeShape(gpus:devicesPerNode:)`, whose NVLink domain is min(node, profile); each t with the
/// vocabulary padded for it (`TrainingRun.with(layout:)`).
///
/// 1. t in 1 … the NVLink domain (1 … GPUs with `allowCrossNodeTensor`), or the fixed t:
///    t ∤ heads → `tensor_does_not_divide_heads`; a fixed t above a node → `tensor_exceeds_node`.
/// 2. p in 1 … L, or the fixed p: p ∤ L → `pipeline_does_not_divide_layers`;
///    t·p ∤ GPUs → `gpus_not_divisible`; then d = GPUs/(t·p), and d ∤ B → `batch_not_divisible`.
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
  }

  struct GroupKey: Sendable, Hashable {
    var t: Int, b: Int, sp: Bool
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

  /// Per-layer quantities shared by every layout with the same t, b and SP.
  struct Group: Sendable {
    var times: StepTimeModel.LayerTimes
    /// `ActivationMemory.profile` by granularity (none, selective, full).
    var profiles: [ActivationMemory.LayerProfile]
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
    for t in divisorsOrRange(c.tensor, upTo: tMax) {
      if !c.allowCrossNodeTensor && t > node { tally.reject(.tensorExceedsNode); continue }
      if m.heads % t != 0 { tally.reject(.tensorDoesNotDivideHeads); continue }
      for p in divisorsOrRange(c.pipeline, upTo: L) {
        if L % p != 0 { tally.reject(.pipelineDoesNotDivideLayers); continue }
        if gpus % (t * p) != 0 { tally.reject(.gpusNotDivisible); continue }
        let d = gpus / (t * p)
        if B % d != 0 { tally.reject(.batchNotDivisible); continue }
        for b in divisorsOrRange(c.microBatch, upTo: B / d) {
          if (B / d) % b != 0 { tally.reject(.batchNotDivisible); continue }
          let microbatches = B / (b * d)
          for v in divisorsOrRange(c.virtualStages, upTo: p > 1 ? L / p : 1) {
            if v > 1 && p == 1 { tally.reject(.virtualWithoutPipeline); continue }
            if (L / p) % v != 0 { tally.reject(.virtualDoesNotDivideLayers); continue }
            if v > 1 && microbatches % p != 0 { tally.reject(.interleavedMicrobatches); continue }
            out.append(Unit(t: t, p: p, d: d, b: b, v: v))
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
    base: Layout? = nil
  ) -> Layout {
    var l = Layout(
      tensor: u.t, pipeline: u.p, data: u.d, virtualStages: u.v, microBatch: u.b,
      globalBatch: globalBatch,
      sequenceParallel: sp, recompute: recompute, distributedOptimizer: distributedOptimizer)
    if let base { l.inheritSharding(from: base) }
    return l
  }

  /// The per-layer quantities of one (t, b, SP): through the same functions `Estimate` uses.
  static func group(_ base: TrainingRun, _ key: GroupKey) -> Group {
    // `base` is already the run of this GPU count; only the vocabulary follows t.
    var l = Layout(
      tensor: key.t, microBatch: key.b, globalBatch: base.layout.globalBatch,
      sequenceParallel: key.sp)
    l.inheritSharding(from: base.layout)
    let times = StepTimeModel(
      model: base.model, layout: l, precision: base.precision, gpu: base.gpu,
      constants: base.constants, overlap: base.overlap
    ).layerTimes()
    var profiles: [ActivationMemory.LayerProfile] = []
    for g in Granularity.allCases {
      l.recompute =
        g == .none ? .none : g == .selective ? .selective : .full(method: .uniform, layers: 1)
      profiles.append(ActivationMemory.profile(base.model, l, precision: base.precision))
    }
    return Group(times: times, profiles: profiles)
  }

  static func searchOneCount(_ loaded: TrainingRun, gpus: Int, options: Options) -> Tally {
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
        let key = GroupKey(t: u.t, b: u.b, sp: sp)
        if seen.insert(key).inserted { keys.append(key) }
      }
    }
    let groupList = parallelMap(keys, threads: threads) {
      group(run(loaded, gpus: gpus, t: $0.t), $0)
    }
    let groups = Dictionary(uniqueKeysWithValues: zip(keys, groupList))

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
          run(loaded, gpus: gpus, t: u.t), u, groups: groups, options: options, into: &local)
      }
      return local
    }
    for local in tallies { tally.merge(local, objective: objective) }
    return tally
  }

  /// Every complete layout of one work unit.
  static func evaluate(
    _ base: TrainingRun, _ u: Unit, groups: [GroupKey: Group], options: Options,
    into tally: inout Tally
  ) {
    let m = base.model, B = base.layout.globalBatch
    let capacity = base.gpu.memory.value
    let lc = m.layers / (u.p * u.v)
    let last = u.p - 1
    // Parameters of the first and last stage (the others hold only their layers).
    let probe = layout(
      u, globalBatch: B, sp: false, recompute: .none, distributedOptimizer: false,
      base: base.layout)
    // MoE rules that depend on t and d (Layout.violations): skip what Megatron-Core refuses.
    if let experts = m.moe {
      let ep = probe.expertParallel, etp = probe.expertTensorParallel
      if experts.experts % ep != 0 || (u.t * u.d) % (ep * etp) != 0 { return }
    }
    let paramsFirst = ParameterCount.perGPU(m, probe, stage: 0)
    let paramsLast = last == 0 ? paramsFirst : ParameterCount.perGPU(m, probe, stage: last)
    let linearFirst = ParameterCount.linearPerGPU(m, probe, stage: 0)
    let linearLast = last == 0 ? linearFirst : ParameterCount.linearPerGPU(m, probe, stage: last)
    let layerParameters = ParameterCount.LayerParameters(m)
    // The steady state and the device peak of stage i, as `Estimate` computes them.
    func peak(
      _ l: Layout, _ i: Int, _ params: Breakdown<ParameterUnit>, _ linear: Parameters,
      _ activations: Bytes
    ) -> Double {
      let states = StateMemory.states(
        parameters: params.total, precision: base.precision, layout: l, linearParameters: linear,
        fp8: m.fp8, fp32Gradients: base.fp32Gradients,
        expertParameters: params["expert_layers"])
      let steady = states.total + activations
      return PeakMemory.terms(
        base, layout: l, stage: i, activationBytes: activations.value, layers: layerParameters
      ).device(steady: steady.value)
    }
    let tokensPerIteration = Double(B) * Double(m.sequenceLength)
    let deadline: Double? = options.objective == .gpus ? options.maxDays : nil
    let dos = shardingChoices(d: u.d, options.constraints, base: base.layout.fullySharded)
    for sp in sequenceParallelChoices(t: u.t, options.constraints.sequenceParallel) {
      guard let group = groups[GroupKey(t: u.t, b: u.b, sp: sp)] else { continue }
      for g in Granularity.allCases where options.constraints.recompute.contains(g) {
        let profile = group.profiles[g.order]
        for recompute in recomputeChoices(
          g, layersPerChunk: lc, partial: options.constraints.partialRecompute)
        {
          var l = layout(
            u, globalBatch: B, sp: sp, recompute: recompute, distributedOptimizer: false,
            base: base.layout)
          // Megatron-Core: MoE and the tensor-parallel overlap with t > 1 need SP.
          if (m.moe != nil || base.overlap.tensorParallel) && u.t > 1 && !sp { continue }
          // The most loaded stage is the first or the last: activations in flight do not grow
          // along the pipeline (PipelineSchedule.chunksInFlight decreases with the stage index),
          // every stage holds the same L/p layers' parameters, and only the first stage holds the
          // embedding (parameters and its dropout mask) and only the last the output layer and
          // logits. So a middle stage never needs more than the first.
          let act0 = ActivationMemory.stage(
            m, l, stage: 0, precision: base.precision, profile: profile
          ).total
          let actLast =
            last == 0
            ? act0
            : ActivationMemory.stage(m, l, stage: last, precision: base.precision, profile: profile)
              .total
          var times: StepTimeModel.LayerTimes? = nil
          for (dOpt, fsdp) in dos {
            l.distributedOptimizer = dOpt
            l.fullySharded = fsdp
            var total = peak(l, 0, paramsFirst, linearFirst, act0)
            if last > 0 { total = max(total, peak(l, last, paramsLast, linearLast, actLast)) }
            guard base.memoryBudget.fits(total: total, capacity: capacity) else {
              tally.reject(.memory)
              continue
            }
            tally.feasible += 1
            let model = StepTimeModel(
              model: m, layout: l, precision: base.precision, gpu: base.gpu,
              constants: base.constants, overlap: base.overlap)
            if times == nil { times = model.layerTimes(reusing: group.times) }
            let seconds = model.iteration(layers: times).total.value
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
