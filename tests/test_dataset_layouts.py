"""Dataset readers on the layouts of the real distributions, as public loaders of them read them.

SMIC-E, the extended SMIC release: ``SMIC-E_raw image/HS_long/SMIC-HS-E/s01/s1_ne_01/image308866.jpg`` with the
annotation sheet ``SMIC-HS-E_annotation.xlsx`` (header on row 1: Subject, Filename, ..., OnsetF, OffsetF, Emotion;
Subject a number, the subject folder ``s`` + two digits, frames ``image`` + six digits, OnsetF/OffsetF the numbers in
the image names). Sources: github.com/genbing99/MEAN_Spot-then-recognize ``load_excel.py`` (pandas reads
``SMIC/SMIC-E_raw image/HS_long/SMIC-HS-E_annotation.xlsx`` by its header: Subject, Filename, OnsetF, OffsetF, Emotion,
FirstF; subject folder ``'s' + zfill(2)``; no apex; the first 157 rows, "Remove last few rows contain of text") and its
README's tree (``HS_long/SMIC-HS-E``, ``NIR_long/SMIC-NIR-E_annotation.xlsx``, ``VIS_long/SMIC-VIS-E_annotation.xlsx``);
other public loaders read through the stored code index (frames ``s{subject:02d}/{Filename}/image{n:06d}.jpg``; a
MATLAB ``read_emotion_labels.m`` reading ``VIS_long/SMIC_VIS_E_annotation.xlsx`` and taking the class from the
Filename's code po/ne/sur; ``SMIC-HS-E_annotation_2019.xlsx``).
Before, such a copy stopped at "no SMIC folders (HS/s1/micro/...) found": SMIC-E has no ``micro`` folders.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pd = pytest.importorskip("pandas")
openpyxl = pytest.importorskip("openpyxl")

from mpt_live.errors import InputError  # noqa: E402
from train.datasets import load_dataset  # noqa: E402

_JPG = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()
HEADER = ["Subject", "Filename", "Emotion", "OnsetF", "OffsetF", "FirstF", "LastF"]


def frames(folder: Path, numbers) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / f"image{n:06d}.jpg").write_bytes(_JPG)


def sheet(path: Path, rows: list[list]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, row in enumerate([HEADER] + rows, start=1):
        for c, v in enumerate(row, start=1):
            ws.cell(row=r, column=c, value=v)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def smic_e(root: Path, part: str = "HS") -> Path:
    """A SMIC-E copy of one set: ``<part>_long/SMIC-<part>-E_annotation.xlsx`` beside ``SMIC-<part>-E/s01/...``."""
    base = root / "SMIC-E_raw image" / f"{part}_long"
    sheet(base / f"SMIC-{part}-E_annotation.xlsx", [
        [1, "s1_ne_01", "negative", 308860, 308866, 308850, 308879],
        [1, "s1_po_02", None, 12, 20, 10, 24],        # Emotion blank: the Filename's code, po
        [3, "s3_sur_01", "Surprise", 1005, 1007, 1000, 1009],
    ])
    clips = base / f"SMIC-{part}-E"
    frames(clips / "s01/s1_ne_01", range(308850, 308880))
    frames(clips / "s01/s1_po_02", range(10, 25))
    frames(clips / "s03/s3_sur_01", range(1000, 1010))
    return root


def test_smic_e_is_read_from_its_annotation_sheet(tmp_path):
    idx = load_dataset("smic", smic_e(tmp_path))
    got = {s.clip_id: (s.subject, s.label, s.fps, s.frames[s.onset].name, s.frames[s.offset].name, s.apex)
           for s in idx.samples}
    assert got == {
        "s1_ne_01": ("s01", "negative", 100.0, "image308860.jpg", "image308866.jpg", 13),
        "s1_po_02": ("s01", "positive", 100.0, "image000012.jpg", "image000020.jpg", 6),
        "s3_sur_01": ("s03", "surprise", 100.0, "image001005.jpg", "image001007.jpg", 6),
    }
    assert idx.notes == {"apex unknown in the sheet: middle of onset..offset used": 3,
                         "clips read from the SMIC-E annotation sheet (the extended release, not SMIC-HS's micro "
                         "folders)": 3}
    assert idx.dropped == {} and idx.subjects == ["s01", "s03"]
    # --data at the set's frames folder, the sheet one folder up: the folder to give, in one line
    with pytest.raises(InputError, match=r"holds SMIC-HS-E_annotation\.xlsx: give --data .*HS_long$"):
        load_dataset("smic", tmp_path / "SMIC-E_raw image/HS_long/SMIC-HS-E")


def test_smic_e_reads_hs_before_vis_and_vis_at_25_fps(tmp_path):
    smic_e(tmp_path, "VIS")
    vis = load_dataset("smic", tmp_path)
    assert {s.fps for s in vis.samples} == {25.0} and len(vis.samples) == 3
    assert any("reading SMIC-VIS-E, filmed at 25 fps" in w for w in vis.warnings)
    smic_e(tmp_path, "HS")
    both = load_dataset("smic", tmp_path)
    assert {s.fps for s in both.samples} == {100.0}
    assert any("2 files match the SMIC-E annotation sheet; using SMIC-E_raw image/HS_long/SMIC-HS-E_annotation.xlsx"
               in w for w in both.warnings), both.warnings


def test_smic_e_rows_without_their_clip_are_counted_named_drops(tmp_path):
    root = smic_e(tmp_path)
    sheet(root / "SMIC-E_raw image/HS_long/SMIC-HS-E_annotation.xlsx", [
        [1, "s1_ne_01", "negative", 308860, 308866, 308850, 308879],
        [1, "s1_ne_09", "negative", 5, 8, 1, 9],          # no such clip folder
        [2, "s2_po_01", "positive", 5, 8, 1, 9],          # no folder of subject 2
    ])
    idx = load_dataset("smic", root)
    assert [s.clip_id for s in idx.samples] == ["s1_ne_01"]
    assert idx.dropped == {"no folder of its clip in the frames": 1, "no folder of its subject in the frames": 1}
    said = " ".join(idx.warnings)
    assert "row 3 (s01/s1_ne_09)" in said and "no folder for subject(s) s02 (1 row)" in said


def test_smic_e_text_under_the_table_is_skipped_and_counted(tmp_path):
    """MEAN's load_excel.py cuts the sheet at 157 rows: "Remove last few rows contain of text"; such rows stopped the
    load at "subject 'Note...' is not a subject number"."""
    root = smic_e(tmp_path)
    sheet(root / "SMIC-E_raw image/HS_long/SMIC-HS-E_annotation.xlsx", [
        [1, "s1_ne_01", "negative", 308860, 308866, 308850, 308879],
        [None] * 7,
        ["Note: FirstF and LastF are the clip's first and last frames", None, None, None, None, None, None],
        [None, "OnsetF/OffsetF: the micro-expression", None, "see the paper", None, None, None],
        [3, "s3_sur_01", "surprise", 1005, 1007, 1000, 1009],
    ])
    idx = load_dataset("smic", root)
    assert [s.clip_id for s in idx.samples] == ["s1_ne_01", "s3_sur_01"] and idx.dropped == {}
    assert idx.notes["text under or in the table, not an annotation row (no number in Subject, OnsetF or OffsetF)"] == 2
    # a row with a number in it is an annotation, checked as one
    sheet(root / "SMIC-E_raw image/HS_long/SMIC-HS-E_annotation.xlsx", [["Note", "s1_ne_01", "negative", 1, 2, 1, 2]])
    with pytest.raises(InputError, match=r"row 2 \(s1_ne_01\): subject 'Note' is not a subject number"):
        load_dataset("smic", root)


def test_smic_e_blank_emotion_and_no_class_code_is_one_line_naming_the_row(tmp_path):
    root = smic_e(tmp_path)
    sheet(root / "SMIC-E_raw image/HS_long/SMIC-HS-E_annotation.xlsx", [[1, "clip7", None, 308860, 308866, 1, 2]])
    with pytest.raises(InputError, match=r"SMIC-HS-E_annotation\.xlsx row 2 \(clip7\): Emotion is blank"):
        load_dataset("smic", root)


def test_no_smic_layout_at_all_names_both_layouts(tmp_path):
    (tmp_path / "HS/s1").mkdir(parents=True)
    with pytest.raises(InputError, match=r"no SMIC folders \(HS/s1/micro/\.\.\.\) found, nor a SMIC-E annotation "):
        load_dataset("smic", tmp_path)


# CASME II's label sheet ``CASME2_label_Ver_2.xls``: the sheet many copies carry (github.com/genbing99/
# MEAN_Spot-then-recognize: README tree ``CASME2/CASME2/CASME2-RAW`` + ``CASME2_label_Ver_2.xls``, load_excel.py reads
# its header Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion with pandas; other
# loaders read its column 7, Estimated Emotion, with xlrd). Before, such a copy stopped at "no CASME2-coding-*.xlsx
# sheet found".
CASME2_COLUMNS = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"]


CASME2_ROWS = [["01", "EP02_01f", 46, 59, 86, "12", "happiness"], ["01", "EP03_02", 3, "/", 7, "14", "others"]]


def casme2_copy(root: Path, name: str) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, row in enumerate([CASME2_COLUMNS] + CASME2_ROWS, start=1):
        for c, v in enumerate(row, start=1):
            ws.cell(row=r, column=c, value=v)
    (root / "CASME2").mkdir(parents=True, exist_ok=True)
    wb.save(root / "CASME2" / name)
    for clip, numbers in (("EP02_01f", range(46, 87)), ("EP03_02", range(1, 9))):
        folder = root / "CASME2/CASME2-RAW/sub01" / clip
        folder.mkdir(parents=True, exist_ok=True)
        for n in numbers:
            (folder / f"img{n}.jpg").write_bytes(_JPG)
    return root


def test_casme2_label_sheet_is_read_where_the_copy_has_no_coding_sheet(tmp_path):
    idx = load_dataset("casme2", casme2_copy(tmp_path, "CASME2_label_Ver_2.xlsx"))
    assert [(s.subject, s.clip_id, s.label, s.onset, s.apex, s.offset) for s in idx.samples] == [
        ("sub01", "EP02_01f", "happiness", 0, 13, 40), ("sub01", "EP03_02", "others", 2, 4, 6)]
    assert idx.warnings == []
    # beside a coding sheet, the coding sheet (the one the errata are keyed to) is read, and the warning says so
    sheet_bytes = (tmp_path / "CASME2/CASME2_label_Ver_2.xlsx").read_bytes()
    (tmp_path / "CASME2/CASME2-coding-20140508.xlsx").write_bytes(sheet_bytes)
    both = load_dataset("casme2", tmp_path)
    assert len(both.samples) == 2
    assert any("using CASME2/CASME2-coding-20140508.xlsx (not CASME2/CASME2_label_Ver_2.xlsx)" in w
               for w in both.warnings), both.warnings



def test_a_smic_e_or_casme2_label_copy_given_to_another_reader_names_its_dataset(tmp_path):
    smic_e(tmp_path / "smic")
    with pytest.raises(InputError, match=r"holds SMIC-E's annotation sheet \(HS_long/SMIC-HS-E_annotation\.xlsx\): "
                                         r"--dataset smic\?"):
        load_dataset("samm", tmp_path / "smic/SMIC-E_raw image")
    casme2_copy(tmp_path / "c2", "CASME2_label_Ver_2.xlsx")
    with pytest.raises(InputError, match=r"holds CASME II's coding sheet .*--dataset casme2\?"):
        load_dataset("samm", tmp_path / "c2/CASME2")


def test_a_composite_whose_smic_part_is_smic_e_says_it_is_not_megc_2019s(tmp_path):
    """MEGC 2019's composite uses SMIC-HS's micro folders; ``--data smic=PATH`` of a SMIC-E copy is read (the clips
    of its sheet) and the first warning says the composite is not MEGC 2019's."""
    casme2_copy(tmp_path / "c2", "CASME2-coding-20140508.xlsx")
    smic_e(tmp_path / "smic")
    index = load_dataset("composite", f"casme2={tmp_path / 'c2'};smic={tmp_path / 'smic'}")
    assert sum(s.dataset == "smic" for s in index.samples) == 3
    assert index.warnings[0].startswith("the SMIC part read is SMIC-E (its annotation sheet's clips), not SMIC-HS's")
    assert load_dataset("smic", tmp_path / "smic").notes[
        "clips read from the SMIC-E annotation sheet (the extended release, not SMIC-HS's micro folders)"] == 3


@pytest.mark.parametrize("name, header, hint", [
    ("CASME2_label_Ver_2.csv", "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion",
     "it is CASME II's label sheet of short clips (mpt-train --dataset casme2), no long-video truth"),
    ("SMIC-HS-E_annotation.csv", "Subject,Filename,Emotion,OnsetF,OffsetF",
     "it is SMIC-E's annotation sheet of short clips (mpt-train --dataset smic), no long-video truth"),
])
def test_the_label_sheets_given_to_mpt_eval_spot_as_truth_say_what_they_are(tmp_path, name, header, hint):
    from typer.testing import CliRunner

    from train.eval_cli import app

    sheet = tmp_path / name
    sheet.write_text(header + "\n" + ",".join(["1"] * len(header.split(","))) + "\n")
    (tmp_path / "run/006_1").mkdir(parents=True)
    (tmp_path / "run/006_1/events.csv").write_text(
        "video,face,onset_s,apex_s,offset_s,onset_frame,apex_frame,offset_frame,type,class,confidence,score\n")
    res = CliRunner().invoke(app, ["spot", "--truth", str(sheet), "--runs", str(tmp_path / "run")])
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "missing column(s)" in text and hint in text, text


# Excel 97-2003 sheets, as the distributions ship them: CASME II's ``CASME2_label_Ver_2.xls`` (MEAN's load_excel.py
# reads it with pandas), CAS(ME)^3's combined part-A sheet ``CAS(ME)3_part_A_v1.xls``. Read with pandas' calamine
# engine (python-calamine, which gives the merged ranges too); pandas 3.1 deprecates the xlrd engine they were read
# with before. Written here with xlwt, real BIFF8 files, and compared with the .xlsx copy of the same cells.
xlwt = pytest.importorskip("xlwt")


def workbook(path: Path, rows: list[list], merged: tuple = ()) -> Path:
    """``rows`` on the first sheet of an .xls (by xlwt) or .xlsx (by openpyxl) named ``path``; ``merged``: (first row,
    last row, column) ranges, 0-based, merged as a spreadsheet program merges them (the value in the first row)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tops = {(r0, c): r1 for r0, r1, c in merged}
    inside = {(r, c) for r0, r1, c in merged for r in range(r0 + 1, r1 + 1)}
    if path.suffix == ".xls":
        wb = xlwt.Workbook()
        ws = wb.add_sheet("Sheet1")
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if (r, c) in tops:
                    ws.write_merge(r, tops[r, c], c, c, v)
                elif v is not None and (r, c) not in inside:
                    ws.write(r, c, v)
        wb.save(str(path))
        return path
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if (r, c) not in inside:
                ws.cell(row=r + 1, column=c + 1, value=v)
    for r0, r1, c in merged:
        ws.merge_cells(start_row=r0 + 1, end_row=r1 + 1, start_column=c + 1, end_column=c + 1)
    wb.save(path)
    return path


def read(name: str, root: Path) -> tuple:
    idx = load_dataset(name, root)
    return ([(s.subject, s.clip_id, s.label, s.onset, s.apex, s.offset, [f.name for f in s.frames])
             for s in idx.samples], idx.dropped, idx.notes, idx.warnings)


def test_casme2_label_ver_2_xls_is_read_as_its_xlsx_copy_is(tmp_path):
    root = casme2_copy(tmp_path, "CASME2_label_Ver_2.xlsx")
    from_xlsx = read("casme2", root)
    (root / "CASME2/CASME2_label_Ver_2.xlsx").unlink()
    workbook(root / "CASME2/CASME2_label_Ver_2.xls", [CASME2_COLUMNS] + CASME2_ROWS)
    assert read("casme2", root) == from_xlsx
    assert [c[:6] for c in from_xlsx[0]] == [("sub01", "EP02_01f", "happiness", 0, 13, 40),
                                              ("sub01", "EP03_02", "others", 2, 4, 6)]


def casme3_part_a(root: Path, name: str) -> Path:
    """CAS(ME)^3 part A with its combined sheet (a Type column: micro and macro rows), Subject merged over each
    subject's rows, and ``part_A/data/part_A/spNO.1/a/color/5.jpg`` frames."""
    header = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Type", "Objective class", "emotion"]
    rows = [["spNO.1", "a", 5, 7, 9, "12", "Micro-expression", 1, "happy"],
            [None, "a", 2, 10, 19, "4", "Macro-expression", 2, "sad"],
            [None, "a", 12, 13, 15, "4", "Micro-expression", 2, "disgust"],
            ["spNO.2", "b", 2, 3, 4, "1+2", "Micro-expression", 3, "surprise"],
            [None, "b", 6, 7, 8, None, "Micro-expression", 7, "others"]]
    workbook(root / "annotation" / name, [header] + rows, merged=((1, 3, 0), (4, 5, 0)))
    for subject, clip, n in (("spNO.1", "a", 21), ("spNO.2", "b", 11)):
        folder = root / f"part_A/data/part_A/{subject}/{clip}/color"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(1, n):
            (folder / f"{i}.jpg").write_bytes(_JPG)
    return root


def test_casme3_part_a_xls_with_merged_subjects_is_read_as_its_xlsx_copy_is(tmp_path):
    from_xlsx = read("casme3", casme3_part_a(tmp_path, "CAS(ME)3_part_A_v1.xlsx"))
    (tmp_path / "annotation/CAS(ME)3_part_A_v1.xlsx").unlink()
    from_xls = read("casme3", casme3_part_a(tmp_path, "CAS(ME)3_part_A_v1.xls"))
    assert from_xls == from_xlsx
    assert [(c[0], c[1], c[2]) for c in from_xls[0]] == [
        ("spNO.1", "a_5", "happy"), ("spNO.1", "a_12", "disgust"), ("spNO.2", "b_2", "surprise"),
        ("spNO.2", "b_6", "others")]
    assert from_xls[1] == {"macro-expression row (type column)": 1}


def test_an_xls_is_read_without_pandas_deprecation_warnings(tmp_path):
    """pandas 3.1 deprecates its xlrd engine (Pandas4Warning: 'The xlrd engine is deprecated and will be removed in a
    future version. Use the calamine engine instead'), which read every .xls; pandas 4 would not read them. The
    calamine engine, named explicitly, reads them with no warning."""
    import warnings

    root = casme3_part_a(tmp_path, "CAS(ME)3_part_A_v1.xls")
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        index = load_dataset("casme3", root)
    assert [s.subject for s in index.samples] == ["spNO.1", "spNO.1", "spNO.2", "spNO.2"]
    assert [f"{w.category.__name__}: {w.message}" for w in shown
            if issubclass(w.category, (DeprecationWarning, FutureWarning))] == []


def test_an_xlsx_saved_under_an_xls_name_is_read_with_its_merged_cells(tmp_path):
    """An .xlsx renamed .xls (a zip, not an Excel 97-2003 file) went to pandas' own choice of engine: its merged
    Subject cells were read in their first row only, and with python-calamine installed pandas 3.1 warns that its
    default .xlsx engine will change. Any zip holding an Excel workbook is read by openpyxl, its merged cells filled."""
    import warnings

    from_xlsx = read("casme3", casme3_part_a(tmp_path, "CAS(ME)3_part_A_v1.xlsx"))
    (tmp_path / "annotation/CAS(ME)3_part_A_v1.xlsx").rename(tmp_path / "annotation/CAS(ME)3_part_A_v1.xls")
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        assert read("casme3", tmp_path) == from_xlsx
    assert [f"{w.category.__name__}: {w.message}" for w in shown
            if issubclass(w.category, (DeprecationWarning, FutureWarning))] == []


def test_a_damaged_xls_is_one_line_naming_it(tmp_path, capfd):
    """A damaged .xls is one line naming the file, with nothing else on stdout or stderr: python-calamine's error, or
    its Rust panic (a PanicException, which ``except Exception`` lets through as a traceback, and the panic's note,
    written to the stderr descriptor). Cut at 1500 bytes: its sector table points past the end; cut 1000 bytes short,
    within a sector: python-calamine 0.9.1 panics ('index out of bounds: the len is 6 but the index is 9'); the
    header kept, the rest zeroed."""
    root = casme2_copy(tmp_path, "CASME2_label_Ver_2.xlsx")
    (root / "CASME2/CASME2_label_Ver_2.xlsx").unlink()
    whole = workbook(tmp_path / "whole.xls", [CASME2_COLUMNS] + CASME2_ROWS).read_bytes()
    sheet_path = root / "CASME2/CASME2_label_Ver_2.xls"
    for damaged in (whole[:1500], whole[:-1000], whole[:8] + bytes(len(whole) - 8)):
        sheet_path.write_bytes(damaged)
        with pytest.raises(InputError) as e:
            load_dataset("casme2", root)
        msg = str(e.value)
        assert msg.startswith(f"{sheet_path}: cannot read the annotation sheet: not a readable Excel 97-2003 "
                              "workbook (") and "\n" not in msg, msg
    assert capfd.readouterr() == ("", "")


def test_a_panic_while_a_sheet_is_parsed_is_one_line_too(tmp_path, capfd, monkeypatch):
    """python-calamine parses a sheet's cells when pandas reads them (pandas.read_excel), after the workbook opened:
    a Rust panic there (its note written to the stderr descriptor, then a PanicException, a BaseException) is the
    same one line with nothing on stdout or stderr. The panic is made here: no damaged file found to panic there."""
    import os

    import pandas as pd

    root = casme2_copy(tmp_path, "CASME2_label_Ver_2.xlsx")
    (root / "CASME2/CASME2_label_Ver_2.xlsx").unlink()
    sheet_path = workbook(root / "CASME2/CASME2_label_Ver_2.xls", [CASME2_COLUMNS] + CASME2_ROWS)
    panic = type("PanicException", (BaseException,), {"__module__": "pyo3_runtime"})

    def read_excel(*args, **kwargs):
        os.write(2, b"thread '<unnamed>' panicked at calamine/src/xls.rs: index out of bounds\n")
        raise panic("index out of bounds: the len is 6 but the index is 9")

    monkeypatch.setattr(pd, "read_excel", read_excel)
    with pytest.raises(InputError) as e:
        load_dataset("casme2", root)
    assert str(e.value) == (f"{sheet_path}: cannot read the annotation sheet: not a readable Excel 97-2003 workbook "
                            "(index out of bounds: the len is 6 but the index is 9)")
    assert capfd.readouterr() == ("", "")


def test_an_xls_without_python_calamine_is_one_line_that_says_what_to_install(tmp_path, monkeypatch):
    import sys

    root = casme2_copy(tmp_path, "CASME2_label_Ver_2.xlsx")
    (root / "CASME2/CASME2_label_Ver_2.xlsx").unlink()
    workbook(root / "CASME2/CASME2_label_Ver_2.xls", [CASME2_COLUMNS] + CASME2_ROWS)
    monkeypatch.setitem(sys.modules, "python_calamine", None)   # its import raises ImportError, as where it is missing
    with pytest.raises(InputError) as e:
        load_dataset("casme2", root)
    msg = str(e.value)
    assert msg.startswith(f"{root / 'CASME2/CASME2_label_Ver_2.xls'}: cannot read the annotation sheet: an Excel "
                          "97-2003 workbook (.xls) is read with python-calamine, which is not installed (") and \
        "\n" not in msg
    assert "pip install python-calamine" in msg and "save the sheet as .xlsx" in msg


def test_samm_long_videos_take_micro_labels_from_an_xls_micro_sheet_for_micro_rows_only(tmp_path):
    """SAMM-LV's sheet has no emotion: a micro row takes it from the SAMM micro sheet, joined on Filename; MEAN's
    load_excel.py joins on Filename and Type, so a macro row is never labelled from the micro sheet, here as there
    (006_1_2, a macro row whose Filename the micro sheet lists). The micro sheet as .xls was not looked for."""
    from train.datasets.longvideo import Interval, load_long_dataset

    header = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
              "Action Units", "Notes"]
    notes = [[f"release note {i}"] for i in range(1, 10)]
    workbook(tmp_path / "SAMM_LongVideos_V3_Release.xlsx", notes + [header,
             [6, "006_1_1", 1, 5, 7, 9, 5, "Micro - 1/2", "R12", None],
             [6, "006_1_2", 1, 12, 17, 25, 14, "Macro", "4", None]])
    workbook(tmp_path / "SAMM_Micro_FACS_Codes_v2.xls", [[f"note {i}"] for i in range(1, 14)] + [
             ["Subject", "Filename", "Type", "Estimated Emotion"], [6, "006_1_1", "Micro - 1/2", "Happiness"],
             [6, "006_1_2", "Micro - 1/2", "Anger"]])
    folder = tmp_path / "SAMM_longvideos/006_1"
    folder.mkdir(parents=True)
    for i in range(1, 31):
        (folder / f"006_1_{i:04d}.jpg").write_bytes(_JPG)
    (video,) = load_long_dataset("sammlv", tmp_path).videos
    assert video.intervals == [Interval(4, 6, 8, "micro", "happiness", "R12"), Interval(11, 16, 24, "macro", "", "4")]
