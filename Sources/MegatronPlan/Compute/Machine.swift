/// The hardware as megaplan times it: one GPU profile (`GPU`: peaks, HBM, NVLink, the network)
/// with the achieved shares of it (`PerformanceConstants`). The only place that turns FLOPs,
/// bytes and messages into seconds: training (`StepTimeModel`, the `Evaluator`) and serving
/// (`ServingModel`) both call these primitives, and the GPU's own numbers are read nowhere else
/// for time.
public struct Machine: Sendable, Hashable {
  public var gpu: GPU
  public var constants: PerformanceConstants

  /// `constants` default to the GPU generation's (`PerformanceConstants.forGeneration`).
  public init(gpu: GPU, constants: PerformanceConstants? = nil) {
    self.gpu = gpu
    self.constants = constants ?? .forGeneration(gpu.generation)
  }

  // MARK: - GEMMs

  /// One GEMM of `flops` FLOPs at `efficiency` of the peak for `precision`, plus the fixed
  /// cost of a kernel (`gemmFixedSeconds`).
  public func gemm(_ flops: FLOPs, efficiency: Double, precision: Precision) -> Seconds {
    flops / (gpu.peak(for: precision) * efficiency) + Seconds(constants.gemmFixedSeconds)
  }

  /// One GEMM of a layer description in a run of `precision`: FP4 GEMMs at the FP4 peak ×
  /// `fp4GEMMEfficiency`, FP8 GEMMs at the FP8 peak × `fp8GEMMEfficiency` (on a GPU without
  /// them they run at the 16-bit rate), weight GEMMs at `gemmEfficiency`, attention GEMMs at
  /// `attentionGEMMEfficiency` of their peak; each plus the fixed cost of a kernel.
  /// The arithmetic is on whole tiles (`tileFLOPs`): an M or N that does not fill its last
  /// 128-wide tile pays for it, per expert in a grouped GEMM.
  /// Every GEMM also reads its inputs and writes its output through HBM (A, B and C at their
  /// element sizes); when that takes longer than the arithmetic — few rows per weight, as in a
  /// grouped GEMM over many experts with few tokens each, or unfused attention's batched GEMMs,
  /// whose s × s scores are written at d_h = 128 inner width — the GEMM is memory-bound and runs
  /// at the streaming rate (the roofline).
  public func time(of g: GEMMShape, precision: Precision) -> Seconds {
    let peak = gpu.peak(for: precision)
    let e = precision.activationBytes
    let efficiency =
      g.kind == .attention ? constants.attentionGEMMEfficiency : constants.gemmEfficiency
    let flops = tileFLOPs(g) / groupedRowsEfficiency(g)
    let compute: Seconds
    var input = e
    if g.fp4, let peak4 = gpu.peak4 {
      compute = flops / (peak4 * constants.fp4GEMMEfficiency)
      input = FP8Training.Recipe.nvfp4Bytes
    } else if g.fp8, let peak8 = gpu.peak8 {
      let scaled = g.kind == .attention ? efficiency : constants.fp8GEMMEfficiency
      compute = flops / (peak8 * scaled)
      input = 1
    } else {
      compute = flops / (peak * efficiency)
    }
    // A: m × k per weight group's rows; B: the k × n weights of each group (one per batch entry
    // of a batched GEMM); C: m × n, written at the activations' element size.
    let streamed = stream(
      (input * (g.m * g.k + g.weightGroups * g.k * g.n) + e * g.m * g.n) * g.batch)
    return Seconds(max(compute.value, streamed.value)) + Seconds(constants.gemmFixedSeconds)
  }

  /// Rows and columns of a GEMM tile: the 128 × 128 (or 128 × 256) tiles cuBLAS and CUTLASS
  /// use on Hopper and Blackwell tensor cores.
  public static let gemmTile = 128.0

  /// A grouped GEMM's rate against its rows per group m: m/(m + m₀) of its large-m rate, m₀ =
  /// 128 rows, the efficiency constants holding at training's m of 4,096 (so the factor is 1
  /// from there up). DeepGEMM's grouped FP8 GEMMs on H800 (README tables, N 4,096 K 7,168):
  /// 932 TFLOP/s at 256 rows per group, 1,040 at 512, 1,233 at 1,024, 1,346 at 4,096–8,192 —
  /// m₀ = 125 fits the 256 and 4,096 points and puts 1,024 at 1,236; N 7,168 K 2,048 gives 138.
  /// Dense GEMMs (one group) keep the plain efficiency: their m is a microbatch's tokens.
  public static let groupedHalfRateRows = 128.0

  /// The factor ≤ 1 a grouped GEMM's rate takes from its rows per group
  /// (`groupedHalfRateRows`).
  func groupedRowsEfficiency(_ g: GEMMShape) -> Double {
    guard g.weightGroups > 1, g.m > 0, g.k > 0 else { return 1 }
    let m0 = Self.groupedHalfRateRows, rows = g.m / g.weightGroups
    let byRows = min(1, rows / (rows + m0) / (4096 / (4096 + m0)))
    // Expert GEMMs are also where K falls to 768–2,048 (a fine-grained expert's width): the
    // rate follows K/(K + k₀), k₀ = 480, from DeepGEMM's dense FP8 tables on H800 (M 4,096:
    // 1,410 TFLOP/s at K 7,168, 1,168 at K 2,048, 775 at K 512); 1 from K 4,096 up, where
    // the dense GEMMs the efficiency constants describe sit.
    let k0 = Self.halfRateDepth
    let byDepth = min(1, g.k / (g.k + k0) / (4096 / (4096 + k0)))
    return byRows * byDepth
  }

  /// k₀ of `groupedRowsEfficiency`'s depth factor (DeepGEMM's dense FP8 tables, H800).
  public static let halfRateDepth = 480.0

  /// The FLOPs a GEMM executes on whole tiles: M rounded up to a multiple of `gemmTile` per
  /// weight group (an expert's rows of a grouped GEMM) and N per batch entry; K is not tiled.
  func tileFLOPs(_ g: GEMMShape) -> FLOPs {
    let tile = Self.gemmTile
    let groups = max(1, g.weightGroups)
    let rows = g.m / groups
    let m = (rows / tile).rounded(.up) * tile * groups
    let n = (g.n / tile).rounded(.up) * tile
    guard m > 0, n > 0, g.m > 0, g.n > 0 else { return g.executedFLOPs }
    return g.executedFLOPs * (m * n / (g.m * g.n))
  }

  /// One attention core's forward (QKᵀ, softmax, attention over V). A fused kernel
  /// (FlashAttention, cuDNN through Transformer Engine) performs the GEMMs' executed FLOPs at
  /// `flashEfficiency` of the peak of its precision; an unfused core runs its batched GEMMs
  /// (`time(of:precision:)`) and its softmax/dropout kernels at the streaming rate.
  public func attentionCore(_ core: LayerOp, kernel: FusedAttentionKernel, precision: Precision)
    -> Seconds
  {
    if let calls = core.kernel {
      let flops = core.gemms.map(\.executedFLOPs).sum()
      let fp8 = core.gemms.contains { $0.fp8 }
      let peak = fp8 ? (gpu.peak8 ?? gpu.peak(for: precision)) : gpu.peak(for: precision)
      return flops / (peak * flashEfficiency(calls, kernel: kernel))
        + Seconds(constants.gemmFixedSeconds)
    }
    var time = Seconds.zero
    for g in core.gemms { time += self.time(of: g, precision: precision) }
    return time + stream(core.elementwiseBytes)
  }

  /// The share of peak a fused attention forward reaches, from its calls' shapes:
  /// the kernel's `flashForwardEfficiency` for long sequences at head size 128, times
  /// - n/(n + c) for n = keys/128 key tiles per query tile row: each row of tiles pays a fixed
  ///   prologue and epilogue (loading Q, rescaling and writing O) and, causal, the partly masked
  ///   diagonal tiles; c blends `flashTileOverheadCausal` and `flashTileOverheadFull` by the
  ///   causal share of the work (what makes short sequences and small context-parallel blocks
  ///   slow);
  /// - √(min(d_h, 128)/128): smaller heads do less matrix work per softmax exponential, which
  ///   runs on the much slower special-function units (FlashAttention-3 §3).
  /// A sliding window's calls (`band`) see n = W/128 key tiles per query tile row, the first
  /// and the last partly masked as a causal call's diagonal tile is. In time per row, the fits
  /// give a call without a mask n + c_full tiles and a causal one, whose rows average n/2 tiles,
  /// n/2 + c_causal/2: the diagonal tile costs c_causal/2 − c_full more than an unmasked row's
  /// overhead. A band's two masked tiles then cost c_full + 2(c_causal/2 − c_full) =
  /// c_causal − c_full (2.5 tiles with the H100 fits) per row beside its n useful tiles.
  /// Sources of the constants: `PerformanceConstants`.
  public func flashEfficiency(_ k: FlashAttentionCalls, kernel: FusedAttentionKernel) -> Double {
    let tiles = max(1, k.keyLength / 128)
    let c =
      k.band
      ? constants.flashTileOverheadCausal - constants.flashTileOverheadFull
      : k.causalShare * constants.flashTileOverheadCausal + (1 - k.causalShare)
        * constants.flashTileOverheadFull
    let head = (min(max(k.headDim, 1), 128) / 128).squareRoot()
    return constants.flashForwardEfficiency(kernel) * tiles / (tiles + c) * head
  }

  // MARK: - HBM

  /// Streaming `bytes` through HBM (memory-bound kernels).
  public func stream(_ bytes: Double) -> Seconds {
    Bytes(bytes) / (gpu.hbm * constants.hbmEfficiency)
  }

  // MARK: - Links and collectives

  /// GPUs that reach one another over NVLink (8 GPUs of a DGX node, 72 of an NVL72 rack).
  public var nvlinkDomain: Int { gpu.nvlinkGroup(devicesPerNode: gpu.gpusPerNode) }

  /// Achieved NVLink bandwidth per direction.
  var nvlink: BytesPerSecond { gpu.nvlinkPerDirection * constants.nvlinkEfficiency }
  /// Achieved bandwidth of one GPU's own NIC, as NCCL's collectives, sends and all-to-alls reach
  /// it (`collectiveNICEfficiency`: 47 of 50 GB/s on NDR; NCCL's maintainers: "alltoall cannot
  /// aggregate the bandwidth of multiple NICs", 48–49 GB/s per NDR NIC, NVIDIA/nccl-tests#267).
  var nic: BytesPerSecond { gpu.interNodePerGPU * constants.collectiveNICEfficiency }

  /// Bandwidth and latency of a group of `size` GPUs whose members are `stride` ranks apart:
  /// NVLink when the group fits in one NVLink domain; otherwise the network, where the k members
  /// that share a domain run k rings in parallel, one per NIC (NCCL's rail-aligned rings), so
  /// the group gets k × the per-GPU NIC bandwidth (at most NVLink's). A domain is 8 GPUs of a
  /// DGX node or the 72 of an NVL72 rack (whose 4-GPU trays each GPU's own NIC serves).
  public func link(size: Int, stride: Int) -> (BytesPerSecond, Seconds) {
    if size * stride <= nvlinkDomain {
      return (nvlink, Seconds(constants.nvlinkLatencySeconds))
    }
    let perDomain = GroupPlacement(ranks: size, stride: stride, domain: nvlinkDomain).perDomain
    let rails = gpu.interNodePerGPU * (constants.interNodeEfficiency * Double(perDomain))
    return (min(rails, nvlink), Seconds(constants.interNodeLatencySeconds))
  }

  /// Bandwidth and latency of a ring of point-to-point sends among `size` GPUs `stride` ranks
  /// apart (context parallelism's ring attention): NVLink inside one domain; once the ring
  /// leaves it, a step lasts as long as its slowest hop, a send through one GPU's own NIC.
  public func ringLink(size: Int, stride: Int) -> (BytesPerSecond, Seconds) {
    if size * stride <= nvlinkDomain { return link(size: size, stride: stride) }
    return (min(nic, nvlink), Seconds(constants.interNodeLatencySeconds))
  }

  /// Ring all-reduce of `bytes` over `n` GPUs: 2(n − 1)/n of the data crosses each link.
  public func allReduce(_ bytes: Double, n: Int, stride: Int) -> Seconds {
    guard n > 1 else { return .zero }
    let (bw, lat) = link(size: n, stride: stride)
    return Bytes(2 * Double(n - 1) / Double(n) * bytes) / bw + lat * Double(2 * (n - 1))
  }

  /// Ring reduce-scatter or all-gather of `bytes` (the full tensor) over n GPUs: (n − 1)/n.
  public func gatherOrScatter(_ bytes: Double, n: Int, stride: Int) -> Seconds {
    guard n > 1 else { return .zero }
    let (bw, lat) = link(size: n, stride: stride)
    return Bytes(Double(n - 1) / Double(n) * bytes) / bw + lat * Double(n - 1)
  }

  /// One all-to-all in which a GPU sends `onDomain` bytes to GPUs of its NVLink domain and
  /// `offDomain` bytes beyond it, through its own NIC (one per GPU, rail-aligned): both at once,
  /// so the slower sets the time, plus one message latency (the peers' sends are issued
  /// together).
  public func allToAll(onDomain: Double, offDomain: Double) -> Seconds {
    let inside = Bytes(onDomain) / nvlink
    guard offDomain > 0 else { return inside + Seconds(constants.nvlinkLatencySeconds) }
    let outside = Bytes(offDomain) / nic
    return Seconds(max(inside.value, outside.value)) + Seconds(constants.interNodeLatencySeconds)
  }

  /// One point-to-point message of `bytes` to a GPU `stride` ranks away (a pipeline hop).
  public func pointToPoint(_ bytes: Double, stride: Int) -> Seconds {
    let (bw, lat) = link(size: 2, stride: stride)
    return Bytes(bytes) / bw + lat
  }
}
