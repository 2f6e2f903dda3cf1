import Foundation
import Testing

@testable import MegatronPlan

/// Continuous batching, the capacity search and expert parallelism across GPUs (issue 25),
/// against the laws they are built from: Little's law for the steady batch, the closed loop's
/// rate, the monotone latency–rate trade, hand counts of wide-EP weights.
@Suite struct ContinuousBatchingTests {
  static let serving = ServeStepTests.serving(.vllm)
  static let layout = ServingModel.Layout(tensor: 1, pipeline: 1)
  static let mix = RequestMix(input: 1024, output: 256)

  // Little's law (Little 1961): sequences decoding = arrival rate × time each spends decoding,
  // (output − 1) steps of τ; prompt tokens per step = rate × input × τ; and τ is the mean step
  // of that batch, P/1024 of the steps carrying a prompt (the fixed point).
  @Test("the steady state obeys Little's law and is the step's fixed point")
  func littlesLaw() throws {
    let p = try #require(Self.serving.load(Self.layout, Self.mix, rate: 8))
    #expect(abs(p.decodeBatch - 8 * 255 * p.tpot) <= 1e-9 * p.decodeBatch)
    #expect(abs(p.prefillTokensPerStep - 8 * 1024 * p.tpot) <= 1e-9 * p.prefillTokensPerStep)
    // A share s = P/1024 of the steps carry a whole prompt (one chunk), the rest decode only.
    let share = p.prefillTokensPerStep / 1024
    #expect(share < 1)
    func step(_ prefill: Double) -> Double {
      Self.serving.step(
        Self.layout,
        StepWork(
          decodeSequences: p.decodeBatch, decodeContext: 1024 + 128, cacheLength: 1280,
          prefillTokens: prefill, promptLength: 1024)
      ).total
    }
    let mean = (1 - share) * step(0) + share * step(1024)
    #expect(abs(mean - p.tpot) <= 1e-8 * p.tpot)
    #expect(abs(p.tokensPerSecond - 8 * 256) < 1e-9)
  }

  // As the rate falls to nothing the batch empties: TPOT tends to a lone decode step and TTFT
  // to half a step plus the prompt's own prefill step.
  @Test("at a trickle TPOT is a lone decode step and TTFT half a step plus the prefill")
  func trickle() throws {
    let p = try #require(Self.serving.load(Self.layout, Self.mix, rate: 1e-6))
    let lone = Self.serving.step(
      Self.layout, StepWork(decodeSequences: 0, decodeContext: 1152, cacheLength: 1280)
    ).total
    let prefill = Self.serving.step(
      Self.layout,
      StepWork(decodeSequences: 0, decodeContext: 1152, prefillTokens: 1024, promptLength: 1024)
    ).total
    #expect(abs(p.tpot - lone) <= 1e-4 * lone)
    #expect(abs(p.ttft - (lone / 2 + prefill)) <= 1e-4 * p.ttft)
  }

  @Test("TTFT and TPOT rise with the rate; beyond saturation there is no steady state")
  func monotone() throws {
    let top = Self.serving.saturationRate(Self.layout, Self.mix)
    #expect(top > 0)
    var last: LoadPoint? = nil
    for fraction in [0.2, 0.4, 0.6, 0.8, 0.95] {
      let p = try #require(Self.serving.load(Self.layout, Self.mix, rate: top * fraction))
      if let last { #expect(p.tpot > last.tpot && p.ttft > last.ttft) }
      last = p
    }
    let beyond = Self.serving.load(Self.layout, Self.mix, rate: top * 1.05)
    #expect(beyond == nil || beyond?.fits == false)
  }

  // One client at a time: the rate is one request per response time, TTFT + (output − 1)·τ,
  // and its decode steps carry no other client's prefill.
  @Test("a closed loop of one client sends one request per response time")
  func closedLoop() throws {
    let p = try #require(Self.serving.load(Self.layout, Self.mix, concurrency: 1))
    #expect(abs(p.rate - 1 / (p.ttft + 255 * p.tpot)) <= 1e-6 * p.rate)
    #expect(p.prefillTokensPerStep == 0)
  }

  // The capacity answer: replicas = ⌈rate / rate per replica⌉, GPUs = replicas × t·p, the
  // cheapest first; one replica at the rate found meets the target, and 3 % more does not.
  @Test("capacity: replicas cover the rate, the cheapest meets the target at its share")
  func capacity() throws {
    let slo = ServiceLevel(ttftSeconds: 0.3, tpotSeconds: 0.02)
    let answer = try ServingCapacity.plan(
      model: ServeStepTests.llama3_8B, gpu: .h100SXM, base: .init(), mix: Self.mix, rate: 30,
      slo: slo, engines: [.vllm, .trtllm], precisions: [.bf16, .fp8])
    let best = try #require(answer.cheapest)
    #expect(best.replicas == Int((30 / best.ratePerReplica).rounded(.up)))
    #expect(best.gpus == best.replicas * best.layout.gpus)
    #expect(answer.candidates.filter { $0.replicas > 0 }.allSatisfy { $0.gpus >= best.gpus })
    let point = try #require(best.point)
    #expect(slo.met(by: point))
    var settings = ServingModel.Settings(engine: best.engine)
    settings.precision = best.precision
    let s = ServingModel(model: ServeStepTests.llama3_8B, gpu: .h100SXM, settings: settings)
    let over = s.load(best.layout, Self.mix, rate: best.ratePerReplica * 1.03)
    #expect(over.map { !slo.met(by: $0) } ?? true)
  }

  // Mixtral 8x7B with EP 8 over 8 attention replicas of one GPU: each GPU holds the attention
  // (QKV 25,165,824 + projection 16,777,216), router 32,768, norms 8,192 and one whole expert
  // (3 · 4,096 · 14,336 = 176,160,768) per layer: 218,144,768 × 32 = 6,980,632,576, plus
  // embedding, output layer (2 × 131,072,000) and final norm 4,096: 7,242,780,672 weights,
  // 14,485,561,344 bytes.
  @Test("wide expert parallelism: 8 GPUs, one whole expert each, hand-counted weights")
  func wideEP() {
    let s = ServingModel(model: ServeMoETests.mixtral, gpu: .h100SXM)
    let layout = ServingModel.Layout(tensor: 1, pipeline: 1, expertParallel: 8)
    #expect(layout.attentionDataParallel == 8 && layout.gpus == 8 && layout.expertTensor == 1)
    #expect((try? s.validate(layout)) != nil)
    let w = ServingModel.Workload(input: 1024, output: 256, batch: 64)
    #expect(s.memory(layout, w).weights == 14_485_561_344)
    // Each attention replica holds its 8 sequences' cache: 2 · 8 · 128 · 1,280 · 8 · 2 · 32.
    #expect(s.memory(layout, w).kvCache == 2 * 8 * 128 * 1280 * 8 * 2 * 32)
    let step = s.decodeStep(layout, w)
    #expect(step.expertParallel > 0 && step.tensorParallel == 0)
    #expect(s.decodeStep(.init(tensor: 8, pipeline: 1, expertParallel: 8), w).expertParallel == 0)
  }
}
