import Foundation
import Testing

@testable import MegatronPlan

/// Issue 23's machine: collectives as NCCL runs them (`Machine.collective`), the data-parallel
/// buckets and their overlap (`DataParallelSync`), the contention of hidden collectives, host
/// time and CUDA graphs, NVFP4 and the GEMM roofline. Expected values are worked by hand from
/// NCCL 2.30.7's tuning.cc tables (latencies in µs, quoted in each test) and the measured bus
/// bandwidths of `PerformanceConstants` (H100: NVLink 450 GB/s × 0.80 = 360 for rings, NVLS 480,
/// NIC 50 × 0.94 = 47 GB/s).
@Suite struct CollectivesTests {
  static let h100 = Machine(gpu: .h100SXM)
  static let gib = 1_073_741_824.0

  @Test("8 H100, all-reduce of 1 GiB: NVLS at 480 GB/s; without NVLS a ring at 360")
  func nvlsInOneNode() {
    // NVLS: hwLat[NVLINK][NVLS] 25 µs + bytes · 2·7/8 / 480 GB/s.
    let nvls = Self.h100.collective(.allReduce, bytes: Self.gib, n: 8, stride: 1)
    #expect(nvls.algorithm == .nvls)
    let expected = 25e-6 + Self.gib * 1.75 / 480e9
    #expect(abs(nvls.seconds.value - expected) / expected < 1e-9)
    // NCCL_NVLS_ENABLE=0: a ring, Simple (base 8.4 + 14 hops × 3.4 µs; all intra-node).
    var off = Software()
    off.ncclNVLS = false
    let ring = Self.h100.collective(.allReduce, bytes: Self.gib, n: 8, stride: 1, software: off)
    #expect(ring.algorithm == .ring && ring.proto == .simple)
    let ringExpected = (8.4 + 14 * 3.4) * 1e-6 + Self.gib * 1.75 / 360e9
    #expect(abs(ring.seconds.value - ringExpected) / ringExpected < 1e-9)
  }

  @Test("16 ranks one per node: PAT for 1 MB, a ring (Simple) for 256 MiB")
  func patAtOneRankPerNode() {
    // Reduce-scatter over 16 nodes, stride 8: ppn = 1. PAT: base 8 + log2(16)·14/3.5 + 16·2.8
    // = 68.8 µs at 0.75 × 47 GB/s; ring Simple: 8.4 + 15 network hops × hwLat[NET][TREE] 14
    // = 218.4 µs at 47 GB/s; ring LL: 6.6 + 15 × 5.0 = 81.6 µs at 20.4 GB/s (llMaxBw, > 2
    // nodes); ring LL128: 14 + 15 × 8.5 = 141.5 µs at 0.92 × 47.
    let small = Self.h100.collective(.reduceScatter, bytes: 1e6, n: 16, stride: 8)
    #expect(small.algorithm == .pat)
    let patSmall = 68.8e-6 + 1e6 * (15.0 / 16) / (0.75 * 47e9)
    #expect(abs(small.seconds.value - patSmall) / patSmall < 1e-9)
    let big = Self.h100.collective(.reduceScatter, bytes: 256 * 1_048_576, n: 16, stride: 8)
    #expect(big.algorithm == .ring && big.proto == .simple)
    let ringBig = 218.4e-6 + 256 * 1_048_576 * (15.0 / 16) / 47e9
    #expect(abs(big.seconds.value - ringBig) / ringBig < 1e-9)
  }

  @Test("512 ranks on 64 nodes, all-reduce of 1 MB: a tree with LL128, latency logarithmic")
  func treeAtScale() {
    // Tree LL128: base 14 + 2·(7 intra hops × 1.25 + log2(64) = 6 network hops × 8.5) = 133.5 µs;
    // its bus bandwidth 0.92 × 360 × 120/128, and a tree's algorithm bandwidth is half its bus
    // bandwidth: 2 · bytes / 310.5 GB/s. The ring's 1,022 steps cost over a millisecond.
    let tree = Self.h100.collective(.allReduce, bytes: 1e6, n: 512, stride: 1)
    #expect(tree.algorithm == .tree && tree.proto == .ll128)
    let expected = 133.5e-6 + 2 * 1e6 / (0.92 * 360e9 * 120 / 128)
    #expect(abs(tree.seconds.value - expected) / expected < 1e-9)
  }

  @Test("SHARP (use_sharp) reduces in the switches: 2 nodes × 8 H100, NVLS off, 1 GiB")
  func sharp() {
    var software = Software()
    software.ncclNVLS = false
    software.sharp = true
    let c = Self.h100.collective(.allReduce, bytes: Self.gib, n: 16, stride: 1, software: software)
    #expect(c.algorithm == .sharp)
    // 2·(3.7 + 7 × 0.4) + hwLat[NET][COLLNET] 31 = 44 µs, at the ring's 360 GB/s (NVLink binds
    // before the node's 8 × 47).
    let expected = 44e-6 + Self.gib * 2 * 15 / 16 / 360e9
    #expect(abs(c.seconds.value - expected) / expected < 1e-9)
    // Without `use_sharp` the same call never picks it.
    software.sharp = false
    #expect(
      Self.h100.collective(.allReduce, bytes: Self.gib, n: 16, stride: 1, software: software)
        .algorithm != .sharp)
  }

  @Test("placement: ranks per NVLink domain from the stride (8-GPU node, 72-GPU rack)")
  func placement() {
    let dp = GroupPlacement(ranks: 64, stride: 4, domain: 8)
    #expect(dp.perDomain == 2 && dp.domains == 32)
    let rack = GroupPlacement(ranks: 64, stride: 4, domain: 72)
    #expect(rack.perDomain == 18 && rack.domains == 4)
    let spread = GroupPlacement(ranks: 16, stride: 32, domain: 8)
    #expect(spread.perDomain == 1 && spread.domains == 16)
  }

  // MARK: - Data-parallel buckets

  /// Llama 3 70B (configs/llama3-70b.yaml) on 128 H100 (16 nodes): t8 p4 v5 d4, with the
  /// distributed optimizer and both overlaps; stage 0 holds 20 layers in 5 chunks.
  static func seventy() throws -> (Evaluator, Layout, StepTimeModel, StagePlan) {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("configs/llama3-70b.yaml")
    let text = try String(contentsOf: url, encoding: .utf8)
    var doc = try ConfigDocument.parse(text, file: "llama3-70b.yaml")
    try doc.override(
      "trainer.num_nodes", with: "16", location: SourceLocation(file: "--set", line: 1, column: 1))
    var run = try ConfigLoader.load(doc).run
    run.software.overlap.gradientReduction = true
    run.software.overlap.parameterGather = true
    let layout = run.layout
    let evaluator = Evaluator(run)
    let costs = evaluator.costs(layout)
    return (
      evaluator, layout, run.stepTime(layout: layout), evaluator.plans(layout, costs: costs)[0]
    )
  }

  @Test(
    "buckets behind a long backward: only the last bucket's reduction and the first gather show")
  func bucketsHidden() throws {
    let (evaluator, layout, time, stage) = try Self.seventy()
    let group = layout.dataParallelWithContext
    let bucket = time.bucketParameters(group: group)
    #expect(layout.data == 4)
    #expect(bucket == 40e6)  // max(40 M, 1 M × d = 4 M)
    // Each chunk-step of backward 1 s, forward 1 s: every reduction finishes before the next
    // bucket is ready, and every gather before its forward needs it.
    let sync = evaluator.dataParallelSync(
      layout, time: time, stage: stage, chunks: layout.virtualStages, spacing: 4,
      chunkForward: 1, chunkBackward: 1)
    let perChunk = (stage.parameters.total - stage.parameters.expert) / Double(layout.virtualStages)
    let full = (perChunk / bucket).rounded(.down)
    let rest = perChunk - full * bucket
    #expect(sync.bucketsPerChunk == Int(full) + (rest > 0 ? 1 : 0))
    // The last bucket to fill is chunk 0's smallest (the rest), ready as backward ends.
    let lastReduce = time.gradientReduction(parameters: rest, group: group).seconds.value
    #expect(abs(sync.reduceExposed.value - lastReduce) < 1e-12)
    // The first bucket's gather (a full one) is needed at once.
    let firstGather = time.parameterGather(parameters: bucket, group: group).seconds.value
    #expect(abs(sync.gatherExposed.value - firstGather) < 1e-12)
  }

  @Test("no compute to hide behind: every reduction and gather is exposed")
  func bucketsExposed() throws {
    let (evaluator, layout, time, stage) = try Self.seventy()
    let sync = evaluator.dataParallelSync(
      layout, time: time, stage: stage, chunks: layout.virtualStages, spacing: 4,
      chunkForward: 0, chunkBackward: 0)
    #expect(abs(sync.reduceExposed.value - sync.reduce.value) < 1e-12)
    #expect(abs(sync.gatherExposed.value - sync.gather.value) < 1e-12)
    #expect(sync.reduce.value > 0 && sync.gather.value > 0)
  }

  @Test("hidden collectives slow the compute beside them by κ/(1 + κ), κ = 18.9 %")
  func contention() {
    let time = StepTimeModel(
      model: NumericsAndHardwareTests.llama(fp8: nil),
      layout: Layout(tensor: 8, microBatch: 1, globalBatch: 1),
      precision: .bf16, gpu: .h100SXM)
    // 1 s of collective behind compute: the compute runs 1.189× slower for that second and
    // leaves 0.189/1.189 s of its work for afterwards.
    #expect(abs(time.contention(hidden: Seconds(1)).value - 0.189 / 1.189) < 1e-12)
    // 10 % of 1 s exposed, 90 % hidden: 0.1 + 0.9 × 0.189/1.189.
    let cost = time.overlapped(Seconds(1), hidden: 0.9).value
    #expect(abs(cost - (0.1 + 0.9 * 0.189 / 1.189)) < 1e-12)
  }

  // MARK: - Host time, CUDA graphs

  @Test("host time: eager launches at 10 µs a kernel; CUDA graphs launch a captured scope at 5 µs")
  func hostTime() {
    let model = NumericsAndHardwareTests.llama(fp8: nil)
    let layout = Layout(tensor: 1, microBatch: 1, globalBatch: 1)
    var time = StepTimeModel(model: model, layout: layout, precision: .bf16, gpu: .h100SXM)
    let shard = LayerDescription.Shard(layout, precision: .bf16)
    let layer = LayerDescription(model, shard)
    // Eager: one kernel per GEMM, one per op that moves bytes, one for the fused attention.
    func kernels(_ ops: [LayerOp]) -> Double {
      var n = 0.0
      for op in ops {
        if op.isAttentionCore {
          n += 1
          continue
        }
        n += Double(op.gemms.count)
        if op.elementwiseBytes > 0 { n += 1 }
      }
      return n
    }
    #expect(
      abs(time.hostSeconds(layer, backward: false).total.value - kernels(layer.ops) * 10e-6) < 1e-12
    )
    // A whole-iteration graph leaves nothing per layer.
    time.software.cudaGraphs = CUDAGraphs(implementation: .fullIteration)
    #expect(time.hostSeconds(layer, backward: false).total == .zero)
    // Per-layer graphs of the attention and the MLP: everything else eager, two graph launches.
    let captured: Set<CUDAGraphs.Scope> = [.attn, .mlp]
    time.software.cudaGraphs = CUDAGraphs(implementation: .transformerEngine, scopes: captured)
    let eager = layer.ops.filter { !captured.contains($0.kind.graphScope(inMoELayer: false)) }
    let scopes = Set(layer.ops.map { $0.kind.graphScope(inMoELayer: false) })
      .intersection(captured).count
    #expect(scopes == 2)
    let expected = kernels(eager) * 10e-6 + Double(scopes) * 5e-6
    #expect(abs(time.hostSeconds(layer, backward: false).total.value - expected) < 1e-12)
    // A whole-layer graph (no scope named) is one launch.
    time.software.cudaGraphs = CUDAGraphs(implementation: .local)
    #expect(abs(time.hostSeconds(layer, backward: false).total.value - 5e-6) < 1e-12)
  }

  // MARK: - NVFP4, GEMM roofline

  @Test("an NVFP4 GEMM on GB200 runs at 35.4 % of 10 PFLOP/s; an FP8 one at 47 % of 5")
  func nvfp4GEMM() {
    let gb200 = Machine(gpu: .gb200NVL72)
    var g = GEMMShape("fc1", m: 8192, n: 8192, k: 8192, fp8: true)
    let fp8 = gb200.time(of: g, precision: .bf16).value
    // 2·8192³ FLOPs; 8,192 is whole tiles of 128; compute-bound by far (HBM: 8 TB/s × 0.9).
    let flops = 2 * 8192.0 * 8192 * 8192
    #expect(abs(fp8 - (flops / (5000e12 * 0.47) + 11e-6)) < 1e-12)
    g.fp4 = true
    let fp4 = gb200.time(of: g, precision: .bf16).value
    #expect(abs(fp4 - (flops / (10_000e12 * 0.354) + 11e-6)) < 1e-12)
  }

  @Test("a GEMM's roofline: a skinny GEMM streams its weights; tiles round M and N up to 128")
  func rooflineAndTiles() {
    // M = 16 rows against a 8192 × 8192 BF16 weight on H100: computed as one 128-row tile,
    // 2·128·8192² FLOPs take 23 µs at 75 % of 989 TFLOP/s, but the 134 MB of weights take
    // 44.5 µs at 0.9 × 3.35 TB/s.
    let g = GEMMShape("proj", m: 16, n: 8192, k: 8192)
    let a: Double = 16 * 8192, w: Double = 8192 * 8192
    let bytes: Double = 2 * (a + w + a)
    let expected: Double = bytes / (3.35e12 * 0.90) + 25e-6
    #expect(abs(Self.h100.time(of: g, precision: .bf16).value - expected) / expected < 1e-9)
    // M = 200 computes as 256 rows: 2·256·8192·8192 at 75 % of peak (compute-bound here).
    let tall = GEMMShape("proj", m: 200, n: 16384, k: 16384)
    let tiledFLOPs: Double = 2 * 256 * 16384 * 16384
    let tiled: Double = tiledFLOPs / (989e12 * 0.75) + 25e-6
    let rows: Double = 200 * 16384, weights: Double = 16384 * 16384
    let streamed: Double = 2 * (rows + weights + rows) / (3.35e12 * 0.90) + 25e-6
    #expect(
      abs(Self.h100.time(of: tall, precision: .bf16).value - max(tiled, streamed)) < 1e-12)
  }

  // MARK: - Config keys, profiles

  static func load(_ extra: String, gpu: String = "b200") throws -> TrainingRun {
    let text = """
      trainer:
        devices: 8
      model:
        num_layers: 4
        hidden_size: 1024
        num_attention_heads: 8
        encoder_seq_length: 2048
        micro_batch_size: 1
        global_batch_size: 8
        bias: false
      \(extra)
      megaplan:
        gpu: \(gpu)
        vocab_size: 1024
      """
    return try ConfigLoader.load(try ConfigDocument.parse(text, file: "t.yaml")).run
  }

  @Test("model.fp4: NVFP4 on Blackwell (0.5625-byte weights with fp4_param); refused on H100")
  func fp4Keys() throws {
    let run = try Self.load("  fp4: e2m1\n  fp4_recipe: nvfp4\n  fp4_param: true")
    #expect(run.model.fp8?.recipe == .nvfp4)
    #expect(run.model.fp8?.primaryWeights == true)
    // NVFP4: 4-bit values and one E4M3 scale per 16 (TE's NVFP4BlockScaling): 0.5 + 1/16.
    #expect(FP8Training.Recipe.nvfp4.primaryWeightBytes == 0.5625)
    do {
      _ = try Self.load("  fp4: e2m1", gpu: "h100-sxm")
      Issue.record("fp4 on H100 was accepted")
    } catch let e as ConfigError {
      #expect(e.description.contains("fp4: e2m1") && e.description.contains("FP4 tensor cores"))
    }
    #expect(throws: ConfigError.self) { try Self.load("  fp4: e2m1\n  fp4_recipe: mxfp4") }
  }

  @Test("CUDA graph keys: cuda_graph_impl and scopes, NeMo's enable_cuda_graph; typos named")
  func cudaGraphKeys() throws {
    let graphs = try Self.load(
      "  cuda_graph_impl: transformer_engine\n  cuda_graph_scope: [attn, mlp]"
    ).software.cudaGraphs
    #expect(graphs.implementation == .transformerEngine && graphs.scopes == [.attn, .mlp])
    #expect(
      try Self.load("  enable_cuda_graph: true").software.cudaGraphs.implementation == .local)
    #expect(
      try Self.load("  external_cuda_graph: true").software.cudaGraphs.implementation
        == .transformerEngine)
    do {
      _ = try Self.load("  cuda_graph_impl: full_iteraton")
      Issue.record("a misspelt cuda_graph_impl was accepted")
    } catch let e as ConfigError {
      #expect(e.description.contains("full_iteration"))
    }
    #expect(throws: ConfigError.self) { try Self.load("  cuda_graph_scope: [attention]") }
  }

  @Test("Megatron-LM flags: --fp4-format, --cuda-graph-impl, --cuda-graph-scope, --use-sharp")
  func megatronFlags() throws {
    let script = """
      torchrun --nnodes 1 --nproc_per_node 8 pretrain_gpt.py --num-layers 4 --hidden-size 1024 --num-attention-heads 8 \\
        --seq-length 2048 --max-position-embeddings 2048 --micro-batch-size 1 \\
        --global-batch-size 8 --bf16 --vocab-size 1024 --fp8-format e4m3 --fp4-format e2m1 \\
        --fp4-recipe nvfp4 --cuda-graph-impl transformer_engine --cuda-graph-scope attn mlp \\
        --use-sharp --ddp-bucket-size 100000000
      """
    var doc = ConfigDocument(root: try MegatronArguments.parse(script, file: "r.sh"), file: "r.sh")
    try doc.override(
      "megaplan.gpu", with: "b200", location: SourceLocation(file: "--set", line: 1, column: 1))
    let run = try ConfigLoader.load(doc).run
    #expect(run.model.fp8?.recipe == .nvfp4)
    #expect(run.software.cudaGraphs.scopes == [.attn, .mlp])
    #expect(run.software.sharp)
    // 100 M parameters of the fp32 gradient buffer (Megatron's default for bf16 training).
    #expect(run.software.bucketBytes == 4e8)
  }

  @Test("B300 and GB300 NVL72 profiles: MLPerf v5.1 system descriptions and datasheet peaks")
  func blackwellUltraProfiles() {
    // nvidia-smi memory in the MLPerf v5.1 system JSONs: 275,040 MiB (B300-SXM-270GB) and
    // 284,208 MiB (GB300); GB300 racks of 72, B300 nodes of 8; ConnectX-8 XDR at 800 Gb/s
    // (100 GB/s) per GPU; dense FP4 13,125 (B300) and 15,000 (GB300) TFLOP/s.
    #expect(GPU.b300.memory.value == 275_040 * 1_048_576)
    #expect(GPU.gb300NVL72.memory.value == 284_208 * 1_048_576)
    #expect(GPU.b300.nvlinkDomain == 8 && GPU.gb300NVL72.nvlinkDomain == 72)
    #expect(
      GPU.b300.interNodePerGPU.value == 100e9 && GPU.gb300NVL72.interNodePerGPU.value == 100e9)
    #expect(GPU.b300.peak4?.value == 13_125e12 && GPU.gb300NVL72.peak4?.value == 15_000e12)
    #expect(GPU.b300.generation == .blackwell && GPU.all.contains(.gb300NVL72))
  }
}
