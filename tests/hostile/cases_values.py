"""Hostile values: flags, --set, config and prompts files, masks, broken stores and videos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from harness import COMMON, Bad, case, clean_exit, cli, clip, error_line, expect_frames, store


def run_args(work: Path, *extra: object) -> list[object]:
    return ["run", clip(work), *COMMON, "-q", "--out", work / "o", *extra]


def refused(work: Path, code: int, *extra: object, text: str = "") -> None:
    r = cli(*run_args(work, *extra), timeout=30)
    error_line(r, code, *([text] if text else []))
    if (work / "o" / "masks.zarr").exists():
        raise Bad("wrong", "a refused run started writing outputs")


@case
def set_unclosed_list(work: Path) -> None:
    refused(work, 2, "--prompt", "5,5", "--set", "output.crf=[1,", text="output.crf")


@case
def start_nan(work: Path) -> None:
    refused(work, 2, "--prompt", "5,5", "--start", "nan", text="--start")


@case
def start_inf(work: Path) -> None:
    refused(work, 2, "--prompt", "5,5", "--start", "inf", text="--start")


def image_folder(work: Path) -> Path:
    from PIL import Image

    folder = work / "frames"
    if not folder.exists():
        folder.mkdir()
        for i in range(3):
            Image.fromarray(np.full((24, 32, 3), 40 * i, np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def fps_refused(work: Path, value: str) -> None:
    r = cli("run", image_folder(work), *COMMON, "-q", "--out", work / "o", "--prompt", "5,5",
            "--fps", value, timeout=30)  # fmt: skip
    error_line(r, 2, "--fps")


@case
def fps_nan(work: Path) -> None:
    fps_refused(work, "nan")


@case
def fps_inf(work: Path) -> None:
    fps_refused(work, "inf")


@case
def fps_tiny(work: Path) -> None:
    fps_refused(work, "1e-9")


@case
def config_binary(work: Path) -> None:
    (work / "c.yaml").write_bytes(bytes(range(256)) * 8)
    refused(work, 2, "--prompt", "5,5", "--config", work / "c.yaml", text="c.yaml")


@case
def crf_negative(work: Path) -> None:
    refused(work, 2, "--prompt", "5,5", "--set", "output.crf=-5", text="crf")


@case
def preset_unknown(work: Path) -> None:
    refused(work, 2, "--prompt", "5,5", "--set", "output.preset=nope", text="preset")


@case
def queue_size_zero(work: Path) -> None:
    refused(work, 2, "--prompt", "5,5", "--set", "source.queue_size=0", text="queue_size")


@case
def source_fps_nan(work: Path) -> None:
    refused(work, 2, "--prompt", "5,5", "--set", "source.fps=.nan", text="fps")


@case
def prompt_double_sign(work: Path) -> None:
    refused(work, 2, "--prompt", "+-100,100", text="--prompt")


def prompts_file(work: Path, text: str | bytes, suffix: str = ".json") -> Path:
    path = work / f"p{suffix}"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def prompts_refused(work: Path, text: str | bytes, suffix: str = ".json", hint: str = "") -> None:
    refused(work, 2, "--prompts", prompts_file(work, text, suffix), text=hint)


@case
def object_id_zero(work: Path) -> None:
    prompts_refused(work, json.dumps([{"object": 0, "points": [[5, 5]]}]), hint="object")


@case
def object_id_negative(work: Path) -> None:
    prompts_refused(work, json.dumps([{"object": -3, "points": [[5, 5]]}]), hint="object")


@case
def object_id_huge(work: Path) -> None:
    prompts_refused(work, '[{"object": 1e30, "points": [[5, 5]]}]', hint="object")


@case
def prompt_mask_number(work: Path) -> None:
    prompts_refused(work, json.dumps([{"object": 1, "mask": 5}]), hint="mask")


@case
def prompts_nested_deep(work: Path) -> None:
    prompts_refused(work, "[" * 200_000 + "]" * 200_000, hint="deep")


@case
def prompts_yaml_alias_bomb(work: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, prev in zip("bcdefghij", "abcdefghi"):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    lines.append("prompts: [{object: 1, points: [[5, 5]], name: *j}]")
    prompts_refused(work, "\n".join(lines), ".yaml", hint="alias")


@case
def prompts_yaml_python_tag(work: Path) -> None:
    prompts_refused(work, "!!python/object/apply:os.system ['touch pwned']", ".yaml")
    if (Path.cwd() / "pwned").exists():
        raise Bad("wrong", "a YAML tag ran a command")


@case
def prompts_huge_file(work: Path) -> None:
    entry = json.dumps({"object": 1, "frame": 0, "points": [[5, 5]] * 50})
    body = "[" + ",".join([entry] * 120_000) + "]"  # ~60 MB of valid prompts
    r = cli(*run_args(work, "--prompts", prompts_file(work, body)), timeout=30)
    error_line(r, 2, "MB")


@case
def prompt_far_frame(work: Path) -> None:
    entries = [
        {"object": 1, "points": [[50, 60]]},
        {"object": 2, "frame": 100_000_000, "points": [[5, 5]]},
    ]
    path = prompts_file(work, json.dumps(entries))
    args = [a for a in run_args(work, "--prompts", path) if a != "-q"]  # a warning: not with -q
    r = cli(*args, timeout=60)
    clean_exit(r)
    if "100000000" not in r.stderr:
        raise Bad("wrong", f"no warning about the prompt at frame 100000000: {r.stderr[-200:]}")
    expect_frames(work / "o", 24)


@case
def label_png_16bit(work: Path) -> None:
    from PIL import Image

    small = clip(work, "small.mp4", n=3, width=64, height=48)
    labels = np.zeros((48, 64), np.uint16)
    for i in range(300):  # ids 1..300, one 2x2 block each... 300 blocks of 1 pixel
        labels[i // 32 * 4 + 4, i % 32 * 2] = i + 1
    Image.fromarray(labels).save(work / "labels.png")
    r = cli("run", small, *COMMON, "-q", "--out", work / "o", "--mask", work / "labels.png",
            "--set", "output.overlay=false", "--max-frames", "1", timeout=120)  # fmt: skip
    if r.returncode == 0:
        ids = [o["id"] for o in store(work / "o").attrs["objects"]]
        if ids != list(range(1, 301)):
            raise Bad("lost", f"{len(ids)} objects, ids up to {max(ids)}: ids were merged")
        return
    error_line(r, 2, "objects")  # refusing clearly is fine too


@case
def overwrite_symlinked_store(work: Path) -> None:
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    (work / "o").mkdir()
    (work / "o" / "masks.zarr").symlink_to(elsewhere)
    r = cli(*run_args(work, "--prompt", "50,60", "--overwrite"), timeout=60)
    clean_exit(r)
    if not (elsewhere / "keep.txt").exists():
        raise Bad("wrong", "--overwrite deleted what a symlink pointed to")
    expect_frames(work / "o", 24)


def corrupt_store(work: Path) -> Path:
    r = cli(*run_args(work, "--prompt", "22,60", "--set", "output.overlay=false"), timeout=60)
    clean_exit(r)
    chunk = next(
        p
        for p in (work / "o" / "masks.zarr" / "masks").rglob("*")
        if p.is_file() and p.name != "zarr.json"
    )  # fmt: skip  (the disc's masks: not all fill)
    chunk.write_bytes(b"\x00garbage" * 7)
    return work / "o"


@case
def info_corrupt_chunk(work: Path) -> None:
    out = corrupt_store(work)
    r = cli("info", out, timeout=30)
    error_line(r, 4, "chunk")


@case
def export_corrupt_chunk(work: Path) -> None:
    out = corrupt_store(work)
    r = cli("export", out, "--dest", work / "png", timeout=30)
    error_line(r, 4, "chunk")


@case
def video_out_dev_full(work: Path) -> None:
    refused(work, 4, "--prompt", "50,60", "--video-out", "/dev/full", "--overwrite",
            text="/dev/full")  # fmt: skip


@case
def video_out_no_extension(work: Path) -> None:
    refused(work, 4, "--prompt", "50,60", "--video-out", work / "overlay", text="overlay")


@case
def very_wide_video(work: Path) -> None:
    from streamseg.testing.clips import disc_clip, encode

    frames, _ = disc_clip(4, width=8000, height=16, radius=6)
    path = encode(work / "wide.mp4", frames)
    r = cli("run", path, *COMMON, "-q", "--out", work / "o", "--prompt", "10,8", timeout=120)
    if r.returncode == 0:
        expect_frames(work / "o", 4)
        return
    error_line(r, 3)
