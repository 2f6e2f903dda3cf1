import MegatronPlan

/// `megaplan calibrate CONFIG LOG... [CONFIG LOG...]... [-o FILE] [--fit KNOBS]`: cluster
/// constants fitted to runs' logs, written as a hardware profile.
enum CalibrateCommand {
  static let usage =
    "megaplan calibrate CONFIG LOG... [CONFIG LOG...]... [-o FILE] [--fit gemm,fp8-gemm,fp4-gemm,nvlink,network,host] [--format text|json] [KEY=VALUE]... [--set KEY=VALUE]... [--megatron-args] [--bridge] [--gpu NAME] [--hardware FILE]"

  static let options: [OptionSpec] =
    [
      OptionSpec(
        name: "-o", takesValue: true,
        help: "write the fitted hardware profile (megaplan.hardware) to FILE", valueName: "FILE"),
      OptionSpec(
        name: "--fit", takesValue: true,
        help:
          "the constants to fit, comma-separated: \(CalibrationKnob.allCases.map(\.rawValue).joined(separator: ", ")) (default: as many as the logs determine, the most influential first)",
        valueName: "KNOBS"),
      OptionSpec(
        name: "--format", takesValue: true, help: "text (default) or json", valueName: "FORMAT"),
    ]
    + CLI.commonConfigOptions.filter { !["--hf-config", "--gpus"].contains($0.name) }

  /// A positional ending in one of these begins a new run (its config); the others are logs.
  static let configSuffixes = [".yaml", ".yml", ".sh"]

  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    let format = try parsed.choice("--format", in: ["text", "json"], default: "text")
    let knobs = try parsed.value("--fit").map(knobList)
    let output = parsed.value("-o")
    if let output { try OutputFile.checkWritable(output) }
    let runs = try groups(parsed.positional)
    var observations: [CalibrationObservation] = []
    for (config, logs) in runs {
      let comparison = try ExplainRunCommand.compare(
        config: config, logs: logs, parsed: parsed, io: io)
      let label = "\(config): " + logs.joined(separator: " + ")
      observations += comparison.observations(label: label)
    }
    let calibration = try Calibration.fit(observations, knobs: knobs)
    if format == "json" {
      io.out(try JSONOutput.encode(CalibrationDocument(calibration)) + "\n")
    } else {
      io.out(CalibrationReport.text(calibration, output: output))
    }
    if let output {
      let command = "megaplan calibrate " + parsed.positional.joined(separator: " ")
      io.file(CalibrationReport.profile(calibration, command: command), to: output)
    }
    return ExitCode.success
  }

  /// CONFIG LOG... groups: the first argument is a config, and so is every later one ending in
  /// .yaml, .yml or .sh; the logs after a config are its run's.
  static func groups(_ positional: [String]) throws -> [(String, [String])] {
    guard let first = positional.first else {
      throw UsageError(message: "missing CONFIG and LOG (a run's config and its training log)")
    }
    var out: [(String, [String])] = [(first, [])]
    for arg in positional.dropFirst() {
      if configSuffixes.contains(where: { arg.lowercased().hasSuffix($0) }) {
        out.append((arg, []))
      } else {
        out[out.count - 1].1.append(arg)
      }
    }
    for (config, logs) in out where logs.isEmpty {
      throw UsageError(
        message:
          "config '\(config)' has no LOG after it: give each run's config followed by its logs")
    }
    return out
  }

  static func knobList(_ text: String) throws -> [CalibrationKnob] {
    try text.split(separator: ",").map { name in
      let word = name.trimmingCharacters(in: .whitespaces)
      guard let knob = CalibrationKnob.named(word) else {
        let names = CalibrationKnob.allCases.map(\.rawValue)
        throw UsageError(
          message:
            "option '--fit': unknown constant '\(word)'; expected \(names.joined(separator: ", "))\(Suggestion.didYouMean(word, in: names))"
        )
      }
      return knob
    }
  }
}
