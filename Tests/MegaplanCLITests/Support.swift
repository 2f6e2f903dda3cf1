import Foundation
import Testing
@testable import MegaplanCLI

/// Runs the CLI in-process from the package root, so relative paths like `configs/k22-175b.yaml`
/// resolve as they do for a user.
func runCLI(_ args: [String]) -> (code: Int32, stdout: String, stderr: String) {
  let io = CLIOutput()
  let code = CLI.run(args, io: io)
  return (code, io.stdout, io.stderr)
}

/// The package root (two levels above this file's folder).
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent()

/// Paths given to the CLI are relative to the package root.
func rooted(_ path: String) -> String { packageRoot.appendingPathComponent(path).path }

/// Golden files under Tests/MegaplanCLITests/Snapshots. Set MEGAPLAN_RECORD=1 to re-record; a
/// recording run fails on purpose so it can never pass silently.
func assertSnapshot(
  _ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation
) {
  let url = packageRoot.appendingPathComponent("Tests/MegaplanCLITests/Snapshots/\(name)")
  if ProcessInfo.processInfo.environment["MEGAPLAN_RECORD"] != nil {
    try? FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try? actual.write(to: url, atomically: true, encoding: .utf8)
    Issue.record(
      "recorded snapshot \(name); unset MEGAPLAN_RECORD and run again",
      sourceLocation: sourceLocation)
    return
  }
  guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
    Issue.record(
      "missing snapshot \(name); run with MEGAPLAN_RECORD=1 to record it",
      sourceLocation: sourceLocation)
    return
  }
  #expect(
    actual == expected, "output differs from Snapshots/\(name)", sourceLocation: sourceLocation)
}

/// The CLI prints paths as given; golden files hold them relative to the package root.
func relativized(_ text: String) -> String {
  text.replacingOccurrences(of: packageRoot.path + "/", with: "")
}
