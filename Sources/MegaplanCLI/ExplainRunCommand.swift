import MegatronPlan

/// `megaplan explain-run CONFIG LOG... [--format text|json]`: a run's logs against its plan.
enum ExplainRunCommand {
  static let usage =
    "megaplan explain-run CONFIG LOG... [KEY=VALUE]... [--format text|json] [--set KEY=VALUE]... [--megatron-args] [--bridge] [--gpus N] [--gpu NAME] [--hardware FILE]"

  static let options: [OptionSpec] =
    [
      OptionSpec(
        name: "--format", takesValue: true, help: "text (default) or json", valueName: "FORMAT")
    ] + CLI.commonConfigOptions.filter { $0.name != "--hf-config" }

  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    let format = try parsed.choice("--format", in: ["text", "json"], default: "text")
    let (config, logs) = try configAndLogs(parsed, command: "explain-run")
    let comparison = try compare(config: config, logs: logs, parsed: parsed, io: io)
    if format == "json" {
      io.out(try JSONOutput.encode(RunExplanation(comparison, config: config)) + "\n")
    } else {
      io.out(RunExplanationReport.text(comparison, config: config))
    }
    return ExitCode.success
  }

  /// CONFIG and its LOGs from the positional arguments.
  static func configAndLogs(_ parsed: ParsedArguments, command: String) throws -> (
    String, [String]
  ) {
    guard let config = parsed.positional.first else {
      throw UsageError(message: "missing CONFIG (the run's NeMo YAML) and LOG (its training log)")
    }
    let logs = Array(parsed.positional.dropFirst())
    guard !logs.isEmpty else {
      throw UsageError(message: "missing LOG: \(command) compares CONFIG with the run's log")
    }
    return (config, logs)
  }

  /// CONFIG loaded and its LOGs read and compared with its plan.
  static func compare(config: String, logs: [String], parsed: ParsedArguments, io: CLIOutput)
    throws -> RunComparison
  {
    let loaded = try ConfigInput.load(path: config, parsed: parsed, io: io, mergeFiles: [])
    let read = try logs.map { try LogInput.read($0, io: io) }
    return try RunComparison(loaded.run, logs: read)
  }
}
