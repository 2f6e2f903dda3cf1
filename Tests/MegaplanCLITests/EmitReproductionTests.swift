import Foundation
import Testing

@testable import MegaplanCLI

/// `search --emit-config` must reproduce the search row exactly (issue 9): for MoE files with
/// expert parallelism, for a fully sharded run, and with the command line's `--set`, `--gpu` and
/// `--max-memory-fraction`, which the file then carries.
@Suite struct EmitReproductionTests {
  /// The first candidate of `search … --format json --emit-config OUT` and OUT's own estimate.
  static func searchAndReestimate(_ args: [String]) throws -> (
    row: [String: Any], file: [String: Any], emitted: String
  ) {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("winner.yaml").path
    let search = runCLI(
      ["search"] + args + ["--top", "1", "--format", "json", "--emit-config", out])
    try #require(search.code == 0, "\(search.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(search.stdout.utf8)) as? [String: Any])
    let row = try #require((object["candidates"] as? [[String: Any]])?.first)
    let again = runCLI(["estimate", out, "--format", "json"])
    try #require(again.code == 0, "\(again.stderr)")
    let file = try #require(
      try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
    return (row, file, try String(contentsOfFile: out, encoding: .utf8))
  }

  static func expectSame(_ row: [String: Any], _ file: [String: Any]) {
    for section in ["layout", "memory", "time", "throughput", "flops", "model"] {
      #expect(
        (row[section] as? NSDictionary) == (file[section] as? NSDictionary),
        "\(section) differs")
    }
  }

  @Test(
    "MoE files with expert parallelism: the emitted file loads and estimates to the row",
    arguments: ["configs/mixtral-8x7b.yaml", "configs/mixtral-8x22b.yaml"])
  func moe(_ path: String) throws {
    let (row, file, _) = try Self.searchAndReestimate([rooted(path)])
    Self.expectSame(row, file)
  }

  @Test("a fully sharded file stays fully sharded in the search and its emitted file")
  func fullySharded() throws {
    let (row, file, emitted) = try Self.searchAndReestimate([
      rooted("configs/llama3-8b.yaml"),
      "--set", "model.data_parallel_sharding_strategy=optim_grads_params",
    ])
    #expect((row["layout"] as? [String: Any])?["fully_sharded"] as? Bool == true)
    #expect(emitted.contains("  data_parallel_sharding_strategy: optim_grads_params\n"))
    Self.expectSame(row, file)
  }

  @Test("--set, --gpu and --max-memory-fraction are written into the emitted file")
  func overridesWritten() throws {
    let (row, file, emitted) = try Self.searchAndReestimate([
      rooted("configs/k22-22b.yaml"), "--gpu", "h100-sxm", "--max-memory-fraction", "0.9",
      "--set", "megaplan.train_tokens=1e9",
    ])
    #expect(emitted.contains("  gpu: 'h100-sxm'\n"))
    #expect(emitted.contains("  max_memory_fraction: 0.9\n"))
    #expect(emitted.contains("  train_tokens: 1e9\n"))
    Self.expectSame(row, file)
    #expect((file["memory"] as? [String: Any])?["usable_fraction"] as? Double == 0.9)
  }

  @Test("a launch script whose own GPU count cannot hold t × p asks for --gpus")
  func scriptGPUCountNote() {
    let r = runCLI([
      "estimate", "--megatron-args",
      rooted("Tests/MegatronPlanTests/Fixtures/megatron-lm/train_gpt3_175b_distributed.sh"),
    ])
    #expect(r.code == 64 && r.stdout.isEmpty)
    #expect(r.stderr.contains("8 GPUs (num_nodes × devices) are not divisible by"))
    #expect(r.stderr.contains("note: give the GPU count with --gpus"))
  }
}
