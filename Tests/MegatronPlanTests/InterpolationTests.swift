import Testing
@testable import MegatronPlan

/// OmegaConf interpolation, expected values worked out by hand from each document.
@Suite struct InterpolationTests {
  static let doc = """
    run:
      name: gpt3_5b
      results_dir: ${base_results_dir}/${.name}
    model:
      hidden_size: 4096
      num_layers: 24
      ffn_hidden_size: ${multiply:4, ${.hidden_size}}
      kv: ${divide_floor:${.hidden_size}, 3}
      kv_ceil: ${divide_ceil:${.hidden_size}, 3}
      offload: ${sum:${.num_layers},-1}
      nested: ${multiply:${divide_ceil:${.num_layers}, 5}, ${sum:1, 1}}
      half: ${multiply:0.5, ${.hidden_size}}
      copy: ${model.hidden_size}
      mounted: ${training.model.num_layers}
      parent: ${..run.name}
      text: "layers=${.num_layers}"
      escaped: \\${not_a_reference}
      loop_a: ${.loop_b}
      loop_b: ${.loop_a}
      optim:
        name: fused_adam
        lr: 2e-4
        mirror: ${..hidden_size}
      whole: ${.optim}
      missing: ???
    """

  func value(_ path: String) throws -> ConfigScalar? {
    try ConfigDocument.parse(Self.doc, file: "i.yaml").value(at: path)?.scalar
  }

  @Test("absolute, relative (. and ..), mounted root, and text around references")
  func references() throws {
    #expect(try value("model.copy") == .int(4096))
    // ${training.…}: the launcher mounts the file under training.
    #expect(try value("model.mounted") == .int(24))
    #expect(try value("model.parent") == .string("gpt3_5b"))
    #expect(try value("model.optim.mirror") == .int(4096))
    #expect(try value("model.text") == .string("layers=24"))
    #expect(try value("model.escaped") == .string("${not_a_reference}"))
    #expect(try value("model.optim.lr") == .double(2e-4))
  }

  @Test("resolvers, nested: multiply, divide_floor, divide_ceil, sum")
  func resolvers() throws {
    #expect(try value("model.ffn_hidden_size") == .int(16384))  // 4 × 4096
    #expect(try value("model.kv") == .int(1365))  // ⌊4096 / 3⌋
    #expect(try value("model.kv_ceil") == .int(1366))  // ⌈4096 / 3⌉
    #expect(try value("model.offload") == .int(23))  // 24 − 1
    #expect(try value("model.nested") == .int(10))  // ⌈24 / 5⌉ × (1 + 1) = 5 × 2
    #expect(try value("model.half") == .double(2048))
  }

  @Test("a cycle is an error naming it")
  func cycle() throws {
    #expect {
      try value("model.loop_a")
    } throws: { error in
      (error as? ConfigError)?.message
        == "interpolation cycle: model.loop_a → model.loop_b → model.loop_a"
    }
  }

  @Test("an unresolvable reference is an error only when its value is needed")
  func unresolvable() throws {
    let document = try ConfigDocument.parse(Self.doc, file: "i.yaml")
    #expect(try document.value(at: "run.name")?.scalar == .string("gpt3_5b"))  // not needed: fine
    #expect {
      try document.value(at: "run.results_dir")
    } throws: { error in
      guard let e = error as? ConfigError else { return false }
      return e.message
        == "cannot resolve '${base_results_dir}' in 'run.results_dir': 'base_results_dir' is not defined in this file"
        && e.location?.line == 3 && e.location?.column == 16
    }
  }

  /// k_i = k_(i-1) + k_(i-1): resolving each reference afresh would take 2^60 steps; each key
  /// is resolved once. Strings that double at each step stop at the length cap.
  @Test("a reference fan-out resolves in linear time; doubling strings are capped")
  func fanOut() throws {
    var lines = ["k0: 1"]
    for i in 1...60 { lines.append("k\(i): ${sum:${k\(i - 1)}, ${k\(i - 1)}}") }
    let d = try ConfigDocument.parse(lines.joined(separator: "\n"), file: "fan.yaml")
    #expect(try d.value(at: "k60")?.scalar == .int(1 << 60))
    var strings = ["s0: ab"]
    for i in 1...60 { strings.append("s\(i): ${s\(i - 1)}${s\(i - 1)}") }
    let doubling = try ConfigDocument.parse(strings.joined(separator: "\n"), file: "s.yaml")
    #expect(throws: ConfigError.self) { _ = try doubling.value(at: "s60") }
  }

  @Test("an error in a referenced value is located there and says which value needed it")
  func neededBy() throws {
    let d = try ConfigDocument.parse("a: ${missing}\nb: ${multiply:2, ${a}}\n", file: "n.yaml")
    #expect {
      try d.value(at: "b")
    } throws: { error in
      guard let e = error as? ConfigError else { return false }
      return e.key == "a" && e.location?.line == 1 && e.note == "needed by 'b'"
    }
  }

  @Test("a whole mapping can be referenced; ??? reads as mandatory")
  func mappingsAndMandatory() throws {
    let v = try ConfigDocument.parse(Self.doc, file: "i.yaml").value(at: "model.whole")
    #expect(v?.scalar == nil)
    #expect(v?.node.entry("name") != nil)
    #expect(try value("model.missing") == .mandatory)
  }

  @Test(
    "--set overrides: an existing key, a new one, typed as YAML; a mapping cannot become a value")
  func overrides() throws {
    var document = try ConfigDocument.parse(Self.doc, file: "i.yaml")
    let at = SourceLocation(file: "--set", line: 1, column: 1)
    try document.override("model.num_layers", with: "48", location: at)
    try document.override("megaplan.gpu", with: "a100-40gb", location: at)
    try document.override("model.flag", with: "true", location: at)
    #expect(try document.value(at: "model.num_layers")?.scalar == .int(48))
    #expect(try document.value(at: "model.num_layers")?.overridden == true)
    // References see the override.
    #expect(try document.value(at: "model.offload")?.scalar == .int(47))
    #expect(try document.value(at: "megaplan.gpu")?.scalar == .string("a100-40gb"))
    #expect(try document.value(at: "model.flag")?.scalar == .bool(true))
    #expect(throws: ConfigError.self) {
      try document.override("model.optim", with: "adam", location: at)
    }
    #expect(throws: ConfigError.self) {
      try document.override("model.hidden_size.x", with: "1", location: at)
    }
  }
}

@Suite struct YAMLReaderTests {
  @Test("scalars are typed as PyYAML/OmegaConf type them")
  func typing() throws {
    let text = """
      a: 1e-5
      b: 6.0e-5
      c: .0333
      d: -1
      e: 4294967296
      f: True
      g: false
      h: null
      i: ~
      j: '1'
      k: "x\\ty"
      l: 900,50,50
      m: 0-01:00:00
      n: megatron_gpt--{val_loss:.2f}-{step}
      o: [nvtx,cuda]
      p: []
      q: 'it''s'
      r: 300e9
      s:   trailing   # comment
      t: a#b
      u:
      v: 0x1F
      w: 010
      x: 0b101
      y: 1:30
      z: 09
      aa: -.5
      """
    let d = try ConfigDocument.parse(text, file: "t.yaml")
    func v(_ k: String) throws -> ConfigScalar? { try d.value(at: k)?.scalar }
    #expect(try v("a") == .double(1e-5))
    #expect(try v("b") == .double(6.0e-5))
    #expect(try v("c") == .double(0.0333))
    #expect(try v("d") == .int(-1))
    #expect(try v("e") == .int(4_294_967_296))
    #expect(try v("f") == .bool(true))
    #expect(try v("g") == .bool(false))
    #expect(try v("h") == .null)
    #expect(try v("i") == .null)
    #expect(try v("j") == .string("1"))
    #expect(try v("k") == .string("x\ty"))
    #expect(try v("l") == .string("900,50,50"))
    #expect(try v("m") == .string("0-01:00:00"))
    #expect(try v("n") == .string("megatron_gpt--{val_loss:.2f}-{step}"))
    if case .sequence(let items) = try d.value(at: "o")?.node.kind {
      #expect(items.count == 2)
    } else {
      Issue.record("o is not a list")
    }
    if case .sequence(let items) = try d.value(at: "p")?.node.kind {
      #expect(items.isEmpty)
    } else {
      Issue.record("p is not a list")
    }
    #expect(try v("q") == .string("it's"))
    #expect(try v("r") == .double(300e9))
    #expect(try v("s") == .string("trailing"))
    #expect(try v("t") == .string("a#b"))
    #expect(try v("u") == .null)
    // YAML 1.1 integers as PyYAML reads them; `09` is no integer there, and OmegaConf's float
    // rule leaves a signed `.5` as text.
    #expect(try v("v") == .int(31))
    #expect(try v("w") == .int(8))
    #expect(try v("x") == .int(5))
    #expect(try v("y") == .int(90))
    #expect(try v("z") == .string("09"))
    #expect(try v("aa") == .string("-.5"))
  }

  @Test("block lists, also with the dash at the parent key's indent, and Hydra defaults")
  func lists() throws {
    let text = """
      defaults:
      - _self_
      - optional tp_overlap@model.ub_tp_comm_overlap_cfg: ub_cfg_h100_h12288_tp4_mbs1_seqlen2048
      hydra:
        searchpath:
          - file:///opt/NeMo/examples/nlp/language_modeling/conf
      model:
        data_prefix:
          - 0.5
          - /data/a
        x: 1
      """
    let d = try ConfigDocument.parse(text, file: "l.yaml")
    guard case .sequence(let defaults) = d.root.entry("defaults")?.value.kind else {
      Issue.record("defaults"); return
    }
    #expect(defaults.count == 2)
    #expect(defaults[1].entry("optional tp_overlap@model.ub_tp_comm_overlap_cfg") != nil)
    #expect(
      try d.value(at: "hydra.searchpath.0")?.scalar
        == .string("file:///opt/NeMo/examples/nlp/language_modeling/conf"))
    #expect(try d.value(at: "model.data_prefix.1")?.scalar == .string("/data/a"))
    #expect(try d.value(at: "model.x")?.scalar == .int(1))
    #expect(d.keys(under: "") == ["defaults", "hydra", "model"])
  }

  @Test("CRLF line ends and a UTF-8 BOM read like plain LF")
  func lineEnds() throws {
    let d = try ConfigDocument.parse("\u{FEFF}a: 1\r\nb:\r\n  c: x\r\n", file: "crlf.yaml")
    #expect(try d.value(at: "a")?.scalar == .int(1))
    #expect(try d.value(at: "b.c")?.scalar == .string("x"))
    #expect(try d.value(at: "b.c")?.location.line == 3)
  }

  @Test("absurd nesting and line length are errors, not crashes")
  func limits() {
    let deep = (0..<200).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(
      separator: "\n")
    #expect(throws: ConfigError.self) { try YAMLReader.parse(deep, file: "deep.yaml") }
    let long = "a: " + String(repeating: "x", count: 200_000)
    #expect(throws: ConfigError.self) { try YAMLReader.parse(long, file: "long.yaml") }
  }
}
