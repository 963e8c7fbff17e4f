"""``streamseg bench`` on a synthetic clip with a tiny random SAM: every stage is timed."""

from __future__ import annotations

import pytest

from streamseg import bench
from streamseg.engines import sam_models
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
    argv = [str(path), "--random-weights", "--max-frames", "2", "--device", "cpu"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "sam-vit-b" in out and "random weights" in out and "2 frames" in out
