import Foundation
import MegatronPlan

/// `megaplan check FILE... [--max-memory-fraction F] [--min-mfu X] [--max-days D] [--max-gpus N]
/// [--format text|json|github]`: the CI gate.
enum CheckCommand {
  static let options: [OptionSpec] =
    [
      OptionSpec(
        name: "--max-memory-fraction", takesValue: true,
        help:
          "fail when the peak per GPU > capacity × F (default: megaplan.max_memory_fraction, else \(Format.fixed(MemoryBudget.defaultFraction, 2)))",
        valueName: "F"),
      OptionSpec(
        name: "--min-mfu", takesValue: true,
        help: "fail below this MFU, a fraction in (0, 1]: 0.45 is 45%", valueName: "X"),
      OptionSpec(
        name: "--max-days", takesValue: true,
        help: "fail when training megaplan.train_tokens takes longer", valueName: "D"),
      OptionSpec(
        name: "--max-gpus", takesValue: true, help: "fail when the config uses more GPUs",
        valueName: "N"),
      OptionSpec(
        name: "--format", takesValue: true,
        help: "text (default), json or github (workflow annotations)", valueName: "FORMAT"),
      OptionSpec(
        name: "--against", takesValue: true, repeatable: true,
        help:
          "fail when the run's measured step time or memory in this training log departs from the plan (repeatable: logs of one run)",
        valueName: "LOG"),
      OptionSpec(
        name: "--tolerance", takesValue: true,
        help: "with --against: the departure allowed, 10% or 0.1 (default 10%)", valueName: "T"),
    ] + CLI.commonConfigOptions

  struct FileResult: Encodable {
    var file: String
    var ok: Bool
    var error: String?
    var violations: [CheckViolation]
    var totalBytes: Double?
    var capacityBytes: Double?
    var usableBytes: Double?
    var usableFraction: Double?
    var iterationSeconds: Double?
    var mfu: Double?
    var days: Double?
    var gpus: Int?
    // Not encoded: where to point annotations.
    var locations: [String: SourceLocation] = [:]
    var errorLocation: SourceLocation? = nil
    enum CodingKeys: String, CodingKey {
      case file, ok, error, violations, totalBytes, capacityBytes, usableBytes, usableFraction,
        iterationSeconds, mfu, days, gpus
    }
  }

  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    let format = try parsed.choice("--format", in: ["text", "json", "github"], default: "text")
    if parsed.has("--against") { return try against(parsed, io, format: format) }
    if parsed.has("--tolerance") {
      throw UsageError(
        message: "--tolerance needs --against LOG (the log to check the plan against)")
    }
    var limits = CheckLimits()
    if let f = try parsed.number("--max-memory-fraction") {
      guard f > 0, f <= 1 else {
        throw UsageError(
          message: "option '--max-memory-fraction' expects a number in (0, 1], found '\(f)'")
      }
      limits.maxMemoryFraction = f
    }
    if let x = try parsed.number("--min-mfu") {
      // One unit: a fraction, as JSON's `mfu` and --max-memory-fraction are.
      guard x > 0, x <= 1 else {
        let text = parsed.value("--min-mfu") ?? String(x)
        let hint = x > 1 && x <= 100 ? " (\(text)% is \(x / 100))" : ""
        throw UsageError(
          message:
            "option '--min-mfu' expects a fraction in (0, 1] such as 0.45, found '\(text)'\(hint)")
      }
      limits.minMFU = x
    }
    limits.maxDays = try parsed.number("--max-days")
    limits.maxGPUs = try parsed.positiveInt("--max-gpus", max: Int(Int32.max))
    // --hf-config without FILE checks config.json alone.
    let inputs =
      parsed.positional.isEmpty ? parsed.value("--hf-config").map { [$0] } ?? [] : parsed.positional
    guard !inputs.isEmpty else {
      throw UsageError(message: "missing FILE (NeMo YAML configs, or directories of them)")
    }
    let files = try expand(inputs)
    guard !files.isEmpty else {
      throw UsageError(
        message: "no *.yaml files found in \(parsed.positional.joined(separator: " "))")
    }

    var results: [FileResult] = []
    for file in files {
      let warnings = io.capturing()
      let name = file == ConfigInput.standardInputArgument ? ConfigInput.standardInputName : file
      do {
        let loaded = try ConfigInput.load(
          path: file, parsed: parsed, io: warnings, mergeFiles: [])
        if limits.maxDays != nil && loaded.run.trainTokens == nil {
          throw ConfigError(
            "--max-days needs a token budget: set megaplan.train_tokens in the file (or --set megaplan.train_tokens=300e9)",
            key: "megaplan.train_tokens")
        }
        var locations: [String: SourceLocation] = [:]
        for setting in loaded.settings {
          switch setting.origin {
          case .file(let loc), .override(let loc): locations[setting.key] = loc
          default: break
          }
        }
        let (evaluation, violations) = Check.evaluate(
          loaded.run, limits: limits,
          keysInFile: Set(locations.filter { $0.value.file == name }.keys))
        let estimate = Estimate(evaluation)
        results.append(
          FileResult(
            file: name, ok: violations.isEmpty, error: nil, violations: violations,
            totalBytes: estimate.memory.peakBytes,
            capacityBytes: estimate.memory.capacityBytes,
            usableBytes: estimate.memory.usableBytes,
            usableFraction: estimate.memory.usableFraction,
            iterationSeconds: estimate.time.iterationSeconds,
            mfu: estimate.throughput.mfu, days: estimate.training.days, gpus: estimate.layout.gpus,
            locations: locations))
      } catch let error as ConfigError {
        results.append(
          FileResult(
            file: name, ok: false, error: error.rendered(), violations: [],
            errorLocation: error.location))
      }
      if format == "text" { io.err(warnings.stderr) }
    }

    // A config error is exit 64 with the located error on stderr. In text and JSON nothing goes
    // to stdout then (as for every command); the github format still prints its annotations,
    // because a workflow reads them from stdout and a config error belongs on its line too.
    let configErrors = results.compactMap(\.error)
    for error in configErrors { io.err(error + "\n") }
    if !configErrors.isEmpty && format != "github" { return ExitCode.usage }

    switch format {
    case "json":
      struct Doc: Encodable { var files: [FileResult]; var ok: Bool }
      io.out(try JSONOutput.encode(Doc(files: results, ok: results.allSatisfy(\.ok))) + "\n")
    case "github":
      for r in results {
        if let error = r.error {
          let firstLine = error.split(separator: "\n").first.map(String.init) ?? error
          io.out(annotation(file: r.file, at: r.errorLocation, title: nil, message: firstLine))
        }
        for v in r.violations {
          let message = v.message + (v.suggestion.map { "; \($0)" } ?? "")
          io.out(
            annotation(
              file: r.file, at: r.locations[v.key],
              title: "megaplan check: \(v.what) (\(v.key))", message: message))
        }
      }
      let failed = results.filter { !$0.ok }.count
      io.out(
        "megaplan check: \(results.count - failed) of \(results.count) config\(results.count == 1 ? "" : "s") passed\n"
      )
    default:
      for r in results {
        if r.ok {
          io.out(
            "ok   \(r.file): fits: \(MemoryBudget(usableFraction: r.usableFraction ?? 1).describe(total: r.totalBytes ?? 0, capacity: r.capacityBytes ?? 0)), \(Format.fixed(r.iterationSeconds ?? 0, 2)) s/iteration, MFU \(Format.percent(r.mfu ?? 0))\n"
          )
        } else {
          io.out("FAIL \(r.file)\n")
          for v in r.violations {
            io.out("  \(v.what): \(v.message)\n")
            if let s = v.suggestion { io.out("    suggestion: \(s)\n") }
          }
        }
      }
    }
    if !configErrors.isEmpty { return ExitCode.usage }
    return results.allSatisfy(\.ok) ? ExitCode.success : ExitCode.failure
  }

  /// One `::error` workflow command. The location is used when it is in the checked file; a
  /// problem in a command-line value (`--set`, `--gpu`), or a finding about a key the file does
  /// not set, is annotated on the file without a line (never on another key's line).
  static func annotation(
    file: String, at location: SourceLocation?, title: String?, message: String
  )
    -> String
  {
    var properties = ["file=\(escapeProperty(file))"]
    if let location, location.file == file {
      properties += ["line=\(location.line)", "col=\(location.column)"]
    }
    if let title { properties.append("title=\(escapeProperty(title))") }
    return "::error \(properties.joined(separator: ","))::\(escapeData(message))\n"
  }

  /// A workflow command's message: `%`, CR and LF escaped (GitHub's toolkit, `escapeData`).
  static func escapeData(_ s: String) -> String {
    s.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D")
      .replacingOccurrences(of: "\n", with: "%0A")
  }

  /// A workflow command's property value (file, title): as a message, and also `:` and `,`,
  /// which would end the value (`escapeProperty`).
  static func escapeProperty(_ s: String) -> String {
    escapeData(s).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(
      of: ",", with: "%2C")
  }

  /// Files as given; directories become every *.yaml / *.yml below them, sorted.
  static func expand(_ paths: [String]) throws -> [String] {
    var out: [String] = []
    let fm = FileManager.default
    for path in paths {
      var isDir: ObjCBool = false
      if fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
        guard let walker = fm.enumerator(atPath: path) else { continue }
        var found: [String] = []
        while let item = walker.nextObject() as? String {
          if item.hasSuffix(".yaml") || item.hasSuffix(".yml") {
            found.append((path as NSString).appendingPathComponent(item))
          }
        }
        out += found.sorted()
      } else {
        out.append(path)
      }
    }
    return out
  }

  // MARK: - Against a training log

  /// The default `--tolerance`.
  static let defaultTolerance = 0.10

  /// `--tolerance`: `10%` or a fraction in (0, 1].
  static func tolerance(_ parsed: ParsedArguments) throws -> Double {
    guard let text = parsed.value("--tolerance") else { return defaultTolerance }
    let percent = text.hasSuffix("%")
    let number = Double(percent ? String(text.dropLast()) : text)
    guard let x = number.map({ percent ? $0 / 100 : $0 }), x.isFinite, x > 0, x <= 1 else {
      let hint =
        number.map { !percent && $0 > 1 && $0 <= 100 ? " (\(text)% is \($0 / 100))" : "" } ?? ""
      throw UsageError(
        message:
          "option '--tolerance' expects a percentage such as 10% or a fraction in (0, 1] such as 0.1, found '\(text)'\(hint)"
      )
    }
    return x
  }

  struct AgainstResult: Encodable {
    struct Departure: Encodable {
      /// `step_time` or `memory`.
      var what: String
      var stage: Int?
      var measured: Double
      var planned: Double
      var departure: Double
      var ok: Bool
      var line: Int?

      enum CodingKeys: String, CodingKey {
        case what, stage, measured, planned, departure, ok, line
      }

      /// Absent values are written as null (`stage` of the step time, a `line` not known).
      func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(what, forKey: .what)
        try c.encode(stage, forKey: .stage)
        try c.encode(measured, forKey: .measured)
        try c.encode(planned, forKey: .planned)
        try c.encode(departure, forKey: .departure)
        try c.encode(ok, forKey: .ok)
        try c.encode(line, forKey: .line)
      }
    }
    var config: String
    var logs: [String]
    var tolerance: Double
    var departures: [Departure]
    var ok: Bool
  }

  /// `check CONFIG --against LOG... [--tolerance T]`: one config, its run's logs.
  static func against(_ parsed: ParsedArguments, _ io: CLIOutput, format: String) throws -> Int32 {
    let limits = ["--max-memory-fraction", "--min-mfu", "--max-days", "--max-gpus"]
    if let given = limits.first(where: { parsed.has($0) }) {
      throw UsageError(
        message:
          "--against checks a run's log against its plan; check the plan's limits (\(given)) in a check of its own"
      )
    }
    let tol = try tolerance(parsed)
    guard parsed.positional.count == 1, let config = parsed.positional.first else {
      throw UsageError(
        message:
          "--against takes one CONFIG, the run's config (found \(parsed.positional.count)); the logs follow --against"
      )
    }
    let logs = parsed.all("--against")
    let comparison = try ExplainRunCommand.compare(
      config: config, logs: logs, parsed: parsed, io: io)
    let departures = comparison.departures(tolerance: tol)
    guard !departures.isEmpty else {
      throw ConfigError(
        "\(logs.joined(separator: ", ")): nothing to check: no steady-state step (the first \(SteadyState.warmupSteps) steps of a run are warm-up) and no memory report"
      )
    }
    let name = config == ConfigInput.standardInputArgument ? ConfigInput.standardInputName : config
    let result = AgainstResult(
      config: name, logs: logs, tolerance: tol,
      departures: departures.map { d in
        let (what, stage): (String, Int?) =
          switch d.what {
          case .stepTime: ("step_time", nil)
          case .memory(let s): ("memory", s)
          }
        return AgainstResult.Departure(
          what: what, stage: stage, measured: d.measured, planned: d.planned,
          departure: d.departure, ok: d.within, line: d.location?.line)
      }, ok: departures.allSatisfy(\.within))
    func describe(_ d: LogDeparture) -> String {
      let signed = (d.departure >= 0 ? "+" : "") + Format.percent(d.departure)
      switch d.what {
      case .stepTime:
        return
          "step time: measured \(RunExplanationReport.seconds(d.measured)), planned \(RunExplanationReport.seconds(d.planned)) (\(signed), tolerance \(Format.percent(tol, 0)))"
      case .memory(let stage):
        return
          "memory of stage \(stage) (max allocated): measured \(Format.gib(d.measured)), planned \(Format.gib(d.planned)) (\(signed), tolerance \(Format.percent(tol, 0)))"
      }
    }
    switch format {
    case "json":
      io.out(try JSONOutput.encode(result) + "\n")
    case "github":
      for d in departures where !d.within {
        let file = d.location?.file ?? name
        io.out(
          annotation(
            file: file, at: d.location, title: "megaplan check --against",
            message: describe(d) + " departs from the plan"))
      }
      io.out(
        "megaplan check: \(name) against \(logs.joined(separator: ", ")): \(result.ok ? "passed" : "failed")\n"
      )
    default:
      io.out("\(result.ok ? "ok  " : "FAIL") \(name) against \(logs.joined(separator: ", "))\n")
      for d in departures {
        io.out("  \(d.within ? "ok  " : "FAIL") \(describe(d))\n")
      }
    }
    return result.ok ? ExitCode.success : ExitCode.failure
  }
}
