import Foundation

/// Inference sizing of one model on one GPU type: memory per GPU, time to first token (prefill)
/// and time per output token (decode) for a tensor- and pipeline-parallel layout and a batch of
/// requests. The same `TransformerModel` megaplan trains with; the layer's GEMM shapes come from
/// `LayerDescription` and every time from `Machine`'s primitives (GEMMs, HBM
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

  /// Serving-engine settings: the engine (`ServingEngine`, vLLM by default) and what it is
  /// told.
  public struct Settings: Sendable, Hashable, Codable {
    public var precision: ServingPrecision
    public var kvPrecision: KVCachePrecision
    /// Share of the device memory the engine may use for everything (vLLM
    /// `--gpu-memory-utilization`, default 0.9).
    public var gpuMemoryUtilization: Double
    /// The engine whose kernels, graphs, all-reduce and scheduling the times follow, with its
    /// settings (`ServingEngine.profile` unless changed).
    public var profile: EngineProfile
    public var engine: ServingEngine { profile.engine }
    /// Decode steps replay as CUDA graphs (the engine's default unless set).
    public var cudaGraphs: Bool
    /// Tokens per KV-cache block (the engine's: vLLM `--block-size` 16, TensorRT-LLM 64,
    /// SGLang 1): a sequence holds ⌈(input + output)/block⌉ blocks (PagedAttention, Kwon et al.
    /// 2023 §4.1); 0 for a static cache of exactly input + output tokens.
    public var blockTokens: Int
    /// Most prompt tokens one step prefills (chunked prefill's budget: vLLM V1
    /// `max_num_batched_tokens` 8,192, TensorRT-LLM `max_num_tokens`, SGLang
    /// `chunked_prefill_size`); nil: the whole batch in one pass. The activation workspace is
    /// sized for this chunk.
    public var maxBatchedTokens: Int?

    public init(
      precision: ServingPrecision = .bf16, kvPrecision: KVCachePrecision = .bf16,
      gpuMemoryUtilization: Double = 0.9, engine: ServingEngine = .vllm, cudaGraphs: Bool? = nil
    ) {
      self.precision = precision
      self.kvPrecision = kvPrecision
      self.gpuMemoryUtilization = gpuMemoryUtilization
      let profile = engine.profile
      self.profile = profile
      self.cudaGraphs = cudaGraphs ?? profile.cudaGraphs
      self.blockTokens = profile.kvBlockTokens
      self.maxBatchedTokens = profile.maxBatchedTokens
    }
  }

  /// A serving layout: t tensor-parallel ranks × p pipeline stages = one replica. For MoE layers
  /// the t ranks of a stage also hold the experts, as serving engines shard them: EP of them
  /// each hold E/EP whole experts' worth, each expert split over ETP = t/EP ranks. EP = 1 (every
  /// expert tensor-parallel over the t ranks) is vLLM's and TensorRT-LLM's default
  /// (`moe_tp_size` = tp); EP = t is vLLM's `--enable-expert-parallel`. EP beyond t spreads the
  /// experts over D = EP/t attention replicas, each its own t GPUs with its own requests (data-
  /// parallel attention: vLLM's `--data-parallel-size D --enable-expert-parallel`, where EP =
  /// TP × DP; SGLang's `--enable-dp-attention`; TensorRT-LLM's `enable_attention_dp`): a
  /// replica is then t·p·D GPUs, and every MoE layer dispatches tokens to their experts' GPUs
  /// and combines them back (all-to-all).
  public struct Layout: Sendable, Hashable, Codable {
    public var tensor: Int
    public var pipeline: Int
    /// EP: over the t ranks of a stage, or over D attention replicas of t ranks each (1 for
    /// dense models).
    public var expertParallel: Int
    public init(tensor: Int, pipeline: Int, expertParallel: Int = 1) {
      self.tensor = tensor
      self.pipeline = pipeline
      self.expertParallel = expertParallel
    }
    /// D: attention replicas the experts span (EP/t when EP exceeds t, else 1).
    public var attentionDataParallel: Int {
      expertParallel > tensor ? expertParallel / max(1, tensor) : 1
    }
    public var gpus: Int { tensor * pipeline * attentionDataParallel }
    /// ETP = t/EP: the ranks each expert's MLP is split over (1 with data-parallel attention).
    public var expertTensor: Int { max(1, tensor / max(1, expertParallel)) }
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
    // Serving engines route dropless (vLLM's and TensorRT-LLM's fused MoE kernels process
    // every token's k experts): a training capacity factor does not apply.
    if var experts = served.moe {
      experts.capacityFactor = nil
      experts.padToCapacity = false
      served.moe = experts
    }
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
  /// replicates KV heads when t > g); p must not exceed the layers. For MoE, EP must divide t
  /// and the experts, and ETP = t/EP the expert MLP's width (vLLM's
  /// `intermediate_size_per_partition`); a dense model takes EP 1 only.
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
    let ep = layout.expertParallel
    guard let experts = model.moe else {
      guard ep == 1 else {
        throw ConfigError(
          "expert parallel size \(ep) needs a mixture-of-experts model; this one is dense",
          key: "--expert-parallel")
      }
      return
    }
    guard ep >= 1, t % ep == 0 || ep % t == 0 else {
      throw ConfigError(
        "expert parallel size \(ep) neither divides tensor parallel size \(t) (experts spread over a stage's t ranks) nor is a multiple of it (over EP/t data-parallel attention replicas)",
        key: "--expert-parallel")
    }
    guard experts.experts % ep == 0 else {
      throw ConfigError(
        "expert parallel size \(ep) does not divide num_moe_experts \(experts.experts)",
        key: "--expert-parallel")
    }
    let etp = layout.expertTensor
    guard experts.expertFFN % etp == 0 else {
      throw ConfigError(
        "expert tensor parallel size t/EP = \(etp) does not divide moe_ffn_hidden_size \(experts.expertFFN)",
        key: "--expert-parallel")
    }
  }

  /// Throws when the engine cannot serve the settings: a weight format it has no path for (plain
  /// PyTorch: 16-bit and FP8 only), NVFP4 without FP4 tensor cores (before Blackwell), FP8 KV
  /// caches or weights in plain PyTorch on a GPU without FP8 (A100).
  public func validateSettings() throws {
    let p = settings.precision, engine = settings.engine
    guard settings.profile.precisions.contains(p) else {
      let allowed = ServingPrecision.allCases.filter { settings.profile.precisions.contains($0) }
      throw ConfigError(
        "\(engine.displayName) does not serve \(p.rawValue) weights (it serves \(allowed.map(\.rawValue).joined(separator: ", ")))",
        key: "--precision")
    }
    if p.computesInFP4 && gpu.peak4 == nil {
      throw ConfigError(
        "nvfp4 weights need FP4 tensor cores (Blackwell); \(gpu.displayName) has none: use fp8 or int4",
        key: "--precision")
    }
    if engine == .pytorch && p == .fp8 && gpu.peak8 == nil {
      throw ConfigError(
        "plain PyTorch runs fp8 weights with torch._scaled_mm, which needs FP8 tensor cores; \(gpu.displayName) has none",
        key: "--precision")
    }
  }

  /// Throws when the workload cannot run on this model.
  public func validate(_ w: Workload) throws {
    guard w.input >= 1, w.output >= 1, w.batch >= 1 else {
      throw ConfigError("input, output and batch must be positive")
    }
    // The context: a learned table's rows, or the length rotary positions were trained (or
    // extended) to; ALiBi's biases are defined at any distance and are not bounded here.
    let context = model.maxPositionEmbeddings
    let tokens = w.input + w.output
    switch model.positionEmbedding {
    case .learnedAbsolute where tokens > context:
      throw ConfigError(
        "input + output = \(tokens) tokens exceeds max_position_embeddings \(context), the rows of a learned position table: shorten --input or --output to \(context) tokens together",
        key: "--input")
    case .rotary where tokens > context:
      throw ConfigError(
        "input + output = \(tokens) tokens exceeds the model's context, max_position_embeddings \(context) (rotary positions): shorten --input or --output, or, for a model trained or extended to a longer context, --set model.max_position_embeddings=N",
        key: "--input")
    default: break
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

  /// The linear weights of one layer on one rank, as [k, n] (k inputs, n outputs), from
  /// `LayerDescription`'s GEMMs: QKV h → (a/t + 2·g/t)·d_h (with replicated KV heads when t > g),
  /// projection a·d_h/t → h, fc1 h → f/t (2f/t gated), fc2 f/t → h; in an MoE layer the router
  /// h → E (replicated, 16-bit: serving engines do not quantise the gate, and every rank routes
  /// all its tokens, so its m is the layer's tokens), one local expert's fc1 h → f_e/ETP and fc2
  /// f_e/ETP → h (m: the token copies routed to this rank's experts), and shared experts as a
  /// dense MLP.
  func linearShapes(tensor t: Int, layer: LayerDescription) -> [GEMMShape] {
    layer.gemms.filter { $0.kind == .weight }.map { g in
      var g = g
      if g.op == .qkv {
        let width = (model.heads / max(1, t) + 2 * kvHeadsPerGPU(tensor: t)) * model.headDim
        g.n = Double(width)
      }
      g.fp8 = settings.precision.computesInFP8
      if g.op == .router {
        // `LayerDescription` routes the sequence-parallel shard (T/t tokens); serving runs
        // without sequence parallelism, so each rank routes all T.
        g.m *= Double(max(1, t))
        g.fp8 = false
      }
      return g
    }
  }

  /// Whether a GEMM of `linearShapes` is a routed expert's (its weights are held E/EP times and
  /// read only for the experts a step's tokens touch).
  static func isExpert(_ g: GEMMShape) -> Bool { g.op?.isExpertGEMM ?? false }

  /// One layer's description for `tokens` = sequences × length on a rank of `layout` (an MoE
  /// layer with `moe`, a sliding-window one with `sliding`), sized for the busiest rank
  /// (`MixtureOfExperts.imbalance`).
  func layer(
    _ layout: Layout, length: Int, sequences: Double, moe: Bool = false, sliding: Bool = false
  ) -> LayerDescription {
    var m = model
    m.sequenceLength = max(1, length)
    return LayerDescription(
      m,
      .init(
        tensor: layout.tensor, sequenceParallel: false, sequences: sequences,
        precision: .bf16, expertParallel: layout.expertParallel,
        expertTensor: layout.expertTensor, busiest: true),
      moe: moe, sliding: sliding)
  }

  /// Layers of stage i when L layers are split over p stages as evenly as they go (the first
  /// L mod p stages take one more; FasterTransformer and vLLM split unevenly when p ∤ L).
  public func layers(onStage i: Int, stages p: Int) -> Int {
    let p = max(1, p)
    return model.layers / p + (i < model.layers % p ? 1 : 0)
  }

  /// The layer indices of stage i (see `layers(onStage:stages:)`).
  func layerRange(onStage i: Int, stages p: Int) -> Range<Int> {
    let p = max(1, p)
    let start = i * (model.layers / p) + min(i, model.layers % p)
    return start..<(start + layers(onStage: i, stages: p))
  }

  // MARK: - Memory

  /// The weights of one layer on one rank, in bytes: `shared` is what every step reads (the
  /// attention's linear weights, the dense MLP or the shared experts, the router, norms and
  /// biases); `expert` is one local routed expert's slice (its fc1 and fc2 over ETP, with their
  /// scales and biases), held `localExperts` = E/EP times; 0 and 0 in a dense layer.
  public struct LayerWeights: Sendable, Hashable, Codable {
    public var shared: Double
    public var expert: Double
    public var localExperts: Int
    public var total: Double { shared + expert * Double(localExperts) }
  }

  /// Weight bytes of one layer (an MoE layer with `moe`) on one rank of `layout`: the quantised
  /// linear weights and their scales, the 16-bit column-parallel biases (/t) and the replicated
  /// norms and row-parallel biases, the 16-bit router.
  public func layerWeights(_ layout: Layout, moe: Bool = false) -> LayerWeights {
    let t = layout.tensor
    let shapes = linearShapes(tensor: t, layer: layer(layout, length: 1, sequences: 1, moe: moe))
    let precision = settings.precision
    var shared = 0.0, expert = 0.0
    for g in shapes {
      if g.op == .router {
        shared += g.k * g.n * Self.denseWeightBytes
      } else if Self.isExpert(g) {
        expert +=
          g.k * g.n * precision.weightBytes + precision.scaleBytes(inputs: g.k, outputs: g.n)
      } else {
        shared +=
          g.k * g.n * precision.weightBytes + precision.scaleBytes(inputs: g.k, outputs: g.n)
      }
    }
    // `LayerOp.Parameters` of the whole layer: what is neither a linear weight nor the router is
    // a bias (split over t like its weight) or a norm (replicated).
    let whole = LayerDescription(model, .whole(sequences: 1), moe: moe)
    let params = whole.parameters
    let wholeLinear = whole.gemms.filter { $0.kind == .weight && $0.op != .router }
    let sharedLinear = wholeLinear.filter { !Self.isExpert($0) }.reduce(0.0) { $0 + $1.k * $1.n }
    let router = whole.gemms.filter { $0.op == .router }.reduce(0.0) { $0 + $1.k * $1.n }
    let biases = max(0, params.sharded - sharedLinear) / Double(max(1, t))
    shared += (biases + max(0, params.replicated - router)) * Self.denseWeightBytes
    var local = 0
    if moe, let experts = model.moe, model.linearBiases {
      // A biased expert: fc1's bias splits over ETP with its outputs, fc2's (h) is whole.
      let fc1 = Double(model.gatedMLP ? 2 * experts.expertFFN : experts.expertFFN)
      expert += (fc1 / Double(layout.expertTensor) + Double(model.hidden)) * Self.denseWeightBytes
    }
    if moe, let experts = model.moe { local = experts.experts / max(1, layout.expertParallel) }
    return LayerWeights(shared: shared, expert: moe ? expert : 0, localExperts: local)
  }

  /// Weight bytes of one dense layer on one rank of tensor-parallel size t.
  public func layerWeightBytes(tensor t: Int) -> Double {
    layerWeights(Layout(tensor: t, pipeline: 1)).total
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

  /// Tokens of one sequence's KV cache in a sliding-window layer: the window's W most recent
  /// positions, in the blocks that hold them — ⌈W/block⌉ + 1 blocks, as the window need not
  /// start at a block's start (vLLM `SlidingWindowSpec.max_memory_usage_bytes`, vllm/v1/
  /// kv_cache_interface.py, with one new token per step; TensorRT-LLM likewise sizes a
  /// window layer's cyclic cache by its `max_attention_window`); a static cache keeps W
  /// positions (transformers' sliding-window cache layers) — or all of them when fewer.
  public func slidingCachedTokens(_ w: Workload, window: AttentionWindow) -> Double {
    let all = cachedTokens(w)
    let size = Double(window.size)
    guard settings.blockTokens > 0 else { return min(all, size) }
    let block = Double(settings.blockTokens)
    return min(all, ((size / block).rounded(.up) + 1) * block)
  }

  /// KV-cache bytes of one layer on one rank: 2 (K and V) · kv heads per rank · d_h · cached
  /// tokens · batch · bytes per element; a sliding-window layer caches its window
  /// (`slidingCachedTokens`). MoE layers cache as dense ones (the experts replace the MLP, not
  /// the attention).
  public func layerKVCacheBytes(tensor t: Int, workload w: Workload, sliding: Bool = false)
    -> Double
  {
    var tokens = cachedTokens(w)
    if sliding, let window = model.attentionWindow {
      tokens = slidingCachedTokens(w, window: window)
    }
    return 2 * Double(kvHeadsPerGPU(tensor: t) * model.headDim) * tokens * Double(w.batch)
      * settings.kvPrecision.bytes
  }

  /// Activation workspace of the largest prefill chunk (min(batch × input, max batched
  /// tokens) tokens): the tensors alive at once in one layer's no-grad forward, the residual
  /// stream and the normed input (h each) plus the larger of the attention block (QKV output,
  /// attention output) and the MLP (fc1 output, activation output); in an MoE layer the MLP is
  /// the k·imbalance/EP token copies routed to this rank (each its permuted input h and its
  /// expert's fc1 and activation outputs over ETP) plus the shared experts'; plus the fp32
  /// logits of the last token of each sequence (V/t each).
  public func activationBytes(_ layout: Layout, workload w: Workload) -> Double {
    let t = layout.tensor
    let chunk = Double(min(w.batch * w.input, max(1, settings.maxBatchedTokens ?? Int.max)))
    let td = Double(max(1, t)), h = Double(model.hidden)
    let qkv = Double((model.heads / max(1, t) + 2 * kvHeadsPerGPU(tensor: t)) * model.headDim)
    let attention = qkv + Double(model.queryWidth) / td
    var mlp = Double(model.fc1Width + model.ffnHidden) / td
    if let experts = model.moe {
      let fe = Double(experts.expertFFN), fe1 = model.gatedMLP ? 2 * fe : fe
      let copies = experts.routedFactor / Double(max(1, layout.expertParallel))
      let fs = Double(experts.sharedExpertFFN), fs1 = model.gatedMLP ? 2 * fs : fs
      let routed = copies * (h + (fe1 + fe) / Double(layout.expertTensor)) + (fs1 + fs) / td
      // Dense layers keep their MLP (DeepSeek's first layers): the larger of the two.
      mlp = model.layerKinds(in: 0..<model.layers).denseLayers > 0 ? max(mlp, routed) : routed
    }
    let perToken = 2 * h + max(attention, mlp)
    return Self.activationBytes * chunk * perToken
      + 4 * Double(w.batch) * Double(model.vocabulary) / td
  }

  /// `activationBytes` of a dense model on a rank of tensor-parallel size t.
  public func activationBytes(tensor t: Int, workload w: Workload) -> Double {
    activationBytes(Layout(tensor: t, pipeline: 1), workload: w)
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
    /// The routed experts' share of `weights` (0 for a dense model).
    public var expertWeights: Double = 0
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
    let dense = layerWeights(layout)
    let sparse = model.moe == nil ? dense : layerWeights(layout, moe: true)
    // With data-parallel attention each replica of it holds its share of the requests.
    var group = w
    group.batch = (w.batch + layout.attentionDataParallel - 1) / layout.attentionDataParallel
    let kvPerLayer = layerKVCacheBytes(tensor: t, workload: group)
    let kvPerSlidingLayer = layerKVCacheBytes(tensor: t, workload: group, sliding: true)
    func stage(_ i: Int) -> (weights: Double, experts: Double, kv: Double) {
      let range = layerRange(onStage: i, stages: p)
      let kinds = model.layerKinds(in: range)
      // Serving attends over the whole context, so the window limits every layer it covers,
      // whatever the training sequence length.
      let sliding = Double(model.attentionWindow?.windowedLayers(in: range) ?? 0)
      let n = Double(kinds.total)
      let experts = Double(kinds.moeLayers) * sparse.expert * Double(sparse.localExperts)
      return (
        Double(kinds.denseLayers) * dense.total + Double(kinds.moeLayers) * sparse.total
          + boundaryWeightBytes(stage: i, layout: layout), experts,
        (n - sliding) * kvPerLayer + sliding * kvPerSlidingLayer
      )
    }
    var worst = stage(0)
    if p > 1 {
      // The first stage holds the embedding, the last the output layer; an MoE model's split
      // can leave any stage with the most MoE layers.
      for i in 1..<p {
        let s = stage(i)
        if s.weights + s.kv > worst.weights + worst.kv { worst = s }
      }
    }
    return Memory(
      weights: worst.weights, expertWeights: worst.experts, kvCache: worst.kv,
      activations: activationBytes(layout, workload: group),
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

  // MARK: - Experts a step reads

  /// Expected routed experts whose weights one rank reads in a step of `tokens` tokens, on the
  /// rank that reads the most: each token picks k of the E experts; routing is taken as uniform
  /// and independent across tokens (what the load-balancing loss aims for), so an expert is
  /// touched with probability P = 1 − (1 − k/E)^tokens. With EP = 1 every rank holds a slice of
  /// all E experts and reads E·P of them. With EP > 1 a rank holds n = E/EP and the step waits for
  /// the rank that touches the most: E[max of EP counts], each count taken as Binomial(n, P)
  /// (touches of distinct experts are slightly anti-correlated; the binomial is the independent
  /// approximation): Σ_{x=1..n} (1 − F(x − 1)^EP), F the binomial CDF, and at least 1 for a step
  /// of one token or more (every token reaches some rank's experts; the independent
  /// approximation alone gives 1 − (1 − P)^EP < 1 for n = 1). For E = 8, EP = 2, k = 2, one
  /// token the exact answer is 1 + C(4,2)·2/C(8,2) = 1.43 and this gives 1.46.
  public func expertsRead(tokens: Double, expertParallel ep: Int) -> Double {
    guard let experts = model.moe else { return 0 }
    let E = Double(experts.experts), k = Double(min(experts.topK, experts.experts))
    let untouched = pow(max(0, 1 - k / E), max(0, tokens))
    let P = 1 - untouched
    let n = experts.experts / max(1, ep)
    if ep <= 1 || n == 0 { return Double(n) * P }
    if P >= 1 { return Double(n) }
    if P <= 0 { return 0 }
    // Binomial(n, P) probabilities in log space (no underflow for P near 0 or 1).
    let logP = log(P), logQ = log(1 - P)
    var cdf = 0.0, expectedMax = 0.0
    for x in 0..<n {
      let logChoose = lgamma(Double(n) + 1) - lgamma(Double(x) + 1) - lgamma(Double(n - x) + 1)
      cdf = min(1, cdf + exp(logChoose + Double(x) * logP + Double(n - x) * logQ))
      // P(max ≥ x + 1) = 1 − P(every rank ≤ x) = 1 − F(x)^EP.
      expectedMax += 1 - pow(cdf, Double(ep))
    }
    return tokens >= 1 ? max(1, expectedMax) : expectedMax
  }

}

/// The training layout type, named apart from `ServingModel.Layout` (without the module name, so
/// the sources also build as the fuzzers' module).
typealias TrainingLayout = Layout
