import Foundation

/// When no layout fits: what the search tried, the layout that missed by the least, and the
/// changes to the search (or the cluster) under which something does fit, each found by
/// searching again with that change alone.
extension LayoutSearch {
  public struct NoFit: Sendable {
    /// A change and the fastest layout that fits with it.
    public struct Fix: Sendable {
      /// The change, as a phrase: "with --fully-sharded any", "without --tensor", "on 16 GPUs
      /// (--gpus 16, 2× these)".
      public var change: String
      public var best: Candidate
    }

    /// What the space held, in words.
    public var tried: String
    /// The layout over the usable memory by the least, evaluated; nil when no complete layout
    /// was formed (every candidate was cut for divisibility).
    public var nearest: Evaluation?
    /// The changes that fit, in the order tried (cheapest first).
    public var fixes: [Fix]
    /// The changes tried that did not make anything fit.
    public var triedWithoutFit: [String]

    /// The explanation as report lines.
    public var lines: [String] {
      var out = ["tried: " + tried]
      if let e = nearest {
        let usable = e.run.memoryBudget.usableBytes(capacity: e.run.gpu.memory.value)
        let peak = e.mostLoaded.peakBytes
        out.append(
          "nearest miss: \(LayoutSearch.describe(e.run)): \(Format.gib(peak)) per GPU at its peak (stage \(e.mostLoadedStage)), \(Format.gib(peak - usable)) over the \(Format.gib(usable)) usable"
        )
      } else {
        out.append("nearest miss: none; every candidate broke a divisibility rule (counts below)")
      }
      for fix in fixes {
        let e = fix.best.evaluation
        out.append(
          "fits \(fix.change): \(LayoutSearch.describe(e.run)), \(Format.gib(e.mostLoaded.peakBytes)) at its peak, \(Format.grouped(e.tokensPerSecond)) tokens/s"
        )
      }
      if fixes.isEmpty {
        out.append(
          "nothing fits either \(triedWithoutFit.joined(separator: ", or ")); a GPU with more memory, more GPUs or a smaller model remain"
        )
      }
      return out
    }

    static func explain(
      _ base: TrainingRun, gpus: Int, options: Options,
      nearest: (peak: Double, layout: Layout)?
    ) throws -> NoFit {
      let c = options.constraints
      var quiet = options
      quiet.explainNoFit = false
      quiet.top = 1
      quiet.objective = .throughput
      var changes: [(String, Options)] = []
      func change(_ text: String, _ edit: (inout Options) -> Void) {
        var o = quiet
        edit(&o)
        changes.append((text, o))
      }
      let fileFSDP = base.layout.fullySharded
      if c.fullySharded == .off || (c.fullySharded == .asBase && !fileFSDP) {
        change("with --fully-sharded any") { $0.constraints.fullySharded = .any }
      }
      if !c.unevenSplits {
        change("with --pipeline-split any") { $0.constraints.unevenSplits = true }
      }
      if c.recompute != Set(Granularity.allCases) || !c.partialRecompute {
        change("with --recompute none,selective,full") {
          $0.constraints.recompute = Set(Granularity.allCases)
          $0.constraints.partialRecompute = true
        }
      }
      if c.distributedOptimizer == false {
        change("with --distributed-optimizer any") { $0.constraints.distributedOptimizer = nil }
      }
      let pinned = [
        ("--tensor", c.tensor), ("--context-parallel", c.contextParallel),
        ("--pipeline", c.pipeline), ("--virtual", c.virtualStages), ("--micro-batch", c.microBatch),
      ].filter { $0.1 != nil }.map(\.0)
      if !pinned.isEmpty {
        change("without \(pinned.joined(separator: ", "))") {
          $0.constraints.tensor = nil
          $0.constraints.contextParallel = nil
          $0.constraints.pipeline = nil
          $0.constraints.virtualStages = nil
          $0.constraints.microBatch = nil
        }
      }
      if base.memoryBudget.usableFraction < 1 {
        change("with --max-memory-fraction 1") { $0.maxMemoryFraction = 1 }
      }
      for factor in [2, 4] {
        change(
          "on \(Format.grouped(gpus * factor)) GPUs (--gpus \(gpus * factor), \(factor)× these)"
        ) {
          $0.constraints.gpus = gpus * factor
        }
      }
      var fixes: [Fix] = []
      var missed: [String] = []
      var moreGPUsFit = false
      for (text, o) in changes {
        // More GPUs: the smallest multiple that fits is enough.
        if moreGPUsFit && text.hasPrefix("on ") { continue }
        if let best = try search(base, options: o).best {
          fixes.append(Fix(change: text, best: best))
          if text.hasPrefix("on ") { moreGPUsFit = true }
        } else {
          missed.append(text)
        }
      }
      return NoFit(
        tried: describeSpace(base, gpus: gpus, constraints: c),
        nearest: nearest.map { Evaluator(base.with(layout: $0.layout)).evaluate() },
        fixes: fixes, triedWithoutFit: missed)
    }

    static func tRange(_ most: Int, heads: Int) -> String {
      most <= 1 ? "1" : "1–\(most) dividing the \(heads) heads"
    }

    /// The space, as the constraints and the model make it.
    static func describeSpace(_ base: TrainingRun, gpus: Int, constraints c: Constraints)
      -> String
    {
      let m = base.model
      func range(_ fixed: Int?, _ all: String) -> String { fixed.map { "\($0) (fixed)" } ?? all }
      let node = run(base, gpus: gpus, t: 1).gpu.gpusPerNode
      var parts = [
        "\(Format.grouped(gpus)) GPUs",
        "t "
          + range(c.tensor, tRange(c.allowCrossNodeTensor ? gpus : min(node, gpus), heads: m.heads)),
        "cp "
          + range(
            c.contextParallel,
            m.fusedAttention && m.encoderDecoder == nil
              ? "every size with s/cp ≥ \(Format.grouped(minimumContextShard))"
              : "1 (no fused attention)"),
        "p "
          + range(
            c.pipeline,
            c.unevenSplits && m.encoderDecoder == nil
              ? "1–\(m.layers) (uneven splits where p does not divide the \(m.layers) layers)"
              : "dividing the \(m.layers) layers"),
        "v " + range(c.virtualStages, "every interleaving"),
        "b " + range(c.microBatch, "every micro-batch"),
        "recompute "
          + Granularity.allCases.filter(c.recompute.contains).map(\.rawValue).joined(separator: "/")
          + (c.recompute.contains(.full) && c.partialRecompute ? " (and partial)" : ""),
      ]
      let dos: String
      switch c.distributedOptimizer {
      case .none: dos = "distributed optimizer on/off"
      case .some(true): dos = "distributed optimizer on"
      case .some(false): dos = "distributed optimizer off"
      }
      let fsdp: String
      switch c.fullySharded {
      case .any, .on: fsdp = "full sharding"
      case .off: fsdp = "no full sharding"
      case .asBase:
        fsdp =
          base.layout.fullySharded
          ? "full sharding (the file's)"
          : "no full sharding (the file's; --fully-sharded any tries it)"
      }
      parts.append(dos + ", " + fsdp)
      if m.moe != nil {
        parts.append("EP and ETP as --expert-parallel, --expert-tensor-parallel allow")
      }
      return parts.joined(separator: ", ")
    }
  }

  /// A layout in one line: "t8 cp4 p16 (7/8/7 layers) d32 v1 b1, SP on, recompute full (uniform,
  /// 1 layer), distributed optimizer".
  static func describe(_ run: TrainingRun) -> String {
    let l = run.layout
    let split =
      l.split.isEven || l.split.encoderLayers != nil
      ? "" : " (\(l.split.stageSummary(layers: run.model.layers, stages: l.pipeline)) layers)"
    var out =
      "t\(l.tensor) cp\(l.contextParallel) p\(l.pipeline)\(split) d\(Format.grouped(l.data)) v\(l.virtualStages) b\(l.microBatch)"
    if run.model.moe != nil { out += " EP\(l.expertParallel) ETP\(l.expertTensorParallel)" }
    out += ", SP \(l.effectiveSequenceParallel ? "on" : "off"), recompute \(l.recompute)"
    out +=
      l.fullySharded
      ? ", fully sharded"
      : l.distributedOptimizer ? ", distributed optimizer" : ", no distributed optimizer"
    return out
  }
}
