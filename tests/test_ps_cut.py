"""An MPEG-PS file (.mpg, .vob) cut part-way through a pack or packet, told by walking its first and last megabytes
(mpt_live/cutoff.py), not the whole file: the same answers as the whole walk, whatever the file's size."""

from __future__ import annotations

import os
import random
import re

import faultkit as fk
import pytest

from mpt_live import cutoff
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
    _, one = vob
    copies = (PS_HEAD + PS_TAIL) // len(one) + 2
    big = tmp_path / "big.vob"
    with open(big, "wb") as fh:
        fh.writelines(one for _ in range(copies))
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
    _, one = vob
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
    _, one = vob
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


PACK = (b"\x00\x00\x01\xba" + bytes([0x44, 0, 4, 0, 4, 1, 1, 0x89, 0xc3, 0xf8])  # an MPEG-2 pack header, then a
        + b"\x00\x00\x01\xe0" + (2048 - 20).to_bytes(2, "big") + b"\xff" * (2048 - 20))  # video packet: 2048 bytes


@pytest.mark.parametrize("end", ["junk", "end code, then junk", "junk in the tail, then packs cut"])
def test_junk_at_the_end_of_a_big_program_stream_is_walked_to_once(tmp_path, monkeypatch, end):
    """Bytes that are no pack or packet after the last pack (100 bytes of 0x55; or after a program end code): each of
    the ~2000 pack headers of the last PS_TAIL bytes was walked from to the same junk (0.9 s of CPU for this 9 MiB
    file, the whole walk 3 ms), and then the whole file from the head. The first walk that passes pack headers before
    the junk is the stream's own chain: the tail is walked about once, and the answer is the whole walk's (not
    judged). Junk within the tail with whole packs after it, the last cut: the walk goes on after the junk and tells
    the cut (the whole walk stopped at the junk, as for junk in the middle)."""
    n = (PS_HEAD + PS_TAIL) // len(PACK) + 64
    data = PACK * n + (b"\x00\x00\x01\xb9" if end.startswith("end code") else b"") + b"\x55" * 100
    want = None
    if end.startswith("junk in the tail"):
        data = PACK * n + b"\x55" * 100 + PACK * 64
        size = len(data) - 1000
        want = f"ends part-way through an MPEG-PS packet ({size} bytes of the {len(data)} its header states)"
        data = data[:size]
    big = tmp_path / "big.vob"
    big.write_bytes(data)
    assert ps_cut(big, whole=True) is None  # the whole walk: not judged
    walks, real = [], cutoff._ps_walk

    def counted(m, at, size, until=None):
        out = real(m, at, size, until)
        walks.append(out[1] - at)
        return out

    monkeypatch.setattr(cutoff, "_ps_walk", counted)
    assert ps_cut(big) == want
    assert sum(walks) <= PS_HEAD + PS_TAIL + 2 * len(PACK), (len(walks), sum(walks))  # each byte about once
    assert len(walks) <= 4, len(walks)  # the head, the tail's chain (and, in the last case, the chain after the junk)
