/// The hardware primitives of small kernels, which serving's decode steps are made of and which
/// training's host-time term counts: a memory-bound kernel's fixed device time beside its bytes,
/// a skinny GEMM (few rows per weight) streamed at the rate HBM gives it, and the CPU's time to
/// issue kernels with and without CUDA graphs. Sources of the constants: `PerformanceConstants`.
extension Machine {
  /// One memory-bound kernel moving `bytes` (reads and writes) as part of a CUDA graph:
  /// `smallKernelSeconds` + bytes / (HBM × `hbmEfficiency`). The bandwidth it achieves,
  /// bytes / time, falls for small kernels: this is the shape dependence a latency–bandwidth
  /// model gives (Hockney 1994, "The communication challenge for MPP", t = t₀ + n/r∞).
  public func smallKernel(bytes: Double) -> Seconds {
    Seconds(constants.smallKernelSeconds) + stream(bytes)
  }

  /// One GEMM of a serving step (`ServingModel.step`): `skinnyGEMMSeconds` + the longer of its
  /// arithmetic at `rate` and streaming its weights (`weightBytes`, quantised, with their
  /// scales) and activations (`activationBytes`) at HBM × `hbmEfficiency`. With few rows per
  /// weight (a decode step's batch) the stream dominates, and the fixed term is what keeps
  /// small GEMMs below the streaming rate (NVIDIA/cutlass#1139, #1176: 2.2 TB/s and 1.34 TB/s
  /// achieved on H100 for 58.7 MB and 22.5 MB of weights). The arithmetic is on whole 128-row
  /// tiles (`tileFLOPs`) once a weight has a tile's worth of rows; a skinny GEMM runs one
  /// partial M-tile (cuBLAS's and CUTLASS's 8–64-row tiles, vLLM's fused-MoE `BLOCK_SIZE_M` 16
  /// for few tokens per expert) whose unused arithmetic hides under the weight stream, so it
  /// counts the rows it has. Tiles round a count of rows; a mean (continuous batching's steady
  /// state, a fraction) is counted as it is.
  public func servingGEMM(
    _ g: GEMMShape, weightBytes: Double, activationBytes: Double, rate: FLOPsPerSecond
  ) -> Seconds {
    let rowsPerWeight = g.m / max(1, g.weightGroups)
    let whole = rowsPerWeight == rowsPerWeight.rounded() && g.m == g.m.rounded()
    let flops = whole && rowsPerWeight >= Self.gemmTile ? tileFLOPs(g) : g.executedFLOPs
    let compute = flops / rate
    let streamed = stream(weightBytes + activationBytes)
    return Seconds(constants.skinnyGEMMSeconds) + Seconds(max(compute.value, streamed.value))
  }

  /// The CPU time to issue `kernels` kernels one by one from eager PyTorch
  /// (`hostSecondsPerKernel` each) and `graphLaunches` captured CUDA graphs
  /// (`graphLaunchSeconds` each). The one host-time formula: training's
  /// (`StepTimeModel.hostSeconds`) and serving's (`ServingModel`) both call it.
  public func hostSeconds(kernels: Double, graphLaunches: Double) -> Seconds {
    Seconds(
      kernels * constants.hostSecondsPerKernel + graphLaunches * constants.graphLaunchSeconds)
  }
}
