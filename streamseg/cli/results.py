"""``streamseg info`` and ``streamseg export``: reading a result folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streamseg.choices import EXPORT_FORMATS
from streamseg.cli.common import STORAGE_OPTION, guarded, setup_logging
from streamseg.errors import UsageError


@click.command()
@click.argument("out")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@STORAGE_OPTION
def info(out: str, as_json: bool, storage_options: tuple[str, ...]) -> None:
    """Summarize a result folder or URL OUT: source, frames, objects, coverage, completeness."""
    setup_logging(False, False)

    def job() -> None:
        from streamseg.results import summary
        from streamseg.storage import parse_storage_options

        s = summary(out, storage_options=parse_storage_options(storage_options))
        if as_json:
            click.echo(json.dumps(s, indent=2, default=str))
            return
        src = s["source"]
        click.echo(f"result:   {s['path']}")
        click.echo(
            f"source:   {src.get('uri')} ({src.get('width')}x{src.get('height')}, "
            f"{src.get('fps') or '?'} fps, {src.get('frames') or '?'} frames)"
        )
        click.echo(f"engine:   {s['engine'].get('name')} (asked: {s['engine'].get('requested')})")
        click.echo(f"frames:   {s['frames']} written, complete: {str(s['complete']).lower()}")
        click.echo(f"objects:  {len(s['objects'])}")
        for o in s["objects"]:
            name = f" ({o['name']})" if o.get("name") else ""
            click.echo(
                f"  {o['id']}{name}: present in {o['coverage']:.1%} of frames, "
                f"mean area {o['area']:.2%} of the frame"
            )

    guarded(job, False)


@click.command()
@click.argument("out")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(EXPORT_FORMATS)),
    default="png",
    help="png: DAVIS palette PNGs, one per frame (value = object id); coco: one COCO JSON "
    "of run-length masks per frame and object, with the frame times.",
)
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the files [default: OUT/FORMAT; required for a URL OUT].",
)
@STORAGE_OPTION
def export(out: str, fmt: str, dest: Path | None, storage_options: tuple[str, ...]) -> None:
    """Export the masks of result folder (or URL) OUT: PNG images, or COCO run-length JSON."""
    setup_logging(False, False)

    def job() -> None:
        from streamseg.storage import is_url, parse_storage_options

        if dest is None and is_url(out):
            raise UsageError(f"{out} is a URL; give a local folder with --dest")
        options = parse_storage_options(storage_options)
        target = dest or Path(out) / fmt
        if fmt == "coco":
            from streamseg.export.coco import COCO_FILE, export_coco

            count = export_coco(out, target, storage_options=options)
            click.echo(f"wrote {count} annotations to {target / COCO_FILE}")
            return
        from streamseg.export.png import export_png

        count = export_png(out, target, storage_options=options)
        click.echo(f"wrote {count} PNG files to {target}")

    guarded(job, False)
