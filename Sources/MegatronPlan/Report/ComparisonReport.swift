import Foundation

/// Text, CSV, Markdown and JSON renderings of a `Comparison`.
public enum ComparisonReport {
  static let headers = [
    "strategy", "act/layer (MiB)", "act/stage (GiB)", "peak (GiB)", "% of cap", "fits",
    "iteration (s)",
    "overhead", "MFU", "HFU", "tokens/s",
  ]

  static func cells(_ row: Comparison.Row) -> [String] {
    let e = row.estimate
    return [
      row.label + (row.recommended ? " *" : ""),
      Format.fixed(e.memory.activationsPerLayerBytes / 1_048_576, 1),
      Format.fixed(e.memory.activationsBytes / 1_073_741_824, 2),
      Format.fixed(e.memory.peakBytes / 1_073_741_824, 2),
      Format.percent(e.memory.peakBytes / e.memory.capacityBytes),
      e.memory.fits ? "yes" : "no",
      Format.fixed(e.time.iterationSeconds, 3),
      (row.recomputeOverhead >= 0 ? "+" : "") + Format.percent(row.recomputeOverhead),
      Format.percent(e.throughput.mfu),
      Format.percent(e.throughput.hfu),
      Format.grouped(e.throughput.tokensPerSecond),
    ]
  }

  public static func text(_ c: Comparison, source: String) -> String {
    var out = ["megaplan compare: \(source)", ""]
    let table = [headers] + c.rows.map(cells)
    let widths = headers.indices.map { i in table.map { $0[i].count }.max() ?? 0 }
    for (n, row) in table.enumerated() {
      let line = row.indices.map { i in
        i == 0 ? Format.pad(row[i], widths[i]) : Format.left(row[i], widths[i])
      }
      out.append(line.joined(separator: "  "))
      if n == 0 {
        out.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
      }
    }
    out.append("")
    out.append(
      "overhead: iteration time against no recompute with the same sequence-parallel setting")
    if let first = c.rows.first { out.append(TextReport.ruleLine(first.estimate.memory)) }
    if let best = c.recommended {
      out.append(
        "recommended (*): \(best.label), the fastest strategy that fits: \(Format.fixed(best.estimate.time.iterationSeconds, 3)) s per iteration, \(Format.gib(best.estimate.memory.peakBytes)) per GPU at its peak"
      )
    } else {
      out.append(
        "nothing fits in \(Format.gib(c.rows.first?.estimate.memory.usableBytes ?? 0)) usable per GPU with this layout."
      )
      if c.remedies.isEmpty {
        out.append(
          "no single change megaplan tries (recompute, distributed optimizer, micro-batch 1, more pipeline stages) makes it fit; try `megaplan search`"
        )
      } else {
        out.append("these would fit:")
        for r in c.remedies {
          out.append(
            "  \(r.change)\(r.sameGPUs ? "" : " (more GPUs)"): \(Format.gib(r.estimate.memory.peakBytes)) per GPU at its peak, \(Format.fixed(r.estimate.time.iterationSeconds, 3)) s per iteration, MFU \(Format.percent(r.estimate.throughput.mfu))"
          )
        }
      }
    }
    return out.joined(separator: "\n") + "\n"
  }

  public static func csv(_ c: Comparison) -> String {
    func quote(_ s: String) -> String {
      s.contains(",") || s.contains("\"")
        ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    let header = [
      "strategy", "recompute", "sequence_parallel", "activations_per_layer_bytes",
      "activations_bytes", "peak_bytes",
      "capacity_fraction", "fits", "iteration_seconds", "recompute_overhead", "mfu", "hfu",
      "tokens_per_second", "recommended",
    ]
    var lines = [header.joined(separator: ",")]
    for r in c.rows {
      let e = r.estimate
      let values: [String] = [
        quote(r.label), e.layout.recompute, String(e.layout.sequenceParallel),
        Format.fixed(e.memory.activationsPerLayerBytes, 0),
        Format.fixed(e.memory.activationsBytes, 0), Format.fixed(e.memory.peakBytes, 0),
        Format.fixed(e.memory.peakBytes / e.memory.capacityBytes, 4), String(e.memory.fits),
        Format.fixed(e.time.iterationSeconds, 4), Format.fixed(r.recomputeOverhead, 4),
        Format.fixed(e.throughput.mfu, 4),
        Format.fixed(e.throughput.hfu, 4), Format.fixed(e.throughput.tokensPerSecond, 1),
        String(r.recommended),
      ]
      lines.append(values.joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  public static func markdown(_ c: Comparison) -> String {
    var lines = [
      "| " + headers.joined(separator: " | ") + " |",
      "|" + headers.map { _ in "---" }.joined(separator: "|") + "|",
    ]
    for r in c.rows {
      lines.append(
        "| "
          + cells(r).map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ")
          + " |")
    }
    if let best = c.recommended {
      lines.append("");
      lines.append("\\* recommended: \(best.label), the fastest strategy that fits.")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// `{"rows": [...]}`: each row the `estimate` JSON object plus `label`, `recompute_overhead` and
  /// `recommended`; `remedies` lists the changes that would fit when nothing does.
  public static func json(_ c: Comparison) throws -> String {
    struct Row: Encodable {
      var estimate: Estimate
      var label: String
      var recomputeOverhead: Double
      var recommended: Bool
      enum Keys: String, CodingKey { case label, recomputeOverhead, recommended }
      func encode(to encoder: any Encoder) throws {
        try estimate.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(label, forKey: .label)
        try container.encode(recomputeOverhead, forKey: .recomputeOverhead)
        try container.encode(recommended, forKey: .recommended)
      }
    }
    struct RemedyJSON: Encodable {
      var change: String
      var estimate: Estimate
    }
    struct Document: Encodable {
      var rows: [Row]
      var remedies: [RemedyJSON]
    }
    let doc = Document(
      rows: c.rows.map {
        Row(
          estimate: $0.estimate, label: $0.label, recomputeOverhead: $0.recomputeOverhead,
          recommended: $0.recommended)
      },
      remedies: c.remedies.map { RemedyJSON(change: $0.change, estimate: $0.estimate) })
    return try JSONOutput.encode(doc)
  }
}

/// The one JSON encoder configuration: sorted keys, snake_case, pretty-printed.
public enum JSONOutput {
  public static func encode<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    // Slashes as written: "a/b", not "a\/b" (paths and units stay readable).
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try encoder.encode(value), as: UTF8.self)
  }
}
