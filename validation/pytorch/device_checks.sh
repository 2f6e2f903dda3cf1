#!/bin/sh
# Every GPU measurement megaplan's open questions need, in one call of the device tool (about
# 8 minutes on an H100; each step has its own time limit and a failed step does not stop the
# rest). Measures only: the comparisons with megaplan run afterwards where megaplan is built
# (docs/validation.md, "A session with a GPU"). Writes under $OUT (default ./device-out).
#   run: sh validation/pytorch/device_checks.sh        (timeout_s 560)
out=${OUT:-device-out}
mkdir -p "$out"
log="$out/device-checks.log"
step() {  # step NAME SECONDS COMMAND...
  name=$1; limit=$2; shift 2
  start=$(date +%s)
  if timeout "$limit" "$@" >> "$log" 2>&1; then status=ok; else status="failed ($?)"; fi
  echo "$name: $status in $(( $(date +%s) - start )) s" | tee -a "$log"
}
{ nvidia-smi; python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name())"; } > "$out/device.txt" 2>&1
# 1. BF16 and FP8 GEMMs of layer shards, MoE expert GEMMs grouped and one by one (issues 11
#    and 13), HBM bandwidth.
step gemm 180 python3 validation/pytorch/measure_gemm.py --out "$out/gemm.json"
# 2. Whole training steps: allocated, reserved and device peaks (issue 12), b = 2, the six
#    recompute × attention cases of each model, expandable segments off and on for "none".
for model in gpt llama; do
  extra=""; [ $model = llama ] && extra="--groups 4"
  for rc in none selective full; do for att in explicit sdpa; do
    step "step-memory $model $rc $att" 30 python3 validation/pytorch/measure_step_memory.py \
      --model $model $extra --hidden 2048 --heads 16 --layers 8 --seq 2048 --micro-batch 2 \
      --microbatches 4 --vocab 51200 --recompute $rc --attention $att \
      --json-out "$out/step-memory-gpu.json"
  done; done
  step "step-memory $model none explicit expandable" 30 python3 \
    validation/pytorch/measure_step_memory.py --model $model $extra --hidden 2048 --heads 16 \
    --layers 8 --seq 2048 --micro-batch 2 --microbatches 4 --vocab 51200 --recompute none \
    --attention explicit --expandable-segments --json-out "$out/step-memory-gpu.json"
done
# 3. Fused attention forward/backward at 8k-64k (issue 14's kernel curve).
step attention 90 python3 validation/pytorch/measure_attention.py --out "$out/attention.json"
# 4. Llama-style layer times and saved bytes on the GPU (issue 10/11).
step llama-layer 60 python3 validation/pytorch/measure_llama_layer.py --device cuda \
  --hidden 4096 --heads 32 --groups 8 --ffn 14336 --seq 4096 --micro-batch 1 --tensor 1 \
  --attention sdpa --norm fused --json-out "$out/llama-layer-gpu.json"
# 5. Decode steps (issue 16), and as megaplan's `pytorch` engine assumes them (issue 25):
#    static cache, CUDA graphs, batches 1-64 at 1024/128, a prefill sweep at batch 1.
step decode 60 python3 validation/pytorch/measure_decode.py --out "$out/decode.json"
step decode-graphs 150 python3 validation/pytorch/measure_decode.py --cuda-graphs \
  --models llama-1b,llama3-8b --batches 1,2,4,8,16,32,64 --input 1024 --output 128 \
  --prefill-lengths 128,512,1024,2048,4096 --out "$out/decode-graphs.json"
# 6. Host time (issues 23 and 24): the CPU time of an eager op, with and without autograd, of a
#    CUDA graph launch and of a host round trip, the constants of megaplan's host model.
step host 60 python3 validation/pytorch/measure_host.py --out "$out/host.json"
ls -l "$out" >> "$log"
