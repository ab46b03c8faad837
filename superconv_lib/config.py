"""Run-wide settings: which device, quick mode, seeds and where data lives.

Everything here is read from the environment at call time, so a notebook (or papermill) can change
a setting by setting the variable before calling, and nothing is frozen at import.

| variable            | meaning                                                    |
|---------------------|------------------------------------------------------------|
| ``SUPERCONV_DEVICE`` | force ``cpu``, ``cuda``, ``cuda:1`` or ``mps``             |
| ``SUPERCONV_MODE``   | run size: ``quick`` (CI, ≈1 min), ``laptop`` (CPU, ≤≈10 min), ``full`` (GPU) |
| ``SUPERCONV_QUICK``  | ``1`` is another way to say ``SUPERCONV_MODE=quick``       |
| ``SUPERCONV_DATA``   | folder holding ``mnist.npz`` / ``cifar10-jpeg.npz`` copies |
| ``SUPERCONV_CACHE``  | where torchvision downloads and decoded caches go          |
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

__all__ = ["MODES", "mode", "device", "check_device", "quick", "seed_everything", "data_dir", "cache_dir", "report"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


_PROJECT_ROOT = Path(__file__).resolve().parents[1]


def device() -> torch.device:
    """The device every notebook trains on: CUDA, then Apple's MPS, then the CPU.

    ``SUPERCONV_DEVICE`` overrides the choice (``cpu``, ``cuda``, ``cuda:N``, ``mps``); asking for a
    device this machine does not have is an error rather than a silent fall-back to the CPU.
    """
    want = os.environ.get("SUPERCONV_DEVICE", "").strip().lower()
    if want:
        return check_device(want, f"SUPERCONV_DEVICE={want!r}",
                            "unset it or set SUPERCONV_DEVICE=cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


MODES = ("quick", "laptop", "full")
"""The three run sizes every notebook knows: ``quick`` (CI: about a minute per notebook on 2 CPU
cores), ``laptop`` (a learner without a GPU: at most about 10 minutes per notebook on 2 cores, every
phenomenon visible) and ``full`` (the papers' scale, on one GPU)."""


def _quick_flag() -> bool | None:
    raw = os.environ.get("SUPERCONV_QUICK", "").strip().lower()
    if raw == "":
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"SUPERCONV_QUICK={raw!r}: set it to 1 (quick mode) or 0, or use "
                     "SUPERCONV_MODE=quick|laptop|full instead.")


def mode() -> str:
    """The run size: ``"quick"``, ``"laptop"`` or ``"full"`` (see :data:`MODES`).

    ``SUPERCONV_MODE`` says it; ``SUPERCONV_QUICK=1`` is another way to say ``quick``. With neither
    set, a machine with a CUDA GPU runs ``full`` and any other ``laptop``.
    """
    raw = os.environ.get("SUPERCONV_MODE", "").strip().lower()
    flag = _quick_flag()
    if raw:
        if raw not in MODES:
            raise ValueError(f"SUPERCONV_MODE={raw!r}: set it to one of {', '.join(MODES)} "
                             "(or unset it).")
        if flag is True and raw != "quick":
            raise ValueError(f"SUPERCONV_MODE={raw} contradicts SUPERCONV_QUICK=1: unset one of them.")
        return raw
    if flag:
        return "quick"
    if flag is False:
        return "full"
    return "full" if torch.cuda.is_available() else "laptop"


def check_device(device: "str | torch.device", what: str, fix: str) -> torch.device:
    """``device`` as a ``torch.device`` that this machine has, or a ``ValueError`` that starts with
    ``what`` (how the user named it, e.g. ``"SUPERCONV_DEVICE='cuda'"``) and ends with ``fix``."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{what} is not a device name; use cpu, cuda, cuda:N or mps; "
                         f"{fix}.") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{what}: supported devices are cpu, cuda[:N] and mps; {fix}.")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{what}, but torch sees no CUDA GPU on this machine; {fix}.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"{what}, but only {torch.cuda.device_count()} CUDA device(s) exist; "
                         f"{fix}.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{what}, but Apple's MPS is not available here; {fix}.")
    return dev


def quick() -> bool:
    """True in quick mode (``SUPERCONV_MODE=quick`` or ``SUPERCONV_QUICK=1``): tiny subsets and
    few steps, for CI."""
    return mode() == "quick"


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) so a run can be repeated exactly on the CPU.

    Returns a ``torch.Generator`` seeded the same way, for code that wants its own stream.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def cache_dir() -> Path:
    """Folder for torchvision downloads and decoded-image caches (``SUPERCONV_CACHE`` or ~/.cache)."""
    raw = os.environ.get("SUPERCONV_CACHE")
    if raw:
        return Path(raw).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "superconv"


def data_dir() -> Path:
    """Where datasets are looked for: ``SUPERCONV_DATA`` if set, else the user cache folder.

    A relative ``SUPERCONV_DATA`` is taken from the current folder, or else from the project root.

    A ``SUPERCONV_DATA`` that does not exist is an error (a typo should not turn into a download).
    """
    raw = os.environ.get("SUPERCONV_DATA")
    if raw:
        path = Path(raw).expanduser()
        if not path.is_absolute() and not path.is_dir():
            # Jupyter runs kernels in notebooks/, so a path relative to the project root (as the
            # README writes it) is also tried from there.
            path = _PROJECT_ROOT / path
        if not path.is_dir():
            raise FileNotFoundError(
                f"SUPERCONV_DATA={raw!r} is not a folder (resolved to {path.resolve()}). Point it at "
                "the folder holding mnist.npz / cifar10-jpeg.npz, or unset it to download instead.")
        return path
    return cache_dir()


def report() -> str:
    """One line for a notebook's setup cell: device, torch version, run size, data folder."""
    dev = device()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type
    size = {"quick": "quick (CI-sized)", "laptop": "laptop (CPU-sized)", "full": "full"}[mode()]
    return (f"device: {name} | torch {torch.__version__} | mode: {size} | "
            f"data: {data_dir()} | threads: {torch.get_num_threads()}")
