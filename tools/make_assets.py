"""Draw the course's figures into assets/ from the library (README course map, notebook headers).

Every figure is computed, not pasted: the schedule diagrams evaluate ``superconv_lib.schedules``;
the "run" figures train with the offline data (``SUPERCONV_DATA``): the CIFAR ones at the laptop
size of ``superconv_lib.experiments`` on a CPU (a few minutes each), at the full size on a GPU,
and their titles name the size and the hardware. PNGs are small (about 440x290 px at 80 dpi, well under 100 KB) so that the
README's thumbnails load fast.

    python tools/make_assets.py                    # every figure into assets/
    python tools/make_assets.py --no-runs          # only the figures that need no data
    python tools/make_assets.py --only one_cycle --out /tmp/assets
"""
from __future__ import annotations

import argparse
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
    fns = {mode: schedules.clr(base, top, size, mode=mode, gamma=0.99994)
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
    lr_ax, mom_ax = plots.schedule(schedules.one_cycle(total + 1, max_lr=0.08), total + 1, ax=ax,
                                   log=False)
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


def _where() -> str:
    """The hardware, for the titles of figures drawn from runs: the GPU's name or 'N-core CPU'."""
    import os

    import torch
    from superconv_lib import config
    dev = config.device()
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{os.cpu_count()}-core CPU"


def _mode() -> str:
    """The size the run figures are drawn at: full on a GPU, laptop elsewhere."""
    from superconv_lib import config
    return "full" if config.device().type == "cuda" else "laptop"


def hessian_free() -> plt.Figure:
    """Notebook 05: the Hessian-free optimal-lr estimate under 1cycle 0.1 -> 3 and under a constant
    0.35, CIFAR-10 ResNet at the laptop size on a CPU (the full size on a GPU)."""
    from superconv_lib import experiments
    S = experiments.sizes("05", _mode())
    est = experiments.hessian_cifar(S)
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    plots.hessian(est, ax=ax)
    acc = ", ".join(f"{k.split()[0]} {e.history.final_accuracy:.0%}" for k, e in est.items())
    ax.set_title(f"Estimated optimal lr, {S['cifar_model']} / CIFAR-10 ({acc})\n"
                 f"{_mode()} size, {S['cifar_steps']} iterations, {_where()}", fontsize=9)
    return fig


def indicator() -> plt.Figure:
    """Notebook 04: the indicator (accuracy range test 0 -> 3) of the BN ResNet against its
    contrasts, at the laptop size on a CPU (about 2 minutes) or the full size on a GPU."""
    from superconv_lib import experiments, models
    from superconv_lib import indicator as ind
    mode = _mode()
    S = experiments.sizes("04", mode)
    loader, ev = experiments.cifar(S, "train_limit", "batch", "flip")
    kw = dict(max_lr=3.0, num_iter=S["num_iter"], eval_every=S["eval_every"], progress=False)
    runs = [ind.indicator(lambda: models.build(S["model"]), loader, ev, label="with BN", **kw),
            ind.indicator(lambda: models.build(S["model"], bn=False), loader, ev, label="no BN",
                          **kw),
            ind.indicator(lambda: models.plain_cnn(width=S["plain_width"]), loader, ev,
                          label="plain CNN", **kw)]
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    plots.indicators(runs, ax=ax)
    ax.set_title(f"Indicator, {S['model']}: BN score {runs[0].score:.2f} "
                 f"({mode} size, {S['num_iter']} it., {_where()})", fontsize=9)
    return fig


def super_convergence() -> plt.Figure:
    """Notebook 04: 1cycle 0.1 -> 3 against piecewise-constant at the same iterations and at 4x,
    at the laptop size on a CPU (the full size on a GPU)."""
    from superconv_lib import experiments, models
    mode = _mode()
    S = experiments.sizes("04", mode)
    loader, ev = experiments.cifar(S, "sc_train_limit", "sc_batch", "flip")
    runs, _ = experiments.one_cycle_vs_piecewise(lambda: models.build(S["model"]), loader, ev,
                                                 steps=S["sc_iters"], long=True,
                                                 eval_every=S["sc_eval_every"])
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    for (name, h), color in zip(runs.items(), ("C0", "C1", "C7")):
        ax.plot(h.eval_array("step"), 100 * h.eval_array("accuracy"), ".-", color=color,
                label=f"{name}: {h.final_accuracy:.1%}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"1cycle 0.1→3 vs piecewise 0.35, {S['model']} / CIFAR-10\n"
                 f"({mode} size, {_where()})", fontsize=9)
    return fig


def seed_targets() -> plt.Figure:
    """Notebook 06: the EPFL seed's Table I — their accuracies, the targets our sweep reproduces."""
    from superconv_lib import experiments
    def label(c):
        mom = "cyc. mom." if c["mom_min"] != c["mom_max"] else f"mom. {c['mom_max']:g}"
        return (f"lr {c['lr_min']:g}–{c['lr_max']:g}, {mom}, {c['anneal_pct']:g}% anneal, "
                f"{c['epochs']:g} ep")
    rows = [(label(c), c["target"]) for c in experiments.epfl_table1()]
    adam = experiments.epfl_adam()
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
            steps=steps, lr=schedules.one_cycle(steps, 0.1, div=10, pct_start=0.45,
                                                pct_anneal=0.1, final_div=100,
                                                moms=(0.95, 0.85))),
        "Caffe inv (lr 0.01), 85 epochs": dict(
            epochs=85, lr=schedules.inv(0.01, gamma=1e-4, power=0.75),
            momentum=0.9),
    }
    fig, (ax,) = plots.new_axes(width=SIZE[0], height=SIZE[1])
    for (name, kw), color in zip(runs.items(), ("C0", "C1")):
        config.seed_everything(0)
        loader.epoch = 0
        h = train.fit(models.lenet(), loader, weight_decay=5e-4, eval_data=(xt, yt),
                      progress=False, label=name, **kw)
        print(f"  {name}: final {h.final_accuracy:.2%}, best {h.best_accuracy:.2%}, "
              f"{h.wall_time:.0f} s on {h.info['device']} ({h.info['step_path']})")
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
    "super_convergence": (super_convergence, True),
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
