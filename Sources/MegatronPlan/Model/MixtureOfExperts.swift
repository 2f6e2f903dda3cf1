/// Mixture-of-experts MLPs as Megatron-Core builds them (`MoELayer`: a router, a token
/// dispatcher, `E` expert MLPs of width f_e, optional shared experts), with NeMo's and Megatron's
/// key names (docs/config.md).
public struct MixtureOfExperts: Sendable, Hashable, Codable {
  /// E: routed experts (`num_moe_experts`, `--num-experts`).
  public var experts: Int
  /// k: experts each token is routed to (`moe_router_topk`, `--moe-router-topk`).
  public var topK: Int
  /// f_e: one expert's MLP width (`moe_ffn_hidden_size`, `--moe-ffn-hidden-size`; the dense
  /// width by default).
  public var expertFFN: Int
  /// Width of the shared experts' MLP, 0 without (`moe_shared_expert_intermediate_size`).
  public var sharedExpertFFN: Int
  /// Every `frequency`-th layer is an MoE layer (`--moe-layer-freq N`; 1 = all).
  public var frequency: Int
  /// The first layers that stay dense (DeepSeek's `first_k_dense_replace`; Megatron's
  /// `--moe-layer-freq` pattern with leading zeros).
  public var firstDenseLayers: Int
  /// Tokens an expert accepts, as a multiple of the balanced share (`moe_expert_capacity_factor`);
  /// nil = dropless: every token is processed.
  public var capacityFactor: Double?
  /// With a capacity factor, pad every expert's input to its capacity
  /// (`moe_pad_expert_input_to_capacity`).
  public var padToCapacity: Bool
  /// Load imbalance: the busiest expert's tokens over the balanced share. Dropless routing is
  /// balanced only on average (the auxiliary loss pushes it there); megaplan sizes memory and time
  /// for the busiest GPU with this factor (`megaplan.moe_imbalance`, default 1.0 = balanced).
  public var imbalance: Double
  /// The token dispatcher: `alltoall` (tokens travel to their experts' ranks), `allgather` (every
  /// rank gathers all tokens), `flex` (DeepEP, all-to-all volumes).
  public var dispatcher: Dispatcher
  /// Grouped GEMM over the local experts (`moe_grouped_gemm`): one kernel instead of one GEMM per
  /// expert.
  public var groupedGEMM: Bool
  /// A sigmoid gate on the shared experts' output (`moe_shared_expert_gate`; Qwen2-MoE's
  /// `shared_expert_gate`): a 1 × h weight and a [T, h] × [h, 1] GEMM.
  public var sharedExpertGate: Bool
  /// The router's score function (`moe_router_score_function`): softmax (Mixtral, Qwen) or
  /// sigmoid (DeepSeek-V3). Both are elementwise over the T × E fp32 logits, so memory and time
  /// do not depend on it; it is reported. The auxiliary and z losses reuse the same scores and
  /// cost no memory (`MoEAuxLossAutoScaler` keeps a scalar).
  public var scoreFunction: ScoreFunction
  /// Group-limited routing: G router groups of E/G experts (`moe_router_num_groups`; DeepSeek's
  /// `n_group`) of which each token picks M (`moe_router_group_topk`; `topk_group`), then its
  /// k experts among those; nil: plain top-k. With groups laid out over the EP ranks it bounds
  /// the ranks and domains a token reaches (`holds(groups:)`).
  public var routerGroups: Int? = nil
  public var groupTopK: Int? = nil
  /// The flex dispatcher's backend (`moe_flex_dispatcher_backend`): DeepEP's normal kernels or
  /// NVIDIA's HybridEP, each at its measured bandwidths (`Machine.expertDispatch`).
  public var flexBackend: FlexBackend = .deepep
  /// Transformer Engine's fused token permutation and unpermutation (`moe_permute_fusion`): one
  /// kernel each instead of PyTorch's sort, gather and scatter.
  public var permuteFusion = false
  /// The fused router (`moe_router_fusion`): top-k, scores and the auxiliary loss's statistics
  /// in one kernel instead of several.
  public var routerFusion = false
  /// The shared experts run beside the dispatch on another stream
  /// (`moe_shared_expert_overlap`).
  public var sharedExpertOverlap = false
  /// Weight gradients of the experts delayed to overlap the backward's combine all-to-all
  /// (`delay_wgrad_compute`, with the EP all-to-all overlap).
  public var delayWeightGradient = false

  public enum FlexBackend: String, Sendable, Hashable, Codable, CaseIterable {
    case deepep, hybridep
  }

  /// How the tokens travel, as reports name it: NCCL's all-to-all, the all-gather dispatcher,
  /// or the flex dispatcher's backend.
  public var dispatcherName: String {
    switch dispatcher {
    case .alltoall: "nccl_alltoall"
    case .allgather: "allgather"
    case .flex: flexBackend.rawValue
    }
  }

  public enum Dispatcher: String, Sendable, Hashable, Codable, CaseIterable {
    case alltoall, allgather, flex
  }

  public enum ScoreFunction: String, Sendable, Hashable, Codable, CaseIterable {
    case softmax, sigmoid
  }

  public init(
    experts: Int, topK: Int, expertFFN: Int, sharedExpertFFN: Int = 0, frequency: Int = 1,
    firstDenseLayers: Int = 0, capacityFactor: Double? = nil, padToCapacity: Bool = false,
    imbalance: Double = 1, dispatcher: Dispatcher = .alltoall, groupedGEMM: Bool = true,
    sharedExpertGate: Bool = false, scoreFunction: ScoreFunction = .softmax
  ) {
    self.sharedExpertGate = sharedExpertGate
    self.scoreFunction = scoreFunction
    self.experts = experts
    self.topK = topK
    self.expertFFN = expertFFN
    self.sharedExpertFFN = sharedExpertFFN
    self.frequency = frequency
    self.firstDenseLayers = firstDenseLayers
    self.capacityFactor = capacityFactor
    self.padToCapacity = padToCapacity
    self.imbalance = imbalance
    self.dispatcher = dispatcher
    self.groupedGEMM = groupedGEMM
  }

  /// Whether layer `i` (0-based, of the whole model) is an MoE layer.
  public func isMoE(layer i: Int) -> Bool {
    i >= firstDenseLayers && (i - firstDenseLayers) % max(1, frequency) == 0
  }

  /// MoE layers among layers `range`.
  public func moeLayers(in range: Range<Int>) -> Int {
    guard !range.isEmpty else { return 0 }
    let start = max(range.lowerBound, firstDenseLayers)
    guard start < range.upperBound else { return 0 }
    let f = max(1, frequency)
    // Layers firstDense + f·j in [start, end).
    let first = (start - firstDenseLayers + f - 1) / f
    let last = (range.upperBound - 1 - firstDenseLayers) / f
    return max(0, last - first + 1)
  }

  /// Token copies one GPU's local experts process per token of its microbatch, relative to the
  /// balanced share: k × imbalance when dropless; with a capacity factor, at most the capacity
  /// (and exactly it when padded).
  public var routedFactor: Double {
    let balanced = Double(topK)
    guard let c = capacityFactor else { return balanced * imbalance }
    return padToCapacity ? balanced * c : balanced * min(c, imbalance)
  }

  /// The expected number of other NVLink domains (of `domains`, each holding E/domains of the
  /// experts) that hold at least one of a token's k experts, k distinct experts drawn uniformly:
  /// (domains − 1)·(1 − C(E − E/domains, k)/C(E, k)). With balanced routing this is the number
  /// of times DeepEP sends a token over the network (once per remote domain).
  public func remoteDomains(_ domains: Int) -> Double {
    guard domains > 1 else { return 0 }
    return Double(domains - 1) * holds(groups: domains)
  }

  /// The probability that one of `groups` equal groups of the experts (the ranks of an EP
  /// group, or its NVLink domains) holds at least one of a token's k distinct experts, drawn
  /// uniformly: 1 − C(E − E/groups, k)/C(E, k).
  public func holds(groups: Int) -> Double {
    guard groups > 1 else { return 1 }
    let E = Double(experts)
    if let G = routerGroups, let M = groupTopK, G > 1, M < G {
      // Group-limited routing (DeepSeek-V3's node-limited routing, Megatron-Core
      // `moe_router_num_groups`/`moe_router_group_topk`): the token first picks M of the G
      // equal router groups, then its k experts among their M·E/G.
      if groups >= G {
        // A part (rank) inside a router group: its group is picked with probability M/G, then
        // it holds one of the k experts drawn from the M·E/G candidates.
        return Double(M) / Double(G)
          * (1 - Self.missing(pool: Double(M) * E / Double(G), held: E / Double(groups), k: topK))
      }
      // A part holding G/groups router groups: hit when one of them is picked (a picked group
      // receives at least one of the k ≥ M experts).
      return 1 - Self.missing(pool: Double(G), held: Double(G / groups), k: M)
    }
    return 1 - Self.missing(pool: E, held: E / Double(groups), k: topK)
  }

  /// C(pool − held, k)/C(pool, k): the probability that k distinct draws from `pool` miss all
  /// `held` of them, Π_{i<k} (pool − held − i)/(pool − i).
  static func missing(pool: Double, held: Double, k: Int) -> Double {
    var miss = 1.0
    for i in 0..<k {
      let num = pool - held - Double(i)
      if num <= 0 { return 0 }
      miss *= num / (pool - Double(i))
    }
    return miss
  }
}
