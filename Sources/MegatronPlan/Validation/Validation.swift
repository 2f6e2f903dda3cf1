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
  public var evaluation: Evaluation
  /// The layout predicted (with the micro-batch and interleaving chosen, for N21 rows).
  public var layout: Layout
}

public struct LayerValidationResult: Sendable {
  public var name: String
  public var publishedForward: Double, publishedBackward: Double
  public var predictedForward: Double, predictedBackward: Double
}

public enum Validation {
  /// `constants` default to the run's GPU generation's.
  public static func predict(_ published: PublishedRun, constants: PerformanceConstants? = nil)
    -> ValidationResult
  {
    var run = published.run
    if let constants { run.constants = constants }
    if published.searchMicroBatchAndInterleaving { run = fastestMicroBatchAndInterleaving(run) }
    let e = Evaluator(run).evaluate()
    let predicted: Double, unit: String
    switch published.published {
    case .iterationSeconds:
      (predicted, unit) = (e.seconds, "s/iteration")
    case .hardwareTFLOPsPerGPU:
      (predicted, unit) = (e.utilization.hardwarePerGPU.teraFLOPs, "TFLOP/s per GPU")
    case .modelTFLOPsPerGPU:
      (predicted, unit) = (e.utilization.modelPerGPU.teraFLOPs, "model TFLOP/s per GPU")
    }
    return ValidationResult(
      name: published.name, source: published.source, unit: unit,
      published: published.published.value, predicted: predicted,
      error: predicted / published.published.value - 1, evaluation: e, layout: run.layout)
  }

  /// The fastest micro-batch size and interleaving that fit, by `LayoutSearch` with t, p, the
  /// GPU count, full recompute of every layer, SP and the optimizer fixed as published — as N21's
  /// authors tuned Table 1 (they did not publish b or v). Fits means within the GPU's memory:
  /// these runs did run.
  public static func fastestMicroBatchAndInterleaving(_ base: TrainingRun) -> TrainingRun {
    var constraints = LayoutSearch.Constraints(
      gpus: base.layout.gpus, tensor: base.layout.tensor, pipeline: base.layout.pipeline,
      recompute: [.full],
      sequenceParallel: base.layout.sequenceParallel ? .on : .off,
      distributedOptimizer: base.layout.distributedOptimizer)
    constraints.partialRecompute = false
    let options = LayoutSearch.Options(
      top: 1, constraints: constraints, maxMemoryFraction: 1.0, threads: 1)
    return (try? LayoutSearch.search(base, options: options))?.best?.run ?? base
  }

  /// K22 Table 4: one layer of the 22B model (t = 8, b = 4), forward and backward (incl.
  /// recompute) in ms.
  public static func table4(constants: PerformanceConstants = .standard) -> [LayerValidationResult]
  {
    let cases: [(String, Bool, Recompute, Double, Double)] = [
      ("baseline, no recompute", false, .none, 7.7, 11.9),
      ("sequence parallelism", true, .none, 7.2, 11.8),
      ("baseline with full recompute", false, .full(method: .uniform, layers: 1), 7.7, 19.5),
      ("selective recompute", false, .selective, 7.7, 13.2),
      ("selective + sequence parallelism", true, .selective, 7.2, 13.1),
    ]
    return cases.map { name, sp, recompute, fwd, bwd in
      let layout = Layout(
        tensor: 8, pipeline: 1, data: 1, microBatch: 4, globalBatch: 4, sequenceParallel: sp,
        recompute: recompute)
      let run = TrainingRun(
        model: PublishedRun.m22B, layout: layout, precision: .bf16, gpu: .a100_80GB,
        constants: constants)
      let evaluation = Evaluator(run).evaluate()
      let layer = evaluation.costs.representativeLayer
      let forward = layer?.forward.total ?? .zero, backward = layer?.backward.total ?? .zero
      return LayerValidationResult(
        name: name, publishedForward: fwd, publishedBackward: bwd,
        predictedForward: forward.value * 1e3,
        predictedBackward: (backward + evaluation.representativeRecompute).value * 1e3)
    }
  }
}
