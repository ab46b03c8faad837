"""Every figure of the course, with labelled axes and units.

Functions take an optional ``ax`` and return the matplotlib ``Axes`` (or a tuple of them) so a
notebook can add to a figure; LR axes are logarithmic wherever the LR spans decades. The result
objects' ``.plot()`` (``History``, ``RangeTest``, ``Indicator``, ``HessianFreeLR``) call these.

This module reads results by their attributes and imports nothing else of the library (bar the
argument check), so every other module may import it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Callable, NamedTuple, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.transforms import ScaledTranslation

from ._validate import named_runs

__all__ = ["schedule", "history", "compare", "new_axes", "schedule_overlay", "losses", "wall_times",
           "legend_below", "range_test", "indicator", "indicators", "hessian", "sweep_schedules",
           "sweep_curves", "train_test", "Curve"]


def new_axes(ncols: int = 1, *, width: float = 5.5, height: float = 3.6):
    """A row of ``ncols`` axes sized for a notebook."""
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False,
                             layout="constrained")
    return fig, list(axes[0])


def legend_below(ax, handles=None, labels=None, *, ncol: int = 2, fontsize: float = 8):
    """A legend under ``ax``: below its x tick labels and x label (set it first), so it never
    covers a curve or collides with the label. ``handles``/``labels`` default to ``ax``'s own
    (pass them to gather the entries of twin axes into one legend). The figures of
    :func:`new_axes` use constrained layout, which makes room for it."""
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
    items = named_runs(runs)
    if ax is None:
        _, (ax,) = new_axes(width=7)
    for name, h in items:
        y = h.eval_array(metric)
        ax.plot(h.eval_array(x), 100 * y if metric == "accuracy" else y, marker=".", label=name)
    return _finish(ax, "epoch" if x == "epoch" else "iteration",
                   "test accuracy (%)" if metric == "accuracy" else "test loss", title)


def train_test(results: "Mapping[str, tuple[object, object]]", *, axes=None):
    """The train/test gap of several runs: ``results`` is ``{name: (test History, train History)}``
    (the second from :class:`train.EvalOn`). Accuracy and loss against the epoch, test solid and
    training subset dashed in the run's colour; the loss on a log axis (a very large lr makes it
    spike by an order of magnitude). Returns the two Axes."""
    if axes is None:
        _, axes = new_axes(2, width=6.5)
    ax_acc, ax_loss = axes
    for i, (name, (test_h, train_h)) in enumerate(results.items()):
        color = f"C{i}"
        for h, style, part in ((test_h, "-", "test"), (train_h, "--", "training subset")):
            ep = h.eval_array("epoch")
            ax_acc.plot(ep, 100 * h.eval_array("accuracy"), style, color=color, marker=".",
                        label=f"{name}: {part}")
            ax_loss.plot(ep, h.eval_array("loss"), style, color=color, marker=".",
                         label=f"{name}: {part}")
    ax_loss.set_yscale("log")
    _finish(ax_acc, "epoch", "accuracy (%)", "accuracy: test (solid), training subset (dashed)")
    _finish(ax_loss, "epoch", "loss", "loss: test (solid), training subset (dashed)")
    return axes


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
    items = named_runs(runs)
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
    items = named_runs(runs)
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


def _one_legend(ax, axes) -> None:
    """One legend under ``ax`` for the entries of ``axes`` (``ax`` and its twins)."""
    handles, labels = [], []
    for a in axes:
        h, lab = a.get_legend_handles_labels()
        handles += h
        labels += lab
    legend_below(ax, handles, labels)


# ------------------------------------------------------------------------------------------------
# The LR range test (lr_finder.RangeTest)


def range_test(rt, ax=None, *, what: str | None = None, log: bool | None = None, raw: bool = True,
               suggestions: bool = True, label: str | None = None, color: str = "C0"):
    """An LR range test's curve against the learning rate, every suggestion marked and labelled.

    ``what``: ``"loss"`` (raw training loss, faint, and the smoothed loss), ``"accuracy"`` (eval
    accuracy and loss at the eval points, with Smith's ``acc_bounds`` shaded) or ``"both"`` (the
    accuracy on a twin axis). Default: ``"both"`` when accuracy was measured, else ``"loss"``.
    ``log`` (x axis on a log scale) defaults to True for ``mode="exp"`` and False for Smith's
    linear sweep. ``raw=False`` hides the unsmoothed loss, ``suggestions=False`` the markers;
    ``label`` and ``color`` name and colour the loss curve, so several tests can share one Axes.
    Returns the Axes (a ``(loss_ax, acc_ax)`` pair for ``"both"``).
    """
    if what is None:
        what = "both" if rt.eval_points else "loss"
    if what not in ("loss", "accuracy", "both"):
        raise ValueError(f"what must be 'loss', 'accuracy' or 'both', got {what!r}.")
    if what != "loss" and not rt.eval_points:
        raise ValueError("no accuracy was measured: run range_test with eval_data (or "
                         "metric='accuracy') to plot it.")
    if ax is None:
        _, (ax,) = new_axes(width=7 if what == "both" else 5.5)
    if log is None:
        log = rt.mode == "exp"
    sug = rt.suggestions() if suggestions else {}
    if log:
        ax.set_xscale("log")   # before drawing, so lr = 0 points are left out
    drawn = [ax]
    if what in ("loss", "both"):
        _range_loss(rt, ax, raw, sug, label, color)
    if what in ("accuracy", "both"):
        acc_ax = ax.twinx() if what == "both" else ax
        drawn += [acc_ax] if acc_ax is not ax else []
        drawn += _range_accuracy(rt, acc_ax, sug, eval_loss=what == "accuracy")
    ax.set_xlabel("learning rate" + (" (log scale)" if log else ""))
    ax.grid(alpha=0.3)
    title = f"LR range test ({rt.mode} sweep, {len(rt)} iterations)"
    if rt.diverged:
        title += f", stopped at lr={rt.lrs[-1]:.3g}"
    ax.set_title(title, fontsize=10)
    _one_legend(ax, drawn)      # under the plot, for all twin axes: it never hides the curve
    return (ax, drawn[1]) if what == "both" else ax


def _range_loss(rt, ax, raw: bool, sug: dict, label: str | None, color: str) -> None:
    shared = bool(ax.lines)                  # another test already drew here: widen, not reset
    pos = rt.lrs > 0 if ax.get_xscale() == "log" else np.ones(len(rt.lrs), bool)
    ok = np.isfinite(rt.losses) & pos
    if raw:
        ax.plot(rt.lrs[ok], rt.losses[ok], color=color, alpha=0.3, lw=0.8,
                label=f"{label}: raw" if label else "train loss (raw)")
    if label is None:
        label = f"smoothed (EMA β={rt.smooth:g})" if rt.smooth else "train loss"
    oks = np.isfinite(rt.smoothed) & pos
    ax.plot(rt.lrs[oks], rt.smoothed[oks], color=color, lw=1.8, label=label)
    ax.set_ylabel("training loss (cross-entropy)")
    # the diverged tail would squash the interesting part: cap the y range
    s = rt.smoothed[oks]
    if len(s) > 7:
        core = s[:-5] if rt.diverged else s      # the tail that triggered the stop
        upto = len(rt.lrs) - (5 if rt.diverged else 0)
        lo = (np.r_[s, rt.losses[:upto][ok[:upto]]] if raw else s).min()
        hi = core.max()
        bottom, top = max(0.0, lo - 0.05 * (hi - lo)), hi + 0.3 * (hi - lo) + 1e-9
        if shared:
            bottom, top = min(bottom, ax.get_ylim()[0]), max(top, ax.get_ylim()[1])
        ax.set_ylim(bottom, top)
    markers = {"steepest": ("v", "C3"), "valley": ("o", "C2"), "min_div_10": ("s", "C1")}
    for name, (m, c) in markers.items():
        lr = sug.get(name)
        if lr is None:
            continue
        y = np.interp(np.log10(lr), np.log10(rt.lrs[oks & (rt.lrs > 0)]),
                      rt.smoothed[oks & (rt.lrs > 0)])
        ax.plot([lr], [y], m, color=c, ms=8, zorder=5, label=f"{name}: {lr:.2e}")
        ax.axvline(lr, color=c, lw=0.8, ls=":")


def _range_accuracy(rt, ax, sug: dict, eval_loss: bool) -> list:
    lr = np.array([p.lr for p in rt.eval_points])
    acc = 100 * np.array([p.accuracy for p in rt.eval_points])
    ax.plot(lr, acc, marker=".", color="C4", label="eval accuracy")
    ax.set_ylabel("eval accuracy (%)", color="C4")
    bounds = sug.get("acc_bounds")
    if bounds is not None:
        ax.axvspan(*bounds, color="C4", alpha=0.12,
                   label=f"acc_bounds: {bounds[0]:.2e}..{bounds[1]:.2e}")
    if not eval_loss:
        return []
    ax2 = ax.twinx()
    ax2.plot(lr, [p.loss for p in rt.eval_points], ls="--", marker=".", color="C7",
             lw=0.8, label="eval loss")
    ax2.set_ylabel("eval loss", color="C7")
    return [ax2]


# ------------------------------------------------------------------------------------------------
# The super-convergence indicator (indicator.Indicator)


def _verdict(a) -> str:
    return ("super-converges" if a.super_converges else
            "does not super-converge" if a.trains else "does not train")


def indicator(ind, ax=None, *, loss: bool = True):
    """One indicator: test accuracy vs LR (linear axis: the sweep is linear from ``start_lr``), raw
    points and the smoothed curve, the plateau shaded and its floor dashed, the suggested 1cycle
    bounds as triangles on the LR axis and, if the loss became NaN, a dash-dot line where the
    sweep stopped; with ``loss``, the smoothed training loss per iteration and the test loss at
    the eval points on a twin axis. Returns the accuracy Axes (the loss Axes as ``ax.loss_ax``)."""
    if ax is None:
        _, (ax,) = new_axes(width=7)
    a = ind.analysis
    ax.plot(ind.lrs, 100 * ind.accuracy, ".", color="C0", alpha=0.5, label="test accuracy")
    ax.plot(ind.lrs, 100 * a.smoothed, "-", color="C0", lw=1.8,
            label=f"median of {ind.criteria['window']}")
    ax.axhline(100 * a.chance, color="grey", lw=0.8, ls=":", label="chance")
    if a.plateau is not None:
        ax.axvspan(*a.plateau, color="C2", alpha=0.15,
                   label=f"plateau {a.plateau[0]:.2g}..{a.plateau[1]:.2g} (score {a.score:.2f})")
        ax.axhline(100 * a.level, color="C2", lw=0.8, ls="--", label="plateau floor")
        for lr, m in zip(a.bounds, (">", "<")):   # on the x axis: the cycle's two ends
            ax.plot([lr], [0], m, color="C3", ms=9, clip_on=False,
                    transform=ax.get_xaxis_transform())
        ax.plot([], [], ">", color="C3", label=f"1cycle bounds {a.bounds[0]:.2g}..{a.bounds[1]:.2g}")
    if not ind.completed:
        ax.axvline(ind.stop_lr, color="C3", lw=1, ls="-.",
                   label=f"sweep stopped at lr {ind.stop_lr:.2g} (loss not finite)")
    ax.set_xlim(ind.start_lr, ind.max_lr)
    ax.set_ylim(0, max(100 * np.max(ind.accuracy, initial=0.0), 100 * a.chance) * 1.15 + 1)
    ax.set_xlabel("learning rate (linear sweep)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.set_title(f"{ind.label or 'setup'}: {_verdict(a)}", fontsize=10)
    ax.loss_ax = None
    drawn = [ax]
    if loss:
        lax = ax.loss_ax = ax.twinx()
        drawn.append(lax)
        ys = []
        rt = ind.range_test
        if rt is not None and len(rt.lrs):
            ok = np.isfinite(rt.smoothed)
            lax.plot(rt.lrs[ok], rt.smoothed[ok], color="C7", lw=1, label="train loss (EMA)")
            ys.append(rt.smoothed[ok])
        ok = np.isfinite(ind.eval_loss)
        if ok.any():
            lax.plot(ind.lrs[ok], ind.eval_loss[ok], "--", color="C1", lw=1, label="test loss")
            ys.append(ind.eval_loss[ok])
        lax.set_ylabel("loss (cross-entropy)", color="C7")
        if ys:
            y = np.concatenate(ys)
            # a diverging tail would squash the rest: cap at a few times the typical loss
            lax.set_ylim(0, min(y.max(), 3 * np.median(y)) * 1.1 + 1e-9)
    _one_legend(ax, drawn)     # under the axes: it never hides a curve
    return ax


def indicators(inds, labels: Sequence[str] | None = None, ax=None):
    """Several indicators on one axis: test accuracy vs LR (linear), each plateau shaded in its
    curve's colour and its score in the legend; a sweep stopped by a NaN loss ends in a cross.
    ``inds``: ``{label: Indicator}`` or a list (``labels`` names a list). Returns the Axes."""
    items = named_runs(inds, "Indicator", labels, unnamed="setup")
    if not all(hasattr(i, "analysis") for _, i in items):
        raise ValueError("pass Indicator objects (from indicator.indicator or "
                         "Indicator.from_points).")
    if ax is None:
        _, (ax,) = new_axes(width=7.5)
    for k, (name, ind) in enumerate(items):
        a, c = ind.analysis, f"C{k % 10}"
        ax.plot(ind.lrs, 100 * ind.accuracy, ".", color=c, alpha=0.35, ms=4)
        verdict = "✓" if a.super_converges else "✗"
        ax.plot(ind.lrs, 100 * a.smoothed, "-", color=c, lw=1.8,
                label=f"{name}: score {a.score:.2f} {verdict}")
        if a.plateau is not None:
            ax.axvspan(*a.plateau, color=c, alpha=0.10)
        if not ind.completed and len(ind.lrs):   # the loss became NaN: the curve ends in a cross
            ax.plot(ind.lrs[-1:], 100 * a.smoothed[-1:], "x", color=c, ms=9, mew=2)
    ax.axhline(100 * items[0][1].chance, color="grey", lw=0.8, ls=":", label="chance")
    ax.set_xlim(min(i.start_lr for _, i in items), max(i.max_lr for _, i in items))
    ax.set_ylim(bottom=0)
    ax.set_title("super-convergence indicator (shaded: plateau)", fontsize=10)
    return _finish(ax, "learning rate (linear sweep)", "test accuracy (%)", None)


# ------------------------------------------------------------------------------------------------
# The Hessian-free estimate (hessian.HessianFreeLR)


def hessian(runs, *, ax=None, show_raw: bool = True, show_lr: bool = True,
            colors: Sequence[str] | None = None):
    """Estimated optimal learning rates of several runs on one plot (Smith & Topin's figure): for
    each run (``{label: HessianFreeLR}`` or a list), the smoothed estimate (solid), the raw
    estimates (dots) and the lr actually used (dashed, same colour), against the iteration, on a
    log lr axis. Returns the Axes."""
    items = named_runs(runs, "HessianFreeLR")
    if ax is None:
        _, (ax,) = new_axes(width=7.5, height=4.2)
    for i, (name, est) in enumerate(items):
        c = colors[i] if colors and i < len(colors) else f"C{i}"
        if not est.records:
            continue
        x = est.steps
        if show_raw:
            ax.plot(x, est.raw, ".", color=c, ms=3, alpha=0.35)
        ax.plot(x, est.smoothed, "-", color=c, lw=1.8, label=f"{name}: estimated optimal lr")
        if show_lr:
            h = est.history
            if h is not None and len(h.lr):
                ax.plot(np.arange(len(h.lr)), h.lr, "--", color=c, lw=1, label=f"{name}: lr used")
            else:
                ax.plot(x, est.lr, "--", color=c, lw=1, label=f"{name}: lr used")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax


# ------------------------------------------------------------------------------------------------
# Sweeps (sweep.py): the grid's schedules and curves


class Curve(NamedTuple):
    """A schedule sampled for a figure: ``lr`` and ``momentum`` at positions ``x`` in ``unit``."""
    x: np.ndarray
    lr: np.ndarray
    momentum: np.ndarray
    unit: str


def _panel(ax, xlabel: str, ylabel: str, handles=None) -> None:
    """Labels, grid and a small legend: the ending of each panel of the sweep figures."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if handles is None or handles:
        ax.legend(handles=handles, fontsize=7)


def sweep_schedules(curves: "Mapping[str, Curve]", *, axes=None):
    """Learning rate (log axis) and momentum of each config of a grid, one colour per config:
    ``curves`` is ``sweep.schedule_curves(configs)`` (``{name: Curve}``). Returns the two axes."""
    if not curves:
        raise ValueError("no schedules to plot: give sweep.schedule_curves(configs).")
    if axes is None:
        _, axes = new_axes(2, width=6.5, height=3.6)
    ax_lr, ax_mom = axes
    for i, (name, c) in enumerate(curves.items()):
        ax_lr.plot(c.x, c.lr, color=f"C{i % 10}", lw=1.2, label=name)
        ax_mom.plot(c.x, c.momentum, color=f"C{i % 10}", lw=1.2)
    unit = " or ".join(dict.fromkeys(c.unit for c in curves.values()))
    ax_lr.set_yscale("log")
    _panel(ax_lr, unit, "learning rate")
    _panel(ax_mom, unit, "momentum (Adam: beta1)", handles=[])
    return ax_lr, ax_mom


def _epoch_means(h) -> tuple[np.ndarray, np.ndarray]:
    """Training loss averaged over each complete epoch, at epochs 1, 2, ... (a run shorter than
    one epoch: its mean, at its fraction of an epoch)."""
    loss = np.asarray(h.loss, dtype=float)
    spe = h.steps_per_epoch
    n = len(loss) // spe
    if len(loss) == 0:
        return np.array([]), np.array([])
    if n == 0:
        return np.array([len(loss) / spe]), np.array([loss.mean()])
    return np.arange(1, n + 1, dtype=float), loss[:n * spe].reshape(n, spe).mean(axis=1)


def sweep_curves(histories: "Mapping[str, object]", *, x: str = "epoch", axes=None,
                 title: str | None = None):
    """The seed's curves figure: test accuracy (%) and loss for every run of a grid
    (``{name: History}``, e.g. ``sweep.load_histories``), against ``x`` = ``"epoch"`` or
    ``"step"`` (iterations).

    Left: test accuracy at each evaluation. Right: test loss (dashed, at the evaluations) and the
    training loss averaged over each epoch (solid), on a log axis when it spans decades. Returns
    the two axes."""
    if x not in ("epoch", "step"):
        raise ValueError(f"x must be 'epoch' or 'step' (iterations), got {x!r}.")
    if not histories:
        raise ValueError("no histories to plot: run the sweep first (load_histories reads them).")
    if axes is None:
        _, axes = new_axes(2, width=6.5, height=4.2)
    ax_acc, ax_loss = axes
    all_loss = []
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i % 10}"
        if h.evals:
            ax_acc.plot(h.eval_array(x), 100 * h.eval_array("accuracy"), color=color, lw=1.2,
                        label=name)
            ax_loss.plot(h.eval_array(x), h.eval_array("loss"), color=color, ls="--", lw=1)
        ep, tl = _epoch_means(h)
        ok = np.isfinite(tl)
        scale = h.steps_per_epoch if x == "step" else 1
        ax_loss.plot(ep[ok] * scale, tl[ok], color=color, lw=1.2)
        all_loss += [tl[ok], h.eval_array("loss")]
    xlabel = "epoch" if x == "epoch" else "iteration"
    _panel(ax_acc, xlabel, "test accuracy (%)")
    _panel(ax_loss, xlabel, "loss (cross-entropy)",
           handles=[Line2D([], [], color="k", lw=1.2, label="train (mean over each epoch)"),
                    Line2D([], [], color="k", lw=1, ls="--", label="test")])
    _log_if_decades(ax_loss, np.concatenate(all_loss) if all_loss else np.array([]))
    if title:
        ax_acc.figure.suptitle(title)
    return ax_acc, ax_loss
