import Foundation

/// `megaplan scale`: one run on several node counts — for each, the fastest layout that fits
/// (`LayoutSearch`) or the file's own layout with d following the count, its step time, tokens
/// per second, MFU, days for the token budget, and the scaling efficiency against the smallest
/// count. Design note: docs/sizing.md.
///
/// The global batch is the file's. When a count's data-parallel size does not divide it, the
/// count is skipped with the reason, or, with `adjustBatch`, takes the nearest valid batch
/// (`LayoutSearch.BatchRule.nearest`: each (t, p) its own nearest multiple of d, or of b·d for
/// the file's layout).
public enum NodeScaling {
  public enum Mode: String, Sendable, Hashable, Codable, CaseIterable {
    /// The fastest layout that fits at each count (`LayoutSearch`).
    case search
    /// The file's t, p, v, b, SP, recompute and optimizer; only d follows the count (how
    /// NVIDIA's scaling tables were measured).
    case file
  }

  public struct Options: Sendable {
    public var nodes: [Int]
    /// Tokens to train; nil: the file's `megaplan.train_tokens` (days are then absent without it).
    public var tokens: Double?
    public var adjustBatch: Bool
    public var mode: Mode
    /// Restrictions of each search (`Mode.search`); the GPU count is each row's.
    public var search: LayoutSearch.Options

    public init(
      nodes: [Int], tokens: Double? = nil, adjustBatch: Bool = false, mode: Mode = .search,
      search: LayoutSearch.Options = .init()
    ) {
      self.nodes = nodes
      self.tokens = tokens
      self.adjustBatch = adjustBatch
      self.mode = mode
      self.search = search
    }
  }

  public struct Row: Sendable {
    public var nodes: Int
    public var gpus: Int
    /// The global batch the row used (the file's when skipped).
    public var globalBatch: Int
    /// The batch differs from the file's (`adjustBatch`).
    public var batchAdjusted: Bool { globalBatch != fileBatch }
    public var fileBatch: Int
    /// The row's evaluation; nil when skipped.
    public var evaluation: Evaluation?
    public var run: TrainingRun? { evaluation?.run }
    /// Why the count has no row; nil when it has one.
    public var skipped: String?
    /// Tokens per second per GPU over the reference row's; nil when skipped or no reference.
    public var efficiency: Double?
  }

  public struct Table: Sendable {
    public var mode: Mode
    public var adjustBatch: Bool
    public var tokens: Double?
    public var devicesPerNode: Int
    public var rows: [Row]
    /// The node count efficiency is measured against: the smallest with a row.
    public var referenceNodes: Int?
  }

  public enum ScalingError: Error, Sendable, Hashable, CustomStringConvertible {
    case noNodeCounts
    case nonPositiveNodes(Int)

    public var description: String {
      switch self {
      case .noNodeCounts: "no node counts given"
      case .nonPositiveNodes(let n): "node counts must be positive integers, found \(n)"
      }
    }
  }

  public static func table(_ loaded: TrainingRun, options: Options) throws -> Table {
    guard !options.nodes.isEmpty else { throw ScalingError.noNodeCounts }
    if let bad = options.nodes.first(where: { $0 <= 0 }) {
      throw ScalingError.nonPositiveNodes(bad)
    }
    var base = loaded
    if let tokens = options.tokens { base.trainTokens = tokens }
    if let f = options.search.maxMemoryFraction {
      base.memoryBudget = MemoryBudget(usableFraction: f)
    }
    let node = max(1, base.devicesPerNode)
    var rows: [Row] = []
    for n in options.nodes {
      let gpus = n * node
      switch options.mode {
      case .search:
        let f = try LayoutSearch.fastest(
          base, gpus: gpus, rule: options.adjustBatch ? .nearest : .keep,
          options: options.search)
        rows.append(
          Row(
            nodes: n, gpus: gpus,
            globalBatch: f.best?.layout.globalBatch ?? base.layout.globalBatch,
            fileBatch: base.layout.globalBatch, evaluation: f.best?.evaluation,
            skipped: f.reason, efficiency: nil))
      case .file:
        rows.append(fileLayoutRow(base, nodes: n, gpus: gpus, adjustBatch: options.adjustBatch))
      }
    }
    let reference = rows.first { $0.evaluation != nil }
    if let ref = reference, let e0 = ref.evaluation {
      let perGPU0 = e0.tokensPerSecond / Double(ref.gpus)
      for i in rows.indices {
        guard let e = rows[i].evaluation else { continue }
        rows[i].efficiency = e.tokensPerSecond / Double(rows[i].gpus) / perGPU0
      }
    }
    return Table(
      mode: options.mode, adjustBatch: options.adjustBatch, tokens: base.trainTokens,
      devicesPerNode: node, rows: rows, referenceNodes: reference?.nodes)
  }

  /// The file's layout on `gpus` GPUs: d = GPUs/(t·cp·p) (the model-parallel ranks of one
  /// replica are t·cp·p, `Layout.gpus`); the batch kept, or with `adjustBatch` the multiple of
  /// b·d nearest it; any other rule the layout breaks (an MoE layout's EP·ETP dividing t·cp·d)
  /// skips the count.
  static func fileLayoutRow(_ base: TrainingRun, nodes: Int, gpus: Int, adjustBatch: Bool) -> Row {
    let l = base.layout
    let B = l.globalBatch
    var row = Row(
      nodes: nodes, gpus: gpus, globalBatch: B, fileBatch: B, evaluation: nil,
      skipped: nil, efficiency: nil)
    let replica = l.tensor * l.contextParallel * l.pipeline
    guard gpus % replica == 0 else {
      row.skipped =
        l.contextParallel > 1
        ? "t·cp·p = \(l.tensor)·\(l.contextParallel)·\(l.pipeline) = \(Format.grouped(replica)) does not divide \(Format.grouped(gpus)) GPUs"
        : "t·p = \(l.tensor)·\(l.pipeline) = \(Format.grouped(replica)) does not divide \(Format.grouped(gpus)) GPUs"
      return row
    }
    var layout = l
    layout.data = gpus / replica
    let step = l.microBatch * layout.data
    if B % step != 0 {
      let nearest = LayoutSearch.nearestMultiple(of: step, to: B)
      guard adjustBatch else {
        row.skipped =
          "global batch \(Format.grouped(B)) is not a multiple of b·d = \(l.microBatch)·\(layout.data) = \(Format.grouped(step)) (--adjust-batch takes \(Format.grouped(nearest)))"
        return row
      }
      layout.globalBatch = nearest
    }
    row.globalBatch = layout.globalBatch
    let run = base.with(layout: layout)
    if let violation = layout.violations(for: run.model).first {
      row.skipped = violation.description
      return row
    }
    row.evaluation = Evaluator(run).evaluate()
    return row
  }
}
