"""Spotting-set readers (CAS(ME)^2, SAMM long videos, CAS(ME)^3 part A): tiny fixtures in each layout."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

pd = pytest.importorskip("pandas")
openpyxl = pytest.importorskip("openpyxl")

from mpt_live.errors import InputError  # noqa: E402
from train.datasets.longvideo import OUTSIDE, Interval, load_long_dataset  # noqa: E402

_JPG = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()


def frames(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(_JPG)


def avi(path: Path, n: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (16, 16))
    for i in range(n):
        w.write(np.full((16, 16, 3), i * 8, np.uint8))
    w.release()


def book(path: Path, sheets: dict[str, list[list]], notes: int = 0) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in range(notes):
            ws.cell(row=r + 1, column=1, value=f"release note {r + 1}")
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                ws.cell(row=notes + i + 1, column=j + 1, value=v)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


# ---------------------------------------------------------------- CAS(ME)^2
CODING = [
    [1, "anger1_1", 3, 5, 8, "4", "negative", "micro-expression", "anger"],
    [2, "disgust1_1", 5, 9, 0, "9", "negative", "macro-expression", "disgust"],   # offset 0: apex
    [2, "disgust1_2", 0, 3, 6, "9", "negative", "macro-expression", "disgust"],   # no onset: dropped
    [1, "anger1_2", 12, 13, 14, "12", "positive", "micro-expression", "anger"],
]


def casme2(root: Path, coding=None, videos: bool = True) -> Path:
    book(root / "CAS(ME)^2code_final(Updated).xlsx", {
        "CASFEcode_final": coding if coding is not None else CODING,
        "naming rule1": [["s15", 15, 1], ["s16", 16, 2]],
        "naming rule2": [[401, "anger1"], [101, "disgust1"]],
    })
    if videos:
        avi(root / "rawvideo/s15/15_0401girlcrashing.avi", 20)
        avi(root / "rawvideo/s16/16_0101disgustingteeth.avi", 20)
    frames(root / "rawpic/s15/15_0401girlcrashing", [f"img{i}.jpg" for i in range(1, 21)])
    frames(root / "rawpic/s16/16_0101disgustingteeth", [f"img{i}.jpg" for i in range(1, 21)])
    return root


@pytest.mark.parametrize("videos", [True, False])
def test_casme2lv_videos_or_frames(tmp_path, videos):
    idx = load_long_dataset("casme2lv", casme2(tmp_path, videos=videos))
    by = {v.name: v for v in idx.videos}
    assert sorted(by) == ["15_0401girlcrashing", "16_0101disgustingteeth"]
    v15 = by["15_0401girlcrashing"]
    assert (v15.video is not None) == videos and (v15.frames is not None) != videos
    assert v15.intervals == [Interval(2, 4, 7, "micro", "negative", "4"), Interval(11, 12, 13, "micro", "positive", "12")]
    assert by["16_0101disgustingteeth"].intervals == [Interval(4, 8, 8, "macro", "negative", "9")]
    assert idx.dropped == {"onset or offset missing": 1}
    assert idx.notes == {"offset 0 or -1 (not coded): apex used as offset": 1}
    assert idx.counts() == {"micro": 2, "macro": 1}


@pytest.mark.parametrize("row, message", [
    ([7, "anger1_1", 3, 5, 8, "4", "negative", "micro-expression", ""], "row 1 (anger1_1): participant '7' is not in"),
    ([1, "fear9_1", 3, 5, 8, "4", "negative", "micro-expression", ""], "stimulus 'fear9' is not in sheet 'naming rule2'"),
    ([1, "anger1_1", 3, 5, 8, "4", "negative", "blink", ""], "type 'blink' is not micro-expression"),
])
def test_casme2lv_errors_name_the_row(tmp_path, row, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_long_dataset("casme2lv", casme2(tmp_path, coding=[row]))


@pytest.mark.parametrize("videos", [True, False])
@pytest.mark.parametrize("apex", [0, None, 3])
def test_casme2lv_offset_0_without_an_apex_is_dropped(tmp_path, videos, apex):
    """Offset 0 is "not coded" and takes the apex; a row whose apex is 0, blank or before its onset has no end and
    stopped the load ('onset 4 > offset -1', 'offset frame 0 not found'): it is dropped and counted."""
    row = [2, "disgust1_3", 5, apex, 0, "9", "negative", "macro-expression", "disgust"]
    idx = load_long_dataset("casme2lv", casme2(tmp_path, coding=CODING + [row], videos=videos))
    assert idx.dropped == {"onset or offset missing": 1,
                           "offset 0 or -1 (not coded) and no apex at or after the onset": 1}
    assert idx.notes == {"offset 0 or -1 (not coded): apex used as offset": 1}
    assert idx.counts() == {"micro": 2, "macro": 1}


def test_casme2lv_totals_and_notes_under_the_coding_are_not_rows(tmp_path):
    """Copies of the coding sheet carry blank rows, a count of the rows and a note under the table (and rows
    formatted but empty): the load stopped at "participant '' is not in sheet 'naming rule1'"."""
    coding = CODING + [[None] * 9, [None, None, 4, None, None, None, None, None, None],
                       ["Total", None, None, None, None, None, None, "micro: 2", "macro: 2"],
                       [None, "note: offset 0 = not coded", None, None, None, None, None, None, None],
                       ["", " ", "", "", "", "", "", "", ""]]
    idx = load_long_dataset("casme2lv", casme2(tmp_path, coding=coding))
    assert [(v.name, v.intervals) for v in idx.videos] == [(v.name, v.intervals) for v in load_long_dataset(
        "casme2lv", casme2(tmp_path / "clean")).videos]
    assert idx.notes["coding rows without a participant or an expression name (totals, notes): skipped"] == 3
    coding[-4][1] = "anger1_3"                                # an expression without its participant: still an error
    with pytest.raises(InputError, match=r"row 6 \(anger1_3\): participant '' is not in"):
        load_long_dataset("casme2lv", casme2(tmp_path, coding=coding))


def test_casme2lv_selectedpic_and_cropped_are_not_recordings(tmp_path):
    """The release's ``selectedpic/s15/anger1_1/img557.jpg`` and ``cropped/15/anger1_1/...`` hold each
    expression's own frames (named by the coding's expression name, numbered as in the recording), not the long
    recordings: beside rawpic they are not read, and a copy with only them says what is missing."""
    root = casme2(tmp_path, videos=False)
    frames(root / "selectedpic/selectedpic/s15/anger1_1", [f"img{i}.jpg" for i in range(3, 9)])
    frames(root / "cropped/cropped/15/anger1_1", [f"img{i}.jpg" for i in range(3, 9)])
    idx = load_long_dataset("casme2lv", root)
    assert sorted(v.source.relative_to(root).as_posix() for v in idx.videos) == [
        "rawpic/s15/15_0401girlcrashing", "rawpic/s16/16_0101disgustingteeth"]
    shutil.rmtree(root / "rawpic")
    with pytest.raises(InputError, match=r"no CAS\(ME\)\^2 recordings found .*; cropped and selectedpic hold\(s\) only "
                                         r"the expressions' own frames, not the long recordings spotting needs"):
        load_long_dataset("casme2lv", root)


def test_casme2lv_sheets_found_by_their_names(tmp_path):
    """A copy whose workbook has a notes sheet first, or its naming rules before the coding, was read by sheet
    position: the notes were taken for the coding ('participant ... is not in sheet ...'). The naming-rule
    sheets are found by name and the coding is the first other sheet."""
    want = {v.name: v.intervals for v in load_long_dataset("casme2lv", casme2(tmp_path / "a", videos=False)).videos}
    root = casme2(tmp_path / "b", videos=False)
    book(root / "CAS(ME)^2code_final(Updated).xlsx", {
        "notes": [["column C-E: image numbers"], [1, "offset 0 = not coded"]],
        "Naming Rule2": [[401, "anger1"], [101, "disgust1"]], "naming rule1": [["s15", 15, 1], ["s16", 16, 2]],
        "CASFEcode_final": CODING})
    assert {v.name: v.intervals for v in load_long_dataset("casme2lv", root).videos} == want


# ---------------------------------------------------------------- SAMM long videos
SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
               "Action Units", "Notes"]


def sammlv(root: Path, rows=None) -> Path:
    rows = rows if rows is not None else [
        [6, "006_1_1", 1, 5, 7, 9, 5, "Micro - 1/2", "R12", ""],
        [6, "006_1_2", 1, 12, -1, 25, 14, "Macro", "4", ""],      # apex -1: middle
        [6, "006_1_3", 1, 0, 3, 10, 11, "Macro", "4", ""],        # onset 0: dropped
    ]
    book(root / "SAMM_LongVideos_V3_Release.xlsx", {"FACS": [SAMM_HEADER] + rows}, notes=9)
    book(root / "SAMM_Micro_FACS_Codes_v2.xlsx", {"Sheet1": [["Subject", "Filename", "Estimated Emotion"],
                                                            [6, "006_1_1", "Happiness"]]}, notes=13)
    frames(root / "SAMM_longvideos/006_1", [f"006_1_{i:04d}.jpg" for i in range(1, 31)])
    frames(root / "SAMM_longvideos/007_2", [f"007_2_{i:04d}.jpg" for i in range(1, 11)])  # no events
    return root


def test_sammlv_layout(tmp_path):
    idx = load_long_dataset("sammlv", sammlv(tmp_path))
    by = {v.name: v for v in idx.videos}
    assert sorted(by) == ["006_1", "007_2"] and by["007_2"].intervals == []
    assert by["006_1"].fps == 200.0
    assert by["006_1"].intervals == [Interval(4, 6, 8, "micro", "happiness", "R12"),
                                     Interval(11, 17, 24, "macro", "", "4")]
    assert idx.dropped == {"onset 0 (under way when the recording starts)": 1}
    assert idx.notes == {"apex missing or outside onset..offset: middle used": 1}


def test_sammlv_onset_0_is_kept_where_the_recording_has_an_image_0(tmp_path):
    """SAMM-LV's layout numbers its images from 1 (006_1_0001.jpg): onset 0 names no image there and is dropped as
    under way when the recording starts (test_sammlv_layout). A copy whose frames were extracted from 0
    (006_1_0000.jpg) has an image 0: the row was dropped all the same, its truth never scored; it is now kept from that
    image, as the CAS(ME)^3 reader keeps its image 0."""
    root = sammlv(tmp_path)
    shutil.rmtree(root / "SAMM_longvideos/006_1")
    frames(root / "SAMM_longvideos/006_1", [f"006_1_{i:04d}.jpg" for i in range(0, 31)])
    idx = load_long_dataset("sammlv", root)
    assert {v.name: v.intervals for v in idx.videos}["006_1"] == [
        Interval(0, 3, 10, "macro", "", "4"), Interval(5, 7, 9, "micro", "happiness", "R12"),
        Interval(12, 18, 25, "macro", "", "4")]
    assert idx.dropped == {}


@pytest.mark.parametrize("offset", [0, -1])
@pytest.mark.parametrize("apex", [-1, 0, 9, 14])
def test_sammlv_offset_0(tmp_path, apex, offset):
    """Offset 0 or -1 (not coded) takes the apex when there is one at or after the onset (counted); apex -1
    (unknown), 0 or one before the onset leaves the row without an end: dropped and counted, where the load stopped
    at 'offset frame 0 not found' (-1 even with an apex)."""
    rows = [[6, "006_1_1", 1, 5, 7, 9, 5, "Micro - 1/2", "R12", ""],
            [6, "006_1_4", 1, 10, apex, offset, 5, "Macro", "", ""]]
    idx = load_long_dataset("sammlv", sammlv(tmp_path, rows))
    ivs = {v.name: v.intervals for v in idx.videos}["006_1"]
    if apex == 14:
        assert ivs[1] == Interval(9, 13, 13, "macro", "", "") and idx.notes == {
            "offset 0 or -1 (not coded): apex used as offset": 1} and idx.dropped == {}
    else:
        assert len(ivs) == 1 and idx.dropped == {"offset 0 or -1 (not coded) and no apex at or after the onset": 1}


@pytest.mark.parametrize("row, message", [
    ([6, "006-1-1", 1, 5, 7, 9, 5, "Micro - 1/2", "", ""], "row 11 (006-1-1): Filename '006-1-1' is not"),
    ([6, "006_1_1", 1, 5, 7, 9, 5, "Tic", "", ""], "Type 'Tic' is not Micro or Macro"),
])
def test_sammlv_errors_name_the_row(tmp_path, row, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_long_dataset("sammlv", sammlv(tmp_path, [row]))


# ---------------------------------------------------------------- CAS(ME)^3 part A
ME3_HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]


def casme3(root: Path, combined: bool = False) -> Path:
    micro = [["spNO.1", "a", 3, 5, 8, "12", 1, "happy"]]
    macro = [["spNO.1", "b", 10, 15, 25, "4", 2, "sad"], ["spNO.1", "b", 0, 0, 0, "4", 2, "sad"]]  # not coded
    ann = root / "annotation"
    if combined:
        header = ME3_HEADER[:6] + ["Type"] + ME3_HEADER[6:]
        rows = [r[:6] + ["Micro-expression"] + r[6:] for r in micro] + \
               [r[:6] + ["Macro-expression"] + r[6:] for r in macro]
        book(ann / "CAS(ME)3_part_A_v1.xlsx", {"Sheet1": [header] + rows})
    else:
        book(ann / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", {"Sheet1": [ME3_HEADER] + micro})
        book(ann / "cas(me)3_part_A_MaE_label_JpgIndex_v2.xlsx", {"Sheet1": [ME3_HEADER] + macro})
    for rec in ("a", "b", "c"):
        frames(root / f"data/part_A/spNO.1/{rec}/color", [f"{i}.jpg" for i in range(30)])
    return root


@pytest.mark.parametrize("combined", [False, True])
def test_casme3lv_two_sheets_or_one(tmp_path, combined):
    idx = load_long_dataset("casme3", casme3(tmp_path, combined))
    by = {v.name: v for v in idx.videos}
    assert sorted(by) == ["spNO.1_a", "spNO.1_b", "spNO.1_c"]
    assert by["spNO.1_a"].intervals == [Interval(3, 5, 8, "micro", "happy", "12")]
    assert by["spNO.1_b"].intervals == [Interval(10, 15, 25, "macro", "sad", "4")]
    assert by["spNO.1_c"].intervals == [] and by["spNO.1_a"].fps == 30.0
    assert "spNO.1/a/color" in by["spNO.1_a"].aliases
    assert idx.dropped == {"onset 0 or blank and no offset (not coded)": 1}


@pytest.mark.parametrize("name, gone, video, rows", [
    ("casme2lv", "rawpic/s16", "16_0101disgustingteeth", 2), ("sammlv", "SAMM_longvideos/006_1", "006_1", 3),
    ("casme3", "data/part_A/spNO.1/b", "spNO.1_b", 2)])
def test_rows_of_a_recording_the_copy_lacks_are_counted_drops(tmp_path, name, gone, video, rows):
    """A partial copy (a recording folder or video missing) stopped the whole load at the first row naming it
    ('recording folder ... not found'). Those rows are dropped, counted, and one warning names them; a copy
    where no row finds its recording says why in its one-line error."""
    build = {"casme2lv": lambda r: casme2(r, videos=False), "sammlv": sammlv, "casme3": casme3}[name]
    root = build(tmp_path)
    before = {v.name: v.intervals for v in load_long_dataset(name, root).videos}
    shutil.rmtree(root / gone)
    if name == "sammlv":                                      # its only annotated recording: nothing is left
        with pytest.raises(InputError, match=rf"no usable intervals \(dropped {rows} row\(s\): no recording of its"):
            load_long_dataset(name, root)
        return
    idx = load_long_dataset(name, root)
    assert {v.name: v.intervals for v in idx.videos} == {k: v for k, v in before.items() if k != video}
    assert idx.dropped == {"no recording of its video in the copy": rows}
    said = [w for w in idx.warnings if "recording the copy lacks" in w]
    assert len(said) == 1 and said[0].startswith(f"{rows} annotation row(s) name a recording the copy lacks, dropped: ")
    if name == "casme2lv":  # the recording as it is looked for (the sheet gives its subject and stimulus code only)
        assert "(s16/disgust1_1: rawpic/s16/16_0101*/)" in said[0]
        assert [(g.name, g.aliases) for g in idx.left_out] == [("rawpic/s16/16_0101*/", ("s16/16_0101", "16_0101"))]


@pytest.mark.parametrize("other", ["part_C/spNO.217/a/color", "partC/data/spNO.1/a/color"])
def test_casme3lv_part_a_recordings_beside_part_c(tmp_path, other):
    """Part C's spNO.<n> folders beside part A's: the shallower was taken for the recordings and every row was
    dropped ('no usable intervals') or checked against part C's frames."""
    want = {v.name: v.intervals for v in load_long_dataset("casme3", casme3(tmp_path / "a")).videos}
    root = casme3(tmp_path / "b")
    frames(root / other, ["1.jpg", "2.jpg"])
    assert {v.name: v.intervals for v in load_long_dataset("casme3", root).videos} == want


@pytest.mark.parametrize("combined", [False, True])
def test_casme3lv_reads_one_version_of_each_sheet(tmp_path, combined):
    """Copies keep older versions beside the current sheet (``_v1`` beside ``_v2``, a dated re-release): every
    sheet whose name says micro or macro was read, so each micro-expression was in the truth twice (and a
    spotter finding it once scored half a miss). The newest of each type is read, with a warning naming the rest."""
    root = casme3(tmp_path, combined)
    before = {v.name: v.intervals for v in load_long_dataset("casme3", root).videos}
    old = [["spNO.1", "a", 3, 5, 8, "12", 1, "happy"], ["spNO.1", "c", 1, 2, 3, "1", 1, "happy"]]
    if combined:
        book(root / "annotation/CAS(ME)3_part_A_v0.xlsx", {"Sheet1": [ME3_HEADER[:6] + ["Type"] + ME3_HEADER[6:]] +
                                                          [r[:6] + ["Micro-expression"] + r[6:] for r in old]})
    else:
        book(root / "annotation/cas(me)3_part_A_ME_label_JpgIndex_v1.xlsx", {"Sheet1": [ME3_HEADER] + old})
    idx = load_long_dataset("casme3", root)
    assert {v.name: v.intervals for v in idx.videos} == before
    older = "CAS(ME)3_part_A_v0.xlsx" if combined else "cas(me)3_part_A_ME_label_JpgIndex_v1.xlsx"
    assert [w for w in idx.warnings if older in w] and all("(not annotation/" in w for w in idx.warnings)


def test_unknown_long_dataset_and_missing_root(tmp_path):
    with pytest.raises(InputError, match="unknown spotting dataset 'smic'"):
        load_long_dataset("smic", tmp_path)
    with pytest.raises(InputError, match="dataset path does not exist"):
        load_long_dataset("sammlv", tmp_path / "nope")


def test_mpt_eval_spot_on_a_dataset(tmp_path):
    import json

    from typer.testing import CliRunner

    from train.eval_cli import app

    root = sammlv(tmp_path / "SAMM")
    run = tmp_path / "run"
    for name, rows in (("006_1", "006_1,0,,,,4,6,8,micro,happiness,0.9,2.0\n"), ("007_2", "")):
        (run / name).mkdir(parents=True)
        (run / name / "events.csv").write_text(
            "video,face,onset_s,apex_s,offset_s,onset_frame,apex_frame,offset_frame,type,class,confidence,score\n"
            + rows)
    res = CliRunner().invoke(app, ["spot", "--dataset", "sammlv", "--data", str(root), "--runs", str(run),
                                   "--type", "micro", "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "s.json").read_text())
    assert (out["tp"], out["fp"], out["fn"], out["f1"]) == (1, 0, 0, 1.0)
    assert out["by_type"]["macro"]["fn"] == 1 and out["strs"] == 1.0
    assert "warning" not in res.output
    assert out["unannotated"] == ["007_2"] and "2 videos (1 without annotated intervals" in res.output
    # a second copy of the sheet (an older release): scored with the newest, and the output says so
    book(root / "v2" / "SAMM_LongVideos_V2_Release.xlsx", {"FACS": [SAMM_HEADER]}, notes=9)
    res = CliRunner().invoke(app, ["spot", "--dataset", "sammlv", "--data", str(root), "--runs", str(run),
                                   "--type", "micro", "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0 and json.loads((tmp_path / "s.json").read_text())["tp"] == 1, res.output
    assert "warning: " in res.output and "using SAMM_LongVideos_V3_Release.xlsx (not v2/" in res.output.replace("\n", "")
    res = CliRunner().invoke(app, ["spot", "--dataset", "sammlv", "--runs", str(run)])
    assert res.exit_code == 2 and "--dataset sammlv needs --data ROOT" in res.output


def test_casme3lv_reads_the_macro_sheet_with_its_own_header(tmp_path):
    """``cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx`` names its columns sub, seq, onset, apex, offset, emotion
    (the ME sheet: Subject, Filename, Onset, ...); 'seq' was not a spelling of Filename, so spotting stopped."""
    root = casme3(tmp_path)
    (root / "annotation/cas(me)3_part_A_MaE_label_JpgIndex_v2.xlsx").unlink()
    book(root / "annotation/cas(me)3_part_A_MaE_label_JpgIndex_v2_emotion.xlsx",
         {"Sheet1": [["sub", "seq", "onset", "apex", "offset", "AU", "emotion"], ["spNO.1", "b", 10, 15, 25, "4", "sad"]]})
    by = {v.name: v for v in load_long_dataset("casme3", root).videos}
    assert by["spNO.1_b"].intervals == [Interval(10, 15, 25, "macro", "sad", "4")]
    assert by["spNO.1_a"].intervals == [Interval(3, 5, 8, "micro", "happy", "12")]


def test_spotting_frames_in_a_gap_of_the_numbering(tmp_path):
    """A recording with dropped frames: an onset/apex/offset naming a missing image takes the nearest image inside
    the interval (counted) instead of stopping the evaluation; past the last image it is still an error."""
    root = casme3(tmp_path)
    color = root / "data/part_A/spNO.1/a/color"
    for n in (3, 4, 5):
        (color / f"{n}.jpg").unlink()                        # the micro row is 3, 5, 8
    idx = load_long_dataset("casme3", root)
    a = {v.name: v for v in idx.videos}["spNO.1_a"]
    assert [p.name for p in a.frames][:4] == ["0.jpg", "1.jpg", "2.jpg", "6.jpg"]
    assert a.intervals == [Interval(3, 3, 5, "micro", "happy", "12")]        # images 6, 6, 8
    assert idx.notes["frame number in a gap of the recording's numbering: nearest frame used"] == 1
    for n in range(20, 30):                                   # past the last image: test_rows_past_a_recording_cut_short
        (root / f"data/part_A/spNO.1/b/color/{n}.jpg").unlink()
    assert load_long_dataset("casme3", root).dropped[OUTSIDE] == 1


def test_casme3lv_skips_hidden_folders_beside_the_recordings(tmp_path):
    root = casme3(tmp_path)
    frames(root / "data/part_A/spNO.1/@eaDir", ["x.jpg"])
    (root / "data/part_A/spNO.1/.thumbnails").mkdir()
    idx = load_long_dataset("casme3", root)
    assert sorted(v.name for v in idx.videos) == ["spNO.1_a", "spNO.1_b", "spNO.1_c"]


def test_data_that_is_a_file_says_so(tmp_path):
    """--data a file (the coding sheet itself, say) was 'cannot read the coding sheet (Excel file format cannot be
    determined, you must specify an engine manually.)'."""
    sheet = tmp_path / "CAS(ME)^2code_final.xlsx"
    sheet.write_bytes(b"")
    with pytest.raises(InputError, match=r"a file; --data is the dataset's folder in its distribution layout"):
        load_long_dataset("casme2lv", sheet)


@pytest.mark.parametrize("content, why", [(b"", "the file is empty (0 bytes)"),
                                          (b"not a video", "FFmpeg does not recognise its contents")])
def test_casme2lv_a_video_that_is_not_one_says_why(tmp_path, content, why):
    """A recording the sheet names that OpenCV cannot open said only 'not a readable video (no frames)'; now the
    reason, as mpt-live gives it (and FFmpeg's own lines are held back, as there). One such video (a copy that
    failed) stopped the whole load; it is no video of the set, its rows dropped and counted as an empty frame
    folder's are, the warning giving the reason; where no video reads, the load stops with the reason."""
    root = casme2(tmp_path)
    (root / "rawvideo/s15/15_0401girlcrashing.avi").write_bytes(content)
    for folder in (root / "rawpic").iterdir():  # the videos only: no frame folders beside them
        shutil.rmtree(folder)
    idx = load_long_dataset("casme2lv", root)
    assert [v.name for v in idx.videos] == ["16_0101disgustingteeth"]
    assert idx.dropped["its recording's video does not read"] == 2
    said = [w for w in idx.warnings if "do not read" in w]
    assert len(said) == 1 and re.search(r"15_0401girlcrashing.avi: not a readable video: " + re.escape(why), said[0])
    (root / "rawvideo/s16/16_0101disgustingteeth.avi").write_bytes(content)
    with pytest.raises(InputError, match=r"15_0401girlcrashing.avi: not a readable video: " + re.escape(why)
                       + r".* \(and 1 more recording\(s\) that do not read\)$"):
        load_long_dataset("casme2lv", root)


@pytest.mark.parametrize("name", ["annotations.mp4", "annotations.txt"])
def test_truth_that_is_no_sheet_says_what_is_read(tmp_path, name):
    """mpt-eval --truth given a file that is neither a workbook nor named .csv relayed pandas' 'Excel file format
    cannot be determined, you must specify an engine manually'; now what it reads."""
    from train.datasets.longvideo import read_annotations_csv

    path = tmp_path / name
    path.write_text("video,onset,apex,offset,fps,type\n")
    with pytest.raises(InputError, match=r"not an Excel workbook \(.xlsx, .xls\), and only a file named .csv is "
                                         r"read as CSV$"):
        read_annotations_csv(path)


@pytest.mark.parametrize("name, folder, video, rows", [
    ("casme2lv", "rawpic/s16/16_0101disgustingteeth", "16_0101disgustingteeth", 2),
    ("sammlv", "SAMM_longvideos/007_2", "007_2", 0), ("casme3", "data/part_A/spNO.1/b/color", "spNO.1_b", 2)])
def test_an_empty_recording_folder_is_a_counted_named_drop(tmp_path, name, folder, video, rows):
    """A recording folder whose frames were never extracted (or not copied) stopped the whole load at 'clip folder
    ... has no image frames'. It is left out of the videos (nothing to score it on), its rows are dropped and
    counted as the clip readers count theirs, and one warning names the folder and the rows."""
    build = {"casme2lv": lambda r: casme2(r, videos=False), "sammlv": sammlv, "casme3": casme3}[name]
    root = build(tmp_path)
    before = {v.name: v.intervals for v in load_long_dataset(name, root).videos}
    shutil.rmtree(root / folder)
    (root / folder).mkdir()
    (root / folder / "Thumbs.db").write_bytes(b"x")          # debris is no frame
    idx = load_long_dataset(name, root)
    assert {v.name: v.intervals for v in idx.videos} == {k: v for k, v in before.items() if k != video}
    assert idx.dropped.get("its recording folder holds no image frames", 0) == rows
    said = [w for w in idx.warnings if "hold no image frames" in w]
    assert len(said) == 1 and str(root / folder) in said[0]
    assert ("row" in said[0].split(str(root / folder))[1]) == (rows > 0)


@pytest.mark.parametrize("apex", [0, 1, 12, "/"])
def test_an_apex_outside_onset_offset_takes_the_middle_in_frame_folders_too(tmp_path, apex):
    """CAS(ME)^3's apex 0 (its frames are numbered from 0, so 0 is an image) or an apex before the onset or after
    the offset in a recording of frame images was moved to the onset or offset, uncounted; the same row of a video
    file took the middle, counted. Both now take the middle of onset..offset and count it."""
    root = casme3(tmp_path / "c3")
    book(root / "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
         {"Sheet1": [ME3_HEADER, ["spNO.1", "a", 3, apex, 9, "12", 1, "happy"]]})
    idx = load_long_dataset("casme3", root)
    assert {v.name: v.intervals for v in idx.videos}["spNO.1_a"] == [Interval(3, 6, 9, "micro", "happy", "12")]
    assert idx.notes == {"apex missing or outside onset..offset: middle used": 1}
    coding = [[1, "anger1_1", 4, apex, 10, "4", "negative", "micro-expression", "anger"]]
    got = [{v.name: v.intervals for v in load_long_dataset("casme2lv", casme2(tmp_path / str(videos), coding,
                                                                               videos=videos)).videos}
           for videos in (True, False)]
    assert got[0] == got[1] and got[0]["15_0401girlcrashing"] == [Interval(3, 6, 9, "micro", "negative", "4")]


@pytest.mark.parametrize("name, below", [("casme2lv", "rawpic/s15"), ("sammlv", "SAMM_longvideos"),
                                         ("casme3", "data"), ("casme3", "data/part_A")])
def test_data_one_level_off_says_which_folder_to_give(tmp_path, name, below):
    """--data the frames' folder instead of the dataset's: CAS(ME)^3 said only 'no ... label sheet found', where the
    other readers name the folder above that holds the sheet. All name it; --data one folder above the dataset reads it."""
    build = {"casme2lv": lambda r: casme2(r, videos=False), "sammlv": sammlv, "casme3": casme3}[name]
    root = build(tmp_path / "copy" / "dataset")
    want = {v.name: v.intervals for v in load_long_dataset(name, root).videos}
    assert {v.name: v.intervals for v in load_long_dataset(name, tmp_path / "copy").videos} == want
    with pytest.raises(InputError, match=rf"{re.escape(str(root / below))}: no .* in this folder or below; the folder "
                                         rf"above it {re.escape(str(root))} holds .*: give --data {re.escape(str(root))}$"):
        load_long_dataset(name, root / below)


@pytest.mark.parametrize("name, cut, video", [
    ("casme2lv-video", lambda r: avi(r / "rawvideo/s15/15_0401girlcrashing.avi", 12), "15_0401girlcrashing"),
    ("casme2lv", lambda r: [(r / f"rawpic/s15/15_0401girlcrashing/img{i}.jpg").unlink() for i in range(13, 21)],
     "15_0401girlcrashing"),
    ("sammlv", lambda r: [(r / f"SAMM_longvideos/006_1/006_1_{i:04d}.jpg").unlink() for i in range(20, 31)], "006_1"),
    ("casme3", lambda r: [(r / f"data/part_A/spNO.1/b/color/{i}.jpg").unlink() for i in range(20, 30)], "spNO.1_b"),
    ("sammlv", lambda r: [(r / f"SAMM_longvideos/006_1/006_1_{i:04d}.jpg").unlink() for i in range(11, 26)], "006_1"),
])
def test_rows_past_a_recording_cut_short_are_counted_named_drops(tmp_path, name, cut, video):
    """A recording cut short (a partial copy of its frames or its video) or a sheet row past its last frame stopped
    the whole load at the first such row ('offset frame 25 not found', 'interval ... is outside the recording'),
    where a recording missing altogether is a counted drop. Those rows are dropped, counted, and named in one
    warning with the recording's span; the recording's other rows are kept."""
    reader = name.split("-")[0]
    build = {"casme2lv": lambda r: casme2(r, videos=name.endswith("video")), "sammlv": sammlv, "casme3": casme3}
    root = build[reader](tmp_path)
    before = {v.name: v.intervals for v in load_long_dataset(reader, root).videos}
    cut(root)
    idx = load_long_dataset(reader, root)
    after = {v.name: v.intervals for v in idx.videos}
    assert {k: v for k, v in after.items() if k != video} == {k: v for k, v in before.items() if k != video}
    assert after[video] == before[video][:-1] and idx.dropped[OUTSIDE] == 1
    said = [w for w in idx.warnings if "their recording does not hold as coded" in w]
    assert len(said) == 1 and said[0].startswith("1 annotation row(s) whose frames") and " row " in said[0]


@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_sammlv_csv_export_with_the_release_notes_on_top(tmp_path, sep):
    """The SAMM-LV sheet saved as CSV keeps its release notes above the table; where the decimal mark is a comma the
    export uses semicolons, and a note's own commas made the first line pick ',' as the separator ('missing column(s)
    Subject, ...' or a tokenizing error). The separator is the one that splits the lines into most columns."""
    root = sammlv(tmp_path)
    want = {v.name: v.intervals for v in load_long_dataset("sammlv", root).videos}
    (root / "SAMM_LongVideos_V3_Release.xlsx").unlink()
    rows = [["SAMM Long Videos: onset, apex and offset are frame numbers, 200 fps"] + [""] * 9, [""] * 10,
            SAMM_HEADER, [6, "006_1_1", 1, 5, 7, 9, 5, "Micro - 1/2", "R12", ""],
            [6, "006_1_2", 1, 12, -1, 25, 14, "Macro", "4", ""], [6, "006_1_3", 1, 0, 3, 10, 11, "Macro", "4", ""]]
    with open(root / "SAMM_LongVideos_V3_Release.csv", "w", newline="", encoding="utf-8-sig") as fh:
        fh.writelines(sep.join(str(c) if sep not in str(c) else f'"{c}"' for c in r) + "\r\n" for r in rows)
    assert {v.name: v.intervals for v in load_long_dataset("sammlv", root).videos} == want


def test_casme2lv_sheets_with_a_blank_first_column(tmp_path):
    """A copy of the CAS(ME)^2 workbook whose tables start in column B (a blank column A, as a sheet re-saved with a
    margin column) was read by position from column A: every row was skipped as a note and the load said only 'no
    usable intervals'. Blank leading columns are not columns of the table."""
    want = {v.name: v.intervals for v in load_long_dataset("casme2lv", casme2(tmp_path / "a", videos=False)).videos}
    root = casme2(tmp_path / "b", videos=False)
    book(root / "CAS(ME)^2code_final(Updated).xlsx", {
        "CASFEcode_final": [[None] + r for r in CODING],
        "naming rule1": [[None, "s15", 15, 1], [None, "s16", 16, 2]],
        "naming rule2": [[None, None, 401, "anger1"], [None, None, 101, "disgust1"]]})
    assert {v.name: v.intervals for v in load_long_dataset("casme2lv", root).videos} == want


@pytest.mark.parametrize("fps", [25.0, 30.0, 200.0])
def test_sammlv_frames_made_into_a_video_at_another_rate_keep_their_numbers(tmp_path, fps):
    """SAMM-LV ships 200 fps recordings as numbered images; a researcher's video of them is often at ffmpeg's default
    25 fps (or 30): the same images, frame for frame, timed otherwise. mpt-eval took it for a re-encode and placed its
    events by their seconds at 200 fps (frame 4 at 0.16 s became frame 32): every true positive scored as a miss. A
    run whose frame count is the recording's keeps its frame numbers; a real re-encode is still placed by seconds."""
    import json

    from typer.testing import CliRunner

    from train.eval_cli import app

    root = sammlv(tmp_path / "SAMM")
    run = tmp_path / "run"
    for name, n, rows in (("006_1", 30, [(4, 6, 8)]), ("007_2", 10, [])):
        (run / name).mkdir(parents=True)
        (run / name / "summary.json").write_text(json.dumps({"status": "complete", "source": f"{name}.mp4",
                                                             "source_fps": fps, "frames_read": n}))
        (run / name / "events.csv").write_text(
            "video,face,onset_s,apex_s,offset_s,onset_frame,apex_frame,offset_frame,type,class,confidence,score\n"
            + "".join(f"{name}.mp4,0,{a / fps},{b / fps},{c / fps},{a},{b},{c},micro,happiness,0.9,2.0\n"
                      for a, b, c in rows))
    out = tmp_path / "s.json"
    res = CliRunner().invoke(app, ["spot", "--dataset", "sammlv", "--data", str(root), "--runs", str(run),
                                   "--type", "micro", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["tp"] == 1
    s = json.loads((run / "006_1" / "summary.json").read_text())
    (run / "006_1" / "summary.json").write_text(json.dumps({**s, "frames_read": 30 * 25 // 200 + 1, "source_fps": 25}))
    (run / "006_1" / "events.csv").write_text(                # a re-encode at 25 fps: frame 1 is 0.04 s, frame 8 there
        "video,face,onset_s,apex_s,offset_s,onset_frame,apex_frame,offset_frame,type,class,confidence,score\n"
        "006_1.mp4,0,0.02,0.03,0.04,0,0,1,micro,happiness,0.9,2.0\n")
    res = CliRunner().invoke(app, ["spot", "--dataset", "sammlv", "--data", str(root), "--runs", str(run),
                                   "--type", "micro", "--out", str(out)])
    assert res.exit_code == 0 and "placed in the truth's frames by their seconds" in res.output.replace("\n", " ")


def test_no_usable_intervals_says_why_when_every_row_was_skipped(tmp_path):
    """A coding sheet none of whose rows reads as one (the wrong sheet taken, columns not where the release has them)
    stopped at a bare 'no usable intervals': the rows skipped as notes were not said. The error now counts them."""
    coding = [["Subject", "Expression", "Onset", "Apex", "Offset", "AU", "Emotion", "Type", "Self"],
              ["s15", "anger", "3", "5", "8", "4", "negative", "micro", ""]]
    with pytest.raises(InputError, match=r"no usable intervals \(skipped 1 row\(s\): coding rows without a participant") as e:
        load_long_dataset("casme2lv", casme2(tmp_path, coding=coding, videos=False))
    assert str(e.value).count("skipped") == 1, e.value  # not 'skipped 1 row(s): ... (totals, notes): skipped


def test_casme2lv_coding_saved_as_csv_says_the_workbook_is_needed(tmp_path):
    """A copy holding only a CSV export of the coding sheet said 'no CAS(ME)^2code_final*.xlsx sheet found', as if
    there were none: a CSV holds one of the workbook's three sheets (the naming rules give the recordings' names)."""
    root = casme2(tmp_path / "copy", videos=False)
    (root / "CAS(ME)^2code_final(Updated).xlsx").unlink()
    (root / "CAS(ME)^2code_final(Updated).csv").write_text("1,anger1_1,3,5,8,4,negative,micro-expression,anger\n")
    with pytest.raises(InputError, match=r"code_final\(Updated\).csv: .*one sheet.*naming rule1.*give the .xlsx"):
        load_long_dataset("casme2lv", root)


def noise_avi(path, frames: int, size: int) -> None:
    """An MJPG AVI of ``frames`` frames of noise, ``size`` px square, at 30 fps."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (size, size))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        w.write(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    w.release()


def test_casme2lv_a_video_cut_short_is_measured_by_its_frames_not_its_header(tmp_path):
    """An AVI cut short (a partial copy) keeps the header of the whole recording: its frame count said 200 where 98
    frames read, so a row past the cut was kept and scored as a miss of the spotter, unsaid. The length is the
    frames that read where the header's last frame does not; the row is dropped as outside the recording, named."""
    coding = [r if r[1] != "anger1_2" else [1, "anger1_2", 150, 155, 160, "12", "positive", "micro-expression", ""]
              for r in CODING]
    root = casme2(tmp_path, coding=coding)
    path = root / "rawvideo/s15/15_0401girlcrashing.avi"
    noise_avi(path, 200, 64)
    whole = {v.name: v.intervals for v in load_long_dataset("casme2lv", root).videos}
    assert len(whole["15_0401girlcrashing"]) == 2
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    idx = load_long_dataset("casme2lv", root)
    assert {v.name: v.intervals for v in idx.videos}["15_0401girlcrashing"] == whole["15_0401girlcrashing"][:1]
    assert idx.dropped[OUTSIDE] == 1 and any("anger1_2" in w for w in idx.warnings)


@pytest.mark.parametrize("ends", ["damaged", "cut"])
def test_casme2lv_a_video_with_a_damaged_frame_is_measured_as_mpt_live_reads_it(tmp_path, ends):
    """A damaged frame in the middle of a video misled its length. Where its last frames were damaged too, the length
    was the frames that grab from the start, stopping at the damaged one: every row after it was dropped as outside
    the recording, where mpt-live reads past such a frame (:func:`mpt_live.damage.read_past`) and spots the rest.
    Where the video was cut short after it, the seek to the header's last frame grabbed the frame after the damage, so
    the header's count was taken and rows past the cut were kept. The frames are now counted as mpt-live reads them:
    through the last frame that decodes, a damaged frame keeping its place."""
    late = [1, "anger1_3", 93, 93, 94, "12", "positive", "micro-expression", ""]   # frames 92..93 (0-based)
    coding = [r if r[1] != "anger1_2" else [1, "anger1_2", 61, 62, 65, "12", "positive", "micro-expression", ""]
              for r in CODING] + [late]
    root = casme2(tmp_path, coding=coding)
    path = root / "rawvideo/s15/15_0401girlcrashing.avi"
    noise_avi(path, 100, 32)
    data = bytearray(path.read_bytes())
    movi = data.find(b"movi")                                 # the list of the frames' chunks, then their index
    chunks = [m.start() for m in re.finditer(rb"00dc", bytes(data[:data.find(b"idx1")])) if m.start() > movi]
    assert len(chunks) == 100
    for k in [30] + (list(range(95, 100)) if ends == "damaged" else []):
        size = int.from_bytes(data[chunks[k] + 4:chunks[k] + 8], "little")
        data[chunks[k] + 8:chunks[k] + 8 + size] = bytes(size)  # its JPEG zeroed: a frame that does not decode
    path.write_bytes(bytes(data if ends == "damaged" else data[:chunks[90]]))  # "cut": 90 frames left
    idx = load_long_dataset("casme2lv", root)
    kept = [Interval(2, 4, 7, "micro", "negative", "4"), Interval(60, 61, 64, "micro", "positive", "12")]
    if ends == "damaged":                                     # 95 frames read: 92..93 inside
        kept.append(Interval(92, 92, 93, "micro", "positive", "12"))
    assert {v.name: v.intervals for v in idx.videos}["15_0401girlcrashing"] == kept
    assert idx.dropped.get(OUTSIDE, 0) == (ends == "cut") and any("anger1_3" in w for w in idx.warnings) == (ends == "cut")


@pytest.mark.parametrize("name", ["casme2lv-video", "casme2lv", "sammlv", "casme3"])
def test_a_row_with_its_offset_before_its_onset_is_a_counted_named_drop(tmp_path, name):
    """One row coded backwards (offset before onset: a typo in a copy of the sheet) stopped the whole evaluation
    ('onset 8 > offset 7'). It is dropped, counted and named in one warning with its numbers; the rest is scored."""
    reader = name.split("-")[0]
    if reader == "casme2lv":
        bad = [1, "anger1_3", 9, 5, 8, "4", "negative", "micro-expression", ""]
        root = casme2(tmp_path, coding=CODING + [bad], videos=name.endswith("video"))
        want = {v.name: v.intervals for v in load_long_dataset(reader, casme2(tmp_path / "clean",
                                                                              videos=name.endswith("video"))).videos}
    elif reader == "sammlv":
        rows = [[6, "006_1_1", 1, 5, 7, 9, 5, "Micro - 1/2", "R12", ""], [6, "006_1_4", 1, 20, 18, 15, 5, "Macro", "", ""]]
        root = sammlv(tmp_path, rows)
        want = {v.name: v.intervals for v in load_long_dataset(reader, sammlv(tmp_path / "clean", rows[:1])).videos}
    else:
        root = casme3(tmp_path)
        want = {v.name: v.intervals for v in load_long_dataset(reader, casme3(tmp_path / "clean")).videos}
        book(root / "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", {"Sheet1": [
            ME3_HEADER, ["spNO.1", "a", 3, 5, 8, "12", 1, "happy"], ["spNO.1", "c", 12, 10, 9, "12", 1, "happy"]]})
    idx = load_long_dataset(reader, root)
    assert {v.name: v.intervals for v in idx.videos} == want
    assert idx.dropped["offset before onset"] == 1
    said = [w for w in idx.warnings if "dropped" in w and " > offset " in w]
    assert len(said) == 1 and " row " in said[0]


@pytest.mark.parametrize("first", [0, 1])
def test_casme3lv_onset_0_is_a_movement_from_the_first_frame(tmp_path, first):
    """CAS(ME)^3 codes a movement already under way when the recording starts with onset 0 (MEB's erratum for one such
    row sets onset and apex to 1, the clip reader keeps it from the first image): the long-video reader dropped every
    such row as 'not coded', its truth never scored. With an offset it is kept from the first frame (image 0, or
    image 1 in a recording numbered from 1), counted in notes; onset 0 with offset 0 or blank has nothing coded."""
    root = casme3(tmp_path)
    book(root / "annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", {"Sheet1": [
        ME3_HEADER, ["spNO.1", "a", 0, 0, 6, "12", 1, "happy"], ["spNO.1", "c", 0, 3, 7, "4", 1, "sad"],
        ["spNO.1", "c", 0, 0, 0, "", "", ""], ["spNO.1", "c", 0, "", "", "", "", ""]]})
    if first:
        for rec in ("a", "c"):
            (root / f"data/part_A/spNO.1/{rec}/color/0.jpg").unlink()
    idx = load_long_dataset("casme3", root)
    by = {v.name: v.intervals for v in idx.videos}
    assert by["spNO.1_a"] == [Interval(0, 0, 6 - first, "micro", "happy", "12")]
    assert by["spNO.1_c"] == [Interval(0, 3 - first, 7 - first, "micro", "sad", "4")]
    assert idx.dropped == {"onset 0 or blank and no offset (not coded)": 3}  # 2 here, 1 of the macro sheet
    assert sum(n for note, n in idx.notes.items() if note.startswith("onset 0")) == 2


EVENTS = "video,face,onset_s,apex_s,offset_s,onset_frame,apex_frame,offset_frame,type,class,confidence,score\n"


@pytest.mark.parametrize("name, drop, video, reason", [
    ("sammlv", lambda r: [p.unlink() for p in (r / "SAMM_longvideos/007_2").iterdir()], "007_2", "holds no image frames"),
    ("sammlv", lambda r: shutil.rmtree(r / "SAMM_longvideos/007_2"), None, None),  # never in the sheet nor the copy
    ("casme3", lambda r: [p.unlink() for p in (r / "data/part_A/spNO.1/c/color").iterdir()], "spNO.1_c",
     "holds no image frames"),
    ("casme3", lambda r: shutil.rmtree(r / "data/part_A/spNO.1/b"), "spNO.1_b", "the copy lacks its recording"),
    ("casme2lv", lambda r: (r / "rawvideo/s16/16_0101disgustingteeth.avi").write_bytes(b""), "16_0101disgustingteeth",
     "the file is empty (0 bytes)"),
    # the sheet gives subject + stimulus code only, not the file's whole name: named as it is looked for, the code said
    ("casme2lv", lambda r: (r / "rawvideo/s16/16_0101disgustingteeth.avi").unlink(), "rawvideo/s16/16_0101*.avi",
     "the sheet names it by subject and stimulus code 16_0101, the copy lacks its recording"),
])
def test_a_run_of_a_recording_the_copy_drops_is_named_and_the_rest_scored(tmp_path, name, drop, video, reason):
    """A run folder holding events of a recording this copy of the dataset drops from the truth (its frame folder
    empty, its video unreadable, its folder missing) stopped mpt-eval at "video ... is not in the truth". It is named
    once with the reader's reason, its events not scored, and the rest scored; the JSON lists it."""
    import json

    from typer.testing import CliRunner

    from train.eval_cli import app

    root = {"casme2lv": lambda r: casme2(r, videos=True), "sammlv": sammlv, "casme3": casme3}[name](tmp_path / "d")
    if name == "casme2lv":
        shutil.rmtree(root / "rawpic")
    before = load_long_dataset(name, root)
    run = tmp_path / "run"
    for v in before.videos:
        (run / v.name).mkdir(parents=True)
        (run / v.name / "events.csv").write_text(EVENTS + "".join(
            f"{v.name},0,,,,{iv.onset},{iv.apex},{iv.offset},{iv.type},{iv.label},0.9,1.0\n" for iv in v.intervals))
    drop(root)
    res = CliRunner().invoke(app, ["spot", "--dataset", name, "--data", str(root), "--runs", str(run),
                                   "--out", str(tmp_path / "s.json")])
    if video is None:  # a recording the sheet does not name and the copy lacks is no recording of the set
        assert res.exit_code == 2 and "('007_2') nor a summary.json beside it names a truth video" in res.output
        return
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "s.json").read_text())
    kept = sum(len(v.intervals) for v in before.videos if not v.name.startswith(Path(video).name.split("*")[0]))
    assert (out["by_type"]["all"]["tp"], out["by_type"]["all"]["fp"], out["by_type"]["all"]["fn"]) == (kept, 0, 0)
    assert list(out["dropped_recordings"]) == [video] and reason in out["dropped_recordings"][video]
    text = res.output.replace("\n", " ")
    said = [w for w in text.split("warning:") if "dropped from the truth" in w]
    assert len(said) == 1 and video in said[0] and reason in said[0]
    assert "1 run recording(s) dropped from the truth" in text.split("warning:")[-1]


def test_csv_separator_is_the_tables_not_a_wide_notes(tmp_path):
    """The separator was the one giving the widest line, so one note above a ';' table with more commas than the
    table has columns picked ','. The table's rows decide: the most lines split into one same width."""
    from train.datasets.sheets import csv_separator

    p = tmp_path / "sheet.csv"
    p.write_text("Notes: onset, apex, offset, type, AU, subject, video, and more, all frame numbers\n"
                 "Subject;Filename;Onset;Apex;Offset\n6;006_1_1;5;7;9\n6;006_1_2;12;-1;25\n7;007_3_1;1,5;3;10\n",
                 encoding="utf-8")
    assert csv_separator(p) == ";"
    p.write_text("a,b,c\n1,2,3\n4,5,6\n", encoding="utf-8")
    assert csv_separator(p) == ","


@pytest.mark.parametrize("cell, frame", [("3.17", "3.17 s at 30 fps is frame 95"),
                                         ("0:03.17", "0:03.17 at 30 fps is frame 95"),
                                         ("1:02:03.5", "1:02:03.5 at 30 fps is frame 111705")])
def test_a_hand_written_truth_in_seconds_is_told_to_give_frames(tmp_path, cell, frame):
    """mpt-eval spot --truth takes frame numbers; a researcher who wrote an event's times in seconds or m:ss (as a
    player shows them) got only `onset '3.17' is not a frame number`: the line now says the columns are frames and
    which frame that time is at the row's fps."""
    from train.datasets.longvideo import read_annotations_csv

    path = tmp_path / "annotations.csv"
    path.write_text(f"video,onset,apex,offset,fps,type\nlong_001.mp4,{cell},100,104,30,micro\n")
    with pytest.raises(InputError) as err:
        read_annotations_csv(path)
    assert f"onset {cell!r} is not a frame number" in str(err.value) and "frame numbers, not times" in str(err.value)
    assert frame in str(err.value)
    path.write_text("video,onset,apex,offset,fps,type\nlong_001.mp4,abc,100,104,30,micro\n")
    with pytest.raises(InputError) as err:  # not a time: the plain line, no guessed frame
        read_annotations_csv(path)
    assert "not a frame number (0-based, >= 0)" in str(err.value) and "not times" not in str(err.value)
