"""Datasets as device tensors, and a batch loader that augments on the device.

It's faster to keep a whole small dataset on the GPU as uint8 and gather, crop, flip and normalise
each batch there than to run a per-image ``torchvision`` pipeline in worker processes: MNIST and
CIFAR-10 fit in a few hundred MB, and a batched gather costs one kernel instead of 512 Python calls.

Sources, in order: ``.npz`` copies in :func:`superconv_lib.config.data_dir` (formats in
``shared/data/README.md``), else a torchvision download into the cache. Never a silent substitute.
"""
from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from . import config

__all__ = ["DATASETS", "DataUnavailableError", "load", "Loader", "balanced_subset", "downscale",
           "AUGMENTS", "augment_batch"]


@dataclass(frozen=True)
class _Spec:
    files: tuple[str, ...]      # npz names looked for in data_dir(), first match wins
    torchvision: str            # torchvision.datasets class used for the download fall-back
    shape: tuple[int, int, int]  # (C, H, W)
    classes: tuple[str, ...]


DATASETS: dict[str, _Spec] = {
    "mnist": _Spec(("mnist.npz",), "MNIST", (1, 28, 28), tuple(str(i) for i in range(10))),
    "fashion_mnist": _Spec(("fashion_mnist.npz", "fashion-mnist.npz"), "FashionMNIST", (1, 28, 28),
                           ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                            "sneaker", "bag", "ankle boot")),
    "cifar10": _Spec(("cifar10.npz", "cifar10-jpeg.npz"), "CIFAR10", (3, 32, 32),
                     ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                      "ship", "truck")),
}
AUGMENTS = (None, "flip", "crop", "crop+flip")


class DataUnavailableError(RuntimeError):
    """No local copy of a dataset and the download failed (usually: no network)."""


# ----------------------------------------------------------------------------------------------
# Loading


def load(name: str, split: str = "train", *, device: torch.device | str | None = None,
         limit: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a dataset split as ``(images, labels)`` on ``device``.

    images: uint8 tensor ``(N, C, H, W)``; labels: int64 ``(N,)``. ``limit`` takes a class-balanced
    subset drawn with ``seed`` (the offline npz files are sorted by class, so a plain ``[:limit]``
    would be one class). ``device`` defaults to :func:`config.device`.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}.")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    x, y = _load_numpy(name, split)
    if limit is not None:
        idx = balanced_subset(y, limit, seed=seed)
        x, y = x[idx], y[idx]
    dev = torch.device(device) if device is not None else config.device()
    return (torch.from_numpy(np.ascontiguousarray(x)).to(dev),
            torch.from_numpy(y.astype(np.int64)).to(dev))


def downscale(x: torch.Tensor, size: int) -> torch.Tensor:
    """Average-pool uint8 images ``(N, C, H, W)`` down to ``size`` x ``size`` pixels (``H`` must be a
    multiple of ``size``). Quick mode uses it: 16x16 CIFAR costs a quarter of the compute and keeps
    the shapes of the curves."""
    if x.dtype != torch.uint8 or x.ndim != 4:
        raise ValueError("downscale expects uint8 images (N, C, H, W) as returned by data.load.")
    h, w = x.shape[-2:]
    if not isinstance(size, int) or size < 1 or h % size or w % size or h // size != w // size:
        raise ValueError(f"size must divide the image side evenly ({h}x{w}); got {size!r}.")
    if size == h:
        return x
    out = torch.nn.functional.avg_pool2d(x.float(), h // size)
    return out.round_().to(torch.uint8)


def balanced_subset(labels: np.ndarray | torch.Tensor, limit: int, *, seed: int = 0) -> np.ndarray:
    """Indices of a seeded subset of size ``limit`` with (as near as possible) equal class counts.

    The returned order is shuffled, so the first ``k`` indices are a mixture of classes as well.
    """
    y = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    classes = np.unique(y)
    if not isinstance(limit, (int, np.integer)) or isinstance(limit, bool):
        raise ValueError(f"limit must be an int, got {limit!r}.")
    if limit < len(classes) or limit > len(y):
        raise ValueError(f"limit must be between {len(classes)} (one image per class) and "
                         f"{len(y)} (the whole split); got {limit}.")
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    counts = np.array([len(p) for p in per_class])
    # water-filling: equal shares, and a class with too few images hands its share to the others
    take = np.zeros(len(classes), dtype=int)
    left = limit
    while left:
        room = np.flatnonzero(take < counts)
        share, extra = divmod(left, len(room))
        add = np.full(len(room), share)
        add[rng.permutation(len(room))[:extra]] += 1
        add = np.minimum(add, counts[room] - take[room])
        take[room] += add
        left -= int(add.sum())
    idx = np.concatenate([p[:t] for p, t in zip(per_class, take)])
    return rng.permutation(idx)


_MEMO: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _load_numpy(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    spec = DATASETS[name]
    folder = config.data_dir()
    for fname in spec.files:
        path = folder / fname
        if path.is_file():
            key = (str(path.resolve()), path.stat().st_mtime_ns, split)
            if key not in _MEMO:
                _MEMO[key] = _read_npz(path, split, spec)
            return _MEMO[key]
    return _download(name, split, spec)


def _read_npz(path: Path, split: str, spec: _Spec) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as z:
        if f"{split}_jpeg" in z:
            y = z[f"y_{split}"]
            x = _decode_jpegs_cached(path, split, z[f"{split}_jpeg"], z[f"{split}_offsets"])
        elif f"x_{split}" in z:
            x, y = z[f"x_{split}"], z[f"y_{split}"]
        else:
            raise ValueError(f"{path} has neither x_{split} nor {split}_jpeg; see "
                             "shared/data/README.md for the expected keys.")
    return _to_nchw(x, spec, path), y.astype(np.int64)


def _to_nchw(x: np.ndarray, spec: _Spec, origin: object) -> np.ndarray:
    c, h, w = spec.shape
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] == c and x.shape[1] != c:
        x = x.transpose(0, 3, 1, 2)
    if x.shape[1:] != (c, h, w) or x.dtype != np.uint8:
        raise ValueError(f"{origin}: expected uint8 images of shape (N, {c}, {h}, {w}) "
                         f"(or NHWC), got {x.dtype} {x.shape}.")
    return np.ascontiguousarray(x)


def _decode_jpegs_cached(path: Path, split: str, blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Decode once and keep the uint8 array in the cache folder: the second notebook loads in ms."""
    st = path.stat()
    cache = config.cache_dir() / f"{path.stem}-{split}-{st.st_size}-{st.st_mtime_ns}.npy"
    if cache.is_file():
        try:
            return np.load(cache)
        except (OSError, ValueError):
            pass  # a broken cache file is re-made below
    x = _decode_jpegs(blob, offsets)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache.parent, suffix=".tmp", delete=False) as f:
            np.save(f, x)
        os.replace(f.name, cache)
    except OSError:
        pass  # a read-only cache only costs the decode again next time
    return x


def _decode_jpegs(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """All images of a concatenated-JPEG blob as uint8 (N, 3, H, W). torchvision's batched decoder
    is fastest; it is deprecated from torchvision 0.29 on, so Pillow takes over where it is gone."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # known; Pillow is the fall-back
        try:
            from torchvision.io import ImageReadMode, decode_jpeg
        except ImportError:
            return _decode_jpegs_pillow(blob, offsets)
        data = torch.from_numpy(blob)
        parts = [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
        out = decode_jpeg(parts, mode=ImageReadMode.RGB)
    return torch.stack(out).numpy()


def _decode_jpegs_pillow(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    from PIL import Image
    imgs = [np.asarray(Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
            for i in range(len(offsets) - 1)]
    return np.stack(imgs).transpose(0, 3, 1, 2).copy()


def _download(name: str, split: str, spec: _Spec) -> tuple[np.ndarray, np.ndarray]:
    import torchvision
    root = config.cache_dir() / "torchvision"
    cls = getattr(torchvision.datasets, spec.torchvision)
    try:
        ds = cls(str(root), train=(split == "train"), download=True)
    except Exception as e:  # network errors come as URLError, OSError or RuntimeError
        raise DataUnavailableError(
            f"Could not find {name!r} locally or download it ({type(e).__name__}: {e}).\n"
            f"Looked for {' or '.join(spec.files)} in {config.data_dir()}. Either connect to the "
            "internet (torchvision downloads it into the cache) or set SUPERCONV_DATA to a folder "
            "with the offline copies, e.g. SUPERCONV_DATA=../shared/data.") from e
    x = np.asarray(ds.data)
    y = np.asarray(ds.targets, dtype=np.int64)
    return _to_nchw(x, spec, f"torchvision {spec.torchvision}"), y


# ----------------------------------------------------------------------------------------------
# Batches


class Loader:
    """Shuffled, augmented, normalised batches drawn from device-resident uint8 tensors.

    Each ``iter()`` is one epoch; the order depends only on ``(seed, epoch)``, so runs repeat
    exactly. ``augment`` is one of ``None``, ``"flip"``, ``"crop"`` (random crop after zero-padding
    by ``pad`` pixels, as torchvision's ``RandomCrop(padding=4)``) or ``"crop+flip"``; it is done for
    the whole batch at once on the batch's device. Normalisation uses the per-channel mean/std of
    ``x`` itself (the dataset's statistics) unless ``stats=(mean, std)`` is given in [0, 1] units.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool = True,
                 augment: str | None = None, drop_last: bool = True, seed: int = 0,
                 stats: tuple[Sequence[float], Sequence[float]] | None = None, pad: int = 4) -> None:
        if not isinstance(x, torch.Tensor) or x.dtype != torch.uint8 or x.ndim != 4:
            raise ValueError("x must be a uint8 tensor (N, C, H, W), as returned by data.load; got "
                             f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}.")
        if not isinstance(y, torch.Tensor) or y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"y must be a 1-D label tensor with one label per image ({len(x)}).")
        if y.device != x.device:
            raise ValueError(f"x is on {x.device} but y on {y.device}; load both with the same device.")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        if augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {AUGMENTS}, got {augment!r}.")
        if len(x) == 0 or (drop_last and len(x) < batch_size):
            raise ValueError(f"the loader would be empty: {len(x)} images, batch_size {batch_size}, "
                             f"drop_last={drop_last}. Use a smaller batch_size or more images.")
        if pad < 0:
            raise ValueError(f"pad must be >= 0, got {pad}.")
        self.x, self.y = x, y.long()
        self.batch_size, self.shuffle, self.augment = batch_size, shuffle, augment
        self.drop_last, self.seed, self.pad = drop_last, seed, pad
        self.epoch = 0
        mean, std = stats if stats is not None else _channel_stats(x)
        c = x.shape[1]
        if len(mean) != c or len(std) != c or min(std) <= 0:
            raise ValueError(f"stats must be (mean, std) with {c} positive std values each.")
        shape = (1, c, 1, 1)
        std_t = torch.tensor(std, dtype=torch.float32, device=x.device).view(shape)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=x.device).view(shape)
        # x_norm = (x/255 - mean)/std = x*scale + shift: one fused multiply-add per pixel
        self._scale, self._shift = 1.0 / (255.0 * std_t), -mean_t / std_t
        self.stats = (tuple(float(m) for m in mean), tuple(float(s) for s in std))

    def __len__(self) -> int:
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    @property
    def device(self) -> torch.device:
        return self.x.device

    def normalize(self, xb: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, C, H, W)`` → float32 normalised with this loader's statistics."""
        out = torch.addcmul(self._shift, xb.float(), self._scale)
        if out.is_cuda:
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        dev = self.x.device
        g = torch.Generator(device=dev).manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        n = len(self.x)
        order = torch.randperm(n, generator=g, device=dev) if self.shuffle else torch.arange(n, device=dev)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            xb = self.x[idx]
            if self.augment:
                xb = augment_batch(xb, self.augment, pad=self.pad, generator=g)
            yield self.normalize(xb), self.y[idx]


def augment_batch(xb: torch.Tensor, augment: str, *, pad: int = 4,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Random crop (after zero padding) and/or horizontal flip of a whole batch, on its device."""
    b, c, h, w = xb.shape
    dev = xb.device
    if "crop" in augment and pad > 0:
        padded = torch.nn.functional.pad(xb, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (b, 1), device=dev, generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (b, 1), device=dev, generator=generator)
        rows = (dy + torch.arange(h, device=dev))[:, None, :, None]   # (B, 1, H, 1)
        cols = (dx + torch.arange(w, device=dev))[:, None, None, :]   # (B, 1, 1, W)
        bi = torch.arange(b, device=dev)[:, None, None, None]
        ci = torch.arange(c, device=dev)[None, :, None, None]
        xb = padded[bi, ci, rows, cols]
    if "flip" in augment:
        flip = torch.rand(b, device=dev, generator=generator) < 0.5
        xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
    return xb


def _channel_stats(x: torch.Tensor, chunk: int = 8192) -> tuple[list[float], list[float]]:
    """Per-channel mean and std in [0, 1] units, summed in float64 chunks (exact enough, low memory)."""
    c = x.shape[1]
    s = torch.zeros(c, dtype=torch.float64, device=x.device)
    s2 = torch.zeros(c, dtype=torch.float64, device=x.device)
    for i in range(0, len(x), chunk):
        xc = x[i:i + chunk].to(torch.float64 if x.device.type != "mps" else torch.float32) / 255.0
        s += xc.sum(dim=(0, 2, 3)).to(s.dtype)
        s2 += (xc * xc).sum(dim=(0, 2, 3)).to(s.dtype)
    count = x.numel() // c
    mean = s / count
    std = (s2 / count - mean * mean).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()
