// libFuzzer entry for the command line, in process: the input's first byte picks a command and
// its options, the rest is the config, given as standard input (FILE `-`). Every run must end
// with exit 0, 1 or 64, never a trap; an error (64) leaves stdout empty (check's github format
// excepted, by design); a stdout that cannot be written is exit 64 with one message. Built by
// Scripts/fuzz-cli.sh with the library and the MegaplanCLI sources.
import Foundation
import MegatronPlan

#if canImport(Glibc)
  import Glibc
#endif

let fuzzCommands: [[String]] = [
  ["estimate", "-"],
  ["estimate", "-", "--format", "json"],
  ["compare", "-"],
  ["compare", "-", "--format", "csv", "--chart", "/dev/null"],
  ["compare", "-", "--chart", "/dev/full"],
  ["compare", "-", "--chart", "/"],
  ["check", "-"],
  ["check", "-", "--format", "json", "--max-memory-fraction", "0.5"],
  ["check", "-", "--format", "github", "--min-mfu", "45"],
  ["config", "-", "--format", "json"],
  ["config", "-", "--gpu", "h100"],
  ["search", "-", "--gpus", "8", "--top", "1"],
  ["search", "-", "--gpus", "16", "--emit-config", "/dev/null", "--format", "json"],
  ["search", "-", "--gpus", "8", "--emit-config", "/dev/full"],
  ["estimate", "-", "--megatron-args", "--gpus", "8"],
  ["estimate", "-", "--set", "model.num_layers=${model.hidden_size}"],
  ["serve", "-", "--batch", "1,64", "--format", "json"],
  ["serve", "-", "--precision", "int4", "--max-latency-ms", "100", "--input", "4096"],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard size > 0 else { return 0 }
  let bytes = UnsafeBufferPointer(start: data, count: size)
  let choice = Int(bytes[0])
  let args = fuzzCommands[choice % fuzzCommands.count]
  let input = Data(bytes.dropFirst())
  // Half the runs write stdout to a sink that fails, as /dev/full does.
  let failing = choice >= 128
  let io = CLIOutput(
    stdout: failing ? OutputSink { _ in throw SystemError(code: ENOSPC) } : nil, stderr: nil,
    stdin: { input })
  let code = CLI.run(args, io: io)
  guard [0, 1, 64].contains(code) else { fatalError("exit \(code) for \(args)") }
  let github = args.contains("github")
  if code == 64 && !failing && !github && !io.stdout.isEmpty {
    fatalError("exit 64 with output on stdout for \(args)")
  }
  if failing && !io.stdout.isEmpty && code != 64 {
    fatalError("a failed stdout write did not exit 64 for \(args)")
  }
  return 0
}
