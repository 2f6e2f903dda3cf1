/// Everything an evaluation needs: the model, its layout, numerics, hardware, software and token
/// budget. The composition root: `Evaluator(run)` evaluates it on any layout, and every command
/// (estimate, compare, check, search, scale, size, validate) starts from one.
public struct TrainingRun: Sendable, Hashable {
  public var model: TransformerModel
  public var layout: Layout
  public var precision: Precision
  public var gpu: GPU
  /// Token budget for time-to-train (`megaplan.train_tokens`).
  public var trainTokens: Double?
  /// What the software overlaps, fuses and allocates (`Software`).
  public var software: Software
  public var constants: PerformanceConstants
  /// What "fits" means (`megaplan.max_memory_fraction`; `MemoryBudget`).
  public var memoryBudget: MemoryBudget = .standard
  /// GPUs per node as the config lays them out (`trainer.devices`); the NVLink domain the timing
  /// model uses is `gpu.gpusPerNode`, which the config reader sets to min(this, the profile's).
  public var devicesPerNode: Int
  /// How the vocabulary is padded for a tensor-parallel size (nil: fixed by
  /// `megaplan.vocab_size`); the search re-pads it for each t as Megatron would.
  public var vocabularyPadding: VocabularyPadding? = nil
  /// The GPU as its profile (or `megaplan.hardware`) describes it, before `trainer.devices`
  /// shrinks its node to the training file's: serving lays out its own GPUs on the hardware's
  /// nodes. nil when the run was not read from a config (`gpu` is then the hardware).
  public var hardwareGPU: GPU? = nil

  /// `constants` default to the GPU generation's (`PerformanceConstants.forGeneration`).
  public init(
    model: TransformerModel, layout: Layout, precision: Precision = .bf16, gpu: GPU = .a100_80GB,
    trainTokens: Double? = nil, overlapGradientReduction: Bool = false, overlap: Overlap? = nil,
    constants: PerformanceConstants? = nil
  ) {
    self.devicesPerNode = gpu.gpusPerNode
    self.model = model
    self.layout = layout
    self.precision = precision
    self.gpu = gpu
    self.trainTokens = trainTokens
    self.software = Software(
      overlap: overlap ?? Overlap(gradientReduction: overlapGradientReduction))
    self.constants = constants ?? .forGeneration(gpu.generation)
  }

  /// What the software overlaps (`software.overlap`).
  public var overlap: Overlap {
    get { software.overlap }
    set { software.overlap = newValue }
  }

  /// The hardware as the time model uses it.
  public var machine: Machine { Machine(gpu: gpu, constants: constants) }

  /// The time physics of this run's model, numerics, GPU and software on `layout`.
  public func stepTime(layout: Layout) -> StepTimeModel {
    StepTimeModel(
      model: model, layout: layout, precision: precision, machine: machine, software: software)
  }

  /// The time physics on this run's own layout.
  public var stepTimeModel: StepTimeModel { stepTime(layout: layout) }
}
