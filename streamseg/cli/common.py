"""What every command shares: logging, turning errors and signals into exit codes, flags."""

from __future__ import annotations

import logging
import signal
import sys
from typing import Any

import click

from streamseg.errors import StreamsegError, UsageError

log = logging.getLogger("streamseg")


def setup_logging(quiet: bool, debug: bool) -> None:
    """Info and warnings on stderr; ``--quiet``: errors only; ``--debug``: everything."""
    level = logging.DEBUG if debug else logging.ERROR if quiet else logging.INFO
    logging.basicConfig(level=level, format="streamseg: %(message)s", stream=sys.stderr)


def guarded(job: Any, debug: bool, stop: Any = None) -> None:
    """Run ``job``: StreamsegError -> one line + its exit code; Ctrl-C/SIGTERM -> 130.

    With ``stop`` (a session.StopFlag), a Ctrl-C or SIGTERM once frames flow only sets
    it, and the pipeline stops between frames (a KeyboardInterrupt raised inside a
    queue or a lock could leave a stage thread waiting forever); before that, or the
    second time, it interrupts at once.
    """

    def on_signal(signum: int, frame: Any) -> None:
        if stop is None or stop.is_set() or not stop.armed:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        job()
    except StreamsegError as error:
        if debug:
            raise
        click.echo(f"streamseg: error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        saved = "; the frames processed so far are saved (complete: false)"
        click.echo(
            f"streamseg: interrupted{saved if stop is not None and stop.armed else ''}", err=True
        )
        sys.exit(130)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
