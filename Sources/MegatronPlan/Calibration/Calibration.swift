import Foundation

/// One measurement a calibration fits: a run's steady-state step time (or one term its timers
/// measure) with the relative standard error of its median.
public struct CalibrationObservation: Sendable {
  public var run: TrainingRun
  /// The logs it comes from, as named on the command line.
  public var label: String
  /// The timer term; nil for the step time.
  public var term: MeasuredTerm?
  public var measured: Double
  public var relativeError: Double

  /// What the plan of `run` predicts for it with `constants`: the real model, evaluated.
  public func predicted(_ constants: PerformanceConstants) -> Double {
    var r = run
    r.constants = constants
    guard let term else {
      return Evaluator(r).score(r.layout, timeAlways: true).seconds ?? .nan
    }
    return term.predicted(Evaluator(r).evaluate())
  }
}

extension RunComparison {
  /// The measurements these logs give a calibration: the steady step time when there are at
  /// least two steady windows (one window has no spread to weigh it by), and each timer term the
  /// plan gives time to, measured in at least two steady blocks.
  public func observations(label: String) -> [CalibrationObservation] {
    var out: [CalibrationObservation] = []
    if let m = measuredSeconds, let e = steady.relativeError {
      out.append(
        CalibrationObservation(run: run, label: label, term: nil, measured: m, relativeError: e))
    }
    for t in terms where t.predicted > 0 && t.measured > 0 && t.blocks >= 2 {
      out.append(
        CalibrationObservation(
          run: run, label: label, term: t.term, measured: t.measured,
          relativeError: t.relativeError))
    }
    return out
  }
}

/// Cluster constants fitted to measured runs by weighted least squares through megaplan's own
/// model: the parameters are the logarithms of multipliers on `CalibrationKnob`s, the residuals
/// ln(predicted / measured), each weighted by 1/σ² for its median's relative standard error σ
/// (`SteadyState.relativeError`). Gauss–Newton with Levenberg–Marquardt damping (Marquardt 1963)
/// on a finite-difference Jacobian of the evaluated model. The fit refuses more constants than
/// measurements, a constant no measurement depends on, and constants the measurements cannot
/// tell apart (the columns of the Jacobian, normalised, nearly parallel). Each constant's
/// uncertainty is √diag((JᵀWJ)⁻¹) — the measurement's own — scaled, with more measurements than
/// constants, by the reduced χ² when above 1 (Birge 1932; the scaling `scipy.optimize.curve_fit`
/// applies with `absolute_sigma=False`). With as many measurements as constants the fit is exact
/// and the uncertainty is the logs' scatter alone, not the model's error: a held-out run measures
/// that (docs/validation.md).
public struct Calibration: Sendable {
  public struct Constant: Sendable, Hashable {
    public var knob: CalibrationKnob
    /// The knob's primary field before and after, and its 1σ uncertainty.
    public var before: Double
    public var after: Double
    public var uncertainty: Double
    public var multiplier: Double
  }

  public struct Residual: Sendable, Hashable {
    public var label: String
    public var term: MeasuredTerm?
    public var measured: Double
    public var before: Double
    public var after: Double
    public var relativeError: Double
  }

  public var constants: [Constant]
  public var residuals: [Residual]
  /// The run's constants with the fitted multipliers applied.
  public var fitted: PerformanceConstants
  /// The GPU profile the runs share, as their configs describe it.
  public var gpu: GPU
  public var degreesOfFreedom: Int
  /// χ²/(n − k); nil when exactly determined.
  public var reducedChiSquare: Double?
  /// Iterations of the fit.
  public var iterations: Int

  /// A constant whose relative change of 1 % moves no measurement by more than this relative
  /// amount is not determined by them.
  static let minimumSensitivity = 1e-3
  /// Normalised columns of the Jacobian whose Gram matrix has an eigenvalue ratio below this
  /// (singular values 100× apart) cannot be told apart.
  static let minimumConditioning = 1e-4

  /// Fits `requested` knobs (nil: as many as the measurements determine, the most influential
  /// first) to `observations`.
  public static func fit(
    _ observations: [CalibrationObservation], knobs requested: [CalibrationKnob]?
  ) throws -> Calibration {
    guard let first = observations.first else {
      throw ConfigError(
        "no measurement to fit: each log needs at least two steady-state steps after the first \(SteadyState.warmupSteps) (warm-up)"
      )
    }
    let gpu = first.run.hardwareGPU ?? first.run.gpu
    for o in observations.dropFirst() {
      let other = o.run.hardwareGPU ?? o.run.gpu
      guard other == gpu, o.run.constants == first.run.constants else {
        throw ConfigError(
          "calibrate fits one cluster's constants, but the configs describe two: \(gpu.name) and \(other.name) (\(o.label)); calibrate each cluster on its own"
        )
      }
    }
    let base = first.run.constants
    let n = observations.count
    func predictions(_ theta: [Double], _ knobs: [CalibrationKnob]) -> [Double] {
      var c = base
      for (knob, t) in zip(knobs, theta) { c = knob.applying(exp(t), to: c) }
      return observations.map { $0.predicted(c) }
    }
    func jacobian(_ theta: [Double], _ knobs: [CalibrationKnob], h: Double) -> [[Double]] {
      var columns: [[Double]] = []
      for j in knobs.indices {
        var up = theta
        var down = theta
        up[j] += h
        down[j] -= h
        let (fu, fd) = (predictions(up, knobs), predictions(down, knobs))
        columns.append(zip(fu, fd).map { (log($0) - log($1)) / (2 * h) })
      }
      return (0..<n).map { i in columns.map { $0[i] } }
    }
    // Which constants the measurements determine.
    let candidates = requested ?? CalibrationKnob.allCases
    let probe = jacobian(Array(repeating: 0, count: candidates.count), candidates, h: 0.01)
    let norms = candidates.indices.map { j in probe.map { $0[j] * $0[j] }.reduce(0, +).squareRoot()
    }
    let what = n == 1 ? "1 measurement" : "\(n) measurements"
    var knobs: [CalibrationKnob]
    if let requested {
      var seen: [CalibrationKnob] = []
      for k in requested where !seen.contains(k) { seen.append(k) }
      guard seen.count <= n else {
        throw ConfigError(
          "--fit asks for \(seen.count) constants (\(seen.map(\.primaryKey).joined(separator: ", "))) but the logs give \(what) (\(measurementList(observations))), which determine at most \(n): fit fewer constants or add logs of other runs"
        )
      }
      for (j, k) in candidates.enumerated() where norms[j] < minimumSensitivity {
        throw ConfigError(
          "no measurement depends on \(k.primaryKey): changing it by 1 % moves no predicted time by \(Format.percent(minimumSensitivity / 100, 3)); leave it out of --fit (or add a log of a run that uses it)"
        )
      }
      knobs = seen
    } else {
      knobs = []
      for j in candidates.indices.sorted(by: { norms[$0] > norms[$1] })
      where norms[j] >= minimumSensitivity && knobs.count < n {
        let trial = knobs + [candidates[j]]
        if conditioning(probe, candidates: candidates, knobs: trial).ratio >= minimumConditioning {
          knobs = trial
        }
      }
      guard !knobs.isEmpty else {
        throw ConfigError("no cluster constant moves the predicted times of these runs")
      }
    }
    let check = conditioning(probe, candidates: candidates, knobs: knobs)
    if check.ratio < minimumConditioning, let (a, b) = check.pair {
      throw ConfigError(
        "the logs cannot tell \(a.primaryKey) from \(b.primaryKey): they move every predicted time alike (their sensitivities are parallel); fit one of them, or add a log of a run where they differ (another scale, another layout)"
      )
    }

    // Gauss–Newton with Levenberg–Marquardt damping on θ = ln(multiplier), within [0.1, 10].
    let y = observations.map(\.measured)
    let w = observations.map { 1 / ($0.relativeError * $0.relativeError) }
    let k = knobs.count
    var theta = Array(repeating: 0.0, count: k)
    func residuals(_ f: [Double]) -> [Double] { zip(f, y).map { log($0 / $1) } }
    func cost(_ r: [Double]) -> Double { zip(r, w).map { $0 * $0 * $1 }.reduce(0, +) }
    let initial = predictions(theta, knobs)
    var f = initial
    var r = residuals(f)
    var lambda = 1e-3
    var iterations = 0
    for _ in 0..<60 {
      iterations += 1
      let J = jacobian(theta, knobs, h: 1e-3)
      let A = SmallMatrix.normal(J, weights: w, columns: k)
      let g = (0..<k).map { j in (0..<n).reduce(0.0) { $0 + J[$1][j] * w[$1] * r[$1] } }
      var improved = false
      for _ in 0..<12 {
        var damped = A
        for j in 0..<k { damped[j, j] += lambda * max(A[j, j], 1e-12) }
        guard let inv = damped.inverse() else { break }
        let step = inv.times(g).map { -$0 }
        let trial = zip(theta, step).map { min(log(10.0), max(log(0.1), $0 + $1)) }
        let ft = predictions(trial, knobs)
        let rt = residuals(ft)
        if cost(rt) < cost(r) {
          let moved = zip(trial, theta).map { abs($0 - $1) }.max() ?? 0
          (theta, f, r) = (trial, ft, rt)
          lambda = max(lambda / 3, 1e-9)
          improved = moved > 1e-9
          break
        }
        lambda *= 4
      }
      if !improved { break }
    }
    let J = jacobian(theta, knobs, h: 1e-3)
    let A = SmallMatrix.normal(J, weights: w, columns: k)
    guard let covariance = A.inverse() else {
      throw ConfigError(
        "the fit's normal matrix is singular: the logs do not determine the constants")
    }
    let dof = n - k
    let chi2 = cost(r)
    let reduced = dof > 0 ? chi2 / Double(dof) : nil
    let scale = max(1, reduced ?? 1)
    var fitted = base
    var constants: [Constant] = []
    for (j, knob) in knobs.enumerated() {
      let m = exp(theta[j])
      fitted = knob.applying(m, to: fitted)
      let before = base[keyPath: knob.primary]
      let sigma = (max(0, covariance[j, j]) * scale).squareRoot()
      constants.append(
        Constant(
          knob: knob, before: before, after: before * m, uncertainty: before * m * sigma,
          multiplier: m))
      if let maximum = knob.physicalMaximum, before * m > maximum {
        throw ConfigError(
          "the fit puts \(knob.primaryKey) at \(Format.fixed(before * m, 3)), above the datasheet's \(maximum == 1 ? "peak" : "limit"): the logs and the configs disagree by more than a constant can explain (check each config's GPU, precision, layout and overlap switches against its run)"
        )
      }
    }
    let residualRows = observations.indices.map { i in
      Residual(
        label: observations[i].label, term: observations[i].term, measured: y[i],
        before: initial[i], after: f[i], relativeError: observations[i].relativeError)
    }
    return Calibration(
      constants: constants, residuals: residualRows, fitted: fitted, gpu: gpu,
      degreesOfFreedom: dof, reducedChiSquare: reduced, iterations: iterations)
  }

  /// The eigenvalue ratio of the normalised Jacobian columns of `knobs` (1: orthogonal, 0:
  /// parallel) and the most nearly parallel pair.
  static func conditioning(
    _ jacobian: [[Double]], candidates: [CalibrationKnob], knobs: [CalibrationKnob]
  ) -> (ratio: Double, pair: (CalibrationKnob, CalibrationKnob)?) {
    let columns = knobs.map { knob -> [Double] in
      let j = candidates.firstIndex(of: knob) ?? 0
      let col = jacobian.map { $0[j] }
      let norm = col.map { $0 * $0 }.reduce(0, +).squareRoot()
      return norm > 0 ? col.map { $0 / norm } : col
    }
    let k = columns.count
    var g = SmallMatrix(k)
    var pair: (CalibrationKnob, CalibrationKnob)? = nil
    var most = -1.0
    for a in 0..<k {
      for b in 0..<k {
        g[a, b] = zip(columns[a], columns[b]).map { $0 * $1 }.reduce(0, +)
        if a < b && abs(g[a, b]) > most {
          most = abs(g[a, b])
          pair = (knobs[a], knobs[b])
        }
      }
    }
    let eigen = g.symmetricEigenvalues()
    guard let low = eigen.first, let high = eigen.last, high > 0 else { return (0, pair) }
    return (max(0, low) / high, pair)
  }

  static func measurementList(_ observations: [CalibrationObservation]) -> String {
    observations.map { o in o.term.map { "\(o.label) \($0.rawValue)" } ?? o.label }
      .joined(separator: ", ")
  }
}
