"""Dataset loaders: tiny fixture datasets in each distribution layout, written here."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

pd = pytest.importorskip("pandas")
openpyxl = pytest.importorskip("openpyxl")

from mpt_live.errors import InputError  # noqa: E402
from train.datasets import DatasetIndex, load_dataset, natural_key  # noqa: E402
from train.datasets.errata import ERRATA  # noqa: E402

_JPG = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()
_BMP = cv2.imencode(".bmp", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()


def frames(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(_BMP if n.endswith(".bmp") else _JPG)


def xlsx(path: Path, rows: list[list], header_row: int = 1) -> Path:
    """Write rows so that rows[0] lands on spreadsheet row ``header_row``; notes above it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in range(1, header_row):
        ws.cell(row=r, column=1, value=f"note line {r}: SAMM release notes" if r % 3 else None)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            ws.cell(row=header_row + i, column=j + 1, value=v)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


CASME2_HEADER = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
                 "Estimated Emotion"]


def casme2(root: Path, rows=None, header=CASME2_HEADER) -> Path:
    rows = rows if rows is not None else [
        [1, "EP02_01f", 9, 10, 11, "12", "happiness"],
        [2, "EP01_11f", 46, 47, 48, "4", "fear"],          # dropped (5-class protocol)
        [2, "EP03_02", 3, "/", 7, "14", "others"],         # apex '/': middle
        [3, "EP05_01", 100, 101, 102, "1+2", "sadness"],   # dropped
        [3, "EP07_04", 20, 22, 24, "9", "disgust"],
    ]
    xlsx(root / "CASME2-coding-20140508.xlsx", [header] + rows)
    raw = root / "CASME2_RAW_selected"
    frames(raw / "sub01/EP02_01f", [f"img{i}.jpg" for i in range(8, 13)])  # numeric sort: 8..12
    frames(raw / "sub02/EP03_02", [f"img{i}.jpg" for i in range(1, 9)])
    frames(raw / "sub03/EP07_04", [f"img{i}.jpg" for i in range(18, 27)])
    frames(root / "Cropped/sub01/EP02_01f", ["reg_img9.jpg"])  # cropped copy: raw must be preferred
    return root


SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
               "Duration", "Micro", "Objective Classes", "Notes", "Action Units", "Estimated Emotion"]


def samm(root: Path, rows=None) -> Path:
    rows = rows if rows is not None else [
        [6, "006_1_2", 1, 5562, 5563, 5565, 4, "Micro", 1, "", "R12", "Happiness"],
        [6, "006_1_3", 1, 100, -1, 104, 5, "Micro", 3, "", "4", "Anger"],        # apex -1: middle
        [7, "007_3_1", 3, 10, 11, 12, 3, "Micro", 2, "", "L14", "Other"],
        [7, "007_5_2", 5, 40, 41, 42, 3, "Micro", 7, "", "9", "Disgust"],        # dropped (< 10)
    ]
    xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", [SAMM_HEADER] + rows, header_row=14)
    base = root / "SAMM"
    frames(base / "006/006_1_2", [f"006_{i:05d}.jpg" for i in range(5560, 5567)])
    frames(base / "006/006_1_3", [f"006_{i:05d}.jpg" for i in range(100, 105)])
    frames(base / "007/007_3_1", [f"007_{i:05d}.jpg" for i in range(10, 13)])
    return root


def smic(root: Path) -> Path:
    hs = root / "SMIC_all_raw/HS"
    frames(hs / "s1/micro/positive/s1_po_01", [f"image{i:06d}.bmp" for i in range(90820, 90827)])
    frames(hs / "s1/micro/negative/s1_ne_01", [f"image{i}.bmp" for i in range(8, 12)])
    frames(hs / "s2/micro/surprise/s2_sur_01", [f"image{i}.bmp" for i in range(1, 4)])
    frames(root / "SMIC_all_raw/VIS/s1/micro/positive/s1_po_01", ["image1.bmp"])  # not HS: ignored
    return root


CASME3_HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]


def casme3(root: Path, rows=None) -> Path:
    rows = rows if rows is not None else [
        ["spNO.1", "a", 5, 7, 9, "12", 1, "happy"],
        ["spNO.1", "a", 12, 13, 15, "4", 2, "disgust"],
        ["spNO.2", "b", 2, 3, 4, "1+2", 3, "surprise"],
        ["spNO.2", "b", 6, 7, 8, "", 7, "others"],
    ]
    xlsx(root / "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", [CASME3_HEADER] + rows)
    base = root / "part_A/data/part_A"
    frames(base / "spNO.1/a/color", [f"{i}.jpg" for i in range(1, 21)])
    frames(base / "spNO.2/b/color", [f"{i}.jpg" for i in range(1, 11)])
    (base / "spNO.1/a/depth").mkdir()
    return root


def csvfmt(root: Path, text: str | None = None) -> Path:
    frames(root / "clips/a", [f"f{i}.png" for i in range(1, 13)])   # natural: f1, f2, ..., f12
    frames(root / "clips/b", [f"f{i}.png" for i in range(0, 5)])
    text = text if text is not None else (
        "subject,clip,onset,apex,offset,label,fps\n"
        "p1,clips/a,1,,10,joy,25\n"
        "p2,clips/b,0,2,4,calm,\n")
    (root / "labels.csv").write_text(text)
    return root


# name, builder, expected: n, classes, subjects, first sample (clip_id, onset, apex, offset,
# onset file, fps), dropped
CASES = [
    ("casme2", casme2, dict(
        n=3, classes=["happiness", "surprise", "disgust", "repression", "others"],
        subjects=["sub01", "sub02", "sub03"],
        first=("EP02_01f", 1, 2, 3, "img9.jpg", 200.0),
        dropped={"label fear (not in the 5-class protocol)": 1,
                 "label sadness (not in the 5-class protocol)": 1})),
    ("samm", samm, dict(
        n=3, classes=["anger", "contempt", "happiness", "surprise", "others"],
        subjects=["006", "007"], first=("006_1_2", 2, 3, 5, "006_05562.jpg", 200.0),
        dropped={"label disgust (not in the 5-class protocol)": 1})),
    ("smic", smic, dict(
        n=3, classes=["negative", "positive", "surprise"], subjects=["s1", "s2"],
        first=("s1_ne_01", 0, 1, 3, "image8.bmp", 100.0), dropped={})),
    ("casme3", casme3, dict(
        n=4, classes=["happy", "disgust", "fear", "anger", "sad", "surprise", "others"],
        subjects=["spNO.1", "spNO.2"], first=("a_5", 4, 6, 8, "5.jpg", 30.0), dropped={})),
    ("csv", csvfmt, dict(
        n=2, classes=["calm", "joy"], subjects=["p1", "p2"],
        first=("clips/a", 1, 5, 10, "f2.png", 25.0), dropped={})),
]


@pytest.mark.parametrize("name,build,exp", CASES, ids=[c[0] for c in CASES])
def test_layouts(tmp_path, name, build, exp):
    index = load_dataset(name, build(tmp_path))
    assert isinstance(index, DatasetIndex)
    assert len(index.samples) == exp["n"]
    assert index.classes == exp["classes"]
    assert index.subjects == exp["subjects"]
    assert index.dropped == exp["dropped"]
    s = index.samples[0]
    clip_id, on, ap, off, onset_file, fps = exp["first"]
    assert (s.clip_id, s.onset, s.apex, s.offset, s.frames[s.onset].name, s.fps) == (
        clip_id, on, ap, off, onset_file, fps)
    assert s.dataset == name
    for t in index.samples:
        assert 0 <= t.onset <= t.apex <= t.offset < len(t.frames)
        assert t.label in index.classes
        assert [p.name for p in t.frames] == sorted((p.name for p in t.frames), key=natural_key)
    assert len({t.name for t in index.samples}) == len(index.samples)


def test_casme2_details(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="mpt.datasets"):
        index = load_dataset("casme2", casme2(tmp_path))
    s = {t.clip_id: t for t in index.samples}
    assert "CASME2_RAW_selected" in str(s["EP02_01f"].frames[0])          # raw preferred
    assert [p.name for p in s["EP02_01f"].frames][:3] == ["img8.jpg", "img9.jpg", "img10.jpg"]
    assert (s["EP03_02"].onset, s["EP03_02"].apex, s["EP03_02"].offset) == (2, 4, 6)  # '/' -> middle
    assert index.notes == {"apex unknown in the sheet: middle of onset..offset used": 1}
    assert "dropped 1 row(s): label fear" in caplog.text


@pytest.mark.parametrize("name, make, clip, expect", [
    ("casme2", lambda r: casme2(r, [[1, "EP02_01f", 9, 0, 11, "12", "happiness"],
                                    [2, "EP03_02", 3, None, 7, "14", "others"]]), "EP02_01f", (1, 2, 3)),
    ("samm", lambda r: samm(r, [[6, "006_1_2", 1, 5562, 0, 5566, 4, "Micro", 1, "", "R12", "Happiness"],
                                [7, "007_3_1", 3, 10, "/", 12, 3, "Micro", 2, "", "L14", "Other"]]), "006_1_2", (2, 4, 6)),
], ids=["casme2", "samm"])
def test_clip_apex_0_is_the_middle_frame_counted(tmp_path, name, make, clip, expect):
    """Apex 0 (not coded) stopped the CASME II and SAMM clip readers with 'apex 0 is outside onset..offset' while
    the long-video readers use the middle frame; now the middle, counted with the blank and '/' apexes."""
    index = load_dataset(name, make(tmp_path))
    s = {t.clip_id: t for t in index.samples}
    assert (s[clip].onset, s[clip].apex, s[clip].offset) == expect
    assert index.notes == {"apex unknown in the sheet: middle of onset..offset used": 2}


def test_two_coding_sheets_warn_which_one_is_used(tmp_path):
    root = casme2(tmp_path)
    before = load_dataset("casme2", root).warnings  # the fixture's one-subject classes
    # an older copy of the sheet with other labels, in a subfolder: the shallowest, newest-named one is used
    xlsx(root / "old" / "CASME2-coding-20120101.xlsx", [CASME2_HEADER, [1, "EP02_01f", 9, 10, 11, "12", "others"]])
    index = load_dataset("casme2", root)
    assert {s.clip_id: s.label for s in index.samples}["EP02_01f"] == "happiness"
    new = [w for w in index.warnings if w not in before]
    assert len(new) == 1 and not any("files match" in w for w in before), index.warnings
    assert new[0].startswith(f"{root}: 2 files match the CASME2-coding-*.xlsx (or CASME2_label_Ver_*.xls) sheet; using "
                                        "CASME2-coding-20140508.xlsx (not old/CASME2-coding-20120101.xlsx)")


def _full_cropped_copy(root: Path) -> None:
    """CASME II's Cropped folder holding every clip the sheet uses (reg_img<N>.jpg)."""
    for sub, clip, rng in (("sub01", "EP02_01f", range(8, 13)), ("sub02", "EP03_02", range(1, 9)),
                           ("sub03", "EP07_04", range(18, 27))):
        frames(root / "Cropped" / sub / clip, [f"reg_img{i}.jpg" for i in rng])


@pytest.mark.parametrize("faces, cropped, folder", [
    ("align", False, "CASME2_RAW_selected"), ("cropped", True, "Cropped"), ("auto", True, "Cropped")])
def test_faces_choose_the_datasets_cropped_frames(tmp_path, faces, cropped, folder):
    root = casme2(tmp_path)
    _full_cropped_copy(root)
    index = load_dataset("casme2", root, faces=faces)
    assert index.cropped is cropped
    assert all(folder in str(p) for s in index.samples for p in s.frames)
    s = {t.clip_id: t for t in index.samples}["EP02_01f"]
    assert s.frames[s.onset].name == ("reg_img9.jpg" if cropped else "img9.jpg")


def test_faces_cropped_without_crops_is_one_line_and_auto_falls_back(tmp_path):
    root = samm(tmp_path)                                   # SAMM's layout: no cropped frames
    with pytest.raises(InputError, match=r"no cropped SAMM frame folders .*--faces align"):
        load_dataset("samm", root, faces="cropped")
    index = load_dataset("samm", root, faces="auto")
    assert not index.cropped and "SAMM" in str(index.samples[0].frames[0])
    # the note counts the clips it covers (it was 1, once per layout, printed as '1 annotation row(s)')
    assert len(index.samples) > 1
    assert index.notes.get("no cropped faces in the layout: raw frames aligned (--faces auto)") == len(index.samples)
    with pytest.raises(InputError, match="faces must be one of"):
        load_dataset("samm", root, faces="crops")


def test_a_reader_that_does_not_count_the_auto_note_gets_it_counted(tmp_path, monkeypatch):
    """The --faces auto note was counted by a call at the end of each of the four readers (count_auto_aligned): a
    reader without that call said 0 clips aligned. The DatasetIndex a reader returns counts it."""
    import train.datasets.samm as samm_reader
    from train.datasets.files import pick_frames
    from train.datasets.samples import AUTO_ALIGNED, Sample

    raw = tmp_path / "raw"
    frames(raw / "006" / "006_1_2", ["006_00001.jpg"])

    def load(root, faces="align"):  # a new reader: picks its frame root, reads its clips, counts nothing itself
        notes: dict[str, int] = {}
        folder, cropped = pick_frames([raw], "frame folders", root, faces, notes=notes)
        clip = sorted((folder / "006" / "006_1_2").iterdir())
        samples = [Sample("006", f"006_1_{i}", clip, 0, 0, 0, "anger", 200.0, "samm") for i in range(3)]
        return DatasetIndex(samples, ["anger"], {}, notes, cropped=cropped)

    monkeypatch.setattr(samm_reader, "load", load)
    index = load_dataset("samm", tmp_path, faces="auto")
    assert not index.cropped and index.notes == {AUTO_ALIGNED: 3}
    assert load_dataset("samm", tmp_path, faces="align").notes == {}  # aligned as asked: no note


def test_smic_cropped_folder(tmp_path):
    root = smic(tmp_path)
    frames(root / "SMIC_all_cropped/HS/s1/micro/positive/s1_po_01", [f"image{i}.bmp" for i in range(1, 5)])
    assert not load_dataset("smic", root).cropped
    index = load_dataset("smic", root, faces="cropped")
    assert index.cropped and [s.clip_id for s in index.samples] == ["s1_po_01"]


def test_samm_header_detected_and_apex_minus_one(tmp_path):
    index = load_dataset("samm", samm(tmp_path))
    s = {t.clip_id: t for t in index.samples}
    assert (s["006_1_3"].onset, s["006_1_3"].apex, s["006_1_3"].offset) == (0, 2, 4)
    assert s["007_3_1"].label == "others"


def test_casme3_four_and_three_classes(tmp_path):
    root = casme3(tmp_path)
    four = load_dataset("casme3", root, classes=4)
    assert four.classes == ["negative", "positive", "surprise", "others"]
    assert [t.label for t in four.samples] == ["positive", "negative", "surprise", "others"]
    three = load_dataset("casme3", root, classes=3)
    assert len(three.samples) == 3 and three.dropped == {"label others (not in the 3-class protocol)": 1}


def _casme2_rows(**changes):
    row = {"s": 1, "f": "EP02_01f", "on": 9, "ap": 10, "off": 11, "emo": "happiness"} | changes
    return [[row["s"], row["f"], row["on"], row["ap"], row["off"], "12", row["emo"]]]


ERRORS = [
    ("missing column", "casme2", lambda r: casme2(r, header=CASME2_HEADER[:4] + ["Off"] + CASME2_HEADER[5:]),
     "CASME2-coding-20140508.xlsx: missing column(s) OffsetFrame (header row 1)"),
    ("unknown label", "casme2", lambda r: casme2(r, _casme2_rows(emo="joy")),
     "CASME2-coding-20140508.xlsx row 2 (sub01/EP02_01f): unknown label 'joy'"),
    ("missing folder", "casme2", lambda r: casme2(r, _casme2_rows(f="EP99_01")),
     "CASME2-coding-20140508.xlsx: no usable samples (dropped 1 row(s): no folder of its clip in the frames)"),
    ("missing frame", "casme2", lambda r: casme2(r, _casme2_rows(off=40)),
     "CASME2-coding-20140508.xlsx row 2 (sub01/EP02_01f): offset frame 40 not found"),
    ("onset > offset", "casme2", lambda r: casme2(r, _casme2_rows(on=12, ap=10, off=9)),
     "CASME2-coding-20140508.xlsx row 2 (sub01/EP02_01f): onset 12 > offset 9"),
    ("apex outside", "casme2", lambda r: casme2(r, _casme2_rows(ap=12)),
     "row 2 (sub01/EP02_01f): apex 12 is outside onset..offset 9..11"),
    ("samm onset > offset, row after notes", "samm", lambda r: samm(r, [
        [6, "006_1_2", 1, 5562, 5563, 5565, 4, "Micro", 1, "", "R12", "Happiness"],
        [6, "006_1_3", 1, 104, 103, 100, 5, "Micro", 3, "", "4", "Anger"]]),
     "SAMM_Micro_FACS_Codes_v2.xlsx row 16 (006/006_1_3): onset 104 > offset 100"),
    ("samm unknown label", "samm", lambda r: samm(r, [
        [6, "006_1_2", 1, 5562, 5563, 5565, 4, "Micro", 1, "", "R12", "Glee"]]),
     "SAMM_Micro_FACS_Codes_v2.xlsx row 15 (006/006_1_2): unknown label 'Glee'"),
    ("casme3 missing frame", "casme3", lambda r: casme3(r, [["spNO.1", "a", 5, 7, 29, "", 1, "happy"]]),
     "row 2 (spNO.1/a): offset frame 29 not found"),
    ("csv onset > offset", "csv", lambda r: csvfmt(r, "subject,clip,onset,apex,offset,label\np1,clips/a,5,,2,joy\n"),
     "labels.csv row 2 (p1/clips/a): onset 5 > offset 2"),
    ("csv index out of range", "csv", lambda r: csvfmt(r, "subject,clip,onset,apex,offset,label\n\n"
                                                   "p1,clips/b,0,1,9,joy\n"),
     "labels.csv row 3 (p1/clips/b): offset index 9 is outside the clip's 5 frames"),
    ("csv missing folder", "csv", lambda r: csvfmt(r, "subject,clip,onset,apex,offset,label\np1,nope,0,1,2,joy\n"),
     "labels.csv: none of the clip folders its 1 row(s) name exists (the first: "),
    ("csv missing column", "csv", lambda r: csvfmt(r, "subject,clip,onset,offset,label\np1,clips/a,0,2,joy\n"),
     "labels.csv: missing column(s) apex"),
    ("csv clip is a file", "csv", lambda r: csvfmt(r, "subject,clip,onset,apex,offset,label\np1,clips/a/f1.png,0,1,2,j\n"),
     "f1.png is a file: 'clip' names the folder of a clip's frames"),
]


@pytest.mark.parametrize("case,dataset,build,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_sheet_and_row(tmp_path, case, dataset, build, message):
    root = build(tmp_path)
    with pytest.raises(InputError) as e:
        load_dataset(dataset, root)
    assert message in str(e.value)


def test_a_sheet_missing_columns_is_named_by_its_path(tmp_path):
    """'labels.csv: missing column(s) apex' named the sheet without its folder: with several datasets (or a run's
    events.csv given as a sheet) the user could not tell which file. The line now names the path given."""
    root = csvfmt(tmp_path / "set2", "subject,clip,onset,offset,label\np1,clips/a,0,2,joy\n")
    with pytest.raises(InputError) as e:
        load_dataset("csv", root)
    assert str(e.value).startswith(f"{root / 'labels.csv'}: missing column(s) apex"), str(e.value)


def test_unknown_dataset_and_missing_root(tmp_path):
    with pytest.raises(InputError, match="unknown dataset"):
        load_dataset("mmew", tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        load_dataset("casme2", tmp_path / "nope")
    with pytest.raises(InputError, match="no CASME2-coding"):
        load_dataset("casme2", tmp_path)


def test_a_folder_the_user_may_not_read_is_one_line_naming_it(tmp_path, monkeypatch):
    """A clip folder without read permission was a PermissionError traceback from deep in the loader (the tests
    run as root, where permissions do not bite: the loader's own stat is made to fail as it does for a user)."""
    import errno

    root = casme2(tmp_path)
    denied = next((root / "CASME2_RAW_selected").glob("sub*/*"))
    real = Path.exists

    def exists(self, *a, **k):
        if self == denied:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "exists", exists)
    with pytest.raises(InputError, match=rf"^{re.escape(str(denied))}: cannot read \(Permission denied\)$"):
        load_dataset("casme2", root)


def test_errata_table_is_meb():
    rows = {(e.dataset, e.row): dict(e.fix) for e in ERRATA}
    assert rows[("casme2", 60)] == {"apex": 78, "offset": 91}
    assert rows[("casme2", 170)] == {"apex": 329}
    assert rows[("samm", 56)] == {"offset": 5739}
    assert rows[("samm", 133)] == {"apex": 5130}
    assert sum(e.dataset == "casme2" for e in ERRATA) == 21


def test_errata_applied_only_to_inconsistent_rows(tmp_path, caplog):
    filler = [[9, f"EP{i:02d}", 1, 2, 3, "4", "fear"] for i in range(61)]    # dropped before frames
    rows = [list(r) for r in filler]
    rows[29] = [1, "EP_ok", 270, 275, 280, "12", "happiness"]     # consistent: erratum not needed
    rows[35] = [1, "EP_gone", 10, "/", 20, "12", "others"]         # corrected apex 68 absent: skipped
    rows[60] = [1, "EP_fix", 70, "/", 95, "12", "surprise"]        # '/' and offset 95 not on disk
    casme2(tmp_path, rows)
    raw = tmp_path / "CASME2_RAW_selected/sub01"
    frames(raw / "EP_ok", [f"img{i}.jpg" for i in range(270, 281)])
    frames(raw / "EP_gone", [f"img{i}.jpg" for i in range(10, 21)])
    frames(raw / "EP_fix", [f"img{i}.jpg" for i in range(70, 92)])
    with caplog.at_level(logging.INFO, logger="mpt.datasets"):
        index = load_dataset("casme2", tmp_path)
    s = {t.clip_id: t for t in index.samples}
    fix = s["EP_fix"]
    assert (fix.frames[fix.apex].name, fix.frames[fix.offset].name) == ("img78.jpg", "img91.jpg")
    ok = s["EP_ok"]
    assert ok.frames[ok.apex].name == "img275.jpg"
    gone = s["EP_gone"]
    assert gone.frames[gone.apex].name == "img15.jpg"       # middle: erratum did not fit the frames
    assert index.notes == {
        "errata applied": 1,
        "errata not needed (sheet row already consistent)": 1,
        "errata not applicable (corrected row inconsistent with the frames)": 1,
        "apex unknown in the sheet: middle of onset..offset used": 1,
    }
    assert index.dropped == {"label fear (not in the 5-class protocol)": 58}
    assert "row 62 (sub01/EP_fix): erratum applied" in caplog.text


def test_duplicate_rows_get_unique_ids(tmp_path):
    casme3(tmp_path, [["spNO.1", "a", 5, 7, 9, "12", 1, "happy"], ["spNO.1", "a", 5, 7, 9, "12", 1, "happy"]])
    index = load_dataset("casme3", tmp_path)
    assert [t.clip_id for t in index.samples] == ["a_5", "a_5#2"]
    assert index.notes["duplicate annotation rows (clip id suffixed #k)"] == 1


@pytest.mark.parametrize("name, build, sheet", [("casme2", casme2, "CASME2-coding-20140508.xlsx"),
                                                 ("samm", samm, "SAMM_Micro_FACS_Codes_v2.xlsx")], ids=["casme2", "samm"])
def test_load_dataset_given_the_sheet_file_is_one_line(tmp_path, monkeypatch, name, build, sheet):
    """load_dataset(name, the coding sheet) (a notebook's call; mpt-train refuses a file before it) ended in a
    ValueError traceback from pathlib, relative to a relative path: the line mpt-train says, naming the folder."""
    build(tmp_path / "copy")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=rf"^copy/{sheet}: a file, not a folder: .*\(give --data copy\)$"):
        load_dataset(name, f"copy/{sheet}")


def test_a_clip_annotated_twice_with_different_labels_is_named(tmp_path):
    """A row copied and relabelled (the same clip and frames, happiness and surprise) trained those frames as both
    classes, with only the count of duplicate rows in the notes. Both rows are still read (the sheet is the user's),
    and one warning names the clip and its labels; a duplicate with the same label, or another movement of the same
    recording, is not named."""
    casme2(tmp_path, [[1, "EP02_01f", 9, 10, 11, "12", "happiness"], [1, "EP02_01f", 9, 10, 11, "12", "happiness"],
                      [2, "EP03_02", 3, 4, 7, "14", "others"], [2, "EP03_02", 3, 4, 7, "14", "Disgust"],
                      [3, "EP07_04", 20, 22, 24, "9", "disgust"], [3, "EP07_04", 19, 20, 21, "9", "surprise"]])
    index = load_dataset("casme2", tmp_path)
    assert [(t.clip_id, t.label) for t in index.samples] == [
        ("EP02_01f", "happiness"), ("EP02_01f#2", "happiness"), ("EP03_02", "others"), ("EP03_02#2", "disgust"),
        ("EP07_04", "disgust"), ("EP07_04#2", "surprise")]
    said = [w for w in index.warnings if "with different labels" in w]
    assert said == [f"{tmp_path}: 1 clip(s) annotated more than once over the same frames with different labels, "
                    "each row trained as a clip of its own: sub02/EP03_02 (twice: others, disgust); correct the sheet "
                    "where a label is wrong"], index.warnings


def test_a_clip_annotated_three_times_is_named_so_with_its_labels_once_each(tmp_path):
    """Three rows of one clip and frames, two of them alike: the warning said 'annotated twice' and repeated a label
    ('happiness, happiness, surprise'). It says how many rows, and each label once."""
    casme2(tmp_path, [[1, "EP02_01f", 9, 10, 11, "12", "happiness"], [1, "EP02_01f", 9, 10, 11, "12", "surprise"],
                      [1, "EP02_01f", 9, 10, 11, "12", "happiness"], [2, "EP03_02", 3, 4, 7, "14", "others"]])
    index = load_dataset("casme2", tmp_path)
    assert [t.label for t in index.samples] == ["happiness", "surprise", "happiness", "others"]
    said = [w for w in index.warnings if "with different labels" in w]
    assert len(said) == 1 and "1 clip(s) annotated more than once" in said[0], index.warnings
    assert "sub01/EP02_01f (3 times: happiness, surprise);" in said[0], said


def test_samm_errata_rows_count_from_below_the_row_14_header(tmp_path, caplog):
    rows = [[9, f"009_{i}", 1, 1, 2, 3, 2, "Micro", 1, "", "4", "Disgust"] for i in range(57)]
    rows[56] = [6, "006_1_2", 1, 5700, 5720, 5800, 100, "Micro", 1, "", "R12", "Happiness"]
    samm(tmp_path, rows)
    frames(tmp_path / "SAMM/006/006_1_2", [f"006_{i:05d}.jpg" for i in range(5700, 5740)])
    with caplog.at_level(logging.INFO, logger="mpt.datasets"):
        index = load_dataset("samm", tmp_path)
    s = index.samples[0]
    assert s.frames[s.offset].name == "006_05739.jpg" and index.notes == {"errata applied": 1}
    assert "SAMM_Micro_FACS_Codes_v2.xlsx row 71 (006/006_1_2): erratum applied" in caplog.text


@pytest.mark.parametrize("sep", [";", "\t"], ids=["semicolons", "tabs"])
def test_csv_saved_with_semicolons_or_tabs_reads_like_commas(tmp_path, sep):
    """A spreadsheet saved as CSV where the decimal mark is a comma uses semicolons (tabs: a text export);
    both were refused as 'missing column(s) subject, clip, ...'."""
    comma = load_dataset("csv", csvfmt(tmp_path / "a"))
    text = "subject,clip,onset,apex,offset,label,fps\np1,clips/a,1,,10,joy,25\np2,clips/b,0,2,4,calm,\n"
    other = load_dataset("csv", csvfmt(tmp_path / "b", text.replace(",", sep)))
    key = [(s.subject, s.clip_id, s.onset, s.apex, s.offset, s.label, s.fps) for s in comma.samples]
    assert [(s.subject, s.clip_id, s.onset, s.apex, s.offset, s.label, s.fps) for s in other.samples] == key
    assert other.classes == comma.classes and len(key) == 2
    decimal = load_dataset("csv", csvfmt(tmp_path / "c", text.replace(",", sep).replace("25", "29,97")))
    assert [s.fps for s in decimal.samples] == [29.97, 30.0]   # the decimal comma of those locales ('fps ... is not')


def test_a_class_of_one_subject_is_warned_about(tmp_path):
    text = ("subject,clip,onset,apex,offset,label\n"
            "p1,clips/a,1,,10,joy\np1,clips/b,0,2,4,calm\np2,clips/a,1,,10,joy\n")
    index = load_dataset("csv", csvfmt(tmp_path, text))
    said = [w for w in index.warnings if "one subject only" in w]
    assert len(said) == 1 and "class 'calm' has clips of one subject only (p1)" in said[0]


def test_casme3_never_reads_the_macro_expression_sheet(tmp_path):
    """Part A ships ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` and, beside it, the macro-expression sheet
    ``cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx`` (header sub, seq, onset, ...): the newest-name rule
    picked the MaE sheet, so training stopped on its columns or, with the same columns, read macro-expressions."""
    root = casme3(tmp_path)
    xlsx(root / "annotation/cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx",
         [CASME3_HEADER, ["spNO.1", "a", 1, 2, 3, "4", 1, "sad"]])
    index = load_dataset("casme3", root)
    assert [(t.clip_id, t.label) for t in index.samples] == [("a_5", "happy"), ("a_12", "disgust"),
                                                            ("b_2", "surprise"), ("b_6", "others")]
    assert not any("files match" in w for w in index.warnings)


def test_casme3_combined_sheet_drops_its_macro_rows(tmp_path):
    """``CAS(ME)3_part_A_v1.xlsx`` lists micro- and macro-expressions with a type column: only the micro rows
    are micro-expression samples; the macro ones are dropped and counted."""
    root = casme3(tmp_path, rows=[])
    (root / "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx").unlink()
    header = CASME3_HEADER[:6] + ["Type"] + CASME3_HEADER[6:]
    xlsx(root / "annotation/CAS(ME)3_part_A_v1.xlsx", [header,
         ["spNO.1", "a", 5, 7, 9, "12", "Micro-expression", 1, "happy"],
         ["spNO.1", "a", 2, 10, 19, "4", "Macro-expression", 2, "sad"],
         ["spNO.2", "b", 2, 3, 4, "1", "micro-expression", 3, "surprise"]])
    index = load_dataset("casme3", root)
    assert [(t.clip_id, t.label) for t in index.samples] == [("a_5", "happy"), ("b_2", "surprise")]
    assert index.dropped == {"macro-expression row (type column)": 1}
    xlsx(root / "annotation/CAS(ME)3_part_A_v1.xlsx", [header, ["spNO.1", "a", 5, 7, 9, "12", "blink", 1, "happy"]])
    with pytest.raises(InputError, match=r"CAS\(ME\)3_part_A_v1.xlsx row 2 \(spNO.1/a\): type 'blink' is not Micro"):
        load_dataset("casme3", root)


@pytest.mark.parametrize("onset, apex, offset", [("5,562", "5,563", "5,565"), ("5 562", "5\u00a0563", " 5565 "),
                                                 ("5562.0", "5563", "5565")])
def test_frame_numbers_stored_as_text(tmp_path, onset, apex, offset):
    """A sheet whose frame numbers were formatted with thousands separators and saved as text or CSV ('5,562')
    stopped at "onset '5,562' is not a frame number"; they read as the numbers. Trailing spaces in the header and
    in the cells, and a blank row between data rows, are read past too."""
    want = [(t.name, t.onset, t.apex, t.offset, t.label) for t in load_dataset("samm", samm(tmp_path / "a")).samples]
    rows = [[6, "006_1_2 ", 1, onset, apex, offset, 4, "Micro", 1, "", "R12", "Happiness "], [None] * 12,
            [6, "006_1_3", 1, 100, -1, 104, 5, "Micro", 3, "", "4", "Anger"],
            [7, "007_3_1", 3, 10, 11, 12, 3, "Micro", 2, "", "L14", "Other"]]
    root = samm(tmp_path / "b", rows)
    xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", [[h + " " for h in SAMM_HEADER]] + rows, header_row=14)
    assert [(t.name, t.onset, t.apex, t.offset, t.label) for t in load_dataset("samm", root).samples] == want
    bad = [list(rows[0])]
    bad[0][3] = "5,56"                                           # not thousands: still not a frame number
    xlsx(root / "SAMM_Micro_FACS_Codes_v2.xlsx", [SAMM_HEADER] + bad, header_row=14)
    with pytest.raises(InputError, match="onset '5,56' is not a frame number"):
        load_dataset("samm", root)


def test_csv_sheet_not_in_utf8_says_how_to_save_it(tmp_path):
    """Excel's plain 'CSV' is written in the system's code page (GBK on a Chinese Windows): the error relayed the
    codec's "'utf-8' codec can't decode byte 0xb8 in position 0: invalid start byte"."""
    root = csvfmt(tmp_path)
    (root / "labels.csv").write_bytes("subject,clip,onset,apex,offset,label\np1,clips/a,1,,10,\u9ad8\u5174\n"
                                      .encode("gbk"))
    with pytest.raises(InputError, match=r"labels.csv: cannot read the annotation sheet: not UTF-8 text \(invalid "
                                         r"start byte\); save it as 'CSV UTF-8'"):
        load_dataset("csv", root)


def test_macos_copies_and_hidden_files_are_not_frames_or_sheets(tmp_path):
    """A dataset unpacked from an archive made on a Mac (or copied to a non-Mac disk) holds ``._img9.jpg`` beside
    ``img9.jpg``, ``.DS_Store``, and a ``__MACOSX`` tree with ``._`` copies of every file: frame 9 was refused as
    'appears twice' and the ``._`` sheet was a second candidate sheet."""
    root = samm(tmp_path / "data" / ".cache" / "SAMM")        # a root below a hidden folder still reads
    clip = root / "SAMM/006/006_1_2"
    (clip / "._006_05562.jpg").write_bytes(b"\x00\x05\x16\x07")
    (clip / ".DS_Store").write_bytes(b"\x00")
    (clip / "Thumbs.db").write_bytes(b"\x00")
    (root / "._SAMM_Micro_FACS_Codes_v2.xlsx").write_bytes(b"\x00\x05\x16\x07")
    (root / "~$SAMM_Micro_FACS_Codes_v2.xlsx").write_bytes(b"\x00")
    frames(root / "__MACOSX/SAMM/006/006_1_2", ["._006_05562.jpg"])
    (root / "__MACOSX/._SAMM_Micro_FACS_Codes_v2.xlsx").write_bytes(b"\x00\x05\x16\x07")
    index = load_dataset("samm", root)
    s = {t.clip_id: t for t in index.samples}["006_1_2"]
    assert [p.name for p in s.frames] == [f"006_{i:05d}.jpg" for i in range(5560, 5567)]
    assert s.frames[s.onset].name == "006_05562.jpg" and "__MACOSX" not in str(s.frames[0])
    assert not any("files match" in w for w in index.warnings), index.warnings


def test_casme3_clips_package(tmp_path):
    """Part A's clips package: ``Part_A_ME_clip/frame/<Subject>_<Filename>_<Onset>/<n>.jpg``, one folder per
    micro-expression, its subjects spelled ``spNo.1`` where the sheet says ``spNO.1``, a ``depth`` twin of png
    frames and mp4 copies beside it. It was refused: 'no CAS(ME)^3 frame folders found'."""
    xlsx(tmp_path / "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", [CASME3_HEADER,
         ["spNO.1", "a", 5, 7, 9, "12", 1, "happy"], ["spNO.1", "a", 12, 13, 15, "4", 2, "disgust"],
         ["spNO.2", "b", 2, 3, 4, "1+2", 3, "surprise"]])
    clips = tmp_path / "Part_A_ME_clip"
    for name, rng in (("spNo.1_a_5", range(5, 10)), ("spNo.1_a_12", range(12, 16)), ("spNO.2_b_2", range(2, 5))):
        frames(clips / "frame" / name, [f"{i}.jpg" for i in rng])
        frames(clips / "depth" / name, [f"{i}.png" for i in rng])
    (clips / "video").mkdir()
    (clips / "video/spNo.1_a_5.mp4").write_bytes(b"\x00")
    frames(tmp_path / "Part_A_MaE_clip/frame/spNO.1_a_1", [f"{i}.jpg" for i in range(1, 30)])   # macro clips
    index = load_dataset("casme3", tmp_path)
    got = [(t.subject, t.clip_id, t.frames[t.onset].name, t.frames[t.apex].name, t.frames[t.offset].name,
            t.frames[0].parent.parent.name) for t in index.samples]
    assert got == [("spNO.1", "a_5", "5.jpg", "7.jpg", "9.jpg", "frame"),
                   ("spNO.1", "a_12", "12.jpg", "13.jpg", "15.jpg", "frame"),
                   ("spNO.2", "b_2", "2.jpg", "3.jpg", "4.jpg", "frame")]
    xlsx(tmp_path / "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
         [CASME3_HEADER, ["spNO.1", "a", 6, 7, 9, "12", 1, "happy"]])
    with pytest.raises(InputError, match=r"no usable samples \(dropped 1 row\(s\): no folder of its clip in the frames\)"):
        load_dataset("casme3", tmp_path)
    shutil.rmtree(clips / "frame")                         # only depth and the macro-expression clips are left
    with pytest.raises(InputError, match=r"no CAS\(ME\)\^3 frame folders"):
        load_dataset("casme3", tmp_path)


@pytest.mark.parametrize("other", ["part_C/spNO.217/a/color", "partC/data/spNO.1/a/color", "Part_B/spNO.2/b/color"])
def test_casme3_part_a_frames_beside_parts_b_and_c(tmp_path, other):
    """A copy of the whole release holds part C (and B) beside part A, also in spNO.<n> folders; a shallower one was
    taken for the frames and every part-A row was dropped ('no usable samples') or read the wrong recording."""
    want = [(t.name, [p.name for p in t.frames]) for t in load_dataset("casme3", casme3(tmp_path / "a")).samples]
    root = casme3(tmp_path / "b")
    frames(root / other, ["1.jpg", "2.jpg"])
    assert [(t.name, [p.name for p in t.frames]) for t in load_dataset("casme3", root).samples] == want


def test_casme3_recording_folders_matched_ignoring_case(tmp_path):
    root = casme3(tmp_path)
    base = root / "part_A/data/part_A"
    (base / "spNO.1").rename(base / "spNo.1")
    (base / "spNo.1/a").rename(base / "spNo.1/A")
    index = load_dataset("casme3", root)
    assert [(t.subject, t.clip_id) for t in index.samples] == [("spNO.1", "a_5"), ("spNO.1", "a_12"),
                                                              ("spNO.2", "b_2"), ("spNO.2", "b_6")]
    assert index.samples[0].frames[0].parent == base / "spNo.1/A/color"


@pytest.mark.parametrize("name, build, rename", [
    ("casme2", casme2, [("CASME2_RAW_selected/sub01", "Sub01"), ("CASME2_RAW_selected/Sub01/EP02_01f", "ep02_01F")]),
    ("smic", smic, [("SMIC_all_raw/HS/s1/micro", "Micro"), ("SMIC_all_raw/HS/s2/micro/surprise", "Surprise")]),
], ids=["casme2", "smic"])
def test_folder_names_in_another_letter_case(tmp_path, name, build, rename):
    """A copy whose folders differ from the sheet only in letter case (a case-insensitive disk, a re-packed
    archive) was refused on Linux: 'clip folder ... not found' / "no 'micro' folder"."""
    root = build(tmp_path)
    before = [(t.subject, t.clip_id, t.label, t.onset, t.apex, t.offset, len(t.frames))
              for t in load_dataset(name, root).samples]
    for path, new in rename:
        (root / path).rename((root / path).parent / new)
    index = load_dataset(name, root)
    after = [(t.subject, t.clip_id, t.label, t.onset, t.apex, t.offset, len(t.frames)) for t in index.samples]
    assert after == before and len(before) == 3
    assert all(p.is_file() for t in index.samples for p in t.frames)


def test_a_note_below_the_table_is_not_a_row(tmp_path):
    """A note, a merged cell or a formatted-but-empty row under the table (only non-annotation columns filled)
    stopped the load: "row 17: subject '' is not a subject number"."""
    rows = [[6, "006_1_2", 1, 5562, 5563, 5565, 4, "Micro", 1, "", "R12", "Happiness"],
            [None] * 12,
            [None, None, None, None, None, None, None, None, None, "Note: apex -1 = not coded", None, None],
            ["", " ", "", "", "", "", "", "", "", "", "", ""],
            [7, "007_3_1", 3, 10, 11, 12, 3, "Micro", 2, "", "L14", "Other"]]
    index = load_dataset("samm", samm(tmp_path, rows))
    assert [t.clip_id for t in index.samples] == ["006_1_2", "007_3_1"] and index.dropped == {}
    rows[2][0] = 8                                            # a row with some annotation cells is still checked
    with pytest.raises(InputError, match=r"SAMM_Micro_FACS_Codes_v2.xlsx row 17 \(008\): Filename is empty"):
        load_dataset("samm", samm(tmp_path, rows))


def test_subjects_of_the_sheet_and_of_the_folders_that_do_not_meet(tmp_path, caplog):
    """A subject the sheet codes but the copy of the frames lacks (a partial download) stopped the whole load; a
    subject or clip folder no row names was skipped without a word. The first is a counted drop, and each is
    one warning line naming the folders."""
    rows = [[1, "EP02_01f", 9, 10, 11, "12", "happiness"], [27, "EP01_01", 1, 2, 3, "1", "surprise"],
            [27, "EP01_02", 1, 2, 3, "1", "others"], [28, "EP03_01", 4, 5, 6, "4", "fear"]]
    root = casme2(tmp_path, rows)
    raw = root / "CASME2_RAW_selected"
    frames(raw / "sub01/EP09_09", ["img1.jpg"])               # a clip no row names
    frames(raw / "sub04/EP01_01", ["img1.jpg"])               # a subject no row names
    with caplog.at_level(logging.INFO, logger="mpt.datasets"):
        index = load_dataset("casme2", root)
    assert [t.name for t in index.samples] == ["casme2/sub01/EP02_01f"]
    assert index.dropped == {"no folder of its subject in the frames": 2,
                             "label fear (not in the 5-class protocol)": 1}
    assert f"{raw}: no folder for subject(s) sub27 (2 rows): their rows are dropped" in index.warnings
    assert f"{raw}: 4 folder(s) no sheet row names, not used: sub01/EP09_09, sub02/, sub03/, sub04/" in index.warnings
    assert index.notes == {}
    assert "no sheet row names sub01/EP09_09; not used" in caplog.text


@pytest.mark.parametrize("name, build, row, said", [
    ("casme2", casme2, [1, "EP99_01", 9, 10, 11, "12", "happiness"], "row 3 (sub01/EP99_01)"),
    ("samm", samm, [6, "006_9_9", 1, 5, 6, 7, 3, "Micro", 1, "", "R12", "Happiness"], "row 16 (006/006_9_9)"),
    ("casme3", casme3, ["spNO.2", "z", 2, 3, 4, "", 3, "surprise"], "row 3 (spNO.2/z)"),
], ids=["casme2", "samm", "casme3"])
def test_a_row_whose_clip_is_not_on_disk_is_a_counted_drop(tmp_path, name, build, row, said):
    """A sheet row naming a clip the copy lacks (a partial download; releases that left a coded clip out) stopped
    the whole load at 'clip folder ... not found'. It is dropped, counted, and one warning names the rows."""
    root = build(tmp_path)
    sheet = next(p for p in root.rglob("*.xlsx"))
    rows = pd.read_excel(sheet, engine="openpyxl", header=None, dtype=object).values.tolist()
    head = next(i for i, r in enumerate(rows) if r[0] == "Subject")
    rows = [[None if isinstance(v, float) and v != v else v for v in r] for r in rows[head:]]
    before = [t.name for t in load_dataset(name, root).samples]
    xlsx(sheet, rows[:2] + [row] + rows[2:], header_row=head + 1)
    index = load_dataset(name, root)
    assert [t.name for t in index.samples] == before
    assert index.dropped["no folder of its clip in the frames"] == 1
    assert [w for w in index.warnings if "clip folder" in w] == [
        f"{sheet.name}: 1 row(s) name a clip folder the frames lack, dropped: {said}"]


def test_csv_row_whose_clip_folder_is_not_there_is_a_counted_drop(tmp_path):
    """--dataset csv: a row naming a clip folder that is not there (a partial copy) stopped the whole load at 'clip
    folder ... not found', where every other reader drops it; it is dropped, counted and named in one warning."""
    text = ("subject,clip,onset,apex,offset,label,fps\np1,clips/a,1,,10,joy,25\np3,clips/gone,0,1,2,joy,\n"
            "p2,clips/b,0,2,4,calm,\n")
    index = load_dataset("csv", csvfmt(tmp_path, text))
    assert [t.name for t in index.samples] == [t.name for t in load_dataset("csv", csvfmt(tmp_path / "all")).samples]
    assert index.dropped == {"no folder of its clip in the frames": 1}
    assert [w for w in index.warnings if "clip folder" in w] == [
        "labels.csv: 1 row(s) name a clip folder the frames lack, dropped: row 3 (p3/clips/gone)"]


@pytest.mark.parametrize("name, build", [("casme2", casme2), ("samm", samm), ("casme3", casme3), ("csv", csvfmt)],
                         ids=["casme2", "samm", "casme3", "csv"])
def test_a_clip_folder_with_no_frames_is_a_counted_drop(tmp_path, name, build):
    """A clip folder whose frames were never extracted (or not copied) stopped the whole load at 'clip folder ...
    has no image frames'; its rows are dropped, counted, and one warning names the clip and its folder."""
    root = build(tmp_path)
    before = load_dataset(name, root).samples
    gone = before[0]
    folder = gone.frames[0].parent
    for f in folder.iterdir():
        f.unlink()
    index = load_dataset(name, root)
    assert [t.name for t in index.samples] == [t.name for t in before if t.frames[0].parent != folder]
    assert index.dropped["its clip folder holds no image frames"] == sum(t.frames[0].parent == folder for t in before)
    said = [w for w in index.warnings if "holds no image frames" in w]
    assert len(said) == 1 and f"{gone.subject}/" in said[0] and f": {folder})" in said[0] and "dropped: row " in said[0]


def test_csv_clip_paths_written_on_windows(tmp_path):
    """A sheet made on Windows names clip folders 'clips\\a'; on Linux that is one file name, so every row was
    'not found'. A relative path with backslashes is read with them as folder separators."""
    text = "subject,clip,onset,apex,offset,label,fps\np1,clips\\a,1,,10,joy,25\np2,.\\clips\\b\\,0,2,4,calm,\n"
    index = load_dataset("csv", csvfmt(tmp_path, text))
    assert [(t.subject, t.frames[0].parent.name, len(t.frames)) for t in index.samples] == [("p1", "a", 12),
                                                                                            ("p2", "b", 5)]
    assert index.dropped == {}


def test_annotated_frames_that_fall_in_a_gap_of_the_numbering(tmp_path):
    """CAS(ME)^3's recordings dropped frames here and there (the MEGC loaders fill the gaps), so a coded onset,
    apex or offset can name an image that is not on disk; the whole load stopped at 'frame N not found'. Inside
    the clip's numbering the nearest frame within the interval is used (counted); outside it is still an error."""
    root = casme3(tmp_path, [["spNO.1", "a", 5, 7, 9, "12", 1, "happy"], ["spNO.1", "a", 12, 13, 15, "4", 2, "disgust"]])
    color = root / "part_A/data/part_A/spNO.1/a/color"
    for n in (5, 7, 14, 15):
        (color / f"{n}.jpg").unlink()                        # frames 1-4, 6, 8-13, 16-20 are left
    index = load_dataset("casme3", root)
    got = [(t.frames[t.onset].name, t.frames[t.apex].name, t.frames[t.offset].name) for t in index.samples]
    assert got == [("6.jpg", "6.jpg", "9.jpg"), ("12.jpg", "13.jpg", "13.jpg")]
    assert [t.clip_id for t in index.samples] == ["a_6", "a_12"]
    assert index.notes == {"frame number in a gap of the clip's numbering: nearest frame used": 2}
    for n in (10, 11, 12):
        (color / f"{n}.jpg").unlink()
    xlsx(root / "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
         [CASME3_HEADER, ["spNO.1", "a", 10, 11, 12, "4", 2, "disgust"]])
    with pytest.raises(InputError, match=r"row 2 \(spNO.1/a\): frames 10..12 are all missing from .*color"):
        load_dataset("casme3", root)


def test_smic_skips_hidden_and_nas_thumbnail_folders(tmp_path):
    """A copy kept on a NAS or opened on a Mac has folders that are not clips or emotions (``@eaDir``,
    ``.@__thumb``) inside the emotion and clip folders: SMIC stopped at "unknown emotion folder '@eaDir'"."""
    root = smic(tmp_path)
    hs = root / "SMIC_all_raw/HS"
    frames(hs / "s1/micro/@eaDir/s1_po_01", ["SYNOFILE_THUMB_M.jpg"])
    frames(hs / "s1/micro/positive/.@__thumb", ["s1_po_01.jpg"])
    frames(hs / "s2/micro/surprise/@eaDir", ["x.jpg"])
    for s in ("s1", "s2"):
        (hs / s / "micro").rename(hs / s / "Micro")                # and 'micro' in another case everywhere
    index = load_dataset("smic", root)
    assert [(t.subject, t.clip_id, t.label, len(t.frames)) for t in index.samples] == [
        ("s1", "s1_ne_01", "negative", 4), ("s1", "s1_po_01", "positive", 7), ("s2", "s2_sur_01", "surprise", 3)]


@pytest.mark.parametrize("where, expect", [
    ("SMIC_all_raw/VIS", ("VIS", 25.0)), ("SMIC_all_raw/NIR", ("NIR", 25.0)), ("SMIC_all_raw", ("HS", 100.0)),
    ("SMIC_all_raw/HS", ("HS", 100.0))])
def test_smic_normal_speed_sets_are_25_fps(tmp_path, where, expect):
    """SMIC-VIS and SMIC-NIR are filmed at 25 fps, SMIC-HS at 100: --data pointing at VIS (or NIR) read its clips
    as 100 fps clips without a word."""
    root = smic(tmp_path)
    for s in ("VIS", "NIR"):
        frames(root / f"SMIC_all_raw/{s}/s1/micro/positive/s1_po_01", [f"image{i}.bmp" for i in range(1, 4)])
    index = load_dataset("smic", root / where)
    folder, fps = expect
    assert {t.fps for t in index.samples} == {fps}
    assert {t.frames[0].parts[-6] for t in index.samples} == {folder}
    said = [w for w in index.warnings if "reading SMIC-" in w]
    assert said == ([] if folder == "HS" else [f"{root / where}: reading SMIC-{folder}, filmed at 25 fps (SMIC-HS: 100 fps)"])


def test_smic_without_hs_reads_vis_before_nir(tmp_path):
    """A copy with VIS and NIR but no HS read NIR (the alphabetical first of two folders alike); the colour set,
    VIS, is read (HS > VIS > NIR), with the warning that says which set and its frame rate."""
    root = tmp_path / "SMIC"
    for s in ("NIR", "VIS"):
        frames(root / f"SMIC_all_raw/{s}/s1/micro/positive/s1_po_01", [f"image{i}.bmp" for i in range(1, 4)])
    index = load_dataset("smic", root)
    assert {t.frames[0].parts[-6] for t in index.samples} == {"VIS"}
    assert [w for w in index.warnings if "reading SMIC-" in w] == [
        f"{root / 'SMIC_all_raw/VIS'}: reading SMIC-VIS, filmed at 25 fps (SMIC-HS: 100 fps)"]


@pytest.mark.parametrize("name, build, width, first, onset", [("casme2", casme2, 7, 2, 2), ("samm", samm, 12, 15, 3),
                                                              ("casme3", casme3, 8, 2, 2)], ids=["casme2", "samm", "casme3"])
def test_a_note_or_a_total_under_the_table_is_skipped_and_counted(tmp_path, name, build, width, first, onset):
    """A note typed under a coding sheet's table ('Note: ...' in the Subject column) or a total ('Total' beside a
    count) stopped the whole load at "subject 'Note: ...' is not a subject number" (or "subject ''"), where SMIC-E
    and CAS(ME)^2 skip such rows. A row with no frame number and no digit in Subject is skipped, counted; one that
    names a subject (a digit) but no frame is an annotation still, and its error names it."""
    root = build(tmp_path)
    before = load_dataset(name, root)
    sheet = next(p for p in root.rglob("*.xlsx"))
    wb = openpyxl.load_workbook(sheet)
    ws = wb.active
    ws.append([None] * width)
    ws.append(["Note: frame numbers are those of the image names"] + [None] * (width - 1))
    ws.append([None, "Total"] + [None] * (width - 3) + [len(before.samples)])
    wb.save(sheet)
    index = load_dataset(name, root)
    assert [(t.name, t.label, t.onset, t.apex, t.offset) for t in index.samples] == [
        (t.name, t.label, t.onset, t.apex, t.offset) for t in before.samples]
    text = {k: n for k, n in index.notes.items() if k.startswith("text under or in the table")}
    assert list(text.values()) == [2] and {k: n for k, n in index.notes.items() if k not in text} == before.notes
    row = [c.value for c in ws[first]]  # the first annotation again, its frames '/'
    row[onset:onset + 3] = ["/"] * 3
    ws.append(row)
    wb.save(sheet)
    with pytest.raises(InputError, match=rf"row {ws.max_row} \(.*\): onset '/' is not a frame number"):
        load_dataset(name, root)


@pytest.mark.parametrize("name, build, width, first, onset", [("casme2", casme2, 7, 2, 2), ("samm", samm, 12, 15, 3),
                                                              ("casme3", casme3, 8, 2, 2)], ids=["casme2", "samm", "casme3"])
def test_a_note_with_a_digit_is_skipped_and_a_row_with_a_clip_and_emotion_is_an_annotation(tmp_path, name, build, width,
                                                                                         first, onset):
    """'Note: coded in 2014' and 'TOTAL: 255' in the Subject column have a digit, and stopped the load at "subject
    'Note: ...' is not a subject number"; they are skipped and counted as notes. A row with its Filename and Emotion
    but its Subject blank and its frames '/' was skipped as text with no word; it is an annotation, and its error
    names its row."""
    root = build(tmp_path)
    before = load_dataset(name, root)
    sheet = next(p for p in root.rglob("*.xlsx"))
    wb = openpyxl.load_workbook(sheet)
    ws = wb.active
    ws.append(["Note: coded in 2014"] + [None] * (width - 1))
    ws.append(["TOTAL: 255"] + [None] * (width - 1))
    wb.save(sheet)
    index = load_dataset(name, root)
    assert [(t.name, t.label, t.onset, t.apex, t.offset) for t in index.samples] == [
        (t.name, t.label, t.onset, t.apex, t.offset) for t in before.samples]
    assert [n for k, n in index.notes.items() if k.startswith("text under or in the table")] == [2]
    row = [c.value for c in ws[first]]  # the first annotation again, its Subject blank and its frames '/'
    row[0] = None
    row[onset:onset + 3] = ["/"] * 3
    ws.append(row)
    wb.save(sheet)
    with pytest.raises(InputError, match=rf"row {ws.max_row}\b"):
        load_dataset(name, root)


def test_a_smic_clip_folder_with_no_frames_is_a_counted_drop(tmp_path):
    """SMIC-HS has no sheet: every folder under micro/<emotion>/ is a clip, and one holding no frames (never
    extracted, or a 'New folder' made beside the clips) stopped the whole load at 'clip folder has no image frames',
    where the sheet readers drop such a clip. It is dropped, counted, and one warning names it; with every clip
    folder empty the load still stops, in one line."""
    root = smic(tmp_path)
    hs = root / "SMIC_all_raw/HS"
    (hs / "s1/micro/positive/New folder").mkdir()
    for f in (hs / "s2/micro/surprise/s2_sur_01").iterdir():
        f.unlink()
    (hs / "s2/micro/surprise/s2_sur_01/Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    index = load_dataset("smic", root)
    assert [t.clip_id for t in index.samples] == ["s1_ne_01", "s1_po_01"]
    assert index.dropped == {"its clip folder holds no image frames": 2}
    assert index.warnings == [f"{hs}: 2 clip folder(s) hold no image frames (not extracted, or not copied), dropped: "
                              "s1/micro/positive/New folder, s2/micro/surprise/s2_sur_01"]
    for clip in ("negative/s1_ne_01", "positive/s1_po_01"):
        for f in (hs / "s1/micro" / clip).iterdir():
            f.unlink()
    with pytest.raises(InputError, match=r"HS: no SMIC clips found under .* \(4 clip folder\(s\) there, none holding"):
        load_dataset("smic", root)


def test_smic_subject_without_micro_expressions_is_named_not_fatal(tmp_path):
    """SMIC filmed 20 subjects but found micro-expressions in 16: a subject folder holding only ``non_micro``
    (or nothing) stopped the load with "no 'micro' folder"."""
    root = smic(tmp_path)
    hs = root / "SMIC_all_raw/HS"
    frames(hs / "s5/non_micro/s5_1", ["image1.bmp"])
    (hs / "s7").mkdir()
    index = load_dataset("smic", root)
    assert [t.clip_id for t in index.samples] == ["s1_ne_01", "s1_po_01", "s2_sur_01"]
    assert f"{hs}: no 'micro' folder in 2 subject folder(s), not used: s5, s7" in index.warnings


def test_sheet_cells_as_spreadsheets_leave_them(tmp_path):
    """Real sheets have headers and cells with stray spaces, numbers stored as text or as floats, labels in
    another case, and frames saved as .JPG: all read as the clean sheet would be."""
    header = ["Subject ", " Filename", "OnsetFrame ", "ApexFrame", "Offset Frame", "Action Units", "Estimated Emotion "]
    rows = [[" 1", "EP02_01f ", "9", " 10", "11 ", "12", "Happiness "], ["02", "EP03_02", 3.0, " / ", 7.0, "14", " Others"],
            ["sub03", "EP07_04", 20, 22, 24, "9", "DISGUST"]]
    root = casme2(tmp_path, rows, header=header)
    for p in (root / "CASME2_RAW_selected/sub01/EP02_01f").iterdir():
        p.rename(p.with_suffix(".JPG"))
    index = load_dataset("casme2", root)
    assert [(t.subject, t.clip_id, t.onset, t.apex, t.offset, t.label, t.frames[t.onset].name) for t in index.samples] == [
        ("sub01", "EP02_01f", 1, 2, 3, "happiness", "img9.JPG"), ("sub02", "EP03_02", 2, 4, 6, "others", "img3.jpg"),
        ("sub03", "EP07_04", 2, 4, 6, "disgust", "img20.jpg")]


@pytest.mark.parametrize("package", [False, True], ids=["recordings", "clips"])
def test_casme3_onset_0_in_frames_numbered_from_1(tmp_path, package):
    """CAS(ME)^3 part A codes a movement already under way at the recording's start with onset 0 (and apex 0),
    while its images are numbered from 1 (MEB's erratum for one such row sets onset and apex to 1): the load
    stopped at 'onset frame 0 not found'. The clip's first image is used, counted; onset 0 where the clip does
    have an image 0 is that image."""
    rows = [["spNO.1", "a", 0, 0, 4, "12", 1, "happy"], ["spNO.2", "b", 0, 2, 3, "4", 2, "disgust"],
            ["spNO.2", "b", 4, 5, 6, "1+2", 3, "surprise"]]
    root = casme3(tmp_path, rows)
    if package:
        shutil.rmtree(root / "part_A")
        for name, rng in (("spNO.1_a_0", range(1, 8)), ("spNO.2_b_0", range(1, 4)), ("spNO.2_b_4", range(4, 7))):
            frames(root / "Part_A_ME_clip/frame" / name, [f"{i}.jpg" for i in rng])
    index = load_dataset("casme3", root)
    got = [(t.frames[t.onset].name, t.frames[t.apex].name, t.frames[t.offset].name) for t in index.samples]
    assert got == [("1.jpg", "1.jpg", "4.jpg"), ("1.jpg", "2.jpg", "3.jpg"), ("4.jpg", "5.jpg", "6.jpg")]
    assert index.notes == {"onset 0 in a clip numbered from 1: its first frame used": 2}
    folder = index.samples[0].frames[0].parent
    frames(folder, ["0.jpg"])                                 # numbered from 0: frame 0 is an image
    index = load_dataset("casme3", root)
    assert index.samples[0].frames[index.samples[0].onset].name == "0.jpg"
    assert index.notes == {"onset 0 in a clip numbered from 1: its first frame used": 1}
    (folder / "0.jpg").unlink()
    (folder / "1.jpg").unlink()                               # numbered from 2: onset 0 is outside the clip
    with pytest.raises(InputError, match=r"row 2 \(spNO.1/a\): onset frame 0 not found"):
        load_dataset("casme3", root)


def test_the_table_on_a_later_sheet_of_the_workbook(tmp_path):
    """CAS(ME)^3's ME workbook keeps its table on a sheet named 'label' (loaders read it with
    ``sheet_name='label'``); with a notes or summary sheet before it, only the first sheet was read and the load
    stopped at 'missing column(s) Subject, ...'. The first sheet holding the table is read, its rows named with
    the sheet; a workbook with no such sheet still names what is missing."""
    root = casme3(tmp_path)
    path = root / "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
    rows = pd.read_excel(path, engine="openpyxl", header=None, dtype=object).values.tolist()
    wb = openpyxl.Workbook()
    wb.active.title = "readme"
    wb.active.append(["CAS(ME)^3 part A ME labels"])
    wb.active.append(["Onset, Apex and Offset are image numbers"])
    label = wb.create_sheet("label")
    for r in rows:
        label.append(r)
    wb.create_sheet("AU statistics").append(["AU", "count"])
    wb.save(path)
    index = load_dataset("casme3", root)
    assert [(t.subject, t.clip_id) for t in index.samples] == [("spNO.1", "a_5"), ("spNO.1", "a_12"),
                                                              ("spNO.2", "b_2"), ("spNO.2", "b_6")]
    label["H3"] = "bored"                                      # a row error names the file and its sheet
    wb.save(path)
    with pytest.raises(InputError, match=r"JpgIndex_v2.xlsx \[label\] row 3 \(spNO.1/a\): unknown label 'bored'"):
        load_dataset("casme3", root)
    del wb["label"]
    wb.save(path)
    with pytest.raises(InputError, match=r"missing column\(s\) Subject, Filename, Onset, Apex, Offset, emotion "
                                         r"in any of its 2 sheets"):
        load_dataset("casme3", root)


@pytest.mark.parametrize("name, build, old, new", [
    ("casme2", casme2, "CASME2-coding-20140508.xlsx", "casme2-coding-20140508.XLSX"),
    ("samm", samm, "SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM_Micro_FACS_Codes_v2.XLSX"),
    ("casme3", casme3, "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
     "annotation/cas(me)3_PART_A_ME_label_JpgIndex_v2.XLSX"),
], ids=["casme2", "samm", "casme3"])
def test_sheet_names_in_another_letter_case(tmp_path, name, build, old, new):
    """A sheet saved on Windows as ``.XLSX`` or renamed in another case was not found on Linux ('no
    SAMM_Micro_FACS_Codes*.xlsx sheet found'): sheet names are matched ignoring letter case."""
    root = build(tmp_path)
    before = [t.name for t in load_dataset(name, root).samples]
    (root / old).rename(root / new)
    assert [t.name for t in load_dataset(name, root).samples] == before


def test_an_xlsx_saved_beside_its_xls_is_the_one_read(tmp_path):
    """An .xls sheet pandas cannot read here is refused with 'save the sheet as .xlsx'; the .xlsx saved beside it
    (same name) lost to the .xls (a name that is a prefix sorted first), so the same error came back. Of one name
    the .xlsx is read, then the .xls, then a .csv; newer names still win over older ones."""
    root = casme3(tmp_path)
    ann = root / "annotation"
    good = ann / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
    before = [t.name for t in load_dataset("casme3", root).samples]
    (ann / "cas(me)3_part_A_ME_label_JpgIndex_v2.xls").write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504))
    (ann / "cas(me)3_part_A_ME_label_JpgIndex_v2.csv").write_text("Subject,Filename\n")
    (ann / "cas(me)3_part_A_ME_label_JpgIndex_v1.xlsx").write_bytes(good.read_bytes())
    index = load_dataset("casme3", root)
    assert [t.name for t in index.samples] == before
    assert [w.split("; using ")[1].split(" ")[0] for w in index.warnings if "; using " in w] == [
        "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"]
    good.rename(ann / "cas(me)3_part_A_ME_label_JpgIndex_v2_20250903.xlsx")      # a dated re-release is newer
    index = load_dataset("casme3", root)
    assert [w.split("; using ")[1].split(" ")[0] for w in index.warnings if "; using " in w] == [
        "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2_20250903.xlsx"]


def test_a_subject_merged_over_its_clips_rows_is_each_rows_subject(tmp_path):
    """A coding sheet whose Subject cell is merged over the rows of that subject's clips (and a title merged across
    the columns above the header) stopped the load: "row 5: subject '' is not a subject number"; pandas reads a
    merged cell in its first row only."""
    root = casme2(tmp_path)
    path = root / "CASME2-coding-20140508.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    ws.insert_rows(1)
    ws.cell(1, 1, "CASME II coding")
    ws.merge_cells("A1:G1")
    for top in (4, 6):                      # rows of sub02, sub03: the second one's subject cell is merged away
        ws.cell(top + 1, 1).value = None
        ws.merge_cells(f"A{top}:A{top + 1}")
    wb.save(path)
    index = load_dataset("casme2", root)
    assert [(t.subject, t.clip_id) for t in index.samples] == [("sub01", "EP02_01f"), ("sub02", "EP03_02"),
                                                                ("sub03", "EP07_04")]
    assert index.dropped == {"label fear (not in the 5-class protocol)": 1,
                             "label sadness (not in the 5-class protocol)": 1}


def test_a_workbook_is_parsed_once(tmp_path, monkeypatch):
    """Each .xlsx sheet was parsed twice, by pandas and again by openpyxl for its merged cells (a whole parse of a
    workbook each time); openpyxl's one load is read by pandas and gives the merged ranges."""
    root = casme2(tmp_path)
    loads: list[str] = []
    real = openpyxl.load_workbook
    monkeypatch.setattr(openpyxl, "load_workbook", lambda f, *a, **k: loads.append(str(f)) or real(f, *a, **k))
    index = load_dataset("casme2", root)
    assert index.samples and loads == [str(root / "CASME2-coding-20140508.xlsx")]


def test_a_zip_that_is_no_excel_workbook_under_an_xlsx_name_is_read_as_pandas_reads_it(tmp_path):
    """Every .xlsx that is a zip went to openpyxl, so an OpenDocument sheet saved under an .xlsx name (which pandas
    tells by its contents and reads with odfpy) was refused with openpyxl's "There is no item named
    '[Content_Types].xml' in the archive". Only a zip holding an Excel workbook is openpyxl's; others are pandas' as
    before: read, or the line saying which package it needs."""
    import importlib.util
    import zipfile

    from train.datasets.sheets import read_workbook

    path = tmp_path / "coding.xlsx"
    if importlib.util.find_spec("odf"):
        pd.DataFrame([["Subject", "Clip"], [1, "EP01"]]).to_excel(path, engine="odf", header=False, index=False)
        assert read_workbook(path, sheet_name=None)
        return
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(InputError, match=r"coding.xlsx: cannot read the annotation sheet: this workbook format needs "
                                         r"an optional package that is not installed \(.*odfpy"):
        read_workbook(path, sheet_name=None)


def test_a_subject_whose_every_row_is_outside_the_protocol_is_named(tmp_path):
    """A subject all of whose rows have classes the 5-class protocol drops (SAMM: disgust, fear, sadness) vanished
    from the folds with only the dataset-wide counts to tell; one warning now names it and its rows' labels."""
    rows = [[6, "006_1_2", 1, 5562, 5563, 5565, 4, "Micro", 1, "", "R12", "Happiness"],
            [7, "007_3_1", 3, 10, 11, 12, 3, "Micro", 2, "", "L14", "Other"],
            [8, "008_1_1", 1, 10, 11, 12, 3, "Micro", 7, "", "9", "Disgust"],
            [8, "008_1_2", 1, 20, 21, 22, 3, "Micro", 7, "", "1+2", "fear"],
            [8, "008_1_3", 1, 30, 31, 32, 3, "Micro", 7, "", "15", "Fear"]]
    root = samm(tmp_path, rows)
    frames(root / "SAMM/008/008_1_1", [f"008_{i:05d}.jpg" for i in range(10, 13)])
    index = load_dataset("samm", root)
    assert index.subjects == ["006", "007"]
    said = [w for w in index.warnings if "008" in w]
    assert said == ["SAMM_Micro_FACS_Codes_v2.xlsx: every row of 1 subject(s) has a label outside the 5-class "
                    "protocol, so they have no clips and no LOSO fold: 008 (1 disgust, 2 fear)"]
    assert not any("subject(s)" in w for w in load_dataset("samm", samm(tmp_path / "std")).warnings)


def test_two_copies_under_the_root_read_frames_beside_the_sheet_read(tmp_path):
    """--data above two copies of CASME II read the newest-named sheet of one copy and the frames of whichever copy's
    path sorted first (the other one here), warning about the sheets only; the frames beside the sheet read are used
    now, and a warning names them and the other copy's."""
    casme2(tmp_path / "CASME2")
    (tmp_path / "CASME2/CASME2-coding-20140508.xlsx").rename(tmp_path / "CASME2/CASME2-coding-20190701.xlsx")
    casme2(tmp_path / "CASME2 old", rows=[[1, "EP02_01f", 9, 10, 11, "12", "disgust"],
                                          [2, "EP03_02", 3, 4, 7, "14", "surprise"]])
    index = load_dataset("casme2", tmp_path)
    assert {s.frames[0].parts[len(tmp_path.parts)] for s in index.samples} == {"CASME2"}
    assert [s.label for s in index.samples] == ["happiness", "others", "disgust"]
    assert f"{tmp_path}: 2 CASME II frame folders (sub01/EP02_01f/...) of one kind; using CASME2/CASME2_RAW_selected " \
           "(beside the sheet CASME2/CASME2-coding-20190701.xlsx), not CASME2 old/CASME2_RAW_selected; give --data " \
           "one copy's folder" in index.warnings
    assert not any("of one kind" in w for w in load_dataset("casme2", tmp_path / "CASME2").warnings)  # raw + Cropped


@pytest.mark.parametrize("name,build,inner", [("casme2", casme2, "CASME2_RAW_selected"), ("samm", samm, "SAMM/006"),
                                              ("casme3", casme3, "part_A")])
def test_data_given_as_a_folder_below_the_sheet_names_the_folder_to_give(tmp_path, name, build, inner):
    """--data at the frames folder (or a subject's) under the dataset's top folder only said "no ... sheet found";
    the line now names the sheet in the folder above and the --data to give."""
    root = build(tmp_path / "copy")
    with pytest.raises(InputError) as e:
        load_dataset(name, root / inner)
    sheet = next(p for p in root.rglob("*.xlsx") if "MaE" not in p.name)
    assert re.fullmatch(rf"{re.escape(str(root / inner))}: no .+ sheet in this folder or below; the folder above it "
                        rf"{re.escape(str(root))} holds {re.escape(str(sheet.relative_to(root)))}: give --data "
                        rf"{re.escape(str(root))}", str(e.value)), str(e.value)
    assert len(load_dataset(name, root).samples) > 0


def test_data_at_another_datasets_copy_names_that_dataset_not_a_neighbours_sheet(tmp_path):
    """--dataset samm --data C2 (a CASME II copy, a SAMM copy in the folder S1 beside it) said "the folder above it
    holds S1/SAMM_Micro_FACS_Codes_v2.xlsx: give --data ..": a sheet in a neighbouring folder, and never that C2 is a
    CASME II copy. It now says which dataset's sheet --data holds; the other way round too."""
    c2, s1 = casme2(tmp_path / "C2"), samm(tmp_path / "S1")
    with pytest.raises(InputError) as e:
        load_dataset("samm", c2)
    assert str(e.value) == (f"{c2}: no SAMM_Micro_FACS_Codes*.xlsx sheet in this folder or below; --data {c2} holds "
                            "CASME II's coding sheet (CASME2-coding-20140508.xlsx): --dataset casme2?")
    with pytest.raises(InputError, match=r"holds SAMM's Micro_FACS_Codes sheet \(SAMM_Micro_FACS_Codes_v2.xlsx\): "
                                         r"--dataset samm\?$"):
        load_dataset("casme2", s1)
    # a folder inside the CASME II copy: no sheet of either dataset on its way up, the neighbour's is not suggested
    with pytest.raises(InputError) as e:
        load_dataset("samm", c2 / "CASME2_RAW_selected")
    assert "S1" not in str(e.value) and "give --data" not in str(e.value), str(e.value)
