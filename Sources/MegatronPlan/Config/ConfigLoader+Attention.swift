/// Reading the attention and activation variants GPT-OSS brings (Megatron-Core
/// `TransformerConfig` fields, NeMo keys of the same names): the sliding window (`window_size`,
/// `window_attn_skip_freq`), the attention sinks (`softmax_type`) and the gated unit's offset
/// and clamp (`glu_linear_offset`, `activation_func_clamp_value`).
extension ConfigLoader {
  /// What these keys set on the model.
  struct AttentionVariants {
    var window: AttentionWindow?
    var softmax: AttentionSoftmax
    var gluLinearOffset: Double
    var activationClamp: Double?
  }

  static func readAttentionVariants(
    _ r: inout KeyReader, layers: Int, activation: Activation, multiLatent: Bool,
    encoderDecoder: Bool
  ) throws -> AttentionVariants {
    let window = try readAttentionWindow(&r, layers: layers)
    if window != nil && (multiLatent || encoderDecoder) {
      throw r.error(
        "window_size with \(multiLatent ? "multi-latent attention" : "an encoder-decoder model") is not modeled; megaplan models sliding windows in decoder-only grouped-query attention",
        key: "model.window_size")
    }
    let softmaxKey = "model.softmax_type"
    var softmax = AttentionSoftmax.vanilla
    if let name = try r.optionalString(softmaxKey, record: true) {
      let names = AttentionSoftmax.allCases.map(\.rawValue)
      guard let type = AttentionSoftmax(rawValue: name.lowercased()) else {
        throw r.error(
          "softmax_type '\(name)' is not one of \(names.joined(separator: ", "))\(Suggestion.didYouMean(name.lowercased(), in: names))",
          key: softmaxKey)
      }
      if type != .vanilla && multiLatent {
        throw r.error(
          "softmax_type \(type.rawValue) with multi-latent attention is not modeled",
          key: softmaxKey)
      }
      softmax = type
    } else {
      r.defaulted(softmaxKey, "vanilla")
    }
    let offsetKey = "model.glu_linear_offset"
    var offset = 0.0
    if let (value, node) = try r.number(offsetKey) {
      guard value.isFinite, abs(value) < 1e30 else {
        throw r.error(
          "glu_linear_offset must be a finite number, found \(KeyReader.shown(node.scalar))",
          key: offsetKey)
      }
      r.record(offsetKey, node, KeyReader.shown(node.scalar))
      offset = value
    }
    let clampKey = "model.activation_func_clamp_value"
    var clamp: Double? = nil
    if let (value, node) = try r.number(clampKey) {
      // Megatron-Core's TransformerConfig: "activation_func_clamp_value for SwiGLU must be
      // finite and greater than zero".
      guard value.isFinite, value > 0, value < 1e30 else {
        throw r.error(
          "activation_func_clamp_value must be a positive finite number (the clamp c of gate ≤ c, −c ≤ up ≤ c), found \(KeyReader.shown(node.scalar))",
          key: clampKey)
      }
      r.record(clampKey, node, KeyReader.shown(node.scalar))
      clamp = value
    }
    if (offset != 0 || clamp != nil) && !activation.gated {
      throw r.error(
        "\(offset != 0 ? "glu_linear_offset" : "activation_func_clamp_value") acts on a gated linear unit; activation \(activation.rawValue) is not gated",
        key: offset != 0 ? offsetKey : clampKey)
    }
    return AttentionVariants(
      window: window, softmax: softmax, gluLinearOffset: offset, activationClamp: clamp)
  }

  /// `window_size`: Megatron-Core's (left, right) tuple — a list `[127, 0]`, or Megatron-LM's
  /// `--window-size` text `127,0` / `(127,0)` — with right 0 (causal) and left −1 (no window)
  /// or at least 0: W = left + 1 keys per query. `window_attn_skip_freq`: an integer N ≥ 1
  /// (every N-th layer full), a list of one 0 or 1 per layer (1 windowed), or Megatron's list
  /// expression (`[1,1,1,0]*3`, `([1]*3+[0])*3`). nil without a window.
  static func readAttentionWindow(_ r: inout KeyReader, layers: Int) throws -> AttentionWindow? {
    let key = "model.window_size"
    let freqKey = "model.window_attn_skip_freq"
    // Without a window, Megatron-Core ignores `window_attn_skip_freq` (`is_layer_window_attention`
    // returns false for every layer), and so does megaplan.
    guard r.has(key) else { return nil }
    var pair: [Int]
    if let node = r.document.node(at: r.document.parts(key)), case .sequence = node.kind {
      pair = try r.optionalIntList(key) ?? []
    } else if case .string(let text)? = try r.lookup(key)?.scalar {
      let words = text.filter { !"()[] '\"".contains($0) }.split(separator: ",")
      let numbers = words.compactMap { Int($0) }
      guard numbers.count == words.count else {
        throw r.error(
          "window_size '\(text)' is not a pair of integers such as [127, 0] (Megatron's (left, right) window)",
          key: key)
      }
      pair = numbers
      if let value = try r.lookup(key) { r.record(key, value, text) }
    } else {
      let shown = KeyReader.shown(try r.lookup(key)?.scalar)
      throw r.error(
        "window_size \(shown) is not a pair of integers such as [127, 0] (Megatron's (left, right) window: a query attends keys i − left … i + right)",
        key: key)
    }
    guard pair.count == 2 else {
      throw r.error(
        "window_size has \(pair.count) value\(pair.count == 1 ? "" : "s"); Megatron-Core's window is a pair (left, right) such as [127, 0]",
        key: key)
    }
    let (left, right) = (pair[0], pair[1])
    // Transformer Engine `check_set_window_size` for causal masks: (−1, 0) or (≥ 0, 0).
    guard right == 0 else {
      throw r.error(
        "window_size [\(left), \(right)]: a window of \(right) keys after the query is not modeled; causal decoders use right 0",
        key: key)
    }
    guard left >= -1 else {
      throw r.error(
        "window_size [\(left), \(right)]: the left size must be -1 (no window) or at least 0 (keys i − left … i)",
        key: key)
    }
    guard left >= 0 else { return nil }
    guard left < ConfigLoader.maximumSize else {
      throw r.error(
        "window_size \(left) exceeds the largest size megaplan accepts (\(ConfigLoader.maximumSize))",
        key: key)
    }
    let size = left + 1
    guard r.has(freqKey) else {
      r.defaulted(freqKey, "null (every layer windowed)")
      return AttentionWindow(size: size, layers: .all)
    }
    if case .int(let n) = try r.lookup(freqKey)?.scalar {
      guard n >= 1 else {
        throw r.error(
          "window_attn_skip_freq must be a positive integer (every N-th layer attends in full), found \(n)",
          key: freqKey)
      }
      _ = try r.optionalInt(freqKey, record: true)
      return AttentionWindow(size: size, layers: .allButEvery(n))
    }
    var flags: [Int]
    if let node = r.document.node(at: r.document.parts(freqKey)), case .sequence = node.kind {
      flags = try r.optionalIntList(freqKey) ?? []
    } else if case .string(let text)? = try r.lookup(freqKey)?.scalar {
      guard let parsed = PythonListExpression.evaluate(text) else {
        throw r.error(
          "window_attn_skip_freq '\(text)' is not an integer or a list expression such as [1,1,1,0]*3",
          key: freqKey)
      }
      flags = parsed
      if let value = try r.lookup(freqKey) { r.record(freqKey, value, text) }
    } else {
      let shown = KeyReader.shown(try r.lookup(freqKey)?.scalar)
      throw r.error(
        "window_attn_skip_freq \(shown) is not an integer or a list of 0 and 1", key: freqKey)
    }
    guard flags.count == layers, flags.allSatisfy({ $0 == 0 || $0 == 1 }) else {
      throw r.error(
        "window_attn_skip_freq lists \(flags.count) entries\(flags.allSatisfy({ $0 == 0 || $0 == 1 }) ? "" : " not all 0 or 1"); it needs one 0 (full) or 1 (windowed) per layer, num_layers is \(layers)",
        key: freqKey)
    }
    return AttentionWindow(size: size, layers: .pattern(flags.map { $0 == 1 }))
  }
}

/// Megatron-LM's layer patterns are Python list expressions evaluated by `eval`
/// (arguments.py `_eval_pattern`): lists of integers, `+` to concatenate, `*` to repeat,
/// parentheses. This evaluates exactly that grammar and nothing else; nil for anything else or
/// a list longer than `limit`.
enum PythonListExpression {
  static func evaluate(_ text: String, limit: Int = 1 << 16) -> [Int]? {
    var parser = Parser(chars: Array(text.filter { !" '\"\t".contains($0) }), limit: limit)
    guard let list = parser.expression(), parser.index == parser.chars.count else { return nil }
    return list
  }

  struct Parser {
    var chars: [Character]
    var limit: Int
    var index = 0
    var depth = 0

    // expression := term ('+' term)*
    mutating func expression() -> [Int]? {
      guard var out = term() else { return nil }
      while index < chars.count, chars[index] == "+" {
        index += 1
        guard let next = term(), out.count + next.count <= limit else { return nil }
        out += next
      }
      return out
    }

    // term := atom ('*' integer)*
    mutating func term() -> [Int]? {
      guard var out = atom() else { return nil }
      while index < chars.count, chars[index] == "*" {
        index += 1
        guard let n = integer(), n >= 0 else { return nil }
        // An empty list stays empty, however often repeated; a long one may not pass `limit`.
        guard !out.isEmpty else { continue }
        guard n <= limit / out.count else { return nil }
        out = Array(repeating: out, count: n).flatMap { $0 }
      }
      return out
    }

    // atom := '[' integers ']' | '(' expression ')'
    mutating func atom() -> [Int]? {
      guard index < chars.count, depth < 32 else { return nil }
      if chars[index] == "(" {
        index += 1
        depth += 1
        defer { depth -= 1 }
        guard let inner = expression(), index < chars.count, chars[index] == ")" else {
          return nil
        }
        index += 1
        return inner
      }
      guard chars[index] == "[" else { return nil }
      index += 1
      var out: [Int] = []
      if index < chars.count, chars[index] == "]" {
        index += 1
        return out
      }
      while true {
        guard let n = integer() else { return nil }
        out.append(n)
        guard index < chars.count else { return nil }
        if chars[index] == "]" {
          index += 1
          return out
        }
        guard chars[index] == "," else { return nil }
        index += 1
      }
    }

    mutating func integer() -> Int? {
      var digits = ""
      while index < chars.count, chars[index].isASCII, chars[index].isNumber, digits.count < 9 {
        digits.append(chars[index])
        index += 1
      }
      return Int(digits)
    }
  }
}
