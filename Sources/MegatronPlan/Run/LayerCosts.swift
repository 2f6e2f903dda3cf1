/// Everything one layer of one kind costs on one shard of a run, computed once from its
/// description (`LayerDescription`) and shared by every stage and layout with that shard: what
/// it keeps for backward under each recompute granularity and what its backward holds
/// (`LayerMemory`), its forward and backward time by term (`LayerTime`), what selective
/// recompute of the layout's modules reruns, and its parameters by how they shard.
///
/// A shard is what a layer's costs depend on: t, b, SP, cp, EP and ETP with the run's model,
/// numerics, GPU, software and recompute modules; not p, v, d, the recompute setting or the
/// optimizer. `search` computes one `ShardCosts` per shard and evaluates thousands of layouts
/// on it.
public struct LayerCosts: Sendable {
  public var kind: LayerKind
  public var memory: LayerMemory
  /// One layer's forward and backward for one microbatch (zero for `mtp`, whose time is
  /// `onLastStage`).
  public var forward: LayerTime
  public var backward: LayerTime
  /// What selective recompute of the layout's modules reruns of one layer, whatever the
  /// recompute setting (so layouts that differ in it share it).
  public var selectiveRecompute: Seconds
  /// One layer's parameters, whole (`LayerOp.Parameters.perGPU` shards them).
  public var parameters: LayerOp.Parameters
  /// Time charged once per microbatch on the last stage, beside the output layer, forward and
  /// backward together: the multi-token-prediction layers (`StepTimeModel.multiTokenPrediction`);
  /// zero for the kinds a pipeline splits.
  public var onLastStage: Seconds = .zero
}

/// The costs of every layer kind of a run on one shard (`LayerCosts`), with the parameters of
/// each kind and the output layer's time: what a stage is assembled from (`StagePlan`).
public struct ShardCosts: Sendable {
  /// The kinds the model has (`TransformerModel.presentKinds`); nil for the others.
  public var layers: PerKind<LayerCosts?>
  /// `layers`' memory, as the memory model reads it.
  public var memory: PerKind<LayerMemory?>
  /// Every kind's parameters (zero for a kind the model does not have; `ParameterCount.layers`).
  public var parameters: PerKind<LayerOp.Parameters>
  /// The output layer and cross entropy, one microbatch, forward and backward.
  public var outputLayer: Seconds
  /// The kind whose layer reports quote (the dense layer, or a decoder layer).
  public var representative: LayerKind

  /// The costs of `run`'s layer kinds on the shard of `layout`.
  public init(_ run: TrainingRun, shard layout: Layout) {
    let m = run.model
    let time = run.stepTime(layout: layout)
    let shard = LayerDescription.Shard(layout, precision: run.precision)
    let parameters = ParameterCount.layers(m)
    let memory = ActivationMemory.layers(m, layout, precision: run.precision)
    layers = memory.map { kind, memory in
      guard let memory else { return nil }
      if kind == .mtp {
        return LayerCosts(
          kind: kind, memory: memory, forward: LayerTime(), backward: LayerTime(),
          selectiveRecompute: .zero, parameters: parameters[kind],
          onLastStage: time.multiTokenPrediction())
      }
      let layer = LayerDescription(m, shard, kind: kind)
      let forward = time.forward(layer)
      return LayerCosts(
        kind: kind, memory: memory, forward: forward,
        backward: time.backward(layer, forward: forward),
        selectiveRecompute: time.selectiveRecompute(layer), parameters: parameters[kind])
    }
    self.memory = memory
    self.parameters = parameters
    outputLayer = time.outputLayer()
    representative = m.encoderDecoder == nil ? .dense : .decoder
  }

  /// The representative layer's costs (`representative`).
  public var representativeLayer: LayerCosts? { layers[representative] }
}
