import Foundation

/// Fixed number formatting for text reports, so output is deterministic and diffable.
public enum Format {
  public static func fixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
    return String(format: "%.\(digits)f", x)
  }
  public static func gib(_ bytes: Double) -> String { fixed(bytes / 1_073_741_824, 2) + " GiB" }
  public static func mib(_ bytes: Double) -> String { fixed(bytes / 1_048_576, 1) + " MiB" }
  public static func percent(_ fraction: Double, _ digits: Int = 1) -> String {
    fixed(fraction * 100, digits) + "%"
  }
  public static func seconds(_ s: Double) -> String {
    if s >= 1 { return fixed(s, 2) + " s" }
    if s >= 1e-3 { return fixed(s * 1e3, 2) + " ms" }
    return fixed(s * 1e6, 1) + " µs"
  }
  /// Integer with thousands separators: 1,536.
  public static func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.reversed().enumerated() {
      if i > 0 && i % 3 == 0 { out.append(",") }
      out.append(c)
    }
    return (n < 0 ? "-" : "") + String(out.reversed())
  }
  /// A count held in a Double, rounded, with separators; beyond 10^15 (or not finite) in
  /// scientific notation, so no value can trap the conversion to Int.
  public static func grouped(
    _ x: Double, rounding rule: FloatingPointRoundingRule = .toNearestOrAwayFromZero
  ) -> String {
    guard x.isFinite, abs(x) < 1e15 else { return String(format: "%.3g", x) }
    return grouped(Int(x.rounded(rule)))
  }
  /// 174.6 B, 13.1 M …
  public static func count(_ x: Double) -> String {
    if x >= 1e12 { return fixed(x / 1e12, 2) + " T" }
    if x >= 1e9 { return fixed(x / 1e9, 1) + " B" }
    if x >= 1e6 { return fixed(x / 1e6, 1) + " M" }
    return fixed(x, 0)
  }
  /// FLOPs with an SI prefix: 1.42 EFLOP.
  public static func flops(_ x: Double) -> String {
    let units: [(Double, String)] = [
      (1e18, "EFLOP"), (1e15, "PFLOP"), (1e12, "TFLOP"), (1e9, "GFLOP"),
    ]
    for (scale, name) in units where x >= scale { return fixed(x / scale, 2) + " " + name }
    return fixed(x, 0) + " FLOP"
  }
  public static func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
  }
  public static func left(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
  }
}
