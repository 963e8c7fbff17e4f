"""What one ``streamseg bench`` run measured, and its table."""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass, field
from typing import Any

# (stage, the thread it runs in), in table order.
STAGES = (
    ("decode", "decode thread"),
    ("preprocess", "main"),
    ("encode", "main"),
    ("decode-masks", "main"),
    ("tracking", "main"),
    ("rendering", "video thread"),
    ("writing", "sink threads"),
)


@dataclass
class BenchResult:
    """What one bench run measured. Times in seconds, memory in bytes."""

    source: str
    engine: dict[str, Any]
    frames: int
    size: tuple[int, int]
    wall: float
    setup: float
    stages: dict[str, float]
    gpu: dict[str, float] = field(default_factory=dict)
    has_encoder: bool = True  # False: "encode" is a weight-free engine's preparation
    decoder_calls: int = 0
    present: int = 0
    cuda_max_memory: int | None = None
    peak_rss: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def encoder(self) -> float:
        """Summed pure image-encoder time over all frames (GPU time on CUDA)."""
        return self.gpu.get("encode", self.stages.get("encode", 0.0))

    @property
    def fps(self) -> float:
        return self.frames / self.wall if self.wall > 0 else 0.0

    @property
    def ratio(self) -> float | None:
        """End-to-end wall time / pure encoder time (None for engines without an image
        encoder, such as classic, whose "encode" is only its per-frame preparation)."""
        if not self.has_encoder or self.encoder <= 0:
            return None
        return self.wall / self.encoder

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "engine": self.engine,
            "frames": self.frames,
            "size": list(self.size),
            "wall_s": self.wall,
            "setup_s": self.setup,
            "stages_s": dict(self.stages),
            "gpu_stages_s": dict(self.gpu),
            "fps": self.fps,
            "encoder_s": self.encoder,
            "wall_over_encoder": self.ratio,
            "decoder_calls": self.decoder_calls,
            "cuda_max_memory": self.cuda_max_memory,
            "peak_rss": self.peak_rss,
        }

    def table(self) -> str:
        """A plain-text table (see the module docstring)."""
        e = self.engine
        n = max(self.frames, 1)
        lines = [
            f"source {self.source}: {self.frames} frames of {self.size[0]}x{self.size[1]}",
            f"engine {e.get('name')}"
            + (
                f" on {e['device']} ({e.get('dtype')}, batch {e.get('batch_size')})"
                if "device" in e
                else ""
            )
            + f"; weights: {_weights(e)}; setup {self.setup:.1f} s (not in the wall time)",
            "",
            f"{'stage':<14}{'thread':<15}{'ms/frame':>10}{'% of wall':>11}"
            + (f"{'GPU ms/frame':>14}" if self.gpu else ""),
        ]
        # Host times: on CUDA the main thread's share of the engine stages is the time
        # to queue the work and wait for results; the GPU column is the work itself.
        main = sum(self.stages.get(s, 0.0) for s, t in STAGES if t == "main")
        rows = [(name, thread, self.stages.get(name, 0.0)) for name, thread in STAGES]
        rows.append(("main, other", "main", max(0.0, self.wall - main)))  # waits, glue
        for name, thread, s in rows:
            ms, share = 1000 * s / n, 100 * s / self.wall
            gpu = f"{1000 * self.gpu[name] / n:>14.1f}" if name in self.gpu else ""
            lines.append(f"{name:<14}{thread:<15}{ms:>10.1f}{share:>10.1f}%{gpu}")
        lines += [
            "",
            f"end to end: {self.wall:.2f} s, {self.fps:.3f} frames/s "
            f"({1000 * self.wall / n:.1f} ms/frame)",
            f"image encoder alone: {self.encoder:.2f} s; wall / encoder = "
            + (f"{self.ratio:.3f}" if self.ratio else "n/a (no image encoder)"),
            f"decoder calls: {self.decoder_calls}; object present on {self.present} frame(s)",
            "CUDA max memory allocated: "
            + (f"{self.cuda_max_memory / 2**20:.0f} MiB" if self.cuda_max_memory else "n/a (CPU)"),
            f"host peak RSS: {self.peak_rss / 2**20:.0f} MiB",
        ]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _weights(meta: dict[str, Any]) -> str:
    w = meta.get("weights")
    if not w:
        return "none"
    return str(w.get("source")) + (f" {w['path']}" if w.get("path") else "")


def peak_rss() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # bytes on macOS, KiB on Linux
