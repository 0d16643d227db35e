"""Phone-like recordings with wrong and right rotation tags, made from photos: which way up each is read.

A phone stores its frames as the sensor saw them and a rotation tag saying how to turn them; an editor or a copy can
leave a wrong tag (a recording upright as stored, tagged 90, 180 or 270 degrees). ``VideoFile`` checks a tagged
file's first 4 s for faces (:mod:`mpt_live.upright`) and reads it the way up its faces are found.

From each photo's largest face (``--photos``: the shared photos by default; held-out people's folders) a clip of
``--seconds`` is animated as bench/identities.py does (head drift, blinks, noise) and placed on a plain gradient in
three layouts: ``portrait`` 720x1280 (head and shoulders in the upper middle, the face ~200 px wide: a face that
BlazeFace, seeing the whole tall frame squeezed to its square input, scores low), ``selfie`` 720x1280 (the face fills
the width) and ``landscape`` 960x540 (libx264, 30 fps). Of each: the upright recording tagged 90, 180 and 270
(``ffmpeg -display_rotation``, stream copy: **wrong tags**, to be read as stored, 0), and the frames stored turned
90, 180 and 270 counter-clockwise and tagged to turn them back (**right tags**, to be read as tagged). Each file is
opened with ``VideoFile`` (``--rotation auto``): per file the way it was read, and the CPU time of its rotation
check (``upright.choose``: decoding the 8 frames and the detector calls); at the end the counts per code and the
median CPU. ``--before REV``: the same files opened by the code of that git revision too (a temporary worktree, a
child process), first, its lines marked ``old``; a file read the wrong way shows its rotation note, if any.
``--keep DIR``: the files made are written there and kept (to look at a miss), not in a temporary folder.

    python bench/rotation_tags.py [--photos DIR ...] [--layouts portrait,selfie,landscape] [--seconds 4.5]
        [--before REV] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # bench/ after the installed packages
import before  # noqa: E402  bench/before.py: --before's worktree and child

FPS = 30
# layout: (width, height, the animated square's side as a share of the width, its centre (x, y) as shares)
LAYOUTS = {"portrait": (720, 1280, 0.6, 0.5, 0.38), "selfie": (720, 1280, 1.0, 0.5, 0.5),
           "landscape": (960, 540, 0.42, 0.5, 0.5)}
TAGS = (90, 180, 270)


def backdrop(w: int, h: int):
    import numpy as np

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.clip(np.stack([90 + 60 * xx / w, 100 + 40 * yy / h, 120 - 30 * xx / w], -1), 0, 255).astype(np.uint8)


def compose(square, layout: str):
    """``square`` (an animated frame) on the layout's gradient."""
    import cv2

    w, h, share, cx, cy = LAYOUTS[layout]
    side = int(share * w)
    img = backdrop(w, h)
    sq = cv2.resize(square, (side, side), interpolation=cv2.INTER_AREA)
    x0, y0 = int(cx * w - side / 2), int(cy * h - side / 2)
    ys, xs = max(y0, 0), max(x0, 0)
    img[ys:y0 + side, xs:x0 + side] = sq[ys - y0:h - y0, xs - x0:w - x0][:min(side, h - y0) - (ys - y0)]
    return img


def encode(frames: list, out: Path, stored_turn: int) -> Path:
    """``frames`` stored turned ``stored_turn`` degrees counter-clockwise and tagged to be shown turned back."""
    import imageio_ffmpeg
    import numpy as np

    turned = [np.ascontiguousarray(np.rot90(f, stored_turn // 90)) for f in frames]
    h, w = turned[0].shape[:2]
    tag = ["-noautorotate", "-display_rotation", str(-stored_turn)] if stored_turn else []
    proc = subprocess.Popen([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt",
                             "bgr24", "-s", f"{w}x{h}", "-r", str(FPS), *tag, "-i", "-", "-c:v", "libx264", "-preset",
                             "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", str(out)], stdin=subprocess.PIPE)
    for f in turned:
        proc.stdin.write(f.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        sys.exit(f"error: ffmpeg could not write {out}")
    return out


def retag(src: Path, out: Path, tag: int) -> Path:
    """``src`` (untagged) tagged to be shown turned ``tag`` degrees clockwise, its frames copied."""
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-display_rotation", str(-tag),
                    "-i", str(src), "-c", "copy", str(out)], check=True)
    return out


def make(photo: Path, layouts: list[str], seconds: float, tmp: Path) -> list[dict] | None:
    """The tagged files of ``photo`` ([{file, tag, want}]); None: no face found in it."""
    import cv2
    from identities import animate  # bench/identities.py: a photo's face animated in a square clip

    clip = animate(photo, tmp / f"{photo.stem}.square.mp4", seconds)
    if clip is None:
        return None
    cap, squares = cv2.VideoCapture(str(clip)), []
    while (got := cap.read())[0]:
        squares.append(got[1])
    cap.release()
    files = []
    for layout in layouts:
        frames = [compose(s, layout) for s in squares]
        upright = encode(frames, tmp / f"{photo.stem}_{layout}.mp4", 0)
        for tag in TAGS:
            files.append({"file": str(retag(upright, tmp / f"{photo.stem}_{layout}_wrong{tag}.mp4", tag)), "tag": tag,
                          "want": 0})
            files.append({"file": str(encode(frames, tmp / f"{photo.stem}_{layout}_right{tag}.mp4", tag)),
                          "tag": tag, "want": tag})
    return files


def opened(files: list[dict]) -> Iterator[dict]:
    """Each file opened by ``VideoFile``: the way it was read and its rotation check's CPU seconds."""
    from mpt_live import sources

    spent: list[float] = []
    check = sources.choose

    def timed(*args, **kwargs):
        t0 = time.process_time()
        try:
            return check(*args, **kwargs)
        finally:
            spent.append(time.process_time() - t0)

    sources.choose = timed
    for f in files:
        spent.clear()
        with sources.VideoFile(f["file"]) as v:
            read, note = v.orientation or 0, v.rotation_note
        yield {**f, "read": read, "cpu": sum(spent), "note": note}


def row(r: dict, code: str) -> str:
    name = Path(r["file"]).stem
    return (f"| {name} | {'wrong' if r['want'] == 0 else 'right'} {r['tag']} | {r['want']} | {r['read']} | "
            f"{1000 * r['cpu']:.0f} | {code} |" + ("" if r["read"] == r["want"] else " MISS")
            + (f" ({r['note'][len(r['file']) + 2:]})" if r["read"] != r["want"] and r.get("note") else ""))


def summary(rows: list[dict], code: str) -> str:
    wrong = [r for r in rows if r["want"] == 0]
    right = [r for r in rows if r["want"] != 0]
    cpu = [r["cpu"] for r in rows]
    return (f"{code}: wrong tags overridden (read upright) {sum(r['read'] == 0 for r in wrong)}/{len(wrong)}, right "
            f"tags kept {sum(r['read'] == r['want'] for r in right)}/{len(right)}; CPU of a file's check: median "
            f"{1000 * statistics.median(cpu):.0f} ms ({1000 * min(cpu):.0f}-{1000 * max(cpu):.0f})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, nargs="+", help="folders of photos of people (default: the shared photos)")
    ap.add_argument("--layouts", default=",".join(LAYOUTS), help=f"of {', '.join(LAYOUTS)} (default all)")
    ap.add_argument("--seconds", type=float, default=4.5, help="each recording's length (the check reads 4 s)")
    ap.add_argument("--before", metavar="REV", help="also open the files with the code of this git revision")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="write the files made here (kept), not in a temporary folder")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return before.answer_child(a.child, opened)
    layouts = a.layouts.split(",")
    if not layouts or any(x not in LAYOUTS for x in layouts):
        ap.error(f"--layouts {a.layouts}: expected comma-separated names of {', '.join(LAYOUTS)}")
    if not a.seconds * FPS >= 8:
        ap.error(f"--seconds {a.seconds:g}: expected at least 8 frames' worth ({8 / FPS:.2f} s)")
    if a.before and not before.is_revision(a.before):
        ap.error(f"--before {a.before}: not a git revision of {before.ROOT}")
    from shared_faces import FACES_ENV, faces_folder
    folders = a.photos or [faces_folder() / "photos"]
    for d in folders:
        if not d.is_dir():
            sys.exit(f"{d}: no folder of photos there"
                     + (f" (set {FACES_ENV} to the shared faces folder)" if d.is_relative_to(faces_folder()) else ""))
    from identities import PHOTO_EXT
    from mpt_live.machine import vector_extensions
    print(f"CPU vector extensions: {vector_extensions()}; {before.this_run()}", flush=True)
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=a.keep) as t:
        if a.keep:
            t = str(a.keep)
        files, faceless = [], []
        for photo in sorted(p for d in folders for p in d.iterdir() if p.suffix.lower() in PHOTO_EXT):
            made = make(photo, layouts, a.seconds, Path(t))
            if made is None:
                faceless.append(photo.name)
            else:
                files += made
        if not files:
            sys.exit(f"no face found in the photos of {', '.join(map(str, folders))}")
        (Path(t) / "files.json").write_text(json.dumps(files))
        people = len(files) // (2 * len(TAGS) * len(layouts))
        print(f"{people} people, {len(files)} files ({', '.join(layouts)}; a wrong and a right tag of 90, 180, 270 "
              f"each; {a.seconds:g} s at {FPS} fps)"
              + (f"; no face found in {', '.join(faceless)}" if faceless else ""))
        print("| file | tag | to read | read | check CPU ms | code |\n|---|---|---|---|---|---|", flush=True)
        runs = before.old_then_new(a.before, __file__, Path(t) / "files.json", opened(files), row)
    for code, rows in runs.items():
        print(summary(rows, f"{code} ({'the code of ' + a.before if code == 'old' else 'this code'})"))


if __name__ == "__main__":
    main()
