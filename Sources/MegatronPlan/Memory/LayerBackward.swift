/// What one layer's backward holds at its fullest, walked op by op through the layer
/// description (docs/formulas.md, "Peak memory"): autograd runs the ops in reverse and frees
/// each op's saved tensors once its backward has run, while a recomputed segment (the whole layer
/// under full recompute, a selective module's ops) is rebuilt from its checkpoint when backward
/// reaches it and is alive only until backward leaves it.
extension LayerDescription {
  /// How the layer being backpropagated stores its activations.
  public enum Storage: Sendable, Hashable {
    /// Everything kept (no recompute), or all but what these selective modules drop.
    case stored(recomputing: RecomputeModules)
    /// Full recompute: the layer is rebuilt from its checkpointed input, which the steady state
    /// already holds (`checkpoint` bytes, shared with the first norm's saved input).
    case recomputed(checkpoint: Double)
  }

  /// The most bytes above the steady state alive at one moment of this layer's backward, beside
  /// its incoming gradient: over the ops k in reverse order, the tensors of a recomputed segment
  /// rebuilt up to k, less the layer's kept tensors already freed (those of the ops after k),
  /// plus op k's own gradients (`LayerOp.backwardTransientBytes`).
  public func backwardPeak(_ storage: Storage, elementBytes e: Double) -> Double {
    let n = ops.count
    guard n > 0 else { return 0 }
    var full = [Double](repeating: 0, count: n)
    var kept = [Double](repeating: 0, count: n)
    for (j, op) in ops.enumerated() {
      var all = 0.0, keep = 0.0
      for tensor in op.saved {
        all += tensor.bytes
        if case .stored(let recomputing) = storage {
          keep += recomputing.isEmpty ? tensor.bytes : tensor.bytes(recomputing: recomputing)
        }
      }
      full[j] = all
      kept[j] = keep
    }
    var modules: RecomputeModules = []
    if case .stored(let recomputing) = storage { modules = recomputing }
    // Bytes of the rebuilt segment up to op k (`rebuiltBefore`), and the layer's tensors kept
    // beyond k (`freed`, already released when op k's backward runs).
    var rebuiltBefore = [Double](repeating: 0, count: n)
    switch storage {
    case .recomputed(let checkpoint):
      var sum = -checkpoint
      for j in 0..<n {
        sum += full[j]
        rebuiltBefore[j] = max(0, sum)
      }
    case .stored:
      // A segment: consecutive ops of one checkpointed module (they share a module that is
      // recomputed; the core attention and MLA's up projections next to it are two).
      var sum = 0.0
      var previous: RecomputeModules = []
      for j in 0..<n {
        let covering = ops[j].recompute.intersection(modules)
        if covering.isEmpty {
          sum = 0
        } else {
          if covering.isDisjoint(with: previous) { sum = 0 }
          sum += max(0, full[j] - kept[j])
        }
        previous = covering
        rebuiltBefore[j] = sum
      }
    }
    var peak = -Double.infinity
    var freed = 0.0
    for k in stride(from: n - 1, through: 0, by: -1) {
      let here = rebuiltBefore[k] - freed + ops[k].backwardTransientBytes(elementBytes: e)
      peak = max(peak, here)
      freed += kept[k]
    }
    return peak
  }
}
