/// The serving engine a replica runs (`megaplan serve --engine`): what it fuses, whether it
/// replays decode steps as CUDA graphs, how it all-reduces across tensor-parallel ranks, how it
/// pages the KV cache, how much prompt one step prefills, which quantised formats it runs and
/// what a step costs its CPU. `profile` holds the numbers, each with its source.
public enum ServingEngine: String, Sendable, Hashable, Codable, CaseIterable {
  case vllm
  case trtllm
  case sglang
  /// A plain PyTorch decode loop (`validation/pytorch/measure_decode.py`): eager modules with a
  /// preallocated (static) KV cache, decode steps optionally captured as one CUDA graph.
  case pytorch

  public var profile: EngineProfile {
    switch self {
    case .vllm: .vllm
    case .trtllm: .trtllm
    case .sglang: .sglang
    case .pytorch: .pytorch
    }
  }

  /// The engine's name as reports print it.
  public var displayName: String {
    switch self {
    case .vllm: "vLLM"
    case .trtllm: "TensorRT-LLM"
    case .sglang: "SGLang"
    case .pytorch: "PyTorch"
    }
  }

  /// Whether it schedules requests continuously (iteration-level batching with chunked
  /// prefill); the plain PyTorch loop runs one static batch at a time.
  public var continuousBatching: Bool { self != .pytorch }
}

/// How an engine implements a layer's small kernels (`EngineProfile.fusions`).
public struct EngineFusions: Sendable, Hashable, Codable {
  /// Rotary embeddings.
  public enum Rotary: String, Sendable, Hashable, Codable {
    /// PyTorch ops as Llama's reference code writes them: per rotated tensor neg, cat, two
    /// multiplies and an add (five kernels, ten tensor-sized reads and writes).
    case unfused
    /// One kernel rotating Q and K in place (vLLM `rotary_embedding`, SGLang
    /// `apply_rope_with_cos_sin_cache_inplace`).
    case inPlace
    /// Inside the attention kernel (TensorRT-LLM's GPT attention plugin applies RoPE as it
    /// writes the cache).
    case inAttention
  }
  /// The residual add fused into the next norm (vLLM `fused_add_rms_norm`, SGLang
  /// `fused_add_rmsnorm`, TensorRT-LLM's residual-RMSNorm); unfused, each add is its own kernel.
  public var residualIntoNorm: Bool
  public var rotary: Rotary
  /// The KV-cache write is part of the attention kernel (TensorRT-LLM's plugin); otherwise one
  /// kernel writes K and V (vLLM `reshape_and_cache_flash`, SGLang `set_kv_buffer`), or two
  /// copies in plain PyTorch.
  public var cacheWriteInAttention: Bool
  /// A gated activation is one kernel, act(gate)·up (vLLM/SGLang `silu_and_mul`,
  /// TensorRT-LLM's SwiGLU); unfused it is the activation and a multiply.
  public var gatedActivationFused: Bool
}

/// One engine's settings and costs. Every number is the engine's documented default or a
/// public measurement; docs/serve.md ("Engines") lists them with their sources.
public struct EngineProfile: Sendable, Hashable, Codable {
  public var engine: ServingEngine
  /// Decode steps replay as CUDA graphs (one launch per step, no CPU time per kernel).
  public var cudaGraphs: Bool
  /// The largest decode batch captured in a graph; larger batches run eagerly.
  public var graphMaxBatch: Int
  /// The tensor-parallel all-reduce inside an NVLink domain is the engine's own one- or
  /// two-stage kernel over NVLink (`ServingModel.allReduce`); otherwise NCCL's
  /// (`Machine.collective`).
  public var customAllReduce: Bool
  /// Tokens per KV-cache block; 0 for a static cache (one buffer per sequence of the whole
  /// input + output, read in full by every decode step's attention).
  public var kvBlockTokens: Int
  /// The most prompt tokens one step prefills (chunked prefill's token budget); nil: the
  /// whole batch's prompts in one pass.
  public var maxBatchedTokens: Int?
  /// The fused attention kernel of a prefill.
  public var prefillAttention: FusedAttentionKernel
  /// Decode attention reads each KV head once for all the query heads it serves (FlashInfer's,
  /// FlashAttention's and TensorRT-LLM's XQA kernels); false: once per query head, a/g times
  /// (TensorRT-LLM's masked multi-head attention before XQA, one thread block per query head:
  /// TensorRT-LLM ≤ 0.6; its Hopper XQA kernels for Llama 2 70B arrived in 0.10, release notes).
  public var sharedKVRead: Bool = true
  public var fusions: EngineFusions
  /// CPU time per engine step that the GPU waits for (scheduling, preparing inputs, returning
  /// sampled tokens), beyond launching the step.
  public var stepOverheadSeconds: Double
  /// Kernels of sampling one token per sequence from the logits (greedy).
  public var samplingKernels: Int
  /// Small kernels of an MoE layer around its expert GEMMs (routing, permutation, activation,
  /// the weighted sum); the plain PyTorch loop's per-expert kernels are counted apart.
  public var moeKernels: Int
  /// The weight formats it serves.
  public var precisions: Set<ServingPrecision>

  public var staticCache: Bool { kvBlockTokens == 0 }

  /// vLLM V1 (0.8–0.11): `--block-size 16`; chunked prefill with `max_num_batched_tokens` 8192
  /// (the OpenAI server's default on GPUs of 70 GiB or more, vllm/engine/arg_utils.py); decode
  /// CUDA graphs up to 512 sequences (`max_capture_size`); custom all-reduce
  /// (`custom_all_reduce.cuh`); FlashAttention 3 on Hopper (vllm-flash-attn; FlashAttention 2
  /// elsewhere); Llama's layer (vllm/model_executor/models/llama.py): `fused_add_rms_norm`,
  /// `rotary_embedding` in place, `reshape_and_cache_flash`, `silu_and_mul`; fused MoE (Triton
  /// `fused_moe`: `topk_softmax`, `moe_align_block_size`, the activation, `moe_sum`). FP8
  /// (CUTLASS W8A8; Marlin weight-only before Hopper), INT8 and INT4 AWQ/GPTQ (Marlin W8A16,
  /// W4A16), NVFP4 (CUTLASS FP4 on Blackwell). Step overhead: set from the vLLM CI row of
  /// Llama 3.1 8B on H200 (`PublishedServingRun.vllmCalibration`), held out of the mean.
  public static let vllm = EngineProfile(
    engine: .vllm, cudaGraphs: true, graphMaxBatch: 512, customAllReduce: true,
    kvBlockTokens: 16, maxBatchedTokens: 8192, prefillAttention: .flash3,
    fusions: .init(
      residualIntoNorm: true, rotary: .inPlace, cacheWriteInAttention: false,
      gatedActivationFused: true),
    stepOverheadSeconds: 1.51e-3, samplingKernels: 2, moeKernels: 4,
    precisions: Set(ServingPrecision.allCases))

  /// TensorRT-LLM (1.0, the PyTorch backend's defaults): KV blocks of 64 tokens
  /// (`tokens_per_block`, the GPT attention plugin's default), `max_num_tokens` 8192, CUDA graphs
  /// for generation batches (`cuda_graph_config`, up to 128), its one-shot/two-shot all-reduce
  /// kernels (`AllReduceStrategy.AUTO`), its own FMHA for context (FlashAttention-3 class on
  /// Hopper), the GPT attention plugin applying RoPE and writing the cache inside attention,
  /// residual + RMSNorm fused, a SwiGLU kernel; MoE: routing, permutation, activation and
  /// finalize kernels around grouped GEMMs. FP8, INT8/INT4 weight-only (`int8_wo`, `int4_awq`,
  /// W4A16 GPTQ), NVFP4 on Blackwell. Step overhead: the C++ executor overlaps scheduling with
  /// the GPU; none is added.
  public static let trtllm = EngineProfile(
    engine: .trtllm, cudaGraphs: true, graphMaxBatch: 128, customAllReduce: true,
    kvBlockTokens: 64, maxBatchedTokens: 8192, prefillAttention: .flash3,
    fusions: .init(
      residualIntoNorm: true, rotary: .inAttention, cacheWriteInAttention: true,
      gatedActivationFused: true),
    stepOverheadSeconds: 0, samplingKernels: 1, moeKernels: 4,
    precisions: Set(ServingPrecision.allCases))

  /// SGLang (0.4.6–0.5): `page_size` 1 (token-granular RadixAttention), `chunked_prefill_size`
  /// 8192 on 80 GB GPUs, decode CUDA graphs up to 160 sequences (`cuda_graph_max_bs`), custom
  /// all-reduce, FlashAttention 3 on Hopper (its default attention backend there), Llama's layer
  /// as vLLM's (sgl-kernel `fused_add_rmsnorm`, in-place rope, `set_kv_buffer`, `silu_and_mul`);
  /// FP8, INT8 (W8A8), INT4 (AWQ/GPTQ Marlin), NVFP4 (`modelopt_fp4`, Blackwell). Step overhead:
  /// none, its overlap scheduler runs the CPU's work for step n + 1 while the GPU runs step n
  /// (SGLang v0.4 release blog, "zero-overhead batch scheduler").
  public static let sglang = EngineProfile(
    engine: .sglang, cudaGraphs: true, graphMaxBatch: 160, customAllReduce: true,
    kvBlockTokens: 1, maxBatchedTokens: 8192, prefillAttention: .flash3,
    fusions: .init(
      residualIntoNorm: true, rotary: .inPlace, cacheWriteInAttention: false,
      gatedActivationFused: true),
    stepOverheadSeconds: 0, samplingKernels: 2, moeKernels: 4,
    precisions: Set(ServingPrecision.allCases))

  /// Plain PyTorch (the decode loop of `validation/pytorch/measure_decode.py`, PyTorch ≥ 2.8):
  /// `nn.RMSNorm`/`nn.LayerNorm` one fused kernel each (`aten::_fused_rms_norm`,
  /// pytorch/pytorch#153666), rotary as the reference code's neg/cat/mul/mul/add on Q and K,
  /// the cache written by two copies, `F.scaled_dot_product_attention` (its flash backend is
  /// FlashAttention 2) over the whole static cache, residual adds, SiLU and the multiply apart,
  /// biases in cuBLAS's epilogue; the whole decode step captured as one CUDA graph (off:
  /// `--cuda-graphs off`), NCCL for all-reduces, no chunking, greedy `argmax`. MoE layers run
  /// as Hugging Face's eager loop (softmax, top-k, normalise, one-hot, then per touched expert
  /// its index, three GEMMs, SiLU, two multiplies and an `index_add_`). 16-bit and FP8
  /// (`torch._scaled_mm`) weights only.
  public static let pytorch = EngineProfile(
    engine: .pytorch, cudaGraphs: true, graphMaxBatch: Int.max, customAllReduce: false,
    kvBlockTokens: 0, maxBatchedTokens: nil, prefillAttention: .flash2,
    fusions: .init(
      residualIntoNorm: false, rotary: .unfused, cacheWriteInAttention: false,
      gatedActivationFused: false),
    stepOverheadSeconds: 0, samplingKernels: 1, moeKernels: 4,
    precisions: [.bf16, .fp16, .fp8])
}

/// The small (memory-bound) kernels of one op on one rank: how many and the bytes they move
/// per token of the step.
public struct SmallKernels: Sendable, Hashable {
  public var count: Int
  public var bytesPerToken: Double
  public static let none = SmallKernels(count: 0, bytesPerToken: 0)
}

extension EngineProfile {
  /// The small kernels `op` launches in this engine on a rank whose attention has `q` query and
  /// `kv` key (= value) features per token and whose MLP is `ffn` wide (f/t; the expert slice
  /// f_e/ETP for experts), at `e` bytes per activation and `kvBytes` per cached element. The
  /// GEMMs and the attention core's KV read are counted apart (`ServingModel`). Bytes are the
  /// reads and writes of each kernel:
  /// - norm: read and write h (2h); fused with the residual add, also the residual (4h);
  /// - residual add: read two, write one (3h), unless fused into the next norm;
  /// - rotary: unfused 10(q + kv) (per tensor: neg ½ + ½, cat 1 + 1, two multiplies 1 + 1 each,
  ///   add 2 + 1); in place 2(q + kv); in attention nothing;
  /// - cache write: K and V read at e and written at kvBytes (2kv(e + kvBytes)), in one kernel
  ///   or (plain PyTorch) two;
  /// - attention core: one kernel; Q read and the output written (2q) here, its KV read apart;
  /// - gated activation: fused, read 2f and write f (3f); unfused, SiLU (2f) then the multiply
  ///   (3f); other activations 2f;
  /// - QK norms: one kernel each for Q and K, 2(q + kv).
  public func kernels(
    for op: OpKind, model: TransformerModel, q: Double, kv: Double, ffn: Double, e: Double,
    kvBytes: Double
  ) -> SmallKernels {
    let h = Double(model.hidden)
    let fused = fusions.residualIntoNorm
    switch op {
    case .inputNorm, .preMlpNorm:
      return SmallKernels(count: 1, bytesPerToken: (fused ? 4 : 2) * h * e)
    case .postAttentionNorm, .ffnNorm, .postMlpNorm:
      return SmallKernels(count: 1, bytesPerToken: 2 * h * e)
    case .attentionResidual, .mlpResidual:
      return fused ? .none : SmallKernels(count: 1, bytesPerToken: 3 * h * e)
    case .qkNorm:
      return SmallKernels(count: 2, bytesPerToken: 2 * (q + kv) * e)
    case .rotary:
      switch fusions.rotary {
      case .unfused: return SmallKernels(count: 10, bytesPerToken: 10 * (q + kv) * e)
      case .inPlace: return SmallKernels(count: 1, bytesPerToken: 2 * (q + kv) * e)
      case .inAttention: return .none
      }
    case .attentionCore:
      let cache = 2 * kv * (e + kvBytes)
      if fusions.cacheWriteInAttention {
        return SmallKernels(count: 1, bytesPerToken: 2 * q * e + cache)
      }
      let writes = engine == .pytorch ? 2 : 1
      return SmallKernels(count: 1 + writes, bytesPerToken: 2 * q * e + cache)
    case .activation, .sharedActivation, .expertActivation:
      guard model.gatedMLP else { return SmallKernels(count: 1, bytesPerToken: 2 * ffn * e) }
      return gatedActivationFused(ffn: ffn, e: e)
    default:
      return .none
    }
  }

  func gatedActivationFused(ffn: Double, e: Double) -> SmallKernels {
    fusions.gatedActivationFused
      ? SmallKernels(count: 1, bytesPerToken: 3 * ffn * e)
      : SmallKernels(count: 2, bytesPerToken: 5 * ffn * e)
  }
}
