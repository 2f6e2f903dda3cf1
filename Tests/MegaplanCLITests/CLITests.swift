import Testing
@testable import MegaplanCLI

@Suite struct CLISmokeTests {
  @Test("the CLI runs in-process") func runs() {
    let io = CLIOutput()
    #expect(CLI.run(["--version"], io: io) == 0)
  }
}
