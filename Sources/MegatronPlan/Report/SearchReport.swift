/// Text, CSV and Markdown renderings of a layout search (JSON: `LayoutSearch.Result.json()`).
public enum SearchReport {
  static let headers = [
    "#", "GPUs", "t", "cp", "p", "d", "v", "b", "SP", "recompute", "dist. opt", "GiB/GPU", "% cap",
    "iteration (s)", "MFU", "tokens/s", "days",
  ]

  /// The EP and ETP columns, shown for an MoE model only.
  static func expertHeaders(_ r: LayoutSearch.Result) -> [String] {
    r.candidates.contains { $0.run.model.moe != nil } ? ["EP", "ETP"] : []
  }

  /// Whether some candidate splits its layers unevenly (a "layers" column then shows the first,
  /// a middle and the last stage's layers).
  static func showsSplit(_ r: LayoutSearch.Result) -> Bool {
    r.candidates.contains { !$0.layout.split.isEven && $0.layout.split.encoderLayers == nil }
  }

  /// The headers of this result's table: the fixed ones, with "layers" after p and EP, ETP
  /// after b when they apply.
  static func tableHeaders(_ r: LayoutSearch.Result) -> [String] {
    var head = headers
    head.insert(contentsOf: expertHeaders(r), at: 8)
    if showsSplit(r) { head.insert("layers", at: 5) }
    return head
  }

  static func cells(_ c: LayoutSearch.Candidate, experts: Bool, split: Bool) -> [String] {
    var row = cells(c)
    if experts {
      row.insert(
        contentsOf: [String(c.layout.expertParallel), String(c.layout.expertTensorParallel)], at: 8)
    }
    if split {
      row.insert(
        c.layout.split.stageSummary(layers: c.run.model.layers, stages: c.layout.pipeline), at: 5)
    }
    return row
  }

  static func cells(_ c: LayoutSearch.Candidate) -> [String] {
    let l = c.layout, e = c.estimate
    return [
      String(c.rank), Format.grouped(l.gpus), String(l.tensor), String(l.contextParallel),
      String(l.pipeline), String(l.data),
      String(l.virtualStages),
      String(l.microBatch),
      l.effectiveSequenceParallel ? "on" : "off", l.recompute.description,
      l.fullySharded ? "fsdp" : l.distributedOptimizer ? "on" : "off",
      Format.fixed(e.memory.peakBytes / 1_073_741_824, 2),
      Format.percent(e.memory.peakBytes / e.memory.capacityBytes),
      Format.fixed(e.time.iterationSeconds, 3), Format.percent(e.throughput.mfu),
      Format.grouped(e.throughput.tokensPerSecond),
      e.training.days.map { Format.fixed($0, 1) } ?? "-",
    ]
  }

  /// One line per uneven split the candidates use: which rows, and the keys that give it.
  static func splitNotes(_ r: LayoutSearch.Result) -> [String] {
    var order: [String] = []
    var ranks: [String: [Int]] = [:]
    for c in r.candidates {
      guard let keys = c.layout.split.configDescription else { continue }
      let l = c.layout
      let line =
        "split the \(c.run.model.layers) layers \(l.split.stageSummary(layers: c.run.model.layers, stages: l.pipeline)) (first/middle/last stage) over \(l.pipeline) stages: \(keys)"
      if ranks[line] == nil { order.append(line) }
      ranks[line, default: []].append(c.rank)
    }
    return order.map { line in
      (ranks[line] ?? []).map { "#\($0)" }.joined(separator: ", ") + " " + line
    }
  }

  public static func text(_ r: LayoutSearch.Result, source: String) -> String {
    var out = ["megaplan search: \(source) (objective: \(r.objective.rawValue))", ""]
    if r.candidates.isEmpty {
      out.append("no layout fits")
      if let miss = r.noFit { out += miss.lines.map { "  " + $0 } }
    } else if r.objective == .gpus && r.candidates.allSatisfy({ $0.meetsDeadline == false }) {
      out.append(
        "no GPU count up to \(Format.grouped(r.gpuCounts.last ?? 0)) meets the deadline; the fastest layouts:"
      )
      out.append("")
    }
    if !r.candidates.isEmpty {
      let experts = !expertHeaders(r).isEmpty, split = showsSplit(r)
      let head = tableHeaders(r)
      let table = [head] + r.candidates.map { cells($0, experts: experts, split: split) }
      let widths = head.indices.map { i in table.map { $0[i].count }.max() ?? 0 }
      let recomputeColumn = head.firstIndex(of: "recompute")
      for (n, row) in table.enumerated() {
        out.append(
          row.indices.map { i in
            i == recomputeColumn ? Format.pad(row[i], widths[i]) : Format.left(row[i], widths[i])
          }.joined(separator: "  "))
        if n == 0 {
          out.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        }
      }
    }
    out.append("")
    let rejected = r.rejected.sorted { $0.key < $1.key }.map {
      "\($0.key.rawValue) \(Format.grouped($0.value))"
    }
    out.append(
      "evaluated \(Format.grouped(r.evaluated)) (\(Format.grouped(r.layouts)) complete layouts), feasible \(Format.grouped(r.feasible)); rejected: \(rejected.isEmpty ? "none" : rejected.joined(separator: ", "))"
    )
    if r.gpuCounts.count > 1 {
      out.append("GPU counts searched: \(r.gpuCounts.map(Format.grouped).joined(separator: ", "))")
    }
    out += splitNotes(r)
    if let reason = r.reason { out.append("why #1 beats #2: \(reason)") }
    if let first = r.candidates.first { out.append(TextReport.ruleLine(first.estimate.memory)) }
    return out.joined(separator: "\n") + "\n"
  }

  public static func csv(_ r: LayoutSearch.Result) -> String {
    let header = [
      "rank", "gpus", "tensor", "context_parallel", "pipeline", "data", "virtual", "micro_batch",
      "sequence_parallel",
      "recompute", "recompute_method",
      "recompute_num_layers", "distributed_optimizer", "fully_sharded", "expert_parallel",
      "expert_tensor_parallel", "peak_bytes", "capacity_bytes", "iteration_seconds", "mfu", "hfu",
      "tokens_per_second", "days", "layers_per_stage", "pipeline_split",
    ]
    var lines = [header.joined(separator: ",")]
    for c in r.candidates {
      let e = c.estimate
      let l = e.layout
      let layout: [String] = [
        String(c.rank), String(l.gpus), String(l.tensor), String(l.contextParallel),
        String(l.pipeline), String(l.data), String(l.virtual ?? 1), String(l.microBatch),
        String(l.sequenceParallel), l.recompute, l.recomputeMethod ?? "",
        l.recomputeNumLayers.map(String.init) ?? "", String(l.distributedOptimizer),
        String(l.fullySharded), String(l.expertParallel), String(l.expertTensorParallel),
      ]
      let figures: [String] = [
        Format.fixed(e.memory.peakBytes, 0), Format.fixed(e.memory.capacityBytes, 0),
        Format.fixed(e.time.iterationSeconds, 4),
        Format.fixed(e.throughput.mfu, 4), Format.fixed(e.throughput.hfu, 4),
        Format.fixed(e.throughput.tokensPerSecond, 1),
        e.training.days.map { Format.fixed($0, 2) } ?? "",
        c.layout.split.stageSummary(layers: c.run.model.layers, stages: c.layout.pipeline),
        c.layout.split.configDescription.map {
          "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        } ?? "even",
      ]
      lines.append((layout + figures).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  public static func markdown(_ r: LayoutSearch.Result) -> String {
    let experts = !expertHeaders(r).isEmpty, split = showsSplit(r)
    let head = tableHeaders(r)
    var lines = [
      "| " + head.joined(separator: " | ") + " |",
      "|" + head.map { _ in "---" }.joined(separator: "|") + "|",
    ]
    for c in r.candidates {
      lines.append(
        "| " + cells(c, experts: experts, split: split).joined(separator: " | ") + " |")
    }
    if r.candidates.isEmpty, let miss = r.noFit {
      lines.append("")
      lines += miss.lines.map { "- " + $0 }
    }
    lines += splitNotes(r).map { "\n" + $0 }
    lines.append("")
    lines.append(
      "Evaluated \(Format.grouped(r.evaluated)), feasible \(Format.grouped(r.feasible)).\(r.reason.map { " Why #1 beats #2: \($0)." } ?? "")"
    )
    return lines.joined(separator: "\n") + "\n"
  }
}
