"""The ``streamseg`` command: run, info, export.

Heavy modules are imported inside the commands so ``streamseg --help`` is instant.
Errors streamseg raises on purpose become one line on stderr and a non-zero exit
code (``--debug`` shows the traceback); Ctrl-C and SIGTERM finalize the outputs
and exit with 130.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click

from streamseg import __version__
from streamseg.errors import StreamsegError, UsageError

log = logging.getLogger("streamseg")
MODEL_NAMES = ("auto", "classic", "sam-vit-b", "sam-vit-l", "sam-vit-h")


def _setup_logging(quiet: bool, debug: bool) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="streamseg: %(message)s", stream=sys.stderr)


def default_out(source: str) -> Path:
    """``<stem>.streamseg`` next to a file or folder; in the current folder for streams."""
    if source == "-":
        return Path("stdin.streamseg")
    if "://" in source:
        stem = source.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "stream"
        return Path(f"{Path(stem).stem or 'stream'}.streamseg")
    path = Path(source)
    if "%" in path.name:  # an image pattern: name it after its folder
        path = path.parent
    return path.with_name(f"{path.stem or path.resolve().name}.streamseg")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="streamseg")
def cli() -> None:
    """Segment objects in video streams and keep them segmented."""


@cli.command()
@click.argument("source")
@click.option(
    "--prompt",
    "prompt_texts",
    multiple=True,
    metavar="'X,Y [X,Y] [-X,Y] [X0,Y0,X1,Y1]'",
    help="A new object: positive points, negative points (leading -), an optional box. "
    "Repeat for more objects.",
)
@click.option(
    "--box",
    "boxes",
    multiple=True,
    metavar="X0,Y0,X1,Y1",
    help="A new object given by its box. Repeatable.",
)
@click.option(
    "--mask",
    "mask_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="A PNG on the first frame: each non-zero value is an object id.",
)
@click.option(
    "--prompts",
    "prompts_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A JSON/YAML file of prompts, possibly at later frames.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder [default: <input stem>.streamseg next to the input].",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing result in --out.")
@click.option(
    "--model",
    default=None,
    metavar="NAME",
    help=f"Segmentation engine: {', '.join(MODEL_NAMES)} [default: auto].",
)
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False),
    default=None,
    help="A local SAM checkpoint (.pth); its architecture is read from the file.",
)
@click.option("--dtype", default=None, metavar="auto|float32|bfloat16|float16", help="SAM dtype.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=0),
    default=None,
    help="Frames per SAM encoder call [0: 8 on CUDA, 1 on CPU].",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="A YAML config (see configs/).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one config value. Repeatable.",
)
@click.option("--start", type=float, default=None, help="Seconds to skip at the start.")
@click.option("--max-frames", type=int, default=None, help="Stop after this many frames.")
@click.option("--fps", type=float, default=None, help="Frame rate of an image folder/pattern.")
@click.option("--format", "fmt", default=None, help="Force FFmpeg's input format (e.g. mpegts).")
@click.option(
    "--input-option",
    "input_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="FFmpeg input option, e.g. video_size=640x480, framerate=30. Repeatable.",
)
@click.option(
    "--live/--no-live",
    default=None,
    help="Drop stale frames to keep latency bounded [default: on for devices, stdin, URLs].",
)
@click.option("--reconnect", is_flag=True, help="Reopen a network stream that drops.")
@click.option(
    "--video-out",
    default=None,
    metavar="PATH|-",
    help="Write the overlay video here instead of OUT/overlay.mp4; - streams MPEG-TS to stdout.",
)
@click.option(
    "--preview",
    default=None,
    metavar="[HOST:]PORT",
    help="Serve a live preview page (127.0.0.1 unless HOST is given); click it to segment.",
)
@click.option(
    "--rotate",
    default=None,
    metavar="auto|0|90|180|270",
    help="Turn frames clockwise; auto: upright Aria frames, phone display rotation [auto].",
)
@click.option("--stream", default=None, help="Aria VRS camera label or id [camera-rgb].")
@click.option("--undistort", is_flag=True, help="Aria fisheye frames to a pinhole camera.")
@click.option(
    "--gaze",
    "gaze_path",
    default=None,
    metavar="PATH|device",
    help="Aria eye gaze: MPS general/personalized_eye_gaze.csv, or a Gen2 recording's own.",
)
@click.option(
    "--gaze-mode",
    default=None,
    metavar="off|first|fixation",
    help="first: segment what is looked at (= --prompt gaze); fixation: each new fixation.",
)
@click.option(
    "--inpaint",
    type=click.Choice(["remove", "replace"]),
    default=None,
    help="Re-render the masked objects into OUT/rendered.mp4: remove them, or replace them.",
)
@click.option("--inpaint-prompt", default=None, help='What to paint with replace ("a red vase").')
@click.option("--inpaint-objects", default=None, metavar="ID,ID", help="Which objects [all].")
@click.option(
    "--inpaint-backend",
    default=None,
    metavar="auto|diffusion|opencv",
    help="diffusion (Stable Diffusion inpainting) or opencv (weight-free remover) [auto].",
)
@click.option(
    "--inpaint-model", default=None, metavar="ID|PATH", help="Diffusers inpainting model."
)
@click.option("--inpaint-every", default=None, type=int, help="Re-run the model every K frames.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info messages.")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
def run(
    source: str,
    prompt_texts: tuple[str, ...],
    boxes: tuple[str, ...],
    mask_path: str | None,
    prompts_file: str | None,
    out: Path | None,
    overwrite: bool,
    model: str | None,
    device: str | None,
    checkpoint: str | None,
    dtype: str | None,
    batch_size: int | None,
    config_path: str | None,
    overrides: tuple[str, ...],
    start: float | None,
    max_frames: int | None,
    fps: float | None,
    fmt: str | None,
    input_options: tuple[str, ...],
    live: bool | None,
    reconnect: bool,
    video_out: str | None,
    preview: str | None,
    rotate: str | None,
    stream: str | None,
    undistort: bool,
    gaze_path: str | None,
    gaze_mode: str | None,
    inpaint: str | None,
    inpaint_prompt: str | None,
    inpaint_objects: str | None,
    inpaint_backend: str | None,
    inpaint_model: str | None,
    inpaint_every: int | None,
    quiet: bool,
    debug: bool,
) -> None:
    """Segment SOURCE: a video file, image folder, pattern (frames/%05d.jpg), URL or - (stdin).

    Writes OUT/masks.zarr (Zarr v3 masks, scores, boxes, timestamps) and OUT/overlay.mp4.
    """
    _setup_logging(quiet, debug)
    from streamseg.pipeline import StopFlag

    stop = StopFlag()

    def job() -> None:
        from streamseg.config import load_config, set_value
        from streamseg.job import run as run_job

        config = load_config(config_path, overrides)
        flags = {
            "model.name": model,
            "model.device": device,
            "model.checkpoint": checkpoint,
            "model.dtype": dtype,
            "model.batch_size": batch_size,
            "source.start": start,
            "source.max_frames": max_frames,
            "source.fps": fps,
            "source.format": fmt,
            "source.live": live,
            "source.reconnect": reconnect or None,
            "output.video_out": video_out,
            "output.preview": preview,
            "source.rotate": rotate,
            "source.stream": stream,
            "source.undistort": undistort or None,
            "gaze.path": gaze_path,
            "gaze.mode": gaze_mode,
            "inpaint.mode": inpaint,
            "inpaint.prompt": inpaint_prompt,
            "inpaint.objects": _ids(inpaint_objects, "--inpaint-objects"),
            "inpaint.backend": inpaint_backend,
            "inpaint.model": inpaint_model,
            "inpaint.every": inpaint_every,
        }
        for key, value in flags.items():
            if value is not None:
                set_value(config, key, value)
        config.source.options.update(_key_values(input_options, "--input-option"))
        texts = tuple(t for t in prompt_texts if t.strip() != "gaze")
        if len(texts) < len(prompt_texts) and config.gaze.mode == "off":
            config.gaze.mode = "first"  # --prompt gaze: what the wearer looks at
        prompts = _gather_prompts(texts, boxes, mask_path, prompts_file)
        if not prompts and not preview and config.gaze.mode == "off":
            raise UsageError(
                "no prompt given; add --prompt X,Y (a point on the object), --box, --mask, "
                "--prompts, or --preview PORT to click objects in the browser"
            )
        target = out or default_out(source)
        summary = run_job(
            source, prompts, target, config, overwrite=overwrite, quiet=quiet, stop=stop
        )
        stats = summary.stats.as_dict()
        log.info(
            "wrote %d frames to %s in %.1f s (%.1f frames/s)",
            summary.frames,
            target,
            summary.seconds,
            summary.frames / max(summary.seconds, 1e-9),
        )
        if stats["dropped"] or config.source.live:
            log.info(
                "latency p50 %.0f ms, p95 %.0f ms; %d stale frames dropped (%.1f%%)",
                1000 * (stats["latency_p50"] or 0),
                1000 * (stats["latency_p95"] or 0),
                stats["dropped"],
                100 * stats["drop_rate"],
            )

    _guarded(job, debug, stop)


def _ids(text: str | None, flag: str) -> list[int] | None:
    """ "1,2" -> [1, 2]; a UsageError naming the flag for anything else."""
    if not text:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"malformed {flag} {text!r}: expected object ids like 1,2") from None


def _key_values(items: tuple[str, ...], flag: str) -> dict[str, str]:
    from streamseg.errors import UsageError

    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"malformed {flag} {item!r}: expected KEY=VALUE, e.g. framerate=30")
        pairs[key] = value
    return pairs


def _gather_prompts(
    texts: tuple[str, ...], boxes: tuple[str, ...], mask_path: str | None, prompts_file: str | None
) -> list[Any]:
    """All prompts; --prompt/--box objects are numbered after ids from --mask/--prompts."""
    from streamseg.prompts import load_prompts_file, masks_from_png, parse_box, parse_prompt

    prompts = []
    if mask_path:
        prompts += masks_from_png(mask_path)
    if prompts_file:
        prompts += load_prompts_file(prompts_file)
    next_id = max((p.object_id for p in prompts), default=0) + 1
    for i, text in enumerate(texts):
        prompts.append(parse_prompt(text, next_id + i))
    next_id += len(texts)
    for i, text in enumerate(boxes):
        prompts.append(parse_box(text, next_id + i))
    return prompts


def _guarded(job: Any, debug: bool, stop: Any = None) -> None:
    """Run ``job``: StreamsegError -> one line + its exit code; Ctrl-C/SIGTERM -> 130.

    With ``stop`` (a pipeline.StopFlag), a Ctrl-C or SIGTERM once frames flow only sets
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


@cli.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def info(out: Path, as_json: bool) -> None:
    """Summarize a result folder OUT: source, frames, objects, coverage, completeness."""
    _setup_logging(False, False)

    def job() -> None:
        from streamseg.io.store import summary

        s = summary(out)
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

    _guarded(job, False)


@cli.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png"]),
    default="png",
    help="png: DAVIS palette PNGs, one per frame (value = object id).",
)
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the files [default: OUT/png].",
)
def export(out: Path, fmt: str, dest: Path | None) -> None:
    """Export the masks of result folder OUT as image files."""
    _setup_logging(False, False)

    def job() -> None:
        from streamseg.io.store import export_png

        target = dest or out / fmt
        count = export_png(out, target)
        click.echo(f"wrote {count} PNG files to {target}")

    _guarded(job, False)


@cli.command(name="eval")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--init",
    type=click.Choice(["mask", "click"]),
    default="mask",
    help="mask: the frame-0 annotation is given; click: one click at its most interior point.",
)
@click.option("--model", default="classic", metavar="NAME", help="Engine [default: classic].")
@click.option("--sequences", default=None, help="Comma-separated sequence names [all].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE")
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
    sequences: str | None,
    config_path: str | None,
    overrides: tuple[str, ...],
    json_path: Path | None,
    debug: bool,
) -> None:
    """Score tracking on DAVIS-layout sequences under ROOT (J, F, J&F, frames/s)."""
    _setup_logging(False, debug)

    def job() -> None:
        from streamseg.config import load_config, set_value
        from streamseg.eval.davis import evaluate as run_eval

        config = load_config(config_path, overrides)
        set_value(config, "model.name", model)
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

    _guarded(job, debug)


@cli.group()
def weights() -> None:
    """Segment Anything checkpoints: list them, download them into the cache."""


@weights.command(name="list")
def weights_list() -> None:
    """The official checkpoints, their sizes, and whether each is in the cache."""
    _setup_logging(False, False)

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

    _guarded(job, False)


@weights.command(name="download")
@click.argument("name")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def weights_download(name: str, quiet: bool) -> None:
    """Download checkpoint NAME (sam-vit-b|l|h: resumable, checksum verified; or a video
    model, e.g. edgetam, sam2.1-hiera-tiny: into the Hugging Face Hub cache)."""
    _setup_logging(quiet, False)

    def job() -> None:
        from streamseg.engines.hub import VIDEO_MODELS, ensure_snapshot
        from streamseg.engines.weights import ensure_weights

        if name in VIDEO_MODELS:  # a video model: into the Hugging Face Hub cache
            click.echo(str(ensure_snapshot(name, progress=not quiet)))
            return
        click.echo(str(ensure_weights(name, progress=not quiet)))

    _guarded(job, False)


@cli.command()
@click.argument("source")
@click.option("--model", default="sam-vit-b", metavar="NAME", help="Engine [sam-vit-b].")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None)
@click.option("--random-weights", is_flag=True, help="The named architecture, random weights.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=0),
    default=0,
    help="Frames per encoder call [per device].",
)
@click.option("--max-frames", type=int, default=20, help="Frames to run [20].")
@click.option("--device", default="auto")
@click.option("--dtype", default="auto")
@click.option("--prompt", "prompt_texts", multiple=True, help="As for run [the frame's centre].")
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
    _setup_logging(quiet, False)

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

    _guarded(job, False)


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
