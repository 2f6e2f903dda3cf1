import Foundation
import Testing
@testable import MegatronPlan

/// The 25 real NeMo files under Fixtures/ (copies of shared/configs, sources in
/// Fixtures/SOURCES.md). Expected layouts and sizes are read by hand from each file's text.
struct GPTFile: CustomStringConvertible, Sendable {
  var path: String
  var layers: Int, hidden: Int, heads: Int, seq: Int
  var micro: Int, global: Int, t: Int, p: Int, v: Int?
  var sp: Bool, recompute: String, gpus: Int
  /// GPT-2 BPE (50,257 tokens) padded to a multiple of 128 × t (Megatron `_vocab_size_with_padding`):
  /// t = 1 → 50,304; 2 → 50,432; 4 → 50,688; 8 → 51,200.
  var vocab: Int
  var description: String { path }
}

let gptFiles: [GPTFile] = [
  GPTFile(
    path: "nemo-launcher/gpt3/126m.yaml", layers: 12, hidden: 768, heads: 12, seq: 2048, micro: 4,
    global: 256, t: 1, p: 1, v: nil, sp: false, recompute: "none", gpus: 64, vocab: 50304),
  GPTFile(
    path: "nemo-launcher/gpt3/175b.yaml", layers: 96, hidden: 12288, heads: 96, seq: 2048, micro: 1,
    global: 2048, t: 4, p: 8, v: 6, sp: true, recompute: "none", gpus: 1024, vocab: 50688),
  GPTFile(
    path: "nemo-launcher/gpt3/1b_improved.yaml", layers: 24, hidden: 2048, heads: 16, seq: 2048,
    micro: 2, global: 512, t: 1, p: 1, v: nil, sp: false, recompute: "none", gpus: 64, vocab: 50304),
  GPTFile(
    path: "nemo-launcher/gpt3/20b.yaml", layers: 44, hidden: 6144, heads: 48, seq: 2048, micro: 2,
    global: 2048, t: 2, p: 1, v: nil, sp: true, recompute: "none", gpus: 512, vocab: 50432),
  GPTFile(
    path: "nemo-launcher/gpt3/400m_improved.yaml", layers: 24, hidden: 1024, heads: 16, seq: 2048,
    micro: 4, global: 256, t: 1, p: 1, v: nil, sp: false, recompute: "none", gpus: 64, vocab: 50304),
  GPTFile(
    path: "nemo-launcher/gpt3/40b.yaml", layers: 48, hidden: 8192, heads: 64, seq: 2048, micro: 2,
    global: 2048, t: 2, p: 4, v: nil, sp: true, recompute: "none", gpus: 1024, vocab: 50432),
  GPTFile(
    path: "nemo-launcher/gpt3/40b_improved.yaml", layers: 48, hidden: 8192, heads: 64, seq: 2048,
    micro: 1, global: 1536, t: 8, p: 2, v: nil, sp: false, recompute: "none", gpus: 768,
    vocab: 51200),
  GPTFile(
    path: "nemo-launcher/gpt3/5b.yaml", layers: 24, hidden: 4096, heads: 32, seq: 2048, micro: 4,
    global: 2048, t: 1, p: 1, v: nil, sp: false, recompute: "none", gpus: 128, vocab: 50304),
  GPTFile(
    path: "nemo-launcher/gpt3/7b_improved.yaml", layers: 32, hidden: 4096, heads: 32, seq: 2048,
    micro: 1, global: 512, t: 4, p: 1, v: nil, sp: false, recompute: "none", gpus: 128, vocab: 50688
  ),
  // 2022 launcher: `full` with activations_checkpoint_num_layers 0 recomputes nothing.
  GPTFile(
    path: "nemo-launcher-2022/gpt3/126m.yaml", layers: 12, hidden: 768, heads: 12, seq: 2048,
    micro: 4, global: 256, t: 1, p: 1, v: nil, sp: false, recompute: "none", gpus: 64, vocab: 50304),
  GPTFile(
    path: "nemo-launcher-2022/gpt3/175b.yaml", layers: 96, hidden: 12288, heads: 96, seq: 2048,
    micro: 2, global: 2048, t: 8, p: 8, v: nil, sp: true, recompute: "selective", gpus: 1024,
    vocab: 51200),
  GPTFile(
    path: "nemo-launcher-2022/gpt3/20b.yaml", layers: 44, hidden: 6144, heads: 48, seq: 2048,
    micro: 4, global: 2048, t: 4, p: 1, v: nil, sp: true, recompute: "selective", gpus: 512,
    vocab: 50688),
  GPTFile(
    path: "nemo-launcher-2022/gpt3/40b.yaml", layers: 48, hidden: 8192, heads: 64, seq: 2048,
    micro: 2, global: 2048, t: 4, p: 2, v: nil, sp: true, recompute: "selective", gpus: 1024,
    vocab: 50688),
  GPTFile(
    path: "nemo-launcher-2022/gpt3/5b.yaml", layers: 24, hidden: 4096, heads: 32, seq: 2048,
    micro: 2, global: 2048, t: 1, p: 1, v: nil, sp: false, recompute: "none", gpus: 128,
    vocab: 50304),
  GPTFile(
    path: "nemo/megatron_gpt_config.yaml", layers: 12, hidden: 768, heads: 12, seq: 512, micro: 4,
    global: 8, t: 1, p: 1, v: nil, sp: false, recompute: "none", gpus: 1, vocab: 50304),
]

/// Files megaplan must refuse, with the key the one-line message names.
/// The launcher's T5 and mT5 files (encoder–decoder: `EncoderDecoderTests` counts them by hand).
let encoderDecoderFiles: [String] = [
  "nemo-launcher/t5/220m.yaml", "nemo-launcher/t5/3b.yaml", "nemo-launcher/t5/11b.yaml",
  "nemo-launcher/mt5/170m.yaml", "nemo-launcher/mt5/390m.yaml", "nemo-launcher/mt5/3b.yaml",
  "nemo-launcher-2022/t5/220m.yaml", "nemo-launcher-2022/t5/3b.yaml",
  "nemo-launcher-2022/t5/11b.yaml", "nemo-launcher-2022/mt5/170m.yaml",
  "nemo-launcher-2022/mt5/390m.yaml", "nemo-launcher-2022/mt5/3b.yaml",
]

struct LlamaFile: CustomStringConvertible, Sendable {
  var path: String
  var layers: Int, hidden: Int, heads: Int, groups: Int, ffn: Int, vocab: Int, published: Int
  var description: String { path }
}

let llamaFiles: [LlamaFile] = [
  LlamaFile(
    path: "nemo-launcher/llama/llama2_7b.yaml", layers: 32, hidden: 4096, heads: 32, groups: 32,
    ffn: 11008, vocab: 32_000, published: 6_738_415_616),
  LlamaFile(
    path: "nemo-launcher/llama/llama2_70b.yaml", layers: 80, hidden: 8192, heads: 64, groups: 8,
    ffn: 28672, vocab: 32_256, published: 68_976_648_192),
]

func fixture(_ path: String) throws -> (text: String, file: String) {
  guard let url = Bundle.module.url(forResource: "Fixtures/" + path, withExtension: nil) else {
    throw ConfigError("missing fixture \(path)")
  }
  return (try String(contentsOf: url, encoding: .utf8), path)
}

@Suite struct ConfigFilesTests {
  @Test(
    "25 fixtures: every file is read",
    arguments: gptFiles.map(\.path) + encoderDecoderFiles + llamaFiles.map(\.path))
  func reads(_ path: String) throws {
    let (text, file) = try fixture(path)
    let doc = try ConfigDocument.parse(text, file: file)
    #expect(!doc.keys(under: "model").isEmpty)
  }

  @Test("GPT-3 files estimate with the layout and sizes the file states", arguments: gptFiles)
  func estimates(_ f: GPTFile) throws {
    let (text, file) = try fixture(f.path)
    let loaded = try ConfigLoader.load(try ConfigDocument.parse(text, file: file))
    let e = Estimate(loaded.run)
    #expect(
      e.model.layers == f.layers && e.model.hidden == f.hidden && e.model.heads == f.heads
        && e.model.sequenceLength == f.seq)
    #expect(e.model.vocabulary == f.vocab)
    let l = e.layout
    #expect(
      l.tensor == f.t && l.pipeline == f.p && l.virtual == f.v && l.microBatch == f.micro
        && l.globalBatch == f.global)
    #expect(l.gpus == f.gpus && l.data == f.gpus / (f.t * f.p))
    #expect(l.sequenceParallel == (f.sp && f.t > 1))
    #expect(l.recompute == f.recompute)
    #expect(e.time.iterationSeconds.isFinite && e.time.iterationSeconds > 0)
    #expect(loaded.warnings.isEmpty, "spurious warnings: \(loaded.warnings)")
  }

  /// The launcher's Llama 2 files as written: shapes from the files; parameters counted by hand
  /// from Llama 2's architecture (RMSNorm, SwiGLU, no biases, untied, 32,000-token vocabulary
  /// padded to a multiple of 128·t): per layer h(a + 2g)d_h + a·d_h·h + 3hf + 2h, plus 2Vh and
  /// the final norm h. With V = 32,000 these are Llama 2's published totals (7B: 6,738,415,616;
  /// 70B: 68,976,648,192, Touvron et al. 2023 / the Hugging Face checkpoints); 70B at t = 4 pads V
  /// to 32,256, adding 2·256·8,192.
  @Test("Llama 2 launcher files estimate as written", arguments: llamaFiles)
  func llama(_ f: LlamaFile) throws {
    let (text, file) = try fixture(f.path)
    let loaded = try ConfigLoader.load(try ConfigDocument.parse(text, file: file))
    let m = loaded.run.model
    #expect(m.normalization == .rmsNorm && m.activation == .swiglu && !m.linearBiases)
    #expect(m.queryGroups == f.groups && m.vocabulary == f.vocab && !m.tiedEmbeddings)
    #expect(m.dropout == .none && m.fusedAttention)
    let h = f.hidden, dh = f.hidden / f.heads
    let layer = h * (f.heads + 2 * f.groups) * dh + f.heads * dh * h + 3 * h * f.ffn + 2 * h
    let total = f.layers * layer + 2 * f.vocab * h + h
    #expect(Estimate(loaded.run).model.parameters == Double(total))
    #expect(total == f.published + 2 * (f.vocab - 32_000) * h)
    #expect(loaded.warnings.isEmpty, "spurious warnings: \(loaded.warnings)")
  }

  @Test("a misspelled key warns with a suggestion; NeMo's other keys stay silent")
  func misspelling() throws {
    let text = """
      model:
        num_layers: 4
        hidden_size: 256
        num_attention_heads: 4
        encoder_seq_length: 128
        micro_batch_size: 1
        global_batch_size: 8
        tensor_model_paralel_size: 2
        hidden_dropout: 0.1
      megaplan:
        vocab_size: 1024
        gpux: a100-80gb
      """
    let loaded = try ConfigLoader.load(try ConfigDocument.parse(text, file: "typo.yaml"))
    #expect(loaded.warnings.count == 2)
    #expect(
      loaded.warnings.first?.message
        == "unknown key 'model.tensor_model_paralel_size'; did you mean 'tensor_model_parallel_size'?"
    )
    #expect(loaded.warnings.first?.location?.line == 8)
    #expect(
      loaded.warnings.last?.message.hasPrefix("unknown key 'megaplan.gpux'; did you mean 'gpu'?")
        == true)
  }

  @Test("the effective config records where each value came from")
  func provenance() throws {
    var doc = try ConfigDocument.parse(
      try fixture("nemo-launcher/gpt3/175b.yaml").text, file: "175b.yaml")
    try doc.override(
      "model.micro_batch_size", with: "2",
      location: SourceLocation(file: "--set", line: 1, column: 24))
    let loaded = try ConfigLoader.load(doc)
    let byKey = Dictionary(loaded.settings.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
    // 175b.yaml line 69: "  num_layers: 96".
    if case .file(let loc) = byKey["model.num_layers"]?.origin {
      #expect(loc.line == 69)
    } else {
      Issue.record("num_layers not from the file")
    }
    if case .override = byKey["model.micro_batch_size"]?.origin {
    } else {
      Issue.record("micro_batch_size not from --set")
    }
    #expect(byKey["model.micro_batch_size"]?.value == "2")
    #expect(byKey["model.ffn_hidden_size"]?.value == "49152")
    if case .derived = byKey["vocab_size"]?.origin {
    } else {
      Issue.record("vocab_size not derived")
    }
  }

  @Test("a tokenizer megaplan cannot read asks for its vocabulary, pointing at the tokenizer")
  func vocabularyNeeded() throws {
    let text = """
      model:
        num_layers: 4
        hidden_size: 256
        num_attention_heads: 4
        encoder_seq_length: 128
        micro_batch_size: 1
        global_batch_size: 8
        tokenizer:
          library: sentencepiece
          model: ${data_dir}/tokenizer.model
      """
    #expect {
      try ConfigLoader.load(try ConfigDocument.parse(text, file: "sp.yaml"))
    } throws: { error in
      guard let e = error as? ConfigError else { return false }
      return e.message.contains("set megaplan.tokenizer_vocab_size")
        && e.message.contains("megaplan.vocab_size") && e.location?.line == 8
    }
  }
}
