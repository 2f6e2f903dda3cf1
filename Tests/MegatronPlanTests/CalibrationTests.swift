import Foundation
import Testing

@testable import MegatronPlan

/// A bundled config (configs/) loaded as the CLI loads it.
func bundledRun(_ name: String, hardware: String? = nil) throws -> TrainingRun {
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  let path = root.appendingPathComponent(name).path
  var document = try ConfigDocument.parse(String(contentsOfFile: path, encoding: .utf8), file: name)
  if let hardware {
    let profile = try ConfigDocument.parse(hardware, file: "cluster.yaml")
    document.root = try HardwareProfile.applying(profile, to: document.root).0
  }
  return try ConfigLoader.load(document).run
}

/// The MLPerf v3.1 GPT-3 runs and their logs.
func mlperf(_ gpus: Int, hardware: String? = nil) throws -> RunComparison {
  try RunComparison(
    bundledRun("configs/mlperf31-gpt3-175b-\(gpus).yaml", hardware: hardware),
    logs: [logFixture("mlperf31-gpt3-175b-\(gpus)xH100.log")])
}

@Suite struct RunComparisonTests {
  @Test("the bundled MLPerf configs plan the runs validate's scale rows plan")
  func configsMatchScaleRows() throws {
    // validate's rows 5 and 9 (PublishedRun.scale): the same layout, switches and model, built
    // in Swift rather than read from YAML.
    for (gpus, row) in [(4096, "4096 H100"), (10752, "NVIDIA, 10752 H100")] {
      let published = try #require(PublishedRun.scale.first { $0.name.contains(row) })
      let fromRow = Evaluator(published.run).evaluate().seconds
      let fromConfig = try Evaluator(bundledRun("configs/mlperf31-gpt3-175b-\(gpus).yaml"))
        .evaluate().seconds
      #expect(abs(fromConfig / fromRow - 1) < 1e-9, "\(gpus): \(fromConfig) vs \(fromRow)")
    }
  }

  @Test("a log of another run is refused, naming the log's line and the config's key")
  func otherRun() throws {
    // The 512-GPU log (64 nodes) against the 4,096-GPU config (512 nodes), same batch.
    let run = try bundledRun("configs/mlperf31-gpt3-175b-4096.yaml")
    let e1 = #expect(throws: ConfigError.self) {
      try RunComparison(run, logs: [logFixture("mlperf31-gpt3-175b-512xH100.log")])
    }
    #expect(e1?.key == "trainer.num_nodes" && e1?.location?.file.hasSuffix("512xH100.log") == true)
    // The 10,752-GPU log trained global batch 2,688; this config 2,048.
    let e2 = #expect(throws: ConfigError.self) {
      try RunComparison(run, logs: [logFixture("mlperf31-gpt3-175b-10752xH100.log")])
    }
    #expect(e2?.key == "model.global_batch_size")
    #expect(e2?.message.contains("2688") == true)
  }

  @Test("the timers' terms partition the plan's iteration")
  func termsPartition() throws {
    let e = try mlperf(512).evaluation
    // forward-backward holds everything but the optimizer step (and, without
    // overlap_param_gather, the gathers that end it): the two sum to the iteration.
    let sum = MeasuredTerm.forwardBackward.predicted(e) + MeasuredTerm.optimizer.predicted(e)
    #expect(abs(sum - e.seconds) < 1e-12 * e.seconds)
    #expect(
      abs(
        MeasuredTerm.forwardCompute.predicted(e) + MeasuredTerm.backwardCompute.predicted(e)
          - (e.iteration.forward + e.iteration.backward + e.iteration.recompute).value) < 1e-12)
    #expect(MeasuredTerm.named("all-grads-sync") == .dataParallelComm)
    #expect(MeasuredTerm.named("grads-all-reduce") == .dataParallelComm)
    #expect(MeasuredTerm.named("backward-send-forward-recv") == .pipelineWait)
    #expect(MeasuredTerm.named("optimizer-inner-step") == nil)
  }

  @Test("timers in a log become term comparisons, the steady blocks' median")
  func timerComparison() throws {
    // Megatron's block after each window (timers.py's format), around a GPT-3 run's plan.
    let e = try mlperf(512).evaluation
    var lines: [String] = []
    for (k, ms) in [30_000.0, 11_050, 11_040, 11_060, 11_045].enumerated() {
      let it = (k + 1) * 10
      lines.append(
        " [2024-01-01 00:00:00] iteration \(it)/ 1000 | elapsed time per iteration (ms): \(ms) | global batch size:  2048 |"
      )
      lines.append("(min, max) time across ranks (ms):")
      lines.append("    forward-backward ...............................: (\(ms - 40), \(ms - 20))")
      lines.append("    optimizer ......................................: (10.00, 12.00)")
    }
    let log = try TrainingLog.parse(lines.joined(separator: "\n") + "\n", file: "timed.log")
    let c = try RunComparison(e.run, logs: [log])
    let fb = try #require(c.terms.first { $0.term == .forwardBackward })
    // Windows 20–50 (10 is warm-up): max 11,030, 11,020, 11,040, 11,025 ms → median 11,027.5.
    #expect(abs(fb.measured - 11.0275) < 1e-9)
    #expect(fb.blocks == 4 && fb.timers == ["forward-backward"])
    #expect(abs(fb.predicted - MeasuredTerm.forwardBackward.predicted(e)) < 1e-12)
    let opt = try #require(c.terms.first { $0.term == .optimizer })
    #expect(abs(opt.measured - 0.012) < 1e-12)
    // The first causes are the timers' differences, the larger first.
    guard case .timer(let first)? = c.causes.first?.kind else {
      Issue.record("the first cause is not a timer")
      return
    }
    #expect(first == .forwardBackward)
  }

  @Test("a constant's cause closes the gap: the run with its factor predicts the measured time")
  func constantCauseClosesGap() throws {
    let c = try mlperf(512)
    let measured = try #require(c.measuredSeconds)
    for cause in c.causes {
      guard case .constant(let knob) = cause.kind, let factor = cause.factor else { continue }
      var run = c.run
      run.constants = knob.applying(factor, to: run.constants)
      let t = Evaluator(run).evaluate().seconds
      #expect(abs(t / measured - 1) < 1e-6, "\(knob): \(t) vs \(measured)")
    }
    // The FP8 GEMMs hold most of the step, so their efficiency needs the smallest change.
    guard case .constant(let knob)? = c.causes.first?.kind else {
      Issue.record("no constant cause first")
      return
    }
    #expect(knob == .fp8GEMM)
  }

  @Test("memory reports map to pipeline stages by Megatron's rank order")
  func memoryStages() throws {
    // The slurm-on-aws run's layout: t 4, p 4, d 2 on 32 GPUs, so ranks 0–7 are stage 0, 8–15
    // stage 1, 16–23 stage 2, 24–31 stage 3 (order tp-cp-ep-dp-pp).
    let text = """
      trainer: {num_nodes: 4, devices: 8, precision: bf16}
      model:
        num_layers: 80
        hidden_size: 8192
        num_attention_heads: 64
        encoder_seq_length: 4096
        micro_batch_size: 1
        global_batch_size: 512
        tensor_model_parallel_size: 4
        pipeline_model_parallel_size: 4
        activations_checkpoint_granularity: full
      megaplan: {gpu: b200, vocab_size: 32256}
      """
    let run = try ConfigLoader.load(try ConfigDocument.parse(text, file: "gpt70b.yaml")).run
    let c = try RunComparison(
      run, logs: [logFixture("slurm-on-aws-gpt70b-32xRTXPRO6000-memory.log")])
    #expect(c.memory.map(\.stage) == [0, 1, 2, 3])
    #expect(c.memory[0].ranks == Array(0...7))
    #expect(c.memory[1].ranks == Array(8...15))
    #expect(c.memory[2].ranks == [16, 17, 18, 19])
    #expect(c.memory[3].ranks == [24, 27])
    // Stage 0's largest is ranks 0–3's 47104.31 MiB; the others' 44566.31.
    #expect(c.memory[0].measured == 47104.31 * 1_048_576)
    #expect(c.memory[3].measured == 44566.31 * 1_048_576)
    #expect(c.measuredSeconds == nil && c.causes.isEmpty)
  }

  @Test("Megatron's logged throughput flags a log that is not of its config")
  func loggedFLOPs() throws {
    let logs = try [logFixture("fixstars-gpt7b-fp8-8xH100.log")]
    let at4096 = try RunComparison(
      ConfigLoader.load(fixtureDocument("logs/fixstars-gpt-6.4b-fp8-8gpu.yaml")).run, logs: logs)
    // 877.5 TFLOP/s × 12.0688 s × 8 GPUs (iteration 30, one of the steady windows) is about
    // 8.5e16 FLOPs; a 6.4 B model over 1,024 × 4,096 tokens is about 6 · 6.4e9 · 4.19e6 = 1.6e17.
    let f = try #require(at4096.loggedFLOPs)
    #expect(f.logged > 8.3e16 && f.logged < 8.6e16)
    #expect(at4096.flopsDisagree)
    var doc = try fixtureDocument("logs/fixstars-gpt-6.4b-fp8-8gpu.yaml")
    try doc.override(
      "model.encoder_seq_length", with: "2048",
      location: SourceLocation(file: "t", line: 1, column: 1))
    try doc.override(
      "model.max_position_embeddings", with: "2048",
      location: SourceLocation(file: "t", line: 1, column: 1))
    let at2048 = try RunComparison(ConfigLoader.load(doc).run, logs: logs)
    #expect(!at2048.flopsDisagree)
  }
}

func fixtureDocument(_ path: String) throws -> ConfigDocument {
  let (text, file) = try fixture(path)
  return try ConfigDocument.parse(text, file: file)
}

@Suite struct CalibrationTests {
  /// Observations generated by the model itself with known multipliers: what the fit must
  /// recover.
  func synthetic(_ truth: [CalibrationKnob: Double], runs: [TrainingRun])
    -> [CalibrationObservation]
  {
    runs.enumerated().map { k, run in
      var c = run.constants
      for (knob, m) in truth { c = knob.applying(m, to: c) }
      var o = CalibrationObservation(
        run: run, label: "run \(k)", term: nil, measured: 0, relativeError: 1e-3)
      o.measured = o.predicted(c)
      return o
    }
  }

  @Test("the fit recovers the multipliers that generated the measurements")
  func recovers() throws {
    let runs = try [512, 10752].map { try bundledRun("configs/mlperf31-gpt3-175b-\($0).yaml") }
    let truth: [CalibrationKnob: Double] = [.fp8GEMM: 0.95, .network: 0.7]
    let fit = try Calibration.fit(synthetic(truth, runs: runs), knobs: [.fp8GEMM, .network])
    for x in fit.constants {
      let expected = try #require(truth[x.knob])
      #expect(abs(x.multiplier / expected - 1) < 1e-3, "\(x.knob): \(x.multiplier)")
    }
    #expect(fit.degreesOfFreedom == 0 && fit.reducedChiSquare == nil)
    for r in fit.residuals { #expect(abs(r.after / r.measured - 1) < 1e-5) }
  }

  @Test("more constants than measurements, a constant nothing depends on, or two alike: refused")
  func refusals() throws {
    let c512 = try mlperf(512)
    let one = c512.observations(label: "512")
    #expect(one.count == 1)
    let e1 = #expect(throws: ConfigError.self) {
      try Calibration.fit(one, knobs: [.fp8GEMM, .network])
    }
    #expect(e1?.message.contains("determine at most 1") == true)
    // H100 has no FP4 tensor cores: no time depends on fp4_gemm_efficiency.
    let e2 = #expect(throws: ConfigError.self) { try Calibration.fit(one, knobs: [.fp4GEMM]) }
    #expect(e2?.message.contains("no measurement depends on fp4_gemm_efficiency") == true)
    // Two GPT-3 scales cannot tell the FP8 GEMMs from the 16-bit ones (the output layer's):
    // both scale the compute alike.
    let two = one + (try mlperf(10752)).observations(label: "10752")
    let e3 = #expect(throws: ConfigError.self) {
      try Calibration.fit(two, knobs: [.fp8GEMM, .gemm])
    }
    #expect(e3?.message.contains("cannot tell fp8_gemm_efficiency from gemm_efficiency") == true)
  }

  @Test("without --fit, as many constants as the measurements determine, the most influential")
  func automatic() throws {
    let one = try mlperf(512).observations(label: "512")
    let fit = try Calibration.fit(one, knobs: nil)
    #expect(fit.constants.map(\.knob) == [.fp8GEMM])
    // Exactly determined: the fitted plan is the measurement.
    #expect(abs(fit.residuals[0].after / fit.residuals[0].measured - 1) < 1e-6)
  }

  @Test("calibrating on 512 GPUs lowers the error at 4,096 and 10,752 (transfer)")
  func transfer() throws {
    let fit = try Calibration.fit(try mlperf(512).observations(label: "512"), knobs: nil)
    let profile = CalibrationReport.profile(fit, command: "megaplan calibrate (test)")
    for gpus in [4096, 10752] {
      let before = try #require(try mlperf(gpus).timeError)
      let after = try #require(try mlperf(gpus, hardware: profile).timeError)
      #expect(abs(after) < abs(before), "\(gpus): \(before) → \(after)")
    }
  }

  @Test("the written profile reads back to the fitted constants")
  func profileRoundTrip() throws {
    let fit = try Calibration.fit(try mlperf(512).observations(label: "512"), knobs: nil)
    let profile = CalibrationReport.profile(fit, command: "megaplan calibrate (test)")
    let run = try bundledRun("configs/mlperf31-gpt3-175b-512.yaml", hardware: profile)
    // Six significant digits.
    #expect(abs(run.constants.fp8GEMMEfficiency / fit.fitted.fp8GEMMEfficiency - 1) < 1e-5)
    #expect(run.gpu.displayName == "H100 SXM5 80GB (calibrated)")
    let measured = try #require(try mlperf(512).measuredSeconds)
    #expect(abs(Evaluator(run).evaluate().seconds / measured - 1) < 1e-4)
  }

  @Test("more measurements than constants: residuals left, χ² reported, uncertainty scaled")
  func overdetermined() throws {
    let obs = try [512, 4096, 10752].flatMap { try mlperf($0).observations(label: "\($0)") }
    let fit = try Calibration.fit(obs, knobs: [.fp8GEMM])
    #expect(fit.degreesOfFreedom == 2)
    // One FP8 efficiency cannot give −3.2 %, −8.6 % and −12.0 % (their errors before) to within
    // the logs' ±0.1 %: the residuals stay, far above their scatter.
    let chi = try #require(fit.reducedChiSquare)
    #expect(chi > 1)
    // The Birge-scaled uncertainty is at least the measurement-only one.
    let plain = try Calibration.fit([obs[0]], knobs: [.fp8GEMM])
    #expect(fit.constants[0].uncertainty > plain.constants[0].uncertainty)
  }

  @Test("the cluster's constants are one set: two GPUs are refused")
  func oneCluster() throws {
    var b200 = try bundledRun("configs/mlperf31-gpt3-175b-512.yaml")
    b200.gpu = .b200
    b200.hardwareGPU = .b200
    let obs = try mlperf(512).observations(label: "512")
    var other = obs[0]
    other.run = b200
    #expect(throws: ConfigError.self) { try Calibration.fit(obs + [other], knobs: nil) }
  }
}
