"""The re-encoded video: H.264 MP4 (fragmented) with the source's timestamps and audio.

Pictures made by a render stage (streamseg/render/stage.py: the overlay, or the
inpainted frames) are encoded with their frame's source pts in the source time
base, so the frame rate, variable frame rate included, survives. Audio is copied
packet by packet from the source file (transcoded to AAC when MP4 cannot hold its
codec), interleaved with the video as it goes so nothing piles up in memory.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from streamseg.sinks.base import SinkBase
from streamseg.sources import SourceInfo
from streamseg.types import Frame

log = logging.getLogger(__name__)

MP4_AUDIO = {"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"}
# Fragmented MP4: a moof+mdat pair goes out at every keyframe (one a second, see
# ``_open``) and no moov is needed at the end, so a run killed by SIGKILL, a closed
# terminal or a full disk leaves a file that plays up to its last fragment.
FRAGMENTED = {"movflags": "frag_keyframe+delay_moov+default_base_moof", "flush_packets": "1"}
MP4_SUFFIXES = {".mp4", ".m4v", ".mov"}


class VideoSink(SinkBase):
    """Encode pictures to ``path`` (H.264, yuv420p; "-": MPEG-TS on stdout).

    ``write(picture, frame)``: picture (H, W, 3) uint8 RGB, timed by ``frame``'s pts.
    Odd sizes are padded by one pixel (edge-replicated) since yuv420p needs even
    sides. audio_from: a file to copy audio from (None: no audio). start: seconds
    skipped in the source. Sources on a device clock (``info.device_clock``, Aria)
    start the video at 0, keeping the spacing.
    """

    def __init__(
        self,
        path: Path | str,
        info: SourceInfo,
        crf: int = 20,
        preset: str = "veryfast",
        audio_from: str | None = None,
        start: float = 0.0,
    ) -> None:
        self.path, self.info = Path(path), info
        self.crf, self.preset = crf, preset
        self.audio_from, self.start = audio_from, start
        self.container: Any = None
        self.stream: Any = None
        self.audio: _AudioCopy | None = None
        self.time_base = Fraction(info.time_base)
        self.last_pts: int | None = None
        self.first_pts: int | None = None
        self.frame_pts = max(1, round(1 / ((info.fps or 25.0) * self.time_base)))
        self.progress = time.monotonic()  # when a packet last went out (ThreadedSink's stall)

    def _open(self, height: int, width: int) -> None:
        import av

        if str(self.path) == "-":  # a stream on stdout for ffplay/ffmpeg; logs stay on stderr
            self.container = av.open(sys.stdout.buffer, "w", format="mpegts")
        else:
            options = FRAGMENTED if self.path.suffix.lower() in MP4_SUFFIXES else {}
            self.container = av.open(str(self.path), "w", options=dict(options))
        rate = Fraction(self.info.rate) if self.info.rate else Fraction(25)
        stream = self.container.add_stream("libx264", rate=rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        # a keyframe (so a fragment) about every second: a crash loses at most that much
        stream.codec_context.gop_size = max(1, round(self.info.fps or 25.0))
        stream.codec_context.time_base = self.time_base
        stream.time_base = self.time_base
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        if self.info.live:
            stream.options["tune"] = "zerolatency"  # no frame-reordering delay on live input
        self.stream = stream
        if self.audio_from:
            self.audio = _AudioCopy.open(self.audio_from, self.container, self.start)

    def write(self, picture: np.ndarray, frame: Frame) -> None:
        import av

        h, w = picture.shape[:2]
        if self.container is None:
            self._open(h, w)
        if h % 2 or w % 2:
            picture = np.pad(picture, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        pts = frame.pts
        if pts is not None and self.info.device_clock:
            # device clock (ns since boot): start the video at 0, keep the spacing
            self.first_pts = pts if self.first_pts is None else self.first_pts
            pts -= self.first_pts
        if pts is None or (self.last_pts is not None and pts <= self.last_pts):
            pts = 0 if self.last_pts is None else self.last_pts + self.frame_pts
        self.last_pts = pts
        video_frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        video_frame.pts, video_frame.time_base = pts, self.time_base
        for packet in self.stream.encode(video_frame):
            self._mux(packet)
        if self.audio:
            self.audio.copy_until(float(pts * self.time_base), self.container)

    def close(self, complete: bool) -> None:
        if self.container is None:
            return
        try:
            for packet in self.stream.encode(None):  # the encoder's delayed frames
                self._mux(packet)
            if self.audio:
                end = float((self.last_pts or 0) * self.time_base) + 1 / (self.info.fps or 25.0)
                self.audio.copy_until(end, self.container, final=True)
                self.audio.close()
        finally:
            self.container.close()

    def _mux(self, packet: Any) -> None:
        self.container.mux(packet)
        self.progress = time.monotonic()


class _AudioCopy:
    """The first audio stream of a file, copied (or transcoded to AAC) into an MP4."""

    def __init__(
        self, source: Any, in_stream: Any, out_stream: Any, transcode: bool, start: float
    ) -> None:
        self.source, self.in_stream, self.out_stream = source, in_stream, out_stream
        self.transcode, self.start = transcode, start
        self.packets: Iterator[Any] = source.demux(in_stream)
        self.pending: Any = None
        self.resampler: Any = None

    @classmethod
    def open(cls, path: str, container: Any, start: float) -> _AudioCopy | None:
        import av

        source = av.open(path)
        if not source.streams.audio:
            source.close()
            return None
        in_stream = source.streams.audio[0]
        transcode = in_stream.codec_context.name not in MP4_AUDIO
        if transcode:
            log.info(
                "audio: %s cannot go in MP4 as is; transcoding to AAC", in_stream.codec_context.name
            )
            out_stream = container.add_stream("aac", rate=in_stream.rate or 48000)
        else:
            out_stream = container.add_stream_from_template(in_stream)
        if start > 0:
            offset = int(start / Fraction(in_stream.time_base or Fraction(1, 48000)))
            source.seek(offset, stream=in_stream, backward=True)
        return cls(source, in_stream, out_stream, transcode, start)

    def copy_until(self, seconds: float, container: Any, final: bool = False) -> None:
        """Mux the source's audio packets that start before ``seconds``."""
        while True:
            packet = self.pending or next(self.packets, None)
            self.pending = None
            if packet is None:
                break
            if packet.size == 0 or packet.pts is None:
                continue  # demuxer's end-of-stream marker
            t = float(packet.pts * packet.time_base)
            if t < self.start - 0.05:
                continue
            if t >= seconds:
                self.pending = packet
                break
            self._mux(packet, container)
        if final:
            self._mux(None, container)  # flushes the AAC encoder when transcoding

    def _mux(self, packet: Any, container: Any) -> None:
        if not self.transcode:
            if packet is not None:
                packet.stream = self.out_stream
                container.mux(packet)
            return
        import av

        if self.resampler is None:
            ctx = self.out_stream.codec_context
            self.resampler = av.AudioResampler(format=ctx.format, layout=ctx.layout, rate=ctx.rate)
        frames = packet.decode() if packet is not None else [None]
        for frame in frames:
            for resampled in self.resampler.resample(frame) if frame is not None else [None]:
                for out in self.out_stream.encode(resampled):
                    container.mux(out)

    def close(self) -> None:
        self.source.close()
