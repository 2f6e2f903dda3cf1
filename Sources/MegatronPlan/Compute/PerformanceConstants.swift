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
  /// Fraction of the peak a fused (flash) attention forward sustains at long sequences and head
  /// size 128, for each kernel (`flashForwardEfficiency(_:)`; `StepTimeModel.flashEfficiency`
  /// scales it for shorter key blocks and other head sizes): cuDNN's, FlashAttention-2's and
  /// FlashAttention-3's (nil where the GPU cannot run it).
  public var flashForwardEfficiency: Double
  public var flash2ForwardEfficiency: Double
  public var flash3ForwardEfficiency: Double?
  /// A fused attention backward's rate relative to its forward's (its five GEMMs, 2.5× the
  /// forward's FLOPs, run with more synchronisation and atomic dQ updates).
  public var flashBackwardRatio: Double
  /// c in the fused kernel's n/(n + c) for n key tiles of 128 per query tile row: causal, and
  /// without a mask (context-parallel blocks off the diagonal; bidirectional attention).
  public var flashTileOverheadCausal: Double
  public var flashTileOverheadFull: Double
  /// NVLink SHARP all-reduce bus bandwidth as a fraction of the NVLink bandwidth per direction
  /// (`Machine.collective`, NCCL's `nvls`): nccl-tests reach 480 GB/s on 8 H100 (NVIDIA DGX
  /// Cloud benchmarking recipe, 16 GB all-reduce: 479.99; Azure ND H100 v5: 478.87) against
  /// 450 per direction; 830 on 8 B200 (NVIDIA/nccl#1807) and 847 in one GB200 NVL72 rack
  /// (CoreWeave's published nccl-tests, 8 GB) against 900. 0 where the GPU has no NVLS.
  public var nvlsEfficiency: Double
  /// Bus bandwidth an NCCL collective sustains through one NIC, as a fraction of its line rate
  /// (`Machine.collective`): 46–48 GB/s per 400 Gb/s NDR NIC (NCCL maintainers in
  /// NVIDIA/nccl-tests#290 and #267; NCCL's own topology uses 50 GB/s).
  public var collectiveNICEfficiency: Double
  /// Fraction of the dense FP4 peak an NVFP4 GEMM sustains (`GPU.peak4`); 0 where the GPU has
  /// no FP4 tensor cores.
  public var fp4GEMMEfficiency: Double
  /// CPU time to issue one kernel from eager PyTorch (the dispatcher and the CUDA launch);
  /// what makes small kernels host-bound without CUDA graphs (`StepTimeModel.hostSeconds`).
  public var hostSecondsPerKernel: Double
  /// CPU time to launch one captured CUDA graph.
  public var graphLaunchSeconds: Double
  /// How much slower compute runs while a collective overlaps it: the communication kernels
  /// hold SMs and HBM bandwidth the GEMMs would use (Megatron-Core's interleaved schedule says
  /// as much: "asynchronous communication tends to slow down compute"). Compute slowed by this
  /// fraction for the length of a hidden collective loses `contentionShare` of that length
  /// (`StepTimeModel.contention`).
  public var overlapContention: Double
  /// The share of a hidden collective's duration the overlapped compute loses: κ/(1 + κ) for a
  /// slowdown κ (`overlapContention`), the work the slowed kernels do not finish while it runs.
  public var contentionShare: Double { overlapContention / (1 + overlapContention) }
  /// Device time of one small memory-bound kernel launched from a CUDA graph, beyond moving its
  /// bytes (`Machine.smallKernel`): the gap between dependent graph nodes and the kernel's own
  /// ramp (schedule its blocks, one dependent trip to HBM before it can write, drain).
  public var smallKernelSeconds: Double
  /// Fixed device time of one skinny GEMM (a decode step's M = batch rows) beyond streaming its
  /// weights at `hbmEfficiency` (`Machine.decodeGEMM`): the ramp and tail of a kernel whose work
  /// is one wave of weight tiles.
  public var skinnyGEMMSeconds: Double

  public init(
    gemmEfficiency: Double, gemmFixedSeconds: Double, attentionGEMMEfficiency: Double,
    hbmEfficiency: Double, elementwiseBackwardFactor: Double, nvlinkEfficiency: Double,
    interNodeEfficiency: Double, nvlinkLatencySeconds: Double, interNodeLatencySeconds: Double,
    backwardTPOverlap: Double, optimizerBytesPerParameter: Double, fp8GEMMEfficiency: Double = 0,
    forwardTPOverlap: Double = 0.9, flashForwardEfficiency: Double,
    flash2ForwardEfficiency: Double, flash3ForwardEfficiency: Double? = nil,
    flashBackwardRatio: Double = Self.measuredFlashBackwardRatio,
    flashTileOverheadCausal: Double = Self.measuredFlashTileOverheadCausal,
    flashTileOverheadFull: Double = Self.measuredFlashTileOverheadFull,
    nvlsEfficiency: Double = 0, collectiveNICEfficiency: Double,
    fp4GEMMEfficiency: Double = 0, hostSecondsPerKernel: Double = Self.eagerHostSecondsPerKernel,
    graphLaunchSeconds: Double = Self.measuredGraphLaunchSeconds,
    overlapContention: Double = Self.measuredOverlapContention,
    smallKernelSeconds: Double = Self.measuredSmallKernelSeconds,
    skinnyGEMMSeconds: Double = Self.measuredSkinnyGEMMSeconds
  ) {
    self.smallKernelSeconds = smallKernelSeconds
    self.skinnyGEMMSeconds = skinnyGEMMSeconds
    self.overlapContention = overlapContention
    self.nvlsEfficiency = nvlsEfficiency
    self.collectiveNICEfficiency = collectiveNICEfficiency
    self.fp4GEMMEfficiency = fp4GEMMEfficiency
    self.hostSecondsPerKernel = hostSecondsPerKernel
    self.graphLaunchSeconds = graphLaunchSeconds
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
    self.flashForwardEfficiency = flashForwardEfficiency
    self.flash2ForwardEfficiency = flash2ForwardEfficiency
    self.flash3ForwardEfficiency = flash3ForwardEfficiency
    self.flashBackwardRatio = flashBackwardRatio
    self.flashTileOverheadCausal = flashTileOverheadCausal
    self.flashTileOverheadFull = flashTileOverheadFull
  }

  /// The forward efficiency of `kernel` (FlashAttention-3 runs as FlashAttention-2 where the
  /// GPU has no FlashAttention-3).
  public func flashForwardEfficiency(_ kernel: FusedAttentionKernel) -> Double {
    switch kernel {
    case .cudnn: flashForwardEfficiency
    case .flash2: flash2ForwardEfficiency
    case .flash3: flash3ForwardEfficiency ?? flash2ForwardEfficiency
    }
  }

  /// The fused attention kernel's shape constants, from the FlashAttention-3 paper's H100 SXM5
  /// benchmarks (Shah et al. 2024, Fig. 5–7; cuDNN, the kernel Transformer Engine calls, BF16,
  /// head size 128, batch × sequence = 16k tokens):
  /// - forward with a causal mask, 315, 410, 484, 518, 529, 539 TFLOP/s at s = 512 … 16k:
  ///   n/(n + 3) with n = s/128 and an asymptote of 539 × 131/128 = 552 TFLOP/s reproduces them
  ///   within 4 % (322, 401, 465, 505, 527, 539): c = 3;
  /// - forward without a mask, 497 … 600 TFLOP/s, flat from 1k: c = 0.5;
  /// - backward without a mask, 516–518 TFLOP/s at 8k–16k against the forward's 595–600: 0.86.
  /// CPU time of one eager PyTorch op that launches a kernel: Python, the pybind11 boundary,
  /// autograd's bookkeeping, the ATen dispatcher, the backend's setup and `cudaLaunchKernel`,
  /// about 6–15 µs summed over the chain (jiahuanglin.xyz, "From PyTorch op to kernel launch":
  /// "~5–25 µs of CPU-side work per op" on H100); megaplan takes 10 µs.
  public static let eagerHostSecondsPerKernel = 10e-6
  /// CPU time to launch one CUDA graph: one launch of the driver, 4–6 µs (susun-blog.com,
  /// "pegainfer 3: CUDA graph", measured per kernel submission); megaplan takes 5 µs.
  public static let measuredGraphLaunchSeconds = 5e-6
  /// Compute overlapped with NCCL collectives runs 18.9 % slower on average (40 % at most) than
  /// alone, measured for GPT and Llama training kernels on 4 A100, H100, MI250 and MI210
  /// ("Characterizing Compute-Communication Overlap in GPU-Accelerated Distributed Deep
  /// Learning: Performance and Power Implications", arXiv 2507.03114, abstract). A GEMM that
  /// shares the GPU with a 24-block NCCL all-gather on an H100 can take twice as long (the wave
  /// of 132 blocks no longer fits: NVIDIA developer forum, "Compute-communication overlap causes
  /// severe GEMM performance degradation because of tail effect"); megaplan takes the average.
  public static let measuredOverlapContention = 0.189
  /// A small kernel in a captured CUDA graph: 0.5–0.6 µs between dependent graph nodes (NVIDIA,
  /// "Getting Started with CUDA Graphs": 3.4 µs per kernel in a graph for a 2.9 µs kernel; a
  /// probe of chained no-op kernels, ahrefs/ocannl#488: 0.58 µs per node), plus the kernel's own
  /// minimum, one dependent HBM round trip before it writes (H100 HBM3 ≈ 600 cycles ≈ 0.5 µs
  /// at 1.1–1.98 GHz) and the launch and drain of its blocks, about 1 µs more: megaplan takes
  /// 2 µs. Not fitted to a serving row; `validation/pytorch/measure_decode.py` measures it.
  public static let measuredSmallKernelSeconds = 2e-6
  /// A skinny GEMM on H100 SXM beyond streaming its weights at 3,015 GB/s (`hbmEfficiency`):
  /// CUTLASS's best FP8 kernel for 16–64 × 14,336 × 4,096 (58.7 MB of weights) reached 2.2 TB/s
  /// (NVIDIA/cutlass#1139): 26.7 µs, 7.2 µs over the stream; cuBLAS for the FP16 2,752 × 16 ×
  /// 4,096 (22.5 MB) reached about 40 % of 3.35 TB/s (NVIDIA/cutlass#1176): 16.8 µs, 9.3 µs
  /// over it. megaplan takes the mean, 8.3 µs, on every GPU (a wave's ramp and tail, set by HBM
  /// latency more than by the peak).
  public static let measuredSkinnyGEMMSeconds = 8.3e-6

  public static let measuredFlashTileOverheadCausal = 3.0
  public static let measuredFlashTileOverheadFull = 0.5
  public static let measuredFlashBackwardRatio = 0.86

  /// The constants for a GPU generation: Ampere's are fitted (`standard`); Hopper's and
  /// Blackwell's are set from public measurements of those GPUs (`hopper`), since no H100
  /// measurement of megaplan's own harness is recorded yet.
  public static func forGeneration(_ generation: GPU.Generation) -> PerformanceConstants {
    switch generation {
    case .ampere: .standard
    case .hopper: .hopper
    case .blackwell: .blackwell
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
    optimizerBytesPerParameter: 46,
    // FlashAttention-2 on A100: 50–73 % of peak, the most for long sequences at head size 128
    // (Dao 2023, abstract and Fig. 4), and cuDNN's kernel about as fast there; not part of the
    // fit (the fitted runs use unfused attention).
    flashForwardEfficiency: 0.70,
    flash2ForwardEfficiency: 0.70,
    // NCCL collectives over InfiniBand at the fit's share of the HDR line rate, as every other
    // A100 network term (A100 has no NVLS).
    collectiveNICEfficiency: 0.50
  )

  /// Hopper: the A100 fit's memory-bound, overlap and network constants, with
  /// what differs on Hopper set from public measurements rather than fitted to a published run:
  /// - GEMMs at 75 % of the 16-bit peak: cuBLASLt on H100 SXM sustains about 700–780 TFLOP/s
  ///   BF16 on GEMMs of a few thousand per side (NVIDIA Transformer Engine and cuBLAS benchmark
  ///   posts);
  /// - FP8 GEMMs at 54 % of the FP8 peak (1,069 TFLOP/s): the one Hopper constant fitted to
  ///   published runs, because no H100 measurement of the harness is recorded yet — a coarse
  ///   grid (0.52–0.60) over the twelve published H100 FP8 runs megaplan validates against
  ///   (`PublishedRun.modern`, `PublishedRun.longContext`: Megatron-Bridge 25.11 and NeMo 24.03,
  ///   8–1,024 GPUs, s = 4k–1M); cuBLASLt benchmarks in isolation reach 1,200–1,400, and the gap
  ///   is what a training step loses to sustained-load clocks, GEMMs sharing SMs with overlapped
  ///   communication and FP8 scaling bookkeeping. `validation/pytorch/measure_layer.py` on an
  ///   H100 is the measurement that should replace it;
  /// - the fixed cost per GEMM scaled from A100's 80 µs by the peak ratio 312/989 (a wave's tail
  ///   lasts as long as a wave, which is shorter in proportion to the throughput): 25 µs;
  /// - unfused attention's batched GEMMs at 45 % of peak; fused (flash) attention from the
  ///   FlashAttention-3 paper's cuDNN measurements (`flashForwardEfficiency`);
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
    fp8GEMMEfficiency: 0.54,
    forwardTPOverlap: 0.9,
    // Forward with a causal mask, head size 128, on H100 SXM5 (FlashAttention-3 paper, Fig. 5;
    // asymptotes of the n/(n + 3) curve, see `measuredFlashTileOverheadCausal`): cuDNN 539
    // TFLOP/s at 16k → 552 of 989; FlashAttention-2 191 … 335 TFLOP/s (196 … 335 by the curve)
    // → 343; FlashAttention-3 616 at 16k → 630 (within 8 % from 1k; 23 % fast at 512).
    flashForwardEfficiency: 0.558,
    flash2ForwardEfficiency: 0.347,
    flash3ForwardEfficiency: 0.637,
    // NVLS all-reduce at 480 GB/s on 8 H100 (DGX Cloud benchmarking recipe's nccl-tests, 16 GB:
    // 479.99) against 450 per direction; 47 of 50 GB/s per NDR NIC (NCCL maintainers,
    // NVIDIA/nccl-tests#290).
    nvlsEfficiency: 480.0 / 450.0,
    collectiveNICEfficiency: 0.94
  )

  /// Blackwell (B200, GB200, B300, GB300): Hopper's memory-bound, overlap and latency constants,
  /// with what public Blackwell measurements give instead:
  /// - BF16 GEMMs at 67 % of the dense peak: torch's BF16 GEMM at M = 16,384 on B200 runs at
  ///   1,513 TFLOP/s of 2,250 (vllm-project/vllm#19566, the torch-bf16 column);
  /// - FP8 GEMMs at 47 %: CUTLASS's per-tensor FP8 GEMM on pre-quantised inputs runs at 2,545
  ///   TFLOP/s of 4,500 (57 %) in the same table (the quantisation kernels are counted apart, as
  ///   memory-bound passes of the layer description), times what a training step keeps of an
  ///   isolated FP8 GEMM's rate on Hopper: 0.54 of the peak in training (`hopper`) against the
  ///   1,200–1,400 TFLOP/s (0.657 at the middle) cuBLASLt benchmarks reach, 0.822 — sustained-
  ///   load clocks and FP8 bookkeeping are no kinder on Blackwell; MXFP8 runs at the same
  ///   tensor-core rate;
  /// - NVFP4 GEMMs at 35.4 % of the dense FP4 peak: CUTLASS's NVFP4 GEMM on pre-quantised inputs,
  ///   3,645–3,904 TFLOP/s of 9,000 at M ≥ 4,096 (43 %, vllm-project/vllm#20646), times the same
  ///   0.822;
  /// - the fixed cost per GEMM scaled from Hopper's 25 µs by the peak ratio 989/2,250: 11 µs;
  /// - NVLink 5 rings at 80 % of 900 GB/s (NCCL counts 40.1 GB/s per link, 18 links: 722);
  ///   NVLS all-reduce at 830 of 900 (8 B200, NVIDIA/nccl#1807; one GB200 NVL72 rack reaches 847
  ///   in CoreWeave's published nccl-tests); NICs at 47 of 50 GB/s (NDR) or 94 of 100 (XDR), as
  ///   on Hopper.
  /// Fused attention keeps Hopper's cuDNN share of the peak: no Blackwell flash-attention
  /// measurement is recorded.
  public static let blackwell: PerformanceConstants = {
    var c = hopper
    c.gemmEfficiency = 0.67
    c.gemmFixedSeconds = 11e-6
    c.fp8GEMMEfficiency = 0.47
    c.fp4GEMMEfficiency = 0.354
    c.flash3ForwardEfficiency = nil
    c.nvlsEfficiency = 830.0 / 900.0
    return c
  }()
}
