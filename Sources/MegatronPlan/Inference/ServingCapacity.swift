import Foundation

/// The seed's capacity question (`megaplan serve --rate R --slo ttft=…,tpot=…`): how many
/// replicas, and GPUs, serve R requests per second of a mix within a latency target, and which
/// layout (tensor-parallel size, weight format, engine) does it with the fewest GPUs.
public enum ServingCapacity {
  /// One layout, format and engine, sized for the rate.
  public struct Candidate: Sendable, Hashable, Codable {
    public var engine: ServingEngine
    public var precision: ServingPrecision
    public var layout: ServingModel.Layout
    /// The highest rate one replica sustains within the target (0: none).
    public var ratePerReplica: Double
    /// Replicas for the whole rate: ⌈rate / ratePerReplica⌉ (0 when the target is out of reach).
    public var replicas: Int
    public var gpus: Int { replicas * layout.gpus }
    /// One replica at its share of the rate (nil when the target is out of reach).
    public var point: LoadPoint?
    /// The replica's highest sustainable rate without a target (its KV cache full).
    public var saturationRate: Double
  }

  public struct Answer: Sendable, Hashable, Codable {
    public var rate: Double
    public var mix: RequestMix
    public var slo: ServiceLevel
    /// Every candidate that meets the target, fewest GPUs first (ties: lower TPOT), then those
    /// that do not.
    public var candidates: [Candidate]
    public var cheapest: Candidate? { candidates.first { $0.replicas > 0 } }
  }

  /// The layouts one engine and format are tried on: each power-of-two t of the NVLink domain
  /// that shards the model (`ServingPlan.candidates`) with the fewest pipeline stages whose
  /// weights fit (more stages add GPUs without shortening a step: one batch is in flight).
  static func layouts(_ serving: ServingModel, mix: RequestMix, tensor: Int?, pipeline: Int?)
    throws -> [ServingModel.Layout]
  {
    let all = try ServingPlan.candidates(serving, tensor: tensor, pipeline: pipeline)
    let w = ServingModel.Workload(input: mix.input, output: mix.output, batch: 1)
    var out: [ServingModel.Layout] = []
    for t in Set(all.map(\.tensor)).sorted() {
      let fitting = all.filter { $0.tensor == t }.sorted { $0.pipeline < $1.pipeline }
      if let first = fitting.first(where: { serving.memory($0, w).fits }) { out.append(first) }
    }
    return out
  }

  /// Every engine × format × layout sized for `rate` within `slo`.
  public static func plan(
    model: TransformerModel, gpu: GPU, base: ServingModel.Settings, mix: RequestMix,
    rate: Double, slo: ServiceLevel, engines: [ServingEngine], precisions: [ServingPrecision],
    tensor: Int? = nil, pipeline: Int? = nil
  ) throws -> Answer {
    var candidates: [Candidate] = []
    for engine in engines where engine.continuousBatching {
      for precision in precisions {
        var settings = ServingModel.Settings(
          precision: precision, kvPrecision: base.kvPrecision,
          gpuMemoryUtilization: base.gpuMemoryUtilization, engine: engine)
        if engine == base.engine { settings.cudaGraphs = base.cudaGraphs }
        let serving = ServingModel(model: model, gpu: gpu, settings: settings)
        guard (try? serving.validateSettings()) != nil else { continue }
        for layout in try layouts(serving, mix: mix, tensor: tensor, pipeline: pipeline) {
          let perReplica = serving.sloRate(layout, mix, slo)
          let replicas = perReplica > 0 ? Int((rate / perReplica).rounded(.up)) : 0
          let point =
            replicas > 0 ? serving.load(layout, mix, rate: rate / Double(replicas)) : nil
          candidates.append(
            Candidate(
              engine: engine, precision: precision, layout: layout, ratePerReplica: perReplica,
              replicas: replicas, point: point,
              saturationRate: serving.saturationRate(layout, mix)))
        }
      }
    }
    candidates.sort { a, b in
      let ka = (a.replicas == 0 ? 1 : 0, a.gpus, a.point?.tpot ?? .infinity)
      let kb = (b.replicas == 0 ? 1 : 0, b.gpus, b.point?.tpot ?? .infinity)
      if ka != kb { return ka < kb }
      return (a.engine.rawValue, a.precision.rawValue, a.layout.tensor)
        < (b.engine.rawValue, b.precision.rawValue, b.layout.tensor)
    }
    return Answer(rate: rate, mix: mix, slo: slo, candidates: candidates)
  }
}
