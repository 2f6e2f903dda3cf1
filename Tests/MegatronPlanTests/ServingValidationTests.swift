import Foundation
import Testing

@testable import MegatronPlan

/// The public serving rows (`PublishedServingRun`) against megaplan: the targets (decode
/// mean ≤ 15 %, prefill ≤ 20 %), the one row that sets a constant reproduced by it, and every
/// row's published value as `shared/reference/inference-public.json` gives it.
@Suite struct ServingValidationTests {
  static let sections = ServingValidationReport.sections()

  @Test("prefill rows: mean |error| ≤ 20 % (issue 25's target)")
  func prefill() {
    let s = Self.sections[0]
    #expect(s.errors.count == PublishedServingRun.prefill.count)
    #expect(s.mean <= 0.20, "\(s.mean)")
  }

  @Test("decode rows: mean |error| ≤ 15 % (issue 25's target), the calibration row not counted")
  func decode() {
    let s = Self.sections[1]
    #expect(s.errors.count == PublishedServingRun.decode.count - 1)
    #expect(s.mean <= 0.15, "\(s.mean)")
  }

  @Test("static-batch throughput rows: mean |error| ≤ 15 %")
  func throughput() {
    #expect(Self.sections[2].mean <= 0.15, "\(Self.sections[2].mean)")
  }

  // vLLM CI, Llama 3.1 8B on H200, batch 8, 32/128: 833.421 ms end to end; its step overhead
  // was set from this row, so the row is reproduced (to the 0.01 ms the constant was set to).
  @Test("the row that sets vLLM's step overhead is reproduced by it")
  func calibration() throws {
    let run = PublishedServingRun.vllmCalibration
    let predicted = try #require(run.predict())
    #expect(abs(predicted - 833.421e-3 / 128) <= 1e-5)
  }

  /// The published values as the shared reference file has them (ms): TTFT rows `ttft_ms`,
  /// concurrency rows `itl_ms` or `ttft_ms`, static-batch rows the derived ms per step (÷ TP for
  /// A100, read per GPU), vLLM rows end to end / output.
  @Test("every row's published value is the reference file's")
  func matchesReferenceFile() throws {
    // The package root is two folders above this file's; the reference file sits beside it.
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("../shared/reference/inference-public.json")
    guard let data = try? Data(contentsOf: url) else { return }  // the file lives beside the repo
    let rows = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    let runs =
      PublishedServingRun.prefill + PublishedServingRun.decode + PublishedServingRun.throughput
      + PublishedServingRun.underLoad
    for run in runs {
      let row = rows[run.row]
      let derived = row["derived"] as? [String: Any] ?? [:]
      var ms: Double?
      switch run.measure {
      case .ttft, .ttftUnderLoad: ms = row["ttft_ms"] as? Double
      case .tpot: ms = row["itl_ms"] as? Double
      case .stepWithPrefill, .endToEnd:
        if let e2e = row["e2e_latency_ms_mean"] as? Double {
          ms = e2e / Double(run.output)
        } else if let step = derived["mean_ms_per_output_step_incl_prefill"] as? Double {
          ms = run.gpu.generation == .ampere ? step / Double(run.tensor) : step
        }
      }
      let published = try #require(ms, "row \(run.row)")
      #expect(abs(published / 1e3 - run.published) <= 1e-9, "row \(run.row): \(run.name)")
      #expect((row["input_len"] as? Int) == run.input, "row \(run.row)")
      #expect((row["tp"] as? Int) == run.tensor, "row \(run.row)")
    }
  }
}
