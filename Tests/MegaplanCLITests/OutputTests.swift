import Foundation
import Testing
@testable import MegaplanCLI

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A fresh folder under the temporary directory, removed by the caller.
func temporaryFolder() throws -> URL {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
    "megaplan-tests-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  return dir
}

/// Runs the CLI with injected sinks; returns the code and what reached stderr.
func runCLI(_ args: [String], stdout: OutputSink) -> (code: Int32, stderr: String) {
  let io = CLIOutput(stdout: stdout, stderr: nil)
  let code = CLI.run(args, io: io)
  return (code, io.stderr)
}

/// The built `megaplan` executable beside the test bundle, when there is one.
let megaplanExecutable: URL? = {
  let candidates = [
    URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
      .appendingPathComponent("megaplan"),
    Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("megaplan"),
    Bundle.main.bundleURL.appendingPathComponent("megaplan"),
  ]
  return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}()

/// Issue 9: a stdout that cannot be written is one message and exit 64, never a trap; files
/// given to --chart and --emit-config are written through their path.
@Suite struct OutputTests {
  let config = rooted("configs/gpt3-175b-1024gpu.yaml")

  @Test(
    "a stdout write that fails (ENOSPC, EPIPE, EIO): one message on stderr, exit 64",
    arguments: [ENOSPC, EPIPE, EIO])
  func failingSink(_ code: Int32) {
    // The message is "cannot write to standard output: " and the C library's strerror text.
    let reason = String(cString: strerror(code))
    for args in [
      ["estimate", config], ["estimate", config, "--format", "json"], ["check", config],
      ["--help"],
    ] {
      let r = runCLI(args, stdout: OutputSink { _ in throw SystemError(code: code) })
      #expect(r.code == 64, "\(args)")
      #expect(r.stderr == "error: cannot write to standard output: \(reason)\n", "\(args)")
    }
  }

  @Test("stdout on /dev/full, in-process through the real file descriptor writer")
  func devFullInProcess() throws {
    let fd = open("/dev/full", O_WRONLY)
    try #require(fd >= 0, "no /dev/full here")
    defer { close(fd) }
    let r = runCLI(["estimate", config], stdout: .fileDescriptor(fd))
    #expect(r.code == 64)
    #expect(r.stderr == "error: cannot write to standard output: No space left on device\n")
  }

  @Test("a closed pipe is an error (EPIPE), not a kill")
  func closedPipe() throws {
    signal(SIGPIPE, SIG_IGN)  // as main.swift does
    var ends: [Int32] = [0, 0]
    try #require(pipe(&ends) == 0)
    close(ends[0])
    defer { close(ends[1]) }
    let r = runCLI(["estimate", config], stdout: .fileDescriptor(ends[1]))
    #expect(r.code == 64)
    #expect(r.stderr == "error: cannot write to standard output: Broken pipe\n")
  }

  @Test("a stdout that takes partial writes gets every byte")
  func partialWrites() throws {
    var ends: [Int32] = [0, 0]
    try #require(pipe(&ends) == 0)
    let reader = ends[0]
    // Drain the pipe on another thread, so the writer meets a full pipe and short writes.
    let collected = Collected()
    let thread = Thread {
      var buffer = [UInt8](repeating: 0, count: 4096)
      while true {
        let n = read(reader, &buffer, buffer.count)
        if n <= 0 { break }
        collected.append(buffer[0..<n])
      }
      collected.finish()
    }
    thread.start()
    let text = String(repeating: "0123456789abcdef", count: 65_536)  // 1 MiB, > a pipe's buffer
    try POSIXIO.writeAll(ends[1], text)
    close(ends[1])
    collected.wait()
    close(reader)
    #expect(collected.bytes.count == text.utf8.count)
    #expect(collected.bytes == Array(text.utf8))
  }

  @Test("a failing stderr does not change the exit code")
  func failingStderr() {
    let io = CLIOutput(
      stdout: nil, stderr: OutputSink { _ in throw SystemError(code: EIO) })
    #expect(CLI.run(["estimate", config, "--gpu", "h100"], io: io) == 64)
    #expect(io.stdout.isEmpty)
  }

  @Test(
    "the built executable on /dev/full: exit 64 and the message, no trap",
    .enabled(if: megaplanExecutable != nil && FileManager.default.fileExists(atPath: "/dev/full"))
  )
  func executableOnDevFull() throws {
    let executable = try #require(megaplanExecutable)
    for args in [
      ["estimate", config], ["estimate", config, "--format", "json"], ["check", config],
    ] {
      let process = Process()
      process.executableURL = executable
      process.arguments = args
      process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
      let errors = Pipe()
      process.standardError = errors
      try process.run()
      let stderr = String(
        decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      process.waitUntilExit()
      #expect(process.terminationReason == .exit, "\(args)")
      #expect(process.terminationStatus == 64, "\(args)")
      #expect(stderr == "error: cannot write to standard output: No space left on device\n")
    }
  }

  // MARK: - --chart and --emit-config

  @Test("--chart writes through a symbolic link: the target gets the chart, the link stays")
  func chartThroughSymlink() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let target = dir.appendingPathComponent("target.svg")
    let link = dir.appendingPathComponent("link.svg")
    try "old".write(to: target, atomically: false, encoding: .utf8)
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
    let r = runCLI(["compare", rooted("configs/k22-22b.yaml"), "--chart", link.path])
    #expect(r.code == 0, "\(r.stderr)")
    let written = try String(contentsOf: target, encoding: .utf8)
    #expect(written.hasPrefix("<svg") || written.hasPrefix("<?xml"))
    let kind =
      try FileManager.default.attributesOfItem(atPath: link.path)[.type] as? FileAttributeType
    #expect(kind == .typeSymbolicLink)
  }

  @Test("--chart /dev/null and --emit-config /dev/null work and leave the device alone")
  func devNull() {
    let compare = runCLI(["compare", rooted("configs/k22-22b.yaml"), "--chart", "/dev/null"])
    #expect(compare.code == 0, "\(compare.stderr)")
    let search = runCLI([
      "search", rooted("configs/k22-22b.yaml"), "--emit-config", "/dev/null", "--format", "csv",
    ])
    #expect(search.code == 0, "\(search.stderr)")
    let kind =
      try? FileManager.default.attributesOfItem(atPath: "/dev/null")[.type]
      as? FileAttributeType
    #expect(kind == .typeCharacterSpecial)
  }

  @Test("a directory is refused in plain words, before any work, with nothing on stdout")
  func directory() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let compare = runCLI(["compare", rooted("configs/k22-22b.yaml"), "--chart", dir.path])
    #expect(compare.code == 64)
    #expect(compare.stdout.isEmpty)
    #expect(compare.stderr == "error: cannot write '\(dir.path)': it is a directory\n")
    let search = runCLI(["search", rooted("configs/k22-22b.yaml"), "--emit-config", dir.path])
    #expect(search.code == 64 && search.stdout.isEmpty)
    #expect(search.stderr == "error: cannot write '\(dir.path)': it is a directory\n")
  }

  @Test("/dev/full as --chart or --emit-config: the error, exit 64, nothing on stdout")
  func devFullFile() {
    let message = "error: cannot write '/dev/full': No space left on device\n"
    let compare = runCLI(["compare", rooted("configs/k22-22b.yaml"), "--chart", "/dev/full"])
    #expect(compare.code == 64 && compare.stdout.isEmpty)
    #expect(compare.stderr == message)
    let search = runCLI(["search", rooted("configs/k22-22b.yaml"), "--emit-config", "/dev/full"])
    #expect(search.code == 64 && search.stdout.isEmpty)
    #expect(search.stderr == message)
  }

  /// Issue 28: `search … --emit-config keep.yaml > /dev/full` exited 64 having already
  /// overwritten keep.yaml (`--chart` too): files are staged and written only after stdout.
  @Test("a stdout that fails leaves --emit-config and --chart files as they were")
  func nothingWrittenWhenStdoutFails() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let keep = dir.appendingPathComponent("keep.yaml").path
    let chart = dir.appendingPathComponent("keep.svg").path
    for path in [keep, chart] {
      try "keep\n".write(toFile: path, atomically: false, encoding: .utf8)
    }
    let full = OutputSink { _ in throw SystemError(code: ENOSPC) }
    let commands = [
      ["search", rooted("configs/k22-22b.yaml"), "--emit-config", keep],
      ["compare", rooted("configs/k22-22b.yaml"), "--chart", chart],
      ["scale", rooted("configs/k22-22b.yaml"), "--nodes", "1,2", "--chart", chart],
    ]
    for args in commands {
      let r = runCLI(args, stdout: full)
      #expect(r.code == 64, "\(args)")
      #expect(r.stderr == "error: cannot write to standard output: No space left on device\n")
    }
    #expect(try String(contentsOfFile: keep, encoding: .utf8) == "keep\n")
    #expect(try String(contentsOfFile: chart, encoding: .utf8) == "keep\n")
    // No staged copy is left behind, and a command that succeeds writes its file in place.
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [
        "keep.svg", "keep.yaml",
      ])
    let before = try FileManager.default.attributesOfItem(atPath: keep)[.systemFileNumber] as? Int
    let ok = runCLI(["search", rooted("configs/k22-22b.yaml"), "--emit-config", keep])
    #expect(ok.code == 0, "\(ok.stderr)")
    #expect(
      try String(contentsOfFile: keep, encoding: .utf8).contains("tensor_model_parallel_size"))
    let after = try FileManager.default.attributesOfItem(atPath: keep)[.systemFileNumber] as? Int
    #expect(before == after)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [
        "keep.svg", "keep.yaml",
      ])
  }

  @Test("an output path in a missing folder fails before the search, with nothing on stdout")
  func missingFolder() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("no/such/best.yaml").path
    let search = runCLI(["search", rooted("configs/k22-22b.yaml"), "--emit-config", path])
    #expect(search.code == 64 && search.stdout.isEmpty)
    #expect(search.stderr == "error: cannot write '\(path)': No such file or directory\n")
    let compare = runCLI(["compare", rooted("configs/k22-22b.yaml"), "--chart", path])
    #expect(compare.code == 64 && compare.stdout.isEmpty)
    #expect(!FileManager.default.fileExists(atPath: path))
  }

  @Test("--emit-config with --megatron-args is refused before the search, nothing on stdout")
  func emitWithMegatronArgs() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let script = dir.appendingPathComponent("run.sh")
    try """
    torchrun pretrain_gpt.py --num-layers 24 --hidden-size 2048 --num-attention-heads 16 \\
      --seq-length 2048 --micro-batch-size 2 --global-batch-size 64 \\
      --tensor-model-parallel-size 2 --pipeline-model-parallel-size 2 --vocab-size 51200
    """.write(to: script, atomically: true, encoding: .utf8)
    let out = dir.appendingPathComponent("best.yaml").path
    let r = runCLI(["search", script.path, "--megatron-args", "--gpus", "8", "--emit-config", out])
    #expect(r.code == 64)
    #expect(r.stdout.isEmpty)
    #expect(
      r.stderr.hasPrefix(
        "error: --emit-config writes NeMo or Megatron-Bridge YAML and needs a YAML FILE without --hf-config\n"
      ))
    #expect(!FileManager.default.fileExists(atPath: out))
  }

  @Test("an existing file is overwritten in place: same inode, new content")
  func overwriteInPlace() throws {
    let dir = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("chart.svg").path
    try String(repeating: "x", count: 100_000).write(
      toFile: path, atomically: false, encoding: .utf8)
    let before = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
    try OutputFile.write("short", to: path)
    let after = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
    #expect(before == after)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "short")
  }
}

/// Bytes collected by a reader thread.
final class Collected: @unchecked Sendable {
  private let lock = NSCondition()
  private var data: [UInt8] = []
  private var done = false
  var bytes: [UInt8] { lock.withLock { data } }
  func append(_ chunk: ArraySlice<UInt8>) { lock.withLock { data += chunk } }
  func finish() {
    lock.withLock {
      done = true
      lock.broadcast()
    }
  }
  func wait() {
    lock.lock()
    while !done { lock.wait() }
    lock.unlock()
  }
}
