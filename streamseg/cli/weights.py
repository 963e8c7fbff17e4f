"""``streamseg weights``: the checkpoints, listed and downloaded into the cache."""

from __future__ import annotations

import click

from streamseg.cli.common import guarded, setup_logging


@click.group()
def weights() -> None:
    """Segment Anything checkpoints: list them, download them into the cache."""


@weights.command(name="list")
def weights_list() -> None:
    """The official checkpoints, their sizes, and whether each is in the cache."""
    setup_logging(False, False)

    def job() -> None:
        from streamseg.engines.weights import cache_dir, list_weights

        click.echo(f"cache: {cache_dir()}")
        for row in list_weights():
            state = "cached" if row.get("cached") else "not downloaded"
            click.echo(f"{row['name']:<11} {row['size'] / 1e6:>8.0f} MB  {state:<15} {row['url']}")

    guarded(job, False)


@weights.command(name="download")
@click.argument("name")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def weights_download(name: str, quiet: bool) -> None:
    """Download checkpoint NAME (sam-vit-b, sam-vit-l, sam-vit-h), resumable, checksum verified."""
    setup_logging(quiet, False)

    def job() -> None:
        from streamseg.engines.weights import ensure_weights

        click.echo(str(ensure_weights(name, progress=not quiet)))

    guarded(job, False)
