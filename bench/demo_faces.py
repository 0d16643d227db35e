"""`make demo` on other faces: the default input rendered from each photo of a folder, found and named.

For every image in PHOTOS (faces the model was not trained on: keep them out of its training data),
``mpt-live --demo --demo-face PHOTO`` is run in-process (mpt_live.demo_report.run_demo: the same four
movements, blinks and head drift as the astronaut clip, on that face) with the given model (default: the
bundled demo model). Per face: the injected movements found by the spotter (and at IoU >= 0.5), the ones
the model names right on the window centred on the true apex, and the other events. Totals at the end,
beside the astronaut (the default input) as the baseline of the same run.

    python bench/demo_faces.py PHOTOS [--model M.onnx] [--out runs/demo-faces]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from rich.console import Console

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from mpt_live.demo_report import run_demo  # noqa: E402
from mpt_live.errors import InputError  # noqa: E402
from mpt_live.machine import vector_extensions  # noqa: E402
from mpt_live.runtime import load_model  # noqa: E402
from mpt_live.session import SessionConfig  # noqa: E402
from mpt_live.sources import IMAGE_EXTENSIONS  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photos", type=Path, help="folder of face photos (people outside the model's training data)")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the bundled demo model)")
    p.add_argument("--out", type=Path, default=Path("runs/demo-faces"))
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    photos = sorted(f for f in a.photos.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS) if a.photos.is_dir() else []
    if not photos:
        sys.exit(f"error: {a.photos}: no images in this folder")
    runtime = load_model(a.model, "cpu", a.threads)
    print(f"model: {runtime.path} ({'DEMO' if runtime.demo else 'trained'}, {runtime.precision}); "
          f"CPU vector extensions: {vector_extensions()}")
    quiet = Console(file=io.StringIO())
    rows = []
    for photo in [None, *photos]:
        name = "astronaut (default input)" if photo is None else photo.name
        out = a.out / ("astronaut" if photo is None else photo.stem)
        try:
            r = run_demo(out, runtime, SessionConfig(), quiet, display=False, face_photo=photo)
        except InputError as e:
            print(f"{name}: skipped ({e})")
            continue
        n = len(r["matches"])
        rows.append((photo, n, r["found"], r["found_iou50"], r["named_at_apex"], len(r["other_events"])))
        print(f"{name:40s} found {r['found']}/{n} (IoU>=0.5: {r['found_iou50']}), named at apex "
              f"{r['named_at_apex']}/{n}, other events {len(r['other_events'])}", flush=True)
    others = [r for r in rows if r[0] is not None]
    if others:
        tot = [sum(r[i] for r in others) for i in range(1, 6)]
        print(f"{'other faces (' + str(len(others)) + ')':40s} found {tot[1]}/{tot[0]} (IoU>=0.5: {tot[2]}), "
              f"named at apex {tot[3]}/{tot[0]}, other events {tot[4]}")


if __name__ == "__main__":
    main()
