"""Notebook 01's panel: run the LR range test with your own sweep, smoothing and batch size.

A thin layer over :func:`superconv_lib.lr_finder.range_test` — the same call a cell makes.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence, Tuple

import ipywidgets as w
from torch import nn

from .. import lr_finder, plots, schedules
from ..data import Loader
from ._base import log_slider, run_panel

__all__ = ["range_test_panel"]

Setup = Tuple[Callable[[], nn.Module], Loader, object]
"""``(make_model, train_loader, eval_data)``: a function building a fresh model, the training
``Loader`` and the held-out ``(images, labels)`` (or ``None``) for the accuracy metric."""


def range_test_panel(setups: Mapping[str, Setup], *, num_iter: int = 100,
                     batch_sizes: Sequence[int] = (16, 32, 64, 128, 256, 512),
                     seed: int = 0, title: str = "LR range test",
                     exp_range: tuple[float, float] = (1e-6, 10.0),
                     linear_end: "float | Mapping[str, float]" = 0.2):
    """Controls for start/end lr (log sliders), iterations, sweep mode, metric, EMA beta, batch size
    and the dataset/model (``setups``: name -> :data:`Setup`), a Run button, and a live preview of
    the lr sweep. Run builds a fresh model (seeded with ``seed``), calls
    :func:`lr_finder.range_test` and draws :meth:`RangeTest.plot` plus the suggestions.

    The end lr follows the sweep: the geometric (``"exp"``) sweep starts at ``exp_range``
    (start, end lr: many decades), Smith's ``"linear"`` sweep runs from 0 (the start slider is
    then off: a linear sweep spends its iterations where the lr is large, so it must end near
    the cliff) to ``linear_end`` — one lr for every setup, or ``{setup name: lr}`` (e.g. 0.2 for
    LeNet, 3 for a ResNet with batch norm). Choosing the mode or the setup sets the end lr; move
    the slider after that to change it.
    """
    if not setups:
        raise ValueError("setups must name at least one (make_model, loader, eval_data) triple.")
    for name, s in setups.items():
        if len(s) != 3 or not callable(s[0]) or not isinstance(s[1], Loader):
            raise ValueError(f"setup {name!r} must be (make_model, Loader, eval_data or None).")
    names = list(setups)
    ends = linear_end if isinstance(linear_end, Mapping) else {n: linear_end for n in names}
    missing = [n for n in names if n not in ends]
    if missing:
        raise ValueError(f"linear_end names no end lr for setup(s) {missing}.")
    if not 0 < exp_range[0] < exp_range[1] or not all(v > 0 for v in ends.values()):
        raise ValueError(f"exp_range must be (start, end) with 0 < start < end and every "
                         f"linear_end > 0; got {exp_range}, {dict(ends)}.")
    default_bs = next(iter(setups.values()))[1].batch_size
    sizes = sorted(set(batch_sizes) | {default_bs})
    controls = {
        "setup": w.Dropdown(options=names, description="data / model"),
        "start_lr": log_slider("start lr", exp_range[0], 1e-8, 1e-1),
        "end_lr": log_slider("end lr", exp_range[1], 1e-3, 100.0),
        "num_iter": w.IntSlider(num_iter, 10, 1000, step=10, description="iterations"),
        "mode": w.ToggleButtons(options=list(lr_finder.MODES), description="sweep"),
        "metric": w.ToggleButtons(options=list(lr_finder.METRICS), description="metric"),
        "smooth": w.FloatSlider(0.98, min=0.0, max=0.995, step=0.005, description="EMA β",
                                readout_format=".3f"),
        "batch_size": w.Dropdown(options=sizes, value=default_bs, description="batch size"),
    }

    def follow_sweep(_change=None) -> None:
        """The end lr (and whether a start lr means anything) follows the chosen sweep."""
        linear = controls["mode"].value == "linear"
        controls["start_lr"].disabled = linear
        controls["end_lr"].value = ends[controls["setup"].value] if linear else exp_range[1]

    controls["mode"].observe(follow_sweep, names="value")
    controls["setup"].observe(follow_sweep, names="value")

    def sweep(start_lr: float, end_lr: float, num_iter: int, mode: str):
        if mode == "linear":
            return schedules.linear_sweep(num_iter, 0.0, end_lr)
        return schedules.exp_sweep(num_iter, start_lr, end_lr)

    def preview(setup, start_lr, end_lr, num_iter, mode, metric, smooth, batch_size):
        _, (ax,) = plots.new_axes(height=2.2)
        plots.schedule(sweep(start_lr, end_lr, num_iter, mode), num_iter, ax=ax,
                       log=mode == "exp", label="lr sweep")
        ax.set_title(f"the sweep: {num_iter} iterations", fontsize=9)

    def run(setup, start_lr, end_lr, num_iter, mode, metric, smooth, batch_size):
        make_model, base, eval_data = setups[setup]
        if metric == "accuracy" and eval_data is None:
            raise ValueError(f"{setup!r} has no eval data; choose metric='loss'.")
        loader = base if batch_size == base.batch_size else Loader(
            base.x, base.y, batch_size, augment=base.augment, seed=base.seed, stats=base.stats,
            pad=base.pad)
        rt = lr_finder.range_test(make_model(), loader, start_lr=start_lr if mode == "exp" else 0.0,
                                  end_lr=end_lr, num_iter=num_iter, mode=mode, metric=metric,
                                  eval_data=eval_data if metric == "accuracy" else None,
                                  smooth=smooth)
        rt.plot()
        print(rt.summary())

    return run_panel(controls, run=run, preview=preview, title=title, seed=seed,
                     loaders=[s[1] for s in setups.values()])
