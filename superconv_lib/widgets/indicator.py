"""Notebook 04's panel: run the super-convergence indicator on a setup of your choice.

The indicator is ``indicator.indicator`` and the figure ``plots.indicators`` — the same calls the
notebook's cells make; this module only wires them to controls (model, batch norm on/off, weight
decay, batch size, max LR, iterations).
"""
from __future__ import annotations

from typing import Sequence

import ipywidgets as w
import torch

from .. import indicator as ind
from .. import models, plots
from ..data import Loader
from ._base import log_slider, run_panel

__all__ = ["indicator_panel", "PANEL_MODELS"]

PANEL_MODELS = ("resnet8", "resnet20", "resnet56", "plain_cnn")
"""Models with a batch-norm switch (``models.build(name, bn=...)``)."""


def indicator_panel(x_train: torch.Tensor, y_train: torch.Tensor, eval_data, *,
                    model: str = "resnet8", bn: bool = True, weight_decay: float = 1e-4,
                    batch_size: int = 100, max_lr: float = 3.0, num_iter: int = 300,
                    augment: str | None = None, points: int = 15,
                    reference: Sequence["ind.Indicator"] = ()):
    """Controls for the model, BN on/off, weight decay, batch size, max LR and iterations.

    Run builds ``data.Loader(x_train, y_train, batch_size, augment=augment)``, calls
    ``indicator(lambda: models.build(model, bn=bn), loader, eval_data, ...)`` with about ``points``
    accuracy evaluations over the sweep, and draws it with ``plots.indicators`` next to the
    ``reference`` indicators (e.g. the notebook's), followed by the ``table``.
    """
    if model not in PANEL_MODELS:
        raise ValueError(f"model must be one of {PANEL_MODELS} (they have a BN switch), "
                         f"got {model!r}.")
    n = len(x_train)
    batches = sorted({b for b in (50, 100, 128, 250, 500, 1000, batch_size) if b <= n})
    if batch_size not in batches:
        raise ValueError(f"batch_size {batch_size} is larger than the {n} training images.")
    controls = {
        "model": w.Dropdown(options=PANEL_MODELS, value=model, description="model"),
        "bn": w.Checkbox(value=bn, description="batch norm"),
        "weight_decay": log_slider("weight decay", weight_decay, 1e-6, 1e-2),
        "batch_size": w.Dropdown(options=batches, value=batch_size, description="batch"),
        "max_lr": w.FloatSlider(max_lr, min=0.25, max=6.0, step=0.25, description="max LR",
                                continuous_update=False),
        "num_iter": w.IntSlider(num_iter, min=30, max=max(10_000, num_iter), step=10,
                                description="iterations", continuous_update=False),
    }

    def run(model, bn, weight_decay, batch_size, max_lr, num_iter):
        loader = Loader(x_train, y_train, batch_size, augment=augment)
        label = (f"{model}{'' if bn else ' no BN'}, wd {weight_decay:.0e}, batch {batch_size}")
        mine = ind.indicator(lambda: models.build(model, bn=bn), loader, eval_data,
                             max_lr=max_lr, num_iter=num_iter,
                             eval_every=max(1, num_iter // points), weight_decay=weight_decay,
                             label=label)
        runs = [*reference, mine]
        plots.indicators(runs)
        print(ind.table(runs))
        print(mine.summary())

    return run_panel(controls, run, title="Super-convergence indicator: pick a setup, then Run")
