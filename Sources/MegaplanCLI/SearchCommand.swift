import Foundation
import MegatronPlan

/// `megaplan search FILE [--gpus N | --nodes N] [--gpu NAME] [--top K] [--objective ...] ...`:
/// the fastest layout that fits, found exhaustively.
enum SearchCommand {
  /// The config options every command takes, less `--gpus`/`--gpu`, which search declares with
  /// its own meaning (the GPUs to lay out, not an override of the file).
  static let options: [OptionSpec] =
    searchOptions
    + CLI.commonConfigOptions.filter {
      !["--gpus", "--gpu"].contains($0.name)
    }

  static let searchOptions: [OptionSpec] = [
    OptionSpec(
      name: "--gpus", takesValue: true,
      help: "GPUs to lay out (default: the file's nodes × devices)", valueName: "N"),
    OptionSpec(
      name: "--nodes", takesValue: true,
      help: "nodes to lay out (× the file's trainer.devices GPUs per node)", valueName: "N"),
    OptionSpec(
      name: "--gpu", takesValue: true, help: "GPU type: \(CLI.gpuNames)", valueName: "NAME"),
    OptionSpec(
      name: "--top", takesValue: true, help: "how many layouts to show (default 5)", valueName: "K"),
    OptionSpec(
      name: "--objective", takesValue: true,
      help: "throughput (default), days, or gpus (fewest GPUs meeting --max-days)",
      valueName: "NAME"),
    OptionSpec(
      name: "--max-days", takesValue: true, help: "deadline for --objective gpus", valueName: "D"),
    OptionSpec(name: "--tensor", takesValue: true, help: "fix t", valueName: "N"),
    OptionSpec(
      name: "--context-parallel", takesValue: true,
      help: "fix cp (default: every cp the sequence allows, s/cp ≥ 1,024)", valueName: "N"),
    OptionSpec(name: "--pipeline", takesValue: true, help: "fix p", valueName: "N"),
    OptionSpec(
      name: "--virtual", takesValue: true, help: "fix v (1 = no interleaving)", valueName: "N"),
    OptionSpec(name: "--micro-batch", takesValue: true, help: "fix b", valueName: "N"),
    OptionSpec(
      name: "--recompute", takesValue: true,
      help: "allowed recompute: a comma list of none, selective, full (full includes partial)",
      valueName: "LIST"),
    OptionSpec(
      name: "--sequence-parallel", takesValue: true, help: "on, off or any (default any)",
      valueName: "WHICH"),
    OptionSpec(
      name: "--distributed-optimizer", takesValue: true, help: "on, off or any (default any)",
      valueName: "WHICH"),
    OptionSpec(
      name: "--pipeline-split", takesValue: true,
      help:
        "any (default: where p does not divide the layers, Megatron-Core's uneven splits too) or even",
      valueName: "WHICH"),
    OptionSpec(
      name: "--fully-sharded", takesValue: true,
      help: "Megatron-FSDP full sharding: file (as FILE does; default), on, off or any",
      valueName: "WHICH"),
    OptionSpec(
      name: "--expert-parallel", takesValue: true,
      help: "MoE EP: any (default: every size dividing the experts), file, or N",
      valueName: "WHICH"),
    OptionSpec(
      name: "--expert-tensor-parallel", takesValue: true,
      help: "MoE ETP: any (default: 1 and t), file, or N", valueName: "WHICH"),
    OptionSpec(
      name: "--allow-cross-node-tensor", takesValue: false,
      help: "let t exceed the GPUs of one node"),
    OptionSpec(
      name: "--max-memory-fraction", takesValue: true,
      help:
        "usable memory fraction, as in check (default: megaplan.max_memory_fraction, else \(Format.fixed(MemoryBudget.defaultFraction, 2)))",
      valueName: "F"),
    OptionSpec(
      name: "--emit-config", takesValue: true,
      help:
        "write the winner as NeMo YAML (FILE with the layout keys replaced), or for a Megatron-Bridge FILE as a Bridge override YAML of the fields that change",
      valueName: "OUT.yaml"),
    OptionSpec(
      name: "--format", takesValue: true, help: "text (default), json, csv or markdown",
      valueName: "FORMAT"),
    OptionSpec(
      name: "--benchmark", takesValue: false,
      help: "also time the search and print layouts evaluated, wall time and layouts/s"),
  ]

  /// `any`, `file` or a positive size.
  static func expertChoice(_ parsed: ParsedArguments, _ name: String) throws
    -> LayoutSearch.ExpertChoice
  {
    guard let text = parsed.value(name) else { return .any }
    switch text.lowercased() {
    case "any": return .any
    case "file": return .asBase
    default:
      guard let n = Int(text), n > 0, n <= 1 << 20 else {
        throw UsageError(
          message:
            "option '\(name)' expects any, file or a positive integer, found '\(text)'\(Suggestion.didYouMean(text.lowercased(), in: ["any", "file"]))"
        )
      }
      return .fixed(n)
    }
  }

  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    let format = try parsed.choice(
      "--format", in: ["text", "json", "csv", "markdown"], default: "text")
    let file = try CLI.singleFile(parsed)
    if parsed.has("--gpus") && parsed.has("--nodes") {
      throw UsageError(message: "give --gpus or --nodes, not both")
    }
    // Before the search: --emit-config needs a YAML FILE and a path that can be written, so a
    // run that cannot emit fails at once, with nothing printed.
    let emitPath = parsed.value("--emit-config")
    if let emitPath {
      guard !parsed.has("--megatron-args"), !parsed.has("--hf-config") else {
        throw UsageError(
          message:
            "--emit-config writes NeMo or Megatron-Bridge YAML and needs a YAML FILE without --hf-config"
        )
      }
      try OutputFile.checkWritable(emitPath)
    }
    let loaded: ConfigInput.Loaded
    do {
      loaded = try ConfigInput.load(path: file, parsed: parsed, io: io, applyGPUCount: false)
    } catch let error as ConfigError
      where error.note == MegatronArguments.gpuCountNote && parsed.has("--gpus")
    {
      // A launch script with no GPU count of its own: read it on the --gpus GPUs searched.
      loaded = try ConfigInput.load(path: file, parsed: parsed, io: io, applyGPUCount: true)
    }
    let base = loaded.run
    var constraints = LayoutSearch.Constraints()
    if let gpus = try parsed.positiveInt("--gpus", max: 1 << 22) { constraints.gpus = gpus }
    if let nodes = try parsed.positiveInt("--nodes", max: 1 << 19) {
      constraints.gpus = nodes * base.devicesPerNode
    }
    constraints.tensor = try parsed.positiveInt("--tensor")
    constraints.contextParallel = try parsed.positiveInt("--context-parallel")
    constraints.pipeline = try parsed.positiveInt("--pipeline")
    constraints.virtualStages = try parsed.positiveInt("--virtual")
    constraints.microBatch = try parsed.positiveInt("--micro-batch")
    if let list = parsed.value("--recompute") {
      var set = Set<LayoutSearch.Granularity>()
      for word in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
        guard let g = LayoutSearch.Granularity(rawValue: word) else {
          throw UsageError(
            message:
              "option '--recompute' expects a comma list of none, selective, full; found '\(word)'\(Suggestion.didYouMean(word, in: ["none", "selective", "full"]))"
          )
        }
        set.insert(g)
      }
      constraints.recompute = set
    }
    let sp = try parsed.choice("--sequence-parallel", in: ["on", "off", "any"], default: "any")
    constraints.sequenceParallel = LayoutSearch.SequenceParallelChoice(rawValue: sp) ?? .any
    switch try parsed.choice("--distributed-optimizer", in: ["on", "off", "any"], default: "any") {
    case "on": constraints.distributedOptimizer = true
    case "off": constraints.distributedOptimizer = false
    default: constraints.distributedOptimizer = nil
    }
    let sharding = try parsed.choice(
      "--fully-sharded", in: LayoutSearch.ShardingChoice.allCases.map(\.rawValue), default: "file")
    constraints.fullySharded = LayoutSearch.ShardingChoice(rawValue: sharding) ?? .asBase
    constraints.unevenSplits =
      try parsed.choice("--pipeline-split", in: ["any", "even"], default: "any") == "any"
    constraints.expertParallel = try expertChoice(parsed, "--expert-parallel")
    constraints.expertTensorParallel = try expertChoice(parsed, "--expert-tensor-parallel")
    constraints.allowCrossNodeTensor = parsed.has("--allow-cross-node-tensor")
    let objectiveName = try parsed.choice(
      "--objective", in: LayoutSearch.Objective.allCases.map(\.rawValue), default: "throughput")
    var options = LayoutSearch.Options(
      objective: LayoutSearch.Objective(rawValue: objectiveName) ?? .throughput,
      top: try parsed.positiveInt("--top", max: 1000) ?? 5,
      maxDays: try parsed.number("--max-days"), constraints: constraints)
    if let f = try parsed.number("--max-memory-fraction") {
      guard f > 0, f <= 1 else {
        throw UsageError(
          message: "option '--max-memory-fraction' expects a number in (0, 1], found '\(f)'")
      }
      options.maxMemoryFraction = f
    }

    let result: LayoutSearch.Result
    do {
      result = try LayoutSearch.search(base, options: options)
    } catch let error as LayoutSearch.SearchError {
      throw UsageError(message: error.description)
    }

    switch format {
    case "json": io.out(try result.json() + "\n")
    case "csv": io.out(SearchReport.csv(result))
    case "markdown": io.out(SearchReport.markdown(result))
    default: io.out(SearchReport.text(result, source: loaded.source.name))
    }

    if let emitPath, let best = result.best, let file = loaded.bridgeFile,
      let tree = loaded.bridgeTree
    {
      // A Megatron-Bridge FILE: an override YAML of the fields that change, merged over FILE.
      let header = """
        megaplan search: the winner for \(loaded.source.name) as a Megatron-Bridge override
        (the fields that differ from it). Merge it over that file: megaplan estimate \(loaded.source.name) \(emitPath)
        or Megatron-Bridge's --config-file.
        """
      let emitted = try LayoutSearch.emitBridgeConfig(
        file: file, tree: tree, winner: best.run, base: base, header: header)
      var merged = ConfigDocument(root: file, file: loaded.source.name)
      merged.root = ConfigDocument.merged(
        file, try ConfigDocument.parse(emitted, file: emitPath).root)
      let translated = try BridgeConfig.translate(merged)
      let reread = try ConfigLoader.load(ConfigDocument(root: translated.root, file: emitPath)).run
      let differ = LayoutSearch.emitMismatches(reread, winner: best.run)
      guard differ.isEmpty else {
        throw OutputError(
          message:
            "cannot write '\(emitPath)': the override megaplan can emit would not load to the search's row (\(differ.joined(separator: ", ")) differ); set those fields in FILE instead of on the command line"
        )
      }
      try OutputFile.write(emitted, to: emitPath)
      if format == "text" { io.out("wrote the winner to \(emitPath)\n") }
    } else if let emitPath, let best = result.best {
      // The text the config was read from (for `-`, standard input as read, not read again).
      // Every command-line override base was loaded with goes into the file too, so that it
      // loads to the row (checked: a file that would not is an error, never written).
      var overrides: [(key: String, value: String?)] = []
      if let gpu = parsed.value("--gpu") {
        overrides.append((key: "megaplan.gpu", value: "'\(gpu)'"))
      }
      for override in try ConfigInput.overrides(parsed) {
        overrides.append(
          (key: override.key, value: override.operation == .delete ? nil : override.yamlText))
      }
      if let f = options.maxMemoryFraction {
        overrides.append((key: "megaplan.max_memory_fraction", value: String(f)))
      }
      let emitted = LayoutSearch.emitConfig(
        loaded.source.text, winner: best.run, base: base, overrides: overrides)
      let reread = try ConfigLoader.load(ConfigDocument.parse(emitted, file: emitPath)).run
      let differ = LayoutSearch.emitMismatches(reread, winner: best.run)
      guard differ.isEmpty else {
        throw OutputError(
          message:
            "cannot write '\(emitPath)': the file megaplan can emit would not load to the search's row (\(differ.joined(separator: ", ")) differ); set those keys in FILE instead of on the command line"
        )
      }
      io.file(emitted, to: emitPath)
      if format == "text" { io.out("wrote the winner to \(emitPath)\n") }
    }

    if parsed.has("--benchmark") {
      let b = try LayoutSearch.benchmark(base, options: options)
      io.err(
        """
        benchmark: \(b.layouts) layouts (\(b.evaluated) evaluated incl. divisibility cuts) in \(String(format: "%.2f", b.seconds * 1e3)) ms on \(b.threads) threads: \(String(format: "%.2f", b.layoutsPerSecond / 1e6)) M layouts/s (\(String(format: "%.2f", b.layoutsPerSecondPerThread / 1e6)) M per thread)
        single thread: \(String(format: "%.2f", b.singleThreadSeconds * 1e3)) ms, \(String(format: "%.2f", b.singleThreadLayoutsPerSecond / 1e6)) M layouts/s
        one estimate at a time: \(String(format: "%.1f", b.estimateSeconds * 1e6)) µs each (sample of \(b.estimateSample)), \(String(format: "%.2f", b.extrapolatedEstimateSeconds)) s for the space: \(String(format: "%.0f", b.speedupOverEstimate))× slower

        """)
    }
    if result.objective == .gpus, result.best?.meetsDeadline != true {
      if format != "text" {
        io.err(
          "megaplan search: no GPU count up to \(result.gpuCounts.last ?? 0) meets --max-days\n")
      }
      return ExitCode.failure
    }
    return result.best == nil ? ExitCode.failure : ExitCode.success
  }
}
