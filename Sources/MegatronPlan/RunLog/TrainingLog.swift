/// A training log as megaplan reads it: the optimizer steps it timed, the memory it reported,
/// the timer blocks of `--timing-log-level`, and what it says about the run (global batch,
/// sequence length, nodes) so that a log can be checked against the config it is compared with.
/// The grammar of each format is in `TrainingLog+Parse.swift`; which steps are warm-up and the
/// median are in `SteadyState.swift`. Times are seconds per optimizer step, memory bytes.
public struct TrainingLog: Sendable {
  /// The formats megaplan reads.
  public enum Format: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Megatron-LM / Megatron-Core `training_log` iteration lines (Megatron-DeepSpeed's and
    /// Megatron-LLM's alike), the memory report and the timer blocks.
    case megatronLM = "megatron-lm"
    /// Megatron-Bridge: the iteration line Megatron-LM prints, `Step Time : …s`, and the
    /// memory report in GB.
    case megatronBridge = "megatron-bridge"
    /// NeMo: PyTorch Lightning's progress bar (NeMo 1.x, `train_step_timing in s=…`) or NeMo 2's
    /// progress printer (`Training epoch 0, iteration 8/29 | … train_step_timing in s: 27.01`).
    case nemo
    /// MLPerf Training's `:::MLLOG` lines (`tracked_stats` with `train_step_timing`).
    case mlperf

    public var description: String {
      switch self {
      case .megatronLM: "Megatron-LM iteration lines"
      case .megatronBridge: "Megatron-Bridge step lines"
      case .nemo: "NeMo train_step_timing"
      case .mlperf: "MLPerf :::MLLOG"
      }
    }
  }

  /// A value the log states, and where.
  public struct Located<Value: Sendable & Hashable>: Sendable, Hashable {
    public var value: Value
    public var location: SourceLocation
  }

  /// One timed window: `count` optimizer steps ending at step `last`, each taking `seconds` on
  /// average (Megatron-LM averages over `--log-interval` steps; NeMo and MLPerf time each step).
  public struct Step: Sendable, Hashable {
    /// The window's first and last step, 1-based within the run (`first...last`).
    public var first: Int
    public var last: Int
    public var seconds: Double
    /// The process this window belongs to: a log that starts over (a restart from a checkpoint,
    /// a second log file) begins a new segment, whose first steps are warm-up again.
    public var segment: Int
    /// An evaluation or checkpoint save ran just before this window (old Megatron forks count
    /// its time in the window; `SteadyState` leaves such windows out).
    public var followsEvaluation: Bool = false
    /// Steps of the window whose update was skipped (fp16 loss scaling): timed in full all the
    /// same.
    public var skipped: Int = 0
    /// Megatron-LM's `throughput per GPU (TFLOP/s/GPU)` (`--log-throughput`): its own count of
    /// the model's FLOPs per iteration over the time and the GPUs.
    public var teraFLOPsPerGPU: Double? = nil
    public var location: SourceLocation
    public var count: Int { last - first + 1 }
  }

  /// One memory report of one rank: PyTorch's allocator counters
  /// (`torch.cuda.memory_allocated`, `max_memory_allocated`, `memory_reserved`,
  /// `max_memory_reserved`), in bytes.
  public struct MemoryReport: Sendable, Hashable {
    /// The global rank that printed it; nil when the line does not say (Megatron-LM before
    /// 2021, NeMo without a launcher label), which is rank 0.
    public var rank: Int?
    public var maxAllocated: Double
    public var maxReserved: Double?
    public var location: SourceLocation
  }

  /// One timer of a `--timing-log-level` block: milliseconds per iteration (Megatron divides by
  /// the log interval), the smallest and largest over the ranks that ran it.
  public struct TimerEntry: Sendable, Hashable {
    public var name: String
    public var minMilliseconds: Double?
    public var maxMilliseconds: Double
    public var location: SourceLocation
  }

  /// A block of timers, printed after the iteration line of the window it times.
  public struct TimerBlock: Sendable, Hashable {
    public var entries: [TimerEntry]
    /// The index in `steps` of the window it follows; nil when no window preceded it (startup).
    public var step: Int?
  }

  public var file: String
  /// The formats found, in the order met.
  public var formats: [Format] = []
  /// The format the steps were timed in; nil when the log times none (a memory report alone).
  public var stepFormat: Format?
  public var steps: [Step] = []
  public var memory: [MemoryReport] = []
  public var timerBlocks: [TimerBlock] = []
  /// The global batch the log trained (Megatron's `global batch size:`, NeMo's
  /// `global_batch_size:`, MLPerf's `global_batch_size`), the first time it is stated.
  public var globalBatch: Located<Int>?
  /// MLPerf's `max_sequence_length`.
  public var sequenceLength: Located<Int>?
  /// MLPerf's `submission_platform` ("64xNVIDIA DGX H100"): the nodes.
  public var nodes: Located<Int>?
  /// What was left unread, one message each (a last line without a line end).
  public var notes: [ConfigWarning] = []
  /// The step each segment's process started at, where the format numbers steps from the
  /// run's start (NeMo's `global_step`, MLPerf's tokens consumed): step 1 for the first segment,
  /// whatever step an excerpt of the log begins at. Megatron-LM segments start at their first
  /// window (a resumed run logs from its checkpoint's iteration on). Absent: the segment's first
  /// step (`SteadyState.windows`).
  public var segmentOrigins: [Int: Int] = [:]

  public init(file: String) { self.file = file }
}
