"""Every figure the notebooks show, with labelled axes and units.

Functions take an optional ``ax`` and return the matplotlib ``Axes`` (or a tuple of them) so a
notebook can add to a figure; LR axes are logarithmic wherever the LR spans decades.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

__all__ = ["schedule", "history", "compare", "new_axes"]


def new_axes(ncols: int = 1, *, width: float = 5.5, height: float = 3.6):
    """A row of ``ncols`` axes sized for a notebook."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False,
                             layout="constrained")
    return fig, list(axes[0])


def _log_if_decades(ax, values: np.ndarray, axis: str = "y") -> None:
    v = values[np.isfinite(values) & (values > 0)]
    if len(v) and v.max() / v.min() >= 20:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def schedule(fn: Callable[[int], "float | tuple[float, float]"], steps: int, *, ax=None,
             label: str | None = None, steps_per_epoch: int | None = None, log: bool | None = None):
    """Plot a schedule — a function of the iteration — over ``range(steps)``: the learning rate on
    the left axis and, when the function returns ``(lr, momentum)``, momentum on a twin axis."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    vals = [fn(s) for s in range(steps)]
    has_mom = isinstance(vals[0], tuple)
    lr = np.array([v[0] if has_mom else v for v in vals], dtype=float)
    x = np.arange(steps, dtype=float)
    xlabel = "iteration"
    if steps_per_epoch:
        x, xlabel = x / steps_per_epoch, "epoch"
    if ax is None:
        _, (ax,) = new_axes()
    ax.plot(x, lr, color="C0", label=label or "learning rate")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("learning rate", color="C0")
    if log or (log is None and lr.min() > 0 and lr.max() / lr.min() >= 100):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if has_mom:
        ax2 = ax.twinx()
        ax2.plot(x, [v[1] for v in vals], color="C1", ls="--", label="momentum")
        ax2.set_ylabel("momentum", color="C1")
        return ax, ax2
    return ax


def history(h, *, axes=None, label: str | None = None, smooth: int = 0):
    """Two panels for one run: train loss vs iteration (with the LR on a twin axis) and eval
    accuracy vs epoch."""
    if axes is None:
        _, axes = new_axes(2)
    ax_loss, ax_acc = axes
    loss = np.asarray(h.loss, dtype=float)
    if smooth > 1 and len(loss) >= smooth:
        loss = np.convolve(loss, np.ones(smooth) / smooth, mode="valid")
    name = label or h.label or "run"
    ax_loss.plot(np.arange(len(loss)), loss, lw=0.8, label=f"{name}: train loss")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("train loss (cross-entropy)")
    _log_if_decades(ax_loss, loss)
    ax_loss.grid(alpha=0.3)
    ax_lr = ax_loss.twinx()
    ax_lr.plot(np.arange(len(h.lr)), h.lr, color="grey", lw=0.8, ls=":", label="lr")
    ax_lr.set_ylabel("learning rate", color="grey")
    if h.evals:
        ax_acc.plot(h.eval_array("epoch"), 100 * h.eval_array("accuracy"), marker=".", label=name)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test accuracy (%)")
    ax_acc.grid(alpha=0.3)
    ax_acc.legend()
    return ax_loss, ax_acc


def compare(runs, *, ax=None, x: str = "epoch", metric: str = "accuracy", title: str | None = None):
    """Eval accuracy (or loss) of several runs on one axis, against ``epoch`` or ``step`` (iterations).

    ``runs`` is a dict ``{label: History}`` or a list of histories (their ``label`` is used)."""
    if x not in ("epoch", "step"):
        raise ValueError("x must be 'epoch' or 'step'.")
    if metric not in ("accuracy", "loss"):
        raise ValueError("metric must be 'accuracy' or 'loss'.")
    items = list(runs.items()) if isinstance(runs, dict) else [(h.label or f"run {i}", h)
                                                               for i, h in enumerate(runs)]
    if ax is None:
        _, (ax,) = new_axes(width=7)
    for name, h in items:
        y = h.eval_array(metric)
        ax.plot(h.eval_array(x), 100 * y if metric == "accuracy" else y, marker=".", label=name)
    ax.set_xlabel("epoch" if x == "epoch" else "iteration")
    ax.set_ylabel("test accuracy (%)" if metric == "accuracy" else "test loss")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
