/// The little dense linear algebra a least-squares fit of a handful of constants needs: a square
/// matrix of `Double`s stored by rows, its inverse by Gauss–Jordan elimination with partial
/// pivoting, and the eigenvalues of a symmetric one by Jacobi's rotations (Golub and Van Loan,
/// Matrix Computations, §8.5). Sizes are the number of constants fitted (at most six).
struct SmallMatrix: Sendable, Hashable {
  var n: Int
  var values: [Double]

  init(_ n: Int, _ values: [Double]? = nil) {
    self.n = n
    self.values = values ?? Array(repeating: 0, count: n * n)
  }

  subscript(i: Int, j: Int) -> Double {
    get { values[i * n + j] }
    set { values[i * n + j] = newValue }
  }

  /// AᵀWA for the n × k matrix `a` (rows) and weights `w` (one per row).
  static func normal(_ a: [[Double]], weights w: [Double], columns k: Int) -> SmallMatrix {
    var m = SmallMatrix(k)
    for (row, weight) in zip(a, w) {
      for i in 0..<k {
        for j in 0..<k { m[i, j] += weight * row[i] * row[j] }
      }
    }
    return m
  }

  /// The inverse; nil when a pivot vanishes (relative to the largest entry).
  func inverse() -> SmallMatrix? {
    var a = self
    var inv = SmallMatrix(n)
    for i in 0..<n { inv[i, i] = 1 }
    let scale = values.map(abs).max() ?? 0
    guard scale > 0 else { return nil }
    for col in 0..<n {
      var pivot = col
      for r in col..<n where abs(a[r, col]) > abs(a[pivot, col]) { pivot = r }
      guard abs(a[pivot, col]) > 1e-14 * scale else { return nil }
      if pivot != col {
        for j in 0..<n {
          (a[col, j], a[pivot, j]) = (a[pivot, j], a[col, j])
          (inv[col, j], inv[pivot, j]) = (inv[pivot, j], inv[col, j])
        }
      }
      let p = a[col, col]
      for j in 0..<n {
        a[col, j] /= p
        inv[col, j] /= p
      }
      for r in 0..<n where r != col {
        let f = a[r, col]
        guard f != 0 else { continue }
        for j in 0..<n {
          a[r, j] -= f * a[col, j]
          inv[r, j] -= f * inv[col, j]
        }
      }
    }
    return inv
  }

  /// A·x.
  func times(_ x: [Double]) -> [Double] {
    (0..<n).map { i in (0..<n).reduce(0) { $0 + self[i, $1] * x[$1] } }
  }

  /// The eigenvalues of a symmetric matrix (cyclic Jacobi), ascending.
  func symmetricEigenvalues() -> [Double] {
    var a = self
    for _ in 0..<100 {
      var off = 0.0
      for i in 0..<n { for j in 0..<n where i != j { off += a[i, j] * a[i, j] } }
      if off < 1e-30 { break }
      for p in 0..<n {
        for q in (p + 1)..<n where abs(a[p, q]) > 1e-300 {
          let theta = (a[q, q] - a[p, p]) / (2 * a[p, q])
          let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
          let c = 1 / (t * t + 1).squareRoot()
          let s = t * c
          for k in 0..<n {
            let akp = a[k, p]
            let akq = a[k, q]
            a[k, p] = c * akp - s * akq
            a[k, q] = s * akp + c * akq
          }
          for k in 0..<n {
            let apk = a[p, k]
            let aqk = a[q, k]
            a[p, k] = c * apk - s * aqk
            a[q, k] = s * apk + c * aqk
          }
        }
      }
    }
    return (0..<n).map { a[$0, $0] }.sorted()
  }
}
