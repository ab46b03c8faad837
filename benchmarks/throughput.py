"""Throughput of the course's training loop against two references, per model.

    python benchmarks/throughput.py                 # all models, sizes chosen for this device
    python benchmarks/throughput.py --models lenet --steps 200

For each model it prints images/s of
  (a) ``train.fit`` with its defaults (``step_path="auto"``, bf16 on a GPU: a CUDA graph per step
      there), device-side augmentation included — the loop every notebook uses — and which path
      and precision it took,
  (e) ``train.fit(step_path="eager")``, the same loop with the eager torch.optim step,
  (b) the raw eager step (``train.train_step``: forward, loss, backward, SGD step; channels_last
      on CUDA, in the precision (a) took) on one fixed device batch: no data, no schedule, no
      bookkeeping, and
  (c) a typical loop: torchvision ``Dataset`` of PIL images + transforms + ``DataLoader``, fp32,
the ratios a/b (target on an H100: ≥ 0.9, above 1 where the graph removes launch overhead), e/b
and a/c (target: ≥ 3 on a GPU, ≥ 1.5 on a CPU), seconds per epoch of (a) over the whole training
set, and the share of a raw step that augmentation adds (target < 10 %). Needs the datasets
(``SUPERCONV_DATA`` or a download). A benchmark, never a test.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from superconv_lib import config, data, models, train

CASES = {  # model, dataset, batch size, augmentation (the sizes of issue 7's reference figures)
    "lenet": ("lenet", "mnist", 512, None),
    "lenet-bs64": ("lenet", "mnist", 64, None),
    "resnet20": ("resnet20", "cifar10", 1000, "crop+flip"),
    "resnet56": ("resnet56", "cifar10", 1000, "crop+flip"),
    "resnet18": ("resnet18", "cifar10", 512, "crop+flip"),
}
TRAIN_SIZE = {"mnist": 60_000, "cifar10": 50_000}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def bench_fit(model_name: str, x, y, bs: int, aug, steps: int, warmup: int,
              step_path: str = "auto") -> tuple[float, str]:
    """Images/s of fit in steady state (``wall_time`` leaves out fit's one-off set-up, the graph
    capture, in ``info["setup_s"]``), and the "path/precision" it took."""
    loader = data.Loader(x, y, bs, augment=aug)
    model = models.build(model_name)
    train.fit(model, loader, steps=warmup, lr=0.01, progress=False, step_path=step_path)
    h = train.fit(model, loader, steps=steps, lr=0.01, progress=False, step_path=step_path)
    return steps * bs / h.wall_time, f"{h.info['step_path']}/{h.info['precision']}"


def bench_raw(model_name: str, x, y, bs: int, steps: int, warmup: int, precision: str) -> float:
    """Images/s of the eager model step alone, in the precision fit chose."""
    dev = x.device
    model = models.build(model_name).to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loader = data.Loader(x[:bs], y[:bs], bs, shuffle=False)
    xb, yb = next(iter(loader))
    for _ in range(warmup):
        train.train_step(model, opt, xb, yb, precision)
    _sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        train.train_step(model, opt, xb, yb, precision)
    _sync(dev)
    return steps * bs / (time.perf_counter() - t)


def bench_augment(x, y, bs: int, aug, batches: int = 20) -> float:
    """Seconds per batch that augmentation adds to the loader (0 when the case has none)."""
    if not aug:
        return 0.0
    dev = x.device
    out = []
    for a in (None, aug):
        loader = data.Loader(x, y, bs, augment=a)
        it = iter(loader)
        next(it)
        _sync(dev)
        t = time.perf_counter()
        n = 0
        for _ in range(batches):
            try:
                next(it)
            except StopIteration:
                it = iter(loader)
                next(it)
            n += 1
        _sync(dev)
        out.append((time.perf_counter() - t) / n)
    return max(0.0, out[1] - out[0])


class _PILDataset(torch.utils.data.Dataset):
    """What most tutorials do: one PIL image per __getitem__, torchvision transforms per image."""

    def __init__(self, x: np.ndarray, y: np.ndarray, transform) -> None:
        self.x, self.y, self.t = x, y, transform

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        from PIL import Image
        img = self.x[i]
        img = Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0))
        return self.t(img), int(self.y[i])


def bench_typical(model_name: str, x, y, bs: int, aug, steps: int, warmup: int, workers: int) -> float:
    from torchvision import transforms as T
    dev = x.device
    xs, ys = x.cpu().numpy(), y.cpu().numpy()
    mean = (xs / 255.0).mean(axis=(0, 2, 3)).tolist()
    std = (xs / 255.0).std(axis=(0, 2, 3)).tolist()
    tf = ([T.RandomCrop(xs.shape[-1], padding=4), T.RandomHorizontalFlip()] if aug else []) + \
         [T.ToTensor(), T.Normalize(mean, std)]
    dl = torch.utils.data.DataLoader(_PILDataset(xs, ys, T.Compose(tf)), batch_size=bs, shuffle=True,
                                     drop_last=True, num_workers=workers,
                                     pin_memory=dev.type == "cuda", persistent_workers=workers > 0)
    model = models.build(model_name).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    model.train()

    def batches():
        while True:
            yield from dl
    it = batches()
    t = None
    for i in range(warmup + steps):
        if i == warmup:
            _sync(dev)
            t = time.perf_counter()
        xb, yb = next(it)
        xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()          # the per-step host sync a typical loop has (logging)
    _sync(dev)
    return steps * bs / (time.perf_counter() - t)


HEADER = (f"{'case':<11} {'bs':>5} {'(a) fit img/s':>14} {'path':>13} {'(e) eager':>10} "
          f"{'(b) raw img/s':>14} {'(c) typical':>12} {'a/b':>6} {'e/b':>6} {'a/c':>6} {'s/epoch':>8} "
          f"{'aug %':>6}")


def measure(name: str, *, steps: int | None = None, warmup: int | None = None, workers: int = 0,
            max_batch: int | None = None, limit: int | None = None) -> dict:
    """One row of the table for ``CASES[name]``: images/s of (a), (e), (b), (c), their ratios,
    seconds per epoch of (a) over the whole training set and the augmentation share. Sizes are
    chosen for the device unless given; ``max_batch`` and ``limit`` (training images) shrink a run
    (a CPU smoke test)."""
    model_name, ds, bs, aug = CASES[name]
    gpu = config.device().type == "cuda"
    heavy = model_name != "lenet"
    steps = steps or (100 if gpu else (3 if heavy else 60))
    warmup = warmup if warmup is not None else (10 if gpu else (1 if heavy else 5))
    if not gpu and heavy:
        bs = min(bs, 128)              # keep a CPU run to minutes; the ratios are what matter
    if max_batch is not None:
        bs = min(bs, max_batch)
    if limit is None and not gpu:
        limit = max(bs * 4, 2000)
    x, y = data.load(ds, "train", limit=limit)
    a, path = bench_fit(model_name, x, y, bs, aug, steps, warmup)
    e = a if path.startswith("eager") else bench_fit(model_name, x, y, bs, aug, steps, warmup,
                                                       step_path="eager")[0]
    b = bench_raw(model_name, x, y, bs, steps, warmup, precision=path.split("/")[1])
    c = bench_typical(model_name, x, y, bs, aug, steps, warmup, workers)
    aug_share = bench_augment(x, y, bs, aug) / (bs / b)
    return {"case": name, "batch": bs, "fit": a, "path": path, "eager": e, "raw": b, "typical": c,
            "a/b": a / b, "e/b": e / b, "a/c": a / c, "s/epoch": TRAIN_SIZE[ds] / a,
            "aug_share": aug_share}


def format_row(r: dict) -> str:
    """A :func:`measure` row as a line of the printed table (columns as :data:`HEADER`)."""
    return (f"{r['case']:<11} {r['batch']:>5} {r['fit']:>14,.0f} {r['path']:>13} {r['eager']:>10,.0f} "
            f"{r['raw']:>14,.0f} {r['typical']:>12,.0f} {r['a/b']:>6.2f} {r['e/b']:>6.2f} "
            f"{r['a/c']:>6.2f} {r['s/epoch']:>8.2f} {100 * r['aug_share']:>5.1f}%")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--steps", type=int, default=None, help="timed iterations per measurement")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                    help="DataLoader workers of the typical loop")
    args = ap.parse_args(argv)
    print(config.report())
    print(HEADER)
    for name in args.models:
        print(format_row(measure(name, steps=args.steps, warmup=args.warmup, workers=args.workers)),
              flush=True)


if __name__ == "__main__":
    main()
