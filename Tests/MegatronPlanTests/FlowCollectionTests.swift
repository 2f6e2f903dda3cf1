import Testing
@testable import MegatronPlan

/// One-line flow collections (`{}`, `{a: 1, b: [x, y]}`, nested lists) and PyYAML's lists of
/// lists (`- - x`), as Megatron-Bridge's ConfigContainer dumps and Hydra overrides write them.
@Suite struct FlowCollectionTests {
  static func node(_ text: String) throws -> ConfigNode {
    try YAMLReader.parse(text, file: "f.yaml")
  }

  static func scalar(_ node: ConfigNode?) -> String? {
    guard case .scalar(let text, _)? = node?.kind else { return nil }
    return text
  }

  @Test("an empty flow mapping and an empty flow list are empty collections")
  func empty() throws {
    let root = try Self.node("tokenizer:\n  hf_tokenizer_kwargs: {}\n  profile_ranks: []\n")
    let tokenizer = try #require(root.entry("tokenizer")?.value)
    #expect(tokenizer.entry("hf_tokenizer_kwargs")?.value.kind == .mapping([]))
    #expect(tokenizer.entry("profile_ranks")?.value.kind == .sequence([]))
    // Column 24 is the `{` of `  hf_tokenizer_kwargs: {}` (2 + 20 + 2 characters before it).
    #expect(tokenizer.entry("hf_tokenizer_kwargs")?.value.location.column == 24)
  }

  @Test("a nested flow mapping: keys, values and lists, each located where it is written")
  func nested() throws {
    let text = "params_dtype: {_call_: false, _target_: torch.bfloat16, 'b': [x, \"y, z\"]}\n"
    let root = try Self.node(text)
    let map = try #require(root.entry("params_dtype")?.value)
    guard case .mapping(let entries) = map.kind else {
      Issue.record("not a mapping")
      return
    }
    #expect(entries.map(\.key) == ["_call_", "_target_", "b"])
    #expect(Self.scalar(map.entry("_call_")?.value) == "false")
    #expect(Self.scalar(map.entry("_target_")?.value) == "torch.bfloat16")
    // `_target_` starts at column 31, its value at 41 (counted on the line above).
    #expect(map.entry("_target_")?.keyLocation.column == 31)
    #expect(map.entry("_target_")?.value.location.column == 41)
    let list = try #require(map.entry("b")?.value)
    guard case .sequence(let items) = list.kind else {
      Issue.record("not a list")
      return
    }
    #expect(items.map { Self.scalar($0) } == ["x", "y, z"])
    #expect(items[1].kind == .scalar("y, z", style: .doubleQuoted))
  }

  @Test("nested flow lists and mappings inside lists")
  func listsOfLists() throws {
    let root = try Self.node("layout: [[embedding, decoder], [decoder, loss], [{a: 1}]]\n")
    let document = ConfigDocument(root: root, file: "f.yaml")
    #expect(try document.value(at: "layout.0.1")?.scalar == .string("decoder"))
    #expect(try document.value(at: "layout.1.1")?.scalar == .string("loss"))
    #expect(try document.value(at: "layout.2.0.a")?.scalar == .int(1))
  }

  @Test("PyYAML's lists of lists, `- - x`, under a key at the dashes' indent")
  func compactNestedSequences() throws {
    let text = """
      model:
        pipeline_model_parallel_layout:
        - - embedding
          - decoder
        - - decoder
          - mtp
          - loss
        seq_length: 4096

      """
    let document = ConfigDocument(root: try Self.node(text), file: "f.yaml")
    let layout = try #require(
      document.root.entry("model")?.value.entry(
        "pipeline_model_parallel_layout")?.value)
    guard case .sequence(let chunks) = layout.kind else {
      Issue.record("not a list")
      return
    }
    #expect(chunks.count == 2)
    #expect(
      try document.value(at: "model.pipeline_model_parallel_layout.0.0")?.scalar
        == .string("embedding"))
    #expect(
      try document.value(at: "model.pipeline_model_parallel_layout.1.2")?.scalar
        == .string("loss"))
    #expect(try document.value(at: "model.pipeline_model_parallel_layout.1.2")?.location.line == 7)
    #expect(try document.value(at: "model.seq_length")?.scalar == .int(4096))
  }

  @Test(
    "malformed flow collections are located errors",
    arguments: [
      ("a: {b: 1, b: 2}\n", "duplicate key 'b' in a flow mapping", 11),
      ("a: {b: 1\n", "unclosed flow mapping", 4),
      ("a: [1, [2, 3]\n", "unclosed flow list", 4),
      ("a: [1, , 2]\n", "empty item in a flow list", 8),
      ("a: {b}\n", "expected 'key: value' in a flow mapping", 5),
      ("a: {b: 1} c\n", "unexpected text after", 11),
      ("a: [&x 1]\n", "anchors", 5),
    ])
  func malformed(_ text: String, _ message: String, _ column: Int) {
    do {
      _ = try Self.node(text)
      Issue.record("\(text) parsed")
    } catch let error as ConfigError {
      #expect(error.message.contains(message), "\(error.message)")
      #expect(error.location?.column == column, "\(error)")
    } catch {
      Issue.record("\(error)")
    }
  }
}
