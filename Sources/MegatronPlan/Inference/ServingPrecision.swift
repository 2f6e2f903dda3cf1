/// The number format of the served weights. Quantisation applies to the transformer layers'
/// linear weights (QKV, projection, fc1, fc2), as AWQ, GPTQ, TensorRT-LLM and vLLM quantise them
/// by default; embeddings, norms, biases and the output layer stay 16-bit (docs/serve.md,
/// "Weights").
public enum ServingPrecision: String, Sendable, Hashable, Codable, CaseIterable {
  case bf16
  case fp16
  /// FP8 (E4M3) weights and activations (W8A8, TensorRT-LLM / vLLM `fp8`): one fp32 scale per
  /// tensor; the GEMMs run on FP8 tensor cores where the GPU has them (Hopper and later), at the
  /// 16-bit rate otherwise (vLLM runs FP8 checkpoints weight-only on Ampere).
  case fp8
  /// INT8 weight-only (W8A16): one fp16 scale per output channel (per-channel symmetric, as
  /// TensorRT-LLM's `int8_wo` and vLLM's W8A16 kernels); GEMMs compute in 16-bit.
  case int8
  /// INT4 weight-only (W4A16, AWQ / GPTQ): one fp16 scale per group of 128 input weights of an
  /// output channel (their default `group_size` / `q_group_size` 128); GEMMs compute in 16-bit.
  case int4
  /// NVFP4 weights and activations (W4A4, E2M1 values with one FP8 E4M3 scale per block of 16
  /// and one fp32 scale per tensor: NVIDIA's NVFP4 format as TensorRT-LLM, vLLM and SGLang
  /// serve it): the GEMMs run on FP4 tensor cores, which only Blackwell has.
  case nvfp4

  /// Bytes of one quantised linear weight.
  public var weightBytes: Double {
    switch self {
    case .bf16, .fp16: 2
    case .fp8, .int8: 1
    case .int4, .nvfp4: 0.5
    }
  }

  /// Elements sharing one FP8 scale in an NVFP4 block (NVIDIA's NVFP4: 16).
  public static let nvfp4BlockSize = 16

  /// Input weights sharing one scale in an INT4 group (AWQ/GPTQ default `group_size` 128).
  public static let int4GroupSize = 128

  /// Bytes of the quantisation scales of one [k, n] weight shard (k inputs, n outputs): INT4 one
  /// fp16 scale per group of 128 inputs per output, ⌈k/128⌉·n·2; INT8 one fp16 scale per
  /// output channel, 2n; FP8 one fp32 per-tensor scale, 4; NVFP4 one FP8 scale per 16 inputs
  /// per output and one fp32 per tensor, ⌈k/16⌉·n + 4; none for 16-bit. AWQ's asymmetric
  /// 4-bit zero points (half a byte per group) are left out: 0.4 % of the INT4 weights.
  public func scaleBytes(inputs k: Double, outputs n: Double) -> Double {
    switch self {
    case .bf16, .fp16: 0
    case .fp8: 4
    case .int8: 2 * n
    case .int4: (k / Double(Self.int4GroupSize)).rounded(.up) * n * 2
    case .nvfp4: (k / Double(Self.nvfp4BlockSize)).rounded(.up) * n + 4
    }
  }

  /// The GEMMs run on FP8 tensor cores (W8A8) rather than at the 16-bit rate.
  public var computesInFP8: Bool { self == .fp8 }
  /// The GEMMs run on FP4 tensor cores (W4A4).
  public var computesInFP4: Bool { self == .nvfp4 }
}

/// The number format of the KV cache (vLLM `--kv-cache-dtype`: `auto` keeps the model's 16-bit
/// type; `fp8` halves it, with a per-tensor scale that is left out).
public enum KVCachePrecision: String, Sendable, Hashable, Codable, CaseIterable {
  case bf16
  case fp16
  case fp8
  case int8

  /// Bytes of one cached key or value element.
  public var bytes: Double {
    switch self {
    case .bf16, .fp16: 2
    case .fp8, .int8: 1
    }
  }
}
