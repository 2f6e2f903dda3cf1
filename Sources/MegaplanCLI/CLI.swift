import Foundation
import MegatronPlan

/// Exit codes (sysexits.h for usage): 0 done, 1 a check failed or nothing feasible, 64 usage or
/// config error.
public enum ExitCode {
  public static let success: Int32 = 0
  public static let failure: Int32 = 1
  public static let usage: Int32 = 64
}

/// The command-line interface, testable in-process: `CLI.run(arguments, io:)` returns the exit code.
public enum CLI {
  public static let version = "0.1.0"

  /// Every subcommand: name, one-line summary, options, and what runs it.
  struct Command {
    var name: String
    var summary: String
    var usage: String
    var options: [OptionSpec]
    var run: (ParsedArguments, CLIOutput) throws -> Int32
  }

  /// Every GPU profile megaplan knows, as `--gpu` takes them ("a100-80gb, a100-40gb, h100-sxm").
  static var gpuNames: String { GPU.all.map(\.name).joined(separator: ", ") }

  static let commonConfigOptions: [OptionSpec] = [
    OptionSpec(
      name: "--set", takesValue: true, repeatable: true,
      help:
        "override a config key (repeatable; a list as [a,b]), e.g. --set model.tensor_model_parallel_size=4",
      valueName: "KEY=VALUE"),
    OptionSpec(
      name: "--megatron-args", takesValue: false,
      help: "FILE is a Megatron-LM launch script or argument list, not NeMo YAML"),
    OptionSpec(
      name: "--bridge", takesValue: false,
      help:
        "FILE is a Megatron-Bridge ConfigContainer YAML (detected by its groups otherwise); files after it are override YAML merged over it"
    ),
    OptionSpec(
      name: "--hf-config", takesValue: true,
      help:
        "the model from a Hugging Face config.json (wins over FILE's model keys); without FILE it is the whole input, with t = p = 1, micro-batch 1, global batch = GPUs, 8 GPUs, sequence min(max_position_embeddings, 4096), bf16, fused attention, distributed optimizer, dropout 0",
      valueName: "config.json"),
    OptionSpec(
      name: "--gpus", takesValue: true,
      help: "total GPUs (overrides trainer.num_nodes × trainer.devices)", valueName: "N"),
    OptionSpec(
      name: "--gpu", takesValue: true, help: "GPU type: \(gpuNames) (overrides megaplan.gpu)",
      valueName: "NAME"),
    hardwareOption,
    OptionSpec(name: "--help", takesValue: false, help: "show this help"),
  ]

  static let hardwareOption = OptionSpec(
    name: "--hardware", takesValue: true,
    help:
      "a hardware profile (megaplan.hardware, as megaplan calibrate -o writes it) in place of the config's",
    valueName: "FILE")

  static var commands: [Command] {
    [
      Command(
        name: "estimate",
        summary: "per-GPU memory, FLOPs, step time and time to train for one config",
        usage:
          "megaplan estimate FILE [KEY=VALUE]... [--format text|json] [--set KEY=VALUE]... [--megatron-args] [--bridge] [--hf-config config.json] [--gpus N] [--gpu NAME] [--hardware FILE]",
        options: [
          OptionSpec(
            name: "--format", takesValue: true, help: "text (default) or json", valueName: "FORMAT")
        ] + commonConfigOptions,
        run: EstimateCommand.run),
      Command(
        name: "compare",
        summary: "recompute strategies side by side, with the fastest that fits marked",
        usage:
          "megaplan compare FILE [KEY=VALUE]... [--format text|json|csv|markdown] [--chart OUT.svg] [--set KEY=VALUE]... [--megatron-args] [--bridge] [--hf-config config.json] [--gpus N] [--gpu NAME] [--hardware FILE]",
        options: CompareCommand.options, run: CompareCommand.run),
      Command(
        name: "check",
        summary: "a CI gate: fail (exit 1) when a config does not fit or misses a limit",
        usage:
          "megaplan check FILE|DIR... [KEY=VALUE]... [--max-memory-fraction F] [--min-mfu X] [--max-days D] [--max-gpus N] [--format text|json|github] [--against LOG]... [--tolerance T] [--set KEY=VALUE]... [--megatron-args] [--bridge] [--hf-config config.json] [--gpus N] [--gpu NAME] [--hardware FILE]",
        options: CheckCommand.options, run: CheckCommand.run),
      Command(
        name: "search",
        summary: "the fastest tensor/context/pipeline/data layout that fits, found exhaustively",
        usage:
          "megaplan search FILE [KEY=VALUE]... [--gpus N | --nodes N] [--gpu NAME] [--top K] [--objective throughput|days|gpus] [--max-days D] [--tensor N] [--context-parallel N] [--pipeline N] [--virtual N] [--micro-batch N] [--recompute none,selective,full] [--sequence-parallel on|off|any] [--distributed-optimizer on|off|any] [--pipeline-split any|even] [--fully-sharded file|on|off|any] [--expert-parallel any|file|N] [--expert-tensor-parallel any|file|N] [--allow-cross-node-tensor] [--max-memory-fraction F] [--emit-config OUT.yaml] [--format text|json|csv|markdown] [--benchmark] [--set KEY=VALUE]... [--megatron-args] [--bridge] [--hf-config config.json] [--hardware FILE]",
        options: SearchCommand.options, run: SearchCommand.run),
      Command(
        name: "size",
        summary: "the largest model of a family that trains its token budget in D days on N GPUs",
        usage: SizeCommand.usage, options: SizeCommand.options, run: SizeCommand.run),
      Command(
        name: "scale",
        summary: "one config on several node counts: days, tokens/s, MFU and scaling efficiency",
        usage: ScaleCommand.usage, options: ScaleCommand.options, run: ScaleCommand.run),
      Command(
        name: "serve",
        summary:
          "inference sizing: GPUs, memory, TTFT, time per token and throughput per batch or at a rate and latency target",
        usage:
          "megaplan serve FILE [KEY=VALUE]... [--hf-config config.json] [--gpu NAME] [--engine vllm|trtllm|sglang|pytorch] [--cuda-graphs on|off] [--precision bf16|fp16|fp8|int8|int4|nvfp4] [--kv-precision P] [--input N] [--output N] [--batch N|LIST] [--rate R] [--slo ttft=X,tpot=Y] [--chart OUT.svg] [--tensor N] [--pipeline N] [--expert-parallel N] [--max-latency-ms X] [--min-throughput X] [--gpu-memory-utilization F] [--format text|json|csv|markdown] [--set KEY=VALUE]... [--megatron-args] [--bridge] [--hardware FILE]",
        options: ServeCommand.options, run: ServeCommand.run),
      Command(
        name: "config",
        summary: "the effective configuration megaplan uses, and where each value came from",
        usage:
          "megaplan config FILE [KEY=VALUE]... [--format text|json] [--set KEY=VALUE]... [--megatron-args] [--bridge] [--hf-config config.json] [--gpus N] [--gpu NAME] [--hardware FILE]",
        options: ConfigCommand.options, run: ConfigCommand.run),
      Command(
        name: "explain-run",
        summary: "a run's training log against its plan: step time, memory, timers, likely causes",
        usage: ExplainRunCommand.usage, options: ExplainRunCommand.options,
        run: ExplainRunCommand.run),
      Command(
        name: "calibrate",
        summary: "cluster constants fitted to runs' logs, written as a hardware profile",
        usage: CalibrateCommand.usage, options: CalibrateCommand.options, run: CalibrateCommand.run),
      Command(
        name: "validate",
        summary: "published Megatron runs (and with --serve, public serving rows) against megaplan",
        usage: "megaplan validate [--serve]", options: ValidateCommand.options,
        run: ValidateCommand.run),
    ]
  }

  /// Runs one command line. The command's standard output is written only when it has finished
  /// without an error, so any error (exit 64) leaves stdout empty; a failure to write stdout is
  /// itself an error (one message on stderr, exit 64). The files it writes (`--chart`,
  /// `--emit-config`) are staged beside their paths first and written only after stdout has
  /// been (`OutputFile.Staged`): nothing is written unless the whole command succeeds.
  public static func run(_ arguments: [String], io: CLIOutput) -> Int32 {
    let code = dispatch(arguments, io: io)
    let files = io.pendingFiles
    io.pendingFiles = []
    let staged: OutputFile.Staged
    do {
      staged = try OutputFile.stage(files)
    } catch {
      io.discard()
      io.err("error: \((error as? OutputError)?.message ?? "\(error)")\n")
      return ExitCode.usage
    }
    do {
      try io.flush()
    } catch {
      staged.abandon()
      io.err("error: cannot write to standard output: \(error)\n")
      return ExitCode.usage
    }
    do {
      try staged.commit()
    } catch {
      io.err("error: \((error as? OutputError)?.message ?? "\(error)")\n")
      return ExitCode.usage
    }
    return code
  }

  static func dispatch(_ arguments: [String], io: CLIOutput) -> Int32 {
    guard let first = arguments.first else {
      io.err(mainHelp())
      return ExitCode.usage
    }
    if first == "--help" || first == "-h" || first == "help" {
      if arguments.count > 1, let command = commands.first(where: { $0.name == arguments[1] }) {
        io.out(help(for: command))
      } else {
        io.out(mainHelp())
      }
      return ExitCode.success
    }
    if first == "--version" {
      io.out("megaplan \(version)\n")
      return ExitCode.success
    }
    guard let command = commands.first(where: { $0.name == first }) else {
      let hint = Suggestion.didYouMean(first, in: commands.map(\.name))
      io.err("error: unknown command '\(first)'\(hint)\nrun 'megaplan --help' for the commands\n")
      return ExitCode.usage
    }
    do {
      let parsed = try ParsedArguments.parse(
        Array(arguments.dropFirst()), options: command.options, command: command.name)
      if parsed.has("--help") {
        io.out(help(for: command))
        return ExitCode.success
      }
      return try command.run(parsed, io)
    } catch let error as UsageError {
      io.discard()
      io.err("error: \(error.message)\nusage: \(command.usage)\n")
      return ExitCode.usage
    } catch let error as ConfigError {
      io.discard()
      io.err(error.rendered() + "\n")
      return ExitCode.usage
    } catch let error as OutputError {
      io.discard()
      io.err("error: \(error.message)\n")
      return ExitCode.usage
    } catch {
      io.discard()
      io.err("error: \(error)\n")
      return ExitCode.usage
    }
  }

  static func mainHelp() -> String {
    var lines = [
      "megaplan \(version): plan Megatron-LM / NeMo GPT training runs before you book the GPUs",
      "",
      "usage: megaplan COMMAND FILE [options]",
      "",
      "commands:",
    ]
    for command in commands { lines.append("  \(Format.pad(command.name, 11)) \(command.summary)") }
    lines += [
      "",
      "  megaplan COMMAND --help    options of one command",
      "  megaplan --version",
      "",
      "FILE is a NeMo training YAML (the file you give NeMo), a Megatron-Bridge ConfigContainer",
      "YAML (override YAML files may follow it) or, with --megatron-args, a Megatron-LM launch",
      "script; - reads it from standard input. KEY=VALUE arguments after FILE override keys as",
      "Hydra does (+KEY=VALUE adds, ~KEY removes). Exit codes: 0 done, 1 a check failed or",
      "search, size or scale found nothing that fits, 64 usage, config or output error.",
    ]
    return lines.joined(separator: "\n") + "\n"
  }

  static func help(for command: Command) -> String {
    var lines = [
      "megaplan \(command.name): \(command.summary)", "", "usage: \(command.usage)", "", "options:",
    ]
    for option in command.options {
      let name = option.takesValue ? "\(option.name) \(option.valueName)" : option.name
      lines.append("  \(Format.pad(name, 26)) \(option.help)")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The positional FILE argument (config.json's path when --hf-config is the input). Further
  /// files are override YAML merged over a Megatron-Bridge FILE (`ConfigInput.load`).
  static func singleFile(_ parsed: ParsedArguments) throws -> String {
    guard let file = parsed.positional.first else {
      // --hf-config alone is the whole input.
      if let hf = parsed.value("--hf-config"), !parsed.has("--megatron-args") { return hf }
      throw UsageError(message: "missing FILE (a NeMo YAML config, or --hf-config config.json)")
    }
    return file
  }

}
