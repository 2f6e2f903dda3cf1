import Foundation
import Testing
@testable import MegatronPlan

/// Inputs the fuzzer (Scripts/fuzz-config.sh) found crashing, kept so they never crash again.
@Suite struct FuzzRegressionTests {
  static let crashes: [String] = {
    guard let dir = Bundle.module.url(forResource: "Fixtures/fuzz", withExtension: nil),
      let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path)
    else { return [] }
    return names.sorted()
  }()

  @Test("fuzzer-found inputs are read or rejected, never a crash", arguments: crashes)
  func noCrash(_ name: String) throws {
    let url = try #require(
      Bundle.module.url(forResource: "Fixtures/fuzz/\(name)", withExtension: nil))
    let text = String(decoding: try Data(contentsOf: url), as: UTF8.self)
    if let document = try? ConfigDocument.parse(text, file: name) {
      for key in document.keys(under: "model") { _ = try? document.value(at: "model.\(key)") }
      _ = try? ConfigLoader.load(document)
    }
    _ = try? MegatronArguments.parse(text, file: name)
  }
}
