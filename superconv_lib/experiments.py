"""The course's experiments by name, at three run sizes, and the phenomenon each one must show.

``SIZES[notebook][mode]`` holds every size a notebook's parameters cell reads (``sizes("04")``
picks the current :func:`config.mode`): **quick** is CI (about a minute per notebook on 2 CPU
cores), **laptop** a learner without a GPU (at most about 10 minutes per notebook on 2 cores, every
phenomenon visible), **full** the papers' scale on one GPU. The laptop sizes were chosen by
measurement (``python tools/phenomena.py --mode laptop --seeds 0 1 2`` prints the table).

Each phenomenon is one function that trains with the library's public calls and returns its runs
and a :class:`Check` — the number the notebook asserts and ``tools/phenomena.py`` tabulates across
seeds. A check is *asserted* at a size only where it held with margin for every seed measured
(``SIZES[...]["asserts"]``); elsewhere the notebook prints it and says so next to the plot.

The papers' recipes are here as data too: :data:`HESSIAN_PRESETS` and :func:`comparison_schedules`
(Smith & Topin's 1cycle against a constant and a piecewise lr), :func:`epfl_table1` and
:func:`epfl_adam` (Bachmann & Allemann, "Experiments on Super-Convergence", EPFL CS-439: ResNet-18
on CIFAR-10, their Table I and Adam baseline) and :func:`smith_grid` (Smith & Topin's ResNet-56
sensitivity runs) as ``sweep`` configs.
"""
from __future__ import annotations

import copy
from typing import Callable, NamedTuple, Sequence

import numpy as np
from torch import nn

from . import config, data, hessian, schedules, train
from .indicator import Indicator

__all__ = ["SIZES", "sizes", "cifar", "Check", "accuracy", "suggestion_vs_neighbours",
           "clr_vs_fixed", "mnist_claim", "indicator_plateau", "indicator_contrasts",
           "one_cycle_vs_piecewise", "cycle_length", "hessian_ordering", "assert_checks",
           "HESSIAN_PRESETS", "comparison_schedules", "EPFL_TABLE1", "epfl_table1", "epfl_adam",
           "SMITH_GRIDS", "smith_grid", "train_test_runs", "hessian_cifar"]

CHANCE = 0.1   # ten classes, MNIST and CIFAR-10 alike

SIZES: dict[str, dict[str, dict]] = {
    # 01 · LR range test: LeNet/MNIST sweeps, the suggestion trained at /10, x1, x10
    "01": {
        "quick": dict(mnist_limit=2000, mnist_test=500, fit_steps=120, linear_end=0.15,
                      acc_iter=100, eval_every=5, batch_sizes=(16, 64, 256), cifar_model="resnet8",
                      cifar_limit=2000, cifar_test=500, cifar_batch=32, cifar_augment=None,
                      cifar_iter=100, image_size=32, asserts=("suggestion",)),
        "laptop": dict(mnist_limit=10000, mnist_test=2000, fit_steps=300, linear_end=0.2,
                       acc_iter=300, eval_every=10, batch_sizes=(16, 64, 256),
                       cifar_model="resnet8", cifar_limit=10000, cifar_test=1000, cifar_batch=64,
                       cifar_augment=None, cifar_iter=300, image_size=16, asserts=("suggestion",)),
        "full": dict(mnist_limit=None, mnist_test=2000, fit_steps=600, linear_end=0.2,
                     acc_iter=300, eval_every=10, batch_sizes=(64, 256, 1024),
                     cifar_model="resnet20", cifar_limit=None, cifar_test=2000, cifar_batch=128,
                     cifar_augment="crop+flip", cifar_iter=400, image_size=32,
                     asserts=("suggestion",)),
    },
    # 02 · cyclical LR: LeNet/MNIST, fixed 0.01 against the CLR policies at one budget
    "02": {
        "quick": dict(train_limit=2000, test_limit=1000, epochs=8, stepsize_epochs=2,
                      run_cifar=False, asserts=()),
        "laptop": dict(train_limit=10000, test_limit=2000, epochs=4, stepsize_epochs=1,
                       run_cifar=False, asserts=("clr",)),
        "full": dict(train_limit=None, test_limit=None, epochs=12, stepsize_epochs=2,
                     run_cifar=True, asserts=("clr",)),
    },
    # 03 · 1cycle: LeNet/MNIST, 1cycle against Caffe's inv at equal and at 7x the iterations
    "03": {
        "quick": dict(train_limit=2000, test_limit=1000, one_cycle_epochs=10, inv_factor=1,
                      asserts=("mnist_equal",)),
        "laptop": dict(train_limit=20000, test_limit=10000, one_cycle_epochs=4, inv_factor=7,
                       asserts=("mnist_equal", "mnist_claim")),
        "full": dict(train_limit=None, test_limit=None, one_cycle_epochs=12, inv_factor=85 / 12,
                     asserts=("mnist_equal", "mnist_claim")),
    },
    # 04 · the indicator, and super-convergence itself
    "04": {
        "quick": dict(train_limit=5000, test_limit=1000, image_size=16, batch=200,
                      model="resnet8", num_iter=150, eval_every=10, plain_width=16,
                      contrasts=("no BN", "plain CNN"), sc_train_limit=5000, sc_batch=200,
                      sc_iters=100, sc_long=False, sc_eval_every=25, cycle_fractions=(0.5, 1.0),
                      suggest=False, asserts=("contrasts",)),
        "laptop": dict(train_limit=20000, test_limit=2000, image_size=16, batch=256,
                       model="resnet8", num_iter=600, eval_every=20, plain_width=16,
                       contrasts=("no BN", "plain CNN"), sc_train_limit=10000, sc_batch=256,
                       sc_iters=400, sc_long=True, sc_eval_every=50,
                       cycle_fractions=(0.25, 0.5, 1.0), suggest=False,
                       asserts=("indicator", "contrasts", "super_convergence", "cycle_length")),
        "full": dict(train_limit=None, test_limit=None, image_size=32, batch=1000,
                     model="resnet56", num_iter=5000, eval_every=100, plain_width=32,
                     contrasts=("no BN", "wd 0.001", "plain CNN"), sc_train_limit=None,
                     sc_batch=1000, sc_iters=10_000, sc_long=False, sc_eval_every=500,
                     cycle_fractions=(0.25, 0.5, 1.0), suggest=True,
                     asserts=("indicator", "contrasts", "super_convergence", "cycle_length")),
    },
    # 05 · the Hessian-free estimate under 1cycle and under a constant LR
    "05": {
        "quick": dict(every=5, mnist_limit=2000, lenet_steps=200, cifar_model="resnet8",
                      cifar_limit=1000, cifar_batch=50, cifar_steps=100, image_size=32,
                      cifar_runs=("1cycle", "constant"), cifar_eval_every=100, test_limit=500,
                      asserts=("hessian_mnist",)),
        "laptop": dict(every=10, mnist_limit=10000, lenet_steps=600, cifar_model="resnet8",
                       cifar_limit=10000, cifar_batch=256, cifar_steps=400, image_size=16,
                       cifar_runs=("1cycle", "constant"), cifar_eval_every=100, test_limit=2000,
                       asserts=("hessian_mnist", "hessian_cifar")),
        "full": dict(every=10, mnist_limit=None, lenet_steps=12 * 937, cifar_model="resnet56",
                     cifar_limit=None, cifar_batch=1000, cifar_steps=10_000, image_size=32,
                     cifar_runs=("1cycle", "constant", "piecewise"), cifar_eval_every=1000,
                     test_limit=None, asserts=("hessian_mnist", "hessian_cifar")),
    },
}


def sizes(notebook: str, mode: str | None = None) -> dict:
    """The sizes of ``notebook`` (``"01"`` … ``"05"``) at ``mode`` (default :func:`config.mode`),
    plus ``mode`` itself."""
    if notebook not in SIZES:
        raise ValueError(f"unknown notebook {notebook!r}; choose one of {sorted(SIZES)}.")
    mode = config.mode() if mode is None else mode
    if mode not in config.MODES:
        raise ValueError(f"mode must be one of {config.MODES}, got {mode!r}.")
    return dict(SIZES[notebook][mode], mode=mode)


def cifar(S: dict, limit: str, batch: str, augment: "str | None"):
    """``(Loader, (test images, test labels))`` of CIFAR-10 at a size: ``S[limit]`` training
    images in batches of ``S[batch]``, ``S["test_limit"]`` test images, both averaged down to
    ``S["image_size"]`` pixels."""
    x, y = data.load("cifar10", "train", limit=S[limit])
    xt, yt = data.load("cifar10", "test", limit=S["test_limit"])
    x, xt = data.downscale(x, S["image_size"]), data.downscale(xt, S["image_size"])
    return data.Loader(x, y, batch_size=S[batch], augment=augment), (xt, yt)


class Check(NamedTuple):
    """One phenomenon's measured number against its threshold (``value >= threshold`` holds)."""
    notebook: str
    name: str
    phenomenon: str
    value: float
    threshold: float
    unit: str
    detail: str

    @property
    def holds(self) -> bool:
        return bool(np.isfinite(self.value) and self.value >= self.threshold)

    @property
    def measured_only(self) -> bool:
        """A number reported for reading, with no threshold to meet."""
        return self.threshold == -np.inf

    def __str__(self) -> str:
        if self.measured_only:
            return f"{self.phenomenon}: {self.value:+.3g} {self.unit} (measured). {self.detail}"
        verdict = "holds" if self.holds else "does NOT hold"
        return (f"{self.phenomenon}: {self.value:+.3g} {self.unit} (needs >= {self.threshold:+.3g})"
                f" - {verdict}. {self.detail}")


def assert_checks(checks: "list[Check]", S: dict) -> None:
    """Print every check; raise ``AssertionError`` for one that this size asserts and that fails.
    A check this size does not assert is printed with a note saying so."""
    failed = []
    for c in checks:
        asserted = c.name in S["asserts"]
        note = "" if asserted or c.measured_only else f"  [not asserted at the {S['mode']} size: too small to show it reliably]"
        print(f"{c}{note}")
        if asserted and not c.holds:
            failed.append(c)
    assert not failed, "; ".join(str(c) for c in failed)


def accuracy(h: train.History) -> float:
    """A run's final test accuracy; a run that diverged (or never evaluated) scores chance."""
    a = h.final_accuracy
    return CHANCE if (h.stop_reason or not np.isfinite(a)) else a


def _gap(a: float, b: float) -> float:
    return 100 * (a - b)


# ------------------------------------------------------------------------------------ 01 · range test

def suggestion_vs_neighbours(model: nn.Module, loader: data.Loader, eval_data, lr: float, *,
                             steps: int, seed: int = 0) -> "tuple[dict, Check]":
    """Train copies of ``model`` at a constant ``lr / 10``, ``lr`` and ``10 lr`` for ``steps``
    iterations: the range test's suggestion should beat both neighbours (a diverged run scores
    chance). Returns ``({name: History}, Check)``; the value is the suggestion's lead over the
    better neighbour, in accuracy points."""
    lrs = {f"suggestion / 10 ({lr / 10:.2g})": lr / 10, f"suggestion ({lr:.2g})": lr,
           f"suggestion x 10 ({10 * lr:.2g})": 10 * lr}
    out = train.runs(lambda: copy.deepcopy(model), loader, lrs, seed=seed, steps=steps,
                     eval_data=eval_data, eval_every=max(1, steps // 4), progress=False)
    low, mid, high = (accuracy(h) for h in out.values())
    return out, Check("01", "suggestion", "the suggested lr beats 10x below and 10x above it",
                      _gap(mid, max(low, high)), 0.5, "points",
                      f"accuracy {100 * low:.1f} / {100 * mid:.1f} / {100 * high:.1f} % at lr/10, "
                      f"lr, 10 lr ({steps} iterations each)")


# ------------------------------------------------------------------------------------ 02 · CLR

def clr_vs_fixed(runs_: "dict[str, train.History]", fixed: str, clr: str = "triangular"
                 ) -> Check:
    """CLR against a fixed lr at the same iterations, from the two runs' final accuracies."""
    a, b = accuracy(runs_[clr]), accuracy(runs_[fixed])
    return Check("02", "clr", f"CLR ({clr}) beats a fixed lr at equal iterations", _gap(a, b), 0.5,
                 "points", f"{clr} {100 * a:.2f} % vs {fixed} {100 * b:.2f} %")


# ------------------------------------------------------------------------------------ 03 · 1cycle

def mnist_claim(one: train.History, inv_equal: train.History,
                inv_long: "train.History | None" = None) -> "list[Check]":
    """Smith & Topin's MNIST claim, read off three runs: 1cycle beats ``inv`` at the same
    iterations, and matches ``inv`` given several times the iterations (within 0.1 point)."""
    a, b = accuracy(one), accuracy(inv_equal)
    out = [Check("03", "mnist_equal", "1cycle beats inv at equal iterations", _gap(a, b), 0.0,
                 "points", f"1cycle {100 * a:.2f} % vs inv {100 * b:.2f} % ({one.steps} it)")]
    if inv_long is not None:
        c = accuracy(inv_long)
        out.append(Check("03", "mnist_claim",
                         f"1cycle matches inv with {inv_long.steps / one.steps:.0f}x the iterations",
                         _gap(a, c), -0.1, "points",
                         f"1cycle {100 * a:.2f} % in {one.steps} it vs inv {100 * c:.2f} % in "
                         f"{inv_long.steps} it"))
    return out


# ------------------------------------------------------------------------------------ 04 · indicator

def indicator_plateau(ref: Indicator) -> Check:
    """The indicator's reading of a setup that should super-converge: its plateau score (>= 0.5:
    accuracy holds over at least half the swept lr range)."""
    return Check("04", "indicator", "the BN ResNet keeps its plateau up to the top lr",
                 ref.score, 0.5, "score", ref.summary())


def indicator_contrasts(ref: Indicator, contrasts: "list[Indicator]") -> Check:
    """Every contrast (no BN, a plain CNN, …) collapses or diverges: its accuracy over the top
    third of the sweep stays at least 5 points below the reference's (a sweep that stopped early
    scores chance there)."""
    top = _top_third(ref)
    worst = max((_top_third(c) for c in contrasts), default=CHANCE)
    best_score = max((c.score for c in contrasts), default=0.0)
    return Check("04", "contrasts", "no BN / plain CNN collapse: top-third accuracy below the "
                 "reference's", _gap(top, worst), 5.0, "points",
                 f"reference {100 * top:.1f} %, best contrast {100 * worst:.1f} %; contrast "
                 f"scores <= {best_score:.2f}")


def _top_third(ind: Indicator) -> float:
    """Mean test accuracy over the top third of the swept lr range (chance if the sweep stopped
    before reaching it)."""
    sel = ind.accuracy[ind.lrs >= ind.start_lr + 2 / 3 * (ind.max_lr - ind.start_lr)]
    return float(sel.mean()) if ind.completed and len(sel) else CHANCE


def one_cycle_vs_piecewise(model_fn: Callable[[], nn.Module], loader: data.Loader, eval_data, *,
                           steps: int, long: bool = False, cycle=(0.1, 3.0), standard: float = 0.35,
                           weight_decay: float = 1e-4, eval_every: int | None = None,
                           seed: int = 0) -> "tuple[dict, list[Check]]":
    """Super-convergence itself: 1cycle ``cycle[0] -> cycle[1]`` in ``steps`` iterations against
    Smith's piecewise-constant baseline (``standard``, x0.1 at 5/8 and 7/8 of the run) in the
    same ``steps`` and, with ``long``, in 4x the iterations. Same seed and batches for every run
    (schedules from :func:`comparison_schedules`)."""
    sched = comparison_schedules(steps, cycle=cycle, standard=standard)
    names = [k for k in sched if not k.startswith("constant")]
    lrs = {k: sched[k] for k in names}
    n = dict.fromkeys(names, steps)
    if long:
        pw4 = comparison_schedules(4 * steps, cycle=cycle, standard=standard)
        key = f"piecewise {standard:g}, 4x iterations"
        lrs[key], n[key] = pw4[names[1]], 4 * steps
    out = train.runs(model_fn, loader, lrs, seed=seed, steps=n, momentum=0.9,
                     weight_decay=weight_decay, eval_data=eval_data,
                     eval_every=eval_every or max(1, steps // 4), progress=False)
    one, pw = accuracy(out[names[0]]), accuracy(out[names[1]])
    # "matches": within one point, the paired test-set noise of these runs at the laptop size
    checks = [Check("04", "super_convergence", "1cycle matches or beats piecewise at equal "
                    "iterations", _gap(one, pw), -1.0, "points",
                    f"1cycle {100 * one:.1f} % vs piecewise {100 * pw:.1f} % in {steps} it")]
    if long:
        pw4 = accuracy(out[key])
        checks.append(Check("04", "piecewise_4x", "how close piecewise comes with 4x the "
                            "iterations (1cycle minus piecewise)", _gap(one, pw4), -np.inf,
                            "points", f"piecewise {100 * pw4:.1f} % in {4 * steps} it"))
    return out, checks


def cycle_length(model_fn: Callable[[], nn.Module], loader: data.Loader, eval_data, *,
                 steps: int, fractions=(0.25, 0.5, 1.0), cycle=(0.1, 3.0),
                 weight_decay: float = 1e-4, seed: int = 0,
                 done: "train.History | None" = None) -> "tuple[dict, Check]":
    """Smith & Topin's Fig. 1b: at a fixed max lr, test accuracy rises as the cycle grows. One
    1cycle run per length ``fraction x steps``; the value is the smallest gain between
    consecutive lengths, in points. ``done``: a run of this 1cycle already trained from the same
    seed and batches (e.g. :func:`one_cycle_vs_piecewise`'s), used for its own length."""
    lo, hi = cycle
    lengths = [max(8, round(f * steps)) for f in fractions]
    names = [f"1cycle, {n} it" for n in lengths]
    todo = {k: n for k, n in zip(names, lengths) if done is None or n != done.steps}
    cycles = {k: schedules.one_cycle(n, hi, div=hi / lo) for k, n in todo.items()}
    trained = train.runs(model_fn, loader, cycles, seed=seed, steps=todo, momentum=0.9,
                         weight_decay=weight_decay, eval_data=eval_data, eval_every=10 ** 9,
                         progress=False)
    out = {k: trained[k] if k in trained else done for k in names}
    acc = [accuracy(h) for h in out.values()]
    return out, Check("04", "cycle_length", "accuracy rises with the cycle's length (fixed max lr)",
                      min(_gap(b, a) for a, b in zip(acc, acc[1:])), 0.5, "points",
                      " -> ".join(f"{100 * a:.1f} % ({n} it)" for a, n in zip(acc, lengths)))


# ------------------------------------------------------------------------------------ 05 · Hessian-free

def hessian_cifar(S: dict, *, seed: int = 0) -> "dict[str, hessian.HessianFreeLR]":
    """Notebook 05's CIFAR runs at the size ``S`` (``sizes("05")``): the estimate under 1cycle
    0.1 -> 3 and under the constant 0.35 (Smith's, :data:`HESSIAN_PRESETS`), same seed and
    batches; for :func:`hessian_ordering` and :func:`plots.hessian`."""
    loader, ev = cifar(S, "cifar_limit", "cifar_batch", "crop+flip")
    P = HESSIAN_PRESETS["cifar10"]
    lrs = comparison_schedules(S["cifar_steps"], cycle=P["cycle"], standard=P["standard"])
    lrs = {k: v for k, v in lrs.items() if k.split()[0] in ("1cycle", "constant")}
    return hessian.runs(S["cifar_model"], loader, lrs, steps=S["cifar_steps"], every=S["every"],
                        seed=seed, weight_decay=P["weight_decay"], eval_data=ev,
                        eval_every=S["cifar_steps"], progress=False)


def hessian_ordering(est: "dict[str, hessian.HessianFreeLR]", name: str, *, burn_in: int,
                     ratio: float = 2.0) -> "list[Check]":
    """The paper's figure, read off a :func:`hessian.runs` result: every run learned (accuracy
    at least 20 points above chance) and the 1cycle run's peak estimate after ``burn_in`` is at
    least ``ratio`` x the constant-lr run's."""
    nb = "05"
    cyc = next(e for k, e in est.items() if k.startswith("1cycle"))
    const = next(e for k, e in est.items() if k.startswith("constant"))
    learned = min(accuracy(e.history) for e in est.values())
    r = cyc.range(after=burn_in)[1] / const.range(after=burn_in)[1]
    return [Check(nb, name, f"{name}: every run learned before it is read",
                  _gap(learned, CHANCE), 20.0, "points above chance",
                  ", ".join(f"{k} {100 * accuracy(e.history):.1f} %" for k, e in est.items())),
            Check(nb, name, f"{name}: the estimate stays higher under 1cycle (peak ratio)",
                  float(r), ratio, "x", f"1cycle peak {cyc.range(after=burn_in)[1]:.3g}, "
                  f"constant peak {const.range(after=burn_in)[1]:.3g}")]


# ------------------------------------------------------------------------------------ the papers' recipes

# The paper's comparison: a large-lr cycle against a standard schedule, same budget. Smith's
# ResNet-56 solvers: one cycle 0.1 -> 3 (stepsize 5,000 of 10,000 iterations) against lr 0.35 with
# x0.1 drops at 50k and 70k of 80k iterations; weight decay 1e-4, momentum 0.9, batch 1000.
HESSIAN_PRESETS: dict[str, dict] = {
    "cifar10": {"cycle": (0.1, 3.0), "standard": 0.35, "weight_decay": 1e-4},
    "mnist": {"cycle": (0.01, 0.1), "standard": 0.01, "weight_decay": 5e-4},   # Caffe LeNet's 0.01
}
"""Smith & Topin's Hessian-free comparison per dataset: ``cycle`` (1cycle low, high lr),
``standard`` (the constant / piecewise lr) and ``weight_decay``."""


def comparison_schedules(steps: int, *, cycle: tuple[float, float] = (0.1, 3.0),
                         standard: float = 0.35) -> dict:
    """The schedules Smith & Topin's figure compares, all over ``steps`` iterations:

    - ``"1cycle lo→hi"``: :func:`schedules.one_cycle` from ``cycle[0]`` up to ``cycle[1]`` and back
      (stepsize 45 % of the run, then the annealing phase), with cyclical momentum 0.95–0.85;
    - ``"constant x"``: the standard rate ``standard`` (momentum: ``fit``'s, 0.9);
    - ``"piecewise x"``: ``standard``, ×0.1 at 5/8 and again at 7/8 of the run (Smith's 50k and 70k
      of 80k iterations, scaled to this budget).

    Returns ``{name: lr}`` where lr is what ``fit(lr=...)`` takes."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 8:
        raise ValueError(f"steps must be an int >= 8 iterations, got {steps!r}.")
    lo, hi = cycle
    if not 0 < lo < hi:
        raise ValueError(f"cycle must be (low lr, high lr) with 0 < low < high; got {cycle!r}.")
    if not standard > 0:
        raise ValueError(f"standard must be a positive learning rate, got {standard!r}.")
    steps = int(steps)
    bounds = [round(steps * 5 / 8), round(steps * 7 / 8)]
    return {
        f"1cycle {lo:g}→{hi:g}": schedules.one_cycle(steps, hi, div=hi / lo),
        f"constant {standard:g}": float(standard),
        f"piecewise {standard:g}": schedules.piecewise(
            bounds, [standard, standard / 10, standard / 100]),
    }




EPFL_TABLE1 = (
    # lr_min, lr_max, mom_min, mom_max, anneal %, epochs, validation accuracy % (their Table I)
    (0.001, 0.01, 0.85, 0.95, 10, 90, 84.42),
    (0.001, 0.01, 0.85, 0.95, 50, 90, 85.00),
    (0.01, 0.1, 0.85, 0.95, 10, 70, 88.13),
    (0.001, 0.01, 0.9, 0.9, 10, 90, 84.29),
    (0.01, 0.1, 0.9, 0.9, 10, 70, 88.65),
    (0.001, 0.1, 0.85, 0.95, 10, 90, 88.78),
    (0.01, 0.01, 0.9, 0.9, 10, 50, 85.12),
    (0.1, 3.0, 0.85, 0.95, 10, 50, 80.18),
)
"""Bachmann & Allemann's Table I: ResNet-18 on CIFAR-10, no augmentation, weight decay 5e-4."""

_EPFL_BASE = {"model": "resnet18", "dataset": "cifar10", "optimizer": "sgd", "weight_decay": 5e-4,
              "augment": None, "final_div": 100.0}


def epfl_table1(*, batch_size: int = 128, **overrides) -> list[dict]:
    """The seed's Table I as configs, one per row, with the seed's accuracy as ``target``.

    Batch size 128 is the seed's code's (``DataLoader(trainset, batch_size=128)`` in their
    ``super_convergence.py``; the report does not state it), i.e. 390 iterations per epoch on the
    50,000 training images. ``overrides`` replace keys in every config (e.g. a quick-mode model)."""
    rows = []
    for lo, hi, mlo, mhi, anneal, epochs, acc in EPFL_TABLE1:
        name = f"{lo:g}-{hi:g} | m {mlo:g}-{mhi:g} | {anneal:g}% | {epochs}ep"
        rows.append({**_EPFL_BASE, "name": name, "target": acc / 100, "batch_size": batch_size,
                     "epochs": epochs, "schedule": "one_cycle", "lr_min": lo, "lr_max": hi,
                     "mom_min": mlo, "mom_max": mhi, "anneal_pct": anneal, **overrides})
    return rows


def epfl_adam(*, batch_size: int = 128, **overrides) -> dict:
    """The seed's baseline: Adam, lr 1e-3, betas (0.9, 0.999), L2 weight decay 5e-4, 90 epochs at a
    constant lr; 83.54 % validation accuracy (it stops improving after about epoch 10)."""
    return {**_EPFL_BASE, "name": "Adam 1e-3", "target": 0.8354, "batch_size": batch_size,
            "epochs": 90, "optimizer": "adam", "schedule": "constant", "lr_min": 1e-3,
            "lr_max": 1e-3, "mom_min": 0.9, "mom_max": 0.9, "anneal_pct": 0, **overrides}


# Smith & Topin's ResNet-56 runs, from the Caffe logs in github.com/lnsmith54/super-convergence
# (Results/clr3SS5k*): CLR 0.1 -> 3 -> 0.1 with a stepsize of 5,000 iterations, 10,000 iterations,
# total batch 1,000 (8 GPUs x 125), momentum 0.9, weight decay 1e-4, mirror augmentation; final
# test accuracy at iteration 10,000. The batch-size runs have no log there: no target.
SMITH_GRIDS: dict[str, tuple[str, tuple]] = {
    "weight_decay": ("weight_decay", ((1e-3, 0.09952), (1e-4, 0.9244), (1e-5, 0.8828),
                                      (1e-6, 0.87252))),
    "momentum": ("momentum", ((0.8, 0.91856), (0.85, 0.92288), (0.9, 0.9244), (0.95, 0.90744))),
    "train_size": ("train_limit", ((10_000, 0.80592), (20_000, 0.87924), (30_000, 0.89644),
                                   (40_000, 0.91104), (50_000, 0.9244))),
    "batch_size": ("batch_size", ((256, None), (512, None), (1000, 0.9244), (1536, None))),
}
"""Smith & Topin's sensitivity grids: kind -> (config key, ((value, final test accuracy), ...))."""

_SMITH_BASE = {"model": "resnet56", "dataset": "cifar10", "batch_size": 1000, "steps": 10_000,
               "optimizer": "sgd", "schedule": "one_cycle", "lr_min": 0.1, "lr_max": 3.0,
               "mom_min": 0.9, "mom_max": 0.9, "anneal_pct": 0.0, "weight_decay": 1e-4,
               "augment": "flip", "eval_every": 100}


def smith_grid(kind: str = "weight_decay", *, values: Sequence | None = None,
               **overrides) -> list[dict]:
    """One of Smith & Topin's ResNet-56 sensitivity grids as configs (``kind`` in ``SMITH_GRIDS``:
    weight_decay, momentum, train_size, batch_size), with the authors' logged accuracy as target.

    The schedule is their CLR run: one triangular cycle 0.1 -> 3 -> 0.1 over 10,000 iterations
    (stepsize 5,000; in our terms 1cycle with anneal_pct=0 and constant momentum), batch 1,000.
    ``values`` picks a subset of the grid's values; ``overrides`` replace keys in every config (a
    smaller run: model, data, steps), except the setting the grid varies, which stays the grid's:
    a ``batch_size`` override leaves the batch-size grid's batches alone, and a ``train_limit``
    override scales the train-size grid (10,000 of 50,000 images become a fifth of the limit)."""
    if kind not in SMITH_GRIDS:
        raise ValueError(f"kind must be one of {sorted(SMITH_GRIDS)}, got {kind!r}.")
    key, grid = SMITH_GRIDS[kind]
    if values is not None:
        known = [v for v, _ in grid]
        bad = [v for v in values if v not in known]
        if bad:
            raise ValueError(f"values {bad} are not in the {kind} grid {known}.")
        grid = tuple((v, t) for v, t in grid if v in values)
    out = []
    for v, target in grid:
        cfg = {**_SMITH_BASE, "target": target}
        if key == "momentum":
            cfg.update(mom_min=v, mom_max=v)
        elif key == "train_limit":
            cfg["train_limit"] = None if v == 50_000 else v
        else:
            cfg[key] = v
        cfg["name"] = f"{kind} {v:g}"
        varied = ("mom_min", "mom_max") if key == "momentum" else (key,)
        cfg |= {k: o for k, o in overrides.items() if k not in varied}
        if key == "train_limit" and overrides.get("train_limit") is not None:
            cfg["train_limit"] = max(1, round(overrides["train_limit"] * v / 50_000))
        out.append(cfg)
    return out


def train_test_runs(model_fn: Callable[[], nn.Module], loader: data.Loader, lrs: dict, *,
                    steps: int, eval_data, train_subset, seed: int = 0, **fit_kw
                    ) -> "dict[str, tuple[train.History, train.History]]":
    """The EPFL very-high-LR experiment's runs: each schedule of ``lrs`` (``{name: lr}``) from the
    same seed and batches, evaluated on ``eval_data`` (test) and on ``train_subset`` (a fixed set
    of training images, through :class:`train.EvalOn`) at the same points. Returns
    ``{name: (test History, training-subset History)}`` for :func:`plots.train_test`."""
    out, more = {}, tuple(fit_kw.pop("callbacks", ()))
    for name, lr in lrs.items():
        cb = train.EvalOn(train_subset, label=f"{name} (train)")
        h = train.runs(model_fn, loader, {name: lr}, seed=seed, steps=steps, eval_data=eval_data,
                       callbacks=[cb, *more], **fit_kw)[name]
        out[name] = (h, cb.history)
    return out
