import Foundation
import Testing
@testable import MegaplanCLI

/// Issue 9 end to end: the fits rule in every command's output, `--nodes` on the file's node
/// size, `--objective gpus` with no count meeting the deadline, the GPU-count rule for scripts
/// and `--set` typos.
@Suite struct OneAnswerCLITests {
  static let launcher175B = "Tests/MegatronPlanTests/Fixtures/nemo-launcher/gpt3/175b.yaml"
  static let script175B = "Tests/MegatronPlanTests/Fixtures/megatron-lm/pretrain_gpt3_175B.sh"

  /// A small model on nodes of four GPUs.
  static func fourPerNode() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "megaplan-four-\(UUID().uuidString).yaml")
    try """
    trainer:
      num_nodes: 2
      devices: 4
    model:
      num_layers: 4
      hidden_size: 256
      num_attention_heads: 4
      encoder_seq_length: 128
      micro_batch_size: 1
      global_batch_size: 48
    megaplan:
      vocab_size: 1024
    """.write(to: url, atomically: true, encoding: .utf8)
    return url
  }

  @Test("compare's recommended layout passes check (the issue's two reproductions)")
  func compareThenCheck() throws {
    for args in [
      [rooted(Self.launcher175B), "--set", "model.micro_batch_size=2"],
      [rooted(Self.script175B), "--megatron-args"],
    ] {
      let compare = runCLI(["compare"] + args + ["--format", "json"])
      #expect(compare.code == 0, "\(compare.stderr)")
      let doc = try #require(
        try JSONSerialization.jsonObject(with: Data(compare.stdout.utf8)) as? [String: Any])
      let rows = try #require(doc["rows"] as? [[String: Any]])
      for row in rows {
        let memory = try #require(row["memory"] as? [String: Any])
        // The one rule: the device peak against the usable memory.
        let total = try #require(memory["peak_bytes"] as? Double)
        let usable = try #require(memory["usable_bytes"] as? Double)
        #expect(memory["fits"] as? Bool == (total <= usable))
      }
      // The recommended row, applied, passes check.
      if let best = rows.first(where: { $0["recommended"] as? Bool == true }),
        let layout = best["layout"] as? [String: Any]
      {
        var sets = ["model.sequence_parallel=\(layout["sequence_parallel"] as? Bool ?? false)"]
        if let r = layout["recompute"] as? String, r != "none" {
          sets.append("model.activations_checkpoint_granularity=\(r)")
        }
        let check = runCLI(["check"] + args + sets.flatMap { ["--set", $0] })
        #expect(check.code == 0, "\(check.stdout)")
        #expect(check.stdout.contains("usable (100% of "))
      }
    }
  }

  @Test("search --nodes 2 on a file of 4 GPUs per node lays out 8 GPUs and shows the count")
  func nodesUseFileDevices() throws {
    let file = try Self.fourPerNode()
    defer { try? FileManager.default.removeItem(at: file) }
    let r = runCLI(["search", file.path, "--nodes", "2", "--format", "json", "--top", "1"])
    #expect(r.code == 0, "\(r.stderr)")
    let doc = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    #expect(doc["gpu_counts"] as? [Int] == [8])
    let text = runCLI(["search", file.path, "--nodes", "2", "--top", "1"])
    #expect(text.stdout.contains("GPUs"))
  }

  @Test("search --emit-config keeps the file's devices per node and reproduces the row")
  func emitKeepsNodes() throws {
    let file = try Self.fourPerNode()
    let out = file.deletingPathExtension().appendingPathExtension("out.yaml")
    defer {
      try? FileManager.default.removeItem(at: file)
      try? FileManager.default.removeItem(at: out)
    }
    let search = runCLI([
      "search", file.path, "--gpus", "12", "--top", "1", "--format", "json", "--emit-config",
      out.path,
    ])
    #expect(search.code == 0, "\(search.stderr)")
    let emitted = try String(contentsOf: out, encoding: .utf8)
    // 12 GPUs on nodes of at most 4: 3 × 4 (by hand).
    #expect(emitted.contains("  num_nodes: 3\n  devices: 4\n"))
    let again = runCLI(["estimate", out.path, "--format", "json"])
    let a = try #require(
      try JSONSerialization.jsonObject(with: Data(search.stdout.utf8)) as? [String: Any])
    let b = try #require(
      try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
    let row = try #require((a["candidates"] as? [[String: Any]])?.first)
    let rowMemory = (row["memory"] as? [String: Any])?["total_bytes"] as? Double
    let fileMemory = (b["memory"] as? [String: Any])?["total_bytes"] as? Double
    #expect(rowMemory != nil && rowMemory == fileMemory)
    let rowTime = (row["time"] as? [String: Any])?["iteration_seconds"] as? Double
    let fileTime = (b["time"] as? [String: Any])?["iteration_seconds"] as? Double
    #expect(rowTime != nil && rowTime == fileTime)
  }

  @Test("search --objective gpus exits 1 when no GPU count meets --max-days")
  func gpusObjectiveUnmet() {
    let r = runCLI([
      "search", rooted("configs/k22-175b.yaml"), "--objective", "gpus", "--max-days", "0.0001",
      "--set", "megaplan.train_tokens=300e9", "--top", "2",
    ])
    #expect(r.code == 1)
    #expect(r.stdout.contains("meets the deadline"))
  }

  @Test("a script with no GPU count exits 64 asking for --gpus; --gpus reads it")
  func scriptWithoutCount() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "megaplan-nocount-\(UUID().uuidString).sh")
    defer { try? FileManager.default.removeItem(at: url) }
    try
      "python pretrain_gpt.py --num-layers 4 --hidden-size 256 --num-attention-heads 4 --seq-length 128 --micro-batch-size 1 --global-batch-size 64 --vocab-size 1024 --bf16\n"
      .write(to: url, atomically: true, encoding: .utf8)
    let r = runCLI(["estimate", url.path, "--megatron-args"])
    #expect(r.code == 64)
    #expect(r.stderr.contains("give the GPU count with --gpus"))
    #expect(runCLI(["estimate", url.path, "--megatron-args", "--gpus", "8"]).code == 0)
    #expect(runCLI(["search", url.path, "--megatron-args", "--gpus", "8", "--top", "1"]).code == 0)
  }

  @Test("--set with a misspelled key exits 64 with the suggestion")
  func setTypo() {
    let r = runCLI(["estimate", rooted("configs/k22-175b.yaml"), "--set", "model.hiden_size=4"])
    #expect(r.code == 64)
    #expect(r.stderr.contains("did you mean 'model.hidden_size'?"))
  }
}
