"""Which device a model runs on: "auto", "cpu", "cuda", "cuda:N" into a torch.device.

One rule for every model (SAM, the video models, the diffusion inpainter): auto is
CUDA when there is one, else the CPU; a device that is not there is a one-line
EngineError naming the fix. torch is imported only when this is called.
"""

from __future__ import annotations

from typing import Any

from streamseg.errors import EngineError


def resolve_device(name: str) -> Any:
    """A torch.device for "auto", "cpu", "cuda", "cuda:N" (or any torch device name)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise EngineError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise EngineError(f"--device {name}: CUDA is not available here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise EngineError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here"
            )
    elif device.type != "cpu":
        # mps, xpu...: torch.mps.is_available() and the like; meta and others have none
        backend = getattr(torch, device.type, None)
        available = getattr(backend, "is_available", None)
        if not (callable(available) and available()):
            raise EngineError(
                f"--device {name}: this PyTorch cannot run on {device.type} here; "
                "use --device cpu or cuda"
            )
    return device
