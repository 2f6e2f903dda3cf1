import Foundation
import Testing
@testable import MegaplanCLI
@testable import MegatronPlan
#if canImport(FoundationXML)
  import FoundationXML
#endif

/// K22 §1.8 of the reference (derived from Table 2 at t = 8): per-layer activations as a share
/// of the tensor-parallel baseline.
struct ShareCase: CustomStringConvertible, Sendable {
  var config: String
  var sp: Double, selective: Double, both: Double, full: Double
  var description: String { config }
}

let k22Shares: [ShareCase] = [
  ShareCase(config: "configs/k22-22b.yaml", sp: 0.668, selective: 0.494, both: 0.161, full: 0.076),
  ShareCase(config: "configs/k22-175b.yaml", sp: 0.620, selective: 0.565, both: 0.185, full: 0.087),
  ShareCase(config: "configs/k22-530b.yaml", sp: 0.583, selective: 0.619, both: 0.202, full: 0.095),
  ShareCase(config: "configs/k22-1t.yaml", sp: 0.583, selective: 0.619, both: 0.202, full: 0.095),
]

func scratchDirectory() throws -> URL {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
    "megaplan-tests-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  return dir
}

@Suite struct CompareTests {
  func rows(_ config: String) throws -> [[String: Any]] {
    let r = runCLI(["compare", rooted(config), "--format", "json"])
    #expect(r.code == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    return object?["rows"] as? [[String: Any]] ?? []
  }

  func value(_ row: [String: Any], _ path: String) -> Any? {
    var current: Any? = row
    for part in path.split(separator: ".") { current = (current as? [String: Any])?[String(part)] }
    return current
  }

  @Test("per-layer activations as a share of the TP baseline match K22 §1.8", arguments: k22Shares)
  func shares(_ c: ShareCase) throws {
    let rows = try rows(c.config)
    func perLayer(_ label: String) -> Double {
      let row = rows.first { ($0["label"] as? String) == label }
      return (row.flatMap { value($0, "memory.activations_per_layer_bytes") } as? Double) ?? .nan
    }
    let baseline = perLayer("none")
    #expect(abs(perLayer("none + SP") / baseline - c.sp) < 0.001)
    #expect(abs(perLayer("selective") / baseline - c.selective) < 0.001)
    #expect(abs(perLayer("selective + SP") / baseline - c.both) < 0.001)
    // Full recompute without SP stores 2sbh (K22 Table 2).
    #expect(abs(perLayer("full") / baseline - c.full) < 0.001)
  }

  @Test(
    "the recommended row is the fastest that fits; SP + selective beats full recompute",
    arguments: k22Shares.map(\.config))
  func recommended(_ config: String) throws {
    let rows = try rows(config)
    let fitting = rows.filter { (value($0, "memory.fits") as? Bool) == true }
    let fastest = fitting.min {
      (value($0, "time.iteration_seconds") as? Double ?? .infinity)
        < (value($1, "time.iteration_seconds") as? Double ?? .infinity)
    }
    let marked = rows.filter { ($0["recommended"] as? Bool) == true }
    #expect(marked.count == 1)
    #expect((marked.first?["label"] as? String) == (fastest?["label"] as? String))
    let t = { (label: String) in
      rows.first { ($0["label"] as? String) == label }.flatMap {
        value($0, "time.iteration_seconds") as? Double
      } ?? .nan
    }
    // K22 Table 5: present work (SP + selective) is 29–32 % faster than full recompute.
    let speedup = t("full") / t("selective + SP") - 1
    #expect(speedup > 0.2 && speedup < 0.45, "speedup \(speedup)")
    // K22 Fig. 1 / §1.8: none of the four models fits without SP + selective together... at least the no-recompute baseline does not.
    #expect(
      (rows.first { ($0["label"] as? String) == "none" }.flatMap {
        value($0, "memory.fits") as? Bool
      }) == false)
  }

  @Test("the chart is valid SVG with one bar group per strategy and the capacity line")
  func chart() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("chart.svg")
    let r = runCLI(["compare", rooted("configs/k22-175b.yaml"), "--chart", out.path])
    #expect(r.code == 0)
    let data = try Data(contentsOf: out)
    final class Counter: NSObject, XMLParserDelegate {
      var bars = 0, capacity = 0, panels = 0, root = ""
      func parser(
        _ p: XMLParser, didStartElement e: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String]
      ) {
        if root.isEmpty { root = e }
        if attributes["class"] == "bar" { bars += 1 }
        if attributes["class"] == "capacity" { capacity += 1 }
        if attributes["class"] == "panel" { panels += 1 }
      }
    }
    let parser = XMLParser(data: data)
    let counter = Counter()
    parser.delegate = counter
    #expect(parser.parse(), "SVG does not parse as XML")
    #expect(counter.root == "svg")
    // Six strategies (none/selective/full × SP off/on), one bar in each of the two panels.
    #expect(counter.bars == 12)
    #expect(counter.panels == 2)
    #expect(counter.capacity == 1)
    let text = String(decoding: data, as: UTF8.self)
    #expect(
      !text.contains("<script") && !text.contains("@font-face") && !text.contains("href=\"http"))
  }

  /// 175B at t8 p8 on 64 A100 40GB: even full recompute + SP needs about 48 GiB (the states
  /// alone are 47 GiB at 18 bytes per parameter, reference §3.6), so nothing fits; more pipeline
  /// stages (fewer parameters per GPU) would.
  @Test("when nothing fits, compare says what would, with its estimate")
  func remedies() throws {
    let r = runCLI([
      "compare", rooted("configs/k22-175b.yaml"), "--gpu", "a100-40gb", "--format", "json",
    ])
    #expect(r.code == 0)
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let rows = object?["rows"] as? [[String: Any]] ?? []
    #expect(rows.allSatisfy { ($0["recommended"] as? Bool) == false })
    let remedies = object?["remedies"] as? [[String: Any]] ?? []
    let first = try #require(remedies.first)
    #expect((first["change"] as? String)?.contains("pipeline_model_parallel_size") == true)
    let memory = (first["estimate"] as? [String: Any])?["memory"] as? [String: Any]
    #expect((memory?["fits"] as? Bool) == true)
  }

  @Test("text, csv and markdown formats render every row")
  func formats() {
    for format in ["text", "csv", "markdown"] {
      let r = runCLI(["compare", rooted("configs/k22-22b.yaml"), "--format", format])
      #expect(r.code == 0)
      #expect(r.stdout.contains("selective + SP"))
    }
  }
}

@Suite struct CheckTests {
  func write(_ text: String, in dir: URL, _ name: String) throws -> String {
    let url = dir.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }

  /// 175B with t8 p8 on 64 GPUs, no recompute, no SP, plain 1F1B: K22 Table 2 gives
  /// (10 + 24/8 + 5·96·2048/(12288·8))·sbh = 23 sbh ≈ 0.54 GiB per layer (sbh = 2048·12288), × 96
  /// layers' worth on the first stage ≈ 52 GiB of activations, plus ≈ 47 GiB of weights, gradients
  /// and Adam states at 18 bytes per parameter (reference §3.6): far over 80 GB.
  static let tooBig = """
    trainer:
      num_nodes: 8
      devices: 8
    model:
      num_layers: 96
      hidden_size: 12288
      num_attention_heads: 96
      encoder_seq_length: 2048
      micro_batch_size: 1
      global_batch_size: 64
      tensor_model_parallel_size: 8
      pipeline_model_parallel_size: 8
      sequence_parallel: false
    megaplan:
      vocab_size: 51200
    """

  @Test("a fitting config exits 0")
  func fitting() {
    let r = runCLI(["check", rooted("configs/k22-175b.yaml")])
    #expect(r.code == 0, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.hasPrefix("ok"))
  }

  @Test("175B t8 p8 without recompute or SP does not fit: exit 1, memory named, a fix suggested")
  func tooBigFails() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = try write(Self.tooBig, in: dir, "175b.yaml")
    let r = runCLI(["check", file])
    #expect(r.code == 1)
    #expect(r.stdout.contains("memory:"))
    #expect(r.stdout.contains("suggestion: fits with"))
    let gh = runCLI(["check", file, "--format", "github"])
    #expect(gh.code == 1)
    #expect(gh.stdout.contains("::error file=\(file),line="))
  }

  @Test("limits that fail exit 1")
  func limits() {
    let mfu = runCLI(["check", rooted("configs/k22-175b.yaml"), "--min-mfu", "0.9"])
    #expect(mfu.code == 1 && mfu.stdout.contains("mfu:"))
    let gpus = runCLI(["check", rooted("configs/k22-175b.yaml"), "--max-gpus", "32"])
    #expect(gpus.code == 1 && gpus.stdout.contains("gpus:"))
    let days = runCLI(["check", rooted("configs/gpt3-175b-1024gpu.yaml"), "--max-days", "5"])
    #expect(days.code == 1 && days.stdout.contains("days:"))
    let memory = runCLI(["check", rooted("configs/k22-175b.yaml"), "--max-memory-fraction", "0.1"])
    #expect(memory.code == 1 && memory.stdout.contains("memory:"))
  }

  /// Issue 28: one finding names one key. The JSON `key`, the key the GitHub annotation's line
  /// holds (and its title names) and a key the suggestion changes are the same; a key the file
  /// does not set gets a file-level annotation, never another key's line.
  @Test("a finding's JSON key, annotation line and suggestion name the same key")
  func oneKeyPerFinding() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = try write(Self.tooBig, in: dir, "175b.yaml")
    let lines = Self.tooBig.components(separatedBy: "\n")
    let limits = ["--min-mfu", "0.99", "--max-days", "1", "--set", "megaplan.train_tokens=300e9"]
    let json = runCLI(["check", file, "--format", "json"] + limits)
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let files = object?["files"] as? [[String: Any]] ?? []
    let violations = try #require(files.first?["violations"] as? [[String: Any]])
    #expect(Set(violations.compactMap { $0["what"] as? String }) == ["memory", "mfu", "days"])
    let github = runCLI(["check", file, "--format", "github"] + limits).stdout
      .components(separatedBy: "\n").filter { $0.hasPrefix("::error") }
    #expect(github.count == violations.count)
    for v in violations {
      let what = try #require(v["what"] as? String), key = try #require(v["key"] as? String)
      let leaf = String(key.split(separator: ".").last ?? "")
      if let suggestion = v["suggestion"] as? String {
        #expect(suggestion.contains("\(leaf): "), "\(what): '\(suggestion)' does not set \(key)")
      }
      let annotation = try #require(
        github.first { $0.contains("title=megaplan check%3A \(what) (\(key))") },
        "no annotation titled with \(key)")
      // The line of the key in the file (leaf at its indentation), or none.
      let line = lines.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix(leaf + ":") }
      if let line {
        #expect(annotation.contains(",line=\(line + 1),"), "\(annotation)")
      } else {
        #expect(!annotation.contains("line="), "\(annotation)")
      }
    }
    // The memory fix turns on sequence parallelism, which the file sets (line 13).
    let memory = try #require(violations.first { ($0["what"] as? String) == "memory" })
    #expect(memory["key"] as? String == "model.sequence_parallel")
  }

  /// Issue 28: `--min-mfu` has one unit, a fraction (1 was 100 % but 1.5 was 1.5 %).
  @Test("--min-mfu is a fraction in (0, 1]; a percent is refused with the fraction it means")
  func minMFUUnit() {
    let file = rooted("configs/k22-175b.yaml")
    let one = runCLI(["check", file, "--min-mfu", "1"])
    #expect(one.code == 1 && one.stdout.contains("below the minimum 100.0%"))
    let percent = runCLI(["check", file, "--min-mfu", "45"])
    #expect(percent.code == 64 && percent.stdout.isEmpty)
    #expect(percent.stderr.contains("'--min-mfu' expects a fraction in (0, 1]"))
    #expect(percent.stderr.contains("45% is 0.45"))
    let mixed = runCLI(["check", file, "--min-mfu", "1.5"])
    #expect(mixed.code == 64 && mixed.stderr.contains("1.5% is 0.015"))
    let help = runCLI(["check", "--help"]).stdout
    #expect(help.contains("a fraction in (0, 1]: 0.45 is 45%"))
  }

  /// Issue 28: the default usable fraction is one value (`MemoryBudget.defaultFraction`), which
  /// `check --help`, docs/cli.md and the report all show.
  @Test("check's default memory fraction: one value in the code, the help, the docs and the report")
  func defaultMemoryFraction() throws {
    let value = Format.fixed(MemoryBudget.defaultFraction, 2)
    let help = runCLI(["check", "--help"]).stdout
    let line = try #require(
      help.components(separatedBy: "\n").first {
        $0.trimmingCharacters(in: .whitespaces).hasPrefix("--max-memory-fraction")
      })
    #expect(line.contains("else \(value))"), "\(line)")
    let docs = try String(contentsOfFile: rooted("docs/cli.md"), encoding: .utf8)
    let row = try #require(
      docs.components(separatedBy: "\n").first { $0.hasPrefix("| `--max-memory-fraction` | F in") })
    #expect(row.contains("else \(value)"), "\(row)")
    let ok = runCLI(["check", rooted("configs/k22-175b.yaml")])
    let percent = Format.percent(MemoryBudget.defaultFraction, 0)
    #expect(ok.stdout.contains("usable (\(percent) of"), "\(ok.stdout)")
  }

  @Test("a malformed file exits 64")
  func malformed() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = try write("model:\n  num_layers: [\n", in: dir, "bad.yaml")
    let r = runCLI(["check", file])
    #expect(r.code == 64)
  }

  @Test("mixed files: exit 1 with per-file JSON; a directory expands to its *.yaml")
  func mixed() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    _ = try write(Self.tooBig, in: dir, "a-too-big.yaml")
    _ = try write(
      String(contentsOfFile: rooted("configs/k22-22b.yaml"), encoding: .utf8), in: dir,
      "b-fits.yaml")
    let r = runCLI(["check", dir.path, "--format", "json"])
    #expect(r.code == 1)
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let files = object?["files"] as? [[String: Any]] ?? []
    #expect(files.count == 2)
    #expect((files.first?["ok"] as? Bool) == false)
    #expect((files.last?["ok"] as? Bool) == true)
    let violations = files.first?["violations"] as? [[String: Any]] ?? []
    #expect((violations.first?["what"] as? String) == "memory")
  }
}
