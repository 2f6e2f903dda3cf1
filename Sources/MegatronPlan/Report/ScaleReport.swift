/// Text, CSV, Markdown and JSON renderings of a node-scaling table (`megaplan scale`).
public enum ScaleReport {
  /// The columns of the text and Markdown tables. cp is always shown, so t·cp·p·d reads as the
  /// row's GPUs; EP and ETP when a row's model has experts.
  static func headers(_ t: NodeScaling.Table) -> [String] {
    var out = ["nodes", "GPUs", "batch", "t", "cp", "p", "d"]
    if hasExperts(t) { out += ["EP", "ETP"] }
    return out + [
      "v", "b", "SP", "recompute", "GiB/GPU", "fits", "iteration (s)", "tokens/s", "MFU", "days",
      "efficiency",
    ]
  }

  static func hasExperts(_ t: NodeScaling.Table) -> Bool {
    t.rows.contains { $0.run?.model.moe != nil }
  }

  static func cells(_ row: NodeScaling.Row, experts: Bool) -> [String]? {
    guard let e = row.estimate, let run = row.run else { return nil }
    let l = run.layout
    var out = [
      Format.grouped(row.nodes), Format.grouped(row.gpus),
      Format.grouped(row.globalBatch) + (row.batchAdjusted ? "*" : ""), String(l.tensor),
      String(l.contextParallel), String(l.pipeline), Format.grouped(l.data),
    ]
    if experts { out += [String(l.expertParallel), String(l.expertTensorParallel)] }
    return out + [
      String(l.virtualStages), String(l.microBatch),
      l.effectiveSequenceParallel ? "on" : "off", l.recompute.description,
      Format.fixed(e.memory.peakBytes / 1_073_741_824, 2), e.memory.fits ? "yes" : "no",
      Format.fixed(e.time.iterationSeconds, 3), Format.grouped(e.throughput.tokensPerSecond),
      Format.percent(e.throughput.mfu), e.training.days.map { Format.fixed($0, 2) } ?? "-",
      row.efficiency.map { Format.percent($0) } ?? "-",
    ]
  }

  static func heading(_ t: NodeScaling.Table) -> String {
    let what =
      t.mode == .search
      ? "the fastest layout that fits at each count" : "the file's layout, d following the count"
    let tokens = t.tokens.map { ", \(Format.count($0)) tokens" } ?? ", no token budget"
    return what + tokens
  }

  static func notes(_ t: NodeScaling.Table) -> [String] {
    var out: [String] = []
    for row in t.rows {
      if let why = row.skipped {
        out.append(
          "\(Format.grouped(row.nodes)) node\(row.nodes == 1 ? "" : "s") (\(Format.grouped(row.gpus)) GPUs) skipped: \(why)"
        )
      }
    }
    if t.rows.contains(where: { $0.estimate != nil && $0.batchAdjusted }) {
      out.append(
        "* global batch adjusted from \(Format.grouped(t.rows.first?.fileBatch ?? 0)) to the nearest the layout's data-parallel size divides (--adjust-batch)"
      )
    }
    if let ref = t.referenceNodes {
      out.append(
        "efficiency: tokens/s per GPU against \(Format.grouped(ref)) node\(ref == 1 ? "" : "s"), the smallest count with a layout"
      )
    }
    return out
  }

  public static func text(_ t: NodeScaling.Table, source: String) -> String {
    var out = ["megaplan scale: \(source) (\(heading(t)))", ""]
    let experts = hasExperts(t)
    let body = t.rows.compactMap { cells($0, experts: experts) }
    if body.isEmpty {
      out.append("no node count has a layout")
    } else {
      let headers = headers(t)
      let recompute = headers.firstIndex(of: "recompute")
      let table = [headers] + body
      let widths = headers.indices.map { i in table.map { $0[i].count }.max() ?? 0 }
      for (n, row) in table.enumerated() {
        out.append(
          row.indices.map { i in
            i == recompute ? Format.pad(row[i], widths[i]) : Format.left(row[i], widths[i])
          }.joined(separator: "  "))
        if n == 0 {
          out.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        }
      }
    }
    out.append("")
    out += notes(t)
    return out.joined(separator: "\n") + "\n"
  }

  public static func markdown(_ t: NodeScaling.Table) -> String {
    let headers = headers(t)
    var lines = [
      "| " + headers.joined(separator: " | ") + " |",
      "|" + headers.map { _ in "---" }.joined(separator: "|") + "|",
    ]
    for row in t.rows.compactMap({ cells($0, experts: hasExperts(t)) }) {
      lines.append(
        "| " + row.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ")
          + " |")
    }
    let notes = notes(t)
    if !notes.isEmpty {
      lines.append("")
      lines += notes.map { "- " + $0.replacingOccurrences(of: "*", with: "\\*") }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  public static func csv(_ t: NodeScaling.Table) -> String {
    func quote(_ s: String) -> String {
      s.contains(",") || s.contains("\"")
        ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    let header = [
      "nodes", "gpus", "global_batch", "batch_adjusted", "tensor", "context_parallel", "pipeline",
      "data", "expert_parallel", "expert_tensor_parallel", "virtual", "micro_batch",
      "sequence_parallel", "recompute", "recompute_method", "recompute_num_layers",
      "distributed_optimizer", "peak_bytes", "fits", "iteration_seconds", "tokens_per_second",
      "mfu", "days", "efficiency", "skipped",
    ]
    var lines = [header.joined(separator: ",")]
    for row in t.rows {
      var values = [
        String(row.nodes), String(row.gpus), String(row.globalBatch), String(row.batchAdjusted),
      ]
      if let e = row.estimate {
        values += [
          String(e.layout.tensor), String(e.layout.contextParallel), String(e.layout.pipeline),
          String(e.layout.data), String(e.layout.expertParallel),
          String(e.layout.expertTensorParallel), String(e.layout.virtual ?? 1),
          String(e.layout.microBatch),
          String(e.layout.sequenceParallel), e.layout.recompute, e.layout.recomputeMethod ?? "",
          e.layout.recomputeNumLayers.map(String.init) ?? "",
          String(e.layout.distributedOptimizer), Format.fixed(e.memory.peakBytes, 0),
          String(e.memory.fits), Format.fixed(e.time.iterationSeconds, 4),
          Format.fixed(e.throughput.tokensPerSecond, 1), Format.fixed(e.throughput.mfu, 4),
          e.training.days.map { Format.fixed($0, 3) } ?? "",
          row.efficiency.map { Format.fixed($0, 4) } ?? "", "",
        ]
      } else {
        values += Array(repeating: "", count: header.count - values.count - 1)
        values.append(quote(row.skipped ?? ""))
      }
      lines.append(values.joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// `{"rows": [...]}` with each row's `estimate` (the `estimate` schema) or null when skipped;
  /// sorted snake_case keys, byte-stable (docs/json-schema.md).
  public static func json(_ t: NodeScaling.Table) throws -> String {
    struct RowJSON: Encodable {
      var nodes: Int
      var gpus: Int
      var globalBatch: Int
      var batchAdjusted: Bool
      var efficiency: Double?
      var skipped: String?
      var estimate: Estimate?
      enum CodingKeys: String, CodingKey {
        case nodes, gpus, globalBatch, batchAdjusted, efficiency, skipped, estimate
      }
      /// Absent values as null, so every documented path is always present.
      func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(nodes, forKey: .nodes)
        try c.encode(gpus, forKey: .gpus)
        try c.encode(globalBatch, forKey: .globalBatch)
        try c.encode(batchAdjusted, forKey: .batchAdjusted)
        try c.encode(efficiency, forKey: .efficiency)
        try c.encode(skipped, forKey: .skipped)
        try c.encode(estimate, forKey: .estimate)
      }
    }
    struct Document: Encodable {
      var mode: String
      var adjustBatch: Bool
      var tokens: Double?
      var devicesPerNode: Int
      var referenceNodes: Int?
      var rows: [RowJSON]
      enum CodingKeys: String, CodingKey {
        case mode, adjustBatch, tokens, devicesPerNode, referenceNodes, rows
      }
      func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mode, forKey: .mode)
        try c.encode(adjustBatch, forKey: .adjustBatch)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(devicesPerNode, forKey: .devicesPerNode)
        try c.encode(referenceNodes, forKey: .referenceNodes)
        try c.encode(rows, forKey: .rows)
      }
    }
    let doc = Document(
      mode: t.mode.rawValue, adjustBatch: t.adjustBatch, tokens: t.tokens,
      devicesPerNode: t.devicesPerNode, referenceNodes: t.referenceNodes,
      rows: t.rows.map {
        RowJSON(
          nodes: $0.nodes, gpus: $0.gpus, globalBatch: $0.globalBatch,
          batchAdjusted: $0.batchAdjusted, efficiency: $0.efficiency, skipped: $0.skipped,
          estimate: $0.estimate)
      })
    return try JSONOutput.encode(doc)
  }
}
