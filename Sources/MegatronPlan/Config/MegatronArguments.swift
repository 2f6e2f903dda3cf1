/// Reads a Megatron-LM launch script (or a bare argument list) into the NeMo-shaped
/// `ConfigNode` tree that a NeMo YAML file with the same settings would give, so the rest of
/// megaplan reads both alike. Every scalar points at the text it came from in the script; a
/// value that came through a variable points at the place the variable's value is written.
/// See docs/megatron-args.md for the flags and rules.
public enum MegatronArguments {
  /// Scripts larger than this are refused rather than read.
  public static let maxBytes = 16 << 20

  /// The Megatron flags megaplan maps, with the NeMo key each becomes (for docs and tests).
  public static let mappedFlags: [(flag: String, key: String)] =
    coreFlags + architectureFlags + encoderDecoderFlags

  static let coreFlags: [(flag: String, key: String)] = [
    ("--num-layers", "model.num_layers"),
    ("--hidden-size", "model.hidden_size"),
    ("--ffn-hidden-size", "model.ffn_hidden_size"),
    ("--num-attention-heads", "model.num_attention_heads"),
    ("--seq-length", "model.encoder_seq_length"),
    ("--max-position-embeddings", "model.max_position_embeddings"),
    ("--micro-batch-size", "model.micro_batch_size"),
    ("--global-batch-size", "model.global_batch_size"),
    ("--tensor-model-parallel-size", "model.tensor_model_parallel_size"),
    ("--pipeline-model-parallel-size", "model.pipeline_model_parallel_size"),
    ("--virtual-pipeline-model-parallel-size", "model.virtual_pipeline_model_parallel_size"),
    ("--num-layers-per-virtual-pipeline-stage", "model.virtual_pipeline_model_parallel_size"),
    ("--context-parallel-size", "model.context_parallel_size"),
    ("--cp-comm-type", "model.cp_comm_type"),
    ("--hierarchical-context-parallel-sizes", "model.hierarchical_context_parallel_sizes"),
    ("--sequence-parallel", "model.sequence_parallel"),
    ("--recompute-granularity", "model.activations_checkpoint_granularity"),
    ("--recompute-activations", "model.activations_checkpoint_granularity"),
    ("--checkpoint-activations", "model.activations_checkpoint_granularity"),
    ("--recompute-method", "model.activations_checkpoint_method"),
    ("--recompute-num-layers", "model.activations_checkpoint_num_layers"),
    ("--untie-embeddings-and-output-weights", "model.share_embeddings_and_output_weights"),
    ("--make-vocab-size-divisible-by", "model.make_vocab_size_divisible_by"),
    ("--swiglu", "model.activation"),
    ("--normalization", "model.normalization"),
    ("--position-embedding-type", "model.position_embedding_type"),
    ("--num-query-groups", "model.num_query_groups"),
    ("--num-experts", "model.num_moe_experts"),
    ("--tokenizer-type", "model.tokenizer.type"),
    ("--use-distributed-optimizer", "model.optim.name"),
    ("--merge-file", "model.tokenizer.type"),
    ("--use-flash-attn", "model.use_flash_attention"),
    ("--transformer-impl", "model.transformer_engine"),
    ("--overlap-grad-reduce", "model.optim.overlap_grad_sync"),
    ("--nnodes", "trainer.num_nodes"),
    ("#SBATCH --nodes", "trainer.num_nodes"),
    ("--nproc_per_node", "trainer.devices"),
    ("--nproc-per-node", "trainer.devices"),
    ("#SBATCH --gpus-per-node", "trainer.devices"),
    ("#SBATCH --gres=gpu:N", "trainer.devices"),
    ("#SBATCH --ntasks-per-node", "trainer.devices"),
    ("--bf16", "trainer.precision"),
    ("--fp16", "trainer.precision"),
    ("--vocab-size", "megaplan.vocab_size"),
    ("--train-samples", "megaplan.train_tokens"),
    ("--train-iters", "megaplan.train_tokens"),
    ("--zero-stage", "megaplan.zero_stage"),
    ("--deepspeed", "megaplan.deepspeed"),
    ("--attention-backend", "megaplan.fused_attention"),
    ("--rampup-batch-size", "model.rampup_batch_size"),
    ("--step-batch-size-schedule", "model.rampup_batch_size"),
    ("WORLD_SIZE", "trainer.num_nodes"),
  ]

  /// Flags that change memory or time in a way megaplan does not model: refused with the flag
  /// named, never read as if absent. PyTorch's FSDP2 (`--use-torch-fsdp2`) shards differently
  /// from Megatron-FSDP, which is modeled (`--use-custom-fsdp`, `--use-megatron-fsdp`).
  public static let refusedFlags: [(flag: String, key: String, what: String)] = [
    (
      "--use-torch-fsdp2", "model.fsdp",
      "PyTorch FSDP2 (parameters, gradients and optimizer states sharded by torch)"
    )
  ]

  /// `--attention-backend` values: Megatron-Core's `AttnBackend`. `auto` lets Transformer
  /// Engine pick, which is its fused attention (FusedAttention / flash) on the GPUs megaplan
  /// models; `unfused` and `local` store the s × s scores.
  static let attentionBackends: [String: Bool] = [
    "auto": true, "flash": true, "fused": true, "unfused": false, "local": false,
  ]

  /// The note of every error about a missing or unreadable GPU count.
  public static let gpuCountNote = "give the GPU count with --gpus"

  /// Flags that take a value (the next word, or `--flag=value`).
  static let valueFlags: Set<String> = [
    "--num-layers", "--hidden-size", "--ffn-hidden-size", "--num-attention-heads", "--seq-length",
    "--max-position-embeddings", "--micro-batch-size", "--global-batch-size",
    "--tensor-model-parallel-size", "--pipeline-model-parallel-size",
    "--virtual-pipeline-model-parallel-size", "--num-layers-per-virtual-pipeline-stage",
    "--context-parallel-size", "--recompute-granularity", "--recompute-method",
    "--recompute-num-layers",
    "--make-vocab-size-divisible-by", "--normalization", "--position-embedding-type",
    "--num-query-groups", "--num-experts", "--tokenizer-type", "--vocab-size", "--train-samples",
    "--train-iters", "--zero-stage", "--nnodes", "--nproc_per_node", "--nproc-per-node",
    "--vocab-file", "--merge-file", "--transformer-impl", "--attention-backend",
    "--pad-vocab-size-to", "--rampup-batch-size", "--fp8-format", "--pp-partition-method",
    "--cp-comm-type", "--hierarchical-context-parallel-sizes", "--step-batch-size-schedule",
  ]

  /// Value flags that take several words (argparse `nargs='+'`): every word up to the next flag,
  /// joined by spaces. `--cp-comm-type` with one type per layer is refused when read.
  static let multiWordFlags: Set<String> = [
    "--cp-comm-type", "--hierarchical-context-parallel-sizes",
  ]

  /// Flags that stand alone.
  static let switchFlags: Set<String> = [
    "--sequence-parallel", "--recompute-activations", "--checkpoint-activations",
    "--use-distributed-optimizer", "--untie-embeddings-and-output-weights", "--bf16", "--fp16",
    "--swiglu", "--group-query-attention", "--overlap-grad-reduce", "--use-flash-attn",
    "--tp-comm-overlap", "--overlap-param-gather", "--fp8-hybrid", "--fp8-e4m3",
    "--use-torch-fsdp2", "--use-custom-fsdp", "--use-megatron-fsdp", "--embed-layernorm",
    "--deepspeed",
  ]

  /// Plain scalar keys: flag → NeMo key.
  static let plainKeys: [(flag: String, key: [String], integer: Bool)] = [
    ("--num-layers", ["model", "num_layers"], true),
    ("--hidden-size", ["model", "hidden_size"], true),
    ("--ffn-hidden-size", ["model", "ffn_hidden_size"], true),
    ("--num-attention-heads", ["model", "num_attention_heads"], true),
    ("--seq-length", ["model", "encoder_seq_length"], true),
    ("--max-position-embeddings", ["model", "max_position_embeddings"], true),
    ("--micro-batch-size", ["model", "micro_batch_size"], true),
    ("--global-batch-size", ["model", "global_batch_size"], true),
    ("--tensor-model-parallel-size", ["model", "tensor_model_parallel_size"], true),
    ("--pipeline-model-parallel-size", ["model", "pipeline_model_parallel_size"], true),
  ]

  /// Reads a launch script or argument list. `gpus`/`gpuName` are megaplan's own --gpus/--gpu
  /// flags (they win over the script).
  public static func parse(_ text: String, file: String, gpus: Int? = nil, gpuName: String? = nil)
    throws
    -> ConfigNode
  {
    guard text.utf8.count <= maxBytes else {
      throw ConfigError(
        "\(file) is \(text.utf8.count) bytes; megaplan reads launch scripts up to \(maxBytes) bytes",
        at: SourceLocation(file: file, line: 1, column: 1))
    }
    var reader = ShellReader(text: text, file: file)
    try reader.run()
    var mapper = Mapper(reader: reader, file: file)
    return try mapper.tree(gpus: gpus, gpuName: gpuName)
  }
}

/// A flag found on a command line, with its value's characters when it takes one.
struct FlagOccurrence {
  var name: String
  var flag: [ShellElement]
  var value: [ShellElement]?
}

/// One scalar of the tree being built.
struct TreeEntry {
  var path: [String]
  var value: String
  var valueLocation: SourceLocation
  var keyLocation: SourceLocation
}

struct Mapper {
  let reader: ShellReader
  let file: String
  /// The last occurrence of each mapped flag.
  var flags: [String: FlagOccurrence] = [:]
  /// Where the first flag megaplan reads is: defaults (Megatron's, not written in the script)
  /// point there.
  var defaultLocation: SourceLocation
  var entries: [TreeEntry] = []

  init(reader: ShellReader, file: String) {
    self.reader = reader
    self.file = file
    var first: SourceLocation?
    for command in reader.commands {
      var tokens: [[ShellElement]] = []
      for field in command {
        var current: [ShellElement] = []
        for e in field {
          if e.isBlank {
            if !current.isEmpty { tokens.append(current) }
            current = []
          } else {
            current.append(e)
          }
        }
        if !current.isEmpty { tokens.append(current) }
      }
      var k = 0
      while k < tokens.count {
        let token = tokens[k]
        let text = ShellReader.text(token)
        k += 1
        guard text.hasPrefix("--"), text.count > 2 else { continue }
        var name = text
        var flagElements = token
        var value: [ShellElement]?
        if let eq = token.firstIndex(where: {
          if case .char("=", _) = $0 { return true } else { return false }
        }) {
          flagElements = Array(token[..<eq])
          name = ShellReader.text(flagElements)
          value = Array(token[(eq + 1)...])
        }
        if MegatronArguments.valueFlags.contains(name)
          || MegatronArguments.architectureValueFlags.contains(name)
          || MegatronArguments.encoderDecoderValueFlags.contains(name)
        {
          if value == nil, k < tokens.count, !ShellReader.text(tokens[k]).hasPrefix("--") {
            value = tokens[k]
            k += 1
            // `nargs='*'`/`'+'` flags take every word up to the next flag, kept blank-separated.
            if MegatronArguments.architectureListFlags.contains(name)
              || MegatronArguments.multiWordFlags.contains(name)
            {
              while k < tokens.count, !ShellReader.text(tokens[k]).hasPrefix("--") {
                if let origin = value?.last?.origin { value?.append(.char(" ", origin)) }
                value?.append(contentsOf: tokens[k])
                k += 1
              }
            }
          }
        } else if !MegatronArguments.switchFlags.contains(name)
          && !MegatronArguments.architectureSwitchFlags.contains(name)
        {
          continue
        }
        if first == nil { first = reader.location(of: flagElements) }
        flags[name] = FlagOccurrence(name: name, flag: flagElements, value: value)
      }
    }
    defaultLocation = first ?? reader.location(ShellOrigin(line: 1, column: 1, width: 0), length: 1)
  }

  // MARK: - Values

  func has(_ flag: String) -> Bool { flags[flag] != nil }

  func flagLocation(_ flag: String) -> SourceLocation? {
    flags[flag].map { reader.location(of: $0.flag) }
  }

  /// The value of a flag, checked for variables that are not set and commands megaplan does not
  /// run.
  func value(_ flag: String, key: String) throws -> (
    text: String, location: SourceLocation, keyLocation: SourceLocation
  )? {
    guard let occurrence = flags[flag] else { return nil }
    let keyLocation = reader.location(of: occurrence.flag)
    guard let elements = occurrence.value, !elements.isEmpty else {
      throw ConfigError("\(flag) has no value; it sets '\(key)'", key: key, at: keyLocation)
    }
    for case .problem(let problem, let origin) in elements {
      let at = reader.location(origin, length: max(1, origin.width))
      switch problem {
      case .unset(let name):
        throw ConfigError(
          "\(flag) needs variable '\(name)', which is not set in \(file)", key: key, at: at,
          note: Int(name) != nil
            ? "positional parameters ($1, $2, ...) are empty when megaplan reads a script" : nil)
      case .commandSubstitution(let text):
        throw ConfigError(
          "\(flag) takes its value from the command '\(text)', which megaplan does not run",
          key: key, at: at)
      case .unsupported(let text):
        throw ConfigError(
          "\(flag) uses '\(text)', which megaplan cannot evaluate", key: key, at: at)
      }
    }
    let text = ShellReader.text(elements)
    if text.isEmpty {
      throw ConfigError(
        "\(flag) has an empty value; it sets '\(key)'", key: key, at: reader.location(of: elements))
    }
    return (text, reader.location(of: elements), keyLocation)
  }

  /// Python's `int()` accepts `220_000_000`, and Megatron reads its flags with it; the tree gets
  /// the plain digits.
  static func integerText(_ text: String) -> String? {
    var body = Substring(text)
    var sign = ""
    if body.first == "+" || body.first == "-" {
      sign = body.first == "-" ? "-" : ""
      body = body.dropFirst()
    }
    let groups = body.split(separator: "_", omittingEmptySubsequences: false)
    guard !groups.isEmpty,
      groups.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } })
    else {
      return nil
    }
    return sign + groups.joined()
  }

  func integer(_ flag: String, key: String) throws -> (
    value: Int, location: SourceLocation, keyLocation: SourceLocation
  )? {
    guard let (text, location, keyLocation) = try value(flag, key: key) else { return nil }
    guard let digits = Self.integerText(text), let n = Int(digits) else {
      throw ConfigError("expected an integer for \(flag), found '\(text)'", key: key, at: location)
    }
    return (n, location, keyLocation)
  }

  mutating func set(
    _ path: [String], _ value: String, at location: SourceLocation, key keyLocation: SourceLocation
  ) {
    entries.removeAll { $0.path == path }
    entries.append(
      TreeEntry(path: path, value: value, valueLocation: location, keyLocation: keyLocation))
  }

  /// Copies a flag's value to a key; integers lose Python's `_` digit separators.
  mutating func copy(
    _ flag: String, to path: [String], integer: Bool, transform: (String) -> String = { $0 }
  ) throws {
    let key = path.joined(separator: ".")
    guard let (text, location, keyLocation) = try value(flag, key: key) else { return }
    let written = integer ? (Self.integerText(text) ?? text) : transform(text)
    set(path, written, at: location, key: keyLocation)
  }

  mutating func setSwitch(_ flag: String, _ path: [String], _ value: String) {
    guard let location = flagLocation(flag) else { return }
    set(path, value, at: location, key: location)
  }

  // MARK: - The tree

  /// The `#SBATCH` directive that gives GPUs per node: `--gpus-per-node`, else `--gres=gpu:N`.
  func gpusPerNodeDirective() -> (String, SBatchOption)? {
    if let option = reader.sbatch["gpus-per-node"] { return ("gpus-per-node", option) }
    if let option = reader.sbatch["gres"], ShellReader.text(option.value).hasPrefix("gpu:") {
      return ("gres", option)
    }
    return nil
  }

  mutating func tree(gpus: Int?, gpuName: String?) throws -> ConfigNode {
    try refuseUnmodeled()
    for (flag, path, integer) in MegatronArguments.plainKeys {
      try copy(flag, to: path, integer: integer)
    }
    try virtualPipeline()
    try copy("--context-parallel-size", to: ["model", "context_parallel_size"], integer: true)
    try copy("--cp-comm-type", to: ["model", "cp_comm_type"], integer: false)
    try copy(
      "--hierarchical-context-parallel-sizes",
      to: ["model", "hierarchical_context_parallel_sizes"],
      integer: false)
    setSwitch("--sequence-parallel", ["model", "sequence_parallel"], "true")
    try recompute()
    if let location = flagLocation("--untie-embeddings-and-output-weights") {
      set(["model", "share_embeddings_and_output_weights"], "false", at: location, key: location)
    } else {
      set(
        ["model", "share_embeddings_and_output_weights"], "true", at: defaultLocation,
        key: defaultLocation)
    }
    try copy(
      "--make-vocab-size-divisible-by", to: ["model", "make_vocab_size_divisible_by"], integer: true
    )
    setSwitch("--swiglu", ["model", "activation"], "swiglu")
    try copy("--normalization", to: ["model", "normalization"], integer: false) { $0.lowercased() }
    try copy("--position-embedding-type", to: ["model", "position_embedding_type"], integer: false)
    if has("--group-query-attention") {
      try copy("--num-query-groups", to: ["model", "num_query_groups"], integer: true)
    }
    try copy("--num-experts", to: ["model", "num_moe_experts"], integer: true)
    try copy("--tokenizer-type", to: ["model", "tokenizer", "type"], integer: false)
    if !has("--tokenizer-type"),
      let location = flagLocation("--merge-file") ?? flagLocation("--vocab-file")
    {
      // Older Megatron scripts name the GPT-2 BPE files instead of a tokenizer type.
      set(["model", "tokenizer", "type"], "GPT2BPETokenizer", at: location, key: location)
    }
    setSwitch("--use-flash-attn", ["model", "use_flash_attention"], "true")
    if let (impl, location, keyLocation) = try value(
      "--transformer-impl", key: "model.transformer_engine"), impl == "transformer_engine"
    {
      // Megatron-Core with Transformer Engine: attention runs as TE's fused kernel.
      set(["model", "transformer_engine"], "true", at: location, key: keyLocation)
      set(["model", "mcore_gpt"], "true", at: location, key: keyLocation)
    }
    if let location = flagLocation("--use-distributed-optimizer") {
      set(["model", "optim", "name"], "distributed_fused_adam", at: location, key: location)
    } else {
      set(["model", "optim", "name"], "fused_adam", at: defaultLocation, key: defaultLocation)
    }
    setSwitch("--overlap-grad-reduce", ["model", "optim", "overlap_grad_sync"], "true")
    try architecture()
    try encoderDecoder()  // MegatronArguments+EncoderDecoder.swift
    try copy("--rampup-batch-size", to: ["model", "rampup_batch_size"], integer: false)
    // Megatron-LM's newer ramp (`--step-batch-size-schedule "0:16 2.4B:320 …"`, global batch by
    // consumed tokens) is a batch ramp-up too: warned about as `rampup_batch_size` is.
    try copy("--step-batch-size-schedule", to: ["model", "rampup_batch_size"], integer: false)

    try gpuCount(gpus: gpus)
    try precision()
    try attentionBackend()

    try copy("--vocab-size", to: ["megaplan", "vocab_size"], integer: true)
    // Megatron-DeepSpeed: the padded vocabulary as given (it wins over --vocab-size's padding).
    try trainTokens()
    try copy("--zero-stage", to: ["megaplan", "zero_stage"], integer: true)
    // Megatron-DeepSpeed: the DeepSpeed engine runs the optimizer (`ConfigLoader.distributedOptimizer`).
    setSwitch("--deepspeed", ["megaplan", "deepspeed"], "true")
    if let gpuName {
      let location = Self.commandLine("--gpu", gpuName)
      set(["megaplan", "gpu"], gpuName, at: location, key: location)
    }
    return Self.build(
      entries, root: reader.location(ShellOrigin(line: 1, column: 1, width: 0), length: 1))
  }

  /// The first flag of `MegatronArguments.refusedFlags` given, refused with its name.
  func refuseUnmodeled() throws {
    for (flag, key, what) in MegatronArguments.refusedFlags {
      guard let occurrence = flags[flag] else { continue }
      let value = occurrence.value.map { " " + ShellReader.text($0) } ?? ""
      throw ConfigError(
        "\(flag)\(value): \(what) is not modeled yet", key: key,
        at: reader.location(of: occurrence.flag))
    }
  }

  /// `--attention-backend`: fused attention for auto, flash and fused; not for unfused and
  /// local (`megaplan.fused_attention`, which wins over the other attention keys).
  mutating func attentionBackend() throws {
    let key = "megaplan.fused_attention"
    guard let (text, location, keyLocation) = try value("--attention-backend", key: key) else {
      return
    }
    let names = MegatronArguments.attentionBackends.keys.sorted()
    guard let fused = MegatronArguments.attentionBackends[text.lowercased()] else {
      throw ConfigError(
        "--attention-backend '\(text)' is not one of \(names.joined(separator: ", "))\(Suggestion.didYouMean(text, in: names))",
        key: key, at: location)
    }
    set(["megaplan", "fused_attention"], fused ? "true" : "false", at: location, key: keyLocation)
  }

  /// A location for a value given on megaplan's own command line.
  static func commandLine(_ flag: String, _ value: String) -> SourceLocation {
    SourceLocation(
      file: "<command line>", line: 1, column: flag.count + 2, length: value.count,
      lineText: "\(flag) \(value)")
  }

  /// `--num-layers-per-virtual-pipeline-stage N` becomes Megatron's
  /// `virtual_pipeline_model_parallel_size = num_layers / (pipeline_model_parallel_size × N)`.
  mutating func virtualPipeline() throws {
    let key = "model.virtual_pipeline_model_parallel_size"
    if has("--virtual-pipeline-model-parallel-size") {
      try copy(
        "--virtual-pipeline-model-parallel-size",
        to: ["model", "virtual_pipeline_model_parallel_size"], integer: true)
      return
    }
    let flag = "--num-layers-per-virtual-pipeline-stage"
    guard let (perStage, location, keyLocation) = try integer(flag, key: key) else { return }
    guard let (layers, _, _) = try integer("--num-layers", key: "model.num_layers") else {
      throw ConfigError(
        "\(flag) \(perStage) needs --num-layers, which is not given", key: key, at: location)
    }
    guard
      let (pipeline, _, _) = try integer(
        "--pipeline-model-parallel-size", key: "model.pipeline_model_parallel_size")
    else {
      throw ConfigError(
        "\(flag) \(perStage) needs --pipeline-model-parallel-size, which is not given", key: key,
        at: location)
    }
    let (stage, overflow) = pipeline.multipliedReportingOverflow(by: perStage)
    guard !overflow, stage > 0, layers % stage == 0 else {
      throw ConfigError(
        "\(flag) \(perStage) does not split num_layers \(layers) evenly: pipeline_model_parallel_size \(pipeline) × \(perStage) = \(overflow ? "overflow" : String(stage)) does not divide \(layers)",
        key: key, at: location)
    }
    set(
      ["model", "virtual_pipeline_model_parallel_size"], String(layers / stage), at: location,
      key: keyLocation)
  }

  mutating func recompute() throws {
    let granularity = ["model", "activations_checkpoint_granularity"]
    let method = ["model", "activations_checkpoint_method"]
    let layers = ["model", "activations_checkpoint_num_layers"]
    if let (text, location, keyLocation) = try value(
      "--recompute-granularity", key: granularity.joined(separator: "."))
    {
      guard text == "full" || text == "selective" else {
        throw ConfigError(
          "--recompute-granularity '\(text)' is not full or selective",
          key: granularity.joined(separator: "."), at: location)
      }
      set(granularity, text, at: location, key: keyLocation)
    }
    // Megatron: `--recompute-activations` sets the granularity to selective, whatever else says.
    setSwitch("--recompute-activations", granularity, "selective")
    if let (text, location, keyLocation) = try value(
      "--recompute-method", key: method.joined(separator: "."))
    {
      guard text == "uniform" || text == "block" else {
        throw ConfigError(
          "--recompute-method '\(text)' is not uniform or block",
          key: method.joined(separator: "."), at: location)
      }
      set(method, text, at: location, key: keyLocation)
    }
    try copy("--recompute-num-layers", to: layers, integer: true)
    // Old Megatron / Megatron-DeepSpeed: `--checkpoint-activations` is full recompute, uniform,
    // one layer at a time; only when the newer flags do not say otherwise.
    if let location = flagLocation("--checkpoint-activations"), !has("--recompute-granularity"),
      !has("--recompute-activations")
    {
      set(granularity, "full", at: location, key: location)
      if !has("--recompute-method") { set(method, "uniform", at: location, key: location) }
      if !has("--recompute-num-layers") { set(layers, "1", at: location, key: location) }
    }
  }

  mutating func precision() throws {
    let bf16 = flagLocation("--bf16")
    let fp16 = flagLocation("--fp16")
    if let bf16, let fp16 {
      throw ConfigError(
        "--bf16 and --fp16 are both given; megaplan needs one precision", key: "trainer.precision",
        at: fp16, note: "--bf16 is at \(bf16)")
    }
    if let bf16 {
      set(["trainer", "precision"], "bf16", at: bf16, key: bf16)
    } else if let fp16 {
      set(["trainer", "precision"], "16", at: fp16, key: fp16)
    } else {
      set(["trainer", "precision"], "32", at: defaultLocation, key: defaultLocation)
    }
  }

  /// A node or GPU count from a variable, an `#SBATCH` option or a flag value.
  func count(_ elements: [ShellElement], what: String, key: String, keyLocation: SourceLocation)
    throws -> (String, SourceLocation)
  {
    let location = reader.location(of: elements)
    for case .problem(let problem, let origin) in elements {
      let at = reader.location(origin, length: max(1, origin.width))
      let reason: String
      switch problem {
      case .unset(let name): reason = "needs variable '\(name)', which is not set in \(file)"
      case .commandSubstitution(let text):
        reason = "takes its value from the command '\(text)', which megaplan does not run"
      case .unsupported(let text): reason = "uses '\(text)', which megaplan cannot evaluate"
      }
      throw ConfigError(
        "\(what) \(reason)", key: key, at: at, note: MegatronArguments.gpuCountNote)
    }
    let text = ShellReader.text(elements)
    if text.contains(":") || (text.dropFirst().contains("-")) {
      throw ConfigError(
        "\(what) '\(text)' is a range; megaplan needs a fixed count", key: key, at: location,
        note: MegatronArguments.gpuCountNote)
    }
    return (Self.integerText(text) ?? text, location)
  }

  mutating func gpuCount(gpus: Int?) throws {
    if let gpus {
      let location = MegatronArguments.commandLineGPUs(gpus)
      set(["trainer", "num_nodes"], "1", at: location, key: location)
      set(["trainer", "devices"], String(gpus), at: location, key: location)
      return
    }
    let nodesKey = "trainer.num_nodes"
    let devicesKey = "trainer.devices"
    if let occurrence = flags["--nnodes"] {
      let keyLocation = reader.location(of: occurrence.flag)
      guard let value = occurrence.value, !value.isEmpty else {
        throw ConfigError(
          "--nnodes has no value; it sets '\(nodesKey)'", key: nodesKey, at: keyLocation)
      }
      let (text, location) = try count(
        value, what: "--nnodes", key: nodesKey, keyLocation: keyLocation)
      set(["trainer", "num_nodes"], text, at: location, key: keyLocation)
    } else if let name = ["NNODES", "NUM_NODES"].first(where: {
      reader.value(of: $0)?.isEmpty == false
    }),
      let value = reader.value(of: name)
    {
      let (text, location) = try count(
        value, what: name, key: nodesKey, keyLocation: reader.location(of: value))
      set(["trainer", "num_nodes"], text, at: location, key: location)
    } else if let nodes = reader.sbatch["nodes"] {
      let keyLocation = reader.location(nodes.flag, length: nodes.flagLength)
      let (text, location) = try count(
        nodes.value, what: "#SBATCH --nodes", key: nodesKey, keyLocation: keyLocation)
      set(["trainer", "num_nodes"], text, at: location, key: keyLocation)
    }

    let perNode = [flags["--nproc_per_node"], flags["--nproc-per-node"]].compactMap { $0 }
    if let occurrence = perNode.last {
      let keyLocation = reader.location(of: occurrence.flag)
      guard let value = occurrence.value, !value.isEmpty else {
        throw ConfigError(
          "\(occurrence.name) has no value; it sets '\(devicesKey)'", key: devicesKey,
          at: keyLocation)
      }
      let (text, location) = try count(
        value, what: occurrence.name, key: devicesKey, keyLocation: keyLocation)
      set(["trainer", "devices"], text, at: location, key: keyLocation)
    } else if let value = reader.value(of: "GPUS_PER_NODE"), !value.isEmpty {
      let (text, location) = try count(
        value, what: "GPUS_PER_NODE", key: devicesKey, keyLocation: reader.location(of: value))
      set(["trainer", "devices"], text, at: location, key: location)
    } else if let (name, option) = gpusPerNodeDirective() {
      let keyLocation = reader.location(option.flag, length: option.flagLength)
      var value = option.value
      // `--gpus-per-node=a100:8`, `--gres=gpu:8`: the count is after the last colon.
      if let colon = value.lastIndex(where: {
        if case .char(":", _) = $0 { return true } else { return false }
      }) {
        value = Array(value[(colon + 1)...])
      }
      let (text, location) = try count(
        value, what: "#SBATCH --\(name)", key: devicesKey, keyLocation: keyLocation)
      set(["trainer", "devices"], text, at: location, key: keyLocation)
    } else if let option = reader.sbatch["ntasks-per-node"] {
      // Launched by srun without torchrun, Megatron runs one task per GPU.
      let keyLocation = reader.location(option.flag, length: option.flagLength)
      let (text, location) = try count(
        option.value, what: "#SBATCH --ntasks-per-node", key: devicesKey, keyLocation: keyLocation)
      set(["trainer", "devices"], text, at: location, key: keyLocation)
    }
    try requireGPUCount()
  }

  /// Without `--gpus`, the script must say how many GPUs it runs on: GPUs per node (with one
  /// node when no node count is given: torchrun's and Slurm's default), or a `WORLD_SIZE`
  /// variable (the total, on nodes of GPUS_PER_NODE when that is known). A script that says
  /// neither is an error, never a guess of one GPU.
  mutating func requireGPUCount() throws {
    let hasNodes = entries.contains { $0.path == ["trainer", "num_nodes"] }
    let hasDevices = entries.contains { $0.path == ["trainer", "devices"] }
    if hasDevices { return }
    if !hasNodes, let value = reader.value(of: "WORLD_SIZE"), !value.isEmpty {
      // The total on one node's worth of keys: num_nodes 1 × devices WORLD_SIZE.
      let (text, location) = try count(
        value, what: "WORLD_SIZE", key: "trainer.devices", keyLocation: reader.location(of: value))
      set(["trainer", "num_nodes"], "1", at: location, key: location)
      set(["trainer", "devices"], text, at: location, key: location)
      return
    }
    let what =
      hasNodes
      ? "the script gives a node count but not the GPUs per node (--nproc_per_node, GPUS_PER_NODE, #SBATCH --gpus-per-node, --gres=gpu:N or --ntasks-per-node)"
      : "the script does not say how many GPUs it runs on (--nnodes/--nproc_per_node, NNODES/GPUS_PER_NODE, #SBATCH --nodes/--gpus-per-node or WORLD_SIZE)"
    throw ConfigError(
      what, key: hasNodes ? "trainer.devices" : "trainer.num_nodes", at: defaultLocation,
      note: MegatronArguments.gpuCountNote)
  }

  /// megaplan.train_tokens: `--train-samples` × seq length, or `--train-iters` × global batch ×
  /// seq length.
  mutating func trainTokens() throws {
    let key = "megaplan.train_tokens"
    guard let (seq, _, _) = try integer("--seq-length", key: "model.encoder_seq_length") else {
      return
    }
    var product: (Int, Bool)
    var source: (value: Int, location: SourceLocation, keyLocation: SourceLocation)
    var flag: String
    if let samples = try integer("--train-samples", key: key) {
      source = samples
      flag = "--train-samples"
      product = samples.value.multipliedReportingOverflow(by: seq)
    } else if let iters = try integer("--train-iters", key: key),
      let (batch, _, _) = try integer("--global-batch-size", key: "model.global_batch_size")
    {
      source = iters
      flag = "--train-iters"
      let (a, o1) = iters.value.multipliedReportingOverflow(by: batch)
      let (b, o2) = a.multipliedReportingOverflow(by: seq)
      product = (b, o1 || o2)
    } else {
      return
    }
    guard !product.1, product.0 >= 0 else {
      throw ConfigError(
        "\(flag) \(source.value) gives more training tokens than megaplan can count", key: key,
        at: source.location)
    }
    set(
      ["megaplan", "train_tokens"], String(product.0), at: source.location, key: source.keyLocation)
  }

  /// Nests the entries into mappings, keys in the order they were first set.
  static func build(_ entries: [TreeEntry], root: SourceLocation) -> ConfigNode {
    func node(_ entries: [TreeEntry], depth: Int, at location: SourceLocation) -> ConfigNode {
      var order: [String] = []
      var groups: [String: [TreeEntry]] = [:]
      for entry in entries where entry.path.count > depth {
        let key = entry.path[depth]
        if groups[key] == nil { order.append(key) }
        groups[key, default: []].append(entry)
      }
      var mapping: [ConfigNode.MappingEntry] = []
      for key in order {
        let group = groups[key] ?? []
        guard let first = group.first else { continue }
        if first.path.count == depth + 1 {
          let value = ConfigNode(.scalar(first.value, style: .plain), at: first.valueLocation)
          mapping.append(
            ConfigNode.MappingEntry(key: key, keyLocation: first.keyLocation, value: value))
        } else {
          let child = node(group, depth: depth + 1, at: first.keyLocation)
          mapping.append(
            ConfigNode.MappingEntry(key: key, keyLocation: first.keyLocation, value: child))
        }
      }
      return ConfigNode(.mapping(mapping), at: location)
    }
    return node(entries, depth: 0, at: root)
  }
}

extension MegatronArguments {
  static func commandLineGPUs(_ gpus: Int) -> SourceLocation {
    Mapper.commandLine("--gpus", String(gpus))
  }
}
