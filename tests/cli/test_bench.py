"""``streamseg bench`` on a synthetic clip with a tiny random SAM: every stage is timed."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from streamseg import bench
from streamseg.cli import cli
from streamseg.engines import sam_models, weights
from streamseg.engines.sam import SamEngine


def test_bench_times_every_stage(clip, tmp_path):
    path, _ = clip
    engine = SamEngine(sam_models.build_sam("tiny", seed=0), device="cpu", batch_size=2)
    result = bench.run_bench(str(path), engine=engine, max_frames=5, out=tmp_path / "o")
    assert result.frames == 5 and result.size == (160, 120)
    assert result.decoder_calls == 5 and result.present <= 5
    for stage, _ in bench.STAGES:
        assert result.stages.get(stage, 0.0) > 0.0, stage
    assert result.wall > result.encoder > 0 and result.ratio == pytest.approx(
        result.wall / result.encoder
    )
    assert result.peak_rss > 0 and result.cuda_max_memory is None
    table = result.table()
    for word in ("decode-masks", "tracking", "rendering", "writing", "wall / encoder", "RSS"):
        assert word in table
    assert (tmp_path / "o" / "masks.zarr").is_dir() and (tmp_path / "o" / "overlay.mp4").exists()
    assert result.as_dict()["frames"] == 5


def test_bench_command_line_with_random_weights(clip, monkeypatch, capsys):
    path, _ = clip
    build = sam_models.build_sam
    monkeypatch.setattr(sam_models, "build_sam", lambda arch, seed=0: build("tiny", seed=seed))
    argv = ["bench", str(path), "--random-weights", "--max-frames", "2", "--device", "cpu"]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "sam-vit-b" in out and "random weights" in out and "2 frames" in out


def test_bench_click_command_prints_every_stage(clip, monkeypatch):
    path, _ = clip
    build = sam_models.build_sam
    monkeypatch.setattr(sam_models, "build_sam", lambda arch, seed=0: build("tiny", seed=seed))
    argv = ["bench", str(path), "--model", "sam-vit-b", "--random-weights", "--max-frames", "3"]
    r = CliRunner().invoke(cli, [*argv, "--device", "cpu"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == f"source {path}: 3 frames of 160x120"
    assert lines[1].startswith("engine sam-vit-b on cpu") and "weights: random" in lines[1]
    rows = {line[:14].strip(): line[14:].split() for line in lines}
    for stage, thread in bench.STAGES:  # stage, thread, ms/frame, % of wall
        assert rows[stage][:-2] == thread.split(), stage
        assert float(rows[stage][-2]) >= 0 and rows[stage][-1].endswith("%")
    assert float(rows["encode"][-2]) > 0
    ratio = next(line for line in lines if "wall / encoder = " in line).rsplit(" ", 1)[1]
    assert float(ratio) > 1.0  # the wall time holds the encoder time and more
    assert "decoder calls: 3;" in r.stdout
    assert any(line.startswith("host peak RSS: ") and line.endswith(" MiB") for line in lines)


def test_bench_click_command_with_a_missing_source(tmp_path, monkeypatch):
    # sam-vit-b's weights are not cached: the path is checked before any download
    monkeypatch.setattr(weights, "fetch", lambda *a, **k: pytest.fail("a download started"))
    missing = tmp_path / "missing.mp4"
    r = CliRunner().invoke(cli, ["bench", str(missing), "--device", "cpu"])
    assert r.exit_code == 3 and r.stdout == ""
    assert r.stderr == f"streamseg: error: no such file: {missing}; check the path\n"


def test_bench_shows_progress_unless_quiet_and_no_ratio_for_classic(clip):
    path, _ = clip
    argv = ["bench", str(path), "--model", "classic", "--max-frames", "5"]
    loud, quiet = CliRunner().invoke(cli, argv), CliRunner().invoke(cli, [*argv, "-q"])
    assert loud.exit_code == quiet.exit_code == 0, loud.output
    assert "5/5" in loud.stderr and "frame" in loud.stderr  # tqdm: frames done, rate, ETA
    assert quiet.stderr == ""
    assert "wall / encoder = n/a (no image encoder)" in quiet.stdout  # classic has none
