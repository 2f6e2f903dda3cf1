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
