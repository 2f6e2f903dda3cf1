import Foundation
import Testing
@testable import MegatronPlan

/// `ModelSizing`: monotone in days and GPUs, the answer trains in time and the next rung does not,
/// and the answers for the issue's clusters against published numbers.
@Suite struct ModelSizingTests {
  /// The search without full recompute: the properties below hold for any fixed search space,
  /// and this one is ten times smaller (partial recompute multiplies the layouts by L/p).
  static let lean: LayoutSearch.Options = {
    var o = LayoutSearch.Options()
    o.constraints.recompute = [.none, .selective]
    return o
  }()

  static func answer(
    _ family: ModelFamily = .gpt3, gpus: Int, days: Double,
    budget: ModelSizing.TokenBudget = .tokens(300e9), gpu: GPU = .a100_80GB,
    search: LayoutSearch.Options = lean
  ) throws -> ModelSizing.Result {
    try ModelSizing.largest(
      .init(family: family, gpus: gpus, days: days, budget: budget, gpu: gpu, search: search))
  }

  @Test("more days never yield a smaller model (160 A100s, GPT-3, 300B tokens)")
  func monotoneInDays() throws {
    var last = 0.0
    for days in [3.0, 15, 30, 120] {
      let n = try Self.answer(gpus: 160, days: days).answer?.parameters ?? 0
      #expect(n >= last, "\(days) days: \(n) < \(last)")
      last = n
    }
    #expect(last > 0)
  }

  @Test("more GPUs never yield a smaller model (GPT-3, 30 days, 300B tokens)")
  func monotoneInGPUs() throws {
    var last = 0.0
    for gpus in [8, 160, 480, 512, 1000, 1024, 4096] {
      let n = try Self.answer(gpus: gpus, days: 30).answer?.parameters ?? 0
      #expect(n >= last, "\(gpus) GPUs: \(n) < \(last)")
      last = n
    }
  }

  @Test("more GPUs never yield a smaller model (Llama, H100, 20 tokens per parameter, 60 days)")
  func monotoneInGPUsLlama() throws {
    var last = 0.0
    for gpus in [1024, 4096, 8192] {
      let n =
        try Self.answer(
          .llama, gpus: gpus, days: 60, budget: .perParameter(20), gpu: .h100SXM
        ).answer?.parameters ?? 0
      #expect(n >= last, "\(gpus) GPUs: \(n) < \(last)")
      last = n
    }
  }

  /// Issue 28: 24,576 H100s gave 1.90 T where 16,384 gave 2.28 T (a ladder cut to what each
  /// cluster's memory holds moved the bisection's probes). One ladder for every cluster, and
  /// usable counts that a larger cluster always contains: more GPUs never give a smaller model.
  @Test("more GPUs never yield a smaller model (the issue's Llama, 15T tokens in 365 days)")
  func monotoneInGPUsIssue28() throws {
    let request = { (gpus: Int) in
      try ModelSizing.largest(
        .init(
          family: .llama, gpus: gpus, days: 365, budget: .tokens(15e12), gpu: .h100SXM,
          search: Self.lean))
    }
    let small = try request(16_384), large = try request(24_576)
    let a = try #require(small.answer), b = try #require(large.answer)
    #expect(b.parameters >= a.parameters, "\(b.parameters) < \(a.parameters)")
    // The same ladder for both clusters: the family's, whole.
    let ladder = ModelFamily.llama.ladder(sequenceLength: 8192).count
    #expect(small.ladderSize == ladder && large.ladderSize == ladder)
    // The answer and the next size are timed over every usable count; the answer's layout uses
    // one of them.
    #expect(a.complete && small.next?.complete != false)
    #expect(small.gpuCounts.contains(try #require(a.best).layout.gpus))
    // Its layout's cp is printed, so t·cp·p·d reads as its GPUs (text and CSV).
    let l = try #require(a.best).layout
    #expect(l.contextParallel > 1 && l.tensor * l.contextParallel * l.pipeline * l.data == l.gpus)
    #expect(SizeReport.text(small).contains("t\(l.tensor) cp\(l.contextParallel) p\(l.pipeline) d"))
    let csv = SizeReport.csv(small).components(separatedBy: "\n").map {
      $0.components(separatedBy: ",")
    }
    let column = try #require(csv[0].firstIndex(of: "context_parallel"))
    let row = try #require(csv.first { $0.first == String(a.rung) })
    #expect(row[column] == String(l.contextParallel))
    // Counts that are not a usable count (1,000 and 1,008 GPUs, 125 and 126 nodes) keep the
    // order too: the larger cluster's counts contain the smaller's.
    var last = 0.0
    for gpus in [1_000, 1_008] {
      let n = try Self.answer(gpus: gpus, days: 30).answer?.parameters ?? 0
      #expect(n >= last, "\(gpus) GPUs: \(n) < \(last)")
      last = n
    }
  }

  @Test("the family's largest size is named as the family's, and a size that fits nowhere says why")
  func messages() throws {
    // A year on 4,096 A100s trains GPT-3's largest rung (1.1 T) on 300B tokens with room to spare.
    let top = try Self.answer(gpus: 4096, days: 365)
    #expect(top.atLadderTop)
    let text = SizeReport.text(top)
    #expect(text.contains("this is the GPT-3 family's largest size"), "\(text)")
    #expect(!text.contains("too large for these GPUs' memory"))
    // One GPU cannot hold GPT-3 20B's states (16 bytes a parameter): the reason is memory.
    let none = try Self.answer(gpus: 1, days: 1e-9)
    #expect(none.answer == nil)
    for p in none.probes where p.best == nil {
      let why = try #require(p.reason)
      #expect(
        why.hasPrefix("no layout of 1 GPUs fits") || why.hasPrefix("even at the GPUs' peak"),
        "\(why)")
    }
  }

  @Test("the answer trains in time, the next size does not, and both are the ladder's")
  func bracket() throws {
    let r = try Self.answer(gpus: 640, days: 20)
    let a = try #require(r.answer)
    let days = try #require(a.days)
    #expect(days <= 20)
    #expect(a.meetsDeadline)
    let next = try #require(r.next)
    #expect(next.rung == a.rung + 1)
    #expect(!next.meetsDeadline)
    #expect(next.parameters > a.parameters)
    // About log₂(rungs) probes, each rung once.
    #expect(r.probes.count <= Int(log2(Double(r.ladderSize))) + 2)
    #expect(Set(r.probes.map(\.rung)).count == r.probes.count)
  }

  @Test("1,024 A100s, 34 days, 300B tokens: at least GPT-3 175B, within the best MFU measured")
  func gpt3On1024() throws {
    // N21 §5.1 / Eq. 4: GPT-3 175B trains 300B tokens on 1,024 A100s in 34 days at 140 TFLOP/s
    // per GPU (2021 software), so the largest model that does is at least 175B. No layout runs
    // above K22 Table 5's best MFU (56.3 %, the 1T model), so 6·P·T ≤ 0.563 · n · D · peak.
    let r = try Self.answer(gpus: 1024, days: 34)
    let a = try #require(r.answer)
    #expect(a.parameters >= 174.6e9)
    let implied = 6 * a.parameters * 300e9 / (1024 * 34 * 86_400 * 312e12)
    #expect(implied <= 0.563, "\(a.shape): implied MFU \(implied)")
    #expect(a.shape.hidden >= 12288)
  }

  @Test("160 A100s, 30 days, 300B tokens: between NVIDIA's 20B and 40B")
  func gpt3On160() throws {
    // NeMo-Megatron-Launcher README (3fe00645) §5.2.1: 20B in about 6 days on 640 GPUs (24 days
    // on 160 at perfect scaling, so 20B fits in 30) and 40B in about 10.3 days on 640 (41 days on
    // 160, so 40B does not).
    let a = try #require(try Self.answer(gpus: 160, days: 30).answer)
    #expect(a.parameters >= 20e9 && a.parameters <= 40e9, "\(a.parameters)")
  }

  @Test("Llama on 4,096 H100s, 60 days, 20 tokens per parameter: a compute-optimal size")
  func llamaOn4096() throws {
    // 6·N·20N = 120 N² FLOPs in 4,096 × 60 days × 989.5 TFLOP/s × MFU: Llama 3 trained 405B at
    // 38–43 % MFU (Llama 3 paper, Table 4), so N lies between the sizes at 30 % and 55 % MFU.
    let r = try Self.answer(
      .llama, gpus: 4096, days: 60, budget: .perParameter(20), gpu: .h100SXM)
    let a = try #require(r.answer)
    let compute = 4096 * 60 * 86_400 * 989.5e12
    #expect(a.parameters >= (compute * 0.30 / 120).squareRoot())
    #expect(a.parameters <= (compute * 0.55 / 120).squareRoot())
    #expect(abs(a.tokens - 20 * a.parameters) < 1)
    #expect(a.shape.queryGroups == 8 && a.shape.hidden == 128 * a.shape.heads)
  }

  @Test("no model trains in time: no answer, the smallest rung reported")
  func nothing() throws {
    let r = try Self.answer(gpus: 8, days: 0.01)
    #expect(r.answer == nil)
    #expect(r.next?.rung == 0)
  }

  @Test("the cluster's GPU counts: whole nodes a·2^k (a < 32), one set cut at the cluster")
  func counts() {
    // 10,000 = 1,250 nodes of 8. Node counts a·2^k with a < 32 at or below 1,250, by hand:
    // 1,216 = 19·64, 1,152 = 9·128, 1,088 = 17·64, 1,024, 992 = 31·32, 960 = 15·64, 928 = 29·32.
    let counts = ModelSizing.gpuCounts(upTo: 10_000, gpusPerNode: 8)
    #expect(Array(counts.prefix(7)) == [9_728, 9_216, 8_704, 8_192, 7_936, 7_680, 7_424])
    // Every node count to 31 is usable, and below a node every GPU count to 7.
    #expect(Array(counts.suffix(10)) == [24, 16, 8, 7, 6, 5, 4, 3, 2, 1])
    #expect(ModelSizing.gpuCounts(upTo: 4, gpusPerNode: 8) == [4, 3, 2, 1])
    // One set cut at the cluster: a larger cluster's counts include every smaller one's.
    for (small, large) in [(160, 168), (10_000, 10_008), (16_384, 24_576), (12, 16)] {
      let big = Set(ModelSizing.gpuCounts(upTo: large, gpusPerNode: 8))
      #expect(Set(ModelSizing.gpuCounts(upTo: small, gpusPerNode: 8)).isSubset(of: big))
    }
    #expect(ModelSizing.gpuCounts(upTo: 160, gpusPerNode: 8).first == 160)  // 20 nodes = 5·4
  }

  @Test("bad requests throw")
  func errors() {
    #expect(throws: ModelSizing.SizingError.self) { try Self.answer(gpus: 0, days: 1) }
    #expect(throws: ModelSizing.SizingError.self) { try Self.answer(gpus: 8, days: -1) }
    #expect(throws: ModelSizing.SizingError.self) {
      try Self.answer(gpus: 8, days: 1, budget: .perParameter(0))
    }
  }
}
