import Foundation

/// What one engine step computes on a replica: `decodeSequences` sequences each producing one
/// token over `decodeContext` cached tokens (the mean), and `prefillTokens` prompt tokens of
/// prompts `promptLength` long (a chunk of them, or whole prompts). `cacheLength` is what a
/// static cache holds per sequence (input + output), which plain PyTorch's attention reads in
/// full every step.
public struct StepWork: Sendable, Hashable, Codable {
  public var decodeSequences: Double
  public var decodeContext: Double
  public var cacheLength: Double
  public var prefillTokens: Double
  public var promptLength: Double

  public init(
    decodeSequences: Double, decodeContext: Double, cacheLength: Double? = nil,
    prefillTokens: Double = 0, promptLength: Double = 1
  ) {
    self.decodeSequences = decodeSequences
    self.decodeContext = decodeContext
    self.cacheLength = cacheLength ?? decodeContext
    self.prefillTokens = prefillTokens
    self.promptLength = max(1, promptLength)
  }

  /// Tokens the step's linear layers process.
  public var tokens: Double { decodeSequences + prefillTokens }
}

/// One engine step on the slowest rank, by term (typed: `Term`). The device terms add up to
/// `device`; the CPU's launch time `host` runs beside it (the step takes the longer), and the
/// engine's per-step CPU work (`stepOverhead`) after it.
public struct StepTime: Sendable, Hashable, Codable {
  public enum Term: String, Sendable, Hashable, CaseIterable, BreakdownKey {
    /// The linear GEMMs (QKV, projection, MLP, router, experts).
    case linear
    /// The attention cores: the KV cache read by decode, flash attention for prefill.
    case attention
    /// Norms, rotary, residual adds, activations, cache writes, embedding, MoE routing.
    case smallKernels = "small_kernels"
    /// The tensor-parallel all-reduces.
    case tensorParallel = "tensor_parallel"
    /// The expert-parallel token dispatch and combine (all-to-all).
    case expertParallel = "expert_parallel"
    /// Pipeline hops.
    case pipeline
    /// The final norm and the logits GEMM.
    case logits
    /// Sampling the next token.
    case sampling
    /// CPU time the GPU waits for: launching beyond the device's time, and the engine's
    /// per-step work.
    case host
  }

  public var linear = 0.0
  public var attention = 0.0
  public var smallKernels = 0.0
  public var tensorParallel = 0.0
  public var expertParallel = 0.0
  public var pipeline = 0.0
  public var logits = 0.0
  public var sampling = 0.0
  /// CPU time to launch the step (kernel by kernel, or one graph).
  public var launch = 0.0
  /// The engine's CPU time per step that the GPU waits for.
  public var stepOverhead = 0.0
  /// Kernels the step launches.
  public var kernels = 0.0
  /// The step replays a CUDA graph.
  public var graphed = false
  /// Bytes the layers stream from HBM: the weights the step needs and the KV cache it reads.
  public var bytesRead = 0.0
  /// FLOPs of the linear GEMMs (active parameters only).
  public var linearFLOPs = 0.0
  /// Streaming `bytesRead` alone (HBM × `hbmEfficiency`), for the memory/compute verdict.
  public var memorySeconds = 0.0
  /// The linear and attention arithmetic alone at their rates.
  public var computeSeconds = 0.0
  /// Routed experts read per MoE layer on the busiest GPU (0 for a dense model).
  public var expertsRead = 0.0

  /// What the GPU runs.
  public var device: Double {
    linear + attention + smallKernels + tensorParallel + expertParallel + pipeline + logits
      + sampling
  }
  /// The CPU time the GPU waits for: launching beyond the device's time, plus the engine's
  /// per-step work.
  public var host: Double { max(0, launch - device) + stepOverhead }
  public var total: Double { device + host }
  /// The step is bound by reading weights and cache rather than by arithmetic.
  public var memoryBound: Bool { memorySeconds >= computeSeconds }

  public subscript(term: Term) -> Double {
    switch term {
    case .linear: linear
    case .attention: attention
    case .smallKernels: smallKernels
    case .tensorParallel: tensorParallel
    case .expertParallel: expertParallel
    case .pipeline: pipeline
    case .logits: logits
    case .sampling: sampling
    case .host: host
    }
  }

  /// The terms that are not zero, for reports.
  public var breakdown: Breakdown<SecondUnit> {
    var out = Breakdown<SecondUnit>()
    for term in Term.allCases where self[term] != 0 { out.add(term.rawValue, Seconds(self[term])) }
    return out
  }
}

extension ServingModel {
  // MARK: - Primitives

  /// The hardware serving runs on: its GEMM, HBM and collective primitives are training's.
  var machine: Machine { Machine(gpu: gpu, constants: constants) }

  /// The engine's profile.
  public var engine: EngineProfile { settings.profile }

  /// Sustained rate of the linear GEMMs: the FP4 peak × `fp4GEMMEfficiency` for NVFP4 on a GPU
  /// with FP4 tensor cores, the FP8 peak × `fp8GEMMEfficiency` for FP8 on one with FP8 tensor
  /// cores, else the 16-bit peak × `gemmEfficiency` (weight-only INT8/INT4, and FP8 before
  /// Hopper, dequantise to 16-bit and compute there: Marlin, `int8_wo`).
  var linearRate: FLOPsPerSecond {
    if settings.precision.computesInFP4, let peak4 = gpu.peak4 {
      return peak4 * constants.fp4GEMMEfficiency
    }
    if settings.precision.computesInFP8, let peak8 = gpu.peak8 {
      return peak8 * constants.fp8GEMMEfficiency
    }
    return gpu.peak16 * constants.gemmEfficiency
  }

  /// The rate of one GEMM: the router stays 16-bit; the others at `linearRate`.
  func rate(_ g: GEMMShape) -> FLOPsPerSecond {
    g.op == .router ? gpu.peak16 * constants.gemmEfficiency : linearRate
  }

  /// The attention cores' rate in decode: the 16-bit peak × `attentionGEMMEfficiency` (their
  /// inner dimension is the head size).
  var attentionRate: FLOPsPerSecond { gpu.peak16 * constants.attentionGEMMEfficiency }

  /// The decode batch above which one step's linear GEMMs take longer than reading their
  /// weights: per weight a token costs 2 FLOPs and a step reads its bytes once, so b* = rate ·
  /// bytes per weight / (2 · HBM bandwidth × `hbmEfficiency`) (the roofline ridge point; the
  /// KV cache, read per sequence, never becomes compute-bound and is left out).
  public var rooflineCrossoverBatch: Double {
    linearRate.value * settings.precision.weightBytes
      / (2 * gpu.hbm.value * constants.hbmEfficiency)
  }

  /// The same ridge for a routed expert: a touched expert sees about b·k/E of a step's b tokens,
  /// so its weights turn compute-bound at b ≈ b*·E/k; nil for a dense model.
  public var expertRooflineCrossoverBatch: Double? {
    guard let experts = model.moe else { return nil }
    return rooflineCrossoverBatch * Double(experts.experts) / Double(max(1, experts.topK))
  }

  /// A tensor-parallel all-reduce of `bytes` over n GPUs as the engine runs it. vLLM,
  /// TensorRT-LLM and SGLang do not use NCCL for these small messages inside an NVLink domain:
  /// their kernels read the peers' buffers directly over NVLink/NVSwitch, in one stage (every
  /// GPU reads the n − 1 others' whole buffers: α + (n − 1)·bytes / B) or two (reduce-scatter
  /// then all-gather: 2α + 2(n − 1)/n · bytes / B), whichever is faster (vLLM
  /// `custom_all_reduce.cuh`, `cross_device_reduce_1stage` and `_2stage`). α is one collective's
  /// latency inside a node (`nvlinkLatencySeconds`, 10 µs; nccl-tests' small-message all-reduce
  /// with CUDA graphs takes 6 µs on 2 H100s with NVLS and 12–16 µs on H20s: NVIDIA/nccl#1259,
  /// deepseek-ai/DeepEP#303), B the NVLink bandwidth per direction × `nvlinkEfficiency`. Plain
  /// PyTorch (`torch.distributed.all_reduce`) and every engine across nodes: NCCL, as
  /// `Machine.collective` picks its algorithm and protocol.
  func allReduce(_ bytes: Double, n: Int) -> Seconds {
    guard n > 1 else { return .zero }
    guard engine.customAllReduce, n <= gpu.nvlinkGroup(devicesPerNode: gpu.gpusPerNode) else {
      return machine.collective(.allReduce, bytes: bytes, n: n, stride: 1).seconds
    }
    let (bandwidth, latency) = machine.link(size: n, stride: 1)
    let nd = Double(n)
    let oneStage = latency + Bytes((nd - 1) * bytes) / bandwidth
    let twoStage = latency * 2 + Bytes(2 * (nd - 1) / nd * bytes) / bandwidth
    return min(oneStage, twoStage)
  }

  /// Point-to-point transfer of `bytes` between adjacent pipeline stages (t ranks apart).
  func pipelineHop(bytes: Double, tensor t: Int) -> Seconds {
    machine.pointToPoint(bytes, stride: t)
  }

  /// The layers of each kind in the whole model, with whether the kind is MoE and whether its
  /// attention is a sliding window (whatever the training sequence length: serving's context
  /// can exceed the window at any length).
  var layerKinds: [(count: Int, moe: Bool, sliding: Bool)] {
    var counts = [0, 0, 0, 0]  // dense, MoE, sliding dense, sliding MoE
    for i in 0..<model.layers {
      let moe = model.moe?.isMoE(layer: i) ?? false
      let sliding = model.attentionWindow?.isWindowed(layer: i) ?? false
      counts[(moe ? 1 : 0) + (sliding ? 2 : 0)] += 1
    }
    return [
      (counts[0], false, false), (counts[1], true, false), (counts[2], false, true),
      (counts[3], true, true),
    ].filter { $0.0 > 0 }
  }

  /// Bytes of one GEMM's weights on this rank: 16-bit for the router; at the serving
  /// precision with its scales otherwise (one expert's slice for an expert GEMM).
  func weightBytes(_ g: GEMMShape) -> Double {
    if g.op == .router { return g.k * g.n * Self.denseWeightBytes }
    let p = settings.precision
    return g.k * g.n * p.weightBytes + p.scaleBytes(inputs: g.k, outputs: g.n)
  }

  // MARK: - One step

  /// One engine step on the slowest rank of `layout` (all stages in turn: one batch in flight).
  ///
  /// Per layer:
  /// - each linear GEMM over the step's tokens (`Machine.servingGEMM`): its weights streamed at
  ///   HBM's rate (quantised, with scales; for routed experts only those the tokens touch,
  ///   `expertsRead`) or its arithmetic, whichever is longer, plus the fixed cost of a skinny
  ///   GEMM; plain PyTorch runs each touched expert's GEMMs apart (three per gated expert);
  /// - decode attention: the cached K and V of every sequence read once from HBM (at the mean
  ///   context; a static cache in full) against 4·(a/t)·d_h FLOPs per cached token per
  ///   sequence at the attention rate; prefill attention: the engine's flash kernel over the
  ///   prompt tokens (`Machine.attentionCore`);
  /// - the engine's small kernels (`EngineProfile.kernels(for:…)`), each `Machine.smallKernel`
  ///   over the bytes it moves for the step's tokens, and MoE routing's;
  /// - two tensor-parallel all-reduces of tokens·h 16-bit values (`allReduce`).
  /// Then the embedding lookup, the final norm and the logits GEMM for the sequences that emit a
  /// token (16-bit V·h/t weights), sampling (its kernels over b·V fp32 logits), p − 1 pipeline
  /// hops. The CPU launches a decode step as one CUDA graph when the engine captures it (batch
  /// up to `graphMaxBatch`), otherwise kernel by kernel (`Machine.hostSeconds`); the GPU waits
  /// for whichever is longer, and for the engine's per-step CPU work.
  public func step(_ layout: Layout, _ work: StepWork) -> StepTime {
    let t = layout.tensor
    let e = Self.activationBytes
    // With data-parallel attention each of its D replicas runs 1/D of the step's requests; the
    // experts of every GPU see all D replicas' tokens.
    let groups = Double(layout.attentionDataParallel)
    let b = work.decodeSequences / groups, prefill = work.prefillTokens / groups
    let total = max(work.tokens, 1e-9)
    let tokens = total / groups
    let h = Double(model.hidden), dh = Double(model.headDim)
    let kvHeads = Double(kvHeadsPerGPU(tensor: t))
    let q = Double(model.heads / max(1, t)) * dh, kv = kvHeads * dh
    let kvBytes = settings.kvPrecision.bytes
    let graphed = prefill == 0 && settings.cudaGraphs && b <= Double(engine.graphMaxBatch)
    let context = engine.staticCache ? work.cacheLength : work.decodeContext
    var out = StepTime()
    out.graphed = graphed
    let experts = expertsRead(tokens: total, expertParallel: layout.expertParallel)
    for kind in layerKinds {
      let n = Double(kind.count)
      let layer = self.layer(layout, length: 1, sequences: tokens, moe: kind.moe)
      var linear = Seconds.zero, small = Seconds.zero
      var kernels = 0.0, bytes = 0.0, flops = 0.0
      for g in linearShapes(tensor: t, layer: layer) {
        let expert = Self.isExpert(g)
        var w = weightBytes(g)
        let activations = e * (g.m * g.k + g.m * g.n)
        if expert {
          w *= experts
          if settings.engine == .pytorch {
            // One GEMM per touched expert (fc1 as two: gate and up, as Hugging Face's w1, w3).
            let gemms = experts * (g.op == .expertFc1 && model.gatedMLP ? 2 : 1)
            linear += Seconds(constants.skinnyGEMMSeconds) * max(0, gemms - 1)
            kernels += max(0, gemms - 1)
          }
        }
        linear += machine.servingGEMM(
          g, weightBytes: w, activationBytes: activations, rate: rate(g))
        kernels += 1
        bytes += w
        flops += g.executedFLOPs.value
        out.computeSeconds += (g.executedFLOPs / rate(g)).value * n
      }
      // The engine's small kernels, each over the step's tokens (an expert's over its copies).
      let ffn = Double(model.ffnHidden) / Double(max(1, t))
      for op in layer.ops {
        var width = ffn, opTokens = tokens
        if op.kind == .expertActivation, let moe = model.moe {
          width = Double(moe.expertFFN) / Double(layout.expertTensor)
          opTokens = total * moe.routedFactor / Double(max(1, layout.expertParallel))
        } else if op.kind == .sharedActivation, let moe = model.moe {
          width = Double(moe.sharedExpertFFN) / Double(max(1, t))
        }
        let k = engine.kernels(
          for: op.kind, model: model, q: q, kv: kv, ffn: width, e: e, kvBytes: kvBytes)
        small +=
          Seconds(constants.smallKernelSeconds) * Double(k.count)
          + machine.stream(k.bytesPerToken * opTokens)
        kernels += Double(k.count)
      }
      var dispatch = Seconds.zero
      if kind.moe, let moe = model.moe {
        // Routing, permutation and the weighted sum: h-wide copies in and out.
        let copies = total * moe.routedFactor / Double(max(1, layout.expertParallel))
        var count = Double(engine.moeKernels)
        if settings.engine == .pytorch { count += 6 * experts }
        small += Seconds(constants.smallKernelSeconds) * count + machine.stream(4 * copies * h * e)
        kernels += count
        if groups > 1 {
          // Dispatch and combine: each GPU sends its share of its replica's token copies
          // (tokens/t · k, h 16-bit values each) to the experts' GPUs and gets them back; the
          // share beyond its NVLink domain crosses its own NIC (`Machine.allToAll`).
          let sent = tokens / Double(t) * moe.routedFactor * h * e
          let ep = Double(layout.expertParallel), domain = Double(machine.nvlinkDomain)
          let off = max(0, ep - domain) / ep
          let on = (min(ep, domain) - 1) / ep
          dispatch = machine.allToAll(onDomain: sent * on, offDomain: sent * off) * 2
          kernels += 2
        }
      }
      // Attention: decode reads the cache; prefill runs the engine's flash kernel. A
      // sliding-window layer's decode reads at most the window's W positions per sequence.
      var attention = Seconds.zero
      var context = context
      if kind.sliding, let window = model.attentionWindow {
        context = min(context, Double(window.size))
      }
      if b > 0 {
        // Without a GQA-aware decode kernel each query head reads its KV head's cache.
        let reads = engine.sharedKVRead ? 1 : max(1, q / max(1, kv))
        let kvRead = 2 * kv * context * b * kvBytes * reads
        let attentionFLOPs = FLOPs(4 * b * q * context)
        let read = machine.stream(kvRead), math = attentionFLOPs / attentionRate
        attention += Seconds(max(read.value, math.value))
        bytes += kvRead
        out.computeSeconds += math.value * n
      }
      if prefill > 0 {
        let prompts = self.layer(
          layout, length: Int(work.promptLength), sequences: prefill / work.promptLength,
          moe: kind.moe, sliding: kind.sliding)
        for op in prompts.ops where op.isAttentionCore {
          attention += machine.attentionCore(op, kernel: engine.prefillAttention, precision: .bf16)
        }
      }
      let allReduces = allReduce(e * tokens * h, n: t) * 2
      if t > 1 { kernels += 2 }
      out.linear += linear.value * n
      out.smallKernels += small.value * n
      out.attention += attention.value * n
      out.tensorParallel += allReduces.value * n
      out.expertParallel += dispatch.value * n
      out.kernels += kernels * n
      out.bytesRead += bytes * n
      out.linearFLOPs += flops * n
    }
    out.expertsRead = model.moe == nil ? 0 : experts
    // Embedding (and a learned position table's add), final norm, logits, sampling.
    let embedding = model.learnedPositionEmbeddings ? 2.0 : 1.0
    out.smallKernels +=
      (Seconds(constants.smallKernelSeconds) * embedding
      + machine.stream(embedding * 2 * tokens * h * e))
      .value
    let emitting = b + prefill / work.promptLength
    let V = Double(model.vocabulary)
    let logits = GEMMShape("logits", m: emitting, n: V / Double(max(1, t)), k: h)
    out.logits =
      (machine.smallKernel(bytes: 2 * emitting * h * e)
      + machine.servingGEMM(
        logits, weightBytes: Self.denseWeightBytes * h * V / Double(max(1, t)),
        activationBytes: e * emitting * h + 4 * emitting * V / Double(max(1, t)),
        rate: gpu.peak16 * constants.gemmEfficiency)).value
    out.sampling =
      (Seconds(constants.smallKernelSeconds) * Double(engine.samplingKernels)
      + machine.stream(4 * emitting * V)).value
    out.pipeline =
      (pipelineHop(bytes: e * tokens * h, tensor: t) * Double(layout.pipeline - 1)).value
    out.bytesRead += Self.denseWeightBytes * h * V / Double(max(1, t))
    out.kernels += embedding + 2 + Double(engine.samplingKernels)
    out.memorySeconds = machine.stream(out.bytesRead).value
    out.launch =
      (graphed
      ? machine.hostSeconds(kernels: 0, graphLaunches: 1)
      : machine.hostSeconds(kernels: out.kernels, graphLaunches: 0)).value
    out.stepOverhead = engine.stepOverheadSeconds
    return out
  }

  // MARK: - Static batches

  /// One decode step of a static batch: w.batch sequences at the mean context over the output,
  /// input + output/2, holding input + output tokens of cache each.
  public func decodeStep(_ layout: Layout, _ w: Workload) -> StepTime {
    step(
      layout,
      StepWork(
        decodeSequences: Double(w.batch),
        decodeContext: Double(w.input) + Double(w.output) / 2,
        cacheLength: Double(w.input + w.output)))
  }

  /// Time to first token of a static batch: the prefill of all b prompts, in chunks of the
  /// engine's token budget (`maxBatchedTokens`; plain PyTorch: all at once), each chunk one step
  /// whose attention covers its share of the prompts.
  public func timeToFirstToken(_ layout: Layout, _ w: Workload) -> Seconds {
    let total = Double(w.batch * w.input)
    let chunk = Double(min(w.batch * w.input, max(1, settings.maxBatchedTokens ?? Int.max)))
    let full = (total / chunk).rounded(.down)
    let rest = total - full * chunk
    var time = Seconds.zero
    if full > 0 {
      let work = StepWork(
        decodeSequences: 0, decodeContext: 0, prefillTokens: chunk,
        promptLength: Double(w.input))
      time += Seconds(step(layout, work).total) * full
    }
    if rest > 0 {
      let work = StepWork(
        decodeSequences: 0, decodeContext: 0, prefillTokens: rest, promptLength: Double(w.input))
      time += Seconds(step(layout, work).total)
    }
    return time
  }

  /// Everything megaplan reports for one layout and workload.
  public struct Point: Sendable, Hashable, Codable {
    public var layout: Layout
    public var workload: Workload
    public var memory: Memory
    public var largestBatch: Int
    public var ttft: Double
    public var decode: StepTime
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
