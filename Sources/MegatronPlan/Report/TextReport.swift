/// The human-readable `estimate` report. Deterministic: fixed formatting, no timestamps.
public enum TextReport {
  public static func estimate(_ e: Estimate, run: TrainingRun, source: String) -> String {
    var out: [String] = []
    let m = e.model, l = e.layout, mem = e.memory
    out.append("megaplan estimate: \(source)")
    out.append("")
    let model = run.model
    let groups = model.queryGroups == model.heads ? "" : " (\(model.queryGroups) key/value groups)"
    var arch = [
      "\(m.layers) layers", "hidden \(Format.grouped(m.hidden))", "\(m.heads) heads\(groups)",
      "FFN \(Format.grouped(m.ffnHidden)) \(model.activation.rawValue)",
      "sequence \(Format.grouped(m.sequenceLength))", "vocabulary \(Format.grouped(m.vocabulary))",
      model.normalization.rawValue,
    ]
    if let ed = model.encoderDecoder {
      // Encoder–decoder: each stack's layers and widths, s_enc → s_dec.
      let enc = ed.encoder
      let encoderShape =
        enc.hidden == m.hidden && enc.heads == m.heads && enc.ffnHidden == m.ffnHidden
        ? ""
        : " (encoder hidden \(Format.grouped(enc.hidden)), \(enc.heads) heads, FFN \(Format.grouped(enc.ffnHidden)))"
      arch = [
        "encoder-decoder: \(ed.encoderLayers) encoder + \(model.decoderLayers) decoder layers",
        "hidden \(Format.grouped(m.hidden))", "\(m.heads) heads\(groups)",
        "FFN \(Format.grouped(m.ffnHidden)) \(model.activation.rawValue)\(encoderShape)",
        "sequence \(Format.grouped(ed.encoderSequence)) → \(Format.grouped(m.sequenceLength)) (encoder → decoder)",
        "vocabulary \(Format.grouped(m.vocabulary))", model.normalization.rawValue,
      ]
    }
    if let experts = model.moe {
      let shared =
        experts.sharedExpertFFN > 0
        ? ", shared FFN \(Format.grouped(experts.sharedExpertFFN))\(experts.sharedExpertGate ? " gated" : "")"
        : ""
      arch.append(
        "\(experts.experts) experts, top-\(experts.topK), expert FFN \(Format.grouped(experts.expertFFN))\(shared), \(experts.scoreFunction.rawValue) router (\(Format.count(ParameterCount.active(model).value)) active)"
      )
    }
    if let mla = model.mla {
      arch.append(
        "multi-latent attention (q rank \(mla.queryRank.map { Format.grouped($0) } ?? "none"), kv rank \(Format.grouped(mla.keyValueRank)), heads \(mla.qkHeadDim) + \(mla.ropeHeadDim) rope, values \(mla.valueHeadDim))"
      )
    }
    if model.mtpLayers > 0 {
      arch.append("\(model.mtpLayers) MTP layer\(model.mtpLayers == 1 ? "" : "s")")
    }
    if let window = model.attentionWindow, model.encoderDecoder == nil {
      let n = window.windowedLayers(in: 0..<model.layers)
      arch.append(
        "sliding window \(Format.grouped(window.size)) on \(n) of \(model.layers) layers\(window.limits(sequence: model.sequenceLength) ? "" : " (not shorter than the sequence)")"
      )
    }
    switch model.softmax {
    case .vanilla: break
    case .offByOne: arch.append("off-by-one softmax")
    case .learnable: arch.append("attention sinks")
    }
    if let clamp = model.activationClamp {
      arch.append(
        "GLU clamp \(Format.fixed(clamp, 1))\(model.gluLinearOffset != 0 ? ", offset \(Format.fixed(model.gluLinearOffset, 1))" : "")"
      )
    } else if model.gluLinearOffset != 0 {
      arch.append("GLU offset \(Format.fixed(model.gluLinearOffset, 1))")
    }
    switch model.blockType {
    case .preLN: break
    case .postLN: arch.append("post-LN")
    case .normformer: arch.append("NormFormer norms")
    }
    arch.append(m.tiedEmbeddings ? "tied embeddings" : "untied embeddings")
    switch model.positionEmbedding {
    case .learnedAbsolute: break
    case .rotary: arch.append("rotary positions")
    case .alibi: arch.append("ALiBi")
    case .relative: arch.append("relative position bias")
    }
    if model.fusedAttention { arch.append("fused (flash) attention") }
    if let fp8 = model.fp8 { arch.append("FP8 (\(fp8.recipe.rawValue))") }
    if run.layout.fullySharded { arch.append("fully sharded") }
    if run.layout.expertParallel > 1 || model.moe != nil {
      arch.append("EP \(run.layout.expertParallel), ETP \(run.layout.expertTensorParallel)")
    }
    out.append(
      "Model    \(Format.count(m.parameters)) parameters: " + arch.joined(separator: ", "))
    var interleave = l.virtual.map { ", interleaved v=\($0)" } ?? ""
    if let layout = run.layout.split.layoutText { interleave += ", layout \(layout)" }
    out.append(
      "Layout   \(Format.grouped(l.gpus)) × \(run.gpu.displayName): t=\(l.tensor)\(l.contextParallel > 1 ? " cp=\(l.contextParallel)" : "") p=\(l.pipeline) d=\(l.data)\(interleave); micro-batch \(l.microBatch), global batch \(Format.grouped(l.globalBatch)), \(Format.grouped(l.microbatches)) microbatch\(l.microbatches == 1 ? "" : "es") per iteration"
    )
    var optimizer =
      l.distributedOptimizer
      ? (run.software.deepSpeedBF16Optimizer
        ? "DeepSpeed BF16 optimizer (states sharded over d)" : "distributed optimizer") : "Adam"
    if case .selective = run.layout.recompute,
      run.layout.recomputeModules != .standard
    {
      optimizer = "modules \(run.layout.recomputeModules), " + optimizer
    }
    let context =
      run.layout.contextParallel > 1
      ? ", context parallel \(run.layout.contextParallelComm) (s/cp = \(Format.grouped(m.sequenceLength / run.layout.contextParallel)) tokens per rank)"
      : ""
    out.append(
      "         sequence parallel \(l.sequenceParallel ? "on" : "off"), recompute \(run.layout.recompute), \(optimizer), \(run.precision.rawValue)\(context)"
    )
    out.append("")

    out.append(
      "Memory per GPU — stage \(mem.mostLoadedStage) of \(l.pipeline), the most loaded (capacity \(Format.gib(mem.capacityBytes)))"
    )
    let worstStage = mem.stages.first { $0.stage == mem.mostLoadedStage }
    var rows: [(String, Double)] = [
      ("weights", mem.weightsBytes), ("gradients", mem.gradientsBytes),
      ("optimizer states", mem.optimizerBytes),
    ]
    if let cache = worstStage?.fp8WeightCacheBytes, cache > 0 {
      rows.append(("fp8 weight copies", cache))
    }
    rows.append(("activations", mem.activationsBytes))
    for (name, bytes) in rows {
      out.append(
        "  \(Format.pad(name, 18))\(Format.left(Format.gib(bytes), 12))  \(Format.left(Format.percent(bytes / mem.capacityBytes), 6))"
      )
    }
    out.append(
      "  \(Format.pad("steady state", 18))\(Format.left(Format.gib(mem.totalBytes), 12))  \(Format.left(Format.percent(mem.totalBytes / mem.capacityBytes), 6))"
    )
    // The peak (PeakMemory): what lives only at the peak moment, then what the device holds
    // beside the allocator's memory.
    for term in worstStage?.peak.terms ?? [] where term.value.value > 0 {
      out.append(
        "  + \(Format.pad(term.name.replacingUnderscores, 28))\(Format.left(Format.gib(term.value.value), 12))"
      )
    }
    let verdict =
      mem.fits ? "fits" : "DOES NOT FIT (over by \(Format.gib(mem.peakBytes - mem.usableBytes)))"
    out.append(
      "  \(Format.pad("peak (\(mem.peakMoment))", 18))\(Format.left(Format.gib(mem.peakBytes), 12))  \(Format.left(Format.percent(mem.peakBytes / mem.capacityBytes), 6))  \(verdict)"
    )
    out.append(
      "  peak allocated (torch max_memory_allocated) \(Format.gib(mem.peakAllocatedBytes)); device (nvidia-smi) \(Format.gib(mem.peakBytes))"
    )
    out.append("  " + TextReport.fitLine(mem))
    out.append("")

    out.append("Activations")
    out.append("  per layer, one microbatch: \(Format.mib(mem.activationsPerLayerBytes))")
    if let worst = mem.stages.first(where: { $0.stage == mem.mostLoadedStage }) {
      let plural = worst.chunksInFlight == 1 ? "" : "es"
      let unit = l.virtual == nil ? "microbatch\(plural)" : "model-chunk microbatch\(plural)"
      out.append("  stage \(worst.stage): \(worst.chunksInFlight) \(unit) in flight")
      for term in worst.activations.terms {
        out.append(
          "    \(Format.pad(term.name.replacingUnderscores, 24))\(Format.left(Format.gib(term.value.value), 12))"
        )
      }
    }
    out.append(
      "  by stage:    \(Format.pad("stage", 6))\(Format.left("states", 12))\(Format.left("activations", 14))\(Format.left("steady", 12))\(Format.left("peak", 12))  at"
    )
    for stage in mem.stages {
      let states = stage.totalBytes - stage.activationsBytes
      out.append(
        "               \(Format.pad(String(stage.stage), 6))\(Format.left(Format.gib(states), 12))\(Format.left(Format.gib(stage.activationsBytes), 14))\(Format.left(Format.gib(stage.totalBytes), 12))\(Format.left(Format.gib(stage.peakBytes), 12))  \(stage.peakMoment)"
      )
    }
    out.append("")

    out.append("FLOPs per iteration")
    let attention =
      run.software.attentionFLOPs == .causal
      ? "attention's causal half, as Megatron-Core counts" : "full s × s attention"
    out.append(
      "  model     \(Format.flops(e.flops.modelPerIteration))  (K22 Eq. 7, \(attention))")
    if model.moe != nil {
      out.append(
        "            MoE layers count the k experts each token is routed to: 6 × active parameters per token plus attention, as Megatron-Core and NeMo count MFU"
      )
    }
    if model.encoderDecoder != nil {
      out.append(
        "            encoder layers over s_enc tokens (bidirectional attention), decoder layers over s_dec (causal self-attention, cross-attention over s_enc keys); tokens/s counts encoder tokens, as NeMo's T5 runs do"
      )
    }
    let hwSource: String
    switch run.layout.recompute {
    case .none: hwSource = "K22 Eq. 7: no recompute"
    case .selective: hwSource = "K22 Eq. 8: selective recompute"
    case .full: hwSource = "N21 Eq. 3 for the recomputed layers"
    }
    out.append("  hardware  \(Format.flops(e.flops.hardwarePerIteration))  (\(hwSource))")
    out.append("")

    out.append("Step time")
    out.append(
      "  per layer, one microbatch: forward \(Format.seconds(e.time.layerForwardSeconds)), backward \(Format.seconds(e.time.layerBackwardSeconds)), recompute \(Format.seconds(e.time.layerRecomputeSeconds))"
    )
    for term in e.time.breakdown.terms {
      out.append(
        "  \(Format.pad(term.name.replacingUnderscores, 22))\(Format.left(Format.seconds(term.value.value), 12))  \(Format.left(Format.percent(term.value.value / e.time.iterationSeconds), 6))"
      )
    }
    out.append(
      "  \(Format.pad("iteration", 22))\(Format.left(Format.seconds(e.time.iterationSeconds), 12))  (bubble fraction \(Format.percent(e.time.bubbleFraction)))"
    )
    if !e.time.collectives.isEmpty {
      out.append("  collectives (all calls of an iteration, how they run, the share it shows):")
      for c in e.time.collectives {
        let how = c.algorithm + (c.protocol.map { "/\($0)" } ?? "")
        let name = "\(c.parallelism.replacingUnderscores) \(c.collective.replacingUnderscores)"
        out.append(
          "    \(Format.pad(name, 44))\(Format.pad("\(c.ranks) ranks, \(how)", 26))\(Format.left(Format.seconds(c.seconds), 11))  \(Format.percent(c.exposedShare)) exposed"
        )
      }
    }
    out.append("")

    out.append("Throughput")
    out.append("  \(Format.grouped(e.throughput.tokensPerSecond)) tokens/s")
    out.append(
      "  model \(Format.fixed(e.throughput.modelTflopsPerGpu, 1)) TFLOP/s per GPU, MFU \(Format.percent(e.throughput.mfu))"
    )
    out.append(
      "  hardware \(Format.fixed(e.throughput.hardwareTflopsPerGpu, 1)) TFLOP/s per GPU, HFU \(Format.percent(e.throughput.hfu))  (of \(Format.fixed(e.throughput.peakTflopsPerGpu, 0)) TFLOP/s peak)"
    )
    out.append("")
    out.append("Training")
    if let tokens = e.training.tokens, let days = e.training.days, let hours = e.training.gpuHours,
      let iters = e.training.iterations
    {
      out.append(
        "  \(Format.count(tokens)) tokens: \(Format.grouped(iters, rounding: .up)) iterations, \(Format.fixed(days, 1)) days, \(Format.grouped(hours)) GPU-hours"
      )
    } else {
      out.append("  no token budget (set megaplan.train_tokens for days and GPU-hours)")
    }
    return out.joined(separator: "\n") + "\n"
  }
}

extension TextReport {
  /// "fits: 61.20 of 76.00 GiB usable (95% of 80.00 GiB)": the `MemoryBudget` rule as applied.
  public static func fitLine(_ mem: Estimate.MemorySummary) -> String {
    let budget = MemoryBudget(usableFraction: mem.usableFraction)
    return (mem.fits ? "fits: " : "does not fit: ")
      + budget.describe(total: mem.peakBytes, capacity: mem.capacityBytes)
  }

  /// "fits: peak per GPU ≤ 76.00 GiB usable (95% of 80.00 GiB)": the rule alone.
  public static func ruleLine(_ mem: Estimate.MemorySummary) -> String {
    "fits: peak per GPU ≤ \(Format.gib(mem.usableBytes)) usable (\(Format.percent(mem.usableFraction, 0)) of \(Format.gib(mem.capacityBytes)))"
  }
}

extension String {
  var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
