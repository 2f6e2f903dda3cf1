import MegatronPlan

extension ParsedArguments {
  /// `--recompute none,selective,full` as a set of granularities, with `search`'s message for a
  /// bad word (`SearchCommand` parses its own option the same way).
  func recomputeSet(_ name: String = "--recompute") throws -> Set<LayoutSearch.Granularity>? {
    guard let list = value(name) else { return nil }
    var set = Set<LayoutSearch.Granularity>()
    for word in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
      guard let g = LayoutSearch.Granularity(rawValue: word) else {
        throw UsageError(
          message:
            "option '\(name)' expects a comma list of none, selective, full; found '\(word)'\(Suggestion.didYouMean(word, in: ["none", "selective", "full"]))"
        )
      }
      set.insert(g)
    }
    return set
  }
}
