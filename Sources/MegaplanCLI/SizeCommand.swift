import Foundation
import MegatronPlan

/// `megaplan size --gpus N --days D [--tokens T | --tokens-per-parameter K] ...`: the largest
/// model of a family that trains its token budget in time (`ModelSizing`).
enum SizeCommand {
  static let usage =
    "megaplan size --gpus N --days D [--tokens T | --tokens-per-parameter K] [--family gpt3|llama] [--gpu NAME] [--seq S] [--batch-tokens T] [--recompute none,selective,full] [--sequence-parallel on|off|any] [--format text|json|csv|markdown]"

  static let options: [OptionSpec] = [
    OptionSpec(
      name: "--gpus", takesValue: true, help: "GPUs of the cluster (required)", valueName: "N"),
    OptionSpec(
      name: "--days", takesValue: true, help: "the deadline in days (required)", valueName: "D"),
    OptionSpec(
      name: "--tokens", takesValue: true,
      help: "tokens to train, e.g. 300e9 or 300B (default 300B, GPT-3's budget)", valueName: "T"),
    OptionSpec(
      name: "--tokens-per-parameter", takesValue: true,
      help: "tokens as a multiple of the model's parameters, e.g. 20 (Hoffmann et al. 2022)",
      valueName: "K"),
    OptionSpec(
      name: "--family", takesValue: true,
      help: "gpt3 (default: NeMo's GPT-3 shapes) or llama (Llama 3 shapes)", valueName: "NAME"),
    OptionSpec(
      name: "--gpu", takesValue: true, help: "GPU type: \(CLI.gpuNames) (default a100-80gb)",
      valueName: "NAME"),
    OptionSpec(
      name: "--seq", takesValue: true,
      help: "sequence length (default: the family's, 2048 for gpt3, 8192 for llama)",
      valueName: "S"),
    OptionSpec(
      name: "--batch-tokens", takesValue: true,
      help:
        "tokens per global batch, e.g. 16M (default: the recipe's, NeMo's 0.5M–4M by size for gpt3, 4M for llama)",
      valueName: "T"),
    OptionSpec(
      name: "--recompute", takesValue: true,
      help:
        "allowed recompute, as in search: a comma list of none, selective, full (full alone with --sequence-parallel off is Megatron-LM as N21 ran it)",
      valueName: "LIST"),
    OptionSpec(
      name: "--sequence-parallel", takesValue: true, help: "on, off or any (default any)",
      valueName: "WHICH"),
    OptionSpec(
      name: "--format", takesValue: true, help: "text (default), json, csv or markdown",
      valueName: "FORMAT"),
    OptionSpec(name: "--help", takesValue: false, help: "show this help"),
  ]

  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    guard parsed.positional.isEmpty && parsed.overrides.isEmpty else {
      throw UsageError(
        message:
          "size takes no FILE (the model comes from --family), found '\((parsed.positional + parsed.overrides).joined(separator: " "))'"
      )
    }
    let format = try parsed.choice(
      "--format", in: ["text", "json", "csv", "markdown"], default: "text")
    guard let gpus = try parsed.positiveInt("--gpus", max: 1 << 22) else {
      throw UsageError(message: "missing --gpus N: the GPUs of the cluster")
    }
    guard parsed.has("--days") else {
      throw UsageError(message: "missing --days D: the deadline in days")
    }
    let days = try positive(parsed, "--days", what: "a positive number of days such as 30")
    if parsed.has("--tokens") && parsed.has("--tokens-per-parameter") {
      throw UsageError(message: "give --tokens or --tokens-per-parameter, not both")
    }
    var budget = ModelSizing.TokenBudget.tokens(300e9)
    if parsed.has("--tokens") { budget = .tokens(try tokens(parsed, "--tokens")) }
    if parsed.has("--tokens-per-parameter") {
      budget = .perParameter(
        try positive(parsed, "--tokens-per-parameter", what: "a positive number such as 20"))
    }
    let familyName = try parsed.choice(
      "--family", in: ModelFamily.allCases.map(\.rawValue), default: "gpt3")
    let family = ModelFamily(rawValue: familyName) ?? .gpt3
    var gpu = GPU.a100_80GB
    if let name = parsed.value("--gpu") {
      guard let known = GPU.named(name) else {
        throw UsageError(
          message: "option '--gpu': unknown GPU '\(name)'; \(GPU.suggestion(for: name))")
      }
      gpu = known
    }
    let seq = try parsed.positiveInt("--seq", max: 1 << 22)
    var search = LayoutSearch.Options()
    if let set = try parsed.recomputeSet() { search.constraints.recompute = set }
    let sp = try parsed.choice("--sequence-parallel", in: ["on", "off", "any"], default: "any")
    search.constraints.sequenceParallel = LayoutSearch.SequenceParallelChoice(rawValue: sp) ?? .any
    var request = ModelSizing.Request(
      family: family, gpus: gpus, days: days, budget: budget, gpu: gpu, sequenceLength: seq,
      search: search)
    if parsed.has("--batch-tokens") {
      let t = try tokens(parsed, "--batch-tokens")
      guard t <= 1e15 else {
        throw UsageError(
          message: "option '--batch-tokens' expects at most 1e15 tokens, found '\(t)'")
      }
      request.batchTokens = max(1, Int(t.rounded()))
    }
    let result: ModelSizing.Result
    do {
      result = try ModelSizing.largest(request)
    } catch let error as ModelSizing.SizingError {
      throw UsageError(message: error.description)
    }
    switch format {
    case "json": io.out(try SizeReport.json(result) + "\n")
    case "csv": io.out(SizeReport.csv(result))
    case "markdown": io.out(SizeReport.markdown(result))
    default: io.out(SizeReport.text(result))
    }
    if result.answer == nil {
      if format != "text" {
        io.err("megaplan size: no \(family.displayName) model of the ladder trains in time\n")
      }
      return ExitCode.failure
    }
    return ExitCode.success
  }

  /// A finite positive number.
  static func positive(_ parsed: ParsedArguments, _ name: String, what: String) throws -> Double {
    let text = parsed.value(name) ?? ""
    guard let x = Double(text), x.isFinite, x > 0 else {
      throw UsageError(message: "option '\(name)' expects \(what), found '\(text)'")
    }
    return x
  }

  /// A token count: a positive number, optionally with a K, M, B (or G) or T suffix.
  static func tokens(_ parsed: ParsedArguments, _ name: String) throws -> Double {
    let text = parsed.value(name) ?? ""
    if let x = parseCount(text) { return x }
    throw UsageError(
      message:
        "option '\(name)' expects a positive token count such as 300e9 or 300B, found '\(text)'")
  }

  static func parseCount(_ text: String) -> Double? {
    let scales: [Character: Double] = ["k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12]
    var body = Substring(text)
    var scale = 1.0
    if let last = body.last, let s = scales[Character(last.lowercased())] {
      scale = s
      body = body.dropLast()
    }
    guard let x = Double(body), x.isFinite, x > 0, (x * scale).isFinite else { return nil }
    return x * scale
  }
}
