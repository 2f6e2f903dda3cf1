extension MemoryBudget {
  /// "61.20 of 76.00 GiB usable (95% of 80.00 GiB)": the rule as reports state it.
  public func describe(total: Double, capacity: Double) -> String {
    let usable = usableBytes(capacity: capacity) / 1_073_741_824
    return
      "\(Format.fixed(total / 1_073_741_824, 2)) of \(Format.fixed(usable, 2)) GiB usable (\(Format.percent(usableFraction, 0)) of \(Format.gib(capacity)))"
  }
}
