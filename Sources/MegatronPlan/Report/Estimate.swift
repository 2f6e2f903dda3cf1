import Foundation

/// The result of `megaplan estimate`, also the JSON schema (docs/json-schema.md). Field names are
/// the JSON keys' camel-case forms; JSON keys are snake_case and sorted.
public struct Estimate: Sendable, Codable, Hashable {
  public struct ModelSummary: Sendable, Codable, Hashable {
    public var parameters: Double
    /// Parameters each token uses (MoE: the experts it is not routed to left out; the total for
    /// a dense model).
    public var activeParameters: Double
    public var parameterBreakdown: Breakdown<ParameterUnit>
    public var layers: Int
    public var hidden: Int
    public var heads: Int
    public var ffnHidden: Int
    public var sequenceLength: Int
    public var vocabulary: Int
    public var tiedEmbeddings: Bool
    public var fusedAttention: Bool
    public var precision: String
    /// An encoder–decoder model's stacks (null for a decoder-only model): `layers`, `hidden`,
    /// `heads`, `ffn_hidden` and `sequence_length` above are the decoder's then, `layers`
    /// counting both stacks.
    public var encoderDecoder: EncoderDecoderSummary?

    enum CodingKeys: String, CodingKey {
      case parameters, activeParameters, parameterBreakdown, layers, hidden, heads, ffnHidden,
        sequenceLength, vocabulary, tiedEmbeddings, fusedAttention, precision, encoderDecoder
    }

    /// Absent values are written as null, so every documented path is always present.
    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(parameters, forKey: .parameters)
      try c.encode(activeParameters, forKey: .activeParameters)
      try c.encode(parameterBreakdown, forKey: .parameterBreakdown)
      try c.encode(layers, forKey: .layers)
      try c.encode(hidden, forKey: .hidden)
      try c.encode(heads, forKey: .heads)
      try c.encode(ffnHidden, forKey: .ffnHidden)
      try c.encode(sequenceLength, forKey: .sequenceLength)
      try c.encode(vocabulary, forKey: .vocabulary)
      try c.encode(tiedEmbeddings, forKey: .tiedEmbeddings)
      try c.encode(fusedAttention, forKey: .fusedAttention)
      try c.encode(precision, forKey: .precision)
      try c.encode(encoderDecoder, forKey: .encoderDecoder)
    }
  }

  /// The two stacks of an encoder–decoder model (T5, mT5) and what one layer of each keeps.
  public struct EncoderDecoderSummary: Sendable, Codable, Hashable {
    public var encoderLayers: Int
    public var decoderLayers: Int
    public var encoderHidden: Int
    public var encoderHeads: Int
    public var encoderFfnHidden: Int
    /// s_enc and s_dec.
    public var encoderSequenceLength: Int
    public var decoderSequenceLength: Int
    /// The first stage of the decoder (`pipeline_model_parallel_split_rank`; 0 with p = 1).
    public var pipelineSplitRank: Int
  }

  public struct LayoutSummary: Sendable, Codable, Hashable {
    public var tensor: Int
    public var pipeline: Int
    public var data: Int
    /// Model chunks per GPU; null when not interleaved.
    public var virtual: Int?
    public var microBatch: Int
    public var globalBatch: Int
    public var microbatches: Int
    public var gpus: Int
    public var sequenceParallel: Bool
    /// "none", "selective" or "full".
    public var recompute: String
    /// With full recompute: "uniform" or "block"; null otherwise.
    public var recomputeMethod: String?
    /// With full recompute: layers per checkpoint group (uniform) or checkpointed layers (block).
    public var recomputeNumLayers: Int?
    public var distributedOptimizer: Bool
    /// cp (1 without context parallelism).
    public var contextParallel: Int
    /// `cp_comm_type` ("p2p", "all_gather", "a2a", "a2a+p2p"); null without context parallelism.
    public var cpCommType: String?
    /// EP and ETP (1 and t for a dense model).
    public var expertParallel: Int
    public var expertTensorParallel: Int
    /// With selective recompute: the recomputed modules (Megatron-Core's names); null otherwise.
    public var recomputeModules: [String]?
    /// Megatron-FSDP full sharding (`data_parallel_sharding_strategy: optim_grads_params`).
    public var fullySharded: Bool

    enum CodingKeys: String, CodingKey {
      case tensor, pipeline, data, virtual, microBatch, globalBatch, microbatches, gpus,
        sequenceParallel, recompute,
        recomputeMethod, recomputeNumLayers, distributedOptimizer, contextParallel, cpCommType,
        expertParallel, expertTensorParallel, recomputeModules, fullySharded
    }

    /// Absent values are written as null, so every documented path is always present.
    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(tensor, forKey: .tensor)
      try c.encode(pipeline, forKey: .pipeline)
      try c.encode(data, forKey: .data)
      try c.encode(virtual, forKey: .virtual)
      try c.encode(microBatch, forKey: .microBatch)
      try c.encode(globalBatch, forKey: .globalBatch)
      try c.encode(microbatches, forKey: .microbatches)
      try c.encode(gpus, forKey: .gpus)
      try c.encode(sequenceParallel, forKey: .sequenceParallel)
      try c.encode(recompute, forKey: .recompute)
      try c.encode(recomputeMethod, forKey: .recomputeMethod)
      try c.encode(recomputeNumLayers, forKey: .recomputeNumLayers)
      try c.encode(distributedOptimizer, forKey: .distributedOptimizer)
      try c.encode(contextParallel, forKey: .contextParallel)
      try c.encode(cpCommType, forKey: .cpCommType)
      try c.encode(expertParallel, forKey: .expertParallel)
      try c.encode(expertTensorParallel, forKey: .expertTensorParallel)
      try c.encode(recomputeModules, forKey: .recomputeModules)
      try c.encode(fullySharded, forKey: .fullySharded)
    }
  }

  public struct StageMemory: Sendable, Codable, Hashable {
    public var stage: Int
    public var parameters: Double
    public var weightsBytes: Double
    public var gradientsBytes: Double
    public var optimizerBytes: Double
    /// Transformer Engine's FP8 weight copies (0 without FP8).
    public var fp8WeightCacheBytes: Double
    public var activationsBytes: Double
    public var activations: Breakdown<ByteUnit>
    public var totalBytes: Double
    /// Chunk-microbatches held at the peak (microbatches × v).
    public var chunksInFlight: Int
    /// What `torch.cuda.max_memory_allocated` would report: `totalBytes` (the steady state)
    /// plus the transients alive at the peak (`PeakMemory`).
    public var peakAllocatedBytes: Double
    /// What the device holds at the peak (`nvidia-smi`): allocated plus allocator slack, CUDA
    /// context, NCCL and library buffers.
    public var peakBytes: Double
    /// The terms on top of the steady state, transients and reserved.
    public var peak: Breakdown<ByteUnit>
    /// When the peak happens: "forward", "backward" or "output layer".
    public var peakMoment: String
  }

  public struct MemorySummary: Sendable, Codable, Hashable {
    public var gpu: String
    public var capacityBytes: Double
    /// Per transformer layer, one microbatch, the layout's recompute setting (K22 Table 2).
    public var activationsPerLayerBytes: Double
    /// Per layer by tensor (stored layers), for `--explain`-style reading.
    public var activationsPerLayer: Breakdown<ByteUnit>
    // The most loaded stage:
    public var mostLoadedStage: Int
    public var activationsBytes: Double
    public var weightsBytes: Double
    public var gradientsBytes: Double
    public var optimizerBytes: Double
    public var totalBytes: Double
    /// The most loaded stage's peak (see `StageMemory`).
    public var peakAllocatedBytes: Double
    public var peakBytes: Double
    public var peakMoment: String
    /// `peakBytes ≤ usableBytes` (`MemoryBudget`).
    public var fits: Bool
    /// capacity × `usableFraction`: what a run may use.
    public var usableBytes: Double
    public var usableFraction: Double
    public var stages: [StageMemory]
    /// An encoder–decoder model's encoder and decoder layer, as `activationsPerLayerBytes` is
    /// for one layer of a decoder-only model; null otherwise.
    public var encoderActivationsPerLayerBytes: Double?
    public var decoderActivationsPerLayerBytes: Double?
    /// The same two layers by tensor, stored (not checkpointed), as `activationsPerLayer` is for
    /// a decoder-only layer; null for a decoder-only model.
    public var encoderActivationsPerLayer: Breakdown<ByteUnit>?
    public var decoderActivationsPerLayer: Breakdown<ByteUnit>?

    enum CodingKeys: String, CodingKey {
      case gpu, capacityBytes, activationsPerLayerBytes, activationsPerLayer, mostLoadedStage,
        activationsBytes, weightsBytes, gradientsBytes, optimizerBytes, totalBytes,
        peakAllocatedBytes, peakBytes, peakMoment, fits, usableBytes, usableFraction, stages,
        encoderActivationsPerLayerBytes, decoderActivationsPerLayerBytes,
        encoderActivationsPerLayer, decoderActivationsPerLayer
    }

    /// Absent values are written as null, so every documented path is always present.
    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(gpu, forKey: .gpu)
      try c.encode(capacityBytes, forKey: .capacityBytes)
      try c.encode(activationsPerLayerBytes, forKey: .activationsPerLayerBytes)
      try c.encode(activationsPerLayer, forKey: .activationsPerLayer)
      try c.encode(mostLoadedStage, forKey: .mostLoadedStage)
      try c.encode(activationsBytes, forKey: .activationsBytes)
      try c.encode(weightsBytes, forKey: .weightsBytes)
      try c.encode(gradientsBytes, forKey: .gradientsBytes)
      try c.encode(optimizerBytes, forKey: .optimizerBytes)
      try c.encode(totalBytes, forKey: .totalBytes)
      try c.encode(peakAllocatedBytes, forKey: .peakAllocatedBytes)
      try c.encode(peakBytes, forKey: .peakBytes)
      try c.encode(peakMoment, forKey: .peakMoment)
      try c.encode(fits, forKey: .fits)
      try c.encode(usableBytes, forKey: .usableBytes)
      try c.encode(usableFraction, forKey: .usableFraction)
      try c.encode(stages, forKey: .stages)
      try c.encode(encoderActivationsPerLayerBytes, forKey: .encoderActivationsPerLayerBytes)
      try c.encode(decoderActivationsPerLayerBytes, forKey: .decoderActivationsPerLayerBytes)
      try c.encode(encoderActivationsPerLayer, forKey: .encoderActivationsPerLayer)
      try c.encode(decoderActivationsPerLayer, forKey: .decoderActivationsPerLayer)
    }
  }

  public struct FLOPSummary: Sendable, Codable, Hashable {
    public var modelPerIteration: Double
    public var hardwarePerIteration: Double
    /// "causal" (the causal half of the attention scores, as Megatron-Core counts) or "full".
    public var attention: String
  }

  public struct TimeSummary: Sendable, Codable, Hashable {
    public var iterationSeconds: Double
    public var breakdown: Breakdown<SecondUnit>
    /// Per layer, one microbatch, on one GPU (forward, backward, recompute).
    public var layerForwardSeconds: Double
    public var layerBackwardSeconds: Double
    public var layerRecomputeSeconds: Double
    /// The attention core of one layer, one microbatch, one GPU (QKᵀ, softmax, attention over V;
    /// one kernel when fused), forward and backward, without context parallelism's exchange.
    public var layerAttentionForwardSeconds: Double
    public var layerAttentionBackwardSeconds: Double
    public var bubbleFraction: Double
    /// The iteration's collectives by parallelism: how NCCL runs each, their time and the share
    /// the iteration shows (`CollectiveUse`).
    public var collectives: [CollectiveSummary]
  }

  /// One kind of collective of the iteration (`CollectiveUse`).
  public struct CollectiveSummary: Sendable, Codable, Hashable {
    public var parallelism: String
    public var collective: String
    public var ranks: Int
    public var bytes: Double
    public var algorithm: String
    public var `protocol`: String?
    public var seconds: Double
    public var exposedSeconds: Double
    public var exposedShare: Double

    enum CodingKeys: String, CodingKey {
      case parallelism, collective, ranks, bytes, algorithm, `protocol`, seconds, exposedSeconds,
        exposedShare
    }

    /// null where NCCL picks no protocol (every documented path is always present).
    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(parallelism, forKey: .parallelism)
      try c.encode(collective, forKey: .collective)
      try c.encode(ranks, forKey: .ranks)
      try c.encode(bytes, forKey: .bytes)
      try c.encode(algorithm, forKey: .algorithm)
      try c.encode(`protocol`, forKey: .protocol)
      try c.encode(seconds, forKey: .seconds)
      try c.encode(exposedSeconds, forKey: .exposedSeconds)
      try c.encode(exposedShare, forKey: .exposedShare)
    }

    init(_ c: CollectiveUse) {
      (parallelism, collective, ranks, bytes) = (c.parallelism, c.collective, c.ranks, c.bytes)
      (algorithm, `protocol`) = (c.algorithm, c.proto)
      (seconds, exposedSeconds, exposedShare) = (c.seconds, c.exposedSeconds, c.exposedShare)
    }
  }

  public struct ThroughputSummary: Sendable, Codable, Hashable {
    public var tokensPerSecond: Double
    public var modelTflopsPerGpu: Double
    public var hardwareTflopsPerGpu: Double
    public var mfu: Double
    public var hfu: Double
    public var peakTflopsPerGpu: Double
  }

  public struct TrainingSummary: Sendable, Codable, Hashable {
    public var tokens: Double?
    public var iterations: Double?
    public var days: Double?
    public var gpuHours: Double?

    enum CodingKeys: String, CodingKey { case tokens, iterations, days, gpuHours }

    /// null without a token budget (the documented paths are always present).
    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(tokens, forKey: .tokens)
      try c.encode(iterations, forKey: .iterations)
      try c.encode(days, forKey: .days)
      try c.encode(gpuHours, forKey: .gpuHours)
    }
  }

  public var model: ModelSummary
  public var layout: LayoutSummary
  public var memory: MemorySummary
  public var flops: FLOPSummary
  public var time: TimeSummary
  public var throughput: ThroughputSummary
  public var training: TrainingSummary
}

extension Estimate {
  /// Estimates a valid run (see `Layout.violations(for:)`; the config reader checks them first)
  /// on its own layout: `Evaluator(run).evaluate()` mapped to the schema.
  public init(_ run: TrainingRun) { self.init(Evaluator(run).evaluate()) }

  /// The schema of an evaluation: a pure mapping, every number read from `evaluation`.
  public init(_ evaluation: Evaluation) {
    let run = evaluation.run, m = run.model, layout = evaluation.layout
    let totalParams = evaluation.parameters
    model = ModelSummary(
      parameters: totalParams.total.value,
      activeParameters: evaluation.activeParameters.value, parameterBreakdown: totalParams,
      layers: m.layers,
      hidden: m.hidden,
      heads: m.heads, ffnHidden: m.ffnHidden, sequenceLength: m.sequenceLength,
      vocabulary: m.vocabulary,
      tiedEmbeddings: m.tiedEmbeddings, fusedAttention: m.fusedAttention,
      precision: run.precision.rawValue,
      encoderDecoder: m.encoderDecoder.map { Self.encoderDecoderSummary(m, $0, layout) })
    var method: String? = nil
    var k: Int? = nil
    if case .full(let meth, let n) = layout.recompute {
      method = meth.rawValue
      k = n
    }
    self.layout = LayoutSummary(
      tensor: layout.tensor, pipeline: layout.pipeline, data: layout.data,
      virtual: layout.interleaved ? layout.virtualStages : nil, microBatch: layout.microBatch,
      globalBatch: layout.globalBatch, microbatches: layout.microbatches, gpus: layout.gpus,
      sequenceParallel: layout.effectiveSequenceParallel, recompute: layout.recompute.name,
      recomputeMethod: method, recomputeNumLayers: k,
      distributedOptimizer: layout.distributedOptimizer, contextParallel: layout.contextParallel,
      cpCommType: layout.contextParallel > 1 ? layout.contextParallelComm.name : nil,
      expertParallel: layout.expertParallel, expertTensorParallel: layout.expertTensorParallel,
      recomputeModules: layout.recompute == .selective ? layout.recomputeModules.moduleNames : nil,
      fullySharded: layout.fullySharded)

    // Memory, every stage; the most loaded decides.
    let stages = evaluation.stages.map { plan in
      let named = plan.namedPeak
      return StageMemory(
        stage: plan.stage, parameters: plan.parameters.total,
        weightsBytes: plan.states.weights, gradientsBytes: plan.states.gradients,
        optimizerBytes: plan.states.optimizer, fp8WeightCacheBytes: plan.states.fp8WeightCache,
        activationsBytes: plan.activationBytes, activations: plan.activations,
        totalBytes: plan.steadyBytes, chunksInFlight: plan.chunksInFlight,
        peakAllocatedBytes: named.allocatedBytes, peakBytes: named.deviceBytes,
        peak: Breakdown(named.transients.terms + named.reserved.terms), peakMoment: named.moment)
    }
    let worst = stages[evaluation.mostLoadedStage]
    let encoderDecoder = evaluation.encoderDecoderLayers
    let budget = run.memoryBudget, capacity = run.gpu.memory.value
    memory = MemorySummary(
      gpu: run.gpu.name, capacityBytes: capacity,
      activationsPerLayerBytes: evaluation.activationsPerLayer.value,
      activationsPerLayer: evaluation.storedLayer,
      mostLoadedStage: worst.stage, activationsBytes: worst.activationsBytes,
      weightsBytes: worst.weightsBytes,
      gradientsBytes: worst.gradientsBytes, optimizerBytes: worst.optimizerBytes,
      totalBytes: worst.totalBytes, peakAllocatedBytes: worst.peakAllocatedBytes,
      peakBytes: worst.peakBytes, peakMoment: worst.peakMoment,
      fits: evaluation.fits, usableBytes: budget.usableBytes(capacity: capacity),
      usableFraction: budget.usableFraction, stages: stages,
      encoderActivationsPerLayerBytes: encoderDecoder?.encoder.kept.value,
      decoderActivationsPerLayerBytes: encoderDecoder?.decoder.kept.value,
      encoderActivationsPerLayer: encoderDecoder?.encoder.stored,
      decoderActivationsPerLayer: encoderDecoder?.decoder.stored)

    flops = FLOPSummary(
      modelPerIteration: evaluation.modelFLOPs.value,
      hardwarePerIteration: evaluation.hardwareFLOPs.value,
      attention: run.software.attentionFLOPs.rawValue)

    let iteration = evaluation.iteration
    let layer = evaluation.costs.representativeLayer
    time = TimeSummary(
      iterationSeconds: evaluation.seconds, breakdown: iteration.breakdown,
      layerForwardSeconds: layer?.forward.total.value ?? 0,
      layerBackwardSeconds: layer?.backward.total.value ?? 0,
      layerRecomputeSeconds: evaluation.representativeRecompute.value,
      layerAttentionForwardSeconds: layer?.forward.attentionCore.value ?? 0,
      layerAttentionBackwardSeconds: layer?.backward.attentionCore.value ?? 0,
      bubbleFraction: iteration.bubbleFraction,
      collectives: evaluation.collectives.map(CollectiveSummary.init))

    let use = evaluation.utilization
    throughput = ThroughputSummary(
      tokensPerSecond: evaluation.tokensPerSecond,
      modelTflopsPerGpu: use.modelPerGPU.teraFLOPs,
      hardwareTflopsPerGpu: use.hardwarePerGPU.teraFLOPs, mfu: use.mfu, hfu: use.hfu,
      peakTflopsPerGpu: evaluation.peakFLOPs.teraFLOPs)

    training = TrainingSummary(
      tokens: run.trainTokens, iterations: evaluation.iterations, days: evaluation.days,
      gpuHours: evaluation.gpuHours)
  }

  /// JSON with sorted keys, snake_case, byte-stable.
  public func json() throws -> String { try JSONOutput.encode(self) }

  static func encoderDecoderSummary(_ m: TransformerModel, _ ed: EncoderDecoder, _ layout: Layout)
    -> EncoderDecoderSummary
  {
    return EncoderDecoderSummary(
      encoderLayers: ed.encoderLayers, decoderLayers: m.decoderLayers,
      encoderHidden: ed.encoder.hidden, encoderHeads: ed.encoder.heads,
      encoderFfnHidden: ed.encoder.ffnHidden, encoderSequenceLength: ed.encoderSequence,
      decoderSequenceLength: m.sequenceLength,
      pipelineSplitRank: layout.pipeline > 1 ? (layout.split.encoderStages ?? 0) : 0)
  }
}
