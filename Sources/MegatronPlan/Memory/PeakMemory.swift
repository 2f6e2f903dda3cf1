/// The memory a GPU actually reaches: the steady state (weights, gradients, optimizer states,
/// FP8 weight copies and the activations in flight) plus what lives only for a moment and what
/// the allocator, CUDA and NCCL hold beside it. Every term is named with its mechanism
/// (docs/formulas.md, "Peak memory").
///
/// Two figures, as PyTorch reports them:
/// - `allocated`: what `torch.cuda.max_memory_allocated` would report: the steady state plus the
///   largest set of transients alive at one moment of the step;
/// - `device`: what `nvidia-smi` would show: that plus the caching allocator's slack (reserved −
///   allocated), the CUDA context, NCCL's buffers and the buffers libraries allocate outside the
///   caching allocator.
public enum PeakMemory {
  /// Figures no mechanism of megaplan's derives, each with its source.
  public enum Constants {
    /// CUDA context with lazy module loading (CUDA ≥ 11.7, PyTorch's default): about 500 MiB
    /// on A100/H100 (PyTorch's "CUDA semantics" notes and `nvidia-smi` on an idle process that
    /// only initialised CUDA report 300–600 MiB; megaplan takes 512 MiB).
    public static let cudaContextBytes = 512.0 * 1_048_576
    /// cuBLAS/cuBLASLt workspaces PyTorch allocates through the caching allocator: 32 MiB per
    /// handle on Hopper and later (PyTorch `getChosenWorkspaceSize`: 4,096 KiB × 8), 4 MiB ×
    /// … on Ampere; megaplan takes two handles (compute and communication streams).
    public static func cublasWorkspaceBytes(_ gpu: GPU) -> Double {
      (gpu.generation == .ampere ? 8.0 : 32.0) * 1_048_576 * 2
    }
    /// NCCL buffers per communicator: NCCL_BUFFSIZE (4 MiB) per channel and direction with up
    /// to 16 channels on NVLink rings: 128 MiB; NVLS adds its multicast buffers, several
    /// hundred MiB per communicator on H100 (NCCL's NVLS notes; the reason Megatron guides suggest
    /// NCCL_NVLS_ENABLE=0 when memory is tight): megaplan takes 512 MiB with NVLS.
    public static func ncclBytesPerCommunicator(nvls: Bool) -> Double {
      (nvls ? 512.0 : 128.0) * 1_048_576
    }
    /// Caching-allocator slack at the peak (reserved − allocated) as a share of the memory that
    /// is allocated and freed during the step (activations and transients; Megatron's weight,
    /// gradient and optimizer buffers are allocated once, contiguously): blocks split and
    /// stranded between sizes. About 10 % without expandable segments and 2 % with them in
    /// PyTorch memory snapshots of large-model training (PyTorch "Understanding CUDA memory
    /// usage"); the one constant no mechanism here models.
    public static func allocatorSlack(expandableSegments: Bool) -> Double {
      expandableSegments ? 0.02 : 0.10
    }
  }

  /// One stage's peak, with the moment it happens.
  public struct Stage: Sendable, Hashable, Codable {
    /// Transients alive on top of the steady state at the peak (allocated).
    public var transients: Breakdown<ByteUnit>
    /// What the device holds outside allocated memory.
    public var reserved: Breakdown<ByteUnit>
    public var allocatedBytes: Double
    public var deviceBytes: Double
    /// "forward", "backward" or "output layer" (the last stage's loss).
    public var moment: String
  }

  /// The transients of one stage at each moment, the largest taken.
  /// - forward (end of warm-up, the most activations in flight): the largest tensor a layer's
  ///   forward makes and frees — with sequence parallelism the all-gathered input of a
  ///   column-parallel GEMM (e·s·b·h, not sharded); unfused attention's score matrix beside the
  ///   softmax's output (e·as²b/t, 4 bytes with the softmax in fp32); pipeline receive buffers;
  /// - backward (its first microbatch): the incoming gradient (e·s·b·h/r) and the most one
  ///   layer's backward holds beside it, walked op by op (`layerBackward`,
  ///   `LayerDescription.backwardPeak`), less the fp32 logits on the last stage and with the tied
  ///   output layer's weight gradient on a single stage;
  /// - the output layer (last stage): the 16-bit logits (e·s·b·V/t) beside the fp32 ones already
  ///   counted, in forward and again as the 16-bit gradient in backward; with the fused cross
  ///   entropy no 16-bit copy.
  /// Plus buffers alive throughout: pipeline send/receive buffers (two of e·s·b·h/r when p > 1),
  /// Megatron-FSDP's gathered weights of two layers and one layer's unsharded gradients.
  /// `terms` named, for a stage whose steady state is `steadyBytes`.
  public static func stage(_ x: Terms, steadyBytes: Double) -> Stage {
    var transients = Breakdown<ByteUnit>()
    transients.add(x.momentTerm, Bytes(x.momentBytes))
    if x.pipelineBuffers > 0 {
      transients.add("pipeline_and_scores_buffers", Bytes(x.pipelineBuffers))
    }
    transients.add("cublas_workspace", Bytes(x.cublasWorkspace))
    if x.fsdpBuffers > 0 { transients.add("fsdp_unsharded_buffers", Bytes(x.fsdpBuffers)) }
    var reserved = Breakdown<ByteUnit>()
    reserved.add("allocator_slack", Bytes(x.allocatorSlack))
    reserved.add("cuda_context", Bytes(x.cudaContext))
    reserved.add("nccl", Bytes(x.nccl))
    if x.tpOverlapBuffers > 0 { reserved.add("tp_overlap_buffers", Bytes(x.tpOverlapBuffers)) }
    return Stage(
      transients: transients, reserved: reserved, allocatedBytes: steadyBytes + x.transients,
      deviceBytes: steadyBytes + x.transients + x.reserved, moment: x.moment.rawValue)
  }

  /// When a stage's peak happens.
  public enum Moment: String, Sendable {
    case forward
    case backward
    case outputLayer = "output layer"

    var term: String {
      switch self {
      case .forward: "forward_temporaries"
      case .backward: "backward_gradients"
      case .outputLayer: "logits_16bit"
      }
    }
  }

  /// The terms of `stage` as numbers (`stage(_:stage:steadyBytes:activationBytes:)` names them),
  /// for a layout with a run's model, numerics, GPU and software; what `search` evaluates for
  /// every candidate without building a breakdown.
  public struct Terms: Sendable {
    public var moment: Moment
    public var momentBytes: Double
    /// The name of the moment's term: the moment's own, or `context_parallel_buffers` when
    /// ring attention's received blocks make the forward peak.
    public var momentTerm: String
    /// Pipeline send/receive buffers and, unfused, the attention scores' global buffer.
    public var pipelineBuffers: Double
    public var cublasWorkspace: Double
    public var fsdpBuffers: Double
    public var allocatorSlack: Double
    public var cudaContext: Double
    public var nccl: Double
    public var tpOverlapBuffers: Double

    /// No transients, nothing reserved.
    public static let none = Terms(
      moment: .forward, momentBytes: 0, momentTerm: Moment.forward.term, pipelineBuffers: 0,
      cublasWorkspace: 0, fsdpBuffers: 0, allocatorSlack: 0, cudaContext: 0, nccl: 0,
      tpOverlapBuffers: 0)

    public var transients: Double { momentBytes + pipelineBuffers + cublasWorkspace + fsdpBuffers }
    public var reserved: Double { allocatorSlack + cudaContext + nccl + tpOverlapBuffers }
    /// The device peak for a stage whose steady state is `steady` bytes.
    public func device(steady: Double) -> Double { steady + transients + reserved }
  }

  /// The stack whose layer shapes set stage `i`'s transients (`terms`): the model itself, or
  /// for an encoder–decoder model the encoder stack on a stage holding only encoder layers, and
  /// on a stage holding both the stack with the more activation elements per layer.
  /// nil when it is the model itself.
  static func stackModel(_ m: TransformerModel, counts kinds: LayerCounts) -> TransformerModel? {
    guard let ed = m.encoderDecoder else { return nil }
    if kinds.decoder == 0 { return ed.encoder }
    if kinds.encoder == 0 { return nil }
    let enc = ed.encoderSequence * ed.encoderHidden
    return enc > m.sequenceLength * m.hidden ? ed.encoder : nil
  }

  /// Elements of one pipeline message per microbatch on stage `i` (per GPU, before the
  /// scatter/gather optimisation): b·s·h/cp; for an encoder–decoder model the encoder's output
  /// b·s_enc·h_enc on encoder stages, and on decoder stages that beside the decoder's hidden
  /// state (`StepTimeModel.pipelineComm`).
  static func pipelineMessage(_ m: TransformerModel, _ layout: Layout, counts: LayerCounts)
    -> Double
  {
    let hidden = layout.tokens(of: m) * Double(m.hidden)
    guard let ed = m.encoderDecoder else { return hidden }
    let encoderOutput = Double(ed.encoderSequence * layout.microBatch) * Double(ed.encoderHidden)
    return counts.decoder > 0 ? hidden + encoderOutput : encoderOutput
  }

  /// The terms of stage `i` of `layout` for model `m` in `precision` on `gpu` with `software`,
  /// whose activations are `activationBytes` and whose layers' backward holds `backwardWalk`
  /// beside its incoming gradient (`layerBackward`); `layers` are the model's layers'
  /// parameters (Megatron-FSDP's buffers hold the largest layer of the stage).
  /// `counts`: the stage's layers by kind, when the caller has them.
  public static func terms(
    _ model: TransformerModel, _ layout: Layout, stage i: Int, precision: Precision, gpu: GPU,
    software: Software, activationBytes: Double, layers: PerKind<LayerOp.Parameters>,
    backwardWalk walk: Double, counts given: LayerCounts? = nil
  ) -> Terms {
    let counts = given ?? layout.layerKinds(onStage: i, of: model)
    // The stack whose layers set the stage's transients: the model's, or for an encoder–decoder
    // model the encoder's on a stage of encoder layers (or where its s_enc·h_enc is the larger).
    if let stack = stackModel(model, counts: counts) {
      return terms(
        stack, model, layout, stage: i, precision: precision, gpu: gpu, software: software,
        activationBytes: activationBytes, layers: layers, backwardWalk: walk, counts: counts)
    }
    return terms(
      model, model, layout, stage: i, precision: precision, gpu: gpu, software: software,
      activationBytes: activationBytes, layers: layers, backwardWalk: walk, counts: counts)
  }

  /// `terms` with the stack `m` whose layers set the transients.
  static func terms(
    _ m: TransformerModel, _ model: TransformerModel, _ layout: Layout, stage i: Int,
    precision: Precision, gpu: GPU, software: Software, activationBytes: Double,
    layers: PerKind<LayerOp.Parameters>, backwardWalk walk: Double, counts: LayerCounts
  ) -> Terms {
    let e = precision.activationBytes
    let t = Double(layout.tensor), r = layout.effectiveSequenceParallel ? t : 1
    let tokens = layout.tokens(of: m)  // s·b/cp
    let outputTokens = layout.tokens(of: model)  // the logits: the decoder's tokens
    let h = Double(m.hidden), V = Double(m.vocabulary)
    let scores = Double(m.heads) * Double(m.sequenceLength) * tokens / t

    let last = i == layout.pipeline - 1
    var forward = 0.0
    if layout.effectiveSequenceParallel { forward = max(forward, e * tokens * h) }
    // Unfused attention computes QKᵀ into Megatron-Core's global memory buffer
    // (`get_global_memory_buffer`), allocated once and kept: e·as²b/t at every moment. An fp32
    // softmax adds its fp32 input beside it in forward.
    let scoresBuffer = m.fusedAttention ? 0 : e * scores
    if !m.fusedAttention && !(m.fusions.maskedSoftmax || precision == .fp32) {
      forward = max(forward, 4 * scores)
    }
    // Context parallelism's buffers inside the attention core (`ContextParallelTraffic`): in
    // forward, the K/V blocks received and the partial outputs; in backward, the send/receive
    // buffers of K/V and their gradients, alive while the core's backward runs, not beside
    // fc1's gradient.
    let context = ContextParallelTraffic(m, layout, elementBytes: e)
    // Backward: the layer's incoming gradient (e·s·b·h/r, carried by the residual stream) and
    // the most its backward holds beside it, walked op by op through the layer description
    // (`LayerDescription.backwardPeak`: rebuilt tensors of a recomputed segment, less the
    // layer's tensors already freed, plus each op's gradients); with full recompute of groups
    // of k layers (`uniform`), the k − 1 layers of the group rebuilt before it as well.
    var backward = e * tokens * h / r + max(walk, context.backwardBuffers)
    // With tied embeddings on a single stage, the output layer's weight gradient (with
    // `gradient_accumulation_fusion` the 16-bit stand-in Megatron hands autograd, e·V·h/t)
    // waits in autograd's input buffer of the shared weight until the embedding's backward adds
    // its own, at the end of the backward: it is held through every layer's backward (measured
    // on CPU, docs/validation.md). With p > 1 the two copies are separate weights.
    if layout.pipeline == 1 && model.tiedEmbeddings {
      backward += e * Double(model.vocabulary) * Double(model.hidden) / t
    }
    if let experts = m.moe {
      // An MoE layer's dispatch holds the permuted copies being sent beside the ones received,
      // e·T_r·h, in forward.
      forward = max(forward, e * tokens / t * experts.routedFactor * h)
    }
    let contextPeaks = context.forwardBuffers > forward
    forward = max(forward, context.forwardBuffers)
    // On the last stage the cross entropy's fp32 buffer (in the steady state) becomes the
    // logits' gradient and is freed before any layer's backward runs (reading of
    // `vocab_parallel_cross_entropy`'s backward, which reuses it in place).
    if last { backward -= 4 * outputTokens * V / t }
    var output = 0.0
    if last && !software.crossEntropyFusion { output = e * outputTokens * V / t }
    let moment: Moment
    let momentBytes: Double
    if output >= max(forward, backward) && output > 0 {
      (moment, momentBytes) = (.outputLayer, output)
    } else if backward >= forward {
      (moment, momentBytes) = (.backward, backward)
    } else {
      (moment, momentBytes) = (.forward, forward)
    }
    let pipelineBuffers =
      (layout.pipeline > 1 ? 2 * e * pipelineMessage(model, layout, counts: counts) / r : 0)
      + scoresBuffer
    var fsdp = 0.0
    if layout.fullySharded && layout.dataParallelWithContext > 1 {
      // The largest layer of the stage (an MoE layer's experts, over EP × ETP, when there are
      // any).
      var largest = 0.0
      for kind in LayerKind.stack where counts[kind] > 0 {
        largest = max(largest, layers[kind].perGPU(layout))
      }
      fsdp = largest * (2 * e + e)
    }
    let cublas = Constants.cublasWorkspaceBytes(gpu)
    // Weights, gradients and optimizer states live in contiguous buffers Megatron allocates
    // once; what fragments is what comes and goes every microbatch: activations and transients.
    let dynamic = activationBytes + momentBytes + pipelineBuffers + cublas + fsdp
    let nvls = software.ncclNVLS && gpu.generation != .ampere
    // Transformer Engine's userbuffers for the overlapped collectives, allocated with cudaMalloc
    // outside the caching allocator: the all-gathered input of a column-parallel GEMM and the
    // reduce-scatter staging, each e·s·b·h.
    let tpOverlap = software.overlap.tensorParallel && layout.tensor > 1 ? 2 * e * tokens * h : 0
    let momentTerm =
      moment == .forward && contextPeaks ? "context_parallel_buffers" : moment.term
    return Terms(
      moment: moment, momentBytes: momentBytes, momentTerm: momentTerm,
      pipelineBuffers: pipelineBuffers,
      cublasWorkspace: cublas, fsdpBuffers: fsdp,
      allocatorSlack: dynamic
        * Constants.allocatorSlack(expandableSegments: software.expandableSegments),
      cudaContext: Constants.cudaContextBytes,
      nccl: Double(communicators(layout) + expertCommunicators(m, layout))
        * Constants.ncclBytesPerCommunicator(nvls: nvls),
      tpOverlapBuffers: tpOverlap)
  }

  /// The most a layer's backward on stage `i` holds beside its incoming gradient (the largest
  /// `LayerMemory.backwardPeak` of its layer kinds there) and, with full recompute of groups of
  /// k layers (`uniform`), the k − 1 layers of the group rebuilt before it. Depends on the
  /// stage's layers, not on d or the optimizer.
  public static func layerBackward(
    _ layers: PerKind<LayerMemory?>, _ m: TransformerModel, _ layout: Layout, stage i: Int,
    counts given: LayerCounts? = nil
  ) -> Double {
    let counts = given ?? layout.layerKinds(onStage: i, of: m)
    var walk: Double? = nil
    for kind in LayerKind.stack where counts[kind] > 0 {
      guard let layer = layers[kind] else { continue }
      walk = max(walk ?? 0, layer.backwardPeak(layout.recompute))
    }
    var out = walk ?? 0
    if case .full = layout.recompute {
      let group = ActivationMemory.chunkPlan(m, layout, stage: i).workingSetLayers
      if group > 1 {
        let full = ActivationMemory.onStage(counts, layers, recompute: layout.recompute).full
        out += full.value * Double(group - 1)
      }
    }
    return out
  }

  /// NCCL communicators a GPU belongs to: tensor-parallel, data-parallel, pipeline (its two
  /// neighbours), and the embedding group with tied embeddings and p > 1; groups of one GPU
  /// create none.
  /// An MoE model's own communicators: the expert-parallel group (the all-to-alls) and the
  /// expert data-parallel group (the experts' gradient reduction), when larger than one GPU.
  /// DeepEP's (`flex`) NVLink and RDMA buffers, sized by its own configuration hints, are not
  /// counted.
  static func expertCommunicators(_ m: TransformerModel, _ layout: Layout) -> Int {
    guard m.moe != nil else { return 0 }
    return (layout.expertParallel > 1 ? 1 : 0) + (layout.expertData > 1 ? 1 : 0)
  }

  static func communicators(_ layout: Layout) -> Int {
    var n = 0
    if layout.tensor > 1 { n += 1 }
    if layout.data > 1 { n += 1 }
    // Context parallelism adds its own group and the data-parallel group with cp, over which
    // the gradients are reduced.
    if layout.contextParallel > 1 { n += 2 }
    if layout.pipeline > 1 { n += 2 }
    return n
  }
}
