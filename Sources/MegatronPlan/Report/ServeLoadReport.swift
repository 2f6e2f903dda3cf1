/// Renderings of `megaplan serve --rate` (continuous batching at a rate: the replicas it needs,
/// one replica's steady state and its throughput–latency curve) and `--slo` (the capacity
/// search): text, JSON (docs/json-schema.md), CSV and Markdown.
public struct ServeLoadReport: Sendable {
  public var serving: ServingModel
  public var layout: ServingModel.Layout
  public var mix: RequestMix
  /// Requests per second for the whole service.
  public var rate: Double
  /// Replicas the rate needs at the replica's saturation rate (no target).
  public var replicas: Int
  /// One replica at its share of the rate.
  public var point: LoadPoint?
  public var saturationRate: Double
  public var curve: [LoadPoint]
  /// With a target: the capacity search.
  public var capacity: ServingCapacity.Answer?

  public init(
    serving: ServingModel, layout: ServingModel.Layout, mix: RequestMix, rate: Double,
    capacity: ServingCapacity.Answer? = nil, points: Int = 10
  ) {
    self.serving = serving
    self.layout = layout
    self.mix = mix
    self.rate = rate
    self.capacity = capacity
    saturationRate = serving.saturationRate(layout, mix)
    replicas = saturationRate > 0 ? Int((rate / saturationRate).rounded(.up)) : 0
    point = replicas > 0 ? serving.load(layout, mix, rate: rate / Double(replicas)) : nil
    curve = serving.curve(layout, mix, points: points)
  }

  /// The service meets its target (with one) or keeps up with the rate (without).
  public var met: Bool { capacity.map { $0.cheapest != nil } ?? (replicas > 0) }

  // MARK: - JSON

  struct PointJSON: Codable {
    var rate: Double
    var decodeBatch: Double
    var prefillTokensPerStep: Double
    var ttftSeconds: Double
    var tpotSeconds: Double
    var tokensPerSecond: Double
    var tokensPerSecondPerGpu: Double
    var fits: Bool
  }

  static func json(_ p: LoadPoint) -> PointJSON {
    PointJSON(
      rate: p.rate, decodeBatch: p.decodeBatch, prefillTokensPerStep: p.prefillTokensPerStep,
      ttftSeconds: p.ttft, tpotSeconds: p.tpot, tokensPerSecond: p.tokensPerSecond,
      tokensPerSecondPerGpu: p.tokensPerSecondPerGPU, fits: p.fits)
  }

  struct CandidateJSON: Codable {
    var engine: String
    var precision: String
    var tensor: Int
    var pipeline: Int
    var gpusPerReplica: Int
    var ratePerReplica: Double
    var saturationRate: Double
    var replicas: Int
    var gpus: Int
    var point: PointJSON?

    enum CodingKeys: String, CodingKey {
      case engine, precision, tensor, pipeline, gpusPerReplica, ratePerReplica, saturationRate,
        replicas, gpus, point
    }

    func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(engine, forKey: .engine)
      try c.encode(precision, forKey: .precision)
      try c.encode(tensor, forKey: .tensor)
      try c.encode(pipeline, forKey: .pipeline)
      try c.encode(gpusPerReplica, forKey: .gpusPerReplica)
      try c.encode(ratePerReplica, forKey: .ratePerReplica)
      try c.encode(saturationRate, forKey: .saturationRate)
      try c.encode(replicas, forKey: .replicas)
      try c.encode(gpus, forKey: .gpus)
      try c.encode(point, forKey: .point)
    }
  }

  struct Document: Codable {
    var gpu: String
    var engine: String
    var precision: String
    var input: Int
    var output: Int
    var rate: Double
    var tensor: Int
    var pipeline: Int
    var saturationRate: Double
    var replicas: Int
    var gpus: Int
    var point: PointJSON?
    var curve: [PointJSON]
    var sloTtftSeconds: Double?
    var sloTpotSeconds: Double?
    var candidates: [CandidateJSON]?

    enum CodingKeys: String, CodingKey {
      case gpu, engine, precision, input, output, rate, tensor, pipeline, saturationRate,
        replicas, gpus, point, curve, sloTtftSeconds, sloTpotSeconds, candidates
    }

    /// Absent values are written as null, so every documented path is always present.
    func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(gpu, forKey: .gpu)
      try c.encode(engine, forKey: .engine)
      try c.encode(precision, forKey: .precision)
      try c.encode(input, forKey: .input)
      try c.encode(output, forKey: .output)
      try c.encode(rate, forKey: .rate)
      try c.encode(tensor, forKey: .tensor)
      try c.encode(pipeline, forKey: .pipeline)
      try c.encode(saturationRate, forKey: .saturationRate)
      try c.encode(replicas, forKey: .replicas)
      try c.encode(gpus, forKey: .gpus)
      try c.encode(point, forKey: .point)
      try c.encode(curve, forKey: .curve)
      try c.encode(sloTtftSeconds, forKey: .sloTtftSeconds)
      try c.encode(sloTpotSeconds, forKey: .sloTpotSeconds)
      try c.encode(candidates, forKey: .candidates)
    }
  }

  public func json() throws -> String {
    let s = serving.settings
    let candidates = capacity?.candidates.map { c in
      CandidateJSON(
        engine: c.engine.rawValue, precision: c.precision.rawValue, tensor: c.layout.tensor,
        pipeline: c.layout.pipeline, gpusPerReplica: c.layout.gpus,
        ratePerReplica: c.ratePerReplica, saturationRate: c.saturationRate,
        replicas: c.replicas, gpus: c.gpus, point: c.point.map(Self.json))
    }
    return try JSONOutput.encode(
      Document(
        gpu: serving.gpu.name, engine: s.engine.rawValue, precision: s.precision.rawValue,
        input: mix.input, output: mix.output, rate: rate, tensor: layout.tensor,
        pipeline: layout.pipeline, saturationRate: saturationRate, replicas: replicas,
        gpus: replicas * layout.gpus, point: point.map(Self.json), curve: curve.map(Self.json),
        sloTtftSeconds: capacity?.slo.ttftSeconds, sloTpotSeconds: capacity?.slo.tpotSeconds,
        candidates: candidates))
  }

  // MARK: - Text

  static let curveHeaders = [
    "req/s", "batch", "prefill tok/step", "TTFT", "TPOT", "tok/s", "tok/s/GPU", "KV",
  ]

  static func cells(_ p: LoadPoint) -> [String] {
    [
      Format.fixed(p.rate, 2), Format.fixed(p.decodeBatch, 1),
      Format.fixed(p.prefillTokensPerStep, 0), Format.seconds(p.ttft), Format.seconds(p.tpot),
      Format.fixed(p.tokensPerSecond, 0), Format.fixed(p.tokensPerSecondPerGPU, 0),
      p.fits ? "fits" : "full",
    ]
  }

  static let capacityHeaders = [
    "engine", "weights", "t", "p", "req/s/replica", "replicas", "GPUs", "TTFT", "TPOT",
  ]

  static func cells(_ c: ServingCapacity.Candidate) -> [String] {
    [
      c.engine.rawValue, c.precision.rawValue, String(c.layout.tensor), String(c.layout.pipeline),
      Format.fixed(c.ratePerReplica, 2), c.replicas > 0 ? String(c.replicas) : "-",
      c.replicas > 0 ? Format.grouped(c.gpus) : "-",
      c.point.map { Format.seconds($0.ttft) } ?? "-",
      c.point.map { Format.seconds($0.tpot) } ?? "-",
    ]
  }

  static func table(_ headers: [String], _ rows: [[String]]) -> [String] {
    let all = [headers] + rows
    let widths = headers.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
    var out: [String] = []
    for (n, row) in all.enumerated() {
      out.append(row.indices.map { Format.left(row[$0], widths[$0]) }.joined(separator: "  "))
      if n == 0 {
        out.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
      }
    }
    return out
  }

  func sloText(_ slo: ServiceLevel) -> String {
    var parts: [String] = []
    if let t = slo.ttftSeconds { parts.append("TTFT ≤ \(Format.seconds(t))") }
    if let t = slo.tpotSeconds { parts.append("TPOT ≤ \(Format.seconds(t))") }
    return parts.joined(separator: ", ")
  }

  public func text(source: String) -> String {
    let s = serving.settings, g = serving.gpu
    var out = [
      "megaplan serve: \(source)",
      "\(g.displayName), continuous batching, requests of \(mix.input) prompt and \(mix.output) output tokens at \(Format.fixed(rate, 2)) req/s",
      "",
    ]
    if let capacity {
      out.append("Capacity within \(sloText(capacity.slo)), fewest GPUs first:")
      out += Self.table(Self.capacityHeaders, capacity.candidates.map(Self.cells))
      if let best = capacity.cheapest {
        out.append(
          "cheapest: \(best.engine.displayName), \(best.precision.rawValue) weights, t \(best.layout.tensor) p \(best.layout.pipeline): \(best.replicas) replica\(best.replicas == 1 ? "" : "s") of \(best.layout.gpus) GPU\(best.layout.gpus == 1 ? "" : "s") = \(Format.grouped(best.gpus)) GPU\(best.gpus == 1 ? "" : "s")"
        )
      } else {
        out.append("✗ no layout, format and engine searched meets the target")
      }
      out.append("")
    }
    out.append(
      "\(s.engine.displayName), \(s.precision.rawValue) weights, t \(layout.tensor) p \(layout.pipeline) (\(layout.gpus) GPU\(layout.gpus == 1 ? "" : "s") per replica): at most \(Format.fixed(saturationRate, 2)) req/s per replica (beyond it requests queue without bound or the KV cache is full)"
    )
    if let point {
      out.append(
        "\(replicas) replica\(replicas == 1 ? "" : "s") (\(Format.grouped(replicas * layout.gpus)) GPU\(replicas * layout.gpus == 1 ? "" : "s")) at \(Format.fixed(point.rate, 2)) req/s each: batch \(Format.fixed(point.decodeBatch, 1)), TTFT \(Format.seconds(point.ttft)), TPOT \(Format.seconds(point.tpot)), \(Format.fixed(point.tokensPerSecondPerGPU, 0)) tok/s/GPU"
      )
    } else {
      out.append("✗ one replica cannot hold a single request of this mix")
    }
    out.append("")
    out.append("Throughput–latency curve of one replica (steady state by rate):")
    out += Self.table(Self.curveHeaders, curve.map(Self.cells))
    return out.joined(separator: "\n") + "\n"
  }

  public func csv() -> String {
    var lines = [
      "rate,decode_batch,prefill_tokens_per_step,ttft_seconds,tpot_seconds,tokens_per_second,tokens_per_second_per_gpu,fits"
    ]
    for p in curve {
      lines.append(
        [
          Format.fixed(p.rate, 4), Format.fixed(p.decodeBatch, 3),
          Format.fixed(p.prefillTokensPerStep, 3), Format.fixed(p.ttft, 6), Format.fixed(p.tpot, 6),
          Format.fixed(p.tokensPerSecond, 2), Format.fixed(p.tokensPerSecondPerGPU, 2),
          String(p.fits),
        ].joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  public func markdown() -> String {
    var lines = [
      "| " + Self.curveHeaders.joined(separator: " | ") + " |",
      "|" + Self.curveHeaders.map { _ in "---:" }.joined(separator: "|") + "|",
    ]
    for p in curve { lines.append("| " + Self.cells(p).joined(separator: " | ") + " |") }
    return lines.joined(separator: "\n") + "\n"
  }
}
