/// `megaplan serve --rate … --chart OUT.svg`: the throughput–latency curve of one replica under
/// continuous batching, as serving benchmarks plot it: time per output token and time to first
/// token against output tokens per second per GPU, one point per rate up to the replica's
/// saturation, the latency target as dashed lines and the operating point ringed.
/// Self-contained like `ComparisonChart`, whose escaping and axis helpers it shares.
public enum ServeCurveChart {
  public static func svg(
    _ curve: [LoadPoint], operating: LoadPoint?, slo: ServiceLevel?, title: String
  ) -> String {
    let f = ComparisonChart.fmt
    let esc = ComparisonChart.escape
    let panelWidth = 420.0, panelHeight = 280.0, top = 70.0, left = 80.0, gap = 110.0
    let width = left + panelWidth * 2 + gap + 30, height = top + panelHeight + 90
    var s: [String] = []
    s.append(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">"
    )
    s.append("<title>\(esc(title))</title>")
    s.append(
      "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"white\"/>")
    s.append(
      "<text x=\"\(Int(width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(esc(title))</text>"
    )
    let xs = curve.map(\.tokensPerSecondPerGPU)
    let xMax = ComparisonChart.niceCeiling(
      max(xs.max() ?? 1, operating?.tokensPerSecondPerGPU ?? 0))
    s += panel(
      x: left, y: top, width: panelWidth, height: panelHeight, xs: xs,
      ys: curve.map { $0.tpot * 1e3 }, xMax: xMax, target: slo?.tpotSeconds.map { $0 * 1e3 },
      operating: operating.map { ($0.tokensPerSecondPerGPU, $0.tpot * 1e3) },
      title: "Time per output token", axis: "ms", color: "#4e79a7")
    s += panel(
      x: left + panelWidth + gap, y: top, width: panelWidth, height: panelHeight, xs: xs,
      ys: curve.map { $0.ttft * 1e3 }, xMax: xMax, target: slo?.ttftSeconds.map { $0 * 1e3 },
      operating: operating.map { ($0.tokensPerSecondPerGPU, $0.ttft * 1e3) },
      title: "Time to first token", axis: "ms", color: "#e15759")
    s.append(
      "<text x=\"\(f(left))\" y=\"\(f(height - 10))\" fill=\"#555\">output tokens per second per GPU (one point per request rate, up to the replica's saturation; dashed: the target; ringed: the operating point)</text>"
    )
    s.append("</svg>")
    return s.joined(separator: "\n") + "\n"
  }

  /// One panel: numeric x from 0 to `xMax`, y from 0 to a nice ceiling of the values and the
  /// target, 5 ticks each, the points joined by a line.
  static func panel(
    x: Double, y: Double, width: Double, height: Double, xs: [Double], ys: [Double],
    xMax: Double, target: Double?, operating: (Double, Double)?, title: String, axis: String,
    color: String
  ) -> [String] {
    let f = ComparisonChart.fmt
    let yMax = ComparisonChart.niceCeiling(max(ys.max() ?? 1, target ?? 0, operating?.1 ?? 0))
    func px(_ v: Double) -> Double { x + width * (xMax > 0 ? v / xMax : 0) }
    func py(_ v: Double) -> Double { y + height * (1 - (yMax > 0 ? v / yMax : 0)) }
    var s = ComparisonChart.frame(
      x: x, y: y, width: width, height: height, maxValue: yMax, title: title, axis: axis,
      axisOffset: 52)
    for i in 0...5 {
      let u = xMax * Double(i) / 5, tx = px(u)
      s.append(
        "<line x1=\"\(f(tx))\" y1=\"\(f(y + height))\" x2=\"\(f(tx))\" y2=\"\(f(y + height + 4))\" stroke=\"black\"/>"
      )
      s.append(
        "<text x=\"\(f(tx))\" y=\"\(f(y + height + 16))\" text-anchor=\"middle\">\(Format.fixed(u, u < 10 ? 1 : 0))</text>"
      )
    }
    if let target {
      let ty = py(target)
      s.append(
        "<line class=\"target\" x1=\"\(f(x))\" y1=\"\(f(ty))\" x2=\"\(f(x + width))\" y2=\"\(f(ty))\" stroke=\"#888\" stroke-dasharray=\"6 4\"/>"
      )
      s.append(
        "<text x=\"\(f(x + width - 4))\" y=\"\(f(ty - 4))\" text-anchor=\"end\" fill=\"#555\">target \(Format.fixed(target, 1)) ms</text>"
      )
    }
    let points = zip(xs, ys).map { (px($0), py($1)) }
    if points.count > 1 {
      s.append(
        "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))\"/>"
      )
    }
    for (i, point) in points.enumerated() {
      s.append(
        "<circle cx=\"\(f(point.0))\" cy=\"\(f(point.1))\" r=\"3.5\" fill=\"\(color)\"><title>\(Format.fixed(xs[i], 0)) tok/s/GPU: \(Format.fixed(ys[i], 2)) ms</title></circle>"
      )
    }
    if let (ox, oy) = operating {
      s.append(
        "<circle class=\"operating\" cx=\"\(f(px(ox)))\" cy=\"\(f(py(oy)))\" r=\"7\" fill=\"none\" stroke=\"black\" stroke-width=\"1.5\"><title>operating point: \(Format.fixed(ox, 0)) tok/s/GPU, \(Format.fixed(oy, 2)) ms</title></circle>"
      )
    }
    s.append("</g>")
    return s
  }
}
