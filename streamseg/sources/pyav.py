"""Video through FFmpeg (PyAV): files, URLs, stdin, devices."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from streamseg.errors import SourceError, SourceNotFoundError
from streamseg.sources.base import (
    DEVICE_FORMATS,
    URL_SCHEMES,
    SourceBase,
    SourceConfig,
    SourceInfo,
    limit_frames,
)
from streamseg.types import Frame

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_ERRORS = 100  # after this many packets fail in a row, the rest is junk
RECONNECT_STABLE = 10.0  # seconds a reconnected stream must run before the tries count anew
PIPE_HINT = (
    "cannot read the video on stdin ({error}); FFmpeg cannot read every container from "
    "a pipe (an MP4 needs to seek): pipe a streamable one such as MPEG-TS, NUT or MKV "
    "(ffmpeg -i clip.mp4 -c copy -f mpegts -), or give the file's path instead of -"
)


def _short(decoded: int, announced: int | None) -> bool:
    """True when a stream that ran to its end gave clearly fewer frames than its header
    said (a few may legitimately be missing: edit lists, a B-frame at the very end)."""
    return announced is not None and announced - decoded > max(2, announced // 100) > 0


class PyAVSource(SourceBase):
    """Video through FFmpeg (PyAV): files, URLs, stdin, devices."""

    def __init__(self, spec: str, config: SourceConfig) -> None:
        import av

        self.config, self.spec = config, spec
        kind = (
            "stdin"
            if spec == "-"
            else "url"
            if spec.startswith(URL_SCHEMES) and not spec.startswith("file://")
            else "device"
            if config.format in DEVICE_FORMATS
            else "file"
        )
        try:
            self.container = self._open()
        except FileNotFoundError as error:
            raise SourceNotFoundError(f"no such file: {spec}; check the path") from error
        except (av.error.FFmpegError, ValueError) as error:
            if kind == "stdin":
                raise SourceError(PIPE_HINT.format(error=error)) from error
            reason = getattr(error, "strerror", None) or str(error)  # no raw errno numbers
            raise SourceError(
                f"cannot read {spec} as video ({reason}); "
                "give a video file, image folder, URL or '-'"
            ) from error
        if not self.container.streams.video:
            self.container.close()
            raise SourceError(f"{spec} has no video stream; give a file with video in it")
        self.stream = self.container.streams.video[0]
        ctx = self.stream.codec_context
        rate = self.stream.average_rate or self.stream.guessed_rate
        time_base = self.stream.time_base or (1 / Fraction(rate) if rate else Fraction(1, 90000))
        duration = None
        if self.stream.duration is not None:
            duration = float(self.stream.duration * time_base)
        elif self.container.duration is not None:
            duration = self.container.duration / 1e6
        frames = self.announced = self.stream.frames or None  # the header's exact count
        if not frames and duration and rate:
            frames = round(duration * float(rate))  # an estimate (MKV: audio may run longer)
        self.info = SourceInfo(
            uri=spec,
            kind=kind,
            width=ctx.width,
            height=ctx.height,
            rate=str(Fraction(rate)) if rate else None,
            time_base=str(Fraction(time_base)),
            frames=frames,
            duration=duration,
            rotation=0,
            has_audio=bool(self.container.streams.audio),
            live=kind != "file" if config.live is None else config.live,
        )
        self.stream.thread_type = self.thread_type
        if not ctx.width or not ctx.height:
            self.container.close()
            raise SourceError(f"{spec}: the video stream has no frame size; is the file complete?")

    @property
    def thread_type(self) -> str:
        """Slice threads only. Frame threads hold frames back (live streams get them in
        bursts) and silently drop a damaged frame that a single thread decodes with its
        errors concealed (a cut file loses its last frames without a word); decoding
        is rarely the slow stage next to the model."""
        return "SLICE"

    def _open(self) -> Any:
        import av

        # FFmpeg's own pipe reader returns what has arrived; a Python file object would
        # block until its 32 KiB buffer is full, delivering a live stream in bursts.
        target = "pipe:0" if self.spec == "-" else self.spec
        options = dict(self.config.options)
        network = self.spec.startswith(URL_SCHEMES) and not self.spec.startswith("file://")
        if self.spec.startswith(("rtsp://", "rtsps://")):
            options.setdefault("rtsp_transport", "tcp")  # UDP loses packets on busy networks
        if self.spec == "-" or network or self.config.format in DEVICE_FORMATS:
            # FFmpeg probes up to 5 s of input before the first frame by default: on a live
            # stream that is 5 s of latency. Half a second finds the streams just as well.
            options.setdefault("analyzeduration", "500000")
            options.setdefault("probesize", "500000")
        return av.open(
            target,
            format=self.config.format,
            options=options,
            metadata_errors="ignore",
            timeout=10.0 if network else None,
        )

    def frames(self) -> Iterator[Frame]:
        if self.info.kind == "url" and self.config.reconnect:
            return limit_frames(self._reconnecting(), self.config)
        return limit_frames(self._decode(), self.config)

    def _reconnecting(self) -> Iterator[Frame]:
        """Decode; when the stream fails or ends, reopen it after 1, 2, 4... s.

        Frames are renumbered consecutively by ``limit_frames``; timestamps are the stream's.
        """
        import av

        tries = 0
        while True:
            opened = time.monotonic()
            try:
                for frame in self._decode():
                    # the count starts anew only once a connection has held a while: a
                    # server that drops after every frame must not be retried forever
                    if tries and time.monotonic() - opened >= RECONNECT_STABLE:
                        tries = 0
                    yield frame
                log.warning("%s: stream ended; reconnecting", self.info.uri)
            except (av.error.FFmpegError, OSError) as error:
                log.warning("%s: stream failed (%s); reconnecting", self.info.uri, error)
            while True:  # reopen, waiting longer after each failed attempt
                tries += 1
                if tries > self.config.reconnect_tries:
                    log.warning(
                        "%s: gave up after %d reconnection attempts",
                        self.info.uri,
                        self.config.reconnect_tries,
                    )
                    return
                time.sleep(min(2 ** (tries - 1), 30))
                with contextlib.suppress(av.error.FFmpegError, OSError):
                    self.container.close()
                try:
                    self.container = self._open()
                    self.stream = self.container.streams.video[0]
                    self.stream.thread_type = self.thread_type
                    break
                except (av.error.FFmpegError, OSError, IndexError) as error:
                    log.warning("%s: reconnection failed (%s)", self.info.uri, error)

    def _decode(self, seek: bool = True) -> Iterator[Frame]:
        import av

        # Times count from the stream's first timestamp (MPEG-TS starts at 1.4 s, say).
        zero = self.stream.start_time or 0
        sought = False
        if seek and self.config.start > 0 and self.info.kind == "file":
            offset = zero + int(self.config.start / Fraction(self.info.time_base))
            try:
                self.container.seek(offset, stream=self.stream, backward=True)
                sought = True
            except av.error.FFmpegError:
                log.warning("cannot seek in %s; decoding from the start", self.info.uri)
        errors = consecutive = 0
        fps = self.info.fps or 25.0
        time_base = Fraction(self.info.time_base)
        count = 0
        for packet in self._packets():
            try:
                # None: the read broke off; flush what the decoder's threads still hold
                decoded = packet.decode() if packet is not None else self._drain()
                consecutive = 0
            except av.error.FFmpegError as error:
                errors += 1
                consecutive += 1
                if errors == 1:
                    log.warning(
                        "%s: a packet failed to decode (%s); skipping the frames that "
                        "cannot be decoded",
                        self.info.uri,
                        error,
                    )
                if consecutive >= MAX_CONSECUTIVE_ERRORS:
                    log.warning(
                        "%s: %d packets in a row failed; stopping here", self.info.uri, consecutive
                    )
                    break
                continue
            for av_frame in decoded:
                pts = av_frame.pts
                seconds = float((pts - zero) * time_base) if pts is not None else count / fps
                if sought and count == 0 and seconds > self.config.start + 1e-3:
                    # the seek overshot (MPEG-TS seeks by bytes): read from the start instead
                    yield from self._from_the_start()
                    return
                image = av_frame.to_ndarray(format="rgb24")
                if count == 0:  # the display matrix rides on frames in PyAV
                    self.info.display_rotation = int(round(av_frame.rotation or 0)) % 360
                count += 1
                yield Frame(index=count - 1, pts=pts, time=seconds, image=image)
        if sought and count == 0:
            yield from self._from_the_start()
        if self.broke_off is not None:
            if count == 0 and self.info.kind == "stdin":
                raise SourceError(PIPE_HINT.format(error=self.broke_off))
            log.warning(
                "%s: the input broke off (%s); the %d frames read up to there were processed",
                self.info.uri,
                self.broke_off,
                count,
            )
        elif errors and not (not sought and _short(count, self.announced)):
            log.warning(
                "%s: %d packets could not be decoded; %d frames were", self.info.uri, errors, count
            )
        elif not sought and _short(count, self.announced):  # a cut file: its last packet fails
            log.warning(
                "%s: the video ended after %d of the %d frames its header announces; the file "
                "looks truncated (all that could be read was processed)",
                self.info.uri,
                count,
                self.announced,
            )

    def _packets(self) -> Iterator[Any]:
        """The stream's packets. A read that fails (a connection dropped, a cut file, an
        MP4 from a pipe) ends them with None, so the decoder is drained, and sets
        ``broke_off``; a clean end of input is FFmpeg's own flush packet."""
        import av

        self.broke_off: Exception | None = None
        demuxed = self.container.demux(self.stream)
        while True:
            try:
                packet = next(demuxed)
            except StopIteration:
                return
            except (av.error.FFmpegError, OSError) as error:
                self.broke_off = error
                yield None
                return
            yield packet

    def _drain(self) -> list[Any]:
        import av

        try:
            return list(self.stream.codec_context.decode(None))
        except av.error.FFmpegError:
            return []

    def _from_the_start(self) -> Iterator[Frame]:
        """Reopen the file and decode it all; frames before --start are dropped by limit_frames."""
        self.container.close()
        self.container = self._open()
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = self.thread_type
        yield from self._decode(seek=False)

    def close(self) -> None:
        self.container.close()
