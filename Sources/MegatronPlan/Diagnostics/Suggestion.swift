/// "Did you mean" suggestions for misspelled keys, values and flags.
public enum Suggestion {
  /// Levenshtein distance, bounded: returns `limit + 1` as soon as the distance must exceed it,
  /// so long inputs cost O(n·limit)-ish and never more than O(n·m).
  public static func distance(_ a: String, _ b: String, limit: Int = 2) -> Int {
    let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
    if abs(x.count - y.count) > limit { return limit + 1 }
    if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
    var previous = Array(0...y.count)
    var current = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
      current[0] = i
      var rowMin = current[0]
      for j in 1...y.count {
        let cost = x[i - 1] == y[j - 1] ? 0 : 1
        current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        rowMin = min(rowMin, current[j])
      }
      if rowMin > limit { return limit + 1 }
      swap(&previous, &current)
    }
    return previous[y.count]
  }

  /// The closest candidate within `limit` edits, if any (ties: the first in `candidates`).
  public static func closest(to word: String, in candidates: [String], limit: Int = 2) -> String? {
    var best: (String, Int)? = nil
    for c in candidates {
      let d = distance(word.lowercased(), c.lowercased(), limit: limit)
      if d <= limit, d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    return best?.0
  }

  /// "; did you mean 'x'?" or "".
  public static func didYouMean(_ word: String, in candidates: [String], limit: Int = 2) -> String {
    closest(to: word, in: candidates, limit: limit).map { "; did you mean '\($0)'?" } ?? ""
  }
}
