/// How activations are recomputed (NeMo `activations_checkpoint_granularity`, `_method`,
/// `_num_layers`; Megatron `--recompute-granularity`, `--recompute-method`, `--recompute-num-layers`).
public enum Recompute: Sendable, Hashable, Codable, CustomStringConvertible {
  /// Keep every activation (K22 Table 2 rows 1–3).
  case none
  /// Recompute only the attention core: QKᵀ, softmax, softmax dropout, attention over V (K22 §5).
  case selective
  /// Checkpoint layer inputs and rerun whole layers in backward (K22 Table 2 last row; N21 §3.5).
  case full(method: RecomputeMethod, layers: Int)

  /// The name used in reports and JSON (`layout.recompute`).
  public var name: String {
    switch self {
    case .none: "none"
    case .selective: "selective"
    case .full: "full"
    }
  }

  public var description: String {
    switch self {
    case .full(let method, let k): "full (\(method.rawValue), \(k) layer\(k == 1 ? "" : "s"))"
    default: name
    }
  }
}

extension Recompute {
  /// Its granularity: what a layer being recomputed keeps.
  public var granularity: RecomputeGranularity {
    switch self {
    case .none: .none
    case .selective: .selective
    case .full: .full
    }
  }
}

/// Recompute granularity without the method and layer count: `full` covers full recompute of
/// every layer (`uniform`, 1 layer per group) and partial full recompute (`block`, k layers per
/// chunk). What a layer's per-granularity quantities are keyed by (`LayerMemory`), and the
/// search's constraint (`LayoutSearch.Granularity`).
public enum RecomputeGranularity: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
  case none
  case selective
  case full

  public static func < (a: Self, b: Self) -> Bool { a.order < b.order }
  var order: Int {
    switch self {
    case .none: 0
    case .selective: 1
    case .full: 2
    }
  }
}

/// Megatron's two ways to apply full recompute inside one model chunk (transformer block):
/// `uniform` checkpoints the input of every group of k consecutive layers and recomputes all of
/// them; `block` checkpoints (and recomputes) only the first k layers and keeps the rest.
/// (Megatron-LM `TransformerBlock._checkpointed_forward`.)
public enum RecomputeMethod: String, Sendable, Hashable, Codable, CaseIterable {
  case uniform
  case block
}

/// The parallel layout and batch of one training run (symbols of N21 §3.1).
public struct Layout: Sendable, Hashable, Codable {
  /// t: tensor-parallel size.
  public var tensor: Int
  /// p: pipeline-parallel size.
  public var pipeline: Int
  /// d: data-parallel size.
  public var data: Int
  /// v: model chunks per GPU with the interleaved schedule; 1 = not interleaved.
  public var virtualStages: Int
  /// b: micro-batch size.
  public var microBatch: Int
  /// B: global batch size (sequences per iteration).
  public var globalBatch: Int
  /// Megatron sequence parallelism (K22 §4.2.2); only meaningful with t > 1.
  public var sequenceParallel: Bool
  public var recompute: Recompute
  /// Megatron's distributed optimizer (ZeRO-1-style sharding of main weights and Adam state).
  public var distributedOptimizer: Bool
  /// How the layers are split over the pipeline stages (even unless the config says otherwise).
  public var split: PipelineSplit
  /// Fully sharded data parallelism (Megatron-FSDP, ZeRO-3-style): weights, gradients and
  /// optimizer states sharded over the d data-parallel ranks.
  public var fullySharded: Bool
  /// EP: expert-parallel size (`expert_model_parallel_size`): the experts of an MoE layer are
  /// split over EP ranks, E/EP each.
  public var expertParallel: Int
  /// ETP: expert tensor-parallel size (`expert_tensor_parallel_size`; t by default): each
  /// expert's MLP split over ETP ranks.
  public var expertTensorParallel: Int
  /// cp: context-parallel size (`context_parallel_size`, `--context-parallel-size`): every
  /// sequence is split over cp ranks, s/cp tokens each (`ContextParallelism`).
  public var contextParallel: Int
  /// How the cp ranks exchange keys and values in attention (`cp_comm_type`).
  public var contextParallelComm: ContextParallelComm
  /// What selective recompute reruns (`recompute_modules`; the core attention by default).
  /// Only read with `recompute == .selective`.
  public var recomputeModules: RecomputeModules = .standard

  public init(
    tensor: Int = 1, pipeline: Int = 1, data: Int = 1, virtualStages: Int = 1, microBatch: Int,
    globalBatch: Int, sequenceParallel: Bool = false, recompute: Recompute = .none,
    distributedOptimizer: Bool = false, split: PipelineSplit = .even, fullySharded: Bool = false,
    expertParallel: Int = 1, expertTensorParallel: Int? = nil, contextParallel: Int = 1,
    contextParallelComm: ContextParallelComm = .p2p
  ) {
    self.tensor = tensor
    self.pipeline = pipeline
    self.data = data
    self.virtualStages = virtualStages
    self.microBatch = microBatch
    self.globalBatch = globalBatch
    self.sequenceParallel = sequenceParallel
    self.recompute = recompute
    self.distributedOptimizer = distributedOptimizer
    self.split = split
    self.fullySharded = fullySharded
    self.expertParallel = expertParallel
    self.expertTensorParallel = expertTensorParallel ?? tensor
    self.contextParallel = contextParallel
    self.contextParallelComm = contextParallelComm
  }

  /// A search candidate keeps what the file chose beyond t, cp, p, d, v, b, SP and recompute:
  /// full sharding, the cp exchange type, EP, and ETP (the candidate's t when the file's ETP
  /// followed its t).
  public mutating func inheritSharding(from base: Layout) {
    fullySharded = base.fullySharded
    contextParallelComm = base.contextParallelComm
    expertParallel = base.expertParallel
    expertTensorParallel =
      base.expertTensorParallel == base.tensor ? tensor : base.expertTensorParallel
    recomputeModules = base.recomputeModules
  }

  /// The expert data-parallel size: the ranks holding the same experts, t·cp·d/(ETP·EP)
  /// (Megatron-Core's expert groups fold tensor, context and data parallelism: world =
  /// ETP·EP·EDP·p).
  public var expertData: Int {
    max(1, tensor * contextParallel * data / max(1, expertTensorParallel * expertParallel))
  }

  /// d·cp: the ranks that hold the same weights and reduce the same gradients (Megatron-Core's
  /// data-parallel group with context parallelism: the cp ranks of a sequence compute gradients
  /// of the same weights from different tokens). The distributed optimizer and full sharding
  /// shard states over it, and the gradient all-reduce or reduce-scatter runs over it; its
  /// members are t apart (rank order tp-cp-ep-dp-pp, `parallel_state.initialize_model_parallel`).
  public var dataParallelWithContext: Int { data * max(1, contextParallel) }

  /// Tokens of one microbatch on one GPU before sequence parallelism: s·b/cp.
  public func tokens(of model: TransformerModel) -> Double {
    Double(model.sequenceLength) * Double(microBatch) / Double(max(1, contextParallel))
  }

  /// Layers `[start, end)` of the whole model that chunk `chunk` of stage `i` holds: with v
  /// chunks per stage, model chunk j·p + i (Megatron's interleaved assignment); with an even
  /// split each holds L/(p·v) layers.
  public func layerRange(stage i: Int, chunk j: Int = 0, of model: TransformerModel) -> Range<Int> {
    let p = max(1, pipeline), v = max(1, virtualStages)
    if v == 1 {
      var start = 0
      for k in 0..<min(i, p) { start += layers(onStage: k, of: model) }
      return start..<(start + layers(onStage: i, of: model))
    }
    if let chunks = split.chunkLayers, chunks.count == p * v {
      // A flexible layout: chunk j·p + i holds its own number of layers.
      let start = split.firstLayer(ofChunk: j * p + i)
      return start..<(start + chunks[j * p + i])
    }
    let perChunk = layers(onStage: i, of: model) / v
    let start = (j * p + i) * perChunk
    return start..<(start + perChunk)
  }

  /// The layers of each kind on stage `i`, over all its chunks.
  public func layerKinds(onStage i: Int, of model: TransformerModel) -> LayerCounts {
    if let encoder = split.encoderLayers {
      // An encoder–decoder split (never interleaved): the encoder's stages, then the decoder's.
      let p = max(1, pipeline), r = split.encoderStages ?? 0
      guard p > 1, r > 0, r < p else {
        return LayerCounts(encoder: encoder, decoder: model.layers - encoder)
      }
      return i < r
        ? LayerCounts(encoder: encoder / r)
        : LayerCounts(decoder: (model.layers - encoder) / (p - r))
    }
    guard model.moe != nil || model.encoderDecoder != nil || model.hasSlidingLayers else {
      return LayerCounts(dense: layers(onStage: i, of: model))
    }
    var counts = LayerCounts()
    for j in 0..<max(1, virtualStages) {
      counts = counts + model.layerKinds(in: layerRange(stage: i, chunk: j, of: model))
    }
    return counts
  }

  /// The stages that can be the most loaded or the slowest, the one rule every evaluation
  /// uses (`Evaluator`): the first (the most microbatches in flight, the embedding) and the last
  /// (the output layer, the logits, the MTP layers); the stage after the first when a middle
  /// stage can differ from it (an uneven split holds other layer counts there; with MoE layers
  /// it can hold more expert layers than the first, which may hold the dense ones; with sliding-
  /// window layers, more full-attention ones); every stage of a flexible layout
  /// (`pipeline_model_parallel_layout`) and each stage of another mix of sliding-window and
  /// full-attention layers than those before it; and both sides of an
  /// encoder–decoder split (each stack's stages are alike but for its first and last). The
  /// other stages hold what the first holds less the embedding, with fewer microbatches in
  /// flight (`PipelineSchedule.chunksInFlight` decreases along the pipeline), so none needs
  /// more memory or time than one of these. Ascending.
  public func candidateStages(of model: TransformerModel) -> [Int] {
    let p = max(1, pipeline), last = p - 1
    guard p > 1 else { return [0] }
    let even = split.isEven
    let mixed = model.moe != nil || model.hasSlidingLayers
    if even && !mixed { return [0, last] }  // the common case, without a set
    var stages = [0]
    if last > 1 && (mixed || !even) { stages.append(1) }
    if last > 2 && split.chunkLayers != nil {
      stages += Array(2..<last)
    } else if last > 2 && model.hasSlidingLayers {
      // Sliding-window and full-attention layers alternate by layer index, so a middle stage
      // can hold another mix than stages 0 and 1: each distinct mix once (counted again rather
      // than kept, so the search allocates nothing more per layout).
      for i in 2..<last {
        let counts = layerKinds(onStage: i, of: model)
        if !stages.contains(where: { layerKinds(onStage: $0, of: model) == counts }) {
          stages.append(i)
        }
      }
    }
    if split.encoderLayers != nil, let r = split.encoderStages, r > 0, r < p {
      stages += [r - 1, r]
    }
    stages.append(last)
    var out: [Int] = []
    for i in stages.sorted() where out.last != i { out.append(i) }
    return out
  }

  /// Transformer layers on pipeline stage `i` (`PipelineSplit`).
  public func layers(onStage i: Int, of model: TransformerModel) -> Int {
    split.layers(onStage: i, of: model.layers, stages: pipeline)
  }

  /// n = t · cp · p · d.
  public var gpus: Int { tensor * contextParallel * pipeline * data }
  /// m = B / (b · d), microbatches per pipeline per iteration (N21 §3.2).
  public var microbatches: Int { globalBatch / max(1, microBatch * data) }
  /// Sequence parallelism takes effect only with tensor parallelism.
  public var effectiveSequenceParallel: Bool { sequenceParallel && tensor > 1 }
  public var interleaved: Bool { virtualStages > 1 }
}

/// Why a layout cannot run a model. Each case names the config keys involved so a config reader
/// can point at them, and search can count rejections by reason.
public enum LayoutViolation: Sendable, Hashable, CustomStringConvertible {
  case nonPositive(key: String, value: Int)
  case tensorDoesNotDivideHeads(tensor: Int, heads: Int)
  case pipelineDoesNotDivideLayers(pipeline: Int, layers: Int)
  case gpusNotDivisible(gpus: Int, tensor: Int, pipeline: Int, context: Int = 1)
  case batchNotDivisible(globalBatch: Int, microBatch: Int, data: Int)
  case virtualWithoutPipeline(virtual: Int)
  case virtualDoesNotDivideLayers(virtual: Int, layersPerStage: Int)
  case interleavedMicrobatches(microbatches: Int, pipeline: Int)
  case headsDoNotDivideHidden(heads: Int, hidden: Int)
  case recomputeLayersNegative(layers: Int)
  case groupsDoNotDivideHeads(groups: Int, heads: Int)
  case tensorDoesNotDivideGroups(tensor: Int, groups: Int)
  case unevenSplit(String)
  case expertsNotDivisible(experts: Int, expertParallel: Int)
  case expertGroupsNotDivisible(tensorTimesData: Int, expertTensor: Int, expertParallel: Int)
  case moeNeedsSequenceParallel(tensor: Int)
  case contextNeedsFusedAttention(context: Int)
  case sequenceNotDivisibleByContext(sequence: Int, context: Int)
  case contextShardNotDivisibleByTensor(localSequence: Int, tensor: Int)
  case contextDoesNotDivideHeads(headsPerRank: Int, groupsPerRank: Int, context: Int)
  case hierarchicalContextSizes(a2a: Int, context: Int)
  /// Transformer Engine's fused attention runs a sliding window with context parallelism only
  /// over `a2a` or `all_gather`, and attention sinks only over `a2a`.
  case contextCommForAttention(comm: String, feature: String, allowed: String)
  /// An encoder–decoder model's own rules (its encoder stack's heads, its pipeline, context
  /// parallelism): the key and the message.
  case encoderDecoder(key: String, message: String)

  /// Whether the rule involves the batch or the data-parallel size (checked once the GPU count
  /// is known).
  public var dependsOnBatch: Bool {
    switch self {
    case .batchNotDivisible, .interleavedMicrobatches, .gpusNotDivisible, .expertGroupsNotDivisible:
      true
    default: false
    }
  }

  /// The config key the message is about (for locating it in a file).
  public var key: String {
    switch self {
    case .nonPositive(let key, _): key
    case .tensorDoesNotDivideHeads: "model.tensor_model_parallel_size"
    case .pipelineDoesNotDivideLayers: "model.pipeline_model_parallel_size"
    case .gpusNotDivisible: "trainer.num_nodes"
    case .batchNotDivisible: "model.global_batch_size"
    case .virtualWithoutPipeline, .virtualDoesNotDivideLayers, .interleavedMicrobatches:
      "model.virtual_pipeline_model_parallel_size"
    case .headsDoNotDivideHidden: "model.num_attention_heads"
    case .recomputeLayersNegative: "model.activations_checkpoint_num_layers"
    case .groupsDoNotDivideHeads, .tensorDoesNotDivideGroups: "model.num_query_groups"
    case .unevenSplit: "model.pipeline_model_parallel_size"
    case .expertsNotDivisible, .expertGroupsNotDivisible: "model.expert_model_parallel_size"
    case .moeNeedsSequenceParallel: "model.sequence_parallel"
    case .contextNeedsFusedAttention, .sequenceNotDivisibleByContext,
      .contextShardNotDivisibleByTensor:
      "model.context_parallel_size"
    case .contextDoesNotDivideHeads: "model.cp_comm_type"
    case .hierarchicalContextSizes: "model.hierarchical_context_parallel_sizes"
    case .contextCommForAttention: "model.cp_comm_type"
    case .encoderDecoder(let key, _): key
    }
  }

  public var description: String {
    switch self {
    case .nonPositive(let key, let value):
      "\(Self.leaf(key)) must be a positive integer, found \(value)"
    case .tensorDoesNotDivideHeads(let t, let a):
      "tensor_model_parallel_size \(t) does not divide num_attention_heads \(a)"
    case .pipelineDoesNotDivideLayers(let p, let l):
      "pipeline_model_parallel_size \(p) does not divide num_layers \(l)"
    case .gpusNotDivisible(let n, let t, let p, let cp) where cp > 1:
      "\(n) GPUs (num_nodes × devices) are not divisible by tensor × context × pipeline parallel size \(t) × \(cp) × \(p) = \(t * cp * p)"
    case .gpusNotDivisible(let n, let t, let p, _):
      "\(n) GPUs (num_nodes × devices) are not divisible by tensor × pipeline parallel size \(t) × \(p) = \(t * p)"
    case .batchNotDivisible(let gb, let b, let d):
      "global_batch_size \(gb) is not divisible by micro_batch_size × data-parallel size \(b) × \(d) = \(b * d)"
    case .virtualWithoutPipeline(let v):
      "virtual_pipeline_model_parallel_size \(v) needs pipeline_model_parallel_size > 1"
    case .virtualDoesNotDivideLayers(let v, let lps):
      "virtual_pipeline_model_parallel_size \(v) does not divide the \(lps) layers per pipeline stage"
    case .interleavedMicrobatches(let m, let p):
      "the interleaved schedule needs the number of microbatches (\(m)) to be a multiple of pipeline_model_parallel_size \(p)"
    case .headsDoNotDivideHidden(let a, let h):
      "num_attention_heads \(a) does not divide hidden_size \(h)"
    case .recomputeLayersNegative(let k):
      "activations_checkpoint_num_layers must be zero or more, found \(k)"
    case .groupsDoNotDivideHeads(let g, let a):
      "num_query_groups \(g) does not divide num_attention_heads \(a)"
    case .tensorDoesNotDivideGroups(let t, let g):
      "tensor_model_parallel_size \(t) does not divide num_query_groups \(g) (Megatron-Core splits whole key/value groups over the tensor-parallel ranks and does not replicate them)"
    case .unevenSplit(let why): why
    case .expertsNotDivisible(let e, let ep):
      "expert_model_parallel_size \(ep) does not divide num_moe_experts \(e)"
    case .expertGroupsNotDivisible(let td, let etp, let ep):
      "expert_tensor_parallel_size × expert_model_parallel_size \(etp) × \(ep) = \(etp * ep) does not divide tensor × context × data parallel size \(td) (Megatron-Core's expert groups fold the tensor, context and data ranks)"
    case .moeNeedsSequenceParallel(let t):
      "MoE layers with tensor_model_parallel_size \(t) need sequence_parallel: true (Megatron-Core requires it)"
    case .contextNeedsFusedAttention(let cp):
      "context_parallel_size \(cp) needs fused attention (Transformer Engine's DotProductAttention; Megatron-Core's local attention refuses context parallelism): set transformer_engine and mcore_gpt, or megaplan.fused_attention: true"
    case .sequenceNotDivisibleByContext(let s, let cp):
      "the sequence length \(s) is not a multiple of 2 × context_parallel_size = \(2 * cp) (Megatron splits each sequence into 2·cp chunks for load-balanced causal attention)"
    case .contextShardNotDivisibleByTensor(let local, let t):
      "the \(local) tokens of a context-parallel rank are not divisible by tensor_model_parallel_size \(t), which sequence parallelism splits them over"
    case .contextDoesNotDivideHeads(let a, let g, let cp):
      "cp_comm_type a2a scatters heads over the context-parallel ranks: the \(a) query heads and \(g) key/value groups of a tensor-parallel rank must be multiples of \(cp)"
    case .hierarchicalContextSizes(let a, let cp):
      "hierarchical_context_parallel_sizes: an a2a level of \(a) does not divide context_parallel_size \(cp)"
    case .contextCommForAttention(let comm, let feature, let allowed):
      "cp_comm_type \(comm) does not run \(feature) with context parallelism (Transformer Engine's fused attention runs it over \(allowed))"
    case .encoderDecoder(_, let message): message
    }
  }

  static func leaf(_ key: String) -> String {
    key.split(separator: ".").last.map(String.init) ?? key
  }
}

extension Layout {
  /// Every rule a layout must satisfy to run `model` (Megatron-LM `initialize`/`arguments.py`
  /// checks), in the order a user should fix them. Empty when the layout is valid.
  public func violations(for model: TransformerModel) -> [LayoutViolation] {
    var found: [LayoutViolation] = []
    let sizes: [(String, Int)] = [
      ("model.num_layers", model.layers), ("model.hidden_size", model.hidden),
      ("model.num_attention_heads", model.heads), ("model.ffn_hidden_size", model.ffnHidden),
      ("model.encoder_seq_length", model.sequenceLength),
      ("model.max_position_embeddings", model.maxPositionEmbeddings),
      ("megaplan.vocab_size", model.vocabulary),
      ("model.micro_batch_size", microBatch), ("model.global_batch_size", globalBatch),
      ("model.tensor_model_parallel_size", tensor),
      ("model.pipeline_model_parallel_size", pipeline),
      ("model.virtual_pipeline_model_parallel_size", virtualStages), ("trainer.devices", data),
      ("model.context_parallel_size", contextParallel),
    ]
    for (key, value) in sizes where value <= 0 {
      found.append(.nonPositive(key: key, value: value))
    }
    guard found.isEmpty else { return found }
    // Without kv_channels the head size is h/a, which must be whole.
    if model.hidden % model.heads != 0 && model.headDim == model.hidden / model.heads {
      found.append(.headsDoNotDivideHidden(heads: model.heads, hidden: model.hidden))
    }
    if model.headDim <= 0 { found.append(.nonPositive(key: "model.kv_channels", value: 0)) }
    if model.queryGroups <= 0 || model.heads % model.queryGroups != 0 {
      found.append(.groupsDoNotDivideHeads(groups: model.queryGroups, heads: model.heads))
    }
    if model.heads % tensor != 0 {
      found.append(.tensorDoesNotDivideHeads(tensor: tensor, heads: model.heads))
    } else if model.queryGroups > 0, model.queryGroups % tensor != 0 {
      found.append(.tensorDoesNotDivideGroups(tensor: tensor, groups: model.queryGroups))
    }
    if split.isEven, model.layers % pipeline != 0 {
      found.append(.pipelineDoesNotDivideLayers(pipeline: pipeline, layers: model.layers))
    } else if !split.isEven,
      let why = split.problem(layers: model.layers, stages: pipeline, virtual: virtualStages)
    {
      found.append(.unevenSplit(why))
    }
    let tcd = tensor * contextParallel * data
    if model.moe != nil, tcd % max(1, expertTensorParallel * expertParallel) != 0 {
      found.append(
        .expertGroupsNotDivisible(
          tensorTimesData: tcd, expertTensor: expertTensorParallel, expertParallel: expertParallel)
      )
    }
    found += contextViolations(for: model)
    found += encoderDecoderViolations(for: model)
    if globalBatch % (microBatch * data) != 0 {
      found.append(.batchNotDivisible(globalBatch: globalBatch, microBatch: microBatch, data: data))
    }
    if virtualStages > 1 {
      if pipeline == 1 {
        found.append(.virtualWithoutPipeline(virtual: virtualStages))
      } else if !split.isEven || model.layers % pipeline == 0 {
        let perStage = model.layers / pipeline
        if split.isEven, perStage % virtualStages != 0 {
          found.append(
            .virtualDoesNotDivideLayers(virtual: virtualStages, layersPerStage: perStage))
        }
        // Megatron's interleaved schedule requires m to be a multiple of p (N21 §2.2.2).
        if found.isEmpty, microbatches % pipeline != 0 {
          found.append(.interleavedMicrobatches(microbatches: microbatches, pipeline: pipeline))
        }
      }
    }
    if case .full(_, let k) = recompute, k < 0 { found.append(.recomputeLayersNegative(layers: k)) }
    if let experts = model.moe {
      if experts.experts % max(1, expertParallel) != 0 {
        found.append(
          .expertsNotDivisible(experts: experts.experts, expertParallel: expertParallel))
      }
      if tensor > 1 && !sequenceParallel { found.append(.moeNeedsSequenceParallel(tensor: tensor)) }
    }
    return found
  }

  /// The rules an encoder–decoder model adds (Megatron-Core `T5Model`, NeMo
  /// `MegatronT5Model`): the encoder stack's heads split over t like the decoder's; no context
  /// parallelism (Megatron-Core's encoder–decoder pipeline has no context-parallel path: its
  /// encoder attends bidirectionally and its cross-attention reads the whole encoder output);
  /// with sequence parallelism both stacks' sequence lengths divide by t.
  func encoderDecoderViolations(for model: TransformerModel) -> [LayoutViolation] {
    guard let ed = model.encoderDecoder else { return [] }
    var found: [LayoutViolation] = []
    let enc = ed.encoder
    if enc.heads % tensor != 0 {
      found.append(
        .encoderDecoder(
          key: "model.encoder.num_attention_heads",
          message:
            "tensor_model_parallel_size \(tensor) does not divide the encoder's num_attention_heads \(enc.heads)"
        ))
    }
    if contextParallel > 1 {
      found.append(
        .encoderDecoder(
          key: "model.context_parallel_size",
          message:
            "context_parallel_size \(contextParallel): encoder-decoder (T5) models have no context-parallel path in Megatron-Core or NeMo; use 1"
        ))
    }
    if effectiveSequenceParallel {
      for (name, s) in [("encoder", enc.sequenceLength), ("decoder", model.sequenceLength)]
      where s % tensor != 0 {
        found.append(
          .encoderDecoder(
            key: "model.sequence_parallel",
            message:
              "sequence_parallel splits the \(name)'s \(s) tokens over tensor_model_parallel_size \(tensor), which does not divide them"
          ))
      }
    }
    return found
  }

  /// Megatron-Core's and Transformer Engine's rules for context parallelism.
  func contextViolations(for model: TransformerModel) -> [LayoutViolation] {
    let cp = contextParallel
    guard cp > 1 else { return [] }
    var found: [LayoutViolation] = []
    // `DotProductAttention` asserts context_parallel_size == 1 ("Context parallelism is only
    // supported by TEDotProductAttention!").
    if !model.fusedAttention { found.append(.contextNeedsFusedAttention(context: cp)) }
    // arguments.py: "seq-length should be a multiple of 2 * context-parallel-size".
    let s = model.sequenceLength
    if s % (2 * cp) != 0 {
      found.append(.sequenceNotDivisibleByContext(sequence: s, context: cp))
    } else if effectiveSequenceParallel, (s / cp) % tensor != 0 {
      found.append(.contextShardNotDivisibleByTensor(localSequence: s / cp, tensor: tensor))
    }
    // Transformer Engine `get_attention_backend`: FusedAttention is disabled for a sliding
    // window with cp_comm_type p2p or a2a+p2p, and for a softmax other than vanilla with any
    // cp_comm_type but a2a (and FlashAttention for such a softmax altogether).
    let comm = contextParallelComm
    if model.softmax != .vanilla, comm != .a2a {
      found.append(
        .contextCommForAttention(
          comm: comm.name, feature: "softmax_type \(model.softmax.rawValue)", allowed: "a2a"))
    } else if model.slidingWindow != nil, comm != .a2a, comm != .allGather {
      found.append(
        .contextCommForAttention(
          comm: comm.name, feature: "sliding-window attention", allowed: "a2a or all_gather"))
    }
    let (a2a, _) = contextParallelComm.levels(cp: cp)
    if case .a2aP2P(let level) = contextParallelComm, level < 1 || cp % level != 0 {
      found.append(.hierarchicalContextSizes(a2a: level, context: cp))
    } else if a2a > 1 {
      let heads = model.heads / max(1, tensor), groups = model.queryGroups / max(1, tensor)
      if heads % a2a != 0 || groups % a2a != 0 {
        found.append(
          .contextDoesNotDivideHeads(headsPerRank: heads, groupsPerRank: groups, context: a2a))
      }
    }
    return found
  }
}
