#!/usr/bin/env bash
# Rebuild mpt_live/assets/demo_model.onnx, the DEMO model mpt-live uses when no --model is given.
#
#   semi-synthetic set (mpt-synth: every identity of FACES carrying synthetic micro-movements)
#   -> MPT with mpt-train's defaults (pretrained DINOv2 ViT-S/14, motion-energy and signed-displacement
#      prompts, augmentation),
#      trained on all of it (--protocol full) in window clip mode, as the live runtime sees clips
#   -> int8 ONNX with demo metadata (mpt-export --int8 --demo, calibrated on the training clips),
#      parity checked on held-out clips of another seed; weight-only int8 (--int8-weights) if static
#      int8 fails the check, fp16 if that fails too
#
# It is a demo: it shows the pipeline end to end on a fresh machine. It was trained on synthetic
# movements of 20 real people, NOT on a micro-expression dataset, so it is not a validated
# micro-expression classifier. Train a real one on CASME II / SAMM / SMIC / CAS(ME)^3 (README).
#
# Usage (from the repository root, in the venv):  scripts/make_demo_model.sh
# Environment: FACES (default ../shared/data/faces), WORK (default runs/demo_model),
#              OUT (default mpt_live/assets/demo_model.onnx), EPOCHS (10), IMAGE_SIZE (112), AMPLITUDE (2.5),
#              CLIPS (clips per class per subject, 4), SEED (0), THREADS (2)
set -euo pipefail
cd "$(dirname "$0")/.."

FACES=${FACES:-../shared/data/faces}
WORK=${WORK:-runs/demo_model}
OUT=${OUT:-mpt_live/assets/demo_model.onnx}
EPOCHS=${EPOCHS:-10}
IMAGE_SIZE=${IMAGE_SIZE:-112}
AMPLITUDE=${AMPLITUDE:-2.5}
CLIPS=${CLIPS:-4}
SEED=${SEED:-0}
THREADS=${THREADS:-2}
MAX_MB=30

if [ ! -d "$FACES" ]; then
    echo "error: $FACES: no face media folder (set FACES=... to a folder of face photos/videos)" >&2
    exit 2
fi
mkdir -p "$WORK"

echo "== 1/4 semi-synthetic sets (every identity of $FACES) -> $WORK/synth (training), $WORK/heldout (parity)"
rm -rf "$WORK/synth" "$WORK/heldout"
mpt-synth --faces "$FACES" --out "$WORK/synth" --subjects 0 --clips-per-class "$CLIPS" \
    --amplitude "$AMPLITUDE" --seed "$SEED"
mpt-synth --faces "$FACES" --out "$WORK/heldout" --subjects 0 --clips-per-class 1 \
    --amplitude "$AMPLITUDE" --seed "$((SEED + 1))"

echo "== 2/4 train MPT (mpt-train defaults, all subjects, window clips) -> $WORK/run"
rm -rf "$WORK/run"
mpt-train --dataset casme2 --data "$WORK/synth" --out "$WORK/run" --protocol full --clip-mode window \
    --image-size "$IMAGE_SIZE" --epochs "$EPOCHS" --seed "$SEED" --threads "$THREADS" --cache "$WORK/cache"

echo "== 3/4 held-out parity clips (the centred window of each held-out clip) -> $WORK/parity_clips"
rm -rf "$WORK/parity_clips" && mkdir -p "$WORK/parity_clips"
python - "$WORK" <<'EOF'
import sys
from pathlib import Path

import torch

from train.datasets import load_dataset
from train.datasets.cache import ClipCache
from mpt_live.clip import ClipSpec

work = Path(sys.argv[1])
ckpt = torch.load(work / "run" / "model.pt", map_location="cpu", weights_only=False)
cache = ClipCache(work / "heldout_cache", ClipSpec.from_dict(ckpt["clip_spec"]), ckpt["clip_mode"])
samples = load_dataset("casme2", work / "heldout").samples
cache.prepare(samples, [0], workers=1, progress=False)
for s in samples:
    (work / "parity_clips" / cache.path(s, 0).name).symlink_to(cache.path(s, 0).resolve())
print(f"{len(samples)} held-out clips")
EOF

echo "== 4/4 export ONNX with demo metadata -> $OUT"
rm -f "$OUT" "${OUT%.onnx}.rejected.onnx"
if ! mpt-export "$WORK/run/model.pt" --int8 --demo --out "$OUT" --parity-clips "$WORK/parity_clips"; then
    rm -f "${OUT%.onnx}.rejected.onnx"
    echo "static int8 was rejected by the parity check: weight-only int8 instead"
    if ! mpt-export "$WORK/run/model.pt" --int8-weights --demo --out "$OUT" --parity-clips "$WORK/parity_clips"; then
        rm -f "${OUT%.onnx}.rejected.onnx"
        echo "weight-only int8 was rejected by the parity check: fp16 instead"
        mpt-export "$WORK/run/model.pt" --fp16 --demo --out "$OUT" --parity-clips "$WORK/parity_clips"
    fi
fi

size=$(stat -c %s "$OUT")
echo "wrote $OUT ($((size / 1024 / 1024)) MB)"
if [ "$size" -gt $((MAX_MB * 1024 * 1024)) ]; then
    echo "error: $OUT is larger than $MAX_MB MB" >&2
    exit 1
fi
