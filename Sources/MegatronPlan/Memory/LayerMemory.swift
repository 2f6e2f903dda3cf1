/// What one layer of one kind keeps for backward, for one microbatch on one GPU, under each
/// recompute granularity, and the most its backward holds above that: the memory part of a
/// layer's costs (`LayerCosts`), read from its description once per shard (t, b, SP, cp, EP,
/// ETP, the recompute modules) and shared by every stage and layout that has it.
public struct LayerMemory: Sendable, Hashable {
  /// Every saved tensor (K22 Table 2 without recompute; what full recompute rebuilds).
  public var full: Bytes
  /// What the layer keeps under selective recompute of the layout's modules.
  public var selective: Bytes
  /// The layer's checkpointed input (full recompute).
  public var checkpoint: Bytes
  /// The most a layer's backward holds above the steady state beside its incoming gradient
  /// (`LayerDescription.backwardPeak`) with the layer stored, stored under selective
  /// recompute, and rebuilt from its checkpoint.
  public var backwardPeakNone = 0.0
  public var backwardPeakSelective = 0.0
  public var backwardPeakFull = 0.0

  public init(
    full: Bytes, selective: Bytes, checkpoint: Bytes, backwardPeakNone: Double = 0,
    backwardPeakSelective: Double = 0, backwardPeakFull: Double = 0
  ) {
    self.full = full
    self.selective = selective
    self.checkpoint = checkpoint
    self.backwardPeakNone = backwardPeakNone
    self.backwardPeakSelective = backwardPeakSelective
    self.backwardPeakFull = backwardPeakFull
  }

  /// A layer's memory from its description: its saved tensors with and without the selective
  /// `modules`, and its backward walked op by op under each granularity.
  public init(
    _ layer: LayerDescription, checkpoint: Bytes, modules: RecomputeModules,
    elementBytes e: Double
  ) {
    full = layer.saved.total
    selective = layer.saved(recomputing: modules).total
    self.checkpoint = checkpoint
    backwardPeakNone = layer.backwardPeak(.stored(recomputing: []), elementBytes: e)
    backwardPeakSelective = layer.backwardPeak(.stored(recomputing: modules), elementBytes: e)
    backwardPeakFull = layer.backwardPeak(
      .recomputed(checkpoint: checkpoint.value), elementBytes: e)
  }

  /// One stored (not checkpointed) layer under `recompute`: everything, or with selective
  /// recompute what its modules leave.
  public func stored(_ recompute: Recompute) -> Bytes {
    if case .selective = recompute { return selective }
    return full
  }

  /// What the layer keeps under granularity `g`: everything, the selective remainder, or with
  /// full recompute its checkpoint.
  public func kept(_ g: RecomputeGranularity) -> Bytes {
    switch g {
    case .none: full
    case .selective: selective
    case .full: checkpoint
    }
  }

  /// `backwardPeak…` for a layer being backpropagated under `recompute`: full recompute of at
  /// least one layer rebuilds it from its checkpoint (k = 0 recomputes nothing).
  public func backwardPeak(_ recompute: Recompute) -> Double {
    switch recompute {
    case .none: backwardPeakNone
    case .selective: backwardPeakSelective
    case .full(_, let k): k > 0 ? backwardPeakFull : backwardPeakNone
    }
  }
}
