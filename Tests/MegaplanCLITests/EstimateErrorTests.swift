import Foundation
import Testing
@testable import MegaplanCLI

/// A minimal valid config; each bad-input case edits one line of it.
let validConfig = """
  trainer:
    num_nodes: 1
    devices: 8
  model:
    num_layers: 24
    hidden_size: 2048
    num_attention_heads: 16
    encoder_seq_length: 2048
    micro_batch_size: 2
    global_batch_size: 64
    tensor_model_parallel_size: 2
    pipeline_model_parallel_size: 2
  megaplan:
    vocab_size: 51200

  """

struct BadInput: CustomStringConvertible, Sendable {
  var name: String
  /// (line to replace, replacement) applied to `validConfig`, or a whole text.
  var text: String
  var args: [String] = []
  /// Fragments the one-line message must contain (the key, the value, the rule).
  var expected: [String]
  /// "line:column" the message must point at, when the problem has a place in the file.
  var at: String?
  var description: String { name }

  static func edit(_ name: String, _ old: String, _ new: String, expect: [String], at: String?)
    -> BadInput
  {
    BadInput(
      name: name, text: validConfig.replacingOccurrences(of: old, with: new), expected: expect,
      at: at)
  }
}

let badInputs: [BadInput] = [
  .edit(
    "missing required key", "  num_layers: 24\n", "",
    expect: ["missing required key", "model.num_layers"], at: nil),
  .edit(
    "wrong type", "micro_batch_size: 2", "micro_batch_size: four",
    expect: ["micro_batch_size", "'four'", "integer"], at: "9:21"),
  .edit(
    "zero size", "hidden_size: 2048", "hidden_size: 0", expect: ["hidden_size", "positive", "0"],
    at: "6:16"),
  .edit(
    "negative size", "num_layers: 24", "num_layers: -24",
    expect: ["num_layers", "positive", "-24"], at: "5:15"),
  .edit(
    "t does not divide heads", "tensor_model_parallel_size: 2", "tensor_model_parallel_size: 3",
    expect: ["tensor_model_parallel_size 3 does not divide num_attention_heads 16"], at: "11:31"),
  .edit(
    "p does not divide layers", "pipeline_model_parallel_size: 2",
    "pipeline_model_parallel_size: 5",
    expect: ["pipeline_model_parallel_size 5 does not divide num_layers 24"], at: "12:33"),
  .edit(
    "GPUs not divisible by t·p", "devices: 8", "devices: 6",
    expect: ["6 GPUs", "not divisible", "2 × 2"], at: nil),
  .edit(
    "global batch not divisible by b·d", "global_batch_size: 64", "global_batch_size: 66",
    expect: [
      "global_batch_size 66", "not divisible", "micro_batch_size × data-parallel size 2 × 2",
    ], at: "10:22"),
  .edit(
    "virtual stages without a pipeline", "pipeline_model_parallel_size: 2",
    "pipeline_model_parallel_size: 1\n  virtual_pipeline_model_parallel_size: 2",
    expect: ["virtual_pipeline_model_parallel_size 2 needs pipeline_model_parallel_size > 1"],
    at: "13:41"),
  .edit(
    "virtual stages not dividing layers per stage", "pipeline_model_parallel_size: 2",
    "pipeline_model_parallel_size: 2\n  virtual_pipeline_model_parallel_size: 5",
    expect: [
      "virtual_pipeline_model_parallel_size 5 does not divide the 12 layers per pipeline stage"
    ], at: "13:41"),
  .edit(
    "unknown GPU", "  vocab_size: 51200\n", "  vocab_size: 51200\n  gpu: a100-80gib\n",
    expect: ["unknown GPU 'a100-80gib'", "did you mean 'a100-80gb'"], at: "15:8"),
  .edit(
    "unknown recompute", "  pipeline_model_parallel_size: 2\n",
    "  pipeline_model_parallel_size: 2\n  activations_checkpoint_granularity: selectve\n",
    expect: ["activations_checkpoint_granularity 'selectve'", "did you mean 'selective'"],
    at: "13:39"),
  .edit("tab in indentation", "  num_layers: 24", "\tnum_layers: 24", expect: ["tab"], at: "5:1"),
  .edit(
    "duplicate key", "  hidden_size: 2048\n", "  hidden_size: 2048\n  hidden_size: 4096\n",
    expect: ["duplicate", "hidden_size"], at: "7:3"),
  .edit("unclosed quote", "vocab_size: 51200", "vocab_size: \"51200", expect: ["quote"], at: nil),
  .edit(
    "overflowing value", "num_layers: 24", "num_layers: 99999999999999999999999",
    expect: ["overflow"], at: "5:15"),
  .edit(
    "value too large to be sane", "num_layers: 24", "num_layers: 4294967296",
    expect: ["num_layers", "4294967296", "exceeds"], at: "5:15"),
  .edit(
    "NaN", "  vocab_size: 51200\n", "  vocab_size: 51200\n  train_tokens: .nan\n",
    expect: ["train_tokens", "finite"], at: "15:17"),
  .edit(
    "infinity", "  vocab_size: 51200\n", "  vocab_size: 51200\n  train_tokens: .inf\n",
    expect: ["train_tokens", "finite"], at: "15:17"),
  .edit(
    "float where an integer is needed", "micro_batch_size: 2", "micro_batch_size: 2.5",
    expect: ["micro_batch_size", "2.5", "integer"], at: "9:21"),
  .edit(
    "wrong type for a flag", "  pipeline_model_parallel_size: 2\n",
    "  pipeline_model_parallel_size: 2\n  sequence_parallel: maybe\n",
    expect: ["sequence_parallel", "'maybe'", "true or false"], at: "13:22"),
  BadInput(
    name: "absurd nesting",
    text: (0..<200).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")
      + "\n",
    expected: ["nest"], at: nil),
  BadInput(
    name: "absurd line length",
    text: "model:\n  x: " + String(repeating: "a", count: 200_000) + "\n", expected: ["long"],
    at: "2:1"),
  // Issue 28: a learned position table has max_position_embeddings rows (Megatron-LM asserts
  // max_position_embeddings ≥ seq_length); the message says what to raise.
  .edit(
    "sequence beyond a learned position table", "  encoder_seq_length: 2048\n",
    "  encoder_seq_length: 4096\n  max_position_embeddings: 2048\n",
    expect: [
      "encoder_seq_length 4096 exceeds max_position_embeddings 2048",
      "raise max_position_embeddings to at least 4096",
    ], at: "9:28"),
  // Issue 28: Megatron evaluates moe_layer_freq as a Python list expression; an unbalanced one
  // was read as if balanced.
  .edit(
    "unbalanced moe_layer_freq", "  num_layers: 24\n",
    "  num_layers: 24\n  num_moe_experts: 8\n  moe_layer_freq: \"(([0]*4+[1]*20)\"\n",
    expect: ["moe_layer_freq '(([0]*4+[1]*20)' has unbalanced parentheses"], at: "7:19"),
  // Issue 28: Megatron-Core requires the loss to be the last layer of the layout.
  .edit(
    "pipeline layout ending in m after the loss", "  num_layers: 24\n",
    "  num_layers: 24\n  pipeline_model_parallel_layout: \"Et*11|t*13Lm\"\n",
    expect: ["pipeline_model_parallel_layout 'Et*11|t*13Lm' must end with the loss L"],
    at: "6:35"),
  // Issue 24: GPT-OSS's sliding window, sinks and clamped GLU.
  .edit(
    "negative window", "  num_layers: 24\n", "  num_layers: 24\n  window_size: [-5, 0]\n",
    expect: ["window_size [-5, 0]", "left size must be -1 (no window) or at least 0"],
    at: "6:16"),
  .edit(
    "window attention skip frequency 0", "  num_layers: 24\n",
    "  num_layers: 24\n  window_size: [127, 0]\n  window_attn_skip_freq: 0\n",
    expect: ["window_attn_skip_freq must be a positive integer", "found 0"], at: "7:26"),
  .edit(
    "window pattern of the wrong length", "  num_layers: 24\n",
    "  num_layers: 24\n  window_size: [127, 0]\n  window_attn_skip_freq: \"[1,1,1,0]*5\"\n",
    expect: ["window_attn_skip_freq lists 20 entries", "num_layers is 24"], at: "7:26"),
  .edit(
    "unknown softmax type", "  num_layers: 24\n", "  num_layers: 24\n  softmax_type: learned\n",
    expect: ["softmax_type 'learned' is not one of vanilla, off-by-one, learnable"], at: "6:17"),
  .edit(
    "negative activation clamp", "  num_layers: 24\n",
    "  num_layers: 24\n  activation: swiglu\n  activation_func_clamp_value: -7\n",
    expect: ["activation_func_clamp_value must be a positive finite number", "-7"], at: "7:32"),
]

@Suite struct EstimateErrorTests {
  @Test(
    "bad input exits 64 with one message naming the problem and its place", arguments: badInputs)
  func badInput(_ bad: BadInput) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "megaplan-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("bad.yaml")
    try bad.text.write(to: file, atomically: true, encoding: .utf8)
    let result = runCLI(["estimate", file.path] + bad.args)
    #expect(result.code == 64)
    #expect(result.stdout.isEmpty)
    let first = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
    for fragment in bad.expected {
      #expect(first.contains(fragment), "'\(fragment)' not in: \(first)")
    }
    if let at = bad.at {
      #expect(first.hasPrefix("\(file.path):\(at): error:"), "expected \(at) in: \(first)")
    }
  }

  @Test("a missing file, a directory, an unknown option and a bad --set exit 64")
  func usageErrors() {
    let missing = runCLI(["estimate", "/nonexistent/megaplan.yaml"])
    #expect(missing.code == 64 && missing.stderr.contains("no such file") && missing.stdout.isEmpty)
    let directory = runCLI(["estimate", rooted("configs")])
    #expect(directory.code == 64 && directory.stderr.contains("directory"))
    let option = runCLI(["estimate", rooted("configs/k22-22b.yaml"), "--formt", "json"])
    #expect(
      option.code == 64 && option.stderr.contains("unknown option '--formt'")
        && option.stderr.contains("did you mean '--format'"))
    let format = runCLI(["estimate", rooted("configs/k22-22b.yaml"), "--format", "yaml"])
    #expect(format.code == 64 && format.stderr.contains("text, json"))
    let set = runCLI([
      "estimate", rooted("configs/k22-22b.yaml"), "--set", "model.tensor_model_parallel_size",
    ])
    #expect(set.code == 64 && set.stderr.contains("KEY=VALUE"))
    let setRule = runCLI([
      "estimate", rooted("configs/k22-22b.yaml"), "--set", "model.tensor_model_parallel_size=3",
    ])
    #expect(
      setRule.code == 64 && setRule.stderr.hasPrefix("--set:1:")
        && setRule.stderr.contains("does not divide num_attention_heads 64"))
    let command = runCLI(["estimat"])
    #expect(command.code == 64 && command.stderr.contains("did you mean 'estimate'"))
    let none = runCLI(["estimate"])
    #expect(none.code == 64 && none.stderr.contains("missing FILE"))
  }
}
