#!/usr/bin/env bash
# The same-budget comparison behind docs/RESULTS.md: the default model (MaxSim + MLM, describer
# captions, word-link grounding), MaxSim without MLM, the global baseline, and the default without
# describer captions, without grounding, and with a 3x slower text learning rate. Every run gets
# the same steps, batch and schedule (warm-up and frozen-text phase scaled with the steps as in the
# 1,500-step default); a run that was cut off resumes from its last checkpoint; then
# training/evaluate.py writes the report.
#
#   bash training/ablations.sh [STEPS] [THREADS]   (defaults: 500 steps, all cores)
#
# Runs land in runs/ablate-STEPS/<name>. On a 2-core CPU, 500 steps of 64 take 20-30 min per
# run (the MLM-free run less).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-500}
THREADS=${2:-0}
OUT=runs/ablate-$STEPS
WARMUP=$(( STEPS * 200 / 1500 ))
FROZEN=$(( STEPS * 300 / 1500 ))
EVAL=$(( STEPS / 5 ))
for name in maxsim_mlm maxsim global no_describer no_grounding text_lr_low; do
  dir=$OUT/$name
  if [ -f "$dir/last.json" ] && python3 - "$dir/last.json" "$STEPS" <<'EOF'
import json, sys
sys.exit(0 if json.load(open(sys.argv[1])).get("step", 0) >= int(sys.argv[2]) else 1)
EOF
  then echo "[ablations] $name: finished earlier"; continue; fi
  resume=(); [ -f "$dir/last.json" ] && resume=(--resume)
  echo "[ablations] $name: training ($STEPS steps) into $dir"
  ./dev py training/train.py "training/configs/$name.json" "${resume[@]}" \
    --train.run_dir="$dir" --train.max_steps="$STEPS" --train.warmup_steps="$WARMUP" \
    --train.text_frozen_steps="$FROZEN" --train.eval_every="$EVAL" --train.checkpoint_every="$EVAL" \
    --train.threads="$THREADS" > "$OUT.$name.log" 2>&1
done
./dev py training/evaluate.py "$OUT"/{maxsim_mlm,maxsim,global,no_describer,no_grounding,text_lr_low}
