"""The ``streamseg`` command: run, info, export, eval, bench, weights.

Heavy modules are imported inside the commands so ``streamseg --help`` is instant.
Errors streamseg raises on purpose become one line on stderr and a non-zero exit
code (``--debug`` shows the traceback); Ctrl-C and SIGTERM finalize the outputs
and exit with 130. Each command lives in its own module of this package.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys

import click

from streamseg.cli.measure import bench, evaluate
from streamseg.cli.results import export, info
from streamseg.cli.run import run
from streamseg.cli.weights import weights
from streamseg.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="streamseg")
def cli() -> None:
    """Segment objects in video streams and keep them segmented."""


from streamseg.batch.command import batch  # noqa: E402 - the batch package's own module

for command in (run, info, export, evaluate, bench, weights, batch):
    cli.add_command(command)


def main() -> None:
    """Console entry point: click's own usage errors also become one line and exit 2."""
    try:
        _main()
    except SystemExit as done:
        if isinstance(done.code, int) and done.code != 0:
            _leave(done.code)
        raise


def _leave(code: int) -> None:
    """Exit with an error code, past the interpreter's shutdown: the outputs are closed
    by now, but a C++ library's static destructors may still trip over a thread left
    inside it (OpenCV then aborts: exit -6 instead of the error's own code). Python's
    exit handlers (a local Ray instance's shutdown among them) still run."""
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _main() -> None:
    try:
        cli.main(prog_name="streamseg", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("streamseg: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        ctx = getattr(error, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx else ""
        click.echo(f"streamseg: error: {error.format_message()}{hint}", err=True)
        sys.exit(error.exit_code)
