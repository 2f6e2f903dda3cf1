/// One layer's time for one microbatch on one GPU, by term (forward or backward): its GEMMs,
/// its attention core, its memory-bound kernels, and the exposed part of the collectives of
/// each parallelism it runs. Typed terms: a report names them through `Term`.
/// The CPU time to launch one layer's kernels for one microbatch (`StepTimeModel.hostSeconds`):
/// before and after the point where an MoE layer's dispatcher waits for the GPU, and that wait.
public struct HostTime: Sendable, Hashable {
  public var beforeSync = Seconds.zero
  public var afterSync = Seconds.zero
  public var sync = Seconds.zero
  public var total: Seconds { beforeSync + afterSync + sync }
}

public struct LayerTime: Sendable, Hashable {
  /// The terms, named as reports print them.
  public enum Term: String, Sendable, Hashable, CaseIterable, BreakdownKey {
    case gemm
    case attentionCore = "attention_core"
    case elementwise
    case tensorParallelComm = "tensor_parallel_comm"
    case expertParallelComm = "expert_parallel_comm"
    case contextParallelComm = "context_parallel_comm"
    case hostOverhead = "host_overhead"
  }

  public var gemm = Seconds.zero
  public var attentionCore = Seconds.zero
  public var elementwise = Seconds.zero
  public var tensorParallelComm = Seconds.zero
  public var expertParallelComm = Seconds.zero
  public var contextParallelComm = Seconds.zero
  /// What the CPU takes to launch the layer's kernels beyond the GPU's time for them: the GPU
  /// waits for the host (`StepTimeModel.hostSeconds`).
  public var hostOverhead = Seconds.zero
  /// Of a forward's terms: what its memory-bound kernels take in backward (not a term itself):
  /// `elementwiseBackwardFactor` × their forward bytes, but a permutation's backward is the
  /// inverse permutation, the same bytes once (the MoE dispatch and combine).
  var backwardElementwise = Seconds.zero
  /// Of an MoE layer's forward (not terms): its routed experts' GEMMs and its shared experts.
  var expertGEMMs = Seconds.zero
  var sharedExperts = Seconds.zero

  public subscript(term: Term) -> Seconds {
    switch term {
    case .gemm: gemm
    case .attentionCore: attentionCore
    case .elementwise: elementwise
    case .tensorParallelComm: tensorParallelComm
    case .expertParallelComm: expertParallelComm
    case .contextParallelComm: contextParallelComm
    case .hostOverhead: hostOverhead
    }
  }

  /// Every term (the exposed collectives included).
  public var total: Seconds {
    gemm + attentionCore + elementwise + contextParallelComm + tensorParallelComm
      + expertParallelComm + hostOverhead
  }
  /// What the GPU runs: every term but the host's overhead.
  public var device: Seconds { total - hostOverhead }
  /// The tensor- and expert-parallel collectives.
  public var communication: Seconds { tensorParallelComm + expertParallelComm }
  /// What the layer computes: the total less its collectives and context-parallel exchanges.
  public var compute: Seconds { total - communication - contextParallelComm }

  /// The terms that are not zero, for reports.
  public var breakdown: Breakdown<SecondUnit> {
    var out = Breakdown<SecondUnit>()
    for term in Term.allCases where self[term].value != 0 { out.add(term.rawValue, self[term]) }
    return out
  }
}

/// The time physics of a Megatron-style training step on a `Machine`, built from the work of
/// one GPU: the GEMMs of its tensor-parallel shard at an achieved efficiency, memory-bound
/// elementwise kernels at HBM bandwidth, the collectives of tensor, context, expert, pipeline
/// and data parallelism, recompute, the output layer and the optimizer step. One layer at a
/// time (`forward`, `backward`, `selectiveRecompute`) and the iteration's own terms
/// (`pipelineComm`, `gradientReduction`, `parameterGather`, `optimizerStep`); the `Evaluator`
/// assembles them into stages (`StagePlan`) and the iteration. Constants: `PerformanceConstants`.
public struct StepTimeModel: Sendable {
  public var model: TransformerModel
  public var layout: Layout
  public var precision: Precision
  public var machine: Machine
  /// What the software overlaps and fuses (`Software`).
  public var software: Software

  public init(
    model: TransformerModel, layout: Layout, precision: Precision, machine: Machine,
    software: Software
  ) {
    self.model = model
    self.layout = layout
    self.precision = precision
    self.machine = machine
    self.software = software
  }

  /// A model on `gpu` with the generation's constants (or `constants`) and `overlap`.
  public init(
    model: TransformerModel, layout: Layout, precision: Precision, gpu: GPU,
    constants: PerformanceConstants? = nil, overlap: Overlap = .none
  ) {
    self.init(
      model: model, layout: layout, precision: precision,
      machine: Machine(gpu: gpu, constants: constants), software: Software(overlap: overlap))
  }

  var gpu: GPU { machine.gpu }
  var constants: PerformanceConstants { machine.constants }
  var overlap: Overlap { software.overlap }
  var e: Double { precision.activationBytes }
  var t: Double { Double(layout.tensor) }

  // MARK: - One layer, one microbatch, one GPU

  /// The layer `layerForward()` and the estimate's per-layer times describe: the model's (dense)
  /// layer, or an encoder–decoder model's decoder layer.
  var layer: LayerDescription {
    LayerDescription(
      model, .init(layout, precision: precision),
      kind: model.encoderDecoder == nil ? .dense : .decoder)
  }

  /// Forward time of the model's representative layer (`layer`) for one microbatch, by term.
  public func layerForward() -> LayerTime { forward(layer) }
  /// Backward time of the representative layer, by term.
  public func layerBackward() -> LayerTime { backward(layer) }

  /// Forward time of `layer` for one microbatch, by term.
  public func forward(_ layer: LayerDescription) -> LayerTime {
    var out = LayerTime()
    // GEMMs of one tensor-parallel shard (column-parallel QKV and fc1, row-parallel projection
    // and fc2), each at the GEMM efficiency plus its fixed cost.
    var weightGEMMs = Seconds.zero
    var elementwise = 0.0, backwardBytes = 0.0
    // What runs after an MoE layer's dispatcher has synchronised with the host
    // (`hostSeconds`): the ops from the dispatch on.
    var afterSync = Seconds.zero, synced = false
    // The shared experts' and the routed experts' GEMMs (`moe_shared_expert_overlap`,
    // `delay_wgrad_compute`).
    var shared = Seconds.zero, expert = Seconds.zero
    for op in layer.ops where !op.isAttentionCore {
      if op.kind == .dispatch { synced = true }
      var opTime = Seconds.zero
      for g in op.gemms { opTime += machine.time(of: g, precision: precision) }
      weightGEMMs += opTime
      if op.kind.isSharedExpert { shared += opTime + machine.stream(op.elementwiseBytes) }
      if op.kind.isExpertGEMM { expert += opTime }
      if synced { afterSync += opTime + machine.stream(op.elementwiseBytes) }
      if let experts = model.moe, !experts.groupedGEMM, op.kind.isExpertGEMM {
        // Without grouped GEMM each local expert runs its own GEMM, each with the fixed cost.
        let local = max(1, experts.experts / max(1, layout.expertParallel))
        weightGEMMs += Seconds(constants.gemmFixedSeconds) * Double(local - 1)
      }
      // Memory-bound kernels outside the attention core: norms (read + write), bias-dropout-
      // adds (read input and residual, write output and a 1-byte mask), the activation (reads
      // fc1's output, writes f), rotary and QK norms where present.
      elementwise += op.elementwiseBytes
      backwardBytes +=
        op.elementwiseBytes * (op.kind.isPermutation ? 1 : constants.elementwiseBackwardFactor)
    }
    out.gemm = weightGEMMs
    let core = attentionCoreForward(layer)
    out.attentionCore = core
    out.elementwise = machine.stream(elementwise)
    out.backwardElementwise = machine.stream(backwardBytes)
    out.contextParallelComm =
      contextParallelComm(coreForward: core, coreBackward: attentionCoreBackward(layer)).forward
    // Megatron-Core's `tp_comm_overlap` hides most of the forward collectives behind the GEMMs;
    // 2021–2022 Megatron-LM exposed them.
    let hidden = overlap.tensorParallel ? constants.forwardTPOverlap : 0
    out.tensorParallelComm = overlapped(tensorParallelComm(layer).forward, hidden: hidden)
    if layer.op(.router) != nil {
      out.expertParallelComm = expertParallelComm()
      if let experts = model.moe, experts.sharedExpertOverlap {
        // Megatron-Core runs the shared experts on a side stream during the dispatch (half the
        // layer's exchange): what of the dispatch they cover does not show.
        out.expertParallelComm =
          out.expertParallelComm
          - Seconds(min(shared.value, out.expertParallelComm.value / 2))
      }
      out.expertGEMMs = expert
      out.sharedExperts = shared
    }
    let host = hostSeconds(layer, backward: false)
    if host.sync > .zero {
      // The dispatcher waits for the GPU (the token counts it copies to the host): the CPU can
      // run ahead of the layer's kernels before that point and after it, but not across it.
      let after = afterSync + out.expertParallelComm
      let before = out.total - after
      out.hostOverhead =
        Seconds(max(0, (host.beforeSync - before).value)) + host.sync
        + Seconds(max(0, (host.afterSync - after).value))
    } else {
      out.hostOverhead = Seconds(max(0, (host.total - out.total).value))
    }
    return out
  }

  /// Backward of one layer: each GEMM's data- and weight-gradient GEMMs (2× the forward FLOPs),
  /// elementwise backward, the tensor-parallel collectives (partly hidden behind weight-gradient
  /// GEMMs), the token dispatch and combine again, context parallelism's backward exchange.
  public func backward(_ layer: LayerDescription) -> LayerTime {
    backward(layer, forward: forward(layer))
  }

  /// `backward(_:)` given the layer's forward.
  public func backward(_ layer: LayerDescription, forward fwd: LayerTime) -> LayerTime {
    var out = LayerTime()
    // Two GEMMs (dgrad, wgrad) of the forward's size each: twice the forward GEMM time.
    out.gemm = fwd.gemm * 2
    out.attentionCore = attentionCoreBackward(layer)
    out.elementwise = fwd.backwardElementwise
    // The backward's collectives run beside the weight-gradient GEMMs (NCCL's asynchronous
    // calls, or Transformer Engine's userbuffers with `tp_comm_overlap`), which they slow
    // (`contention`).
    out.tensorParallelComm = overlapped(
      tensorParallelComm(layer).backward, hidden: constants.backwardTPOverlap)
    out.expertParallelComm = fwd.expertParallelComm
    if let experts = model.moe, experts.delayWeightGradient, fwd.expertGEMMs > .zero {
      // `delay_wgrad_compute`: the experts' weight-gradient GEMMs (one forward's worth) run
      // after the data gradients, beside the backward's dispatch exchange (half the layer's).
      let full = expertParallelComm()
      out.expertParallelComm =
        out.expertParallelComm
        - Seconds(min(fwd.expertGEMMs.value, full.value / 2, out.expertParallelComm.value))
    }
    out.contextParallelComm =
      contextParallelComm(coreForward: fwd.attentionCore, coreBackward: out.attentionCore)
      .backward
    out.hostOverhead = Seconds(
      max(0, (hostSeconds(layer, backward: true).total - out.total).value))
    return out
  }

  /// The CPU time to launch one layer's kernels for one microbatch, forward or backward: eager
  /// PyTorch issues each kernel (`hostSecondsPerKernel`); a part of the layer a CUDA graph
  /// captures (`Software.cudaGraphs`, by `OpKind.graphScope`) launches as one graph
  /// (`graphLaunchSeconds`; a whole-layer graph, no scope named, is one launch); a
  /// whole-iteration graph leaves nothing per layer. Kernels per op: its GEMMs (in backward two
  /// each, data and weight gradients), one memory-bound kernel when it moves bytes, a fused
  /// attention core one kernel (two in backward), one quantization kernel per low-precision GEMM
  /// (two with current scaling: the amax, then the cast), and the tensor-parallel collectives:
  /// two launches per region forward (its gather and scatter, or an all-reduce and the norm's
  /// copy), three backward, counted with the attention scope. The GPU waits when this exceeds its own time for the layer
  /// (`LayerTime.hostOverhead`), which is what makes small layers host-bound.
  public func hostSeconds(_ layer: LayerDescription, backward: Bool) -> HostTime {
    let graphs = software.cudaGraphs
    if graphs.fullIteration { return HostTime() }
    let experts = layer.op(.router) != nil ? model.moe : nil
    let current = model.fp8?.recipe == .tensorwise || model.fp8?.recipe == .nvfp4
    var before = 0.0, after = 0.0, synced = false
    var captured = Set<CUDAGraphs.Scope>()
    for op in layer.ops {
      if op.kind == .dispatch { synced = true }
      let scope = op.kind.graphScope(inMoELayer: experts != nil)
      // The experts and the combine capture only with static shapes (drop-and-pad): a dropless
      // layer's token counts change every step (Megatron-Core's `moe` scope).
      if graphs.captures(scope) && (scope != .moe || experts?.padToCapacity == true) {
        captured.insert(scope)
        continue
      }
      let lowPrecision = Double(op.gemms.filter { $0.fp8 && $0.kind == .weight }.count)
      var n: Double
      if op.isAttentionCore && model.fusedAttention {
        // One fused kernel forward; backward a preprocessing kernel and the main one
        // (FlashAttention-2 §3.2's dO·O row sums, then dQ, dK, dV).
        n = backward ? 2 : 1
      } else if let experts, let moeKernels = moeKernels(op.kind, experts, backward: backward) {
        n = moeKernels
      } else {
        n = Double(op.gemms.count) * (backward && !op.isAttentionCore ? 2 : 1)
        n += op.elementwiseBytes > 0 ? 1 : 0
      }
      n += lowPrecision * (current ? 2 : 1)
      if synced { after += n } else { before += n }
    }
    if layout.tensor > 1 && !graphs.captures(.attn) {
      before += Double(layer.tensorParallelRegions) * (backward ? 3 : 2)
    }
    // A whole-layer graph (no scope named) is one launch; named scopes one each.
    let launches = graphs.scopes.isEmpty ? min(1, captured.count) : captured.count
    var out = HostTime()
    out.beforeSync = machine.hostSeconds(kernels: before, graphLaunches: Double(launches))
    out.afterSync = machine.hostSeconds(kernels: after, graphLaunches: 0)
    // A dropless MoE layer's forward copies its token counts to the host before the experts
    // run (the grouped GEMM's splits live on the CPU): the copy and the wait, then Python issues
    // the next op, two launches' worth with nothing queued on the GPU.
    if let experts, !backward, !(experts.capacityFactor != nil && experts.padToCapacity) {
      out.sync = machine.hostSeconds(kernels: 2, graphLaunches: 0)
    }
    return out
  }

  /// Eager kernels of an MoE layer's op, forward or backward (nil: the generic count), as
  /// Megatron-Core's `MoELayer` issues them:
  /// - the router: its GEMM and, unfused, the score function, top-k, the probabilities'
  ///   scatter and the auxiliary loss's counts and sums (8 ops forward, 4 backward); fused
  ///   (`moe_router_fusion`, Transformer Engine's fused top-k and aux-loss kernels) 3 and 2;
  /// - the dispatch: the token counts (a bincount and their exchange), the permutation
  ///   (fused: an index map and the permute, 2; unfused: sort, index and gather, 4), the
  ///   exchange itself (one NCCL all-to-all, or DeepEP/HybridEP's layout, notify and dispatch
  ///   kernels, 3) and, for the alltoall dispatcher with several local experts, the sort of
  ///   the received chunks by expert; backward the inverse moves;
  /// - the experts' GEMMs: Transformer Engine's `GroupedLinear` issues one GEMM per local
  ///   expert (two per expert in backward, data and weight gradients); without grouped GEMM
  ///   the same count;
  /// - the combine: the exchange back and the unpermutation (fused 1, unfused 2).
  func moeKernels(_ kind: OpKind, _ experts: MixtureOfExperts, backward: Bool) -> Double? {
    let local = Double(max(1, experts.experts / max(1, layout.expertParallel)))
    let exchange: Double = experts.dispatcher == .flex ? 3 : 1
    let chunkSort: Double = experts.dispatcher == .alltoall && local > 1 ? 1 : 0
    switch kind {
    case .router:
      return experts.routerFusion ? (backward ? 2 : 3) : (backward ? 4 : 8)
    case .dispatch:
      let permute: Double = experts.permuteFusion ? 2 : 4
      return backward ? permute / 2 + exchange + chunkSort : 2 + permute + exchange + chunkSort
    case .expertFc1, .expertFc2:
      return local * (backward ? 2 : 1)
    case .combine:
      return exchange + chunkSort + (experts.permuteFusion ? 1 : 2)
    default:
      return nil
    }
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
  /// the stage assembly (`StagePlan`) hides them behind the paired microbatch's compute then.
  public func expertParallelComm() -> Seconds {
    guard let experts = model.moe else { return .zero }
    let ep = layout.expertParallel, etp = layout.expertTensorParallel
    let tokensIn = layout.tokens(of: model) / t
    let h = Double(model.hidden)
    let copies = e * tokensIn * experts.routedFactor * h
    var time = Seconds.zero
    if ep > 1 {
      // DeepEP's normal kernels reach over NVLink only the GPUs of one host (at most 8) and
      // send beyond it by RDMA, also inside a multi-node NVLink domain: "the current normal
      // kernels limit the number of GPUs per node to 8, the normal mode doesn't support GB200
      // yet" (DeepEP maintainers, deepseek-ai/DeepEP#392; #579: the NVL72 variant is not public).
      // HybridEP (`NVLINK_DOMAIN_SIZE`, `USE_MNNVL`) and NCCL span the whole domain.
      let deepEPHost = experts.dispatcher == .flex && experts.flexBackend == .deepep
      let reach =
        deepEPHost
        ? min(machine.nvlinkDomain, min(8, machine.gpu.gpusPerNode)) : machine.nvlinkDomain
      let perDomain = max(1, min(ep, reach / max(1, etp)))
      let domains = (ep + perDomain - 1) / perDomain
      switch experts.dispatcher {
      case .alltoall:
        let off = copies * Double(ep - perDomain) / Double(ep)
        let on = copies * Double(perDomain - 1) / Double(ep)
        time += machine.allToAll(onDomain: on, offDomain: off) * 2
      case .flex:
        // DeepEP and HybridEP send a token once to each rank that holds any of its experts
        // (the receiver copies it to its local experts), and across domains once per remote
        // domain, forwarded over NVLink there (DeepEP's README, "normal kernels with NVLink
        // and RDMA forwarding"): a rank holds one of the k experts with probability
        // `holds(groups: ep)`; of the deliveries to the other ranks of the domain all go over
        // NVLink, of those to other domains the forwarded share (perDomain − 1)/perDomain.
        let remote = experts.remoteDomains(domains)
        let imbalance = copies / max(1, e * tokensIn * Double(experts.topK) * h)
        let token = e * tokensIn * h * imbalance
        let rank = experts.holds(groups: ep)
        let off = token * remote
        let on =
          token * rank
          * (Double(perDomain - 1) + Double(ep - perDomain) * Double(perDomain - 1)
            / Double(perDomain))
        time += machine.allToAll(onDomain: on, offDomain: off) * 2
      case .allgather:
        time += machine.gatherOrScatter(e * tokensIn * h * Double(ep), n: ep, stride: etp) * 2
      }
    }
    if etp > 1 {
      time += machine.gatherOrScatter(copies * Double(etp), n: etp, stride: 1) * 2
    }
    return time
  }

  /// Forward time of the ops that selective recompute reruns with the layout's recompute modules
  /// (`RecomputeModules`; `LayerOp.recompute` tags each op): their GEMMs and memory-bound
  /// kernels, the attention core as `attentionCoreForward`, and, when the whole MoE layer is
  /// recomputed (`moe`), its token dispatch and combine again.
  public func selectiveRecompute(_ layer: LayerDescription) -> Seconds {
    let modules = layout.recomputeModules
    var time = Seconds.zero
    var elementwise = 0.0
    for op in layer.ops where !op.recompute.isDisjoint(with: modules) {
      if op.isAttentionCore {
        // The attention core again, with its context-parallel exchange.
        let core = coreForward(op)
        time += core
        if layout.contextParallel > 1 && op.kind == .attentionCore {
          time +=
            contextParallelComm(coreForward: core, coreBackward: attentionCoreBackward(layer))
            .forward
        }
        continue
      }
      for g in op.gemms { time += machine.time(of: g, precision: precision) }
      elementwise += op.elementwiseBytes
    }
    if modules.contains(.moe), layer.op(.router) != nil { time += expertParallelComm() }
    return time + machine.stream(elementwise)
  }

  /// QKᵀ and attention over V (batched, a/t heads), scaled-masked softmax and its dropout:
  /// what selective recompute reruns (K22 §5). A fused (flash) kernel keeps scores, softmax and
  /// dropout on chip: its description moves no elementwise bytes for them.
  public func attentionCoreForward(_ layer: LayerDescription) -> Seconds {
    var time = Seconds.zero
    for op in layer.ops where op.isAttentionCore { time += coreForward(op) }
    return time
  }

  /// One attention core's forward (`Machine.attentionCore`) with the run's kernel.
  func coreForward(_ core: LayerOp) -> Seconds {
    machine.attentionCore(core, kernel: software.attentionKernel, precision: precision)
  }

  /// The fused attention forward's share of peak for calls of this shape
  /// (`Machine.flashEfficiency`) with the run's kernel.
  func flashEfficiency(_ k: FlashAttentionCalls) -> Double {
    machine.flashEfficiency(k, kernel: software.attentionKernel)
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
      let (bw, lat) = machine.link(size: a2a, stride: layout.tensor)
      let one = Bytes(traffic.allToAllBytes) / bw + lat * Double(a2a - 1)
      forward += one
      backward += one
    }
    if ring > 1 {
      let (bw, lat) = machine.ringLink(size: ring, stride: layout.tensor * a2a)
      let steps = Double(ring - 1)
      let sendForward = Bytes(traffic.ringBytesForward) / bw + lat
      let sendBackward = Bytes(traffic.ringBytesBackward) / bw + lat
      let blockForward = coreForward / Double(ring), blockBackward = coreBackward / Double(ring)
      forward += Seconds(max(0, (sendForward - blockForward).value)) * steps
      backward += Seconds(max(0, (sendBackward - blockBackward).value)) * steps
    }
    if traffic.gatheredKeyValue > 0 {
      let gather = machine.collective(
        .allGather, bytes: traffic.gatheredKeyValue, n: cp, stride: layout.tensor,
        software: software
      ).seconds
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
      let one = gatherOrScatter(bytes, n: n)
      let crossOne = cross > 0 ? gatherOrScatter(cross, n: n) : .zero
      return (one * (2 * regions) + crossOne, one * (3 * regions) + crossOne * 2)
    }
    let one = allReduce(bytes, n: n) * regions
    return (one, one + (cross > 0 ? allReduce(cross, n: n) : .zero))
  }

  /// One tensor-parallel all-gather or reduce-scatter of `bytes` over the t ranks: with
  /// `tp_comm_overlap`, Transformer Engine's userbuffers exchange chunks over NVLink themselves
  /// (a ring of point-to-point copies, `Machine.gatherOrScatter`); otherwise NCCL
  /// (`Machine.collective`).
  func gatherOrScatter(_ bytes: Double, n: Int) -> Seconds {
    if overlap.tensorParallel { return machine.gatherOrScatter(bytes, n: n, stride: 1) }
    return machine.collective(.allGather, bytes: bytes, n: n, stride: 1, software: software)
      .seconds
  }

  /// One tensor-parallel all-reduce of `bytes` (`gatherOrScatter`'s two mechanisms).
  func allReduce(_ bytes: Double, n: Int) -> Seconds {
    if overlap.tensorParallel { return machine.allReduce(bytes, n: n, stride: 1) }
    return machine.collective(.allReduce, bytes: bytes, n: n, stride: 1, software: software)
      .seconds
  }

  /// Recompute time of one layer of forward `forward` for one microbatch under the layout's
  /// setting: nothing, what selective recompute reruns, or with full recompute the forward
  /// again for the share of stage `stage`'s layers that are rerun (every layer with `uniform`,
  /// the first k of a chunk with `block`; without a stage, the whole model's share).
  public func recompute(forward: Seconds, selective: Seconds, stage: Int? = nil) -> Seconds {
    switch layout.recompute {
    case .none: return .zero
    case .selective: return selective
    case .full:
      guard let stage else { return forward * FLOPCount.recomputedFraction(model, layout) }
      return forward * FLOPCount.recomputedFraction(model, layout, stage: stage)
    }
  }

  /// Recompute time of the representative layer for one microbatch.
  public func layerRecompute() -> Seconds {
    recompute(forward: layerForward().total, selective: selectiveRecompute(layer))
  }

  // MARK: - The last stage

  /// Output layer and cross entropy on the last stage, one microbatch, forward + backward:
  /// the logits GEMM 2bshV/t forward and twice that backward, and the cross entropy's
  /// memory-bound passes over the bsV/t logits (`crossEntropyBytesPerLogit`).
  public func outputLayer() -> Seconds {
    // The rank's s·b/cp tokens.
    let sequences = Double(layout.microBatch) / Double(max(1, layout.contextParallel))
    let logits = FLOPCount.logitsForward(model, sequences: sequences) / t
    let gemms =
      machine.gemm(logits, efficiency: constants.gemmEfficiency, precision: precision) * 3
    let elements = layout.tokens(of: model) * Double(model.vocabulary) / t
    return gemms + machine.stream(crossEntropyBytesPerLogit * elements)
  }

  /// Bytes the cross entropy moves per logit, forward and backward:
  /// - unfused (Megatron `_VocabParallelCrossEntropy` on `logits.float()`): the fp32 cast (read
  ///   2, write 4), the row max (read 4), subtracting it in place (8), exp in place (8), the row
  ///   sum (4) and the division by it in place (8) in forward; in backward the gradient scaled in
  ///   place (8) and cast back to 16 bits (read 4, write 2): 52 bytes;
  /// - fused (Megatron-Core `fused_vocab_parallel_cross_entropy`): the row max over the 16-bit
  ///   logits (read 2), the fused exp-and-sum writing fp32 exponentials (read 2, write 4), and a
  ///   fused backward reading them and writing the 16-bit gradient (read 4, write 2): 14 bytes.
  var crossEntropyBytesPerLogit: Double { software.crossEntropyFusion ? 14 : 52 }

  /// The D MTP layers of the last stage for one microbatch, forward and backward
  /// (`MultiTokenPrediction`): the transformer layer (the model's last layer's kind), the
  /// projection's GEMMs (twice again in backward) and norms, the all-gather of its output over
  /// the tensor group in forward and the reduce-scatter of its gradient in backward, and the
  /// output layer and cross entropy once more.
  public func multiTokenPrediction() -> Seconds {
    guard model.mtpLayers > 0 else { return .zero }
    let shard = LayerDescription.Shard(layout, precision: precision)
    let layer = MultiTokenPrediction.layer(model, shard)
    let projection = MultiTokenPrediction.projection(model, shard)
    var gemms = Seconds.zero
    for g in projection.gemms { gemms += machine.time(of: g, precision: precision) }
    let bytes = projection.ops.reduce(0) { $0 + $1.elementwiseBytes }
    let elementwise = machine.stream(bytes) * (1 + constants.elementwiseBackwardFactor)
    let gathered = e * layout.tokens(of: model) * Double(model.hidden)
    let comm = gatherOrScatter(gathered, n: layout.tensor) * 2
    let fwd = forward(layer)
    let one =
      fwd.total + backward(layer, forward: fwd).total + gemms * 3 + elementwise + comm
      + outputLayer()
    return one * Double(model.mtpLayers)
  }

  // MARK: - The iteration's own terms

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
    let stride = layout.tensor * layout.contextParallel * layout.data
    var message = machine.pointToPoint(bytes / t, stride: stride)
    if !layout.effectiveSequenceParallel && layout.tensor > 1 {
      message += gatherOrScatter(bytes, n: layout.tensor)
    }
    let total = message * Double(2 * layout.microbatches * layout.virtualStages)
    // `overlap_p2p_comm` (interleaved schedule) runs the sends and receives beside compute.
    // Point-to-point sends run on a channel or two per peer (NCCL_NCHANNELS_PER_NET_PEER), not
    // the collectives' dozens of SMs: no contention is charged for them (nor for context
    // parallelism's ring).
    if overlap.pipelineP2P && layout.interleaved { return total * (1 - constants.forwardTPOverlap) }
    return total
  }

  /// What a collective of `seconds` costs the iteration when a share `hidden` of it runs beside
  /// compute: the exposed rest, and the compute the hidden part slows (`contention(hidden:)`).
  func overlapped(_ seconds: Seconds, hidden: Double) -> Seconds {
    seconds * (1 - hidden) + contention(hidden: seconds * hidden)
  }

  /// The compute lost to collectives running beside it for `hidden` seconds: the kernels run
  /// `PerformanceConstants.overlapContention` slower meanwhile, so κ/(1 + κ) of that time's
  /// work is left over.
  public func contention(hidden: Seconds) -> Seconds { hidden * constants.contentionShare }

  /// Bytes per parameter of the gradient buffer the data-parallel reduction moves: fp32 with
  /// `grad_reduce_in_fp32` (Megatron-Core `ParamAndGradBuffer`: the buffer's dtype is what the
  /// collective carries), else the training precision's.
  var gradientBytes: Double { software.fp32Gradients ? 4 : precision.weightBytes }

  /// The reduction of `parameters` gradients over a data-parallel group of `group` ranks t
  /// apart, as NCCL runs it (`Machine.collective`): a reduce-scatter with the distributed
  /// optimizer (or full sharding), else an all-reduce. DeepSpeed's BF16 optimizer shards the
  /// states but all-reduces the gradients in full before its step
  /// (`PipelineEngine._exec_reduce_grads` → `buffered_allreduce_fallback`).
  public func gradientReduction(parameters: Double, group: Int) -> CollectiveTime {
    let scatter =
      (layout.distributedOptimizer && !software.deepSpeedBF16Optimizer) || layout.fullySharded
    return machine.collective(
      scatter ? .reduceScatter : .allReduce, bytes: gradientBytes * parameters, n: group,
      stride: layout.tensor, software: software)
  }

  /// The distributed optimizer's all-gather of `parameters` updated weights over `group` ranks
  /// (`weightBytes` each); nothing without it.
  public func parameterGather(parameters: Double, group: Int) -> CollectiveTime {
    guard layout.distributedOptimizer && !layout.fullySharded else { return .none }
    return machine.collective(
      .allGather, bytes: weightBytes * parameters, n: group, stride: layout.tensor,
      software: software)
  }

  /// Megatron-Core's gradient bucket, in parameters (`DistributedDataParallelConfig.bucket_size`
  /// default, distributed_data_parallel.py): max(40 M, 1 M × the data-parallel size), so each
  /// rank's share of a bucket stays bandwidth-bound; `bucket_cap_mb` or `ddp_bucket_size` where
  /// the config sets one. Used with `overlap_grad_reduce` (`DataParallelSync`).
  public func bucketParameters(group: Int) -> Double {
    if let bytes = software.bucketBytes { return max(1, bytes / gradientBytes) }
    return max(40e6, 1e6 * Double(group))
  }

  /// The all-reduce of the tied embedding's gradient between the first and the last stage
  /// (Megatron's embedding group), with p > 1.
  public func embeddingSync(embeddingParameters: Parameters) -> CollectiveTime {
    guard model.tiedEmbeddings && layout.pipeline > 1 && embeddingParameters.value > 0 else {
      return .none
    }
    return machine.collective(
      .allReduce, bytes: 4 * embeddingParameters.value, n: 2, stride: gpu.gpusPerNode * 2,
      software: software)
  }

  /// Bytes of one weight as the data-parallel all-gathers move it: 1 with FP8 primary weights,
  /// else the training precision's.
  var weightBytes: Double {
    guard let fp8 = model.fp8, fp8.primaryWeights else { return precision.weightBytes }
    return fp8.recipe.primaryWeightBytes
  }

  /// Fully sharded data parallelism (Megatron-FSDP, `data_parallel_sharding_strategy:
  /// optim_grads_params`): for every microbatch each layer's weights are all-gathered before its
  /// forward and again before its backward, and its gradients reduce-scattered after its
  /// backward, over the d data-parallel ranks; Megatron-FSDP prefetches the next layer's
  /// gather while the current one computes, so only what outlasts the compute shows, plus the
  /// first layer's gather, which nothing hides. Per iteration, for the stage's parameters.
  public func fullyShardedComm(parameters: Parameters, compute: Seconds, layers: Int) -> Seconds {
    let d = layout.dataParallelWithContext, stride = layout.tensor
    guard layout.fullySharded, d > 1 else { return .zero }
    let gathers =
      machine.collective(
        .allGather, bytes: weightBytes * parameters.value, n: d, stride: stride,
        software: software
      ).seconds * 2
    let scatter = machine.collective(
      .reduceScatter, bytes: precision.weightBytes * parameters.value, n: d, stride: stride,
      software: software
    ).seconds
    let perMicrobatch = gathers + scatter
    let computePerMicrobatch = compute / Double(max(1, layout.microbatches))
    let firstLayer = perMicrobatch / Double(max(1, layers))
    let exposed = Seconds(max(0, (perMicrobatch - computePerMicrobatch).value)) + firstLayer
    let hidden = Seconds(max(0, (perMicrobatch - exposed).value))
    return (exposed + contention(hidden: hidden)) * Double(layout.microbatches)
  }

  /// Optimizer step: a memory-bound pass over this GPU's optimizer shard.
  public func optimizerStep(parameters: Parameters, group: Int? = nil) -> Seconds {
    let d = Double(group ?? layout.dataParallelWithContext)
    let shard = layout.distributedOptimizer || layout.fullySharded ? d : 1
    let perParameter =
      precision == .fp32
      ? constants.optimizerBytesPerParameter - 6 : constants.optimizerBytesPerParameter
    return machine.stream(parameters.value / shard * perParameter)
  }
}
