"""What every command shares: logging, turning errors and signals into exit codes, flags."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import click

from streamseg.errors import StreamsegError, UsageError

log = logging.getLogger("streamseg")


def setup_logging(quiet: bool, debug: bool) -> None:
    """Info and warnings on stderr; ``--quiet``: errors only; ``--debug``: everything."""
    level = logging.DEBUG if debug else logging.ERROR if quiet else logging.INFO
    logging.basicConfig(level=level, format="streamseg: %(message)s", stream=sys.stderr)
    # streamseg runs no event loop of its own; zarr's does, and when a read fails it
    # leaves sibling tasks that asyncio reports as "destroyed but pending" at exit: noise
    # after the one error line the user gets.
    if not debug:
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)


GRACE = 0.8  # seconds a run may take to stop between frames before its outputs are closed
_POLL = 0.1
SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class _Again(KeyboardInterrupt):
    """A second signal while the run was already stopping."""


def guarded(job: Any, debug: bool, stop: Any = None) -> None:
    """Run ``job``: StreamsegError -> one line + its exit code; Ctrl-C, SIGTERM, SIGHUP -> 130.

    The job runs in its own thread and this (main) thread only waits, so a signal is
    handled at once whatever the job waits on (a silent stdin, a FIFO without a
    writer, a stalled network read, one long frame): the handlers run here, never
    inside a queue or a lock of the job's. With ``stop`` (a session.StopFlag), a
    signal once frames flow sets it, and the run stops between frames and closes
    its outputs; if it has not within GRACE seconds, its outputs are closed from
    here (``stop.abort``: complete false). Before frames flow there is nothing to
    finish, and a signal ends the command at once; so does a second signal, with a
    message that says what was left unfinished.
    """
    state: dict[str, Any] = {}

    def on_signal(signum: int, frame: Any) -> None:
        if stop is None or not stop.armed:
            raise KeyboardInterrupt
        if stop.is_set():
            raise _Again
        state["since"] = time.monotonic()
        stop.set()

    def work() -> None:
        try:
            job()
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
            state["error"] = error

    previous = {sig: signal.signal(sig, on_signal) for sig in SIGNALS}
    thread = threading.Thread(target=work, name="run", daemon=True)
    code = 0
    try:
        thread.start()
        while thread.is_alive():
            thread.join(_POLL)
            since = state.get("since")
            if thread.is_alive() and since is not None and time.monotonic() - since > GRACE:
                abort = getattr(stop, "abort", None)
                if abort is not None:
                    abort()  # close the outputs from here: the run is stuck mid-frame
                raise KeyboardInterrupt
        if "error" in state:
            raise state["error"]
    except StreamsegError as error:
        if debug:
            raise
        _say(f"streamseg: error: {error}")
        code = error.exit_code
    except _Again:
        _say(
            "streamseg: interrupted again before the outputs were closed: masks.zarr holds "
            "the frames its frames_written attribute counts (complete: false) and the "
            "videos play up to their last whole second"
        )
        code = 130
    except KeyboardInterrupt:
        saved = "; the frames processed so far are saved (complete: false)"
        _say(f"streamseg: interrupted{saved if stop is not None and stop.armed else ''}")
        code = 130
    finally:
        for sig, handler in previous.items():  # a late signal must not undo a clean exit
            signal.signal(sig, signal.SIG_IGN if code else handler)
    if code and thread.is_alive():
        # the job is stuck in a read or a frame (its outputs are closed): leave at once,
        # not through the interpreter's shutdown, which would wait on or trip over it
        _flush()
        os._exit(code)
    if code:
        sys.exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _say(line: str) -> None:
    """One line on stderr; nothing when the terminal is gone (SIGHUP)."""
    with contextlib.suppress(OSError):
        click.echo(line, err=True)


def parse_ids(text: str | None, flag: str) -> list[int] | None:
    """ "1,2" -> [1, 2]; a UsageError naming the flag for anything else."""
    if not text:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"malformed {flag} {text!r}: expected object ids like 1,2") from None


def key_values(items: tuple[str, ...], flag: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"malformed {flag} {item!r}: expected KEY=VALUE, e.g. framerate=30")
        pairs[key] = value
    return pairs


STORAGE_OPTION = click.option(
    "--storage-option",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="fsspec option for a URL output, e.g. endpoint_url=http://127.0.0.1:9000. "
    "Repeatable [default: the provider's standard credential chain].",
)
