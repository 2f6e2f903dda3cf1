import MegatronPlan

/// `megaplan serve FILE [--precision …] [--input N] [--output N] [--batch LIST] …`: inference
/// sizing of the model FILE trains. FILE's training layout is ignored: serving picks its own t
/// and p (or takes --tensor/--pipeline).
enum ServeCommand {
  static let defaultBatches = [1, 8, 32, 64, 128, 256]
  static let defaultInput = 1024
  static let defaultOutput = 256

  static let options: [OptionSpec] =
    [
      OptionSpec(
        name: "--engine", takesValue: true,
        help: "serving engine: vllm (default), trtllm, sglang or pytorch (docs/serve.md, Engines)",
        valueName: "E"),
      OptionSpec(
        name: "--cuda-graphs", takesValue: true,
        help: "decode steps as CUDA graphs: on or off (default: the engine's)", valueName: "on|off"),
      OptionSpec(
        name: "--precision", takesValue: true,
        help:
          "weights: bf16, fp16, fp8, int8, int4 or nvfp4 (Blackwell) (default: the training precision)",
        valueName: "P"),
      OptionSpec(
        name: "--kv-precision", takesValue: true,
        help: "KV cache: bf16, fp16, fp8 or int8 (default: the 16-bit type of the weights)",
        valueName: "P"),
      OptionSpec(
        name: "--input", takesValue: true, help: "prompt tokens per request (default 1024)",
        valueName: "N"),
      OptionSpec(
        name: "--output", takesValue: true, help: "generated tokens per request (default 256)",
        valueName: "N"),
      OptionSpec(
        name: "--batch", takesValue: true,
        help: "requests decoded together, one or a comma list (default 1,8,32,64,128,256)",
        valueName: "N|LIST"),
      OptionSpec(
        name: "--tensor", takesValue: true, help: "fix t (default: searched)", valueName: "N"),
      OptionSpec(
        name: "--pipeline", takesValue: true, help: "fix p (default: searched)", valueName: "N"),
      OptionSpec(
        name: "--expert-parallel", takesValue: true,
        help:
          "MoE: spread each stage's experts over N of its t GPUs, each expert split over t/N (default 1: experts tensor-parallel, as vLLM and TensorRT-LLM shard them)",
        valueName: "N"),
      OptionSpec(
        name: "--max-latency-ms", takesValue: true,
        help: "end-to-end latency target per request: the fastest layout meeting it",
        valueName: "X"),
      OptionSpec(
        name: "--min-throughput", takesValue: true,
        help: "output tokens/s per replica target: the fastest layout meeting it",
        valueName: "X"),
      OptionSpec(
        name: "--rate", takesValue: true,
        help:
          "requests per second under continuous batching: replicas, steady batch, TTFT, TPOT and the throughput-latency curve",
        valueName: "R"),
      OptionSpec(
        name: "--slo", takesValue: true,
        help:
          "latency target with --rate, e.g. ttft=500ms,tpot=50ms: the replicas and GPUs it takes, and the cheapest layout, weights and engine",
        valueName: "ttft=X,tpot=Y"),
      OptionSpec(
        name: "--chart", takesValue: true,
        help: "with --rate: also write an SVG of the throughput-latency curve",
        valueName: "OUT.svg"),
      OptionSpec(
        name: "--gpu-memory-utilization", takesValue: true,
        help: "share of GPU memory the engine may use (default 0.9, as vLLM)", valueName: "F"),
      OptionSpec(
        name: "--format", takesValue: true, help: "text (default), json, csv or markdown",
        valueName: "FORMAT"),
    ] + CLI.commonConfigOptions.filter { $0.name != "--gpus" }

  static func run(_ parsed: ParsedArguments, _ io: CLIOutput) throws -> Int32 {
    let format = try parsed.choice(
      "--format", in: ["text", "json", "csv", "markdown"], default: "text")
    let file = try CLI.singleFile(parsed)
    let loaded = try loadForServing(file, parsed, io)
    if loaded.run.model.mla != nil {
      // MLA caches the compressed latents, not per-head keys and values.
      throw ConfigError(
        "serve does not model multi-latent attention yet (its KV cache holds the latents); estimate, compare, check and search do",
        key: "model.multi_latent_attention")
    }
    if loaded.run.model.encoderDecoder != nil {
      // An encoder-decoder server runs the encoder once per request and caches the decoder's
      // self-attention and every layer's cross-attention keys and values.
      throw ConfigError(
        "serve does not model encoder-decoder (T5) serving yet (an encoder pass per request, cross-attention caches); estimate, compare, check and search do",
        key: "model.encoder")
    }
    let run = loaded.run

    let trainingPrecision: ServingPrecision = run.precision == .fp16 ? .fp16 : .bf16
    let precisionName = try parsed.choice(
      "--precision", in: ServingPrecision.allCases.map(\.rawValue),
      default: trainingPrecision.rawValue)
    let precision = ServingPrecision(rawValue: precisionName) ?? trainingPrecision
    // The KV cache keeps the model's 16-bit type (vLLM `--kv-cache-dtype auto`): fp16 when the
    // weights or the training run are fp16, else bf16.
    let defaultKV: KVCachePrecision =
      precision == .fp16 || (precision != .bf16 && trainingPrecision == .fp16) ? .fp16 : .bf16
    let kvName = try parsed.choice(
      "--kv-precision", in: KVCachePrecision.allCases.map(\.rawValue), default: defaultKV.rawValue)
    let engineName = try parsed.choice(
      "--engine", in: ServingEngine.allCases.map(\.rawValue), default: ServingEngine.vllm.rawValue)
    let engine = ServingEngine(rawValue: engineName) ?? .vllm
    let graphs = try parsed.value("--cuda-graphs").map { _ in
      try parsed.choice("--cuda-graphs", in: ["on", "off"], default: "on") == "on"
    }
    var settings = ServingModel.Settings(
      precision: precision, kvPrecision: KVCachePrecision(rawValue: kvName) ?? defaultKV,
      engine: engine, cudaGraphs: graphs)
    if let f = try parsed.number("--gpu-memory-utilization") {
      guard f > 0, f <= 1 else {
        throw UsageError(
          message: "option '--gpu-memory-utilization' expects a number in (0, 1], found '\(f)'")
      }
      settings.gpuMemoryUtilization = f
    }
    let limit = 1 << 24
    let input = try parsed.positiveInt("--input", max: limit) ?? defaultInput
    let output = try parsed.positiveInt("--output", max: limit) ?? defaultOutput
    if parsed.has("--rate") || parsed.has("--slo") || parsed.has("--chart") {
      return try runLoad(
        parsed, io, file: file, model: run.model, gpu: run.hardwareGPU ?? run.gpu,
        settings: settings, mix: RequestMix(input: input, output: output), format: format,
        trainingPrecision: trainingPrecision)
    }
    let batches = try batchList(parsed.value("--batch"))
    var targets = ServingPlan.Targets()
    if let ms = try parsed.number("--max-latency-ms") { targets.maxLatencySeconds = ms / 1e3 }
    targets.minTokensPerSecond = try parsed.number("--min-throughput")

    // The hardware's own nodes, not the training file's `trainer.devices`: serve lays out
    // its replicas itself.
    // The run's constants: a calibrated profile (`megaplan.hardware`, `--hardware`) applies.
    let serving = ServingModel(
      model: run.model, gpu: run.hardwareGPU ?? run.gpu, settings: settings,
      constants: run.constants)
    try serving.validateSettings()
    let rows = try ServingPlan.plan(
      serving, input: input, output: output, batches: batches,
      tensor: try parsed.positiveInt("--tensor"), pipeline: try parsed.positiveInt("--pipeline"),
      expertParallel: try parsed.positiveInt("--expert-parallel"), targets: targets)
    let report = ServeReport(serving: serving, rows: rows)
    switch format {
    case "json": io.out(try report.json() + "\n")
    case "csv": io.out(report.csv())
    case "markdown": io.out(report.markdown())
    default: io.out(report.text(source: file))
    }
    let failed = rows.contains { !$0.point.memory.fits || $0.meetsTarget == false }
    return failed ? ExitCode.failure : ExitCode.success
  }

  /// FILE as serve reads it: its training layout is ignored, so a training GPU count that is
  /// missing (a launch template without one) or cannot hold the file's t × p is replaced by
  /// t × p GPUs rather than stopping serve; any other error stands.
  static func loadForServing(_ file: String, _ parsed: ParsedArguments, _ io: CLIOutput) throws
    -> ConfigInput.Loaded
  {
    do {
      return try ConfigInput.load(path: file, parsed: parsed, io: io, applyGPUCount: false)
    } catch let error as ConfigError
      where error.note == MegatronArguments.gpuCountNote
      || error.key == "trainer.num_nodes" || error.key == "trainer.devices"
    {
      guard let gpus = modelParallelGPUs(file, parsed, io) else { throw error }
      var again = parsed
      again.values["--gpus"] = [String(gpus)]
      return try ConfigInput.load(path: file, parsed: again, io: io, applyGPUCount: true)
    }
  }

  /// t × p as FILE sets them (1 each when absent), or nil when FILE cannot be read that far.
  static func modelParallelGPUs(_ file: String, _ parsed: ParsedArguments, _ io: CLIOutput) -> Int?
  {
    guard let source = try? ConfigInput.read(file, io: io) else { return nil }
    let document: ConfigDocument
    if parsed.has("--megatron-args") {
      guard let root = try? MegatronArguments.parse(source.text, file: source.name, gpus: 1)
      else { return nil }
      document = ConfigDocument(root: root, file: source.name)
    } else {
      guard let doc = try? ConfigDocument.parse(source.text, file: source.name) else { return nil }
      document = doc
    }
    func size(_ key: String) -> Int? {
      guard let value = try? document.value(at: key) else { return 1 }
      switch value.scalar {
      case .int(let n) where n >= 1 && n <= ConfigLoader.maximumSize: return n
      case .null, .none: return 1
      default: return nil
      }
    }
    guard let t = size("model.tensor_model_parallel_size"),
      let p = size("model.pipeline_model_parallel_size")
    else { return nil }
    return t * p
  }

  /// `serve --rate R [--slo ttft=…,tpot=…] [--chart OUT.svg]`: continuous batching at a rate
  /// (one layout: the file's engine and format, t and p as given or the smallest that fits), or
  /// with a target the capacity search over t, formats and engines (`ServingCapacity`).
  static func runLoad(
    _ parsed: ParsedArguments, _ io: CLIOutput, file: String, model: TransformerModel, gpu: GPU,
    settings: ServingModel.Settings, mix: RequestMix, format: String,
    trainingPrecision: ServingPrecision
  ) throws -> Int32 {
    guard let rate = try parsed.number("--rate") else {
      let other = parsed.has("--slo") ? "--slo" : "--chart"
      throw UsageError(message: "option '\(other)' needs '--rate' (requests per second)")
    }
    guard rate > 0 else {
      throw UsageError(message: "option '--rate' expects a positive number, found '\(rate)'")
    }
    for option in ["--batch", "--max-latency-ms", "--min-throughput"] where parsed.has(option) {
      throw UsageError(
        message:
          "option '\(option)' sets a static batch or its targets; with '--rate' the batch follows from the rate (use '--slo' for targets)"
      )
    }
    guard settings.engine.continuousBatching else {
      throw ConfigError(
        "plain PyTorch runs one static batch at a time; continuous batching at a rate needs --engine vllm, trtllm or sglang",
        key: "--engine")
    }
    let slo = try parsed.value("--slo").map(parseSLO)
    let chart = parsed.value("--chart")
    // Before the work: an unwritable chart path fails with nothing printed.
    if let chart { try OutputFile.checkWritable(chart) }
    let tensor = try parsed.positiveInt("--tensor"), pipeline = try parsed.positiveInt("--pipeline")
    let ep = try parsed.positiveInt("--expert-parallel")
    var serving = ServingModel(model: model, gpu: gpu, settings: settings)
    try serving.validateSettings()
    var capacity: ServingCapacity.Answer? = nil
    var layout: ServingModel.Layout
    if let slo {
      let engines =
        parsed.has("--engine")
        ? [settings.engine] : ServingEngine.allCases.filter(\.continuousBatching)
      let precisions =
        parsed.has("--precision")
        ? [settings.precision]
        : [trainingPrecision, .fp8, .int4, .nvfp4]
      let answer = try ServingCapacity.plan(
        model: model, gpu: gpu, base: settings, mix: mix, rate: rate, slo: slo, engines: engines,
        precisions: precisions, tensor: tensor, pipeline: pipeline)
      capacity = answer
      guard let shown = answer.cheapest ?? answer.candidates.first else {
        throw ConfigError(
          "no layout of \(gpu.displayName) holds the model with one request of \(mix.input) + \(mix.output) tokens",
          key: "--rate")
      }
      var chosen = settings
      chosen.profile = shown.engine.profile
      chosen.precision = shown.precision
      chosen.blockTokens = shown.engine.profile.kvBlockTokens
      chosen.maxBatchedTokens = shown.engine.profile.maxBatchedTokens
      if shown.engine != settings.engine { chosen.cudaGraphs = shown.engine.profile.cudaGraphs }
      serving = ServingModel(model: model, gpu: gpu, settings: chosen)
      layout = shown.layout
    } else {
      let rows = try ServingPlan.plan(
        serving, input: mix.input, output: mix.output, batches: [1], tensor: tensor,
        pipeline: pipeline, expertParallel: ep)
      guard let first = rows.first else {
        throw ConfigError("no layout searched holds the model", key: "--rate")
      }
      layout = first.point.layout
    }
    let report = ServeLoadReport(
      serving: serving, layout: layout, mix: mix, rate: rate, capacity: capacity)
    switch format {
    case "json": io.out(try report.json() + "\n")
    case "csv": io.out(report.csv())
    case "markdown": io.out(report.markdown())
    default: io.out(report.text(source: file))
    }
    if let chart {
      let title =
        "\(model.layers)-layer model on \(gpu.displayName), \(serving.settings.engine.displayName) \(serving.settings.precision.rawValue), t \(layout.tensor): \(mix.input)/\(mix.output) tokens"
      io.file(
        ServeCurveChart.svg(report.curve, operating: report.point, slo: slo, title: title),
        to: chart)
    }
    return report.met ? ExitCode.success : ExitCode.failure
  }

  /// `--slo ttft=500ms,tpot=50ms`: each item `ttft` or `tpot` = a positive number of
  /// milliseconds (`ms`, the default) or seconds (`s`).
  static func parseSLO(_ text: String) throws -> ServiceLevel {
    var slo = ServiceLevel()
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      let parts = item.split(separator: "=", maxSplits: 1).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard parts.count == 2 else {
        throw UsageError(
          message:
            "option '--slo' expects ttft=X and/or tpot=Y separated by commas (X, Y in ms or s), found '\(item)'"
        )
      }
      let key = parts[0], value = parts[1]
      var number = value, scale = 1e-3
      if value.hasSuffix("ms") {
        number = String(value.dropLast(2))
      } else if value.hasSuffix("s") {
        number = String(value.dropLast())
        scale = 1
      }
      guard let x = Double(number), x.isFinite, x > 0 else {
        throw UsageError(
          message:
            "option '--slo' expects a positive time for '\(key)' (e.g. 500ms or 0.5s), found '\(value)'"
        )
      }
      switch key {
      case "ttft": slo.ttftSeconds = x * scale
      case "tpot": slo.tpotSeconds = x * scale
      default:
        throw UsageError(
          message:
            "option '--slo' knows ttft and tpot, found '\(key)'\(Suggestion.didYouMean(key, in: ["ttft", "tpot"]))"
        )
      }
    }
    return slo
  }

  /// `--batch 8` or `--batch 1,8,32`: positive integers up to 2^20, in the order given.
  static func batchList(_ text: String?) throws -> [Int] {
    guard let text else { return defaultBatches }
    let words = text.split(separator: ",", omittingEmptySubsequences: false)
    var out: [Int] = []
    for word in words {
      let trimmed = word.trimmingCharacters(in: .whitespaces)
      guard let n = Int(trimmed), n > 0, n <= 1 << 20 else {
        throw UsageError(
          message:
            "option '--batch' expects a positive integer up to \(1 << 20) or a comma list of them, found '\(trimmed)'"
        )
      }
      out.append(n)
    }
    return out
  }
}
