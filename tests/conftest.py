"""Shared fixtures: the offline data folder (skip with a reason when it is absent) and tiny data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _data_folder() -> Path | None:
    raw = os.environ.get("SUPERCONV_DATA")
    for cand in ([Path(raw), ROOT / raw] if raw else []) + [SHARED]:
        if (cand / "mnist.npz").is_file():
            return cand.resolve()
    return None


@pytest.fixture(scope="session")
def data_folder() -> Path:
    folder = _data_folder()
    if folder is None:
        pytest.skip("offline data not found: set SUPERCONV_DATA to the folder holding mnist.npz "
                    "(CI uses ../shared/data)")
    return folder


@pytest.fixture
def offline(data_folder, monkeypatch):
    """Point the library at the offline copies for this test."""
    monkeypatch.setenv("SUPERCONV_DATA", str(data_folder))
    monkeypatch.setenv("SUPERCONV_DEVICE", "cpu")
    return data_folder


@pytest.fixture
def tiny_data():
    """A synthetic, learnable 10-class problem: class k has a bright 4x4 patch at a k-dependent spot."""
    g = torch.Generator().manual_seed(0)
    n = 640
    y = torch.arange(n) % 10
    x = torch.randint(0, 60, (n, 1, 12, 12), generator=g, dtype=torch.uint8)
    for k in range(10):
        r, c = divmod(k, 4)
        x[y == k, :, 3 * r:3 * r + 4, 3 * c:3 * c + 4] = 250
    return x, y
