/// The text `megaplan validate` prints and `docs/validation.md` records.
public enum ValidationReport {
  /// `constants` default to each run's GPU generation's (Ampere for the A100 runs).
  public static func text(constants: PerformanceConstants? = nil) -> String {
    var out: [String] = []
    func section(_ title: String, _ runs: [PublishedRun]) {
      out.append(title)
      out.append(
        Format.pad("run", 40) + Format.left("published", 12) + Format.left("predicted", 12)
          + Format.left("error", 9) + "  layout / predicted breakdown")
      var errors: [Double] = []
      for run in runs {
        let r = Validation.predict(run, constants: constants)
        errors.append(abs(r.error))
        let l = r.layout
        let experts = l.expertParallel > 1 ? " EP\(l.expertParallel)" : ""
        let layout =
          "t\(l.tensor)\(l.contextParallel > 1 ? " cp\(l.contextParallel)" : "") p\(l.pipeline) d\(l.data)\(l.interleaved ? " v\(l.virtualStages)" : "") b\(l.microBatch)\(experts)"
        out.append(
          Format.pad(r.name, 40) + Format.left(Format.fixed(r.published, 2), 12)
            + Format.left(Format.fixed(r.predicted, 2), 12)
            + Format.left((r.error >= 0 ? "+" : "") + Format.percent(r.error), 9)
            + "  \(layout); \(r.unit)")
        let b = r.evaluation.iteration.breakdown
        let parts = b.terms.filter { $0.value.value > 0 }.map {
          "\($0.name.replacingUnderscores) \(Format.seconds($0.value.value))"
        }
        out.append(String(repeating: " ", count: 42) + parts.joined(separator: ", "))
      }
      let mean = errors.reduce(0, +) / Double(max(1, errors.count))
      out.append(
        "mean |error| \(Format.percent(mean)), max |error| \(Format.percent(errors.max() ?? 0))")
      out.append("")
    }
    section(
      "End-to-end iteration time (K22 Table 5, K22 §6.3) and the 175B / 1,024-GPU run (TFLOP/s per GPU, N21 Eq. 3)",
      PublishedRun.endToEnd)
    section(
      "N21 Table 1 weak scaling (TFLOP/s per GPU; micro-batch and interleaving chosen as the fastest that fits)",
      PublishedRun.weakScaling)
    section(
      "Modern H100 runs, Megatron-Core + Transformer Engine, FP8 (Megatron-Bridge performance summary; s/iteration)",
      PublishedRun.modern)
    section(
      "Blackwell runs, the same summary, FP8 (Blackwell's constants from public microbenchmarks, not fitted; s/iteration)",
      PublishedRun.blackwell)
    section(
      "Long context with context parallelism, Llama 2 7B FP8 on H100 (NeMo long-sequence table; model TFLOP/s per GPU, full s × s attention)",
      PublishedRun.longContext)
    section(
      "Scale: MLPerf Training and Megatron-Bridge runs of 64–11,616 GPUs on H100, H200, B200, GB200, GB300 (published layouts and switches, nothing fitted; s/iteration)",
      PublishedRun.scale)
    section(
      "Mixture-of-experts H100 runs, Megatron-Core (Megatron-Bridge performance summary, s/iteration; Megatron-LM MoE README, model TFLOP/s per GPU)",
      PublishedRun.moe)
    out.append("K22 Table 4: one layer of the 22B model (t = 8, b = 4), milliseconds")
    out.append(
      Format.pad("variant", 36) + Format.left("fwd pub", 9) + Format.left("fwd pred", 10)
        + Format.left("err", 8) + Format.left("bwd pub", 9) + Format.left("bwd pred", 10)
        + Format.left("err", 8))
    for l in Validation.table4(constants: constants ?? .standard) {
      let ef = l.predictedForward / l.publishedForward - 1,
        eb = l.predictedBackward / l.publishedBackward - 1
      out.append(
        Format.pad(l.name, 36) + Format.left(Format.fixed(l.publishedForward, 1), 9)
          + Format.left(Format.fixed(l.predictedForward, 2), 10)
          + Format.left(Format.percent(ef), 8)
          + Format.left(Format.fixed(l.publishedBackward, 1), 9)
          + Format.left(Format.fixed(l.predictedBackward, 2), 10)
          + Format.left(Format.percent(eb), 8))
    }
    return out.joined(separator: "\n") + "\n"
  }
}
