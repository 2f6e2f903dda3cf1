import Foundation
import Testing
@testable import MegatronPlan

/// Issue 10: the reader, resolver and suggestion rules. Sizes here are functional checks (the
/// right value at the end of a long file); timing is Scripts/bench-reader.sh's job, never a test's.
@Suite struct ReaderScalingTests {
  /// NeMo registers every resolver megaplan knows as a two-argument lambda
  /// (`OmegaConf.register_new_resolver("multiply", lambda x, y: x * y)`), so each takes exactly
  /// two arguments, and each says so in the same words.
  @Test(
    "one arity rule for every resolver: exactly two arguments, one message",
    arguments: ["multiply", "divide_floor", "divide_ceil", "sum"])
  func resolverArity(_ name: String) throws {
    for (arguments, count) in [("", 0), ("6", 1), ("6, 3, 2", 3)] {
      let text = "a: ${\(name):\(arguments)}\n"
      let document = try ConfigDocument.parse(text, file: "r.yaml")
      #expect(throws: ConfigError.self) { try document.value(at: "a") }
      do {
        _ = try document.value(at: "a")
      } catch let error as ConfigError {
        #expect(error.message == "resolver '\(name)' in 'a' takes 2 arguments, found \(count)")
      }
    }
    // Two arguments: 6 and 3 give 18, 2, 2 and 9.
    let two = try ConfigDocument.parse("a: ${\(name):6, 3}\n", file: "r.yaml")
    let expected = ["multiply": 18, "divide_floor": 2, "divide_ceil": 2, "sum": 9][name]
    #expect(try two.value(at: "a")?.scalar == expected.map { .int($0) })
  }

  @Test("a mapping of many keys: every key found, the last one too, duplicates still refused")
  func manyKeys() throws {
    let n = 20_000
    var text = "top:\n"
    for i in 0..<n { text += "  key_\(i): \(i)\n" }
    let document = try ConfigDocument.parse(text, file: "big.yaml")
    #expect(document.keys(under: "top").count == n)
    let last = try #require(try document.value(at: "top.key_\(n - 1)"))
    #expect(last.scalar == .int(n - 1))
    #expect(last.location.line == n + 1)
    let duplicate = text + "  key_7: 8\n"
    #expect(throws: ConfigError.self) { try ConfigDocument.parse(duplicate, file: "big.yaml") }
  }

  @Test("a long flow list: every item read, each located on its line")
  func longFlowList() throws {
    let items = (0..<5_000).map(String.init)
    let document = try ConfigDocument.parse(
      "list: [\(items.joined(separator: ", "))]\n", file: "l.yaml")
    let node = try #require(document.root.entry("list")?.value)
    guard case .sequence(let values) = node.kind else {
      Issue.record("not a list")
      return
    }
    #expect(values.count == 5_000)
    // "list: [" is 7 characters; item i starts after the items before it and their ", ".
    let column = 8 + items.prefix(4_999).map { $0.count + 2 }.reduce(0, +)
    #expect(values.last?.location.column == column)
    #expect(values.last?.kind == .scalar("4999", style: .plain))
  }

  @Test("a mapping node finds entries by key after its entries change")
  func nodeIndex() {
    let at = SourceLocation(file: "f", line: 1, column: 1)
    let entry = { (key: String, value: String) in
      ConfigNode.MappingEntry(
        key: key, keyLocation: at, value: ConfigNode(.scalar(value, style: .plain), at: at))
    }
    var node = ConfigNode(.mapping([entry("a", "1"), entry("b", "2")]), at: at)
    #expect(node.entry("b")?.value.kind == .scalar("2", style: .plain))
    #expect(node.entry("c") == nil)
    node.kind = .mapping([entry("c", "3")])
    #expect(node.entry("b") == nil)
    #expect(node.entry("c")?.value.kind == .scalar("3", style: .plain))
    #expect(node == ConfigNode(.mapping([entry("c", "3")]), at: at))
  }

  /// Levenshtein distance by the textbook recurrence, unbounded: the reference the fast path
  /// (length and letter-count bounds, no allocation per candidate) must agree with.
  static func reference(_ a: String, _ b: String) -> Int {
    let x = Array(a.lowercased()), y = Array(b.lowercased())
    var d = (0...x.count).map { i in (0...y.count).map { j in i == 0 ? j : (j == 0 ? i : 0) } }
    if !x.isEmpty && !y.isEmpty {
      for i in 1...x.count {
        for j in 1...y.count {
          d[i][j] = min(
            d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
      }
    }
    return d[x.count][y.count]
  }

  @Test("closest agrees with the textbook edit distance")
  func closestAgrees() {
    let candidates = ConfigLoader.knownKeys.values.flatMap { $0 }
    let words = [
      "hiden_size", "num_layer", "NUM_LAYERS", "micro_batch_sise", "tensor_model_parallel",
      "ffn", "seq_lenght", "gpu", "unknown_key_12345", "vocab", "optim_", "bias", "bais", "x",
      "sequence_paralel", "Précision", "precisión",
    ]
    for word in words {
      // The first candidate with the smallest distance, if it is within 2.
      var expected: String? = nil
      var best = 3
      for c in candidates {
        let d = Self.reference(word, c)
        if d < best { best = d; expected = c }
      }
      #expect(Suggestion.closest(to: word, in: candidates) == expected, "\(word)")
    }
  }

  @Test("did you mean: the only candidate that completes the word")
  func completion() {
    let gpus = ["a100-80gb", "a100-40gb", "h100-sxm"]
    #expect(Suggestion.didYouMean("h100", in: gpus) == "; did you mean 'h100-sxm'?")
    #expect(Suggestion.didYouMean("H100", in: gpus) == "; did you mean 'h100-sxm'?")
    // "a100" starts two names: no guess.
    #expect(Suggestion.didYouMean("a100", in: gpus) == "")
  }
}
