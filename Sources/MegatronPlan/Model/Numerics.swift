/// FP8 training as Transformer Engine runs it (NeMo `fp8: true` with `fp8_hybrid`/`fp8_e4m3`
/// and `fp8_recipe`; Megatron-LM `--fp8-format`, `--fp8-recipe`, `--fp8-param-gather`): the
/// linear layers' GEMMs (QKV, projection, fc1, fc2 — forward, data and weight gradients) run
/// in FP8; the attention core stays in 16-bit unless FP8 attention is on; norms, activations and
/// the output layer stay in 16-bit (Megatron keeps the first/last layers' precision for the
/// embedding and output layer).
public struct FP8Training: Sendable, Hashable, Codable {
  /// E4M3 everywhere, or the hybrid (E4M3 forward, E5M2 gradients): the same bytes and speed.
  public enum Format: String, Sendable, Hashable, Codable, CaseIterable {
    case e4m3
    case hybrid
  }

  /// How scales are kept (Transformer Engine recipes).
  public enum Recipe: String, Sendable, Hashable, Codable, CaseIterable {
    /// Per-tensor scales from an amax history (`DelayedScaling`).
    case delayed
    /// Per-tensor scales from the current amax (`Float8CurrentScaling`, "tensorwise").
    case tensorwise
    /// 1×128 / 128×128 blocks with fp32 scales (`Float8BlockScaling`, DeepSeek-V3 style).
    case blockwise
    /// Blackwell's microscaling: 32-element blocks with 8-bit scales (`MXFP8BlockScaling`).
    case mxfp8
    /// NVFP4 (`NVFP4BlockScaling`, Megatron-Core `fp4: e2m1`, `fp4_recipe: nvfp4`; Blackwell):
    /// E2M1 elements with an E4M3 scale per 16 and an fp32 scale per tensor, 4.5 bits each; all
    /// three GEMMs of a linear layer take FP4 operands (`GEMMShape.fp4`), the attention core stays
    /// in 16 bits (Transformer Engine `recipe/__init__.py`, NVFP4BlockScaling; docs
    /// "nvfp4.rst").
    case nvfp4

    /// Bytes per element of an FP8 tensor Transformer Engine keeps for a GEMM in backward. Per-
    /// tensor recipes on Hopper keep one copy, transposed for the weight-gradient GEMM (1 byte).
    /// Block recipes keep a row-wise and a column-wise copy, each with its scales: 2 × (1 + 4/128)
    /// bytes for 128-element blocks with fp32 scales, 2 × (1 + 1/32) for MXFP8's 32-element
    /// blocks with E8M0 scales.
    /// NVFP4 keeps the column-wise copy the weight-gradient GEMM reads, transposed (its GEMM
    /// takes the TN layout only): 0.5625 bytes (Transformer Engine "nvfp4.rst", "Handling
    /// transposes").
    public var savedBytesPerElement: Double {
      switch self {
      case .delayed, .tensorwise: 1
      case .blockwise: 2 * (1 + 4.0 / 128)
      case .mxfp8: 2 * (1 + 1.0 / 32)
      case .nvfp4: Self.nvfp4Bytes
      }
    }

    /// Bytes of one NVFP4 element with its share of the block scale: 4 bits + 8/16.
    static let nvfp4Bytes = 0.5 + 1.0 / 16

    /// Bytes of one element of a weight kept in this format (`fp8_param_gather`,
    /// `fp4_param_gather`): 1 for FP8, 1 + 1/32 for MXFP8, 0.5625 for NVFP4.
    public var primaryWeightBytes: Double {
      switch self {
      case .delayed, .tensorwise: 1
      case .blockwise: 1 + 4.0 / (128 * 128)
      case .mxfp8: 1 + 1.0 / 32
      case .nvfp4: Self.nvfp4Bytes
      }
    }

    /// Bytes the memory-bound kernels move per element to quantize a 16-bit tensor of `e`-byte
    /// elements for a linear layer, `fused` into the norm before it (Transformer Engine's
    /// LayerNormLinear) or standalone:
    /// - per-tensor delayed scaling takes the scale from the amax history and computes the new
    ///   amax while casting: fused, the norm writes the FP8 copy and its transpose (2); standalone,
    ///   read e, write 2;
    /// - current (tensorwise) scaling needs the tensor's amax before it casts: the tensor is read
    ///   twice ("fp8_current_scaling.rst": amax, then cast), and a fused norm writes its 16-bit
    ///   output first: 3e + 2 fused, 2e + 2 standalone;
    /// - block scaling (blockwise, MXFP8) computes each block's scale in the cast: read e, write
    ///   the row-wise and column-wise copies with their scales;
    /// - NVFP4 needs the per-tensor amax of its global scale first (as current scaling) and writes
    ///   both copies (row-wise, and the transposed column-wise one).
    public func castBytes(elementBytes e: Double, fused: Bool) -> Double {
      switch self {
      case .delayed: fused ? 2 : e + 2
      case .tensorwise: fused ? 3 * e + 2 : 2 * e + 2
      case .blockwise, .mxfp8: (fused ? 0 : e) + savedBytesPerElement
      case .nvfp4: (fused ? 3 * e : 2 * e) + 2 * Self.nvfp4Bytes
      }
    }

    /// Bytes per weight element of the FP8 weight copies Transformer Engine caches across the
    /// microbatches of a step: the FP8 weight and its transpose (or row- and column-wise block
    /// copies with their scales).
    public var weightCacheBytesPerElement: Double {
      switch self {
      case .delayed, .tensorwise: 2
      case .blockwise: 2 * (1 + 4.0 / (128 * 128))
      case .mxfp8: 2 * (1 + 1.0 / 32)
      case .nvfp4: 2 * Self.nvfp4Bytes
      }
    }

    /// Whether the linear GEMMs run in FP4 (`GEMMShape.fp4`).
    public var fp4: Bool { self == .nvfp4 }
  }

  public var format: Format
  public var recipe: Recipe
  /// FP8 primary weights (`fp8_param_gather`, NeMo `fp8_params`): the model's weights are kept in
  /// FP8 (1 byte instead of 2; the fp32 master copy stays in the optimizer), and the distributed
  /// optimizer all-gathers them in FP8. The cached FP8 copy is then the weight itself; only the
  /// transpose is extra.
  public var primaryWeights: Bool
  /// FP8 attention (`fp8_dot_product_attention`): the attention core's GEMMs in FP8 too.
  public var attention: Bool

  public init(
    format: Format = .hybrid, recipe: Recipe = .delayed, primaryWeights: Bool = false,
    attention: Bool = false
  ) {
    self.format = format
    self.recipe = recipe
    self.primaryWeights = primaryWeights
    self.attention = attention
  }
}

/// What today's Megatron-Core overlaps that 2021 Megatron-LM did not, each a switch read from the
/// config with Megatron's default (docs/formulas.md, "Step time").
public struct Overlap: Sendable, Hashable, Codable {
  /// Tensor-parallel collectives overlapped with the GEMMs in forward as well as backward
  /// (`tp_comm_overlap`, NeMo `ub_tp_comm_overlap`; off by default).
  public var tensorParallel: Bool
  /// The data-parallel gradient reduce(-scatter) overlapped with backward (`overlap_grad_reduce`,
  /// NeMo `optim.overlap_grad_sync`).
  public var gradientReduction: Bool
  /// The distributed optimizer's parameter all-gather overlapped with the next forward
  /// (`overlap_param_gather`, NeMo `optim.overlap_param_sync`).
  public var parameterGather: Bool
  /// Pipeline sends and receives overlapped with compute (`overlap_p2p_comm`, with the
  /// interleaved schedule).
  public var pipelineP2P: Bool
  /// MoE token dispatch and combine overlapped with another microbatch's compute
  /// (`overlap_moe_expert_parallel_comm`, Megatron-LM `--overlap-moe-expert-parallel-comm`;
  /// Megatron-Bridge's `moe_a2a_overlap`).
  public var expertParallel: Bool

  public init(
    tensorParallel: Bool = false, gradientReduction: Bool = false, parameterGather: Bool = false,
    pipelineP2P: Bool = false, expertParallel: Bool = false
  ) {
    self.expertParallel = expertParallel
    self.tensorParallel = tensorParallel
    self.gradientReduction = gradientReduction
    self.parameterGather = parameterGather
    self.pipelineP2P = pipelineP2P
  }

  /// 2021–2022 Megatron-LM: nothing overlapped but the backward tensor-parallel collectives.
  public static let none = Overlap()
}

/// The fused attention kernel the software stack runs (`megaplan.attention_kernel`): kernels
/// of the same FLOPs differ by almost 2× on Hopper, and which one a run gets depends on its
/// Transformer Engine, cuDNN and flash-attn versions. Their speeds are measured constants
/// (`PerformanceConstants.flashForwardEfficiency(_:)`).
public enum FusedAttentionKernel: String, Sendable, Hashable, Codable, CaseIterable {
  /// cuDNN's fused flash attention (cuDNN ≥ 9.1), which Transformer Engine selects on Hopper and
  /// Blackwell (`FusedAttention`, "F16_arbitrary_seqlen"): what Megatron-Core runs today.
  case cudnn
  /// FlashAttention-2 (flash-attn 2.x): Transformer Engine's `FlashAttention` backend, and the
  /// speed of 2023–early-2024 stacks on Hopper.
  case flash2
  /// FlashAttention-3 (flash-attn 3, Hopper only; elsewhere it runs as FlashAttention-2).
  case flash3
}

/// How the attention GEMMs (QKᵀ and attention over V, 2·s²·a·d_h each per sequence) count
/// toward model FLOPs and MFU. Sources disagree, so published MFU figures must be read with
/// the convention they used:
/// - `full`: every score of the s × s matrix, masked or not: K22 App. A, N21 Eq. 3, and NeMo's
///   flops formulas through container 25.04 (its Llama 2 7B row, 16,934 tokens/s/GPU at
///   780 TFLOP/s, is 46.1 GFLOP per token only with the full count);
/// - `causal`: the half a causal mask leaves, Megatron-Core's `num_floating_point_operations`
///   ("causal mask (only half of the mask is non-zero)", megatron/training/training.py) and
///   Megatron-Bridge's tables (Llama 3 8B: 14,451 tokens/s/GPU at 744 TFLOP/s is 51.5 GFLOP
///   per token only with the half). megaplan's default, as what a Megatron-Core log shows.
public enum AttentionFLOPCount: String, Sendable, Hashable, Codable, CaseIterable {
  case full
  case causal

  /// The share of the full s × s attention FLOPs counted.
  public var share: Double { self == .causal ? 0.5 : 1 }
}

/// What the software stack does that changes time or memory but not the model or its layout:
/// Megatron-Core's overlaps, its fused kernels and gradient buffer, PyTorch's allocator, NCCL's
/// NVLS, and how model FLOPs count attention. One value per run, read
/// by the memory (`PeakMemory`, `StateMemory`) and time (`StepTimeModel`) models alike.
public struct Software: Sendable, Hashable, Codable {
  /// What Megatron-Core overlaps (`Overlap`).
  public var overlap: Overlap
  /// Megatron's gradient buffer in fp32 (`StateMemory.bytesPerParameter`;
  /// `grad_reduce_in_fp32`, NeMo `megatron_amp_O2`'s main gradients).
  public var fp32Gradients: Bool
  /// Megatron-Core's fused vocabulary-parallel cross entropy (`cross_entropy_loss_fusion`): no
  /// 16-bit logits copy beside the fp32 one, fewer bytes per logit.
  public var crossEntropyFusion: Bool
  /// The fused attention kernel (`megaplan.attention_kernel`; cuDNN's by default).
  public var attentionKernel: FusedAttentionKernel
  /// How attention counts toward model FLOPs and MFU (`megaplan.attention_flops`; Megatron-Core's
  /// causal half by default).
  public var attentionFLOPs: AttentionFLOPCount
  /// PyTorch's `expandable_segments` (`PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`,
  /// which NeMo and Megatron-Bridge set): segments grow in place, so little is stranded.
  public var expandableSegments: Bool
  /// NCCL's NVLink SHARP (NVLS) on NVSwitch systems of Hopper and later (on by default there):
  /// it reserves multicast buffers per communicator, and all-reduces inside an NVLink domain run
  /// on the switch (`CollectiveAlgorithm.nvls`).
  public var ncclNVLS: Bool
  /// In-network reduction by the InfiniBand switches (SHARP, NCCL's CollNet) for the
  /// data-parallel group (Megatron-Core `use_sharp`, NeMo `model.sharp`); the fabric must have it.
  public var sharp: Bool
  /// What CUDA graphs capture (`CUDAGraphs`); nothing by default.
  public var cudaGraphs = CUDAGraphs()
  /// The data-parallel gradient bucket in bytes, when the config sets one (NeMo's
  /// `optim.bucket_cap_mb`; Megatron-Core's `ddp_bucket_size` in parameters, converted); nil:
  /// Megatron-Core's default (`StepTimeModel.bucketParameters`).
  public var bucketBytes: Double? = nil
  /// DeepSpeed's `BF16_Optimizer` (ZeRO stage 0 with bf16, Megatron-DeepSpeed): states sharded
  /// as the distributed optimizer shards them, but the gradients all-reduced in full before the
  /// step and the updated weights all-gathered after it (`PipelineEngine._exec_reduce_grads` →
  /// `buffered_allreduce_fallback`; `BF16_Optimizer.step` → `all_gather_dp_groups`).
  public var deepSpeedBF16Optimizer: Bool = false

  public init(
    overlap: Overlap = .none, fp32Gradients: Bool = true, crossEntropyFusion: Bool = false,
    attentionKernel: FusedAttentionKernel = .cudnn, attentionFLOPs: AttentionFLOPCount = .causal,
    expandableSegments: Bool = false, ncclNVLS: Bool = true, sharp: Bool = false
  ) {
    self.sharp = sharp
    self.overlap = overlap
    self.fp32Gradients = fp32Gradients
    self.crossEntropyFusion = crossEntropyFusion
    self.attentionKernel = attentionKernel
    self.attentionFLOPs = attentionFLOPs
    self.expandableSegments = expandableSegments
    self.ncclNVLS = ncclNVLS
  }
}

/// CUDA graphs as Megatron-Core captures them (`TransformerConfig.cuda_graph_impl`,
/// `cuda_graph_scope`; Megatron-LM d98e8a64 transformer_config.py lines 1049–1090): what they
/// capture launches as one graph instead of kernel by kernel, so its host time is one graph
/// launch (`StepTimeModel.hostSeconds`).
public struct CUDAGraphs: Sendable, Hashable, Codable {
  /// `cuda_graph_impl`.
  public enum Implementation: String, Sendable, Hashable, Codable, CaseIterable {
    /// Eager: every kernel launched from Python.
    case none
    /// Megatron-Core's own per-layer graphs (`local`; NeMo's `enable_cuda_graph`).
    case local
    /// Transformer Engine's `make_graphed_callables` per layer.
    case transformerEngine = "transformer_engine"
    /// One graph for the whole forward and backward of the iteration (the optimizer step
    /// excluded).
    case fullIteration = "full_iteration"
  }

  /// `cuda_graph_scope` (`cuda_graph_modules`): the parts of a layer a per-layer graph captures;
  /// empty is the whole layer.
  public enum Scope: String, Sendable, Hashable, Codable, CaseIterable {
    /// The attention block (`TransformerLayer._forward_attention`).
    case attn
    /// A dense layer's MLP block.
    case mlp
    /// A drop-and-pad MoE layer's MLP block.
    case moe
    /// The router (and shared experts not overlapped with the dispatch).
    case moeRouter = "moe_router"
    /// The MoE dispatcher's preprocessing (needs `moe_router`).
    case moePreprocess = "moe_preprocess"
    /// The whole iteration (the deprecated scope that selects `full_iteration`).
    case fullIteration = "full_iteration"
  }

  public var implementation: Implementation
  public var scopes: Set<Scope>

  public init(implementation: Implementation = .none, scopes: Set<Scope> = []) {
    self.implementation = implementation
    self.scopes = scopes
  }

  /// Whether the whole forward and backward is one graph.
  public var fullIteration: Bool {
    implementation == .fullIteration || (implementation != .none && scopes.contains(.fullIteration))
  }

  /// Whether the part of a layer in `scope` is captured.
  public func captures(_ scope: Scope) -> Bool {
    guard implementation != .none else { return false }
    if fullIteration || scopes.isEmpty { return true }
    return scopes.contains(scope)
  }
}
