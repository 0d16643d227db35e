"""An MPEG-PS file (.mpg, .vob) cut part-way through a pack or packet, told by walking its first and last megabytes
(mpt_live/cutoff.py), not the whole file: the same answers as the whole walk, whatever the file's size."""

from __future__ import annotations

import os
import random
import re

import pytest

import faultkit as fk
from mpt_live.cutoff import PS_HEAD, PS_TAIL, cut_off, ps_cut
from mpt_live.videoprobe import probe_video


@pytest.fixture(scope="module")
def vob(tmp_path_factory):
    """A DVD program stream (MPEG-2 and AC-3 in 2048-byte packs) of about 1 MB, and its bytes."""
    path = tmp_path_factory.mktemp("vob") / "one.vob"
    fk.ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4", "-f", "lavfi", "-i", "sine=d=4", "-c:v",
              "mpeg2video", "-b:v", "2M", "-c:a", "ac3", "-f", "dvd", str(path))
    return path, path.read_bytes()


def _shifted(said: str, by: int) -> str:
    """``said`` (a cut's few words, '(B bytes of the E its header states)') with B and E ``by`` bytes on."""
    return re.sub(r"\((\d+) bytes of the (\d+)", lambda m: f"({int(m[1]) + by} bytes of the {int(m[2]) + by}", said)


@pytest.mark.parametrize("cut_at", [None, 0.37, 0.81, "end"])
def test_a_big_program_stream_is_judged_by_its_head_and_tail_as_by_the_whole_walk(tmp_path, vob, cut_at):
    """The stream repeated past PS_HEAD + PS_TAIL (each copy a whole program stream), whole or cut in its last copy:
    the cut is told as in the one copy cut at the same place (its bytes counted on by the copies before), and the
    whole walk (the previous code, ``whole=True``) says the same; a whole file is not called cut. A cut exactly at
    a copy's end ('end': the last copy's last pack dropped) is no cut either."""
    path, one = vob
    copies = (PS_HEAD + PS_TAIL) // len(one) + 2
    big = tmp_path / "big.vob"
    with open(big, "wb") as fh:
        for _ in range(copies):
            fh.write(one)
    before = (copies - 1) * len(one)
    want = None
    if cut_at == "end":
        os.truncate(big, big.stat().st_size - 2048)
    elif cut_at is not None:
        at = int(len(one) * cut_at) | 1  # within a pack (they are 2048 bytes)
        small = tmp_path / "small.vob"
        small.write_bytes(one[:at])
        want = _shifted(ps_cut(small), before)
        assert want and want.startswith("ends part-way through an MPEG-PS"), want
        os.truncate(big, before + at)
    assert big.stat().st_size > PS_HEAD + PS_TAIL
    assert ps_cut(big) == ps_cut(big, whole=True) == want
    assert cut_off(big, probe_video(big)) == want  # as a run asks


def test_a_pack_start_code_in_a_packets_data_at_the_tail_is_passed_over(tmp_path, vob):
    """The tail's walk starts at the first pack start code in the last PS_TAIL bytes: one inside a packet's data
    (written there before the first real pack of those bytes, with an MPEG-2 pack's marker after it) leads to no
    chain of packs, and the next one is walked from: the cut is told as the whole walk tells it."""
    path, one = vob
    copies = (PS_HEAD + PS_TAIL) // len(one) + 2
    rng = random.Random(1)
    for short in (1000, 3000):  # the file's last pack cut: the tail's first bytes are 1000 (952) before a pack
        data = bytearray((one * copies)[:-short])
        start = len(data) - PS_TAIL
        pack = data.find(b"\x00\x00\x01\xba", start)
        assert 40 < pack - start < 2048 - 40, pack - start  # start is in the packet before that pack, past its header
        data[start:start + 14] = b"\x00\x00\x01\xba" + bytes([0x44] + [rng.randrange(256) for _ in range(9)])
        big = tmp_path / "big.vob"
        big.write_bytes(bytes(data))
        assert ps_cut(big) == ps_cut(big, whole=True) and ps_cut(big).startswith("ends part-way through an MPEG-PS")


def test_junk_in_the_middle_of_a_big_program_stream_leaves_its_end_judged(tmp_path, vob):
    """The whole walk stopped at bytes that are no pack or packet (noise over a pack in the middle): a file cut at its
    end was not judged. The middle is not walked now: the cut is told; the same file whole is not called cut; junk
    at its start (an elementary stream, not a program stream) is still not judged."""
    path, one = vob
    copies = (PS_HEAD + PS_TAIL) // len(one) + 2
    data = bytearray(one * copies)
    mid, rng = len(data) // 2 // 2048 * 2048, random.Random(2)
    data[mid:mid + 2048] = bytes(rng.randrange(1, 256) for _ in range(2048))
    big = tmp_path / "big.vob"
    big.write_bytes(bytes(data[:-1000]))
    assert ps_cut(big, whole=True) is None  # the previous code: not judged
    assert ps_cut(big).startswith("ends part-way through an MPEG-PS")
    big.write_bytes(bytes(data))
    assert ps_cut(big) is None
    big.write_bytes(bytes(data[4100:-1000]))  # from the middle of a pack: no program stream from its start
    assert ps_cut(big) is None
