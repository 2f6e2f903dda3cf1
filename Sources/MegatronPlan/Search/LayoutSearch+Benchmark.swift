import Foundation

extension LayoutSearch {
  /// Figures for `megaplan search --benchmark`: how fast the search ran, and how long the same
  /// space would take one full evaluation (what `estimate` reports) at a time.
  public struct Benchmark: Sendable, Hashable, Codable {
    /// Complete layouts checked per search (`Result.layouts`).
    public var layouts: Int
    /// `Result.evaluated` (layouts plus divisibility cuts).
    public var evaluated: Int
    public var threads: Int
    /// Best wall time of `repetitions` searches, top-K estimates included.
    public var seconds: Double
    public var layoutsPerSecond: Double
    public var layoutsPerSecondPerThread: Double
    /// Same search on one thread (best of `repetitions`).
    public var singleThreadSeconds: Double
    public var singleThreadLayoutsPerSecond: Double
    /// Mean time of one full `Evaluator.evaluate` over a sample of the space's layouts.
    public var estimateSeconds: Double
    public var estimateSample: Int
    /// `estimateSeconds × layouts`: the space one full evaluation at a time, on one thread.
    public var extrapolatedEstimateSeconds: Double
    /// `extrapolatedEstimateSeconds / singleThreadSeconds`.
    public var speedupOverEstimate: Double
  }

  /// Runs the search `repetitions` times on all threads and on one, and times a full evaluation on up
  /// to `estimateSample` layouts spread evenly over the space. Uses the clock; results vary.
  public static func benchmark(
    _ base: TrainingRun, options: Options = .init(), repetitions: Int = 5, estimateSample: Int = 500
  ) throws -> Benchmark {
    func best(_ opts: Options) throws -> (Double, Result) {
      var fastest = Double.infinity
      var last: Result? = nil
      for _ in 0..<max(1, repetitions) {
        let start = DispatchTime.now().uptimeNanoseconds
        last = try search(base, options: opts)
        fastest = min(fastest, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
      }
      guard let last else { throw SearchError.nonPositive(what: "repetitions", value: repetitions) }
      return (fastest, last)
    }
    let threads = max(1, options.threads ?? ProcessInfo.processInfo.activeProcessorCount)
    let (seconds, result) = try best(options)
    var single = options
    single.threads = 1
    let (singleSeconds, _) = try best(single)

    // Layouts spread over the space (every n-th complete layout of the first GPU count).
    let gpus = options.constraints.gpus ?? base.layout.gpus
    var scratch = Tally(top: 1)
    let units = units(base, gpus: gpus, constraints: options.constraints, tally: &scratch)
    let all = units.flatMap { u in
      sequenceParallelChoices(t: u.t, options.constraints.sequenceParallel).flatMap { sp in
        Granularity.allCases.filter(options.constraints.recompute.contains).flatMap { g in
          recomputeChoices(g, layersPerChunk: base.model.layers / (u.p * u.v)).flatMap { rc in
            distributedOptimizerChoices(d: u.d, options.constraints.distributedOptimizer).map {
              dOpt in
              layout(
                u, globalBatch: base.layout.globalBatch, sp: sp, recompute: rc,
                distributedOptimizer: dOpt)
            }
          }
        }
      }
    }
    let n = min(all.count, max(1, estimateSample))
    let sample = (0..<n).map { all[$0 * all.count / n] }
    var checksum = 0.0
    let start = DispatchTime.now().uptimeNanoseconds
    for l in sample {
      var run = base
      run.layout = l
      checksum += Evaluator(run).evaluate().seconds
    }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let perEstimate = sample.isEmpty || !checksum.isFinite ? 0 : elapsed / Double(sample.count)
    let layouts = Double(result.layouts)
    return Benchmark(
      layouts: result.layouts, evaluated: result.evaluated, threads: threads, seconds: seconds,
      layoutsPerSecond: layouts / seconds,
      layoutsPerSecondPerThread: layouts / seconds / Double(threads),
      singleThreadSeconds: singleSeconds, singleThreadLayoutsPerSecond: layouts / singleSeconds,
      estimateSeconds: perEstimate, estimateSample: sample.count,
      extrapolatedEstimateSeconds: perEstimate * layouts,
      speedupOverEstimate: perEstimate * layouts / singleSeconds)
  }
}
