import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A read or write that failed: the operating system's error number, rendered as its strerror
/// text.
public struct SystemError: Error, Equatable, CustomStringConvertible {
  public var code: Int32
  public init(code: Int32) { self.code = code }
  /// "No space left on device"
  public var description: String { String(cString: strerror(code)) }
}

/// Where one output stream goes: a function that writes all of its text or throws.
public struct OutputSink: Sendable {
  let write: @Sendable (String) throws -> Void

  public init(_ write: @escaping @Sendable (String) throws -> Void) { self.write = write }

  /// A file descriptor, written with checked POSIX writes (partial writes, EINTR and EAGAIN are
  /// retried; any other error, EPIPE included, is thrown as a `SystemError`).
  public static func fileDescriptor(_ fd: Int32) -> OutputSink {
    OutputSink { text in try POSIXIO.writeAll(fd, text) }
  }
}

/// Where the CLI writes and reads: real stdout/stderr/stdin in the executable, buffers or
/// injected sinks in tests.
///
/// A command's standard output is held until the command has finished, so a command that fails
/// part way prints nothing there (only its error, on stderr). Standard error is written at once.
public final class CLIOutput: @unchecked Sendable {
  /// What reached standard output (always kept, also when a sink is given).
  public private(set) var stdout = ""
  /// What was written to standard error.
  public private(set) var stderr = ""
  /// The current command's output, not yet written.
  var pending = ""
  /// Files the command writes (`--chart`, `--emit-config`), written only when it has succeeded
  /// (`CLI.run`, `OutputFile.Staged`).
  var pendingFiles: [(path: String, text: String)] = []
  let stdoutSink: OutputSink?
  let stderrSink: OutputSink?
  let readInput: @Sendable () throws -> Data
  var inputCache: Data?

  /// Captures both streams in `stdout` and `stderr`; `stdin` is what `-` reads.
  public convenience init(stdin: String = "") {
    self.init(stdout: nil, stderr: nil, stdin: { Data(stdin.utf8) })
  }

  /// Writes through the given sinks; `stdin` supplies what `-` reads.
  public init(
    stdout: OutputSink?, stderr: OutputSink?,
    stdin: @escaping @Sendable () throws -> Data = { Data() }
  ) {
    stdoutSink = stdout
    stderrSink = stderr
    readInput = stdin
  }

  /// The process's standard output, error and input (file descriptors 1, 2 and 0).
  public static var standard: CLIOutput {
    CLIOutput(
      stdout: .fileDescriptor(STDOUT_FILENO), stderr: .fileDescriptor(STDERR_FILENO),
      stdin: { try POSIXIO.readAll(STDIN_FILENO, limit: ConfigInput.maximumFileBytes + 1) })
  }

  /// A capturing output that reads the same standard input (to collect one part's messages).
  func capturing() -> CLIOutput {
    CLIOutput(stdout: nil, stderr: nil, stdin: { try self.standardInput() })
  }

  /// Appends to the command's standard output, written when the command has finished.
  func out(_ text: String) { pending += text }

  /// Writes to standard error now. A failure to write there cannot be reported anywhere, so it is
  /// ignored (the exit code still says how the command went).
  func err(_ text: String) {
    stderr += text
    try? stderrSink?.write(text)
  }

  /// Writes the held standard output.
  func flush() throws {
    let text = pending
    pending = ""
    guard !text.isEmpty else { return }
    stdout += text
    try stdoutSink?.write(text)
  }

  /// Holds `text` for `path`, written when the command has finished and its standard output has
  /// been written.
  func file(_ text: String, to path: String) { pendingFiles.append((path, text)) }

  /// Drops the held standard output and files (the command failed).
  func discard() {
    pending = ""
    pendingFiles = []
  }

  /// All of standard input, read once (a second `-` sees the same bytes).
  func standardInput() throws -> Data {
    if let inputCache { return inputCache }
    let text = try readInput()
    inputCache = text
    return text
  }
}

/// Checked POSIX reads and writes.
enum POSIXIO {
  /// Writes every byte of `text` to `fd`, retrying partial writes, EINTR and EAGAIN.
  static func writeAll(_ fd: Int32, _ text: String) throws {
    var text = text
    try text.withUTF8 { buffer in
      guard let base = buffer.baseAddress else { return }
      var offset = 0
      while offset < buffer.count {
        let n = systemWrite(fd, base + offset, buffer.count - offset)
        if n > 0 {
          offset += n
          continue
        }
        let code = n == 0 ? EIO : errno
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK {
          var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
          _ = poll(&poller, 1, -1)
          continue
        }
        throw SystemError(code: code)
      }
    }
  }

  /// Reads `fd` to its end, or to `limit` bytes (the caller checks the size).
  static func readAll(_ fd: Int32, limit: Int) throws -> Data {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while bytes.count < limit {
      let n = chunk.withUnsafeMutableBytes { raw -> Int in
        guard let base = raw.baseAddress else { return 0 }
        return systemRead(fd, base, min(raw.count, limit - bytes.count))
      }
      if n > 0 {
        bytes += chunk[0..<n]
        continue
      }
      if n == 0 { break }
      let code = errno
      if code == EINTR { continue }
      if code == EAGAIN || code == EWOULDBLOCK {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&poller, 1, -1)
        continue
      }
      throw SystemError(code: code)
    }
    return Data(bytes)
  }
}

// Free functions, so the calls inside `POSIXIO` cannot be taken for members of the same name.
private func systemWrite(_ fd: Int32, _ pointer: UnsafePointer<UInt8>, _ count: Int) -> Int {
  write(fd, pointer, count)
}

private func systemRead(_ fd: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int) -> Int {
  read(fd, pointer, count)
}
