/// How the L transformer layers are split over the p pipeline stages.
///
/// - Even (Megatron's default): L/p layers on each stage.
/// - Megatron-Core's uneven split: `--decoder-first-pipeline-num-layers` /
///   `--decoder-last-pipeline-num-layers` (NeMo `num_layers_in_first_pipeline_stage`,
///   `num_layers_in_last_pipeline_stage`) fix the first and/or last stage; the other layers are
///   spread evenly over the remaining stages (Megatron-Core `get_transformer_layer_offset`).
/// - `--account-for-embedding-in-pipeline-split` / `--account-for-loss-in-pipeline-split`: the
///   embedding (loss) counts as one layer, so (L + 1) or (L + 2) are split evenly and the first
///   (last) stage gets one transformer layer fewer. Megatron-DeepSpeed's
///   `--pp-partition-method type:transformer|embedding` (BLOOM: 70 layers on 12 stages, 6 parts
///   each with the embedding and the tied output embedding counted) is the same split with both.
/// - Megatron-Core's flexible layout (`--pipeline-model-parallel-layout`,
///   `pipeline_model_parallel_layout`; `PipelineParallelLayerLayout`): one entry per model
///   chunk, in Megatron's order (chunk j·p + i is stage i's j-th), each listing its layers:
///   `E` the embedding, `t` a transformer layer, `m` an MTP layer, `L` the loss; `|` ends a
///   chunk, `(...)*n` and `x*n` repeat. DeepSeek-V3's `Et|(tt|)*30mL` on p 8, v 4 puts the
///   embedding and one layer on stage 0's first chunk, two layers on each of the next 30 chunks
///   and the MTP layer with the loss on the last.
public struct PipelineSplit: Sendable, Hashable, Codable {
  public var firstStageLayers: Int?
  public var lastStageLayers: Int?
  public var embeddingCountsAsLayer: Bool
  public var lossCountsAsLayer: Bool
  /// Transformer layers of each model chunk from a flexible layout, in Megatron's chunk order
  /// (chunk j·p + i on stage i); nil without one.
  public var chunkLayers: [Int]? = nil
  /// The layout as written (for reports and emitted configs).
  public var layoutText: String? = nil
  /// Where the flexible layout puts the MTP layers: the index of their chunk (nil: none given),
  /// and how many it places.
  public var mtpChunk: Int? = nil
  public var mtpLayers: Int = 0
  /// An encoder–decoder model's split (NeMo `pipeline_model_parallel_split_rank`, Megatron-LM
  /// `--pipeline-model-parallel-split-rank`): the first `encoderStages` stages hold the
  /// `encoderLayers` encoder layers evenly, the others the decoder's; with p = 1 the one stage
  /// holds both. Megatron runs such pipelines with the non-interleaved 1F1B schedule.
  public var encoderStages: Int? = nil
  public var encoderLayers: Int? = nil

  /// The split of an encoder–decoder model of `encoderLayers` encoder layers whose first
  /// `splitRank` of `stages` stages are the encoder's (NeMo's default rank is ⌊p/2⌋).
  public static func encoderDecoder(encoderLayers: Int, splitRank: Int) -> PipelineSplit {
    var s = PipelineSplit()
    s.encoderLayers = encoderLayers
    s.encoderStages = splitRank
    return s
  }

  public init(
    firstStageLayers: Int? = nil, lastStageLayers: Int? = nil,
    embeddingCountsAsLayer: Bool = false, lossCountsAsLayer: Bool = false
  ) {
    self.firstStageLayers = firstStageLayers
    self.lastStageLayers = lastStageLayers
    self.embeddingCountsAsLayer = embeddingCountsAsLayer
    self.lossCountsAsLayer = lossCountsAsLayer
  }

  public static let even = PipelineSplit()

  public var isEven: Bool {
    // Field by field (the search asks per candidate; `==` would compare the text too).
    firstStageLayers == nil && lastStageLayers == nil && !embeddingCountsAsLayer
      && !lossCountsAsLayer && chunkLayers == nil && encoderStages == nil && encoderLayers == nil
      && mtpChunk == nil && mtpLayers == 0 && layoutText == nil
  }

  /// Transformer layers on stage `i` of `p` for a model of `layers` layers (valid splits only;
  /// see `problem(layers:stages:virtual:)`).
  public func layers(onStage i: Int, of layers: Int, stages p: Int) -> Int {
    if let chunks = chunkLayers, p > 0, chunks.count % p == 0 {
      return stride(from: i, to: chunks.count, by: p).reduce(0) { $0 + chunks[$1] }
    }
    guard p > 1 else { return layers }
    if let r = encoderStages, let encoder = encoderLayers, r > 0, r < p {
      return i < r ? encoder / r : (layers - encoder) / (p - r)
    }
    if firstStageLayers == nil && lastStageLayers == nil {
      let extra = (embeddingCountsAsLayer ? 1 : 0) + (lossCountsAsLayer ? 1 : 0)
      let per = (layers + extra) / p
      return per - (i == 0 && embeddingCountsAsLayer ? 1 : 0)
        - (i == p - 1 && lossCountsAsLayer ? 1 : 0)
    }
    if i == 0, let first = firstStageLayers { return first }
    if i == p - 1, let last = lastStageLayers { return last }
    let middle = p - (firstStageLayers == nil ? 0 : 1) - (lastStageLayers == nil ? 0 : 1)
    let rest = layers - (firstStageLayers ?? 0) - (lastStageLayers ?? 0)
    return middle > 0 ? rest / middle : 0
  }

  /// The most layers any stage holds.
  public func maxLayersPerStage(of layers: Int, stages p: Int) -> Int {
    if chunkLayers != nil {
      return (0..<max(1, p)).map { self.layers(onStage: $0, of: layers, stages: p) }.max() ?? 0
    }
    guard p > 1 else { return layers }
    var most = max(
      self.layers(onStage: 0, of: layers, stages: p),
      self.layers(onStage: p - 1, of: layers, stages: p))
    if p > 2 { most = max(most, self.layers(onStage: 1, of: layers, stages: p)) }
    return most
  }

  /// The first layer of chunk `c` (Megatron's chunk order) with a flexible layout.
  public func firstLayer(ofChunk c: Int) -> Int {
    guard let chunks = chunkLayers else { return 0 }
    return chunks.prefix(max(0, min(c, chunks.count))).reduce(0, +)
  }

  /// Why this split cannot place `layers` layers on `p` stages with `v` chunks each, or nil.
  public func problem(layers: Int, stages p: Int, virtual v: Int) -> String? {
    if let r = encoderStages, let encoder = encoderLayers {
      guard p > 1 else { return nil }
      if v > 1 {
        return
          "virtual_pipeline_model_parallel_size \(v): Megatron runs encoder-decoder pipelines with the non-interleaved schedule"
      }
      if r < 1 || r >= p {
        return
          "pipeline_model_parallel_split_rank \(r) must be between 1 and pipeline_model_parallel_size − 1 = \(p - 1) (the encoder's stages come first, the decoder's after)"
      }
      if encoder % r != 0 {
        return
          "pipeline_model_parallel_split_rank \(r) does not divide the encoder's \(encoder) layers"
      }
      if (layers - encoder) % (p - r) != 0 {
        return
          "the \(p - r) decoder stages (pipeline_model_parallel_size − split rank) do not divide the decoder's \(layers - encoder) layers"
      }
      return nil
    }
    if let chunks = chunkLayers {
      let text = layoutText ?? ""
      if chunks.count != p * v {
        return
          "pipeline_model_parallel_layout '\(text)' has \(chunks.count) model chunks; pipeline_model_parallel_size × virtual_pipeline_model_parallel_size is \(p) × \(v) = \(p * v)"
      }
      let total = chunks.reduce(0, +)
      if total != layers {
        return
          "pipeline_model_parallel_layout '\(text)' places \(total) transformer layers; num_layers is \(layers)"
      }
      if firstStageLayers != nil || lastStageLayers != nil || embeddingCountsAsLayer
        || lossCountsAsLayer
      {
        return
          "pipeline_model_parallel_layout cannot be combined with the first/last stage layer counts or accounting the embedding or loss as a layer (Megatron-Core asserts it)"
      }
      return nil
    }
    if isEven {
      if layers % p != 0 {
        return "pipeline_model_parallel_size \(p) does not divide num_layers \(layers)"
      }
      return nil
    }
    if (firstStageLayers != nil || lastStageLayers != nil)
      && (embeddingCountsAsLayer || lossCountsAsLayer)
    {
      return
        "the first/last stage layer counts cannot be combined with accounting the embedding or loss as a layer (Megatron-Core allows one or the other)"
    }
    if p == 1 {
      // One stage holds everything: counting the embedding or the loss as a layer changes
      // nothing (Megatron-Bridge's Qwen3-235B recipes set both at p = 1); stage layer counts
      // need stages.
      if firstStageLayers == nil && lastStageLayers == nil { return nil }
      return "an uneven pipeline split needs pipeline_model_parallel_size > 1"
    }
    if firstStageLayers == nil && lastStageLayers == nil {
      let extra = (embeddingCountsAsLayer ? 1 : 0) + (lossCountsAsLayer ? 1 : 0)
      if (layers + extra) % p != 0 {
        return
          "pipeline_model_parallel_size \(p) does not divide num_layers \(layers) + \(extra) (the embedding/loss counted as layers)"
      }
    } else {
      for (name, n) in [("first", firstStageLayers), ("last", lastStageLayers)] {
        if let n, n < 0 || n > layers {
          return
            "the \(name) pipeline stage's \(n) layers are not between 0 and num_layers \(layers)"
        }
      }
      let middle = p - (firstStageLayers == nil ? 0 : 1) - (lastStageLayers == nil ? 0 : 1)
      let rest = layers - (firstStageLayers ?? 0) - (lastStageLayers ?? 0)
      if rest < 0 {
        return "the first and last pipeline stages' layers exceed num_layers \(layers)"
      }
      if middle == 0 ? rest != 0 : rest % middle != 0 {
        return
          "the \(rest) layers left after the first/last stage do not split evenly over the other \(middle) pipeline stages"
      }
    }
    if v > 1 && firstStageLayers == nil && lastStageLayers == nil {
      // With the embedding/loss counted, Megatron-Core splits the L + extra layers evenly over
      // the p·v model chunks; the first chunk holds one transformer layer fewer for the
      // embedding and the last one fewer for the loss (`get_transformer_layer_offset`).
      let extra = (embeddingCountsAsLayer ? 1 : 0) + (lossCountsAsLayer ? 1 : 0)
      if (layers + extra) % (p * v) != 0 {
        return
          "pipeline_model_parallel_size × virtual_pipeline_model_parallel_size \(p) × \(v) does not divide num_layers \(layers) + \(extra) (the embedding/loss counted as layers)"
      }
    } else if v > 1 {
      for i in [0, 1, p - 1] where i < p {
        let n = self.layers(onStage: i, of: layers, stages: p)
        if n % v != 0 {
          return
            "virtual_pipeline_model_parallel_size \(v) does not divide the \(n) layers of pipeline stage \(i)"
        }
      }
    }
    return nil
  }
}

extension PipelineSplit {
  /// The layers of the first, a middle and the last stage, as reports print them: "8" for an
  /// even split, "7/8/7" for an uneven one ("7/8" on two stages).
  public func stageSummary(layers L: Int, stages p: Int) -> String {
    guard p > 1, !isEven else { return String(L / max(1, p)) }
    let first = layers(onStage: 0, of: L, stages: p),
      last = layers(onStage: p - 1, of: L, stages: p)
    guard p > 2 else { return "\(first)/\(last)" }
    return "\(first)/\(layers(onStage: 1, of: L, stages: p))/\(last)"
  }

  /// The config keys that give this split (NeMo's names, as `ConfigLoader` reads them), each
  /// with its value; the keys of the other forms at their defaults (null, false). Empty for an
  /// encoder–decoder split (its rank has its own key).
  public var configValues: [(key: String, value: String)] {
    guard encoderLayers == nil else { return [] }
    var layout = "null"
    if let text = layoutText, chunkLayers != nil { layout = "\"\(text)\"" }
    return [
      ("model.pipeline_model_parallel_layout", layout),
      ("model.num_layers_in_first_pipeline_stage", firstStageLayers.map(String.init) ?? "null"),
      ("model.num_layers_in_last_pipeline_stage", lastStageLayers.map(String.init) ?? "null"),
      (
        "model.account_for_embedding_in_pipeline_split",
        chunkLayers == nil && embeddingCountsAsLayer ? "true" : "false"
      ),
      (
        "model.account_for_loss_in_pipeline_split",
        chunkLayers == nil && lossCountsAsLayer ? "true" : "false"
      ),
    ]
  }

  /// What an uneven split does, in the config's words; nil for an even one.
  public var configDescription: String? {
    guard !isEven, encoderLayers == nil else { return nil }
    if let text = layoutText, chunkLayers != nil { return "pipeline_model_parallel_layout \(text)" }
    var parts: [String] = []
    if let f = firstStageLayers { parts.append("num_layers_in_first_pipeline_stage \(f)") }
    if let l = lastStageLayers { parts.append("num_layers_in_last_pipeline_stage \(l)") }
    if embeddingCountsAsLayer { parts.append("account_for_embedding_in_pipeline_split") }
    if lossCountsAsLayer { parts.append("account_for_loss_in_pipeline_split") }
    return parts.joined(separator: ", ")
  }

  /// The embedding/loss accounting of `embeddingCountsAsLayer` / `lossCountsAsLayer` with v
  /// model chunks per stage, as the flexible layout it is (Megatron-Core counts the embedding and
  /// the loss as one layer each of the first and the last model chunk: (L + extra)/(p·v) layers
  /// per chunk, one fewer in the first chunk with the embedding and in the last with the loss):
  /// nil when (L + extra) does not split evenly over the p·v chunks.
  public func asFlexibleLayout(layers: Int, stages p: Int, virtual v: Int) -> PipelineSplit? {
    guard chunkLayers == nil, firstStageLayers == nil, lastStageLayers == nil,
      embeddingCountsAsLayer || lossCountsAsLayer, p > 0, v > 0
    else { return nil }
    let chunks = p * v
    let extra = (embeddingCountsAsLayer ? 1 : 0) + (lossCountsAsLayer ? 1 : 0)
    guard (layers + extra) % chunks == 0 else { return nil }
    let per = (layers + extra) / chunks
    var sizes = [Int](repeating: per, count: chunks)
    if embeddingCountsAsLayer { sizes[0] -= 1 }
    if lossCountsAsLayer { sizes[chunks - 1] -= 1 }
    guard sizes.allSatisfy({ $0 >= 0 }) else { return nil }
    var split = PipelineSplit()
    split.chunkLayers = sizes
    let middle = String(repeating: "t", count: per)
    let first = "E" + String(repeating: "t", count: sizes[0])
    let last = String(repeating: "t", count: sizes[chunks - 1]) + "L"
    split.layoutText =
      chunks == 1
      ? "E" + String(repeating: "t", count: layers) + "L"
      : first + "|" + (chunks > 2 ? "(\(middle)|)*\(chunks - 2)" : "") + last
    return split
  }

  /// What a flexible layout string (`PipelineParallelLayerLayout.parse_str_to_list`) says: the
  /// transformer layers of each chunk, and the chunks of the embedding, the MTP layers and the
  /// loss.
  public struct FlexibleLayout: Sendable, Hashable {
    public var chunkLayers: [Int]
    public var embeddingChunks: [Int]
    public var mtpChunks: [Int: Int]
    public var lossChunks: [Int]
    /// The first and the last layer in Megatron's order (chunks in order, `|` aside):
    /// Megatron-Core requires the embedding first and the loss last
    /// (`PipelineParallelLayerLayout.validate_layer_layout`).
    public var firstLayer: Character? = nil
    public var lastLayer: Character? = nil
  }

  /// Parses Megatron-Core's layout syntax: commas are cosmetic; `(...)*n` repeats its contents
  /// n times, then `x*n` repeats one character; `|` separates chunks; `E`, `t`, `m`, `L` are the
  /// embedding, a transformer layer, an MTP layer and the loss. Throws a message naming the
  /// first character it cannot read.
  public static func parseLayout(_ text: String) throws(LayoutError) -> FlexibleLayout {
    var s = Array(text.filter { $0 != "," && !$0.isWhitespace })
    // Unroll ( ... )*n, innermost first (Megatron's regex takes groups without nested parens).
    while let close = s.firstIndex(of: ")") {
      guard let open = s[..<close].lastIndex(of: "(") else {
        throw LayoutError("unbalanced ')' in pipeline_model_parallel_layout '\(text)'")
      }
      var end = close + 1
      guard end < s.count, s[end] == "*" else {
        throw LayoutError(
          "'(...)' must be followed by '*n' in pipeline_model_parallel_layout '\(text)'")
      }
      end += 1
      var digits = ""
      while end < s.count, s[end].isASCII, s[end].isNumber {
        digits.append(s[end])
        end += 1
      }
      guard let n = Int(digits), n >= 0, n <= 4096 else {
        throw LayoutError("expected a count after '*' in pipeline_model_parallel_layout '\(text)'")
      }
      let body = Array(s[(open + 1)..<close])
      s.replaceSubrange(open..<end, with: Array([[Character]](repeating: body, count: n).joined()))
      if s.count > 1 << 20 {
        throw LayoutError("pipeline_model_parallel_layout '\(text)' expands too far")
      }
    }
    if s.contains("(") {
      throw LayoutError("unbalanced '(' in pipeline_model_parallel_layout '\(text)'")
    }
    // x*n.
    var unrolled: [Character] = []
    var i = 0
    while i < s.count {
      if s[i] == "*" {
        guard let last = unrolled.popLast() else {
          throw LayoutError(
            "'*' without a layer before it in pipeline_model_parallel_layout '\(text)'")
        }
        var j = i + 1
        var digits = ""
        while j < s.count, s[j].isASCII, s[j].isNumber {
          digits.append(s[j])
          j += 1
        }
        guard let n = Int(digits), n >= 0, n <= 4096 else {
          throw LayoutError(
            "expected a count after '*' in pipeline_model_parallel_layout '\(text)'")
        }
        unrolled += Array(repeating: last, count: n)
        i = j
        continue
      }
      unrolled.append(s[i])
      i += 1
    }
    var layout = FlexibleLayout(
      chunkLayers: [0], embeddingChunks: [], mtpChunks: [:], lossChunks: [])
    for c in unrolled {
      let chunk = layout.chunkLayers.count - 1
      if c != "|" {
        if layout.firstLayer == nil { layout.firstLayer = c }
        layout.lastLayer = c
      }
      switch c {
      case "|": layout.chunkLayers.append(0)
      case "t": layout.chunkLayers[chunk] += 1
      case "E": layout.embeddingChunks.append(chunk)
      case "m": layout.mtpChunks[chunk, default: 0] += 1
      case "L": layout.lossChunks.append(chunk)
      default:
        throw LayoutError(
          "unknown layer '\(c)' in pipeline_model_parallel_layout '\(text)'; Megatron-Core's layers are E (embedding), t (transformer layer), m (MTP layer) and L (loss)"
        )
      }
    }
    return layout
  }

  public struct LayoutError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
  }
}
