import Foundation
import MegatronPlan

/// `megaplan compare FILE [--format text|json|csv|markdown] [--chart OUT.svg] [--set KEY=VALUE]...`
enum CompareCommand {
  static let options: [OptionSpec] =
    [
      OptionSpec(
        name: "--format", takesValue: true, help: "text (default), json, csv or markdown",
        valueName: "FORMAT"),
      OptionSpec(
        name: "--chart", takesValue: true,
        help: "also write an SVG chart of memory and iteration time per strategy",
        valueName: "OUT.svg"),
    ] + CLI.commonConfigOptions

  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    let format = try parsed.choice(
      "--format", in: ["text", "json", "csv", "markdown"], default: "text")
    let file = try CLI.singleFile(parsed)
    let chart = parsed.value("--chart")
    // Before the work: an unwritable chart path fails with nothing printed.
    if let chart { try OutputFile.checkWritable(chart) }
    let loaded = try ConfigInput.load(path: file, parsed: parsed, io: io)
    let comparison = Comparison(loaded.run)
    if let chart {
      let name = loaded.source.name
      let svg = ComparisonChart.svg(
        comparison, title: "Recompute strategies: \((name as NSString).lastPathComponent)")
      io.file(svg, to: chart)
    }
    switch format {
    case "json": io.out(try ComparisonReport.json(comparison) + "\n")
    case "csv": io.out(ComparisonReport.csv(comparison))
    case "markdown": io.out(ComparisonReport.markdown(comparison))
    default: io.out(ComparisonReport.text(comparison, source: loaded.source.name))
    }
    return ExitCode.success
  }
}
