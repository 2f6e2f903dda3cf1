import Foundation
import Testing
@testable import MegatronPlan

@Suite struct LayoutSearchTests {
  static func base(
    _ run: PaperRun, sp: Bool = true, recompute: Recompute = .selective, gpu: GPU = .a100_80GB
  ) -> TrainingRun {
    TrainingRun(model: run.model, layout: run.layout(sp: sp, recompute: recompute), gpu: gpu)
  }

  // MARK: - K22 Table 3

  @Test(
    "the published K22 layout is feasible and the best found is at least as fast",
    arguments: PaperRun.all)
  func paperLayoutIsFeasibleAndBeaten(_ paper: PaperRun) throws {
    let base = Self.base(paper)
    let published = base.layout
    // The published layout alone (t8, p, v, b fixed; SP on; selective): it must be feasible.
    let only = try LayoutSearch.search(
      base,
      options: .init(
        constraints: .init(
          gpus: paper.gpus, tensor: paper.t, pipeline: paper.p, virtualStages: paper.v,
          microBatch: paper.micro,
          recompute: [.selective], sequenceParallel: .on)))
    // d = 1 (K22: no data parallelism), so exactly one layout: SP + selective, DO off.
    #expect(only.layouts == 1)
    #expect(only.feasible == 1)
    #expect(only.best?.layout == published)

    let all = try LayoutSearch.search(base, options: .init(constraints: .init(gpus: paper.gpus)))
    let best = try #require(all.best)
    #expect(all.feasible > 1)
    let publishedSpeed = Estimate(base).throughput.tokensPerSecond
    #expect(best.estimate.throughput.tokensPerSecond >= publishedSpeed)
    #expect(best.layout.gpus == paper.gpus)
    #expect(best.layout.globalBatch == paper.batch)
  }

  @Test("every returned candidate passes check with default limits", arguments: PaperRun.all)
  func candidatesPassCheck(_ paper: PaperRun) throws {
    let result = try LayoutSearch.search(Self.base(paper), options: .init(top: 8))
    #expect(!result.candidates.isEmpty)
    for c in result.candidates {
      let (_, violations) = Check.evaluate(c.run, limits: CheckLimits())
      #expect(violations.isEmpty, "\(c.layout)")
      #expect(c.layout.violations(for: c.run.model).isEmpty)
    }
    // Ranked best first by tokens/s.
    let speeds = result.candidates.map(\.estimate.throughput.tokensPerSecond)
    #expect(speeds == speeds.sorted(by: >))
  }

  // MARK: - Determinism and agreement with Estimate

  @Test("same answer whatever the evaluation order and thread count")
  func determinism() throws {
    let paper = PaperRun.all[1]  // 175B, 64 GPUs
    var reference: LayoutSearch.Result? = nil
    let orders: [(LayoutSearch.EvaluationOrder, Int)] = [
      (.forward, 1), (.reversed, 1), (.forward, 2), (.reversed, 4), (.shuffled(seed: 1), 3),
      (.shuffled(seed: 42), 8),
      (.shuffled(seed: 7), 1),
    ]
    for (order, threads) in orders {
      var options = LayoutSearch.Options(top: 10, threads: threads)
      options.order = order
      let r = try LayoutSearch.search(Self.base(paper), options: options)
      guard let ref = reference else {
        reference = r
        continue
      }
      #expect(
        r.candidates.map(\.layout) == ref.candidates.map(\.layout), "\(order), \(threads) threads")
      #expect(r.evaluated == ref.evaluated)
      #expect(r.feasible == ref.feasible)
      #expect(r.rejected == ref.rejected)
      #expect(r.reason == ref.reason)
    }
  }

  /// Brute force with `Estimate` on every layout of a small space (22B on 8 A100 40GB, B 16),
  /// enumerated here independently, must agree with the search on feasibility counts and on the
  /// top K.
  @Test("agrees with one Estimate per layout on a small space")
  func agreesWithBruteForce() throws {
    let model = PaperRun.all[0].model  // 22B: 48 layers, 64 heads, h 6144
    let gpus = 8, batch = 16
    let base = TrainingRun(
      model: model, layout: Layout(tensor: 8, microBatch: 1, globalBatch: batch), gpu: .a100_40GB)
    var fits: [(Layout, Double)] = []
    var tooBig = 0
    for t in 1...8 where model.heads % t == 0 {
      for p in 1...model.layers where model.layers % p == 0 && gpus % (t * p) == 0 {
        let d = gpus / (t * p)
        for b in 1...batch where batch % (b * d) == 0 {
          let m = batch / (b * d)
          for v in 1...(model.layers / p)
          where (model.layers / p) % v == 0 && (v == 1 || (p > 1 && m % p == 0)) {
            let lc = model.layers / (p * v)
            let recomputes: [Recompute] =
              [.none, .selective, .full(method: .uniform, layers: 1)]
              + (1..<lc).map { .full(method: .block, layers: $0) }
            for sp in t > 1 ? [false, true] : [false] {
              for rc in recomputes {
                for dOpt in d > 1 ? [false, true] : [false] {
                  let l = Layout(
                    tensor: t, pipeline: p, data: d, virtualStages: v, microBatch: b,
                    globalBatch: batch,
                    sequenceParallel: sp, recompute: rc, distributedOptimizer: dOpt)
                  #expect(l.violations(for: model).isEmpty)
                  var run = base
                  run.layout = l
                  let e = Estimate(run)
                  if e.memory.totalBytes <= e.memory.capacityBytes * 0.95 {
                    fits.append((l, e.throughput.tokensPerSecond))
                  } else {
                    tooBig += 1
                  }
                }
              }
            }
          }
        }
      }
    }
    let result = try LayoutSearch.search(
      base, options: .init(top: 10, constraints: .init(gpus: gpus)))
    #expect(result.feasible == fits.count)
    #expect(result.rejected(.memory) == tooBig)
    #expect(tooBig > 0)  // the 40 GB part makes memory bind
    let expected = fits.sorted { a, b in
      a.1 != b.1
        ? a.1 > b.1 : LayoutSearch.tieKey(a.0).lexicographicallyPrecedes(LayoutSearch.tieKey(b.0))
    }.prefix(10).map(\.0)
    #expect(result.candidates.map(\.layout) == Array(expected))
  }

  // MARK: - Counting, by hand

  /// 4 layers, 4 heads, 8 A100 (8 per node), B = 8; every layout fits.
  /// t in 1…8: 3, 5, 6, 7, 8 do not divide 4 heads → 5 cuts; t = 1, 2, 4 remain.
  /// p in 1…4: p = 3 does not divide 4 layers (once per t → 3); t = 4, p = 4 needs 16 GPUs → 1.
  /// (t, p, d): (1,1,8) (1,2,4) (1,4,2) (2,1,4) (2,2,2) (2,4,1) (4,1,2) (4,2,1).
  /// b in 1…B/d: b = 3 for each d = 2 (3 cuts), b = 3, 5, 6, 7 for each d = 1 (8 cuts) → 11.
  /// v in 1…L/p (p > 1), all divide L/p ∈ {1, 2}; v = 2 needs m = 8/(b·d) even: cut for
  /// (1,2,4) b 2, (2,2,2) b 4, (4,2,1) b 8 → 3.
  /// Layouts: recompute options Lc + 2 (none, selective, uniform, block k < Lc), × SP (2 if t > 1)
  /// × DO (2 if d > 1):
  /// (1,1,8): 6·2 = 12; (1,2,4): b1 (4+3)·2 + b2 4·2 = 22; (1,4,2): 3 b × 3 × 2 = 18;
  /// (2,1,4): 2 b × 6 × 4 = 48; (2,2,2): (7+7+4) × 4 = 72; (2,4,1): 4 b × 3 × 2 = 24;
  /// (4,1,2): 3 b × 6 × 4 = 72; (4,2,1): (7+7+7+4) × 2 = 50. Total 318.
  static let tiny = TrainingRun(
    model: TransformerModel(layers: 4, hidden: 64, heads: 4, sequenceLength: 128, vocabulary: 1024),
    layout: Layout(microBatch: 1, globalBatch: 8))

  @Test("hand-counted space of a tiny model")
  func handCountedSpace() throws {
    var evenOnly = LayoutSearch.Constraints(gpus: 8)
    evenOnly.unevenSplits = false
    let r = try LayoutSearch.search(Self.tiny, options: .init(constraints: evenOnly))
    #expect(r.layouts == 318)
    #expect(r.feasible == 318)
    #expect(r.rejected(.memory) == 0)
    #expect(r.rejected(.tensorDoesNotDivideHeads) == 5)
    #expect(r.rejected(.pipelineDoesNotDivideLayers) == 3)
    #expect(r.rejected(.gpusNotDivisible) == 1)
    #expect(r.rejected(.batchNotDivisible) == 11)
    #expect(r.rejected(.virtualDoesNotDivideLayers) == 0)
    #expect(r.rejected(.interleavedMicrobatches) == 3)
    #expect(r.evaluated == 318 + 5 + 3 + 1 + 11 + 3)
    #expect(r.rejected[.memory] == nil)
  }

  /// Issue 28: with uneven splits (the default) p = 3 of the 4 layers splits 1/2/1 with the
  /// embedding and the loss counted as layers ((4 + 2)/3 = 2 a stage), so its three cuts (t = 1,
  /// 2, 4) are no longer "p does not divide the layers" but "t·3 does not divide 8 GPUs"; the
  /// layouts are the same 318.
  @Test("hand-counted space with uneven splits: p = 3 is cut by the GPUs, not the layers")
  func handCountedUnevenSpace() throws {
    let r = try LayoutSearch.search(Self.tiny, options: .init(constraints: .init(gpus: 8)))
    #expect(r.layouts == 318)
    #expect(r.rejected(.pipelineDoesNotDivideLayers) == 0)
    #expect(r.rejected(.gpusNotDivisible) == 1 + 3)
    #expect(r.evaluated == 318 + 5 + 0 + 4 + 11 + 3)
    // Megatron-Core's splits of L layers over p stages p does not divide, by hand.
    let splits = { (l: Int, p: Int) in
      LayoutSearch.unevenSplits(layers: l, stages: p).map { split in
        (0..<p).map { i in split.layers(onStage: i, of: l, stages: p) }
      }
    }
    #expect(splits(4, 3) == [[1, 2, 1]])  // (4 + 2)/3; first/last (1, 1) repeats it
    #expect(splits(6, 4) == [[1, 2, 2, 1]])  // (6 + 2)/4; (6 + 1)/4 is no integer
    #expect(splits(7, 4) == [[1, 2, 2, 2], [2, 2, 2, 1]])  // (7 + 1)/4: embedding, then loss
    // 126 layers on 12 stages: 128 and 127 are no multiples of 12; ⌈126/12⌉ = 11 on the 10
    // middle stages leaves 16, halved: 8 and 8.
    #expect(splits(126, 12).map { [$0[0], $0[1], $0[11]] } == [[8, 11, 8]])
    #expect(splits(126, 16).map { [$0[0], $0[1], $0[15]] } == [[7, 8, 7]])  // (126 + 2)/16
    #expect(splits(8, 4).isEmpty && splits(3, 4).isEmpty)
  }

  /// The search scores an uneven layout from its candidate stages (`Layout.candidateStages`:
  /// the first, the second and the last); a full evaluation of every stage agrees, time and
  /// peak, for every layout it keeps of a 6-layer model on 8 GPUs (p = 4 only splits unevenly).
  @Test("uneven layouts: the search's score equals a full evaluation of every stage")
  func unevenAgreesWithEvaluation() throws {
    var six = Self.tiny
    six.model.layers = 6
    let r = try LayoutSearch.search(six, options: .init(top: 1000, constraints: .init(gpus: 8)))
    let uneven = r.candidates.filter { !$0.layout.split.isEven }
    #expect(!uneven.isEmpty)
    for c in uneven {
      #expect(c.layout.pipeline == 4 && c.layout.split.embeddingCountsAsLayer)
      let run = six.with(layout: c.layout)
      let score = Evaluator(run).score(c.layout)
      let full = Evaluator(run).evaluate(c.layout)
      #expect(score.seconds == full.seconds, "\(c.layout)")
      #expect(score.peakBytes == full.mostLoaded.peakBytes, "\(c.layout)")
    }
  }

  /// The nearest miss is the rejected layout of least peak: with the usable fraction at its
  /// peak over the capacity it fits, and a hair below that nothing does.
  @Test("the nearest miss has the least peak of the space; each fix it names fits")
  func nearestMiss() throws {
    let run = Self.tiny
    let none = try LayoutSearch.search(
      run, options: .init(constraints: .init(gpus: 8), maxMemoryFraction: 1e-3))
    #expect(none.candidates.isEmpty)
    let noFit = try #require(none.noFit)
    let nearest = try #require(noFit.nearest)
    let capacity = run.gpu.memory.value
    let f = nearest.mostLoaded.peakBytes / capacity
    let at = try LayoutSearch.search(
      run, options: .init(top: 1000, constraints: .init(gpus: 8), maxMemoryFraction: f))
    #expect(at.candidates.contains { $0.layout == nearest.layout })
    #expect(
      at.candidates.allSatisfy {
        $0.evaluation.mostLoaded.peakBytes == nearest.mostLoaded.peakBytes
      })
    let below = try LayoutSearch.search(
      run, options: .init(constraints: .init(gpus: 8), maxMemoryFraction: f * (1 - 1e-9)))
    #expect(below.candidates.isEmpty)
    for fix in noFit.fixes { #expect(fix.best.evaluation.fits, "\(fix.change)") }
  }

  @Test("with no memory allowed every layout is a memory rejection")
  func everythingRejectedForMemory() throws {
    let r = try LayoutSearch.search(
      Self.tiny, options: .init(constraints: .init(gpus: 8), maxMemoryFraction: 0))
    #expect(r.feasible == 0)
    #expect(r.rejected(.memory) == 318)
    #expect(r.candidates.isEmpty)
    #expect(r.reason == nil)
  }

  @Test("constraints restrict the space")
  func constraints() throws {
    // t = 2 only, SP on, recompute none, DO off: (2,1,4) b 1, 2 → 2; (2,2,2) b 1, 2, 4 with v 1
    // and v 2 for b 1, 2 → 5; (2,4,1) b 1, 2, 4, 8 → 4. 11 layouts.
    let r = try LayoutSearch.search(
      Self.tiny,
      options: .init(
        constraints: .init(
          gpus: 8, tensor: 2, recompute: [.none], sequenceParallel: .on, distributedOptimizer: false
        )))
    #expect(r.layouts == 11)
    for c in r.candidates {
      #expect(
        c.layout.tensor == 2 && c.layout.sequenceParallel && c.layout.recompute == .none
          && !c.layout.distributedOptimizer)
    }
    // A fixed t that cannot work is counted, not an error.
    let bad = try LayoutSearch.search(
      Self.tiny, options: .init(constraints: .init(gpus: 8, tensor: 3)))
    #expect(bad.layouts == 0)
    #expect(bad.rejected(.tensorDoesNotDivideHeads) == 1)
    let wide = try LayoutSearch.search(
      Self.tiny, options: .init(constraints: .init(gpus: 8, tensor: 16)))
    #expect(wide.rejected(.tensorExceedsNode) == 1)
    #expect(throws: LayoutSearch.SearchError.self) {
      try LayoutSearch.search(Self.tiny, options: .init(constraints: .init(gpus: 0)))
    }
  }

  // MARK: - Objectives

  @Test("objective gpus: fewest GPUs that meet the deadline, then the fastest")
  func fewestGPUs() throws {
    var base = Self.base(PaperRun.all[1])  // 175B
    base.trainTokens = 1e9
    let r = try LayoutSearch.search(
      base, options: .init(objective: .gpus, top: 3, maxDays: 1000, constraints: .init(gpus: 64)))
    let best = try #require(r.best)
    #expect(best.meetsDeadline == true)
    // No smaller whole-node count has any feasible layout (checked count by count).
    for n in r.gpuCounts where n < best.layout.gpus {
      let smaller = try LayoutSearch.search(base, options: .init(constraints: .init(gpus: n)))
      #expect(smaller.feasible == 0, "\(n) GPUs")
    }
    #expect(r.gpuCounts.allSatisfy { $0 % 8 == 0 })
    let counts = r.candidates.map(\.layout.gpus)
    #expect(counts == counts.sorted())
    #expect(throws: LayoutSearch.SearchError.missingMaxDays) {
      try LayoutSearch.search(base, options: .init(objective: .gpus))
    }
    #expect(LayoutSearch.gpuCounts(upTo: 20, gpusPerNode: 8) == [8, 16, 20])
    #expect(LayoutSearch.gpuCounts(upTo: 4, gpusPerNode: 8) == [4])
  }

  @Test("objective days ranks as throughput at a fixed GPU count")
  func daysMatchesThroughput() throws {
    var base = Self.base(PaperRun.all[1])
    base.trainTokens = 300e9
    let a = try LayoutSearch.search(base, options: .init(objective: .throughput, top: 5))
    let b = try LayoutSearch.search(base, options: .init(objective: .days, top: 5))
    #expect(a.candidates.map(\.layout) == b.candidates.map(\.layout))
    let days = b.candidates.compactMap(\.estimate.training.days)
    #expect(days == days.sorted())
  }

  // MARK: - Why the winner wins

  @Test("the reason names the largest saving: interleaving shrinks the bubble")
  func reasonBubble() throws {
    // 175B published (v = 3) against the same layout without interleaving: the bubble is
    // (p − 1)/(v·m) = 7/(3·64) = 3.6% vs 7/64 = 10.9% (N21 §2.2.2), the largest difference.
    let paper = PaperRun.all[1]
    let winner = Self.base(paper)
    var runnerUp = winner
    runnerUp.layout.virtualStages = 1
    let w = LayoutSearch.Candidate(
      rank: 1, evaluation: Evaluator(winner).evaluate(), meetsDeadline: nil)
    let r = LayoutSearch.Candidate(
      rank: 2, evaluation: Evaluator(runnerUp).evaluate(), meetsDeadline: nil)
    #expect(LayoutSearch.why(w, beats: r) == "smaller pipeline bubble: 3.6% vs 10.9%")
  }

  @Test("the reason names the largest saving: no recompute")
  func reasonRecompute() throws {
    let paper = PaperRun.all[0]  // 22B, p = 1: no bubble; full recompute reruns the forward
    let winner = Self.base(paper, sp: true, recompute: .none)
    let runnerUp = Self.base(paper, sp: true, recompute: .full(method: .uniform, layers: 1))
    let we = Evaluator(winner).evaluate(), re = Evaluator(runnerUp).evaluate()
    let w = LayoutSearch.Candidate(rank: 1, evaluation: we, meetsDeadline: nil)
    let r = LayoutSearch.Candidate(rank: 2, evaluation: re, meetsDeadline: nil)
    #expect(LayoutSearch.why(w, beats: r).hasPrefix("less recompute: 0.00 s vs "))
  }

  // MARK: - Benchmark

  @Test("benchmark figures are consistent")
  func benchmarkFigures() throws {
    let b = try LayoutSearch.benchmark(
      Self.tiny, options: .init(constraints: .init(gpus: 8)), repetitions: 1, estimateSample: 20)
    #expect(b.layouts == 318)
    #expect(b.evaluated == 341)
    #expect(b.seconds > 0 && b.layoutsPerSecond > 0 && b.estimateSeconds > 0)
    #expect(b.estimateSample == 20)
  }

  // MARK: - Emitted config

  static let yaml = """
    # 175B on 64 A100
    trainer:
      num_nodes: 8
      devices: 8  # per node
      precision: bf16

    model:
      num_layers: 96
      global_batch_size: 64
      micro_batch_size: 1
      tensor_model_parallel_size: 8  # within a node
      pipeline_model_parallel_size: 8
      virtual_pipeline_model_parallel_size: 3
      sequence_parallel: true
      activations_checkpoint_granularity: selective
      optim:
        name: fused_adam
        lr: 1e-4

    megaplan:
      gpu: a100-80gb

    """

  /// Reads `section.key: value` lines back by indentation (independent of the emitter).
  static func values(_ text: String) -> [String: String] {
    var out: [String: String] = [:]
    var path: [(Int, String)] = []
    for line in text.split(separator: "\n") {
      let indent = line.prefix { $0 == " " }.count
      let body = line.dropFirst(indent)
      if body.hasPrefix("#") { continue }
      guard let colon = body.firstIndex(of: ":") else { continue }
      let key = String(body[..<colon])
      var value = String(body[body.index(after: colon)...])
      if let hash = value.range(of: "#") { value = String(value[..<hash.lowerBound]) }
      while let last = path.last, last.0 >= indent { path.removeLast() }
      path.append((indent, key))
      out[path.map(\.1).joined(separator: ".")] = value.trimmingCharacters(in: .whitespaces)
    }
    return out
  }

  static func layout(from v: [String: String]) -> Layout? {
    func int(_ k: String) -> Int? { v[k].flatMap { Int($0) } }
    guard let t = int("model.tensor_model_parallel_size"),
      let p = int("model.pipeline_model_parallel_size"),
      let nodes = int("trainer.num_nodes"), let devices = int("trainer.devices"),
      let b = int("model.micro_batch_size"), let gb = int("model.global_batch_size")
    else { return nil }
    let recompute: Recompute
    switch v["model.activations_checkpoint_granularity"] {
    case "selective": recompute = .selective
    case "full":
      guard
        let method = v["model.activations_checkpoint_method"].flatMap(
          RecomputeMethod.init(rawValue:)),
        let k = int("model.activations_checkpoint_num_layers")
      else { return nil }
      recompute = .full(method: method, layers: k)
    default: recompute = .none
    }
    return Layout(
      tensor: t, pipeline: p, data: nodes * devices / (t * p),
      virtualStages: int("model.virtual_pipeline_model_parallel_size") ?? 1,
      microBatch: b, globalBatch: gb, sequenceParallel: v["model.sequence_parallel"] == "true",
      recompute: recompute,
      distributedOptimizer: v["model.optim.name"] == "distributed_fused_adam")
  }

  static let emitCases: [Layout] = [
    Layout(
      tensor: 4, pipeline: 4, data: 8, virtualStages: 1, microBatch: 2, globalBatch: 64,
      sequenceParallel: false,
      recompute: .full(method: .block, layers: 3), distributedOptimizer: true),
    Layout(
      tensor: 8, pipeline: 8, data: 1, virtualStages: 3, microBatch: 1, globalBatch: 64,
      sequenceParallel: true,
      recompute: .selective),
    Layout(tensor: 2, pipeline: 1, data: 2, microBatch: 4, globalBatch: 64, recompute: .none),
    Layout(
      tensor: 8, pipeline: 2, data: 4, microBatch: 1, globalBatch: 64, sequenceParallel: true,
      recompute: .full(method: .uniform, layers: 1), distributedOptimizer: false),
  ]

  @Test("emitted config round-trips the layout", arguments: emitCases)
  func emitRoundTrip(_ layout: Layout) throws {
    let out = LayoutSearch.emitConfig(Self.yaml, layout: layout, gpusPerNode: 8)
    let derived = try #require(Self.layout(from: Self.values(out)))
    #expect(derived == layout)
    // Emitting again changes nothing.
    #expect(LayoutSearch.emitConfig(out, layout: layout, gpusPerNode: 8) == out)
  }

  @Test("emitted config keeps comments and edits values in place")
  func emitInPlace() {
    let layout = Self.emitCases[0]
    let out = LayoutSearch.emitConfig(Self.yaml, layout: layout, gpusPerNode: 8)
    let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    #expect(lines.contains("  devices: 8  # per node"))
    #expect(lines.contains("  num_nodes: 16"))
    #expect(lines.contains("  tensor_model_parallel_size: 4  # within a node"))
    #expect(lines.contains("  virtual_pipeline_model_parallel_size: null"))
    #expect(lines.contains("  sequence_parallel: false"))
    #expect(lines.contains("  activations_checkpoint_granularity: full"))
    #expect(lines.contains("    name: distributed_fused_adam"))
    #expect(lines.contains("    lr: 1e-4"))
    #expect(lines.first == "# 175B on 64 A100")
    // Missing keys are appended under model, after its last line (the optim block).
    let lr = lines.firstIndex(of: "    lr: 1e-4") ?? -1
    #expect(lines[lr + 1] == "  activations_checkpoint_method: block")
    #expect(lines[lr + 2] == "  activations_checkpoint_num_layers: 3")
    #expect(lines[lr + 3] == "")
    #expect(lines[lr + 4] == "megaplan:")
    #expect(out.count(where: { $0 == "\n" }) == Self.yaml.count(where: { $0 == "\n" }) + 2)
    // Without DO, a distributed optimizer already there is switched back.
    let back = LayoutSearch.emitConfig(out, layout: Self.emitCases[1], gpusPerNode: 8)
    #expect(back.contains("    name: fused_adam\n"))
  }

  @Test("emitted config creates missing sections")
  func emitMissingSections() throws {
    let text = "model:\n  num_layers: 96\n  global_batch_size: 64\n"
    let layout = Self.emitCases[0]
    let out = LayoutSearch.emitConfig(text, layout: layout, gpusPerNode: 8)
    #expect(
      out.hasPrefix("model:\n  num_layers: 96\n  global_batch_size: 64\n  micro_batch_size: 2\n"))
    #expect(out.contains("\n  optim:\n    name: distributed_fused_adam\n"))
    #expect(out.contains("trainer:\n  num_nodes: 16\n  devices: 8\n"))
    #expect(Self.layout(from: Self.values(out)) == layout)
  }
}

extension Layout: CustomTestStringConvertible {
  public var testDescription: String {
    "t\(tensor) p\(pipeline) d\(data) v\(virtualStages) b\(microBatch) B\(globalBatch)\(sequenceParallel ? " SP" : "") \(recompute)\(distributedOptimizer ? " DO" : "")"
  }
}

extension LayoutSearchTests {
  @Test("JSON carries the counts and the candidates")
  func json() throws {
    let r = try LayoutSearch.search(Self.tiny, options: .init(top: 2, constraints: .init(gpus: 8)))
    let text = try r.json()
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    #expect(object["evaluated"] as? Int == 341)
    #expect(object["feasible"] as? Int == 318)
    #expect((object["rejected"] as? [String: Int])?["batch_not_divisible"] == 11)
    #expect((object["candidates"] as? [Any])?.count == 2)
    #expect(try r.json() == text)
  }
}

// MARK: - Expert parallelism

extension LayoutSearchTests {
  /// 4 MoE layers (h 256, 8 heads, 4 experts of 1,024, top-2, s 512) on 8 A100 40 GB, B 16.
  static let tinyMoE = TrainingRun(
    model: TransformerModel(
      layers: 4, hidden: 256, heads: 8, sequenceLength: 512, vocabulary: 4096,
      moe: MixtureOfExperts(experts: 4, topK: 2, expertFFN: 1024)),
    layout: Layout(microBatch: 1, globalBatch: 16), gpu: .a100_40GB)

  /// Every layout by brute force, with EP dividing the 4 experts and ETP ∈ {1, t} (ETP · EP
  /// dividing t·d: Megatron-Core's rules), SP required with t > 1 (Megatron-Core's rule for
  /// MoE), one `Estimate` each: the search finds the same feasible set and the same top 10.
  @Test("MoE: EP and ETP are searched; the search agrees with one Estimate per layout")
  func expertParallelAgreesWithBruteForce() throws {
    let base = Self.tinyMoE, model = base.model, gpus = 8, batch = 16
    var fits: [(Layout, Double)] = []
    var tooBig = 0
    var expertSizes = Set<Int>()
    for t in 1...8 where model.heads % t == 0 {
      for p in 1...model.layers where model.layers % p == 0 && gpus % (t * p) == 0 {
        let d = gpus / (t * p)
        for b in 1...batch where batch % (b * d) == 0 {
          let m = batch / (b * d)
          for v in 1...(model.layers / p)
          where (model.layers / p) % v == 0 && (v == 1 || (p > 1 && m % p == 0)) {
            let lc = model.layers / (p * v)
            let recomputes: [Recompute] =
              [.none, .selective, .full(method: .uniform, layers: 1)]
              + (1..<lc).map { .full(method: .block, layers: $0) }
            for etp in Set([1, t]) {
              for ep in [1, 2, 4] where (t * d) % (ep * etp) == 0 {
                for rc in recomputes {
                  for dOpt in d > 1 ? [false, true] : [false] {
                    let l = Layout(
                      tensor: t, pipeline: p, data: d, virtualStages: v, microBatch: b,
                      globalBatch: batch, sequenceParallel: t > 1, recompute: rc,
                      distributedOptimizer: dOpt, expertParallel: ep, expertTensorParallel: etp)
                    #expect(l.violations(for: model).isEmpty, "\(l)")
                    let e = Estimate(base.with(layout: l))
                    if e.memory.fits {
                      fits.append((l, e.throughput.tokensPerSecond))
                      expertSizes.insert(ep)
                    } else {
                      tooBig += 1
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    let result = try LayoutSearch.search(
      base, options: .init(top: 10, constraints: .init(gpus: gpus)))
    #expect(result.feasible == fits.count)
    #expect(result.rejected(.memory) == tooBig)
    #expect(expertSizes == [1, 2, 4])
    let expected = fits.sorted { a, b in
      a.1 != b.1
        ? a.1 > b.1 : LayoutSearch.tieKey(a.0).lexicographicallyPrecedes(LayoutSearch.tieKey(b.0))
    }.prefix(10).map(\.0)
    #expect(result.candidates.map(\.layout) == Array(expected))
    // `file` keeps the file's EP (1) and ETP (t).
    var constraints = LayoutSearch.Constraints(gpus: gpus)
    constraints.expertParallel = .asBase
    constraints.expertTensorParallel = .asBase
    let fixed = try LayoutSearch.search(base, options: .init(top: 50, constraints: constraints))
    #expect(fixed.candidates.allSatisfy { $0.layout.expertParallel == 1 })
    #expect(fixed.candidates.allSatisfy { $0.layout.expertTensorParallel == $0.layout.tensor })
    #expect(fixed.layouts < result.layouts)
  }

  @Test("the emitted MoE config loads back to the winner's EP and ETP")
  func emitExpertParallel() throws {
    let text = """
      trainer:
        num_nodes: 1
        devices: 8
      model:
        num_layers: 4
        hidden_size: 256
        num_attention_heads: 8
        encoder_seq_length: 512
        micro_batch_size: 1
        global_batch_size: 16
        num_moe_experts: 4
        moe_ffn_hidden_size: 1024
        expert_model_parallel_size: 1
      megaplan:
        vocab_size: 4096
        gpu: a100-40gb

      """
    let loaded = try ConfigLoader.load(ConfigDocument.parse(text, file: "moe.yaml")).run
    let best = try #require(try LayoutSearch.search(loaded).best)
    let emitted = LayoutSearch.emitConfig(text, winner: best.run, base: loaded)
    let back = try ConfigLoader.load(ConfigDocument.parse(emitted, file: "out.yaml")).run
    #expect(back.layout == best.layout)
    #expect(Estimate(back).time.iterationSeconds == best.estimate.time.iterationSeconds)
  }
}
