"""Smith & Topin's Hessian-free estimate of the optimal learning rate, measured during training.

Super-Convergence (Smith & Topin 2017), section "Estimating optimal learning rates": take the
weights at three consecutive iterations, θ_i, θ_{i+1}, θ_{i+2}, trained with learning rate ε.
With plain SGD the steps are θ_{i+1} − θ_i = −ε∇f(θ_i), so the change of the gradient along the
step gives a *secant* (finite-difference) estimate of the Hessian-vector product (AdaSecant,
Schaul et al. 2013):

    H·(θ_{i+1} − θ_i) ≈ ∇f(θ_{i+1}) − ∇f(θ_i) = (2θ_{i+1} − θ_i − θ_{i+2}) / ε

A Newton step along one weight would use the rate 1/H, i.e. per weight
ε·(θ_{i+1} − θ_i)/(2θ_{i+1} − θ_i − θ_{i+2}). One global number sums absolute values over all
weights:

    ε* = ε · Σ|θ_{i+1} − θ_i| / Σ|2θ_{i+1} − θ_i − θ_{i+2}|

and a moving average m ← (1 − α)·m + α·ε* smooths it. On f(θ) = a·θ²/2 with plain SGD it equals
1/a exactly, whatever ε was used. No Hessian is formed: three weight snapshots are enough.

Which weights: every *trainable* parameter of the model (``requires_grad``), including batch
norm's scale and shift; buffers such as batch norm's running mean/variance are not parameters
and are left out (they are not moved by the optimizer's step).

Which ε: the learning rate of the steps between the snapshots. When the two steps used different
rates ε₁ (θ_i → θ_{i+1}) and ε₂ (θ_{i+1} → θ_{i+2}) — a schedule changes the lr every iteration —
the secant is taken exactly, ∇f(θ_{i+1}) − ∇f(θ_i) = (θ_{i+1} − θ_{i+2})/ε₂ − (θ_i − θ_{i+1})/ε₁,
which gives ε* = ε₁ · Σ|θ_{i+1} − θ_i| / Σ|(θ_{i+1} − θ_i) − (ε₁/ε₂)(θ_{i+2} − θ_{i+1})|; with
ε₁ = ε₂ this is the formula above bit for bit. (Smith's released scripts use "the current lr";
under a linear 1cycle the two rates differ by about one part in 10⁴.)

``HessianFreeLR`` is a :func:`superconv_lib.train.fit` callback: it copies the weights (one flat
tensor on the device) at the snapshot iterations, computes the two sums on the device, and reads
them back only when ``fit`` reads its losses — no extra host sync in the step loop.
"""
from __future__ import annotations

import csv
import io
import math
from typing import Callable, Iterable, NamedTuple, Sequence, Union

import numpy as np
import torch
from torch import nn

from . import models, plots, train

__all__ = ["estimate", "per_weight_estimate", "trainable_parameters", "HessianFreeLR", "Record",
           "run", "runs", "quadratic_trajectory"]

# one weight snapshot: a tensor, a list of tensors (parameter copies) or a module
Weights = Union[torch.Tensor, Iterable[torch.Tensor], nn.Module]


# ---------------------------------------------------------------------------------------------
# The estimate itself
# ---------------------------------------------------------------------------------------------

def trainable_parameters(model: nn.Module) -> list[torch.Tensor]:
    """The weights the estimate sums over: ``model``'s parameters with ``requires_grad`` (batch
    norm's affine scale/shift included; its running statistics are buffers, not parameters)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (requires_grad=True) to measure.")
    return params


def _flat(weights, name: str) -> torch.Tensor:
    """A 1-D copy of one snapshot: a tensor, a parameter list, or a module's trainable weights."""
    if isinstance(weights, nn.Module):
        weights = trainable_parameters(weights)
    if isinstance(weights, torch.Tensor):
        return weights.detach().reshape(-1)
    try:
        parts = [w.detach().reshape(-1) for w in weights]
    except (TypeError, AttributeError) as e:
        raise ValueError(f"{name} must be a tensor, a list of tensors or an nn.Module, "
                         f"got {type(weights).__name__}.") from e
    if not parts:
        raise ValueError(f"{name} is an empty list of tensors.")
    return torch.cat(parts)


def _check_lr(lr) -> tuple[float, float]:
    pair = tuple(lr) if isinstance(lr, (tuple, list)) else (lr, lr)
    if len(pair) != 2:
        raise ValueError(f"lr must be a number or a pair (lr of step i, lr of step i+1); got {lr!r}.")
    out = []
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                or not math.isfinite(v) or v <= 0:
            raise ValueError(f"lr must be a positive finite learning rate (the rate of the steps "
                             f"between the snapshots); got {lr!r}.")
        out.append(float(v))
    return out[0], out[1]


def _sums(d1: torch.Tensor, d2: torch.Tensor, lr1: float, lr2: float
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Numerator Σ|Δ₁| and denominator Σ|Δ₁ − (ε₁/ε₂)Δ₂| as 0-d float64 tensors on the device
    (no host sync). Δ₁ = θ_{i+1} − θ_i, Δ₂ = θ_{i+2} − θ_{i+1}."""
    second = d1 - d2 if lr1 == lr2 else d1 - (lr1 / lr2) * d2
    return d1.abs().sum(dtype=torch.float64), second.abs().sum(dtype=torch.float64)


def _ratio(lr1: float, num: float, den: float) -> float:
    return lr1 * num / den if den > 0 and math.isfinite(den) and math.isfinite(num) else math.nan


def estimate(theta0: Weights, theta1: Weights, theta2: Weights,
             lr: "float | tuple[float, float]") -> float:
    """Smith & Topin's Hessian-free optimal learning rate from three consecutive iterates.

    ``ε* = ε · Σ|θ₁ − θ₀| / Σ|2θ₁ − θ₀ − θ₂|`` (sums over all weights). Each ``theta`` is a tensor,
    a list of tensors (e.g. copies of ``trainable_parameters(model)``) or an ``nn.Module`` (its
    trainable parameters); the three must have the same shapes. ``lr`` is ε, the learning rate of
    the two steps θ₀ → θ₁ → θ₂, or a pair ``(ε₁, ε₂)`` when the two steps used different rates
    (then ``ε* = ε₁ Σ|Δ₁| / Σ|Δ₁ − (ε₁/ε₂)Δ₂|``, the exact secant; see the module docstring).

    Units: a learning rate, directly comparable with the lr in use. Returns NaN when the
    denominator is zero (the two steps are identical: no curvature is measurable along them).
    On f(θ) = a·θ²/2 with plain SGD the result is exactly 1/a.
    """
    lr1, lr2 = _check_lr(lr)
    t0, t1, t2 = _flat(theta0, "theta0"), _flat(theta1, "theta1"), _flat(theta2, "theta2")
    if not (t0.shape == t1.shape == t2.shape):
        raise ValueError(f"the three snapshots must hold the same number of weights; got "
                         f"{t0.numel()}, {t1.numel()} and {t2.numel()}.")
    if t0.numel() == 0:
        raise ValueError("the snapshots hold no weights.")
    num, den = _sums(t1 - t0, t2 - t1, lr1, lr2)
    num_f, den_f = torch.stack([num, den]).tolist()
    return _ratio(lr1, num_f, den_f)


def per_weight_estimate(theta0: torch.Tensor, theta1: torch.Tensor, theta2: torch.Tensor,
                        lr: "float | tuple[float, float]") -> torch.Tensor:
    """The per-weight optimal rate ``ε·(θ₁ − θ₀)/(2θ₁ − θ₀ − θ₂)`` (the secant 1/H of each weight),
    as a tensor shaped like ``theta0``; NaN where the denominator is zero. The global
    :func:`estimate` is the ratio of the *sums* of absolute values, which is far less noisy."""
    lr1, lr2 = _check_lr(lr)
    if not (isinstance(theta0, torch.Tensor) and isinstance(theta1, torch.Tensor)
            and isinstance(theta2, torch.Tensor)):
        raise ValueError("per_weight_estimate takes three tensors of the same shape.")
    if not (theta0.shape == theta1.shape == theta2.shape):
        raise ValueError(f"the three snapshots must have the same shape; got {tuple(theta0.shape)}, "
                         f"{tuple(theta1.shape)}, {tuple(theta2.shape)}.")
    d1, d2 = theta1 - theta0, theta2 - theta1
    den = d1 - (lr1 / lr2) * d2
    out = lr1 * d1 / den
    return torch.where(den != 0, out, torch.full_like(out, math.nan))


# ---------------------------------------------------------------------------------------------
# During training: a fit() callback
# ---------------------------------------------------------------------------------------------

class Record(NamedTuple):
    """One estimate: ``step`` is the first iteration of the measured pair of steps (θ_i is the
    weights before it), ``lr`` the rate ε used at that iteration, ``raw`` = ε*, ``smoothed`` = m."""
    step: int
    lr: float
    raw: float
    smoothed: float


class HessianFreeLR:
    """``fit`` callback recording Smith & Topin's estimated optimal learning rate during training.

    Every ``every`` iterations (at iterations s = 0, every, 2·every, …) it measures the estimate
    from the weights before iteration s, after iteration s + gap − 1 and after s + 2·gap − 1; with
    the default ``gap=1`` these are three consecutive iterates θ_i, θ_{i+1}, θ_{i+2}, as in the
    paper. (Smith's released scripts compare snapshots saved 10 iterations apart, i.e.
    ``every=10, gap=10``; the lr then stands for a 10-step move, so the number is smaller.)
    ε is the mean lr over each window of ``gap`` steps (for ``gap=1``: the lr of that step).

    ``smoothing`` is α of the moving average m ← (1 − α)·m + α·ε*; m starts at the first finite
    estimate (Smith's script starts it at 0.1). A NaN estimate — zero denominator, or an lr of 0 in
    the window — is recorded as NaN and leaves m unchanged.

    Results: ``records`` (list of :class:`Record`), arrays ``steps``, ``lr``, ``raw``, ``smoothed``,
    ``plot()``, ``to_csv()``. Cost: one flat copy of the weights on the device per snapshot iteration
    and two reductions per estimate; values are read back when ``fit`` reads its losses.
    """

    def __init__(self, every: int = 10, smoothing: float = 0.1, *, gap: int = 1) -> None:
        for name, v in (("every", every), ("gap", gap)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive int number of iterations, got {v!r}; "
                                 "Smith computes the estimate every 10 iterations.")
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) \
                or not 0 < smoothing <= 1:
            raise ValueError(f"smoothing must be in (0, 1] (the weight α of the newest estimate; 1 = "
                             f"no smoothing, Smith uses 0.1); got {smoothing!r}.")
        self.every, self.gap, self.smoothing = int(every), int(gap), float(smoothing)
        self.records: list[Record] = []
        self.history = None          # set by run()
        self.label = ""
        self._reset()

    def _reset(self) -> None:
        self._params: list[torch.Tensor] = []
        self._pending: dict[int, list[torch.Tensor]] = {}   # s -> snapshots taken so far
        self._done: list[tuple[int, float, torch.Tensor, torch.Tensor]] = []  # s, ε₁, num, den
        self._m = math.nan
        self._steps = 0

    def __repr__(self) -> str:
        sm = self.smoothed[np.isfinite(self.smoothed)]
        rng = f", smoothed {sm.min():.3g}–{sm.max():.3g}" if len(sm) else ""
        return (f"HessianFreeLR({self.label + ': ' if self.label else ''}every={self.every}, "
                f"smoothing={self.smoothing}, gap={self.gap}: {len(self.records)} estimates{rng})")

    # --- callback hooks (see train.Callback) -----------------------------------------------
    def on_train_begin(self, loop) -> None:
        self._reset()
        self.records = []
        self._params = trainable_parameters(loop.model)
        self._steps = loop.steps
        self._snapshot(loop, next_step=0)

    def on_step_end(self, loop) -> None:
        self._snapshot(loop, next_step=loop.step + 1)

    def on_losses(self, loop, first_step: int, losses) -> None:
        self._collect()

    def on_train_end(self, loop) -> None:
        self._collect()
        self._pending.clear()
        self._params = []

    # --- the work ------------------------------------------------------------------------------
    def _snapshot(self, loop, next_step: int) -> None:
        """The weights now are those *before* iteration ``next_step``; take the roles they play."""
        g, n = self.gap, next_step
        start = n % self.every == 0 and n + 2 * g - 1 <= self._steps - 1
        mid, end = n - g, n - 2 * g
        is_mid = mid in self._pending and len(self._pending[mid]) == 1
        is_end = end in self._pending and len(self._pending[end]) == 2
        if not (start or is_mid or is_end):
            return
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for p in self._params])
        if is_end:
            theta0, theta1 = self._pending.pop(end)
            lrs = loop.history.lr
            lr1 = sum(lrs[end:end + g]) / g
            lr2 = sum(lrs[end + g:end + 2 * g]) / g
            if lr1 > 0 and lr2 > 0:
                with torch.no_grad():
                    num, den = _sums(theta1 - theta0, flat - theta1, lr1, lr2)
            else:
                num = den = None
            self._done.append((end, lr1, num, den))
        if is_mid:
            self._pending[mid].append(flat)
        if start:
            self._pending[n] = [flat]

    def _collect(self) -> None:
        """Turn the device sums into records: one host read for everything finished so far."""
        if not self._done:
            return
        sums = [t for _, _, num, den in self._done if num is not None for t in (num, den)]
        values = iter(torch.stack(sums).tolist()) if sums else iter(())
        a = self.smoothing
        for step, lr1, num, _ in self._done:
            raw = _ratio(lr1, next(values), next(values)) if num is not None else math.nan
            if math.isfinite(raw):
                self._m = raw if math.isnan(self._m) else (1 - a) * self._m + a * raw
            self.records.append(Record(step, lr1, raw, self._m))
        self._done.clear()

    # --- results ---------------------------------------------------------------------------
    def _column(self, i: int) -> np.ndarray:
        return np.array([r[i] for r in self.records], dtype=float)

    @property
    def steps(self) -> np.ndarray:
        """Iteration of each estimate (the first of the two measured steps)."""
        return np.array([r.step for r in self.records], dtype=int)

    @property
    def lr(self) -> np.ndarray:
        """The learning rate in use (ε) at each estimate."""
        return self._column(1)

    @property
    def raw(self) -> np.ndarray:
        """ε* of each triple of snapshots, unsmoothed."""
        return self._column(2)

    @property
    def smoothed(self) -> np.ndarray:
        """The moving average m of ε*."""
        return self._column(3)

    def range(self, after: int = 0) -> tuple[float, float]:
        """(min, max) of the smoothed estimate over the records at iterations >= ``after``."""
        sm = self.smoothed[(self.steps >= after) & np.isfinite(self.smoothed)] if self.records \
            else np.array([])
        if not len(sm):
            raise ValueError(f"no finite estimates at iterations >= {after}; train longer or "
                             "lower every.")
        return float(sm.min()), float(sm.max())

    def to_csv(self, path: str | None = None) -> str:
        """Rows ``step, lr, raw, smoothed``; writes ``path`` if given; returns the text."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["step", "lr", "raw", "smoothed"])
        for r in self.records:
            w.writerow([r.step, f"{r.lr:.8g}", f"{r.raw:.8g}", f"{r.smoothed:.8g}"])
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", newline="") as f:
                f.write(text)
        return text

    def plot(self, *, ax=None, label: str | None = None, color: str | None = None,
             show_raw: bool = True, show_lr: bool = True):
        """Estimated optimal lr (smoothed line, raw dots) and the lr in use (dashed) vs iteration,
        on a log lr axis (see :func:`superconv_lib.plots.hessian`). Returns the ``Axes``."""
        return plots.hessian({label or self.label or "run": self}, ax=ax, show_raw=show_raw,
                             show_lr=show_lr, colors=[color] if color else None)


def run(model: nn.Module, loader, *, lr, steps: int | None = None, epochs: float | None = None,
        every: int = 10, smoothing: float = 0.1, gap: int = 1, label: str = "",
        **fit_kwargs) -> HessianFreeLR:
    """Train with :func:`superconv_lib.train.fit` (``lr`` a number or a schedule of the iteration;
    other keywords go to ``fit``) while recording the Hessian-free estimate every ``every``
    iterations. Returns the :class:`HessianFreeLR`, with the run's ``History`` as ``.history``."""
    est = HessianFreeLR(every, smoothing, gap=gap)
    callbacks = list(fit_kwargs.pop("callbacks", ())) + [est]
    est.history = train.fit(model, loader, steps=steps, epochs=epochs, lr=lr, callbacks=callbacks,
                      label=label, **fit_kwargs)
    est.label = label
    return est


def runs(model: "str | Callable[[], nn.Module]", loader, lrs: dict, *, steps: int,
         every: int = 10, smoothing: float = 0.1, gap: int = 1, seed: int = 0,
         **fit_kwargs) -> dict[str, HessianFreeLR]:
    """:func:`superconv_lib.train.runs` with the estimate recorded: a fresh ``model`` (a
    ``models.MODELS`` name or a constructor) trained once per schedule in ``lrs`` (``{name: lr}``,
    e.g. from ``experiments.comparison_schedules``), each from the same seed and mini-batches and
    for ``steps`` iterations, each with its own :class:`HessianFreeLR`. Returns
    ``{name: HessianFreeLR}`` (each with its ``.history``; a run that diverged keeps its History
    up to the divergence) for :func:`superconv_lib.plots.hessian`."""
    if not lrs:
        raise ValueError("lrs must name at least one schedule, e.g. "
                         "experiments.comparison_schedules(steps).")
    build = (lambda: models.build(model)) if isinstance(model, str) else model
    extra = list(fit_kwargs.pop("callbacks", ()))
    out = {}
    for name, lr in lrs.items():       # one train.runs per schedule: each needs its own callback
        est = out[name] = HessianFreeLR(every, smoothing, gap=gap)
        est.history = train.runs(build, loader, {name: lr}, seed=seed, steps=steps,
                                 callbacks=[*extra, est], **fit_kwargs)[name]
        est.label = name
    return out


# ---------------------------------------------------------------------------------------------
# An analytic fixture: SGD on a quadratic, where the answer is known
# ---------------------------------------------------------------------------------------------

def quadratic_trajectory(curvatures: "float | Sequence[float]", theta0: "float | Sequence[float]",
                         lr: float, steps: int, *, momentum: float = 0.0,
                         weight_decay: float = 0.0) -> torch.Tensor:
    """Iterates of ``torch.optim.SGD`` (the optimizer ``fit`` uses, same momentum and weight-decay
    conventions) on f(θ) = Σ a_j·θ_j²/2, whose Hessian is diag(a). Returns a float64 tensor of
    shape ``(steps + 1, d)``: row k is θ after k iterations. The gradient is set analytically
    (a·θ) — there is no data and no loss, so this is a fixture for checking :func:`estimate`, not a
    training loop."""
    a = torch.as_tensor(curvatures, dtype=torch.float64).reshape(-1)
    theta = torch.as_tensor(theta0, dtype=torch.float64).reshape(-1).clone()
    if theta.numel() == 1 and a.numel() > 1:
        theta = theta.expand_as(a).clone()
    if a.shape != theta.shape:
        raise ValueError(f"curvatures and theta0 must have the same length; got {a.numel()} "
                         f"and {theta.numel()}.")
    if not (torch.isfinite(a).all() and (a > 0).all()):
        raise ValueError("curvatures must be positive (a convex quadratic).")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2 (three iterates), got {steps!r}.")
    _check_lr(lr)
    p = nn.Parameter(theta)
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum, weight_decay=weight_decay)
    out = [p.detach().clone()]
    for _ in range(steps):
        p.grad = a * p.detach()
        opt.step()
        out.append(p.detach().clone())
    return torch.stack(out)
