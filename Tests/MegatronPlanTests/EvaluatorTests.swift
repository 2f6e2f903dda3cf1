import Foundation
import Testing

@testable import MegatronPlan

/// The evaluation core (`Evaluator`, `StagePlan`, `Layout.candidateStages`): the one rule for
/// which stages can be the most loaded or the slowest is checked against every stage, and the
/// numbers a search ranks by (`score`) against what reports map (`evaluate`).
@Suite struct EvaluatorTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// Every bundled config, and variants whose stages differ: an uneven split (13 layers on the
  /// first stage, 11 on the last, 12 between), interleaving, and an encoder–decoder split.
  static func runs() throws -> [(String, TrainingRun)] {
    var out: [(String, TrainingRun)] = []
    let dir = root.appendingPathComponent("configs")
    for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    where name.hasSuffix(".yaml") {
      let text = try String(
        contentsOfFile: dir.appendingPathComponent(name).path, encoding: .utf8)
      let document = try ConfigDocument.parse(text, file: name)
      if BridgeConfig.isContainer(document.root) {
        // A Megatron-Bridge file: translated to the NeMo keys first, as the CLI does.
        let translation = try BridgeConfig.translate(document)
        let translated = ConfigDocument(root: translation.root, file: name)
        out.append((name, try ConfigLoader.load(translated).run))
      } else {
        out.append((name, try ConfigLoader.load(document).run))
      }
    }
    for (path, sets) in [
      ("nemo-launcher/gpt3/175b.yaml", [String]()),
      (
        "nemo-launcher/gpt3/175b.yaml",
        [
          "model.num_layers_in_first_pipeline_stage=13",
          "model.num_layers_in_last_pipeline_stage=11",
          "model.virtual_pipeline_model_parallel_size=null",
        ]
      ),
      (
        "nemo-launcher/t5/11b.yaml",
        ["model.pipeline_model_parallel_size=8", "model.pipeline_model_parallel_split_rank=4"]
      ),
      ("nemo-launcher/llama/llama2_70b.yaml", []),
    ] {
      out.append(("\(path) \(sets)", try loadFixture(path, sets)))
    }
    return out
  }

  @Test("the candidate stages hold the most loaded and the slowest stage of every bundled config")
  func candidateStagesAreTheWorst() throws {
    for (name, run) in try Self.runs() {
      let evaluator = Evaluator(run)
      let layout = run.layout
      let costs = evaluator.costs(layout)
      let time = run.stepTime(layout: layout)
      let all = (0..<layout.pipeline).map { StagePlan(run, layout, stage: $0, costs: costs) }
      let candidates = layout.candidateStages(of: run.model)
      // Memory: no stage outside the candidates needs more than the worst of them.
      let worstCandidate = candidates.map { all[$0].peakBytes }.max() ?? 0
      let worst = all.map(\.peakBytes).max() ?? 0
      #expect(worst == worstCandidate, "\(name): \(worst) vs \(worstCandidate)")
      // Time: no stage outside the candidates takes longer than the slowest of them.
      func seconds(_ i: Int) -> Double {
        StagePlan.time(time, counts: all[i].layers, stage: i, costs: costs).total.value
      }
      let slowestCandidate = candidates.map(seconds).max() ?? 0
      let slowest = (0..<layout.pipeline).map(seconds).max() ?? 0
      #expect(slowest == slowestCandidate, "\(name): \(slowest) vs \(slowestCandidate)")
    }
  }

  @Test("score (what search ranks by) equals evaluate (what reports show), fitting or not")
  func scoreEqualsEvaluate() throws {
    for (name, run) in try Self.runs() {
      let evaluator = Evaluator(run)
      let evaluation = evaluator.evaluate()
      let score = evaluator.score(run.layout, timeAlways: true)
      #expect(score.peakBytes == evaluation.mostLoaded.peakBytes, "\(name)")
      #expect(score.fits == evaluation.fits, "\(name)")
      #expect(score.seconds == evaluation.seconds, "\(name)")
      // Re-sharding one plan of the stages gives what planning the layout afresh gives.
      var layout = run.layout
      var planned = evaluator.plans(layout, costs: evaluation.costs)
      for distributed in [false, true] where layout.data > 1 {
        layout.distributedOptimizer = distributed
        let reused = evaluator.score(
          layout, costs: evaluation.costs, resharding: &planned, timeAlways: true)
        let fresh = evaluator.score(layout, timeAlways: true)
        #expect(reused == fresh, "\(name), distributed optimizer \(distributed)")
      }
    }
  }

  /// The rule by hand: p = 8 even and dense, the first and the last; an MoE model, the second
  /// too; a flexible layout, every stage; a T5 split at rank 4 of 8, both sides of it.
  @Test("candidate stages by hand")
  func candidateStagesByHand() throws {
    let dense = try loadFixture("nemo-launcher/gpt3/175b.yaml")
    var l = dense.layout
    l.pipeline = 8
    l.virtualStages = 1
    #expect(l.candidateStages(of: dense.model) == [0, 7])
    l.pipeline = 1
    #expect(l.candidateStages(of: dense.model) == [0])
    let t5 = try loadFixture(
      "nemo-launcher/t5/11b.yaml",
      ["model.pipeline_model_parallel_size=8", "model.pipeline_model_parallel_split_rank=4"])
    #expect(t5.layout.candidateStages(of: t5.model) == [0, 1, 3, 4, 7])
    let text = try String(
      contentsOfFile: Self.root.appendingPathComponent("configs/deepseek-v3.yaml").path,
      encoding: .utf8)
    let deepseek = try ConfigLoader.load(ConfigDocument.parse(text, file: "deepseek-v3.yaml")).run
    #expect(deepseek.layout.candidateStages(of: deepseek.model) == Array(0..<8))
  }

  /// A layer kind is a row of every per-kind table: the MTP layers' costs sit beside the dense
  /// and MoE layers', and only the last stage pays them (DeepSeek-V3, one MTP layer).
  @Test("the MTP kind: costs computed once, charged on the last stage only")
  func mtpKind() throws {
    let text = try String(
      contentsOfFile: Self.root.appendingPathComponent("configs/deepseek-v3.yaml").path,
      encoding: .utf8)
    let run = try ConfigLoader.load(ConfigDocument.parse(text, file: "deepseek-v3.yaml")).run
    let costs = Evaluator(run).costs(run.layout)
    #expect(run.model.presentKinds == [.dense, .moe, .mtp])
    let mtp = try #require(costs.layers[.mtp])
    #expect(mtp.onLastStage.value > 0)
    #expect(costs.layers[.encoder] == nil && costs.layers[.decoder] == nil)
    // Without its MTP entry the last stage is faster by m × the MTP layers' time, the first
    // stage unchanged.
    var without = costs
    without.layers[.mtp] = nil
    let time = run.stepTime(layout: run.layout)
    let last = run.layout.pipeline - 1
    let counts = run.layout.layerKinds(onStage: last, of: run.model)
    let with = StagePlan.time(time, counts: counts, stage: last, costs: costs).total.value
    let bare = StagePlan.time(time, counts: counts, stage: last, costs: without).total.value
    let expected = mtp.onLastStage.value * Double(run.layout.microbatches)
    #expect(abs((with - bare) - expected) <= 1e-9 * expected)
    let first = run.layout.layerKinds(onStage: 0, of: run.model)
    #expect(
      StagePlan.time(time, counts: first, stage: 0, costs: costs)
        == StagePlan.time(time, counts: first, stage: 0, costs: without))
  }
}
