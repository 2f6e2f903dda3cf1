import Foundation
import MegatronPlan

/// Reading training logs from disk or standard input for `explain-run`, `calibrate` and
/// `check --against`. File system access lives here, not in the library.
enum LogInput {
  /// The largest log megaplan reads (a long run's log: a million lines of a few hundred bytes).
  static let maximumBytes = 1 << 30

  /// The log at `path` (`-`: standard input), parsed.
  static func read(_ path: String, io: CLIOutput) throws -> TrainingLog {
    let data: Data
    let name: String
    if path == ConfigInput.standardInputArgument {
      name = ConfigInput.standardInputName
      do {
        data = try io.standardInput()
      } catch {
        throw ConfigError("cannot read \(name): \(error)")
      }
    } else {
      name = path
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw ConfigError("cannot read the log '\(path)': no such file")
      }
      if isDirectory.boolValue {
        throw ConfigError("cannot read the log '\(path)': it is a directory, not a log file")
      }
      guard let handle = FileHandle(forReadingAtPath: path) else {
        throw ConfigError("cannot read the log '\(path)': permission denied or not a regular file")
      }
      defer { try? handle.close() }
      data = (try? handle.read(upToCount: maximumBytes + 1)) ?? Data()
    }
    if data.count > maximumBytes {
      throw ConfigError(
        "cannot read the log \(name): larger than \(maximumBytes >> 20) MiB; keep the lines megaplan reads (grep -E 'iteration|memory|time across ranks|:::MLLOG|train_step_timing')"
      )
    }
    // Invalid UTF-8 (a binary progress bar's bytes) is replaced, never guessed at: a number
    // with a replaced byte in it is not a number and is refused where it is.
    let text = String(decoding: data, as: UTF8.self)
    return try TrainingLog.parse(text, file: name)
  }
}
