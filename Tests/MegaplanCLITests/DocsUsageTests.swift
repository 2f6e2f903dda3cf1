import Foundation
import Testing
@testable import MegaplanCLI

/// Meta-tests: docs/cli.md shows each command's usage line exactly as `--help` prints it, every
/// usage line names every option of its command, and the docs' stated facts match the program.
@Suite struct DocsUsageTests {
  let cli = (try? String(contentsOfFile: rooted("docs/cli.md"), encoding: .utf8)) ?? ""

  @Test("docs/cli.md holds each command's usage line, as --help prints it")
  func usageLines() {
    for command in CLI.commands {
      let help = runCLI([command.name, "--help"]).stdout
      let printed = help.split(separator: "\n").first { $0.hasPrefix("usage: ") }
        .map { String($0.dropFirst("usage: ".count)) }
      #expect(printed == command.usage)
      #expect(
        cli.contains("```\n\(command.usage)\n```"),
        "docs/cli.md lacks the usage block of \(command.name): \(command.usage)")
    }
  }

  @Test("every option of a command is in its usage line and its docs section")
  func optionsInUsage() {
    for command in CLI.commands {
      let section =
        cli.components(separatedBy: "## `megaplan \(command.name)`").dropFirst().first?
        .components(separatedBy: "\n## ").first ?? ""
      for option in command.options where option.name != "--help" {
        #expect(
          command.usage.contains("[\(option.name)") || command.usage.contains(" \(option.name) ")
            || command.usage.contains("| \(option.name) "),
          "the usage of \(command.name) lacks \(option.name)")
        let common = CLI.commonConfigOptions.contains { $0.name == option.name }
        #expect(
          common || section.contains("`\(option.name)"),
          "docs/cli.md's \(command.name) section lacks \(option.name)")
      }
    }
  }

  @Test("docs/json-schema.md lists the top-level estimate fields the program writes")
  func jsonSchema() throws {
    let schema = (try? String(contentsOfFile: rooted("docs/json-schema.md"), encoding: .utf8)) ?? ""
    let r = runCLI(["estimate", rooted("configs/k22-22b.yaml"), "--format", "json"])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    for (section, value) in object {
      guard let fields = value as? [String: Any] else { continue }
      for field in fields.keys {
        #expect(
          schema.contains("`\(section).\(field)") || schema.contains("\(field),")
            || schema.contains("\(field)}") || schema.contains(", `\(section).\(field)`")
            || schema.contains("`\(section).{"),
          "docs/json-schema.md lacks \(section).\(field)")
      }
    }
    #expect(schema.contains("`memory.gpu`"))
  }

  @Test("docs/json-schema.md lists every serve field the program writes (MoE and dense)")
  func serveSchema() throws {
    let schema = (try? String(contentsOfFile: rooted("docs/json-schema.md"), encoding: .utf8)) ?? ""
    let start = try #require(schema.range(of: "## `megaplan serve --format json`"))
    let section = String(schema[start.lowerBound...])
    for config in ["configs/mixtral-8x7b.yaml", "configs/llama3-8b.yaml"] {
      let r = runCLI([
        "serve", rooted(config), "--batch", "1", "--max-latency-ms", "1e9", "--format", "json",
      ])
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
      for key in object.keys { #expect(section.contains("\"\(key)\""), "lacks \(key)") }
      let row = try #require((object["rows"] as? [[String: Any]])?.first)
      for (name, value) in row {
        guard let fields = value as? [String: Any] else {
          #expect(section.contains("`\(name)`"), "lacks \(name)")
          continue
        }
        for field in fields.keys {
          #expect(section.contains("`\(name).\(field)`"), "lacks \(name).\(field)")
        }
      }
    }
  }

  @Test("docs/fuzzing.md states the seed corpus size the script copies")
  func fuzzCorpus() throws {
    let doc = (try? String(contentsOfFile: rooted("docs/fuzzing.md"), encoding: .utf8)) ?? ""
    let fm = FileManager.default
    var count = 0
    for folder in ["Tests/MegatronPlanTests/Fixtures", "configs"] {
      let walker = fm.enumerator(atPath: rooted(folder))
      while let item = walker?.nextObject() as? String {
        if [".yaml", ".sh", ".slurm"].contains(where: { item.hasSuffix($0) }) { count += 1 }
      }
    }
    #expect(doc.contains("\(count) seed files"), "docs/fuzzing.md should say \(count) seed files")
  }
}
