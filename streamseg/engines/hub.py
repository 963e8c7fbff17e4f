"""The video models' weights on the Hugging Face Hub: names, ids, revisions, the cache.

Weights live in the standard Hub cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``,
else ``~/.cache/huggingface/hub``), shared with every other Hub user on the machine;
the variables are read at call time, as HF_HUB_OFFLINE and HF_ENDPOINT are.
``HF_HUB_OFFLINE=1`` is honoured at call time (huggingface_hub reads it only once, at
import): nothing then touches the network, and a model not in the cache is a one-line
error. ``HF_ENDPOINT`` is read at call time too (tests point it at a local server).

Every download asks for the revision pinned in ``VIDEO_MODELS`` (a 40-hex commit of
the repository that holds the transformers-format files: config.json and
model.safetensors), never ``main``; the commit fetched is recorded in the metadata
(``weights.commit``). A new revision is a new streamseg release.

``hub_reachable()`` costs at most ``timeout`` seconds (1 s) in a thread of its own, and
nothing when HF_HUB_OFFLINE is set: huggingface_hub's own retries took 40 s here.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from streamseg.errors import EngineError

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
# What a snapshot needs: the config, the weights, the processor's settings.
PATTERNS = ["*.json", "*.safetensors", "*.txt"]


@dataclass(frozen=True)
class VideoModel:
    """One video model: streamseg's name, the Hub repository, its pinned revision (a
    40-hex commit), the family, and whether the Hub gates it."""

    name: str
    repo: str
    revision: str
    family: str
    gated: bool = False


# The one table of video models. Order: smallest first.
VIDEO_MODELS: dict[str, VideoModel] = {
    m.name: m
    for m in (
        VideoModel(
            "edgetam",
            "yonigozlan/EdgeTAM-hf",
            "c266ce53b3fc00f0f495b583f6a116c4e57f53bb",
            "edgetam",
        ),
        VideoModel(
            "sam2.1-hiera-tiny",
            "facebook/sam2.1-hiera-tiny",
            "de431c4043854a71d8101e17995dfe596bf101a5",
            "sam2",
        ),
        VideoModel(
            "sam2.1-hiera-small",
            "facebook/sam2.1-hiera-small",
            "ee5bba1d82bb8749febdf90f45e84b687142ba03",
            "sam2",
        ),
        VideoModel(
            "sam2.1-hiera-base-plus",
            "facebook/sam2.1-hiera-base-plus",
            "b7320756a13354e7530a63935656d35b2f91a290",
            "sam2",
        ),
        VideoModel(
            "sam2.1-hiera-large",
            "facebook/sam2.1-hiera-large",
            "665f8e2ad61cf5f53d65644ff27c8ee525124610",
            "sam2",
        ),
        VideoModel(
            "sam3-tracker",
            "facebook/sam3",
            "3c879f39826c281e95690f02c7821c4de09afae7",
            "sam3",
            gated=True,
        ),
    )
}
# --model auto: CUDA takes the most accurate cached model, the CPU the cheapest.
AUTO_ORDER = {
    "cuda": (
        "sam3-tracker",
        "sam2.1-hiera-large",
        "sam2.1-hiera-base-plus",
        "sam2.1-hiera-small",
        "sam2.1-hiera-tiny",
        "edgetam",
    ),
    "cpu": tuple(VIDEO_MODELS),
}
DEFAULT_DOWNLOAD = {"cuda": "sam2.1-hiera-base-plus", "cpu": "edgetam"}


def video_model(name: str) -> VideoModel:
    """The table entry for ``name``."""
    if name not in VIDEO_MODELS:
        raise EngineError(f"no video model named {name!r}; choose one of {', '.join(VIDEO_MODELS)}")
    return VIDEO_MODELS[name]


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to a true value, read now."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in ("1", "on", "yes", "true")


def cache_dir() -> Path:
    """The Hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub,
    read now (huggingface_hub fixes its own default at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def hub_reachable(timeout: float = 1.0) -> bool:
    """Whether the Hub answers an HTTP request within ``timeout`` seconds (any status:
    a server that answers at all is reachable). False at once when offline."""
    if offline():
        return False
    answered = threading.Event()

    def probe() -> None:
        request = urllib.request.Request(endpoint() + "/api/models?limit=1", method="HEAD")
        try:
            urllib.request.urlopen(request, timeout=timeout).close()
            answered.set()
        except urllib.error.HTTPError:
            answered.set()
        except (OSError, ValueError):
            pass

    # DNS lookups ignore socket timeouts; a daemon thread bounds the whole probe.
    thread = threading.Thread(target=probe, name="hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return answered.is_set()


def cached_snapshot(name: str) -> Path | None:
    """The cached snapshot folder of ``name`` at its revision, or None. A look at the
    cache's own layout (``models--ORG--NAME/refs/REV`` -> ``snapshots/COMMIT``), as
    huggingface_hub's ``local_files_only`` does, without importing it (0.3 s): ``run
    --model auto`` asks this of every video model before the first frame."""
    m = video_model(name)
    folder = cache_dir() / ("models--" + m.repo.replace("/", "--"))
    revision = m.revision
    ref = folder / "refs" / revision
    try:
        commit = ref.read_text().strip() if ref.is_file() else revision
    except OSError:
        return None
    snapshot = folder / "snapshots" / commit
    if not (snapshot / "config.json").is_file():
        return None
    if not any(snapshot.glob("*.safetensors")):
        return None
    return snapshot


def cached_video_models() -> list[str]:
    """Names of the video models whose weights are in the Hub cache, smallest first."""
    return [name for name in VIDEO_MODELS if cached_snapshot(name) is not None]


def _gated_message(m: VideoModel) -> str:
    return (
        f"{m.name}: {m.repo} is gated on the Hugging Face Hub; request access at "
        f"{endpoint()}/{m.repo}, then log in (hf auth login) or set HF_TOKEN"
    )


def ensure_snapshot(name: str, *, download: bool = True, progress: bool = True) -> Path:
    """The local snapshot folder of ``name``: from the cache, else downloaded (unless
    offline or ``download`` is False). Errors are one-line EngineErrors naming the fix."""
    from huggingface_hub import errors, snapshot_download

    m = video_model(name)
    path = cached_snapshot(name)
    if path is not None:
        return path
    if offline() or not download:
        why = "HF_HUB_OFFLINE is set" if offline() else "downloads are off here"
        raise EngineError(
            f"{name}: weights ({m.repo}) are not in the Hub cache and {why}; run "
            f"`streamseg weights download {name}` where the Hub is reachable, or pass "
            "--checkpoint DIR"
        )
    log.warning("downloading %s (%s, revision %s) into the Hub cache", name, m.repo, m.revision)
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    if not progress:
        disable_progress_bars()
    try:
        folder = snapshot_download(
            m.repo,
            revision=m.revision,
            allow_patterns=PATTERNS,
            endpoint=endpoint(),
            cache_dir=cache_dir(),
        )
    except errors.GatedRepoError:
        raise EngineError(_gated_message(m)) from None
    except errors.RepositoryNotFoundError:
        hint = _gated_message(m) if m.gated else f"{name}: {m.repo} not found on {endpoint()}"
        raise EngineError(hint) from None
    except errors.RevisionNotFoundError:
        raise EngineError(
            f"{name}: revision {m.revision} of {m.repo} not found; update streamseg"
        ) from None
    except (errors.HfHubHTTPError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise EngineError(
            f"{name}: download from {endpoint()} failed ({first}); check the network, "
            "or pass --checkpoint DIR"
        ) from None
    finally:
        if not progress:
            enable_progress_bars()
    return Path(folder)


def commit_of(snapshot: Path) -> str | None:
    """The commit of a Hub-cache snapshot folder (its name), or None elsewhere."""
    return snapshot.name if snapshot.parent.name == "snapshots" else None


def checkpoint_type(folder: Path) -> str:
    """The transformers model_type of a folder saved with save_pretrained."""
    import json

    config = Path(folder).expanduser() / "config.json"
    if not config.is_file():
        raise EngineError(
            f"--checkpoint {folder}: no config.json there; give a folder written by "
            "save_pretrained (model.save_pretrained(DIR))"
        )
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except (OSError, ValueError) as error:
        raise EngineError(f"--checkpoint {folder}: config.json unreadable ({error})") from None
    if not isinstance(model_type, str):
        raise EngineError(f"--checkpoint {folder}: config.json names no model_type")
    return model_type


def repo_url(m: VideoModel) -> str:
    return f"{endpoint()}/{urllib.parse.quote(m.repo)}"


def list_video_weights() -> list[dict[str, object]]:
    """One row per video model, for ``streamseg weights list``: name, repo, revision
    (the pinned commit), gated, and the cached snapshot's path (None: not cached)."""
    rows = []
    for m in VIDEO_MODELS.values():
        path = cached_snapshot(m.name)
        rows.append(
            {
                "name": m.name,
                "repo": m.repo,
                "revision": m.revision,
                "gated": m.gated,
                "path": str(path) if path else None,
            }
        )
    return rows
