/// FLOPs of the GEMMs of a GPT model (K22 App. A, following N21 App.): only matrix multiplies
/// count; a multiply-add is 2 FLOPs; backward = 2 × forward.
public enum FLOPCount {
  /// Forward GEMM FLOPs of one transformer layer for B = `sequences` sequences of length s, by
  /// GEMM: QKV 6Bsh², QKᵀ 2Bs²h, attention over V 2Bs²h, projection 2Bsh², fc1 2Bsh·f (2f wide
  /// when gated), fc2 2Bsf·h. At f = 4h they sum to 24Bsh² + 4Bs²h (K22 App. A).
  public static func layerForward(_ m: TransformerModel, sequences: Double) -> Breakdown<FLOPUnit> {
    let s = Double(m.sequenceLength), h = Double(m.hidden), f = Double(m.ffnHidden)
    let tokens = sequences * s
    return Breakdown([
      .init("qkv", FLOPs(6 * tokens * h * h)),
      .init("attention_scores", FLOPs(2 * tokens * s * h)),
      .init("attention_over_values", FLOPs(2 * tokens * s * h)),
      .init("projection", FLOPs(2 * tokens * h * h)),
      .init("fc1", FLOPs(2 * tokens * h * Double(m.fc1Width))),
      .init("fc2", FLOPs(2 * tokens * f * h)),
    ])
  }

  /// Forward FLOPs of the output layer (logits): 2BshV (K22 App. A).
  public static func logitsForward(_ m: TransformerModel, sequences: Double) -> FLOPs {
    FLOPs(2 * sequences * Double(m.sequenceLength) * Double(m.hidden) * Double(m.vocabulary))
  }

  /// Model FLOPs per iteration: 3 × (L layers + logits) forward, K22 Eq. 7:
  /// 72BLsh²(1 + s/6h + V/12hL) at f = 4h, B = global batch.
  public static func model(_ m: TransformerModel, globalBatch: Int) -> FLOPs {
    let B = Double(globalBatch)
    return (layerForward(m, sequences: B).total * Double(m.layers) + logitsForward(m, sequences: B))
      * 3
  }

  /// Hardware FLOPs per iteration: model FLOPs plus what recompute adds.
  /// - selective: K22 Eq. 8, 72BLsh²(1 + s/3h + V/12hL), which doubles the s² term of Eq. 7, i.e.
  ///   adds 12Bs²h per layer — three times the 4Bs²h forward of QKᵀ and attention over V that is
  ///   physically rerun. megaplan reports K22's definition so that HFU compares with the paper's
  ///   (Table 5 reproduces only with it: reference §1.9); the step-time model reruns 4Bs²h.
  /// - full: one more forward of each recomputed layer (N21 Eq. 3: 96BLsh²(1 + s/6h + V/16hL)
  ///   when every layer is), in proportion to the layers recomputed with partial recompute.
  public static func hardware(_ m: TransformerModel, _ layout: Layout) -> FLOPs {
    let B = Double(layout.globalBatch)
    let forward = layerForward(m, sequences: B)
    let extra: FLOPs
    switch layout.recompute {
    case .none: extra = .zero
    case .selective: extra = (forward["attention_scores"] + forward["attention_over_values"]) * 3
    case .full: extra = forward.total * recomputedFraction(m, layout)
    }
    return model(m, globalBatch: layout.globalBatch) + extra * Double(m.layers)
  }

  /// Share of the layers whose forward full recompute reruns (Megatron's uniform/block rules,
  /// `ActivationMemory.chunkPlan`); 0 without full recompute.
  public static func recomputedFraction(_ m: TransformerModel, _ layout: Layout) -> Double {
    guard case .full = layout.recompute else { return 0 }
    let plan = ActivationMemory.chunkPlan(m, layout)
    return Double(plan.recomputedLayers)
      / Double(max(1, ActivationMemory.layersPerChunk(m, layout)))
  }
}
