import MegatronPlan

/// `megaplan estimate FILE [--format text|json] [--set KEY=VALUE]...`
enum EstimateCommand {
  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    let format = try parsed.choice("--format", in: ["text", "json"], default: "text")
    let file = try CLI.singleFile(parsed)
    let loaded = try ConfigInput.load(path: file, parsed: parsed, io: io)
    let estimate = Estimate(loaded.run)
    switch format {
    case "json": io.out(try estimate.json() + "\n")
    default: io.out(TextReport.estimate(estimate, run: loaded.run, source: loaded.source.name))
    }
    return ExitCode.success
  }
}
