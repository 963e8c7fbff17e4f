"""Make a long clip from a folder of frames by playing it forwards and backwards.

Used to check that memory stays flat with video length: the same content at
300 and 3000 frames should give the same peak RSS.

    python scripts/loop_clip.py ../shared/data/davis2016-train/JPEGImages/480p/bear 3000 long.mp4
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import av
import cv2

log = logging.getLogger("loop_clip")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frames", type=Path, help="folder of .jpg/.png frames")
    parser.add_argument("count", type=int, help="frames to write")
    parser.add_argument("out", type=Path, help="output .mp4")
    parser.add_argument("--fps", type=int, default=24)
    args = parser.parse_args()
    paths = sorted(p for p in args.frames.iterdir() if p.suffix in (".jpg", ".png"))
    order = list(range(len(paths))) + list(range(len(paths) - 2, 0, -1))  # ping-pong
    first = cv2.imread(str(paths[0]))
    with av.open(str(args.out), "w") as container:
        stream = container.add_stream("libx264", rate=args.fps)
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for i in range(args.count):
            image = cv2.cvtColor(cv2.imread(str(paths[order[i % len(order)]])), cv2.COLOR_BGR2RGB)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("wrote %d frames to %s", args.count, args.out)


if __name__ == "__main__":
    main()
