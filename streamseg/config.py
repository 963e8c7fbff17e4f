"""The configuration tree: one dataclass per stage, YAML files and ``--set`` overrides.

``load_config(path, overrides)`` starts from the defaults, applies a YAML file
(sections and keys as below) and then ``section.key=value`` overrides; an unknown
section or key, or a value of the wrong type, is a UsageError naming the valid
choices. ``as_dict`` gives the resolved tree that is saved with every output.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamseg.choices import DTYPES, MODELS
from streamseg.engines.classic_config import ClassicConfig
from streamseg.engines.sam_config import SamConfig
from streamseg.engines.video_config import VideoSettings
from streamseg.errors import EngineError, SourceNotFoundError, UsageError
from streamseg.gaze.config import GazeConfig
from streamseg.render.inpaint_config import InpaintConfig
from streamseg.sinks.output_config import OutputConfig
from streamseg.sinks.preview_config import PreviewConfig
from streamseg.sources.base import SourceConfig
from streamseg.track.tracker_config import TrackerConfig


@dataclass
class ModelConfig:
    """Which engine runs, and where.

    name: auto, classic, sam-vit-b, sam-vit-l or sam-vit-h. auto takes SAM when
    its weights are at hand, else classic. device: auto, cpu, cuda, cuda:N.
    checkpoint: a local SAM checkpoint file. batch_size: frames per encoder call
    (0: the engine's default for the device). dtype: auto, float32, bfloat16, float16.
    """

    name: str = "auto"
    device: str = "auto"
    checkpoint: str | None = None
    batch_size: int = 0
    dtype: str = "auto"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the values a typo can spoil (UsageError); also after ``--set`` edits."""
        if self.name not in MODELS:  # an engine error (exit 5), as when an engine fails to load
            raise EngineError(f"unknown model {self.name!r}; choose one of {', '.join(MODELS)}")
        if self.dtype not in DTYPES:
            raise UsageError(f"dtype {self.dtype!r} is unknown; use one of {', '.join(DTYPES)}")
        if self.batch_size < 0:
            raise UsageError(f"batch size {self.batch_size} is negative; give 1 or more (0: auto)")
        if self.name == "classic" and self.checkpoint:
            raise UsageError(
                "--checkpoint is for SAM or a video model; pass --model auto or a model name"
            )


@dataclass
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    classic: ClassicConfig = field(default_factory=ClassicConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    gaze: GazeConfig = field(default_factory=GazeConfig)
    inpaint: InpaintConfig = field(default_factory=InpaintConfig)
    sam: SamConfig = field(default_factory=SamConfig)
    video: VideoSettings = field(default_factory=VideoSettings)
    preview: PreviewConfig = field(default_factory=PreviewConfig)

    def validate(self) -> None:
        """Check every section (UsageError): each checks itself when built, and again
        here before any work starts, since ``--set`` and YAML edit fields afterwards."""
        for f in dataclasses.fields(self):
            getattr(self, f.name).validate()


def load_config(path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> Config:
    """Defaults, then the YAML file at ``path``, then ``section.key=value`` overrides."""
    import yaml

    from streamseg.safe_yaml import load_plain_yaml

    config = Config()
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise SourceNotFoundError(f"no such config file: {path}; see configs/ for examples")
        try:
            data = load_plain_yaml(path.read_bytes().decode("utf-8"), str(path)) or {}
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not a text file; give a YAML config") from None
        except RecursionError:
            raise UsageError(f"{path} is nested too deeply for a config") from None
        except yaml.YAMLError as error:
            raise UsageError(f"cannot parse {path}: {str(error).splitlines()[0]}") from error
        if not isinstance(data, dict):
            raise UsageError(f"{path}: expected sections like 'classic:' at the top level")
        _set_tree(config, data, str(path))
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise UsageError(
                f"malformed --set {item!r}: expected section.key=value, "
                "e.g. --set classic.flow_scale=0.5"
            )
        try:
            value = load_plain_yaml(text, "--set") if text.strip() else None
        except yaml.YAMLError as error:
            problem = str(error).splitlines()[0]
            raise UsageError(
                f"malformed --set {item!r} ({problem}); quote a string value, or close "
                "the list, e.g. --set source.options={}"
            ) from None
        set_value(config, key.strip(), value)
    return config


def _set_tree(config: Config, data: dict, where: str, prefix: str = "") -> None:
    """Apply nested YAML mappings: ``{"classic": {"init": {"radius": 5}}}``."""
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        target = _resolve(config, dotted)
        if dataclasses.is_dataclass(target) and not isinstance(value, dict):
            raise UsageError(f"{where}: {dotted!r} is a section; give it key: value pairs")
        if isinstance(value, dict) and dataclasses.is_dataclass(target):
            _set_tree(config, value, where, f"{dotted}.")
        else:
            set_value(config, dotted, value)


def _resolve(config: Config, dotted: str) -> Any:
    """The current value at ``a.b.c``; UsageError naming the valid keys if there is none."""
    node: Any = config
    for depth, key in enumerate(dotted.split(".")):
        names = [f.name for f in dataclasses.fields(node)] if dataclasses.is_dataclass(node) else []
        if key not in names:
            where = ".".join(dotted.split(".")[:depth]) or "the config"
            kind = "section" if depth == 0 else "key"
            raise UsageError(
                f"unknown config {kind} {key!r} in {dotted!r}; {where} has "
                f"{', '.join(names) or 'no keys'}"
            )
        node = getattr(node, key)
    return node


def set_value(config: Config, dotted: str, value: Any) -> None:
    """Set ``section.key`` (or ``section.sub.key``) to ``value``, checked against its type."""
    _resolve(config, dotted)
    parent_path, _, key = dotted.rpartition(".")
    if not parent_path:
        raise UsageError(f"{dotted!r} is a whole section; set one key, e.g. {dotted}.KEY=VALUE")
    parent = _resolve(config, parent_path)
    hint = typing.get_type_hints(type(parent))[key]
    if dataclasses.is_dataclass(getattr(parent, key)):
        raise UsageError(f"{dotted!r} is a section; set one of its keys, e.g. {dotted}.KEY=1")
    setattr(parent, key, _coerce(value, hint, dotted))


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` as the type ``hint``: int, float, bool, str, list[X], dict[str, X], X | None."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    for kind in options:
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin in (list, tuple) and isinstance(value, list | tuple):
            return origin(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if origin is dict and isinstance(value, dict):
            return {str(k): _coerce(v, args[1], f"{where}.{k}") for k, v in value.items()}
    names = " or ".join(getattr(k, "__name__", str(k)) for k in options)
    raise UsageError(f"bad value {value!r} for {where}: expected {names}")


def as_dict(config: Config) -> dict[str, Any]:
    """The resolved configuration as plain nested dicts (for YAML/JSON metadata)."""
    return dataclasses.asdict(config)
