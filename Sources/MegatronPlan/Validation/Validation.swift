/// `megaplan validate`: published against predicted for every development run.
public struct ValidationResult: Sendable {
  public var name: String
  public var source: String
  /// "s/iteration" or "TFLOP/s per GPU".
  public var unit: String
  public var published: Double
  public var predicted: Double
  /// predicted / published − 1.
  public var error: Double
  public var estimate: Estimate
  /// The layout predicted (with the micro-batch and interleaving chosen, for N21 rows).
  public var layout: Layout
}

public struct LayerValidationResult: Sendable {
  public var name: String
  public var publishedForward: Double, publishedBackward: Double
  public var predictedForward: Double, predictedBackward: Double
}

public enum Validation {
  public static func predict(_ published: PublishedRun, constants: PerformanceConstants = .standard) -> ValidationResult {
    var run = published.run
    run.constants = constants
    if published.searchMicroBatchAndInterleaving { run = fastestMicroBatchAndInterleaving(run) }
    let e = Estimate(run)
    switch published.published {
    case .iterationSeconds(let s):
      return ValidationResult(
        name: published.name, source: published.source, unit: "s/iteration", published: s,
        predicted: e.time.iterationSeconds, error: e.time.iterationSeconds / s - 1, estimate: e, layout: run.layout)
    case .hardwareTFLOPsPerGPU(let x):
      let predicted = e.throughput.hardwareTflopsPerGpu
      return ValidationResult(
        name: published.name, source: published.source, unit: "TFLOP/s per GPU", published: x,
        predicted: predicted, error: predicted / x - 1, estimate: e, layout: run.layout)
    }
  }

  /// The fastest micro-batch size (dividing B/d) and interleaving (v dividing L/p, with m a
  /// multiple of p) that fits, t and p unchanged — as N21's authors tuned Table 1.
  public static func fastestMicroBatchAndInterleaving(_ base: TrainingRun) -> TrainingRun {
    var best: (TrainingRun, Double)? = nil
    let perPipeline = base.layout.globalBatch / max(1, base.layout.data)
    let layersPerStage = base.model.layers / max(1, base.layout.pipeline)
    for b in 1...max(1, min(perPipeline, 64)) where perPipeline % b == 0 {
      for v in 1...max(1, layersPerStage) where layersPerStage % v == 0 {
        if v > 1 && base.layout.pipeline == 1 { continue }
        var run = base
        run.layout.microBatch = b
        run.layout.virtualStages = v
        guard run.layout.violations(for: run.model).isEmpty else { continue }
        let e = Estimate(run)
        guard e.memory.fits else { continue }
        if best == nil || e.time.iterationSeconds < (best?.1 ?? .infinity) { best = (run, e.time.iterationSeconds) }
      }
    }
    return best?.0 ?? base
  }

  /// K22 Table 4: one layer of the 22B model (t = 8, b = 4), forward and backward (incl.
  /// recompute) in ms.
  public static func table4(constants: PerformanceConstants = .standard) -> [LayerValidationResult] {
    let cases: [(String, Bool, Recompute, Double, Double)] = [
      ("baseline, no recompute", false, .none, 7.7, 11.9),
      ("sequence parallelism", true, .none, 7.2, 11.8),
      ("baseline with full recompute", false, .full(method: .uniform, layers: 1), 7.7, 19.5),
      ("selective recompute", false, .selective, 7.7, 13.2),
      ("selective + sequence parallelism", true, .selective, 7.2, 13.1),
    ]
    return cases.map { name, sp, recompute, fwd, bwd in
      let layout = Layout(tensor: 8, pipeline: 1, data: 1, microBatch: 4, globalBatch: 4, sequenceParallel: sp, recompute: recompute)
      let model = StepTimeModel(model: PublishedRun.m22B, layout: layout, precision: .bf16, gpu: .a100_80GB, constants: constants)
      let lt = model.layerTimes()
      return LayerValidationResult(
        name: name, publishedForward: fwd, publishedBackward: bwd, predictedForward: lt.forward.total.value * 1e3,
        predictedBackward: (lt.backward.total + lt.recompute).value * 1e3)
    }
  }
}
