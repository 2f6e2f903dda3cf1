#!/usr/bin/env bash
# Fuzz the command line in process (estimate, compare, check, search, config; --emit-config,
# --chart, output errors) with libFuzzer. Usage: Scripts/fuzz-cli.sh [SECONDS] (default 600).
# Builds the library as a module, then Scripts/fuzz/FuzzCLI.swift with the MegaplanCLI sources.
# Needs a Swift toolchain with libFuzzer (swiftc -sanitize=fuzzer on Linux).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
build=Scripts/.fuzz-build/cli
corpus="$build/corpus"
mkdir -p "$build" "$corpus"
# Seeds: each config, prefixed with a byte for each command (the target picks by the first byte).
i=0
while IFS= read -r -d '' file; do
  for choice in 0 1 2 3 6 8 9 11 12 130; do
    { printf "\\$(printf '%03o' "$choice")"; cat "$file"; } >"$corpus/seed-$i-$choice"
  done
  i=$((i + 1))
done < <(find configs Tests/MegatronPlanTests/Fixtures/nemo -type f -name '*.yaml' -print0)
flags=(-sanitize=fuzzer,address -parse-as-library -O)
swiftc "${flags[@]}" -emit-module -emit-library -static -module-name MegatronPlan \
  -emit-module-path "$build/MegatronPlan.swiftmodule" -o "$build/libMegatronPlan.a" \
  $(find Sources/MegatronPlan -name '*.swift')
swiftc "${flags[@]}" -I "$build" -L "$build" -lMegatronPlan -module-name MegaplanCLIFuzz \
  $(find Sources/MegaplanCLI -name '*.swift') Scripts/fuzz/FuzzCLI.swift -o "$build/fuzz-cli"
# Traps, memory errors, leaks and the output rules are what this target checks.
"$build/fuzz-cli" -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=4096 \
  -print_final_stats=1 "$corpus" 2>&1 | tee "$build/last-run.log" | grep -E '^(#[0-9]+.*(pulse|DONE)|stat::|==|SUMMARY|ERROR|Done)' || true
grep -E 'stat::number_of_executed_units|SUMMARY|ERROR' "$build/last-run.log" || true
