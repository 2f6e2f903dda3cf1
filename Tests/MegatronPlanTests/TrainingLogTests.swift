import Foundation
import Testing

@testable import MegatronPlan

/// The log excerpts of Fixtures/logs (SOURCES.md cites each).
func logFixture(_ name: String) throws -> TrainingLog {
  let (text, file) = try fixture("logs/" + name)
  return try TrainingLog.parse(text, file: file)
}

/// A real log's steady-state step time: the median megaplan takes, the median computed by hand
/// from the excerpt's lines (stated per case), and the median the log's source states for the
/// whole log.
struct RealLogCase: CustomStringConvertible, Sendable {
  var file: String
  var format: TrainingLog.Format
  /// The hand-computed median of the excerpt's steady windows, seconds.
  var excerptMedian: Double
  /// What the log says: the median of the whole log's steady steps as its notes or
  /// validation/reference/scale-runs.md record it.
  var logMedian: Double
  var steady: Int
  var description: String { file }
}

let realLogs: [RealLogCase] = [
  // The 9 train_step_timing records; the first 3 (steps 1–3: metadata.step 4,194,304 × 1…3) are
  // warm-up. Steps 4–9: 11.022026062011719, 11.039182901382446, 11.043867588043213,
  // 11.045635223388672, 11.049726486206055, 11.047425985336304 → the middle two of the sorted
  // six, (11.043867588043213 + 11.045635223388672) / 2. The whole log: median 11.0450
  // (notes/logs/mlperf31-gpt3-175b-512xH100.md).
  RealLogCase(
    file: "mlperf31-gpt3-175b-512xH100.log", format: .mlperf,
    excerptMedian: (11.043867588043213 + 11.045635223388672) / 2, logMedian: 11.0450, steady: 6),
  // Steps 4–9: 1.572157859802246, 1.6098401546478271, 1.6111717224121094, 1.6308960914611816,
  // 1.609727382659912, 1.6064097881317139 → (1.609727382659912 + 1.6098401546478271) / 2. The
  // whole log: 1.6084 (validation/reference/scale-runs.md row 5, result_0).
  RealLogCase(
    file: "mlperf31-gpt3-175b-4096xH100.log", format: .mlperf,
    excerptMedian: (1.609727382659912 + 1.6098401546478271) / 2, logMedian: 1.6084, steady: 6),
  // Steps 4–9: 0.9198310375213623, 0.9268732070922852, 0.926821231842041, 0.9314296245574951,
  // 0.9288380146026611, 0.9298620223999023 → (0.9268732070922852 + 0.9288380146026611) / 2. The
  // whole log: 0.9296 (scale-runs.md row 9, result_0).
  RealLogCase(
    file: "mlperf31-gpt3-175b-10752xH100.log", format: .mlperf,
    excerptMedian: (0.9268732070922852 + 0.9288380146026611) / 2, logMedian: 0.9296, steady: 6),
  // Windows of 10 iterations; iteration 10's (steps 1–10) is warm-up. Iterations 20–100:
  // 14351.0, 14197.6, 14099.7, 14124.1, 14176.3, 14200.2, 14212.7, 14182.6, 14234.7 ms → the
  // fifth of the sorted nine, 14197.6 ms. The log's notes give 14190 ms (iterations 30–100).
  RealLogCase(
    file: "fixstars-gpt7b-fp8-16xH100.log", format: .megatronLM, excerptMedian: 14.1976,
    logMedian: 14.190, steady: 9),
  // Iterations 20–100: 12137.8, 12068.8, 12036.3, 12056.1, 12072.4, 12090.5, 12099.3, 12099.4,
  // 12104.3 ms → the fifth of the sorted nine, 12090.5 ms; the notes: 12081 ms.
  RealLogCase(
    file: "fixstars-gpt7b-fp8-8xH100.log", format: .megatronLM, excerptMedian: 12.0905,
    logMedian: 12.081, steady: 9),
  // NeMo 2, global steps 8–11 (past the warm-up steps 0–2): 27.01, 27.88, 26.63, 26.93 s →
  // (26.93 + 27.01) / 2; the notes: ≈ 26.97 s.
  RealLogCase(
    file: "nemo2-qwen3-30b-a3b-perfscript.log", format: .nemo, excerptMedian: (26.93 + 27.01) / 2,
    logMedian: 26.97, steady: 4),
  // Argonne's key=value lines, iterations 1–4, one each: 1–3 warm-up, iteration 4 7147.0 ms.
  RealLogCase(
    file: "alcf-megatron-deepspeed-aurora-timers.log", format: .megatronLM, excerptMedian: 7.147,
    logMedian: 7.147, steady: 1),
]

@Suite struct TrainingLogTests {
  @Test(
    "a real log's steady step time is its hand-computed median, within 1 % of the log's own",
    arguments: realLogs)
  func realLogMedian(_ c: RealLogCase) throws {
    let log = try logFixture(c.file)
    #expect(log.stepFormat == c.format)
    let steady = SteadyState([log])
    #expect(steady.samples.count == c.steady)
    let median = try #require(steady.median)
    #expect(abs(median - c.excerptMedian) < 1e-9, "\(median) vs \(c.excerptMedian)")
    #expect(abs(median / c.logMedian - 1) < 0.01, "\(median) vs the log's \(c.logMedian)")
  }

  @Test("MLPerf: the header's batch, sequence and nodes, the steps numbered by tokens consumed")
  func mlperfHeader() throws {
    let log = try logFixture("mlperf31-gpt3-175b-10752xH100.log")
    #expect(log.globalBatch?.value == 2688)
    #expect(log.sequenceLength?.value == 2048)
    // "1344xNVIDIA DGX H100".
    #expect(log.nodes?.value == 1344)
    // 2,688 × 2,048 = 5,505,024 tokens per step: the last block's records are steps 218–220
    // (the last one's metadata.step is 1,211,105,280 = 220 × 5,505,024).
    #expect(log.steps.last?.first == 220)
    #expect(log.steps.first?.first == 1)
  }

  @Test("Megatron-LM: windows of the log interval, fp16's skipped steps, the memory report in MiB")
  func megatronWindows() throws {
    let log = try logFixture("fixstars-gpt7b-fp8-16xH100.log")
    #expect(log.steps.map(\.last) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    #expect(log.steps[0].first == 1 && log.steps[1].first == 11 && log.steps[1].count == 10)
    // `number of skipped iterations:  10`, then 5.
    #expect(log.steps[0].skipped == 10 && log.steps[1].skipped == 5)
    #expect(log.globalBatch?.value == 1024)
    #expect(log.steps[2].teraFLOPsPerGPU == 801.7)
    // [Rank 0] (after 20 iterations) … max allocated: 70522.5751953125 (MiB) | … max reserved:
    // 71202.0.
    #expect(log.memory.count == 1)
    #expect(log.memory[0].rank == 0)
    #expect(log.memory[0].maxAllocated == 70522.5751953125 * 1_048_576)
    #expect(log.memory[0].maxReserved == 71202.0 * 1_048_576)
    #expect(log.memory[0].location.line == 10)
  }

  @Test("glued ranks: each rank's memory report read whole, none lost or mixed")
  func gluedRanks() throws {
    let log = try logFixture("slurm-on-aws-gpt70b-32xRTXPRO6000-memory.log")
    // 14 lines of one rank and 4 of two (9+8, 7+6, 18+16, 27+24): 22 reports, ranks 0–19, 24,
    // 27.
    #expect(log.memory.count == 22)
    let ranks = Set(log.memory.compactMap(\.rank))
    #expect(ranks == Set(Array(0...19) + [24, 27]))
    // Ranks 0–3: max allocated 47104.31 MiB; the rest 44566.31 (the excerpt's lines).
    for report in log.memory {
      let expected = (report.rank ?? 0) < 4 ? 47104.31 : 44566.31
      #expect(report.maxAllocated == expected * 1_048_576, "rank \(report.rank ?? -1)")
    }
    // The glued report of rank 8 is on the same line as rank 9's.
    let r8 = try #require(log.memory.first { $0.rank == 8 })
    let r9 = try #require(log.memory.first { $0.rank == 9 })
    #expect(r8.location.line == r9.location.line && r8.location.column > r9.location.column)
    // Only iteration 1: warm-up, nothing steady.
    #expect(log.steps.count == 1 && SteadyState([log]).median == nil)
  }

  @Test("timer blocks follow their window; startup timers have none")
  func timerBlocks() throws {
    let alcf = try logFixture("alcf-megatron-deepspeed-aurora-timers.log")
    #expect(alcf.timerBlocks.count == 4)
    #expect(alcf.timerBlocks.map(\.step) == [0, 1, 2, 3])
    let last = try #require(alcf.timerBlocks.last)
    // forward-backward ...: (7091.77, 7092.56); optimizer ...: (39.21, 40.11).
    #expect(last.entries.map(\.name) == ["forward-backward", "optimizer"])
    #expect(
      last.entries[0].minMilliseconds == 7091.77 && last.entries[0].maxMilliseconds == 7092.56)
    #expect(last.entries[1].maxMilliseconds == 40.11)
    #expect(alcf.memory.first?.maxAllocated == 9752.35498046875 * 1_048_576)
    #expect(alcf.globalBatch?.value == 768)

    let bert = try logFixture("megatron-bert-legacy-timers.log")
    // `time (ms) | model-and-optimizer-setup: …` before training, then the one after iteration
    // 10.
    #expect(bert.timerBlocks.count == 2)
    #expect(bert.timerBlocks[0].step == nil && bert.timerBlocks[1].step == 0)
    #expect(bert.timerBlocks[1].entries.first?.name == "forward-compute")
    #expect(bert.timerBlocks[1].entries.first?.maxMilliseconds == 193.77)
    // 356.2 ms and 123.4 ms.
    #expect(zip(bert.steps.map(\.seconds), [0.3562, 0.1234]).allSatisfy { abs($0 - $1) < 1e-12 })
  }

  // MARK: - Bad and partial logs

  /// The 16-GPU fixstars log's lines.
  func fixstarsLines() throws -> [String] {
    try fixture("logs/fixstars-gpt7b-fp8-16xH100.log").text.components(separatedBy: "\n")
  }

  func parseError(_ text: String) -> ConfigError? {
    do {
      _ = try TrainingLog.parse(text, file: "bad.log")
      return nil
    } catch let error as ConfigError {
      return error
    } catch {
      return nil
    }
  }

  @Test("a line cut off mid-number inside the log is an error at its line, never a shorter number")
  func cutMidLog() throws {
    var lines = try fixstarsLines()
    // Line 11 (iteration 30) cut after "elapsed time per iteration (ms): 141".
    let line = lines[10]
    let cut = try #require(line.range(of: "(ms): 141"))
    lines[10] = String(line[..<cut.upperBound])
    let error = try #require(parseError(lines.joined(separator: "\n")))
    #expect(error.location?.line == 11)
    #expect(error.location?.file == "bad.log")
    #expect(error.message.contains("ends the line"))
  }

  @Test("the last line cut off with no line end is left out with a note")
  func cutAtEnd() throws {
    var lines = try fixstarsLines()
    while lines.last == "" { lines.removeLast() }
    let line = lines[lines.count - 1]
    let cut = try #require(line.range(of: "(ms): 142"))
    lines[lines.count - 1] = String(line[..<cut.upperBound])
    let log = try TrainingLog.parse(lines.joined(separator: "\n"), file: "cut.log")
    // Iteration 100 is gone; 10–90 stay.
    #expect(log.steps.map(\.last) == [10, 20, 30, 40, 50, 60, 70, 80, 90])
    #expect(log.notes.count == 1 && log.notes[0].location?.line == lines.count)
  }

  @Test("two ranks' iteration lines run together are an error, not two numbers")
  func interleavedIterations() throws {
    var lines = try fixstarsLines()
    // Iteration 40's line glued onto the middle of iteration 30's.
    let i30 = lines[10]
    lines[10] = String(i30.prefix(60)) + lines[11]
    let error = try #require(parseError(lines.joined(separator: "\n")))
    #expect(error.location?.line == 11)
    #expect(error.message.contains("two iteration lines run together"))
    // A number run into another rank's memory report.
    var glued = try fixstarsLines()
    let cut = try #require(glued[10].range(of: "(ms): 141"))
    glued[10] = String(glued[10][..<cut.upperBound]) + glued[9]
    let error2 = try #require(parseError(glued.joined(separator: "\n")))
    #expect(error2.location?.line == 11)
    #expect(error2.message.contains("runs into '[Rank 0]"))
  }

  @Test("a memory report cut before its peak is an error")
  func memoryCut() throws {
    let line =
      "[Rank 9] (after 1 iterations) memory (MB) | allocated: 36891.15 | max allo[Rank 8] (after 1 iterations) memory (MB) | allocated: 36891.15 | max allocated: 44566.31 | reserved: 44816.00 | max reserved: 44816.00\n"
    let error = try #require(parseError(line))
    #expect(error.message.contains("stops before 'max allocated:'"))
    #expect(error.location?.column == 1)
  }

  @Test("an unknown or empty log is refused at its first line")
  func unknownFormat() throws {
    let error = try #require(parseError("epoch 1 loss 2.3\nepoch 2 loss 2.1\n"))
    #expect(error.location?.line == 1)
    #expect(error.message.hasPrefix("not a training log megaplan reads"))
    #expect(parseError("")?.message == "the log is empty")
  }

  @Test("an MLPerf record cut mid-JSON is an error at its line")
  func mlperfCut() throws {
    var lines = try fixture("logs/mlperf31-gpt3-175b-512xH100.log").text.components(
      separatedBy: "\n")
    lines[22] = String(lines[22].prefix(90))
    let error = try #require(parseError(lines.joined(separator: "\n")))
    #expect(error.location?.line == 23)
    #expect(error.message.contains("not complete JSON"))
  }

  @Test("one step timed twice with different values, or two formats in one log, is refused")
  func conflicts() throws {
    let nemo = """
      0: Training epoch 0, iteration 8/29 | global_step: 8 | train_step_timing in s: 27.01 | consumed_samples: 4608
      0: Training epoch 0, iteration 8/29 | global_step: 8 | train_step_timing in s: 29.50 | consumed_samples: 4608

      """
    let e1 = try #require(parseError(nemo))
    #expect(e1.location?.line == 2 && e1.message.contains("timed twice"))
    let lines = try fixstarsLines()
    let mixed =
      lines.prefix(12).joined(separator: "\n") + "\n" + nemo.components(separatedBy: "\n")[0] + "\n"
    let e2 = try #require(parseError(mixed))
    #expect(e2.message.contains("two formats"))
  }

  @Test("the window after an evaluation is left out; a restart's first steps are warm-up again")
  func evaluationAndRestart() throws {
    let lines = try fixstarsLines()
    let iterations = lines.filter { $0.contains("elapsed time per iteration") }
    // A validation block after iteration 50, then a restart from iteration 60's checkpoint.
    let validation = [
      "-" + String(repeating: "-", count: 40),
      " validation loss at iteration 50 | lm loss value: 8.1E+00 | lm loss PPL: 3.3E+03 | ",
    ]
    let text =
      (iterations.prefix(5) + validation + iterations[5...6] + iterations[5...9]).joined(
        separator: "\n") + "\n"
    let log = try TrainingLog.parse(text, file: "restart.log")
    let windows = SteadyState.windows(log)
    // 10 (warm-up), 20–50 steady, 60 after the evaluation, 70 steady; the restart at 60: its
    // window 51–60 is warm-up, 70–100 steady.
    #expect(
      windows == [
        .warmup, .steady, .steady, .steady, .steady, .afterEvaluation, .steady, .warmup, .steady,
        .steady, .steady, .steady,
      ])
    #expect(log.steps.map(\.segment) == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
  }

  @Test("launcher prefixes and progress-bar redraws are read; a redraw of a step counts once")
  func prefixes() throws {
    let text =
      "[default0]:Epoch 0: : 10/100 [00:54<08:06, v_num=1, reduced_train_loss=9.870, global_step=9.000, consumed_samples=5120.0, train_step_timing in s=5.210]\rEpoch 0: : 10/100 [00:55<08:06, v_num=1, reduced_train_loss=9.870, global_step=9.000, consumed_samples=5120.0, train_step_timing in s=5.210]\n"
    let log = try TrainingLog.parse(text, file: "tqdm.log")
    #expect(log.steps.count == 1 && log.steps[0].seconds == 5.21 && log.steps[0].first == 10)
  }

  /// Megatron-Bridge's own lines, as its source prints them (NVIDIA-NeMo/Megatron-Bridge@067f987
  /// `src/megatron/bridge/training/utils/train_utils.py`: `Step Time : {:.2f}s GPU utilization:
  /// {:.1f}MODEL_TFLOP/s/GPU`, and the memory report's `MEMORY_KEYS` in GB); no real Bridge log
  /// is public, so the lines are built from those format strings.
  @Test("Megatron-Bridge: Step Time lines in seconds, the memory report in GB")
  func bridge() throws {
    var text = ""
    for (k, s) in [4.91, 2.52, 2.50, 2.51, 2.49].enumerated() {
      text += "Step Time : \(s)s GPU utilization: 512.7MODEL_TFLOP/s/GPU\n"
      if k == 1 {
        text +=
          "[Rank 0] (after 2 iterations) memory (GB) | mem-allocated-gigabytes: 48.465 | mem-max-allocated-gigabytes: 75.078 | mem-max-reserved-gigabytes: 75.682 | mem-alloc-retires: 0 |\n"
      }
    }
    let log = try TrainingLog.parse(text, file: "bridge.log")
    #expect(log.stepFormat == .megatronBridge)
    // Steps 1–5; steps 4 and 5 are steady: (2.51 + 2.49) / 2.
    #expect(abs((SteadyState([log]).median ?? 0) - 2.50) < 1e-12)
    // 75.078 GB = 75.078e9 bytes.
    #expect(log.memory.first?.maxAllocated == 75.078e9)
    #expect(log.memory.first?.maxReserved == 75.682e9)
  }

  @Test(
    "MLPerf without train_step_timing: each block's clock over its steps, within 1 % of the log's")
  func mlperfBlocks() throws {
    let text = try fixture("logs/mlperf31-gpt3-175b-512xH100.log").text.components(
      separatedBy: "\n"
    ).filter { !$0.contains("train_step_timing") }.joined(separator: "\n")
    let log = try TrainingLog.parse(text, file: "blocks.log")
    // Three blocks of epoch_count 50,331,648 tokens = 12 steps of 2,048 × 2,048: steps 1–12
    // (warm-up), 13–24, and 277–288 (first_epoch_num 1,157,627,904 = 276 steps).
    #expect(log.steps.map(\.first) == [1, 13, 277] && log.steps.map(\.count) == [12, 12, 12])
    // block_start → block_stop, time_ms: 1696466503655 → 1696466636376 and 1696469706598 →
    // 1696469839337, over 12 steps each.
    let second: Double = 1_696_466_636_376 - 1_696_466_503_655
    let last: Double = 1_696_469_839_337 - 1_696_469_706_598
    let expected: Double = (second + last) / 2 / 1000 / 12
    let median = try #require(SteadyState([log]).median)
    #expect(abs(median - expected) < 1e-9)
    // The whole log's median train_step_timing, 11.0450 s: the blocks also hold what runs
    // between the steps.
    #expect(abs(median / 11.0450 - 1) < 0.01)
  }
}
