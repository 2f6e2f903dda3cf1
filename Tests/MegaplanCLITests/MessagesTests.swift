import Foundation
import Testing
@testable import MegaplanCLI
@testable import MegatronPlan

/// Runs the CLI in-process with `stdin` as standard input.
func runCLI(_ args: [String], stdin: String) -> (code: Int32, stdout: String, stderr: String) {
  let io = CLIOutput(stdin: stdin)
  let code = CLI.run(args, io: io)
  return (code, io.stdout, io.stderr)
}

/// Issue 9 and 10: messages name what the user typed; `check` prints nothing on stdout for a
/// config error; `-` reads standard input; typed JSON.
@Suite struct MessagesTests {
  @Test("--gpu H100 names --gpu, shows it as typed and suggests h100-sxm")
  func gpuOption() {
    let r = runCLI(["estimate", rooted("configs/k22-22b.yaml"), "--gpu", "H100"])
    #expect(r.code == 64 && r.stdout.isEmpty)
    let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    // "--gpu H100": the value starts at column 7.
    #expect(lines.first?.hasPrefix("--gpu:1:7: error: unknown GPU 'H100'") == true, "\(r.stderr)")
    // H100 abbreviates three profiles: the SXM part first.
    #expect(
      lines.first?.hasSuffix("did you mean 'h100-sxm' (or 'h100-pcie', 'h100-nvl')?") == true,
      "\(r.stderr)")
    #expect(lines.count > 2 && lines[1] == " 1 | --gpu H100" && lines[2] == "   |       ^^^^")
    #expect(!r.stderr.contains("--set") && !r.stderr.contains("megaplan.gpu"))
  }

  /// Issue 28: 160,000 unknown keys printed 50 MB of warnings; past `ConfigWarning.shownLimit`
  /// one line counts the rest.
  @Test("many unknown keys: the first few dozen warnings, then one line counting the rest")
  func manyUnknownKeys() throws {
    let base = try String(contentsOfFile: rooted("configs/k22-22b.yaml"), encoding: .utf8)
    let unknown = (0..<100).map { "  made_up_key_\($0): 1\n" }.joined()
    let text = base.replacingOccurrences(of: "megaplan:\n", with: "megaplan:\n" + unknown)
    #expect(text != base)
    let r = runCLI(["estimate", "-"], stdin: text)
    #expect(r.code == 0, "\(r.stderr)")
    let lines = r.stderr.split(separator: "\n").map(String.init)
    #expect(lines.count == ConfigWarning.shownLimit + 1)
    #expect(
      lines.prefix(ConfigWarning.shownLimit).allSatisfy { $0.contains("warning: unknown key") })
    let last = try #require(lines.last)
    #expect(last.contains("warning: 70 more unknown keys not shown"), "\(last)")
    #expect(last.hasPrefix("<stdin>:"), "\(last)")
  }

  @Test("--gpus N that the layout cannot use names --gpus")
  func gpusOption() {
    // k22-22b.yaml has t = 8, p = 1: 12 GPUs are not a multiple of 8.
    let r = runCLI(["estimate", rooted("configs/k22-22b.yaml"), "--gpus", "12"])
    #expect(r.code == 64 && r.stdout.isEmpty)
    #expect(r.stderr.hasPrefix("--gpus:1:8: error: "), "\(r.stderr)")
  }

  @Test("config shows an option that set a key as typed")
  func configOrigin() {
    let r = runCLI(["config", rooted("configs/k22-22b.yaml"), "--gpu", "h100-sxm"])
    #expect(r.code == 0)
    let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("megaplan.gpu") } ?? ""
    #expect(line.hasSuffix("--gpu h100-sxm"), "\(line)")
  }

  @Test("--gpu help lists every GPU profile")
  func gpuHelp() {
    for command in ["estimate", "compare", "check", "search", "config", "serve"] {
      let help = runCLI([command, "--help"]).stdout
      let line = help.split(separator: "\n").first { $0.hasPrefix("  --gpu NAME") } ?? ""
      for gpu in GPU.all { #expect(line.contains(gpu.name), "\(command): \(line)") }
    }
  }

  @Test("a null value is pointed at: the reader keeps its place")
  func nullLocation() throws {
    let text = "model:\n  num_layers: null\n  hidden_size:\n"
    let document = try ConfigDocument.parse(text, file: "x.yaml")
    let layers = try #require(try document.value(at: "model.num_layers"))
    #expect(layers.scalar == .null)
    #expect(layers.location.line == 2 && layers.location.column == 15)
    #expect(layers.location.lineText == "  num_layers: null")
    // An empty value is placed just after the colon.
    let hidden = try #require(try document.value(at: "model.hidden_size"))
    #expect(hidden.scalar == .null)
    #expect(hidden.location.line == 3 && hidden.location.column == 15)
  }

  // MARK: - check

  static let broken = "model:\n  num_layers: four\n"

  @Test("check: a config error in text or JSON prints nothing on stdout, the error on stderr")
  func checkConfigError() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = dir.appendingPathComponent("bad.yaml")
    try Self.broken.write(to: bad, atomically: true, encoding: .utf8)
    for format in ["text", "json"] {
      let r = runCLI(["check", bad.path, rooted("configs/k22-22b.yaml"), "--format", format])
      #expect(r.code == 64, "\(format)")
      #expect(r.stdout.isEmpty, "\(format): \(r.stdout)")
      #expect(r.stderr.hasPrefix("\(bad.path):2:15: error: expected an integer"), "\(r.stderr)")
      #expect(r.stderr.contains(" 2 |   num_layers: four"))
    }
  }

  @Test("check --format github: the config error as an annotation on its line, exit 64")
  func checkGitHubConfigError() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = dir.appendingPathComponent("bad.yaml")
    try Self.broken.write(to: bad, atomically: true, encoding: .utf8)
    let r = runCLI(["check", bad.path, "--format", "github"])
    #expect(r.code == 64)
    let file = CheckCommand.escapeProperty(bad.path)
    #expect(r.stdout.hasPrefix("::error file=\(file),line=2,col=15::\(bad.path):2:15: error: "))
    #expect(r.stdout.hasSuffix("megaplan check: 0 of 1 config passed\n"))
    #expect(r.stderr.contains(" 2 |   num_layers: four"))
  }

  @Test("GitHub workflow commands: data escapes % CR LF; properties also : and ,")
  func gitHubEscaping() {
    // GitHub's toolkit (command.ts): escapeData and escapeProperty.
    #expect(CheckCommand.escapeData("50% of a:b,c\r\nd") == "50%25 of a:b,c%0D%0Ad")
    #expect(CheckCommand.escapeProperty("50% of a:b,c\r\nd") == "50%25 of a%3Ab%2Cc%0D%0Ad")
    let line = CheckCommand.annotation(
      file: "dir,1/a:b.yaml", at: nil, title: "megaplan check: memory", message: "x")
    #expect(line == "::error file=dir%2C1/a%3Ab.yaml,title=megaplan check%3A memory::x\n")
  }

  @Test("check: a violation is annotated with an escaped title")
  func checkGitHubViolation() {
    let r = runCLI([
      "check", rooted("configs/k22-22b.yaml"), "--format", "github", "--max-gpus", "1",
    ])
    #expect(r.code == 1)
    #expect(r.stdout.contains(",title=megaplan check%3A "), "\(r.stdout)")
  }

  // MARK: - standard input

  @Test("- reads the config from standard input, for every config-reading command")
  func standardInput() throws {
    let path = rooted("configs/k22-22b.yaml")
    let text = try String(contentsOfFile: path, encoding: .utf8)
    for command in [["estimate"], ["compare"], ["check"], ["config"], ["search", "--top", "1"]] {
      let fromFile = runCLI(command + [path])
      let fromInput = runCLI(command + ["-"], stdin: text)
      #expect(fromInput.code == fromFile.code, "\(command)")
      #expect(
        fromInput.stdout == fromFile.stdout.replacingOccurrences(of: path, with: "<stdin>"),
        "\(command)")
    }
  }

  @Test("messages about standard input name <stdin>")
  func standardInputErrors() {
    let r = runCLI(["estimate", "-"], stdin: Self.broken)
    #expect(r.code == 64 && r.stdout.isEmpty)
    #expect(r.stderr.hasPrefix("<stdin>:2:15: error: expected an integer"), "\(r.stderr)")
    let binary = CLIOutput(stdout: nil, stderr: nil, stdin: { Data([0xFF, 0xFE]) })
    #expect(CLI.run(["estimate", "-"], io: binary) == 64)
    #expect(binary.stderr == "error: cannot read <stdin>: not UTF-8 text\n")
  }

  @Test("search --emit-config from standard input emits from the same text")
  func emitFromStandardInput() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = rooted("configs/k22-22b.yaml")
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let a = dir.appendingPathComponent("a.yaml").path
    let b = dir.appendingPathComponent("b.yaml").path
    #expect(runCLI(["search", path, "--emit-config", a]).code == 0)
    #expect(runCLI(["search", "-", "--emit-config", b], stdin: text).code == 0)
    #expect(
      try String(contentsOfFile: a, encoding: .utf8) == String(contentsOfFile: b, encoding: .utf8))
  }

  // MARK: - JSON

  @Test("config --format json types values from the config: numbers, booleans, strings")
  func typedConfigJSON() throws {
    let text = """
      trainer:
        num_nodes: 1
        devices: 8
        precision: 16
      model:
        num_layers: 24
        hidden_size: 2048
        num_attention_heads: 16
        encoder_seq_length: 2048
        micro_batch_size: 2
        global_batch_size: 64
        tensor_model_parallel_size: 2
        pipeline_model_parallel_size: 2
        sequence_parallel: true
        activations_checkpoint_granularity: "selective"
      megaplan:
        vocab_size: 51200
        train_tokens: 3.0e11
        gpu: a100-40gb

      """
    let r = runCLI(["config", "-", "--format", "json"], stdin: text)
    #expect(r.code == 0, "\(r.stderr)")
    let entries = try #require(
      try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
    func value(_ key: String) -> Any? { entries.first { $0["key"] as? String == key }?["value"] }
    #expect(value("model.num_layers") as? Int == 24)
    #expect(value("model.sequence_parallel") as? Bool == true)
    #expect(value("trainer.precision") as? Int == 16)
    #expect(value("megaplan.train_tokens") as? Double == 3.0e11)
    #expect(value("megaplan.gpu") as? String == "a100-40gb")
    #expect(value("model.activations_checkpoint_granularity") as? String == "selective")
    // The raw text: a boolean is `true`, not `"true"`; an integer is not quoted.
    #expect(r.stdout.contains("\"value\" : true"))
    #expect(r.stdout.contains("\"value\" : 24\n"))
  }

  @Test("JSON keeps slashes as written")
  func slashes() throws {
    let r = runCLI(["check", rooted("configs/k22-22b.yaml"), "--format", "json"])
    #expect(r.stdout.contains("\"file\" : \"\(rooted("configs/k22-22b.yaml"))\""))
    #expect(!r.stdout.contains("\\/"))
  }
}
