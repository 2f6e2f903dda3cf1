import Foundation
import Testing
@testable import MegatronPlan

/// The families' shape rules against the published shapes they come from: NeMo's five GPT-3
/// configs (Fixtures/nemo-launcher/gpt3/*.yaml, read by hand) and Llama 3.1's model arguments
/// (meta-llama/llama-models `models/sku_list.py` at 5309637).
@Suite struct ModelFamilyTests {
  struct Case: CustomStringConvertible, Sendable {
    var billions: Double
    var layers: Int, hidden: Int, heads: Int
    var description: String { "GPT-3 \(billions)B" }
  }

  @Test(
    "NeMo's sizing rule gives the five NeMo GPT-3 configs' shapes",
    arguments: [
      Case(billions: 0.126, layers: 12, hidden: 768, heads: 12),
      Case(billions: 5, layers: 24, hidden: 4096, heads: 32),
      Case(billions: 20, layers: 44, hidden: 6144, heads: 48),
      Case(billions: 40, layers: 48, hidden: 8192, heads: 64),
      Case(billions: 175, layers: 96, hidden: 12288, heads: 96),
    ])
  func gpt3Shapes(_ c: Case) throws {
    let s = try #require(GPT3Sizing.shape(billions: c.billions))
    #expect(s.layers == c.layers)
    #expect(s.hidden == c.hidden)
    #expect(s.heads == c.heads)
    #expect(s.ffnHidden == 4 * c.hidden)
  }

  @Test("NeMo's parameter count is N21 Eq. 2 with V = 51,200")
  func gpt3Count() {
    // 12 · 96 · 12288² = 173,946,175,488; × (1 + 13/147,456 + 53,248/14,155,776) = 1.0038498
    // → 174.616 B (the GPT-3 paper's "175B").
    let b = GPT3Sizing.billions(layers: 96, hidden: 12288, vocabulary: 51_200, sequenceLength: 2048)
    #expect(abs(b - 174.616) < 0.01)
    // Outside the rule's range (it stops below 1,105 B) there is no shape.
    #expect(GPT3Sizing.shape(billions: 2000) == nil)
  }

  @Test(
    "both ladders grow strictly in parameters, with valid shapes", arguments: ModelFamily.allCases)
  func ladders(_ family: ModelFamily) throws {
    let base = try family.baseRun(gpu: .a100_80GB, sequenceLength: family.defaultSequenceLength)
    let ladder = family.ladder(sequenceLength: family.defaultSequenceLength)
    #expect(ladder.count > 50)
    var last = 0.0
    for shape in ladder {
      #expect(shape.isValid, "\(shape)")
      #expect(shape.layers % 4 == 0, "\(shape): layer counts are multiples of 4")
      let n = ParameterCount.total(family.run(shape, base: base).model).total.value
      #expect(n > last, "\(shape) is not larger than the rung below")
      last = n
    }
  }

  @Test("the Llama ladder holds Llama 3 8B and 70B as published")
  func llamaPublished() {
    let ladder = Set(LlamaSizing.ladder())
    // sku_list.py: 8B dim 4096, 32 layers, 32 heads, 8 kv heads, FFN 14,336 (multiplier 1.3,
    // multiple_of 1,024); 70B dim 8192, 80 layers, 64 heads, 8 kv heads, FFN 28,672.
    #expect(
      ladder.contains(
        ModelShape(layers: 32, hidden: 4096, heads: 32, queryGroups: 8, ffnHidden: 14336)))
    #expect(
      ladder.contains(
        ModelShape(layers: 80, hidden: 8192, heads: 64, queryGroups: 8, ffnHidden: 28672)))
    for s in ladder {
      #expect(s.hidden == 128 * s.heads && s.queryGroups == 8 && s.heads % 8 == 0, "\(s)")
    }
  }

  @Test("Meta's MLP width rule gives the published widths")
  func llamaFFN() {
    // 2/3 · 4h · multiplier rounded up: 8B 14,336; 70B 28,672; 405B 53,248 (sku_list.py).
    #expect(LlamaSizing.ffnHidden(hidden: 4096) == 14336)
    #expect(LlamaSizing.ffnHidden(hidden: 8192) == 28672)
    #expect(LlamaSizing.ffnHidden(hidden: 16384) == 53248)
    // The depth curve passes through the published depths (405B: 126 layers at 16,384).
    #expect(
      LlamaSizing.depthAnchors.allSatisfy { LlamaSizing.depth(hidden: $0.hidden) == $0.layers })
  }

  @Test("the recipes' global batches follow NeMo's rule and Llama 2's 4M tokens")
  func batches() {
    // _gbs_tp_pp_gpt3_80gb at s = 2048: ≤ 1B → 256, ≤ 4B → 1,024, else 2,048 sequences.
    #expect(ModelFamily.gpt3.globalBatch(parameters: 0.126e9, sequenceLength: 2048) == 256)
    #expect(ModelFamily.gpt3.globalBatch(parameters: 2e9, sequenceLength: 2048) == 1024)
    #expect(ModelFamily.gpt3.globalBatch(parameters: 175e9, sequenceLength: 2048) == 2048)
    // The same tokens at s = 4096: 1,024 (NeMo's table lists 1,024 for > 4B at 4,096).
    #expect(ModelFamily.gpt3.globalBatch(parameters: 20e9, sequenceLength: 4096) == 1024)
    // Llama: 4,194,304 tokens / 8,192 = 512 sequences.
    #expect(ModelFamily.llama.globalBatch(parameters: 70e9, sequenceLength: 8192) == 512)
  }

  @Test("the GPT-3 recipe reads as a NeMo GPT-3 config does")
  func gpt3Recipe() throws {
    let run = try ModelFamily.gpt3.baseRun(gpu: .a100_80GB, sequenceLength: 2048)
    // GPT2BPETokenizer (50,257 tokens) padded to a multiple of 128 at t = 1: 50,304.
    #expect(run.model.vocabulary == 50_304)
    #expect(run.model.tiedEmbeddings)
    #expect(run.precision == .bf16)
    let llama = try ModelFamily.llama.baseRun(gpu: .h100SXM, sequenceLength: 8192)
    // 128,256 tokens padded to a multiple of 128: 128,256 (= 1,002 × 128).
    #expect(llama.model.vocabulary == 128_256)
    #expect(!llama.model.tiedEmbeddings)
    #expect(llama.model.activation == .swiglu)
  }
}
