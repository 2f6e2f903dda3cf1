import Foundation
import Testing

/// The eight T5/mT5 files of ../shared/configs (copied to the library tests' fixtures) through
/// every command, as written (issue 15): each answers with exit 0 and nothing on stderr; the
/// JSON carries the encoder–decoder fields; an emitted search winner reloads to its row.
@Suite struct EncoderDecoderCommandTests {
  static let files = [
    "nemo-launcher/t5/220m.yaml", "nemo-launcher/t5/3b.yaml", "nemo-launcher/t5/11b.yaml",
    "nemo-launcher/mt5/170m.yaml", "nemo-launcher/mt5/390m.yaml", "nemo-launcher/mt5/3b.yaml",
    "nemo-launcher-2022/t5/220m.yaml", "nemo-launcher-2022/t5/3b.yaml",
  ]

  static func path(_ file: String) -> String {
    rooted("Tests/MegatronPlanTests/Fixtures/" + file)
  }

  @Test("estimate, compare, check and search on every T5/mT5 file", arguments: files)
  func commands(_ file: String) throws {
    let p = Self.path(file)
    for args in [
      ["estimate", p], ["compare", p], ["check", p], ["search", p, "--top", "2"],
    ] {
      let r = runCLI(args)
      #expect(r.code == 0, "\(args.joined(separator: " ")): \(r.stderr)")
      #expect(r.stderr.isEmpty, "\(args.joined(separator: " ")) warns: \(r.stderr)")
    }
    let json = runCLI(["estimate", p, "--format", "json"])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let memory = try #require(object["memory"] as? [String: Any])
    let encoder = try #require(memory["encoder_activations_per_layer_bytes"] as? Double)
    let decoder = try #require(memory["decoder_activations_per_layer_bytes"] as? Double)
    #expect(encoder > 0 && decoder > 0)
    let model = try #require(object["model"] as? [String: Any])
    let ed = try #require(model["encoder_decoder"] as? [String: Any])
    #expect((ed["encoder_sequence_length"] as? Int) == 512)
    #expect((ed["decoder_sequence_length"] as? Int) == 128)
  }

  @Test("a decoder-only file writes the encoder-decoder fields as null")
  func nullsForDecoderOnly() throws {
    let json = runCLI(["estimate", rooted("configs/llama3-8b.yaml"), "--format", "json"])
    #expect(json.stdout.contains("\"encoder_activations_per_layer_bytes\" : null"))
    #expect(json.stdout.contains("\"encoder_decoder\" : null"))
  }

  @Test("search --emit-config on T5 with p = 2: the split rank and both blocks' recompute")
  func emit() throws {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent(
      "megaplan-t5-emit-\(UUID().uuidString).yaml")
    defer { try? FileManager.default.removeItem(at: out) }
    let r = runCLI([
      "search", Self.path("nemo-launcher/t5/11b.yaml"), "--pipeline", "2", "--recompute", "full",
      "--top", "1", "--emit-config", out.path,
    ])
    #expect(r.code == 0, "\(r.stderr)")
    let text = try String(contentsOf: out, encoding: .utf8)
    #expect(text.contains("pipeline_model_parallel_size: 2"))
    // The emitted file reloads to the row (the emit self-check refuses otherwise); its
    // estimate says so.
    let again = runCLI(["estimate", out.path])
    #expect(again.code == 0, "\(again.stderr)")
    #expect(again.stdout.contains("p=2"))
  }
}
