"""Every list of choices a setting or flag can take, in one place.

Config sections check their values against these, the command line shows them in
its help, and the stages that act on them import them from here.
"""

from __future__ import annotations

SAM_MODELS = ("sam-vit-b", "sam-vit-l", "sam-vit-h")
VIDEO_MODELS = (  # the memory-attention video models (engines/hub.py has their Hub ids)
    "sam2.1-hiera-tiny",
    "sam2.1-hiera-small",
    "sam2.1-hiera-base-plus",
    "sam2.1-hiera-large",
    "edgetam",
    "sam3-tracker",
)
MODELS = ("auto", "classic", *SAM_MODELS, *VIDEO_MODELS)  # --model
DEVICES = ("auto", "cpu", "cuda", "cuda:N")  # --device (N: a GPU index)
DTYPES = ("auto", "float32", "bfloat16", "float16")  # --dtype, inpaint.dtype
SAM_MASK_PROMPTS = ("logits", "prior", "none")  # sam.mask_prompt
ROTATIONS = ("auto", "0", "90", "180", "270")  # --rotate
GAZE_MODES = ("off", "first", "fixation")  # --gaze-mode
GAZE_PROMPT_MODES = ("first", "fixation", "every")  # GazePrompter (every: Python API only)
INPAINT_MODES = ("off", "remove", "replace")  # --inpaint
INPAINT_BACKENDS = ("auto", "diffusion", "opencv")  # --inpaint-backend
INPAINT_METHODS = ("telea", "ns")  # inpaint.method (cv2.inpaint)
VIDEO_BINARIZE = ("object", "frame")  # video.memory_binarize
FLOW_PRESETS = ("ultrafast", "fast", "medium")  # tracker.flow_preset, inpaint flow (DIS presets)
EVAL_INITS = ("mask", "click")  # streamseg eval --init
EXPORT_FORMATS = ("png", "coco")  # streamseg export --format
