/// `megaplan compare --chart`: an SVG in the spirit of K22 Figures 7 and 8 — per recompute
/// strategy, a stacked bar of per-GPU memory against the capacity line, and a stacked bar of
/// iteration time. Self-contained: no scripts, no external fonts, generic font families only.
public enum ComparisonChart {
  struct Segment {
    var name: String
    var color: String
  }

  static let memorySegments = [
    Segment(name: "weights", color: "#4e79a7"), Segment(name: "gradients", color: "#f28e2b"),
    Segment(name: "optimizer", color: "#59a14f"), Segment(name: "activations", color: "#e15759"),
    Segment(name: "peak extras", color: "#bab0ac"),
  ]
  static let timeSegments = [
    Segment(name: "forward", color: "#4e79a7"), Segment(name: "backward", color: "#76b7b2"),
    Segment(name: "recompute", color: "#e15759"), Segment(name: "communication", color: "#edc948"),
    Segment(name: "bubble + optimizer", color: "#bab0ac"),
  ]

  public static func svg(_ comparison: Comparison, title: String) -> String {
    let rows = comparison.rows
    let panelWidth = 470.0, panelHeight = 300.0, top = 70.0, left = 70.0, gap = 110.0
    let width = left + panelWidth * 2 + gap + 30, height = top + panelHeight + 150
    var s: [String] = []
    s.append(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">"
    )
    s.append("<title>\(escape(title))</title>")
    s.append(
      "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"white\"/>")
    s.append(
      "<text x=\"\(Int(width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(escape(title))</text>"
    )

    // Memory panel.
    // The line is the usable memory (`MemoryBudget`): what "fits" is measured against.
    let capacity = rows.first?.estimate.memory.usableBytes ?? 1
    let fullCapacity = rows.first?.estimate.memory.capacityBytes ?? 1
    let fraction = rows.first?.estimate.memory.usableFraction ?? 1
    let memoryMax = niceCeiling(
      max(capacity, rows.map(\.estimate.memory.peakBytes).max() ?? 0) / 1_073_741_824)
    let memoryValues: [[Double]] = rows.map { r in
      let m = r.estimate.memory
      // The states (with FP8 weight copies) and activations, then what the peak adds.
      let states = m.totalBytes - m.activationsBytes
      let others = states - m.weightsBytes - m.gradientsBytes
      return [
        m.weightsBytes, m.gradientsBytes, others, m.activationsBytes,
        m.peakBytes - m.totalBytes,
      ].map { $0 / 1_073_741_824 }
    }
    s += panel(
      x: left, y: top, width: panelWidth, height: panelHeight, maxValue: memoryMax,
      values: memoryValues,
      labels: rows.map(\.label), recommended: rows.map(\.recommended), segments: memorySegments,
      title: "Memory per GPU, most loaded stage", axis: "GiB per GPU")
    let capY = top + panelHeight * (1 - capacity / 1_073_741_824 / memoryMax)
    s.append(
      "<line class=\"capacity\" x1=\"\(fmt(left))\" y1=\"\(fmt(capY))\" x2=\"\(fmt(left + panelWidth))\" y2=\"\(fmt(capY))\" stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>"
    )
    s.append(
      "<text x=\"\(fmt(left + panelWidth - 4))\" y=\"\(fmt(capY - 4))\" text-anchor=\"end\">usable \(Format.fixed(capacity / 1_073_741_824, 1)) GiB (\(Format.percent(fraction, 0)) of \(Format.fixed(fullCapacity / 1_073_741_824, 1)) GiB)</text>"
    )

    // Time panel.
    let timeValues: [[Double]] = rows.map { r in
      let b = r.estimate.time.breakdown
      typealias T = IterationTime.Term
      let comm = b[T.tensorParallelComm] + b[T.pipelineComm] + b[T.dataParallelComm]
      return [
        b[T.forward].value, b[T.backward].value, b[T.recompute].value, comm.value,
        (b[T.pipelineBubble] + b[T.optimizer]).value,
      ]
    }
    let timeMax = niceCeiling(rows.map(\.estimate.time.iterationSeconds).max() ?? 1)
    s += panel(
      x: left + panelWidth + gap, y: top, width: panelWidth, height: panelHeight, maxValue: timeMax,
      values: timeValues,
      labels: rows.map(\.label), recommended: rows.map(\.recommended), segments: timeSegments,
      title: "Iteration time", axis: "seconds per iteration")

    // Legends.
    s += legend(x: left, y: height - 30, segments: memorySegments)
    s += legend(x: left + panelWidth + gap, y: height - 30, segments: timeSegments)
    s.append(
      "<text x=\"\(fmt(left))\" y=\"\(fmt(height - 10))\" fill=\"#555\">★ recommended: the fastest strategy that fits</text>"
    )
    s.append("</svg>")
    return s.joined(separator: "\n") + "\n"
  }

  static func panel(
    x: Double, y: Double, width: Double, height: Double, maxValue: Double, values: [[Double]],
    labels: [String],
    recommended: [Bool], segments: [Segment], title: String, axis: String
  ) -> [String] {
    var s = frame(
      x: x, y: y, width: width, height: height, maxValue: maxValue, title: title, axis: axis,
      axisOffset: 48)
    let n = max(1, values.count)
    let slot = width / Double(n)
    let barWidth = min(44, slot * 0.6)
    for (i, stack) in values.enumerated() {
      let bx = x + slot * (Double(i) + 0.5) - barWidth / 2
      var base = y + height
      s.append("<g class=\"bar\">")
      for (j, value) in stack.enumerated() where value > 0 {
        let h = height * value / maxValue
        base -= h
        let color = j < segments.count ? segments[j].color : "#999"
        let name = j < segments.count ? segments[j].name : ""
        s.append(
          "<rect x=\"\(fmt(bx))\" y=\"\(fmt(base))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(h))\" fill=\"\(color)\"><title>\(escape(labels[i])): \(escape(name)) \(Format.fixed(value, 2))</title></rect>"
        )
      }
      let total = stack.reduce(0, +)
      s.append(
        "<text x=\"\(fmt(bx + barWidth / 2))\" y=\"\(fmt(base - 4))\" text-anchor=\"middle\">\(Format.fixed(total, total < 10 ? 2 : 1))\(recommended[i] ? " ★" : "")</text>"
      )
      let lx = bx + barWidth / 2, ly = y + height + 12
      s.append(
        "<text transform=\"translate(\(fmt(lx)) \(fmt(ly))) rotate(-30)\" text-anchor=\"end\">\(escape(labels[i]))</text>"
      )
      s.append("</g>")
    }
    s.append("</g>")
    return s
  }

  static func legend(x: Double, y: Double, segments: [Segment]) -> [String] {
    var s: [String] = ["<g class=\"legend\">"]
    var cx = x
    for seg in segments {
      s.append(
        "<rect x=\"\(fmt(cx))\" y=\"\(fmt(y - 9))\" width=\"10\" height=\"10\" fill=\"\(seg.color)\"/>"
      )
      s.append("<text x=\"\(fmt(cx + 14))\" y=\"\(fmt(y))\">\(escape(seg.name))</text>")
      cx += 20 + Double(seg.name.count) * 6.2
    }
    s.append("</g>")
    return s
  }

  /// 1, 2, 2.5, 5 × 10^k at or above x.
  /// What every chart's panel opens with: its group, the title above it, the y and x axes, six
  /// y ticks from 0 to `maxValue` and the y axis's label, rotated, `axisOffset` left of it.
  static func frame(
    x: Double, y: Double, width: Double, height: Double, maxValue: Double, title: String,
    axis: String, axisOffset: Double
  ) -> [String] {
    var s = ["<g class=\"panel\">"]
    s.append(
      "<text x=\"\(fmt(x + width / 2))\" y=\"\(fmt(y - 14))\" text-anchor=\"middle\" font-size=\"13\">\(escape(title))</text>"
    )
    s.append(
      "<line x1=\"\(fmt(x))\" y1=\"\(fmt(y))\" x2=\"\(fmt(x))\" y2=\"\(fmt(y + height))\" stroke=\"black\"/>"
    )
    s.append(
      "<line x1=\"\(fmt(x))\" y1=\"\(fmt(y + height))\" x2=\"\(fmt(x + width))\" y2=\"\(fmt(y + height))\" stroke=\"black\"/>"
    )
    for i in 0...5 {
      let v = maxValue * Double(i) / 5
      let ty = y + height * (1 - Double(i) / 5)
      s.append(
        "<line x1=\"\(fmt(x - 4))\" y1=\"\(fmt(ty))\" x2=\"\(fmt(x))\" y2=\"\(fmt(ty))\" stroke=\"black\"/>"
      )
      s.append(
        "<text x=\"\(fmt(x - 6))\" y=\"\(fmt(ty + 4))\" text-anchor=\"end\">\(Format.fixed(v, v < 10 ? 1 : 0))</text>"
      )
    }
    s.append(
      "<text transform=\"translate(\(fmt(x - axisOffset)) \(fmt(y + height / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(axis))</text>"
    )
    return s
  }

  static func niceCeiling(_ x: Double) -> Double {
    guard x > 0, x.isFinite else { return 1 }
    var scale = 1.0
    while scale * 10 <= x { scale *= 10 }
    while scale > x { scale /= 10 }
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] where step * scale >= x { return step * scale }
    return 10 * scale
  }

  static func fmt(_ x: Double) -> String { Format.fixed(x, 1) }

  static func escape(_ s: String) -> String {
    var out = ""
    for c in s {
      switch c {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      default: out.append(c)
      }
    }
    return out
  }
}
