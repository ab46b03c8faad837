"""Learning-rate (and momentum) policies: CLR, 1cycle, piecewise, Caffe "inv", range-test sweeps.

Every policy is a *pure function of the iteration* (one iteration = one mini-batch = one optimizer
step): give it the step, get back a Python float (or an ``(lr, momentum)`` pair). Nothing here keeps
state, so a schedule can be plotted, tested and resumed without a model. ``Scheduled`` is the one
bridge to PyTorch: an ``LRScheduler`` that writes ``fn(step)`` into an optimizer's param groups.

Terms from the papers, all counted in iterations:

- **stepsize** (Smith 2015, "Cyclical Learning Rates for Training Neural Networks"): half a cycle,
  the iterations it takes the lr to climb from ``base_lr`` to ``max_lr``.
- **cycle**: one climb plus one descent, i.e. ``2 * stepsize`` iterations.
- **1cycle** (Smith & Topin 2017, "Super-Convergence"): a single cycle that spans the whole run,
  followed by an **annealing phase** that takes the lr a few orders of magnitude below ``base_lr``;
  momentum cycles the opposite way (high momentum when the lr is low).
- **LR range test**: a short run whose lr sweeps upward, linearly or geometrically.

| policy            | function          | torch equivalent                                    |
|-------------------|-------------------|-----------------------------------------------------|
| CLR               | ``clr``           | ``CyclicLR(cycle_momentum=False)``, exactly          |
| 1cycle + momentum | ``one_cycle``     | ``OneCycleLR(three_phase=True)`` (recipe in the doc) |
| step decay        | ``piecewise``     | ``MultiStepLR`` with explicit values                 |
| Caffe "inv"       | ``inv``           | none                                                |
| range test        | ``linear_range``, ``exp_range_test`` | none                              |
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import Any, Tuple, Union

import torch
from torch.optim.lr_scheduler import LRScheduler

from . import _validate as V

__all__ = [
    "clr", "one_cycle", "one_cycle_schedule", "piecewise", "inv", "linear_range", "exp_range_test",
    "Scheduled",
    "CLR_MODES", "SHAPES",
]

CLR_MODES = ("triangular", "triangular2", "exp_range")
SHAPES = ("linear", "cos")


# ---------------------------------------------------------------------------------------------
# Argument checks: each says which argument is wrong and what to change.
# ---------------------------------------------------------------------------------------------

def _as_int(fn: str, name: str, value: Any) -> int:
    """A count of iterations: a Python or NumPy int; never 3.0, "3" or True."""
    return V.integer(value, name, fn, unit="iterations")


def _check_step(fn: str, step: Any, last: int | None = None) -> int:
    step = _as_int(fn, "step", step)
    if step < 0:
        raise ValueError(f"{fn}: step must be >= 0 (got {step}); iterations are counted from 0.")
    if last is not None and step > last:
        raise ValueError(
            f"{fn}: step must be <= total_steps (got step={step}, total_steps={last}); "
            "raise total_steps or stop stepping the schedule."
        )
    return step


def _sequence(fn: str, name: str, value: Any) -> Sequence:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") \
            or not hasattr(value, "__getitem__"):
        raise ValueError(f"{fn}: {name} must be a list (got {value!r:.60}).")
    return value


# ---------------------------------------------------------------------------------------------
# Cyclical learning rates (Smith 2015)
# ---------------------------------------------------------------------------------------------

def clr(step: int, base_lr: float, max_lr: float, step_size: int, mode: str = "triangular",
        gamma: float = 1.0) -> float:
    """Cyclical learning rate at iteration ``step`` (Smith 2015, "Cyclical Learning Rates").

    The lr climbs linearly from ``base_lr`` to ``max_lr`` over ``step_size`` iterations (the
    paper's *stepsize*, half a *cycle*), falls back over the next ``step_size``, and repeats:

    - ``"triangular"``: every cycle has the same amplitude;
    - ``"triangular2"``: the amplitude halves after each cycle;
    - ``"exp_range"``: the amplitude is multiplied by ``gamma ** step`` (``step`` in iterations).

    Bit-for-bit the arithmetic of ``torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr, max_lr,
    step_size_up=step_size, mode=mode, gamma=gamma, cycle_momentum=False)``, whose lr after
    ``k`` calls to ``step()`` is ``clr(k, ...)``.

    Args:
        step: iteration index, >= 0.
        base_lr: lower bound of the cycle, >= 0.
        max_lr: upper bound of the cycle, > 0 and >= ``base_lr``.
        step_size: stepsize in iterations (half a cycle), >= 1.
        mode: one of ``CLR_MODES``.
        gamma: per-iteration decay of the amplitude in ``"exp_range"`` mode, in (0, 1].

    ``"triangular2"`` keeps returning ``base_lr`` once the amplitude has halved below the float
    range (after 1,024 cycles) instead of overflowing.
    """
    step = _check_step("clr", step)
    return _clr_at(step, *_clr_args(base_lr, max_lr, step_size, mode, gamma))


def _clr_args(base_lr: Any, max_lr: Any, step_size: Any, mode: Any, gamma: Any
              ) -> tuple[float, float, int, str, float]:
    """``clr``'s arguments checked, as floats and an int (every call of ``clr`` checks them)."""
    name = "clr"
    base_lr = V.non_negative(base_lr, "base_lr", name)
    max_lr = V.positive(max_lr, "max_lr", name)
    if base_lr > max_lr:
        raise ValueError(f"{name}: base_lr must be <= max_lr (got base_lr={base_lr}, "
                         f"max_lr={max_lr}); swap them.")
    step_size = _as_int(name, "step_size", step_size)
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
    return base_lr, max_lr, step_size, mode, gamma


def _clr_at(step: int, base_lr: float, max_lr: float, step_size: int, mode: str,
            gamma: float) -> float:
    # Same float operations, in the same order, as torch's CyclicLR.get_lr.
    total_size = float(step_size) + float(step_size)
    step_ratio = float(step_size) / total_size
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
    return float(base_lr + (max_lr - base_lr) * scale_factor * amplitude)


# ---------------------------------------------------------------------------------------------
# 1cycle (Smith & Topin 2017), built from legs as fastai's combine_scheds does
# ---------------------------------------------------------------------------------------------

Leg = Callable[[float], float]
"""A leg maps the fraction ``pct`` in [0, 1] of its phase to a value."""


def _leg(shape: str, start: float, end: float) -> Leg:
    """One phase of a schedule: ``start`` at pct=0 to ``end`` at pct=1, straight or half-cosine."""
    if shape == "linear":
        return lambda pct: start + (end - start) * pct
    # Same expression as torch's OneCycleLR._annealing_cos (and fastai's SchedCos).
    return lambda pct: end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _combine(step: float, ends: Sequence[float], legs: Sequence[Leg]) -> float:
    """Run leg ``i`` from ``ends[i-1]`` (0 for the first) to ``ends[i]``; a phase owns its end step.

    A zero-length phase (e.g. no annealing tail) is passed over except at its own step, where it
    gives its end value, which is the next phase's start value anyway.
    """
    begin = 0.0
    for end, leg in zip(ends, legs):
        if step <= end:
            return leg(1.0 if end == begin else (step - begin) / (end - begin))
        begin = end
    raise ValueError(f"step {step} lies past the last phase, which ends at {ends[-1]}.")


def one_cycle(step: int, total_steps: int, max_lr: float, *, div: float = 10.0,
              pct_start: float = 0.45, pct_anneal: float = 0.1, final_div: float = 100.0,
              moms: tuple[float, float] = (0.95, 0.85), shape: str = "linear",
              ) -> tuple[float, float]:
    """The 1cycle policy with cyclical momentum: ``(lr, momentum)`` at iteration ``step``.

    Smith & Topin, "Super-Convergence": one *cycle* over the run, then an *annealing phase*.
    With ``T = total_steps`` (the last iteration index, so the run has ``T + 1`` iterations):

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

        one_cycle(k, N - 1, max_lr, div=d, final_div=f, moms=(m_hi, m_lo), shape=s,
                  pct_start=(p * N - 1) / (N - 1), pct_anneal=1 - (2 * p * N - 2) / (N - 1))

    (torch's phases end at iterations ``p*N - 1``, ``2*p*N - 2`` and ``N - 1``; this needs
    ``p * N > 1``.)

    Args:
        step: iteration index in ``[0, total_steps]``.
        total_steps: the iteration at which the annealing phase ends, >= 1.
        max_lr: peak lr, reached at iteration ``pct_start * total_steps``; > 0.
        div: the cycle runs between ``max_lr / div`` and ``max_lr``; >= 1.
        pct_start: fraction of ``total_steps`` spent climbing (the stepsize), in [0, 1).
        pct_anneal: fraction of ``total_steps`` spent in the annealing phase, in [0, 1).
        final_div: the annealing phase ends at ``max_lr / (div * final_div)``; >= 1.
        moms: ``(momentum at low lr, momentum at max_lr)``, each in [0, 1); equal values give
            constant momentum.
        shape: ``"linear"`` (the paper) or ``"cos"`` (fastai / PyTorch); see ``SHAPES``.
    """
    total_steps = _as_int("one_cycle", "total_steps", total_steps)
    if total_steps < 1:
        raise ValueError(f"one_cycle: total_steps must be >= 1 iteration (got {total_steps}).")
    step = _check_step("one_cycle", step, total_steps)
    ends, lr_legs, mom_legs = _one_cycle_legs(
        total_steps, *_one_cycle_args(max_lr, div, pct_start, pct_anneal, final_div, moms, shape))
    return float(_combine(step, ends, lr_legs)), float(_combine(step, ends, mom_legs))


def _one_cycle_args(max_lr: Any, div: Any, pct_start: Any, pct_anneal: Any, final_div: Any,
                    moms: Any, shape: Any) -> tuple:
    """``one_cycle``'s arguments (all but the steps) checked, as floats."""
    name = "one_cycle"
    max_lr = V.positive(max_lr, "max_lr", name, "; pick it from an LR range test")
    div = V.finite(div, "div", name)
    if not div >= 1:
        raise ValueError(f"{name}: div must be >= 1 so the cycle starts at or below max_lr "
                         f"(got {div!r}); the paper uses 3 to 25.")
    final_div = V.finite(final_div, "final_div", name)
    if not final_div >= 1:
        raise ValueError(f"{name}: final_div must be >= 1 so the annealing phase ends at or below "
                         f"max_lr/div (got {final_div!r}); e.g. 100.")
    pct_start = V.fraction(pct_start, "pct_start", name, " as a fraction of total_steps")
    pct_anneal = V.fraction(pct_anneal, "pct_anneal", name, " as a fraction of total_steps")
    if not pct_start + pct_anneal < 1:
        raise ValueError(f"{name}: pct_start + pct_anneal must be < 1 (got {pct_start} + "
                         f"{pct_anneal}); shorten the warm-up or the annealing tail.")
    if isinstance(moms, (str, bytes)) or not isinstance(moms, Sequence) or len(moms) != 2:
        raise ValueError(f"{name}: moms must be a pair (momentum at low lr, momentum at max_lr), "
                         f"got {moms!r}; use e.g. (0.95, 0.85).")
    moms = (V.momentum(moms[0], "moms[0]", name), V.momentum(moms[1], "moms[1]", name))
    if not isinstance(shape, str) or shape not in SHAPES:
        raise ValueError(f"{name}: shape must be one of {', '.join(SHAPES)} (got {shape!r}).")
    return max_lr, div, pct_start, pct_anneal, final_div, moms, shape


def _one_cycle_legs(total_steps: int, max_lr: float, div: float, pct_start: float,
                    pct_anneal: float, final_div: float, moms: tuple[float, float], shape: str
                    ) -> tuple[tuple[float, float, float], list[Leg], list[Leg]]:
    """The phase ends (in iterations) and the lr and momentum legs of a checked 1cycle."""
    low, final = max_lr / div, max_lr / div / final_div
    m_high, m_low = moms
    ends = (pct_start * total_steps, (1 - pct_anneal) * total_steps, float(total_steps))
    return (ends, [_leg(shape, low, max_lr), _leg(shape, max_lr, low), _leg(shape, low, final)],
            [_leg(shape, m_high, m_low), _leg(shape, m_low, m_high), _leg(shape, m_high, m_high)])


# ---------------------------------------------------------------------------------------------
# Classic baselines
# ---------------------------------------------------------------------------------------------

def one_cycle_schedule(steps: int, max_lr: float, *, div: float = 10.0, pct_start: float = 0.45,
                       pct_anneal: float = 0.1, final_div: float = 100.0,
                       moms: tuple[float, float] = (0.95, 0.85), shape: str = "linear",
                       ) -> Callable[[int], tuple[float, float]]:
    """``step -> (lr, momentum)`` for a run of ``steps`` iterations (``train.fit(steps=steps)``).

    ``schedules.one_cycle`` counts to its ``total_steps`` inclusive, so a run of ``steps``
    iterations (indices ``0 .. steps-1``) uses ``total_steps = steps - 1``: the last iteration is
    trained at the end of the *annealing phase*, ``max_lr / (div * final_div)``. Arguments are
    checked here, once, before any training starts; the returned function is a plain closure
    (about a microsecond per call) that gives exactly ``one_cycle(step, steps - 1, max_lr, ...)``.
    """
    steps = V.integer(steps, "steps", "one_cycle_schedule", 2, "iterations")
    last = steps - 1
    # checked once, here: the closure below is all the step loop calls
    ends, lr_legs, mom_legs = _one_cycle_legs(
        last, *_one_cycle_args(max_lr, div, pct_start, pct_anneal, final_div, moms, shape))

    def schedule(step: int) -> tuple[float, float]:
        if not 0 <= step <= last:
            raise ValueError(f"one_cycle_schedule: step must be in [0, {last}] for a run of "
                             f"{steps} iterations (got {step!r}).")
        return float(_combine(step, ends, lr_legs)), float(_combine(step, ends, mom_legs))
    return schedule


def piecewise(step: int, boundaries: Sequence[int], values: Sequence[float]) -> float:
    """Step-decay ("multistep") schedule: ``values[i]`` where ``i`` = boundaries passed so far.

    ``boundaries`` are iterations (strictly increasing, >= 0); at iteration ``boundaries[j]`` the
    value switches to ``values[j + 1]``, so ``len(values) == len(boundaries) + 1``. This is the
    paper's baseline "multistep" policy, e.g. lr 0.1 then x0.1 at fixed iterations. Every value
    must be finite and >= 0.
    """
    name = "piecewise"
    step = _check_step(name, step)
    bounds = [_as_int(name, "boundaries[]", b) for b in _sequence(name, "boundaries", boundaries)]
    values = _sequence(name, "values", values)
    if len(values) != len(bounds) + 1:
        raise ValueError(f"{name}: values must have one more entry than boundaries "
                         f"(got {len(values)} values for {len(bounds)} boundaries).")
    if bounds and bounds[0] < 0:
        raise ValueError(f"{name}: boundaries must be >= 0 iterations (got {bounds[0]}).")
    if any(a >= b for a, b in zip(bounds, bounds[1:])):
        raise ValueError(f"{name}: boundaries must be strictly increasing (got {bounds}); "
                         "sort them and drop duplicates.")
    # every value, not only the one returned now: a bad one must fail before training starts
    vals = [V.non_negative(v, f"values[{i}]", name, "; a step-decay schedule gives learning "
                           "rates (or momenta)") for i, v in enumerate(values)]
    return vals[bisect.bisect_right(bounds, step)]


def inv(step: int, base_lr: float, gamma: float, power: float) -> float:
    """Caffe's ``"inv"`` policy: ``base_lr * (1 + gamma * step) ** (-power)``, step in iterations.

    The LeNet/MNIST baseline of Smith's CLR paper uses ``base_lr=0.01, gamma=1e-4, power=0.75``.
    """
    name = "inv"
    step = _check_step(name, step)
    base_lr = V.positive(base_lr, "base_lr", name)
    gamma = V.positive(gamma, "gamma", name, "; Caffe's LeNet example uses 1e-4")
    power = V.non_negative(power, "power", name, "; Caffe's LeNet example uses 0.75")
    return float(base_lr * (1 + gamma * step) ** (-power))


# ---------------------------------------------------------------------------------------------
# LR range test sweeps
# ---------------------------------------------------------------------------------------------

def _check_sweep(name: str, step: Any, total_steps: Any, start_lr: float, end_lr: Any
                 ) -> tuple[int, float, float]:
    total_steps = _as_int(name, "total_steps", total_steps)
    if total_steps < 2:
        raise ValueError(f"{name}: total_steps must be >= 2 iterations so the sweep has a start "
                         f"and an end (got {total_steps}).")
    step = _check_step(name, step, total_steps)
    end_lr = V.finite(end_lr, "end_lr", name)
    if not end_lr > start_lr:
        raise ValueError(f"{name}: end_lr must be > start_lr, the range test sweeps upward "
                         f"(got start_lr={start_lr}, end_lr={end_lr}); swap them.")
    return step, step / (total_steps - 1), end_lr


def linear_range(step: int, total_steps: int, start_lr: float, end_lr: float) -> float:
    """Linear LR range-test sweep: ``start_lr + (end_lr - start_lr) * step / (total_steps - 1)``.

    Smith's "LR range test": train ``total_steps`` iterations while the lr rises from ``start_lr``
    (iteration 0, may be 0) to ``end_lr`` (iteration ``total_steps - 1``), both exactly.
    ``step == total_steps`` is allowed (one point past ``end_lr``) so that a scheduler's trailing
    ``step()`` after the last iteration does not fail.
    """
    name = "linear_range"
    start_lr = V.non_negative(start_lr, "start_lr", name)
    _, t, end_lr = _check_sweep(name, step, total_steps, start_lr, end_lr)
    # Written as a weighted mean so t=0 and t=1 hit start_lr and end_lr exactly.
    return float(start_lr * (1 - t) + end_lr * t)


def exp_range_test(step: int, total_steps: int, start_lr: float, end_lr: float) -> float:
    """Exponential (geometric) LR range-test sweep: ``start_lr * (end_lr / start_lr) ** t``.

    ``t = step / (total_steps - 1)``: the lr is multiplied by the same factor every iteration, so
    each decade of lr gets equally many iterations (the usual log-x range-test plot). Iteration 0
    gives ``start_lr`` and ``total_steps - 1`` gives ``end_lr`` exactly; the middle is their
    geometric mean. ``start_lr`` must be > 0. ``step == total_steps`` is allowed (one point past
    ``end_lr``) for a scheduler's trailing ``step()``.
    """
    name = "exp_range_test"
    start_lr = V.positive(start_lr, "start_lr", name, "; a geometric sweep cannot start at 0, "
                          "use e.g. 1e-5 or linear_range")
    _, t, end_lr = _check_sweep(name, step, total_steps, start_lr, end_lr)
    # start**(1-t) * end**t == start * (end/start)**t, but exact at both ends.
    return float(start_lr ** (1 - t) * end_lr ** t)


# ---------------------------------------------------------------------------------------------
# The bridge to torch.optim
# ---------------------------------------------------------------------------------------------

Schedule = Callable[[int], Union[float, Tuple[float, float]]]
"""A schedule: iteration -> lr, or iteration -> (lr, momentum)."""


class Scheduled(LRScheduler):
    """An ``LRScheduler`` that sets every param group to ``fn(step)`` at each ``step()``.

    ``fn`` is any function of the iteration above (or your own), e.g.
    ``Scheduled(opt, functools.partial(one_cycle, total_steps=T, max_lr=1.0))``. It returns either
    an lr or an ``(lr, momentum)`` pair; the momentum goes to ``group["momentum"]`` (SGD, RMSprop)
    or to ``group["betas"][0]`` (Adam-like; beta2 kept), which is how the 1cycle paper's cyclical
    momentum reaches the optimizer.

    Like any torch scheduler: construction applies ``fn(0)``, and after ``k`` calls of ``step()``
    the optimizer holds ``fn(k)``, i.e. the iteration about to run uses ``fn(number of optimizer
    steps taken so far)``. A loop of ``N`` iterations that calls ``step()`` after each optimizer
    step evaluates ``fn(0)`` .. ``fn(N)``; the last value is never used for training. So give
    ``one_cycle`` ``total_steps=N`` (or ``N - 1`` and skip the final ``step()``).

    ``get_last_lr()`` returns the lrs and ``last_momentum`` the momenta (``None`` when ``fn`` gives
    only an lr). An lr that is not finite and >= 0, or a momentum outside [0, 1), raises
    ``ValueError`` naming the step; it never reaches the optimizer. ``state_dict()`` leaves ``fn`` out (as ``LambdaLR`` does), so it can be
    ``torch.save``d; ``load_state_dict()`` re-applies ``fn`` at the restored step, so a resumed run
    continues with exactly the lr and momentum of an uninterrupted one whichever order the
    optimizer's and the scheduler's states are loaded in.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, fn: Schedule, last_epoch: int = -1
                 ) -> None:
        if not callable(fn):
            raise ValueError(f"Scheduled: fn must be a function of the step (got {fn!r}); e.g. "
                             "functools.partial(one_cycle, total_steps=T, max_lr=1.0).")
        self.fn = fn
        self.last_momentum: list[float] | None = None
        super().__init__(optimizer, last_epoch)  # applies fn(last_epoch + 1)

    def _apply(self, step: int) -> list[float]:
        """Evaluate ``fn(step)``, write its momentum into the param groups, return the lrs.

        Nothing is written unless the lr is finite and >= 0 and the momentum in [0, 1): a bad value
        raises ``ValueError`` and leaves the optimizer as it was."""
        out = self.fn(step)
        groups = self.optimizer.param_groups
        if isinstance(out, tuple):
            if len(out) != 2:
                raise ValueError(f"Scheduled: fn must return an lr or an (lr, momentum) pair; "
                                 f"fn({step}) returned {len(out)} values.")
            lr = V.step_lr(out[0], step, "Scheduled")
            momentum = V.step_momentum(out[1], step, "Scheduled")
            if not all("momentum" in g or "betas" in g for g in groups):
                raise ValueError(
                    f"Scheduled: fn returns a momentum but {type(self.optimizer).__name__} "
                    "has no 'momentum' or 'betas' setting; return only the lr from fn or "
                    "use an SGD- or Adam-like optimizer.")
            for group in groups:
                if "momentum" in group:
                    group["momentum"] = momentum
                else:
                    group["betas"] = (momentum, *group["betas"][1:])
            self.last_momentum = [momentum] * len(groups)
        else:
            lr = V.step_lr(out, step, "Scheduled")
            self.last_momentum = None
        return [lr] * len(groups)

    def get_lr(self) -> list[float]:
        """The lrs for iteration ``last_epoch``; sets the momenta too (as torch's OneCycleLR)."""
        return self._apply(self.last_epoch)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer and ``fn`` (rebuild ``fn`` in code, as with LambdaLR)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "fn")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step counter and re-apply ``fn`` there to the optimizer's param groups."""
        self.__dict__.update({k: v for k, v in state_dict.items() if k not in ("optimizer", "fn")})
        for group, lr in zip(self.optimizer.param_groups, self._apply(self.last_epoch)):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        self._last_lr = [g["lr"].clone() if isinstance(g["lr"], torch.Tensor) else g["lr"]
                         for g in self.optimizer.param_groups]
