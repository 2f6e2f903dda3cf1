import Foundation
import Testing

@testable import MegatronPlan

/// One launcher T5/mT5 file and its shapes, read off the file by eye (both stacks are the same
/// in every launcher file).
struct T5File: CustomStringConvertible, Sendable {
  var path: String
  var layers: Int  // per stack
  var hidden: Int, heads: Int, kvChannels: Int, ffn: Int
  var vocabulary: Int  // padded: the tokenizer's tokens + 100 sentinels, to a multiple of 128·t
  var description: String { path }
}

let t5Files: [T5File] = [
  // BertWordPieceCase: 28,996 tokens + 100 sentinels = 29,096 → 29,184 (a multiple of 128·t for
  // t ≤ 4: 29,184 = 57 × 512).
  T5File(
    path: "nemo-launcher/t5/220m.yaml", layers: 12, hidden: 768, heads: 12, kvChannels: 64,
    ffn: 2048, vocabulary: 29_184),
  T5File(
    path: "nemo-launcher/t5/3b.yaml", layers: 24, hidden: 2048, heads: 32, kvChannels: 64,
    ffn: 5120, vocabulary: 29_184),
  T5File(
    path: "nemo-launcher/t5/11b.yaml", layers: 24, hidden: 4096, heads: 64, kvChannels: 64,
    ffn: 10240, vocabulary: 29_184),
  T5File(
    path: "nemo-launcher-2022/t5/220m.yaml", layers: 12, hidden: 768, heads: 12, kvChannels: 64,
    ffn: 2048, vocabulary: 29_184),
  T5File(
    path: "nemo-launcher-2022/t5/3b.yaml", layers: 24, hidden: 2048, heads: 32, kvChannels: 64,
    ffn: 5120, vocabulary: 29_184),
  T5File(
    path: "nemo-launcher-2022/t5/11b.yaml", layers: 24, hidden: 4096, heads: 64, kvChannels: 64,
    ffn: 10240, vocabulary: 29_184),
  // mt5_tokenizer.model: 250,000 tokens + 100 sentinels + the 5 special tokens NeMo adds to a
  // SentencePiece vocabulary (cls, sep, mask, pad, bos) = 250,105 → 250,112 (977 × 256).
  T5File(
    path: "nemo-launcher/mt5/170m.yaml", layers: 8, hidden: 512, heads: 6, kvChannels: 64,
    ffn: 1024, vocabulary: 250_112),
  T5File(
    path: "nemo-launcher/mt5/390m.yaml", layers: 12, hidden: 768, heads: 12, kvChannels: 64,
    ffn: 2048, vocabulary: 250_112),
  T5File(
    path: "nemo-launcher/mt5/3b.yaml", layers: 24, hidden: 2048, heads: 32, kvChannels: 64,
    ffn: 5120, vocabulary: 250_112),
  T5File(
    path: "nemo-launcher-2022/mt5/170m.yaml", layers: 8, hidden: 512, heads: 6, kvChannels: 64,
    ffn: 1024, vocabulary: 250_112),
  T5File(
    path: "nemo-launcher-2022/mt5/390m.yaml", layers: 12, hidden: 768, heads: 12,
    kvChannels: 64, ffn: 2048, vocabulary: 250_112),
  T5File(
    path: "nemo-launcher-2022/mt5/3b.yaml", layers: 24, hidden: 2048, heads: 32, kvChannels: 64,
    ffn: 5120, vocabulary: 250_112),
]

func loadFixture(_ path: String, _ overrides: [String] = []) throws -> TrainingRun {
  let (text, file) = try fixture(path)
  var doc = try ConfigDocument.parse(text, file: file)
  for o in overrides {
    let parts = o.split(separator: "=", maxSplits: 1).map(String.init)
    try doc.override(
      parts[0], with: parts[1], location: SourceLocation(file: "--set", line: 1, column: 1))
  }
  return try ConfigLoader.load(doc).run
}

@Suite struct EncoderDecoderTests {
  /// NeMo's T5 as the launcher files build it (`MegatronTokenLevelEncoderDecoderModule`, pre-LN,
  /// LayerNorm with bias, GeGLU, biases, learned absolute positions, shared token embeddings
  /// and a tied LM head with its own bias), counted by hand with q = a·d_h:
  /// - encoder layer: two norms 4h; QKV 3hq + 3q; projection qh + h; fc1 (GeGLU, 2f wide)
  ///   2hf + 2f; fc2 fh + h;
  /// - decoder layer: the same plus cross-attention: its norm 2h, query hq + q, key/value
  ///   2hq + 2q, projection qh + h;
  /// - one word embedding Vh and one position table 512·h for both stacks, the two stacks'
  ///   final norms 4h, the LM head's bias V.
  /// T5 220M: 221,339,136 ≈ the "220M" of its name; mT5 170M: 172,733,696 (the 250k vocabulary is
  /// 128M of it).
  @Test("parameters of every launcher T5/mT5 file, counted by hand", arguments: t5Files)
  func parameters(_ f: T5File) throws {
    let run = try loadFixture(f.path)
    let m = run.model
    let h = f.hidden, q = f.heads * f.kvChannels, ff = f.ffn, V = f.vocabulary
    let encoder = 4 * h + (3 * h * q + 3 * q) + (q * h + h) + (2 * h * ff + 2 * ff) + (ff * h + h)
    let decoder = encoder + 2 * h + (h * q + q) + (2 * h * q + 2 * q) + (q * h + h)
    let total = f.layers * (encoder + decoder) + V * h + 512 * h + 4 * h + V
    #expect(m.vocabulary == V)
    #expect(m.layers == 2 * f.layers && m.decoderLayers == f.layers)
    #expect(m.encoderDecoder?.encoderLayers == f.layers)
    #expect(m.encoderDecoder?.encoderSequence == 512 && m.sequenceLength == 128)
    #expect(ParameterCount.total(m).total.value == Double(total), "\(f.path)")
  }

  @Test("the two named totals")
  func namedTotals() throws {
    #expect(
      ParameterCount.total(try loadFixture("nemo-launcher/t5/220m.yaml").model).total.value
        == 221_339_136)
    #expect(
      ParameterCount.total(try loadFixture("nemo-launcher/mt5/170m.yaml").model).total.value
        == 172_733_696)
  }

  /// T5 220M (`nemo-launcher/t5/220m.yaml`: t = p = 1, b = 64, s_enc = 512, s_dec = 128, fused
  /// attention, hidden and attention dropout 0.1, bf16) on an H100 (Transformer Engine's cuDNN
  /// attention, which keeps the core's output once), K22's method tensor by tensor, with
  /// T = b·s tokens, h = q = 768, f = 2,048, a = 12:
  /// - encoder layer (T = 32,768): input norm 2Th, QKV input 2Th, the fused core's Q and K
  ///   2T·2q, V 2Tq and fp32 log-sum-exp 4aT, projection input 2Tq, dropout mask Th; pre-MLP
  ///   norm 2Th, fc1 input 2Th, the fused bias-GeGLU's input 2T·2f, fc2 input 2Tf, dropout mask
  ///   Th = 857,210,880 bytes;
  /// - decoder layer (T = 8,192): the same terms at T = 8,192 (214,302,720) plus the
  ///   cross-attention block: its norm input 2Th, query input 2Th, Q 2Tq, K and V of the encoder's
  ///   32,768 tokens 2 × 2·32,768·q, log-sum-exp 4aT, projection input 2Tq, dropout mask Th
  ///   (157,679,616) = 371,982,336 bytes;
  /// - the stage (one microbatch in flight): 12 of each layer (14,750,318,592), the encoder's
  ///   embedding dropout mask 32,768·h and the decoder's 8,192·h, the encoder's final norm input
  ///   and its output (what every cross-attention's key/value projection reads) 2·32,768·h each,
  ///   the decoder's final norm input and output layer input 2·8,192·h each, fp32 logits
  ///   4·8,192·29,184 = 15,863,906,304 bytes.
  /// On the file's A100 Transformer Engine runs flash-attn, which keeps its own copy of each
  /// core's output (`flashOutputCopy`): +2Tq per encoder layer (50,331,648) and per decoder layer
  /// +2·8,192·q for the self- and again for the cross-attention (25,165,824).
  @Test("T5 220M activations by hand: encoder layer, decoder layer, the stage")
  func activations() throws {
    let run = try loadFixture("nemo-launcher/t5/220m.yaml", ["megaplan.gpu=h100-sxm"])
    let e = Estimate(run)
    #expect(e.model.encoderDecoder?.encoderLayers == 12)
    #expect(e.memory.encoderActivationsPerLayerBytes == 857_210_880)
    #expect(e.memory.decoderActivationsPerLayerBytes == 371_982_336)
    #expect(e.memory.activationsBytes == 15_863_906_304)
    let terms = e.memory.stages[0].activations
    #expect(terms[named: "encoder_output"].value == 2 * 32_768 * 768)
    #expect(terms[named: "logits"].value == 4 * 8_192 * 29_184)
    let a100 = Estimate(try loadFixture("nemo-launcher/t5/220m.yaml"))
    #expect(a100.memory.encoderActivationsPerLayerBytes == Double(857_210_880 + 50_331_648))
    #expect(a100.memory.decoderActivationsPerLayerBytes == Double(371_982_336 + 25_165_824))
    #expect(
      a100.memory.activationsBytes == 15_863_906_304 + 12 * (50_331_648 + 25_165_824))
  }

  /// The two layers by tensor (`memory.encoder_activations_per_layer`,
  /// `memory.decoder_activations_per_layer`), T5 220M as above (H100, no recompute): each sums to its
  /// layer's bytes derived above (857,210,880 and 371,982,336); only the decoder layer has the
  /// cross-attention's tensors, among them K and V of the encoder's 32,768 tokens,
  /// 2 × 2·32,768·q = 100,663,296 bytes, and the fused core's fp32 log-sum-exp
  /// 4·a·8,192 = 393,216; each layer's fc1 input is 2Th at its own T: 2·32,768·768 = 50,331,648
  /// and 2·8,192·768 = 12,582,912. A decoder-only model (the launcher's GPT-3 5B) has neither
  /// breakdown.
  @Test("T5 220M: the encoder and decoder layers by tensor")
  func layersByTensor() throws {
    let e = Estimate(try loadFixture("nemo-launcher/t5/220m.yaml", ["megaplan.gpu=h100-sxm"]))
    let enc = try #require(e.memory.encoderActivationsPerLayer)
    let dec = try #require(e.memory.decoderActivationsPerLayer)
    #expect(enc.total.value == 857_210_880)
    #expect(dec.total.value == 371_982_336)
    #expect(dec[named: "cross_key_value"].value == 100_663_296)
    #expect(dec[named: "cross_softmax_statistics"].value == 393_216)
    #expect(
      enc[named: "fc1_input"].value == 50_331_648
        && dec[named: "fc1_input"].value == 12_582_912)
    #expect(!enc.terms.contains { $0.name.hasPrefix("cross_") })
    let gpt = Estimate(try loadFixture("nemo-launcher/gpt3/5b.yaml"))
    #expect(gpt.memory.encoderActivationsPerLayer == nil)
    #expect(gpt.memory.decoderActivationsPerLayer == nil)
  }

  /// Model FLOPs of T5 220M per iteration (B = 2,048), forward GEMMs × 3, per sample:
  /// - encoder, 12 layers × 512 tokens × (weights 2·(3h² + h²) + 2·3hf = 14,155,776 per token,
  ///   bidirectional attention 4·512·h = 1,572,864 per token) = 96,636,764,160;
  /// - decoder, 12 layers × (128 tokens × (self-attention weights 8h² = 4,718,592, its causal half
  ///   of 4·128·h = 196,608, cross query and projection 4h² = 2,359,296, cross attention over the
  ///   512 keys 4·512·h = 1,572,864, MLP 9,437,184) + the cross keys and values of the 512
  ///   encoder tokens 512 × 4h² = 1,207,959,552) = 42,580,574,208;
  /// - logits 2·128·h·29,184 = 5,737,807,872;
  /// in all 144,955,146,240 × 3 × 2,048 = 890,604,418,498,560.
  @Test("T5 220M model FLOPs by hand")
  func flops() throws {
    let run = try loadFixture("nemo-launcher/t5/220m.yaml")
    #expect(
      FLOPCount.model(run.model, globalBatch: 2048, attention: .causal).value
        == 890_604_418_498_560)
    // Counting full s × s scores adds the decoder self-attention's other half:
    // 12 × 128 × 196,608 × 3 × 2,048 per iteration.
    #expect(
      FLOPCount.model(run.model, globalBatch: 2048, attention: .full).value
        == 890_604_418_498_560 + 12 * 128 * 196_608 * 3 * 2048)
    // Tokens count as the encoder's (NeMo's 1T-token T5 runs: steps × batch × 512).
    let e = Estimate(run)
    #expect(abs(e.throughput.tokensPerSecond * e.time.iterationSeconds - 2048 * 512) < 1e-3)
  }

  /// T5 11B at p = 4 (NeMo's default split rank ⌊p/2⌋ = 2): stages 0–1 hold 12 encoder layers
  /// each, stages 2–3 12 decoder layers each. Per GPU at t = 4 (h = 4,096, q = 4,096,
  /// f = 10,240, V = 29,184): stage 0 holds its layers, the word embedding Vh/t and the position
  /// table 512·h; stage 1 adds the encoder's final norm 2h; stage 2 (the first decoder stage)
  /// holds the decoder's copies of the word embedding and the position table; stage 3 the
  /// decoder's final norm 2h and the LM head: its own copy of the embedding Vh/t and bias V/t.
  @Test("T5 11B on four pipeline stages: the split rank and each stage's parameters")
  func pipeline() throws {
    let run = try loadFixture(
      "nemo-launcher/t5/11b.yaml",
      ["model.pipeline_model_parallel_size=4", "trainer.num_nodes=40"])
    let l = run.layout, m = run.model
    #expect(l.split.encoderStages == 2)
    #expect(l.layerKinds(onStage: 0, of: m) == LayerCounts(encoder: 12))
    #expect(l.layerKinds(onStage: 1, of: m) == LayerCounts(encoder: 12))
    #expect(l.layerKinds(onStage: 2, of: m) == LayerCounts(decoder: 12))
    #expect(l.layerKinds(onStage: 3, of: m) == LayerCounts(decoder: 12))
    let h = 4096, q = 4096, ff = 10240, V = 29_184, t = 4
    // Sharded over t: the weights and column-parallel biases; replicated: norms and the
    // row-parallel biases (Megatron's layout).
    let encSharded = 3 * h * q + 3 * q + q * h + 2 * h * ff + 2 * ff + ff * h
    let encReplicated = 4 * h + h + h
    let decSharded = encSharded + h * q + q + 2 * h * q + 2 * q + q * h
    let decReplicated = encReplicated + 2 * h + h
    let encoder = encSharded / t + encReplicated, decoder = decSharded / t + decReplicated
    func stage(_ i: Int) -> Double { ParameterCount.perGPU(m, l, stage: i).total.value }
    #expect(stage(0) == Double(12 * encoder + V * h / t + 512 * h))
    #expect(stage(1) == Double(12 * encoder + 2 * h))
    #expect(stage(2) == Double(12 * decoder + V * h / t + 512 * h))
    #expect(stage(3) == Double(12 * decoder + 2 * h + V * h / t + V / t))
    // Every pipeline message of a decoder stage carries the encoder's output beside the
    // decoder's hidden state (b = 24): 2 bytes × 24 × (128 + 512) × h, sent and received.
    let peak = Evaluator(run).evaluate(l).stages[3].peak
    #expect(peak.pipelineBuffers == 2 * 2 * 24 * (128 + 512) * 4096 / 1)
  }

  /// NeMo's other block types on T5 220M (both stacks, on an H100), against pre-LN:
  /// - post_ln: the same tensors per layer (each norm saves its input, the residual sum, as a
  ///   pre-norm saves the layer input); no final norms: −2 × 2h parameters, and neither the
  ///   encoder's final norm input (2·32,768·h) nor the decoder's (2·8,192·h) is kept;
  /// - normformer: per encoder layer a norm on the attention output (2h parameters, saves 2Th) and
  ///   one on the activation's f-wide output (2f parameters, saves 2Tf); a decoder layer also
  ///   normalises its cross-attention output (2h, 2Th): +12·(2h + 2f) + 12·(4h + 2f) parameters,
  ///   +2·32,768·(h + f) bytes per encoder layer and +2·8,192·(2h + f) per decoder layer.
  @Test("post-LN and NormFormer blocks: parameters and activations by hand")
  func blockTypes() throws {
    let base = Estimate(try loadFixture("nemo-launcher/t5/220m.yaml", ["megaplan.gpu=h100-sxm"]))
    func run(_ type: String) throws -> Estimate {
      Estimate(
        try loadFixture(
          "nemo-launcher/t5/220m.yaml",
          [
            "model.encoder.transformer_block_type=\(type)",
            "model.decoder.transformer_block_type=\(type)", "megaplan.gpu=h100-sxm",
          ]))
    }
    let h = 768.0, f = 2048.0
    let post = try run("post_ln")
    #expect(post.model.parameters == base.model.parameters - 2 * 2 * h)
    #expect(
      post.memory.activationsBytes == base.memory.activationsBytes - 2 * 32_768 * h - 2 * 8_192 * h)
    let normformer = try run("normformer")
    #expect(
      normformer.model.parameters == base.model.parameters + 12 * (2 * h + 2 * f) + 12
        * (4 * h + 2 * f))
    #expect(
      normformer.memory.encoderActivationsPerLayerBytes
        == 857_210_880 + 2 * 32_768 * (h + f))
    #expect(
      normformer.memory.decoderActivationsPerLayerBytes
        == 371_982_336 + 2 * 8_192 * (2 * h + f))
  }

  /// Megatron-LM's T5 220M example (examples/t5/train_t5_220m_distributed.sh): both stacks from
  /// the same flags, 12 + 12 layers, h = q = 768, GeLU FFN 3,072 (not gated), biases, LayerNorm,
  /// learned positions; per encoder layer 4h + (3hq + 3q) + (qh + h) + (hf + f) + (fh + h) =
  /// 7,087,872, per decoder layer that + 2h + (hq + q) + (2hq + 2q) + (qh + h) = 9,451,776; the
  /// vocabulary 28,996 (BertWordPieceCase) + [BOS], [EOS] + 100 extra ids = 29,098 → 29,184; the
  /// embedding 29,184·768, positions 512·768, final norms 2 × 2h and the LM head's bias 29,184:
  /// 221,314,560. On its script's one node of 8 GPUs.
  @Test("Megatron-LM's T5 220M script, counted by hand")
  func megatronScript() throws {
    let text = try String(
      contentsOf: try #require(
        Bundle.module.url(
          forResource: "Fixtures/megatron-lm/train_t5_220m_distributed.sh", withExtension: nil)),
      encoding: .utf8)
    let root = try MegatronArguments.parse(text, file: "train_t5_220m_distributed.sh")
    let run = try ConfigLoader.load(ConfigDocument(root: root, file: "t5.sh")).run
    let m = run.model
    #expect(m.encoderDecoder?.encoderLayers == 12 && m.decoderLayers == 12)
    #expect(m.encoderDecoder?.encoderSequence == 512 && m.sequenceLength == 128)
    #expect(m.activation == .gelu && m.vocabulary == 29_184 && m.fusedAttention)
    #expect(ParameterCount.total(m).total.value == 221_314_560)
    #expect(run.layout.gpus == 8 && run.layout.microBatch == 64 && run.layout.globalBatch == 512)
  }

  @Test("the encoder–decoder rules, each naming its key")
  func rules() throws {
    func refusal(_ overrides: [String]) -> ConfigError? {
      do {
        _ = try loadFixture("nemo-launcher/t5/3b.yaml", overrides)
        return nil
      } catch let e as ConfigError { return e } catch { return nil }
    }
    let rank = refusal([
      "model.pipeline_model_parallel_size=2", "model.pipeline_model_parallel_split_rank=2",
    ])
    #expect(rank?.message.contains("between 1 and pipeline_model_parallel_size − 1") == true)
    let uneven = refusal([
      "model.pipeline_model_parallel_size=8", "model.pipeline_model_parallel_split_rank=3",
    ])
    // 3 encoder stages hold 24 layers evenly; the 5 decoder stages cannot.
    #expect(uneven?.message.contains("do not divide the decoder's 24 layers") == true)
    let interleaved = refusal([
      "model.pipeline_model_parallel_size=2", "model.virtual_pipeline_model_parallel_size=2",
    ])
    #expect(interleaved?.message.contains("non-interleaved") == true)
    let context = refusal(["model.context_parallel_size=2"])
    #expect(context?.message.contains("no context-parallel path") == true)
  }

  /// A decoder layer's tensor parallelism: three regions (self-attention, cross-attention, MLP),
  /// each ending in an all-reduce of e·T_dec·h; the cross key/value projection's input gradient
  /// (the encoder's output, e·T_enc·h) is all-reduced once more in backward.
  @Test("a decoder layer's tensor-parallel collectives: three regions and the encoder output")
  func tensorParallel() throws {
    let run = try loadFixture("nemo-launcher/t5/3b.yaml")
    let model = run.stepTimeModel
    let shard = LayerDescription.Shard(run.layout, precision: run.precision)
    let decoder = LayerDescription(run.model, shard, kind: .decoder)
    let encoder = LayerDescription(run.model, shard, kind: .encoder)
    #expect(decoder.tensorParallelRegions == 3 && encoder.tensorParallelRegions == 2)
    let e = 2.0, b = 24.0, h = 2048.0
    let dec = model.tensorParallelComm(decoder), enc = model.tensorParallelComm(encoder)
    let oneDecoder = model.machine.allReduce(e * b * 128 * h, n: 2, stride: 1)
    #expect(abs((dec.forward - oneDecoder * 3).value) < 1e-12)
    let crossInput = model.machine.allReduce(e * b * 512 * h, n: 2, stride: 1)
    #expect(abs((dec.backward - oneDecoder * 3 - crossInput).value) < 1e-12)
    let oneEncoder = model.machine.allReduce(e * b * 512 * h, n: 2, stride: 1)
    #expect(abs((enc.forward - oneEncoder * 2).value) < 1e-12)
  }

  @Test("search, compare and check on every T5/mT5 file", arguments: t5Files.map(\.path))
  func commands(_ path: String) throws {
    let run = try loadFixture(path)
    var options = LayoutSearch.Options()
    options.top = 3
    options.threads = 1
    let result = try LayoutSearch.search(run, options: options)
    #expect(!result.candidates.isEmpty, "\(path): no layout")
    for c in result.candidates {
      #expect(c.layout.contextParallel == 1)
      #expect(c.layout.split.encoderLayers == run.model.encoderDecoder?.encoderLayers)
      // The search's row is what an estimate of its layout gives.
      #expect(c.estimate.time.iterationSeconds == Estimate(c.run).time.iterationSeconds)
    }
    #expect(Comparison(run).rows.count >= 3)
  }
}
