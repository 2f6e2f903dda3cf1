/// The cluster constants `megaplan calibrate` fits, each a multiplier on a group of
/// `PerformanceConstants` fields that share one cause: GEMM efficiency per precision, network
/// efficiency per link class (NVLink inside a domain, the NICs between domains), host time per
/// kernel. The multiplier is 1 at the run's own constants; the fitted profile writes the fields'
/// new values (`profileKeys`), which `megaplan.hardware` reads back.
public enum CalibrationKnob: String, Sendable, Hashable, Codable, CaseIterable,
  CustomStringConvertible
{
  /// 16-bit (BF16/FP16) weight GEMMs: `gemmEfficiency`.
  case gemm
  /// FP8 GEMMs: `fp8GEMMEfficiency`.
  case fp8GEMM = "fp8-gemm"
  /// NVFP4 GEMMs: `fp4GEMMEfficiency`.
  case fp4GEMM = "fp4-gemm"
  /// NVLink inside a domain: `nvlinkEfficiency` (rings, the link model) and `nvlsEfficiency`
  /// (NVLink SHARP), scaled together.
  case nvlink
  /// The network between domains: `collectiveNICEfficiency` (NCCL's collectives) and
  /// `interNodeEfficiency` (point-to-point and the link model), scaled together.
  case network
  /// CPU time to launch one kernel: `hostSecondsPerKernel`.
  case host

  public var description: String { rawValue }

  /// The `megaplan.hardware` keys this knob writes, with the field each sets.
  public var profileKeys: [(key: String, field: WritableKeyPath<PerformanceConstants, Double>)] {
    switch self {
    case .gemm: [("gemm_efficiency", \.gemmEfficiency)]
    case .fp8GEMM: [("fp8_gemm_efficiency", \.fp8GEMMEfficiency)]
    case .fp4GEMM: [("fp4_gemm_efficiency", \.fp4GEMMEfficiency)]
    case .nvlink:
      [("nvlink_efficiency", \.nvlinkEfficiency), ("nvls_efficiency", \.nvlsEfficiency)]
    case .network:
      [
        ("network_efficiency", \.collectiveNICEfficiency),
        ("internode_link_efficiency", \.interNodeEfficiency),
      ]
    case .host: [("host_seconds_per_kernel", \.hostSecondsPerKernel)]
    }
  }

  /// The field the knob is named by (the first of `profileKeys`).
  public var primary: WritableKeyPath<PerformanceConstants, Double> { profileKeys[0].field }
  public var primaryKey: String { profileKeys[0].key }

  /// Whether a larger multiplier makes the step faster (an efficiency) or slower (a time).
  public var speedsUp: Bool { self != .host }

  /// `constants` with the knob's fields multiplied by `multiplier`.
  public func applying(_ multiplier: Double, to constants: PerformanceConstants)
    -> PerformanceConstants
  {
    var c = constants
    for (_, field) in profileKeys { c[keyPath: field] *= multiplier }
    return c
  }

  /// The most the knob's primary field can physically be: an efficiency cannot pass the
  /// datasheet's peak or line rate (1); the host's time per kernel has no upper bound. NVLS's
  /// bus bandwidth passes the NVLink bandwidth by the switch's reduction (480 of 450 GB/s on
  /// H100), so only the primary field is bounded.
  public var physicalMaximum: Double? { self == .host ? nil : 1 }

  /// The knob a run's GEMMs of `precision` use: FP8 and NVFP4 runs' linear layers run at their
  /// own rate, the rest at the 16-bit one.
  public static func gemm(for recipe: FP8Training.Recipe?) -> CalibrationKnob {
    switch recipe {
    case nil: .gemm
    case .nvfp4?: .fp4GEMM
    default: .fp8GEMM
    }
  }

  /// Reads a knob by its name or by one of its profile keys.
  public static func named(_ name: String) -> CalibrationKnob? {
    let key = name.lowercased().replacingOccurrences(of: "_", with: "-")
    return allCases.first { knob in
      knob.rawValue == key
        || knob.profileKeys.contains { $0.key.replacingOccurrences(of: "_", with: "-") == key }
    }
  }
}
