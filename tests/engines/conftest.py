"""The video-engine tests run torch on one thread: on a loaded machine two intra-op
threads spin against each other (a 128 px step took 3 s with two, 0.3 s with one)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
