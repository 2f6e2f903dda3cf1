/// FLOPs of the GEMMs of a transformer (K22 App. A, following N21 App.): only matrix multiplies
/// count; a multiply-add is 2 FLOPs; backward = 2 × forward. The GEMMs are the layer
/// description's (`LayerDescription`), so grouped-query attention, gated MLPs and head sizes
/// other than h/a count as Megatron-Core's `num_floating_point_operations` counts them. The
/// attention GEMMs count the full s × s scores unless `AttentionFLOPCount.causal` says to count
/// the causal half, as today's Megatron-Core does.
public enum FLOPCount {
  /// How attention counts toward model FLOPs (`AttentionFLOPCount`).
  public typealias AttentionFLOPCount = MegatronPlan.AttentionFLOPCount

  /// Forward GEMM FLOPs of one transformer layer for B = `sequences` sequences of length s, by
  /// GEMM: QKV 2Bs·h·(a + 2g)·d_h (6Bsh² for multi-head attention with d_h = h/a), QKᵀ
  /// 2Bs²·a·d_h, attention over V 2Bs²·a·d_h, projection 2Bs·a·d_h·h, fc1 2Bsh·f (2f wide when
  /// gated), fc2 2Bsf·h. For GPT-3 at f = 4h they sum to 24Bsh² + 4Bs²h (K22 App. A).
  public static func layerForward(_ m: TransformerModel, sequences: Double) -> Breakdown<FLOPUnit> {
    LayerDescription(m, .whole(sequences: sequences)).gemmFLOPs
  }

  /// Forward FLOPs of the output layer (logits): 2BshV (K22 App. A).
  public static func logitsForward(_ m: TransformerModel, sequences: Double) -> FLOPs {
    FLOPs(2 * sequences * Double(m.sequenceLength) * Double(m.hidden) * Double(m.vocabulary))
  }

  /// Model FLOPs per iteration: 3 × (L layers + logits) forward, K22 Eq. 7:
  /// 72BLsh²(1 + s/6h + V/12hL) at f = 4h, B = global batch; with `.causal` the attention GEMMs'
  /// share halves (72BLsh²(1 + s/12h + V/12hL)). MTP layers add their transformer layer, their
  /// 2h → h projection and their logits, as Megatron-LM's `num_floating_point_operations`
  /// counts them.
  public static func model(
    _ m: TransformerModel, globalBatch: Int, attention: AttentionFLOPCount = .full
  ) -> FLOPs {
    let B = Double(globalBatch)
    let all =
      (layersForward(m, sequences: B) + logitsForward(m, sequences: B)
        + mtpForward(m, sequences: B)) * 3
    return all - causalAttentionForward(m, sequences: B) * (3 * (1 - attention.share))
  }

  /// Forward FLOPs of the causal self-attention GEMMs (QKᵀ and attention over V) of all layers,
  /// full s × s: every layer's of a decoder-only model; an encoder–decoder model's decoder
  /// layers' (its encoder attends bidirectionally and its cross-attention has no mask).
  public static func causalAttentionForward(_ m: TransformerModel, sequences: Double) -> FLOPs {
    var total = FLOPs.zero
    for (layer, count) in layers(m, .whole(sequences: sequences)) where layer.causalSelfAttention {
      // The self-attention core's GEMMs: QKᵀ and attention over V.
      let core = layer.gemms.filter { $0.op == .attentionCore }.map(\.flops).sum()
      total += core * Double(count)
    }
    return total
  }

  /// Forward FLOPs of every attention GEMM of all layers (self- and cross-attention), the
  /// causal ones counted with `attention`'s share: what selective recompute of the core reruns
  /// by K22's count.
  public static func attentionForward(
    _ m: TransformerModel, sequences: Double, attention: AttentionFLOPCount = .full
  ) -> FLOPs {
    var total = FLOPs.zero
    for (layer, count) in layers(m, .whole(sequences: sequences)) {
      for g in layer.gemms where g.kind == .attention {
        // The self-attention core's GEMMs (not a cross-attention's).
        let causal = layer.causalSelfAttention && g.op == .attentionCore
        total += g.flops * (causal ? attention.share : 1) * Double(count)
      }
    }
    return total
  }

  /// Each kind of layer the model has (dense, MoE, encoder, decoder) described on `shard`, with
  /// how many of the L layers are of it.
  static func layers(_ m: TransformerModel, _ shard: LayerDescription.Shard) -> [(
    LayerDescription, Int
  )] {
    let kinds = m.layerKinds(in: 0..<m.layers)
    return LayerKind.allCases.compactMap { kind in
      kinds[kind] > 0 ? (LayerDescription(m, shard, kind: kind), kinds[kind]) : nil
    }
  }

  /// Forward FLOPs of the D MTP layers for B sequences: each runs one transformer layer of the
  /// model's last layer's kind, `eh_proj` (2Bs·2h·h) and the output layer again (2BshV).
  public static func mtpForward(_ m: TransformerModel, sequences: Double) -> FLOPs {
    guard m.mtpLayers > 0 else { return .zero }
    let shard = LayerDescription.Shard.whole(sequences: sequences)
    let one =
      MultiTokenPrediction.layer(m, shard).gemmFLOPs.total
      + MultiTokenPrediction.projection(m, shard).gemmFLOPs.total
      + logitsForward(m, sequences: sequences)
    return one * Double(m.mtpLayers)
  }

  /// Forward FLOPs of all L layers, each of its kind: dense layers; MoE layers, whose experts
  /// count k per token (the active parameters), as Megatron-Core and NeMo count MFU for MoE
  /// models; an encoder–decoder model's encoder layers (s_enc tokens) and decoder layers (s_dec
  /// tokens, with their cross-attention over s_enc keys).
  public static func layersForward(_ m: TransformerModel, sequences: Double) -> FLOPs {
    layers(m, .whole(sequences: sequences)).reduce(FLOPs.zero) {
      $0 + $1.0.gemmFLOPs.total * Double($1.1)
    }
  }

  /// Hardware FLOPs per iteration: model FLOPs plus what recompute adds.
  /// - selective: K22 Eq. 8, 72BLsh²(1 + s/3h + V/12hL), which doubles the s² term of Eq. 7, i.e.
  ///   adds 12Bs²h per layer — three times the 4Bs²h forward of QKᵀ and attention over V that is
  ///   physically rerun. megaplan reports K22's definition so that HFU compares with the paper's
  ///   (Table 5 reproduces only with it: reference §1.9); the step-time model reruns 4Bs²h.
  /// - full: one more forward of each recomputed layer (N21 Eq. 3: 96BLsh²(1 + s/6h + V/16hL)
  ///   when every layer is), in proportion to the layers recomputed with partial recompute.
  /// With `.causal`, the recomputed attention counts its causal half as well.
  public static func hardware(
    _ m: TransformerModel, _ layout: Layout, attention: AttentionFLOPCount = .full
  ) -> FLOPs {
    let B = Double(layout.globalBatch)
    let extra: FLOPs
    switch layout.recompute {
    case .none: extra = .zero
    case .selective:
      // The core attention by K22's definition (its counted share); other recompute modules add
      // the forward of the GEMMs they rerun, once.
      let modules = layout.recomputeModules
      var rerun =
        modules.contains(.coreAttention)
        ? attentionForward(m, sequences: B, attention: attention) * 3 : .zero
      let others = modules.subtracting(.coreAttention)
      if !others.isEmpty {
        for (layer, count) in layers(m, .whole(sequences: B)) {
          let gemms = layer.ops.filter { !$0.recompute.isDisjoint(with: others) }
            .flatMap(\.gemms).map(\.flops).sum()
          rerun += gemms * Double(count)
        }
      }
      extra = rerun
    case .full:
      extra =
        (layersForward(m, sequences: B) - causalAttentionForward(m, sequences: B)
          * (1 - attention.share)) * recomputedFraction(m, layout)
    }
    return model(m, globalBatch: layout.globalBatch, attention: attention) + extra
  }

  /// Share of the model's layers whose forward full recompute reruns (Megatron's uniform/block
  /// rules, `ActivationMemory.chunkPlan`, applied to each stage's chunks); 0 without full
  /// recompute.
  public static func recomputedFraction(_ m: TransformerModel, _ layout: Layout) -> Double {
    guard case .full = layout.recompute, m.layers > 0 else { return 0 }
    let p = max(1, layout.pipeline), v = Double(max(1, layout.virtualStages))
    if layout.split.isEven {
      return recomputedFraction(m, layout, stage: 0)
    }
    var rerun = 0.0
    for i in 0..<p {
      rerun += Double(ActivationMemory.chunkPlan(m, layout, stage: i).recomputedLayers) * v
    }
    return rerun / Double(m.layers)
  }

  /// Share of stage `stage`'s layers that full recompute reruns.
  public static func recomputedFraction(_ m: TransformerModel, _ layout: Layout, stage: Int)
    -> Double
  {
    guard case .full = layout.recompute else { return 0 }
    let plan = ActivationMemory.chunkPlan(m, layout, stage: stage)
    return Double(plan.recomputedLayers)
      / Double(max(1, ActivationMemory.layersPerChunk(m, layout, stage: stage)))
  }
}
