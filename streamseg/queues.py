"""Bounded queues between stage threads, carrying end-of-stream and errors.

``Prefetch`` runs an iterator in its own thread ahead of the consumer (the source
decoding ahead of the model). ``ThreadedSink`` runs a sink's writes in its own
thread behind a queue (Zarr writes and H.264 encoding overlap the model). Both pass
an exception raised in their thread on to the caller's thread, so a failing stage
stops the whole pipeline with its own error instead of hanging it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from streamseg.errors import Interrupted, OutputError, StreamsegError
from streamseg.sinks.base import Sink, SinkBase

log = logging.getLogger(__name__)

_END = object()
_POLL = 0.1  # seconds between checks of the stop flag while a queue is full/empty


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ArrivalPace:
    """Whether a stream comes at its own pace (a camera, a live broadcast) or faster
    (a recording piped in, a server sending as fast as it can).

    Judged from arrival times against timestamps: reading a live stream means
    waiting for each frame about its interval once the start-up backlog (the probe,
    what piled up while the model loaded) is read; a recording never makes the reader
    wait. ``live`` once ``streak`` frames in a row each waited ``share`` of their
    interval; ``backlog`` (for good) once ``span`` seconds of media were read without
    that. While judged, nothing is dropped.
    """

    def __init__(self, share: float = 0.75, streak: int = 8, span: float = 4.0) -> None:
        self.share, self.streak, self.span = share, streak, span
        self.live = self.backlog = False
        self._last: float | None = None
        self._run = 0
        self._read = 0.0

    def observe(self, media_time: float, waited: float) -> None:
        """One item: its media time, and how long the reader waited for it (seconds)."""
        if self.live or self.backlog:
            return
        if self._last is not None:
            interval = media_time - self._last
            self._run = self._run + 1 if interval > 0 and waited > self.share * interval else 0
            self._read += max(0.0, interval)
            if self._run >= self.streak:
                self.live = True
            elif self._read >= self.span:
                self.backlog = True
        self._last = media_time


class Prefetch:
    """Iterate ``source`` in a daemon thread, at most ``maxsize`` items ahead.

    Iterating a Prefetch yields the source's items in order, then stops; an
    exception raised by the source is re-raised here. With ``drop_stale`` (live
    sources) the thread never waits: when the queue is full the oldest item is
    dropped (``on_drop`` is called), so the consumer always gets recent items. When
    ``stop`` is set while the consumer waits, iteration raises Interrupted.
    ``close()`` stops the thread early (the source's own ``close`` is the caller's).
    pace: with ``drop_stale``, an ArrivalPace for items with a ``time`` (media
    seconds), fed how long each took to read. While the pace is judged the thread reads
    ahead (up to ``maxsize`` items) and drops nothing; once the stream is live it
    keeps the newest ``keep`` items; once it shows itself a backlog it waits for the
    consumer and drops nothing, like a file.
    """

    def __init__(
        self,
        source: Iterator[Any],
        maxsize: int = 8,
        name: str = "prefetch",
        drop_stale: bool = False,
        on_drop: Callable[[], None] | None = None,
        stop: threading.Event | None = None,
        pace: ArrivalPace | None = None,
        keep: int = 1,
    ) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._drop_stale, self._on_drop = drop_stale, on_drop
        self._pace, self._keep = pace, keep
        self._waited = 0.0
        self._interrupt = stop  # set by a signal handler: stop waiting, raise Interrupted
        self._thread = threading.Thread(target=self._run, args=(source,), name=name, daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        if self._drop_stale and not isinstance(item, _Failure) and item is not _END:
            if self._pace is None:
                return self._put_newest(item)
            self._pace.observe(float(item.time), self._waited)
            if not self._pace.backlog:
                return self._put_paced(item)
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _put_paced(self, item: Any) -> bool:
        """Queue ``item``: while the pace is judged, keeping everything (waiting when
        the queue is full); once the stream is live, keeping only the newest ``keep``."""
        while not self._stop.is_set():
            try:
                self._queue.put_nowait(item)
                break
            except queue.Full:
                if self._pace is not None and self._pace.live:
                    self._drop_oldest()
                else:
                    time.sleep(0.005)
        else:
            return False
        while self._pace is not None and self._pace.live and self._queue.qsize() > self._keep:
            if not self._drop_oldest():
                break
        return True

    def _drop_oldest(self) -> bool:
        try:
            self._queue.get_nowait()
        except queue.Empty:
            return False
        if self._on_drop:
            self._on_drop()
        return True

    def _put_newest(self, item: Any) -> bool:
        """Live mode: never wait; when the consumer is behind, the oldest item is dropped."""
        while not self._stop.is_set():
            try:
                self._queue.put_nowait(item)
                return True
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    continue
                if self._on_drop:
                    self._on_drop()
        return False

    def _run(self, source: Iterator[Any]) -> None:
        try:
            asked = time.monotonic()
            for item in source:
                self._waited = time.monotonic() - asked  # reading it (the pace's measure)
                if not self._put(item):
                    return
                asked = time.monotonic()
        except BaseException as error:  # noqa: BLE001 - handed to the consumer thread
            self._put(_Failure(error))
            return
        self._put(_END)

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                if self._interrupt is not None and self._interrupt.is_set():
                    raise Interrupted from None  # waiting on a quiet live source
                continue
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def close(self) -> bool:
        """Stop the thread; True once it has ended (so the source may be closed)."""
        self._stop.set()
        self._thread.join(timeout=2)  # a read stuck in the source (a stalled stream) gives up
        return not self._thread.is_alive()


class ThreadedSink(SinkBase):
    """Run a sink in its own thread behind a bounded queue: its writes and its close.

    ``write`` blocks when the queue is full (backpressure, so memory stays flat) and
    re-raises the first error the sink thread hit; when ``stop`` (the run's stop
    flag) is set while it waits, it raises Interrupted. ``close`` drains the queue,
    has the thread close the sink, and re-raises that error if any.

    stall: seconds without progress after which ``close`` stops waiting for a sink
    that has stopped taking data (a video piped to stdout whose reader went away or
    paused): progress is a finished write, or the sink's own ``progress`` attribute
    (the monotonic time it last got data out, e.g. each packet VideoSink muxes, so
    flushing the encoder counts too). The sink is then left unfinished: an
    OutputError after a complete run, a warning when the run is already ending on an
    error or a signal (so that error is the one reported). None: wait forever (a
    file drains, however long encoding the queue takes).
    """

    def __init__(
        self,
        sink: Sink,
        maxsize: int = 16,
        name: str = "sink",
        stop: threading.Event | None = None,
        stall: float | None = None,
    ) -> None:
        self.sink, self.name, self.stall = sink, name, stall
        self._queue: queue.Queue[Any] = queue.Queue(maxsize)
        self._error: BaseException | None = None
        self._stop = stop
        self._progress = time.monotonic()  # when the thread last finished a step
        self._closing = threading.Lock()
        self._closed = False
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = getattr(self.sink, "tick", None)  # work due with time, not frames (Zarr flush)
        while True:
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                if tick is not None and self._error is None:
                    try:
                        tick()
                    except BaseException as error:  # noqa: BLE001 - re-raised by write()
                        self._error = error
                continue
            if isinstance(item, _Close):
                try:
                    self.sink.close(item.complete and self._error is None)
                except BaseException as error:  # noqa: BLE001 - re-raised by close()
                    self._error = self._error or error
                return
            if self._error is not None:
                continue  # drain without writing after a failure
            try:
                self.sink.write(item)
            except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
                self._error = error
            self._progress = time.monotonic()

    def _raise_if_failed(self) -> None:
        error = self._error
        if error is None:
            return
        if isinstance(error, StreamsegError) or not (
            isinstance(error, OSError) or type(error).__module__.startswith("av.")
        ):
            raise error
        # disk full, a folder gone, FFmpeg refusing the file: one line, not a traceback
        raise OutputError(
            f"the {self.name} output failed ({error}); check the disk and the output path"
        ) from error

    def write(self, item: Any) -> None:
        self._raise_if_failed()
        while True:
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                self._raise_if_failed()
                if self._stop is not None and self._stop.is_set():
                    raise Interrupted from None  # the sink is not taking frames

    def close(self, complete: bool, deadline: float | None = None) -> None:
        """Write what is queued and close the sink. deadline: a time.monotonic() after
        which it is left as it is, with a warning (a run stopping on a signal)."""
        if deadline is not None:
            self.give_up_at(deadline)
        with self._closing:
            if self._closed:
                return
            self._closed = True
        if not self._finish(_Close(complete)):
            if self._deadline is not None and time.monotonic() > self._deadline:
                log.error(  # frames processed but not saved: said even with --quiet
                    "the %s output was still writing when the run had to stop; it was left "
                    "as it was (the videos play up to their last whole second, the masks "
                    "hold the frames frames_written counts)",
                    self.name,
                )
                return
            stuck = (
                f"the {self.name} output took nothing for {self.stall:g} s (is whatever "
                "reads it still reading?); it was left unfinished"
            )
            if complete and self._error is None:
                raise OutputError(stuck)
            log.error("%s", stuck)  # an output lost, even with --quiet; the run's own error follows
            return
        self._raise_if_failed()

    def give_up_at(self, deadline: float) -> None:
        """Have ``close`` (now or already waiting, in any thread) stop waiting at
        ``deadline`` (time.monotonic())."""
        self._deadline = deadline if self._deadline is None else min(self._deadline, deadline)

    def _finish(self, end: _Close) -> bool:
        """Queue ``end`` and wait for the thread to write what is before it and close
        the sink: True, or False once it has made no progress for ``stall`` seconds
        (the thread is then stuck in the sink; it is a daemon and dies with the run)."""
        self._progress = max(self._progress, time.monotonic())
        queued = False
        while True:
            if not queued:
                try:
                    self._queue.put(end, timeout=_POLL)
                    queued = True
                except queue.Full:
                    pass
            else:
                self._thread.join(_POLL)
                if not self._thread.is_alive():
                    return True
            last = max(self._progress, getattr(self.sink, "progress", 0.0))
            if self.stall is not None and time.monotonic() - last > self.stall:
                return False
            if self._deadline is not None and time.monotonic() > self._deadline:
                return False


class _Close:
    """The end marker of a ThreadedSink's queue: close the sink (complete or not)."""

    def __init__(self, complete: bool) -> None:
        self.complete = complete
