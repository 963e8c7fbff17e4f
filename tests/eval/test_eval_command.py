"""``streamseg eval`` checks its input before it runs anything (no data folder needed)."""

from __future__ import annotations

import cv2
import numpy as np
from click.testing import CliRunner


def test_every_named_sequence_is_checked_before_any_runs(tmp_path):
    from streamseg.cli import cli

    seq = tmp_path / "JPEGImages" / "480p" / "disc"
    seq.mkdir(parents=True)
    cv2.imwrite(str(seq / "00000.jpg"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "Annotations" / "480p" / "disc").mkdir(parents=True)
    r = CliRunner().invoke(cli, ["eval", str(tmp_path), "--sequences", "disc,nonexistent"])
    assert r.exit_code == 3 and r.stdout == ""  # nothing ran, no partial table
    assert "no sequence 'nonexistent'" in r.stderr and "known: disc" in r.stderr
