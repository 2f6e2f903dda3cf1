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
