/// What a Megatron-LM timer (`--timing-log-level 1|2`) measures, in megaplan's iteration terms
/// (`IterationTime.Term`). Where the timers nest, as Megatron-Core runs them (megatron/training/
/// training.py `train_step`, megatron/core/distributed/finalize_model_grads.py,
/// megatron/core/optimizer/distrib_optimizer.py, d98e8a64 and core_r0.8.0):
/// - `forward-backward` times the whole pipeline schedule, and the schedule ends with
///   `finalize_model_grads`, so it holds the gradients' exposed reduction (`all-grads-sync`,
///   `embedding-grads-all-reduce`) and, with `overlap_param_gather`, the forward's waits for the
///   parameter gathers;
/// - `optimizer` times `optimizer.step()`, which without `overlap_param_gather` ends with the
///   distributed optimizer's parameter all-gather (`params-all-gather`);
/// - `forward-compute` and `backward-compute` sum the microbatches' forward and backward on the
///   rank that prints (the last stage's); the send/receive timers hold the pipeline's messages and
///   its waits, the bubble among them.
public enum MeasuredTerm: String, Sendable, Hashable, Codable, CaseIterable, BreakdownKey {
  case forwardBackward = "forward_backward"
  case forwardCompute = "forward_compute"
  case backwardCompute = "backward_compute"
  case pipelineWait = "pipeline_wait"
  case dataParallelComm = "data_parallel_comm"
  case optimizer
  /// `batch-generator`: reading the next microbatch. megaplan does not model data loading.
  case dataLoading = "data_loading"

  /// The term a timer measures; nil for timers nested inside another compared one (the
  /// optimizer's parts, `layernorm-grads-all-reduce`) and startup timers.
  public static func named(_ timer: String) -> MeasuredTerm? {
    switch timer {
    case "forward-backward": .forwardBackward
    case "forward-compute": .forwardCompute
    case "backward-compute": .backwardCompute
    case "forward-recv", "forward-send", "backward-recv", "backward-send",
      "forward-send-forward-recv", "forward-send-backward-recv", "backward-send-forward-recv",
      "backward-send-backward-recv", "forward-backward-send-forward-backward-recv":
      .pipelineWait
    // Megatron-Core's names, and Megatron-LM's before 2023 (`backward-params-all-reduce`,
    // `backward-embedding-all-reduce`, `grads-all-reduce`, `grads-reduce-scatter`).
    case "all-grads-sync", "grads-all-reduce", "grads-reduce-scatter", "params-all-gather",
      "backward-params-all-reduce", "embedding-grads-all-reduce", "backward-embedding-all-reduce":
      .dataParallelComm
    case "optimizer": .optimizer
    case "batch-generator": .dataLoading
    default: nil
    }
  }

  /// The predicted seconds of this term in `evaluation` (its `IterationTime`), split where the
  /// timers split it.
  public func predicted(_ evaluation: Evaluation) -> Double {
    let it = evaluation.iteration
    // The parameter gathers' exposed part lands in forward-backward with
    // overlap_param_gather (the forward waits), else in the optimizer step.
    let gatherInForward = evaluation.run.overlap.parameterGather
    let gather = it.dataParallel.gatherExposed.value
    switch self {
    case .forwardBackward:
      return it.total.value - it.optimizer.value - (gatherInForward ? 0 : gather)
    case .forwardCompute: return it.forward.value
    case .backwardCompute: return (it.backward + it.recompute).value
    case .pipelineWait: return (it.bubble + it.pipelineComm).value
    case .dataParallelComm: return it.dataParallelComm.value
    case .optimizer: return it.optimizer.value + (gatherInForward ? 0 : gather)
    case .dataLoading: return 0
    }
  }
}
