import Foundation
import Testing
@testable import MegatronPlan

/// `NodeScaling` and the batch rules, with expected values derived by hand.
@Suite struct NodeScalingTests {
  static func fiveB() throws -> TrainingRun {
    let (text, file) = try fixture("nemo-launcher-2022/gpt3/5b.yaml")
    return try ConfigLoader.load(try ConfigDocument.parse(text, file: file)).run
  }

  @Test("the nearest multiple, ties upward, at least one step")
  func nearest() {
    #expect(LayoutSearch.nearestMultiple(of: 320, to: 2048) == 1920)  // 128 below vs 192 above
    #expect(LayoutSearch.nearestMultiple(of: 80, to: 2048) == 2080)  // 48 below vs 32 above
    #expect(LayoutSearch.nearestMultiple(of: 320, to: 1440) == 1600)  // 160 either way: upward
    #expect(LayoutSearch.nearestMultiple(of: 32, to: 2048) == 2048)
    #expect(LayoutSearch.nearestMultiple(of: 5000, to: 2048) == 5000)
  }

  @Test("the file's layout: d follows the nodes; an indivisible batch skips or adjusts")
  func fileLayout() throws {
    let run = try Self.fiveB()  // t1 p1 b2, global batch 2,048
    let kept = try NodeScaling.table(run, options: .init(nodes: [1, 20], mode: .file))
    #expect(kept.rows[0].run?.layout.data == 8)
    #expect(kept.rows[0].globalBatch == 2048)
    // 20 nodes: d = 160, b·d = 320 does not divide 2,048.
    #expect(kept.rows[1].estimate == nil)
    #expect(kept.rows[1].skipped?.contains("320") == true)
    #expect(kept.rows[1].skipped?.contains("1,920") == true)
    let adjusted = try NodeScaling.table(
      run, options: .init(nodes: [1, 20], adjustBatch: true, mode: .file))
    #expect(adjusted.rows[1].globalBatch == 1920)
    #expect(adjusted.rows[1].batchAdjusted)
    #expect(adjusted.referenceNodes == 1)
    #expect(adjusted.rows[0].efficiency == 1)
  }

  static func bundled(_ name: String) throws -> TrainingRun {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let path = "configs/\(name)"
    let text = try String(
      contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    return try ConfigLoader.load(try ConfigDocument.parse(text, file: path)).run
  }

  /// Issue 28: the file's layout keeps its context parallelism. Megatron-Core's world is
  /// t·cp·p·d (`initialize_model_parallel`), so d = GPUs/(t·cp·p): Llama 3 8B's t1 cp2 p1 on one
  /// 8-GPU node is d = 8/(1·2·1) = 4 — the file's own layout on its own GPUs, so the row is
  /// `estimate`'s evaluation of the file (the same run), not d = 8 on 16 GPUs.
  @Test("--layout file: d = GPUs/(t·cp·p), the row is the file's own run on its own GPUs")
  func fileLayoutKeepsContextParallelism() throws {
    let run = try Self.bundled("llama3-8b.yaml")  // t1 cp2 p1 on 1 × 8 H100
    #expect(run.layout.contextParallel == 2 && run.layout.gpus == 8)
    let t = try NodeScaling.table(run, options: .init(nodes: [1, 2], mode: .file))
    let row = try #require(t.rows[0].evaluation)
    #expect(row.run.layout.data == 4)
    #expect(row.run.layout.gpus == 8)
    #expect(row.tokensPerSecond == Evaluator(run).evaluate().tokensPerSecond)
    #expect(t.rows[1].run?.layout.data == 8)  // 16 GPUs: 16/(1·2·1)
    // Llama 3 8B at 128k: t4 cp8 p2 is 64 GPUs a replica; one node cannot hold one.
    let long = try Self.bundled("llama3-8b-128k.yaml")
    let skipped = try NodeScaling.table(long, options: .init(nodes: [1, 8], mode: .file))
    #expect(skipped.rows[0].evaluation == nil)
    #expect(skipped.rows[0].skipped == "t·cp·p = 4·8·2 = 64 does not divide 8 GPUs")
    #expect(skipped.rows[1].run?.layout.data == 1)  // 64 GPUs: the recipe's own layout
  }

  /// The table prints cp (and EP, ETP for experts), so t·cp·p·d reads as the row's GPUs.
  @Test("text and CSV tables show cp, so t·cp·p·d = GPUs")
  func tablesShowContextParallelism() throws {
    let run = try Self.bundled("llama3-8b.yaml")
    let t = try NodeScaling.table(run, options: .init(nodes: [1], mode: .file))
    let text = ScaleReport.text(t, source: "llama3-8b.yaml").components(separatedBy: "\n")
    let header = text[2].split(separator: " ").map(String.init)
    let cells = text[4].split(separator: " ").map(String.init)
    let column = { (name: String) in cells[try #require(header.firstIndex(of: name))] }
    #expect(try column("t") == "1" && column("cp") == "2" && column("p") == "1")
    #expect(try column("d") == "4")
    let csv = ScaleReport.csv(t).split(separator: "\n").map { $0.split(separator: ",") }
    let i = try #require(csv[0].firstIndex(of: "context_parallel"))
    #expect(csv[1][i] == "2")
    let mixtral = try Self.bundled("mixtral-8x7b.yaml")  // t1 p4 EP8 on 64 GPUs
    let m = try NodeScaling.table(mixtral, options: .init(nodes: [8], mode: .file))
    let mHeader = ScaleReport.text(m, source: "mixtral").components(separatedBy: "\n")[2]
    #expect(mHeader.contains(" EP ") && mHeader.contains(" ETP "))
  }

  @Test("t·p that does not divide the GPUs skips the count")
  func indivisible() throws {
    var run = try Self.fiveB()
    run.layout.tensor = 2
    run.layout.pipeline = 4  // t·p = 8 does not divide 4 GPUs of a half node
    run.devicesPerNode = 4
    let t = try NodeScaling.table(run, options: .init(nodes: [1], mode: .file))
    #expect(t.rows[0].skipped?.contains("does not divide 4 GPUs") == true)
    #expect(t.referenceNodes == nil)
  }

  @Test("search mode: each count's fastest layout, as `search` finds it")
  func searchMode() throws {
    let run = try Self.fiveB()
    let t = try NodeScaling.table(run, options: .init(nodes: [2, 4], tokens: 300e9))
    for row in t.rows {
      let direct = try LayoutSearch.search(
        run, options: .init(top: 1, constraints: .init(gpus: row.gpus)))
      #expect(
        row.estimate?.throughput.tokensPerSecond
          == direct.best?.estimate.throughput.tokensPerSecond)
      #expect(row.estimate?.training.tokens == 300e9)
    }
    // Efficiency is tokens/s per GPU against the smallest count.
    let e0 = try #require(t.rows[0].estimate), e1 = try #require(t.rows[1].estimate)
    let expected = (e1.throughput.tokensPerSecond / 32) / (e0.throughput.tokensPerSecond / 16)
    #expect(abs((t.rows[1].efficiency ?? 0) - expected) < 1e-12)
  }

  @Test("--adjust-batch in search mode gives each (t, p) its nearest batch")
  func searchAdjusted() throws {
    let run = try Self.fiveB()
    // 20 nodes = 160 GPUs: every d = 160/(t·p) divides 160, none of them 2,048 except d = 1, 2
    // … 32 for t·p = 5 … 160; with the batch kept, only such d remain.
    let kept = try LayoutSearch.fastest(run, gpus: 160, rule: .keep)
    let adjusted = try LayoutSearch.fastest(run, gpus: 160, rule: .nearest)
    let best = try #require(adjusted.best)
    #expect(best.layout.globalBatch % best.layout.data == 0)
    #expect(
      best.layout.globalBatch
        == LayoutSearch.nearestMultiple(of: best.layout.data, to: 2048))
    let keptTPS = kept.best?.estimate.throughput.tokensPerSecond ?? 0
    #expect(best.estimate.throughput.tokensPerSecond >= keptTPS)
  }

  @Test("bad node lists throw")
  func errors() throws {
    let run = try Self.fiveB()
    #expect(throws: NodeScaling.ScalingError.self) {
      try NodeScaling.table(run, options: .init(nodes: []))
    }
    #expect(throws: NodeScaling.ScalingError.self) {
      try NodeScaling.table(run, options: .init(nodes: [0]))
    }
  }
}
