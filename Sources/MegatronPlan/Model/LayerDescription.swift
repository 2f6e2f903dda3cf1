/// One transformer layer as a list of ops, for one GPU of a tensor-parallel group and one
/// microbatch: the GEMMs it runs, the tensors it saves for backward and the bytes its
/// memory-bound kernels move. Activation memory (`ActivationMemory`), FLOPs (`FLOPCount`),
/// parameters (`ParameterCount`) and step time (`StepTimeModel`) all read this description, so
/// an architecture feature is a local change here.
///
/// Saved tensors follow K22 §4.1's method, tensor by tensor (2-byte elements in 16-bit training,
/// 1-byte dropout masks); for GPT-3 they sum to K22 Table 2 exactly. Per-row statistics of the
/// norms (fp32 mean and 1/σ, 8 bytes per token) are left out as K22 leaves them out: they are
/// 4/h of one norm input, under 0.1 % for h ≥ 4096. docs/formulas.md lists every tensor.
public struct LayerDescription: Sendable, Hashable {
  public var ops: [LayerOp]
  /// Tensor-parallel regions whose output is all-reduced (or, with sequence parallelism,
  /// reduce-scattered after an all-gather of its input): attention and MLP, and a decoder layer's
  /// cross-attention (`decoderLayer`).
  public var tensorParallelRegions = 2
  /// A decoder layer's cross-attention reads the encoder output of this many tokens
  /// (s_enc·b) and this width: with sequence parallelism its keys' and values' projection
  /// all-gathers it (and again in backward). 0 without cross-attention.
  public var crossAttentionKeyTokens = 0.0
  public var crossAttentionKeyWidth = 0.0
  /// The tokens this GPU's layer processes per microbatch before sequence parallelism shards
  /// them (s·b/cp) and the width of its residual stream (h): what its tensor-parallel
  /// collectives move, e·tokens·hidden each.
  public var tokens = 0.0
  public var hidden = 0.0
  /// Whether its self-attention is causal (a decoder's); an encoder layer's attends both ways.
  public var causalSelfAttention = true

  /// Where a layer runs: its tensor-parallel size, sequence parallelism, the sequences in the
  /// microbatch and the element size.
  public struct Shard: Sendable, Hashable {
    public var tensor: Int
    public var sequenceParallel: Bool
    /// b: sequences in the microbatch (fractional values are allowed for per-token scaling).
    public var sequences: Double
    public var precision: Precision
    /// EP and ETP for MoE layers.
    public var expertParallel: Int
    public var expertTensor: Int
    /// Size the busiest GPU (`MixtureOfExperts.imbalance`, capacity); off for FLOP counts, which
    /// count k experts per token as Megatron does.
    public var busiest: Bool
    /// cp: the sequence is split over cp ranks; this one holds s/cp tokens of each sequence and
    /// attends with them over the whole sequence (`ContextParallelComm`).
    public var contextParallel: Int
    public var contextParallelComm: ContextParallelComm

    public init(
      tensor: Int, sequenceParallel: Bool, sequences: Double, precision: Precision,
      expertParallel: Int = 1, expertTensor: Int? = nil, busiest: Bool = true,
      contextParallel: Int = 1, contextParallelComm: ContextParallelComm = .p2p
    ) {
      self.tensor = max(1, tensor)
      self.sequenceParallel = sequenceParallel && tensor > 1
      self.sequences = sequences
      self.precision = precision
      self.expertParallel = max(1, expertParallel)
      self.expertTensor = max(1, expertTensor ?? tensor)
      self.busiest = busiest
      self.contextParallel = max(1, contextParallel)
      self.contextParallelComm = contextParallelComm
    }

    public init(_ layout: Layout, precision: Precision) {
      self.init(
        tensor: layout.tensor, sequenceParallel: layout.effectiveSequenceParallel,
        sequences: Double(layout.microBatch), precision: precision,
        expertParallel: layout.expertParallel, expertTensor: layout.expertTensorParallel,
        contextParallel: layout.contextParallel, contextParallelComm: layout.contextParallelComm)
    }

    /// The unsharded layer for B sequences (what FLOP counts of the whole model use).
    public static func whole(sequences: Double, precision: Precision = .bf16) -> Shard {
      Shard(
        tensor: 1, sequenceParallel: false, sequences: sequences, precision: precision,
        expertParallel: 1, expertTensor: 1, busiest: false)
    }
  }

  /// A dense layer, or with `moe` the model's MoE layer (its MLP replaced by experts); with
  /// `sliding` its self-attention is the model's sliding window (`AttentionWindow`).
  public init(_ m: TransformerModel, _ shard: Shard, moe: Bool = false, sliding: Bool = false) {
    let t = Double(shard.tensor)
    let e = shard.precision.activationBytes
    let s = Double(m.sequenceLength)
    // s·b/cp: every op but the attention core is per token, so context parallelism divides
    // them all by cp (each rank holds s/cp tokens of every sequence).
    let tokens = s * shard.sequences / Double(shard.contextParallel)
    let h = Double(m.hidden), f = Double(m.ffnHidden), f1 = Double(m.fc1Width)
    let qw = Double(m.queryWidth), kvw = Double(m.keyValueWidth)
    let dh = Double(m.headDim)
    // Tensors sharded only with sequence parallelism are replicated on the t ranks otherwise
    // (K22 §4.2.2, Eq. 4).
    let r = shard.sequenceParallel ? t : 1
    let bias: Double = m.linearBiases ? 1 : 0
    let normParams = Double(m.normalization.parametersPerFeature)
    let hiddenDropout = m.dropout.hidden > 0
    // FP8 (Transformer Engine): each linear layer keeps its input for the weight gradient as
    // FP8 (`FP8Training.Recipe.savedBytesPerElement`) instead of 16-bit, and casts it (and, in
    // backward, its output gradient) with memory-bound kernels: a fused norm writes the FP8
    // copy and its transpose directly (2 bytes per element), a standalone cast reads e and writes
    // 2. The norms' own inputs stay 16-bit.
    let fp8 = m.fp8
    let linearInput = fp8?.recipe.savedBytesPerElement ?? e
    let castAfterNorm = fp8?.recipe.castBytes(elementBytes: e, fused: true) ?? 0
    let castStandalone = fp8?.recipe.castBytes(elementBytes: e, fused: false) ?? 0
    var ops: [LayerOp] = []

    // A pre-norm saves its input (K22 §4.1: "each LayerNorm stores its input, 2sbh"); RMSNorm
    // likewise (it needs x and the per-row 1/rms, which is left out as above). Reads and writes
    // s·b·h once.
    func norm(_ kind: OpKind) -> LayerOp {
      // Backward: its output's gradient and its input's, e·T·h/r each.
      LayerOp(
        kind: kind, saved: [SavedTensor("layernorm_inputs", e * tokens * h / r)],
        elementwiseBytes: 2 * e * tokens * h / r,
        parameters: .init(replicated: normParams * h), backwardTransient: 2 * e * tokens * h / r)
    }
    // Bias-dropout-add after the projection and after fc2: a 1-byte mask of s·b·h when the
    // dropout is on (K22 §4.1); it reads the input and the residual and writes the sum.
    func residual(_ kind: OpKind, mask: String) -> LayerOp {
      LayerOp(
        kind: kind,
        saved: hiddenDropout ? [SavedTensor(mask, tokens * h / r)] : [],
        elementwiseBytes: (3 * e + (hiddenDropout ? 1 : 0)) * tokens * h / r,
        backwardTransient: hiddenDropout ? e * tokens * h / r : 0)  // the dropout's gradient
    }

    ops.append(norm(.inputNorm))
    if let mla = m.mla {
      // Multi-latent attention replaces the fused QKV, the rotary embedding, the core and the
      // projection (MultiLatentAttention.swift); its input norm is a module of its own.
      ops[ops.count - 1].recompute = .layerNorm
      ops += Self.multiLatentAttention(
        m, mla, shard, tokens: tokens, linearInput: linearInput, castAfterNorm: castAfterNorm,
        castStandalone: castStandalone)
    } else {
      // Fused QKV, column-parallel: h → (a + 2g)·d_h / t. Saves its input, 2sbh (replicated
      // without SP; with SP Megatron saves the sequence-sharded input and all-gathers it again in
      // backward).
      ops.append(
        LayerOp(
          kind: .qkv,
          gemms: [
            GEMMShape(
              "qkv", m: tokens, n: Double(m.qkvWidth) / t, k: h, fp8: fp8 != nil,
              sequenceGathered: shard.sequenceParallel)
          ],
          saved: [SavedTensor("qkv_input", linearInput * tokens * h / r)],
          elementwiseBytes: castAfterNorm * tokens * h / r,
          parameters: .init(
            sharded: h * Double(m.qkvWidth) + (m.qkvBias ? Double(m.qkvWidth) : 0))))
      if m.qkLayerNorm {
        // Per-head norms of queries and keys (Megatron-Core `q_layernorm`, `k_layernorm`, each
        // of size d_h): each saves its input.
        ops.append(
          LayerOp(
            kind: .qkNorm, saved: [SavedTensor("qk_norm_inputs", e * tokens * (qw + kvw) / t)],
            elementwiseBytes: 2 * e * tokens * (qw + kvw) / t,
            parameters: .init(replicated: 2 * normParams * dh)))
      }
      if case .rotary(let percentage, _) = m.positionEmbedding {
        // Rotary embedding of queries and keys: multiplications by the constant cos/sin tables,
        // so backward needs only the tables, not the inputs; nothing activation-sized is saved.
        // The fused kernel reads and writes the rotated part once; unfused, PyTorch runs four
        // elementwise passes (×cos, rotate-half, ×sin, add).
        // Unfused, Megatron-Core's `apply_rotary_pos_emb` recomputes cos(freqs) and sin(freqs)
        // in the activation dtype on every call, for queries and for keys, and the products save
        // them: four s × d_h tables per layer (measured on CPU: validation/results/
        // llama-layer-cpu.json). The fused kernel saves none.
        let rotated = e * tokens * (qw + kvw) * percentage / t
        let positions = s / Double(shard.contextParallel)  // the rank's own positions
        let tables =
          m.fusions.rope ? [] : [SavedTensor("rotary_tables", 4 * e * positions * dh)]
        ops.append(
          LayerOp(
            kind: .rotary, saved: tables, elementwiseBytes: 2 * rotated * (m.fusions.rope ? 1 : 4))
        )
      }
      ops.append(
        Self.attentionCore(m, shard, tokens: tokens, window: sliding ? m.slidingWindow : nil))
      // Output projection, row-parallel: a·d_h / t → h. Saves its input (the attention output,
      // 2sbh/t), which a fused attention kernel also keeps as its output: one tensor.
      // In FP8 the projection keeps an FP8 copy of its input, and a fused attention kernel still
      // keeps its 16-bit output for its own backward: two tensors.
      var projectionSaved = [SavedTensor("projection_input", linearInput * tokens * qw / t)]
      if fp8 != nil && m.fusedAttention {
        projectionSaved.append(SavedTensor("attention_output", e * tokens * qw / t))
      }
      ops.append(
        LayerOp(
          kind: .projection,
          gemms: [GEMMShape("projection", m: tokens, n: h, k: qw / t, fp8: fp8 != nil)],
          saved: projectionSaved, elementwiseBytes: castStandalone * tokens * qw / t,
          parameters: .init(sharded: qw * h, replicated: bias * h)))
    }
    if m.sandwichNorm || m.blockType == .normformer { ops.append(norm(.postAttentionNorm)) }
    ops.append(residual(.attentionResidual, mask: "attention_dropout_mask"))
    ops.append(norm(.preMlpNorm))
    if moe, let experts = m.moe {
      // The MoE layer spec keeps the pre-MLP norm a module of its own (`TENorm`, not fused into
      // a linear layer), so `layernorm` recompute reruns it.
      ops[ops.count - 1].recompute = .layerNorm
      ops += Self.moeMLP(
        m, experts, shard, tokens: tokens, linearInput: linearInput,
        castStandalone: castStandalone)
      if m.sandwichNorm { ops.append(norm(.postMlpNorm)) }
      ops.append(residual(.mlpResidual, mask: "mlp_dropout_mask"))
      self.ops = ops
      self.tokens = tokens
      self.hidden = h
      applyFP4(m)
      return
    }
    // fc1, column-parallel: h → f/t (2f/t gated). Saves its input 2sbh (/t with SP).
    // `mlp` recompute checkpoints the MLP on its input (the pre-MLP norm's input, which the
    // fused norm keeps) and drops everything inside it.
    ops.append(
      LayerOp(
        kind: .fc1,
        gemms: [
          GEMMShape(
            "fc1", m: tokens, n: f1 / t, k: h, fp8: fp8 != nil,
            sequenceGathered: shard.sequenceParallel)
        ],
        saved: [SavedTensor("fc1_input", linearInput * tokens * h / r, recomputedBy: .mlp)],
        elementwiseBytes: castAfterNorm * tokens * h / r,
        parameters: .init(sharded: h * f1 + bias * f1), recompute: .mlp))
    ops.append(Self.activation(m, shard, tokens: tokens, dropping: .mlp))
    if m.blockType == .normformer {
      // NormFormer's norm on the activation's output, f/t wide on each rank (its own f/t weights):
      // saves its input; fc2 then saves the norm's output (counted there).
      ops.append(
        LayerOp(
          kind: .ffnNorm,
          saved: [SavedTensor("ffn_norm_input", e * tokens * f / t, recomputedBy: .mlp)],
          elementwiseBytes: 2 * e * tokens * f / t,
          parameters: .init(sharded: normParams * f), recompute: .mlp))
    }
    // fc2, row-parallel: f/t → h. Saves its input, the activation output (8sbh/t at f = 4h).
    ops.append(
      LayerOp(
        kind: .fc2, gemms: [GEMMShape("fc2", m: tokens, n: h, k: f / t, fp8: fp8 != nil)],
        saved: [SavedTensor("fc2_input", linearInput * tokens * f / t, recomputedBy: .mlp)],
        elementwiseBytes: castStandalone * tokens * f / t,
        parameters: .init(sharded: f * h, replicated: bias * h), recompute: .mlp))
    if m.sandwichNorm { ops.append(norm(.postMlpNorm)) }
    ops.append(residual(.mlpResidual, mask: "mlp_dropout_mask"))
    self.ops = ops
    self.tokens = tokens
    self.hidden = h
    applyFP4(m)
  }

  /// Under the NVFP4 recipe the linear layers' low-precision GEMMs run in FP4 (the attention
  /// core and the router stay as they are).
  mutating func applyFP4(_ m: TransformerModel) {
    guard m.fp8?.recipe.fp4 == true else { return }
    for i in ops.indices {
      for j in ops[i].gemms.indices where ops[i].gemms[j].fp8 && ops[i].gemms[j].kind == .weight {
        ops[i].gemms[j].fp4 = true
      }
    }
  }

  /// What an attention core's backward holds beside its saved tensors: the gradients of its
  /// output and of Q, K and V (unfused, of the copies K and V were repeated to for a heads:
  /// 3·a·d_h wide) and, unfused, the s² gradients alive beside them (e·as²b/t each). The
  /// chain is the GEMM over V's backward (the probabilities' gradient), dropout's (a new
  /// gradient; the dropped copy already freed), the softmax's (the scores' gradient; the mask
  /// freed): with attention dropout its saved 5 bytes per score and one gradient at its
  /// fullest (7), without it the 2-byte probabilities and two gradients (6).
  static func coreBackwardTransient(_ m: TransformerModel, _ shard: Shard, tokens: Double)
    -> Double
  {
    let t = Double(shard.tensor), e = shard.precision.activationBytes
    let qw = Double(m.queryWidth), kvw = Double(m.keyValueWidth)
    if m.fusedAttention { return e * tokens * (2 * qw + 2 * kvw) / t }
    let scores = Double(m.heads) * Double(m.sequenceLength) * tokens / t
    let gradients: Double = m.dropout.attention > 0 ? 1 : 2
    return e * tokens * 4 * qw / t + gradients * e * scores
  }

  /// QKᵀ, softmax, dropout and attention over V for a/t heads; with `window`, over the W most
  /// recent keys of each query (`AttentionWindow`).
  static func attentionCore(
    _ m: TransformerModel, _ shard: Shard, tokens: Double, window: AttentionWindow? = nil
  ) -> LayerOp {
    let t = Double(shard.tensor), e = shard.precision.activationBytes
    let s = Double(m.sequenceLength), a = Double(m.heads), dh = Double(m.headDim)
    let qw = Double(m.queryWidth), kvw = Double(m.keyValueWidth)
    // Batched GEMMs over b·a/t heads: QKᵀ [s, d_h]·[d_h, s] and probabilities × V [s, s]·[s, d_h],
    // 2·s²·d_h FLOPs each per head (K22 App. A: 2Bs²h each for a·d_h = h). With context
    // parallelism a rank's s/cp queries attend over all s keys: 1/cp of the work (and with the
    // load-balanced chunking of `ContextParallelComm` every rank gets the same share of the
    // causal half).
    // A sliding window of W attends s·W − W²/2 key positions per head instead of s²/2
    // (`AttentionWindow.attendedShare`): the GEMMs count s·(2W/s − (W/s)²) keys per query, so
    // that the causal half of the count is what the window attends, as the causal half of s²
    // is what causal attention attends.
    let heads = shard.sequences * a / t
    let queries = s / Double(shard.contextParallel)
    let share = window?.attendedShare(sequence: s) ?? 1
    let keys = s * share
    let fp8 = m.fp8?.attention ?? false
    // A fused (flash) kernel skips the blocks above the causal diagonal, so it does about half
    // of the s² work (FlashAttention-2 §3.1.1); and outside a window's band, so it does the
    // window's half of its count (flash-attn's local attention starts each query block at its
    // first unmasked key block: csrc/flash_attn/src/flash_fwd_kernel.h, `n_block_min` from
    // `window_size_left`; Transformer Engine hands cuDNN the window as a band of the causal
    // mask, taken to skip the same blocks). The unfused path computes every
    // score of the s × s matrix and masks them (Megatron-Core `FusedScaleMaskSoftmax` with
    // `window_size`): 1/share of the count. FLOP counts keep the full s² (K22's convention) or
    // the window's count; only the time uses the fraction.
    let executed = m.fusedAttention ? 0.5 : 1 / share
    let gemms = [
      GEMMShape(
        "attention_scores", m: queries, n: keys, k: dh, batch: heads, kind: .attention, fp8: fp8,
        executedFraction: executed),
      GEMMShape(
        "attention_over_values", m: queries, n: dh, k: keys, batch: heads, kind: .attention,
        fp8: fp8, executedFraction: executed),
    ]
    let attentionDropout = m.dropout.attention > 0
    // What selective recompute's checkpoint of the core holds (Megatron-Core
    // `_checkpointed_attention_forward` saves Q, K and V): V is a view of the fused QKV output, so
    // that whole output, eT(a + 2g)d_h/t, stays alive; rotary and QK norms make Q and K new
    // tensors beside it, eT(a + g)d_h/t; without them, with g < a split over more than one group
    // per rank, the query reshape copies Q, eT·a·d_h/t (Megatron-Core's grouped QKV layout).
    // Measured on CPU with the harness: validation/results/llama-layer-cpu.json.
    let qkvOutput = e * tokens * Double(m.qkvWidth) / t  // its Q, K and V parts: (a + 2g)d_h
    let transformsQK =
      m.qkLayerNorm || { if case .rotary = m.positionEmbedding { true } else { false } }()
    let groupsHere = m.queryGroups / max(1, shard.tensor)
    let checkpointExtra =
      transformsQK
      ? e * tokens * (qw + kvw) / t
      : (m.queryGroups < m.heads && groupsHere > 1 ? e * tokens * qw / t : 0)
    var saved: [SavedTensor] = []
    var bytes = 0.0
    if m.fusedAttention {
      // A fused (flash) kernel saves Q, K, V, its output (the projection's input, counted
      // there) and the fp32 log-sum-exp of each score row (4 bytes × a·s·b/t); dropout is
      // regenerated from the RNG state (FlashAttention §3.1). Grouped-query K and V are read
      // as they are (g·d_h wide). Selective recompute keeps Q, K, V as the checkpoint's inputs
      // and drops the statistics.
      // Transformer Engine makes V contiguous, so the QKV output is not kept without recompute.
      saved.append(
        SavedTensor(
          "query_key", e * tokens * (qw + kvw) / t,
          underSelective: e * tokens * (qw + kvw) / t + checkpointExtra))
      saved.append(SavedTensor("value", e * tokens * kvw / t))
      saved.append(SavedTensor("softmax_statistics", 4 * a * tokens / t, underSelective: 0))
      if m.flashOutputCopy {
        // flash-attn's own [b, s] output beside the [s, b] copy the projection keeps.
        saved.append(SavedTensor("attention_kernel_output", e * tokens * qw / t, underSelective: 0))
      }
    } else {
      // Unfused (Megatron-Core `DotProductAttention`): with g < a, K and V are repeated to a
      // heads before the batched GEMMs, which save the expanded copies (2sbh/t for Q and K and
      // sbh/t for V when a·d_h = h: K22's 4sbh/t and 2sbh/t). Selective recompute checkpoints
      // the core with its unexpanded inputs.
      // With g = a there is no repeat: the GEMM over V saves V as a view of the QKV output,
      // which then keeps the untransformed Q and K alive too when rotary or QK norms replaced
      // them (measured on CPU: validation/results/llama-layer-cpu.json).
      let value = m.queryGroups == m.heads && transformsQK ? qkvOutput : e * tokens * qw / t
      saved.append(
        SavedTensor(
          "query_key", e * tokens * 2 * qw / t,
          underSelective: e * tokens * (qw + kvw) / t + checkpointExtra))
      saved.append(SavedTensor("value", value, underSelective: e * tokens * kvw / t))
      let scores = a * s * tokens / t  // a·s²·b/t elements
      if m.fusions.maskedSoftmax || shard.precision == .fp32 {
        // The fused scale-mask-softmax saves its 16-bit output, 2as²b/t (K22 §4.1); the GEMM
        // over V saves the same tensor when there is no dropout.
        saved.append(SavedTensor("softmax_output", e * scores, underSelective: 0))
      } else {
        // Unfused, softmax in fp32 (`attention_softmax_in_fp32`): the softmax saves its fp32
        // output; without dropout the GEMM over V saves the 16-bit copy as well.
        saved.append(SavedTensor("softmax_output", 4 * scores, underSelective: 0))
        if !attentionDropout {
          saved.append(SavedTensor("softmax_output_16bit", e * scores, underSelective: 0))
        }
      }
      if attentionDropout {
        // Dropout on the probabilities: a 1-byte mask as²b/t and the dropped copy 2as²b/t,
        // which the GEMM over V saves (K22 §4.1).
        saved.append(SavedTensor("softmax_dropout_mask", scores, underSelective: 0))
        saved.append(SavedTensor("attention_dropout_output", e * scores, underSelective: 0))
      }
      // Memory-bound kernels on the scores: softmax reads and writes them; ALiBi adds its
      // bias (read + write); dropout reads, writes and writes a mask.
      bytes += 2 * e * scores
      // ALiBi and T5's relative bias add their bias to every score (read + write).
      if m.positionEmbedding == .alibi || m.positionEmbedding == .relative {
        bytes += 2 * e * scores
      }
      if attentionDropout { bytes += (2 * e + 1) * scores }
    }
    // Attention sinks (`softmax_type` learnable): one learned logit per head, a/t on each rank
    // (Megatron-Core `DotProductAttention.softmax_offset`). Their arithmetic, one more term in
    // each row's softmax (a·s·b exponentials against the a·s·b·W of the scores), and their
    // gradient are left out.
    var core = LayerOp(
      kind: .attentionCore, gemms: gemms, saved: saved, elementwiseBytes: bytes,
      parameters: .init(sharded: Double(m.softmax.parameters(heads: m.heads))),
      recompute: .coreAttention,
      backwardTransient: coreBackwardTransient(m, shard, tokens: tokens))
    if m.fusedAttention {
      // The fused kernel's calls: one causal pass over the whole sequence, or with context
      // parallelism as the cp_comm_type splits it (`ContextParallelComm.levels`): a ring of R
      // steps, each over one block of s/R keys, the first (the rank's own block) causal and the
      // other R − 1 not (load-balanced chunks: a later block is either wholly visible or wholly
      // masked for half of the queries); a2a and all_gather attend over the whole sequence.
      // A window's calls each see a band of W keys per query (`FlashAttentionCalls.band`).
      let (_, ring) = shard.contextParallelComm.levels(cp: shard.contextParallel)
      let r = shard.contextParallel > 1 ? Double(ring) : 1
      if let window {
        core.kernel = FlashAttentionCalls(
          keyLength: min(Double(window.size), s), causalShare: 1, headDim: dh, band: true)
      } else {
        core.kernel = FlashAttentionCalls(keyLength: s / r, causalShare: 1 / r, headDim: dh)
      }
    }
    return core
  }

  /// An MoE layer's MLP (Megatron-Core `MoELayer`), on the busiest GPU of its expert-parallel
  /// group. T_in = s·b/t tokens enter on each rank (Megatron-Core requires sequence parallelism
  /// for MoE with t > 1); each goes to k experts, so with the all-to-all dispatcher the rank's
  /// E/EP local experts process T_in·k·imbalance token copies, gathered over ETP
  /// (`MixtureOfExperts.routedFactor`), each expert's MLP split ETP ways:
  /// - router: a replicated h × E GEMM; saves its input (the norm's output) and the fp32
  ///   probabilities T_in·E (aux-loss and z-loss terms reuse them: free in memory);
  /// - expert fc1 / activation / fc2 as in a dense MLP of width f_e/ETP over the routed tokens
  ///   (`expert_fc1_input` is the permuted tokens, `expert_output` what the combine keeps to
  ///   weight by the probabilities);
  /// - shared experts: a dense, tensor-parallel MLP of width f_s over the same input, with its
  ///   sigmoid gate when `moe_shared_expert_gate` is on.
  /// Recompute modules: `moe` checkpoints the whole layer on its input (the norm's output) and
  /// drops the rest; `moe_act` discards the expert activation's output (the expert fc2 input);
  /// `shared_experts` checkpoints the shared experts; `layernorm` discards the norm's output,
  /// the router's saved input.
  static func moeMLP(
    _ m: TransformerModel, _ experts: MixtureOfExperts, _ shard: Shard, tokens: Double,
    linearInput: Double, castStandalone: Double
  ) -> [LayerOp] {
    let t = Double(shard.tensor), e = shard.precision.activationBytes
    let h = Double(m.hidden), E = Double(experts.experts)
    let etp = Double(shard.expertTensor)
    let fe = Double(experts.expertFFN), fe1 = m.gatedMLP ? 2 * fe : fe
    let bias: Double = m.linearBiases ? 1 : 0
    let fp8 = m.fp8 != nil
    let tokensIn = tokens / t
    let factor = shard.busiest ? experts.routedFactor : Double(experts.topK)
    let routed = tokensIn * factor * (t > 1 ? etp : 1)
    let layer: RecomputeModules = .moe
    // The rank's local experts, each with its own weights in the grouped GEMM.
    let local = max(1, E / Double(shard.expertParallel))
    var ops: [LayerOp] = []
    // The router's h × E weight and, with biases on (`add_bias_linear`), an E bias
    // (Megatron-Core `TopKRouter`, megatron/core/transformer/moe/router.py: `self.bias` when
    // `config.add_bias_linear`; GPT-OSS's `mlp.router.bias`).
    ops.append(
      LayerOp(
        kind: .router, gemms: [GEMMShape("router", m: tokensIn, n: E, k: h)],
        saved: [
          SavedTensor("router_input", e * tokensIn * h, recomputedBy: .layerNorm),
          SavedTensor("router_probabilities", 4 * tokensIn * E, recomputedBy: layer),
        ],
        elementwiseBytes: 3 * 4 * tokensIn * E,  // softmax/sigmoid and top-k over fp32 scores
        parameters: .init(replicated: h * E + bias * E), recompute: layer))
    // Dispatch: permute the token copies (read and write them).
    ops.append(
      LayerOp(kind: .dispatch, elementwiseBytes: 2 * e * routed * h, recompute: layer))
    ops.append(
      LayerOp(
        kind: .expertFc1,
        gemms: [
          GEMMShape("expert_fc1", m: routed, n: fe1 / etp, k: h, fp8: fp8, weightGroups: local)
        ],
        saved: [SavedTensor("expert_fc1_input", linearInput * routed * h, recomputedBy: layer)],
        elementwiseBytes: castStandalone * routed * h,
        parameters: .init(expert: E * (h * fe1 + bias * fe1)), recompute: layer))
    var act = activation(
      m, shard, tokens: routed, ffn: fe / etp * t, prefix: "expert_", dropping: layer,
      discardedOutput: .moeActivation)
    act.kind = .expertActivation
    act.recompute = [.moe, .moeActivation]
    ops.append(act)
    ops.append(
      LayerOp(
        kind: .expertFc2,
        gemms: [
          GEMMShape("expert_fc2", m: routed, n: h, k: fe / etp, fp8: fp8, weightGroups: local)
        ],
        saved: [
          SavedTensor(
            "expert_fc2_input", linearInput * routed * fe / etp,
            recomputedBy: [.moe, .moeActivation])
        ],
        elementwiseBytes: castStandalone * routed * fe / etp,
        parameters: .init(expert: E * (fe * h + bias * h)), recompute: layer))
    // Combine: unpermute and sum each token's k expert outputs (reduce-scattered over ETP).
    // Megatron-Core weights the expert outputs by the router probabilities inside the expert
    // activation (`weighted_bias_swiglu_impl`, experts.py; "memory efficient token
    // permutation", 2025-04), so the unpermute saves nothing; the weighted activation keeps
    // the permuted fp32 probabilities (4 bytes per token copy) for their gradient.
    ops.append(
      LayerOp(
        kind: .combine,
        saved: [SavedTensor("expert_probabilities", 4 * routed, recomputedBy: layer)],
        elementwiseBytes: 2 * e * routed * h / etp, recompute: layer))
    if experts.sharedExpertFFN > 0 {
      let fs = Double(experts.sharedExpertFFN), fs1 = m.gatedMLP ? 2 * fs : fs
      let shared: RecomputeModules = [.moe, .sharedExperts]
      // Column-parallel over t with its input all-gathered from the sequence shards; the
      // sequence-sharded input itself is the router's (one tensor).
      ops.append(
        LayerOp(
          kind: .sharedFc1,
          gemms: [GEMMShape("shared_fc1", m: tokens, n: fs1 / t, k: h, fp8: fp8)],
          parameters: .init(sharded: h * fs1 + bias * fs1), recompute: shared))
      var sharedAct = activation(
        m, shard, tokens: tokens, ffn: fs, prefix: "shared_", dropping: shared)
      sharedAct.kind = .sharedActivation
      sharedAct.recompute = shared
      ops.append(sharedAct)
      ops.append(
        LayerOp(
          kind: .sharedFc2,
          gemms: [GEMMShape("shared_fc2", m: tokens, n: h, k: fs / t, fp8: fp8)],
          saved: [
            SavedTensor("shared_fc2_input", linearInput * tokens * fs / t, recomputedBy: shared)
          ],
          parameters: .init(sharded: fs * h), recompute: shared))
      if experts.sharedExpertGate {
        // Megatron-Core `SharedExpertMLP` with a gate: sigmoid(x·w_g) scales the shared output;
        // w_g is 1 × h on every tensor rank. It keeps the shared output (h wide) and the gate
        // value for backward; the gate GEMM reads the same input as the router.
        ops.append(
          LayerOp(
            kind: .sharedGate, gemms: [GEMMShape("shared_gate", m: tokensIn, n: 1, k: h)],
            saved: [
              SavedTensor("shared_gate_output", e * tokensIn * (h + 1), recomputedBy: shared)
            ],
            elementwiseBytes: 3 * e * tokensIn * h, parameters: .init(replicated: h),
            recompute: shared))
      }
    }
    return ops
  }

  /// The MLP's activation between fc1 and fc2 (of width `ffn`, sharded over t; a gated one reads
  /// 2·ffn), over `tokens` tokens.
  /// `dropping`: the checkpointing recompute modules that drop everything the activation saves;
  /// `discardedOutput`: the output-discarding one (`moe_act`), under which the activation runs
  /// without saving its internals and only its input (fc1's output) stays.
  static func activation(
    _ m: TransformerModel, _ shard: Shard, tokens: Double, ffn: Double? = nil, prefix: String = "",
    dropping: RecomputeModules = [], discardedOutput: RecomputeModules = []
  ) -> LayerOp {
    let t = Double(shard.tensor), e = shard.precision.activationBytes
    let f = ffn ?? Double(m.ffnHidden), f1 = m.gatedMLP ? 2 * f : f
    var saved: [SavedTensor] = []
    var bytes = e * tokens * (f1 + f) / t  // read fc1's output, write f
    let inside = dropping.union(discardedOutput)
    // Every activation keeps one fc1-output-sized input for its backward: GeLU its input
    // (fused bias-GeLU saves input and bias), a fused gated kernel its 2f-wide input, ReLU and
    // squared ReLU the ReLU output (which the square's backward reuses).
    // With `activation_func_fp8_input_store` the fused SwiGLU keeps that input as FP8 (1 byte)
    // and writes the copy (1 byte per element more); under `moe_act` the checkpoint keeps the
    // 16-bit input instead.
    let fp8Input =
      m.fusions.fp8ActivationInput && m.activation == .swiglu && m.fusions.biasActivation
    var input = SavedTensor(
      prefix + "activation_input", (fp8Input ? 1 : e) * tokens * f1 / t, recomputedBy: dropping)
    if fp8Input {
      bytes += tokens * f1 / t
      if !discardedOutput.isEmpty {
        input.recomputed.append(.init(modules: discardedOutput, kept: e * tokens * f1 / t))
      }
    }
    saved.append(input)
    if m.gatedMLP && !m.fusions.biasActivation {
      // Unfused act(gate) ⊙ up: the product also saves act(gate), f wide.
      saved.append(
        SavedTensor(prefix + "activation_gate_output", e * tokens * f / t, recomputedBy: inside))
      bytes += 2 * e * tokens * f / t
      if m.activation == .quickGeGLU {
        // quick_gelu(x) = x·σ(1.702x) as PyTorch ops: the product keeps σ's output, f wide.
        saved.append(
          SavedTensor(prefix + "activation_sigmoid", e * tokens * f / t, recomputedBy: inside))
        bytes += 2 * e * tokens * f / t
      }
      if m.gluLinearOffset != 0 && m.activationClamp == nil {
        // up + offset is a new f-wide tensor, which the product keeps.
        saved.append(
          SavedTensor(prefix + "activation_offset_up", e * tokens * f / t, recomputedBy: inside))
        bytes += 2 * e * tokens * f / t
      }
    }
    if m.gatedMLP, m.activationClamp != nil {
      // The clamp (Megatron-Core `weighted_bias_quick_geglu_impl` and the unfused `glu`:
      // gate.clamp(max: c), up.clamp(−c, c), concatenated again for the fused kernel) runs as
      // PyTorch ops beside the activation: each clamp keeps its input for backward (views of
      // fc1's output, which `activation_input` counts), and the activation keeps the clamped
      // copy, f₁ wide, not fc1's output. The two clamps and the concatenation read and write f₁
      // each. Under `moe_act` the checkpoint keeps only fc1's output.
      saved.append(
        SavedTensor(
          prefix + "activation_clamped_input", e * tokens * f1 / t, recomputedBy: inside))
      bytes += 4 * e * tokens * f1 / t
    }
    if m.dropout.ffn > 0 {
      // NeMo `ffn_dropout` after the activation: a 1-byte mask of f/t per token.
      saved.append(
        SavedTensor(prefix + "ffn_dropout_mask", tokens * f / t, recomputedBy: inside))
      bytes += (2 * e + 1) * tokens * f / t
    }
    // Backward: the gradient of its output (f wide) and of its input (f₁ wide).
    return LayerOp(
      kind: .activation, saved: saved, elementwiseBytes: bytes, recompute: dropping,
      backwardTransient: e * tokens * (f + f1) / t)
  }

  // MARK: - What the rest of megaplan reads

  /// Bytes saved for backward with every activation stored, by tensor (tensors that exist only
  /// under a recompute module are left out).
  public var saved: Breakdown<ByteUnit> {
    var out = Breakdown<ByteUnit>()
    for op in ops {
      for tensor in op.saved where tensor.bytes > 0 || tensor.recomputed.isEmpty {
        out.add(tensor.name, Bytes(tensor.bytes))
      }
    }
    return out
  }

  /// Bytes saved under selective recompute of `modules`, by tensor; tensors the recompute drops
  /// entirely are left out.
  public func saved(recomputing modules: RecomputeModules) -> Breakdown<ByteUnit> {
    var out = Breakdown<ByteUnit>()
    for op in ops {
      for tensor in op.saved {
        let kept = tensor.bytes(recomputing: modules)
        if kept > 0 { out.add(tensor.name, Bytes(kept)) }
      }
    }
    return out
  }

  /// Bytes saved under Megatron-Core's default selective recompute (the attention core), by
  /// tensor; tensors selective recompute drops entirely are left out.
  public var savedUnderSelective: Breakdown<ByteUnit> { saved(recomputing: .coreAttention) }

  /// Forward FLOPs of every GEMM, by GEMM name.
  public var gemmFLOPs: Breakdown<FLOPUnit> {
    var out = Breakdown<FLOPUnit>()
    for op in ops { for g in op.gemms { out.add(g.name, g.flops) } }
    return out
  }

  /// Every GEMM with its op.
  public var gemms: [GEMMShape] { ops.flatMap(\.gemms) }

  public func op(_ kind: OpKind) -> LayerOp? { ops.first { $0.kind == kind } }

  /// Parameters of one layer on one GPU of the tensor-parallel group, as the layer's ops hold
  /// them: sharded weights (column- and row-parallel) and what each rank replicates.
  public var parameters: LayerOp.Parameters {
    ops.reduce(LayerOp.Parameters()) { $0 + $1.parameters }
  }
}

/// One op of a layer.
public struct LayerOp: Sendable, Hashable {
  public struct Parameters: Sendable, Hashable {
    /// Weights tensor parallelism splits over t (counted whole here: the caller divides).
    public var sharded: Double
    /// Weights every tensor-parallel rank holds in full (norms, row-parallel biases, router).
    public var replicated: Double
    /// Routed experts' weights, split over EP × ETP (counted whole here).
    public var expert: Double
    public init(sharded: Double = 0, replicated: Double = 0, expert: Double = 0) {
      self.sharded = sharded
      self.replicated = replicated
      self.expert = expert
    }
    static func + (a: Parameters, b: Parameters) -> Parameters {
      Parameters(
        sharded: a.sharded + b.sharded, replicated: a.replicated + b.replicated,
        expert: a.expert + b.expert)
    }
    /// On one GPU of a layout.
    public func perGPU(_ layout: Layout) -> Double {
      sharded / Double(max(1, layout.tensor)) + replicated + expert
        / Double(max(1, layout.expertParallel * layout.expertTensorParallel))
    }
    public var total: Double { sharded + replicated + expert }
  }

  public var kind: OpKind
  /// The name reports print (`kind`'s).
  public var name: String { kind.rawValue }
  public var gemms: [GEMMShape]
  public var saved: [SavedTensor]
  /// Bytes the op's memory-bound kernels read and write in forward, on this GPU.
  public var elementwiseBytes: Double
  public var parameters: Parameters
  /// For a fused (flash) attention core: the shape of its kernel calls, which its efficiency
  /// follows (`StepTimeModel.flashEfficiency`).
  public var kernel: FlashAttentionCalls? = nil
  /// The selective-recompute modules whose recompute reruns this op's forward in backward.
  public var recompute: RecomputeModules
  /// Bytes the op's backward holds beside the saved tensors and the layer's incoming gradient
  /// while it runs: the gradients of its output and of its input (and a fused kernel's
  /// scratch). nil: derived from its weight GEMMs (`backwardTransientBytes`).
  public var backwardTransient: Double?

  public init(
    kind: OpKind, gemms: [GEMMShape] = [], saved: [SavedTensor] = [], elementwiseBytes: Double = 0,
    parameters: Parameters = .init(), recompute: RecomputeModules = [],
    backwardTransient: Double? = nil
  ) {
    self.kind = kind
    self.gemms = gemms.map {
      var g = $0
      g.op = kind
      return g
    }
    self.saved = saved
    self.elementwiseBytes = elementwiseBytes
    self.parameters = parameters
    self.recompute = recompute
    self.backwardTransient = backwardTransient
  }

  /// What the op's backward holds beside the saved tensors (`backwardTransient`, or for its
  /// weight GEMMs [m, k] × [k, n]): the output's gradient e·m·n, the input's gradient e·m·k
  /// (the whole sequence's with sequence parallelism, before the reduce-scatter), with
  /// sequence parallelism the input all-gathered again for the weight gradient (e·m·k,
  /// `sequenceGathered`), and the weight gradient's 16-bit tensor e·k·n per weight matrix
  /// (Megatron-Core's `gradient_accumulation_fusion` writes the fp32 main gradient directly and
  /// still hands autograd an empty tensor of the weight's shape). `e` is the gradients' element
  /// size (16-bit in mixed precision, FP8 GEMMs included).
  public func backwardTransientBytes(elementBytes e: Double) -> Double {
    if let backwardTransient { return backwardTransient }
    var bytes = 0.0
    for g in gemms where g.kind == .weight {
      bytes += e * g.batch * (g.m * g.n + g.m * g.k * (g.sequenceGathered ? 2 : 1))
      bytes += e * g.k * g.n * g.weightGroups
    }
    return bytes
  }

  /// The attention core (self-attention's, or a decoder layer's cross-attention's): timed as one
  /// fused kernel or as its batched GEMMs and softmax kernels, not as weight GEMMs.
  public var isAttentionCore: Bool { kind.isAttentionCore }
}

/// The calls of a fused attention kernel, as its speed depends on them: the keys one call runs
/// over, the share of the work in causal calls (whose diagonal blocks are partly masked) and the
/// head size.
public struct FlashAttentionCalls: Sendable, Hashable {
  public var keyLength: Double
  public var causalShare: Double
  public var headDim: Double
  /// Each query attends a band of `keyLength` keys (a sliding window), whose first and last
  /// key tiles are partly masked, instead of every key before it.
  public var band = false
}

/// A tensor kept for backward.
public struct SavedTensor: Sendable, Hashable {
  public var name: String
  /// Bytes on one GPU for one microbatch, with nothing recomputed.
  public var bytes: Double
  /// What the tensor becomes when a selective-recompute module covering it is recomputed
  /// (`RecomputeModules`): 0 when the module drops it, the checkpoint's input when that is what
  /// the module keeps instead (the attention core's Q, K and V), or a tensor only the
  /// checkpoint keeps (MLA's rotary key input under `mla_up_proj`, 0 bytes otherwise).
  public var recomputed: [Recomputed]

  public struct Recomputed: Sendable, Hashable {
    public var modules: RecomputeModules
    public var kept: Double
  }

  /// `underSelective`: what the tensor keeps when the core attention is recomputed (Megatron-
  /// Core's default selective recompute); `recomputedBy` / `kept`: the same for other modules.
  public init(
    _ name: String, _ bytes: Double, underSelective: Double? = nil,
    recomputedBy modules: RecomputeModules = [], kept: Double = 0
  ) {
    self.name = name
    self.bytes = bytes
    var recomputed: [Recomputed] = []
    if let underSelective {
      recomputed.append(Recomputed(modules: .coreAttention, kept: underSelective))
    }
    if !modules.isEmpty { recomputed.append(Recomputed(modules: modules, kept: kept)) }
    self.recomputed = recomputed
  }

  /// Bytes kept when `modules` are recomputed: what the covering module keeps (the least, when
  /// several cover it), or all of it when none does.
  public func bytes(recomputing modules: RecomputeModules) -> Double {
    var kept: Double? = nil
    for r in recomputed where !r.modules.isDisjoint(with: modules) {
      kept = min(kept ?? r.kept, r.kept)
    }
    return kept ?? bytes
  }

  /// Bytes kept under Megatron-Core's default selective recompute (the core attention).
  public var underSelective: Double { bytes(recomputing: .coreAttention) }
}

/// A GEMM of one GPU: `batch` independent products of [m, k] × [k, n].
public struct GEMMShape: Sendable, Hashable {
  public enum Kind: Sendable, Hashable {
    /// A weight GEMM (QKV, projection, fc1, fc2).
    case weight
    /// A batched attention GEMM whose inner or outer dimension is the head size.
    case attention
  }
  public var name: String
  /// The op it belongs to (set by `LayerOp`): what code that looks for the router's or an
  /// expert's GEMMs matches.
  public var op: OpKind? = nil
  public var m: Double
  public var n: Double
  public var k: Double
  public var batch: Double
  public var kind: Kind
  /// Runs on the FP8 tensor cores (Transformer Engine FP8 training).
  public var fp8: Bool
  /// Runs on the FP4 tensor cores (NVFP4; `fp8` is set too: a low-precision GEMM).
  public var fp4 = false
  /// Share of `flops` the kernel actually performs: ½ for causal fused attention, which skips
  /// the masked blocks; 1 otherwise.
  public var executedFraction: Double
  /// Weight matrices the m rows are split over: the local experts of a grouped GEMM, each
  /// with its own k × n weights (1 for an ordinary GEMM). FLOPs do not depend on it; the bytes
  /// the GEMM streams do.
  public var weightGroups: Double
  /// The input is the sequence all-gathered by sequence parallelism (a column-parallel GEMM after
  /// a norm): Megatron saves the sequence-sharded input and gathers it again in backward.
  public var sequenceGathered: Bool

  public init(
    _ name: String, m: Double, n: Double, k: Double, batch: Double = 1, kind: Kind = .weight,
    fp8: Bool = false, executedFraction: Double = 1, weightGroups: Double = 1,
    sequenceGathered: Bool = false
  ) {
    self.sequenceGathered = sequenceGathered
    self.weightGroups = weightGroups
    self.executedFraction = executedFraction
    self.name = name
    self.m = m
    self.n = n
    self.k = k
    self.batch = batch
    self.kind = kind
    self.fp8 = fp8
  }

  /// 2·m·n·k per product (a multiply-add is 2 FLOPs).
  public var flops: FLOPs { FLOPs(2 * m * n * k * batch) }

  /// The FLOPs the kernel performs (`flops` × `executedFraction`): what its time follows.
  public var executedFLOPs: FLOPs { flops * executedFraction }
}
