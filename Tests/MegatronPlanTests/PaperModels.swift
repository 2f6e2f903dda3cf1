@testable import MegatronPlan

/// The four models of K22 Table 3 as the paper ran them: s = 2048, V = 51,200, no data
/// parallelism, interleaved with m = 3 chunks for 175B and 530B (K22 §6; reference §1.6).
struct PaperRun: CustomStringConvertible, Sendable {
  var name: String
  var heads: Int, hidden: Int, layers: Int
  var t: Int, p: Int, gpus: Int, batch: Int, micro: Int, v: Int
  // K22 Table 5 published values.
  var fullRecomputeSeconds: Double, presentWorkSeconds: Double, mfu: Double, hfu: Double

  var description: String { "\(name) (t\(t) p\(p) v\(v), \(gpus) GPUs, B=\(batch), b=\(micro))" }
  var s: Int { 2048 }
  var vocab: Int { 51_200 }

  var model: TransformerModel {
    TransformerModel(
      layers: layers, hidden: hidden, heads: heads, sequenceLength: s, vocabulary: vocab)
  }

  func layout(sp: Bool, recompute: Recompute) -> Layout {
    Layout(
      tensor: t, pipeline: p, data: gpus / (t * p), virtualStages: v, microBatch: micro,
      globalBatch: batch,
      sequenceParallel: sp, recompute: recompute)
  }

  static let all: [PaperRun] = [
    PaperRun(
      name: "22B", heads: 64, hidden: 6144, layers: 48, t: 8, p: 1, gpus: 8, batch: 4, micro: 4,
      v: 1,
      fullRecomputeSeconds: 1.42, presentWorkSeconds: 1.10, mfu: 0.415, hfu: 0.437),
    PaperRun(
      name: "175B", heads: 96, hidden: 12288, layers: 96, t: 8, p: 8, gpus: 64, batch: 64, micro: 1,
      v: 3,
      fullRecomputeSeconds: 18.13, presentWorkSeconds: 13.75, mfu: 0.514, hfu: 0.528),
    PaperRun(
      name: "530B", heads: 128, hidden: 20480, layers: 105, t: 8, p: 35, gpus: 280, batch: 280,
      micro: 1, v: 3,
      fullRecomputeSeconds: 49.05, presentWorkSeconds: 37.83, mfu: 0.560, hfu: 0.570),
    PaperRun(
      name: "1T", heads: 160, hidden: 25600, layers: 128, t: 8, p: 64, gpus: 512, batch: 512,
      micro: 1, v: 1,
      fullRecomputeSeconds: 94.42, presentWorkSeconds: 71.49, mfu: 0.563, hfu: 0.570),
  ]
}
