import Testing
@testable import MegatronPlan

@Suite struct DiagnosticsTests {
  @Test("a config error renders file:line:col, the line and a caret under the value")
  func rendering() {
    let loc = SourceLocation(
      file: "c.yaml", line: 7, column: 21, length: 4, lineText: "  micro_batch_size: four")
    let error = ConfigError(
      "expected an integer for 'micro_batch_size', found 'four'", key: "model.micro_batch_size",
      at: loc)
    // Expected text written by hand from STYLE.md's example.
    #expect(
      error.rendered() == """
        c.yaml:7:21: error: expected an integer for 'micro_batch_size', found 'four'
         7 |   micro_batch_size: four
           |                     ^^^^
        """)
  }
}
