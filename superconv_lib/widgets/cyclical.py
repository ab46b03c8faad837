"""Notebook 02's panel: pick a cyclical-learning-rate policy, watch its schedule, train with it.

The schedule is ``schedules.clr`` (or a constant for ``"fixed"``) and training is ``train.fit`` —
the same calls the notebook's cells make; this module only wires them to controls.
"""
from __future__ import annotations

from typing import Callable, Mapping

import ipywidgets as w

from .. import models, plots, schedules, train
from ..data import Loader
from ._base import log_slider, run_panel

__all__ = ["POLICIES", "policy_schedule", "clr_panel"]

POLICIES = ("fixed",) + schedules.CLR_MODES
"""``"fixed"`` (a constant lr) and Smith's three CLR policies."""


def policy_schedule(policy: str, base_lr: float, max_lr: float, step_size: int,
                    gamma: float = 1.0) -> Callable[[int], float]:
    """The lr as a function of the iteration for one of ``POLICIES``.

    ``"fixed"`` is the constant ``base_lr``; the CLR policies cycle between ``base_lr`` and
    ``max_lr`` with a *stepsize* of ``step_size`` iterations (half a cycle); ``gamma`` is the
    per-iteration amplitude decay of ``"exp_range"`` (ignored by the others).
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)} (got {policy!r}).")
    if policy == "fixed":
        if not base_lr > 0:
            raise ValueError(f"the fixed policy trains at base_lr, which must be > 0 (got {base_lr!r}).")
        return lambda step: float(base_lr)
    return schedules.clr(base_lr, max_lr, step_size, policy, gamma)


def clr_panel(loader: Loader, eval_data: "tuple | Loader", *, model: str = "lenet",
              policy: str = "triangular",
              base_lr: float = 0.01, max_lr: float = 0.1, stepsize_epochs: float = 2.0,
              gamma: float = 0.9999, epochs: int = 8, weight_decay: float = 5e-4,
              reference: "Mapping[str, train.History] | None" = None):
    """Controls for policy, base/max lr, stepsize (in **epochs**), gamma and epochs.

    The schedule plot (lr against epochs) redraws as a control moves; Run trains a fresh
    ``models.build(model)`` on ``loader`` with ``train.fit`` and draws its test accuracy next to
    the ``reference`` runs (e.g. the notebook's fixed-lr run), plus the ``train.table``.
    Every Run starts from seed 0 and the loader's current data order, so the same settings give
    the same result; a run that diverges is reported in one line with its loss curve.
    """
    spe = len(loader)
    controls = {
        "policy": w.Dropdown(options=POLICIES, value=policy, description="policy"),
        "base_lr": log_slider("base lr", base_lr, 1e-4, 1.0),
        "max_lr": log_slider("max lr", max_lr, 1e-4, 10.0),
        "stepsize_epochs": w.FloatSlider(stepsize_epochs, min=0.5, max=10, step=0.5,
                                         description="stepsize (epochs)", continuous_update=False,
                                         style={"description_width": "initial"}),
        "gamma": w.FloatSlider(gamma, min=0.98, max=1.0, step=1e-5, readout_format=".5f",
                               description="gamma (exp_range)", continuous_update=False,
                               style={"description_width": "initial"}),
        "epochs": w.IntSlider(epochs, min=1, max=60, description="epochs", continuous_update=False),
    }

    def schedule_of(policy, base_lr, max_lr, stepsize_epochs, gamma, epochs):
        step_size = max(1, round(stepsize_epochs * spe))
        return policy_schedule(policy, base_lr, max_lr, step_size, gamma), epochs * spe, step_size

    def preview(**v):
        fn, steps, step_size = schedule_of(**v)
        ax = plots.schedule_overlay({v["policy"]: fn}, steps, steps_per_epoch=spe,
                                    title=f"stepsize {step_size} iterations = "
                                          f"{step_size / spe:.3g} epochs; "
                                          f"{steps / (2 * step_size):.3g} cycles")
        ax.figure.set_size_inches(7, 2.6)

    def run(**v):
        fn, steps, _ = schedule_of(**v)
        label = f"{v['policy']} {v['base_lr']:.3g}" + (
            f"-{v['max_lr']:.3g}" if v["policy"] != "fixed" else "")
        h = train.fit(models.build(model), loader, steps=steps, lr=fn,
                      weight_decay=weight_decay, eval_data=eval_data, label=label)
        runs = {**(reference or {}), label: h}
        plots.compare(runs, title="test accuracy")
        print(train.table(runs))

    return run_panel(controls, run, preview=preview, loaders=[loader],
                     title="Cyclical learning rates: choose a policy, then Run to train")
