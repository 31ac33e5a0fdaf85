#!/usr/bin/env bash
# The CIFAR-10 reproduction of SkipNet's accuracy/computation trade-off on a 2-core CPU:
# a plain ResNet-38 and SkipNet-38 (SP, then HRL at three alphas), each final model
# trained for 2000 steps of batch 128 on the CIFAR-10 JPEG copy in ../shared/datasets.
# Two runs share the machine at a time, one LibTorch thread each (two single-threaded
# processes use 2 cores better than one two-threaded one on 32x32 images); the last
# HRL run has the machine to itself and uses both threads.
#
#   bash scripts/reproduce-cifar10.sh [out dir, default runs/repro]
#
# It ends by evaluating every model with a threshold sweep (skipnet eval --out <run>/eval
# --sweep) and writing the report: <out>/report/report.html, runs.csv (the README table).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/repro}"
ALPHAS=(${SKIPNET_REPRO_ALPHAS:-0.1 0.5 2})
# SKIPNET_REPRO_GATE_WARMUP=N: SP holds the gates open for its first N steps (gateWarmupSteps).
# SKIPNET_REPRO_SP_SET / SKIPNET_REPRO_HRL_SET: space-separated key=value settings added to every
# SP / HRL run, e.g. SKIPNET_REPRO_SP_SET="executionTarget.rate=0.7 executionTarget.weight=10".
SP_EXTRA=()
HRL_EXTRA=()
[ -n "${SKIPNET_REPRO_GATE_WARMUP:-}" ] && SP_EXTRA+=(--set "gateWarmupSteps=$SKIPNET_REPRO_GATE_WARMUP")
for kv in ${SKIPNET_REPRO_SP_SET:-}; do SP_EXTRA+=(--set "$kv"); done
for kv in ${SKIPNET_REPRO_HRL_SET:-}; do HRL_EXTRA+=(--set "$kv"); done
mkdir -p "$OUT/logs"
cli() { node dist/cli/main.js "$@"; }

# Runs one training command in the background, logging its output and wall time.
run_bg() {
  local name="$1"; shift
  ( start=$(date +%s)
    cli train --json --out "$OUT/$name" "$@" > "$OUT/logs/$name.jsonl" 2> "$OUT/logs/$name.err"
    echo "{\"run\":\"$name\",\"wallSeconds\":$(( $(date +%s) - start ))}" > "$OUT/logs/$name.wall.json" ) &
}

echo "[repro] stage 1: plain ResNet-38 and SkipNet-38 SP (1 thread each)"
run_bg resnet38 --preset cifar10-repro-resnet38 --threads 1
run_bg skipnet38-sp --preset cifar10-repro-skipnet38-sp "${SP_EXTRA[@]}" --threads 1
wait

echo "[repro] stage 2: HRL at alpha ${ALPHAS[0]} and ${ALPHAS[1]} (1 thread each)"
run_bg "skipnet38-hrl-a${ALPHAS[0]}" --preset cifar10-repro-skipnet38-hrl --init "$OUT/skipnet38-sp" --set "hrl.alpha=${ALPHAS[0]}" "${HRL_EXTRA[@]}" --threads 1
run_bg "skipnet38-hrl-a${ALPHAS[1]}" --preset cifar10-repro-skipnet38-hrl --init "$OUT/skipnet38-sp" --set "hrl.alpha=${ALPHAS[1]}" "${HRL_EXTRA[@]}" --threads 1
wait

echo "[repro] stage 3: HRL at alpha ${ALPHAS[2]} (2 threads)"
run_bg "skipnet38-hrl-a${ALPHAS[2]}" --preset cifar10-repro-skipnet38-hrl --init "$OUT/skipnet38-sp" --set "hrl.alpha=${ALPHAS[2]}" "${HRL_EXTRA[@]}" --threads 2
wait
RUNS=("$OUT/resnet38" "$OUT/skipnet38-sp")
for a in "${ALPHAS[@]}"; do RUNS+=("$OUT/skipnet38-hrl-a$a"); done
echo "[repro] stage 4: evaluation with routing records and a threshold sweep"
for r in "${RUNS[@]}"; do
  cli eval "$r" --out "$r/eval" --sweep "${SKIPNET_REPRO_SWEEP:-0.2,0.35,0.5,0.65,0.8}" --threads 2 > "$OUT/logs/$(basename "$r").eval.txt"
done
echo "[repro] stage 5: report"
cli report "${RUNS[@]}" --out "$OUT/report/report.html"
echo "[repro] done: $OUT/report/report.html"
