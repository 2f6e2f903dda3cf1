/// Inference sizing of one model on one GPU type: memory per GPU, time to first token (prefill)
/// and time per output token (decode) for a tensor- and pipeline-parallel layout and a batch of
/// requests. The same `TransformerModel` megaplan trains with; the layer's GEMM shapes come from
/// `LayerDescription` and every time from `StepTimeModel`'s building blocks (GEMMs, HBM
/// streaming, ring all-reduce, links). docs/serve.md gives every term with its source.
public struct ServingModel: Sendable {
  /// What the server is asked to do: `batch` requests of `input` prompt tokens, each generating
  /// `output` tokens, decoded together (static batching).
  public struct Workload: Sendable, Hashable, Codable {
    public var input: Int
    public var output: Int
    public var batch: Int
    public init(input: Int, output: Int, batch: Int) {
      self.input = input
      self.output = output
      self.batch = batch
    }
  }

  /// Serving-engine settings, with vLLM's defaults.
  public struct Settings: Sendable, Hashable, Codable {
    public var precision: ServingPrecision
    public var kvPrecision: KVCachePrecision
    /// Share of the device memory the engine may use for everything (vLLM
    /// `--gpu-memory-utilization`, default 0.9).
    public var gpuMemoryUtilization: Double
    /// Tokens per KV-cache block (vLLM `--block-size`, default 16): a sequence holds
    /// ⌈(input + output)/16⌉ blocks (PagedAttention, Kwon et al. 2023 §4.1).
    public var blockTokens: Int
    /// Most prompt tokens one prefill pass processes (vLLM `max_num_batched_tokens` with chunked
    /// prefill, 8,192 in vLLM V1): the activation workspace is sized for this chunk.
    public var maxBatchedTokens: Int

    public init(
      precision: ServingPrecision = .bf16, kvPrecision: KVCachePrecision = .bf16,
      gpuMemoryUtilization: Double = 0.9, blockTokens: Int = 16, maxBatchedTokens: Int = 8192
    ) {
      self.precision = precision
      self.kvPrecision = kvPrecision
      self.gpuMemoryUtilization = gpuMemoryUtilization
      self.blockTokens = blockTokens
      self.maxBatchedTokens = maxBatchedTokens
    }
  }

  /// A serving layout: t tensor-parallel ranks × p pipeline stages = one replica.
  public struct Layout: Sendable, Hashable, Codable {
    public var tensor: Int
    public var pipeline: Int
    public init(tensor: Int, pipeline: Int) {
      self.tensor = tensor
      self.pipeline = pipeline
    }
    public var gpus: Int { tensor * pipeline }
  }

  public var model: TransformerModel
  public var gpu: GPU
  public var settings: Settings
  public var constants: PerformanceConstants

  public init(
    model: TransformerModel, gpu: GPU, settings: Settings = .init(),
    constants: PerformanceConstants? = nil
  ) {
    // Serving runs the forward pass only: no dropout, no FP8 training recipe, and fused (flash)
    // attention, as vLLM and TensorRT-LLM run it.
    var served = model
    served.dropout = .none
    served.fp8 = nil
    served.fusedAttention = true
    self.model = served
    self.gpu = gpu
    self.settings = settings
    self.constants = constants ?? .forGeneration(gpu.generation)
  }

  /// Bytes of one activation element: serving runs 16-bit activations.
  static let activationBytes = 2.0
  /// Bytes of one 16-bit weight (embeddings, norms, biases, output layer).
  static let denseWeightBytes = 2.0

  // MARK: - Validation

  /// Throws when t or p cannot shard this model: t must divide the attention heads (Megatron
  /// and vLLM split heads evenly) and either divide the KV groups or be a multiple of them (vLLM
  /// replicates KV heads when t > g); p must not exceed the layers.
  public func validate(_ layout: Layout) throws {
    let t = layout.tensor, p = layout.pipeline
    guard t >= 1, p >= 1 else {
      throw ConfigError("tensor and pipeline sizes must be positive, found t \(t), p \(p)")
    }
    guard model.heads % t == 0 else {
      throw ConfigError(
        "tensor parallel size \(t) does not divide num_attention_heads \(model.heads)",
        key: "--tensor")
    }
    let g = model.queryGroups
    guard g > 0, g % t == 0 || t % g == 0 else {
      throw ConfigError(
        "tensor parallel size \(t) neither divides nor is a multiple of num_query_groups \(g)",
        key: "--tensor")
    }
    guard p <= model.layers else {
      throw ConfigError(
        "pipeline parallel size \(p) exceeds num_layers \(model.layers)", key: "--pipeline")
    }
  }

  /// Throws when the workload cannot run on this model.
  public func validate(_ w: Workload) throws {
    guard w.input >= 1, w.output >= 1, w.batch >= 1 else {
      throw ConfigError("input, output and batch must be positive")
    }
    if model.learnedPositionEmbeddings && w.input + w.output > model.maxPositionEmbeddings {
      throw ConfigError(
        "input + output = \(w.input + w.output) tokens exceeds max_position_embeddings \(model.maxPositionEmbeddings) of a learned position table",
        key: "--input")
    }
  }

  // MARK: - Shapes

  /// KV heads each tensor-parallel rank holds: g/t, or one replicated head when t > g (vLLM's
  /// `QKVParallelLinear` replicates KV heads so that each rank has one).
  public func kvHeadsPerGPU(tensor t: Int) -> Int {
    model.queryGroups >= t ? model.queryGroups / max(1, t) : 1
  }

  /// KV heads are replicated over the tensor-parallel ranks (t > g).
  public func kvHeadsReplicated(tensor t: Int) -> Bool { t > model.queryGroups }

  /// The four linear weights of one layer on one tensor-parallel rank, as [k, n] (k inputs, n
  /// outputs), from `LayerDescription`'s GEMMs: QKV h → (a/t + 2·g/t)·d_h (with replicated KV
  /// heads when t > g), projection a·d_h/t → h, fc1 h → f/t (2f/t gated), fc2 f/t → h.
  func linearShapes(tensor t: Int, layer: LayerDescription) -> [GEMMShape] {
    layer.gemms.filter { $0.kind == .weight }.map { g in
      var g = g
      if g.name == "qkv" {
        let width = (model.heads / max(1, t) + 2 * kvHeadsPerGPU(tensor: t)) * model.headDim
        g.n = Double(width)
      }
      g.fp8 = settings.precision.computesInFP8
      return g
    }
  }

  /// One layer's description for `tokens` = sequences × length on a rank of t.
  func layer(tensor t: Int, length: Int, sequences: Int) -> LayerDescription {
    var m = model
    m.sequenceLength = max(1, length)
    return LayerDescription(
      m, .init(tensor: t, sequenceParallel: false, sequences: Double(sequences), precision: .bf16))
  }

  /// Layers of stage i when L layers are split over p stages as evenly as they go (the first
  /// L mod p stages take one more; FasterTransformer and vLLM split unevenly when p ∤ L).
  public func layers(onStage i: Int, stages p: Int) -> Int {
    let p = max(1, p)
    return model.layers / p + (i < model.layers % p ? 1 : 0)
  }

  // MARK: - Memory

  /// Weight bytes of one layer on one rank: the quantised linear weights and their scales, plus
  /// the 16-bit column-parallel biases (/t) and the replicated norms and row-parallel biases.
  public func layerWeightBytes(tensor t: Int) -> Double {
    let layer = self.layer(tensor: t, length: 1, sequences: 1)
    let shapes = linearShapes(tensor: t, layer: layer)
    let precision = settings.precision
    var bytes = 0.0
    for g in shapes {
      bytes += g.k * g.n * precision.weightBytes + precision.scaleBytes(inputs: g.k, outputs: g.n)
    }
    // `LayerOp.Parameters`: sharded counts every column/row-parallel weight and column bias
    // whole; what is not a linear weight is a bias, split over t like its weight.
    let whole = LayerDescription(model, .whole(sequences: 1))
    let params = whole.parameters
    let linearWhole = whole.gemms.filter { $0.kind == .weight }.reduce(0.0) { $0 + $1.k * $1.n }
    let biases = max(0, params.sharded - linearWhole) / Double(max(1, t))
    bytes += (biases + params.replicated) * Self.denseWeightBytes
    return bytes
  }

  /// Weights outside the layers on stage i of p, 16-bit, as Megatron places them
  /// (`ParameterCount.perGPU`): the vocabulary-parallel word embedding (V·h/t), a learned
  /// position table and an embedding norm on the first stage; the final norm and the output
  /// layer (V·h/t, its own copy when untied or p > 1) on the last.
  func boundaryWeightBytes(stage i: Int, layout: Layout) -> Double {
    let t = Double(layout.tensor), h = Double(model.hidden), V = Double(model.vocabulary)
    let norm = Double(model.normalization.parametersPerFeature) * h
    var params = 0.0
    if i == 0 {
      params += V * h / t
      if model.learnedPositionEmbeddings { params += Double(model.maxPositionEmbeddings) * h }
      if model.embeddingNorm { params += norm }
    }
    if i == layout.pipeline - 1 {
      params += norm
      if !model.tiedEmbeddings || layout.pipeline > 1 { params += V * h / t }
    }
    return params * Self.denseWeightBytes
  }

  /// Tokens of one sequence's KV cache: input + output rounded up to whole blocks.
  public func cachedTokens(_ w: Workload) -> Double {
    let block = Double(max(1, settings.blockTokens))
    return (Double(w.input + w.output) / block).rounded(.up) * block
  }

  /// KV-cache bytes of one layer on one rank: 2 (K and V) · kv heads per rank · d_h · cached
  /// tokens · batch · bytes per element.
  public func layerKVCacheBytes(tensor t: Int, workload w: Workload) -> Double {
    2 * Double(kvHeadsPerGPU(tensor: t) * model.headDim) * cachedTokens(w) * Double(w.batch)
      * settings.kvPrecision.bytes
  }

  /// Activation workspace of the largest prefill chunk (min(batch × input, max batched
  /// tokens) tokens): the tensors alive at once in one layer's no-grad forward, the residual
  /// stream and the normed input (h each) plus the larger of the attention block (QKV output,
  /// attention output) and the MLP (fc1 output, activation output); plus the fp32 logits of
  /// the last token of each sequence (V/t each).
  public func activationBytes(tensor t: Int, workload w: Workload) -> Double {
    let chunk = Double(min(w.batch * w.input, max(1, settings.maxBatchedTokens)))
    let td = Double(max(1, t)), h = Double(model.hidden)
    let qkv = Double((model.heads / max(1, t) + 2 * kvHeadsPerGPU(tensor: t)) * model.headDim)
    let attention = qkv + Double(model.queryWidth) / td
    let mlp = Double(model.fc1Width + model.ffnHidden) / td
    let perToken = 2 * h + max(attention, mlp)
    return Self.activationBytes * chunk * perToken
      + 4 * Double(w.batch) * Double(model.vocabulary) / td
  }

  /// What CUDA and the libraries hold beside the tensors (`PeakMemory.Constants`): the CUDA
  /// context, cuBLAS workspaces, and NCCL buffers for the tensor-parallel and pipeline
  /// communicators when they exist.
  public func runtimeBytes(_ layout: Layout) -> Double {
    let nvls = gpu.generation != .ampere
    let communicators = (layout.tensor > 1 ? 1 : 0) + (layout.pipeline > 1 ? 1 : 0)
    return PeakMemory.Constants.cudaContextBytes
      + PeakMemory.Constants.cublasWorkspaceBytes(gpu)
      + Double(communicators) * PeakMemory.Constants.ncclBytesPerCommunicator(nvls: nvls)
  }

  /// Memory of the most loaded GPU, by term.
  public struct Memory: Sendable, Hashable, Codable {
    public var weights: Double
    public var kvCache: Double
    public var activations: Double
    public var runtime: Double
    public var capacity: Double
    public var total: Double { weights + kvCache + activations + runtime }
    public var fits: Bool { total <= capacity }
  }

  /// Memory per GPU for the stage that holds the most (the first or the last).
  public func memory(_ layout: Layout, _ w: Workload) -> Memory {
    let t = layout.tensor, p = max(1, layout.pipeline)
    let perLayer = layerWeightBytes(tensor: t)
    let kvPerLayer = layerKVCacheBytes(tensor: t, workload: w)
    func stage(_ i: Int) -> (weights: Double, kv: Double) {
      let n = Double(layers(onStage: i, stages: p))
      return (n * perLayer + boundaryWeightBytes(stage: i, layout: layout), n * kvPerLayer)
    }
    let first = stage(0), last = stage(p - 1)
    let worst = first.weights + first.kv >= last.weights + last.kv ? first : last
    return Memory(
      weights: worst.weights, kvCache: worst.kv,
      activations: activationBytes(tensor: t, workload: w),
      runtime: runtimeBytes(layout),
      capacity: gpu.memory.value * settings.gpuMemoryUtilization)
  }

  /// The largest batch of this workload's lengths that fits the layout (0 when none does).
  public func largestBatch(_ layout: Layout, _ w: Workload, limit: Int = 1 << 20) -> Int {
    var w = w
    func fits(_ b: Int) -> Bool {
      w.batch = b
      return memory(layout, w).fits
    }
    guard fits(1) else { return 0 }
    var low = 1, high = limit
    if fits(high) { return high }
    while high - low > 1 {
      let mid = low + (high - low) / 2
      if fits(mid) { low = mid } else { high = mid }
    }
    return low
  }

  // MARK: - Time

  /// `StepTimeModel` for this layout, whose GEMM, HBM and collective formulas serving reuses.
  func steps(_ layout: Layout) -> StepTimeModel {
    StepTimeModel(
      model: model,
      layout: MegatronPlan.Layout(
        tensor: layout.tensor, pipeline: layout.pipeline, microBatch: 1, globalBatch: 1),
      precision: .bf16, gpu: gpu, constants: constants)
  }

  /// Sustained rate of the linear GEMMs: the FP8 peak × `fp8GEMMEfficiency` for FP8 weights on
  /// a GPU with FP8 tensor cores, else the 16-bit peak × `gemmEfficiency` (weight-only INT8/INT4
  /// dequantise to 16-bit and compute there).
  var linearRate: FLOPsPerSecond {
    if settings.precision.computesInFP8, let peak8 = gpu.peak8 {
      return peak8 * constants.fp8GEMMEfficiency
    }
    return gpu.peak16 * constants.gemmEfficiency
  }

  /// The decode batch above which one step's linear GEMMs take longer than reading their
  /// weights: per weight a token costs 2 FLOPs and a step reads its bytes once, so b* = rate ·
  /// bytes per weight / (2 · HBM bandwidth × `hbmEfficiency`) (the roofline ridge point; the
  /// KV cache, read per sequence, never becomes compute-bound and is left out).
  public var rooflineCrossoverBatch: Double {
    linearRate.value * settings.precision.weightBytes
      / (2 * gpu.hbm.value * constants.hbmEfficiency)
  }

  /// Point-to-point transfer of `bytes` between adjacent pipeline stages (t ranks apart).
  func pipelineHop(_ steps: StepTimeModel, bytes: Double, tensor t: Int) -> Seconds {
    let (bandwidth, latency) = steps.link(size: 2, stride: t)
    return Bytes(bytes) / bandwidth + latency
  }

  /// Time to first token: the prefill of all b prompts, layer after layer on every stage (one
  /// batch in flight). Per layer: the linear GEMMs over b·input tokens at the GEMM efficiency
  /// (`StepTimeModel.time(of:)`), but never faster than reading the layer's weights from HBM;
  /// flash attention over the prompt (`attentionCoreForward`); norms, activation and residual
  /// adds at HBM bandwidth; two tensor-parallel all-reduces of the b·input·h output. Then the
  /// output layer for the last token of each sequence and p − 1 pipeline hops.
  public func timeToFirstToken(_ layout: Layout, _ w: Workload) -> Seconds {
    let t = layout.tensor, steps = self.steps(layout)
    let layer = self.layer(tensor: t, length: w.input, sequences: w.batch)
    var gemms = Seconds.zero
    for g in linearShapes(tensor: t, layer: layer) { gemms += steps.time(of: g) }
    let weights = steps.memoryBound(layerWeightBytes(tensor: t))
    var elementwise = 0.0
    for op in layer.ops where op.name != "attention_core" { elementwise += op.elementwiseBytes }
    let tokens = Double(w.batch * w.input)
    let activation = Self.activationBytes * tokens * Double(model.hidden)
    let perLayer =
      max(gemms, weights) + steps.attentionCoreForward(layer) + steps.memoryBound(elementwise)
      + steps.allReduce(activation, n: t, stride: 1) * 2
    let hops = pipelineHop(steps, bytes: activation, tensor: t) * Double(layout.pipeline - 1)
    return perLayer * Double(model.layers) + outputLayer(steps, layout, batch: w.batch) + hops
  }

  /// The output layer for b tokens: 2·b·h·V/t FLOPs against reading its V·h/t 16-bit weights.
  func outputLayer(_ steps: StepTimeModel, _ layout: Layout, batch: Int) -> Seconds {
    let hv = Double(model.hidden) * Double(model.vocabulary) / Double(max(1, layout.tensor))
    let compute = FLOPs(2 * Double(batch) * hv) / (gpu.peak16 * constants.gemmEfficiency)
    return max(compute, steps.memoryBound(Self.denseWeightBytes * hv))
  }

  /// One decode step, by part. Per layer on one rank: the linear weights and the KV cache of the
  /// b sequences are read from HBM once (the cache at its mean length over the output, input +
  /// output/2); the linear GEMMs (2 FLOPs per weight per token) and attention (4·(a/t)·d_h FLOPs
  /// per cached token per sequence) compute meanwhile; the layer takes the longer of the two (a
  /// roofline; CUDA graphs hide kernel launches, so no fixed cost per GEMM), plus two
  /// tensor-parallel all-reduces of b·h. Then the output layer and p − 1 hops of b·h.
  public struct DecodeStep: Sendable, Hashable, Codable {
    public var memorySeconds: Double
    public var computeSeconds: Double
    public var communicationSeconds: Double
    public var outputLayerSeconds: Double
    public var total: Double {
      max(memorySeconds, computeSeconds) + communicationSeconds + outputLayerSeconds
    }
    /// The step is bound by reading weights and cache rather than by arithmetic.
    public var memoryBound: Bool { memorySeconds >= computeSeconds }
  }

  public func decodeStep(_ layout: Layout, _ w: Workload) -> DecodeStep {
    let t = layout.tensor, steps = self.steps(layout), L = Double(model.layers)
    let b = Double(w.batch)
    let context = Double(w.input) + Double(w.output) / 2
    let kvHeads = Double(kvHeadsPerGPU(tensor: t))
    let kvRead = 2 * kvHeads * Double(model.headDim) * context * b * settings.kvPrecision.bytes
    let memory = steps.memoryBound(layerWeightBytes(tensor: t) + kvRead) * L
    let layer = self.layer(tensor: t, length: 1, sequences: 1)
    let linearWeights = linearShapes(tensor: t, layer: layer).reduce(0.0) { $0 + $1.k * $1.n }
    let linear = FLOPs(2 * b * linearWeights) / linearRate
    let headsHere = Double(model.heads / max(1, t))
    let attentionFLOPs = FLOPs(4 * b * headsHere * Double(model.headDim) * context)
    let attention = attentionFLOPs / (gpu.peak16 * constants.attentionGEMMEfficiency)
    let compute = (linear + attention) * L
    let activation = Self.activationBytes * b * Double(model.hidden)
    let comm =
      steps.allReduce(activation, n: t, stride: 1) * (2 * L)
      + pipelineHop(steps, bytes: activation, tensor: t) * Double(layout.pipeline - 1)
    return DecodeStep(
      memorySeconds: memory.value, computeSeconds: compute.value,
      communicationSeconds: comm.value,
      outputLayerSeconds: outputLayer(steps, layout, batch: w.batch).value)
  }

  /// Everything megaplan reports for one layout and workload.
  public struct Point: Sendable, Hashable, Codable {
    public var layout: Layout
    public var workload: Workload
    public var memory: Memory
    public var largestBatch: Int
    public var ttft: Double
    public var decode: DecodeStep
    /// TTFT + (output − 1) × TPOT: the first token comes out of the prefill.
    public var endToEnd: Double { ttft + Double(max(0, workload.output - 1)) * decode.total }
    /// Output tokens per second of one replica: b · output / end-to-end.
    public var tokensPerSecond: Double {
      Double(workload.batch * workload.output) / max(endToEnd, .leastNonzeroMagnitude)
    }
    public var tokensPerSecondPerGPU: Double { tokensPerSecond / Double(max(1, layout.gpus)) }
  }

  public func evaluate(_ layout: Layout, _ w: Workload) throws -> Point {
    try validate(layout)
    try validate(w)
    return point(layout, w, largestBatch: true)
  }

  /// `evaluate` without validation; the largest batch (a search) only when asked for.
  func point(_ layout: Layout, _ w: Workload, largestBatch withLargest: Bool) -> Point {
    Point(
      layout: layout, workload: w, memory: memory(layout, w),
      largestBatch: withLargest ? largestBatch(layout, w) : 0,
      ttft: timeToFirstToken(layout, w).value, decode: decodeStep(layout, w))
  }
}
