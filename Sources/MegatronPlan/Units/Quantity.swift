/// Physical quantities as value types, so a byte count cannot be added to a FLOP count and a
/// report never has to guess a unit. Backed by `Double`: every count megaplan produces is far
/// below 2^53, so integer-valued results (bytes of a layer, parameters) are exact.
public protocol QuantityUnit: Sendable {
  static var symbol: String { get }
}

public struct Quantity<Unit: QuantityUnit>: Sendable, Hashable, Comparable, Codable,
  CustomStringConvertible
{
  public var value: Double

  @inlinable public init(_ value: Double) { self.value = value }
  @inlinable public init(_ value: Int) { self.value = Double(value) }

  public static var zero: Self { Self(0.0) }

  public init(from decoder: any Decoder) throws {
    value = try decoder.singleValueContainer().decode(Double.self)
  }
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(value)
  }

  @inlinable public static func < (l: Self, r: Self) -> Bool { l.value < r.value }
  @inlinable public static func + (l: Self, r: Self) -> Self { Self(l.value + r.value) }
  @inlinable public static func - (l: Self, r: Self) -> Self { Self(l.value - r.value) }
  @inlinable public static func += (l: inout Self, r: Self) { l.value += r.value }
  @inlinable public static func * (l: Self, r: Double) -> Self { Self(l.value * r) }
  @inlinable public static func * (l: Double, r: Self) -> Self { Self(l * r.value) }
  @inlinable public static func / (l: Self, r: Double) -> Self { Self(l.value / r) }
  /// The ratio of two like quantities is a plain number.
  @inlinable public static func / (l: Self, r: Self) -> Double { l.value / r.value }

  public var description: String { "\(value) \(Unit.symbol)" }
}

extension Sequence {
  /// Sum of quantities, for breakdowns.
  @inlinable public func sum<U>() -> Quantity<U> where Element == Quantity<U> {
    reduce(Quantity<U>.zero, +)
  }
}

public enum ByteUnit: QuantityUnit { public static let symbol = "B" }
public enum FLOPUnit: QuantityUnit { public static let symbol = "FLOP" }
public enum SecondUnit: QuantityUnit { public static let symbol = "s" }
public enum ByteRateUnit: QuantityUnit { public static let symbol = "B/s" }
public enum FLOPRateUnit: QuantityUnit { public static let symbol = "FLOP/s" }

public typealias Bytes = Quantity<ByteUnit>
public typealias FLOPs = Quantity<FLOPUnit>
public typealias Seconds = Quantity<SecondUnit>
public typealias BytesPerSecond = Quantity<ByteRateUnit>
public typealias FLOPsPerSecond = Quantity<FLOPRateUnit>

@inlinable public func / (bytes: Bytes, rate: BytesPerSecond) -> Seconds {
  Seconds(bytes.value / rate.value)
}
@inlinable public func / (work: FLOPs, rate: FLOPsPerSecond) -> Seconds {
  Seconds(work.value / rate.value)
}
@inlinable public func / (work: FLOPs, time: Seconds) -> FLOPsPerSecond {
  FLOPsPerSecond(work.value / time.value)
}

extension Quantity where Unit == ByteUnit {
  /// 2^30 bytes. Binary prefixes are spelled GiB; decimal GB only where a datasheet means it.
  public static func gibibytes(_ n: Double) -> Bytes { Bytes(n * 1_073_741_824) }
  /// Decimal gigabytes, as datasheets give HBM capacities (141 GB).
  public static func gigabytes(_ n: Double) -> Bytes { Bytes(n * 1e9) }
  public var gibibytes: Double { value / 1_073_741_824 }
}

extension Quantity where Unit == ByteRateUnit {
  /// Decimal gigabytes per second, as datasheets state bandwidth.
  public static func gigabytesPerSecond(_ n: Double) -> BytesPerSecond { BytesPerSecond(n * 1e9) }
}

extension Quantity where Unit == FLOPRateUnit {
  public static func teraFLOPs(_ n: Double) -> FLOPsPerSecond { FLOPsPerSecond(n * 1e12) }
  public var teraFLOPs: Double { value / 1e12 }
}
