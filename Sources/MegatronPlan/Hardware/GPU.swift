/// An accelerator and the node it sits in. Datasheet numbers, cited; achieved fractions of them
/// live in `PerformanceConstants`, not here.
public struct GPU: Sendable, Hashable, Codable {
  /// Canonical lower-case name (`a100-80gb`).
  public var name: String
  /// Human-readable name for reports.
  public var displayName: String
  /// Device memory usable by the training process.
  public var memory: Bytes
  /// Dense 16-bit tensor-core peak (MFU/HFU are reported against this).
  public var peak16: FLOPsPerSecond
  /// Dense fp32 peak used for fp32 training (TF32 tensor cores, as PyTorch uses for fp32 GEMMs
  /// when allowed; megaplan assumes the plain fp32 rate, which is what fp32 training gets by default).
  public var peak32: FLOPsPerSecond
  /// HBM bandwidth.
  public var hbm: BytesPerSecond
  /// NVLink bandwidth per GPU, one direction (datasheet total / 2).
  public var nvlinkPerDirection: BytesPerSecond
  /// GPUs per node sharing NVLink/NVSwitch.
  public var gpusPerNode: Int
  /// Inter-node bandwidth per GPU, one direction (one HCA per GPU).
  public var interNodePerGPU: BytesPerSecond

  /// A100 SXM4 80 GB in a DGX A100 / Selene node: 312 TFLOP/s dense BF16, 2,039 GB/s HBM2e,
  /// NVLink 600 GB/s total (NV A100 datasheet; reference §4.1); 8 GPUs per node; 8 × 200 Gb/s
  /// HDR InfiniBand HCAs per node, one per GPU = 25 GB/s per GPU (N21 §5, K22 §6).
  /// Memory: 80 GiB (the 80 GB part exposes 81,920 MiB).
  public static let a100_80GB = GPU(
    name: "a100-80gb", displayName: "A100 SXM4 80GB", memory: .gibibytes(80),
    peak16: .teraFLOPs(312),
    peak32: .teraFLOPs(19.5), hbm: .gigabytesPerSecond(2039),
    nvlinkPerDirection: .gigabytesPerSecond(300),
    gpusPerNode: 8, interNodePerGPU: .gigabytesPerSecond(25))

  /// A100 SXM4 40 GB: as the 80 GB part but 40 GiB of HBM2 at 1,555 GB/s (NV A100 datasheet).
  public static let a100_40GB = GPU(
    name: "a100-40gb", displayName: "A100 SXM4 40GB", memory: .gibibytes(40),
    peak16: .teraFLOPs(312),
    peak32: .teraFLOPs(19.5), hbm: .gigabytesPerSecond(1555),
    nvlinkPerDirection: .gigabytesPerSecond(300),
    gpusPerNode: 8, interNodePerGPU: .gigabytesPerSecond(25))

  /// H100 SXM5 80 GB in a DGX H100: 989 TFLOP/s dense BF16 (1,979 with sparsity, halved per
  /// NVIDIA's footnote), 3.35 TB/s HBM3, NVLink 900 GB/s total, 67 TFLOP/s FP32 (NV H100 product
  /// page; reference §4.2); 8 × 400 Gb/s ConnectX-7 per node = 50 GB/s per GPU (DGX H100).
  /// Memory: 81,559 MiB as nvidia-smi reports it.
  public static let h100SXM = GPU(
    name: "h100-sxm", displayName: "H100 SXM5 80GB", memory: Bytes(81_559 * 1_048_576.0),
    peak16: .teraFLOPs(989),
    peak32: .teraFLOPs(67), hbm: .gigabytesPerSecond(3350),
    nvlinkPerDirection: .gigabytesPerSecond(450),
    gpusPerNode: 8, interNodePerGPU: .gigabytesPerSecond(50))

  public static let all: [GPU] = [.a100_80GB, .a100_40GB, .h100SXM]

  /// Looks a GPU up by name, case-insensitively (`A100-80GB`, `a100-80gb`).
  public static func named(_ name: String) -> GPU? {
    let key = name.lowercased()
    return all.first { $0.name == key }
  }

  /// The peak for the training precision.
  public func peak(for precision: Precision) -> FLOPsPerSecond {
    precision == .fp32 ? peak32 : peak16
  }
}
