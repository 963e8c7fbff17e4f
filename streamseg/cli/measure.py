"""``streamseg eval`` (accuracy on DAVIS-layout data) and ``streamseg bench`` (speed)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streamseg.cli.common import guarded, setup_logging


@click.command(name="eval")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--init",
    type=click.Choice(["mask", "click"]),
    default="mask",
    help="mask: the frame-0 annotation is given; click: one click at its most interior point.",
)
@click.option("--model", default="classic", metavar="NAME", help="Engine.")
@click.option(
    "--checkpoint",
    type=click.Path(),
    default=None,
    help="A local SAM checkpoint (.pth), or a video model's folder (save_pretrained) "
    "[default: none].",
)
@click.option("--sequences", default=None, help="Comma-separated sequence names [default: all].")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="A YAML config (see configs/) [default: the built-in defaults].",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one config value. Repeatable [default: none].",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the table here as JSON.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def evaluate(
    root: Path,
    init: str,
    model: str,
    checkpoint: str | None,
    sequences: str | None,
    config_path: str | None,
    overrides: tuple[str, ...],
    json_path: Path | None,
    debug: bool,
) -> None:
    """Score tracking on DAVIS-layout sequences under ROOT (J, F, J&F, frames/s)."""
    setup_logging(False, debug)

    def job() -> None:
        from streamseg.config import load_config, set_value
        from streamseg.eval.davis import evaluate as run_eval

        config = load_config(config_path, overrides)
        set_value(config, "model.name", model)
        if checkpoint:
            set_value(config, "model.checkpoint", checkpoint)
        names = [s.strip() for s in sequences.split(",") if s.strip()] if sequences else None
        rows = run_eval(root, names, init=init, config=config)
        click.echo(f"{'sequence':<20}{'frames':>7}{'J':>8}{'F':>8}{'J&F':>8}{'fps':>8}")
        for r in rows:
            click.echo(
                f"{r['sequence']:<20}{r['frames']:>7}{r['J']:>8.3f}{r['F']:>8.3f}"
                f"{r['JF']:>8.3f}{r['fps']:>8.1f}"
            )
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("J", "F", "JF")}
        frames = sum(r["frames"] for r in rows)
        seconds = sum(r["frames"] / r["fps"] for r in rows)
        click.echo(
            f"{'mean':<20}{frames:>7}{mean['J']:>8.3f}{mean['F']:>8.3f}"
            f"{mean['JF']:>8.3f}{frames / seconds:>8.1f}"
        )
        if json_path:
            summary = {**mean, "frames": frames, "fps": frames / seconds}
            json_path.write_text(
                json.dumps(
                    {"init": init, "model": model, "mean": summary, "sequences": rows}, indent=2
                )
            )

    guarded(job, debug)


@click.command()
@click.argument("source")
@click.option("--model", default="sam-vit-b", metavar="NAME", help="Engine.")
@click.option(
    "--checkpoint",
    type=click.Path(),
    default=None,
    help="A local SAM checkpoint (.pth), or a video model's folder (save_pretrained) "
    "[default: the cached official weights].",
)
@click.option(
    "--random-weights",
    is_flag=True,
    help="The named architecture, random weights (sam-vit-b|l|h, sam2.1-hiera-tiny, edgetam).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=0),
    default=0,
    help="Frames per encoder call (0: the device's default).",
)
@click.option("--max-frames", type=int, default=20, help="Frames to run.")
@click.option("--device", default="auto")
@click.option("--dtype", default="auto")
@click.option(
    "--prompt",
    "prompt_texts",
    multiple=True,
    help="As for run [default: a click at the frame's centre].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def bench(
    source: str,
    model: str,
    checkpoint: str | None,
    random_weights: bool,
    batch_size: int,
    max_frames: int,
    device: str,
    dtype: str,
    prompt_texts: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Time each stage on SOURCE: decode, preprocess, encode, decode-masks, tracking, rendering,
    writing; end-to-end frames/s, GPU memory and host peak RSS."""
    setup_logging(quiet, False)

    def job() -> None:
        from streamseg.bench import run_bench

        result = run_bench(
            source,
            model=model,
            checkpoint=checkpoint,
            random_weights=random_weights,
            batch_size=batch_size,
            max_frames=max_frames,
            device=device,
            dtype=dtype,
            prompts=prompt_texts,
            progress=not quiet,
        )
        click.echo(json.dumps(result.as_dict(), indent=2) if as_json else result.table())

    guarded(job, False)
