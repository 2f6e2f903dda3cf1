/// Every constant of the step-time model, in one place, each with its reason. The same values
/// serve every run; none is specific to one published result. `docs/validation.md` shows how
/// well they reproduce the published A100 runs.
public struct PerformanceConstants: Sendable, Hashable, Codable {
  /// Fraction of the dense 16-bit peak a large, well-shaped GEMM sustains. cuBLAS reaches
  /// roughly 75–85 % of 312 TFLOP/s on A100 for GEMMs of a few thousand per side; the
  /// Megatron layer GEMMs are of that kind.
  public var gemmEfficiency: Double
  /// Fixed cost of one GEMM kernel (launch, wave tail, prologue/epilogue): what makes small
  /// GEMMs run far below peak. A GEMM takes flops/(peak · gemmEfficiency) + this.
  public var gemmFixedSeconds: Double
  /// Fraction of peak for the batched attention GEMMs (QKᵀ, attention over V): their inner
  /// dimension is the head size (64–128), so they are bandwidth-starved compared with the
  /// weight GEMMs.
  public var attentionGEMMEfficiency: Double
  /// Fraction of the datasheet HBM bandwidth that elementwise kernels (LayerNorm, softmax,
  /// dropout, GeLU, bias-dropout-add, optimizer) achieve; streaming kernels on A100 reach
  /// about 80–90 %.
  public var hbmEfficiency: Double
  /// Backward elementwise kernels move this many times the bytes of their forward (they read
  /// the saved input and the incoming gradient and write the outgoing gradient).
  public var elementwiseBackwardFactor: Double
  /// Achieved NCCL bus bandwidth over NVLink/NVSwitch as a fraction of the per-direction link
  /// bandwidth (nccl-tests on DGX A100 report ≈ 230 of 300 GB/s for large messages).
  public var nvlinkEfficiency: Double
  /// Achieved bus bandwidth over InfiniBand as a fraction of the HCA line rate (HDR 200 Gb/s
  /// delivers ≈ 20 GB/s of 25 in nccl-tests).
  public var interNodeEfficiency: Double
  /// Latency of one NCCL collective or point-to-point message inside a node.
  public var nvlinkLatencySeconds: Double
  /// Latency of one message across nodes.
  public var interNodeLatencySeconds: Double
  /// Fraction of the backward tensor-parallel all-reduce hidden behind the weight-gradient GEMM
  /// (K22 §6.2: Megatron overlaps them; "this benefit increases with model size").
  public var backwardTPOverlap: Double
  /// Bytes read and written per parameter by the optimizer step in mixed precision (Megatron's
  /// `MixedPrecisionOptimizer.step`): inf/NaN check of the fp32 grads 4, gradient-norm pass 4,
  /// Adam (grad read 4, fp32 master read/write 8, two moments read/write 16), master → 16-bit
  /// copy (read 4, write 2), zeroing the grad buffer 4 = 46. fp32 training skips the copy: 40.
  public var optimizerBytesPerParameter: Double
  /// Fraction of the dense FP8 peak a large FP8 GEMM of a tensor-parallel shard sustains
  /// (Transformer Engine's cuBLASLt FP8 GEMMs). Unused on GPUs without FP8.
  public var fp8GEMMEfficiency: Double
  /// Fraction of the forward tensor-parallel collectives hidden behind GEMMs when Megatron-Core
  /// overlaps them (`tp_comm_overlap`, Transformer Engine userbuffers); without the switch the
  /// forward collectives are exposed, as in 2021–2022 Megatron-LM.
  public var forwardTPOverlap: Double

  public init(
    gemmEfficiency: Double, gemmFixedSeconds: Double, attentionGEMMEfficiency: Double,
    hbmEfficiency: Double, elementwiseBackwardFactor: Double, nvlinkEfficiency: Double,
    interNodeEfficiency: Double, nvlinkLatencySeconds: Double, interNodeLatencySeconds: Double,
    backwardTPOverlap: Double, optimizerBytesPerParameter: Double, fp8GEMMEfficiency: Double = 0,
    forwardTPOverlap: Double = 0.9
  ) {
    self.gemmEfficiency = gemmEfficiency
    self.gemmFixedSeconds = gemmFixedSeconds
    self.attentionGEMMEfficiency = attentionGEMMEfficiency
    self.hbmEfficiency = hbmEfficiency
    self.elementwiseBackwardFactor = elementwiseBackwardFactor
    self.nvlinkEfficiency = nvlinkEfficiency
    self.interNodeEfficiency = interNodeEfficiency
    self.nvlinkLatencySeconds = nvlinkLatencySeconds
    self.interNodeLatencySeconds = interNodeLatencySeconds
    self.backwardTPOverlap = backwardTPOverlap
    self.optimizerBytesPerParameter = optimizerBytesPerParameter
    self.fp8GEMMEfficiency = fp8GEMMEfficiency
    self.forwardTPOverlap = forwardTPOverlap
  }

  /// The constants for a GPU generation: Ampere's are fitted (`standard`); Hopper's and
  /// Blackwell's are set from public measurements of those GPUs (`hopper`), since no H100
  /// measurement of megaplan's own harness is recorded yet.
  public static func forGeneration(_ generation: GPU.Generation) -> PerformanceConstants {
    switch generation {
    case .ampere: .standard
    case .hopper, .blackwell: .hopper
    }
  }

  /// The constants megaplan uses: fitted once, together, to the development runs of reference §6
  /// (K22 Tables 4 and 5, K22 §6.3, the 175B/1,024-GPU run, N21 Table 1) by a coarse grid search
  /// minimising mean + max relative error; `docs/validation.md` shows the result and the misses.
  /// Each lands in its physically plausible range:
  /// - GEMMs at 76 % of peak, close to what cuBLAS sustains for these shapes on A100;
  /// - 80 µs fixed per GEMM: launch plus wave quantisation and tail, what slows small models;
  /// - batched attention GEMMs (inner dimension = head size) at 40 %;
  /// - elementwise kernels at 90 % of HBM bandwidth (fused, streaming);
  /// - NCCL over NVLink at 77 % of 300 GB/s (nccl-tests ≈ 230 GB/s bus bandwidth);
  /// - InfiniBand at 50 % of the 25 GB/s line rate per HCA: the fit's share for point-to-point
  ///   messages of a few MB that synchronise the pipeline, and rings that do not reach peak;
  /// - 90 % of the backward tensor-parallel collectives hidden behind weight-gradient GEMMs
  ///   (K22 §6.2).
  public static let standard = PerformanceConstants(
    gemmEfficiency: 0.76,
    gemmFixedSeconds: 80e-6,
    attentionGEMMEfficiency: 0.40,
    hbmEfficiency: 0.90,
    elementwiseBackwardFactor: 2.0,
    nvlinkEfficiency: 0.77,
    interNodeEfficiency: 0.50,
    nvlinkLatencySeconds: 10e-6,
    interNodeLatencySeconds: 20e-6,
    backwardTPOverlap: 0.9,
    optimizerBytesPerParameter: 46
  )

  /// Hopper (and, until measured, Blackwell, with its own peaks and bandwidths — the efficiencies
  /// are fractions of those): the A100 fit's memory-bound, overlap and network constants, with
  /// what differs on Hopper set from public measurements rather than fitted to a published run:
  /// - GEMMs at 75 % of the 16-bit peak and FP8 GEMMs at 65 % of the FP8 peak: cuBLASLt on H100
  ///   SXM sustains about 700–780 TFLOP/s BF16 and 1,200–1,400 TFLOP/s FP8 on GEMMs of a few
  ///   thousand per side (NVIDIA Transformer Engine and cuBLAS benchmark posts);
  /// - the fixed cost per GEMM scaled from A100's 80 µs by the peak ratio 312/989 (a wave's tail
  ///   lasts as long as a wave, which is shorter in proportion to the throughput): 25 µs;
  /// - fused (flash) attention at 45 % of peak: cuDNN/FlashAttention-2 forward on H100 at head
  ///   size 128 runs at 400–500 TFLOP/s (FlashAttention-3 paper, Fig. 5 baselines);
  /// - NCCL over NVLink 4 at 80 % of 450 GB/s (nccl-tests all-reduce bus bandwidth ≈ 360 GB/s on
  ///   DGX H100).
  /// docs/validation.md records how this set reproduces the published H100 runs.
  public static let hopper = PerformanceConstants(
    gemmEfficiency: 0.75,
    gemmFixedSeconds: 25e-6,
    attentionGEMMEfficiency: 0.45,
    hbmEfficiency: 0.90,
    elementwiseBackwardFactor: 2.0,
    nvlinkEfficiency: 0.80,
    interNodeEfficiency: 0.50,
    nvlinkLatencySeconds: 10e-6,
    interNodeLatencySeconds: 20e-6,
    backwardTPOverlap: 0.9,
    optimizerBytesPerParameter: 46,
    fp8GEMMEfficiency: 0.65,
    forwardTPOverlap: 0.9
  )
}
