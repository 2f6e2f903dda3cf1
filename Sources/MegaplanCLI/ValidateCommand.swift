import MegatronPlan

/// `megaplan validate`: published against predicted for the development runs (reference §6).
enum ValidateCommand {
  static let options: [OptionSpec] = [
    OptionSpec(
      name: "--serve", takesValue: false,
      help: "serving: the public TTFT, TPOT and throughput rows against megaplan serve"),
    OptionSpec(name: "--help", takesValue: false, help: "show this help"),
  ]

  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    guard parsed.positional.isEmpty && parsed.overrides.isEmpty else {
      throw UsageError(message: "validate takes no FILE")
    }
    io.out(parsed.has("--serve") ? ServingValidationReport.text() : ValidationReport.text())
    return ExitCode.success
  }
}
