"""Where the SAM engine runs: device and dtype choice, pinned uploads, and the
per-frame embedding handle that carries a CUDA event.

On CUDA the engine encodes on a side stream; a SamEmbedding holds the features
tensor and the event recorded after the encoder, and makes the consuming stream wait
on that event (a device-side wait, no host sync) before the tensor is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from streamseg.choices import DTYPES
from streamseg.devices import resolve_device
from streamseg.engines import sam_prompts as sp
from streamseg.errors import EngineError

__all__ = ["resolve_device"]  # kept here too: the SAM modules import it from this module


# --dtype values: autocast dtypes for the SAM engine ("auto": see resolve_dtype).


def resolve_dtype(name: str, device: Any) -> Any:
    """The autocast dtype for ``name`` on ``device``; None means plain float32.

    auto: bfloat16 on CUDA GPUs with bf16 hardware (compute capability 8.0 and up:
    A100, H100, RTX 30xx...), float16 on older ones (V100, T4: there torch would
    emulate bf16, slowly), float32 elsewhere.
    """
    import torch

    if name == "auto":
        if device.type != "cuda":
            return None
        major, _ = torch.cuda.get_device_capability(device)
        return torch.bfloat16 if major >= 8 else torch.float16
    table = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in table:
        raise EngineError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    return table[name]


class SamEmbedding:
    """One frame's SAM image embedding, on the device.

    features(): (1, C, 64, 64) float32 tensor (C = 256 for the official models; SAM's
    neck ends in a float32 LayerNorm2d, so even under bf16 autocast it is float32
    holding bf16-rounded values). original_size: (H, W) of the frame; input_size:
    (h, w) of the resized frame inside SAM's padded 1024 x 1024 input. On CUDA the
    tensor is produced on the engine's side stream: ``features()`` makes the current
    stream wait for it (no host sync) before handing it out.
    """

    def __init__(self, features: Any, original_size: tuple[int, int], event: Any = None) -> None:
        self._features = features
        self.original_size = original_size
        self.input_size = sp.input_size(*original_size)
        self._event = event

    def features(self) -> Any:
        if self._event is not None:
            import torch

            stream = torch.cuda.current_stream(self._features.device)
            stream.wait_event(self._event)
            # Made on another stream: keep its memory from reuse until this stream is done.
            self._features.record_stream(stream)
            self._event = None
        return self._features


class PinnedPool:
    """Reusable pinned host buffers, one per (batch, H, W, 3) shape, each guarded by
    the CUDA event of the copy that last read it, so it is never overwritten
    mid-copy. Frame sizes rarely change in a video, but a folder of images of many
    sizes would hold a buffer per size, so only the ``keep`` most recently used stay
    in the pool (PyTorch's pinned-memory cache may keep a dropped buffer's memory for
    reuse; ``torch.cuda.empty_cache`` does not release it, the process's end does).
    """

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._buffers: dict[tuple[int, ...], tuple[Any, Any]] = {}

    def upload(self, images: Sequence[np.ndarray], device: Any) -> Any:
        import torch

        shape = (len(images), *images[0].shape)
        entry = self._buffers.pop(shape, None)
        if entry is None:
            while len(self._buffers) >= self.keep:
                oldest = next(iter(self._buffers))
                self._buffers.pop(oldest)[1].synchronize()  # its last copy is done
            entry = (self._allocate(shape), torch.cuda.Event())
        self._buffers[shape] = entry  # most recently used last
        buf, event = entry
        event.synchronize()
        host = buf.numpy()
        for i, image in enumerate(images):
            host[i] = image
        out = buf.to(device, non_blocking=True)
        event.record(torch.cuda.current_stream(device))  # the stream that copies
        return out

    @staticmethod
    def _allocate(shape: tuple[int, ...]) -> Any:
        import torch

        return torch.empty(shape, dtype=torch.uint8, pin_memory=True)
