"""The ``streamseg batch`` command (registered in streamseg/cli.py)."""

from __future__ import annotations

import click

from streamseg.errors import StreamsegError


class BatchFailed(StreamsegError):
    """Some recordings of the batch failed (their errors are in batch.jsonl)."""

    exit_code = 1


@click.command(name="batch")
@click.argument("inputs", nargs=-1)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False),
    default=None,
    help="A .csv or .jsonl file, one recording per row (source, name, prompt, box, prompts, "
    "mask, gaze, gaze_mode, start, max_frames).",
)
@click.option(
    "--out", required=True, metavar="FOLDER|URL", help="Output root: NAME/ per recording."
)
@click.option(
    "--storage-option",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="fsspec option for a URL --out, e.g. endpoint_url=http://h:9000. Repeatable.",
)
@click.option(
    "--prompt",
    "prompt_texts",
    multiple=True,
    metavar="'X,Y ...'|gaze",
    help="Shared prompt for every input (as for run). Repeatable.",
)
@click.option("--box", "boxes", multiple=True, metavar="X0,Y0,X1,Y1", help="Shared box prompt.")
@click.option(
    "--prompts",
    "prompts_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Shared JSON/YAML prompts file.",
)
@click.option(
    "--mask",
    "mask_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Shared label PNG on the first frame.",
)
@click.option(
    "--address",
    default=None,
    metavar="auto|ray://HOST:PORT|HOST:PORT",
    help="Join this Ray cluster [default: a local Ray instance on this machine].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    help="Worker processes [0: as many as the cluster's resources fit].",
)
@click.option("--cpus-per-job", type=float, default=1.0, help="CPUs per worker [1].")
@click.option("--gpus-per-job", type=float, default=0.0, help="GPUs per worker [0].")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    help="Retries of a job whose worker was lost [3].",
)
@click.option("--overwrite", is_flag=True, help="Redo every recording, even complete ones.")
@click.option("--model", default=None, metavar="NAME", help="Segmentation engine (as for run).")
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE")
@click.option("--start", type=float, default=None, help="Seconds to skip in every recording.")
@click.option("--max-frames", type=int, default=None, help="Frames per recording at most.")
@click.option("--gaze", "gaze_path", default=None, metavar="PATH|device", help="Shared gaze.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or per-recording lines.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def batch(
    inputs: tuple[str, ...],
    manifest: str | None,
    out: str,
    storage_options: tuple[str, ...],
    prompt_texts: tuple[str, ...],
    boxes: tuple[str, ...],
    prompts_file: str | None,
    mask_path: str | None,
    address: str | None,
    workers: int,
    cpus_per_job: float,
    gpus_per_job: float,
    retries: int,
    overwrite: bool,
    model: str | None,
    device: str | None,
    checkpoint: str | None,
    config_path: str | None,
    overrides: tuple[str, ...],
    start: float | None,
    max_frames: int | None,
    gaze_path: str | None,
    quiet: bool,
    debug: bool,
) -> None:
    """Segment many recordings on Ray: INPUTS (files, folders, globs) or --manifest, into --out
    (a folder or a URL: s3://, gs://, az://). Rerunning skips recordings already complete with
    the same settings. Writes OUT/NAME/masks.zarr, OUT/NAME/overlay.mp4 and OUT/batch.jsonl."""
    from streamseg.cli.common import guarded, setup_logging

    setup_logging(quiet, debug)

    def job() -> None:
        from pathlib import Path

        from streamseg.batch.manifest import PromptSpec, from_inputs, read_manifest
        from streamseg.batch.runner import BatchOptions, run_batch
        from streamseg.config import load_config, set_value
        from streamseg.errors import UsageError
        from streamseg.storage import is_url, location, parse_storage_options

        if bool(manifest) == bool(inputs):
            raise UsageError("give either INPUTS (files, folders, globs) or --manifest FILE")
        config = load_config(config_path, overrides)
        flags = {
            "model.name": model,
            "model.device": device,
            "model.checkpoint": checkpoint,
            "source.start": start,
            "source.max_frames": max_frames,
            "gaze.path": gaze_path,
        }
        for key, value in flags.items():
            if value is not None:
                set_value(config, key, value)
        shared = PromptSpec(prompt_texts, boxes, prompts_file, mask_path)
        recordings = read_manifest(manifest, shared) if manifest else from_inputs(inputs, shared)
        root = location(out if is_url(out) else Path(out), parse_storage_options(storage_options))
        options = BatchOptions(
            address, workers, cpus_per_job, gpus_per_job, retries, overwrite, quiet
        )
        table = run_batch(recordings, root, config, options)
        counts = {s: sum(r["status"] == s for r in table.rows) for s in ("done", "skipped")}
        click.echo(
            f"streamseg: {counts['done']} done, {counts['skipped']} skipped, "
            f"{len(table.failed)} failed of {len(recordings)}; table: {table.target}",
            err=True,
        )
        if table.failed:
            raise BatchFailed(
                f"{len(table.failed)} of {len(recordings)} recordings failed "
                f"({', '.join(r['recording'] for r in table.failed)}); see {table.target}"
            )

    guarded(job, debug)
