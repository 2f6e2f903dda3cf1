import Foundation
import Testing
@testable import MegatronPlan

/// Issue 9, "one answer per question": one fits rule, search rows that the emitted file
/// reproduces, the node size from `trainer.devices`, no silently ignored keys, no guessed GPU
/// count, and remedies on the same GPUs first.
@Suite struct OneAnswerTests {
  static func load(_ text: String, sets: [(String, String)] = []) throws -> LoadedConfig {
    var doc = try ConfigDocument.parse(text, file: "t.yaml")
    for (i, (key, value)) in sets.enumerated() {
      try doc.override(
        key, with: value,
        location: SourceLocation(
          file: "--set", line: i + 1, column: key.count + 2, length: value.count,
          lineText: "\(key)=\(value)"))
    }
    return try ConfigLoader.load(doc)
  }

  static func loadFixture(_ path: String, sets: [(String, String)] = []) throws -> LoadedConfig {
    var doc = try ConfigDocument.parse(try fixture(path).text, file: path)
    for (i, (key, value)) in sets.enumerated() {
      try doc.override(
        key, with: value,
        location: SourceLocation(file: "--set", line: i + 1, column: 1, length: 1, lineText: ""))
    }
    return try ConfigLoader.load(doc)
  }

  /// GPT-3 175B's shape (K22 Table 1) with a fixed vocabulary, on `nodes` × `devices` GPUs.
  static func gpt175B(t: Int, p: Int, nodes: Int, devices: Int, extra: String = "") -> String {
    """
    trainer:
      num_nodes: \(nodes)
      devices: \(devices)
    model:
      num_layers: 96
      hidden_size: 12288
      num_attention_heads: 96
      encoder_seq_length: 2048
      micro_batch_size: 1
      global_batch_size: 1536
      tensor_model_parallel_size: \(t)
      pipeline_model_parallel_size: \(p)
    \(extra)
    megaplan:
      vocab_size: 51200
    """
  }

  // MARK: - 1. One fits rule

  @Test("the usable memory is all of capacity by default (the peak holds the reserves)")
  func defaultBudget() throws {
    let run = try Self.load(Self.gpt175B(t: 8, p: 8, nodes: 8, devices: 8)).run
    let e = Estimate(run)
    // A100 80 GB: 80 × 2^30 = 85,899,345,920 bytes, all usable: the peak (PeakMemory) already
    // counts the CUDA context, NCCL, library buffers and allocator slack.
    #expect(e.memory.capacityBytes == 85_899_345_920)
    #expect(e.memory.usableBytes == 85_899_345_920)
    #expect(e.memory.usableFraction == 1)
    #expect(e.memory.fits == (e.memory.peakBytes <= 85_899_345_920))
    let text = TextReport.estimate(e, run: run, source: "t.yaml")
    #expect(text.contains(" of 80.00 GiB usable (100% of 80.00 GiB)"))
    let json = try e.json()
    #expect(json.contains("\"usable_bytes\" : 85899345920"))
    #expect(json.contains("\"usable_fraction\" : 1"))
  }

  @Test("megaplan.max_memory_fraction sets the rule for estimate, compare, check and search")
  func configuredBudget() throws {
    let run = try Self.load(
      Self.gpt175B(t: 8, p: 8, nodes: 8, devices: 8),
      sets: [("megaplan.max_memory_fraction", "0.5")]
    ).run
    // 0.5 × 85,899,345,920 = 42,949,672,960 bytes (by hand).
    #expect(Estimate(run).memory.usableBytes == 42_949_672_960)
    #expect(run.memoryBudget.usableFraction == 0.5)
    for row in Comparison(run).rows {
      #expect(row.estimate.memory.fits == (row.estimate.memory.totalBytes <= 42_949_672_960))
    }
    let result = try LayoutSearch.search(run, options: .init(top: 3))
    for c in result.candidates { #expect(c.estimate.memory.totalBytes <= 42_949_672_960) }
    // --max-memory-fraction (CheckLimits) wins over the file.
    let (e, _) = Check.evaluate(run, limits: CheckLimits(maxMemoryFraction: 1.0))
    #expect(Estimate(e).memory.usableBytes == 85_899_345_920)
    #expect(throws: ConfigError.self) {
      try Self.load(
        Self.gpt175B(t: 8, p: 8, nodes: 8, devices: 8),
        sets: [("megaplan.max_memory_fraction", "1.5")])
    }
  }

  @Test(
    "what compare recommends, check passes and estimate calls fitting (175B launcher, micro-batch 2)"
  )
  func compareAgreesWithCheck() throws {
    // The reproduction: before, compare used 100% and check 95%.
    let run = try Self.loadFixture(
      "nemo-launcher/gpt3/175b.yaml", sets: [("model.micro_batch_size", "2")]
    ).run
    let comparison = Comparison(run)
    for row in comparison.rows {
      let (e, violations) = Check.evaluate(row.run, limits: CheckLimits())
      let memoryFails = violations.contains { $0.what == "memory" }
      #expect(e.fits == !memoryFails, "\(row.label)")
      #expect(row.estimate.memory.fits == e.fits, "\(row.label)")
    }
    if let best = comparison.recommended {
      let (_, violations) = Check.evaluate(best.run, limits: CheckLimits())
      #expect(!violations.contains { $0.what == "memory" })
    }
    for remedy in comparison.remedies {
      let (_, violations) = Check.evaluate(remedy.run, limits: CheckLimits())
      #expect(!violations.contains { $0.what == "memory" }, "\(remedy.change)")
    }
  }

  // MARK: - 2. search --emit-config reproduces the row

  @Test("search's top row equals the estimate of the emitted file", arguments: gptFiles)
  func emittedFileReproducesRow(_ f: GPTFile) throws {
    let (text, file) = try fixture(f.path)
    let base = try ConfigLoader.load(try ConfigDocument.parse(text, file: file)).run
    let result = try LayoutSearch.search(base, options: .init(top: 1))
    let best = try #require(result.best, "\(f.path): nothing fits")
    let emitted = LayoutSearch.emitConfig(text, winner: best.run, base: base)
    let reloaded = try ConfigLoader.load(try ConfigDocument.parse(emitted, file: file)).run
    let e = Estimate(reloaded)
    #expect(reloaded.layout == best.layout || e.layout == best.estimate.layout)
    #expect(e.memory.totalBytes == best.estimate.memory.totalBytes)
    #expect(e.time.iterationSeconds == best.estimate.time.iterationSeconds)
    #expect(e.model.vocabulary == best.estimate.model.vocabulary)
    // The vocabulary is GPT-2's 50,257 tokens padded to 128 × t (Megatron's rule, by hand).
    let t = best.layout.tensor
    #expect(e.model.vocabulary == (50_257 + 128 * t - 1) / (128 * t) * (128 * t))
    // Emitting the base layout itself changes nothing.
    #expect(LayoutSearch.emitConfig(text, winner: base, base: base) == text)
  }

  @Test("a file that fixes megaplan.vocab_size keeps it for every t")
  func fixedVocabulary() throws {
    let base = try Self.load(Self.gpt175B(t: 8, p: 8, nodes: 8, devices: 8)).run
    #expect(base.vocabularyPadding == nil)
    let result = try LayoutSearch.search(base, options: .init(top: 5))
    for c in result.candidates { #expect(c.run.model.vocabulary == 51_200) }
  }

  @Test("node shapes: nodes × devices is the GPU count, at most the file's devices per node")
  func nodeShapes() {
    // By hand: 12 GPUs on 8-GPU nodes cannot be whole nodes; 2 × 6 is the largest node ≤ 8.
    #expect(LayoutSearch.nodeShape(gpus: 12, devicesPerNode: 8) == (2, 6))
    #expect(LayoutSearch.nodeShape(gpus: 16, devicesPerNode: 4) == (4, 4))
    #expect(LayoutSearch.nodeShape(gpus: 4, devicesPerNode: 8) == (1, 4))
    #expect(LayoutSearch.nodeShape(gpus: 7, devicesPerNode: 8) == (1, 7))
    #expect(LayoutSearch.nodeShape(gpus: 10, devicesPerNode: 8) == (2, 5))
  }

  @Test("a 2 × 4 file keeps 4 GPUs per node when emitted; only changed keys are written")
  func emitKeepsDevicesPerNode() throws {
    let text = """
      # two nodes of four
      trainer:
        num_nodes: 2    # nodes
        devices: 4
      model:
        num_layers: 4
        hidden_size: 256
        num_attention_heads: 4
        encoder_seq_length: 128
        micro_batch_size: 1
        global_batch_size: 16
        tensor_model_parallel_size: 1
        pipeline_model_parallel_size: 1
        optim:
          name: mcore_distributed_optim
      megaplan:
        vocab_size: 1024

      """
    let base = try Self.load(text).run
    #expect(base.devicesPerNode == 4)
    #expect(base.gpu.gpusPerNode == 4)
    var layout = base.layout
    layout.microBatch = 2
    layout.pipeline = 2
    layout.data = 4
    let winner = base.with(layout: layout)
    let out = LayoutSearch.emitConfig(text, winner: winner, base: base)
    let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    #expect(lines.contains("  num_nodes: 2    # nodes"))
    #expect(lines.contains("  devices: 4"))
    #expect(lines.contains("  micro_batch_size: 2"))
    #expect(lines.contains("  pipeline_model_parallel_size: 2"))
    // The distributed optimizer stays on: its name is kept.
    #expect(lines.contains("    name: mcore_distributed_optim"))
    // No recompute before or after: no recompute keys written.
    #expect(!out.contains("activations_checkpoint"))
    #expect(lines.count == text.split(separator: "\n", omittingEmptySubsequences: false).count)
    // 16 GPUs of this file: 4 × 4, not 2 × 8.
    layout.data = 8
    let wider = LayoutSearch.emitConfig(text, winner: base.with(layout: layout), base: base)
    #expect(wider.contains("  num_nodes: 4    # nodes\n  devices: 4\n"))
  }

  // MARK: - 3. trainer.devices drives the timing model

  @Test("t = 8 across 2 nodes of 4 pays the network; on 1 node of 8 NVLink (hand-derived)")
  func tensorAcrossNodes() throws {
    let oneNode = try Self.load(Self.gpt175B(t: 8, p: 1, nodes: 1, devices: 8)).run
    let twoNodes = try Self.load(Self.gpt175B(t: 8, p: 1, nodes: 2, devices: 4)).run
    #expect(oneNode.gpu.gpusPerNode == 8 && twoNodes.gpu.gpusPerNode == 4)
    func comm(_ run: TrainingRun) -> Double {
      StepTimeModel(
        model: run.model, layout: run.layout, precision: run.precision, gpu: run.gpu,
        constants: run.constants
      ).layerForward().tensorParallelComm.value
    }
    // Two ring all-reduces of the b·s·h bf16 output per layer forward (N21 §3.2), as NCCL runs
    // them: bytes = 2 · 2048 · 1 · 12288 = 50,331,648; each moves 2(t − 1)/t of them.
    let bytes = 2.0 * 2048 * 12288
    let moved = 2.0 * 7 / 8 * bytes
    // One node: NVLink 300 GB/s per direction (A100 datasheet) at 77% (PerformanceConstants);
    // NCCL's ring with the Simple protocol (faster than LL128 at 50 MB: 56 µs + 381 µs against
    // 40.6 µs + 415 µs): base 8.4 µs + 14 NVLink hops of 3.4 µs (NCCL tuning.cc).
    let nvlink = 2 * (moved / (300e9 * 0.77) + (8.4 + 14 * 3.4) * 1e-6)
    // Two nodes of 4: the ring crosses InfiniBand; the 4 GPUs of a node each drive one 25 GB/s
    // HCA at 50% (N21 §5, PerformanceConstants): 4 × 12.5 GB/s. NCCL's Simple ring: 12 hops on
    // NVLink (3.4 µs, above the 3 µs network overhead) and 2 across (14 µs), × 1.4 for a
    // multi-node all-reduce; the tree (8.4 + 2 · (3 · 4 + 14) µs, 2 × bytes at 0.92 of the
    // bus bandwidth) is slower at this size.
    let network = 2 * (moved / (4 * 25e9 * 0.5) + (8.4 + 12 * 3.4 + 2 * 14) * 1.4 * 1e-6)
    #expect(abs(comm(oneNode) - nvlink) <= 1e-12 * nvlink)
    #expect(abs(comm(twoNodes) - network) <= 1e-12 * network)
    #expect(
      Estimate(twoNodes).time.iterationSeconds > Estimate(oneNode).time.iterationSeconds)
    // A node larger than the profile's NVLink domain keeps the profile's 8.
    let big = try Self.load(Self.gpt175B(t: 8, p: 1, nodes: 1, devices: 16)).run
    #expect(big.gpu.gpusPerNode == 8 && big.devicesPerNode == 16)
  }

  // MARK: - 4. Keys that change memory or time

  @Test(
    "unmodeled keys are refused with the key named",
    arguments: [
      ("model.cpu_offloading", "true", "model.cpu_offloading: true is not modeled yet"),
      ("megaplan.zero_stage", "2", "DeepSpeed ZeRO stage 2 is not modeled yet"),
      ("model.fp8", "true", "fp8"),
    ])
  func refused(_ c: (String, String, String)) throws {
    let error = try #require(throws: ConfigError.self) {
      try Self.load(Self.gpt175B(t: 8, p: 8, nodes: 8, devices: 8), sets: [(c.0, c.1)])
    }
    #expect(error.message.contains(c.2), "\(error.message)")
    #expect(error.key == c.0)
  }

  @Test("a typo in --set is an error with the suggestion; in the file a warning")
  func setTypo() throws {
    let error = try #require(throws: ConfigError.self) {
      try Self.load(
        Self.gpt175B(t: 8, p: 8, nodes: 8, devices: 8), sets: [("model.hiden_size", "4")])
    }
    #expect(
      error.message == "unknown key 'model.hiden_size' in --set; did you mean 'model.hidden_size'?")
    #expect(error.location?.file == "--set")
    let inFile = try Self.load(
      Self.gpt175B(t: 8, p: 8, nodes: 8, devices: 8, extra: "  hiden_size: 4"))
    #expect(inFile.warnings.contains { $0.message.contains("did you mean 'hidden_size'") })
    // A --set of a key far from every known one is no error (NeMo has hundreds).
    _ = try Self.load(
      Self.gpt175B(t: 8, p: 8, nodes: 8, devices: 8), sets: [("model.seed", "1234")])
  }

  @Test(
    "Megatron --attention-backend maps to fused attention",
    arguments: [
      ("auto", true), ("flash", true), ("fused", true), ("unfused", false), ("local", false),
    ])
  func attentionBackend(_ c: (String, Bool)) throws {
    let script =
      "torchrun --nproc_per_node 8 pretrain_gpt.py --num-layers 2 --hidden-size 64 --num-attention-heads 4 --seq-length 128 --micro-batch-size 1 --global-batch-size 8 --vocab-size 512 --attention-backend \(c.0)\n"
    let root = try MegatronArguments.parse(script, file: "a.sh")
    let loaded = try ConfigLoader.load(ConfigDocument(root: root, file: "a.sh"))
    #expect(loaded.run.model.fusedAttention == c.1)
  }

  @Test(
    "refused Megatron flags name the flag",
    arguments: [
      ("--use-torch-fsdp2", "--use-torch-fsdp2: PyTorch FSDP2"),
      ("--attention-backend fuzed", "--attention-backend 'fuzed' is not one of"),
    ])
  func refusedFlags(_ c: (String, String)) throws {
    let script = "torchrun --nproc_per_node 8 pretrain_gpt.py --num-layers 2 \(c.0)\n"
    let error = try #require(throws: ConfigError.self) {
      try MegatronArguments.parse(script, file: "f.sh")
    }
    #expect(error.message.hasPrefix(c.1), "\(error.message)")
    #expect(error.location?.file == "f.sh")
  }

  // MARK: - 5. No GPU count is an error

  @Test("a Megatron script with no GPU count asks for --gpus, at a location")
  func noGPUCount() throws {
    let script = "python pretrain_gpt.py --num-layers 2 --hidden-size 64\n"
    let error = try #require(throws: ConfigError.self) {
      try MegatronArguments.parse(script, file: "n.sh")
    }
    #expect(error.note == "give the GPU count with --gpus")
    #expect(error.location?.file == "n.sh" && error.location?.line == 1)
    // A node count without GPUs per node is no count either.
    #expect(throws: ConfigError.self) {
      try MegatronArguments.parse("#SBATCH --nodes=4\npython x.py --num-layers 2\n", file: "n.sh")
    }
    // GPUs per node alone is one node (torchrun's default --nnodes 1); WORLD_SIZE is a count.
    _ = try MegatronArguments.parse("torchrun --nproc_per_node 8 x.py --num-layers 2\n", file: "n")
    let world = try MegatronArguments.parse(
      "WORLD_SIZE=16\npython x.py --num-layers 2\n", file: "w")
    #expect(world.entry("trainer")?.value.entry("devices") != nil)
  }

  // MARK: - 6. Remedies: the cheapest change on the same GPUs first

  @Test("remedies keep the GPU count before adding GPUs, and check suggests the first")
  func remediesSameGPUsFirst() throws {
    // 175B t8 p8 on 64 GPUs, micro-batch 4, no SP, no recompute: does not fit 76 GiB.
    let run = try Self.load(
      Self.gpt175B(t: 8, p: 8, nodes: 8, devices: 8), sets: [("model.micro_batch_size", "4")]
    ).run
    #expect(!Estimate(run).memory.fits)
    let remedies = Remedy.find(for: run)
    let first = try #require(remedies.first)
    #expect(first.sameGPUs)
    if let firstMore = remedies.firstIndex(where: { !$0.sameGPUs }) {
      #expect(remedies[firstMore...].allSatisfy { !$0.sameGPUs })
    }
    for r in remedies { #expect(r.estimate.memory.fits, "\(r.change)") }
    // The ladder's first rung: sequence parallelism alone. Whether it is the answer depends on
    // whether it fits; when it does, nothing comes before it.
    var sp = run.layout
    sp.sequenceParallel = true
    if Estimate(run.with(layout: sp)).memory.fits {
      #expect(first.change == "sequence_parallel: true")
    }
    let (_, violations) = Check.evaluate(run, limits: CheckLimits())
    let memory = try #require(violations.first { $0.what == "memory" })
    #expect(memory.suggestion?.hasPrefix("fits with \(first.change) (") == true)
  }

  /// Issue 28: with context parallelism a replica is t·cp·p GPUs, so more stages on the same 8
  /// GPUs of Llama 3 8B's t1 cp2 leave d = 8/(1·2·2) = 2, not 8/(1·2) = 4 (16 GPUs).
  @Test("a pipeline remedy on the same GPUs keeps cp: d = GPUs/(t·cp·p)")
  func pipelineRemedyKeepsContextParallelism() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let text = try String(
      contentsOf: root.appendingPathComponent("configs/llama3-8b.yaml"), encoding: .utf8)
    let run = try Self.load(text, sets: [("model.micro_batch_size", "2")]).run
    #expect(run.layout.contextParallel == 2 && !Estimate(run).memory.fits)
    let pipeline = try #require(
      Remedy.find(for: run).first { $0.change.hasPrefix("pipeline_model_parallel_size: 2") })
    #expect(pipeline.sameGPUs)
    #expect(pipeline.run.layout.gpus == 8 && pipeline.run.layout.data == 2)
    #expect(pipeline.run.layout.contextParallel == 2)
    #expect(pipeline.keys.first == "model.pipeline_model_parallel_size")
  }

  @Test("objective gpus with an impossible deadline says so: no candidate meets it")
  func gpusObjectiveUnmet() throws {
    var run = try Self.load(Self.gpt175B(t: 8, p: 8, nodes: 8, devices: 8)).run
    run.trainTokens = 300e9
    let result = try LayoutSearch.search(
      run, options: .init(objective: .gpus, top: 2, maxDays: 0.001))
    #expect(result.candidates.allSatisfy { $0.meetsDeadline == false })
    let text = SearchReport.text(result, source: "t.yaml")
    #expect(text.contains("no GPU count up to 64 meets the deadline"))
    #expect(text.contains("GPUs"))
  }
}
