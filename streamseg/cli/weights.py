"""``streamseg weights``: the checkpoints, listed and downloaded into the cache."""

from __future__ import annotations

import click

from streamseg.cli.common import guarded, setup_logging


@click.group()
def weights() -> None:
    """Model weights (Segment Anything, the video models): list them, download them."""


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
        from streamseg.engines.hub import list_video_weights

        click.echo("video models (Hugging Face Hub cache):")
        for video in list_video_weights():
            state = "cached" if video["path"] else "not downloaded"
            gated = " (gated: log in or set HF_TOKEN)" if video["gated"] else ""
            click.echo(
                f"{video['name']:<22} {state:<15} {video['repo']}@{video['revision']}{gated}"
            )

    guarded(job, False)


@weights.command(name="download")
@click.argument("name")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def weights_download(name: str, quiet: bool) -> None:
    """Download checkpoint NAME (sam-vit-b|l|h: resumable, checksum verified; or a video
    model, e.g. edgetam, sam2.1-hiera-tiny: into the Hugging Face Hub cache)."""
    setup_logging(quiet, False)

    def job() -> None:
        from streamseg.engines.hub import VIDEO_MODELS, ensure_snapshot
        from streamseg.engines.weights import ensure_weights

        if name in VIDEO_MODELS:  # a video model: into the Hugging Face Hub cache
            click.echo(str(ensure_snapshot(name, progress=not quiet)))
            return
        click.echo(str(ensure_weights(name, progress=not quiet)))

    guarded(job, False)
