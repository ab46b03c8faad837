"""Notebook 03's panel: shape a 1cycle schedule (lr and cyclical momentum), watch it, train with it.

The schedule is ``schedules.one_cycle`` and training is ``train.fit`` — the same calls the
notebook's cells make; this module only wires them to controls.
"""
from __future__ import annotations

from typing import Mapping

import ipywidgets as w

from .. import models, plots, schedules, train
from ..data import Loader
from ._base import log_slider, run_panel

__all__ = ["one_cycle_panel"]


def one_cycle_panel(loader: Loader, eval_data: "tuple | Loader", *, model: str = "lenet",
                    max_lr: float = 0.1,
                    div: float = 10.0, pct_start: float = 0.45, pct_anneal: float = 0.1,
                    moms: tuple[float, float] = (0.95, 0.85), shape: str = "linear",
                    epochs: int = 12, weight_decay: float = 5e-4,
                    reference: "Mapping[str, train.History] | None" = None):
    """Controls for max lr, div, pct_start, pct_anneal, the momentum range, the leg shape, epochs
    and weight decay.

    The lr/momentum plot (against epochs) redraws as a control moves. Run trains a fresh
    ``models.build(model)`` on ``loader`` with ``train.fit`` and draws its test accuracy next to
    the ``reference`` runs (e.g. the notebook's baseline), plus the ``train.table``. Every
    Run starts from seed 0 and the loader's current data order; a run that diverges is reported
    in one line with its loss curve.
    """
    spe = len(loader)
    style = {"description_width": "initial"}
    controls = {
        "max_lr": log_slider("max lr", max_lr, 1e-3, 10.0),
        "div": w.FloatLogSlider(div, base=10, min=0, max=2, step=0.05, description="div",
                                continuous_update=False),
        "pct_start": w.FloatSlider(pct_start, min=0.05, max=0.9, step=0.05, description="pct_start",
                                   continuous_update=False),
        "pct_anneal": w.FloatSlider(pct_anneal, min=0.0, max=0.5, step=0.05,
                                    description="pct_anneal", continuous_update=False),
        "moms": w.FloatRangeSlider(value=(min(moms), max(moms)), min=0.5, max=0.99, step=0.01,
                                   description="momentum range", continuous_update=False,
                                   style=style),
        "shape": w.Dropdown(options=schedules.SHAPES, value=shape, description="legs"),
        "epochs": w.IntSlider(epochs, min=1, max=40, description="epochs", continuous_update=False),
        "weight_decay": log_slider("weight decay", weight_decay, 1e-6, 1e-2),
    }

    def schedule_of(max_lr, div, pct_start, pct_anneal, moms, shape, epochs, weight_decay):
        # the range slider gives (low, high); 1cycle wants (momentum at low lr, at max lr)
        return schedules.one_cycle(epochs * spe, max_lr, div=div, pct_start=pct_start,
                                   pct_anneal=pct_anneal, moms=(moms[1], moms[0]), shape=shape)

    def preview(**v):
        ax, _ = plots.schedule(schedule_of(**v), v["epochs"] * spe, steps_per_epoch=spe)
        ax.figure.set_size_inches(7, 2.6)

    def run(**v):
        steps = v["epochs"] * spe
        label = (f"1cycle {v['max_lr'] / v['div']:.2g}->{v['max_lr']:.2g}, mom "
                 f"{v['moms'][1]:.2f}->{v['moms'][0]:.2f}, {v['epochs']} ep")
        h = train.fit(models.build(model), loader, steps=steps, lr=schedule_of(**v),
                      weight_decay=v["weight_decay"], eval_data=eval_data, label=label)
        runs = {**(reference or {}), label: h}
        plots.compare(runs, title="test accuracy")
        print(train.table(runs))

    return run_panel(controls, run, preview=preview, loaders=[loader],
                     title="1cycle: shape the cycle, then Run to train")
