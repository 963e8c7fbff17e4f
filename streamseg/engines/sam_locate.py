"""Finding an object again by its appearance in SAM's image embedding (PerSAM-style).

``prototypes`` averages the embedding inside each object's mask; ``locate_prototype``
finds the embedding cell most cosine-similar to a stored prototype.
"""

from __future__ import annotations

from typing import Any

from streamseg.engines import sam_prompts as sp
from streamseg.engines.sam_device import SamEmbedding


def locate_prototype(
    embedding: SamEmbedding, appearance: Any, min_similarity: float
) -> tuple[float, float, float] | None:
    """(x, y, similarity) in frame pixels of the embedding cell most cosine-similar to
    ``appearance`` ((C,) prototype), or None below ``min_similarity``."""
    import torch
    import torch.nn.functional as F

    h, w = embedding.original_size
    nh, nw = sp.input_size(h, w)
    features = embedding.features()[0].float()  # (C, 64, 64)
    grid = features.shape[-1]
    ch = max(1, min(grid, -(-nh * grid // sp.IMG_SIZE)))
    cw = max(1, min(grid, -(-nw * grid // sp.IMG_SIZE)))
    with torch.no_grad():
        cells = F.normalize(features[:, :ch, :cw].flatten(1), dim=0)  # (C, ch * cw)
        proto = F.normalize(appearance.float().reshape(-1), dim=0)
        sim = proto @ cells
        best = int(torch.argmax(sim))
        score = float(sim[best])
    if score < min_similarity:
        return None
    cy, cx = divmod(best, cw)
    cell = sp.IMG_SIZE / grid
    x = min(w - 1.0, (cx + 0.5) * cell * w / nw)
    y = min(h - 1.0, (cy + 0.5) * cell * h / nh)
    return float(x), float(y), min(1.0, score)


def prototypes(features: Any, logits: Any) -> tuple[Any, Any]:
    """(N, C) float32 mean embedding inside each mask, and (N,) bool "mask not empty".

    features: (1, C, 64, 64); logits: (N, 1, 256, 256). The mask is averaged down to
    the 64 x 64 embedding grid (a soft weight per embedding cell), as PerSAM does.
    """
    import torch.nn.functional as F

    weight = F.avg_pool2d((logits > 0).float(), 4).flatten(1)  # (N, 64 * 64)
    total = weight.sum(dim=1)
    protos = weight @ features[0].flatten(1).float().T  # (N, C)
    return protos / total.clamp_min(1e-6)[:, None], total > 0
