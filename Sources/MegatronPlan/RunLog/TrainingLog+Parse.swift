import Foundation

/// The line grammar of each format megaplan reads, as their sources print it:
/// - Megatron-LM `training_log` (megatron/training/training.py, core_r0.8.0 and 2026 main):
///   ` [date] iteration {it:8d}/{total:8d} | consumed samples: … | elapsed time per iteration
///   (ms): {ms:.1f} | … | global batch size: {gbs:5d} | … | number of skipped iterations: {k:3d} |`,
///   every field closed by ` |`; Argonne's Megatron-DeepSpeed writes `iteration=  2/ 635782 |
///   … elapsed_time_per_iteration_ms=8457.2 |`. The memory report `[Rank N] (after K
///   iterations) memory (MB) | allocated: … | max allocated: … | reserved: … | max reserved: …`
///   (MiB; before 2021 without `[Rank N]`); Megatron-Bridge's `memory (GB) | … |
///   mem-max-allocated-gigabytes: … |` (10⁹ bytes). Timer blocks (`megatron/core/timers.py`):
///   `(min, max) time across ranks (ms):` or `max time across ranks (ms):`, then one
///   `    name ......: (min, max)` (or `: max`) line per timer, milliseconds per iteration; the
///   legacy one-line `time (ms) | forward-compute: 58.16 | …`.
/// - Megatron-Bridge (`train_utils.py`): `Step Time : {s:.2f}s GPU utilization: …`.
/// - NeMo: Lightning's progress bar `… global_step=9.000, … train_step_timing in s=5.210]`
///   (NeMo 1.x) and NeMo 2's `Training epoch 0, iteration 8/29 | … global_step: 8 | …
///   max_memory_allocated: 53930270720 | … train_step_timing in s: 27.01 | …` (seconds, bytes).
/// - MLPerf Training (`mlperf_logging`): `:::MLLOG {json}`, `tracked_stats` with
///   `train_step_timing` (seconds per step) and `metadata.step` (tokens consumed for GPT-3).
/// Launcher prefixes (`0: ` from `srun --label`, `[default0]:` from torchrun, a logger's
/// `[NeMo I …]`) come before any of them; fields are found where they are, never by position.
/// A line whose number is not closed as its format closes it (two ranks' lines run together, a
/// line cut off) is an error naming the file, line and column: megaplan never reads a number it
/// cannot prove whole. A last line without a line end is left out with a note (a log still being
/// written).
extension TrainingLog {
  /// Reads `text`, the contents of the log `file`.
  public static func parse(_ text: String, file: String) throws -> TrainingLog {
    var parser = LogParser(log: TrainingLog(file: file))
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let endsWithNewline = text.hasSuffix("\n")
    for (index, raw) in lines.enumerated() {
      var line = String(raw)
      if line.hasSuffix("\r") { line.removeLast() }
      let isLast = index == lines.count - 1
      if isLast && line.isEmpty { break }
      // Carriage returns redraw a progress bar: each redraw is a record of its own.
      let partial = isLast && !endsWithNewline
      let pieces = line.split(separator: "\r", omittingEmptySubsequences: true)
      for (k, piece) in pieces.enumerated() {
        try parser.read(
          piece, line: index + 1, lineText: line, partial: partial && k == pieces.count - 1)
      }
    }
    try parser.finish()
    return parser.log
  }
}

/// The state of one parse: the log so far, the open timer block, what the previous lines said.
struct LogParser {
  var log: TrainingLog
  /// Megatron iteration lines: the previous iteration and its segment.
  var lastIteration: Int?
  var segment = 0
  /// A validation or checkpoint save was printed since the last iteration line.
  var pendingEvaluation = false
  /// Inside a timer block: its entries so far.
  var openBlock: [TrainingLog.TimerEntry]? = nil
  /// Step-time sources seen, with the first line of each.
  var timeSources: [(TrainingLog.Format, SourceLocation)] = []
  /// Megatron-Bridge `Step Time :` lines, used only when the log has no iteration lines.
  var bridgeSteps: [(Double, SourceLocation)] = []
  /// MLPerf `train_step_timing` records: seconds, the tokens consumed (`metadata.step`).
  var mlperfSteps: [(seconds: Double, tokens: Double?, location: SourceLocation)] = []
  /// MLPerf blocks (`block_start` … `block_stop`): the clock at each end, and the block's
  /// first epoch and epoch count (samples, or tokens for GPT-3).
  var mlperfBlocks:
    [(start: Double, first: Double, count: Double, stop: Double?, location: SourceLocation)] = []
  /// NeMo steps by global step, to drop a progress bar's redraws.
  var nemoLast: (step: Int, seconds: Double, line: Int)? = nil
  var sawAnything = false
  var firstLine: (Int, String)? = nil

  init(log: TrainingLog) { self.log = log }

  // MARK: - One line

  mutating func read(_ line: Substring, line number: Int, lineText: String, partial: Bool) throws {
    if firstLine == nil && !line.trimmingCharacters(in: .whitespaces).isEmpty {
      firstLine = (number, lineText)
    }
    let context = LineContext(
      text: line, number: number, lineText: lineText, file: log.file, partial: partial)
    // A timer block continues while its lines are timer entries.
    if openBlock != nil {
      if let entry = try context.timerEntry() {
        openBlock?.append(entry)
        return
      }
      closeBlock()
    }
    if line.contains(":::MLLOG") {
      try readMLPerf(context)
    } else if line.contains("elapsed time per iteration (ms):")
      || line.contains("elapsed_time_per_iteration_ms=")
    {
      try readIteration(context)
    } else if line.contains("train_step_timing in s") {
      try readNeMo(context)
    } else if line.contains("Step Time :") {
      try readBridgeStep(context)
    } else if line.contains("time across ranks (ms):") {
      if line.contains("times across ranks (ms):") {
        note(context, "per-rank timer lists (--timing-log-option all) are not read")
        return
      }
      sawAnything = true
      openBlock = []
      // A block can start on the line of another message (`successfully saved checkpoint …
      // (min, max) time across ranks (ms): save-checkpoint ….: (a, b)`).
      if let range = line.range(of: "time across ranks (ms):"),
        let entry = try context.timerEntry(from: range.upperBound)
      {
        openBlock?.append(entry)
      }
    } else if let range = line.range(of: "time (ms) |") {
      try readLegacyTimers(context, from: range.upperBound)
    }
    // Memory and evaluation markers can share a line with the records above (NeMo 2's progress
    // line carries max_memory_allocated; glued ranks).
    if line.contains("memory (MB)") || line.contains("memory (GB)")
      || line.contains("max_memory_allocated")
    {
      try readMemory(context)
    }
    if line.contains("validation loss at") || line.contains("saving checkpoint at iteration")
      || line.contains("saved checkpoint")
    {
      pendingEvaluation = true
    }
  }

  mutating func note(_ context: LineContext, _ message: String) {
    log.notes.append(
      ConfigWarning(message: message, location: context.location(column: 1, length: 1)))
  }

  mutating func source(_ format: TrainingLog.Format, _ location: SourceLocation) {
    sawAnything = true
    if !log.formats.contains(format) { log.formats.append(format) }
    if !timeSources.contains(where: { $0.0 == format }) { timeSources.append((format, location)) }
  }

  mutating func closeBlock() {
    guard let entries = openBlock else { return }
    openBlock = nil
    guard !entries.isEmpty else { return }
    log.timerBlocks.append(
      TrainingLog.TimerBlock(entries: entries, step: log.steps.isEmpty ? nil : log.steps.count - 1))
  }

  // MARK: - Megatron-LM

  mutating func readIteration(_ c: LineContext) throws {
    let timeMarkers = ["elapsed time per iteration (ms):", "elapsed_time_per_iteration_ms="]
    let count = timeMarkers.map { c.text.components(separatedBy: $0).count - 1 }.reduce(0, +)
    let iterations = c.iterationNumbers()
    if count > 1 || iterations.count > 1 {
      throw c.error(
        "two iteration lines run together on one line (the output of two ranks or runs interleaved): megaplan reads one record per line",
        at: iterations.dropFirst().first?.1 ?? c.text.startIndex)
    }
    guard let (it, itIndex) = iterations.first else {
      throw c.error(
        "an iteration line without 'iteration N/TOTAL' before its time: not a Megatron-LM line megaplan can place",
        at: c.text.startIndex)
    }
    let marker = timeMarkers.first { c.text.contains($0) } ?? timeMarkers[0]
    // Every field of the line is closed by ` |`: a number at the line's end was cut off.
    guard let ms = try c.number(after: marker, closedBy: "|", endCloses: false) else {
      if c.partial {
        note(c, "the last line has no line end and was not read (a log still being written?)")
        return
      }
      throw c.error("no number after '\(marker)'", at: itIndex)
    }
    guard ms.value > 0 else {
      throw c.error("elapsed time per iteration \(ms.text) ms is not positive", at: ms.index)
    }
    let location = c.location(at: itIndex, length: String(it).count)
    source(.megatronLM, location)
    if let gbs = try c.number(after: "global batch size:", closedBy: "|")
      ?? c.number(
        after: "global_batch_size=", closedBy: "|")
    {
      try setGlobalBatch(gbs, c)
    }
    let skipped = try c.number(after: "number of skipped iterations:", closedBy: "|")
    let throughput = try c.number(after: "throughput per GPU (TFLOP/s/GPU):", closedBy: "|")
    // The window: from the previous line's iteration (same segment) to this one.
    if let last = lastIteration, it == last, let previous = log.steps.last {
      if previous.seconds == ms.value / 1000 { return }  // The same line twice (a tee'd log).
      throw c.error(
        "iteration \(it) is timed twice, \(Format.fixed(previous.seconds * 1000, 1)) ms on line \(previous.location.line) and \(ms.text) ms here: two runs or ranks interleaved?",
        at: ms.index)
    }
    if let last = lastIteration, it <= last {
      segment += 1  // A restart: the iterations start over from a checkpoint.
    }
    // The window's first step is set once the log interval is known (`fixWindows`).
    log.steps.append(
      TrainingLog.Step(
        first: it, last: it, seconds: ms.value / 1000, segment: segment,
        followsEvaluation: pendingEvaluation, skipped: Int(skipped?.value ?? 0),
        teraFLOPsPerGPU: throughput?.value, location: location))
    pendingEvaluation = false
    lastIteration = it
  }

  mutating func setGlobalBatch(_ n: LineContext.Number, _ c: LineContext) throws {
    guard n.value >= 1, n.value == n.value.rounded(), n.value < Double(1 << 30) else {
      throw c.error("global batch size \(n.text) is not a positive integer", at: n.index)
    }
    if log.globalBatch == nil {
      log.globalBatch = .init(
        value: Int(n.value), location: c.location(at: n.index, length: n.text.count))
    }
  }

  /// `time (ms) | name: value | …` (Megatron-LM before 2022, DeepSpeed's engine timers).
  mutating func readLegacyTimers(_ c: LineContext, from start: String.Index) throws {
    var entries: [TrainingLog.TimerEntry] = []
    for field in c.text[start...].split(separator: "|") {
      guard let colon = field.lastIndex(of: ":") else { continue }
      let name = field[..<colon].trimmingCharacters(in: .whitespaces)
      let valueText = field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      guard !name.isEmpty, let value = Double(valueText), value.isFinite, value >= 0 else {
        throw c.error(
          "timer field '\(field.trimmingCharacters(in: .whitespaces))' is not 'name: milliseconds'",
          at: field.startIndex)
      }
      entries.append(
        TrainingLog.TimerEntry(
          name: name, minMilliseconds: nil, maxMilliseconds: value,
          location: c.location(at: field.startIndex, length: field.count)))
    }
    guard !entries.isEmpty else { return }
    sawAnything = true
    log.timerBlocks.append(
      TrainingLog.TimerBlock(entries: entries, step: log.steps.isEmpty ? nil : log.steps.count - 1))
  }

  // MARK: - Megatron-Bridge

  mutating func readBridgeStep(_ c: LineContext) throws {
    guard let s = try c.number(after: "Step Time :", closedBy: "s") else {
      if c.partial { return note(c, "the last line has no line end and was not read") }
      throw c.error("no number after 'Step Time :'", at: c.text.startIndex)
    }
    if !log.formats.contains(.megatronBridge) { log.formats.append(.megatronBridge) }
    sawAnything = true
    bridgeSteps.append((s.value, c.location(at: s.index, length: s.text.count)))
  }

  // MARK: - NeMo

  mutating func readNeMo(_ c: LineContext) throws {
    guard let s = try c.number(after: "train_step_timing in s", closedBy: "|,]", separators: "=:")
    else {
      if c.partial { return note(c, "the last line has no line end and was not read") }
      throw c.error(
        "no number after 'train_step_timing in s' (a line cut off?)", at: c.text.startIndex)
    }
    let location = c.location(at: s.index, length: s.text.count)
    source(.nemo, location)
    if let gbs = try c.number(after: "global_batch_size", closedBy: "|,]", separators: "=:") {
      try setGlobalBatch(gbs, c)
    }
    let stepNumber = try c.number(after: "global_step", closedBy: "|,]", separators: "=:")
    let step: Int
    if let n = stepNumber {
      guard n.value >= 0, n.value == n.value.rounded(), n.value < Double(1 << 40) else {
        throw c.error("global_step \(n.text) is not a whole step number", at: n.index)
      }
      step = Int(n.value)
    } else {
      step = (nemoLast?.step ?? -1) + 1
    }
    if let last = nemoLast, last.step == step {
      if last.seconds == s.value { return }  // A redraw of the same step.
      throw c.error(
        "global step \(step) is timed twice, \(Format.fixed(last.seconds, 3)) s on line \(last.line) and \(s.text) s here: two runs or ranks interleaved?",
        at: s.index)
    }
    if let last = nemoLast, step < last.step { segment += 1 }
    // global_step counts from the run's start: the first segment's process began at step 1; a
    // later one (the steps went back: a restart) at its own first step.
    if log.segmentOrigins[segment] == nil {
      log.segmentOrigins[segment] = segment == 0 ? 1 : step + 1
    }
    nemoLast = (step, s.value, c.number)
    // NeMo counts global steps from 0: step k is the run's (k + 1)-th.
    log.steps.append(
      TrainingLog.Step(
        first: step + 1, last: step + 1, seconds: s.value, segment: segment, location: location))
  }

  // MARK: - Memory

  mutating func readMemory(_ c: LineContext) throws {
    if c.text.contains("max_memory_allocated") {
      // NeMo 2 (MemoryMonitor callback): bytes, on the rank of the launcher's label.
      guard
        let allocated = try c.number(
          after: "max_memory_allocated", closedBy: "|,]", separators: "=:")
      else {
        if c.partial { return note(c, "the last line has no line end and was not read") }
        throw c.error("no number after 'max_memory_allocated'", at: c.text.startIndex)
      }
      let reserved = try c.number(after: "max_memory_reserved", closedBy: "|,]", separators: "=:")
      sawAnything = true
      log.memory.append(
        TrainingLog.MemoryReport(
          rank: c.launcherRank, maxAllocated: allocated.value, maxReserved: reserved?.value,
          location: c.location(at: allocated.index, length: allocated.text.count)))
      return
    }
    // Megatron: one report per rank, some glued onto the previous rank's line.
    var starts: [String.Index] = []
    var search = c.text.startIndex
    while let r = c.text.range(of: "[Rank ", range: search..<c.text.endIndex) {
      starts.append(r.lowerBound)
      search = r.upperBound
    }
    if starts.isEmpty { starts = [c.text.startIndex] }
    for (k, start) in starts.enumerated() {
      let end = k + 1 < starts.count ? starts[k + 1] : c.text.endIndex
      let piece = c.text[start..<end]
      let gb = piece.contains("memory (GB)")
      guard piece.contains("memory (MB)") || gb else { continue }
      let sub = LineContext(
        text: piece, number: c.number, lineText: c.lineText, file: c.file,
        partial: c.partial && end == c.text.endIndex)
      let maxAllocatedKey = gb ? "mem-max-allocated-gigabytes:" : "max allocated:"
      let maxReservedKey = gb ? "mem-max-reserved-gigabytes:" : "max reserved:"
      let unit = gb ? 1e9 : 1_048_576.0
      guard let allocated = try sub.number(after: maxAllocatedKey, closedBy: "|") else {
        if sub.partial { return note(c, "the last line has no line end and was not read") }
        throw c.error(
          "the memory report stops before '\(maxAllocatedKey)' (two ranks' lines interleaved, or a line cut off)",
          at: start)
      }
      // The last field ends the report: at the line's end, or where the next rank's report
      // begins.
      let reserved = try sub.number(
        after: maxReservedKey, closedBy: "|", endCloses: !sub.partial)
      if reserved == nil && sub.partial && !gb {
        return note(c, "the last line has no line end and was not read")
      }
      var rank: Int? = nil
      if piece.hasPrefix("[Rank ") {
        let digits = piece.dropFirst("[Rank ".count).prefix { $0.isNumber }
        rank = Int(digits)
      }
      sawAnything = true
      log.memory.append(
        TrainingLog.MemoryReport(
          rank: rank ?? c.launcherRank, maxAllocated: allocated.value * unit,
          maxReserved: reserved.map { $0.value * unit },
          location: sub.location(at: allocated.index, length: allocated.text.count)))
    }
  }

  // MARK: - MLPerf

  mutating func readMLPerf(_ c: LineContext) throws {
    guard let marker = c.text.range(of: ":::MLLOG") else { return }
    let json = c.text[marker.upperBound...].trimmingCharacters(in: .whitespaces)
    guard let data = json.data(using: .utf8),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else {
      if c.partial { return note(c, "the last line has no line end and was not read") }
      throw c.error(
        "the :::MLLOG record is not complete JSON (a line cut off, or two ranks' lines run together)",
        at: marker.upperBound)
    }
    sawAnything = true
    if !log.formats.contains(.mlperf) { log.formats.append(.mlperf) }
    let key = object["key"] as? String
    let value = object["value"]
    let metadata = object["metadata"] as? [String: Any]
    let location = c.location(at: marker.lowerBound, length: 8)
    func integer(_ any: Any?) -> Int? {
      guard let d = LogParser.double(any) else { return nil }
      return d >= 1 && d == d.rounded() && d < Double(1 << 40) ? Int(d) : nil
    }
    switch key {
    case "global_batch_size":
      guard let n = integer(value) else {
        throw c.error("global_batch_size is not a positive integer", at: marker.upperBound)
      }
      if log.globalBatch == nil { log.globalBatch = .init(value: n, location: location) }
    case "max_sequence_length":
      if let n = integer(value), log.sequenceLength == nil {
        log.sequenceLength = .init(value: n, location: location)
      }
    case "submission_platform":
      // "64xNVIDIA DGX H100": nodes × system.
      if let text = value as? String, let x = text.firstIndex(of: "x"),
        let n = Int(text[..<x].trimmingCharacters(in: .whitespaces)), n > 0
      {
        log.nodes = .init(value: n, location: location)
      }
    case "block_start":
      if let time = LogParser.double(object["time_ms"]),
        let first = LogParser.double(metadata?["first_epoch_num"]),
        let count = LogParser.double(metadata?["epoch_count"]), count > 0
      {
        mlperfBlocks.append((time, first, count, nil, location))
      }
    case "block_stop":
      if let time = LogParser.double(object["time_ms"]),
        let first = LogParser.double(metadata?["first_epoch_num"]),
        let k = mlperfBlocks.lastIndex(where: { $0.first == first && $0.stop == nil })
      {
        mlperfBlocks[k].stop = time
      }
    case "tracked_stats":
      guard let stats = value as? [String: Any], let timing = stats["train_step_timing"] else {
        return
      }
      guard let seconds = LogParser.double(timing), seconds.isFinite, seconds > 0 else {
        throw c.error(
          "train_step_timing is not a positive number of seconds", at: marker.upperBound)
      }
      source(.mlperf, location)
      mlperfSteps.append(
        (seconds, LogParser.double(metadata?["step"]), location))
    default:
      break
    }
  }

  /// MLPerf logs without `train_step_timing`: each block (`block_start` to `block_stop`, the
  /// training between two evaluations, `mlperf_logging`'s definition) is a window of its
  /// `epoch_count` over the samples or tokens of one step — tokens (global batch × sequence)
  /// where the count is a whole number of them, as GPT-3 counts its epochs, else samples (the
  /// global batch); a block that is neither a whole number of steps is left out with a note.
  /// Its time per step is the block's wall clock over its steps, which holds what the run does
  /// between steps too (data loading, logging).
  mutating func mlperfBlockWindows() {
    guard let batch = log.globalBatch?.value else {
      if let first = mlperfBlocks.first {
        log.notes.append(
          ConfigWarning(
            message: "MLPerf blocks without the header's global_batch_size are not timed",
            location: first.location))
      }
      return
    }
    let tokens = log.sequenceLength.map { Double(batch * $0.value) }
    for block in mlperfBlocks {
      guard let stop = block.stop, stop > block.start else { continue }
      var perStep: Double? = nil
      for unit in [tokens, Double(batch)] {
        guard let unit else { continue }
        let n = block.count / unit
        if n >= 1 && n == n.rounded() {
          perStep = unit
          break
        }
      }
      guard let unit = perStep else {
        log.notes.append(
          ConfigWarning(
            message:
              "the block's epoch_count \(Format.grouped(block.count)) is not a whole number of steps of \(batch) samples\(tokens.map { " or \(Format.grouped($0)) tokens" } ?? "")",
            location: block.location))
        continue
      }
      let first = Int(block.first / unit) + 1
      let steps = Int(block.count / unit)
      log.steps.append(
        TrainingLog.Step(
          first: first, last: first + steps - 1,
          seconds: (stop - block.start) / 1000 / Double(steps),
          segment: 0, location: block.location))
    }
    if !log.steps.isEmpty {
      log.segmentOrigins[0] = 1
      log.stepFormat = .mlperf
    }
  }

  /// A JSON number as Foundation decodes it (Int, Double or NSNumber).
  static func double(_ any: Any?) -> Double? {
    switch any {
    case let d as Double: d
    case let i as Int: Double(i)
    case let n as NSNumber: n.doubleValue
    default: nil
    }
  }

  // MARK: - The end

  mutating func finish() throws {
    closeBlock()
    let sources = timeSources
    if sources.count > 1 {
      let list = sources.map { "\($0.0) from line \($0.1.line)" }.joined(separator: ", ")
      throw ConfigError(
        "the log times steps in two formats (\(list)): give each run's log on its own",
        at: sources[1].1)
    }
    if sources.first?.0 == .megatronLM { fixWindows() }
    if log.steps.isEmpty && !bridgeSteps.isEmpty {
      for (k, (seconds, location)) in bridgeSteps.enumerated() {
        log.steps.append(
          TrainingLog.Step(
            first: k + 1, last: k + 1, seconds: seconds, segment: 0, location: location))
      }
      log.stepFormat = .megatronBridge
    } else if let format = sources.first?.0 {
      log.stepFormat =
        format == .megatronLM && log.formats.contains(.megatronBridge) ? .megatronBridge : format
    }
    if !mlperfSteps.isEmpty {
      // The step's number from the tokens consumed (GPT-3 counts MLPerf's samples in tokens);
      // in log order when the header does not give the tokens per step.
      let perStep = log.globalBatch.flatMap { b in
        log.sequenceLength.map { Double(b.value * $0.value) }
      }
      for (k, record) in mlperfSteps.enumerated() {
        var index = k + 1
        if let perStep, let tokens = record.tokens {
          let n = tokens / perStep
          if n >= 1 && n == n.rounded() && n < 1e12 { index = Int(n) }
        }
        log.steps.append(
          TrainingLog.Step(
            first: index, last: index, seconds: record.seconds, segment: 0,
            location: record.location))
      }
      log.segmentOrigins[0] = 1
    } else if !mlperfBlocks.isEmpty {
      mlperfBlockWindows()
    }
    guard sawAnything else {
      let (line, text) = firstLine ?? (1, "")
      throw ConfigError(
        text.isEmpty
          ? "the log is empty"
          : "not a training log megaplan reads: no Megatron-LM iteration line ('elapsed time per iteration (ms)'), memory report, timer block, NeMo 'train_step_timing in s', Megatron-Bridge 'Step Time :' or MLPerf ':::MLLOG' record",
        at: SourceLocation(
          file: log.file, line: line, column: 1, length: max(1, text.count), lineText: text))
    }
  }

  /// Megatron windows: each line averages the `--log-interval` iterations before it (the most
  /// common distance between its segment's lines; on a tie the larger, since current Megatron
  /// also logs iteration 1, whose distance to the next line is one short), never reaching back
  /// past the previous line or step 1. A log with lines missing (an excerpt) keeps each line's
  /// own window.
  mutating func fixWindows() {
    var k = 0
    while k < log.steps.count {
      var end = k
      while end + 1 < log.steps.count && log.steps[end + 1].segment == log.steps[k].segment {
        end += 1
      }
      var counts: [Int: Int] = [:]
      for i in k..<end { counts[log.steps[i + 1].last - log.steps[i].last, default: 0] += 1 }
      let interval =
        counts.max { a, b in a.value != b.value ? a.value < b.value : a.key < b.key }?.key ?? 1
      for i in k...end {
        let floor = i > k ? log.steps[i - 1].last + 1 : 1
        log.steps[i].first = max(floor, log.steps[i].last - interval + 1)
      }
      k = end + 1
    }
  }
}

/// One line (or one redraw of a progress bar) with what reading a field of it needs.
struct LineContext {
  var text: Substring
  var number: Int
  var lineText: String
  var file: String
  /// The last line of a log without a line end: a number at its end may be cut off.
  var partial: Bool

  struct Number {
    var value: Double
    var text: String
    var index: String.Index
  }

  /// 1-based column of `index` (`text` is a piece of the line's own string).
  func column(_ index: String.Index) -> Int {
    let base = text.base
    return base.distance(from: base.startIndex, to: index) + 1
  }

  func location(at index: String.Index, length: Int) -> SourceLocation {
    SourceLocation(
      file: file, line: number, column: column(index), length: length, lineText: lineText)
  }

  func location(column: Int, length: Int) -> SourceLocation {
    SourceLocation(
      file: file, line: number, column: column, length: length, lineText: lineText)
  }

  func error(_ message: String, at index: String.Index) -> ConfigError {
    ConfigError(message, at: location(at: index, length: 1))
  }

  /// The number after `marker` (and any of `separators`, and spaces), which must be followed by
  /// one of `closedBy` (after optional spaces), or end the line when the line is whole
  /// (`endCloses`). nil when `marker` is absent; an error when a number is there but not closed
  /// (a line cut off or run into another).
  func number(
    after marker: String, closedBy: String, separators: String = "", endCloses: Bool? = nil
  ) throws -> Number? {
    guard let range = text.range(of: marker) else { return nil }
    var i = range.upperBound
    while i < text.endIndex, text[i] == " " || separators.contains(text[i]) {
      i = text.index(after: i)
    }
    let start = i
    while i < text.endIndex, text[i].isNumber || "+-.eE".contains(text[i]) {
      i = text.index(after: i)
    }
    let digits = String(text[start..<i])
    guard !digits.isEmpty, let value = Double(digits), value.isFinite else {
      if start == text.endIndex && partial { return nil }
      throw error("expected a number after '\(marker)'", at: start)
    }
    var j = i
    while j < text.endIndex, text[j] == " " { j = text.index(after: j) }
    if j == text.endIndex {
      if endCloses ?? !partial { return Number(value: value, text: digits, index: start) }
      if partial { return nil }
      throw error(
        "the number after '\(marker)' ends the line where '\(closedBy.first.map(String.init) ?? "|")' should follow (a line cut off?)",
        at: start)
    }
    guard closedBy.contains(text[j]) else {
      throw error(
        "'\(digits)' after '\(marker)' runs into '\(text[j...].prefix(12))' (two ranks' lines interleaved, or a format megaplan does not read)",
        at: start)
    }
    return Number(value: value, text: digits, index: start)
  }

  /// Every `iteration N/TOTAL` (or `iteration=  N/ TOTAL`) of the line: N and where it is.
  func iterationNumbers() -> [(Int, String.Index)] {
    var out: [(Int, String.Index)] = []
    var search = text.startIndex
    while let r = text.range(of: "iteration", range: search..<text.endIndex) {
      search = r.upperBound
      var i = r.upperBound
      while i < text.endIndex, text[i] == " " || text[i] == "=" { i = text.index(after: i) }
      let start = i
      while i < text.endIndex, text[i].isNumber { i = text.index(after: i) }
      guard i > start, let n = Int(text[start..<i]) else { continue }
      while i < text.endIndex, text[i] == " " { i = text.index(after: i) }
      if i < text.endIndex, text[i] == "/" { out.append((n, start)) }
    }
    return out
  }

  /// The rank of `srun --label`'s `N: ` prefix.
  var launcherRank: Int? {
    let trimmed = text.drop { $0 == " " }
    let digits = trimmed.prefix { $0.isNumber }
    guard !digits.isEmpty, trimmed.dropFirst(digits.count).hasPrefix(": ") else { return nil }
    return Int(digits)
  }

  /// A timer entry `name ......: (min, max)` or `name ......: max` on this line (from `start`).
  func timerEntry(from start: String.Index? = nil) throws -> TrainingLog.TimerEntry? {
    let body = text[(start ?? text.startIndex)...]
    guard let dots = body.range(of: " ..") else { return nil }
    let name = body[..<dots.lowerBound].split(separator: " ").last.map(String.init) ?? ""
    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_/".contains($0) })
    else { return nil }
    var i = dots.upperBound
    while i < body.endIndex, body[i] == "." { i = body.index(after: i) }
    guard i < body.endIndex, body[i] == ":" else { return nil }
    let rest = body[body.index(after: i)...].trimmingCharacters(in: .whitespaces)
    let nameIndex = body.range(of: name)?.lowerBound ?? body.startIndex
    let location = self.location(at: nameIndex, length: name.count)
    if rest.hasPrefix("(") {
      guard rest.hasSuffix(")") else {
        if partial { return nil }
        throw error(
          "timer '\(name)' is not closed by ')' (a line cut off or run into another)", at: i)
      }
      let pair = rest.dropFirst().dropLast().split(separator: ",").map {
        Double($0.trimmingCharacters(in: .whitespaces))
      }
      guard pair.count == 2, let lo = pair[0], let hi = pair[1], lo >= 0, hi >= lo,
        hi.isFinite
      else {
        throw error("timer '\(name)' is not '(min, max)' in milliseconds", at: i)
      }
      return TrainingLog.TimerEntry(
        name: name, minMilliseconds: lo, maxMilliseconds: hi, location: location)
    }
    guard let value = Double(rest), value.isFinite, value >= 0 else {
      throw error("timer '\(name)' is not a number of milliseconds", at: i)
    }
    if partial { return nil }
    return TrainingLog.TimerEntry(
      name: name, minMilliseconds: nil, maxMilliseconds: value, location: location)
  }
}
