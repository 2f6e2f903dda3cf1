/// The pipeline schedule, written once: how many microbatches each stage holds in flight and
/// how large the bubble is. Everything that depends on the schedule (activation memory, step
/// time, search) asks this type.
public struct PipelineSchedule: Sendable, Hashable {
  /// p
  public var stages: Int
  /// v, model chunks per GPU (1 = plain 1F1B)
  public var chunksPerStage: Int
  /// m, microbatches per iteration per pipeline
  public var microbatches: Int

  public init(stages: Int, chunksPerStage: Int, microbatches: Int) {
    self.stages = max(1, stages)
    self.chunksPerStage = max(1, chunksPerStage)
    self.microbatches = max(1, microbatches)
  }

  public init(_ layout: Layout) {
    self.init(
      stages: layout.pipeline, chunksPerStage: layout.virtualStages,
      microbatches: layout.microbatches)
  }

  /// Chunk-microbatches whose activations a stage holds at its peak (the end of warm-up, just
  /// before the first backward), each chunk holding L/(p·v) layers.
  ///
  /// - 1F1B (v = 1): stage i holds min(p − i, m) microbatches (N21 §2.2.1; K22 App. C:
  ///   "max(0, p − S)" outstanding backward steps, plus the one in flight).
  /// - Interleaved (v > 1): Megatron's warm-up is (p − i − 1)·2 + (v − 1)·p chunk-forwards
  ///   (`forward_backward_pipelining_with_interleaving`), plus one in flight, capped at m·v.
  ///   For stage 0 that is p·v + p − 1 chunks = L·(1 + (p − 1)/(p·v)) layers: K22 §4.2.3's factor.
  public func chunksInFlight(stage i: Int) -> Int {
    let p = stages, v = chunksPerStage, m = microbatches
    if v == 1 { return max(0, min(p - i, m)) }
    return max(0, min((p - i - 1) * 2 + (v - 1) * p + 1, m * v))
  }

  /// Microbatches in flight on stage i, counted in whole-stage equivalents (chunks in flight / v).
  /// For stage 0 interleaved: p + (p − 1)/v, which is how Megatron scales the embedding terms
  /// (MLM `compute_activation_memory`: × (1 + (p − 1)/(p·v)) on p microbatches).
  public func microbatchesInFlight(stage i: Int) -> Double {
    Double(chunksInFlight(stage: i)) / Double(chunksPerStage)
  }

  /// Microbatches of the last chunk on the last stage held at once: the output layer's
  /// activations live only between a microbatch's forward and its backward, which 1F1B runs
  /// back to back on the last stage (and so does the interleaved schedule for the last chunk).
  public var outputMicrobatchesInFlight: Int { 1 }

  /// Bubble time as a fraction of the ideal (bubble-free) time: (p − 1)/m for 1F1B and
  /// (1/v)·(p − 1)/m interleaved (N21 §2.2.1, §2.2.2).
  public var bubbleFraction: Double {
    Double(stages - 1) / (Double(chunksPerStage) * Double(microbatches))
  }
}
