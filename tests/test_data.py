import io
import re

import numpy as np
import pytest
import torch

from superconv_lib import config, data


def test_load_mnist_offline(offline):
    x, y = data.load("mnist", "train")
    assert x.dtype == torch.uint8 and x.shape == (60000, 1, 28, 28)
    assert y.dtype == torch.int64
    # the official class counts (shared/data/README.md)
    counts = torch.bincount(y).tolist()
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    xt, yt = data.load("mnist", "test")
    assert xt.shape == (10000, 1, 28, 28)


def test_load_cifar_jpeg_offline(offline):
    x, y = data.load("cifar10", "test")
    assert x.dtype == torch.uint8 and x.shape == (10000, 3, 32, 32)
    assert torch.bincount(y).tolist() == [1000] * 10
    # decoded JPEGs are real images: mean pixel in a plausible range, not all zeros
    assert 80 < x.float().mean().item() < 160


def test_limit_is_class_balanced_seeded_and_shuffled(offline):
    x, y = data.load("mnist", "train", limit=1000, seed=1)
    assert len(x) == 1000
    assert torch.bincount(y, minlength=10).tolist() == [100] * 10
    assert len(set(y[:20].tolist())) > 3            # not sorted by class
    x2, y2 = data.load("mnist", "train", limit=1000, seed=1)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = data.load("mnist", "train", limit=1000, seed=2)
    assert not torch.equal(x, x3)


def test_balanced_subset_uneven():
    y = np.array([0] * 50 + [1] * 3 + [2] * 50)
    idx = data.balanced_subset(y, 31, seed=0)
    assert len(idx) == 31 and len(set(idx)) == 31
    counts = np.bincount(y[idx], minlength=3)
    assert counts[1] == 3 and counts.sum() == 31 and abs(counts[0] - counts[2]) <= 1


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="imagenet"), "unknown dataset"),
    (dict(name="mnist", split="val"), "split"),
    (dict(name="mnist", limit=5), "limit"),
])
def test_load_bad_args(offline, kwargs, match):
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=match):
        data.load(name, **kwargs)


def test_missing_data_without_network_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SUPERCONV_DATA", str(tmp_path))
    monkeypatch.setenv("SUPERCONV_CACHE", str(tmp_path / "cache"))

    def no_network(*a, **k):
        raise OSError("network is unreachable")
    import urllib.request
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(data.DataUnavailableError, match="SUPERCONV_DATA"):
        data.load("mnist", "test")


def test_npz_in_nhwc_and_chw_forms(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (20, 32, 32, 3), dtype=np.uint8)
    y = np.arange(20) % 10
    np.savez(tmp_path / "cifar10.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    monkeypatch.setenv("SUPERCONV_DATA", str(tmp_path))
    xt, yt = data.load("cifar10", "train", device="cpu")
    assert xt.shape == (20, 3, 32, 32)
    assert torch.equal(xt[3].permute(1, 2, 0), torch.from_numpy(x[3]))


def test_loader_shapes_normalization_and_order(tiny_data):
    x, y = tiny_data
    ld = data.Loader(x, y, 64, shuffle=True, seed=0)
    assert len(ld) == 10
    batches = list(ld)
    assert len(batches) == 10
    xb, yb = batches[0]
    assert xb.dtype == torch.float32 and xb.shape == (64, 1, 12, 12) and yb.shape == (64,)
    allx = torch.cat([b[0] for b in batches])
    assert abs(allx.mean().item()) < 1e-4 and abs(allx.std().item() - 1) < 1e-3
    # one epoch visits every image once; the next epoch has another order
    labels1 = torch.cat([b[1] for b in batches])
    assert sorted(labels1.tolist()) == sorted(y.tolist())
    labels2 = torch.cat([b[1] for b in ld])
    assert not torch.equal(labels1, labels2)
    # same seed, same order
    again = data.Loader(x, y, 64, seed=0)
    assert torch.equal(torch.cat([b[1] for b in again]), labels1)


def test_loader_drop_last_and_len(tiny_data):
    x, y = tiny_data
    assert len(data.Loader(x, y, 100)) == 6
    ld = data.Loader(x, y, 100, drop_last=False, shuffle=False)
    sizes = [len(b[1]) for b in ld]
    assert len(ld) == 7 and sizes[-1] == 40


def test_augment_keeps_labels_aligned():
    # each image's pixels encode its label, so after crop/flip the batch's label must still match
    n = 256
    y = torch.arange(n) % 10
    x = (y * 20 + 10).to(torch.uint8).view(n, 1, 1, 1).expand(n, 3, 16, 16).contiguous()
    ld = data.Loader(x, y, 32, augment="crop+flip", stats=((0, 0, 0), (1, 1, 1)), pad=4)
    for xb, yb in ld:
        pix = torch.round(xb * 255).amax(dim=(1, 2, 3))     # padding is 0, the image is label*20+10
        assert torch.equal(pix, (yb * 20 + 10).float())


def test_crop_and_flip_are_real():
    x = torch.arange(8 * 8, dtype=torch.uint8).view(1, 1, 8, 8).repeat(64, 1, 1, 1)
    g = torch.Generator().manual_seed(0)
    out = data.augment_batch(x, "flip", generator=g)
    flipped = (out == x.flip(3)).all(dim=(1, 2, 3))
    same = (out == x).all(dim=(1, 2, 3))
    assert bool((flipped | same).all()) and 10 < int(flipped.sum()) < 54
    out = data.augment_batch(x, "crop", pad=2, generator=g)
    # every crop is the original shifted by (dy, dx) in [-2, 2] with zero fill
    assert out.shape == x.shape
    assert (out == x).all(dim=(1, 2, 3)).sum() < 20           # most are shifted
    centre = out[:, :, 2:6, 2:6].float()
    assert bool(((centre - x[:, :, 2:6, 2:6].float()).abs() <= 2 * 8 + 2).all())


def test_loader_rejects_float_images(tiny_data):
    x, y = tiny_data
    with pytest.raises(ValueError, match="uint8"):
        data.Loader(x.float(), y, 8)


def test_downscale_averages_blocks():
    x = torch.tensor([[[[0, 2, 10, 10], [4, 6, 10, 10], [1, 1, 0, 0], [1, 1, 0, 255]]]], dtype=torch.uint8)
    out = data.downscale(x, 2)
    assert out.dtype == torch.uint8 and out.tolist() == [[[[3, 10], [1, 64]]]]
    assert data.downscale(x, 4) is x
    with pytest.raises(ValueError, match="divide"):
        data.downscale(x, 3)


def test_jpeg_decoders_agree(data_folder):
    # torchvision's batched decoder and the Pillow fall-back give the same images (both libjpeg)
    with np.load(data_folder / "cifar10-jpeg.npz") as z:
        blob, offsets = z["test_jpeg"], z["test_offsets"][:51]
    a = data._decode_jpegs(blob, offsets)
    b = data._decode_jpegs_pillow(blob, offsets)
    assert a.shape == b.shape == (50, 3, 32, 32)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 1.0


# ------------------------------------------------- issue 13: dataset files are checked, not trusted

def _mnist_like(n=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8)


@pytest.fixture
def data_dir(monkeypatch, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("SUPERCONV_DATA", str(folder))
    monkeypatch.setenv("SUPERCONV_CACHE", str(tmp_path / "cache"))
    return folder


def _load_error(name="mnist") -> str:
    with pytest.raises(ValueError) as info:
        data.load(name, "train", device="cpu")
    msg = str(info.value)
    assert "SUPERCONV_DATA" in msg and "allow_pickle" not in msg
    # the chained exception is not shown either: it would suggest allow_pickle=True again
    assert info.value.__cause__ is None and info.value.__suppress_context__
    return msg


@pytest.mark.parametrize("labels, match", [
    (np.arange(30) % 10, "20 train images but 30 labels"),
    (np.arange(20) % 10 + 1, "labels from 1 to 10"),
    (np.arange(20) % 10 - 1, "labels from -1 to 8"),
    ((np.arange(20) % 10).astype(np.float32) + 0.5, "integer class labels, got float32"),
    ((np.arange(20) % 10).astype(np.float64), "integer class labels, got float64"),
    ((np.arange(20) % 10).reshape(4, 5), "1-D array of labels"),
])
def test_labels_are_checked_against_the_images(data_dir, labels, match):
    x, _ = _mnist_like()
    np.savez(data_dir / "mnist.npz", x_train=x, y_train=labels, x_test=x, y_test=labels)
    msg = _load_error()
    assert str(data_dir / "mnist.npz") in msg and re.search(match, msg), msg


def test_a_good_generated_file_loads_exactly(data_dir):
    x, y = _mnist_like()
    np.savez_compressed(data_dir / "mnist.npz", x_train=x, y_train=y, x_test=x[:10],
                        y_test=y[:10].astype(np.int16))
    xt, yt = data.load("mnist", "train", device="cpu")
    assert torch.equal(xt[:, 0], torch.from_numpy(x)) and yt.tolist() == y.tolist()
    assert data.load("mnist", "test", device="cpu")[1].tolist() == list(range(10))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "pickled", "npy", "no_y",
                                    "flipped"])
def test_damaged_npz_is_a_clear_error_naming_the_file(data_dir, damage):
    x, y = _mnist_like()
    path = data_dir / "mnist.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y)
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(bytes(range(256)) * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "pickled":   # an object array: numpy would ask for allow_pickle=True
        np.savez(path, x_train=np.array([object()] * 20, dtype=object), y_train=y)
    elif damage == "npy":
        with open(path, "wb") as f:
            np.save(f, x)
    elif damage == "no_y":
        np.savez(path, x_train=x)
    else:   # one byte of image data changed: the zip's CRC catches it
        i = raw.index(x.tobytes()[:64]) + 100
        path.write_bytes(raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1:])
    msg = _load_error()
    assert msg.startswith(str(path)), msg


def _write_jpeg_npz(path, n=12, seed=0):
    from PIL import Image
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    blobs = []
    for im in imgs:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="JPEG", quality=90)
        blobs.append(np.frombuffer(buf.getvalue(), dtype=np.uint8))
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    y = (np.arange(n) % 10).astype(np.uint8)
    np.savez(path, train_jpeg=np.concatenate(blobs), train_offsets=offsets, y_train=y,
             test_jpeg=np.concatenate(blobs), test_offsets=offsets, y_test=y)
    return y


@pytest.mark.parametrize("damage", ["zero-length", "truncated", "garbage", "wrong-count",
                                    "wrong-dtype"])
def test_a_broken_jpeg_cache_is_rebuilt(data_dir, monkeypatch, damage):
    y = _write_jpeg_npz(data_dir / "cifar10-jpeg.npz")
    monkeypatch.setattr(data, "_MEMO", {})
    x1, y1 = data.load("cifar10", "train", device="cpu")
    caches = list((data_dir.parent / "cache").glob("cifar10-jpeg-train-*.npy"))
    assert len(caches) == 1 and y1.tolist() == y.tolist() and x1.shape == (12, 3, 32, 32)
    cache = caches[0]
    good = cache.read_bytes()
    if damage == "zero-length":
        cache.write_bytes(b"")
    elif damage == "truncated":
        cache.write_bytes(good[: len(good) // 2])
    elif damage == "garbage":
        cache.write_bytes(b"\x93NUMPY garbage" * 50)
    elif damage == "wrong-count":           # a valid array, but of 5 images
        np.save(cache, x1.numpy()[:5])
    else:
        np.save(cache, x1.numpy().astype(np.int16))
    monkeypatch.setattr(data, "_MEMO", {})
    x2, y2 = data.load("cifar10", "train", device="cpu")
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert cache.read_bytes() == good                      # re-made, not just worked around
    assert not list(cache.parent.glob("*.tmp"))


def test_undecodable_jpegs_are_a_clear_error(data_dir, monkeypatch):
    path = data_dir / "cifar10-jpeg.npz"
    _write_jpeg_npz(path)
    with np.load(path) as z:
        arrays = dict(z)
    arrays["train_jpeg"] = np.full_like(arrays["train_jpeg"], 7)      # no JPEG at all
    np.savez(path, **arrays)
    monkeypatch.setattr(data, "_MEMO", {})
    msg = _load_error("cifar10")
    assert "cannot be decoded" in msg and str(path) in msg
    arrays["train_offsets"] = arrays["train_offsets"][:-2]
    np.savez(path, **arrays)
    msg = _load_error("cifar10")
    assert "train_offsets has 11 entries for 12 labels" in msg


def test_load_on_cuda_without_cuda_is_a_clear_error(offline, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for dev in ("cuda", "cuda:0", torch.device("cuda")):
        with pytest.raises(ValueError, match="no CUDA GPU.*device='cpu'"):
            data.load("mnist", "test", device=dev)
    with pytest.raises(ValueError, match="not a device name"):
        data.load("mnist", "test", device="gpu")


@pytest.mark.parametrize("kwargs, match", [
    (dict(limit=True), "limit must be an integer"),
    (dict(limit=100.0), "limit must be an integer"),
    (dict(seed=-1), "seed must be >= 0"),
    (dict(seed="0"), "seed must be an integer"),
])
def test_load_refuses_bools_and_strings(offline, kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load("mnist", "test", **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=10_000), "empty"),
    (dict(batch_size=8, augment="rotate"), "augment"),
    (dict(batch_size=True), "batch_size must be an integer"),
    (dict(batch_size=8.0), "batch_size must be an integer"),
    (dict(batch_size=8, pad=True), "pad must be an integer"),
    (dict(batch_size=8, stats=((float("nan"),), (0.3,))), r"stats mean\[0\] must be a finite"),
    (dict(batch_size=8, stats=((0.1,), (float("nan"),))), r"stats std\[0\] must be a finite"),
    (dict(batch_size=8, stats=((0.1,), (float("inf"),))), r"stats std\[0\] must be a finite"),
    (dict(batch_size=8, stats=((0.1,), (0.0,))), r"stats std\[0\] must be > 0"),
    (dict(batch_size=8, stats=(("0.1",), (0.3,))), r"stats mean\[0\] must be a number"),
    (dict(batch_size=8, stats=((0.1, 0.2), (0.3, 0.3))), "with 1 finite values"),
    (dict(batch_size=8, stats=(0.1, 0.3)), "with 1 finite values"),
])
def test_loader_refuses_bad_values(tiny_data, kwargs, match):
    x, y = tiny_data
    with pytest.raises(ValueError, match=match):
        data.Loader(x, y, **kwargs)


def test_nan_stats_never_make_nan_batches(tiny_data):
    x, y = tiny_data
    ld = data.Loader(x, y, 64, stats=((0.2,), (0.3,)))
    assert all(bool(torch.isfinite(xb).all()) for xb, _ in ld)
    assert data.downscale(x, 6).shape == (640, 1, 6, 6)
    with pytest.raises(ValueError, match="size"):
        data.downscale(x, True)
