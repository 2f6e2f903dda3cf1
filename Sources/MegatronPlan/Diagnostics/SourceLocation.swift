/// A place in a config file: 1-based line and column, and how many columns the offending
/// token spans (for the caret line under it).
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
  public var file: String
  public var line: Int
  public var column: Int
  /// Width of the token in columns (at least 1) so a renderer can underline it.
  public var length: Int
  /// The text of the whole source line, kept so a diagnostic can show it without rereading
  /// the file.
  public var lineText: String

  public init(file: String, line: Int, column: Int, length: Int = 1, lineText: String = "") {
    self.file = file
    self.line = line
    self.column = column
    self.length = max(1, length)
    self.lineText = lineText
  }

  public var description: String { "\(file):\(line):\(column)" }
}
