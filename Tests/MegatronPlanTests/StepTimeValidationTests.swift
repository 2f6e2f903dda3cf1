import Testing
@testable import MegatronPlan

/// The step-time model against published A100 measurements (reference §6). The published
/// values are in `PublishedRun` with their sources; the targets are the fidelity issue's.
@Suite struct StepTimeValidationTests {
  @Test("K22 Table 5, K22 §6.3 and the 175B/1,024-GPU run: mean |error| ≤ 3 %, max ≤ 6 %")
  func endToEnd() {
    let errors = PublishedRun.endToEnd.map { Validation.predict($0) }
    for r in errors {
      #expect(abs(r.error) <= 0.06, "\(r.name): published \(r.published), predicted \(r.predicted)")
    }
    let mean = errors.map { abs($0.error) }.reduce(0, +) / Double(errors.count)
    #expect(mean <= 0.03, "mean |error| \(mean)")
  }

  /// Issue 11's target for the modern development runs (published-modern-dev.json, encoded in
  /// `PublishedRun.modern` with their source): mean |error| ≤ 8 %, max ≤ 15 %.
  @Test("modern H100 FP8 runs (Megatron-Bridge): mean |error| ≤ 8 %, max ≤ 15 %")
  func modern() {
    let results = PublishedRun.modern.map { Validation.predict($0) }
    for r in results {
      #expect(abs(r.error) <= 0.15, "\(r.name): published \(r.published), predicted \(r.predicted)")
    }
    let mean = results.map { abs($0.error) }.reduce(0, +) / Double(max(1, results.count))
    #expect(mean <= 0.08, "mean |error| \(mean)")
  }

  /// The Blackwell rows (`PublishedRun.blackwell`): held out from every fit (Blackwell's
  /// constants come from public GEMM and nccl-tests measurements and Hopper's training-to-
  /// microbenchmark ratio); issue 23's target, mean |error| ≤ 8 %, each within 15 %.
  @Test("Blackwell FP8 runs (Megatron-Bridge), not fitted: mean |error| ≤ 8 %, max ≤ 15 %")
  func blackwell() {
    #expect(PublishedRun.blackwell.count == 4)
    let results = PublishedRun.blackwell.map { Validation.predict($0) }
    for r in results {
      #expect(abs(r.error) <= 0.15, "\(r.name): published \(r.published), predicted \(r.predicted)")
    }
    let mean = results.map { abs($0.error) }.reduce(0, +) / Double(results.count)
    #expect(mean <= 0.08, "mean |error| \(mean)")
  }

  /// The scale rows (`PublishedRun.scale`: MLPerf Training v3.0–v5.1 and Megatron-Bridge
  /// 26.04–26.06, 64–11,616 GPUs, with their published layouts and switches; nothing fitted to
  /// them). Issue 23's target: mean |error| ≤ 8 %, each within 15 % but for the misses
  /// docs/validation.md explains — MLPerf v3.0's largest GPT-3 run (v3.0's software is 12–18 %
  /// slower than megaplan at every size, and than v3.1 on the same layout) and three GB300 rows
  /// of Megatron-Bridge (FP8 and MXFP8 run 1.2× faster on GB300 than on GB200 where the
  /// datasheets give the same peaks). A known miss that comes within 15 % fails here too.
  static let knownScaleMisses: Set<String> = [
    "MLPerf Training v3.0 gpt3, NVIDIA_CoreWeave, 3584 H100-SXM-80GB, FP8",
    "Megatron-Bridge 26.06, LLAMA3.1_405B, 256 GB300, FP8",
    "Megatron-Bridge 26.06, LLAMA3.1_405B, 256 GB300, MXFP8",
    "Megatron-Bridge 26.04.01, LLAMA3_70B, 64 GB300, MXFP8",
  ]

  @Test("scale runs (MLPerf, Megatron-Bridge; 64–11,616 GPUs): mean ≤ 8 %, within 15 % but misses")
  func scale() {
    #expect(PublishedRun.scale.count == 48)
    let results = PublishedRun.scale.map { Validation.predict($0) }
    for r in results {
      #expect(
        (abs(r.error) <= 0.15) != Self.knownScaleMisses.contains(r.name),
        "\(r.name): published \(r.published), predicted \(r.predicted)")
    }
    let mean = results.map { abs($0.error) }.reduce(0, +) / Double(results.count)
    #expect(mean <= 0.08, "mean |error| \(mean)")
    // Every GPU generation the issue names is in the section.
    let gpus = Set(PublishedRun.scale.map(\.run.gpu.name))
    for g in ["h100-sxm", "h200", "b200", "gb200-nvl72", "gb300-nvl72"] {
      #expect(gpus.contains(g), "no \(g) row")
    }
  }

  /// The MoE rows (`PublishedRun.moe`, with their sources): each fits its 80 GB GPU at the
  /// modeled peak, as it did in practice, and is predicted within issue 24's 20 %, except the
  /// misses docs/validation.md explains (the Qwen3 runs, 25–38 % fast, and GPT-OSS 120B, 37 %
  /// fast: the kernel chain megaplan builds accounts for what a single MoE layer takes on 8 GPUs,
  /// not for what these whole runs lose beyond it). A known miss that comes within 20 % fails
  /// here too, so the docs stay true.
  static let knownMoEMisses: Set<String> = [
    "Qwen3-30B-A3B, 16 H100, FP8, EP16 HybridEP", "Qwen3-235B-A22B, 256 H100, FP8, t2 p8 v4 EP32",
    "Qwen3-235B-A22B, 256 H100, BF16, DeepEP t2 p8 v4 EP32",
    "Qwen3-235B-A22B, 256 H100, BF16, alltoall t2 p32 v3 EP8",
    "GPT-OSS 120B, 64 H100, BF16, p4 EP8",
  ]

  @Test("MoE H100 runs fit their GPUs; within 20 % but for the documented misses")
  func moe() {
    // Seven newest runs of their models (GPT-OSS 120B the seventh) and the ModelZoo's four
    // long-context lengths.
    #expect(PublishedRun.moe.count == 11)
    for run in PublishedRun.moe {
      let r = Validation.predict(run)
      #expect(r.evaluation.fits, "\(r.name) does not fit at the modeled peak")
      let within = abs(r.error) <= 0.20
      #expect(
        within != Self.knownMoEMisses.contains(r.name),
        "\(r.name): published \(r.published), predicted \(r.predicted)")
    }
  }

  @Test("K22 Table 4 per-layer forward and backward times within 10 %")
  func table4() {
    for l in Validation.table4() {
      #expect(
        abs(l.predictedForward / l.publishedForward - 1) <= 0.10,
        "\(l.name) forward \(l.predictedForward) ms")
      #expect(
        abs(l.predictedBackward / l.publishedBackward - 1) <= 0.10,
        "\(l.name) backward \(l.predictedBackward) ms")
    }
  }

  @Test(
    "N21 Table 1 within 10 % with the micro-batch and interleaving megaplan picks",
    arguments: PublishedRun.weakScaling.map(\.name))
  func weakScaling(name: String) {
    guard let run = PublishedRun.weakScaling.first(where: { $0.name == name }) else { return }
    let r = Validation.predict(run)
    #expect(
      abs(r.error) <= 0.10, "\(name): published \(r.published) TFLOP/s, predicted \(r.predicted)")
  }

  /// K22 Table 5's throughput column: SP + selective beats full recompute by 29–32 %; megaplan's
  /// own ratio must land within a few points of the published one for each model.
  @Test(
    "SP + selective is faster than full recompute by about K22 Table 5's margin",
    arguments: PaperRun.all)
  func presentWorkSpeedup(run: PaperRun) {
    let full = Estimate(
      TrainingRun(
        model: run.model,
        layout: run.layout(sp: false, recompute: .full(method: .uniform, layers: 1))))
    let present = Estimate(
      TrainingRun(model: run.model, layout: run.layout(sp: true, recompute: .selective)))
    let speedup = full.time.iterationSeconds / present.time.iterationSeconds - 1
    let published = run.fullRecomputeSeconds / run.presentWorkSeconds - 1
    // "Roughly": within 10 points (22B, the smallest, has the largest share of fixed per-iteration costs).
    #expect(abs(speedup - published) <= 0.10, "megaplan \(speedup), published \(published)")
  }
}
