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

  /// The bounded distance over the band |i − j| ≤ `limit` of the table (Ukkonen): a cell
  /// outside it is more than `limit` edits away, so each row costs 2·limit + 1 cells, not |y|.
  static func distance<Y: RandomAccessCollection>(
    _ x: [UInt32], _ y: Y, limit: Int, rows: inout Rows
  ) -> Int where Y.Element == UInt32, Y.Index == Int {
    let n = x.count, m = y.count
    if abs(n - m) > limit { return limit + 1 }
    if n == 0 || m == 0 { return max(n, m) }
    let big = limit + 1
    if rows.previous.count < m + 2 {
      rows.previous = [Int](repeating: 0, count: m + 2)
      rows.current = rows.previous
    }
    for j in 0...m { rows.previous[j] = min(j, big) }
    let base = y.startIndex
    for i in 1...n {
      let lo = max(1, i - limit), hi = min(m, i + limit)
      rows.current[0] = min(i, big)
      var rowMin = lo == 1 ? rows.current[0] : big
      if lo > 1 { rows.current[lo - 1] = big }
      let xi = x[i - 1]
      for j in lo...hi {
        let cost = xi == y[base + j - 1] ? 0 : 1
        let value = min(
          rows.previous[j] + 1, rows.current[j - 1] + 1, rows.previous[j - 1] + cost, big)
        rows.current[j] = value
        rowMin = min(rowMin, value)
      }
      if hi < m { rows.current[hi + 1] = big }
      if rowMin > limit { return big }
      swap(&rows.previous, &rows.current)
    }
    return min(rows.previous[m], big)
  }

  /// One bit per character (its scalar mod 64).
  static func mask(_ x: [UInt32]) -> UInt64 {
    var m: UInt64 = 0
    for c in x { m |= 1 << UInt64(c & 63) }
    return m
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

  /// `closest(to:in:limit:)` against a fixed list of candidates, prepared once: each
  /// candidate lower-cased into scalars beside its ASCII letter counts, so that one word against
  /// the list folds only the word (what the misspelling check runs once per unknown key, over the
  /// known keys of nearby length). Same answers as `closest(to:in:limit:)`.
  public struct Matcher: Sendable {
    let names: [String]
    /// Every candidate lower-cased into scalars, end to end; candidate i is
    /// `scalars[bounds[i]..<bounds[i + 1]]`.
    let scalars: [UInt32]
    let bounds: [Int]
    /// Each ASCII candidate's distinct characters and their counts, end to end as (character,
    /// count) pairs: candidate i's are `letters[letterBounds[i]..<letterBounds[i + 1]]`;
    /// `ascii[i]` false when it has a non-ASCII character.
    let letters: [Int]
    let letterBounds: [Int]
    let ascii: [Bool]
    /// The characters each candidate has, one bit per character mod 64: a candidate with more
    /// than `limit` characters the word lacks needs more than `limit` edits (a shared bit only
    /// weakens the bound), which two instructions tell.
    let masks: [UInt64]

    public init(_ candidates: [String]) {
      names = candidates
      var scalars: [UInt32] = [], bounds = [0], letters: [Int] = [], letterBounds = [0]
      var ascii: [Bool] = []
      var masks: [UInt64] = []
      var counts = [Int](repeating: 0, count: 128)
      for candidate in candidates {
        let y = Suggestion.folded(candidate)
        masks.append(Suggestion.mask(y))
        scalars += y
        bounds.append(scalars.count)
        let isASCII = y.allSatisfy { $0 < 0x80 }
        ascii.append(isASCII)
        if isASCII {
          for c in y { counts[Int(c)] += 1 }
          for c in Set(y) {
            letters += [Int(c), counts[Int(c)]]
            counts[Int(c)] = 0
          }
        }
        letterBounds.append(letters.count)
      }
      self.scalars = scalars
      self.bounds = bounds
      self.letters = letters
      self.letterBounds = letterBounds
      self.ascii = ascii
      self.masks = masks
    }

    public func closest(to word: String, limit: Int = 2) -> String? {
      var rows = Rows()
      return closest(to: word, limit: limit, rows: &rows)
    }

    /// `closest(to:limit:)` with the distance rows and letter counts of an earlier call reused
    /// (the counts are all zero again when it returns).
    func closest(to word: String, limit: Int, rows: inout Rows) -> String? {
      let x = Suggestion.folded(word)
      let asciiWord = x.allSatisfy { $0 < 0x80 }
      if asciiWord { for c in x { rows.counts[Int(c)] += 1 } }
      defer { if asciiWord { for c in x { rows.counts[Int(c)] = 0 } } }
      let wordMask = Suggestion.mask(x)
      var best: (Int, Int)? = nil
      for i in 0..<names.count {
        if (masks[i] & ~wordMask).nonzeroBitCount > limit { continue }
        let length = bounds[i + 1] - bounds[i]
        if abs(length - x.count) > limit { continue }
        if asciiWord && ascii[i] {
          // `countBound` from the prepared counts: the characters both share, and what each
          // has beyond them, bound the edits from below.
          var matched = 0
          var k = letterBounds[i]
          while k < letterBounds[i + 1] {
            matched += min(letters[k + 1], rows.counts[letters[k]])
            k += 2
          }
          if max(length - matched, x.count - matched) > limit { continue }
        }
        let d = distance(x, scalars[bounds[i]..<bounds[i + 1]], limit: limit, rows: &rows)
        if d <= limit, d < (best?.1 ?? Int.max) { best = (i, d) }
      }
      return best.map { names[$0.0] }
    }
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
