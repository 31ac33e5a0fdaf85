#!/usr/bin/env bash
# The CIFAR-10 reproduction of SkipNet's accuracy/computation trade-off on a 2-core CPU:
# a plain ResNet-38 and SkipNet-38 (SP, then HRL at three alphas), each final model
# trained for 2000 steps of batch 128 on the CIFAR-10 JPEG copy in ../shared/datasets.
# Two runs share the machine at a time, one LibTorch thread each (two single-threaded
# processes use 2 cores better than one two-threaded one on 32x32 images); the last
# HRL run has the machine to itself and uses both threads.
#
#   bash scripts/reproduce-cifar10.sh [out dir, default runs/repro]
#   npm run skipnet -- report runs/repro/*   # then the table and the HTML report
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/repro}"
ALPHAS=(${SKIPNET_REPRO_ALPHAS:-0.1 0.5 2})
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
run_bg skipnet38-sp --preset cifar10-repro-skipnet38-sp --threads 1
wait

echo "[repro] stage 2: HRL at alpha ${ALPHAS[0]} and ${ALPHAS[1]} (1 thread each)"
run_bg "skipnet38-hrl-a${ALPHAS[0]}" --preset cifar10-repro-skipnet38-hrl --init "$OUT/skipnet38-sp" --set "hrl.alpha=${ALPHAS[0]}" --threads 1
run_bg "skipnet38-hrl-a${ALPHAS[1]}" --preset cifar10-repro-skipnet38-hrl --init "$OUT/skipnet38-sp" --set "hrl.alpha=${ALPHAS[1]}" --threads 1
wait

echo "[repro] stage 3: HRL at alpha ${ALPHAS[2]} (2 threads)"
run_bg "skipnet38-hrl-a${ALPHAS[2]}" --preset cifar10-repro-skipnet38-hrl --init "$OUT/skipnet38-sp" --set "hrl.alpha=${ALPHAS[2]}" --threads 2
wait
echo "[repro] done: $OUT"
