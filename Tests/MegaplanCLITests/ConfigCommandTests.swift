import Foundation
import Testing
@testable import MegaplanCLI

@Suite struct ConfigCommandTests {
  @Test(
    "megaplan config shows each value and where it came from: file line, --set, default, derived")
  func provenance() {
    let r = runCLI(["config", rooted("configs/k22-175b.yaml"), "--set", "model.micro_batch_size=2"])
    #expect(r.code == 0, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    func line(_ key: String) -> String { lines.first { $0.hasPrefix(key + " ") } ?? "" }
    // configs/k22-175b.yaml line 9 is "  num_layers: 96".
    #expect(
      line("model.num_layers").contains("96")
        && line("model.num_layers").hasSuffix("configs/k22-175b.yaml:9:15"))
    #expect(line("model.ffn_hidden_size").contains("49152"))
    #expect(line("model.micro_batch_size").contains("--set (model.micro_batch_size=2)"))
    #expect(line("model.optim.overlap_grad_sync").hasSuffix("default"))
    #expect(line("data_parallel_size").contains("derived"))
  }
}
