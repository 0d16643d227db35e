#!/usr/bin/env bash
# Rebuild assets/demo_model.onnx, the DEMO model mpt-live uses when no --model is given.
#
#   semi-synthetic set (mpt-synth: real faces from FACES carrying synthetic micro-movements)
#   -> MPT with a ViT-Tiny backbone trained on all of it (mpt-train --protocol full, window clips)
#   -> int8 ONNX with demo metadata (mpt-export --int8 --demo), <= 15 MB; when int8 fails the export's
#      parity check against torch (a near-uniform model flips top-1 on ~2 % of clips), fp16 instead
#
# It is a demo: it shows the pipeline end to end on a fresh machine, it is NOT a validated
# micro-expression classifier (synthetic movements, and a randomly initialised frozen backbone when
# no pretrained weights can be downloaded). Train a real one on CASME II / SAMM / SMIC / CAS(ME)^3
# as the README explains.
#
# Usage (from the repository root, in the venv):  scripts/make_demo_model.sh
# Environment: FACES (default ../shared/data/faces), WORK (default runs/demo_model),
#              OUT (default assets/demo_model.onnx), EPOCHS (30), LR (1e-3), AMPLITUDE (6), SEED (0),
#              BACKBONE_WEIGHTS (optional: a local ViT-Tiny weights file, or 'timm' to download)
set -euo pipefail
cd "$(dirname "$0")/.."

FACES=${FACES:-../shared/data/faces}
WORK=${WORK:-runs/demo_model}
OUT=${OUT:-assets/demo_model.onnx}
EPOCHS=${EPOCHS:-30}
LR=${LR:-1e-3}
AMPLITUDE=${AMPLITUDE:-6}
SEED=${SEED:-0}
weights=()
if [ -n "${BACKBONE_WEIGHTS:-}" ]; then weights=(--backbone-weights "$BACKBONE_WEIGHTS"); fi

if [ ! -d "$FACES" ]; then
    echo "error: $FACES: no face media folder (set FACES=... to a folder of face photos/videos)" >&2
    exit 2
fi
mkdir -p "$WORK"

echo "== 1/3 semi-synthetic set -> $WORK/synth"
rm -rf "$WORK/synth"
mpt-synth --faces "$FACES" --out "$WORK/synth" --subjects 8 --clips-per-class 4 --amplitude "$AMPLITUDE" --seed "$SEED"

echo "== 2/3 train MPT (ViT-Tiny, all subjects) -> $WORK/run"
rm -rf "$WORK/run"
mpt-train --dataset casme2 --data "$WORK/synth" --out "$WORK/run" --protocol full \
    --backbone vit_tiny_patch16_224 "${weights[@]}" --clip-mode window --epochs "$EPOCHS" --lr "$LR" --seed "$SEED" \
    --threads 1 --cache "$WORK/cache"

echo "== 3/3 export ONNX with demo metadata -> $OUT"
# parity against torch is checked on clips of the training set (from the clip cache)
parity="$WORK/parity_clips"
rm -rf "$parity" && mkdir -p "$parity"
find "$WORK/cache" -name '*.npz' | sort | head -n 64 | while read -r f; do ln -s "$(realpath "$f")" "$parity/"; done
rm -f "$OUT" "${OUT%.onnx}.rejected.onnx"
if ! mpt-export "$WORK/run/model.pt" --int8 --demo --out "$OUT" --parity-clips "$parity" --parity-n 64; then
    rm -f "${OUT%.onnx}.rejected.onnx"
    echo "int8 was rejected by the parity check: exporting fp16 instead"
    mpt-export "$WORK/run/model.pt" --fp16 --demo --out "$OUT" --parity-clips "$parity" --parity-n 64
fi

size=$(stat -c %s "$OUT")
echo "wrote $OUT ($((size / 1024 / 1024)) MB)"
if [ "$size" -gt $((15 * 1024 * 1024)) ]; then
    echo "error: $OUT is larger than 15 MB" >&2
    exit 1
fi
