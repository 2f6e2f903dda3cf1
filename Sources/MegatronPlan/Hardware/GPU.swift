/// An accelerator and the system it sits in. Datasheet numbers, cited (docs/hardware.md lists
/// every figure with its source); achieved fractions of them live in `PerformanceConstants`, one
/// set per architecture generation, not here.
public struct GPU: Sendable, Hashable, Codable {
  /// Canonical lower-case name (`a100-80gb`).
  public var name: String
  /// Human-readable name for reports.
  public var displayName: String
  /// The architecture generation, which selects the efficiency constants.
  public var generation: Generation
  /// Device memory usable by the training process (as `nvidia-smi` reports the total).
  public var memory: Bytes
  /// Dense 16-bit (BF16/FP16) tensor-core peak; MFU/HFU are reported against this.
  public var peak16: FLOPsPerSecond
  /// Dense FP8 tensor-core peak; nil where the GPU has no FP8 tensor cores (A100). MXFP8 runs
  /// at this rate too (Blackwell: same tensor cores, other scales).
  public var peak8: FLOPsPerSecond?
  /// Dense FP4 (NVFP4) tensor-core peak; nil before Blackwell.
  public var peak4: FLOPsPerSecond? = nil
  /// Dense fp32 peak used for fp32 training (the plain fp32 rate, which is what fp32 training
  /// gets by default in PyTorch).
  public var peak32: FLOPsPerSecond
  /// HBM bandwidth.
  public var hbm: BytesPerSecond
  /// NVLink bandwidth per GPU, one direction (datasheet total / 2); for GPUs without NVLink
  /// between all GPUs of a node, the PCIe bandwidth.
  public var nvlinkPerDirection: BytesPerSecond
  /// GPUs that reach each other over NVLink at `nvlinkPerDirection`: 8 in a DGX/HGX node, 72 in
  /// a GB200 NVL72 rack, 2 for NVLink-bridged PCIe pairs. Tensor, context and expert groups that
  /// fit in one domain run at NVLink speed; larger ones cross the network.
  public var nvlinkDomain: Int
  /// GPUs per node (host); the node count of a run is GPUs / this.
  public var gpusPerNode: Int
  /// Inter-node bandwidth per GPU, one direction (one NIC per GPU, rail-aligned).
  public var interNodePerGPU: BytesPerSecond

  public enum Generation: String, Sendable, Hashable, Codable, CaseIterable {
    case ampere, hopper, blackwell
  }

  public init(
    name: String, displayName: String, generation: Generation, memory: Bytes,
    peak16: FLOPsPerSecond, peak8: FLOPsPerSecond?, peak32: FLOPsPerSecond, hbm: BytesPerSecond,
    nvlinkPerDirection: BytesPerSecond, nvlinkDomain: Int, gpusPerNode: Int,
    interNodePerGPU: BytesPerSecond
  ) {
    self.name = name
    self.displayName = displayName
    self.generation = generation
    self.memory = memory
    self.peak16 = peak16
    self.peak8 = peak8
    self.peak32 = peak32
    self.hbm = hbm
    self.nvlinkPerDirection = nvlinkPerDirection
    self.nvlinkDomain = nvlinkDomain
    self.gpusPerNode = gpusPerNode
    self.interNodePerGPU = interNodePerGPU
  }

  /// A100 SXM4 80 GB in a DGX A100 / Selene node: 312 TFLOP/s dense BF16, 19.5 fp32, 2,039 GB/s
  /// HBM2e, NVLink 600 GB/s total (NV A100 datasheet; reference §4.1); 8 GPUs per node; 8 × 200
  /// Gb/s HDR InfiniBand HCAs per node, one per GPU = 25 GB/s per GPU (N21 §5, K22 §6).
  /// Memory: 80 GiB (the 80 GB part exposes 81,920 MiB).
  public static let a100_80GB = GPU(
    name: "a100-80gb", displayName: "A100 SXM4 80GB", generation: .ampere, memory: .gibibytes(80),
    peak16: .teraFLOPs(312), peak8: nil, peak32: .teraFLOPs(19.5), hbm: .gigabytesPerSecond(2039),
    nvlinkPerDirection: .gigabytesPerSecond(300), nvlinkDomain: 8, gpusPerNode: 8,
    interNodePerGPU: .gigabytesPerSecond(25))

  /// A100 SXM4 40 GB: as the 80 GB part but 40 GiB of HBM2 at 1,555 GB/s (NV A100 datasheet).
  public static let a100_40GB = GPU(
    name: "a100-40gb", displayName: "A100 SXM4 40GB", generation: .ampere, memory: .gibibytes(40),
    peak16: .teraFLOPs(312), peak8: nil, peak32: .teraFLOPs(19.5), hbm: .gigabytesPerSecond(1555),
    nvlinkPerDirection: .gigabytesPerSecond(300), nvlinkDomain: 8, gpusPerNode: 8,
    interNodePerGPU: .gigabytesPerSecond(25))

  /// H100 SXM5 80 GB in a DGX H100: 989 TFLOP/s dense BF16 and 1,979 FP8 (1,979 and 3,958 with
  /// sparsity, halved per NVIDIA's footnote), 67 fp32, 3.35 TB/s HBM3, NVLink 900 GB/s total
  /// (NV H100 product page; reference §4.2); 8 × 400 Gb/s ConnectX-7 per node = 50 GB/s per GPU
  /// (DGX H100 user guide). Memory: 81,559 MiB as nvidia-smi reports it.
  public static let h100SXM = GPU(
    name: "h100-sxm", displayName: "H100 SXM5 80GB", generation: .hopper,
    memory: Bytes(81_559 * 1_048_576.0), peak16: .teraFLOPs(989), peak8: .teraFLOPs(1979),
    peak32: .teraFLOPs(67), hbm: .gigabytesPerSecond(3350),
    nvlinkPerDirection: .gigabytesPerSecond(450), nvlinkDomain: 8, gpusPerNode: 8,
    interNodePerGPU: .gigabytesPerSecond(50))

  /// H100 PCIe 80 GB: 756 TFLOP/s dense BF16, 1,513 FP8 (1,513 and 3,026 with sparsity), 51
  /// fp32, 2.0 TB/s HBM2e (NV H100 product page, PCIe column); NVLink bridges join pairs of
  /// cards at 600 GB/s total (a domain of 2); other GPUs of the server are reached over PCIe
  /// Gen5 (128 GB/s total, 64 per direction), which megaplan treats as the node's network;
  /// one 400 Gb/s NIC per GPU assumed across nodes.
  public static let h100PCIe = GPU(
    name: "h100-pcie", displayName: "H100 PCIe 80GB", generation: .hopper,
    memory: Bytes(81_559 * 1_048_576.0), peak16: .teraFLOPs(756), peak8: .teraFLOPs(1513),
    peak32: .teraFLOPs(51), hbm: .gigabytesPerSecond(2000),
    nvlinkPerDirection: .gigabytesPerSecond(300), nvlinkDomain: 2, gpusPerNode: 8,
    interNodePerGPU: .gigabytesPerSecond(50))

  /// H100 NVL 94 GB: 835 TFLOP/s dense BF16, 1,671 FP8 (halved starred figures), 60 fp32,
  /// 3.9 TB/s HBM3, NVLink bridges of 600 GB/s between pairs (NV H100 product page, NVL
  /// column; reference §4.2); as the PCIe card otherwise.
  public static let h100NVL = GPU(
    name: "h100-nvl", displayName: "H100 NVL 94GB", generation: .hopper,
    memory: .gigabytes(94), peak16: .teraFLOPs(835), peak8: .teraFLOPs(1671),
    peak32: .teraFLOPs(60), hbm: .gigabytesPerSecond(3900),
    nvlinkPerDirection: .gigabytesPerSecond(300), nvlinkDomain: 2, gpusPerNode: 8,
    interNodePerGPU: .gigabytesPerSecond(50))

  /// H200 SXM 141 GB: the H100 SXM's compute (989 BF16, 1,979 FP8 dense) with 141 GB of HBM3e
  /// at 4.8 TB/s (NV H200 product page; reference §4.2), NVLink 900 GB/s, in an 8-GPU HGX node
  /// with 400 Gb/s per GPU.
  public static let h200 = GPU(
    name: "h200", displayName: "H200 SXM 141GB", generation: .hopper, memory: .gigabytes(141),
    peak16: .teraFLOPs(989), peak8: .teraFLOPs(1979), peak32: .teraFLOPs(67),
    hbm: .gigabytesPerSecond(4800), nvlinkPerDirection: .gigabytesPerSecond(450), nvlinkDomain: 8,
    gpusPerNode: 8, interNodePerGPU: .gigabytesPerSecond(50))

  /// B200 in an HGX/DGX B200 node (1,000 W): 2,250 TFLOP/s dense BF16, 4,500 FP8, 80 fp32
  /// (Blackwell datasheet figures as collected at glennklockwood.com/garden/processors/B200),
  /// 9,000 dense FP4 (same source),
  /// 180 GB HBM3e at 8 TB/s, NVLink 5 at 1.8 TB/s total, 8 GPUs per NVLink domain, 8 × 400 Gb/s
  /// ConnectX-7 per node (DGX B200 datasheet).
  public static let b200 = GPU(
    name: "b200", displayName: "B200 180GB", generation: .blackwell, memory: .gigabytes(180),
    peak16: .teraFLOPs(2250), peak8: .teraFLOPs(4500), peak32: .teraFLOPs(80),
    hbm: .gigabytesPerSecond(8000), nvlinkPerDirection: .gigabytesPerSecond(900), nvlinkDomain: 8,
    gpusPerNode: 8, interNodePerGPU: .gigabytesPerSecond(50)
  ).with(peak4: .teraFLOPs(9000))

  /// GB200 NVL72 (each B200 at 1,200 W): 2,500 TFLOP/s dense BF16, 5,000 FP8, 10,000 FP4, 90 fp32 (same
  /// source as B200), 186 GB HBM3e at 8 TB/s (13.4 TB per rack / 72), NVLink 5 at 1.8 TB/s
  /// across all 72 GPUs of the rack (one NVLink domain); 4 GPUs per compute tray (node); one
  /// 400 Gb/s NIC per GPU between racks (GB200 NVL72 product page).
  public static let gb200NVL72 = GPU(
    name: "gb200-nvl72", displayName: "GB200 NVL72", generation: .blackwell,
    memory: .gigabytes(186), peak16: .teraFLOPs(2500), peak8: .teraFLOPs(5000),
    peak32: .teraFLOPs(90), hbm: .gigabytesPerSecond(8000),
    nvlinkPerDirection: .gigabytesPerSecond(900), nvlinkDomain: 72, gpusPerNode: 4,
    interNodePerGPU: .gigabytesPerSecond(50)
  ).with(peak4: .teraFLOPs(10_000))

  /// B300 in an HGX/DGX B300 node (Blackwell Ultra): 2,250 TFLOP/s dense BF16 and 4,500 FP8 as
  /// B200, dense FP4 13,125–14,000 (glennklockwood.com/garden/processors/B300: 13,125 dense;
  /// verda.com's GB300 architecture post: 14,000) — megaplan takes 13,125; 275,040 MiB of HBM3e
  /// as nvidia-smi reports it (MLPerf Training v5.1, Nebius `nebius_b300_n1.json`:
  /// "B300-SXM-270GB") at 8 TB/s, NVLink 5 at 1.8 TB/s total, 8 GPUs per domain, one ConnectX-8
  /// XDR NIC (800 Gb/s = 100 GB/s) per GPU (same system file).
  public static let b300 = GPU(
    name: "b300", displayName: "B300 270GB", generation: .blackwell,
    memory: Bytes(275_040 * 1_048_576.0), peak16: .teraFLOPs(2250), peak8: .teraFLOPs(4500),
    peak32: .teraFLOPs(75), hbm: .gigabytesPerSecond(8000),
    nvlinkPerDirection: .gigabytesPerSecond(900), nvlinkDomain: 8, gpusPerNode: 8,
    interNodePerGPU: .gigabytesPerSecond(100)
  ).with(peak4: .teraFLOPs(13_125))

  /// GB300 NVL72 (Blackwell Ultra, 1,400 W): 2,500 TFLOP/s dense BF16, 5,000 FP8, 15,000 dense
  /// FP4 (verda.com's GB300 NVL72 architecture post, "without sparsity"; NVIDIA's MLPerf v5.1
  /// announcement: 15 PF NVFP4); 284,208 MiB of HBM3e as nvidia-smi reports it (MLPerf Training
  /// v5.1, NVIDIA `theia_ngpu512_ngc25.09_nemo.json`) at 8 TB/s; NVLink 5 at 1.8 TB/s across
  /// the 72 GPUs of the rack; 4 GPUs per tray, one ConnectX-8 XDR NIC (800 Gb/s) per GPU (same
  /// system file).
  public static let gb300NVL72 = GPU(
    name: "gb300-nvl72", displayName: "GB300 NVL72", generation: .blackwell,
    memory: Bytes(284_208 * 1_048_576.0), peak16: .teraFLOPs(2500), peak8: .teraFLOPs(5000),
    peak32: .teraFLOPs(80), hbm: .gigabytesPerSecond(8000),
    nvlinkPerDirection: .gigabytesPerSecond(900), nvlinkDomain: 72, gpusPerNode: 4,
    interNodePerGPU: .gigabytesPerSecond(100)
  ).with(peak4: .teraFLOPs(15_000))

  public static let all: [GPU] = [
    .a100_80GB, .a100_40GB, .h100SXM, .h100PCIe, .h100NVL, .h200, .b200, .gb200NVL72, .b300,
    .gb300NVL72,
  ]

  /// This GPU with an FP4 peak.
  func with(peak4: FLOPsPerSecond) -> GPU {
    var gpu = self
    gpu.peak4 = peak4
    return gpu
  }

  /// GPUs megaplan has no profile of yet (Megatron-Bridge's performance recipes name them), by
  /// name: a config that names one is refused with the name unless it describes the hardware
  /// (`megaplan.hardware` with a `base`).
  public static let unprofiled: [String: String] = [
    "vr200": "Vera Rubin VR200", "r100": "Rubin R100",
  ]

  /// What to say about a GPU without a profile: that it has none, and what to do.
  public static func unprofiledAdvice(_ name: String) -> String? {
    guard let display = unprofiled[name.lowercased()] else { return nil }
    return
      "megaplan has no profile of the \(display) yet; describe it under megaplan.hardware (a base profile such as b200 and its own figures) or choose one of \(all.map(\.name).joined(separator: ", "))"
  }

  /// The message for a GPU without a profile.
  public static func unprofiledMessage(_ name: String) -> String? {
    unprofiledAdvice(name).map { "GPU '\(name)': \($0)" }
  }

  /// Looks a GPU up by name, case-insensitively (`A100-80GB`, `a100-80gb`).
  public static func named(_ name: String) -> GPU? {
    let key = name.lowercased()
    return all.first { $0.name == key }
  }

  /// What to say about an unknown GPU name: the profiles, and the ones it abbreviates (`H100` →
  /// `h100-sxm`, `h100-pcie`, `h100-nvl`, the SXM part first) or else the closest name.
  public static func suggestion(for name: String) -> String {
    let names = all.map(\.name)
    let key = name.lowercased()
    let known = "megaplan knows \(names.joined(separator: ", "))"
    let completions = names.filter { $0.hasPrefix(key) }
    guard let first = completions.first else {
      return known + Suggestion.didYouMean(key, in: names, limit: 3)
    }
    let others = completions.dropFirst().map { "'\($0)'" }
    return known + "; did you mean '\(first)'"
      + (others.isEmpty ? "" : " (or \(others.joined(separator: ", ")))") + "?"
  }

  /// The peak for the training precision (16-bit or fp32).
  public func peak(for precision: Precision) -> FLOPsPerSecond {
    precision == .fp32 ? peak32 : peak16
  }

  /// GPUs that reach one another over NVLink in a run whose nodes hold `devices` GPUs: the
  /// NVLink domain when it spans nodes (NVL72), else the GPUs of one node, at most the domain.
  public func nvlinkGroup(devicesPerNode devices: Int) -> Int {
    nvlinkDomain > gpusPerNode ? nvlinkDomain : max(1, min(devices, nvlinkDomain))
  }
}
