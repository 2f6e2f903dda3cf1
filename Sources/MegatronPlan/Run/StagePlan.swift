/// One pipeline stage of a run on a layout, as numbers: its layers by kind, the parameters one
/// of its GPUs holds and their states, the activations it keeps at its peak, the transients and
/// reserved memory on top (`PeakMemory.Terms`), and its compute and communication time for the
/// whole iteration. The one assembly of a stage: `Evaluator.score` and `Evaluator.evaluate`
/// both build stages here; reports name the terms (`StateMemory.Parts.breakdown`,
/// `PeakMemory.stage`) from these numbers.
public struct StagePlan: Sendable {
  public var stage: Int
  public var layers: LayerCounts
  public var parameters: ParameterCount.StageParameters
  public var states: StateMemory.Parts
  /// The activations by term (`ActivationMemory.stage`).
  public var activations: Breakdown<ByteUnit>
  public var activationBytes: Double
  public var peak: PeakMemory.Terms
  /// Chunk-microbatches held at the peak (`PipelineSchedule.chunksInFlight`).
  public var chunksInFlight: Int
  /// Compute and communication time for all m microbatches (`time(...)`); zero until asked.
  public var time = StageTime()

  /// Weights, gradients, optimizer states, FP8 copies and activations.
  public var steadyBytes: Double { states.total + activationBytes }
  /// What `torch.cuda.max_memory_allocated` would report: the steady state plus the transients
  /// alive at the peak.
  public var allocatedBytes: Double { steadyBytes + peak.transients }
  /// What the device holds at the peak (`nvidia-smi`): allocated plus allocator slack, CUDA
  /// context, NCCL and library buffers.
  public var peakBytes: Double { peak.device(steady: steadyBytes) }

  /// The most a layer's backward holds beside its incoming gradient (`PeakMemory.layerBackward`).
  public var backwardWalk: Double

  /// Stage `i`'s memory on `layout` from the shard's costs (without `sharded`, the states and
  /// the peak are left for `shard` to set).
  init(_ run: TrainingRun, _ layout: Layout, stage i: Int, costs: ShardCosts, sharded: Bool = true)
  {
    let m = run.model
    stage = i
    let counts = layout.layerKinds(onStage: i, of: m)
    layers = counts
    parameters = ParameterCount.stageParameters(
      m, layout, stage: i, layers: costs.parameters, counts: counts)
    activations = ActivationMemory.stage(
      m, layout, stage: i, precision: run.precision, layers: costs.memory, counts: counts)
    activationBytes = activations.total.value
    chunksInFlight = PipelineSchedule(layout).chunksInFlight(stage: i)
    backwardWalk = PeakMemory.layerBackward(costs.memory, m, layout, stage: i, counts: counts)
    states = StateMemory.Parts(weights: 0, gradients: 0, optimizer: 0, fp8WeightCache: 0)
    peak = PeakMemory.Terms.none
    if sharded { shard(run, layout, costs: costs) }
  }

  /// Sets the states and the peak for `layout`'s data-parallel sharding (the distributed
  /// optimizer, full sharding): what layouts that differ only in it do not share. The rest of
  /// the plan (layers, parameters, activations) is theirs alike.
  mutating func shard(_ run: TrainingRun, _ layout: Layout, costs: ShardCosts) {
    states = Self.states(
      run, layout, stage: stage, parameters: parameters, layers: costs.parameters, counts: layers)
    peak = PeakMemory.terms(
      run.model, layout, stage: stage, precision: run.precision, gpu: run.gpu,
      software: run.software, activationBytes: activationBytes, layers: costs.parameters,
      backwardWalk: backwardWalk, counts: layers)
  }

  /// The weights, gradients, optimizer states and FP8 copies of stage `i`'s `parameters` on one
  /// GPU of `layout` (`StateMemory`).
  static func states(
    _ run: TrainingRun, _ layout: Layout, stage i: Int,
    parameters: ParameterCount.StageParameters, layers: PerKind<LayerOp.Parameters>,
    counts: LayerCounts? = nil
  ) -> StateMemory.Parts {
    StateMemory.parts(
      parameters: Parameters(parameters.total), precision: run.precision, layout: layout,
      linearParameters: ParameterCount.linearPerGPU(
        run.model, layout, stage: i, layers: layers, counts: counts),
      fp8: run.model.fp8, fp32Gradients: run.software.fp32Gradients,
      expertParameters: Parameters(parameters.expert))
  }

  /// Stage `i`'s compute time for the whole iteration (all m microbatches), split as the chart
  /// shows it: forward and backward compute, recompute, communication (tensor- and
  /// expert-parallel collectives), context parallelism's exchanges. Every stage runs its layers,
  /// each kind with its own costs, and the last also runs the output layer and the
  /// multi-token-prediction layers (a third of their time forward, two thirds backward).
  static func time(
    _ time: StepTimeModel, counts: LayerCounts, stage i: Int, costs: ShardCosts
  ) -> StageTime {
    let layout = time.layout
    var out = StageTime()
    for kind in LayerKind.stack where counts[kind] > 0 {
      guard let layer = costs.layers[kind] else { continue }
      out += layers(time, layer, count: counts[kind], stage: i)
    }
    if i == layout.pipeline - 1 {
      var last = costs.outputLayer
      if let mtp = costs.layers[.mtp] { last += mtp.onLastStage }
      let all = last * Double(layout.microbatches)
      out.forward += all / 3
      out.backward += all * (2.0 / 3.0)
    }
    return out
  }

  /// `count` layers of one kind on stage `i`, for all m microbatches.
  static func layers(_ time: StepTimeModel, _ layer: LayerCosts, count: Int, stage i: Int)
    -> StageTime
  {
    let layout = time.layout
    let fwd = layer.forward, bwd = layer.backward
    let perStage = Double(count) * Double(layout.microbatches)
    let fwdComm = fwd.communication, bwdComm = bwd.communication
    let fwdContext = fwd.contextParallelComm, bwdContext = bwd.contextParallelComm
    let fwdTotal = fwd.total
    let forward = (fwdTotal - fwdComm - fwdContext) * perStage
    let backward = (bwd.total - bwdComm - bwdContext) * perStage
    // Partial recompute applies per chunk, so stages of different sizes rerun different shares.
    let recomputePerLayer = time.recompute(
      forward: fwdTotal, selective: layer.selectiveRecompute, stage: i)
    var rerun = recomputePerLayer * perStage
    var communication = (fwd.tensorParallelComm + bwd.tensorParallelComm) * perStage
    var expert = (fwd.expertParallelComm + bwd.expertParallelComm) * perStage
    var context = (fwdContext + bwdContext) * perStage
    if time.software.overlap.expertParallel, time.model.moe != nil,
      case let epComm = fwd.expertParallelComm + bwd.expertParallelComm,
      epComm.value > 0
    {
      // `overlap_moe_expert_parallel_comm`: Megatron-Core merges the forward of one microbatch
      // with the backward of another (the combined 1F1B schedule) and runs each one's dispatch
      // and combine all-to-alls beside the other's compute. Only the steady-state pairs overlap:
      // m·v chunk steps less the chunks in flight at the end of warm-up; in a pair, the
      // all-to-alls hide behind at most the pair's compute.
      let steps = Double(layout.microbatches * max(1, layout.virtualStages))
      let paired =
        max(0, steps - Double(PipelineSchedule(layout).chunksInFlight(stage: i))) / steps
      let compute = (fwdTotal - fwdComm - fwdContext) + (bwd.total - bwdComm - bwdContext)
      let hidden = Seconds(min(epComm.value, compute.value)) * paired
      expert = expert - hidden * perStage
    }
    if case .full = layout.recompute, fwdTotal.value > 0 {
      // A recomputed forward includes its own collectives; count them as communication.
      let share = recomputePerLayer / fwdTotal
      let rerunTP = fwd.tensorParallelComm * share * perStage
      let rerunEP = fwd.expertParallelComm * share * perStage
      let rerunContext = fwdContext * share * perStage
      rerun = rerun - rerunTP - rerunEP - rerunContext
      communication += rerunTP
      expert += rerunEP
      context += rerunContext
    }
    return StageTime(
      forward: forward, backward: backward, recompute: rerun, communication: communication,
      expertParallel: expert, contextParallel: context)
  }
}

/// One stage's time for the whole iteration, by part.
public struct StageTime: Sendable, Hashable, Codable, Comparable {
  public static func < (a: StageTime, b: StageTime) -> Bool { a.total < b.total }
  /// Adds another group of layers' times.
  static func += (a: inout StageTime, b: StageTime) {
    a.forward += b.forward
    a.backward += b.backward
    a.recompute += b.recompute
    a.communication += b.communication
    a.expertParallel += b.expertParallel
    a.contextParallel += b.contextParallel
  }
  public var forward = Seconds.zero
  public var backward = Seconds.zero
  public var recompute = Seconds.zero
  /// Tensor-parallel collectives.
  public var communication = Seconds.zero
  /// The MoE token dispatch and combine (expert-parallel all-to-alls), what of them shows.
  public var expertParallel = Seconds.zero
  /// Context parallelism's exposed exchanges (`StepTimeModel.contextParallelComm`).
  public var contextParallel = Seconds.zero
  public var total: Seconds {
    forward + backward + recompute + communication + expertParallel + contextParallel
  }
}
