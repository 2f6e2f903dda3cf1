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
public struct PipelineSplit: Sendable, Hashable, Codable {
  public var firstStageLayers: Int?
  public var lastStageLayers: Int?
  public var embeddingCountsAsLayer: Bool
  public var lossCountsAsLayer: Bool

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

  public var isEven: Bool { self == .even }

  /// Transformer layers on stage `i` of `p` for a model of `layers` layers (valid splits only;
  /// see `problem(layers:stages:virtual:)`).
  public func layers(onStage i: Int, of layers: Int, stages p: Int) -> Int {
    guard p > 1 else { return layers }
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
    guard p > 1 else { return layers }
    var most = max(
      self.layers(onStage: 0, of: layers, stages: p),
      self.layers(onStage: p - 1, of: layers, stages: p))
    if p > 2 { most = max(most, self.layers(onStage: 1, of: layers, stages: p)) }
    return most
  }

  /// Why this split cannot place `layers` layers on `p` stages with `v` chunks each, or nil.
  public func problem(layers: Int, stages p: Int, virtual v: Int) -> String? {
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
