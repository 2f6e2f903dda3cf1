import Foundation
import Testing
@testable import MegaplanCLI
@testable import MegatronPlan

/// Meta-tests: the docs list every key, flag and command, every bundled config estimates, and the
/// recorded validation report is current.
@Suite struct DocsTests {
  func doc(_ name: String) -> String {
    (try? String(contentsOfFile: rooted("docs/\(name)"), encoding: .utf8)) ?? ""
  }

  @Test("docs/config.md lists every key megaplan reads")
  func configKeys() {
    let text = doc("config.md")
    for (section, keys) in ConfigLoader.knownKeys {
      for key in keys {
        #expect(text.contains("`\(section).\(key)`"), "docs/config.md lacks \(section).\(key)")
      }
    }
  }

  @Test("docs/config.md lists every key of megaplan.hardware, the calibrated constants among them")
  func hardwareKeys() {
    let text = doc("config.md")
    for key in ConfigLoader.hardwareKeys {
      #expect(text.contains("`\(key)`"), "docs/config.md lacks megaplan.hardware.\(key)")
    }
  }

  @Test("docs/config.md lists every Megatron-Bridge field megaplan reads or refuses")
  func bridgeFields() {
    let text = doc("config.md")
    for field in BridgeConfig.knownFields.sorted() {
      #expect(text.contains("`\(field)`"), "docs/config.md lacks the Bridge field \(field)")
    }
  }

  @Test("docs/cli.md documents every command and option")
  func cliOptions() {
    let text = doc("cli.md")
    for command in CLI.commands {
      #expect(
        text.contains("megaplan \(command.name)"), "docs/cli.md lacks the \(command.name) command")
      for option in command.options {
        #expect(
          text.contains("`\(option.name)"), "docs/cli.md lacks \(option.name) of \(command.name)")
      }
    }
  }

  @Test("docs/megatron-args.md lists every Megatron flag megaplan maps")
  func megatronFlags() {
    let text = doc("megatron-args.md")
    for (flag, _) in MegatronArguments.mappedFlags {
      #expect(text.contains(flag), "docs/megatron-args.md lacks \(flag)")
    }
  }

  @Test(
    "every bundled config estimates",
    arguments: (try? FileManager.default.contentsOfDirectory(atPath: rooted("configs")))?.filter {
      $0.hasSuffix(".yaml")
    }.sorted() ?? [])
  func bundled(_ name: String) {
    let r = runCLI(["estimate", rooted("configs/\(name)"), "--format", "json"])
    #expect(r.code == 0, "\(name): \(r.stderr)")
    #expect(r.stderr.isEmpty, "\(name) warns: \(r.stderr)")
  }

  @Test("docs/validation.md holds the current `megaplan validate` output")
  func validationCurrent() {
    #expect(
      doc("validation.md").contains(ValidationReport.text()),
      "rerun `megaplan validate` and paste its output into docs/validation.md")
  }
}
