import Foundation
import Testing

@testable import MegatronPlan

/// Issue 9 items found open when the issue was checked bullet by bullet: a null required key is
/// pointed at on its own line, every unmodeled setting of a file is named in one error, the search
/// keeps the file's expert parallelism and full sharding, and Megatron-LM's batch schedule and
/// pipeline-overlap default are read.
@Suite struct AuditIssue9Tests {
  @Test("a required key written as null is pointed at on its line, not at its section")
  func nullRequiredKey() throws {
    let text = OneAnswerTests.gpt175B(t: 8, p: 8, nodes: 8, devices: 8)
      .replacingOccurrences(of: "num_layers: 96", with: "num_layers: null")
    let error = try #require(throws: ConfigError.self) { try OneAnswerTests.load(text) }
    // Counted by hand in the generated file: `trainer:` is line 1, `num_layers` line 5.
    #expect(error.location?.line == 5, "\(error.rendered())")
    #expect(error.location?.lineText == "  num_layers: null")
    #expect(
      error.message == "'model.num_layers' is null and megaplan needs a positive integer for it")
    // Absent, it is still "missing", at the enclosing section.
    let absent = text.replacingOccurrences(of: "  num_layers: null\n", with: "")
    let missing = try #require(throws: ConfigError.self) { try OneAnswerTests.load(absent) }
    #expect(missing.message == "missing required key 'model.num_layers'")
  }

  @Test("every unmodeled setting of a file is named in one error")
  func allUnmodeledAtOnce() throws {
    let extra = """
        cpu_offloading: true
        data_parallel_sharding_strategy: optim_grads
      """
    let error = try #require(throws: ConfigError.self) {
      try OneAnswerTests.load(
        OneAnswerTests.gpt175B(t: 8, p: 8, nodes: 8, devices: 8, extra: extra))
    }
    #expect(error.key == "model.cpu_offloading")
    #expect(error.message.hasPrefix("model.cpu_offloading: true is not modeled yet"))
    let note = try #require(error.note)
    #expect(note.hasPrefix("also not modeled in this file: "))
    #expect(note.contains("data_parallel_sharding_strategy 'optim_grads' is not modeled yet"))
    // NeMo's FSDP with a strategy other than full, alone.
    let hybrid = try #require(throws: ConfigError.self) {
      try OneAnswerTests.load(
        OneAnswerTests.gpt175B(
          t: 8, p: 8, nodes: 8, devices: 8,
          extra: "  fsdp: true\n  fsdp_sharding_strategy: hybrid"))
    }
    #expect(hybrid.key == "model.fsdp_sharding_strategy")
    #expect(hybrid.note == nil)
  }

  // MARK: - Search keeps what the file chose beyond the layout

  /// A small MoE model on 16 GPUs whose file sets EP 4: 8 experts, top-2.
  static let moe = """
    trainer:
      num_nodes: 2
      devices: 8
    model:
      num_layers: 4
      hidden_size: 1024
      num_attention_heads: 16
      encoder_seq_length: 1024
      micro_batch_size: 1
      global_batch_size: 64
      tensor_model_parallel_size: 1
      num_moe_experts: 8
      moe_router_topk: 2
      expert_model_parallel_size: 4
      optim:
        name: distributed_fused_adam
    megaplan:
      vocab_size: 32768
      gpu: h100-sxm
    """

  @Test(
    "search with --expert-parallel file keeps the file's EP: every candidate's t·d is a multiple of EP·ETP"
  )
  func searchKeepsExpertParallel() throws {
    let base = try OneAnswerTests.load(Self.moe).run
    #expect(base.layout.expertParallel == 4)
    var options = LayoutSearch.Options(top: 50)
    options.constraints.expertParallel = .asBase
    options.constraints.expertTensorParallel = .asBase
    let result = try LayoutSearch.search(base, options: options)
    #expect(!result.candidates.isEmpty)
    for c in result.candidates {
      let l = c.run.layout
      #expect(l.expertParallel == 4, "\(l)")
      // Megatron-Core's expert groups fold the tensor and data ranks: t·d = ETP·EP·EDP.
      #expect((l.tensor * l.data) % (l.expertTensorParallel * l.expertParallel) == 0, "\(l)")
    }
  }

  @Test("search candidates keep the file's full sharding (--fully-sharded file)")
  func searchKeepsFullSharding() throws {
    let text = OneAnswerTests.gpt175B(
      t: 8, p: 8, nodes: 8, devices: 8,
      extra: "  data_parallel_sharding_strategy: optim_grads_params")
    let base = try OneAnswerTests.load(text).run
    #expect(base.layout.fullySharded)
    let result = try LayoutSearch.search(base, options: .init(top: 10))
    #expect(!result.candidates.isEmpty)
    for c in result.candidates { #expect(c.run.layout.fullySharded || c.run.layout.data == 1) }
  }

  @Test("a --set value YAML would misread is quoted so it reads back as given")
  func quotedValue() {
    #expect(yamlScalar("4") == "4")
    #expect(yamlScalar("${.hidden_size}") == "${.hidden_size}")
    #expect(yamlScalar("'quoted'") == "'quoted'")
    #expect(yamlScalar("a: b") == "'a: b'")
    #expect(yamlScalar("x #y") == "'x #y'")
    #expect(yamlScalar("[1") == "'[1'")
    #expect(yamlScalar("it's: x") == "'it''s: x'")
    #expect(yamlScalar("") == "''")
  }

  @Test("with tp_comm_overlap the search keeps SP on for t > 1 and emitted files load to the row")
  func tensorParallelOverlap() throws {
    let text = OneAnswerTests.gpt175B(
      t: 8, p: 8, nodes: 8, devices: 8,
      extra:
        "  sequence_parallel: true\n  ub_tp_comm_overlap: true\n  activations_checkpoint_granularity: selective"
    )
    let base = try OneAnswerTests.load(text).run
    #expect(base.overlap.tensorParallel)
    let result = try LayoutSearch.search(base, options: .init(top: 20))
    #expect(!result.candidates.isEmpty)
    for c in result.candidates {
      // Megatron-Core asserts sequence parallelism under the userbuffer overlap.
      #expect(c.layout.tensor == 1 || c.layout.effectiveSequenceParallel, "\(c.layout)")
      let emitted = LayoutSearch.emitConfig(text, winner: c.run, base: base)
      let again = try ConfigLoader.load(try ConfigDocument.parse(emitted, file: "t.yaml")).run
      #expect(LayoutSearch.emitMismatches(again, winner: c.run).isEmpty, "\(c.layout)")
    }
  }

  // MARK: - Megatron-LM flags

  static func script(_ flags: String) -> String {
    "torchrun --nproc_per_node 8 --nnodes 1 pretrain_gpt.py --num-layers 8 --hidden-size 1024 --num-attention-heads 16 --seq-length 1024 --micro-batch-size 1 --global-batch-size 64 --vocab-size 32768 --tensor-model-parallel-size 1 --pipeline-model-parallel-size 2 \(flags)\n"
  }

  static func loadScript(_ flags: String) throws -> LoadedConfig {
    let root = try MegatronArguments.parse(script(flags), file: "a.sh")
    return try ConfigLoader.load(ConfigDocument(root: root, file: "a.sh"))
  }

  @Test("--step-batch-size-schedule is a batch ramp-up: warned about, not ignored")
  func stepBatchSchedule() throws {
    let loaded = try Self.loadScript("--step-batch-size-schedule \"0:16 2.4B:320\"")
    #expect(loaded.warnings.contains { $0.message.contains("rampup_batch_size") })
    #expect(try Self.loadScript("").warnings.isEmpty)
  }

  @Test(
    "overlap_p2p_comm follows Megatron-LM: on when interleaving unless --no-overlap-p2p-communication",
    arguments: [
      ("", false),
      ("--num-layers-per-virtual-pipeline-stage 2", true),
      ("--num-layers-per-virtual-pipeline-stage 2 --no-overlap-p2p-communication", false),
      ("--overlap-p2p-communication", true),
    ])
  func pipelineOverlapDefault(_ c: (String, Bool)) throws {
    #expect(try Self.loadScript(c.0).run.overlap.pipelineP2P == c.1)
  }
}
