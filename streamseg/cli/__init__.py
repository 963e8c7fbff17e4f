"""The ``streamseg`` command: run, info, export, eval, bench, weights.

Heavy modules are imported inside the commands so ``streamseg --help`` is instant.
Errors streamseg raises on purpose become one line on stderr and a non-zero exit
code (``--debug`` shows the traceback); Ctrl-C and SIGTERM finalize the outputs
and exit with 130. Each command lives in its own module of this package.
"""

from __future__ import annotations

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
        cli.main(prog_name="streamseg", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("streamseg: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        ctx = getattr(error, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx else ""
        click.echo(f"streamseg: error: {error.format_message()}{hint}", err=True)
        sys.exit(error.exit_code)
