#!/usr/bin/env bash
# The README's intrinsic-dimension experiment (issue 11): d90 of SST-2 fine-tuning for
# tiny-bert-mlm from random initial weights through its pretraining checkpoints to the final
# model. SAID for every checkpoint and DID for the final model and checkpoint-250, each a search
# over powers of two from 4,096 to 131,072 (one bisection step at the end), one seed per probe and
# θ_d's learning rate 3e-4 (the better of 3e-4 and 3e-3 on the final model from d = 1,024 to
# 8,192, where 3e-3 stayed at chance from d = 2,048 up); full fine-tuning baselines at lr 5e-4 on
# the same 2,000 training sentences × 2 epochs, scored on the whole dev set. Every search resumes,
# so the script can be stopped and run again; on 2 cores it takes about 1 hour.
#
# A second pass (into <out-dir>-lrs) gives every probe Aghajanyan et al.'s four learning rates
# (1e-4, 3e-4, 1e-3, 3e-3) for SAID on the final model and checkpoint-250, d from 2,048 to 65,536.
#
#     scripts/intrinsic-dim-experiment.sh [out-dir]        (default experiments/intrinsic-dim; needs ../shared)
#     REPGEOM="node /other/checkout/dist/cli/main.js" scripts/intrinsic-dim-experiment.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=$(cd "${SHARED:-../shared}" && pwd)
OUT=${1:-experiments/intrinsic-dim}
read -r -a repgeom <<< "${REPGEOM:-node dist/cli/main.js}"
MODEL=$SHARED/models/tiny-bert-mlm
mkdir -p "$OUT"

# Random initial weights of the same architecture: step-0 of a seeded pretraining run.
[ -d "$OUT/random-init/checkpoints/step-0" ] || "${repgeom[@]}" pretrain --config "$MODEL/config.json" --tokenizer "$MODEL" \
  --data data/default/text.txt --steps 1 --seed 0 --quiet --out "$OUT/random-init"

budget=(--task sst2 --data "$SHARED/data/glue/SST-2" --train-limit 2000 --epochs 2 --max-length 64
  --baseline-lr 5e-4 --lr 3e-4 --seeds-per-probe 1 --search --min-dim 4096 --max-dim 131072 --tolerance 0.5)
search() { # name model method
  "${repgeom[@]}" intrinsic-dim --model "$2" --method "$3" "${budget[@]}" --out "$OUT/$1-$3"
}
search final "$MODEL" said
search final "$MODEL" did
search checkpoint-250 "$MODEL/checkpoint-250" said
search checkpoint-250 "$MODEL/checkpoint-250" did
search random-init "$OUT/random-init/checkpoints/step-0" said
search checkpoint-1000 "$MODEL/checkpoint-1000" said
search checkpoint-2500 "$MODEL/checkpoint-2500" said

# Second pass: four learning rates per probe, keeping the best (θ_d's best rate shrinks as d grows).
lrs=(--task sst2 --data "$SHARED/data/glue/SST-2" --train-limit 2000 --epochs 2 --max-length 64
  --baseline-lr 5e-4 --lrs=1e-4,3e-4,1e-3,3e-3 --seeds-per-probe 1 --search --min-dim 2048 --max-dim 65536 --tolerance 0.5)
mkdir -p "$OUT-lrs"
for m in final:$MODEL checkpoint-250:$MODEL/checkpoint-250; do
  "${repgeom[@]}" intrinsic-dim --model "${m#*:}" --method said "${lrs[@]}" --out "$OUT-lrs/${m%%:*}-said"
done
