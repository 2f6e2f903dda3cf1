/// Renderings of `megaplan serve`: JSON (docs/json-schema.md), text, CSV and Markdown.
public struct ServeReport: Sendable {
  public var serving: ServingModel
  public var rows: [ServingPlan.Row]

  public init(serving: ServingModel, rows: [ServingPlan.Row]) {
    self.serving = serving
    self.rows = rows
  }

  // MARK: - JSON

  struct Document: Codable {
    var gpu: String
    var precision: String
    var kvPrecision: String
    var gpuMemoryUtilization: Double
    var rooflineCrossoverBatch: Double
    var expertRooflineCrossoverBatch: Double?
    var rows: [RowJSON]

    enum CodingKeys: String, CodingKey {
      case gpu, precision, kvPrecision, gpuMemoryUtilization, rooflineCrossoverBatch,
        expertRooflineCrossoverBatch, rows
    }

    /// Absent values are written as null, so every documented path is always present.
    func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(gpu, forKey: .gpu)
      try c.encode(precision, forKey: .precision)
      try c.encode(kvPrecision, forKey: .kvPrecision)
      try c.encode(gpuMemoryUtilization, forKey: .gpuMemoryUtilization)
      try c.encode(rooflineCrossoverBatch, forKey: .rooflineCrossoverBatch)
      try c.encode(expertRooflineCrossoverBatch, forKey: .expertRooflineCrossoverBatch)
      try c.encode(rows, forKey: .rows)
    }
  }

  struct RowJSON: Codable {
    struct LayoutJSON: Codable {
      var gpus: Int
      var tensor: Int
      var pipeline: Int
      var kvHeadsPerGpu: Int
      var kvHeadsReplicated: Bool
      /// MoE: EP and ETP among the stage's t GPUs and the routed experts each GPU holds per
      /// MoE layer; null for a dense model.
      var expertParallel: Int?
      var expertTensorParallel: Int?
      var expertsPerGpu: Int?
      /// MoE: data-parallel attention replicas the experts span (EP/t when EP > t, else 1).
      var attentionDataParallel: Int?

      enum CodingKeys: String, CodingKey {
        case gpus, tensor, pipeline, kvHeadsPerGpu, kvHeadsReplicated, expertParallel,
          expertTensorParallel, expertsPerGpu, attentionDataParallel
      }

      func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(gpus, forKey: .gpus)
        try c.encode(tensor, forKey: .tensor)
        try c.encode(pipeline, forKey: .pipeline)
        try c.encode(kvHeadsPerGpu, forKey: .kvHeadsPerGpu)
        try c.encode(kvHeadsReplicated, forKey: .kvHeadsReplicated)
        try c.encode(expertParallel, forKey: .expertParallel)
        try c.encode(expertTensorParallel, forKey: .expertTensorParallel)
        try c.encode(expertsPerGpu, forKey: .expertsPerGpu)
        try c.encode(attentionDataParallel, forKey: .attentionDataParallel)
      }
    }
    struct MemoryJSON: Codable {
      var weightsBytes: Double
      var expertWeightsBytes: Double
      var kvCacheBytes: Double
      var activationsBytes: Double
      var runtimeBytes: Double
      var totalBytes: Double
      var capacityBytes: Double
      var fits: Bool
      var largestBatch: Int
    }
    struct LatencyJSON: Codable {
      var ttftSeconds: Double
      var tpotSeconds: Double
      var endToEndSeconds: Double
      var decodeBound: String
      /// MoE: routed experts a decode step reads per MoE layer on the busiest GPU; null dense.
      var expertsReadPerLayer: Double?
      /// One decode step by term (`StepTime.Term`), seconds.
      var decodeStep: [String: Double]
      /// The decode step replays a CUDA graph.
      var decodeGraphed: Bool

      enum CodingKeys: String, CodingKey {
        case ttftSeconds, tpotSeconds, endToEndSeconds, decodeBound, expertsReadPerLayer,
          decodeStep, decodeGraphed
      }

      func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ttftSeconds, forKey: .ttftSeconds)
        try c.encode(tpotSeconds, forKey: .tpotSeconds)
        try c.encode(endToEndSeconds, forKey: .endToEndSeconds)
        try c.encode(decodeBound, forKey: .decodeBound)
        try c.encode(expertsReadPerLayer, forKey: .expertsReadPerLayer)
        try c.encode(decodeStep, forKey: .decodeStep)
        try c.encode(decodeGraphed, forKey: .decodeGraphed)
      }
    }
    struct ThroughputJSON: Codable {
      var tokensPerSecond: Double
      var tokensPerSecondPerGpu: Double
    }
    var batch: Int
    var input: Int
    var output: Int
    var layout: LayoutJSON
    var memory: MemoryJSON
    var latency: LatencyJSON
    var throughput: ThroughputJSON
    var meetsTarget: Bool?
  }

  func json(_ row: ServingPlan.Row) -> RowJSON {
    let p = row.point, m = p.memory, t = p.layout.tensor
    let moe = serving.model.moe
    return RowJSON(
      batch: p.workload.batch, input: p.workload.input, output: p.workload.output,
      layout: .init(
        gpus: p.layout.gpus, tensor: t, pipeline: p.layout.pipeline,
        kvHeadsPerGpu: serving.kvHeadsPerGPU(tensor: t),
        kvHeadsReplicated: serving.kvHeadsReplicated(tensor: t),
        expertParallel: moe == nil ? nil : p.layout.expertParallel,
        expertTensorParallel: moe == nil ? nil : p.layout.expertTensor,
        expertsPerGpu: moe.map { $0.experts / max(1, p.layout.expertParallel) },
        attentionDataParallel: moe == nil ? nil : p.layout.attentionDataParallel),
      memory: .init(
        weightsBytes: m.weights, expertWeightsBytes: m.expertWeights, kvCacheBytes: m.kvCache,
        activationsBytes: m.activations,
        runtimeBytes: m.runtime, totalBytes: m.total, capacityBytes: m.capacity, fits: m.fits,
        largestBatch: p.largestBatch),
      latency: .init(
        ttftSeconds: p.ttft, tpotSeconds: p.decode.total, endToEndSeconds: p.endToEnd,
        decodeBound: p.decode.memoryBound ? "memory" : "compute",
        expertsReadPerLayer: moe == nil ? nil : p.decode.expertsRead,
        decodeStep: Dictionary(
          uniqueKeysWithValues: StepTime.Term.allCases.map { ($0.rawValue, p.decode[$0]) }),
        decodeGraphed: p.decode.graphed),
      throughput: .init(
        tokensPerSecond: p.tokensPerSecond, tokensPerSecondPerGpu: p.tokensPerSecondPerGPU),
      meetsTarget: row.meetsTarget)
  }

  /// `{"rows": [...]}` with the settings beside them; sorted keys, byte-stable.
  public func json() throws -> String {
    let s = serving.settings
    return try JSONOutput.encode(
      Document(
        gpu: serving.gpu.name, precision: s.precision.rawValue, kvPrecision: s.kvPrecision.rawValue,
        gpuMemoryUtilization: s.gpuMemoryUtilization,
        rooflineCrossoverBatch: serving.rooflineCrossoverBatch,
        expertRooflineCrossoverBatch: serving.expertRooflineCrossoverBatch, rows: rows.map(json)))
  }

  // MARK: - Tables

  static let headers = [
    "batch", "in/out", "GPUs", "t", "p", "weights", "KV cache", "activ.", "total GiB", "% cap",
    "max batch", "TTFT", "TPOT", "end-to-end", "tok/s", "tok/s/GPU",
  ]

  func cells(_ row: ServingPlan.Row) -> [String] {
    let p = row.point, m = p.memory
    let gib = { (x: Double) in Format.fixed(x / 1_073_741_824, 2) }
    var cap = Format.percent(m.total / m.capacity)
    if !m.fits { cap += " !" }
    var batch = String(p.workload.batch)
    if row.meetsTarget == false { batch += " ✗" }
    return [
      batch, "\(p.workload.input)/\(p.workload.output)", String(p.layout.gpus),
      String(p.layout.tensor), String(p.layout.pipeline), gib(m.weights), gib(m.kvCache),
      gib(m.activations), gib(m.total), cap, Format.grouped(p.largestBatch),
      Format.seconds(p.ttft), Format.seconds(p.decode.total), Format.seconds(p.endToEnd),
      Format.fixed(p.tokensPerSecond, 1), Format.fixed(p.tokensPerSecondPerGPU, 1),
    ]
  }

  public func text(source: String) -> String {
    let s = serving.settings, g = serving.gpu
    var out = [
      "megaplan serve: \(source)",
      "\(g.displayName), weights \(s.precision.rawValue), KV cache \(s.kvPrecision.rawValue), \(Format.percent(s.gpuMemoryUtilization, 0)) of \(Format.gib(g.memory.value)) usable, paged blocks of \(s.blockTokens) tokens",
      "",
    ]
    let table = [Self.headers] + rows.map(cells)
    let widths = Self.headers.indices.map { i in table.map { $0[i].count }.max() ?? 0 }
    for (n, row) in table.enumerated() {
      out.append(row.indices.map { Format.left(row[$0], widths[$0]) }.joined(separator: "  "))
      if n == 0 {
        out.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
      }
    }
    out.append("")
    out.append(
      "memory per GPU in GiB; decode is memory-bound below a batch of about \(Format.fixed(serving.rooflineCrossoverBatch, 0)) (roofline crossover for the weights)"
    )
    if let experts = serving.model.moe, let first = rows.first {
      let l = first.point.layout
      let crossover = serving.expertRooflineCrossoverBatch.map { Format.fixed($0, 0) } ?? "-"
      out.append(
        "experts: \(experts.experts) per MoE layer, top-\(experts.topK); EP \(l.expertParallel) × ETP \(l.expertTensor) over \(l.attentionDataParallel > 1 ? "\(l.attentionDataParallel) data-parallel attention replicas of t GPUs, tokens dispatched and combined by all-to-all" : "each stage's t GPUs") (\(experts.experts / max(1, l.expertParallel)) experts per GPU, each split over \(l.expertTensor)); a decode step reads only the experts its batch touches, E·(1 − (1 − k/E)^batch) under uniform routing (\(Format.fixed(first.point.decode.expertsRead, 2)) per layer at batch \(first.point.workload.batch)); experts turn compute-bound at a batch of about \(crossover)"
      )
    }
    let replicated = rows.filter { serving.kvHeadsReplicated(tensor: $0.point.layout.tensor) }
    if let r = replicated.first {
      out.append(
        "t \(r.point.layout.tensor) exceeds the \(serving.model.queryGroups) KV heads: each GPU holds a replicated KV head"
      )
    }
    if rows.contains(where: { !$0.point.memory.fits }) {
      out.append("! does not fit in any layout searched")
    }
    if rows.contains(where: { $0.meetsTarget == false }) {
      out.append("✗ no fitting layout meets the target; the smallest that fits is shown")
    }
    return out.joined(separator: "\n") + "\n"
  }

  public func csv() -> String {
    let header = [
      "batch", "input", "output", "gpus", "tensor", "pipeline", "expert_parallel", "weights_bytes",
      "kv_cache_bytes", "activations_bytes", "runtime_bytes", "total_bytes", "capacity_bytes",
      "fits", "largest_batch", "ttft_seconds", "tpot_seconds", "end_to_end_seconds",
      "tokens_per_second", "tokens_per_second_per_gpu", "meets_target",
    ]
    var lines = [header.joined(separator: ",")]
    for row in rows {
      let p = row.point, m = p.memory
      lines.append(
        [
          String(p.workload.batch), String(p.workload.input), String(p.workload.output),
          String(p.layout.gpus), String(p.layout.tensor), String(p.layout.pipeline),
          serving.model.moe == nil ? "" : String(p.layout.expertParallel),
          Format.fixed(m.weights, 0), Format.fixed(m.kvCache, 0), Format.fixed(m.activations, 0),
          Format.fixed(m.runtime, 0), Format.fixed(m.total, 0), Format.fixed(m.capacity, 0),
          String(m.fits), String(p.largestBatch), Format.fixed(p.ttft, 6),
          Format.fixed(p.decode.total, 6), Format.fixed(p.endToEnd, 6),
          Format.fixed(p.tokensPerSecond, 2), Format.fixed(p.tokensPerSecondPerGPU, 2),
          row.meetsTarget.map(String.init) ?? "",
        ].joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  public func markdown() -> String {
    var lines = [
      "| " + Self.headers.joined(separator: " | ") + " |",
      "|" + Self.headers.map { _ in "---:" }.joined(separator: "|") + "|",
    ]
    for row in rows { lines.append("| " + cells(row).joined(separator: " | ") + " |") }
    return lines.joined(separator: "\n") + "\n"
  }
}
