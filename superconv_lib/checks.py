"""Self-checks for the course's exercises: pass or fail with a hint, never the answer.

An exercise asks the learner to write a small function (a schedule, a reading of a curve, the
Hessian-free estimate); the cell after it calls one of these checks with that function::

    checks.triangular(my_triangular)      # prints "✅ Triangular CLR: ..." or "❌ ... Hint: ..."

A check compares the learner's function with the library's reference implementation at many
inputs and reports three outcomes:

- **passed** (✅): matches the reference;
- **failed** (❌): a short diagnosis (the first input where it differs and the learner's own value,
  never the expected one) and a hint that points at the idea or the formula;
- **not attempted** (✏️): the function still raises ``NotImplementedError`` — what the exercise
  copies (``python -m superconv_lib.course exercises``) contain in place of each solution.

Every check returns a :class:`Result` (true only when passed) and never raises on a wrong answer,
so a learner's "Run All" goes through. For grading and CI, **strict mode** turns every result that
is not a pass into an ``AssertionError`` (:class:`CheckFailed`): set the environment variable
``SUPERCONV_STRICT_CHECKS=1`` (inherited by the notebook's kernel, so it works under nbval,
nbconvert and ``nbgrader autograde``), or wrap code in ``with checks.strict():``. The course's
tests run the solution notebooks' checks in strict mode (every one must pass) and the exercise
copies' checks too (every one must fail as written).

Answers may be values or functions: value checks (:func:`close`, :func:`lr_in_decade`,
:func:`range_test_reading`, :func:`plateau_reading`) accept a number (or yes/no) or a function
that returns it, so an exercise can be "write a function" even when the answer is one number.
References come from the library (``schedules``, ``hessian``, ``lr_finder``, ``indicator``), so a
check and the lesson never disagree.
"""
from __future__ import annotations

import contextlib
import contextvars
import html
import inspect
import math
import os
import random
from typing import Any, Callable, Iterator, Optional, Sequence

__all__ = ["Result", "CheckFailed", "strict", "is_strict", "STRICT_ENV", "close",
           "lr_in_decade", "triangular", "triangular2", "exp_range", "one_cycle",
           "range_test_reading", "plateau_reading", "hessian_estimate"]

STRICT_ENV = "SUPERCONV_STRICT_CHECKS"
_strict_override: contextvars.ContextVar[Optional[bool]] = contextvars.ContextVar(
    "superconv_strict_checks", default=None)

# Relative tolerance when a learner's schedule is compared with the library's: different but
# equivalent formulas round differently in the last bits, nothing more.
_REL, _ABS = 1e-9, 1e-12


class CheckFailed(AssertionError):
    """Raised by a check in strict mode when the answer did not pass (or was not attempted)."""


class Result:
    """The outcome of one self-check: true only when it passed.

    ``passed`` is True, False, or None (not attempted: the learner's code still raises
    ``NotImplementedError``). ``message`` says what was checked, ``hint`` what to look at.
    ``str(result)`` is the text the check printed; in Jupyter it shows as a coloured box.
    """

    def __init__(self, title: str, passed: Optional[bool], message: str, hint: str = "") -> None:
        self.title, self.passed, self.message, self.hint = title, passed, message, hint
        self._shown = False   # set once the check has printed it

    @property
    def status(self) -> str:
        return {True: "passed", False: "failed", None: "not attempted"}[self.passed]

    def __bool__(self) -> bool:
        return self.passed is True

    def __str__(self) -> str:
        icon = {True: "✅", False: "❌", None: "✏️"}[self.passed]
        text = f"{icon} {self.title}: {self.message}"
        if self.hint and self.passed is not True:
            text += f"\n   Hint: {self.hint}"
        return text

    def __repr__(self) -> str:
        return f"<check {self.title!r}: {self.status}>"

    def _repr_html_(self) -> str:
        colour = {True: "#e6f4ea", False: "#fce8e6", None: "#fef7e0"}[self.passed]
        body = html.escape(str(self)).replace("\n", "<br>")
        return (f'<div style="background:{colour};padding:6px 10px;border-radius:4px;'
                f'font-family:sans-serif">{body}</div>')

    def _ipython_display_(self) -> None:
        # The check already showed itself when it ran; the returned object, as the last line
        # of a cell, should not show a second copy.
        if not self._shown:
            _show(self)


def is_strict() -> bool:
    """Whether a check that does not pass raises :class:`CheckFailed` (see the module docstring)."""
    override = _strict_override.get()
    if override is not None:
        return override
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@contextlib.contextmanager
def strict(on: bool = True) -> Iterator[None]:
    """Within the block, checks that do not pass raise :class:`CheckFailed` (``on=False``: they
    never raise, whatever ``SUPERCONV_STRICT_CHECKS`` says)."""
    token = _strict_override.set(bool(on))
    try:
        yield
    finally:
        _strict_override.reset(token)


def _show(result: Result) -> None:
    """Print the result; in a Jupyter kernel, as a coloured box (with the same plain text)."""
    result._shown = True
    try:
        from IPython import get_ipython
        from IPython.display import display
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        display({"text/plain": str(result), "text/html": result._repr_html_()}, raw=True)
    else:
        print(result)


def _report(result: Result) -> Result:
    _show(result)
    if result.passed is not True and is_strict():
        raise CheckFailed(str(result))
    return result


# ---------------------------------------------------------------------------------------------
# Calling the learner's code
# ---------------------------------------------------------------------------------------------

class _NotAttempted(Exception):
    pass


class _Broken(Exception):
    """The learner's code raised (something else than NotImplementedError) or returned junk."""


def _not_attempted(title: str) -> Result:
    return Result(title, None, "not attempted yet.",
                  "replace `raise NotImplementedError()` with your code, run that cell, then "
                  "run this check again.")


def _call(fn: Callable, *args: Any) -> Any:
    try:
        return fn(*args)
    except NotImplementedError:
        raise _NotAttempted from None
    except Exception as e:  # the learner's bug, reported as a failure
        raise _Broken(f"{type(e).__name__}: {e}") from None


def _number(value: Any, what: str) -> float:
    """A learner's value as a float (Python, NumPy and 0-d/1-element torch numbers accepted)."""
    try:
        if hasattr(value, "item") and not isinstance(value, (int, float)):
            value = value.item()
        if isinstance(value, (bool, str, bytes)):
            raise TypeError
        return float(value)
    except OverflowError:
        # an int (or Fraction) beyond the float range: as a float it is infinite, and the
        # check reports it as far too high or too low instead of crashing
        try:
            return math.inf if value > 0 else -math.inf
        except TypeError:
            pass
    except (TypeError, ValueError, RuntimeError):  # RuntimeError: a multi-element tensor
        pass
    raise _Broken(f"{what} should be a number, got {type(value).__name__} {_short(value)}")


def _short(value: Any) -> str:
    """``repr(value)`` cut to 60 characters (a 10,000-digit int is not printed whole)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 — a repr that fails is the learner's object's problem
        return f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _finite_number(value: Any) -> bool:
    try:
        return not isinstance(value, (bool, str, bytes)) and math.isfinite(value)
    except (TypeError, ValueError, OverflowError):
        return False


def _answer(answer: Any, *args: Any) -> Any:
    """The learner's answer: a value, or a function called with ``args`` (or with none, if it
    takes no arguments). ``None`` and ``...`` count as not attempted."""
    if callable(answer):
        try:
            inspect.signature(answer).bind(*args)
        except TypeError:
            args = ()
        except ValueError:  # no signature available (a builtin): just call it
            pass
        answer = _call(answer, *args)
    if answer is None or answer is Ellipsis:
        raise _NotAttempted
    return answer


def _fmt(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"          # counts of iterations read as whole numbers
    return f"{x:.4g}"


def _tolerance(rel: float, abs_: float) -> str:
    if rel == 0 and abs_ == 0:
        return "exactly"
    parts = ([f"{rel:.3g}" if rel < 0.01 else f"{rel:.0%}"] if rel else []) + \
        ([f"±{abs_:.3g}"] if abs_ else [])
    return "within " + " or ".join(parts)


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

def close(answer: Any, reference: float, *, rel: float = 0.05, abs: float = 0.0,
          name: str = "Your answer", hint: str = "") -> Result:
    """Pass when ``answer`` is within ``rel`` (relative) or ``abs`` (absolute) of ``reference``.

    ``answer`` is a number or a function returning one (called without arguments). The message
    says whether the answer is too high or too low, never the reference. ``hint`` is shown on
    failure (say which formula or plot to look at).
    """
    if not 0 <= rel < math.inf or not 0 <= abs < math.inf:
        raise ValueError("close: rel and abs must be finite and >= 0 (tolerances).")
    if isinstance(reference, (bool, str, bytes)) or not _finite_number(reference):
        raise ValueError(f"close: reference must be a finite number (got {_short(reference)}).")
    try:
        value = _number(_answer(answer), "the answer")
        ref = float(reference)
        ok = math.isclose(value, ref, rel_tol=rel, abs_tol=abs)
        if ok:
            return _report(Result(name, True, f"{_fmt(value)} is right ({_tolerance(rel, abs)})."))
        side = "too high" if value > ref else "too low" if value < ref else "not a number"
        return _report(Result(name, False, f"{_fmt(value)} is {side}.",
                              hint or "recompute it step by step from the formula above."))
    except _NotAttempted:
        return _report(_not_attempted(name))
    except _Broken as e:
        return _report(Result(name, False, f"your code failed: {e}", hint or ""))


def lr_in_decade(answer: Any, reference_lr: float, *, factor: float = 3.0,
                 name: str = "Your learning rate",
                 hint: str = "read the plot again; on a log axis each labelled tick is a factor "
                             "of 10.") -> Result:
    """Pass when the learning rate ``answer`` is within a factor ``factor`` of ``reference_lr``
    (``factor=3`` accepts about one decade, 1/3x to 3x: readings of a range-test plot differ by
    that much between people and seeds). ``answer``: a number or a function returning one."""
    if not _finite_number(factor) or not factor > 1:
        raise ValueError(f"lr_in_decade: factor must be a finite number > 1 (got "
                         f"{_short(factor)}); e.g. 3.")
    if not _finite_number(reference_lr) or not reference_lr > 0:
        raise ValueError(f"lr_in_decade: reference_lr must be a finite number > 0 (got "
                         f"{_short(reference_lr)}).")
    try:
        lr = _number(_answer(answer), "the learning rate")
    except _NotAttempted:
        return _report(_not_attempted(name))
    except _Broken as e:
        return _report(Result(name, False, f"your code failed: {e}", hint))
    return _report(_decade_result(name, lr, reference_lr, factor, hint))


def _decade_result(name: str, lr: float, ref: float, factor: float, hint: str) -> Result:
    if not (math.isfinite(lr) and lr > 0):
        return Result(name, False, f"{lr!r} is not a positive learning rate.", hint)
    ratio = lr / ref
    if 1 / factor <= ratio <= factor:
        return Result(name, True, f"{_fmt(lr)} is in the right range (within {factor:g}x).")
    side = "too high" if ratio > 1 else "too low"
    return Result(name, False, f"{_fmt(lr)} is {side} (off by more than {factor:g}x).", hint)


_RULE_HINTS = {
    "valley": "pick an lr in the steep part of the loss valley, where the smoothed loss is still "
              "falling fast on the log-lr axis — not at its minimum, which is the edge of "
              "stability.",
    "steepest": "find where the smoothed loss falls fastest per factor of lr (the steepest "
                "downhill slope on the log-lr axis).",
    "min_div_10": "find the lr where the smoothed loss is lowest, then back off by a decade.",
    "acc_base": "find where the accuracy curve starts to rise clearly above its starting level.",
    "acc_max": "find where the accuracy curve peaks or turns ragged, before it falls.",
}


def range_test_reading(answer: Any, test: Any, *, rule: str = "valley", factor: float = 3.0,
                       name: str = "Your range-test reading") -> Result:
    """Pass when a reading of an LR range test is within ``factor`` of the library's suggestion.

    ``test`` is a :class:`superconv_lib.lr_finder.RangeTest`; ``rule`` names the suggestion to
    compare with: ``"valley"``, ``"steepest"``, ``"min_div_10"`` (loss curve), ``"acc_base"``
    or ``"acc_max"`` (the two ends of Smith's accuracy-based ``acc_bounds``). ``answer`` is a
    learning rate or a function returning one, called with ``test`` (or with nothing).
    """
    if rule not in _RULE_HINTS:
        raise ValueError(f"range_test_reading: rule must be one of {', '.join(_RULE_HINTS)} "
                         f"(got {rule!r}).")
    sug = test.suggestions()
    if rule.startswith("acc_"):
        bounds = sug.get("acc_bounds")
        ref = None if bounds is None else bounds[0 if rule == "acc_base" else 1]
    else:
        ref = sug.get(rule)
    if ref is None:
        raise ValueError(f"range_test_reading: this range test has no {rule!r} suggestion "
                         "(the curve is too short or too flat); sweep more iterations or a wider "
                         "lr range.")
    try:
        lr = _number(_answer(answer, test), "the learning rate")
    except _NotAttempted:
        return _report(_not_attempted(name))
    except _Broken as e:
        return _report(Result(name, False, f"your code failed: {e}", _RULE_HINTS[rule]))
    return _report(_decade_result(name, lr, ref, factor, _RULE_HINTS[rule]))


_YES, _NO = ("yes", "y", "true"), ("no", "n", "false")


def plateau_reading(answer: Any, reading: Any, *,
                    name: str = "Your super-convergence reading") -> Result:
    """Pass when a yes/no reading of an accuracy-vs-lr curve agrees with the library's indicator.

    The question (Smith & Topin): *does the test accuracy stay high up to large learning rates,
    so that the setup can super-converge?* ``reading`` is the reference: an
    :class:`superconv_lib.indicator.Indicator` (or its ``analysis``), whose ``super_converges``
    applies the indicator's criteria, or a plain bool. ``answer``: True/False,
    ``"yes"``/``"no"``, or a function returning one (called with ``reading`` or with nothing).
    """
    import numpy as np
    expected = getattr(reading, "super_converges", reading)
    if not isinstance(expected, (bool, np.bool_)):
        raise ValueError("plateau_reading: reading must be an indicator.Indicator (or its "
                         f"analysis) or a bool, got {type(reading).__name__}.")
    expected = bool(expected)
    hint = ("find the best smoothed accuracy A and the floor L = A − drop·(A − chance); the "
            "plateau is the run of lrs around the best where accuracy stays at or above L. The "
            "setup super-converges when that plateau covers at least `threshold` of the lrs "
            "swept.")
    try:
        raw = _answer(answer, reading)
        if isinstance(raw, str) and raw.strip().lower() in _YES + _NO:
            said = raw.strip().lower() in _YES
        elif isinstance(raw, (bool, np.bool_)):
            said = bool(raw)
        else:
            raise _Broken(f"answer True/False or 'yes'/'no', got {_short(raw)}")
    except _NotAttempted:
        return _report(_not_attempted(name))
    except _Broken as e:
        return _report(Result(name, False, str(e), hint))
    word = "yes" if said else "no"
    if said == expected:
        return _report(Result(name, True, f"'{word}' is right."))
    return _report(Result(name, False, f"'{word}' does not match this curve.", hint))


# ---------------------------------------------------------------------------------------------
# Schedules: the learner's function against the library's at many iterations
# ---------------------------------------------------------------------------------------------

def _steps(step_size: int, cycles: int = 3, extra: int = 20, seed: int = 0) -> list[int]:
    """Every corner of the first cycles (and its neighbours) plus a few random iterations."""
    corners = {0, 1}
    for k in range(1, 2 * cycles + 1):
        corners |= {k * step_size - 1, k * step_size, k * step_size + 1}
    if step_size <= 12:
        corners |= set(range(2 * cycles * step_size + 1))
    rng = random.Random(seed)
    corners |= {rng.randrange(0, 2 * cycles * step_size + 1) for _ in range(extra)}
    return sorted(s for s in corners if s >= 0)


def _mismatch(fn: Callable, ref: Callable, cases: Sequence[tuple], steps_of: Callable,
              pick: Callable = lambda v: v) -> Optional[tuple]:
    """The first ``(step, args, learner value)`` where ``fn`` and ``ref`` differ, else None."""
    for args in cases:
        for s in steps_of(*args):
            got = pick(_call(fn, s, *args))
            want = ref(s, *args)
            if not _same(got, want):
                return s, args, got
    return None


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            return False
        return all(_same(g, w) for g, w in zip(got, want))
    g = _number(got, "your function's result")
    return math.isclose(g, want, rel_tol=_REL, abs_tol=_ABS)


def _clr_check(fn: Callable, mode: str, title: str) -> Result:
    from . import schedules
    if not callable(fn):
        return _report(Result(title, False, "pass your function itself, without calling it "
                              "(no parentheses after its name).", ""))
    gamma_cases = mode == "exp_range"
    cases = [(0.001, 0.006, 2000), (0.1, 1.0, 5), (0.0, 3.0, 1), (0.01, 0.1, 7)]
    if gamma_cases:
        cases = [c + (g,) for c, g in zip(cases, (0.99994, 0.9, 0.8, 0.95))]

    def ref(s, base, top, size, gamma=1.0):
        return schedules.clr(s, base, top, size, mode=mode, gamma=gamma)

    def lr(s, args):  # the learner's value at another step of the same case
        return _number(_call(fn, s, *args), "your function's result")

    signature = "(step, base_lr, max_lr, step_size" + (", gamma)" if gamma_cases else ")")
    try:
        bad = _mismatch(fn, ref, cases, lambda *a: _steps(a[2]))
        if bad is None:
            n = sum(len(_steps(c[2])) for c in cases)
            return _report(Result(title, True, f"your schedule matches the reference at {n} "
                                  f"iterations in {len(cases)} settings."))
        s, args, got = bad
        base, top, size = args[:3]
        where = (f"at step={s} (base_lr={base:g}, max_lr={top:g}, step_size={size}"
                 + (f", gamma={args[3]:g}" if gamma_cases else "")
                 + f") your lr is {_fmt(_number(got, 'lr'))}")
        if not math.isclose(lr(0, args), base, rel_tol=_REL, abs_tol=_ABS):
            hint = "a cycle starts at base_lr: at step 0 the lr is base_lr."
        elif mode != "exp_range" and not math.isclose(lr(size, args), top, rel_tol=_REL,
                                                      abs_tol=_ABS):
            hint = ("the lr reaches max_lr after step_size iterations (half a cycle); steps count "
                    "from 0, so look for an off-by-one.")
        elif not math.isclose(lr(2 * size, args), ref(2 * size, *args), rel_tol=_REL, abs_tol=_ABS):
            hint = "one cycle lasts 2·step_size iterations: then the lr is back at its lowest."
        elif s >= 2 * size and mode == "triangular2":
            hint = ("the first cycle is right; after each full cycle the amplitude "
                    "(max_lr − base_lr) halves: scale it by 1/2**(cycle − 1).")
        elif mode == "exp_range":
            hint = ("the amplitude (max_lr − base_lr) shrinks by gamma every *iteration*: scale "
                    "it by gamma**step (step in iterations, not cycles).")
        elif s >= 2 * size:
            hint = "the first cycle is right; later cycles should repeat it exactly."
        else:
            hint = ("between its ends the lr moves on a straight line: with "
                    "cycle = floor(1 + step/(2·step_size)) and x = |step/step_size − 2·cycle + 1|, "
                    "the lr is base_lr + (max_lr − base_lr)·max(0, 1 − x) (Smith 2015).")
        return _report(Result(title, False, f"{where}, which differs from the reference.", hint))
    except _NotAttempted:
        return _report(_not_attempted(title))
    except _Broken as e:
        return _report(Result(title, False, f"your function failed: {e}",
                              f"it should take {signature} and return the lr as a number."))


def triangular(fn: Callable[[int, float, float, int], float]) -> Result:
    """Check a learner's triangular CLR policy ``fn(step, base_lr, max_lr, step_size) -> lr``
    (Smith 2015; ``step`` and ``step_size`` — the paper's *stepsize*, half a cycle — in
    iterations) against :func:`superconv_lib.schedules.clr` at every corner of three cycles and
    at random iterations, for four settings including ``step_size=1``."""
    return _clr_check(fn, "triangular", "Triangular CLR")


def triangular2(fn: Callable[[int, float, float, int], float]) -> Result:
    """Like :func:`triangular` for the ``"triangular2"`` policy (the amplitude halves after
    every cycle)."""
    return _clr_check(fn, "triangular2", "Triangular2 CLR")


def exp_range(fn: Callable[[int, float, float, int, float], float]) -> Result:
    """Check a learner's ``exp_range`` CLR policy ``fn(step, base_lr, max_lr, step_size, gamma)``
    (amplitude times ``gamma ** step``, step in iterations) against
    :func:`superconv_lib.schedules.clr`."""
    return _clr_check(fn, "exp_range", "exp_range CLR")


def one_cycle(fn: Callable[[int, int, float], Any], *, div: float = 10.0,
              pct_start: float = 0.45, pct_anneal: float = 0.1, final_div: float = 100.0,
              moms: tuple[float, float] = (0.95, 0.85), momentum: bool = True) -> Result:
    """Check a learner's 1cycle policy ``fn(step, total_steps, max_lr)`` against
    :func:`superconv_lib.schedules.one_cycle` (linear legs) with the given settings.

    ``fn`` returns ``(lr, momentum)`` (cyclical momentum), or only the lr when
    ``momentum=False``. ``step`` runs from 0 to ``total_steps`` inclusive. Checked at every
    iteration of runs whose phase boundaries fall on whole iterations.
    """
    from . import schedules
    title = "1cycle" + (" with cyclical momentum" if momentum else "")
    if not callable(fn):
        return _report(Result(title, False, "pass your function itself, without calling it "
                              "(no parentheses after its name).", ""))
    # Totals for which pct_start*T and (1 - pct_anneal)*T are (nearly) whole iterations, so
    # that learners' int()/round() choices at the boundaries don't matter.
    totals = [t for t in range(20, 2001) if all(abs(x * t - round(x * t)) < 1e-9
                                                  for x in (pct_start, 1 - pct_anneal))]
    totals = (totals[:1] + totals[len(totals) // 3: len(totals) // 3 + 1] + totals[-1:]) or [100]
    cases = [(t, m) for t, m in zip(totals, (1.0, 0.1, 3.0))]
    kw = dict(div=div, pct_start=pct_start, pct_anneal=pct_anneal, final_div=final_div, moms=moms)

    def ref(s, t, m):
        lr, mom = schedules.one_cycle(s, t, m, **kw)
        return (lr, mom) if momentum else lr

    def pick(v):
        if momentum:
            return v
        return v[0] if isinstance(v, (tuple, list)) else v

    try:
        first = _call(fn, 0, *cases[0])
        if momentum and not (isinstance(first, (tuple, list)) and len(first) == 2):
            return _report(Result(title, False, f"your function returned {_short(first)}.",
                                  "return a pair (lr, momentum): momentum cycles opposite to "
                                  "the lr."))
        bad = _mismatch(fn, ref, cases, lambda t, m: range(t + 1), pick)
        if bad is None:
            n = sum(t + 1 for t, _ in cases)
            return _report(Result(title, True, f"your schedule matches the reference at all {n} "
                                  f"iterations of {len(cases)} runs."))
        s, (t, m), got = bad
        lo, final = m / div, m / div / final_div
        peak, end = round(pct_start * t), round((1 - pct_anneal) * t)

        def at(step):
            v = _call(fn, step, t, m)
            return (v[0], v[1]) if isinstance(v, (tuple, list)) else (v, None)

        def off(x, want):
            return not math.isclose(_number(x, "lr"), want, rel_tol=_REL, abs_tol=_ABS)

        lr_ok = all(_same(at(k)[0], ref(k, t, m)[0] if momentum else ref(k, t, m))
                    for k in range(t + 1))
        if not lr_ok:
            if off(at(0)[0], lo):
                hint = "the cycle starts at max_lr / div."
            elif off(at(peak)[0], m):
                hint = "the lr climbs to max_lr, reached at iteration pct_start·total_steps."
            elif off(at(end)[0], lo):
                hint = ("the cycle ends back at max_lr / div at iteration "
                        "(1 − pct_anneal)·total_steps; the annealing phase follows.")
            elif off(at(t)[0], final):
                hint = ("the annealing phase ends at iteration total_steps, at "
                        "max_lr / (div·final_div) — far below where the cycle started.")
            else:
                hint = ("each phase is a straight line between its two end values: "
                        "start + (end − start)·pct, with pct the fraction of that phase done.")
        else:
            if off(at(0)[1], moms[0]):
                hint = "momentum starts high, at moms[0], while the lr is low."
            elif off(at(peak)[1], moms[1]):
                hint = "momentum is lowest (moms[1]) when the lr peaks: it cycles the other way."
            elif off(at(t)[1], moms[0]):
                hint = "in the annealing phase momentum stays at moms[0]."
            else:
                hint = "momentum moves on straight lines too, mirror image of the lr."
        what = "lr" if not lr_ok else "momentum"
        shown = ", ".join(_fmt(_number(v, what)) for v in (got if isinstance(got, (tuple, list))
                                                          else (got,)))
        return _report(Result(title, False, f"the {what} differs from the reference at "
                              f"step={s} (total_steps={t}, max_lr={m:g}); you returned "
                              f"({shown}).",
                              hint))
    except _NotAttempted:
        return _report(_not_attempted(title))
    except _Broken as e:
        return _report(Result(title, False, f"your function failed: {e}",
                              "it should take (step, total_steps, max_lr) and return "
                              + ("(lr, momentum)." if momentum else "the lr.")))


# ---------------------------------------------------------------------------------------------
# The Hessian-free optimal learning rate
# ---------------------------------------------------------------------------------------------

def hessian_estimate(fn: Callable[..., Any]) -> Result:
    """Check a learner's Hessian-free estimate ``fn(theta0, theta1, theta2, lr) -> ε*``.

    ``theta0..2`` are three consecutive iterates (1-D float64 torch tensors), ``lr`` the
    learning rate of the two steps between them. Checked first on f(θ) = a·θ²/2 trained with
    plain SGD, where the answer is exactly 1/a whatever the lr, then on a 3-D quadratic and on
    random snapshots against :func:`superconv_lib.hessian.estimate`.
    """
    import torch
    from . import hessian
    title = "Hessian-free optimal lr"
    if not callable(fn):
        return _report(Result(title, False, "pass your function itself, without calling it "
                              "(no parentheses after its name).", ""))

    def sgd(a, theta, lr):
        a = torch.tensor(a, dtype=torch.float64)
        out = [torch.tensor(theta, dtype=torch.float64)]
        for _ in range(2):
            out.append(out[-1] - lr * a * out[-1])  # plain SGD: θ ← θ − ε·∇f, ∇f = a·θ
        return out

    g = torch.Generator().manual_seed(0)
    noise = [torch.randn(50, generator=g, dtype=torch.float64) for _ in range(3)]
    cases = [  # (description, snapshots, lr, reference)
        ("f = a·θ²/2 with a=4 and lr=0.1", sgd([4.0], [1.0], 0.1), 0.1, 0.25),
        ("f = a·θ²/2 with a=0.5 and lr=0.3", sgd([0.5], [-2.0], 0.3), 0.3, 2.0),
        ("a 3-D quadratic, curvatures 0.5, 2, 8, lr=0.05",
         sgd([0.5, 2.0, 8.0], [1.0, -1.0, 0.5], 0.05), 0.05, None),
        ("three random 50-weight snapshots, lr=0.01", noise, 0.01, None),
    ]
    try:
        for k, (desc, th, lr, want) in enumerate(cases):
            if want is None:
                want = hessian.estimate(*th, lr)
            got = _number(_call(fn, *[t.clone() for t in th], lr), "your estimate")
            if math.isclose(got, want, rel_tol=1e-6):
                continue
            if k < 2:
                r = got / want
                if math.isclose(r, lr, rel_tol=1e-6) or math.isclose(r, 1 / lr, rel_tol=1e-6):
                    hint = ("on a quadratic the answer is 1/a for any lr: check where the lr "
                            "enters (ε* = ε times a ratio of two sums).")
                elif got < 0:
                    hint = "an optimal lr is positive: sum absolute values."
                else:
                    hint = ("on f = a·θ²/2 the answer must be exactly 1/a: the numerator measures "
                            "the first step θ1 − θ0, the denominator how the step changed, "
                            "2θ1 − θ0 − θ2.")
            else:
                hint = ("the scalar quadratics pass: with many weights, sum the absolute values "
                        "over all weights first and divide the two sums (a ratio of sums, not a "
                        "sum or mean of per-weight ratios).")
            return _report(Result(title, False, f"on {desc} your estimate is {_fmt(got)}, which is "
                                  f"{'too high' if got > want else 'too low'}.", hint))
        return _report(Result(title, True, f"your estimate matches on all {len(cases)} cases, "
                              "including 1/a on the quadratics."))
    except _NotAttempted:
        return _report(_not_attempted(title))
    except _Broken as e:
        return _report(Result(title, False, f"your function failed: {e}",
                              "it should take (theta0, theta1, theta2, lr) — three tensors of "
                              "weights and a number — and return a number."))
