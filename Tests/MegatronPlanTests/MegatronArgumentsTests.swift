import Foundation
import Testing
@testable import MegatronPlan

/// Expected values and columns below are read by hand off the scripts in
/// Fixtures/megatron-lm/ (line numbers as `cat -n` shows them), never copied from the program.
@Suite struct MegatronArgumentsTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent()

  static func fixture(_ name: String) throws -> String {
    try String(
      contentsOf: root.appendingPathComponent(
        "Tests/MegatronPlanTests/Fixtures/megatron-lm/\(name)"), encoding: .utf8)
  }

  /// The scalar at a dotted path, with where it points.
  static func scalar(_ node: ConfigNode, _ path: String) -> (value: String, line: Int, column: Int)?
  {
    var current = node
    for part in path.split(separator: ".") {
      guard let entry = current.entry(String(part)) else { return nil }
      current = entry.value
    }
    guard case .scalar(let value, let style) = current.kind, style == .plain else { return nil }
    return (value, current.location.line, current.location.column)
  }

  /// Every scalar's dotted key, in tree order.
  static func keys(_ node: ConfigNode, prefix: String = "") -> [String] {
    guard case .mapping(let entries) = node.kind else { return [prefix] }
    return entries.flatMap {
      keys($0.value, prefix: prefix.isEmpty ? $0.key : prefix + "." + $0.key)
    }
  }

  struct Expected: CustomStringConvertible, Sendable {
    var key: String
    var value: String
    var line: Int
    var column: Int
    var description: String { "\(key) = \(value) at \(line):\(column)" }
  }

  // MARK: - train_gpt3_175b_distributed.sh (bash arrays, torchrun)

  static let distributed: [Expected] = [
    .init(key: "model.num_layers", value: "96", line: 29, column: 18),
    .init(key: "model.hidden_size", value: "12288", line: 30, column: 19),
    .init(key: "model.num_attention_heads", value: "96", line: 31, column: 27),
    .init(key: "model.encoder_seq_length", value: "2048", line: 32, column: 18),
    .init(key: "model.max_position_embeddings", value: "2048", line: 33, column: 31),
    .init(key: "model.micro_batch_size", value: "1", line: 38, column: 24),
    .init(key: "model.global_batch_size", value: "1536", line: 39, column: 25),
    .init(key: "model.tensor_model_parallel_size", value: "8", line: 56, column: 31),
    .init(key: "model.pipeline_model_parallel_size", value: "16", line: 57, column: 33),
    // NUM_NODES=1 (line 11) reaches torchrun through `--nnodes $NUM_NODES`.
    .init(key: "trainer.num_nodes", value: "1", line: 11, column: 11),
    // GPUS_PER_NODE=8 (line 7) through `--nproc_per_node $GPUS_PER_NODE`.
    .init(key: "trainer.devices", value: "8", line: 7, column: 15),
    .init(key: "trainer.precision", value: "16", line: 47, column: 5),
    // --train-iters 500000 × global batch 1536 × seq 2048.
    .init(key: "megaplan.train_tokens", value: "1572864000000", line: 41, column: 19),
  ]

  @Test("train_gpt3_175b_distributed.sh maps each flag to its NeMo key", arguments: distributed)
  func distributedScript(_ expected: Expected) throws {
    let tree = try MegatronArguments.parse(
      try Self.fixture("train_gpt3_175b_distributed.sh"), file: "d.sh")
    let found = try #require(Self.scalar(tree, expected.key))
    #expect(found.value == expected.value)
    #expect(found.line == expected.line)
    #expect(found.column == expected.column)
  }

  @Test("train_gpt3_175b_distributed.sh gives exactly these keys, with Megatron's defaults")
  func distributedShape() throws {
    let tree = try MegatronArguments.parse(
      try Self.fixture("train_gpt3_175b_distributed.sh"), file: "d.sh")
    #expect(
      Self.keys(tree) == [
        "model.num_layers", "model.hidden_size", "model.num_attention_heads",
        "model.encoder_seq_length",
        "model.max_position_embeddings", "model.micro_batch_size", "model.global_batch_size",
        "model.tensor_model_parallel_size", "model.pipeline_model_parallel_size",
        // --vocab-file/--merge-file without --tokenizer-type: GPT-2 BPE.
        "model.share_embeddings_and_output_weights", "model.tokenizer.type", "model.optim.name",
        // Megatron-LM fuses rotary unless --no-rope-fusion (arguments.py: store_false).
        "model.apply_rope_fusion",
        // --step-batch-size-schedule (line 40): a batch ramp-up, warned about as such.
        "model.rampup_batch_size",
        "trainer.num_nodes", "trainer.devices",
        // --attention-backend auto: Megatron-Core's default, fused attention.
        "trainer.precision", "megaplan.fused_attention", "megaplan.train_tokens",
      ])
    #expect(Self.scalar(tree, "model.share_embeddings_and_output_weights")?.value == "true")
    #expect(Self.scalar(tree, "model.optim.name")?.value == "fused_adam")
    // The key of num_nodes is the `--nnodes` flag (line 23), its value where NUM_NODES is set.
    let trainer = try #require(tree.entry("trainer")?.value.entry("num_nodes"))
    #expect(trainer.keyLocation.line == 23 && trainer.keyLocation.column == 5)
    #expect(trainer.value.location.lineText == "NUM_NODES=1")
    #expect(trainer.value.location.file == "d.sh")
  }

  // MARK: - pretrain_gpt3_175B.sh (options="..." string, srun, #SBATCH)

  static let pretrain: [Expected] = [
    .init(key: "model.tensor_model_parallel_size", value: "8", line: 19, column: 31),
    .init(key: "model.pipeline_model_parallel_size", value: "16", line: 20, column: 33),
    .init(key: "model.num_layers", value: "96", line: 21, column: 22),
    .init(key: "model.hidden_size", value: "12288", line: 22, column: 23),
    .init(key: "model.num_attention_heads", value: "96", line: 23, column: 31),
    .init(key: "model.encoder_seq_length", value: "2048", line: 24, column: 22),
    .init(key: "model.max_position_embeddings", value: "2048", line: 25, column: 35),
    .init(key: "model.micro_batch_size", value: "1", line: 26, column: 21),
    .init(key: "model.global_batch_size", value: "1536", line: 27, column: 22),
    // #SBATCH <SLURM OPTIONS> --nodes=128 --exclusive --ntasks-per-node=8
    .init(key: "trainer.num_nodes", value: "128", line: 4, column: 33),
    .init(key: "trainer.devices", value: "8", line: 4, column: 67),
    .init(key: "trainer.precision", value: "16", line: 51, column: 2),
    // --train-samples 146484375 × seq 2048 = 300B tokens.
    .init(key: "megaplan.train_tokens", value: "300000000000", line: 29, column: 18),
  ]

  @Test("pretrain_gpt3_175B.sh reads the options string passed through sh -c", arguments: pretrain)
  func pretrainScript(_ expected: Expected) throws {
    let tree = try MegatronArguments.parse(try Self.fixture("pretrain_gpt3_175B.sh"), file: "p.sh")
    let found = try #require(Self.scalar(tree, expected.key))
    #expect(found.value == expected.value)
    #expect(found.line == expected.line)
    #expect(found.column == expected.column)
  }

  @Test("--gpus and --gpu win over the script")
  func gpusArgument() throws {
    let tree = try MegatronArguments.parse(
      try Self.fixture("pretrain_gpt3_175B.sh"), file: "p.sh", gpus: 64, gpuName: "h100")
    #expect(Self.scalar(tree, "trainer.num_nodes")?.value == "1")
    #expect(Self.scalar(tree, "trainer.devices")?.value == "64")
    #expect(Self.scalar(tree, "megaplan.gpu")?.value == "h100")
  }

  // MARK: - bloom-tr11-176B-ml.slurm (Megatron-DeepSpeed)

  static let bloom: [Expected] = [
    .init(key: "model.num_layers", value: "70", line: 73, column: 9),
    .init(key: "model.hidden_size", value: "14336", line: 72, column: 9),
    .init(key: "model.num_attention_heads", value: "112", line: 74, column: 8),
    .init(key: "model.encoder_seq_length", value: "2048", line: 75, column: 9),
    .init(key: "model.max_position_embeddings", value: "2048", line: 75, column: 9),
    .init(key: "model.micro_batch_size", value: "2", line: 69, column: 18),
    .init(key: "model.global_batch_size", value: "2048", line: 70, column: 19),
    .init(key: "model.tensor_model_parallel_size", value: "4", line: 66, column: 9),
    .init(key: "model.pipeline_model_parallel_size", value: "12", line: 67, column: 9),
    .init(key: "model.position_embedding_type", value: "alibi", line: 120, column: 31),
    .init(key: "model.tokenizer.type", value: "PretrainedFromHF", line: 114, column: 22),
    // --checkpoint-activations (line 121): full recompute, uniform, one layer.
    .init(key: "model.activations_checkpoint_granularity", value: "full", line: 121, column: 5),
    .init(key: "model.activations_checkpoint_method", value: "uniform", line: 121, column: 5),
    .init(key: "model.activations_checkpoint_num_layers", value: "1", line: 121, column: 5),
    // NNODES=$SLURM_NNODES, which is #SBATCH --nodes=48 (line 7).
    .init(key: "trainer.num_nodes", value: "48", line: 7, column: 17),
    .init(key: "trainer.devices", value: "8", line: 63, column: 15),
    .init(key: "trainer.precision", value: "bf16", line: 118, column: 5),
    // TRAIN_SAMPLES=220_000_000 (Python int) × 2048.
    .init(key: "megaplan.train_tokens", value: "450560000000", line: 79, column: 15),
    .init(key: "megaplan.zero_stage", value: "0", line: 143, column: 12),
    // --deepspeed (line 166): the DeepSpeed engine runs the optimizer.
    .init(key: "megaplan.deepspeed", value: "true", line: 166, column: 5),
  ]

  @Test("bloom-tr11-176B-ml.slurm reads through variables, strings and #SBATCH", arguments: bloom)
  func bloomScript(_ expected: Expected) throws {
    let tree = try MegatronArguments.parse(
      try Self.fixture("bloom-tr11-176B-ml.slurm"), file: "b.slurm")
    let found = try #require(Self.scalar(tree, expected.key))
    #expect(found.value == expected.value)
    #expect(found.line == expected.line)
    #expect(found.column == expected.column)
  }

  /// Issue 28: BLOOM's own script was said not to fit (80.65 GiB). Its ZeRO stage 0 with bf16
  /// runs DeepSpeed's BF16_Optimizer (the script: "bf16 must use z0! it implements its own zero
  /// stage 1 equivalent"; DeepSpeed's engine picks BF16_Optimizer for bf16 without ZeRO), which
  /// keeps an fp32 partition of the weights and the Adam states per data-parallel rank: the
  /// 12 bytes per parameter of master weights and moments are divided by d = 384/(4·12) = 8,
  /// the 2-byte weights and the 4-byte fp32 gradient buffer stay whole.
  @Test("BLOOM's DeepSpeed BF16 optimizer shards the optimizer states over d: its script fits")
  func bloomDeepSpeedOptimizer() throws {
    let text = try Self.fixture("bloom-tr11-176B-ml.slurm")
    let load = { (text: String) in
      try ConfigLoader.load(
        ConfigDocument(root: try MegatronArguments.parse(text, file: "b.slurm"), file: "b.slurm")
      ).run
    }
    let run = try load(text)
    #expect(run.layout.distributedOptimizer && run.software.deepSpeedBF16Optimizer)
    #expect(run.layout.data == 8)
    // Without DeepSpeed (the same script less --deepspeed): plain Adam, nothing sharded.
    let plain = try load(text.replacingOccurrences(of: "    --deepspeed \\\n", with: ""))
    #expect(!plain.layout.distributedOptimizer)
    let sharded = Estimate(run).memory, whole = Estimate(plain).memory
    let stage = sharded.mostLoadedStage
    #expect(whole.mostLoadedStage == stage)
    #expect(
      sharded.weightsBytes == whole.weightsBytes && sharded.gradientsBytes == whole.gradientsBytes)
    #expect(abs(sharded.optimizerBytes * 8 - whole.optimizerBytes) < 1e-3 * whole.optimizerBytes)
    #expect(!whole.fits && sharded.fits)
    // The gradients are all-reduced in full (as plain Adam's), the weights gathered after the
    // step (as the distributed optimizer's), per DeepSpeed's pipeline engine and BF16_Optimizer.
    var megatronDO = run
    megatronDO.software.deepSpeedBF16Optimizer = false
    let parameters = 1e9, d = run.layout.data
    let ds = run.stepTimeModel, adam = plain.stepTimeModel, mdo = megatronDO.stepTimeModel
    #expect(
      ds.gradientReduction(parameters: parameters, group: d)
        == adam.gradientReduction(parameters: parameters, group: d))
    #expect(
      ds.parameterGather(parameters: parameters, group: d)
        == mdo.parameterGather(parameters: parameters, group: d))
    #expect(ds.parameterGather(parameters: parameters, group: d).seconds.value > 0)
    #expect(
      mdo.gradientReduction(parameters: parameters, group: d)
        != adam.gradientReduction(parameters: parameters, group: d))
    // The search keeps DeepSpeed's sharding: no candidate is plain Adam or FSDP.
    let searched = try LayoutSearch.search(run, options: .init(top: 50))
    #expect(!searched.candidates.isEmpty)
    for c in searched.candidates {
      #expect(c.layout.distributedOptimizer == (c.layout.data > 1) && !c.layout.fullySharded)
    }
    // Without a ZeRO stage the DeepSpeed config decides, which megaplan does not read: refused.
    let noStage = text.replacingOccurrences(of: "    --zero-stage ${ZERO_STAGE} \\\n", with: "")
    #expect(noStage != text)
    do {
      _ = try load(noStage)
      Issue.record("DeepSpeed without a ZeRO stage was read")
    } catch let error as ConfigError {
      #expect(error.key == "megaplan.deepspeed")
      #expect(error.location?.line == 166 && error.location?.column == 5)
      #expect(error.message.contains("--zero-stage"))
    }
  }

  // MARK: - A synthetic script with every form

  static let synthetic = """
    #!/bin/bash
    #SBATCH --nodes=4
    LAYERS=32 # comment
    export HIDDEN="4096"
    TP=${TP_SIZE:-2}
    SEQ='4096'
    GBS_BASE=256
    MODEL=(
      --num-layers $LAYERS   # a comment inside the array
      --hidden-size=${HIDDEN}
      --num-attention-heads 32
    )
    options=" \\
      --seq-length $SEQ \\
      --tensor-model-parallel-size=$TP \\
      --pipeline-model-parallel-size 4 \\
      --num-layers-per-virtual-pipeline-stage 2 \\
      --recompute-granularity selective \\
      --sequence-parallel --use-distributed-optimizer --bf16 \\
      --normalization RMSNorm --swiglu --untie-embeddings-and-output-weights \\
      --group-query-attention --num-query-groups 8 \\
      --global-batch-size $((GBS_BASE*2)) --train-samples 1_000 "
    torchrun --nproc-per-node=8 --nnodes $SLURM_JOB_NUM_NODES pretrain_gpt.py "${MODEL[@]}" $options
    """

  static let syntheticExpected: [Expected] = [
    .init(key: "model.num_layers", value: "32", line: 3, column: 8),
    .init(key: "model.hidden_size", value: "4096", line: 4, column: 16),
    .init(key: "model.num_attention_heads", value: "32", line: 11, column: 25),
    .init(key: "model.encoder_seq_length", value: "4096", line: 6, column: 6),
    // $((GBS_BASE*2)): the expression's place.
    .init(key: "model.global_batch_size", value: "512", line: 22, column: 23),
    // ${TP_SIZE:-2}: the default, in line 5.
    .init(key: "model.tensor_model_parallel_size", value: "2", line: 5, column: 15),
    .init(key: "model.pipeline_model_parallel_size", value: "4", line: 16, column: 34),
    // 32 layers / (4 stages × 2 layers per virtual stage) = 4.
    .init(key: "model.virtual_pipeline_model_parallel_size", value: "4", line: 17, column: 43),
    .init(key: "model.sequence_parallel", value: "true", line: 19, column: 3),
    .init(
      key: "model.activations_checkpoint_granularity", value: "selective", line: 18, column: 27),
    .init(key: "model.share_embeddings_and_output_weights", value: "false", line: 20, column: 36),
    .init(key: "model.activation", value: "swiglu", line: 20, column: 27),
    .init(key: "model.normalization", value: "rmsnorm", line: 20, column: 19),
    .init(key: "model.num_query_groups", value: "8", line: 21, column: 46),
    .init(key: "model.optim.name", value: "distributed_fused_adam", line: 19, column: 23),
    // $SLURM_JOB_NUM_NODES is the #SBATCH --nodes value.
    .init(key: "trainer.num_nodes", value: "4", line: 2, column: 17),
    .init(key: "trainer.devices", value: "8", line: 23, column: 27),
    .init(key: "trainer.precision", value: "bf16", line: 19, column: 51),
    // 1_000 samples × 4096.
    .init(key: "megaplan.train_tokens", value: "4096000", line: 22, column: 55),
  ]

  @Test(
    "variables, defaults, arrays, options strings and --flag=value", arguments: syntheticExpected)
  func syntheticScript(_ expected: Expected) throws {
    let tree = try MegatronArguments.parse(Self.synthetic, file: "s.sh")
    let found = try #require(Self.scalar(tree, expected.key))
    #expect(found.value == expected.value)
    #expect(found.line == expected.line)
    #expect(found.column == expected.column)
  }

  @Test("a bare argument list reads like a launch line; the GPU count comes from --gpus")
  func bareList() throws {
    let text = "--num-layers 24\n--hidden-size 1024 --fp16\n--recompute-activations\n"
    // No GPU count in the list: an error asking for --gpus (issue 9), not 1 GPU.
    let missing = try #require(throws: ConfigError.self) {
      try MegatronArguments.parse(text, file: "args.txt")
    }
    #expect(missing.note == "give the GPU count with --gpus")
    let tree = try MegatronArguments.parse(text, file: "args.txt", gpus: 8)
    #expect(Self.scalar(tree, "model.num_layers")?.value == "24")
    #expect(Self.scalar(tree, "model.hidden_size")?.line == 2)
    #expect(Self.scalar(tree, "model.activations_checkpoint_granularity")?.value == "selective")
    #expect(Self.scalar(tree, "trainer.precision")?.value == "16")
    #expect(Self.scalar(tree, "trainer.num_nodes")?.value == "1")
    #expect(Self.scalar(tree, "trainer.devices")?.value == "8")
  }

  // MARK: - Errors

  struct ErrorCase: CustomStringConvertible, Sendable {
    var name: String
    var script: String
    var message: String
    var line: Int
    var column: Int
    var description: String { name }
  }

  static let errors: [ErrorCase] = [
    .init(
      name: "a mapped flag needs an unset variable",
      script: "python pretrain_gpt.py \\\n  --hidden-size 1024 \\\n  --num-layers $NLAYERS\n",
      message: "--num-layers needs variable 'NLAYERS', which is not set in e.sh", line: 3,
      column: 16),
    .init(
      name: "virtual stages that do not split the layers",
      script:
        "ARGS=(--num-layers 30 --pipeline-model-parallel-size 4\n --num-layers-per-virtual-pipeline-stage 2)\npython x.py ${ARGS[@]}\n",
      message:
        "--num-layers-per-virtual-pipeline-stage 2 does not split num_layers 30 evenly: pipeline_model_parallel_size 4 × 2 = 8 does not divide 30",
      line: 2, column: 42),
    .init(
      name: "a node range",
      script: "torchrun --nnodes 1:4 --nproc_per_node 8 x.py --num-layers 2\n",
      message: "--nnodes '1:4' is a range; megaplan needs a fixed count", line: 1, column: 19),
    .init(
      name: "a value from a command",
      script: "L=$(cat layers.txt)\npython x.py --num-layers $L\n",
      message:
        "--num-layers takes its value from the command '$(cat layers.txt)', which megaplan does not run",
      line: 1, column: 3),
    .init(
      name: "an unclosed quote",
      script: "python x.py --num-layers \"2\n",
      message: "double-quoted string opened here is never closed", line: 1, column: 26),
  ]

  @Test("errors name the flag and point at the script", arguments: errors)
  func errorCases(_ c: ErrorCase) throws {
    let error = try #require(throws: ConfigError.self) {
      try MegatronArguments.parse(c.script, file: "e.sh")
    }
    #expect(error.message == c.message)
    #expect(error.location?.file == "e.sh")
    #expect(error.location?.line == c.line)
    #expect(error.location?.column == c.column)
  }

  @Test("a variable that doubles itself stops with an error instead of exhausting memory")
  func doubling() throws {
    let script = "A=x\n" + String(repeating: "A=\"$A$A\"\n", count: 40) + "p --num-layers 2\n"
    let error = try #require(throws: ConfigError.self) {
      try MegatronArguments.parse(script, file: "g.sh")
    }
    #expect(
      error.message == "variable 'A' grows past 1048576 characters; megaplan stops reading there")
    // 2^20 = 1048576 is still allowed; the 21st doubling (line 22) is refused.
    #expect(error.location?.line == 22)
  }

  @Test("unused undefined variables, unknown flags and placeholders are ignored")
  func ignored() throws {
    let script =
      "python x.py --save $CKPT --load <PATH TO CHECKPOINT> --weird-flag 3 --num-layers 12 $@ \"$1\"\n"
    let tree = try MegatronArguments.parse(script, file: "i.sh", gpus: 8)
    #expect(Self.scalar(tree, "model.num_layers")?.value == "12")
  }

  @Test("arithmetic: integers with + - * / and parentheses, else an error rather than a guess")
  func arithmetic() throws {
    let tree = try MegatronArguments.parse(
      "A=3\nB=4\npython x.py --num-layers $(( (A + $B) * 2 - 10 / ${A} ))\n", file: "a.sh",
      gpus: 8)
    #expect(Self.scalar(tree, "model.num_layers")?.value == "11")
    let error = try #require(throws: ConfigError.self) {
      try MegatronArguments.parse("python x.py --num-layers $((2**4))\n", file: "a.sh")
    }
    #expect(error.message == "--num-layers uses '$((2**4))', which megaplan cannot evaluate")
  }

  @Test(
    "odd input never traps",
    arguments: [
      "", "$", "${", "$((", "\"", "'", "A=(", "${A:-${B:-${C:-${D:-", "<<EOF\n", "--num-layers",
      "--num-layers=",
      "x=$(( 9223372036854775807 + 1 )); p --num-layers $x",
      String(repeating: "${A:-", count: 100) + "1" + String(repeating: "}", count: 100)
        + "\np --num-layers $Q",
      "\u{0}\r\n\t--fp16\\", "cat <<-'E'\n\tx\n\tE\n--bf16",
    ])
  func robustness(_ text: String) {
    _ = try? MegatronArguments.parse(text, file: "r.sh")
  }

  // MARK: - Docs

  @Test("docs/megatron-args.md lists every mapped flag and key")
  func docs() throws {
    let doc = try String(
      contentsOf: Self.root.appendingPathComponent("docs/megatron-args.md"), encoding: .utf8)
    for (flag, key) in MegatronArguments.mappedFlags {
      #expect(doc.contains("`\(flag)`"), "\(flag) is not documented")
      #expect(doc.contains("`\(key)`"), "\(key) is not documented")
    }
  }
}
