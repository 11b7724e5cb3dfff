#!/usr/bin/env bash
# The README's I-STAR experiment (issue 10), start to end: tiny-bert-mlm fine-tuned on SST-2
# (8,000 training sentences, the full dev set) with I-STAR at λ ∈ {−5, −1, 0, +1, +5} × 3 seeds,
# on RTE with the same λ × 2 seeds, and with CosReg (λ ∈ {1, 5} × 3 seeds) on SST-2 as the
# paper's baseline; then `repgeom compare` over each. Every sweep resumes, so the script can be
# stopped and run again; on 2 cores it takes about 1 h 15 min.
#
#     scripts/istar-experiment.sh [out-dir]        (default experiments/istar; needs ../shared)
#     REPGEOM="node /other/checkout/dist/cli/main.js" scripts/istar-experiment.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=$(cd "${SHARED:-../shared}" && pwd)
OUT=${1:-experiments/istar}
read -r -a repgeom <<< "${REPGEOM:-node dist/cli/main.js}"
common=(--model "$SHARED/models/tiny-bert-mlm" --epochs 3 --lr 5e-4)
sst2=(--task sst2 --data "$SHARED/data/glue/SST-2" --train-limit 8000 --max-length 64)

"${repgeom[@]}" sweep "${common[@]}" "${sst2[@]}" --reg istar --lambdas=-5,-1,0,1,5 --seeds=0,1,2 --out "$OUT/sst2-istar"
"${repgeom[@]}" sweep "${common[@]}" --task rte --data "$SHARED/data/glue/RTE" --max-length 128 \
  --reg istar --lambdas=-5,-1,0,1,5 --seeds=0,1 --out "$OUT/rte-istar"
"${repgeom[@]}" sweep "${common[@]}" "${sst2[@]}" --reg cosreg --lambdas=1,5 --seeds=0,1,2 --out "$OUT/sst2-cosreg"

"${repgeom[@]}" compare "$OUT/sst2-istar" --out "$OUT/compare-sst2-istar"
"${repgeom[@]}" compare "$OUT/rte-istar" --out "$OUT/compare-rte-istar"
"${repgeom[@]}" compare "$OUT/sst2-istar" "$OUT/sst2-cosreg" --out "$OUT/compare-sst2-istar-cosreg"
