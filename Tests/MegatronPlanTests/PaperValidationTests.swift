import Testing
@testable import MegatronPlan

/// Expected values come from the papers' formulas evaluated independently here (integer
/// arithmetic, not megaplan's code), or from their published tables.
@Suite struct PaperValidationTests {
  /// K22 Table 2, all six rows, bytes exact (2-byte elements, 1-byte dropout masks).
  @Test("K22 Table 2 per-layer activations, bytes exact", arguments: PaperRun.all)
  func table2(run: PaperRun) {
    let s = run.s, b = run.micro, h = run.hidden, a = run.heads, t = run.t
    let sbh = s * b * h
    let as2b = a * s * s * b
    let m = run.model
    func bytes(tensor: Int, sp: Bool, _ r: Recompute) -> Double {
      var layout = run.layout(sp: sp, recompute: r)
      layout.tensor = tensor
      return ActivationMemory.perLayer(m, layout).value
    }
    // no parallelism: sbh(34 + 5as/h)
    #expect(bytes(tensor: 1, sp: false, .none) == Double(34 * sbh + 5 * as2b))
    // tensor parallel: sbh(10 + 24/t + 5as/(ht))
    #expect(bytes(tensor: t, sp: false, .none) == Double(10 * sbh + 24 * sbh / t + 5 * as2b / t))
    // tensor + sequence parallel: sbh(34/t + 5as/(ht))
    #expect(bytes(tensor: t, sp: true, .none) == Double(34 * sbh / t + 5 * as2b / t))
    // tensor parallel + selective: sbh(10 + 24/t)
    #expect(bytes(tensor: t, sp: false, .selective) == Double(10 * sbh + 24 * sbh / t))
    // tensor + sequence parallel + selective: 34sbh/t
    #expect(bytes(tensor: t, sp: true, .selective) == Double(34 * sbh / t))
    // full recompute: 2sbh (2sbh/t when the checkpoint is sequence-sharded)
    #expect(bytes(tensor: t, sp: false, .full(method: .uniform, layers: 1)) == Double(2 * sbh))
    #expect(bytes(tensor: t, sp: true, .full(method: .uniform, layers: 1)) == Double(2 * sbh / t))
  }

  /// First-stage activations: K22 Eq. 5 (TP + SP) and Eq. 6 (TP + SP + selective) times the
  /// interleave factor (1 + (p − 1)/(p·v)) (K22 §4.2.3), plus K22 §4.3's extra terms: the
  /// embedding dropout mask sbh/t per microbatch in flight (p, scaled by the interleave factor as
  /// Megatron's `compute_activation_memory` does, MLM §3.2) and, when p = 1, (4sbh/t)(1 + V/h)
  /// for the final LayerNorm, output-layer input and fp32 logits.
  @Test("K22 Eq. 5/6 first-stage activations × interleave factor + extras", arguments: PaperRun.all)
  func firstStage(run: PaperRun) {
    let s = Double(run.s), b = Double(run.micro), h = Double(run.hidden), a = Double(run.heads)
    let t = Double(run.t), p = Double(run.p), v = Double(run.v), L = Double(run.layers),
      V = Double(run.vocab)
    // The factor applies to the interleaved schedule only (v > 1); 1F1B holds exactly L layers' worth.
    let factor = run.v > 1 ? 1 + (p - 1) / (p * v) : 1
    var extra = s * b * h * p / t * factor
    if run.p == 1 { extra += 4 * s * b * h / t * (1 + V / h) }
    let eq5 = s * b * h * L / t * (34 + 5 * a * s / h)
    let eq6 = 34 * s * b * h * L / t
    let none = ActivationMemory.stage(run.model, run.layout(sp: true, recompute: .none), stage: 0)
      .total.value
    let selective = ActivationMemory.stage(
      run.model, run.layout(sp: true, recompute: .selective), stage: 0
    ).total.value
    // Tolerance: one part in 10^12 for floating-point summation order.
    #expect(abs(none - (eq5 * factor + extra)) <= 1e-12 * none)
    #expect(abs(selective - (eq6 * factor + extra)) <= 1e-12 * selective)
  }

  /// Reference §3.6 (derived from K22 Eq. 6 × factor): 22B 9.56, 175B 12.35, 530B 23.08,
  /// 1T 26.56 GiB without the extra terms; the extras add well under 1 GiB.
  @Test(
    "K22 Eq. 6 × factor matches the reference's worked GiB figures",
    arguments: zip(PaperRun.all, [9.56, 12.35, 23.08, 26.56]))
  func workedGiB(run: PaperRun, gib: Double) {
    let layers = ActivationMemory.stage(
      run.model, run.layout(sp: true, recompute: .selective), stage: 0)[named: "layers"]
    #expect(abs(layers.gibibytes - gib) < 0.006)
  }

  /// N21 Table 1's parameter column (billions), reproduced to 0.1 B (V = 51,200, s = 2048).
  @Test(
    "N21 Table 1 parameter counts",
    arguments: [
      (1.7, 24, 2304, 24), (3.6, 32, 3072, 30), (7.5, 32, 4096, 36), (18.4, 48, 6144, 40),
      (39.1, 64, 8192, 48),
      (76.1, 80, 10240, 60), (145.6, 96, 12288, 80), (310.1, 128, 16384, 96),
      (529.6, 128, 20480, 105),
      (1008.0, 160, 25600, 128),
    ])
  func n21Parameters(billions: Double, heads: Int, hidden: Int, layers: Int) {
    let m = TransformerModel(
      layers: layers, hidden: hidden, heads: heads, sequenceLength: 2048, vocabulary: 51_200)
    let count = ParameterCount.total(m).total.value / 1e9
    #expect(abs(count - billions) <= 0.05 + 1e-9, "\(count) B vs published \(billions) B")
  }

  /// K22 Table 5: megaplan's FLOP counts with the published iteration times give the published
  /// MFU (model FLOPs, Eq. 7) and HFU (Eq. 8, selective recompute) within 0.3 points, at
  /// 312 TFLOP/s per A100.
  @Test("K22 Table 5 MFU and HFU from published iteration times", arguments: PaperRun.all)
  func table5Utilization(run: PaperRun) {
    let layout = run.layout(sp: true, recompute: .selective)
    let use = Utilization(
      modelFLOPs: FLOPCount.model(run.model, globalBatch: run.batch),
      hardwareFLOPs: FLOPCount.hardware(run.model, layout),
      seconds: Seconds(run.presentWorkSeconds), gpus: run.gpus, peak: .teraFLOPs(312))
    #expect(abs(use.mfu - run.mfu) <= 0.003, "MFU \(use.mfu)")
    #expect(abs(use.hfu - run.hfu) <= 0.003, "HFU \(use.hfu)")
  }

  /// K22 §6.3: 530B on 2,240 GPUs (d = 8, batch 2,240) at 39.15 s has MFU 54.2 %.
  @Test("K22 §6.3 data-parallel MFU") func dataParallelMFU() {
    let run = PaperRun.all[2]
    let use = Utilization(
      modelFLOPs: FLOPCount.model(run.model, globalBatch: 2240),
      hardwareFLOPs: FLOPCount.model(run.model, globalBatch: 2240),
      seconds: Seconds(39.15), gpus: 2240, peak: .teraFLOPs(312))
    #expect(abs(use.mfu - 0.542) <= 0.003)
  }

  /// FLOP formulas in closed form: K22 Eq. 7 and 8 and N21 Eq. 3, evaluated here directly.
  @Test("FLOPs per iteration: K22 Eq. 7, Eq. 8 and N21 Eq. 3", arguments: PaperRun.all)
  func flopFormulas(run: PaperRun) {
    let B = Double(run.batch), L = Double(run.layers), s = Double(run.s), h = Double(run.hidden),
      V = Double(run.vocab)
    let eq7 = 72 * B * L * s * h * h * (1 + s / (6 * h) + V / (12 * h * L))
    let eq8 = 72 * B * L * s * h * h * (1 + s / (3 * h) + V / (12 * h * L))
    let eq3 = 96 * B * s * L * h * h * (1 + s / (6 * h) + V / (16 * L * h))
    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-12 * b }
    #expect(close(FLOPCount.model(run.model, globalBatch: run.batch).value, eq7))
    #expect(
      close(FLOPCount.hardware(run.model, run.layout(sp: true, recompute: .selective)).value, eq8))
    #expect(
      close(
        FLOPCount.hardware(
          run.model, run.layout(sp: false, recompute: .full(method: .uniform, layers: 1))
        ).value, eq3))
    #expect(close(FLOPCount.hardware(run.model, run.layout(sp: true, recompute: .none)).value, eq7))
  }

  /// K22 §5: selective recompute costs 2.7 % more FLOPs for GPT-3 and 1.6 % for MT-NLG
  /// (Eq. 8 / Eq. 7 − 1).
  @Test(
    "selective recompute FLOP overhead",
    arguments: zip([PaperRun.all[1], PaperRun.all[2]], [0.027, 0.016]))
  func selectiveOverhead(run: PaperRun, overhead: Double) {
    let layout = run.layout(sp: true, recompute: .selective)
    let ratio =
      FLOPCount.hardware(run.model, layout) / FLOPCount.model(run.model, globalBatch: run.batch) - 1
    #expect(abs(ratio - overhead) < 0.0005)
  }

  /// N21 §5.1 Eq. 4: training time ≈ 8TP/(nX): GPT-3 175B, 300B tokens, 1,024 GPUs at
  /// 140 TFLOP/s → 34 days (33.9 derived).
  @Test("N21 Eq. 4 training time") func trainingTime() {
    let days = 8 * 300e9 * 175e9 / (1024 * 140e12) / 86_400
    #expect(abs(days - 33.9) < 0.05)
  }
}
