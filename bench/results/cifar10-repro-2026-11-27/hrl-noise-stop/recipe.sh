#!/bin/bash
# Seventeenth try: the fifteenth try's recipe (SP 300 with the gates open, HRL on a 1700-step
# schedule stopped early, SP with hard routing for the rest of the 2000-step budget) with less
# sampling noise in HRL (gates started nearer p = 1), an lr warm-up in the SP start, gates that
# read detached block outputs in the SP stages, or an earlier decision. From the repository root
# after `npm run build`, with SKIPNET_SHARED_DATASETS pointing at the shared datasets:
#   recipe17.sh spstart S                  SP 300, gates open, gatesReadDetached (out runs/s17/sp300-open-det-seedS)
#   recipe17.sh spstartwu S                the same without the detach, with a 50-step linear lr warm-up (out runs/s17/sp300-open-wu50-seedS)
#   recipe17.sh hrl S SHIFT START [ALPHA0 [STOP]]
#                                          HRL from START (an SP run), hrl.gateBiasShift=SHIFT, alpha from ALPHA0 (0.5),
#                                          stopped at STOP (850) of its 1700-step schedule
#   recipe17.sh finish HRLDIR S DET NAME [STOP]
#                                          SP for 1700 - STOP steps from HRLDIR (gatesReadDetached=DET: true|false),
#                                          from the HRL schedule's lr at STOP annealed to 0, then the evaluation
# The twelfth try's SP starts are runs/s12/sp300-open-seedS (bench/results/cifar10-repro-2026-11-27/hrl-seeds/).
set -eu
mkdir -p runs/s17
case $1 in
spstart)
  S=$2
  node dist/cli/main.js train --json --out runs/s17/sp300-open-det-seed$S --preset cifar10-repro-skipnet38-sp \
    --set gateWarmupSteps=300 --set schedule.kind=step --set schedule.steps=300 --set evalEvery=300 \
    --set gatesReadDetached=true --set logEvery=10 --set seed=$S --threads 1 > runs/s17/sp300-open-det-seed$S.log 2>&1 ;;
spstartwu)
  S=$2
  node dist/cli/main.js train --json --out runs/s17/sp300-open-wu50-seed$S --preset cifar10-repro-skipnet38-sp \
    --set gateWarmupSteps=300 --set schedule.kind=step --set schedule.steps=300 --set evalEvery=300 \
    --set schedule.warmupSteps=50 --set logEvery=10 --set seed=$S --threads 1 > runs/s17/sp300-open-wu50-seed$S.log 2>&1 ;;
hrl)
  S=$2 SHIFT=$3 START=$4 A=${5:-0.5} STOP=${6:-850}
  NAME=hrl-shift$SHIFT-$(basename $START)
  [ "$A" = 0.5 ] && [ "$STOP" = 850 ] || NAME=hrl-shift$SHIFT-a$A-stop$STOP-$(basename $START)
  node dist/cli/main.js train --json --out runs/s17/$NAME --preset cifar10-repro-skipnet38-hrl \
    --init $START --set hrl.baseline=self-critical --set optimizer.lr=0.1 \
    --set schedule.steps=1700 --set evalEvery=$STOP --set hrl.sharpen=0.01 --set hrl.gateBiasShift=$SHIFT \
    --set logEvery=10 --set 'hrl.logitBound={"limit":3,"side":"execute"}' --set seed=$S --threads 1 \
    --set hrl.alpha=$A --set 'hrl.executionTarget={"rate":0.85,"alphaStep":0.005}' --stop-at $STOP > runs/s17/$NAME.log 2>&1 ;;
finish)
  HRLDIR=$2 S=$3 DET=$4 NAME=$5 STOP=${6:-850}
  # The HRL schedule is cosine over 1700 steps from 0.1 without warm-up: its lr at step STOP.
  LR=$(node -e "console.log((0.05 * (1 + Math.cos(Math.PI * $STOP / 1700))).toFixed(4))")
  node dist/cli/main.js train --json --out runs/s17/$NAME --preset cifar10-repro-skipnet38-sp \
    --init $HRLDIR --set optimizer.lr=$LR --set schedule.warmupSteps=0 \
    --set schedule.steps=$((1700 - STOP)) --set evalEvery=$((1700 - STOP)) --set logEvery=10 --set gateWarmupSteps=0 \
    --set gatesReadDetached=$DET --set seed=$S --threads 1 > runs/s17/$NAME.log 2>&1
  node dist/cli/main.js eval runs/s17/$NAME --out runs/s17/$NAME/eval \
    --sweep 0.05,0.2,0.35,0.65,0.8 --threads 1 > runs/s17/$NAME.eval.txt 2>&1 ;;
*) echo "unknown stage $1"; exit 2 ;;
esac
