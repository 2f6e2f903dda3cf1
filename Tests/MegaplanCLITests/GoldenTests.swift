import Foundation
import Testing
@testable import MegaplanCLI

/// Golden outputs under Snapshots/ (re-record with MEGAPLAN_RECORD=1; a recording run fails).
/// The error goldens were read line by line when recorded: each names the file, line and
/// column, the key, the value and the rule, with a caret under the value.
@Suite struct GoldenTests {
  static let malformed: [String] = {
    let dir = packageRoot.appendingPathComponent("Tests/MegaplanCLITests/Snapshots/malformed").path
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
      $0.hasSuffix(".yaml")
    }.sorted()
  }()

  @Test("malformed inputs: exit 64 and the golden message with its location", arguments: malformed)
  func malformedInput(_ name: String) {
    let path = "Tests/MegaplanCLITests/Snapshots/malformed/\(name)"
    let r = runCLI(["estimate", rooted(path)])
    #expect(r.code == 64)
    #expect(r.stdout.isEmpty)
    assertSnapshot(
      relativized(r.stderr),
      named: "malformed/\(name.replacingOccurrences(of: ".yaml", with: ".txt"))")
  }

  @Test("end to end: estimate on a bundled config, text and JSON, against golden outputs")
  func estimate() {
    let text = runCLI(
      ["estimate", "configs/gpt3-175b-1024gpu.yaml"].map {
        $0.hasPrefix("configs/") ? rooted($0) : $0
      })
    #expect(text.code == 0 && text.stderr.isEmpty)
    assertSnapshot(relativized(text.stdout), named: "estimate-gpt3-175b-1024gpu.txt")
    let json = runCLI(["estimate", rooted("configs/k22-175b.yaml"), "--format", "json"])
    #expect(json.code == 0)
    assertSnapshot(relativized(json.stdout), named: "estimate-k22-175b.json")
  }

  @Test("help and version")
  func help() {
    let main = runCLI(["--help"])
    #expect(main.code == 0)
    assertSnapshot(main.stdout, named: "help.txt")
    let estimate = runCLI(["estimate", "--help"])
    #expect(estimate.code == 0)
    assertSnapshot(estimate.stdout, named: "help-estimate.txt")
    #expect(runCLI(["--version"]).stdout == "megaplan \(CLI.version)\n")
  }
}
