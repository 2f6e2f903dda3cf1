import Foundation
import Testing
@testable import MegatronPlan

/// One Hugging Face config.json under Fixtures/hf/ (sources in Fixtures/hf/README.md), with its
/// parameter count derived by hand from the numbers in that file.
struct HFCase: CustomStringConvertible, Sendable {
  var file: String
  /// The bundled config in configs/ with the same model, if any.
  var bundled: String?
  /// The count derived by hand (`DenseShape.parameters`, below) from config.json's numbers.
  var shape: DenseShape
  /// The total the model's publisher gives, where one is published.
  var published: Int?
  var description: String { file }
}

/// A dense decoder's sizes as written in config.json, and its parameter count by the textbook
/// formula: per layer, attention h·(a + 2g)·d_h (+ (a + 2g)·d_h QKV bias) + a·d_h·h, MLP 3·h·f
/// gated or 2·h·f plain, norms 2h (RMSNorm: h each) or 4h (LayerNorm: 2h each), doubled for
/// sandwich norms; embeddings V·h, twice when untied; the final norm h (RMSNorm) or 2h.
struct DenseShape: Sendable {
  var L: Int, h: Int, f: Int, a: Int, g: Int, d: Int, V: Int
  var tied = false, gated = true, rmsNorm = true, qkvBias = false, sandwich = false

  var parameters: Int {
    let attention = h * (a + 2 * g) * d + (qkvBias ? (a + 2 * g) * d : 0) + a * d * h
    let mlp = (gated ? 3 : 2) * h * f
    let norm = rmsNorm ? h : 2 * h
    let norms = (sandwich ? 4 : 2) * norm
    return L * (attention + mlp + norms) + (tied ? 1 : 2) * V * h + norm
  }
}

let hfCases: [HFCase] = [
  // Llama 2 7B: 32 × (4096·96·128 + 4096·4096 + 3·4096·11008 + 2·4096) = 32 × 202,383,360
  // = 6,476,267,520; + 2·32000·4096 = 262,144,000; + 4096 → 6,738,415,616.
  HFCase(
    file: "llama-2-7b.json", bundled: "llama2-7b.yaml",
    shape: DenseShape(L: 32, h: 4096, f: 11008, a: 32, g: 32, d: 128, V: 32000),
    published: 6_738_415_616),
  // Llama 2 70B: 80 × (8192·80·128 + 8192·8192 + 3·8192·28672 + 2·8192) = 80 × 855,654,400
  // = 68,452,352,000; + 2·32000·8192 = 524,288,000; + 8192 → 68,976,648,192.
  HFCase(
    file: "llama-2-70b.json", bundled: "llama2-70b.yaml",
    shape: DenseShape(L: 80, h: 8192, f: 28672, a: 64, g: 8, d: 128, V: 32000), published: nil),
  // Llama 3 8B: 32 × (4096·48·128 + 4096·4096 + 3·4096·14336 + 2·4096) = 32 × 218,112,000
  // = 6,979,584,000; + 2·128256·4096 = 1,050,673,152; + 4096 → 8,030,261,248.
  HFCase(
    file: "meta-llama-3-8b.json", bundled: "llama3-8b.yaml",
    shape: DenseShape(L: 32, h: 4096, f: 14336, a: 32, g: 8, d: 128, V: 128256),
    published: 8_030_261_248),
  // Llama 3 70B: 80 × 855,654,400 = 68,452,352,000; + 2·128256·8192 = 2,101,346,304; + 8192
  // → 70,553,706,496.
  HFCase(
    file: "meta-llama-3-70b.json", bundled: "llama3-70b.yaml",
    shape: DenseShape(L: 80, h: 8192, f: 28672, a: 64, g: 8, d: 128, V: 128256),
    published: 70_553_706_496),
  // Llama 3.1 405B: 126 × (16384·144·128 + 16384·16384 + 3·16384·53248 + 2·16384)
  // = 126 × 3,187,703,808 = 401,650,679,808; + 2·128256·16384 = 4,202,692,608; + 16384
  // → 405,853,388,800.
  HFCase(
    file: "llama-3.1-405b.json", bundled: "llama3.1-405b.yaml",
    shape: DenseShape(L: 126, h: 16384, f: 53248, a: 128, g: 8, d: 128, V: 128256),
    published: 405_853_388_800),
  // Mistral 7B: 32 × 218,112,000 = 6,979,584,000; + 2·32000·4096 = 262,144,000; + 4096
  // → 7,241,732,096.
  HFCase(
    file: "mistral-7b-v0.1.json", bundled: "mistral-7b.yaml",
    shape: DenseShape(L: 32, h: 4096, f: 14336, a: 32, g: 8, d: 128, V: 32000),
    published: 7_241_732_096),
  // Gemma 2 9B (head_dim 256, tied, four RMSNorms a layer): 42 × (3584·32·256 + 16·256·3584
  // + 3·3584·14336 + 4·3584) = 42 × 198,195,200 = 8,324,198,400; + 256000·3584 = 917,504,000;
  // + 3584 → 9,241,705,984.
  HFCase(
    file: "gemma-2-9b.json", bundled: "gemma2-9b.yaml",
    shape: DenseShape(
      L: 42, h: 3584, f: 14336, a: 16, g: 8, d: 256, V: 256000, tied: true, sandwich: true),
    published: nil),
  // Qwen2.5 72B (QKV bias): 80 × (8192·80·128 + 80·128 + 8192·8192 + 3·8192·29568 + 2·8192)
  // = 80 × 877,684,736 = 70,214,778,880; + 2·152064·8192 = 2,491,416,576; + 8192
  // → 72,706,203,648.
  HFCase(
    file: "qwen2.5-72b.json", bundled: "qwen2.5-72b.yaml",
    shape: DenseShape(L: 80, h: 8192, f: 29568, a: 64, g: 8, d: 128, V: 152064, qkvBias: true),
    published: nil),
  // Nemotron-4 15B (plain squared-ReLU MLP, LayerNorm1p with bias): 32 × (6144·64·128
  // + 6144·6144 + 2·6144·24576 + 4·6144) = 32 × 390,094,848 = 12,483,035,136; + 2·256000·6144
  // = 3,145,728,000; + 2·6144 → 15,628,775,424 (the report's 12.5B non-embedding + 3.2B
  // embedding).
  HFCase(
    file: "nemotron-4-15b.json", bundled: "nemotron4-15b.yaml",
    shape: DenseShape(
      L: 32, h: 6144, f: 24576, a: 48, g: 8, d: 128, V: 256000, gated: false, rmsNorm: false),
    published: nil),
]

@Suite struct HuggingFaceConfigTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  static func text(_ path: String) throws -> String {
    try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
  }

  /// config.json alone, with the vocabulary unpadded (make_vocab_size_divisible_by 1) so counts
  /// compare with published totals.
  static func alone(_ file: String, unpadded: Bool = true) throws -> LoadedConfig {
    let path = "Tests/MegatronPlanTests/Fixtures/hf/\(file)"
    var document = ConfigDocument(
      root: try HuggingFaceConfig.standalone(try text(path), file: file), file: file)
    if unpadded {
      try document.override(
        "model.make_vocab_size_divisible_by", with: "1",
        location: SourceLocation(file: "test", line: 1, column: 1))
    }
    return try ConfigLoader.load(document)
  }

  @Test(
    "config.json's parameter count equals the hand count and the published total",
    arguments: hfCases)
  func parameterCount(_ c: HFCase) throws {
    let loaded = try Self.alone(c.file)
    let total = ParameterCount.total(loaded.run.model).total.value
    #expect(total == Double(c.shape.parameters))
    if let published = c.published { #expect(c.shape.parameters == published) }
  }

  @Test("the bundled YAML and config.json describe the same model", arguments: hfCases)
  func bundledAgrees(_ c: HFCase) throws {
    let bundled = try #require(c.bundled)
    let path = "configs/\(bundled)"
    let yaml = try ConfigDocument.parse(try Self.text(path), file: path)
    let fromYAML = try ConfigLoader.load(yaml).run
    var merged = yaml
    merged.root = try HuggingFaceConfig.merged(
      try Self.text("Tests/MegatronPlanTests/Fixtures/hf/\(c.file)"), file: c.file,
      into: yaml.root)
    let fromHF = try ConfigLoader.load(merged).run
    #expect(fromYAML.model == fromHF.model)
    #expect(fromYAML.layout == fromHF.layout)
  }

  @Test("GPT-2: learned positions, tied, LayerNorm and biases; 124,439,808 parameters")
  func gpt2() throws {
    // GPT-2 small (config.json: n_layer 12, n_embd 768, n_head 12, n_positions 1024,
    // vocab_size 50257): 12 × (12·768² + 13·768) = 12 × 7,087,872 = 85,054,464; wte 50257·768
    // = 38,597,376; wpe 1024·768 = 786,432; ln_f 2·768 → 124,439,808, the count Hugging Face
    // gives for openai-community/gpt2.
    let model = try Self.alone("gpt2.json").run.model
    #expect(ParameterCount.total(model).total.value == 124_439_808)
    #expect(model.tiedEmbeddings && model.linearBiases && model.learnedPositionEmbeddings)
    // resid_pdrop and attn_pdrop (0.1 each in config.json) are GPT-2's own dropout.
    #expect(model.dropout.hidden == 0.1 && model.dropout.attention == 0.1)
    // Megatron pads 50257 up to a multiple of 128: 393 × 128 = 50,304.
    #expect(try Self.alone("gpt2.json", unpadded: false).run.model.vocabulary == 50_304)
  }

  @Test("config.json alone gets megaplan's stated defaults")
  func defaults() throws {
    let run = try Self.alone("meta-llama-3-8b.json").run
    // max_position_embeddings 8192 in config.json → min(8192, 4096).
    #expect(run.model.sequenceLength == 4096)
    #expect(run.layout.tensor == 1 && run.layout.pipeline == 1 && run.layout.data == 8)
    #expect(run.layout.microBatch == 1 && run.layout.globalBatch == 8)
    #expect(run.layout.distributedOptimizer && run.model.fusedAttention)
    #expect(run.precision == .bf16)
    #expect(run.model.dropout == .none)
    // GPT-2's n_positions 1024 is below the cap.
    #expect(try Self.alone("gpt2.json").run.model.sequenceLength == 1024)
  }

  @Test("with a YAML, config.json's model wins and the YAML keeps the layout")
  func mergedWins() throws {
    let path = "configs/llama3-8b.yaml"
    var document = try ConfigDocument.parse(try Self.text(path), file: path)
    document.root = try HuggingFaceConfig.merged(
      try Self.text("Tests/MegatronPlanTests/Fixtures/hf/llama-2-7b.json"), file: "llama-2-7b.json",
      into: document.root)
    let run = try ConfigLoader.load(document).run
    // Llama 2 7B's config.json: intermediate_size 11008, num_key_value_heads 32, vocab 32000.
    #expect(run.model.ffnHidden == 11008 && run.model.queryGroups == 32)
    #expect(run.model.vocabulary == 32000)
    // configs/llama3-8b.yaml: t 1, cp 2, seq 8192, global batch 512.
    #expect(run.layout.tensor == 1 && run.layout.contextParallel == 2)
    #expect(run.model.sequenceLength == 8192)
    #expect(run.layout.globalBatch == 512)
  }

  @Test("Qwen 2 has a QKV bias only; Nemotron rotates half of each head")
  func architectureFlags() throws {
    let qwen = try Self.alone("qwen2.5-72b.json").run.model
    #expect(qwen.qkvBias && !qwen.linearBiases)
    // rope_theta 1000000.0 in Qwen2.5-72B's config.json.
    #expect(qwen.positionEmbedding == .rotary(percentage: 1, base: 1_000_000))
    let nemotron = try Self.alone("nemotron-4-15b.json").run.model
    #expect(nemotron.positionEmbedding == .rotary(percentage: 0.5, base: 10_000))
    #expect(nemotron.normalization == .layerNorm1p && nemotron.activation == .squaredReLU)
    let gemma = try Self.alone("gemma-2-9b.json").run.model
    #expect(gemma.sandwichNorm && gemma.activation == .geglu && gemma.headDim == 256)
  }

  // MARK: - Errors, located in config.json

  static func error(_ json: String) -> ConfigError? {
    do {
      _ = try HuggingFaceConfig.modelTree(json, file: "config.json")
      return nil
    } catch let error as ConfigError {
      return error
    } catch {
      return nil
    }
  }

  @Test("an unknown architecture is an error at its name")
  func unknownArchitecture() throws {
    // Line 2 is `  "architectures": ["FalconForCausalLM"],`: the name's first letter is column
    // 22 (2 spaces, 15 for "architectures", ':', ' ', '[', '"').
    let e = try #require(
      Self.error("{\n  \"architectures\": [\"FalconForCausalLM\"],\n  \"hidden_size\": 4544\n}\n"))
    #expect(e.location?.line == 2 && e.location?.column == 22)
    #expect(e.message.contains("'FalconForCausalLM' is not modeled"))
    let moe = try #require(
      Self.error("{\n  \"architectures\": [\"OlmoeForCausalLM\"],\n  \"num_experts\": 8\n}")
    )
    #expect(moe.location?.line == 2 && moe.location?.column == 22)
    #expect(moe.message.contains("mixture of experts is not modeled yet"))
  }

  @Test("a field of the wrong type is an error at its value")
  func wrongType() throws {
    // Line 3 is `  "hidden_size": "4096",`: the value's quote is column 18 (2 spaces, 13 for
    // "hidden_size", ':', ' ').
    let e = try #require(
      Self.error(
        "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"hidden_size\": \"4096\",\n  \"num_hidden_layers\": 32\n}"
      ))
    #expect(e.location?.file == "config.json")
    #expect(e.location?.line == 3 && e.location?.column == 18)
    #expect(e.message.contains("'hidden_size'"))
    // `"tie_word_embeddings": "false"` on line 2 is text, not a boolean: column 25
    // (1 space, 21 for "tie_word_embeddings", ':', ' ').
    let b = try #require(
      Self.error(
        "{\"architectures\": [\"GPT2LMHeadModel\"], \"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2,\n \"tie_word_embeddings\": \"false\", \"vocab_size\": 10, \"n_positions\": 4}"
      ))
    #expect(b.location?.line == 2 && b.location?.column == 25)
    #expect(b.message.contains("'tie_word_embeddings'"))
  }

  @Test("a missing field is an error at the architecture that needs it")
  func missingField() throws {
    let e = try #require(
      Self.error(
        "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"hidden_size\": 4096\n}"))
    #expect(e.location?.line == 2 && e.location?.column == 22)
    #expect(e.message.contains("'num_hidden_layers'"))
  }

  /// Issue 28: a syntax error is placed where it is (it was always 1:1), by RFC 8259's grammar.
  @Test(
    "a JSON syntax error points at its line and column",
    arguments: [
      // (text, line, column, what the message says): derived by counting the characters.
      ("{\n  \"hidden_size\": 4096,\n  \"num_hidden_layers\" 32\n}", 3, 23, "expected ':'"),
      ("{\n  \"hidden_size\": 4096\n  \"num_hidden_layers\": 32\n}", 3, 3, "expected ',' or '}'"),
      ("{\n  \"hidden_size\": 4096,\n}", 3, 1, "expected a key"),
      (
        "{\n  \"rope_scaling\": {\"factor\": 8.0,, \"type\": \"llama3\"}\n}", 2, 34,
        "expected a key"
      ),
      ("{\n  \"hidden_size\": 04096\n}", 2, 19, "leading zero"),
      ("{\n  \"architectures\": [\"LlamaForCausalLM\"\n}", 3, 1, "expected ',' or ']'"),
    ])
  func syntaxErrorLocated(_ text: String, _ line: Int, _ column: Int, _ what: String) throws {
    let e = try #require(Self.error(text))
    #expect(e.message.contains("not valid JSON") && e.message.contains(what), "\(e.message)")
    #expect(
      e.location?.line == line && e.location?.column == column, "\(String(describing: e.location))")
  }

  /// Issue 28: a repeated key was silently the last one (as Python's json.load keeps it).
  @Test("a key repeated in one object is refused at its second place")
  func duplicateKey() throws {
    let json =
      "{\n  \"hidden_size\": 4096,\n  \"num_hidden_layers\": 32,\n  \"hidden_size\": 8192\n}"
    let e = try #require(Self.error(json))
    #expect(e.message.contains("duplicate key 'hidden_size' (first at line 2)"), "\(e.message)")
    #expect(e.location?.line == 4 && e.location?.column == 3)
    let nested = "{\"rope_scaling\": {\"factor\": 8.0, \"factor\": 4.0}}"
    #expect(Self.error(nested)?.message.contains("duplicate key 'factor'") == true)
  }

  @Test("text that is not JSON is an error at the top of the file")
  func notJSON() throws {
    let e = try #require(Self.error("hidden_size: 4096\n"))
    #expect(e.location?.line == 1 && e.message.contains("not valid JSON"))
  }
}
