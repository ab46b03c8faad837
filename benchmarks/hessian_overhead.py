"""How much does recording the Hessian-free estimate slow training down?

Times ``train.fit`` with and without ``hessian.HessianFreeLR`` on the same model, data and
schedule, alternating the two so that a busy machine penalises both alike, and prints the ratio of
the median wall times. The target is "a few percent" at ``every=10``.

    python benchmarks/hessian_overhead.py                          # LeNet / MNIST subset
    python benchmarks/hessian_overhead.py --model resnet56 --batch 1000 --steps 200   # on a GPU

Uses ``SUPERCONV_DATA`` / ``SUPERCONV_DEVICE`` like the notebooks. Not a test: timings depend on
the machine. On a shared CPU the ratio is noisy; the share of time spent inside the callback's
hooks (also printed) is the steadier number there.
"""
from __future__ import annotations

import argparse
import statistics
import time

from superconv_lib import config, data, hessian, models, train


class _Timed(hessian.HessianFreeLR):
    """The callback, also summing the host time spent in its hooks (on a GPU: launch cost only)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seconds = 0.0

    def _timed(self, hook, loop, *rest) -> None:
        t = time.perf_counter()
        hook(loop, *rest)
        self.seconds += time.perf_counter() - t

    def on_train_begin(self, loop) -> None:
        self.seconds = 0.0
        self._timed(super().on_train_begin, loop)

    def on_step_end(self, loop) -> None:
        self._timed(super().on_step_end, loop)

    def on_losses(self, loop, *rest) -> None:
        self._timed(super().on_losses, loop, *rest)

    def on_train_end(self, loop) -> None:
        self._timed(super().on_train_end, loop)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lenet", choices=sorted(models.MODELS))
    ap.add_argument("--limit", type=int, default=2000, help="training images (class-balanced)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--steps", type=int, default=200, help="iterations per timed run")
    ap.add_argument("--every", type=int, default=10, help="HessianFreeLR(every=...)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each kind")
    args = ap.parse_args(argv)

    name = "mnist" if args.model == "lenet" else "cifar10"
    x, y = data.load(name, "train", limit=args.limit)
    loader = data.Loader(x, y, batch_size=args.batch)
    print(config.report())
    print(f"{args.model} on {args.limit} {name} images, batch {args.batch}, {args.steps} iterations, "
          f"every={args.every}")

    hook_share: list[float] = []

    def timed(with_estimate: bool) -> float:
        config.seed_everything(0)
        cbs = [_Timed(every=args.every)] if with_estimate else []
        h = train.fit(models.build(args.model), loader, steps=args.steps, lr=0.01,
                      callbacks=cbs, progress=False)
        if with_estimate:
            hook_share.append(cbs[0].seconds / h.wall_time)
        return h.wall_time

    timed(False)  # warm-up: allocator, kernels, cuDNN autotuning
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for kind in (False, True):
            times[kind].append(timed(kind))
    base, with_cb = statistics.median(times[False]), statistics.median(times[True])
    print(f"without: median {base:.3f} s  ({', '.join(f'{t:.3f}' for t in times[False])})")
    print(f"with   : median {with_cb:.3f} s  ({', '.join(f'{t:.3f}' for t in times[True])})")
    print(f"ratio with/without: {with_cb / base:.3f}  (overhead {100 * (with_cb / base - 1):+.1f}%)")
    # the time inside the callback's hooks, as a share of the run: robust to a busy machine
    print(f"time inside the callback's hooks: {100 * statistics.median(hook_share):.2f}% of each run")


if __name__ == "__main__":
    main()
