"""Notebook 01's panel: run the LR range test with your own sweep, smoothing and batch size.

A thin layer over :func:`superconv_lib.lr_finder.range_test` — the same call a cell makes.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence, Tuple

from torch import nn

from .. import config, lr_finder, plots, schedules
from ..data import Loader
from ._base import log_slider, run_panel

__all__ = ["range_test_panel"]

Setup = Tuple[Callable[[], nn.Module], Loader, object]
"""``(make_model, train_loader, eval_data)``: a function building a fresh model, the training
``Loader`` and the held-out ``(images, labels)`` (or ``None``) for the accuracy metric."""


def range_test_panel(setups: Mapping[str, Setup], *, num_iter: int = 100,
                     batch_sizes: Sequence[int] = (16, 32, 64, 128, 256, 512),
                     seed: int = 0, title: str = "LR range test"):
    """Controls for start/end lr (log sliders), iterations, sweep mode, metric, EMA beta, batch size
    and the dataset/model (``setups``: name -> :data:`Setup`), a Run button, and a live preview of
    the lr sweep. Run builds a fresh model (seeded with ``seed``), calls
    :func:`lr_finder.range_test` and draws :meth:`RangeTest.plot` plus the suggestions.

    In ``mode="linear"`` the sweep starts at 0, as in Smith's paper (the start slider is for the
    geometric sweep, which cannot start at 0).
    """
    import ipywidgets as w

    if not setups:
        raise ValueError("setups must name at least one (make_model, loader, eval_data) triple.")
    for name, s in setups.items():
        if len(s) != 3 or not callable(s[0]) or not isinstance(s[1], Loader):
            raise ValueError(f"setup {name!r} must be (make_model, Loader, eval_data or None).")
    default_bs = next(iter(setups.values()))[1].batch_size
    sizes = sorted(set(batch_sizes) | {default_bs})
    controls = {
        "setup": w.Dropdown(options=list(setups), description="data / model"),
        "start_lr": log_slider("start lr", 1e-6, 1e-8, 1e-1),
        "end_lr": log_slider("end lr", 10.0, 1e-3, 100.0),
        "num_iter": w.IntSlider(num_iter, 10, 1000, step=10, description="iterations"),
        "mode": w.ToggleButtons(options=list(lr_finder.MODES), description="sweep"),
        "metric": w.ToggleButtons(options=list(lr_finder.METRICS), description="metric"),
        "smooth": w.FloatSlider(0.98, min=0.0, max=0.995, step=0.005, description="EMA β",
                                readout_format=".3f"),
        "batch_size": w.Dropdown(options=sizes, value=default_bs, description="batch size"),
    }

    def sweep(start_lr: float, end_lr: float, num_iter: int, mode: str):
        if mode == "linear":
            return lambda s: schedules.linear_range(s, num_iter, 0.0, end_lr)
        return lambda s: schedules.exp_range_test(s, num_iter, start_lr, end_lr)

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
        config.seed_everything(seed)
        rt = lr_finder.range_test(make_model(), loader, start_lr=start_lr if mode == "exp" else 0.0,
                                  end_lr=end_lr, num_iter=num_iter, mode=mode, metric=metric,
                                  eval_data=eval_data if metric == "accuracy" else None,
                                  smooth=smooth)
        rt.plot()
        print(rt.summary())

    return run_panel(controls, run=run, preview=preview, title=title)
