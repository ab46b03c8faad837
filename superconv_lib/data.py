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
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torchvision
from PIL import Image   # torchvision's own dependency

from . import _validate as V
from ._files import atomic_write
from . import config

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)   # known; Pillow is the fall-back
    try:   # the fastest JPEG decoder; deprecated from torchvision 0.29 on, maybe gone later
        from torchvision.io import ImageReadMode, decode_jpeg
    except ImportError:
        decode_jpeg = None

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
    would be one class). ``device`` defaults to :func:`config.device`; one this machine lacks is a
    ``ValueError`` before anything is read. A dataset file is checked, not trusted: one that cannot
    be read, or whose labels do not fit its images (count, integer classes 0..9), is a
    ``ValueError`` naming the file and ``SUPERCONV_DATA``; a damaged JPEG decode cache is re-made.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}.")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    if limit is not None:
        limit = V.integer(limit, "limit", "load", unit="images")
    seed = V.integer(seed, "seed", "load", minimum=0)
    dev = _device(device)   # before the files are read: a bad device fails fast
    x, y = _load_numpy(name, split)
    if limit is not None:
        idx = balanced_subset(y, limit, seed=seed)
        x, y = x[idx], y[idx]
    return (torch.from_numpy(np.ascontiguousarray(x)).to(dev),
            torch.from_numpy(y.astype(np.int64)).to(dev))


def _device(device: Any) -> torch.device:
    """``device`` checked against this machine (None: :func:`config.device`)."""
    if device is None:
        return config.device()
    return config.check_device(device, f"device={str(device)!r}",
                               "use device='cpu', or leave device out (config.device() picks "
                               "the best device here)")


def downscale(x: torch.Tensor, size: int) -> torch.Tensor:
    """Average-pool uint8 images ``(N, C, H, W)`` down to ``size`` x ``size`` pixels (``H`` must be a
    multiple of ``size``). Quick mode uses it: 16x16 CIFAR costs a quarter of the compute and keeps
    the shapes of the curves."""
    if x.dtype != torch.uint8 or x.ndim != 4:
        raise ValueError("downscale expects uint8 images (N, C, H, W) as returned by data.load.")
    h, w = x.shape[-2:]
    if not isinstance(size, int) or isinstance(size, bool) or size < 1 or h % size or w % size \
            or h // size != w // size:
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
            st = path.stat()
            key = (str(path.resolve()), st.st_mtime_ns, st.st_size, st.st_ino, split)
            if key not in _MEMO:
                _MEMO[key] = _read_npz(path, split, spec)
            return _MEMO[key]
    return _download(name, split, spec)


class _BadFile(Exception):
    """What is wrong with a dataset file, turned into a ValueError naming it by _file_error."""


def _file_error(path: Path, why: str) -> ValueError:
    where = os.environ.get("SUPERCONV_DATA")
    return ValueError(
        f"{path}: {why}. The file is damaged or is not one of the course's dataset files (their "
        "format: shared/data/README.md). Replace it with a good copy, or point SUPERCONV_DATA at a "
        "folder that holds one (SUPERCONV_DATA is "
        + (f"{where!r}" if where else "not set") + ").")


def _read_npz(path: Path, split: str, spec: _Spec) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of one split of an npz file, checked: a file that cannot be read, or whose
    arrays do not fit together, is a ValueError naming it (never a half-loaded dataset)."""
    try:
        # A damaged archive fails in many ways (BadZipFile, EOFError, zlib.error, numpy's
        # ValueErrors, NotImplementedError for a garbled compression method, RuntimeError for a
        # garbled "encrypted" flag, ...): whatever np.load raises means "unreadable file".
        try:
            # allow_pickle stays False: a dataset file is plain arrays, never Python objects
            z = np.load(path)
        except Exception as e:  # noqa: BLE001 — see above
            raise _BadFile(_unreadable(e)) from None
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise _BadFile("it holds a single array (.npy), not an .npz archive of named arrays")
        with z:
            keys = set(z.files)
            y_key = f"y_{split}"
            if f"{split}_jpeg" in keys:
                need = (f"{split}_jpeg", f"{split}_offsets", y_key)
            elif f"x_{split}" in keys:
                need = (f"x_{split}", y_key)
            else:
                raise _BadFile(f"it has neither x_{split} nor {split}_jpeg (its arrays: "
                               f"{sorted(keys)})")
            missing = [k for k in need if k not in keys]
            if missing:
                raise _BadFile(f"it lacks {', '.join(missing)}")
            try:
                arrays = [z[k] for k in need]   # reading checks each member's CRC
            except Exception as e:  # noqa: BLE001 — as for np.load above
                raise _BadFile(_unreadable(e, member=True)) from None
        y = _check_labels(arrays[-1], spec, y_key)
        if len(arrays) == 3:
            blob, offsets = arrays[0], arrays[1]
            _check_offsets(blob, offsets, len(y), split)
            x = _decode_jpegs_cached(path, split, blob, offsets, spec)
        else:
            x = arrays[0]
        x = _to_nchw(x, spec, path)
        if len(x) != len(y):
            raise _BadFile(f"it has {len(x)} {split} images but {len(y)} labels")
    except _BadFile as e:
        raise _file_error(path, str(e)) from None
    return x, y


def _unreadable(e: BaseException, member: bool = False) -> str:
    text = " ".join(str(e).split())
    if "pickle" in text:
        # numpy's message suggests allow_pickle=True: never do that for a data file (loading a
        # pickle runs code from the file)
        if member:
            return "it holds pickled Python objects where plain arrays of numbers belong"
        return ("it is not an .npz archive (its bytes are neither a zip archive of .npy arrays "
                "nor a .npy array)")
    return f"it cannot be read as an .npz archive ({type(e).__name__}: {text[:200]})"


def _check_labels(y: np.ndarray, spec: _Spec, key: str) -> np.ndarray:
    n = len(spec.classes)
    if y.ndim != 1:
        raise _BadFile(f"{key} must be a 1-D array of labels, got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise _BadFile(f"{key} must hold integer class labels, got {y.dtype} (float labels would "
                       "be truncated)")
    if len(y) and (y.min() < 0 or y.max() >= n):
        raise _BadFile(f"{key} holds labels from {y.min()} to {y.max()}; {spec.torchvision} has "
                       f"classes 0..{n - 1}")
    return y.astype(np.int64)


def _check_offsets(blob: np.ndarray, offsets: np.ndarray, n: int, split: str) -> None:
    if blob.ndim != 1 or blob.dtype != np.uint8:
        raise _BadFile(f"{split}_jpeg must be 1-D uint8 bytes, got {blob.dtype} {blob.shape}")
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu":
        raise _BadFile(f"{split}_offsets must be 1-D integers, got {offsets.dtype} {offsets.shape}")
    if len(offsets) != n + 1:
        raise _BadFile(f"{split}_offsets has {len(offsets)} entries for {n} labels; it needs one "
                       "more than there are images")
    if n and (offsets[0] < 0 or offsets[-1] > len(blob) or np.any(np.diff(offsets) <= 0)):
        raise _BadFile(f"{split}_offsets must increase from >= 0 to at most the {len(blob)} "
                       f"bytes of {split}_jpeg")


def _to_nchw(x: np.ndarray, spec: _Spec, origin: object) -> np.ndarray:
    c, h, w = spec.shape
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] == c and x.shape[1] != c:
        x = x.transpose(0, 3, 1, 2)
    if x.shape[1:] != (c, h, w) or x.dtype != np.uint8:
        why = (f"expected uint8 images of shape (N, {c}, {h}, {w}) (or NHWC), got {x.dtype} "
               f"{x.shape}")
        if isinstance(origin, Path):   # a dataset file: _read_npz names it and SUPERCONV_DATA
            raise _BadFile(why)
        raise ValueError(f"{origin}: {why}.")
    return np.ascontiguousarray(x)


def _decode_jpegs_cached(path: Path, split: str, blob: np.ndarray, offsets: np.ndarray,
                         spec: _Spec) -> np.ndarray:
    """Decode once and keep the uint8 array in the cache folder: the second notebook loads in ms.

    A cache file that cannot be read, or holds the wrong number or shape of images, is decoded
    again and replaced."""
    st = path.stat()
    cache = config.cache_dir() / f"{path.stem}-{split}-{st.st_size}-{st.st_mtime_ns}.npy"
    want = (len(offsets) - 1, *spec.shape)
    if cache.is_file():
        try:
            x = np.load(cache)
        except Exception:  # noqa: BLE001 — empty, truncated or garbage: re-made below
            x = None
        if isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.shape == want:
            return x
        if hasattr(x, "close"):
            x.close()
    try:
        x = _decode_jpegs(blob, offsets)
    except Exception as e:  # noqa: BLE001 — torchvision / Pillow on a bad image, in many ways
        raise _BadFile(f"its {split} JPEG images cannot be decoded ({type(e).__name__}: "
                       f"{' '.join(str(e).split())[:200]})") from None
    if x.shape != want or x.dtype != np.uint8:
        raise _BadFile(f"its {split} JPEGs decode to {x.dtype} {x.shape}, expected uint8 {want}")
    _save_atomic(cache, x)
    return x


def _save_atomic(path: Path, x: np.ndarray) -> None:
    """``np.save`` durably (see :func:`superconv_lib._files.atomic_write`): a reader sees the old
    cache or the whole new one. A read-only cache only costs the decode again next time."""
    try:
        atomic_write(path, lambda f: np.save(f, x), binary=True)
    except OSError:
        pass


def _decode_jpegs(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """All images of a concatenated-JPEG blob as uint8 (N, 3, H, W). torchvision's batched decoder
    is fastest; it is deprecated from torchvision 0.29 on, so Pillow takes over where it is gone."""
    if decode_jpeg is None:
        return _decode_jpegs_pillow(blob, offsets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # known; Pillow is the fall-back
        data = torch.from_numpy(blob)
        parts = [data[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
        out = decode_jpeg(parts, mode=ImageReadMode.RGB)
    return torch.stack(out).numpy()


def _decode_jpegs_pillow(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    imgs = [np.asarray(Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
            for i in range(len(offsets) - 1)]
    return np.stack(imgs).transpose(0, 3, 1, 2).copy()


def _download(name: str, split: str, spec: _Spec) -> tuple[np.ndarray, np.ndarray]:
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
        batch_size = V.integer(batch_size, "batch_size", "Loader", minimum=1, unit="images")
        if augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {AUGMENTS}, got {augment!r}.")
        if len(x) == 0 or (drop_last and len(x) < batch_size):
            raise ValueError(f"the loader would be empty: {len(x)} images, batch_size {batch_size}, "
                             f"drop_last={drop_last}. Use a smaller batch_size or more images.")
        pad = V.integer(pad, "pad", "Loader", minimum=0, unit="pixels")
        seed = V.integer(seed, "seed", "Loader")
        self.x, self.y = x, y.long()
        self.batch_size, self.shuffle, self.augment = batch_size, shuffle, augment
        self.drop_last, self.seed, self.pad = drop_last, seed, pad
        self.epoch = 0
        c = x.shape[1]
        mean, std = _check_stats(stats, c) if stats is not None else _channel_stats(x)
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


def _check_stats(stats: Any, c: int) -> tuple[list[float], list[float]]:
    """``(mean, std)`` given to a Loader: ``c`` finite means and ``c`` finite std values > 0 each
    (a NaN here would make every batch NaN)."""
    msg = f"stats must be (mean, std) with {c} finite values each, std > 0, in [0, 1] units"
    if not isinstance(stats, (tuple, list)) or len(stats) != 2:
        raise ValueError(f"{msg}; got {stats!r:.80}.")
    mean, std = stats
    if isinstance(mean, (str, bytes)) or isinstance(std, (str, bytes)) \
            or not hasattr(mean, "__len__") or not hasattr(std, "__len__") \
            or len(mean) != c or len(std) != c:
        raise ValueError(f"{msg}; got {stats!r:.80}.")
    return ([V.finite(m, f"stats mean[{i}]", "Loader") for i, m in enumerate(mean)],
            [V.positive(s, f"stats std[{i}]", "Loader") for i, s in enumerate(std)])


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
