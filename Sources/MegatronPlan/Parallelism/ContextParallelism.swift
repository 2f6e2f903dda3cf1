/// How the cp ranks of a context-parallel group exchange what attention needs from the rest of
/// the sequence (Megatron-Core `TransformerConfig.cp_comm_type`, `--cp-comm-type`; Transformer
/// Engine `attention/dot_product_attention/context_parallel.py`). Every other op of a layer is
/// per token and needs nothing from the other ranks.
public enum ContextParallelComm: Sendable, Hashable, Codable, CustomStringConvertible {
  /// Ring attention (`p2p`, the default): cp steps per attention; at each step a rank computes
  /// its queries against one key/value block while it sends that block to the next rank and
  /// receives the following one, so cp − 1 blocks of K and V (s/cp tokens each) travel per
  /// forward, overlapped with the attention blocks (TE `AttnFuncWithCPAndKVP2P`). Backward
  /// passes the blocks round again together with their gradients dK, dV: twice the bytes.
  case p2p
  /// `all_gather`: every rank all-gathers the whole sequence's K and V before attention and
  /// reduce-scatters dK, dV after its backward; not asynchronous, so not overlapped (Megatron-
  /// Core's `cp_comm_type` documentation; TE `AttnFuncWithCPAndKVAllGather`).
  case allGather
  /// `a2a` (DeepSpeed-Ulysses style): all-to-alls scatter the heads and gather the sequence of
  /// Q, K and V before attention and return the output after it, so each rank attends over the
  /// whole sequence with a/(t·cp) heads; backward does the same for dO, dQ, dK, dV. Needs the
  /// heads and key/value groups of a tensor-parallel rank to divide by cp (TE
  /// `AttnFuncWithCPAndQKVOA2A`). Not overlapped.
  case a2a
  /// `a2a+p2p`: all-to-all inside groups of `a2a` ranks (the low level, usually NVLink) and ring
  /// attention across the cp/`a2a` such groups (`--hierarchical-context-parallel-sizes a2a
  /// cp/a2a`).
  case a2aP2P(a2a: Int)

  /// Megatron-Core's name for it.
  public var name: String {
    switch self {
    case .p2p: "p2p"
    case .allGather: "all_gather"
    case .a2a: "a2a"
    case .a2aP2P: "a2a+p2p"
    }
  }

  public var description: String {
    if case .a2aP2P(let a) = self { return "a2a+p2p (a2a groups of \(a))" }
    return name
  }

  /// The ranks that all-to-all (1 without an a2a level) and the ranks of the ring (1 without a
  /// ring) for a context-parallel size `cp`.
  public func levels(cp: Int) -> (a2a: Int, ring: Int) {
    let cp = max(1, cp)
    switch self {
    case .p2p: return (1, cp)
    case .allGather: return (1, 1)
    case .a2a: return (cp, 1)
    case .a2aP2P(let a): return (max(1, a), max(1, cp / max(1, a)))
    }
  }
}

/// What context parallelism moves for one layer and one microbatch on one GPU, and what it holds
/// while it does: the physics behind `StepTimeModel`'s `context_parallel_comm` term and
/// `PeakMemory`'s `context_parallel_buffers`. Derived from the shapes Transformer Engine
/// exchanges (`context_parallel.py`): K and V of the rank's s/cp tokens are
/// e·(s/cp)·b·2·g·d_h/t bytes on a tensor-parallel rank.
public struct ContextParallelTraffic: Sendable, Hashable {
  /// Bytes of K and V for the rank's own s/cp tokens (one ring block).
  public var keyValueBlock: Double
  /// Bytes of Q (and of the output O) for the rank's own tokens.
  public var queryBlock: Double
  /// Ring steps that move a block (cp_ring − 1); 0 without a ring.
  public var ringSteps: Int
  /// Bytes one rank sends per ring step in forward (one K/V block at the ring's granularity).
  public var ringBytesForward: Double
  /// Bytes one rank sends per ring step in backward: the K/V block and its gradient dK, dV.
  public var ringBytesBackward: Double
  /// Bytes one rank sends in forward all-to-alls (Q, K, V before attention, O after), the
  /// (a2a − 1)/a2a of each tensor that leaves the rank; the same again in backward.
  public var allToAllBytes: Double
  /// With `all_gather`: bytes of the gathered K, V of the whole sequence (what the all-gather
  /// produces; its reduce-scatter in backward moves the same).
  public var gatheredKeyValue: Double
  /// Extra bytes the attention forward holds beside its saved tensors: with the ring, every
  /// received K/V block is kept until the forward ends (TE keeps `p2p_comm_buffers` for all
  /// steps) and one partial output per step before the final correction; with all_gather the
  /// gathered K, V; with a2a the all-to-all outputs (one copy of Q, K, V).
  public var forwardBuffers: Double
  /// Extra bytes its backward holds: with the ring, two send/receive buffers each holding a
  /// K/V block and its gradient (TE's `p2p_comm_buffers` of shape (2, *kv)) and the dQ
  /// accumulator; with all_gather the gathered K, V and its gradient; with a2a one copy of the
  /// gradients of Q, K, V.
  public var backwardBuffers: Double

  public init(_ model: TransformerModel, _ layout: Layout, elementBytes e: Double) {
    let cp = max(1, layout.contextParallel)
    let t = Double(max(1, layout.tensor))
    let tokens = layout.tokens(of: model)  // s·b/cp
    let kv = e * tokens * 2 * Double(model.keyValueWidth) / t
    let q = e * tokens * Double(model.queryWidth) / t
    keyValueBlock = kv
    queryBlock = q
    let (a2a, ring) = layout.contextParallelComm.levels(cp: cp)
    guard cp > 1 else {
      ringSteps = 0
      ringBytesForward = 0
      ringBytesBackward = 0
      allToAllBytes = 0
      gatheredKeyValue = 0
      forwardBuffers = 0
      backwardBuffers = 0
      return
    }
    // With an a2a level, a ring block holds a2a × the tokens of one rank for 1/a2a of the heads:
    // the same bytes as the rank's own K/V.
    ringSteps = ring - 1
    ringBytesForward = ring > 1 ? kv : 0
    ringBytesBackward = ring > 1 ? 2 * kv : 0
    allToAllBytes = a2a > 1 ? (2 * q + kv) * Double(a2a - 1) / Double(a2a) : 0
    if case .allGather = layout.contextParallelComm {
      gatheredKeyValue = kv * Double(cp)
    } else {
      gatheredKeyValue = 0
    }
    switch layout.contextParallelComm {
    case .allGather:
      forwardBuffers = kv * Double(cp)
      backwardBuffers = 2 * kv * Double(cp)
    case .a2a:
      forwardBuffers = q + kv
      backwardBuffers = q + kv
    case .p2p, .a2aP2P:
      let a2aCopies = a2a > 1 ? q + kv : 0
      forwardBuffers = kv * Double(ring - 1) + q * Double(ring) + a2aCopies
      backwardBuffers = 4 * kv + q + a2aCopies
    }
  }
}
