"""Manifests, inputs and resume fingerprints (no Ray needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamseg.batch.manifest import PromptSpec, from_inputs, read_manifest
from streamseg.batch.resume import fingerprint, previous, write_marker
from streamseg.config import Config
from streamseg.errors import UsageError
from streamseg.storage import Location


def test_csv_rows_prompts_paths_and_options(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "m.csv").write_text(
        "source,name,prompt,box,max_frames,start\n"
        'sub/a.mp4,first,"10,20 -30,40|50,60",,12,\n'
        "b.mp4,,,1,2,30,40,,1.5\n".replace("1,2,30,40", '"1,2,30,40"')
    )
    shared = PromptSpec(prompt=("5,5",))
    a, b = read_manifest(tmp_path / "m.csv", shared)
    assert (a.name, a.source) == ("first", str(tmp_path / "sub" / "a.mp4"))
    assert [p.object_id for p in a.prompts] == [1, 2]
    assert a.prompts[0].labels.tolist() == [1, 0] and a.prompts[1].points.tolist() == [[50, 60]]
    assert a.options == {"source.max_frames": 12}
    assert b.name == "b" and b.prompts[0].box.tolist() == [1, 2, 30, 40]
    assert b.options == {"source.start": 1.5}


def test_row_without_prompt_takes_the_shared_spec_and_a_bad_prompt_is_kept_as_error(
    tmp_path: Path,
) -> None:
    lines = [{"source": "a.mp4"}, {"source": "b.mp4", "prompt": ["12,x"]}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    a, b = read_manifest(tmp_path / "m.jsonl", PromptSpec(box=("1,2,3,4",)))
    assert a.error is None and a.prompts[0].box.tolist() == [1, 2, 3, 4]
    assert b.error is not None and "12,x" in b.error and not b.prompts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source,colour\na.mp4,red\n", "unknown column"),
        ("source,prompt\na.mp4,10,20\n", "quote values"),
        ("source,name\na.mp4,x\nb.mp4,x\n", "two recordings would write 'x'"),
        ("name\nx\n", "no source"),
    ],
)
def test_bad_manifests_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(UsageError, match=message):
        read_manifest(tmp_path / "m.csv", PromptSpec(prompt=("1,1",)))


def test_inputs_folder_and_glob(tmp_path: Path) -> None:
    for name in ("b.mp4", "a.mkv", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    recs = from_inputs((str(tmp_path),), PromptSpec(prompt=("gaze",)))
    assert [r.name for r in recs] == ["a", "b"]
    assert recs[0].options == {"gaze.mode": "first"} and recs[0].error is None
    assert [r.name for r in from_inputs((str(tmp_path / "*.mp4"),), PromptSpec(("1,1",)))] == ["b"]
    with pytest.raises(UsageError, match="no file matches"):
        from_inputs((str(tmp_path / "*.avi"),), PromptSpec(("1,1",)))


def test_resume_needs_same_fingerprint_and_complete_store(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text('source,prompt\na.mp4,"1,1"\n')
    rec = read_manifest(tmp_path / "m.csv", PromptSpec())[0]
    config = Config()
    fp = fingerprint(rec, config)
    rec.options["source.max_frames"] = 5
    assert fingerprint(rec, config) != fp  # a changed row option is a changed setting
    target = Location(str(tmp_path / "out" / "a"))
    write_marker(target, fp, {"frames": 3})
    assert previous(target, fp) is None  # no store
    zarr_json = target.child("masks.zarr", "zarr.json")
    zarr_json.write_text(json.dumps({"attributes": {"complete": False}}))
    assert previous(target, fp) is None  # incomplete store
    zarr_json.write_text(json.dumps({"attributes": {"complete": True}}))
    assert previous(target, fp) == {"frames": 3}
    assert previous(target, "another") is None
