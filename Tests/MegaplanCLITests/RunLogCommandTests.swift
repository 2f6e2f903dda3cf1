import Foundation
import Testing

@testable import MegaplanCLI

/// `explain-run`, `calibrate`, `check --against` and `--hardware` (issue 26), on the real logs of
/// Tests/MegatronPlanTests/Fixtures/logs (SOURCES.md there cites each).
@Suite struct RunLogCommandTests {
  static func log(_ name: String) -> String {
    rooted("Tests/MegatronPlanTests/Fixtures/logs/\(name)")
  }
  static let config512 = rooted("configs/mlperf31-gpt3-175b-512.yaml")
  static let log512 = log("mlperf31-gpt3-175b-512xH100.log")
  static let config4096 = rooted("configs/mlperf31-gpt3-175b-4096.yaml")
  static let log4096 = log("mlperf31-gpt3-175b-4096xH100.log")

  func temporary(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent(
      "megaplan-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
    ).path
  }

  @Test("explain-run prints the measured median against the plan, and its causes")
  func explainRun() {
    let r = runCLI(["explain-run", Self.config512, Self.log512])
    #expect(r.code == 0, "\(r.stderr)")
    // The excerpt's hand median (Tests/MegatronPlanTests/TrainingLogTests.swift):
    // (11.043867588043213 + 11.045635223388672) / 2 = 11.0448 s.
    #expect(r.stdout.contains("measured 11.045 s (median of 6 steady steps"))
    #expect(r.stdout.contains("Likely causes"))
    #expect(r.stdout.contains("1. fp8_gemm_efficiency 0.540 → "))
  }

  @Test("explain-run --format json: the documented fields")
  func explainRunJSON() throws {
    let r = runCLI(["explain-run", Self.config512, Self.log512, "--format", "json"])
    #expect(r.code == 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let time = try #require(object["time"] as? [String: Any])
    let measured = try #require(time["measured_seconds"] as? Double)
    #expect(abs(measured - (11.043867588043213 + 11.045635223388672) / 2) < 1e-9)
    #expect(time["steady_windows"] as? Int == 6 && time["warmup_windows"] as? Int == 3)
    let causes = try #require(object["causes"] as? [[String: Any]])
    #expect(causes.first?["kind"] as? String == "constant")
    #expect(causes.first?["name"] as? String == "fp8_gemm_efficiency")
    let logs = try #require(object["logs"] as? [[String: Any]])
    #expect(logs.first?["format"] as? String == "mlperf")
  }

  @Test("a bad log: one message naming the file and line, exit 64, nothing on stdout")
  func badLog() throws {
    let path = temporary("bad.log")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let text = try String(
      contentsOfFile: Self.log("fixstars-gpt7b-fp8-16xH100.log"), encoding: .utf8)
    var lines = text.components(separatedBy: "\n")
    lines[10] = String(lines[10].prefix(60)) + lines[11]
    try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    let config = rooted("Tests/MegatronPlanTests/Fixtures/logs/fixstars-gpt-6.4b-fp8-16gpu.yaml")
    for command in [
      ["explain-run", config, path], ["calibrate", config, path],
      ["check", config, "--against", path],
    ] {
      let r = runCLI(command)
      #expect(r.code == 64, "\(command[0])")
      #expect(r.stdout.isEmpty)
      #expect(r.stderr.hasPrefix("\(path):11:"), "\(r.stderr)")
      #expect(r.stderr.contains("two iteration lines run together"))
    }
    let unknown = runCLI(["explain-run", config, Self.config512])
    #expect(unknown.code == 64)
    #expect(unknown.stderr.contains("\(Self.config512):1:1: error: not a training log"))
  }

  @Test("calibrate -o writes a profile every command reads with --hardware")
  func calibrateAndHardware() throws {
    let out = temporary("cluster.yaml")
    defer { try? FileManager.default.removeItem(atPath: out) }
    let r = runCLI(["calibrate", Self.config512, Self.log512, "-o", out])
    #expect(r.code == 0, "\(r.stderr)")
    #expect(r.stdout.contains("fp8_gemm_efficiency"))
    #expect(r.stdout.contains("exactly determined"))
    let profile = try String(contentsOfFile: out, encoding: .utf8)
    #expect(
      profile.contains("megaplan:\n  hardware:\n    base: h100-sxm\n    fp8_gemm_efficiency: "))
    // The 512-GPU plan with the profile is the measurement; the 4,096-GPU one moves toward its
    // log (the transfer docs/validation.md shows).
    let fitted = runCLI([
      "explain-run", Self.config512, Self.log512, "--hardware", out, "--format", "json",
    ])
    let doc = try #require(
      try JSONSerialization.jsonObject(with: Data(fitted.stdout.utf8)) as? [String: Any])
    let error = try #require((doc["time"] as? [String: Any])?["error"] as? Double)
    #expect(abs(error) < 1e-4)
    for command in ["estimate", "compare", "check", "config", "serve", "search"] {
      #expect(
        CLI.commands.first { $0.name == command }?.options.contains { $0.name == "--hardware" }
          == true, "\(command)")
    }
    let estimate = runCLI(["estimate", Self.config4096, "--hardware", out])
    #expect(estimate.code == 0 && estimate.stdout.contains("H100 SXM5 80GB (calibrated)"))
  }

  @Test("calibrate refuses more constants than the logs determine, and unknown ones")
  func calibrateRefusals() {
    let two = runCLI(["calibrate", Self.config512, Self.log512, "--fit", "fp8-gemm,network"])
    #expect(two.code == 64 && two.stdout.isEmpty)
    #expect(two.stderr.contains("which determine at most 1"))
    let typo = runCLI(["calibrate", Self.config512, Self.log512, "--fit", "netwrk"])
    #expect(typo.code == 64 && typo.stderr.contains("did you mean 'network'?"))
    let noLog = runCLI(["calibrate", Self.config512, Self.config4096, Self.log4096])
    #expect(noLog.code == 64 && noLog.stderr.contains("has no LOG after it"))
  }

  @Test("check --against passes within the tolerance and fails outside it")
  func checkAgainst() {
    // 512 GPUs: measured 11.0448 s, planned 10.69 s, 3.3 % apart.
    let pass = runCLI(["check", Self.config512, "--against", Self.log512, "--tolerance", "5%"])
    #expect(pass.code == 0, "\(pass.stdout)\(pass.stderr)")
    #expect(pass.stdout.hasPrefix("ok   "))
    let fail = runCLI(["check", Self.config512, "--against", Self.log512, "--tolerance", "0.02"])
    #expect(fail.code == 1)
    #expect(fail.stdout.contains("FAIL step time: measured 11.045 s"))
    let github = runCLI([
      "check", Self.config512, "--against", Self.log512, "--tolerance", "1%", "--format", "github",
    ])
    #expect(github.code == 1)
    // The annotation points at the log's first steady step (line 31).
    #expect(github.stdout.contains("::error file=\(Self.log512),line=31,"))
    let percent = runCLI(["check", Self.config512, "--against", Self.log512, "--tolerance", "10"])
    #expect(percent.code == 64 && percent.stderr.contains("(10% is 0.1)"))
    let two = runCLI(["check", Self.config512, Self.config4096, "--against", Self.log512])
    #expect(two.code == 64 && two.stderr.contains("--against takes one CONFIG"))
  }

  @Test("check --against checks memory where the log reports it")
  func checkMemory() {
    let config = rooted("Tests/MegatronPlanTests/Fixtures/logs/fixstars-gpt-6.4b-fp8-16gpu.yaml")
    let r = runCLI([
      "check", config, "--against", Self.log("fixstars-gpt7b-fp8-16xH100.log"), "--tolerance",
      "10%",
    ])
    // The plan's allocator peak is above the reported 70,522.6 MiB by more than 10 %
    // (docs/validation.md): the memory line fails, the step time passes.
    #expect(r.code == 1)
    #expect(r.stdout.contains("  ok   step time"))
    #expect(r.stdout.contains("  FAIL memory of stage 0 (max allocated): measured 68.87 GiB"))
  }

  @Test("a --hardware file holds megaplan.hardware only, and its keys are checked")
  func hardwareFileErrors() throws {
    let path = temporary("hw.yaml")
    defer { try? FileManager.default.removeItem(atPath: path) }
    try "model:\n  num_layers: 2\n".write(toFile: path, atomically: true, encoding: .utf8)
    let r1 = runCLI(["estimate", Self.config512, "--hardware", path])
    #expect(
      r1.code == 64
        && r1.stderr.hasPrefix("\(path):1:1: error: a --hardware file holds one section"))
    try "megaplan:\n  hardware:\n    base: h100-sxm\n    fp8_gemm_eficiency: 0.5\n".write(
      toFile: path, atomically: true, encoding: .utf8)
    let r2 = runCLI(["estimate", Self.config512, "--hardware", path])
    #expect(r2.code == 64)
    #expect(
      r2.stderr.contains(
        "\(path):4:5: error: unknown key 'megaplan.hardware.fp8_gemm_eficiency'; did you mean 'fp8_gemm_efficiency'?"
      ))
    try "megaplan:\n  hardware:\n    base: h100-sxm\n    fp8_gemm_efficiency: 3\n".write(
      toFile: path, atomically: true, encoding: .utf8)
    let r3 = runCLI(["estimate", Self.config512, "--hardware", path])
    #expect(r3.code == 64 && r3.stderr.contains("fp8_gemm_efficiency must be a fraction"))
    // A profile of another GPU than the config's: it wins, with a warning.
    try "megaplan:\n  hardware:\n    base: b200\n".write(
      toFile: path, atomically: true, encoding: .utf8)
    let r4 = runCLI(["estimate", Self.config512, "--hardware", path])
    #expect(
      r4.code == 0
        && r4.stderr.contains(
          "megaplan.gpu 'h100-sxm' is replaced by the hardware profile's base 'b200'")
    )
  }

  @Test("explain-run's and calibrate's text (golden files)")
  func golden() {
    let explain = runCLI(["explain-run", Self.config4096, Self.log4096])
    assertSnapshot(relativized(explain.stdout), named: "explain-run-mlperf31-4096.txt")
    let calibrate = runCLI(["calibrate", Self.config512, Self.log512])
    assertSnapshot(relativized(calibrate.stdout), named: "calibrate-mlperf31-512.txt")
  }
}
