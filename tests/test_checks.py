"""Self-checks: pass on the library's reference implementations (and on independent but
equivalent formulas), fail on plausible mistakes with a hint, say "not attempted" for stubs,
never print the expected value, and raise only in strict mode."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from superconv_lib import checks, hessian, schedules
from superconv_lib.lr_finder import RangePoint, RangeTest


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    """Tests start outside strict mode whatever the caller's environment says."""
    monkeypatch.delenv(checks.STRICT_ENV, raising=False)


def stub(*args):
    raise NotImplementedError()


def smith_triangular(step, base_lr, max_lr, step_size):
    """Smith's (2015) own formula, written independently of schedules.clr."""
    cycle = math.floor(1 + step / (2 * step_size))
    x = abs(step / step_size - 2 * cycle + 1)
    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x)


def smith_clr(step, base_lr, max_lr, step_size, mode="triangular", gamma=1.0):
    """Smith's three policies, independently of schedules.clr."""
    cycle = math.floor(1 + step / (2 * step_size))
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1),
             "exp_range": gamma ** step}[mode]
    return base_lr + (smith_triangular(step, 0.0, max_lr - base_lr, step_size)) * scale


def linear_one_cycle(step, total, max_lr, *, div=10.0, pct_start=0.45, pct_anneal=0.1,
                     final_div=100.0, moms=(0.95, 0.85), shape="linear"):
    """1cycle written out by hand (step 0..total), independently of schedules.one_cycle."""
    low, final = max_lr / div, max_lr / div / final_div
    up, down = pct_start * total, (1 - pct_anneal) * total

    def leg(a, b, pct):
        if shape == "cos":
            return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)
        return a + (b - a) * pct
    if step <= up:
        return leg(low, max_lr, step / up), leg(moms[0], moms[1], step / up)
    if step <= down:
        pct = (step - up) / (down - up)
        return leg(max_lr, low, pct), leg(moms[1], moms[0], pct)
    pct = (step - down) / (total - down) if total > down else 1.0
    return leg(low, final, pct), moms[0]


# ------------------------------------------------------------------------------- CLR policies

def test_triangular_passes_on_smiths_formula_and_names_its_exercise(capsys):
    ref = checks.triangular(smith_triangular)
    assert ref and ref.passed is True
    assert checks.triangular(smith_triangular, name="Exercise 1 · the triangle wave")
    out = capsys.readouterr().out
    assert "✅ Triangular CLR" in out and "✅ Exercise 1 · the triangle wave" in out


def test_the_library_shortcut_fails_and_says_so(capsys):
    """A learner's function that calls the library function it must re-implement fails, with
    "use your own arithmetic, not schedules.clr"; the library works again afterwards."""
    r = checks.triangular(lambda s, b, m, k: schedules.clr(b, m, k)(s))
    assert r.passed is False and "use your own arithmetic, not schedules.clr" in r.message
    assert schedules.clr(0.1, 1.0, 5)(5) == pytest.approx(1.0)            # restored
    # imported under its own name, wrapped in try/except, or via torch's CyclicLR: still caught
    from superconv_lib.schedules import clr

    def sneaky(s, b, m, k):
        try:
            return clr(b, m, k)(s)
        except Exception:       # noqa: BLE001 — a learner's attempt to hide the trap
            return smith_triangular(s, b, m, k)
    r = checks.triangular(sneaky)
    assert r.passed is False and "schedules.clr" in r.message
    assert clr is schedules.clr and sneaky.__closure__[0].cell_contents is schedules.clr
    r = checks.one_cycle(lambda s, t, m: schedules.one_cycle(t + 1, m)(s))
    assert r.passed is False and "not schedules.one_cycle" in r.message
    r = checks.hessian_estimate(hessian.estimate)
    assert r.passed is False and "not hessian.estimate" in r.message
    r = checks.close(lambda: hessian.estimate(torch.ones(2), torch.zeros(2), torch.ones(2), 0.1),
                     0.05, forbid=[hessian.estimate])
    assert r.passed is False and "not hessian.estimate" in r.message
    assert checks.close(lambda: 0.05, 0.05, forbid=[hessian.estimate])


@pytest.mark.parametrize("wrong, hint_word", [
    (lambda s, b, m, k: smith_triangular(s, b, m, k + 1), "off-by-one"),     # stepsize off by one
    (lambda s, b, m, k: smith_triangular(s + 1, b, m, k), "base_lr"),        # shifted by a step
    (lambda s, b, m, k: smith_triangular(s, b, m, 2 * k), "max_lr"),         # stepsize = a cycle
    (lambda s, b, m, k: smith_triangular(s, b, m, k) if s <= 2 * k else b, "repeat"),  # 1 cycle
])
def test_triangular_fails_on_plausible_mistakes_with_a_hint(wrong, hint_word):
    r = checks.triangular(wrong)
    assert not r and r.passed is False
    assert hint_word in r.hint
    assert "Hint:" in str(r) and str(r).startswith("❌")


def test_triangular2_and_exp_range():
    assert checks.triangular2(lambda s, b, m, k: smith_clr(s, b, m, k, "triangular2"))
    assert checks.exp_range(lambda s, b, m, k, g: smith_clr(s, b, m, k, "exp_range", g))
    r = checks.triangular2(smith_triangular)           # amplitude never halves
    assert not r and "halves" in r.hint
    # gamma per cycle instead of per iteration
    r = checks.exp_range(
        lambda s, b, m, k, g: smith_triangular(s, b, b + (m - b) * g ** (s // (2 * k)), k))
    assert not r and "gamma**step" in r.hint


def test_a_failure_never_shows_the_expected_value():
    wrong = lambda s, b, m, k: smith_triangular(s, b, m, k + 1)  # noqa: E731
    r = checks.triangular(wrong)
    # the first mismatch is at step 1 of the (0.001, 0.006, 2000) setting
    expected = schedules.clr(0.001, 0.006, 2000)(1)
    assert f"{expected:.4g}" not in str(r) and f"{expected}" not in str(r)
    assert f"{wrong(1, 0.001, 0.006, 2000):.4g}" in str(r)          # the learner's own value is


def test_stub_is_not_attempted_and_bugs_are_failures(capsys):
    r = checks.triangular(stub)
    assert not r and r.passed is None and r.status == "not attempted"
    assert "not attempted yet" in capsys.readouterr().out
    r = checks.triangular(lambda step, base_lr: base_lr)  # wrong signature
    assert r.passed is False and "(step, base_lr, max_lr, step_size)" in r.hint
    r = checks.triangular(lambda *a: "0.1")              # not a number
    assert r.passed is False and "should be a number" in r.message
    r = checks.triangular(smith_triangular(0, 0.1, 1.0, 5))  # called instead of passed
    assert r.passed is False and "without calling it" in r.message


# -------------------------------------------------------------------------------------- 1cycle

def test_one_cycle_passes_on_reference_and_custom_settings():
    assert checks.one_cycle(linear_one_cycle)
    kw = dict(div=25.0, pct_start=0.3, pct_anneal=0.0, final_div=1.0, moms=(0.9, 0.8))
    assert checks.one_cycle(lambda s, t, m: linear_one_cycle(s, t, m, **kw), **kw)
    assert checks.one_cycle(lambda s, t, m: linear_one_cycle(s, t, m)[0], momentum=False)


@pytest.mark.parametrize("wrong, hint_word", [
    (lambda s, t, m: linear_one_cycle(s, t, m)[0], "pair (lr, momentum)"),
    (lambda s, t, m: linear_one_cycle(s, t, m, div=20), "max_lr / div"),
    (lambda s, t, m: linear_one_cycle(s, t, m, pct_start=0.4), "pct_start"),
    (lambda s, t, m: linear_one_cycle(s, t, m, final_div=10), "annealing phase ends"),
    (lambda s, t, m: linear_one_cycle(s, t, m, shape="cos"), "straight line"),
    (lambda s, t, m: linear_one_cycle(s, t, m, moms=(0.85, 0.95)), "momentum starts high"),
    (lambda s, t, m: (linear_one_cycle(s, t, m)[0], 0.9), "momentum starts high"),
])
def test_one_cycle_fails_on_plausible_mistakes(wrong, hint_word):
    r = checks.one_cycle(wrong)
    assert r.passed is False and hint_word in r.hint, r


def test_one_cycle_stub():
    assert checks.one_cycle(stub).passed is None


# ---------------------------------------------------------------------------- Hessian-free lr

def test_hessian_estimate_passes_on_an_independent_formula():
    assert checks.hessian_estimate(
        lambda t0, t1, t2, lr: lr * (t1 - t0).abs().sum() / (2 * t1 - t0 - t2).abs().sum())
    # NumPy in the learner's code is fine too
    assert checks.hessian_estimate(
        lambda t0, t1, t2, lr: lr * np.abs(t1.numpy() - t0.numpy()).sum()
        / np.abs(2 * t1.numpy() - t0.numpy() - t2.numpy()).sum())


@pytest.mark.parametrize("wrong, hint_word", [
    (lambda t0, t1, t2, lr: (t1 - t0).abs().sum() / (2 * t1 - t0 - t2).abs().sum(), "where the lr"),
    (lambda t0, t1, t2, lr: lr * (t1 - t0).sum() / (t0 + t2 - 2 * t1).sum() * -1, "absolute"),
    (lambda t0, t1, t2, lr: (lr * (t1 - t0) / (2 * t1 - t0 - t2)).mean(), "ratio of sums"),
    (lambda t0, t1, t2, lr: lr * (t1 - t0).abs().sum() / (t2 - t0).abs().sum(), "1/a"),
])
def test_hessian_estimate_fails_on_plausible_mistakes(wrong, hint_word):
    r = checks.hessian_estimate(wrong)
    assert r.passed is False and hint_word in r.hint, r


# ----------------------------------------------------------------------------- value answers

def test_close_and_lr_in_decade():
    assert checks.close(3.04, 3.0)
    r = checks.close(lambda: 2.0, 3.0, hint="see the formula")
    assert not r and "too low" in r.message and r.hint == "see the formula"
    assert "3" not in r.message                                  # the reference stays hidden
    assert checks.close(torch.tensor(3.0), 3.0)                  # 0-d tensors are numbers
    r = checks.close(torch.ones(3), 1.0)                          # a vector is not
    assert r.passed is False and "should be a number" in r.message
    assert checks.close(stub, 1.0).passed is None
    assert checks.close(None, 1.0).passed is None                # `answer = None` placeholder
    assert checks.lr_in_decade(0.25, 0.1) and checks.lr_in_decade(0.04, 0.1)
    r = checks.lr_in_decade(0.5, 0.0123)
    assert not r and "too high" in r.message and "0.0123" not in str(r)
    assert not checks.lr_in_decade(-1.0, 0.1)
    with pytest.raises(ValueError, match="factor"):
        checks.lr_in_decade(0.1, 0.1, factor=1.0)


def _synthetic_range_test() -> RangeTest:
    lrs = np.geomspace(1e-5, 10, 200)
    x = np.log10(lrs)
    loss = 2.3 - 1.8 / (1 + np.exp(-(x + 2.5) * 3)) + np.where(x > -0.5, (x + 0.5) ** 2 * 8, 0)
    rise = 0.8 / (1 + np.exp(-(x + 2.5) * 3))
    acc = np.clip(0.1 + rise - np.where(x > -0.5, (x + 0.5) * 0.9, 0), 0, 1)
    points = [RangePoint(i, lrs[i], loss[i], acc[i]) for i in range(0, 200, 10)]
    return RangeTest.from_curve(lrs, loss, eval_points=points)


def test_range_test_reading():
    test = _synthetic_range_test()
    sug = test.suggestions()
    assert checks.range_test_reading(sug["valley"] * 2, test)
    assert checks.range_test_reading(lambda t: sug["valley"], test)               # a function
    r = checks.range_test_reading(lambda t: t.suggestions()["valley"], test)      # a shortcut
    assert r.passed is False and "not RangeTest.suggestions" in r.message
    r = checks.range_test_reading(sug["valley"] * 10, test)
    assert not r and "valley" in r.hint and "too high" in r.message
    assert checks.range_test_reading(sug["acc_bounds"][1], test, rule="acc_max")
    assert not checks.range_test_reading(sug["acc_bounds"][1] / 30, test, rule="acc_max")
    assert checks.range_test_reading(stub, test).passed is None
    with pytest.raises(ValueError, match="rule"):
        checks.range_test_reading(0.1, test, rule="best")


def test_plateau_reading_follows_the_indicator():
    from superconv_lib.indicator import Indicator
    lrs = np.linspace(0.1, 3.0, 30)
    holds = Indicator.from_points(lrs, np.minimum(0.9, 0.1 + 2 * lrs), max_lr=3.0)
    falls = Indicator.from_points(lrs, np.where(lrs <= 1.0, np.minimum(0.1 + 1.2 * lrs, 0.7),
                                                0.7 - 0.35 * (lrs - 1.0) / 2.0), max_lr=3.0)
    assert holds.super_converges and not falls.super_converges          # the library's reading
    assert checks.plateau_reading("yes", holds) and checks.plateau_reading(True, holds)
    r = checks.plateau_reading("no", holds)
    assert not r and "floor L" in r.hint
    assert checks.plateau_reading("No", falls) and not checks.plateau_reading("yes", falls)
    assert checks.plateau_reading(lambda: False, falls)                 # a function
    assert checks.plateau_reading(np.bool_(False), False)               # a plain reference
    r = checks.plateau_reading("maybe", holds)
    assert r.passed is False and "yes" in r.message
    assert checks.plateau_reading(stub, holds).passed is None
    with pytest.raises(ValueError, match="Indicator"):
        checks.plateau_reading("yes", 0.7)


# ------------------------------------------------------------------------ strict mode, display

def test_strict_mode_raises_on_anything_but_a_pass(monkeypatch, capsys):
    with checks.strict():
        assert checks.close(1.0, 1.0)                                 # a pass never raises
        with pytest.raises(checks.CheckFailed, match="not attempted"):
            checks.triangular(stub)
        with pytest.raises(AssertionError, match="Hint"):
            checks.close(2.0, 1.0)
    assert checks.close(2.0, 1.0).passed is False                     # lenient again
    monkeypatch.setenv(checks.STRICT_ENV, "1")
    assert checks.is_strict()
    with pytest.raises(checks.CheckFailed):
        checks.close(2.0, 1.0)
    with checks.strict(False):                                         # overrides the env var
        assert checks.close(2.0, 1.0).passed is False
    assert "❌" in capsys.readouterr().out                             # printed before raising


def test_result_object():
    r = checks.Result("Demo", False, "x is <wrong>.", "look & see")
    assert not r and repr(r) == "<check 'Demo': failed>"
    assert str(r) == "❌ Demo: x is <wrong>.\n   Hint: look & see"
    assert "&lt;wrong&gt;" in r._repr_html_() and "look &amp; see" in r._repr_html_()
    ok = checks.Result("Demo", True, "fine.", "unused hint")
    assert ok and str(ok) == "✅ Demo: fine."
    assert checks.Result("Demo", None, "not attempted yet.").status == "not attempted"


# ------------------------------------------------ issue 13: huge numbers fail, they do not crash

HUGE = [10**400, -10**400, 10**5000]


@pytest.mark.parametrize("value", HUGE, ids=["1e400", "-1e400", "1e5000"])
def test_huge_numbers_are_a_fail_message_not_an_overflow(value, capsys):
    side = "too high" if value > 0 else "too low"
    r = checks.close(value, 3.0)
    assert r.passed is False and f"inf is {side}" in r.message
    r = checks.close(lambda: value, 3.0)
    assert r.passed is False and side in r.message
    assert checks.lr_in_decade(value, 0.1).passed is False
    r = checks.triangular(lambda s, b, m, k: value)
    assert r.passed is False and "your lr is" in r.message and "inf" in r.message
    r = checks.exp_range(lambda s, b, m, k, g: value)
    assert r.passed is False
    r = checks.one_cycle(lambda s, t, m: (value, 0.9))
    assert r.passed is False and "differs from the reference" in r.message
    r = checks.one_cycle(lambda s, t, m: value)
    assert r.passed is False and "pair (lr, momentum)" in r.hint
    r = checks.hessian_estimate(lambda *a: value)
    assert r.passed is False and side in r.message
    r = checks.plateau_reading(value, True)
    assert r.passed is False and "True/False" in r.message and len(r.message) < 200
    out = capsys.readouterr().out
    assert out.count("❌") == 9
    with checks.strict():                      # strict mode: a CheckFailed, still no OverflowError
        with pytest.raises(checks.CheckFailed):
            checks.close(value, 3.0)


def test_check_arguments_must_be_finite():
    with pytest.raises(ValueError, match="reference must be a finite number"):
        checks.close(1.0, 10**400)
    with pytest.raises(ValueError, match="reference must be a finite number"):
        checks.close(1.0, float("nan"))
    with pytest.raises(ValueError, match="rel and abs"):
        checks.close(1.0, 1.0, rel=float("inf"))
    with pytest.raises(ValueError, match="reference_lr must be a finite number"):
        checks.lr_in_decade(0.1, float("inf"))
    with pytest.raises(ValueError, match="factor must be a finite number"):
        checks.lr_in_decade(0.1, 0.1, factor=10**400)


# ----------------------------------------------------- readings of curves, budgets (issue 15)

def my_reading(lrs, acc, drop=0.25):
    """The indicator's reading written out (median of 3, floor, plateau walk)."""
    s = np.array([np.median(acc[max(0, k - 1):k + 2]) for k in range(len(acc))])
    best, chance = s.max(), 0.1
    floor = best - drop * (best - chance)
    lo = hi = int(np.argmax(s))
    while lo > 0 and s[lo - 1] >= floor:
        lo -= 1
    while hi < len(s) - 1 and s[hi + 1] >= floor:
        hi += 1
    half = lrs[np.flatnonzero(s >= chance + (best - chance) / 2)[0]]
    verdict = bool(best - chance >= 0.1 and (lrs[hi] - lrs[lo]) / 3.0 >= 0.5)
    return verdict, (float(np.clip(half, lrs[hi] / 30, lrs[hi] / 4)), float(lrs[hi]))


def test_plateau_verdict_and_bounds():
    from superconv_lib import indicator
    assert checks.plateau_verdict(lambda lrs, acc: my_reading(lrs, acc)[0])
    r = checks.plateau_verdict(lambda lrs, acc: my_reading(lrs, acc, drop=0.5)[0])
    assert r.passed is False and "on the curve" in r.message
    assert checks.plateau_verdict(stub).passed is None
    r = checks.plateau_verdict(lambda lrs, acc: indicator.analyse(lrs, acc, max_lr=3.0)
                               .super_converges)
    assert r.passed is False and "not indicator.analyse" in r.message
    assert checks.plateau_bounds(lambda lrs, acc: my_reading(lrs, acc)[1])
    r = checks.plateau_bounds(lambda lrs, acc: (0.1, 3.0))
    assert r.passed is False and "on the curve" in r.message
    r = checks.plateau_bounds(lambda lrs, acc: indicator.Indicator.from_points(
        lrs, acc, max_lr=3.0).bounds)
    assert r.passed is False and "Indicator.from_points" in r.message
    assert indicator.Indicator.from_points(np.linspace(0.1, 3, 30), np.full(30, 0.5),
                                           max_lr=3.0).trains                # restored


def test_cycle_budget():
    assert checks.cycle_budget(lambda s, least: 2 * s * math.ceil(least / (2 * s)),
                               name="Exercise 2 · budget")
    r = checks.cycle_budget(lambda s, least: s * math.ceil(least / s))        # stepsize ends
    assert r.passed is False and "two stepsizes" in r.hint
    r = checks.cycle_budget(lambda s, least: 2 * s * (least // (2 * s) + 1))  # one cycle too many
    assert r.passed is False and "shortest" in r.hint
    assert checks.cycle_budget(stub).passed is None


def test_checks_of_notebooks_06_and_07():
    def dip(acc):
        best, worst = -math.inf, 0.0
        for a in acc:
            best = max(best, a)
            worst = max(worst, best - a)
        return worst
    assert checks.largest_dip(dip) and not checks.largest_dip(lambda acc: max(acc) - min(acc))
    assert checks.noise_scale(lambda lr, b, m, n: lr * n / (b * (1 - m)))
    assert not checks.noise_scale(lambda lr, b, m, n: lr * n / b)
    assert checks.multistep(lambda s, t, b: b if s < 5 * t // 8 else b / 10 if s < 7 * t // 8
                            else b / 100)
    r = checks.multistep(lambda s, t, b: schedules.piecewise([5 * t // 8, 7 * t // 8],
                                                             [b, b / 10, b / 100])(s))
    assert r.passed is False and "not schedules.piecewise" in r.message


def test_checks_module_imports_at_module_level_only():
    """No function-level imports in checks.py (IPython, an optional dependency, aside)."""
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(checks))
    inner = [n for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
             for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(getattr(n, "module", "") == "IPython" or
               (getattr(n, "module", "") or "").startswith("IPython") for n in inner), \
        [ast.unparse(n) for n in inner]


# ---------------------------------------------------------------------- shortcut holes closed

def one_cycle_from_clr(step, total, max_lr):
    """A 1cycle built from schedules.clr (the rise and fall) plus a hand-written tail."""
    up, down = round(0.45 * total), round(0.9 * total)
    momentum = linear_one_cycle(step, total, max_lr)[1]
    if step <= down:                       # one triangle of step_size `up` ends at 0.9·total
        return schedules.clr(max_lr / 10, max_lr, up)(step), momentum
    return linear_one_cycle(step, total, max_lr)


def test_one_cycle_built_from_clr_is_a_shortcut():
    r = checks.one_cycle(one_cycle_from_clr)
    assert r.passed is False and "use your own arithmetic, not schedules.clr" in r.message
    import torch.optim.lr_scheduler as sched

    def via_torch(step, total, max_lr):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=max_lr)
        s = sched.CyclicLR(opt, max_lr / 10, max_lr, step_size_up=max(1, int(0.45 * total)))
        return s.get_last_lr()[0] if step == 0 else linear_one_cycle(step, total, max_lr)[0]
    r = checks.one_cycle(via_torch)
    assert r.passed is False and "use your own arithmetic, not lr_scheduler.CyclicLR" in r.message
    assert schedules.clr(0.1, 1.0, 5)(5) == pytest.approx(1.0)            # restored


def test_hessian_private_helpers_are_shortcuts():
    def private(t0, t1, t2, lr):
        num, den = hessian._sums(t1 - t0, t2 - t1, lr, lr)
        return hessian._ratio(lr, float(num), float(den))
    r = checks.hessian_estimate(private)
    assert r.passed is False and "use your own arithmetic, not hessian._sums" in r.message
    r = checks.hessian_estimate(lambda t0, t1, t2, lr: hessian._ratio(
        lr, float((t1 - t0).abs().sum()), float((2 * t1 - t0 - t2).abs().sum())))
    assert r.passed is False and "use your own arithmetic, not hessian._ratio" in r.message
    r = checks.hessian_estimate(lambda t0, t1, t2, lr: float(
        hessian.per_weight_estimate(t0, t1, t2, lr).mean()))
    assert r.passed is False and "use your own arithmetic, not hessian.per_weight_estimate" \
        in r.message
    assert checks.hessian_estimate(
        lambda t0, t1, t2, lr: lr * (t1 - t0).abs().sum() / (2 * t1 - t0 - t2).abs().sum())


def test_the_checks_own_references_are_shortcuts():
    r = checks.noise_scale(checks._noise_ref)
    assert r.passed is False and "use your own arithmetic, not checks._noise_ref" in r.message
    r = checks.noise_scale(lambda lr, b, m, n: checks._noise_ref(lr, b, m, n))
    assert r.passed is False and "use your own arithmetic, not checks._noise_ref" in r.message
    r = checks.largest_dip(lambda acc: checks._largest_dip_ref(acc))
    assert r.passed is False and "use your own arithmetic, not checks._largest_dip_ref" \
        in r.message
    assert checks._noise_ref(0.1, 100, 0.0, 1000) == pytest.approx(1.0)      # restored


def test_aliases_of_a_forbidden_function_are_caught():
    """A default argument, functools.partial, a dict or a list: every alias trips the trap."""
    import functools

    def default_arg(s, b, m, k, _f=schedules.clr):
        return _f(b, m, k)(s)
    table = {"clr": schedules.clr}
    funcs = [schedules.clr]
    partial = functools.partial(schedules.clr, mode="triangular")
    for fn in (default_arg,
               lambda s, b, m, k: table["clr"](b, m, k)(s),
               lambda s, b, m, k: funcs[0](b, m, k)(s),
               lambda s, b, m, k: partial(b, m, k)(s),
               functools.partial(lambda s, b, m, k, f: f(b, m, k)(s), f=schedules.clr)):
        r = checks.triangular(fn)
        assert r.passed is False and "use your own arithmetic, not schedules.clr" in r.message, fn
    # the same with the Hessian estimate, hidden in a default argument
    r = checks.hessian_estimate(lambda t0, t1, t2, lr, _e=hessian.estimate: _e(t0, t1, t2, lr))
    assert r.passed is False and "not hessian.estimate" in r.message
    # a torch scheduler class held in a default argument
    import torch.optim.lr_scheduler as sched

    def torch_alias(s, t, m, _c=sched.OneCycleLR):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=m)
        return _c(opt, m, total_steps=t + 1).get_last_lr()[0]
    r = checks.one_cycle(torch_alias)
    assert r.passed is False and "not lr_scheduler.OneCycleLR" in r.message
    # everything restored: the library and torch work again, the checks still pass
    assert schedules.clr(0.1, 1.0, 5)(5) == pytest.approx(1.0)
    assert partial(0.1, 1.0, 5)(5) == pytest.approx(1.0)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    assert sched.OneCycleLR(opt, 1.0, total_steps=10).get_last_lr()[0] > 0
    assert checks.triangular(smith_triangular)
    assert checks.close(lambda: 0.05, 0.05, forbid=[hessian.estimate])


# Schedules the library built before the check: closures of their own, reached from the notebook.
PREBUILT = schedules.clr(0.001, 0.006, 2000)
PREBUILT_TABLE = {"small": schedules.clr(0.1, 1.0, 5)}


def test_a_schedule_built_before_the_check_is_a_shortcut():
    """`sched = schedules.clr(...)` in an earlier cell, only *called* in the learner's function:
    the closure is trapped wherever the function can reach it (globals, a dict, a default
    argument, an enclosing function), and works again afterwards."""
    def enclosing():
        inner = schedules.clr(0.1, 1.0, 5)
        return lambda s, b, m, k: inner(s)

    def default(s, b, m, k, _sched=schedules.one_cycle(100, 1.0)):
        return _sched(s)[0]
    for fn, label in ((lambda s, b, m, k: PREBUILT(s), "schedules.clr"),
                      (lambda s, b, m, k: PREBUILT_TABLE["small"](s), "schedules.clr"),
                      (enclosing(), "schedules.clr")):
        r = checks.triangular(fn)
        assert r.passed is False and f"use your own arithmetic, not {label}" in r.message
    r = checks.one_cycle(lambda s, t, m, _f=default: (_f(s, 0, m, 0), 0.9))
    assert r.passed is False and "not schedules.one_cycle" in r.message
    # a torch scheduler built before the check, stepped inside it
    import torch.optim.lr_scheduler as sched
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    cyclic = sched.CyclicLR(opt, 0.1, 1.0, step_size_up=5)

    def stepped(s, b, m, k):
        opt.step()
        cyclic.step()
        return cyclic.get_last_lr()[0]
    r = checks.triangular(stepped)
    assert r.passed is False and "not lr_scheduler.CyclicLR" in r.message
    # all restored: the closures, the factory and torch's scheduler compute as before
    assert PREBUILT(2000) == pytest.approx(0.006)
    assert PREBUILT_TABLE["small"](5) == pytest.approx(1.0)
    assert enclosing()(5, 0, 0, 0) == pytest.approx(1.0)
    assert default(0, 0, 0, 0) == pytest.approx(0.1)
    opt.step()
    cyclic.step()
    assert 0.1 < cyclic.get_last_lr()[0] <= 1.0
    # a right answer passes with the pre-built closures around, and they stay untouched
    assert checks.triangular(smith_triangular)
    assert PREBUILT(1000) == pytest.approx(0.0035)


def test_a_forbidden_closure_is_trapped_too():
    """A forbidden function that is itself a closure (free variables) takes a trap that keeps
    them, so it is switched off like a plain function."""
    scale = 2.0

    def doubled(x):
        return scale * x
    r = checks.close(lambda: doubled(0.05), 0.1, forbid=[doubled])
    assert r.passed is False and "use your own arithmetic, not test_checks.doubled" in r.message
    assert doubled(0.05) == pytest.approx(0.1)
    assert checks.close(lambda: 0.1, 0.1, forbid=[doubled])
