/// The vocabulary a run uses for a tensor-parallel size: the tokenizer's tokens padded up to a
/// multiple of make_vocab_size_divisible_by × t, as Megatron's `_vocab_size_with_padding`
/// (megatron/training/tokenizer/tokenizer.py) and NeMo's `_vocab_size_with_padding` do. So a
/// layout with another t has another vocabulary (GPT-2's 50,257 tokens: 50,432 at t = 1 … 4 with
/// 128, 51,200 at t = 8), and `search` gives each candidate the vocabulary its t would train
/// with. A config that fixes `megaplan.vocab_size` has no padding rule: its vocabulary is kept.
public struct VocabularyPadding: Sendable, Hashable, Codable {
  /// The tokenizer's own size (GPT2BPETokenizer: 50,257).
  public var tokens: Int
  /// `make_vocab_size_divisible_by` (NeMo and Megatron default 128).
  public var divisibleBy: Int

  public init(tokens: Int, divisibleBy: Int) {
    self.tokens = tokens
    self.divisibleBy = divisibleBy
  }

  /// The padded vocabulary at tensor-parallel size `tensor`: the smallest multiple of
  /// divisibleBy × t that is at least `tokens`.
  public func padded(tensor: Int) -> Int {
    let multiple = max(1, divisibleBy) * max(1, tensor)
    return (tokens + multiple - 1) / multiple * multiple
  }
}

extension TrainingRun {
  /// This run with `layout` on its GPUs, as a config with that layout would load: the vocabulary
  /// re-padded for the layout's t (unless fixed), and nodes of `nodeShape`'s size
  /// for the layout's GPU count, whose NVLink domain is min(node, the GPU profile's).
  public func with(layout new: Layout) -> TrainingRun {
    var run = self
    run.layout = new
    if let padding = vocabularyPadding {
      run.model.vocabulary = padding.padded(tensor: new.tensor)
    }
    let node = Self.nodeShape(gpus: new.gpus, devicesPerNode: devicesPerNode).devices
    if gpu.nvlinkDomain <= gpu.gpusPerNode {
      // A node-sized NVLink domain follows the node; a rack-wide one (NVL72) stays.
      run.gpu.nvlinkDomain = min(gpu.nvlinkDomain, node)
    }
    run.gpu.gpusPerNode = min(node, gpu.gpusPerNode)
    return run
  }

  /// How `gpus` GPUs sit on nodes of up to `devicesPerNode` (the config's `trainer.devices`):
  /// whole nodes of that size when it divides the count, otherwise the largest node size below
  /// it that does (12 GPUs on 8-GPU nodes: 2 × 6), so `num_nodes × devices` is always the count
  /// and a launcher can start it. A count below one node is one node of that many GPUs.
  public static func nodeShape(gpus: Int, devicesPerNode: Int) -> (nodes: Int, devices: Int) {
    let g = max(1, gpus)
    var d = max(1, min(devicesPerNode, g))
    while g % d != 0 { d -= 1 }
    return (g / d, d)
  }
}
