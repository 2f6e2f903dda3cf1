/// Text, CSV, Markdown and JSON renderings of `megaplan size` (`ModelSizing.Result`).
public enum SizeReport {
  static func budget(_ r: ModelSizing.Request) -> String {
    switch r.budget {
    case .tokens(let t): "\(Format.count(t)) tokens"
    case .perParameter(let k): "\(Format.fixed(k, k.rounded() == k ? 0 : 2)) tokens per parameter"
    }
  }

  static func question(_ r: ModelSizing.Request) -> String {
    "the largest \(r.family.displayName) model that trains \(budget(r)) in \(Format.fixed(r.days, r.days.rounded() == r.days ? 0 : 2)) day\(r.days == 1 ? "" : "s") on \(Format.grouped(r.gpus)) \(r.gpu.displayName) (s = \(Format.grouped(r.sequenceLength)))"
  }

  static func layoutLine(_ l: Layout) -> String {
    let v = l.interleaved ? " v\(l.virtualStages)" : ""
    let cp = l.contextParallel > 1 ? " cp\(l.contextParallel)" : ""
    return
      "t\(l.tensor)\(cp) p\(l.pipeline) d\(Format.grouped(l.data))\(v) b\(l.microBatch), sequence parallel \(l.effectiveSequenceParallel ? "on" : "off"), recompute \(l.recompute.description), distributed optimizer \(l.distributedOptimizer ? "on" : "off"); global batch \(Format.grouped(l.globalBatch))"
  }

  static func probeDays(_ p: ModelSizing.Probe) -> String {
    p.days.map { Format.fixed($0, 2) + " days" } ?? "no layout fits"
  }

  public static func text(_ result: ModelSizing.Result) -> String {
    let r = result.request
    var out = ["megaplan size: \(question(r))", ""]
    if let a = result.answer, let c = a.best {
      let e = c.estimate
      out += [
        "model      \(Format.count(a.parameters)) parameters: \(a.shape), vocabulary \(Format.grouped(e.model.vocabulary))",
        "layout     \(layoutLine(c.layout))"
          + (c.layout.gpus == r.gpus
            ? "" : " (on \(Format.grouped(c.layout.gpus)) of the \(Format.grouped(r.gpus)) GPUs)"),
        "memory     \(Format.gib(e.memory.peakBytes)) per GPU at its peak (\(Format.percent(e.memory.peakBytes / e.memory.usableBytes)) of \(Format.gib(e.memory.usableBytes)) usable)",
        "speed      \(Format.seconds(e.time.iterationSeconds)) per iteration, \(Format.grouped(e.throughput.tokensPerSecond)) tokens/s, MFU \(Format.percent(e.throughput.mfu)), HFU \(Format.percent(e.throughput.hfu))",
        "time       \(Format.count(a.tokens)) tokens in \(Format.fixed(e.training.days ?? 0, 2)) days (\(Format.grouped(e.training.gpuHours ?? 0)) GPU-hours)",
      ]
      if let n = result.next {
        out.append(
          "next size  \(Format.count(n.parameters)) (\(n.shape)): \(probeDays(n))\(n.days == nil ? (n.reason.map { ": \($0)" } ?? "") : ", over the deadline")"
        )
      } else {
        out.append(
          "next size  none: this is the \(r.family.displayName) family's largest size; the budget allows more than the family's rule builds"
        )
      }
    } else {
      out.append(
        "no \(r.family.displayName) model of the ladder trains in time; the smallest, \(result.next.map { "\(Format.count($0.parameters)) (\($0.shape)): \(probeDays($0))" } ?? "none")"
      )
      if let why = result.next?.reason { out.append("  \(why)") }
    }
    out.append(
      "searched   \(result.probes.count) of \(Format.grouped(result.ladderSize)) ladder sizes by bisection, \(Format.grouped(result.layouts)) layouts on up to \(Format.grouped(result.gpuCounts.first ?? 0)) GPUs (\(result.gpuCounts.count) usable counts: \(countsSummary(result.gpuCounts)))"
    )
    return out.joined(separator: "\n") + "\n"
  }

  /// The usable counts, the first few and the last: "9,728, 9,216, 8,704, …, 1".
  static func countsSummary(_ counts: [Int]) -> String {
    guard counts.count > 5 else { return counts.map(Format.grouped).joined(separator: ", ") }
    return (counts.prefix(4).map(Format.grouped) + ["…", Format.grouped(counts.last ?? 0)])
      .joined(separator: ", ")
  }

  static let headers = [
    "rung", "parameters", "layers", "hidden", "heads", "groups", "ffn", "tokens", "layout", "days",
    "in time", "fastest", "answer",
  ]

  /// Every rung timed, smallest first.
  static func probeRows(_ result: ModelSizing.Result) -> [[String]] {
    result.probes.sorted { $0.rung < $1.rung }.map { p in
      let l = p.best?.layout
      let layout =
        l.map {
          "t\($0.tensor) cp\($0.contextParallel) p\($0.pipeline) d\($0.data) v\($0.virtualStages) b\($0.microBatch)"
        }
        ?? "-"
      return [
        String(p.rung), Format.count(p.parameters), String(p.shape.layers),
        String(p.shape.hidden), String(p.shape.heads), String(p.shape.queryGroups),
        String(p.shape.ffnHidden), Format.count(p.tokens), layout,
        p.days.map { Format.fixed($0, 2) } ?? "-", p.meetsDeadline ? "yes" : "no",
        p.complete ? "yes" : "no", p.rung == result.answer?.rung ? "yes" : "",
      ]
    }
  }

  public static func markdown(_ result: ModelSizing.Result) -> String {
    var lines = [
      "| " + headers.joined(separator: " | ") + " |",
      "|" + headers.map { _ in "---" }.joined(separator: "|") + "|",
    ]
    for row in probeRows(result) { lines.append("| " + row.joined(separator: " | ") + " |") }
    lines.append("")
    lines.append(
      result.answer.map {
        "Answer: \(Format.count($0.parameters)) (\($0.shape)), \(question(result.request))."
      } ?? "No model of the ladder trains in time.")
    return lines.joined(separator: "\n") + "\n"
  }

  public static func csv(_ result: ModelSizing.Result) -> String {
    var lines = [
      "rung,parameters,layers,hidden,heads,query_groups,ffn_hidden,tokens,tensor,context_parallel,pipeline,data,virtual,micro_batch,global_batch,days,meets_deadline,fastest,answer"
    ]
    for p in result.probes.sorted(by: { $0.rung < $1.rung }) {
      var values: [String] = [
        String(p.rung), Format.fixed(p.parameters, 0), String(p.shape.layers),
        String(p.shape.hidden), String(p.shape.heads), String(p.shape.queryGroups),
        String(p.shape.ffnHidden), Format.fixed(p.tokens, 0),
      ]
      if let l = p.best?.layout {
        let layout: [Int] = [
          l.tensor, l.contextParallel, l.pipeline, l.data, l.virtualStages, l.microBatch,
          l.globalBatch,
        ]
        values += layout.map { String($0) }
      } else {
        values += Array(repeating: "", count: 7)
      }
      values.append(p.days.map { Format.fixed($0, 3) } ?? "")
      values.append(String(p.meetsDeadline))
      values.append(String(p.complete))
      values.append(String(p.rung == result.answer?.rung))
      lines.append(values.joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The request, the answer with its estimate (the `estimate` schema), the next rung and every
  /// rung timed; sorted snake_case keys, byte-stable (docs/json-schema.md).
  public static func json(_ result: ModelSizing.Result) throws -> String {
    struct ProbeJSON: Encodable {
      var rung: Int
      var shape: ModelShape
      var parameters: Double
      var tokens: Double
      var days: Double?
      var meetsDeadline: Bool
      var complete: Bool
      var reason: String?
      enum CodingKeys: String, CodingKey {
        case rung, shape, parameters, tokens, days, meetsDeadline, complete, reason
      }
      func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rung, forKey: .rung)
        try c.encode(shape, forKey: .shape)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(days, forKey: .days)
        try c.encode(meetsDeadline, forKey: .meetsDeadline)
        try c.encode(complete, forKey: .complete)
        try c.encode(reason, forKey: .reason)
      }
      init(_ p: ModelSizing.Probe) {
        rung = p.rung
        shape = p.shape
        parameters = p.parameters
        tokens = p.tokens
        days = p.days
        meetsDeadline = p.meetsDeadline
        complete = p.complete
        reason = p.reason
      }
    }
    struct Document: Encodable {
      var family: String
      var gpus: Int
      var gpu: String
      var days: Double
      var tokens: Double?
      var tokensPerParameter: Double?
      var sequenceLength: Int
      var ladderSize: Int
      var gpuCounts: [Int]
      var atLadderTop: Bool
      var answer: ProbeJSON?
      var estimate: Estimate?
      var next: ProbeJSON?
      var probes: [ProbeJSON]
      var layouts: Int
      enum CodingKeys: String, CodingKey {
        case family, gpus, gpu, days, tokens, tokensPerParameter, sequenceLength, ladderSize,
          gpuCounts, atLadderTop, answer, estimate, next, probes, layouts
      }
      func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(family, forKey: .family)
        try c.encode(gpus, forKey: .gpus)
        try c.encode(gpu, forKey: .gpu)
        try c.encode(days, forKey: .days)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(tokensPerParameter, forKey: .tokensPerParameter)
        try c.encode(sequenceLength, forKey: .sequenceLength)
        try c.encode(ladderSize, forKey: .ladderSize)
        try c.encode(gpuCounts, forKey: .gpuCounts)
        try c.encode(atLadderTop, forKey: .atLadderTop)
        try c.encode(answer, forKey: .answer)
        try c.encode(estimate, forKey: .estimate)
        try c.encode(next, forKey: .next)
        try c.encode(probes, forKey: .probes)
        try c.encode(layouts, forKey: .layouts)
      }
    }
    let r = result.request
    var tokens: Double? = nil
    var perParameter: Double? = nil
    switch r.budget {
    case .tokens(let t): tokens = t
    case .perParameter(let k): perParameter = k
    }
    let doc = Document(
      family: r.family.rawValue, gpus: r.gpus, gpu: r.gpu.name, days: r.days, tokens: tokens,
      tokensPerParameter: perParameter, sequenceLength: r.sequenceLength,
      ladderSize: result.ladderSize, gpuCounts: result.gpuCounts,
      atLadderTop: result.atLadderTop,
      answer: result.answer.map(ProbeJSON.init), estimate: result.answer?.best?.estimate,
      next: result.next.map(ProbeJSON.init), probes: result.probes.map(ProbeJSON.init),
      layouts: result.layouts)
    return try JSONOutput.encode(doc)
  }
}
