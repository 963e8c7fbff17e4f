"""Benchmark `streamseg batch` against one `streamseg run` per clip, and S3 against a folder.

    PYTHONPATH=$PWD python scripts/bench_batch.py --clips 12 --frames 300 --json out.json

Makes N synthetic disc clips (854x480, classic engine), then times, each with
/usr/bin/time (wall seconds, peak RSS of the parent process):
  seq       N `streamseg run` calls one after another (a new process and engine each)
  batch1    `streamseg batch --workers 1` into a local folder (a local Ray instance)
  batch2    `streamseg batch --workers 2` into a local folder
  batch2-s3 `streamseg batch --workers 2` into s3:// on a moto server on 127.0.0.1
startup: a batch's fixed cost (Ray start-up, worker processes, engine loads), timed as the
same batch on one frame of one clip. Per-recording overhead = ((wall - startup) x workers -
sum of the recordings' own seconds) / N: what each recording costs beyond its own frames
(for seq: process start, imports, engine build; for batch: scheduling, opening, upload).
Timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from streamseg.cli import main; main()"]
WROTE = re.compile(r"wrote (\d+) frames to .* in ([\d.]+) s")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in KB per /usr/bin/time, stderr) of one command."""
    prefix = ["/usr/bin/time", "-f", "TIME %e %M"] if Path("/usr/bin/time").exists() else []
    started = time.monotonic()
    proc = subprocess.run([*prefix, *cmd], env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    rss = 0
    for line in proc.stderr.splitlines():
        if line.startswith("TIME "):
            wall, rss = float(line.split()[1]), int(line.split()[2])
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, rss, proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--only", default="seq,batch1,batch2,batch2-s3")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--local-ray", action="store_true", help="Each batch starts its own Ray.")
    args = parser.parse_args()
    from streamseg.testing.clips import disc_video

    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    clips = work / "clips"
    clips.mkdir()
    for k in range(args.clips):
        disc_video(clips / f"clip{k:02d}.mp4", n=args.frames, width=args.width, height=args.height)
    radius = max(6, min(args.width, args.height) // 6)
    prompt = f"{radius + 2},{args.height // 2}"
    # The moto server's keys, in the environment before the Ray head starts: its workers
    # find them through the standard AWS chain, as on a real cluster.
    keys = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    os.environ.update({**keys, "AWS_DEFAULT_REGION": "us-east-1"})
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0"}
    # One Ray head (2 CPUs, like the tests) for every batch, started here: Ray's own start-up
    # is then timed once (ray_start_s), not inside each batch; --local-ray times the default.
    head, address = (None, None) if args.local_ray else start_head(env)
    results: dict[str, dict] = {}
    try:
        wanted = args.only.split(",")

        if "seq" in wanted:
            walls, own, rss = 0.0, 0.0, 0
            for clip in sorted(clips.iterdir()):
                cmd = [*CLI, "run", str(clip), "--model", "classic", "--prompt", prompt]
                cmd += ["--out", str(work / "seq" / clip.stem)]
                wall, peak, err = timed(cmd, env)
                walls, rss = walls + wall, max(rss, peak)
                own += sum(float(m.group(2)) for m in WROTE.finditer(err))
            results["seq"] = _figures(walls, own, 1, args, rss)
            print("seq", json.dumps(results["seq"]), file=sys.stderr, flush=True)  # noqa: T201

        def batch(name: str, workers: int, out: str, extra: list[str]) -> None:
            cmd = [*CLI, "batch", str(clips), "--model", "classic", "--prompt", prompt, "-q"]
            cmd += ["--workers", str(workers), "--out", out, *extra]
            if address:
                cmd += ["--address", address]
            # The fixed start-up (Ray, workers, engines): the same batch on one frame of one clip.
            one = [*CLI, "batch", str(clips / "clip00.mp4"), "--model", "classic", "--prompt"]
            one += [prompt, "-q", "--workers", str(workers), "--max-frames", "1"]
            one += ["--address", address] if address else []
            startup, _, _ = timed([*one, "--out", f"{out}-startup", *extra], run_env)
            wall, peak, _ = timed(cmd, run_env)
            rows = [json.loads(line) for line in _read_table(out, extra).splitlines()]
            own = sum(r["seconds"] for r in rows if r["status"] == "done")
            results[name] = _figures(wall, own, workers, args, peak, startup)
            print(name, json.dumps(results[name]), file=sys.stderr, flush=True)  # noqa: T201

        run_env = env
        if "batch1" in wanted:
            batch("batch1", 1, str(work / "batch1"), [])
        if "batch2" in wanted:
            batch("batch2", 2, str(work / "batch2"), [])
        if "batch2-s3" in wanted:
            from moto.server import ThreadedMotoServer

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            import boto3

            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
            try:
                batch(
                    "batch2-s3",
                    2,
                    "s3://bench/run",
                    ["--storage-option", f"endpoint_url={endpoint}"],
                )
            finally:
                server.stop()

    finally:
        if head is not None:
            from streamseg.testing.ray_head import stop_head

            stop_head(head)
        shutil.rmtree(work, ignore_errors=True)
    if head_seconds:
        results["ray_start_s"] = head_seconds[0]  # type: ignore[assignment]
    text = json.dumps({"clips": args.clips, "frames": args.frames, "results": results}, indent=2)
    print(text)  # noqa: T201 - the script's output
    if args.json:
        args.json.write_text(text)


head_seconds: list[float] = []


def start_head(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """The tests' Ray head (streamseg/testing/ray_head.py: 127.0.0.1, 2 CPUs); env gets
    its settings."""
    from streamseg.testing.ray_head import LOOPBACK_ENV
    from streamseg.testing.ray_head import start_head as start

    env.update(LOOPBACK_ENV)
    started = time.monotonic()
    head, address = start(env, open(os.devnull, "w"))  # noqa: SIM115 - lives with the head
    head_seconds.append(round(time.monotonic() - started, 2))
    return head, address


def _read_table(out: str, extra: list[str]) -> str:
    from streamseg.storage import Location, parse_storage_options

    options = parse_storage_options([e for e in extra if "=" in e])
    text = Location(out, options).child("batch.jsonl").read_text()
    if text is None:
        raise SystemExit(f"no batch.jsonl under {out}")
    return text


def _figures(
    wall: float,
    own: float,
    workers: int,
    args: argparse.Namespace,
    rss: int,
    startup: float = 0.0,
) -> dict:
    """startup: the batch's fixed start-up wall (0 for seq, whose start-up is per recording)."""
    frames = args.clips * args.frames
    return {
        "wall_s": round(wall, 2),
        "frames_per_s": round(frames / wall, 2),
        "startup_s": round(startup, 2),
        "recordings_own_s": round(own, 2),
        "overhead_per_recording_s": round(((wall - startup) * workers - own) / args.clips, 2),
        "peak_rss_kb_parent": rss,
    }


if __name__ == "__main__":
    main()
