"""Smith & Topin's super-convergence indicator: an LR range test read through *test accuracy*.

Smith & Topin ("Super-Convergence: Very Fast Training of Neural Networks Using Large Learning
Rates", §4) sweep the learning rate **linearly** from 0 to a very large value (3 for a CIFAR-10
ResNet-56: 5,000 iterations, test accuracy every 100) and look at the test accuracy. Usually
accuracy rises, peaks and collapses once the LR is too large. When it instead **stays high up to
the largest LR** — a plateau — one large-LR cycle (1cycle, e.g. 0.1 -> 3) trains the network an
order of magnitude faster: the setup can *super-converge*.

``indicator()`` runs that test (``lr_finder.range_test(mode="linear", start_lr=0,
metric="accuracy")`` — the same ``train.fit`` step with a sweep schedule, no second loop) on a
freshly built model and returns an :class:`Indicator`; :func:`analyse` is the reading of the
accuracy curve on its own (plain arrays in, numbers out), so it can be tested on synthetic
curves and applied to accuracies logged elsewhere. The reading, in accuracy units (fractions):

1. smooth: ``s_k`` = median of the accuracies at eval points ``k-1, k, k+1`` (``window=3``;
   fewer at the ends) — one noisy evaluation can neither make nor break a plateau;
2. best ``A = max s_k`` at LR ``lr_best``; chance ``c = 1 / classes``; gain ``G = A - c``; the
   setup *trains* if ``G >= min_gain`` (default 0.1, ten points above chance);
3. ``lr_near_best``: the first LR with ``s_k >= A - tol`` (default ``tol = 0.05``: within five
   points of the best);
4. plateau level ``L = A - drop * G`` (default ``drop = 0.25``: keeps 75 % of the best gain over
   chance); the **plateau** is the unbroken run of consecutive eval points that contains the best
   one and has ``s_k >= L`` throughout, from ``lr_lo`` to ``lr_hi``;
5. **plateau score** = ``(lr_hi - lr_lo) / (max_lr - start_lr)``: the fraction of the swept LR
   range over which accuracy holds near its best (0 if the setup does not train). A sweep that
   stopped early (the loss became NaN) has no points past the stop, so its plateau ends there;
6. ``super_converges = trains and score >= threshold`` (default 0.5: accuracy holds over at least
   half of the LRs swept);
7. suggested 1cycle **bounds** ``(min_lr, max_lr)``: ``max_lr = lr_hi``, the largest LR still on
   the plateau; ``min_lr`` = the first LR where accuracy has made half its gain
   (``s_k >= c + G/2``, "accuracy clearly rises"), clipped into ``[max_lr/30, max_lr/4]`` so the
   cycle spans a factor 4-30 (Smith & Topin's CIFAR-10 ResNet-56 cycle 0.1 -> 3 is a factor 30).
"""
from __future__ import annotations

import math
import time
from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from . import config, lr_finder, plots
from ._validate import named_runs
from .data import Loader

__all__ = ["indicator", "Indicator", "analyse", "Analysis", "table", "CRITERIA"]

CRITERIA = {"tol": 0.05, "drop": 0.25, "min_gain": 0.1, "window": 3, "threshold": 0.5}
"""Default reading of the accuracy curve (see the module docstring); override per call."""

_MIN_DIV, _MAX_DIV = 4.0, 30.0   # the suggested cycle spans max_lr/30 .. max_lr/4 at its widest


class Analysis(NamedTuple):
    """What :func:`analyse` reads from one accuracy-vs-LR curve (accuracies as fractions)."""
    smoothed: np.ndarray           # running median of the accuracies (``window`` eval points)
    best_accuracy: float           # A, the best smoothed accuracy
    lr_best: float                 # the LR where it was reached (first, if tied)
    chance: float                  # c, accuracy of guessing
    trains: bool                   # A - c >= min_gain
    lr_near_best: float | None     # first LR with smoothed accuracy >= A - tol
    level: float                   # L = A - drop * (A - c), the plateau's floor
    plateau: tuple[float, float] | None   # (lr_lo, lr_hi), None if it does not train
    score: float                   # (lr_hi - lr_lo) / (max_lr - start_lr), 0 if it does not train
    super_converges: bool          # trains and score >= threshold
    bounds: tuple[float, float] | None    # suggested 1cycle (min_lr, max_lr)


def _median_filter(a: np.ndarray, window: int) -> np.ndarray:
    h = window // 2
    return np.array([np.median(a[max(0, i - h):i + h + 1]) for i in range(len(a))], dtype=float)


def analyse(lrs: Sequence[float] | np.ndarray, accuracies: Sequence[float] | np.ndarray, *,
            max_lr: float, start_lr: float = 0.0, chance: float = 0.1,
            tol: float = CRITERIA["tol"], drop: float = CRITERIA["drop"],
            min_gain: float = CRITERIA["min_gain"], window: int = CRITERIA["window"],
            threshold: float = CRITERIA["threshold"]) -> Analysis:
    """Read Smith & Topin's super-convergence indicator from test accuracy vs learning rate.

    ``lrs`` are the learning rates at the evaluation points of a sweep from ``start_lr`` to
    ``max_lr`` (strictly increasing, within that range; the last may be short of ``max_lr`` when
    the sweep stopped early, and there may be none if it stopped before the first evaluation:
    then it "does not train"), ``accuracies`` the test accuracies there as fractions in [0, 1].
    ``chance`` is the accuracy of guessing (``1 / classes``). The steps, and what ``tol``, ``drop``,
    ``min_gain``, ``window`` and ``threshold`` mean, are in this module's docstring; the defaults
    are :data:`CRITERIA`. Returns an :class:`Analysis`.
    """
    lr = np.asarray(lrs, dtype=float)
    acc = np.asarray(accuracies, dtype=float)
    if lr.ndim != 1 or acc.shape != lr.shape:
        raise ValueError(f"lrs and accuracies must be 1-D and of equal length (got shapes "
                         f"{lr.shape} and {acc.shape}).")
    if not (np.isfinite(lr).all() and np.isfinite(acc).all()):
        raise ValueError("lrs and accuracies must be finite numbers.")
    if not np.all(np.diff(lr) > 0):
        raise ValueError("lrs must be strictly increasing: the indicator reads an upward sweep.")
    if not (math.isfinite(start_lr) and math.isfinite(max_lr)) or not 0 <= start_lr < max_lr:
        raise ValueError(f"need 0 <= start_lr < max_lr (got start_lr={start_lr}, max_lr={max_lr}).")
    span = max_lr - start_lr
    if len(lr) and (lr[0] < start_lr - 1e-9 * span or lr[-1] > max_lr + 1e-9 * span):
        raise ValueError(f"lrs must lie within [start_lr, max_lr] = [{start_lr:g}, {max_lr:g}] "
                         f"(got {lr[0]:g} .. {lr[-1]:g}); pass the sweep's own start and end.")
    if len(acc) and (acc.min() < 0 or acc.max() > 1):
        raise ValueError("accuracies must be fractions in [0, 1] (divide percentages by 100).")
    if not 0 <= chance < 1:
        raise ValueError(f"chance must be in [0, 1), e.g. 0.1 for 10 classes (got {chance!r}).")
    for name, v in (("tol", tol), ("drop", drop), ("threshold", threshold)):
        if not 0 <= v <= 1:
            raise ValueError(f"{name} must be in [0, 1] (got {v!r}); the defaults are {CRITERIA}.")
    if not 0 < min_gain <= 1:
        raise ValueError(f"min_gain must be in (0, 1] accuracy points above chance (got "
                         f"{min_gain!r}); 0.1 means ten points.")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1 \
            or window % 2 == 0:
        raise ValueError(f"window must be an odd int >= 1 eval points (got {window!r}); 1 turns "
                         "the median smoothing off, 3 is the default.")

    if len(lr) == 0:  # the sweep diverged before its first evaluation: nothing trained
        return Analysis(acc, math.nan, math.nan, chance, False, None, math.nan, None, 0.0, False,
                        None)
    s = _median_filter(acc, int(window))
    k_best = int(np.argmax(s))
    best = float(s[k_best])
    gain = best - chance
    trains = gain >= min_gain
    level = best - drop * gain
    near = np.flatnonzero(s >= best - tol)
    lr_near_best = float(lr[near[0]]) if trains else None
    if not trains:
        return Analysis(s, best, float(lr[k_best]), chance, False, None, level, None, 0.0, False,
                        None)
    k0 = k1 = k_best
    while k0 > 0 and s[k0 - 1] >= level:
        k0 -= 1
    while k1 < len(s) - 1 and s[k1 + 1] >= level:
        k1 += 1
    lo, hi = float(lr[k0]), float(lr[k1])
    score = (hi - lo) / span
    k_half = int(np.flatnonzero(s >= chance + gain / 2)[0])
    min_lr = float(np.clip(lr[k_half], hi / _MAX_DIV, hi / _MIN_DIV))
    return Analysis(s, best, float(lr[k_best]), chance, True, lr_near_best, level, (lo, hi),
                    float(score), bool(score >= threshold), (min_lr, hi) if hi > 0 else None)


class Indicator:
    """The super-convergence indicator of one setup: accuracy (and loss) vs LR, and its reading.

    Attributes: ``label``; ``lrs``, ``accuracy``, ``eval_loss`` (arrays over the eval points);
    ``start_lr``, ``max_lr`` (the sweep); ``criteria`` (the reading's settings, see
    :func:`analyse`); ``range_test`` (the :class:`lr_finder.RangeTest` with the per-iteration
    training loss, ``None`` for :meth:`from_points`); ``info`` (settings and wall time); and the
    reading: ``analysis`` plus its fields as properties — ``best_accuracy``, ``lr_near_best``,
    ``plateau``, ``score``, ``super_converges``, ``bounds``, ``trains``.
    """

    def __init__(self, lrs, accuracy, *, max_lr: float, start_lr: float = 0.0,
                 chance: float = 0.1, eval_loss=None, label: str = "",
                 range_test: "lr_finder.RangeTest | None" = None, info: dict | None = None,
                 **criteria) -> None:
        unknown = set(criteria) - set(CRITERIA)
        if unknown:
            raise ValueError(f"unknown criteria {sorted(unknown)}; choose from {sorted(CRITERIA)}.")
        self.lrs = np.asarray(lrs, dtype=float)
        self.accuracy = np.asarray(accuracy, dtype=float)
        self.eval_loss = (np.full(len(self.lrs), np.nan) if eval_loss is None
                          else np.asarray(eval_loss, dtype=float))
        self.start_lr, self.max_lr, self.chance = float(start_lr), float(max_lr), float(chance)
        self.label = label
        self.range_test = range_test
        self.info = dict(info or {})
        self.criteria = {**CRITERIA, **criteria}
        self.analysis = analyse(self.lrs, self.accuracy, max_lr=self.max_lr,
                                start_lr=self.start_lr, chance=self.chance, **self.criteria)

    @classmethod
    def from_points(cls, lrs, accuracy, *, max_lr: float, start_lr: float = 0.0,
                    chance: float = 0.1, eval_loss=None, label: str = "", **criteria
                    ) -> "Indicator":
        """An indicator from a recorded (or synthetic) accuracy curve, e.g. a paper's log."""
        return cls(lrs, accuracy, max_lr=max_lr, start_lr=start_lr, chance=chance,
                   eval_loss=eval_loss, label=label, **criteria)

    def reread(self, **criteria) -> "Indicator":
        """The same curve read with other criteria (``tol``, ``drop``, ``min_gain``, ``window``,
        ``threshold``) — no retraining."""
        return type(self)(self.lrs, self.accuracy, max_lr=self.max_lr, start_lr=self.start_lr,
                         chance=self.chance, eval_loss=self.eval_loss, label=self.label,
                         range_test=self.range_test, info=self.info,
                         **{**self.criteria, **criteria})

    # the reading, as attributes
    best_accuracy = property(lambda self: self.analysis.best_accuracy)
    lr_near_best = property(lambda self: self.analysis.lr_near_best)
    plateau = property(lambda self: self.analysis.plateau)
    score = property(lambda self: self.analysis.score)
    super_converges = property(lambda self: self.analysis.super_converges)
    bounds = property(lambda self: self.analysis.bounds)
    trains = property(lambda self: self.analysis.trains)

    @property
    def stop_reason(self) -> str:
        return self.range_test.stop_reason if self.range_test is not None else "from points"

    @property
    def completed(self) -> bool:
        """Whether the sweep reached ``max_lr`` (False if the loss became NaN/inf before)."""
        return self.range_test is None or not self.range_test.diverged

    @property
    def stop_lr(self) -> float:
        """The LR of the sweep's last iteration (``max_lr`` if it completed)."""
        if self.range_test is not None and len(self.range_test.lrs):
            return float(self.range_test.lrs[-1])
        return float(self.lrs[-1]) if len(self.lrs) else self.start_lr

    def __repr__(self) -> str:
        return f"Indicator({self.summary()})"

    def summary(self) -> str:
        """One line: verdict, plateau score, plateau, best accuracy, suggested bounds."""
        a = self.analysis
        name = f"{self.label}: " if self.label else ""
        if len(self.lrs) == 0:
            return f"{name}does not train: {self.stop_reason} before the first evaluation"
        if not a.trains:
            stop = "" if self.completed else f", sweep stopped at lr={self.stop_lr:.3g}"
            return (f"{name}does not train (best test accuracy {a.best_accuracy:.1%}, chance "
                    f"{a.chance:.0%}{stop}); plateau score 0")
        verdict = "super-converges" if a.super_converges else "does not super-converge"
        stop = "" if self.completed else f"; sweep stopped at lr={self.stop_lr:.3g}"
        return (f"{name}{verdict}: plateau score {a.score:.2f} (accuracy keeps >= "
                f"{1 - self.criteria['drop']:.0%} of its best gain over chance from lr "
                f"{a.plateau[0]:.3g} to {a.plateau[1]:.3g}); best {a.best_accuracy:.1%} (within "
                f"{self.criteria['tol']:.0%} from lr {a.lr_near_best:.3g}); suggested 1cycle "
                f"{a.bounds[0]:.3g} -> {a.bounds[1]:.3g}{stop}")

    def plot(self, ax=None, *, loss: bool = True):
        """Test accuracy (and loss) vs LR with the reading marked (see
        :func:`superconv_lib.plots.indicator`). Returns the accuracy Axes."""
        return plots.indicator(self, ax, loss=loss)


# ------------------------------------------------------------------------------------------------


def _num_classes(eval_data) -> int:
    y = eval_data.y if isinstance(eval_data, Loader) else eval_data[1]
    return int(torch.unique(torch.as_tensor(y)).numel())


def indicator(model_fn: Callable[[], nn.Module], train_loader: Loader, eval_data, *,
              max_lr: float = 3.0, num_iter: int = 5000, eval_every: int = 100,
              start_lr: float = 0.0, momentum: float = 0.9, weight_decay: float = 1e-4,
              seed: int | None = 0, diverge: float = math.inf, smooth: float = 0.98,
              chance: float | None = None, label: str = "", progress: bool = True,
              **criteria) -> Indicator:
    """Run Smith & Topin's super-convergence indicator on a fresh ``model_fn()``.

    An LR range test with **test accuracy** (``lr_finder.range_test(mode="linear",
    metric="accuracy")``): for ``num_iter`` iterations (mini-batches of ``train_loader``) the LR
    rises linearly from ``start_lr`` (0) to ``max_lr``; every ``eval_every`` iterations the model
    is evaluated on ``eval_data`` (an ``(images, labels)`` tuple from ``data.load``, or a
    ``Loader``). SGD with heavy-ball ``momentum`` and L2 ``weight_decay``; the paper's CIFAR-10
    ResNet-56 setting is the default (0 -> 3 over 5,000 iterations, eval every 100, momentum 0.9,
    weight decay 1e-4, batch 1000 in the loader).

    ``model_fn`` is a zero-argument callable building the model (e.g.
    ``lambda: models.resnet_cifar(56)``); it is called after ``config.seed_everything(seed)``
    (unless ``seed`` is None), so indicators of several setups start from comparable
    initialisations. The sweep runs to ``max_lr`` unless the loss becomes NaN/inf (or, with a
    finite ``diverge``, exceeds ``diverge`` x its best smoothed value): the verdict is read from
    accuracy, not from the loss. ``chance`` defaults to 1 / (classes in ``eval_data``).
    ``criteria`` (``tol``, ``drop``, ``min_gain``, ``window``, ``threshold``) set the reading; see
    :func:`analyse`.
    """
    if not callable(model_fn) or isinstance(model_fn, nn.Module):
        raise ValueError("model_fn must be a zero-argument function that builds a fresh model, "
                         "e.g. lambda: models.resnet_cifar(56) — not a model instance.")
    lr_finder._check_loader(train_loader)
    if eval_data is None:
        raise ValueError("the indicator reads *test accuracy*: pass eval_data, e.g. "
                         "data.load('cifar10', 'test').")
    lr_finder._check_eval_data(eval_data)
    lr_finder._check_sweep(smooth, diverge, momentum, weight_decay)
    if not (isinstance(max_lr, (int, float)) and math.isfinite(max_lr) and max_lr > start_lr >= 0):
        raise ValueError(f"need 0 <= start_lr < max_lr (got start_lr={start_lr!r}, "
                         f"max_lr={max_lr!r}); Smith & Topin sweep 0 -> 3.")
    for name, v in (("num_iter", num_iter), ("eval_every", eval_every)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int (iterations), got {v!r}.")
    if num_iter // eval_every < 3:
        raise ValueError(f"eval_every={eval_every} gives fewer than 3 accuracy points in "
                         f"{num_iter} iterations; use eval_every <= {max(1, num_iter // 3)} "
                         "(the paper: 5,000 iterations, every 100).")
    unknown = set(criteria) - set(CRITERIA)
    if unknown:
        raise ValueError(f"unknown argument(s) {sorted(unknown)}; reading criteria are "
                         f"{sorted(CRITERIA)}.")
    if seed is not None:
        config.seed_everything(seed)
    model = model_fn()
    if not isinstance(model, nn.Module):
        raise ValueError(f"model_fn() must return a torch.nn.Module, got {type(model).__name__}.")
    if chance is None:
        chance = 1.0 / _num_classes(eval_data)
    start = time.perf_counter()
    # the arguments are checked above: the range test's inner function runs them as they are
    rt = lr_finder._range_test(model, train_loader, float(start_lr), float(max_lr), int(num_iter),
                               "linear", "accuracy", eval_data, int(eval_every), smooth, diverge,
                               momentum, weight_decay, None, progress)
    wall = time.perf_counter() - start
    pts = rt.eval_points    # may be short (or empty) if the loss became NaN early
    info = dict(num_iter=int(num_iter), eval_every=int(eval_every), momentum=momentum,
                weight_decay=weight_decay, batch_size=train_loader.batch_size,
                wall_time=wall, model=type(model).__name__)
    return Indicator([p.lr for p in pts], [p.accuracy for p in pts], max_lr=float(max_lr),
                     start_lr=float(start_lr), chance=chance, eval_loss=[p.loss for p in pts],
                     label=label, range_test=rt, info=info, **criteria)


def table(indicators: Sequence[Indicator], labels: Sequence[str] | None = None) -> str:
    """A plain-text table: best accuracy, plateau, score, verdict, suggested bounds, wall time."""
    items = named_runs(indicators, "Indicator", labels, unnamed="setup")
    if not all(isinstance(i, Indicator) for _, i in items):
        raise ValueError("pass Indicator objects (from indicator() or Indicator.from_points).")
    width = max(8, *(len(n) for n, _ in items))
    lines = [f"{'setup':<{width}}  {'best acc':>8}  {'plateau (lr)':>13}  {'score':>5}  "
             f"{'super-conv.':>11}  {'1cycle bounds':>13}  {'time (s)':>8}"]
    for name, ind in items:
        a = ind.analysis
        plat = f"{a.plateau[0]:.2g}..{a.plateau[1]:.2g}" if a.plateau else "-"
        b = f"{a.bounds[0]:.2g}..{a.bounds[1]:.2g}" if a.bounds else "-"
        t = ind.info.get("wall_time")
        best = "-" if math.isnan(a.best_accuracy) else f"{a.best_accuracy:.1%}"
        lines.append(f"{name:<{width}}  {best:>8}  {plat:>13}  {a.score:>5.2f}  "
                     f"{'yes' if a.super_converges else 'no':>11}  {b:>13}  "
                     f"{'-' if t is None else f'{t:.1f}':>8}")
    return "\n".join(lines)
