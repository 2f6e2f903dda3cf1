import Foundation

/// `megaplan calibrate` as a document (`--format json`), as text, and the hardware profile it
/// writes (`-o FILE`): pure mappings of a `Calibration`.
public struct CalibrationDocument: Sendable, Codable {
  public struct Constant: Sendable, Codable {
    /// The `megaplan.hardware` key of the knob's primary field.
    public var name: String
    /// The knob (`--fit` name).
    public var knob: String
    public var before: Double
    public var after: Double
    public var uncertainty: Double
    public var multiplier: Double
  }
  public struct Measurement: Sendable, Codable {
    public var label: String
    /// The timer term, or null for the step time.
    public var term: String?
    public var measuredSeconds: Double
    public var beforeSeconds: Double
    public var afterSeconds: Double
    public var relativeStandardError: Double

    /// Absent values are written as null, so every documented path is always present.
    public func encode(to encoder: any Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(label, forKey: .label)
      try c.encode(term, forKey: .term)
      try c.encode(measuredSeconds, forKey: .measuredSeconds)
      try c.encode(beforeSeconds, forKey: .beforeSeconds)
      try c.encode(afterSeconds, forKey: .afterSeconds)
      try c.encode(relativeStandardError, forKey: .relativeStandardError)
    }
  }
  public var gpu: String
  public var constants: [Constant]
  public var measurements: [Measurement]
  public var degreesOfFreedom: Int
  public var reducedChiSquare: Double?
  /// The `megaplan.hardware` section's keys and values the profile writes.
  public var profile: [String: String]

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(gpu, forKey: .gpu)
    try c.encode(constants, forKey: .constants)
    try c.encode(measurements, forKey: .measurements)
    try c.encode(degreesOfFreedom, forKey: .degreesOfFreedom)
    try c.encode(reducedChiSquare, forKey: .reducedChiSquare)
    try c.encode(profile, forKey: .profile)
  }

  public init(_ c: Calibration) {
    gpu = c.gpu.name
    constants = c.constants.map {
      Constant(
        name: $0.knob.primaryKey, knob: $0.knob.rawValue, before: $0.before, after: $0.after,
        uncertainty: $0.uncertainty, multiplier: $0.multiplier)
    }
    measurements = c.residuals.map {
      Measurement(
        label: $0.label, term: $0.term?.rawValue, measuredSeconds: $0.measured,
        beforeSeconds: $0.before, afterSeconds: $0.after, relativeStandardError: $0.relativeError)
    }
    degreesOfFreedom = c.degreesOfFreedom
    reducedChiSquare = c.reducedChiSquare
    profile = Dictionary(uniqueKeysWithValues: CalibrationReport.profileEntries(c))
  }
}

public enum CalibrationReport {
  public static func text(_ c: Calibration, output: String?) -> String {
    var out: [String] = []
    let k = c.constants.count
    let n = c.residuals.count
    let determined =
      c.degreesOfFreedom == 0
      ? "exactly determined (the uncertainty is the logs' own scatter, not the model's error)"
      : "\(c.degreesOfFreedom) degree\(c.degreesOfFreedom == 1 ? "" : "s") of freedom, reduced χ² \(Format.fixed(c.reducedChiSquare ?? 0, 2))"
    out.append(
      "megaplan calibrate: \(k) constant\(k == 1 ? "" : "s") from \(n) measurement\(n == 1 ? "" : "s") on \(c.gpu.name): \(determined)"
    )
    out.append("")
    out.append("constant                        before      fitted       ±1σ   factor")
    for x in c.constants {
      out.append(
        "  " + Format.pad(x.knob.primaryKey, 26) + Format.left(value(x.before, x.knob), 10)
          + Format.left(value(x.after, x.knob), 12) + Format.left(value(x.uncertainty, x.knob), 10)
          + Format.left(Format.fixed(x.multiplier, 4), 9))
    }
    out.append("")
    out.append("measurement      measured     before     error     fitted     error   run: logs")
    for r in c.residuals {
      let what = r.term.map { "\($0.rawValue)" } ?? "step time"
      out.append(
        "  " + Format.pad(what, 13) + Format.left(seconds(r.measured), 11)
          + Format.left(seconds(r.before), 11) + Format.left(signed(r.before / r.measured - 1), 10)
          + Format.left(seconds(r.after), 11) + Format.left(signed(r.after / r.measured - 1), 10)
          + "   " + r.label)
    }
    out.append("")
    let entries = profileEntries(c).map { "\($0.0) \($0.1)" }.joined(separator: ", ")
    if let output {
      out.append(
        "wrote \(output): megaplan.hardware with \(entries) (read it with --hardware \(output))")
    } else {
      out.append("the profile: megaplan.hardware with \(entries) (-o FILE writes it)")
    }
    return out.joined(separator: "\n") + "\n"
  }

  /// The hardware profile's YAML: a header saying what it was fitted to, then
  /// `megaplan.hardware` with the GPU and every constant that differs from the generation's.
  public static func profile(_ c: Calibration, command: String) -> String {
    var lines = [
      "# A cluster profile written by `\(command)`.",
      "# Fitted to \(c.residuals.count) measurement\(c.residuals.count == 1 ? "" : "s"):",
    ]
    for r in c.residuals {
      lines.append(
        "#   \(r.label)\(r.term.map { " \($0.rawValue)" } ?? ""): \(seconds(r.measured)) measured, \(seconds(r.before)) before, \(seconds(r.after)) fitted"
      )
    }
    for x in c.constants {
      lines.append(
        "# \(x.knob.primaryKey): \(value(x.before, x.knob)) → \(value(x.after, x.knob)) ± \(value(x.uncertainty, x.knob)) (1σ)"
      )
    }
    lines.append("# Plan with it: megaplan estimate CONFIG --hardware FILE (any command takes it).")
    lines.append("megaplan:")
    lines.append("  hardware:")
    for (key, text) in profileEntries(c) { lines.append("    \(key): \(text)") }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The profile's keys in order: the GPU (`base` when it is a profile megaplan knows, else its
  /// figures), then each calibrated constant that differs from its generation's.
  public static func profileEntries(_ c: Calibration) -> [(String, String)] {
    var out: [(String, String)] = []
    var gpu = c.gpu
    if let known = GPU.named(gpu.name) {
      gpu.displayName = known.displayName
    }
    if let known = GPU.named(gpu.name), known == gpu {
      out.append(("base", known.name))
    } else {
      out.append(("name", gpu.name))
      out.append(("generation", gpu.generation.rawValue))
      out.append(("memory_gib", number(gpu.memory.value / 1_073_741_824)))
      out.append(("peak_bf16_tflops", number(gpu.peak16.value / 1e12)))
      if let p8 = gpu.peak8 { out.append(("peak_fp8_tflops", number(p8.value / 1e12))) }
      out.append(("peak_fp32_tflops", number(gpu.peak32.value / 1e12)))
      out.append(("hbm_gbps", number(gpu.hbm.value / 1e9)))
      out.append(("nvlink_gbps", number(gpu.nvlinkPerDirection.value / 1e9)))
      out.append(("nvlink_domain", String(gpu.nvlinkDomain)))
      out.append(("gpus_per_node", String(gpu.gpusPerNode)))
      out.append(("network_gbps", number(gpu.interNodePerGPU.value / 1e9)))
    }
    let generation = PerformanceConstants.forGeneration(c.gpu.generation)
    let fitted = Set(c.constants.map(\.knob))
    for knob in CalibrationKnob.allCases {
      for (key, field) in knob.profileKeys {
        let x = c.fitted[keyPath: field]
        if fitted.contains(knob) || x != generation[keyPath: field] {
          out.append((key, number(x)))
        }
      }
    }
    return out
  }

  /// Six significant digits, enough to reproduce the fit's predictions to 10⁻⁵.
  static func number(_ x: Double) -> String {
    String(format: "%.6g", x)
  }

  static func value(_ x: Double, _ knob: CalibrationKnob) -> String {
    knob == .host ? Format.fixed(x * 1e6, 3) + " µs" : Format.fixed(x, 4)
  }

  static func seconds(_ s: Double) -> String { RunExplanationReport.seconds(s) }
  static func signed(_ x: Double) -> String { RunExplanationReport.signed(x, digits: 2) }
}
