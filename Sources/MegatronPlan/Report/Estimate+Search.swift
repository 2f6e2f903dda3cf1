extension LayoutSearch.Result {
  /// `megaplan search --format json`: counts, the reason, and each candidate's full estimate
  /// (the `estimate` schema); sorted snake_case keys, byte-stable.
  public func json() throws -> String {
    /// Each candidate is the `estimate` JSON object plus `rank` (and `meets_deadline`).
    struct CandidateJSON: Encodable {
      var rank: Int
      var meetsDeadline: Bool?
      var estimate: Estimate
      enum Keys: String, CodingKey { case rank, meetsDeadline }
      func encode(to encoder: any Encoder) throws {
        try estimate.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(rank, forKey: .rank)
        try c.encodeIfPresent(meetsDeadline, forKey: .meetsDeadline)
      }
    }
    struct Document: Encodable {
      var objective: String
      var evaluated: Int
      var layouts: Int
      var feasible: Int
      var rejected: [String: Int]
      var gpuCounts: [Int]
      var reason: String?
      var candidates: [CandidateJSON]
    }
    let doc = Document(
      objective: objective.rawValue, evaluated: evaluated, layouts: layouts, feasible: feasible,
      rejected: Dictionary(uniqueKeysWithValues: rejected.map { ($0.key.rawValue, $0.value) }),
      gpuCounts: gpuCounts,
      reason: reason,
      candidates: candidates.map {
        CandidateJSON(rank: $0.rank, meetsDeadline: $0.meetsDeadline, estimate: $0.estimate)
      })
    return try JSONOutput.encode(doc)
  }
}

extension LayoutSearch.Candidate {
  /// The candidate's estimate (the `estimate` schema of its evaluation).
  public var estimate: Estimate { Estimate(evaluation) }
}

extension Comparison.Row {
  /// The row's estimate (the `estimate` schema of its evaluation).
  public var estimate: Estimate { Estimate(evaluation) }
}

extension Remedy {
  /// The changed run's estimate.
  public var estimate: Estimate { Estimate(evaluation) }
}

extension NodeScaling.Row {
  /// The row's estimate; nil when skipped.
  public var estimate: Estimate? { evaluation.map(Estimate.init) }
}
