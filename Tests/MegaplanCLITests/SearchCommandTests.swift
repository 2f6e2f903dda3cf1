import Foundation
import Testing
@testable import MegaplanCLI

@Suite struct SearchCommandTests {
  @Test(
    "search finds a layout at least as fast as K22's for the 22B model and emits a config that estimates the same"
  )
  func emitRoundTrip() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "megaplan-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("best.yaml")
    let search = runCLI([
      "search", rooted("configs/k22-22b.yaml"), "--format", "json", "--emit-config", out.path,
    ])
    #expect(search.code == 0, "\(search.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(search.stdout.utf8)) as? [String: Any]
    let candidates = object?["candidates"] as? [[String: Any]] ?? []
    let best = try #require(candidates.first)
    let bestTime = ((best["time"] as? [String: Any])?["iteration_seconds"] as? Double) ?? .nan
    // The published layout's own estimate.
    let published = runCLI(["estimate", rooted("configs/k22-22b.yaml"), "--format", "json"])
    let publishedObject =
      try JSONSerialization.jsonObject(with: Data(published.stdout.utf8)) as? [String: Any]
    let publishedTime =
      ((publishedObject?["time"] as? [String: Any])?["iteration_seconds"] as? Double) ?? .nan
    #expect(bestTime <= publishedTime)
    // The emitted YAML reads back to the same numbers.
    let again = runCLI(["estimate", out.path, "--format", "json"])
    #expect(again.code == 0, "\(again.stderr)")
    let againObject =
      try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
    #expect(((againObject?["time"] as? [String: Any])?["iteration_seconds"] as? Double) == bestTime)
    #expect((againObject?["layout"] as? NSDictionary) == (best["layout"] as? NSDictionary))
    #expect((object?["evaluated"] as? Int ?? 0) >= (object?["feasible"] as? Int ?? 0))
  }

  @Test("text output names the winner's advantage; nothing feasible exits 1")
  func textAndInfeasible() {
    let text = runCLI(["search", rooted("configs/k22-175b.yaml"), "--top", "3"])
    #expect(text.code == 0)
    #expect(text.stdout.contains("evaluated") && text.stdout.contains("why #1 beats #2"))
    let none = runCLI(["search", rooted("configs/k22-175b.yaml"), "--gpus", "8"])
    #expect(none.code == 1)
    #expect(none.stdout.contains("no layout fits"))
    let bad = runCLI(["search", rooted("configs/k22-175b.yaml"), "--recompute", "ful"])
    #expect(bad.code == 64 && bad.stderr.contains("did you mean 'full'"))
  }
}
