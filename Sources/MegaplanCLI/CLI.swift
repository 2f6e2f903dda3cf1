import Foundation
import MegatronPlan

/// Where the CLI writes: real stdout/stderr in the executable, buffers in tests.
public final class CLIOutput: @unchecked Sendable {
  public private(set) var stdout = ""
  public private(set) var stderr = ""
  let streaming: Bool

  public init() { streaming = false }
  init(streaming: Bool) { self.streaming = streaming }

  public static var standard: CLIOutput { CLIOutput(streaming: true) }

  func out(_ text: String) {
    if streaming { FileHandle.standardOutput.write(Data(text.utf8)) } else { stdout += text }
  }
  func err(_ text: String) {
    if streaming { FileHandle.standardError.write(Data(text.utf8)) } else { stderr += text }
  }
}

/// The command-line interface, testable in-process: `CLI.run(arguments, io:)` returns the exit code.
public enum CLI {
  public static let version = "0.1.0"

  public static func run(_ arguments: [String], io: CLIOutput) -> Int32 {
    io.out("megaplan \(version)\n")
    return 0
  }
}
