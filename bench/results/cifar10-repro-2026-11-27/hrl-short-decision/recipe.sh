#!/bin/bash
# The sixteenth try's recipe for one seed (from the repository root after `npm run build`, with
# SKIPNET_SHARED_DATASETS pointing at the shared datasets): from the twelfth try's SP start
# (300 steps, gates open), HRL on a 1700-step schedule stopped at step STOP (`--stop-at`), then
# SP with hard routing for the remaining 1700 - STOP steps of the 2000-step budget, starting at
# the HRL schedule's learning rate at STOP and annealing it to 0, then the evaluation.
#   recipe.sh SEED ALPHA0 RATE ALPHA_STEP_DOWN STOP [detached]
# ALPHA_STEP_DOWN "-" leaves hrl.executionTarget.alphaStepDown unset (= alphaStep).
# "detached" sets gatesReadDetached in the HRL stage (the SP stages keep the reference's reading).
set -eu
S=$1 A=$2 R=$3 D=$4 STOP=$5 DET=${6:-}
NAME=a$A-r$R-d$D-stop$STOP${DET:+-$DET}-seed$S
HRL_EXTRA=()
[ "$DET" = detached ] && HRL_EXTRA=(--set gatesReadDetached=true)
SP_STEPS=$((1700 - STOP))
# The HRL schedule is cosine over 1700 steps from 0.1 without warm-up: its lr at step STOP.
SP_LR=$(node -e "console.log((0.05 * (1 + Math.cos(Math.PI * $STOP / 1700))).toFixed(4))")
TARGET="{\"rate\":$R,\"alphaStep\":0.005$([ "$D" = - ] || echo ",\"alphaStepDown\":$D")}"
mkdir -p runs/s16
node dist/cli/main.js train --json --out runs/s16/$NAME --preset cifar10-repro-skipnet38-hrl \
    --init runs/s12/sp300-open-seed$S --set hrl.baseline=self-critical --set optimizer.lr=0.1 \
    --set schedule.steps=1700 --set evalEvery=$STOP --set hrl.sharpen=0.01 --set hrl.gateBiasShift=2.2 \
    --set logEvery=10 --set 'hrl.logitBound={"limit":3,"side":"execute"}' --set seed=$S --threads 1 \
    --set hrl.alpha=$A --set "hrl.executionTarget=$TARGET" --stop-at $STOP "${HRL_EXTRA[@]}" > runs/s16/$NAME.log 2>&1
node dist/cli/main.js train --json --out runs/s16/sp-$NAME --preset cifar10-repro-skipnet38-sp \
    --init runs/s16/$NAME --set optimizer.lr=$SP_LR --set schedule.warmupSteps=0 \
    --set schedule.steps=$SP_STEPS --set evalEvery=$SP_STEPS --set logEvery=10 --set gateWarmupSteps=0 \
    --set seed=$S --threads 1 > runs/s16/sp-$NAME.log 2>&1
node dist/cli/main.js eval runs/s16/sp-$NAME --out runs/s16/sp-$NAME/eval \
    --sweep 0.05,0.2,0.35,0.65,0.8 --threads 1 > runs/s16/sp-$NAME.eval.txt 2>&1
