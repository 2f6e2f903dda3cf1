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

  /// The per-layer quantities a stage is built from, which depend only on the model, t, b, SP,
  /// the recompute granularity and precision — not on p, v or d. Computed once and reused when
  /// many pipeline layouts share them (search).
  public struct LayerProfile: Sendable, Hashable {
    /// A layer storing what the recompute setting keeps (all, or all but the attention core).
    public var storedLayer: Bytes
    /// A layer storing everything (what full recompute rebuilds).
    public var fullLayer: Bytes
    /// One checkpointed layer input.
    public var checkpoint: Bytes
    /// The same two for an MoE layer (equal to the dense ones for a dense model).
    public var moeStoredLayer: Bytes
    public var moeFullLayer: Bytes
    /// What the last stage's multi-token-prediction layers keep for one microbatch (`mtpLayers`);
    /// zero without MTP.
    public var mtp: Bytes = .zero
    /// An encoder–decoder model's encoder and decoder layers (`encoderDecoder`), and their
    /// checkpointed inputs (T_enc·h_enc and T_dec·h).
    public var encoderDecoder: EncoderDecoderProfile? = nil
    /// The most a layer's backward holds above the steady state beside its incoming gradient
    /// (`LayerDescription.backwardPeak`) under the recompute setting: a dense layer's and an
    /// MoE layer's (equal for a dense model).
    public var backwardPeak = 0.0
    public var moeBackwardPeak = 0.0

    public struct EncoderDecoderProfile: Sendable, Hashable {
      public var encoderStored: Bytes, encoderFull: Bytes, encoderCheckpoint: Bytes
      public var decoderStored: Bytes, decoderFull: Bytes, decoderCheckpoint: Bytes
      public var encoderBackwardPeak = 0.0, decoderBackwardPeak = 0.0
    }

    /// The largest backward peak of the layers on stage `i` (`backwardPeak` of each kind there).
    func backwardPeak(onStage i: Int, _ m: TransformerModel, _ layout: Layout) -> Double {
      if let ed = encoderDecoder {
        let kinds = layout.layerKinds(onStage: i, of: m)
        return max(
          kinds.encoder > 0 ? ed.encoderBackwardPeak : 0,
          kinds.decoder > 0 ? ed.decoderBackwardPeak : 0)
      }
      guard m.moe != nil else { return backwardPeak }
      let kinds = layout.layerKinds(onStage: i, of: m)
      return max(kinds.dense > 0 ? backwardPeak : 0, kinds.moe > 0 ? moeBackwardPeak : 0)
    }

    /// The average stored and full layer of stage `i` (its dense and MoE layers weighted), and
    /// its average checkpoint.
    func onStage(_ i: Int, _ m: TransformerModel, _ layout: Layout) -> (stored: Bytes, full: Bytes)
    {
      if let ed = encoderDecoder {
        let kinds = layout.layerKinds(onStage: i, of: m)
        let n = Double(max(1, kinds.total))
        let enc = Double(kinds.encoder) / n, dec = Double(kinds.decoder) / n
        return (
          ed.encoderStored * enc + ed.decoderStored * dec,
          kinds.decoder > 0
            ? max(ed.decoderFull, kinds.encoder > 0 ? ed.encoderFull : .zero)
            : ed.encoderFull
        )
      }
      guard m.moe != nil else { return (storedLayer, fullLayer) }
      let kinds = layout.layerKinds(onStage: i, of: m)
      let n = Double(max(1, kinds.dense + kinds.moe))
      let dense = Double(kinds.dense) / n, moe = Double(kinds.moe) / n
      return (
        storedLayer * dense + moeStoredLayer * moe,
        kinds.moe > 0 ? moeFullLayer : fullLayer
      )
    }
  }

  /// How a layer being backpropagated stores its activations under `recompute`: full
  /// recompute (of at least one layer) rebuilds it from a checkpoint of `checkpoint` bytes.
  static func backwardStorage(_ recompute: Recompute, modules: RecomputeModules, checkpoint: Bytes)
    -> LayerDescription.Storage
  {
    switch recompute {
    case .none: return .stored(recomputing: [])
    case .selective: return .stored(recomputing: modules)
    case .full(_, let k):
      return k > 0 ? .recomputed(checkpoint: checkpoint.value) : .stored(recomputing: [])
    }
  }

  public static func profile(_ m: TransformerModel, _ layout: Layout, precision: Precision = .bf16)
    -> LayerProfile
  {
    func sizes(_ layer: LayerDescription) -> (stored: Bytes, full: Bytes) {
      let full = layer.saved.total
      if case .selective = layout.recompute {
        return (layer.saved(recomputing: layout.recomputeModules).total, full)
      }
      return (full, full)
    }
    let shard = LayerDescription.Shard(layout, precision: precision)
    let denseLayer = LayerDescription(m, shard)
    let dense = sizes(denseLayer)
    let moe = m.moe == nil ? dense : sizes(LayerDescription(m, shard, moe: true))
    let mtp = mtpByGranularity(m, layout, precision: precision)
    let mtpBytes: Bytes
    switch layout.recompute {
    case .none: mtpBytes = mtp.none
    case .selective: mtpBytes = mtp.selective
    case .full: mtpBytes = mtp.full
    }
    let checkpoint = checkpointedLayerInput(m, layout, precision: precision)
    var profile = LayerProfile(
      storedLayer: dense.stored, fullLayer: dense.full, checkpoint: checkpoint,
      moeStoredLayer: moe.stored, moeFullLayer: moe.full, mtp: mtpBytes)
    let e = precision.activationBytes
    let storage = backwardStorage(
      layout.recompute, modules: layout.recomputeModules, checkpoint: checkpoint)
    profile.backwardPeak = denseLayer.backwardPeak(storage, elementBytes: e)
    profile.moeBackwardPeak =
      m.moe == nil
      ? profile.backwardPeak
      : LayerDescription(m, shard, moe: true).backwardPeak(storage, elementBytes: e)
    if let ed = m.encoderDecoder {
      let encLayer = LayerDescription(m, shard, kind: .encoder)
      let decLayer = LayerDescription(m, shard, kind: .decoder)
      let enc = sizes(encLayer), dec = sizes(decLayer)
      let encoderCheckpoint = checkpointedLayerInput(ed.encoder, layout, precision: precision)
      profile.encoderDecoder = .init(
        encoderStored: enc.stored, encoderFull: enc.full, encoderCheckpoint: encoderCheckpoint,
        decoderStored: dec.stored, decoderFull: dec.full, decoderCheckpoint: checkpoint,
        encoderBackwardPeak: encLayer.backwardPeak(
          backwardStorage(
            layout.recompute, modules: layout.recomputeModules, checkpoint: encoderCheckpoint),
          elementBytes: e),
        decoderBackwardPeak: decLayer.backwardPeak(storage, elementBytes: e))
    }
    return profile
  }

  /// `profile` for each recompute granularity (none, selective, full), from one description of
  /// each layer kind: what `search` needs per (t, b, SP, EP, ETP). Equal to
  /// `profile(m, layout with that recompute)` for each.
  public static func profiles(
    _ m: TransformerModel, _ layout: Layout, precision: Precision = .bf16
  ) -> [LayerProfile] {
    let shard = LayerDescription.Shard(layout, precision: precision)
    let dense = LayerDescription(m, shard)
    let moe = m.moe == nil ? dense : LayerDescription(m, shard, moe: true)
    let checkpoint = checkpointedLayerInput(m, layout, precision: precision)
    let denseFull = dense.saved.total, moeFull = m.moe == nil ? denseFull : moe.saved.total
    let modules = layout.recomputeModules
    let denseSelective = dense.saved(recomputing: modules).total
    let moeSelective = m.moe == nil ? denseSelective : moe.saved(recomputing: modules).total
    let mtp = mtpByGranularity(m, layout, precision: precision)
    let e = precision.activationBytes
    // The three ways a layer being backpropagated stores its activations.
    // The three granularities' ways of storing the layer being backpropagated.
    let granularities: [Recompute] = [.none, .selective, .full(method: .uniform, layers: 1)]
    func peaks(_ layer: LayerDescription, checkpoint c: Bytes) -> [Double] {
      granularities.map {
        layer.backwardPeak(
          backwardStorage($0, modules: modules, checkpoint: c), elementBytes: e)
      }
    }
    let densePeaks = peaks(dense, checkpoint: checkpoint)
    let moePeaks = m.moe == nil ? densePeaks : peaks(moe, checkpoint: checkpoint)
    var none = LayerProfile(
      storedLayer: denseFull, fullLayer: denseFull, checkpoint: checkpoint,
      moeStoredLayer: moeFull, moeFullLayer: moeFull, mtp: mtp.none)
    var selective = LayerProfile(
      storedLayer: denseSelective, fullLayer: denseFull, checkpoint: checkpoint,
      moeStoredLayer: moeSelective, moeFullLayer: moeFull, mtp: mtp.selective)
    var full = none
    full.mtp = mtp.full
    var result = [none, selective, full]
    for g in 0..<3 {
      result[g].backwardPeak = densePeaks[g]
      result[g].moeBackwardPeak = moePeaks[g]
    }
    if let ed = m.encoderDecoder {
      let enc = LayerDescription(m, shard, kind: .encoder)
      let dec = LayerDescription(m, shard, kind: .decoder)
      let encFull = enc.saved.total, decFull = dec.saved.total
      let encoderCheckpoint = checkpointedLayerInput(ed.encoder, layout, precision: precision)
      let encPeaks = peaks(enc, checkpoint: encoderCheckpoint)
      let decPeaks = peaks(dec, checkpoint: checkpoint)
      none.encoderDecoder = .init(
        encoderStored: encFull, encoderFull: encFull, encoderCheckpoint: encoderCheckpoint,
        decoderStored: decFull, decoderFull: decFull, decoderCheckpoint: checkpoint)
      selective.encoderDecoder = .init(
        encoderStored: enc.saved(recomputing: modules).total, encoderFull: encFull,
        encoderCheckpoint: encoderCheckpoint,
        decoderStored: dec.saved(recomputing: modules).total, decoderFull: decFull,
        decoderCheckpoint: checkpoint)
      let stored = [none.encoderDecoder, selective.encoderDecoder, none.encoderDecoder]
      for g in 0..<3 {
        result[g].encoderDecoder = stored[g]
        result[g].encoderDecoder?.encoderBackwardPeak = encPeaks[g]
        result[g].encoderDecoder?.decoderBackwardPeak = decPeaks[g]
      }
    }
    return result
  }

  /// Activations per transformer layer per GPU for one microbatch under the layout's recompute
  /// setting — K22 Table 2's quantity. With partial full recompute, the average over a model chunk.
  public static func perLayer(_ m: TransformerModel, _ layout: Layout, precision: Precision = .bf16)
    -> Bytes
  {
    chunk(m, layout, profile: profile(m, layout, precision: precision))
      / Double(max(1, layersPerChunk(m, layout)))
  }

  /// Bytes one model chunk keeps for one microbatch: stored layers plus checkpoints.
  public static func chunk(
    _ m: TransformerModel, _ layout: Layout, profile: LayerProfile, stage: Int = 0
  ) -> Bytes {
    let plan = chunkPlan(m, layout, stage: stage)
    var checkpoint = profile.checkpoint
    if let ed = profile.encoderDecoder {
      // A stage with both kinds (p = 1): its checkpoints weighted as its layers are.
      let kinds = layout.layerKinds(onStage: stage, of: m)
      let n = Double(max(1, kinds.total))
      checkpoint =
        ed.encoderCheckpoint * (Double(kinds.encoder) / n) + ed.decoderCheckpoint
        * (Double(kinds.decoder) / n)
    }
    return profile.onStage(stage, m, layout).stored * Double(plan.storedLayers) + checkpoint
      * Double(plan.checkpoints)
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
    profile given: LayerProfile? = nil
  ) -> Breakdown<ByteUnit> {
    let profile = given ?? self.profile(m, layout, precision: precision)
    let schedule = PipelineSchedule(layout)
    let sb = layout.tokens(of: m), h = Double(m.hidden)
    let t = Double(layout.tensor), V = Double(m.vocabulary)
    let e = precision.activationBytes
    let r = layout.effectiveSequenceParallel ? t : 1
    var out = Breakdown<ByteUnit>()
    out.terms.reserveCapacity(7)
    out.appendNew(
      "layers",
      chunk(m, layout, profile: profile, stage: i) * Double(schedule.chunksInFlight(stage: i)))
    if let ed = m.encoderDecoder {
      out.terms += encoderDecoderTerms(m, ed, layout, stage: i, precision: precision)
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
      if m.mtpLayers > 0 {
        out.appendNew("mtp_layers", profile.mtp * n)
      }
    }
    return out
  }

  /// What the D multi-token-prediction layers of the last stage keep for one microbatch
  /// (`MultiTokenPrediction`): their projection's saved tensors, their transformer layer as the
  /// recompute setting stores one (its checkpointed input under full recompute), and their own
  /// output-layer input and fp32 logits (the shared output layer runs once more per MTP layer).
  public static func mtpLayers(
    _ m: TransformerModel, _ layout: Layout, precision: Precision = .bf16
  ) -> Bytes {
    let mtp = mtpByGranularity(m, layout, precision: precision)
    switch layout.recompute {
    case .none: return mtp.none
    case .selective: return mtp.selective
    case .full: return mtp.full
    }
  }

  /// `mtpLayers` under no, selective (the layout's recompute modules) and full recompute, from
  /// one description of the MTP layer.
  static func mtpByGranularity(
    _ m: TransformerModel, _ layout: Layout, precision: Precision
  ) -> (none: Bytes, selective: Bytes, full: Bytes) {
    guard m.mtpLayers > 0 else { return (.zero, .zero, .zero) }
    let shard = LayerDescription.Shard(layout, precision: precision)
    let layer = MultiTokenPrediction.layer(m, shard)
    let sb = layout.tokens(of: m), h = Double(m.hidden)  // s·b/cp
    let t = Double(layout.tensor), V = Double(m.vocabulary)
    let r = layout.effectiveSequenceParallel ? t : 1
    let output = Bytes(precision.activationBytes * sb * h / r + 4 * sb * V / t)
    let common = MultiTokenPrediction.projection(m, shard).saved.total + output
    let n = Double(m.mtpLayers)
    return (
      (common + layer.saved.total) * n,
      (common + layer.saved(recomputing: layout.recomputeModules).total) * n,
      (common + checkpointedLayerInput(m, layout, precision: precision)) * n
    )
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
    precision: Precision
  ) -> [Breakdown<ByteUnit>.Term] {
    let schedule = PipelineSchedule(layout)
    let inFlight = schedule.microbatchesInFlight(stage: i)
    let p = max(1, layout.pipeline)
    let rank = p > 1 ? (layout.split.encoderStages ?? 0) : 0
    let firstDecoder = p > 1 ? rank : 0, lastEncoder = p > 1 ? rank - 1 : 0
    let kinds = layout.layerKinds(onStage: i, of: m)
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
