/// A quantity split into named terms, in a fixed order, so reports and `--explain`-style output
/// can show where each byte, FLOP or second comes from.
public struct Breakdown<Unit: QuantityUnit>: Sendable, Hashable, Codable {
  public struct Term: Sendable, Hashable, Codable {
    public var name: String
    public var value: Quantity<Unit>
    public init(_ name: String, _ value: Quantity<Unit>) {
      self.name = name
      self.value = value
    }
  }

  public var terms: [Term]

  public init(_ terms: [Term] = []) { self.terms = terms }

  public var total: Quantity<Unit> {
    var sum = Quantity<Unit>.zero
    for term in terms { sum += term.value }
    return sum
  }

  /// The term `key` names (zero when absent): reads go through a typed key, so a misspelt
  /// term does not compile.
  public subscript<Key: BreakdownKey>(key: Key) -> Quantity<Unit> { self[named: key.rawValue] }

  /// The term of this name (zero when absent). For tests and for names only known at run time
  /// (a JSON document's); library code reads through `BreakdownKey`s.
  subscript(named name: String) -> Quantity<Unit> {
    terms.first { $0.name == name }?.value ?? .zero
  }

  public mutating func add(_ name: String, _ value: Quantity<Unit>) {
    if let i = terms.firstIndex(where: { $0.name == name }) {
      terms[i].value += value
    } else {
      terms.append(Term(name, value))
    }
  }

  /// Adds a term the breakdown does not have yet, without looking for it (builders whose names
  /// are distinct by construction, on the search's hot path).
  mutating func appendNew(_ name: String, _ value: Quantity<Unit>) {
    terms.append(Term(name, value))
  }

  /// Every term multiplied by `factor`.
  public func scaled(by factor: Double) -> Breakdown {
    Breakdown(terms.map { Term($0.name, $0.value * factor) })
  }

  // JSON: an object from term name to value (sorted keys make it byte-stable).
  public init(from decoder: any Decoder) throws {
    let dict = try decoder.singleValueContainer().decode([String: Double].self)
    terms = dict.keys.sorted().map { Term($0, Quantity<Unit>(dict[$0] ?? 0)) }
  }
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    var dict: [String: Double] = [:]
    for term in terms { dict[term.name, default: 0] += term.value.value }
    try container.encode(dict)
  }
}

/// The name of a breakdown term as a type (an enum of a breakdown's terms, raw values the names
/// reports print).
public protocol BreakdownKey: RawRepresentable where RawValue == String {}
