/// Collectives as NCCL runs them: for a collective of `bytes` over a group, the time each
/// algorithm and protocol NCCL may use would take by NCCL's own cost model, and the fastest,
/// which is the one NCCL picks (`ncclTopoGetAlgoTime` and `topoGetAlgoInfo`: the minimum
/// predicted time, no other threshold).
///
/// Source: NVIDIA/nccl 2.30.7 (commit 5067397c), `src/graph/tuning.cc`: the algorithms each
/// collective may use (lines 288–304), the latency tables (148–176) and formulas (384–435), the
/// protocol factors (306–374) and the predicted time `lat + bytes/bw` (630–655). The bandwidths
/// are what the hardware sustains, measured with nccl-tests (`PerformanceConstants`:
/// `nvlinkEfficiency`, `nvlsEfficiency`, `collectiveNICEfficiency`), not NCCL's internal
/// per-channel figures. docs/formulas.md ("Collectives") walks through the model.
public enum CollectiveKind: String, Sendable, Hashable, Codable, CaseIterable {
  case allReduce = "all_reduce"
  case reduceScatter = "reduce_scatter"
  case allGather = "all_gather"

  /// The share of the full tensor each rank's link carries (nccl-tests' bus-bandwidth factor):
  /// 2(n − 1)/n for an all-reduce, (n − 1)/n for a reduce-scatter or all-gather.
  func busFactor(_ n: Int) -> Double {
    let f = Double(n - 1) / Double(n)
    return self == .allReduce ? 2 * f : f
  }
}

/// NCCL's algorithms (`NCCL_ALGO`).
public enum CollectiveAlgorithm: String, Sendable, Hashable, Codable, CaseIterable {
  /// A ring through every rank: bandwidth-optimal, latency linear in the ranks.
  case ring
  /// A tree across nodes (all-reduce only): latency logarithmic in the nodes.
  case tree
  /// NVLink SHARP: the NVSwitch reduces (Hopper and later, one NVLink domain; all-reduce).
  case nvls
  /// NVLS inside each domain and a tree across domains (all-reduce, several domains).
  case nvlsTree = "nvls_tree"
  /// CollNet: in-network reduction by the InfiniBand switches (SHARP), when the fabric has it
  /// and the software asks for it (Megatron-Core `use_sharp`).
  case sharp
  /// PAT (parallel aggregated trees, NCCL ≥ 2.23): all-gather and reduce-scatter when every rank
  /// of the group is on a different node.
  case pat
}

/// NCCL's protocols (`NCCL_PROTO`).
public enum CollectiveProtocol: String, Sendable, Hashable, Codable, CaseIterable {
  /// Low latency: 8-byte stores with flags, half the bandwidth.
  case ll = "LL"
  /// 128-byte lines with flags: 120/128 of the bandwidth, lower latency than Simple.
  case ll128 = "LL128"
  /// Plain copies with a flag per chunk: full bandwidth, the highest latency.
  case simple = "Simple"
}

/// One collective's time and how NCCL runs it.
public struct CollectiveTime: Sendable, Hashable {
  public var seconds: Seconds
  public var algorithm: CollectiveAlgorithm
  public var proto: CollectiveProtocol

  public static let none = CollectiveTime(seconds: .zero, algorithm: .ring, proto: .simple)
}

/// Where a group's ranks sit: n ranks `stride` apart in Megatron's rank order, whose
/// consecutive ranks fill NVLink domains (8 GPUs of a DGX node, 72 of an NVL72 rack).
public struct GroupPlacement: Sendable, Hashable {
  /// Ranks in the group.
  public var ranks: Int
  /// NVLink domains the group spans (NCCL's nodes).
  public var domains: Int
  /// Ranks of the group in one domain, each with its own NIC (rail-aligned).
  public var perDomain: Int

  public init(ranks n: Int, stride: Int, domain: Int) {
    ranks = max(1, n)
    let s = max(1, stride)
    perDomain = s >= domain ? 1 : max(1, min(ranks, domain / s))
    domains = (ranks + perDomain - 1) / perDomain
  }
}

extension Machine {
  /// NCCL's latency tables, microseconds (tuning.cc 148–176): base latency per algorithm and
  /// protocol, and the hardware latency per hop over NVLink and over the network.
  enum NCCLLatency {
    /// baseLat[algorithm][LL, LL128, Simple].
    static func base(_ a: CollectiveAlgorithm, _ p: CollectiveProtocol) -> Double {
      switch a {
      case .tree: p.pick(6.8, 14.0, 8.4)
      case .ring: p.pick(6.6, 14.0, 8.4)
      case .pat: 8.0
      case .nvls, .nvlsTree, .sharp: 0
      }
    }
    /// hwLat[NVLINK][algorithm][protocol].
    static func nvlink(_ a: CollectiveAlgorithm, _ p: CollectiveProtocol) -> Double {
      switch a {
      case .tree: p.pick(0.6, 1.25, 4.0)
      case .ring: p.pick(0.6, 1.9, 3.4)
      case .sharp: 3.7
      case .nvls, .nvlsTree: 25
      case .pat: 4.0
      }
    }
    /// hwLat[NET][algorithm][protocol].
    static func network(_ a: CollectiveAlgorithm, _ p: CollectiveProtocol) -> Double {
      switch a {
      case .tree: p.pick(5.0, 8.5, 14)
      case .ring: p.pick(2.7, 4.0, 14.0)
      case .sharp: 31
      case .nvls: 18
      case .nvlsTree: 20.9
      case .pat: 14
      }
    }
    /// Per-message network overhead on an x86 host (`NCCL_NET_OVERHEAD`, tuning.cc 225–233).
    static let netOverhead = 1.0
  }

  /// The largest bandwidth NCCL's LL protocol reaches, GB/s (`llMaxBws`, tuning.cc 177–211):
  /// one domain (Hopper 141, Blackwell twice that), two domains 39, more 20.4.
  func llMaxBandwidth(domains: Int) -> Double {
    if domains == 1 { return gpu.generation == .blackwell ? 282 : 141 }
    return domains == 2 ? 39.0 : 20.4
  }

  /// Whether NCCL can use NVLink SHARP here: Hopper or later with NVSwitch (a domain of more
  /// than two GPUs) and `NCCL_NVLS_ENABLE` not off.
  func nvlsAvailable(_ software: Software) -> Bool {
    software.ncclNVLS && gpu.generation != .ampere && nvlinkDomain > 2
  }

  /// The fastest way NCCL runs `kind` of `bytes` (the full tensor) over `n` ranks `stride`
  /// apart: every algorithm and protocol NCCL allows for the collective and placement, timed by
  /// NCCL's model with the measured bandwidths, the minimum taken.
  public func collective(
    _ kind: CollectiveKind, bytes: Double, n: Int, stride: Int, software: Software = Software()
  ) -> CollectiveTime {
    guard n > 1 else { return .none }
    let g = GroupPlacement(ranks: n, stride: stride, domain: nvlinkDomain)
    let N = g.domains, ppn = g.perDomain
    let intraRing = nvlink.value / 1e9  // GB/s
    let nicBus = gpu.interNodePerGPU.value * constants.collectiveNICEfficiency / 1e9
    // A ring crossing domains passes each boundary once per channel: the domain's NICs bound it
    // (one per rank of the group there), and so does NVLink.
    let ringBus = N == 1 ? intraRing : min(intraRing, Double(ppn) * nicBus)
    var best = CollectiveTime(seconds: Seconds(.infinity), algorithm: .ring, proto: .simple)
    func offer(_ a: CollectiveAlgorithm, _ p: CollectiveProtocol, latency: Double, busBW: Double) {
      guard busBW > 0 else { return }
      // NCCL's predicted time: latency + bytes over the algorithm bandwidth, which is the bus
      // bandwidth over the collective's bus factor (tuning.cc 376–383, 630–655).
      let seconds = latency * 1e-6 + bytes * kind.busFactor(n) / (busBW * 1e9)
      if seconds < best.seconds.value {
        best = CollectiveTime(seconds: Seconds(seconds), algorithm: a, proto: p)
      }
    }
    let steps = kind == .allReduce ? 2 * (n - 1) : n - 1
    let interSteps = N == 1 ? 0 : (kind == .allReduce ? 2 * (N - 1) : N - 1)
    for p in CollectiveProtocol.allCases {
      // Ring (every collective): base + intra-domain hops + network hops; a multi-domain
      // all-reduce with Simple pays 1.4× (NCCL's "plateau effect of ring").
      let netOv = N == 1 ? 0 : NCCLLatency.netOverhead * (p == .simple ? 3 : 1)
      let interLat = ppn == 1 ? NCCLLatency.network(.tree, p) : NCCLLatency.network(.ring, p)
      var ringLat =
        NCCLLatency.base(.ring, p) + Double(steps - interSteps)
        * max(NCCLLatency.nvlink(.ring, p), netOv) + Double(interSteps) * interLat
      if N > 1 && kind == .allReduce && p == .simple { ringLat *= 1.4 }
      offer(.ring, p, latency: ringLat, busBW: bandwidth(p, ringBus, domains: N, ring: true))
      // Tree (all-reduce across domains): logarithmic in the domains; 0.92 of the bus bandwidth
      // and, being two trees, half of it as algorithm bandwidth against the ring's (n − 1)/n.
      if kind == .allReduce && N > 1 {
        let treeLat =
          NCCLLatency.base(.tree, p) + 2
          * (Double(ppn - 1) * NCCLLatency.nvlink(.tree, p) + log2i(N)
            * NCCLLatency.network(.tree, p))
        // Tree LL: a third of the bus bandwidth and a bit (tuning.cc 332).
        let treeBus =
          p == .ll
          ? min(llMaxBandwidth(domains: N), 0.92 * ringBus / 3.8)
          : bandwidth(p, 0.92 * ringBus, domains: N, ring: false)
        offer(.tree, p, latency: treeLat, busBW: treeBus * kind.busFactor(n) / 2)
      }
    }
    // NVLS (one domain, all-reduce): the NVSwitch reduces at its own rate.
    let nvls = nvlinkPerDirectionGBps * constants.nvlsEfficiency
    if kind == .allReduce && nvlsAvailable(software) {
      if N == 1 {
        offer(.nvls, .simple, latency: NCCLLatency.nvlink(.nvls, .simple), busBW: nvls)
      } else {
        // NVLS inside each domain, a tree between domains, bound by the domain's NICs.
        let lat =
          NCCLLatency.nvlink(.nvlsTree, .simple) + 2 * log2i(N)
          * NCCLLatency.network(.nvlsTree, .simple)
        offer(.nvlsTree, .simple, latency: lat, busBW: min(nvls, Double(ppn) * nicBus))
      }
    }
    // SHARP (CollNet): the switches reduce; latency independent of the ranks.
    if software.sharp && N > 1 {
      let lat =
        2
        * (Double(min(1, ppn - 1)) * NCCLLatency.nvlink(.sharp, .simple) + Double(ppn - 1)
          * 0.4) + NCCLLatency.network(.sharp, .simple)
      offer(.sharp, .simple, latency: lat, busBW: ringBus)
    }
    // PAT (all-gather, reduce-scatter) with one rank per domain: 0.75 of the bandwidth.
    if kind != .allReduce && ppn == 1 && N > 1 {
      let lat =
        NCCLLatency.base(.pat, .simple) + log2i(N) * NCCLLatency.network(.pat, .simple)
        / 3.5 + Double(n) * 2.8
      offer(.pat, .simple, latency: lat, busBW: 0.75 * nicBus)
    }
    return best
  }

  /// NVLink bandwidth per direction, GB/s.
  var nvlinkPerDirectionGBps: Double { gpu.nvlinkPerDirection.value / 1e9 }

  /// The bus bandwidth protocol `p` reaches on a path of `bus` GB/s (tuning.cc 327–335): LL half
  /// of it up to `llMaxBandwidth`; LL128 0.92 of it (a tree across more than two domains 120/128,
  /// one domain 7/9); Simple all of it.
  func bandwidth(_ p: CollectiveProtocol, _ bus: Double, domains: Int, ring: Bool) -> Double {
    switch p {
    case .ll: return min(llMaxBandwidth(domains: domains), 0.5 * bus)
    case .ll128:
      if ring { return 0.92 * bus }
      return bus * (domains == 1 ? 7.0 / 9.0 : 120.0 / 128.0)
    case .simple: return bus
    }
  }
}

/// ⌊log₂ n⌋, as NCCL's `log2i` (n ≥ 1).
func log2i(_ n: Int) -> Double { Double(Int.bitWidth - 1 - max(1, n).leadingZeroBitCount) }

extension CollectiveProtocol {
  /// The entry of an NCCL table row [LL, LL128, Simple] for this protocol (a switch, not an
  /// array: it runs for every collective of every layout the search evaluates).
  @inline(__always)
  func pick(_ ll: Double, _ ll128: Double, _ simple: Double) -> Double {
    switch self {
    case .ll: ll
    case .ll128: ll128
    case .simple: simple
    }
  }

}
