"""The diffusers backend: a Stable Diffusion inpainting pipeline as a crop model.

Installed with ``pip install "streamseg[diffusion]"`` (diffusers, transformers,
accelerate). ``load_diffusion`` finds the weights without ever hanging on the network:
a local folder is loaded as is; a Hugging Face id is looked up in the local cache
first (``local_files_only``), and only fetched when downloading is allowed, the hub
is not switched off (``HF_HUB_OFFLINE``) and a short probe says it can be reached.
Otherwise it raises a one-line EngineError naming the model and the weight-free
alternative. torch and diffusers are imported here only, when a model is loaded.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from streamseg.choices import DTYPES
from streamseg.devices import resolve_device
from streamseg.errors import EngineError, UsageError
from streamseg.render.inpaint_config import InpaintConfig

log = logging.getLogger(__name__)

FALLBACK = "or use --inpaint-backend opencv (weight-free remover, needs no model)"


def resolve_dtype(name: str, device: str) -> Any:
    """The torch dtype: auto is float16 on CUDA and float32 on CPU (half is slow or
    unsupported there, so half on CPU is refused with a warning)."""
    import torch

    if name not in DTYPES:
        raise UsageError(f"inpaint dtype {name!r} is unknown; use one of {', '.join(DTYPES)}")
    if name == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    if device == "cpu" and name != "float32":
        log.warning("inpaint: %s on CPU is slow or unsupported; using float32", name)
        return torch.float32
    return getattr(torch, name)


def hub_offline() -> bool:
    """True when the user switched the Hugging Face hub off (HF_HUB_OFFLINE=1)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub opens within ``timeout`` seconds.

    Name resolution has no timeout of its own, so the probe runs in a daemon thread
    that is simply abandoned if it takes too long: a dead network costs ``timeout``
    seconds, never a hang.
    """
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    ok: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, name="hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(ok)


def _from_pretrained(source: str, dtype: Any, local_only: bool) -> Any:
    import diffusers
    from diffusers import AutoPipelineForInpainting
    from diffusers.utils import deprecation_utils

    # diffusers renamed torch_dtype to dtype (and warns on the old name); old releases
    # only know torch_dtype.
    key = "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"
    log.debug(
        "diffusers %s: loading %s (local_files_only=%s)", diffusers.__version__, source, local_only
    )
    # No safety checker: it is a second large download and blacks out whole crops.
    with warnings.catch_warnings():
        # diffusers passes an argument newer huggingface_hub releases deprecate; not ours.
        warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
        return AutoPipelineForInpainting.from_pretrained(
            source, local_files_only=local_only, safety_checker=None, **{key: dtype}
        )


def load_pipeline(model: str, device: str, dtype: Any, allow_download: bool = True) -> Any:
    """A diffusers inpainting pipeline on ``device`` in ``dtype``, from a folder or the hub.

    Raises EngineError (one line: the model, why, the fix) when it cannot be had.
    """
    path = Path(model).expanduser()
    folder = path.exists()
    if folder and not (path / "model_index.json").is_file():
        raise EngineError(
            f"inpaint model folder {path} has no model_index.json; give a diffusers "
            f"inpainting pipeline folder (save_pretrained), {FALLBACK}"
        )
    if not folder and (model.startswith((".", "/", "~")) or model.count("/") != 1):
        raise EngineError(
            f"inpaint model {model!r} is neither a folder nor a Hugging Face id "
            f"(org/name); {FALLBACK}"
        )
    source = str(path) if folder else model
    try:
        pipe = _from_pretrained(source, dtype, local_only=True)  # cache only: no network
    except (OSError, ValueError) as error:
        if folder:
            raise EngineError(
                f"cannot load inpaint model {path}: {_line(error)}; {FALLBACK}"
            ) from error
        if not allow_download or hub_offline() or not hub_reachable():
            why = "not in the Hugging Face cache"
            if not allow_download:
                why += " (backend auto never downloads)"
            elif hub_offline():
                why += " and HF_HUB_OFFLINE is set"
            else:
                why += " and the hub cannot be reached"
            raise EngineError(
                f"inpaint model {model!r} is {why}; download it where the hub can be reached "
                f"or give --inpaint-model PATH to a local copy, {FALLBACK}"
            ) from error
        log.info("inpaint: downloading %s from the Hugging Face hub (several GB, once)", model)
        try:
            pipe = _from_pretrained(source, dtype, local_only=False)
        except (OSError, ValueError) as again:
            raise EngineError(
                f"cannot download inpaint model {model!r}: {_line(again)}; {FALLBACK}"
            ) from again
    return pipe.to(device)


def _line(error: BaseException) -> str:
    """The first line of an error's message (library errors can run to paragraphs)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class DiffusionModel:
    """A loaded inpainting pipeline as a crop model (see ``inpaint.CropModel``).

    pipe: a diffusers inpainting pipeline (e.g. StableDiffusionInpaintPipeline);
    resolution: its native size (UNet sample size x VAE scale: 512 for SD 1.5).
    """

    multiple = 8

    def __init__(self, pipe: Any, config: InpaintConfig, device: str, source: str = "") -> None:
        self.pipe, self.config, self.device = pipe, config, device
        self.source = source or config.model
        unet = pipe.unet.config.sample_size
        self.resolution = int(unet * getattr(pipe, "vae_scale_factor", 8))
        # Diffusers' own tqdm bar is the CPU progress display (a keyframe takes minutes
        # there); on a GPU a bar per keyframe would only clutter the run's own bar.
        pipe.set_progress_bar_config(
            disable=device.startswith("cuda"), leave=False, desc="inpaint keyframe"
        )

    def inpaint(
        self, image: np.ndarray, mask: np.ndarray, seed: int, strength: float | None = None
    ) -> np.ndarray:
        """image (h, w, 3) uint8 RGB, mask (h, w) bool (True = re-render); h, w multiples of 8.

        strength: how far from ``image`` the result may go (None: the configured one).
        Returns (h, w, 3) uint8. The noise comes from a CPU generator seeded with
        ``seed``, so the same input gives the same output on any device.
        """
        import torch
        from PIL import Image

        h, w = image.shape[:2]
        if h % self.multiple or w % self.multiple:
            raise UsageError(f"inpaint crop {w}x{h}: both sides must be multiples of 8")
        prompt, negative = self.config.text
        generator = torch.Generator("cpu").manual_seed(int(seed))
        with torch.inference_mode():
            out = self.pipe(
                prompt=prompt,
                negative_prompt=negative,
                image=Image.fromarray(image),
                mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
                height=h,
                width=w,
                num_inference_steps=self.config.steps,
                guidance_scale=self.config.guidance,
                strength=self.config.strength if strength is None else strength,
                generator=generator,
                output_type="np",
            ).images[0]
        if not np.isfinite(out).all():  # fp16 overflow in the VAE shows up as NaN
            raise EngineError(
                "inpaint model produced NaN; try --set inpaint.dtype=bfloat16 or float32"
            )
        return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)

    def describe(self) -> dict[str, Any]:
        """What ran, for the output metadata."""
        return {
            "model": self.source,
            "pipeline": type(self.pipe).__name__,
            "scheduler": type(self.pipe.scheduler).__name__,
            "device": self.device,
            "dtype": str(self.pipe.unet.dtype).replace("torch.", ""),
            "resolution": self.resolution,
        }


def load_diffusion(
    config: InpaintConfig, device: str = "auto", allow_download: bool = True
) -> DiffusionModel:
    """The diffusion crop model for ``config`` (its model, dtype) on ``device``.

    Raises EngineError when the diffusion extra is not installed or the weights cannot
    be had; the message names the fix and the weight-free alternative.
    """
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as error:
        raise EngineError(
            f"the diffusion backend needs {error.name}: "
            f"pip install 'streamseg[diffusion]'; {FALLBACK}"
        ) from error
    dev = str(resolve_device(device))
    dtype = resolve_dtype(config.dtype, dev)
    pipe = load_pipeline(config.model, dev, dtype, allow_download)
    model = DiffusionModel(pipe, config, dev)
    if dev == "cpu":
        log.warning(
            "inpaint: diffusion on the CPU takes minutes per keyframe; "
            "--inpaint-backend opencv removes objects in milliseconds without a model"
        )
    log.info(
        "inpaint: %s on %s (%s), %d px crops",
        config.model,
        dev,
        model.describe()["dtype"],
        model.resolution,
    )
    return model
