import Foundation
import MegatronPlan

/// `megaplan scale FILE --nodes 1,2,4,... [--tokens T] [--adjust-batch] ...`: one config on
/// several node counts (`NodeScaling`).
enum ScaleCommand {
  static let usage =
    "megaplan scale FILE [KEY=VALUE]... --nodes 1,2,4,... [--tokens T] [--adjust-batch] [--layout search|file] [--max-memory-fraction F] [--chart OUT.svg] [--format text|json|csv|markdown] [--set KEY=VALUE]... [--megatron-args] [--bridge] [--hf-config config.json] [--gpu NAME] [--hardware FILE]"

  /// The config options every command takes, less `--gpus` (the GPU counts are the nodes').
  static let options: [OptionSpec] =
    [
      OptionSpec(
        name: "--nodes", takesValue: true,
        help: "node counts, a comma list such as 1,2,4,8 (× the file's trainer.devices GPUs)",
        valueName: "LIST"),
      OptionSpec(
        name: "--tokens", takesValue: true,
        help: "tokens to train, e.g. 300e9 or 300B (default: megaplan.train_tokens)",
        valueName: "T"),
      OptionSpec(
        name: "--adjust-batch", takesValue: false,
        help: "when d does not divide the global batch, take the nearest batch it divides"),
      OptionSpec(
        name: "--layout", takesValue: true,
        help:
          "search (default: the fastest layout that fits) or file (FILE's t, p, v, b; d follows)",
        valueName: "WHICH"),
      OptionSpec(
        name: "--max-memory-fraction", takesValue: true,
        help:
          "usable memory fraction, as in check (default: megaplan.max_memory_fraction, else \(Format.fixed(MemoryBudget.defaultFraction, 2)))",
        valueName: "F"),
      OptionSpec(
        name: "--chart", takesValue: true,
        help: "also write an SVG chart of days and scaling efficiency against GPUs",
        valueName: "OUT.svg"),
      OptionSpec(
        name: "--format", takesValue: true, help: "text (default), json, csv or markdown",
        valueName: "FORMAT"),
    ] + CLI.commonConfigOptions.filter { $0.name != "--gpus" }

  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    let format = try parsed.choice(
      "--format", in: ["text", "json", "csv", "markdown"], default: "text")
    let file = try CLI.singleFile(parsed)
    guard let list = parsed.value("--nodes") else {
      throw UsageError(message: "missing --nodes LIST: the node counts, e.g. --nodes 1,2,4,8")
    }
    let nodes = try nodeCounts(list)
    let mode = try parsed.choice(
      "--layout", in: NodeScaling.Mode.allCases.map(\.rawValue), default: "search")
    var tokens: Double? = nil
    if let text = parsed.value("--tokens") {
      guard let t = SizeCommand.parseCount(text) else {
        throw UsageError(
          message:
            "option '--tokens' expects a positive token count such as 300e9 or 300B, found '\(text)'"
        )
      }
      tokens = t
    }
    var search = LayoutSearch.Options()
    if let f = try parsed.number("--max-memory-fraction") {
      guard f > 0, f <= 1 else {
        throw UsageError(
          message: "option '--max-memory-fraction' expects a number in (0, 1], found '\(f)'")
      }
      search.maxMemoryFraction = f
    }
    let chart = parsed.value("--chart")
    if let chart { try OutputFile.checkWritable(chart) }
    let loaded = try ConfigInput.load(path: file, parsed: parsed, io: io, applyGPUCount: false)
    let table: NodeScaling.Table
    do {
      table = try NodeScaling.table(
        loaded.run,
        options: NodeScaling.Options(
          nodes: nodes, tokens: tokens, adjustBatch: parsed.has("--adjust-batch"),
          mode: NodeScaling.Mode(rawValue: mode) ?? .search, search: search))
    } catch let error as NodeScaling.ScalingError {
      throw UsageError(message: "option '--nodes': \(error.description)")
    } catch let error as LayoutSearch.SearchError {
      throw UsageError(message: error.description)
    }
    if let chart {
      let name = (loaded.source.name as NSString).lastPathComponent
      io.file(ScaleChart.svg(table, title: "Scaling: \(name)"), to: chart)
    }
    switch format {
    case "json": io.out(try ScaleReport.json(table) + "\n")
    case "csv": io.out(ScaleReport.csv(table))
    case "markdown": io.out(ScaleReport.markdown(table))
    default: io.out(ScaleReport.text(table, source: loaded.source.name))
    }
    if table.referenceNodes == nil {
      if format != "text" { io.err("megaplan scale: no node count has a layout\n") }
      return ExitCode.failure
    }
    return ExitCode.success
  }

  /// `1,2,4,8` → [1, 2, 4, 8], sorted, each once.
  static func nodeCounts(_ list: String) throws -> [Int] {
    var out = Set<Int>()
    for word in list.split(separator: ",", omittingEmptySubsequences: false) {
      let w = word.trimmingCharacters(in: .whitespaces)
      guard let n = Int(w), n > 0, n <= 1 << 19 else {
        throw UsageError(
          message:
            "option '--nodes' expects a comma list of positive node counts such as 1,2,4,8, found '\(w)' in '\(list)'"
        )
      }
      out.insert(n)
    }
    return out.sorted()
  }
}
