#!/usr/bin/env bash
# Fuzz the config readers (NeMo YAML + OmegaConf interpolation + loader, and the Megatron-LM
# script reader) with libFuzzer. Usage: Scripts/fuzz-config.sh [SECONDS] (default 600).
# Needs a Swift toolchain with libFuzzer (swiftc -sanitize=fuzzer on Linux).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
build=Scripts/.fuzz-build
corpus=Scripts/fuzz-corpus
mkdir -p "$build" "$corpus"
# Seed the corpus with the real configs and the bundled ones, each named by its path (files of the
# same name in different folders must not overwrite each other).
count=0
while IFS= read -r -d '' file; do
  cp "$file" "$corpus/$(printf '%s' "$file" | tr '/' '_')"
  count=$((count + 1))
done < <(find Tests/MegatronPlanTests/Fixtures configs -type f \( -name '*.yaml' -o -name '*.sh' -o -name '*.slurm' \) -print0)
echo "seeded $count files"
if [ "${SEED_ONLY:-}" = 1 ]; then exit 0; fi
swiftc -sanitize=fuzzer,address -parse-as-library -O \
  $(find Sources/MegatronPlan -name '*.swift') Scripts/fuzz/FuzzConfig.swift \
  -module-name MegatronPlan -o "$build/fuzz-config"
"$build/fuzz-config" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
  -print_final_stats=1 "$corpus" 2>&1 | tee "$build/last-run.log" | grep -E '^(#[0-9]+.*(pulse|DONE)|stat::|==|SUMMARY|ERROR|Done)' || true
grep -E 'stat::number_of_executed_units|SUMMARY|ERROR' "$build/last-run.log" || true
