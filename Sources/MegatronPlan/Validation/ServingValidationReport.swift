/// `megaplan validate --serve`: the public serving rows (`PublishedServingRun`) against
/// megaplan's predictions, by section, with each section's mean and largest error over the rows
/// that set no constant. docs/serve.md holds this text (`DocsTests` checks it is current).
public enum ServingValidationReport {
  /// One compared row.
  public struct Result: Sendable {
    public var run: PublishedServingRun
    public var predicted: Double?
    /// predicted / published − 1 (nil when the prediction is missing).
    public var error: Double? { predicted.map { $0 / run.published - 1 } }
    public var counted: Bool {
      if case .validation = run.role { return predicted != nil }
      return false
    }
  }

  /// One section: its rows and the errors of those counted.
  public struct Section: Sendable {
    public var title: String
    public var results: [Result]
    public var errors: [Double] { results.filter(\.counted).compactMap(\.error).map(abs) }
    public var mean: Double { errors.reduce(0, +) / Double(max(1, errors.count)) }
    public var largest: Double { errors.max() ?? 0 }
  }

  public static func sections() -> [Section] {
    func section(_ title: String, _ runs: [PublishedServingRun]) -> Section {
      Section(title: title, results: runs.map { Result(run: $0, predicted: $0.predict()) })
    }
    return [
      section(
        "Prefill: time to first token at batch or concurrency 1 (ms)", PublishedServingRun.prefill),
      section(
        "Decode: time per output token (ms; vLLM rows: end to end / 128 at batch 8)",
        PublishedServingRun.decode),
      section(
        "Static-batch throughput: ms per output step, the prefill spread over the steps (TensorRT-LLM v0.6.1)",
        PublishedServingRun.throughput),
      section(
        "Time to first token under concurrent load (ms; queueing and other requests' steps included)",
        PublishedServingRun.underLoad),
      section(
        "End to end, GPT-3 on FasterTransformer (2022), NVIDIA's serving table (ms; an engine megaplan approximates)",
        PublishedServingRun.fasterTransformerGPT3),
    ]
  }

  public static func text() -> String {
    var out: [String] = []
    for s in sections() {
      out.append(s.title)
      out.append(
        Format.pad("row", 5) + Format.pad("run", 50) + Format.left("published", 11)
          + Format.left("predicted", 11) + Format.left("error", 9) + "  engine, GPU")
      for r in s.results {
        let run = r.run
        var error = r.error.map { ($0 >= 0 ? "+" : "") + Format.percent($0) } ?? "-"
        if case .calibration = run.role { error += "*" }
        let engine =
          run.engineLabel
          ?? run.settings.engine.displayName + (run.settings.cudaGraphs ? "" : " (no CUDA graphs)")
        out.append(
          Format.pad(run.row >= 0 ? String(run.row) : "-", 5) + Format.pad(run.name, 50)
            + Format.left(Format.fixed(run.published * 1e3, 2), 11)
            + Format.left(r.predicted.map { Format.fixed($0 * 1e3, 2) } ?? "-", 11)
            + Format.left(error, 9)
            + "  \(engine), \(run.gpu.displayName)"
        )
      }
      out.append(
        "mean |error| \(Format.percent(s.mean)), max |error| \(Format.percent(s.largest)) over \(s.errors.count) rows"
      )
      let calibration = s.results.compactMap { r -> String? in
        if case .calibration(let what) = r.run.role { return "row \(r.run.row) sets \(what)" }
        return nil
      }
      if !calibration.isEmpty {
        out.append("* not counted: " + calibration.joined(separator: "; "))
      }
      out.append("")
    }
    return out.joined(separator: "\n")
  }
}
