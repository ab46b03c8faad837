"""Notebook 05's panel: the Hessian-free optimal-lr estimate under the schedule, sampling interval,
smoothing and model you pick. It calls exactly what the notebook's cells call:
``experiments.comparison_schedules`` → ``hessian.runs`` → ``plots.hessian``."""
from __future__ import annotations

import math

import ipywidgets as w

from .. import experiments, hessian, plots
from ._base import run_panel

__all__ = ["panel", "SCHEDULE_CHOICES"]

# which of comparison_schedules()' three runs each choice trains (by position: cycle, constant,
# piecewise)
SCHEDULE_CHOICES = {
    "1cycle vs constant": (0, 1),
    "1cycle vs piecewise": (0, 2),
    "all three": (0, 1, 2),
    "1cycle": (0,),
    "constant": (1,),
    "piecewise": (2,),
}


def panel(loaders: dict, *, steps: int, eval_data: dict | None = None, every: int = 10,
          smoothing: float = 0.1, model: str = "lenet", batch_note: str = ""):
    """Controls: schedule (which of 1cycle / constant / piecewise to train), ``every`` (iterations
    between estimates), ``smoothing`` (α of the moving average) and model (LeNet on MNIST, CIFAR
    ResNets on CIFAR-10). ``loaders`` maps ``"mnist"`` / ``"cifar10"`` to a ``data.Loader``;
    ``eval_data`` (same keys, optional) to ``(images, labels)``; ``steps`` is the budget in
    iterations of each run. The lr values come from ``experiments.HESSIAN_PRESETS`` for the model's dataset.
    Every Run starts from seed 0 and the loaders' current data order."""
    if not loaders:
        raise ValueError("loaders must map 'mnist' and/or 'cifar10' to a data.Loader.")
    names = [m for m, d in (("lenet", "mnist"), ("resnet8", "cifar10"), ("resnet20", "cifar10"),
                            ("resnet56", "cifar10")) if d in loaders]
    if model not in names:
        model = names[0]
    controls = {
        "schedule": w.Dropdown(options=list(SCHEDULE_CHOICES), value="1cycle vs constant",
                               description="schedule"),
        "every": w.IntSlider(every, 1, 50, description="every (it)"),
        "smoothing": w.FloatSlider(smoothing, min=0.02, max=1.0, step=0.02, description="smoothing α"),
        "model": w.Dropdown(options=names, value=model, description="model"),
    }

    def run(schedule: str, every: int, smoothing: float, model: str):
        dataset = "mnist" if model == "lenet" else "cifar10"
        preset = experiments.HESSIAN_PRESETS[dataset]
        all_lrs = list(experiments.comparison_schedules(steps, cycle=preset["cycle"],
                                                        standard=preset["standard"]).items())
        lrs = dict(all_lrs[i] for i in SCHEDULE_CHOICES[schedule])
        runs = hessian.runs(model, loaders[dataset], lrs, steps=steps, every=every,
                               smoothing=smoothing, weight_decay=preset["weight_decay"],
                               eval_data=(eval_data or {}).get(dataset), eval_every=steps)
        ax = plots.hessian(runs)
        ax.set_title(f"{model}, {steps} iterations{batch_note}")
        for name, est in runs.items():
            lo, hi = est.range(after=steps // 10)
            acc = est.history.final_accuracy
            print(f"{name:>20}: smoothed estimate {lo:.3g}–{hi:.3g} (after iteration {steps // 10})"
                  + ("" if math.isnan(acc) else f", final accuracy {acc:.1%}"))

    return run_panel(controls, run, loaders=list(loaders.values()),
                     title="Hessian-free optimal learning rate during training")
