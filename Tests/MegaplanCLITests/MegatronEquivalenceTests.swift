import Foundation
import Testing
@testable import MegaplanCLI

@Suite struct MegatronEquivalenceTests {
  /// The bundled configs/gpt3-175b-1024gpu.yaml written as a Megatron-LM launch script: SLURM
  /// node count, variables, an array, a quoted options string with line continuations, both
  /// `--flag value` and `--flag=value`. 146,484,375 samples × 2,048 tokens = 300e9 tokens.
  static let script = #"""
    #!/bin/bash
    #SBATCH --nodes=128 --exclusive
    GPUS_PER_NODE=8
    TP=8
    PP=16
    MODEL_ARGS=(
      --num-layers 96
      --hidden-size 12288
      --num-attention-heads 96
      --seq-length 2048
      --max-position-embeddings 2048
    )
    options=" \
      --tensor-model-parallel-size $TP \
      --pipeline-model-parallel-size ${PP} \
      --micro-batch-size 1 --global-batch-size=1536 \
      --recompute-granularity full --recompute-method uniform --recompute-num-layers 1 \
      --train-samples 146484375 \
      --vocab-file /data/gpt2-vocab.json --merge-file /data/gpt2-merges.txt \
      --fp16"
    torchrun --nproc_per_node $GPUS_PER_NODE --nnodes $SLURM_NNODES pretrain_gpt.py "${MODEL_ARGS[@]}" $options
    """#

  @Test(
    "a launch script with variables and continuations estimates exactly like the equivalent NeMo YAML"
  )
  func sameEstimate() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "megaplan-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("train.sh")
    try Self.script.write(to: file, atomically: true, encoding: .utf8)
    let fromScript = runCLI(["estimate", "--megatron-args", file.path, "--format", "json"])
    let fromYAML = runCLI([
      "estimate", rooted("configs/gpt3-175b-1024gpu.yaml"), "--format", "json",
    ])
    #expect(fromScript.code == 0, "\(fromScript.stderr)")
    #expect(fromYAML.code == 0)
    #expect(fromScript.stdout == fromYAML.stdout)
  }

  @Test("the real Megatron-LM example reads; a template whose node count cannot hold t·p says so")
  func realScripts() {
    let example = runCLI([
      "estimate", "--megatron-args",
      rooted("Tests/MegatronPlanTests/Fixtures/megatron-lm/pretrain_gpt3_175B.sh"),
    ])
    #expect(example.code == 0, "\(example.stderr)")
    #expect(example.stdout.contains("1,024 × A100"))
    // NUM_NODES=1 with t8 p16: 8 GPUs cannot hold 128-way model parallelism.
    let template = runCLI([
      "estimate", "--megatron-args",
      rooted("Tests/MegatronPlanTests/Fixtures/megatron-lm/train_gpt3_175b_distributed.sh"),
    ])
    #expect(
      template.code == 64
        && template.stderr.contains("not divisible by tensor × pipeline parallel size 8 × 16"))
    let fixed = runCLI([
      "estimate", "--megatron-args",
      rooted("Tests/MegatronPlanTests/Fixtures/megatron-lm/train_gpt3_175b_distributed.sh"),
      "--gpus", "1024",
    ])
    #expect(fixed.code == 0 || fixed.stderr.contains("megaplan.vocab_size"), "\(fixed.stderr)")
    // BLOOM (ALiBi, an embedding LayerNorm, 70 layers on 12 stages split with the embeddings
    // counted as layers): estimates as written. Its parameters, by hand from the script's
    // shapes (h 14,336, L 70, V padded to 250,880, f = 4h, biases, LayerNorms, tied): per layer
    // 12h² + 13h = 2,466,437,120; × 70 + Vh 3,596,615,680 + embedding and final LayerNorm 2 × 2h
    // = 176,247,271,424, BLOOM's published total (BigScience, the model card).
    let bloom = runCLI([
      "estimate", "--megatron-args", "--format", "json",
      rooted("Tests/MegatronPlanTests/Fixtures/megatron-lm/bloom-tr11-176B-ml.slurm"),
    ])
    #expect(bloom.code == 0, "\(bloom.stderr)")
    #expect(bloom.stdout.contains("\"parameters\" : 176247271424"))
  }
}
