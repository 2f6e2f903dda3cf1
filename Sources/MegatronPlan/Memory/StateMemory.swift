/// Weights, gradients and optimizer states per GPU.
///
/// Bytes per parameter (MLM `docs/user-guide/features/dist_optimizer.md` table and
/// `theoretical_memory_usage.py`):
///
/// | training | weights | gradients | optimizer (Adam) | total | distributed optimizer |
/// |---|---|---|---|---|---|
/// | bf16/fp16 params, fp32 main grads | 2 | 4 | 4 master + 4 + 4 moments = 12 | 18 | 6 + 12/d |
/// | fp32 | 4 | 4 | 8 (moments) | 16 | 8 + 8/d |
///
/// The distributed optimizer shards only the optimizer column over the d data-parallel ranks
/// (d·cp with context parallelism: the cp ranks of a sequence hold the same weights and join
/// the same gradient reduction, Megatron-Core's data-parallel group with context parallelism).
public enum StateMemory {
  public struct BytesPerParameter: Sendable, Hashable, Codable {
    public var weights: Double
    public var gradients: Double
    public var optimizer: Double
    public var total: Double { weights + gradients + optimizer }
  }

  /// `fp32Gradients`: Megatron-Core's gradient buffer is fp32 (`grad_reduce_in_fp32`, Megatron-LM's
  /// `--accumulate-allreduce-grads-in-fp32`, forced on for bf16 unless `--grad-reduce-in-bf16`;
  /// NeMo `optim.grad_sync_dtype: fp32`), else 16-bit: 2 bytes per parameter.
  public static func bytesPerParameter(
    precision: Precision, distributedOptimizer: Bool, data: Int, fullySharded: Bool = false,
    fp32Gradients: Bool = true
  ) -> BytesPerParameter {
    let shard = distributedOptimizer || fullySharded ? Double(max(1, data)) : 1
    // Megatron-FSDP shards the weights and the gradients too (ZeRO-3).
    let all = fullySharded ? Double(max(1, data)) : 1
    switch precision {
    case .bf16, .fp16:
      return BytesPerParameter(
        weights: 2 / all, gradients: (fp32Gradients ? 4 : 2) / all, optimizer: 12 / shard)
    case .fp32:
      return BytesPerParameter(weights: 4 / all, gradients: 4 / all, optimizer: 8 / shard)
    }
  }

  /// Weights, gradients and optimizer bytes for a GPU holding `parameters`, of which
  /// `linearParameters` are the linear layers' weights that FP8 training casts:
  /// - FP8 primary weights keep those in 1 byte instead of 2;
  /// - Transformer Engine caches an FP8 copy of each linear weight and its transpose for the
  ///   microbatches of a step (`FP8Training.Recipe.weightCacheBytesPerElement`; with FP8 primary
  ///   weights the weight is its own FP8 copy and only the other copy is extra):
  ///   `fp8_weight_cache`.
  public static func states(
    parameters: Parameters, precision: Precision, layout: Layout,
    linearParameters: Parameters = .zero, fp8: FP8Training? = nil, fp32Gradients: Bool = true,
    expertParameters: Parameters = .zero
  ) -> Breakdown<ByteUnit> {
    parts(
      parameters: parameters, precision: precision, layout: layout,
      linearParameters: linearParameters, fp8: fp8, fp32Gradients: fp32Gradients,
      expertParameters: expertParameters
    ).breakdown
  }

  /// What `states` names, as numbers (bytes).
  public struct Parts: Sendable, Hashable {
    public var weights: Double
    public var gradients: Double
    public var optimizer: Double
    public var fp8WeightCache: Double
    public var total: Double { weights + gradients + optimizer + fp8WeightCache }

    public var breakdown: Breakdown<ByteUnit> {
      var out = Breakdown<ByteUnit>()
      out.add("weights", Bytes(weights))
      out.add("gradients", Bytes(gradients))
      out.add("optimizer", Bytes(optimizer))
      if fp8WeightCache > 0 { out.add("fp8_weight_cache", Bytes(fp8WeightCache)) }
      return out
    }
  }

  public static func parts(
    parameters: Parameters, precision: Precision, layout: Layout,
    linearParameters: Parameters = .zero, fp8: FP8Training? = nil, fp32Gradients: Bool = true,
    expertParameters: Parameters = .zero
  ) -> Parts {
    let per = bytesPerParameter(
      precision: precision, distributedOptimizer: layout.distributedOptimizer,
      data: layout.dataParallelWithContext, fullySharded: layout.fullySharded,
      fp32Gradients: fp32Gradients)
    let n = parameters.value
    var weights = n * per.weights
    var cache = 0.0
    if let fp8 {
      let shard = layout.fullySharded ? Double(max(1, layout.dataParallelWithContext)) : 1
      let linear = linearParameters.value / shard
      let copies = fp8.recipe.weightCacheBytesPerElement
      let primary = fp8.recipe.primaryWeightBytes
      if fp8.primaryWeights { weights -= linear * (precision.weightBytes - primary) }
      // Megatron-FSDP gathers each layer's weights when it runs and keeps no FP8 copies across
      // microbatches (`keep_fp8_transpose_cache` off, as Megatron-Bridge runs it).
      if !layout.fullySharded { cache = linear * (fp8.primaryWeights ? copies - primary : copies) }
    }
    // The distributed optimizer shards expert states over the expert data-parallel group
    // (Megatron-Core's expert DDP), the rest over d·cp (`Layout.dataParallelWithContext`).
    var optimizer = n * per.optimizer
    if expertParameters.value > 0 && (layout.distributedOptimizer || layout.fullySharded) {
      let expert = bytesPerParameter(
        precision: precision, distributedOptimizer: layout.distributedOptimizer,
        data: layout.expertData, fullySharded: layout.fullySharded, fp32Gradients: fp32Gradients)
      optimizer += expertParameters.value * (expert.optimizer - per.optimizer)
    }
    return Parts(
      weights: weights, gradients: n * per.gradients, optimizer: optimizer, fp8WeightCache: cache)
  }
}
