/// "Did you mean" suggestions for misspelled keys, values and flags.
public enum Suggestion {
  /// Levenshtein distance, bounded: returns `limit + 1` as soon as the distance must exceed it,
  /// so long inputs cost O(n·limit)-ish and never more than O(n·m).
  public static func distance(_ a: String, _ b: String, limit: Int = 2) -> Int {
    var rows = Rows()
    return distance(
      Array(a.unicodeScalars.lazy.map(\.value)), Array(b.unicodeScalars.lazy.map(\.value)),
      limit: limit, rows: &rows)
  }

  /// Two rows of the distance table, kept between calls so comparing one word with many
  /// candidates allocates them once.
  struct Rows {
    var previous: [Int] = []
    var current: [Int] = []
    /// ASCII letter counts of the word, and scratch space for a candidate's.
    var counts = [Int](repeating: 0, count: 128)
    var scratch = [Int](repeating: 0, count: 128)
  }

  /// A lower bound of the edit distance between the word (whose ASCII counts are in
  /// `rows.counts`) and an ASCII candidate, from the characters one has more of than the other:
  /// an edit changes each side's surplus by at most one.
  static func countBound<Y: Collection>(_ y: Y, wordLength: Int, rows: inout Rows) -> Int
  where Y.Element == UInt32 {
    // `scratch` is all zeros between calls. A candidate character beyond the word's count of it
    // is unmatched; the word's unmatched characters follow from the matched ones.
    var unmatched = 0
    for c in y {
      let k = Int(c & 0x7F)
      rows.scratch[k] += 1
      if rows.scratch[k] > rows.counts[k] { unmatched += 1 }
    }
    for c in y { rows.scratch[Int(c & 0x7F)] = 0 }
    let matched = y.count - unmatched
    return max(unmatched, wordLength - matched)
  }

  static func distance<Y: RandomAccessCollection>(
    _ x: [UInt32], _ y: Y, limit: Int, rows: inout Rows
  ) -> Int where Y.Element == UInt32, Y.Index == Int {
    if abs(x.count - y.count) > limit { return limit + 1 }
    if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
    if rows.previous.count < y.count + 1 {
      rows.previous = [Int](repeating: 0, count: y.count + 1)
      rows.current = rows.previous
    }
    for j in 0...y.count { rows.previous[j] = j }
    let base = y.startIndex
    for i in 1...x.count {
      rows.current[0] = i
      var rowMin = i
      for j in 1...y.count {
        let cost = x[i - 1] == y[base + j - 1] ? 0 : 1
        let value = min(rows.previous[j] + 1, rows.current[j - 1] + 1, rows.previous[j - 1] + cost)
        rows.current[j] = value
        rowMin = min(rowMin, value)
      }
      if rowMin > limit { return limit + 1 }
      swap(&rows.previous, &rows.current)
    }
    return rows.previous[y.count]
  }

  /// Lower-cased Unicode scalar values (ASCII without building a new string).
  static func folded(_ s: String) -> [UInt32] {
    var out: [UInt32] = []
    out.reserveCapacity(s.utf8.count)
    for byte in s.utf8 {
      guard byte < 0x80 else { return s.lowercased().unicodeScalars.map(\.value) }
      out.append(UInt32(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte))
    }
    return out
  }

  /// The closest candidate within `limit` edits, if any (ties: the first in `candidates`).
  /// Case-insensitive. A candidate whose length alone rules it out costs no allocation, so one
  /// word against a fixed list of names is cheap (it runs once per unknown key).
  public static func closest(to word: String, in candidates: [String], limit: Int = 2) -> String? {
    let x = folded(word)
    var rows = Rows()
    let asciiWord = x.allSatisfy { $0 < 0x80 }
    if asciiWord { for c in x { rows.counts[Int(c)] += 1 } }
    var best: (String, Int)? = nil
    for c in candidates {
      let d: Int
      if let ascii = c.utf8.withContiguousStorageIfAvailable({ bytes -> Int? in
        // An ASCII candidate, compared in place: no copy, and ruled out by length for free.
        guard !bytes.contains(where: { $0 >= 0x80 }) else { return nil }
        if abs(bytes.count - x.count) > limit { return limit + 1 }
        let lowered = bytes.lazy.map { UInt32($0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0) }
        if asciiWord && countBound(lowered, wordLength: x.count, rows: &rows) > limit {
          return limit + 1
        }
        return distance(x, lowered, limit: limit, rows: &rows)
      }), let known = ascii {
        d = known
      } else {
        d = distance(x, folded(c), limit: limit, rows: &rows)
      }
      if d <= limit, d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    return best?.0
  }

  /// The one candidate that starts with `word` (case-insensitively), when exactly one does and
  /// `word` has at least two characters: `h100` for `h100-sxm`.
  public static func onlyCompletion(of word: String, in candidates: [String]) -> String? {
    let lower = word.lowercased()
    guard lower.count >= 2 else { return nil }
    let matches = candidates.filter { $0.lowercased().hasPrefix(lower) }
    return matches.count == 1 ? matches.first : nil
  }

  /// "; did you mean 'x'?" or "": the closest candidate within `limit` edits, else the only
  /// candidate that completes `word`.
  public static func didYouMean(_ word: String, in candidates: [String], limit: Int = 2) -> String {
    let match =
      closest(to: word, in: candidates, limit: limit) ?? onlyCompletion(of: word, in: candidates)
    return match.map { "; did you mean '\($0)'?" } ?? ""
  }
}
