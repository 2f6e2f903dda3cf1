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
/// The distributed optimizer shards only the optimizer column over the d data-parallel ranks.
public enum StateMemory {
  public struct BytesPerParameter: Sendable, Hashable, Codable {
    public var weights: Double
    public var gradients: Double
    public var optimizer: Double
    public var total: Double { weights + gradients + optimizer }
  }

  public static func bytesPerParameter(precision: Precision, distributedOptimizer: Bool, data: Int)
    -> BytesPerParameter
  {
    let shard = distributedOptimizer ? Double(max(1, data)) : 1
    switch precision {
    case .bf16, .fp16:
      return BytesPerParameter(weights: 2, gradients: 4, optimizer: 12 / shard)
    case .fp32:
      return BytesPerParameter(weights: 4, gradients: 4, optimizer: 8 / shard)
    }
  }

  /// Weights, gradients and optimizer bytes for a GPU holding `parameters`.
  public static func states(parameters: Parameters, precision: Precision, layout: Layout)
    -> Breakdown<ByteUnit>
  {
    let per = bytesPerParameter(
      precision: precision, distributedOptimizer: layout.distributedOptimizer, data: layout.data)
    let n = parameters.value
    return Breakdown([
      .init("weights", Bytes(n * per.weights)),
      .init("gradients", Bytes(n * per.gradients)),
      .init("optimizer", Bytes(n * per.optimizer)),
    ])
  }
}
