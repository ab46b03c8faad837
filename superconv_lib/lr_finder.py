"""The LR range test (Smith 2015, "Cyclical Learning Rates for Training Neural Networks", §3.3).

Train for ``num_iter`` iterations while the learning rate rises from ``start_lr`` to ``end_lr``
(geometrically, as fastai's ``lr_find``, or linearly, as in Smith's paper), record the training loss
at every iteration, and read the curve: where the loss starts to fall, where it falls fastest, and
where it blows up. Smith's own version records *accuracy* on held-out data instead: the lr where
accuracy starts to rise is a good ``base_lr`` and the lr where it peaks or turns ragged a good
``max_lr`` for a cyclical (or 1cycle) schedule.

The test is a *use* of :func:`superconv_lib.train.fit`, not a second loop: a sweep schedule
(:func:`schedules.exp_sweep` or :func:`schedules.linear_sweep`) plus one callback that smooths
the losses as they are read back and stops the run when they diverge.

What is done differently from fastai / torch-lr-finder, on purpose:

- model **and** optimizer state (and the loader's epoch counter, each module's train/eval mode, the
  gradients and torch's RNG) are restored in memory afterwards, also when the test raises or is
  interrupted: no ``reset()`` to remember, no temporary file on disk;
- the accuracy-based test is built in (``metric="accuracy"``);
- suggestions are all computed on log10(lr) spacing from the same curve and returned together, with
  ``None`` where a rule has no answer instead of an exception;
- ``stop_reason`` says where and why the sweep ended.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import io
import math
import numbers
from typing import Iterator, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from . import plots, schedules, train
from .data import Loader

__all__ = ["range_test", "RangeTest", "RangePoint", "ema", "preserved_state", "MODES", "METRICS"]

MODES = ("exp", "linear")
METRICS = ("loss", "accuracy")

# Losses are read back from the device every few iterations (each read is a host sync); after the
# divergence criterion fires, at most this many - 1 steps were wasted and are dropped.
_READ_EVERY = 5


class RangePoint(NamedTuple):
    """One evaluation during the sweep: after ``step`` iterations, at learning rate ``lr`` (the lr
    of the last of those iterations), held-out ``loss`` and ``accuracy`` (a fraction)."""
    step: int
    lr: float
    loss: float
    accuracy: float


# ------------------------------------------------------------------------------------------------
# Smoothing


def ema(losses: Sequence[float] | np.ndarray, beta: float) -> np.ndarray:
    """Exponential moving average with bias correction (as in Adam and fastai's ``lr_find``).

    ``a_t = beta * a_{t-1} + (1 - beta) * loss_t`` with ``a_{-1} = 0``, and the debiased value
    ``s_t = a_t / (1 - beta ** (t + 1))``, so the first points are not pulled towards 0. It averages
    over about ``1 / (1 - beta)`` iterations and *lags* the raw curve by up to
    ``beta / (1 - beta)`` iterations (49 for beta = 0.98). ``beta = 0`` returns the raw losses.
    """
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1) (got {beta!r}); 0 means no smoothing, fastai "
                         "uses 0.98.")
    x = np.asarray(losses, dtype=float)
    out = np.empty_like(x)
    avg = 0.0
    for t, v in enumerate(x):
        avg = beta * avg + (1 - beta) * v
        out[t] = avg / (1 - beta ** (t + 1))
    return out


class _Watch:
    """fit() callback: smooths each chunk of losses as it is read back and stops at divergence.

    Runs on the host in ``on_losses`` (the losses are already there), never in the step loop.
    """

    def __init__(self, beta: float, diverge: float) -> None:
        self.beta, self.diverge = beta, diverge
        self.avg, self.best = 0.0, math.inf
        self.smoothed: list[float] = []
        self.stop_step: int | None = None
        self.reason: str | None = None

    def on_losses(self, loop, first_step: int, losses: np.ndarray) -> None:
        if self.stop_step is not None:
            return
        b = self.beta
        for k, x in enumerate(losses):
            t = first_step + k
            self.avg = b * self.avg + (1 - b) * float(x)
            s = self.avg / (1 - b ** (t + 1))
            self.smoothed.append(s)
            lr = loop.history.lr[t]
            if not math.isfinite(s):
                self.reason = f"non-finite loss ({float(x)}) at step {t} (lr={lr:.4g})"
            elif s > self.diverge * self.best:
                self.reason = (f"diverged at step {t} (lr={lr:.4g}): smoothed loss {s:.4g} > "
                               f"{self.diverge:g} x best {self.best:.4g}")
            else:
                self.best = min(self.best, s)
                continue
            self.stop_step = t
            loop.stop = self.reason
            return


# ------------------------------------------------------------------------------------------------
# State restore


@contextlib.contextmanager
def preserved_state(model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    loader: Loader | None = None) -> Iterator[None]:
    """Snapshot, in memory, everything a short exploratory run changes, and put it back on exit —
    also when the body raises or is interrupted (``KeyboardInterrupt``).

    Restored: the model's parameters and buffers (BN running statistics included), its gradients,
    each module's train/eval mode and the device it was on; the optimizer's ``state_dict`` (momentum
    buffers, lr, momentum); the loader's epoch counter (so the test does not shift the shuffling
    order of the training that follows); torch's CPU (and current CUDA) RNG state. Copies are kept
    on the model's device (a GPU-memory cost of one model + optimizer copy); nothing is written to
    disk.
    """
    params = list(model.parameters())
    devices = {t.device for t in [*params, *model.buffers()]}
    device = devices.pop() if len(devices) == 1 else None
    weights = copy.deepcopy(model.state_dict())
    grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
    modes = {m: m.training for m in model.modules()}
    opt_state = copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None
    epoch = loader.epoch if loader is not None else None
    rng = torch.get_rng_state()
    cuda_rng = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda_rng = (torch.cuda.current_device(), torch.cuda.get_rng_state())
    try:
        yield
    finally:
        with torch.no_grad():
            if device is not None:
                model.to(device)
            model.load_state_dict(weights)
            for p, g in zip(params, grads):
                p.grad = None if g is None else g.to(p.device)
        for m, was_training in modes.items():
            m.training = was_training
        if optimizer is not None:
            optimizer.load_state_dict(opt_state)
        if loader is not None:
            loader.epoch = epoch
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state(cuda_rng[1], cuda_rng[0])


# ------------------------------------------------------------------------------------------------
# The test


def range_test(model: nn.Module, train_loader: Loader, *, start_lr: float = 1e-7,
               end_lr: float = 10.0, num_iter: int = 100, mode: str = "exp", metric: str = "loss",
               eval_data=None, eval_every: int | None = None, smooth: float = 0.98,
               diverge: float = 4.0, momentum: float | None = 0.9, weight_decay: float = 5e-4,
               optimizer: torch.optim.Optimizer | None = None, progress: bool = True,
               ) -> "RangeTest":
    """Run the LR range test and return the curve; ``model`` (and ``optimizer``) are left as found.

    For ``num_iter`` iterations (one iteration = one mini-batch) the learning rate rises from
    ``start_lr`` (iteration 0) to ``end_lr`` (iteration ``num_iter - 1``):

    - ``mode="exp"``: ``lr_i = start_lr * (end_lr / start_lr) ** (i / (num_iter - 1))``, equally
      many iterations per decade (fastai's ``lr_find``; needs ``start_lr > 0``);
    - ``mode="linear"``: ``lr_i = start_lr + (end_lr - start_lr) * i / (num_iter - 1)``, Smith's
      original test (e.g. 0 -> 3 for a CIFAR ResNet; ``start_lr = 0`` is allowed).

    The per-iteration training loss is smoothed with a bias-corrected exponential moving average
    (``beta = smooth``, see :func:`ema`); the sweep stops early at the first iteration whose
    smoothed loss exceeds ``diverge`` x the best smoothed loss so far, or is NaN/inf
    (``diverge=math.inf`` turns the check off; NaN still stops). ``RangeTest.stop_reason`` says
    where and why it stopped. Losses are read back every few iterations (one host sync each), so
    a stop may come a few iterations late; those extra iterations are dropped from the curve.

    ``metric="accuracy"`` is Smith's version: every ``eval_every`` iterations (default: about 20
    points over the sweep) the model is evaluated on ``eval_data`` — an ``(images, labels)`` tuple
    from ``data.load`` (normalised with the train loader's statistics) or a ``Loader`` without
    augmentation — and ``(step, lr, loss, accuracy)`` is recorded. ``eval_data`` with
    ``metric="loss"`` records the same points as extra information.

    The optimizer is a fresh SGD with heavy-ball ``momentum`` and L2 ``weight_decay`` (default 5e-4,
    as :func:`train.fit`: test with the momentum and regularisation you will train with; Smith 2018,
    "A disciplined approach to neural network hyper-parameters", runs range tests at several weight
    decays to choose one). Pass ``optimizer=`` to test your own optimizer instance instead
    (its weight decay is kept; ``momentum`` overrides its momentum / Adam beta1 during the test
    unless ``momentum=None``); its state is restored afterwards. A loader shorter than ``num_iter``
    iterations simply starts another epoch.

    Everything is restored in memory afterwards, also on an exception or ``KeyboardInterrupt`` (see
    :func:`preserved_state`): parameters, buffers, gradients, train/eval modes, the optimizer's
    state, ``train_loader.epoch`` (so later training sees the same data order as without the test)
    and torch's RNG state.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    _check_loader(train_loader)
    if mode not in MODES:
        raise ValueError(f"mode must be 'exp' (geometric sweep) or 'linear' (Smith's), "
                         f"got {mode!r}.")
    if metric not in METRICS:
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}.")
    if isinstance(num_iter, bool) or not isinstance(num_iter, (int, np.integer)) or num_iter < 2:
        raise ValueError(f"num_iter must be an int >= 2 iterations (got {num_iter!r}); 100 is "
                         "typical.")
    num_iter = int(num_iter)
    for name, v in (("start_lr", start_lr), ("end_lr", end_lr)):
        if isinstance(v, bool) or not (isinstance(v, numbers.Real) and math.isfinite(v)):
            raise ValueError(f"{name} must be a finite number, got {v!r}.")
    if mode == "exp" and not start_lr > 0:
        raise ValueError(f"mode='exp' needs start_lr > 0 (got {start_lr!r}): a geometric sweep "
                         "cannot start at 0. Use e.g. start_lr=1e-7, or mode='linear'.")
    if mode == "linear" and not start_lr >= 0:
        raise ValueError(f"start_lr must be >= 0, got {start_lr!r}.")
    if not end_lr > start_lr:
        raise ValueError(f"end_lr must be > start_lr (got start_lr={start_lr}, end_lr={end_lr}); "
                         "the range test sweeps the learning rate upward.")
    _check_sweep(smooth, diverge, momentum, weight_decay)
    if metric == "accuracy" and eval_data is None:
        raise ValueError("metric='accuracy' needs eval_data: an (images, labels) tuple from "
                         "data.load(..., 'test') or a Loader.")
    _check_eval_data(eval_data)
    if eval_every is not None:
        if isinstance(eval_every, bool) or not isinstance(eval_every, (int, np.integer)) \
                or eval_every < 1:
            raise ValueError(f"eval_every must be a positive int (iterations), got {eval_every!r}.")
        eval_every = int(eval_every)
    elif eval_data is not None:
        eval_every = max(1, round(num_iter / 20))
    if metric == "accuracy" and -(-num_iter // eval_every) < 2:
        raise ValueError(f"eval_every={eval_every} gives fewer than 2 accuracy points in "
                         f"{num_iter} iterations; use eval_every <= {num_iter // 2}.")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be None (a fresh SGD) or a torch.optim.Optimizer "
                         f"instance, got {type(optimizer).__name__}.")
    return _range_test(model, train_loader, start_lr, end_lr, num_iter, mode, metric, eval_data,
                       eval_every, smooth, diverge, momentum, weight_decay, optimizer, progress)


def _check_loader(train_loader) -> None:
    if not isinstance(train_loader, Loader):
        raise ValueError("train_loader must be a superconv_lib.data.Loader (build one with "
                         "data.Loader(x, y, batch_size)).")
    if len(train_loader) == 0:
        raise ValueError("train_loader is empty (0 iterations per epoch): use a smaller batch_size "
                         "or more images.")


def _check_eval_data(eval_data) -> None:
    pair = isinstance(eval_data, (tuple, list)) and len(eval_data) == 2
    if eval_data is not None and not (isinstance(eval_data, Loader) or pair):
        raise ValueError("eval_data must be an (images, labels) tuple from data.load, or a Loader.")


def _check_sweep(smooth, diverge, momentum, weight_decay) -> None:
    """The settings a sweep shares with the indicator's (checked at either public entry)."""
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth (the EMA beta) must be in [0, 1), got {smooth!r}; 0.98 is "
                         "fastai's default, 0 turns smoothing off.")
    if not diverge > 1:
        raise ValueError(f"diverge must be > 1 (a multiple of the best smoothed loss), got "
                         f"{diverge!r}; 4 is usual, math.inf turns the check off.")
    if momentum is not None and not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1) or None, got {momentum!r}.")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}.")


def _range_test(model: nn.Module, train_loader: Loader, start_lr: float, end_lr: float,
                num_iter: int, mode: str, metric: str, eval_data, eval_every: int | None,
                smooth: float, diverge: float, momentum: float | None, weight_decay: float,
                optimizer: torch.optim.Optimizer | None, progress: bool) -> "RangeTest":
    """:func:`range_test` on arguments already checked (the indicator calls it too)."""
    sweep = schedules.exp_sweep if mode == "exp" else schedules.linear_sweep
    lr_at = sweep(num_iter, start_lr, end_lr)
    watch = _Watch(smooth, diverge)
    with preserved_state(model, optimizer, train_loader):
        hist = train.fit(model, train_loader, steps=num_iter, lr=lr_at, momentum=momentum,
                         weight_decay=weight_decay,
                         optimizer=optimizer if optimizer is not None else "sgd",
                         eval_data=eval_data, eval_every=eval_every, callbacks=[watch],
                         progress=progress, read_every=_READ_EVERY, label="LR range test")

    n = len(hist.loss) if watch.stop_step is None else watch.stop_step + 1
    points = [RangePoint(e.step, e.lr, e.loss, e.accuracy) for e in hist.evals if e.step <= n]
    if watch.reason is not None:
        reason = watch.reason
    elif hist.stop_reason is not None:
        reason = hist.stop_reason
    else:
        reason = f"completed: swept to end_lr={end_lr:g} in {num_iter} iterations"
    return RangeTest(lrs=hist.lr[:n], losses=hist.loss[:n], smoothed=watch.smoothed[:n],
                     eval_points=points, stop_reason=reason, stop_step=watch.stop_step,
                     mode=mode, metric=metric, start_lr=start_lr, end_lr=end_lr,
                     num_iter=num_iter, smooth=smooth, diverge=diverge, history=hist)


# ------------------------------------------------------------------------------------------------
# The result


class RangeTest:
    """The curve an LR range test recorded, with suggestions, a plot and a CSV export.

    Attributes: ``lrs``, ``losses`` (raw training loss per iteration) and ``smoothed`` (the
    bias-corrected EMA) as NumPy arrays of equal length; ``eval_points`` (a list of
    :class:`RangePoint` ``(step, lr, loss, accuracy)``, empty unless ``eval_data`` was given);
    ``stop_reason`` (why the sweep ended); ``stop_step`` (the iteration at which divergence was
    detected — the last one recorded — or ``None`` if the sweep completed); ``history`` (the
    underlying :class:`train.History`, not truncated); and the settings ``mode``, ``metric``,
    ``start_lr``, ``end_lr``, ``num_iter``, ``smooth``, ``diverge``.
    """

    def __init__(self, *, lrs, losses, smoothed, eval_points, stop_reason: str,
                 stop_step: int | None = None, mode: str = "exp", metric: str = "loss",
                 start_lr: float = float("nan"), end_lr: float = float("nan"),
                 num_iter: int | None = None, smooth: float = 0.98, diverge: float = 4.0,
                 history: "train.History | None" = None) -> None:
        self.lrs = np.asarray(lrs, dtype=float)
        self.losses = np.asarray(losses, dtype=float)
        self.smoothed = np.asarray(smoothed, dtype=float)
        if not len(self.lrs) == len(self.losses) == len(self.smoothed):
            raise ValueError("lrs, losses and smoothed must have the same length.")
        self.eval_points = [RangePoint(*p) for p in eval_points]
        self.stop_reason, self.stop_step = stop_reason, stop_step
        self.mode, self.metric = mode, metric
        self.start_lr, self.end_lr = start_lr, end_lr
        self.num_iter = num_iter if num_iter is not None else len(self.lrs)
        self.smooth, self.diverge = smooth, diverge
        self.history = history

    @classmethod
    def from_curve(cls, lrs, losses, *, smooth: float = 0.0, eval_points=(),
                   **kwargs) -> "RangeTest":
        """A RangeTest from a recorded (or synthetic) curve, e.g. to compute suggestions for losses
        logged elsewhere. ``smoothed = ema(losses, smooth)``."""
        losses = np.asarray(losses, dtype=float)
        kwargs.setdefault("stop_reason", "from a recorded curve")
        kwargs.setdefault("mode", "exp")
        return cls(lrs=lrs, losses=losses, smoothed=ema(losses, smooth), eval_points=eval_points,
                   smooth=smooth, **kwargs)

    @property
    def diverged(self) -> bool:
        return self.stop_step is not None

    def __len__(self) -> int:
        return len(self.lrs)

    def __repr__(self) -> str:
        sug = self.suggestions()
        parts = []
        for k, v in sug.items():
            if v is None:
                parts.append(f"{k} -")
            elif isinstance(v, tuple):
                parts.append(f"{k} {v[0]:.3g}..{v[1]:.3g}")
            else:
                parts.append(f"{k} {v:.3g}")
        return (f"RangeTest({self.mode} {self.start_lr:g}->{self.end_lr:g}, metric={self.metric}, "
                f"{len(self)}/{self.num_iter} iterations; {self.stop_reason}; suggestions: "
                f"{', '.join(parts)})")

    def summary(self) -> str:
        """A few lines for a notebook: the sweep, why it stopped, and every suggestion."""
        lines = [f"LR range test: {self.mode} sweep {self.start_lr:g} -> {self.end_lr:g}, "
                 f"{len(self)} of {self.num_iter} iterations, metric={self.metric}",
                 f"  stop: {self.stop_reason}"]
        for k, v in self.suggestions().items():
            if v is None:
                text = "none (no answer on this curve)"
            elif isinstance(v, tuple):
                text = f"base_lr {v[0]:.3g}, max_lr {v[1]:.3g}"
            else:
                text = f"{v:.3g}"
            lines.append(f"  {k:>10}: {text}")
        return "\n".join(lines)

    # -------------------------------------------------------------------------------- suggestions

    def _window(self, skip_start: int | None, skip_end: int | None) -> np.ndarray:
        """Indices the loss rules look at: past the first ``skip_start`` iterations, before the
        last ``skip_end`` (the diverged tail), with a positive lr and a finite smoothed loss."""
        n = len(self.lrs)
        if skip_start is None:
            skip_start = max(1, self.num_iter // 10)   # fastai: num_it // 10
        if skip_end is None:
            skip_end = 5 if self.diverged else 0       # fastai always drops 5; here only after
                                                       # a divergence (the tail is the blow-up)
        if skip_start < 0 or skip_end < 0:
            raise ValueError("skip_start and skip_end must be >= 0 (iterations).")
        idx = np.arange(skip_start, max(skip_start, n - skip_end))
        ok = (self.lrs[idx] > 0) & np.isfinite(self.smoothed[idx])
        return idx[ok]

    def suggestions(self, *, skip_start: int | None = None, skip_end: int | None = None,
                    min_points: int = 5) -> dict:
        """Named learning-rate suggestions; a value is ``None`` when its rule has no answer.

        The loss rules read the *smoothed* loss over a window that skips the first ``skip_start``
        iterations (default ``num_iter // 10``, as fastai: the EMA is still settling) and, when the
        sweep diverged, the last ``skip_end`` (default 5) before the stop; iterations with lr = 0
        (a linear sweep's start) are left out. Slopes are taken against **log10(lr)**, so every
        rule reads the curve as it is drawn on a log axis, whichever ``mode`` swept it. Fewer than
        ``min_points`` points in the window gives ``None``.

        - ``steepest``: the lr of the most negative ``d loss / d log10(lr)`` (``np.gradient`` on the
          non-uniform log-lr grid); ``None`` if the loss never falls. Where the loss drops fastest
          per factor of lr — often a little low, and noisy.
        - ``valley``: fastai's default rule (ESRI's "longest valley"). Find the longest
          *decreasing subsequence* of the smoothed loss (``lds[i]`` = length of the longest chain of
          ever-lower losses ending at ``i``; the run ends at the first ``i`` of maximal length
          ``L`` and starts at ``end - L``), cut it into thirds (``s = L / 3``) and return the lr at
          index ``start + int(s) + int(s / 2)``: about half-way down the valley, in its steep part.
          (fastai updates the run's start only when a longer run first appears, so on noisy curves
          its start can lag by a few points; here the start is computed from the final length.)
        - ``min_div_10``: the lr at the minimum of the smoothed loss, divided by 10. The minimum
          sits at the edge of stability, so back off by a decade (fastai's ``minimum``).
        - ``acc_bounds`` (only when accuracy was measured): Smith's reading of the accuracy curve,
          ``(base_lr, max_lr)``. With ``a0`` the first eval accuracy and ``a*`` the best,
          ``base_lr`` is the lr of the first point above ``a0 + 0.1 (a* - a0)`` (accuracy starts to
          rise); ``max_lr`` is the lr of the running best just before accuracy first drops more than
          ``0.1 (a* - a0)`` below it (peaks or turns ragged), or of the best point if it never does.
          ``None`` if accuracy rose by less than 2 percentage points, or if ``base_lr >= max_lr``.
        """
        idx = self._window(skip_start, skip_end)
        out: dict = {"steepest": None, "valley": None, "min_div_10": None}
        if len(idx) >= max(min_points, 3):
            lrs, loss = self.lrs[idx], self.smoothed[idx]
            x = np.log10(lrs)
            if np.all(np.diff(x) > 0):
                grad = np.gradient(loss, x)
                k = int(np.argmin(grad))
                if grad[k] < 0:
                    out["steepest"] = float(lrs[k])
            out["valley"] = float(lrs[_valley_index(loss)])
            out["min_div_10"] = float(lrs[int(np.argmin(loss))] / 10)
        if self.eval_points:
            out["acc_bounds"] = _acc_bounds(self.eval_points)
        return out

    # ------------------------------------------------------------------------------ plot & export

    def plot(self, ax=None, *, what: str | None = None, log: bool | None = None,
             raw: bool = True, suggestions: bool = True, label: str | None = None,
             color: str = "C0"):
        """The curve against the learning rate, every suggestion marked (see
        :func:`superconv_lib.plots.range_test`)."""
        return plots.range_test(self, ax, what=what, log=log, raw=raw, suggestions=suggestions,
                                label=label, color=color)

    def to_csv(self, path: str | None = None) -> str:
        """Per-iteration rows ``step, lr, loss, smoothed, eval_loss, eval_accuracy`` (the eval
        columns filled on the iteration an evaluation followed). Writes ``path`` if given; returns
        the text."""
        evals = {p.step - 1: p for p in self.eval_points}
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["step", "lr", "loss", "smoothed", "eval_loss", "eval_accuracy"])
        for i in range(len(self.lrs)):
            e = evals.get(i)
            w.writerow([i, f"{self.lrs[i]:.8g}", f"{self.losses[i]:.8g}", f"{self.smoothed[i]:.8g}",
                        "" if e is None else f"{e.loss:.8g}",
                        "" if e is None else f"{e.accuracy:.6g}"])
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", newline="") as f:
                f.write(text)
        return text


def _valley_index(loss: np.ndarray) -> int:
    """fastai's ``valley`` on an array: index about half-way down the longest decreasing run."""
    n = len(loss)
    lds = np.ones(n, dtype=int)
    max_end = 0
    for i in range(1, n):
        higher = loss[:i] > loss[i]          # earlier points a decreasing chain can come from
        if higher.any():
            lds[i] = lds[:i][higher].max() + 1
        if lds[i] > lds[max_end]:
            max_end = i
    max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return int(min(n - 1, max(0, max_start + int(sections) + int(sections / 2))))


def _acc_bounds(points: Sequence[RangePoint], rise: float = 0.1,
                min_gain: float = 0.02) -> tuple[float, float] | None:
    """Smith's (base_lr, max_lr) from the accuracy curve; see ``RangeTest.suggestions``."""
    lr = np.array([p.lr for p in points], dtype=float)
    acc = np.array([p.accuracy for p in points], dtype=float)
    ok = np.isfinite(acc)
    lr, acc = lr[ok], acc[ok]
    if len(acc) < 3:
        return None
    a0, best = acc[0], acc.max()
    gain = best - a0
    if gain < min_gain:
        return None
    tol = rise * gain
    base_i = int(np.argmax(acc > a0 + tol))
    top_i = base_i
    for i in range(base_i, len(acc)):
        if acc[i] > acc[top_i]:
            top_i = i
        elif acc[i] < acc[top_i] - tol:
            break
    if not lr[base_i] < lr[top_i]:
        return None
    return float(lr[base_i]), float(lr[top_i])
