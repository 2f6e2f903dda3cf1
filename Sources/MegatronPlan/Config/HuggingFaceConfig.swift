/// Reads a Hugging Face `config.json` (the model's shape as `transformers` builds it) into the
/// NeMo-shaped `ConfigNode` tree a NeMo YAML with the same model would give, so the rest of
/// megaplan reads both alike (as `MegatronArguments` does for Megatron-LM scripts). Every value
/// points at the field in config.json it came from; a value the architecture fixes (Llama's
/// RMSNorm) points at the `architectures` entry. See docs/config.md, "Hugging Face config.json".
///
/// config.json says nothing about the layout, batch or GPUs: `standalone` adds megaplan's
/// defaults for those, `merged` puts the model into a NeMo YAML (config.json wins for the
/// model's shape).
public enum HuggingFaceConfig {
  /// Files larger than this are refused rather than read.
  public static let maxBytes = 16 << 20

  /// Architectures megaplan maps exactly (the `architectures` entry, or `model_type`), each with
  /// the transformers modeling file that defines it.
  public static let supportedArchitectures: [(name: String, modelType: String, source: String)] = [
    ("LlamaForCausalLM", "llama", "transformers/models/llama/modeling_llama.py"),
    ("MistralForCausalLM", "mistral", "transformers/models/mistral/modeling_mistral.py"),
    ("Qwen2ForCausalLM", "qwen2", "transformers/models/qwen2/modeling_qwen2.py"),
    ("GemmaForCausalLM", "gemma", "transformers/models/gemma/modeling_gemma.py"),
    ("Gemma2ForCausalLM", "gemma2", "transformers/models/gemma2/modeling_gemma2.py"),
    ("NemotronForCausalLM", "nemotron", "transformers/models/nemotron/modeling_nemotron.py"),
    ("GPT2LMHeadModel", "gpt2", "transformers/models/gpt2/modeling_gpt2.py"),
    ("MixtralForCausalLM", "mixtral", "transformers/models/mixtral/modeling_mixtral.py"),
    ("Qwen2MoeForCausalLM", "qwen2_moe", "transformers/models/qwen2_moe/modeling_qwen2_moe.py"),
    ("Qwen3MoeForCausalLM", "qwen3_moe", "transformers/models/qwen3_moe/modeling_qwen3_moe.py"),
    (
      "DeepseekV3ForCausalLM", "deepseek_v3",
      "transformers/models/deepseek_v3/modeling_deepseek_v3.py"
    ),
    ("GptOssForCausalLM", "gpt_oss", "transformers/models/gpt_oss/modeling_gpt_oss.py"),
  ]

  /// Mixture-of-experts architectures megaplan does not read yet (Mixtral, Qwen2-MoE,
  /// Qwen3-MoE, DeepSeek-V3 and GPT-OSS it does), refused by name.
  static let mixtureOfExperts = [
    "DeepseekV2ForCausalLM", "OlmoeForCausalLM", "DbrxForCausalLM", "JambaForCausalLM",
    "PhimoeForCausalLM", "GraniteMoeForCausalLM",
  ]

  /// The sequence length when config.json is the whole input: min(max_position_embeddings,
  /// 4096), the length Llama 2 trained at and within every supported model's context.
  public static let defaultSequenceCap = 4096

  /// Where megaplan's defaults for a config.json given alone are said to come from.
  public static let defaultsFile = "<hf-config defaults>"

  /// The model of `config.json` as NeMo keys (`model.*`, `megaplan.*`), located in config.json.
  public static func modelTree(_ text: String, file: String) throws -> ConfigNode {
    let model = try read(text, file: file)
    return Mapper.build(model.shape + model.training, root: model.root)
  }

  /// config.json as the whole input: its model, and megaplan's defaults for the layout, batch,
  /// GPUs and training (the YAML in `defaultsText`, located in `defaultsFile`).
  public static func standalone(_ text: String, file: String) throws -> ConfigNode {
    let model = try read(text, file: file)
    let defaults = try ConfigDocument.parse(
      defaultsText(sequenceLength: min(model.maxPositions, defaultSequenceCap)),
      file: defaultsFile)
    let tree = Mapper.build(model.shape + model.training, root: model.root)
    return overlay(tree, on: defaults.root, replace: true)
  }

  /// A NeMo YAML's tree (`base`) with config.json's model in it: config.json's model keys replace
  /// the YAML's; its dropout fills only what the YAML leaves unset (dropout is a training
  /// choice); the YAML's `megaplan.vocab_size` (a padded vocabulary) is dropped, as config.json's
  /// vocabulary replaces it.
  public static func merged(_ text: String, file: String, into base: ConfigNode) throws
    -> ConfigNode
  {
    let model = try read(text, file: file)
    var root = base
    if case .mapping(var entries) = root.kind,
      let m = entries.firstIndex(where: { $0.key == "megaplan" }),
      case .mapping(let section) = entries[m].value.kind
    {
      entries[m].value.kind = .mapping(section.filter { $0.key != "vocab_size" })
      root.kind = .mapping(entries)
    }
    root = overlay(Mapper.build(model.shape, root: model.root), on: root, replace: true)
    return overlay(Mapper.build(model.training, root: model.root), on: root, replace: false)
  }

  /// megaplan's defaults for a config.json given alone, as NeMo YAML: t = p = 1, micro-batch 1,
  /// global batch = micro-batch × GPUs (one micro-batch per data-parallel rank at t = p = 1),
  /// 8 GPUs on one node, bf16, Megatron-Core with Transformer Engine (fused attention), the
  /// distributed optimizer, no dropout — as the NeMo 2.0 Llama/Mistral/Qwen pretraining recipes
  /// train (`nemo/collections/llm/recipes/llama3_8b.py`: bf16_mixed,
  /// distributed_fused_adam_with_cosine_annealing; Megatron-Core GPT configs: dropout 0).
  public static func defaultsText(sequenceLength: Int) -> String {
    """
    # megaplan's defaults for --hf-config without FILE (docs/config.md)
    model:
      encoder_seq_length: \(sequenceLength)  # min(max_position_embeddings, \(defaultSequenceCap))
      micro_batch_size: 1
      global_batch_size: ${multiply:${model.micro_batch_size}, ${multiply:${trainer.num_nodes}, ${trainer.devices}}}
      tensor_model_parallel_size: 1
      pipeline_model_parallel_size: 1
      hidden_dropout: 0.0
      attention_dropout: 0.0
      mcore_gpt: true
      transformer_engine: true
      optim:
        name: distributed_fused_adam
    trainer:
      num_nodes: 1
      devices: 8
      precision: bf16-mixed

    """
  }

  // MARK: - Merging trees

  /// `top`'s scalars placed into `base`: mappings merge key by key; a scalar in `top` replaces
  /// `base`'s when `replace`, else only fills a key `base` lacks (or leaves null).
  static func overlay(_ top: ConfigNode, on base: ConfigNode, replace: Bool) -> ConfigNode {
    guard case .mapping(let additions) = top.kind else {
      if replace { return top }
      if case .scalar(let text, _) = base.kind, ["", "~", "null", "Null", "NULL"].contains(text) {
        return top
      }
      return base
    }
    guard case .mapping(var entries) = base.kind else {
      if case .scalar(let text, _) = base.kind, ["", "~", "null", "Null", "NULL"].contains(text) {
        return top
      }
      return replace ? top : base
    }
    for addition in additions {
      if let i = entries.firstIndex(where: { $0.key == addition.key }) {
        entries[i].value = overlay(addition.value, on: entries[i].value, replace: replace)
      } else {
        entries.append(addition)
      }
    }
    var merged = base
    merged.kind = .mapping(entries)
    return merged
  }
}
