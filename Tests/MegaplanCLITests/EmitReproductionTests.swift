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

  @Test(
    "Hydra overrides after FILE go into the emitted NeMo file: a list as a list, ~ drops the key")
  func hydraOverridesWritten() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("run.yaml")
    try """
    trainer:
      devices: 8
    model:
      num_layers: 4
      hidden_size: 512
      num_attention_heads: 8
      encoder_seq_length: 1024
      micro_batch_size: 1
      global_batch_size: 64
      activations_checkpoint_granularity: selective
      recompute_modules:
      - core_attn
      hidden_dropout: 0.0
    megaplan:
      vocab_size: 1024
      gpu: h100-sxm

    """.write(to: file, atomically: true, encoding: .utf8)
    let (row, estimate, emitted) = try Self.searchAndReestimate([
      file.path, "--recompute", "selective", "model.recompute_modules=[core_attn,mlp]",
      "~model.hidden_dropout",
    ])
    Self.expectSame(row, estimate)
    #expect(emitted.contains("  recompute_modules: [core_attn,mlp]\n"))
    #expect(!emitted.contains("- core_attn"))
    #expect(!emitted.contains("hidden_dropout"))
  }

  /// A Megatron-Bridge FILE's winner: an override YAML of the fields that change, which
  /// `estimate FILE OUT` merges over FILE to the row.
  static func searchBridge(_ file: String, _ args: [String]) throws -> (
    row: [String: Any], file: [String: Any], emitted: String
  ) {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("winner.yaml").path
    let search = runCLI(
      ["search", file] + args + ["--top", "1", "--format", "json", "--emit-config", out])
    try #require(search.code == 0, "\(search.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(search.stdout.utf8)) as? [String: Any])
    let row = try #require((object["candidates"] as? [[String: Any]])?.first)
    let again = runCLI(["estimate", file, out, "--format", "json"])
    try #require(again.code == 0, "\(again.stderr)")
    let estimate = try #require(
      try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
    return (row, estimate, try String(contentsOfFile: out, encoding: .utf8))
  }

  @Test("a Bridge FILE's winner as a Bridge override: only what changes, merged back to the row")
  func bridge() throws {
    // 64 GPUs instead of the file's 32: d > 1, where Bridge's comm_overlap would turn the
    // data-parallel overlaps on that the row (the file's, off at d 1) leaves off: they are pinned.
    let (row, file, emitted) = try Self.searchBridge(
      rooted("configs/bridge-llama3-70b.yaml"), ["--gpus", "64", "train.global_batch_size=1024"])
    Self.expectSame(row, file)
    #expect(emitted.hasPrefix("# megaplan search: the winner for "))
    #expect(emitted.contains("\ntrain:\n  global_batch_size: 1024\n"))
    #expect(emitted.contains("\nmegaplan:\n  num_gpus: 64\n"))
    #expect(emitted.contains("  overlap_grad_reduce: false\n"))
    // Nothing the winner keeps: the model's shape is not repeated.
    #expect(!emitted.contains("num_layers"))
    // An MoE file with expert parallelism.
    let (moeRow, moeFile, moeEmitted) = try Self.searchBridge(
      rooted("configs/bridge-qwen3-30b-a3b.yaml"), ["--gpus", "16"])
    Self.expectSame(moeRow, moeFile)
    #expect(moeEmitted.contains("num_gpus: 16"))
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
