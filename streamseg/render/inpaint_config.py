"""Settings of the re-rendering stage (``--inpaint``)."""

from __future__ import annotations

from dataclasses import dataclass

from streamseg.choices import INPAINT_BACKENDS, INPAINT_METHODS, INPAINT_MODES
from streamseg.errors import UsageError

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-inpainting"
# An empty prompt makes SD inpainting invent objects; steer it to plain background.
REMOVE_PROMPT = "empty background, seamless continuation of the surrounding scene"
REMOVE_NEGATIVE = "object, person, animal, vehicle, text, watermark, frame, border"


@dataclass
class InpaintConfig:
    """How masked regions are re-rendered.

    mode: off (no rendered.mp4), remove (fill with background) or replace (paint
    ``prompt`` there).
    prompt / negative_prompt: text for the diffusion model (remove has defaults).
    objects: ids to re-render (None: every object). backend: auto (diffusion when
    its weights are at hand, else the weight-free remover), diffusion, opencv.
    model: Hugging Face id or local folder of a diffusers inpainting pipeline.
    steps, guidance, strength, seed: diffusion sampling (object k uses seed + k).
    every: re-run the model at least every K frames (1: every frame).
    warp_error: re-run when the carried result's error (grey levels) exceeds this.
    refresh: strength of those re-runs, which start from the carried result noised
    to this level so the new keyframe stays close to what was shown (1: from scratch).
    margin: crop context around the object's box, as a fraction of the box size.
    dilate, feather: pixels the mask grows by, and the width of the soft edge inside
    that growth. ring: past frames the remover searches for background.
    method: cv2.inpaint method for what no frame saw (telea or ns); radius: its radius.
    flow_scale: resolution of the optical flow, as a fraction of the frame's.
    device: auto, cpu, cuda, cuda:N. dtype: auto (fp16 on CUDA, fp32 on CPU),
    float32, float16, bfloat16.
    """

    mode: str = "off"
    prompt: str | None = None
    negative_prompt: str | None = None
    objects: list[int] | None = None
    backend: str = "auto"
    model: str = DEFAULT_MODEL
    steps: int = 25
    guidance: float = 7.5
    strength: float = 1.0
    seed: int = 0
    every: int = 12
    warp_error: float = 14.0
    refresh: float = 0.6
    margin: float = 0.3
    dilate: int = 8
    feather: int = 6
    ring: int = 3
    method: str = "telea"
    radius: int = 5
    flow_scale: float = 0.5
    device: str = "auto"
    dtype: str = "auto"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (UsageError naming the bad value); also after ``--set`` edits."""
        choices = {"mode": INPAINT_MODES, "backend": INPAINT_BACKENDS, "method": INPAINT_METHODS}
        for name, options in choices.items():
            if getattr(self, name) not in options:
                raise UsageError(
                    f"inpaint {name} {getattr(self, name)!r} is unknown; "
                    f"use one of {', '.join(options)}"
                )
        if self.mode == "replace" and not (self.prompt or "").strip():
            raise UsageError(
                'inpaint mode replace needs a prompt, e.g. --inpaint-prompt "a red vase"'
            )
        if self.mode == "replace" and self.backend == "opencv":
            raise UsageError(
                "the opencv backend can only remove; replace needs --inpaint-backend diffusion"
            )
        for names, low in (("steps every radius", 1), ("ring dilate feather margin", 0)):
            for name in names.split():
                if getattr(self, name) < low:
                    raise UsageError(f"inpaint {name} {getattr(self, name)} is below {low}")
        for name in ("strength", "refresh", "flow_scale", "warp_error"):
            high = float("inf") if name == "warp_error" else 1.0
            if not 0 < getattr(self, name) <= high:
                raise UsageError(f"inpaint {name} {getattr(self, name)} is out of (0, {high}]")

    @property
    def text(self) -> tuple[str, str | None]:
        """(prompt, negative prompt) actually sent to the model for this mode."""
        if self.mode == "remove":
            return self.prompt or REMOVE_PROMPT, self.negative_prompt or REMOVE_NEGATIVE
        return str(self.prompt), self.negative_prompt
