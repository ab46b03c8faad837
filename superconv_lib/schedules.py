"""Learning-rate (and momentum) policies: CLR, 1cycle, piecewise, Caffe "inv", range-test sweeps.

Every policy is a *factory*: it checks its arguments once and returns a plain function of the
iteration (one iteration = one mini-batch = one optimizer step) that gives a Python float (or an
``(lr, momentum)`` pair), about a microsecond per call. Nothing keeps state, so a schedule can be
plotted, tested and resumed without a model: ``one_cycle(1000, 0.1)(k)`` is the value at iteration
``k``. :func:`set_hparams` is the one writer of lr and momentum into an optimizer; ``fit`` calls it
every iteration and :class:`Scheduled` (an ``LRScheduler``) calls it too.

Terms from the papers, all counted in iterations:

- **stepsize** (Smith 2015, "Cyclical Learning Rates for Training Neural Networks"): half a cycle,
  the iterations it takes the lr to climb from ``base_lr`` to ``max_lr``.
- **cycle**: one climb plus one descent, i.e. ``2 * stepsize`` iterations.
- **1cycle** (Smith & Topin 2017, "Super-Convergence"): a single cycle that spans the whole run,
  followed by an **annealing phase** that takes the lr a few orders of magnitude below ``base_lr``;
  momentum cycles the opposite way (high momentum when the lr is low).
- **LR range test**: a short run whose lr sweeps upward, linearly or geometrically.

| policy            | factory           | torch equivalent                                    |
|-------------------|-------------------|-----------------------------------------------------|
| CLR               | ``clr``           | ``CyclicLR(cycle_momentum=False)``, exactly          |
| 1cycle + momentum | ``one_cycle``     | ``OneCycleLR(three_phase=True)`` (recipe in the doc) |
| step decay        | ``piecewise``     | ``MultiStepLR`` with explicit values                 |
| Caffe "inv"       | ``inv``           | none                                                |
| range test        | ``linear_sweep``, ``exp_sweep`` | none                                  |
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import Any, Tuple, Union

import torch
from torch.optim.lr_scheduler import LRScheduler

from . import _validate as V

__all__ = ["clr", "one_cycle", "piecewise", "inv", "linear_sweep", "exp_sweep", "set_hparams", "write_hparams",
           "has_momentum", "Scheduled", "CLR_MODES", "SHAPES"]

CLR_MODES = ("triangular", "triangular2", "exp_range")
SHAPES = ("linear", "cos")

Schedule = Callable[[int], Union[float, Tuple[float, float]]]
"""A schedule: iteration -> lr, or iteration -> (lr, momentum)."""


def _negative_step(fn: str, step: int) -> ValueError:
    return ValueError(f"{fn}: step must be >= 0 (got {step!r}); iterations are counted from 0.")


# ---------------------------------------------------------------------------------------------
# Cyclical learning rates (Smith 2015)
# ---------------------------------------------------------------------------------------------

def clr(base_lr: float, max_lr: float, step_size: int, mode: str = "triangular",
        gamma: float = 1.0) -> Callable[[int], float]:
    """Cyclical learning rate (Smith 2015, "Cyclical Learning Rates"): ``step -> lr``.

    The lr climbs linearly from ``base_lr`` to ``max_lr`` over ``step_size`` iterations (the
    paper's *stepsize*, half a *cycle*), falls back over the next ``step_size``, and repeats:

    - ``"triangular"``: every cycle has the same amplitude;
    - ``"triangular2"``: the amplitude halves after each cycle;
    - ``"exp_range"``: the amplitude is multiplied by ``gamma ** step`` (``step`` in iterations).

    Bit-for-bit the arithmetic of ``torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr, max_lr,
    step_size_up=step_size, mode=mode, gamma=gamma, cycle_momentum=False)``, whose lr after
    ``k`` calls to ``step()`` is ``clr(base_lr, max_lr, step_size, mode, gamma)(k)``.

    Args:
        base_lr: lower bound of the cycle, >= 0.
        max_lr: upper bound of the cycle, > 0 and >= ``base_lr``.
        step_size: stepsize in iterations (half a cycle), >= 1.
        mode: one of ``CLR_MODES``.
        gamma: per-iteration decay of the amplitude in ``"exp_range"`` mode, in (0, 1].

    ``"triangular2"`` keeps returning ``base_lr`` once the amplitude has halved below the float
    range (after 1,024 cycles) instead of overflowing.
    """
    name = "clr"
    base_lr = V.non_negative(base_lr, "base_lr", name)
    max_lr = V.positive(max_lr, "max_lr", name)
    if base_lr > max_lr:
        raise ValueError(f"{name}: base_lr must be <= max_lr (got base_lr={base_lr}, "
                         f"max_lr={max_lr}); swap them.")
    step_size = V.integer(step_size, "step_size", name, unit="iterations")
    if step_size < 1:
        raise ValueError(f"{name}: step_size must be >= 1 iteration (got {step_size}); the paper "
                         "suggests 2-10 epochs' worth of iterations.")
    if not isinstance(mode, str) or mode not in CLR_MODES:
        raise ValueError(f"{name}: mode must be one of {', '.join(CLR_MODES)} (got {mode!r}).")
    hint = "; exp_range uses gamma slightly below 1, e.g. 0.99994"
    gamma = V.positive(gamma, "gamma", name, hint)
    if mode == "exp_range" and gamma > 1:
        # gamma ** step would grow the amplitude without bound, far above max_lr
        raise ValueError(f"{name}: gamma must be <= 1 in exp_range mode, where the amplitude is "
                         f"multiplied by gamma ** step (got {gamma!r}){hint}.")
    # Same float operations, in the same order, as torch's CyclicLR.get_lr.
    total_size = float(step_size) + float(step_size)
    step_ratio = float(step_size) / total_size
    span = max_lr - base_lr

    def schedule(step: int) -> float:
        if step < 0:
            raise _negative_step(name, step)
        cycle = math.floor(1 + step / total_size)
        x = 1.0 + step / total_size - cycle
        scale_factor = x / step_ratio if x <= step_ratio else (x - 1) / (step_ratio - 1)
        if mode == "triangular":
            amplitude = 1.0
        elif mode == "triangular2":
            # 2.0 ** 1024 overflows; by then the amplitude is below 2 ** -1023, i.e. base_lr
            amplitude = 1 / (2.0 ** (cycle - 1)) if cycle <= 1024 else 0.0
        else:
            amplitude = gamma ** step
        return float(base_lr + span * scale_factor * amplitude)
    return schedule


# ---------------------------------------------------------------------------------------------
# 1cycle (Smith & Topin 2017), built from legs as fastai's combine_scheds does
# ---------------------------------------------------------------------------------------------

Leg = Callable[[float], float]
"""A leg maps the fraction ``pct`` in [0, 1] of its phase to a value."""


def _leg(shape: str, start: float, end: float) -> Leg:
    """One phase of a schedule: ``start`` at pct=0 to ``end`` at pct=1, straight or half-cosine."""
    if shape == "linear":
        return lambda pct: start + (end - start) * pct
    # Same expression as torch's OneCycleLR._annealing_cos (and fastai's SchedCos), its constant
    # half-difference computed once.
    half = (start - end) / 2.0
    return lambda pct: end + half * (math.cos(math.pi * pct) + 1)


def one_cycle(steps: int, max_lr: float, *, div: float = 10.0, pct_start: float = 0.45,
              pct_anneal: float = 0.1, final_div: float = 100.0,
              moms: tuple[float, float] = (0.95, 0.85), shape: str = "linear",
              ) -> Callable[[int], tuple[float, float]]:
    """The 1cycle policy with cyclical momentum for a run of ``steps`` iterations:
    ``step -> (lr, momentum)``, ``step`` in ``0 .. steps - 1`` (``train.fit(steps=steps)``).

    Smith & Topin, "Super-Convergence": one *cycle* over the run, then an *annealing phase*.
    With ``T = steps - 1`` (the last iteration, trained at the end of the annealing phase):

    ====================================  ======================  ========================
    iterations                            lr                      momentum
    ====================================  ======================  ========================
    0 .. pct_start*T                      max_lr/div -> max_lr    moms[0] -> moms[1]
    pct_start*T .. (1-pct_anneal)*T       max_lr -> max_lr/div    moms[1] -> moms[0]
    (1-pct_anneal)*T .. T (annealing)     max_lr/div -> max_lr/(div*final_div)   moms[0]
    ====================================  ======================  ========================

    The first two phases are the cycle; its *stepsize* is ``pct_start * T`` iterations. With
    ``pct_anneal=0`` there is no annealing phase and the cycle ends at ``T``. Each phase is a leg
    (``shape="linear"``: ``start + (end - start) * pct``; ``shape="cos"``:
    ``end + (start - end) / 2 * (cos(pi * pct) + 1)``), where ``pct`` is the fraction of the phase
    done; a boundary step belongs to the phase it ends.

    Recipe, ``torch.optim.lr_scheduler.OneCycleLR(opt, max_lr, total_steps=N, pct_start=p,
    div_factor=d, final_div_factor=f, base_momentum=m_lo, max_momentum=m_hi,
    anneal_strategy=s, three_phase=True)`` gives, at its ``last_epoch`` ``k`` in ``0 .. N-1``::

        one_cycle(N, max_lr, div=d, final_div=f, moms=(m_hi, m_lo), shape=s,
                  pct_start=(p * N - 1) / (N - 1), pct_anneal=1 - (2 * p * N - 2) / (N - 1))(k)

    (torch's phases end at iterations ``p*N - 1``, ``2*p*N - 2`` and ``N - 1``; this needs
    ``p * N > 1``.)

    Args:
        steps: iterations in the run, >= 2.
        max_lr: peak lr, reached at iteration ``pct_start * (steps - 1)``; > 0.
        div: the cycle runs between ``max_lr / div`` and ``max_lr``; >= 1.
        pct_start: fraction of the run spent climbing (the stepsize), in [0, 1).
        pct_anneal: fraction of the run spent in the annealing phase, in [0, 1).
        final_div: the annealing phase ends at ``max_lr / (div * final_div)``; >= 1.
        moms: ``(momentum at low lr, momentum at max_lr)``, each in [0, 1); equal values give
            constant momentum.
        shape: ``"linear"`` (the paper) or ``"cos"`` (fastai / PyTorch); see ``SHAPES``.
    """
    name = "one_cycle"
    steps = V.integer(steps, "steps", name, 2, "iterations")
    max_lr = V.positive(max_lr, "max_lr", name, "; pick it from an LR range test")
    div = V.finite(div, "div", name)
    if not div >= 1:
        raise ValueError(f"{name}: div must be >= 1 so the cycle starts at or below max_lr "
                         f"(got {div!r}); the paper uses 3 to 25.")
    final_div = V.finite(final_div, "final_div", name)
    if not final_div >= 1:
        raise ValueError(f"{name}: final_div must be >= 1 so the annealing phase ends at or below "
                         f"max_lr/div (got {final_div!r}); e.g. 100.")
    pct_start = V.fraction(pct_start, "pct_start", name, " as a fraction of the run")
    pct_anneal = V.fraction(pct_anneal, "pct_anneal", name, " as a fraction of the run")
    if not pct_start + pct_anneal < 1:
        raise ValueError(f"{name}: pct_start + pct_anneal must be < 1 (got {pct_start} + "
                         f"{pct_anneal}); shorten the warm-up or the annealing tail.")
    if isinstance(moms, (str, bytes)) or not isinstance(moms, Sequence) or len(moms) != 2:
        raise ValueError(f"{name}: moms must be a pair (momentum at low lr, momentum at max_lr), "
                         f"got {moms!r}; use e.g. (0.95, 0.85).")
    m_high, m_low = V.momentum(moms[0], "moms[0]", name), V.momentum(moms[1], "moms[1]", name)
    if not isinstance(shape, str) or shape not in SHAPES:
        raise ValueError(f"{name}: shape must be one of {', '.join(SHAPES)} (got {shape!r}).")

    last = steps - 1
    low, final = max_lr / div, max_lr / div / final_div
    # (phase end, lr leg, momentum leg); a phase runs from the previous end (0 for the first)
    phases = ((pct_start * last, _leg(shape, low, max_lr), _leg(shape, m_high, m_low)),
              ((1 - pct_anneal) * last, _leg(shape, max_lr, low), _leg(shape, m_low, m_high)),
              (float(last), _leg(shape, low, final), _leg(shape, m_high, m_high)))

    def schedule(step: int) -> tuple[float, float]:
        if not 0 <= step <= last:
            raise ValueError(f"{name}: step must be in [0, {last}] for a run of {steps} "
                             f"iterations (got {step!r}).")
        begin = 0.0
        for end, lr_leg, mom_leg in phases:
            if step <= end:
                # a zero-length phase gives its end value, which is the next phase's start
                pct = 1.0 if end == begin else (step - begin) / (end - begin)
                return float(lr_leg(pct)), float(mom_leg(pct))
            begin = end
        raise AssertionError("unreachable: the last phase ends at the last step")
    return schedule


# ---------------------------------------------------------------------------------------------
# Classic baselines
# ---------------------------------------------------------------------------------------------

def piecewise(boundaries: Sequence[int], values: Sequence[float]) -> Callable[[int], float]:
    """Step-decay ("multistep") schedule: ``step -> values[i]``, ``i`` = boundaries passed so far.

    ``boundaries`` are iterations (strictly increasing, >= 0); at iteration ``boundaries[j]`` the
    value switches to ``values[j + 1]``, so ``len(values) == len(boundaries) + 1``. This is the
    paper's baseline "multistep" policy, e.g. lr 0.1 then x0.1 at fixed iterations. Every value
    must be finite and >= 0 (all are checked here, before training starts).
    """
    name = "piecewise"
    for arg, value in (("boundaries", boundaries), ("values", values)):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") \
                or not hasattr(value, "__getitem__"):
            raise ValueError(f"{name}: {arg} must be a list (got {value!r:.60}).")
    bounds = [V.integer(b, "boundaries[]", name, unit="iterations") for b in boundaries]
    if len(values) != len(bounds) + 1:
        raise ValueError(f"{name}: values must have one more entry than boundaries "
                         f"(got {len(values)} values for {len(bounds)} boundaries).")
    if bounds and bounds[0] < 0:
        raise ValueError(f"{name}: boundaries must be >= 0 iterations (got {bounds[0]}).")
    if any(a >= b for a, b in zip(bounds, bounds[1:])):
        raise ValueError(f"{name}: boundaries must be strictly increasing (got {bounds}); "
                         "sort them and drop duplicates.")
    vals = [V.non_negative(v, f"values[{i}]", name, "; a step-decay schedule gives learning "
                           "rates (or momenta)") for i, v in enumerate(values)]

    def schedule(step: int) -> float:
        if step < 0:
            raise _negative_step(name, step)
        return vals[bisect.bisect_right(bounds, step)]
    return schedule


def inv(base_lr: float, gamma: float, power: float) -> Callable[[int], float]:
    """Caffe's ``"inv"`` policy: ``step -> base_lr * (1 + gamma * step) ** (-power)``, step in
    iterations. The LeNet/MNIST baseline of Smith's CLR paper uses ``base_lr=0.01, gamma=1e-4,
    power=0.75``."""
    name = "inv"
    base_lr = V.positive(base_lr, "base_lr", name)
    gamma = V.positive(gamma, "gamma", name, "; Caffe's LeNet example uses 1e-4")
    power = V.non_negative(power, "power", name, "; Caffe's LeNet example uses 0.75")

    def schedule(step: int) -> float:
        if step < 0:
            raise _negative_step(name, step)
        return float(base_lr * (1 + gamma * step) ** (-power))
    return schedule


# ---------------------------------------------------------------------------------------------
# LR range test sweeps
# ---------------------------------------------------------------------------------------------

def _sweep_args(name: str, steps: Any, start_lr: float, end_lr: Any) -> tuple[int, float]:
    steps = V.integer(steps, "steps", name, unit="iterations")
    if steps < 2:
        raise ValueError(f"{name}: steps must be >= 2 iterations so the sweep has a start "
                         f"and an end (got {steps}).")
    end_lr = V.finite(end_lr, "end_lr", name)
    if not end_lr > start_lr:
        raise ValueError(f"{name}: end_lr must be > start_lr, the range test sweeps upward "
                         f"(got start_lr={start_lr}, end_lr={end_lr}); swap them.")
    return steps, end_lr


def _sweep(name: str, steps: int, at: Callable[[float], float]) -> Callable[[int], float]:
    """A checked sweep's closure: ``at(t)`` with ``t = step / (steps - 1)``. ``step == steps`` is
    allowed (one point past ``end_lr``) so that a scheduler's trailing ``step()`` after the last
    iteration does not fail."""
    last = steps - 1

    def schedule(step: int) -> float:
        if not 0 <= step <= steps:
            raise ValueError(f"{name}: step must be in [0, {steps}] for a sweep of {steps} "
                             f"iterations (got {step!r}).")
        return float(at(step / last))
    return schedule


def linear_sweep(steps: int, start_lr: float, end_lr: float) -> Callable[[int], float]:
    """Linear LR range-test sweep: ``step -> start_lr + (end_lr - start_lr) * step / (steps - 1)``.

    Smith's "LR range test": train ``steps`` iterations while the lr rises from ``start_lr``
    (iteration 0, may be 0) to ``end_lr`` (iteration ``steps - 1``), both exactly.
    """
    name = "linear_sweep"
    start_lr = V.non_negative(start_lr, "start_lr", name)
    steps, end_lr = _sweep_args(name, steps, start_lr, end_lr)
    # a weighted mean, so t=0 and t=1 hit start_lr and end_lr exactly
    return _sweep(name, steps, lambda t: start_lr * (1 - t) + end_lr * t)


def exp_sweep(steps: int, start_lr: float, end_lr: float) -> Callable[[int], float]:
    """Exponential (geometric) LR range-test sweep: ``step -> start_lr * (end_lr / start_lr) ** t``.

    ``t = step / (steps - 1)``: the lr is multiplied by the same factor every iteration, so each
    decade of lr gets equally many iterations (the usual log-x range-test plot). Iteration 0 gives
    ``start_lr`` and ``steps - 1`` gives ``end_lr`` exactly; the middle is their geometric mean.
    ``start_lr`` must be > 0.
    """
    name = "exp_sweep"
    start_lr = V.positive(start_lr, "start_lr", name, "; a geometric sweep cannot start at 0, "
                          "use e.g. 1e-5 or linear_sweep")
    steps, end_lr = _sweep_args(name, steps, start_lr, end_lr)
    # start**(1-t) * end**t == start * (end/start)**t, but exact at both ends
    return _sweep(name, steps, lambda t: start_lr ** (1 - t) * end_lr ** t)


# ---------------------------------------------------------------------------------------------
# The bridge to torch.optim
# ---------------------------------------------------------------------------------------------

def has_momentum(optimizer: torch.optim.Optimizer) -> bool:
    """Whether every param group has a momentum to set: ``momentum`` (SGD, RMSprop) or
    ``betas[0]`` (Adam, AdamW). Adagrad and Adadelta have none."""
    return all("momentum" in g or "betas" in g for g in optimizer.param_groups)


def set_hparams(optimizer: torch.optim.Optimizer, lr: float, momentum: float | None = None
                ) -> None:
    """Write ``lr`` (and ``momentum``) into every param group: the one place where a schedule's
    values reach an optimizer (``fit``, :class:`Scheduled` and the CUDA-graph step all use it).

    The momentum goes to ``group["momentum"]`` (SGD, RMSprop) or ``group["betas"][0]`` (Adam,
    AdamW; beta2 kept); ``None`` leaves the optimizer's own. A group whose lr or momentum is a
    0-d tensor (the CUDA-graph step reads them on the device) is filled in place, with no host
    sync. Nothing is written unless the lr is finite and >= 0 and the momentum in [0, 1), and a
    momentum for an optimizer without one (Adagrad, Adadelta) is a ``ValueError``.
    """
    if not 0 <= lr < math.inf or (momentum is not None and not 0 <= momentum < 1):
        raise ValueError(f"set_hparams: lr must be finite and >= 0 and momentum in [0, 1) "
                         f"(got lr={lr!r}, momentum={momentum!r}).")
    if momentum is not None and not has_momentum(optimizer):
        raise ValueError(f"set_hparams: {type(optimizer).__name__} has no momentum (no "
                         "'momentum' or 'betas' setting); give only an lr, or use an SGD- or "
                         "Adam-like optimizer.")
    write_hparams(optimizer, lr, momentum)


def write_hparams(optimizer: torch.optim.Optimizer, lr: float, momentum: float | None) -> None:
    """:func:`set_hparams` without its checks, for a caller that has checked the values already
    (``fit`` checks each schedule value once, naming the step, before it writes it)."""
    for g in optimizer.param_groups:
        if isinstance(g["lr"], torch.Tensor):
            g["lr"].fill_(lr)
        else:
            g["lr"] = lr
        if momentum is None:
            continue
        if "momentum" not in g:
            g["betas"] = (momentum, *g["betas"][1:])
        elif isinstance(g["momentum"], torch.Tensor):
            g["momentum"].fill_(momentum)
        else:
            g["momentum"] = momentum


class Scheduled(LRScheduler):
    """An ``LRScheduler`` that sets every param group to ``fn(step)`` at each ``step()``.

    ``fn`` is any schedule above (or your own function of the iteration), e.g.
    ``Scheduled(opt, one_cycle(N + 1, max_lr=1.0))``. It returns either an lr or an
    ``(lr, momentum)`` pair; both are written by :func:`set_hparams` (the momentum to
    ``group["momentum"]`` or to ``group["betas"][0]``), which is how the 1cycle paper's cyclical
    momentum reaches the optimizer.

    Like any torch scheduler: construction applies ``fn(0)``, and after ``k`` calls of ``step()``
    the optimizer holds ``fn(k)``, i.e. the iteration about to run uses ``fn(number of optimizer
    steps taken so far)``. A loop of ``N`` iterations that calls ``step()`` after each optimizer
    step evaluates ``fn(0)`` .. ``fn(N)``; the last value is never used for training. So give
    ``one_cycle`` ``steps=N + 1`` (or ``N`` and skip the final ``step()``).

    ``get_last_lr()`` returns the lrs and ``last_momentum`` the momenta (``None`` when ``fn`` gives
    only an lr). An lr that is not finite and >= 0, or a momentum outside [0, 1), raises
    ``ValueError`` naming the step; it never reaches the optimizer. ``state_dict()`` leaves ``fn``
    out (as ``LambdaLR`` does), so it can be ``torch.save``d; ``load_state_dict()`` re-applies
    ``fn`` at the restored step, so a resumed run continues with exactly the lr and momentum of
    an uninterrupted one whichever order the optimizer's and the scheduler's states are loaded in.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, fn: Schedule, last_epoch: int = -1
                 ) -> None:
        if not callable(fn):
            raise ValueError(f"Scheduled: fn must be a function of the step (got {fn!r}); e.g. "
                             "one_cycle(steps, max_lr=1.0).")
        self.fn = fn
        self.last_momentum: list[float] | None = None
        super().__init__(optimizer, last_epoch)  # applies fn(last_epoch + 1)

    def _apply(self, step: int) -> list[float]:
        """Evaluate ``fn(step)``, check it, write it with :func:`set_hparams`; return the lrs."""
        out = self.fn(step)
        n = len(self.optimizer.param_groups)
        if isinstance(out, tuple):
            if len(out) != 2:
                raise ValueError(f"Scheduled: fn must return an lr or an (lr, momentum) pair; "
                                 f"fn({step}) returned {len(out)} values.")
            lr = V.step_lr(out[0], step, "Scheduled")
            momentum = V.step_momentum(out[1], step, "Scheduled")
            if not has_momentum(self.optimizer):
                raise ValueError(
                    f"Scheduled: fn returns a momentum but {type(self.optimizer).__name__} "
                    "has no 'momentum' or 'betas' setting; return only the lr from fn or "
                    "use an SGD- or Adam-like optimizer.")
            self.last_momentum = [momentum] * n
        else:
            lr, momentum = V.step_lr(out, step, "Scheduled"), None
            self.last_momentum = None
        set_hparams(self.optimizer, lr, momentum)
        return [lr] * n

    def get_lr(self) -> list[float]:
        """The lrs for iteration ``last_epoch``; sets the momenta too (as torch's OneCycleLR)."""
        return self._apply(self.last_epoch)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer and ``fn`` (rebuild ``fn`` in code, as with LambdaLR)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "fn")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step counter and re-apply ``fn`` there to the optimizer's param groups."""
        self.__dict__.update({k: v for k, v in state_dict.items() if k not in ("optimizer", "fn")})
        self._apply(self.last_epoch)
        self._last_lr = [g["lr"].clone() if isinstance(g["lr"], torch.Tensor) else g["lr"]
                         for g in self.optimizer.param_groups]
