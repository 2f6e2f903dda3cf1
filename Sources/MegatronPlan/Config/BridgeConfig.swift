/// Megatron-Bridge's `ConfigContainer` as YAML (what `ConfigContainer.to_yaml()` writes for every
/// run, and hand-written files of the same groups), read into the NeMo-shaped tree the rest of
/// megaplan reads, as `MegatronArguments` does for launch scripts.
///
/// The translation replays what Bridge does between the YAML and the run
/// (`runtime_config_update`, Megatron-Bridge `training/config.py`): a `mixed_precision` recipe
/// (by name or as fields) wins over the model's, DDP's and the optimizer's fields of the same
/// name (`MixedPrecisionConfig.setup`); `comm_overlap` rewrites the pipeline and data-parallel
/// overlaps (`CommOverlapConfig.setup`); the dataset owns the sequence length; a set
/// `model.vocab_size` is used unpadded. Each NeMo key keeps the location of the Bridge field it
/// came from (or of the command-line override), and `sources` says which field that was, so
/// errors and `megaplan config` point into the Bridge file. Fields that change memory or time
/// and are not modeled are refused by name (`BridgeConfig.notModeled`). docs/config.md,
/// "Megatron-Bridge", lists every field read.
public enum BridgeConfig {
  /// The `_target_` of a ConfigContainer dump's root.
  public static let containerTarget = "megatron.bridge.training.config.ConfigContainer"

  /// The ConfigContainer's groups (Megatron-Bridge `ConfigContainer` fields), and megaplan's own.
  public static let groups: Set<String> = [
    "model", "train", "optimizer", "ddp", "scheduler", "dataset", "tokenizer", "checkpoint",
    "dist", "comm_overlap", "mixed_precision", "logger", "rng", "profiling", "validation",
    "rerun_state_machine", "ft", "straggler", "nvrx_straggler", "inprocess_restart",
    "tensor_inspect", "peft", "optimizer_config_override_provider", "env_vars", "megaplan",
    "_target_",
  ]

  /// Keys of megaplan's own section that exist only in Bridge files: the GPU count, as
  /// Megatron-Bridge's performance launcher takes it (`--num_gpus`, `--gpus_per_node`).
  public static let megaplanKeys = ["num_gpus", "gpus_per_node"]

  /// Whether `root` is a ConfigContainer: its `_target_` says so, or it has Bridge's `model` and
  /// `train` groups and none of NeMo's (`trainer`), and every top-level key is a Bridge group.
  public static func isContainer(_ root: ConfigNode) -> Bool {
    if case .scalar(let target, _)? = root.entry("_target_")?.value.kind {
      return target == containerTarget
    }
    guard case .mapping(let entries) = root.kind, root.entry("trainer") == nil,
      root.entry("model") != nil, root.entry("train") != nil
    else { return false }
    return entries.allSatisfy { groups.contains($0.key) }
  }

  /// The NeMo-shaped tree of a ConfigContainer document (overrides already applied), with where
  /// each key came from.
  public static func translate(_ document: ConfigDocument) throws -> BridgeTranslation {
    var translator = BridgeTranslator(document: document)
    return try translator.run()
  }

  /// How command-line overrides apply to a Bridge document: Hydra's struct mode with the
  /// fields megaplan reads as the schema (a partial file leaves most fields at their defaults);
  /// `~key` goes back to the file's value (`original`), as Bridge's dataclass keeps it; a
  /// recipe name may replace the `mixed_precision` mapping.
  public static func overrideRules(original: ConfigNode) -> OverrideRules {
    let file = ConfigDocument(root: original, file: "")
    return OverrideRules(
      isKnown: { isKnownField($0) },
      restored: { file.node(at: $0) },
      scalarReplacesMapping: true,
      strictSet: true,
      suggestion: { Suggestion.closest(to: $0, in: knownFields.sorted()) })
  }

  /// Fields megaplan reads (any key under `megaplan`, `mixed_precision` and `env_vars` too).
  public static func isKnownField(_ key: String) -> Bool {
    if knownFields.contains(key) { return true }
    let head = key.split(separator: ".").first.map(String.init) ?? key
    return ["megaplan", "mixed_precision", "env_vars"].contains(head)
  }

  /// Every Bridge field the translation reads.
  public static let knownFields: Set<String> = {
    var out = Set(directFields.map(\.bridge))
    out.formUnion(readFields)
    out.formUnion(notModeled.map(\.key))
    return out
  }()
}

/// A translated ConfigContainer.
public struct BridgeTranslation: Sendable {
  /// The NeMo-shaped tree `ConfigLoader` reads.
  public var root: ConfigNode
  /// For each NeMo key written, the Bridge field it came from.
  public var sources: [String: BridgeSource]
  /// NeMo keys whose Bridge field was set by a command-line override.
  public var overridden: Set<String>
  public var warnings: [ConfigWarning]

  /// The Bridge field a NeMo key was read from (`model.activations_checkpoint_granularity` →
  /// `model.recompute_granularity`).
  public func bridgeKey(for nemoKey: String) -> String? { sources[nemoKey]?.path }
}

/// Where a translated value came from.
public struct BridgeSource: Sendable, Hashable {
  /// The Bridge field (`train.micro_batch_size`).
  public var path: String
  /// How the value follows from it, when not copied (`mixed_precision recipe
  /// bf16_with_fp8_current_scaling_mixed`, `comm_overlap: d 64 > 1 with the distributed
  /// optimizer`).
  public var note: String?
  /// The field is not in the file: the value is Megatron-Bridge's (or Megatron-Core's) default.
  public var isDefault: Bool
}
