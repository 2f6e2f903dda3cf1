/// A layer's kind: what its description (`LayerDescription(_:_:kind:)`) builds, and the key of
/// every per-kind table (`PerKind`).
///
/// Adding a kind is one case here, one description builder (`LayerDescription(_:_:kind:)`) and
/// one entry of the per-kind tables its costs are computed into (`LayerCosts.table`); the
/// assembly of stages (`StagePlan`) walks the kinds and needs no change
/// (docs/architecture.md works through `mtp`).
public enum LayerKind: Int, Sendable, Hashable, Codable, CaseIterable {
  /// A decoder-only model's layer with a dense MLP.
  case dense
  /// A layer whose MLP is a mixture of experts (`MixtureOfExperts`).
  case moe
  /// An encoder–decoder model's encoder layer (bidirectional self-attention).
  case encoder
  /// An encoder–decoder model's decoder layer (causal self-attention, cross-attention).
  case decoder
  /// The multi-token-prediction layers after the last layer (`MultiTokenPrediction`): they run
  /// on the last stage beside the output layer, not in the stack a pipeline splits.
  case mtp
  /// A dense layer whose self-attention is a sliding window (`AttentionWindow`).
  case slidingDense
  /// An MoE layer whose self-attention is a sliding window.
  case slidingMoE

  /// The kinds a pipeline splits into stages (all but `mtp`).
  public static let stack: [LayerKind] = [
    .dense, .moe, .slidingDense, .slidingMoE, .encoder, .decoder,
  ]

  /// The layer's MLP is a mixture of experts.
  public var isMoE: Bool { self == .moe || self == .slidingMoE }
  /// The layer's self-attention is a sliding window.
  public var isSliding: Bool { self == .slidingDense || self == .slidingMoE }
}

/// One value per layer kind: the table every per-kind quantity lives in (layer counts of a
/// stage, a kind's parameters, its costs), so code walks the kinds instead of naming them.
public struct PerKind<Value> {
  public var dense: Value
  public var moe: Value
  public var encoder: Value
  public var decoder: Value
  public var mtp: Value
  public var slidingDense: Value
  public var slidingMoE: Value

  /// Each kind's value from `make`.
  public init(_ make: (LayerKind) throws -> Value) rethrows {
    dense = try make(.dense)
    moe = try make(.moe)
    encoder = try make(.encoder)
    decoder = try make(.decoder)
    mtp = try make(.mtp)
    slidingDense = try make(.slidingDense)
    slidingMoE = try make(.slidingMoE)
  }

  public init(repeating value: Value) {
    (dense, moe, encoder, decoder, mtp) = (value, value, value, value, value)
    (slidingDense, slidingMoE) = (value, value)
  }

  public subscript(kind: LayerKind) -> Value {
    get {
      switch kind {
      case .dense: dense
      case .moe: moe
      case .encoder: encoder
      case .decoder: decoder
      case .mtp: mtp
      case .slidingDense: slidingDense
      case .slidingMoE: slidingMoE
      }
    }
    set {
      switch kind {
      case .dense: dense = newValue
      case .moe: moe = newValue
      case .encoder: encoder = newValue
      case .decoder: decoder = newValue
      case .mtp: mtp = newValue
      case .slidingDense: slidingDense = newValue
      case .slidingMoE: slidingMoE = newValue
      }
    }
  }

  /// The table of `transform` applied to each kind's value.
  public func map<T>(_ transform: (LayerKind, Value) throws -> T) rethrows -> PerKind<T> {
    try PerKind<T> { try transform($0, self[$0]) }
  }
}

extension PerKind: Sendable where Value: Sendable {}
extension PerKind: Equatable where Value: Equatable {}
extension PerKind: Hashable where Value: Hashable {}

/// How many layers of each kind a range of layers or a pipeline stage holds.
public typealias LayerCounts = PerKind<Int>

extension PerKind where Value == Int {
  public init(
    dense: Int = 0, moe: Int = 0, encoder: Int = 0, decoder: Int = 0, mtp: Int = 0,
    slidingDense: Int = 0, slidingMoE: Int = 0
  ) {
    self.dense = dense
    self.moe = moe
    self.encoder = encoder
    self.decoder = decoder
    self.mtp = mtp
    self.slidingDense = slidingDense
    self.slidingMoE = slidingMoE
  }

  /// Layers of the stack's kinds (`LayerKind.stack`).
  public var total: Int { dense + moe + slidingDense + slidingMoE + encoder + decoder }
  /// Layers with a mixture-of-experts MLP (full or sliding-window attention).
  public var moeLayers: Int { moe + slidingMoE }
  /// Layers with a dense MLP in a decoder-only model (full or sliding-window attention).
  public var denseLayers: Int { dense + slidingDense }

  static func + (a: LayerCounts, b: LayerCounts) -> LayerCounts {
    LayerCounts { a[$0] + b[$0] }
  }
}

extension PerKind: CustomStringConvertible {
  public var description: String {
    LayerKind.allCases.map { "\($0): \(self[$0])" }.joined(separator: ", ")
  }
}
