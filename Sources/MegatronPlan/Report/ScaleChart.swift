/// `megaplan scale --chart`: an SVG of days to train (tokens per second without a token budget)
/// and scaling efficiency against GPUs, one point per node count that has a layout, in the manner
/// of the launcher's throughput charts. Self-contained like `ComparisonChart`, whose axis, legend
/// and escaping helpers it shares.
public enum ScaleChart {
  public static func svg(_ table: NodeScaling.Table, title: String) -> String {
    let rows = table.rows.filter { $0.estimate != nil }
    let panelWidth = 420.0, panelHeight = 280.0, top = 70.0, left = 80.0, gap = 110.0
    let width = left + panelWidth * 2 + gap + 30, height = top + panelHeight + 90
    let labels = rows.map { Format.grouped($0.gpus) }
    let days = rows.compactMap { $0.estimate?.training.days }
    let useDays = days.count == rows.count && !rows.isEmpty
    let left1 =
      useDays ? days : rows.compactMap { $0.estimate?.throughput.tokensPerSecond }.map { $0 / 1e6 }
    let efficiency = rows.map { ($0.efficiency ?? 0) * 100 }
    var s: [String] = []
    s.append(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">"
    )
    s.append("<title>\(ComparisonChart.escape(title))</title>")
    s.append(
      "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"white\"/>")
    s.append(
      "<text x=\"\(Int(width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(ComparisonChart.escape(title))</text>"
    )
    let tokens = table.tokens.map { Format.count($0) + " tokens" } ?? ""
    s += linePanel(
      x: left, y: top, width: panelWidth, height: panelHeight, values: left1, labels: labels,
      maxValue: ComparisonChart.niceCeiling(left1.max() ?? 1),
      title: useDays ? "Days to train \(tokens)" : "Throughput",
      axis: useDays ? "days" : "million tokens per second", color: "#4e79a7", reference: nil)
    s += linePanel(
      x: left + panelWidth + gap, y: top, width: panelWidth, height: panelHeight,
      values: efficiency, labels: labels,
      // Room above the 100 % line for the labels: the next multiple of 20 above 110 %.
      maxValue: 20 * (max(110, efficiency.max() ?? 100) / 20).rounded(.up),
      title: "Scaling efficiency (tokens/s per GPU)", axis: "% of the smallest count",
      color: "#e15759", reference: 100)
    s.append(
      "<text x=\"\(ComparisonChart.fmt(left))\" y=\"\(ComparisonChart.fmt(height - 10))\" fill=\"#555\">GPUs (\(table.mode == .search ? "fastest layout that fits at each count" : "the file's layout, d following the count"))</text>"
    )
    s.append("</svg>")
    return s.joined(separator: "\n") + "\n"
  }

  /// One panel: y axis from 0 to `maxValue` with 5 ticks, points evenly spaced over the labels,
  /// joined by a line; a dashed line at `reference`.
  static func linePanel(
    x: Double, y: Double, width: Double, height: Double, values: [Double], labels: [String],
    maxValue: Double, title: String, axis: String, color: String, reference: Double?
  ) -> [String] {
    let f = ComparisonChart.fmt
    let esc = ComparisonChart.escape
    var s = ComparisonChart.frame(
      x: x, y: y, width: width, height: height, maxValue: maxValue, title: title, axis: axis,
      axisOffset: 52)
    if let reference, maxValue > 0 {
      let ry = y + height * (1 - reference / maxValue)
      s.append(
        "<line class=\"reference\" x1=\"\(f(x))\" y1=\"\(f(ry))\" x2=\"\(f(x + width))\" y2=\"\(f(ry))\" stroke=\"#888\" stroke-dasharray=\"6 4\"/>"
      )
    }
    let n = max(1, values.count)
    let slot = width / Double(n)
    let points = values.enumerated().map { i, v in
      (x + slot * (Double(i) + 0.5), y + height * (1 - (maxValue > 0 ? v / maxValue : 0)))
    }
    if points.count > 1 {
      s.append(
        "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))\"/>"
      )
    }
    for (i, point) in points.enumerated() {
      s.append(
        "<circle cx=\"\(f(point.0))\" cy=\"\(f(point.1))\" r=\"3.5\" fill=\"\(color)\"><title>\(esc(labels[i])) GPUs: \(Format.fixed(values[i], 2))</title></circle>"
      )
      s.append(
        "<text x=\"\(f(point.0))\" y=\"\(f(point.1 - 8))\" text-anchor=\"middle\">\(Format.fixed(values[i], values[i] < 10 ? 2 : 1))</text>"
      )
      s.append(
        "<text x=\"\(f(point.0))\" y=\"\(f(y + height + 16))\" text-anchor=\"middle\">\(esc(labels[i]))</text>"
      )
    }
    s.append("</g>")
    return s
  }
}
