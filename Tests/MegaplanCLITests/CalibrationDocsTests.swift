import Foundation
import MegatronPlan
import Testing

@testable import MegaplanCLI

/// docs/validation.md's calibration transfer (issue 26) is the program's own output: the
/// committed profiles are what `calibrate -o` writes now, and the transfer table is what
/// `calibrate` and `explain-run` give for every pair of the three MLPerf GPT-3 runs.
@Suite struct CalibrationDocsTests {
  static let scales = [512, 4096, 10752]

  static func run(_ gpus: Int) -> [String] {
    [
      "configs/mlperf31-gpt3-175b-\(gpus).yaml",
      "Tests/MegatronPlanTests/Fixtures/logs/mlperf31-gpt3-175b-\(gpus)xH100.log",
    ]
  }

  func temporary(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent(
      "megaplan-docs-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
    ).path
  }

  /// `explain-run`'s error for one run, as its text prints it (`-8.6%`).
  func error(_ gpus: Int, hardware: String?) throws -> String {
    let r = runCLI(
      ["explain-run"] + Self.run(gpus) + (hardware.map { ["--hardware", $0] } ?? []) + [
        "--format", "json",
      ])
    #expect(r.code == 0, "\(r.stderr)")
    let doc = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let error = try #require((doc["time"] as? [String: Any])?["error"] as? Double)
    return RunExplanationReport.signed(error)
  }

  @Test("the committed profiles are what calibrate -o writes now")
  func profilesCurrent() throws {
    for (name, scales) in [("eos-h100-512", [512]), ("eos-h100-512-10752", [512, 10752])] {
      let out = temporary("\(name).yaml")
      defer { try? FileManager.default.removeItem(atPath: out) }
      let r = runCLI(["calibrate"] + scales.flatMap(Self.run) + ["-o", out])
      #expect(r.code == 0, "\(r.stderr)")
      let written = try String(contentsOfFile: out, encoding: .utf8)
      let committed = try String(
        contentsOfFile: rooted("validation/calibration/\(name).yaml"), encoding: .utf8)
      #expect(
        written == committed,
        "rerun the calibrate command of docs/validation.md with -o validation/calibration/\(name).yaml"
      )
    }
  }

  @Test("docs/validation.md holds the current calibration transfer table")
  func transferTable() throws {
    var rows = [
      "| calibrated on | constants fitted | 512 H100 | 4,096 H100 | 10,752 H100 |",
      "|---|---|---|---|---|",
    ]
    rows.append(
      "| nothing (Hopper's constants) | — | "
        + (try Self.scales.map { try error($0, hardware: nil) }).joined(separator: " | ") + " |")
    let subsets = Self.scales.map { [$0] } + [[512, 4096], [512, 10752], [4096, 10752]]
    for subset in subsets {
      let out = temporary("transfer-\(subset.map(String.init).joined(separator: "-")).yaml")
      defer { try? FileManager.default.removeItem(atPath: out) }
      let r = runCLI(["calibrate"] + subset.flatMap(Self.run) + ["-o", out, "--format", "json"])
      #expect(r.code == 0, "\(r.stderr)")
      let doc = try #require(
        try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
      let constants = try #require(doc["constants"] as? [[String: Any]]).map {
        "\($0["name"] as? String ?? "?") \(String(format: "%.3f", $0["after"] as? Double ?? .nan))"
      }
      let cells = try Self.scales.map { gpus in
        try error(gpus, hardware: out) + (subset.contains(gpus) ? " (fitted)" : "")
      }
      rows.append(
        "| \(subset.map { Format.grouped($0) }.joined(separator: " + ")) | "
          + constants.joined(separator: ", ") + " | " + cells.joined(separator: " | ") + " |")
    }
    let table = rows.joined(separator: "\n")
    let doc = try String(contentsOfFile: rooted("docs/validation.md"), encoding: .utf8)
    #expect(doc.contains(table), "docs/validation.md's transfer table should read:\n\(table)")
  }
}
