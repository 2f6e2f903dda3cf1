/// Iteration time of a Megatron-style training step, built from the work of one GPU: the GEMMs
/// of its tensor-parallel shard at an achieved efficiency, memory-bound elementwise kernels at
/// HBM bandwidth, tensor-parallel collectives over NVLink, recompute, the pipeline bubble,
/// pipeline point-to-point, the data-parallel gradient reduction and the optimizer step.
/// Constants: `PerformanceConstants`.
public struct StepTimeModel: Sendable {
  public var model: TransformerModel
  public var layout: Layout
  public var precision: Precision
  public var gpu: GPU
  public var constants: PerformanceConstants
  /// What the software overlaps (`Overlap`: Megatron-Core's switches).
  public var overlap: Overlap
  /// The fused attention kernel the software runs.
  public var attentionKernel: FusedAttentionKernel = .cudnn
  /// The cross entropy runs as Megatron-Core's fused kernels (`cross_entropy_loss_fusion`)
  /// rather than the unfused vocab-parallel cross entropy (`outputLayer`).
  public var crossEntropyFusion = false
  /// Overlap the data-parallel gradient reduction with backward (NeMo `optim.overlap_grad_sync`,
  /// Megatron `--overlap-grad-reduce`).
  public var overlapGradientReduction: Bool {
    get { overlap.gradientReduction }
    set { overlap.gradientReduction = newValue }
  }

  public init(
    model: TransformerModel, layout: Layout, precision: Precision, gpu: GPU,
    constants: PerformanceConstants? = nil, overlapGradientReduction: Bool = false,
    overlap: Overlap? = nil
  ) {
    self.model = model
    self.layout = layout
    self.precision = precision
    self.gpu = gpu
    self.constants = constants ?? .forGeneration(gpu.generation)
    self.overlap = overlap ?? Overlap(gradientReduction: overlapGradientReduction)
  }

  var peak: FLOPsPerSecond { gpu.peak(for: precision) }
  var e: Double { precision.activationBytes }
  var t: Double { Double(layout.tensor) }

  // MARK: - Building blocks

  /// One GEMM of `flops` FLOPs on this GPU.
  func gemm(_ flops: FLOPs, efficiency: Double) -> Seconds {
    flops / (peak * efficiency) + Seconds(constants.gemmFixedSeconds)
  }

  /// One GEMM of the layer description: FP8 GEMMs at the FP8 peak × `fp8GEMMEfficiency` (on a
  /// GPU without FP8 they run at the 16-bit rate), weight GEMMs at `gemmEfficiency`, attention
  /// GEMMs at `attentionGEMMEfficiency` of their peak.
  /// A weight GEMM also reads its inputs and writes its output through HBM; when that takes
  /// longer than the arithmetic (few rows per weight, as in a grouped GEMM over many experts
  /// with few tokens each: each local expert reads its own k × n weights), the GEMM is
  /// memory-bound and runs at the streaming rate instead (the roofline).
  func time(of g: GEMMShape) -> Seconds {
    let efficiency =
      g.kind == .attention ? constants.attentionGEMMEfficiency : constants.gemmEfficiency
    let compute: Seconds
    if g.fp8, let peak8 = gpu.peak8 {
      let scaled = g.kind == .attention ? efficiency : constants.fp8GEMMEfficiency
      compute = g.executedFLOPs / (peak8 * scaled)
    } else {
      compute = g.executedFLOPs / (peak * efficiency)
    }
    guard g.kind == .weight else { return compute + Seconds(constants.gemmFixedSeconds) }
    let input = g.fp8 && gpu.peak8 != nil ? 1 : e
    let streamed = memoryBound(
      (input * (g.m * g.k + g.weightGroups * g.k * g.n) + e * g.m * g.n) * g.batch)
    return Seconds(max(compute.value, streamed.value)) + Seconds(constants.gemmFixedSeconds)
  }

  /// Streaming `bytes` through HBM.
  func memoryBound(_ bytes: Double) -> Seconds {
    Bytes(bytes) / (gpu.hbm * constants.hbmEfficiency)
  }

  /// Bandwidth and latency of a group of `size` GPUs whose members are `stride` ranks apart:
  /// NVLink when the group fits in one node; otherwise InfiniBand, where the k members that share
  /// a node run k rings in parallel, one per HCA (NCCL's rail-aligned rings), so the group gets
  /// k × the per-GPU HCA bandwidth (at most NVLink's).
  func link(size: Int, stride: Int) -> (BytesPerSecond, Seconds) {
    let nvlink = gpu.nvlinkPerDirection * constants.nvlinkEfficiency
    // Placement follows the NVLink domain (8 GPUs of a DGX node, 72 of an NVL72 rack).
    if size * stride <= gpu.nvlinkGroup(devicesPerNode: gpu.gpusPerNode) {
      return (nvlink, Seconds(constants.nvlinkLatencySeconds))
    }
    let perNode = max(1, min(size, gpu.gpusPerNode / max(1, stride)))
    let rails = gpu.interNodePerGPU * (constants.interNodeEfficiency * Double(perNode))
    return (min(rails, nvlink), Seconds(constants.interNodeLatencySeconds))
  }

  /// Ring all-reduce of `bytes` over `n` GPUs: 2(n − 1)/n of the data crosses each link.
  func allReduce(_ bytes: Double, n: Int, stride: Int) -> Seconds {
    guard n > 1 else { return .zero }
    let (bw, lat) = link(size: n, stride: stride)
    return Bytes(2 * Double(n - 1) / Double(n) * bytes) / bw + lat * Double(2 * (n - 1))
  }

  /// Bandwidth and latency of a ring of point-to-point sends among `size` GPUs `stride` ranks
  /// apart (context parallelism's ring attention): NVLink inside one domain; once the ring
  /// leaves it, a step lasts as long as its slowest hop, a send through one GPU's own NIC.
  func ringLink(size: Int, stride: Int) -> (BytesPerSecond, Seconds) {
    if size * stride <= gpu.nvlinkGroup(devicesPerNode: gpu.gpusPerNode) {
      return link(size: size, stride: stride)
    }
    let nvlink = gpu.nvlinkPerDirection * constants.nvlinkEfficiency
    let nic = gpu.interNodePerGPU * constants.interNodeEfficiency
    return (min(nic, nvlink), Seconds(constants.interNodeLatencySeconds))
  }

  /// Ring reduce-scatter or all-gather of `bytes` (the full tensor) over n GPUs: (n − 1)/n.
  func gatherOrScatter(_ bytes: Double, n: Int, stride: Int) -> Seconds {
    guard n > 1 else { return .zero }
    let (bw, lat) = link(size: n, stride: stride)
    return Bytes(Double(n - 1) / Double(n) * bytes) / bw + lat * Double(n - 1)
  }

  // MARK: - One layer, one microbatch, one GPU

  /// The layer's ops on this GPU for one microbatch (`LayerDescription`).
  /// The layer `layerForward()` and the estimate's per-layer times describe: the model's (dense)
  /// layer, or an encoder–decoder model's decoder layer.
  var layer: LayerDescription {
    LayerDescription(
      model, .init(layout, precision: precision),
      kind: model.encoderDecoder == nil ? .dense : .decoder)
  }

  /// Forward time of one transformer layer for one microbatch, by part.
  public func layerForward() -> Breakdown<SecondUnit> { layerForward(layer) }

  func layerForward(_ layer: LayerDescription) -> Breakdown<SecondUnit> {
    var out = Breakdown<SecondUnit>()
    // GEMMs of one tensor-parallel shard (column-parallel QKV and fc1, row-parallel projection
    // and fc2), each at the GEMM efficiency plus its fixed cost.
    var weightGEMMs = Seconds.zero
    var elementwise = 0.0
    for op in layer.ops where !op.isAttentionCore {
      for g in op.gemms { weightGEMMs += time(of: g) }
      if let experts = model.moe, !experts.groupedGEMM, op.name.hasPrefix("expert_fc") {
        // Without grouped GEMM each local expert runs its own GEMM, each with the fixed cost.
        let local = max(1, experts.experts / max(1, layout.expertParallel))
        weightGEMMs += Seconds(constants.gemmFixedSeconds) * Double(local - 1)
      }
      // Memory-bound kernels outside the attention core: norms (read + write), bias-dropout-
      // adds (read input and residual, write output and a 1-byte mask), the activation (reads
      // fc1's output, writes f), rotary and QK norms where present.
      elementwise += op.elementwiseBytes
    }
    out.add("gemm", weightGEMMs)
    let core = attentionCoreForward(layer)
    out.add("attention_core", core)
    out.add("elementwise", memoryBound(elementwise))
    let context = contextParallelComm(
      coreForward: core, coreBackward: attentionCoreBackward(layer))
    if context.forward.value > 0 { out.add("context_parallel_comm", context.forward) }
    // Megatron-Core's `tp_comm_overlap` hides most of the forward collectives behind the GEMMs;
    // 2021–2022 Megatron-LM exposed them.
    let hidden = overlap.tensorParallel ? constants.forwardTPOverlap : 0
    out.add("tensor_parallel_comm", tensorParallelComm(layer).forward * (1 - hidden))
    if layer.op("router") != nil { out.add("expert_parallel_comm", expertParallelComm()) }
    return out
  }

  /// The token dispatch and combine of one MoE layer's forward (backward moves the same bytes
  /// the other way): each rank sends its T_in = s·b/t tokens' k·imbalance copies of h elements
  /// to the experts' ranks and receives as many back, twice (dispatch, combine); with ETP > 1 the
  /// tokens are all-gathered over the ETP group before the experts and the outputs
  /// reduce-scattered after. The `allgather` dispatcher gathers every rank's tokens over the EP
  /// group instead and reduce-scatters the outputs (rings). EP ranks are ETP apart (Megatron-
  /// Core's expert rank order), so an EP group of more than domain/ETP ranks spans several
  /// NVLink domains; `allToAll` splits each rank's traffic between NVLink and its own NIC:
  /// - `alltoall` (Megatron-Core `MoEAlltoAllTokenDispatcher`): every copy travels to its
  ///   expert's rank, so with balanced routing (EP − m)/EP of the copies leave the domain, m the
  ///   EP ranks in one domain;
  /// - `flex` (DeepEP): a token is sent once to each other domain that holds one of its k
  ///   experts and forwarded over NVLink there (DeepEP's internode kernels; combine reduces in
  ///   the domain first), so the network carries T_in·h per remote domain hit; with k distinct
  ///   experts drawn uniformly from E spread evenly over D domains a given other domain is hit
  ///   with probability 1 − C(E − E/D, k)/C(E, k) (`MixtureOfExperts.remoteDomains`).
  /// Megatron-Core overlaps these with compute with `overlap_moe_expert_parallel_comm`:
  /// `layers(forward:backward:...)` hides them behind the paired microbatch's compute then.
  func expertParallelComm() -> Seconds {
    guard let experts = model.moe else { return .zero }
    let ep = layout.expertParallel, etp = layout.expertTensorParallel
    let tokensIn = layout.tokens(of: model) / t
    let h = Double(model.hidden)
    let copies = e * tokensIn * experts.routedFactor * h
    var time = Seconds.zero
    if ep > 1 {
      let domain = gpu.nvlinkGroup(devicesPerNode: gpu.gpusPerNode)
      let perDomain = max(1, min(ep, domain / max(1, etp)))
      let domains = (ep + perDomain - 1) / perDomain
      switch experts.dispatcher {
      case .alltoall:
        let off = copies * Double(ep - perDomain) / Double(ep)
        let on = copies * Double(perDomain - 1) / Double(ep)
        time += allToAll(onDomain: on, offDomain: off) * 2
      case .flex:
        let remote = experts.remoteDomains(domains)
        let imbalance = copies / max(1, e * tokensIn * Double(experts.topK) * h)
        let off = e * tokensIn * h * remote * imbalance
        let on = copies * Double(perDomain - 1) / Double(perDomain)
        time += allToAll(onDomain: on, offDomain: off) * 2
      case .allgather:
        time += gatherOrScatter(e * tokensIn * h * Double(ep), n: ep, stride: etp) * 2
      }
    }
    if etp > 1 {
      time += gatherOrScatter(copies * Double(etp), n: etp, stride: 1) * 2
    }
    return time
  }

  /// One all-to-all in which a GPU sends `onDomain` bytes to GPUs of its NVLink domain and
  /// `offDomain` bytes beyond it, through its own NIC (one per GPU, rail-aligned): both at once,
  /// so the slower sets the time, plus one message latency (the peers' sends are issued
  /// together).
  func allToAll(onDomain: Double, offDomain: Double) -> Seconds {
    let nvlink = gpu.nvlinkPerDirection * constants.nvlinkEfficiency
    let nic = gpu.interNodePerGPU * constants.interNodeEfficiency
    let inside = Bytes(onDomain) / nvlink
    guard offDomain > 0 else { return inside + Seconds(constants.nvlinkLatencySeconds) }
    let outside = Bytes(offDomain) / nic
    return Seconds(max(inside.value, outside.value)) + Seconds(constants.interNodeLatencySeconds)
  }

  /// Forward time of the ops that selective recompute reruns with the layout's recompute modules
  /// (`RecomputeModules`; `LayerOp.recompute` tags each op): their GEMMs and memory-bound
  /// kernels, the attention core as `attentionCoreForward`, and, when the whole MoE layer is
  /// recomputed (`moe`), its token dispatch and combine again.
  func selectiveRecompute(_ layer: LayerDescription) -> Seconds {
    let modules = layout.recomputeModules
    var time = Seconds.zero
    var elementwise = 0.0
    for op in layer.ops where !op.recompute.isDisjoint(with: modules) {
      if op.isAttentionCore {
        // The attention core again, with its context-parallel exchange.
        let core = coreForward(op)
        time += core
        if layout.contextParallel > 1 && op.name == "attention_core" {
          time +=
            contextParallelComm(coreForward: core, coreBackward: attentionCoreBackward(layer))
            .forward
        }
        continue
      }
      for g in op.gemms { time += self.time(of: g) }
      elementwise += op.elementwiseBytes
    }
    if modules.contains(.moe), layer.op("router") != nil { time += expertParallelComm() }
    return time + memoryBound(elementwise)
  }

  /// QKᵀ and attention over V (batched, a/t heads), scaled-masked softmax and its dropout:
  /// what selective recompute reruns (K22 §5). A fused (flash) kernel keeps scores, softmax and
  /// dropout on chip: its description moves no elementwise bytes for them.
  func attentionCoreForward(_ layer: LayerDescription) -> Seconds {
    var time = Seconds.zero
    for op in layer.ops where op.isAttentionCore { time += coreForward(op) }
    return time
  }

  /// One attention core's forward (`attentionCoreForward`).
  func coreForward(_ core: LayerOp) -> Seconds {
    if let kernel = core.kernel {
      // One fused kernel (FlashAttention, cuDNN through Transformer Engine) performing the
      // GEMMs' executed FLOPs at `flashEfficiency` of the peak of its precision.
      let flops = core.gemms.map(\.executedFLOPs).sum()
      let fp8 = core.gemms.contains { $0.fp8 }
      let peak = fp8 ? (gpu.peak8 ?? self.peak) : self.peak
      return flops / (peak * flashEfficiency(kernel)) + Seconds(constants.gemmFixedSeconds)
    }
    var time = Seconds.zero
    for g in core.gemms { time += self.time(of: g) }
    return time + memoryBound(core.elementwiseBytes)
  }

  /// The share of peak a fused attention forward reaches, from its calls' shapes:
  /// the kernel's `flashForwardEfficiency` for long sequences at head size 128, times
  /// - n/(n + c) for n = keys/128 key tiles per query tile row: each row of tiles pays a fixed
  ///   prologue and epilogue (loading Q, rescaling and writing O) and, causal, the partly masked
  ///   diagonal tiles; c blends `flashTileOverheadCausal` and `flashTileOverheadFull` by the
  ///   causal share of the work (what makes short sequences and small context-parallel blocks
  ///   slow);
  /// - √(min(d_h, 128)/128): smaller heads do less matrix work per softmax exponential, which
  ///   runs on the much slower special-function units (FlashAttention-3 §3).
  /// Sources of the constants: `PerformanceConstants`.
  func flashEfficiency(_ k: FlashAttentionCalls) -> Double {
    let tiles = max(1, k.keyLength / 128)
    let c =
      k.causalShare * constants.flashTileOverheadCausal + (1 - k.causalShare)
      * constants.flashTileOverheadFull
    let head = (min(max(k.headDim, 1), 128) / 128).squareRoot()
    return constants.flashForwardEfficiency(attentionKernel) * tiles / (tiles + c) * head
  }

  /// Exposed time of context parallelism's exchanges for one layer and microbatch, forward and
  /// backward (`ContextParallelTraffic` says what moves):
  /// - ring (p2p): R − 1 steps, each sending one K/V block (forward) or a block and its gradient
  ///   (backward) to the next rank while the attention of the current block runs, so a step
  ///   shows only max(0, send − that block's attention), the attention split evenly over the R
  ///   blocks (load-balanced chunks); neighbours are t·a2a ranks apart (`ringLink`);
  /// - all_gather: K, V of the whole sequence gathered before the forward and again before the
  ///   backward, dK, dV reduce-scattered after it; not overlapped;
  /// - a2a: the all-to-alls of Q, K, V and O (and of their gradients in backward) among a2a
  ///   ranks t apart; not overlapped.
  func contextParallelComm(coreForward: Seconds, coreBackward: Seconds) -> (
    forward: Seconds, backward: Seconds
  ) {
    let cp = layout.contextParallel
    guard cp > 1 else { return (.zero, .zero) }
    let traffic = ContextParallelTraffic(model, layout, elementBytes: e)
    let (a2a, ring) = layout.contextParallelComm.levels(cp: cp)
    var forward = Seconds.zero, backward = Seconds.zero
    if a2a > 1 {
      let (bw, lat) = link(size: a2a, stride: layout.tensor)
      let one = Bytes(traffic.allToAllBytes) / bw + lat * Double(a2a - 1)
      forward += one
      backward += one
    }
    if ring > 1 {
      let (bw, lat) = ringLink(size: ring, stride: layout.tensor * a2a)
      let steps = Double(ring - 1)
      let sendForward = Bytes(traffic.ringBytesForward) / bw + lat
      let sendBackward = Bytes(traffic.ringBytesBackward) / bw + lat
      let blockForward = coreForward / Double(ring), blockBackward = coreBackward / Double(ring)
      forward += Seconds(max(0, (sendForward - blockForward).value)) * steps
      backward += Seconds(max(0, (sendBackward - blockBackward).value)) * steps
    }
    if traffic.gatheredKeyValue > 0 {
      let gather = gatherOrScatter(traffic.gatheredKeyValue, n: cp, stride: layout.tensor)
      forward += gather
      backward += gather * 2
    }
    return (forward, backward)
  }

  /// Tensor-parallel collectives of one layer, forward and backward (before overlap). Each of
  /// the layer's regions (attention and MLP; a decoder layer's cross-attention too) ends in an
  /// all-reduce of its e·T·h output in forward and begins with one of its input's gradient in
  /// backward; with sequence parallelism each all-reduce is an all-gather and a reduce-scatter of
  /// the same bytes (K22 §4.2.2; N21 §3.2: 8bsh(t − 1)/t per layer for forward and backward),
  /// and backward all-gathers each column-parallel GEMM's sequence-sharded input again for its
  /// weight gradient (Megatron `LinearWithGradAccumulationAndAsyncCommunication`): one more per
  /// region. A cross-attention's key/value projection reads the encoder's output: without
  /// sequence parallelism backward all-reduces that input's gradient; with it, forward
  /// all-gathers the output and backward gathers it again and reduce-scatters its gradient.
  func tensorParallelComm(_ layer: LayerDescription) -> (forward: Seconds, backward: Seconds) {
    let n = layout.tensor
    guard n > 1 else { return (.zero, .zero) }
    let bytes = e * layer.tokens * layer.hidden
    let regions = Double(layer.tensorParallelRegions)
    let cross = e * layer.crossAttentionKeyTokens * layer.crossAttentionKeyWidth
    if layout.effectiveSequenceParallel {
      let one = gatherOrScatter(bytes, n: n, stride: 1)
      let crossOne = cross > 0 ? gatherOrScatter(cross, n: n, stride: 1) : .zero
      return (one * (2 * regions) + crossOne, one * (3 * regions) + crossOne * 2)
    }
    let one = allReduce(bytes, n: n, stride: 1) * regions
    return (one, one + (cross > 0 ? allReduce(cross, n: n, stride: 1) : .zero))
  }

  /// Backward of one layer: each GEMM's data- and weight-gradient GEMMs (2× the forward FLOPs),
  /// elementwise backward, the tensor-parallel collectives (partly hidden behind weight-gradient
  /// GEMMs), plus what recompute reruns first.
  public func layerBackward() -> Breakdown<SecondUnit> { layerBackward(layer) }

  func layerBackward(_ layer: LayerDescription) -> Breakdown<SecondUnit> {
    let fwd = layerForward(layer)
    var out = Breakdown<SecondUnit>()
    // Two GEMMs (dgrad, wgrad) of the forward's size each: twice the forward GEMM time.
    out.add("gemm", fwd["gemm"] * 2)
    out.add("attention_core", attentionCoreBackward(layer))
    out.add("elementwise", fwd["elementwise"] * constants.elementwiseBackwardFactor)
    let comm = tensorParallelComm(layer).backward
    out.add("tensor_parallel_comm", comm * (1 - constants.backwardTPOverlap))
    if fwd["expert_parallel_comm"].value > 0 {
      out.add("expert_parallel_comm", fwd["expert_parallel_comm"])
    }
    let context = contextParallelComm(
      coreForward: fwd["attention_core"], coreBackward: out["attention_core"])
    if context.backward.value > 0 { out.add("context_parallel_comm", context.backward) }
    return out
  }

  func attentionCoreBackward(_ layer: LayerDescription) -> Seconds {
    let fwd = attentionCoreForward(layer)
    // Flash attention's backward recomputes QKᵀ and runs four more GEMMs of the same size
    // (dV, dP, dQ, dK): 2.5× the forward's two (FlashAttention-2 §3.2), at
    // `flashBackwardRatio` of the forward's rate.
    if model.fusedAttention { return fwd * (2.5 / constants.flashBackwardRatio) }
    // The two batched GEMMs double; the softmax/dropout kernels move elementwiseBackwardFactor× bytes.
    return fwd * constants.elementwiseBackwardFactor
  }

  /// Recompute time of one layer for one microbatch, averaged over a chunk for partial recompute.
  public func layerRecompute() -> Seconds {
    layerRecompute(forward: nil, selective: selectiveRecompute(layer))
  }

  /// `layerRecompute()` given this layout's `layerForward()` and `selectiveRecompute` when the
  /// caller already has them.
  func layerRecompute(forward: Breakdown<SecondUnit>?, selective: Seconds) -> Seconds {
    switch layout.recompute {
    case .none: return .zero
    case .selective: return selective
    case .full:
      return (forward ?? layerForward()).total * FLOPCount.recomputedFraction(model, layout)
    }
  }

  /// `layerRecompute` from the forward's total.
  func layerRecompute(forwardTotal: Seconds, selective: Seconds) -> Seconds {
    switch layout.recompute {
    case .none: return .zero
    case .selective: return selective
    case .full: return forwardTotal * FLOPCount.recomputedFraction(model, layout)
    }
  }

  // MARK: - Stages and the iteration

  /// Output layer and cross entropy on the last stage, one microbatch, forward + backward:
  /// the logits GEMM 2bshV/t forward and twice that backward, and the cross entropy's
  /// memory-bound passes over the bsV/t logits (`crossEntropyBytesPerLogit`).
  func outputLayer() -> Seconds {
    // The rank's s·b/cp tokens.
    let sequences = Double(layout.microBatch) / Double(max(1, layout.contextParallel))
    let logits = FLOPCount.logitsForward(model, sequences: sequences) / t
    let gemms = gemm(logits, efficiency: constants.gemmEfficiency) * 3
    let elements = layout.tokens(of: model) * Double(model.vocabulary) / t
    return gemms + memoryBound(crossEntropyBytesPerLogit * elements)
  }

  /// Bytes the cross entropy moves per logit, forward and backward:
  /// - unfused (Megatron `_VocabParallelCrossEntropy` on `logits.float()`): the fp32 cast (read
  ///   2, write 4), the row max (read 4), subtracting it in place (8), exp in place (8), the row
  ///   sum (4) and the division by it in place (8) in forward; in backward the gradient scaled in
  ///   place (8) and cast back to 16 bits (read 4, write 2): 52 bytes;
  /// - fused (Megatron-Core `fused_vocab_parallel_cross_entropy`): the row max over the 16-bit
  ///   logits (read 2), the fused exp-and-sum writing fp32 exponentials (read 2, write 4), and a
  ///   fused backward reading them and writing the 16-bit gradient (read 4, write 2): 14 bytes.
  var crossEntropyBytesPerLogit: Double { crossEntropyFusion ? 14 : 52 }

  public struct StageTime: Sendable, Hashable, Codable, Comparable {
    public static func < (a: StageTime, b: StageTime) -> Bool { a.total < b.total }
    /// Adds another group of layers' times.
    static func += (a: inout StageTime, b: StageTime) {
      a.forward += b.forward
      a.backward += b.backward
      a.recompute += b.recompute
      a.communication += b.communication
      a.contextParallel += b.contextParallel
    }
    public var forward: Seconds
    public var backward: Seconds
    public var recompute: Seconds
    public var communication: Seconds
    /// Context parallelism's exposed exchanges (`contextParallelComm`).
    public var contextParallel: Seconds = .zero
    public var total: Seconds { forward + backward + recompute + communication + contextParallel }
  }

  /// Per-layer times for one microbatch, computed once and shared by every stage.
  public struct LayerTimes: Sendable {
    public var forward: Breakdown<SecondUnit>
    public var backward: Breakdown<SecondUnit>
    public var recompute: Seconds
    /// The layers' parameters, for the stage states.
    public var layerParameters: ParameterCount.LayerParameters
    /// An MoE layer's forward, backward and recompute, for a model with MoE layers.
    public var moeForward: Breakdown<SecondUnit>? = nil
    public var moeBackward: Breakdown<SecondUnit>? = nil
    public var moeRecompute: Seconds = .zero
    /// What selective recompute of the layout's modules reruns in a dense and an MoE layer
    /// (whatever the recompute setting, so layouts that differ in it share these).
    public var selectiveRecompute: Seconds = .zero
    public var moeSelectiveRecompute: Seconds = .zero
    /// The D multi-token-prediction layers, one microbatch, forward and backward (last stage).
    public var mtp: Seconds = .zero
    /// An encoder–decoder model's encoder and decoder layers (`LayerDescription` of each kind).
    public var encoder: KindTimes? = nil
    public var decoder: KindTimes? = nil

    /// One layer kind's times for one microbatch: the sums of its forward and backward
    /// (`Sums`), what selective recompute reruns and the layout's recompute (plain numbers, so
    /// that copying them per search candidate costs nothing).
    public struct KindTimes: Sendable {
      var sums: (forward: Sums, backward: Sums)
      public var selectiveRecompute: Seconds
      public var recompute: Seconds
      public var forwardSeconds: Seconds { sums.forward.total }
      public var backwardSeconds: Seconds { sums.backward.total }
    }

    /// The sums `layers(...)` needs of a layer's forward or backward, read from its breakdown
    /// once per layer kind rather than once per stage and layout (the search's hot path).
    struct Sums: Sendable {
      var total: Seconds
      var communication: Seconds
      var expert: Seconds
      var context: Seconds
      init(_ b: Breakdown<SecondUnit>) {
        total = b.total
        expert = b["expert_parallel_comm"]
        communication = b["tensor_parallel_comm"] + expert
        context = b["context_parallel_comm"]
      }
    }
    /// `Sums` of the dense and the MoE layer (set by `layerTimes`).
    var denseSums: (forward: Sums, backward: Sums)? = nil
    var moeSums: (forward: Sums, backward: Sums)? = nil

    mutating func computeSums() {
      denseSums = (Sums(forward), Sums(backward))
      if let f = moeForward, let b = moeBackward { moeSums = (Sums(f), Sums(b)) }
    }
  }

  public func layerTimes() -> LayerTimes {
    let layer = self.layer
    let forward = layerForward(layer)
    let selective = selectiveRecompute(layer)
    var lt = LayerTimes(
      forward: forward, backward: layerBackward(layer),
      recompute: layerRecompute(forward: forward, selective: selective),
      layerParameters: ParameterCount.LayerParameters(model))
    lt.selectiveRecompute = selective
    if model.moe != nil {
      let moe = LayerDescription(model, .init(layout, precision: precision), moe: true)
      let f = layerForward(moe)
      lt.moeForward = f
      lt.moeBackward = layerBackward(moe)
      lt.moeSelectiveRecompute = selectiveRecompute(moe)
      lt.moeRecompute = layerRecompute(forward: f, selective: lt.moeSelectiveRecompute)
    }
    lt.mtp = multiTokenPrediction()
    if model.encoderDecoder != nil {
      lt.encoder = kindTimes(.encoder)
      lt.decoder = kindTimes(.decoder)
    }
    lt.computeSums()
    return lt
  }

  /// The times of one layer of `kind` (an encoder–decoder model's encoder or decoder layer).
  func kindTimes(_ kind: LayerKind) -> LayerTimes.KindTimes {
    let layer = LayerDescription(model, .init(layout, precision: precision), kind: kind)
    let forward = layerForward(layer), backward = layerBackward(layer)
    let selective = selectiveRecompute(layer)
    return LayerTimes.KindTimes(
      sums: (LayerTimes.Sums(forward), LayerTimes.Sums(backward)), selectiveRecompute: selective,
      recompute: layerRecompute(forward: forward, selective: selective))
  }

  /// The D MTP layers of the last stage for one microbatch, forward and backward
  /// (`MultiTokenPrediction`): the transformer layer (the model's last layer's kind), the
  /// projection's GEMMs (twice again in backward) and norms, the all-gather of its output over
  /// the tensor group in forward and the reduce-scatter of its gradient in backward, and the
  /// output layer and cross entropy once more.
  func multiTokenPrediction() -> Seconds {
    guard model.mtpLayers > 0 else { return .zero }
    let shard = LayerDescription.Shard(layout, precision: precision)
    let layer = MultiTokenPrediction.layer(model, shard)
    let projection = MultiTokenPrediction.projection(model, shard)
    var gemms = Seconds.zero
    for g in projection.gemms { gemms += time(of: g) }
    let bytes = projection.ops.reduce(0) { $0 + $1.elementwiseBytes }
    let elementwise = memoryBound(bytes) * (1 + constants.elementwiseBackwardFactor)
    let gathered = e * layout.tokens(of: model) * Double(model.hidden)
    let comm = gatherOrScatter(gathered, n: layout.tensor, stride: 1) * 2
    let one =
      layerForward(layer).total + layerBackward(layer).total + gemms * 3 + elementwise + comm
      + outputLayer()
    return one * Double(model.mtpLayers)
  }

  /// `layerTimes()` for this layout, reusing the forward and backward of `shared`, computed for
  /// a layout with the same t, b and SP (they do not depend on p, v, d or the recompute
  /// setting); only the recompute term, which depends on the recompute setting and on the layers
  /// per chunk (partial recompute), is evaluated. Same values as `layerTimes()`.
  public func layerTimes(reusing shared: LayerTimes) -> LayerTimes {
    var lt = LayerTimes(
      forward: shared.forward, backward: shared.backward,
      recompute: layerRecompute(forward: shared.forward, selective: shared.selectiveRecompute),
      layerParameters: shared.layerParameters)
    lt.selectiveRecompute = shared.selectiveRecompute
    lt.moeSelectiveRecompute = shared.moeSelectiveRecompute
    lt.mtp = shared.mtp
    if let f = shared.moeForward {
      lt.moeForward = f
      lt.moeBackward = shared.moeBackward
      lt.moeRecompute = layerRecompute(forward: f, selective: shared.moeSelectiveRecompute)
    }
    if var k = shared.encoder {
      k.recompute = layerRecompute(forwardTotal: k.forwardSeconds, selective: k.selectiveRecompute)
      lt.encoder = k
    }
    if var k = shared.decoder {
      k.recompute = layerRecompute(forwardTotal: k.forwardSeconds, selective: k.selectiveRecompute)
      lt.decoder = k
    }
    lt.denseSums = shared.denseSums
    lt.moeSums = shared.moeSums
    if lt.denseSums == nil { lt.computeSums() }
    return lt
  }

  /// The communication terms of a layer's time (collectives of tensor and expert parallelism).
  static let communicationTerms = ["tensor_parallel_comm", "expert_parallel_comm"]

  /// Compute time of stage `i` for the whole iteration (all m microbatches), split as
  /// the chart shows it: forward and backward compute, recompute, communication (tensor- and
  /// expert-parallel collectives). Every stage runs its layers — dense and MoE, each kind with
  /// its own times — and the last also runs the output layer.
  public func stage(_ i: Int, layers given: LayerTimes? = nil) -> StageTime {
    if let given { return stage(i, times: given) }
    return stage(i, times: layerTimes())
  }

  /// `stage(_:layers:)` with the layer times given (no copy of them: the search's hot path).
  func stage(_ i: Int, times lt: LayerTimes) -> StageTime {
    let kinds = layout.layerKinds(onStage: i, of: model)
    let dense = lt.denseSums ?? (LayerTimes.Sums(lt.forward), LayerTimes.Sums(lt.backward))
    var time = layers(
      forward: dense.forward, backward: dense.backward, recompute: lt.recompute,
      count: kinds.dense, stage: i)
    if kinds.moe > 0, let f = lt.moeForward, let b = lt.moeBackward {
      let sums = lt.moeSums ?? (LayerTimes.Sums(f), LayerTimes.Sums(b))
      let moe = layers(
        forward: sums.forward, backward: sums.backward, recompute: lt.moeRecompute,
        count: kinds.moe, stage: i)
      time.forward += moe.forward
      time.backward += moe.backward
      time.recompute += moe.recompute
      time.communication += moe.communication
      time.contextParallel += moe.contextParallel
    }
    if kinds.encoder > 0, let k = lt.encoder {
      time += layers(
        forward: k.sums.forward, backward: k.sums.backward, recompute: k.recompute,
        count: kinds.encoder, stage: i)
    }
    if kinds.decoder > 0, let k = lt.decoder {
      time += layers(
        forward: k.sums.forward, backward: k.sums.backward, recompute: k.recompute,
        count: kinds.decoder, stage: i)
    }
    if i == layout.pipeline - 1 {
      let out = (outputLayer() + lt.mtp) * Double(layout.microbatches)
      time.forward += out / 3
      time.backward += out * (2.0 / 3.0)
    }
    return time
  }

  /// `count` layers of one kind on stage `i`, for all m microbatches.
  func layers(
    forward fwd: LayerTimes.Sums, backward bwd: LayerTimes.Sums, recompute: Seconds,
    count: Int, stage i: Int
  ) -> StageTime {
    let perStage = Double(count) * Double(layout.microbatches)
    let fwdComm = fwd.communication, bwdComm = bwd.communication
    let fwdContext = fwd.context, bwdContext = bwd.context
    let fwdTotal = fwd.total
    let forward = (fwdTotal - fwdComm - fwdContext) * perStage
    let backward = (bwd.total - bwdComm - bwdContext) * perStage
    var recomputePerLayer = recompute
    if case .full = layout.recompute, !layout.split.isEven {
      // Partial recompute applies per chunk, so stages of different sizes rerun different shares.
      recomputePerLayer = fwdTotal * FLOPCount.recomputedFraction(model, layout, stage: i)
    }
    var rerun = recomputePerLayer * perStage
    var communication = (fwdComm + bwdComm) * perStage
    var context = (fwdContext + bwdContext) * perStage
    if overlap.expertParallel, model.moe != nil,
      case let epComm = fwd.expert + bwd.expert,
      epComm.value > 0
    {
      // `overlap_moe_expert_parallel_comm`: Megatron-Core merges the forward of one microbatch
      // with the backward of another (the combined 1F1B schedule) and runs each one's dispatch
      // and combine all-to-alls beside the other's compute. Only the steady-state pairs overlap:
      // m·v chunk steps less the chunks in flight at the end of warm-up; in a pair, the
      // all-to-alls hide behind at most the pair's compute.
      let steps = Double(layout.microbatches * max(1, layout.virtualStages))
      let paired =
        max(0, steps - Double(PipelineSchedule(layout).chunksInFlight(stage: i))) / steps
      let compute = (fwdTotal - fwdComm - fwdContext) + (bwd.total - bwdComm - bwdContext)
      let hidden = Seconds(min(epComm.value, compute.value)) * paired
      communication = communication - hidden * perStage
    }
    if case .full = layout.recompute, fwdTotal.value > 0 {
      // A recomputed forward includes its own collectives; count them as communication.
      let share = recomputePerLayer / fwdTotal
      let rerunComm = fwdComm * share * perStage
      let rerunContext = fwdContext * share * perStage
      rerun = rerun - rerunComm - rerunContext
      communication += rerunComm
      context += rerunContext
    }
    return StageTime(
      forward: forward, backward: backward, recompute: rerun, communication: communication,
      contextParallel: context)
  }

  /// Pipeline point-to-point per iteration on the critical path: per microbatch and model chunk,
  /// one activation sent forward and one gradient sent back, each b·s·h/(t·cp) elements with the
  /// scatter/gather optimisation (N21 §4.1), plus the all-gather that rebuilds it on the
  /// receiving side without sequence parallelism; interleaving multiplies the traffic by v
  /// (N21 §2.2.2). Stages are t·cp·d ranks apart (Megatron-Core orders ranks tp-cp-ep-dp-pp).
  ///
  /// An encoder–decoder pipeline's decoder stages pass the encoder's output along with the
  /// decoder's hidden state (Megatron `get_tensor_shapes`: [(s_dec, b, h), (s_enc, b, h)] past
  /// the split rank): the steady state runs at its slowest boundary, so the message is that one,
  /// e·b·(s_dec·h + s_enc·h_enc), at every boundary.
  public func pipelineComm() -> Seconds {
    guard layout.pipeline > 1 else { return .zero }
    var bytes = e * layout.tokens(of: model) * Double(model.hidden)
    if let ed = model.encoderDecoder {
      let encoderOutput =
        e * Double(ed.encoderSequence * layout.microBatch) * Double(ed.encoderHidden)
      bytes += encoderOutput
    }
    let (bw, lat) = link(size: 2, stride: layout.tensor * layout.contextParallel * layout.data)
    var message = Bytes(bytes / t) / bw + lat
    if !layout.effectiveSequenceParallel && layout.tensor > 1 {
      message += gatherOrScatter(bytes, n: layout.tensor, stride: 1)
    }
    let total = message * Double(2 * layout.microbatches * layout.virtualStages)
    // `overlap_p2p_comm` (interleaved schedule) runs the sends and receives beside compute.
    if overlap.pipelineP2P && layout.interleaved { return total * (1 - constants.forwardTPOverlap) }
    return total
  }

  /// Data-parallel gradient reduction for the most loaded stage's parameters, as two parts
  /// (reduce, gather): an all-reduce of the fp32 main gradients (4 bytes per parameter), or with
  /// the distributed optimizer a reduce-scatter of them and an all-gather of the updated weights
  /// (16-bit, or 1 byte with FP8 primary weights). Tied embeddings with p > 1 add the all-reduce
  /// of the embedding gradient between the first and last stage. The group is d·cp ranks t apart
  /// (`Layout.dataParallelWithContext`).
  /// With full sharding (FSDP) the gradients are reduce-scattered per microbatch in
  /// `fullyShardedComm` instead and nothing is left here but the embedding all-reduce.
  public func dataParallelComm(
    parameters: Parameters, embeddingParameters: Parameters, group: Int? = nil
  ) -> (reduce: Seconds, gather: Seconds) {
    let d = group ?? layout.dataParallelWithContext
    let gradBytes = 4 * parameters.value
    var reduce = Seconds.zero
    var gather = Seconds.zero
    if layout.fullySharded {
      // Reduced per microbatch (`fullyShardedComm`).
    } else if layout.distributedOptimizer {
      reduce = gatherOrScatter(gradBytes, n: d, stride: layout.tensor)
      gather = gatherOrScatter(weightBytes * parameters.value, n: d, stride: layout.tensor)
    } else {
      reduce = allReduce(gradBytes, n: d, stride: layout.tensor)
    }
    if model.tiedEmbeddings && layout.pipeline > 1 && embeddingParameters.value > 0 {
      reduce += allReduce(4 * embeddingParameters.value, n: 2, stride: gpu.gpusPerNode * 2)
    }
    return (reduce, gather)
  }

  /// Bytes of one weight as the data-parallel all-gathers move it: 1 with FP8 primary weights,
  /// else the training precision's.
  var weightBytes: Double { model.fp8?.primaryWeights == true ? 1 : precision.weightBytes }

  /// Fully sharded data parallelism (Megatron-FSDP, `data_parallel_sharding_strategy:
  /// optim_grads_params`): for every microbatch each layer's weights are all-gathered before its
  /// forward and again before its backward, and its gradients reduce-scattered after its
  /// backward, over the d data-parallel ranks; Megatron-FSDP prefetches the next layer's
  /// gather while the current one computes, so only what outlasts the compute shows, plus the
  /// first layer's gather, which nothing hides. Per iteration, for the stage's parameters.
  public func fullyShardedComm(parameters: Parameters, compute: Seconds, layers: Int) -> Seconds {
    let d = layout.dataParallelWithContext, stride = layout.tensor
    guard layout.fullySharded, d > 1 else { return .zero }
    let gathers = gatherOrScatter(weightBytes * parameters.value, n: d, stride: stride) * 2
    let scatter = gatherOrScatter(
      precision.weightBytes * parameters.value, n: d, stride: stride)
    let perMicrobatch = gathers + scatter
    let computePerMicrobatch = compute / Double(max(1, layout.microbatches))
    let firstLayer = perMicrobatch / Double(max(1, layers))
    let exposed = Seconds(max(0, (perMicrobatch - computePerMicrobatch).value)) + firstLayer
    return exposed * Double(layout.microbatches)
  }

  /// Optimizer step: a memory-bound pass over this GPU's optimizer shard.
  public func optimizerStep(parameters: Parameters, group: Int? = nil) -> Seconds {
    let d = Double(group ?? layout.dataParallelWithContext)
    let shard = layout.distributedOptimizer || layout.fullySharded ? d : 1
    let perParameter =
      precision == .fp32
      ? constants.optimizerBytesPerParameter - 6 : constants.optimizerBytesPerParameter
    return memoryBound(parameters.value / shard * perParameter)
  }

  /// The iteration, by part. `ideal` is the slowest stage's compute; the bubble is
  /// (p − 1)/(v·m) of it (N21 §2.2).
  /// `layers` lets a caller that evaluates many pipeline layouts with the same t, b, SP and
  /// recompute pass the per-layer times computed once (they do not depend on p, v or d).
  public func iteration(layers given: LayerTimes? = nil) -> Breakdown<SecondUnit> {
    iterationParts(layers: given).breakdown
  }

  /// The iteration's parts as numbers; `breakdown` names them as `iteration` reports them, and
  /// `total` is what the search ranks by without building the breakdown.
  public struct IterationParts: Sendable, Hashable {
    public var forward, backward, recompute, communication, contextParallel: Seconds
    public var bubble, pipelineComm, dataParallelComm, optimizer: Seconds

    public var total: Seconds {
      forward + backward + recompute + communication + contextParallel + bubble + pipelineComm
        + dataParallelComm + optimizer
    }

    public var breakdown: Breakdown<SecondUnit> {
      var out = Breakdown<SecondUnit>()
      out.add("forward", forward)
      out.add("backward", backward)
      out.add("recompute", recompute)
      out.add("tensor_parallel_comm", communication)
      if contextParallel.value > 0 { out.add("context_parallel_comm", contextParallel) }
      out.add("pipeline_bubble", bubble)
      out.add("pipeline_comm", pipelineComm)
      out.add("data_parallel_comm", dataParallelComm)
      out.add("optimizer", optimizer)
      return out
    }
  }

  /// The stages on both sides of an encoder–decoder split (r − 1 and r), for p > 1.
  func encoderDecoderBoundary(_ p: Int) -> (Int, Int)? {
    guard p > 1, layout.split.encoderLayers != nil, let r = layout.split.encoderStages, r > 0,
      r < p
    else { return nil }
    return (r - 1, r)
  }

  public func iterationParts(layers given: LayerTimes? = nil) -> IterationParts {
    let lt = given ?? layerTimes()
    let p = max(1, layout.pipeline)
    // With an even split, stages differ only in the output layer on the last one, so the
    // slowest is the last or, when p > 1, any other (all alike): two evaluations instead of p.
    // An uneven split differs on the first and last stage and is alike in between: three.
    let last = stage(p - 1, times: lt)
    var slowest = p > 1 ? max(last, stage(0, times: lt)) : last
    if p > 2 && !layout.split.isEven { slowest = max(slowest, stage(1, times: lt)) }
    if p > 3 && layout.split.chunkLayers != nil {
      // A flexible layout can make any stage the slowest.
      for i in 2..<(p - 1) { slowest = max(slowest, stage(i, times: lt)) }
    }
    // An encoder–decoder split: each stack's stages are alike but for its first and last; the
    // encoder's last and the decoder's first stand beside 0, 1 and p − 1.
    let boundary = encoderDecoderBoundary(p)
    if let (a, b) = boundary {
      slowest = max(slowest, stage(a, times: lt), stage(b, times: lt))
    }
    let schedule = PipelineSchedule(layout)
    // States are reduced for the stage with the most parameters (the first, the last, or with
    // an uneven split a middle one).
    func params(_ i: Int) -> ParameterCount.StageParameters {
      ParameterCount.stageParameters(model, layout, stage: i, layers: lt.layerParameters)
    }
    var most = params(0)
    var candidates: [Int] = p > 1 ? [p - 1] : []
    if p > 2 && !layout.split.isEven || model.moe != nil && p > 2 { candidates.append(1) }
    if p > 3 && layout.split.chunkLayers != nil { candidates += Array(2..<(p - 1)) }
    if let (a, b) = boundary { candidates += [a, b] }
    for i in candidates {
      let b = params(i)
      if b.total > most.total { most = b }
    }
    let maxParams = Parameters(most.total)
    // Expert weights are reduced over the expert data-parallel group, the rest over d.
    let expertParams = Parameters(most.expert)
    let embedding = Parameters(Double(model.vocabulary) * Double(model.hidden) / t)
    var (reduce, gather) = dataParallelComm(
      parameters: maxParams - expertParams, embeddingParameters: embedding)
    if expertParams.value > 0 {
      let expertComm = dataParallelComm(
        parameters: expertParams, embeddingParameters: .zero, group: layout.expertData)
      reduce += expertComm.reduce
      gather += expertComm.gather
    }
    var dp = reduce + gather
    if overlap.gradientReduction {
      // Buckets reduce while the last microbatch's backward runs; only what outlasts it shows.
      // The first stage's word embedding gets its gradient last (its backward ends the pass;
      // tied to the output layer, its two contributions are summed then), so its bucket is
      // reduced after backward, with nothing left to hide it: a floor that matters when the
      // embedding is a large share of the parameters (mT5's 250k vocabulary).
      let lastBackward = slowest.backward / Double(layout.microbatches)
      let d = layout.dataParallelWithContext
      let embeddingBytes = 4 * embedding.value
      let embeddingReduce =
        layout.fullySharded || d < 2
        ? Seconds.zero
        : layout.distributedOptimizer
          ? gatherOrScatter(embeddingBytes, n: d, stride: layout.tensor)
          : allReduce(embeddingBytes, n: d, stride: layout.tensor)
      dp =
        Seconds(
          max(reduce.value - lastBackward.value, reduce.value * 0.1, embeddingReduce.value))
        + gather
    }
    if overlap.parameterGather {
      // The updated weights are gathered bucket by bucket as the next forward needs them.
      let firstForward = slowest.forward / Double(layout.microbatches)
      dp = dp - gather + Seconds(max(gather.value - firstForward.value, gather.value * 0.1))
    }
    let stageLayers = layout.split.maxLayersPerStage(of: model.layers, stages: p)
    dp += fullyShardedComm(
      parameters: maxParams, compute: slowest.forward + slowest.backward + slowest.recompute,
      layers: stageLayers)
    return IterationParts(
      forward: slowest.forward, backward: slowest.backward, recompute: slowest.recompute,
      communication: slowest.communication, contextParallel: slowest.contextParallel,
      bubble: slowest.total * schedule.bubbleFraction, pipelineComm: pipelineComm(),
      dataParallelComm: dp,
      optimizer: optimizerStep(parameters: maxParams - expertParams)
        + optimizerStep(parameters: expertParams, group: layout.expertData))
  }
}
