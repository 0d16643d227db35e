#!/usr/bin/env bash
# The one prepared GPU check (issue 16): at most 8 minutes on a fresh Linux x86-64 machine with an NVIDIA GPU.
#
#   bash bench/gpu_check.sh 2>&1 | tee gpu_check.log
#
# 1. machine: GPU, driver, CPU and its vector extensions; fails at once (exit 2) where there is no NVIDIA GPU
# 2. installs the [cuda] extra and the CUDA build of torch (make install-cuda; needs the package indexes)
# 3. bench/gpu_bench.py: CUDA and TensorRT parity vs the CPU (fp32/fp16), B=1 latency and B=64 clips/s for
#    ViT-B/16, ViT-S/14 and ViT-Ti/16 MPT (target: ViT-B/16 fp16 >= 2000 clips/s on one H200)
# 4. recorded video x real time: mpt-live --device cuda on copies of the demo clip (looped), with --jobs over
#    the machine's cores where mpt-live has it (target: >= 30x real time over 16 cores)
# 5. training step time on CUDA, MPT vs full fine-tuning (target: ViT-B/16 MPT >= 100 samples/s)
#
# Every figure is printed beside its target. Each step runs under `timeout` with what is left of the
# 8 minutes (GPU_CHECK_SECONDS), so the script never hangs; a step that fails says so and the next runs.
# Environment: VENV (default .venv), GPU_CHECK_SECONDS (default 480), GPU_CHECK_INSTALL=0 to use VENV as it is,
# PY (default VENV's python) and MPT_LIVE (default VENV's mpt-live, else PY -m mpt_live.cli): a prepared
# environment. On a GPU machine with CUDA torch but no package index, scripts/gpu_payload.py (run where pip
# works) packs onnxruntime-gpu and mediapipe; there: PYTHONPATH=SITE:$PWD GPU_CHECK_INSTALL=0 PY=python3.
# GPU_CHECK_VIDEO_SECONDS (default 60: each test video is the demo clip looped to about that length, so that
# worker start-up does not dominate the video figure).
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
TOTAL=${GPU_CHECK_SECONDS:-480}
VENV=${VENV:-.venv}
PY=${PY:-$VENV/bin/python}
if [ -n "${MPT_LIVE:-}" ]; then LIVE=("$MPT_LIVE"); elif [ -x "$VENV/bin/mpt-live" ]; then LIVE=("$VENV/bin/mpt-live")
else LIVE=("$PY" -m mpt_live.cli); fi
WORK=$(mktemp -d /tmp/mpt-gpu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
left() { echo $(( TOTAL - ($(date +%s) - START) )); }
upto() { local s=$(( $(left) - $1 )); [ "$s" -lt 5 ] && s=5; echo "$s"; }   # seconds for a step, keeping $1 for the rest
step() { echo; echo "== $1 ($(( $(date +%s) - START )) s in, $(left) s left)"; }
verdict() {  # value target name: 'value (target >= T: ok|MISSED)'
  awk -v v="$1" -v t="$2" -v n="$3" 'BEGIN { printf "%s: %.1f (target >= %s: %s)\n", n, v, t, (v + 0 >= t + 0) ? "ok" : "MISSED" }'
}

step "machine"
date -u +"%Y-%m-%dT%H:%M:%SZ"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
echo "CPU vector extensions: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|f16c|avx512f|avx512bw|avx512_vnni|avx512_bf16|avx_vnni|amx_int8|amx_bf16' | tr '\n' ' ')"
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu_check: FAIL: no NVIDIA driver here (nvidia-smi not found): nothing to measure"; exit 2
fi
if ! timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader; then
  echo "gpu_check: FAIL: nvidia-smi finds no usable NVIDIA GPU (or hung): nothing to measure"; exit 2
fi

step "install: make install-cuda (the [cuda] extra, torch 2.13.0+cu130)"
if [ "${GPU_CHECK_INSTALL:-1}" != "0" ]; then
  if ! timeout "$(upto 200)" make -s install-cuda VENV="$VENV" > "$WORK/install.log" 2>&1; then
    tail -5 "$WORK/install.log"
    echo "gpu_check: FAIL: make install-cuda failed or ran past its time (no package index reachable?)"; exit 3
  fi
fi
timeout 120 "$PY" - <<'EOF' || { echo "gpu_check: FAIL: the environment in $VENV does not import"; exit 3; }
import onnxruntime as ort, torch
from mpt_live.providers import CUDA, TRT, cuda_version, gpu_diagnosis, preload_gpu_libraries, provider_works
print(f"torch {torch.__version__} CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'NO GPU'}")
print(f"onnxruntime {ort.__version__} for CUDA {cuda_version()}; preload: {preload_gpu_libraries() or 'ok'}")
for p in (CUDA, TRT):
    print(f"{p}: {'works' if provider_works(p) else 'NOT usable: ' + gpu_diagnosis(p)}")
EOF

step "ONNX Runtime on the GPU: parity, latency, throughput (bench/gpu_bench.py)"
timeout "$(upto 120)" "$PY" bench/gpu_bench.py --budget "$(upto 130)" --keep "$WORK/models" \
  || echo "gpu_check: gpu_bench.py stopped early (exit $?)"

step "recorded video x real time: mpt-live --device cuda"
MODEL=$(ls "$WORK"/models/small.fp16.onnx "$WORK"/models/*.fp16.onnx 2>/dev/null | head -1)
if [ -z "$MODEL" ]; then
  echo "recorded video: SKIPPED (no fp16 model from the step before)"
else
  N=$(nproc)
  mkdir -p "$WORK/videos"
  timeout 120 "$PY" - "$WORK/videos" "${GPU_CHECK_VIDEO_SECONDS:-60}" <<'EOF' || echo "gpu_check: making the test video failed"
import sys
from pathlib import Path
import cv2
from mpt_live.demo_input import render_demo_clip
folder, seconds = Path(sys.argv[1]), float(sys.argv[2])
render_demo_clip(folder / "demo.mp4")
cap = cv2.VideoCapture(str(folder / "demo.mp4"))
fps, frames = cap.get(cv2.CAP_PROP_FPS), []
while (ok := cap.read())[0]:
    frames.append(ok[1])
loops = max(1, round(seconds * fps / len(frames)))
out = cv2.VideoWriter(str(folder / "v00.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames[0].shape[1::-1])
for _ in range(loops):
    for f in frames:
        out.write(f)
out.release()
(folder / "demo.mp4").unlink()
(folder / "demo.truth.json").unlink(missing_ok=True)
print(f"test video: the demo clip looped {loops}x ({loops * len(frames) / fps:.0f} s)")
EOF
  for i in $(seq -w 1 $(( N - 1 ))); do cp "$WORK/videos/v00.mp4" "$WORK/videos/v$i.mp4"; done
  JOBS=(); "${LIVE[@]}" --help 2>/dev/null | grep -q -- "--jobs" && JOBS=(--jobs "$N")
  T0=$(date +%s.%N)
  timeout "$(upto 75)" "${LIVE[@]}" --video "$WORK/videos" --model "$MODEL" --device cuda --headless \
    --out "$WORK/run" "${JOBS[@]}" > "$WORK/video.log" 2>&1 || { echo "mpt-live exit $?:"; tail -3 "$WORK/video.log"; }
  T1=$(date +%s.%N)
  "$PY" - "$WORK/run" "$T0" "$T1" "$N" "$(basename "$MODEL")" "${JOBS[*]:-no --jobs}" <<'EOF'
import json, sys
from pathlib import Path
run, t0, t1, n, model, jobs = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
s = [json.loads(p.read_text()) for p in sorted(run.glob("*/summary.json"))]
video = sum(x["source_seconds"] for x in s)
batch = [x["batch"]["mean_clips"] for x in s if x.get("batch")]
providers = sorted({x["provider"] for x in s})
print(f"{len(s)} videos, {video:.0f} s of video in {t1 - t0:.1f} s wall ({model}, {providers}, {jobs}, "
      f"mean clips per model call {sum(batch) / len(batch) if batch else float('nan'):.1f})")
x = video / (t1 - t0)
print(f"recorded video: {x:.1f}x real time over {n} cores (target >= 30x: {'ok' if x >= 30 else 'MISSED'})")
EOF
fi

step "training step on CUDA: MPT vs full fine-tuning (bench/train_speed.py)"
timeout "$(upto 5)" "$PY" bench/train_speed.py --device cuda --batch 64 --seconds 8 --steps 10 \
  --models vit_base_patch16_224@224 | tee "$WORK/train.log" || echo "gpu_check: train_speed.py stopped early (exit $?)"
SPS=$(awk '$1 == "vit_base_patch16_224" && $3 == "mpt" { print $7 }' "$WORK/train.log")
[ -n "$SPS" ] && verdict "$SPS" 100 "ViT-B/16 MPT training samples/s"

echo; echo "gpu_check: done in $(( $(date +%s) - START )) s"
