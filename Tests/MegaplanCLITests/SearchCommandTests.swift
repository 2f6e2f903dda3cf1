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

  /// Issue 28: Llama 3.1 405B's 126 layers on 16,384 GPUs: t·cp·p·d = 2^14 leaves p a power of
  /// two, none of which divides 126, so an even split has p ≤ 2 and nothing fits. Megatron-Core's
  /// uneven splits do: (126 + 2)/16 = 8 layers a stage with the embedding and the loss counted,
  /// (126 + 2)/32 = 4. The winner's emitted file estimates to the same row.
  @Test(
    "Llama 3.1 405B on 16,384 GPUs: uneven pipeline splits fit, and the emitted file reproduces the row"
  )
  func unevenSplitsFit() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("best.yaml").path
    let file = rooted("configs/llama3.1-405b.yaml")
    let even = runCLI(["search", file, "--gpus", "16384", "--pipeline-split", "even"])
    #expect(even.code == 1 && even.stdout.contains("no layout fits"))
    let r = runCLI(["search", file, "--gpus", "16384", "--format", "json", "--emit-config", out])
    #expect(r.code == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let best = try #require((object?["candidates"] as? [[String: Any]])?.first)
    let layout = try #require(best["layout"] as? [String: Any])
    let p = try #require(layout["pipeline"] as? Int)
    #expect(126 % p != 0 && (126 + 2) % p == 0, "p \(p)")
    let emitted = try String(contentsOfFile: out, encoding: .utf8)
    #expect(
      emitted.contains("account_for_embedding_in_pipeline_split: true")
        || emitted.contains("pipeline_model_parallel_layout:"))
    let again = runCLI(["estimate", out, "--format", "json"])
    #expect(again.code == 0, "\(again.stderr)")
    let againObject =
      try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
    let seconds = { (o: [String: Any]?) in
      (o?["time"] as? [String: Any])?["iteration_seconds"] as? Double
    }
    #expect(seconds(againObject) == seconds(best))
    let text = runCLI(["search", file, "--gpus", "16384", "--top", "1"])
    #expect(text.stdout.contains(" layers "), "\(text.stdout)")
    #expect(text.stdout.contains("#1 split the 126 layers"))
  }

  /// Issue 28: nothing fitting said only "no layout fits". Llama 3 8B's states alone are
  /// 16 bytes a parameter (2 weights, 4 fp32 gradients, 12 Adam and master) = 128 GB on one
  /// 80 GB GPU: the report says what it tried, the nearest miss and a change that fits.
  @Test("nothing fits: what was tried, the nearest miss and what would fit")
  func noFitExplained() throws {
    let r = runCLI(["search", rooted("configs/llama3-8b.yaml"), "--gpus", "1"])
    #expect(r.code == 1)
    #expect(r.stdout.contains("no layout fits"))
    #expect(r.stdout.contains("tried: 1 GPUs, t 1, cp every size"), "\(r.stdout)")
    #expect(r.stdout.contains("no full sharding (the file's; --fully-sharded any tries it)"))
    let miss = try #require(
      r.stdout.components(separatedBy: "\n").first { $0.contains("nearest miss:") })
    #expect(miss.contains("t1 cp1 p1 d1") && miss.contains("over the 79.65 GiB usable"), "\(miss)")
    #expect(
      r.stdout.contains("fits on 2 GPUs (--gpus 2, 2× these)")
        || r.stdout.contains("fits on 4 GPUs"))
    let json = runCLI([
      "search", rooted("configs/llama3-8b.yaml"), "--gpus", "1", "--format", "json",
    ])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let noFit = try #require(object?["no_fit"] as? [String: Any])
    #expect(noFit["nearest"] is [String: Any] && noFit["tried"] is String)
    #expect(!((noFit["fixes"] as? [[String: Any]]) ?? []).isEmpty)
  }
}
