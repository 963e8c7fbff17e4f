"""``streamseg run``: segment one source into a folder of results."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from streamseg.choices import MODELS
from streamseg.cli.common import STORAGE_OPTION, guarded, key_values, parse_ids, setup_logging
from streamseg.errors import UsageError

log = logging.getLogger("streamseg")


def default_out(source: str) -> Path:
    """``./<stem>.streamseg`` in the current folder, whatever the source (the input's own
    folder may be read-only, and is never written unless --out says so): a file or folder
    by its name, an image pattern by its folder, a URL by its last path part, a device by
    its name, stdin as ``stdin``."""
    if source == "-":
        return Path("stdin.streamseg")
    if "://" in source:
        stem = source.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "stream"
        return Path(f"{Path(stem).stem or 'stream'}.streamseg")
    path = Path(source)
    if "%" in path.name:  # an image pattern: name it after its folder
        path = path.parent
    return Path(f"{path.stem or path.resolve().name}.streamseg")


@click.command()
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
    default=None,
    metavar="FOLDER|URL",
    help="Output folder or fsspec URL (s3://bucket/x, gs://, az://) "
    "[default: ./<input stem>.streamseg in the current folder].",
)
@STORAGE_OPTION
@click.option("--overwrite", is_flag=True, help="Replace an existing result in --out.")
@click.option(
    "--model",
    default=None,
    metavar="NAME",
    help=f"Segmentation engine: {', '.join(MODELS)} [default: auto].",
)
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N [default: auto].")
@click.option(
    "--checkpoint",
    type=click.Path(),
    default=None,
    help="A local SAM checkpoint (.pth), or a video model's folder (save_pretrained); the "
    "model is read from it [default: none].",
)
@click.option(
    "--dtype",
    default=None,
    metavar="auto|float32|bfloat16|float16",
    help="SAM dtype [default: auto].",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=0),
    default=None,
    help="Frames per SAM encoder call [default: 0: 8 on CUDA, 1 on CPU].",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="A YAML config (see configs/) [default: configs/default.yaml's values].",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one config value. Repeatable.",
)
@click.option(
    "--start", type=float, default=None, help="Seconds to skip at the start [default: 0]."
)
@click.option(
    "--max-frames", type=int, default=None, help="Stop after this many frames [default: all]."
)
@click.option(
    "--fps", type=float, default=None, help="Frame rate of an image folder/pattern [default: 24]."
)
@click.option(
    "--format",
    "fmt",
    default=None,
    help="Force FFmpeg's input format (e.g. mpegts) [default: probed].",
)
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
    "--wait/--no-wait",
    default=None,
    help="With --preview on a file and no prompt: hold the first frame until an object "
    "is clicked [default: wait].",
)
@click.option(
    "--video-out",
    default=None,
    metavar="PATH|-",
    help="Write the overlay video here instead of OUT/overlay.mp4; - streams MPEG-TS to stdout "
    "[default: OUT/overlay.mp4].",
)
@click.option(
    "--preview",
    default=None,
    metavar="[HOST:]PORT",
    help="Serve a live preview page (127.0.0.1 unless HOST is given); click it to segment "
    "[default: no preview].",
)
@click.option(
    "--rotate",
    default=None,
    metavar="auto|0|90|180|270",
    help="Turn frames clockwise; auto: upright Aria frames, phone display rotation "
    "[default: auto].",
)
@click.option("--stream", default=None, help="Aria VRS camera label or id [default: camera-rgb].")
@click.option("--undistort", is_flag=True, help="Aria fisheye frames to a pinhole camera.")
@click.option(
    "--gaze",
    "gaze_path",
    default=None,
    metavar="PATH|device",
    help="Aria eye gaze: MPS general/personalized_eye_gaze.csv, or a Gen2 recording's own "
    "[default: none].",
)
@click.option(
    "--gaze-mode",
    default=None,
    metavar="off|first|fixation",
    help="first: segment what is looked at (= --prompt gaze); fixation: each new fixation "
    "[default: off].",
)
@click.option(
    "--inpaint",
    type=click.Choice(["remove", "replace"]),
    default=None,
    help="Re-render the masked objects into OUT/rendered.mp4: remove them, or replace them "
    "[default: off].",
)
@click.option(
    "--inpaint-prompt",
    default=None,
    help='What to paint with replace ("a red vase") [default: none].',
)
@click.option(
    "--inpaint-objects", default=None, metavar="ID,ID", help="Which objects [default: all]."
)
@click.option(
    "--inpaint-backend",
    default=None,
    metavar="auto|diffusion|opencv",
    help="diffusion (Stable Diffusion inpainting) or opencv (weight-free remover) [default: auto].",
)
@click.option(
    "--inpaint-model",
    default=None,
    metavar="ID|PATH",
    help="Diffusers inpainting model [default: stable-diffusion-v1-5/stable-diffusion-inpainting].",
)
@click.option(
    "--inpaint-every", default=None, type=int, help="Re-run the model every K frames [default: 8]."
)
@click.option("--quiet", "-q", is_flag=True, help="Errors only: no progress bar, info or warnings.")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
def run(
    source: str,
    prompt_texts: tuple[str, ...],
    boxes: tuple[str, ...],
    mask_path: str | None,
    prompts_file: str | None,
    out: str | None,
    storage_options: tuple[str, ...],
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
    wait: bool | None,
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
    setup_logging(quiet, debug)
    from streamseg.session import StopFlag

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
            "output.wait": wait,
            "output.video_out": video_out,
            "output.preview": preview,
            "source.rotate": rotate,
            "source.stream": stream,
            "source.undistort": undistort or None,
            "gaze.path": gaze_path,
            "gaze.mode": gaze_mode,
            "inpaint.mode": inpaint,
            "inpaint.prompt": inpaint_prompt,
            "inpaint.objects": parse_ids(inpaint_objects, "--inpaint-objects"),
            "inpaint.backend": inpaint_backend,
            "inpaint.model": inpaint_model,
            "inpaint.every": inpaint_every,
        }
        for key, value in flags.items():
            if value is not None:
                set_value(config, key, value)
        config.source.options.update(key_values(input_options, "--input-option"))
        texts = tuple(t for t in prompt_texts if t.strip() != "gaze")
        if len(texts) < len(prompt_texts) and config.gaze.mode == "off":
            config.gaze.mode = "first"  # --prompt gaze: what the wearer looks at
        prompts = _gather_prompts(texts, boxes, mask_path, prompts_file)
        if not prompts and not preview and config.gaze.mode == "off":
            raise UsageError(
                "no prompt given; add --prompt X,Y (a point on the object), --box, --mask, "
                "--prompts, or --preview PORT to click objects in the browser"
            )
        from streamseg.storage import is_url, location, parse_storage_options

        target = location(
            out if out and is_url(out) else Path(out or default_out(source)),
            parse_storage_options(storage_options),
        )
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
                100 * (stats["drop_rate"] or 0),
            )

    guarded(job, debug, stop)


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
