import Foundation
import Testing
@testable import MegaplanCLI
@testable import MegatronPlan

/// `megaplan size` and `megaplan scale` in-process: usage errors exit 64 naming the option, the
/// formats, the chart, and docs/validation.md holding the current published-time comparison.
@Suite struct SizeScaleCommandTests {
  struct UsageCase: CustomStringConvertible, Sendable {
    var args: [String]
    var mentions: String
    var description: String { args.joined(separator: " ") }
  }

  static let fiveB = "Tests/MegatronPlanTests/Fixtures/nemo-launcher-2022/gpt3/5b.yaml"

  @Test(
    "usage errors exit 64 with a message naming the option",
    arguments: [
      UsageCase(args: ["size", "--days", "30"], mentions: "--gpus"),
      UsageCase(args: ["size", "--gpus", "64"], mentions: "--days"),
      UsageCase(args: ["size", "--gpus", "0", "--days", "3"], mentions: "--gpus"),
      UsageCase(args: ["size", "--gpus", "64", "--days", "-2"], mentions: "--days"),
      UsageCase(args: ["size", "--gpus", "64", "--days", "x"], mentions: "--days"),
      UsageCase(
        args: ["size", "--gpus", "64", "--days", "3", "--tokens", "lots"], mentions: "--tokens"),
      UsageCase(
        args: [
          "size", "--gpus", "64", "--days", "3", "--tokens", "1e9", "--tokens-per-parameter",
          "20",
        ], mentions: "--tokens-per-parameter"),
      UsageCase(
        args: ["size", "--gpus", "64", "--days", "3", "--family", "lama"], mentions: "--family"),
      UsageCase(args: ["size", "--gpus", "64", "--days", "3", "--gpu", "h100"], mentions: "--gpu"),
      UsageCase(args: ["size", "--gpus", "64", "--days", "3", "--seq", "0"], mentions: "--seq"),
      UsageCase(
        args: ["size", "--gpus", "64", "--days", "3", "--recompute", "some"],
        mentions: "--recompute"),
      UsageCase(
        args: ["size", "--gpus", "64", "--days", "3", "--batch-tokens", "1e14"],
        mentions: "--batch-tokens"),
      UsageCase(
        args: ["size", "--gpus", "64", "--days", "3", "--batch-tokens", "-5"],
        mentions: "--batch-tokens"),
      UsageCase(args: ["size", "file.yaml", "--gpus", "64", "--days", "3"], mentions: "FILE"),
      UsageCase(args: ["scale", fiveB], mentions: "--nodes"),
      UsageCase(args: ["scale", fiveB, "--nodes", "1,x,4"], mentions: "--nodes"),
      UsageCase(args: ["scale", fiveB, "--nodes", "0"], mentions: "--nodes"),
      UsageCase(args: ["scale", fiveB, "--nodes", "1,,2"], mentions: "--nodes"),
      UsageCase(args: ["scale", fiveB, "--nodes", "1", "--layout", "best"], mentions: "--layout"),
      UsageCase(args: ["scale", fiveB, "--nodes", "1", "--tokens", "0"], mentions: "--tokens"),
      UsageCase(args: ["scale", fiveB, "--nodes", "1", "--gpus", "8"], mentions: "--gpus"),
      UsageCase(args: ["scale", "--nodes", "1"], mentions: "FILE"),
    ])
  func usage(_ c: UsageCase) {
    let r = runCLI(c.args.map { $0 == Self.fiveB ? rooted($0) : $0 })
    #expect(r.code == 64, "\(c): \(r.stderr)")
    #expect(r.stdout.isEmpty)
    #expect(r.stderr.contains(c.mentions), "\(c): \(r.stderr)")
    #expect(r.stderr.split(separator: "\n").first?.hasPrefix("error: ") == true)
  }

  @Test("size answers, in every format, and exits 1 when no model trains in time")
  func size() throws {
    let args = ["size", "--gpus", "64", "--days", "30", "--recompute", "none,selective"]
    let text = runCLI(args)
    #expect(text.code == 0, "\(text.stderr)")
    #expect(text.stdout.hasPrefix("megaplan size: the largest GPT-3 model that trains 300.0 B"))
    let json = runCLI(args + ["--format", "json"])
    let doc = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let answer = try #require(doc["answer"] as? [String: Any])
    #expect((answer["meets_deadline"] as? Bool) == true)
    #expect(doc["estimate"] is [String: Any])
    #expect((doc["gpus"] as? Int) == 64)
    // Byte-stable: the same command writes the same bytes.
    #expect(runCLI(args + ["--format", "json"]).stdout == json.stdout)
    let csv = runCLI(args + ["--format", "csv"]).stdout
    #expect(csv.hasPrefix("rung,parameters,layers,hidden,heads,query_groups,ffn_hidden,"))
    #expect(csv.split(separator: "\n").filter { $0.hasSuffix(",true,true") }.count == 1)
    #expect(runCLI(args + ["--format", "markdown"]).stdout.contains("| rung | parameters |"))
    let none = runCLI(["size", "--gpus", "8", "--days", "0.01", "--format", "json"])
    #expect(none.code == 1)
    #expect(none.stderr.contains("no GPT-3 model"))
  }

  @Test("scale: rows, skipped counts with their reason, formats, and the chart")
  func scale() throws {
    let file = rooted(Self.fiveB)
    let kept = runCLI(["scale", file, "--nodes", "1,20", "--layout", "file", "--tokens", "300B"])
    #expect(kept.code == 0, "\(kept.stderr)")
    #expect(kept.stdout.contains("20 nodes (160 GPUs) skipped: global batch 2,048"))
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "megaplan-scale-\(ProcessInfo.processInfo.processIdentifier)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let chart = dir.appendingPathComponent("scale.svg").path
    let args = [
      "scale", file, "--nodes", "20,1", "--layout", "file", "--adjust-batch", "--tokens", "300e9",
    ]
    let adjusted = runCLI(args + ["--chart", chart])
    #expect(adjusted.code == 0)
    #expect(adjusted.stdout.contains("1,920*"))
    let svg = try String(contentsOfFile: chart, encoding: .utf8)
    #expect(svg.hasPrefix("<svg") && svg.contains("<polyline") && svg.hasSuffix("</svg>\n"))
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(runCLI(args + ["--format", "json"]).stdout.utf8))
        as? [String: Any])
    let rows = try #require(json["rows"] as? [[String: Any]])
    #expect(rows.map { $0["nodes"] as? Int } == [1, 20])  // sorted
    #expect((rows[1]["global_batch"] as? Int) == 1920)
    #expect((rows[0]["efficiency"] as? Double) == 1)
    let csv = runCLI(args + ["--format", "csv"]).stdout
    #expect(csv.split(separator: "\n").count == 3)
    #expect(runCLI(args + ["--format", "markdown"]).stdout.hasPrefix("| nodes | GPUs |"))
  }

  @Test("docs/validation.md holds the current comparison with NVIDIA's published times")
  func validationDoc() throws {
    let results = try PublishedTrainingTimes.all.map { cell in
      let path = rooted("Tests/MegatronPlanTests/Fixtures/" + cell.config)
      let text = try String(contentsOfFile: path, encoding: .utf8)
      let run = try ConfigLoader.load(try ConfigDocument.parse(text, file: cell.config)).run
      return PublishedTrainingTimes.predict(cell, config: run)
    }
    let doc = (try? String(contentsOfFile: rooted("docs/validation.md"), encoding: .utf8)) ?? ""
    let table = PublishedTrainingTimes.markdown(results)
    if ProcessInfo.processInfo.environment["MEGAPLAN_RECORD"] == "1",
      let start = doc.range(of: "| model | nodes (GPUs) |"),
      let mean = doc.range(of: "\nmean |error|", range: start.upperBound..<doc.endIndex),
      let end = doc.range(of: "\n", range: mean.upperBound..<doc.endIndex)
    {
      // Recording (as the goldens record): the table is written in place.
      let updated = doc.replacingCharacters(in: start.lowerBound..<end.upperBound, with: table)
      try updated.write(toFile: rooted("docs/validation.md"), atomically: true, encoding: .utf8)
      return
    }
    #expect(doc.contains(table), "paste this into docs/validation.md:\n\(table)")
  }
}
