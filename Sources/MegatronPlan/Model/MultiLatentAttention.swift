/// Multi-latent attention as Megatron-Core builds it (`MLASelfAttention`,
/// megatron/core/transformer/multi_latent_attention.py; DeepSeek-V2 §2.1, DeepSeek-V3 §2.1.1):
/// queries and keys/values are first projected down to low-rank latents, normalised, then
/// projected up to a heads; each head's query and key are a d_nope part from the up projection
/// and a d_rope part that carries the rotary embedding (the keys' rope part is shared by all
/// heads and comes straight from the down projection); values are d_v wide.
///
/// Keys (NeMo / Megatron-Core `MLATransformerConfig`, Megatron-LM flags): `multi_latent_attention`
/// (`--multi-latent-attention`), `q_lora_rank` (`--q-lora-rank`; null: queries projected from h
/// directly), `kv_lora_rank`, `qk_head_dim` (d_nope), `qk_pos_emb_head_dim` (d_rope),
/// `v_head_dim`; Hugging Face `q_lora_rank`, `kv_lora_rank`, `qk_nope_head_dim`,
/// `qk_rope_head_dim`, `v_head_dim`.
public struct MultiLatentAttention: Sendable, Hashable, Codable {
  /// r_q: the query latent's width; nil when queries are projected from h directly
  /// (`linear_q_proj`).
  public var queryRank: Int?
  /// r_kv: the key/value latent's width.
  public var keyValueRank: Int
  /// d_nope: each head's query/key part without rotary embedding (`qk_head_dim`).
  public var qkHeadDim: Int
  /// d_rope: each head's query/key part with rotary embedding (`qk_pos_emb_head_dim`).
  public var ropeHeadDim: Int
  /// d_v: each head's value width (`v_head_dim`).
  public var valueHeadDim: Int

  public init(
    queryRank: Int?, keyValueRank: Int, qkHeadDim: Int, ropeHeadDim: Int, valueHeadDim: Int
  ) {
    self.queryRank = queryRank
    self.keyValueRank = keyValueRank
    self.qkHeadDim = qkHeadDim
    self.ropeHeadDim = ropeHeadDim
    self.valueHeadDim = valueHeadDim
  }

  /// Megatron-Core's `MLATransformerConfig` defaults, which are DeepSeek-V3's: r_q 512,
  /// r_kv 512, d_nope 128, d_rope 64, d_v 128.
  public static let megatronDefault = MultiLatentAttention(
    queryRank: 512, keyValueRank: 512, qkHeadDim: 128, ropeHeadDim: 64, valueHeadDim: 128)

  /// d_nope + d_rope: a query's and a key's width per head.
  public var queryKeyHeadDim: Int { qkHeadDim + ropeHeadDim }
}

extension LayerDescription {
  /// MLA's ops after the input norm, for one GPU of a tensor-parallel group (Megatron-Core's
  /// Transformer Engine spec, `get_gpt_layer_with_transformer_engine_submodules` with
  /// `multi_latent_attention`): the down projections are `TELinear` in `duplicated` mode (every
  /// tensor rank holds them whole and, with sequence parallelism, projects its own s/t tokens);
  /// the up projections are column-parallel (`TELayerNormColumnParallelLinear`, with the latent
  /// norms fused in when `qk_layernorm` is on, as DeepSeek-V3 has them); the projection is
  /// row-parallel. T = s·b tokens, a heads over t ranks, r = t with SP (else 1):
  ///
  /// | op | GEMMs | saved |
  /// |---|---|---|
  /// | down projections | [T/r, h]×[h, r_q], [T/r, h]×[h, r_kv + d_rope] | the norm's output e·T·h/r (one tensor for both) |
  /// | up projections | [T, r_q]×[r_q, a(d_nope + d_rope)/t], [T, r_kv]×[r_kv, a(d_nope + d_v)/t] | each latent norm's input e·T·r/r and its output, the up projection's input |
  /// | rotary, Q/K/V assembly | — | the cos/sin tables when unfused |
  /// | core | QKᵀ with d = d_nope + d_rope, ×V with d_v | Q and K e·T·2a(d_nope + d_rope)/t, V e·T·a·d_v/t, statistics (fused) |
  /// | projection | [T, a·d_v/t]×[a·d_v/t, h] | its input e·T·a·d_v/t |
  ///
  /// Recompute modules: `core_attn` keeps Q, K and V as the checkpoint's input and drops the
  /// rest of the core; `mla_up_proj` (`CheckpointWithoutOutput` around the up projections and
  /// the rotary embedding) discards Q, K and V and the up projections' inputs, keeping its own
  /// inputs — the two latents (already saved as the norms' inputs) and the rope key part
  /// e·T·d_rope, gathered over the sequence; `layernorm` discards the input norm's output.
  /// FLOPs match Megatron-LM's `num_floating_point_operations` MLA branch (training.py): q
  /// r_q(h + a(d_nope + d_rope)), kv r_kv(h + a(d_nope + d_v)) + h·d_rope, projection a·d_v·h
  /// per token, times 6.
  static func multiLatentAttention(
    _ m: TransformerModel, _ mla: MultiLatentAttention, _ shard: Shard, tokens: Double,
    linearInput: Double, castAfterNorm: Double, castStandalone: Double
  ) -> [LayerOp] {
    let t = Double(shard.tensor), e = shard.precision.activationBytes
    let r = shard.sequenceParallel ? t : 1
    let s = Double(m.sequenceLength), h = Double(m.hidden), a = Double(m.heads)
    let dn = Double(mla.qkHeadDim), dr = Double(mla.ropeHeadDim), dv = Double(mla.valueHeadDim)
    let qk = dn + dr
    let kr = Double(mla.keyValueRank)
    let fp8 = m.fp8 != nil
    let normParams = Double(m.normalization.parametersPerFeature)
    let bias: Double = m.linearBiases ? 1 : 0
    let norms = m.qkLayerNorm
    let up: RecomputeModules = .mlaUpProjection
    var ops: [LayerOp] = []

    // Down projections (and, without a query latent, the column-parallel query projection),
    // all reading the norm's output, which `layernorm` recompute discards.
    var down = [GEMMShape("kv_down_projection", m: tokens / r, n: kr + dr, k: h, fp8: fp8)]
    var downParameters = LayerOp.Parameters(replicated: h * (kr + dr))
    if let rank = mla.queryRank {
      down.insert(
        GEMMShape("q_down_projection", m: tokens / r, n: Double(rank), k: h, fp8: fp8), at: 0)
      downParameters.replicated += h * Double(rank)
    } else {
      down.insert(GEMMShape("q_projection", m: tokens, n: a * qk / t, k: h, fp8: fp8), at: 0)
      downParameters.sharded += h * a * qk
    }
    ops.append(
      LayerOp(
        kind: .mlaDownProjection, gemms: down,
        saved: [
          SavedTensor("mla_down_input", linearInput * tokens * h / r, recomputedBy: .layerNorm)
        ],
        elementwiseBytes: castAfterNorm * tokens * h / r, parameters: downParameters))

    // Up projections over the gathered sequence. With the latent norms fused in, each saves the
    // norm's input (the latent, which the `mla_up_proj` checkpoint keeps as its input) and the
    // norm's output (the linear layer's input, which the checkpoint drops).
    var upGEMMs: [GEMMShape] = []
    var upSaved: [SavedTensor] = []
    var upParameters = LayerOp.Parameters(sharded: kr * a * (dn + dv))
    var latents = [("kv", kr)]
    if let rank = mla.queryRank { latents.insert(("q", Double(rank)), at: 0) }
    for (name, width) in latents {
      if norms {
        upSaved.append(SavedTensor("\(name)_latent_norm_input", e * tokens * width / r))
        upParameters.replicated += normParams * width
      }
      upSaved.append(
        SavedTensor(
          "\(name)_up_projection_input", linearInput * tokens * width / r, recomputedBy: up,
          kept: norms ? 0 : e * tokens * width / r))
    }
    if let rank = mla.queryRank {
      upGEMMs.append(
        GEMMShape("q_up_projection", m: tokens, n: a * qk / t, k: Double(rank), fp8: fp8))
      upParameters.sharded += Double(rank) * a * qk
    }
    upGEMMs.append(
      GEMMShape("kv_up_projection", m: tokens, n: a * (dn + dv) / t, k: kr, fp8: fp8))
    let latentWidth = latents.reduce(0) { $0 + $1.1 }
    ops.append(
      LayerOp(
        kind: .mlaUpProjection, gemms: upGEMMs, saved: upSaved,
        elementwiseBytes: ((norms ? 2 * e : 0) + castAfterNorm) * tokens * latentWidth / r,
        parameters: upParameters, recompute: up))

    // Rotary embedding of the queries' rope parts (a/t heads) and the shared key rope part, then
    // Q = [q_nope, q_rope], K = [k_nope, k_rope expanded to every head], V made contiguous:
    // reads the up projections' outputs and writes Q, K and V. Unfused, the rotary products save
    // their cos/sin tables (four s × d_rope, as for standard attention); nothing else is saved.
    // Under `mla_up_proj` the rope key input is what the checkpoint keeps beyond the latents.
    let rotated = e * tokens * (a * dr / t + dr)
    let assembly = e * tokens * a * (qk + dn + dv + 2 * qk + dv) / t
    var rotarySaved = [
      SavedTensor("mla_rope_key_input", 0, recomputedBy: up, kept: e * tokens * dr)
    ]
    if !m.fusions.rope {
      rotarySaved.append(SavedTensor("rotary_tables", 4 * e * s * dr, recomputedBy: up))
    }
    ops.append(
      LayerOp(
        kind: .mlaRotary, saved: rotarySaved,
        elementwiseBytes: 2 * rotated * (m.fusions.rope ? 1 : 4) + assembly, recompute: up))

    ops.append(mlaAttentionCore(m, shard, tokens: tokens, queryKeyDim: qk, valueDim: dv))

    // Output projection, row-parallel: a·d_v/t → h. It saves its input, which a fused
    // attention kernel also keeps as its output; in FP8 with a recipe other than delayed
    // scaling, MLA makes the projection keep that 16-bit input rather than an FP8 copy beside it
    // (`set_save_original_input(self.linear_proj)` in `MultiLatentAttention.__init__`), so one
    // tensor; with delayed scaling, the FP8 copy and the kernel's output: two.
    let width = a * dv
    let keepsOriginal = m.fp8.map { $0.recipe != .delayed } ?? false
    var projectionSaved = [
      SavedTensor(
        "projection_input",
        (keepsOriginal && m.fusedAttention ? e : linearInput) * tokens * width / t)
    ]
    if fp8 && m.fusedAttention && !keepsOriginal {
      projectionSaved.append(SavedTensor("attention_output", e * tokens * width / t))
    }
    ops.append(
      LayerOp(
        kind: .projection,
        gemms: [GEMMShape("projection", m: tokens, n: h, k: width / t, fp8: fp8)],
        saved: projectionSaved, elementwiseBytes: castStandalone * tokens * width / t,
        parameters: .init(sharded: width * h, replicated: bias * h)))
    return ops
  }

  /// MLA's core attention over a/t heads with query/key width d_qk = d_nope + d_rope and value
  /// width d_v (Transformer Engine's `DotProductAttention` with `k_channels`, `v_channels`), as
  /// `attentionCore` for standard attention: fused, it saves Q, K, V and the fp32 row
  /// statistics; unfused (every head its own key, no repeat), Q and K for QKᵀ, V, and the
  /// softmax output (and dropout) of a·s²·b/t scores. `mla_up_proj` drops Q, K and V.
  static func mlaAttentionCore(
    _ m: TransformerModel, _ shard: Shard, tokens: Double, queryKeyDim qk: Double,
    valueDim dv: Double
  ) -> LayerOp {
    let t = Double(shard.tensor), e = shard.precision.activationBytes
    let s = Double(m.sequenceLength), a = Double(m.heads)
    let heads = shard.sequences * a / t
    let executed = m.fusedAttention ? 0.5 : 1
    let fp8 = m.fp8?.attention ?? false
    let gemms = [
      GEMMShape(
        "attention_scores", m: s, n: s, k: qk, batch: heads, kind: .attention, fp8: fp8,
        executedFraction: executed),
      GEMMShape(
        "attention_over_values", m: s, n: dv, k: s, batch: heads, kind: .attention, fp8: fp8,
        executedFraction: executed),
    ]
    let up: RecomputeModules = .mlaUpProjection
    let queryKey = e * tokens * 2 * a * qk / t
    let value = e * tokens * a * dv / t
    var saved = [
      SavedTensor("query_key", queryKey, underSelective: queryKey, recomputedBy: up),
      SavedTensor("value", value, underSelective: value, recomputedBy: up),
    ]
    var bytes = 0.0
    if m.fusedAttention {
      saved.append(SavedTensor("softmax_statistics", 4 * a * tokens / t, underSelective: 0))
    } else {
      let scores = a * s * tokens / t
      let attentionDropout = m.dropout.attention > 0
      if m.fusions.maskedSoftmax || shard.precision == .fp32 {
        saved.append(SavedTensor("softmax_output", e * scores, underSelective: 0))
      } else {
        saved.append(SavedTensor("softmax_output", 4 * scores, underSelective: 0))
        if !attentionDropout {
          saved.append(SavedTensor("softmax_output_16bit", e * scores, underSelective: 0))
        }
      }
      if attentionDropout {
        saved.append(SavedTensor("softmax_dropout_mask", scores, underSelective: 0))
        saved.append(SavedTensor("attention_dropout_output", e * scores, underSelective: 0))
        bytes += (2 * e + 1) * scores
      }
      bytes += 2 * e * scores
    }
    return LayerOp(
      kind: .attentionCore, gemms: gemms, saved: saved, elementwiseBytes: bytes,
      recompute: .coreAttention)
  }
}
