import Foundation
import Testing
@testable import MegaplanCLI

/// One documented command and the lines the docs show of its output.
struct DocumentedExample: CustomStringConvertible, Sendable {
  var file: String
  var line: Int
  var arguments: [String]
  var expected: [String]
  var description: String { "\(file):\(line): megaplan \(arguments.joined(separator: " "))" }
}

/// Every fenced block of README.md and docs/*.md whose lines start with `$ megaplan`: each such
/// line is a command (a trailing `# comment` dropped), the lines up to the next command or the
/// end of the block what the docs show it prints.
let documentedExamples: [DocumentedExample] = {
  let files =
    ["README.md"]
    + ((try? FileManager.default.contentsOfDirectory(atPath: rooted("docs"))) ?? [])
    .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
  var out: [DocumentedExample] = []
  for file in files {
    guard let text = try? String(contentsOfFile: rooted(file), encoding: .utf8) else { continue }
    var inBlock = false
    var current: DocumentedExample? = nil
    for (i, raw) in text.components(separatedBy: "\n").enumerated() {
      let line = raw.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
      if line.hasPrefix("```") {
        if let c = current { out.append(c) }
        current = nil
        inBlock.toggle()
        continue
      }
      guard inBlock else { continue }
      if line.hasPrefix("$ megaplan ") {
        if let c = current { out.append(c) }
        var command = String(line.dropFirst("$ megaplan ".count))
        if let hash = command.range(of: " #") { command = String(command[..<hash.lowerBound]) }
        current = DocumentedExample(
          file: file, line: i + 1,
          arguments: command.split(separator: " ").map(String.init), expected: [])
      } else if !line.isEmpty, current != nil {
        current?.expected.append(line)
      }
    }
  }
  return out
}()

/// Issue 28: the docs' example outputs went stale (README's serve block, docs/sizing.md's
/// `size --gpus 160`, documented 35.9 B, printed 39.1 B). Each documented command runs here and
/// every line the docs show must be a line of what it prints now.
@Suite struct DocsExamplesTests {
  @Test("the docs hold documented examples (README serve, sizing, serve MoE)")
  func examplesFound() {
    let files = Set(documentedExamples.map(\.file))
    #expect(files.isSuperset(of: ["README.md", "docs/sizing.md", "docs/serve.md"]), "\(files)")
    #expect(documentedExamples.allSatisfy { !$0.expected.isEmpty })
  }

  @Test("every documented example prints the lines the docs show", arguments: documentedExamples)
  func examplePrintsDocumentedLines(_ example: DocumentedExample) {
    let r = runCLI(example.arguments)
    #expect(r.code == 0, "\(example): \(r.stderr)")
    let printed = Set(
      r.stdout.components(separatedBy: "\n").map {
        $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
      })
    for line in example.expected {
      #expect(printed.contains(line), "\(example) no longer prints: \(line)")
    }
  }

  /// The README's validation figures are `megaplan validate`'s: each section's mean, the step
  /// time sections' bound, and each mixture-of-experts run's error as printed.
  @Test("README's step-time figures are megaplan validate's")
  func readmeValidationFigures() throws {
    let readme = try String(contentsOfFile: rooted("README.md"), encoding: .utf8)
      .replacingOccurrences(of: "\\s+", with: " ", options: .regularExpression)
    let lines = runCLI(["validate"]).stdout.components(separatedBy: "\n")
    func section(_ title: String) -> ArraySlice<String> {
      guard let start = lines.firstIndex(where: { $0.hasPrefix(title) }) else { return [] }
      let end = lines[start...].firstIndex { $0.hasPrefix("mean |error|") } ?? start
      return lines[start...end]
    }
    func figures(_ title: String) throws -> (mean: String, max: Double) {
      let last = try #require(section(title).last)
      let parts = last.replacingOccurrences(of: "%", with: "").split(separator: " ")
      return (String(parts[2].dropLast()), Double(parts[5]) ?? .nan)
    }
    let quoted: [(String, String)] = [
      ("End-to-end iteration time", "A100 development runs mean"),
      ("Modern H100 runs", "Megatron-Bridge H100 FP8 runs"),
      ("Long context", "NeMo long-context runs"),
      ("Blackwell runs", "four B200/GB200 runs never fitted to"),
      ("Mixture-of-experts", "mixture-of-experts runs mean"),
      ("Scale:", "GB200 and GB300 mean"),
    ]
    for (title, phrase) in quoted {
      let (mean, most) = try figures(title)
      #expect(readme.contains("\(phrase) \(mean) %"), "README lacks '\(phrase) \(mean) %'")
      // The development sections' bound; the scale and MoE sections name their misses.
      if !title.hasPrefix("Mixture") && !title.hasPrefix("Scale") {
        #expect(most <= 11, "\(title): max \(most) %")
      }
    }
    for row in section("Mixture-of-experts").dropFirst(2) where row.contains(" H100") {
      let name = String(row.prefix { $0 != "," })
      let error = try #require(row.split(separator: " ").first { $0.hasSuffix("%") })
      #expect(readme.contains("\(name) \(error)"), "README lacks '\(name) \(error)'")
    }
  }

  /// Issue 28: docs/cli.md said every command takes `--gpus`; `scale` and `serve` refuse it.
  @Test("docs/cli.md says which commands take --gpus, and lists every GPU --gpu takes")
  func gpusRow() throws {
    let cli = try String(contentsOfFile: rooted("docs/cli.md"), encoding: .utf8)
    let row = try #require(
      cli.components(separatedBy: "\n").first { $0.hasPrefix("| `--gpus N` |") })
    let parts = row.components(separatedBy: "no `--gpus` for")
    let (takes, refuses) = (parts.first ?? "", parts.count > 1 ? parts[1] : "")
    for command in CLI.commands where command.options.contains(where: { $0.name == "--set" }) {
      let named = "`\(command.name)`"
      if command.options.contains(where: { $0.name == "--gpus" }) {
        #expect(takes.contains(named), "the --gpus row does not say \(command.name) takes it")
      } else {
        #expect(refuses.contains(named), "the --gpus row does not say \(command.name) refuses it")
        #expect(runCLI([command.name, rooted("configs/k22-22b.yaml"), "--gpus", "8"]).code == 64)
      }
    }
    let gpuRow = try #require(
      cli.components(separatedBy: "\n").first { $0.hasPrefix("| `--gpu NAME` |") })
    for name in CLI.gpuNames.components(separatedBy: ", ") {
      #expect(gpuRow.contains("`\(name)`"), "the --gpu row lacks \(name)")
    }
  }
}
