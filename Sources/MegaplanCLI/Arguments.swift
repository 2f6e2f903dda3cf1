import MegatronPlan

/// A usage error: rendered as one line on stderr, exit 64.
struct UsageError: Error {
  var message: String
}

/// A hand-written argument parser: options are declared up front so unknown ones get a
/// "did you mean" suggestion and help/docs can list them all.
struct OptionSpec {
  var name: String  // "--format"
  var takesValue: Bool
  var repeatable: Bool = false
  var help: String
  var valueName: String = "VALUE"
}

struct ParsedArguments {
  /// FILE arguments (and, for a Megatron-Bridge FILE, override YAML files merged over it).
  var positional: [String] = []
  /// Hydra-style overrides after FILE (`key=value`, `+key=value`, `~key`), in order.
  var overrides: [String] = []
  var values: [String: [String]] = [:]
  var flags: Set<String> = []

  func value(_ name: String) -> String? { values[name]?.last }
  func all(_ name: String) -> [String] { values[name] ?? [] }
  func has(_ name: String) -> Bool { flags.contains(name) || values[name] != nil }

  static func parse(_ args: [String], options: [OptionSpec], command: String) throws
    -> ParsedArguments
  {
    var out = ParsedArguments()
    var i = 0
    var onlyPositional = false
    while i < args.count {
      let arg = args[i]
      i += 1
      if onlyPositional || !arg.hasPrefix("-") || arg == "-" {
        if ConfigOverride.isOverride(arg) {
          out.overrides.append(arg)
        } else {
          out.positional.append(arg)
        }
        continue
      }
      if arg == "--" {
        onlyPositional = true
        continue
      }
      var name = arg
      var inline: String? = nil
      if let eq = arg.firstIndex(of: "="), arg.hasPrefix("--") {
        name = String(arg[..<eq])
        inline = String(arg[arg.index(after: eq)...])
      }
      guard let spec = options.first(where: { $0.name == name }) else {
        throw UsageError(
          message:
            "unknown option '\(name)' for '\(command)'\(Suggestion.didYouMean(name, in: options.map(\.name)))"
        )
      }
      if spec.takesValue {
        let value: String
        if let inline {
          value = inline
        } else {
          guard i < args.count else {
            throw UsageError(message: "option '\(name)' needs a value (\(spec.valueName))")
          }
          value = args[i]
          i += 1
        }
        if !spec.repeatable, out.values[name] != nil {
          throw UsageError(message: "option '\(name)' is given more than once")
        }
        out.values[name, default: []].append(value)
      } else {
        if inline != nil { throw UsageError(message: "option '\(name)' takes no value") }
        out.flags.insert(name)
      }
    }
    return out
  }

  /// A positive integer option value.
  func positiveInt(_ name: String, max: Int = ConfigLoader.maximumSize) throws -> Int? {
    guard let text = value(name) else { return nil }
    guard let n = Int(text), n > 0, n <= max else {
      throw UsageError(
        message: "option '\(name)' expects a positive integer up to \(max), found '\(text)'")
    }
    return n
  }

  /// A finite non-negative number option value.
  func number(_ name: String) throws -> Double? {
    guard let text = value(name) else { return nil }
    guard let x = Double(text), x.isFinite, x >= 0 else {
      throw UsageError(message: "option '\(name)' expects a non-negative number, found '\(text)'")
    }
    return x
  }

  /// One of a fixed set of words.
  func choice(_ name: String, in allowed: [String], default fallback: String) throws -> String {
    guard let text = value(name) else { return fallback }
    guard allowed.contains(text) else {
      throw UsageError(
        message:
          "option '\(name)' expects one of \(allowed.joined(separator: ", ")), found '\(text)'\(Suggestion.didYouMean(text, in: allowed))"
      )
    }
    return text
  }
}
