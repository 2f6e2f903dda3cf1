import Foundation
import Testing

@testable import MegatronPlan

/// Megatron-Bridge ConfigContainer YAML (issue 27): the 32 real dumps of Bridge's performance
/// recipes (Fixtures/bridge/SOURCES.md) read as they are, refused by name where they set what
/// megaplan does not model; Bridge's finalization (mixed_precision, comm_overlap) replayed; the
/// values translated, checked against the files' own lines.
@Suite struct BridgeConfigTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/bridge")

  static func text(_ name: String) throws -> String {
    try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
  }

  /// A Bridge document with Hydra overrides applied (as the CLI applies them).
  static func document(_ text: String, file: String, _ overrides: [String]) throws
    -> ConfigDocument
  {
    var document = try ConfigDocument.parse(text, file: file)
    let rules = BridgeConfig.overrideRules(original: document.root)
    for (i, o) in overrides.enumerated() {
      try document.apply(try ConfigOverride.parse(hydra: o, index: i), rules: rules)
    }
    return document
  }

  static func load(_ text: String, file: String = "run.yaml", _ overrides: [String] = [])
    throws -> (BridgeTranslation, LoadedConfig)
  {
    let translation = try BridgeConfig.translate(document(text, file: file, overrides))
    var translated = ConfigDocument(root: translation.root, file: file)
    translated.markOverridden(translation.overridden)
    return (translation, try ConfigLoader.load(translated))
  }

  /// The refusal of a real file: the error, or nil when it loads.
  static func refusal(_ name: String, _ overrides: [String]) throws -> ConfigError? {
    do {
      _ = try BridgeConfig.translate(document(try text(name), file: name, overrides))
      return nil
    } catch let error as ConfigError {
      return error
    }
  }

  // MARK: - Detection

  @Test("a ConfigContainer is known by its _target_ or its groups; a NeMo file is not one")
  func detection() throws {
    let dump = try YAMLReader.parse(
      try Self.text("llama3_8b_sft_gb200_fp8_mx_v1.yaml"), file: "d.yaml")
    #expect(BridgeConfig.isContainer(dump))
    let partial = try YAMLReader.parse(
      "model:\n  num_layers: 2\ntrain:\n  micro_batch_size: 1\n", file: "p")
    #expect(BridgeConfig.isContainer(partial))
    let nemo = try YAMLReader.parse(
      "trainer:\n  devices: 8\nmodel:\n  num_layers: 2\ntrain:\n  x: 1\n", file: "n")
    #expect(!BridgeConfig.isContainer(nemo))
    let other = try YAMLReader.parse(
      "model:\n  num_layers: 2\ntrain: {}\nexp_manager: {}\n", file: "o")
    #expect(!BridgeConfig.isContainer(other))
  }

  // MARK: - The 32 dumps

  struct Dump: CustomStringConvertible, Sendable {
    var file: String
    var gpus: Int
    var gpu: String
    /// The Bridge fields refused, in the order megaplan reports them.
    var refused: [String]
    var description: String { file }
  }

  /// The expected refusals, read from the files with PyYAML by the rules of
  /// docs/config.md "Not modeled yet" (an implementation of its own, not megaplan's): NVFP4 is
  /// `mixed_precision.fp4: e2m1` (line 230 of each NVFP4 file); the DeepSeek files' flex
  /// provider keeps MLAModelProvider's `deallocate_pipeline_outputs: false` with p > 1 and
  /// `use_precision_aware_optimizer: true` (GPT-OSS's `quick_gelu` with `glu_linear_offset:
  /// 1.0`, `activation_func_clamp_value: 7.0`, `window_size: [127, 0]`, `softmax_type:
  /// learnable` are read since issue 24); `cuda_graph_impl: transformer_engine`
  /// where the recipe captures graphs; the Llama SFT files' `disable_parameter_transpose_cache:
  /// true` under MXFP8 and `packed_sequence_size: 4096`; the 70B SFT's
  /// `comm_overlap.defer_embedding_wgrad_compute: true`; and `megaplan.gpu` for the GPUs
  /// without a profile.
  static let dumps: [Dump] = {
    let dsv3 = ["model.deallocate_pipeline_outputs", "optimizer.use_precision_aware_optimizer"]
    // The fused permutation and router, HybridEP and the delayed weight gradients, and
    // GPT-OSS's window, sinks and clamped quick-GeGLU are read since issue 24: no longer refused.
    let fusions: [String] = []
    let gpu = "megaplan.gpu"
    let packed = "dataset.packed_sequence_specs.packed_sequence_size"
    let transpose = "model.disable_parameter_transpose_cache"
    func d(_ f: String, _ n: Int, _ g: String, _ r: [String]) -> Dump {
      Dump(file: f + ".yaml", gpus: n, gpu: g, refused: r)
    }
    return [
      d("deepseek_v3_pretrain_b200_nvfp4_v1", 256, "b200", dsv3),
      d("deepseek_v3_pretrain_b200_nvfp4_v2", 256, "b200", dsv3),
      d("deepseek_v3_pretrain_b300_nvfp4_v1", 256, "b300", dsv3),
      d("deepseek_v3_pretrain_b300_nvfp4_v2", 256, "b300", dsv3),
      d("deepseek_v3_pretrain_gb200_nvfp4_v1", 256, "gb200", dsv3),
      d("deepseek_v3_pretrain_gb200_nvfp4_v2", 256, "gb200", dsv3),
      d("deepseek_v3_pretrain_h100_fp8_sc_v1", 1024, "h100", dsv3),
      d("deepseek_v3_pretrain_h100_fp8_sc_v2", 1024, "h100", dsv3),
      d("deepseek_v3_pretrain_vr200_fp8_cs_v2", 256, "vr200", [gpu] + dsv3),
      d("deepseek_v3_pretrain_vr200_fp8_mx_v2", 256, "vr200", [gpu] + dsv3),
      d("deepseek_v3_pretrain_vr200_nvfp4_v2", 256, "vr200", [gpu] + dsv3),
      d("gpt_oss_120b_pretrain_b200_fp8_mx_v1", 64, "b200", []),
      d("gpt_oss_120b_pretrain_b200_fp8_mx_v2", 64, "b200", []),
      d("gpt_oss_120b_pretrain_b300_fp8_mx_v1", 64, "b300", []),
      d("gpt_oss_120b_pretrain_b300_fp8_mx_v2", 64, "b300", []),
      d("gpt_oss_120b_pretrain_gb200_fp8_mx_v1", 64, "gb200", []),
      d(
        "gpt_oss_120b_pretrain_gb200_fp8_mx_v2", 64, "gb200",
        []),
      d("gpt_oss_120b_pretrain_gb300_fp8_mx_v1", 64, "gb300", []),
      d("gpt_oss_120b_pretrain_gb300_fp8_mx_v2", 64, "gb300", []),
      d("gpt_oss_120b_pretrain_h100_fp8_mx_v1", 64, "h100", []),
      d("gpt_oss_120b_pretrain_h100_fp8_mx_v2", 64, "h100", []),
      d(
        "llama3_70b_sft_gb200_fp8_mx_v1", 32, "gb200",
        [transpose, "comm_overlap.defer_embedding_wgrad_compute", packed]),
      d(
        "llama3_70b_sft_gb300_fp8_mx_v1", 32, "gb300",
        [transpose, "comm_overlap.defer_embedding_wgrad_compute", packed]),
      d("llama3_8b_sft_gb200_fp8_mx_v1", 8, "gb200", [transpose, packed]),
      d("qwen3_235b_a22b_pretrain_b200_nvfp4_v1", 64, "b200", fusions),
      d("qwen3_235b_a22b_pretrain_b200_nvfp4_v2", 256, "b200", fusions),
      d("qwen3_235b_a22b_pretrain_b300_nvfp4_v1", 64, "b300", fusions),
      d("qwen3_235b_a22b_pretrain_b300_nvfp4_v2", 256, "b300", fusions),
      d(
        "qwen3_235b_a22b_pretrain_gb200_nvfp4_v1", 64, "gb200",
        fusions),
      d(
        "qwen3_235b_a22b_pretrain_gb200_nvfp4_v2", 256, "gb200",
        fusions),
      d(
        "qwen3_235b_a22b_pretrain_gb300_nvfp4_v1", 64, "gb300",
        fusions),
      d(
        "qwen3_235b_a22b_pretrain_gb300_nvfp4_v2", 256, "gb300",
        fusions),
    ]
  }()

  @Test("the 32 files are all here, as SOURCES.md lists them")
  func allThere() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path)
      .filter { $0.hasSuffix("_v1.yaml") || $0.hasSuffix("_v2.yaml") }
    #expect(Set(names) == Set(Self.dumps.map(\.file)))
    #expect(names.count == 32)
  }

  @Test(
    "each real dump parses and is refused with exactly its unmodeled fields, in order",
    arguments: dumps)
  func refusedByName(_ dump: Dump) throws {
    let overrides = ["megaplan.num_gpus=\(dump.gpus)", "megaplan.gpu=\(dump.gpu)"]
    guard !dump.refused.isEmpty else {
      // Nothing unmodeled (the Qwen3-235B NVFP4 recipes since issues 23 and 24, GPT-OSS's since
      // issue 24): it translates and loads as it is.
      #expect(try Self.refusal(dump.file, overrides) == nil)
      _ = try Self.load(try Self.text(dump.file), file: dump.file, overrides)
      return
    }
    let error = try #require(try Self.refusal(dump.file, overrides))
    let first = try #require(dump.refused.first)
    #expect(error.key == first)
    #expect(error.message.hasPrefix("\(first): "), "\(error.message)")
    #expect(error.message.contains("is not modeled") || error.message.contains("no profile"))
    // Located in the file, or at the override that named the GPU.
    #expect(
      error.location?.file == (first == "megaplan.gpu" ? ConfigOverride.hydraFile : dump.file))
    // Every other refused field in the note, in order; no field outside the list.
    let note = error.note ?? ""
    var positions: [String.Index] = []
    for key in dump.refused.dropFirst() {
      let range = note.range(of: "; \(key): ") ?? note.range(of: "file: \(key): ")
      #expect(range != nil, "\(key) missing from \(note)")
      if let range { positions.append(range.lowerBound) }
    }
    #expect(positions == positions.sorted())
    let candidates =
      BridgeConfig.notModeled.map(\.key) + [
        "mixed_precision.fp4", "comm_overlap.delay_wgrad_compute",
        "comm_overlap.defer_embedding_wgrad_compute", "megaplan.gpu", "model.activation_func",
      ]
    for key in candidates where !dump.refused.contains(key) {
      #expect(
        !error.message.hasPrefix("\(key): ") && !note.contains("; \(key): ")
          && !note.contains("file: \(key): "), "\(key) refused in \(dump.file)")
    }
  }

  /// DeepSeek-V3 on 1,024 H100 (deepseek_v3_pretrain_h100_fp8_sc_v1.yaml), its unmodeled fields
  /// overridden. Expected values from the file's lines: t 2 (:579), p 8 (:545), v 4 (:618), the
  /// layout `Et|(tt|)*30mL` (:544), EP 64 (:322), micro-batch 1 (:794), global batch 8,192 (:789),
  /// sequence 4,096 (dataset :103), recompute selective of mla_up_proj and mlp (:556-560);
  /// mixed_precision (:222): bf16, fp8 hybrid (:232), blockwise (:240), fp8_param false (:238),
  /// grad_reduce_in_fp32 false (:242) over the model's `fp8: null` (:337); comm_overlap (:54):
  /// tp off, the pipeline overlap on (p 8 > 1, v 4 > 1), the gradient reduce off (its own
  /// `overlap_grad_reduce: false`, :62), the parameter gather on (null, :65; d = 1,024 / 16 = 64
  /// > 1 with `ddp.use_distributed_optimizer: true`, :145).
  @Test("DeepSeek-V3 H100 FP8: the values Bridge runs, after mixed_precision and comm_overlap")
  func deepSeekValues() throws {
    let file = "deepseek_v3_pretrain_h100_fp8_sc_v1.yaml"
    let (translation, loaded) = try Self.load(
      try Self.text(file), file: file,
      [
        "megaplan.num_gpus=1024", "megaplan.gpu=h100", "model.moe_flex_dispatcher_backend=deepep",
        "model.moe_permute_fusion=false", "model.moe_router_fusion=false",
        "model.deallocate_pipeline_outputs=true", "optimizer.use_precision_aware_optimizer=false",
      ])
    let run = loaded.run
    #expect(run.layout.tensor == 2 && run.layout.pipeline == 8 && run.layout.virtualStages == 4)
    #expect(run.layout.split.layoutText == "Et|(tt|)*30mL")
    #expect(run.layout.expertParallel == 64 && run.layout.expertTensorParallel == 1)
    #expect(run.layout.microBatch == 1 && run.layout.globalBatch == 8192)
    #expect(run.layout.gpus == 1024 && run.layout.data == 64)
    #expect(run.model.sequenceLength == 4096)
    #expect(run.layout.recompute == .selective)
    #expect(run.layout.recomputeModules == [.mlaUpProjection, .mlp])
    #expect(run.precision == .bf16)
    #expect(run.model.fp8?.format == .hybrid && run.model.fp8?.recipe == .blockwise)
    #expect(run.model.fp8?.primaryWeights == false)
    #expect(run.software.fp32Gradients == false)
    #expect(run.overlap.tensorParallel == false && run.overlap.pipelineP2P == true)
    #expect(run.overlap.gradientReduction == false && run.overlap.parameterGather == true)
    #expect(run.model.moe?.dispatcher == .flex && run.model.moe?.firstDenseLayers == 3)
    #expect(run.model.mla != nil && run.model.mtpLayers == 1)
    #expect(run.gpu.name == "h100-sxm")
    // Where the values came from: the Bridge fields, located in the file.
    #expect(translation.bridgeKey(for: "model.micro_batch_size") == "train.micro_batch_size")
    #expect(translation.bridgeKey(for: "model.fp8_recipe") == "mixed_precision.fp8_recipe")
    #expect(translation.bridgeKey(for: "model.encoder_seq_length") == "dataset.sequence_length")
    let micro = try #require(loaded.settings.first { $0.key == "model.micro_batch_size" })
    if case .file(let l) = micro.origin {
      #expect(l.file == file && l.line == 794 && l.column == 21)
    } else {
      Issue.record("micro_batch_size is not located in the file: \(micro.origin)")
    }
    #expect(translation.sources["model.optim.overlap_param_sync"]?.note?.contains("d = 64") == true)
  }

  /// Llama 3 8B SFT on 8 GB200 (llama3_8b_sft_gb200_fp8_mx_v1.yaml) with its two unmodeled
  /// fields overridden: mixed_precision (:212) is MXFP8 (`fp8: e4m3` :219, `fp8_recipe: mxfp8`
  /// :227) with FP8 primary weights (`fp8_param: true` :225) and fp32 gradient reduction (`true`
  /// :229) over DDP's `grad_reduce_in_fp32: false` (:127); the vocabulary is model.vocab_size
  /// 128,256 (:527) unpadded; the sequence is the dataset's 4,096 (:93), not model.seq_length
  /// 16,384 (:483), with a warning; GB200's nodes hold 4 GPUs, so 8 GPUs are 2 × 4.
  @Test("Llama 3 8B SFT GB200: MXFP8 from mixed_precision, the dataset's sequence, 2 × 4 GPUs")
  func llamaValues() throws {
    let file = "llama3_8b_sft_gb200_fp8_mx_v1.yaml"
    let (translation, loaded) = try Self.load(
      try Self.text(file), file: file,
      [
        "megaplan.num_gpus=8", "megaplan.gpu=gb200",
        "model.disable_parameter_transpose_cache=false",
        "dataset.packed_sequence_specs.packed_sequence_size=0",
      ])
    let run = loaded.run
    #expect(run.model.fp8?.recipe == .mxfp8 && run.model.fp8?.format == .e4m3)
    #expect(run.model.fp8?.primaryWeights == true)
    #expect(run.software.fp32Gradients == true)
    #expect(run.model.vocabulary == 128_256)
    #expect(run.model.sequenceLength == 4096)
    #expect(run.devicesPerNode == 4 && run.layout.gpus == 8)
    #expect(run.gpu.name == "gb200-nvl72")
    #expect(run.layout.distributedOptimizer)
    let warning = try #require(translation.warnings.first)
    #expect(
      warning.message
        == "model.seq_length 16384 differs from dataset.seq_length 4096: Megatron-Bridge asserts they are equal and its launchers run the dataset's; megaplan uses 4096"
    )
    #expect(warning.location?.line == 483)
  }

  // MARK: - Finalization

  static let base = """
    model:
      num_layers: 8
      hidden_size: 1024
      num_attention_heads: 16
      seq_length: 2048
      vocab_size: 32000
      tensor_model_parallel_size: 2
      pipeline_model_parallel_size: 2
    train:
      micro_batch_size: 1
      global_batch_size: 64
    ddp:
      use_distributed_optimizer: true
    megaplan:
      gpu: h100-sxm
      num_gpus: 16

    """

  struct Recipe: CustomStringConvertible, Sendable {
    var name: String
    var precision: Precision
    var fp8: FP8Training?
    var fp32Gradients: Bool
    var description: String { name }
  }

  /// Megatron-Bridge's registered recipes (training/mixed_precision.py at a9497c6, read by hand):
  /// bf16_mixed and fp16_mixed set the 16-bit type and grad_reduce_in_fp32 true / false; the FP8
  /// recipes add fp8 (hybrid, or e4m3 for MXFP8), the recipe and fp8_param_gather (true but for
  /// subchannel scaling). Current scaling keeps 1 layer at each end in BF16: refused below.
  static let recipes: [Recipe] = [
    Recipe(name: "bf16_mixed", precision: .bf16, fp8: nil, fp32Gradients: true),
    Recipe(name: "bf16-mixed", precision: .bf16, fp8: nil, fp32Gradients: true),
    Recipe(name: "fp16_mixed", precision: .fp16, fp8: nil, fp32Gradients: false),
    Recipe(
      name: "bf16_with_fp8_delayed_scaling_mixed", precision: .bf16,
      fp8: FP8Training(format: .hybrid, recipe: .delayed, primaryWeights: true),
      fp32Gradients: true),
    Recipe(
      name: "bf16_with_fp8_subchannel_scaling_mixed", precision: .bf16,
      fp8: FP8Training(format: .hybrid, recipe: .blockwise, primaryWeights: false),
      fp32Gradients: true),
    Recipe(
      name: "fp16_with_fp8_delayed_scaling_mixed", precision: .fp16,
      fp8: FP8Training(format: .hybrid, recipe: .delayed, primaryWeights: true),
      fp32Gradients: false),
  ]

  @Test("mixed_precision recipes by name give the precision Bridge runs", arguments: recipes)
  func recipe(_ recipe: Recipe) throws {
    let (_, loaded) = try Self.load(Self.base + "mixed_precision: \(recipe.name)\n")
    #expect(loaded.run.precision == recipe.precision)
    #expect(loaded.run.model.fp8 == recipe.fp8)
    #expect(loaded.run.software.fp32Gradients == recipe.fp32Gradients)
  }

  @Test("recipes megaplan does not model are refused by name; an unknown recipe is an error")
  func refusedRecipes() throws {
    func error(_ extra: String, _ overrides: [String] = []) -> ConfigError? {
      do {
        _ = try Self.load(Self.base + extra, overrides)
        return nil
      } catch let e as ConfigError {
        return e
      } catch {
        return nil
      }
    }
    // NVFP4 is modeled (issue 23), on GPUs with FP4 tensor cores: the base runs on H100.
    let nvfp4 = error("mixed_precision: bf16_with_nvfp4_mixed\n")
    #expect(
      nvfp4?.message
        == "fp4: e2m1 needs FP4 tensor cores, which the H100 SXM5 80GB does not have (Blackwell)")
    // The recipe name's line: the one appended after the base's lines.
    #expect(
      nvfp4?.location?.line
        == Self.base.split(separator: "\n", omittingEmptySubsequences: false).count)
    let current = error("mixed_precision: bf16_with_fp8_current_scaling_mixed\n")
    #expect(current?.key == "mixed_precision.first_last_layers_bf16")
    // Bridge's perf recipes turn the BF16 layers off (llama3_perf.py `_perf_precision`): then
    // it is modeled.
    let off = try Self.load(
      Self.base
        + "mixed_precision:\n  bf16: true\n  fp8: hybrid\n  fp8_recipe: tensorwise\n  first_last_layers_bf16: false\n  num_layers_at_start_in_bf16: 1\n  num_layers_at_end_in_bf16: 1\n"
    ).1.run
    #expect(
      off.model.fp8 == FP8Training(format: .hybrid, recipe: .tensorwise, primaryWeights: false))
    let unknown = error("mixed_precision: bf16_mixd\n")
    #expect(unknown?.message.hasPrefix("unknown mixed_precision recipe 'bf16_mixd'") == true)
    #expect(unknown?.message.hasSuffix("did you mean 'bf16_mixed'?") == true)
  }

  @Test("a leaf override after a recipe name replaced the mapping fails, as in Hydra")
  func leafAfterString() throws {
    #expect(throws: ConfigError.self) {
      _ = try Self.load(Self.base + "mixed_precision: bf16_mixed\n", ["mixed_precision.fp8=hybrid"])
    }
    // A recipe name replaces a mapping.
    let (_, loaded) = try Self.load(
      Self.base + "mixed_precision:\n  fp16: true\n", ["mixed_precision=bf16_mixed"])
    #expect(loaded.run.precision == .bf16)
  }

  /// CommOverlapConfig.setup (training/comm_overlap.py:422-680 at a9497c6), by hand: the TP
  /// overlap needs t ≥ 2 and sequence parallelism; the pipeline overlap comes on with p > 1 and
  /// v > 1; the data-parallel overlaps follow d > 1 with the distributed optimizer; the
  /// section's own values win.
  @Test("comm_overlap rewrites the overlaps as Bridge does")
  func commOverlap() throws {
    let section = "comm_overlap:\n  tp_comm_overlap: true\n"
    // t 2 without sequence parallelism: off; d = 16 / 4 = 4 > 1: DP overlaps on; v null: no P2P.
    var run = try Self.load(Self.base + section).1.run
    #expect(run.overlap.tensorParallel == false)
    #expect(run.overlap.gradientReduction && run.overlap.parameterGather)
    #expect(run.overlap.pipelineP2P == false)
    run = try Self.load(
      Self.base + section,
      ["model.sequence_parallel=true", "model.virtual_pipeline_model_parallel_size=2"]
    ).1.run
    #expect(run.overlap.tensorParallel && run.overlap.pipelineP2P)
    // d = 1: the DP overlaps off, though DDP asks for them; the section's value wins.
    run = try Self.load(
      Self.base + section + "  overlap_param_gather: true\n",
      ["megaplan.num_gpus=4", "ddp.overlap_grad_reduce=true"]
    ).1.run
    #expect(run.overlap.gradientReduction == false && run.overlap.parameterGather == true)
    // Without the section, DDP's own fields.
    run = try Self.load(Self.base, ["ddp.overlap_grad_reduce=true"]).1.run
    #expect(run.overlap.gradientReduction && !run.overlap.parameterGather)
  }

  @Test("Bridge's defaults, not NeMo's, for fields a file leaves out")
  func defaults() throws {
    let (translation, loaded) = try Self.load(Self.base)
    let run = loaded.run
    // No mixed precision: fp32 (ModelParallelConfig bf16/fp16 false), 16-bit gradient buffers
    // (DDP grad_reduce_in_fp32 false); GPTModelProvider: LayerNorm, learned positions, tied;
    // TransformerConfig: gelu, biases, dropout 0.1, bias-activation fusion off.
    #expect(run.precision == .fp32)
    #expect(run.software.fp32Gradients == false)
    #expect(run.model.normalization == .layerNorm && run.model.activation == .gelu)
    #expect(run.model.tiedEmbeddings && run.model.linearBiases)
    #expect(run.model.dropout.hidden == 0.1 && run.model.dropout.attention == 0.1)
    #expect(run.model.fusions.biasActivation == false)
    #expect(run.model.fusedAttention)  // Transformer Engine
    #expect(translation.sources["model.bias_activation_fusion"]?.isDefault == true)
  }

  @Test("a flexible layout written as Bridge's list of chunks reads as the string")
  func layoutList() throws {
    let layout = """
        pipeline_model_parallel_layout:
        - - embedding
          - decoder
          - decoder
          - decoder
          - decoder
        - - decoder
          - decoder
          - decoder
          - decoder
          - loss

      """
    let text = Self.base.replacingOccurrences(
      of: "  pipeline_model_parallel_size: 2\n",
      with: "  pipeline_model_parallel_size: 2\n" + layout)
    let run = try Self.load(text).1.run
    // [embedding, 4 decoders] and [4 decoders, loss]: E, t for each decoder, L, `|` between.
    #expect(run.layout.split.layoutText == "Etttt|ttttL")
    #expect(run.layout.split.chunkLayers == [4, 4])
  }

  // MARK: - Overrides

  struct Typed: CustomStringConvertible, Sendable {
    var argument: String
    var node: ConfigNode.Kind
    var description: String { argument }
  }

  static func plain(_ s: String) -> ConfigNode.Kind { .scalar(s, style: .plain) }

  /// Hydra 1.3's value grammar (overrides.md, verified against hydra-core 1.3.2).
  @Test(
    "Hydra override values are typed as Hydra types them",
    arguments: [
      ("a=4", ConfigScalar.int(4)), ("a=4.0", .double(4)), ("a=1_024", .int(1024)),
      ("a=null", .null), ("a=NULL", .null), ("a=none", .string("none")), ("a=TRUE", .bool(true)),
      ("a=3e-4", .double(3e-4)), ("a=.5", .double(0.5)), ("a=inf", .double(.infinity)),
      ("a=yes", .string("yes")), ("a=0x10", .string("0x10")), ("a='9,8,2'", .string("9,8,2")),
      ("a=9\\,8\\,2", .string("9,8,2")), ("a=", .string("")),
      ("a=Et|(tt|)*30mL", .string("Et|(tt|)*30mL")),
    ])
  func hydraTypes(_ argument: String, _ expected: ConfigScalar) throws {
    var document = try ConfigDocument.parse("a: 1\n", file: "f")
    try document.apply(
      try ConfigOverride.parse(hydra: argument, index: 0), rules: ConfigLoader.overrideRules)
    #expect(try document.value(at: "a")?.scalar == expected)
  }

  @Test("lists, nested lists, mappings and list items as Hydra overrides")
  func hydraCollections() throws {
    var document = try ConfigDocument.parse(
      "a:\n  l: [x, y]\n  m:\n    k: 1\n    j: 2\n", file: "f")
    let rules = ConfigLoader.overrideRules
    for (i, o) in ["a.l=[mla_up_proj,mlp]", "a.m={k: 3}", "+a.n=[[e, d], [d, l]]"].enumerated() {
      try document.apply(try ConfigOverride.parse(hydra: o, index: i), rules: rules)
    }
    #expect(try document.value(at: "a.l.1")?.scalar == .string("mlp"))
    #expect(try document.value(at: "a.m.k")?.scalar == .int(3))
    #expect(try document.value(at: "a.m.j")?.scalar == .int(2))  // merged, not replaced
    #expect(try document.value(at: "a.n.1.1")?.scalar == .string("l"))
    try document.apply(try ConfigOverride.parse(hydra: "a.l.0=core_attn", index: 3), rules: rules)
    #expect(try document.value(at: "a.l.0")?.scalar == .string("core_attn"))
  }

  @Test("Hydra's rules: sweeps, struct mode, + on a value, ~ on nothing, each a located error")
  func hydraErrors() throws {
    func error(
      _ text: String, _ argument: String, rules: OverrideRules = ConfigLoader.overrideRules
    )
      -> ConfigError?
    {
      do {
        var document = try ConfigDocument.parse(text, file: "f")
        try document.apply(try ConfigOverride.parse(hydra: argument, index: 0), rules: rules)
        return nil
      } catch let e as ConfigError {
        return e
      } catch {
        return nil
      }
    }
    let sweep = error("dataset:\n  split: a\n", "dataset.split=9999,8,2")
    #expect(sweep?.message.hasPrefix("'9999,8,2' is a Hydra choice sweep") == true)
    #expect(sweep?.location?.column == 15 && sweep?.location?.file == ConfigOverride.hydraFile)
    let unknown = error("model:\n  x: 1\n", "model.hiden_size=4")
    #expect(
      unknown?.message
        == "cannot override 'model.hiden_size': the config has no such key and megaplan does not read it; did you mean 'model.hidden_size'? or add it with +model.hiden_size=…"
    )
    // A key megaplan reads may be set though the file lacks it.
    #expect(error("model:\n  x: 1\n", "model.hidden_size=4") == nil)
    #expect(error("model:\n  x: 1\n", "+model.y=4") == nil)
    #expect(
      error("model:\n  x: 1\n", "+model.x=4")?.message.hasPrefix("cannot add 'model.x'") == true)
    #expect(error("model:\n  x: 1\n", "++model.x=4") == nil)
    #expect(error("model:\n  x: null\n", "~model.x")?.message.hasPrefix("cannot delete") == true)
    #expect(error("model:\n  x: 1\n", "~model.x=2")?.message.hasPrefix("cannot delete") == true)
    #expect(error("model:\n  x: 1\n", "~model.x=1") == nil)
  }

  @Test("~key: NeMo drops the key (its default applies); Bridge goes back to the file's value")
  func deletion() throws {
    var nemo = try ConfigDocument.parse("model:\n  x: 1\n", file: "f")
    try nemo.apply(
      try ConfigOverride.parse(hydra: "~model.x", index: 0), rules: ConfigLoader.overrideRules)
    #expect(try nemo.value(at: "model.x") == nil)
    let text = Self.base
    var bridge = try ConfigDocument.parse(text, file: "f")
    let rules = BridgeConfig.overrideRules(original: bridge.root)
    try bridge.apply(
      try ConfigOverride.parse(hydra: "model.tensor_model_parallel_size=4", index: 0), rules: rules)
    try bridge.apply(
      try ConfigOverride.parse(hydra: "~model.tensor_model_parallel_size", index: 1), rules: rules)
    #expect(try bridge.value(at: "model.tensor_model_parallel_size")?.scalar == .int(2))
  }

  @Test("--set: a list replaces a list key (issue 28), a plain value is YAML's")
  func setLists() throws {
    var document = try ConfigDocument.parse(
      "model:\n  recompute_modules:\n  - core_attn\n  x: 1\n", file: "f")
    try document.apply(
      try ConfigOverride.parse(set: "model.recompute_modules=[mla_up_proj,mlp]", index: 0),
      rules: ConfigLoader.overrideRules)
    #expect(try document.value(at: "model.recompute_modules.1")?.scalar == .string("mlp"))
    #expect(try document.value(at: "model.recompute_modules.1")?.location.column == 38)
    try document.apply(
      try ConfigOverride.parse(set: "model.x=a,b", index: 1), rules: ConfigLoader.overrideRules)
    #expect(try document.value(at: "model.x")?.scalar == .string("a,b"))
  }

  // MARK: - NeMo side

  @Test("moe_layer_freq as Megatron-Core's list: dense layers first, or every N-th layer")
  func moeLayerList() throws {
    func pattern(_ list: String) throws -> (Int, Int) {
      let run = try ConfigLoader.load(
        ConfigDocument.parse(
          """
          trainer: {devices: 8}
          model:
            num_layers: 4
            hidden_size: 512
            num_attention_heads: 8
            encoder_seq_length: 1024
            micro_batch_size: 1
            global_batch_size: 8
            num_moe_experts: 8
            moe_layer_freq: \(list)
          megaplan: {vocab_size: 1024}

          """, file: "m.yaml")
      ).run
      return (run.model.moe?.frequency ?? 0, run.model.moe?.firstDenseLayers ?? -1)
    }
    #expect(try pattern("[0, 0, 1, 1]") == (1, 2))
    #expect(try pattern("[1, 0, 1, 0]") == (2, 0))
    #expect(try pattern("[1, 1, 1, 1]") == (1, 0))
    #expect(try pattern("[1, 0, 0, 1]") == (3, 0))  // layers 0 and 3: every third
    #expect(throws: ConfigError.self) { try pattern("[0, 1, 0, 1]") }
    #expect(throws: ConfigError.self) { try pattern("[1, 1]") }
  }
}
