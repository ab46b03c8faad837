"""Every figure the notebooks show, with labelled axes and units.

Functions take an optional ``ax`` and return the matplotlib ``Axes`` (or a tuple of them) so a
notebook can add to a figure; LR axes are logarithmic wherever the LR spans decades.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Callable, Sequence

import numpy as np

__all__ = ["schedule", "history", "compare", "new_axes", "schedule_overlay", "losses", "wall_times",
           "legend_below"]


def new_axes(ncols: int = 1, *, width: float = 5.5, height: float = 3.6):
    """A row of ``ncols`` axes sized for a notebook."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False,
                             layout="constrained")
    return fig, list(axes[0])


def legend_below(ax, handles=None, labels=None, *, ncol: int = 2, fontsize: float = 8):
    """A legend under ``ax``: below its x tick labels and x label (set it first), so it never
    covers a curve or collides with the label. ``handles``/``labels`` default to ``ax``'s own
    (pass them to gather the entries of twin axes into one legend). The figures of
    :func:`new_axes` use constrained layout, which makes room for it."""
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties
    from matplotlib.transforms import ScaledTranslation
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    rc = mpl.rcParams

    def points(size) -> float:
        return FontProperties(size=size).get_size_in_points()

    # the height of what hangs below the axes: ticks, tick labels (a bit more than a line:
    # 10^-4 has a superscript) and the x label
    drop = rc["xtick.major.size"] + rc["xtick.major.pad"] + 1.3 * points(rc["xtick.labelsize"])
    if ax.get_xlabel():
        drop += rc["axes.labelpad"] + 1.1 * points(rc["axes.labelsize"])
    below = ax.transAxes + ScaledTranslation(0, -(drop + 2) / 72, ax.figure.dpi_scale_trans)
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0),
                     bbox_transform=below, ncol=ncol, fontsize=fontsize, frameon=False)


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
    legend_below(ax_acc)
    return ax_loss, ax_acc


def compare(runs, *, ax=None, x: str = "epoch", metric: str = "accuracy", title: str | None = None):
    """Eval accuracy (or loss) of several runs on one axis, against ``epoch`` or ``step`` (iterations).

    ``runs`` is a dict ``{label: History}`` or a list of histories (their ``label`` is used)."""
    if x not in ("epoch", "step"):
        raise ValueError("x must be 'epoch' or 'step'.")
    if metric not in ("accuracy", "loss"):
        raise ValueError("metric must be 'accuracy' or 'loss'.")
    items = _runs(runs)
    if ax is None:
        _, (ax,) = new_axes(width=7)
    for name, h in items:
        y = h.eval_array(metric)
        ax.plot(h.eval_array(x), 100 * y if metric == "accuracy" else y, marker=".", label=name)
    return _finish(ax, "epoch" if x == "epoch" else "iteration",
                   "test accuracy (%)" if metric == "accuracy" else "test loss", title)


def _runs(runs) -> list:
    from .train import named_runs
    return named_runs(runs)


def schedule_overlay(fns: "Mapping[str, Callable[[int], float | tuple[float, float]]]", steps: int,
                     *, ax=None, what: str = "lr", steps_per_epoch: int | None = None,
                     log: bool | None = None, title: str | None = None):
    """Several schedules on one axis, e.g. the three CLR policies, or 1cycle's linear and cosine legs.

    ``fns`` maps a label to a function of the iteration (0 .. ``steps - 1``) returning an lr or an
    ``(lr, momentum)`` pair; ``what`` picks the ``"lr"`` or the ``"momentum"`` of a pair (a function
    returning one number is plotted as is). The x axis is iterations, or epochs when
    ``steps_per_epoch`` is given; the y axis is logarithmic when ``log`` is True, or (``None``)
    when the values span more than two decades."""
    if what not in ("lr", "momentum"):
        raise ValueError(f"what must be 'lr' or 'momentum', got {what!r}.")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive number of iterations, got {steps!r}.")
    if not fns:
        raise ValueError("fns is empty: give {label: schedule function}.")
    if steps_per_epoch is not None and steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1 iteration, got {steps_per_epoch!r}.")
    if ax is None:
        _, (ax,) = new_axes(width=7)
    x = np.arange(steps, dtype=float)
    if steps_per_epoch:
        x = x / steps_per_epoch
    every = []
    for name, fn in fns.items():
        vals = [fn(s) for s in range(steps)]
        y = np.array([(v[0] if what == "lr" else v[1]) if isinstance(v, tuple) else v
                      for v in vals], dtype=float)
        ax.plot(x, y, label=name)
        every.append(y)
    every = np.concatenate(every)
    if log or (log is None and every.min() > 0 and every.max() / every.min() >= 100):
        ax.set_yscale("log")
    return _finish(ax, "epoch" if steps_per_epoch else "iteration",
                   "learning rate" if what == "lr" else "momentum", title)


def losses(runs: "Mapping[str, object] | Sequence[object]", *, ax=None, smooth: int = 0,
           x: str = "step", title: str | None = None):
    """Train loss per iteration of several runs on one axis (a ``{label: History}`` dict or a list).

    ``smooth`` > 1 averages that many consecutive iterations. Non-finite losses (a diverged run) are
    not drawn; where a run's loss stops being finite, an ``x`` marks its last finite value, so a
    divergence shows as a curve that ends in a cross. ``x`` is ``"step"`` (iterations) or
    ``"epoch"``."""
    if x not in ("step", "epoch"):
        raise ValueError(f"x must be 'step' or 'epoch', got {x!r}.")
    if smooth < 0:
        raise ValueError(f"smooth must be >= 0 iterations, got {smooth!r}.")
    items = _runs(runs)
    if ax is None:
        _, (ax,) = new_axes(width=7)
    finite_all = []
    for name, h in items:
        loss = np.asarray(h.loss, dtype=float)
        bad = np.flatnonzero(~np.isfinite(loss))
        n_ok = int(bad[0]) if len(bad) else len(loss)
        loss = loss[:n_ok]
        steps = np.arange(n_ok, dtype=float)
        if smooth > 1 and n_ok >= smooth:
            loss = np.convolve(loss, np.ones(smooth) / smooth, mode="valid")
            steps = steps[smooth - 1:]
        xs = steps / h.steps_per_epoch if x == "epoch" else steps
        (line,) = ax.plot(xs, loss, lw=0.9, label=name)
        if len(bad) and len(loss):
            ax.plot(xs[-1:], loss[-1:], marker="x", ms=10, mew=2, ls="none",
                    color=line.get_color(), label=f"{name}: loss non-finite after this")
        finite_all.append(loss)
    _log_if_decades(ax, np.concatenate(finite_all) if finite_all else np.array([]))
    return _finish(ax, "iteration" if x == "step" else "epoch", "train loss (cross-entropy)",
                   title)


def wall_times(runs: "Mapping[str, object] | Sequence[object]", *, ax=None,
               title: str | None = None):
    """Horizontal bars: the wall-clock training time (seconds) of each run, annotated with its final
    accuracy and its number of epochs — the "same accuracy in how much time" half of a comparison."""
    items = _runs(runs)
    if ax is None:
        _, (ax,) = new_axes(width=7, height=0.6 * len(items) + 1.4)
    names = [name for name, _ in items]
    secs = np.array([h.wall_time for _, h in items], dtype=float)
    ypos = np.arange(len(items))
    ax.barh(ypos, secs, color=[f"C{i}" for i in range(len(items))])
    ax.set_yticks(ypos, names)
    ax.invert_yaxis()  # first run on top, as in the legend of compare()
    for i, (_, h) in enumerate(items):
        acc = f"{100 * h.final_accuracy:.2f} %" if h.evals else "no eval"
        ax.text(secs[i], i, f"  {acc}, {h.steps / h.steps_per_epoch:.3g} epochs", va="center")
    ax.set_xlim(0, 1.6 * max(secs.max(), 1e-9))
    ax.set_xlabel("wall-clock training time (s)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return ax


def _finish(ax, xlabel: str, ylabel: str, title: str | None):
    """The common ending of a one-axes plot: labels, optional title, grid, the legend below the
    axes (never over the curves)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    legend_below(ax)
    return ax
