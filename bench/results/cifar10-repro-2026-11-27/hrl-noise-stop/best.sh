#!/bin/bash
# The seventeenth try's best recipe for one seed, from nothing (from the repository root after
# `npm run build`, with SKIPNET_SHARED_DATASETS pointing at the shared datasets):
#   bash bench/results/cifar10-repro-2026-11-27/hrl-noise-stop/best.sh S
# 1. SP, 300 steps with every gate held open: the twelfth try's command (../hrl-seeds/README.md);
#    skipped when runs/s12/sp300-open-seedS already has a checkpoint.
# 2. HRL on a 1700-step schedule, stopped at step 450 (recipe.sh hrl).
# 3. SP with hard routing for the other 1250 steps, then the evaluation (recipe.sh finish).
# These are the commands the try ran, stage by stage (2000 steps of batch 128 in all). Seed 0 gave
# 76.06 % at CP 53.58 % on the dev VM; one-thread runs are deterministic on one machine, but another
# CPU's arithmetic can take another trajectory (README.md in this folder).
set -eu
S=$1
R=$(dirname "$0")/recipe.sh
if [ ! -f runs/s12/sp300-open-seed$S/last/state.json ]; then
  mkdir -p runs/s12
  node dist/cli/main.js train --json --out runs/s12/sp300-open-seed$S --preset cifar10-repro-skipnet38-sp \
    --set gateWarmupSteps=300 --set schedule.kind=step --set schedule.steps=300 --set evalEvery=300 \
    --set seed=$S --threads 1 > runs/s12/sp300-open-seed$S.log 2>&1
fi
bash $R hrl $S 2.2 runs/s12/sp300-open-seed$S 0.5 450
bash $R finish runs/s17/hrl-shift2.2-a0.5-stop450-sp300-open-seed$S $S false sp-hrl-shift2.2-a0.5-stop450-seed$S 450
echo "evaluation: runs/s17/sp-hrl-shift2.2-a0.5-stop450-seed$S.eval.txt"
