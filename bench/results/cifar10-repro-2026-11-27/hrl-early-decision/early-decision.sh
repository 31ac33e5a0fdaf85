#!/bin/bash
# The fifteenth try's recipe for one seed, as run in session 15 (from the repository root after
# `npm run build`, with SKIPNET_SHARED_DATASETS pointing at the shared datasets): HRL on a
# 1700-step schedule, stopped after its step-850 evaluation, then SP with hard routing for the
# remaining 850 steps of the 2000-step budget, then the evaluation with a threshold sweep.
# The SP start runs/s12/sp300-open-seedS is the twelfth try's (../hrl-seeds/README.md).
# `--stop-at 850` on the HRL command does the same as the wait-and-stop below (stopAt keeps the
# schedule's length; checked byte for byte on seed 0, see README.md); it landed after these runs.
set -eu
S=$1
node dist/cli/main.js train --json --out runs/s15/a05-r0.85-seed$S --preset cifar10-repro-skipnet38-hrl \
    --init runs/s12/sp300-open-seed$S --set hrl.baseline=self-critical --set optimizer.lr=0.1 \
    --set schedule.steps=1700 --set evalEvery=850 --set hrl.sharpen=0.01 --set hrl.gateBiasShift=2.2 \
    --set logEvery=10 --set 'hrl.logitBound={"limit":3,"side":"execute"}' --set seed=$S --threads 1 \
    --set hrl.alpha=0.5 --set 'hrl.executionTarget={"rate":0.85,"alphaStep":0.005}' > runs/s15/a05-r0.85-seed$S.log 2>&1 &
PID=$!
until grep -q '"type":"eval","step":850' runs/s15/a05-r0.85-seed$S/metrics.jsonl 2>/dev/null; do sleep 5; done
sleep 20   # let the checkpoint finish writing after the eval line
grep -q '"step": 850' runs/s15/a05-r0.85-seed$S/best/state.json || { echo "best is not step 850"; exit 1; }
cp -r runs/s15/a05-r0.85-seed$S/best runs/s15/a05-r0.85-seed$S-step850
kill -TERM $PID; wait $PID || true   # SIGTERM: saves last/ and exits with ERR_ABORTED
node dist/cli/main.js train --json --out runs/s15/spcont-r0.85-seed$S --preset cifar10-repro-skipnet38-sp \
  --init runs/s15/a05-r0.85-seed$S-step850 --set optimizer.lr=0.05 --set schedule.warmupSteps=0 \
  --set schedule.steps=850 --set evalEvery=425 --set gateWarmupSteps=0 --set seed=$S --threads 1 > runs/s15/spcont-r0.85-seed$S.log 2>&1
node dist/cli/main.js eval runs/s15/spcont-r0.85-seed$S --out runs/s15/spcont-r0.85-seed$S/eval \
  --sweep 0.05,0.2,0.35,0.65,0.8 --threads 1 > runs/s15/spcont-r0.85-seed$S.eval.txt 2>&1
