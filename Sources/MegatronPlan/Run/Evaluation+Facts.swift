/// Model and hardware FLOPs utilisation (K22 §6.3, following PaLM): FLOPs per second per GPU
/// over the accelerator's peak.
public struct Utilization: Sendable, Hashable {
  public var modelPerGPU: FLOPsPerSecond
  public var hardwarePerGPU: FLOPsPerSecond
  public var mfu: Double
  public var hfu: Double

  public init(
    modelFLOPs: FLOPs, hardwareFLOPs: FLOPs, seconds: Seconds, gpus: Int, peak: FLOPsPerSecond
  ) {
    let n = Double(max(1, gpus))
    modelPerGPU = (modelFLOPs / seconds) / n
    hardwarePerGPU = (hardwareFLOPs / seconds) / n
    mfu = modelPerGPU / peak
    hfu = hardwarePerGPU / peak
  }
}

/// What reports quote of an evaluation beside its stages and iteration: parameters, FLOPs,
/// utilisation, time to train, and one layer's activations. Each is computed from the run and
/// its costs here, so a report maps numbers and computes none.
extension Evaluation {
  /// Whole-model parameters by term (`ParameterCount.total`).
  public var parameters: Breakdown<ParameterUnit> { ParameterCount.total(run.model) }
  /// Parameters each token uses (`ParameterCount.active`).
  public var activeParameters: Parameters { ParameterCount.active(run.model) }

  /// Model FLOPs per iteration (K22 Eq. 7, attention counted as `Software.attentionFLOPs`).
  public var modelFLOPs: FLOPs {
    FLOPCount.model(
      run.model, globalBatch: layout.globalBatch, attention: run.software.attentionFLOPs)
  }
  /// Hardware FLOPs per iteration (recompute included, K22 Eq. 8).
  public var hardwareFLOPs: FLOPs {
    FLOPCount.hardware(run.model, layout, attention: run.software.attentionFLOPs)
  }
  /// The GPU's peak for the run's precision.
  public var peakFLOPs: FLOPsPerSecond { run.gpu.peak(for: run.precision) }
  public var utilization: Utilization {
    Utilization(
      modelFLOPs: modelFLOPs, hardwareFLOPs: hardwareFLOPs, seconds: iteration.total,
      gpus: layout.gpus, peak: peakFLOPs)
  }

  /// Iterations, days and GPU-hours for the token budget (`TrainingRun.trainTokens`); nil
  /// without one.
  public var iterations: Double? { run.trainTokens.map { $0 / tokensPerIteration } }
  public var days: Double? { iterations.map { $0 * seconds / 86_400 } }
  public var gpuHours: Double? { days.map { $0 * 24 * Double(layout.gpus) } }

  /// Activations per transformer layer per GPU for one microbatch under the layout's recompute
  /// setting (K22 Table 2's quantity; with partial full recompute the average over a chunk).
  public var activationsPerLayer: Bytes {
    ActivationMemory.chunk(run.model, layout, layers: costs.memory)
      / Double(max(1, ActivationMemory.layersPerChunk(run.model, layout)))
  }

  /// The model's dense layer by tensor, as the recompute setting stores it.
  public var storedLayer: Breakdown<ByteUnit> {
    ActivationMemory.storedLayer(run.model, layout, precision: run.precision)
  }

  /// An encoder–decoder model's two layers (nil for a decoder-only model): what one keeps under
  /// the layout's recompute setting (with full recompute its checkpointed input), and by tensor
  /// as stored (not checkpointed).
  public var encoderDecoderLayers:
    (
      encoder: (kept: Bytes, stored: Breakdown<ByteUnit>),
      decoder: (kept: Bytes, stored: Breakdown<ByteUnit>)
    )?
  {
    let m = run.model
    guard m.encoderDecoder != nil, let enc = costs.memory[.encoder],
      let dec = costs.memory[.decoder]
    else { return nil }
    let g = layout.recompute.granularity
    let shard = LayerDescription.Shard(layout, precision: run.precision)
    func stored(_ kind: LayerKind) -> Breakdown<ByteUnit> {
      let layer = LayerDescription(m, shard, kind: kind)
      guard case .selective = layout.recompute else { return layer.saved }
      return layer.saved(recomputing: layout.recomputeModules)
    }
    return ((enc.kept(g), stored(.encoder)), (dec.kept(g), stored(.decoder)))
  }
}

extension StagePlan {
  /// The peak's terms named (`PeakMemory.stage`).
  public var namedPeak: PeakMemory.Stage { PeakMemory.stage(peak, steadyBytes: steadyBytes) }
}

/// One kind of collective of an iteration, as reports name it: which parallelism, how NCCL (or
/// Transformer Engine's userbuffers, or point-to-point sends) runs it, all its calls' time on
/// the slowest stage, and what of that the iteration does not hide.
public struct CollectiveUse: Sendable, Hashable, Codable {
  /// `tensor_parallel`, `expert_parallel`, `context_parallel`, `pipeline`, `data_parallel`.
  public var parallelism: String
  /// `all_gather`, `reduce_scatter`, `all_reduce`, `send_recv`, `all_to_all`, `ring`.
  public var collective: String
  public var ranks: Int
  /// Bytes of one call.
  public var bytes: Double
  /// NCCL's algorithm (`CollectiveAlgorithm`), `userbuffers` or `p2p`.
  public var algorithm: String
  /// NCCL's protocol; nil where NCCL does not pick one.
  public var proto: String?
  /// All calls of an iteration (the slowest stage's), before any overlap.
  public var seconds: Double
  /// What they add to the iteration: the part not hidden behind compute, and the compute the
  /// hidden part slows (`StepTimeModel.contention`).
  public var exposedSeconds: Double

  public var exposedShare: Double { seconds > 0 ? min(1, exposedSeconds / seconds) : 0 }
}

extension Evaluation {
  /// The iteration's collectives (`CollectiveUse`), for reports: the tensor-parallel
  /// collectives of the representative layer's kind over the slowest stage's layers and
  /// microbatches, context parallelism's exchange, the pipeline's sends, and the data-parallel
  /// reduction and gather (`DataParallelSync`).
  public var collectives: [CollectiveUse] {
    let layout = self.layout, time = run.stepTime(layout: layout)
    var out: [CollectiveUse] = []
    let slowest = stages[iteration.slowestStage]
    let layerCalls = Double(slowest.layers.total * max(1, layout.microbatches))
    let shard = LayerDescription.Shard(layout, precision: run.precision)
    let layer = LayerDescription(run.model, shard, kind: costs.representative)
    let t = layout.tensor
    if t > 1 {
      let raw = time.tensorParallelComm(layer)
      let bytes = run.precision.activationBytes * layer.tokens * layer.hidden
      let sp = layout.effectiveSequenceParallel
      let kind: CollectiveKind = sp ? .allGather : .allReduce
      let nccl = run.machine.collective(kind, bytes: bytes, n: t, stride: 1, software: run.software)
      let overlapped = run.software.overlap.tensorParallel
      out.append(
        CollectiveUse(
          parallelism: "tensor_parallel",
          collective: sp ? "all_gather+reduce_scatter" : kind.rawValue, ranks: t, bytes: bytes,
          algorithm: overlapped ? "userbuffers" : nccl.algorithm.rawValue,
          proto: overlapped ? nil : nccl.proto.rawValue,
          seconds: (raw.forward + raw.backward).value * layerCalls,
          exposedSeconds: iteration.communication.value))
    }
    if let experts = run.model.moe, layout.expertParallel > 1 || experts.dispatcher == .allgather,
      slowest.layers.moeLayers > 0
    {
      // Dispatch and combine, forward and backward, of every MoE layer of the slowest stage.
      let calls = Double(slowest.layers.moeLayers * max(1, layout.microbatches))
      let tokens = layout.tokens(of: run.model) / Double(t)
      out.append(
        CollectiveUse(
          parallelism: "expert_parallel", collective: "all_to_all", ranks: layout.expertParallel,
          bytes: run.precision.activationBytes * tokens * experts.routedFactor
            * Double(run.model.hidden),
          algorithm: experts.dispatcherName, proto: nil,
          seconds: 2 * time.expertParallelComm().value * calls,
          exposedSeconds: iteration.expertParallel.value))
    }
    if layout.contextParallel > 1 {
      let traffic = ContextParallelTraffic(
        run.model, layout, elementBytes: run.precision.activationBytes)
      let ring = traffic.ringBytesForward > 0
      out.append(
        CollectiveUse(
          parallelism: "context_parallel",
          collective: ring ? "ring" : "all_gather", ranks: layout.contextParallel,
          bytes: ring ? traffic.ringBytesForward : traffic.gatheredKeyValue,
          algorithm: layout.contextParallelComm.name, proto: nil,
          seconds: iteration.contextParallel.value, exposedSeconds: iteration.contextParallel.value)
      )
    }
    if layout.pipeline > 1 {
      out.append(
        CollectiveUse(
          parallelism: "pipeline", collective: "send_recv", ranks: 2,
          bytes: run.precision.activationBytes * layout.tokens(of: run.model)
            * Double(run.model.hidden) / Double(t),
          algorithm: "p2p", proto: nil, seconds: iteration.pipelineComm.value,
          exposedSeconds: iteration.pipelineComm.value))
    }
    let sync = iteration.dataParallel
    let group = layout.dataParallelWithContext
    if sync.reduce.value > 0 {
      out.append(
        CollectiveUse(
          parallelism: "data_parallel",
          collective: layout.distributedOptimizer ? "reduce_scatter" : "all_reduce",
          ranks: group, bytes: time.gradientBytes * time.bucketParameters(group: group),
          algorithm: sync.reduceCollective.algorithm.rawValue,
          proto: sync.reduceCollective.proto.rawValue, seconds: sync.reduce.value,
          exposedSeconds: (sync.reduceExposed
            + time.contention(hidden: sync.reduce - sync.reduceExposed)).value))
    }
    if sync.gather.value > 0 {
      out.append(
        CollectiveUse(
          parallelism: "data_parallel", collective: "all_gather", ranks: group,
          bytes: time.weightBytes * time.bucketParameters(group: group),
          algorithm: sync.gatherCollective.algorithm.rawValue,
          proto: sync.gatherCollective.proto.rawValue, seconds: sync.gather.value,
          exposedSeconds: (sync.gatherExposed
            + time.contention(hidden: sync.gather - sync.gatherExposed)).value))
    }
    return out
  }
}
