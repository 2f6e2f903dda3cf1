import Foundation

/// Requests as a continuously batching engine sees them: prompts of `input` tokens, each
/// generating `output` tokens (the means of the mix).
public struct RequestMix: Sendable, Hashable, Codable {
  public var input: Int
  public var output: Int
  public init(input: Int, output: Int) {
    self.input = input
    self.output = output
  }
}

/// A replica in steady state under a load: the decode batch it settles at, its step time, time
/// to first token and time per output token, and its throughput.
public struct LoadPoint: Sendable, Hashable, Codable {
  /// Requests per second arriving at the replica.
  public var rate: Double
  /// Clients each keeping one request in flight (closed loop); nil for Poisson arrivals.
  public var concurrency: Int?
  /// Sequences decoding in a step (Little's law: rate × (output − 1) × step).
  public var decodeBatch: Double
  /// Prompt tokens a step prefills (rate × input × step).
  public var prefillTokensPerStep: Double
  /// Time per output token: the mean step a decoding sequence sees.
  public var tpot: Double
  /// Time to first token: the wait for a step, the queue for the prefill budget, and the steps
  /// the prompt takes.
  public var ttft: Double
  /// Output tokens per second of the replica (rate × output).
  public var tokensPerSecond: Double
  /// GPUs of the replica.
  public var gpus: Int
  /// The KV cache holds the steady batch at its mean length (input + output/2).
  public var fits: Bool
  public var tokensPerSecondPerGPU: Double { tokensPerSecond / Double(max(1, gpus)) }
  /// Mean end-to-end latency of a request.
  public var endToEnd: Double { ttft + Double(max(0, outputTokens - 1)) * tpot }
  var outputTokens: Int
}

/// A latency target (`megaplan serve --slo ttft=…,tpot=…`): mean time to first token and mean
/// time per output token.
public struct ServiceLevel: Sendable, Hashable, Codable {
  public var ttftSeconds: Double?
  public var tpotSeconds: Double?
  public init(ttftSeconds: Double? = nil, tpotSeconds: Double? = nil) {
    self.ttftSeconds = ttftSeconds
    self.tpotSeconds = tpotSeconds
  }
  public func met(by p: LoadPoint) -> Bool {
    if let t = ttftSeconds, p.ttft > t { return false }
    if let t = tpotSeconds, p.tpot > t { return false }
    return p.fits
  }
}

extension ServingModel {
  /// The KV cache's room, in sequences of the mix at their mean length (input + output/2,
  /// half the output generated on average), on `layout`.
  public func sequenceCapacity(_ layout: Layout, _ mix: RequestMix) -> Int {
    largestBatch(
      layout, Workload(input: mix.input, output: max(1, mix.output / 2), batch: 1), limit: 1 << 16)
  }

  /// The steady state of continuous batching (iteration-level scheduling with chunked prefill,
  /// as vLLM, TensorRT-LLM's in-flight batching and SGLang run it) at `rate` requests per
  /// second of `mix`, or nil when the replica cannot keep up.
  ///
  /// Each step decodes B sequences and prefills P prompt tokens in one pass (`step`). A request
  /// decodes for output − 1 steps after its prefill emits the first token, so by Little's law
  /// (Little 1961) B = λ·(output − 1)·τ, and prompts arrive at P = λ·input·τ tokens per step;
  /// the step time τ = step(B, P) is the fixed point, found by iterating from an empty step
  /// (step time grows with B and P, so the iteration rises to it). The replica keeps up while
  /// the fixed point exists, P fits the token budget left by the decodes (`maxBatchedTokens` −
  /// B), and the KV cache holds B sequences (`sequenceCapacity`).
  ///
  /// A step carries P/s prompt tokens on a share s of the steps (the arrivals per step, in
  /// chunks) and none on the rest, so τ is the mean of the two kinds of step.
  ///
  /// TPOT = τ. TTFT = τ/2 (a request waits on average half a step to join), plus the steps its
  /// prompt takes, n = ⌈input / (budget − B)⌉, each a step carrying its chunk, plus the queue
  /// for prefill: the engine prefills at most μ = R / step(B, R) prompt tokens per second (R
  /// the budget left by the decodes, or the prompt when smaller), prompts demand λ·input of
  /// them, and a deterministic server busy ρ = λ·input/μ of the time makes a Poisson arrival
  /// wait ρ/(2(1 − ρ)) of one service, input/μ, on average (Pollaczek–Khinchine for M/D/1;
  /// Kleinrock 1975, Queueing Systems I, Eq. 5.72).
  public func load(_ layout: Layout, _ mix: RequestMix, rate: Double) -> LoadPoint? {
    steady(layout, mix, rate: rate, concurrency: nil)
  }

  /// The steady state with `clients` each sending a new request as soon as the last one
  /// completes (a closed loop, as AIPerf's and GenAI-Perf's concurrency mode and
  /// `vllm bench serve --max-concurrency` drive an engine): the rate is c / (TTFT + (output −
  /// 1)·τ), solved together with the step. A decoding request's steps carry the other c − 1
  /// clients' prefills, not its own.
  public func load(_ layout: Layout, _ mix: RequestMix, concurrency clients: Int) -> LoadPoint? {
    steady(layout, mix, rate: nil, concurrency: max(1, clients))
  }

  func steady(_ layout: Layout, _ mix: RequestMix, rate fixedRate: Double?, concurrency: Int?)
    -> LoadPoint?
  {
    let I = Double(max(1, mix.input)), O = Double(max(1, mix.output))
    let budget = Double(settings.maxBatchedTokens ?? Int.max)
    let capacity = Double(sequenceCapacity(layout, mix))
    let context = I + O / 2
    func work(_ b: Double, _ p: Double) -> StepWork {
      StepWork(
        decodeSequences: b, decodeContext: context, cacheLength: I + O, prefillTokens: p,
        promptLength: I)
    }
    // The time to first token given the step τ, the decode batch and the others' prefill.
    func firstToken(_ tau: Double, _ b: Double, _ p: Double) -> Double? {
      let room = budget - b
      guard room >= 1 else { return nil }
      let chunk = min(I, room)
      let steps = (I / room).rounded(.up)
      let service = steps * step(layout, work(b, chunk)).total
      // The prefill server: `room` prompt tokens per full step; a prompt needs I/μ of it.
      let full = step(layout, work(b, min(room, Swift.max(I, p)))).total
      let mu = min(room, Swift.max(I, p)) / full
      let rho = p / tau / mu
      guard rho < 1 else { return nil }
      return tau / 2 + service + rho / (2 * (1 - rho)) * (I / mu)
    }
    // The mean step: P prompt tokens per step on average arrive as whole prompts, so when
    // fewer than one prompt's chunks fall on a step, a share s = min(1, P/input · chunks) of
    // the steps carry chunks of P/s tokens and the rest decode only (and replay their graph).
    func meanStep(_ b: Double, _ p: Double) -> Double {
      guard p > 0 else { return step(layout, work(b, 0)).total }
      let chunks = (I / Swift.max(1, budget - b)).rounded(.up)
      let share = min(1, p / I * chunks)
      let carrying = step(layout, work(b, p / share)).total
      guard share < 1 else { return carrying }
      return (1 - share) * step(layout, work(b, 0)).total + share * carrying
    }
    var tau = step(layout, work(0, 0)).total
    var rate = fixedRate ?? 0
    var ttft = 0.0
    var converged = false
    for _ in 0..<500 {
      if let clients = concurrency {
        // Closed loop: the rate follows from the response time.
        guard let first = firstToken(tau, 0, 0) else { return nil }
        let response = (ttft > 0 ? ttft : first) + (O - 1) * tau
        rate = Double(clients) / response
      }
      let b = rate * (O - 1) * tau
      var p = rate * I * tau
      if let clients = concurrency { p *= Double(clients - 1) / Double(clients) }
      guard b + p <= budget, tau.isFinite, tau < 1e4 else { return nil }
      let next = meanStep(b, p)
      guard let first = firstToken(next, b, p) else { return nil }
      ttft = first
      if abs(next - tau) <= 1e-9 * next {
        tau = next
        converged = true
        break
      }
      tau = next
    }
    guard converged else { return nil }
    let b = rate * (O - 1) * tau
    var p = rate * I * tau
    if let clients = concurrency { p *= Double(clients - 1) / Double(clients) }
    return LoadPoint(
      rate: rate, concurrency: concurrency, decodeBatch: b, prefillTokensPerStep: p, tpot: tau,
      ttft: ttft, tokensPerSecond: rate * O, gpus: layout.gpus, fits: b <= capacity,
      outputTokens: mix.output)
  }

  /// The highest request rate the replica sustains with the mix (the KV cache holding the
  /// steady batch), by bisection on `load`; 0 when not even a trickle fits.
  public func saturationRate(_ layout: Layout, _ mix: RequestMix) -> Double {
    highestRate(layout, mix) { $0.fits }
  }

  /// The highest request rate at which `accept` holds (TTFT and TPOT rise with the rate), by
  /// bisection to 0.1 %.
  func highestRate(_ layout: Layout, _ mix: RequestMix, accept: (LoadPoint) -> Bool) -> Double {
    let single = step(
      layout,
      StepWork(
        decodeSequences: 1, decodeContext: Double(mix.input), prefillTokens: Double(mix.input),
        promptLength: Double(mix.input))
    ).total
    var low = 0.0
    var high = max(1e-3, 1 / max(1e-9, single))
    func ok(_ r: Double) -> Bool { load(layout, mix, rate: r).map(accept) ?? false }
    guard ok(high * 1e-4) else { return 0 }
    while ok(high) && high < 1e7 { (low, high) = (high, high * 2) }
    while (high - low) > 1e-3 * high {
      let mid = (low + high) / 2
      if ok(mid) { low = mid } else { high = mid }
    }
    return low
  }

  /// The throughput–latency curve: the steady state at `points` rates spread evenly up to 98 %
  /// of the saturation rate (at the saturation itself the prefill queue grows without bound).
  public func curve(_ layout: Layout, _ mix: RequestMix, points: Int = 10) -> [LoadPoint] {
    let top = saturationRate(layout, mix)
    guard top > 0 else { return [] }
    return (1...max(1, points)).compactMap { i in
      load(layout, mix, rate: top * Double(i) / Double(max(1, points)) * 0.98)
    }
  }

  /// The highest rate per replica that meets `slo` (and fits the KV cache); 0 when none does.
  public func sloRate(_ layout: Layout, _ mix: RequestMix, _ slo: ServiceLevel) -> Double {
    highestRate(layout, mix) { slo.met(by: $0) }
  }
}
