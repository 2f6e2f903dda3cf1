/// The data-parallel synchronisation of an iteration as Megatron-Core runs it
/// (`DistributedDataParallel`, `ParamAndGradBuffer`; Megatron-LM d98e8a64), and what of it
/// stays exposed:
/// - gradients live in buckets of `StepTimeModel.bucketParameters` (max(40 M, 1 M × d)
///   parameters), one set per model chunk, filled in backward order; on the first pipeline stage
///   each bucket's reduction (reduce-scatter with the distributed optimizer, else all-reduce) is
///   launched as soon as the last microbatch's backward has produced its gradients; later
///   stages reduce each chunk's gradients in one go when its backward ends (Megatron disables
///   bucketing there: those stages finish their backward earlier, so it is off the critical
///   path). Without `overlap_grad_reduce` each chunk's gradients are reduced in one call
///   after backward, all exposed;
/// - the reductions run one after another on one communication stream;
/// - the last microbatch's backward of chunk c on stage i ends (c·min(p, m) + i) chunk-backward
///   steps before the iteration's (the interleaved schedule's cool-down runs each chunk's p last
///   microbatches, last chunk first); what is still reducing when the first stage's backward
///   ends is exposed;
/// - with `overlap_param_gather` the updated weights are gathered bucket by bucket, all issued
///   at the start of the iteration, and a chunk's forward waits for its buckets: what the
///   gathers have not finished when a forward needs them stalls it. Without it the gathers run
///   after the optimizer step, exposed;
/// - expert weights (MoE) reduce over the expert data-parallel group in their own buckets, on
///   the same stream; the tied embedding's gradient is all-reduced between the first and the
///   last stage after backward.
/// Megatron-FSDP reduces and gathers per microbatch instead (`StepTimeModel.fullyShardedComm`).
public struct DataParallelSync: Sendable, Hashable {
  /// All the gradient reductions of the step, and what of them is exposed.
  public var reduce: Seconds = .zero
  public var reduceExposed: Seconds = .zero
  /// All the parameter all-gathers, and what of them is exposed.
  public var gather: Seconds = .zero
  public var gatherExposed: Seconds = .zero
  /// How NCCL runs a full bucket's reduction and gather (`.none` without them).
  public var reduceCollective: CollectiveTime = .none
  public var gatherCollective: CollectiveTime = .none
  /// Buckets per model chunk on the first stage (dense weights).
  public var bucketsPerChunk = 0

  public var exposed: Seconds { reduceExposed + gatherExposed }
}

extension Evaluator {
  /// The data-parallel synchronisation of `layout` (`DataParallelSync`) over its candidate
  /// stages, timed against `slowest` (the stage whose time sets the iteration): the worst
  /// stage's exposure.
  func dataParallelSync(
    _ layout: Layout, time: StepTimeModel, stages: [StagePlan], slowest: StageTime
  ) -> DataParallelSync {
    var worst = DataParallelSync()
    guard !layout.fullySharded else {
      // FSDP reduces per microbatch (`fullyShardedComm`); only the embedding is left here.
      let embedding = time.embeddingSync(embeddingParameters: embeddingShard(layout)).seconds
      worst.reduce = embedding
      worst.reduceExposed = embedding
      return worst
    }
    let m = Double(max(1, layout.microbatches))
    let v = max(1, layout.virtualStages)
    let steps = m * Double(v)
    // One chunk's forward and backward (with its recompute) for one microbatch.
    let chunkForward = slowest.forward.value / steps
    let chunkBackward = (slowest.backward + slowest.recompute).value / steps
    let spacing = Double(min(layout.pipeline, layout.microbatches))
    for plan in stages {
      let sync = dataParallelSync(
        layout, time: time, stage: plan, chunks: v, spacing: spacing,
        chunkForward: chunkForward, chunkBackward: chunkBackward)
      if plan.stage == stages[0].stage || sync.exposed > worst.exposed { worst = sync }
    }
    return worst
  }

  /// The tied word embedding's shard on one GPU (V·h/t), whose gradient the embedding group
  /// all-reduces.
  func embeddingShard(_ layout: Layout) -> Parameters {
    Parameters(Double(run.model.vocabulary) * Double(run.model.hidden) / Double(layout.tensor))
  }

  /// One stage's synchronisation (`DataParallelSync`).
  func dataParallelSync(
    _ layout: Layout, time: StepTimeModel, stage plan: StagePlan, chunks v: Int, spacing: Double,
    chunkForward f: Double, chunkBackward b: Double
  ) -> DataParallelSync {
    var out = DataParallelSync()
    let i = plan.stage
    let overlap = run.software.overlap
    // The dense and the expert weights, each over its own group, as chunks of buckets
    // (`ChunkBuckets`); two fixed slots, no array, as this runs once per stage of every layout
    // the search evaluates.
    func buckets(_ parameters: Double, _ group: Int) -> ChunkBuckets? {
      guard parameters > 0 && group > 1 else { return nil }
      let perChunk = parameters / Double(v)
      let bucket =
        overlap.gradientReduction && i == 0 ? time.bucketParameters(group: group) : perChunk
      let full = Int(perChunk / bucket), rest = perChunk - Double(full) * bucket
      let reduceFull = time.gradientReduction(parameters: bucket, group: group)
      let gatherFull = time.parameterGather(parameters: bucket, group: group)
      // A chunk that divides into whole buckets has no rest bucket to time.
      let hasRest = rest > 0
      let chunks = ChunkBuckets(
        chunks: v, stage: i, spacing: spacing, forward: f, backward: b, full: full,
        rest: hasRest, reduceFull: reduceFull.seconds.value,
        reduceRest: hasRest
          ? time.gradientReduction(parameters: rest, group: group).seconds.value : 0,
        gatherFull: gatherFull.seconds.value,
        gatherRest: hasRest ? time.parameterGather(parameters: rest, group: group).seconds.value : 0
      )
      if out.reduceCollective == .none {
        out.reduceCollective = reduceFull
        out.gatherCollective = gatherFull
        out.bucketsPerChunk = chunks.count
      }
      out.reduce += Seconds(chunks.reduceTotal)
      out.gather += Seconds(chunks.gatherTotal)
      return chunks
    }
    let dense = buckets(
      plan.parameters.total - plan.parameters.expert, layout.dataParallelWithContext)
    let expert = buckets(plan.parameters.expert, layout.expertData)
    // One group alone, or both sharing the stream.
    let single = dense == nil ? expert : (expert == nil ? dense : nil)
    // The tied embedding's all-reduce after backward (first and last stage).
    let embedding =
      i == 0 || i == layout.pipeline - 1
      ? time.embeddingSync(embeddingParameters: embeddingShard(layout)).seconds.value : 0
    if overlap.gradientReduction {
      // One communication stream, in order of readiness.
      var finish = -Double.infinity
      if let g = single {
        for c in (0..<v).reversed() {
          let (fullRun, restRun) = g.reductions(chunk: c)
          if let r = fullRun { finish = r.served(after: finish) }
          if let r = restRun { finish = r.served(after: finish) }
        }
      } else if let dense, let expert {
        // The dense and the expert buckets share the stream: each chunk's buckets of both
        // groups as one run spread over the same backward (`BucketRun.merging`).
        for c in (0..<v).reversed() {
          var merged = BucketRun.Merge()
          let (denseFull, denseRest) = dense.reductions(chunk: c)
          let (expertFull, expertRest) = expert.reductions(chunk: c)
          merged.add(denseFull)
          merged.add(denseRest)
          merged.add(expertFull)
          merged.add(expertRest)
          if let run = merged.run { finish = run.served(after: finish) }
        }
      }
      out.reduceExposed = Seconds(max(0, finish) + embedding)
    } else {
      out.reduceExposed = out.reduce + Seconds(embedding)
    }
    out.reduce += Seconds(embedding)
    if overlap.parameterGather {
      // Issued together at the start, run in order; a forward that needs an unfinished bucket
      // waits, and what follows shifts by the wait.
      var finish = 0.0, stall = 0.0
      if let g = single {
        for c in 0..<v {
          let (fullRun, restRun) = g.gathers(chunk: c)
          if let r = fullRun { (finish, stall) = r.stalls(finish: finish, stall: stall) }
          if let r = restRun { (finish, stall) = r.stalls(finish: finish, stall: stall) }
        }
      } else if let dense, let expert {
        for c in 0..<v {
          var merged = BucketRun.Merge()
          let (denseFull, denseRest) = dense.gathers(chunk: c)
          let (expertFull, expertRest) = expert.gathers(chunk: c)
          merged.add(denseFull)
          merged.add(denseRest)
          merged.add(expertFull)
          merged.add(expertRest)
          if let run = merged.run { (finish, stall) = run.stalls(finish: finish, stall: stall) }
        }
      }
      out.gatherExposed = Seconds(stall)
    } else {
      out.gatherExposed = out.gather
    }
    return out
  }
}

/// One group's buckets on one stage: each of the v model chunks holds `full` buckets of one size
/// and, when the chunk does not divide evenly, a smaller `rest` bucket, filled (reductions) or
/// needed (gathers) in layer order through the chunk's backward or forward.
struct ChunkBuckets {
  var chunks: Int
  var stage: Int
  var spacing: Double
  var forward: Double
  var backward: Double
  var full: Int
  var rest: Bool
  var reduceFull, reduceRest, gatherFull, gatherRest: Double

  var count: Int { full + (rest ? 1 : 0) }
  var reduceTotal: Double {
    Double(chunks) * (Double(full) * reduceFull + (rest ? reduceRest : 0))
  }
  var gatherTotal: Double {
    Double(chunks) * (Double(full) * gatherFull + (rest ? gatherRest : 0))
  }

  /// Chunk c's reductions: its last microbatch's backward ends (c·spacing + i) chunk steps
  /// before the first stage's, and bucket k is ready (k + 1)/K of the way through it, the rest
  /// bucket last. The last chunk's window closes first; windows do not overlap (spacing ≥ 1
  /// chunk step), so chunks from v − 1 down to 0 come in time order.
  func reductions(chunk c: Int) -> (full: BucketRun?, rest: BucketRun?) {
    let K = Double(count), b = backward
    let end = -(Double(c) * spacing + Double(stage)) * b
    return (
      full > 0
        ? BucketRun(first: end - b + b / K, spacing: b / K, count: full, seconds: reduceFull)
        : nil,
      rest ? BucketRun(first: end, seconds: reduceRest) : nil
    )
  }

  /// Chunk c's gathers: its first microbatch's forward starts (c·spacing + i) chunk steps into
  /// the iteration, and bucket k is needed k/K of the way through it.
  func gathers(chunk c: Int) -> (full: BucketRun?, rest: BucketRun?) {
    let K = Double(count), f = forward
    let start = (Double(c) * spacing + Double(stage)) * f
    return (
      full > 0 ? BucketRun(first: start, spacing: f / K, count: full, seconds: gatherFull) : nil,
      rest ? BucketRun(first: start + Double(full) / K * f, seconds: gatherRest) : nil
    )
  }

}

/// `count` buckets of one size on the data-parallel stream, each taking `seconds`, the first at
/// `first` and the rest `spacing` apart (a model chunk's full buckets: they fill, or are
/// needed, evenly through its backward or forward). A run is served in closed form — one
/// stream serving equal jobs at even spacing is a max-plus recurrence whose end is set by its
/// first or its last job — so a chunk of hundreds of buckets costs what one does.
struct BucketRun {
  var first: Double
  var spacing = 0.0
  var count = 1
  var seconds: Double

  var total: Double { Double(count) * seconds }

  /// Several runs of one chunk (the dense and the expert buckets, each evenly through the same
  /// backward or forward) as one: their buckets spread evenly from the first to the last, at
  /// their mean duration. The stream's total is exact; the order within the chunk, which only
  /// moves the tail by part of one bucket, is not followed bucket by bucket.
  struct Merge {
    var count = 0
    var first = Double.infinity, last = -Double.infinity, total = 0.0

    mutating func add(_ run: BucketRun?) {
      guard let run else { return }
      count += run.count
      first = min(first, run.first)
      last = max(last, run.first + Double(run.count - 1) * run.spacing)
      total += run.total
    }

    var run: BucketRun? {
      guard count > 0 else { return nil }
      return BucketRun(
        first: first, spacing: count > 1 ? (last - first) / Double(count - 1) : 0, count: count,
        seconds: total / Double(count))
    }
  }

  /// When the stream, busy until `busy`, finishes the run's reductions (each starts when it is
  /// ready and the one before has finished): max(busy, first) + count·seconds, or the last
  /// bucket's ready time + seconds when the stream keeps up.
  func served(after busy: Double) -> Double {
    let last = first + Double(count - 1) * spacing
    return max(max(busy, first) + total, last + seconds)
  }

  /// The gathers in the run, issued with everything before them at the start of the
  /// iteration: the stream has finished `finish` seconds of gathers, the forward has waited
  /// `stall` so far; bucket k (ready at finish + (k + 1)·seconds) is needed at first +
  /// k·spacing + the wait so far. The wait grows to the largest lateness, which is the first
  /// bucket's or the last one's.
  func stalls(finish: Double, stall: Double) -> (finish: Double, stall: Double) {
    let end = finish + total
    let firstLate = finish + seconds - first
    let lastLate = end - (first + Double(count - 1) * spacing)
    return (end, max(stall, firstLate, lastLate))
  }
}
