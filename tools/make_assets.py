"""Draw the course's figures into assets/ from the library (README course map, notebook headers).

Every figure is computed, not pasted: the schedule diagrams evaluate ``superconv_lib.schedules``;
the "run" figures train for a few seconds on CPU with the offline data (``SUPERCONV_DATA``) and say
so in their titles. PNGs are small (about 440x290 px at 80 dpi, well under 100 KB) so that the
README's thumbnails load fast.

    python tools/make_assets.py                    # every figure into assets/
    python tools/make_assets.py --no-runs          # only the figures that need no data
    python tools/make_assets.py --only one_cycle --out /tmp/assets
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from superconv_lib import plots, schedules  # noqa: E402

DPI = 80
SIZE = (5.5, 3.6)   # inches: 440 x 288 px at 80 dpi


def clr_policies() -> plt.Figure:
    """Notebook 02: Smith's three CLR policies over three cycles (stepsize 2,000 iterations)."""
    base, top, size = 0.001, 0.006, 2000
    fns = {mode: functools.partial(schedules.clr, base_lr=base, max_lr=top, step_size=size,
                                   mode=mode, gamma=0.99994)
           for mode in schedules.CLR_MODES}
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    plots.schedule_overlay(fns, 6 * size + 1, ax=ax, log=False,
                           title="Cyclical learning rates (stepsize = 2,000 iterations)")
    ax.set_ylim(0.0005, 0.0075)
    ax.legend(loc="upper center", ncols=3, fontsize=8)
    return fig


def one_cycle() -> plt.Figure:
    """Notebook 03: 1cycle with cyclical momentum (lr 0.008 → 0.08 → 0.008, then annealing)."""
    total = 1000
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    lr_ax, mom_ax = plots.schedule(functools.partial(schedules.one_cycle, total_steps=total,
                                                     max_lr=0.08), total + 1, ax=ax, log=False)
    lr_ax.set_title("1cycle: one lr cycle, then annealing; momentum mirrors it")
    return fig


def range_test() -> plt.Figure:
    """Notebook 01: an LR range test of LeNet on 2,000 MNIST images (CPU, a few seconds)."""
    from superconv_lib import config, data, lr_finder, models
    config.seed_everything(0)
    x, y = data.load("mnist", "train", limit=2000, device="cpu")
    loader = data.Loader(x, y, batch_size=64, seed=0)
    test = lr_finder.range_test(models.lenet(), loader, start_lr=1e-5, end_lr=10.0,
                                num_iter=200, progress=False)
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    test.plot(ax=ax)
    ax.set_title("LR range test: LeNet, 2,000 MNIST images, 200 iterations", fontsize=10)
    return fig


def hessian_free() -> plt.Figure:
    """Notebook 05: the Hessian-free optimal-lr estimate during a short 1cycle run of LeNet."""
    from superconv_lib import config, data, hessian, models
    config.seed_everything(0)
    x, y = data.load("mnist", "train", limit=2000, device="cpu")
    loader = data.Loader(x, y, batch_size=64, seed=0)
    steps = 300   # the range test above diverges near lr 0.15: peak well below it
    est = hessian.run(models.lenet(), loader, steps=steps, every=5, progress=False,
                      lr=functools.partial(schedules.one_cycle, total_steps=steps, max_lr=0.03),
                      label="LeNet, 1cycle")
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    hessian.plot({"LeNet, 1cycle": est}, ax=ax)
    ax.set_title("Estimated optimal lr during training (MNIST, 2,000 images)", fontsize=10)
    return fig


def indicator() -> plt.Figure:
    """Notebook 04: accuracy-based range tests to lr 3 with and without batch norm. On a GPU:
    ResNet-56 on all of CIFAR-10, the paper's setting (minutes); on a CPU: ResNet-8 on 5,000
    images for 600 iterations (about 15 minutes; lower accuracies — regenerate it on a GPU)."""
    from superconv_lib import config, data, lr_finder, models
    gpu = config.device().type == "cuda"
    depth, limit, iters, every = (56, None, 3000, 150) if gpu else (8, 5000, 600, 30)
    x, y = data.load("cifar10", "train", limit=limit)
    xt, yt = data.load("cifar10", "test", limit=2000 if gpu else 1000)
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    for bn, color in ((True, "C0"), (False, "C3")):
        config.seed_everything(0)
        loader = data.Loader(x, y, batch_size=128 if gpu else 64, seed=0)
        test = lr_finder.range_test(models.resnet_cifar(depth, bn=bn), loader, start_lr=0.0,
                                    end_lr=3.0, num_iter=iters, mode="linear", metric="accuracy",
                                    eval_data=(xt, yt), eval_every=every, progress=False)
        pts = test.eval_points
        ax.plot([p.lr for p in pts], [100 * p.accuracy for p in pts], ".-", color=color,
                label=f"ResNet-{depth} {'with' if bn else 'without'} batch norm")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    images = "all 50,000" if limit is None else f"{limit:,}"
    ax.set_title(f"Accuracy range test to lr 3 (CIFAR-10, {images} images, {iters} it.)",
                 fontsize=10)
    return fig


def seed_targets() -> plt.Figure:
    """Notebook 06: the EPFL seed's Table I — their accuracies, the targets our sweep reproduces."""
    from superconv_lib import sweep
    def label(c):
        mom = "cyc. mom." if c["mom_min"] != c["mom_max"] else f"mom. {c['mom_max']:g}"
        return (f"lr {c['lr_min']:g}–{c['lr_max']:g}, {mom}, {c['anneal_pct']:g}% anneal, "
                f"{c['epochs']:g} ep")
    rows = [(label(c), c["target"]) for c in sweep.seed_table1()]
    adam = sweep.seed_adam()
    rows.append((f"Adam, lr {adam['lr_max']:g}, {adam['epochs']:g} ep", adam["target"]))
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    names, acc = zip(*rows)
    ax.barh(range(len(rows)), [100 * a for a in acc],
            color=["C1" if "adam" in n.lower() else "C0" for n in names])
    ax.set_yticks(range(len(rows)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(75, 92)
    ax.set_xlabel("validation accuracy (%), as published")
    ax.set_title("EPFL seed's Table I, ResNet-18 on CIFAR-10", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    return fig


def seed_mnist() -> plt.Figure:
    """Notebook 03: the seed's key MNIST figure from our own runs — LeNet, full MNIST, batch 64:
    1cycle for 12 epochs against Caffe's ``inv`` policy for 85 (notebook 03's settings). About a
    minute on a GPU; about half an hour on a 2-core CPU."""
    from superconv_lib import config, data, models, train
    x, y = data.load("mnist", "train")
    xt, yt = data.load("mnist", "test")
    loader = data.Loader(x, y, batch_size=64, stats=((0.0,), (1.0,)))
    steps = 12 * len(loader)
    runs = {
        "1cycle 0.01→0.1→0.01, 12 epochs": dict(
            steps=steps, lr=schedules.one_cycle_schedule(steps, 0.1, div=10, pct_start=0.45,
                                                         pct_anneal=0.1, final_div=100,
                                                         moms=(0.95, 0.85))),
        "Caffe inv (lr 0.01), 85 epochs": dict(
            epochs=85, lr=functools.partial(schedules.inv, base_lr=0.01, gamma=1e-4, power=0.75),
            momentum=0.9),
    }
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    for (name, kw), color in zip(runs.items(), ("C0", "C1")):
        config.seed_everything(0)
        loader.epoch = 0
        h = train.fit(models.lenet(), loader, weight_decay=5e-4, eval_data=(xt, yt),
                      progress=False, label=name, **kw)
        print(f"  {name}: final {h.final_accuracy:.2%}, best {h.best_accuracy:.2%}, "
              f"{h.wall_time:.0f} s on {h.info['device']} ({h.info['fast']})")
        ax.plot(h.eval_array("epoch"), 100 * h.eval_array("accuracy"), color=color,
                label=f"{name}: {h.final_accuracy:.2%}")
    ax.set_xscale("log")
    ax.set_xlabel("epoch (log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(97.0, 99.6)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    dev = "GPU" if config.device().type == "cuda" else "CPU"
    ax.set_title(f"LeNet on MNIST, batch 64: our runs ({dev})", fontsize=10)
    return fig


# name -> (function, needs offline data and a short training run)
FIGURES: dict[str, tuple[Callable[[], plt.Figure], bool]] = {
    "clr_policies": (clr_policies, False),
    "one_cycle": (one_cycle, False),
    "range_test": (range_test, True),
    "hessian_free": (hessian_free, True),
    "indicator": (indicator, True),
    "seed_mnist": (seed_mnist, True),
    "seed_targets": (seed_targets, False),
}


def save(fig: plt.Figure, path: Path) -> None:
    # No "Software" tag: the bytes then depend on the drawing, not on the matplotlib version string.
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "assets")
    ap.add_argument("--only", nargs="*", choices=sorted(FIGURES), help="figures to draw")
    ap.add_argument("--no-runs", action="store_true",
                    help="skip figures that train (they need SUPERCONV_DATA)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, (make, needs_run) in FIGURES.items():
        if (args.only and name not in args.only) or (needs_run and args.no_runs):
            continue
        path = args.out / f"{name}.png"
        try:
            save(make(), path)
        except Exception as e:  # e.g. no offline data: say so, draw the others
            print(f"skipped {name}: {type(e).__name__}: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
