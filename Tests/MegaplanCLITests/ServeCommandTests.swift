import Foundation
import Testing
@testable import MegaplanCLI

/// `megaplan serve` in-process: formats, options, targets and errors.
@Suite struct ServeCommandTests {
  func json(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
  }

  @Test("serve configs/llama3-8b.yaml prints one row per default batch and exits 0")
  func text() {
    let r = runCLI(["serve", rooted("configs/llama3-8b.yaml")])
    #expect(r.code == 0, "\(r.stderr)")
    #expect(r.stdout.contains("H100 SXM5 80GB, weights bf16, KV cache bf16"))
    // Six default batches: 1, 8, 32, 64, 128, 256.
    let rows = r.stdout.split(separator: "\n").filter { $0.contains("1024/256") }
    #expect(rows.count == 6)
  }

  // Llama 3 8B (32 layers, 8 KV heads of 128), 1,000 + 24 tokens = 64 blocks of 16, batch 4,
  // bf16: KV = 2 · 32 · 8 · 128 · 1024 · 4 · 2 = 536,870,912 bytes on one GPU (hand).
  @Test("JSON rows carry the documented keys; KV bytes match the hand count")
  func jsonRows() throws {
    let r = runCLI([
      "serve", rooted("configs/llama3-8b.yaml"), "--input", "1000", "--output", "24", "--batch",
      "4", "--tensor", "1", "--pipeline", "1", "--format", "json",
    ])
    #expect(r.code == 0, "\(r.stderr)")
    let doc = try #require(json(r.stdout))
    let rows = try #require(doc["rows"] as? [[String: Any]])
    let row = try #require(rows.first)
    #expect(row["batch"] as? Int == 4)
    #expect(row["input"] as? Int == 1000)
    #expect(row["output"] as? Int == 24)
    let layout = try #require(row["layout"] as? [String: Any])
    #expect(layout["gpus"] as? Int == 1)
    #expect(layout["tensor"] as? Int == 1)
    #expect(layout["pipeline"] as? Int == 1)
    let memory = try #require(row["memory"] as? [String: Any])
    #expect(memory["kv_cache_bytes"] as? Double == 536_870_912)
    for key in ["weights_bytes", "activations_bytes", "total_bytes", "capacity_bytes", "fits"] {
      #expect(memory[key] != nil, "memory.\(key)")
    }
    let latency = try #require(row["latency"] as? [String: Any])
    for key in ["ttft_seconds", "tpot_seconds", "end_to_end_seconds"] {
      #expect(latency[key] != nil, "latency.\(key)")
    }
    let throughput = try #require(row["throughput"] as? [String: Any])
    for key in ["tokens_per_second", "tokens_per_second_per_gpu"] {
      #expect(throughput[key] != nil, "throughput.\(key)")
    }
  }

  @Test("JSON output is byte-stable")
  func stable() {
    let args = ["serve", rooted("configs/llama3-70b.yaml"), "--format", "json"]
    #expect(runCLI(args).stdout == runCLI(args).stdout)
  }

  @Test("csv and markdown have a header and one line per batch")
  func tables() {
    let base = ["serve", rooted("configs/llama3-8b.yaml"), "--batch", "1,2,3"]
    let csv = runCLI(base + ["--format", "csv"])
    #expect(csv.code == 0)
    #expect(csv.stdout.split(separator: "\n").count == 4)
    #expect(csv.stdout.hasPrefix("batch,input,output,gpus,tensor,pipeline,"))
    let md = runCLI(base + ["--format", "markdown"])
    #expect(md.stdout.split(separator: "\n").count == 5)
  }

  // Llama 3 70B in bf16 is 141 GB of weights: more than one 80 GB H100, so at least two GPUs.
  @Test("Llama 3 70B needs more than one H100; a fixed t = 1, p = 1 does not fit and exits 1")
  func seventy() {
    let r = runCLI(["serve", rooted("configs/llama3-70b.yaml"), "--batch", "1", "--format", "csv"])
    #expect(r.code == 0)
    let fields = r.stdout.split(separator: "\n").last?.split(separator: ",") ?? []
    #expect(fields.count > 3 && (Int(fields[3]) ?? 0) >= 2)
    let fixed = runCLI([
      "serve", rooted("configs/llama3-70b.yaml"), "--batch", "1", "--tensor", "1", "--pipeline",
      "1",
    ])
    #expect(fixed.code == 1)
  }

  // A 1 ms end-to-end target cannot be met by any layout for 256 output tokens.
  @Test("an unreachable latency target is reported and exits 1; a loose one is met")
  func targets() {
    let tight = runCLI([
      "serve", rooted("configs/llama3-8b.yaml"), "--batch", "1", "--max-latency-ms", "1",
      "--format", "json",
    ])
    #expect(tight.code == 1)
    #expect(tight.stdout.contains("\"meets_target\" : false"))
    let loose = runCLI([
      "serve", rooted("configs/llama3-8b.yaml"), "--batch", "1", "--max-latency-ms", "1e6",
    ])
    #expect(loose.code == 0)
  }

  @Test(
    "bad option values are usage errors (exit 64) that name the option",
    arguments: [
      (["--batch", "0"], "--batch"), (["--batch", "1,x"], "--batch"),
      (["--precision", "int3"], "--precision"), (["--kv-precision", "fp4"], "--kv-precision"),
      (["--tensor", "3"], "tensor parallel size 3"),
      (["--gpu-memory-utilization", "1.5"], "--gpu"),
      (["--input", "-1"], "--input"),
    ])
  func usage(_ extra: [String], _ mention: String) {
    let r = runCLI(["serve", rooted("configs/llama3-8b.yaml")] + extra)
    #expect(r.code == 64, "\(extra)")
    #expect(r.stderr.contains(mention), "\(extra): \(r.stderr)")
  }

  @Test("serve reads --hf-config alone, as estimate does")
  func huggingFace() {
    let hf = rooted("Tests/MegatronPlanTests/Fixtures/hf/gemma-2-9b.json")
    let r = runCLI(["serve", "--hf-config", hf, "--batch", "1"])
    #expect(r.code == 0, "\(r.stderr)")
    #expect(r.stdout.contains("megaplan serve:"))
  }

  // GPT-2's learned position table has 1,024 rows: 1,024 + 256 tokens do not fit it.
  @Test("input + output beyond a learned position table is a usage error")
  func positions() {
    let hf = rooted("Tests/MegatronPlanTests/Fixtures/hf/gpt2.json")
    let r = runCLI(["serve", "--hf-config", hf, "--batch", "1"])
    #expect(r.code == 64)
    #expect(r.stderr.contains("max_position_embeddings 1024"), "\(r.stderr)")
  }

  /// Issue 28: a rotary model's context is its max_position_embeddings (Llama 3 8B: 8,192, the
  /// model card's context length): a 100k prompt is refused with what to change, exactly the
  /// context is served.
  @Test("input + output beyond a rotary model's context is a usage error naming the fix")
  func rotaryContext() {
    let file = rooted("configs/llama3-8b.yaml")
    let long = runCLI(["serve", file, "--input", "100000", "--batch", "1"])
    #expect(long.code == 64 && long.stdout.isEmpty)
    #expect(
      long.stderr.contains(
        "100256 tokens exceeds the model's context, max_position_embeddings 8192"), "\(long.stderr)"
    )
    #expect(long.stderr.contains("--set model.max_position_embeddings=N"))
    let exact = runCLI(["serve", file, "--input", "7936", "--output", "256", "--batch", "1"])
    #expect(exact.code == 0, "\(exact.stderr)")
  }
}

/// Serving an MoE config: the bundled Mixtral files, in text and JSON, with the expert keys.
@Suite struct ServeMoECommandTests {
  @Test("serve configs/mixtral-8x7b.yaml sizes the experts and names their split")
  func mixtralText() {
    let r = runCLI(["serve", rooted("configs/mixtral-8x7b.yaml"), "--batch", "1,64"])
    #expect(r.code == 0, "\(r.stderr)")
    #expect(r.stdout.contains("experts: 8 per MoE layer, top-2; EP 1 × ETP"))
    #expect(
      r.stdout.split(separator: "\n").filter { $0.hasPrefix("    1 ") || $0.hasPrefix("   64 ") }
        .count == 2)
  }

  @Test("JSON: expert layout, expert weights and the experts a step reads, null for dense")
  func mixtralJSON() throws {
    let r = runCLI([
      "serve", rooted("configs/mixtral-8x7b.yaml"), "--tensor", "2", "--pipeline", "1",
      "--batch", "1", "--format", "json",
    ])
    #expect(r.code == 0, "\(r.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let row = try #require((object["rows"] as? [[String: Any]])?.first)
    let layout = try #require(row["layout"] as? [String: Any])
    #expect(layout["expert_parallel"] as? Int == 1 && layout["expert_tensor_parallel"] as? Int == 2)
    #expect(layout["experts_per_gpu"] as? Int == 8)
    // Hand count (config.json of Mixtral 8x7B): 32 layers × 8 experts × 3 · 4096 · 14336
    // weights / t 2 × 2 bytes = 45,097,156,608 bytes of experts per GPU.
    let memory = try #require(row["memory"] as? [String: Any])
    #expect(memory["expert_weights_bytes"] as? Double == 45_097_156_608)
    // One token picks 2 of the 8 experts: 2 read per layer.
    #expect((row["latency"] as? [String: Any])?["experts_read_per_layer"] as? Double == 2)
    // expert roofline ridge = dense ridge × E/k = 4 ×.
    let dense = try #require(object["roofline_crossover_batch"] as? Double)
    let expert = try #require(object["expert_roofline_crossover_batch"] as? Double)
    #expect(abs(expert - 4 * dense) <= 1e-9 * expert)
    // A dense model writes null for every expert key.
    let llama = runCLI([
      "serve", rooted("configs/llama3-8b.yaml"), "--batch", "1", "--format", "json",
    ])
    #expect(llama.stdout.contains("\"expert_parallel\" : null"))
    #expect(llama.stdout.contains("\"expert_roofline_crossover_batch\" : null"))
    #expect(llama.stdout.contains("\"experts_read_per_layer\" : null"))
  }

  @Test(
    "--expert-parallel: a dense model, or an EP neither dividing t nor a multiple of it, is a usage error"
  )
  func expertParallelErrors() {
    let dense = runCLI(["serve", rooted("configs/llama3-8b.yaml"), "--expert-parallel", "2"])
    #expect(dense.code == 64 && dense.stdout.isEmpty)
    #expect(dense.stderr.contains("needs a mixture-of-experts model"))
    let odd = runCLI([
      "serve", rooted("configs/mixtral-8x7b.yaml"), "--tensor", "4", "--expert-parallel", "6",
    ])
    #expect(odd.code == 64 && odd.stderr.contains("neither divides tensor parallel size 4"))
  }
}

/// Serving ignores the training layout: neither the training file's node size nor a launch
/// template's missing or impossible GPU count limits it.
@Suite struct ServeTrainingLayoutTests {
  @Test("a training file of one GPU per node still serves with t up to the hardware's node")
  func nodeFromHardware() throws {
    // Llama 3 70B's 141 GB of bf16 weights need 2 H100s; on 1-GPU nodes the training file's
    // node would allow only t = 1 (then p = 2); the H100 profile's node of 8 allows t = 2.
    let r = runCLI([
      "serve", rooted("configs/llama3-70b.yaml"), "--set", "trainer.devices=1", "--set",
      "trainer.num_nodes=32", "--batch", "1", "--format", "json",
    ])
    #expect(r.code == 0, "\(r.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    let layout = try #require(
      (object["rows"] as? [[String: Any]])?.first?["layout"] as? [String: Any])
    #expect(layout["tensor"] as? Int == 2 && layout["pipeline"] as? Int == 1)
  }

  @Test("a launch script without a GPU count, or with an impossible one, serves")
  func scriptGPUCount() throws {
    let template = runCLI([
      "serve", "--megatron-args",
      rooted("Tests/MegatronPlanTests/Fixtures/megatron-lm/train_gpt3_175b_distributed.sh"),
      "--batch", "1",
    ])
    #expect(template.code == 0, "\(template.stderr)")
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let script = dir.appendingPathComponent("nogpus.sh")
    try """
    torchrun pretrain_gpt.py --num-layers 4 --hidden-size 512 --num-attention-heads 8 \\
      --seq-length 1024 --max-position-embeddings 2048 --micro-batch-size 1 \\
      --global-batch-size 8 --tensor-model-parallel-size 2 --vocab-size 32000 --bf16

    """.write(to: script, atomically: true, encoding: .utf8)
    #expect(runCLI(["estimate", "--megatron-args", script.path]).code == 64)
    let served = runCLI(["serve", "--megatron-args", script.path, "--batch", "1"])
    #expect(served.code == 0 && served.stdout.contains("1024/256"), "\(served.stderr)")
  }
}
