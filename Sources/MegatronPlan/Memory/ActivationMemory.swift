/// Activation memory, from Korthikanti et al. 2022 [K22] §4.
///
/// Elements are 2 bytes in 16-bit training and dropout masks 1 byte per element (K22 §4); the
/// terms below are written in bytes for that case and scaled by `Precision.activationBytes / 2`
/// for fp32 training (masks stay 1 byte).
public enum ActivationMemory {
  /// Bytes one transformer layer keeps for backward, for one microbatch on one GPU, with every
  /// activation stored (no recompute), tensor by tensor from the layer's description
  /// (`LayerDescription`, K22 §4.1's method). For GPT-3 (LayerNorm, GeLU with f = 4h, dropout,
  /// unfused attention) the terms are attention 11sbh + 5as²b, MLP 19sbh, LayerNorms 4sbh, split
  /// by K22 §4.2.2 into what tensor parallelism shards (/t) and what it replicates unless
  /// sequence parallelism shards it too: K22 Table 2, sbh(10 + 24/t + 5as/(ht)) without SP,
  /// sbh(34/t + 5as/(ht)) with SP.
  public static func fullLayer(
    _ m: TransformerModel, _ layout: Layout, precision: Precision = .bf16
  ) -> Breakdown<ByteUnit> {
    LayerDescription(m, .init(layout, precision: precision)).saved
  }

  /// Bytes a checkpointed layer keeps: its input, 2sbh (K22 Table 2 last row), sequence-sharded
  /// (2sbh/t) when sequence parallelism is on, since Megatron checkpoints the layer's SP-sharded
  /// input; /cp with context parallelism (the rank's own tokens).
  public static func checkpointedLayerInput(
    _ m: TransformerModel, _ layout: Layout, precision: Precision = .bf16
  ) -> Bytes {
    let sbh = layout.tokens(of: m) * Double(m.hidden)
    let r = layout.effectiveSequenceParallel ? Double(layout.tensor) : 1
    return Bytes(precision.activationBytes * sbh / r)
  }

  /// Layers in one model chunk of pipeline stage `stage` (L / (p·v) with an even split), the
  /// unit Megatron applies recompute to. When the embedding or loss counts as a layer, the
  /// first (last) chunk holds one layer fewer than the others; the stage's chunks are sized as
  /// its fullest (rounding up), which over-counts its activations by at most one layer per
  /// microbatch of that chunk in flight.
  public static func layersPerChunk(_ m: TransformerModel, _ layout: Layout, stage: Int = 0)
    -> Int
  {
    let v = max(1, layout.virtualStages)
    return (layout.layers(onStage: stage, of: m) + v - 1) / v
  }

  /// How a model chunk's layers are stored under `layout.recompute`.
  public struct ChunkPlan: Sendable, Hashable {
    /// Layers storing everything (no recompute) or everything but the attention core (selective).
    public var storedLayers: Int
    /// Checkpoints stored (one layer input each).
    public var checkpoints: Int
    /// Layers rerun in backward (full recompute).
    public var recomputedLayers: Int
    /// Layers rebuilt at once while one checkpoint group is backpropagated.
    public var workingSetLayers: Int
  }

  /// Megatron's rules (TransformerBlock `_checkpointed_forward`): `uniform` with k checkpoints
  /// every group of k layers and reruns them all (⌈Lc/k⌉ checkpoints, a group of k rebuilt at a
  /// time); `block` with k checkpoints each of the first k layers and keeps the rest; k = 0
  /// recomputes nothing.
  public static func chunkPlan(_ m: TransformerModel, _ layout: Layout, stage: Int = 0)
    -> ChunkPlan
  {
    let lc = layersPerChunk(m, layout, stage: stage)
    switch layout.recompute {
    case .none, .selective:
      return ChunkPlan(storedLayers: lc, checkpoints: 0, recomputedLayers: 0, workingSetLayers: 0)
    case .full(let method, let k):
      if k <= 0 {
        return ChunkPlan(storedLayers: lc, checkpoints: 0, recomputedLayers: 0, workingSetLayers: 0)
      }
      switch method {
      case .uniform:
        let group = min(k, lc)
        return ChunkPlan(
          storedLayers: 0, checkpoints: (lc + group - 1) / group, recomputedLayers: lc,
          workingSetLayers: group)
      case .block:
        let n = min(k, lc)
        return ChunkPlan(
          storedLayers: lc - n, checkpoints: n, recomputedLayers: n, workingSetLayers: n > 0 ? 1 : 0
        )
      }
    }
  }

  /// What one stored (not checkpointed) layer keeps under the layout's recompute setting.
  public static func storedLayer(
    _ m: TransformerModel, _ layout: Layout, precision: Precision = .bf16
  ) -> Breakdown<ByteUnit> {
    let layer = LayerDescription(m, .init(layout, precision: precision))
    guard case .selective = layout.recompute else { return layer.saved }
    return layer.saved(recomputing: layout.recomputeModules)
  }

  /// What each layer kind of `m` keeps (`LayerMemory`) on one GPU of `layout`, one microbatch,
  /// from one description of each kind: the per-layer quantities a stage is built from, which
  /// depend only on the model, t, b, SP, cp, EP, ETP, the recompute modules and the precision —
  /// not on p, v, d or the recompute setting. nil for the kinds `m` does not have.
  public static func layers(_ m: TransformerModel, _ layout: Layout, precision: Precision = .bf16)
    -> PerKind<LayerMemory?>
  {
    let shard = LayerDescription.Shard(layout, precision: precision)
    let present = m.presentKinds
    return PerKind { kind in
      guard present.contains(kind) else { return nil }
      return layer(kind, m, layout, shard: shard)
    }
  }

  /// What one layer of `kind` keeps (`layers`).
  public static func layer(
    _ kind: LayerKind, _ m: TransformerModel, _ layout: Layout, shard: LayerDescription.Shard
  ) -> LayerMemory {
    let e = shard.precision.activationBytes
    let modules = layout.recomputeModules
    switch kind {
    case .mtp:
      return mtpLayers(m, layout, shard: shard)
    case .encoder:
      let ed = m.encoderDecoder
      return LayerMemory(
        LayerDescription(m, shard, kind: kind),
        checkpoint: checkpointedLayerInput(ed?.encoder ?? m, layout, precision: shard.precision),
        modules: modules, elementBytes: e)
    case .dense, .moe, .slidingDense, .slidingMoE, .decoder:
      return LayerMemory(
        LayerDescription(m, shard, kind: kind),
        checkpoint: checkpointedLayerInput(m, layout, precision: shard.precision),
        modules: modules, elementBytes: e)
    }
  }

  /// A stage's layers as one average layer: `stored` the layer as the recompute setting keeps
  /// it (its kinds weighted by their counts), `full` the largest layer a full recompute rebuilds
  /// there, `checkpoint` the average checkpointed input (one size unless the stage holds both
  /// stacks of an encoder–decoder model).
  static func onStage(
    _ counts: LayerCounts, _ layers: PerKind<LayerMemory?>, recompute: Recompute
  ) -> (stored: Bytes, full: Bytes, checkpoint: Bytes) {
    let n = Double(max(1, counts.total))
    var stored = Bytes.zero, full: Bytes? = nil
    var checkpoint: Bytes? = nil, uniformCheckpoint = true
    for kind in LayerKind.stack where counts[kind] > 0 {
      guard let layer = layers[kind] else { continue }
      stored += layer.stored(recompute) * (Double(counts[kind]) / n)
      full = max(full ?? layer.full, layer.full)
      if let c = checkpoint, c != layer.checkpoint { uniformCheckpoint = false }
      checkpoint = checkpoint ?? layer.checkpoint
    }
    if !uniformCheckpoint {
      // Both stacks of an encoder–decoder model on one stage (p = 1): weighted as the layers.
      var weighted = Bytes.zero
      for kind in LayerKind.stack where counts[kind] > 0 {
        if let layer = layers[kind] { weighted += layer.checkpoint * (Double(counts[kind]) / n) }
      }
      checkpoint = weighted
    }
    return (stored, full ?? .zero, checkpoint ?? .zero)
  }

  /// Activations per transformer layer per GPU for one microbatch under the layout's recompute
  /// setting — K22 Table 2's quantity. With partial full recompute, the average over a model chunk.
  public static func perLayer(_ m: TransformerModel, _ layout: Layout, precision: Precision = .bf16)
    -> Bytes
  {
    chunk(m, layout, layers: layers(m, layout, precision: precision))
      / Double(max(1, layersPerChunk(m, layout)))
  }

  /// Bytes one model chunk of stage `stage` keeps for one microbatch: stored layers plus
  /// checkpoints.
  public static func chunk(
    _ m: TransformerModel, _ layout: Layout, layers: PerKind<LayerMemory?>, stage: Int = 0,
    counts: LayerCounts? = nil
  ) -> Bytes {
    let plan = chunkPlan(m, layout, stage: stage)
    let layer = onStage(
      counts ?? layout.layerKinds(onStage: stage, of: m), layers, recompute: layout.recompute)
    return layer.stored * Double(plan.storedLayers) + layer.checkpoint * Double(plan.checkpoints)
  }

  /// Activation memory of pipeline stage `stage` (0-based) at its peak, with named terms:
  /// - `layers`: chunks in flight (PipelineSchedule) × one chunk's bytes. For stage 0 this is
  ///   K22 Eq. 5 / Eq. 6 × (1 + (p − 1)/(p·v)).
  ///   With full recompute the layers rebuilt from a checkpoint during backward are not part of
  ///   this steady state: they live only while their backward runs (`PeakMemory`'s backward
  ///   moment, `LayerDescription.backwardPeak`).
  /// - `embedding_dropout_mask` (first stage, with hidden dropout on): sbh per microbatch in
  ///   flight (K22 §4.3), /t with SP; `embedding_norm_input` 2sbh likewise with an embedding norm.
  /// - `final_layernorm_input`, `output_layer_input` (2sbh each, /t with SP) and fp32
  ///   `logits` (4sbV/t) where the output layer lives (K22 §4.3), for the one microbatch between
  ///   its forward and backward there.
  /// With context parallelism every term holds the rank's s/cp tokens (s → s/cp).
  public static func stage(
    _ m: TransformerModel, _ layout: Layout, stage i: Int, precision: Precision = .bf16,
    layers given: PerKind<LayerMemory?>? = nil, counts given2: LayerCounts? = nil
  ) -> Breakdown<ByteUnit> {
    let counts = given2 ?? layout.layerKinds(onStage: i, of: m)
    let layers = given ?? self.layers(m, layout, precision: precision)
    let schedule = PipelineSchedule(layout)
    let sb = layout.tokens(of: m), h = Double(m.hidden)
    let t = Double(layout.tensor), V = Double(m.vocabulary)
    let e = precision.activationBytes
    let r = layout.effectiveSequenceParallel ? t : 1
    var out = Breakdown<ByteUnit>()
    out.terms.reserveCapacity(7)
    out.appendNew(
      "layers",
      chunk(m, layout, layers: layers, stage: i, counts: counts)
        * Double(schedule.chunksInFlight(stage: i)))
    if let ed = m.encoderDecoder {
      out.terms += encoderDecoderTerms(
        m, ed, layout, stage: i, precision: precision, counts: counts)
    } else if i == 0 && m.dropout.hidden > 0 {
      out.appendNew(
        "embedding_dropout_mask", Bytes(sb * h / r * schedule.microbatchesInFlight(stage: 0)))
    }
    if i == 0 && m.embeddingNorm {
      // The embedding norm saves its input, 2sbh per microbatch in flight (/t with SP).
      out.appendNew(
        "embedding_norm_input",
        Bytes(e * sb * h / r * schedule.microbatchesInFlight(stage: 0)))
    }
    if i == layout.pipeline - 1 {
      let n = Double(schedule.outputMicrobatchesInFlight)
      if m.blockType.finalNorm {
        out.appendNew("final_layernorm_input", Bytes(e * sb * h / r * n))
      }
      out.appendNew("output_layer_input", Bytes(e * sb * h / r * n))
      out.appendNew("logits", Bytes(4 * sb * V / t * n))  // fp32 logits for the cross entropy
      if let mtp = layers[.mtp] {
        out.appendNew("mtp_layers", mtp.kept(layout.recompute.granularity) * n)
      }
    }
    return out
  }

  /// What the D multi-token-prediction layers of the last stage keep for one microbatch
  /// (`MultiTokenPrediction`) under each granularity: their projection's saved tensors, their
  /// transformer layer as the recompute setting stores one (its checkpointed input under full
  /// recompute), and their own output-layer input and fp32 logits (the shared output layer runs
  /// once more per MTP layer). `LayerMemory.kept` gives the three.
  static func mtpLayers(_ m: TransformerModel, _ layout: Layout, shard: LayerDescription.Shard)
    -> LayerMemory
  {
    let precision = shard.precision
    let layer = MultiTokenPrediction.layer(m, shard)
    let sb = layout.tokens(of: m), h = Double(m.hidden)  // s·b/cp
    let t = Double(layout.tensor), V = Double(m.vocabulary)
    let r = layout.effectiveSequenceParallel ? t : 1
    let output = Bytes(precision.activationBytes * sb * h / r + 4 * sb * V / t)
    let common = MultiTokenPrediction.projection(m, shard).saved.total + output
    let n = Double(m.mtpLayers)
    return LayerMemory(
      full: (common + layer.saved.total) * n,
      selective: (common + layer.saved(recomputing: layout.recomputeModules).total) * n,
      checkpoint: (common + checkpointedLayerInput(m, layout, precision: precision)) * n)
  }

  /// An encoder–decoder model's stage terms beside its layers (for one microbatch in flight
  /// each, times the stage's microbatches in flight), T_enc = s_enc·b and T_dec = s_dec·b, /t
  /// with sequence parallelism:
  /// - `embedding_dropout_mask` (first stage, the encoder's input, T_enc·h_enc) and
  ///   `decoder_embedding_dropout_mask` (the decoder's first stage, T_dec·h), 1 byte each with
  ///   hidden dropout;
  /// - `encoder_final_norm_input` on the encoder's last stage, e·T_enc·h_enc;
  /// - `encoder_output` on every stage with decoder layers: the encoder's output that each
  ///   cross-attention's key/value projection saves as its input, one tensor for all of them,
  ///   e·T_enc·h_enc;
  /// - `relative_position_bias` with T5's relative positions: each stack's bias e·(a/t)·s²
  ///   (computed once per forward of the stack, every layer's scores add it) and its int64 bucket
  ///   indices 8·s², on the stages holding that stack.
  static func encoderDecoderTerms(
    _ m: TransformerModel, _ ed: EncoderDecoder, _ layout: Layout, stage i: Int,
    precision: Precision, counts kinds: LayerCounts
  ) -> [Breakdown<ByteUnit>.Term] {
    let schedule = PipelineSchedule(layout)
    let inFlight = schedule.microbatchesInFlight(stage: i)
    let p = max(1, layout.pipeline)
    let rank = p > 1 ? (layout.split.encoderStages ?? 0) : 0
    let firstDecoder = p > 1 ? rank : 0, lastEncoder = p > 1 ? rank - 1 : 0
    let t = Double(layout.tensor), e = precision.activationBytes
    let r = layout.effectiveSequenceParallel ? t : 1
    let b = Double(layout.microBatch)
    let enc = ed.encoder
    let tEnc = Double(enc.sequenceLength) * b, tDec = Double(m.sequenceLength) * b
    let hEnc = Double(enc.hidden), h = Double(m.hidden)
    var out: [Breakdown<ByteUnit>.Term] = []
    if i == 0 && enc.dropout.hidden > 0 {
      out.append(.init("embedding_dropout_mask", Bytes(tEnc * hEnc / r * inFlight)))
    }
    if i == firstDecoder && m.dropout.hidden > 0 {
      out.append(.init("decoder_embedding_dropout_mask", Bytes(tDec * h / r * inFlight)))
    }
    if i == lastEncoder && enc.blockType.finalNorm {
      out.append(.init("encoder_final_norm_input", Bytes(e * tEnc * hEnc / r * inFlight)))
    }
    if kinds.decoder > 0 {
      out.append(.init("encoder_output", Bytes(e * tEnc * hEnc / r * inFlight)))
    }
    if ed.relativeAttention != nil {
      var bytes = 0.0
      // [1, a/t, s, s]: one bias for the whole microbatch, broadcast over its sequences.
      func stack(_ heads: Int, _ s: Double) -> Double { (e * Double(heads) / t + 8) * s * s }
      if kinds.encoder > 0 { bytes += stack(enc.heads, Double(enc.sequenceLength)) }
      if kinds.decoder > 0 { bytes += stack(m.heads, Double(m.sequenceLength)) }
      out.append(.init("relative_position_bias", Bytes(bytes * inFlight)))
    }
    return out
  }
}
