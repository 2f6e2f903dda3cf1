/// The one rule for "fits": a run fits when the most loaded GPU's modeled peak (`PeakMemory`:
/// what the device holds at the step's peak, CUDA context, NCCL buffers and allocator slack
/// included) is at most the usable part of its memory, capacity × `usableFraction`.
/// `estimate`, `compare`, `check`, `search`, the remedies and the SVG capacity line all ask this
/// type, so a layout that one command calls fitting no other command calls too big.
///
/// The default fraction is 1.0: the peak already holds what a headroom used to stand for. A
/// team that wants a margin for what no mechanism models (a data loader's pinned buffers, a
/// profiler) sets it with `megaplan.max_memory_fraction` in a config (every command) or
/// `--max-memory-fraction` (`check`, `search`; the option wins over the file).
public struct MemoryBudget: Sendable, Hashable, Codable {
  /// Fraction of the GPU's memory a run may use, in (0, 1].
  public var usableFraction: Double

  /// 1.0: see the type's note.
  public static let defaultFraction = 1.0
  public static let standard = MemoryBudget(usableFraction: defaultFraction)

  public init(usableFraction: Double = MemoryBudget.defaultFraction) {
    self.usableFraction = usableFraction
  }

  /// Whether `fraction` is a usable fraction: a number in (0, 1].
  public static func isValid(_ fraction: Double) -> Bool {
    fraction.isFinite && fraction > 0 && fraction <= 1
  }

  /// The bytes a run may use on a GPU of `capacity` bytes.
  public func usableBytes(capacity: Double) -> Double { capacity * usableFraction }

  /// The rule: `total` bytes fit on a GPU of `capacity` bytes.
  public func fits(total: Double, capacity: Double) -> Bool {
    total <= usableBytes(capacity: capacity)
  }
}
