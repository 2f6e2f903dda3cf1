/// A problem with the user's input: a config file, a `--set` override or a command-line value.
///
/// The library throws these; the CLI renders them (one line, plus the source line with a caret
/// when there is a location) and exits with 64. Messages are lower case with no trailing period,
/// and name the value, the key and the rule: `tensor_model_parallel_size 3 does not divide
/// num_attention_heads 32`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Where the problem is, when it comes from a file (or a `--set` argument).
  public var location: SourceLocation?
  /// The dotted key the problem concerns (`model.hidden_size`), when there is one.
  public var key: String?
  /// The one-line message.
  public var message: String
  /// An optional hint, rendered as a `note:` line.
  public var note: String?

  public init(
    _ message: String, key: String? = nil, at location: SourceLocation? = nil, note: String? = nil
  ) {
    self.message = message
    self.key = key
    self.location = location
    self.note = note
  }

  public var description: String {
    if let location { return "\(location): error: \(message)" }
    return "error: \(message)"
  }

  /// Compiler-style rendering:
  /// ```
  /// configs/gpt3.yaml:7:21: error: expected an integer for 'micro_batch_size', found 'four'
  ///     7 |   micro_batch_size: four
  ///       |                     ^^^^
  /// ```
  public func rendered() -> String {
    var lines = [description]
    if let location, !location.lineText.isEmpty {
      let number = String(location.line)
      let gutter = String(repeating: " ", count: number.count)
      let shown = Self.printable(location.lineText)
      lines.append(" \(number) | \(shown)")
      let pad = String(repeating: " ", count: max(0, location.column - 1))
      let width = max(1, min(location.length, max(1, shown.count - location.column + 1)))
      lines.append(" \(gutter) | \(pad)\(String(repeating: "^", count: width))")
    }
    if let note { lines.append("note: \(note)") }
    return lines.joined(separator: "\n")
  }

  /// Source lines are shown as they are, except control characters (tabs among them), which are
  /// shown as a space so the caret stays under the right column; very long lines are cut.
  static func printable(_ text: String) -> String {
    let limit = 200
    var out = ""
    for scalar in text.unicodeScalars.prefix(limit) {
      if scalar.value < 0x20 || scalar.value == 0x7F {
        out.append(" ")
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
    if text.unicodeScalars.count > limit { out += " …" }
    return out
  }
}
