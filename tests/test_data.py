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


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=10_000), "empty"),
    (dict(batch_size=8, augment="rotate"), "augment"),
])
def test_loader_bad_args(tiny_data, kwargs, match):
    x, y = tiny_data
    with pytest.raises(ValueError, match=match):
        data.Loader(x, y, **kwargs)


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
