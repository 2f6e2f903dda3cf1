/// The layout to serve each batch with: the smallest replica (t·p GPUs) that fits, or, with a
/// latency or throughput target, the fastest fitting layout that meets it.
public enum ServingPlan {
  /// Targets of `megaplan serve --max-latency-ms / --min-throughput`.
  public struct Targets: Sendable, Hashable, Codable {
    /// End-to-end latency of one request (TTFT + (output − 1) × TPOT), in seconds.
    public var maxLatencySeconds: Double?
    /// Output tokens per second of one replica.
    public var minTokensPerSecond: Double?
    public init(maxLatencySeconds: Double? = nil, minTokensPerSecond: Double? = nil) {
      self.maxLatencySeconds = maxLatencySeconds
      self.minTokensPerSecond = minTokensPerSecond
    }
    public var isEmpty: Bool { maxLatencySeconds == nil && minTokensPerSecond == nil }

    public func met(by p: ServingModel.Point) -> Bool {
      if let limit = maxLatencySeconds, p.endToEnd > limit { return false }
      if let floor = minTokensPerSecond, p.tokensPerSecond < floor { return false }
      return true
    }
  }

  /// One batch's answer.
  public struct Row: Sendable, Hashable, Codable {
    public var point: ServingModel.Point
    /// Whether the layout meets the targets; nil without targets.
    public var meetsTarget: Bool?
    /// Layouts considered for this batch.
    public var layoutsConsidered: Int
  }

  /// Largest pipeline size searched when p is free.
  public static let maxPipeline = 64

  /// The layouts searched: t a power of two that shards the heads (`ServingModel.validate`) up
  /// to the GPUs one NVLink domain joins (tensor parallelism across nodes is not worth it for
  /// decode), p from 1 to min(L, 64); a fixed t or p is validated and used alone. For an MoE
  /// model each t takes a fixed EP when given, else EP 1 (experts tensor-parallel, the serving
  /// engines' default and, under uniform routing, never slower: the step waits for no busiest
  /// rank), or the smallest power of two that shards the experts when t does not divide the
  /// expert MLP.
  public static func candidates(
    _ serving: ServingModel, tensor: Int?, pipeline: Int?, expertParallel: Int? = nil
  ) throws -> [ServingModel.Layout] {
    var tensors: [(t: Int, ep: Int)] = []
    func expertChoice(_ t: Int) -> Int? {
      if let expertParallel { return expertParallel }
      var ep = 1
      while ep <= t {
        let layout = ServingModel.Layout(tensor: t, pipeline: 1, expertParallel: ep)
        if (try? serving.validate(layout)) != nil { return ep }
        ep *= 2
      }
      return nil
    }
    if let tensor {
      let ep = expertChoice(tensor) ?? 1
      try serving.validate(ServingModel.Layout(tensor: tensor, pipeline: 1, expertParallel: ep))
      tensors = [(tensor, ep)]
    } else {
      let domain = serving.gpu.nvlinkGroup(devicesPerNode: serving.gpu.gpusPerNode)
      var t = 1
      while t <= domain {
        if let ep = expertChoice(t),
          (try? serving.validate(ServingModel.Layout(tensor: t, pipeline: 1, expertParallel: ep)))
            != nil
        {
          tensors.append((t, ep))
        }
        t *= 2
      }
      if tensors.isEmpty, let expertParallel {
        // A fixed EP no t of the domain takes: say why for the smallest t it could fit.
        let t = max(1, expertParallel)
        try serving.validate(
          ServingModel.Layout(tensor: t, pipeline: 1, expertParallel: expertParallel))
      }
    }
    var pipelines: [Int] = []
    if let pipeline {
      try serving.validate(
        ServingModel.Layout(
          tensor: tensors.first?.t ?? 1, pipeline: pipeline, expertParallel: tensors.first?.ep ?? 1)
      )
      pipelines = [pipeline]
    } else {
      pipelines = Array(1...max(1, min(serving.model.layers, maxPipeline)))
    }
    return tensors.flatMap { choice in
      pipelines.map {
        ServingModel.Layout(tensor: choice.t, pipeline: $0, expertParallel: choice.ep)
      }
    }
  }

  /// One row per batch size.
  public static func plan(
    _ serving: ServingModel, input: Int, output: Int, batches: [Int], tensor: Int? = nil,
    pipeline: Int? = nil, expertParallel: Int? = nil, targets: Targets = .init()
  ) throws -> [Row] {
    let layouts = try candidates(
      serving, tensor: tensor, pipeline: pipeline, expertParallel: expertParallel)
    var rows: [Row] = []
    for batch in batches {
      let w = ServingModel.Workload(input: input, output: output, batch: batch)
      try serving.validate(w)
      let points = layouts.map { serving.point($0, w, largestBatch: false) }
      let fitting = points.filter(\.memory.fits)
      // Smallest replica, then the faster; with nothing fitting, the largest layout searched.
      func smallest(_ a: ServingModel.Point, _ b: ServingModel.Point) -> Bool {
        (a.layout.gpus, a.endToEnd, a.layout.tensor) < (b.layout.gpus, b.endToEnd, b.layout.tensor)
      }
      func fastest(_ a: ServingModel.Point, _ b: ServingModel.Point) -> Bool {
        (a.endToEnd, a.layout.gpus, a.layout.tensor) < (b.endToEnd, b.layout.gpus, b.layout.tensor)
      }
      var chosen = fitting.min(by: smallest) ?? points.max(by: smallest)
      var meets: Bool? = nil
      if !targets.isEmpty {
        let meeting = fitting.filter(targets.met)
        if let best = meeting.min(by: fastest) { chosen = best }
        meets = !meeting.isEmpty
      }
      guard let chosen else { continue }
      rows.append(
        Row(
          point: serving.point(chosen.layout, w, largestBatch: true), meetsTarget: meets,
          layoutsConsidered: layouts.count))
    }
    return rows
  }
}
